// dev-idp, the Okta-shaped authorization server the gateway is tested and benchmarked against: the
// real binary on 127.0.0.1, spoken to over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>

#include "http_client.hpp"
#include "process.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using json = nlohmann::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* kIssuerPath = "/oauth2/default";
constexpr const char* kToken = "/oauth2/default/v1/token";
constexpr const char* kIntrospect = "/oauth2/default/v1/introspect";
constexpr const char* kRevoke = "/oauth2/default/v1/revoke";
constexpr const char* kMultipleCredentials =
    R"({"error":"invalid_request","error_description":"Cannot supply multiple client credentials. )"
    R"(Use one of the following: credentials in the Authorization header, credentials in the post )"
    R"(body, or a client_assertion in the post body."})";

// ---------------------------------------------------------------------------------------------
// Helpers

std::string url_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string basic(const std::string& id, const std::string& secret) {
  return "Basic " + base64_encode(url_encode(id) + ":" + url_encode(secret));
}

std::string base64url_decode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (text.size() % 4 != 0) text += '=';
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("bad base64url");
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Request form_post(const std::string& target, const std::string& body,
                  const std::optional<std::string>& authorization = std::nullopt) {
  Request request{http::verb::post, target, 11};
  request.set(http::field::content_type, "application/x-www-form-urlencoded");
  request.set(http::field::accept, "application/json");
  if (authorization) request.set(http::field::authorization, *authorization);
  request.body() = body;
  return request;
}

std::string raw_form_post(std::uint16_t port, const std::string& target, const std::string& body,
                          const std::string& authorization) {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: " + authorization +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// What a raw read on a socket saw: the bytes, and why it stopped.
struct ReadOutcome {
  std::string bytes;
  bool peer_closed = false;  // EOF or reset
  bool timed_out = false;    // still open, nothing more came
};

// Waits with poll(): Asio's synchronous reads retry a receive timeout (SO_RCVTIMEO) forever.
ReadOutcome read_until_close_or_timeout(tcp::socket& socket, std::chrono::milliseconds timeout) {
  ReadOutcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{socket.native_handle(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) == 0) {
      outcome.timed_out = true;
      return outcome;
    }
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    outcome.bytes.append(buffer, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      outcome.peer_closed = true;
      return outcome;
    }
    if (ec) throw boost::system::system_error(ec);
  }
}

// The real dev-idp binary, started with `args` and ready to serve.
class IdpProcess {
 public:
  explicit IdpProcess(std::vector<std::string> args = {}) : process_(argv_with(std::move(args))) {
    port_ = static_cast<std::uint16_t>(
        std::stoi(process_.wait_for_line(R"(^dev-idp listening on 127\.0\.0\.1:(\d+)$)")));
  }

  std::uint16_t port() const { return port_; }
  std::string issuer(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + kIssuerPath;
  }
  Process& process() { return process_; }

  Response send(Request request) const {
    HttpConnection connection(port_);
    return connection.send(std::move(request));
  }

  Response post(const std::string& target, const std::string& body,
                const std::optional<std::string>& authorization = std::nullopt) const {
    return send(form_post(target, body, authorization));
  }

  Response admin(http::verb method, const std::string& target, const json& body = nullptr) const {
    Request request{method, target, 11};
    if (!body.is_null()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body.dump();
    }
    return send(std::move(request));
  }

  void set_faults(const json& faults) const {
    const Response response = admin(http::verb::post, "/admin/faults", faults);
    ASSERT_EQ(response.result_int(), 200) << response.body();
  }

  json token_response(const std::string& id, const std::string& secret,
                      const std::string& extra = "") const {
    const Response response =
        post(kToken, "grant_type=client_credentials" + extra, basic(id, secret));
    EXPECT_EQ(response.result_int(), 200) << response.body();
    return json::parse(response.body());
  }

  std::string token(const std::string& extra = "") const {
    return token_response("demo-client", "demo-secret", extra)["access_token"].get<std::string>();
  }

  Response introspect(const std::string& token) const {
    return post(kIntrospect, "token=" + url_encode(token) + "&token_type_hint=access_token",
                basic("gateway", "gateway-secret"));
  }

  json introspection(const std::string& token) const {
    const Response response = introspect(token);
    EXPECT_EQ(response.result_int(), 200) << response.body();
    return json::parse(response.body());
  }

  json stats() const { return json::parse(admin(http::verb::get, "/admin/stats").body()); }

 private:
  static std::vector<std::string> argv_with(std::vector<std::string> args) {
    args.insert(args.begin(), {DEV_IDP_BIN, "--listen", "127.0.0.1:0"});
    return args;
  }

  Process process_;
  std::uint16_t port_ = 0;
};

const std::set<std::string> kOktaActiveFields = {"active", "scope",      "username",  "exp",
                                                 "iat",    "sub",        "aud",       "iss",
                                                 "jti",    "token_type", "client_id", "uid"};

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Discovery and keys

TEST(DevIdp, PublishesBothDiscoveryDocumentsWithOktaEndpoints) {
  IdpProcess idp;
  for (const char* name : {"openid-configuration", "oauth-authorization-server"}) {
    const Response response =
        http_get(idp.port(), std::string(kIssuerPath) + "/.well-known/" + name);
    ASSERT_EQ(response.result_int(), 200) << name;
    EXPECT_EQ(response[http::field::content_type], "application/json");
    const json document = json::parse(response.body());
    const std::string issuer = idp.issuer();
    EXPECT_EQ(document["issuer"], issuer);
    EXPECT_EQ(document["token_endpoint"], issuer + "/v1/token");
    EXPECT_EQ(document["introspection_endpoint"], issuer + "/v1/introspect");
    EXPECT_EQ(document["revocation_endpoint"], issuer + "/v1/revoke");
    EXPECT_EQ(document["jwks_uri"], issuer + "/v1/keys");
    EXPECT_EQ(document["authorization_endpoint"], issuer + "/v1/authorize");
    EXPECT_EQ(document["grant_types_supported"], json::array({"client_credentials"}));
    EXPECT_EQ(document["introspection_endpoint_auth_methods_supported"],
              json::array({"client_secret_basic", "client_secret_post"}));
    EXPECT_EQ(document["token_endpoint_auth_methods_supported"],
              json::array({"client_secret_basic", "client_secret_post"}));
    EXPECT_EQ(document["scopes_supported"], json::array({"orders:read", "orders:write"}));
  }
}

TEST(DevIdp, IssuerBaseFlagNamesTheIssuerAndEndpoints) {
  IdpProcess idp({"--issuer-base", "https://idp.example.test/"});
  const json document = json::parse(
      http_get(idp.port(), std::string(kIssuerPath) + "/.well-known/openid-configuration").body());
  EXPECT_EQ(document["issuer"], "https://idp.example.test/oauth2/default");
  EXPECT_EQ(document["introspection_endpoint"],
            "https://idp.example.test/oauth2/default/v1/introspect");
  const std::string token = idp.token();
  EXPECT_EQ(idp.introspection(token)["iss"], "https://idp.example.test/oauth2/default");
}

TEST(DevIdp, KeysEndpointPublishesOneRs256SigningKey) {
  IdpProcess idp;
  const json jwks = json::parse(http_get(idp.port(), std::string(kIssuerPath) + "/v1/keys").body());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const json& key = jwks["keys"][0];
  EXPECT_EQ(key["kty"], "RSA");
  EXPECT_EQ(key["alg"], "RS256");
  EXPECT_EQ(key["use"], "sig");
  EXPECT_EQ(key["e"], "AQAB");
  EXPECT_EQ(base64url_decode(key["n"]).size(), 256u);  // 2048-bit modulus
  EXPECT_FALSE(key["kid"].get<std::string>().empty());
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

TEST(DevIdp, IssuesOpaqueTokenWithBasicCredentialsAndAllScopesByDefault) {
  IdpProcess idp;
  const Response response =
      idp.post(kToken, "grant_type=client_credentials", basic("demo-client", "demo-secret"));
  ASSERT_EQ(response.result_int(), 200) << response.body();
  EXPECT_EQ(response[http::field::cache_control], "no-store");
  const json answer = json::parse(response.body());
  EXPECT_EQ(keys_of(answer),
            (std::set<std::string>{"token_type", "expires_in", "access_token", "scope"}));
  EXPECT_EQ(answer["token_type"], "Bearer");
  EXPECT_EQ(answer["expires_in"], 3600);
  EXPECT_EQ(answer["scope"], "orders:read orders:write");
  const std::string token = answer["access_token"];
  EXPECT_EQ(token.size(), 43u);  // 32 random bytes, base64url without padding
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
}

TEST(DevIdp, IssuesTokenWithCredentialsInThePostBody) {
  IdpProcess idp;
  const Response response =
      idp.post(kToken,
               "grant_type=client_credentials&scope=orders%3Aread&client_id=demo-client&"
               "client_secret=demo-secret");
  ASSERT_EQ(response.result_int(), 200) << response.body();
  EXPECT_EQ(json::parse(response.body())["scope"], "orders:read");
}

TEST(DevIdp, ClientFlagAndBasicCredentialsAreUrlDecoded) {
  // Basic credentials are base64(urlencode(id):urlencode(secret)); form values decode '+' too.
  IdpProcess idp({"--client", "app+1:pa%ss w/rd:orders:read,orders:write"});
  const json answer = idp.token_response("app+1", "pa%ss w/rd", "&scope=orders%3Awrite");
  EXPECT_EQ(answer["scope"], "orders:write");
  const Response in_body = idp.post(
      kToken, "grant_type=client_credentials&client_id=app%2B1&client_secret=pa%25ss+w%2Frd");
  EXPECT_EQ(in_body.result_int(), 200) << in_body.body();
}

TEST(DevIdp, TwoCredentialsAreRejectedLikeOkta) {
  IdpProcess idp;
  const std::string body_credentials = "&client_id=demo-client&client_secret=demo-secret";
  const Response token = idp.post(kToken, "grant_type=client_credentials" + body_credentials,
                                  basic("demo-client", "demo-secret"));
  EXPECT_EQ(token.result_int(), 400);
  EXPECT_EQ(token.body(), kMultipleCredentials);

  const std::string issued = idp.token();
  const Response introspect =
      idp.post(kIntrospect, "token=" + issued + "&client_id=gateway&client_secret=gateway-secret",
               basic("gateway", "gateway-secret"));
  EXPECT_EQ(introspect.result_int(), 400);
  EXPECT_EQ(introspect.body(), kMultipleCredentials);
}

TEST(DevIdp, WrongUnknownOrMissingCredentialsAre401InvalidClient) {
  IdpProcess idp;
  const std::vector<std::pair<std::string, std::optional<std::string>>> attempts = {
      {"grant_type=client_credentials", basic("demo-client", "wrong-secret")},
      {"grant_type=client_credentials", basic("nobody", "demo-secret")},
      {"grant_type=client_credentials&client_id=demo-client&client_secret=wrong", std::nullopt},
      {"grant_type=client_credentials&client_id=demo-client", std::nullopt},
      {"grant_type=client_credentials", std::nullopt},
      {"grant_type=client_credentials", std::string("Basic !!!not-base64!!!")},
      {"grant_type=client_credentials", std::string("Bearer something")},
  };
  for (const auto& [body, authorization] : attempts) {
    const Response response = idp.post(kToken, body, authorization);
    EXPECT_EQ(response.result_int(), 401) << body;
    EXPECT_EQ(json::parse(response.body())["error"], "invalid_client") << body;
  }
  const std::string token = idp.token();
  const Response introspect =
      idp.post(kIntrospect, "token=" + token, basic("gateway", "not-the-secret"));
  EXPECT_EQ(introspect.result_int(), 401);
  EXPECT_EQ(json::parse(introspect.body())["error"], "invalid_client");
  EXPECT_EQ(idp.post(kIntrospect, "token=" + token).result_int(), 401);
}

TEST(DevIdp, ScopeOutsideTheClientsScopesIs400InvalidScope) {
  IdpProcess idp;
  const Response response =
      idp.post(kToken, "grant_type=client_credentials&scope=orders%3Aread+admin",
               basic("demo-client", "demo-secret"));
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(json::parse(response.body())["error"], "invalid_scope");
}

TEST(DevIdp, OnlyTheClientCredentialsGrantIsSupported) {
  IdpProcess idp;
  const Response password = idp.post(kToken, "grant_type=password&username=a&password=b",
                                     basic("demo-client", "demo-secret"));
  EXPECT_EQ(password.result_int(), 400);
  EXPECT_EQ(json::parse(password.body())["error"], "unsupported_grant_type");
  const Response missing =
      idp.post(kToken, "scope=orders%3Aread", basic("demo-client", "demo-secret"));
  EXPECT_EQ(missing.result_int(), 400);
  EXPECT_EQ(json::parse(missing.body())["error"], "invalid_request");
}

// ---------------------------------------------------------------------------------------------
// Introspection and revocation

TEST(DevIdp, IntrospectionOfActiveTokenHasExactlyOktasFields) {
  IdpProcess idp;
  const std::string token = idp.token("&scope=orders%3Aread");
  const std::int64_t before = now_seconds();
  const Response response = idp.introspect(token);
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  const json answer = json::parse(response.body());
  EXPECT_EQ(keys_of(answer), kOktaActiveFields);
  EXPECT_EQ(answer["active"], true);
  EXPECT_EQ(answer["scope"], "orders:read");
  EXPECT_EQ(answer["username"], "demo-client");
  EXPECT_EQ(answer["sub"], "demo-client");
  EXPECT_EQ(answer["client_id"], "demo-client");
  EXPECT_EQ(answer["aud"], "api://default");
  EXPECT_EQ(answer["iss"], idp.issuer());
  EXPECT_EQ(answer["token_type"], "Bearer");
  EXPECT_TRUE(answer["jti"].get<std::string>().starts_with("AT."));
  EXPECT_TRUE(answer["uid"].get<std::string>().starts_with("0oa"));
  EXPECT_EQ(answer["uid"].get<std::string>().size(), 20u);
  EXPECT_EQ(answer["exp"].get<std::int64_t>() - answer["iat"].get<std::int64_t>(), 3600);
  EXPECT_LE(std::abs(answer["iat"].get<std::int64_t>() - before), 5);
}

TEST(DevIdp, ClientCanIntrospectWithCredentialsInThePostBody) {
  IdpProcess idp;
  const std::string token = idp.token();
  const Response response =
      idp.post(kIntrospect, "token=" + token + "&client_id=gateway&client_secret=gateway-secret");
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(json::parse(response.body())["active"], true);
}

TEST(DevIdp, UnknownTokenIsExactlyInactive) {
  IdpProcess idp;
  for (const std::string token : {"not-a-token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "%00"}) {
    const Response response = idp.introspect(token);
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response.body(), R"({"active":false})");
  }
}

TEST(DevIdp, TokenTtlFlagSetsTheLifetime) {
  IdpProcess idp({"--token-ttl", "5m"});
  const json answer = idp.token_response("demo-client", "demo-secret");
  EXPECT_EQ(answer["expires_in"], 300);
  const json introspection = idp.introspection(answer["access_token"]);
  EXPECT_EQ(introspection["exp"].get<std::int64_t>() - introspection["iat"].get<std::int64_t>(),
            300);
}

TEST(DevIdp, RevokedTokenBecomesInactive) {
  IdpProcess idp;
  const std::string token = idp.token();
  ASSERT_EQ(idp.introspection(token)["active"], true);
  const Response revoke = idp.post(kRevoke, "token=" + token + "&token_type_hint=access_token",
                                   basic("demo-client", "demo-secret"));
  EXPECT_EQ(revoke.result_int(), 200);
  EXPECT_EQ(idp.introspect(token).body(), R"({"active":false})");
  // RFC 7009: unknown tokens are answered 200 too; a bad client is not.
  EXPECT_EQ(idp.post(kRevoke, "token=unknown", basic("demo-client", "demo-secret")).result_int(),
            200);
  EXPECT_EQ(idp.post(kRevoke, "token=unknown", basic("demo-client", "nope")).result_int(), 401);
}

TEST(DevIdp, DeactivationKillsOldTokensForGoodButNewTokensWorkAfterReactivation) {
  IdpProcess idp;
  const std::string old_token = idp.token();
  ASSERT_EQ(idp.introspection(old_token)["active"], true);

  const Response deactivate = idp.admin(http::verb::post, "/admin/clients/demo-client/deactivate");
  ASSERT_EQ(deactivate.result_int(), 200) << deactivate.body();
  EXPECT_EQ(idp.introspect(old_token).body(), R"({"active":false})");
  // A deactivated application gets no tokens and cannot authenticate.
  const Response refused =
      idp.post(kToken, "grant_type=client_credentials", basic("demo-client", "demo-secret"));
  EXPECT_EQ(refused.result_int(), 401);
  EXPECT_EQ(json::parse(refused.body())["error"], "invalid_client");

  ASSERT_EQ(idp.admin(http::verb::post, "/admin/clients/demo-client/activate").result_int(), 200);
  EXPECT_EQ(idp.introspect(old_token).body(), R"({"active":false})");
  const std::string new_token = idp.token();
  EXPECT_EQ(idp.introspection(new_token)["active"], true);
  EXPECT_EQ(idp.introspect(old_token).body(), R"({"active":false})");

  EXPECT_EQ(idp.admin(http::verb::post, "/admin/clients/nobody/deactivate").result_int(), 404);
}

TEST(DevIdp, DeactivatedClientCannotIntrospect) {
  IdpProcess idp;
  const std::string token = idp.token();
  ASSERT_EQ(idp.admin(http::verb::post, "/admin/clients/gateway/deactivate").result_int(), 200);
  const Response response = idp.introspect(token);
  EXPECT_EQ(response.result_int(), 401);
  EXPECT_EQ(json::parse(response.body())["error"], "invalid_client");
}

// ---------------------------------------------------------------------------------------------
// Admin API

TEST(DevIdp, StatsCountTokenAndIntrospectionCallsUntilReset) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.token();
  idp.introspect(token);
  idp.introspect("unknown");
  idp.post(kIntrospect, "token=x", basic("gateway", "wrong"));  // failed calls count too
  idp.admin(http::verb::get, "/oauth2/default/v1/keys");
  EXPECT_EQ(idp.stats(), (json{{"introspect_calls", 3},
                               {"token_calls", 2},
                               {"keys_calls", 1},
                               {"introspect_traces", json::array()}}));

  const Response reset = idp.admin(http::verb::post, "/admin/stats/reset");
  EXPECT_EQ(reset.result_int(), 200);
  EXPECT_EQ(idp.stats(), (json{{"introspect_calls", 0},
                               {"token_calls", 0},
                               {"keys_calls", 0},
                               {"introspect_traces", json::array()}}));
  idp.introspect(token);
  EXPECT_EQ(idp.stats()["introspect_calls"], 1);
}

TEST(DevIdp, StatsShowTheTraceContextOfTracedIntrospectionCalls) {
  IdpProcess idp;
  const std::string token = idp.token();
  Request traced =
      form_post(kIntrospect, "token=" + url_encode(token), basic("gateway", "gateway-secret"));
  traced.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  traced.set("tracestate", "congo=t61rcWkgMzE");
  EXPECT_EQ(idp.send(traced).result_int(), 200);
  traced.erase("tracestate");
  EXPECT_EQ(idp.send(traced).result_int(), 200);
  idp.introspect(token);  // no traceparent: not listed
  const json traces = idp.stats()["introspect_traces"];
  EXPECT_EQ(traces, json::parse(R"([
    {"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
     "tracestate":"congo=t61rcWkgMzE"},
    {"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}])"));
  idp.admin(http::verb::post, "/admin/stats/reset");
  EXPECT_EQ(idp.stats()["introspect_traces"], json::array());
}

TEST(DevIdp, AdminMintsTokensWithChosenScopeAndLifetime) {
  IdpProcess idp;
  const Response minted =
      idp.admin(http::verb::post, "/admin/tokens",
                {{"client_id", "demo-client"}, {"scope", "orders:read admin"}, {"ttl_s", 120}});
  ASSERT_EQ(minted.result_int(), 200) << minted.body();
  const json answer = json::parse(minted.body());
  EXPECT_EQ(answer["expires_in"], 120);
  const json introspection = idp.introspection(answer["access_token"]);
  EXPECT_EQ(introspection["active"], true);
  EXPECT_EQ(introspection["scope"], "orders:read admin");
  EXPECT_EQ(introspection["exp"].get<std::int64_t>() - introspection["iat"].get<std::int64_t>(),
            120);

  // A lifetime of zero is a token that has already expired.
  const json expired = json::parse(
      idp.admin(http::verb::post, "/admin/tokens", {{"client_id", "demo-client"}, {"ttl_s", 0}})
          .body());
  EXPECT_EQ(idp.introspect(expired["access_token"]).body(), R"({"active":false})");

  EXPECT_EQ(idp.admin(http::verb::post, "/admin/tokens", {{"client_id", "nobody"}}).result_int(),
            404);
  EXPECT_EQ(
      idp.admin(http::verb::post, "/admin/tokens", {{"client_id", "demo-client"}, {"ttl_s", -1}})
          .result_int(),
      400);
}

TEST(DevIdp, InvalidFaultSetsAreRejected) {
  IdpProcess idp;
  for (const json& faults : {json{{"latency", 5}}, json{{"status", "500"}},
                             json{{"close", true}, {"blackhole", true}}, json::array()}) {
    EXPECT_EQ(idp.admin(http::verb::post, "/admin/faults", faults).result_int(), 400)
        << faults.dump();
  }
  Request not_json{http::verb::post, "/admin/faults", 11};
  not_json.body() = "{oops";
  EXPECT_EQ(idp.send(not_json).result_int(), 400);
  EXPECT_EQ(json::parse(idp.admin(http::verb::get, "/admin/faults").body()), json::object());
}

// ---------------------------------------------------------------------------------------------
// Faults on introspection calls

TEST(DevIdp, LatencyFaultDelaysTheRealAnswer) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"latency_ms", 300}});
  const auto start = std::chrono::steady_clock::now();
  const json answer = idp.introspection(token);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(answer["active"], true);
  EXPECT_EQ(idp.stats()["introspect_calls"], 1);
}

TEST(DevIdp, StatusFaultAnswersThatStatusWithJsonErrorAndRetryAfter) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"status", 503}, {"retry_after", "5"}});
  const Response unavailable = idp.introspect(token);
  EXPECT_EQ(unavailable.result_int(), 503);
  EXPECT_EQ(unavailable[http::field::retry_after], "5");
  EXPECT_EQ(unavailable[http::field::content_type], "application/json");
  EXPECT_EQ(json::parse(unavailable.body())["error"], "temporarily_unavailable");

  idp.set_faults({{"status", 429}});
  const Response limited = idp.introspect(token);
  EXPECT_EQ(limited.result_int(), 429);
  EXPECT_EQ(limited["X-Rate-Limit-Remaining"], "0");
  EXPECT_TRUE(json::parse(limited.body()).contains("error_description"));

  // Faults touch introspection only, and every faulty call is still counted.
  EXPECT_EQ(idp.token_response("demo-client", "demo-secret")["token_type"], "Bearer");
  EXPECT_EQ(idp.stats()["introspect_calls"], 2);

  ASSERT_EQ(idp.admin(http::verb::delete_, "/admin/faults").result_int(), 200);
  EXPECT_EQ(idp.introspection(token)["active"], true);
}

TEST(DevIdp, BodyFaultSendsGarbageAsHtmlWith200) {
  IdpProcess idp;
  idp.set_faults({{"body", "<html>garbage</html>"}});
  const Response response = idp.introspect(idp.token());
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "text/html");
  EXPECT_EQ(response.body(), "<html>garbage</html>");
}

TEST(DevIdp, ActiveStringFaultAnswersActiveAsAString) {
  IdpProcess idp;
  idp.set_faults({{"active_string", true}});
  const Response response = idp.introspect("unknown-token");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), R"({"active":"true"})");
}

TEST(DevIdp, OmitActiveFaultAnswersTheObjectWithoutActive) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"omit_active", true}});
  const json answer = json::parse(idp.introspect(token).body());
  std::set<std::string> expected = kOktaActiveFields;
  expected.erase("active");
  EXPECT_EQ(keys_of(answer), expected);
}

TEST(DevIdp, CloseFaultClosesWithoutAByte) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"close", true}});
  HttpConnection connection(idp.port());
  connection.send_raw(
      raw_form_post(idp.port(), kIntrospect, "token=" + token, basic("gateway", "gateway-secret")));
  const ReadOutcome outcome = read_until_close_or_timeout(connection.socket(), 5s);
  EXPECT_TRUE(outcome.peer_closed);
  EXPECT_EQ(outcome.bytes, "");
  EXPECT_EQ(idp.stats()["introspect_calls"], 1);
}

TEST(DevIdp, TruncateFaultPromisesMoreBodyThanItSends) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"truncate", true}});
  HttpConnection connection(idp.port());
  connection.send_raw(
      raw_form_post(idp.port(), kIntrospect, "token=" + token, basic("gateway", "gateway-secret")));
  const ReadOutcome outcome = read_until_close_or_timeout(connection.socket(), 5s);
  ASSERT_TRUE(outcome.peer_closed);
  EXPECT_EQ(status_of(outcome.bytes), 200);
  const std::size_t header_end = outcome.bytes.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  const std::string header = outcome.bytes.substr(0, header_end);
  const std::size_t length_at = header.find("Content-Length: ");
  ASSERT_NE(length_at, std::string::npos) << header;
  const std::size_t promised = std::stoul(header.substr(length_at + 16));
  const std::size_t sent = outcome.bytes.size() - header_end - 4;
  EXPECT_GT(sent, 0u);
  EXPECT_GT(promised, sent);
}

TEST(DevIdp, BlackholeFaultNeverAnswersButKeepsServingOthers) {
  IdpProcess idp;
  const std::string token = idp.token();
  idp.set_faults({{"blackhole", true}});
  HttpConnection connection(idp.port());
  connection.send_raw(
      raw_form_post(idp.port(), kIntrospect, "token=" + token, basic("gateway", "gateway-secret")));
  const ReadOutcome silence = read_until_close_or_timeout(connection.socket(), 500ms);
  EXPECT_TRUE(silence.timed_out);
  EXPECT_EQ(silence.bytes, "");
  // The IdP is not stuck: other calls are answered while the blackholed one waits.
  EXPECT_EQ(idp.stats()["introspect_calls"], 1);

  // Once the client goes, the IdP lets go of the connection too, still without a byte.
  connection.socket().shutdown(tcp::socket::shutdown_send);
  const ReadOutcome after_leaving = read_until_close_or_timeout(connection.socket(), 5s);
  EXPECT_TRUE(after_leaving.peer_closed);
  EXPECT_EQ(after_leaving.bytes, "");
}

// ---------------------------------------------------------------------------------------------
// JWT access tokens

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PublicKey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

PublicKey rsa_public_key(const std::string& n, const std::string& e) {
  BIGNUM* modulus = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                              static_cast<int>(n.size()), nullptr);
  BIGNUM* exponent = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                               static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, modulus);
  OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, exponent);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(context) != 1 ||
      EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  BN_free(modulus);
  BN_free(exponent);
  return PublicKey(key);
}

bool rs256_verifies(EVP_PKEY* key, const std::string& signed_part, const std::string& signature) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

void expect_valid_okta_style_jwt(const IdpProcess& idp, const std::string& jwt,
                                 const std::string& scope) {
  const std::vector<std::string> parts = split(jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  for (const auto& part : parts) {
    EXPECT_EQ(part.find_first_of("+/="), std::string::npos);  // base64url, unpadded
  }
  const json header = json::parse(base64url_decode(parts[0]));
  const json claims = json::parse(base64url_decode(parts[1]));
  const json jwks = json::parse(http_get(idp.port(), std::string(kIssuerPath) + "/v1/keys").body());
  const json& jwk = jwks["keys"][0];

  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["kid"], jwk["kid"]);
  EXPECT_EQ(claims["iss"], idp.issuer());
  EXPECT_EQ(claims["sub"], "demo-client");
  EXPECT_EQ(claims["cid"], "demo-client");
  EXPECT_EQ(claims["aud"], "api://default");
  EXPECT_EQ(claims["scp"], json(split(scope, ' ')));
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 3600);
  EXPECT_TRUE(claims["jti"].get<std::string>().starts_with("AT."));

  const PublicKey key = rsa_public_key(base64url_decode(jwk["n"]), base64url_decode(jwk["e"]));
  ASSERT_TRUE(key);
  EXPECT_TRUE(rs256_verifies(key.get(), parts[0] + "." + parts[1], base64url_decode(parts[2])));
  // The signature covers the claims: changed claims do not verify.
  json forged_claims = claims;
  forged_claims["scp"] = {"admin"};
  const std::string forged_part = base64url_encode(forged_claims.dump());
  EXPECT_FALSE(rs256_verifies(key.get(), parts[0] + "." + forged_part, base64url_decode(parts[2])));

  const json introspection = idp.introspection(jwt);
  EXPECT_EQ(introspection["active"], true);
  EXPECT_EQ(introspection["jti"], claims["jti"]);
  EXPECT_EQ(introspection["scope"], scope);
  EXPECT_EQ(idp.introspect(parts[0] + "." + forged_part + "." + parts[2]).body(),
            R"({"active":false})");
}

TEST(DevIdp, JwtTokenFormatIssuesVerifiableRs256Tokens) {
  IdpProcess idp;
  const std::string jwt = idp.token("&scope=orders%3Aread&token_format=jwt");
  expect_valid_okta_style_jwt(idp, jwt, "orders:read");

  // Revocation and deactivation reach JWTs too.
  ASSERT_EQ(idp.post(kRevoke, "token=" + jwt, basic("demo-client", "demo-secret")).result_int(),
            200);
  EXPECT_EQ(idp.introspect(jwt).body(), R"({"active":false})");
}

TEST(DevIdp, JwtFlagMakesEveryTokenAJwt) {
  IdpProcess idp({"--jwt"});
  const std::string jwt = idp.token();
  expect_valid_okta_style_jwt(idp, jwt, "orders:read orders:write");
  EXPECT_EQ(split(idp.token("&token_format=opaque"), '.').size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// TLS

// A test CA and a server certificate it signed, for 127.0.0.1 and localhost.
class TestPki {
 public:
  TestPki() {
    run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", "2", "-subj",
         "/CN=dev-idp test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign,cRLSign"});
    run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"});
    dir_.write("server.ext",
               "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\n");
    run({"x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
         "-CAcreateserial", "-out", path("server.crt"), "-days", "2", "-extfile",
         path("server.ext")});
  }

  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  void run(std::vector<std::string> args) const {
    args.insert(args.begin(), "/usr/bin/openssl");
    Process openssl(args);
    ASSERT_EQ(openssl.wait_exit(), 0) << openssl.output();
  }

  TempDir dir_;
};

// One HTTPS request, verifying the server's certificate against `ca_file` for `host`.
Response https_request(std::uint16_t port, const std::string& ca_file, const std::string& host,
                       Request request) {
  asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.set_verify_mode(ssl::verify_peer);
  context.load_verify_file(ca_file);
  ssl::stream<tcp::socket> stream(io, context);
  stream.set_verify_callback(ssl::host_name_verification(host));
  if (host != "127.0.0.1") SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.handshake(ssl::stream_base::client);
  request.set(http::field::host, host);
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  Response response;
  http::read(stream, buffer, response);
  return response;
}

TEST(DevIdp, ServesHttpsWithAVerifiableCertificate) {
  TestPki pki;
  IdpProcess idp({"--tls-cert", pki.path("server.crt"), "--tls-key", pki.path("server.key")});

  Request discovery{http::verb::get, std::string(kIssuerPath) + "/.well-known/openid-configuration",
                    11};
  const Response document = https_request(idp.port(), pki.path("ca.crt"), "127.0.0.1", discovery);
  ASSERT_EQ(document.result_int(), 200);
  EXPECT_EQ(json::parse(document.body())["issuer"], idp.issuer("https"));

  const Response token = https_request(
      idp.port(), pki.path("ca.crt"), "localhost",
      form_post(kToken, "grant_type=client_credentials", basic("demo-client", "demo-secret")));
  ASSERT_EQ(token.result_int(), 200) << token.body();
  const std::string access_token = json::parse(token.body())["access_token"];
  const Response introspection = https_request(
      idp.port(), pki.path("ca.crt"), "localhost",
      form_post(kIntrospect, "token=" + access_token, basic("gateway", "gateway-secret")));
  ASSERT_EQ(introspection.result_int(), 200);
  EXPECT_EQ(json::parse(introspection.body())["iss"], idp.issuer("https"));

  // Verification is real: a name the certificate does not carry is refused.
  EXPECT_THROW(https_request(idp.port(), pki.path("ca.crt"), "idp.example.test", discovery),
               boost::system::system_error);
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(status_of(raw_exchange(idp.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2s)), 0);
}

TEST(DevIdp, RefusesToStartWithUnreadableTlsFiles) {
  TempDir dir;
  Process idp({DEV_IDP_BIN, "--listen", "127.0.0.1:0", "--tls-cert", dir.path() + "/missing.crt",
               "--tls-key", dir.path() + "/missing.key"});
  EXPECT_EQ(idp.wait_exit(), 1);
  EXPECT_EQ(idp.output().find("listening"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// HTTP robustness

TEST(DevIdp, KeepsConnectionsAliveAndHonoursConnectionClose) {
  IdpProcess idp;
  const std::string token = idp.token();
  HttpConnection connection(idp.port());
  for (int i = 0; i < 5; ++i) {
    const Response response = connection.send(
        form_post(kIntrospect, "token=" + token, basic("gateway", "gateway-secret")));
    ASSERT_EQ(response.result_int(), 200);
    EXPECT_TRUE(response.keep_alive());
  }
  Request closing = form_post(kIntrospect, "token=" + token, basic("gateway", "gateway-secret"));
  closing.set(http::field::connection, "close");
  const Response last = connection.send(std::move(closing));
  EXPECT_EQ(last.result_int(), 200);
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(connection.closed_by_peer());
}

TEST(DevIdp, UnknownPathsAndMethodsGetJsonErrors) {
  IdpProcess idp;
  const Response missing = http_get(idp.port(), "/oauth2/default/v1/userinfo");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(json::parse(missing.body())["error"], "not_found");
  EXPECT_EQ(http_get(idp.port(), "/").result_int(), 404);
  const Response wrong_method = http_get(idp.port(), kIntrospect);
  EXPECT_EQ(wrong_method.result_int(), 405);
  EXPECT_EQ(wrong_method[http::field::allow], "POST");
  EXPECT_TRUE(json::parse(wrong_method.body()).contains("error_description"));
}

TEST(DevIdp, MalformedFormsAreRejectedWith400) {
  IdpProcess idp;
  const auto auth = basic("gateway", "gateway-secret");
  for (const std::string body : {"token=%zz", "token=%4", "token=a&token=b", "token=%"}) {
    const Response response = idp.post(kIntrospect, body, auth);
    EXPECT_EQ(response.result_int(), 400) << body;
    EXPECT_EQ(json::parse(response.body())["error"], "invalid_request") << body;
  }
  // OAuth requests have a handful of parameters; thousands are refused, not parsed slowly.
  std::string many = "token=x";
  for (int i = 0; i < 5000; ++i) many += "&p" + std::to_string(i) + "=";
  EXPECT_EQ(idp.post(kIntrospect, many, auth).result_int(), 400);
  Request as_json = form_post(kIntrospect, R"({"token":"x"})", auth);
  as_json.set(http::field::content_type, "application/json");
  EXPECT_EQ(idp.send(as_json).result_int(), 400);
  EXPECT_EQ(idp.post(kIntrospect, "token_type_hint=access_token", auth).result_int(), 400);
}

TEST(DevIdp, OversizedBodyIs413AndGarbageIs400AndTheServerLivesOn) {
  IdpProcess idp;
  const Response huge = idp.post(kIntrospect, "token=" + std::string(65 * 1024, 'a'),
                                 basic("gateway", "gateway-secret"));
  EXPECT_EQ(huge.result_int(), 413);
  EXPECT_EQ(json::parse(huge.body())["error"], "invalid_request");

  EXPECT_EQ(status_of(raw_exchange(idp.port(), "GARBAGE\r\n\r\n")), 400);
  EXPECT_EQ(status_of(raw_exchange(idp.port(),
                                   "POST /x HTTP/1.1\r\nContent-Length: 5\r\n"
                                   "Content-Length: 6\r\n\r\nhello!")),
            400);
  EXPECT_EQ(
      status_of(raw_exchange(idp.port(), std::string("\x16\x03\x01\x02\x00\x01\r\n\r\n", 10))),
      400);
  EXPECT_EQ(status_of(raw_exchange(
                idp.port(), "GET / HTTP/1.1\r\nX: " + std::string(20 * 1024, 'x') + "\r\n\r\n")),
            431);
  // A client that vanishes mid-request does not hurt either.
  {
    HttpConnection vanishing(idp.port());
    vanishing.send_raw(
        "POST /oauth2/default/v1/introspect HTTP/1.1\r\nContent-Length: 100\r\n\r\nto");
  }

  EXPECT_TRUE(idp.process().running());
  EXPECT_EQ(idp.introspection(idp.token())["active"], true);
}

// ---------------------------------------------------------------------------------------------
// Clients, command line and threads

TEST(DevIdp, ClientsFileDefinesClientsScopesAndAudience) {
  TempDir dir;
  const std::string file = dir.write("clients.yaml", R"(
clients:
  - client_id: billing
    client_secret: billing-secret
    scopes: [invoices:read]
    audience: api://billing
  - client_id: introspector
    client_secret: introspector-secret
    scopes: []
)");
  IdpProcess idp({"--clients", file});
  const json answer = idp.token_response("billing", "billing-secret");
  EXPECT_EQ(answer["scope"], "invoices:read");
  const Response introspect =
      idp.post(kIntrospect, "token=" + answer["access_token"].get<std::string>(),
               basic("introspector", "introspector-secret"));
  const json introspection = json::parse(introspect.body());
  EXPECT_EQ(introspection["aud"], "api://billing");
  EXPECT_EQ(introspection["client_id"], "billing");
  // Given clients replace the built-in demo clients.
  EXPECT_EQ(idp.post(kToken, "grant_type=client_credentials", basic("demo-client", "demo-secret"))
                .result_int(),
            401);
}

TEST(DevIdp, ExampleClientsFileHasTheDemoClients) {
  IdpProcess idp({"--clients", std::string(TOLLGATE_SOURCE_DIR) + "/config/dev-idp.yaml"});
  const json answer = idp.token_response("demo-client", "demo-secret");
  EXPECT_EQ(answer["scope"], "orders:read orders:write");
  EXPECT_EQ(idp.introspection(answer["access_token"])["active"], true);
}

TEST(DevIdp, BadCommandLinesAndClientFilesAreRefused) {
  TempDir dir;
  const std::string bad_file = dir.write("bad.yaml", "clients:\n  - client_id: x\n    secret: y\n");
  const std::vector<std::vector<std::string>> bad = {
      {"--listen", "nowhere"},   {"--threads", "0"},
      {"--token-ttl", "soon"},   {"--tls-cert", "only-cert.pem"},
      {"--client", "no-secret"}, {"--client", "a:s:x", "--client", "a:t:y"},
      {"--clients", bad_file},   {"--clients", dir.path() + "/missing.yaml"},
      {"--frobnicate"},
  };
  for (auto args : bad) {
    args.insert(args.begin(), DEV_IDP_BIN);
    Process idp(args);
    EXPECT_EQ(idp.wait_exit(), 2) << args[1] << ": " << idp.output();
    EXPECT_NE(idp.output().find("dev-idp: "), std::string::npos) << idp.output();
  }
  Process help({DEV_IDP_BIN, "--help"});
  EXPECT_EQ(help.wait_exit(), 0);
  EXPECT_NE(help.output().find("--issuer-base"), std::string::npos);
  EXPECT_NE(help.output().find("development only"), std::string::npos);
}

TEST(DevIdp, ManyThreadsServeConcurrentKeepAliveClientsConsistently) {
  IdpProcess idp({"--threads", "4"});
  const std::string token = idp.token();
  constexpr int kClients = 8;
  constexpr int kCallsEach = 50;
  std::atomic<int> active_answers{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      HttpConnection connection(idp.port());
      for (int i = 0; i < kCallsEach; ++i) {
        const Response response = connection.send(
            form_post(kIntrospect, "token=" + token, basic("gateway", "gateway-secret")));
        if (response.result_int() == 200 && json::parse(response.body())["active"] == true) {
          ++active_answers;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(active_answers.load(), kClients * kCallsEach);
  EXPECT_EQ(idp.stats()["introspect_calls"], kClients * kCallsEach);
}

TEST(DevIdp, StopsCleanlyOnSigterm) {
  IdpProcess idp;
  idp.process().signal(SIGTERM);
  EXPECT_EQ(idp.process().wait_exit(), 0);
}

}  // namespace
}  // namespace tollgate::test
