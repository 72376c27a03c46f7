#include "scripted_peer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

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

void ScriptedPeer::flush_late(std::uint64_t id) {
  // The gateway sent its next request on the connection before the late bytes: they are dropped.
  late_.erase(id);
  for (auto& [other, late] : late_) {
    boost::system::error_code ec;
    if (late.socket->available(ec) == 0 && !ec) {
      // A few hundred bytes into an empty socket buffer: written at once, by this one thread.
      asio::write(*late.socket, asio::buffer(late.bytes), ec);
    }
  }
  late_.clear();
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
    flush_late(id);
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
