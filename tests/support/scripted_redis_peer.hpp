// A Redis peer on 127.0.0.1 (port chosen by the kernel), on an io_context of its own thread. It
// parses each command it receives with hiredis and writes whatever raw bytes its script returns,
// one write per piece with TCP_NODELAY: replies split anywhere, of the wrong type, garbage,
// replies nobody asked for, a close or a reset, or nothing at all. It plays the Redis a gateway
// must not be confused by.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace tollgate::test {

struct RedisPeerReply {
  // stall: the connection stays open and nothing more is answered on it. (A peer that skips one
  // reply and answers the next is a lying Redis, which no client can tell from an honest one.)
  enum class Ending { keep_open, close, reset, stall };
  std::vector<std::string> pieces;  // written one after the other
  Ending ending = Ending::keep_open;
};

// "$5\r\nvalue\r\n": a bulk string reply.
std::string resp_bulk(const std::string& text);

class ScriptedRedisPeer {
 public:
  // Called on the peer's thread for every command (its arguments), in arrival order.
  using Script = std::function<RedisPeerReply(const std::vector<std::string>& command)>;

  explicit ScriptedRedisPeer(Script script);
  ~ScriptedRedisPeer();
  ScriptedRedisPeer(const ScriptedRedisPeer&) = delete;
  ScriptedRedisPeer& operator=(const ScriptedRedisPeer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections_accepted() const { return accepted_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  Script script_;
  std::atomic<int> accepted_{0};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace tollgate::test
