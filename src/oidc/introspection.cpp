#include "tollgate/oidc/introspection.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace tollgate::oidc {
namespace {

constexpr std::chrono::seconds kMaxRetryAfter{3600};

// Real answers nest two or three levels (realm_access.roles). Far deeper nesting is no answer, and
// every use of such a claim that serialises or copies it (an upstream header holding it as JSON)
// recurses once per level: 20,000 levels, well inside the answer size limit, overflow the stack.
constexpr int kMaxAnswerDepth = 32;

// How deeply `text`'s arrays and objects nest, read as JSON (strings skipped). Checked before the
// parse, so the parser needs no per-value callback (a third of its cost on a usual answer).
int nesting_depth(std::string_view text) noexcept {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

std::optional<std::chrono::seconds> parse_delta_seconds(std::string_view value) {
  std::uint64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc::result_out_of_range) return kMaxRetryAfter;
  if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
  // Capped before it becomes a (signed) duration: above INT64_MAX it would turn negative.
  if (seconds >= static_cast<std::uint64_t>(kMaxRetryAfter.count())) return kMaxRetryAfter;
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(seconds));
}

// IMF-fixdate, the only HTTP-date form senders may generate (RFC 9110 §5.6.7).
std::optional<std::chrono::seconds> parse_http_date(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  std::tm tm{};
  std::istringstream in{std::string(value)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return std::nullopt;
  const std::time_t when = timegm(&tm);
  if (when == static_cast<std::time_t>(-1)) return std::nullopt;
  // In seconds: as a system_clock time point (nanoseconds) a year before 1678 or after 2262
  // overflows, and a date is any year std::get_time reads.
  const std::chrono::seconds delta(when - std::chrono::system_clock::to_time_t(now));
  return std::clamp(delta, std::chrono::seconds{0}, kMaxRetryAfter);
}

}  // namespace

std::string_view to_string(IdpFailureKind kind) noexcept {
  switch (kind) {
    case IdpFailureKind::not_ready:
      return "not_ready";
    case IdpFailureKind::connect:
      return "connect";
    case IdpFailureKind::io:
      return "io";
    case IdpFailureKind::timeout:
      return "timeout";
    case IdpFailureKind::http_status:
      return "http_status";
    case IdpFailureKind::bad_response:
      return "bad_response";
    case IdpFailureKind::cancelled:
      return "cancelled";
    case IdpFailureKind::internal:
      return "internal";
  }
  return "internal";
}

std::string IdpFailure::describe() const {
  std::string out(to_string(kind));
  if (kind == IdpFailureKind::http_status) out += ' ' + std::to_string(http_status);
  return out;
}

void throw_exception_from_error(const IdpFailure& failure, const boost::source_location&) {
  throw std::runtime_error("identity provider failure: " + failure.describe());
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') return parse_delta_seconds(value);
  return parse_http_date(value, now);
}

IntrospectionPtr Introspection::create(bool active, const nlohmann::json& claims,
                                       ClaimDictionary& dictionary) {
  return from_encoded(active, encode_claims(claims, dictionary), dictionary);
}

IntrospectionPtr Introspection::from_encoded(bool active, std::span<const std::uint8_t> encoded,
                                             ClaimDictionary& dictionary) {
  // One block: this header, then the encoded claims.
  void* block = ::operator new(sizeof(Introspection) + encoded.size());
  auto* bytes = static_cast<std::uint8_t*>(block) + sizeof(Introspection);
  std::memcpy(bytes, encoded.data(), encoded.size());
  return IntrospectionPtr(new (block) Introspection(active, ClaimValue(bytes, &dictionary)));
}

void Introspection::destroy(const Introspection* answer) noexcept {
  answer->~Introspection();
  ::operator delete(const_cast<Introspection*>(answer));
}

IntrospectionPtr inactive_answer() {
  static const IntrospectionPtr inactive =
      Introspection::create(false, nlohmann::json::object({{"active", false}}));
  return inactive;
}

IntrospectionResult parse_introspection_response(unsigned status, std::string_view retry_after,
                                                 std::string body,
                                                 std::chrono::system_clock::time_point now) {
  if (status != 200) {
    return IdpFailure(IdpFailureKind::http_status, status, parse_retry_after(retry_after, now));
  }
  ClaimDictionary& dictionary = ClaimDictionary::shared();
  // The usual answer takes one pass; the depth is checked on the way.
  std::optional<std::vector<std::uint8_t>> encoded =
      encode_claims_text(body, dictionary, kMaxAnswerDepth);
  if (!encoded) {
    // Nested too deep, not the usual shape, or no JSON at all: nlohmann reads it, and decides.
    if (nesting_depth(body) > kMaxAnswerDepth) return IdpFailure(IdpFailureKind::bad_response);
    const nlohmann::json claims =
        nlohmann::json::parse(body, /*callback=*/nullptr, /*allow_exceptions=*/false);
    if (claims.is_discarded()) return IdpFailure(IdpFailureKind::bad_response);
    encoded = encode_claims(claims, dictionary);
  }
  const ClaimValue claims(encoded->data(), &dictionary);
  const ClaimValue active = claims.find("active");  // absent unless claims is an object
  if (!active.is_boolean()) return IdpFailure(IdpFailureKind::bad_response);
  if (!active.boolean()) return inactive_answer();
  return Introspection::from_encoded(true, *encoded, dictionary);
}

}  // namespace tollgate::oidc
