// An independent OAuth 2.0 authorization server for tollgate's interoperability tests, built on the
// certified `oidc-provider` package: tokens by client credentials, RFC 7662 introspection, RFC 7009
// revocation, opaque access tokens.
//
//   node oidc-provider-server.mjs [--port N] [--access-token-ttl SECONDS]
//
// --port (or env PORT) 0 lets the kernel pick a free port. When the server accepts connections it prints
//   oidc-provider listening on 127.0.0.1:PORT
// on stdout; the issuer is http://127.0.0.1:PORT, the token endpoint /token, introspection
// /token/introspection, revocation /token/revocation, discovery /.well-known/openid-configuration.
//
// Clients:
//   gateway / gateway-secret  the resource server (tollgate): introspects with client_secret_basic
//   app     / app-secret      gets tokens with grant_type=client_credentials, scope "orders:read"
//
// Test-only routes (outside the OAuth surface, loopback only):
//   POST /admin/disable-client/:id  "deactivate the application", like Okta: see disableClient below
//   GET  /admin/stats               {"introspect_calls":N,"token_calls":N}
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';

function readOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '0' },
      'access-token-ttl': { type: 'string', default: '3600' },
    },
  });
  const port = Number(values.port);
  const accessTokenTtl = Number(values['access-token-ttl']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port: "${values.port}" is not a port number (0 picks a free one)`);
  }
  if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 1) {
    throw new Error(`--access-token-ttl: "${values['access-token-ttl']}" is not a positive number of seconds`);
  }
  return { port, accessTokenTtl };
}

// A fresh signing key per run: nothing here is signed that outlives the process, and supplying one
// keeps oidc-provider from using (and warning about) its development-only keys.
function freshSigningKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', alg: 'RS256', use: 'sig' }] };
}

const clients = [
  {
    client_id: 'gateway',
    client_secret: 'gateway-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'app',
    client_secret: 'app-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'orders:read',
  },
];

// oidc-provider has no "deactivate this application" switch, and revocation alone is not the same
// story: Okta's deactivation invalidates every token of the application at once, including tokens the
// caller does not hold. So a disabled client is remembered here and
//  - introspection of any token issued to it answers {"active":false} (features.introspection.allowedPolicy,
//    the library's documented hook, returning false produces exactly the inactive answer), and
//  - the client itself no longer exists for the provider (Client.find answers "not found"), so it gets
//    no new token (401 invalid_client) and cannot authenticate to any endpoint, as with Okta.
// Like Okta, there is no way back: the tokens stay invalid for the life of the process.
const disabledClients = new Set();

function buildProvider(issuer, accessTokenTtl) {
  const provider = new Provider(issuer, {
    clients,
    jwks: freshSigningKeys(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'orders:read'],
    ttl: { ClientCredentials: accessTokenTtl, AccessToken: accessTokenTtl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, caller, token) => !disabledClients.has(token.clientId),
      },
      revocation: { enabled: true },
    },
  });

  const findClient = provider.Client.find.bind(provider.Client);
  provider.Client.find = async (id, ...rest) => (disabledClients.has(id) ? undefined : findClient(id, ...rest));
  return provider;
}

const stats = { introspect_calls: 0, token_calls: 0 };

function countCalls(request) {
  if (request.method !== 'POST') return;
  const path = request.url.split('?', 1)[0];
  if (path === '/token/introspection') stats.introspect_calls += 1;
  else if (path === '/token') stats.token_calls += 1;
}

function sendJson(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

// Answers the test-only routes; false means "not an admin request", for the provider to handle.
function handleAdmin(request, response) {
  const path = request.url.split('?', 1)[0];
  if (!path.startsWith('/admin/')) return false;

  const disable = /^\/admin\/disable-client\/([^/]+)$/.exec(path);
  if (disable && request.method === 'POST') {
    const clientId = decodeURIComponent(disable[1]);
    if (!clients.some((client) => client.client_id === clientId)) {
      sendJson(response, 404, { error: 'unknown client', client_id: clientId });
    } else {
      disabledClients.add(clientId);
      sendJson(response, 200, { client_id: clientId, disabled: true });
    }
  } else if (path === '/admin/stats' && request.method === 'GET') {
    sendJson(response, 200, stats);
  } else {
    sendJson(response, 404, { error: 'not found' });
  }
  return true;
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

async function main() {
  const { port: requestedPort, accessTokenTtl } = readOptions();

  // The issuer must carry the real port, which is only known once bound: bind first, then build the
  // provider. The ready line is printed only after that, so no client talks to it earlier.
  let providerCallback = (request, response) => sendJson(response, 503, { error: 'starting' });
  const server = createServer((request, response) => {
    if (handleAdmin(request, response)) return;
    countCalls(request);
    providerCallback(request, response);
  });
  const port = await listen(server, requestedPort);
  providerCallback = buildProvider(`http://${HOST}:${port}`, accessTokenTtl).callback();

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`oidc-provider listening on ${HOST}:${port}\n`);
}

main().catch((error) => {
  process.stderr.write(`oidc-provider-server: ${error.message}\n`);
  process.exit(1);
});
