// /metrics and /status.json after known traffic through real processes: every count is exact, the
// IdP's own count agrees with tollgate's, reloads are counted and their errors shown, and counts
// go on across a reload.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "idp_client.hpp"
#include "services.hpp"

namespace tollgate::test {
namespace {

using nlohmann::json;

// Every sample of a text-format scrape: the series (name and labels, as written) to its value.
std::map<std::string, double> scrape(std::uint16_t admin_port) {
  const Response response = http_get(admin_port, "/metrics");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[boost::beast::http::field::content_type],
            "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, double> samples;
  std::istringstream in(response.body());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// A request is counted once its answer is written: the client can read the answer a moment
// before. Scrapes until `series` has `value` (5 s at most), then returns that scrape.
std::map<std::string, double> scrape_when(std::uint16_t admin_port, const std::string& series,
                                          double value) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto samples = scrape(admin_port);
  while (samples[series] != value && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    samples = scrape(admin_port);
  }
  EXPECT_EQ(samples[series], value) << series;
  return samples;
}

json status_of(std::uint16_t admin_port) {
  const Response response = http_get(admin_port, "/status.json");
  EXPECT_EQ(response.result_int(), 200);
  return json::parse(response.body());
}

const json& row_named(const json& rows, const std::string& name) {
  for (const json& row : rows) {
    if (row.at("name") == name) return row;
  }
  ADD_FAILURE() << "no row " << name << " in " << rows.dump();
  static const json none;
  return none;
}

std::string metrics_config(const EchoServer& echo, const DevIdp& idp, std::uint16_t dead_port,
                           const std::string& extra_route = "") {
  return basic_config(
      "upstreams:\n"
      "  echo: { targets: [ " +
      echo.url() +
      " ] }\n"
      "  gone: { targets: [ http://127.0.0.1:" +
      std::to_string(dead_port) +
      " ] }\n"
      "plugins:\n" +
      openid_connect_plugin("okta", "introspection_endpoint: " + idp.issuer() + "/v1/introspect") +
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: echo, plugins: [ okta ] }\n"
      "  - { name: gone, match: { paths: [ /gone ] }, upstream: gone }\n" +
      extra_route);
}

// A port nothing listens on: taken by a process that then exits.
std::uint16_t closed_port() {
  return start_echo_server().port;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    idp_ = start_dev_idp();
    echo_ = start_echo_server();
    dead_port_ = closed_port();
    gateway_ = start_tollgate(metrics_config(echo_, idp_, dead_port_));
    token_ = fetch_token(idp_.port, "demo-client", "demo-secret", "orders:read");
  }

  int get(const std::string& path, const std::string& token = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return http_get(gateway_.port(), path, headers).result_int();
  }

  // 10 allowed, 3 without a token, 2 with unknown tokens, 1 unrouted, 1 to a dead upstream.
  void known_traffic() {
    for (int i = 0; i < 10; ++i) ASSERT_EQ(get("/orders", token_), 200);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(get("/orders"), 401);
    ASSERT_EQ(get("/orders", "unknown-1"), 401);
    ASSERT_EQ(get("/orders", "unknown-2"), 401);
    ASSERT_EQ(get("/nowhere"), 404);
    ASSERT_EQ(get("/gone"), 502);
  }

  DevIdp idp_;
  EchoServer echo_;
  std::uint16_t dead_port_ = 0;
  Tollgate gateway_;
  std::string token_;
};

TEST_F(MetricsTest, CountsAreExactAfterKnownTraffic) {
  known_traffic();
  const auto m = scrape_when(gateway_.admin_port,
                             R"(tollgate_http_requests_total{route="gone",code="502"})", 1);
  const auto at = [&](const std::string& series) {
    const auto it = m.find(series);
    EXPECT_NE(it, m.end()) << series;
    return it == m.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at(R"(tollgate_http_requests_total{route="orders",code="200"})"), 10);
  EXPECT_EQ(at(R"(tollgate_http_requests_total{route="orders",code="401"})"), 5);
  EXPECT_EQ(at(R"(tollgate_http_requests_total{route="-",code="404"})"), 1);
  EXPECT_EQ(at(R"(tollgate_http_requests_total{route="gone",code="502"})"), 1);
  EXPECT_EQ(at(R"(tollgate_http_request_duration_seconds_count{route="orders"})"), 15);
  EXPECT_EQ(at(R"(tollgate_http_request_duration_seconds_bucket{route="orders",le="+Inf"})"), 15);

  EXPECT_EQ(at(R"(tollgate_oidc_decisions_total{plugin="okta",decision="allowed"})"), 10);
  EXPECT_EQ(at(R"(tollgate_oidc_decisions_total{plugin="okta",decision="no_token"})"), 3);
  EXPECT_EQ(at(R"(tollgate_oidc_decisions_total{plugin="okta",decision="invalid_token"})"), 2);
  EXPECT_EQ(at(R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="hit"})"), 9);
  EXPECT_EQ(at(R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="miss"})"), 3);
  EXPECT_EQ(at(R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="coalesced"})"), 0);
  EXPECT_EQ(at(R"(tollgate_oidc_cache_entries{plugin="okta"})"), 3);
  EXPECT_EQ(at(R"(tollgate_oidc_idp_requests_total{plugin="okta",outcome="active"})"), 1);
  EXPECT_EQ(at(R"(tollgate_oidc_idp_requests_total{plugin="okta",outcome="inactive"})"), 2);
  EXPECT_EQ(at(R"(tollgate_oidc_idp_duration_seconds_count{plugin="okta"})"), 3);
  EXPECT_EQ(introspect_calls(idp_.port), 3);  // the IdP's own count agrees
  EXPECT_EQ(at(R"(tollgate_oidc_idp_ready{plugin="okta"})"), 1);

  const std::string echo_target = R"(upstream="echo",target=")" + echo_.url() + "\"";
  const std::string dead_target =
      R"(upstream="gone",target="http://127.0.0.1:)" + std::to_string(dead_port_) + "\"";
  EXPECT_EQ(at("tollgate_upstream_requests_total{" + echo_target + R"(,outcome="ok"})"), 10);
  EXPECT_EQ(at("tollgate_upstream_requests_total{" + dead_target + R"(,outcome="connect_error"})"),
            1);
  EXPECT_EQ(at("tollgate_upstream_target_up{" + echo_target + "}"), 1);
  EXPECT_EQ(at("tollgate_upstream_target_up{" + dead_target + "}"), 0);
  EXPECT_EQ(at(R"(tollgate_upstream_duration_seconds_count{upstream="echo"})"), 10);
  EXPECT_EQ(at(R"(tollgate_config_reloads_total{result="success"})"), 0);
  EXPECT_GT(at("process_resident_memory_bytes"), 1e6);
  EXPECT_GT(at("process_open_fds"), 3);

  // The JSON twin says the same.
  const json status = status_of(gateway_.admin_port);
  const json& orders = row_named(status.at("routes"), "orders");
  EXPECT_EQ(orders.at("requests"), 15);
  EXPECT_EQ(orders.at("upstream"), "echo");
  EXPECT_EQ(orders.at("responses").at("2xx"), 10);
  EXPECT_EQ(orders.at("responses").at("4xx"), 5);
  EXPECT_TRUE(orders.at("duration_p99_seconds").is_number());
  EXPECT_EQ(row_named(status.at("routes"), "-").at("responses").at("4xx"), 1);
  const json& okta = row_named(status.at("plugins"), "okta");
  EXPECT_EQ(okta.at("cache").at("hits"), 9);
  EXPECT_EQ(okta.at("cache").at("misses"), 3);
  EXPECT_EQ(okta.at("cache").at("hit_ratio"), 0.75);
  EXPECT_EQ(okta.at("idp").at("requests"), 3);
  EXPECT_EQ(okta.at("decisions").at("no_token"), 3);
  const json& gone = row_named(status.at("upstreams"), "gone").at("targets").at(0);
  EXPECT_EQ(gone.at("up"), false);
  EXPECT_EQ(gone.at("failures"), 1);
  EXPECT_EQ(status.at("config").at("generation"), 1);
  EXPECT_TRUE(status.at("config").at("last_reload").is_null());
}

// Each worker's own figures add up to the process's: every connection was taken by one worker and
// every request answered by one.
TEST_F(MetricsTest, WorkersShowHowConnectionsAndRequestsAreSpread) {
  known_traffic();  // 17 requests, each on a connection of its own
  scrape_when(gateway_.admin_port, R"(tollgate_http_requests_total{route="gone",code="502"})", 1);
  const json workers = status_of(gateway_.admin_port).at("workers");
  ASSERT_EQ(workers.size(), 2u);
  std::uint64_t accepted = 0;
  std::uint64_t requests = 0;
  for (unsigned w = 0; w < workers.size(); ++w) {
    EXPECT_EQ(workers[w].at("index"), w);
    accepted += workers[w].at("connections_accepted").get<std::uint64_t>();
    requests += workers[w].at("requests").get<std::uint64_t>();
  }
  EXPECT_EQ(accepted, 17u);
  EXPECT_EQ(requests, 17u);
}

// The connections a client keeps open between requests are idle; their count comes back to zero
// when they close.
TEST_F(MetricsTest, IdleConnectionsAreCountedAndComeBack) {
  const auto idle = [&] {
    return scrape(gateway_.admin_port)[R"(tollgate_http_connections{state="idle"})"];
  };
  const auto wait_for_idle = [&](double expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (idle() != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return idle();
  };
  {
    std::vector<std::unique_ptr<HttpConnection>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<HttpConnection>(gateway_.port()));
      ASSERT_EQ(clients.back()->get("/orders").result_int(), 401);
    }
    EXPECT_EQ(wait_for_idle(3), 3);
  }
  EXPECT_EQ(wait_for_idle(0), 0);
}

TEST_F(MetricsTest, ReloadsAreCountedAndAFailedOneShowsWhereTheFileIsWrong) {
  known_traffic();
  scrape_when(gateway_.admin_port, R"(tollgate_http_requests_total{route="gone",code="502"})", 1);
  std::ofstream(gateway_.config_path)
      << metrics_config(echo_, idp_, dead_port_) + "  - { name: broken, upstream: nowhere }\n";
  gateway_.process->signal(SIGHUP);
  gateway_.process->wait_for_line("reload failed");

  auto m = scrape(gateway_.admin_port);
  EXPECT_EQ((m[R"(tollgate_config_reloads_total{result="failure"})"]), 1);
  json status = status_of(gateway_.admin_port);
  const json& failed = status.at("config").at("last_reload");
  EXPECT_EQ(failed.at("result"), "failure");
  // file:line:col of the bad key, as at start.
  const std::string error = failed.at("error");
  EXPECT_TRUE(std::regex_search(
      error, std::regex(std::regex_replace(gateway_.config_path,
                                           std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                        R"(:\d+:\d+: )")))
      << error;
  EXPECT_NE(error.find("nowhere"), std::string::npos) << error;
  EXPECT_EQ(status.at("config").at("generation"), 1);

  std::ofstream(gateway_.config_path) << metrics_config(
      echo_, idp_, dead_port_, "  - { name: more, match: { paths: [ /more ] }, upstream: echo }\n");
  gateway_.process->signal(SIGHUP);
  gateway_.process->wait_for_line("configuration reloaded from");
  ASSERT_EQ(get("/orders", token_), 200);  // a cached token: no IdP call, and counted on

  m = scrape_when(gateway_.admin_port, R"(tollgate_http_requests_total{route="orders",code="200"})",
                  11);
  EXPECT_EQ((m[R"(tollgate_config_reloads_total{result="success"})"]), 1);
  EXPECT_EQ((m[R"(tollgate_http_requests_total{route="orders",code="200"})"]), 11);
  EXPECT_EQ((m[R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="hit"})"]), 10);
  status = status_of(gateway_.admin_port);
  EXPECT_EQ(status.at("config").at("generation"), 2);
  EXPECT_EQ(status.at("config").at("last_reload").at("result"), "success");
  EXPECT_EQ(row_named(status.at("routes"), "more").at("requests"), 0);
}

TEST_F(MetricsTest, OpenMetricsWhenTheScraperAsksForIt) {
  const Response response = http_get(
      gateway_.admin_port, "/metrics",
      {{"Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}});
  EXPECT_EQ(response[boost::beast::http::field::content_type],
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_NE(response.body().find("# TYPE tollgate_http_requests counter\n"), std::string::npos);
  EXPECT_TRUE(response.body().ends_with("# EOF\n"));
}

}  // namespace
}  // namespace tollgate::test
