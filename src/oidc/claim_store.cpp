#include "tollgate/oidc/claim_store.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "claim_encoding.hpp"

namespace tollgate::oidc {
using namespace encoding;
namespace {

using json = nlohmann::json;

// Claim names IdPs send in most answers: interned first, so each costs one byte.
constexpr std::array<std::string_view, 44> kWellKnownNames = {
    "active",
    "scope",
    "scp",
    "client_id",
    "cid",
    "username",
    "exp",
    "iat",
    "nbf",
    "sub",
    "aud",
    "iss",
    "jti",
    "token_type",
    "uid",
    "groups",
    "roles",
    "realm_access",
    "resource_access",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "session_state",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "typ",
    "tid",
    "ver",
    "oid",
    "appid",
    "allowed-origins",
    "cnf",
    "act",
    "client_ids",
    "entitlements",
    "x5t#S256",
    "Bearer",
    "access_token",
};

// Claims whose values are shared by many tokens (one issuer, a few audiences, clients, scope
// sets, group names): their strings are interned. Values unique to a token (sub, jti, exp...)
// are not, so they never take the dictionary's room.
constexpr std::array<std::string_view, 18> kRecurringValueClaims = {
    "iss", "aud",        "scope", "scp",    "client_id",       "cid",
    "azp", "token_type", "typ",   "groups", "roles",           "acr",
    "amr", "tid",        "ver",   "appid",  "allowed-origins", "entitlements",
};

// ---- reading -----------------------------------------------------------------------------------

std::uint64_t read_varint(const std::uint8_t*& at) noexcept {
  std::uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    const std::uint8_t byte = *at++;
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
}

std::uint32_t read_container_length(const std::uint8_t* at) noexcept {
  std::uint32_t length;
  std::memcpy(&length, at, sizeof length);
  return length;
}

const std::uint8_t* container_content(const std::uint8_t* tag) noexcept {
  return tag + 1 + kContainerLengthBytes;
}

const std::uint8_t* container_end(const std::uint8_t* tag) noexcept {
  return container_content(tag) + read_container_length(tag + 1);
}

bool is_string_tag(std::uint8_t tag) noexcept {
  return tag >= kShortString || tag == kString || tag == kInterned || tag == kBackReference;
}

// The text of the string value whose tag is at `tag`.
std::string_view read_string(const std::uint8_t* tag, const ClaimDictionary& dictionary) noexcept {
  if (*tag == kBackReference) {
    const std::uint8_t* at = tag + 1;
    tag -= read_varint(at);  // always an inline string
  }
  if (*tag >= kShortInterned) return dictionary.text(*tag & kShortInternedMax);
  if (*tag >= kShortString) {
    return {reinterpret_cast<const char*>(tag + 1),
            static_cast<std::size_t>(*tag & kShortStringMax)};
  }
  const std::uint8_t* at = tag + 1;
  const std::uint64_t number = read_varint(at);
  if (*tag == kInterned) return dictionary.text(static_cast<std::uint32_t>(number));
  return {reinterpret_cast<const char*>(at), static_cast<std::size_t>(number)};
}

// skip() for every tag but the short ones.
const std::uint8_t* skip_long(const std::uint8_t* tag) noexcept {
  const std::uint8_t* at = tag + 1;
  switch (*tag) {
    case kNull:
    case kFalse:
    case kTrue:
      return at;
    case kNonNegative:
    case kNegative:
    case kInterned:
    case kBackReference:
      read_varint(at);
      return at;
    case kNonNegative32:
      return at + sizeof(std::uint32_t);
    case kDouble: {
      at += sizeof(double);
      const std::uint64_t text_length = read_varint(at);
      return at + text_length;
    }
    case kArray:
    case kObject:
      return container_end(tag);
    case kString: {
      const std::uint64_t length = read_varint(at);
      return at + length;
    }
    default:
      return at;  // never written
  }
}

// The byte after the value whose tag is at `tag`. Inline for the short strings and interned
// strings most names and values are: lookups skip a dozen of them.
inline const std::uint8_t* skip(const std::uint8_t* tag) noexcept {
  const std::uint8_t byte = *tag;
  if (byte >= kShortInterned) return tag + 1;
  if (byte >= kShortString) return tag + 1 + (byte & kShortStringMax);
  if (byte == kNonNegative32) return tag + 1 + sizeof(std::uint32_t);
  return skip_long(tag);
}

double read_double(const std::uint8_t* tag) noexcept {
  double value;
  std::memcpy(&value, tag + 1, sizeof value);
  return value;
}

std::string_view read_double_text(const std::uint8_t* tag) noexcept {
  const std::uint8_t* at = tag + 1 + sizeof(double);
  const std::uint64_t length = read_varint(at);
  return {reinterpret_cast<const char*>(at), static_cast<std::size_t>(length)};
}

// Integers as nlohmann's parser types them: non-negative ones unsigned, negative ones signed.
std::uint64_t read_non_negative(const std::uint8_t* tag) noexcept {
  if (*tag == kNonNegative32) {
    std::uint32_t value;
    std::memcpy(&value, tag + 1, sizeof value);
    return value;
  }
  const std::uint8_t* at = tag + 1;
  return read_varint(at);
}

std::int64_t read_negative(const std::uint8_t* tag) noexcept {
  const std::uint8_t* at = tag + 1;
  return -static_cast<std::int64_t>(read_varint(at)) - 1;
}

// As nlohmann's dump() escapes a string when ensure_ascii is off: the two-character escapes,
// \u00xx for the other control characters, everything else (UTF-8 included) as is.
const char* escape_for(char ch) noexcept {
  static constexpr std::array<const char*, 0x20> kControl = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
  const auto byte = static_cast<unsigned char>(ch);
  if (byte < 0x20) return kControl[byte];
  if (ch == '"') return "\\\"";
  if (ch == '\\') return "\\\\";
  return nullptr;
}

bool needs_escape(char ch) noexcept {
  const auto byte = static_cast<unsigned char>(ch);
  return byte < 0x20 || ch == '"' || ch == '\\';
}

void append_escaped(std::string& out, std::string_view text) {
  std::size_t plain_from = 0;  // characters that need no escape are appended a run at a time
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (needs_escape(text[i])) {
      out.append(text.data() + plain_from, i - plain_from);
      out += escape_for(text[i]);
      plain_from = i + 1;
    }
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// ---- writing -----------------------------------------------------------------------------------

// The nlohmann tree `value` (its objects already in name order, each name once).
void write_json(Encoder& encoder, const json& value, bool intern_strings) {
  switch (value.type()) {
    case json::value_t::null:
      encoder.null();
      return;
    case json::value_t::boolean:
      encoder.boolean(value.get<bool>());
      return;
    case json::value_t::number_unsigned:
      encoder.non_negative(value.get<std::uint64_t>());
      return;
    case json::value_t::number_integer:
      encoder.integer(value.get<std::int64_t>());
      return;
    case json::value_t::number_float:
      encoder.floating(value.get<double>(), value.dump());
      return;
    case json::value_t::string:
      encoder.string(value.get_ref<const std::string&>(), intern_strings);
      return;
    case json::value_t::array:
      encoder.container(kArray, [&] {
        for (const json& element : value) write_json(encoder, element, intern_strings);
      });
      return;
    case json::value_t::object:
      encoder.container(kObject, [&] {
        for (auto member = value.begin(); member != value.end(); ++member) {
          encoder.string(member.key(), /*try_intern=*/true);
          write_json(encoder, member.value(), has_recurring_values(member.key()));
        }
      });
      return;
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  throw std::invalid_argument("claims hold no binary or discarded values");
}

}  // namespace

bool encoding::has_recurring_values(std::string_view name) {
  return std::find(kRecurringValueClaims.begin(), kRecurringValueClaims.end(), name) !=
         kRecurringValueClaims.end();
}

// ---- ClaimDictionary ---------------------------------------------------------------------------

ClaimDictionary::ClaimDictionary(Limits limits)
    : limits_(limits),
      arena_(new char[limits.max_bytes]),
      entries_(new Entry[limits.max_entries]),
      slots_(new std::atomic<std::uint32_t>[std::bit_ceil(2 * std::max(limits.max_entries, 1u))]),
      slot_mask_(std::bit_ceil(2 * std::max(limits.max_entries, 1u)) - 1) {
  for (std::uint32_t i = 0; i <= slot_mask_; ++i) slots_[i].store(0, std::memory_order_relaxed);
  for (std::string_view name : kWellKnownNames) intern(name);
}

ClaimDictionary::~ClaimDictionary() = default;

// FNV-1a: claim names are short, and a lookup hashes one on every find().
std::uint32_t ClaimDictionary::first_slot(std::string_view text) const noexcept {
  std::uint64_t hash = 0xcbf29ce484222325;
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 0x100000001b3;
  }
  return static_cast<std::uint32_t>(hash ^ (hash >> 32)) & slot_mask_;
}

ClaimDictionary& ClaimDictionary::shared() {
  // Never destroyed: answers held by other static objects may still read it at exit.
  static ClaimDictionary* const dictionary = new ClaimDictionary();
  return *dictionary;
}

std::uint32_t ClaimDictionary::size() const noexcept {
  return std::min(entry_count_.load(std::memory_order_acquire), limits_.max_entries);
}

std::optional<std::uint32_t> ClaimDictionary::add_entry(std::string_view text) {
  std::uint32_t index = entry_count_.load(std::memory_order_relaxed);
  do {
    if (index >= limits_.max_entries) return std::nullopt;
  } while (!entry_count_.compare_exchange_weak(index, index + 1, std::memory_order_relaxed));
  std::uint32_t offset = bytes_used_.load(std::memory_order_relaxed);
  do {
    // The index stays reserved, unused: the bound on entries still holds.
    if (text.size() > limits_.max_bytes - offset) return std::nullopt;
  } while (!bytes_used_.compare_exchange_weak(
      offset, offset + static_cast<std::uint32_t>(text.size()), std::memory_order_relaxed));
  std::memcpy(arena_.get() + offset, text.data(), text.size());
  entries_[index] = Entry{arena_.get() + offset, static_cast<std::uint32_t>(text.size())};
  return index;
}

std::optional<std::uint32_t> ClaimDictionary::find(std::string_view text) const noexcept {
  if (text.size() > limits_.max_length) return std::nullopt;
  for (std::uint32_t slot = first_slot(text);; slot = (slot + 1) & slot_mask_) {
    const std::uint32_t held = slots_[slot].load(std::memory_order_acquire);
    if (held == 0) return std::nullopt;
    if (this->text(held - 1) == text) return held - 1;
  }
}

// A string is only ever in the first slot, in its probe order, that was empty when it was added:
// two threads adding it at once race for that same slot, and the loser takes the winner's index.
// So each string has one index, and comparing indexes compares strings.
std::optional<std::uint32_t> ClaimDictionary::intern(std::string_view text) {
  if (text.size() > limits_.max_length) return std::nullopt;
  std::optional<std::uint32_t> added;
  for (std::uint32_t slot = first_slot(text);; slot = (slot + 1) & slot_mask_) {
    std::uint32_t held = slots_[slot].load(std::memory_order_acquire);
    if (held == 0) {
      if (!added) {
        added = add_entry(text);
        if (!added) return std::nullopt;
      }
      // Release: whoever reads this slot sees the entry's text written.
      if (slots_[slot].compare_exchange_strong(held, *added + 1, std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
        return added;
      }
      // Another thread filled this slot first; `held` is what it stored.
    }
    if (this->text(held - 1) == text) return held - 1;
  }
}

// ---- ClaimValue --------------------------------------------------------------------------------

const std::array<ClaimValue::Type, 256> ClaimValue::kTypeOfTag = [] {
  std::array<Type, 256> types{};
  types.fill(Type::absent);  // tags never written
  types[kNull] = Type::null;
  types[kFalse] = types[kTrue] = Type::boolean;
  types[kNonNegative] = types[kNonNegative32] = types[kNegative] = types[kDouble] = Type::number;
  types[kArray] = Type::array;
  types[kObject] = Type::object;
  types[kString] = types[kInterned] = types[kBackReference] = Type::string;
  for (std::size_t tag = kShortString; tag < types.size(); ++tag) types[tag] = Type::string;
  return types;
}();

bool ClaimValue::boolean() const noexcept {
  return at_ != nullptr && *at_ == kTrue;
}

double ClaimValue::number() const noexcept {
  if (at_ == nullptr) return 0;
  switch (*at_) {
    case kNonNegative:
    case kNonNegative32:
      return static_cast<double>(read_non_negative(at_));
    case kNegative:
      return static_cast<double>(read_negative(at_));
    case kDouble:
      return read_double(at_);
    default:
      return 0;
  }
}

std::string_view ClaimValue::string() const noexcept {
  if (at_ == nullptr || !is_string_tag(*at_)) return {};
  return read_string(at_, *dictionary_);
}

// Every request reads a few claims by name, each a walk over the members in name order. Most
// names are one interned byte, and most are told apart from the one looked up by their length or
// first byte, before any memcmp; the walk stops at the first name whose first byte sorts after.
ClaimValue ClaimValue::find(std::string_view key) const noexcept {
  if (at_ == nullptr || *at_ != kObject) return {};
  const std::uint8_t* const end = container_end(at_);
  const std::uint8_t* name = container_content(at_);
  if (key.empty()) {  // "" sorts first: it is the first member or none
    if (name != end && read_string(name, *dictionary_).empty()) return {skip(name), dictionary_};
    return {};
  }
  const auto wanted = static_cast<unsigned char>(key.front());
  while (name != end) {
    std::string_view text;
    const std::uint8_t* value;
    if (*name >= kShortInterned) {
      text = dictionary_->text(*name & kShortInternedMax);
      value = name + 1;
    } else {
      text = read_string(name, *dictionary_);
      value = skip(name);
    }
    if (!text.empty()) {
      const auto first = static_cast<unsigned char>(text.front());
      if (first == wanted && text.size() == key.size() &&
          std::memcmp(text.data(), key.data(), key.size()) == 0) {
        return {value, dictionary_};
      }
      if (first > wanted) break;  // and so are all the names after it
    }
    name = skip(value);
  }
  return {};
}

ClaimValue::ElementIterator& ClaimValue::ElementIterator::operator++() noexcept {
  at_ = skip(at_);
  return *this;
}

ClaimValue::Member ClaimValue::MemberIterator::operator*() const noexcept {
  return {read_string(at_, *dictionary_), ClaimValue(skip(at_), dictionary_)};
}

ClaimValue::MemberIterator& ClaimValue::MemberIterator::operator++() noexcept {
  at_ = skip(skip(at_));
  return *this;
}

ClaimValue::Range<ClaimValue::ElementIterator> ClaimValue::elements() const noexcept {
  if (at_ == nullptr || *at_ != kArray) return {};
  return {{container_content(at_), dictionary_}, {container_end(at_), dictionary_}};
}

ClaimValue::Range<ClaimValue::MemberIterator> ClaimValue::members() const noexcept {
  if (at_ == nullptr || *at_ != kObject) return {};
  return {{container_content(at_), dictionary_}, {container_end(at_), dictionary_}};
}

std::size_t ClaimValue::encoded_size() const noexcept {
  return at_ == nullptr ? 0 : static_cast<std::size_t>(skip(at_) - at_);
}

std::string ClaimValue::dump() const {
  std::string out;
  if (is_array() || is_object()) {
    out.reserve(2 * (container_end(at_) - at_) + 64);  // names and interned values grow back
  }
  dump_to(out);
  return out;
}

void ClaimValue::dump_to(std::string& out) const {
  switch (type()) {
    case Type::absent:
      return;
    case Type::null:
      out += "null";
      return;
    case Type::boolean:
      out += boolean() ? "true" : "false";
      return;
    case Type::number:
      if (*at_ == kNegative) {
        append_integer(out, read_negative(at_));
      } else if (*at_ == kDouble) {
        out += read_double_text(at_);
      } else {
        append_integer(out, read_non_negative(at_));
      }
      return;
    case Type::string:
      out += '"';
      append_escaped(out, string());
      out += '"';
      return;
    case Type::array: {
      out += '[';
      bool first = true;
      for (const ClaimValue element : elements()) {
        if (!first) out += ',';
        first = false;
        element.dump_to(out);
      }
      out += ']';
      return;
    }
    case Type::object: {
      out += '{';
      bool first = true;
      for (const Member member : members()) {
        if (!first) out += ',';
        first = false;
        out += '"';
        append_escaped(out, member.key);
        out += "\":";
        member.value.dump_to(out);
      }
      out += '}';
      return;
    }
  }
}

json ClaimValue::to_json() const {
  switch (type()) {
    case Type::absent:
    case Type::null:
      return nullptr;
    case Type::boolean:
      return boolean();
    case Type::number:
      if (*at_ == kNegative) return read_negative(at_);
      if (*at_ == kDouble) return read_double(at_);
      return read_non_negative(at_);
    case Type::string:
      return std::string(string());
    case Type::array: {
      json out = json::array();
      for (const ClaimValue element : elements()) out.push_back(element.to_json());
      return out;
    }
    case Type::object: {
      json out = json::object();
      for (const Member member : members()) out[std::string(member.key)] = member.value.to_json();
      return out;
    }
  }
  return nullptr;
}

std::vector<std::uint8_t> encode_claims(const json& value, ClaimDictionary& dictionary) {
  Encoder encoder(dictionary);
  write_json(encoder, value, /*intern_strings=*/false);
  return encoder.take();
}

}  // namespace tollgate::oidc
