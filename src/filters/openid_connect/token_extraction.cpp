#include "tollgate/filters/openid_connect/token_extraction.hpp"

#include <array>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/url/pct_string_view.hpp>

#include "tollgate/http/headers.hpp"

namespace tollgate::filters::openid_connect {
namespace {

namespace http = boost::beast::http;
using Failure = ExtractionFailure;
using Kind = ExtractionFailure::Kind;
using Found = std::optional<std::string>;
using Step = boost::system::result<Found, ExtractionFailure>;

// RFC 6750's b64token characters before the '=' padding: one table lookup per character of a
// token that every request on a protected route carries.
constexpr std::array<bool, 256> kB64TokenChar = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  }
  return table;
}();

Failure invalid(std::string_view description) {
  return Failure{Kind::invalid_request, description};
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// find_first_of(" \t") would call memchr over the two-character set once per character of a
// token, on every request.
std::size_t find_space(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_space(text[i])) return i;
  }
  return std::string_view::npos;
}

Step checked_token(std::string_view token) {
  if (token.empty()) return invalid("The access token is empty");
  if (token.size() > kMaxTokenBytes) return invalid("The access token is too long");
  if (!is_b64token(token)) return invalid("The access token has invalid characters");
  return Found(std::string(token));
}

// Authorization: Bearer <token>. The scheme is case-insensitive (RFC 7235); one or more spaces
// separate it from exactly one b64token.
Step token_from_header(const RequestHead& request) {
  auto [first, last] = request.equal_range(http::field::authorization);
  if (first == last) return Found();
  if (std::next(first) != last) return invalid("The Authorization header is repeated");

  const std::string_view value = http_io::trim_ows(first->value());
  if (value.size() > kMaxTokenBytes) return invalid("The Authorization header is too long");
  const std::size_t space = find_space(value);
  const std::string_view scheme = value.substr(0, space);
  if (!http_io::iequals(scheme, "Bearer")) return Found();  // Basic etc.: not ours
  if (space == std::string_view::npos) return invalid("The Authorization header has no token");

  std::string_view rest = value.substr(space);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) return invalid("The Authorization header has no token");
  // Not empty, and within kMaxTokenBytes as `value` is: the characters are all that is left.
  if (is_b64token(rest)) return Found(std::string(rest));
  // A refusal: only now is it worth finding out which one. `value` is trimmed, so whitespace here
  // always has something after it.
  const std::size_t whitespace = find_space(rest);
  if (whitespace == 0) return invalid("The Authorization header is malformed");
  if (whitespace != std::string_view::npos) {
    return invalid("The Authorization header holds more than one token");
  }
  return checked_token(rest);
}

// application/x-www-form-urlencoded decoding ('+' is a space); nullopt on a broken escape.
std::optional<std::string> form_decode(std::string_view text) {
  const auto escaped = boost::urls::make_pct_string_view(text);
  if (!escaped) return std::nullopt;
  return escaped->decode(boost::urls::encoding_opts(/*space_as_plus=*/true));
}

// Calls visit(pair, name) for every '&'-separated pair of a query string or form body, with the
// pair's name decoded (nullopt when its escapes are broken); stops when it returns false. One
// splitter for both: Boost.URL's parse_query would refuse outright a query the router forwards
// (raw bytes above 0x7F, '"', '{'), where only the token's own parameter matters here.
template <class Visit>
void for_each_parameter(std::string_view encoded, Visit&& visit) {
  while (!encoded.empty()) {
    const std::size_t amp = encoded.find('&');
    const std::string_view pair = encoded.substr(0, amp);
    encoded = amp == std::string_view::npos ? std::string_view() : encoded.substr(amp + 1);
    if (!visit(pair, form_decode(pair.substr(0, pair.find('='))))) return;
  }
}

// access_token=<token> in a query string or form body; `repeated` and `malformed` are the texts
// of its refusals.
Step token_from_parameters(std::string_view encoded, std::string_view repeated,
                           std::string_view malformed) {
  Found found;
  std::optional<Failure> failure;
  for_each_parameter(encoded, [&](std::string_view pair, const std::optional<std::string>& name) {
    if (!name || *name != kAccessTokenParameter) return true;
    if (found) {
      failure = invalid(repeated);
      return false;
    }
    const std::size_t equals = pair.find('=');
    const std::optional<std::string> value = form_decode(
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!value) {
      failure = invalid(malformed);
      return false;
    }
    Step token = checked_token(*value);
    if (!token) {
      failure = token.error();
      return false;
    }
    found = std::move(*token);
    return true;
  });
  if (failure) return *failure;
  return found;
}

// Calls visit(name, value) for every cookie of every Cookie header; stops when it returns false.
template <class Visit>
void for_each_cookie(std::string_view header, Visit&& visit) {
  while (!header.empty()) {
    const std::size_t semicolon = header.find(';');
    const std::string_view pair = http_io::trim_ows(header.substr(0, semicolon));
    header =
        semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (!visit(http_io::trim_ows(pair.substr(0, equals)),
               http_io::trim_ows(pair.substr(equals + 1))))
      return;
  }
}

Step token_from_cookie(const RequestHead& request, std::string_view cookie_name) {
  Found found;
  std::optional<Failure> failure;
  auto [first, last] = request.equal_range(http::field::cookie);
  for (auto it = first; it != last && !failure; ++it) {
    for_each_cookie(it->value(), [&](std::string_view name, std::string_view value) {
      if (name != cookie_name) return true;
      if (found) {
        failure = invalid("The access token cookie is repeated");
        return false;
      }
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      Step token = checked_token(value);
      if (!token) {
        failure = token.error();
        return false;
      }
      found = std::move(*token);
      return true;
    });
  }
  if (failure) return *failure;
  return found;
}

}  // namespace

void throw_exception_from_error(const ExtractionFailure& failure, const boost::source_location&) {
  throw std::runtime_error(std::string("bearer token extraction failed: ") +
                           std::string(failure.description));
}

bool is_b64token(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && kB64TokenChar[static_cast<unsigned char>(text[i])]) ++i;
  if (i == 0) return false;
  for (; i < text.size(); ++i) {
    if (text[i] != '=') return false;
  }
  return true;
}

boost::system::result<ExtractedToken, ExtractionFailure> extract_token(
    const RequestHead& request, std::string_view query, const TokenLocations& locations,
    std::string_view form_body) {
  std::optional<ExtractedToken> chosen;
  auto consider = [&chosen](Step step, TokenSource source) -> std::optional<Failure> {
    if (!step) return step.error();
    if (!*step) return std::nullopt;
    if (chosen) return invalid("The access token was sent in more than one place");
    chosen = ExtractedToken{std::move(**step), source};
    return std::nullopt;
  };

  if (locations.header) {
    if (auto failure = consider(token_from_header(request), TokenSource::header)) return *failure;
  }
  if (locations.query) {
    if (auto failure =
            consider(token_from_parameters(query, "The access_token query parameter is repeated",
                                           "The access_token query parameter is malformed"),
                     TokenSource::query)) {
      return *failure;
    }
  }
  if (locations.body && !form_body.empty()) {
    if (auto failure =
            consider(token_from_parameters(form_body, "The access_token form field is repeated",
                                           "The access_token form field is malformed"),
                     TokenSource::body)) {
      return *failure;
    }
  }
  if (locations.cookie) {
    if (auto failure =
            consider(token_from_cookie(request, locations.cookie_name), TokenSource::cookie)) {
      return *failure;
    }
  }
  if (!chosen) return Failure{Kind::missing, "No bearer token"};
  return std::move(*chosen);
}

std::string without_parameter(std::string_view encoded, std::string_view name) {
  std::string kept;
  kept.reserve(encoded.size());
  for_each_parameter(encoded,
                     [&](std::string_view pair, const std::optional<std::string>& decoded) {
                       if (decoded && *decoded == name) return true;
                       if (!kept.empty()) kept += '&';
                       kept.append(pair);
                       return true;
                     });
  return kept;
}

void remove_cookie(RequestHead& request, std::string_view name) {
  std::vector<std::string> kept_headers;
  bool removed = false;
  auto [first, last] = request.equal_range(http::field::cookie);
  for (auto it = first; it != last; ++it) {
    std::string kept;
    for_each_cookie(it->value(), [&](std::string_view cookie, std::string_view value) {
      if (cookie == name) {
        removed = true;
        return true;
      }
      if (!kept.empty()) kept += "; ";
      kept.append(cookie).append("=").append(value);
      return true;
    });
    if (!kept.empty()) kept_headers.push_back(std::move(kept));
  }
  if (!removed) return;
  request.erase(http::field::cookie);
  for (std::string& header : kept_headers) request.insert(http::field::cookie, header);
}

}  // namespace tollgate::filters::openid_connect
