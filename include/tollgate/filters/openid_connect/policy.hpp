// A route's access policy, checked against the IdP's answer on every request (cached or not).
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/oidc/introspection.hpp"

namespace tollgate::filters::openid_connect {

// One *_required list (Kong's rule): entries are alternatives, any one suffices (OR); the
// space-separated words of one entry are all needed (AND). ["a b", "c"] = (a AND b) OR c.
class Requirement {
 public:
  Requirement() = default;
  explicit Requirement(const std::vector<std::string>& entries);

  bool empty() const noexcept { return alternatives_.empty(); }
  bool satisfied_by(std::span<const std::string_view> held) const;
  // The words of the first alternative, space-joined: what a 403's scope="..." names.
  std::string first_alternative() const;

 private:
  std::vector<std::vector<std::string>> alternatives_;
};

struct Policy {
  // An answer's iss, when it has one, must be one of these (exactly); empty: any issuer.
  std::vector<std::string> issuers_allowed;
  Requirement scopes_required;
  std::vector<std::string> scopes_claim{"scope"};
  Requirement audience_required;
  std::vector<std::string> audience_claim{"aud"};
  Requirement groups_required;
  std::vector<std::string> groups_claim{"groups"};
  std::chrono::milliseconds leeway{5'000};  // clock skew allowed for exp and nbf
};

enum class Rejection {
  none,
  inactive,              // 401 invalid_token
  expired,               // 401 invalid_token
  not_yet_valid,         // 401 invalid_token
  malformed_claims,      // 401 invalid_token: exp/nbf not a number
  issuer_not_allowed,    // 401 invalid_token
  insufficient_scope,    // 403 insufficient_scope
  audience_not_allowed,  // 403 insufficient_scope
  groups_not_allowed,    // 403 insufficient_scope
};

struct Decision {
  Rejection rejection = Rejection::none;

  bool allowed() const noexcept { return rejection == Rejection::none; }
  // The token is fine but does not grant this route (403) rather than being unusable (401).
  bool forbidden() const noexcept;
  // For error_description: fixed text, safe inside a quoted-string.
  std::string_view description() const noexcept;
};

Decision evaluate(const Policy& policy, const oidc::Introspection& answer,
                  std::chrono::system_clock::time_point now);

}  // namespace tollgate::filters::openid_connect
