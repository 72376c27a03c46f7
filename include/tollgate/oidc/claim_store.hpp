// The compact form an introspection answer's claims are cached in: the parsed JSON re-encoded as a
// small immutable byte string, read in place without allocating.
//
// A cached token is mostly its claims, and most of the claims' bytes repeat across tokens (claim
// names, issuer, audience, client id, scope). A parsed JSON tree costs about 1.8 KB for an
// Okta-shaped answer; the encoding below costs under 100 bytes:
//   - claim names and the values of low-cardinality claims are stored once per process in a
//     bounded ClaimDictionary and referenced by index (one byte for the first 128 strings);
//   - a string repeated within one answer (Okta's sub and username) is a reference back to its
//     first occurrence;
//   - integers are varints (NumericDates four bytes), short strings carry their length in their
//     tag byte.
// Objects keep nlohmann's member order (sorted by name, last duplicate wins), so the JSON written
// back is byte for byte what nlohmann's dump() writes for the parsed answer.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tollgate::oidc {

// Strings that recur across answers, each stored once. Append-only and bounded: an entry never
// moves or changes once added, so readers resolve an index without any lock, and adding takes no
// lock either (atomic slots). When it is full, or for a string longer than max_length, intern()
// says no and the encoder stores the string inline: a flood of unique values cannot grow it.
class ClaimDictionary {
 public:
  struct Limits {
    std::uint32_t max_entries = 4096;
    std::uint32_t max_bytes = 128 * 1024;  // text of all entries together
    std::uint32_t max_length = 256;        // longer strings are never interned
  };

  // Starts with the well-known claim names (RFC 7662, RFC 9068, OIDC, Okta, Keycloak), so each
  // takes one byte in every answer.
  explicit ClaimDictionary(Limits limits);
  ClaimDictionary() : ClaimDictionary(Limits{}) {}
  ~ClaimDictionary();
  ClaimDictionary(const ClaimDictionary&) = delete;
  ClaimDictionary& operator=(const ClaimDictionary&) = delete;

  // The dictionary answers are encoded with; it lives as long as the process.
  static ClaimDictionary& shared();

  // The index of `text`, added if there is room; nullopt when there is none. Once refused, a
  // string is always refused (the dictionary only fills up), and a string has only one index.
  std::optional<std::uint32_t> intern(std::string_view text);
  // The index of `text` if it is in, without adding it.
  std::optional<std::uint32_t> find(std::string_view text) const noexcept;
  // The text of an index intern() returned.
  std::string_view text(std::uint32_t index) const noexcept {
    const Entry& entry = entries_[index];
    return {entry.text, entry.length};
  }
  // Indexes handed out so far (a string raced in by two threads at once may take two).
  std::uint32_t size() const noexcept;
  const Limits& limits() const noexcept { return limits_; }

 private:
  struct Entry {
    const char* text;  // in arena_: one load finds a string (claim lookups read many)
    std::uint32_t length;
  };
  std::uint32_t first_slot(std::string_view text) const noexcept;
  // Reserves an index and room for `text`, and copies it there; nullopt when full.
  std::optional<std::uint32_t> add_entry(std::string_view text);

  Limits limits_;
  std::unique_ptr<char[]> arena_;
  std::unique_ptr<Entry[]> entries_;
  // Open addressing over entries: 0 is empty, else index + 1. Twice as many slots as entries, so
  // a probe always ends at an empty slot or a match.
  std::unique_ptr<std::atomic<std::uint32_t>[]> slots_;
  std::uint32_t slot_mask_;
  std::atomic<std::uint32_t> entry_count_{0};
  std::atomic<std::uint32_t> bytes_used_{0};
};

struct ClaimMember;

// One JSON value inside encoded claims, or no value at all (a failed lookup). A view: cheap to
// copy, valid while the encoded bytes live (for an answer, while its IntrospectionPtr is held).
class ClaimValue {
 public:
  enum class Type : std::uint8_t { absent, null, boolean, number, string, array, object };

  ClaimValue() = default;  // absent
  ClaimValue(const std::uint8_t* encoded, const ClaimDictionary* dictionary) noexcept
      : at_(encoded), dictionary_(dictionary) {}

  Type type() const noexcept { return at_ == nullptr ? Type::absent : kTypeOfTag[*at_]; }
  explicit operator bool() const noexcept { return at_ != nullptr; }
  bool is_null() const noexcept { return type() == Type::null; }
  bool is_boolean() const noexcept { return type() == Type::boolean; }
  bool is_number() const noexcept { return type() == Type::number; }
  bool is_string() const noexcept { return type() == Type::string; }
  bool is_array() const noexcept { return type() == Type::array; }
  bool is_object() const noexcept { return type() == Type::object; }

  bool boolean() const noexcept;   // false unless a boolean
  double number() const noexcept;  // 0 unless a number; integers converted as nlohmann does
  std::string_view string() const noexcept;  // empty unless a string

  // The member `key` of an object; absent when there is none or this is no object.
  ClaimValue find(std::string_view key) const noexcept;

  using Member = ClaimMember;
  class ElementIterator;
  class MemberIterator;
  template <class Iterator>
  struct Range {
    Iterator first;
    Iterator last;
    Iterator begin() const noexcept { return first; }
    Iterator end() const noexcept { return last; }
  };
  // An array's elements, an object's members in name order; empty for anything else.
  Range<ElementIterator> elements() const noexcept;
  Range<MemberIterator> members() const noexcept;

  // Compact JSON, exactly as nlohmann's dump() writes the parsed value; empty when absent.
  std::string dump() const;
  // The bytes its encoding takes; 0 when absent.
  std::size_t encoded_size() const noexcept;
  void dump_to(std::string& out) const;

  // The value as an nlohmann tree (null when absent): for tests and tools, never the hot path.
  nlohmann::json to_json() const;

 private:
  static const std::array<Type, 256> kTypeOfTag;  // type() on every read, so a table

  const std::uint8_t* at_ = nullptr;  // the value's tag byte
  const ClaimDictionary* dictionary_ = nullptr;
};

struct ClaimMember {
  std::string_view key;
  ClaimValue value;
};

class ClaimValue::ElementIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = ClaimValue;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = ClaimValue;

  ElementIterator() = default;
  ElementIterator(const std::uint8_t* at, const ClaimDictionary* dictionary) noexcept
      : at_(at), dictionary_(dictionary) {}
  ClaimValue operator*() const noexcept { return {at_, dictionary_}; }
  ElementIterator& operator++() noexcept;
  ElementIterator operator++(int) noexcept {
    ElementIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const ElementIterator& other) const noexcept { return at_ == other.at_; }

 private:
  const std::uint8_t* at_ = nullptr;
  const ClaimDictionary* dictionary_ = nullptr;
};

class ClaimValue::MemberIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = Member;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = Member;

  MemberIterator() = default;
  MemberIterator(const std::uint8_t* at, const ClaimDictionary* dictionary) noexcept
      : at_(at), dictionary_(dictionary) {}
  Member operator*() const noexcept;
  MemberIterator& operator++() noexcept;
  MemberIterator operator++(int) noexcept {
    MemberIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const MemberIterator& other) const noexcept { return at_ == other.at_; }

 private:
  const std::uint8_t* at_ = nullptr;  // the member's key
  const ClaimDictionary* dictionary_ = nullptr;
};

// Any JSON value (nlohmann's parse output: no binary values) encoded for ClaimValue. Names are
// interned in `dictionary`, and so are the string values of claims whose values recur across
// tokens (iss, aud, scope, client_id, groups, roles...), while it has room.
std::vector<std::uint8_t> encode_claims(const nlohmann::json& value, ClaimDictionary& dictionary);

// JSON text encoded for ClaimValue without a tree in between: byte for byte what encode_claims()
// writes for nlohmann's parse of it, at a fraction of the cost. It reads the shape introspection
// answers take: objects, arrays, ASCII strings with the short escapes (\" \\ \/ \b \f \n \r
// \t), integers that fit 64 bits, true, false and null. Anything else (a fraction or exponent, a
// \u escape, a byte outside ASCII, a byte order mark), text nesting arrays and objects more
// than max_depth deep, and text that is no JSON, give nullopt: the caller then decides, with
// nlohmann.
std::optional<std::vector<std::uint8_t>> encode_claims_text(std::string_view text,
                                                            ClaimDictionary& dictionary,
                                                            int max_depth = 64);

// Encoded claims that own their bytes: for tests and tools. Answers keep theirs inside the
// Introspection itself.
class EncodedClaims {
 public:
  explicit EncodedClaims(const nlohmann::json& value,
                         ClaimDictionary& dictionary = ClaimDictionary::shared())
      : bytes_(encode_claims(value, dictionary)), dictionary_(&dictionary) {}
  ClaimValue root() const noexcept { return {bytes_.data(), dictionary_}; }
  std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  const ClaimDictionary* dictionary_;
};

}  // namespace tollgate::oidc
