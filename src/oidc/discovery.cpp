#include "discovery.hpp"

#include <nlohmann/json.hpp>

namespace tollgate::oidc {
namespace {

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

}  // namespace tollgate::oidc
