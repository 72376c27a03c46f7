// Client authentication at the token, introspection and revocation endpoints, with Okta's rules:
// exactly one credential, either HTTP Basic (client_secret_basic) or client_id + client_secret in
// the form body (client_secret_post).
#pragma once

#include <variant>

#include "clients.hpp"
#include "form.hpp"
#include "reply.hpp"

namespace tollgate::dev_idp {

// The authenticated, active client, or the error reply (400 invalid_request for two credentials,
// 401 invalid_client for none, bad or deactivated ones).
std::variant<const Client*, Reply> authenticate_client(const Request& request, const Form& form,
                                                       const ClientRegistry& clients);

// The form of a POST body, or the 400 reply when the content type or the encoding is wrong.
std::variant<Form, Reply> read_form(const Request& request);

}  // namespace tollgate::dev_idp
