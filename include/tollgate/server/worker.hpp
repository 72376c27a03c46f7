// One worker thread: its io_context, its view of the current configuration, and its live sessions.
// Everything here is touched only from the worker's own thread, so nothing here takes a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "tollgate/common/asio.hpp"
#include "tollgate/common/id_random.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/metrics/registry.hpp"
#include "tollgate/routing/router.hpp"
#include "tollgate/server/forwarding.hpp"
#include "tollgate/server/runtime.hpp"
#include "tollgate/upstream/balancer.hpp"

namespace tollgate::server {

// A configuration as one worker uses it: the shared immutable parts plus this worker's pools.
// Requests hold a shared_ptr for their whole life, so a reload never pulls anything from under
// them.
struct Generation {
  std::shared_ptr<const config::GatewayConfig> config;
  std::shared_ptr<const routing::Router> router;
  std::shared_ptr<const ProtectedHeaders> protected_headers;
  std::shared_ptr<const FilterSet> filters;
  // One per filter of `filters`, shared with the worker's other generations that run the same
  // filter: the last one to go releases the filter's hold on this worker, on this thread.
  std::vector<std::shared_ptr<WorkerHold>> holds;
  std::unique_ptr<upstream::UpstreamSet> upstreams;
  // This worker's counts, per route (indexed like config->routes) and for requests no route took.
  std::vector<metrics::RouteCell*> route_stats;
  metrics::RouteCell* unmatched_stats = nullptr;
};

// What a session exposes so a draining worker can close it while it waits for a next request, or
// have its WebSocket tunnel closed by the drain deadline.
struct SessionHandle {
  virtual void close_if_idle() = 0;

 protected:
  ~SessionHandle() = default;
};

class Worker {
 public:
  Worker(unsigned index, metrics::Registry& registry);

  unsigned index() const noexcept { return index_; }
  asio::io_context& io() noexcept { return io_; }
  asio::any_io_executor executor() { return io_.get_executor(); }

  const std::shared_ptr<Generation>& generation() const noexcept { return generation_; }
  metrics::Registry& registry() noexcept { return registry_; }
  // This worker's connection counts.
  metrics::ConnectionCell& connections() noexcept { return registry_.connections(index_); }
  void set_generation(std::shared_ptr<Generation> g) { generation_ = std::move(g); }

  // 32 hex characters, unique enough to follow one request across logs.
  std::string next_request_id();
  // The worker's own generator (trace and span ids): drawing from it takes no lock.
  IdRandom& random() noexcept { return rng_; }

  void add_session(SessionHandle* s) {
    sessions_.insert(s);
    live_sessions_.fetch_add(1, std::memory_order_relaxed);
    connections().open.add();
    connections().accepted.add();
  }
  void remove_session(SessionHandle* s) {
    sessions_.erase(s);
    live_sessions_.fetch_sub(1, std::memory_order_relaxed);
    connections().open.subtract();
  }
  // Readable from any thread (the drain waits on it).
  std::size_t session_count() const noexcept {
    return live_sessions_.load(std::memory_order_relaxed);
  }

  bool draining() const noexcept { return draining_; }
  const bool& draining_flag() const noexcept { return draining_; }
  // Stop taking new requests: idle sessions close now, busy ones after their current response,
  // WebSocket tunnels at `deadline`, when the drain gives up on what is still open.
  void start_draining(std::chrono::steady_clock::time_point deadline);
  std::chrono::steady_clock::time_point drain_deadline() const noexcept { return drain_deadline_; }

 private:
  unsigned index_;
  metrics::Registry& registry_;
  // One thread runs it and touches its sockets; other threads only post to it. So the reactor's
  // per-socket locks can go, while the scheduler keeps the lock those posts need.
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::shared_ptr<Generation> generation_;
  IdRandom rng_;
  std::unordered_set<SessionHandle*> sessions_;
  std::atomic<std::size_t> live_sessions_{0};
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_ =
      std::chrono::steady_clock::time_point::max();
};

}  // namespace tollgate::server
