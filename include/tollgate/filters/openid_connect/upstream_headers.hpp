// The headers the openid-connect filter hands the upstream about the caller. Every one of them is
// on the gateway's list of protected headers (names()), removed from every client request, so a
// client can never spoof one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tollgate/filters/filter.hpp"
#include "tollgate/oidc/introspection.hpp"

namespace tollgate::filters::openid_connect {

struct ClaimHeader {
  std::vector<std::string> claim_path;  // one step, dotted for nested objects: "address.country"
  std::string header;
};

struct UpstreamHeaders {
  std::string access_token_header;   // upstream_access_token_header; empty = not sent
  std::string access_token_prefix;   // from "name:prefix", e.g. "authorization:bearer"
  std::string introspection_header;  // upstream_introspection_header: base64 of the IdP's JSON
  std::vector<ClaimHeader> claim_headers;  // upstream_headers_claims → upstream_headers_names

  // Every header name above: the gateway removes them from every request.
  std::vector<std::string> names() const;
};

// Sets the configured headers for an accepted request. A claim that is absent or null, or whose
// text would hold a control character, sets no header; nor does a value too long for a header
// field (64 KiB), whether a claim or the base64 of a large answer.
void set_upstream_headers(RequestHead& request, const UpstreamHeaders& headers,
                          const oidc::Introspection& answer, std::string_view token);

}  // namespace tollgate::filters::openid_connect
