// The admin endpoint: /healthz (the process answers), /readyz (it can serve its routes),
// /metrics (Prometheus), /status.json and the status page at /; POST /cache/purge removes cached
// introspection answers (README, "Purging cached answers").
//
// /readyz is 200 {"status":"ready"} once the gateway has started and every plugin instance of the
// running configuration can answer (openid-connect: its introspection endpoint configured or
// discovered). Otherwise 503, with {"status":"starting","waiting_for":["<instance>",...]} while
// instances wait, or {"status":"draining"} from SIGTERM/SIGINT on.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/common/asio.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/metrics/exposition.hpp"

namespace tollgate::admin {

class StatusReport;

// What a purge did to one plugin instance.
struct InstancePurge {
  std::string name;
  filters::CachePurgeOutcome outcome;
};

struct AdminState {
  AdminState();
  ~AdminState();

  std::atomic<bool> serving{false};  // started, and not draining
  // The plugin instances of the running configuration that cannot answer yet. Called on the
  // admin listener's thread.
  std::function<std::vector<std::string>()> waiting_for;
  // The running configuration's names and live state, for /metrics and /status.json. Called on
  // the admin listener's thread.
  std::function<metrics::View()> view;
  std::string config_path;
  std::unique_ptr<StatusReport> status;  // used on the admin listener's thread only
  // Purges the caches of the running configuration's instances (those that keep one; only
  // `plugin` when it is not empty), on the admin listener's thread.
  std::function<awaitable<std::vector<InstancePurge>>(filters::CachePurge what, std::string plugin)>
      purge;
  // The running configuration's admin.api_token (a reload may change it); empty: none.
  std::function<std::string()> api_token;
  bool loopback = true;  // the admin listener is bound to a loopback address
};

awaitable<void> run_admin_session(tcp::socket socket, AdminState& state);

}  // namespace tollgate::admin
