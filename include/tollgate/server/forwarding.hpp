// The request headers no client may set: every header a plugin instance sets, and the forwarding
// headers (X-Forwarded-*, Forwarded, X-Real-IP). They are removed from every request on every
// route, in every spelling a CGI-style upstream reads as the same name (X.Authenticated.User,
// X_Authenticated_User), before the filters run; then the gateway sets its own. A peer listed in
// trusted_proxies (a load balancer in front) keeps its forwarding headers, in their usual spelling,
// and X-Forwarded-For is extended with it.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/fields.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/http/headers.hpp"

namespace tollgate::server {

// What the strip kept of the forwarding headers, for the ones the gateway sets.
struct ForwardingKept {
  std::string forwarded_for;  // the trusted peer's X-Forwarded-For values, joined; empty if none
  bool proto = false;         // a trusted X-Forwarded-Proto stays
  bool host = false;          // a trusted X-Forwarded-Host stays
  bool via = false;           // the request came with a Via, to be extended
  bool trace = false;         // the request came with traceparent or tracestate, to be replaced
};

// Built once per configuration; read-only, shared by every worker.
class ProtectedHeaders {
 public:
  explicit ProtectedHeaders(const config::GatewayConfig& config);

  bool trusts(const boost::asio::ip::address& peer) const noexcept;
  // One pass over `fields`: every protected header goes, but for the forwarding headers of a
  // trusted peer in their usual spelling (X-Forwarded-For is taken out, to be set again extended).
  ForwardingKept strip(boost::beast::http::fields& fields, bool trusted_peer) const;

 private:
  enum class Kind { other, plugin, forwarding, forwarded_for, forwarded_proto, forwarded_host };
  Kind kind_of(std::string_view name) const;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> plugin_names_;  // as cgi_name() gives
  std::size_t longest_plugin_name_ = 0;
  std::vector<config::Network> trusted_;
};

// Adds X-Forwarded-For (the kept chain, then `peer`), X-Forwarded-Proto and -Host unless a trusted
// peer's stayed, and Via, to `added`; a Via the request came with is extended in `fields`. Called
// after strip(): none of them is left in `fields` but those kept. `kept` and the views must outlive
// `added` (the chain is extended in place).
void add_forwarding_headers(http_io::AddedFields& added, boost::beast::http::fields& fields,
                            ForwardingKept& kept, std::string_view peer, std::string_view proto,
                            std::string_view host);

}  // namespace tollgate::server
