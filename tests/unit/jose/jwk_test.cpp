#include "tollgate/jose/jwk.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "foreign_vectors.hpp"
#include "jose_test_support.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::jose {
namespace {

using nlohmann::json;

json foreign_jwk(std::string_view kid) {
  const json set = json::parse(test::kForeignJwks);
  for (const json& key : set["keys"]) {
    if (key["kid"].get<std::string>() == kid) return key;
  }
  throw std::runtime_error("no such key");
}

TEST(JwkTest, ReadsEveryKindAnotherImplementationPublishes) {
  for (const char* kid : {"RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA-Ed25519"}) {
    auto key = parse_jwk(foreign_jwk(kid));
    ASSERT_TRUE(key) << kid << ": " << key.error();
    EXPECT_EQ(key->kid, kid);
    EXPECT_NE(key->key, nullptr);
    EXPECT_FALSE(key->alg);
  }
}

TEST(JwkTest, ExportedKeysReadBack) {
  for (const char* kind : {"RSA", "P-256", "P-384", "P-521", "Ed25519", "Ed448"}) {
    const PublicKey generated = test::generate_key(kind);
    auto key = parse_jwk(public_jwk(generated.get(), "k1"));
    ASSERT_TRUE(key) << kind << ": " << key.error();
    EXPECT_EQ(EVP_PKEY_eq(key->key.get(), generated.get()), 1) << kind;
  }
}

TEST(JwkTest, RefusesRsaKeysUnder2048Bits) {
  const PublicKey weak = test::generate_key("RSA-1024");
  auto key = parse_jwk(public_jwk(weak.get(), "weak"));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().find("2048"), std::string::npos);
}

TEST(JwkTest, RefusesAPointOffItsCurve) {
  json jwk = foreign_jwk("ES256");
  std::string y = *base64url_decode(jwk["y"].get<std::string>());
  y.back() ^= 1;
  jwk["y"] = base64url_encode(y);
  EXPECT_FALSE(parse_jwk(jwk));
}

TEST(JwkTest, RefusesCoordinatesOfTheWrongSize) {
  json jwk = foreign_jwk("ES256");
  jwk["crv"] = "P-384";
  EXPECT_FALSE(parse_jwk(jwk));
  json okp = foreign_jwk("EdDSA-Ed25519");
  okp["crv"] = "Ed448";
  EXPECT_FALSE(parse_jwk(okp));
}

TEST(JwkTest, NeverTakesASymmetricKey) {
  EXPECT_FALSE(parse_jwk({{"kty", "oct"}, {"k", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}}));
  json rsa = foreign_jwk("RS256");
  rsa["alg"] = "HS256";
  EXPECT_FALSE(parse_jwk(rsa));
}

TEST(JwkTest, RefusesEncryptionKeysUnknownAlgorithmsAndPrivateKeys) {
  json enc = foreign_jwk("RS256");
  enc["use"] = "enc";
  EXPECT_FALSE(parse_jwk(enc));
  json none = foreign_jwk("RS256");
  none["alg"] = "none";
  EXPECT_FALSE(parse_jwk(none));
  json with_private = foreign_jwk("ES256");
  with_private["d"] = "AAAA";
  EXPECT_FALSE(parse_jwk(with_private));
  EXPECT_FALSE(parse_jwk(json::array()));
  EXPECT_FALSE(parse_jwk({{"kty", "RSA"}, {"n", 5}, {"e", "AQAB"}}));
  EXPECT_FALSE(parse_jwk({{"kty", "RSA"}, {"n", "not base64url!"}, {"e", "AQAB"}}));
}

TEST(JwkTest, KeyFitsOnlyItsFamilyCurveAndDeclaredAlgorithm) {
  auto rsa = parse_jwk(foreign_jwk("RS256"));
  ASSERT_TRUE(rsa);
  EXPECT_TRUE(key_fits(*rsa, Algorithm::RS256));
  EXPECT_TRUE(key_fits(*rsa, Algorithm::PS512));
  EXPECT_FALSE(key_fits(*rsa, Algorithm::ES256));
  EXPECT_FALSE(key_fits(*rsa, Algorithm::HS256));
  rsa->alg = Algorithm::RS256;
  EXPECT_FALSE(key_fits(*rsa, Algorithm::PS256));

  auto p384 = parse_jwk(foreign_jwk("ES384"));
  ASSERT_TRUE(p384);
  EXPECT_TRUE(key_fits(*p384, Algorithm::ES384));
  EXPECT_FALSE(key_fits(*p384, Algorithm::ES256));
}

TEST(JwkTest, PrivateJwksSignWhatTheirPublicHalvesVerify) {
  for (const char* kind : {"RSA", "P-256", "P-521", "Ed25519"}) {
    const PublicKey generated = test::generate_key(kind);
    auto key = parse_private_jwk(test::private_jwk(generated.get(), "k1"));
    ASSERT_TRUE(key) << kind << ": " << key.error();
    EXPECT_EQ(EVP_PKEY_eq(key->key.get(), generated.get()), 1) << kind;
  }
  // The public parser never takes a private key, the private one never a public key.
  const PublicKey rsa = test::generate_key("RSA");
  EXPECT_FALSE(parse_jwk(test::private_jwk(rsa.get(), "k1")));
  EXPECT_FALSE(parse_private_jwk(public_jwk(rsa.get(), "k1")));
}

}  // namespace
}  // namespace tollgate::jose
