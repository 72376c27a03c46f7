#include "http_server.hpp"

#include <array>
#include <functional>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/ssl.hpp>

#include "dev_idp.hpp"

namespace tollgate::dev_idp {
namespace {

using namespace std::chrono_literals;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// Keep-alive connections (a gateway's pool) may sit idle for a while between calls.
constexpr auto kIdleTimeout = 120s;
constexpr auto kRequestTimeout = 30s;  // rest of a request once it has started
constexpr auto kWriteTimeout = 30s;
constexpr auto kTlsTimeout = 10s;  // handshake and shutdown
constexpr auto kPurgeInterval = 30s;
// After answering and half-closing, unread request bytes are drained for a moment: closing a
// socket with unread data sends a reset, which can destroy the answer before the client reads it
// (e.g. a 413 sent while the client is still uploading).
constexpr auto kLingerTimeout = 2s;
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// A truncated answer promises this many bytes more than it sends.
constexpr std::size_t kTruncatedBytes = 64;

enum class ConnectionEnd { graceful, abrupt };

bool is_http_parse_error(const error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

// The answer to a request that could not be read; nullopt when the peer just went away.
std::optional<Reply> reply_to_read_error(const error_code& ec) {
  if (ec == http::error::body_limit) {
    return error_reply(http::status::payload_too_large, "invalid_request",
                       "The request body exceeds 64 KiB.");
  }
  if (ec == http::error::header_limit) {
    return error_reply(http::status::request_header_fields_too_large, "invalid_request",
                       "The request header is too large.");
  }
  if (is_http_parse_error(ec) && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return error_reply(http::status::bad_request, "invalid_request", "Malformed HTTP request.");
  }
  return std::nullopt;
}

template <class Stream>
awaitable<error_code> write_response(Stream& stream, Response& response) {
  beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
  auto [ec, bytes] = co_await http::async_write(stream, response, kUseTuple);
  co_return ec;
}

// Reads and discards whatever the peer sends until it leaves: a "blackholed" request.
template <class Stream>
awaitable<void> swallow_until_peer_leaves(Stream& stream) {
  beast::get_lowest_layer(stream).expires_never();
  std::array<char, 4096> sink;
  for (;;) {
    auto [ec, bytes] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) co_return;
  }
}

template <class Stream>
awaitable<ConnectionEnd> deliver(Stream& stream, Reply& reply, unsigned version, bool keep_alive) {
  Response& response = reply.response;
  response.version(version);
  switch (reply.delivery) {
    case Delivery::close_silently:
      co_return ConnectionEnd::abrupt;
    case Delivery::blackhole:
      co_await swallow_until_peer_leaves(stream);
      co_return ConnectionEnd::abrupt;
    case Delivery::truncate:
      response.keep_alive(false);
      response.content_length(response.body().size() + kTruncatedBytes);
      co_await write_response(stream, response);
      co_return ConnectionEnd::graceful;
    case Delivery::respond:
      break;
  }
  response.keep_alive(keep_alive);
  response.prepare_payload();
  if (co_await write_response(stream, response)) co_return ConnectionEnd::abrupt;
  co_return ConnectionEnd::graceful;
}

// Serves requests on one connection until it closes; says how it ended.
template <class Stream>
awaitable<ConnectionEnd> serve_requests(Stream& stream, DevIdp& idp) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    // A fresh parser per message: limits apply per request, and no state leaks between them.
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    parser.header_limit(kMaxHeaderBytes);

    tcp_layer.expires_after(kIdleTimeout);
    auto [header_ec, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    error_code ec = header_ec;
    if (!ec) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        Response go_on{http::status::continue_, parser.get().version()};
        if (co_await write_response(stream, go_on)) co_return ConnectionEnd::abrupt;
      }
      tcp_layer.expires_after(kRequestTimeout);
      auto [body_ec, body_bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      ec = body_ec;
    }
    if (ec == http::error::end_of_stream) co_return ConnectionEnd::graceful;
    if (ec) {
      auto reply = reply_to_read_error(ec);
      if (!reply) co_return ConnectionEnd::abrupt;
      co_await deliver(stream, *reply, 11, false);
      co_return ConnectionEnd::graceful;
    }

    const Request request = parser.release();
    Reply reply = idp.handle(request);
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, reply.delay);
      co_await timer.async_wait(kUseTuple);
    }
    const bool keep_alive = request.keep_alive() && reply.delivery == Delivery::respond;
    const ConnectionEnd end = co_await deliver(stream, reply, request.version(), keep_alive);
    if (end == ConnectionEnd::abrupt || !keep_alive) co_return end;
  }
}

awaitable<void> linger_then_close(beast::tcp_stream& stream) {
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(kLingerTimeout);
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < kLingerMaxBytes) {
    auto [ec, bytes] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) break;
    drained += bytes;
  }
  stream.socket().close(ignored);
}

awaitable<void> serve_plain(tcp::socket socket, DevIdp& idp) {
  beast::tcp_stream stream(std::move(socket));
  const ConnectionEnd end = co_await serve_requests(stream, idp);
  if (end == ConnectionEnd::graceful) {
    co_await linger_then_close(stream);
  } else {
    error_code ignored;
    stream.socket().close(ignored);
  }
}

awaitable<void> serve_tls(tcp::socket socket, ssl::context& context, DevIdp& idp) {
  ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), context);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(kTlsTimeout);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (handshake_ec) {
    spdlog::debug("TLS handshake failed: {}", handshake_ec.message());
    co_return;
  }
  const ConnectionEnd end = co_await serve_requests(stream, idp);
  if (end == ConnectionEnd::graceful) {
    tcp_layer.expires_after(kTlsTimeout);
    co_await stream.async_shutdown(kUseTuple);  // close_notify; the peer's may never come
  }
  error_code ignored;
  tcp_layer.socket().close(ignored);
}

void log_connection_failure(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    spdlog::error("connection failed: {}", e.what());
  }
}

}  // namespace

HttpServer::HttpServer(const tcp::endpoint& listen, const std::optional<TlsFiles>& tls,
                       unsigned threads)
    : acceptor_(main_context_, listen) {
  if (tls) {
    tls_context_.emplace(ssl::context::tls_server);
    tls_context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1);
    tls_context_->use_certificate_chain_file(tls->certificate_chain);
    tls_context_->use_private_key_file(tls->private_key, ssl::context::pem);
  }
  for (unsigned i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<asio::io_context>(1));
    work_guards_.push_back(asio::make_work_guard(*workers_.back()));
  }
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::run(DevIdp& idp, const std::function<void()>& on_ready) {
  for (auto& worker : workers_) {
    threads_.emplace_back([context = worker.get()] { context->run(); });
  }
  asio::signal_set signals(main_context_, SIGINT, SIGTERM);
  signals.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    main_context_.stop();
  });
  asio::co_spawn(main_context_, accept_loop(idp), log_connection_failure);
  asio::co_spawn(main_context_, purge_loop(idp), log_connection_failure);
  on_ready();
  main_context_.run();
  stop();
}

void HttpServer::stop() {
  for (auto& guard : work_guards_) guard.reset();
  for (auto& worker : workers_) worker->stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

awaitable<void> HttpServer::accept_loop(DevIdp& idp) {
  for (;;) {
    // Connections are dealt out to the workers in turn; each then lives on one thread.
    asio::io_context& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor_.async_accept(worker, kUseTuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors, typically: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(main_context_, 100ms);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls_context_) {
      asio::co_spawn(worker, serve_tls(std::move(socket), *tls_context_, idp),
                     log_connection_failure);
    } else {
      asio::co_spawn(worker, serve_plain(std::move(socket), idp), log_connection_failure);
    }
  }
}

awaitable<void> HttpServer::purge_loop(DevIdp& idp) {
  asio::steady_timer timer(main_context_);
  for (;;) {
    timer.expires_after(kPurgeInterval);
    auto [ec] = co_await timer.async_wait(kUseTuple);
    if (ec) co_return;
    if (const std::size_t dropped = idp.purge_dead_tokens()) {
      spdlog::debug("forgot {} dead tokens", dropped);
    }
  }
}

}  // namespace tollgate::dev_idp
