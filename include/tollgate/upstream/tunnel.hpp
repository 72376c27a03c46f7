// Bytes both ways between a client and an upstream that switched protocols (a WebSocket after its
// 101), with nothing parsed. Each direction relays through one fixed buffer and reads again only
// once the last piece is written: a side that reads slowly holds the other back through TCP's own
// flow control, and a tunnel costs two buffers whatever goes through it.
#pragma once

#include <chrono>
#include <cstdint>

#include "tollgate/common/asio.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/http/stream.hpp"

namespace tollgate::upstream {

class Tunnel {
 public:
  using Clock = std::chrono::steady_clock;

  // `client_buffer` and `upstream_buffer` hold what each side sent after its handshake head,
  // read with it: those bytes go through first.
  Tunnel(http_io::Stream& client, beast::flat_buffer& client_buffer, http_io::Stream& upstream,
         beast::flat_buffer& upstream_buffer, config::Duration idle) noexcept;
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Returns once both sides have closed (a side's close is passed on as a half-close when both
  // are plain TCP; a TLS side's close ends the tunnel), either side failed, no byte moved either
  // way for `idle`, or the deadline close_by() set passed. The caller then closes both sides.
  awaitable<void> run();

  // Ends the tunnel by `deadline` at the latest (the worker drains).
  void close_by(Clock::time_point deadline);

  std::uint64_t bytes_up() const noexcept { return up_.bytes; }      // client → upstream
  std::uint64_t bytes_down() const noexcept { return down_.bytes; }  // upstream → client

 private:
  struct Direction {
    http_io::Stream& from;
    beast::flat_buffer& leftover;
    http_io::Stream& to;
    std::uint64_t bytes = 0;
  };

  awaitable<void> relay(Direction& d);
  void refresh();                           // a byte moved: the idle deadline starts again
  void apply_deadline();                    // both sides wait until the nearer deadline
  void pass_on_close(http_io::Stream& to);  // `from` closed cleanly
  void stop();                              // a side failed: both sides' waits end now

  Direction up_;
  Direction down_;
  config::Duration idle_;
  Clock::time_point idle_deadline_{};
  Clock::time_point close_by_ = Clock::time_point::max();
};

}  // namespace tollgate::upstream
