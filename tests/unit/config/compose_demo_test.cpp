// docker/compose.yaml runs config/demo.yaml itself, moved into containers by the environment it
// sets for tollgate. No container engine runs here, so this checks what compose would hand
// tollgate: that file, under that environment, must listen where the ports are published, forward
// to the echo service and ask the IdP service under the very issuer the IdP puts in its tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config_test_support.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config {
namespace {

using test::ScopedEnv;

const std::string kSource = TOLLGATE_SOURCE_DIR;

// The value that follows `flag` in a service's command.
std::string argument_of(const YAML::Node& service, const std::string& flag) {
  const auto command = service["command"].as<std::vector<std::string>>();
  const auto it = std::find(command.begin(), command.end(), flag);
  return it != command.end() && it + 1 != command.end() ? *(it + 1) : "";
}

std::string port_of(const std::string& address) {
  return address.substr(address.rfind(':') + 1);
}

class ComposeDemoConfig : public ::testing::Test {
 protected:
  // Loads config/demo.yaml with the tollgate service's environment, and `override` on top.
  std::shared_ptr<const GatewayConfig> load_demo(const std::string& name = "",
                                                 const std::string& value = "") {
    std::vector<std::unique_ptr<ScopedEnv>> env;
    for (const auto& variable : services_["tollgate"]["environment"]) {
      const auto key = variable.first.as<std::string>();
      env.push_back(std::make_unique<ScopedEnv>(
          key, key == name ? value : variable.second.as<std::string>()));
    }
    auto loaded = load_config(kSource + "/config/demo.yaml");
    if (!loaded) {
      ADD_FAILURE() << loaded.error().to_string();
      return nullptr;
    }
    return *loaded;
  }

  YAML::Node services_ = YAML::LoadFile(kSource + "/docker/compose.yaml")["services"];
};

TEST_F(ComposeDemoConfig, TollgateRunsTheDemoFileFromTheRepository) {
  const auto command = services_["tollgate"]["command"].as<std::vector<std::string>>();
  ASSERT_EQ(command.size(), 2u);
  EXPECT_EQ(command[0], "-c");
  const auto volumes = services_["tollgate"]["volumes"].as<std::vector<std::string>>();
  EXPECT_NE(std::find(volumes.begin(), volumes.end(), "../config/demo.yaml:" + command[1] + ":ro"),
            volumes.end());
}

TEST_F(ComposeDemoConfig, ListensOnThePublishedPortsOfEveryInterfaceInTheContainer) {
  const auto config = load_demo();
  ASSERT_TRUE(config);
  ASSERT_EQ(config->listens.size(), 1u);
  EXPECT_EQ(config->listens[0].host, "0.0.0.0");
  EXPECT_EQ(config->listens[0].port, 8000);
  EXPECT_EQ(config->admin.host, "0.0.0.0");
  EXPECT_EQ(config->admin.port, 8001);
  const auto ports = services_["tollgate"]["ports"].as<std::vector<std::string>>();
  EXPECT_EQ(ports, (std::vector<std::string>{"127.0.0.1:8000:8000", "127.0.0.1:8001:8001"}));
}

TEST_F(ComposeDemoConfig, ForwardsToTheEchoService) {
  const auto config = load_demo();
  ASSERT_TRUE(config);
  ASSERT_EQ(config->upstreams.size(), 1u);
  ASSERT_EQ(config->upstreams[0].targets.size(), 1u);
  const Target& target = config->upstreams[0].targets[0];
  ASSERT_TRUE(services_[target.host]) << "no compose service named " << target.host;
  EXPECT_EQ(std::to_string(target.port), port_of(argument_of(services_[target.host], "--listen")));
}

// The IdP names its issuer after --issuer-base, not after the address a client used; tollgate
// refuses introspection answers from another issuer, so both must be the same URL.
TEST_F(ComposeDemoConfig, AsksTheIdpServiceUnderTheIssuerItsTokensCarry) {
  const YAML::Node idp = services_["idp"];
  const std::string issuer_base = argument_of(idp, "--issuer-base");
  EXPECT_EQ(issuer_base, "http://idp:" + port_of(argument_of(idp, "--listen")));
  EXPECT_EQ(services_["tollgate"]["environment"]["DEMO_ISSUER"].as<std::string>(),
            issuer_base + "/oauth2/default");

  // Both plugin instances take their issuer from that variable: their settings change with it.
  const auto config = load_demo();
  const auto elsewhere = load_demo("DEMO_ISSUER", "http://elsewhere:9100/oauth2/default");
  ASSERT_TRUE(config && elsewhere);
  ASSERT_EQ(config->plugins.size(), 2u);
  for (std::size_t i = 0; i < config->plugins.size(); ++i) {
    EXPECT_NE(config->plugins[i].fingerprint, elsewhere->plugins[i].fingerprint)
        << config->plugins[i].name;
  }
}

}  // namespace
}  // namespace tollgate::config
