#include "faults.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace echo_server::faults {
namespace {

using tollgate::error_code;
constexpr auto kTupleAwaitable = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kFillerValueBytes = 4000;
constexpr std::uint64_t kPromisedBytes = 1000;
constexpr std::uint64_t kSentBeforeReset = 100;
constexpr std::uint64_t kStallHalf = 100;
// How long a reset waits for the bytes before it to leave the socket (see reset_after_sent).
constexpr auto kSendQueueWait = std::chrono::seconds(1);
constexpr auto kSendQueuePoll = std::chrono::milliseconds(1);

asio::awaitable<bool> write_all(beast::tcp_stream& stream, std::string_view bytes,
                                std::chrono::seconds timeout) {
  stream.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), kTupleAwaitable);
  co_return !ec;
}

asio::awaitable<void> pause_for(beast::tcp_stream& stream, std::chrono::milliseconds pause) {
  asio::steady_timer timer(stream.get_executor(), pause);
  co_await timer.async_wait(kTupleAwaitable);
}

// SO_LINGER with a zero timeout turns close() into an abortive close: the peer gets RST.
void reset_now(beast::tcp_stream& stream) {
  error_code ignored;
  stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
  stream.socket().close(ignored);
}

// An abortive close drops whatever still waits in the send queue. Waiting until the peer has
// acknowledged every byte (SIOCOUTQ is 0) makes "these bytes, then a reset" what the peer sees.
asio::awaitable<void> reset_after_sent(beast::tcp_stream& stream) {
  const auto deadline = std::chrono::steady_clock::now() + kSendQueueWait;
  for (;;) {
    int unsent = 0;
    if (::ioctl(stream.socket().native_handle(), SIOCOUTQ, &unsent) != 0 || unsent == 0) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    co_await pause_for(stream, kSendQueuePoll);
  }
  reset_now(stream);
}

// Reads and drops what the peer sends until it leaves or stays silent for `timeout`.
asio::awaitable<void> hold_until_peer_leaves(beast::tcp_stream& stream,
                                             std::chrono::seconds timeout) {
  std::array<char, 4096> sink;
  for (;;) {
    stream.expires_after(timeout);
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTupleAwaitable);
    if (ec) co_return;
  }
}

std::string head_of_ok(std::string_view extra_fields) {
  std::string head = "HTTP/1.1 200 OK\r\nServer: echo-server\r\nContent-Type: text/plain\r\n";
  head.append(extra_fields);
  head.append("Content-Length: 2\r\nConnection: close\r\n\r\n");
  return head;
}

std::string promised_length_head(std::uint64_t length) {
  return "HTTP/1.1 200 OK\r\nServer: echo-server\r\nContent-Type: application/octet-stream\r\n"
         "Content-Length: " +
         std::to_string(length) + "\r\nConnection: close\r\n\r\n";
}

std::string_view pattern_bytes(std::uint64_t length) {
  return std::string_view(pattern_block()).substr(0, static_cast<std::size_t>(length));
}

}  // namespace

asio::awaitable<bool> reset_at_once(beast::tcp_stream& stream) {
  reset_now(stream);
  co_return false;
}

asio::awaitable<bool> reset_mid_body(beast::tcp_stream& stream, std::chrono::seconds timeout) {
  std::string start = promised_length_head(kPromisedBytes);
  start.append(pattern_bytes(kSentBeforeReset));
  if (co_await write_all(stream, start, timeout)) co_await reset_after_sent(stream);
  co_return false;
}

asio::awaitable<bool> slow_head(beast::tcp_stream& stream, std::chrono::milliseconds pause,
                                std::chrono::seconds timeout) {
  const std::string head = head_of_ok("");
  for (const char& byte : head) {
    if (!co_await write_all(stream, std::string_view(&byte, 1), timeout)) co_return false;
    co_await pause_for(stream, pause);
  }
  co_await write_all(stream, "ok", timeout);
  co_return false;
}

asio::awaitable<bool> stall_mid_body(beast::tcp_stream& stream, std::chrono::milliseconds pause,
                                     std::chrono::seconds timeout) {
  std::string first = promised_length_head(2 * kStallHalf);
  first.append(pattern_bytes(kStallHalf));
  if (!co_await write_all(stream, first, timeout)) co_return false;
  co_await pause_for(stream, pause);
  co_await write_all(stream, pattern_bytes(kStallHalf), timeout);
  co_return false;
}

asio::awaitable<bool> big_head(beast::tcp_stream& stream, std::uint64_t bytes,
                               std::chrono::seconds timeout) {
  std::string fields;
  for (int index = 1; fields.size() < bytes; ++index) {
    fields.append("X-Filler-" + std::to_string(index) + ": ");
    fields.append(kFillerValueBytes, 'f').append("\r\n");
  }
  co_await write_all(stream, head_of_ok(fields) + "ok", timeout);
  co_return false;
}

asio::awaitable<bool> big_field(beast::tcp_stream& stream, std::uint64_t bytes,
                                std::chrono::seconds timeout) {
  std::string field = "X-Big: ";
  field.append(static_cast<std::size_t>(bytes), 'b').append("\r\n");
  co_await write_all(stream, head_of_ok(field) + "ok", timeout);
  co_return false;
}

asio::awaitable<bool> big_trailer(beast::tcp_stream& stream, std::uint64_t bytes,
                                  std::chrono::seconds timeout) {
  std::string answer =
      "HTTP/1.1 200 OK\r\nServer: echo-server\r\nContent-Type: text/plain\r\n"
      "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\nConnection: close\r\n\r\n"
      "2\r\nok\r\n0\r\nX-Trailer: ";
  answer.append(static_cast<std::size_t>(bytes), 't').append("\r\n\r\n");
  co_await write_all(stream, answer, timeout);
  co_return false;
}

asio::awaitable<bool> endless(beast::tcp_stream& stream, std::chrono::seconds timeout) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nServer: echo-server\r\nContent-Type: application/octet-stream\r\n"
      "Connection: close\r\n\r\n";
  if (!co_await write_all(stream, head, timeout)) co_return false;
  while (co_await write_all(stream, pattern_block(), timeout)) {
  }
  co_return false;
}

asio::awaitable<bool> never_closes(beast::tcp_stream& stream, std::chrono::seconds timeout) {
  const std::string answer =
      "HTTP/1.1 200 OK\r\nServer: echo-server\r\nContent-Type: text/plain\r\n"
      "Connection: close\r\n\r\nok";
  if (co_await write_all(stream, answer, timeout)) co_await hold_until_peer_leaves(stream, timeout);
  co_return false;
}

}  // namespace echo_server::faults
