// One HTTP/1.1 request/response on a pooled connection, as every client in tollgate makes it (the
// forwarder, the identity provider client): the caller writes the request, then the exchange reads
// the response head (interim 1xx skipped), knows the body's framing, hands the body over piece by
// piece, and at finish() decides in one place whether the connection may carry another request.
//
// The reuse rule: the connection goes back to its pool only when the response was read whole by its
// own framing (HEAD, 1xx, 204 and 304 have no body whatever their headers say), nothing beyond it
// is in the read buffer, and both sides allow keep-alive; the pool then checks, when it hands the
// connection out again, that nothing arrived on the socket meanwhile. Anything else closes it:
// bytes left over would otherwise be read as the next request's answer and reach the wrong client.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/error.hpp"
#include "tollgate/http/response_parser.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::http_io {

// RFC 9110 §9.2.1: the methods a client may send twice without asking anyone.
bool is_safe_method(http::verb method) noexcept;

class ClientExchange {
 public:
  using Clock = std::chrono::steady_clock;
  using Parser = ResponseParser;

  // `head_request`: the request was HEAD, so the response has no body. `upgrade`: the request
  // asked to switch protocols (a WebSocket handshake), so a 101 is a final answer.
  ClientExchange(upstream::Lease& lease, bool head_request, bool upgrade = false) noexcept
      : lease_(lease), head_request_(head_request), upgrade_(upgrade) {}
  ClientExchange(const ClientExchange&) = delete;
  ClientExchange& operator=(const ClientExchange&) = delete;

  // Reads the final response head by `deadline`, skipping interim 1xx heads (a 101 is an error,
  // unless the request asked for an upgrade: then it is the final head, and whatever follows it in
  // the read buffer belongs to the new protocol). upstream_bad_response when the peer closed, reset
  // or sent something that is not a response head of at most `max_head_bytes`; upstream_timeout
  // when the deadline passed.
  awaitable<errc> read_head(std::size_t max_head_bytes, Clock::time_point deadline);

  // The final head, once read_head succeeded.
  const Parser& parser() const noexcept { return *parser_; }
  unsigned status() const noexcept { return parser_->status(); }
  bool body_done() const noexcept { return parser_->is_done(); }
  std::size_t buffered() const noexcept { return lease_.buffer().size(); }

  // The whole body when the read buffer already holds all of it and it has a length (or there is
  // none): the usual small answer, passed on in one write. consume_whole_body() once it is used.
  std::optional<std::string_view> whole_body_buffered();
  void consume_whole_body(std::size_t size);

  // Reads the next piece of the body into `data` (up to `capacity` bytes), by `deadline`. Returns
  // the piece's size, which may be 0 while the body goes on (a read that brought only a chunk's
  // size line); upstream_bad_response or upstream_timeout in `error` when the body could not be
  // read to its end.
  awaitable<std::size_t> read_body_piece(char* data, std::size_t capacity,
                                         Clock::time_point deadline, errc& error);

  // The one retry rule: after `failure`, the request goes again, once, on a new connection only
  // when sending it twice does no harm (`repeatable`: a safe method, or a call its caller knows
  // to be read-only), nothing of a request body was consumed from a source that cannot give it
  // again, and this connection, taken from the pool, closed or reset (not timed out: the peer may
  // be working on it) before any byte of a response arrived: the peer may have closed it while
  // it idled, before it saw the request.
  bool may_retry(errc failure, bool repeatable, bool body_consumed) const noexcept {
    return repeatable && !body_consumed && failure != errc::upstream_timeout && nothing_seen_ &&
           lease_.reused();
  }

  // Gives the connection back when the rule above allows it (`request_keep_alive`: the request
  // side allows it too, and its body was sent whole), closes it otherwise.
  void finish(bool request_keep_alive);

 private:
  awaitable<std::size_t> read_head_bytes(std::size_t limit, error_code& ec);
  bool parse_head(std::size_t head_size);

  upstream::Lease& lease_;
  std::optional<Parser> parser_;
  bool head_request_;
  bool upgrade_;
  bool nothing_seen_ = true;       // no byte of any response head has arrived
  bool body_started_ = false;      // read_body_piece set the buffer up for the body
  bool body_taken_whole_ = false;  // consume_whole_body() took all of it
};

}  // namespace tollgate::http_io
