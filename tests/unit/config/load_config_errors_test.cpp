// Every way a config file can be wrong, with the exact line users read:
//   FILE:LINE:COL: KEY.PATH: message
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "process.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::config {
namespace {

using test::load_error;
using ::testing::HasSubstr;
using ::testing::Not;

// Lines 1-5; the text each test appends starts on line 6.
const std::string head =
    "listen:\n"
    "  - address: 127.0.0.1:0\n"
    "upstreams:\n"
    "  orders:\n"
    "    targets: [ http://127.0.0.1:9000 ]\n";

const std::string one_route =
    "routes:\n"
    "  - name: r\n"
    "    upstream: orders\n";

std::string error_line(const std::string& text) {
  return load_error(text).to_string();
}

// ---- the document

TEST(ConfigErrors, YamlSyntaxErrorHasAPosition) {
  EXPECT_EQ(error_line("listen:\n  - address: [127.0.0.1:0\nroutes: []\n"),
            "gw.yaml:3:7: end of sequence flow not found");
}

TEST(ConfigErrors, SecondDocumentIsRejected) {
  EXPECT_EQ(error_line(head + one_route + "---\nworkers: 2\n"),
            "gw.yaml:10:1: the file holds more than one YAML document (remove the second \"---\")");
}

// yaml-cpp 0.7's LoadAll() never returns on a stray top-level ',' (it collects the same empty
// document until memory runs out); the loader reports it like any syntax error.
TEST(ConfigErrors, StrayCommaIsASyntaxErrorNotAnEndlessParse) {
  EXPECT_EQ(error_line(","), "gw.yaml:1:1: unexpected ',': not valid YAML here");
  EXPECT_EQ(error_line(head + one_route + "---\n,\n"),
            "gw.yaml:10:1: unexpected ',': not valid YAML here");
}

TEST(ConfigErrors, EmptyDocumentsAroundTheConfigAreFine) {
  auto result = load_config_text("---\n" + head + one_route + "---\n", "gw.yaml");
  EXPECT_TRUE(result) << result.error().to_string();
}

TEST(ConfigErrors, EmptyFileNamesEveryRequiredSection) {
  EXPECT_EQ(error_line(""), "gw.yaml: missing required sections: listen, upstreams, routes");
  EXPECT_EQ(error_line("# nothing yet\n"),
            "gw.yaml: missing required sections: listen, upstreams, routes");
}

TEST(ConfigErrors, MissingSectionIsNamed) {
  EXPECT_EQ(error_line(head), "gw.yaml:1:1: missing required section: routes");
  EXPECT_EQ(error_line("workers: 2\n" + one_route),
            "gw.yaml:1:1: missing required sections: listen, upstreams");
}

TEST(ConfigErrors, TopLevelMustBeAMap) {
  EXPECT_EQ(error_line("- listen\n"), "gw.yaml:1:1: expected a map, not a list");
}

TEST(ConfigErrors, UnknownTopLevelKeySuggestsTheSection) {
  EXPECT_EQ(error_line(head + one_route + "timeout:\n  client_idle: 5s\n"),
            "gw.yaml:9:1: timeout: unknown key (did you mean \"timeouts\"?)");
}

TEST(ConfigErrors, UnsetEnvironmentVariableIsNamedWithItsPosition) {
  ::unsetenv("TOLLGATE_TEST_UPSTREAM_HOST");
  EXPECT_EQ(error_line(head + one_route + "log:\n  access_log: ${TOLLGATE_TEST_UPSTREAM_HOST}\n"),
            "gw.yaml:10:15: log.access_log: environment variable TOLLGATE_TEST_UPSTREAM_HOST is "
            "not set");
}

TEST(ConfigErrors, UnreadableSecretFileNamesThePath) {
  EXPECT_EQ(error_line("listen:\n  - address: 127.0.0.1:0\nupstreams:\n  orders:\n"
                       "    targets: [ { secret_file: /nonexistent/url } ]\n" +
                       one_route),
            "gw.yaml:5:31: upstreams.orders.targets[0].secret_file: cannot read secret file "
            "\"/nonexistent/url\": No such file or directory");
}

// ---- listen

TEST(ConfigErrors, ListenNeedsAnAddress) {
  EXPECT_EQ(error_line("listen: []\nupstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:1:9: listen: must list at least one address to listen on");
  EXPECT_EQ(error_line("listen:\n  - tls: {}\nupstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:2:5: listen[0].address: is required");
}

TEST(ConfigErrors, ListenEntriesAreMaps) {
  EXPECT_EQ(error_line("listen: [ 0.0.0.0:8000 ]\nupstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:1:11: listen[0]: expected a map like { address: 0.0.0.0:8000 }, not a plain "
            "string");
}

TEST(ConfigErrors, ListenAddressMustBeNumericIpAndPort) {
  const std::string tail =
      "upstreams: { u: { targets: [ http://h ] } }\nroutes: [ { name: r, upstream: u } ]\n";
  for (const char* address : {"localhost:8000", "\"::1:8000\"", "0.0.0.0", "0.0.0.0:70000",
                              "0.0.0.0:http", "\"[127.0.0.1]:80\"", "\"[::1]8000\""}) {
    auto error = load_error("listen:\n  - address: " + std::string(address) + "\n" + tail);
    EXPECT_EQ(error.line, 2) << address;
    EXPECT_EQ(error.column, 14) << address;
    EXPECT_EQ(error.key_path, "listen[0].address");
    EXPECT_THAT(error.message,
                HasSubstr("is not an address (expected IP:port, e.g. 0.0.0.0:8000 or [::]:8000)"))
        << address;
  }
}

TEST(ConfigErrors, ListenAddressUsedTwice) {
  EXPECT_EQ(error_line("listen:\n  - address: 0.0.0.0:8000\n  - address: 0.0.0.0:8000\n"
                       "upstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:3:14: listen[1].address: 0.0.0.0:8000 is already used by listen[0]");
}

TEST(ConfigErrors, TlsFilesMustBeReadable) {
  tollgate::test::TempDir dir;
  auto cert = dir.write("tls.crt", "cert");
  EXPECT_EQ(error_line("listen:\n  - address: 0.0.0.0:8443\n    tls:\n      certificate: " + cert +
                       "\n      key: /nonexistent/tls.key\n"
                       "upstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:5:12: listen[0].tls.key: cannot read file \"/nonexistent/tls.key\": No such "
            "file or directory");
  EXPECT_EQ(error_line("listen:\n  - address: 0.0.0.0:8443\n    tls: { certificate: " + cert +
                       " }\nupstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:3:10: listen[0].tls.key: is required");
  EXPECT_EQ(error_line("listen:\n  - address: 0.0.0.0:8443\n    tls: { cert: x, key: y }\n"
                       "upstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"),
            "gw.yaml:3:12: listen[0].tls.cert: unknown key (did you mean \"certificate\"?)");
}

// ---- admin, workers, log, limits, timeouts

TEST(ConfigErrors, AdminTakesAMapOrOff) {
  EXPECT_EQ(error_line(head + one_route + "admin: maybe\n"),
            "gw.yaml:9:8: admin: expected a map with an address, or off, not \"maybe\"");
  EXPECT_EQ(error_line(head + one_route + "admin:\n  adress: 127.0.0.1:1\n"),
            "gw.yaml:10:3: admin.adress: unknown key (did you mean \"address\"?)");
  EXPECT_EQ(error_line(head + one_route + "admin:\n  address: 127.0.0.1\n"),
            "gw.yaml:10:12: admin.address: \"127.0.0.1\" is not an address (expected IP:port, "
            "e.g. 0.0.0.0:8000 or [::]:8000)");
}

TEST(ConfigErrors, AdminApiTokenMustBeLongAndSendableAsABearerToken) {
  EXPECT_EQ(error_line(head + one_route + "admin:\n  api_token: short\n"),
            "gw.yaml:10:14: admin.api_token: must be at least 16 characters (e.g. the output of "
            "`openssl rand -hex 32`)");
  EXPECT_EQ(error_line(head + one_route + "admin:\n  api_token: \"0123456789abcdef ghi\"\n"),
            "gw.yaml:10:14: admin.api_token: may hold only letters, digits and - . _ ~ + / (then "
            "= at the end), as a Bearer token does; character 17 is not one");
  EXPECT_EQ(error_line(head + one_route + "admin:\n  api_token: \"0123456789=abcdef\"\n"),
            "gw.yaml:10:14: admin.api_token: may hold only letters, digits and - . _ ~ + / (then "
            "= at the end), as a Bearer token does; character 11 is not one");
  EXPECT_EQ(error_line(head + one_route + "admin:\n  api_tokn: 0123456789abcdef\n"),
            "gw.yaml:10:3: admin.api_tokn: unknown key (did you mean \"api_token\"?)");
  EXPECT_EQ(error_line(head + one_route +
                       "admin:\n  api_token: { secret_file: /nonexistent/tollgate/admin }\n"),
            "gw.yaml:10:29: admin.api_token.secret_file: cannot read secret file "
            "\"/nonexistent/tollgate/admin\": No such file or directory");
}

TEST(ConfigErrors, AdminAddressClashingWithAListener) {
  EXPECT_EQ(error_line("listen: [ { address: 127.0.0.1:9000 } ]\n"
                       "upstreams: { u: { targets: [ http://h ] } }\n"
                       "routes: [ { name: r, upstream: u } ]\n"
                       "admin: { address: 127.0.0.1:9000 }\n"),
            "gw.yaml:4:19: admin.address: 127.0.0.1:9000 is already used by listen[0]");
}

TEST(ConfigErrors, WorkersIsAutoOrAnIntegerUpTo256) {
  for (const char* value : {"0", "257", "-1", "two", "1.5"}) {
    EXPECT_EQ(error_line(head + one_route + "workers: " + value + "\n"),
              "gw.yaml:9:10: workers: expected auto or a number from 1 to 256, not \"" +
                  std::string(value) + "\"")
        << value;
  }
  EXPECT_EQ(error_line(head + one_route + "workers: [1]\n"),
            "gw.yaml:9:10: workers: expected auto or a number from 1 to 256");
}

TEST(ConfigErrors, LogChoices) {
  EXPECT_EQ(error_line(head + one_route + "log: { level: warning }\n"),
            "gw.yaml:9:15: log.level: \"warning\" is not one of: trace, debug, info, warn, "
            "error, off (did you mean \"warn\"?)");
  EXPECT_EQ(error_line(head + one_route + "log: { format: yaml }\n"),
            "gw.yaml:9:16: log.format: \"yaml\" is not one of: text, json");
  EXPECT_EQ(error_line(head + one_route + "log: { access_log: \"\" }\n"),
            "gw.yaml:9:20: log.access_log: expected stdout, stderr, off or a file path, not an "
            "empty string");
}

TEST(ConfigErrors, LimitsAreSizes) {
  EXPECT_EQ(error_line(head + one_route + "limits:\n  max_body_bytes: 10 megabytes\n"),
            "gw.yaml:10:19: limits.max_body_bytes: \"10 megabytes\" is not a size (e.g. 16KiB, "
            "10MiB)");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  max_header_bytes: 0\n"),
            "gw.yaml:10:21: limits.max_header_bytes: must be greater than 0");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  max_response_header_bytes: 4GiB\n"),
            "gw.yaml:10:30: limits.max_response_header_bytes: must be less than 4GiB");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  max_header: 1KiB\n"),
            "gw.yaml:10:3: limits.max_header: unknown key (did you mean \"max_header_bytes\"?)");
}

TEST(ConfigErrors, Http2SettingsAreChecked) {
  EXPECT_EQ(error_line("listen:\n  - address: 127.0.0.1:0\n    http2: yes please\n"
                       "upstreams: { u: { targets: [ http://h ] } }\nroutes: []\n"),
            "gw.yaml:3:12: listen[0].http2: expected true or false, not \"yes please\"");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  http2_max_concurrent_streams: 0\n"),
            "gw.yaml:10:33: limits.http2_max_concurrent_streams: must be between 1 and 65536, "
            "not 0");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  http2_initial_window_size: 2GiB\n"),
            "gw.yaml:10:30: limits.http2_initial_window_size: must be from 1KiB to 2147483647 "
            "bytes");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  http2_connection_window_size: 1KiB\n"),
            "gw.yaml:10:33: limits.http2_connection_window_size: must be from 65535 to 2147483647 "
            "bytes");
  EXPECT_EQ(error_line(head + one_route + "timeouts:\n  client_ping: often\n"),
            "gw.yaml:10:16: timeouts.client_ping: \"often\" is not a duration (e.g. 300s)");
  EXPECT_EQ(error_line(head + one_route + "limits:\n  http2_max_reset: 10\n"),
            "gw.yaml:10:3: limits.http2_max_reset: unknown key (did you mean "
            "\"http2_max_resets\"?)");
  auto result = load_config_text(
      "listen:\n  - { address: 127.0.0.1:0, http2: true }\n  - address: 127.0.0.1:0\n"
      "upstreams: { u: { targets: [ http://h ] } }\nroutes: [ { name: r, upstream: u } ]\n",
      "gw.yaml");
  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_TRUE((*result)->listens[0].http2);
  EXPECT_FALSE((*result)->listens[1].http2);  // off unless asked for
  EXPECT_EQ((*result)->limits.http2_max_concurrent_streams, 128u);
  EXPECT_EQ((*result)->limits.http2_initial_window_size, 65'535u);
  EXPECT_EQ((*result)->limits.http2_max_resets, 100u);
}

TEST(ConfigErrors, TimeoutsArePositiveDurations) {
  EXPECT_EQ(error_line(head + one_route + "timeouts:\n  client_idle: 5 minutes\n"),
            "gw.yaml:10:16: timeouts.client_idle: \"5 minutes\" is not a duration (e.g. 300s)");
  EXPECT_EQ(error_line(head + one_route + "timeouts:\n  upstream_read: 0s\n"),
            "gw.yaml:10:18: timeouts.upstream_read: must be greater than 0");
  EXPECT_EQ(error_line(head + one_route + "timeouts:\n  upstream_conect: 1s\n"),
            "gw.yaml:10:3: timeouts.upstream_conect: unknown key (did you mean "
            "\"upstream_connect\"?)");
}

// ---- upstreams

const std::string listen_only = "listen: [ { address: 127.0.0.1:0 } ]\n";  // line 1
const std::string route_to_u = "routes: [ { name: r, upstream: u } ]\n";

std::string upstream_error(const std::string& upstream_body) {
  return error_line(listen_only + "upstreams:\n  u:\n" + upstream_body + route_to_u);
}

TEST(ConfigErrors, UpstreamNeedsTargets) {
  EXPECT_EQ(upstream_error("    balance: least_conn\n"),
            "gw.yaml:4:5: upstreams.u.targets: is required");
  EXPECT_EQ(upstream_error("    targets: []\n"),
            "gw.yaml:4:14: upstreams.u.targets: must list at least one target");
  EXPECT_EQ(upstream_error("    targets: http://h\n"),
            "gw.yaml:4:14: upstreams.u.targets: expected a list, not \"http://h\"");
  EXPECT_EQ(error_line(listen_only + "upstreams: {}\n" + route_to_u),
            "gw.yaml:2:12: upstreams: must define at least one upstream");
}

TEST(ConfigErrors, TargetsAreOriginsOnly) {
  auto target_error = [](const std::string& url) {
    return upstream_error("    targets: [ \"" + url + "\" ]\n");
  };
  EXPECT_EQ(target_error("http://h:9000/api"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http://h:9000/api\" must not have a path (the "
            "request path is forwarded as routed; use strip_path on the route to remove a "
            "prefix)");
  EXPECT_EQ(target_error("http://h:9000?x=1"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http://h:9000?x=1\" must not have a query");
  EXPECT_EQ(target_error("http://h:9000#top"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http://h:9000#top\" must not have a fragment");
  EXPECT_EQ(
      target_error("ftp://h"),
      "gw.yaml:4:16: upstreams.u.targets[0]: \"ftp://h\" must start with http:// or https://");
  EXPECT_EQ(target_error("h:9000"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"h:9000\" must start with http:// or https://");
  EXPECT_EQ(target_error("127.0.0.1:9000"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"127.0.0.1:9000\" is not a URL (expected "
            "http://host:port or https://host:port)");
  EXPECT_EQ(target_error("http://h:0"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http://h:0\" has an invalid port (1 to "
            "65535)");
  EXPECT_EQ(target_error("http://h:99999"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http://h:99999\" has an invalid port (1 to "
            "65535)");
  EXPECT_EQ(target_error("http:///x"),
            "gw.yaml:4:16: upstreams.u.targets[0]: \"http:///x\" has no valid host");
}

TEST(ConfigErrors, TargetWithCredentialsIsRejectedWithoutEchoingThem) {
  auto error = upstream_error("    targets: [ \"https://user:hunter2@h\" ]\n");
  EXPECT_EQ(error,
            "gw.yaml:4:16: upstreams.u.targets[0]: a target must not contain user info "
            "(user:password@)");
  EXPECT_THAT(error, Not(HasSubstr("hunter2")));
}

TEST(ConfigErrors, UpstreamOptions) {
  const std::string targets = "    targets: [ http://h ]\n";
  EXPECT_EQ(upstream_error(targets + "    balance: round-robin\n"),
            "gw.yaml:5:14: upstreams.u.balance: \"round-robin\" is not one of: round_robin, "
            "least_conn (did you mean \"round_robin\"?)");
  EXPECT_EQ(upstream_error(targets + "    keepalive: -1\n"),
            "gw.yaml:5:16: upstreams.u.keepalive: must be between 0 and 10000, not -1");
  EXPECT_EQ(upstream_error(targets + "    max_connections: -1\n"),
            "gw.yaml:5:22: upstreams.u.max_connections: must be between 0 and 100000, not -1");
  EXPECT_EQ(upstream_error(targets + "    max_queued: 1000000\n"),
            "gw.yaml:5:17: upstreams.u.max_queued: must be between 0 and 100000, not 1000000");
  EXPECT_EQ(upstream_error(targets + "    fail_timeout: soon\n"),
            "gw.yaml:5:19: upstreams.u.fail_timeout: \"soon\" is not a duration (e.g. 300s)");
  EXPECT_EQ(upstream_error(targets + "    ssl_verify: no-thanks\n"),
            "gw.yaml:5:17: upstreams.u.ssl_verify: expected true or false, not \"no-thanks\"");
  EXPECT_EQ(upstream_error(targets + "    ca_file: /nonexistent/ca.pem\n"),
            "gw.yaml:5:14: upstreams.u.ca_file: cannot read file \"/nonexistent/ca.pem\": No such "
            "file or directory");
  EXPECT_EQ(upstream_error(targets + "    protocol: http2\n"),
            "gw.yaml:5:15: upstreams.u.protocol: \"http2\" is not one of: http1, h2, grpc (did you "
            "mean \"http1\"?)");
  EXPECT_EQ(upstream_error(targets + "    h2_max_connections: 0\n"),
            "gw.yaml:5:25: upstreams.u.h2_max_connections: must be between 1 and 1000, not 0");
  EXPECT_EQ(upstream_error(targets + "    tagets: []\n"),
            "gw.yaml:5:5: upstreams.u.tagets: unknown key (did you mean \"targets\"?)");
}

TEST(ConfigErrors, DuplicateUpstreamName) {
  EXPECT_EQ(
      error_line(listen_only +
                 "upstreams:\n  u: { targets: [ http://a ] }\n  u: { targets: [ http://b ] }\n" +
                 route_to_u),
      "gw.yaml:4:3: upstreams.u: duplicate key");
}

// ---- plugins

TEST(ConfigErrors, UnknownPluginTypeSuggestsAKnownOne) {
  EXPECT_EQ(
      error_line(head + one_route + "plugins:\n  okta:\n    name: openid-conect\n    config: {}\n"),
      "gw.yaml:11:11: plugins.okta.name: unknown plugin type \"openid-conect\" (did you mean "
      "\"openid-connect\"?)");
  EXPECT_EQ(error_line(head + one_route + "plugins:\n  limit:\n    name: rate-limiting\n"),
            "gw.yaml:11:11: plugins.limit.name: unknown plugin type \"rate-limiting\" (available: "
            "openid-connect)");
}

TEST(ConfigErrors, PluginInstanceShape) {
  EXPECT_EQ(error_line(head + one_route + "plugins:\n  okta:\n    config: {}\n"),
            "gw.yaml:11:5: plugins.okta.name: is required");
  EXPECT_EQ(
      error_line(head + one_route + "plugins:\n  okta:\n    name: openid-connect\n    conf: {}\n"),
      "gw.yaml:12:5: plugins.okta.conf: unknown key (did you mean \"config\"?)");
  EXPECT_EQ(error_line(head + one_route + "plugins: [ okta ]\n"),
            "gw.yaml:9:10: plugins: expected a map, not a list");
}

// ---- routes

TEST(ConfigErrors, RoutesMustNotBeEmpty) {
  EXPECT_EQ(error_line(head + "routes: []\n"), "gw.yaml:6:9: routes: must list at least one route");
}

TEST(ConfigErrors, RouteNeedsAName) {
  EXPECT_EQ(error_line(head + "routes:\n  - upstream: orders\n"),
            "gw.yaml:7:5: routes[0].name: is required");
  EXPECT_EQ(error_line(head + "routes:\n  - name: \"\"\n    upstream: orders\n"),
            "gw.yaml:7:11: routes[0].name: a route needs a name");
}

TEST(ConfigErrors, DuplicateRouteName) {
  EXPECT_EQ(error_line(head + "routes:\n"
                              "  - { name: api, match: { paths: [ /a ] }, upstream: orders }\n"
                              "  - { name: api, match: { paths: [ /b ] }, upstream: orders }\n"),
            "gw.yaml:8:13: routes[1].name: duplicate route name \"api\" (also routes[0])");
}

TEST(ConfigErrors, UnknownUpstreamSuggestsTheClosestName) {
  EXPECT_EQ(error_line(head + "routes:\n  - name: introspection-route\n    upstream: order\n"),
            "gw.yaml:8:15: routes[0].upstream: no upstream named \"order\" (did you mean "
            "\"orders\"?)");
  EXPECT_EQ(error_line(head + "routes:\n  - name: r\n    upstream: payments\n"),
            "gw.yaml:8:15: routes[0].upstream: no upstream named \"payments\"");
  EXPECT_EQ(error_line(head + "routes:\n  - name: r\n"),
            "gw.yaml:7:5: routes[0].upstream: is required");
}

TEST(ConfigErrors, UnknownPluginInstance) {
  EXPECT_EQ(error_line(head + one_route + "    plugins: [ okta ]\n"),
            "gw.yaml:9:16: routes[0].plugins[0]: no plugin named \"okta\"");
  EXPECT_EQ(error_line(head + one_route + "    plugins: okta\n"),
            "gw.yaml:9:14: routes[0].plugins: no plugin named \"okta\"");
}

TEST(ConfigErrors, UnknownRouteKeys) {
  EXPECT_EQ(error_line(head + one_route + "    upstrem: orders\n"),
            "gw.yaml:9:5: routes[0].upstrem: unknown key (did you mean \"upstream\"?)");
  EXPECT_EQ(error_line(head + one_route + "    match: { path: /x }\n"),
            "gw.yaml:9:14: routes[0].match.path: unknown key (did you mean \"paths\"?)");
  EXPECT_EQ(error_line(head + one_route + "    strip_path: yes please\n"),
            "gw.yaml:9:17: routes[0].strip_path: expected true or false, not \"yes please\"");
}

std::string match_error(const std::string& match) {
  return error_line(head + one_route + "    match: " + match + "\n");
}

TEST(ConfigErrors, RoutePathsMustBeNormalisedAbsolutePaths) {
  EXPECT_EQ(match_error("{ paths: [ orders ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"orders\" must start with '/' (\"= /path\" "
            "for an exact match)");
  EXPECT_EQ(match_error("{ paths: [ \"/public/../admin\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/public/../admin\" has a \".\" or \"..\" "
            "segment; write the path it stands for");
  EXPECT_EQ(match_error("{ paths: [ \"/a/%2e%2E\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a/%2e%2E\" has a \".\" or \"..\" segment; "
            "write the path it stands for");
  EXPECT_EQ(match_error("{ paths: [ /a/./b ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a/./b\" has a \".\" or \"..\" segment; "
            "write the path it stands for");
  EXPECT_EQ(match_error("{ paths: [ //admin ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"//admin\" has an empty segment (\"//\")");
  EXPECT_EQ(match_error("{ paths: [ \"/a?b=1\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a?b=1\" contains '?', which is not allowed "
            "in a route path");
  EXPECT_EQ(match_error("{ paths: [ \"/a b\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a b\" contains a space or control "
            "character, which is not allowed "
            "in a route path");
  EXPECT_EQ(match_error("{ paths: [ \"/a%zz\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a%zz\" has an invalid %-escape");
  EXPECT_EQ(match_error("{ paths: [ \"/a%2\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a%2\" has an invalid %-escape");
  EXPECT_EQ(match_error("{ paths: [ \"/a%2Fb\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a%2Fb\" has an encoded '/', '\\' or "
            "control character, which requests never match");
  EXPECT_EQ(match_error("{ paths: [ \"/public/..;/admin\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/public/..;/admin\" has a \".;\" or "
            "\"..;\" segment, which requests never match");
  EXPECT_EQ(match_error("{ paths: [ \"/a%0d%0aX: y\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a%0d%0aX: y\" has an encoded '/', '\\' or "
            "control character, which requests never match");
  EXPECT_EQ(match_error("{ paths: [ \"/a#frag\" ] }"),
            "gw.yaml:9:23: routes[0].match.paths[0]: \"/a#frag\" contains '#', which is not "
            "allowed in a route path");
  EXPECT_EQ(match_error("{ paths: [ /ok, \"=\" ] }"),
            "gw.yaml:9:28: routes[0].match.paths[1]: \"=\" must start with '/' (\"= /path\" for an "
            "exact match)");
}

TEST(ConfigErrors, RouteHostsAreNamesWithoutPorts) {
  EXPECT_EQ(match_error("{ hosts: [ \"api.example.com:8000\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"api.example.com:8000\": hosts are matched "
            "without a port");
  EXPECT_EQ(match_error("{ hosts: [ \"api.*.com\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"api.*.com\": a wildcard is only allowed as "
            "a leading \"*.\" (e.g. *.example.com)");
  EXPECT_EQ(match_error("{ hosts: [ \"*.\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"*.\" is not a valid wildcard host (e.g. "
            "*.example.com)");
  EXPECT_EQ(match_error("{ hosts: [ \"*\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"*\": a wildcard is only allowed as a "
            "leading \"*.\" (e.g. *.example.com)");
  EXPECT_EQ(match_error("{ hosts: [ \"a..b\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"a..b\" is not a valid host name");
  EXPECT_EQ(match_error("{ hosts: [ \"exa mple.com\" ] }"),
            "gw.yaml:9:23: routes[0].match.hosts[0]: \"exa mple.com\" is not a valid host name");
}

TEST(ConfigErrors, RouteMethodsAreTokens) {
  EXPECT_EQ(match_error("{ methods: [ GET, \"GET POST\" ] }"),
            "gw.yaml:9:30: routes[0].match.methods[1]: \"GET POST\" is not an HTTP method");
  EXPECT_EQ(match_error("{ methods: { GET: true } }"),
            "gw.yaml:9:23: routes[0].match.methods: expected a list of strings, not a map");
}

TEST(ConfigErrors, IdenticalRoutesAreRejected) {
  EXPECT_EQ(
      error_line(head +
                 "routes:\n"
                 "  - name: a\n"
                 "    match: { paths: [ /orders ], methods: [ GET, POST ], hosts: [ x.io ] }\n"
                 "    upstream: orders\n"
                 "  - name: b\n"
                 "    match: { paths: [ /other, /orders/ ], methods: [ post, GET ], hosts: X.io }\n"
                 "    upstream: orders\n"),
      "gw.yaml:11:31: routes[1].match.paths[1]: matches the same host, path and methods as route "
      "\"a\" (routes[0]), so one of them could never be chosen");
}

TEST(ConfigErrors, TwoCatchAllRoutesAreRejected) {
  EXPECT_EQ(error_line(head + "routes:\n"
                              "  - { name: a, upstream: orders }\n"
                              "  - { name: b, match: { paths: [ / ] }, upstream: orders }\n"),
            "gw.yaml:8:34: routes[1].match.paths[0]: matches the same host, path and methods as "
            "route \"a\" (routes[0]), so one of them could never be chosen");
}

}  // namespace
}  // namespace tollgate::config

namespace tollgate::config {
namespace {

TEST(ConfigTrustedProxies, NetworksAndAddressesOfBothFamilies) {
  auto config = test::load_ok(
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "trusted_proxies: [ 10.0.0.0/8, 127.0.0.1, \"::1\", \"2001:db8::/32\" ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes: [ { name: r, upstream: u } ]\n");
  ASSERT_TRUE(config);
  ASSERT_EQ(config->trusted_proxies.size(), 4u);
  EXPECT_EQ(config->trusted_proxies[0].prefix_length, 8u);
  EXPECT_EQ(config->trusted_proxies[1].prefix_length, 32u);
  EXPECT_EQ(config->trusted_proxies[2].prefix_length, 128u);
  EXPECT_EQ(config->trusted_proxies[3].address.to_string(), "2001:db8::");
  EXPECT_TRUE(test::load_ok("listen: [ { address: 127.0.0.1:0 } ]\n"
                            "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
                            "routes: [ { name: r, upstream: u } ]\n")
                  ->trusted_proxies.empty());
}

TEST(ConfigTrustedProxies, BadEntriesArePositioned) {
  const std::string rest =
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "routes: [ { name: r, upstream: u } ]\n";
  EXPECT_EQ(test::load_error("listen: [ { address: 127.0.0.1:0 } ]\n"
                             "trusted_proxies: [ 10.0.0.0/33 ]\n" +
                             rest)
                .to_string(),
            "gw.yaml:2:20: trusted_proxies[0]: \"10.0.0.0/33\" has an invalid prefix length (0 to "
            "32)");
  EXPECT_EQ(test::load_error("listen: [ { address: 127.0.0.1:0 } ]\n"
                             "trusted_proxies: [ lb.example ]\n" +
                             rest)
                .to_string(),
            "gw.yaml:2:20: trusted_proxies[0]: \"lb.example\" is not an IP address or a network "
            "like 10.0.0.0/8");
}

}  // namespace
}  // namespace tollgate::config
