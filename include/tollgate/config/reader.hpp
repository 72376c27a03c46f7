// Typed, position-aware access to a YAML document. Every error names file:line:col and the key
// path, so one helper serves the core config and every plugin's config.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tollgate::config {

// One error in a config file. to_string() gives the user-facing line:
//   config/tollgate.yaml:31:7: plugins.okta.config.cache_ttl: "5 minutes" is not a duration (e.g.
//   300s)
struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string key_path;
  std::string message;

  std::string to_string() const;
};

// Thrown while reading; load_config() turns it into a result. Readers never let it escape further.
class ConfigException : public std::runtime_error {
 public:
  explicit ConfigException(ConfigError error);
  const ConfigError& error() const noexcept { return error_; }

 private:
  ConfigError error_;
};

using Duration = std::chrono::milliseconds;

// A view of one YAML node with its key path ("routes[0].match.paths") and source file name.
class Reader {
 public:
  Reader(YAML::Node node, std::string key_path, std::shared_ptr<const std::string> file);

  bool present() const;  // false for a missing key or an explicit null
  const std::string& key_path() const noexcept { return key_path_; }
  const YAML::Node& node() const noexcept { return node_; }
  const std::string& file() const noexcept { return *file_; }

  // Children. A missing key gives a Reader whose present() is false, positioned at its parent.
  Reader operator[](std::string_view key) const;
  Reader at(std::size_t index) const;
  std::vector<Reader> items() const;                            // a sequence's elements
  std::vector<std::pair<std::string, Reader>> entries() const;  // a map's entries, in file order

  // Fails unless this is a map whose every key is in `allowed` ("did you mean" for close ones).
  void expect_keys(std::initializer_list<std::string_view> allowed) const;
  void expect_map() const;
  void expect_sequence() const;

  // Typed values; each fails with a clear message when the node has another type.
  std::string string() const;
  bool boolean() const;
  std::int64_t integer(std::int64_t min, std::int64_t max) const;
  Duration duration() const;         // "250ms", "5s", "2m", "1h"; a bare number is seconds
  std::uint64_t size_bytes() const;  // "16KiB", "10MiB", "1GiB", "512" (bytes), "4KB" = 4000
  std::vector<std::string> string_list() const;  // a sequence of strings, or one string

  // Same, with a default when the key is absent.
  std::string string_or(std::string fallback) const;
  bool boolean_or(bool fallback) const;
  std::int64_t integer_or(std::int64_t fallback, std::int64_t min, std::int64_t max) const;
  Duration duration_or(Duration fallback) const;
  std::uint64_t size_bytes_or(std::uint64_t fallback) const;
  std::vector<std::string> string_list_or(std::vector<std::string> fallback) const;

  // One of a fixed set of words, e.g. balance: round_robin | least_conn.
  std::string one_of(std::initializer_list<std::string_view> choices) const;
  std::string one_of_or(std::string_view fallback,
                        std::initializer_list<std::string_view> choices) const;

  // Throws ConfigException positioned at this node.
  [[noreturn]] void fail(std::string message) const;

 private:
  YAML::Node node_;
  YAML::Mark mark_;  // this node's position, or the parent's when the key is missing
  std::string key_path_;
  std::shared_ptr<const std::string> file_;
};

// The closest of `candidates` to `word` when it is near enough to be a likely typo, for messages.
std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates);

// Expands ${NAME} and ${NAME:-default} in every scalar of the document, in place. An unset NAME
// without a default fails, naming it. `secret_file:` maps are handled by Reader::string().
void expand_environment(YAML::Node& root, const std::string& file);

}  // namespace tollgate::config
