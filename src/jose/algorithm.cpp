#include "tollgate/jose/algorithm.hpp"

#include <array>
#include <utility>

namespace tollgate::jose {
namespace {

constexpr std::array<std::pair<std::string_view, Algorithm>, 13> kNames = {{
    {"RS256", Algorithm::RS256},
    {"RS384", Algorithm::RS384},
    {"RS512", Algorithm::RS512},
    {"PS256", Algorithm::PS256},
    {"PS384", Algorithm::PS384},
    {"PS512", Algorithm::PS512},
    {"ES256", Algorithm::ES256},
    {"ES384", Algorithm::ES384},
    {"ES512", Algorithm::ES512},
    {"EdDSA", Algorithm::EdDSA},
    {"HS256", Algorithm::HS256},
    {"HS384", Algorithm::HS384},
    {"HS512", Algorithm::HS512},
}};

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept {
  for (const auto& [text, alg] : kNames) {
    if (text == name) return alg;
  }
  return std::nullopt;
}

std::string_view name_of(Algorithm alg) noexcept {
  for (const auto& [text, each] : kNames) {
    if (each == alg) return text;
  }
  return "?";
}

KeyFamily family_of(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::RS256:
    case Algorithm::RS384:
    case Algorithm::RS512:
    case Algorithm::PS256:
    case Algorithm::PS384:
    case Algorithm::PS512:
      return KeyFamily::rsa;
    case Algorithm::ES256:
    case Algorithm::ES384:
    case Algorithm::ES512:
      return KeyFamily::ec;
    case Algorithm::EdDSA:
      return KeyFamily::okp;
    case Algorithm::HS256:
    case Algorithm::HS384:
    case Algorithm::HS512:
      return KeyFamily::secret;
  }
  return KeyFamily::secret;
}

bool is_hmac(Algorithm alg) noexcept {
  return family_of(alg) == KeyFamily::secret;
}

}  // namespace tollgate::jose
