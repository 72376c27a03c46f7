// The route table: one entry per (route, host, path) combination, sorted once by precedence so that
// match() is a linear scan that stops at the first entry that fits. Route tables are small (tens of
// entries); a scan over a contiguous vector beats any tree at that size and allocates nothing.
#include "tollgate/routing/router.hpp"

#include <algorithm>
#include <tuple>

namespace tollgate::routing {
namespace {

// What a route without paths matches: everything.
const config::PathMatch kEverything{"/", false};

constexpr int kRankExactHost = 3;
constexpr int kRankWildcardHost = 2;
constexpr int kRankAnyHost = 1;

bool host_matches(const config::HostMatch& want, std::string_view host) noexcept {
  if (!want.wildcard) return host == want.host;
  // ".example.com" matches "a.example.com" and "a.b.example.com", never "example.com" itself.
  return host.size() > want.host.size() && host.ends_with(want.host);
}

bool path_matches(const config::PathMatch& want, std::string_view path) noexcept {
  const std::string_view prefix = want.path;
  if (want.exact) return path == prefix;
  if (!path.starts_with(prefix)) return false;
  // Prefixes end on a segment boundary: "/orders" covers "/orders/1", not "/ordersX".
  return path.size() == prefix.size() || prefix.empty() || prefix.back() == '/' ||
         path[prefix.size()] == '/';
}

bool method_matches(const config::Route& route, std::string_view method) noexcept {
  if (route.methods.empty()) return true;
  return std::any_of(route.methods.begin(), route.methods.end(),
                     [method](const std::string& m) { return m == method; });
}

// Sort key: larger is more specific. Wildcard length only separates wildcards (an exact host can
// only ever equal one Host value, so two exact hosts never compete).
auto precedence(int host_rank, const config::HostMatch* host, const config::PathMatch* path) {
  const std::size_t wildcard_length = host_rank == kRankWildcardHost ? host->host.size() : 0;
  return std::make_tuple(host_rank, wildcard_length, path->exact, path->path.size());
}

}  // namespace

Router::Router(const std::vector<config::Route>& routes) {
  for (const config::Route& route : routes) {
    const auto add_paths = [&](int host_rank, const config::HostMatch* host) {
      if (route.paths.empty()) {
        entries_.push_back({&route, &kEverything, host_rank, host});
        return;
      }
      for (const config::PathMatch& path : route.paths) {
        entries_.push_back({&route, &path, host_rank, host});
      }
    };
    if (route.hosts.empty()) {
      add_paths(kRankAnyHost, nullptr);
    }
    for (const config::HostMatch& host : route.hosts) {
      add_paths(host.wildcard ? kRankWildcardHost : kRankExactHost, &host);
    }
  }
  // Stable: among equally specific entries, the route written first in the file wins.
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return precedence(a.host_rank, a.host, a.path) > precedence(b.host_rank, b.host, b.path);
  });
}

RouteMatchResult Router::match(std::string_view host, std::string_view method,
                               std::string_view path) const {
  for (const Entry& entry : entries_) {
    if (entry.host != nullptr && !host_matches(*entry.host, host)) continue;
    if (!path_matches(*entry.path, path)) continue;
    if (!method_matches(*entry.route, method)) continue;
    return {entry.route, entry.path->path};
  }
  return {};
}

std::string_view strip_prefix(std::string_view path, std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty() || !path.starts_with(prefix)) return path;
  const std::string_view rest = path.substr(prefix.size());
  if (rest.empty()) return "/";
  // Not on a segment boundary: the prefix did not really match, so nothing is stripped.
  if (rest.front() != '/') return path;
  return rest;
}

}  // namespace tollgate::routing
