#include "tollgate/http2/session_io.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tollgate::http2 {

constexpr std::size_t kWriteBatch = 64 * 1024;

awaitable<bool> flush(nghttp2_session* session, http_io::Stream& stream, std::string& batch,
                      std::chrono::milliseconds timeout) {
  for (;;) {
    batch.clear();
    while (batch.size() < kWriteBatch) {
      const std::uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session, &data);
      if (n < 0) co_return false;
      if (n == 0) break;
      batch.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (batch.empty()) co_return true;
    error_code ec;
    stream.expires_after(timeout);
    co_await asio::async_write(stream, asio::buffer(batch),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
  }
}

}  // namespace tollgate::http2
