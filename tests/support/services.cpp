#include "services.hpp"

#include <stdexcept>

namespace tollgate::test {

EchoServer start_echo_server(const std::string& name, std::vector<std::string> extra) {
  std::vector<std::string> argv{ECHO_SERVER_BIN, "--listen", "127.0.0.1:0", "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  EchoServer s;
  s.process = std::make_unique<Process>(argv);
  s.port = static_cast<std::uint16_t>(
      std::stoi(s.process->wait_for_line(R"(echo-server listening on 127\.0\.0\.1:(\d+))")));
  return s;
}

DevIdp start_dev_idp(std::vector<std::string> extra) {
  std::vector<std::string> argv{DEV_IDP_BIN, "--listen", "127.0.0.1:0"};
  bool tls = false;
  for (const auto& a : extra) tls = tls || a == "--tls-cert";
  argv.insert(argv.end(), extra.begin(), extra.end());
  DevIdp s;
  s.tls = tls;
  s.process = std::make_unique<Process>(argv);
  s.port = static_cast<std::uint16_t>(
      std::stoi(s.process->wait_for_line(R"(dev-idp listening on 127\.0\.0\.1:(\d+))")));
  return s;
}

Tollgate start_tollgate(const std::string& yaml, std::size_t listeners, bool admin_enabled,
                        std::map<std::string, std::string> env) {
  Tollgate t;
  t.dir = std::make_unique<TempDir>();
  t.config_path = t.dir->write("tollgate.yaml", yaml);
  t.process = std::make_unique<Process>(std::vector<std::string>{TOLLGATE_BIN, "-c", t.config_path},
                                        std::move(env));
  for (std::size_t i = 0; i < listeners; ++i) {
    t.ports.push_back(static_cast<std::uint16_t>(
        std::stoi(t.process->wait_for_line(R"(tollgate listening on 127\.0\.0\.1:(\d+))"))));
  }
  if (admin_enabled) {
    t.admin_port = static_cast<std::uint16_t>(
        std::stoi(t.process->wait_for_line(R"(admin listening on 127\.0\.0\.1:(\d+))")));
  }
  t.process->wait_for_line("started with");
  return t;
}

std::string basic_config(const std::string& upstreams_and_routes,
                         const std::string& extra_top_level, int workers) {
  return "listen:\n"
         "  - address: 127.0.0.1:0\n"
         "admin:\n"
         "  address: 127.0.0.1:0\n"
         "workers: " +
         std::to_string(workers) +
         "\n"
         "log: { level: info, format: text, access_log: stdout }\n" +
         extra_top_level + upstreams_and_routes;
}

std::string openid_connect_plugin(const std::string& name, const std::string& source,
                                  const std::string& extra) {
  return "  " + name +
         ":\n"
         "    name: openid-connect\n"
         "    config:\n"
         "      " +
         source +
         "\n"
         "      client_id: gateway\n"
         "      client_secret: gateway-secret\n" +
         extra;
}

}  // namespace tollgate::test
