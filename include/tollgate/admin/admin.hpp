// The admin endpoint: /healthz (the process answers), /readyz (accepting traffic, 503 while
// draining).
#pragma once

#include <atomic>

#include "tollgate/common/asio.hpp"

namespace tollgate::admin {

struct AdminState {
  std::atomic<bool> ready{false};
};

awaitable<void> run_admin_session(tcp::socket socket, const AdminState& state);

}  // namespace tollgate::admin
