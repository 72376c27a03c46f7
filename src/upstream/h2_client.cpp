#include "tollgate/upstream/h2_client.hpp"

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/parallel_group.hpp>

#include "tollgate/common/spawn.hpp"
#include "tollgate/http2/session_io.hpp"

namespace tollgate::upstream {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
// Request body bytes one stream holds that the upstream's window has not let go yet: past this,
// send() waits (and the client's own window stays shut).
constexpr std::size_t kSendBacklog = 64 * 1024;
// What each stream may receive before the forwarder took it: the stream's window.
constexpr std::uint32_t kStreamWindow = 256 * 1024;
// Streams on one connection when the upstream allows more: nghttp2 holds back what goes over.
constexpr std::uint32_t kMaxStreamsPerConnection = 1000;

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// One connection: its nghttp2 session, its streams, and the coroutine that reads and writes.
class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(H2Pool* pool, std::unique_ptr<Connection> connection, H2PoolOptions options)
      : pool_(pool),
        connection_(std::move(connection)),
        options_(options),
        wake_(connection_->stream.get_executor()) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, on_frame_not_send);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // The stream windows open as the forwarder takes the bytes, not as they arrive.
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_option_set_no_closed_streams(option, 1);
    nghttp2_session_client_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
  }
  ~H2Connection() { nghttp2_session_del(session_); }
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  void start() {
    const std::array<nghttp2_settings_entry, 2> settings{{
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
    }};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
    asio::co_spawn(wake_.get_executor(), run(shared_from_this()),
                   log_unexpected("upstream http2 connection"));
  }

  // The connection takes another stream: it is up, the upstream did not send GOAWAY, and its
  // SETTINGS_MAX_CONCURRENT_STREAMS is not reached.
  bool has_room() const {
    if (ended_ || goaway_ || closing_) return false;
    const std::uint32_t allowed = std::min(
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
        kMaxStreamsPerConnection);
    return calls_.size() < allowed;
  }

  result<std::shared_ptr<H2Call>> open(const Fields& fields, bool has_body,
                                       std::size_t max_header_bytes) {
    auto call = std::make_shared<H2Call>(shared_from_this(), wake_.get_executor());
    call->max_header_bytes_ = max_header_bytes;
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields) nva.push_back(nv(name, value));
    nghttp2_data_provider provider{};
    provider.read_callback = read_request_body;
    const std::int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                                   has_body ? &provider : nullptr, nullptr);
    if (id < 0) return make_error_code(errc::upstream_connect_failed);
    call->id_ = id;
    calls_[id] = call.get();
    wake();
    return call;
  }

  // The pool is gone (a new configuration): no new stream, and the connection closes once its
  // streams are over.
  void detach() {
    pool_ = nullptr;
    closing_ = true;
    wake();
  }

  // For the calls.
  void wake() {
    woken_ = true;
    wake_.cancel();
  }
  bool ended() const noexcept { return ended_; }
  void resume(H2Call& call) {
    if (ended_ || call.closed_ || !call.deferred_) return;
    call.deferred_ = false;
    nghttp2_session_resume_data(session_, call.id_);
    wake();
  }
  void consumed(H2Call& call, std::size_t n) {
    if (ended_ || call.closed_ || n == 0) return;
    nghttp2_session_consume_stream(session_, call.id_, n);
    wake();
  }
  void reset(H2Call& call, std::uint32_t code) {
    if (ended_ || call.closed_) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, call.id_, code);
    wake();
  }
  void forget(H2Call& call) {
    if (const auto it = calls_.find(call.id_); it != calls_.end() && it->second == &call) {
      calls_.erase(it);
    }
  }

 private:
  enum class Wait { readable, woken, idle, failed };

  static awaitable<void> run(std::shared_ptr<H2Connection> self) { co_await self->loop(); }

  awaitable<void> loop() {
    http_io::Stream& stream = connection_->stream;
    std::vector<std::uint8_t> input;
    for (;;) {
      if (!co_await flush()) break;
      if ((closing_ || goaway_) && calls_.empty()) break;
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
      if (!stream.tls_input_buffered()) {
        stream
            .expires_never();  // the wait has its own bounds; the deadline is for reads and writes
        const Wait wait = co_await wait_readable();
        if (wait == Wait::woken) continue;
        if (wait == Wait::idle) {
          // Nothing asked of it for idle_timeout: a polite close.
          closing_ = true;
          nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
          co_await flush();
          break;
        }
        if (wait == Wait::failed) break;
      }
      input.resize(kReadChunk);
      error_code ec;
      stream.expires_after(options_.send_timeout);
      const std::size_t n = co_await stream.async_read_some(
          asio::buffer(input), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      const auto consumed = nghttp2_session_mem_recv(session_, input.data(), n);
      if (consumed < 0) {
        spdlog::debug("upstream http2: {}", nghttp2_strerror(static_cast<int>(consumed)));
        break;
      }
    }
    end();
  }

  awaitable<bool> flush() {
    return http2::flush(session_, connection_->stream, output_, options_.send_timeout);
  }

  awaitable<Wait> wait_readable() {
    if (woken_) {
      woken_ = false;
      co_return Wait::woken;
    }
    wake_.expires_at(calls_.empty() ? Clock::now() + options_.idle_timeout
                                    : Clock::time_point::max());
    auto [order, socket_ec, timer_ec] =
        co_await asio::experimental::make_parallel_group(
            connection_->stream.socket().async_wait(tcp::socket::wait_read, asio::deferred),
            wake_.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (woken_) {
      woken_ = false;
      co_return Wait::woken;
    }
    if (order[0] == 0) co_return socket_ec ? Wait::failed : Wait::readable;
    co_return timer_ec ? Wait::woken : Wait::idle;
  }

  // The connection is over: its streams fail (those never processed may go again elsewhere).
  void end() {
    ended_ = true;
    for (auto& [id, call] : calls_) {
      if (!call->head_done_ && (goaway_ && id > goaway_last_id_)) call->refused_ = true;
      finish(*call, !call->in_done_);
    }
    calls_.clear();
    error_code ignored;
    connection_->stream.socket().close(ignored);
    if (pool_) pool_->removed(this);
    pool_ = nullptr;
  }

  static void finish(H2Call& call, bool failed) {
    call.closed_ = true;
    call.failed_ = failed;
    call.sent_.notify();
    call.received_.notify();
  }

  static H2Connection& self(void* user_data) { return *static_cast<H2Connection*>(user_data); }

  H2Call* find(std::int32_t id) {
    const auto it = calls_.find(id);
    return it == calls_.end() ? nullptr : it->second;
  }

  static ssize_t read_request_body(nghttp2_session*, std::int32_t id, std::uint8_t* buffer,
                                   std::size_t length, std::uint32_t* flags, nghttp2_data_source*,
                                   void* user_data) {
    H2Call* call = self(user_data).find(id);
    if (!call) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    const std::size_t backlog = call->out_.size() - call->out_taken_;
    const std::size_t n = std::min(length, backlog);
    if (n > 0) std::memcpy(buffer, call->out_.data() + call->out_taken_, n);
    call->out_taken_ += n;
    if (call->out_taken_ == call->out_.size()) {
      call->out_.clear();
      call->out_taken_ = 0;
    }
    if (call->out_last_ && call->out_.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
      call->deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    call->sent_.notify();
    return static_cast<ssize_t>(n);
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Call* call = self(user_data).find(frame->hd.stream_id);
    if (!call) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), name_length);
    const std::string_view v(reinterpret_cast<const char*>(value), value_length);
    // As an HTTP/1.1 head is bounded: a header block of many small fields (an HPACK bomb among
    // them) is refused as one long field is. The stream is reset; the answer fails (502).
    call->header_bytes_ += name_length + value_length + 4;
    if (call->header_bytes_ > call->max_header_bytes_) {
      spdlog::warn("upstream http2: an answer's header block is over {} bytes",
                   call->max_header_bytes_);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (call->head_done_) {
      if (!n.starts_with(':')) call->trailers.emplace_back(n, v);
    } else if (n == ":status") {
      unsigned status = 0;
      for (const char ch : v) status = status * 10 + static_cast<unsigned>(ch - '0');
      call->status = status;
    } else if (!n.starts_with(':')) {
      call->head_fields.emplace_back(n, v);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    H2Connection& c = self(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;
      c.goaway_last_id_ = frame->goaway.last_stream_id;
      if (c.pool_) c.pool_->room();  // new streams go to another connection
      return 0;
    }
    H2Call* call = c.find(frame->hd.stream_id);
    if (!call) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !call->head_done_) {
      call->header_bytes_ = 0;  // the trailers have a bound of their own
      if (call->status >= 200) {
        call->head_done_ = true;
        call->head_ends_stream = end_stream;
      } else {
        call->status = 0;  // an interim answer (1xx): the real head follows
        call->head_fields.clear();
      }
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
      call->in_done_ = true;
    }
    call->received_.notify();
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                           const std::uint8_t* data, std::size_t length, void* user_data) {
    // The connection's window opens at once; the stream's as the forwarder takes the bytes.
    nghttp2_session_consume_connection(session, length);
    H2Call* call = self(user_data).find(id);
    if (!call) return 0;
    call->in_.append(reinterpret_cast<const char*>(data), length);
    call->in_unconsumed_ += length;
    call->received_.notify();
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code,
                             void* user_data) {
    H2Connection& c = self(user_data);
    const auto it = c.calls_.find(id);
    if (it == c.calls_.end()) return 0;
    H2Call& call = *it->second;
    c.calls_.erase(it);
    if (!call.head_done_ &&
        (error_code == NGHTTP2_REFUSED_STREAM || (c.goaway_ && id > c.goaway_last_id_))) {
      call.refused_ = true;
    }
    finish(call, !call.in_done_);
    if (c.pool_) c.pool_->room();
    return 0;
  }

  static int on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    H2Connection& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    const auto it = c.calls_.find(frame->hd.stream_id);
    if (it == c.calls_.end()) return 0;
    H2Call& call = *it->second;
    c.calls_.erase(it);
    call.refused_ = true;  // never left: it may go elsewhere
    finish(call, true);
    if (c.pool_) c.pool_->room();
    return 0;
  }

  H2Pool* pool_;
  std::unique_ptr<Connection> connection_;
  H2PoolOptions options_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, H2Call*> calls_;  // open streams
  std::string output_;
  asio::steady_timer wake_;
  bool woken_ = false;
  bool goaway_ = false;  // the upstream sent GOAWAY
  std::int32_t goaway_last_id_ = 0;
  bool closing_ = false;
  bool ended_ = false;
};

H2Call::H2Call(std::shared_ptr<H2Connection> connection, const asio::any_io_executor& executor)
    : connection_(std::move(connection)), sent_(executor), received_(executor) {}

H2Call::~H2Call() {
  // A call given up before its stream ended (the client went, a deadline passed) resets it.
  if (!closed_) connection_->reset(*this, NGHTTP2_CANCEL);
  connection_->forget(*this);
}

awaitable<errc> H2Call::send(std::string_view piece, bool last, Clock::time_point deadline) {
  if (closed_ || out_last_) co_return in_done_ ? errc::ok : errc::upstream_bad_response;
  out_.append(piece);
  out_last_ = last;
  connection_->resume(*this);
  while (!closed_ && out_.size() - out_taken_ > (last ? 0 : kSendBacklog)) {
    const bool notified = co_await sent_.wait(deadline);
    if (!notified && Clock::now() >= deadline) {
      co_return errc::upstream_timeout;
    }
  }
  // An upstream that answered whole before taking the whole body ended the stream: not a failure.
  if (closed_ && failed_) co_return errc::upstream_bad_response;
  co_return errc::ok;
}

awaitable<errc> H2Call::wait_head(Clock::time_point deadline) {
  while (!head_done_ && !closed_) {
    const bool notified = co_await received_.wait(deadline);
    if (!notified && Clock::now() >= deadline) {
      co_return errc::upstream_timeout;
    }
  }
  co_return head_done_ ? errc::ok : errc::upstream_bad_response;
}

awaitable<errc> H2Call::read(std::string& out, bool& done, Clock::time_point deadline) {
  done = false;
  while (in_.empty() && !in_done_ && !closed_) {
    const bool notified = co_await received_.wait(deadline);
    if (!notified && Clock::now() >= deadline) {
      co_return errc::upstream_timeout;
    }
  }
  out.append(in_);
  in_.clear();
  connection_->consumed(*this, std::exchange(in_unconsumed_, 0));
  if (in_done_) {
    done = true;
    co_return errc::ok;
  }
  if (closed_ && out.empty()) co_return errc::upstream_bad_response;
  co_return errc::ok;
}

void H2Call::cancel(std::uint32_t code) {
  connection_->reset(*this, code);
}

H2Pool::H2Pool(asio::any_io_executor executor, HttpClientPool& connector, bool tls,
               H2PoolOptions options)
    : executor_(std::move(executor)), connector_(connector), tls_(tls), options_(options) {}

H2Pool::~H2Pool() {
  for (auto& connection : connections_) connection->detach();
}

void H2Pool::removed(H2Connection* connection) {
  std::erase_if(connections_, [&](const auto& c) { return c.get() == connection; });
  room();
}

awaitable<result<std::shared_ptr<H2Call>>> H2Pool::open(const Fields& fields, bool has_body,
                                                        std::size_t max_header_bytes,
                                                        Clock::time_point deadline) {
  for (;;) {
    for (auto& connection : connections_) {
      if (connection->has_room()) co_return connection->open(fields, has_body, max_header_bytes);
    }
    if (connections_.size() + connecting_ < options_.max_connections) {
      ++connecting_;
      auto lease = co_await connector_.acquire(deadline, /*fresh=*/true);
      --connecting_;
      if (!lease) {
        room();
        co_return lease.error();
      }
      std::unique_ptr<Connection> made = lease->take();
      if (tls_) {
        // h2 or nothing: an upstream that did not take it by ALPN speaks only HTTP/1.1.
        const unsigned char* alpn = nullptr;
        unsigned alpn_length = 0;
        SSL_get0_alpn_selected(made->stream.tls().native_handle(), &alpn, &alpn_length);
        if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != "h2") {
          spdlog::warn("upstream {}:{} did not agree to h2 by ALPN", connector_.origin().host,
                       connector_.origin().port);
          room();
          co_return make_error_code(errc::upstream_bad_response);
        }
      }
      auto connection = std::make_shared<H2Connection>(this, std::move(made), options_);
      connections_.push_back(connection);
      connection->start();
      room();
      continue;
    }
    Signal signal(executor_);
    waiting_.push_back(&signal);
    co_await signal.wait(deadline);
    std::erase(waiting_, &signal);
    if (Clock::now() >= deadline) co_return make_error_code(errc::upstream_busy);
  }
}

void offer_h2(ssl::context& context) {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(context.native_handle(), kH2, sizeof kH2);
}

}  // namespace tollgate::upstream
