#include "tollgate/jose/jws.hpp"

#include <algorithm>

#include <openssl/crypto.h>

#include "evp_algorithm.hpp"
#include "openssl_handles.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::jose {
namespace {

using detail::MdCtxPtr;

bool is_base64url_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool verify_with_evp(const Jws& jws, EVP_PKEY* key, std::string_view signature) {
  MdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // owned by `context`
  if (!context ||
      EVP_DigestVerifyInit(context.get(), &key_context, detail::digest_of(jws.alg), nullptr, key) !=
          1 ||
      !detail::configure_padding(jws.alg, key_context)) {
    return false;
  }
  return EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(jws.signing_input.data()),
                          jws.signing_input.size()) == 1;
}

}  // namespace

std::string_view to_string(JwsError error) noexcept {
  switch (error) {
    case JwsError::malformed:
      return "malformed";
    case JwsError::unsupported_algorithm:
      return "unsupported algorithm";
    case JwsError::unsupported_critical:
      return "unsupported critical header";
  }
  return "?";
}

bool looks_like_compact_jws(std::string_view token) noexcept {
  if (std::count(token.begin(), token.end(), '.') != 2) return false;
  return std::all_of(token.begin(), token.end(),
                     [](char c) { return c == '.' || is_base64url_char(c); });
}

boost::system::result<Jws, JwsError> parse_compact(std::string_view token, std::size_t max_bytes) {
  if (token.size() > max_bytes || !looks_like_compact_jws(token)) return JwsError::malformed;
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string_view encoded_header = token.substr(0, first);
  const std::string_view encoded_payload = token.substr(first + 1, second - first - 1);
  const std::string_view encoded_signature = token.substr(second + 1);
  if (encoded_header.empty() || encoded_payload.empty() || encoded_signature.empty()) {
    return JwsError::malformed;  // an empty signature is `none` in disguise
  }

  auto header_text = base64url_decode(encoded_header);
  auto payload = base64url_decode(encoded_payload);
  auto signature = base64url_decode(encoded_signature);
  if (!header_text || !payload || !signature) return JwsError::malformed;

  Jws jws;
  jws.header = nlohmann::json::parse(*header_text, nullptr, false);
  if (!jws.header.is_object()) return JwsError::malformed;
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string()) return JwsError::unsupported_algorithm;
  const auto algorithm = algorithm_from_name(alg->get_ref<const std::string&>());
  if (!algorithm) return JwsError::unsupported_algorithm;
  if (jws.header.contains("crit")) return JwsError::unsupported_critical;
  for (const char* name : {"kid", "typ"}) {
    auto member = jws.header.find(name);
    if (member == jws.header.end()) continue;
    if (!member->is_string()) return JwsError::malformed;
    (name[0] == 'k' ? jws.kid : jws.typ) = member->get<std::string>();
  }
  jws.alg = *algorithm;
  jws.signing_input = token.substr(0, second);
  jws.payload = std::move(*payload);
  jws.signature = std::move(*signature);
  return jws;
}

bool verify_signature(const Jws& jws, EVP_PKEY* key) {
  if (is_hmac(jws.alg) || !detail::key_matches(jws.alg, key)) return false;
  if (family_of(jws.alg) == KeyFamily::ec) {
    // JWS carries r || s; OpenSSL verifies the DER form.
    const auto der = detail::ecdsa_raw_to_der(jws.signature, detail::ecdsa_half_size(jws.alg));
    return der && verify_with_evp(jws, key, *der);
  }
  return verify_with_evp(jws, key, jws.signature);
}

bool verify_hmac(const Jws& jws, std::string_view secret) {
  if (!is_hmac(jws.alg)) return false;
  const EVP_MD* md = detail::digest_of(jws.alg);
  const auto hash_size = static_cast<std::size_t>(EVP_MD_get_size(md));
  if (secret.size() < hash_size || jws.signature.size() != hash_size) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_size = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, detail::digest_name_of(jws.alg), nullptr, secret.data(),
                 secret.size(), reinterpret_cast<const unsigned char*>(jws.signing_input.data()),
                 jws.signing_input.size(), mac, sizeof mac, &mac_size) ||
      mac_size != hash_size) {
    return false;
  }
  return CRYPTO_memcmp(mac, jws.signature.data(), hash_size) == 0;
}

}  // namespace tollgate::jose
