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

// One answered request. Text fields hold "-" and numbers 0 when they do not apply; the JSON
// format writes those as null.
struct AccessRecord {
  std::string_view method = "-";
  std::string_view path = "-";             // normalised, as routed
  std::string_view route = "-";            // "-" when none matched
  std::string_view upstream = "-";         // the route's upstream, "-" when not forwarded
  std::string_view upstream_target = "-";  // target URL
  unsigned status = 0;
  unsigned upstream_status = 0;          // 0: no response head from the upstream
  std::uint64_t bytes_in = 0;            // request head and body read from the client
  std::uint64_t bytes_out = 0;           // response body bytes written to the client
  std::chrono::nanoseconds duration{0};  // first byte of the request to the end of the answer
  std::chrono::nanoseconds upstream_duration{0};  // to the upstream's response head; 0: none
  std::chrono::nanoseconds idp_duration{0};       // waiting for the IdP; 0: no IdP call
  std::string_view request_id = "-";
  std::string_view trace_id = "-";  // W3C trace id of the request, "-" before its head was read
  std::string_view peer = "-";
  std::string_view principal = "-";  // set by an auth filter, "-" otherwise
  std::string_view cache = "-";      // hit, miss, coalesced, off; "-": no token lookup
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
