// Wiring only: command line, config, gateway.
#include <cstring>
#include <iostream>
#include <string>
#include <utility>

#include "tollgate/config/config.hpp"
#include "tollgate/server/gateway.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/tollgate/tollgate.yaml";

void print_help() {
  std::cout
      << "usage: tollgate [-c FILE] [-t] [-v] [-h]\n"
         "\n"
         "An HTTP gateway that checks OAuth 2.0 bearer tokens by introspection (RFC 7662)\n"
         "before forwarding requests to upstream services.\n"
         "\n"
         "  -c, --config FILE  configuration file (default "
      << kDefaultConfig
      << ")\n"
         "  -t, --test         check the configuration file and exit (0 = valid)\n"
         "  -v, --version      print the version and exit\n"
         "  -h, --help         print this help and exit\n"
         "\n"
         "Signals: SIGTERM/SIGINT drain in-flight requests and stop; SIGHUP reloads the file\n"
         "(a file with errors is reported and the running configuration kept).\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool test_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_help();
      return 0;
    } else if (arg == "-v" || arg == "--version") {
      std::cout << "tollgate " << TOLLGATE_VERSION << "\n";
      return 0;
    } else if (arg == "-t" || arg == "--test") {
      test_only = true;
    } else if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::cerr << "tollgate: unknown argument \"" << arg << "\" (see --help)\n";
      return 2;
    }
  }

  auto config = tollgate::config::load_config(config_path);
  if (!config) {
    std::cerr << "tollgate: " << config.error().to_string() << "\n";
    if (test_only) std::cerr << "tollgate: configuration file " << config_path << " test failed\n";
    return 1;
  }
  if (test_only) {
    std::cerr << "tollgate: the configuration file " << config_path << " syntax is ok\n"
              << "tollgate: configuration file " << config_path << " test is successful\n";
    return 0;
  }
  // Handed over, not shared: the gateway must hold the last reference (see Gateway::Impl).
  tollgate::server::Gateway gateway(std::move(*config), config_path);
  return gateway.run();
}
