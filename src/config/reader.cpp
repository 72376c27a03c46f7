// Typed, position-aware reading of YAML nodes. Every failure is a ConfigException carrying the
// file, the 1-based line and column, the key path and a message that says what was expected.
#include "tollgate/config/reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

namespace tollgate::config {

namespace {

// A secret file larger than this is a mistake (a certificate bundle, /dev/zero), not a secret.
constexpr std::size_t max_secret_file_bytes = 64 * 1024;

std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return in_quotes(node.Scalar());
    default:
      return "nothing";
  }
}

bool is_null_mark(const YAML::Mark& mark) {
  return mark.line < 0 || mark.column < 0;
}

// A value written as nothing (`key:`) carries the position of the next token, which may be lines
// further down; the key's own position is what the user wants to see.
YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value) {
  if (value.IsNull() || is_null_mark(value.Mark())) return key.Mark();
  return value.Mark();
}

// Parses "<digits><unit>" with `unit` looked up in `units`; nullopt when the text has another shape
// or the result does not fit.
template <std::size_t N>
std::optional<std::uint64_t> parse_with_unit(
    std::string_view text, const std::pair<std::string_view, std::uint64_t> (&units)[N],
    std::uint64_t bare_factor) {
  std::uint64_t number = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || rest == text.data()) return std::nullopt;
  std::string_view unit(rest, text.data() + text.size() - rest);
  std::uint64_t factor = 0;
  if (unit.empty()) {
    factor = bare_factor;
  } else {
    for (const auto& [name, value] : units) {
      if (unit == name) factor = value;
    }
    if (factor == 0) return std::nullopt;
  }
  if (number > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
  return number * factor;
}

constexpr std::pair<std::string_view, std::uint64_t> duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

constexpr std::pair<std::string_view, std::uint64_t> size_units[] = {
    {"B", 1},      {"KB", 1000},         {"MB", 1000 * 1000},        {"GB", 1000 * 1000 * 1000},
    {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}};

// Restricted Damerau-Levenshtein (optimal string alignment) distance, case-insensitive: a swapped
// pair of letters ("okat" for "okta") counts as one typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string read_secret_file(const Reader& path_reader) {
  if (!path_reader.node().IsScalar()) path_reader.fail("expected a file path");
  const std::string path = path_reader.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    path_reader.fail("cannot read secret file " + in_quotes(path) + ": it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    path_reader.fail("cannot read secret file " + in_quotes(path) + ": " + std::strerror(errno));
  }
  std::string content(max_secret_file_bytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) path_reader.fail("cannot read secret file " + in_quotes(path));
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > max_secret_file_bytes) {
    path_reader.fail("secret file " + in_quotes(path) + " is larger than 64KiB");
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  if (content.empty()) path_reader.fail("secret file " + in_quotes(path) + " is empty");
  return content;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ConfigError

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

ConfigException::ConfigException(ConfigError error)
    : std::runtime_error(error.to_string()), error_(std::move(error)) {}

// ---------------------------------------------------------------------------------------------
// Reader: structure

Reader::Reader(YAML::Node node, std::string key_path, std::shared_ptr<const std::string> file)
    : node_(std::move(node)),
      mark_(node_.Mark()),
      key_path_(std::move(key_path)),
      file_(std::move(file)) {}

bool Reader::present() const {
  return node_.IsDefined() && !node_.IsNull();
}

Reader Reader::operator[](std::string_view key) const {
  std::string child_path =
      key_path_.empty() ? std::string(key) : key_path_ + "." + std::string(key);
  Reader child(YAML::Node(YAML::NodeType::Undefined), std::move(child_path), file_);
  child.mark_ = mark_;
  if (!present()) return child;
  expect_map();
  bool found = false;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar() != key) continue;
    if (found) {
      child.mark_ = it->first.Mark();
      child.fail("duplicate key");
    }
    found = true;
    child.node_ = it->second;
    child.mark_ = value_mark(it->first, it->second);
  }
  return child;
}

Reader Reader::at(std::size_t index) const {
  Reader child(YAML::Node(YAML::NodeType::Undefined), key_path_ + "[" + std::to_string(index) + "]",
               file_);
  child.mark_ = mark_;
  if (!present()) return child;
  expect_sequence();
  if (index >= node_.size()) return child;
  child.node_ = node_[index];
  if (!child.node_.IsNull() && !is_null_mark(child.node_.Mark())) child.mark_ = child.node_.Mark();
  return child;
}

std::vector<Reader> Reader::items() const {
  std::vector<Reader> out;
  if (!present()) return out;
  expect_sequence();
  out.reserve(node_.size());
  for (std::size_t i = 0; i < node_.size(); ++i) out.push_back(at(i));
  return out;
}

std::vector<std::pair<std::string, Reader>> Reader::entries() const {
  std::vector<std::pair<std::string, Reader>> out;
  if (!present()) return out;
  expect_map();
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string key = it->first.Scalar();
    Reader child(it->second, key_path_.empty() ? key : key_path_ + "." + key, file_);
    child.mark_ = value_mark(it->first, it->second);
    for (const auto& [seen, _] : out) {
      if (seen == key) {
        child.mark_ = it->first.Mark();
        child.fail("duplicate key");
      }
    }
    out.emplace_back(std::move(key), std::move(child));
  }
  return out;
}

void Reader::expect_map() const {
  if (!node_.IsMap()) fail("expected a map, not " + kind_of(node_));
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      Reader key(it->first, key_path_, file_);
      key.fail("map keys must be plain words, not " + kind_of(it->first));
    }
  }
}

void Reader::expect_sequence() const {
  if (!node_.IsSequence()) fail("expected a list, not " + kind_of(node_));
}

void Reader::expect_keys(std::initializer_list<std::string_view> allowed) const {
  if (!present()) return;
  expect_map();
  std::vector<std::string> names(allowed.begin(), allowed.end());
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& key = it->first.Scalar();
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    Reader unknown(it->first, key_path_.empty() ? key : key_path_ + "." + key, file_);
    if (auto suggestion = did_you_mean(key, names)) {
      unknown.fail("unknown key (did you mean " + in_quotes(*suggestion) + "?)");
    }
    unknown.fail("unknown key (expected one of: " + join(names, ", ") + ")");
  }
}

void Reader::fail(std::string message) const {
  ConfigError error;
  error.file = *file_;
  if (!is_null_mark(mark_)) {
    error.line = mark_.line + 1;
    error.column = mark_.column + 1;
  }
  error.key_path = key_path_;
  error.message = std::move(message);
  throw ConfigException(std::move(error));
}

// ---------------------------------------------------------------------------------------------
// Reader: typed values

std::string Reader::string() const {
  if (!node_.IsDefined()) fail("is required");
  if (node_.IsNull()) fail("expected a string, but the value is empty");
  if (node_.IsScalar()) return node_.Scalar();
  if (node_.IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && did_you_mean(it->first.Scalar(), {"secret_file"})) {
        expect_keys({"secret_file"});
        return read_secret_file((*this)["secret_file"]);
      }
    }
  }
  fail("expected a string, not " + kind_of(node_));
}

bool Reader::boolean() const {
  if (!node_.IsDefined()) fail("is required");
  if (!node_.IsScalar()) fail("expected true or false, not " + kind_of(node_));
  const std::string& text = node_.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail("expected true or false, not " + in_quotes(text));
}

std::int64_t Reader::integer(std::int64_t min, std::int64_t max) const {
  if (!node_.IsDefined()) fail("is required");
  if (!node_.IsScalar()) fail("expected a whole number, not " + kind_of(node_));
  const std::string& text = node_.Scalar();
  const char* last = text.data() + text.size();
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), last, value);
  if (text.empty() || end != last || ec == std::errc::invalid_argument) {
    fail("expected a whole number, not " + in_quotes(text));
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " +
         text);
  }
  return value;
}

Duration Reader::duration() const {
  if (!node_.IsDefined()) fail("is required");
  if (!node_.IsScalar()) fail("expected a duration (e.g. 300s), not " + kind_of(node_));
  const std::string& text = node_.Scalar();
  auto millis = parse_with_unit(text, duration_units, 1000);
  if (!millis || *millis > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    fail(in_quotes(text) + " is not a duration (e.g. 300s)");
  }
  return Duration(static_cast<Duration::rep>(*millis));
}

std::uint64_t Reader::size_bytes() const {
  if (!node_.IsDefined()) fail("is required");
  if (!node_.IsScalar()) fail("expected a size (e.g. 16KiB), not " + kind_of(node_));
  const std::string& text = node_.Scalar();
  auto bytes = parse_with_unit(text, size_units, 1);
  if (!bytes) fail(in_quotes(text) + " is not a size (e.g. 16KiB, 10MiB)");
  return *bytes;
}

std::vector<std::string> Reader::string_list() const {
  if (!node_.IsDefined()) fail("is required");
  if (node_.IsSequence()) {
    std::vector<std::string> out;
    out.reserve(node_.size());
    for (const auto& item : items()) out.push_back(item.string());
    return out;
  }
  if (node_.IsNull()) fail("expected a list of strings, but the value is empty");
  if (node_.IsMap() && !node_["secret_file"].IsDefined()) {
    fail("expected a list of strings, not a map");
  }
  return {string()};
}

std::string Reader::string_or(std::string fallback) const {
  return present() ? string() : std::move(fallback);
}

bool Reader::boolean_or(bool fallback) const {
  return present() ? boolean() : fallback;
}

std::int64_t Reader::integer_or(std::int64_t fallback, std::int64_t min, std::int64_t max) const {
  return present() ? integer(min, max) : fallback;
}

Duration Reader::duration_or(Duration fallback) const {
  return present() ? duration() : fallback;
}

std::uint64_t Reader::size_bytes_or(std::uint64_t fallback) const {
  return present() ? size_bytes() : fallback;
}

std::vector<std::string> Reader::string_list_or(std::vector<std::string> fallback) const {
  return present() ? string_list() : std::move(fallback);
}

std::string Reader::one_of(std::initializer_list<std::string_view> choices) const {
  std::string value = string();
  std::vector<std::string> names(choices.begin(), choices.end());
  if (std::find(names.begin(), names.end(), value) != names.end()) return value;
  std::string message = in_quotes(value) + " is not one of: " + join(names, ", ");
  if (auto suggestion = did_you_mean(value, names)) {
    message += " (did you mean " + in_quotes(*suggestion) + "?)";
  }
  fail(std::move(message));
}

std::string Reader::one_of_or(std::string_view fallback,
                              std::initializer_list<std::string_view> choices) const {
  return present() ? one_of(choices) : std::string(fallback);
}

// ---------------------------------------------------------------------------------------------
// Free helpers

std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  // A typo: one edit in a short word, two in a longer one. Failing that, a word that is the start
  // of a candidate or the other way round ("conf" for "config", "warning" for "warn").
  const std::size_t allowed = word.size() <= 4 ? 1 : 2;
  std::optional<std::string> best;
  std::pair<std::size_t, std::size_t> best_score{allowed + 2, 0};  // (distance, length difference)
  for (const auto& candidate : candidates) {
    std::size_t distance = edit_distance(word, candidate);
    const std::size_t length_difference = word.size() > candidate.size()
                                              ? word.size() - candidate.size()
                                              : candidate.size() - word.size();
    if (distance > allowed) {
      const std::string_view shorter = word.size() < candidate.size() ? word : candidate;
      const std::string_view longer = word.size() < candidate.size() ? candidate : word;
      const bool is_prefix =
          shorter.size() >= 4 && edit_distance(shorter, longer.substr(0, shorter.size())) == 0;
      if (!is_prefix) continue;
      distance = allowed + 1;
    }
    const std::pair<std::size_t, std::size_t> score{distance, length_difference};
    if (score < best_score) {
      best = candidate;
      best_score = score;
    }
  }
  return best;
}

namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// Expands one scalar. `$${` stands for a literal `${`. The result is not scanned again, so a
// variable's value can never inject further references.
std::string expand_scalar(const std::string& text, const Reader& where) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      where.fail("unterminated ${ in " + in_quotes(text) + " (write $${ for a literal ${)");
    }
    std::string_view inside(text.data() + i + 2, close - i - 2);
    std::string_view name = inside;
    std::optional<std::string_view> fallback;
    if (auto sep = inside.find(":-"); sep != std::string_view::npos) {
      name = inside.substr(0, sep);
      fallback = inside.substr(sep + 2);
    }
    if (name.empty() || !is_name_start(name.front()) ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
      where.fail("invalid environment variable reference ${" + std::string(inside) +
                 "} (expected ${NAME} or ${NAME:-default})");
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value != nullptr && (*value != '\0' || !fallback)) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      where.fail("environment variable " + std::string(name) + " is not set");
    }
    i = close + 1;
  }
  return out;
}

// Walks every value once. Aliases make the document a graph: `visited` keeps a shared node from
// being expanded twice (which would re-expand a value) and keeps alias bombs from exploding the
// walk.
void expand_node(YAML::Node node, const std::string& key_path,
                 const std::shared_ptr<const std::string>& file, std::vector<YAML::Node>& visited) {
  if (!node.IsScalar() && !node.IsMap() && !node.IsSequence()) return;
  if (node.IsScalar() && node.Scalar().find("${") == std::string::npos) return;
  for (const auto& seen : visited) {
    if (seen.is(node)) return;
  }
  visited.push_back(node);
  if (node.IsScalar()) {
    Reader where(node, key_path, file);
    node = expand_scalar(node.Scalar(), where);
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
      expand_node(it->second, key_path.empty() ? key : key_path + "." + key, file, visited);
    }
  } else {
    for (std::size_t i = 0; i < node.size(); ++i) {
      expand_node(node[i], key_path + "[" + std::to_string(i) + "]", file, visited);
    }
  }
}

}  // namespace

void expand_environment(YAML::Node& root, const std::string& file) {
  auto file_name = std::make_shared<const std::string>(file);
  std::vector<YAML::Node> visited;
  expand_node(root, "", file_name, visited);
}

}  // namespace tollgate::config
