// A real redis-server (the Debian package) on 127.0.0.1, for tests of the cluster cache. Redis
// cannot report a port it chose, so the helper asks the kernel for a free one and retries when
// another process took it first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "process.hpp"
#include "tollgate/redis/connection.hpp"

namespace tollgate::test {

class RedisServer {
 public:
  // `extra` are further redis-server arguments ("--requirepass", "pw", ...).
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();

  std::uint16_t port() const { return port_; }
  bool running() const { return process_ != nullptr; }
  // Ends the server (SIGKILL: as a crash would) and starts it again on the same port, empty.
  void stop();
  void start();

  // Runs redis-cli against it and returns its output (trailing newline removed).
  std::string cli(const std::vector<std::string>& arguments) const;
  // One command over a connection of its own (binary-safe, unlike redis-cli).
  redis::ReplyResult command(const std::vector<std::string>& arguments) const;
  // Every key (SCAN), with the values and members it holds.
  std::vector<std::string> all_keys() const;

 private:
  bool try_start();

  std::unique_ptr<TempDir> dir_;
  std::vector<std::string> extra_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace tollgate::test
