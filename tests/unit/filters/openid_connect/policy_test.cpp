#include "tollgate/filters/openid_connect/policy.hpp"

#include <gtest/gtest.h>

#include "../../oidc/oidc_test_support.hpp"

namespace tollgate::filters::openid_connect {
namespace {

using oidc::testing::answer_from;
using oidc::testing::ManualClock;
using std::chrono::seconds;

class PolicyTest : public ::testing::Test {
 protected:
  ManualClock clock;
  Policy policy;  // leeway 5 s, nothing required

  Rejection check(const std::string& json) {
    return evaluate(policy, *answer_from(json), clock.wall_now()).rejection;
  }
  std::string with_exp(std::int64_t offset) {
    return R"({"active":true,"exp":)" + std::to_string(clock.epoch_seconds() + offset) + "}";
  }
  std::string with_nbf(std::int64_t offset) {
    return R"({"active":true,"nbf":)" + std::to_string(clock.epoch_seconds() + offset) + "}";
  }
};

TEST_F(PolicyTest, ActiveTokenWithoutRequirementsIsAllowed) {
  EXPECT_EQ(check(R"({"active":true})"), Rejection::none);
}

TEST_F(PolicyTest, InactiveTokenIsRejected) {
  EXPECT_EQ(check(R"({"active":false})"), Rejection::inactive);
  // Claims of an inactive answer grant nothing.
  policy.scopes_required = Requirement({"read"});
  EXPECT_EQ(check(R"({"active":false,"scope":"read"})"), Rejection::inactive);
}

TEST_F(PolicyTest, ExpiryWithLeeway) {
  EXPECT_EQ(check(with_exp(+60)), Rejection::none);
  EXPECT_EQ(check(with_exp(-4)), Rejection::none);  // within 5 s of skew
  EXPECT_EQ(check(with_exp(-5)), Rejection::expired);
  EXPECT_EQ(check(with_exp(-3600)), Rejection::expired);
}

TEST_F(PolicyTest, NotBeforeWithLeeway) {
  EXPECT_EQ(check(with_nbf(-60)), Rejection::none);
  EXPECT_EQ(check(with_nbf(+5)), Rejection::none);
  EXPECT_EQ(check(with_nbf(+6)), Rejection::not_yet_valid);
}

TEST_F(PolicyTest, ExpiryIsCheckedAgainstTheCurrentTimeOnEveryEvaluation) {
  const auto answer = answer_from(with_exp(+30));
  EXPECT_TRUE(evaluate(policy, *answer, clock.wall_now()).allowed());
  clock.advance(seconds(40));
  EXPECT_EQ(evaluate(policy, *answer, clock.wall_now()).rejection, Rejection::expired);
}

TEST_F(PolicyTest, NonNumericDatesAreRejected) {
  EXPECT_EQ(check(R"({"active":true,"exp":"2030-01-01"})"), Rejection::malformed_claims);
  EXPECT_EQ(check(R"({"active":true,"nbf":null})"), Rejection::malformed_claims);
}

TEST_F(PolicyTest, IssuersAllowed) {
  policy.issuers_allowed = {"https://idp.example/oauth2/default", "https://other.example"};
  EXPECT_EQ(check(R"({"active":true,"iss":"https://other.example"})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"iss":"https://evil.example"})"),
            Rejection::issuer_not_allowed);
  EXPECT_EQ(check(R"({"active":true,"iss":["https://other.example"]})"),
            Rejection::issuer_not_allowed);
  EXPECT_EQ(check(R"({"active":true,"iss":"https://other.example/"})"),
            Rejection::issuer_not_allowed);  // issuers are compared exactly
}

// RFC 7662 makes iss optional: the answer comes from the configured IdP's own endpoint, which has
// vouched for the token; only an answer naming another issuer is refused.
TEST_F(PolicyTest, AnAnswerWithoutIssIsAccepted) {
  policy.issuers_allowed = {"https://idp.example/oauth2/default"};
  EXPECT_EQ(check(R"({"active":true})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"iss":null})"), Rejection::issuer_not_allowed);
}

TEST_F(PolicyTest, ScopesFromSpaceDelimitedStringOrArray) {
  policy.scopes_required = Requirement({"orders:read"});
  EXPECT_EQ(check(R"({"active":true,"scope":"openid orders:read"})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"scope":["openid","orders:read"]})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"scope":"orders:reader"})"), Rejection::insufficient_scope);
  EXPECT_EQ(check(R"({"active":true})"), Rejection::insufficient_scope);
  EXPECT_EQ(check(R"({"active":true,"scope":42})"), Rejection::insufficient_scope);
}

TEST_F(PolicyTest, EntriesAreAlternativesAndWordsOfOneEntryAreAllNeeded) {
  policy.scopes_required = Requirement({"orders:read orders:write", "admin"});
  EXPECT_EQ(check(R"({"active":true,"scope":"orders:read orders:write"})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"scope":"admin"})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"scope":"orders:read"})"), Rejection::insufficient_scope);
  EXPECT_EQ(check(R"({"active":true,"scope":"orders:write profile"})"),
            Rejection::insufficient_scope);
}

TEST_F(PolicyTest, AudienceStringOrArray) {
  policy.audience_required = Requirement({"api://default"});
  EXPECT_EQ(check(R"({"active":true,"aud":"api://default"})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"aud":["other","api://default"]})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"aud":"api://other"})"), Rejection::audience_not_allowed);
  EXPECT_EQ(check(R"({"active":true})"), Rejection::audience_not_allowed);
}

TEST_F(PolicyTest, GroupsFromANestedClaimPath) {
  policy.groups_required = Requirement({"admins", "ops oncall"});
  policy.groups_claim = {"realm_access", "roles"};
  EXPECT_EQ(check(R"({"active":true,"realm_access":{"roles":["ops","oncall"]}})"), Rejection::none);
  EXPECT_EQ(check(R"({"active":true,"realm_access":{"roles":["ops"]}})"),
            Rejection::groups_not_allowed);
  policy.groups_claim = {"realm_access.roles"};
  EXPECT_EQ(check(R"({"active":true,"realm_access":{"roles":["admins"]}})"), Rejection::none);
}

TEST_F(PolicyTest, ForbiddenOnlyForGrantsNotForUnusableTokens) {
  EXPECT_TRUE(Decision{Rejection::insufficient_scope}.forbidden());
  EXPECT_TRUE(Decision{Rejection::audience_not_allowed}.forbidden());
  EXPECT_TRUE(Decision{Rejection::groups_not_allowed}.forbidden());
  EXPECT_FALSE(Decision{Rejection::inactive}.forbidden());
  EXPECT_FALSE(Decision{Rejection::expired}.forbidden());
  EXPECT_FALSE(Decision{Rejection::issuer_not_allowed}.forbidden());
}

TEST(RequirementTest, FirstAlternativeNamesTheScopesToAskFor) {
  EXPECT_EQ(Requirement({"a  b", "c"}).first_alternative(), "a b");
  EXPECT_EQ(Requirement().first_alternative(), "");
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
