// Bearer token extraction (filters/openid_connect/token_extraction.cpp), and the header handling
// the openid-connect filter does around it. The input is text, one item a line:
//
//   header query cookie=session        where the route looks for the token
//   access_token=abc&x=1               the raw query string (without '?')
//   Authorization: Bearer abc          request header fields, one a line
//   Cookie: session=abc; theme=dark
//
// Header lines become fields only when the HTTP parser could have produced them (a token name, a
// value without control characters): the filter never sees anything else. A form body is not an
// input here: its access_token field is found by the same routine as the query's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/field.hpp>

#include "fuzz_check.hpp"
#include "tollgate/filters/openid_connect/token_extraction.hpp"
#include "tollgate/filters/openid_connect/upstream_headers.hpp"
#include "tollgate/http/headers.hpp"
#include "tollgate/server/forwarding.hpp"

namespace {

namespace http = boost::beast::http;
using namespace tollgate::filters::openid_connect;
using tollgate::filters::RequestHead;

// The headers the filter sets for the upstream, as a route would configure them; the client's
// copies, in any spelling, must be gone before the filter adds its own.
UpstreamHeaders configured_upstream_headers() {
  UpstreamHeaders headers;
  headers.access_token_header = "X-Access-Token";
  headers.introspection_header = "X-Introspection";
  headers.claim_headers = {{{"sub"}, "X-Authenticated-User"}, {{"scope"}, "X-Authenticated-Scope"}};
  return headers;
}

std::string_view next_line(std::string_view& input) {
  const std::size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  return line;
}

TokenLocations parse_locations(std::string_view line) {
  TokenLocations locations;
  locations.header = line.find("header") != std::string_view::npos;
  locations.query = line.find("query") != std::string_view::npos;
  if (const std::size_t cookie = line.find("cookie="); cookie != std::string_view::npos) {
    locations.cookie = true;
    std::string_view name = line.substr(cookie + 7);
    locations.cookie_name = std::string(name.substr(0, name.find(' ')));
  }
  return locations;
}

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Adds "Name: value" as Beast's parser would hand it over, or nothing.
void add_field(RequestHead& head, std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  for (const char c : name) {
    if (!is_tchar(c)) return;
  }
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return;
  }
  head.insert(name, value);
}

void check_outcome(const boost::system::result<ExtractedToken, ExtractionFailure>& outcome,
                   const TokenLocations& locations) {
  if (!outcome) {
    FUZZ_CHECK(!outcome.error().description.empty(), "a failure without a description");
    return;
  }
  const ExtractedToken& token = *outcome;
  FUZZ_CHECK(!token.value.empty() && token.value.size() <= kMaxTokenBytes, token.value);
  FUZZ_CHECK(is_b64token(token.value), token.value);
  switch (token.source) {
    case TokenSource::header:
      FUZZ_CHECK(locations.header, "a token from the header where the route does not look");
      break;
    case TokenSource::query:
      FUZZ_CHECK(locations.query, "a token from the query where the route does not look");
      break;
    case TokenSource::cookie:
      FUZZ_CHECK(locations.cookie, "a token from a cookie where the route does not look");
      break;
  }
}

bool same_outcome(const boost::system::result<ExtractedToken, ExtractionFailure>& a,
                  const boost::system::result<ExtractedToken, ExtractionFailure>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (a) return a->value == b->value && a->source == b->source;
  return a.error().kind == b.error().kind && a.error().description == b.error().description;
}

std::string serialised(const RequestHead& head) {
  std::string out;
  for (const auto& field : head) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = tollgate::fuzz::as_text(data, size);
  const TokenLocations locations = parse_locations(next_line(input));
  const std::string_view query = next_line(input);
  RequestHead head;
  while (!input.empty()) add_field(head, next_line(input));

  const auto outcome = extract_token(head, query, locations);
  check_outcome(outcome, locations);
  FUZZ_CHECK(same_outcome(outcome, extract_token(head, query, locations)), "not deterministic");

  // The gateway strips the headers the filter vouches for before it runs: no spelling survives.
  const UpstreamHeaders upstream = configured_upstream_headers();
  tollgate::config::GatewayConfig config;
  config.plugin_request_headers = upstream.names();
  tollgate::server::ProtectedHeaders(config).strip(head, false);
  for (const auto& field : head) {
    for (const std::string& name : upstream.names()) {
      FUZZ_CHECK(!tollgate::http_io::cgi_equivalent(field.name_string(), name),
                 field.name_string());
    }
  }
  // Stripping them changes nothing about the token (none of them can carry it).
  FUZZ_CHECK(same_outcome(outcome, extract_token(head, query, locations)), "changed by the strip");

  // hide_credentials with a cookie: once removed, no cookie of that name is left to forward, and
  // removing again changes nothing.
  if (locations.cookie) {
    remove_cookie(head, locations.cookie_name);
    const std::string once = serialised(head);
    TokenLocations cookie_only;
    cookie_only.header = false;
    cookie_only.cookie = true;
    cookie_only.cookie_name = locations.cookie_name;
    const auto left = extract_token(head, query, cookie_only);
    FUZZ_CHECK(!left && left.error().kind == ExtractionFailure::Kind::missing, once);
    remove_cookie(head, locations.cookie_name);
    FUZZ_CHECK(serialised(head) == once, once);
  }
  return 0;
}
