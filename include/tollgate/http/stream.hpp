// One stream type for plain TCP and TLS, so the session, the forwarder and the IdP client are
// written once. Both alternatives are a TimedSocket underneath, so timeouts are set the same way.
#pragma once

#include <memory>
#include <utility>
#include <variant>

#include <boost/asio/ssl/stream.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/http/timed_socket.hpp"

namespace tollgate::http_io {

class Stream {
 public:
  using executor_type = TimedSocket::executor_type;
  using tls_stream = ssl::stream<TimedSocket>;

  explicit Stream(asio::ip::tcp::socket socket) : v_(std::in_place_index<0>, std::move(socket)) {}
  Stream(asio::ip::tcp::socket socket, ssl::context& context)
      : v_(std::in_place_index<1>, std::make_unique<tls_stream>(std::move(socket), context)) {}
  explicit Stream(TimedSocket plain) : v_(std::in_place_index<0>, std::move(plain)) {}
  Stream(TimedSocket plain, ssl::context& context)
      : v_(std::in_place_index<1>, std::make_unique<tls_stream>(std::move(plain), context)) {}

  bool is_tls() const noexcept { return v_.index() == 1; }
  // On the heap: its engine, buffers and timers would otherwise make every plain stream as large.
  tls_stream& tls() { return *std::get<1>(v_); }

  TimedSocket& tcp() { return v_.index() == 0 ? std::get<0>(v_) : tls().next_layer(); }
  asio::ip::tcp::socket& socket() { return tcp().socket(); }
  executor_type get_executor() { return tcp().get_executor(); }

  // Set before every operation: a timeout is per read/write, never per connection.
  void expires_after(std::chrono::steady_clock::duration d) { tcp().expires_after(d); }
  void expires_at(std::chrono::steady_clock::time_point t) { tcp().expires_at(t); }
  void expires_never() { tcp().expires_never(); }
  bool expired() { return tcp().expired(); }

  // True when the TLS layer already holds received bytes (decrypted or not) that a read would
  // return without the socket becoming readable again; always false for plain TCP.
  bool tls_input_buffered() {
    if (!is_tls()) return false;
    SSL* ssl = tls().native_handle();
    return SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (v_.index() == 0)
      return std::get<0>(v_).async_read_some(buffers, std::forward<Token>(token));
    return tls().async_read_some(buffers, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (v_.index() == 0)
      return std::get<0>(v_).async_write_some(buffers, std::forward<Token>(token));
    return tls().async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::variant<TimedSocket, std::unique_ptr<tls_stream>> v_;
};

}  // namespace tollgate::http_io
