// Reading claims out of an introspection answer: nested lookup, NumericDates, word sets, and the
// text form a claim takes in an upstream header.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/oidc/claim_store.hpp"

namespace tollgate::oidc {

// A claim path as Kong writes it: each step is one object key, so [realm_access, roles] reads
// claims.realm_access.roles. A step that is not a key of its object but contains dots is read as a
// dotted path ("realm_access.roles"); an exact key always wins, so URL-shaped claim names
// ("https://example.com/roles") keep working. Absent when any step is missing.
ClaimValue find_claim(ClaimValue claims, const std::vector<std::string>& path) noexcept;

// A NumericDate claim (exp, nbf, iat): absent, seconds since the epoch, or present but not a
// number.
struct NumericDate {
  enum class State { absent, valid, malformed };
  State state = State::absent;
  double seconds = 0;
};
NumericDate numeric_date(ClaimValue claims, std::string_view name) noexcept;

double seconds_since_epoch(std::chrono::system_clock::time_point time);

// `seconds` (fractional, possibly huge or negative) as milliseconds, clamped to ±100 years so no
// claim value can overflow a duration.
std::chrono::milliseconds clamped_milliseconds(double seconds);

// The words a claim holds, for scope/audience/groups checks: a string is split on spaces, an array
// gives its string elements. Anything else holds no words. Views point into the claims.
std::vector<std::string_view> claim_words(ClaimValue claim);

// Calls visit(word) for each word claim_words() gives, in the same order, without allocating.
template <class Visit>
void for_each_claim_word(ClaimValue claim, Visit&& visit) {
  if (claim.is_string()) {
    std::string_view text = claim.string();
    while (!text.empty()) {
      const std::size_t space = text.find(' ');
      if (space != 0) visit(text.substr(0, space));
      if (space == std::string_view::npos) break;
      text.remove_prefix(space + 1);
    }
  } else if (claim.is_array()) {
    for (const ClaimValue element : claim.elements()) {
      if (element.is_string()) visit(element.string());
    }
  }
}

// The value of an upstream header carrying `claim`: strings as they are, numbers and booleans as
// text, arrays space-joined, objects as compact JSON. nullopt for null or absent, and for any value
// holding a byte outside printable ASCII (0x20-0x7E): a control character (CR, LF, NUL...) could
// split the forwarded request head, and non-ASCII text (U+0085, U+2028) is read differently, some
// of it as line breaks, by the readers downstream.
std::optional<std::string> claim_header_value(ClaimValue claim);

}  // namespace tollgate::oidc
