#include "tollgate/filters/openid_connect/settings.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "../../config/config_test_support.hpp"
#include "jose_test_support.hpp"
#include "process.hpp"
#include "tollgate/filters/openid_connect/factory.hpp"

namespace tollgate::filters::openid_connect {
namespace {

using config::ConfigError;
using config::test::error_of;
using config::test::read_yaml;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kMinimal =
    "introspection_endpoint: https://idp.example/oauth2/default/v1/introspect\n"
    "client_id: gateway\n"
    "client_secret: s3cret\n";

Settings parse(const std::string& yaml) {
  return parse_settings(read_yaml(yaml));
}
ConfigError error_for(const std::string& yaml) {
  return error_of([&] { parse(yaml); });
}

TEST(SettingsTest, DefaultsFromAMinimalConfig) {
  const Settings s = parse(kMinimal);
  EXPECT_EQ(s.idp.endpoint, "https://idp.example/oauth2/default/v1/introspect");
  EXPECT_EQ(s.idp.auth_method, oidc::ClientAuthMethod::client_secret_basic);
  EXPECT_EQ(s.idp.token_type_hint, "access_token");
  EXPECT_EQ(s.idp.timeout, seconds(5));
  EXPECT_TRUE(s.idp.ssl_verify);
  EXPECT_EQ(s.idp.max_connections, 64u);
  EXPECT_EQ(parse(kMinimal + "introspection_max_connections: 2\n").idp.max_connections, 2u);
  EXPECT_TRUE(s.cache_introspection);
  EXPECT_EQ(s.cache.ttl, seconds(300));
  EXPECT_EQ(s.cache.ttl_negative, seconds(10));
  EXPECT_EQ(s.cache.leeway, seconds(5));
  EXPECT_EQ(s.cache.max_entries, 100'000u);
  EXPECT_FALSE(s.cache.ttl_max.has_value());
  EXPECT_TRUE(s.token_locations.header);
  EXPECT_FALSE(s.token_locations.query);
  EXPECT_FALSE(s.token_locations.cookie);
  EXPECT_EQ(s.policy.scopes_claim, std::vector<std::string>{"scope"});
  EXPECT_EQ(s.policy.audience_claim, std::vector<std::string>{"aud"});
  EXPECT_EQ(s.policy.groups_claim, std::vector<std::string>{"groups"});
  EXPECT_TRUE(s.policy.scopes_required.empty());
  EXPECT_FALSE(s.hide_credentials);
  EXPECT_EQ(s.realm, "tollgate");
  EXPECT_EQ(s.unauthorized_message, "Unauthorized");
  EXPECT_EQ(s.forbidden_message, "Forbidden");
}

TEST(SettingsTest, EveryKongFieldIsRead) {
  const Settings s = parse(
      "issuer: https://idp.example/oauth2/default\n"
      "auth_methods: [ introspection ]\n"
      "introspection_endpoint: https://idp.example/oauth2/default/v1/introspect\n"
      "introspection_endpoint_auth_method: client_secret_post\n"
      "client_id: [ gateway ]\n"
      "client_secret: [ s3cret ]\n"
      "introspect_jwt_tokens: true\n"
      "introspection_hint: refresh_token\n"
      "introspection_headers_names: [ X-Tenant ]\n"
      "introspection_headers_values: [ acme ]\n"
      "introspection_post_args_names: [ resource ]\n"
      "introspection_post_args_values: [ api ]\n"
      "cache_introspection: false\n"
      "cache_ttl: 120s\n"
      "cache_ttl_max: 60s\n"
      "cache_ttl_min: 5s\n"
      "cache_ttl_neg: 2s\n"
      "cache_size: 500\n"
      "bearer_token_param_type: [ header, query, cookie ]\n"
      "bearer_token_cookie_name: at\n"
      "scopes_required: [ \"orders:read orders:write\", admin ]\n"
      "scopes_claim: [ scp ]\n"
      "audience_required: [ api://default ]\n"
      "audience_claim: [ audience ]\n"
      "groups_required: [ ops ]\n"
      "groups_claim: [ realm_access, roles ]\n"
      "issuers_allowed: [ https://idp.example/oauth2/default ]\n"
      "upstream_access_token_header: authorization:bearer\n"
      "upstream_introspection_header: X-Introspection\n"
      "upstream_headers_claims: [ sub, address.country ]\n"
      "upstream_headers_names: [ X-User, X-Country ]\n"
      "hide_credentials: false\n"
      "unauthorized_error_message: Go away\n"
      "forbidden_error_message: Not you\n"
      "timeout: 1500ms\n"
      "ssl_verify: false\n"
      "ca_file: \"\"\n"
      "realm: orders\n"
      "leeway: 30s\n");
  EXPECT_EQ(s.idp.issuer, "https://idp.example/oauth2/default");
  EXPECT_EQ(s.idp.auth_method, oidc::ClientAuthMethod::client_secret_post);
  EXPECT_EQ(s.idp.client_id, "gateway");
  EXPECT_EQ(s.idp.client_secret, "s3cret");
  EXPECT_EQ(s.idp.token_type_hint, "refresh_token");
  ASSERT_EQ(s.idp.extra_headers.size(), 1u);
  EXPECT_EQ(s.idp.extra_headers[0], (std::pair<std::string, std::string>{"X-Tenant", "acme"}));
  ASSERT_EQ(s.idp.extra_post_args.size(), 1u);
  EXPECT_EQ(s.idp.extra_post_args[0], (std::pair<std::string, std::string>{"resource", "api"}));
  EXPECT_FALSE(s.cache_introspection);
  EXPECT_EQ(s.cache.ttl, seconds(120));
  EXPECT_EQ(s.cache.ttl_max, seconds(60));
  EXPECT_EQ(s.cache.ttl_min, seconds(5));
  EXPECT_EQ(s.cache.ttl_negative, seconds(2));
  EXPECT_EQ(s.cache.max_entries, 500u);
  EXPECT_EQ(s.cache.leeway, seconds(30));
  EXPECT_EQ(s.policy.leeway, seconds(30));
  EXPECT_TRUE(s.token_locations.header && s.token_locations.query && s.token_locations.cookie);
  EXPECT_EQ(s.token_locations.cookie_name, "at");
  EXPECT_EQ(s.policy.scopes_required.first_alternative(), "orders:read orders:write");
  EXPECT_EQ(s.policy.scopes_claim, std::vector<std::string>{"scp"});
  EXPECT_EQ(s.policy.groups_claim, (std::vector<std::string>{"realm_access", "roles"}));
  EXPECT_EQ(s.policy.issuers_allowed.size(), 1u);
  EXPECT_EQ(s.upstream_headers.access_token_header, "authorization");
  EXPECT_EQ(s.upstream_headers.access_token_prefix, "bearer");
  EXPECT_EQ(s.upstream_headers.introspection_header, "X-Introspection");
  ASSERT_EQ(s.upstream_headers.claim_headers.size(), 2u);
  EXPECT_EQ(s.upstream_headers.claim_headers[1].claim_path,
            std::vector<std::string>{"address.country"});
  EXPECT_EQ(s.upstream_headers.claim_headers[1].header, "X-Country");
  EXPECT_EQ(s.unauthorized_message, "Go away");
  EXPECT_EQ(s.forbidden_message, "Not you");
  EXPECT_EQ(s.idp.timeout, milliseconds(1500));
  EXPECT_FALSE(s.idp.ssl_verify);
  EXPECT_EQ(s.realm, "orders");
}

TEST(SettingsTest, IssuerAloneIsEnoughForDiscovery) {
  const Settings s = parse("issuer: https://idp.example\nclient_id: a\nclient_secret: b\n");
  EXPECT_TRUE(s.idp.endpoint.empty());
  EXPECT_EQ(s.idp.issuer, "https://idp.example");
}

// As in Kong, issuers_allowed defaults to the issuer: a token another issuer vouches for is not
// one this route accepts, whichever endpoint was asked.
TEST(SettingsTest, IssuersAllowedDefaultsToTheIssuer) {
  const Settings discovered =
      parse("issuer: https://idp.example\nclient_id: a\nclient_secret: b\n");
  EXPECT_EQ(discovered.policy.issuers_allowed, std::vector<std::string>{"https://idp.example"});
  const Settings both = parse(kMinimal + "issuer: https://idp.example/oauth2/default\n");
  EXPECT_EQ(both.policy.issuers_allowed,
            std::vector<std::string>{"https://idp.example/oauth2/default"});
  const Settings listed = parse(kMinimal +
                                "issuer: https://idp.example/oauth2/default\n"
                                "issuers_allowed: [ https://a.example, https://b.example ]\n");
  EXPECT_EQ(listed.policy.issuers_allowed,
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
  const Settings single = parse(kMinimal + "issuers_allowed: https://a.example\n");
  EXPECT_EQ(single.policy.issuers_allowed, std::vector<std::string>{"https://a.example"});
  EXPECT_TRUE(parse(kMinimal).policy.issuers_allowed.empty());  // no issuer named: any
}

TEST(SettingsTest, UnknownKeyIsPositionedWithASuggestion) {
  const ConfigError e = error_for(kMinimal + "cache_tll: 60s\n");
  EXPECT_EQ(e.key_path, "cache_tll");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 1);
  EXPECT_NE(e.message.find("did you mean \"cache_ttl\""), std::string::npos) << e.message;
  EXPECT_NE(e.to_string().find("test.yaml:4:1: cache_tll"), std::string::npos) << e.to_string();
}

TEST(SettingsTest, SkippingJwtIntrospectionNeedsLocalVerification) {
  const ConfigError e = error_for(kMinimal + "introspect_jwt_tokens: false\n");
  EXPECT_EQ(e.key_path, "introspect_jwt_tokens");
  EXPECT_NE(e.message.find("needs bearer in auth_methods"), std::string::npos) << e.message;
}

TEST(SettingsTest, OtherAuthMethodsAreNotSupportedYet) {
  ConfigError e = error_for(kMinimal + "auth_methods: [ introspection, session ]\n");
  EXPECT_EQ(e.key_path, "auth_methods[1]");
  EXPECT_NE(e.message.find("\"session\" is not supported yet"), std::string::npos) << e.message;
  e = error_for(kMinimal + "auth_methods: [ introspect ]\n");
  EXPECT_NE(e.message.find("did you mean \"introspection\""), std::string::npos) << e.message;
}

TEST(SettingsTest, BearerAloneNeedsOnlyTheIssuer) {
  const Settings s = parse(
      "auth_methods: [ bearer ]\n"
      "issuer: https://idp.example/oauth2/default\n");
  EXPECT_TRUE(s.bearer);
  EXPECT_FALSE(s.introspection);
  EXPECT_FALSE(s.introspect_jwt_tokens);
  EXPECT_EQ(s.jwks.issuer, "https://idp.example/oauth2/default");
  EXPECT_TRUE(s.jwks.jwks_uri.empty());
  EXPECT_EQ(s.jwks.min_refresh_interval, seconds(30));
  EXPECT_EQ(s.jwt.issuers, std::vector<std::string>{"https://idp.example/oauth2/default"});
  EXPECT_EQ(s.jwt.leeway, seconds(5));
  EXPECT_TRUE(s.jwt.hs_secret.empty());
}

TEST(SettingsTest, BearerWithIntrospectionReadsItsFields) {
  const Settings s = parse(kMinimal +
                           "auth_methods: [ bearer, introspection ]\n"
                           "issuers_allowed: [ https://idp.example/oauth2/default ]\n"
                           "jwks_endpoint: https://idp.example/oauth2/default/v1/keys\n"
                           "rediscovery_lifetime: 5s\n"
                           "introspect_jwt_tokens: true\n"
                           "leeway: 2s\n");
  EXPECT_TRUE(s.bearer);
  EXPECT_TRUE(s.introspection);
  EXPECT_TRUE(s.introspect_jwt_tokens);
  EXPECT_EQ(s.jwks.jwks_uri, "https://idp.example/oauth2/default/v1/keys");
  EXPECT_EQ(s.jwks.min_refresh_interval, seconds(5));
  EXPECT_EQ(s.jwt.leeway, seconds(2));
}

TEST(SettingsTest, BearerNeedsToKnowWhereKeysAndIssuersAre) {
  ConfigError e = error_for("auth_methods: [ bearer ]\n");
  EXPECT_EQ(e.key_path, "jwks_endpoint");
  e = error_for("auth_methods: [ bearer ]\njwks_endpoint: https://idp.example/keys\n");
  EXPECT_EQ(e.key_path, "issuers_allowed");
  e = error_for(
      "auth_methods: [ bearer ]\nissuer: https://idp.example\nintrospect_jwt_tokens: true\n");
  EXPECT_EQ(e.key_path, "introspect_jwt_tokens");
  e = error_for(
      "auth_methods: [ bearer ]\nissuer: https://idp.example\nrediscovery_lifetime: 0s\n");
  EXPECT_EQ(e.key_path, "rediscovery_lifetime");
}

TEST(SettingsTest, HsSignaturesNeedALongClientSecret) {
  const std::string bearer =
      "auth_methods: [ bearer ]\nissuer: https://idp.example\nenable_hs_signatures: true\n";
  ConfigError e = error_for(bearer + "client_secret: short\n");
  EXPECT_EQ(e.key_path, "enable_hs_signatures");
  const std::string secret(32, 'k');
  EXPECT_EQ(parse(bearer + "client_secret: " + secret + "\n").jwt.hs_secret, secret);
  EXPECT_TRUE(parse("auth_methods: [ bearer ]\nissuer: https://idp.example\nclient_secret: " +
                    secret + "\n")
                  .jwt.hs_secret.empty());
}

TEST(SettingsTest, UnknownEndpointAuthMethodIsRefused) {
  const ConfigError e = error_for(kMinimal + "introspection_endpoint_auth_method: mutual_tls\n");
  EXPECT_EQ(e.key_path, "introspection_endpoint_auth_method");
}

const std::string kEndpointOnly =
    "introspection_endpoint: https://idp.example/oauth2/default/v1/introspect\n"
    "client_id: gateway\n";

TEST(SettingsTest, PrivateKeyJwtTakesAPemFile) {
  const jose::PublicKey key = jose::test::generate_key("RSA");
  const test::TempDir dir;
  const std::string path = dir.write("client.pem", jose::test::private_pem(key.get()));
  const Settings s = parse(kEndpointOnly +
                           "introspection_endpoint_auth_method: private_key_jwt\n"
                           "client_key_file: " +
                           path + "\n");
  EXPECT_EQ(s.idp.auth_method, oidc::ClientAuthMethod::private_key_jwt);
  EXPECT_EQ(s.idp.assertion_key.alg, jose::Algorithm::RS256);
  EXPECT_EQ(EVP_PKEY_eq(s.idp.assertion_key.private_key.get(), key.get()), 1);
  EXPECT_TRUE(s.idp.client_secret.empty());

  const ConfigError e = error_for(kEndpointOnly +
                                  "introspection_endpoint_auth_method: private_key_jwt\n"
                                  "client_key_file: " +
                                  dir.write("empty.pem", "") + "\n");
  EXPECT_EQ(e.key_path, "client_key_file");
}

TEST(SettingsTest, PrivateKeyJwtTakesAPrivateJwkWithItsAlgorithm) {
  const jose::PublicKey key = jose::test::generate_key("P-256");
  const std::string jwk = jose::test::private_jwk(key.get(), "k1").dump();
  const Settings s = parse(kEndpointOnly +
                           "introspection_endpoint_auth_method: private_key_jwt\n"
                           "client_alg: ES256\n"
                           "client_jwk: '" +
                           jwk + "'\n");
  EXPECT_EQ(s.idp.assertion_key.alg, jose::Algorithm::ES256);
  EXPECT_EQ(s.idp.assertion_key.kid, "k1");
  // The same key as a YAML map, as Kong's one-element list of JWKs.
  const Settings from_map = parse(kEndpointOnly +
                                  "introspection_endpoint_auth_method: private_key_jwt\n"
                                  "client_alg: ES256\n"
                                  "client_jwk:\n  - " +
                                  jwk + "\n");
  EXPECT_EQ(EVP_PKEY_eq(from_map.idp.assertion_key.private_key.get(), key.get()), 1);

  ConfigError e = error_for(kEndpointOnly +
                            "introspection_endpoint_auth_method: private_key_jwt\n"
                            "client_jwk: '" +
                            jwk + "'\n");  // RS256 by default: not with an EC key
  EXPECT_EQ(e.key_path, "client_alg");
  e = error_for(kEndpointOnly + "introspection_endpoint_auth_method: private_key_jwt\n");
  EXPECT_NE(e.message.find("exactly one of client_jwk and client_key_file"), std::string::npos)
      << e.message;
  e = error_for(kEndpointOnly +
                "introspection_endpoint_auth_method: private_key_jwt\n"
                "client_jwk: '" +
                jose::public_jwk(key.get(), "k1").dump() + "'\n");
  EXPECT_EQ(e.key_path, "client_jwk");
}

TEST(SettingsTest, ClientSecretJwtNeedsALongSecret) {
  const Settings s = parse(kEndpointOnly +
                           "introspection_endpoint_auth_method: client_secret_jwt\n"
                           "client_secret: " +
                           std::string(40, 's') + "\n");
  EXPECT_EQ(s.idp.assertion_key.alg, jose::Algorithm::HS256);
  EXPECT_EQ(s.idp.assertion_key.secret, std::string(40, 's'));
  const ConfigError e =
      error_for(kMinimal + "introspection_endpoint_auth_method: client_secret_jwt\n");
  EXPECT_EQ(e.key_path, "client_secret");
}

TEST(SettingsTest, SignedIntrospectionAnswersNeedTheIssuersKeys) {
  const Settings s = parse(
      "issuer: https://idp.example/oauth2/default\n"
      "client_id: gateway\nclient_secret: s3cret\n"
      "introspection_accept: application/token-introspection+jwt\n");
  EXPECT_TRUE(s.idp.signed_answers);
  EXPECT_FALSE(s.bearer);
  EXPECT_EQ(s.jwks.issuer, "https://idp.example/oauth2/default");
  EXPECT_FALSE(parse(kMinimal).idp.signed_answers);
  ConfigError e =
      error_for(kMinimal + "introspection_accept: application/token-introspection+jwt\n");
  EXPECT_EQ(e.key_path, "introspection_accept");
  e = error_for(kMinimal + "introspection_accept: text/html\n");
  EXPECT_EQ(e.key_path, "introspection_accept");
}

TEST(SettingsTest, TlsClientAuthNeedsItsCertificateAndKey) {
  const ConfigError e =
      error_for(kEndpointOnly + "introspection_endpoint_auth_method: tls_client_auth\n");
  EXPECT_EQ(e.key_path, "tls_client_auth_cert_file");
  const Settings s = parse(kEndpointOnly +
                           "introspection_endpoint_auth_method: tls_client_auth\n"
                           "tls_client_auth_cert_file: /etc/tollgate/client.crt\n"
                           "tls_client_auth_key_file: /etc/tollgate/client.key\n");
  EXPECT_EQ(s.idp.auth_method, oidc::ClientAuthMethod::tls_client_auth);
  EXPECT_EQ(s.idp.tls_client_cert_file, "/etc/tollgate/client.crt");
}

TEST(SettingsTest, ClaimsAndHeaderNamesMustPairUp) {
  const ConfigError e = error_for(kMinimal +
                                  "upstream_headers_claims: [ sub, scope, email ]\n"
                                  "upstream_headers_names: [ X-User, X-Scope ]\n");
  EXPECT_EQ(e.key_path, "upstream_headers_names");
  EXPECT_NE(e.message.find("2 header names for 3 claims"), std::string::npos) << e.message;
}

TEST(SettingsTest, HeaderNamesAndValuesMustPairUp) {
  const ConfigError e = error_for(kMinimal +
                                  "introspection_headers_names: [ A, B ]\n"
                                  "introspection_headers_values: [ a ]\n");
  EXPECT_EQ(e.key_path, "introspection_headers_values");
}

TEST(SettingsTest, CredentialsAreRequired) {
  EXPECT_EQ(error_for("introspection_endpoint: https://idp/x\nclient_secret: s\n").key_path,
            "client_id");
  EXPECT_EQ(error_for("introspection_endpoint: https://idp/x\nclient_id: c\n").key_path,
            "client_secret");
  EXPECT_EQ(error_for(kMinimal + "client_id: [ a, b ]\n").message.empty(), false);
  EXPECT_EQ(error_for("introspection_endpoint: https://idp/x\nclient_id: \"\"\nclient_secret: s\n")
                .key_path,
            "client_id");
}

TEST(SettingsTest, AnEndpointOrAnIssuerIsRequired) {
  const ConfigError e = error_for("client_id: a\nclient_secret: b\n");
  EXPECT_EQ(e.key_path, "introspection_endpoint");
  EXPECT_NE(e.message.find("issuer"), std::string::npos);
}

TEST(SettingsTest, EndpointsMustBeHttpUrls) {
  EXPECT_EQ(
      error_for("introspection_endpoint: ftp://idp/x\nclient_id: a\nclient_secret: b\n").key_path,
      "introspection_endpoint");
  EXPECT_EQ(error_for("issuer: idp.example\nclient_id: a\nclient_secret: b\n").key_path, "issuer");
  EXPECT_EQ(error_for("introspection_endpoint: https://u:p@idp/x\nclient_id: a\nclient_secret: b\n")
                .key_path,
            "introspection_endpoint");
}

TEST(SettingsTest, BareNumberTimeoutIsAmbiguous) {
  const ConfigError e = error_for(kMinimal + "timeout: 10000\n");
  EXPECT_EQ(e.key_path, "timeout");
  EXPECT_NE(e.message.find("milliseconds"), std::string::npos);
  EXPECT_EQ(error_for(kMinimal + "timeout: 0s\n").key_path, "timeout");
}

TEST(SettingsTest, EveryKongTokenPlaceIsAccepted) {
  const Settings s = parse(kMinimal +
                           "bearer_token_param_type: [ header, query, body, cookie ]\n"
                           "bearer_token_cookie_name: at\n");
  EXPECT_TRUE(s.token_locations.header);
  EXPECT_TRUE(s.token_locations.query);
  EXPECT_TRUE(s.token_locations.body);
  EXPECT_TRUE(s.token_locations.cookie);
  EXPECT_FALSE(parse(kMinimal).token_locations.body);
}

TEST(SettingsTest, CookieNeedsItsName) {
  EXPECT_EQ(error_for(kMinimal + "bearer_token_param_type: [ cookie ]\n").key_path,
            "bearer_token_cookie_name");
}

TEST(SettingsTest, QueryAndBodyTokensCanBeHidden) {
  const Settings s = parse(kMinimal +
                           "bearer_token_param_type: [ header, query, body ]\n"
                           "hide_credentials: true\n");
  EXPECT_TRUE(s.hide_credentials);
}

TEST(SettingsTest, PreflightsRunThePluginUnlessTurnedOff) {
  EXPECT_TRUE(parse(kMinimal).run_on_preflight);
  EXPECT_FALSE(parse(kMinimal + "run_on_preflight: false\n").run_on_preflight);
}

TEST(SettingsTest, ResurrectIsOffUnlessGivenADuration) {
  EXPECT_EQ(parse(kMinimal).cache.resurrect, std::chrono::milliseconds(0));
  EXPECT_EQ(parse(kMinimal + "cache_ttl_resurrect: 2m\n").cache.resurrect, std::chrono::minutes(2));
  EXPECT_EQ(error_for(kMinimal + "cache_ttl_resurrect: 25h\n").key_path, "cache_ttl_resurrect");
}

TEST(SettingsTest, ClientCredentialsCannotBeAddedTwice) {
  EXPECT_EQ(error_for(kMinimal + "introspection_headers_names: [ Authorization ]\n"
                                 "introspection_headers_values: [ Basic eA== ]\n")
                .key_path,
            "introspection_headers_names[0]");
  EXPECT_EQ(error_for(kMinimal + "introspection_post_args_names: [ client_secret ]\n"
                                 "introspection_post_args_values: [ x ]\n")
                .key_path,
            "introspection_post_args_names[0]");
}

TEST(SettingsTest, UpstreamHeaderNamesAreCheckedAndUnique) {
  EXPECT_EQ(error_for(kMinimal + "upstream_headers_claims: [ sub ]\n"
                                 "upstream_headers_names: [ \"X User\" ]\n")
                .key_path,
            "upstream_headers_names[0]");
  EXPECT_EQ(error_for(kMinimal + "upstream_headers_claims: [ sub ]\n"
                                 "upstream_headers_names: [ Connection ]\n")
                .key_path,
            "upstream_headers_names[0]");
  EXPECT_EQ(error_for(kMinimal + "upstream_introspection_header: Transfer-Encoding\n").key_path,
            "upstream_introspection_header");
  // The gateway's own, in any spelling an upstream may read as it: it would arrive twice.
  for (const char* name : {"X-Request-Id", "traceparent", "Via", "x_forwarded_for"}) {
    const auto e = error_for(kMinimal +
                             "upstream_headers_claims: [ sub ]\n"
                             "upstream_headers_names: [ " +
                             name + " ]\n");
    EXPECT_EQ(e.key_path, "upstream_headers_names[0]") << name;
    EXPECT_NE(e.message.find("set by the gateway"), std::string::npos) << e.message;
  }
  EXPECT_NE(error_for(kMinimal + "upstream_headers_claims: [ sub, email ]\n"
                                 "upstream_headers_names: [ X-User, x-user ]\n")
                .message.find("configured twice"),
            std::string::npos);
}

TEST(SettingsTest, CacheBoundsMustBeConsistent) {
  EXPECT_EQ(error_for(kMinimal + "cache_ttl_min: 60s\ncache_ttl_max: 30s\n").key_path,
            "cache_ttl_min");
  EXPECT_EQ(error_for(kMinimal + "cache_size: 0\n").key_path, "cache_size");
  EXPECT_EQ(error_for(kMinimal + "cache_ttl: \"5 minutes\"\n").key_path, "cache_ttl");
}

TEST(SettingsTest, RequiredListsHaveNoEmptyEntries) {
  EXPECT_EQ(error_for(kMinimal + "scopes_required: [ \"\" ]\n").key_path, "scopes_required[0]");
}

TEST(MakeFilterTest, UnreadableCaFileIsAConfigError) {
  const ConfigError e = error_of(
      [] { parse_plugin_settings(read_yaml(kMinimal + "ca_file: /nonexistent/ca.pem\n")); });
  EXPECT_EQ(e.key_path, "ca_file");
}

TEST(MakeFilterTest, ValidConfigBuildsAFilter) {
  const auto settings = parse_plugin_settings(read_yaml(kMinimal));
  ASSERT_NE(settings, nullptr);
  EXPECT_NE(make_filter(*settings, "okta"), nullptr);
}

// The gateway removes every header the plugin sets from every request: it must know them all.
TEST(MakeFilterTest, SettingsNameEveryHeaderThePluginSets) {
  const auto settings = parse_plugin_settings(
      read_yaml(kMinimal + "upstream_headers_claims: [ sub ]\n"
                           "upstream_headers_names: [ X-User ]\n"
                           "upstream_access_token_header: X-Token\n"
                           "upstream_introspection_header: X-Introspection\n"));
  std::vector<std::string> names = settings->request_headers_set();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"X-Introspection", "X-Token", "X-User"}));
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
