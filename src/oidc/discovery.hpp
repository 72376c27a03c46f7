// Finding the introspection endpoint from the issuer's metadata (OpenID Connect Discovery 1.0,
// RFC 8414): what to fetch and what to accept from it; GET requests to the IdP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

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

}  // namespace tollgate::oidc
