#include "tollgate/http2/server.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/parallel_group.hpp>

#include "../server/request_flow.hpp"
#include "tollgate/common/signal.hpp"
#include "tollgate/common/spawn.hpp"
#include "tollgate/http/grpc.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/http2/session_io.hpp"

namespace tollgate::http2 {
namespace {

using Clock = std::chrono::steady_clock;
using server::Headers;
using upstream::Fields;

constexpr std::size_t kReadChunk = 16 * 1024;
// Response bytes one stream holds that the client has not taken yet (its flow-control window may
// be shut): past this the stream stops reading from its upstream until they go.
constexpr std::size_t kStreamBacklog = 64 * 1024;
// CONTINUATION frames after one HEADERS frame (nghttp2's default): a header block never ends
// otherwise (CVE-2024-27316's flood).
constexpr std::size_t kMaxContinuations = 8;
constexpr std::int32_t kLastStreamId = 0x7fffffff;

// One stream: the request as it arrives, and the response bytes nghttp2 has not taken yet.
struct Stream {
  Stream(std::int32_t stream_id, const asio::any_io_executor& executor)
      : id(stream_id), signal(executor), body_signal(executor) {}

  const std::int32_t id;
  // The request.
  filters::RequestHead head;
  std::string method, scheme, path, authority;
  std::string cookie;  // RFC 9113 §8.2.3: crumbs joined into one field for HTTP/1.1
  std::size_t header_bytes = 0;
  bool header_too_large = false;
  std::string body;
  bool body_done = false;
  bool body_too_large = false;
  // The body goes up as it comes (an HTTP/2 upstream): its window opens as the upstream takes it
  // (the window bounds what it holds), and max_body_bytes bounds its whole length as it does an
  // HTTP/1.1 body's.
  bool streaming = false;
  std::uint64_t streamed = 0;  // bytes of the body received while streaming
  std::size_t counted = 0;     // bytes of `body` counted in the connection's body_bytes_
  std::size_t unconsumed = 0;  // bytes of `body` whose stream window is not given back yet
  Signal body_signal;          // more of the body arrived, or the stream ended
  // The response.
  std::string out;
  std::size_t out_taken = 0;
  bool out_last = false;   // the last byte of the response is in `out`
  bool eof_given = false;  // nghttp2 took the last byte
  bool submitted = false;  // the response head went to nghttp2
  bool closed = false;     // reset by either side, or the connection is gone
  // The upstream stream the answer comes from (an HTTP/2 upstream): reset when this one ends
  // first, so that a client that went away holds nothing upstream.
  upstream::H2Call* upstream = nullptr;
  Fields trailers;  // sent after the last byte of the response, when there are any
  Signal signal;    // the stream's coroutine waits on it for room in the response

  std::size_t backlog() const { return out.size() - out_taken; }
};

class Connection final : public server::SessionHandle,
                         public std::enable_shared_from_this<Connection> {
 public:
  Connection(server::Worker& worker, http_io::Stream& stream, std::string peer,
             asio::ip::address peer_address)
      : worker_(worker),
        stream_(stream),
        peer_(std::move(peer)),
        peer_address_(peer_address),
        tls_(stream.is_tls()),
        generation_(worker.generation()),
        limits_(generation_->config->limits),
        timeouts_(generation_->config->timeouts),
        wake_(stream.get_executor()),
        resets_left_(limits_.http2_max_resets) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // Closed streams are not kept for priorities: a client opening and closing many would
    // otherwise grow the list.
    nghttp2_option_set_no_closed_streams(option, 1);
    // Window updates are ours to send: a streamed body's window opens as its upstream takes it.
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_option_set_max_continuations(option, kMaxContinuations);
    nghttp2_option_set_max_settings(option, 32);         // entries in one SETTINGS frame
    nghttp2_option_set_max_outbound_ack(option, 1'000);  // queued SETTINGS and PING ACKs
    nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    worker_.add_session(this);
  }
  ~Connection() { nghttp2_session_del(session_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void close_if_idle() override { wake(); }  // the loop sends GOAWAY once it sees the drain

  awaitable<void> run(std::string_view received) {
    const std::array<nghttp2_settings_entry, 3> settings{{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.http2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.http2_initial_window_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<std::uint32_t>(limits_.max_header_bytes)},
    }};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
    // WINDOW_UPDATE on stream 0: the streams' bodies together may arrive this far ahead.
    nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0,
        static_cast<std::int32_t>(limits_.http2_connection_window_size));
    heard_ = Clock::now();
    bool open = receive(received);
    std::vector<std::uint8_t> input;
    while (open) {
      start_ready_streams();
      if (!co_await flush()) break;
      if (worker_.draining() && !goaway_) {
        // Streams already taken are answered; no new one is.
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                              nullptr, 0);
        goaway_ = true;
        continue;
      }
      if (goaway_ && streams_.empty()) break;
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
      if (!stream_.tls_input_buffered()) {
        const auto wait = co_await wait_readable();
        if (wait == Wait::woken) continue;
        if (wait == Wait::idle) {
          nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
          goaway_ = terminated_ = true;
          continue;
        }
        if (wait == Wait::failed) break;
        if (wait == Wait::silent) {
          // A client that answers no PING is gone (a dropped route leaves no FIN): its streams
          // end now, not when their upstreams answer.
          if (ping_sent_) {
            spdlog::info("http2 {}: no answer to PING: closing the connection", peer_);
            break;
          }
          nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
          ping_sent_ = true;
          continue;
        }
      }
      input.resize(kReadChunk);
      error_code ec;
      std::size_t n = 0;
      if (stream_.is_tls()) {
        // A TLS record may arrive in pieces: the read waits for the rest.
        stream_.expires_after(timeouts_.client_header);
        n = co_await stream_.async_read_some(asio::buffer(input),
                                             asio::redirect_error(asio::use_awaitable, ec));
      } else {
        n = stream_.socket().read_some(asio::buffer(input), ec);
        if (ec == asio::error::would_block) continue;
      }
      if (ec) break;
      open = receive({reinterpret_cast<const char*>(input.data()), n});
    }
    if (!open) co_await flush();  // a GOAWAY nghttp2 queued for the error, if the client reads
    end();
  }

 private:
  enum class Wait { readable, woken, idle, silent, failed };

  // Feeds bytes to nghttp2; false when the connection must end.
  bool receive(std::string_view bytes) {
    if (bytes.empty()) return true;
    heard_ = Clock::now();
    ping_sent_ = false;
    const auto consumed = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (consumed < 0) {
      spdlog::debug("http2 {}: {}", peer_, nghttp2_strerror(static_cast<int>(consumed)));
      return false;
    }
    return true;
  }

  // False when the client is gone or too slow.
  awaitable<bool> flush() {
    return http2::flush(session_, stream_, output_, timeouts_.client_send);
  }

  // Waits until the socket is readable or a stream has something to send. A connection with no
  // open stream may idle for timeouts.client_idle; one with streams open may be silent for
  // timeouts.client_ping (when set) before a PING, and as long again after it.
  awaitable<Wait> wait_readable() {
    if (woken_) {
      woken_ = false;
      co_return Wait::woken;
    }
    const bool idle = streams_.empty();
    auto deadline = Clock::time_point::max();
    if (idle) {
      deadline = Clock::now() + timeouts_.client_idle;
    } else if (timeouts_.client_ping.count() > 0) {
      deadline = heard_ + timeouts_.client_ping * (ping_sent_ ? 2 : 1);
    }
    wake_.expires_at(deadline);
    // A connection with no stream open counts as idle, as a keep-alive one between requests does.
    if (idle) worker_.connections().idle.add();
    auto [order, socket_ec, timer_ec] =
        co_await asio::experimental::make_parallel_group(
            stream_.socket().async_wait(tcp::socket::wait_read, asio::deferred),
            wake_.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (idle) worker_.connections().idle.subtract();
    if (woken_) {
      woken_ = false;
      co_return Wait::woken;
    }
    if (order[0] == 0) co_return socket_ec ? Wait::failed : Wait::readable;
    if (timer_ec) co_return Wait::woken;
    co_return idle ? Wait::idle : Wait::silent;
  }

  void start_ready_streams() {
    for (auto& stream : ready_) {
      if (stream->closed || terminated_) continue;
      asio::co_spawn(stream_.get_executor(), serve_stream(shared_from_this(), std::move(stream)),
                     log_unexpected("http2 stream"));
    }
    ready_.clear();
  }

  // The connection is over: every stream still served learns it, and the worker stops counting it.
  void end() {
    ended_ = true;
    for (auto& [id, stream] : streams_) {
      stream->closed = true;
      if (stream->upstream) stream->upstream->cancel(NGHTTP2_CANCEL);
      stream->signal.notify();
      stream->body_signal.notify();
    }
    streams_.clear();
    ready_.clear();
    worker_.remove_session(this);
  }

 public:
  // For the streams' coroutines.
  void wake() {
    woken_ = true;
    wake_.cancel();
  }
  bool ended() const noexcept { return ended_; }
  nghttp2_session* session() noexcept { return session_; }
  server::Worker& worker() noexcept { return worker_; }
  std::string_view peer() const noexcept { return peer_; }
  const asio::ip::address& peer_address() const noexcept { return peer_address_; }
  bool is_tls() const noexcept { return tls_; }

  void reset(Stream& stream, std::uint32_t error) {
    if (stream.closed || ended_) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, error);
    wake();
  }

  // A stream's response bytes: nghttp2 asks for them as the client's windows allow.
  static ssize_t read_response(nghttp2_session*, std::int32_t, std::uint8_t* buffer,
                               std::size_t length, std::uint32_t* flags,
                               nghttp2_data_source* source, void* user_data);

 private:
  static Connection& self(void* user_data) { return *static_cast<Connection*>(user_data); }

  Stream* find(std::int32_t id) {
    const auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  // A client that cannot keep to the limits gets GOAWAY ENHANCE_YOUR_CALM, and the connection
  // closes once it is sent.
  void calm_down(const char* why) {
    spdlog::info("http2 {}: {}: closing the connection", peer_, why);
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    goaway_ = terminated_ = true;
  }

  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    Connection& c = self(user_data);
    // One header block's encoded size (HEADERS and its CONTINUATIONs): past twice what its decoded
    // list may hold, no valid request can follow.
    if (hd->type == NGHTTP2_HEADERS) c.header_block_bytes_ = hd->length;
    if (hd->type == NGHTTP2_CONTINUATION) c.header_block_bytes_ += hd->length;
    if ((hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION) &&
        c.header_block_bytes_ > 2 * c.limits_.max_header_bytes + 1024 && !c.goaway_) {
      c.calm_down("header block too large");
    }
    return 0;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Connection& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    c.streams_[frame->hd.stream_id] =
        std::make_shared<Stream>(frame->hd.stream_id, c.stream_.get_executor());
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    Connection& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers are not forwarded, as over HTTP/1.1
    }
    Stream* s = c.find(frame->hd.stream_id);
    if (!s) return 0;
    // RFC 9113 §6.5.2's measure of a header list: every field counts 32 bytes more.
    s->header_bytes += name_length + value_length + 32;
    if (s->header_bytes > c.limits_.max_header_bytes) s->header_too_large = true;
    if (s->header_too_large) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), name_length);
    const std::string_view v(reinterpret_cast<const char*>(value), value_length);
    if (n == ":method") {
      s->method = v;
    } else if (n == ":scheme") {
      s->scheme = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (n == "cookie") {
      if (!s->cookie.empty()) s->cookie.append("; ");
      s->cookie.append(v);
    } else if (!n.starts_with(':')) {
      s->head.insert(n, v);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Connection& c = self(user_data);
    const std::int32_t id = frame->hd.stream_id;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = c.find(id);
        if (!s) break;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
          s->body_done = true;
          s->body_signal.notify();
        }
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) c.ready_.push_back(c.streams_[id]);
        break;
      }
      case NGHTTP2_DATA:
        if (Stream* s = c.find(id); s && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
          s->body_done = true;
          s->body_signal.notify();
        }
        break;
      case NGHTTP2_RST_STREAM:
        // CVE-2023-44487 (rapid reset): every reset costs the connection one of its budget, and
        // every answered stream gives one back. A client that resets what it asks for spends it.
        if (c.resets_left_ > 0) --c.resets_left_;
        if (c.resets_left_ == 0 && !c.goaway_) c.calm_down("too many streams reset");
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                           const std::uint8_t* data, std::size_t length, void* user_data) {
    Connection& c = self(user_data);
    // The connection's window opens at once (what streams hold is bounded by their own windows).
    nghttp2_session_consume_connection(session, length);
    Stream* s = c.find(id);
    if (!s) return 0;
    const std::uint64_t max = c.limits_.max_body_bytes;
    if (s->streaming) {
      if (s->body_too_large) {
        nghttp2_session_consume_stream(session, id, length);
        return 0;
      }
      s->streamed += length;
      if (max > 0 && s->streamed > max) {
        nghttp2_session_consume_stream(session, id, length);
        s->body_too_large = true;
        s->body_signal.notify();
        return 0;
      }
      s->body.append(reinterpret_cast<const char*>(data), length);
      s->unconsumed += length;
      s->body_signal.notify();
      return 0;
    }
    nghttp2_session_consume_stream(session, id, length);
    if (s->body_too_large) return 0;
    // The bodies of one connection's streams are held whole until they go up: together they stay
    // within max_body_bytes (0: no bound), so concurrent streams cannot multiply it.
    if (max > 0 && c.body_bytes_ + length > max) {
      s->body_too_large = true;
      c.body_bytes_ -= s->counted;
      s->counted = 0;
      s->body.clear();
      s->body.shrink_to_fit();
      s->body_signal.notify();
      return 0;
    }
    s->body.append(reinterpret_cast<const char*>(data), length);
    s->counted += length;
    c.body_bytes_ += length;
    return 0;
  }

  // A HEADERS frame that ends a response (a gRPC trailers-only answer, or trailers) is out: the
  // stream's answer is whole. Until then a reset of the stream would take its place.
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Connection& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    if (Stream* s = c.find(frame->hd.stream_id)) {
      s->eof_given = true;
      c.resets_left_ = std::min(c.resets_left_ + 1, c.limits_.http2_max_resets);
      s->signal.notify();
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user_data) {
    Connection& c = self(user_data);
    const auto it = c.streams_.find(id);
    if (it == c.streams_.end()) return 0;
    Stream& s = *it->second;
    s.closed = true;
    if (s.upstream) s.upstream->cancel(NGHTTP2_CANCEL);
    c.body_bytes_ -= s.counted;
    s.counted = 0;
    s.body.clear();
    s.signal.notify();
    s.body_signal.notify();
    c.streams_.erase(it);
    // The last stream id a client may use (RFC 9113 §5.1.1): once it is over the connection can
    // carry nothing more, and ends.
    if (id == kLastStreamId && !c.goaway_) {
      nghttp2_submit_goaway(c.session_, NGHTTP2_FLAG_NONE, kLastStreamId, NGHTTP2_NO_ERROR, nullptr,
                            0);
      c.goaway_ = true;
    }
    return 0;
  }

  static awaitable<void> serve_stream(std::shared_ptr<Connection> connection,
                                      std::shared_ptr<Stream> stream);

  server::Worker& worker_;
  http_io::Stream& stream_;
  std::string peer_;
  asio::ip::address peer_address_;
  bool tls_;  // the streams may outlive stream_, which ends with the driving coroutine
  // The configuration the connection started on: its settings and timeouts.
  std::shared_ptr<server::Generation> generation_;
  const config::Limits& limits_;
  const config::Timeouts& timeouts_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;  // open request streams
  std::vector<std::shared_ptr<Stream>> ready_;  // whose head arrived, to start after the read
  std::string output_;
  asio::steady_timer wake_;  // cancelled when a stream has something to send
  bool woken_ = false;
  bool goaway_ = false;      // GOAWAY submitted: no new stream is taken
  bool terminated_ = false;  // and the ones taken are not served either
  bool ended_ = false;
  std::uint32_t resets_left_;
  std::size_t header_block_bytes_ = 0;
  std::uint64_t body_bytes_ = 0;  // request bodies held, over all streams
  Clock::time_point heard_;       // the client's last bytes
  bool ping_sent_ = false;        // a PING went out since
  friend class StreamFraming;
};

ssize_t Connection::read_response(nghttp2_session*, std::int32_t, std::uint8_t* buffer,
                                  std::size_t length, std::uint32_t* flags,
                                  nghttp2_data_source* source, void* user_data) {
  Connection& c = self(user_data);
  Stream& s = *static_cast<Stream*>(source->ptr);
  const std::size_t n = std::min(length, s.backlog());
  if (n > 0) std::memcpy(buffer, s.out.data() + s.out_taken, n);
  s.out_taken += n;
  if (s.out_taken == s.out.size()) {
    s.out.clear();
    s.out_taken = 0;
  }
  if (s.out_last && s.backlog() == 0) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s.trailers.empty()) {
      std::vector<nghttp2_nv> fields;
      for (const auto& [name, value] : s.trailers) {
        fields.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())),
                          name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
      }
      // The trailers' HEADERS frame ends the stream instead of this DATA frame (eof_given once it
      // is sent: on_frame_send).
      if (nghttp2_submit_trailer(c.session_, s.id, fields.data(), fields.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        s.signal.notify();
        return static_cast<ssize_t>(n);
      }
    }
    s.eof_given = true;
    c.resets_left_ = std::min(c.resets_left_ + 1, c.limits_.http2_max_resets);
  } else if (n == 0) {
    return NGHTTP2_ERR_DEFERRED;
  }
  s.signal.notify();  // room again
  return static_cast<ssize_t>(n);
}

// An HTTP/2 stream as serve_request() sees it: the body is read whole before it goes up (within
// max_body_bytes), and the answer goes out through nghttp2 as the client's windows allow.
class StreamFraming final : public server::Framing, public upstream::ResponseSink {
 public:
  StreamFraming(Connection& connection, Stream& stream)
      : c_(connection),
        s_(stream),
        generation_(connection.worker().generation()),
        timeouts_(generation_->config->timeouts) {}

  awaitable<void> run() {
    // Each stream runs on the configuration current when it starts, as each HTTP/1.1 request does.
    server::Generation& generation = *generation_;
    server::RequestRecord request(c_.worker());
    request.start(generation, c_.peer());
    std::string request_id = c_.worker().next_request_id();
    request.record.request_id = request_id;
    request.record.bytes_in = s_.header_bytes;
    request.record.method = s_.method.empty() ? "-" : std::string_view(s_.method);
    const errc error = build_head();
    grpc = http_io::is_grpc(s_.head[http::field::content_type]);
    if (error != errc::ok) {
      co_await answer(http_status_for(error), public_message_for(error), "", request_id, false, {});
      request.finish(http_status_for(error));
    } else {
      co_await server::serve_request(*this, generation, s_.head, std::move(request_id),
                                     {c_.peer(), c_.peer_address()}, request);
    }
    if (!s_.out_last) {
      c_.reset(s_, NGHTTP2_INTERNAL_ERROR);  // the answer broke off
      co_return;
    }
    // The stream's coroutine lives until the client took the whole answer, so that a client that
    // does not read (a shut window) holds it no longer than client_send allows.
    if (!co_await wait_for_backlog(0)) co_return;
    // The answer is complete before the request: RFC 9113 §8.1 lets the rest go unread.
    if (!s_.body_done && !s_.closed) c_.reset(s_, NGHTTP2_NO_ERROR);
  }

  // Framing.
  bool body_pending() const override { return !s_.body_done; }
  bool client_keep_alive() const override { return true; }
  bool chunked() const override { return false; }
  bool is_tls() const override { return c_.is_tls(); }

  awaitable<void> answer(http::status status, std::string_view message, std::string_view error,
                         std::string_view request_id, bool, const Headers& headers) override {
    if (grpc) {
      // Trailers only (one HEADERS frame that ends the stream), as a gRPC server answers a call
      // it fails before any message.
      http::response_header<> head;
      head.result(http::status::ok);
      head.set(http::field::server, "tollgate");
      http_io::set_unlisted(head, http_io::kXRequestId, request_id);
      for (const auto& [name, value] : headers) head.insert(name, value);
      for (const auto& [name, value] : server::grpc_answer_fields(status, message)) {
        head.set(name, value);
      }
      if (!submit(head, /*end_stream=*/true)) co_return;
      s_.out_last = true;  // eof_given once the frame is sent (on_frame_send)
      c_.wake();
      co_return;
    }
    http::response_header<> head;
    head.result(status);
    head.set(http::field::server, "tollgate");
    head.set(http::field::content_type, "application/json");
    http_io::set_unlisted(head, http_io::kXRequestId, request_id);
    for (const auto& [name, value] : headers) head.insert(name, value);
    std::string body = server::json_body(message, request_id, error);
    head.set(http::field::content_length, std::to_string(body.size()));
    if (head_request_) body.clear();
    if (!submit(head)) co_return;
    s_.out = std::move(body);
    s_.out_taken = 0;
    s_.out_last = true;
    nghttp2_session_resume_data(c_.session(), s_.id);
    c_.wake();
  }

  awaitable<bool> send_continue() override {
    if (s_.closed || c_.ended()) co_return false;
    const nghttp2_nv status = nv(":status", "100");
    nghttp2_submit_headers(c_.session(), NGHTTP2_FLAG_NONE, s_.id, nullptr, &status, 1, nullptr);
    c_.wake();
    co_return true;
  }

  awaitable<errc> read_whole_body(const config::GatewayConfig&,
                                  upstream::BodyStart& start) override {
    if (const errc e = co_await wait_for_body(); e != errc::ok) co_return e;
    start.request_has_body = true;
    if (s_.body.size() > start.buffer().size()) co_return errc::body_too_large;
    std::memcpy(start.buffer().data(), s_.body.data(), s_.body.size());
    start.size = s_.body.size();
    co_return errc::ok;
  }

  awaitable<upstream::ForwardResult> forward(filters::RequestHead& head,
                                             server::ForwardCall call) override {
    call.added.insert_into(head);  // the head goes out through nghttp2 or as a whole
    if (call.balancer.config().protocol != config::Protocol::http1) {
      co_return co_await forward_streamed(head, call);
    }
    upstream::ForwardResult result;
    if (const errc e = co_await wait_for_body(); e != errc::ok) {
      result.error = e;
      co_return result;
    }
    const std::string_view body =
        call.body_start ? std::string_view(call.body_start->buffer().data(), call.body_start->size)
                        : std::string_view(s_.body);
    // The upstream learns the body's length from Content-Length (HTTP/2 framed it with DATA).
    if (!body.empty() || head.find(http::field::content_length) != head.end()) {
      head.set(http::field::content_length, std::to_string(body.size()));
    }
    result =
        co_await upstream::forward_whole(upstream::WholeRequest{.head = head,
                                                                .body = body,
                                                                .balancer = call.balancer,
                                                                .config = call.config,
                                                                .preserve_host = call.preserve_host,
                                                                .head_request = call.head_request,
                                                                .request_id = call.request_id,
                                                                .sink = *this});
    result.request_body_bytes = body.size();
    co_return result;
  }

  awaitable<void> run_tunnel(upstream::Lease&, config::Duration, server::RequestRecord&) override {
    co_return;  // no Upgrade over HTTP/2 (nghttp2 refuses the header)
  }

  // ResponseSink.
  awaitable<bool> head(http::response_header<>& head, bool last) override {
    if (!submit(head, last)) co_return false;
    if (last) s_.out_last = true;  // eof_given once the frame is sent (on_frame_send)
    co_return true;
  }

  void follow(upstream::H2Call* call) override { s_.upstream = call; }

  void trailers(const Fields& fields) override {
    for (const auto& [name, value] : fields) {
      // RFC 9113 §8.1: no pseudo-header and no connection-specific field in trailers.
      if (name.starts_with(':') || name == "connection" || name == "transfer-encoding") continue;
      s_.trailers.emplace_back(name, value);
    }
  }

  awaitable<bool> body(std::string_view piece, bool last) override {
    if (s_.closed || c_.ended()) co_return false;
    if (!head_request_) s_.out.append(piece);
    s_.out_last = last;
    nghttp2_session_resume_data(c_.session(), s_.id);
    c_.wake();
    if (last) co_return true;
    co_return co_await wait_for_backlog(kStreamBacklog);
  }

 private:
  static nghttp2_nv nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
            value.size(), NGHTTP2_NV_FLAG_NONE};
  }

  // The request head from the pseudo-headers (RFC 9113 §8.3.1); nghttp2 already refused a stream
  // that lacks one, repeats one, or carries a connection-specific field.
  errc build_head() {
    if (s_.header_too_large) return errc::header_too_large;
    head_request_ = s_.method == "HEAD";
    // :authority and Host name the same host, or the request is refused: routing on one while an
    // upstream reads the other is how a request reaches the wrong site.
    const auto host = s_.head.find(http::field::host);
    if (host != s_.head.end() && !s_.authority.empty() &&
        !http_io::iequals(host->value(), s_.authority)) {
      return errc::bad_request;
    }
    if (s_.method == "CONNECT") return errc::bad_request;  // no tunnels through the gateway
    if (host == s_.head.end() && !s_.authority.empty()) {
      s_.head.set(http::field::host, s_.authority);
    }
    if (!s_.cookie.empty()) s_.head.set(http::field::cookie, s_.cookie);
    s_.head.method_string(s_.method);
    s_.head.target(s_.path);
    s_.head.version(11);
    return errc::ok;
  }

  // To an HTTP/2 upstream: the body goes up as it comes, the answer down as it comes, then its
  // trailers.
  awaitable<upstream::ForwardResult> forward_streamed(filters::RequestHead& head,
                                                      server::ForwardCall call) {
    s_.streaming = true;
    s_.streamed = s_.body.size();
    body_start_ = call.body_start;
    const bool has_body = body_start_ || !s_.body.empty() || !s_.body_done;
    co_return co_await upstream::forward_h2(
        upstream::StreamRequest{.head = head,
                                .body = has_body ? &body_source_ : nullptr,
                                .balancer = call.balancer,
                                .config = call.config,
                                .preserve_host = call.preserve_host,
                                .request_id = call.request_id,
                                .grpc = grpc,
                                .sink = *this});
  }

  awaitable<errc> wait_for_body() {
    const auto deadline = Clock::now() + timeouts_.client_body;
    while (!s_.body_done && !s_.body_too_large && !s_.closed) {
      if (!co_await s_.body_signal.wait(deadline) && Clock::now() >= deadline) {
        co_return errc::client_header_timeout;
      }
    }
    if (s_.closed) co_return errc::bad_request;
    if (s_.body_too_large) co_return errc::body_too_large;
    co_return errc::ok;
  }

  // Waits until at most `limit` bytes of the answer wait for the client; every byte it takes
  // restarts client_send. False when the stream ended first or the client took nothing in time.
  awaitable<bool> wait_for_backlog(std::size_t limit) {
    auto deadline = Clock::now() + timeouts_.client_send;
    while (!s_.closed && (s_.backlog() > limit || (limit == 0 && !s_.eof_given))) {
      const std::size_t before = s_.backlog();
      if (co_await s_.signal.wait(deadline)) {
        if (s_.backlog() != before) deadline = Clock::now() + timeouts_.client_send;
        continue;
      }
      if (Clock::now() < deadline) continue;
      c_.reset(s_, NGHTTP2_CANCEL);
      co_return false;
    }
    co_return !s_.closed;
  }

  // Submits the response head; its body follows through read_response(). Names go out in lower
  // case (RFC 9113 §8.2), lowered into one buffer the nghttp2_nv entries point into.
  bool submit(const http::response_header<>& head, bool end_stream = false) {
    if (s_.closed || c_.ended() || s_.submitted) return false;
    s_.submitted = true;
    std::size_t count = 1;
    std::size_t name_bytes = 0;
    for (const auto& field : head) {
      ++count;
      name_bytes += field.name_string().size();
    }
    std::string names(name_bytes, '\0');  // never grows below: the entries point into it
    std::vector<nghttp2_nv> fields;
    fields.reserve(count);
    const std::string status = std::to_string(head.result_int());
    fields.push_back(nv(":status", status));
    char* lowered = names.data();
    for (const auto& field : head) {
      if (http_io::is_connection_specific(field.name())) continue;
      const std::string_view name = field.name_string();
      std::transform(name.begin(), name.end(), lowered, http_io::ascii_lower);
      fields.push_back(nv({lowered, name.size()}, field.value()));
      lowered += name.size();
    }
    nghttp2_data_provider provider;
    provider.source.ptr = &s_;
    provider.read_callback = Connection::read_response;
    nghttp2_submit_response(c_.session(), s_.id, fields.data(), fields.size(),
                            end_stream ? nullptr : &provider);
    c_.wake();
    return true;
  }

  Connection& c_;
  Stream& s_;
  std::shared_ptr<server::Generation> generation_;
  const config::Timeouts& timeouts_;
  bool head_request_ = false;
  // The body as forward_h2 reads it.
  struct Source final : upstream::BodySource {
    explicit Source(StreamFraming& f) : framing(f) {}
    // The request body as it arrives, each piece's window given back as it goes up.
    awaitable<errc> read(std::string& out, bool& last, Clock::time_point deadline) override {
      Stream& s = framing.s_;
      Connection& c = framing.c_;
      last = false;
      if (s.body_too_large) co_return errc::body_too_large;
      if (framing.body_start_) {
        out.append(framing.body_start_->buffer().data(), framing.body_start_->size);
        framing.body_start_ = nullptr;
        last = true;
        co_return errc::ok;
      }
      while (s.body.empty() && !s.body_done && !s.closed && !stopped && !s.body_too_large) {
        const bool notified = co_await s.body_signal.wait(deadline);
        if (!notified && Clock::now() >= deadline) {
          co_return errc::client_header_timeout;
        }
      }
      if (stopped) co_return errc::ok;
      if (s.body_too_large) co_return errc::body_too_large;
      if (s.body.empty() && s.closed && !s.body_done) co_return errc::bad_request;
      out.append(s.body);
      s.body.clear();
      c.body_bytes_ -= s.counted;
      s.counted = 0;
      if (s.unconsumed > 0 && !s.closed && !c.ended()) {
        nghttp2_session_consume_stream(c.session(), s.id, s.unconsumed);
        c.wake();
      }
      s.unconsumed = 0;
      last = s.body_done;
      co_return errc::ok;
    }
    void stop(bool stop) override {
      stopped = stop;
      framing.s_.body_signal.notify();
    }
    StreamFraming& framing;
    bool stopped = false;  // the answer is over: the body is not read on
  } body_source_{*this};
  upstream::BodyStart* body_start_ = nullptr;  // a body the filters read whole, to go up first
};

awaitable<void> Connection::serve_stream(std::shared_ptr<Connection> connection,
                                         std::shared_ptr<Stream> stream) {
  StreamFraming framing(*connection, *stream);
  co_await framing.run();
}

}  // namespace

awaitable<void> serve_connection(server::Worker& worker, http_io::Stream& stream, std::string peer,
                                 asio::ip::address peer_address, std::string_view received) {
  auto connection = std::make_shared<Connection>(worker, stream, std::move(peer), peer_address);
  co_await connection->run(received);
}

}  // namespace tollgate::http2
