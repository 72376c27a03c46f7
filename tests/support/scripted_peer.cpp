#include "scripted_peer.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace tollgate::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

std::string peer_response(const std::string& body, int status, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) +
         " Scripted\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
         "\r\n" + body;
}

ScriptedPeer::ScriptedPeer(Script script, const std::string& cert_file, const std::string& key_file)
    : script_(std::move(script)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  if (!cert_file.empty()) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(cert_file);
    tls_->use_private_key_file(key_file, asio::ssl::context::pem);
  }
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

ScriptedPeer::~ScriptedPeer() {
  io_.stop();
  thread_.join();
}

std::vector<PeerRequest> ScriptedPeer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

int ScriptedPeer::count_marker(const std::string& marker) const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(),
                                        [&](const PeerRequest& r) { return r.marker == marker; }));
}

void ScriptedPeer::release_held() {
  ++release_generation_;
  asio::post(io_, [this] {
    for (auto* timer : sleepers_) timer->cancel();
  });
}

void ScriptedPeer::signal() {
  ++signal_generation_;
  asio::post(io_, [this] {
    for (auto* timer : sleepers_) timer->cancel();
  });
}

asio::awaitable<void> ScriptedPeer::wait_for(std::atomic<int>& generation, int seen) {
  asio::steady_timer timer(io_, std::chrono::steady_clock::time_point::max());
  sleepers_.push_back(&timer);
  while (generation.load() == seen) {
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
    timer.expires_at(std::chrono::steady_clock::time_point::max());
  }
  sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), &timer));
}

asio::awaitable<void> ScriptedPeer::accept_loop() {
  for (int connection = 1;; ++connection) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(use_awaitable));
    if (ec) co_return;
    ++accepted_;
    const int open = ++open_;
    int seen = max_open_.load();
    while (open > seen && !max_open_.compare_exchange_weak(seen, open)) {
    }
    asio::co_spawn(io_, serve(std::move(socket), connection), asio::detached);
  }
}

asio::awaitable<void> ScriptedPeer::serve(tcp::socket socket, int connection) {
  socket.set_option(tcp::no_delay(true));
  if (tls_) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(use_awaitable));
    if (!ec) co_await serve_on(stream, connection);
    boost::system::error_code ignored;
    stream.next_layer().close(ignored);
  } else {
    co_await serve_on(socket, connection);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  --open_;
}

template <class Stream>
asio::awaitable<void> ScriptedPeer::serve_on(Stream& socket, int connection) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    auto [read_error, read] =
        co_await http::async_read(socket, buffer, parser, asio::as_tuple(use_awaitable));
    if (read_error) break;
    const auto& message = parser.get();
    PeerRequest request{std::string(message.method_string()), std::string(message.target()),
                        message.body(), std::string(message["X-Marker"]), connection};
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    const PeerReply reply = script_(request);
    // Taken before anything is written: a signal the test sends once it saw the answer counts.
    const int signal_seen = signal_generation_.load();
    if (reply.hold) {
      const int generation = release_generation_.load();
      ++held_;
      co_await wait_for(release_generation_, generation);
      --held_;
    }
    bool failed = false;
    for (const std::string& piece : reply.pieces) {
      auto [ec, n] =
          co_await asio::async_write(socket, asio::buffer(piece), asio::as_tuple(use_awaitable));
      if (ec) failed = true;
      if (failed) break;
    }
    if (!failed && !reply.after_signal.empty()) {
      co_await wait_for(signal_generation_, signal_seen);
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(reply.after_signal),
                                                asio::as_tuple(use_awaitable));
      failed = static_cast<bool>(ec);
      ++signalled_writes_;
    }
    if (failed || reply.close) break;
  }
}

}  // namespace tollgate::test
