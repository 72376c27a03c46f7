// nginx's side of scenarios b, c and g: the token check of NGINX's OAuth 2.0 introspection recipe
// (auth_request + njs). It asks the IdP through the subrequest location $introspection_location
// (cached or not), lets the request through when the token is active and has $required_scope, and
// hands the token's subject to the upstream: what tollgate's openid-connect plugin does there.

function check(r) {
  r.subrequest(r.variables.introspection_location)
    .then((reply) => {
      if (reply.status !== 200) {
        r.return(503);  // auth_request turns it into 500: never an unverified request through
        return;
      }
      const answer = JSON.parse(reply.responseText);
      if (answer.active !== true) {
        r.return(401);
        return;
      }
      const scopes = typeof answer.scope === "string" ? answer.scope.split(" ") : [];
      if (!scopes.includes(r.variables.required_scope)) {
        r.return(403);
        return;
      }
      r.headersOut["X-Subject"] = typeof answer.sub === "string" ? answer.sub : "";
      r.return(204);
    })
    .catch(() => r.return(503));
}

export default { check };
