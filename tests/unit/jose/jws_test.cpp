#include "tollgate/jose/jws.hpp"

#include <gtest/gtest.h>

#include <openssl/pem.h>

#include "foreign_vectors.hpp"
#include "jose_test_support.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jwks.hpp"

namespace tollgate::jose {
namespace {

using nlohmann::json;
constexpr std::string_view kPayload = R"({"iss":"https://idp.example","sub":"alice"})";

// `token` must outlive the result (its signing input points into it): tests keep theirs in a
// named string.
Jws parsed(const std::string& token) {
  auto jws = parse_compact(token);
  if (!jws) throw std::runtime_error("unparsable: " + std::string(to_string(jws.error())));
  return std::move(*jws);
}

// A token with `header` and `payload` as given and `signature` bytes: what an attacker can send.
std::string forged(const json& header, std::string_view payload, std::string_view signature) {
  return base64url_encode(header.dump()) + "." + base64url_encode(payload) + "." +
         base64url_encode(signature);
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

TEST(JwsTest, VerifiesWhatAnotherImplementationSigned) {
  auto set = parse_jwks(test::kForeignJwks);
  ASSERT_TRUE(set);
  for (const auto& [kid, foreign] : test::kForeignTokens) {
    const std::string token(foreign);
    const Jws jws = parsed(token);
    EXPECT_EQ(jws.kid, kid);
    EXPECT_EQ(jws.payload, kPayload);
    bool verified = set->keys.any_of(
        jws.kid, jws.alg, [&](const Jwk& key) { return verify_signature(jws, key.key.get()); });
    EXPECT_TRUE(verified) << kid;
  }
}

TEST(JwsTest, SignsWhatItVerifiesForEveryAlgorithm) {
  const struct {
    Algorithm alg;
    const char* key;
  } cases[] = {
      {Algorithm::RS256, "RSA"},     {Algorithm::RS384, "RSA"},   {Algorithm::RS512, "RSA"},
      {Algorithm::PS256, "RSA"},     {Algorithm::PS384, "RSA"},   {Algorithm::PS512, "RSA"},
      {Algorithm::ES256, "P-256"},   {Algorithm::ES384, "P-384"}, {Algorithm::ES512, "P-521"},
      {Algorithm::EdDSA, "Ed25519"}, {Algorithm::EdDSA, "Ed448"}};
  for (const auto& c : cases) {
    const PublicKey key = test::generate_key(c.key);
    const std::string token = sign_compact({{"kid", "k"}}, kPayload, c.alg, key.get());
    const Jws jws = parsed(token);
    EXPECT_EQ(jws.alg, c.alg);
    EXPECT_TRUE(verify_signature(jws, key.get())) << name_of(c.alg) << " " << c.key;
    const PublicKey other = test::generate_key(c.key);
    EXPECT_FALSE(verify_signature(jws, other.get())) << name_of(c.alg) << " " << c.key;
  }
}

TEST(JwsTest, EcdsaSignaturesHaveTheFixedJwsLength) {
  const PublicKey key = test::generate_key("P-521");
  const std::string token = sign_compact({}, kPayload, Algorithm::ES512, key.get());
  const Jws jws = parsed(token);
  EXPECT_EQ(jws.signature.size(), 132u);
  EXPECT_TRUE(verify_signature(jws, key.get()));
  Jws shortened = jws;
  shortened.signature.pop_back();
  EXPECT_FALSE(verify_signature(shortened, key.get()));
}

TEST(JwsTest, AlgNoneIsRefused) {
  for (const char* alg : {"none", "None", "NONE", ""}) {
    const std::string token = forged({{"alg", alg}}, kPayload, "x");
    auto jws = parse_compact(token);
    ASSERT_FALSE(jws) << alg;
    EXPECT_EQ(jws.error(), JwsError::unsupported_algorithm);
  }
  // The usual form of `none`: no signature at all.
  const std::string unsigned_token =
      base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(kPayload) + ".";
  EXPECT_FALSE(parse_compact(unsigned_token));
  EXPECT_FALSE(parse_compact(forged(json::object(), kPayload, "x")));
}

TEST(JwsTest, Hs256SignedWithThePublicKeyAsSecretIsRefused) {
  const PublicKey key = test::generate_key("RSA");
  const std::string token = sign_compact_hmac({}, kPayload, Algorithm::HS256, pem_of(key.get()));
  const Jws jws = parsed(token);
  // The classic confusion: the verifier hands the RSA key to whatever alg the token names.
  EXPECT_FALSE(verify_signature(jws, key.get()));
}

TEST(JwsTest, HmacVerifiesOnlyWithTheSecretAndAFullLengthOne) {
  const std::string secret(32, 's');
  const std::string hs256_token = sign_compact_hmac({}, kPayload, Algorithm::HS256, secret);
  const Jws jws = parsed(hs256_token);
  EXPECT_TRUE(verify_hmac(jws, secret));
  EXPECT_FALSE(verify_hmac(jws, std::string(32, 't')));
  const std::string short_token = sign_compact_hmac({}, kPayload, Algorithm::HS256, "short");
  EXPECT_FALSE(verify_hmac(parsed(short_token), "short"));
  const std::string hs512_token =
      sign_compact_hmac({}, kPayload, Algorithm::HS512, std::string(64, 'k'));
  EXPECT_TRUE(verify_hmac(parsed(hs512_token), std::string(64, 'k')));
  const PublicKey rsa = test::generate_key("RSA");
  const std::string rs256_token = sign_compact({}, kPayload, Algorithm::RS256, rsa.get());
  EXPECT_FALSE(verify_hmac(parsed(rs256_token), secret));
}

TEST(JwsTest, ATamperedPayloadWithTheOriginalSignatureFails) {
  const std::string_view token = test::kForeignTokens[0].token;
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string tampered = std::string(token.substr(0, first)) + "." +
                               base64url_encode(R"({"iss":"https://idp.example","sub":"admin"})") +
                               std::string(token.substr(second));
  auto set = parse_jwks(test::kForeignJwks);
  ASSERT_TRUE(set);
  const Jws jws = parsed(tampered);
  EXPECT_FALSE(set->keys.any_of(
      jws.kid, jws.alg, [&](const Jwk& key) { return verify_signature(jws, key.key.get()); }));
}

TEST(JwsTest, AKeyOfAnotherTypeOrCurveNeverVerifies) {
  const PublicKey p256 = test::generate_key("P-256");
  const PublicKey p384 = test::generate_key("P-384");
  const PublicKey rsa = test::generate_key("RSA");
  const std::string es256_token = sign_compact({}, kPayload, Algorithm::ES256, p256.get());
  const Jws es256 = parsed(es256_token);
  EXPECT_TRUE(verify_signature(es256, p256.get()));
  EXPECT_FALSE(verify_signature(es256, p384.get()));
  EXPECT_FALSE(verify_signature(es256, rsa.get()));
  const std::string rs256_token = sign_compact({}, kPayload, Algorithm::RS256, rsa.get());
  const Jws rs256 = parsed(rs256_token);
  EXPECT_TRUE(verify_signature(rs256, rsa.get()));
  Jws as_ps256 = rs256;
  as_ps256.alg = Algorithm::PS256;
  EXPECT_FALSE(verify_signature(as_ps256, rsa.get()));
}

TEST(JwsTest, RefusesCriticalHeadersAndMalformedTokens) {
  auto crit =
      parse_compact(forged({{"alg", "RS256"}, {"crit", {"b64"}}, {"b64", false}}, "x", "y"));
  ASSERT_FALSE(crit);
  EXPECT_EQ(crit.error(), JwsError::unsupported_critical);
  for (const std::string token :
       {std::string("a.b"), std::string("a.b.c.d"), std::string("..."), std::string("a b.c.d"),
        forged({{"alg", "RS256"}, {"kid", 5}}, "x", "y"), base64url_encode("[1]") + ".eA.eQ",
        std::string("e30.eA=.eQ"), std::string(kMaxJwsBytes + 1, 'a')}) {
    EXPECT_FALSE(parse_compact(token)) << token.substr(0, 40);
  }
}

TEST(JwsTest, LooksLikeCompactJws) {
  EXPECT_TRUE(looks_like_compact_jws("aGk.aGk.aGk"));
  EXPECT_FALSE(looks_like_compact_jws("opaque-token_1"));
  EXPECT_FALSE(looks_like_compact_jws("a.b"));
  EXPECT_FALSE(looks_like_compact_jws("a.b/c.d"));
}

}  // namespace
}  // namespace tollgate::jose
