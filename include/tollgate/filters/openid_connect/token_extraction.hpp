// Finding the bearer token of a request (RFC 6750 §2) in the places the route allows, and refusing
// ambiguous or malformed requests instead of guessing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "tollgate/filters/filter.hpp"

namespace tollgate::filters::openid_connect {

// Longest token (or Authorization value) accepted; anything longer is a malformed request.
constexpr std::size_t kMaxTokenBytes = 8 * 1024;

enum class TokenSource { header, query, body, cookie };

// Where a route looks for the token (bearer_token_param_type, bearer_token_cookie_name).
struct TokenLocations {
  bool header = true;  // Authorization: Bearer <token>
  bool query = false;  // ?access_token=<token>
  bool cookie = false;
  std::string cookie_name;
  // access_token=<token> in an application/x-www-form-urlencoded body, which the session then
  // reads whole (up to a bound) before the filter runs.
  bool body = false;
};

// The form field and query parameter that carry a token (RFC 6750 §2.2, §2.3).
inline constexpr std::string_view kAccessTokenParameter = "access_token";

struct ExtractedToken {
  std::string value;
  TokenSource source = TokenSource::header;
};

struct ExtractionFailure {
  enum class Kind {
    missing,          // no bearer token anywhere: 401 with a bare challenge
    invalid_request,  // ambiguous or malformed: 400 invalid_request
  };
  Kind kind = Kind::missing;
  std::string_view description;  // static text for error_description; never holds the token
};

[[noreturn]] void throw_exception_from_error(const ExtractionFailure& failure,
                                             const boost::source_location& location);

// The one token of the request. Fails with invalid_request when a token is found in two places, the
// Authorization header is repeated or malformed (Bearer with no token, two tokens, characters
// outside RFC 6750's b64token, longer than kMaxTokenBytes), or the query parameter or cookie is
// repeated or malformed. Another scheme (e.g. Basic) is not a bearer token: "missing" unless
// another allowed place holds one. `query` is the raw query string without '?'; `form_body` the
// whole form-encoded body when it was read for the filter (else empty).
boost::system::result<ExtractedToken, ExtractionFailure> extract_token(
    const RequestHead& request, std::string_view query, const TokenLocations& locations,
    std::string_view form_body = {});

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
bool is_b64token(std::string_view text) noexcept;

// `encoded` (a raw query string or form body) without its `name` parameters, compared decoded; the
// other parameters keep their bytes and order (hide_credentials).
std::string without_parameter(std::string_view encoded, std::string_view name);

// Removes cookie `name` from every Cookie header, dropping headers left empty (hide_credentials).
void remove_cookie(RequestHead& request, std::string_view name);

}  // namespace tollgate::filters::openid_connect
