// One client connection: a keep-alive loop of read head → route → filters → forward, in one
// coroutine.
#pragma once

#include "tollgate/common/asio.hpp"
#include "tollgate/server/worker.hpp"

namespace tollgate::server {

// `tls` is the listener's server context, or nullptr for plain HTTP.
awaitable<void> run_session(Worker& worker, tcp::socket socket, ssl::context* tls);

}  // namespace tollgate::server
