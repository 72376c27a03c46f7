#include "tollgate/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tollgate::metrics {

void HistogramTotal::add(const Histogram& h) {
  if (bounds.empty()) bounds = h.bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    const std::uint64_t n = h.bucket(i);
    buckets[i] += n;
    count += n;
  }
  sum_seconds += static_cast<double>(h.sum_ns()) / 1e9;
}

double HistogramTotal::quantile(double q) const {
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(count);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const std::uint64_t in_bucket = buckets[i];
    if (in_bucket > 0 && static_cast<double>(below + in_bucket) >= rank) {
      const double lower = i == 0 ? 0.0 : static_cast<double>(bounds[i - 1]) / 1e9;
      const double upper = static_cast<double>(bounds[i]) / 1e9;
      const double into = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lower + (upper - lower) * std::clamp(into, 0.0, 1.0);
    }
    below += in_bucket;
  }
  return bounds.empty() ? std::numeric_limits<double>::quiet_NaN()
                        : static_cast<double>(bounds.back()) / 1e9;
}

std::string_view name_of(UpstreamOutcome outcome) noexcept {
  switch (outcome) {
    case UpstreamOutcome::ok:
      return "ok";
    case UpstreamOutcome::connect_error:
      return "connect_error";
    case UpstreamOutcome::timeout:
      return "timeout";
    case UpstreamOutcome::bad_response:
      return "bad_response";
    case UpstreamOutcome::busy:
      return "busy";
    case UpstreamOutcome::client_abort:
      return "client_abort";
  }
  return "unknown";
}

std::string_view name_of(Decision decision) noexcept {
  switch (decision) {
    case Decision::allowed:
      return "allowed";
    case Decision::no_token:
      return "no_token";
    case Decision::invalid_token:
      return "invalid_token";
    case Decision::insufficient_scope:
      return "insufficient_scope";
    case Decision::invalid_request:
      return "invalid_request";
    case Decision::idp_unavailable:
      return "idp_unavailable";
  }
  return "unknown";
}

std::string_view name_of(CacheLookup lookup) noexcept {
  switch (lookup) {
    case CacheLookup::hit:
      return "hit";
    case CacheLookup::miss:
      return "miss";
    case CacheLookup::coalesced:
      return "coalesced";
    case CacheLookup::resurrected:
      return "resurrected";
  }
  return "unknown";
}

std::string_view name_of(ClusterCacheLookup lookup) noexcept {
  switch (lookup) {
    case ClusterCacheLookup::hit:
      return "hit";
    case ClusterCacheLookup::miss:
      return "miss";
    case ClusterCacheLookup::unreadable:
      return "unreadable";
    case ClusterCacheLookup::error:
      return "error";
  }
  return "unknown";
}

std::string_view name_of(PurgeScope scope) noexcept {
  switch (scope) {
    case PurgeScope::key:
      return "key";
    case PurgeScope::sub:
      return "sub";
    case PurgeScope::client_id:
      return "client_id";
    case PurgeScope::all:
      return "all";
  }
  return "unknown";
}

std::string_view name_of(PurgeOrigin origin) noexcept {
  switch (origin) {
    case PurgeOrigin::admin:
      return "admin";
    case PurgeOrigin::replica:
      return "replica";
  }
  return "unknown";
}

std::string_view name_of(IdpOutcome outcome) noexcept {
  switch (outcome) {
    case IdpOutcome::active:
      return "active";
    case IdpOutcome::inactive:
      return "inactive";
    case IdpOutcome::not_ready:
      return "not_ready";
    case IdpOutcome::connect:
      return "connect";
    case IdpOutcome::io:
      return "io";
    case IdpOutcome::timeout:
      return "timeout";
    case IdpOutcome::http_status:
      return "http_status";
    case IdpOutcome::bad_response:
      return "bad_response";
    case IdpOutcome::cancelled:
      return "cancelled";
    case IdpOutcome::internal:
      return "internal";
  }
  return "unknown";
}

bool TargetStats::up() const noexcept {
  const auto now =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  for (unsigned w = 0; w < cells.size(); ++w) {
    if (cells[w].down_until_ns.get() > now) return false;
  }
  return true;
}

void PluginStats::set_last_error(IdpError error) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(error);
}

std::optional<IdpError> PluginStats::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

Registry::Registry(unsigned workers)
    : workers_(workers ? workers : 1),
      started_at_(std::chrono::system_clock::now()),
      unmatched_(workers_),
      connections_(workers_) {
  reloads_.loaded_at = started_at_;
}

RouteStats& Registry::route(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = routes_[name];
  if (!slot) slot = std::make_unique<RouteStats>(workers_);
  return *slot;
}

TargetStats& Registry::target(const std::string& upstream, const std::string& url) {
  std::lock_guard lock(mutex_);
  auto& slot = targets_[{upstream, url}];
  if (!slot) slot = std::make_unique<TargetStats>(workers_);
  return *slot;
}

std::shared_ptr<PluginStats> Registry::plugin(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = plugins_[name];
  if (!slot) slot = std::make_shared<PluginStats>(workers_);
  return slot;
}

const RouteStats* Registry::find_route(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = routes_.find(name);
  return it == routes_.end() ? nullptr : it->second.get();
}

const TargetStats* Registry::find_target(const std::string& upstream,
                                         const std::string& url) const {
  std::lock_guard lock(mutex_);
  auto it = targets_.find({upstream, url});
  return it == targets_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const PluginStats> Registry::find_plugin(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : it->second;
}

void Registry::reload_succeeded() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::system_clock::now();
  ++reloads_.generation;
  ++reloads_.successes;
  reloads_.loaded_at = now;
  reloads_.last_at = now;
  reloads_.last_success_at = now;
  reloads_.last_ok = true;
  reloads_.last_error.clear();
}

void Registry::reload_failed(std::string error) {
  std::lock_guard lock(mutex_);
  ++reloads_.failures;
  reloads_.last_at = std::chrono::system_clock::now();
  reloads_.last_ok = false;
  reloads_.last_error = std::move(error);
}

ReloadState Registry::reloads() const {
  std::lock_guard lock(mutex_);
  return reloads_;
}

}  // namespace tollgate::metrics
