#include "tollgate/jose/jwk.hpp"

#include <stdexcept>
#include <utility>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <nlohmann/json.hpp>

#include "openssl_handles.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::jose {
namespace {

using detail::BignumPtr;
using detail::ParamBldPtr;
using detail::ParamsPtr;
using detail::PkeyCtxPtr;
using JwkResult = boost::system::result<Jwk, std::string>;

// Spelled out: a Jwk can be made from a string too (its first member), so a bare string would be
// ambiguous.
JwkResult fail(std::string reason) {
  return JwkResult(boost::system::in_place_error, std::move(reason));
}

// A base64url member of the JWK, decoded; nullopt when missing, not a string or not base64url.
std::optional<std::string> member_bytes(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return base64url_decode(it->get_ref<const std::string&>());
}

std::string string_member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
}

PublicKey own(EVP_PKEY* key) {
  return PublicKey(key, EVP_PKEY_free);
}

// A key from OpenSSL parameters, e.g. RSA's n and e (and its private members for a key pair).
PublicKey key_from_params(const char* type, const OSSL_PARAM* params, bool with_private) {
  PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &key, with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        const_cast<OSSL_PARAM*>(params)) != 1) {
    return nullptr;
  }
  return own(key);
}

BignumPtr bignum(const std::string& big_endian) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(big_endian.data()),
                             static_cast<int>(big_endian.size()), nullptr));
}

// The RSA private members, in the order OpenSSL names them (RFC 7518 §6.3.2).
constexpr std::pair<const char*, const char*> kRsaPrivateMembers[] = {
    {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
    {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
};

JwkResult rsa_key(const nlohmann::json& jwk, Jwk out, bool want_private) {
  const auto n = member_bytes(jwk, "n");
  const auto e = member_bytes(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return fail("RSA key without valid n and e");
  if (!want_private && jwk.contains("d")) return fail("the JWK holds a private key");
  BignumPtr modulus = bignum(*n);
  BignumPtr exponent = bignum(*e);
  if (!modulus || !exponent) return fail("RSA n or e unreadable");
  if (BN_num_bits(modulus.get()) < kMinRsaBits) {
    return fail("RSA modulus under " + std::to_string(kMinRsaBits) + " bits");
  }
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return fail("OpenSSL could not hold the RSA parameters");
  }
  std::vector<BignumPtr> private_values;  // alive until the parameters are built
  if (want_private) {
    for (const auto& [member, param] : kRsaPrivateMembers) {
      const auto bytes = member_bytes(jwk, member);
      if (!bytes || bytes->empty()) return fail(std::string("RSA private key without ") + member);
      private_values.push_back(bignum(*bytes));
      if (!private_values.back() ||
          OSSL_PARAM_BLD_push_BN(builder.get(), param, private_values.back().get()) != 1) {
        return fail("OpenSSL could not hold the RSA parameters");
      }
    }
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  out.key = params ? key_from_params("RSA", params.get(), want_private) : nullptr;
  if (!out.key) return fail("OpenSSL refused the RSA key");
  out.family = KeyFamily::rsa;
  return out;
}

struct Curve {
  std::string_view jwk_name;
  const char* openssl_name;
  std::size_t coordinate_bytes;
  int bits;
};
constexpr Curve kCurves[] = {
    {"P-256", SN_X9_62_prime256v1, 32, 256},
    {"P-384", SN_secp384r1, 48, 384},
    {"P-521", SN_secp521r1, 66, 521},
};

JwkResult ec_key(const nlohmann::json& jwk, Jwk out, bool want_private) {
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (c.jwk_name == out.curve) curve = &c;
  }
  if (curve == nullptr) return fail("EC curve \"" + out.curve + "\" not supported");
  if (!want_private && jwk.contains("d")) return fail("the JWK holds a private key");
  const auto x = member_bytes(jwk, "x");
  const auto y = member_bytes(jwk, "y");
  // RFC 7518 §6.2.1.2: each coordinate is exactly the field size, leading zeros kept.
  if (!x || !y || x->size() != curve->coordinate_bytes || y->size() != curve->coordinate_bytes) {
    return fail("EC key without x and y of the curve's size");
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      curve->openssl_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return fail("OpenSSL could not hold the EC parameters");
  }
  BignumPtr private_value;
  if (want_private) {
    const auto d = member_bytes(jwk, "d");
    if (!d || d->size() != curve->coordinate_bytes) return fail("EC private key without d");
    private_value = bignum(*d);
    if (!private_value ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, private_value.get()) != 1) {
      return fail("OpenSSL could not hold the EC parameters");
    }
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
  // OpenSSL decodes the point on import and refuses one that is not on the curve.
  out.key = params ? key_from_params("EC", params.get(), want_private) : nullptr;
  if (!out.key) return fail("the EC point is not on its curve");
  out.family = KeyFamily::ec;
  return out;
}

JwkResult okp_key(const nlohmann::json& jwk, Jwk out, bool want_private) {
  int type = 0;
  std::size_t size = 0;
  if (out.curve == "Ed25519") {
    type = EVP_PKEY_ED25519;
    size = 32;
  } else if (out.curve == "Ed448") {
    type = EVP_PKEY_ED448;
    size = 57;
  } else {
    return fail("OKP curve \"" + out.curve + "\" not supported");
  }
  if (!want_private && jwk.contains("d")) return fail("the JWK holds a private key");
  const auto x = member_bytes(jwk, "x");
  if (!x || x->size() != size) return fail("OKP key without x of the curve's size");
  if (want_private) {
    const auto d = member_bytes(jwk, "d");
    if (!d || d->size() != size) return fail("OKP private key without d");
    out.key = own(EVP_PKEY_new_raw_private_key(
        type, nullptr, reinterpret_cast<const unsigned char*>(d->data()), d->size()));
    out.family = KeyFamily::okp;
    if (!out.key) return fail("OpenSSL refused the OKP key");
    return out;
  }
  out.key = own(EVP_PKEY_new_raw_public_key(
      type, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  if (!out.key) return fail("OpenSSL refused the OKP key");
  out.family = KeyFamily::okp;
  return out;
}

}  // namespace

namespace {

JwkResult parse_any_jwk(const nlohmann::json& jwk, bool want_private) {
  if (!jwk.is_object()) return fail("not a JSON object");
  Jwk out;
  out.kid = string_member(jwk, "kid");
  const std::string use = string_member(jwk, "use");
  if (jwk.contains("use") && use != "sig") return fail("\"use\" is not \"sig\"");
  if (jwk.contains("alg")) {
    const std::string alg = string_member(jwk, "alg");
    out.alg = algorithm_from_name(alg);
    if (!out.alg) return fail("\"alg\" " + alg + " is not a signature algorithm tollgate verifies");
    if (is_hmac(*out.alg)) return fail("symmetric keys are not taken from a JWK");
  }
  const std::string kty = string_member(jwk, "kty");
  out.curve = string_member(jwk, "crv");
  if (kty == "RSA") return rsa_key(jwk, std::move(out), want_private);
  if (kty == "EC") return ec_key(jwk, std::move(out), want_private);
  if (kty == "OKP") return okp_key(jwk, std::move(out), want_private);
  return fail("kty \"" + kty + "\" not supported");
}

}  // namespace

JwkResult parse_jwk(const nlohmann::json& jwk) {
  return parse_any_jwk(jwk, /*want_private=*/false);
}

JwkResult parse_private_jwk(const nlohmann::json& jwk) {
  return parse_any_jwk(jwk, /*want_private=*/true);
}

bool key_fits(const Jwk& key, Algorithm alg) noexcept {
  if (key.alg && *key.alg != alg) return false;
  if (key.family != family_of(alg)) return false;
  switch (alg) {
    case Algorithm::ES256:
      return key.curve == "P-256";
    case Algorithm::ES384:
      return key.curve == "P-384";
    case Algorithm::ES512:
      return key.curve == "P-521";
    default:
      return true;
  }
}

namespace {

std::string big_endian_param(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) throw std::runtime_error("no RSA parameter");
  BignumPtr value(raw);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(value.get())), '\0');
  BN_bn2bin(value.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  return bytes;
}

}  // namespace

nlohmann::json public_jwk(EVP_PKEY* key, const std::string& kid) {
  nlohmann::json jwk;
  if (EVP_PKEY_is_a(key, "RSA")) {
    jwk = {{"kty", "RSA"},
           {"n", base64url_encode(big_endian_param(key, OSSL_PKEY_PARAM_RSA_N))},
           {"e", base64url_encode(big_endian_param(key, OSSL_PKEY_PARAM_RSA_E))}};
  } else if (EVP_PKEY_is_a(key, "EC")) {
    const Curve* curve = nullptr;
    for (const Curve& c : kCurves) {
      if (EVP_PKEY_get_bits(key) == c.bits) curve = &c;
    }
    unsigned char point[1 + 2 * 66];
    std::size_t size = 0;
    if (curve == nullptr ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof point, &size) != 1 ||
        size != 1 + 2 * curve->coordinate_bytes || point[0] != 0x04) {
      throw std::runtime_error("unsupported EC key");
    }
    const auto* bytes = reinterpret_cast<const char*>(point);
    jwk = {{"kty", "EC"},
           {"crv", std::string(curve->jwk_name)},
           {"x", base64url_encode({bytes + 1, curve->coordinate_bytes})},
           {"y", base64url_encode({bytes + 1 + curve->coordinate_bytes, curve->coordinate_bytes})}};
  } else if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
    unsigned char raw[57];
    std::size_t size = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &size) != 1) {
      throw std::runtime_error("unreadable OKP key");
    }
    jwk = {{"kty", "OKP"},
           {"crv", EVP_PKEY_is_a(key, "ED25519") ? "Ed25519" : "Ed448"},
           {"x", base64url_encode({reinterpret_cast<const char*>(raw), size})}};
  } else {
    throw std::runtime_error("not an RSA, EC or EdDSA key");
  }
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

}  // namespace tollgate::jose
