// What identifies a plugin instance's configuration across reloads: its type, its `config:` map
// (after ${ENV} expansion) and the contents of the files it names, so that rotating a secret file
// or a CA file counts as a change although the YAML stays the same.
#include <fstream>
#include <iterator>

#include "sections.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::config::sections {
namespace {

bool names_a_file(const YAML::Node& key) {
  return key.IsScalar() && (key.Scalar() == "secret_file" || key.Scalar() == "ca_file");
}

void append_file_contents(const YAML::Node& node, std::string& out) {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) append_file_contents(item, out);
    return;
  }
  if (!node.IsMap()) return;
  for (const auto& entry : node) {
    if (names_a_file(entry.first) && entry.second.IsScalar()) {
      std::ifstream file(entry.second.Scalar(), std::ios::binary);
      const std::string content((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
      out.append("\nfile ").append(entry.second.Scalar()).append(" ");
      out.append(file ? to_hex(sha256(content)) : "unreadable");
    } else {
      append_file_contents(entry.second, out);
    }
  }
}

}  // namespace

std::string plugin_fingerprint(std::string_view type, const Reader& config) {
  YAML::Emitter emitter;
  emitter << config.node();
  std::string text = "type ";
  text.append(type).append("\n").append(emitter.c_str());
  append_file_contents(config.node(), text);
  return to_hex(sha256(text));
}

}  // namespace tollgate::config::sections
