#include "tollgate/filters/openid_connect/filter.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "tollgate/common/error.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/config/config.hpp"
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
boost::asio::awaitable<IntrospectionResult> call_idp(
    std::shared_ptr<oidc::IntrospectionClient> client, std::string token, unsigned worker,
    std::string route, std::shared_ptr<metrics::PluginStats> stats, http_io::TraceContext trace) {
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
    spdlog::info("openid-connect: introspection route={} token={} outcome={} latency_ms={}", route,
                 short_hash(token), outcome_of(result), latency.count());
  }
  co_return result;
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

void hide_credentials(RequestHead& request, const ExtractedToken& token,
                      const TokenLocations& locations) {
  switch (token.source) {
    case TokenSource::header:
      request.erase(http::field::authorization);
      break;
    case TokenSource::cookie:
      remove_cookie(request, locations.cookie_name);
      break;
    case TokenSource::query:
      break;  // refused at load: the request target is not ours to rewrite
  }
}

}  // namespace

OpenIdConnectFilter::OpenIdConnectFilter(std::string instance, Settings settings,
                                         std::shared_ptr<oidc::IntrospectionClient> client,
                                         std::shared_ptr<const oidc::Clock> clock)
    : instance_(std::move(instance)),
      settings_(std::move(settings)),
      stats_(std::make_shared<metrics::PluginStats>(1)),
      client_(std::move(client)),
      clock_(std::move(clock)) {
  if (settings_.cache_introspection) cache_ = oidc::TokenCache::create(settings_.cache, clock_);
  cache_key_endpoint_ = settings_.idp.endpoint.empty() ? "discovered-from:" + settings_.idp.issuer
                                                       : settings_.idp.endpoint;
  bare_challenge_ = "Bearer realm=" + quoted_string(settings_.realm);
}

void OpenIdConnectFilter::start(const StartContext& context) {
  const auto workers = static_cast<unsigned>(context.worker_executors.size());
  stats_ = context.metrics ? context.metrics->plugin(instance_)
                           : std::make_shared<metrics::PluginStats>(workers);
  client_->start(context);
}

void OpenIdConnectFilter::stop() {
  client_->stop();
}

bool OpenIdConnectFilter::ready() const {
  return client_->ready();
}

void OpenIdConnectFilter::release_worker(unsigned worker) {
  client_->release_worker(worker);
}

std::optional<metrics::CacheGauges> OpenIdConnectFilter::cache_gauges() const {
  if (!cache_) return std::nullopt;
  return cache_->gauges();
}

boost::asio::awaitable<Verdict> OpenIdConnectFilter::on_request(RequestContext& context) const {
  metrics::PluginCell& counts = stats_->cells[context.worker];
  // The headers this filter sets never come from the client: the gateway removed them already,
  // with every protected header, before any filter runs.
  auto extracted = extract_token(context.request, context.query, settings_.token_locations);
  if (!extracted) {
    if (extracted.error().kind == ExtractionFailure::Kind::missing) {
      co_return missing_token(counts);
    }
    co_return invalid_request(extracted.error().description, counts);
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
      count(counts, lookup);
      context.cache = metrics::name_of(lookup);
      if (lookup != metrics::CacheLookup::hit) {
        context.idp_duration = std::chrono::steady_clock::now() - asked;
      }
    }
  }
  if (!result) co_return idp_unavailable(result.error(), counts);
  const oidc::Introspection& answer = **result;

  const Decision decision = evaluate(settings_.policy, answer, clock_->wall_now());
  if (!decision.allowed()) co_return rejected(decision, counts);

  if (settings_.hide_credentials) {
    hide_credentials(context.request, *extracted, settings_.token_locations);
  }
  set_upstream_headers(context.request, settings_.upstream_headers, answer, extracted->value);
  if (context.wants_principal) context.principal = principal_of(answer, extracted->value);
  count(counts, metrics::Decision::allowed);
  co_return Verdict::proceed();
}

oidc::IntrospectionPtr OpenIdConnectFilter::cache_hit(const oidc::CacheKey& key,
                                                      const std::string& token,
                                                      const RequestContext& context) const {
  oidc::IntrospectionPtr hit = cache_->find(key);
  if (hit && spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("openid-connect: cache hit route={} token={}", context.route.name,
                  short_hash(token));
  }
  return hit;
}

// The IdP's answer after a cache miss, through the cache's single flight.
boost::asio::awaitable<IntrospectionResult> OpenIdConnectFilter::answer_after_miss(
    const oidc::CacheKey& key, const std::string& token, const RequestContext& context,
    metrics::CacheLookup& how) const {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("openid-connect: cache miss route={} token={}", context.route.name,
                  short_hash(token));
  }
  // A named local, not a temporary inside the co_await expression: g++ 12 destroys such
  // temporaries twice. The call carries the trace of the request that starts it; requests that
  // join it while it runs are not in that trace.
  oidc::TokenCache::Fetch fetch =
      [client = client_, token, worker = context.worker, route = context.route.name, stats = stats_,
       trace = trace_of(context)] { return call_idp(client, token, worker, route, stats, trace); };
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
