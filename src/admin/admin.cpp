#include "tollgate/admin/admin.hpp"

#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "status_page.hpp"
#include "status_report.hpp"

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

http::response<http::string_body> respond(const http::request<http::string_body>& request,
                                          AdminState& state) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "tollgate");
  response.set(http::field::content_type, "application/json");
  const auto target = path_of(request.target());
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
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
    return response;
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
  return response;
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
    auto response = respond(parser.get(), state);
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
