// One client connection: a keep-alive loop of read head → route → filters → forward, in one
// coroutine.
#pragma once

#include "tollgate/common/asio.hpp"
#include "tollgate/server/worker.hpp"

namespace tollgate::server {

// `tls` is the listener's server context, or nullptr for plain HTTP. `http2`: the listener speaks
// HTTP/2 as well, chosen by ALPN on TLS and by the client's preface (prior knowledge) on plain TCP.
awaitable<void> run_session(Worker& worker, tcp::socket socket, ssl::context* tls, bool http2);

}  // namespace tollgate::server
