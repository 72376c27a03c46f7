#include "tollgate/metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <thread>

namespace tollgate::metrics {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const config::GatewayConfig> two_routes() {
  auto loaded = config::load_config_text(
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "workers: 2\n"
      "upstreams:\n"
      "  shop: { targets: [ http://127.0.0.1:9, http://127.0.0.1:10 ] }\n"
      "routes:\n"
      "  - { name: orders, match: { paths: [ /orders ] }, upstream: shop }\n"
      "  - { name: 'say \"hi\"\\', match: { paths: [ /hi ] }, upstream: shop }\n",
      "m.yaml");
  EXPECT_TRUE(loaded) << loaded.error().to_string();
  return *loaded;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST(Exposition, SumsEveryWorkersCellsUnderConfiguredNames) {
  const auto config = two_routes();
  Registry registry(2);
  RouteStats& orders = registry.route("orders");
  orders.cells[0].record(200, 300us);
  orders.cells[1].record(200, 2ms);
  orders.cells[1].record(401, 50us);
  registry.unmatched().cells[0].record(404, 10us);
  TargetStats& first = registry.target("shop", "http://127.0.0.1:9");
  first.cells[0].outcomes[static_cast<std::size_t>(UpstreamOutcome::ok)].add(3);
  first.cells[1].outcomes[static_cast<std::size_t>(UpstreamOutcome::connect_error)].add();
  registry.target("shop", "http://127.0.0.1:10");
  registry.connections(0).open.add(3);
  registry.connections(0).idle.add(1);
  registry.connections(1).open.add(2);

  const std::string text = render(View{config, registry, {}}, Format::prometheus_text, "1.2.3");
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_http_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(tollgate_http_requests_total{route="orders",code="200"} 2.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_http_requests_total{route="orders",code="401"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_http_requests_total{route="-",code="404"} 1.0)"));
  // Cumulative buckets: 50 us and 300 us under 0.0005 s, 2 ms under 0.0025 s.
  EXPECT_TRUE(has_line(
      text, R"(tollgate_http_request_duration_seconds_bucket{route="orders",le="0.0001"} 1.0)"));
  EXPECT_TRUE(has_line(
      text, R"(tollgate_http_request_duration_seconds_bucket{route="orders",le="0.0005"} 2.0)"));
  EXPECT_TRUE(has_line(
      text, R"(tollgate_http_request_duration_seconds_bucket{route="orders",le="0.0025"} 3.0)"));
  EXPECT_TRUE(has_line(
      text, R"(tollgate_http_request_duration_seconds_bucket{route="orders",le="+Inf"} 3.0)"));
  EXPECT_TRUE(
      has_line(text, R"(tollgate_http_request_duration_seconds_count{route="orders"} 3.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_http_connections{state="active"} 4.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_http_connections{state="idle"} 1.0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(tollgate_upstream_requests_total{upstream="shop",target="http://127.0.0.1:9",outcome="ok"} 3.0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(tollgate_upstream_requests_total{upstream="shop",target="http://127.0.0.1:9",outcome="connect_error"} 1.0)"));
  EXPECT_TRUE(has_line(
      text, R"(tollgate_upstream_target_up{upstream="shop",target="http://127.0.0.1:10"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_build_info{version="1.2.3"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_config_reloads_total{result="failure"} 0.0)"));
  EXPECT_EQ(text.find("# EOF"), std::string::npos);
}

// A route name is operator text: quotes and backslashes cannot break out of the label.
TEST(Exposition, EscapesLabelValues) {
  const auto config = two_routes();
  Registry registry(1);
  registry.route("say \"hi\"\\").cells[0].record(200, 1ms);
  const std::string text = render(View{config, registry, {}}, Format::prometheus_text, "1");
  EXPECT_TRUE(
      has_line(text, R"(tollgate_http_requests_total{route="say \"hi\"\\",code="200"} 1.0)"))
      << text;
}

TEST(Exposition, OpenMetricsNamesCounterFamiliesWithoutTotalAndEnds) {
  const auto config = two_routes();
  Registry registry(1);
  registry.route("orders").cells[0].record(200, 1ms);
  const std::string text = render(View{config, registry, {}}, Format::openmetrics, "1");
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_http_requests counter")) << text;
  EXPECT_TRUE(has_line(text, R"(tollgate_http_requests_total{route="orders",code="200"} 1.0)"));
  EXPECT_TRUE(text.ends_with("# EOF\n"));
  EXPECT_EQ(format_for("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
            Format::openmetrics);
  EXPECT_EQ(format_for("text/plain;version=0.0.4;q=1,*/*;q=0.1"), Format::prometheus_text);
  EXPECT_EQ(format_for(""), Format::prometheus_text);
}

TEST(Exposition, PluginFamiliesCountOnlyOpenIdConnectInstances) {
  const auto config = two_routes();
  Registry registry(2);
  auto stats = registry.plugin("okta");
  stats->cells[1].decisions[static_cast<std::size_t>(Decision::allowed)].add(5);
  stats->cells[0].lookups[static_cast<std::size_t>(CacheLookup::hit)].add(4);
  stats->cells[1].lookups[static_cast<std::size_t>(CacheLookup::miss)].add(1);
  stats->cells[1].idp_outcomes[static_cast<std::size_t>(IdpOutcome::active)].add(1);
  stats->cells[1].idp_duration.observe(20ms);
  View view{config, registry, {}};
  view.plugins.push_back({"okta", "openid-connect", true, CacheGauges{1, 200, 1000, 7}});
  view.plugins.push_back({"other", "something-else", false, std::nullopt});
  const std::string text = render(view, Format::prometheus_text, "1");
  EXPECT_TRUE(
      has_line(text, R"(tollgate_oidc_decisions_total{plugin="okta",decision="allowed"} 5.0)"));
  EXPECT_TRUE(
      has_line(text, R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="hit"} 4.0)"));
  EXPECT_TRUE(
      has_line(text, R"(tollgate_oidc_cache_lookups_total{plugin="okta",result="miss"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_oidc_cache_entries{plugin="okta"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_oidc_cache_bytes{plugin="okta"} 200.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_oidc_cache_evictions_total{plugin="okta"} 7.0)"));
  EXPECT_TRUE(
      has_line(text, R"(tollgate_oidc_idp_requests_total{plugin="okta",outcome="active"} 1.0)"));
  EXPECT_TRUE(
      has_line(text, R"(tollgate_oidc_idp_duration_seconds_bucket{plugin="okta",le="0.025"} 1.0)"));
  EXPECT_TRUE(has_line(text, R"(tollgate_oidc_idp_ready{plugin="okta"} 1.0)"));
  EXPECT_EQ(text.find("plugin=\"other\""), std::string::npos);
}

TEST(Histogram, QuantileInterpolatesWithinTheBucketLikePrometheus) {
  Histogram h(kIdpBounds);
  for (int i = 0; i < 100; ++i) h.observe(i < 50 ? 7ms : 40ms);  // (5, 10] ms and (25, 50] ms
  HistogramTotal total;
  total.add(h);
  EXPECT_EQ(total.count, 100u);
  EXPECT_NEAR(total.sum_seconds, 50 * 0.007 + 50 * 0.040, 1e-9);
  EXPECT_NEAR(total.quantile(0.5), 0.010, 1e-9);  // the 50th observation ends the (5, 10] bucket
  EXPECT_NEAR(total.quantile(0.99), 0.025 + 0.025 * (49.0 / 50.0), 1e-9);
  EXPECT_TRUE(std::isnan(HistogramTotal(kIdpBounds).quantile(0.5)));
}

// A writer and a reader on different threads: the reader sees whole values, never more than
// was written (run under ThreadSanitizer as well).
TEST(Count, OneWriterManyReadsSeeWholeValues) {
  Registry registry(2);
  RouteCell& cell = registry.route("r").cells[1];
  constexpr int kWrites = 100'000;
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) cell.responses[100].add();
  });
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t now = cell.responses[100].get();
    EXPECT_GE(now, last);
    last = now;
  }
  writer.join();
  EXPECT_EQ(cell.responses[100].get(), static_cast<std::uint64_t>(kWrites));
}

}  // namespace
}  // namespace tollgate::metrics
