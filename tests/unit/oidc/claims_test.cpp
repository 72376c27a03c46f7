#include "tollgate/oidc/claims.hpp"

#include <gtest/gtest.h>

namespace tollgate::oidc {
namespace {

using json = nlohmann::json;

TEST(FindClaimTest, TopLevelNestedAndDotted) {
  const json claims = json::parse(
      R"({"sub":"alice","address":{"country":"FR"},"https://example.com/roles":["x"],
          "a":{"b.c":1,"b":{"c":2}}})");
  ASSERT_NE(find_claim(claims, {"sub"}), nullptr);
  EXPECT_EQ(*find_claim(claims, {"address", "country"}), "FR");
  EXPECT_EQ(*find_claim(claims, {"address.country"}), "FR");
  EXPECT_EQ(*find_claim(claims, {"https://example.com/roles"}), json::array({"x"}));
  EXPECT_EQ(*find_claim(claims, {"a", "b.c"}), 1);  // an exact key wins over a dotted path
  EXPECT_EQ(find_claim(claims, {"address", "city"}), nullptr);
  EXPECT_EQ(find_claim(claims, {"sub", "x"}), nullptr);
  EXPECT_EQ(find_claim(claims, {"missing.path"}), nullptr);
  EXPECT_EQ(find_claim(claims, {}), nullptr);
}

TEST(ClaimWordsTest, StringsSplitArraysKeepStrings) {
  const json text = "a  b c";
  const json array = json::array({"x y", 3, "z"});
  const json number = 5;
  EXPECT_EQ(claim_words(&text), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(claim_words(&array), (std::vector<std::string_view>{"x y", "z"}));
  EXPECT_TRUE(claim_words(&number).empty());
  EXPECT_TRUE(claim_words(nullptr).empty());
}

TEST(ClaimHeaderValueTest, Formatting) {
  EXPECT_EQ(claim_header_value(json("alice")), "alice");
  EXPECT_EQ(claim_header_value(json(1700000000)), "1700000000");
  EXPECT_EQ(claim_header_value(json(1.5)), "1.5");
  EXPECT_EQ(claim_header_value(json(true)), "true");
  EXPECT_EQ(claim_header_value(json::array({"read", "write", 3})), "read write 3");
  EXPECT_EQ(claim_header_value(json::parse(R"({"b":[1,2],"a":"x"})")), R"({"a":"x","b":[1,2]})");
  EXPECT_EQ(claim_header_value(json(nullptr)), std::nullopt);
}

TEST(ClaimHeaderValueTest, ControlCharactersNeverReachAHeader) {
  EXPECT_EQ(claim_header_value(json("alice\r\nX-Admin: 1")), std::nullopt);
  EXPECT_EQ(claim_header_value(json(std::string("a\0b", 3))), std::nullopt);
  EXPECT_EQ(claim_header_value(json::array({"ok", "bad\n"})), std::nullopt);
  // Inside JSON text, control characters are escaped and therefore harmless.
  EXPECT_EQ(claim_header_value(json::parse(R"({"a":"x\ny"})")), R"({"a":"x\ny"})");
}

TEST(NumericDateTest, States) {
  const json claims = json::parse(R"({"exp":1700000000,"nbf":1.5,"iat":"x"})");
  EXPECT_EQ(numeric_date(claims, "exp").state, NumericDate::State::valid);
  EXPECT_EQ(numeric_date(claims, "exp").seconds, 1700000000.0);
  EXPECT_EQ(numeric_date(claims, "nbf").seconds, 1.5);
  EXPECT_EQ(numeric_date(claims, "iat").state, NumericDate::State::malformed);
  EXPECT_EQ(numeric_date(claims, "jti").state, NumericDate::State::absent);
}

}  // namespace
}  // namespace tollgate::oidc
