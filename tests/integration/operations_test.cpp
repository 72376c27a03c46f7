// What an operator relies on: the admin endpoint, the access log in both formats, least_conn.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

std::string one_route(const EchoServer& echo, const std::string& log_format) {
  return "listen:\n  - address: 127.0.0.1:0\n"
         "admin:\n  address: 127.0.0.1:0\n"
         "workers: 1\n"
         "log: { level: info, format: " +
         log_format +
         ", access_log: stdout }\n"
         "upstreams:\n  echo: { targets: [ " +
         echo.url() +
         " ] }\n"
         "routes:\n  - { name: all, match: { paths: [ / ] }, upstream: echo }\n";
}

TEST(Admin, HealthAndReadiness) {
  auto echo = start_echo_server();
  auto gateway = start_tollgate(one_route(echo, "text"));
  auto health = http_get(gateway.admin_port, "/healthz");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(json::parse(health.body())["status"], "ok");
  EXPECT_EQ(http_get(gateway.admin_port, "/readyz").result_int(), 200);
  EXPECT_EQ(http_get(gateway.admin_port, "/nope").result_int(), 404);
  // The admin port is not the proxy: its paths are not routed upstream.
  EXPECT_EQ(json::parse(http_get(gateway.port(), "/healthz").body())["path"], "/healthz");
}

TEST(AccessLog, TextLineCarriesTheRequestFacts) {
  auto echo = start_echo_server();
  auto gateway = start_tollgate(one_route(echo, "text"));
  auto r = http_get(gateway.port(), "/orders/7?x=1", {{"X-Request-Id", "trace-42"}});
  ASSERT_EQ(r.result_int(), 200);
  const std::string line = gateway.process->wait_for_line("request_id=trace-42");
  (void)line;
  const std::string out = gateway.process->output();
  const auto at = out.find("\"GET /orders/7\" 200");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string logged = out.substr(at, out.find('\n', at) - at);
  EXPECT_NE(logged.find("route=all"), std::string::npos) << logged;
  EXPECT_NE(logged.find("upstream=" + echo.url()), std::string::npos) << logged;
  EXPECT_NE(logged.find("ms "), std::string::npos) << logged;
}

TEST(AccessLog, JsonLinesParse) {
  auto echo = start_echo_server();
  auto gateway = start_tollgate(one_route(echo, "json"));
  ASSERT_EQ(http_get(gateway.port(), "/j", {{"X-Request-Id", "json-7"}}).result_int(), 200);
  gateway.process->wait_for_line("json-7");
  const std::string out = gateway.process->output();
  const auto start = out.rfind('\n', out.find("json-7")) + 1;
  const auto record = json::parse(out.substr(start, out.find('\n', start) - start));
  EXPECT_EQ(record["method"], "GET");
  EXPECT_EQ(record["path"], "/j");
  EXPECT_EQ(record["status"], 200);
  EXPECT_EQ(record["route"], "all");
  EXPECT_EQ(record["request_id"], "json-7");
  EXPECT_TRUE(record["duration"].is_number());
  EXPECT_TRUE(record["bytes_out"].is_number());
  EXPECT_GT(record["bytes_in"].get<int>(), 0);
  EXPECT_EQ(record["upstream_target"], echo.url());
  EXPECT_EQ(record["upstream_status"], 200);
  EXPECT_TRUE(record["upstream_duration"].is_number());
  EXPECT_TRUE(record["cache"].is_null());  // no token lookup on this route
}

TEST(Balancing, LeastConnAvoidsTheBusyTarget) {
  auto a = start_echo_server("a", {"--log-requests"});
  auto b = start_echo_server("b", {"--log-requests"});
  auto gateway = start_tollgate(
      "listen:\n  - address: 127.0.0.1:0\nadmin: off\nworkers: 1\n"
      "log: { access_log: off }\n"
      "upstreams:\n  pair:\n    targets: [ " +
          a.url() + ", " + b.url() +
          " ]\n"
          "    balance: least_conn\n"
          "routes:\n  - { name: all, match: { paths: [ / ] }, upstream: pair }\n",
      1, false);
  // With nothing in flight the tie goes to the first target: the slow request occupies "a".
  HttpConnection slow(gateway.port());
  slow.send_raw("GET /delay/1500 HTTP/1.1\r\nHost: x\r\n\r\n");
  a.process->wait_for_line("echo-server request GET /delay/1500");
  HttpConnection quick(gateway.port());
  std::map<std::string, int> seen;
  for (int i = 0; i < 6; ++i) seen[json::parse(quick.get("/q").body())["server"]]++;
  EXPECT_EQ(json::parse(slow.read_response().body())["server"], "a");
  EXPECT_EQ(seen["b"], 6);
  EXPECT_EQ(seen["a"], 0);
}

}  // namespace
}  // namespace tollgate::test
