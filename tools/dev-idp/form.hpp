// Decoding of what OAuth clients send: application/x-www-form-urlencoded bodies and HTTP Basic
// client credentials (RFC 6749 section 2.3.1: base64 of urlencode(id) ":" urlencode(secret)).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tollgate::dev_idp {

// Percent-decodes `in` with '+' as space (form encoding). nullopt on a malformed escape ("%zz",
// "%4").
std::optional<std::string> form_decode(std::string_view in);
// Percent-decodes a URL path segment, where '+' is itself.
std::optional<std::string> path_decode(std::string_view in);

// The parameters of a form body, in order, decoded.
class Form {
 public:
  // nullopt when an escape is malformed, a parameter appears twice (RFC 6749 section 3.2: request
  // parameters must not be included more than once), or there are more than kMaxParameters.
  static constexpr std::size_t kMaxParameters = 64;
  static std::optional<Form> parse(std::string_view body);

  // The value of `name`, or nullopt when absent.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

struct ClientCredentials {
  std::string client_id;
  std::string client_secret;
};

// Parses an Authorization header value "Basic <base64(urlencode(id):urlencode(secret))>".
// nullopt when the scheme is not Basic or the encoding is broken.
std::optional<ClientCredentials> parse_basic_credentials(std::string_view authorization);

}  // namespace tollgate::dev_idp
