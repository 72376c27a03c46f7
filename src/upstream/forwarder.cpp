#include "tollgate/upstream/forwarder.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nghttp2/nghttp2.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "tollgate/common/spawn.hpp"
#include "tollgate/http/client_exchange.hpp"
#include "tollgate/http/grpc.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/websocket.hpp"

namespace tollgate::upstream {
namespace {

// Room for a usual head written by hand, so that building it takes one allocation.
constexpr std::size_t kHeadReserve = 1024;
using Clock = std::chrono::steady_clock;
using ResponseParser = http_io::ClientExchange::Parser;

// Keeps the target's in-flight count (least_conn's measure, and a gauge) right on every exit path.
class InFlight {
 public:
  explicit InFlight(TargetState& t) : t_(t) { t_.stats->in_flight.add(); }
  ~InFlight() { t_.stats->in_flight.subtract(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  TargetState& t_;
};

errc client_read_error(const error_code& ec) {
  if (ec == http::error::body_limit) return errc::body_too_large;
  if (ec == beast::error::timeout) return errc::client_header_timeout;
  return errc::bad_request;
}

metrics::UpstreamOutcome outcome_of(errc e) noexcept {
  switch (e) {
    case errc::ok:
      return metrics::UpstreamOutcome::ok;
    case errc::upstream_connect_failed:
    case errc::internal:
      return metrics::UpstreamOutcome::connect_error;
    case errc::upstream_timeout:
      return metrics::UpstreamOutcome::timeout;
    case errc::upstream_bad_response:
      return metrics::UpstreamOutcome::bad_response;
    case errc::upstream_busy:
      return metrics::UpstreamOutcome::busy;
    default:
      return metrics::UpstreamOutcome::client_abort;  // the client's side failed
  }
}

// How one target attempt ended, for the target's counts.
void count_attempt(TargetState& target, errc e, std::chrono::nanoseconds to_head) {
  target.stats->outcomes[static_cast<std::size_t>(outcome_of(e))].add();
  if (to_head.count() > 0) target.stats->duration.observe(to_head);
}

// The outcome of one attempt on one connection.
struct Attempt {
  errc error = errc::ok;
  bool retryable = false;  // may go again on a new connection (see may_retry)
};

// Relay buffers live outside the coroutine frame: a 16 KiB array in the frame would cost a large
// allocation and free on every request, past the allocator's small-block lists. Each thread
// keeps a few buffers its finished requests gave back (a worker's requests stay on its thread).
class RelayBufferPool {
 public:
  struct GiveBack {
    void operator()(RelayBuffer* buffer) const noexcept {
      std::unique_ptr<RelayBuffer> owned(buffer);
      auto& spare = spare_buffers();
      if (spare.size() < kKeep) spare.push_back(std::move(owned));
    }
  };
  using Handle = std::unique_ptr<RelayBuffer, GiveBack>;

  static Handle take() {
    auto& spare = spare_buffers();
    if (spare.empty()) return Handle(new RelayBuffer);
    Handle buffer(spare.back().release());
    spare.pop_back();
    return buffer;
  }

 private:
  static constexpr std::size_t kKeep = 16;  // 256 KiB per thread at most, kept after a burst
  static std::vector<std::unique_ptr<RelayBuffer>>& spare_buffers() {
    thread_local std::vector<std::unique_ptr<RelayBuffer>> spare;
    return spare;
  }
};

// Trailers are not forwarded, and must not become header fields after the filters have checked
// the headers (a trailer X-Authenticated-User would otherwise reach the upstream beside ours).
void drop_trailer_fields(http::fields& fields, const std::vector<const void*>& head_fields) {
  for (auto it = fields.begin(); it != fields.end();) {
    const bool from_head =
        std::find(head_fields.begin(), head_fields.end(), &*it) != head_fields.end();
    it = from_head ? std::next(it) : fields.erase(it);
  }
}

// One write of a streamed answer to the client: the head while it has not gone, then the piece,
// framed as a chunk when the body is re-framed as chunked, with the last chunk once it ends. An
// empty piece is no chunk: a chunk of size 0 would end the body.
class BodyPiece {
 public:
  BodyPiece(std::string_view head, std::string_view data, bool chunked, bool last) {
    add(head);
    if (chunked && !data.empty()) {
      char* end = std::to_chars(size_line_, size_line_ + 16, data.size(), 16).ptr;
      *end++ = '\r';
      *end++ = '\n';
      add({size_line_, static_cast<std::size_t>(end - size_line_)});
      add(data);
      add("\r\n");
    } else {
      add(data);
    }
    if (chunked && last) add("0\r\n\r\n");
  }
  BodyPiece(const BodyPiece&) = delete;
  BodyPiece& operator=(const BodyPiece&) = delete;

  bool empty() const noexcept { return count_ == 0; }
  std::span<const asio::const_buffer> buffers() const noexcept { return {buffers_.data(), count_}; }

 private:
  void add(std::string_view text) noexcept {
    if (!text.empty()) buffers_[count_++] = asio::buffer(text.data(), text.size());
  }

  char size_line_[18];  // 16 hex digits at most, CR LF
  std::array<asio::const_buffer, 5> buffers_;
  std::size_t count_ = 0;
};

}  // namespace

BodyStart::BodyStart() : buffer_(RelayBufferPool::take().release()) {}

BodyStart::~BodyStart() {
  RelayBufferPool::GiveBack()(buffer_);
}

awaitable<errc> read_body_start(http_io::Stream& client, beast::flat_buffer& client_buffer,
                                RequestParser& parser, config::Duration timeout, BodyStart& start) {
  start.request_has_body = true;
  auto& message = parser.get();
  // Beast adds trailer fields to the message's fields, and these have not been sent yet when the
  // whole body fits in its start. Note which fields the head had, to drop the others after.
  std::vector<const void*> head_fields;
  if (parser.chunked()) {
    for (const auto& field : message) head_fields.push_back(&field);
  }
  message.body().data = start.buffer().data();
  message.body().size = start.buffer().size();
  // Beast reads at most the buffer's spare room per call: make room for whole relay pieces.
  client_buffer.reserve(kRelayBufferSize);
  client.expires_after(timeout);
  error_code ec;
  co_await http::async_read(client, client_buffer, parser,
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::need_buffer) ec = {};
  if (ec) co_return client_read_error(ec);
  start.size = start.buffer().size() - message.body().size;
  if (parser.chunked() && parser.is_done()) drop_trailer_fields(message, head_fields);
  co_return errc::ok;
}

namespace {

class Exchange {
 public:
  Exchange(ForwardRequest& r, const TargetState& target, Lease& lease, ForwardResult& result,
           BodyStart& body_start, Clock::time_point picked)
      : r_(r),
        picked_(picked),
        lease_(lease),
        result_(result),
        timeouts_(r.config.timeouts),
        buffer_(body_start.buffer()),
        body_start_size_(body_start.size),
        has_body_(body_start.request_has_body),
        others_in_flight_(target.stats->in_flight.get() > 1),
        response_(lease, r.head_request, r.websocket != nullptr) {}

  awaitable<Attempt> run() {
    if (auto a = co_await send_request(); a.error != errc::ok) co_return a;
    co_return co_await relay_response();
  }

 private:
  awaitable<Attempt> send_request() {
    auto& upstream = lease_.stream();
    auto& message = r_.parser.get();
    const std::string_view host = r_.preserve_host ? std::string_view() : result_.target->authority;
    error_code ec;
    if (r_.parser.is_done() && !message.chunked()) {
      // The whole request is at hand and needs no framing (the usual case): one plain write, its
      // head written with the target's Host and the added fields, the parsed head left as it is.
      std::string head;
      head.reserve(kHeadReserve);
      http_io::append_head(message.base(), host, r_.added ? *r_.added : http_io::AddedFields(),
                           head);
      const std::array<asio::const_buffer, 2> wire{asio::buffer(head),
                                                   asio::buffer(buffer_.data(), body_start_size_)};
      // Under load, written once this round of the event loop has handled what else is ready: the
      // requests that arrive together then reach the upstream together, and a sleeping upstream
      // wakes once for them rather than once for each (bench/README.md, "Where the gaps are").
      // Alone, written at once: there is nothing to wait for, only a round's latency to pay.
      if (others_in_flight_) {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      }
      upstream.expires_after(timeouts_.upstream_send);
      co_await asio::async_write(upstream, wire, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return write_failed(ec);
      co_return Attempt{};
    }
    if (!host.empty()) message.set(http::field::host, host);
    if (r_.added) {
      r_.added->insert_into(message);  // once, whatever the attempt
      r_.added = nullptr;
    }
    http::request_serializer<http::buffer_body> serializer{message};
    // The head and the body's start go up in one write, then each further piece as it arrives.
    message.body().data = body_start_size_ > 0 ? buffer_.data() : nullptr;
    message.body().size = body_start_size_;
    message.body().more = !r_.parser.is_done();
    for (bool first_write = true;; first_write = false) {
      upstream.expires_after(timeouts_.upstream_send);
      co_await http::async_write(upstream, serializer,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec && first_write) co_return write_failed(ec);
      if (ec) co_return Attempt{errc::upstream_bad_response, false};
      if (r_.parser.is_done() || serializer.is_done()) break;

      message.body().data = buffer_.data();
      message.body().size = buffer_.size();
      r_.client.expires_after(timeouts_.client_body);
      // Whatever has arrived, not a full buffer: a body the client sends slowly (a stream) reaches
      // the upstream as it comes.
      co_await http::async_read_some(r_.client, r_.client_buffer, r_.parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return Attempt{client_read_error(ec), false};
      message.body().size = buffer_.size() - message.body().size;
      message.body().data = buffer_.data();
      message.body().more = !r_.parser.is_done();
      result_.request_body_bytes += message.body().size;
    }
    co_return Attempt{};
  }

  // The forwarder sends again only safe methods (GET, HEAD, OPTIONS, TRACE) without a body. PUT
  // and DELETE are idempotent (RFC 9110 §9.2.2), but a body-less DELETE whose connection closed
  // unanswered may have been carried out already: like POST and PATCH, they are never sent twice,
  // and the client gets 502.
  bool may_retry(errc failure) const {
    return response_.may_retry(failure, http_io::is_safe_method(r_.parser.get().method()),
                               has_body_);
  }

  // A write that failed before the request was out.
  Attempt write_failed(const error_code& ec) const {
    const errc failure =
        ec == beast::error::timeout ? errc::upstream_timeout : errc::upstream_connect_failed;
    return Attempt{errc::upstream_connect_failed, may_retry(failure)};
  }

  // The upstream's head as the client gets it, appended to `out`: HTTP/1.1, hop-by-hop fields
  // and the upstream's X-Request-Id dropped, Via and the request's id added, and the framing
  // decided: re-framed as chunked (returns true) when the upstream gave no length.
  bool append_client_head(const ResponseParser& parser, std::string& out) {
    using namespace std::string_view_literals;
    const unsigned status = parser.status();
    const bool bodyless = r_.head_request || status == 204 || status == 304;
    http_io::append_status_line(11, status, parser.reason(), out);
    http_io::append_end_to_end_fields(parser.fields(), http_io::kXRequestId, out);
    // The client sees the id its request was logged under, whatever the upstream said.
    out.append("Via: 1.1 tollgate\r\n"sv).append(http_io::kXRequestId).append(": "sv);
    out.append(r_.request_id).append("\r\n"sv);
    keep_alive_ = r_.keep_alive && !r_.draining;
    bool chunked = false;
    if (!bodyless && !parser.content_length()) {
      // Chunked from the upstream or delimited by its close: re-frame as chunked for HTTP/1.1
      // clients; an HTTP/1.0 client knows no chunked coding and learns the end from our close.
      if (r_.client_version >= 11) {
        chunked = true;
        out.append("Transfer-Encoding: chunked\r\n"sv);
      } else {
        keep_alive_ = false;
      }
    }
    if (!keep_alive_) {
      out.append("Connection: close\r\n"sv);
    } else if (r_.client_version < 11) {
      out.append("Connection: keep-alive\r\n"sv);  // HTTP/1.0 closes unless told
    }
    out.append("\r\n"sv);
    return chunked;
  }

  awaitable<Attempt> relay_response() {
    const errc head_error = co_await response_.read_head(r_.config.limits.max_response_header_bytes,
                                                         Clock::now() + timeouts_.upstream_read);
    if (head_error != errc::ok) {
      co_return Attempt{head_error, may_retry(head_error)};
    }
    const ResponseParser& parser = response_.parser();
    result_.status = response_.status();
    result_.upstream_duration = Clock::now() - picked_;
    if (result_.status == 101) {
      http::response_header<> head = parser.to_header();
      co_return co_await switch_protocols(head);
    }
    std::string head;
    head.reserve(kHeadReserve);
    const bool chunked = append_client_head(parser, head);

    if (const auto whole = response_.whole_body_buffered()) {
      co_return co_await send_whole(head, *whole);
    }

    error_code ec;
    // A head whose body has not started to arrive goes to the client at once (a slow or streamed
    // body must not hold it back); otherwise head and first body piece leave in one write. Until
    // something is written, a failure can still be answered (502, 504) instead of cut.
    if (!parser.is_done() && response_.buffered() == 0) {
      result_.response_started = true;
      r_.client.expires_after(timeouts_.client_send);
      co_await asio::async_write(r_.client, asio::buffer(head),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Attempt{errc::bad_request, false};
      head.clear();
    }
    do {
      std::size_t size = 0;
      if (!parser.is_done()) {
        // Whatever has arrived, not a full buffer: a body that comes slowly (a stream of events)
        // reaches the client as it comes, and bytes sent before a failure are not held back.
        errc error = errc::ok;
        size = co_await response_.read_body_piece(buffer_.data(), buffer_.size(),
                                                  Clock::now() + timeouts_.upstream_read, error);
        if (error != errc::ok) co_return Attempt{error, false};
        result_.body_bytes += size;
      }
      const BodyPiece piece(head, {buffer_.data(), size}, chunked, parser.is_done());
      if (piece.empty()) continue;  // a read that brought only a chunk's size line
      result_.response_started = true;
      r_.client.expires_after(timeouts_.client_send);
      co_await asio::async_write(r_.client, piece.buffers(),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Attempt{errc::bad_request, false};
      head.clear();
    } while (!parser.is_done());

    result_.keep_alive = keep_alive_;
    response_.finish(r_.parser.is_done() && !r_.websocket);
    co_return Attempt{};
  }

  // A 101 (read_head lets one through only for a handshake): relayed when it switches to websocket
  // with the Accept the client's key asks for, and the connection goes to the tunnel; any other
  // 101 is a bad answer. Bytes after its head stay in the connection's buffer, for the tunnel.
  awaitable<Attempt> switch_protocols(http::response_header<>& head) {
    if (!http_io::switches_to_websocket(head, r_.websocket->accept)) {
      co_return Attempt{errc::upstream_bad_response, false};
    }
    http_io::strip_hop_by_hop(head);
    head.set(http::field::connection, "Upgrade");
    head.set(http::field::upgrade, "websocket");
    head.insert(http::field::via, "1.1 tollgate");
    http_io::set_unlisted(head, http_io::kXRequestId, r_.request_id);
    head.version(11);
    std::string wire;
    wire.reserve(kHeadReserve);
    http_io::append_head(head, wire);
    result_.response_started = true;
    r_.client.expires_after(timeouts_.client_send);
    error_code ec;
    co_await asio::async_write(r_.client, asio::buffer(wire),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Attempt{errc::bad_request, false};
    r_.websocket->upgraded = std::move(lease_);
    co_return Attempt{};
  }

  awaitable<Attempt> send_whole(const std::string& head, std::string_view body) {
    const std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(body)};
    result_.response_started = true;
    r_.client.expires_after(timeouts_.client_send);
    error_code ec;
    co_await asio::async_write(r_.client, wire, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Attempt{errc::bad_request, false};
    response_.consume_whole_body(body.size());
    result_.body_bytes += body.size();
    result_.keep_alive = keep_alive_;
    response_.finish(r_.parser.is_done() && !r_.websocket);
    co_return Attempt{};
  }

  ForwardRequest& r_;
  const Clock::time_point picked_;  // when the target was picked, connect and wait included
  Lease& lease_;
  ForwardResult& result_;
  const config::Timeouts& timeouts_;
  RelayBuffer& buffer_;  // the body start, then every relayed piece
  const std::size_t body_start_size_;
  const bool has_body_;          // once sent, a body is not sent again on another connection
  const bool others_in_flight_;  // this worker forwards other requests to the target as well
  bool keep_alive_ = false;
  http_io::ClientExchange response_;
};

}  // namespace

namespace {

// The request's attempts: at most two targets, the first pick and one other when the first could
// not be reached and nothing has been sent yet (passive health marks the failed one down for
// fail_timeout). `exchange(target, lease, picked)` makes one attempt on a leased connection.
template <class RunExchange>
awaitable<void> run_attempts(Balancer& balancer, const config::GatewayConfig& config, bool fresh,
                             ForwardResult& result, RunExchange exchange) {
  TargetState* previous = nullptr;
  bool retried_stale = false;
  for (int target_attempt = 0; target_attempt < 2; ++target_attempt) {
    TargetState* target = balancer.pick(previous);
    if (!target) break;
    previous = target;
    result.target = target->target;
    InFlight in_flight(*target);
    const auto picked = Clock::now();
    result.upstream_duration = {};

    // A request waits for a connection (max_connections) no longer than for a connect.
    const auto wait_until = picked + config.timeouts.upstream_connect;
    // A handshake never goes on a pooled connection: the tunnel keeps the one it gets.
    auto lease = co_await target->pool->acquire(wait_until, fresh);
    if (!lease) {
      result.error = static_cast<errc>(lease.error().value());
      count_attempt(*target, result.error, {});
      if (result.error == errc::upstream_busy) continue;  // busy, not failed
      balancer.mark_failed(*target);
      if (result.error != errc::upstream_timeout) result.error = errc::upstream_connect_failed;
      continue;
    }
    for (;;) {
      Attempt attempt = co_await exchange(*target, *lease, picked);
      if (attempt.error == errc::ok) {
        count_attempt(*target, errc::ok, result.upstream_duration);
        balancer.mark_ok(*target);
        result.error = errc::ok;
        co_return;
      }
      lease->discard();
      // A pooled connection the upstream closed while idle fails before any byte of an answer:
      // a request that may go twice is retried once on a fresh connection to the same target.
      if (attempt.retryable && !retried_stale && !result.response_started) {
        retried_stale = true;
        lease = co_await target->pool->acquire(Clock::now() + config.timeouts.upstream_connect,
                                               /*fresh=*/true);
        if (lease) continue;
        result.error = static_cast<errc>(lease.error().value());
        count_attempt(*target, result.error, {});
        if (result.error == errc::upstream_busy) co_return;
        balancer.mark_failed(*target);
        result.error = errc::upstream_connect_failed;
        break;
      }
      result.error = attempt.error;
      count_attempt(*target, attempt.error, result.upstream_duration);
      co_return;
    }
  }
  if (result.error == errc::ok) result.error = errc::upstream_unavailable;
}

// One attempt of a request whose body is at hand whole, its answer going to a ResponseSink.
class WholeExchange {
 public:
  WholeExchange(WholeRequest& r, Lease& lease, ForwardResult& result, RelayBuffer& buffer,
                Clock::time_point picked)
      : r_(r),
        picked_(picked),
        lease_(lease),
        result_(result),
        timeouts_(r.config.timeouts),
        buffer_(buffer),
        response_(lease, r.head_request) {}

  awaitable<Attempt> run() {
    if (!r_.preserve_host) r_.head.set(http::field::host, result_.target->authority);
    std::string head;
    head.reserve(kHeadReserve);
    http_io::append_head(r_.head, head);
    const std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(r_.body)};
    error_code ec;
    lease_.stream().expires_after(timeouts_.upstream_send);
    co_await asio::async_write(lease_.stream(), wire,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const errc failure =
          ec == beast::error::timeout ? errc::upstream_timeout : errc::upstream_connect_failed;
      co_return Attempt{errc::upstream_connect_failed, may_retry(failure)};
    }

    const errc head_error = co_await response_.read_head(r_.config.limits.max_response_header_bytes,
                                                         Clock::now() + timeouts_.upstream_read);
    if (head_error != errc::ok) co_return Attempt{head_error, may_retry(head_error)};
    http::response_header<> response = response_.parser().to_header();
    result_.status = response_.status();
    result_.upstream_duration = Clock::now() - picked_;
    http_io::strip_hop_by_hop(response);
    response.insert(http::field::via, "1.1 tollgate");
    // The client sees the id its request was logged under, whatever the upstream said.
    http_io::set_unlisted(response, http_io::kXRequestId, r_.request_id);
    result_.response_started = true;
    if (!co_await r_.sink.head(response, false)) co_return Attempt{errc::bad_request, false};

    if (const auto whole = response_.whole_body_buffered()) {
      if (!co_await r_.sink.body(*whole, true)) co_return Attempt{errc::bad_request, false};
      response_.consume_whole_body(whole->size());
      result_.body_bytes += whole->size();
    } else {
      while (!response_.body_done()) {
        errc error = errc::ok;
        const std::size_t n = co_await response_.read_body_piece(
            buffer_.data(), buffer_.size(), Clock::now() + timeouts_.upstream_read, error);
        if (error != errc::ok) co_return Attempt{error, false};
        result_.body_bytes += n;
        if (!co_await r_.sink.body({buffer_.data(), n}, response_.body_done())) {
          co_return Attempt{errc::bad_request, false};
        }
      }
    }
    response_.finish(true);
    co_return Attempt{};
  }

 private:
  bool may_retry(errc failure) const {
    return response_.may_retry(failure, http_io::is_safe_method(r_.head.method()),
                               !r_.body.empty());
  }

  WholeRequest& r_;
  const Clock::time_point picked_;
  Lease& lease_;
  ForwardResult& result_;
  const config::Timeouts& timeouts_;
  RelayBuffer& buffer_;
  http_io::ClientExchange response_;
};

}  // namespace

awaitable<ForwardResult> forward(ForwardRequest request) {
  ForwardResult result;
  std::optional<BodyStart> own_body_start;
  BodyStart* body_start_ptr = request.body_start;
  if (body_start_ptr == nullptr) {
    body_start_ptr = &own_body_start.emplace();
    if (!request.parser.is_done()) {
      result.error = co_await read_body_start(request.client, request.client_buffer, request.parser,
                                              request.config.timeouts.client_body, *body_start_ptr);
      result.request_body_bytes = body_start_ptr->size;
      if (result.error != errc::ok) co_return result;
    }
  }
  BodyStart& body_start = *body_start_ptr;
  co_await run_attempts(
      request.balancer, request.config, request.websocket != nullptr, result,
      [&](TargetState& target, Lease& lease, Clock::time_point picked) -> awaitable<Attempt> {
        Exchange exchange(request, target, lease, result, body_start, picked);
        co_return co_await exchange.run();
      });
  co_return result;
}

awaitable<ForwardResult> forward_whole(WholeRequest request) {
  ForwardResult result;
  BodyStart relay;  // a pooled relay buffer for the response's pieces
  co_await run_attempts(
      request.balancer, request.config, false, result,
      [&](TargetState&, Lease& lease, Clock::time_point picked) -> awaitable<Attempt> {
        WholeExchange exchange(request, lease, result, relay.buffer(), picked);
        co_return co_await exchange.run();
      });
  co_return result;
}

}  // namespace tollgate::upstream

namespace tollgate::upstream {
namespace {

// Request body bytes kept while no answer came, so that a stream the upstream refused (GOAWAY,
// REFUSED_STREAM: never processed) can go again on another connection; a longer body is not.
constexpr std::size_t kReplayLimit = 64 * 1024;

// The request head as HTTP/2 fields: pseudo-headers first, names in lower case.
Fields h2_fields(const StreamRequest& r, const config::Target& target, bool grpc) {
  Fields fields;
  fields.emplace_back(":method", std::string(r.head.method_string()));
  fields.emplace_back(":scheme", target.tls ? "https" : "http");
  fields.emplace_back(":authority",
                      r.preserve_host ? std::string(r.head[http::field::host]) : target.authority);
  fields.emplace_back(":path", std::string(r.head.target()));
  for (const auto& field : r.head) {
    // TE goes as gRPC asks for it, below; :authority stands for Host.
    if (http_io::is_connection_specific(field.name()) || field.name() == http::field::te ||
        field.name() == http::field::host) {
      continue;
    }
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), http_io::ascii_lower);
    fields.emplace_back(std::move(name), std::string(field.value()));
  }
  if (grpc) fields.emplace_back("te", "trailers");  // gRPC servers ask for it
  return fields;
}

// One exchange over one upstream stream, the body going up while the answer comes down.
class StreamExchange {
 public:
  StreamExchange(StreamRequest& r, H2Call& call, ForwardResult& result, Clock::time_point picked,
                 std::optional<Clock::time_point> deadline, std::string& replay, bool& replayable,
                 bool& body_done)
      : r_(r),
        call_(call),
        result_(result),
        picked_(picked),
        deadline_(deadline),
        timeouts_(r.config.timeouts),
        replay_(replay),
        replayable_(replayable),
        body_done_(body_done) {}

  awaitable<errc> run() {
    // The body goes up in a coroutine of its own while this one relays the answer.
    const auto executor = co_await asio::this_coro::executor;
    Signal sent_done(executor);
    errc sent = errc::ok;
    bool sending = true;
    asio::co_spawn(executor, send_body(), [&](std::exception_ptr failure, errc e) {
      log_unexpected("upstream http2 request body")(failure);
      sent = failure ? errc::internal : e;
      sending = false;
      sent_done.notify();
    });
    r_.sink.follow(&call_);
    const errc answered = co_await relay_answer();
    r_.sink.follow(nullptr);
    // The answer is whole or failed: what is left of the body is not wanted (RFC 9113 §8.1).
    if (sending && !body_done_) call_.cancel(NGHTTP2_CANCEL);
    if (r_.body) r_.body->stop(true);
    while (sending) co_await sent_done.wait(Clock::time_point::max());
    if (r_.body) r_.body->stop(false);  // a refused stream's next attempt reads on
    if (answered == errc::ok) co_return errc::ok;
    // The answer's failure first; a client that went away shows as such.
    co_return answered == errc::upstream_bad_response&& sent != errc::ok&& sent !=
            errc::upstream_bad_response
        ? sent
        : answered;
  }

 private:
  Clock::time_point bound(Clock::duration d) const {
    const auto t = Clock::now() + d;
    return deadline_ ? std::min(t, *deadline_) : t;
  }

  awaitable<errc> send_body() {
    if (!r_.body) co_return errc::ok;
    // What a refused attempt took from the client goes first.
    if (!replay_.empty() || body_done_) {
      const errc e = co_await call_.send(replay_, body_done_, bound(timeouts_.upstream_send));
      if (e != errc::ok || body_done_) co_return e;
    }
    for (;;) {
      std::string piece;
      bool last = false;
      const errc read = co_await r_.body->read(piece, last, Clock::now() + timeouts_.client_body);
      if (read != errc::ok) {
        call_.cancel(NGHTTP2_CANCEL);
        co_return read;
      }
      if (piece.empty() && !last) co_return errc::ok;  // stopped: the answer is over
      result_.request_body_bytes += piece.size();
      if (replayable_) {
        replay_.append(piece);
        if (replay_.size() > kReplayLimit) {
          replayable_ = false;
          replay_.clear();
          replay_.shrink_to_fit();
        }
      }
      body_done_ = last;
      const errc e = co_await call_.send(piece, last, bound(timeouts_.upstream_send));
      if (e != errc::ok || last) co_return e;
    }
  }

  awaitable<errc> relay_answer() {
    if (const errc e = co_await call_.wait_head(bound(timeouts_.upstream_read)); e != errc::ok) {
      co_return e;
    }
    result_.status = call_.status;
    result_.upstream_duration = Clock::now() - picked_;
    http::response_header<> head;
    head.result(call_.status);
    for (const auto& [name, value] : call_.head_fields) head.insert(name, value);
    http_io::strip_hop_by_hop(head);
    head.insert(http::field::via, "2 tollgate");
    http_io::set_unlisted(head, http_io::kXRequestId, r_.request_id);
    result_.response_started = true;
    const bool head_sent = co_await r_.sink.head(head, call_.head_ends_stream);
    if (!head_sent) co_return client_gone();
    if (call_.head_ends_stream) co_return errc::ok;
    for (;;) {
      std::string piece;
      bool done = false;
      const errc e = co_await call_.read(piece, done, bound(timeouts_.upstream_read));
      if (e != errc::ok) co_return e;
      result_.body_bytes += piece.size();
      if (done) r_.sink.trailers(call_.trailers);
      const bool relayed = co_await r_.sink.body(piece, done);
      if (!relayed) co_return client_gone();
      if (done) co_return errc::ok;
    }
  }

  errc client_gone() {
    call_.cancel(NGHTTP2_CANCEL);
    return errc::bad_request;
  }

  StreamRequest& r_;
  H2Call& call_;
  ForwardResult& result_;
  const Clock::time_point picked_;
  const std::optional<Clock::time_point> deadline_;
  const config::Timeouts& timeouts_;
  std::string& replay_;
  bool& replayable_;
  bool& body_done_;
};

}  // namespace

awaitable<ForwardResult> forward_h2(StreamRequest r) {
  ForwardResult result;
  const bool grpc = r.grpc || r.balancer.config().protocol == config::Protocol::grpc;
  std::optional<Clock::time_point> deadline;
  if (r.grpc) {
    if (const auto timeout = http_io::parse_grpc_timeout(r.head["grpc-timeout"])) {
      deadline = Clock::now() + *timeout;
    }
  }
  std::string replay;
  bool replayable = true;
  bool body_done = false;
  TargetState* target = nullptr;
  TargetState* failed = nullptr;
  // At most two targets for a connect failure, and a few goes for streams the upstream refused.
  for (int attempt = 0, targets_tried = 0; attempt < 6; ++attempt) {
    if (!target) {
      if (targets_tried == 2 || !(target = r.balancer.pick(failed))) break;
      ++targets_tried;
    }
    result.target = target->target;
    InFlight in_flight(*target);
    const auto picked = Clock::now();
    result.upstream_duration = {};
    auto open_until = picked + r.config.timeouts.upstream_connect;
    if (deadline) open_until = std::min(open_until, *deadline);
    auto call = co_await target->h2->open(h2_fields(r, *target->target, grpc), r.body != nullptr,
                                          r.config.limits.max_response_header_bytes, open_until);
    if (!call) {
      result.error = static_cast<errc>(call.error().value());
      count_attempt(*target, result.error, {});
      if (deadline && Clock::now() >= *deadline) {
        result.error = errc::upstream_timeout;
        break;
      }
      if (result.error == errc::upstream_busy) break;
      r.balancer.mark_failed(*target);
      if (result.error != errc::upstream_timeout) result.error = errc::upstream_connect_failed;
      failed = target;
      target = nullptr;
      continue;
    }
    StreamExchange exchange(r, **call, result, picked, deadline, replay, replayable, body_done);
    result.error = co_await exchange.run();
    if (result.error == errc::ok) {
      count_attempt(*target, errc::ok, result.upstream_duration);
      r.balancer.mark_ok(*target);
      break;
    }
    if (deadline && Clock::now() >= *deadline) result.error = errc::upstream_timeout;
    // Never processed by the upstream: goes again, on another connection of the same target.
    if ((*call)->refused() && !result.response_started && replayable &&
        result.error == errc::upstream_bad_response) {
      continue;
    }
    count_attempt(*target, result.error, result.upstream_duration);
    break;
  }
  if (result.error == errc::ok || !grpc || !result.response_started) co_return result;
  // A gRPC answer broken off after its head still ends as gRPC answers do: with a status.
  auto code = http_io::GrpcStatus::unavailable;
  std::string_view message = "Upstream stream failed";
  if (result.error == errc::upstream_timeout) {
    code = http_io::GrpcStatus::deadline_exceeded;
    message = "Deadline exceeded";
  } else if (result.error == errc::body_too_large) {
    code = http_io::GrpcStatus::resource_exhausted;
    message = "Request body too large";
  }
  r.sink.trailers({{"grpc-status", std::to_string(static_cast<unsigned>(code))},
                   {"grpc-message", http_io::grpc_percent_encode(message)}});
  co_await r.sink.body({}, true);
  co_return result;
}

}  // namespace tollgate::upstream
