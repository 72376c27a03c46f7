#include "tollgate/filters/openid_connect/factory.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "tollgate/filters/openid_connect/filter.hpp"
#include "tollgate/filters/openid_connect/settings.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::filters::openid_connect {
namespace {

struct LoadedSettings final : PluginSettings {
  explicit LoadedSettings(Settings s) : settings(std::move(s)) {}
  std::vector<std::string> request_headers_set() const override {
    return settings.upstream_headers.names();
  }
  Settings settings;
};

}  // namespace

std::shared_ptr<const PluginSettings> parse_plugin_settings(const config::Reader& config) {
  Settings settings = parse_settings(config);
  // The TLS files are checked at load, so a bad ca_file fails `tollgate -t` and a reload; the
  // context itself is made again for the filter that uses it.
  try {
    upstream::make_client_tls_context(settings.idp.ca_file, settings.idp.ssl_verify);
  } catch (const std::exception& e) {
    const config::Reader ca_file = config["ca_file"];
    (ca_file.present() ? ca_file : config)
        .fail(std::string("cannot set up TLS for the identity provider: ") + e.what());
  }
  if (!settings.idp.ssl_verify) {
    spdlog::warn("{}: ssl_verify is false: the identity provider's certificate is not verified",
                 config.key_path());
  }
  return std::make_shared<const LoadedSettings>(std::move(settings));
}

std::shared_ptr<Filter> make_filter(const PluginSettings& plugin_settings,
                                    const std::string& instance) {
  const Settings& settings = dynamic_cast<const LoadedSettings&>(plugin_settings).settings;
  auto tls_context =
      upstream::make_client_tls_context(settings.idp.ca_file, settings.idp.ssl_verify);
  auto client = oidc::HttpIntrospectionClient::create(
      settings.idp, std::move(tls_context), instance.empty() ? "openid-connect" : instance);
  return std::make_shared<OpenIdConnectFilter>(instance, settings, std::move(client));
}

}  // namespace tollgate::filters::openid_connect
