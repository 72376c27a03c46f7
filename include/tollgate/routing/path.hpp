// Request-target normalisation, done once per request; the route is chosen on the result and the
// result is what is forwarded (never the raw target), so the gateway and the upstream agree on it.
#pragma once

#include <cstddef>
#include <optional>
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

// Why a path segment has no normal form, and where in the segment.
struct SegmentFault {
  enum class Kind {
    invalid_escape,       // '%' not followed by two hex digits
    encoded_separator,    // %2F, %5C, or an encoded control character
    forbidden_character,  // a raw control character, space, '\\' or '#'
  };
  Kind kind;
  std::size_t at;
};

// Appends one segment (the bytes between two '/') to `out` in the normal form request paths and
// configured route paths share: percent-encoded unreserved characters decoded, other escapes with
// uppercase hex, characters that are legal in a request but not in a canonical path ('"', '{',
// bytes >= 0x80) percent-encoded. On a fault, `out` holds a partial segment.
std::optional<SegmentFault> append_normalised_segment(std::string_view segment, std::string& out);

// `path` (normalised) with the ';' parameters of every segment removed, as servlet containers
// read it: "/admin;x=y/a" → "/admin/a", "/;x/admin" → "/admin" (a segment left empty merges away).
std::string without_path_parameters(std::string_view path);

// Lowercases a Host header value and removes the port; empty result for an invalid host.
std::string normalise_host(std::string_view host_header);

// normalise_host() with the port kept when one is given: "Shop.Example.com.:8080" →
// "shop.example.com:8080". Empty for an invalid host.
std::string normalise_authority(std::string_view host_header);

// The ":port" of a Host value normalise_host() accepted, or "" when it names none ("host" and
// "host:" alike): what normalise_authority() appends to the host.
std::string_view port_suffix(std::string_view valid_host_header) noexcept;

}  // namespace tollgate::routing
