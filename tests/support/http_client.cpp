#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <stdexcept>

#include <sys/socket.h>
#include <sys/time.h>

namespace tollgate::test {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
void set_socket_timeout(tcp::socket& s, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = t.count() / 1000;
  tv.tv_usec = (t.count() % 1000) * 1000;
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
}  // namespace

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : socket_(io_), port_(port), timeout_(timeout) {
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_.set_option(tcp::no_delay(true));
  set_socket_timeout(socket_, timeout_);
}

HttpConnection::~HttpConnection() {
  boost::system::error_code ec;
  socket_.close(ec);
}

Response HttpConnection::send(Request request) {
  if (request.find(http::field::host) == request.end()) {
    request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  }
  if (request.version() == 0) request.version(11);
  request.prepare_payload();
  http::write(socket_, request);
  return read_response(request.method() == http::verb::head);
}

Response HttpConnection::get(const std::string& target,
                             const std::map<std::string, std::string>& headers) {
  Request req{http::verb::get, target, 11};
  for (const auto& [k, v] : headers) req.set(k, v);
  return send(std::move(req));
}

void HttpConnection::send_raw(const std::string& bytes) {
  asio::write(socket_, asio::buffer(bytes));
}

Response HttpConnection::read_response(bool head) {
  http::response_parser<http::string_body> parser;
  parser.skip(head);
  parser.body_limit(64 * 1024 * 1024);
  parser.header_limit(1024 * 1024);
  http::read(socket_, buffer_, parser);
  return parser.release();
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  set_socket_timeout(socket_, timeout);
  char c;
  boost::system::error_code ec;
  for (;;) {
    if (buffer_.size() > 0) return false;
    socket_.read_some(asio::buffer(&c, 1), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
    if (ec) return false;  // timeout: still open
    return false;          // data arrived: not closed
  }
}

Response http_get(std::uint16_t port, const std::string& target,
                  const std::map<std::string, std::string>& headers) {
  HttpConnection c(port);
  return c.get(target, headers);
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  set_socket_timeout(s, timeout);
  boost::system::error_code ec;
  asio::write(s, asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

int status_of(const std::string& raw) {
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace tollgate::test
