// encode_claims_text() reads JSON text straight into the claim encoding. Whatever it accepts must
// come out byte for byte as encode_claims() writes nlohmann's parse of the same text, and whatever
// nlohmann refuses it must refuse too: the introspection client trusts it in place of nlohmann.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tollgate/oidc/claim_store.hpp"

namespace tollgate::oidc {
namespace {

using json = nlohmann::json;

// The text's encoding, which must equal the tree's.
void expect_same_encoding(const std::string& text) {
  SCOPED_TRACE(text);
  ClaimDictionary dictionary;
  const std::optional<std::vector<std::uint8_t>> direct = encode_claims_text(text, dictionary);
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(*direct, encode_claims(json::parse(text), dictionary));
}

void expect_left_to_nlohmann(const std::string& text) {
  SCOPED_TRACE(text);
  ClaimDictionary dictionary;
  EXPECT_FALSE(encode_claims_text(text, dictionary).has_value());
}

TEST(ClaimTextTest, ReadsAnswersAsTheyComeFromIdps) {
  // Okta, with its keys in the order it sends them.
  expect_same_encoding(
      R"({"active":true,"scope":"openid profile orders:read","username":"john.doe@example.com",)"
      R"("exp":1767225600,"iat":1767222000,"sub":"john.doe@example.com","aud":"api://default",)"
      R"("iss":"https://dev-123456.okta.com/oauth2/default","jti":"AT.x3H2bIRnF5b-7Qk0o_qR",)"
      R"("token_type":"Bearer","client_id":"0oa1b2c3d4E5F6g7H8i9","uid":"00u1a2b3c4D5E6F7G8H9"})");
  // Keycloak: nested objects and arrays, escaped slashes, whitespace between tokens.
  expect_same_encoding(R"({
    "active" : true, "exp" : 1767225600, "iat" : 1767222000,
    "iss" : "https:\/\/sso.example.com\/realms\/main",
    "realm_access" : { "roles" : [ "offline_access", "admin" ] },
    "resource_access" : { "api" : { "roles" : [ "read" ] } },
    "allowed-origins" : [ ], "typ" : "Bearer", "acr" : "1", "email_verified" : false,
    "address" : { }, "sid" : null
  })");
  expect_same_encoding(R"({"active":false})");
  expect_same_encoding("\t\r\n {\"active\" :true }\n");
}

TEST(ClaimTextTest, MembersAreSortedAndTheLastDuplicateWins) {
  expect_same_encoding(R"({"z":1,"a":2,"m":{"y":1,"b":2},"":0})");
  expect_same_encoding(R"({"sub":"first","active":true,"sub":"second"})");
  expect_same_encoding(R"({"a":1,"a":{"x":1,"x":2},"a":[3]})");
  expect_same_encoding(R"({"a":{"b":1,"a":2},"b":{"a":3,"b":4,"a":5}})");

  ClaimDictionary dictionary;
  const std::optional<std::vector<std::uint8_t>> encoded =
      encode_claims_text(R"({"sub":"first","active":true,"sub":"second"})", dictionary);
  ASSERT_TRUE(encoded.has_value());
  const ClaimValue root(encoded->data(), &dictionary);
  EXPECT_EQ(root.find("sub").string(), "second");
  EXPECT_TRUE(root.find("active").boolean());
}

TEST(ClaimTextTest, RepeatedStringsBecomeBackReferencesAsInTheTree) {
  expect_same_encoding(R"({"username":"someone@example.com","sub":"someone@example.com",)"
                       R"("list":["someone@example.com","abcd","abcd","abc","abc"]})");
}

TEST(ClaimTextTest, ReadsEveryIntegerNlohmannKeepsAsAnInteger) {
  for (const char* text :
       {"0", "-0", "7", "-7", "127", "128", "2097151", "2097152", "4294967295", "4294967296",
        "18446744073709551615", "-9223372036854775808", "[1,-1,0,-0]", R"({"exp":1767225600})"}) {
    expect_same_encoding(text);
  }
}

TEST(ClaimTextTest, ReadsTheShortEscapes) {
  expect_same_encoding(R"("quote \" backslash \\ slash \/ \b\f\n\r\t")");
  expect_same_encoding(R"({"k\"e\\y\n":"v\/w","plain":"x","esc\taped":"\"\"\"\""})");
  expect_same_encoding(R"(["\\\\\\\\","\\\\\\\\","a\nb"])");  // repeated, so a back reference
}

TEST(ClaimTextTest, LeavesOtherValidJsonToNlohmann) {
  for (const char* text : {
           "1.5", "-0.0", "1e3", "1E-3",
           "18446744073709551616",  // past UINT64_MAX: a double
           "-9223372036854775809",  // past INT64_MIN: a double
           R"({"exp":1767225600.5})", R"("\u00e9")",
           "\"\xc3\xa9t\xc3\xa9\"",  // raw UTF-8, which nlohmann validates
           "\xef\xbb\xbf{}",         // a byte order mark
       }) {
    expect_left_to_nlohmann(text);
    EXPECT_FALSE(json::parse(text, nullptr, false).is_discarded()) << text;
  }
}

TEST(ClaimTextTest, RefusesWhatIsNoJson) {
  for (const std::string& text : std::vector<std::string>{
           "",
           " ",
           "{",
           "}",
           "[1,]",
           "[,1]",
           R"({"a":1,})",
           R"({"a"})",
           R"({"a":})",
           R"({a:1})",
           R"({'a':1})",
           R"({"a":1 "b":2})",
           "01",
           "-01",
           "-",
           "+1",
           "1.",
           "tru",
           "truex",
           "nul",
           "{} x",
           "{}{}",
           "[] // comment",
           "\"unterminated",
           "\"lone backslash \\",
           "\"bad escape \\x\"",
           std::string("\"control \x01 char\""),
           std::string("\"nul \0 char\"", 13),
       }) {
    expect_left_to_nlohmann(text);
    EXPECT_TRUE(json::parse(text, nullptr, false).is_discarded()) << text;
  }
}

// Text mutated at random from answer-shaped seeds: whatever the direct reader accepts, nlohmann
// accepts too and encodes the same; whatever nlohmann refuses, the direct reader refuses.
TEST(ClaimTextTest, AgreesWithNlohmannOnMutatedAnswers) {
  const std::vector<std::string> seeds = {
      R"({"active":true,"scope":"a b","exp":1767225600,"sub":"u","aud":["x","y"],"n":null})",
      R"({"realm_access":{"roles":["r1","r2"]},"x":{"y":{"z":[1,-2,[true,false]]}},"s":"a\"b"})",
      R"([{"b":1,"a":2,"b":3},"\/\\",-0,18446744073709551615,-9223372036854775808])",
  };
  const std::string alphabet = "{}[]\":,\\/ \t\n-0123456789.eE+tfnrulsabux\x01\x7f\xc3\xa9";
  std::mt19937_64 random(7662);
  ClaimDictionary dictionary;
  int accepted = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text = seeds[random() % seeds.size()];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = random() % text.size();
      const char ch = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          text[at] = ch;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), ch);
          break;
        default:
          text.erase(at, 1);
          break;
      }
    }
    const json tree = json::parse(text, nullptr, false);
    const std::optional<std::vector<std::uint8_t>> direct = encode_claims_text(text, dictionary);
    if (!direct) continue;
    ++accepted;
    ASSERT_FALSE(tree.is_discarded()) << text;
    ASSERT_EQ(*direct, encode_claims(tree, dictionary)) << text;
  }
  EXPECT_GT(accepted, 1000);  // the comparison above ran on many texts, not a handful
}

}  // namespace
}  // namespace tollgate::oidc
