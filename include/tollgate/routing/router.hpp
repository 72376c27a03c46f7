// Immutable route table built from the config. match() is the hot path: no allocation, no regex.
#pragma once

#include <string_view>
#include <vector>

#include "tollgate/config/config.hpp"

namespace tollgate::routing {

struct RouteMatchResult {
  const config::Route* route = nullptr;
  std::string_view matched_prefix;  // the route path that matched (for strip_path)
  // No route because the path's ';' parameters make it mean two routes (see match()): 400.
  bool ambiguous = false;
};

class Router {
 public:
  explicit Router(const std::vector<config::Route>& routes);

  // host: normalised (lowercase, no port). path: normalised. method: as sent (case-sensitive, RFC
  // 9110). Precedence: routes with a host match beat host-less ones (exact host beats wildcard,
  // longer wildcard beats shorter); then exact path beats prefix; then the longest prefix; then
  // config order. A path with ';' parameters is also matched without them, the way a servlet
  // container reads it
  // ("/admin;x=y" is "/admin" to Tomcat, a segment "admin;x=y" to others); when the two readings
  // choose different routes, no route is returned and `ambiguous` is set.
  RouteMatchResult match(std::string_view host, std::string_view method,
                         std::string_view path) const;

 private:
  RouteMatchResult first_match(std::string_view host, std::string_view method,
                               std::string_view path) const;

  struct Entry {
    const config::Route* route;
    const config::PathMatch* path;
    int host_rank;  // 3 exact host, 2 wildcard, 1 no host constraint (see match())
    const config::HostMatch* host;
  };
  std::vector<Entry> entries_;  // sorted by precedence
};

// The path to forward after strip_path: `path` minus `prefix`, always starting with '/'.
std::string_view strip_prefix(std::string_view path, std::string_view prefix);

}  // namespace tollgate::routing
