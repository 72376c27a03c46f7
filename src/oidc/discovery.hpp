// Finding the introspection endpoint from the issuer's metadata (OpenID Connect Discovery 1.0,
// RFC 8414): what to fetch and what to accept from it; GET requests to the IdP.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "tollgate/common/asio.hpp"

#include "tollgate/oidc/introspection_client.hpp"

namespace tollgate::oidc {

// "tollgate/<version>": the User-Agent of every request to the IdP.
const std::string& idp_user_agent();

// A GET of `where` accepting `accept`: how metadata and key sets are fetched.
HttpRequest get_request(const Endpoint& where, std::string_view accept);

// {issuer}/.well-known/openid-configuration, then {issuer}/.well-known/oauth-authorization-server.
std::vector<std::string> discovery_urls(std::string_view issuer);

// The endpoint a metadata document names under `member`. Refused, with the reason (for logs), when
// the body is not a JSON object, its "issuer" is not the configured issuer (a mix-up defence
// required by both specs), the endpoint is missing or not an absolute URL, or it would downgrade an
// https issuer to plain http.
// `member` names the endpoint wanted: "introspection_endpoint", "jwks_uri".
boost::system::result<Endpoint, std::string> endpoint_from_metadata(
    std::string_view body, std::string_view issuer,
    std::string_view member = "introspection_endpoint");

struct Discovered {
  Endpoint endpoint;
  std::string document_url;  // where it was found, for the log
};

// One pass over discovery_urls(issuer) on `executor`: the endpoint the first usable document names
// under `member`, each failure logged for the plugin `label`; nullopt when none was usable. Every
// fetch is bounded by `timeout`, every document by 512 KiB.
awaitable<std::optional<Discovered>> discover_endpoint(asio::any_io_executor executor,
                                                       const std::string& issuer,
                                                       std::string_view member,
                                                       std::chrono::milliseconds timeout,
                                                       std::shared_ptr<ssl::context> tls_context,
                                                       std::string_view label);

}  // namespace tollgate::oidc
