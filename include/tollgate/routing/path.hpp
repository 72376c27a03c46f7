// Request-target normalisation, done once per request; the route is chosen on the result and the
// result is what is forwarded (never the raw target), so the gateway and the upstream agree on it.
#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace tollgate::routing {

struct NormalisedTarget {
  std::string path;   // starts with '/', no "." or ".." segments, no "//", unreserved chars decoded
  std::string query;  // raw, without '?'; empty when none
};

// Accepts origin-form ("/a/b?x") and absolute-form ("http://host/a/b?x"; the host part is returned
// in `authority` so the session can apply RFC 9112's rule that it replaces Host). Rejects
// (errc::bad_path): a target not starting with '/', an encoded '/' (%2F) or '\\' (%5C), NUL (raw or
// %00), any control character or raw space, a '..' that climbs above the root, invalid
// percent-encoding, a '#'. Percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded;
// other encodings are kept with uppercase hex. ';' parameters are kept as part of their segment (no
// matrix-param stripping).
boost::system::result<NormalisedTarget> normalise_target(std::string_view target,
                                                         std::string* authority = nullptr);

// `path` (normalised) with the ';' parameters of every segment removed, as servlet containers
// read it: "/admin;x=y/a" → "/admin/a", "/;x/admin" → "/admin" (a segment left empty merges away).
std::string without_path_parameters(std::string_view path);

// Lowercases a Host header value and removes the port; empty result for an invalid host.
std::string normalise_host(std::string_view host_header);

// normalise_host() with the port kept when one is given: "Shop.Example.com.:8080" →
// "shop.example.com:8080". Empty for an invalid host.
std::string normalise_authority(std::string_view host_header);

}  // namespace tollgate::routing
