// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel), on its own thread, answering
// each request with whatever the test's handler says and recording what it received.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace tollgate::oidc::testing {

namespace canned {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
}  // namespace canned

struct CannedResponse {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close_after = false;       // close right after answering, although keep-alive was agreed
  bool close_unanswered = false;  // close on receiving the request, without a byte of answer
  bool never_answer = false;      // keep the connection open and silent
};

class CannedHttpServer {
 public:
  using Request = canned::http::request<canned::http::string_body>;
  using Handler = std::function<CannedResponse(const Request&)>;

  explicit CannedHttpServer(Handler handler,
                            std::shared_ptr<canned::asio::ssl::context> tls = nullptr)
      : acceptor_(io_, {canned::asio::ip::make_address("127.0.0.1"), 0}),
        handler_(std::move(handler)),
        tls_(std::move(tls)) {
    port_ = acceptor_.local_endpoint().port();
    canned::asio::co_spawn(io_, accept_loop(), canned::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CannedHttpServer() {
    io_.stop();
    thread_.join();
  }
  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  unsigned short port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  std::vector<std::string> server_names() const {
    std::lock_guard lock(mutex_);
    return server_names_;
  }

 private:
  canned::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(canned::asio::as_tuple(canned::asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      if (tls_) {
        canned::asio::co_spawn(io_, serve_tls(std::move(socket)), canned::asio::detached);
      } else {
        canned::asio::co_spawn(io_, serve_plain(std::move(socket)), canned::asio::detached);
      }
    }
  }

  canned::asio::awaitable<void> serve_tls(canned::tcp::socket socket) {
    canned::asio::ssl::stream<canned::tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] =
        co_await stream.async_handshake(canned::asio::ssl::stream_base::server,
                                        canned::asio::as_tuple(canned::asio::use_awaitable));
    if (ec) co_return;
    const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    {
      std::lock_guard lock(mutex_);
      server_names_.emplace_back(name != nullptr ? name : "");
    }
    co_await serve_on(stream);
  }

  canned::asio::awaitable<void> serve_plain(canned::tcp::socket socket) {
    co_await serve_on(socket);
  }

  template <class Stream>
  canned::asio::awaitable<void> serve_on(Stream& socket) {
    namespace http = canned::http;
    canned::beast::flat_buffer buffer;
    for (;;) {
      Request request;
      auto [read_error, read] = co_await http::async_read(
          socket, buffer, request, canned::asio::as_tuple(canned::asio::use_awaitable));
      if (read_error) co_return;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const CannedResponse canned_response = handler_(request);
      if (canned_response.never_answer) continue;  // the next read ends when the client gives up
      if (canned_response.close_unanswered) co_return;

      http::response<http::string_body> response{static_cast<http::status>(canned_response.status),
                                                 11};
      for (const auto& [name, value] : canned_response.headers) response.set(name, value);
      response.body() = canned_response.body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [write_error, written] = co_await http::async_write(
          socket, response, canned::asio::as_tuple(canned::asio::use_awaitable));
      if (write_error || canned_response.close_after || !request.keep_alive()) co_return;
    }
  }

  canned::asio::io_context io_;
  canned::tcp::acceptor acceptor_;
  Handler handler_;
  std::shared_ptr<canned::asio::ssl::context> tls_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::vector<std::string> server_names_;
};

}  // namespace tollgate::oidc::testing
