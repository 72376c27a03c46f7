// A route's filters run in order before the request is forwarded. Each one either lets the request
// continue (possibly after changing its headers) or answers it itself. This is Envoy's
// StopIteration / continueDecoding / sendLocalReply collapsed into one co_await.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include "tollgate/metrics/registry.hpp"

namespace tollgate::config {
struct Route;
}
namespace tollgate::http_io {
class TraceContext;
}

namespace tollgate::filters {

using RequestHead = boost::beast::http::request_header<>;

// A response a filter sends instead of forwarding. The session adds the request id to the JSON
// body.
struct LocalResponse {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. WWW-Authenticate, Retry-After
  std::string message;  // goes into {"message": ..., "request_id": ...}
  std::string
      error;  // optional RFC 6750 error code for the JSON body ("invalid_token"); may be empty
};

class Verdict {
 public:
  static Verdict proceed() { return Verdict{}; }
  static Verdict respond(LocalResponse response) { return Verdict{std::move(response)}; }

  bool proceeds() const noexcept { return !response_.has_value(); }
  const LocalResponse& response() const { return *response_; }
  LocalResponse& response() { return *response_; }

 private:
  Verdict() = default;
  explicit Verdict(LocalResponse response) : response_(std::move(response)) {}
  std::optional<LocalResponse> response_;
};

// A form-encoded request body the session read whole before the filters ran, because a filter of
// the route reads it (Filter::reads_form_body). A filter may shorten it in place (remove a field):
// what it holds afterwards is forwarded, with Content-Length to match.
struct FormBody {
  char* data = nullptr;
  std::size_t size = 0;
  std::string_view view() const noexcept { return {data, size}; }
};

// What a filter sees of one request. Owned by the session, lives for the request.
struct RequestContext {
  RequestHead& request;  // filters may add or remove headers; the forwarder sends this head
  const config::Route& route;
  std::string_view path;   // normalised path the route was chosen on (before strip_path)
  std::string_view query;  // raw query string without '?', may be empty
  // The query the upstream gets, which a filter may rewrite (the target is rebuilt from it after
  // the filters ran); nullptr: not rewritable. `query` views it until it is rewritten.
  std::string* forwarded_query = nullptr;
  FormBody* form_body = nullptr;  // nullptr unless read for a filter (see FormBody)
  std::string_view request_id;
  boost::asio::ip::address peer;
  unsigned worker = 0;  // index of the worker thread running this request
  // Whether anything reads `principal`: with the access log off, auth filters skip working it out.
  bool wants_principal = true;
  std::string principal;  // set by auth filters for the access log (e.g. "sub" or hash)
  // How an auth filter looked the token up (hit, miss, coalesced, off), and how long the request
  // waited for the IdP: for the access log.
  std::string_view cache = "-";
  std::chrono::nanoseconds idp_duration{0};
  // The gateway's span of this request: the traceparent and tracestate it sends upstream, which
  // requests a filter makes for it (the IdP call) carry too. nullptr: none.
  const http_io::TraceContext* trace = nullptr;
};

// What admin POST /cache/purge names (README, "Purging cached answers").
struct CachePurge {
  metrics::PurgeScope scope = metrics::PurgeScope::all;
  std::string value;  // key: the cache key's 64 lower-case hex; sub, client_id: the claim's value
};

// What one plugin instance's purge did.
struct CachePurgeOutcome {
  std::size_t local = 0;      // entries removed from this process's cache
  bool clustered = false;     // the instance shares its cache through Redis
  std::size_t redis = 0;      // answers deleted in Redis
  long long subscribers = 0;  // subscribers (replicas) the purge message reached, this one included
  std::string redis_error;    // not empty when Redis was not (wholly) purged, or not told
};

// What a filter needs when the gateway starts: the number of workers, so filters can keep lock-free
// per-worker state (connection pools) indexed by RequestContext::worker, and an executor per
// worker.
struct StartContext {
  std::vector<boost::asio::any_io_executor> worker_executors;
  // Where instances count what they do, by their names; nullptr: they keep counts of their own.
  metrics::Registry* metrics = nullptr;
};

// One plugin instance as it runs: built by the runtime from the instance's settings, shared by
// every route that names it and every worker, and kept across reloads while its config stays the
// same.
class Filter {
 public:
  virtual ~Filter() = default;
  // Called once, before its first request, with every worker's executor.
  virtual void start(const StartContext& context) {}
  // Called when the instance leaves the running configuration or the gateway stops, so background
  // work (discovery retries) ends. Requests still running on it may finish.
  virtual void stop() {}
  // False while the instance cannot answer its requests yet (e.g. its IdP endpoint is still being
  // discovered): /readyz says so.
  virtual bool ready() const { return true; }
  // Called on worker `worker`'s thread once no request there can reach this filter any more: what
  // belongs to that worker's event loop (its connection pools) is destroyed now, on its own thread.
  virtual void release_worker(unsigned worker) {}
  // True when the filter needs a form-encoded request body before it decides: the session then
  // reads such a body (up to upstream::kRelayBufferSize) ahead of the filters, on this filter's
  // routes only.
  virtual bool reads_form_body() const { return false; }
  // The state of the instance's cache, if it keeps one (/metrics, /status.json).
  virtual std::optional<metrics::CacheGauges> cache_gauges() const { return std::nullopt; }
  // The state of its shared second-level cache's breaker ("closed", "half_open", "open"), when it
  // has one (/readyz detail, metrics).
  virtual std::optional<std::string_view> cluster_cache_state() const { return std::nullopt; }
  // Purges the instance's cache (admin POST /cache/purge), on worker `worker`'s thread: the admin
  // listener's. nullopt: it keeps no cache.
  virtual boost::asio::awaitable<std::optional<CachePurgeOutcome>> purge_cache(
      const CachePurge& what, unsigned worker) const {
    co_return std::nullopt;
  }
  virtual boost::asio::awaitable<Verdict> on_request(RequestContext& context) const = 0;
};

}  // namespace tollgate::filters
