// An HTTP/1.1 peer on 127.0.0.1 (port chosen by the kernel), on an io_context of its own thread. It
// reads each request with Beast (the gateway's requests are well formed) and writes whatever raw
// bytes its script returns, as separate writes with TCP_NODELAY: interim 1xx heads split across
// writes, bodies a well-behaved server would never send, bytes after a complete response, a close
// or a reset at any point. It plays the upstream or the identity provider a gateway must not be
// confused by, and counts what it saw.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/fields.hpp>

namespace tollgate::test {

struct PeerRequest {
  std::string method;
  std::string target;
  std::string body;
  std::string marker;  // the X-Marker header, empty when absent
  boost::beast::http::fields headers;
  int connection = 0;  // 1 for the first connection the peer accepted, and so on
};

// What the peer does with one request. Steps run in this order: `hold`, `pieces`, `ending`, and
// on a connection kept open `late` waits for flush_late().
struct PeerReply {
  enum class Ending { keep_open, close, reset };
  bool hold = false;                // wait until release_held() before answering
  std::vector<std::string> pieces;  // written one after the other, one write each
  Ending ending = Ending::keep_open;
  // Bytes nobody asked for, written by the next flush_late() unless the gateway sent its next
  // request on the connection before that: then they would be that request's answer to any client.
  std::string late;
};

// A small complete response whose body is `body`.
std::string peer_response(const std::string& body, int status = 200,
                          const std::string& extra_headers = "");

class ScriptedPeer {
 public:
  // Called on the peer's thread for every request, in the order requests arrive.
  using Script = std::function<PeerReply(const PeerRequest&)>;

  // With `cert_file` and `key_file` (PEM) it speaks TLS.
  explicit ScriptedPeer(Script script, const std::string& cert_file = "",
                        const std::string& key_file = "");
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }

  // Connections accepted and not yet closed by either side.
  int open_connections() const { return open_.load(); }
  int max_concurrent_connections() const { return max_open_.load(); }
  int held() const { return held_.load(); }
  std::vector<PeerRequest> requests() const;

  void release_held();  // answers every request held so far
  // Writes the late bytes held for idle connections and waits until the gateway's side has them
  // (acknowledged). Call it only while no request is in flight: then no connection can be between
  // the gateway's check for stray bytes and its next request. Returns false on timeout.
  bool flush_late();
  // Waits until every reply not held is written and the gateway's side has acknowledged every
  // byte sent: bytes written after an answer are then where the gateway's reuse check sees them,
  // however the peer's thread was scheduled. Returns false on timeout.
  bool settle();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, int connection);
  template <class Stream>
  boost::asio::awaitable<void> serve_on(Stream& stream, int connection);
  boost::asio::awaitable<void> wait_for_release(int seen);
  // Runs `step` on the peer's thread, then waits there until the sockets it names have no
  // unacknowledged bytes.
  bool acknowledged_after(std::function<std::vector<int>()> step);

  struct Late {
    std::function<bool(const std::string&)> write;  // synchronous, on the peer's thread
    int native_handle;
    std::string bytes;
  };

  Script script_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  // Before io_: the connections' coroutine frames, destroyed with io_, still count themselves out.
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  std::map<int, Late> late_;     // by connection; used on the peer's thread only
  std::map<int, int> handles_;   // open sockets by connection; used on the peer's thread only
  std::atomic<int> writing_{0};  // replies released and not yet fully written
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> held_{0};
  std::atomic<int> release_generation_{0};
  std::vector<boost::asio::steady_timer*> sleepers_;  // io thread only
  mutable std::mutex mutex_;
  std::vector<PeerRequest> requests_;
  std::thread thread_;
};

}  // namespace tollgate::test
