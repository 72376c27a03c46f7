#include "tollgate/filters/openid_connect/factory.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "tollgate/filters/openid_connect/filter.hpp"
#include "tollgate/filters/openid_connect/settings.hpp"
#include "tollgate/oidc/introspection_client.hpp"
#include "tollgate/upstream/http_client_pool.hpp"

namespace tollgate::filters::openid_connect {
namespace {

// The TLS context for every connection to the IdP: its CA, verification, and the client
// certificate of tls_client_auth. Throws with the reason when a file cannot be used.
std::shared_ptr<ssl::context> idp_tls_context(const oidc::ClientSettings& idp) {
  auto context = upstream::make_client_tls_context(idp.ca_file, idp.ssl_verify);
  if (!idp.tls_client_cert_file.empty()) {
    context->use_certificate_chain_file(idp.tls_client_cert_file);
    context->use_private_key_file(idp.tls_client_key_file, ssl::context::pem);
  }
  return context;
}

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
    idp_tls_context(settings.idp);
  } catch (const std::exception& e) {
    const config::Reader ca_file = config["ca_file"];
    const config::Reader cert = config["tls_client_auth_cert_file"];
    (cert.present()      ? cert
     : ca_file.present() ? ca_file
                         : config)
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
  auto tls_context = idp_tls_context(settings.idp);
  const std::string label = instance.empty() ? "openid-connect" : instance;
  // One key set serves both the JWTs validated locally and the signed introspection answers.
  std::shared_ptr<oidc::JwksClient> jwks;
  if (settings.bearer || settings.idp.signed_answers) {
    jwks = oidc::JwksClient::create(settings.jwks, tls_context, label);
  }
  std::shared_ptr<oidc::IntrospectionClient> client;
  if (settings.introspection) {
    client = oidc::HttpIntrospectionClient::create(settings.idp, tls_context, label, jwks);
  }
  return std::make_shared<OpenIdConnectFilter>(instance, settings, std::move(client),
                                               oidc::system_clock(), std::move(jwks));
}

}  // namespace tollgate::filters::openid_connect
