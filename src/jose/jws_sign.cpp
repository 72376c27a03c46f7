// Signing compact JWS: what tollgate sends when it authenticates to the IdP with a JWT.
#include <stdexcept>

#include "evp_algorithm.hpp"
#include "openssl_handles.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jws.hpp"

namespace tollgate::jose {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("JWS signing: " + what);
}

std::string signing_input(nlohmann::json& header, std::string_view payload, Algorithm alg) {
  header["alg"] = std::string(name_of(alg));
  return base64url_encode(header.dump()) + "." + base64url_encode(payload);
}

}  // namespace

std::string sign_compact(nlohmann::json header, std::string_view payload, Algorithm alg,
                         EVP_PKEY* key) {
  if (is_hmac(alg) || !detail::key_matches(alg, key)) {
    fail("the key does not fit " + std::string(name_of(alg)));
  }
  std::string input = signing_input(header, payload, alg);
  detail::MdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;
  if (!context ||
      EVP_DigestSignInit(context.get(), &key_context, detail::digest_of(alg), nullptr, key) != 1 ||
      !detail::configure_padding(alg, key_context)) {
    fail("OpenSSL could not start signing");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t size = 0;
  if (EVP_DigestSign(context.get(), nullptr, &size, data, input.size()) != 1) fail("sizing");
  std::string signature(size, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                     input.size()) != 1) {
    fail("OpenSSL could not sign");
  }
  signature.resize(size);
  if (family_of(alg) == KeyFamily::ec) {
    auto raw = detail::ecdsa_der_to_raw(signature, detail::ecdsa_half_size(alg));
    if (!raw) fail("unreadable ECDSA signature");
    signature = std::move(*raw);
  }
  return input + "." + base64url_encode(signature);
}

std::string sign_compact_hmac(nlohmann::json header, std::string_view payload, Algorithm alg,
                              std::string_view secret) {
  if (!is_hmac(alg)) fail(std::string(name_of(alg)) + " is not an HMAC algorithm");
  std::string input = signing_input(header, payload, alg);
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t size = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, detail::digest_name_of(alg), nullptr, secret.data(),
                 secret.size(), reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                 mac, sizeof mac, &size)) {
    fail("OpenSSL could not compute the HMAC");
  }
  return input + "." + base64url_encode({reinterpret_cast<const char*>(mac), size});
}

}  // namespace tollgate::jose
