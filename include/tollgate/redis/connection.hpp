// One pipelined connection to Redis on a worker's event loop. hiredis does the protocol only
// (redisFormatCommandArgv encodes, redisReader parses); the socket is ours, plain TCP or TLS over
// a TimedSocket, so Redis costs no thread and no second event loop.
//
// Commands are written back to back; replies are matched to them in order. A connection whose
// reply stream goes wrong (a parse error, a reply nobody asked for, the peer closing, no reply
// within read_timeout) is closed, and every command still waiting on it fails: a reply is never
// handed to a command it does not belong to. Used on its executor's thread only: nothing locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/http/stream.hpp"

struct redisReader;

namespace tollgate::redis {

struct Reply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string text;  // string, status and error
  long long integer = 0;
  std::vector<Reply> elements;  // array

  bool is_status(std::string_view expected) const {
    return type == Type::status && text == expected;
  }
};

// The reply types a command accepts, as a mask of bits (1 << Reply::Type). An error reply is
// always accepted (it is the command's own answer); any other type outside the mask means the
// reply stream is not what was asked for.
using Accepts = unsigned;
constexpr Accepts accepts(std::initializer_list<Reply::Type> types) {
  Accepts mask = 0;
  for (Reply::Type type : types) mask |= 1u << static_cast<unsigned>(type);
  return mask;
}
constexpr Accepts kAnyReply = ~0u;

// A command's arguments, to keep in a named local while the command is awaited: g++ 12 cannot keep
// a braced list's array, or a temporary, in a coroutine frame across co_await.
template <class... Parts>
std::vector<std::string_view> arguments(const Parts&... parts) {
  return {std::string_view(parts)...};
}

enum class Failure {
  connect,      // resolve, connect or TLS handshake failed
  auth,         // AUTH or SELECT refused
  io,           // the peer closed or reset, a write failed
  timeout,      // connect_timeout, send_timeout or read_timeout passed
  protocol,     // a reply that does not parse, or that nobody asked for
  closed,       // the connection was closed before the command got its reply
  unavailable,  // not tried: the circuit breaker is open (client.hpp)
};
std::string_view to_string(Failure failure) noexcept;

using ReplyResult = result<Reply, Failure>;

[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& location);

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int database = 0;
  std::string username;  // empty: AUTH with the password alone (Redis before 6)
  std::string password;  // empty: no AUTH
  bool ssl = false;
  bool ssl_verify = true;
  std::string server_name;  // SNI and the name the certificate must carry; empty: `host`
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds send_timeout{1'000};
  std::chrono::milliseconds read_timeout{1'000};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // A message published to a channel the connection subscribed to (an array starting "message"
  // or "pmessage"), whenever it arrives: commands in flight (PING) keep their own replies. Without
  // a handler, a reply nobody asked for ends the connection as a protocol failure.
  using PushHandler = std::function<void(const Reply&)>;

  // Starts connecting at once; commands may be sent before the connection is up. `tls_context`
  // is needed when `options.ssl` is set.
  static std::shared_ptr<Connection> open(asio::any_io_executor executor, const Options& options,
                                          std::shared_ptr<ssl::context> tls_context,
                                          PushHandler on_push = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command (its arguments, binary-safe) and waits for its reply. A Redis error reply
  // (-ERR ...) is a Reply of type error; a failed connection is a Failure.
  // A reply of a type `expected` does not hold ends the connection as a protocol failure.
  awaitable<ReplyResult> command(std::span<const std::string_view> arguments,
                                 Accepts expected = kAnyReply);

  bool usable() const noexcept { return !failure_; }
  std::optional<Failure> failure() const noexcept { return failure_; }
  std::size_t waiting() const noexcept { return pending_.size(); }
  // Ends the connection; every waiting command fails with `why`.
  void close(Failure why);

 private:
  struct Pending;
  Connection(asio::any_io_executor executor, const Options& options,
             std::shared_ptr<ssl::context> tls_context, PushHandler on_push);

  void enqueue(std::span<const std::string_view> arguments, std::shared_ptr<Pending> pending);
  static awaitable<void> run(std::shared_ptr<Connection> self);
  awaitable<std::optional<Failure>> establish();
  static awaitable<void> write_loop(std::shared_ptr<Connection> self);
  awaitable<void> read_loop();
  // Takes every complete reply out of the parser; false when the stream went wrong.
  bool deliver_replies();
  void arm_read_deadline();

  asio::any_io_executor executor_;
  Options options_;
  std::shared_ptr<ssl::context> tls_context_;
  PushHandler on_push_;
  std::optional<http_io::Stream> stream_;
  redisReader* reader_ = nullptr;
  std::deque<std::shared_ptr<Pending>> pending_;  // sent or queued, oldest first
  std::string outgoing_;                          // encoded commands not yet written
  bool connected_ = false;
  bool writing_ = false;
  std::optional<Failure> failure_;
};

}  // namespace tollgate::redis
