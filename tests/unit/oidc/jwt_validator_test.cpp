#include "tollgate/oidc/jwt_validator.hpp"

#include <gtest/gtest.h>

#include <openssl/pem.h>

#include "jose_test_support.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jws.hpp"

namespace tollgate::oidc {
namespace {

using jose::Algorithm;
using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kIssuer = "https://idp.example/oauth2/default";

class JwtValidatorTest : public ::testing::Test {
 protected:
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(1'800'000'000);
  jose::PublicKey key = jose::test::generate_key("RSA");
  jose::KeySet keys;
  JwtSettings settings;

  JwtValidatorTest() {
    auto parsed = jose::parse_jwks(jose::test::jwks_of({{key.get(), "k1"}}));
    keys = parsed->keys;
    settings.issuers = {kIssuer};
  }

  std::int64_t at(std::int64_t offset) const {
    return std::chrono::duration_cast<seconds>(now.time_since_epoch()).count() + offset;
  }
  json claims() const {
    return {{"iss", kIssuer}, {"sub", "alice"}, {"iat", at(-10)}, {"exp", at(3600)}};
  }
  std::string signed_token(const json& payload, json header = {{"kid", "k1"}},
                           Algorithm alg = Algorithm::RS256) const {
    return jose::sign_compact(std::move(header), payload.dump(), alg, key.get());
  }
  JwtRejection rejection_of(const std::string& token, const jose::KeySet* with) const {
    return JwtValidator(settings).validate(token, with, now).rejection;
  }
  JwtRejection rejection_of(const std::string& token) const { return rejection_of(token, &keys); }
};

TEST_F(JwtValidatorTest, AValidTokenBecomesAnActiveAnswerWithItsClaims) {
  const JwtOutcome outcome = JwtValidator(settings).validate(signed_token(claims()), &keys, now);
  ASSERT_EQ(outcome.rejection, JwtRejection::none);
  ASSERT_TRUE(outcome.claims);
  EXPECT_TRUE(outcome.claims->active);
  EXPECT_EQ(outcome.claims->claims.find("sub").string(), "alice");
}

TEST_F(JwtValidatorTest, AlgNoneIsRefused) {
  const std::string token = base64url_encode(R"({"alg":"none","kid":"k1"})") + "." +
                            base64url_encode(claims().dump()) + ".";
  EXPECT_NE(rejection_of(token), JwtRejection::none);
  const std::string with_signature = base64url_encode(R"({"alg":"none","kid":"k1"})") + "." +
                                     base64url_encode(claims().dump()) + "." +
                                     base64url_encode("x");
  EXPECT_EQ(rejection_of(with_signature), JwtRejection::unsupported_algorithm);
}

TEST_F(JwtValidatorTest, Hs256SignedWithThePublicKeyAsSecretIsRefused) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key.get());
  char* data = nullptr;
  const std::string pem(data, static_cast<std::size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  for (const std::string& secret : {pem, jose::public_jwk(key.get(), "k1").dump()}) {
    const std::string token =
        jose::sign_compact_hmac({{"kid", "k1"}}, claims().dump(), Algorithm::HS256, secret);
    EXPECT_EQ(rejection_of(token), JwtRejection::unsupported_algorithm);
  }
}

TEST_F(JwtValidatorTest, HmacVerifiesOnlyWithTheConfiguredSecret) {
  settings.hs_secret = std::string(32, 'k');
  const std::string good =
      jose::sign_compact_hmac({}, claims().dump(), Algorithm::HS256, settings.hs_secret);
  EXPECT_EQ(rejection_of(good, nullptr), JwtRejection::none);
  const std::string forged =
      jose::sign_compact_hmac({}, claims().dump(), Algorithm::HS256, std::string(32, 'x'));
  EXPECT_EQ(rejection_of(forged), JwtRejection::bad_signature);
}

TEST_F(JwtValidatorTest, AnUnknownKidAsksForAFetch) {
  EXPECT_EQ(rejection_of(signed_token(claims(), {{"kid", "k2"}})), JwtRejection::unknown_key);
}

TEST_F(JwtValidatorTest, AKeyNotInTheJwksIsRefused) {
  const jose::PublicKey stranger = jose::test::generate_key("RSA");
  const std::string token =
      jose::sign_compact({{"kid", "k1"}}, claims().dump(), Algorithm::RS256, stranger.get());
  EXPECT_EQ(rejection_of(token), JwtRejection::bad_signature);
  const std::string without_kid =
      jose::sign_compact({}, claims().dump(), Algorithm::RS256, stranger.get());
  EXPECT_EQ(rejection_of(without_kid), JwtRejection::bad_signature);
}

TEST_F(JwtValidatorTest, ATamperedPayloadWithTheOriginalSignatureIsRefused) {
  const std::string token = signed_token(claims());
  json changed = claims();
  changed["sub"] = "admin";
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string tampered =
      token.substr(0, first) + "." + base64url_encode(changed.dump()) + token.substr(second);
  EXPECT_EQ(rejection_of(tampered), JwtRejection::bad_signature);
}

TEST_F(JwtValidatorTest, WithoutKeysTheIdpIsUnavailable) {
  EXPECT_EQ(rejection_of(signed_token(claims()), nullptr), JwtRejection::keys_unavailable);
}

TEST_F(JwtValidatorTest, WrongIssuerIsRefused) {
  json other = claims();
  other["iss"] = "https://evil.example/oauth2/default";
  EXPECT_EQ(rejection_of(signed_token(other)), JwtRejection::wrong_issuer);
  other["iss"] = std::string(kIssuer) + "/";
  EXPECT_EQ(rejection_of(signed_token(other)), JwtRejection::wrong_issuer);
}

TEST_F(JwtValidatorTest, ExpAndIssAreRequired) {
  json no_exp = claims();
  no_exp.erase("exp");
  EXPECT_EQ(rejection_of(signed_token(no_exp)), JwtRejection::missing_claims);
  json no_iss = claims();
  no_iss.erase("iss");
  EXPECT_EQ(rejection_of(signed_token(no_iss)), JwtRejection::missing_claims);
  json text_exp = claims();
  text_exp["exp"] = "tomorrow";
  EXPECT_EQ(rejection_of(signed_token(text_exp)), JwtRejection::missing_claims);
  json text_nbf = claims();
  text_nbf["nbf"] = "now";
  EXPECT_EQ(rejection_of(signed_token(text_nbf)), JwtRejection::malformed);
}

TEST_F(JwtValidatorTest, IssuedInTheFutureBeyondLeewayIsRefused) {
  json later = claims();
  later["iat"] = at(4);  // within the 5 s leeway
  EXPECT_EQ(rejection_of(signed_token(later)), JwtRejection::none);
  later["iat"] = at(60);
  EXPECT_EQ(rejection_of(signed_token(later)), JwtRejection::issued_in_future);
}

TEST_F(JwtValidatorTest, TypMustNotNameAnotherKindOfJwt) {
  for (const char* typ : {"at+jwt", "application/at+JWT", "JWT"}) {
    EXPECT_EQ(rejection_of(signed_token(claims(), {{"kid", "k1"}, {"typ", typ}})),
              JwtRejection::none)
        << typ;
  }
  for (const char* typ : {"token-introspection+jwt", "logout+jwt", "id_token"}) {
    EXPECT_EQ(rejection_of(signed_token(claims(), {{"kid", "k1"}, {"typ", typ}})),
              JwtRejection::wrong_type)
        << typ;
  }
}

TEST_F(JwtValidatorTest, MalformedTokensAreRefused) {
  EXPECT_EQ(rejection_of("a.b.c"), JwtRejection::malformed);
  const std::string not_an_object =
      jose::sign_compact({{"kid", "k1"}}, "[1,2]", Algorithm::RS256, key.get());
  EXPECT_EQ(rejection_of(not_an_object), JwtRejection::malformed);
}

}  // namespace
}  // namespace tollgate::oidc
