#include "tollgate/filters/openid_connect/token_extraction.hpp"

#include <gtest/gtest.h>

namespace tollgate::filters::openid_connect {
namespace {

namespace http = boost::beast::http;
using Kind = ExtractionFailure::Kind;

class TokenExtractionTest : public ::testing::Test {
 protected:
  RequestHead request;
  std::string query;
  std::string body;          // a form body read for the filter
  TokenLocations locations;  // header only, as configured by default

  TokenExtractionTest() {
    request.method(http::verb::get);
    request.target("/orders");
    locations.cookie_name = "session_token";
  }

  auto extract() { return extract_token(request, query, locations, body); }

  void expect_token(std::string_view token, TokenSource source) {
    auto result = extract();
    ASSERT_TRUE(result.has_value()) << result.error().description;
    EXPECT_EQ(result->value, token);
    EXPECT_EQ(result->source, source);
  }
  void expect_failure(Kind kind, std::string_view description = {}) {
    auto result = extract();
    ASSERT_FALSE(result.has_value()) << "token: " << result->value;
    EXPECT_EQ(result.error().kind, kind);
    EXPECT_FALSE(result.error().description.empty());
    if (!description.empty()) {
      EXPECT_EQ(result.error().description, description);
    }
  }
};

TEST_F(TokenExtractionTest, BearerHeader) {
  request.set(http::field::authorization, "Bearer eyJhbGciOi.eyJzdWIi.c2ln-_");
  expect_token("eyJhbGciOi.eyJzdWIi.c2ln-_", TokenSource::header);
}

TEST_F(TokenExtractionTest, SchemeIsCaseInsensitive) {
  request.set(http::field::authorization, "bEaReR abc");
  expect_token("abc", TokenSource::header);
}

TEST_F(TokenExtractionTest, PaddingAndAllB64TokenCharacters) {
  request.set(http::field::authorization, "Bearer aZ09-._~+/==");
  expect_token("aZ09-._~+/==", TokenSource::header);
}

TEST_F(TokenExtractionTest, SeveralSpacesAfterTheSchemeAreAccepted) {
  request.set(http::field::authorization, "Bearer   abc");
  expect_token("abc", TokenSource::header);
}

TEST_F(TokenExtractionTest, NoTokenIsMissing) {
  expect_failure(Kind::missing);
}

TEST_F(TokenExtractionTest, OtherSchemeIsMissingNotMalformed) {
  request.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  expect_failure(Kind::missing);
}

TEST_F(TokenExtractionTest, BearerWithoutTokenIsInvalid) {
  request.set(http::field::authorization, "Bearer");
  expect_failure(Kind::invalid_request);
  request.set(http::field::authorization, "Bearer    ");
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, TwoTokensAreInvalid) {
  request.set(http::field::authorization, "Bearer abc def");
  expect_failure(Kind::invalid_request, "The Authorization header holds more than one token");
  request.set(http::field::authorization, "Bearer abc\tdef");
  expect_failure(Kind::invalid_request, "The Authorization header holds more than one token");
}

TEST_F(TokenExtractionTest, TabSeparatorIsInvalid) {
  request.set(http::field::authorization, "Bearer\tabc");
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, CharactersOutsideB64TokenAreInvalid) {
  for (const char* value : {"Bearer abc,def", "Bearer a\"b", "Bearer ab=c", "Bearer =abc",
                            "Bearer a;b", "Bearer a%20b"}) {
    request.set(http::field::authorization, value);
    expect_failure(Kind::invalid_request, "The access token has invalid characters");
  }
}

TEST_F(TokenExtractionTest, OverlongHeaderIsInvalid) {
  request.set(http::field::authorization, "Bearer " + std::string(kMaxTokenBytes, 'a'));
  expect_failure(Kind::invalid_request);
  request.set(http::field::authorization, "Bearer " + std::string(kMaxTokenBytes - 7, 'a'));
  expect_token(std::string(kMaxTokenBytes - 7, 'a'), TokenSource::header);
}

TEST_F(TokenExtractionTest, TwoAuthorizationHeadersAreInvalidWhateverTheirSchemes) {
  request.insert(http::field::authorization, "Bearer abc");
  request.insert(http::field::authorization, "Bearer abc");
  expect_failure(Kind::invalid_request);
  request.erase(http::field::authorization);
  request.insert(http::field::authorization, "Basic dXNlcjpwYXNz");
  request.insert(http::field::authorization, "Bearer abc");
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, QueryParameterOnlyWhenAllowed) {
  query = "page=2&access_token=abc.def";
  expect_failure(Kind::missing);
  locations.query = true;
  expect_token("abc.def", TokenSource::query);
}

TEST_F(TokenExtractionTest, QueryParameterIsFormDecoded) {
  locations.query = true;
  query = "access_token=a%2Bb%2Fc%3D";
  expect_token("a+b/c=", TokenSource::query);
  query = "access%5Ftoken=abc";
  expect_token("abc", TokenSource::query);
  query = "access_token=a+b";  // '+' is a space in a query: not a b64token
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, MalformedOrRepeatedQueryParameterIsInvalid) {
  locations.query = true;
  for (const char* bad : {"access_token=abc&access_token=abc", "access_token=", "access_token",
                          "access_token=ab%2", "access_token=ab%zz", "access_token=a%0Ab"}) {
    query = bad;
    expect_failure(Kind::invalid_request);
  }
}

TEST_F(TokenExtractionTest, TokenInHeaderAndQueryIsInvalid) {
  locations.query = true;
  request.set(http::field::authorization, "Bearer abc");
  query = "access_token=abc";
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, BasicHeaderWithQueryTokenUsesTheQueryToken) {
  locations.query = true;
  request.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  query = "access_token=abc";
  expect_token("abc", TokenSource::query);
}

TEST_F(TokenExtractionTest, CookieOnlyWhenAllowed) {
  request.set(http::field::cookie, "theme=dark; session_token=abc.def; lang=en");
  expect_failure(Kind::missing);
  locations.cookie = true;
  expect_token("abc.def", TokenSource::cookie);
}

TEST_F(TokenExtractionTest, QuotedCookieValue) {
  locations.cookie = true;
  request.set(http::field::cookie, "session_token=\"abc\"");
  expect_token("abc", TokenSource::cookie);
}

TEST_F(TokenExtractionTest, CookieNameIsExact) {
  locations.cookie = true;
  request.set(http::field::cookie, "session_token_old=abc; Session_Token=def");
  expect_failure(Kind::missing);
}

TEST_F(TokenExtractionTest, RepeatedOrMalformedCookieIsInvalid) {
  locations.cookie = true;
  request.set(http::field::cookie, "session_token=abc; session_token=abc");
  expect_failure(Kind::invalid_request);
  request.erase(http::field::cookie);
  request.insert(http::field::cookie, "session_token=abc");
  request.insert(http::field::cookie, "session_token=def");
  expect_failure(Kind::invalid_request);
  request.erase(http::field::cookie);
  request.insert(http::field::cookie, "session_token=a,b");
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, TokenInHeaderAndCookieIsInvalid) {
  locations.cookie = true;
  request.set(http::field::authorization, "Bearer abc");
  request.set(http::field::cookie, "session_token=abc");
  expect_failure(Kind::invalid_request);
}

TEST_F(TokenExtractionTest, HeaderIgnoredWhenNotAllowed) {
  locations.header = false;
  locations.cookie = true;
  request.set(http::field::authorization, "Bearer abc def");  // would be malformed
  request.set(http::field::cookie, "session_token=xyz");
  expect_token("xyz", TokenSource::cookie);
}

TEST(B64TokenTest, Grammar) {
  EXPECT_TRUE(is_b64token("a"));
  EXPECT_TRUE(is_b64token("a=="));
  EXPECT_FALSE(is_b64token(""));
  EXPECT_FALSE(is_b64token("="));
  EXPECT_FALSE(is_b64token("a=b"));
  EXPECT_FALSE(is_b64token("a b"));
  EXPECT_FALSE(is_b64token(std::string_view("a\0b", 3)));
}

TEST(RemoveCookieTest, RemovesOnlyTheNamedCookie) {
  RequestHead request;
  request.insert(http::field::cookie, "theme=dark; session_token=abc");
  request.insert(http::field::cookie, "session_token=abc");
  request.insert(http::field::cookie, "lang=en");
  remove_cookie(request, "session_token");
  std::vector<std::string> values;
  for (auto& field : request) values.emplace_back(field.value());
  EXPECT_EQ(values, (std::vector<std::string>{"theme=dark", "lang=en"}));
}

TEST_F(TokenExtractionTest, FormBodyField) {
  locations.body = true;
  body = "grant=x&access_token=abc%2Bdef%3D&other=1";
  expect_token("abc+def=", TokenSource::body);
}

TEST_F(TokenExtractionTest, FormBodyIsIgnoredUnlessAllowed) {
  body = "access_token=abc";
  expect_failure(Kind::missing);
}

TEST_F(TokenExtractionTest, FormBodyFieldTwiceIsInvalid) {
  locations.body = true;
  body = "access_token=abc&access_token=abc";
  expect_failure(Kind::invalid_request, "The access_token form field is repeated");
}

TEST_F(TokenExtractionTest, FormBodyFieldWithABrokenEscapeIsInvalid) {
  locations.body = true;
  body = "access_token=abc%2";
  expect_failure(Kind::invalid_request, "The access_token form field is malformed");
}

TEST_F(TokenExtractionTest, FormBodyAndHeaderIsInvalid) {
  locations.body = true;
  body = "access_token=abc";
  request.set(http::field::authorization, "Bearer abc");
  expect_failure(Kind::invalid_request, "The access token was sent in more than one place");
}

TEST_F(TokenExtractionTest, FormBodyAndQueryIsInvalid) {
  locations = TokenLocations{false, true, false, {}, true};
  body = "access_token=abc";
  query = "access_token=abc";
  expect_failure(Kind::invalid_request, "The access token was sent in more than one place");
}

TEST_F(TokenExtractionTest, EncodedFieldNameIsTheSameField) {
  locations.body = true;
  body = "access%5Ftoken=abc";
  expect_token("abc", TokenSource::body);
}

TEST(WithoutParameterTest, RemovesOnlyTheNamedParameterKeepingTheRestAsSent) {
  EXPECT_EQ(without_parameter("access_token=abc", "access_token"), "");
  EXPECT_EQ(without_parameter("a=1&access_token=abc&b=%2B+x", "access_token"), "a=1&b=%2B+x");
  EXPECT_EQ(without_parameter("access%5Ftoken=abc&a=1", "access_token"), "a=1");
  EXPECT_EQ(without_parameter("a=1&access_token", "access_token"), "a=1");
  EXPECT_EQ(without_parameter("my_access_token=1&a", "access_token"), "my_access_token=1&a");
  EXPECT_EQ(without_parameter("", "access_token"), "");
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
