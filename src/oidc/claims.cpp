#include "tollgate/oidc/claims.hpp"

#include <algorithm>
#include <cmath>

namespace tollgate::oidc {
namespace {

ClaimValue find_step(ClaimValue object, std::string_view step) noexcept {
  if (ClaimValue exact = object.find(step)) return exact;  // absent unless `object` is an object
  if (step.find('.') == std::string_view::npos) return {};

  ClaimValue node = object;
  while (node) {
    const std::size_t dot = step.find('.');
    node = node.find(step.substr(0, dot));  // absent unless an object holding the key
    if (dot == std::string_view::npos) break;
    step.remove_prefix(dot + 1);
  }
  return node;
}

// Printable ASCII only. Control characters could split the forwarded request head; bytes above
// 0x7E are read as Latin-1 by some upstreams and as UTF-8 by others, and U+0085 or U+2028 end a
// line for a JavaScript or log reader that the head's own parser never sees end.
bool printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte <= 0x7e;
  });
}

void append_scalar(std::string& out, ClaimValue value) {
  if (value.is_string()) {
    out += value.string();
  } else {
    value.dump_to(out);
  }
}

}  // namespace

ClaimValue find_claim(ClaimValue claims, const std::vector<std::string>& path) noexcept {
  if (path.empty()) return {};
  ClaimValue node = claims;
  for (const std::string& step : path) {
    node = find_step(node, step);
    if (!node) return {};
  }
  return node;
}

NumericDate numeric_date(ClaimValue claims, std::string_view name) noexcept {
  const ClaimValue claim = claims.find(name);
  if (!claim) return {};
  if (!claim.is_number()) return {NumericDate::State::malformed, 0};
  const double seconds = claim.number();
  if (!std::isfinite(seconds)) return {NumericDate::State::malformed, 0};
  return {NumericDate::State::valid, seconds};
}

double seconds_since_epoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

std::chrono::milliseconds clamped_milliseconds(double seconds) {
  constexpr double kLimit = 100.0 * 365 * 24 * 3600;
  const double clamped = std::clamp(seconds, -kLimit, kLimit);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(clamped * 1000.0)));
}

std::vector<std::string_view> claim_words(ClaimValue claim) {
  std::vector<std::string_view> words;
  for_each_claim_word(claim, [&words](std::string_view word) { words.push_back(word); });
  return words;
}

std::optional<std::string> claim_header_value(ClaimValue claim) {
  if (!claim || claim.is_null()) return std::nullopt;
  std::string out;
  if (claim.is_array()) {
    for (const ClaimValue element : claim.elements()) {
      if (element.is_null()) continue;
      if (!out.empty()) out += ' ';
      append_scalar(out, element);
    }
  } else {
    append_scalar(out, claim);  // objects dump as compact JSON
  }
  if (!printable_ascii(out)) return std::nullopt;
  return out;
}

}  // namespace tollgate::oidc
