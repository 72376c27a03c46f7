#include "scripted_peer.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "process.hpp"

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

void ScriptedPeer::release_held() {
  ++release_generation_;
  asio::post(io_, [this] {
    for (auto* timer : sleepers_) timer->cancel();
  });
}

asio::awaitable<void> ScriptedPeer::wait_for_release(int seen) {
  asio::steady_timer timer(io_, std::chrono::steady_clock::time_point::max());
  sleepers_.push_back(&timer);
  while (release_generation_.load() == seen) {
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
    timer.expires_at(std::chrono::steady_clock::time_point::max());
  }
  sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), &timer));
}

bool ScriptedPeer::acknowledged_after(std::function<std::vector<int>()> step) {
  // Shared: the handler may outlive a caller that gave up waiting.
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  // On the peer's thread, which holds every socket open meanwhile.
  asio::post(io_, [step = std::move(step), done] {
    const std::vector<int> handles = step();
    // Acknowledged means in the gateway's receive queue: its next check of the connection sees
    // them. Loopback acknowledges within microseconds; the bound is for a machine under load.
    done->set_value(poll_until(
        [&] {
          for (int handle : handles) {
            int unacknowledged = 0;
            if (::ioctl(handle, SIOCOUTQ, &unacknowledged) == 0 && unacknowledged > 0) {
              return false;
            }
          }
          return true;
        },
        std::chrono::seconds(5)));
  });
  return result.wait_for(std::chrono::seconds(10)) == std::future_status::ready && result.get();
}

bool ScriptedPeer::flush_late() {
  return acknowledged_after([this] {
    std::vector<int> written;
    for (auto& [connection, late] : late_) {
      // A few hundred bytes into an idle connection's empty buffer: written at once.
      if (late.write(late.bytes)) written.push_back(late.native_handle);
    }
    late_.clear();
    return written;
  });
}

bool ScriptedPeer::settle() {
  if (!poll_until([&] { return writing_.load() == 0; }, std::chrono::seconds(5))) return false;
  return acknowledged_after([this] {
    std::vector<int> open;
    for (const auto& [connection, handle] : handles_) open.push_back(handle);
    return open;
  });
}

asio::awaitable<void> ScriptedPeer::accept_loop() {
  for (int connection = 1;; ++connection) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(use_awaitable));
    if (ec) co_return;
    const int open = ++open_;
    int seen = max_open_.load();
    while (open > seen && !max_open_.compare_exchange_weak(seen, open)) {
    }
    asio::co_spawn(io_, serve(std::move(socket), connection), asio::detached);
  }
}

asio::awaitable<void> ScriptedPeer::serve(tcp::socket socket, int connection) {
  // Counted closed, and its late bytes forgotten, however the coroutine ends (including when the
  // io_context is destroyed).
  struct Closed {
    std::atomic<int>& open;
    std::map<int, Late>& late;
    std::map<int, int>& handles;
    int connection;
    ~Closed() {
      late.erase(connection);
      handles.erase(connection);
      --open;
    }
  } closed{open_, late_, handles_, connection};
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  handles_[connection] = socket.native_handle();
  if (tls_) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(use_awaitable));
    if (!ec) co_await serve_on(stream, connection);
    stream.next_layer().close(ignored);
  } else {
    co_await serve_on(socket, connection);
    socket.close(ignored);
  }
}

template <class Stream>
asio::awaitable<void> ScriptedPeer::serve_on(Stream& stream, int connection) {
  tcp::socket& socket = boost::beast::get_lowest_layer(stream);
  boost::system::error_code ignored;
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    auto [read_error, read] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
    if (read_error) break;
    // The gateway sent its next request before the late bytes went out: they are dropped (they
    // would be this request's answer to any client).
    late_.erase(connection);
    auto message = parser.release();
    PeerRequest request{std::string(message.method_string()),
                        std::string(message.target()),
                        std::move(message.body()),
                        std::string(message["X-Marker"]),
                        std::move(static_cast<http::fields&>(message)),
                        connection};
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    PeerReply reply = script_(request);
    if (reply.hold) {
      const int generation = release_generation_.load();
      ++held_;
      co_await wait_for_release(generation);
      --held_;
    }
    // Counted until every step below is done, however the loop leaves.
    struct Writing {
      std::atomic<int>& count;
      explicit Writing(std::atomic<int>& c) : count(c) { ++count; }
      ~Writing() { --count; }
    } writing{writing_};
    bool failed = false;
    for (const std::string& piece : reply.pieces) {
      auto [ec, n] =
          co_await asio::async_write(stream, asio::buffer(piece), asio::as_tuple(use_awaitable));
      if (ec) {
        failed = true;
        break;
      }
    }
    if (failed) break;
    if (reply.ending == PeerReply::Ending::reset) {
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
      socket.close(ignored);
      break;
    }
    if (reply.ending == PeerReply::Ending::close) {
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      break;
    }
    if (!reply.late.empty()) {
      late_.insert_or_assign(connection, Late{[&stream](const std::string& bytes) {
                                                boost::system::error_code ec;
                                                asio::write(stream, asio::buffer(bytes), ec);
                                                return !ec;
                                              },
                                              socket.native_handle(), std::move(reply.late)});
    }
  }
}

}  // namespace tollgate::test
