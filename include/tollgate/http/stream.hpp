// One stream type for plain TCP and TLS, so the session, the forwarder and the IdP client are
// written once. Both alternatives are beast::tcp_stream underneath, so timeouts are set the same
// way.
#pragma once

#include <utility>
#include <variant>

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "tollgate/common/asio.hpp"

namespace tollgate::http_io {

class Stream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using tls_stream = ssl::stream<beast::tcp_stream>;

  explicit Stream(beast::tcp_stream plain) : v_(std::in_place_index<0>, std::move(plain)) {}
  Stream(beast::tcp_stream plain, ssl::context& context)
      : v_(std::in_place_index<1>, std::move(plain), context) {}

  bool is_tls() const noexcept { return v_.index() == 1; }
  tls_stream& tls() { return std::get<1>(v_); }

  beast::tcp_stream& tcp() {
    return v_.index() == 0 ? std::get<0>(v_) : beast::get_lowest_layer(std::get<1>(v_));
  }
  tcp::socket& socket() { return tcp().socket(); }
  executor_type get_executor() { return tcp().get_executor(); }

  // Re-armed before every operation: a timeout is per read/write, never per connection.
  void expires_after(std::chrono::steady_clock::duration d) { tcp().expires_after(d); }
  void expires_never() { tcp().expires_never(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (v_.index() == 0)
      return std::get<0>(v_).async_read_some(buffers, std::forward<Token>(token));
    return std::get<1>(v_).async_read_some(buffers, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (v_.index() == 0)
      return std::get<0>(v_).async_write_some(buffers, std::forward<Token>(token));
    return std::get<1>(v_).async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::variant<beast::tcp_stream, tls_stream> v_;
};

}  // namespace tollgate::http_io
