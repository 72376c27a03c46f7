// One line per request, text or JSON, through its own spdlog logger (asynchronous, so a slow stdout
// never stalls a worker). Never carries a token, a secret or an Authorization value, and never a
// byte that could end the line or forge a field: values are escaped.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/config/config.hpp"

namespace tollgate::server {

struct AccessRecord {
  std::string_view method;
  std::string_view path;
  std::string_view route;     // "-" when none matched
  std::string_view upstream;  // target URL, "-" when not forwarded
  unsigned status = 0;
  std::uint64_t bytes = 0;  // response body bytes
  std::chrono::microseconds duration{0};
  std::string_view request_id;
  std::string_view peer;
  std::string_view principal;       // set by an auth filter, "-" otherwise
  std::string_view trace_id = "-";  // W3C trace id of the request, "-" before its head was read
};

// Sets up the "access" logger and the default logger from `log`. Safe to call again on reload.
void configure_logging(const config::Log& log);
bool access_log_enabled() noexcept;
void log_access(const AccessRecord& record);

// The line log_access() writes for `record` in `format`: printable ASCII only, whatever the
// values hold. Text writes any other byte, and the space, '"' and '\' that delimit its fields, as
// \xNN; JSON writes non-ASCII text as \uXXXX (invalid UTF-8 as U+FFFD).
std::string format_access_line(const AccessRecord& record, config::LogFormat format);

}  // namespace tollgate::server
