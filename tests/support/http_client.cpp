#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <stdexcept>

namespace tollgate::test {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Runs one asynchronous operation on `io` for at most `timeout`. Synchronous socket calls cannot be
// bounded (Asio retries a read that SO_RCVTIMEO interrupted), so every wait here is asynchronous.
// Returns the operation's error, or asio::error::timed_out after cancelling it.
template <class Start>
error_code run_for(asio::io_context& io, tcp::socket& socket, std::chrono::milliseconds timeout,
                   Start start) {
  bool done = false;
  error_code result;
  start([&](error_code ec, std::size_t = 0) {
    done = true;
    result = ec;
  });
  io.restart();
  io.run_for(timeout);
  if (!done) {
    error_code ignored;
    socket.cancel(ignored);
    io.restart();
    io.run();
    return asio::error::timed_out;
  }
  return result;
}

void throw_if(error_code ec, const char* what) {
  if (ec) throw std::runtime_error(std::string(what) + ": " + ec.message());
}

}  // namespace

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : socket_(io_), port_(port), timeout_(timeout) {
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_.set_option(tcp::no_delay(true));
}

HttpConnection::~HttpConnection() {
  error_code ec;
  socket_.close(ec);
}

Response HttpConnection::send(Request request) {
  if (request.find(http::field::host) == request.end()) {
    request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  }
  if (request.version() == 0) request.version(11);
  request.prepare_payload();
  throw_if(run_for(io_, socket_, timeout_,
                   [&](auto handler) { http::async_write(socket_, request, handler); }),
           "write");
  return read_response(request.method() == http::verb::head);
}

Response HttpConnection::get(const std::string& target,
                             const std::map<std::string, std::string>& headers) {
  Request req{http::verb::get, target, 11};
  for (const auto& [k, v] : headers) req.set(k, v);
  return send(std::move(req));
}

void HttpConnection::send_raw(const std::string& bytes) {
  throw_if(run_for(io_, socket_, timeout_,
                   [&](auto handler) { asio::async_write(socket_, asio::buffer(bytes), handler); }),
           "write");
}

Response HttpConnection::read_response(bool head) {
  http::response_parser<http::string_body> parser;
  parser.skip(head);
  parser.body_limit(64 * 1024 * 1024);
  parser.header_limit(1024 * 1024);
  throw_if(run_for(io_, socket_, timeout_,
                   [&](auto handler) { http::async_read(socket_, buffer_, parser, handler); }),
           "read response");
  return parser.release();
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  if (buffer_.size() > 0) return false;
  char c;
  const error_code ec = run_for(io_, socket_, timeout, [&](auto handler) {
    socket_.async_read_some(asio::buffer(&c, 1), handler);
  });
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

Response http_get(std::uint16_t port, const std::string& target,
                  const std::map<std::string, std::string>& headers) {
  HttpConnection c(port);
  return c.get(target, headers);
}

Response http_post(std::uint16_t port, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers) {
  HttpConnection c(port);
  Request request{boost::beast::http::verb::post, target, 11};
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  return c.send(std::move(request));
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  // The peer may answer and close before taking every byte: a failed write is not an error here.
  run_for(io, s, left(), [&](auto handler) { asio::async_write(s, asio::buffer(bytes), handler); });
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t n = 0;
    const error_code ec = run_for(io, s, left(), [&](auto handler) {
      s.async_read_some(asio::buffer(buf), [&n, handler](error_code e, std::size_t got) mutable {
        n = got;
        handler(e, got);
      });
    });
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

int status_of(const std::string& raw) {
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

RefusingPort::RefusingPort() {
  // Without SO_REUSEADDR, which the servers' acceptors set: no other socket can bind the number.
  socket_.open(tcp::v4());
  socket_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
}

}  // namespace tollgate::test
