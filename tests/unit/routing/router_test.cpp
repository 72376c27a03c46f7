#include "tollgate/routing/router.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace tollgate::routing {
namespace {

config::Route route(std::string name, std::vector<config::PathMatch> paths,
                    std::vector<config::HostMatch> hosts = {},
                    std::vector<std::string> methods = {}) {
  config::Route r;
  r.name = std::move(name);
  r.paths = std::move(paths);
  r.hosts = std::move(hosts);
  r.methods = std::move(methods);
  return r;
}

config::PathMatch prefix(std::string p) {
  return {std::move(p), false};
}
config::PathMatch exact(std::string p) {
  return {std::move(p), true};
}
config::HostMatch host(std::string h) {
  return {std::move(h), false};
}
config::HostMatch wildcard(std::string suffix) {
  return {std::move(suffix), true};
}

// The name of the matched route, or "" for no match.
std::string matched(const Router& router, std::string_view path, std::string_view h = "any.host",
                    std::string_view method = "GET") {
  const RouteMatchResult m = router.match(h, method, path);
  return m.route == nullptr ? "" : m.route->name;
}

TEST(Router, PrefixMatchesOnSegmentBoundary) {
  const std::vector routes = {route("orders", {prefix("/orders")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/orders"), "orders");
  EXPECT_EQ(matched(router, "/orders/"), "orders");
  EXPECT_EQ(matched(router, "/orders/1"), "orders");
  EXPECT_EQ(matched(router, "/orders/1/items"), "orders");
  EXPECT_EQ(matched(router, "/ordersX"), "");
  EXPECT_EQ(matched(router, "/order"), "");
  EXPECT_EQ(matched(router, "/"), "");
  EXPECT_EQ(matched(router, "/Orders"), "");  // case-sensitive
}

TEST(Router, RootPrefixMatchesEverything) {
  const std::vector routes = {route("root", {prefix("/")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/"), "root");
  EXPECT_EQ(matched(router, "/anything/at/all"), "root");
}

TEST(Router, RouteWithoutPathsMatchesEverything) {
  const std::vector routes = {route("all", {})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/x/y"), "all");
  EXPECT_EQ(router.match("h", "GET", "/x").matched_prefix, "/");
}

TEST(Router, ExactMatchesOnlyThePath) {
  const std::vector routes = {route("health", {exact("/health")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/health"), "health");
  EXPECT_EQ(matched(router, "/health/"), "");
  EXPECT_EQ(matched(router, "/health/x"), "");
}

TEST(Router, LongestPrefixWins) {
  const std::vector routes = {route("api", {prefix("/api")}), route("root", {prefix("/")}),
                              route("admin", {prefix("/api/admin")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/api/admin/users"), "admin");
  EXPECT_EQ(matched(router, "/api/administrators"), "api");
  EXPECT_EQ(matched(router, "/api/orders"), "api");
  EXPECT_EQ(matched(router, "/other"), "root");
}

TEST(Router, ExactBeatsLongerPrefix) {
  const std::vector routes = {route("prefix", {prefix("/api/v1/orders")}),
                              route("exact", {exact("/api")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/api"), "exact");
  EXPECT_EQ(matched(router, "/api/v1/orders"), "prefix");
}

TEST(Router, ExactBeatsPrefixOfSameLength) {
  const std::vector routes = {route("prefix", {prefix("/status")}),
                              route("exact", {exact("/status")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/status"), "exact");
  EXPECT_EQ(matched(router, "/status/1"), "prefix");
}

TEST(Router, ConfigOrderBreaksTies) {
  const std::vector routes = {route("first", {prefix("/a")}), route("second", {prefix("/a")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/a/b"), "first");
}

TEST(Router, HostRoutesBeatHostlessOnes) {
  // The host-less route has a longer path, and comes first: host specificity still wins.
  const std::vector routes = {route("any-host", {prefix("/orders/special")}),
                              route("api-host", {prefix("/")}, {host("api.example.com")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/orders/special", "api.example.com"), "api-host");
  EXPECT_EQ(matched(router, "/orders/special", "other.example.com"), "any-host");
  EXPECT_EQ(matched(router, "/x", "other.example.com"), "");
}

TEST(Router, ExactHostBeatsWildcard) {
  const std::vector routes = {route("wild", {prefix("/")}, {wildcard(".example.com")}),
                              route("exact", {prefix("/")}, {host("api.example.com")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/", "api.example.com"), "exact");
  EXPECT_EQ(matched(router, "/", "www.example.com"), "wild");
}

TEST(Router, LongerWildcardBeatsShorter) {
  const std::vector routes = {route("short", {prefix("/")}, {wildcard(".example.com")}),
                              route("long", {prefix("/")}, {wildcard(".eu.example.com")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/", "api.eu.example.com"), "long");
  EXPECT_EQ(matched(router, "/", "api.us.example.com"), "short");
}

TEST(Router, HostSpecificityBeatsPathSpecificity) {
  const std::vector routes = {
      route("wild-long-path", {exact("/orders/1")}, {wildcard(".example.com")}),
      route("exact-host-root", {prefix("/")}, {host("api.example.com")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/orders/1", "api.example.com"), "exact-host-root");
}

TEST(Router, WildcardNeedsALabelBeforeTheSuffix) {
  const std::vector routes = {route("wild", {prefix("/")}, {wildcard(".example.com")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/", "a.example.com"), "wild");
  EXPECT_EQ(matched(router, "/", "a.b.example.com"), "wild");
  EXPECT_EQ(matched(router, "/", "example.com"), "");
  EXPECT_EQ(matched(router, "/", ".example.com"), "");
  EXPECT_EQ(matched(router, "/", "badexample.com"), "");
  EXPECT_EQ(matched(router, "/", ""), "");
}

TEST(Router, AnyOfSeveralHostsAndPaths) {
  const std::vector routes = {
      route("multi", {prefix("/a"), exact("/b")}, {host("one.test"), host("two.test")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/a/1", "one.test"), "multi");
  EXPECT_EQ(matched(router, "/b", "two.test"), "multi");
  EXPECT_EQ(matched(router, "/b/1", "two.test"), "");
  EXPECT_EQ(matched(router, "/a", "three.test"), "");
}

TEST(Router, MethodsFilterAndFallThrough) {
  const std::vector routes = {route("read", {prefix("/orders")}, {}, {"GET", "HEAD"}),
                              route("fallback", {prefix("/")})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/orders/1", "h", "GET"), "read");
  EXPECT_EQ(matched(router, "/orders/1", "h", "HEAD"), "read");
  EXPECT_EQ(matched(router, "/orders/1", "h", "POST"), "fallback");
  EXPECT_EQ(matched(router, "/orders/1", "h", "get"), "fallback");  // methods are case-sensitive
}

TEST(Router, MethodMismatchWithoutFallbackIsNoMatch) {
  const std::vector routes = {route("read", {prefix("/orders")}, {}, {"GET"})};
  const Router router(routes);
  EXPECT_EQ(matched(router, "/orders", "h", "DELETE"), "");
}

TEST(Router, ReportsTheMatchedPrefix) {
  const std::vector routes = {route("orders", {prefix("/v1"), prefix("/orders")})};
  const Router router(routes);
  const RouteMatchResult m = router.match("h", "GET", "/orders/7");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.matched_prefix, "/orders");
  EXPECT_EQ(strip_prefix("/orders/7", m.matched_prefix), "/7");
}

TEST(Router, EmptyTableMatchesNothing) {
  const std::vector<config::Route> routes;
  const Router router(routes);
  EXPECT_EQ(router.match("h", "GET", "/").route, nullptr);
}

TEST(StripPrefix, RemovesThePrefixOnSegmentBoundary) {
  EXPECT_EQ(strip_prefix("/orders/1", "/orders"), "/1");
  EXPECT_EQ(strip_prefix("/orders/1/items", "/orders"), "/1/items");
  EXPECT_EQ(strip_prefix("/orders", "/orders"), "/");
  EXPECT_EQ(strip_prefix("/orders/", "/orders"), "/");
  EXPECT_EQ(strip_prefix("/api/v1/x", "/api/v1"), "/x");
}

TEST(StripPrefix, RootPrefixLeavesPathAlone) {
  EXPECT_EQ(strip_prefix("/orders/1", "/"), "/orders/1");
  EXPECT_EQ(strip_prefix("/", "/"), "/");
}

TEST(StripPrefix, PrefixWithTrailingSlash) {
  EXPECT_EQ(strip_prefix("/orders/1", "/orders/"), "/1");
  EXPECT_EQ(strip_prefix("/orders/", "/orders/"), "/");
}

TEST(StripPrefix, NotAPrefixLeavesPathAlone) {
  EXPECT_EQ(strip_prefix("/ordersX", "/orders"), "/ordersX");
  EXPECT_EQ(strip_prefix("/other", "/orders"), "/other");
}

}  // namespace
}  // namespace tollgate::routing
