// The second level of the introspection cache, shared by every replica through Redis
// (cluster_cache_strategy: redis). The per-process TokenCache stays the first level; this one is
// asked inside its single flight, so a process asks Redis once per token at a time.
//
// Keys are "<prefix>tok:<hex of the SHA-256 cache key>", never the token. Values are sealed with
// AES-256-GCM under cluster_cache_key, the Redis key as associated data (sealed_value.hpp); the
// plaintext is the answer's expiry and its claims as JSON. A value that does not open or parse is
// a miss. Redis never decides access: every failure is a miss, and a breaker per worker stops
// asking a Redis that keeps failing.
//
// Purges (admin POST /cache/purge). Each stored answer is also listed, by its key's hex, in
// "<prefix>who:<tag of its sub>" and "<prefix>app:<tag of its client_id>": sorted sets scored by
// the entries' expiry, which live as long as their longest entry. A tag is an HMAC of the claim's
// value under a key derived from cluster_cache_key, so no claim value is readable in Redis. A
// purge bumps "<prefix>gen", deletes what it names, then publishes on "<prefix>purge"; each
// process keeps one subscriber to that channel, which hands other replicas' purges to the first
// level. A store carries the generation read before its IdP call and is dropped (atomically, in
// a script) when a purge came in between, so an answer fetched before a purge never lands after it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/common/asio.hpp"
#include "tollgate/metrics/registry.hpp"
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

// Another replica's purge, as this process's subscriber received it.
struct PurgeNotice {
  metrics::PurgeScope scope = metrics::PurgeScope::all;
  CacheKey key{};  // scope key
  // Scope sub or client_id: whether a claim's value is the one purged (its tag is in the message).
  std::function<bool(std::string_view value)> matches;
  unsigned worker = 0;  // the worker whose thread the notice is handled on
};

// What a purge did in Redis. When `error` is set, what follows the failed step was not done.
struct RedisPurge {
  std::size_t removed = 0;    // answers deleted
  long long subscribers = 0;  // subscribers the message reached (PUBLISH), this process's included
  std::string error;
};

class ClusterCache {
 public:
  ClusterCache(ClusterCacheSettings settings, std::string label);
  ~ClusterCache();

  // Handles a notice on the subscriber's thread; runs detached.
  using PurgeHandler = std::function<awaitable<void>(PurgeNotice)>;
  // One Redis client per worker, and one subscriber to purges on the first worker's thread
  // (reconnecting, with a breaker of its own); called before the first request.
  void start(const std::vector<asio::any_io_executor>& executors, PurgeHandler on_purge = {});
  // Ends the subscription: the instance leaves the configuration, or the gateway stops.
  void stop();
  // On worker `worker`'s thread: its connections close there.
  void release_worker(unsigned worker);

  struct Found {
    IntrospectionPtr answer;
    std::chrono::milliseconds ttl;  // what is left of the life it was stored with
  };
  struct Lookup {
    ClusterLookup how = ClusterLookup::error;
    std::optional<Found> found;
    std::string generation;  // the purge generation read with it, for store(); empty on error
  };
  // The answer another replica (or this one) stored, and how the lookup ended.
  awaitable<Lookup> find(const CacheKey& key, unsigned worker) const;

  struct Lock {
    bool call_idp = true;  // this replica took the lock, or Redis could not say
    std::string owner;     // not empty when this replica holds it: what releases it
  };
  // Takes the cross-replica lock on `key` for `hold`.
  awaitable<Lock> lock(const CacheKey& key, unsigned worker, std::chrono::milliseconds hold) const;
  // Releases the lock if `owner` still holds it (a script compares and deletes): the others
  // waiting for this replica's answer stop waiting and ask the IdP themselves. Detached.
  void unlock(const CacheKey& key, unsigned worker, std::string owner) const;
  // Polls for the value another replica is fetching, for at most `budget`; gives up early when
  // that replica released its lock without storing an answer.
  awaitable<std::optional<Found>> wait_for(const CacheKey& key, unsigned worker,
                                           std::chrono::milliseconds budget) const;

  // Stores `answer` for `ttl` unless a value is there already (or over it, with `replace`: the
  // value there is unreadable), and lists it under its sub and client_id; not when a purge came
  // after `generation` (from find(); empty: nothing is stored). Releases `owner`'s lock in the
  // same step. Runs detached, so a slow Redis never delays the request.
  void store(const CacheKey& key, const IntrospectionPtr& answer, std::chrono::milliseconds ttl,
             unsigned worker, bool replace, std::string generation, std::string owner) const;

  // Deletes what a purge names from Redis and publishes it to every replica. `value`: the cache
  // key's hex (key), the claim's value (sub, client_id), empty (all).
  awaitable<RedisPurge> purge(metrics::PurgeScope scope, std::string value, unsigned worker) const;

  std::string redis_key(const CacheKey& key) const;
  const std::string& replica_id() const noexcept { return replica_id_; }
  // The worst breaker state over the workers, for /readyz and the metrics.
  redis::BreakerState state() const noexcept;

 private:
  struct Worker;
  struct Subscriber;

  // The Redis key listing the answers whose `scope` claim has `value`, under listed key `index`.
  std::string index_key(metrics::PurgeScope scope, std::string_view value, std::size_t index) const;

  ClusterCacheSettings settings_;
  std::string label_;
  std::string replica_id_;
  std::unique_ptr<Sealer> sealer_;
  // HMAC keys for tags, one per cluster_cache_key (the first tags stores; purges try them all).
  std::vector<std::string> tag_keys_;
  std::shared_ptr<ssl::context> tls_context_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::shared_ptr<Subscriber> subscriber_;
};

}  // namespace tollgate::oidc
