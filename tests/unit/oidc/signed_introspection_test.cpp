// RFC 9701 answers: what counts as a signed introspection answer, and the client asking for one
// and verifying it with the issuer's JWKS.
#include "tollgate/oidc/signed_introspection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "canned_http_server.hpp"
#include "jose_test_support.hpp"
#include "tollgate/jose/jws.hpp"
#include "tollgate/oidc/introspection_client.hpp"

namespace tollgate::oidc {
namespace {

using jose::Algorithm;
using nlohmann::json;
using testing::CannedHttpServer;
using testing::CannedResponse;
using Request = CannedHttpServer::Request;

constexpr const char* kIssuer = "https://idp.example/oauth2/default";

class SignedIntrospectionTest : public ::testing::Test {
 protected:
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  jose::PublicKey key = jose::test::generate_key("RSA");
  jose::KeySet keys = jose::parse_jwks(jose::test::jwks_of({{key.get(), "k1"}}))->keys;

  static json answer(bool active = true) {
    return {
        {"iss", kIssuer},
        {"aud", "gateway"},
        {"iat", 1},
        {"token_introspection", {{"active", active}, {"sub", "alice"}, {"scope", "orders:read"}}}};
  }
  std::string signed_answer(const json& claims,
                            json header = {{"kid", "k1"}, {"typ", "token-introspection+jwt"}},
                            EVP_PKEY* with = nullptr) const {
    return jose::sign_compact(std::move(header), claims.dump(), Algorithm::RS256,
                              with != nullptr ? with : key.get());
  }
  SignedAnswerOutcome check(const std::string& body) const {
    return parse_signed_introspection(body, &keys, kIssuer, "gateway", now);
  }
  static bool failed(const SignedAnswerOutcome& outcome) {
    return !outcome.result && outcome.result.error().kind == IdpFailureKind::bad_response;
  }
};

TEST_F(SignedIntrospectionTest, TheTokenIntrospectionClaimIsTheAnswer) {
  const SignedAnswerOutcome outcome = check(signed_answer(answer()));
  ASSERT_TRUE(outcome.result);
  EXPECT_TRUE((*outcome.result)->active);
  EXPECT_EQ((*outcome.result)->claims.find("sub").string(), "alice");
  const SignedAnswerOutcome inactive = check(signed_answer(answer(false)));
  ASSERT_TRUE(inactive.result);
  EXPECT_FALSE((*inactive.result)->active);
}

TEST_F(SignedIntrospectionTest, ABadSignatureIsAnIdpFailure) {
  const jose::PublicKey stranger = jose::test::generate_key("RSA");
  const SignedAnswerOutcome outcome = check(
      signed_answer(answer(), {{"kid", "k1"}, {"typ", "token-introspection+jwt"}}, stranger.get()));
  EXPECT_TRUE(failed(outcome));
  EXPECT_FALSE(outcome.unknown_key);
}

TEST_F(SignedIntrospectionTest, AnAnswerFromAnotherIssuerIsAnIdpFailure) {
  json other = answer();
  other["iss"] = "https://evil.example/oauth2/default";
  EXPECT_TRUE(failed(check(signed_answer(other))));
}

TEST_F(SignedIntrospectionTest, AnAnswerForAnotherClientIsAnIdpFailure) {
  json other = answer();
  other["aud"] = json::array({"someone-else"});
  EXPECT_TRUE(failed(check(signed_answer(other))));
  other["aud"] = json::array({"someone-else", "gateway"});
  EXPECT_TRUE(check(signed_answer(other)).result);
}

TEST_F(SignedIntrospectionTest, OnlyTheIntrospectionTypeAndAnAnswerObjectCount) {
  EXPECT_TRUE(failed(check(signed_answer(answer(), {{"kid", "k1"}, {"typ", "at+jwt"}}))));
  EXPECT_TRUE(failed(check(signed_answer(answer(), {{"kid", "k1"}}))));
  json no_answer = answer();
  no_answer.erase("token_introspection");
  EXPECT_TRUE(failed(check(signed_answer(no_answer))));
  json no_active = answer();
  no_active["token_introspection"].erase("active");
  EXPECT_TRUE(failed(check(signed_answer(no_active))));
  EXPECT_TRUE(failed(check(R"({"active":true})")));
}

TEST_F(SignedIntrospectionTest, HmacIsNeverAccepted) {
  const std::string forged =
      jose::sign_compact_hmac({{"kid", "k1"}, {"typ", "token-introspection+jwt"}}, answer().dump(),
                              Algorithm::HS256, jose::test::jwks_of({{key.get(), "k1"}}));
  EXPECT_TRUE(failed(check(forged)));
}

TEST_F(SignedIntrospectionTest, AnUnknownKidAsksForTheKeysAgain) {
  const SignedAnswerOutcome outcome =
      check(signed_answer(answer(), {{"kid", "k2"}, {"typ", "token-introspection+jwt"}}));
  EXPECT_TRUE(failed(outcome));
  EXPECT_TRUE(outcome.unknown_key);
}

TEST_F(SignedIntrospectionTest, TheClientAsksForAndVerifiesASignedAnswer) {
  std::string issuer;
  auto server_body = std::make_shared<std::string>();
  const std::string jwks = jose::test::jwks_of({{key.get(), "k1"}});
  CannedHttpServer server([&, server_body](const Request& request) {
    CannedResponse response;
    response.body = request.target() == "/keys" ? jwks : *server_body;
    return response;
  });
  issuer = server.base_url();
  json claims = answer();
  claims["iss"] = issuer;
  *server_body = signed_answer(claims);

  boost::asio::io_context io;
  JwksSettings jwks_settings;
  jwks_settings.jwks_uri = server.base_url() + "/keys";
  auto keys_client = JwksClient::create(jwks_settings, nullptr, "test");
  ClientSettings settings;
  settings.issuer = issuer;
  settings.endpoint = server.base_url() + "/introspect";
  settings.client_id = "gateway";
  settings.client_secret = "secret";
  settings.signed_answers = true;
  auto client = HttpIntrospectionClient::create(settings, nullptr, "test", keys_client);
  const filters::StartContext context{{io.get_executor()}};
  keys_client->start(context);
  client->start(context);

  auto introspect = [&] {
    std::optional<IntrospectionResult> out;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          out.emplace(co_await client->introspect("tok", 0, {}));
        },
        boost::asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    io.restart();
    while (!out && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return out;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!keys_client->ready() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(20));
  }
  auto good = introspect();
  ASSERT_TRUE(good && good->has_value());
  EXPECT_TRUE((**good)->active);
  const std::vector<Request> requests = server.requests();
  EXPECT_EQ(requests.back()[boost::beast::http::field::accept],
            "application/token-introspection+jwt");

  claims["token_introspection"]["sub"] = "mallory";  // a changed answer with the old signature
  const std::string original = *server_body;
  const std::size_t first = original.find('.');
  const std::size_t second = original.find('.', first + 1);
  *server_body =
      original.substr(0, first) + "." + base64url_encode(claims.dump()) + original.substr(second);
  auto tampered = introspect();
  ASSERT_TRUE(tampered);
  EXPECT_FALSE(tampered->has_value());
  keys_client->stop();
  client->stop();
}

}  // namespace
}  // namespace tollgate::oidc
