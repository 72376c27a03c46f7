// The body of POST /cache/purge: one thing to purge, named clearly, or a 400 that says what is
// wrong.
#include "admin/purge_request.hpp"

#include <gtest/gtest.h>

namespace tollgate::admin {
namespace {

using metrics::PurgeScope;

const std::string kKey = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(PurgeRequest, NamesOneKeySubClientIdOrAll) {
  auto key = parse_purge_request(R"({"key": ")" + kKey + R"("})");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->what.scope, PurgeScope::key);
  EXPECT_EQ(key->what.value, kKey);
  EXPECT_EQ(key->plugin, "");

  std::string upper = kKey;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto upper_key = parse_purge_request(R"({"key": ")" + upper + R"("})");
  ASSERT_TRUE(upper_key);
  EXPECT_EQ(upper_key->what.value, kKey);  // as logs and Redis keys write it

  auto sub = parse_purge_request(R"({"sub": "alice@example.com", "plugin": "okta"})");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->what.scope, PurgeScope::sub);
  EXPECT_EQ(sub->what.value, "alice@example.com");
  EXPECT_EQ(sub->plugin, "okta");

  auto client = parse_purge_request(R"({"client_id": "0oa1b2c3"})");
  ASSERT_TRUE(client);
  EXPECT_EQ(client->what.scope, PurgeScope::client_id);
  EXPECT_EQ(client->what.value, "0oa1b2c3");

  auto all = parse_purge_request(R"({"all": true})");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->what.scope, PurgeScope::all);
}

TEST(PurgeRequest, AnythingElseSaysWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"",
       "the body must be a JSON object naming what to purge, e.g. {\"sub\": \"alice\"}, "
       "{\"client_id\": \"0oa1b2c3\"}, {\"all\": true}"},
      {"[1]",
       "the body must be a JSON object naming what to purge, e.g. {\"sub\": \"alice\"}, "
       "{\"client_id\": \"0oa1b2c3\"}, {\"all\": true}"},
      {"{}",
       "name what to purge: e.g. {\"sub\": \"alice\"}, {\"client_id\": \"0oa1b2c3\"}, "
       "{\"all\": true}"},
      {R"({"plugin": "okta"})",
       "name what to purge: e.g. {\"sub\": \"alice\"}, {\"client_id\": "
       "\"0oa1b2c3\"}, {\"all\": true}"},
      {R"({"sub": "a", "all": true})", "name one of key, sub, client_id or all, not several"},
      {R"({"all": false})", "all must be true"},
      {R"({"all": "yes"})", "all must be true"},
      {R"({"sub": ""})", "sub must be a non-empty string of at most 1024 bytes"},
      {R"({"client_id": 7})", "client_id must be a non-empty string of at most 1024 bytes"},
      {R"({"sub": ")" + std::string(1025, 'a') + R"("})",
       "sub must be a non-empty string of at most 1024 bytes"},
      {R"({"key": "abc"})", "key must be the 64 hexadecimal characters logged as key=..."},
      {R"({"key": ")" + kKey.substr(0, 63) + R"(g"})",
       "key must be the 64 hexadecimal characters logged as key=..."},
      {R"({"token": "x"})",
       "unknown field \"token\" (expected key, sub, client_id or all, and plugin)"},
      {R"({"all": true, "plugin": ""})", "plugin must be the name of a plugin instance"},
  };
  for (const auto& [body, message] : cases) {
    auto parsed = parse_purge_request(body);
    ASSERT_FALSE(parsed) << body;
    EXPECT_EQ(parsed.error(), message) << body;
  }
}

}  // namespace
}  // namespace tollgate::admin
