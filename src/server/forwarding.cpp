#include "tollgate/server/forwarding.hpp"

#include <algorithm>

#include "tollgate/http/headers.hpp"
#include "tollgate/http/trace_context.hpp"

namespace tollgate::server {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kForwardedPrefix = "x_forwarded_";  // as cgi_name() gives it

// Compares `name` through cgi_char() with a name already in that form.
bool cgi_is(std::string_view name, std::string_view normalised) noexcept {
  if (name.size() != normalised.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (http_io::cgi_char(name[i]) != normalised[i]) return false;
  }
  return true;
}

bool cgi_starts_with(std::string_view name, std::string_view normalised) noexcept {
  return name.size() > normalised.size() && cgi_is(name.substr(0, normalised.size()), normalised);
}

// The spelling a load balancer writes: letters, digits and '-' only (X-Forwarded-For, not
// X_Forwarded_For), so a trusted peer's forwarding headers reach a CGI-style upstream once.
bool usual_spelling(std::string_view name) noexcept {
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c == '-' || http_io::cgi_char(c) != '_'; });
}

}  // namespace

ProtectedHeaders::ProtectedHeaders(const config::GatewayConfig& config)
    : trusted_(config.trusted_proxies) {
  for (const std::string& name : config.plugin_request_headers) {
    std::string normalised = http_io::cgi_name(name);
    longest_plugin_name_ = std::max(longest_plugin_name_, normalised.size());
    plugin_names_.insert(std::move(normalised));
  }
}

bool ProtectedHeaders::trusts(const boost::asio::ip::address& peer) const noexcept {
  return std::any_of(trusted_.begin(), trusted_.end(),
                     [&](const config::Network& network) { return network.contains(peer); });
}

ProtectedHeaders::Kind ProtectedHeaders::kind_of(std::string_view name) const {
  if (!plugin_names_.empty() && name.size() <= longest_plugin_name_) {
    char buffer[256];
    if (name.size() <= sizeof buffer) {
      for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = http_io::cgi_char(name[i]);
      if (plugin_names_.contains(std::string_view(buffer, name.size()))) return Kind::plugin;
    } else if (plugin_names_.contains(http_io::cgi_name(name))) {
      return Kind::plugin;
    }
  }
  if (cgi_starts_with(name, kForwardedPrefix)) {
    const std::string_view rest = name.substr(kForwardedPrefix.size());
    if (cgi_is(rest, "for")) return Kind::forwarded_for;
    if (cgi_is(rest, "proto")) return Kind::forwarded_proto;
    if (cgi_is(rest, "host")) return Kind::forwarded_host;
    return Kind::forwarding;
  }
  if (cgi_is(name, "forwarded") || cgi_is(name, "x_real_ip")) return Kind::forwarding;
  return Kind::other;
}

ForwardingKept ProtectedHeaders::strip(http::fields& fields, bool trusted_peer) const {
  ForwardingKept kept;
  for (auto it = fields.begin(); it != fields.end();) {
    const std::string_view name = it->name_string();
    if (it->name() == http::field::via) kept.via = true;
    if (it->name() == http::field::unknown && http_io::is_trace_field(name)) kept.trace = true;
    const Kind kind = kind_of(name);
    bool erase = kind != Kind::other;
    if (trusted_peer && kind != Kind::other && kind != Kind::plugin && usual_spelling(name)) {
      switch (kind) {
        case Kind::forwarded_for:  // taken out here, set again with the peer appended
          if (!kept.forwarded_for.empty()) kept.forwarded_for.append(", ");
          kept.forwarded_for.append(it->value());
          break;
        case Kind::forwarded_proto:
          erase = false;
          kept.proto = true;
          break;
        case Kind::forwarded_host:
          erase = false;
          kept.host = true;
          break;
        default:
          erase = false;
          break;
      }
    }
    it = erase ? fields.erase(it) : std::next(it);
  }
  return kept;
}

void add_forwarding_headers(http_io::AddedFields& added, http::fields& fields, ForwardingKept& kept,
                            std::string_view peer, std::string_view proto, std::string_view host) {
  if (kept.forwarded_for.empty()) {
    added.add(http_io::kXForwardedFor, peer);
  } else {
    kept.forwarded_for.append(", ").append(peer);
    added.add(http_io::kXForwardedFor, kept.forwarded_for);
  }
  if (!kept.proto) added.add(http_io::kXForwardedProto, proto);
  if (!kept.host) added.add(http_io::kXForwardedHost, host);
  if (const auto via = kept.via ? fields.find(http::field::via) : fields.end();
      via == fields.end()) {
    added.add("Via", "1.1 tollgate");
  } else {
    std::string chain(via->value());
    chain.append(", 1.1 tollgate");
    fields.set(http::field::via, chain);
  }
}

}  // namespace tollgate::server
