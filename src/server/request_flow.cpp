#include "request_flow.hpp"

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "tollgate/http/grpc.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/trace_context.hpp"
#include "tollgate/http/websocket.hpp"
#include "tollgate/routing/path.hpp"
#include "tollgate/server/forwarding.hpp"

namespace tollgate::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxRequestIdLength = 200;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// RFC 6455 §4.4 and RFC 9110 §15.5.22: a 426 names the version and protocol the gateway speaks.
Headers upgrade_required_headers() {
  return {{"Sec-WebSocket-Version", "13"}, {"Upgrade", "websocket"}};
}

awaitable<void> answer_error(Framing& framing, errc e, std::string_view request_id,
                             bool keep_alive = false) {
  co_await framing.answer(http_status_for(e), public_message_for(e), "", request_id, keep_alive,
                          {});
}

// What the filters noted for the log: who the caller is, how the token was looked up. The
// context lives until the request is answered.
void take_filter_notes(const filters::RequestContext& context, AccessRecord& record) {
  if (!context.principal.empty()) record.principal = context.principal;
  record.cache = context.cache;
  record.idp_duration = context.idp_duration;
}

// The forwarding headers go to `added`; `host_with_port` keeps X-Forwarded-Host's value while they
// are sent.
void rewrite_for_upstream(filters::RequestHead& head, http_io::AddedFields& added,
                          const config::Route& route, const routing::RouteMatchResult& match,
                          const routing::NormalisedTarget& target, const std::string& host,
                          std::string_view host_header, ForwardingKept& forwarding,
                          std::string_view peer, bool tls, std::string& host_with_port) {
  std::string_view path = target.path;
  if (route.strip_path) path = routing::strip_prefix(path, match.matched_prefix);
  std::string new_target;
  new_target.reserve(path.size() + target.query.size() + 1);
  new_target.append(path);
  if (!target.query.empty()) new_target.append("?").append(target.query);
  head.target(new_target);
  head.version(11);

  // peer is the client's address as text, made once per connection. X-Forwarded-Host is the
  // host the route was chosen on (normalised once, for routing), with the port the client gave.
  std::string_view forwarded_host = host;
  if (const std::string_view port = routing::port_suffix(host_header); !port.empty()) {
    host_with_port.reserve(host.size() + port.size());
    host_with_port.append(host).append(port);
    forwarded_host = host_with_port;
  }
  add_forwarding_headers(added, head, forwarding, peer, tls ? "https" : "http", forwarded_host);
}

}  // namespace

std::string json_body(std::string_view message, std::string_view request_id,
                      std::string_view error) {
  nlohmann::json body = {{"message", message}, {"request_id", request_id}};
  if (!error.empty()) body["error"] = error;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Headers grpc_answer_fields(http::status status, std::string_view message) {
  const auto code = http_io::grpc_status_for(static_cast<unsigned>(status));
  return {{"content-type", "application/grpc"},
          {"grpc-status", std::to_string(static_cast<unsigned>(code))},
          {"grpc-message", http_io::grpc_percent_encode(message)}};
}

void RequestRecord::start(const Generation& generation, std::string_view peer) {
  record = AccessRecord{};
  record.peer = peer;
  route_stats = generation.unmatched_stats;
  started = Clock::now();
  head_request = false;  // until the head says otherwise (a malformed one gets a body)
}

void RequestRecord::finish(http::status status, Clock::duration tunnel_time) {
  record.status = static_cast<unsigned>(status);
  record.duration = Clock::now() - started;
  route_stats->record(record.status, record.duration - tunnel_time);
  worker.connections().requests.add();
  if (access_log_enabled()) log_access(record);
}

awaitable<bool> serve_request(Framing& framing, Generation& generation, filters::RequestHead& head,
                              std::string request_id, const Client& client,
                              RequestRecord& request) {
  Worker& worker = request.worker;
  AccessRecord& record = request.record;
  const config::GatewayConfig& config = *generation.config;
  record.request_id = request_id;
  request.head_request = head.method() == http::verb::head;
  framing.grpc = http_io::is_grpc(head[http::field::content_type]);
  const auto sent_id = head.find(http_io::kXRequestId);
  const bool id_sent = sent_id != head.end();
  if (id_sent && valid_request_id(sent_id->value())) {
    const std::string_view sent = sent_id->value();
    request_id.assign(sent.data(), sent.size());
    record.request_id = request_id;
  }
  // The gateway's span, from the head as the client sent it, so that every answer's log line
  // names its trace.
  const http_io::TraceContext trace = http_io::TraceContext::start_span(head, worker.random());
  record.trace_id = trace.trace_id();  // the trace lives until the request is answered
  const std::string method(head.method_string());
  record.method = method;

  // Route on the normalised path; forward exactly what was routed.
  std::string absolute_authority;
  auto target = routing::normalise_target(head.target(), &absolute_authority);
  if (!target) {
    co_await answer_error(framing, errc::bad_path, request_id);
    request.finish(http::status::bad_request);
    co_return false;
  }
  record.path = target->path;
  // RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. The route is chosen
  // on it, so it is also what preserve_host forwards: the client's own Host could name a site
  // an upstream serves behind a route that asks for a token.
  if (!absolute_authority.empty()) head.set(http::field::host, absolute_authority);
  const std::string host_header(head[http::field::host]);
  const std::string host = routing::normalise_host(host_header);
  if (host.empty()) {
    co_await answer_error(framing, errc::bad_request, request_id);
    request.finish(http::status::bad_request);
    co_return false;
  }
  const routing::RouteMatchResult match = generation.router->match(host, method, target->path);
  bool body_pending = framing.body_pending();
  if (match.ambiguous) {
    co_await answer_error(framing, errc::bad_path, request_id);
    request.finish(http::status::bad_request);
    co_return false;
  }
  if (!match.route) {
    const bool keep = framing.client_keep_alive() && !body_pending;
    co_await answer_error(framing, errc::no_route, request_id, keep);
    request.finish(http::status::not_found);
    co_return keep;
  }
  const config::Route& route = *match.route;
  const std::size_t route_index = static_cast<std::size_t>(match.route - config.routes.data());
  record.route = route.name;
  request.route_stats = generation.route_stats[route_index];

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
        co_await framing.answer(http::status::bad_request, "Bad WebSocket handshake", "",
                                request_id, false, {});
        request.finish(http::status::bad_request);
        co_return false;
      case http_io::Handshake::wrong_version:  // RFC 6455 §4.4: the version we speak
        co_await framing.answer(http::status::upgrade_required, "Unsupported WebSocket version", "",
                                request_id, false, upgrade_required_headers());
        request.finish(http::status::upgrade_required);
        co_return false;
    }
  }

  // Hop-by-hop headers, and any header the client names in Connection, go before the filters
  // run: a client can then not make us drop a header a filter sets (Connection:
  // X-Authenticated-User).
  const bool client_keep_alive = framing.client_keep_alive();
  const bool is_chunked = framing.chunked();
  std::string expect;
  if (const auto field = head.find(http::field::expect); field != head.end()) {
    expect = field->value();
    head.erase(http::field::expect);  // every one of them
  }
  http_io::strip_hop_by_hop(head);
  // Then every header a plugin sets or the gateway forwards, whatever the route: what the client
  // wrote there never reaches an upstream (but from a trusted proxy's forwarding headers).
  const bool trusted_peer = generation.protected_headers->trusts(client.address);
  ForwardingKept forwarding = generation.protected_headers->strip(head, trusted_peer);
  // After the strip: Connection cannot remove them. A head that came without them (the usual)
  // gets them beside its fields, written after them.
  http_io::AddedFields added;
  if (id_sent) {
    http_io::set_unlisted(head, http_io::kXRequestId, request_id);
  } else {
    added.add(http_io::kXRequestId, request_id);
  }
  if (forwarding.trace) {
    trace.apply(head);
  } else {
    trace.add_to(added);
  }
  if (!expect.empty() && !http_io::iequals(expect, "100-continue")) {
    co_await framing.answer(http::status::expectation_failed, "Expectation failed", "", request_id,
                            false, {});
    request.finish(http::status::expectation_failed);
    co_return false;
  }

  // A route whose filters take the token from a form body gets such a body whole before they
  // decide; every other request's body streams through as it comes.
  std::optional<upstream::BodyStart> body_read_ahead;
  filters::FormBody form_body;
  if (body_pending && generation.filters->reads_form_body[route_index] &&
      http_io::is_form_urlencoded(head[http::field::content_type])) {
    body_read_ahead.emplace();
    // A client waiting for 100 Continue gets it first, and `expect` is cleared so that it is not
    // sent twice.
    if (!expect.empty() && head.version() >= 11 && !co_await framing.send_continue()) {
      co_return false;
    }
    expect.clear();
    const errc read = co_await framing.read_whole_body(config, *body_read_ahead);
    record.bytes_in += body_read_ahead->size;
    if (read != errc::ok) {
      co_await answer_error(framing, read, request_id);
      request.finish(http_status_for(read));
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
                                  .peer = client.address,
                                  .worker = worker.index(),
                                  .wants_principal = access_log_enabled(),
                                  .trace = &trace};
  for (const filters::Filter* filter : generation.filters->chains[route_index]) {
    filters::Verdict verdict = co_await filter->on_request(context);
    if (!verdict.proceeds()) {
      const auto& r = verdict.response();
      const bool keep = client_keep_alive && !body_pending && !worker.draining();
      co_await framing.answer(r.status, r.message, r.error, request_id, keep, r.headers);
      take_filter_notes(context, record);
      request.finish(r.status);
      co_return keep;
    }
  }
  take_filter_notes(context, record);
  if (body_read_ahead && form_body.size != body_read_ahead->size) {
    body_read_ahead->size = form_body.size;  // a filter removed a field
    if (!is_chunked) head.set(http::field::content_length, std::to_string(form_body.size));
  }

  const unsigned client_version = head.version();  // rewritten to 1.1 for the upstream
  std::string host_with_port;
  rewrite_for_upstream(head, added, route, match, *target, host, host_header, forwarding,
                       client.peer, framing.is_tls(), host_with_port);
  if (websocket) {
    // Taken with the hop-by-hop headers; the upstream needs them to switch protocols.
    head.set(http::field::connection, "Upgrade");
    head.set(http::field::upgrade, "websocket");
  }
  // RFC 9110 §10.1.1: an HTTP/1.0 client's Expect: 100-continue is ignored.
  if (body_pending && !expect.empty() && client_version >= 11) {
    if (!co_await framing.send_continue()) co_return false;
  }

  upstream::Balancer& balancer = generation.upstreams->at(route.upstream);
  // After a refused handshake the connection closes: the client may have sent frames already.
  const bool keep_alive = client_keep_alive && !worker.draining() && !websocket;
  upstream::ForwardResult result = co_await framing.forward(
      head, ForwardCall{.balancer = balancer,
                        .config = config,
                        .keep_alive = keep_alive,
                        .preserve_host = route.preserve_host,
                        .head_request = request.head_request,
                        .client_version = client_version,
                        .request_id = request_id,
                        .added = added,
                        .body_start = body_read_ahead ? &*body_read_ahead : nullptr,
                        .websocket = websocket.get()});
  record.upstream = balancer.config().name;
  if (result.target) record.upstream_target = result.target->url;
  record.upstream_status = result.status;  // 0 when no response head arrived
  record.upstream_duration = result.upstream_duration;
  record.bytes_in += result.request_body_bytes;
  record.bytes_out = result.body_bytes;
  if (result.error != errc::ok) {
    if (!result.response_started) co_await answer_error(framing, result.error, request_id);
    request.finish(result.response_started ? static_cast<http::status>(result.status)
                                           : http_status_for(result.error));
    co_return false;
  }
  if (websocket && websocket->upgraded) {
    const auto opened = Clock::now();
    co_await framing.run_tunnel(websocket->upgraded, config.timeouts.websocket_idle, request);
    request.finish(http::status::switching_protocols, Clock::now() - opened);
    co_return false;
  }
  request.finish(static_cast<http::status>(result.status));
  co_return result.keep_alive && !framing.body_pending() && !worker.draining();
}

}  // namespace tollgate::server
