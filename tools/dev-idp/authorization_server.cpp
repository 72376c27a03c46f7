#include "authorization_server.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <openssl/rand.h>
#include <boost/beast/http/field.hpp>

#include "client_auth.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::dev_idp {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::size_t kOpaqueTokenBytes = 32;
constexpr std::size_t kJtiBytes = 16;

std::string random_base64url(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return base64url_encode(raw);
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> split_scopes(std::string_view scope) {
  std::vector<std::string> scopes;
  while (!scope.empty()) {
    const std::size_t space = scope.find(' ');
    const std::string_view one = scope.substr(0, space);
    if (!one.empty() && std::find(scopes.begin(), scopes.end(), one) == scopes.end()) {
      scopes.emplace_back(one);
    }
    scope = space == std::string_view::npos ? std::string_view{} : scope.substr(space + 1);
  }
  return scopes;
}

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string joined;
  for (const auto& scope : scopes) {
    if (!joined.empty()) joined += ' ';
    joined += scope;
  }
  return joined;
}

std::string inactive_answer() {
  return R"({"active":false})";
}

const char* error_code_for_status(unsigned status) {
  switch (status) {
    case 401:
      return "invalid_client";
    case 429:
      return "too_many_requests";
    case 503:
      return "temporarily_unavailable";
    default:
      return status < 500 ? "invalid_request" : "server_error";
  }
}

// The answer a misbehaving IdP gives instead of the real one.
Reply faulty_answer(const Faults& faults) {
  if (faults.active_string)
    return json_reply(http::status::ok, std::string(R"({"active":"true"})"));
  const unsigned status = faults.status.value_or(200);
  Reply reply;
  if (faults.body) {
    reply.response.result(status);
    reply.response.set(http::field::content_type, "text/html");
    reply.response.body() = *faults.body;
  } else {
    reply = error_reply(static_cast<http::status>(status), error_code_for_status(status),
                        "Injected fault: HTTP " + std::to_string(status));
  }
  if (faults.retry_after) reply.response.set(http::field::retry_after, *faults.retry_after);
  if (status == 429) {
    // Okta's rate-limit headers, so gateways can be tested against them.
    reply.response.set("X-Rate-Limit-Limit", "300");
    reply.response.set("X-Rate-Limit-Remaining", "0");
    reply.response.set("X-Rate-Limit-Reset", std::to_string(now_seconds() + 60));
  }
  return reply;
}

void remove_active_member(Reply& reply) {
  auto answer = ordered_json::parse(reply.response.body(), nullptr, false);
  if (!answer.is_object()) return;
  answer.erase("active");
  reply.response.body() = dump_json(answer);
}

std::string build_discovery_document(const std::string& issuer, const ClientRegistry& clients) {
  const ordered_json auth_methods = {"client_secret_basic", "client_secret_post"};
  const ordered_json document = {
      {"issuer", issuer},
      {"authorization_endpoint", issuer + "/v1/authorize"},
      {"token_endpoint", issuer + "/v1/token"},
      {"jwks_uri", issuer + "/v1/keys"},
      {"response_types_supported", {"code"}},
      {"grant_types_supported", {"client_credentials"}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", {"RS256"}},
      {"scopes_supported", clients.all_scopes()},
      {"token_endpoint_auth_methods_supported", auth_methods},
      {"claims_supported", {"ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub"}},
      {"introspection_endpoint", issuer + "/v1/introspect"},
      {"introspection_endpoint_auth_methods_supported", auth_methods},
      {"revocation_endpoint", issuer + "/v1/revoke"},
      {"revocation_endpoint_auth_methods_supported", auth_methods},
  };
  return dump_json(document);
}

}  // namespace

Reply token_reply(const IssuedToken& token) {
  return json_reply(http::status::ok, ordered_json{{"token_type", "Bearer"},
                                                   {"expires_in", token.expires_in.count()},
                                                   {"access_token", token.access_token},
                                                   {"scope", token.scope}});
}

AuthorizationServer::AuthorizationServer(IdpState& state)
    : state_(state),
      discovery_document_(build_discovery_document(state.settings.issuer, state.clients)) {}

Reply AuthorizationServer::keys() const {
  state_.stats.keys_calls.increment();
  return json_reply(http::status::ok, state_.signing_keys.jwks_document());
}

Reply AuthorizationServer::authorize() const {
  return error_reply(http::status::bad_request, "unsupported_response_type",
                     "dev-idp only issues tokens by the client_credentials grant.");
}

std::optional<IssuedToken> AuthorizationServer::issue(
    const Client& client, std::string scope, std::chrono::seconds ttl, TokenFormat format,
    const std::string& audience, std::optional<std::chrono::seconds> not_before) {
  const auto generation = client.issuing_generation();
  if (!generation) return std::nullopt;

  const std::int64_t issued_at = now_seconds();
  const std::int64_t expires_at = issued_at + ttl.count();
  const std::string jti = "AT." + random_base64url(kJtiBytes);
  const std::string& issuer = state_.settings.issuer;

  std::string access_token;
  if (format == TokenFormat::jwt) {
    ordered_json claims = {{"ver", 1},           {"jti", jti},
                           {"iss", issuer},      {"aud", audience},
                           {"iat", issued_at},   {"exp", expires_at},
                           {"cid", client.id()}, {"scp", split_scopes(scope)},
                           {"sub", client.id()}};
    if (not_before) claims["nbf"] = issued_at + not_before->count();
    access_token = state_.signing_keys.current()->sign_jwt(claims);
  } else {
    access_token = random_base64url(kOpaqueTokenBytes);
  }

  // Okta's field set and order for an active client_credentials token.
  ordered_json introspection = {{"active", true},
                                {"scope", scope},
                                {"username", client.id()},
                                {"exp", expires_at},
                                {"iat", issued_at},
                                {"sub", client.id()},
                                {"aud", audience},
                                {"iss", issuer},
                                {"jti", jti},
                                {"token_type", "Bearer"},
                                {"client_id", client.id()},
                                {"uid", client.uid()}};
  if (not_before) introspection["nbf"] = issued_at + not_before->count();
  state_.tokens.insert(access_token,
                       TokenRecord{&client, *generation, expires_at, dump_json(introspection)});
  return IssuedToken{std::move(access_token), std::move(scope), ttl};
}

Reply AuthorizationServer::token(const Request& request) {
  state_.stats.token_calls.increment();
  auto form = read_form(request);
  if (auto* reply = std::get_if<Reply>(&form)) return std::move(*reply);
  const Form& params = std::get<Form>(form);
  auto authenticated = authenticate_client(request, params, state_.clients);
  if (auto* reply = std::get_if<Reply>(&authenticated)) return std::move(*reply);
  const Client& client = *std::get<const Client*>(authenticated);

  const auto grant_type = params.get("grant_type");
  if (!grant_type) {
    return error_reply(http::status::bad_request, "invalid_request",
                       "The 'grant_type' parameter is required.");
  }
  if (*grant_type != "client_credentials") {
    return error_reply(http::status::bad_request, "unsupported_grant_type",
                       "The authorization grant type is not supported by the authorization "
                       "server. Configured grant types: [client_credentials].");
  }

  std::vector<std::string> scopes = split_scopes(params.get("scope").value_or(""));
  if (scopes.empty()) scopes = client.scopes();
  for (const auto& scope : scopes) {
    if (std::find(client.scopes().begin(), client.scopes().end(), scope) == client.scopes().end()) {
      return error_reply(http::status::bad_request, "invalid_scope",
                         "One or more scopes are not configured for the authorization server "
                         "resource.");
    }
  }

  TokenFormat format = state_.settings.default_format;
  if (const auto requested = params.get("token_format")) {
    if (*requested == "jwt") {
      format = TokenFormat::jwt;
    } else if (*requested == "opaque") {
      format = TokenFormat::opaque;
    } else {
      return error_reply(http::status::bad_request, "invalid_request",
                         "token_format must be 'jwt' or 'opaque'.");
    }
  }

  auto issued =
      issue(client, join_scopes(scopes), state_.settings.token_ttl, format, client.audience());
  if (!issued) {
    return error_reply(http::status::unauthorized, "invalid_client",
                       "Invalid value for 'client_id' parameter.");
  }
  return token_reply(*issued);
}

Reply AuthorizationServer::introspect(const Request& request) {
  state_.stats.introspect_calls.increment();
  if (const auto traceparent = request.find("traceparent"); traceparent != request.end()) {
    state_.stats.introspect_traces.record(traceparent->value(), request["tracestate"]);
  }
  const auto faults = state_.faults.current();
  if (!faults) return honest_introspection(request);

  Reply reply;
  if (faults->close) {
    reply.delivery = Delivery::close_silently;
  } else if (faults->blackhole) {
    reply.delivery = Delivery::blackhole;
  } else {
    if (faults->status || faults->body || faults->active_string) {
      reply = faulty_answer(*faults);
    } else {
      reply = honest_introspection(request);
      if (faults->omit_active) remove_active_member(reply);
    }
    if (faults->truncate) reply.delivery = Delivery::truncate;
  }
  reply.delay = faults->latency;
  return reply;
}

Reply AuthorizationServer::honest_introspection(const Request& request) {
  auto form = read_form(request);
  if (auto* reply = std::get_if<Reply>(&form)) return std::move(*reply);
  const Form& params = std::get<Form>(form);
  auto authenticated = authenticate_client(request, params, state_.clients);
  if (auto* reply = std::get_if<Reply>(&authenticated)) return std::move(*reply);

  const auto token = params.get("token");
  if (!token || token->empty()) {
    return error_reply(http::status::bad_request, "invalid_request",
                       "The 'token' parameter is required.");
  }
  // token_type_hint is advisory (RFC 7662 section 2.1): every token is looked up the same way.
  auto answer = state_.tokens.active_answer(*token, now_seconds());
  return json_reply(http::status::ok, answer ? std::move(*answer) : inactive_answer());
}

Reply AuthorizationServer::revoke(const Request& request) {
  auto form = read_form(request);
  if (auto* reply = std::get_if<Reply>(&form)) return std::move(*reply);
  const Form& params = std::get<Form>(form);
  auto authenticated = authenticate_client(request, params, state_.clients);
  if (auto* reply = std::get_if<Reply>(&authenticated)) return std::move(*reply);

  const auto token = params.get("token");
  if (!token) {
    return error_reply(http::status::bad_request, "invalid_request",
                       "The 'token' parameter is required.");
  }
  // RFC 7009 section 2.2: unknown tokens are answered 200 as well, so nothing is learned.
  state_.tokens.revoke(*token);
  Reply reply;
  reply.response.result(http::status::ok);
  reply.response.set(http::field::cache_control, "no-store");
  return reply;
}

}  // namespace tollgate::dev_idp
