// The loader's handling of plugin instances, with a fake plugin type: each instance is built once
// from its own `config:` map, shared by every route naming it, and errors inside a plugin's config
// carry the plugin's key path.
#include <fstream>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "tollgate/config/plugin_types.hpp"
#include "tollgate/filters/filter.hpp"
#include "tollgate/filters/registry.hpp"

namespace tollgate::config {
namespace {

// Settings that only remember the tag they were configured with.
struct TagSettings final : filters::PluginSettings {
  explicit TagSettings(std::string tag) : tag(std::move(tag)) {}
  std::vector<std::string> request_headers_set() const override { return {"X-Tag-" + tag}; }
  const std::string tag;
};

int tag_settings_read = 0;

std::shared_ptr<const filters::PluginSettings> parse_tag(const Reader& config) {
  config.expect_keys({"tag", "ttl"});
  ++tag_settings_read;
  config["ttl"].duration_or(Duration(0));
  return std::make_shared<TagSettings>(config["tag"].string());
}

std::shared_ptr<const filters::PluginSettings> parse_broken(const Reader& config) {
  throw std::runtime_error("out of sockets");
}

std::shared_ptr<filters::Filter> make_nothing(const filters::PluginSettings&, const std::string&) {
  return nullptr;
}

const PluginTypes fake_types{{"tag", &parse_tag, &make_nothing},
                             {"broken", &parse_broken, &make_nothing}};

const std::string head =
    "listen: [ { address: 127.0.0.1:0 } ]\n"                   // 1
    "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"  // 2
    "plugins:\n"                                               // 3
    "  first:\n"                                               // 4
    "    name: tag\n"                                          // 5
    "    config: { tag: one }\n"                               // 6
    "  second:\n"                                              // 7
    "    name: tag\n"                                          // 8
    "    config:\n"                                            // 9
    "      tag: two\n";                                        // 10

std::string load_error_line(const std::string& text) {
  auto result = load_config_text(text, "gw.yaml", fake_types);
  if (result) {
    ADD_FAILURE() << "expected the config to be rejected";
    return {};
  }
  return result.error().to_string();
}

const std::string& tag_of(const GatewayConfig& config, std::size_t plugin) {
  return dynamic_cast<const TagSettings&>(*config.plugins.at(plugin).settings).tag;
}

TEST(ConfigPlugins, EachInstanceIsReadOnceAndRoutesNameItsIndex) {
  tag_settings_read = 0;
  auto result = load_config_text(head +
                                     "routes:\n"
                                     "  - { name: a, match: { paths: /a }, upstream: u, plugins: "
                                     "[ second, first ] }\n"
                                     "  - { name: b, match: { paths: /b }, upstream: u, plugins: "
                                     "first }\n"
                                     "  - { name: c, match: { paths: /c }, upstream: u }\n",
                                 "gw.yaml", fake_types);
  ASSERT_TRUE(result) << result.error().to_string();
  const GatewayConfig& config = **result;
  EXPECT_EQ(tag_settings_read, 2);
  ASSERT_EQ(config.plugins.size(), 2u);
  EXPECT_EQ(config.plugins[0].name, "first");
  EXPECT_EQ(tag_of(config, 0), "one");
  EXPECT_EQ(config.plugins[0].type, &fake_types[0]);

  const auto& routes = config.routes;
  EXPECT_EQ(routes[0].plugins, (std::vector<std::size_t>{1, 0}));  // the route's order
  EXPECT_EQ(routes[0].plugin_names, (std::vector<std::string>{"second", "first"}));
  EXPECT_EQ(routes[1].plugins, (std::vector<std::size_t>{0}));
  EXPECT_TRUE(routes[2].plugins.empty());
  // Every header any instance sets, route or not, for the gateway-wide protected list.
  EXPECT_EQ(config.plugin_request_headers, (std::vector<std::string>{"X-Tag-one", "X-Tag-two"}));
}

// The runtime keeps an instance's filter across a reload while its fingerprint stays.
TEST(ConfigPlugins, FingerprintChangesWithTheConfigAndTheFilesItNames) {
  const std::string routes = "routes: [ { name: r, upstream: u } ]\n";
  const auto fingerprints = [&](const std::string& text) {
    auto result = load_config_text(text, "gw.yaml", fake_types);
    EXPECT_TRUE(result) << result.error().to_string();
    std::vector<std::string> out;
    if (result) {
      for (const auto& plugin : (*result)->plugins) out.push_back(plugin.fingerprint);
    }
    return out;
  };
  const auto base = fingerprints(head + routes);
  ASSERT_EQ(base.size(), 2u);
  EXPECT_NE(base[0], base[1]);
  EXPECT_EQ(fingerprints(head + routes), base);
  // Another route or another instance beside it changes nothing of it.
  EXPECT_EQ(fingerprints(head + "  third:\n    name: tag\n    config: { tag: x }\n" + routes)[0],
            base[0]);
  EXPECT_NE(fingerprints(head + "      ttl: 5s\n" + routes)[1], base[1]);

  // A secret file rotated under the same YAML is a change.
  const std::string secret = ::testing::TempDir() + "plugins_test_secret";
  std::ofstream(secret) << "s3cret";
  const std::string with_file =
      head + "  third:\n    name: tag\n    config: { tag: { secret_file: " + secret + " } }\n";
  const auto before = fingerprints(with_file + routes);
  ASSERT_EQ(before.size(), 3u);
  std::ofstream(secret) << "rotated";
  const auto after = fingerprints(with_file + routes);
  EXPECT_NE(after.at(2), before[2]);
  EXPECT_EQ(after.at(0), before[0]);
  std::remove(secret.c_str());
}

TEST(ConfigPlugins, UnusedInstancesAreStillReadSoTheirErrorsShow) {
  EXPECT_EQ(load_error_line("listen: [ { address: 127.0.0.1:0 } ]\n"
                            "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
                            "plugins:\n"
                            "  spare:\n"
                            "    name: tag\n"
                            "    config:\n"
                            "      tag: x\n"
                            "      ttl: 5 minutes\n"
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:8:12: plugins.spare.config.ttl: \"5 minutes\" is not a duration (e.g. 300s)");
}

TEST(ConfigPlugins, PluginConfigErrorsCarryThePluginKeyPath) {
  EXPECT_EQ(load_error_line(head + "  third:\n    name: tag\n    config: { tga: x }\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:13:15: plugins.third.config.tga: unknown key (did you mean \"tag\"?)");
  EXPECT_EQ(load_error_line(head + "  third:\n    name: tag\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:12:5: plugins.third.config.tag: is required");
}

TEST(ConfigPlugins, UnexpectedFailureOfAFactoryIsAConfigError) {
  EXPECT_EQ(load_error_line(head + "  broken:\n    name: broken\n    config: {}\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:13:13: plugins.broken.config: cannot set up plugin \"broken\": out of "
            "sockets");
}

TEST(ConfigPlugins, UnknownTypeSuggestsFromTheKnownTypes) {
  EXPECT_EQ(load_error_line(head + "  third:\n    name: tags\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:12:11: plugins.third.name: unknown plugin type \"tags\" (did you mean "
            "\"tag\"?)");
  EXPECT_EQ(load_error_line(head + "  third:\n    name: cors\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:12:11: plugins.third.name: unknown plugin type \"cors\" (available: tag, "
            "broken)");
}

TEST(ConfigPlugins, UnknownInstanceInARouteSuggestsADefinedOne) {
  EXPECT_EQ(load_error_line(head + "routes:\n  - name: r\n    upstream: u\n" +
                            "    plugins: [ first, secnd ]\n"),
            "gw.yaml:14:23: routes[0].plugins[1]: no plugin named \"secnd\" (did you mean "
            "\"second\"?)");
}

TEST(ConfigPlugins, AnInstanceListedTwiceInOneRouteIsAnError) {
  EXPECT_EQ(load_error_line(head + "routes:\n  - name: r\n    upstream: u\n" +
                            "    plugins: [ first, first ]\n"),
            "gw.yaml:14:23: routes[0].plugins[1]: plugin \"first\" is listed twice");
}

TEST(ConfigPlugins, DuplicateInstanceNameIsAnError) {
  EXPECT_EQ(load_error_line(head + "  first:\n    name: tag\n" +
                            "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:11:3: plugins.first: duplicate key");
}

TEST(ConfigPlugins, BuiltInTypesAreTheRegistry) {
  const auto& types = filters::plugin_types();
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(types[0].name, "openid-connect");
  EXPECT_EQ(filters::find_plugin_type("openid-connect"), &types[0]);
  EXPECT_EQ(filters::find_plugin_type("no-such-plugin"), nullptr);
}

}  // namespace
}  // namespace tollgate::config

// ---- the built-in openid-connect plugin, through the registry (building one does no I/O)

namespace tollgate::config {
namespace {

using test::load_error;
using test::load_ok;

std::string oidc_config(const std::string& plugin_config_extra, const std::string& routes) {
  return "listen: [ { address: 127.0.0.1:0 } ]\n"                        // 1
         "upstreams: { orders: { targets: [ http://127.0.0.1:1 ] } }\n"  // 2
         "plugins:\n"                                                    // 3
         "  okta:\n"                                                     // 4
         "    name: openid-connect\n"                                    // 5
         "    config:\n"                                                 // 6
         "      issuer: http://127.0.0.1:1/oauth2/default\n"             // 7
         "      auth_methods: [ introspection ]\n"                       // 8
         "      client_id: gateway\n"                                    // 9
         "      client_secret: gateway-secret\n" +                       // 10
         plugin_config_extra +
         routes;
}

TEST(ConfigOpenIdConnect, OneInstanceIsSharedByTheRoutesNamingIt) {
  auto config = load_ok(oidc_config("",
                                    "routes:\n"
                                    "  - { name: a, match: { paths: /a }, upstream: orders, "
                                    "plugins: [ okta ] }\n"
                                    "  - { name: b, match: { paths: /b }, upstream: orders, "
                                    "plugins: okta }\n"));
  ASSERT_TRUE(config);
  ASSERT_EQ(config->plugins.size(), 1u);
  EXPECT_NE(config->plugins[0].settings, nullptr);
  EXPECT_EQ(config->routes[0].plugins, std::vector<std::size_t>{0});
  EXPECT_EQ(config->routes[1].plugins, std::vector<std::size_t>{0});
  EXPECT_EQ(config->routes[1].plugin_names, std::vector<std::string>{"okta"});
}

TEST(ConfigOpenIdConnect, ErrorsInsideThePluginConfigArePositioned) {
  // CONFIG.md's example error.
  EXPECT_EQ(load_error(oidc_config("      cache_ttl: 5 minutes\n",
                                   "routes: [ { name: r, upstream: orders } ]\n"))
                .to_string(),
            "gw.yaml:11:18: plugins.okta.config.cache_ttl: \"5 minutes\" is not a duration (e.g. "
            "300s)");
}

TEST(ConfigOpenIdConnect, UnknownInstanceSuggestsTheDefinedOne) {
  EXPECT_EQ(load_error(oidc_config("",
                                   "routes:\n  - name: r\n    upstream: orders\n"
                                   "    plugins: [ okat ]\n"))
                .to_string(),
            "gw.yaml:14:16: routes[0].plugins[0]: no plugin named \"okat\" (did you mean "
            "\"okta\"?)");
}

// The plugin block config/tollgate.yaml shows commented out must work once uncommented.
TEST(ShippedExampleConfig, CommentedOutPluginLoadsWhenUncommented) {
  std::ifstream file(std::string(TOLLGATE_SOURCE_DIR) + "/config/tollgate.yaml");
  ASSERT_TRUE(file);
  std::string text;
  bool in_plugins = false;
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with("# plugins:")) in_plugins = true;
    if (in_plugins && !line.starts_with("#")) in_plugins = false;
    if (in_plugins) line.erase(0, 2);
    if (line == "    # plugins: [ okta ]") line = "    plugins: [ okta ]";
    text += line + "\n";
  }
  test::ScopedEnv id("OKTA_CLIENT_ID", "0oa-example");
  test::ScopedEnv secret("OKTA_CLIENT_SECRET", "example-secret");
  auto config = load_ok(text);
  ASSERT_TRUE(config);
  ASSERT_EQ(config->routes.size(), 1u);
  EXPECT_EQ(config->routes[0].plugin_names, std::vector<std::string>{"okta"});
  EXPECT_EQ(config->routes[0].plugins.size(), 1u);
}

// The demo's config (scripts/demo.sh) must load: two instances, each on its own route.
TEST(ShippedExampleConfig, DemoLoads) {
  auto loaded = load_config(std::string(TOLLGATE_SOURCE_DIR) + "/config/demo.yaml");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const auto& routes = (*loaded)->routes;
  ASSERT_GE(routes.size(), 2u);
  ASSERT_EQ(routes[0].plugins.size(), 1u);
  ASSERT_EQ(routes[1].plugins.size(), 1u);
  EXPECT_NE(routes[0].plugins[0], routes[1].plugins[0]);
}

}  // namespace
}  // namespace tollgate::config
