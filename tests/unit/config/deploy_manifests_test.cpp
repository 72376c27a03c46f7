// deploy/kubernetes/ and docker/compose-replicas.yaml, checked as far as offline tools allow: the
// YAML parses, the Deployment has the shape the README promises, and tollgate accepts the config
// each hands it (what `tollgate -t` checks), secrets and environment included.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config_test_support.hpp"
#include "process.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config {
namespace {

using test::ScopedEnv;

const std::string kSource = TOLLGATE_SOURCE_DIR;
constexpr const char* kSecretsDir = "/var/run/secrets/tollgate/";
constexpr const char* kClusterKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

std::map<std::string, YAML::Node> manifests() {
  std::map<std::string, YAML::Node> by_kind_and_name;
  for (const char* file : {"/deploy/kubernetes/tollgate.yaml", "/deploy/kubernetes/redis.yaml"}) {
    for (const YAML::Node& document : YAML::LoadAllFromFile(kSource + file)) {
      by_kind_and_name[document["kind"].as<std::string>() + "/" +
                       document["metadata"]["name"].as<std::string>()] = document;
    }
  }
  return by_kind_and_name;
}

// Writes `text` with the Secret's mount path moved into `dir`, and the Secret's files there.
std::string materialise(const tollgate::test::TempDir& dir, std::string text) {
  for (std::size_t at = text.find(kSecretsDir); at != std::string::npos;
       at = text.find(kSecretsDir, at)) {
    text.replace(at, std::string(kSecretsDir).size(), dir.path() + "/");
  }
  dir.write("okta_client_secret", "s3cret");
  dir.write("cluster_cache_key", kClusterKey);  // the Secret holds a placeholder to replace
  dir.write("redis_password", "pw");
  dir.write("admin_api_token", "0123456789abcdef0123456789abcdef");
  return dir.write("tollgate.yaml", text);
}

TEST(KubernetesManifests, DeployThreeHardenedReplicasProbedOnTheAdminListener) {
  auto all = manifests();
  for (const char* wanted :
       {"ConfigMap/tollgate-config", "Secret/tollgate-secrets", "Deployment/tollgate",
        "Service/tollgate", "PodDisruptionBudget/tollgate", "Deployment/tollgate-redis",
        "Service/tollgate-redis"}) {
    EXPECT_TRUE(all.count(wanted)) << wanted;
  }
  const YAML::Node deployment = all["Deployment/tollgate"];
  EXPECT_EQ(deployment["spec"]["replicas"].as<int>(), 3);
  const YAML::Node pod = deployment["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  const YAML::Node container = pod["containers"][0];
  EXPECT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_TRUE(container["resources"]["requests"]["cpu"].IsDefined());
  EXPECT_TRUE(container["resources"]["requests"]["memory"].IsDefined());
  EXPECT_EQ(all["PodDisruptionBudget/tollgate"]["spec"]["minAvailable"].as<int>(), 2);
}

TEST(KubernetesManifests, TheConfigMapsConfigLoadsWithTheSecretsAndEnvironment) {
  auto all = manifests();
  const YAML::Node container =
      all["Deployment/tollgate"]["spec"]["template"]["spec"]["containers"][0];
  std::vector<std::unique_ptr<ScopedEnv>> env;
  for (const YAML::Node& variable : container["env"]) {
    env.push_back(std::make_unique<ScopedEnv>(variable["name"].as<std::string>(),
                                              variable["value"].as<std::string>()));
  }
  // The Secret provides every file the config names.
  const YAML::Node secret = all["Secret/tollgate-secrets"]["stringData"];
  for (const char* file :
       {"okta_client_secret", "cluster_cache_key", "redis_password", "admin_api_token"}) {
    EXPECT_TRUE(secret[file].IsDefined()) << file;
  }
  const tollgate::test::TempDir dir;
  const std::string path =
      materialise(dir, all["ConfigMap/tollgate-config"]["data"]["tollgate.yaml"].as<std::string>());
  auto loaded = load_config(path);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ((*loaded)->admin.port, 8001);
  EXPECT_EQ((*loaded)->admin.api_token, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ((*loaded)->listens.at(0).port, 8000);
}

TEST(ComposeReplicas, TwoReplicasRunTheSharedConfigWhichLoads) {
  const YAML::Node services = YAML::LoadFile(kSource + "/docker/compose-replicas.yaml")["services"];
  for (const char* name : {"tollgate-a", "tollgate-b", "redis", "idp", "echo"}) {
    EXPECT_TRUE(services[name].IsDefined()) << name;
  }
  const ScopedEnv key("CLUSTER_CACHE_KEY", kClusterKey);
  const ScopedEnv password("REDIS_PASSWORD", "pw");
  const ScopedEnv token("ADMIN_API_TOKEN", "0123456789abcdef0123456789abcdef");
  auto loaded = load_config(kSource + "/docker/replicas.yaml");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ((*loaded)->admin.api_token, "0123456789abcdef0123456789abcdef");
}

}  // namespace
}  // namespace tollgate::config
