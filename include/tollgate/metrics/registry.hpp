// What the gateway counts, by the names the configuration gives (routes, upstream targets, plugin
// instances). The registry makes each set of counts on first use and keeps it for the life of the
// process, so counts go on across reloads; the hot path holds a pointer to its worker's cell,
// resolved when a configuration is installed, and never looks anything up.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tollgate/metrics/counters.hpp"

namespace tollgate::metrics {

inline constexpr unsigned kLowestStatus = 100;
inline constexpr unsigned kStatusSlots = 500;  // 100 to 599

// One worker's counts for one route (or for the requests no route matched).
struct RouteCell {
  std::array<Count, kStatusSlots> responses;  // by status, at status - 100
  Histogram duration{kRequestBounds};

  void record(unsigned status, std::chrono::nanoseconds took) noexcept {
    if (status >= kLowestStatus && status < kLowestStatus + kStatusSlots) {
      responses[status - kLowestStatus].add();
    }
    duration.observe(took);
  }
};

// How one attempt on one upstream target ended.
enum class UpstreamOutcome : std::uint8_t {
  ok,
  connect_error,  // connect or TLS handshake failed
  timeout,        // connect, send or answer took too long
  bad_response,   // reset, closed early, or not HTTP
  busy,           // max_connections open and the wait queue full or timed out
  client_abort,   // the client went away or sent a bad body while the request was forwarded
};
inline constexpr std::size_t kUpstreamOutcomes = 6;
std::string_view name_of(UpstreamOutcome outcome) noexcept;

struct TargetCell {
  std::array<Count, kUpstreamOutcomes> outcomes;
  Histogram duration{kRequestBounds};  // until the response head arrived
  Level in_flight;
  Level down_until_ns;  // steady-clock time until which this worker skips the target (0: up)
};

// The openid-connect filter's verdicts.
enum class Decision : std::uint8_t {
  allowed,
  no_token,
  invalid_token,
  insufficient_scope,
  invalid_request,
  idp_unavailable,
};
inline constexpr std::size_t kDecisions = 6;
std::string_view name_of(Decision decision) noexcept;

// resurrected: a miss or coalesced lookup whose IdP call failed, answered from an expired entry
// within cache_ttl_resurrect (counted instead of the miss or coalesced).
enum class CacheLookup : std::uint8_t { hit, miss, coalesced, resurrected };
inline constexpr std::size_t kCacheLookups = 4;
std::string_view name_of(CacheLookup lookup) noexcept;

// How a lookup in the cluster cache (Redis, the second level) ended; unreadable: a value was there
// but did not open or parse (tampered, foreign, sealed with a key no longer listed); error: Redis
// failed.
enum class ClusterCacheLookup : std::uint8_t { hit, miss, unreadable, error };
inline constexpr std::size_t kClusterCacheLookups = 4;
std::string_view name_of(ClusterCacheLookup lookup) noexcept;

// What a cache purge (admin POST /cache/purge) names, and where it came from: this process's admin
// listener, or another replica's through Redis.
enum class PurgeScope : std::uint8_t { key, sub, client_id, all };
inline constexpr std::size_t kPurgeScopes = 4;
std::string_view name_of(PurgeScope scope) noexcept;
enum class PurgeOrigin : std::uint8_t { admin, replica };
inline constexpr std::size_t kPurgeOrigins = 2;
std::string_view name_of(PurgeOrigin origin) noexcept;

// How one IdP call ended: an answer, or one kind of failure.
enum class IdpOutcome : std::uint8_t {
  active,
  inactive,
  not_ready,
  connect,
  io,
  timeout,
  http_status,
  bad_response,
  cancelled,
  internal,
};
inline constexpr std::size_t kIdpOutcomes = 10;
std::string_view name_of(IdpOutcome outcome) noexcept;

struct PluginCell {
  std::array<Count, kDecisions> decisions;
  std::array<Count, kCacheLookups> lookups;
  std::array<Count, kIdpOutcomes> idp_outcomes;
  std::array<Count, kClusterCacheLookups> cluster_lookups;
  Histogram idp_duration{kIdpBounds};
  // Purges applied to the first level, at purge_slot(), and the entries they removed. Written by
  // the thread purges run on (the admin listener's worker).
  std::array<Count, kPurgeScopes * kPurgeOrigins> purges;
  Count purged_entries;

  static constexpr std::size_t purge_slot(PurgeScope scope, PurgeOrigin origin) noexcept {
    return static_cast<std::size_t>(origin) * kPurgeScopes + static_cast<std::size_t>(scope);
  }
};

// The last IdP failure of one plugin instance, for the status page. Written on failures only.
struct IdpError {
  std::chrono::system_clock::time_point at;
  std::string kind;
  std::string message;
};

// A cache's state, read from the live cache when scraped.
struct CacheGauges {
  std::size_t entries = 0;
  std::size_t bytes = 0;  // entries and the answers only they hold
  std::size_t capacity = 0;
  std::uint64_t evictions = 0;  // made room for a newer entry (since the cache was made)
};

struct RouteStats {
  explicit RouteStats(unsigned workers) : cells(workers) {}
  PerWorker<RouteCell> cells;
};

struct TargetStats {
  explicit TargetStats(unsigned workers) : cells(workers) {}
  PerWorker<TargetCell> cells;

  // False while any worker skips the target after a failure (passive health).
  bool up() const noexcept;
};

class PluginStats {
 public:
  explicit PluginStats(unsigned workers) : cells(workers) {}
  PerWorker<PluginCell> cells;

  void set_last_error(IdpError error);
  std::optional<IdpError> last_error() const;

 private:
  mutable std::mutex mutex_;
  std::optional<IdpError> last_error_;
};

// The connections one worker holds.
struct ConnectionCell {
  Count open;
  Count idle;      // waiting for a next request
  Count tunnels;   // carrying a WebSocket tunnel
  Count accepted;  // ever taken by this worker: how the kernel spreads connections
  Count requests;  // answered by this worker
};

// Reloads, for tollgate_config_* and the status page. Written by the thread that loads
// configurations.
struct ReloadState {
  std::uint64_t generation = 1;
  std::chrono::system_clock::time_point loaded_at;
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::optional<std::chrono::system_clock::time_point> last_at;
  std::optional<std::chrono::system_clock::time_point> last_success_at;
  bool last_ok = true;
  std::string last_error;  // of the last reload, when it failed
};

class Registry {
 public:
  explicit Registry(unsigned workers);

  unsigned workers() const noexcept { return workers_; }
  std::chrono::system_clock::time_point started_at() const noexcept { return started_at_; }

  // Made on first use; the same object for the same name for the life of the registry.
  RouteStats& route(const std::string& name);
  RouteStats& unmatched() noexcept { return unmatched_; }
  const RouteStats& unmatched() const noexcept { return unmatched_; }
  TargetStats& target(const std::string& upstream, const std::string& url);
  std::shared_ptr<PluginStats> plugin(const std::string& name);
  ConnectionCell& connections(unsigned worker) noexcept { return connections_[worker]; }
  const PerWorker<ConnectionCell>& connections() const noexcept { return connections_; }

  // Found, or nullptr: for readers, which never create.
  const RouteStats* find_route(const std::string& name) const;
  const TargetStats* find_target(const std::string& upstream, const std::string& url) const;
  std::shared_ptr<const PluginStats> find_plugin(const std::string& name) const;

  void reload_succeeded();
  void reload_failed(std::string error);
  ReloadState reloads() const;

 private:
  unsigned workers_;
  std::chrono::system_clock::time_point started_at_;
  mutable std::mutex mutex_;  // the maps and the reload state; never taken on the hot path
  std::map<std::string, std::unique_ptr<RouteStats>, std::less<>> routes_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<TargetStats>> targets_;
  std::map<std::string, std::shared_ptr<PluginStats>, std::less<>> plugins_;
  RouteStats unmatched_;
  PerWorker<ConnectionCell> connections_;
  ReloadState reloads_;
};

}  // namespace tollgate::metrics
