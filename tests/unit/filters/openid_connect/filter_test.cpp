#include "tollgate/filters/openid_connect/filter.hpp"

#include <map>
#include <random>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "../../oidc/oidc_test_support.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::filters::openid_connect {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using oidc::IdpFailure;
using oidc::IdpFailureKind;
using oidc::IntrospectionResult;
using oidc::testing::answer_from;
using oidc::testing::ManualClock;
using std::chrono::seconds;

// Answers from a table; counts calls. An unknown token is inactive, as a real IdP would say.
class FakeIntrospectionClient final : public oidc::IntrospectionClient {
 public:
  bool ready() const override { return is_ready; }
  asio::awaitable<IntrospectionResult> introspect(std::string token, unsigned worker,
                                                  http_io::TraceContext trace) const override {
    ++calls;
    traceparents.emplace_back(trace.traceparent());
    auto it = answers.find(token);
    if (it == answers.end()) co_return answer_from(R"({"active":false})");
    co_return it->second;
  }

  bool is_ready = true;
  std::map<std::string, IntrospectionResult> answers;
  mutable int calls = 0;
  mutable std::vector<std::string> traceparents;  // of each call, in order
};

class FilterTest : public ::testing::Test {
 protected:
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<FakeIntrospectionClient> idp = std::make_shared<FakeIntrospectionClient>();
  Settings settings;
  config::Route route;
  RequestHead request;
  std::string query;
  std::string principal;

  FilterTest() {
    settings.idp.endpoint = "https://idp.example/oauth2/default/v1/introspect";
    settings.idp.client_id = "gateway";
    settings.idp.client_secret = "s3cret";
    route.name = "orders-route";
    request.method(http::verb::get);
    request.target("/orders");
  }

  std::string exp_in(std::int64_t seconds_from_now) const {
    return std::to_string(clock->epoch_seconds() + seconds_from_now);
  }

  std::unique_ptr<OpenIdConnectFilter> make_filter() {
    return std::make_unique<OpenIdConnectFilter>("test", settings, idp, clock);
  }

  Verdict run(const OpenIdConnectFilter& filter, bool wants_principal = true,
              const http_io::TraceContext* trace = nullptr) {
    RequestContext context{.request = request,
                           .route = route,
                           .path = "/orders",
                           .query = query,
                           .request_id = "req-1",
                           .wants_principal = wants_principal,
                           .trace = trace};
    asio::io_context io;
    std::optional<Verdict> verdict;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> { verdict.emplace(co_await filter.on_request(context)); },
        asio::detached);
    io.run();
    principal = context.principal;
    return std::move(*verdict);
  }

  void bearer(std::string_view token) {
    request.set(http::field::authorization, "Bearer " + std::string(token));
  }

  static std::string header_of(const LocalResponse& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "<absent>";
  }
  std::string request_header(std::string_view name) const {
    auto it = request.find(name);
    return it == request.end() ? "<absent>" : std::string(it->value());
  }
};

TEST_F(FilterTest, NoTokenGetsABareChallenge) {
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  ASSERT_FALSE(verdict.proceeds());
  EXPECT_EQ(verdict.response().status, http::status::unauthorized);
  EXPECT_EQ(header_of(verdict.response(), "WWW-Authenticate"), R"(Bearer realm="tollgate")");
  EXPECT_EQ(verdict.response().message, "Unauthorized");
  EXPECT_EQ(verdict.response().error, "");
  EXPECT_EQ(idp->calls, 0);
}

TEST_F(FilterTest, BasicCredentialsGetABareChallenge) {
  request.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  settings.realm = R"(my "api")";
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::unauthorized);
  EXPECT_EQ(header_of(verdict.response(), "WWW-Authenticate"), R"(Bearer realm="my \"api\"")");
}

TEST_F(FilterTest, MalformedAuthorizationIsABadRequest) {
  request.set(http::field::authorization, "Bearer abc def");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::bad_request);
  EXPECT_EQ(verdict.response().error, "invalid_request");
  EXPECT_EQ(header_of(verdict.response(), "WWW-Authenticate"),
            R"(Bearer realm="tollgate", error="invalid_request", )"
            R"(error_description="The Authorization header holds more than one token")");
  EXPECT_EQ(idp->calls, 0);
}

TEST_F(FilterTest, ActiveTokenProceedsWithItsSubjectAsPrincipal) {
  idp->answers["good"] = answer_from(R"({"active":true,"sub":"alice","exp":)" + exp_in(600) + "}");
  bearer("good");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(principal, "alice");
  EXPECT_EQ(request_header("Authorization"), "Bearer good");  // kept unless hide_credentials
}

TEST_F(FilterTest, NoPrincipalIsWorkedOutWhenNothingLogsIt) {
  idp->answers["good"] = answer_from(R"({"active":true,"sub":"alice","exp":)" + exp_in(600) + "}");
  bearer("good");
  settings.upstream_headers.claim_headers.push_back({{"sub"}, "X-User"});
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter, /*wants_principal=*/false).proceeds());
  EXPECT_EQ(principal, "");
  EXPECT_EQ(request_header("X-User"), "alice");  // the request itself is treated as before
}

TEST_F(FilterTest, ClientIdIsThePrincipalWithoutSubject) {
  idp->answers["good"] = answer_from(R"({"active":true,"client_id":"orders-app"})");
  bearer("good");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(principal, "orders-app");
}

// The access log escapes what it writes: the subject is kept as sent, so the log names the real
// one, escaped, rather than a stand-in.
TEST_F(FilterTest, PrincipalIsTheSubjectAsSentForTheLogToEscape) {
  idp->answers["good"] = answer_from(R"({"active":true,"sub":"alice\nGET /admin 200\u2028"})");
  bearer("good");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(principal, "alice\nGET /admin 200\u2028");
}

TEST_F(FilterTest, AnAbsurdlyLongSubjectIsNoPrincipal) {
  idp->answers["good"] =
      answer_from(R"({"active":true,"sub":")" + std::string(300, 's') + R"(","client_id":"app"})");
  bearer("good");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(principal, "app");
}

TEST_F(FilterTest, InactiveTokenIsAnInvalidToken) {
  settings.unauthorized_message = "Token rejected";
  bearer("revoked");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::unauthorized);
  EXPECT_EQ(verdict.response().message, "Token rejected");
  EXPECT_EQ(verdict.response().error, "invalid_token");
  EXPECT_EQ(header_of(verdict.response(), "WWW-Authenticate"),
            R"(Bearer realm="tollgate", error="invalid_token", )"
            R"(error_description="The access token is not active")");
}

TEST_F(FilterTest, MissingScopeIsForbiddenAndNamesTheScope) {
  settings.policy.scopes_required = Requirement({"orders:read", "admin"});
  settings.forbidden_message = "Not for you";
  idp->answers["t"] = answer_from(R"({"active":true,"scope":"profile"})");
  bearer("t");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::forbidden);
  EXPECT_EQ(verdict.response().message, "Not for you");
  EXPECT_EQ(verdict.response().error, "insufficient_scope");
  EXPECT_EQ(
      header_of(verdict.response(), "WWW-Authenticate"),
      R"(Bearer realm="tollgate", error="insufficient_scope", )"
      R"(error_description="The access token lacks the required scope", scope="orders:read")");
}

TEST_F(FilterTest, WrongAudienceIsForbidden) {
  settings.policy.audience_required = Requirement({"api://orders"});
  idp->answers["t"] = answer_from(R"({"active":true,"aud":"api://billing"})");
  bearer("t");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::forbidden);
  EXPECT_EQ(verdict.response().error, "insufficient_scope");
}

TEST_F(FilterTest, IdpFailureIsUnavailableWithRetryAfterAndNotCached) {
  idp->answers["t"] = IdpFailure(IdpFailureKind::http_status, 429, seconds(30));
  bearer("t");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::service_unavailable);
  EXPECT_EQ(verdict.response().message, "The identity provider is unavailable");
  EXPECT_EQ(header_of(verdict.response(), "Retry-After"), "30");

  idp->answers["t"] = answer_from(R"({"active":true})");
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 2);
}

TEST_F(FilterTest, IdpFailureWithoutRetryAfterHasNoRetryAfter) {
  idp->answers["t"] = IdpFailure(IdpFailureKind::timeout);
  bearer("t");
  auto filter = make_filter();
  Verdict verdict = run(*filter);
  EXPECT_EQ(verdict.response().status, http::status::service_unavailable);
  EXPECT_EQ(header_of(verdict.response(), "Retry-After"), "<absent>");
}

TEST_F(FilterTest, UndiscoveredEndpointIsUnavailableWithoutCallingTheIdp) {
  idp->is_ready = false;
  bearer("t");
  auto filter = make_filter();
  EXPECT_EQ(run(*filter).response().status, http::status::service_unavailable);
  EXPECT_EQ(idp->calls, 0);
}

TEST_F(FilterTest, CachedAnswerServesLaterRequests) {
  idp->answers["t"] = answer_from(R"({"active":true,"exp":)" + exp_in(600) + "}");
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 1);
  clock->advance(seconds(301));  // cache_ttl
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 2);
}

TEST_F(FilterTest, WithoutCachingEveryRequestAsksTheIdp) {
  settings.cache_introspection = false;
  idp->answers["t"] = answer_from(R"({"active":true})");
  bearer("t");
  auto filter = make_filter();
  EXPECT_EQ(filter->cache(), nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 3);
}

// Cached or not, an IdP call carries the trace of the request it is made for; a cache hit makes
// none.
TEST_F(FilterTest, TheIdpCallCarriesTheRequestsTrace) {
  idp->answers["t"] = answer_from(R"({"active":true,"exp":)" + exp_in(600) + "}");
  bearer("t");
  IdRandom random(3);
  const auto first = http_io::TraceContext::start_span(request, random);
  const auto second = http_io::TraceContext::start_span(request, random);
  ASSERT_NE(first.traceparent(), second.traceparent());
  for (const bool cached : {true, false}) {
    settings.cache_introspection = cached;
    idp->traceparents.clear();
    auto filter = make_filter();
    EXPECT_TRUE(run(*filter, true, &first).proceeds());
    EXPECT_TRUE(run(*filter, true, &second).proceeds());
    const std::vector<std::string> expected =
        cached ? std::vector<std::string>{std::string(first.traceparent())}
               : std::vector<std::string>{std::string(first.traceparent()),
                                          std::string(second.traceparent())};
    EXPECT_EQ(idp->traceparents, expected) << "cached: " << cached;
  }
}

TEST_F(FilterTest, InactiveAnswerIsRememberedForTheNegativeTtl) {
  bearer("revoked");
  auto filter = make_filter();
  EXPECT_FALSE(run(*filter).proceeds());
  EXPECT_FALSE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 1);
  clock->advance(seconds(10));
  EXPECT_FALSE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 2);
}

TEST_F(FilterTest, PolicyIsEvaluatedOnEveryCacheHit) {
  // Not valid for another 60 s: rejected, but the IdP's answer is cached, not the verdict.
  idp->answers["t"] = answer_from(R"({"active":true,"nbf":)" + exp_in(60) + "}");
  bearer("t");
  auto filter = make_filter();
  Verdict first = run(*filter);
  EXPECT_EQ(first.response().status, http::status::unauthorized);
  clock->advance(seconds(60));
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 1);
}

// A client's copies are removed by the gateway before filters run (server/forwarding); a value the
// filter finds there all the same is replaced, never added to.
TEST_F(FilterTest, ClaimHeaderIsSetOnceOnSuccess) {
  settings.upstream_headers.claim_headers = {{{"sub"}, "X-Authenticated-User"},
                                             {{"email"}, "X-Authenticated-Email"}};
  idp->answers["t"] = answer_from(R"({"active":true,"sub":"alice"})");
  bearer("t");
  request.insert("X-Authenticated-User", "admin");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(request.count("X-Authenticated-User"), 1u);
  EXPECT_EQ(request_header("X-Authenticated-User"), "alice");
  EXPECT_EQ(request.count("X-Authenticated-Email"), 0u);  // no such claim: no header at all
}

TEST_F(FilterTest, ClaimsBecomeUpstreamHeaders) {
  settings.upstream_headers.claim_headers = {
      {{"sub"}, "X-User"}, {{"scope"}, "X-Scope"},     {{"roles"}, "X-Roles"},
      {{"exp"}, "X-Exp"},  {{"address"}, "X-Address"}, {{"address.country"}, "X-Country"}};
  settings.upstream_headers.introspection_header = "X-Introspection";
  const std::string raw = R"({"active":true,"sub":"alice","scope":"read write",)"
                          R"("roles":["a","b"],"exp":)" +
                          exp_in(600) + R"(,"address":{"country":"FR","city":"Lyon"}})";
  idp->answers["t"] = answer_from(raw);
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(request_header("X-User"), "alice");
  EXPECT_EQ(request_header("X-Scope"), "read write");
  EXPECT_EQ(request_header("X-Roles"), "a b");
  EXPECT_EQ(request_header("X-Exp"), exp_in(600));
  EXPECT_EQ(request_header("X-Address"), R"({"city":"Lyon","country":"FR"})");
  EXPECT_EQ(request_header("X-Country"), "FR");
  // The IdP's answer re-encoded: the same claims (nlohmann orders an object's members by name).
  EXPECT_EQ(request_header("X-Introspection"), base64_encode(nlohmann::json::parse(raw).dump()));
}

TEST_F(FilterTest, AccessTokenHeaderWithAndWithoutPrefix) {
  idp->answers["t"] = answer_from(R"({"active":true})");
  bearer("t");
  settings.upstream_headers.access_token_header = "X-Access-Token";
  EXPECT_TRUE(run(*make_filter()).proceeds());
  EXPECT_EQ(request_header("X-Access-Token"), "t");

  settings.upstream_headers.access_token_prefix = "Bearer";
  EXPECT_TRUE(run(*make_filter()).proceeds());
  EXPECT_EQ(request_header("X-Access-Token"), "Bearer t");
}

TEST_F(FilterTest, HideCredentialsRemovesTheAuthorizationHeader) {
  settings.hide_credentials = true;
  idp->answers["t"] = answer_from(R"({"active":true})");
  bearer("t");
  EXPECT_TRUE(run(*make_filter()).proceeds());
  EXPECT_EQ(request.count(http::field::authorization), 0u);
}

TEST_F(FilterTest, HideCredentialsRemovesOnlyTheTokenCookie) {
  settings.hide_credentials = true;
  settings.token_locations = TokenLocations{false, false, true, "at"};
  idp->answers["t"] = answer_from(R"({"active":true})");
  request.set(http::field::cookie, "theme=dark; at=t");
  request.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  EXPECT_TRUE(run(*make_filter()).proceeds());
  EXPECT_EQ(request_header("Cookie"), "theme=dark");
  EXPECT_EQ(request_header("Authorization"), "Basic dXNlcjpwYXNz");
}

TEST_F(FilterTest, QueryTokenIsAccepted) {
  settings.token_locations.query = true;
  idp->answers["t"] = answer_from(R"({"active":true})");
  query = "access_token=t";
  EXPECT_TRUE(run(*make_filter()).proceeds());
}

// Runs the filter on a context the test builds: one with a rewritable query or a form body.
Verdict run_context(const OpenIdConnectFilter& filter, RequestContext& context) {
  asio::io_context io;
  std::optional<Verdict> verdict;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { verdict.emplace(co_await filter.on_request(context)); },
      asio::detached);
  io.run();
  return std::move(*verdict);
}

TEST_F(FilterTest, HideCredentialsRemovesTheQueryTokenFromTheForwardedQuery) {
  settings.hide_credentials = true;
  settings.token_locations = TokenLocations{false, true, false, {}};
  idp->answers["t"] = answer_from(R"({"active":true})");
  std::string forwarded = "a=1&access_token=t&b=%2B";
  RequestContext context{.request = request,
                         .route = route,
                         .path = "/orders",
                         .query = forwarded,
                         .forwarded_query = &forwarded,
                         .request_id = "req-1"};
  EXPECT_TRUE(run_context(*make_filter(), context).proceeds());
  EXPECT_EQ(forwarded, "a=1&b=%2B");
  EXPECT_EQ(context.query, "a=1&b=%2B");
}

TEST_F(FilterTest, QueryTokenStaysInTheQueryWithoutHideCredentials) {
  settings.token_locations = TokenLocations{false, true, false, {}};
  idp->answers["t"] = answer_from(R"({"active":true})");
  std::string forwarded = "access_token=t";
  RequestContext context{.request = request,
                         .route = route,
                         .path = "/orders",
                         .query = forwarded,
                         .forwarded_query = &forwarded,
                         .request_id = "req-1"};
  EXPECT_TRUE(run_context(*make_filter(), context).proceeds());
  EXPECT_EQ(forwarded, "access_token=t");
}

TEST_F(FilterTest, FormBodyTokenIsAcceptedAndHiddenInPlace) {
  settings.hide_credentials = true;
  settings.token_locations = TokenLocations{false, false, false, {}, true};
  idp->answers["t"] = answer_from(R"({"active":true})");
  std::string bytes = "a=1&access_token=t&b=2";
  FormBody body{bytes.data(), bytes.size()};
  RequestContext context{.request = request,
                         .route = route,
                         .path = "/orders",
                         .form_body = &body,
                         .request_id = "req-1"};
  EXPECT_TRUE(run_context(*make_filter(), context).proceeds());
  EXPECT_EQ(body.view(), "a=1&b=2");
  EXPECT_EQ(idp->calls, 1);
}

TEST_F(FilterTest, ReadsFormBodiesOnlyWhenBodyTokensAreAllowed) {
  EXPECT_FALSE(make_filter()->reads_form_body());
  settings.token_locations.body = true;
  EXPECT_TRUE(make_filter()->reads_form_body());
}

TEST_F(FilterTest, PreflightNeedsATokenByDefault) {
  request.method(http::verb::options);
  request.set(http::field::origin, "https://app.example");
  request.set(http::field::access_control_request_method, "POST");
  EXPECT_EQ(run(*make_filter()).response().status, http::status::unauthorized);
}

TEST_F(FilterTest, PreflightPassesUntouchedWithRunOnPreflightOff) {
  settings.run_on_preflight = false;
  settings.upstream_headers.claim_headers = {ClaimHeader{{"sub"}, "X-User"}};
  request.method(http::verb::options);
  request.set(http::field::origin, "https://app.example");
  request.set(http::field::access_control_request_method, "POST");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(request_header("X-User"), "<absent>");
  EXPECT_EQ(idp->calls, 0);

  // An OPTIONS request that is not a preflight still needs its token.
  request.erase(http::field::access_control_request_method);
  EXPECT_EQ(run(*filter).response().status, http::status::unauthorized);
  request.set(http::field::access_control_request_method, "POST");
  request.erase(http::field::origin);
  EXPECT_EQ(run(*filter).response().status, http::status::unauthorized);
}

TEST_F(FilterTest, ExpiredAnswerIsResurrectedOnlyWhileTheIdpFailsAndWithinTheWindow) {
  settings.cache.ttl = seconds(60);
  settings.cache.resurrect = seconds(120);
  idp->answers["t"] = answer_from(R"({"active":true,"sub":"u","exp":)" + exp_in(3600) + "}");
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());

  idp->answers["t"] = IdpFailure(IdpFailureKind::connect);
  clock->advance(seconds(61));
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(principal, "u");
  EXPECT_EQ(idp->calls, 2);  // the IdP is asked first, every time
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_EQ(idp->calls, 3);

  clock->advance(seconds(120));  // the cache time ended 121 s ago
  EXPECT_EQ(run(*filter).response().status, http::status::service_unavailable);
}

TEST_F(FilterTest, NothingIsResurrectedByDefault) {
  settings.cache.ttl = seconds(60);
  idp->answers["t"] = answer_from(R"({"active":true,"exp":)" + exp_in(3600) + "}");
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  idp->answers["t"] = IdpFailure(IdpFailureKind::timeout);
  clock->advance(seconds(61));
  EXPECT_EQ(run(*filter).response().status, http::status::service_unavailable);
}

TEST_F(FilterTest, ResurrectNeverGoesPastTheTokensExp) {
  settings.cache.ttl = seconds(60);
  settings.cache.resurrect = seconds(3600);
  idp->answers["t"] = answer_from(R"({"active":true,"exp":)" + exp_in(90) + "}");
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  idp->answers["t"] = IdpFailure(IdpFailureKind::http_status, 503);
  clock->advance(seconds(61));
  EXPECT_TRUE(run(*filter).proceeds());
  clock->advance(seconds(30));  // past exp
  EXPECT_EQ(run(*filter).response().status, http::status::service_unavailable);
}

TEST_F(FilterTest, AnAnswerTheIdpWithdrewIsNotResurrected) {
  settings.cache.ttl = seconds(60);
  settings.cache.resurrect = seconds(3600);
  idp->answers["t"] = answer_from(R"({"active":true,"exp":)" + exp_in(3600) + "}");
  bearer("t");
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  idp->answers["t"] = answer_from(R"({"active":false})");  // revoked
  clock->advance(seconds(61));
  EXPECT_EQ(run(*filter).response().status, http::status::unauthorized);
  idp->answers["t"] = IdpFailure(IdpFailureKind::connect);
  clock->advance(seconds(11));  // cache_ttl_neg
  EXPECT_EQ(run(*filter).response().status, http::status::service_unavailable);
}

class CapturedLogs {
 public:
  CapturedLogs()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
        previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLogs() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(FilterTest, LogsNameTheTokenByHashOnly) {
  const std::string token = "very-secret-token-value";
  idp->answers[token] = answer_from(R"({"active":true})");
  bearer(token);
  CapturedLogs logs;
  auto filter = make_filter();
  EXPECT_TRUE(run(*filter).proceeds());
  EXPECT_TRUE(run(*filter).proceeds());

  const std::vector<std::string> lines = logs.lines();
  int calls = 0, hits = 0, misses = 0;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(token), std::string::npos) << line;
    EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
    EXPECT_NE(line.find(short_hash(token)), std::string::npos) << line;
    if (line.find("introspection route=orders-route") != std::string::npos) {
      ++calls;
      EXPECT_NE(line.find("outcome=active"), std::string::npos) << line;
      EXPECT_NE(line.find("latency_ms="), std::string::npos) << line;
    }
    if (line.find("cache hit") != std::string::npos) ++hits;
    if (line.find("cache miss") != std::string::npos) ++misses;
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(hits, 1);
  EXPECT_EQ(misses, 1);
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
