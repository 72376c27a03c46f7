// set_upstream_headers() with answers whose values cannot travel in a header.
#include "tollgate/filters/openid_connect/upstream_headers.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../../oidc/oidc_test_support.hpp"

namespace tollgate::filters::openid_connect {
namespace {

UpstreamHeaders user_and_introspection() {
  UpstreamHeaders headers;
  headers.introspection_header = "X-Introspection";
  headers.claim_headers = {{{"sub"}, "X-Authenticated-User"}, {{"groups"}, "X-Groups"}};
  return headers;
}

// A claim (or the base64 of an answer) longer than a Beast field holds made set() throw, which
// ended the client's connection without an answer. Such a value sets no header, like a value
// holding a control character; the others are still set.
TEST(UpstreamHeadersTest, AValueTooLongForAHeaderSetsNoHeader) {
  const std::string groups = std::string(70'000, 'g');
  const auto answer =
      oidc::testing::answer_from(R"({"active":true,"sub":"alice","groups":")" + groups + "\"}");
  ASSERT_NE(answer, nullptr);
  RequestHead request;
  set_upstream_headers(request, user_and_introspection(), *answer, "token");
  EXPECT_EQ(request["X-Authenticated-User"], "alice");
  EXPECT_EQ(request.count("X-Groups"), 0u);
  EXPECT_EQ(request.count("X-Introspection"), 0u);  // base64 of ~70 KB
}

TEST(UpstreamHeadersTest, ALongValueThatFitsIsSet) {
  const std::string groups = std::string(40'000, 'g');
  const auto answer =
      oidc::testing::answer_from(R"({"active":true,"sub":"alice","groups":")" + groups + "\"}");
  ASSERT_NE(answer, nullptr);
  RequestHead request;
  set_upstream_headers(request, user_and_introspection(), *answer, "token");
  EXPECT_EQ(request["X-Groups"], groups);
  EXPECT_EQ(request.count("X-Introspection"), 1u);  // base64 of ~40 KB: ~54 KB
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
