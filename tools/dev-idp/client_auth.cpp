#include "client_auth.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <boost/beast/http/field.hpp>

#include "tollgate/http/headers.hpp"

namespace tollgate::dev_idp {
namespace {

constexpr std::string_view kMultipleCredentials =
    "Cannot supply multiple client credentials. Use one of the following: credentials in the "
    "Authorization header, credentials in the post body, or a client_assertion in the post body.";
constexpr std::string_view kAuthenticationFailed =
    "Client authentication failed. Either the client or the client credentials are invalid.";
constexpr std::string_view kUnknownClient = "Invalid value for 'client_id' parameter.";
constexpr std::string_view kBadSecret =
    "The client secret supplied for a confidential client is invalid.";

Reply invalid_client(std::string_view description, bool used_basic) {
  Reply reply = error_reply(http::status::unauthorized, "invalid_client", description);
  // RFC 6749 section 5.2: a failed Basic attempt is answered with the scheme to use.
  if (used_basic) reply.response.set(http::field::www_authenticate, "Basic realm=\"dev-idp\"");
  return reply;
}

std::variant<const Client*, Reply> check_secret(const ClientRegistry& clients,
                                                std::string_view client_id,
                                                std::string_view client_secret, bool used_basic) {
  const Client* client = clients.find(client_id);
  if (client == nullptr || !client->active()) return invalid_client(kUnknownClient, used_basic);
  if (!client->secret_matches(client_secret)) {
    return invalid_client(kBadSecret, used_basic);
  }
  return client;
}

}  // namespace

std::variant<const Client*, Reply> authenticate_client(const Request& request, const Form& form,
                                                       const ClientRegistry& clients) {
  const auto authorization = request.find(http::field::authorization);
  const bool has_header = authorization != request.end();
  const bool has_body_secret = form.has("client_secret") || form.has("client_assertion");

  if (has_header && has_body_secret) {
    return error_reply(http::status::bad_request, "invalid_request", kMultipleCredentials);
  }
  if (has_header) {
    const auto credentials = parse_basic_credentials(authorization->value());
    if (!credentials) return invalid_client(kAuthenticationFailed, true);
    const auto body_client_id = form.get("client_id");
    if (body_client_id && *body_client_id != credentials->client_id) {
      return error_reply(http::status::bad_request, "invalid_request",
                         "The client_id in the body does not match the Authorization header.");
    }
    return check_secret(clients, credentials->client_id, credentials->client_secret, true);
  }
  if (form.has("client_assertion")) {
    return invalid_client("client_assertion is not supported by dev-idp.", false);
  }
  const auto client_id = form.get("client_id");
  const auto client_secret = form.get("client_secret");
  if (!client_id || !client_secret) return invalid_client(kAuthenticationFailed, false);
  return check_secret(clients, *client_id, *client_secret, false);
}

std::variant<Form, Reply> read_form(const Request& request) {
  const auto content_type = request.find(http::field::content_type);
  if (content_type == request.end() ||
      !tollgate::http_io::is_form_urlencoded(content_type->value())) {
    return error_reply(http::status::bad_request, "invalid_request",
                       "The request must be application/x-www-form-urlencoded.");
  }
  auto form = Form::parse(request.body());
  if (!form) {
    return error_reply(
        http::status::bad_request, "invalid_request",
        "The body is not a valid form: bad percent-encoding or a repeated parameter.");
  }
  return std::move(*form);
}

}  // namespace tollgate::dev_idp
