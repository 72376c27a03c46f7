// The daemon: workers, listeners, the admin endpoint, signals (SIGTERM/SIGINT drain, SIGHUP
// reload).
#pragma once

#include <memory>
#include <string>

#include "tollgate/config/config.hpp"

namespace tollgate::server {

class Gateway {
 public:
  // `config_path` is read again on SIGHUP.
  Gateway(std::shared_ptr<const config::GatewayConfig> config, std::string config_path);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds, serves until SIGTERM/SIGINT, drains, returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::server
