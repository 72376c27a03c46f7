// The JWT and TLS client credentials on real introspection calls (RFC 7523, RFC 8705): what goes
// on the wire, and that the assertion verifies with the client's key and names what Okta checks.
#include <map>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "canned_http_server.hpp"
#include "jose_test_support.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jws.hpp"
#include "tollgate/oidc/introspection_client.hpp"

namespace tollgate::oidc {
namespace {

using testing::CannedHttpServer;
using testing::CannedResponse;
using Request = CannedHttpServer::Request;
using nlohmann::json;

// The form fields of a body whose values need no decoding (tokens, assertions, plain ids).
std::map<std::string, std::string> fields_of(const std::string& body) {
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t equals = pair.find('=');
    fields.emplace(std::string(pair.substr(0, equals)), std::string(pair.substr(equals + 1)));
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  return fields;
}

class ClientAuthTest : public ::testing::Test {
 protected:
  ClientSettings settings;
  boost::asio::io_context io;
  CannedHttpServer server{[](const Request&) {
    CannedResponse response;
    response.body = R"({"active":true})";
    return response;
  }};

  ClientAuthTest() { settings.client_id = "gateway"; }

  // Two calls; the requests the server saw.
  std::vector<Request> introspect_twice() {
    settings.endpoint = server.base_url() + "/v1/introspect";
    auto client = HttpIntrospectionClient::create(settings, nullptr, "test");
    client->start(filters::StartContext{{io.get_executor()}});
    for (int i = 0; i < 2; ++i) {
      std::optional<IntrospectionResult> out;
      boost::asio::co_spawn(
          io,
          [&]() -> boost::asio::awaitable<void> {
            out.emplace(co_await client->introspect("tok", 0, {}));
          },
          boost::asio::detached);
      // Until the answer: a pooled connection's idle watch keeps the loop busy after it.
      io.restart();
      while (!out && io.run_one() > 0) {
      }
      EXPECT_TRUE(out && out->has_value());
    }
    return server.requests();
  }

  // The assertion's claims after checking what every assertion must hold.
  json checked_claims(const Request& request, const jose::Jws& jws) {
    EXPECT_EQ(request.count(boost::beast::http::field::authorization), 0u);
    const json claims = json::parse(jws.payload);
    EXPECT_EQ(claims["iss"], "gateway");
    EXPECT_EQ(claims["sub"], "gateway");
    EXPECT_EQ(claims["aud"], settings.endpoint);
    EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 60);
    EXPECT_FALSE(claims["jti"].get<std::string>().empty());
    return claims;
  }
};

TEST_F(ClientAuthTest, PrivateKeyJwtSignsAFreshAssertionForEachCall) {
  const jose::PublicKey key = jose::test::generate_key("P-256");
  settings.auth_method = ClientAuthMethod::private_key_jwt;
  settings.assertion_key = {jose::Algorithm::ES256, key, "", "client-key-1"};
  const std::vector<Request> requests = introspect_twice();
  ASSERT_EQ(requests.size(), 2u);

  std::vector<std::string> jtis;
  for (const Request& request : requests) {
    const auto fields = fields_of(request.body());
    EXPECT_EQ(fields.at("client_assertion_type"),
              "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
    EXPECT_EQ(fields.count("client_secret"), 0u);
    const std::string assertion = fields.at("client_assertion");
    auto jws = jose::parse_compact(assertion);
    ASSERT_TRUE(jws);
    EXPECT_EQ(jws->alg, jose::Algorithm::ES256);
    EXPECT_EQ(jws->kid, "client-key-1");
    EXPECT_TRUE(jose::verify_signature(*jws, key.get()));
    jtis.push_back(checked_claims(request, *jws)["jti"]);
  }
  EXPECT_NE(jtis[0], jtis[1]);
}

TEST_F(ClientAuthTest, ClientSecretJwtIsAnHmacOfTheSecret) {
  settings.auth_method = ClientAuthMethod::client_secret_jwt;
  settings.client_secret = std::string(40, 's');
  settings.assertion_key = {jose::Algorithm::HS256, nullptr, settings.client_secret, ""};
  const std::vector<Request> requests = introspect_twice();
  const std::string assertion = fields_of(requests.front().body()).at("client_assertion");
  auto jws = jose::parse_compact(assertion);
  ASSERT_TRUE(jws);
  EXPECT_EQ(jws->alg, jose::Algorithm::HS256);
  EXPECT_TRUE(jose::verify_hmac(*jws, settings.client_secret));
  checked_claims(requests.front(), *jws);
  EXPECT_EQ(requests.front().body().find(settings.client_secret), std::string::npos);
}

TEST_F(ClientAuthTest, TlsClientAuthSendsTheClientIdAndNoSecret) {
  settings.auth_method = ClientAuthMethod::tls_client_auth;
  settings.client_secret = "never-sent";
  const std::vector<Request> requests = introspect_twice();
  const Request& request = requests.front();
  EXPECT_EQ(request.count(boost::beast::http::field::authorization), 0u);
  EXPECT_EQ(fields_of(request.body()),
            (std::map<std::string, std::string>{
                {"token", "tok"}, {"token_type_hint", "access_token"}, {"client_id", "gateway"}}));
}

}  // namespace
}  // namespace tollgate::oidc
