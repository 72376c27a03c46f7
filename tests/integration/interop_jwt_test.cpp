// tollgate's JWT features against an identity provider nobody here wrote, the npm `oidc-provider`
// (tests/interop/oidc-provider-server.mjs): JWT access tokens for a resource indicator validated
// locally, introspection by clients that authenticate with private_key_jwt and client_secret_jwt,
// RFC 9701 signed introspection answers, and signing keys the IdP rotates.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "jose_test_support.hpp"
#include "oidc_provider.hpp"
#include "services.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using namespace std::chrono_literals;

// The two APIs oidc-provider-server.mjs issues JWTs for, both with the scope orders:read.
const std::string kOrders = "https://orders.example.test";
const std::string kBilling = "https://billing.example.test";
// gateway-hs's secret at the IdP.
const std::string kHsSecret = "gateway-hs-secret-of-at-least-32-bytes";
const std::string kSignedAnswers =
    "      introspection_accept: application/token-introspection+jwt\n";
const std::string kUncached = "      cache_introspection: false\n";

// One openid-connect plugin on the provider's issuer, with the claim headers every test reads;
// `lines` are its further config lines.
std::string plugin(const std::string& name, const OidcProvider& idp, const std::string& lines) {
  return "  " + name +
         ":\n"
         "    name: openid-connect\n"
         "    config:\n"
         "      issuer: " +
         idp.issuer() +
         "\n"
         "      timeout: 2s\n"
         "      rediscovery_lifetime: 100ms\n"
         "      upstream_headers_claims: [ client_id, scope, aud ]\n"
         "      upstream_headers_names: [ X-Client, X-Scope, X-Audience ]\n" +
         lines;
}

std::string client(const std::string& id, const std::string& secret = "") {
  std::string lines = "      client_id: " + id + "\n";
  if (!secret.empty()) lines += "      client_secret: " + secret + "\n";
  return lines;
}

std::string route(const std::string& name) {
  return "  - { name: " + name + ", match: { paths: [ /" + name + " ] }, upstream: echo, " +
         "plugins: [ " + name + " ] }\n";
}

// The protected header of a compact JWS.
json header_of(const std::string& jws) {
  return json::parse(*base64url_decode(jws.substr(0, jws.find('.'))));
}

// The gateway's key pairs for private_key_jwt, as an operator makes them: the private halves for
// tollgate's config, the public ones registered with the IdP (--gateway-jwks). An EC key as a
// private JWK with kid and alg (as Okta's console hands one out), an RSA key as a PEM file, and a
// stranger the IdP has never seen.
struct GatewayKeys {
  explicit GatewayKeys(const TempDir& dir) {
    json ec_public = jose::public_jwk(ec.get(), "gateway-es256");
    ec_public["alg"] = "ES256";
    json ec_private = jose::test::private_jwk(ec.get(), "gateway-es256");
    ec_private["alg"] = "ES256";
    ec_jwk = ec_private.dump();
    const json registered = {{"keys", {ec_public, jose::public_jwk(rsa.get(), "")}}};
    jwks_file = dir.write("gateway-jwks.json", registered.dump());
    rsa_pem_file = dir.write("gateway-rs256.pem", jose::test::private_pem(rsa.get()));
    stranger_pem_file = dir.write("stranger.pem", jose::test::private_pem(stranger.get()));
  }

  jose::PublicKey ec = jose::test::generate_key("P-256");
  jose::PublicKey rsa = jose::test::generate_key("RSA");
  jose::PublicKey stranger = jose::test::generate_key("RSA");
  std::string ec_jwk;
  std::string jwks_file;
  std::string rsa_pem_file;
  std::string stranger_pem_file;
};

class InteropJwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provider_ = start_oidc_provider({"--gateway-jwks", keys_.jwks_file});
    echo_ = start_echo_server();
    const std::string private_key_jwt =
        "      introspection_endpoint_auth_method: private_key_jwt\n" + client("gateway-jwt");
    const std::string client_secret_jwt =
        "      introspection_endpoint_auth_method: client_secret_jwt\n";
    gateway_ = start_tollgate(basic_config(
        "upstreams:\n"
        "  echo: { targets: [ " +
        echo_.url() +
        " ] }\n"
        "plugins:\n" +
        plugin("local", provider_,
               "      auth_methods: [ bearer ]\n"
               "      scopes_required: [ \"orders:read\" ]\n"
               "      audience_required: [ \"" +
                   kOrders + "\" ]\n") +
        plugin("revocable", provider_,
               "      auth_methods: [ bearer, introspection ]\n"
               "      introspect_jwt_tokens: true\n" +
                   client("gateway", "gateway-secret") + kUncached) +
        plugin("key_jwk", provider_,
               private_key_jwt + "      client_jwk: '" + keys_.ec_jwk + "'\n" + kUncached) +
        plugin(
            "key_pem", provider_,
            private_key_jwt + "      client_key_file: " + keys_.rsa_pem_file + "\n" + kUncached) +
        plugin("key_stranger", provider_,
               private_key_jwt + "      client_key_file: " + keys_.stranger_pem_file + "\n" +
                   kUncached) +
        plugin("secret_jwt", provider_,
               client_secret_jwt + client("gateway-hs", kHsSecret) + kUncached) +
        plugin("secret_jwt_wrong", provider_,
               client_secret_jwt + client("gateway-hs", "not-the-secret-but-just-as-long-as-it") +
                   kUncached) +
        plugin("signed", provider_,
               kSignedAnswers + client("gateway-signed", "gateway-secret") + kUncached) +
        "routes:\n" + route("local") + route("revocable") + route("key_jwk") + route("key_pem") +
        route("key_stranger") + route("secret_jwt") + route("secret_jwt_wrong") + route("signed")));
    // Every plugin but local introspects; local, revocable and signed hold the keys.
    gateway_.process->wait_for_count("introspection endpoint .* discovered", 7);
    gateway_.process->wait_for_count("signing keys from", 3);
  }

  Response call(const std::string& path, const std::string& token) {
    return http_get(gateway_.port(), path, {{"Authorization", "Bearer " + token}});
  }
  static std::string challenge(const Response& r) {
    return std::string(r[http::field::www_authenticate]);
  }
  int introspect_calls() { return oidc_provider_stat(provider_.port, "introspect_calls"); }
  int jwks_calls() { return oidc_provider_stat(provider_.port, "jwks_calls"); }

  // An active token passes with its claims, a revoked one is 401: both answers came from the IdP,
  // which took the client's authentication each time.
  void expect_introspects(const std::string& path) {
    SCOPED_TRACE(path);
    const std::string token = oidc_provider_token(provider_.port);
    const int before = introspect_calls();
    auto r = call(path, token);
    ASSERT_EQ(r.result_int(), 200) << r.body();
    EXPECT_EQ(json::parse(r.body())["headers"]["x-client"], "app");
    ASSERT_EQ(revoke_at_oidc_provider(provider_.port, token).result_int(), 200);
    EXPECT_EQ(call(path, token).result_int(), 401);
    EXPECT_EQ(introspect_calls(), before + 2);
  }

  TempDir dir_;
  GatewayKeys keys_{dir_};
  OidcProvider provider_;
  EchoServer echo_;
  Tollgate gateway_;
};

// ---- JWT access tokens (resource indicators) ----------------------------------------------------

TEST_F(InteropJwtTest, AJwtAccessTokenIsValidatedLocallyWithClaimHeaders) {
  const std::string token = oidc_provider_token(provider_.port, kOrders);
  EXPECT_EQ(header_of(token)["typ"], "at+jwt");
  const int before = introspect_calls();
  for (int i = 0; i < 3; ++i) {
    auto r = call("/local", token);
    ASSERT_EQ(r.result_int(), 200) << r.body();
    auto h = json::parse(r.body())["headers"];
    EXPECT_EQ(h["x-client"], "app");
    EXPECT_EQ(h["x-scope"], "orders:read");
    EXPECT_EQ(h["x-audience"], kOrders);
  }
  EXPECT_EQ(introspect_calls(), before);
}

TEST_F(InteropJwtTest, AJwtForAnotherApiIs403) {
  // The same scope, another audience: only audience_required tells the two tokens apart.
  auto r = call("/local", oidc_provider_token(provider_.port, kBilling));
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_NE(challenge(r).find("insufficient_scope"), std::string::npos) << challenge(r);
}

TEST_F(InteropJwtTest, AnOpaqueTokenOnABearerOnlyRouteIs401) {
  const int before = introspect_calls();
  auto r = call("/local", oidc_provider_token(provider_.port));
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_NE(challenge(r).find("invalid_token"), std::string::npos) << challenge(r);
  EXPECT_EQ(introspect_calls(), before);
}

// oidc-provider neither revokes nor introspects a JWT access token: both endpoints answer 400
// unsupported_token_type. So introspect_jwt_tokens cannot see a revoked JWT there; the gateway
// takes the refusal for an IdP failure, 503, never a pass. Local validation alone still passes.
TEST_F(InteropJwtTest, OidcProviderCannotIntrospectAJwtSoIntrospectJwtTokensIs503) {
  const std::string token = oidc_provider_token(provider_.port, kOrders);
  auto revoked = revoke_at_oidc_provider(provider_.port, token);
  EXPECT_EQ(revoked.result_int(), 400);
  EXPECT_EQ(json::parse(revoked.body())["error"], "unsupported_token_type");
  auto asked = form_post(provider_.port, "/token/introspection", "token=" + token, "gateway",
                         "gateway-secret");
  EXPECT_EQ(asked.result_int(), 400);
  EXPECT_EQ(json::parse(asked.body())["error"], "unsupported_token_type");

  const int before = introspect_calls();
  EXPECT_EQ(call("/revocable", token).result_int(), 503);
  EXPECT_EQ(introspect_calls(), before + 1);
  EXPECT_EQ(call("/local", token).result_int(), 200);
}

TEST_F(InteropJwtTest, BesideJwtsOpaqueTokensAreIntrospectedAndTheirRevocationSeen) {
  expect_introspects("/revocable");
}

// ---- Client authentication with a JWT -----------------------------------------------------------

TEST_F(InteropJwtTest, PrivateKeyJwtFromAJwkOrAPemFileIntrospects) {
  expect_introspects("/key_jwk");
  expect_introspects("/key_pem");
}

TEST_F(InteropJwtTest, ClientSecretJwtIntrospects) {
  expect_introspects("/secret_jwt");
}

// The IdP answers 401 invalid_client to an assertion signed with a key or secret it does not know:
// for the gateway that is an IdP failure, 503, as for any introspection call that is not answered.
TEST_F(InteropJwtTest, AnAssertionTheIdpRefusesIs503) {
  const std::string token = oidc_provider_token(provider_.port);
  for (const std::string name : {"key_stranger", "secret_jwt_wrong"}) {
    EXPECT_EQ(call("/" + name, token).result_int(), 503) << name;
    gateway_.process->wait_for_line("introspection route=" + name +
                                    " .*outcome=error:http_status 401");
  }
}

// ---- Signed introspection answers (RFC 9701) ----------------------------------------------------

TEST_F(InteropJwtTest, ASignedAnswerIsVerifiedAndItsClaimsReachTheUpstream) {
  const std::string token = oidc_provider_token(provider_.port);
  // What oidc-provider answers this client when asked for a signed answer.
  auto direct =
      form_post(provider_.port, "/token/introspection", "token=" + token, "gateway-signed",
                "gateway-secret", {{"Accept", "application/token-introspection+jwt"}});
  ASSERT_EQ(direct.result_int(), 200) << direct.body();
  EXPECT_EQ(std::string(direct[http::field::content_type])
                .rfind("application/token-introspection+jwt", 0),
            0u);
  EXPECT_EQ(header_of(direct.body())["typ"], "token-introspection+jwt");

  auto r = call("/signed", token);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  auto h = json::parse(r.body())["headers"];
  EXPECT_EQ(h["x-client"], "app");
  EXPECT_EQ(h["x-scope"], "orders:read");
  ASSERT_EQ(revoke_at_oidc_provider(provider_.port, token).result_int(), 200);
  EXPECT_EQ(call("/signed", token).result_int(), 401);
}

// ---- Key rotation at the IdP --------------------------------------------------------------------
// The documented refresh rules: a kid the gateway does not hold makes it fetch the JWKS, at most
// once per rediscovery_lifetime (100ms here); the keys are also fetched every 10 minutes. Within
// rediscovery_lifetime of the last fetch a token with a new kid is refused without a fetch, so the
// first call after a rotation is repeated until it passes, then the fetches are counted.

TEST_F(InteropJwtTest, ANewKidIsFetchedOnceAndARetiredKeyRefusedAfterTheNextFetch) {
  const std::string old_token = oidc_provider_token(provider_.port, kOrders);
  ASSERT_EQ(call("/local", old_token).result_int(), 200);

  // (a) A new key in front of the old one: new tokens carry its kid, both keys are published.
  const json rotated = oidc_provider_admin(provider_.port, "keys/rotate");
  const std::string new_token = oidc_provider_token(provider_.port, kOrders);
  ASSERT_EQ(header_of(new_token)["kid"], rotated["kid"]);
  ASSERT_NE(header_of(old_token)["kid"], rotated["kid"]);
  const int fetches = jwks_calls();
  EXPECT_TRUE(poll_until([&] { return call("/local", new_token).result_int() == 200; }, 5s));
  EXPECT_EQ(jwks_calls(), fetches + 1);
  EXPECT_EQ(call("/local", new_token).result_int(), 200);
  EXPECT_EQ(call("/local", old_token).result_int(), 200);
  EXPECT_EQ(jwks_calls(), fetches + 1);

  // (b) The old key removed. The gateway keeps the keys it holds until its next fetch, which a
  // token signed with a key it holds does not cause: the old token still passes.
  const json retired = oidc_provider_admin(provider_.port, "keys/retire");
  ASSERT_EQ(retired["kids"], json::array({rotated["kid"]}));
  EXPECT_EQ(call("/local", old_token).result_int(), 200);
  EXPECT_EQ(jwks_calls(), fetches + 1);

  // The next rotation brings a kid the gateway lacks; that fetch drops the removed key.
  oidc_provider_admin(provider_.port, "keys/rotate");
  const std::string newest_token = oidc_provider_token(provider_.port, kOrders);
  EXPECT_TRUE(poll_until([&] { return call("/local", newest_token).result_int() == 200; }, 5s));
  EXPECT_EQ(jwks_calls(), fetches + 2);
  auto r = call("/local", old_token);
  EXPECT_EQ(r.result_int(), 401);
  EXPECT_NE(challenge(r).find("unknown key"), std::string::npos) << challenge(r);
  EXPECT_EQ(call("/local", new_token).result_int(), 200);
}

TEST_F(InteropJwtTest, ASignedAnswerWithANewKidIsVerifiedAfterOneFetch) {
  const std::string token = oidc_provider_token(provider_.port);
  ASSERT_EQ(call("/signed", token).result_int(), 200);
  oidc_provider_admin(provider_.port, "keys/rotate");
  const int fetches = jwks_calls();
  EXPECT_TRUE(poll_until([&] { return call("/signed", token).result_int() == 200; }, 5s));
  EXPECT_EQ(jwks_calls(), fetches + 1);
}

}  // namespace
}  // namespace tollgate::test
