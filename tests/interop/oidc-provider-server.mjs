// An independent OAuth 2.0 authorization server for tollgate's interoperability tests, built on the
// certified `oidc-provider` package: tokens by client credentials (opaque, or JWT access tokens for a
// resource indicator), RFC 7662 introspection (plain or RFC 9701 signed answers), RFC 7009
// revocation, client authentication with a secret, client_secret_jwt or private_key_jwt, and signing
// keys that rotate on demand.
//
//   node oidc-provider-server.mjs [--port N] [--access-token-ttl SECONDS] [--gateway-jwks FILE]
//
// --port (or env PORT) 0 lets the kernel pick a free port. When the server accepts connections it prints
//   oidc-provider listening on 127.0.0.1:PORT
// on stdout; the issuer is http://127.0.0.1:PORT, the token endpoint /token, introspection
// /token/introspection, revocation /token/revocation, the signing keys /jwks, discovery
// /.well-known/openid-configuration.
// --gateway-jwks FILE: a JWKS ({"keys":[...]}, public keys) for the client gateway-jwt, whose private
//   key the gateway holds. Without it that client does not exist.
//
// Clients (each introspects, except app):
//   gateway        / gateway-secret   client_secret_basic
//   gateway-hs     / hsSecret below   client_secret_jwt (HS256 with the secret)
//   gateway-jwt                       private_key_jwt, keys from --gateway-jwks
//   gateway-signed / gateway-secret   client_secret_basic, registered for RS256-signed introspection
//                                     answers (RFC 9701), sent when it asks with Accept:
//                                     application/token-introspection+jwt. RS256 is also
//                                     oidc-provider's default: any client that asks gets one.
//   app            / app-secret       gets tokens with grant_type=client_credentials, scope
//                                     "orders:read"; opaque without a resource, a JWT (typ at+jwt)
//                                     with resource=https://orders.example.test or
//                                     https://billing.example.test (aud = the resource)
//
// Test-only routes (outside the OAuth surface, loopback only):
//   POST /admin/disable-client/:id  "deactivate the application", like Okta: see disableClient below
//   POST /admin/keys/rotate         a new signing key in front of the others: {"kid":..., "kids":[...]}
//   POST /admin/keys/retire         drops every signing key but the newest: {"kids":[...]}
//   GET  /admin/stats               {"introspect_calls":N,"token_calls":N,"jwks_calls":N}
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';
// The library's own in-memory adapter, reached by path (the package has no export map): see
// sharedStorage below.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const HOST = '127.0.0.1';

function readOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '0' },
      'access-token-ttl': { type: 'string', default: '3600' },
      'gateway-jwks': { type: 'string' },
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
  let gatewayJwks;
  if (values['gateway-jwks'] !== undefined) {
    gatewayJwks = JSON.parse(readFileSync(values['gateway-jwks'], 'utf8'));
    if (!Array.isArray(gatewayJwks?.keys) || gatewayJwks.keys.length === 0) {
      throw new Error(`--gateway-jwks: "${values['gateway-jwks']}" holds no {"keys":[...]}`);
    }
  }
  return { port, accessTokenTtl, gatewayJwks };
}

// The provider's signing keys, newest first: oidc-provider signs with the first key that fits, and
// publishes all of them at /jwks. Fresh per run: nothing here is signed that outlives the process,
// and supplying keys keeps oidc-provider from using (and warning about) its development-only ones.
const signingKeys = [];
let keysMade = 0;

function newSigningKey() {
  keysMade += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `interop-rs256-${keysMade}`, alg: 'RS256', use: 'sig' };
}

// client_secret_jwt signs with an HMAC of the secret: at least 32 bytes for HS256 (RFC 7518 §3.2).
const hsSecret = 'gateway-hs-secret-of-at-least-32-bytes';

function clientsFor(gatewayJwks) {
  const introspector = { grant_types: [], response_types: [], redirect_uris: [] };
  const clients = [
    { ...introspector, client_id: 'gateway', client_secret: 'gateway-secret', token_endpoint_auth_method: 'client_secret_basic' },
    { ...introspector, client_id: 'gateway-hs', client_secret: hsSecret, token_endpoint_auth_method: 'client_secret_jwt' },
    {
      ...introspector,
      client_id: 'gateway-signed',
      client_secret: 'gateway-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      introspection_signed_response_alg: 'RS256',
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
  if (gatewayJwks) {
    clients.push({ ...introspector, client_id: 'gateway-jwt', token_endpoint_auth_method: 'private_key_jwt', jwks: gatewayJwks });
  }
  return clients;
}

// Two APIs that both know the scope orders:read, so only the audience tells their tokens apart.
// A token requested with one of them as `resource` is a JWT for it; one without stays opaque.
const resourceServers = new Map(
  ['https://orders.example.test', 'https://billing.example.test'].map((api) => [
    api,
    { audience: api, scope: 'orders:read', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  ]),
);

async function getResourceServerInfo(ctx, resourceIndicator) {
  const info = resourceServers.get(resourceIndicator);
  if (!info) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
  return info;
}

// oidc-provider has no "deactivate this application" switch, and revocation alone is not the same
// story: Okta's deactivation invalidates every token of the application at once, including tokens the
// caller does not hold. So a disabled client is remembered here and
//  - introspection of any token issued to it answers {"active":false} (features.introspection.allowedPolicy,
//    the library's documented hook, returning false produces exactly the inactive answer), and
//  - the client itself no longer exists for the provider (Client.find answers "not found"), so it gets
//    no new token (401 invalid_client) and cannot authenticate to any endpoint, as with Okta.
// Like Okta, there is no way back: the tokens stay invalid for the life of the process.
const disabledClients = new Set();

// A Provider's keys are fixed when it is built, so a key rotation builds a new one (installProvider
// below), and tokens must outlive that. Left to its default, each Provider gets a memory store of
// its own (lib/helpers/initialize_adapter.js); a MemoryAdapter made without a store uses one kept at
// module level instead, shared by every Provider in this process.
const sharedStorage = (model) => new MemoryAdapter(model);

function buildProvider(issuer, { accessTokenTtl, gatewayJwks }) {
  const provider = new Provider(issuer, {
    adapter: sharedStorage,
    clients: clientsFor(gatewayJwks),
    jwks: { keys: signingKeys },
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
      jwtIntrospection: { enabled: true },
      resourceIndicators: { enabled: true, getResourceServerInfo },
      revocation: { enabled: true },
    },
  });

  const findClient = provider.Client.find.bind(provider.Client);
  provider.Client.find = async (id, ...rest) => (disabledClients.has(id) ? undefined : findClient(id, ...rest));
  return provider;
}

// The provider in service; a rotation replaces it with one built over the changed signingKeys.
const current = { issuer: undefined, options: undefined, callback: undefined };

function installProvider() {
  current.callback = buildProvider(current.issuer, current.options).callback();
}

function rotateKeys() {
  signingKeys.unshift(newSigningKey());
  installProvider();
  return { kid: signingKeys[0].kid, kids: signingKeys.map((key) => key.kid) };
}

function retireOldKeys() {
  signingKeys.splice(1);
  installProvider();
  return { kids: signingKeys.map((key) => key.kid) };
}

const stats = { introspect_calls: 0, token_calls: 0, jwks_calls: 0 };

function countCalls(request) {
  const path = request.url.split('?', 1)[0];
  if (request.method === 'GET' && path === '/jwks') stats.jwks_calls += 1;
  if (request.method !== 'POST') return;
  if (path === '/token/introspection') stats.introspect_calls += 1;
  else if (path === '/token') stats.token_calls += 1;
}

function sendJson(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function disableClient(response, clientId) {
  if (!clientsFor(current.options.gatewayJwks).some((client) => client.client_id === clientId)) {
    sendJson(response, 404, { error: 'unknown client', client_id: clientId });
    return;
  }
  disabledClients.add(clientId);
  sendJson(response, 200, { client_id: clientId, disabled: true });
}

// Answers the test-only routes; false means "not an admin request", for the provider to handle.
function handleAdmin(request, response) {
  const path = request.url.split('?', 1)[0];
  if (!path.startsWith('/admin/')) return false;

  const disable = /^\/admin\/disable-client\/([^/]+)$/.exec(path);
  if (disable && request.method === 'POST') {
    disableClient(response, decodeURIComponent(disable[1]));
  } else if (path === '/admin/keys/rotate' && request.method === 'POST') {
    sendJson(response, 200, rotateKeys());
  } else if (path === '/admin/keys/retire' && request.method === 'POST') {
    sendJson(response, 200, retireOldKeys());
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
  const { port: requestedPort, ...options } = readOptions();

  // The issuer must carry the real port, which is only known once bound: bind first, then build the
  // provider. The ready line is printed only after that, so no client talks to it earlier.
  const server = createServer((request, response) => {
    if (handleAdmin(request, response)) return;
    if (!current.callback) {
      sendJson(response, 503, { error: 'starting' });
      return;
    }
    countCalls(request);
    current.callback(request, response);
  });
  const port = await listen(server, requestedPort);
  current.issuer = `http://${HOST}:${port}`;
  current.options = options;
  signingKeys.push(newSigningKey());
  installProvider();

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`oidc-provider listening on ${HOST}:${port}\n`);
}

main().catch((error) => {
  process.stderr.write(`oidc-provider-server: ${error.message}\n`);
  process.exit(1);
});
