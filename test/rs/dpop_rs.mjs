// SPDX-License-Identifier: Apache-2.0
// Licensed under the Apache License, Version 2.0 (see LICENSE).
// A DPoP-checking resource server (RFC 9449 7) for mod_tp_oauth's integration tests.
// Node's own crypto only, no packages.
//
//   node test/rs/dpop_rs.mjs --port P --issuer http://127.0.0.1:IDP --client-id ID
//                            --client-secret S [--max-seconds S]
//
// Binds 127.0.0.1 only; prints "ready <url>" once listening. Every request (any path) must carry
// `Authorization: DPoP <token>` and one `DPoP` proof that
//   * is a JWS with typ dpop+jwt, alg ES256 or EdDSA, a public jwk header (no private part),
//     a valid signature with that key;
//   * names this request: htm = the method, htu = http://127.0.0.1:P<path without query>;
//   * is fresh (iat within 60 s), not replayed (jti), and has ath = base64url(SHA-256(token));
// and the token must be active at the provider (introspection) with cnf.jkt = the RFC 7638
// thumbprint of the proof's key. Then 200 with {sub, jkt, path, client_id}; otherwise 401 with
// WWW-Authenticate: DPoP error="..." and a JSON body naming the reason. A bound token presented
// as Bearer (or without a proof) is refused. GET /__log: every decision; POST /__log/reset.

import http from 'node:http';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'max-seconds': { type: 'string', default: '3600' },
  },
  strict: true,
});
const port = Number.parseInt(opts.port, 10);
const base = `http://127.0.0.1:${port}`;
const seenJti = new Map(); // jti -> expiry (ms)
let log = [];

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const unb64u = (s) => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad base64url');
  return Buffer.from(s, 'base64url');
};

function thumbprint(jwk) {
  let canon;
  if (jwk.kty === 'EC') canon = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else if (jwk.kty === 'OKP') canon = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  else throw new Error(`unsupported kty ${jwk.kty}`);
  return b64u(createHash('sha256').update(JSON.stringify(canon)).digest());
}

class Refusal extends Error {
  constructor(error, reason) {
    super(reason);
    this.error = error;
  }
}

function checkProof(proof, method, htu, token) {
  const parts = String(proof).split('.');
  if (parts.length !== 3) throw new Refusal('invalid_dpop_proof', 'not a compact JWS');
  let header, payload;
  try {
    header = JSON.parse(unb64u(parts[0]).toString());
    payload = JSON.parse(unb64u(parts[1]).toString());
  } catch (e) {
    throw new Refusal('invalid_dpop_proof', `undecodable: ${e.message}`);
  }
  if (header.typ !== 'dpop+jwt') throw new Refusal('invalid_dpop_proof', `typ ${header.typ}`);
  if (!['ES256', 'EdDSA'].includes(header.alg)) throw new Refusal('invalid_dpop_proof', `alg ${header.alg}`);
  const { jwk } = header;
  if (!jwk || typeof jwk !== 'object' || jwk.d !== undefined) throw new Refusal('invalid_dpop_proof', 'no public jwk');
  let key;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (e) {
    throw new Refusal('invalid_dpop_proof', `jwk: ${e.message}`);
  }
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = unb64u(parts[2]);
  const ok = header.alg === 'ES256'
    ? (jwk.kty === 'EC' && jwk.crv === 'P-256' && verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig))
    : (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && verify(null, input, key, sig));
  if (!ok) throw new Refusal('invalid_dpop_proof', 'bad signature');
  if (payload.htm !== method) throw new Refusal('invalid_dpop_proof', `htm ${payload.htm} != ${method}`);
  if (payload.htu !== htu) throw new Refusal('invalid_dpop_proof', `htu ${payload.htu} != ${htu}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > 60) throw new Refusal('invalid_dpop_proof', 'iat not fresh');
  if (typeof payload.jti !== 'string' || payload.jti.length < 8) throw new Refusal('invalid_dpop_proof', 'no jti');
  for (const [j, exp] of seenJti) if (exp < Date.now()) seenJti.delete(j);
  if (seenJti.has(payload.jti)) throw new Refusal('invalid_dpop_proof', 'jti replayed');
  seenJti.set(payload.jti, Date.now() + 120000);
  const ath = b64u(createHash('sha256').update(token).digest());
  if (payload.ath !== ath) throw new Refusal('invalid_dpop_proof', 'ath does not match the token');
  return thumbprint(jwk);
}

async function introspect(token) {
  const auth = Buffer.from(`${encodeURIComponent(opts['client-id'])}:${encodeURIComponent(opts['client-secret'])}`).toString('base64');
  const r = await fetch(`${opts.issuer}/token/introspection`, {
    method: 'POST',
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    signal: AbortSignal.timeout(5000),
  });
  if (r.status !== 200) throw new Error(`introspection answered ${r.status}`);
  return r.json();
}

async function decide(req) {
  const authz = req.headers.authorization || '';
  const m = /^(DPoP|Bearer) ([\x21-\x7e]+)$/i.exec(authz);
  if (!m) throw new Refusal('invalid_token', 'no DPoP or Bearer token');
  const scheme = m[1].toLowerCase();
  const token = m[2];
  const info = await introspect(token);
  if (!info.active) throw new Refusal('invalid_token', 'token not active');
  const jkt = info.cnf?.jkt;
  if (scheme === 'bearer') {
    if (jkt) throw new Refusal('invalid_token', 'a DPoP-bound token presented as Bearer');
    throw new Refusal('invalid_token', 'this resource server takes DPoP-bound tokens only');
  }
  if (!jkt) throw new Refusal('invalid_token', 'token is not DPoP-bound');
  const proofs = req.headersDistinct?.dpop || (req.headers.dpop ? [req.headers.dpop] : []);
  if (proofs.length !== 1) throw new Refusal('invalid_dpop_proof', `${proofs.length} DPoP proofs`);
  const htu = base + req.url.split('?')[0].split('#')[0];
  const proofJkt = checkProof(proofs[0], req.method, htu, token);
  if (proofJkt !== jkt) throw new Refusal('invalid_token', 'the proof key is not the token\'s (cnf.jkt)');
  return { sub: info.sub, jkt, path: req.url, client_id: info.client_id, token_type: info.token_type };
}

const server = http.createServer(async (req, res) => {
  const send = (status, body, headers = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(text);
  };
  if (req.url === '/__log' && req.method === 'GET') return send(200, log);
  if (req.url === '/__log/reset' && req.method === 'POST') {
    log = [];
    return send(200, log);
  }
  try {
    const ok = await decide(req);
    log.push({ path: req.url, status: 200, had_dpop: Boolean(req.headers.dpop), ...ok });
    return send(200, ok);
  } catch (e) {
    if (e instanceof Refusal) {
      log.push({ path: req.url, status: 401, had_dpop: Boolean(req.headers.dpop), error: e.error, reason: e.message });
      return send(401, { error: e.error, reason: e.message },
        { 'www-authenticate': `DPoP error="${e.error}", algs="ES256 EdDSA"` });
    }
    log.push({ path: req.url, status: 500, reason: String(e.message) });
    return send(500, { error: 'server_error', reason: String(e.message) });
  }
});
server.listen(port, '127.0.0.1', () => console.log(`ready ${base}`));
server.on('error', (err) => {
  console.error(`dpop_rs: ${err.message}`);
  process.exit(1);
});
const stop = () => { server.close(); server.closeAllConnections?.(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const max = Number.parseInt(opts['max-seconds'], 10);
if (max > 0) setTimeout(stop, max * 1000).unref();
