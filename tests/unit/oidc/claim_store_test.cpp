#include "tollgate/oidc/claim_store.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

namespace tollgate::oidc {
namespace {

using json = nlohmann::json;

// Encoded and read back, a value is the value nlohmann parsed, and writes back as the same text.
void expect_round_trip(const std::string& text) {
  SCOPED_TRACE(text);
  const json parsed = json::parse(text);
  ClaimDictionary dictionary;
  const EncodedClaims encoded(parsed, dictionary);
  EXPECT_EQ(encoded.root().to_json(), parsed);
  EXPECT_EQ(encoded.root().dump(), parsed.dump());
}

TEST(ClaimStoreTest, EveryJsonTypeRoundTrips) {
  for (
      const char* text : {
          "null",
          "true",
          "false",
          "0",
          "1",
          "127",
          "128",
          "16383",
          "16384",
          "2097151",
          "2097152",
          "1700000000",
          "4294967295",
          "4294967296",
          "18446744073709551615",  // UINT64_MAX
          "-1",
          "-64",
          "-65",
          "-9223372036854775808",  // INT64_MIN
          "18446744073709551616",  // past UINT64_MAX: a double
          "-9223372036854775809",  // past INT64_MIN: a double
          "1.5",
          "-2.25",
          "0.1",
          "1.0",
          "-0.0",
          "1e-7",
          "1E5",
          "1.7976931348623157e308",
          "123456789012345678901234",
          R"("")",
          R"("a")",
          R"(" spaced  words ")",
          "[]",
          "{}",
          "[[]]",
          R"([{}])",
          R"({"a":{}})",
          R"([null,true,false,0,-1,1.5,"x",[],{}])",
          R"({"realm_access":{"roles":["admin","user"]},"resource_access":{"api":{"roles":["r"]}}})",
      }) {
    expect_round_trip(text);
  }
}

TEST(ClaimStoreTest, StringsKeepEveryByteAndEscapeAsNlohmannDoes) {
  expect_round_trip(R"("\u00e9t\u00e9 \ud83d\ude00 \u4e2d")");  // unicode escapes
  expect_round_trip(R"("\u0000\u0001\u001f\u007f")");           // control characters
  expect_round_trip(R"("quote \" backslash \\ slash \/ \b\f\n\r\t")");
  expect_round_trip(R"({"k\"e\\y\n":"v","\u00e9":1})");  // escaped names
  expect_round_trip(R"(["été","😀"])");                   // raw UTF-8

  const EncodedClaims nul(json(std::string("a\0b", 3)));
  EXPECT_EQ(nul.root().string(), std::string_view("a\0b", 3));
}

TEST(ClaimStoreTest, LargeValuesRoundTrip) {
  for (const std::size_t length : {63u, 64u, 127u, 128u, 255u, 256u, 257u, 70'000u}) {
    expect_round_trip(json(std::string(length, 'x')).dump());
  }
  json many = json::object();
  json list = json::array();
  for (int i = 0; i < 2000; ++i) {
    many["claim" + std::to_string(i)] = i % 3 == 0 ? json(i) : json("value" + std::to_string(i));
    list.push_back(std::string(i % 70, 'a' + i % 26));
  }
  many["list"] = list;
  expect_round_trip(many.dump());

  const EncodedClaims encoded(many);
  EXPECT_EQ(encoded.root().find("claim999").to_json(), 999);
  EXPECT_EQ(encoded.root().find("claim1000").string(), "value1000");
  EXPECT_EQ(encoded.root().find("list").to_json(), list);
}

TEST(ClaimStoreTest, NestingAsDeepAsAnswersMayGo) {
  std::string deep = R"({"leaf":"x"})";
  for (int i = 0; i < 31; ++i) deep = R"({"n":[)" + deep + "]}";
  expect_round_trip(deep);
}

TEST(ClaimStoreTest, ReadsEachTypeInPlace) {
  const EncodedClaims encoded(json::parse(
      R"({"b":true,"f":false,"n":null,"u":1700000000,"i":-42,"d":2.5,"big":18446744073709551615,
          "s":"text","a":[1,"two"],"o":{"k":"v"}})"));
  const ClaimValue root = encoded.root();
  EXPECT_TRUE(root.is_object());
  EXPECT_TRUE(root.find("b").boolean());
  EXPECT_TRUE(root.find("f").is_boolean());
  EXPECT_FALSE(root.find("f").boolean());
  EXPECT_TRUE(root.find("n").is_null());
  EXPECT_EQ(root.find("u").number(), 1700000000.0);
  EXPECT_EQ(root.find("i").number(), -42.0);
  EXPECT_EQ(root.find("d").number(), 2.5);
  EXPECT_EQ(root.find("big").number(), 18446744073709551615.0);
  EXPECT_EQ(root.find("s").string(), "text");
  EXPECT_TRUE(root.find("a").is_array());
  EXPECT_EQ(root.find("o").find("k").string(), "v");

  // What a value is not reads as nothing, never as another type's bytes.
  EXPECT_EQ(root.find("s").number(), 0.0);
  EXPECT_EQ(root.find("u").string(), "");
  EXPECT_FALSE(root.find("s").boolean());
  EXPECT_FALSE(root.find("a").find("k"));
  EXPECT_TRUE(root.find("s").elements().begin() == root.find("s").elements().end());

  // A failed lookup is absent, and so is everything read from it.
  const ClaimValue missing = root.find("missing");
  EXPECT_FALSE(missing);
  EXPECT_EQ(missing.type(), ClaimValue::Type::absent);
  EXPECT_FALSE(missing.find("x"));
  EXPECT_EQ(missing.string(), "");
  EXPECT_EQ(missing.dump(), "");
  EXPECT_EQ(missing.to_json(), json(nullptr));
}

TEST(ClaimStoreTest, FindsEveryMemberAndNothingElse) {
  // Names around each other in sort order, empty and prefix names, names from the dictionary.
  const json object = json::parse(
      R"({"":0,"a":1,"aa":2,"ab":3,"b":4,"iss":5,"scope":6,"sub":7,"z":8,"~":9,"é":10})");
  const EncodedClaims encoded(object);
  for (const auto& [name, value] : object.items()) {
    EXPECT_EQ(encoded.root().find(name).to_json(), value) << name;
  }
  for (const char* absent : {"0", "a ", "ac", "c", "is", "issuer", "zz", "\x7f"}) {
    EXPECT_FALSE(encoded.root().find(absent)) << absent;
  }
  std::vector<std::string> names;
  for (const ClaimMember member : encoded.root().members()) names.emplace_back(member.key);
  EXPECT_EQ(names, (std::vector<std::string>{"", "a", "aa", "ab", "b", "iss", "scope", "sub", "z",
                                             "~", "é"}));
}

TEST(ClaimStoreTest, LastDuplicateMemberWinsAsWhenParsed) {
  const json parsed = json::parse(R"({"sub":"first","sub":"second"})");
  const EncodedClaims encoded(parsed);
  EXPECT_EQ(encoded.root().find("sub").string(), "second");
  EXPECT_EQ(encoded.root().dump(), parsed.dump());
}

TEST(ClaimStoreTest, ArrayElementsInOrder) {
  const EncodedClaims encoded(json::parse(R"(["x",1,null,["y"],{"k":2}])"));
  std::vector<json> elements;
  for (const ClaimValue element : encoded.root().elements()) elements.push_back(element.to_json());
  EXPECT_EQ(json(elements), json::parse(R"(["x",1,null,["y"],{"k":2}])"));
}

TEST(ClaimStoreTest, RepeatedStringWithinAnAnswerIsStoredOnce) {
  ClaimDictionary dictionary;
  const EncodedClaims same(
      json::parse(R"({"sub":"user42@example.com","username":"user42@example.com"})"), dictionary);
  const EncodedClaims different(
      json::parse(R"({"sub":"user42@example.com","username":"user43@example.com"})"), dictionary);
  EXPECT_EQ(same.root().find("username").string(), "user42@example.com");
  EXPECT_EQ(same.root().find("sub").string(), "user42@example.com");
  EXPECT_LT(same.bytes().size() + 15, different.bytes().size());
}

TEST(ClaimStoreTest, RecurringValuesAreInternedOthersAreNot) {
  ClaimDictionary dictionary;
  const std::uint32_t well_known = dictionary.size();
  const json answer = json::parse(
      R"({"active":true,"iss":"https://idp.example.com","aud":["api://a","api://b"],
          "scope":"read write","sub":"alice","jti":"AT.1234","custom_claim":"value"})");
  const EncodedClaims first(answer, dictionary);
  // The issuer, two audiences, the scope string and the custom claim's name; not sub, jti, value.
  EXPECT_EQ(dictionary.size(), well_known + 5);
  const EncodedClaims second(answer, dictionary);
  EXPECT_EQ(dictionary.size(), well_known + 5);
  EXPECT_EQ(first.bytes().size(), second.bytes().size());
  EXPECT_EQ(second.root().dump(), answer.dump());
}

TEST(ClaimStoreTest, AnOktaAnswerTakesUnderAHundredBytes) {
  ClaimDictionary dictionary;
  const json answer = json::parse(R"({"active":true,"scope":"orders:read profile",
      "username":"user123456@example.com","exp":1700003600,"iat":1700000000,
      "sub":"user123456@example.com","aud":"api://default",
      "iss":"https://example.okta.com/oauth2/default","jti":"AT.1000123456",
      "token_type":"Bearer","client_id":"0oa1example","uid":"00u123456"})");
  const EncodedClaims encoded(answer, dictionary);
  EXPECT_LT(encoded.bytes().size(), 100u);
  EXPECT_EQ(encoded.root().dump(), answer.dump());
}

TEST(ClaimDictionaryTest, FullDictionaryLeavesValuesInline) {
  ClaimDictionary dictionary({.max_entries = 60, .max_bytes = 64 * 1024, .max_length = 256});
  const std::uint32_t well_known = dictionary.size();
  std::vector<json> answers;
  for (int i = 0; i < 40; ++i) {
    answers.push_back({{"active", true}, {"iss", "https://issuer-" + std::to_string(i)}});
  }
  std::vector<EncodedClaims> encoded;
  for (const json& answer : answers) encoded.emplace_back(answer, dictionary);
  EXPECT_EQ(dictionary.size(), 60u);
  const std::uint32_t room = 60 - well_known;  // the first issuers went in, the others inline
  ASSERT_LT(room, 40u);
  for (std::uint32_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(encoded[i].root().dump(), answers[i].dump());
    // Strings already in keep being found; no other gets in.
    EXPECT_EQ(dictionary.intern("https://issuer-" + std::to_string(i)).has_value(), i < room);
  }
  EXPECT_LT(encoded[0].bytes().size() + 10, encoded[39].bytes().size());

  // Names that find no room are inline, and found all the same.
  const json unknown_names = {{"a-new-claim", "x"}, {"iss", "https://issuer-0"}, {"zz", 1}};
  const EncodedClaims inline_names(unknown_names, dictionary);
  EXPECT_FALSE(dictionary.find("a-new-claim"));
  EXPECT_EQ(inline_names.root().find("a-new-claim").string(), "x");
  EXPECT_EQ(inline_names.root().find("iss").string(), "https://issuer-0");
  EXPECT_EQ(inline_names.root().find("zz").number(), 1.0);
  EXPECT_FALSE(inline_names.root().find("a-new-claim-"));
  EXPECT_EQ(inline_names.root().dump(), unknown_names.dump());
}

TEST(ClaimDictionaryTest, FindNeverAdds) {
  ClaimDictionary dictionary;
  const std::uint32_t size = dictionary.size();
  EXPECT_FALSE(dictionary.find("https://idp.example.com"));
  EXPECT_EQ(dictionary.size(), size);
  const std::optional<std::uint32_t> index = dictionary.intern("https://idp.example.com");
  ASSERT_TRUE(index);
  EXPECT_EQ(dictionary.find("https://idp.example.com"), index);
  EXPECT_EQ(dictionary.intern("https://idp.example.com"), index);
  EXPECT_EQ(dictionary.text(*index), "https://idp.example.com");
  EXPECT_TRUE(dictionary.find("exp"));  // well-known names are in from the start
}

TEST(ClaimDictionaryTest, BytesAndLengthAreBounded) {
  ClaimDictionary dictionary({.max_entries = 1000, .max_bytes = 2048, .max_length = 100});
  EXPECT_FALSE(dictionary.intern(std::string(101, 'x')));  // too long, however much room is left
  EXPECT_TRUE(dictionary.intern(std::string(100, 'x')));
  std::size_t added = 0;
  while (dictionary.intern("value-" + std::to_string(added) + std::string(50, '-'))) ++added;
  EXPECT_LT(added, 2048u / 56);
  EXPECT_LT(dictionary.size(), 1000u);
  EXPECT_EQ(dictionary.text(*dictionary.intern(std::string(100, 'x'))), std::string(100, 'x'));
  EXPECT_FALSE(dictionary.intern("another value" + std::string(50, '-')));
}

TEST(ClaimDictionaryTest, ConcurrentInternsAgreeOnEveryIndex) {
  ClaimDictionary dictionary;
  constexpr int kThreads = 4;
  constexpr int kStrings = 500;
  std::vector<std::vector<std::uint32_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&dictionary, &seen, t] {
      for (int i = 0; i < kStrings; ++i) {
        seen[t].push_back(*dictionary.intern("client-" + std::to_string(i)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::uint32_t> distinct;
  for (int i = 0; i < kStrings; ++i) {
    for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t][i], seen[0][i]) << i;
    EXPECT_EQ(dictionary.text(seen[0][i]), "client-" + std::to_string(i));
    distinct.insert(seen[0][i]);
  }
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kStrings));
}

// Random JSON, strings with every kind of character included, written back byte for byte as
// nlohmann writes it.
json random_value(std::mt19937_64& random, int depth) {
  const int kind = static_cast<int>(random() % (depth >= 5 ? 6 : 8));
  switch (kind) {
    case 0:
      return nullptr;
    case 1:
      return random() % 2 == 0;
    case 2:
      return static_cast<std::int64_t>(random());
    case 3:
      return random();
    case 4: {
      const double d = std::ldexp(static_cast<double>(static_cast<std::int64_t>(random())),
                                  static_cast<int>(random() % 200) - 100);
      return json::parse(json(d).dump());  // as a parsed answer holds it
    }
    case 5: {
      static const std::vector<std::string> pieces = {"a",
                                                      "Z",
                                                      " ",
                                                      "\"",
                                                      "\\",
                                                      "/",
                                                      "\n",
                                                      "\t",
                                                      std::string(1, '\0'),
                                                      "\x1f",
                                                      "\x7f",
                                                      "é",
                                                      "😀",
                                                      "iss",
                                                      "api://default",
                                                      "user@example.com",
                                                      std::string(70, 'x')};
      std::string text;
      const int count = static_cast<int>(random() % 6);
      for (int i = 0; i < count; ++i) text += pieces[random() % pieces.size()];
      return text;
    }
    case 6: {
      json array = json::array();
      const int count = static_cast<int>(random() % 5);
      for (int i = 0; i < count; ++i) array.push_back(random_value(random, depth + 1));
      return array;
    }
    default: {
      static const std::vector<std::string> names = {"iss", "aud", "sub", "scope", "groups",
                                                     "x",   "",    "é",   "a.b",   "roles"};
      json object = json::object();
      const int count = static_cast<int>(random() % 6);
      for (int i = 0; i < count; ++i) {
        object[names[random() % names.size()]] = random_value(random, depth + 1);
      }
      return object;
    }
  }
}

TEST(ClaimStoreTest, RandomValuesRoundTrip) {
  std::mt19937_64 random(7662);
  ClaimDictionary dictionary;
  for (int i = 0; i < 2000; ++i) {
    const json value = random_value(random, 0);
    const EncodedClaims encoded(value, dictionary);
    ASSERT_EQ(encoded.root().dump(), value.dump()) << i;
    ASSERT_EQ(encoded.root().to_json(), value) << i;
  }
}

}  // namespace
}  // namespace tollgate::oidc
