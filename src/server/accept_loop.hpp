// The one accept loop of every listener (client listeners and the admin one).
#pragma once

#include <functional>
#include <string>

#include "tollgate/common/asio.hpp"

namespace tollgate::server {

// Accepts connections on `acceptor` and hands each to `serve`, until the acceptor is closed; what
// waits in the backlog is taken in batches, not one connection per turn of the loop. When
// accept() fails (EMFILE or ENFILE: no descriptor left; the connection stays in the backlog), it
// waits before trying again, from 5 ms doubling up to 1 s, back to 5 ms after the next success:
// retrying at once would spin a core for as long as descriptors stay short. One warning per
// episode, and one line when it ends.
awaitable<void> accept_connections(tcp::acceptor& acceptor, std::string listener,
                                   std::function<void(tcp::socket)> serve);

}  // namespace tollgate::server
