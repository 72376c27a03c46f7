#include "session.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "access_log.hpp"
#include "request_flow.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/common/exact_allocator.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http/stream.hpp"
#include "tollgate/http/trace_context.hpp"
#include "tollgate/http/websocket.hpp"
#include "tollgate/http2/server.hpp"
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

// An HTTP/1.1 request to an HTTP/2 upstream: the body read from the parser piece by piece as it
// goes up, the answer written as it comes down (chunked when its length is unknown), its trailers
// as the chunked coding's trailer fields.
class H1ToH2 final : public upstream::BodySource, public upstream::ResponseSink {
 public:
  H1ToH2(http_io::Stream& stream, beast::flat_buffer& buffer, RequestParser& parser,
         upstream::BodyStart* body_start, const config::Timeouts& timeouts, bool keep_alive,
         unsigned version, bool head_request)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        body_start_(body_start),
        timeouts_(timeouts),
        keep_alive_(keep_alive),
        version_(version),
        head_request_(head_request) {}

  bool keep_alive() const { return keep_alive_; }

  awaitable<errc> read(std::string& out, bool& last, Clock::time_point deadline) override {
    last = false;
    if (body_start_) {
      out.append(body_start_->buffer().data(), body_start_->size);
      body_start_ = nullptr;
      last = parser_.is_done();
      co_return errc::ok;
    }
    if (stopped_) co_return errc::ok;
    if (parser_.is_done()) {
      last = true;
      co_return errc::ok;
    }
    // Parsed straight into `out`: no piece buffer in this coroutine's frame, no copy.
    const std::size_t before = out.size();
    out.resize(before + kPiece);
    auto& body = parser_.get().body();
    body.data = out.data() + before;
    body.size = kPiece;
    stream_.expires_at(deadline);
    error_code ec;
    co_await http::async_read_some(stream_, buffer_, parser_,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      out.resize(before);
      co_return ec == http::error::body_limit ? errc::body_too_large : errc::bad_request;
    }
    out.resize(before + kPiece - body.size);
    last = parser_.is_done();
    co_return errc::ok;
  }

  void stop(bool stopped) override {
    stopped_ = stopped;
    if (stopped && !parser_.is_done()) keep_alive_ = false;  // the rest is never read
  }

  awaitable<bool> head(http::response_header<>& head, bool last) override {
    head.version(11);
    chunked_ = !last && !head_request_ && head.find(http::field::content_length) == head.end();
    if (last && !head_request_) head.set(http::field::content_length, "0");
    if (chunked_ && version_ < 11) {
      chunked_ = false;  // an HTTP/1.0 client learns the end from the close
      keep_alive_ = false;
    }
    if (chunked_) head.set(http::field::transfer_encoding, "chunked");
    if (!keep_alive_) {
      head.set(http::field::connection, "close");
    } else if (version_ < 11) {
      head.set(http::field::connection, "keep-alive");  // HTTP/1.0 closes unless told
    }
    std::string wire;
    http_io::append_head(head, wire);
    co_return co_await write(wire);
  }

  void trailers(const upstream::Fields& fields) override { trailers_ = fields; }

  awaitable<bool> body(std::string_view piece, bool last) override {
    if (head_request_) co_return true;
    std::string wire;
    if (!chunked_) co_return piece.empty() || co_await write(piece);
    if (!piece.empty()) {
      wire.append(fmt::format("{:x}\r\n", piece.size())).append(piece).append("\r\n");
    }
    if (last) {
      wire.append("0\r\n");
      for (const auto& [name, value] : trailers_)
        wire.append(name).append(": ").append(value).append("\r\n");
      wire.append("\r\n");
    }
    co_return wire.empty() || co_await write(wire);
  }

 private:
  awaitable<bool> write(std::string_view bytes) {
    error_code ec;
    stream_.expires_after(timeouts_.client_send);
    co_await asio::async_write(stream_, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  static constexpr std::size_t kPiece = 16 * 1024;  // body bytes one read takes at most

  http_io::Stream& stream_;
  beast::flat_buffer& buffer_;
  RequestParser& parser_;
  upstream::BodyStart* body_start_;
  const config::Timeouts& timeouts_;
  bool keep_alive_;
  unsigned version_;
  bool head_request_;
  bool chunked_ = false;
  bool stopped_ = false;
  upstream::Fields trailers_;
};

class Session final : public SessionHandle, private Framing {
 public:
  // `received`: bytes already read from the connection (the start of its first request).
  Session(Worker& worker, http_io::Stream& stream, std::string peer, asio::ip::address peer_address,
          std::string_view received)
      : worker_(worker),
        stream_(stream),
        peer_(std::move(peer)),
        peer_address_(peer_address),
        request_(worker) {
    if (!received.empty()) {
      buffer_.commit(asio::buffer_copy(buffer_.prepare(received.size()), asio::buffer(received)));
    }
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
  // would stay taken for as long as the connection idles.
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
    const config::GatewayConfig& config = *generation.config;
    request_.start(generation, peer_);
    grpc = false;  // until this request's head says otherwise
    std::size_t head_size = 0;
    bool closed = false;
    errc e = co_await read_head(config, head_size, closed);
    if (closed) co_return false;
    request_.record.bytes_in = head_size;

    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(config.limits.max_header_bytes + 2));
    if (config.limits.max_body_bytes > 0) {
      parser.body_limit(config.limits.max_body_bytes);
    } else {
      parser.body_limit(boost::none);
    }
    if (e == errc::ok) e = parse_head(parser, head_size);
    std::string request_id = worker_.next_request_id();
    request_.record.request_id = request_id;
    if (e != errc::ok) {
      co_await answer_error(e, request_id, 11);
      request_.finish(http_status_for(e));
      co_return false;
    }

    parser_ = &parser;
    const bool keep = co_await serve_request(*this, generation, parser.get(), std::move(request_id),
                                             {peer_, peer_address_}, request_);
    parser_ = nullptr;
    co_return keep;
  }

  // Framing, for one HTTP/1.1 request on this connection.
  bool body_pending() const override { return !parser_->is_done(); }
  bool client_keep_alive() const override { return parser_->keep_alive(); }
  bool chunked() const override { return parser_->chunked(); }
  bool is_tls() const override { return stream_.is_tls(); }

  awaitable<void> answer(http::status status, std::string_view message, std::string_view error,
                         std::string_view request_id, bool keep_alive,
                         const Headers& headers) override {
    co_await answer(status, message, error, request_id, parser_->get().version(), keep_alive,
                    headers);
  }

  awaitable<errc> read_whole_body(const config::GatewayConfig& config,
                                  upstream::BodyStart& start) override {
    bound_buffer(kBodyPhaseBufferLimit);
    const errc read = co_await upstream::read_body_start(stream_, buffer_, *parser_,
                                                         config.timeouts.client_body, start);
    if (read != errc::ok) co_return read;
    co_return parser_->is_done() ? errc::ok : errc::body_too_large;
  }

  // Not a coroutine itself on the HTTP/1.1 path: the forwarder's frame is the only one this adds
  // to a request.
  awaitable<upstream::ForwardResult> forward(filters::RequestHead& head,
                                             ForwardCall call) override {
    if (call.balancer.config().protocol != config::Protocol::http1) {
      call.added.insert_into(head);
      return forward_to_h2(head, call);
    }
    RequestParser& parser = *parser_;
    if (parser.chunked()) parser.get().chunked(true);  // re-framed after the hop-by-hop strip
    bound_buffer(kBodyPhaseBufferLimit);
    return upstream::forward(upstream::ForwardRequest{.client = stream_,
                                                      .client_buffer = buffer_,
                                                      .parser = parser,
                                                      .balancer = call.balancer,
                                                      .config = call.config,
                                                      .keep_alive = call.keep_alive,
                                                      .draining = worker_.draining_flag(),
                                                      .preserve_host = call.preserve_host,
                                                      .head_request = call.head_request,
                                                      .client_version = call.client_version,
                                                      .request_id = call.request_id,
                                                      .added = &call.added,
                                                      .body_start = call.body_start,
                                                      .websocket = call.websocket});
  }

  // To an h2 or grpc upstream: the body streamed from the parser, the answer relayed as it comes.
  awaitable<upstream::ForwardResult> forward_to_h2(filters::RequestHead& head, ForwardCall call) {
    RequestParser& parser = *parser_;
    bound_buffer(kBodyPhaseBufferLimit);
    H1ToH2 exchange(stream_, buffer_, parser, call.body_start, call.config.timeouts,
                    call.keep_alive && !worker_.draining(), call.client_version, call.head_request);
    const bool has_body = call.body_start || !parser.is_done();
    upstream::ForwardResult result = co_await upstream::forward_h2(
        upstream::StreamRequest{.head = head,
                                .body = has_body ? &exchange : nullptr,
                                .balancer = call.balancer,
                                .config = call.config,
                                .preserve_host = call.preserve_host,
                                .request_id = call.request_id,
                                .grpc = grpc,
                                .sink = exchange});
    result.keep_alive = exchange.keep_alive() && parser.is_done();
    co_return result;
  }

  // The connections after a 101: bytes both ways until either side ends the tunnel. Its log line
  // comes once it is over: status 101, the bytes each way, how long it stayed open.
  awaitable<void> run_tunnel(upstream::Lease& lease, config::Duration idle,
                             RequestRecord& request) override {
    upstream::Tunnel tunnel(stream_, buffer_, lease.stream(), lease.buffer(), idle);
    tunnel_ = &tunnel;
    if (worker_.draining()) tunnel.close_by(worker_.drain_deadline());
    worker_.connections().tunnels.add();
    co_await tunnel.run();
    worker_.connections().tunnels.subtract();
    tunnel_ = nullptr;
    lease.discard();
    request.record.bytes_in += tunnel.bytes_up();
    request.record.bytes_out += tunnel.bytes_down();
  }

  errc parse_head(RequestParser& parser, std::size_t head_size) {
    const errc e = parse_request_head(
        parser, std::string_view(static_cast<const char*>(buffer_.data().data()), head_size));
    if (e == errc::ok) buffer_.consume(head_size);
    return e;
  }

  awaitable<bool> send_continue() override {
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
    http_io::set_unlisted(response, http_io::kXRequestId, request_id);
    for (const auto& [name, value] : headers) response.insert(name, value);
    response.body() = json_body(message, request_id, error);
    if (grpc) {
      // The same gRPC answer as over HTTP/2: 200, the status in grpc-status, no body.
      response.result(http::status::ok);
      for (const auto& [name, value] : grpc_answer_fields(status, message)) {
        response.set(name, value);
      }
      response.body().clear();
    }
    response.keep_alive(keep_alive);
    if (!keep_alive) response.set(http::field::connection, "close");
    response.prepare_payload();
    request_.record.bytes_out = request_.head_request ? 0 : response.body().size();
    error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    if (request_.head_request) {
      // The length a GET would get, and no body (RFC 9110 §9.3.2): a kept-alive client would
      // read the body as the start of its next response.
      http::response_serializer<http::string_body> serializer{response};
      co_await http::async_write_header(stream_, serializer,
                                        asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    co_await http::async_write(stream_, response, asio::redirect_error(asio::use_awaitable, ec));
  }

  Worker& worker_;
  http_io::Stream& stream_;
  beast::flat_buffer buffer_;
  std::string peer_;
  asio::ip::address peer_address_;
  bool idle_ = false;
  upstream::Tunnel* tunnel_ = nullptr;  // while the connection carries a WebSocket tunnel
  RequestRecord request_;
  RequestParser* parser_ = nullptr;  // the request being served, once its head is parsed
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

// On a plain listener with http2: reads until the bytes are the HTTP/2 preface (true) or cannot be
// (false); `received` keeps what was read, for whichever protocol it is. The connection is idle
// until its first byte, so the wait is client_idle's, and the rest of the preface client_header's.
awaitable<bool> starts_with_preface(http_io::Stream& stream, std::string& received,
                                    const config::Timeouts& timeouts, bool& closed) {
  std::array<char, http2::kClientPreface.size()> chunk;
  while (received.size() < http2::kClientPreface.size()) {
    stream.expires_after(received.empty() ? timeouts.client_idle : timeouts.client_header);
    error_code ec;
    const std::size_t n = co_await stream.async_read_some(
        asio::buffer(chunk.data(), http2::kClientPreface.size() - received.size()),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      closed = true;
      co_return false;
    }
    received.append(chunk.data(), n);
    if (!http2::kClientPreface.starts_with(received)) co_return false;
  }
  co_return true;
}

bool alpn_chose_h2(http_io::Stream& stream) {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(stream.tls().native_handle(), &protocol, &length);
  return std::string_view(reinterpret_cast<const char*>(protocol), protocol ? length : 0) == "h2";
}

awaitable<void> run_session(Worker& worker, tcp::socket socket, ssl::context* tls, bool http2) {
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
  std::string received;
  bool h2 = false;
  if (http2 && tls) h2 = alpn_chose_h2(stream);
  if (http2 && !tls) {
    bool closed = false;
    h2 = co_await starts_with_preface(stream, received, worker.generation()->config->timeouts,
                                      closed);
    if (closed) co_return;
  }
  if (h2) {
    co_await http2::serve_connection(worker, stream, remote.address().to_string(), remote.address(),
                                     received);
  } else {
    Session session(worker, stream, remote.address().to_string(), remote.address(), received);
    co_await session.run();
  }
  co_await close_gracefully(stream);
}

}  // namespace tollgate::server
