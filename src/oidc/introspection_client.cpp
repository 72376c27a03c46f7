#include "tollgate/oidc/introspection_client.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include "discovery.hpp"
#include "tollgate/common/hash.hpp"
#include "tollgate/oidc/http_exchange.hpp"
#include "tollgate/oidc/signed_introspection.hpp"

namespace tollgate::oidc {
namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;  // Okta's answers are around 1 KiB
// Idle connections kept per worker: as many as the calls a worker has in flight at once under
// load, or every wave of calls beyond it pays a new TCP (and TLS) handshake with the IdP.
constexpr std::size_t kIdlePerWorker = 256;
constexpr std::chrono::seconds kPooledIdleTimeout{30};
// Calls that wait, per worker, for one of max_connections to come free (each for at most the
// call's timeout); more get 503 at once.
constexpr std::size_t kQueuedCallsPerWorker = 1024;
constexpr std::chrono::seconds kFirstDiscoveryRetry{1};
constexpr std::chrono::seconds kMaxDiscoveryRetry{60};

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void append_form_pair(std::string& body, std::string_view name, std::string_view value) {
  if (!body.empty()) body += '&';
  body += form_urlencode(name);
  body += '=';
  body += form_urlencode(value);
}

}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::nullopt;
  const boost::urls::url_view& view = *parsed;
  const bool https = view.scheme_id() == boost::urls::scheme::https;
  if (!https && view.scheme_id() != boost::urls::scheme::http) return std::nullopt;
  if (!view.has_authority() || view.has_userinfo() || view.has_fragment()) return std::nullopt;
  if (view.encoded_host().empty()) return std::nullopt;
  if (view.has_port() && view.port_number() == 0) return std::nullopt;

  Endpoint endpoint;
  endpoint.origin.tls = https;
  endpoint.origin.host = view.host_address();
  endpoint.origin.port = view.has_port() ? view.port_number() : (https ? 443 : 80);
  endpoint.target = view.encoded_path().empty() ? "/" : std::string(view.encoded_path());
  if (view.has_query()) endpoint.target += "?" + std::string(view.encoded_query());
  endpoint.host_header = std::string(view.encoded_host());
  const bool default_port = endpoint.origin.port == (https ? 443 : 80);
  if (!default_port) endpoint.host_header += ":" + std::to_string(endpoint.origin.port);
  endpoint.url = std::string(url);
  return endpoint;
}

std::string form_urlencode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

IntrospectionRequestBuilder::IntrospectionRequestBuilder(const Endpoint& endpoint,
                                                         const ClientSettings& settings) {
  prototype_.method(http::verb::post);
  prototype_.target(endpoint.target);
  prototype_.version(11);
  prototype_.set(http::field::host, endpoint.host_header);
  prototype_.set(http::field::content_type, "application/x-www-form-urlencoded");
  prototype_.set(http::field::accept,
                 settings.signed_answers ? kSignedIntrospectionType : "application/json");
  prototype_.set(http::field::user_agent, idp_user_agent());
  for (const auto& [name, value] : settings.extra_headers) prototype_.set(name, value);

  // Exactly one client credential: two make Okta refuse every call (lua-resty-openidc #556).
  std::string suffix;
  if (!settings.token_type_hint.empty()) {
    append_form_pair(suffix, "token_type_hint", settings.token_type_hint);
  }
  switch (settings.auth_method) {
    case ClientAuthMethod::client_secret_basic:
      // RFC 6749 §2.3.1: both parts form-encoded before base64.
      prototype_.set(http::field::authorization,
                     "Basic " + base64_encode(form_urlencode(settings.client_id) + ":" +
                                              form_urlencode(settings.client_secret)));
      break;
    case ClientAuthMethod::client_secret_post:
      append_form_pair(suffix, "client_id", settings.client_id);
      append_form_pair(suffix, "client_secret", settings.client_secret);
      break;
    case ClientAuthMethod::client_secret_jwt:
    case ClientAuthMethod::private_key_jwt:
      // The assertion names the client; it is signed anew for each request in build().
      append_form_pair(suffix, "client_assertion_type", kJwtBearerAssertionType);
      assertion_key_ = settings.assertion_key;
      client_id_ = settings.client_id;
      audience_ = endpoint.url;
      break;
    case ClientAuthMethod::tls_client_auth:
      // RFC 8705 §2: the certificate authenticates; client_id says which client it is.
      append_form_pair(suffix, "client_id", settings.client_id);
      break;
  }
  for (const auto& [name, value] : settings.extra_post_args) append_form_pair(suffix, name, value);
  body_suffix_ = suffix.empty() ? suffix : "&" + suffix;
}

HttpRequest IntrospectionRequestBuilder::build(std::string_view token,
                                               const http_io::TraceContext& trace) const {
  HttpRequest request = prototype_;
  if (!trace.empty()) trace.apply(request);
  std::string& body = request.body();
  body.reserve(6 + token.size() + body_suffix_.size());
  body = "token=";
  body += form_urlencode(token);
  body += body_suffix_;
  if (assertion_key_) {
    body += "&client_assertion=";
    body += make_client_assertion(*assertion_key_, client_id_, audience_,
                                  std::chrono::system_clock::now());
  }
  request.prepare_payload();
  return request;
}

struct HttpIntrospectionClient::State {
  Endpoint endpoint;
  IntrospectionRequestBuilder builder;
  // Indexed by worker; each touched only on its worker's thread. A call holds its own reference,
  // so a pool released while calls on it run is freed by the last of them, on that thread.
  std::vector<std::shared_ptr<upstream::HttpClientPool>> pools;
};

std::shared_ptr<HttpIntrospectionClient> HttpIntrospectionClient::create(
    ClientSettings settings, std::shared_ptr<ssl::context> tls_context, std::string label,
    std::shared_ptr<JwksClient> keys) {
  if (settings.signed_answers && !keys) {
    throw std::invalid_argument("openid-connect: signed introspection answers need the JWKS");
  }
  const bool endpoint_ok = !settings.endpoint.empty() && parse_endpoint(settings.endpoint);
  const bool issuer_ok = !settings.issuer.empty() && parse_endpoint(settings.issuer);
  if (!endpoint_ok && !(settings.endpoint.empty() && issuer_ok)) {
    throw std::invalid_argument("openid-connect: no valid introspection endpoint or issuer");
  }
  return std::shared_ptr<HttpIntrospectionClient>(new HttpIntrospectionClient(
      std::move(settings), std::move(tls_context), std::move(label), std::move(keys)));
}

HttpIntrospectionClient::HttpIntrospectionClient(ClientSettings settings,
                                                 std::shared_ptr<ssl::context> tls_context,
                                                 std::string label,
                                                 std::shared_ptr<JwksClient> keys)
    : settings_(std::move(settings)),
      tls_context_(std::move(tls_context)),
      label_(std::move(label)),
      keys_(std::move(keys)) {}

HttpIntrospectionClient::~HttpIntrospectionClient() = default;

void HttpIntrospectionClient::start(const filters::StartContext& context) {
  if (!executors_.empty() || context.worker_executors.empty()) return;  // started already
  executors_ = context.worker_executors;
  if (!settings_.endpoint.empty()) {
    publish(*parse_endpoint(settings_.endpoint));
    return;
  }
  retry_timer_ = std::make_shared<asio::steady_timer>(executors_.front());
  asio::co_spawn(executors_.front(), discover(), asio::detached);
}

void HttpIntrospectionClient::stop() {
  stopping_ = true;
  if (retry_timer_) {
    asio::post(executors_.front(), [timer = retry_timer_] { timer->cancel(); });
  }
}

void HttpIntrospectionClient::release_worker(unsigned worker) {
  // The runtime stops the client before any worker releases it, so discovery publishes nothing
  // later, but for one that was finishing at that moment: its pools never served a request and
  // hold no socket.
  const State* state = state_.load(std::memory_order_acquire);
  if (state != nullptr && worker < state->pools.size()) {
    const_cast<State*>(state)->pools[worker].reset();
  }
}

bool HttpIntrospectionClient::ready() const {
  return state_.load(std::memory_order_acquire) != nullptr;
}

void HttpIntrospectionClient::publish(const Endpoint& endpoint) {
  upstream::PoolOptions options;
  options.max_idle = kIdlePerWorker;
  options.max_connections = settings_.max_connections;
  options.max_waiting = kQueuedCallsPerWorker;
  options.connect_timeout = settings_.timeout;
  options.idle_timeout = kPooledIdleTimeout;
  options.tls_context = tls_context_;

  auto state = std::make_unique<State>(
      State{endpoint, IntrospectionRequestBuilder(endpoint, settings_), {}});
  for (const asio::any_io_executor& executor : executors_) {
    state->pools.push_back(
        std::make_shared<upstream::HttpClientPool>(executor, endpoint.origin, options));
  }
  if (endpoint.origin.tls && !settings_.ssl_verify) {
    spdlog::warn("openid-connect[{}]: ssl_verify is off: the IdP's certificate is not checked",
                 label_);
  }
  owned_state_ = std::move(state);
  state_.store(owned_state_.get(), std::memory_order_release);
}

awaitable<IntrospectionResult> HttpIntrospectionClient::introspect(
    std::string token, unsigned worker, http_io::TraceContext trace) const {
  const State* state = state_.load(std::memory_order_acquire);
  if (state == nullptr) co_return IdpFailure(IdpFailureKind::not_ready);
  if (worker >= state->pools.size()) co_return IdpFailure(IdpFailureKind::internal);

  const std::shared_ptr<upstream::HttpClientPool> pool = state->pools[worker];
  if (!pool) co_return IdpFailure(IdpFailureKind::not_ready);  // released: the instance is gone

  const HttpRequest request = state->builder.build(token, trace);
  const auto deadline = std::chrono::steady_clock::now() + settings_.timeout;
  // RFC 7662: introspection only reads, so the POST may go twice.
  HttpReplyResult reply =
      co_await exchange(*pool, request, deadline, kMaxAnswerBytes, /*repeatable=*/true);
  if (!reply) co_return reply.error();
  if (settings_.signed_answers && reply->status == 200) {
    co_return co_await verify_signed_answer(std::move(reply->body), worker);
  }
  co_return parse_introspection_response(reply->status, reply->retry_after, std::move(reply->body),
                                         std::chrono::system_clock::now());
}

awaitable<IntrospectionResult> HttpIntrospectionClient::verify_signed_answer(
    std::string body, unsigned worker) const {
  SignedAnswerOutcome outcome =
      parse_signed_introspection(body, keys_->keys(worker), settings_.issuer, settings_.client_id,
                                 std::chrono::system_clock::now());
  if (outcome.unknown_key) {  // the IdP rotated its keys: one fetch (shared), then once more
    co_await keys_->refresh_for_unknown_kid();
    outcome = parse_signed_introspection(body, keys_->keys(worker), settings_.issuer,
                                         settings_.client_id, std::chrono::system_clock::now());
  }
  if (!outcome.result) {
    spdlog::warn("openid-connect[{}]: a signed introspection answer failed verification", label_);
  }
  co_return std::move(outcome.result);
}

awaitable<void> HttpIntrospectionClient::discover() {
  const std::shared_ptr<HttpIntrospectionClient> self = shared_from_this();
  std::chrono::seconds backoff = kFirstDiscoveryRetry;
  while (!stopping_) {
    const std::optional<Discovered> found =
        co_await discover_endpoint(executors_.front(), settings_.issuer, "introspection_endpoint",
                                   settings_.timeout, tls_context_, label_);
    if (stopping_) co_return;
    if (found) {
      publish(found->endpoint);
      spdlog::info("openid-connect[{}]: introspection endpoint {} discovered from {}", label_,
                   found->endpoint.url, found->document_url);
      co_return;
    }
    spdlog::warn(
        "openid-connect[{}]: discovery found nothing usable yet, requests get 503; retrying "
        "in {}s",
        label_, backoff.count());
    retry_timer_->expires_after(backoff);
    co_await retry_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, kMaxDiscoveryRetry);
  }
}

}  // namespace tollgate::oidc
