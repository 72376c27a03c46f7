// A small synchronous HTTP/1.1 client for integration tests: well-formed requests through Beast,
// and raw bytes for the malformed ones a gateway must refuse.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace tollgate::test {

using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Request = boost::beast::http::request<boost::beast::http::string_body>;

// One keep-alive connection to 127.0.0.1:port (plain TCP).
class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpConnection();

  // Sends `request` (Host and Content-Length filled when missing) and reads one response.
  Response send(Request request);
  Response get(const std::string& target, const std::map<std::string, std::string>& headers = {});
  // Sends raw bytes as they are.
  void send_raw(const std::string& bytes);
  // Reads one response; throws on timeout or close. `head` = the request was HEAD (no body
  // follows).
  Response read_response(bool head = false);
  // True when the peer closed the connection (reads EOF within the timeout).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
};

// One request on a fresh connection.
Response http_get(std::uint16_t port, const std::string& target,
                  const std::map<std::string, std::string>& headers = {});

// A POST with `body` on a fresh connection.
Response http_post(std::uint16_t port, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers = {});

// Sends raw bytes on a fresh connection and returns everything read until the peer closes or the
// timeout passes (for framing tests that must see the connection closed).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Parses the status code from the start of a raw response ("HTTP/1.1 400 ..."), or 0.
int status_of(const std::string& raw_response);

// A port on 127.0.0.1 that refuses connections for as long as this object lives: its socket is
// bound and never listens. Holding the bind matters: a port that was merely free a moment ago can
// be taken meanwhile by another test's server, or become the source port of an outgoing connection,
// and then the "dead" upstream answers.
class RefusingPort {
 public:
  RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  std::uint16_t number() const { return socket_.local_endpoint().port(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};
};

}  // namespace tollgate::test
