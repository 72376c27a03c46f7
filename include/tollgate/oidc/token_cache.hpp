// The introspection cache shared by every worker of one plugin instance.
//
// It stores the IdP's answer (never a verdict: each route's policy is checked on every request),
// keyed by SHA-256(endpoint, client_id, token) so raw tokens are never stored. An entry lives
// min(cache_ttl, cache_ttl_max, exp - now - leeway); a hit never extends it; inactive answers live
// cache_ttl_neg; failures are never stored. An active answer whose time has ended is kept for
// cache_ttl_resurrect more, for the filter to serve while the IdP is unavailable (never past the
// token's exp); a fresh answer from the IdP replaces it. The number of entries is bounded (LRU), so
// a flood of random tokens cannot grow memory. The table is split into shards, each with its own
// mutex, so workers rarely contend.
//
// Single-flight: concurrent misses for one key, from any worker, make exactly one IdP call. The
// call runs detached on the first caller's executor, so it completes even if that request goes
// away; every waiter is resumed on its own executor with the same result.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "tollgate/common/hash.hpp"
#include "tollgate/metrics/registry.hpp"
#include "tollgate/oidc/clock.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::oidc {

struct CachePolicy {
  std::chrono::milliseconds ttl{300'000};            // cache_ttl
  std::optional<std::chrono::milliseconds> ttl_max;  // cache_ttl_max
  std::optional<std::chrono::milliseconds> ttl_min;  // cache_ttl_min
  std::chrono::milliseconds ttl_negative{10'000};    // cache_ttl_neg
  std::chrono::milliseconds leeway{5'000};           // clock skew allowed around exp
  std::size_t max_entries = 100'000;                 // cache_size
  // cache_ttl_resurrect: how long an active answer is kept after its cache time ended, to be
  // served only while the IdP cannot answer (find_resurrectable). Zero: not kept.
  std::chrono::milliseconds resurrect{0};
};

// How long `answer` may be served from the cache; zero or less means "do not cache".
//   active:   min(ttl, ttl_max, exp - now - leeway), raised to ttl_min when that stays within exp
//             (a malformed exp is not cached: the policy rejects it anyway);
//   inactive: ttl_negative.
std::chrono::milliseconds cache_ttl_for(const Introspection& answer,
                                        std::chrono::system_clock::time_point now,
                                        const CachePolicy& policy);

using CacheKey = Sha256;

// SHA-256 over the length-prefixed endpoint and client id, then the token: no two different triples
// share an input.
CacheKey make_cache_key(std::string_view endpoint, std::string_view client_id,
                        std::string_view token);

class TokenCache : public std::enable_shared_from_this<TokenCache> {
 public:
  // The IdP call made on a miss. It owns what it needs: it may outlive the request that started it.
  using Fetch = std::function<boost::asio::awaitable<IntrospectionResult>()>;
  // An answer and, when it came from a cache with a bound of its own (the cluster cache), the
  // longest this cache may keep it.
  struct Fetched {
    IntrospectionResult result;
    std::optional<std::chrono::milliseconds> ttl_cap;
  };
  using BoundedFetch = std::function<boost::asio::awaitable<Fetched>()>;

  static std::shared_ptr<TokenCache> create(CachePolicy policy, std::shared_ptr<const Clock> clock);

  // A fresh cached answer, or nullptr. Marks the entry recently used; never extends its life.
  IntrospectionPtr find(const CacheKey& key);

  // The cached answer, else joins the call already in flight for `key`, else starts `fetch` on the
  // caller's executor and waits for it. A successful answer is stored for cache_ttl_for(); a
  // failure goes to the current waiters only. A waiter whose coroutine is cancelled gets
  // IdpFailureKind::cancelled at once while the call goes on for the others.
  // `how`, when given, learns whether the answer was cached, fetched by this call (a miss), or
  // fetched by a call already in flight (coalesced).
  boost::asio::awaitable<IntrospectionResult> get_or_fetch(const CacheKey& key, Fetch fetch,
                                                           metrics::CacheLookup* how = nullptr);
  // The same, with the answer kept no longer than the fetch says.
  boost::asio::awaitable<IntrospectionResult> get_or_fetch(const CacheKey& key, BoundedFetch fetch,
                                                           metrics::CacheLookup* how = nullptr);

  // An active answer for `key` whose cache time ended less than cache_ttl_resurrect ago (or has
  // not ended), unless the token's exp has passed; else nullptr. For the filter to serve while the
  // IdP cannot answer.
  IntrospectionPtr find_resurrectable(const CacheKey& key);

  // Stores an answer as a completed fetch would, for at most `ttl_cap` when given.
  void store(const CacheKey& key, IntrospectionPtr answer,
             std::optional<std::chrono::milliseconds> ttl_cap = std::nullopt);

  // Purges (admin POST /cache/purge, or another replica's through Redis). Each removes entries,
  // those kept for cache_ttl_resurrect included, and makes every IdP call already in flight skip
  // storing its answer (its waiters still get it): an answer fetched before a purge never lands in
  // the cache after it. Each returns the number of entries it removed.
  std::size_t erase(const CacheKey& key);
  using Match = std::function<bool(const Introspection& answer)>;
  // Visits every entry, one shard at a time, resuming through the caller's executor between shards
  // so a large cache does not hold that thread, nor any shard, for long.
  boost::asio::awaitable<std::size_t> erase_if(Match match);
  boost::asio::awaitable<std::size_t> clear();

  std::size_t size() const;             // entries currently held (expired ones included until seen)
  std::size_t calls_in_flight() const;  // keys with an IdP call under way
  std::size_t capacity() const noexcept { return policy_.max_entries; }
  // Entries, the memory they take (each entry's node, and the answer when it is not the shared
  // inactive one), and the entries dropped so far to make room.
  metrics::CacheGauges gauges() const;

  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;
  ~TokenCache();

  struct Shard;
  struct Flight;

 private:
  TokenCache(CachePolicy policy, std::shared_ptr<const Clock> clock);

  Shard& shard_for(const CacheKey& key) const;
  // The IdP call of one flight, detached from every request so its waiters always get an answer.
  static boost::asio::awaitable<void> run_flight(std::shared_ptr<TokenCache> cache, CacheKey key,
                                                 std::shared_ptr<Flight> flight,
                                                 BoundedFetch fetch);
  void complete_flight(const CacheKey& key, const std::shared_ptr<Flight>& flight,
                       const Fetched& fetched);
  // store(), unless `purges_seen` is given and a purge happened since it was read.
  void insert(const CacheKey& key, IntrospectionPtr answer,
              std::optional<std::chrono::milliseconds> ttl_cap,
              std::optional<std::uint64_t> purges_seen);

  CachePolicy policy_;
  std::shared_ptr<const Clock> clock_;
  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
  // Purges so far. Read when a flight starts and, under the shard's lock, when it stores; never on
  // a hit.
  std::atomic<std::uint64_t> purges_{0};
};

}  // namespace tollgate::oidc
