// The issuer's signing keys (its JWKS), kept beside the introspection client: fetched in the
// background from `jwks_endpoint` or the jwks_uri its metadata names, published as an immutable
// snapshot every worker reads without a lock, and fetched again when a token names a kid it does
// not hold (single-flight, at most once per `min_refresh_interval`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tollgate/common/asio.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/jose/jwks.hpp"

namespace tollgate::upstream {
class HttpClientPool;
}

namespace tollgate::oidc {

struct JwksSettings {
  std::string issuer;    // discovery base, used when `jwks_uri` is empty
  std::string jwks_uri;  // jwks_endpoint
  std::chrono::milliseconds timeout{5'000};
  // Kong's rediscovery_lifetime: the least time between two fetches a kid can cause.
  std::chrono::milliseconds min_refresh_interval{30'000};
  // Fetched again this often even when no token asks, so a key the issuer withdrew stops working.
  std::chrono::milliseconds refresh_interval{std::chrono::minutes(10)};
  jose::JwksLimits limits;
};

class JwksClient : public std::enable_shared_from_this<JwksClient> {
 public:
  // `tls_context` serves every https fetch. Throws std::invalid_argument when neither a valid
  // jwks_uri nor a valid issuer is given (config validation prevents it).
  static std::shared_ptr<JwksClient> create(JwksSettings settings,
                                            std::shared_ptr<ssl::context> tls_context,
                                            std::string label);
  ~JwksClient();

  void start(const filters::StartContext& context);
  void stop();
  // Called on worker `worker`'s thread once it makes no more requests; the fetch connection lives
  // on worker 0 and goes with it.
  void release_worker(unsigned worker);
  // True once a key set has been published.
  bool ready() const noexcept { return version_.load(std::memory_order_acquire) != 0; }

  // The keys as worker `worker` sees them, nullptr before the first fetch. The pointer stays valid
  // on that worker until its next call. No lock: each worker keeps its own reference and takes
  // the newer one only when the published version changed.
  const jose::KeySet* keys(unsigned worker) const;
  // The version of the set keys(worker) last returned: it changes with every published set.
  std::uint64_t keys_version(unsigned worker) const noexcept {
    return worker < views_.size() ? views_[worker].version : 0;
  }

  // A token named a kid the keys do not hold, or none are held yet: fetch again unless a fetch ran
  // less than min_refresh_interval ago; wait for one already running (the first one, at start,
  // too). Completes on the caller's executor.
  awaitable<void> refresh_for_unknown_kid();

  // Publishes `keys` as the current set (what a fetch does; tests call it directly).
  void publish(jose::KeySet keys);
  // Fetches attempted so far (for tests).
  std::uint64_t fetches_attempted() const noexcept {
    return attempts_.load(std::memory_order_relaxed);
  }

 private:
  JwksClient(JwksSettings settings, std::shared_ptr<ssl::context> tls_context, std::string label);

  // All on worker 0. run: the first fetch (retried with backoff), then one every
  // refresh_interval. fetch_single_flight: joins a running fetch, else fetches unless `forced` is
  // false and the last attempt is too recent. fetch: one attempt; true when keys were published.
  awaitable<void> run();
  awaitable<bool> fetch_single_flight(bool forced);
  awaitable<bool> fetch();
  awaitable<bool> discover_jwks_uri();
  bool attempted_recently() const noexcept;

  struct alignas(64) WorkerView {
    std::shared_ptr<const jose::KeySet> keys;
    std::uint64_t version = 0;
  };

  JwksSettings settings_;
  std::shared_ptr<ssl::context> tls_context_;
  std::string label_;
  std::vector<asio::any_io_executor> executors_;

  // Published state: written under the mutex, which readers take only when the version moved.
  mutable std::mutex mutex_;
  std::shared_ptr<const jose::KeySet> current_;
  std::atomic<std::uint64_t> version_{0};
  mutable std::vector<WorkerView> views_;  // one per worker, touched only on its thread

  // Worker 0 only.
  std::string jwks_url_;
  std::shared_ptr<upstream::HttpClientPool> pool_;
  bool refreshing_ = false;
  std::shared_ptr<asio::steady_timer> refresh_done_;  // cancelled when a fetch ends
  std::shared_ptr<asio::steady_timer> sleep_timer_;
  // Steady-clock nanoseconds of the last fetch attempt; read by any worker.
  std::atomic<std::int64_t> last_attempt_ns_{std::numeric_limits<std::int64_t>::min() / 2};
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace tollgate::oidc
