// The `plugins` and `routes` sections: named plugin instances, and the routes that match requests
// to an upstream through a chain of those instances.
#include <algorithm>
#include <cctype>
#include <map>
#include <string_view>

#include "sections.hpp"
#include "tollgate/routing/path.hpp"

namespace tollgate::config::sections {

namespace {

// ---------------------------------------------------------------------------------------------
// Paths. Written in the same normal form routing::normalise_target gives request paths, so a route
// matches exactly what it says: percent-encoded unreserved characters decoded, other escapes in
// uppercase hex, characters that need escaping escaped. Unlike a request, a config path that is
// not already clean (".", "..", "//") is refused: it is a mistake in the file, not something to
// resolve silently. A trailing slash is dropped ("/orders/" = "/orders", a segment-boundary
// prefix).

// One segment (between slashes) in normal form, by the normaliser requests go through; fails on
// what no request path can carry.
std::string normalise_segment(std::string_view segment, const Reader& reader,
                              const std::string& written) {
  using Kind = routing::SegmentFault::Kind;
  std::string out;
  const std::optional<routing::SegmentFault> fault =
      routing::append_normalised_segment(segment, out);
  if (!fault) return out;
  switch (fault->kind) {
    case Kind::invalid_escape:
      reader.fail(in_quotes(written) + " has an invalid %-escape");
    case Kind::encoded_separator:
      reader.fail(in_quotes(written) +
                  " has an encoded '/', '\\' or control character, which requests never match");
    case Kind::forbidden_character:
      break;
  }
  const auto c = static_cast<unsigned char>(segment[fault->at]);
  reader.fail(in_quotes(written) + " contains " +
              (c > 0x20 && c != 0x7f ? "'" + std::string(1, static_cast<char>(c)) + "'"
                                     : std::string("a space or control character")) +
              ", which is not allowed in a route path");
}

PathMatch read_path(const Reader& reader) {
  const std::string written = reader.string();
  std::string_view text = written;
  PathMatch match;
  if (text.starts_with('=')) {
    match.exact = true;
    text.remove_prefix(1);
    while (text.starts_with(' ')) text.remove_prefix(1);
  }
  if (!text.starts_with('/')) {
    reader.fail(in_quotes(written) + " must start with '/' (\"= /path\" for an exact match)");
  }
  // A request's '?' starts its query: no request path holds one.
  if (text.find('?') != std::string_view::npos) {
    reader.fail(in_quotes(written) + " contains '?', which is not allowed in a route path");
  }
  std::vector<std::string> segments;
  std::string_view rest = text.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    std::string segment = normalise_segment(raw, reader, written);
    if (segment == "." || segment == "..") {
      reader.fail(in_quotes(written) +
                  " has a \".\" or \"..\" segment; write the path it stands for");
    }
    if (segment.starts_with(".;") || segment.starts_with("..;")) {
      reader.fail(in_quotes(written) +
                  " has a \".;\" or \"..;\" segment, which requests never match");
    }
    if (segment.empty() && !last) {
      reader.fail(in_quotes(written) + " has an empty segment (\"//\")");
    }
    if (!segment.empty()) segments.push_back(std::move(segment));  // trailing '/' dropped
    if (last) break;
    rest = rest.substr(slash + 1);
  }
  for (const auto& segment : segments) match.path += "/" + segment;
  if (match.path.empty()) match.path = "/";
  return match;
}

// ---------------------------------------------------------------------------------------------
// Hosts: lowercase names or IP literals, no port; "*.example.com" matches any subdomain.

bool is_host_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  while (true) {
    const auto dot = name.find('.');
    if (!is_host_label(name.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

bool is_ipv6_literal(std::string_view host) {
  if (host.size() < 4 || !host.starts_with('[') || !host.ends_with(']')) return false;
  return std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
  });
}

HostMatch read_host(const Reader& reader) {
  const std::string written = reader.string();
  std::string host = written;
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // "example.com." names the same host; requests are matched without the dot too.
  if (host.size() > 2 && host.back() == '.') host.pop_back();
  HostMatch match;
  if (host.starts_with("*.")) {
    match.wildcard = true;
    host.erase(0, 1);  // keep the dot: ".example.com" is the suffix a Host must end with
    if (!is_host_name(std::string_view(host).substr(1))) {
      reader.fail(in_quotes(written) + " is not a valid wildcard host (e.g. *.example.com)");
    }
  } else if (host.find('*') != std::string::npos) {
    reader.fail(in_quotes(written) +
                ": a wildcard is only allowed as a leading \"*.\" (e.g. *.example.com)");
  } else if (!is_host_name(host) && !is_ipv6_literal(host)) {
    if (host.find(':') != std::string::npos && host.front() != '[') {
      reader.fail(in_quotes(written) + ": hosts are matched without a port");
    }
    reader.fail(in_quotes(written) + " is not a valid host name");
  }
  match.host = std::move(host);
  return match;
}

// ---------------------------------------------------------------------------------------------
// Methods: RFC 9110 tokens, written in any case, matched in uppercase.

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string read_method(const Reader& reader) {
  std::string method = reader.string();
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char)) {
    reader.fail(in_quotes(method) + " is not an HTTP method");
  }
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return method;
}

// ---------------------------------------------------------------------------------------------
// Routes

std::vector<std::string> names_of(const std::vector<Upstream>& upstreams) {
  std::vector<std::string> names;
  for (const auto& upstream : upstreams) names.push_back(upstream.name);
  return names;
}

std::vector<std::string> names_of(const std::vector<PluginInstance>& plugins) {
  std::vector<std::string> names;
  for (const PluginInstance& plugin : plugins) names.push_back(plugin.name);
  return names;
}

std::string not_found(std::string_view what, const std::string& name,
                      const std::vector<std::string>& known) {
  std::string message = "no " + std::string(what) + " named " + in_quotes(name);
  if (auto suggestion = did_you_mean(name, known)) {
    message += " (did you mean " + in_quotes(*suggestion) + "?)";
  }
  return message;
}

std::size_t read_route_upstream(const Reader& reader, const std::vector<Upstream>& upstreams) {
  const std::string name = reader.string();
  for (std::size_t i = 0; i < upstreams.size(); ++i) {
    if (upstreams[i].name == name) return i;
  }
  reader.fail(not_found("upstream", name, names_of(upstreams)));
}

void read_route_plugins(const Reader& reader, const std::vector<PluginInstance>& plugins,
                        Route& route) {
  for (const Reader& item : string_items(reader)) {
    const std::string name = item.string();
    if (std::find(route.plugin_names.begin(), route.plugin_names.end(), name) !=
        route.plugin_names.end()) {
      item.fail("plugin " + in_quotes(name) + " is listed twice");
    }
    auto found = std::find_if(plugins.begin(), plugins.end(),
                              [&](const PluginInstance& plugin) { return plugin.name == name; });
    if (found == plugins.end()) item.fail(not_found("plugin", name, names_of(plugins)));
    route.plugins.push_back(static_cast<std::size_t>(found - plugins.begin()));
    route.plugin_names.push_back(name);
  }
}

// Two routes that match exactly the same (host, path, methods) make one of them unreachable,
// which is always a mistake in the file. Keys are compared after normalisation.
class ConflictCheck {
 public:
  void add(const Route& route, std::size_t index, const std::vector<Reader>& path_items,
           const Reader& route_reader) {
    std::vector<std::string> methods = route.methods;
    std::sort(methods.begin(), methods.end());
    methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
    std::string method_key;
    for (const auto& method : methods) method_key += method + ",";

    const std::vector<HostMatch> any_host{HostMatch{}};
    const std::vector<PathMatch> root_prefix{PathMatch{"/", false}};
    const auto& hosts = route.hosts.empty() ? any_host : route.hosts;
    const auto& paths = route.paths.empty() ? root_prefix : route.paths;
    for (const auto& host : hosts) {
      for (std::size_t p = 0; p < paths.size(); ++p) {
        std::string key = (host.wildcard ? "*" : "") + host.host + '\n' +
                          (paths[p].exact ? "=" : "") + paths[p].path + '\n' + method_key;
        auto [it, inserted] = seen_.emplace(std::move(key), Seen{index, route.name});
        if (inserted || it->second.index == index) continue;
        const Reader where = p < path_items.size() ? path_items[p] : route_reader;
        where.fail("matches the same host, path and methods as route " +
                   in_quotes(it->second.name) + " (routes[" + std::to_string(it->second.index) +
                   "]), so one of them could never be chosen");
      }
    }
  }

 private:
  struct Seen {
    std::size_t index;
    std::string name;
  };
  std::map<std::string, Seen> seen_;
};

Route read_route(const Reader& reader, const std::vector<Upstream>& upstreams,
                 const std::vector<PluginInstance>& plugins, std::vector<Reader>& path_items) {
  reader.expect_keys(
      {"name", "match", "upstream", "strip_path", "preserve_host", "websocket", "plugins"});
  Route route;
  route.name = reader["name"].string();
  if (route.name.empty()) reader["name"].fail("a route needs a name");

  const Reader match = reader["match"];
  match.expect_keys({"paths", "methods", "hosts"});
  path_items = string_items(match["paths"]);
  for (const Reader& item : path_items) route.paths.push_back(read_path(item));
  for (const Reader& item : string_items(match["hosts"])) route.hosts.push_back(read_host(item));
  for (const Reader& item : string_items(match["methods"])) {
    route.methods.push_back(read_method(item));
  }

  route.upstream = read_route_upstream(reader["upstream"], upstreams);
  route.strip_path = reader["strip_path"].boolean_or(false);
  route.preserve_host = reader["preserve_host"].boolean_or(false);
  route.websocket = reader["websocket"].boolean_or(false);
  read_route_plugins(reader["plugins"], plugins, route);
  return route;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::vector<PluginInstance> read_plugins(const Reader& section, const PluginTypes& types) {
  std::vector<std::string> type_names;
  for (const filters::PluginType& type : types) type_names.push_back(type.name);

  std::vector<PluginInstance> instances;
  for (const auto& [name, reader] : section.entries()) {
    reader.expect_keys({"name", "config"});
    const Reader type_reader = reader["name"];
    const std::string type = type_reader.string();
    auto found = std::find_if(types.begin(), types.end(),
                              [&](const filters::PluginType& entry) { return entry.name == type; });
    if (found == types.end()) {
      std::string message = "unknown plugin type " + in_quotes(type);
      if (auto suggestion = did_you_mean(type, type_names)) {
        message += " (did you mean " + in_quotes(*suggestion) + "?)";
      } else {
        std::string list;
        for (const auto& known : type_names) list += (list.empty() ? "" : ", ") + known;
        message += " (available: " + list + ")";
      }
      type_reader.fail(std::move(message));
    }
    PluginInstance instance;
    instance.name = name;
    instance.type = &*found;
    try {
      instance.settings = found->parse(reader["config"]);
    } catch (const ConfigException&) {
      throw;
    } catch (const std::exception& e) {
      reader["config"].fail("cannot set up plugin " + in_quotes(type) + ": " + e.what());
    }
    if (!instance.settings) {
      reader["config"].fail("plugin " + in_quotes(type) + " could not be set up");
    }
    instance.fingerprint = plugin_fingerprint(type, reader["config"]);
    instances.push_back(std::move(instance));
  }
  return instances;
}

std::vector<Route> read_routes(const Reader& section, const std::vector<Upstream>& upstreams,
                               const std::vector<PluginInstance>& plugins) {
  std::vector<Route> routes;
  ConflictCheck conflicts;
  const std::vector<Reader> items = section.items();
  if (items.empty()) section.fail("must list at least one route");
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::vector<Reader> path_items;
    Route route = read_route(items[i], upstreams, plugins, path_items);
    for (std::size_t j = 0; j < routes.size(); ++j) {
      if (routes[j].name == route.name) {
        items[i]["name"].fail("duplicate route name " + in_quotes(route.name) + " (also routes[" +
                              std::to_string(j) + "])");
      }
    }
    conflicts.add(route, i, path_items, items[i]["match"]);
    routes.push_back(std::move(route));
  }
  return routes;
}

}  // namespace tollgate::config::sections
