// The whole IdP behind one call: a request in, the Reply out. Routing is exact string matching on
// the path (no regular expressions), since it runs on every introspection call.
#pragma once

#include <vector>

#include "admin_api.hpp"
#include "authorization_server.hpp"
#include "idp_state.hpp"
#include "reply.hpp"

namespace tollgate::dev_idp {

class DevIdp {
 public:
  DevIdp(Settings settings, std::vector<ClientConfig> clients, SigningKey key);

  // Never throws for anything a client sends; unexpected failures become a 500 reply.
  Reply handle(const Request& request);

  // Forgets tokens that can never be active again; called periodically.
  std::size_t purge_dead_tokens();

 private:
  Reply route(const Request& request);
  Reply route_admin(const Request& request, std::string_view path);

  IdpState state_;
  AuthorizationServer server_;
  AdminApi admin_;
};

}  // namespace tollgate::dev_idp
