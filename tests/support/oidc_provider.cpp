#include "oidc_provider.hpp"

#include <filesystem>
#include <stdexcept>

#include "tollgate/common/hash.hpp"
#include "tollgate/oidc/introspection_client.hpp"

namespace tollgate::test {
namespace http = boost::beast::http;

namespace {

const std::string kInteropDir = std::string(TOLLGATE_SOURCE_DIR) + "/tests/interop";

void expect_2xx(const Response& r, const std::string& what) {
  if (r.result_int() / 100 != 2) {
    throw std::runtime_error(what + " failed: " + std::to_string(r.result_int()) + " " + r.body());
  }
}

}  // namespace

OidcProvider start_oidc_provider(std::vector<std::string> extra) {
  // Installed by scripts/test.sh (npm ci).
  if (!std::filesystem::exists(kInteropDir + "/node_modules/oidc-provider")) {
    throw std::runtime_error("oidc-provider is not installed: run `npm ci` in tests/interop");
  }
  std::vector<std::string> argv{"/usr/bin/env", "node", kInteropDir + "/oidc-provider-server.mjs",
                                "--port", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  OidcProvider s;
  s.process = std::make_unique<Process>(argv);
  s.port = static_cast<std::uint16_t>(
      std::stoi(s.process->wait_for_line(R"(oidc-provider listening on 127\.0\.0\.1:(\d+))")));
  return s;
}

Response form_post(std::uint16_t port, const std::string& target, const std::string& body,
                   const std::string& client, const std::string& secret,
                   const std::map<std::string, std::string>& headers) {
  HttpConnection c(port);
  Request req{http::verb::post, target, 11};
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::authorization, "Basic " + base64_encode(client + ":" + secret));
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  return c.send(std::move(req));
}

std::string oidc_provider_token(std::uint16_t port, const std::string& resource) {
  std::string body = "grant_type=client_credentials&scope=orders%3Aread";
  if (!resource.empty()) body += "&resource=" + oidc::form_urlencode(resource);
  auto r = form_post(port, "/token", body, "app", "app-secret");
  expect_2xx(r, "token request");
  return nlohmann::json::parse(r.body()).at("access_token").get<std::string>();
}

Response revoke_at_oidc_provider(std::uint16_t port, const std::string& token) {
  return form_post(port, "/token/revocation", "token=" + token, "app", "app-secret");
}

int oidc_provider_stat(std::uint16_t port, const std::string& counter) {
  auto r = http_get(port, "/admin/stats");
  expect_2xx(r, "stats");
  return nlohmann::json::parse(r.body()).at(counter).get<int>();
}

nlohmann::json oidc_provider_admin(std::uint16_t port, const std::string& action) {
  HttpConnection c(port);
  auto r = c.send(Request{http::verb::post, "/admin/" + action, 11});
  expect_2xx(r, action);
  return nlohmann::json::parse(r.body());
}

}  // namespace tollgate::test
