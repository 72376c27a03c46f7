// load_config / load_config_text on valid files: every field as written, defaults for the rest.
#include <algorithm>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "process.hpp"
#include "tollgate/config/config.hpp"
#include "tollgate/routing/path.hpp"

namespace tollgate::config {
namespace {

using test::load_error;
using test::load_ok;
using test::ScopedEnv;
using namespace std::chrono_literals;

constexpr const char* minimal_config =
    "listen:\n"
    "  - address: 127.0.0.1:0\n"
    "upstreams:\n"
    "  orders:\n"
    "    targets: [ http://127.0.0.1:9000 ]\n"
    "routes:\n"
    "  - name: all\n"
    "    upstream: orders\n";

// CONFIG.md's example without the plugin, with every optional field set to a non-default value.
std::string full_config() {
  return R"(# tollgate test configuration
listen:
  - address: 0.0.0.0:8000
  - address: "[::]:8443"
    tls: { certificate: "${TOLLGATE_TEST_TLS_DIR}/tls.crt", key: "${TOLLGATE_TEST_TLS_DIR}/tls.key" }
admin:
  address: 127.0.0.1:9901
workers: 3
log: { level: debug, format: json, access_log: /var/log/tollgate/access.log }
limits:
  max_header_bytes: 32KiB
  max_body_bytes: 1MiB
  max_response_header_bytes: 4KB
timeouts:
  client_header: 5s
  client_idle: 2m
  client_body: 30s
  upstream_connect: 250ms
  upstream_read: 1h
  upstream_send: 45
  shutdown_grace: 0s
  websocket_idle: 90s
upstreams:
  orders:
    targets:
      - http://127.0.0.1:9000
      - https://Orders.Internal:8443
      - http://[::1]:9002
      - https://api.example.com
      - { secret_file: "${TOLLGATE_TEST_TLS_DIR}/target-url" }
    balance: least_conn
    keepalive: 8
    max_connections: 4
    max_queued: 16
    fail_timeout: 30s
    ssl_verify: false
    ca_file: ${TOLLGATE_TEST_TLS_DIR}/ca.pem
    protocol: grpc
    h2_max_connections: 3
  billing:
    targets: [ "http://${TOLLGATE_TEST_BILLING_HOST:-127.0.0.1}:${TOLLGATE_TEST_BILLING_PORT}/" ]
routes:
  - name: introspection-route
    match:
      paths: [ /orders/, "= /orders/export", "/a%7eb/%2a" ]
      methods: [ get, POST ]
      hosts: [ API.Example.com, "*.example.org" ]
    upstream: orders
    strip_path: true
    preserve_host: true
    websocket: true
  - name: public-health
    match: { paths: /status }
    upstream: billing
)";
}

class FullConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("tls.crt", "-----BEGIN CERTIFICATE-----\n");
    dir_.write("tls.key", "-----BEGIN PRIVATE KEY-----\n");
    dir_.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    dir_.write("target-url", "http://10.0.0.7:8080\n");
  }

  tollgate::test::TempDir dir_;
  ScopedEnv tls_dir_{"TOLLGATE_TEST_TLS_DIR", dir_.path()};
  ScopedEnv billing_port_{"TOLLGATE_TEST_BILLING_PORT", "9100"};
};

TEST_F(FullConfig, ListenersAdminWorkersAndLog) {
  auto config = load_ok(full_config());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->source_file, "gw.yaml");
  ASSERT_EQ(config->listens.size(), 2u);
  EXPECT_EQ(config->listens[0].host, "0.0.0.0");
  EXPECT_EQ(config->listens[0].port, 8000);
  EXPECT_FALSE(config->listens[0].tls);
  EXPECT_EQ(config->listens[1].host, "::");
  EXPECT_EQ(config->listens[1].port, 8443);
  ASSERT_TRUE(config->listens[1].tls);
  EXPECT_EQ(config->listens[1].tls->certificate, dir_.path() + "/tls.crt");
  EXPECT_EQ(config->listens[1].tls->key, dir_.path() + "/tls.key");

  EXPECT_TRUE(config->admin.enabled);
  EXPECT_EQ(config->admin.host, "127.0.0.1");
  EXPECT_EQ(config->admin.port, 9901);
  EXPECT_EQ(config->workers, 3u);
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->log.format, LogFormat::json);
  EXPECT_EQ(config->log.access_log, "/var/log/tollgate/access.log");
}

TEST_F(FullConfig, LimitsAndTimeouts) {
  auto config = load_ok(full_config());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(config->limits.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(config->limits.max_response_header_bytes, 4000u);
  EXPECT_EQ(config->timeouts.client_header, 5s);
  EXPECT_EQ(config->timeouts.client_idle, 2min);
  EXPECT_EQ(config->timeouts.client_body, 30s);
  EXPECT_EQ(config->timeouts.upstream_connect, 250ms);
  EXPECT_EQ(config->timeouts.upstream_read, 1h);
  EXPECT_EQ(config->timeouts.upstream_send, 45s);
  EXPECT_EQ(config->timeouts.shutdown_grace, 0s);
  EXPECT_EQ(config->timeouts.websocket_idle, 90s);
}

TEST_F(FullConfig, UpstreamsAndTheirTargets) {
  auto config = load_ok(full_config());
  ASSERT_TRUE(config);
  ASSERT_EQ(config->upstreams.size(), 2u);
  const Upstream& orders = config->upstreams[0];
  EXPECT_EQ(orders.name, "orders");
  EXPECT_EQ(orders.balance, Balance::least_conn);
  EXPECT_EQ(orders.keepalive, 8u);
  EXPECT_EQ(orders.max_connections, 4u);
  EXPECT_EQ(orders.max_queued, 16u);
  EXPECT_EQ(orders.fail_timeout, 30s);
  EXPECT_FALSE(orders.ssl_verify);
  EXPECT_EQ(orders.ca_file, dir_.path() + "/ca.pem");
  EXPECT_EQ(orders.protocol, Protocol::grpc);
  EXPECT_EQ(orders.h2_max_connections, 3u);
  ASSERT_EQ(orders.targets.size(), 5u);

  auto expect_target = [](const Target& t, bool tls, const std::string& host, int port,
                          const std::string& authority, const std::string& url) {
    EXPECT_EQ(t.tls, tls) << url;
    EXPECT_EQ(t.host, host) << url;
    EXPECT_EQ(t.port, port) << url;
    EXPECT_EQ(t.authority, authority) << url;
    EXPECT_EQ(t.url, url);
  };
  expect_target(orders.targets[0], false, "127.0.0.1", 9000, "127.0.0.1:9000",
                "http://127.0.0.1:9000");
  expect_target(orders.targets[1], true, "Orders.Internal", 8443, "Orders.Internal:8443",
                "https://Orders.Internal:8443");
  expect_target(orders.targets[2], false, "::1", 9002, "[::1]:9002", "http://[::1]:9002");
  expect_target(orders.targets[3], true, "api.example.com", 443, "api.example.com",
                "https://api.example.com");
  expect_target(orders.targets[4], false, "10.0.0.7", 8080, "10.0.0.7:8080",
                "http://10.0.0.7:8080");  // from the secret file, newline trimmed

  const Upstream& billing = config->upstreams[1];
  EXPECT_EQ(billing.name, "billing");
  ASSERT_EQ(billing.targets.size(), 1u);
  // ${NAME:-default} took the default, ${NAME} the variable; a lone "/" path is allowed.
  expect_target(billing.targets[0], false, "127.0.0.1", 9100, "127.0.0.1:9100",
                "http://127.0.0.1:9100/");
}

TEST_F(FullConfig, RoutesWithNormalisedMatches) {
  auto config = load_ok(full_config());
  ASSERT_TRUE(config);
  ASSERT_EQ(config->routes.size(), 2u);
  const Route& route = config->routes[0];
  EXPECT_EQ(route.name, "introspection-route");
  ASSERT_EQ(route.paths.size(), 3u);
  EXPECT_EQ(route.paths[0].path, "/orders");  // trailing slash dropped
  EXPECT_FALSE(route.paths[0].exact);
  EXPECT_EQ(route.paths[1].path, "/orders/export");
  EXPECT_TRUE(route.paths[1].exact);
  EXPECT_EQ(route.paths[2].path, "/a~b/%2A");  // the same form request paths are normalised to
  EXPECT_EQ(route.methods, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_EQ(route.hosts.size(), 2u);
  EXPECT_EQ(route.hosts[0].host, "api.example.com");
  EXPECT_FALSE(route.hosts[0].wildcard);
  EXPECT_EQ(route.hosts[1].host, ".example.org");
  EXPECT_TRUE(route.hosts[1].wildcard);
  EXPECT_EQ(route.upstream, 0u);
  EXPECT_TRUE(route.strip_path);
  EXPECT_TRUE(route.preserve_host);
  EXPECT_TRUE(route.websocket);
  EXPECT_TRUE(route.plugins.empty());
  EXPECT_TRUE(route.plugin_names.empty());

  const Route& health = config->routes[1];
  EXPECT_EQ(health.name, "public-health");
  ASSERT_EQ(health.paths.size(), 1u);
  EXPECT_EQ(health.paths[0].path, "/status");
  EXPECT_TRUE(health.hosts.empty());
  EXPECT_TRUE(health.methods.empty());
  EXPECT_EQ(health.upstream, 1u);
  EXPECT_FALSE(health.strip_path);
  EXPECT_FALSE(health.preserve_host);
  EXPECT_FALSE(health.websocket);  // Upgrade is stripped unless a route asks for websocket
}

TEST(LoadConfig, EverythingNotGivenGetsItsDefault) {
  auto config = load_ok(minimal_config);
  ASSERT_TRUE(config);
  const GatewayConfig defaults;
  EXPECT_TRUE(config->admin.enabled);
  EXPECT_EQ(config->admin.host, "127.0.0.1");
  EXPECT_EQ(config->admin.port, 8001);
  EXPECT_EQ(config->workers, std::clamp(std::thread::hardware_concurrency(), 1u, 256u));
  EXPECT_EQ(config->log.level, "info");
  EXPECT_EQ(config->log.format, LogFormat::text);
  EXPECT_EQ(config->log.access_log, "stdout");
  EXPECT_EQ(config->limits.max_header_bytes, 16 * KiB);
  EXPECT_EQ(config->limits.max_body_bytes, 10 * MiB);
  EXPECT_EQ(config->limits.max_response_header_bytes, 64 * KiB);
  EXPECT_EQ(config->timeouts.client_header, 10s);
  EXPECT_EQ(config->timeouts.client_idle, 75s);
  EXPECT_EQ(config->timeouts.client_body, 60s);
  EXPECT_EQ(config->timeouts.upstream_connect, 3s);
  EXPECT_EQ(config->timeouts.upstream_read, 60s);
  EXPECT_EQ(config->timeouts.upstream_send, 60s);
  EXPECT_EQ(config->timeouts.shutdown_grace, 10s);
  EXPECT_EQ(config->timeouts.websocket_idle, 60s);

  ASSERT_EQ(config->listens.size(), 1u);
  EXPECT_EQ(config->listens[0].port, 0);  // the kernel picks one
  ASSERT_EQ(config->upstreams.size(), 1u);
  const Upstream& upstream = config->upstreams[0];
  EXPECT_EQ(upstream.balance, Balance::round_robin);
  EXPECT_EQ(upstream.keepalive, 64u);
  EXPECT_EQ(upstream.max_connections, 0u);  // no bound, as nginx max_conns
  EXPECT_EQ(upstream.max_queued, 128u);
  EXPECT_EQ(upstream.fail_timeout, 10s);
  EXPECT_TRUE(upstream.ssl_verify);  // TLS verification is on unless switched off
  EXPECT_EQ(upstream.ca_file, "");
  EXPECT_EQ(upstream.protocol, Protocol::http1);
  EXPECT_EQ(upstream.h2_max_connections, 2u);
  ASSERT_EQ(config->routes.size(), 1u);
  EXPECT_TRUE(config->routes[0].paths.empty());
  EXPECT_TRUE(config->routes[0].hosts.empty());
  EXPECT_TRUE(config->routes[0].methods.empty());
}

TEST(LoadConfig, WorkersAutoIsTheNumberOfCores) {
  auto config = load_ok(std::string(minimal_config) + "workers: auto\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->workers, std::clamp(std::thread::hardware_concurrency(), 1u, 256u));
}

TEST(LoadConfig, AdminCanBeSwitchedOff) {
  for (const char* admin : {"admin: off\n", "admin: false\n", "admin: { enabled: false }\n",
                            "admin:\n  enabled: false\n  address: 127.0.0.1:0\n"}) {
    auto config = load_ok(std::string(minimal_config) + admin);
    ASSERT_TRUE(config) << admin;
    EXPECT_FALSE(config->admin.enabled) << admin;
  }
}

TEST(LoadConfig, AdminAddressCanBeIpv6) {
  auto config = load_ok(std::string(minimal_config) + "admin: { address: \"[::1]:9000\" }\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->admin.host, "::1");
  EXPECT_EQ(config->admin.port, 9000);
}

TEST(LoadConfig, AdminApiTokenIsASecretLikeAnyOther) {
  EXPECT_EQ(load_ok(minimal_config)->admin.api_token, "");
  auto plain = load_ok(std::string(minimal_config) +
                       "admin: { address: 0.0.0.0:8001, api_token: abcdefghijklmnop_-.~+/== }\n");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->admin.api_token, "abcdefghijklmnop_-.~+/==");

  ScopedEnv token("TOLLGATE_TEST_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef");
  auto from_env =
      load_ok(std::string(minimal_config) + "admin:\n  api_token: ${TOLLGATE_TEST_ADMIN_TOKEN}\n");
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->admin.api_token, "0123456789abcdef0123456789abcdef");

  tollgate::test::TempDir dir;
  const std::string path = dir.write("admin_api_token", "fedcba9876543210fedcba9876543210\n");
  auto from_file =
      load_ok(std::string(minimal_config) + "admin:\n  api_token: { secret_file: " + path + " }\n");
  ASSERT_TRUE(from_file);
  EXPECT_EQ(from_file->admin.api_token, "fedcba9876543210fedcba9876543210");  // newline dropped
}

TEST(LoadConfig, AdminOnTheSameAddressAsAListenerIsAnError) {
  EXPECT_EQ(load_error("listen:\n  - address: 127.0.0.1:8001\n"
                       "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n")
                .to_string(),
            "gw.yaml:1:1: admin: the default admin address 127.0.0.1:8001 is already used by "
            "listen[0] (set admin.address, or admin: off)");
}

TEST(LoadConfig, ListenersOnPortZeroMayRepeat) {
  auto config = load_ok(
      "listen: [ { address: 127.0.0.1:0 }, { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes: [ { name: r, upstream: u } ]\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->listens.size(), 2u);
}

TEST(LoadConfig, RoutesMayOverlapWhenMethodsOrHostsDiffer) {
  auto config = load_ok(
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes:\n"
      "  - { name: read, match: { paths: [ /a ], methods: [ GET ] }, upstream: u }\n"
      "  - { name: write, match: { paths: [ /a ], methods: [ POST ] }, upstream: u }\n"
      "  - { name: exact, match: { paths: [ \"= /a\" ], methods: [ GET ] }, upstream: u }\n"
      "  - { name: host, match: { paths: [ /a ], methods: [ GET ], hosts: [ x.io ] }, "
      "upstream: u }\n");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->routes.size(), 4u);
}

TEST(LoadConfig, RootPathAndEncodedCharactersAreNormalised) {
  auto config = load_ok(
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes:\n"
      "  - name: r\n"
      "    match: { paths: [ /, \"=/x\", \"/%41%2a%3b\" ], methods: delete, hosts: \"*.A.io\" }\n"
      "    upstream: u\n");
  ASSERT_TRUE(config);
  const Route& route = config->routes[0];
  ASSERT_EQ(route.paths.size(), 3u);
  EXPECT_EQ(route.paths[0].path, "/");
  EXPECT_FALSE(route.paths[0].exact);
  EXPECT_EQ(route.paths[1].path, "/x");
  EXPECT_TRUE(route.paths[1].exact);
  EXPECT_EQ(route.paths[2].path, "/A%2A%3B");
  EXPECT_EQ(route.methods, std::vector<std::string>{"DELETE"});
  ASSERT_EQ(route.hosts.size(), 1u);
  EXPECT_EQ(route.hosts[0].host, ".a.io");
}

// A route can only match if its path has exactly the form the router sees for requests.
TEST(LoadConfig, RoutePathsTakeTheFormRequestPathsAreNormalisedTo) {
  const std::vector<std::string> written{"/orders",    "/a~b/%2a",   "/%41%62c",    "/caf\xC3\xA9",
                                         "/caf%c3%a9", "/x:y@z;p=1", "/{id}/\"q\"", "/a|b^c`d",
                                         "/%7e%2D%5f", "/sp%20ace"};
  std::string text =
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes:\n";
  for (std::size_t i = 0; i < written.size(); ++i) {
    // One host per route: some of these paths are the same path written two ways.
    text += "  - name: r" + std::to_string(i) + "\n    upstream: u\n    match:\n      hosts: h" +
            std::to_string(i) + ".test\n      paths:\n";
    text += "        - '" + written[i] + "'\n";
  }
  auto config = load_ok(text);
  ASSERT_TRUE(config);
  for (std::size_t i = 0; i < written.size(); ++i) {
    auto request = routing::normalise_target(written[i]);
    ASSERT_TRUE(request) << written[i];
    EXPECT_EQ(config->routes[i].paths.at(0).path, request->path) << written[i];
  }
}

// A host-bound route can only match if its host has the form the router sees for Host headers.
TEST(LoadConfig, RouteHostsTakeTheFormHostHeadersAreNormalisedTo) {
  const std::vector<std::string> written{"API.Example.com", "example.com.", "10.0.0.1",
                                         "[::1]",           "[FE80::1]",    "my_host-1"};
  std::string text =
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes:\n";
  for (std::size_t i = 0; i < written.size(); ++i) {
    text += "  - { name: r" + std::to_string(i) + ", upstream: u, match: { hosts: [ '" +
            written[i] + "' ] } }\n";
  }
  auto config = load_ok(text);
  ASSERT_TRUE(config);
  for (std::size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(config->routes[i].hosts.at(0).host, routing::normalise_host(written[i]))
        << written[i];
  }
}

// ---- from a file

TEST(LoadConfigFile, LoadsAFileAndNamesItInErrors) {
  tollgate::test::TempDir dir;
  auto good = dir.write("good.yaml", minimal_config);
  auto loaded = load_config(good);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ((*loaded)->source_file, good);

  auto bad = dir.write("bad.yaml", std::string(minimal_config) + "workers: lots\n");
  auto failed = load_config(bad);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().to_string(),
            bad + ":9:10: workers: expected auto or a number from 1 to 256, not \"lots\"");
}

TEST(LoadConfigFile, MissingFileIsAnError) {
  auto result = load_config("/nonexistent/tollgate.yaml");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().to_string(),
            "/nonexistent/tollgate.yaml: cannot read the file: No such file or directory");
}

TEST(LoadConfigFile, DirectoryIsAnError) {
  tollgate::test::TempDir dir;
  auto result = load_config(dir.path());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().file, dir.path());
  EXPECT_EQ(result.error().line, 0);
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("cannot read the file"));
}

}  // namespace
}  // namespace tollgate::config

namespace tollgate::config {
namespace {

// The example users start from must always load, with the values its comments promise.
TEST(ShippedExampleConfig, LoadsAsDocumented) {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/config/tollgate.yaml";
  auto loaded = load_config(path);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const GatewayConfig& config = **loaded;
  ASSERT_EQ(config.listens.size(), 1u);
  EXPECT_EQ(config.listens[0].host, "0.0.0.0");
  EXPECT_EQ(config.listens[0].port, 8000);
  EXPECT_TRUE(config.admin.enabled);
  EXPECT_EQ(config.admin.host, "127.0.0.1");
  EXPECT_EQ(config.admin.port, 8001);
  ASSERT_EQ(config.upstreams.size(), 1u);
  EXPECT_EQ(config.upstreams[0].targets.at(0).authority, "127.0.0.1:9000");
  ASSERT_EQ(config.routes.size(), 1u);
  EXPECT_EQ(config.routes[0].paths.at(0).path, "/");
  EXPECT_TRUE(config.routes[0].plugins.empty());
}

// The container's default config (docker/tollgate.yaml) must load too: the image starts with it.
TEST(ShippedExampleConfig, ContainerDefaultLoads) {
  auto loaded = load_config(std::string(TOLLGATE_SOURCE_DIR) + "/docker/tollgate.yaml");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_TRUE((*loaded)->admin.enabled);
  EXPECT_FALSE((*loaded)->routes.empty());
}

}  // namespace
}  // namespace tollgate::config
