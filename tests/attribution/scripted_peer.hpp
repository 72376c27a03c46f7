// A scripted HTTP/1.1 server on 127.0.0.1 (a port it chose), on an io_context of its own thread.
// It reads each request with Beast (the gateway's requests are well formed) and writes whatever
// raw bytes its responder returns, as separate writes with TCP_NODELAY, then keeps the connection,
// closes it, or resets it: the point is to misbehave in ways Beast's serializer never would.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "schedule.hpp"

namespace tollgate::test::attribution {

using PeerRequest = boost::beast::http::request<boost::beast::http::string_body>;

class ScriptedPeer {
 public:
  // Called on the peer's thread for every request, in the order requests arrive.
  using Responder = std::function<Reply(const PeerRequest&)>;

  explicit ScriptedPeer(Responder responder);
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  std::uint16_t port() const { return port_; }
  // Writes the late bytes held for idle connections and waits until the gateway's side has them
  // (acknowledged). Call it only while no request is in flight: then no connection can be between
  // the gateway's check for stray bytes and its next request. Returns false on timeout.
  bool flush_late();
  // Connections accepted and not yet closed by either side.
  int open_connections() const { return open_.load(); }
  int accepted_connections() const { return accepted_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::uint64_t id);

  struct Late {
    boost::asio::ip::tcp::socket* socket;
    std::string bytes;
  };

  Responder responder_;
  // Before io_: the connections' coroutine frames, destroyed with io_, still count themselves out.
  std::atomic<int> open_{0};
  std::atomic<int> accepted_{0};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::map<std::uint64_t, Late> late_;  // by connection; used on the peer's thread only
  std::thread thread_;
};

}  // namespace tollgate::test::attribution
