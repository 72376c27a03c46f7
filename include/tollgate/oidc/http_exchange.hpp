// One HTTP request/response with the identity provider over a pooled connection, bounded by a
// deadline, retried once on a fresh connection when a reused one turns out stale.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <boost/beast/http/string_body.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/oidc/introspection.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {

struct HttpReply {
  unsigned status = 0;
  std::string retry_after;  // raw header value, empty when absent
  std::string body;
};

using HttpReplyResult = boost::system::result<HttpReply, IdpFailure>;

// Sends `request` and reads the answer (http/client_exchange.hpp). Every step, a wait for a free
// connection included, must finish by `deadline`. When `repeatable` (the caller knows that sending
// the request twice does no harm) and a connection taken from the pool fails before a single
// response byte arrives (the IdP closed it while idle), the exchange is repeated once on a new
// connection. Answers with a body over `max_body_bytes` fail.
awaitable<HttpReplyResult> exchange(
    upstream::HttpClientPool& pool,
    const boost::beast::http::request<boost::beast::http::string_body>& request,
    std::chrono::steady_clock::time_point deadline, std::size_t max_body_bytes, bool repeatable);

}  // namespace tollgate::oidc
