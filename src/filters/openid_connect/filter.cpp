#include "tollgate/filters/openid_connect/filter.hpp"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

#include "tollgate/common/error.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/jose/jws.hpp"
#include "tollgate/oidc/claims.hpp"

namespace tollgate::filters::openid_connect {
namespace {

namespace http = boost::beast::http;
using oidc::IdpFailure;
using oidc::IdpFailureKind;
using oidc::IntrospectionResult;

// A quoted-string for an auth-param: backslash-escapes '"' and '\' (RFC 9110 §5.6.4).
std::string quoted_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string outcome_of(const IntrospectionResult& result) {
  if (!result) return "error:" + result.error().describe();
  return (*result)->active ? "active" : "inactive";
}

metrics::IdpOutcome outcome_kind(const IntrospectionResult& result) {
  if (result) {
    return (*result)->active ? metrics::IdpOutcome::active : metrics::IdpOutcome::inactive;
  }
  switch (result.error().kind) {
    case IdpFailureKind::not_ready:
      return metrics::IdpOutcome::not_ready;
    case IdpFailureKind::connect:
      return metrics::IdpOutcome::connect;
    case IdpFailureKind::io:
      return metrics::IdpOutcome::io;
    case IdpFailureKind::timeout:
      return metrics::IdpOutcome::timeout;
    case IdpFailureKind::http_status:
      return metrics::IdpOutcome::http_status;
    case IdpFailureKind::bad_response:
      return metrics::IdpOutcome::bad_response;
    case IdpFailureKind::cancelled:
      return metrics::IdpOutcome::cancelled;
    case IdpFailureKind::internal:
      return metrics::IdpOutcome::internal;
  }
  return metrics::IdpOutcome::internal;
}

// The trace an IdP call carries: the span of the request it is made for.
http_io::TraceContext trace_of(const RequestContext& context) {
  return context.trace != nullptr ? *context.trace : http_io::TraceContext();
}

// One IdP call, counted and logged once at info. Owns everything it uses: with single-flight it
// runs detached and may outlive the request (and the filter) that started it. It runs on worker
// `worker`'s thread, so it writes that worker's counts.
// `key`, when the answer is cached, is logged too: it is what a purge by key names.
boost::asio::awaitable<IntrospectionResult> call_idp(
    std::shared_ptr<oidc::IntrospectionClient> client, std::string token, unsigned worker,
    std::string route, std::shared_ptr<metrics::PluginStats> stats, http_io::TraceContext trace,
    std::optional<oidc::CacheKey> key = std::nullopt) {
  const auto started = std::chrono::steady_clock::now();
  IntrospectionResult result = IdpFailure(IdpFailureKind::internal);
  try {
    result = co_await client->introspect(token, worker, trace);
  } catch (const std::exception& e) {
    spdlog::error("openid-connect: route={} introspection failed unexpectedly: {}", route,
                  e.what());
  }
  const auto took = std::chrono::steady_clock::now() - started;
  metrics::PluginCell& counts = stats->cells[worker];
  counts.idp_outcomes[static_cast<std::size_t>(outcome_kind(result))].add();
  counts.idp_duration.observe(took);
  if (!result) {
    stats->set_last_error({std::chrono::system_clock::now(),
                           std::string(oidc::to_string(result.error().kind)),
                           result.error().describe()});
  }
  if (spdlog::should_log(spdlog::level::info)) {  // its arguments cost a hash and a string
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(took);
    if (key) {
      spdlog::info(
          "openid-connect: introspection route={} token={} key={} outcome={} latency_ms={}", route,
          short_hash(token), to_hex(*key), outcome_of(result), latency.count());
    } else {
      spdlog::info("openid-connect: introspection route={} token={} outcome={} latency_ms={}",
                   route, short_hash(token), outcome_of(result), latency.count());
    }
  }
  co_return result;
}

// The answer after a first-level miss with the cluster cache on: Redis first; on a Redis miss, the
// cross-replica lock decides who calls the IdP, and the others wait (bounded) for its answer before
// calling the IdP themselves. Every Redis failure is a miss. Runs inside the first level's single
// flight, so this process asks Redis once per token at a time. The lock this replica took is
// released when it is done: with its answer stored, or at once when the IdP call failed, so the
// others waiting on it ask the IdP themselves instead of waiting out their bound.
boost::asio::awaitable<oidc::TokenCache::Fetched> fetch_through_cluster(
    std::shared_ptr<const oidc::ClusterCache> cluster, oidc::CacheKey key,
    std::shared_ptr<oidc::IntrospectionClient> client, std::string token, unsigned worker,
    std::string route, std::shared_ptr<metrics::PluginStats> stats, http_io::TraceContext trace,
    oidc::CachePolicy policy, std::chrono::milliseconds idp_timeout,
    std::shared_ptr<const oidc::Clock> clock) {
  oidc::ClusterCache::Lookup lookup = co_await cluster->find(key, worker);
  const metrics::ClusterCacheLookup counted =
      lookup.how == oidc::ClusterLookup::hit          ? metrics::ClusterCacheLookup::hit
      : lookup.how == oidc::ClusterLookup::miss       ? metrics::ClusterCacheLookup::miss
      : lookup.how == oidc::ClusterLookup::unreadable ? metrics::ClusterCacheLookup::unreadable
                                                      : metrics::ClusterCacheLookup::error;
  stats->cells[worker].cluster_lookups[static_cast<std::size_t>(counted)].add();
  std::optional<oidc::ClusterCache::Found> found = std::move(lookup.found);
  oidc::ClusterCache::Lock lock;
  if (!found && lookup.how == oidc::ClusterLookup::miss) {
    lock = co_await cluster->lock(key, worker, idp_timeout);
    if (!lock.call_idp) found = co_await cluster->wait_for(key, worker, idp_timeout / 4);
  }
  if (found) co_return oidc::TokenCache::Fetched{std::move(found->answer), found->ttl};

  IntrospectionResult result =
      co_await call_idp(client, std::move(token), worker, route, stats, trace, key);
  if (result) {
    cluster->store(key, *result, oidc::cache_ttl_for(**result, clock->wall_now(), policy), worker,
                   /*replace=*/lookup.how == oidc::ClusterLookup::unreadable,
                   std::move(lookup.generation), std::move(lock.owner));
  } else {
    cluster->unlock(key, worker, std::move(lock.owner));
  }
  co_return oidc::TokenCache::Fetched{std::move(result), std::nullopt};
}

// Removes from `cache` what a purge names: one key, the entries whose `sub` or `client_id` the
// purge's value `matches`, or all.
boost::asio::awaitable<std::size_t> purge_first_level(
    std::shared_ptr<oidc::TokenCache> cache, metrics::PurgeScope scope, oidc::CacheKey key,
    std::function<bool(std::string_view)> matches) {
  switch (scope) {
    case metrics::PurgeScope::key:
      co_return cache->erase(key);
    case metrics::PurgeScope::all:
      co_return co_await cache->clear();
    case metrics::PurgeScope::sub:
    case metrics::PurgeScope::client_id:
      break;
  }
  const char* claim = scope == metrics::PurgeScope::sub ? "sub" : "client_id";
  co_return co_await cache->erase_if([claim, &matches](const oidc::Introspection& answer) {
    const oidc::ClaimValue value = answer.claims.find(claim);
    return value.is_string() && matches(value.string());
  });
}

// Counts a purge on the thread it ran on (worker `worker`'s).
void count_purge(metrics::PluginStats& stats, unsigned worker, metrics::PurgeScope scope,
                 metrics::PurgeOrigin origin, std::size_t removed) {
  metrics::PluginCell& cell = stats.cells[worker];
  cell.purges[metrics::PluginCell::purge_slot(scope, origin)].add();
  cell.purged_entries.add(removed);
}

// Another replica's purge, received through Redis.
boost::asio::awaitable<void> apply_purge_notice(std::weak_ptr<oidc::TokenCache> weak,
                                                std::shared_ptr<metrics::PluginStats> stats,
                                                std::string label, oidc::PurgeNotice notice) {
  const std::shared_ptr<oidc::TokenCache> cache = weak.lock();
  if (!cache) co_return;
  try {
    const std::size_t removed =
        co_await purge_first_level(cache, notice.scope, notice.key, std::move(notice.matches));
    count_purge(*stats, notice.worker, notice.scope, metrics::PurgeOrigin::replica, removed);
    spdlog::info("openid-connect[{}]: cache purge scope={} from another replica: {} removed here",
                 label, metrics::name_of(notice.scope), removed);
  } catch (const std::exception& e) {
    spdlog::error("openid-connect[{}]: cache purge from another replica failed: {}", label,
                  e.what());
  }
}

void count(metrics::PluginCell& counts, metrics::Decision decision) {
  counts.decisions[static_cast<std::size_t>(decision)].add();
}

void count(metrics::PluginCell& counts, metrics::CacheLookup lookup) {
  counts.lookups[static_cast<std::size_t>(lookup)].add();
}

// Who the access log says made the request: sub, else client_id, else the token's hash. The text
// is kept as the IdP sent it (the log escapes what is not printable ASCII), unless absurdly long.
std::string principal_of(const oidc::Introspection& answer, std::string_view token) {
  constexpr std::size_t kMaxPrincipal = 256;
  for (const char* claim : {"sub", "client_id"}) {
    const oidc::ClaimValue value = answer.claims.find(claim);
    if (!value.is_string()) continue;
    const std::string_view text = value.string();
    if (!text.empty() && text.size() <= kMaxPrincipal) return std::string(text);
  }
  return "token:" + short_hash(token);
}

void hide_credentials(RequestContext& context, const ExtractedToken& token,
                      const TokenLocations& locations) {
  switch (token.source) {
    case TokenSource::header:
      context.request.erase(http::field::authorization);
      break;
    case TokenSource::cookie:
      remove_cookie(context.request, locations.cookie_name);
      break;
    case TokenSource::query:
      if (context.forwarded_query != nullptr) {
        *context.forwarded_query = without_parameter(context.query, kAccessTokenParameter);
        context.query = *context.forwarded_query;
      }
      break;
    case TokenSource::body: {
      // Only ever shorter: the rest of the form is written back in place.
      const std::string kept = without_parameter(context.form_body->view(), kAccessTokenParameter);
      std::copy(kept.begin(), kept.end(), context.form_body->data);
      context.form_body->size = kept.size();
      break;
    }
  }
}

// A CORS preflight (Fetch standard): what a browser sends, without credentials, before a
// cross-origin request.
bool is_cors_preflight(const RequestHead& request) {
  return request.method() == http::verb::options &&
         request.find(http::field::origin) != request.end() &&
         request.find(http::field::access_control_request_method) != request.end();
}

}  // namespace

OpenIdConnectFilter::OpenIdConnectFilter(std::string instance, Settings settings,
                                         std::shared_ptr<oidc::IntrospectionClient> client,
                                         std::shared_ptr<const oidc::Clock> clock,
                                         std::shared_ptr<oidc::JwksClient> jwks)
    : instance_(std::move(instance)),
      settings_(std::move(settings)),
      stats_(std::make_shared<metrics::PluginStats>(1)),
      client_(std::move(client)),
      clock_(std::move(clock)),
      jwks_(std::move(jwks)),
      jwt_(settings_.jwt) {
  if (settings_.cache_introspection) cache_ = oidc::TokenCache::create(settings_.cache, clock_);
  if (cache_ && settings_.cluster_cache) {
    cluster_ = std::make_shared<oidc::ClusterCache>(*settings_.cluster_cache, label());
  }
  cache_key_endpoint_ = settings_.idp.endpoint.empty() ? "discovered-from:" + settings_.idp.issuer
                                                       : settings_.idp.endpoint;
  bare_challenge_ = "Bearer realm=" + quoted_string(settings_.realm);
}

void OpenIdConnectFilter::start(const StartContext& context) {
  const auto workers = static_cast<unsigned>(context.worker_executors.size());
  stats_ = context.metrics ? context.metrics->plugin(instance_)
                           : std::make_shared<metrics::PluginStats>(workers);
  if (client_) client_->start(context);
  if (jwks_) jwks_->start(context);
  if (settings_.bearer) verified_ = std::make_unique<oidc::VerifiedJwtCache>(workers);
  if (cluster_) {
    cluster_->start(context.worker_executors,
                    [cache = std::weak_ptr<oidc::TokenCache>(cache_), stats = stats_,
                     label = label()](oidc::PurgeNotice notice) {
                      return apply_purge_notice(cache, stats, label, std::move(notice));
                    });
  }
}

void OpenIdConnectFilter::stop() {
  if (client_) client_->stop();
  if (jwks_) jwks_->stop();
  if (cluster_) cluster_->stop();
}

std::string OpenIdConnectFilter::label() const {
  return instance_.empty() ? "openid-connect" : instance_;
}

boost::asio::awaitable<std::optional<CachePurgeOutcome>> OpenIdConnectFilter::purge_cache(
    const CachePurge& what, unsigned worker) const {
  if (!cache_) co_return std::nullopt;
  CachePurgeOutcome outcome;
  // Redis first: once its answers are gone, a miss here cannot bring one back from there (and a
  // call in flight that did is not stored: the first level's purge comes after).
  if (cluster_) {
    outcome.clustered = true;
    oidc::RedisPurge redis = co_await cluster_->purge(what.scope, what.value, worker);
    outcome.redis = redis.removed;
    outcome.subscribers = redis.subscribers;
    outcome.redis_error = std::move(redis.error);
  }
  oidc::CacheKey key{};
  if (what.scope == metrics::PurgeScope::key) {
    if (const auto parsed = sha256_from_hex(what.value)) key = *parsed;
  }
  outcome.local = co_await purge_first_level(
      cache_, what.scope, key, [&what](std::string_view value) { return value == what.value; });
  count_purge(*stats_, worker, what.scope, metrics::PurgeOrigin::admin, outcome.local);
  if (outcome.redis_error.empty()) {
    spdlog::info(
        "openid-connect[{}]: cache purge scope={} by the admin API: {} removed here, {} in "
        "Redis{}",
        label(), metrics::name_of(what.scope), outcome.local, outcome.redis,
        cluster_ ? ", " + std::to_string(outcome.subscribers) + " subscriber(s) told" : "");
  } else {
    spdlog::warn(
        "openid-connect[{}]: cache purge scope={} by the admin API: {} removed here, {} in "
        "Redis; not done in Redis and other replicas not told: {}",
        label(), metrics::name_of(what.scope), outcome.local, outcome.redis, outcome.redis_error);
  }
  co_return outcome;
}

bool OpenIdConnectFilter::ready() const {
  return (!client_ || client_->ready()) && (!jwks_ || jwks_->ready());
}

void OpenIdConnectFilter::release_worker(unsigned worker) {
  if (client_) client_->release_worker(worker);
  if (jwks_) jwks_->release_worker(worker);
  if (verified_) verified_->release_worker(worker);
  if (cluster_) cluster_->release_worker(worker);
}

std::optional<metrics::CacheGauges> OpenIdConnectFilter::cache_gauges() const {
  if (!cache_) return std::nullopt;
  return cache_->gauges();
}

std::optional<std::string_view> OpenIdConnectFilter::cluster_cache_state() const {
  if (!cluster_) return std::nullopt;
  return redis::to_string(cluster_->state());
}

boost::asio::awaitable<Verdict> OpenIdConnectFilter::on_request(RequestContext& context) const {
  // Nothing is added for a preflight let through: the headers this filter sets are gone already.
  if (!settings_.run_on_preflight && is_cors_preflight(context.request)) {
    co_return Verdict::proceed();
  }
  metrics::PluginCell& counts = stats_->cells[context.worker];
  // The headers this filter sets never come from the client: the gateway removed them already,
  // with every protected header, before any filter runs.
  auto extracted =
      extract_token(context.request, context.query, settings_.token_locations,
                    context.form_body != nullptr ? context.form_body->view() : std::string_view());
  if (!extracted) {
    if (extracted.error().kind == ExtractionFailure::Kind::missing) {
      co_return missing_token(counts);
    }
    co_return invalid_request(extracted.error().description, counts);
  }
  if (settings_.bearer && jose::looks_like_compact_jws(extracted->value)) {
    const Sha256 digest = sha256(extracted->value);
    JwtVerdict jwt{oidc::JwtRejection::none, verified_before(digest, context.worker), nullptr};
    if (jwt.claims == nullptr) jwt = co_await verify_jwt(extracted->value, digest, context.worker);
    if (jwt.rejection == oidc::JwtRejection::keys_unavailable) {
      co_return idp_unavailable(IdpFailure(IdpFailureKind::not_ready), counts);
    }
    if (jwt.rejection != oidc::JwtRejection::none) {
      co_return invalid_jwt(jwt.rejection, extracted->value, context, counts);
    }
    // Valid: the answer, unless the IdP is to be asked too (introspect_jwt_tokens) so a revoked
    // token is seen.
    if (!settings_.introspect_jwt_tokens) co_return admit(context, *jwt.claims, *extracted, counts);
  } else if (!settings_.introspection) {
    co_return invalid_jwt(oidc::JwtRejection::malformed, extracted->value, context, counts);
  }
  if (!client_->ready()) {
    co_return idp_unavailable(IdpFailure(IdpFailureKind::not_ready), counts);
  }

  IntrospectionResult result = IdpFailure(IdpFailureKind::internal);
  if (!cache_) {
    context.cache = "off";
    const auto asked = std::chrono::steady_clock::now();
    result = co_await call_idp(client_, extracted->value, context.worker, context.route.name,
                               stats_, trace_of(context));
    context.idp_duration = std::chrono::steady_clock::now() - asked;
  } else {
    // A hit is answered here, without the frame of a further coroutine.
    const oidc::CacheKey key =
        oidc::make_cache_key(cache_key_endpoint_, settings_.idp.client_id, extracted->value);
    if (oidc::IntrospectionPtr hit = cache_hit(key, extracted->value, context)) {
      result = std::move(hit);
      context.cache = "hit";
      count(counts, metrics::CacheLookup::hit);
    } else {
      const auto asked = std::chrono::steady_clock::now();
      metrics::CacheLookup lookup = metrics::CacheLookup::miss;
      result = co_await answer_after_miss(key, extracted->value, context, lookup);
      if (!result) {
        if (oidc::IntrospectionPtr stale =
                resurrect(key, extracted->value, result.error(), context)) {
          result = std::move(stale);
          lookup = metrics::CacheLookup::resurrected;
        }
      }
      count(counts, lookup);
      context.cache = metrics::name_of(lookup);
      if (lookup != metrics::CacheLookup::hit) {
        context.idp_duration = std::chrono::steady_clock::now() - asked;
      }
    }
  }
  if (!result) co_return idp_unavailable(result.error(), counts);
  co_return admit(context, **result, *extracted, counts);
}

Verdict OpenIdConnectFilter::admit(RequestContext& context, const oidc::Introspection& answer,
                                   const ExtractedToken& token, metrics::PluginCell& counts) const {
  const Decision decision = evaluate(settings_.policy, answer, clock_->wall_now());
  if (!decision.allowed()) return rejected(decision, counts);

  if (settings_.hide_credentials) hide_credentials(context, token, settings_.token_locations);
  set_upstream_headers(context.request, settings_.upstream_headers, answer, token.value);
  if (context.wants_principal) context.principal = principal_of(answer, token.value);
  count(counts, metrics::Decision::allowed);
  return Verdict::proceed();
}

const oidc::Introspection* OpenIdConnectFilter::verified_before(const Sha256& digest,
                                                                unsigned worker) const {
  if (!verified_) return nullptr;
  jwks_->keys(worker);  // takes the newest set, so a rotation is seen by the version below
  return verified_->find(worker, digest, jwks_->keys_version(worker));
}

boost::asio::awaitable<OpenIdConnectFilter::JwtVerdict> OpenIdConnectFilter::verify_jwt(
    const std::string& token, const Sha256& digest, unsigned worker) const {
  // Verified here, on the worker, against its snapshot of the keys; only a kid they lack, or no
  // keys yet, leaves it (to join the JWKS fetch, shared and rate-limited).
  oidc::JwtOutcome jwt = jwt_.validate(token, jwks_->keys(worker), clock_->wall_now());
  if (jwt.rejection == oidc::JwtRejection::unknown_key ||
      jwt.rejection == oidc::JwtRejection::keys_unavailable) {
    co_await refresh_keys();
    jwt = jwt_.validate(token, jwks_->keys(worker), clock_->wall_now());
  }
  if (jwt.rejection != oidc::JwtRejection::none)
    co_return JwtVerdict{jwt.rejection, nullptr, nullptr};
  if (verified_) verified_->remember(worker, digest, jwks_->keys_version(worker), jwt.claims);
  const oidc::Introspection* claims = jwt.claims.get();
  co_return JwtVerdict{oidc::JwtRejection::none, claims, std::move(jwt.claims)};
}

boost::asio::awaitable<void> OpenIdConnectFilter::refresh_keys() const {
  try {
    co_await jwks_->refresh_for_unknown_kid();
  } catch (const std::exception& e) {
    spdlog::error("openid-connect: JWKS refresh failed unexpectedly: {}", e.what());
  }
}

Verdict OpenIdConnectFilter::invalid_jwt(oidc::JwtRejection rejection, std::string_view token,
                                         const RequestContext& context,
                                         metrics::PluginCell& counts) const {
  count(counts, metrics::Decision::invalid_token);
  const std::string_view description = oidc::describe(rejection);
  if (spdlog::should_log(spdlog::level::info)) {
    spdlog::info("openid-connect: route={} token={} JWT refused: {}", context.route.name,
                 short_hash(token), description);
  }
  LocalResponse response;
  response.status = http::status::unauthorized;
  response.message = settings_.unauthorized_message;
  response.error = "invalid_token";
  response.headers.emplace_back("WWW-Authenticate", bare_challenge_ +
                                                        ", error=\"invalid_token\""
                                                        ", error_description=" +
                                                        quoted_string(description));
  return Verdict::respond(std::move(response));
}

oidc::IntrospectionPtr OpenIdConnectFilter::cache_hit(const oidc::CacheKey& key,
                                                      const std::string& token,
                                                      const RequestContext& context) const {
  oidc::IntrospectionPtr hit = cache_->find(key);
  if (hit && spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("openid-connect: cache hit route={} token={} key={}", context.route.name,
                  short_hash(token), to_hex(key));
  }
  return hit;
}

// While the IdP cannot answer, an active answer whose cache time ended within cache_ttl_resurrect
// (and whose token has not expired), or nullptr. Revocations in that time are not seen: the
// operator traded them for availability.
oidc::IntrospectionPtr OpenIdConnectFilter::resurrect(const oidc::CacheKey& key,
                                                      const std::string& token,
                                                      const oidc::IdpFailure& failure,
                                                      const RequestContext& context) const {
  if (failure.kind == IdpFailureKind::cancelled) return nullptr;  // the request went away
  oidc::IntrospectionPtr stale = cache_->find_resurrectable(key);
  if (stale) {
    spdlog::warn(
        "openid-connect: IdP unavailable ({}), serving an expired cached answer "
        "(cache_ttl_resurrect) route={} token={} key={}",
        oidc::to_string(failure.kind), context.route.name, short_hash(token), to_hex(key));
  }
  return stale;
}

// The IdP's answer after a cache miss, through the cache's single flight.
boost::asio::awaitable<IntrospectionResult> OpenIdConnectFilter::answer_after_miss(
    const oidc::CacheKey& key, const std::string& token, const RequestContext& context,
    metrics::CacheLookup& how) const {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("openid-connect: cache miss route={} token={} key={}", context.route.name,
                  short_hash(token), to_hex(key));
  }
  // A named local, not a temporary inside the co_await expression: g++ 12 destroys such
  // temporaries twice. The call carries the trace of the request that starts it; requests that
  // join it while it runs are not in that trace.
  if (cluster_) {
    oidc::TokenCache::BoundedFetch fetch =
        [cluster = cluster_, key, client = client_, token, worker = context.worker,
         route = context.route.name, stats = stats_, trace = trace_of(context),
         policy = settings_.cache, timeout = settings_.idp.timeout, clock = clock_] {
          return fetch_through_cluster(cluster, key, client, token, worker, route, stats, trace,
                                       policy, timeout, clock);
        };
    co_return co_await cache_->get_or_fetch(key, std::move(fetch), &how);
  }
  oidc::TokenCache::Fetch fetch = [client = client_, token, worker = context.worker,
                                   route = context.route.name, stats = stats_,
                                   trace = trace_of(context), key] {
    return call_idp(client, token, worker, route, stats, trace, key);
  };
  co_return co_await cache_->get_or_fetch(key, std::move(fetch), &how);
}

Verdict OpenIdConnectFilter::missing_token(metrics::PluginCell& counts) const {
  count(counts, metrics::Decision::no_token);
  LocalResponse response;
  response.status = http::status::unauthorized;
  response.headers.emplace_back("WWW-Authenticate", bare_challenge_);
  response.message = settings_.unauthorized_message;
  return Verdict::respond(std::move(response));
}

Verdict OpenIdConnectFilter::invalid_request(std::string_view description,
                                             metrics::PluginCell& counts) const {
  count(counts, metrics::Decision::invalid_request);
  LocalResponse response;
  response.status = http::status::bad_request;
  response.headers.emplace_back("WWW-Authenticate", bare_challenge_ +
                                                        ", error=\"invalid_request\""
                                                        ", error_description=" +
                                                        quoted_string(description));
  response.message = std::string(public_message_for(errc::bad_request));
  response.error = "invalid_request";
  return Verdict::respond(std::move(response));
}

Verdict OpenIdConnectFilter::rejected(const Decision& decision, metrics::PluginCell& counts) const {
  count(counts, decision.forbidden() ? metrics::Decision::insufficient_scope
                                     : metrics::Decision::invalid_token);
  LocalResponse response;
  std::string challenge = bare_challenge_;
  if (decision.forbidden()) {
    response.status = http::status::forbidden;
    response.message = settings_.forbidden_message;
    response.error = "insufficient_scope";
  } else {
    response.status = http::status::unauthorized;
    response.message = settings_.unauthorized_message;
    response.error = "invalid_token";
  }
  challenge += ", error=" + quoted_string(response.error);
  challenge += ", error_description=" + quoted_string(decision.description());
  if (decision.rejection == Rejection::insufficient_scope) {
    challenge += ", scope=" + quoted_string(settings_.policy.scopes_required.first_alternative());
  }
  response.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return Verdict::respond(std::move(response));
}

Verdict OpenIdConnectFilter::idp_unavailable(const IdpFailure& failure,
                                             metrics::PluginCell& counts) const {
  count(counts, metrics::Decision::idp_unavailable);
  LocalResponse response;
  response.status = http::status::service_unavailable;
  response.message = std::string(public_message_for(errc::idp_unavailable));
  if (failure.retry_after) {
    response.headers.emplace_back("Retry-After", std::to_string(failure.retry_after->count()));
  }
  return Verdict::respond(std::move(response));
}

}  // namespace tollgate::filters::openid_connect
