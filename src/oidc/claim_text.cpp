// JSON text read straight into the compact claim encoding. An introspection answer used to be
// parsed into an nlohmann tree (a node, a std::string and a map entry per value, built a character
// at a time) only to be walked once by the encoder and thrown away: most of an uncached request's
// instructions. Here the text is read once into a flat list of views into it, the objects' members
// sorted as nlohmann would keep them, and that list is encoded.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "claim_encoding.hpp"
#include "tollgate/oidc/claim_store.hpp"

namespace tollgate::oidc {
namespace {

using encoding::Encoder;

// One JSON value. Arrays and objects are followed by their contents' nodes; `end` is the index
// after the last of them.
struct Node {
  enum class Kind : std::uint8_t { null, boolean, non_negative, negative, string, array, object };
  Kind kind = Kind::null;
  bool truth = false;         // boolean
  std::uint32_t end = 0;      // the index after this value's nodes
  std::uint32_t members = 0;  // object: its first entry in Reader::members_
  std::uint32_t count = 0;    // object: how many entries there
  std::uint64_t number = 0;   // non_negative: the value; negative: its two's complement bits
  std::string_view text;      // string
  std::string_view name;      // the member's name, when the value is one
};

// The characters a string's plain run stops at: the quote, the backslash, control characters
// (invalid) and every byte outside ASCII (UTF-8 that nlohmann validates).
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> stop{};
  for (int c = 0; c < 256; ++c) stop[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
  return stop;
}();

// The value of a short escape's letter, or 0 for one left to nlohmann (\u) or invalid.
char short_escape(char letter) noexcept {
  switch (letter) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

class Reader {
 public:
  Reader(std::string_view text, int max_depth)
      : at_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {
    nodes_.reserve(32);
    members_.reserve(32);
  }

  // Whether the whole text is one value of the shape this reader takes.
  bool read() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return at_ == end_;
  }

  void write(Encoder& encoder, std::uint32_t index, bool intern_strings) const {
    const Node& node = nodes_[index];
    switch (node.kind) {
      case Node::Kind::null:
        encoder.null();
        return;
      case Node::Kind::boolean:
        encoder.boolean(node.truth);
        return;
      case Node::Kind::non_negative:
        encoder.non_negative(node.number);
        return;
      case Node::Kind::negative:
        encoder.integer(static_cast<std::int64_t>(node.number));
        return;
      case Node::Kind::string:
        encoder.string(node.text, intern_strings);
        return;
      case Node::Kind::array:
        encoder.container(encoding::kArray, [&] {
          for (std::uint32_t i = index + 1; i < node.end; i = nodes_[i].end) {
            write(encoder, i, intern_strings);
          }
        });
        return;
      case Node::Kind::object:
        encoder.container(encoding::kObject, [&] {
          for (std::uint32_t m = node.members; m < node.members + node.count; ++m) {
            const Node& member = nodes_[members_[m]];
            encoder.string(member.name, /*try_intern=*/true);
            write(encoder, members_[m], encoding::has_recurring_values(member.name));
          }
        });
        return;
    }
  }

 private:
  void skip_space() noexcept {
    while (at_ != end_ && (*at_ == ' ' || *at_ == '\n' || *at_ == '\r' || *at_ == '\t')) ++at_;
  }

  bool take(char c) noexcept {
    if (at_ == end_ || *at_ != c) return false;
    ++at_;
    return true;
  }

  std::uint32_t add(Node::Kind kind) {
    Node node;
    node.kind = kind;
    nodes_.push_back(node);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  bool value(int depth) {
    if (at_ == end_) return false;
    // `depth` arrays and objects enclose this value: one more would be too many.
    if ((*at_ == '{' || *at_ == '[') && depth >= max_depth_) return false;
    const std::size_t index = nodes_.size();
    bool ok = false;
    switch (*at_) {
      case '{':
        ok = object(depth);
        break;
      case '[':
        ok = array(depth);
        break;
      case '"': {
        std::string_view text;
        ok = string(text);
        if (ok) nodes_[add(Node::Kind::string)].text = text;
        break;
      }
      case 't':
        ok = literal("true");
        if (ok) nodes_[add(Node::Kind::boolean)].truth = true;
        break;
      case 'f':
        ok = literal("false");
        if (ok) add(Node::Kind::boolean);
        break;
      case 'n':
        ok = literal("null");
        if (ok) add(Node::Kind::null);
        break;
      default:
        ok = number();
        break;
    }
    if (ok) nodes_[index].end = static_cast<std::uint32_t>(nodes_.size());
    return ok;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - at_) < word.size()) return false;
    if (std::string_view(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // An integer in nlohmann's types: non-negative ones as uint64, negative ones as int64. A
  // fraction, an exponent or a value outside both (a double to nlohmann) is left to it.
  bool number() {
    const char* const start = at_;
    const bool negative = take('-');
    if (at_ == end_ || !is_digit(*at_)) return false;
    if (*at_ == '0') {
      ++at_;
    } else {
      while (at_ != end_ && is_digit(*at_)) ++at_;
    }
    if (at_ != end_ && (*at_ == '.' || *at_ == 'e' || *at_ == 'E' || is_digit(*at_))) return false;
    if (negative) {
      std::int64_t value = 0;
      if (std::from_chars(start, at_, value).ec != std::errc{}) return false;
      nodes_[add(Node::Kind::negative)].number = static_cast<std::uint64_t>(value);
    } else {
      std::uint64_t value = 0;
      if (std::from_chars(start, at_, value).ec != std::errc{}) return false;
      nodes_[add(Node::Kind::non_negative)].number = value;
    }
    return true;
  }

  // A string's text: a view into the input, or into unescaped_ when it holds escapes.
  bool string(std::string_view& text) {
    ++at_;  // the opening quote
    const char* run = at_;
    while (at_ != end_ && !kStringStop[static_cast<unsigned char>(*at_)]) ++at_;
    if (at_ != end_ && *at_ == '"') {
      text = std::string_view(run, static_cast<std::size_t>(at_ - run));
      ++at_;
      return true;
    }
    // Escapes: the text is copied out, unescaped. All of the input fits, so unescaped_ never
    // grows past what it reserves here, and earlier views into it stay valid.
    if (unescaped_.empty()) unescaped_.reserve(static_cast<std::size_t>(end_ - run));
    const std::size_t begin = unescaped_.size();
    for (;;) {
      unescaped_.append(run, static_cast<std::size_t>(at_ - run));
      if (at_ == end_) return false;
      if (*at_ == '"') break;
      if (*at_ != '\\' || end_ - at_ < 2) return false;  // control, non-ASCII, or a lone backslash
      const char unescaped = short_escape(at_[1]);
      if (unescaped == 0) return false;
      unescaped_.push_back(unescaped);
      at_ += 2;
      run = at_;
      while (at_ != end_ && !kStringStop[static_cast<unsigned char>(*at_)]) ++at_;
    }
    ++at_;
    text = std::string_view(unescaped_).substr(begin);
    return true;
  }

  bool array(int depth) {
    add(Node::Kind::array);
    ++at_;
    skip_space();
    if (take(']')) return true;
    for (;;) {
      if (!value(depth + 1)) return false;
      skip_space();
      if (take(']')) return true;
      if (!take(',')) return false;
      skip_space();
    }
  }

  bool object(int depth) {
    const std::uint32_t index = add(Node::Kind::object);
    const std::size_t first_pending = pending_.size();
    ++at_;
    skip_space();
    if (!take('}')) {
      for (;;) {
        std::string_view name;
        if (at_ == end_ || *at_ != '"' || !string(name)) return false;
        skip_space();
        if (!take(':')) return false;
        skip_space();
        const auto value_index = static_cast<std::uint32_t>(nodes_.size());
        if (!value(depth + 1)) return false;
        nodes_[value_index].name = name;
        pending_.emplace_back(name, value_index);
        skip_space();
        if (take('}')) break;
        if (!take(',')) return false;
        skip_space();
      }
    }
    keep_members(index, first_pending);
    return true;
  }

  // The object's members as nlohmann keeps them: sorted by name, and of a name given more than
  // once only the last. pending_ holds them from first_pending on, in the order they came.
  void keep_members(std::uint32_t object, std::size_t first_pending) {
    const auto first = pending_.begin() + static_cast<std::ptrdiff_t>(first_pending);
    std::sort(first, pending_.end());  // by name, then by position
    Node& node = nodes_[object];
    node.members = static_cast<std::uint32_t>(members_.size());
    for (auto member = first; member != pending_.end(); ++member) {
      const bool overridden = member + 1 != pending_.end() && (member + 1)->first == member->first;
      if (!overridden) members_.push_back(member->second);
    }
    node.count = static_cast<std::uint32_t>(members_.size()) - node.members;
    pending_.erase(first, pending_.end());
  }

  const char* at_;
  const char* const end_;
  const int max_depth_;  // the reader recurses once per level
  std::vector<Node> nodes_;
  // Members of the objects being read: name and the index of the value's node.
  std::vector<std::pair<std::string_view, std::uint32_t>> pending_;
  std::vector<std::uint32_t> members_;  // each object's members, as keep_members() leaves them
  std::string unescaped_;
};

}  // namespace

std::optional<std::vector<std::uint8_t>> encode_claims_text(std::string_view text,
                                                            ClaimDictionary& dictionary,
                                                            int max_depth) {
  Reader reader(text, max_depth);
  if (!reader.read()) return std::nullopt;
  Encoder encoder(dictionary);
  reader.write(encoder, 0, /*intern_strings=*/false);
  return encoder.take();
}

}  // namespace tollgate::oidc
