// The client side of the attribution suite: a seeded plan of client connections (HTTP/1.0 and
// 1.1, keep-alive on and off, pipelined requests, every method with and without a body), each
// request carrying its own marker, and a raw-socket client that plays one connection and reports
// what came back for each request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tollgate::test::attribution {

// The gateway's routes: /cached and /uncached are protected (the introspection answer cached, or
// asked for every request), /open is not.
enum class Route { cached, uncached, open };
enum class Method { get, head, post, patch, del };

struct ClientRequest {
  std::uint64_t marker = 0;  // path /<route>/m/<marker>, header X-Marker, body "body-<marker>"
  Method method = Method::get;
  Route route = Route::open;
  std::uint64_t token = 0;  // Authorization: Bearer tok-<token> (0: none); often == marker
  bool has_body = false;
};

struct ConnectionPlan {
  int version = 11;  // 10 or 11
  bool keep_alive = true;
  std::uint32_t depth = 1;  // requests written together before their responses are read
  std::vector<ClientRequest> requests;
};

struct ClientSchedule {
  std::vector<ConnectionPlan> connections;
  std::vector<ClientRequest> by_marker;    // index marker - 1
  std::vector<std::size_t> connection_of;  // index marker - 1
};

// `http10`: some connections speak HTTP/1.0. `head_protected`: HEAD requests go to the protected
// routes too, not only to /open (the gateway's own 401 to a HEAD carries its JSON body today, which
// a client reads as the start of the next response on the connection).
ClientSchedule client_schedule(std::uint64_t seed, std::size_t exchanges, bool http10,
                               bool head_protected);

// Whether the scripted IdP calls token tok-<token> active (about 85% are).
bool token_active(std::uint64_t seed, std::uint64_t token);
bool is_protected(Route route);
bool side_effecting(Method method);
const char* method_name(Method method);
const char* route_path(Route route);
std::string describe(const ConnectionPlan& connection, const ClientRequest& request);

// What the client read where the response to one request belongs.
struct Seen {
  enum class Kind { response, closed, garbled, timed_out };
  Kind kind = Kind::closed;
  int status = 0;
  bool interim = false;  // an interim 1xx came first
  bool chunked = false;
  bool keep_alive = false;  // the response lets the connection carry another one
  std::string marker;       // the X-Marker header, empty when absent
  std::string body;
  std::string detail;  // what was unparseable, for garbled
};

// Plays `connection` against 127.0.0.1:port; one Seen per request, in order. Every wait is
// bounded by `timeout`.
std::vector<Seen> play(std::uint16_t port, const ConnectionPlan& connection,
                       std::chrono::milliseconds timeout);

}  // namespace tollgate::test::attribution
