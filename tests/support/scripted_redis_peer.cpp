#include "scripted_redis_peer.hpp"

#include <array>

#include <hiredis/hiredis.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tollgate::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string resp_bulk(const std::string& text) {
  return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
}

ScriptedRedisPeer::ScriptedRedisPeer(Script script)
    : script_(std::move(script)),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

ScriptedRedisPeer::~ScriptedRedisPeer() {
  io_.stop();
  thread_.join();
}

asio::awaitable<void> ScriptedRedisPeer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    ++accepted_;
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> ScriptedRedisPeer::serve(tcp::socket socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  std::array<char, 4096> buffer;
  bool stalled = false;
  for (;;) {
    auto [ec, n] =
        co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (stalled) continue;
    redisReaderFeed(reader.get(), buffer.data(), n);
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) co_return;
      if (raw == nullptr) break;
      const auto* request = static_cast<const redisReply*>(raw);
      std::vector<std::string> command;
      for (std::size_t i = 0; request->type == REDIS_REPLY_ARRAY && i < request->elements; ++i) {
        command.emplace_back(request->element[i]->str, request->element[i]->len);
      }
      freeReplyObject(raw);
      const RedisPeerReply reply = script_(command);
      for (const std::string& piece : reply.pieces) {
        auto [write_error, written] = co_await asio::async_write(
            socket, asio::buffer(piece), asio::as_tuple(asio::use_awaitable));
        if (write_error) co_return;
      }
      if (reply.ending == RedisPeerReply::Ending::close) {
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        co_return;
      }
      if (reply.ending == RedisPeerReply::Ending::stall) {
        stalled = true;
        break;
      }
      if (reply.ending == RedisPeerReply::Ending::reset) {
        socket.set_option(asio::socket_base::linger(true, 0), ignored);
        socket.close(ignored);
        co_return;
      }
    }
  }
}

}  // namespace tollgate::test
