#include "tollgate/filters/openid_connect/factory.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "tollgate/filters/openid_connect/filter.hpp"
#include "tollgate/filters/openid_connect/settings.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::filters::openid_connect {
namespace {

// "plugins.okta.config" → "okta": how logs name this plugin instance.
std::string instance_label(const std::string& key_path) {
  std::string label = key_path;
  constexpr std::string_view kSuffix = ".config";
  if (label.size() > kSuffix.size() && label.ends_with(kSuffix)) {
    label.resize(label.size() - kSuffix.size());
  }
  if (const std::size_t dot = label.rfind('.'); dot != std::string::npos) label.erase(0, dot + 1);
  return label.empty() ? "openid-connect" : label;
}

}  // namespace

std::shared_ptr<const Filter> make_filter(const config::Reader& config) {
  Settings settings = parse_settings(config);

  std::shared_ptr<ssl::context> tls_context;
  try {
    tls_context = upstream::make_client_tls_context(settings.idp.ca_file, settings.idp.ssl_verify);
  } catch (const std::exception& e) {
    const config::Reader ca_file = config["ca_file"];
    (ca_file.present() ? ca_file : config)
        .fail(std::string("cannot set up TLS for the identity provider: ") + e.what());
  }
  if (!settings.idp.ssl_verify) {
    spdlog::warn("{}: ssl_verify is false: the identity provider's certificate is not verified",
                 config.key_path());
  }

  auto client = oidc::HttpIntrospectionClient::create(settings.idp, std::move(tls_context),
                                                      instance_label(config.key_path()));
  return std::make_shared<OpenIdConnectFilter>(std::move(settings), std::move(client));
}

}  // namespace tollgate::filters::openid_connect
