// Command line of the echo server: parsed once at start into an immutable Options.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace echo_server {

struct Options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 9000;
  unsigned threads = 1;
  std::optional<std::uint64_t> max_body;  // bytes; none = unlimited
  std::string name;                       // reported as "server" in every echo when set
  std::chrono::seconds timeout{60};       // every read and write, and the keep-alive idle wait
  bool log_requests = false;              // one stdout line per request head received
};

struct ShowHelp {};
struct UsageError {
  std::string message;
};

std::variant<Options, ShowHelp, UsageError> parse_options(int argc, char** argv);

// The --help text: flags and the special paths tests rely on.
const char* usage();

}  // namespace echo_server
