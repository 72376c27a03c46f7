// The real IntrospectionClient: RFC 7662 over pooled keep-alive HTTP(S) connections, one pool per
// worker (no locks), with the endpoint configured or discovered from the issuer in the background.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/string_body.hpp>

#include "tollgate/common/asio.hpp"
#include "tollgate/oidc/client_assertion.hpp"
#include "tollgate/oidc/introspection.hpp"
#include "tollgate/oidc/jwks_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {

enum class ClientAuthMethod {
  client_secret_basic,  // Authorization: Basic base64(urlencode(id):urlencode(secret)), nothing in
                        // the body
  client_secret_post,   // client_id and client_secret in the body, no Authorization header
  client_secret_jwt,    // a JWT signed with an HMAC of the secret (RFC 7523), fresh per call
  private_key_jwt,      // a JWT signed with the client's private key, fresh per call
  tls_client_auth,      // a client certificate on the TLS connection, client_id in the body
};

struct ClientSettings {
  std::string issuer;    // discovery base, used when `endpoint` is empty
  std::string endpoint;  // introspection_endpoint
  ClientAuthMethod auth_method = ClientAuthMethod::client_secret_basic;
  std::string client_id;
  std::string client_secret;
  AssertionKey assertion_key;  // client_secret_jwt, private_key_jwt
  // tls_client_auth: the PEM certificate (chain) and private key the TLS client presents.
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  // introspection_accept: application/token-introspection+jwt (RFC 9701): answers are JWTs
  // signed with the issuer's JWKS keys, verified before they count.
  bool signed_answers = false;
  std::string token_type_hint = "access_token";                      // empty: not sent
  std::vector<std::pair<std::string, std::string>> extra_headers;    // introspection_headers_*
  std::vector<std::pair<std::string, std::string>> extra_post_args;  // introspection_post_args_*
  std::chrono::milliseconds timeout{5'000};  // bounds a whole call: connect, send, answer
  std::size_t max_connections = 64;          // open at once to the IdP, per worker; 0 = no bound
  bool ssl_verify = true;
  std::string ca_file;  // empty: the system trust store
};

// An absolute http(s) URL of the IdP, split the way a request needs it.
struct Endpoint {
  upstream::Origin origin;
  std::string target;       // path and query, at least "/"
  std::string host_header;  // host, with ":port" unless the scheme's default
  std::string url;          // as given, for logs and the cache key
};

// nullopt unless `url` is an absolute http or https URL with a host and no user info or fragment.
std::optional<Endpoint> parse_endpoint(std::string_view url);

// application/x-www-form-urlencoded: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" is
// percent-encoded (a space too, as %20).
std::string form_urlencode(std::string_view text);

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Builds introspection requests: everything but the token is prepared once.
class IntrospectionRequestBuilder {
 public:
  IntrospectionRequestBuilder(const Endpoint& endpoint, const ClientSettings& settings);
  // The request for `token`, with `trace`'s traceparent and tracestate unless it is empty.
  HttpRequest build(std::string_view token, const http_io::TraceContext& trace = {}) const;

 private:
  HttpRequest prototype_;    // method, target, headers, credential
  std::string body_suffix_;  // "&token_type_hint=...&client_id=..." after "token=<token>"
  // With a JWT client credential: what signs a fresh assertion into each request.
  std::optional<AssertionKey> assertion_key_;
  std::string client_id_;
  std::string audience_;
};

class HttpIntrospectionClient final : public IntrospectionClient,
                                      public std::enable_shared_from_this<HttpIntrospectionClient> {
 public:
  // `tls_context` is used for every https connection (introspection and discovery). `route_label`
  // names the plugin instance in logs. `keys` verify signed answers (signed_answers); the caller
  // starts and stops them. Throws std::invalid_argument when neither a valid endpoint nor a valid
  // issuer is given, or signed answers without keys (config validation prevents both).
  static std::shared_ptr<HttpIntrospectionClient> create(
      ClientSettings settings, std::shared_ptr<ssl::context> tls_context, std::string label,
      std::shared_ptr<JwksClient> keys = nullptr);
  ~HttpIntrospectionClient() override;

  void start(const filters::StartContext& context) override;
  void stop() override;
  bool ready() const override;
  void release_worker(unsigned worker) override;
  awaitable<IntrospectionResult> introspect(std::string token, unsigned worker,
                                            http_io::TraceContext trace) const override;

  struct State;  // the endpoint and its per-worker pools, published once

 private:
  HttpIntrospectionClient(ClientSettings settings, std::shared_ptr<ssl::context> tls_context,
                          std::string label, std::shared_ptr<JwksClient> keys);
  awaitable<IntrospectionResult> verify_signed_answer(std::string body, unsigned worker) const;

  void publish(const Endpoint& endpoint);
  awaitable<void> discover();

  ClientSettings settings_;
  std::shared_ptr<ssl::context> tls_context_;
  std::string label_;
  std::shared_ptr<JwksClient> keys_;
  std::vector<asio::any_io_executor> executors_;
  std::unique_ptr<State> owned_state_;
  std::atomic<const State*> state_{nullptr};
  std::atomic<bool> stopping_{false};
  std::shared_ptr<asio::steady_timer> retry_timer_;  // discovery backoff, on the first worker
};

}  // namespace tollgate::oidc
