#include "tollgate/http/client_exchange.hpp"

#include <algorithm>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>

namespace tollgate::http_io {
namespace {

constexpr std::size_t kHeadReadChunk = 4 * 1024;
// While a body is read, the connection's buffer holds what the caller has not taken yet plus at
// most one chunk-size line or trailer section. Bounding it ends a chunk extension or trailer
// section that never ends, and keeps every trailer field below Beast's 64 KiB field limit, which
// Beast enforces by throwing from inside the read, where no handler can catch it.
constexpr std::size_t kBodyPhaseBufferLimit = 32 * 1024;

}  // namespace

bool is_safe_method(http::verb method) noexcept {
  return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
         method == http::verb::trace;
}

awaitable<errc> ClientExchange::read_head(std::size_t max_head_bytes, Clock::time_point deadline) {
  lease_.stream().expires_at(deadline);
  for (;;) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(max_head_bytes));
    parser_->body_limit(boost::none);
    if (head_request_) parser_->skip(true);
    error_code ec;
    const std::size_t head_size = co_await read_head_bytes(max_head_bytes, ec);
    if (ec)
      co_return ec == beast::error::timeout ? errc::upstream_timeout : errc::upstream_bad_response;
    if (!parse_head(head_size)) co_return errc::upstream_bad_response;
    const unsigned code = status();
    if (code < 100 || code >= 200) co_return errc::ok;
    if (code == 101) co_return upgrade_ ? errc::ok : errc::upstream_bad_response;
    // An interim answer (100, 102, 103): the final one follows on the same connection.
  }
}

// Reads until the connection's buffer holds a whole response head; returns its size. The head is
// gathered here rather than by http::async_read_header because Beast stores no field over 64 KiB
// and enforces that by throwing from inside the read, where no handler can catch it: parse_head
// catches it instead.
awaitable<std::size_t> ClientExchange::read_head_bytes(std::size_t limit, error_code& ec) {
  auto& buffer = lease_.buffer();
  buffer.max_size(std::max(buffer.size(), limit + kHeadReadChunk));
  std::size_t searched = 0;
  for (;;) {
    const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
    const std::size_t end = data.find("\r\n\r\n", searched);
    if (end != std::string_view::npos) co_return end + 4;
    if (data.size() > limit) {
      ec = http::error::header_limit;
      co_return 0;
    }
    searched = data.size() < 3 ? 0 : data.size() - 3;
    const std::size_t n = co_await lease_.stream().async_read_some(
        buffer.prepare(kHeadReadChunk), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
    buffer.commit(n);
    nothing_seen_ = false;
  }
}

bool ClientExchange::parse_head(std::size_t head_size) {
  auto& buffer = lease_.buffer();
  if (!parser_->parse_head({static_cast<const char*>(buffer.data().data()), head_size})) {
    return false;
  }
  buffer.consume(head_size);
  return true;
}

std::optional<std::string_view> ClientExchange::whole_body_buffered() {
  if (parser_->is_done()) return std::string_view();  // no body: HEAD, 204, 304, length 0
  if (parser_->chunked()) return std::nullopt;
  const auto left = parser_->content_length_remaining();
  auto& buffer = lease_.buffer();
  if (!left || *left > buffer.size()) return std::nullopt;
  return std::string_view(static_cast<const char*>(buffer.data().data()),
                          static_cast<std::size_t>(*left));
}

void ClientExchange::consume_whole_body(std::size_t size) {
  lease_.buffer().consume(size);
  body_taken_whole_ = true;
}

awaitable<std::size_t> ClientExchange::read_body_piece(char* data, std::size_t capacity,
                                                       Clock::time_point deadline, errc& error) {
  auto& buffer = lease_.buffer();
  if (!body_started_) {
    body_started_ = true;
    // Beast reads at most the buffer's spare room per call: room for whole pieces when more body
    // is coming than the buffer already holds (a small answer arrives with its head).
    const auto left = parser_->content_length_remaining();
    if (!left || *left > buffer.size()) buffer.reserve(capacity);
    buffer.max_size(std::max(buffer.size(), kBodyPhaseBufferLimit));
  }
  error = errc::ok;
  parser_->lend_body_room(data, capacity);
  lease_.stream().expires_at(deadline);
  error_code ec;
  co_await http::async_read_some(lease_.stream(), buffer, *parser_,
                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::need_buffer) ec = {};
  const std::size_t size = capacity - parser_->body_room();
  parser_->lend_body_room(nullptr, 0);
  if (ec) {
    error = ec == beast::error::timeout ? errc::upstream_timeout : errc::upstream_bad_response;
  }
  co_return size;
}

void ClientExchange::finish(bool request_keep_alive) {
  const bool whole = parser_ && (parser_->is_done() || body_taken_whole_);
  if (request_keep_alive && whole && parser_->keep_alive() && lease_.buffer().size() == 0) {
    lease_.release();
  } else {
    lease_.discard();
  }
}

}  // namespace tollgate::http_io
