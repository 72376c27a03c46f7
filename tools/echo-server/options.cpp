#include "options.hpp"

#include <charconv>
#include <limits>
#include <string_view>

namespace echo_server {
namespace {

template <class Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "127.0.0.1:8080", "[::1]:0", "0.0.0.0:9000".
bool parse_listen(std::string_view text, Options& options) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  }
  const auto port = parse_integer<std::uint16_t>(text.substr(colon + 1));
  if (!port) return false;
  options.address.assign(host);
  options.port = *port;
  return true;
}

}  // namespace

const char* usage() {
  return R"(usage: echo-server [options]

An HTTP/1.1 upstream for tests and benchmarks. Every request is answered 200 with a JSON echo:
  {"method", "path", "query", "headers": {lowercased name: value, or [values] when repeated},
   "body_size", "body_sha256", "connection_id", "request_on_connection", "server" (with --name)}
"path" and "query" are the request-target exactly as received (split at the first '?').
Request bodies are streamed (counted and hashed as they arrive), never held in memory.
connection_id numbers connections from 1 in accept order; request_on_connection counts from 1.

Options:
  --listen ADDR:PORT   numeric address to listen on; port 0 picks a free one (default 127.0.0.1:9000)
                       When ready, prints exactly one line to stdout:
                         echo-server listening on ADDR:PORT
  --threads N          worker threads (default 1)
  --max-body BYTES     largest request body accepted, larger ones get 413 (default unlimited)
  --name NAME          reported as "server" in every echo (to tell instances apart)
  --timeout SECONDS    limit for every read and write and for the keep-alive idle wait (default 60)
  --log-requests       print "echo-server request METHOD TARGET" when a request head arrives
  --help               this text

Special paths (matched on the request-target's path, exactly as written):
  /ok                  200 text/plain "ok", no echo (cheap, for benchmarks)
  /bytes/N             200 with N bytes of "abcdefghijklmnopqrstuvwxyz" repeated (byte i is
                       'a' + i % 26), streamed with Content-Length; add ?chunked=1 for chunked
                       transfer coding instead. Any N up to 2^64-1; memory use does not grow with N.
  /status/NNN          status NNN (200-599) with the JSON echo (no body for 204 and 304)
  /delay/MS            the JSON echo after MS milliseconds (at most 60000)
  /close-mid-body      Content-Length: 1000, then 100 bytes, then the connection is closed
  /ok-then-close       200 "ok" that keeps the connection open, then a close (as a keep-alive
                       timeout would), then prints "echo-server closed after /ok-then-close"

Fault paths (for gateway tests; the connection is never reused after one):
  /reset               the connection is reset (TCP RST) before any byte of an answer
  /reset-mid-body      Content-Length: 1000, then 100 bytes, then a reset
  /slow-head/MS        a 200 "ok" whose head is written one byte every MS milliseconds
  /stall-mid-body/MS   Content-Length: 200, then 100 bytes, MS milliseconds of silence, 100 more
  /big-head/N          a 200 "ok" with at least N bytes of X-Filler-K header fields (4000-byte values)
  /big-field/N         a 200 "ok" with one header field X-Big of N bytes
  /big-trailer/N       a chunked 200 "ok" with one trailer field X-Trailer of N bytes
  /endless             a 200 delimited by close whose body never ends (the /bytes pattern)
  /never-closes        a 200 delimited by close, body "ok", then the connection is held open
                       without another byte until the client leaves or --timeout passes
MS is at most 60000; N at most 16 MiB.

Request headers are limited to 64 KiB (431 beyond). "Connection: close" and HTTP/1.0 without
keep-alive are honoured; "Expect: 100-continue" gets its interim response. SIGINT/SIGTERM stop it.
)";
}

std::variant<Options, ShowHelp, UsageError> parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return ShowHelp{};
    if (flag == "--log-requests") {
      options.log_requests = true;
      continue;
    }
    if (i + 1 >= argc) return UsageError{"missing value for " + std::string(flag)};
    const std::string_view value = argv[++i];
    if (flag == "--listen") {
      if (!parse_listen(value, options)) {
        return UsageError{"--listen wants ADDR:PORT, got \"" + std::string(value) + "\""};
      }
    } else if (flag == "--threads") {
      const auto threads = parse_integer<unsigned>(value);
      if (!threads || *threads == 0 || *threads > 1024) {
        return UsageError{"--threads wants a number from 1 to 1024"};
      }
      options.threads = *threads;
    } else if (flag == "--max-body") {
      const auto max_body = parse_integer<std::uint64_t>(value);
      if (!max_body) return UsageError{"--max-body wants a number of bytes"};
      options.max_body = *max_body;
    } else if (flag == "--name") {
      options.name.assign(value);
    } else if (flag == "--timeout") {
      const auto seconds = parse_integer<unsigned>(value);
      if (!seconds || *seconds == 0)
        return UsageError{"--timeout wants a positive number of seconds"};
      options.timeout = std::chrono::seconds(*seconds);
    } else {
      return UsageError{"unknown option " + std::string(flag)};
    }
  }
  return options;
}

}  // namespace echo_server
