#include "tollgate/jose/jwks.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "foreign_vectors.hpp"
#include "jose_test_support.hpp"

namespace tollgate::jose {
namespace {

using nlohmann::json;

TEST(JwksTest, ReadsAForeignKeySet) {
  auto parsed = parse_jwks(test::kForeignJwks);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->keys.size(), 6u);
  EXPECT_TRUE(parsed->skipped.empty());
  EXPECT_TRUE(parsed->keys.has_kid("ES512"));
  EXPECT_FALSE(parsed->keys.has_kid("ES999"));
}

TEST(JwksTest, RefusesTenThousandKeys) {
  const PublicKey key = test::generate_key("P-256");
  json set = {{"keys", json::array()}};
  for (int i = 0; i < 10'000; ++i) set["keys"].push_back(public_jwk(key.get(), std::to_string(i)));
  const std::string body = set.dump();
  auto parsed = parse_jwks(body, {.max_bytes = body.size(), .max_keys = 64});
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("10000 keys"), std::string::npos) << parsed.error();
}

TEST(JwksTest, RefusesTenMebibytesBeforeParsingThem) {
  std::string body = R"({"keys":[],"padding":")" + std::string(10 * 1024 * 1024, 'a') + "\"}";
  auto parsed = parse_jwks(body);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("bytes"), std::string::npos);
}

TEST(JwksTest, RefusesDocumentsWithoutKeys) {
  EXPECT_FALSE(parse_jwks("[]"));
  EXPECT_FALSE(parse_jwks("{}"));
  EXPECT_FALSE(parse_jwks(R"({"keys":{}})"));
  EXPECT_FALSE(parse_jwks(R"({"keys":[]})"));
  EXPECT_FALSE(parse_jwks("not json"));
  EXPECT_FALSE(parse_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})"));
}

TEST(JwksTest, SkipsUnusableKeysAndNamesThem) {
  json set = json::parse(test::kForeignJwks);
  set["keys"].push_back({{"kty", "oct"}, {"kid", "shared"}, {"k", "c2VjcmV0"}});
  auto parsed = parse_jwks(set.dump());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->keys.size(), 6u);
  ASSERT_EQ(parsed->skipped.size(), 1u);
  EXPECT_NE(parsed->skipped.front().find("kid shared"), std::string::npos);
}

TEST(JwksTest, CandidatesAreTheKidsKeyOrEveryFittingKeyWithoutAKid) {
  auto parsed = parse_jwks(test::kForeignJwks);
  ASSERT_TRUE(parsed);
  std::vector<std::string> seen;
  auto collect = [&](const Jwk& key) {
    seen.push_back(key.kid);
    return false;
  };
  parsed->keys.any_of("ES256", Algorithm::ES256, collect);
  EXPECT_EQ(seen, std::vector<std::string>{"ES256"});
  seen.clear();
  parsed->keys.any_of("ES256", Algorithm::RS256, collect);  // the kid's key does not fit
  EXPECT_TRUE(seen.empty());
  parsed->keys.any_of("", Algorithm::RS256, collect);
  EXPECT_EQ(seen, (std::vector<std::string>{"RS256", "PS384"}));
}

}  // namespace
}  // namespace tollgate::jose
