#include "tollgate/admin/admin.hpp"

#include <boost/beast/http/string_body.hpp>

namespace tollgate::admin {
namespace {

http::response<http::string_body> respond(const http::request<http::string_body>& request,
                                          const AdminState& state) {
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "tollgate");
  response.set(http::field::content_type, "application/json");
  const auto target = request.target();
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.body() = R"({"message":"Method not allowed"})";
  } else if (target == "/healthz") {
    response.body() = R"({"status":"ok"})";
  } else if (target == "/readyz") {
    const bool ready = state.ready.load(std::memory_order_relaxed);
    if (!ready) response.result(http::status::service_unavailable);
    response.body() = ready ? R"({"status":"ready"})" : R"({"status":"draining"})";
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
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace tollgate::admin
