// cluster_cache_strategy, cluster_cache_redis and cluster_cache_key of the openid-connect plugin.
#include <gtest/gtest.h>

#include "../../config/config_test_support.hpp"
#include "tollgate/filters/openid_connect/settings.hpp"

namespace tollgate::filters::openid_connect {
namespace {

using config::ConfigError;
using config::test::error_of;
using config::test::read_yaml;
using std::chrono::milliseconds;

const std::string kMinimal =
    "introspection_endpoint: https://idp.example/oauth2/default/v1/introspect\n"
    "client_id: gateway\n"
    "client_secret: s3cret\n";
const std::string kKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

Settings parse(const std::string& yaml) {
  return parse_settings(read_yaml(yaml));
}
ConfigError error_for(const std::string& yaml) {
  return error_of([&] { parse(yaml); });
}

TEST(ClusterCacheSettings, OffByDefault) {
  EXPECT_FALSE(parse(kMinimal).cluster_cache.has_value());
  EXPECT_FALSE(parse(kMinimal + "cluster_cache_strategy: off\n").cluster_cache.has_value());
}

TEST(ClusterCacheSettings, KongsFieldsAreRead) {
  const Settings s = parse(kMinimal +
                           "cluster_cache_strategy: redis\n"
                           "cluster_cache_key: [ " +
                           kKey +
                           ", AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ]\n"
                           "cluster_cache_redis:\n"
                           "  host: redis.internal\n"
                           "  port: 6380\n"
                           "  database: 2\n"
                           "  username: tollgate\n"
                           "  password: pw\n"
                           "  ssl: true\n"
                           "  server_name: redis.example\n"
                           "  connect_timeout: 250ms\n"
                           "  read_timeout: 300ms\n"
                           "  send_timeout: 350ms\n"
                           "  prefix: \"gw:\"\n");
  ASSERT_TRUE(s.cluster_cache.has_value());
  const oidc::ClusterCacheSettings& c = *s.cluster_cache;
  EXPECT_EQ(c.redis.host, "redis.internal");
  EXPECT_EQ(c.redis.port, 6380);
  EXPECT_EQ(c.redis.database, 2);
  EXPECT_EQ(c.redis.username, "tollgate");
  EXPECT_EQ(c.redis.password, "pw");
  EXPECT_TRUE(c.redis.ssl);
  EXPECT_TRUE(c.redis.ssl_verify);
  EXPECT_EQ(c.redis.server_name, "redis.example");
  EXPECT_EQ(c.redis.connect_timeout, milliseconds(250));
  EXPECT_EQ(c.redis.read_timeout, milliseconds(300));
  EXPECT_EQ(c.redis.send_timeout, milliseconds(350));
  EXPECT_EQ(c.prefix, "gw:");
  EXPECT_EQ(c.keys.size(), 2u);
}

TEST(ClusterCacheSettings, MistakesArePositioned) {
  EXPECT_EQ(error_for(kMinimal + "cluster_cache_strategy: redis\ncluster_cache_key: " + kKey + "\n")
                .key_path,
            "cluster_cache_redis");
  EXPECT_EQ(error_for(kMinimal + "cluster_cache_strategy: redis\n"
                                 "cluster_cache_redis: { host: r }\n")
                .key_path,
            "cluster_cache_key");
  const ConfigError short_key = error_for(kMinimal +
                                          "cluster_cache_strategy: redis\n"
                                          "cluster_cache_redis: { host: r }\n"
                                          "cluster_cache_key: c2hvcnQ=\n");
  EXPECT_EQ(short_key.key_path, "cluster_cache_key");
  EXPECT_NE(short_key.message.find("32 bytes"), std::string::npos);
  EXPECT_EQ(error_for(kMinimal + "cluster_cache_strategy: memcached\n").key_path,
            "cluster_cache_strategy");
  EXPECT_EQ(
      error_for(kMinimal + "cache_introspection: false\ncluster_cache_strategy: redis\n").key_path,
      "cluster_cache_strategy");
  EXPECT_EQ(error_for(kMinimal + "cluster_cache_strategy: redis\ncluster_cache_key: " + kKey +
                      "\ncluster_cache_redis: { host: r, hots: x }\n")
                .key_path,
            "cluster_cache_redis.hots");
}

}  // namespace
}  // namespace tollgate::filters::openid_connect
