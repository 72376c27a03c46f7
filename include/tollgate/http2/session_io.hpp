// What the two kinds of nghttp2 session share, the server's (clients) and the client's
// (upstreams): writing out what nghttp2 has to send.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <string>

#include "tollgate/common/asio.hpp"
#include "tollgate/http/stream.hpp"

namespace tollgate::http2 {

// Writes what `session` has to send, gathered in `batch` up to 64 KiB a write, each write bounded
// by `timeout`; false when nghttp2 failed, or the peer is gone or too slow.
awaitable<bool> flush(nghttp2_session* session, http_io::Stream& stream, std::string& batch,
                      std::chrono::milliseconds timeout);

}  // namespace tollgate::http2
