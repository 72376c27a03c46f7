// The config loader (config/*): the input is the text of a tollgate.yaml, loaded through
// load_config_text(), the function load_config() reads every file with.
//
// The contract under test: whatever the text, loading returns a GatewayConfig or a ConfigError
// that names the file and says what is wrong; it never throws (a reload on SIGHUP must not take
// the daemon down) and never crashes. A config that loads is one the gateway can run: every route
// points at an upstream, and every route path is one a request can be normalised to.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "fuzz_check.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/routing/path.hpp"

namespace {

const std::string kFileName = "fuzz.yaml";

void check_error(const tollgate::config::ConfigError& error, std::string_view text) {
  FUZZ_CHECK(error.file == kFileName, error.to_string());
  FUZZ_CHECK(!error.message.empty(), error.to_string());
  FUZZ_CHECK(error.line >= 0 && error.column >= 0, error.to_string());
  std::size_t lines = 1;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  FUZZ_CHECK(static_cast<std::size_t>(error.line) <= lines + 1, error.to_string());
  FUZZ_CHECK(error.to_string().starts_with(kFileName), error.to_string());
}

void check_config(const tollgate::config::GatewayConfig& config) {
  FUZZ_CHECK(config.source_file == kFileName, config.source_file);
  FUZZ_CHECK(!config.listens.empty(), "no listener");
  FUZZ_CHECK(config.workers >= 1, "no worker");
  for (const auto& upstream : config.upstreams) {
    FUZZ_CHECK(!upstream.targets.empty(), upstream.name);
    for (const auto& target : upstream.targets) {
      FUZZ_CHECK(!target.host.empty() && target.port != 0, target.url);
    }
  }
  for (const auto& route : config.routes) {
    FUZZ_CHECK(route.upstream < config.upstreams.size(), route.name);
    FUZZ_CHECK(route.plugins.size() == route.plugin_names.size(), route.name);
    for (const std::size_t plugin : route.plugins) {
      FUZZ_CHECK(plugin < config.plugins.size(), route.name);
      FUZZ_CHECK(config.plugins[plugin].settings != nullptr, route.name);
    }
    for (const auto& match : route.paths) {
      // A request normalised to this path must exist, or the route could never match.
      auto normalised = tollgate::routing::normalise_target(match.path);
      FUZZ_CHECK(normalised.has_value() && normalised->path == match.path, match.path);
      FUZZ_CHECK(match.path == "/" || !match.path.ends_with('/'), match.path);
    }
    for (const auto& host : route.hosts) {
      FUZZ_CHECK(!host.host.empty(), route.name);
      for (const char c : host.host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), host.host);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // What the example configs reference; a run must not depend on the caller's environment.
  setenv("OKTA_CLIENT_ID", "fuzz-client", 1);
  setenv("OKTA_CLIENT_SECRET", "fuzz-secret", 1);
  unsetenv("DEMO_CLIENT_ID");
  unsetenv("DEMO_CLIENT_SECRET");
  spdlog::set_level(spdlog::level::off);  // warnings about the fuzzed configs
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(tollgate::fuzz::as_text(data, size));
  try {
    auto loaded = tollgate::config::load_config_text(text, kFileName);
    if (loaded) {
      check_config(**loaded);
    } else {
      check_error(loaded.error(), text);
    }
  } catch (const std::exception& e) {
    tollgate::fuzz::check_failed("load_config_text() does not throw", __FILE__, __LINE__, e.what());
  } catch (...) {
    tollgate::fuzz::check_failed("load_config_text() does not throw", __FILE__, __LINE__,
                                 "a non-std exception");
  }
  return 0;
}
