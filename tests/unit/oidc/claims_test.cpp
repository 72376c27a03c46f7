#include "tollgate/oidc/claims.hpp"

#include <gtest/gtest.h>

namespace tollgate::oidc {
namespace {

using json = nlohmann::json;

TEST(FindClaimTest, TopLevelNestedAndDotted) {
  const EncodedClaims encoded(json::parse(
      R"({"sub":"alice","address":{"country":"FR"},"https://example.com/roles":["x"],
          "a":{"b.c":1,"b":{"c":2}}})"));
  const ClaimValue claims = encoded.root();
  ASSERT_TRUE(find_claim(claims, {"sub"}));
  EXPECT_EQ(find_claim(claims, {"address", "country"}).to_json(), "FR");
  EXPECT_EQ(find_claim(claims, {"address.country"}).to_json(), "FR");
  EXPECT_EQ(find_claim(claims, {"https://example.com/roles"}).to_json(), json::array({"x"}));
  EXPECT_EQ(find_claim(claims, {"a", "b.c"}).to_json(), 1);  // an exact key wins over a dotted path
  EXPECT_FALSE(find_claim(claims, {"address", "city"}));
  EXPECT_FALSE(find_claim(claims, {"sub", "x"}));
  EXPECT_FALSE(find_claim(claims, {"missing.path"}));
  EXPECT_FALSE(find_claim(claims, {}));
}

TEST(ClaimWordsTest, StringsSplitArraysKeepStrings) {
  const EncodedClaims text(json("a  b c"));
  const EncodedClaims array(json::array({"x y", 3, "z"}));
  const EncodedClaims number(json(5));
  EXPECT_EQ(claim_words(text.root()), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(claim_words(array.root()), (std::vector<std::string_view>{"x y", "z"}));
  EXPECT_TRUE(claim_words(number.root()).empty());
  EXPECT_TRUE(claim_words(ClaimValue()).empty());
}

std::optional<std::string> header_value(const json& claim) {
  return claim_header_value(EncodedClaims(claim).root());
}

TEST(ClaimHeaderValueTest, Formatting) {
  EXPECT_EQ(header_value(json("alice")), "alice");
  EXPECT_EQ(header_value(json(1700000000)), "1700000000");
  EXPECT_EQ(header_value(json(1.5)), "1.5");
  EXPECT_EQ(header_value(json(true)), "true");
  EXPECT_EQ(header_value(json::array({"read", "write", 3})), "read write 3");
  EXPECT_EQ(header_value(json::parse(R"({"b":[1,2],"a":"x"})")), R"({"a":"x","b":[1,2]})");
  EXPECT_EQ(header_value(json(nullptr)), std::nullopt);
  EXPECT_EQ(claim_header_value(ClaimValue()), std::nullopt);
}

TEST(ClaimHeaderValueTest, ControlCharactersNeverReachAHeader) {
  EXPECT_EQ(header_value(json("alice\r\nX-Admin: 1")), std::nullopt);
  EXPECT_EQ(header_value(json(std::string("a\0b", 3))), std::nullopt);
  EXPECT_EQ(header_value(json::array({"ok", "bad\n"})), std::nullopt);
  // Inside JSON text, control characters are escaped and therefore harmless.
  EXPECT_EQ(header_value(json::parse(R"({"a":"x\ny"})")), R"({"a":"x\ny"})");
}

// U+2028 and U+0085 end a line for JavaScript, many log viewers and some header parsers; an
// upstream header carries printable ASCII only.
TEST(ClaimHeaderValueTest, OnlyPrintableAsciiReachesAHeader) {
  EXPECT_EQ(header_value(json("sneaky\u2028user")), std::nullopt);
  EXPECT_EQ(header_value(json("next\u0085line")), std::nullopt);
  EXPECT_EQ(header_value(json("jos\u00e9")), std::nullopt);
  EXPECT_EQ(header_value(json("tab\there")), std::nullopt);
  EXPECT_EQ(header_value(json("del\x7f")), std::nullopt);
  EXPECT_EQ(header_value(json::array({"ok", "caf\u00e9"})), std::nullopt);
  EXPECT_EQ(header_value(json::parse(R"({"name":"Jos\u00e9"})")), std::nullopt);
  EXPECT_EQ(header_value(json(" ~!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}")),
            " ~!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}");
}

TEST(NumericDateTest, States) {
  const EncodedClaims encoded(json::parse(R"({"exp":1700000000,"nbf":1.5,"iat":"x"})"));
  const ClaimValue claims = encoded.root();
  EXPECT_EQ(numeric_date(claims, "exp").state, NumericDate::State::valid);
  EXPECT_EQ(numeric_date(claims, "exp").seconds, 1700000000.0);
  EXPECT_EQ(numeric_date(claims, "nbf").seconds, 1.5);
  EXPECT_EQ(numeric_date(claims, "iat").state, NumericDate::State::malformed);
  EXPECT_EQ(numeric_date(claims, "jti").state, NumericDate::State::absent);
}

}  // namespace
}  // namespace tollgate::oidc
