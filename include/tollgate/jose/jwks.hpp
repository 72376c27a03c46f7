// A JSON Web Key Set (RFC 7517 §5) as the issuer publishes it at its jwks_uri: parsed once into
// public keys, then shared read-only by every worker.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "tollgate/jose/jwk.hpp"

namespace tollgate::jose {

struct JwksLimits {
  // An issuer publishes a handful of keys (Okta: 2 to 4, a few KiB); anything far larger is a
  // misconfiguration or an attack on memory and start-up time.
  std::size_t max_bytes = 256 * 1024;
  std::size_t max_keys = 64;
};

class KeySet {
 public:
  KeySet() = default;
  explicit KeySet(std::vector<Jwk> keys) : keys_(std::move(keys)) {}

  // The keys that may verify a signature made with `alg` under `kid`: the one with that kid, or,
  // when the token names none, every key that fits the algorithm.
  template <typename Visit>
  bool any_of(std::string_view kid, Algorithm alg, Visit&& visit) const {
    for (const Jwk& key : keys_) {
      if (!kid.empty() && key.kid != kid) continue;
      if (!key_fits(key, alg)) continue;
      if (visit(key)) return true;
    }
    return false;
  }
  bool has_kid(std::string_view kid) const noexcept;
  std::size_t size() const noexcept { return keys_.size(); }
  const std::vector<Jwk>& keys() const noexcept { return keys_; }

 private:
  std::vector<Jwk> keys_;
};

struct ParsedKeySet {
  KeySet keys;
  std::vector<std::string> skipped;  // "kid abc: kty \"oct\" not supported", for logs
};

// The usable keys of a JWKS document. The whole document is refused (the reason says why) when it
// is over the limits, not a JSON object with a "keys" array, or holds no usable key at all; single
// keys that cannot be used (another kty, "use": "enc") are skipped and named.
boost::system::result<ParsedKeySet, std::string> parse_jwks(std::string_view body,
                                                            const JwksLimits& limits = {});

}  // namespace tollgate::jose
