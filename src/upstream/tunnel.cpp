#include "tollgate/upstream/tunnel.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "tollgate/upstream/forwarder.hpp"

namespace tollgate::upstream {

Tunnel::Tunnel(http_io::Stream& client, beast::flat_buffer& client_buffer,
               http_io::Stream& upstream, beast::flat_buffer& upstream_buffer,
               config::Duration idle) noexcept
    : up_{client, client_buffer, upstream}, down_{upstream, upstream_buffer, client}, idle_(idle) {}

awaitable<void> Tunnel::run() {
  using namespace asio::experimental::awaitable_operators;
  refresh();
  co_await (relay(up_) && relay(down_));
}

void Tunnel::close_by(Clock::time_point deadline) {
  close_by_ = std::min(close_by_, deadline);
  apply_deadline();
}

void Tunnel::refresh() {
  idle_deadline_ = Clock::now() + idle_;
  apply_deadline();
}

// One deadline for both sides: bytes moving either way keep both open (a feed the server pushes
// to a silent client is not idle), and the deadline passing ends whatever either side waits for.
void Tunnel::apply_deadline() {
  const auto deadline = std::min(idle_deadline_, close_by_);
  up_.from.expires_at(deadline);
  down_.from.expires_at(deadline);
}

void Tunnel::stop() {
  close_by(Clock::now());
}

void Tunnel::pass_on_close(http_io::Stream& to) {
  if (to.is_tls()) {
    // TLS has no half-close that every peer reads as one: a closed side ends the tunnel.
    stop();
    return;
  }
  error_code ec;
  to.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) stop();
}

awaitable<void> Tunnel::relay(Direction& d) {
  error_code ec;
  if (const std::size_t left = d.leftover.size(); left > 0) {
    co_await asio::async_write(d.to, d.leftover.data(),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return stop();
    d.leftover.consume(left);
    d.bytes += left;
    refresh();
  }
  const auto buffer = std::make_unique<RelayBuffer>();
  for (;;) {
    const std::size_t n = co_await d.from.async_read_some(
        asio::buffer(*buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) co_return pass_on_close(d.to);
    if (ec) co_return stop();
    refresh();
    co_await asio::async_write(d.to, asio::buffer(buffer->data(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return stop();
    d.bytes += n;
    refresh();
  }
}

}  // namespace tollgate::upstream
