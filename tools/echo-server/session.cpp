#include "session.hpp"

#include <cstdio>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <tuple>

#include "tollgate/http/headers.hpp"

#include "endpoints.hpp"
#include "sha256_stream.hpp"

namespace echo_server {
namespace {

using asio::use_awaitable;
using tollgate::error_code;
using tollgate::result;
constexpr auto kTupleAwaitable = asio::as_tuple(use_awaitable);

constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kBodyChunk = 64 * 1024;

using RequestParser = http::request_parser<http::buffer_body>;

bool expects_continue(const RequestHead& request) {
  const auto expect = request.find(http::field::expect);
  return expect != request.end() && tollgate::http_io::iequals(expect->value(), "100-continue");
}

// Reads the whole body through `scratch`, counting it and (when asked) hashing it on the way.
// With `log_progress`, each read takes what has arrived and the count so far is printed.
asio::awaitable<result<ReceivedBody>> read_body(beast::tcp_stream& stream,
                                                beast::flat_buffer& buffer, RequestParser& parser,
                                                bool hash, bool log_progress,
                                                std::span<char> scratch,
                                                std::chrono::seconds timeout) {
  ReceivedBody body;
  std::optional<Sha256Stream> sha256;
  if (hash) sha256.emplace();
  while (!parser.is_done()) {
    parser.get().body().data = scratch.data();
    parser.get().body().size = scratch.size();
    stream.expires_after(timeout);
    error_code ec;
    if (log_progress) {
      std::tie(ec, std::ignore) =
          co_await http::async_read_some(stream, buffer, parser, kTupleAwaitable);
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_read(stream, buffer, parser, kTupleAwaitable);
    }
    // need_buffer only says that scratch is full: take what is in it and go on.
    if (ec && ec != http::error::need_buffer) co_return ec;
    const std::size_t received = scratch.size() - parser.get().body().size;
    body.size += received;
    if (sha256) sha256->update(scratch.data(), received);
    if (log_progress) {
      std::printf("echo-server body-bytes %llu\n", static_cast<unsigned long long>(body.size));
      std::fflush(stdout);
    }
  }
  if (sha256) body.sha256 = sha256->hex_digest();
  co_return body;
}

bool is_http_parse_error(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

// Tells the client why its request could not be read, when it is still there to hear it.
asio::awaitable<void> answer_read_error(beast::tcp_stream& stream, const error_code& ec,
                                        std::chrono::seconds timeout) {
  if (!is_http_parse_error(ec) || ec == http::error::end_of_stream ||
      ec == http::error::partial_message) {
    co_return;  // the client went away or timed out: nothing to answer
  }
  if (ec == http::error::header_limit) {
    co_await respond_error(stream, http::status::request_header_fields_too_large,
                           "request header too large", timeout);
  } else if (ec == http::error::body_limit) {
    co_await respond_error(stream, http::status::payload_too_large, "request body too large",
                           timeout);
  } else {
    co_await respond_error(stream, http::status::bad_request, ec.message(), timeout);
  }
}

asio::awaitable<bool> send_continue(beast::tcp_stream& stream, std::chrono::seconds timeout) {
  http::response<http::empty_body> interim{http::status::continue_, 11};
  stream.expires_after(timeout);
  auto [ec, n] = co_await http::async_write(stream, interim, kTupleAwaitable);
  co_return !ec;
}

}  // namespace

asio::awaitable<void> run_session(tollgate::tcp::socket socket, const Options& options,
                                  std::uint64_t connection_id) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // Allocated with the first request body: a benchmark's thousands of body-less keep-alive
  // connections then cost a few hundred bytes each, not 128 KiB.
  std::unique_ptr<std::array<char, kBodyChunk>> scratch;

  for (std::uint64_t request_index = 1;; ++request_index) {
    // A fresh parser per request: limits and state never leak from one request to the next.
    RequestParser parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options.max_body ? boost::optional<std::uint64_t>(*options.max_body)
                                       : boost::none);
    stream.expires_after(options.timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTupleAwaitable);
    if (ec) {
      co_await answer_read_error(stream, ec, options.timeout);
      break;
    }
    const RequestHead& head = parser.get();
    if (options.log_requests) {
      std::printf("echo-server request %.*s %.*s\n", static_cast<int>(head.method_string().size()),
                  head.method_string().data(), static_cast<int>(head.target().size()),
                  head.target().data());
      std::fflush(stdout);
    }
    const Endpoint endpoint = choose_endpoint(head.target());
    if (!parser.is_done() && expects_continue(head) &&
        !co_await send_continue(stream, options.timeout)) {
      break;
    }
    if (!parser.is_done() && !scratch) {
      scratch = std::make_unique<std::array<char, kBodyChunk>>();
      // Beast reads at most the buffer's spare capacity (and at least 512 bytes) per call; a body
      // streamed through a small buffer would cost one system call per 512 bytes.
      buffer.reserve(kBodyChunk);
    }
    // A named local, not a conditional inside the co_await expression: with g++ 12, UBSan saw
    // the null branch dereferenced there.
    std::span<char> scratch_span;
    if (scratch) scratch_span = std::span<char>(*scratch);
    const auto body = co_await read_body(stream, buffer, parser, endpoint.wants_body_hash(),
                                         endpoint.log_body_progress, scratch_span, options.timeout);
    if (!body) {
      co_await answer_read_error(stream, body.error(), options.timeout);
      break;
    }
    const ConnectionInfo connection{options, connection_id, request_index};
    if (!co_await respond(stream, head, endpoint, *body, connection)) break;
  }

  error_code ignored;
  stream.socket().shutdown(tollgate::tcp::socket::shutdown_send, ignored);
}

}  // namespace echo_server
