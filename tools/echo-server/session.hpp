// One coroutine per connection: read a request head, stream its body through a hash, answer, repeat
// while the client keeps the connection alive.
#pragma once

#include <cstdint>

#include "tollgate/common/asio.hpp"

#include "options.hpp"

namespace echo_server {

tollgate::awaitable<void> run_session(tollgate::tcp::socket socket, const Options& options,
                                      std::uint64_t connection_id);

}  // namespace echo_server
