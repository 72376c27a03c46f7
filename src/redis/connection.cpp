#include "tollgate/redis/connection.hpp"

#include <array>
#include <stdexcept>

#include <hiredis/hiredis.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tollgate::redis {
namespace {

// Unparsed bytes a connection holds before it gives up on the reply stream: cached answers are a
// few KiB, so a peer announcing a huge bulk string cannot make a worker buffer without end.
constexpr std::size_t kMaxUnparsedBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;

// hiredis nests arrays at most 9 deep, so the recursion is bounded.
Reply to_reply(const redisReply& raw) {
  Reply reply;
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::string;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::status;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::error;
      reply.text.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::integer;
      reply.integer = raw.integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::array;
      reply.elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i)
        reply.elements.push_back(to_reply(*raw.element[i]));
      break;
    default:
      reply.type = Reply::Type::nil;
  }
  return reply;
}

// A message published to a channel this connection subscribed to (RESP2: an array whose first
// element is "message" or "pmessage"); anything else in subscribed mode answers a command
// (SUBSCRIBE, PING), in order.
bool is_published_message(const Reply& reply) {
  return reply.type == Reply::Type::array && !reply.elements.empty() &&
         reply.elements[0].type == Reply::Type::string &&
         (reply.elements[0].text == "message" || reply.elements[0].text == "pmessage");
}

Failure failure_of(const error_code& ec) {
  return ec == beast::error::timeout ? Failure::timeout : Failure::io;
}

}  // namespace

std::string_view to_string(Failure failure) noexcept {
  switch (failure) {
    case Failure::connect:
      return "connect";
    case Failure::auth:
      return "auth";
    case Failure::io:
      return "io";
    case Failure::timeout:
      return "timeout";
    case Failure::protocol:
      return "protocol";
    case Failure::closed:
      return "closed";
    case Failure::unavailable:
      return "unavailable";
  }
  return "unknown";
}

void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
  throw std::runtime_error("redis: " + std::string(to_string(failure)));
}

struct Connection::Pending {
  explicit Pending(const asio::any_io_executor& executor)
      : wake(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;  // cancelled once `result` is set
  std::optional<ReplyResult> result;
  Accepts accepted = kAnyReply;
  bool handshake = false;  // AUTH or SELECT: anything but +OK ends the connection
};

std::shared_ptr<Connection> Connection::open(asio::any_io_executor executor, const Options& options,
                                             std::shared_ptr<ssl::context> tls_context,
                                             PushHandler on_push) {
  std::shared_ptr<Connection> connection(
      new Connection(std::move(executor), options, std::move(tls_context), std::move(on_push)));
  Connection& c = *connection;
  // Queued before anything a caller sends, so they are the first commands on the wire.
  if (!options.password.empty()) {
    auto pending = std::make_shared<Pending>(c.executor_);
    pending->handshake = true;
    if (options.username.empty()) {
      c.enqueue(std::array<std::string_view, 2>{"AUTH", options.password}, pending);
    } else {
      c.enqueue(std::array<std::string_view, 3>{"AUTH", options.username, options.password},
                pending);
    }
  }
  if (options.database != 0) {
    auto pending = std::make_shared<Pending>(c.executor_);
    pending->handshake = true;
    const std::string database = std::to_string(options.database);
    c.enqueue(std::array<std::string_view, 2>{"SELECT", database}, pending);
  }
  asio::co_spawn(c.executor_, run(connection), asio::detached);
  return connection;
}

Connection::Connection(asio::any_io_executor executor, const Options& options,
                       std::shared_ptr<ssl::context> tls_context, PushHandler on_push)
    : executor_(std::move(executor)),
      options_(options),
      tls_context_(std::move(tls_context)),
      on_push_(std::move(on_push)),
      reader_(redisReaderCreate()) {
  if (reader_ == nullptr) throw std::bad_alloc();
  // hiredis keeps up to maxbuf bytes of a consumed buffer; 0 would mean "never shrink".
  reader_->maxbuf = kReadChunk;
  http_io::TimedSocket socket(executor_);
  if (options_.ssl) {
    if (!tls_context_) throw std::invalid_argument("redis: ssl without a TLS context");
    stream_.emplace(std::move(socket), *tls_context_);
  } else {
    stream_.emplace(std::move(socket));
  }
}

Connection::~Connection() {
  redisReaderFree(reader_);
}

void Connection::close(Failure why) {
  if (failure_) return;
  failure_ = why;
  error_code ignored;
  stream_->socket().close(ignored);  // ends the read and write under way
  outgoing_.clear();
  std::deque<std::shared_ptr<Pending>> waiting;
  waiting.swap(pending_);
  for (const std::shared_ptr<Pending>& pending : waiting) {
    pending->result = why;
    pending->wake.cancel();
  }
}

awaitable<ReplyResult> Connection::command(std::span<const std::string_view> arguments,
                                           Accepts expected) {
  if (failure_) co_return *failure_;
  const std::shared_ptr<Connection> self = shared_from_this();
  auto pending = std::make_shared<Pending>(executor_);
  pending->accepted = expected;
  enqueue(arguments, pending);
  // Nothing runs between this check and the wait starting: one thread.
  if (!pending->result) {
    co_await pending->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!pending->result) co_return Failure::closed;
  co_return std::move(*pending->result);
}

void Connection::enqueue(std::span<const std::string_view> arguments,
                         std::shared_ptr<Pending> pending) {
  if (failure_) {
    pending->result = *failure_;
    return;
  }
  thread_local std::vector<const char*> argv;
  thread_local std::vector<std::size_t> lengths;
  argv.clear();
  lengths.clear();
  for (std::string_view argument : arguments) {
    argv.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  char* encoded = nullptr;
  const int size =
      redisFormatCommandArgv(&encoded, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (size < 0) throw std::bad_alloc();
  outgoing_.append(encoded, static_cast<std::size_t>(size));
  redisFreeCommand(encoded);
  pending_.push_back(std::move(pending));
  if (!connected_) return;  // written once the connection is up
  if (pending_.size() == 1) arm_read_deadline();
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(executor_, write_loop(shared_from_this()), asio::detached);
  }
}

void Connection::arm_read_deadline() {
  if (pending_.empty()) {
    stream_->expires_never();
  } else {
    stream_->expires_after(options_.read_timeout);
  }
}

awaitable<void> Connection::run(std::shared_ptr<Connection> self) {
  const std::optional<Failure> failed = co_await self->establish();
  if (self->failure_) co_return;  // closed while connecting
  if (failed) {
    self->close(*failed);
    co_return;
  }
  self->connected_ = true;
  self->arm_read_deadline();
  if (!self->outgoing_.empty()) {
    self->writing_ = true;
    asio::co_spawn(self->executor_, write_loop(self), asio::detached);
  }
  co_await self->read_loop();
}

awaitable<std::optional<Failure>> Connection::establish() {
  error_code ec;
  http_io::TimedSocket& socket = stream_->tcp();
  socket.expires_after(options_.connect_timeout);
  error_code not_literal;
  const asio::ip::address literal = asio::ip::make_address(options_.host, not_literal);
  if (!not_literal) {
    co_await socket.async_connect(tcp::endpoint(literal, options_.port),
                                  asio::redirect_error(asio::use_awaitable, ec));
  } else {
    tcp::resolver resolver(executor_);
    auto endpoints = co_await resolver.async_resolve(options_.host, std::to_string(options_.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Failure::connect;
    socket.expires_after(options_.connect_timeout);
    co_await socket.async_connect_range(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) co_return ec == beast::error::timeout ? Failure::timeout : Failure::connect;
  socket.socket().set_option(tcp::no_delay(true), ec);

  if (stream_->is_tls()) {
    auto& tls = stream_->tls();
    const std::string& name = options_.server_name.empty() ? options_.host : options_.server_name;
    error_code name_not_literal;
    asio::ip::make_address(name, name_not_literal);
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    if (name_not_literal && !SSL_set_tlsext_host_name(tls.native_handle(), name.c_str())) {
      co_return Failure::connect;
    }
    if (options_.ssl_verify) tls.set_verify_callback(ssl::host_name_verification(name));
    socket.expires_after(options_.connect_timeout);
    co_await tls.async_handshake(ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec == beast::error::timeout ? Failure::timeout : Failure::connect;
  }
  co_return std::nullopt;
}

awaitable<void> Connection::write_loop(std::shared_ptr<Connection> self) {
  std::string sending;
  while (!self->failure_ && !self->outgoing_.empty()) {
    sending.clear();
    sending.swap(self->outgoing_);
    self->stream_->expires_after(self->options_.send_timeout);
    auto [ec, written] = co_await asio::async_write(*self->stream_, asio::buffer(sending),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) {
      self->close(failure_of(ec));
      break;
    }
    if (!self->failure_) self->arm_read_deadline();
  }
  self->writing_ = false;
}

awaitable<void> Connection::read_loop() {
  std::vector<char> buffer(kReadChunk);
  while (!failure_) {
    auto [ec, received] = co_await stream_->async_read_some(asio::buffer(buffer),
                                                            asio::as_tuple(asio::use_awaitable));
    if (failure_) break;
    if (ec) {
      close(failure_of(ec));
      break;
    }
    if (redisReaderFeed(reader_, buffer.data(), received) != REDIS_OK || !deliver_replies()) {
      close(Failure::protocol);
      break;
    }
    if (failure_) break;  // a handshake reply refused
    arm_read_deadline();
  }
}

bool Connection::deliver_replies() {
  while (!failure_) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return false;
    if (raw == nullptr) break;
    Reply reply = to_reply(*static_cast<const redisReply*>(raw));
    freeReplyObject(raw);
    if (on_push_ && is_published_message(reply)) {
      on_push_(reply);
      continue;
    }
    if (pending_.empty()) return false;  // a reply nobody asked for: the stream cannot be trusted
    const std::shared_ptr<Pending> pending = std::move(pending_.front());
    pending_.pop_front();
    if (pending->handshake) {
      if (!reply.is_status("OK")) close(Failure::auth);
      continue;
    }
    const bool expected = reply.type == Reply::Type::error ||
                          (pending->accepted & (1u << static_cast<unsigned>(reply.type))) != 0;
    if (!expected) {
      pending->result = Failure::protocol;
      pending->wake.cancel();
      return false;
    }
    pending->result = std::move(reply);
    pending->wake.cancel();
  }
  return reader_->len - reader_->pos <= kMaxUnparsedBytes;
}

}  // namespace tollgate::redis
