// SPDX-License-Identifier: Apache-2.0
// Licensed under the Apache License, Version 2.0 (see LICENSE).
// Self test of the fake IdP: node --test test/fakeidp/selftest.mjs
// Starts server.mjs on a free loopback port and drives every mode with fetch.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const CLIENT_ID = 'fake-client';
const CLIENT_SECRET = 'fake-secret';
const REDIRECT = 'http://127.0.0.1:9/callback?keep=1';
const FETCH_TIMEOUT_MS = 15000;

const OIDC_ID_TOKEN_MODES = {
  // mode -> expected verdict of a careful RP-side validator
  'oidc': 'ok',
  'oidc-es256': 'ok',
  'oidc-slow': 'ok',
  'oidc-badsig': 'bad signature',
  'oidc-wrongiss': 'wrong iss',
  'oidc-wrongaud': 'wrong aud',
  'oidc-expired': 'expired',
  'oidc-future-iat': 'iat in the future',
  'oidc-badnonce': 'nonce mismatch',
  'oidc-nonce-missing': 'nonce missing',
  'oidc-alg-none': 'alg not allowed',
  'oidc-hs-confusion': 'alg not allowed',
  'oidc-unknown-kid': 'unknown kid',
  'oidc-hs-jwks-oct': 'alg not allowed',
  'oidc-slow-jwks': 'ok',
};
const ALL_MODES = [
  ...Object.keys(OIDC_ID_TOKEN_MODES), 'oidc-refuse', 'oidc-500', 'oidc-garbage', 'denied', 'denied-xss',
  'tropipay', 'tropipay-epoch', 'tropipay-seconds', 'payout', 'payout-denied', 'payout-error', 'xendit', 'xendit-nozone', 'xendit-error',
];

let proc;
let base;
let port;

before(async () => {
  proc = spawn(process.execPath, [SERVER, '--port', '0', '--max-seconds', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not become ready: ${out} ${err}`)), 10000);
    const check = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (/^ready$/m.test(out) && m) {
        clearTimeout(timer);
        port = Number(m[1]);
        resolve();
      }
    };
    proc.stdout.on('data', (d) => { out += d; check(); });
    proc.stderr.on('data', (d) => { err += d; check(); });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${err}`)); });
  });
  proc.removeAllListeners('exit');
  proc.stdout.resume();
  proc.stderr.resume();
  base = `http://127.0.0.1:${port}`;
});

after(() => {
  if (proc && proc.exitCode === null) proc.kill('SIGTERM');
});

// ---------------------------------------------------------------------------------------------
// helpers

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const familyOf = (mode) => (mode.startsWith('tropipay') ? 'tropipay'
  : mode.startsWith('payout') ? 'payout'
    : mode.startsWith('xendit') ? 'xendit' : 'oidc');

function pkce() {
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

async function get(path, init = {}) {
  return fetch(`${base}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), ...init });
}

async function getJson(path, init) {
  const res = await get(path, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

function authorizeUrl(mode, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/${mode}/authorize?${q}`;
}

function defaultAuthParams(extra = {}) {
  const { verifier, challenge } = pkce();
  const params = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    state: b64u(crypto.randomBytes(12)),
    nonce: b64u(crypto.randomBytes(12)),
    scope: 'openid email profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  return { params, verifier };
}

// Runs the authorize step and returns the parsed redirect.
async function login(mode, extra = {}) {
  const { params, verifier } = defaultAuthParams(extra);
  const res = await get(authorizeUrl(mode, params));
  await res.arrayBuffer();
  assert.equal(res.status, 302, `${mode}: authorize status`);
  const loc = new URL(res.headers.get('location'));
  assert.equal(`${loc.origin}${loc.pathname}`, 'http://127.0.0.1:9/callback', `${mode}: redirect target`);
  assert.equal(loc.searchParams.get('keep'), '1', `${mode}: existing query kept`);
  assert.equal(loc.searchParams.get('state'), params.state, `${mode}: state echoed`);
  assert.equal(loc.searchParams.get('iss'), `${base}/${mode}`, `${mode}: iss parameter`);
  return { code: loc.searchParams.get('code'), loc, verifier, params };
}

// Sends a token request the way the given style says.
//   basic: form body + client_secret_basic       post: form body + client_secret_post
//   json:  JSON body with credentials inside      json-basic: JSON body, credentials in Basic only
async function tokenRequest(mode, fields, style, { id = CLIENT_ID, secret = CLIENT_SECRET } = {}) {
  const headers = {};
  let body;
  fields = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  if (style === 'basic' || style === 'post') {
    const f = { ...fields };
    if (style === 'basic') {
      headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    } else if (style === 'post') {
      f.client_id = id;
      f.client_secret = secret;
    }
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(f).toString();
  } else if (style === 'json' || style === 'json-basic') {
    const f = { ...fields };
    if (style === 'json') {
      f.client_id = id;
      f.client_secret = secret;
    } else {
      headers.Authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    }
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(f);
  } else {
    throw new Error(`unknown style ${style}`);
  }
  return getJson(`/${mode}/token`, { method: 'POST', headers, body });
}

const styleFor = (mode) => (familyOf(mode) === 'oidc' ? 'basic' : 'json');

async function exchange(mode, lg, overrides = {}, style = styleFor(mode)) {
  return tokenRequest(mode, {
    grant_type: 'authorization_code',
    code: lg.code,
    redirect_uri: lg.params.redirect_uri,
    code_verifier: lg.verifier,
    ...overrides,
  }, style);
}

let jwksCache;
async function jwks() {
  if (!jwksCache) jwksCache = (await getJson('/oidc/jwks')).json;
  return jwksCache;
}

// A careful relying-party ID token validator: returns 'ok' or the first reason to reject.
async function validateIdToken(jwt, { issuer, nonce }) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'malformed';
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  const sig = Buffer.from(parts[2], 'base64url');
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  if (!['RS256', 'ES256'].includes(header.alg)) return 'alg not allowed';
  const jwk = (await jwks()).keys.find((k) => k.kid === header.kid);
  if (!jwk) return 'unknown kid';
  if (jwk.alg !== header.alg) return 'alg not allowed';
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const ok = header.alg === 'RS256'
    ? crypto.verify('sha256', input, key, sig)
    : crypto.verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) return 'bad signature';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== issuer) return 'wrong iss';
  if (claims.aud !== CLIENT_ID && !(Array.isArray(claims.aud) && claims.aud.includes(CLIENT_ID))) return 'wrong aud';
  if (typeof claims.exp !== 'number' || claims.exp < now - 60) return 'expired';
  if (typeof claims.iat !== 'number' || claims.iat > now + 60) return 'iat in the future';
  if (!('nonce' in claims)) return 'nonce missing';
  if (claims.nonce !== nonce) return 'nonce mismatch';
  return 'ok';
}

function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

// ---------------------------------------------------------------------------------------------
// tests

test('health, modes and unknown paths', async () => {
  const h = await getJson('/__health');
  assert.equal(h.status, 200);
  const m = await getJson('/__modes');
  assert.deepEqual([...m.json.modes].sort(), [...ALL_MODES].sort());
  assert.equal((await getJson('/nope/authorize')).status, 404);
  assert.equal((await getJson('/oidc/nope')).status, 404);
});

test('discovery only for oidc* modes, JWKS has fake-rsa and fake-ec', async () => {
  for (const mode of ALL_MODES) {
    const d = await getJson(`/${mode}/.well-known/openid-configuration`);
    if (!mode.startsWith('oidc')) {
      assert.equal(d.status, 404, mode);
      continue;
    }
    assert.equal(d.status, 200, mode);
    const iss = `${base}/${mode}`;
    assert.equal(d.json.issuer, iss);
    assert.equal(d.json.authorization_endpoint, `${iss}/authorize`);
    assert.equal(d.json.token_endpoint, `${iss}/token`);
    assert.equal(d.json.jwks_uri, `${iss}/jwks`);
    assert.equal(d.json.userinfo_endpoint, `${iss}/userinfo`);
    assert.deepEqual(d.json.response_types_supported, ['code']);
    assert.deepEqual(d.json.code_challenge_methods_supported, ['S256']);
    assert.ok(Array.isArray(d.json.id_token_signing_alg_values_supported));
  }
  const k = await getJson('/tropipay/jwks');
  assert.equal(k.status, 200);
  const byKid = Object.fromEntries(k.json.keys.map((x) => [x.kid, x]));
  assert.equal(byKid['fake-rsa'].kty, 'RSA');
  assert.equal(byKid['fake-ec'].kty, 'EC');
  assert.equal(byKid['fake-ec'].crv, 'P-256');
  for (const key of k.json.keys) assert.ok(!('d' in key), 'no private parts in JWKS');
});

test('authorize rejects missing or bad parameters with 400 JSON', async () => {
  const cases = [
    ['response_type', undefined], ['response_type', 'token'], ['client_id', undefined], ['client_id', 'someone'],
    ['redirect_uri', undefined], ['redirect_uri', 'not a url'], ['state', undefined], ['code_challenge', undefined],
    ['code_challenge', 'short'], ['code_challenge_method', undefined], ['code_challenge_method', 'plain'],
  ];
  for (const [name, value] of cases) {
    const { params } = defaultAuthParams({ [name]: value });
    const r = await getJson(authorizeUrl('oidc', params));
    assert.equal(r.status, 400, `${name}=${value}`);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.equal(typeof r.json.error, 'string', `${name}=${value}`);
  }
  // Also for the denied modes: validation comes first.
  const { params } = defaultAuthParams({ state: undefined });
  assert.equal((await getJson(authorizeUrl('denied', params))).status, 400);
});

test('denied and denied-xss redirect with an error', async () => {
  for (const [mode, desc] of [['denied', 'The user said no'], ['denied-xss', '<script>alert(1)</script>']]) {
    const lg = await login(mode);
    assert.equal(lg.code, null);
    assert.equal(lg.loc.searchParams.get('error'), 'access_denied');
    assert.equal(lg.loc.searchParams.get('error_description'), desc);
  }
  const lg = await login('denied');
  assert.match(lg.loc.search, /error_description=The\+user\+said\+no/);
});

test('payout-denied and payout-error say errorDescription (PayoutID casing)', async () => {
  const lg = await login('payout-denied');
  assert.equal(lg.code, null);
  assert.equal(lg.loc.searchParams.get('error'), 'access_denied');
  assert.equal(lg.loc.searchParams.get('errorDescription'), 'The user declined the consent');
  assert.equal(lg.loc.searchParams.get('error_description'), null);
  const ok = await login('payout-error');
  assert.ok(ok.code);
  const r = await exchange('payout-error', ok);
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { error: 'invalid_grant', errorDescription: 'Authorization code has expired' });
});

test('every oidc ID-token mode: exchange works and the ID token verifies or deliberately does not', async () => {
  for (const [mode, verdict] of Object.entries(OIDC_ID_TOKEN_MODES)) {
    if (mode === 'oidc-slow') continue; // own test below
    const lg = await login(mode);
    assert.ok(lg.code, `${mode}: code`);
    const r = await exchange(mode, lg);
    assert.equal(r.status, 200, `${mode}: ${r.text}`);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const t = r.json;
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.expires_in, 300);
    assert.equal(typeof t.access_token, 'string');
    assert.equal(typeof t.refresh_token, 'string');
    assert.equal(typeof t.id_token, 'string');
    const got = await validateIdToken(t.id_token, { issuer: `${base}/${mode}`, nonce: lg.params.nonce });
    assert.equal(got, verdict, `${mode}: validator verdict`);

    const { header, claims } = decodeJwt(t.id_token);
    assert.equal(claims.sub, 'fake-user-1');
    assert.equal(claims.email, 'fake-user-1@example.com');
    assert.equal(typeof claims.name, 'string');
    const now = Math.floor(Date.now() / 1000);
    switch (mode) {
      case 'oidc':
        assert.deepEqual([header.alg, header.kid], ['RS256', 'fake-rsa']);
        assert.equal(claims.aud, CLIENT_ID);
        assert.ok(Math.abs(claims.exp - (now + 300)) <= 5);
        assert.equal(claims.at_hash, b64u(crypto.createHash('sha256').update(t.access_token).digest().subarray(0, 16)));
        break;
      case 'oidc-es256': assert.deepEqual([header.alg, header.kid], ['ES256', 'fake-ec']); break;
      case 'oidc-wrongiss': assert.equal(claims.iss, `http://127.0.0.1:${port}/somebody-else`); break;
      case 'oidc-wrongaud': assert.equal(claims.aud, 'another-client'); break;
      case 'oidc-expired':
        assert.ok(Math.abs(claims.exp - (now - 3600)) <= 5);
        assert.ok(Math.abs(claims.iat - (now - 7200)) <= 5);
        break;
      case 'oidc-future-iat': assert.ok(Math.abs(claims.iat - (now + 3600)) <= 5); break;
      case 'oidc-badnonce': assert.equal(claims.nonce, 'not-the-nonce'); break;
      case 'oidc-nonce-missing': assert.ok(!('nonce' in claims)); break;
      case 'oidc-alg-none':
        assert.deepEqual(header, { alg: 'none' });
        assert.equal(t.id_token.split('.')[2], '');
        break;
      case 'oidc-hs-confusion': {
        assert.deepEqual([header.alg, header.kid], ['HS256', 'fake-rsa']);
        // The forged token really is an HMAC keyed with the RSA public key's PEM text:
        const jwk = (await jwks()).keys.find((k) => k.kid === 'fake-rsa');
        const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        const [h, p, s] = t.id_token.split('.');
        assert.equal(b64u(crypto.createHmac('sha256', pem).update(`${h}.${p}`).digest()), s);
        break;
      }
      case 'oidc-unknown-kid': assert.equal(header.kid, 'rotated-away'); break;
      case 'oidc-badsig': {
        // same header and claims shape as a good token, only the signature is broken
        assert.deepEqual([header.alg, header.kid], ['RS256', 'fake-rsa']);
        assert.equal(claims.nonce, lg.params.nonce);
        break;
      }
      default: break;
    }
  }
});

test('oidc-slow answers normally after about 5 s', async () => {
  const lg = await login('oidc-slow');
  const t0 = Date.now();
  const r = await exchange('oidc-slow', lg);
  const took = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.ok(took >= 4900 && took < 9000, `took ${took} ms`);
  assert.equal(await validateIdToken(r.json.id_token, { issuer: `${base}/oidc-slow`, nonce: lg.params.nonce }), 'ok');
});

test('oidc-refuse, oidc-500, oidc-garbage, xendit-error token endpoints', async () => {
  for (const mode of ['oidc-refuse', 'oidc-500', 'oidc-garbage', 'xendit-error']) {
    const lg = await login(mode);
    assert.ok(lg.code, mode);
    const r = await exchange(mode, lg);
    switch (mode) {
      case 'oidc-refuse':
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, { error: 'invalid_client', error_description: 'Client authentication failed' });
        break;
      case 'oidc-500':
        assert.equal(r.status, 500);
        assert.match(r.headers.get('content-type'), /text\/html/);
        assert.match(r.text, /<html>/);
        break;
      case 'oidc-garbage':
        assert.equal(r.status, 200);
        assert.equal(r.text, 'this is not json');
        break;
      case 'xendit-error':
        assert.equal(r.status, 400);
        assert.deepEqual(r.json, { error_code: 'INVALID_GRANT', message: 'Authorization code is invalid' });
        break;
      default: break;
    }
    // The misbehaviour covers every grant type.
    const rr = await tokenRequest(mode, { grant_type: 'client_credentials' }, styleFor(mode));
    assert.equal(rr.status, r.status, `${mode} client_credentials`);
  }
});

test('oidc token endpoint: code single use, redirect_uri, PKCE, client authentication', async () => {
  let lg = await login('oidc');
  assert.equal((await exchange('oidc', lg)).status, 200);
  let r = await exchange('oidc', lg);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant', 'code reuse');

  lg = await login('oidc');
  r = await exchange('oidc', lg, { redirect_uri: 'http://127.0.0.1:9/other' });
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], 'redirect_uri mismatch');

  lg = await login('oidc');
  r = await exchange('oidc', lg, { code_verifier: pkce().verifier });
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], 'wrong verifier');

  lg = await login('oidc');
  r = await exchange('oidc', lg, { code_verifier: undefined });
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], 'missing verifier');

  lg = await login('oidc');
  r = await exchange('oidc', lg, {}, 'post');
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_client'], 'client_secret_post is not what oidc expects');

  lg = await login('oidc');
  r = await exchange('oidc', lg, {}, 'json-basic');
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_request'], 'JSON body refused by oidc');

  lg = await login('oidc');
  r = await tokenRequest('oidc', { grant_type: 'authorization_code', code: lg.code, redirect_uri: REDIRECT, code_verifier: lg.verifier },
    'basic', { secret: 'wrong' });
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_client'], 'wrong secret');

  r = await tokenRequest('oidc', { grant_type: 'authorization_code', code: 'c-does-not-exist', redirect_uri: REDIRECT, code_verifier: lg.verifier }, 'basic');
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], 'unknown code');

  r = await tokenRequest('oidc', { grant_type: 'password' }, 'basic');
  assert.deepEqual([r.status, r.json.error], [400, 'unsupported_grant_type']);

  // a code from one mode is not valid at another
  lg = await login('oidc');
  r = await exchange('oidc-es256', lg);
  assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], 'cross-mode code');
});

test('login_hint becomes the sub; userinfo and profile', async () => {
  const lg = await login('oidc', { login_hint: 'alice' });
  const t = (await exchange('oidc', lg)).json;
  assert.equal(decodeJwt(t.id_token).claims.sub, 'alice');
  for (const p of ['userinfo', 'profile']) {
    const u = await getJson(`/oidc/${p}`, { headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(u.status, 200);
    assert.deepEqual(u.json, { sub: 'alice', email: 'alice@example.com', name: 'Fake alice' });
    const bad = await getJson(`/oidc/${p}`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate'), /^Bearer/);
    assert.equal((await getJson(`/oidc/${p}`)).status, 401);
  }
  // a token is only good at the mode that issued it
  assert.equal((await getJson('/oidc-es256/userinfo', { headers: { Authorization: `Bearer ${t.access_token}` } })).status, 401);
});

test('refresh tokens rotate; reuse is rejected and revokes the grant (every family)', async () => {
  for (const mode of ['oidc', 'oidc-es256', 'tropipay', 'tropipay-epoch', 'tropipay-seconds', 'payout', 'xendit', 'xendit-nozone']) {
    const style = styleFor(mode);
    const lg = await login(mode);
    const first = await exchange(mode, lg);
    assert.equal(first.status, 200, `${mode}: ${first.text}`);
    const rt1 = first.json.refresh_token;
    assert.equal(typeof rt1, 'string', mode);

    const second = await tokenRequest(mode, { grant_type: 'refresh_token', refresh_token: rt1 }, style);
    assert.equal(second.status, 200, `${mode}: ${second.text}`);
    const rt2 = second.json.refresh_token;
    assert.equal(typeof rt2, 'string');
    assert.notEqual(rt2, rt1, `${mode}: rotated`);
    assert.notEqual(second.json.access_token, first.json.access_token);
    assert.ok(!('id_token' in second.json), `${mode}: no id_token on refresh`);

    // still usable before the reuse
    const ui = await getJson(`/${mode}/userinfo`, { headers: { Authorization: `Bearer ${second.json.access_token}` } });
    assert.equal(ui.status, 200, mode);

    const reuse = await tokenRequest(mode, { grant_type: 'refresh_token', refresh_token: rt1 }, style);
    assert.equal(reuse.status, 400, mode);
    if (familyOf(mode) === 'xendit') assert.equal(reuse.json.error_code, 'INVALID_GRANT');
    else assert.equal(reuse.json.error, 'invalid_grant');

    // the whole grant is gone now
    const afterReuse = await tokenRequest(mode, { grant_type: 'refresh_token', refresh_token: rt2 }, style);
    assert.equal(afterReuse.status, 400, `${mode}: newest refresh token revoked too`);
    const ui2 = await getJson(`/${mode}/userinfo`, { headers: { Authorization: `Bearer ${second.json.access_token}` } });
    assert.equal(ui2.status, 401, `${mode}: access token revoked with the grant`);
  }
});

test('client_credentials for every family', async () => {
  for (const mode of ['oidc', 'tropipay', 'payout', 'xendit']) {
    const r = await tokenRequest(mode, { grant_type: 'client_credentials', scope: 'a b' }, styleFor(mode));
    assert.equal(r.status, 200, `${mode}: ${r.text}`);
    assert.equal(typeof r.json.access_token, 'string');
    assert.ok(!('id_token' in r.json));
    if (mode === 'tropipay') assert.equal(typeof r.json.refresh_token, 'string', 'TropiPay returns a refresh token here');
  }
});

test('payment modes require a JSON body with credentials inside', async () => {
  for (const mode of ['tropipay', 'tropipay-epoch', 'tropipay-seconds', 'payout', 'xendit', 'xendit-nozone']) {
    const xendit = familyOf(mode) === 'xendit';
    const expectClientError = (r, what) => {
      assert.equal(r.status, 400, `${mode} ${what}: ${r.text}`);
      if (xendit) assert.equal(r.json.error_code, 'INVALID_CLIENT', `${mode} ${what}`);
      else assert.equal(r.json.error, 'invalid_client', `${mode} ${what}`);
    };
    for (const style of ['basic', 'post', 'json-basic']) {
      const lg = await login(mode);
      expectClientError(await exchange(mode, lg, {}, style), style);
    }
    let lg = await login(mode);
    expectClientError(await tokenRequest(mode, { grant_type: 'authorization_code', code: lg.code, redirect_uri: REDIRECT, code_verifier: lg.verifier },
      'json', { secret: 'wrong' }), 'wrong secret');

    lg = await login(mode);
    const r = await exchange(mode, lg, {}, 'json');
    assert.equal(r.status, 200, `${mode}: ${r.text}`);
    assert.ok(!('id_token' in r.json));

    const last = (await getJson(`/__last/${mode}`)).json;
    assert.equal(last.method, 'POST');
    assert.equal(last.content_type, 'application/json');
    assert.equal(last.body_format, 'json');
    assert.equal(last.body.client_id, CLIENT_ID);
    assert.equal(last.body.client_secret, '<present>');
    assert.equal(last.body.code_verifier, lg.verifier);
    assert.deepEqual(last.authorization, { present: false, scheme: null });

    if (xendit) {
      const bad = await exchange(mode, lg, {}, 'json'); // code already used
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error_code, 'INVALID_GRANT');
      assert.equal(typeof bad.json.message, 'string');
    }
  }
});

test('tropipay response shapes and profile', async () => {
  const now = () => Math.floor(Date.now() / 1000);
  for (const [mode, expect] of [['tropipay', '1d'], ['tropipay-epoch', 'epoch'], ['tropipay-seconds', 3600]]) {
    const lg = await login(mode, { scope: 'ALLOW_GET_PROFILE_DATA ALLOW_GET_BALANCE' });
    const t = (await exchange(mode, lg)).json;
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.scope, 'ALLOW_GET_PROFILE_DATA ALLOW_GET_BALANCE');
    assert.equal(typeof t.refresh_token, 'string');
    const { header, claims } = decodeJwt(t.access_token);
    assert.equal(header.alg, 'HS256');
    if (expect === 'epoch') {
      assert.equal(typeof t.expires_in, 'number');
      assert.ok(Math.abs(t.expires_in - (now() + 3600)) <= 5);
      assert.equal(t.expires_in, claims.exp, 'epoch equals the JWT exp');
    } else {
      assert.equal(t.expires_in, expect);
    }
    const p = await getJson(`/${mode}/profile`, { headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(p.status, 200);
    assert.match(p.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(p.json.kycLevel, 2);
    for (const f of ['name', 'surname', 'email']) assert.equal(typeof p.json[f], 'string');
    assert.ok(!('sub' in p.json));
  }
});

test('payout and xendit response shapes', async () => {
  let lg = await login('payout');
  const p = (await exchange('payout', lg)).json;
  assert.equal(p.expires_in, 3600);
  assert.deepEqual(p.scopes, ['BLAISP', 'verify']);
  assert.ok(!('token_type' in p));
  assert.equal(typeof p.refresh_token, 'string');

  for (const mode of ['xendit', 'xendit-nozone']) {
    lg = await login(mode, { scope: 'invoices:read' });
    const x = (await exchange(mode, lg)).json;
    assert.equal(x.token_type, 'Bearer');
    assert.equal(x.scope, 'invoices:read');
    assert.ok(!('expires_in' in x));
    if (mode === 'xendit') {
      assert.match(x.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Math.abs(Date.parse(x.expires_at) - (Date.now() + 3600e3)) < 5000);
    } else {
      assert.match(x.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      assert.ok(Math.abs(Date.parse(`${x.expires_at}Z`) - (Date.now() + 3600e3)) < 5000, 'UTC wall time without zone');
    }
    const bad = await getJson(`/${mode}/userinfo`, { headers: { Authorization: 'Bearer nope' } });
    assert.deepEqual([bad.status, bad.json.error_code], [401, 'INVALID_TOKEN']);
  }
});

test('every mode: authorize redirect + token exchange outcome', async () => {
  const expectStatus = {
    'oidc-refuse': 400, 'oidc-500': 500, 'oidc-garbage': 200, 'xendit-error': 400, 'payout-error': 400,
  };
  for (const mode of ALL_MODES) {
    if (mode === 'oidc-slow') continue; // covered (and timed) above
    const lg = await login(mode);
    if (mode.startsWith('denied') || mode === 'payout-denied') {
      assert.equal(lg.loc.searchParams.get('error'), 'access_denied', mode);
      continue;
    }
    assert.match(lg.code, /^[A-Za-z0-9_-]{20,}$/, mode);
    const r = await exchange(mode, lg);
    assert.equal(r.status, expectStatus[mode] ?? 200, `${mode}: ${r.text}`);
    if (!(mode in expectStatus)) {
      assert.equal(typeof r.json.access_token, 'string', mode);
      const u = await getJson(`/${mode}/userinfo`, { headers: { Authorization: `Bearer ${r.json.access_token}` } });
      assert.equal(u.status, 200, mode);
    }
  }
});

test('__stats counts and __last records the encoding', async () => {
  assert.equal((await getJson('/__stats/reset', { method: 'POST' })).status, 200);
  const s0 = (await getJson('/__stats')).json;
  assert.equal(s0.total, 0);
  assert.equal((await getJson('/__last/oidc')).status, 404);

  const lg = await login('oidc');
  const t = (await exchange('oidc', lg)).json;
  await tokenRequest('oidc', { grant_type: 'refresh_token', refresh_token: t.refresh_token }, 'basic');
  await tokenRequest('payout', { grant_type: 'client_credentials' }, 'json');

  const s = (await getJson('/__stats')).json;
  assert.equal(s.total, 3);
  assert.deepEqual(s.by_mode, { oidc: 2, payout: 1 });
  assert.deepEqual(s.by_grant_type, { authorization_code: 1, refresh_token: 1, client_credentials: 1 });
  assert.deepEqual(s.by_mode_and_grant_type.oidc, { authorization_code: 1, refresh_token: 1 });
  assert.equal(s.authorize.oidc, 1);

  const last = (await getJson('/__last/oidc')).json;
  assert.equal(last.method, 'POST');
  assert.equal(last.content_type, 'application/x-www-form-urlencoded');
  assert.equal(last.body_format, 'form');
  assert.equal(last.body.grant_type, 'refresh_token');
  assert.equal(last.body.refresh_token, t.refresh_token);
  assert.deepEqual(last.authorization, { present: true, scheme: 'Basic', basic_client_id: CLIENT_ID, basic_secret: '<present>' });

  await exchange('oidc', await login('oidc'), {}, 'post');
  const lastPost = (await getJson('/__last/oidc')).json;
  assert.equal(lastPost.body.client_secret, '<present>');
  assert.equal(lastPost.body.client_id, CLIENT_ID);
  assert.equal(lastPost.authorization.present, false);
  assert.ok(!JSON.stringify(lastPost).includes(CLIENT_SECRET), 'secret never echoed');
});

test('oversized token request body gets 413', async () => {
  const r = await getJson('/tropipay/token', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pad: 'a'.repeat(70000) }),
  });
  assert.equal(r.status, 413);
  assert.equal((await getJson('/__health')).status, 200);
});
