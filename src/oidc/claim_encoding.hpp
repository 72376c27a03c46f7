// How claims are written in their compact encoding (claim_store.hpp): the tags, and the encoder
// both readers of an answer's JSON write with, the nlohmann tree's (claim_store.cpp) and the text's
// own (claim_text.cpp). Private to src/oidc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tollgate/oidc/claim_store.hpp"

namespace tollgate::oidc::encoding {

// The encoding. Each value starts with a tag byte:
//   0x00 null, 0x01 false, 0x02 true
//   0x03 integer >= 0: varint
//   0x04 integer < 0: varint of -(value + 1)
//   0x05 double: 8 bytes (native order), then varint length + the text nlohmann's dump() gives it
//   0x06 array, 0x07 object: 4-byte (native order) length of the content, then the content:
//        the elements, or for each member its name (a string value) then its value
//   0x08 string: varint length + bytes
//   0x09 interned string: varint dictionary index
//   0x0a string written earlier in the same claims: varint distance back to its tag
//   0x0b integer from 2^21 to 2^32 - 1 (NumericDates): 4 bytes (native order), skipped without
//        decoding
//   0x40-0x7f string of (tag & 0x3f) bytes, which follow
//   0x80-0xff interned string with dictionary index (tag & 0x7f)
// Container lengths are fixed-width so they can be filled in after their content is written
// without moving it, which keeps every back reference's distance right.
enum Tag : std::uint8_t {
  kNull = 0x00,
  kFalse = 0x01,
  kTrue = 0x02,
  kNonNegative = 0x03,
  kNegative = 0x04,
  kDouble = 0x05,
  kArray = 0x06,
  kObject = 0x07,
  kString = 0x08,
  kInterned = 0x09,
  kBackReference = 0x0a,
  kNonNegative32 = 0x0b,
};
constexpr std::uint8_t kShortString = 0x40;
constexpr std::uint8_t kShortStringMax = 0x3f;
constexpr std::uint8_t kShortInterned = 0x80;
constexpr std::uint8_t kShortInternedMax = 0x7f;
constexpr std::size_t kContainerLengthBytes = sizeof(std::uint32_t);
// A back reference takes two or three bytes: shorter strings are cheaper written again.
constexpr std::size_t kMinBackReferenceLength = 4;

// Whether the string values of the claim `name` recur across tokens, and are therefore interned.
bool has_recurring_values(std::string_view name);

// Writes one JSON value at a time, in the order ClaimValue reads them: object members must come
// sorted by name, each name once (nlohmann's order), so that every reader of the same JSON writes
// the same bytes.
class Encoder {
 public:
  explicit Encoder(ClaimDictionary& dictionary) : dictionary_(dictionary) {}

  std::vector<std::uint8_t> take() { return std::move(out_); }

  void null() { out_.push_back(kNull); }
  void boolean(bool value) { out_.push_back(value ? kTrue : kFalse); }

  void non_negative(std::uint64_t number) {
    if (number >= (1u << 21) && number <= UINT32_MAX) {
      out_.push_back(kNonNegative32);
      const auto fixed = static_cast<std::uint32_t>(number);
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(&fixed);
      out_.insert(out_.end(), bytes, bytes + sizeof fixed);
    } else {
      out_.push_back(kNonNegative);
      varint(number);
    }
  }

  void integer(std::int64_t number) {
    if (number >= 0) {
      non_negative(static_cast<std::uint64_t>(number));
    } else {
      out_.push_back(kNegative);
      varint(static_cast<std::uint64_t>(-(number + 1)));  // INT64_MIN included
    }
  }

  // The double and, for writing it back, the exact text nlohmann's dump() gives it.
  void floating(double number, std::string_view text) {
    out_.push_back(kDouble);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&number);
    out_.insert(out_.end(), bytes, bytes + sizeof number);
    varint(text.size());
    out_.insert(out_.end(), text.begin(), text.end());
  }

  void string(std::string_view text, bool try_intern) {
    if (try_intern) {
      if (const std::optional<std::uint32_t> index = dictionary_.intern(text)) {
        if (*index <= kShortInternedMax) {
          out_.push_back(static_cast<std::uint8_t>(kShortInterned | *index));
        } else {
          out_.push_back(kInterned);
          varint(*index);
        }
        return;
      }
    }
    if (text.size() >= kMinBackReferenceLength) {
      const auto [earlier, first] = inline_strings_.try_emplace(text, out_.size());
      if (!first) {
        const std::size_t distance = out_.size() - earlier->second;
        out_.push_back(kBackReference);
        varint(distance);
        return;
      }
    }
    if (text.size() <= kShortStringMax) {
      out_.push_back(static_cast<std::uint8_t>(kShortString | text.size()));
    } else {
      out_.push_back(kString);
      varint(text.size());
    }
    out_.insert(out_.end(), text.begin(), text.end());
  }

  // An array or object: its tag, then write_content() writes the elements, or each member's name
  // (string(name, true)) and value.
  template <class WriteContent>
  void container(Tag tag, WriteContent write_content) {
    out_.push_back(tag);
    const std::size_t length_at = out_.size();
    out_.resize(out_.size() + kContainerLengthBytes);
    write_content();
    const std::size_t content_length = out_.size() - length_at - kContainerLengthBytes;
    if (content_length > UINT32_MAX) throw std::length_error("claims larger than 4 GiB");
    const auto length = static_cast<std::uint32_t>(content_length);
    std::memcpy(out_.data() + length_at, &length, sizeof length);
  }

 private:
  void varint(std::uint64_t number) {
    while (number >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(number | 0x80));
      number >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(number));
  }

  ClaimDictionary& dictionary_;
  std::vector<std::uint8_t> out_;
  // Inline strings written so far, by the offset of their tag: a repeat becomes a back reference.
  std::unordered_map<std::string_view, std::size_t> inline_strings_;
};

}  // namespace tollgate::oidc::encoding
