#include "idp_client.hpp"

#include <stdexcept>

#include "http_client.hpp"
#include "tollgate/common/hash.hpp"

namespace tollgate::test {
namespace http = boost::beast::http;

namespace {
Response post(std::uint16_t port, const std::string& target, const std::string& body,
              const std::string& content_type, const std::string& authorization = "") {
  std::map<std::string, std::string> headers = {{"Content-Type", content_type}};
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  return http_post(port, target, body, headers);
}

void expect_2xx(const Response& r, const std::string& what) {
  if (r.result_int() / 100 != 2) {
    throw std::runtime_error(what + " failed: " + std::to_string(r.result_int()) + " " + r.body());
  }
}
}  // namespace

std::string fetch_token(std::uint16_t port, const std::string& client_id, const std::string& secret,
                        const std::string& scope, const std::string& token_format) {
  std::string body = "grant_type=client_credentials&scope=" + scope;
  if (!token_format.empty()) body += "&token_format=" + token_format;
  auto r = post(port, "/oauth2/default/v1/token", body, "application/x-www-form-urlencoded",
                "Basic " + base64_encode(client_id + ":" + secret));
  expect_2xx(r, "token request");
  return nlohmann::json::parse(r.body()).at("access_token").get<std::string>();
}

std::string mint_token(std::uint16_t port, const std::string& client_id, const std::string& scope,
                       int ttl_seconds, const std::string& token_format) {
  nlohmann::json body = {{"client_id", client_id}, {"scope", scope}, {"ttl_s", ttl_seconds}};
  if (!token_format.empty()) body["token_format"] = token_format;
  return mint_token(port, body);
}

std::string mint_token(std::uint16_t port, const nlohmann::json& body) {
  auto r = post(port, "/admin/tokens", body.dump(), "application/json");
  expect_2xx(r, "mint token");
  return nlohmann::json::parse(r.body()).at("access_token").get<std::string>();
}

std::string rotate_keys(std::uint16_t port, bool keep_previous) {
  auto r = post(port, "/admin/keys/rotate", nlohmann::json{{"keep_previous", keep_previous}}.dump(),
                "application/json");
  expect_2xx(r, "rotate keys");
  return nlohmann::json::parse(r.body()).at("kid").get<std::string>();
}

int keys_calls(std::uint16_t port) {
  auto r = http_get(port, "/admin/stats");
  expect_2xx(r, "stats");
  return nlohmann::json::parse(r.body()).at("keys_calls").get<int>();
}

int introspect_calls(std::uint16_t port) {
  auto r = http_get(port, "/admin/stats");
  expect_2xx(r, "stats");
  return nlohmann::json::parse(r.body()).at("introspect_calls").get<int>();
}

void set_fault(std::uint16_t port, const nlohmann::json& fault) {
  expect_2xx(post(port, "/admin/faults", fault.dump(), "application/json"), "set fault");
}

void clear_faults(std::uint16_t port) {
  HttpConnection c(port);
  Request req{http::verb::delete_, "/admin/faults", 11};
  expect_2xx(c.send(std::move(req)), "clear faults");
}

void set_client_active(std::uint16_t port, const std::string& client_id, bool active) {
  expect_2xx(post(port, "/admin/clients/" + client_id + (active ? "/activate" : "/deactivate"), "",
                  "application/json"),
             "client state");
}

}  // namespace tollgate::test
