// Answers that break the rules on purpose, so a gateway can be watched meeting a failing upstream:
// resets, stalls, heads and trailers too large to keep, responses that never end or never close.
// Each returns false: the connection is never reused after a fault.
#pragma once

#include <chrono>
#include <cstdint>

#include "endpoints.hpp"

namespace echo_server::faults {

// Closes the connection with a TCP RST before any byte of an answer.
asio::awaitable<bool> reset_at_once(beast::tcp_stream& stream);

// Promises 1000 bytes, sends 100, then resets the connection.
asio::awaitable<bool> reset_mid_body(beast::tcp_stream& stream, std::chrono::seconds timeout);

// A small 200 answer whose head goes out one byte every `pause`.
asio::awaitable<bool> slow_head(beast::tcp_stream& stream, std::chrono::milliseconds pause,
                                std::chrono::seconds timeout);

// Content-Length: 200; 100 bytes, `pause` of silence, then the other 100.
asio::awaitable<bool> stall_mid_body(beast::tcp_stream& stream, std::chrono::milliseconds pause,
                                     std::chrono::seconds timeout);

// A 200 "ok" with at least `bytes` of extra header fields (X-Filler-1, ...), 4000-byte values.
asio::awaitable<bool> big_head(beast::tcp_stream& stream, std::uint64_t bytes,
                               std::chrono::seconds timeout);

// A 200 "ok" with one header field whose value is `bytes` long.
asio::awaitable<bool> big_field(beast::tcp_stream& stream, std::uint64_t bytes,
                                std::chrono::seconds timeout);

// A chunked 200 "ok" followed by one trailer field whose value is `bytes` long.
asio::awaitable<bool> big_trailer(beast::tcp_stream& stream, std::uint64_t bytes,
                                  std::chrono::seconds timeout);

// A 200 delimited by the connection's close, whose body is the /bytes pattern without end: it
// stops only when the reader leaves (or stops reading for `timeout`).
asio::awaitable<bool> endless(beast::tcp_stream& stream, std::chrono::seconds timeout);

// A 200 delimited by the connection's close, body "ok", after which the connection is neither
// closed nor used: the reader cannot tell that the body has ended. Held until the reader leaves or
// `timeout` passes.
asio::awaitable<bool> never_closes(beast::tcp_stream& stream, std::chrono::seconds timeout);

}  // namespace echo_server::faults
