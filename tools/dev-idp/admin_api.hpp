// The development-only admin API: no authentication, so dev-idp must never listen where anything
// but tests and demos can reach it.
//   POST   /admin/clients/{id}/deactivate | /activate
//   GET    /admin/stats            {"introspect_calls":N,"token_calls":N,"introspect_traces":[..]}
//   POST   /admin/stats/reset
//   GET | POST | DELETE /admin/faults   (faults on introspection calls, see faults.hpp)
//   POST   /admin/tokens           {"client_id":..,"scope":..,"ttl_s":N} mints a token directly
//   POST   /admin/keys/rotate      {"keep_previous":true|false}: a new signing key
#pragma once

#include <string_view>

#include "authorization_server.hpp"
#include "idp_state.hpp"
#include "reply.hpp"

namespace tollgate::dev_idp {

class AdminApi {
 public:
  AdminApi(IdpState& state, AuthorizationServer& server) : state_(state), server_(server) {}

  Reply set_client_active(std::string_view client_id, bool active);
  Reply stats() const;
  Reply reset_stats();
  Reply faults() const;
  Reply set_faults(const Request& request);
  Reply clear_faults();
  Reply mint_token(const Request& request);
  Reply rotate_keys(const Request& request);

 private:
  IdpState& state_;
  AuthorizationServer& server_;
};

}  // namespace tollgate::dev_idp
