#include "tollgate/oidc/client_assertion.hpp"

#include <stdexcept>

#include <openssl/rand.h>
#include <nlohmann/json.hpp>

#include "tollgate/common/hash.hpp"
#include "tollgate/jose/jws.hpp"

namespace tollgate::oidc {
namespace {

constexpr std::size_t kJtiBytes = 16;

std::string random_jti() {
  unsigned char bytes[kJtiBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64url_encode({reinterpret_cast<const char*>(bytes), sizeof bytes});
}

}  // namespace

std::string make_client_assertion(const AssertionKey& key, std::string_view client_id,
                                  std::string_view audience,
                                  std::chrono::system_clock::time_point now) {
  const auto issued = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  const nlohmann::json claims = {
      {"iss", client_id},      {"sub", client_id},
      {"aud", audience},       {"jti", random_jti()},
      {"iat", issued.count()}, {"exp", (issued + kAssertionLifetime).count()}};
  nlohmann::json header = {{"typ", "JWT"}};
  if (!key.kid.empty()) header["kid"] = key.kid;
  if (jose::is_hmac(key.alg)) {
    return jose::sign_compact_hmac(std::move(header), claims.dump(), key.alg, key.secret);
  }
  return jose::sign_compact(std::move(header), claims.dump(), key.alg, key.private_key.get());
}

}  // namespace tollgate::oidc
