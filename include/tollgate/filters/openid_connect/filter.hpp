// The openid-connect filter in introspection mode: find the bearer token, get the IdP's answer
// (cached, single-flight), check the route's policy, and hand the upstream who the caller is.
#pragma once

#include <memory>
#include <string>

#include "tollgate/filters/filter.hpp"
#include "tollgate/filters/openid_connect/settings.hpp"
#include "tollgate/oidc/clock.hpp"
#include "tollgate/oidc/cluster_cache.hpp"
#include "tollgate/oidc/introspection.hpp"
#include "tollgate/oidc/jwks_client.hpp"
#include "tollgate/oidc/jwt_validator.hpp"
#include "tollgate/oidc/token_cache.hpp"
#include "tollgate/oidc/verified_jwt_cache.hpp"

namespace tollgate::filters::openid_connect {

class OpenIdConnectFilter final : public Filter {
 public:
  // `instance` is the plugin instance's name: what its counts go under. `client` may be null when
  // the settings never introspect; `jwks` is null unless they validate JWTs (bearer).
  OpenIdConnectFilter(std::string instance, Settings settings,
                      std::shared_ptr<oidc::IntrospectionClient> client,
                      std::shared_ptr<const oidc::Clock> clock = oidc::system_clock(),
                      std::shared_ptr<oidc::JwksClient> jwks = nullptr);

  void start(const StartContext& context) override;
  void stop() override;
  bool ready() const override;
  void release_worker(unsigned worker) override;
  bool reads_form_body() const override { return settings_.token_locations.body; }
  std::optional<metrics::CacheGauges> cache_gauges() const override;
  std::optional<std::string_view> cluster_cache_state() const override;
  boost::asio::awaitable<std::optional<CachePurgeOutcome>> purge_cache(
      const CachePurge& what, unsigned worker) const override;
  boost::asio::awaitable<Verdict> on_request(RequestContext& context) const override;

  const Settings& settings() const noexcept { return settings_; }
  // nullptr when cache_introspection is off.
  const oidc::TokenCache* cache() const noexcept { return cache_.get(); }
  // nullptr unless cluster_cache_strategy is redis.
  const oidc::ClusterCache* cluster_cache() const noexcept { return cluster_.get(); }

 private:
  // What logs name the instance by.
  std::string label() const;
  oidc::IntrospectionPtr cache_hit(const oidc::CacheKey& key, const std::string& token,
                                   const RequestContext& context) const;
  oidc::IntrospectionPtr resurrect(const oidc::CacheKey& key, const std::string& token,
                                   const oidc::IdpFailure& failure,
                                   const RequestContext& context) const;
  boost::asio::awaitable<oidc::IntrospectionResult> answer_after_miss(
      const oidc::CacheKey& key, const std::string& token, const RequestContext& context,
      metrics::CacheLookup& how) const;
  // The policy, the upstream headers and the count for a request whose token `answer` describes.
  Verdict admit(RequestContext& context, const oidc::Introspection& answer,
                const ExtractedToken& token, metrics::PluginCell& counts) const;
  boost::asio::awaitable<void> refresh_keys() const;
  // A JWT's claims (held by `owner`, or by this worker's cache until its next JWT) or why it is
  // refused.
  struct JwtVerdict {
    oidc::JwtRejection rejection = oidc::JwtRejection::none;
    const oidc::Introspection* claims = nullptr;
    oidc::IntrospectionPtr owner;
  };
  // The claims of the JWT whose SHA-256 is `digest` if this worker verified it under the current
  // keys, else nullptr. A hit is answered without the frame of a further coroutine.
  const oidc::Introspection* verified_before(const Sha256& digest, unsigned worker) const;
  // Verifies a JWT (joining a JWKS refresh for a kid the keys lack); remembers it when valid.
  boost::asio::awaitable<JwtVerdict> verify_jwt(const std::string& token, const Sha256& digest,
                                                unsigned worker) const;
  Verdict invalid_jwt(oidc::JwtRejection rejection, std::string_view token,
                      const RequestContext& context, metrics::PluginCell& counts) const;
  Verdict missing_token(metrics::PluginCell& counts) const;
  Verdict invalid_request(std::string_view description, metrics::PluginCell& counts) const;
  Verdict rejected(const Decision& decision, metrics::PluginCell& counts) const;
  Verdict idp_unavailable(const oidc::IdpFailure& failure, metrics::PluginCell& counts) const;

  std::string instance_;
  Settings settings_;
  // Made by the registry under the instance's name at start (so counts go on when a reload
  // replaces the instance); a private one until then.
  std::shared_ptr<metrics::PluginStats> stats_;
  std::shared_ptr<oidc::IntrospectionClient> client_;
  std::shared_ptr<const oidc::Clock> clock_;
  std::shared_ptr<oidc::JwksClient> jwks_;
  oidc::JwtValidator jwt_;
  std::unique_ptr<oidc::VerifiedJwtCache> verified_;  // with bearer, from start()
  std::shared_ptr<oidc::TokenCache> cache_;
  std::shared_ptr<oidc::ClusterCache> cluster_;
  std::string
      cache_key_endpoint_;      // the configured endpoint, else the issuer it is discovered from
  std::string bare_challenge_;  // Bearer realm="..."
};

}  // namespace tollgate::filters::openid_connect
