#include "dev_idp.hpp"

#include <exception>

#include <spdlog/spdlog.h>
#include <boost/beast/http/field.hpp>

#include "form.hpp"

namespace tollgate::dev_idp {
namespace {

constexpr std::string_view kAuthServerPrefix = "/oauth2/default";
constexpr std::string_view kAdminPrefix = "/admin";
constexpr std::string_view kClientsPrefix = "/clients/";

Reply not_found() {
  return error_reply(http::status::not_found, "not_found", "There is no resource at this path.");
}

Reply method_not_allowed(std::string_view allowed) {
  Reply reply = error_reply(http::status::method_not_allowed, "invalid_request",
                            "This method is not allowed on this resource.");
  reply.response.set(http::field::allow, allowed);
  return reply;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool consume_prefix(std::string_view& path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return false;
  path.remove_prefix(prefix.size());
  return true;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DevIdp::DevIdp(Settings settings, std::vector<ClientConfig> clients, SigningKey key)
    : state_(std::move(settings), std::move(clients), std::move(key)),
      server_(state_),
      admin_(state_, server_) {}

Reply DevIdp::handle(const Request& request) {
  try {
    return route(request);
  } catch (const std::exception& e) {
    spdlog::error("request failed: {}", e.what());
    return error_reply(http::status::internal_server_error, "server_error",
                       "The request could not be handled.");
  }
}

std::size_t DevIdp::purge_dead_tokens() {
  return state_.tokens.purge(now_seconds());
}

Reply DevIdp::route(const Request& request) {
  std::string_view path = path_of(request.target());
  const http::verb method = request.method();

  if (consume_prefix(path, kAuthServerPrefix)) {
    if (path == "/.well-known/openid-configuration" ||
        path == "/.well-known/oauth-authorization-server") {
      return method == http::verb::get ? server_.discovery() : method_not_allowed("GET");
    }
    if (path == "/v1/keys")
      return method == http::verb::get ? server_.keys() : method_not_allowed("GET");
    if (path == "/v1/token") {
      return method == http::verb::post ? server_.token(request) : method_not_allowed("POST");
    }
    if (path == "/v1/introspect") {
      return method == http::verb::post ? server_.introspect(request) : method_not_allowed("POST");
    }
    if (path == "/v1/revoke") {
      return method == http::verb::post ? server_.revoke(request) : method_not_allowed("POST");
    }
    if (path == "/v1/authorize") return server_.authorize();
    return not_found();
  }
  if (consume_prefix(path, kAdminPrefix)) return route_admin(request, path);
  return not_found();
}

Reply DevIdp::route_admin(const Request& request, std::string_view path) {
  const http::verb method = request.method();
  if (path == "/stats")
    return method == http::verb::get ? admin_.stats() : method_not_allowed("GET");
  if (path == "/stats/reset") {
    return method == http::verb::post ? admin_.reset_stats() : method_not_allowed("POST");
  }
  if (path == "/faults") {
    switch (method) {
      case http::verb::get:
        return admin_.faults();
      case http::verb::post:
        return admin_.set_faults(request);
      case http::verb::delete_:
        return admin_.clear_faults();
      default:
        return method_not_allowed("GET, POST, DELETE");
    }
  }
  if (path == "/tokens") {
    return method == http::verb::post ? admin_.mint_token(request) : method_not_allowed("POST");
  }
  if (path == "/keys/rotate") {
    return method == http::verb::post ? admin_.rotate_keys(request) : method_not_allowed("POST");
  }
  if (consume_prefix(path, kClientsPrefix)) {
    // /admin/clients/{id}/deactivate | /activate, with the id percent-decoded.
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) return not_found();
    const std::string_view action = path.substr(slash + 1);
    if (action != "deactivate" && action != "activate") return not_found();
    const auto client_id = path_decode(path.substr(0, slash));
    if (!client_id || client_id->empty()) return not_found();
    if (method != http::verb::post) return method_not_allowed("POST");
    return admin_.set_client_active(*client_id, action == "activate");
  }
  return not_found();
}

}  // namespace tollgate::dev_idp
