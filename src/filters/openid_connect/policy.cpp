#include "tollgate/filters/openid_connect/policy.hpp"

#include <algorithm>
#include <array>

#include "tollgate/oidc/claims.hpp"

namespace tollgate::filters::openid_connect {
namespace {

using oidc::NumericDate;

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    if (space != 0) words.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

bool holds_all(std::span<const std::string_view> held, const std::vector<std::string>& needed) {
  return std::all_of(needed.begin(), needed.end(), [held](const std::string& word) {
    return std::find(held.begin(), held.end(), word) != held.end();
  });
}

// The claim's words, gathered without allocating for any ordinary claim: the policy is checked on
// every request.
bool meets(const Requirement& requirement, oidc::ClaimValue claims,
           const std::vector<std::string>& claim_path) {
  if (requirement.empty()) return true;
  constexpr std::size_t kInlineWords = 32;
  std::array<std::string_view, kInlineWords> inline_words;
  std::size_t count = 0;
  std::vector<std::string_view> more_words;  // only for a claim holding more than kInlineWords
  oidc::for_each_claim_word(oidc::find_claim(claims, claim_path), [&](std::string_view word) {
    if (count < kInlineWords) {
      inline_words[count++] = word;
      return;
    }
    if (more_words.empty()) more_words.assign(inline_words.begin(), inline_words.end());
    more_words.push_back(word);
  });
  if (!more_words.empty()) return requirement.satisfied_by(more_words);
  return requirement.satisfied_by(std::span<const std::string_view>(inline_words.data(), count));
}

}  // namespace

Requirement::Requirement(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    std::vector<std::string> words = split_words(entry);
    if (!words.empty()) alternatives_.push_back(std::move(words));
  }
}

bool Requirement::satisfied_by(std::span<const std::string_view> held) const {
  return std::any_of(
      alternatives_.begin(), alternatives_.end(),
      [held](const std::vector<std::string>& needed) { return holds_all(held, needed); });
}

std::string Requirement::first_alternative() const {
  std::string out;
  if (alternatives_.empty()) return out;
  for (const std::string& word : alternatives_.front()) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

bool Decision::forbidden() const noexcept {
  return rejection == Rejection::insufficient_scope ||
         rejection == Rejection::audience_not_allowed || rejection == Rejection::groups_not_allowed;
}

std::string_view Decision::description() const noexcept {
  switch (rejection) {
    case Rejection::none:
      return "";
    case Rejection::inactive:
      return "The access token is not active";
    case Rejection::expired:
      return "The access token expired";
    case Rejection::not_yet_valid:
      return "The access token is not valid yet";
    case Rejection::malformed_claims:
      return "The access token has malformed claims";
    case Rejection::issuer_not_allowed:
      return "The access token issuer is not allowed";
    case Rejection::insufficient_scope:
      return "The access token lacks the required scope";
    case Rejection::audience_not_allowed:
      return "The access token audience is not allowed";
    case Rejection::groups_not_allowed:
      return "The access token lacks the required groups";
  }
  return "";
}

Decision evaluate(const Policy& policy, const oidc::Introspection& answer,
                  std::chrono::system_clock::time_point now) {
  if (!answer.active) return {Rejection::inactive};
  const oidc::ClaimValue claims = answer.claims;
  const double now_seconds = oidc::seconds_since_epoch(now);
  const double leeway_seconds = std::chrono::duration<double>(policy.leeway).count();

  const NumericDate exp = oidc::numeric_date(claims, "exp");
  const NumericDate nbf = oidc::numeric_date(claims, "nbf");
  if (exp.state == NumericDate::State::malformed || nbf.state == NumericDate::State::malformed) {
    return {Rejection::malformed_claims};
  }
  if (exp.state == NumericDate::State::valid && !(exp.seconds > now_seconds - leeway_seconds)) {
    return {Rejection::expired};
  }
  if (nbf.state == NumericDate::State::valid && !(nbf.seconds <= now_seconds + leeway_seconds)) {
    return {Rejection::not_yet_valid};
  }

  // RFC 7662 makes iss optional, and the answer comes from the endpoint this plugin trusts: an
  // answer without iss is that endpoint's word. One that names another issuer is refused.
  if (const oidc::ClaimValue iss = claims.find("iss"); iss && !policy.issuers_allowed.empty()) {
    const bool allowed =
        iss.is_string() && std::find(policy.issuers_allowed.begin(), policy.issuers_allowed.end(),
                                     iss.string()) != policy.issuers_allowed.end();
    if (!allowed) return {Rejection::issuer_not_allowed};
  }

  if (!meets(policy.scopes_required, claims, policy.scopes_claim)) {
    return {Rejection::insufficient_scope};
  }
  if (!meets(policy.audience_required, claims, policy.audience_claim)) {
    return {Rejection::audience_not_allowed};
  }
  if (!meets(policy.groups_required, claims, policy.groups_claim)) {
    return {Rejection::groups_not_allowed};
  }
  return {};
}

}  // namespace tollgate::filters::openid_connect
