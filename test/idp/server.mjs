// SPDX-License-Identifier: Apache-2.0
// Licensed under the Apache License, Version 2.0 (see LICENSE).
// A local OpenID Provider (npm oidc-provider 9.x) for mod_tp_oauth's integration tests and demo.
//
//   node test/idp/server.mjs --port 9000 [--clients clients.json] [--keys keys.json]
//                            [--at-ttl 3600] [--max-seconds S]
//
// Every option can also come from the environment: TPO_IDP_PORT, TPO_IDP_CLIENTS, TPO_IDP_KEYS,
// TPO_IDP_AT_TTL, TPO_IDP_MAX_SECONDS.
//
// * Binds 127.0.0.1 only; issuer http://127.0.0.1:PORT. Prints one line "ready <issuer>" on
//   stdout once it is listening.
// * --clients FILE: a JSON array of client metadata (client_id, client_secret,
//   token_endpoint_auth_method, grant_types, redirect_uris, post_logout_redirect_uris, ...).
//   Without it, one client "tpo-test" / "tpo-test-secret" for http://127.0.0.1:8080/app/redirect_uri.
// * --keys FILE: a private JWKS with one RS256 and one ES256 key. Generated on first run when the
//   file does not exist, reused afterwards. Without --keys the keys live in memory only.
// * Login: devInteractions (any login name, any password; the name becomes `sub`), then consent.
// * PKCE (S256) is required for every client; refresh tokens are issued to every client allowed
//   the refresh_token grant and always rotate (reuse of a spent one revokes the grant).
// * GET /__stats: counts of requests by endpoint and of token requests by grant_type;
//   POST /__stats/reset clears them. GET /__health: 200.
// * --backchannel-logout (or TPO_IDP_BACKCHANNEL_LOGOUT=1), opt-in: OpenID Connect Back-Channel
//   Logout 1.0 (features.backchannelLogout); clients may then carry backchannel_logout_uri, and a
//   logout at the provider (end_session) POSTs a logout token to each. Front-channel logout is not
//   in oidc-provider 9: tests make the request its iframe would make. See the block "opt-in:
//   back-channel logout" below.
// * Tokens for backends (opt-in, see the block "client credentials for backends" below):
//   --cc-ttl S (TPO_IDP_CC_TTL): lifetime of client-credentials tokens (default: --at-ttl);
//   --cc-resource URI (TPO_IDP_CC_RESOURCE): resource indicators on, with URI as the one
//   resource server (JWT access tokens with aud = URI); GET /__cc: every client-credentials
//   request (client, scope, resource, audience, status) and their count; POST /__cc/reset.
// * Client authentication (opt-in, see the block "client authentication" below): clients may use
//   private_key_jwt / client_secret_jwt (oidc-provider's defaults) with `jwks` or `jwks_uri`;
//   TPO_IDP_FETCH_LOOPBACK=1 lets the provider fetch a client's jwks_uri on 127.0.0.1 (its SSRF
//   protection refuses loopback otherwise). TPO_IDP_TLS_CERT, TPO_IDP_TLS_KEY, TPO_IDP_TLS_CA (PEM
//   files): serve HTTPS (issuer https://127.0.0.1:PORT), ask every client for a certificate
//   (verified against TPO_IDP_TLS_CA, not required by the TLS layer) and turn on features.mTLS
//   with tls_client_auth (subject DN match) and self_signed_tls_client_auth.
// * DPoP (RFC 9449; see the block "DPoP" below): oidc-provider 9 accepts DPoP proofs by default
//   (a token request with a proof gets a DPoP-bound token, token_type DPoP, cnf.jkt in
//   introspection). TPO_IDP_DPOP_NONCE=1: nonces required (nonceSecret + requireNonce), so every
//   first proof is answered use_dpop_nonce with a DPoP-Nonce. TPO_IDP_DPOP_ALGS="EdDSA ...": the
//   proof algorithms offered (dpop_signing_alg_values_supported). POST /__dpop/refuse {"on":true}
//   spoils the signature of every incoming DPoP proof (oidc-provider then refuses them itself);
//   GET /__dpop: counts of requests with a DPoP proof by route and of use_dpop_nonce answers.
// * Pushed Authorization Requests (RFC 9126): the endpoint is always there (oidc-provider's
//   default); TPO_IDP_REQUIRE_PAR=1 makes them required for every client (discovery then says
//   require_pushed_authorization_requests: true), and a client whose metadata has
//   require_pushed_authorization_requests: true requires them anyway. /__stats counts the
//   pushed requests (par) and the authorization requests that came with a request_uri
//   (authorization_with_request_uri). See the block "opt-in: pushed authorization requests".
// * TPO_IDP_ACR="bronze silver gold" (opt-in, step-up tests): the acr values the provider
//   supports. A login's acr is the password typed when it is one of them, else the first one;
//   a request whose acr_values the provider session's acr does not meet asks for a login again.
//   See the block "acr for step-up" below.

import { readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import { parseArgs } from 'node:util';

// oidc-provider 9.x warns "Unsupported runtime" on Node < 22 (it works on Node 20) and prints
// development notices ("default ... function called, you SHOULD change it"). Both are expected
// here; drop exactly those lines and keep everything else.
const QUIET = [/Unsupported runtime/, /you SHOULD change it/, /devInteractions is enabled/,
  /in-memory adapter is used/, /already parsed request body detected/];
for (const method of ['warn', 'info']) {
  const orig = console[method].bind(console);
  console[method] = (...args) => {
    const text = args.map(String).join(' ');
    if (QUIET.some((re) => re.test(text))) return;
    orig(...args);
  };
}

const { default: Provider, errors } = await import('oidc-provider');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.TPO_IDP_PORT || '9000' },
    clients: { type: 'string', default: process.env.TPO_IDP_CLIENTS || '' },
    keys: { type: 'string', default: process.env.TPO_IDP_KEYS || '' },
    'at-ttl': { type: 'string', default: process.env.TPO_IDP_AT_TTL || '3600' },
    'max-seconds': { type: 'string', default: process.env.TPO_IDP_MAX_SECONDS || '0' },
    verbose: { type: 'boolean', default: false },
    'backchannel-logout': { type: 'boolean', default: process.env.TPO_IDP_BACKCHANNEL_LOGOUT === '1' },
    // client credentials for backends (opt-in)
    'cc-ttl': { type: 'string', default: process.env.TPO_IDP_CC_TTL || '' },
    'cc-resource': { type: 'string', default: process.env.TPO_IDP_CC_RESOURCE || '' },
  },
  strict: true,
});

const port = Number.parseInt(opts.port, 10);
const atTtl = Number.parseInt(opts['at-ttl'], 10);
const maxSeconds = Number.parseInt(opts['max-seconds'], 10);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`idp: bad --port ${opts.port}`);
  process.exit(2);
}
if (!Number.isInteger(atTtl) || atTtl < 1) {
  console.error(`idp: bad --at-ttl ${opts['at-ttl']}`);
  process.exit(2);
}
// client authentication (opt-in): HTTPS with client certificates
const tlsFiles = {
  cert: process.env.TPO_IDP_TLS_CERT || '',
  key: process.env.TPO_IDP_TLS_KEY || '',
  ca: process.env.TPO_IDP_TLS_CA || '',
};
const tls = Boolean(tlsFiles.cert && tlsFiles.key && tlsFiles.ca);
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

// ------------------------------------------------------------------------------------ keys
function generateJwks() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const tag = randomBytes(4).toString('hex');
  return {
    keys: [
      { ...rsa, kid: `tpo-rsa-${tag}`, alg: 'RS256', use: 'sig' },
      { ...ec, kid: `tpo-ec-${tag}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function loadJwks(file) {
  if (!file) return generateJwks();
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const jwks = generateJwks();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return jwks;
}

// --------------------------------------------------------------------------------- clients
function loadClients(file) {
  if (!file) {
    return [{
      client_id: 'tpo-test',
      client_secret: 'tpo-test-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:8080/app/redirect_uri'],
      post_logout_redirect_uris: ['http://127.0.0.1:8080/'],
    }];
  }
  const clients = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(clients)) throw new Error(`${file}: expected a JSON array of clients`);
  return clients.map((c) => {
    const grantTypes = c.grant_types || ['authorization_code'];
    const usesCode = grantTypes.includes('authorization_code');
    return {
      response_types: usesCode ? ['code'] : [],
      redirect_uris: usesCode ? c.redirect_uris : [],
      ...c,
      grant_types: grantTypes,
    };
  });
}

// -------------------------------------------------------------------------------- accounts
// Special login names for the tests:
//   jose        a non-ASCII name ("José Müller")
//   crlf        a name with CR/LF and a would-be header inside
//   admin       also in group "admins"
//   bob         lives in FR (everybody else in DE)
//   manygroups  member of 200 groups
//   huge        member of 600 groups of 1000 characters each (~600 KB of claims)
//   collide     also has a flat claim "address_country" ("XX") next to address.country ("DE"):
//               both flatten to the same variable and header name
function accountClaims(id) {
  const jose = id === 'jose';
  let name = jose ? 'José Müller' : `${id} Tester`;
  if (id === 'crlf') name = 'Evil\r\nX-TPO-User: admin';
  let groups = ['staff', 'tpo-users'];
  if (id === 'admin') groups = ['admins', 'staff', 'tpo-users'];
  if (id === 'manygroups') groups = Array.from({ length: 200 }, (_, i) => `group-${String(i).padStart(3, '0')}-of-a-large-organisation`);
  // huge: 600 groups of 1000 characters each (~600 KB): a session too large for a small cache
  if (id === 'huge') groups = Array.from({ length: 600 }, (_, i) => `huge-group-${String(i).padStart(3, '0')}-`.padEnd(1000, 'x'));
  return {
    sub: id,
    email: `${id}@example.test`,
    email_verified: true,
    name,
    given_name: jose ? 'José' : id,
    family_name: jose ? 'Müller' : 'Tester',
    preferred_username: id,
    groups,
    address: {
      street_address: '1 Test Street',
      locality: id === 'bob' ? 'Paris' : 'Berlin',
      country: id === 'bob' ? 'FR' : 'DE',
    },
    ...(id === 'collide' ? { address_country: 'XX' } : {}),
  };
}

// ------------------------------------------------------------------------------------ stats
function emptyStats() {
  return {
    started: new Date().toISOString(),
    token: { total: 0, by_grant_type: {}, errors_by_grant_type: {} },
    authorization: 0,
    userinfo: 0,
    jwks: 0,
    discovery: 0,
    introspection: 0,
    revocation: 0,
    end_session: 0,
    par: 0,
    authorization_with_request_uri: 0,
  };
}
let stats = emptyStats();
const ROUTE_COUNTERS = {
  authorization: 'authorization',
  userinfo: 'userinfo',
  jwks: 'jwks',
  discovery: 'discovery',
  introspection: 'introspection',
  revocation: 'revocation',
  end_session: 'end_session',
  pushed_authorization_request: 'par',
};

// ----------------------------------------------------------------------------- the provider
const configuration = {
  clients: loadClients(opts.clients),
  jwks: loadJwks(opts.keys),
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() { return accountClaims(id); },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
    address: ['address', 'address_country'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'address'],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: atTtl,
    ClientCredentials: atTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  // Fixed keys: the IdP's own cookies are test artifacts, not secrets.
  cookies: { keys: ['tpo-test-idp-cookie-key-not-secret'] },
  clientBasedCORS: () => false,
  renderError(ctx, out) {
    ctx.type = 'html';
    const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
    ctx.body = `<!DOCTYPE html><html><head><title>oops</title></head><body><h1>oops! something went wrong</h1>${
      Object.entries(out).map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('')}</body></html>`;
  },
};

// ------------------------------------------------------- opt-in: back-channel logout (issue 14)
if (opts['backchannel-logout']) {
  configuration.features.backchannelLogout = { enabled: true };
  // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection); the
  // relying parties of the tests listen on 127.0.0.1 only, so loopback (and nothing else) is let
  // through for the logout tokens.
  configuration.fetch = (url, options) => {
    const target = new URL(url);
    if (target.hostname !== '127.0.0.1') throw new Error(`idp: refusing to fetch ${target.host}`);
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  };
}
// --------------------------------------------------- end of opt-in: back-channel logout

// ------------------------------------------ opt-in: pushed authorization requests (issue 15)
if (process.env.TPO_IDP_REQUIRE_PAR === '1') {
  configuration.features.pushedAuthorizationRequests = {
    enabled: true,
    requirePushedAuthorizationRequests: true,
  };
}
// -------------------------------------- end of opt-in: pushed authorization requests

// ------------------------------------------------ client credentials for backends (opt-in)
// Only active with --cc-ttl / --cc-resource; /__cc records every client-credentials request.
const ccTtl = opts['cc-ttl'] ? Number.parseInt(opts['cc-ttl'], 10) : 0;
if (opts['cc-ttl'] && (!Number.isInteger(ccTtl) || ccTtl < 1)) {
  console.error(`idp: bad --cc-ttl ${opts['cc-ttl']}`);
  process.exit(2);
}
if (ccTtl) configuration.ttl.ClientCredentials = ccTtl;
const ccResource = opts['cc-resource'];
if (ccResource) {
  configuration.features.resourceIndicators = {
    enabled: true,
    defaultResource: () => undefined,
    useGrantedResource: () => true,
    getResourceServerInfo(ctx, resourceIndicator) {
      if (resourceIndicator !== ccResource) {
        throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
      }
      return {
        scope: 'email profile',
        audience: ccResource,
        accessTokenTTL: ccTtl || atTtl,
        accessTokenFormat: 'jwt',
      };
    },
  };
}
let ccLog = [];
function ccRecord(ctx) {
  const body = ctx.oidc?.body || {};
  ccLog.push({
    at: Date.now() / 1000,
    client_id: ctx.oidc?.client?.clientId || null,
    scope: body.scope ?? null,
    resource: body.resource ?? null,
    audience: body.audience ?? null,
    content_type: ctx.get('content-type') || null,
    status: ctx.status,
  });
}
// ------------------------------------------ end of client credentials for backends (opt-in)
// ------------------------------------------------- bearer tokens (issue 13; opt-in)
// TPO_IDP_RESOURCE=<URL>: features.resourceIndicators with one resource server of that URL. Its
// access tokens are JWTs (RFC 9068: typ at+jwt, RS256, aud = the URL, scopes "read write admin",
// and a "groups" claim ["api-clients"]); a token request with resource=<URL> (e.g. the
// client-credentials grant) gets one, a request without resource an opaque token as before.
// Unset: the configuration is unchanged.
const bearerResource = process.env.TPO_IDP_RESOURCE || '';
if (bearerResource) {
  const { errors: oidcErrors } = await import('oidc-provider');
  configuration.features.resourceIndicators = {
    enabled: true,
    defaultResource: async (ctx, client, oneOf) => oneOf,
    useGrantedResource: async () => false,
    getResourceServerInfo: async (ctx, resourceIndicator) => {
      if (resourceIndicator !== bearerResource) throw new oidcErrors.InvalidTarget();
      return {
        scope: 'read write admin',
        audience: bearerResource,
        accessTokenTTL: atTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
  configuration.extraTokenClaims = async (ctx, token) => (
    token.kind === 'ClientCredentials' || token.kind === 'AccessToken' ? { groups: ['api-clients'] } : undefined);
}
// ------------------------------------------------- end of bearer tokens
// ------------------------------------------------------------------------- DPoP (opt-in)
if (process.env.TPO_IDP_DPOP_NONCE === '1') {
  configuration.features.dPoP = {
    enabled: true,
    nonceSecret: randomBytes(32),
    requireNonce: () => true,
  };
}
if (process.env.TPO_IDP_DPOP_ALGS) {
  configuration.enabledJWA = {
    ...(configuration.enabledJWA || {}),
    dPoPSigningAlgValues: process.env.TPO_IDP_DPOP_ALGS.split(/\s+/).filter(Boolean),
  };
}
let dpopRefuse = false;
let dpopStats = { proofs: {}, algs: {}, use_dpop_nonce: 0 };
// ------------------------------------------------------------------ end of DPoP (opt-in)

// ------------------------------------------------------ opt-in: acr for step-up (issue 15)
// TPO_IDP_ACR="bronze silver gold": acrValues (discovery's acr_values_supported). The login form
// of devInteractions stays; its password picks the login's acr (one of the values, else the
// first: the harness's default password logs in with the lowest). The ID token carries the acr
// when the client asked for acr_values (oidc-provider's rule). A request with acr_values that the
// provider session's acr does not meet asks for a login again; the login that follows is taken
// whatever acr it brought, so that a relying party can be shown a too weak one. max_age and
// prompt=login work as oidc-provider has them.
const acrValues = (process.env.TPO_IDP_ACR || '').split(/[\s,]+/).filter(Boolean);
if (acrValues.length) {
  const { interactionPolicy } = await import('oidc-provider');
  const { Check } = interactionPolicy;
  const policy = interactionPolicy.base();
  policy.get('login').checks.push(new Check('acr_not_met', 'the requested acr is not met', (ctx) => {
    const wanted = ctx.oidc.params.acr_values;
    if (!wanted || !ctx.oidc.session.accountId || ctx.oidc.result?.login) {
      return Check.NO_NEED_TO_PROMPT;
    }
    return wanted.split(' ').includes(ctx.oidc.acr) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
  }));
  configuration.acrValues = acrValues;
  configuration.interactions = { policy };
}
// Reads a form body (the login form's); devInteractions reads it again from ctx.req.body.
async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  req.body = Buffer.concat(chunks).toString('utf8');
  return new URLSearchParams(req.body);
}
// -------------------------------------------------- end of acr for step-up

// ---------------------------------------------------------- client authentication (opt-in)
function loopbackFetch(url, options) {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error(`idp: refusing to fetch ${target.host}`);
  const { dispatcher, ...rest } = options;
  return globalThis.fetch(url, rest);
}
if (process.env.TPO_IDP_FETCH_LOOPBACK === '1') configuration.fetch = loopbackFetch;
function peerCertificate(ctx) {
  const peer = ctx.req.socket.getPeerCertificate?.();
  return peer && peer.raw ? new X509Certificate(peer.raw) : undefined;
}
if (tls) {
  configuration.clientAuthMethods = [
    'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
    'tls_client_auth', 'self_signed_tls_client_auth',
  ];
  configuration.features.mTLS = {
    enabled: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx) => peerCertificate(ctx)?.toString(),
    certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
    certificateSubjectMatches(ctx, property, expected) {
      const cert = peerCertificate(ctx);
      if (!cert || property !== 'tls_client_auth_subject_dn') return false;
      return cert.subject.split('\n').join(',') === expected;
    },
  };
}
// ------------------------------------------------- end of client authentication (opt-in)

const provider = new Provider(issuer, configuration);

// ------------------------------------------------------- opt-in: back-channel logout (issue 14)
// Deliveries are counted in /__stats (backchannel.success / .error) and failures logged.
if (opts['backchannel-logout']) {
  provider.on('backchannel.success', () => {
    stats.backchannel = stats.backchannel || { success: 0, error: 0 };
    stats.backchannel.success += 1;
  });
  provider.on('backchannel.error', (ctx, err, client) => {
    stats.backchannel = stats.backchannel || { success: 0, error: 0 };
    stats.backchannel.error += 1;
    console.error(`idp: back-channel logout to ${client?.clientId} failed: ${err?.message}${err?.cause ? ` (${err.cause.code || err.cause.message})` : ""}`);
  });
}
// --------------------------------------------------- end of opt-in: back-channel logout

// client authentication: why a client was refused (tests look for it in the log)
for (const ev of ['grant.error', 'introspection.error', 'revocation.error']) {
  provider.on(ev, (ctx, err) => {
    if (err?.error === 'invalid_client') {
      const cause = err.cause ? ` (${err.cause.error_description || err.cause.message}${err.cause.cause ? `: ${err.cause.cause.message} ${err.cause.cause.cause?.message || ''}` : ''})` : '';
      console.error(`idp: ${ev}: invalid_client: ${err.error_detail || err.message}${cause}`);
    }
  });
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__health' && ctx.method === 'GET') {
    ctx.body = { ok: true };
    return;
  }
  if (ctx.path === '/__stats' && ctx.method === 'GET') {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/__cc' && ctx.method === 'GET') { // client credentials for backends
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { count: ccLog.length, requests: ccLog };
    return;
  }
  if (ctx.path === '/__cc/reset' && ctx.method === 'POST') {
    ccLog = [];
    ctx.body = { count: 0, requests: [] };
    return;
  }
  if (ctx.path === '/__dpop' && ctx.method === 'GET') { // DPoP
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { refuse: dpopRefuse, ...dpopStats };
    return;
  }
  if (ctx.path === '/__dpop/refuse' && ctx.method === 'POST') { // DPoP
    const chunks = [];
    for await (const c of ctx.req) chunks.push(c);
    dpopRefuse = Boolean(JSON.parse(Buffer.concat(chunks).toString() || '{}').on);
    dpopStats = { proofs: {}, algs: {}, use_dpop_nonce: 0 };
    ctx.body = { refuse: dpopRefuse };
    return;
  }
  const dpopProof = ctx.get('dpop'); // DPoP
  if (dpopProof && dpopRefuse) {
    // the first character of the signature changed (always data bits; the last one may carry
    // only padding bits that a decoder ignores): a proof that no longer verifies
    const at = dpopProof.lastIndexOf('.') + 1;
    const first = dpopProof[at];
    ctx.req.headers.dpop = dpopProof.slice(0, at) + (first === 'A' ? 'B' : 'A') + dpopProof.slice(at + 1);
  }
  if (acrValues.length && ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
    // acr for step-up: the login form's password names the login's acr
    const form = await readForm(ctx.req);
    if (form.get('prompt') === 'login' && form.get('login')) {
      const acr = acrValues.includes(form.get('password')) ? form.get('password') : acrValues[0];
      ctx.respond = false;
      await provider.interactionFinished(ctx.req, ctx.res, {
        login: { accountId: form.get('login'), acr },
      }, { mergeWithLastSubmission: false });
      return;
    }
  }
  if (ctx.path === '/__stats/reset' && ctx.method === 'POST') {
    stats = emptyStats();
    ctx.body = stats;
    return;
  }
  await next();
  const route = ctx.oidc?.route;
  if (dpopProof && route) { // DPoP
    dpopStats.proofs[route] = (dpopStats.proofs[route] || 0) + 1;
    let alg = '?';
    try { alg = JSON.parse(Buffer.from(dpopProof.split('.')[0], 'base64url').toString()).alg; } catch { /* kept '?' */ }
    dpopStats.algs[alg] = (dpopStats.algs[alg] || 0) + 1;
    const wwwAuth = String(ctx.response.get('www-authenticate') || '');
    if (ctx.body?.error === 'use_dpop_nonce' || wwwAuth.includes('use_dpop_nonce')) dpopStats.use_dpop_nonce += 1;
  }
  if (opts.verbose) console.error(`idp: ${ctx.method} ${ctx.path} ${route || '-'} -> ${ctx.status}`);
  if (route === 'token') {
    const grantType = ctx.oidc?.params?.grant_type || '(none)';
    stats.token.total += 1;
    stats.token.by_grant_type[grantType] = (stats.token.by_grant_type[grantType] || 0) + 1;
    if (grantType === 'client_credentials') ccRecord(ctx); // client credentials for backends
    if (ctx.status >= 400) {
      stats.token.errors_by_grant_type[grantType] = (stats.token.errors_by_grant_type[grantType] || 0) + 1;
    }
  } else if (route && ROUTE_COUNTERS[route]) {
    stats[ROUTE_COUNTERS[route]] += 1;
    if (route === 'authorization' && ctx.query?.request_uri) stats.authorization_with_request_uri += 1;
  }
});

const server = tls
  ? createHttpsServer({
    cert: readFileSync(tlsFiles.cert),
    key: readFileSync(tlsFiles.key),
    ca: readFileSync(tlsFiles.ca),
    requestCert: true,
    rejectUnauthorized: false, // tls_client_auth checks it; self-signed ones are not from the CA
  }, provider.callback()).listen(port, '127.0.0.1', () => {
    console.log(`ready ${issuer}`);
  })
  : provider.listen(port, '127.0.0.1', () => {
    console.log(`ready ${issuer}`);
  });
server.on('error', (err) => {
  console.error(`idp: ${err.message}`);
  process.exit(1);
});

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (maxSeconds > 0) setTimeout(shutdown, maxSeconds * 1000).unref();
