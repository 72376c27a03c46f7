#include "tollgate/admin/admin.hpp"

#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "status_page.hpp"

namespace tollgate::admin {
namespace {

std::string readiness(const AdminState& state, http::response<http::string_body>& response) {
  if (!state.serving.load(std::memory_order_relaxed)) {
    response.result(http::status::service_unavailable);
    return R"({"status":"draining"})";
  }
  const std::vector<std::string> waiting =
      state.waiting_for ? state.waiting_for() : std::vector<std::string>{};
  if (waiting.empty()) return R"({"status":"ready"})";
  response.result(http::status::service_unavailable);
  return nlohmann::json{{"status", "starting"}, {"waiting_for", waiting}}.dump();
}

http::response<http::string_body> respond(const http::request<http::string_body>& request,
                                          const AdminState& state) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "tollgate");
  response.set(http::field::content_type, "application/json");
  const auto target = request.target();
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.body() = R"({"message":"Method not allowed"})";
  } else if (target == "/") {
    serve_status_page(response);
  } else if (target == "/healthz") {
    response.body() = R"({"status":"ok"})";
  } else if (target == "/readyz") {
    response.body() = readiness(state, response);
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

awaitable<void> run_admin_session(tcp::socket socket, const AdminState& state) {
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
