// The second level of the introspection cache, shared by every replica through Redis
// (cluster_cache_strategy: redis). The per-process TokenCache stays the first level; this one is
// asked inside its single flight, so a process asks Redis once per token at a time.
//
// Keys are "<prefix>tok:<hex of the SHA-256 cache key>", never the token. Values are sealed with
// AES-256-GCM under cluster_cache_key, the Redis key as associated data (sealed_value.hpp); the
// plaintext is the answer's expiry and its claims as JSON. A value that does not open or parse is
// a miss. Redis never decides access: every failure is a miss, and a breaker per worker stops
// asking a Redis that keeps failing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/common/asio.hpp"
#include "tollgate/oidc/introspection.hpp"
#include "tollgate/oidc/token_cache.hpp"
#include "tollgate/redis/client.hpp"

namespace tollgate::oidc {

class Sealer;

struct ClusterCacheSettings {
  redis::Options redis;
  std::string prefix = "tollgate:";
  std::vector<std::array<unsigned char, 32>> keys;  // cluster_cache_key: the first seals
  std::string ca_file;                              // for ssl: the plugin's ca_file
};

// How one second-level lookup ended: an answer, nothing there, a value that does not open or
// parse (tampered, foreign, or sealed with a key no longer listed), or Redis failing.
enum class ClusterLookup : std::uint8_t { hit, miss, unreadable, error };

class ClusterCache {
 public:
  ClusterCache(ClusterCacheSettings settings, std::string label);
  ~ClusterCache();

  // One Redis client per worker; called before the first request.
  void start(const std::vector<asio::any_io_executor>& executors);
  // On worker `worker`'s thread: its connections close there.
  void release_worker(unsigned worker);

  struct Found {
    IntrospectionPtr answer;
    std::chrono::milliseconds ttl;  // what is left of the life it was stored with
  };
  // The answer another replica (or this one) stored; nullopt on a miss, a Redis failure, or a
  // value that does not open. `how` learns which.
  awaitable<std::optional<Found>> find(const CacheKey& key, unsigned worker,
                                       ClusterLookup* how = nullptr) const;
  // Stores `answer` for `ttl` unless a value is there already (or over it, with `replace`: the
  // value there is unreadable); runs detached, so a slow Redis never delays the request.
  void store(const CacheKey& key, const IntrospectionPtr& answer, std::chrono::milliseconds ttl,
             unsigned worker, bool replace = false) const;
  // Takes the cross-replica lock on `key` for `hold`: true when this replica should call the IdP
  // (it got the lock, or Redis could not say).
  awaitable<bool> lock(const CacheKey& key, unsigned worker, std::chrono::milliseconds hold) const;
  // Polls for the value another replica is fetching, for at most `budget`.
  awaitable<std::optional<Found>> wait_for(const CacheKey& key, unsigned worker,
                                           std::chrono::milliseconds budget) const;

  std::string redis_key(const CacheKey& key) const;
  const std::string& replica_id() const noexcept { return replica_id_; }
  // The worst breaker state over the workers, for /readyz and the metrics.
  redis::BreakerState state() const noexcept;

 private:
  struct Worker;

  ClusterCacheSettings settings_;
  std::string label_;
  std::string replica_id_;
  std::unique_ptr<Sealer> sealer_;
  std::shared_ptr<ssl::context> tls_context_;
  std::vector<std::shared_ptr<Worker>> workers_;
};

}  // namespace tollgate::oidc
