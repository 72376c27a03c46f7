// The `upstreams` section: named groups of http(s) targets the routes forward to.
#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "sections.hpp"

namespace tollgate::config::sections {

namespace {

constexpr std::int64_t max_keepalive = 10'000;
constexpr std::int64_t max_connections = 100'000;
constexpr std::int64_t max_queued = 100'000;
constexpr std::int64_t max_h2_connections = 1'000;

// A target is an origin only: the request path is forwarded as routed, so a path, query or
// credentials in a target would be silently dropped or leaked. Refuse them instead.
Target read_target(const Reader& reader) {
  const std::string text = reader.string();
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    reader.fail(in_quotes(text) + " is not a URL (expected http://host:port or https://host:port)");
  }
  const boost::urls::url_view url = *parsed;

  Target target;
  target.url = text;
  if (url.scheme_id() == boost::urls::scheme::https) {
    target.tls = true;
  } else if (url.scheme_id() != boost::urls::scheme::http) {
    reader.fail(in_quotes(text) + " must start with http:// or https://");
  }
  if (url.has_userinfo()) {
    // Not echoed: it may hold a password.
    reader.fail("a target must not contain user info (user:password@)");
  }
  if (url.host_type() == boost::urls::host_type::none || url.encoded_host().empty() ||
      url.host_type() == boost::urls::host_type::ipvfuture ||
      url.encoded_host().find('%') != boost::urls::string_view::npos) {
    reader.fail(in_quotes(text) + " has no valid host");
  }
  if (!url.encoded_path().empty() && url.encoded_path() != "/") {
    reader.fail(in_quotes(text) +
                " must not have a path (the request path is forwarded as routed; use "
                "strip_path on the route to remove a prefix)");
  }
  if (url.has_query()) reader.fail(in_quotes(text) + " must not have a query");
  if (url.has_fragment()) reader.fail(in_quotes(text) + " must not have a fragment");

  const std::uint16_t default_port = target.tls ? 443 : 80;
  target.port = default_port;
  if (url.has_port()) {
    auto port = url.port();
    std::uint16_t number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number == 0) {
      reader.fail(in_quotes(text) + " has an invalid port (1 to 65535)");
    }
    target.port = number;
  }

  target.host = std::string(url.encoded_host_address());  // IPv6 without brackets
  std::string authority(url.encoded_host());              // IPv6 with brackets
  if (target.port != default_port) authority += ":" + std::to_string(target.port);
  target.authority = std::move(authority);
  return target;
}

Upstream read_upstream(const std::string& name, const Reader& reader) {
  reader.expect_keys({"targets", "balance", "keepalive", "max_connections", "max_queued",
                      "fail_timeout", "ssl_verify", "ca_file", "protocol", "h2_max_connections"});
  Upstream upstream;
  upstream.name = name;
  const Reader targets = reader["targets"];
  if (!targets.present()) targets.fail("is required");
  for (const Reader& item : targets.items()) upstream.targets.push_back(read_target(item));
  if (upstream.targets.empty()) targets.fail("must list at least one target");

  upstream.balance =
      reader["balance"].one_of_or("round_robin", {"round_robin", "least_conn"}) == "least_conn"
          ? Balance::least_conn
          : Balance::round_robin;
  upstream.keepalive = static_cast<std::size_t>(reader["keepalive"].integer_or(
      static_cast<std::int64_t>(upstream.keepalive), 0, max_keepalive));
  upstream.max_connections =
      static_cast<std::size_t>(reader["max_connections"].integer_or(0, 0, max_connections));
  upstream.max_queued = static_cast<std::size_t>(reader["max_queued"].integer_or(
      static_cast<std::int64_t>(upstream.max_queued), 0, max_queued));
  upstream.fail_timeout = reader["fail_timeout"].duration_or(upstream.fail_timeout);
  upstream.ssl_verify = reader["ssl_verify"].boolean_or(true);
  if (reader["ca_file"].present()) upstream.ca_file = readable_file(reader["ca_file"]);
  const std::string protocol = reader["protocol"].one_of_or("http1", {"http1", "h2", "grpc"});
  upstream.protocol = protocol == "h2"     ? Protocol::h2
                      : protocol == "grpc" ? Protocol::grpc
                                           : Protocol::http1;
  upstream.h2_max_connections = static_cast<std::size_t>(reader["h2_max_connections"].integer_or(
      static_cast<std::int64_t>(upstream.h2_max_connections), 1, max_h2_connections));
  return upstream;
}

}  // namespace

std::vector<Upstream> read_upstreams(const Reader& section) {
  std::vector<Upstream> upstreams;
  for (const auto& [name, reader] : section.entries()) {
    if (name.empty()) reader.fail("an upstream needs a name");
    upstreams.push_back(read_upstream(name, reader));
  }
  if (upstreams.empty()) section.fail("must define at least one upstream");
  return upstreams;
}

}  // namespace tollgate::config::sections
