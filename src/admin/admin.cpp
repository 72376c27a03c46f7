#include "tollgate/admin/admin.hpp"

#include <openssl/crypto.h>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "purge_request.hpp"
#include "status_page.hpp"
#include "status_report.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::admin {
namespace {

// Each cluster cache's breaker state by plugin instance: detail only, since Redis never decides
// whether the gateway can serve.
nlohmann::json cluster_cache_detail(const AdminState& state) {
  nlohmann::json detail = nlohmann::json::object();
  if (!state.view) return detail;
  for (const metrics::PluginView& plugin : state.view().plugins) {
    if (plugin.cluster_cache_state) detail[plugin.name] = *plugin.cluster_cache_state;
  }
  return detail;
}

std::string readiness(const AdminState& state, http::response<http::string_body>& response) {
  if (!state.serving.load(std::memory_order_relaxed)) {
    response.result(http::status::service_unavailable);
    return R"({"status":"draining"})";
  }
  const std::vector<std::string> waiting =
      state.waiting_for ? state.waiting_for() : std::vector<std::string>{};
  nlohmann::json body = waiting.empty()
                            ? nlohmann::json{{"status", "ready"}}
                            : nlohmann::json{{"status", "starting"}, {"waiting_for", waiting}};
  if (!waiting.empty()) response.result(http::status::service_unavailable);
  if (nlohmann::json detail = cluster_cache_detail(state); !detail.empty()) {
    body["cluster_cache"] = std::move(detail);
  }
  return body.dump();
}

// The path without its query: a scraper may add parameters (Prometheus' `params`).
std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// Whether the request carries `Authorization: Bearer <token>`. The digests are compared, in
// constant time, so neither the token's bytes nor its length show in how long a refusal takes.
bool bearer_matches(const http::request<http::string_body>& request, const std::string& token) {
  std::string_view credentials = request[http::field::authorization];
  constexpr std::string_view kScheme = "bearer ";
  if (credentials.size() <= kScheme.size() ||
      !boost::algorithm::iequals(credentials.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  credentials.remove_prefix(kScheme.size());
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  const Sha256 given = sha256(credentials);
  const Sha256 expected = sha256(token);
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

bool is_json(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  const std::size_t end = media.find_last_not_of(' ');
  return boost::algorithm::iequals(media.substr(0, end == std::string_view::npos ? 0 : end + 1),
                                   "application/json");
}

void refuse(http::response<http::string_body>& response, http::status status,
            std::string_view message) {
  response.result(status);
  response.body() = nlohmann::json{{"message", message}}.dump();
}

// POST /cache/purge. State-changing, so: an api_token when one is set, wherever the listener is;
// none needed on loopback; refused elsewhere without one. The JSON content type keeps a browser
// page from sending it cross-site without a preflight, which this listener never answers.
awaitable<void> purge(const http::request<http::string_body>& request, AdminState& state,
                      http::response<http::string_body>& response) {
  const std::string token = state.api_token ? state.api_token() : std::string();
  if (!token.empty()) {
    if (!bearer_matches(request, token)) {
      response.set(http::field::www_authenticate, R"(Bearer realm="tollgate admin")");
      refuse(response, http::status::unauthorized,
             "this endpoint needs Authorization: Bearer <admin.api_token>");
      co_return;
    }
  } else if (!state.loopback) {
    refuse(response, http::status::forbidden,
           "cache purges are refused on an admin listener that is not on loopback unless "
           "admin.api_token is set");
    co_return;
  }
  if (!is_json(request[http::field::content_type])) {
    refuse(response, http::status::unsupported_media_type,
           "send the body with Content-Type: application/json");
    co_return;
  }
  const auto parsed = parse_purge_request(request.body());
  if (!parsed) {
    refuse(response, http::status::bad_request, parsed.error());
    co_return;
  }
  if (!state.purge) {
    refuse(response, http::status::service_unavailable, "not serving yet");
    co_return;
  }
  const std::vector<InstancePurge> purged = co_await state.purge(parsed->what, parsed->plugin);
  if (!parsed->plugin.empty() && purged.empty()) {
    refuse(response, http::status::not_found,
           "no plugin instance named \"" + parsed->plugin + "\" keeps a cache");
    co_return;
  }
  std::size_t total = 0;
  std::string failed;
  nlohmann::ordered_json plugins = nlohmann::ordered_json::object();
  for (const InstancePurge& instance : purged) {
    const filters::CachePurgeOutcome& outcome = instance.outcome;
    total += outcome.local + outcome.redis;
    nlohmann::ordered_json row = {{"local", outcome.local}, {"redis", nullptr}};
    if (outcome.clustered) {
      row["redis"] = outcome.redis;
      row["subscribers"] = outcome.redis_error.empty() ? nlohmann::ordered_json(outcome.subscribers)
                                                       : nlohmann::ordered_json(nullptr);
    }
    if (!outcome.redis_error.empty()) {
      row["error"] = outcome.redis_error;
      if (failed.empty()) failed = instance.name;
    }
    plugins[instance.name] = std::move(row);
  }
  nlohmann::ordered_json body = {{"purged", total}, {"plugins", std::move(plugins)}};
  if (!failed.empty()) {
    // Done here, not everywhere: an operator's script must not take it for success.
    response.result(http::status::service_unavailable);
    body["message"] =
        "purged in this process, but Redis could not be purged or told (" + failed +
        "): other replicas still hold what they cached; purge again once Redis answers";
  }
  response.body() = body.dump();
}

awaitable<http::response<http::string_body>> respond(
    const http::request<http::string_body>& request, AdminState& state) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "tollgate");
  response.set(http::field::content_type, "application/json");
  const auto target = path_of(request.target());
  if (target == "/cache/purge") {
    if (request.method() != http::verb::post) {
      response.set(http::field::allow, "POST");
      refuse(response, http::status::method_not_allowed, "Method not allowed");
    } else {
      co_await purge(request, state, response);
    }
  } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.set(http::field::allow, "GET, HEAD");
    response.result(http::status::method_not_allowed);
    response.body() = R"({"message":"Method not allowed"})";
  } else if (target == "/") {
    serve_status_page(response);
  } else if (target == "/healthz") {
    response.body() = R"({"status":"ok"})";
  } else if (target == "/readyz") {
    response.body() = readiness(state, response);
  } else if (target == "/metrics" && state.view) {
    const metrics::Format format = metrics::format_for(request[http::field::accept]);
    response.set(http::field::content_type, metrics::content_type_of(format));
    response.body() = metrics::render(state.view(), format, TOLLGATE_VERSION);
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    co_return response;
  } else if (target == "/status.json" && state.view) {
    response.set(http::field::cache_control, "no-cache");
    response.body() = state.status->render(state.view(), state.config_path, TOLLGATE_VERSION);
  } else {
    response.result(http::status::not_found);
    response.body() = R"({"message":"Not found"})";
  }
  response.body() += "\n";
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  co_return response;
}

}  // namespace

AdminState::AdminState() : status(std::make_unique<StatusReport>()) {}
AdminState::~AdminState() = default;

awaitable<void> run_admin_session(tcp::socket socket, AdminState& state) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(8 * 1024);
    error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    auto response = co_await respond(parser.get(), state);
    stream.expires_after(std::chrono::seconds(10));
    if (parser.get().method() == http::verb::head) {
      // The length a GET would get, and no body (RFC 9110 §9.3.2): a kept-alive client would
      // read the body as the start of its next response.
      http::response_serializer<http::string_body> serializer{response};
      co_await http::async_write_header(stream, serializer,
                                        asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || !response.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace tollgate::admin
