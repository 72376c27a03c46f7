// What lives apart from the configuration: the running filters of plugin instances (IdP clients,
// their pools, token caches, discovery state). The configuration holds only their settings; the
// runtime builds filters from them and keeps each one across reloads for as long as its instance
// keeps its name and fingerprint, so a reload empties no cache and repeats no discovery.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/config/config.hpp"
#include "tollgate/filters/filter.hpp"

namespace tollgate::server {

// The filters one configuration runs with; shared, read-only, by every worker.
struct FilterSet {
  std::vector<std::string> names;                           // indexed like config.plugins
  std::vector<std::shared_ptr<filters::Filter>> instances;  // same index
  std::vector<std::vector<const filters::Filter*>> chains;  // per route, in its order
  // Per route: a filter of its chain reads form bodies (Filter::reads_form_body).
  std::vector<bool> reads_form_body;

  // The instances that cannot answer their requests yet (/readyz).
  std::vector<std::string> not_ready() const;
};

// What a worker holds of a filter for as long as some request there may reach it: the last holder,
// a request or the worker itself, drops it on the worker's thread, and the filter then releases
// what belongs to that worker (Filter::release_worker).
class WorkerHold {
 public:
  WorkerHold(std::shared_ptr<filters::Filter> filter, unsigned worker)
      : filter_(std::move(filter)), worker_(worker) {}
  ~WorkerHold() { filter_->release_worker(worker_); }
  WorkerHold(const WorkerHold&) = delete;
  WorkerHold& operator=(const WorkerHold&) = delete;
  const filters::Filter* filter() const noexcept { return filter_.get(); }

 private:
  std::shared_ptr<filters::Filter> filter_;
  unsigned worker_;
};

// Used from the thread that loads configurations only.
class PluginRuntime {
 public:
  explicit PluginRuntime(filters::StartContext context) : context_(std::move(context)) {}

  // The filters for `config`. An instance whose name and fingerprint are those of a running one
  // keeps that filter; any other gets a new filter, started. Running filters `config` no longer
  // has are stopped (requests still on them finish). Throws, changing nothing, when a filter cannot
  // be built (e.g. a CA file removed since the load).
  std::shared_ptr<const FilterSet> apply(const config::GatewayConfig& config);
  // Stops every filter (the gateway is stopping).
  void stop_all();

 private:
  struct Running {
    std::string fingerprint;
    std::shared_ptr<filters::Filter> filter;
  };
  filters::StartContext context_;
  std::map<std::string, Running> running_;  // by instance name
};

}  // namespace tollgate::server
