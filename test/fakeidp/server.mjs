#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Licensed under the Apache License, Version 2.0 (see LICENSE).
// Fake OAuth 2.0 / OpenID Connect provider for mod_tp_oauth tests.
//
// Emulates, on loopback only, a standard OpenID Provider that misbehaves on purpose
// (bad ID tokens, slow or failing token endpoint) and the payment providers described in
// /work/shared/PROVIDERS.md (TropiPay, PayoutID, Xendit). Each behaviour is a "mode" served
// under the path prefix /<mode>/. See README.md next to this file.
//
// Usage: node test/fakeidp/server.mjs --port N [--slow-ms MS] [--max-seconds S] [--verbose]
//
// No npm dependencies: node:http, node:crypto and node:url only.

import http from 'node:http';
import crypto from 'node:crypto';
import { URL, URLSearchParams } from 'node:url';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  if (msg) process.stderr.write(`fakeidp: ${msg}\n`);
  process.stderr.write(
    'usage: node server.mjs --port N [--slow-ms MS] [--max-seconds S] [--verbose]\n' +
    '  --port N         TCP port on 127.0.0.1 (0 = any free port; the port is printed on stderr)\n' +
    '  --slow-ms MS     delay of the oidc-slow token endpoint (default 5000, max 60000)\n' +
    '  --max-seconds S  exit by itself after S seconds (default 0 = never); a safety net for tests\n' +
    '  --verbose        one log line per request on stderr\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, slowMs: 5000, maxSeconds: 0, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const intArg = (lo, hi) => {
      const v = argv[++i];
      if (v === undefined || !/^\d+$/.test(v)) usage(`${a} needs an integer`);
      const n = Number(v);
      if (n < lo || n > hi) usage(`${a} must be between ${lo} and ${hi}`);
      return n;
    };
    if (a === '--port') opts.port = intArg(0, 65535);
    else if (a === '--slow-ms') opts.slowMs = intArg(0, 60000);
    else if (a === '--max-seconds') opts.maxSeconds = intArg(0, 86400);
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (opts.port === null) usage('--port is required');
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));

// Installed before the (slow) key generation so that an early SIGTERM also ends us cleanly.
let shutdownHook = () => {};
function shutdown(code) {
  shutdownHook();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
const HOST = '127.0.0.1';
let PORT = OPTS.port; // replaced by the real port once listening (for --port 0)

// ---------------------------------------------------------------------------------------------
// Constants, keys

const CLIENT_ID = 'fake-client';
const CLIENT_SECRET = 'fake-secret';
const DEFAULT_SUB = 'fake-user-1';
const CODE_TTL_S = 60;
const REFRESH_TTL_S = 90 * 24 * 3600;
const MAX_BODY = 64 * 1024;

const rsaKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const strayKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }); // not in the JWKS
const RSA_PUBLIC_PEM = rsaKey.publicKey.export({ type: 'spki', format: 'pem' });
const TROPIPAY_HS_SECRET = crypto.randomBytes(32); // signs TropiPay-style access tokens
// A symmetric key published in the JWKS of mode oidc-hs-jwks-oct (a JWKS is public).
const PUBLISHED_OCT = crypto.randomBytes(32);
const OCT_JWK = { kty: 'oct', kid: 'fake-oct', use: 'sig', alg: 'HS256', k: PUBLISHED_OCT.toString('base64url') };

const JWKS = {
  keys: [
    { ...rsaKey.publicKey.export({ format: 'jwk' }), kid: 'fake-rsa', use: 'sig', alg: 'RS256' },
    { ...ecKey.publicKey.export({ format: 'jwk' }), kid: 'fake-ec', use: 'sig', alg: 'ES256' },
  ],
};

// ---------------------------------------------------------------------------------------------
// Modes
//
// family decides the wire format of the token endpoint:
//   oidc     form-encoded request, client_secret_basic, RFC 6749 errors, ID token
//   tropipay JSON request with credentials in the body, RFC errors, HS256 JWT access token
//   payout   JSON request with credentials in the body, RFC errors, `scopes` array
//   xendit   JSON request with credentials in the body, Xendit errors, `expires_at`
// idToken: variant of the ID token (oidc family only)
// token:   misbehaviour of the token endpoint
// authz:   misbehaviour of the authorization endpoint

const MODES = {
  'oidc': { family: 'oidc' },
  'oidc-es256': { family: 'oidc', idToken: 'es256' },
  'oidc-badsig': { family: 'oidc', idToken: 'badsig' },
  'oidc-wrongiss': { family: 'oidc', idToken: 'wrongiss' },
  'oidc-wrongaud': { family: 'oidc', idToken: 'wrongaud' },
  'oidc-expired': { family: 'oidc', idToken: 'expired' },
  'oidc-future-iat': { family: 'oidc', idToken: 'future-iat' },
  'oidc-badnonce': { family: 'oidc', idToken: 'badnonce' },
  'oidc-nonce-missing': { family: 'oidc', idToken: 'nonce-missing' },
  'oidc-alg-none': { family: 'oidc', idToken: 'alg-none' },
  'oidc-hs-confusion': { family: 'oidc', idToken: 'hs-confusion' },
  'oidc-unknown-kid': { family: 'oidc', idToken: 'unknown-kid' },
  'oidc-hs-jwks-oct': { family: 'oidc', idToken: 'hs-jwks-oct', jwks: 'with-oct' },
  'oidc-slow-jwks': { family: 'oidc', jwks: 'slow' },
  'oidc-slow': { family: 'oidc', token: 'slow' },
  'oidc-refuse': { family: 'oidc', token: 'refuse' },
  'oidc-500': { family: 'oidc', token: 'http500' },
  'oidc-garbage': { family: 'oidc', token: 'garbage' },
  'denied': { family: 'oidc', authz: 'denied' },
  'denied-xss': { family: 'oidc', authz: 'denied-xss' },
  'tropipay': { family: 'tropipay', expires: 'duration' },
  'tropipay-epoch': { family: 'tropipay', expires: 'epoch' },
  'tropipay-seconds': { family: 'tropipay', expires: 'seconds' },
  'payout': { family: 'payout' },
  'payout-denied': { family: 'payout', authz: 'payout-denied' },
  'payout-error': { family: 'payout', token: 'payout-error' },
  'xendit': { family: 'xendit', expiresAt: 'zulu' },
  'xendit-nozone': { family: 'xendit', expiresAt: 'nozone' },
  'xendit-error': { family: 'xendit', expiresAt: 'zulu', token: 'xendit-error' },
};

const issuerOf = (mode) => `http://${HOST}:${PORT}/${mode}`;
const nowSec = () => Math.floor(Date.now() / 1000);
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const randomToken = (prefix) => `${prefix}${b64u(crypto.randomBytes(24))}`;

// ---------------------------------------------------------------------------------------------
// State (all in memory, swept lazily so nothing grows without bound and no timers are needed)

const codes = new Map();         // code -> {mode, clientId, redirectUri, codeChallenge, nonce, scope, sub, exp, used, grantId, authTime}
const grants = new Map();        // grantId -> {mode, sub, scope, revoked, authTime}
const refreshTokens = new Map(); // token -> {grantId, mode, used, exp}
const accessTokens = new Map();  // token -> {grantId|null, mode, sub, scope, exp}
let inserts = 0;

function sweep() {
  if (++inserts % 200 !== 0) return;
  const now = nowSec();
  for (const [k, v] of codes) if (v.exp < now - 600) codes.delete(k);
  for (const [k, v] of accessTokens) if (v.exp < now - 600) accessTokens.delete(k);
  for (const [k, v] of refreshTokens) if (v.exp < now) refreshTokens.delete(k);
  // Keep memory bounded even under abuse: drop the oldest entries beyond a hard cap.
  for (const m of [codes, grants, refreshTokens, accessTokens]) {
    while (m.size > 50000) m.delete(m.keys().next().value);
  }
}

function newGrant(mode, sub, scope, authTime) {
  const id = randomToken('g-');
  grants.set(id, { mode, sub, scope, revoked: false, authTime });
  return id;
}

function grantAlive(grantId) {
  if (grantId === null) return true;
  const g = grants.get(grantId);
  return Boolean(g && !g.revoked);
}

function revokeGrant(grantId) {
  const g = grants.get(grantId);
  if (g) g.revoked = true;
}

// ---------------------------------------------------------------------------------------------
// Statistics and last token request per mode

function emptyStats() {
  return { total: 0, by_mode: {}, by_grant_type: {}, by_mode_and_grant_type: {}, authorize: {}, userinfo: {} };
}
let stats = emptyStats();
let lastTokenRequest = {};

function countToken(mode, grantType) {
  const gt = typeof grantType === 'string' && grantType !== '' ? grantType : '(none)';
  stats.total++;
  stats.by_mode[mode] = (stats.by_mode[mode] || 0) + 1;
  stats.by_grant_type[gt] = (stats.by_grant_type[gt] || 0) + 1;
  const m = (stats.by_mode_and_grant_type[mode] ||= {});
  m[gt] = (m[gt] || 0) + 1;
}

function bump(table, mode) {
  stats[table][mode] = (stats[table][mode] || 0) + 1;
}

function describeAuthorization(header) {
  if (header === undefined) return { present: false, scheme: null };
  const scheme = String(header).trim().split(/\s+/)[0] || '';
  const out = { present: true, scheme };
  if (scheme.toLowerCase() === 'basic') {
    const basic = decodeBasic(header);
    out.basic_client_id = basic ? basic.id : null;
    out.basic_secret = basic ? (basic.secret !== '' ? '<present>' : '<empty>') : null;
  }
  return out;
}

function redactBody(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const out = { ...body };
  if ('client_secret' in out) out.client_secret = '<present>';
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const isString = typeof body === 'string';
  const payload = isString ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': isString ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

const NO_STORE = { 'Cache-Control': 'no-store', 'Pragma': 'no-cache' };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c) => {
      if (tooBig) return; // keep draining so the 413 answer can be delivered
      size += c.length;
      if (size > MAX_BODY) {
        tooBig = true;
        chunks.length = 0;
        reject(Object.assign(new Error(`body larger than ${MAX_BODY} bytes`), { status: 413 }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!tooBig) resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });
}

// Parses a request body according to its Content-Type.
// Returns {format: 'form'|'json'|'invalid-json'|'empty'|'other', fields, duplicates}
function parseBody(contentType, raw) {
  const ct = (contentType || '').split(';')[0].trim().toLowerCase();
  if (raw === '' && ct === '') return { format: 'empty', fields: {}, duplicates: [] };
  if (ct === 'application/x-www-form-urlencoded') {
    const fields = {};
    const duplicates = [];
    for (const [k, v] of new URLSearchParams(raw)) {
      if (k in fields) {
        duplicates.push(k);
        fields[k] = [].concat(fields[k], v);
      } else {
        fields[k] = v;
      }
    }
    return { format: 'form', fields, duplicates };
  }
  if (ct === 'application/json' || ct.endsWith('+json')) {
    try {
      const v = JSON.parse(raw);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        return { format: 'invalid-json', fields: {}, duplicates: [], raw: raw.slice(0, 200) };
      }
      return { format: 'json', fields: v, duplicates: [] };
    } catch {
      return { format: 'invalid-json', fields: {}, duplicates: [], raw: raw.slice(0, 200) };
    }
  }
  return { format: 'other', fields: {}, duplicates: [], raw: raw.slice(0, 200) };
}

// RFC 6749 section 2.3.1: id and secret are form-urlencoded, then joined by ':' and base64'd.
function decodeBasic(header) {
  const m = /^\s*basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(String(header || ''));
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  const formDecode = (s) => {
    try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return null; }
  };
  const id = formDecode(decoded.slice(0, i));
  const secret = formDecode(decoded.slice(i + 1));
  if (id === null || secret === null) return null;
  return { id, secret };
}

function bearerToken(req) {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(req.headers.authorization || '');
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------------------------
// JOSE

function signJwt(header, payload, alg, key) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  let sig;
  switch (alg) {
    case 'RS256': sig = crypto.sign('sha256', Buffer.from(input), key); break;
    case 'ES256': sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }); break;
    case 'HS256': sig = crypto.createHmac('sha256', key).update(input).digest(); break;
    case 'none': sig = Buffer.alloc(0); break;
    default: throw new Error(`unsupported alg ${alg}`);
  }
  return `${input}.${b64u(sig)}`;
}

function userClaims(sub) {
  return {
    email: sub.includes('@') ? sub : `${sub}@example.com`,
    name: sub === DEFAULT_SUB ? 'Fake User' : `Fake ${sub}`,
  };
}

function buildIdToken(mode, variant, { sub, nonce, accessToken, authTime }) {
  const now = nowSec();
  const claims = {
    iss: issuerOf(mode),
    sub,
    aud: CLIENT_ID,
    iat: now,
    exp: now + 300,
    auth_time: authTime,
    at_hash: b64u(crypto.createHash('sha256').update(accessToken).digest().subarray(0, 16)),
    ...userClaims(sub),
  };
  if (nonce !== undefined) claims.nonce = nonce;

  switch (variant) {
    case 'wrongiss': claims.iss = `http://${HOST}:${PORT}/somebody-else`; break;
    case 'wrongaud': claims.aud = 'another-client'; break;
    case 'expired': claims.exp = now - 3600; claims.iat = now - 7200; claims.auth_time = now - 7200; break;
    case 'future-iat': claims.iat = now + 3600; claims.exp = now + 3600 + 300; break;
    case 'badnonce': claims.nonce = 'not-the-nonce'; break;
    case 'nonce-missing': delete claims.nonce; break;
    default: break;
  }

  switch (variant) {
    case 'es256':
      return signJwt({ alg: 'ES256', typ: 'JWT', kid: 'fake-ec' }, claims, 'ES256', ecKey.privateKey);
    case 'badsig': {
      const jwt = signJwt({ alg: 'RS256', typ: 'JWT', kid: 'fake-rsa' }, claims, 'RS256', rsaKey.privateKey);
      const [h, p, s] = jwt.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[0] ^= 0xff;
      sig[sig.length >> 1] ^= 0x55;
      sig[sig.length - 1] ^= 0x0f;
      return `${h}.${p}.${b64u(sig)}`;
    }
    case 'alg-none':
      return signJwt({ alg: 'none' }, claims, 'none', null);
    case 'hs-confusion':
      // The attacker's trick: an HMAC keyed with the public key's PEM text, hoping the
      // verifier feeds "the key for kid fake-rsa" into whatever algorithm the header names.
      return signJwt({ alg: 'HS256', typ: 'JWT', kid: 'fake-rsa' }, claims, 'HS256', Buffer.from(RSA_PUBLIC_PEM));
    case 'hs-jwks-oct':
      // HS256 with a symmetric key this mode publishes in its JWKS (kid fake-oct): anybody
      // can fetch that key, so a verifier that takes it from the JWKS accepts forgeries.
      return signJwt({ alg: 'HS256', typ: 'JWT', kid: 'fake-oct' }, claims, 'HS256', PUBLISHED_OCT);
    case 'unknown-kid':
      return signJwt({ alg: 'RS256', typ: 'JWT', kid: 'rotated-away' }, claims, 'RS256', strayKey.privateKey);
    default:
      return signJwt({ alg: 'RS256', typ: 'JWT', kid: 'fake-rsa' }, claims, 'RS256', rsaKey.privateKey);
  }
}

// Deterministic UUID-shaped id for TropiPay profiles (stable per sub).
function uuidLike(sub) {
  const h = crypto.createHash('sha256').update(`tropipay:${sub}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// Errors

class OAuthError extends Error {
  constructor(error, description, status = 400) {
    super(description);
    this.error = error;
    this.description = description;
    this.status = status;
  }
}

const XENDIT_CODES = {
  invalid_client: 'INVALID_CLIENT',
  invalid_grant: 'INVALID_GRANT',
  invalid_scope: 'INVALID_SCOPE',
  invalid_token: 'INVALID_TOKEN',
  invalid_request: 'API_VALIDATION_ERROR',
  unsupported_grant_type: 'API_VALIDATION_ERROR',
};

function sendOAuthError(res, cfg, err, extraHeaders = {}) {
  const headers = { ...NO_STORE, ...extraHeaders };
  if (cfg && cfg.family === 'xendit') {
    send(res, err.status, { error_code: XENDIT_CODES[err.error] || 'API_VALIDATION_ERROR', message: err.description }, headers);
  } else {
    send(res, err.status, { error: err.error, error_description: err.description }, headers);
  }
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint

function handleAuthorize(mode, cfg, url, res) {
  bump('authorize', mode);
  const q = url.searchParams;
  const fail = (error, description) => send(res, 400, { error, error_description: description }, NO_STORE);

  for (const k of new Set(q.keys())) {
    if (q.getAll(k).length > 1) return fail('invalid_request', `parameter ${k} given more than once`);
  }
  const responseType = q.get('response_type');
  const clientId = q.get('client_id');
  const redirectUri = q.get('redirect_uri');
  const state = q.get('state');
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method');

  if (!responseType) return fail('invalid_request', 'response_type is missing');
  if (responseType !== 'code') return fail('unsupported_response_type', `response_type must be "code", got "${responseType}"`);
  if (!clientId) return fail('invalid_request', 'client_id is missing');
  if (clientId !== CLIENT_ID) return fail('unauthorized_client', `unknown client_id "${clientId}"`);
  if (!redirectUri) return fail('invalid_request', 'redirect_uri is missing');
  let redirect;
  try {
    redirect = new URL(redirectUri);
  } catch {
    return fail('invalid_request', 'redirect_uri is not an absolute URL');
  }
  if (!/^https?:$/.test(redirect.protocol) || redirect.hash !== '' || redirectUri.includes('#')) {
    return fail('invalid_request', 'redirect_uri must be an http(s) URL without fragment');
  }
  if (!state) return fail('invalid_request', 'state is missing');
  if (!challenge) return fail('invalid_request', 'code_challenge is missing');
  if (!method) return fail('invalid_request', 'code_challenge_method is missing');
  if (method !== 'S256') return fail('invalid_request', `code_challenge_method must be S256, got "${method}"`);
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return fail('invalid_request', 'code_challenge must be 43 base64url characters (unpadded SHA-256)');
  }

  const iss = issuerOf(mode);
  if (cfg.authz === 'payout-denied') {
    // PayoutID's casing: errorDescription, no error_description
    redirect.searchParams.set('error', 'access_denied');
    redirect.searchParams.set('errorDescription', 'The user declined the consent');
    redirect.searchParams.set('state', state);
    redirect.searchParams.set('iss', iss);
    return send(res, 302, '', { Location: redirect.toString(), ...NO_STORE });
  }
  if (cfg.authz === 'denied' || cfg.authz === 'denied-xss') {
    redirect.searchParams.set('error', 'access_denied');
    redirect.searchParams.set('error_description',
      cfg.authz === 'denied' ? 'The user said no' : '<script>alert(1)</script>');
    redirect.searchParams.set('state', state);
    redirect.searchParams.set('iss', iss);
    return send(res, 302, '', { Location: redirect.toString(), ...NO_STORE });
  }

  const sub = q.get('login_hint') || DEFAULT_SUB;
  const code = randomToken('c-');
  const authTime = nowSec();
  codes.set(code, {
    mode,
    clientId,
    redirectUri,
    codeChallenge: challenge,
    nonce: q.has('nonce') ? q.get('nonce') : undefined,
    scope: q.get('scope') || '',
    sub,
    exp: authTime + CODE_TTL_S,
    used: false,
    grantId: null,
    authTime,
  });
  sweep();

  redirect.searchParams.set('code', code);
  redirect.searchParams.set('state', state);
  redirect.searchParams.set('iss', iss);
  return send(res, 302, '', { Location: redirect.toString(), ...NO_STORE });
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

function authenticateClient(cfg, req, parsed) {
  if (cfg.family === 'oidc') {
    if (parsed.format !== 'form') {
      throw new OAuthError('invalid_request', 'token request must be application/x-www-form-urlencoded');
    }
    const header = req.headers.authorization;
    if (header === undefined) {
      throw new OAuthError('invalid_client', 'Client authentication failed: client_secret_basic is required');
    }
    const basic = decodeBasic(header);
    if (!basic) throw new OAuthError('invalid_client', 'Client authentication failed: malformed Basic credentials');
    if ('client_secret' in parsed.fields) {
      throw new OAuthError('invalid_client', 'Client authentication failed: more than one authentication method used');
    }
    if ('client_id' in parsed.fields && parsed.fields.client_id !== basic.id) {
      throw new OAuthError('invalid_client', 'Client authentication failed: client_id in body differs from Basic');
    }
    if (basic.id !== CLIENT_ID || basic.secret !== CLIENT_SECRET) {
      throw new OAuthError('invalid_client', 'Client authentication failed');
    }
    return basic.id;
  }
  // Payment providers: JSON body with the credentials inside.
  if (parsed.format !== 'json') {
    throw new OAuthError('invalid_client',
      'Client authentication failed: token request must be a JSON body (application/json) with client_id and client_secret');
  }
  const { client_id: id, client_secret: secret } = parsed.fields;
  if (typeof id !== 'string' || typeof secret !== 'string') {
    throw new OAuthError('invalid_client', 'Client authentication failed: client_id and client_secret are required in the JSON body');
  }
  if (id !== CLIENT_ID || secret !== CLIENT_SECRET) throw new OAuthError('invalid_client', 'Client authentication failed');
  return id;
}

function str(fields, name) {
  const v = fields[name];
  return typeof v === 'string' ? v : undefined;
}

function accessLifetime(cfg) {
  switch (cfg.family) {
    case 'oidc': return 300;
    case 'tropipay': return cfg.expires === 'duration' ? 86400 : 3600;
    default: return 3600;
  }
}

function issueTokens(mode, cfg, { grantId, sub, scope, nonce, authTime, withRefresh, withIdToken }) {
  const now = nowSec();
  const lifetime = accessLifetime(cfg);
  const exp = now + lifetime;
  let accessToken;
  if (cfg.family === 'tropipay') {
    accessToken = signJwt({ alg: 'HS256', typ: 'JWT' },
      { sub: uuidLike(sub), client_id: CLIENT_ID, scope: 'ALLOW_GET_PROFILE_DATA ALLOW_GET_BALANCE', iat: now, exp, jti: b64u(crypto.randomBytes(12)) },
      'HS256', TROPIPAY_HS_SECRET);
  } else {
    accessToken = randomToken('at-');
  }
  accessTokens.set(accessToken, { grantId, mode, sub, scope, exp });
  let refreshToken;
  if (withRefresh) {
    refreshToken = randomToken('rt-');
    refreshTokens.set(refreshToken, { grantId, mode, used: false, exp: now + REFRESH_TTL_S });
  }
  sweep();

  switch (cfg.family) {
    case 'oidc': {
      const out = { access_token: accessToken, token_type: 'Bearer', expires_in: lifetime };
      if (refreshToken) out.refresh_token = refreshToken;
      if (scope) out.scope = scope;
      if (withIdToken) out.id_token = buildIdToken(mode, cfg.idToken, { sub, nonce, accessToken, authTime });
      return out;
    }
    case 'tropipay': {
      const expiresIn = cfg.expires === 'duration' ? '1d' : cfg.expires === 'epoch' ? exp : 3600;
      return {
        access_token: accessToken,
        refresh_token: refreshToken,
        token_type: 'Bearer',
        scope: 'ALLOW_GET_PROFILE_DATA ALLOW_GET_BALANCE',
        expires_in: expiresIn,
      };
    }
    case 'payout': {
      const out = { access_token: accessToken, expires_in: 3600 };
      if (refreshToken) out.refresh_token = refreshToken;
      out.scopes = ['BLAISP', 'verify'];
      return out;
    }
    case 'xendit': {
      const iso = new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const out = {
        token_type: 'Bearer',
        access_token: accessToken,
        scope: scope || 'payments:read',
      };
      if (refreshToken) out.refresh_token = refreshToken;
      out.expires_at = cfg.expiresAt === 'nozone' ? iso.replace(/Z$/, '') : iso;
      return out;
    }
    default:
      throw new Error(`unknown family ${cfg.family}`);
  }
}

function grantAuthorizationCode(mode, cfg, clientId, fields) {
  const code = str(fields, 'code');
  if (!code) throw new OAuthError('invalid_request', 'code is missing');
  const entry = codes.get(code);
  if (!entry || entry.mode !== mode) throw new OAuthError('invalid_grant', 'Authorization code is invalid');
  if (entry.used) {
    // RFC 6749 section 4.1.2: revoke what was issued from a code that is replayed.
    if (entry.grantId) revokeGrant(entry.grantId);
    throw new OAuthError('invalid_grant', 'Authorization code has already been used');
  }
  entry.used = true; // single use, whatever the outcome below
  if (entry.exp < nowSec()) throw new OAuthError('invalid_grant', 'Authorization code has expired');
  if (entry.clientId !== clientId) throw new OAuthError('invalid_grant', 'Authorization code was issued to another client');
  const redirectUri = str(fields, 'redirect_uri');
  if (redirectUri === undefined) throw new OAuthError('invalid_grant', 'redirect_uri is missing');
  if (redirectUri !== entry.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  const verifier = str(fields, 'code_verifier');
  if (verifier === undefined) throw new OAuthError('invalid_grant', 'code_verifier is missing (PKCE)');
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
    throw new OAuthError('invalid_grant', 'code_verifier must be 43 to 128 unreserved characters');
  }
  const computed = b64u(crypto.createHash('sha256').update(verifier, 'ascii').digest());
  if (computed !== entry.codeChallenge) throw new OAuthError('invalid_grant', 'PKCE verification failed');

  entry.grantId = newGrant(mode, entry.sub, entry.scope, entry.authTime);
  return issueTokens(mode, cfg, {
    grantId: entry.grantId,
    sub: entry.sub,
    scope: entry.scope,
    nonce: entry.nonce,
    authTime: entry.authTime,
    withRefresh: true,
    withIdToken: cfg.family === 'oidc',
  });
}

function grantRefreshToken(mode, cfg, fields) {
  const token = str(fields, 'refresh_token');
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is missing');
  const entry = refreshTokens.get(token);
  if (!entry || entry.mode !== mode) throw new OAuthError('invalid_grant', 'Refresh token is invalid');
  if (entry.used) {
    // Reuse of a rotated refresh token: treat as theft, revoke the whole grant.
    revokeGrant(entry.grantId);
    throw new OAuthError('invalid_grant', 'Refresh token has already been used; the grant is revoked');
  }
  if (!grantAlive(entry.grantId)) throw new OAuthError('invalid_grant', 'Grant has been revoked');
  if (entry.exp < nowSec()) throw new OAuthError('invalid_grant', 'Refresh token has expired');
  entry.used = true;
  const g = grants.get(entry.grantId);
  return issueTokens(mode, cfg, {
    grantId: entry.grantId,
    sub: g.sub,
    scope: g.scope,
    nonce: undefined,
    authTime: g.authTime,
    withRefresh: true,
    withIdToken: false, // OIDC Core 12.2: a refresh response might not contain an id_token
  });
}

function grantClientCredentials(mode, cfg, clientId, fields) {
  const scope = str(fields, 'scope') || '';
  const withRefresh = cfg.family === 'tropipay'; // TropiPay returns a refresh token here too
  const grantId = withRefresh ? newGrant(mode, clientId, scope, nowSec()) : null;
  return issueTokens(mode, cfg, { grantId, sub: clientId, scope, authTime: nowSec(), withRefresh, withIdToken: false });
}

const pendingTimers = new Set();

async function handleToken(mode, cfg, req, res) {
  let raw;
  try {
    raw = await readBody(req);
  } catch (e) {
    return send(res, e.status || 400, { error: 'invalid_request', error_description: e.message }, { Connection: 'close' });
  }
  const parsed = parseBody(req.headers['content-type'], raw);
  const grantType = parsed.fields.grant_type;

  countToken(mode, grantType);
  lastTokenRequest[mode] = {
    time: new Date().toISOString(),
    method: req.method,
    path: req.url,
    content_type: req.headers['content-type'] ?? null,
    body_format: parsed.format,
    body: redactBody(parsed.fields),
    ...(parsed.duplicates.length ? { duplicate_fields: parsed.duplicates } : {}),
    ...(parsed.raw !== undefined ? { raw_body_start: parsed.raw } : {}),
    authorization: describeAuthorization(req.headers.authorization),
  };

  if (req.method !== 'POST') {
    return sendOAuthError(res, cfg, new OAuthError('invalid_request', 'token endpoint requires POST', 405), { Allow: 'POST' });
  }

  switch (cfg.token) {
    case 'refuse':
      return send(res, 400, { error: 'invalid_client', error_description: 'Client authentication failed' }, NO_STORE);
    case 'http500': {
      const html = '<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>' +
        '<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>\n';
      return send(res, 500, html, { 'Content-Type': 'text/html; charset=utf-8' });
    }
    case 'garbage':
      return send(res, 200, 'this is not json', { 'Content-Type': 'application/json', ...NO_STORE });
    case 'xendit-error':
      return send(res, 400, { error_code: 'INVALID_GRANT', message: 'Authorization code is invalid' }, NO_STORE);
    case 'payout-error':
      return send(res, 400, { error: 'invalid_grant', errorDescription: 'Authorization code has expired' }, NO_STORE);
    case 'slow': {
      const t = setTimeout(() => {
        pendingTimers.delete(t);
        processToken(mode, cfg, req, res, parsed);
      }, OPTS.slowMs);
      pendingTimers.add(t);
      return undefined;
    }
    default:
      return processToken(mode, cfg, req, res, parsed);
  }
}

function processToken(mode, cfg, req, res, parsed) {
  try {
    if (parsed.duplicates.length) {
      throw new OAuthError('invalid_request', `parameter ${parsed.duplicates[0]} given more than once`);
    }
    const clientId = authenticateClient(cfg, req, parsed);
    const grantType = parsed.fields.grant_type;
    let body;
    if (grantType === undefined || grantType === '') throw new OAuthError('invalid_request', 'grant_type is missing');
    else if (grantType === 'authorization_code') body = grantAuthorizationCode(mode, cfg, clientId, parsed.fields);
    else if (grantType === 'refresh_token') body = grantRefreshToken(mode, cfg, parsed.fields);
    else if (grantType === 'client_credentials') body = grantClientCredentials(mode, cfg, clientId, parsed.fields);
    else throw new OAuthError('unsupported_grant_type', `grant_type ${JSON.stringify(grantType)} is not supported`);
    return send(res, 200, body, NO_STORE);
  } catch (e) {
    if (e instanceof OAuthError) return sendOAuthError(res, cfg, e);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Userinfo / profile

function handleUserinfo(mode, cfg, req, res) {
  bump('userinfo', mode);
  const token = bearerToken(req);
  const entry = token ? accessTokens.get(token) : undefined;
  if (!entry || entry.mode !== mode || entry.exp < nowSec() || !grantAlive(entry.grantId)) {
    const header = token
      ? 'Bearer error="invalid_token", error_description="The access token is invalid or expired"'
      : 'Bearer';
    if (cfg.family === 'xendit') {
      return send(res, 401, { error_code: 'INVALID_TOKEN', message: 'The access token is invalid or expired' }, { 'WWW-Authenticate': header });
    }
    return send(res, 401, { error: 'invalid_token', error_description: 'The access token is invalid or expired' }, { 'WWW-Authenticate': header });
  }
  const claims = userClaims(entry.sub);
  if (cfg.family === 'tropipay') {
    return send(res, 200, {
      id: uuidLike(entry.sub),
      name: entry.sub === DEFAULT_SUB ? 'Fake' : entry.sub,
      surname: 'User',
      email: claims.email,
      kycLevel: 2,
    }, NO_STORE);
  }
  return send(res, 200, { sub: entry.sub, ...claims }, NO_STORE);
}

// ---------------------------------------------------------------------------------------------
// Discovery

function discovery(mode) {
  const iss = issuerOf(mode);
  const algs = MODES[mode].idToken === 'es256' ? ['ES256'] : ['RS256'];
  return {
    issuer: iss,
    authorization_endpoint: `${iss}/authorize`,
    token_endpoint: `${iss}/token`,
    jwks_uri: `${iss}/jwks`,
    userinfo_endpoint: `${iss}/userinfo`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'email', 'profile', 'offline_access'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'email', 'name'],
    authorization_response_iss_parameter_supported: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Router

async function route(req, res) {
  const url = new URL(req.url, `http://${HOST}:${PORT}`);
  const path = url.pathname;

  if (path === '/__health') return send(res, 200, { ok: true });
  if (path === '/__modes') return send(res, 200, { modes: Object.keys(MODES) });
  if (path === '/__stats') return send(res, 200, stats, NO_STORE);
  if (path === '/__stats/reset') {
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { Allow: 'POST' });
    stats = emptyStats();
    lastTokenRequest = {};
    return send(res, 200, { ok: true });
  }
  if (path.startsWith('/__last/')) {
    const mode = decodeURIComponent(path.slice('/__last/'.length));
    if (!(mode in MODES)) return send(res, 404, { error: 'unknown mode', mode });
    const last = lastTokenRequest[mode];
    if (!last) return send(res, 404, { error: 'no token request seen for this mode', mode }, NO_STORE);
    return send(res, 200, last, NO_STORE);
  }

  const m = /^\/([^/]+)(\/.*)$/.exec(path);
  const mode = m ? m[1] : null;
  if (!mode || !Object.prototype.hasOwnProperty.call(MODES, mode)) {
    return send(res, 404, { error: 'not_found', error_description: `unknown mode or path ${path}` });
  }
  const cfg = MODES[mode];
  const sub = m[2];
  const isGet = req.method === 'GET' || req.method === 'HEAD';

  switch (sub) {
    case '/.well-known/openid-configuration':
      if (!mode.startsWith('oidc')) return send(res, 404, { error: 'not_found', error_description: 'no discovery document for this mode' });
      if (!isGet) return send(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
      return send(res, 200, discovery(mode));
    case '/authorize':
      if (!isGet) return send(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
      return handleAuthorize(mode, cfg, url, res);
    case '/token':
      return handleToken(mode, cfg, req, res);
    case '/jwks':
      if (!isGet) return send(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
      if (cfg.jwks === 'with-oct') {
        return send(res, 200, { keys: [...JWKS.keys, OCT_JWK] }, { 'Content-Type': 'application/jwk-set+json' });
      }
      if (cfg.jwks === 'slow') {
        const t = setTimeout(() => {
          pendingTimers.delete(t);
          send(res, 200, JWKS, { 'Content-Type': 'application/jwk-set+json' });
        }, OPTS.slowMs);
        pendingTimers.add(t);
        return undefined;
      }
      return send(res, 200, JWKS, { 'Content-Type': 'application/jwk-set+json' });
    case '/userinfo':
    case '/profile':
      if (!isGet && req.method !== 'POST') return send(res, 405, { error: 'method not allowed' }, { Allow: 'GET, POST' });
      return handleUserinfo(mode, cfg, req, res);
    default:
      return send(res, 404, { error: 'not_found', error_description: `unknown path ${path}` });
  }
}

const server = http.createServer((req, res) => {
  if (OPTS.verbose) {
    res.on('finish', () => process.stderr.write(`fakeidp: ${req.method} ${req.url} -> ${res.statusCode}\n`));
  }
  Promise.resolve()
    .then(() => route(req, res))
    .catch((e) => {
      process.stderr.write(`fakeidp: internal error on ${req.method} ${req.url}: ${e && e.stack}\n`);
      send(res, 500, { error: 'server_error', error_description: String(e && e.message) });
    });
});
server.requestTimeout = 15000;
server.headersTimeout = 10000;
server.keepAliveTimeout = 5000;

shutdownHook = () => {
  for (const t of pendingTimers) clearTimeout(t);
  pendingTimers.clear();
  server.close();
  server.closeAllConnections();
};

server.on('error', (e) => {
  process.stderr.write(`fakeidp: ${e.code === 'EADDRINUSE' ? `port ${OPTS.port} is in use` : e.message}\n`);
  process.exit(1);
});

server.listen(OPTS.port, HOST, () => {
  PORT = server.address().port;
  if (OPTS.maxSeconds > 0) {
    setTimeout(() => {
      process.stderr.write(`fakeidp: --max-seconds ${OPTS.maxSeconds} reached, exiting\n`);
      shutdown(0);
    }, OPTS.maxSeconds * 1000).unref();
  }
  process.stderr.write(`fakeidp: listening on http://${HOST}:${PORT}\n`);
  process.stdout.write('ready\n');
});
