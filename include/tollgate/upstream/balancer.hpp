// One worker's view of the configured upstreams: a connection pool per target, the balancing
// policy, and passive health (a target that failed to connect is skipped for fail_timeout). Per
// worker, so the hot path takes no lock; health is learnt by each worker on its own, as in nginx
// without a zone.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/metrics/registry.hpp"
#include "tollgate/upstream/h2_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::upstream {

struct TargetState {
  const config::Target* target;
  std::unique_ptr<HttpClientPool> pool;
  // Protocol h2 or grpc: the target's HTTP/2 connections (made through `pool`).
  std::unique_ptr<H2Pool> h2;
  std::chrono::steady_clock::time_point down_until{};
  // This worker's counts for the target; its in_flight is also what least_conn compares.
  metrics::TargetCell* stats = nullptr;
};

class Balancer {
 public:
  // `registry` holds the targets' counts; this balancer writes worker `worker`'s cells.
  Balancer(asio::any_io_executor executor, const config::Upstream& upstream,
           const config::Timeouts& timeouts, metrics::Registry& registry, unsigned worker);

  // The next target to try, skipping `exclude` and targets marked down; when every target is down,
  // the one that comes back soonest (a dead upstream should still be probed, not fail forever).
  // nullptr only when `exclude` is the sole target.
  TargetState* pick(const TargetState* exclude = nullptr);
  void mark_failed(TargetState& target);
  void mark_ok(TargetState& target) {
    if (target.down_until == std::chrono::steady_clock::time_point{}) return;
    target.down_until = {};
    target.stats->down_until_ns.set(0);
  }
  const config::Upstream& config() const noexcept { return upstream_; }
  std::size_t size() const noexcept { return targets_.size(); }

 private:
  bool usable(const TargetState& t, std::chrono::steady_clock::time_point now) const {
    return t.down_until <= now;
  }
  const config::Upstream& upstream_;
  std::vector<TargetState> targets_;
  std::size_t next_ = 0;
};

// Every upstream of one config, for one worker; indexed like GatewayConfig::upstreams.
class UpstreamSet {
 public:
  UpstreamSet(asio::any_io_executor executor, const config::GatewayConfig& config,
              metrics::Registry& registry, unsigned worker);
  Balancer& at(std::size_t index) { return *balancers_[index]; }

 private:
  std::vector<std::unique_ptr<Balancer>> balancers_;
};

}  // namespace tollgate::upstream
