// Introspection answers (oidc/introspection.cpp, oidc/claims.cpp) and what the openid-connect
// filter does with one: the route's policy (filters/openid_connect/policy.cpp), the cache lifetime
// (oidc/token_cache.cpp) and the headers set for the upstream (upstream_headers.cpp). The input is
// the body of the IdP's 200 answer; the same bytes are also read as a Retry-After value.
//
// The IdP is a remote party: whatever it sends, tollgate must neither crash nor let a request
// through that the policy refuses, nor forward a header it could split. And the claims it keeps
// are the ones nlohmann reads: text the direct reader (oidc/claim_text.cpp) takes is JSON to
// nlohmann too, encoded the same.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "tollgate/filters/openid_connect/policy.hpp"
#include "tollgate/filters/openid_connect/upstream_headers.hpp"
#include "tollgate/oidc/claim_store.hpp"
#include "tollgate/oidc/claims.hpp"
#include "tollgate/oidc/introspection.hpp"
#include "tollgate/oidc/token_cache.hpp"

namespace {

using namespace std::chrono_literals;
using namespace tollgate::filters::openid_connect;
using tollgate::oidc::Introspection;
using tollgate::oidc::NumericDate;

// A fixed "now" (2026-01-01T00:00:00Z) keeps every run reproducible.
const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'767'225'600)};

std::vector<Policy> route_policies() {
  std::vector<Policy> policies(4);
  policies[1].scopes_required = Requirement({"orders:read", "orders:write admin"});
  policies[1].audience_required = Requirement({"api://default"});
  policies[2].issuers_allowed = {"https://dev-123456.okta.com/oauth2/default"};
  policies[2].groups_required = Requirement({"admins"});
  policies[2].groups_claim = {"realm_access", "roles"};
  policies[3].scopes_claim = {"ext.scp"};
  policies[3].scopes_required = Requirement({"a b c"});
  policies[3].leeway = 0ms;
  return policies;
}

std::vector<tollgate::oidc::CachePolicy> cache_policies() {
  std::vector<tollgate::oidc::CachePolicy> policies(3);
  policies[1].ttl_max = 60s;
  policies[1].ttl_min = 30s;
  policies[2].ttl = 3600s;
  policies[2].ttl_min = 600s;
  policies[2].leeway = 0ms;
  return policies;
}

UpstreamHeaders upstream_headers() {
  UpstreamHeaders headers;
  headers.access_token_header = "Authorization";
  headers.access_token_prefix = "Bearer";
  headers.introspection_header = "X-Introspection";
  headers.claim_headers = {{{"sub"}, "X-Authenticated-User"},
                           {{"scope"}, "X-Authenticated-Scope"},
                           {{"aud"}, "X-Audience"},
                           {{"address.country"}, "X-Country"},
                           {{"realm_access"}, "X-Realm-Access"},
                           {{"groups"}, "X-Groups"}};
  return headers;
}

// An allowed request is one whose answer is active and, when it says when it expires or starts,
// is within its lifetime (with the policy's leeway).
void check_decision(const Policy& policy, const Introspection& answer, const Decision& decision,
                    std::string_view input) {
  if (!decision.allowed()) {
    FUZZ_CHECK(!decision.description().empty(), input);
    return;
  }
  FUZZ_CHECK(answer.active, input);
  const double now = tollgate::oidc::seconds_since_epoch(kNow);
  const double leeway = std::chrono::duration<double>(policy.leeway).count();
  const NumericDate exp = tollgate::oidc::numeric_date(answer.claims, "exp");
  const NumericDate nbf = tollgate::oidc::numeric_date(answer.claims, "nbf");
  FUZZ_CHECK(exp.state != NumericDate::State::malformed, input);
  FUZZ_CHECK(nbf.state != NumericDate::State::malformed, input);
  if (exp.state == NumericDate::State::valid) FUZZ_CHECK(exp.seconds > now - leeway, input);
  if (nbf.state == NumericDate::State::valid) FUZZ_CHECK(nbf.seconds <= now + leeway, input);
}

// A cached answer never outlives its token's exp (minus leeway), nor cache_ttl unless cache_ttl_min
// raised it; an answer whose exp is not a number is not cached.
void check_cache_ttl(const tollgate::oidc::CachePolicy& policy, const Introspection& answer,
                     std::string_view input) {
  const std::chrono::milliseconds ttl = tollgate::oidc::cache_ttl_for(answer, kNow, policy);
  if (!answer.active) {
    FUZZ_CHECK(ttl == policy.ttl_negative, input);
    return;
  }
  FUZZ_CHECK(ttl <= std::max(policy.ttl, policy.ttl_min.value_or(0ms)), input);
  const NumericDate exp = tollgate::oidc::numeric_date(answer.claims, "exp");
  if (exp.state == NumericDate::State::malformed) FUZZ_CHECK(ttl <= 0ms, input);
  if (exp.state == NumericDate::State::valid && ttl > 0ms) {
    const auto until_expiry = tollgate::oidc::clamped_milliseconds(
                                  exp.seconds - tollgate::oidc::seconds_since_epoch(kNow)) -
                              policy.leeway;
    FUZZ_CHECK(ttl <= until_expiry, input);
  }
}

// Whatever the claims hold, no header value the upstream receives can end the header line.
void check_upstream_headers(const Introspection& answer) {
  tollgate::filters::RequestHead head;
  set_upstream_headers(head, upstream_headers(), answer, "token");
  for (const auto& field : head) {
    for (const char ch : field.value()) {
      const auto c = static_cast<unsigned char>(ch);
      FUZZ_CHECK(c >= 0x20 && c != 0x7f, field.name_string());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tollgate::fuzz::as_text(data, size);

  // The same bytes as a 503's Retry-After: capped at an hour, never negative.
  auto busy = tollgate::oidc::parse_introspection_response(503, input, "", kNow);
  FUZZ_CHECK(!busy, "a 503 taken for an answer");
  if (busy.error().retry_after) {
    FUZZ_CHECK(*busy.error().retry_after >= 0s && *busy.error().retry_after <= 3600s, input);
  }

  if (const auto direct =
          tollgate::oidc::encode_claims_text(input, tollgate::oidc::ClaimDictionary::shared())) {
    const nlohmann::json tree = nlohmann::json::parse(input, nullptr, false);
    FUZZ_CHECK(!tree.is_discarded(), input);
    FUZZ_CHECK(
        *direct == tollgate::oidc::encode_claims(tree, tollgate::oidc::ClaimDictionary::shared()),
        input);
  }

  auto parsed = tollgate::oidc::parse_introspection_response(200, "", std::string(input), kNow);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().kind == tollgate::oidc::IdpFailureKind::bad_response, input);
    return 0;
  }
  const Introspection& answer = **parsed;
  FUZZ_CHECK(answer.claims.is_object() && answer.claims.find("active").is_boolean(), input);

  for (const Policy& policy : route_policies()) {
    check_decision(policy, answer, evaluate(policy, answer, kNow), input);
  }
  for (const auto& policy : cache_policies()) check_cache_ttl(policy, answer, input);
  check_upstream_headers(answer);
  return 0;
}
