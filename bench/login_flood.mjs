// SPDX-License-Identifier: Apache-2.0
// Licensed under the Apache License, Version 2.0 (see LICENSE).
// login_flood.mjs: many complete logins through mod_tp_oauth and test/fakeidp's `oidc` mode
// (the provider logs the user in by itself), with a bounded number in flight.
//
//   node bench/login_flood.mjs --url http://127.0.0.1:P/fake/bench.html --cookie tpo_fake
//        --count N [--concurrency C] [--marker TEXT] [--cookies-out FILE] [--max-seconds S]
//        [--no-page] [--times-out FILE]
//   node bench/login_flood.mjs --token-probe --authorize URL --token URL --redirect-uri URI
//        --count N                      (times the fake provider's token endpoint alone)
//
// One login = 4 requests, like a browser: GET the protected page (302 to the provider's authorize
// endpoint, sets <cookie>_login_<tag>), GET authorize (302 back to the redirect URI with code and
// state), GET the redirect URI (the module exchanges the code at the token endpoint, checks the
// ID token, opens a session: 302 + Set-Cookie <cookie>), GET the page again with the session
// cookie (200 and the page must contain --marker). Cookies are kept per login, by hand.
// --no-page leaves out the last request, so the new session is never read (a read marks a cache
// entry as recently used, which changes which entry the cache evicts first).
// --times-out writes, line by line like --cookies-out, when each session was opened (epoch ms).
// --users N: login i is user-<i mod N> (login_hint at the fake provider's authorize endpoint, which
// makes it the sub); --users-out FILE writes "user sid" per opened session.
//
// Prints one JSON object on stdout: counts, elapsed seconds, logins/s, per-step timings (ms).
// Loopback only; every request has a timeout; the whole run stops after --max-seconds.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    url: { type: 'string', default: '' },
    cookie: { type: 'string', default: 'tp_oauth_idp' },
    count: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    marker: { type: 'string', default: '' },
    'cookies-out': { type: 'string', default: '' },
    'times-out': { type: 'string', default: '' },
    users: { type: 'string', default: '0' },
    'users-out': { type: 'string', default: '' },
    'max-seconds': { type: 'string', default: '600' },
    'max-failures': { type: 'string', default: '20' },
    'request-timeout': { type: 'string', default: '30' },
    'no-page': { type: 'boolean', default: false },
    'token-probe': { type: 'boolean', default: false },
    authorize: { type: 'string', default: '' },
    token: { type: 'string', default: '' },
    'redirect-uri': { type: 'string', default: '' },
    'client-id': { type: 'string', default: 'fake-client' },
    'client-secret': { type: 'string', default: 'fake-secret' },
  },
  strict: true,
});

const COUNT = Number.parseInt(o.count, 10);
const CONC = Math.max(1, Math.min(Number.parseInt(o.concurrency, 10), COUNT || 1));
const MAX_MS = Number.parseFloat(o['max-seconds']) * 1000;
const MAX_FAIL = Number.parseInt(o['max-failures'], 10);
const REQ_TIMEOUT_MS = Number.parseFloat(o['request-timeout']) * 1000;
const USERS = Number.parseInt(o.users, 10) || 0;
const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC * 2, maxFreeSockets: CONC * 2 });

function loopbackOnly(u) {
  const url = new URL(u);
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new Error(`not a loopback http URL: ${u}`);
  }
  return url;
}

// One HTTP request; resolves {status, headers, body (string)}. Never follows redirects.
function request(method, urlStr, headers = {}, body = null) {
  const url = loopbackOnly(urlStr);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent,
      headers: { 'User-Agent': 'tpo-bench/1.0', ...headers },
      timeout: REQ_TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${REQ_TIMEOUT_MS} ms: ${method} ${urlStr}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function storeCookies(jar, res) {
  for (const sc of res.headers['set-cookie'] || []) {
    const pair = sc.split(';', 1)[0];
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    // an expired / emptied cookie is a deletion
    if (value === '' || /;\s*max-age=0/i.test(sc) || /expires=thu, 01 jan 1970/i.test(sc)) jar.delete(name);
    else jar.set(name, value);
  }
}

function cookieHeader(jar) {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

function expect(cond, what, res) {
  if (!cond) {
    const detail = res ? ` (status ${res.status}, location ${res.headers.location || '-'}, body ${JSON.stringify(res.body.slice(0, 200))})` : '';
    throw new Error(what + detail);
  }
}

const ms = () => Number(process.hrtime.bigint()) / 1e6;

async function oneLogin(timings, opened, i) {
  const jar = new Map();
  const page = o.url;
  let t = ms();
  let r = await request('GET', page, { Accept: HTML_ACCEPT });
  timings.start.push(ms() - t);
  expect(r.status === 302 && r.headers.location, 'protected page: expected 302 to the provider', r);
  storeCookies(jar, r);
  const authorizeUrl = new URL(r.headers.location, page);
  if (USERS > 0) authorizeUrl.searchParams.set('login_hint', `user-${i % USERS}`);
  const authorize = authorizeUrl.toString();

  t = ms();
  r = await request('GET', authorize, { Accept: HTML_ACCEPT });
  timings.authorize.push(ms() - t);
  expect(r.status === 302 && r.headers.location, 'authorize: expected 302 back to the redirect URI', r);
  const callback = new URL(r.headers.location, authorize).toString();

  t = ms();
  r = await request('GET', callback, { Accept: HTML_ACCEPT, Cookie: cookieHeader(jar) });
  timings.callback.push(ms() - t);
  expect(r.status === 302 && r.headers.location, 'redirect URI: expected 302 to the page', r);
  storeCookies(jar, r);
  const sid = jar.get(o.cookie);
  expect(sid, `redirect URI: no ${o.cookie} cookie set`, r);
  opened[i] = Date.now();
  const back = new URL(r.headers.location, callback).toString();
  if (o['no-page']) return sid;  // the session is never read (see --no-page)

  t = ms();
  r = await request('GET', back, { Accept: HTML_ACCEPT, Cookie: `${o.cookie}=${sid}` });
  timings.page.push(ms() - t);
  expect(r.status === 200, 'page with the new session: expected 200', r);
  expect(!o.marker || r.body.includes(o.marker), 'page with the new session: content marker missing', r);
  return sid;
}

const b64url = (buf) => buf.toString('base64url');

async function oneTokenProbe(timings) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const a = new URL(o.authorize);
  a.searchParams.set('response_type', 'code');
  a.searchParams.set('client_id', o['client-id']);
  a.searchParams.set('redirect_uri', o['redirect-uri']);
  a.searchParams.set('scope', 'openid email');
  a.searchParams.set('state', b64url(randomBytes(16)));
  a.searchParams.set('nonce', b64url(randomBytes(16)));
  a.searchParams.set('code_challenge', challenge);
  a.searchParams.set('code_challenge_method', 'S256');
  let r = await request('GET', a.toString());
  expect(r.status === 302, 'authorize: expected 302', r);
  const code = new URL(r.headers.location).searchParams.get('code');
  expect(code, 'authorize: no code', r);
  const form = new URLSearchParams({ grant_type: 'authorization_code', code,
    redirect_uri: o['redirect-uri'], code_verifier: verifier }).toString();
  const basic = Buffer.from(`${encodeURIComponent(o['client-id'])}:${encodeURIComponent(o['client-secret'])}`).toString('base64');
  const t = ms();
  r = await request('POST', o.token, { 'Content-Type': 'application/x-www-form-urlencoded',
    Authorization: `Basic ${basic}`, 'Content-Length': Buffer.byteLength(form) }, form);
  timings.token.push(ms() - t);
  expect(r.status === 200 && r.body.includes('id_token'), 'token endpoint: expected 200 with an id_token', r);
  return null;
}

function stats(arr) {
  if (!arr.length) return null;
  const s = [...arr].sort((x, y) => x - y);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: +q(0.5).toFixed(3), p90: +q(0.9).toFixed(3),
    p99: +q(0.99).toFixed(3), min: +s[0].toFixed(3), max: +s[s.length - 1].toFixed(3) };
}

async function main() {
  const probe = o['token-probe'];
  if (probe) {
    loopbackOnly(o.authorize); loopbackOnly(o.token); loopbackOnly(o['redirect-uri']);
  } else {
    loopbackOnly(o.url);
  }
  const timings = probe ? { token: [] } : { start: [], authorize: [], callback: [], page: [] };
  const sids = new Array(COUNT);
  const opened = new Array(COUNT);
  const errors = [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  let stopped = '';
  const t0 = ms();
  const deadline = t0 + MAX_MS;

  async function worker() {
    while (!stopped) {
      if (next >= COUNT) return;
      if (ms() > deadline) { stopped = `--max-seconds ${o['max-seconds']} reached`; return; }
      const i = next++;
      try {
        sids[i] = probe ? await oneTokenProbe(timings) : await oneLogin(timings, opened, i);
        ok++;
      } catch (e) {
        failed++;
        if (errors.length < 5) errors.push(`#${i}: ${e.message}`);
        if (failed > MAX_FAIL) { stopped = `more than ${MAX_FAIL} failures`; return; }
      }
    }
  }
  await Promise.all(Array.from({ length: CONC }, worker));
  const elapsed = (ms() - t0) / 1000;
  agent.destroy();
  if (o['cookies-out']) {
    // in login order; a failed login leaves no line
    writeFileSync(o['cookies-out'], sids.filter(Boolean).map((s) => `${o.cookie}=${s}`).join('\n') + '\n');
  }
  if (o['users-out']) {
    writeFileSync(o['users-out'], sids.map((s, i) => (s ? `user-${USERS > 0 ? i % USERS : 0} ${s}` : ''))
      .filter(Boolean).join('\n') + '\n');
  }
  if (o['times-out']) {
    writeFileSync(o['times-out'], opened.filter((t, i) => sids[i]).join('\n') + '\n');
  }
  const out = { ok, failed, requested: COUNT, concurrency: CONC, elapsed_s: +elapsed.toFixed(3),
    per_s: +(ok / elapsed).toFixed(1), stopped: stopped || null, errors, timings_ms: {} };
  for (const [k, v] of Object.entries(timings)) out.timings_ms[k] = stats(v);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exitCode = failed || stopped ? 1 : 0;
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: 0, failed: 1, errors: [String(e && e.stack)] })}\n`);
  process.exitCode = 2;
});
