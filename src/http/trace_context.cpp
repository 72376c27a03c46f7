#include "tollgate/http/trace_context.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kMaxTracestateMembers = 32;
constexpr std::size_t kMaxTracestateKey = 256;
constexpr std::size_t kMaxTracestateValue = 256;

// HEXDIGLC: the spec allows lower-case hex only.
int lower_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool all_lower_hex(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(), [](char c) { return lower_hex_value(c) >= 0; });
}

bool all_zeros(std::string_view text) noexcept {
  return text.find_first_not_of('0') == std::string_view::npos;
}

std::uint8_t hex_byte(std::string_view two) noexcept {
  return static_cast<std::uint8_t>(lower_hex_value(two[0]) * 16 + lower_hex_value(two[1]));
}

void write_hex(std::uint64_t value, char* out) noexcept {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[value & 0xf];
    value >>= 4;
  }
}

// An id must not be all zeros (the spec makes that value invalid): 1 in 2^64 draws needs a fix.
std::uint64_t nonzero_random(IdRandom& random) {
  const std::uint64_t value = random();
  return value != 0 ? value : 1;
}

bool is_key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/' || c == '@';
}

bool valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxTracestateKey) return false;
  const char first = key.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
  return std::all_of(key.begin(), key.end(), is_key_char);
}

// The member's OWS is trimmed already, so the value cannot end in a space.
bool valid_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > kMaxTracestateValue) return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
}

// The number of list members of a tracestate value, or nullopt when it is not a valid list.
std::optional<std::size_t> tracestate_members(std::string_view list) noexcept {
  std::array<std::string_view, kMaxTracestateMembers> keys;
  std::size_t count = 0;
  for (;;) {
    const std::size_t comma = list.find(',');
    const std::string_view member = trim_ows(list.substr(0, comma));
    if (!member.empty()) {
      const std::size_t equals = member.find('=');
      if (equals == std::string_view::npos) return std::nullopt;
      const std::string_view key = member.substr(0, equals);
      if (!valid_key(key) || !valid_value(member.substr(equals + 1))) return std::nullopt;
      if (count == kMaxTracestateMembers) return std::nullopt;
      // Each key once: an entry is the key's last position in the trace.
      if (std::find(keys.begin(), keys.begin() + count, key) != keys.begin() + count) {
        return std::nullopt;
      }
      keys[count++] = key;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return count;
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept {
  value = trim_ows(value);
  if (value.size() < kTraceparentSize) return std::nullopt;
  const std::string_view version = value.substr(0, 2);
  const std::string_view trace_id = value.substr(3, 32);
  const std::string_view parent_id = value.substr(36, 16);
  const std::string_view flags = value.substr(53, 2);
  if (!all_lower_hex(version) || value[2] != '-' || !all_lower_hex(trace_id) || value[35] != '-' ||
      !all_lower_hex(parent_id) || value[52] != '-' || !all_lower_hex(flags)) {
    return std::nullopt;
  }
  TraceParent parent;
  parent.version = hex_byte(version);
  if (parent.version == 0xff) return std::nullopt;
  // Version 00 has exactly four fields; a later version may add more after a '-'.
  if (value.size() > kTraceparentSize && (parent.version == 0 || value[kTraceparentSize] != '-')) {
    return std::nullopt;
  }
  if (all_zeros(trace_id) || all_zeros(parent_id)) return std::nullopt;
  std::copy(trace_id.begin(), trace_id.end(), parent.trace_id.begin());
  std::copy(parent_id.begin(), parent_id.end(), parent.parent_id.begin());
  parent.flags = hex_byte(flags);
  return parent;
}

std::array<char, kTraceparentSize> format_traceparent(const TraceParent& parent) noexcept {
  std::array<char, kTraceparentSize> out;
  char* at = out.data();
  *at++ = '0';
  *at++ = '0';
  *at++ = '-';
  at = std::copy(parent.trace_id.begin(), parent.trace_id.end(), at);
  *at++ = '-';
  at = std::copy(parent.parent_id.begin(), parent.parent_id.end(), at);
  *at++ = '-';
  *at++ = kHex[parent.flags >> 4];
  *at = kHex[parent.flags & 0xf];
  return out;
}

bool valid_tracestate(std::string_view value) noexcept {
  return tracestate_members(value).has_value();
}

TraceContext TraceContext::start_span(const boost::beast::http::fields& incoming,
                                      IdRandom& random) {
  TraceContext context;
  std::optional<TraceParent> parent;
  // Two traceparent fields name no single parent: the trace restarts.
  const auto [first, last] = incoming.equal_range(kTraceparent);
  if (first != last && std::next(first) == last) parent = parse_traceparent(first->value());

  TraceParent span;
  if (parent) {
    span.trace_id = parent->trace_id;
    // Only the sampled flag is defined; the others must be sent as zero.
    span.flags = parent->flags & kSampledFlag;
    context.keep_tracestate(incoming);
  } else {
    write_hex(random(), span.trace_id.data());
    write_hex(nonzero_random(random), span.trace_id.data() + 16);
    span.flags = kSampledFlag;
  }
  write_hex(nonzero_random(random), span.parent_id.data());
  context.traceparent_ = format_traceparent(span);
  context.present_ = true;
  return context;
}

// RFC 9110 §5.3: several fields are one list, joined by ','. Kept only whole and valid, and only
// when it has a member (an empty tracestate should not be sent).
void TraceContext::keep_tracestate(const boost::beast::http::fields& incoming) {
  std::size_t size = 0;
  bool first = true;
  const auto [begin, end] = incoming.equal_range(kTracestate);
  for (auto field = begin; field != end; ++field) {
    const std::string_view value = field->value();
    const std::size_t needed = value.size() + (first ? 0 : 1);
    if (size + needed > kMaxTracestate) return;
    if (!first) tracestate_[size++] = ',';
    if (!value.empty()) std::memcpy(tracestate_.data() + size, value.data(), value.size());
    size += value.size();
    first = false;
  }
  const std::optional<std::size_t> members =
      tracestate_members(std::string_view(tracestate_.data(), size));
  if (members && *members > 0) tracestate_size_ = static_cast<std::uint16_t>(size);
}

bool is_trace_field(std::string_view name) noexcept {
  return iequals(name, kTraceparent) || iequals(name, kTracestate);
}

void TraceContext::add_to(AddedFields& added) const {
  if (!present_) return;
  added.add(kTraceparent, traceparent());
  if (tracestate_size_ > 0) added.add(kTracestate, tracestate());
}

void TraceContext::apply(boost::beast::http::fields& fields) const {
  fields.erase(kTraceparent);
  fields.erase(kTracestate);
  if (!present_) return;
  insert_unlisted(fields, kTraceparent, traceparent());
  if (tracestate_size_ > 0) insert_unlisted(fields, kTracestate, tracestate());
}

}  // namespace tollgate::http_io
