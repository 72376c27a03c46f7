// An HTTP/1.1 peer on 127.0.0.1 (port chosen by the kernel) that answers each request with exactly
// the bytes its script gives: interim 1xx heads split across writes, bodies a well-behaved server
// would never send, bytes after a complete response, a close without an answer. It plays the
// upstream or the identity provider a gateway must not be confused by, and counts what it saw.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tollgate::test {

struct PeerRequest {
  std::string method;
  std::string target;
  std::string body;
  std::string marker;  // the X-Marker header, empty when absent
  int connection = 0;  // 1 for the first connection the peer accepted, and so on
};

// What the peer does with one request. Steps run in this order: `hold`, `pieces`, `after_signal`,
// `close`.
struct PeerReply {
  bool hold = false;                // wait until release_held() before answering
  std::vector<std::string> pieces;  // written one after the other, one write each
  std::string after_signal;         // written once signal() is called (bytes nobody asked for)
  bool close = false;               // close the connection after the pieces
};

// A small complete response whose body is `body`.
std::string peer_response(const std::string& body, int status = 200,
                          const std::string& extra_headers = "");

class ScriptedPeer {
 public:
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

  int connections_accepted() const { return accepted_.load(); }
  int max_concurrent_connections() const { return max_open_.load(); }
  int held() const { return held_.load(); }
  int signalled_writes() const { return signalled_writes_.load(); }
  std::vector<PeerRequest> requests() const;
  // How many requests carried `marker`.
  int count_marker(const std::string& marker) const;

  void release_held();  // answers every request held so far
  void signal();        // writes every pending after_signal

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, int connection);
  template <class Stream>
  boost::asio::awaitable<void> serve_on(Stream& stream, int connection);
  boost::asio::awaitable<void> wait_for(std::atomic<int>& generation, int seen);

  Script script_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  std::atomic<int> held_{0};
  std::atomic<int> signalled_writes_{0};
  std::atomic<int> release_generation_{0};
  std::atomic<int> signal_generation_{0};
  std::vector<boost::asio::steady_timer*> sleepers_;  // io thread only
  mutable std::mutex mutex_;
  std::vector<PeerRequest> requests_;
  std::thread thread_;
};

}  // namespace tollgate::test
