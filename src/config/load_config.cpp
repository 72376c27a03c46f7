// YAML file → immutable GatewayConfig. Parses, expands ${ENV}, validates every section, and turns
// the first problem into a ConfigError with file:line:col and key path.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "sections.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/config/plugin_types.hpp"
#include "tollgate/filters/registry.hpp"

namespace tollgate::config {

namespace {

using LoadResult = boost::system::result<std::shared_ptr<const GatewayConfig>, ConfigError>;

LoadResult failure(ConfigError error) {
  return LoadResult(boost::system::in_place_error, std::move(error));
}

ConfigError error_at(const std::string& file, const YAML::Mark& mark, std::string message) {
  ConfigError error;
  error.file = file;
  if (mark.line >= 0 && mark.column >= 0) {
    error.line = mark.line + 1;
    error.column = mark.column + 1;
  }
  error.message = std::move(message);
  return error;
}

// Remembers where the latest document of a stream starts, and nothing else of it.
class DocumentStart final : public YAML::EventHandler {
 public:
  const YAML::Mark& mark() const noexcept { return mark_; }

  void OnDocumentStart(const YAML::Mark& mark) override { mark_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark mark_;
};

// yaml-cpp 0.7's parser can stop advancing: on a stray ',' at the top level it hands out the same
// empty document forever, and YAML::LoadAll() collects them until memory runs out (yaml-cpp issue
// 1040). One pass over the parse events, keeping nothing, finds such a spot first, so LoadAll()
// only ever runs on a stream it gets to the end of.
void reject_endless_parse(const std::string& text, const std::string& file) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStart start;
  std::optional<int> previous;
  while (parser.HandleNextDocument(start)) {
    const YAML::Mark& mark = start.mark();
    if (previous == mark.pos) {
      std::string message = "not valid YAML here";
      if (mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text.size()) {
        const char c = text[static_cast<std::size_t>(mark.pos)];
        if (c > ' ' && c < 0x7f) message = std::string("unexpected '") + c + "': " + message;
      }
      throw ConfigException(error_at(file, mark, message));
    }
    previous = mark.pos;
  }
}

// The whole file must be one YAML document: a second one would be silently ignored otherwise.
// Empty documents (a trailing "---") hold nothing to ignore.
YAML::Node parse_document(const std::string& text, const std::string& file) {
  reject_endless_parse(text, file);
  std::vector<YAML::Node> documents = YAML::LoadAll(text);
  std::erase_if(documents, [](const YAML::Node& document) { return document.IsNull(); });
  if (documents.empty()) return YAML::Node();
  if (documents.size() > 1) {
    throw ConfigException(error_at(file, documents[1].Mark(),
                                   "the file holds more than one YAML document (remove the "
                                   "second \"---\")"));
  }
  return documents.front();
}

void require_sections(const Reader& root) {
  std::string missing;
  for (const char* name : {"listen", "upstreams", "routes"}) {
    if (!root[name].present()) missing += std::string(missing.empty() ? "" : ", ") + name;
  }
  if (missing.empty()) return;
  const bool several = missing.find(',') != std::string::npos;
  root.fail(std::string("missing required section") + (several ? "s: " : ": ") + missing);
}

GatewayConfig build(const Reader& root, const PluginTypes& plugin_types) {
  root.expect_keys({"listen", "admin", "workers", "log", "limits", "timeouts", "trusted_proxies",
                    "upstreams", "plugins", "routes"});
  require_sections(root);

  GatewayConfig config;
  config.source_file = root.file();
  config.listens = sections::read_listens(root["listen"]);
  config.admin = sections::read_admin(root["admin"], config.listens);
  config.workers = sections::read_workers(root["workers"]);
  config.log = sections::read_log(root["log"]);
  config.limits = sections::read_limits(root["limits"]);
  config.timeouts = sections::read_timeouts(root["timeouts"]);
  config.trusted_proxies = sections::read_trusted_proxies(root["trusted_proxies"]);
  config.upstreams = sections::read_upstreams(root["upstreams"]);
  config.plugins = sections::read_plugins(root["plugins"], plugin_types);
  config.routes = sections::read_routes(root["routes"], config.upstreams, config.plugins);
  for (const PluginInstance& plugin : config.plugins) {
    for (std::string& name : plugin.settings->request_headers_set()) {
      config.plugin_request_headers.push_back(std::move(name));
    }
  }
  return config;
}

}  // namespace

LoadResult load_config_text(const std::string& text, const std::string& file_name,
                            const PluginTypes& plugin_types) {
  try {
    YAML::Node document = parse_document(text, file_name);
    expand_environment(document, file_name);
    Reader root(document, "", std::make_shared<const std::string>(file_name));
    return std::make_shared<const GatewayConfig>(build(root, plugin_types));
  } catch (const ConfigException& e) {
    return failure(e.error());
  } catch (const YAML::Exception& e) {
    // Syntax errors, and anything yaml-cpp rejects while walking the tree.
    return failure(error_at(file_name, e.mark, e.msg));
  }
}

LoadResult load_config_text(const std::string& text, const std::string& file_name) {
  return load_config_text(text, file_name, filters::plugin_types());
}

LoadResult load_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return failure(ConfigError{path, 0, 0, "", "cannot read the file: it is a directory"});
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return failure(
        ConfigError{path, 0, 0, "", std::string("cannot read the file: ") + std::strerror(errno)});
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return failure(ConfigError{path, 0, 0, "", "cannot read the file"});
  return load_config_text(text.str(), path);
}

}  // namespace tollgate::config
