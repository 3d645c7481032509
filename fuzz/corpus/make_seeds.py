#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Writes the seed corpora (fuzz/corpus/<target>/): a few small, real-looking
inputs per target, taken from the unit tests' vectors. Re-run after changing
an input format; the files are committed."""
import base64, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")

def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def tlv(magic, fields):
    out = magic + b"\x01"
    for tag, data in fields:
        out += bytes([tag]) + struct.pack("<I", len(data)) + data
    return out

def s(x):
    return x.encode() + b"\0"

def t(x):
    return struct.pack("<q", x)

# ---- b64, cookie, url, nav
put("b64", "jose_header", "eyJhbGciOiJSUzI1NiJ9")
put("b64", "padded", "YWJjZA==")
put("b64", "rfc7515_key", "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
put("cookie", "browser", "tpo_session\ntheme=dark; tpo_session=AbC-123_x; other=1")
put("cookie", "quoted", "__Host-tpo\n a = 1 ;__Host-tpo=\"q-v\"; tpo_login=st1")
put("cookie", "noeq", "x\nfoo; x; x=; =x")
for i, u in enumerate([b"/app/page?x=1&y=%2F#frag", b"//evil.example/", b"/%2F%2Fevil", b"/\\evil",
                       b"/a%252F%252Fb", b"https://evil.example/", b"/ok/%5C"]):
    put("url", "ret%d" % i, b"\x08" + u)
put("url", "query", b"\x10code=SplxlOBeZQQYbOYLWw&state=af0ifjsldkj&iss=https%3A%2F%2Fidp.example&x=a+b")
put("url", "dup", b"\x03state=1&state=2&code&=v&a=%zz")
put("nav", "browser", "GET\n\x01\nnavigate\ndocument\ntext/html,application/xhtml+xml,*/*;q=0.8")
put("nav", "xhr", "GET\nXMLHttpRequest\ncors\nempty\napplication/json")
put("nav", "old", "GET\n\x01\n\x01\n\x01\ntext/html")

# ---- records
sess = [(1, t(1700000000000000)), (2, t(1700086400000000)), (3, t(1700000000000000)),
        (4, t(1700003600000000)), (5, t(1700000000000000)), (16, s("idp")), (17, s("alice")),
        (18, s("248289761001")), (19, s("at-123")), (20, s("rt-456")),
        (21, s("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")), (22, s("openid email")),
        (23, s('{"sub":"248289761001","email":"a@example.org"}')),
        (32, s("TPO_CLAIM_email")), (33, s("a@example.org")), (34, s("X-TPO-Claim-email")),
        (35, s("a@example.org"))]
put("session", "full", tlv(b"TPS", sess))
put("session", "minimal", tlv(b"TPS", [(16, s("p")), (17, s("u"))]))
put("session", "unknown_tag", tlv(b"TPS", [(16, s("p")), (17, s("u")), (99, b"xx"), (32, s("A")), (33, s("B"))]))
pend = [(1, t(1700000000000000)), (2, t(1700000300000000)), (16, s("idp")),
        (17, s("af0ifjsldkjAbC-123_xyzAbC-123_xyzAbC-123_x")), (18, s("n-0S6")),
        (19, s("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
        (20, s("https://app.example/redirect_uri")), (21, s("/app/page?x=1"))]
# mode byte: 0 record, 1 hostile Cookie header, 2 genuine cookie mutated, 3 forged value, 4 trim
put("pending", "record", b"\x00" + tlv(b"TPL", pend[:3] + pend[4:] + [(17, s("st"))]))
put("pending", "header", b"\x01af0ifjsldkjAbC-123_xyzAbC-123_xyzAbC-123_x\n"
    b"theme=dark; tpo_login_AbCdEf12=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; tpo_login_x=1; app_login_ZZZZZZZZ=; tpo_login_AbCdEf12=2")
put("pending", "genuine", b"\x02\x00a=1\nb=2")
put("pending", "genuine_flip", b"\x02\x01\x00\x00\x20A" + b"tpo_session=x\n")
put("pending", "genuine_trail", b"\x02\x01\x01\x7f\xff \n")
put("pending", "forge", b"\x03" + b"\x00" * 12 + tlv(b"TPL", pend)[:40] + b"\x11" * 16)
put("pending", "trim", b"\x04\x03\x28\x20" + b"\x05\x40\x01\x00\x20\x01\x03\x40\x00\x05\x50\x01\x09\x30\x01")

# ---- token responses (PROVIDERS.md accents)
for i, body in enumerate([
        '{"access_token":"at-abcdef","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-abcdef","id_token":"eyJ.e30.x","scope":"openid email"}',
        '{"access_token":"a","expires_in":"3600"}', '{"access_token":"a","expires_in":"1d"}',
        '{"access_token":"a","expires_in":1700007200}',
        '{"access_token":"x","expires_at":"2023-11-14T23:13:20.250Z"}',
        '{"access_token":"x","expires_at":"2023-11-14T23:13:20+01:00"}',
        '{"access_token":"a","scopes":["account_info","aml"]}',
        '{"error":"invalid_grant","error_description":"expired"}',
        '{"error_code":"invalid_client","message":"bad secret"}']):
    put("token", "t%d" % i, bytes([i]) + body.encode())

# ---- JOSE
A2 = ("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
      "LmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
      "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO7"
      "5vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6Bf"
      "I7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw")
ED = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
claims = {"iss": "https://idp.example", "aud": "client-1", "sub": "u", "exp": 1700000600,
          "iat": 1700000000, "nonce": "n-0S6_WzA2Mj"}
cj = json.dumps(claims, separators=(",", ":"))
for tgt in ("jws", "idtoken"):
    put(tgt, "raw_rs256", b"\x00" + A2.encode())
    put(tgt, "raw_eddsa", b"\x00" + ED.encode())
    put(tgt, "parts_kid", b"\x01" + b'{"alg":"ES256","kid":"e1"}\0' + cj.encode() + b"\0" + b"\x11" * 64)
    put(tgt, "parts_none", b"\x01" + b'{"alg":"none"}\0' + cj.encode() + b"\0")
    put(tgt, "parts_hs", b"\x01" + b'{"alg":"HS256","kid":"o1","crit":["b64"]}\0' + cj.encode() + b"\0" + b"\x22" * 32)
    put(tgt, "attacker_rs", b"\x02\x00\x00\x00" + cj.encode())
    put(tgt, "attacker_hs", b"\x02\x0a\x00\x05" + cj.encode())
    put(tgt, "parts_eddsa", b"\x01" + b'{"alg":"EdDSA","kid":"d1"}\0' + cj.encode() + b"\0" + b"\x11" * 64)
    put(tgt, "parts_es384", b"\x01" + b'{"alg":"ES384","kid":"e2"}\0' + cj.encode() + b"\0" + b"\x11" * 96)
    put(tgt, "parts_rs256", b"\x01" + b'{"alg":"RS256","kid":"r1","typ":"JWT"}\0' + cj.encode() + b"\0" + b"\x11" * 256)
    put(tgt, "parts_ps256_nokid", b"\x01" + b'{"alg":"PS256"}\0' + cj.encode() + b"\0" + b"\x11" * 256)
    put(tgt, "attacker_ed", b"\x02\x09\x03\x00" + cj.encode())
put("jws", "tamper", b"\x03\x01\x02" + cj.encode() + b"\0\x00\x10A\x00\x40B")
put("idtoken", "claims_ok", b"\x03\x01" + cj.encode())
for i, c in enumerate([dict(claims, aud=["client-1", "other"], azp="client-1"),
                       dict(claims, aud=["client-1", "other"]), dict(claims, nbf=1700000100),
                       dict(claims, exp=1699999000), dict(claims, iss="https://idp.example/")]):
    put("idtoken", "claims_%d" % i, b"\x03\x02" + json.dumps(c).encode())
R3 = ('{"keys":[{"kty":"EC","kid":"bilbo.baggins@hobbiton.example","use":"sig","crv":"P-521",'
      '"x":"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",'
      '"y":"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"},'
      '{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig","n":"n4EPtAOCc9AlkeQHPzHStgAbgs7b'
      'TZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2'
      'lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhG'
      'qC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5ia'
      'iQkqgc5gHdrNP5zw","e":"AQAB"}]}')
put("jwks", "rfc7520", R3.encode() + b"\0" + A2.encode())
put("jwks", "ed25519", b'{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}\0' + ED.encode())
put("jwks", "oct_p256", b'{"keys":[{"kty":"oct","kid":"o1","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ"},'
    b'{"kty":"EC","kid":"e1","crv":"P-256","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
    b'"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}\0')

# ---- discovery, claims
disc = {"issuer": "https://idp.example", "authorization_endpoint": "https://idp.example/auth",
        "token_endpoint": "https://idp.example/token", "userinfo_endpoint": "https://idp.example/me",
        "jwks_uri": "https://idp.example/jwks", "end_session_endpoint": "https://idp.example/logout",
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True}
put("provider", "full", b"\x01" + json.dumps(disc).encode())
put("provider", "no_issuer_check", b"\x00" + json.dumps(dict(disc, token_endpoint="javascript:x")).encode())
put("provider", "url", b"\x00https://idp.example:8443/realms/x")
put("provider", "par", b"\x01" + json.dumps(dict(disc, pushed_authorization_request_endpoint="https://idp.example/par",
    require_pushed_authorization_requests=True)).encode())
# ---- pushed authorization responses: "<status index><body>" (201 200 400 401 500 503 302 204)
put("par", "ok", b"\x00" + b'{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}')
put("par", "ok200", b"\x01" + b'{"expires_in":90,"request_uri":"https://idp.example/r/1"}')
put("par", "error", b"\x03" + b'{"error":"invalid_client","error_description":"client authentication failed"}')
put("par", "html", b"\x05<html>down</html>")
put("par", "bad_uri", b"\x00" + b'{"request_uri":"urn:a\\r\\nb","expires_in":"60"}')
put("claims", "nested", b'{"sub":"u","email":"a@example.org","address":{"country":"FR","street":"1\\nrue"},'
    b'"groups":["a,b","c\\\\d"],"roles":[{"x":1}],"a_b":2,"n\\u00e9":"\\u00e9t\\u00e9","x-y":true}'
    b'\0{"sub":"u","email":"b@example.org","iss":"evil"}\0address.country')
put("claims", "flat", b'{"sub":"u","LD_PRELOAD":"x","%":"%41\\r\\n"}\0{}\0groups')

# ---- memcached / Redis replies: "<nops><op...><reply stream>"
put("memcache", "get_hit", b"\x01\x04VALUE sess:0123456789abcdef 0 5\r\nhello\r\nEND\r\n")
put("memcache", "ops", b"\x03\x04\x05\x06\x07END\r\nSTORED\r\nNOT_STORED\r\nDELETED\r\n")
put("memcache", "too_large", b"\x01\x01SERVER_ERROR object too large for cache\r\n")
put("redis", "get_hit", b"\x00\x01\x04$5\r\nhello\r\n")
put("redis", "auth_ops", b"\x01\x03\x05\x06\x07+OK\r\n$-1\r\n+OK\r\n:1\r\n")
put("redis", "errors", b"\x01\x02\x04\x05-WRONGPASS invalid\r\n-ERR x\r\n")

# ---- encrypted cache, shm
put("cache_crypt", "forge", b"\x00\x01" + b"\x00" * 12 + b"session" + b"\x00" * 16)
put("cache_crypt", "tamper", b"\x01" + b"TPS\x01 session bytes" + b"\x00\x02\x05\x41\x01\x10\x00")
put("cache_crypt", "rotate", b"\x02" + b"value")
put("cache_shm", "basic", b"\x00" + b"\x02\x05\x01" b"\x00\x00\x00" b"\x03\x05\x02" b"\x04\x00\x00"
    b"\x0a\xff\x03" b"\x12\xf0\x04" b"\x1a\xe0\x05" b"\x22\xd0\x06" b"\x06\x05\x00" b"\x0d\x05\x00" b"\x07\x00\x00")
