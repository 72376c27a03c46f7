#include "tollgate/upstream/balancer.hpp"

namespace tollgate::upstream {

Balancer::Balancer(asio::any_io_executor executor, const config::Upstream& upstream,
                   const config::Timeouts& timeouts, metrics::Registry& registry, unsigned worker)
    : upstream_(upstream) {
  std::shared_ptr<ssl::context> tls;
  const bool h2 = upstream.protocol != config::Protocol::http1;
  for (const auto& t : upstream.targets) {
    if (t.tls && !tls) {
      tls = make_client_tls_context(upstream.ca_file, upstream.ssl_verify);
      if (h2) offer_h2(*tls);
    }
  }
  targets_.reserve(upstream.targets.size());
  for (const auto& t : upstream.targets) {
    PoolOptions options;
    options.max_idle = upstream.keepalive;
    options.max_connections = upstream.max_connections;
    options.max_waiting = upstream.max_queued;
    options.connect_timeout = timeouts.upstream_connect;
    options.tls_context = t.tls ? tls : nullptr;
    targets_.push_back(TargetState{
        &t, std::make_unique<HttpClientPool>(executor, Origin{t.tls, t.host, t.port}, options)});
    targets_.back().stats = &registry.target(upstream.name, t.url).cells[worker];
    if (h2) {
      targets_.back().h2 =
          std::make_unique<H2Pool>(executor, *targets_.back().pool, t.tls,
                                   H2PoolOptions{.max_connections = upstream.h2_max_connections,
                                                 .idle_timeout = options.idle_timeout,
                                                 .send_timeout = timeouts.upstream_send});
    }
  }
}

TargetState* Balancer::pick(const TargetState* exclude) {
  const auto now = std::chrono::steady_clock::now();
  const std::size_t n = targets_.size();
  TargetState* best = nullptr;
  if (upstream_.balance == config::Balance::least_conn) {
    // Fewest in-flight requests; ties broken round-robin so equal targets share the load.
    for (std::size_t i = 0; i < n; ++i) {
      TargetState& t = targets_[(next_ + i) % n];
      if (&t == exclude || !usable(t, now)) continue;
      if (!best || t.stats->in_flight.get() < best->stats->in_flight.get()) best = &t;
    }
    next_ = (next_ + 1) % n;
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      TargetState& t = targets_[(next_ + i) % n];
      if (&t == exclude || !usable(t, now)) continue;
      best = &t;
      next_ = (next_ + i + 1) % n;
      break;
    }
  }
  if (best) return best;
  // Everything is down: probe the target that recovers first rather than failing without trying.
  for (auto& t : targets_) {
    if (&t == exclude) continue;
    if (!best || t.down_until < best->down_until) best = &t;
  }
  return best;
}

void Balancer::mark_failed(TargetState& target) {
  target.down_until = std::chrono::steady_clock::now() + upstream_.fail_timeout;
  target.stats->down_until_ns.set(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(target.down_until.time_since_epoch())
          .count()));
}

UpstreamSet::UpstreamSet(asio::any_io_executor executor, const config::GatewayConfig& config,
                         metrics::Registry& registry, unsigned worker) {
  balancers_.reserve(config.upstreams.size());
  for (const auto& u : config.upstreams) {
    balancers_.push_back(
        std::make_unique<Balancer>(executor, u, config.timeouts, registry, worker));
  }
}

}  // namespace tollgate::upstream
