#include "tollgate/jose/jwks.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::jose {

bool KeySet::has_kid(std::string_view kid) const noexcept {
  for (const Jwk& key : keys_) {
    if (key.kid == kid) return true;
  }
  return false;
}

boost::system::result<ParsedKeySet, std::string> parse_jwks(std::string_view body,
                                                            const JwksLimits& limits) {
  if (body.size() > limits.max_bytes) {
    return "the JWKS is " + std::to_string(body.size()) + " bytes, over the limit of " +
           std::to_string(limits.max_bytes);
  }
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
  if (!document.is_object()) return std::string("the JWKS is not a JSON object");
  auto keys = document.find("keys");
  if (keys == document.end() || !keys->is_array()) {
    return std::string("the JWKS has no \"keys\" array");
  }
  if (keys->size() > limits.max_keys) {
    return "the JWKS has " + std::to_string(keys->size()) + " keys, over the limit of " +
           std::to_string(limits.max_keys);
  }
  ParsedKeySet out;
  std::vector<Jwk> usable;
  for (const nlohmann::json& entry : *keys) {
    auto key = parse_jwk(entry);
    if (key) {
      usable.push_back(std::move(*key));
      continue;
    }
    std::string kid = "(no kid)";
    if (entry.is_object() && entry.contains("kid") && entry["kid"].is_string()) {
      kid = "kid " + entry["kid"].get<std::string>();
    }
    out.skipped.push_back(kid + ": " + key.error());
  }
  if (usable.empty()) return std::string("the JWKS holds no usable signature key");
  out.keys = KeySet(std::move(usable));
  return out;
}

}  // namespace tollgate::jose
