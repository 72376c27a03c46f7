#include "traffic.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "schedule.hpp"

namespace tollgate::test::attribution {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

Method draw_method(Rng& rng) {
  const std::uint32_t n = rng.below(100);
  return n < 40   ? Method::get
         : n < 55 ? Method::head
         : n < 75 ? Method::post
         : n < 85 ? Method::patch
                  : Method::del;
}

std::string request_wire(const ConnectionPlan& connection, const ClientRequest& request,
                         bool last) {
  const std::string marker = std::to_string(request.marker);
  std::string wire = std::string(method_name(request.method)) + " " + route_path(request.route) +
                     "/m/" + marker +
                     (connection.version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  wire += "Host: attribution.test\r\nX-Marker: " + marker + "\r\n";
  if (request.token != 0)
    wire += "Authorization: Bearer tok-" + std::to_string(request.token) + "\r\n";
  if (connection.version == 10 && connection.keep_alive) wire += "Connection: keep-alive\r\n";
  if (connection.version == 11 && !connection.keep_alive && last) wire += "Connection: close\r\n";
  const std::string body = request.has_body ? "body-" + marker : "";
  if (request.has_body) wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return wire + "\r\n" + body;
}

// A connected socket to 127.0.0.1:port, closed on destruction.
class Socket {
 public:
  explicit Socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect to the gateway");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool send_all(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Appends what arrives to `into`: > 0 bytes, 0 at close or reset, -1 when `deadline` passed.
  ssize_t receive(std::string& into, Clock::time_point deadline) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return -1;
      pollfd readable{fd_, POLLIN, 0};
      const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) return 0;
      if (ready <= 0) continue;
      char chunk[16 * 1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      into.append(chunk, static_cast<std::size_t>(n));
      return n;
    }
  }

 private:
  int fd_;
};

// Reads the response to one request from `buffer` and the socket, skipping interim answers.
Seen read_response(Socket& socket, std::string& buffer, bool head, Clock::time_point deadline) {
  Seen seen;
  for (;;) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    for (;;) {
      boost::system::error_code ec;
      if (!buffer.empty()) {
        const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
        buffer.erase(0, used);
        if (ec && ec != http::error::need_more) {
          seen.kind = Seen::Kind::garbled;
          seen.detail = ec.message() + " at: " + buffer.substr(0, 120);
          return seen;
        }
        if (parser.is_done()) break;
        if (used > 0 && !buffer.empty()) continue;
      }
      const ssize_t n = socket.receive(buffer, deadline);
      if (n < 0) {
        seen.kind = Seen::Kind::timed_out;
        return seen;
      }
      if (n == 0) {
        // A body delimited by the close ends here; anything else is a connection closed early.
        if (parser.is_header_done() && buffer.empty()) {
          parser.put_eof(ec);
          if (!ec && parser.is_done()) break;
        }
        seen.kind =
            buffer.empty() || parser.is_header_done() ? Seen::Kind::closed : Seen::Kind::garbled;
        if (seen.kind == Seen::Kind::garbled) seen.detail = "cut head: " + buffer.substr(0, 120);
        return seen;
      }
    }
    const auto& message = parser.get();
    if (message.result_int() >= 100 && message.result_int() < 200) {
      seen.interim = true;
      continue;
    }
    seen.kind = Seen::Kind::response;
    seen.status = message.result_int();
    seen.chunked = message.chunked();
    seen.keep_alive = message.keep_alive();
    seen.marker = std::string(message["X-Marker"]);
    seen.body = message.body();
    return seen;
  }
}

}  // namespace

bool is_protected(Route route) {
  return route != Route::open;
}

bool side_effecting(Method method) {
  return method == Method::post || method == Method::patch || method == Method::del;
}

const char* method_name(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::patch:
      return "PATCH";
    case Method::del:
      return "DELETE";
  }
  return "GET";
}

const char* route_path(Route route) {
  switch (route) {
    case Route::cached:
      return "/cached";
    case Route::uncached:
      return "/uncached";
    case Route::open:
      return "/open";
  }
  return "/open";
}

bool token_active(std::uint64_t seed, std::uint64_t token) {
  return derive(seed, 'A', token) % 100 >= 15;
}

ClientSchedule client_schedule(std::uint64_t seed, std::size_t exchanges, bool http10,
                               bool head_protected) {
  Rng rng(derive(seed, 'C', 0));
  ClientSchedule schedule;
  std::uint64_t marker = 1;
  while (marker <= exchanges) {
    ConnectionPlan connection;
    connection.version = rng.percent(20) && http10 ? 10 : 11;
    connection.keep_alive = rng.percent(75);
    const std::uint32_t count =
        connection.version == 10 && !connection.keep_alive ? 1 : 1 + rng.below(4);
    connection.depth = rng.percent(50) ? 1 : 2 + rng.below(2);
    for (std::uint32_t i = 0; i < count && marker <= exchanges; ++i, ++marker) {
      ClientRequest request;
      request.marker = marker;
      const std::uint32_t route = rng.below(100);
      request.route = route < 40 ? Route::cached : route < 70 ? Route::uncached : Route::open;
      request.method = draw_method(rng);
      if (!head_protected && request.method == Method::head) request.route = Route::open;
      const bool may_have_body = request.method == Method::post || request.method == Method::patch;
      request.has_body = rng.percent(may_have_body ? 70 : request.method == Method::del ? 10 : 0);
      // A token seen before (its introspection answer may be cached), or one of its own.
      request.token = marker;
      if (marker > 1 && rng.percent(30)) {
        request.token =
            marker - 1 -
            rng.below(static_cast<std::uint32_t>(std::min<std::uint64_t>(marker - 1, 40)));
      }
      if (!is_protected(request.route) && rng.percent(50)) request.token = 0;
      connection.requests.push_back(request);
      schedule.by_marker.push_back(request);
      schedule.connection_of.push_back(schedule.connections.size());
    }
    schedule.connections.push_back(std::move(connection));
  }
  return schedule;
}

std::string describe(const ConnectionPlan& connection, const ClientRequest& request) {
  std::string out = std::string(method_name(request.method)) + " " + route_path(request.route) +
                    "/m/" + std::to_string(request.marker) +
                    (connection.version == 10 ? " HTTP/1.0" : " HTTP/1.1");
  out += request.has_body ? " with body" : " no body";
  out += request.token != 0 ? " token tok-" + std::to_string(request.token) : " no token";
  out += " on a connection of " + std::to_string(connection.requests.size()) + " request(s), " +
         (connection.keep_alive ? "keep-alive" : "no keep-alive") + ", pipelined by " +
         std::to_string(connection.depth);
  return out;
}

std::vector<Seen> play(std::uint16_t port, const ConnectionPlan& connection,
                       std::chrono::milliseconds timeout) {
  std::vector<Seen> seen(connection.requests.size());
  Socket socket(port);
  std::string buffer;
  for (std::size_t first = 0; first < connection.requests.size(); first += connection.depth) {
    const std::size_t end = std::min(connection.requests.size(), first + connection.depth);
    std::string wire;
    for (std::size_t i = first; i < end; ++i) {
      wire += request_wire(connection, connection.requests[i], i + 1 == connection.requests.size());
    }
    if (!socket.send_all(wire)) return seen;  // the rest stay "closed"
    for (std::size_t i = first; i < end; ++i) {
      const auto deadline = Clock::now() + timeout;
      seen[i] =
          read_response(socket, buffer, connection.requests[i].method == Method::head, deadline);
      // A response that closes the connection ends it, as for any client: what follows is not read.
      if (seen[i].kind != Seen::Kind::response || !seen[i].keep_alive) return seen;
    }
  }
  return seen;
}

}  // namespace tollgate::test::attribution
