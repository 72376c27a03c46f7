#include "session.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "access_log.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/common/exact_allocator.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/stream.hpp"
#include "tollgate/http/trace_context.hpp"
#include "tollgate/http/websocket.hpp"
#include "tollgate/routing/path.hpp"
#include "tollgate/server/request_head.hpp"
#include "tollgate/upstream/forwarder.hpp"
#include "tollgate/upstream/tunnel.hpp"

namespace tollgate::server {
namespace {

using Clock = std::chrono::steady_clock;
using RequestParser = upstream::RequestParser;

constexpr std::size_t kReadChunk = 4096;
// While a body streams through, the client buffer holds what the relay has not taken yet plus at
// most one chunk-size line or trailer section. Bounding it refuses a chunk extension or trailer
// section that never ends (Beast would grow the buffer for it without limit) with 400, and keeps
// every trailer field far below Beast's 64 KiB field limit, which Beast enforces by throwing from
// inside the read, where no handler can catch it.
constexpr std::size_t kBodyPhaseBufferLimit = 32 * 1024;
constexpr std::size_t kMaxRequestIdLength = 200;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;

// The socket's readability, as a deferred operation: awaiting it takes no coroutine frame, and its
// pending operation takes no more than its own size.
auto readable(tcp::socket& socket) {
  return asio::async_initiate<const asio::as_tuple_t<asio::deferred_t>&, void(error_code)>(
      [](auto handler, tcp::socket* s) {
        s->async_wait(tcp::socket::wait_read,
                      asio::bind_allocator(ExactAllocator<void>(), std::move(handler)));
      },
      asio::as_tuple(asio::deferred), &socket);
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// {"message": ..., "request_id": ..., "error": ...}: small, and the same shape for every local
// answer.
std::string json_body(std::string_view message, std::string_view request_id,
                      std::string_view error) {
  nlohmann::json body = {{"message", message}, {"request_id", request_id}};
  if (!error.empty()) body["error"] = error;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// RFC 6455 §4.4 and RFC 9110 §15.5.22: a 426 names the version and protocol the gateway speaks.
std::vector<std::pair<std::string, std::string>> upgrade_required_headers() {
  return {{"Sec-WebSocket-Version", "13"}, {"Upgrade", "websocket"}};
}

class Session final : public SessionHandle {
 public:
  Session(Worker& worker, http_io::Stream& stream, std::string peer, asio::ip::address peer_address)
      : worker_(worker), stream_(stream), peer_(std::move(peer)), peer_address_(peer_address) {
    worker_.add_session(this);
  }
  ~Session() { worker_.remove_session(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void close_if_idle() override {
    if (tunnel_) tunnel_->close_by(worker_.drain_deadline());
    if (!idle_) return;
    error_code ignored;
    stream_.socket().cancel(ignored);
  }

  // The keep-alive loop. An idle connection holds no read buffer: it waits for readability and
  // takes the buffer once bytes are there. The idle phase runs in this frame, allocated once per
  // connection, and awaits a deferred operation that takes no coroutine frame: a frame taken there
  // would come from Asio's per-thread frame cache, often a block several times its size that the
  // request just freed, and stay taken for as long as the connection idles.
  awaitable<void> run() {
    while (!worker_.draining()) {
      std::shared_ptr<Generation> generation = worker_.generation();
      const config::GatewayConfig& config = *generation->config;
      for (;;) {
        const Available available = take_available_bytes();
        if (available == Available::request) break;
        if (available == Available::closed) co_return;
        const auto deadline = Clock::now() + config.timeouts.client_idle;
        if (!stream_.tls_input_buffered()) {
          release_buffer();
          set_idle(true);
          stream_.expires_at(deadline);
          const auto [ec] = co_await readable(stream_.socket());
          set_idle(false);
          if (!idle_wait_succeeded(ec)) co_return;
          buffer_.reserve(kReadChunk);  // bytes are there: take_available_bytes reads them
        }
        if (stream_.is_tls()) {
          // A TLS record may arrive in pieces: the read waits for the rest, within the same
          // deadline.
          set_idle(true);
          stream_.expires_at(deadline);
          error_code ec;
          const std::size_t n = co_await stream_.async_read_some(
              buffer_.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, ec));
          set_idle(false);
          if (ec) co_return;
          buffer_.commit(n);
        }
      }
      if (!co_await handle_request(*generation)) co_return;
    }
  }

 private:
  enum class Available { request, none, closed };

  // The idle flag, and the worker's count of idle connections with it.
  void set_idle(bool idle) noexcept {
    idle_ = idle;
    if (idle) {
      worker_.connections().idle.add();
    } else {
      worker_.connections().idle.subtract();
    }
  }

  // What the idle phase has without waiting: it skips empty lines and, on a plain connection that
  // holds a buffer, reads what the socket already has, as a read through the reactor would try
  // first anyway (the next request of a busy or pipelining client is often there already).
  Available take_available_bytes() {
    for (;;) {
      skip_empty_lines();
      if (buffer_.size() > 0) return Available::request;
      if (buffer_.capacity() == 0 || stream_.is_tls()) return Available::none;
      error_code ec;
      const std::size_t n = stream_.socket().read_some(buffer_.prepare(kReadChunk), ec);
      if (ec == asio::error::would_block) return Available::none;
      if (ec) return Available::closed;
      buffer_.commit(n);
    }
  }

  // Frees the read buffer (empty here): an idle connection should cost as little as possible.
  void release_buffer() {
    buffer_.clear();
    buffer_.shrink_to_fit();
  }

  // After the idle wait: true when bytes arrived. When the client idled out the socket closes at
  // once; a cancelled wait (drain) leaves the close to the caller.
  bool idle_wait_succeeded(error_code ec) {
    if (stream_.expired()) {
      error_code ignored;
      stream_.socket().close(ignored);
      return false;
    }
    return !ec;
  }

  // RFC 9112 §2.2: at least one empty line before a request line is ignored.
  void skip_empty_lines() {
    auto data = std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    std::size_t skip = 0;
    while (data.substr(skip, 2) == "\r\n") skip += 2;
    buffer_.consume(skip);
  }

  // Reads until the whole header block is in the buffer. Returns ok, or the error to answer with;
  // `closed` is set when the client went away (nothing to answer).
  awaitable<errc> read_head(const config::GatewayConfig& config, std::size_t& head_size,
                            bool& closed) {
    const std::size_t max = config.limits.max_header_bytes;
    bound_buffer(max + kReadChunk);
    bool deadline_set = false;
    for (;;) {
      auto data = std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      const HeadScan scan = scan_request_head(data);
      errc result = errc::ok;
      if (scan.state == HeadState::complete) {
        if (scan.size > max) result = errc::header_too_large;
        head_size = scan.size;
      } else if (scan.state == HeadState::invalid) {
        result = errc::bad_request;
      } else if (data.size() > max) {
        result = errc::header_too_large;
      } else {
        // One deadline for the whole head, counted from its first byte. It only cancels the
        // read, so a 408 can still be sent.
        if (!deadline_set) {
          stream_.expires_at(Clock::now() + config.timeouts.client_header);
          deadline_set = true;
        }
        error_code ec;
        const std::size_t n = co_await stream_.async_read_some(
            buffer_.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::error::timeout) co_return errc::client_header_timeout;
        if (ec) {
          closed = true;
          co_return errc::bad_request;
        }
        buffer_.commit(n);
        continue;
      }
      co_return result;
    }
  }

  // Never below what the buffer already holds: pipelined bytes read with an earlier request stay.
  void bound_buffer(std::size_t limit) { buffer_.max_size(std::max(buffer_.size(), limit)); }

  // Handles one request; true when the connection may carry another.
  awaitable<bool> handle_request(Generation& generation) {
    head_request_ = false;  // until the head says otherwise (a malformed one gets a body)
    const config::GatewayConfig& config = *generation.config;
    record_ = AccessRecord{};
    record_.peer = peer_;
    route_stats_ = generation.unmatched_stats;
    started_ = Clock::now();
    std::size_t head_size = 0;
    bool closed = false;
    errc e = co_await read_head(config, head_size, closed);
    if (closed) co_return false;
    record_.bytes_in = head_size;

    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(config.limits.max_header_bytes + 2));
    if (config.limits.max_body_bytes > 0) {
      parser.body_limit(config.limits.max_body_bytes);
    } else {
      parser.body_limit(boost::none);
    }
    if (e == errc::ok) e = parse_head(parser, head_size);
    std::string request_id = worker_.next_request_id();
    record_.request_id = request_id;
    if (e != errc::ok) {
      co_await answer_error(e, request_id, 11);
      finish(http_status_for(e));
      co_return false;
    }

    auto& head = parser.get();
    head_request_ = head.method() == http::verb::head;
    if (auto sent = head[http_io::kXRequestId]; valid_request_id(sent)) {
      request_id.assign(sent.data(), sent.size());
      record_.request_id = request_id;
    }
    // The gateway's span, from the head as the client sent it, so that every answer's log line
    // names its trace.
    const http_io::TraceContext trace = http_io::TraceContext::start_span(head, worker_.random());
    record_.trace_id = trace.trace_id();  // the trace lives until the request is answered
    const std::string method(head.method_string());
    record_.method = method;

    // Route on the normalised path; forward exactly what was routed.
    std::string absolute_authority;
    auto target = routing::normalise_target(head.target(), &absolute_authority);
    if (!target) {
      co_await answer_error(errc::bad_path, request_id, head.version());
      finish(http::status::bad_request);
      co_return false;
    }
    record_.path = target->path;
    // RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. The route is chosen
    // on it, so it is also what preserve_host forwards: the client's own Host could name a site
    // an upstream serves behind a route that asks for a token.
    if (!absolute_authority.empty()) head.set(http::field::host, absolute_authority);
    const std::string host_header(head[http::field::host]);
    const std::string host = routing::normalise_host(host_header);
    if (host.empty()) {
      co_await answer_error(errc::bad_request, request_id, head.version());
      finish(http::status::bad_request);
      co_return false;
    }
    const routing::RouteMatchResult match = generation.router->match(host, method, target->path);
    bool body_pending = !parser.is_done();
    if (match.ambiguous) {
      co_await answer_error(errc::bad_path, request_id, head.version());
      finish(http::status::bad_request);
      co_return false;
    }
    if (!match.route) {
      const bool keep = parser.keep_alive() && !body_pending;
      co_await answer_error(errc::no_route, request_id, head.version(), keep);
      finish(http::status::not_found);
      co_return keep;
    }
    const config::Route& route = *match.route;
    const std::size_t route_index = static_cast<std::size_t>(match.route - config.routes.data());
    record_.route = route.name;
    route_stats_ = generation.route_stats[route_index];

    // On a websocket route a handshake is checked against the head as the client sent it (the
    // strip below takes Connection and Upgrade); on any other route Upgrade just goes.
    std::unique_ptr<upstream::WebSocketHandshake> websocket;
    if (route.websocket) {
      switch (http_io::check_handshake(head, body_pending)) {
        case http_io::Handshake::none:
          break;
        case http_io::Handshake::valid:
          websocket = std::make_unique<upstream::WebSocketHandshake>();
          websocket->accept = http_io::websocket_accept(head[http::field::sec_websocket_key]);
          break;
        case http_io::Handshake::malformed:
          co_await answer(http::status::bad_request, "Bad WebSocket handshake", "", request_id,
                          head.version(), false, {});
          finish(http::status::bad_request);
          co_return false;
        case http_io::Handshake::wrong_version:  // RFC 6455 §4.4: the version we speak
          co_await answer(http::status::upgrade_required, "Unsupported WebSocket version", "",
                          request_id, head.version(), false, upgrade_required_headers());
          finish(http::status::upgrade_required);
          co_return false;
      }
    }

    // Hop-by-hop headers, and any header the client names in Connection, go before the filters
    // run: a client can then not make us drop a header a filter sets (Connection:
    // X-Authenticated-User).
    const bool client_keep_alive = parser.keep_alive();
    const bool is_chunked = parser.chunked();
    std::string expect;
    if (const auto field = head.find(http::field::expect); field != head.end()) {
      expect = field->value();
      head.erase(http::field::expect);  // every one of them
    }
    http_io::strip_hop_by_hop(head);
    // Then every header a plugin sets or the gateway forwards, whatever the route: what the client
    // wrote there never reaches an upstream (but from a trusted proxy's forwarding headers).
    const bool trusted_peer = generation.protected_headers->trusts(peer_address_);
    const ForwardingKept forwarding = generation.protected_headers->strip(head, trusted_peer);
    head.set(http_io::kXRequestId, request_id);  // after the strip: Connection cannot remove it
    trace.apply(head);  // after the strip too: Connection cannot remove the trace headers
    if (!expect.empty() && !http_io::iequals(expect, "100-continue")) {
      co_await answer(http::status::expectation_failed, "Expectation failed", "", request_id,
                      head.version(), false, {});
      finish(http::status::expectation_failed);
      co_return false;
    }

    // A route whose filters take the token from a form body gets such a body whole before they
    // decide; every other request's body streams through as it comes.
    std::optional<upstream::BodyStart> body_read_ahead;
    filters::FormBody form_body;
    if (body_pending && generation.filters->reads_form_body[route_index] &&
        http_io::is_form_urlencoded(head[http::field::content_type])) {
      body_read_ahead.emplace();
      const errc read = co_await read_form_body(parser, config, expect, *body_read_ahead);
      record_.bytes_in += body_read_ahead->size;
      if (read != errc::ok) {
        co_await answer_error(read, request_id, head.version());
        finish(http_status_for(read));
        co_return false;
      }
      form_body = {body_read_ahead->buffer().data(), body_read_ahead->size};
      body_pending = false;
    }

    filters::RequestContext context{.request = head,
                                    .route = route,
                                    .path = target->path,
                                    .query = target->query,
                                    .forwarded_query = &target->query,
                                    .form_body = body_read_ahead ? &form_body : nullptr,
                                    .request_id = request_id,
                                    .peer = peer_address_,
                                    .worker = worker_.index(),
                                    .wants_principal = access_log_enabled(),
                                    .trace = &trace};
    for (const filters::Filter* filter : generation.filters->chains[route_index]) {
      filters::Verdict verdict = co_await filter->on_request(context);
      if (!verdict.proceeds()) {
        const auto& r = verdict.response();
        const bool keep = client_keep_alive && !body_pending && !worker_.draining();
        co_await answer(r.status, r.message, r.error, request_id, head.version(), keep, r.headers);
        take_filter_notes(context);
        finish(r.status);
        co_return keep;
      }
    }
    take_filter_notes(context);
    if (body_read_ahead && form_body.size != body_read_ahead->size) {
      body_read_ahead->size = form_body.size;  // a filter removed a field
      if (!is_chunked) head.content_length(form_body.size);
    }

    const unsigned client_version = head.version();  // rewritten to 1.1 for the upstream
    rewrite_for_upstream(head, route, match, *target, host, host_header, forwarding);
    if (is_chunked) parser.get().chunked(true);  // re-framed after the hop-by-hop strip
    if (websocket) {
      // Taken with the hop-by-hop headers; the upstream needs them to switch protocols.
      head.set(http::field::connection, "Upgrade");
      head.set(http::field::upgrade, "websocket");
    }
    // RFC 9110 §10.1.1: an HTTP/1.0 client's Expect: 100-continue is ignored.
    if (body_pending && !expect.empty() && client_version >= 11) {
      if (!co_await send_continue()) co_return false;
    }

    bound_buffer(kBodyPhaseBufferLimit);
    upstream::Balancer& balancer = generation.upstreams->at(route.upstream);
    // After a refused handshake the connection closes: the client may have sent frames already.
    const bool keep_alive = client_keep_alive && !worker_.draining() && !websocket;
    upstream::ForwardResult result = co_await upstream::forward(
        upstream::ForwardRequest{.client = stream_,
                                 .client_buffer = buffer_,
                                 .parser = parser,
                                 .balancer = balancer,
                                 .config = config,
                                 .keep_alive = keep_alive,
                                 .draining = worker_.draining_flag(),
                                 .preserve_host = route.preserve_host,
                                 .head_request = head_request_,
                                 .client_version = client_version,
                                 .request_id = request_id,
                                 .body_start = body_read_ahead ? &*body_read_ahead : nullptr,
                                 .websocket = websocket.get()});
    record_.upstream = balancer.config().name;
    if (result.target) record_.upstream_target = result.target->url;
    record_.upstream_status = result.status;  // 0 when no response head arrived
    record_.upstream_duration = result.upstream_duration;
    record_.bytes_in += result.request_body_bytes;
    record_.bytes_out = result.body_bytes;
    if (result.error != errc::ok) {
      if (!result.response_started) co_await answer_error(result.error, request_id, 11, false);
      finish(result.response_started ? static_cast<http::status>(result.status)
                                     : http_status_for(result.error));
      co_return false;
    }
    if (websocket && websocket->upgraded) {
      const auto opened = Clock::now();
      co_await run_tunnel(websocket->upgraded, config.timeouts.websocket_idle);
      finish(http::status::switching_protocols, Clock::now() - opened);
      co_return false;
    }
    finish(static_cast<http::status>(result.status));
    co_return result.keep_alive&& parser.is_done() && !worker_.draining();
  }

  // The connections after a 101: bytes both ways until either side ends the tunnel. Its log line
  // comes once it is over: status 101, the bytes each way, how long it stayed open.
  awaitable<void> run_tunnel(upstream::Lease& lease, config::Duration idle) {
    upstream::Tunnel tunnel(stream_, buffer_, lease.stream(), lease.buffer(), idle);
    tunnel_ = &tunnel;
    if (worker_.draining()) tunnel.close_by(worker_.drain_deadline());
    worker_.connections().tunnels.add();
    co_await tunnel.run();
    worker_.connections().tunnels.subtract();
    tunnel_ = nullptr;
    lease.discard();
    record_.bytes_in += tunnel.bytes_up();
    record_.bytes_out += tunnel.bytes_down();
  }

  // What the filters noted for the log: who the caller is, how the token was looked up. The
  // context lives until the request is answered.
  void take_filter_notes(const filters::RequestContext& context) {
    if (!context.principal.empty()) record_.principal = context.principal;
    record_.cache = context.cache;
    record_.idp_duration = context.idp_duration;
  }

  errc parse_head(RequestParser& parser, std::size_t head_size) {
    const errc e = parse_request_head(
        parser, std::string_view(static_cast<const char*>(buffer_.data().data()), head_size));
    if (e == errc::ok) buffer_.consume(head_size);
    return e;
  }

  void rewrite_for_upstream(filters::RequestHead& head, const config::Route& route,
                            const routing::RouteMatchResult& match,
                            const routing::NormalisedTarget& target, const std::string& host,
                            std::string_view host_header, const ForwardingKept& forwarding) {
    std::string_view path = target.path;
    if (route.strip_path) path = routing::strip_prefix(path, match.matched_prefix);
    std::string new_target;
    new_target.reserve(path.size() + target.query.size() + 1);
    new_target.append(path);
    if (!target.query.empty()) new_target.append("?").append(target.query);
    head.target(new_target);
    head.version(11);

    // peer_ is the client's address as text, made once per connection. X-Forwarded-Host is the
    // host the route was chosen on (normalised once, for routing), with the port the client gave.
    std::string host_with_port;
    std::string_view forwarded_host = host;
    if (const std::string_view port = routing::port_suffix(host_header); !port.empty()) {
      host_with_port.reserve(host.size() + port.size());
      host_with_port.append(host).append(port);
      forwarded_host = host_with_port;
    }
    set_forwarding_headers(head, forwarding, peer_, stream_.is_tls() ? "https" : "http",
                           forwarded_host);
  }

  // Reads a form body whole into `start` for the route's filters. It must fit one relay buffer:
  // a larger one is refused (413) rather than judged on a part. A client waiting for 100 Continue
  // gets it first, and `expect` is cleared so that it is not sent twice.
  awaitable<errc> read_form_body(RequestParser& parser, const config::GatewayConfig& config,
                                 std::string& expect, upstream::BodyStart& start) {
    if (!expect.empty() && parser.get().version() >= 11) {
      if (!co_await send_continue()) co_return errc::bad_request;
    }
    expect.clear();
    bound_buffer(kBodyPhaseBufferLimit);
    const errc read = co_await upstream::read_body_start(stream_, buffer_, parser,
                                                         config.timeouts.client_body, start);
    if (read != errc::ok) co_return read;
    co_return parser.is_done() ? errc::ok : errc::body_too_large;
  }

  awaitable<bool> send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    co_await asio::async_write(stream_, asio::buffer(kContinue),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  awaitable<void> answer_error(errc e, std::string_view request_id, unsigned version,
                               bool keep_alive = false) {
    co_await answer(http_status_for(e), public_message_for(e), "", request_id, version, keep_alive,
                    {});
  }

  awaitable<void> answer(http::status status, std::string_view message, std::string_view error,
                         std::string_view request_id, unsigned version, bool keep_alive,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
    http::response<http::string_body> response{status, version < 10 ? 11u : version};
    response.set(http::field::server, "tollgate");
    response.set(http::field::content_type, "application/json");
    response.set(http_io::kXRequestId, request_id);
    for (const auto& [name, value] : headers) response.insert(name, value);
    response.body() = json_body(message, request_id, error);
    response.keep_alive(keep_alive);
    if (!keep_alive) response.set(http::field::connection, "close");
    response.prepare_payload();
    record_.bytes_out = head_request_ ? 0 : response.body().size();
    error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    if (head_request_) {
      // The length a GET would get, and no body (RFC 9110 §9.3.2): a kept-alive client would
      // read the body as the start of its next response.
      http::response_serializer<http::string_body> serializer{response};
      co_await http::async_write_header(stream_, serializer,
                                        asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    co_await http::async_write(stream_, response, asio::redirect_error(asio::use_awaitable, ec));
  }

  // Counts the answered request and writes its access-log line. The route's histogram observes the
  // time to the answer: a tunnel's log line also counts the `tunnel_time` it stayed open after.
  void finish(http::status status, Clock::duration tunnel_time = {}) {
    record_.status = static_cast<unsigned>(status);
    record_.duration = Clock::now() - started_;
    route_stats_->record(record_.status, record_.duration - tunnel_time);
    worker_.connections().requests.add();
    if (access_log_enabled()) log_access(record_);
  }

  Worker& worker_;
  http_io::Stream& stream_;
  beast::flat_buffer buffer_;
  std::string peer_;
  asio::ip::address peer_address_;
  bool idle_ = false;
  upstream::Tunnel* tunnel_ = nullptr;  // while the connection carries a WebSocket tunnel
  bool head_request_ = false;  // the request being answered is a HEAD: its answers carry no body
  // The request being answered: what its log line and counts say.
  Clock::time_point started_;
  AccessRecord record_;
  metrics::RouteCell* route_stats_ = nullptr;
};

// Half-close, then read and discard what the client still sends for a moment (nginx's lingering
// close): closing a socket with unread data makes the kernel send RST, which can destroy the error
// response the client has not read yet (a 413 during an upload, a 400 after a bad request).
awaitable<void> close_gracefully(http_io::Stream& stream) {
  error_code ec;
  if (stream.is_tls()) {
    stream.expires_after(std::chrono::seconds(2));
    co_await stream.tls().async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().close(ec);
    co_return;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    std::array<char, 4096> sink;
    std::size_t discarded = 0;
    stream.expires_after(kLingerTime);
    while (discarded < kLingerBytes) {
      const std::size_t n = co_await stream.tcp().async_read_some(
          asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      discarded += n;
    }
  }
  stream.socket().close(ec);
}

// Built in place from the socket (see http_io::Stream).
http_io::Stream make_client_stream(tcp::socket socket, ssl::context* tls) {
  if (tls) return http_io::Stream(std::move(socket), *tls);
  return http_io::Stream(std::move(socket));
}

// Its own coroutine, so that what the handshake needs is gone once it is done.
awaitable<bool> tls_handshake(http_io::Stream& stream, config::Duration timeout) {
  error_code ec;
  stream.expires_after(timeout);
  co_await stream.tls().async_handshake(ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

awaitable<void> run_session(Worker& worker, tcp::socket socket, ssl::context* tls) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  // Plain sessions read what is already there without waiting (see take_available_bytes).
  if (!tls) socket.non_blocking(true, ec);
  const auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  http_io::Stream stream = make_client_stream(std::move(socket), tls);
  if (tls && !co_await tls_handshake(stream, worker.generation()->config->timeouts.client_header)) {
    co_return;
  }
  {
    Session session(worker, stream, remote.address().to_string(), remote.address());
    co_await session.run();
  }
  co_await close_gracefully(stream);
}

}  // namespace tollgate::server
