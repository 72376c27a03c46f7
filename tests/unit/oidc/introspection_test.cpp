#include "tollgate/oidc/introspection.hpp"

#include <gtest/gtest.h>

namespace tollgate::oidc {
namespace {

IntrospectionPtr parse_ok(const std::string& body) {
  auto result = parse_introspection_response(200, "", body, std::chrono::system_clock::now());
  EXPECT_TRUE(result.has_value()) << body;
  return result ? *result : nullptr;
}

TEST(IntrospectionParseTest, ActiveAnswerKeepsEveryClaim) {
  auto answer = parse_ok(R"({"active":true,"sub":"alice","aud":["a","b"],"ext":{"tier":"gold"}})");
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->active);
  EXPECT_EQ(answer->claims.to_json(),
            nlohmann::json::parse(
                R"({"active":true,"sub":"alice","aud":["a","b"],"ext":{"tier":"gold"}})"));
}

// A flood of unknown tokens must not fill the cache with copies of "not active".
TEST(IntrospectionParseTest, InactiveAnswersAreOneSharedInstanceWithoutOtherClaims) {
  auto plain = parse_ok(R"({"active":false})");
  auto chatty = parse_ok(R"({"active":false,"sub":"mallory","scope":"admin"})");
  ASSERT_TRUE(plain && chatty);
  EXPECT_FALSE(plain->active);
  EXPECT_EQ(plain.get(), chatty.get());
  EXPECT_EQ(chatty.get(), inactive_answer().get());
  EXPECT_EQ(chatty->claims.to_json(), nlohmann::json::parse(R"({"active":false})"));
}

}  // namespace
}  // namespace tollgate::oidc
