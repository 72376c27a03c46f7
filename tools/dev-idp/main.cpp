// dev-idp: wiring only. Parse the command line, bind, build the IdP, serve until a signal.
#include <cstdio>
#include <iostream>
#include <sstream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "dev_idp.hpp"
#include "http_server.hpp"
#include "options.hpp"

namespace {

using namespace tollgate::dev_idp;

std::string host_and_port(const tollgate::tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  const std::string host = endpoint.address().is_v6() ? "[" + address + "]" : address;
  return host + ":" + std::to_string(endpoint.port());
}

int run(const Options& options) {
  HttpServer server(options.listen, options.tls, options.threads);
  const std::string bound = host_and_port(server.local_endpoint());
  const std::string base =
      options.issuer_base.value_or((server.uses_tls() ? "https://" : "http://") + bound);

  Settings settings{base + "/oauth2/default", options.token_ttl,
                    options.jwt ? TokenFormat::jwt : TokenFormat::opaque};
  spdlog::info("issuer {}, {} clients, {} tokens valid {}s, {} worker threads", settings.issuer,
               options.clients.size(), options.jwt ? "JWT" : "opaque", options.token_ttl.count(),
               options.threads);
  DevIdp idp(std::move(settings), options.clients, SigningKey::generate());

  server.run(idp, [&] {
    // The one line on stdout: tests and scripts wait for it.
    std::printf("dev-idp listening on %s\n", bound.c_str());
    std::fflush(stdout);
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("dev-idp"));

  auto parsed = parse_options(argc, argv);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    std::cerr << "dev-idp: " << *problem << "\n";
    return 2;
  }
  const Options& options = std::get<Options>(parsed);
  if (options.help) {
    std::cout << usage();
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "dev-idp: " << e.what() << "\n";
    return 1;
  }
}
