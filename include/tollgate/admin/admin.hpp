// The admin endpoint: /healthz (the process answers) and /readyz (it can serve its routes).
//
// /readyz is 200 {"status":"ready"} once the gateway has started and every plugin instance of the
// running configuration can answer (openid-connect: its introspection endpoint configured or
// discovered). Otherwise 503, with {"status":"starting","waiting_for":["<instance>",...]} while
// instances wait, or {"status":"draining"} from SIGTERM/SIGINT on.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "tollgate/common/asio.hpp"

namespace tollgate::admin {

struct AdminState {
  std::atomic<bool> serving{false};  // started, and not draining
  // The plugin instances of the running configuration that cannot answer yet. Called on the
  // admin listener's thread.
  std::function<std::vector<std::string>()> waiting_for;
};

awaitable<void> run_admin_session(tcp::socket socket, const AdminState& state);

}  // namespace tollgate::admin
