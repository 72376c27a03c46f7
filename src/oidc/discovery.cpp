#include "discovery.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "tollgate/oidc/http_exchange.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::oidc {
namespace {

constexpr std::size_t kMaxMetadataBytes = 512 * 1024;  // discovery documents are a few KiB

std::string_view without_trailing_slash(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return url;
}

}  // namespace

const std::string& idp_user_agent() {
  static const std::string agent = std::string("tollgate/") + TOLLGATE_VERSION;
  return agent;
}

HttpRequest get_request(const Endpoint& where, std::string_view accept) {
  HttpRequest request{boost::beast::http::verb::get, where.target, 11};
  request.set(boost::beast::http::field::host, where.host_header);
  request.set(boost::beast::http::field::accept, accept);
  request.set(boost::beast::http::field::user_agent, idp_user_agent());
  return request;
}

std::vector<std::string> discovery_urls(std::string_view issuer) {
  const std::string base(without_trailing_slash(issuer));
  return {base + "/.well-known/openid-configuration",
          base + "/.well-known/oauth-authorization-server"};
}

boost::system::result<Endpoint, std::string> endpoint_from_metadata(std::string_view body,
                                                                    std::string_view issuer,
                                                                    std::string_view member) {
  const nlohmann::json metadata = nlohmann::json::parse(body, nullptr, false);
  if (!metadata.is_object()) return std::string("the metadata is not a JSON object");

  auto named_issuer = metadata.find("issuer");
  if (named_issuer == metadata.end() || !named_issuer->is_string() ||
      without_trailing_slash(named_issuer->get_ref<const std::string&>()) !=
          without_trailing_slash(issuer)) {
    return std::string("the metadata names another issuer");
  }

  const std::string name(member);
  auto endpoint_text = metadata.find(name);
  if (endpoint_text == metadata.end() || !endpoint_text->is_string()) {
    return "the metadata has no " + name;
  }
  std::optional<Endpoint> endpoint = parse_endpoint(endpoint_text->get_ref<const std::string&>());
  if (!endpoint) return "the " + name + " is not an absolute http(s) URL";

  const std::optional<Endpoint> issuer_endpoint = parse_endpoint(issuer);
  if (issuer_endpoint && issuer_endpoint->origin.tls && !endpoint->origin.tls) {
    return "the " + name + " would downgrade https to http";
  }
  return *endpoint;
}

awaitable<std::optional<Discovered>> discover_endpoint(asio::any_io_executor executor,
                                                       const std::string& issuer,
                                                       std::string_view member,
                                                       std::chrono::milliseconds timeout,
                                                       std::shared_ptr<ssl::context> tls_context,
                                                       std::string_view label) {
  upstream::PoolOptions options;
  options.max_idle = 1;
  options.connect_timeout = timeout;
  options.tls_context = std::move(tls_context);
  upstream::HttpClientPool pool(executor, parse_endpoint(issuer)->origin, options);
  for (const std::string& url : discovery_urls(issuer)) {
    const std::optional<Endpoint> where = parse_endpoint(url);
    if (!where) continue;
    const HttpRequest request = get_request(*where, "application/json");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpReplyResult reply =
        co_await exchange(pool, request, deadline, kMaxMetadataBytes, /*repeatable=*/true);
    if (!reply || reply->status != 200) {
      spdlog::warn("openid-connect[{}]: discovery of {} from {} failed: {}", label, member, url,
                   reply ? "status " + std::to_string(reply->status) : reply.error().describe());
      continue;
    }
    auto endpoint = endpoint_from_metadata(reply->body, issuer, member);
    if (!endpoint) {
      spdlog::error("openid-connect[{}]: discovery from {} refused: {}", label, url,
                    endpoint.error());
      continue;
    }
    co_return Discovered{std::move(*endpoint), url};
  }
  co_return std::nullopt;
}

}  // namespace tollgate::oidc
