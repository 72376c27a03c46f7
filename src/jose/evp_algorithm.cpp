#include "evp_algorithm.hpp"

#include <stdexcept>

#include <openssl/rsa.h>

#include "openssl_handles.hpp"

namespace tollgate::jose::detail {
namespace {

const EVP_MD* fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (!md) throw std::runtime_error(std::string("OpenSSL has no ") + name);
  return md;
}

}  // namespace

const char* digest_name_of(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::RS256:
    case Algorithm::PS256:
    case Algorithm::ES256:
    case Algorithm::HS256:
      return "SHA2-256";
    case Algorithm::RS384:
    case Algorithm::PS384:
    case Algorithm::ES384:
    case Algorithm::HS384:
      return "SHA2-384";
    case Algorithm::RS512:
    case Algorithm::PS512:
    case Algorithm::ES512:
    case Algorithm::HS512:
      return "SHA2-512";
    case Algorithm::EdDSA:
      return "";
  }
  return "";
}

const EVP_MD* digest_of(Algorithm alg) {
  static const EVP_MD* const sha256 = fetched("SHA2-256");
  static const EVP_MD* const sha384 = fetched("SHA2-384");
  static const EVP_MD* const sha512 = fetched("SHA2-512");
  const std::string_view name = digest_name_of(alg);
  if (name == "SHA2-256") return sha256;
  if (name == "SHA2-384") return sha384;
  if (name == "SHA2-512") return sha512;
  return nullptr;
}

std::size_t ecdsa_half_size(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::ES256:
      return 32;
    case Algorithm::ES384:
      return 48;
    case Algorithm::ES512:
      return 66;
    default:
      return 0;
  }
}

int ecdsa_curve_bits(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::ES256:
      return 256;
    case Algorithm::ES384:
      return 384;
    case Algorithm::ES512:
      return 521;
    default:
      return 0;
  }
}

bool key_matches(Algorithm alg, EVP_PKEY* key) {
  if (key == nullptr) return false;
  switch (family_of(alg)) {
    case KeyFamily::rsa:
      return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    case KeyFamily::ec:
      return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == ecdsa_curve_bits(alg);
    case KeyFamily::okp:
      return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
    case KeyFamily::secret:
      return false;
  }
  return false;
}

bool configure_padding(Algorithm alg, EVP_PKEY_CTX* context) {
  switch (alg) {
    case Algorithm::PS256:
    case Algorithm::PS384:
    case Algorithm::PS512:
      return EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(context, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(context, digest_of(alg)) == 1;
    case Algorithm::RS256:
    case Algorithm::RS384:
    case Algorithm::RS512:
      return EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1;
    default:
      return true;
  }
}

std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t half) {
  if (half == 0 || raw.size() != 2 * half) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BignumPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr signature(ECDSA_SIG_new());
  if (!r || !s || !signature || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return std::nullopt;
  }
  r.release();  // owned by the signature now
  s.release();
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(signature.get(), &der);
  if (length <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &bytes, static_cast<long>(der.size())));
  if (!signature) return std::nullopt;
  const BIGNUM* r = ECDSA_SIG_get0_r(signature.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(signature.get());
  std::string out(2 * half, '\0');
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, raw, static_cast<int>(half)) < 0 ||
      BN_bn2binpad(s, raw + half, static_cast<int>(half)) < 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace tollgate::jose::detail
