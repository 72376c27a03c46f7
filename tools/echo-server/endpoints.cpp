#include "endpoints.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "faults.hpp"

namespace echo_server {
namespace {

using asio::use_awaitable;
using tollgate::error_code;
constexpr auto kTupleAwaitable = asio::as_tuple(use_awaitable);

constexpr std::uint64_t kMaxDelayMs = 60'000;
constexpr std::uint64_t kMaxFaultBytes = 16 * 1024 * 1024;  // heads and trailers are held whole
constexpr std::uint64_t kTruncatedDeclaredLength = 1000;
constexpr std::uint64_t kTruncatedSentLength = 100;

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool query_has(std::string_view query, std::string_view parameter) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    if (query.substr(0, amp) == parameter) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

struct SplitTarget {
  std::string_view path;
  std::string_view query;
};

SplitTarget split_target(std::string_view target) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

nlohmann::ordered_json headers_as_json(const RequestHead& request) {
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (const auto& field : request) {
    const std::string name = to_lower(field.name_string());
    const std::string value(field.value());
    auto existing = headers.find(name);
    if (existing == headers.end()) {
      headers[name] = value;
    } else if (existing->is_array()) {
      existing->push_back(value);
    } else {
      *existing = nlohmann::ordered_json::array({*existing, value});
    }
  }
  return headers;
}

std::string echo_json(const RequestHead& request, const ReceivedBody& body,
                      const ConnectionInfo& connection) {
  const SplitTarget target = split_target(request.target());
  nlohmann::ordered_json echo;
  echo["method"] = std::string(request.method_string());
  echo["path"] = std::string(target.path);
  echo["query"] = std::string(target.query);
  echo["headers"] = headers_as_json(request);
  echo["body_size"] = body.size;
  echo["body_sha256"] = body.sha256;
  echo["connection_id"] = connection.connection_id;
  echo["request_on_connection"] = connection.request_on_connection;
  if (!connection.options.name.empty()) echo["server"] = connection.options.name;
  // Targets and header values may carry bytes that are not UTF-8; show them, do not throw.
  return echo.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Built outside the coroutines: GCC 12 cannot keep an initializer list of literals in a
// coroutine frame ("array used as initializer").
std::string error_json(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump();
}

bool status_has_no_body(http::status status) {
  return status == http::status::no_content || status == http::status::not_modified;
}

// Returns whether the write succeeded.
template <class Body>
asio::awaitable<bool> write_response(beast::tcp_stream& stream, http::response<Body>& response,
                                     bool head_only, std::chrono::seconds timeout) {
  http::response_serializer<Body> serializer{response};
  stream.expires_after(timeout);
  error_code ec;
  if (head_only) {
    std::tie(ec, std::ignore) =
        co_await http::async_write_header(stream, serializer, kTupleAwaitable);
  } else {
    std::tie(ec, std::ignore) = co_await http::async_write(stream, serializer, kTupleAwaitable);
  }
  co_return !ec;
}

asio::awaitable<bool> send_text(beast::tcp_stream& stream, const RequestHead& request,
                                http::status status, std::string_view content_type,
                                std::string text, std::chrono::seconds timeout) {
  http::response<http::string_body> response{status, request.version()};
  response.set(http::field::server, "echo-server");
  response.set(http::field::content_type, content_type);
  if (response.reason() == "<unknown-status>") response.reason("Unknown");
  response.keep_alive(request.keep_alive());
  if (!status_has_no_body(status)) {
    response.body() = std::move(text);
    response.prepare_payload();
  }
  const bool head_only = request.method() == http::verb::head;
  co_return co_await write_response(stream, response, head_only, timeout) && request.keep_alive();
}

asio::awaitable<bool> send_echo(beast::tcp_stream& stream, const RequestHead& request,
                                http::status status, const ReceivedBody& body,
                                const ConnectionInfo& connection) {
  co_return co_await send_text(stream, request, status, "application/json",
                               echo_json(request, body, connection), connection.options.timeout);
}

// Writes `length` bytes of the pattern, as raw body bytes or as chunks.
asio::awaitable<bool> write_pattern(beast::tcp_stream& stream, std::uint64_t length, bool chunked,
                                    std::chrono::seconds timeout) {
  const std::string& block = pattern_block();
  for (std::uint64_t remaining = length; remaining > 0;) {
    const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, block.size()));
    const auto bytes = asio::buffer(block.data(), piece);
    stream.expires_after(timeout);
    error_code ec;
    if (chunked) {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream, http::make_chunk(bytes), kTupleAwaitable);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream, bytes, kTupleAwaitable);
    }
    if (ec) co_return false;
    remaining -= piece;
  }
  if (chunked) {
    stream.expires_after(timeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk_last(), kTupleAwaitable);
    if (ec) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> send_pattern(beast::tcp_stream& stream, const RequestHead& request,
                                   std::uint64_t length, bool want_chunked,
                                   std::chrono::seconds timeout) {
  const bool chunked = want_chunked && request.version() >= 11;
  http::response<http::empty_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "echo-server");
  response.set(http::field::content_type, "application/octet-stream");
  response.keep_alive(request.keep_alive());
  if (chunked) {
    response.chunked(true);
  } else {
    response.content_length(length);
  }
  // The head goes through Beast; the body is written straight from the shared pattern block.
  if (!co_await write_response(stream, response, /*head_only=*/true, timeout)) {
    co_return false;
  }
  if (request.method() == http::verb::head) co_return request.keep_alive();
  co_return co_await write_pattern(stream, length, chunked, timeout) && request.keep_alive();
}

// Promises more than it sends, then hangs up: what an upstream crashing mid-response looks like.
asio::awaitable<bool> send_truncated(beast::tcp_stream& stream, const RequestHead& request,
                                     std::chrono::seconds timeout) {
  http::response<http::empty_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "echo-server");
  response.set(http::field::content_type, "application/octet-stream");
  response.content_length(kTruncatedDeclaredLength);
  co_await write_response(stream, response, /*head_only=*/true, timeout);
  co_await write_pattern(stream, kTruncatedSentLength, /*chunked=*/false, timeout);
  error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
  co_return false;
}

// An answer that keeps the connection open, then a close: what a client sees when an upstream's
// keep-alive timeout ends a connection it holds idle. The line is printed once the close is sent.
asio::awaitable<bool> send_ok_then_close(beast::tcp_stream& stream, const RequestHead& request,
                                         std::chrono::seconds timeout) {
  co_await send_text(stream, request, http::status::ok, "text/plain", std::string("ok"), timeout);
  error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
  std::printf("echo-server closed after /ok-then-close\n");
  std::fflush(stdout);
  co_return false;
}

// The fault paths (faults.hpp); anything else is the echo.
Endpoint choose_fault(std::string_view path) {
  if (path == "/reset") return {EndpointKind::reset};
  if (path == "/reset-mid-body") return {EndpointKind::reset_mid_body};
  if (path == "/endless") return {EndpointKind::endless};
  if (path == "/never-closes") return {EndpointKind::never_closes};
  struct Numbered {
    std::string_view prefix;
    EndpointKind kind;
    std::uint64_t max;
    std::string_view error;
  };
  static constexpr Numbered kNumbered[] = {
      {"/slow-head/", EndpointKind::slow_head, kMaxDelayMs, "/slow-head/MS wants milliseconds"},
      {"/stall-mid-body/", EndpointKind::stall_mid_body, kMaxDelayMs,
       "/stall-mid-body/MS wants milliseconds"},
      {"/big-head/", EndpointKind::big_head, kMaxFaultBytes, "/big-head/N wants at most 16 MiB"},
      {"/big-field/", EndpointKind::big_field, kMaxFaultBytes, "/big-field/N wants at most 16 MiB"},
      {"/big-trailer/", EndpointKind::big_trailer, kMaxFaultBytes,
       "/big-trailer/N wants at most 16 MiB"},
  };
  for (const Numbered& numbered : kNumbered) {
    if (!path.starts_with(numbered.prefix)) continue;
    const auto number = parse_decimal(path.substr(numbered.prefix.size()));
    if (!number || *number > numbered.max) {
      return {EndpointKind::bad_request, 0, false, numbered.error};
    }
    return {numbered.kind, *number};
  }
  return {EndpointKind::echo};
}

}  // namespace

// Its length is a multiple of the pattern's period (26), so sending it again and again (and a
// prefix of it last) continues the pattern without a seam.
const std::string& pattern_block() {
  static const std::string block = [] {
    std::string b(26 * 2520, '\0');
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>('a' + i % 26);
    return b;
  }();
  return block;
}

Endpoint choose_endpoint(std::string_view target) {
  const SplitTarget split = split_target(target);
  const std::string_view path = split.path;
  if (path == "/ok") return {EndpointKind::ok};
  if (path == "/body-progress") {
    Endpoint progress{EndpointKind::echo};
    progress.log_body_progress = true;
    return progress;
  }
  if (path == "/close-mid-body") return {EndpointKind::close_mid_body};
  if (path == "/ok-then-close") return {EndpointKind::ok_then_close};
  if (path.starts_with("/bytes/")) {
    const auto length = parse_decimal(path.substr(7));
    if (!length) return {EndpointKind::bad_request, 0, false, "/bytes/N wants a byte count"};
    return {EndpointKind::bytes, *length,
            query_has(split.query, "chunked=1") || query_has(split.query, "chunked=true")};
  }
  if (path.starts_with("/status/")) {
    const auto status = parse_decimal(path.substr(8));
    if (!status || *status < 200 || *status > 599) {
      return {EndpointKind::bad_request, 0, false, "/status/NNN wants a status from 200 to 599"};
    }
    return {EndpointKind::status, *status};
  }
  if (path.starts_with("/delay/")) {
    const auto delay = parse_decimal(path.substr(7));
    if (!delay) return {EndpointKind::bad_request, 0, false, "/delay/MS wants milliseconds"};
    return {EndpointKind::delay, std::min(*delay, kMaxDelayMs)};
  }
  return choose_fault(path);
}

asio::awaitable<bool> respond(beast::tcp_stream& stream, const RequestHead& request,
                              const Endpoint& endpoint, const ReceivedBody& body,
                              const ConnectionInfo& connection) {
  const std::chrono::seconds timeout = connection.options.timeout;
  switch (endpoint.kind) {
    case EndpointKind::ok:
      co_return co_await send_text(stream, request, http::status::ok, "text/plain",
                                   std::string("ok"), timeout);
    case EndpointKind::bytes:
      co_return co_await send_pattern(stream, request, endpoint.number, endpoint.chunked, timeout);
    case EndpointKind::status:
      co_return co_await send_echo(stream, request, static_cast<http::status>(endpoint.number),
                                   body, connection);
    case EndpointKind::delay: {
      asio::steady_timer timer(stream.get_executor(), std::chrono::milliseconds(endpoint.number));
      co_await timer.async_wait(use_awaitable);
      co_return co_await send_echo(stream, request, http::status::ok, body, connection);
    }
    case EndpointKind::close_mid_body:
      co_return co_await send_truncated(stream, request, timeout);
    case EndpointKind::ok_then_close:
      co_return co_await send_ok_then_close(stream, request, timeout);
    case EndpointKind::reset:
      co_return co_await faults::reset_at_once(stream);
    case EndpointKind::reset_mid_body:
      co_return co_await faults::reset_mid_body(stream, timeout);
    case EndpointKind::slow_head:
      co_return co_await faults::slow_head(stream, std::chrono::milliseconds(endpoint.number),
                                           timeout);
    case EndpointKind::stall_mid_body:
      co_return co_await faults::stall_mid_body(stream, std::chrono::milliseconds(endpoint.number),
                                                timeout);
    case EndpointKind::big_head:
      co_return co_await faults::big_head(stream, endpoint.number, timeout);
    case EndpointKind::big_field:
      co_return co_await faults::big_field(stream, endpoint.number, timeout);
    case EndpointKind::big_trailer:
      co_return co_await faults::big_trailer(stream, endpoint.number, timeout);
    case EndpointKind::endless:
      co_return co_await faults::endless(stream, timeout);
    case EndpointKind::never_closes:
      co_return co_await faults::never_closes(stream, timeout);
    case EndpointKind::bad_request:
      co_return co_await send_text(stream, request, http::status::bad_request, "application/json",
                                   error_json(endpoint.error), timeout);
    case EndpointKind::echo:
      break;
  }
  co_return co_await send_echo(stream, request, http::status::ok, body, connection);
}

asio::awaitable<void> respond_error(beast::tcp_stream& stream, http::status status,
                                    std::string_view message, std::chrono::seconds timeout) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::server, "echo-server");
  response.set(http::field::content_type, "application/json");
  response.keep_alive(false);
  response.body() = error_json(message);
  response.prepare_payload();
  co_await write_response(stream, response, /*head_only=*/false, timeout);
}

}  // namespace echo_server
