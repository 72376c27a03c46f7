#include "scripted_peer.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "process.hpp"

namespace tollgate::test::attribution {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

ScriptedPeer::ScriptedPeer(Responder responder)
    : responder_(std::move(responder)),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

ScriptedPeer::~ScriptedPeer() {
  io_.stop();
  thread_.join();
}

asio::awaitable<void> ScriptedPeer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const auto id = static_cast<std::uint64_t>(++accepted_);
    ++open_;
    asio::co_spawn(io_, serve(std::move(socket), id), asio::detached);
  }
}

bool ScriptedPeer::flush_late() {
  // Shared: the handler may outlive a caller that gave up waiting.
  auto flushed = std::make_shared<std::promise<bool>>();
  auto result = flushed->get_future();
  // On the peer's thread, which holds every socket open meanwhile.
  asio::post(io_, [this, flushed] {
    std::vector<tcp::socket*> written;
    for (auto& [id, late] : late_) {
      boost::system::error_code ec;
      // A few hundred bytes into an idle connection's empty buffer: written at once.
      asio::write(*late.socket, asio::buffer(late.bytes), ec);
      if (!ec) written.push_back(late.socket);
    }
    late_.clear();
    // Acknowledged means in the gateway's receive queue: its next check of the connection sees
    // them. Loopback acknowledges within microseconds; the bound is for a machine under load.
    flushed->set_value(poll_until(
        [&] {
          for (tcp::socket* socket : written) {
            int unacknowledged = 0;
            if (::ioctl(socket->native_handle(), SIOCOUTQ, &unacknowledged) == 0 &&
                unacknowledged > 0) {
              return false;
            }
          }
          return true;
        },
        std::chrono::seconds(5)));
  });
  return result.wait_for(std::chrono::seconds(10)) == std::future_status::ready && result.get();
}

asio::awaitable<void> ScriptedPeer::serve(tcp::socket socket, std::uint64_t id) {
  // Counted closed, and its late bytes forgotten, however the coroutine ends (including when the
  // io_context is destroyed).
  struct Closed {
    std::atomic<int>& open;
    std::map<std::uint64_t, Late>& late;
    std::uint64_t id;
    ~Closed() {
      late.erase(id);
      --open;
    }
  } closed{open_, late_, id};
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    auto [read_error, read] =
        co_await http::async_read(socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (read_error) break;
    // The gateway sent its next request before the late bytes went out: they are dropped (they
    // would be this request's answer to any client).
    late_.erase(id);
    Reply reply = responder_(parser.get());
    bool failed = false;
    for (const std::string& piece : reply.writes) {
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(piece),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        failed = true;
        break;
      }
    }
    if (failed) break;
    if (reply.ending == Reply::Ending::reset) {
      socket.set_option(asio::socket_base::linger(true, 0), ignored);
      socket.close(ignored);
      break;
    }
    if (reply.ending == Reply::Ending::close) {
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      break;
    }
    if (!reply.late.empty()) late_.insert_or_assign(id, Late{&socket, std::move(reply.late)});
  }
  socket.close(ignored);
}

}  // namespace tollgate::test::attribution
