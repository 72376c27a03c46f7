// The real processes integration tests run: echo upstreams, the dev IdP, and tollgate itself, each
// on 127.0.0.1 with a port the process chose and reported.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process.hpp"

namespace tollgate::test {

struct EchoServer {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// `name` shows up as "server" in every echo, to tell instances apart.
EchoServer start_echo_server(const std::string& name = "echo", std::vector<std::string> extra = {});

struct DevIdp {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
  bool tls = false;
  std::string base_url() const {
    return (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port);
  }
  std::string issuer() const { return base_url() + "/oauth2/default"; }
};

DevIdp start_dev_idp(std::vector<std::string> extra = {});

struct Tollgate {
  std::unique_ptr<TempDir> dir;
  std::string config_path;
  std::unique_ptr<Process> process;
  std::vector<std::uint16_t> ports;  // one per listen entry, in order
  std::uint16_t admin_port = 0;
  std::uint16_t port() const { return ports.at(0); }
};

// Writes `yaml` to a temp file and starts tollgate on it; waits for every listener and the admin
// endpoint (when the config enables it: `admin_enabled`). Use 127.0.0.1:0 for every address.
Tollgate start_tollgate(const std::string& yaml, std::size_t listeners = 1,
                        bool admin_enabled = true, std::map<std::string, std::string> env = {});

// A minimal config: one plain listener, admin on, access log to stdout, `workers` workers, the
// given upstream and routes sections appended verbatim.
std::string basic_config(const std::string& upstreams_and_routes,
                         const std::string& extra_top_level = "", int workers = 2);

// One openid-connect plugin entry for the `plugins:` section, named `name`, with the gateway's
// client credentials at the dev IdP. `source` is its "issuer: ..." or "introspection_endpoint: ..."
// line; `extra` holds further config lines, each indented by six spaces and ending in a newline.
std::string openid_connect_plugin(const std::string& name, const std::string& source,
                                  const std::string& extra = "");

}  // namespace tollgate::test
