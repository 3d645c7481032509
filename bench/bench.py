#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""mod_tp_oauth benchmark suite (started by bench/run, which installs and builds first).

What it measures, on loopback, with Debian's apache2 (mpm_event):

  throughput   wrk against one small static file served at /open/ (unprotected), /tpo/
               (mod_tp_oauth, shared-memory sessions) and /oidc/ (mod_auth_openidc, shm cache,
               server-cache sessions), each with a real session from a login at the real
               oidc-provider (test/idp); configurations alternate over several rounds; medians.
  logins       complete logins per second through test/fakeidp's `oidc` mode (it logs the user
               in by itself); the callback (redirect-URI) request time as the client sees it,
               and the fake provider's token endpoint alone.
  memory       shared memory per session (TPOAuthCacheSize / sessions that fit before the
               cache evicts), and the RSS/PSS of the httpd processes.
  scaling      authenticated throughput with 1, 10,000 and 100,000 live sessions.
  distributed  sessions in Redis and in memcached, each without and with the local tier
               (TPOAuthSessionCacheLocal), next to mod_auth_openidc with OIDCCacheType redis,
               with 1, 10,000 and 100,000 entries in the cache servers (pre-filled, pipelined);
               each httpd's own unprotected rate in the same rounds; logins/s of each (and of
               mod_auth_openidc with Redis) through test/fakeidp; the session record's size
               and the shared memory per session it makes; instructions per login with
               sessions in shm, Redis and Redis + local tier (bench/login_cost.py).
  callgrind    instructions per request of each configuration (apache2 -X under callgrind).

Everything binds to 127.0.0.1; every wait is bounded; every server started is stopped.
Exit status: 0 when everything worked, 1 when something is broken (a server does not start,
a configuration does not return 200 with the file's content, wrk saw a non-200 response or a
socket error, callgrind failed). Performance numbers never change the exit status.
"""

import argparse
import base64
import concurrent.futures
import datetime
import glob
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, "test", "integration"))

import tpo_harness as h  # noqa: E402

NODE = h.NODE_BIN
WRK = shutil.which("wrk") or "/usr/bin/wrk"
VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
CALLGRIND_ANNOTATE = shutil.which("callgrind_annotate") or "/usr/bin/callgrind_annotate"
OIDC_MODULE = os.environ.get("TPO_OIDC_MODULE", "/usr/lib/apache2/modules/mod_auth_openidc.so")
LOGIN_FLOOD = os.path.join(BENCH_DIR, "login_flood.mjs")
WRK_LUA = os.path.join(BENCH_DIR, "wrk_status.lua")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
CALLGRIND_USER = "www-data"
# test/fakeidp issues access tokens for 300 s; mod_tp_oauth refreshes 60 s before expiry
FAKE_REFRESH_AGE_S = 240

FILE_NAME = "bench.html"
OIDC_CLIENT_ID = "bench-oidc"
OIDC_CLIENT_SECRET = "bench-oidc-secret"
FAKE_COOKIE = "tpo_fake"
TPO_COOKIE = "tp_oauth_idp"
OIDC_COOKIE = "mod_auth_openidc_session"

CONFIGS = [  # (key, label, path)
    ("open", "unprotected", "/open/"),
    ("tpo", "mod_tp_oauth", "/tpo/"),
    ("oidc", "mod_auth_openidc", "/oidc/"),
]
# the bearer phase (issue 13): a JWT access token (RFC 9068, from the client-credentials grant
# with resource=BEARER_RESOURCE) in Authorization: Bearer, the same token on every request
BEARER_RESOURCE = "https://api.bench"
BEARER_CONFIGS = [
    ("open", "unprotected", "/open/"),
    ("tpob", "mod_tp_oauth bearer JWT", "/tpo-bearer/"),
    ("oidcb", "mod_auth_openidc oauth20", "/oidc-bearer/"),
]
LABEL = {k: label for k, label, _ in CONFIGS + BEARER_CONFIGS}
PATH = {k: p for k, _, p in CONFIGS + BEARER_CONFIGS}

TARGETS = {"vs_open": 0.90, "vs_oidc": 1.8, "instr_share": 1.0 / 3.0, "scaling": 0.95,
           "bearer_vs_open": 0.85, "bearer_instr_vs_session": 2.0,
           "dist_local_vs_open": 0.85, "dist_local_vs_oidc_redis": 2.0}


class Broken(Exception):
    """Something that makes the run invalid (not a performance number)."""


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------ the payload

def make_payload():
    """Exactly 1024 bytes of HTML with a random marker (proves the real file was served)."""
    marker = "tpo-bench-" + secrets.token_hex(8)
    head = "<!DOCTYPE html>\n<html><head><title>bench</title></head><body>\n<p>%s</p>\n<pre>\n" % marker
    tail = "</pre>\n</body></html>\n"
    fill = 1024 - len(head) - len(tail)
    line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"  # 64 bytes
    body = (line * (fill // 64 + 1))[:fill - 1] + "\n"
    data = (head + body + tail).encode()
    assert len(data) == 1024
    return marker, data


# ------------------------------------------------------------------ httpd

class BenchIdP(h.IdP):
    """The test IdP with the bench's resource server (JWT access tokens, test/idp/server.mjs
    TPO_IDP_RESOURCE); logins without a resource get opaque tokens as before."""

    def _spawn(self, argv, env=None):
        env = dict(env or {})
        env["TPO_IDP_RESOURCE"] = BEARER_RESOURCE
        super()._spawn(argv, env)


def bearer_token(idp):
    """A JWT access token for BEARER_RESOURCE from the client-credentials grant."""
    import requests
    r = requests.post(idp.issuer + "/token", auth=("tpo-cc", "tpo-cc-secret"), timeout=10,
                      data={"grant_type": "client_credentials", "resource": BEARER_RESOURCE,
                            "scope": "read"})
    if r.status_code != 200 or r.json().get("access_token", "").count(".") != 2:
        raise Broken("client-credentials grant for a JWT access token: %s %s" % (
            r.status_code, r.text[:200]))
    return r.json()["access_token"]


class BenchHttpd(h.Httpd):
    """The harness's Httpd with a benchmark-sized mpm_event, LogLevel warn (no per-request
    debug logging) and no access log (the same for every configuration)."""

    def __init__(self, *a, start_servers=2, threads=25, run_as=None, **kw):
        self.start_servers = start_servers
        self.threads = threads
        self.run_as = run_as  # started by us as this user: no User/Group directives
        super().__init__(*a, **kw)

    def base_conf(self):
        conf = super().base_conf()
        mpm = ("<IfModule mpm_event_module>\n"
               "    StartServers {s}\n    ServerLimit {s}\n    ThreadsPerChild {t}\n"
               "    ThreadLimit {t}\n    MaxRequestWorkers {w}\n    MinSpareThreads {m}\n"
               "    MaxSpareThreads {w}\n    MaxConnectionsPerChild 0\n"
               "</IfModule>").format(s=self.start_servers, t=self.threads, m=max(1, self.threads // 4),
                                     w=self.start_servers * self.threads)
        conf, n = re.subn(r"<IfModule mpm_event_module>.*?</IfModule>", mpm, conf, flags=re.S)
        if n != 1:
            raise Broken("cannot find the mpm_event block in the harness's httpd.conf")
        conf = re.sub(r"(?m)^LogLevel .*$", "LogLevel warn", conf)
        conf = re.sub(r"(?m)^CustomLog .*$", "# (no access log in the benchmark)", conf)
        if self.run_as:
            # started as an unprivileged user by the benchmark (apache2 -X under valgrind):
            # no User/Group, and no mod_cgid (its daemon would be a second process to stop)
            conf = re.sub(r"(?m)^(User|Group) .*$", "", conf)
            conf = re.sub(r"(?m)^(LoadModule cgid_module .*|ScriptSock .*)$", "", conf)
        return conf

    def processes(self):
        """pids of the parent and its children."""
        parent = self.pid()
        if not parent:
            return []
        pids = [parent]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    pids.append(int(stat.split("/")[2]))
            except (OSError, IndexError, ValueError):
                pass
        return pids

    def memory(self):
        """(RSS sum, PSS sum) in bytes over the httpd processes."""
        return proc_memory(self.processes())


def proc_memory(pids):
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


def bench_conf(root, idp, fake_base, port, cache_size=None, passphrase="bench"):
    """The three places plus /fake/ (mod_tp_oauth against the fake IdP's oidc mode)."""
    docs = os.path.join(root, "bench")
    parts = ["LoadModule auth_openidc_module %s\n" % OIDC_MODULE]
    if cache_size:
        parts.append("TPOAuthCacheSize %s\n" % cache_size)
    parts.append(h.provider_conf("idp", idp.issuer, redirect_uri="/tpo/redirect_uri",
                                 extra="TPOAuthBearerAudience %s" % BEARER_RESOURCE))
    parts.append(h.provider_conf(
        "fake", fake_base + "/oidc", client_id="fake-client", client_secret="fake-secret",
        scope="openid email", redirect_uri="/fake/redirect_uri",
        extra="TPOAuthCookieName %s" % FAKE_COOKIE))
    parts.append("""
Alias /open/ "{docs}/"
Alias /tpo/ "{docs}/"
Alias /oidc/ "{docs}/"
Alias /fake/ "{docs}/"
Alias /tpo-bearer/ "{docs}/"
Alias /oidc-bearer/ "{docs}/"
<Directory "{docs}">
    Require all granted
</Directory>
<Location /tpo/>
    AuthType tp-oauth
    AuthName "bench"
    TPOAuthProvider idp
    Require valid-user
</Location>
<Location /fake/>
    AuthType tp-oauth
    AuthName "bench-fake"
    TPOAuthProvider fake
    Require valid-user
</Location>

# mod_auth_openidc: shared-memory cache, sessions in the cache (the cookie holds an id)
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {cid}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/oidc/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid email profile groups"
OIDCPKCEMethod S256
OIDCCacheType shm
OIDCSessionType server-cache
<Location /oidc/>
    AuthType openid-connect
    Require valid-user
</Location>

# bearer tokens: ours (JWT checked locally, remembered by a hash until exp) and
# mod_auth_openidc's resource-server mode (JWT checked against the provider's JWKS)
<Location /tpo-bearer/>
    AuthType tp-oauth
    AuthName "bench-api"
    TPOAuthProvider idp
    TPOAuthBearer only
    Require valid-user
</Location>
OIDCOAuthVerifyCertFiles {oauth_keys}
<Location /oidc-bearer/>
    AuthType oauth20
    Require valid-user
</Location>
""".format(docs=docs, issuer=idp.issuer, cid=OIDC_CLIENT_ID, secret=OIDC_CLIENT_SECRET,
           port=port, passphrase=passphrase, oauth_keys=idp_public_key_files(idp, root)))
    return "".join(parts)


def idp_public_key_files(idp, root):
    """mod_auth_openidc's OIDCOAuthVerifyCertFiles value for the IdP's RSA key: its
    OIDCOAuthVerifyJwksUri accepts https only, and the IdP is on plain http here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def num(s):
        return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")
    with open(idp.keys_file) as f:
        jwk = [k for k in json.load(f)["keys"] if k["kty"] == "RSA"][0]
    pub = rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"])).public_key()
    path = os.path.join(root, "conf", "idp-rsa.pem")
    with open(path, "wb") as f:
        f.write(pub.public_bytes(serialization.Encoding.PEM,
                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    os.chmod(path, 0o644)
    return "%s#%s" % (jwk["kid"], path)


def install_payload(httpd, data):
    docs = os.path.join(httpd.server_root, "bench")
    os.makedirs(docs, exist_ok=True)
    os.chmod(docs, 0o755)
    with open(os.path.join(docs, FILE_NAME), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(docs, FILE_NAME), 0o644)


def idp_client_list(ports):
    """The harness's clients plus mod_auth_openidc's, with redirect URIs for every port."""
    clients = h.idp_clients(ports[0], ["/tpo/redirect_uri"])
    for c in clients:
        uris = list(c.get("redirect_uris", []))
        for p in ports[1:]:
            uris += [u.replace(":%d/" % ports[0], ":%d/" % p) for u in c.get("redirect_uris", [])]
        c["redirect_uris"] = uris
    clients.append({
        "client_id": OIDC_CLIENT_ID, "client_secret": OIDC_CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["http://127.0.0.1:%d/oidc/redirect_uri" % p for p in ports],
        "post_logout_redirect_uris": ["http://127.0.0.1:%d/" % p for p in ports]})
    return clients


# ------------------------------------------------------------------ HTTP checks

def fetch(port, path, cookie=None, conn=None, timeout=10, auth=None):
    """(status, body, headers) with an optional Cookie (or Authorization) header; no
    redirects followed."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"User-Agent": "tpo-bench/1.0"}
    if cookie:
        headers["Cookie"] = cookie
    if auth:
        headers["Authorization"] = auth
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        return r.status, body, dict(r.getheaders())
    finally:
        if own:
            conn.close()


def check_content(port, key, cookie, payload, what="", auth=None):
    status, body, headers = fetch(port, PATH[key] + FILE_NAME, cookie, auth=auth)
    if status != 200 or body != payload:
        raise Broken("%s%s: expected 200 with the file's %d bytes, got %s (%d bytes%s%s)" % (
            LABEL[key], what, len(payload), status, len(body or b""),
            ", Location " + headers["Location"] if "Location" in headers else "",
            ", body starts %r" % body[:120] if body != payload else ""))


def login_idp(httpd, key, user, cookie_name, marker, timeout=10):
    """A login at the real oidc-provider through its HTML forms; returns 'name=value'."""
    s = h.browser_session()
    try:
        resp = h.oidc_login(s, httpd.url(PATH[key] + FILE_NAME), user, timeout=timeout)
        if resp.status_code != 200 or marker not in resp.text:
            raise Broken("%s: login ended with %s at %s, not the file" % (
                LABEL[key], resp.status_code, resp.url))
        value = None
        for c in s.cookies:
            if c.name == cookie_name:
                value = c.value
        if not value:
            raise Broken("%s: no %s cookie after the login (cookies: %s)" % (
                LABEL[key], cookie_name, sorted(c.name for c in s.cookies)))
        return "%s=%s" % (cookie_name, value)
    finally:
        s.close()


# ------------------------------------------------------------------ other load

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_busy():
    """(busy, total) CPU ticks of the machine: user+nice+system+steal (interrupt time left
    out: the loopback traffic's softirq work is not attributed to any process)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    busy = user + nice + system + steal
    return busy, busy + idle + iowait + irq + softirq


def _proc_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


class CpuMeter:
    """How much CPU other processes (not this benchmark, its children, its httpd) used."""

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn

    def _own(self):
        t = os.times()  # this process and its waited-for children (wrk, node) in seconds
        own = (t.user + t.system + t.children_user + t.children_system) * CLK_TCK
        return own + sum(_proc_ticks(p) for p in self.pids_fn())

    def start(self):
        self.busy0, self.total0 = _cpu_busy()
        self.own0 = self._own()

    def foreign(self):
        """Fraction of all CPUs used by other processes since start()."""
        busy, total = _cpu_busy()
        own = self._own()
        if total <= self.total0:
            return 0.0
        return max(0.0, ((busy - self.busy0) - (own - self.own0)) / (total - self.total0))

    def wait_quiet(self, threshold, max_wait):
        """Wait (at most max_wait s) for a 1-second window in which other processes use less
        than `threshold` of the CPUs; returns (seconds waited, last window's share)."""
        t0 = time.monotonic()
        share = 0.0
        while True:
            self.start()
            time.sleep(1.0)
            share = self.foreign()
            waited = time.monotonic() - t0
            if share < threshold or waited >= max_wait:
                return waited, share


# ------------------------------------------------------------------ wrk

def run_wrk(url, cookie, duration, threads, connections, cookies_file=None, timeout_s=None,
            meter=None, body_len=None, auth=None):
    if meter is not None:
        meter.start()
    argv = [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--timeout", "5s",
            "-s", WRK_LUA]
    if cookie:
        argv += ["-H", "Cookie: " + cookie]
    if auth:
        argv += ["-H", "Authorization: " + auth]
    argv.append(url)
    env = dict(os.environ)
    env["BENCH_COOKIES"] = cookies_file or ""
    env["BENCH_BODY_LEN"] = str(body_len) if body_len else ""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=timeout_s or duration + 60)
    except subprocess.TimeoutExpired:
        raise Broken("wrk did not finish (%s)" % url)
    foreign = meter.foreign() if meter is not None else None
    out = r.stdout + r.stderr
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    counts = {}
    cm = re.search(r"STATUS_COUNTS (\{.*\})", out)
    if cm:
        counts = {int(k): v for k, v in json.loads(cm.group(1)).items()}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res = {"rps": float(m.group(1)) if m else None, "statuses": counts,
           "socket_errors": [int(x) for x in sock.groups()] if sock else [0, 0, 0, 0],
           "non2xx": int(non2xx.group(1)) if non2xx else 0,
           "other_cpu": foreign}
    problems = []
    if r.returncode != 0 or res["rps"] is None:
        problems.append("wrk failed (exit %s): %s" % (r.returncode, out.strip()[-600:]))
    bad = {k: v for k, v in counts.items() if k not in (0, 200)}
    if bad:
        problems.append("non-200 responses %s" % bad)
    if counts.get(0):
        problems.append("%d responses were 200 but not the %d-byte file" % (counts[0], body_len))
    rm = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMG]?B) read", out)
    if rm and int(rm.group(1)):
        mult = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[rm.group(3)]
        res_bytes = float(rm.group(2)) * mult / int(rm.group(1))
    else:
        res_bytes = None
    res["bytes_per_response"] = res_bytes
    if not counts.get(200):
        problems.append("no 200 responses")
    if res["non2xx"]:
        problems.append("wrk: %d non-2xx/3xx responses" % res["non2xx"])
    if any(res["socket_errors"]):
        problems.append("wrk socket errors (connect, read, write, timeout) = %s" % res["socket_errors"])
    res["problems"] = problems
    return res


def write_cookie_files(path, lines, threads):
    """The cookie list for wrk_status.lua: all of it in path, and a share for each wrk
    thread in path.1, path.2, ... (round robin; each thread starts at a different cookie)."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    for t in range(threads):
        share = lines[t::threads] or lines
        with open("%s.%d" % (path, t + 1), "w") as f:
            f.write("\n".join(share) + "\n")


# ------------------------------------------------------------------ login flood

def login_flood(url, count, concurrency, marker, cookies_out=None, max_seconds=900,
                cookie=FAKE_COOKIE, no_page=False, allow_partial=False, times_out=None):
    argv = [NODE, LOGIN_FLOOD, "--url", url, "--cookie", cookie, "--count", str(count),
            "--concurrency", str(concurrency), "--marker", marker,
            "--max-seconds", str(max_seconds),
            # a distinct user per login (the fake provider takes login_hint as the sub):
            # a user keeps at most TPO_SESSIONS_PER_USER_MAX sessions (issue 14)
            "--users", "1000000"]
    if no_page:
        argv.append("--no-page")
    if cookies_out:
        argv += ["--cookies-out", cookies_out]
    if times_out:
        argv += ["--times-out", times_out]
    return _node_json(argv, max_seconds + 60, allow_partial)


def token_probe(fake_base, redirect_uri, count):
    argv = [NODE, LOGIN_FLOOD, "--token-probe", "--authorize", fake_base + "/oidc/authorize",
            "--token", fake_base + "/oidc/token", "--redirect-uri", redirect_uri,
            "--count", str(count), "--concurrency", "1", "--max-seconds", "120"]
    return _node_json(argv, 180)


def _node_json(argv, timeout, allow_partial=False):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Broken("%s did not finish in %ds" % (os.path.basename(argv[1]), timeout))
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Broken("login_flood.mjs: no result (exit %s): %s %s" % (
            r.returncode, r.stdout[-1000:], r.stderr[-1000:]))
    if allow_partial and not out.get("failed") and (out.get("stopped") or "").startswith("--max-seconds"):
        return out
    if r.returncode != 0 or out.get("failed"):
        raise Broken("login_flood.mjs: %s of %s failed, stopped: %s; first errors: %s" % (
            out.get("failed"), out.get("requested"), out.get("stopped"), out.get("errors")))
    return out


# ------------------------------------------------------------------ the phases

class Bench:
    def __init__(self, args):
        self.a = args
        self.results = {"problems": []}
        self.servers = []
        self.workdir = tempfile.mkdtemp(prefix="tpo-bench-")
        os.chmod(self.workdir, 0o755)
        self.marker, self.payload = make_payload()
        self.http_port = h.free_port()
        self.cg_port = h.free_port()
        while self.cg_port == self.http_port:
            self.cg_port = h.free_port()
        self.idp = None
        self.fake = None
        self.httpd = None
        self.cookies = {}
        self.other_cpu = []

    # ---------------------------------------------------------------- lifecycle
    def problem(self, where, msg):
        text = "%s: %s" % (where, msg)
        self.results["problems"].append(text)
        log("BROKEN " + text)

    def stop_all(self):
        for s in reversed(self.servers):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (type(s).__name__, e))
        self.servers = []

    def start_backends(self):
        clients = idp_client_list([self.http_port, self.cg_port])
        self.idp = BenchIdP(self.workdir, clients)
        self.servers.append(self.idp)
        self.idp.start()
        self.fake = h.FakeIdP(self.workdir)
        self.servers.append(self.fake)
        self.fake.start()
        log("oidc-provider at %s, fake IdP at %s" % (self.idp.issuer, self.fake.base))

    def start_httpd(self, cache_size=None, label="main", extra_conf="", oidc_cache=None):
        if self.httpd is not None:
            self.httpd.stop()
        root = os.path.join(self.workdir, "httpd-" + label)
        shutil.rmtree(root, ignore_errors=True)
        httpd = BenchHttpd(module=self.a.module, port=self.http_port, server_root=root,
                           start_servers=self.a.servers, threads=self.a.threads_per_child)
        install_payload(httpd, self.payload)
        self.httpd = httpd
        if httpd not in self.servers:
            self.servers.append(httpd)
        conf = bench_conf(root, self.idp, self.fake.base, self.http_port, cache_size,
                          passphrase=secrets.token_hex(16))
        conf = extra_conf + conf
        if oidc_cache:
            conf = conf.replace("OIDCCacheType shm\n", oidc_cache)
        try:
            httpd.start(conf)
        except Exception as e:
            raise Broken("httpd (%s) did not start: %s" % (label, e))
        return httpd

    def wrk_kw(self):
        meter = CpuMeter(lambda: self.httpd.processes() if self.httpd else [])
        return {"meter": meter, "body_len": len(self.payload)}

    def wait_quiet(self, max_wait=None):
        """Before a round: wait (bounded) for one second in which other processes use less
        than --quiet-threshold of the CPUs. Returns the seconds waited."""
        max_wait = self.a.quiet_wait if max_wait is None else max_wait
        if max_wait <= 0:
            return 0.0
        meter = CpuMeter(lambda: self.httpd.processes() if self.httpd else [])
        waited, share = meter.wait_quiet(self.a.quiet_threshold, max_wait)
        if share >= self.a.quiet_threshold:
            log("other processes still use %.0f%% of the CPUs after %.0fs; measuring anyway"
                % (100 * share, waited))
        return waited

    def check_httpd_log(self, where):
        problems = self.httpd.problems()
        if problems:
            self.problem(where, "httpd error log: %s" % "\n".join(problems)[:3000])
        # warnings and errors, without mod_auth_openidc's start-up notes about plain http
        lines = [l for l in self.httpd.log_lines() if 'SHOULD be "https"' not in l]
        self.results.setdefault("error_log", {})[where] = {"warn_or_worse": len(lines),
                                                           "last": lines[-5:]}

    # ---------------------------------------------------------------- 1. throughput
    def phase_throughput(self):
        a = self.a
        httpd = self.httpd
        self.cookies = {"open": None,
                        "tpo": login_idp(httpd, "tpo", "bench-user", TPO_COOKIE, self.marker),
                        "oidc": login_idp(httpd, "oidc", "bench-user", OIDC_COOKIE, self.marker)}
        for key, _, _ in CONFIGS:
            check_content(self.http_port, key, self.cookies[key], self.payload)
        # without a session the protected places must not serve the file
        for key in ("tpo", "oidc"):
            status, body, _ = fetch(self.http_port, PATH[key] + FILE_NAME)
            if status == 200 or self.marker.encode() in (body or b""):
                raise Broken("%s serves the file without a session (status %s)" % (LABEL[key], status))
        log("sessions checked: each place returns 200 and the file's %d bytes" % len(self.payload))
        runs = {k: [] for k, _, _ in CONFIGS}
        keys = [k for k, _, _ in CONFIGS]
        for rnd in range(a.rounds):
            self.wait_quiet()
            order = keys[rnd % 3:] + keys[:rnd % 3]
            for key in order:
                res = run_wrk(httpd.url(PATH[key] + FILE_NAME), self.cookies[key], a.duration,
                              a.wrk_threads, a.connections, **self.wrk_kw())
                runs[key].append(res)
                self.other_cpu.append(res["other_cpu"])
                log("round %d/%d %-17s %10.0f req/s  (other processes %3.0f%% CPU)%s" % (
                    rnd + 1, a.rounds, LABEL[key], res["rps"] or 0, 100 * res["other_cpu"],
                    "  INVALID: " + "; ".join(res["problems"]) if res["problems"] else ""))
                if res["problems"]:
                    self.problem("throughput %s round %d" % (LABEL[key], rnd + 1),
                                 "; ".join(res["problems"]))
        for key, _, _ in CONFIGS:
            check_content(self.http_port, key, self.cookies[key], self.payload, " after wrk")
        out = {"wrk": {"threads": a.wrk_threads, "connections": a.connections,
                       "duration_s": a.duration, "rounds": a.rounds},
               "file_bytes": len(self.payload), "valid": True}
        for key, _, _ in CONFIGS:
            rps = [r["rps"] for r in runs[key] if r["rps"] is not None]
            out[key] = {"median_rps": median(rps), "rounds_rps": rps,
                        "rounds_other_cpu": [r["other_cpu"] for r in runs[key]],
                        "min_rps": min(rps) if rps else None, "max_rps": max(rps) if rps else None,
                        "invalid_rounds": sum(1 for r in runs[key] if r["problems"])}
            if out[key]["invalid_rounds"]:
                out["valid"] = False
        # per-round ratios: the runs of one round are adjacent in time, so a slow or fast
        # period of the machine affects both sides of the ratio alike
        for name, num, den in (("tpo_open", "tpo", "open"), ("tpo_oidc", "tpo", "oidc")):
            per = [x["rps"] / y["rps"] for x, y in zip(runs[num], runs[den])
                   if x["rps"] and y["rps"]]
            out["round_ratios_" + name] = per
            out["paired_ratio_" + name] = median(per)
        if out["open"]["median_rps"] and out["tpo"]["median_rps"]:
            out["ratio_tpo_open"] = out["tpo"]["median_rps"] / out["open"]["median_rps"]
        if out["oidc"]["median_rps"] and out["tpo"]["median_rps"]:
            out["ratio_tpo_oidc"] = out["tpo"]["median_rps"] / out["oidc"]["median_rps"]
        self.results["throughput"] = out
        self.results["memory_after_throughput"] = dict(zip(("rss", "pss"), httpd.memory()))

    # ---------------------------------------------------------------- 1b. bearer tokens
    def phase_bearer(self):
        """Requests/s with the same JWT access token on every request (unprotected, ours,
        mod_auth_openidc's AuthType oauth20), and instructions per request under callgrind
        (a bearer request against a session request)."""
        a = self.a
        httpd = self.httpd
        auth = "Bearer " + bearer_token(self.idp)
        for key, _, _ in BEARER_CONFIGS:
            check_content(self.http_port, key, None, self.payload, auth=auth)
        for key in ("tpob", "oidcb"):
            status, body, _ = fetch(self.http_port, PATH[key] + FILE_NAME)
            if status == 200 or self.marker.encode() in (body or b""):
                raise Broken("%s serves the file without a token (status %s)" % (LABEL[key], status))
            status, body, _ = fetch(self.http_port, PATH[key] + FILE_NAME,
                                    auth=auth[:-8] + "AAAAAAAA")
            if status == 200 or self.marker.encode() in (body or b""):
                raise Broken("%s serves the file with a forged token (status %s)" % (
                    LABEL[key], status))
        log("bearer checked: 200 and the file with the token, refused without or forged")
        keys = [k for k, _, _ in BEARER_CONFIGS]
        runs = {k: [] for k in keys}
        for rnd in range(a.rounds):
            self.wait_quiet()
            order = keys[rnd % 3:] + keys[:rnd % 3]
            for key in order:
                res = run_wrk(httpd.url(PATH[key] + FILE_NAME), None, a.duration, a.wrk_threads,
                              a.connections, auth=auth if key != "open" else None,
                              **self.wrk_kw())
                runs[key].append(res)
                self.other_cpu.append(res["other_cpu"])
                log("bearer round %d/%d %-26s %10.0f req/s  (other processes %3.0f%% CPU)%s" % (
                    rnd + 1, a.rounds, LABEL[key], res["rps"] or 0, 100 * res["other_cpu"],
                    "  INVALID: " + "; ".join(res["problems"]) if res["problems"] else ""))
                if res["problems"]:
                    self.problem("bearer %s round %d" % (LABEL[key], rnd + 1),
                                 "; ".join(res["problems"]))
        out = {"wrk": {"threads": a.wrk_threads, "connections": a.connections,
                       "duration_s": a.duration, "rounds": a.rounds},
               "token": "RFC 9068 JWT (RS256) from the client-credentials grant, the same on "
                        "every request"}
        for key in keys:
            rps = [r["rps"] for r in runs[key] if r["rps"] is not None]
            out[key] = {"median_rps": median(rps), "rounds_rps": rps}
        for name, num, den in (("tpob_open", "tpob", "open"), ("tpob_oidcb", "tpob", "oidcb")):
            per = [x["rps"] / y["rps"] for x, y in zip(runs[num], runs[den])
                   if x["rps"] and y["rps"]]
            out["round_ratios_" + name] = per
            out["paired_ratio_" + name] = median(per)
        if out["open"]["median_rps"] and out["tpob"]["median_rps"]:
            out["ratio_tpob_open"] = out["tpob"]["median_rps"] / out["open"]["median_rps"]
        if out["oidcb"]["median_rps"] and out["tpob"]["median_rps"]:
            out["ratio_tpob_oidcb"] = out["tpob"]["median_rps"] / out["oidcb"]["median_rps"]
        self.results["bearer"] = out
        if a.bearer_callgrind:
            self.check_httpd_log("bearer")
            self.httpd.stop()
            cg = {}
            for key in ("open", "tpo", "tpob", "oidcb"):
                cg[key] = self.callgrind_one(key)
                log("callgrind %-26s %12.0f instructions/request" % (
                    LABEL[key], cg[key]["ir_per_request"]))
            base = cg["open"]["ir_per_request"]
            cg["tpo_share"] = cg["tpo"]["ir_per_request"] - base
            cg["tpob_share"] = cg["tpob"]["ir_per_request"] - base
            cg["oidcb_share"] = cg["oidcb"]["ir_per_request"] - base
            cg["bearer_vs_session"] = cg["tpob"]["ir_per_request"] / cg["tpo"]["ir_per_request"]
            cg["bearer_share_vs_session_share"] = (cg["tpob_share"] / cg["tpo_share"]
                                                   if cg["tpo_share"] > 0 else None)
            out["callgrind"] = cg

    # ---------------------------------------------------------------- 2. logins
    def phase_logins(self):
        a = self.a
        httpd = self.httpd
        url = httpd.url("/fake/" + FILE_NAME)
        # warm up (discovery, JWKS, connections of every child) and check the path
        login_flood(url, max(8, a.login_concurrency), a.login_concurrency, self.marker)
        rss0, pss0 = httpd.memory()
        res = login_flood(url, a.logins, a.login_concurrency, self.marker)
        rss1, pss1 = httpd.memory()
        log("%d logins in %.1fs: %.1f logins/s (%d concurrent)" % (
            res["ok"], res["elapsed_s"], res["per_s"], a.login_concurrency))
        seq = login_flood(url, a.timed_logins, 1, self.marker)
        probe = token_probe(self.fake.base, httpd.url("/fake/redirect_uri"), a.timed_logins)
        cb = seq["timings_ms"]["callback"]["median"]
        tok = probe["timings_ms"]["token"]["median"]
        log("callback median %.2f ms (sequential), token endpoint alone %.2f ms" % (cb, tok))
        self.results["logins"] = {
            "provider": "test/fakeidp oidc mode (RS256 ID token)",
            "count": res["ok"], "concurrency": a.login_concurrency,
            "elapsed_s": res["elapsed_s"], "logins_per_s": res["per_s"],
            "step_timings_ms_concurrent": res["timings_ms"],
            "sequential": {"count": seq["ok"], "step_timings_ms": seq["timings_ms"],
                           "token_endpoint_alone_ms": probe["timings_ms"]["token"]},
            "callback_median_ms": cb, "token_endpoint_median_ms": tok,
            "callback_minus_token_ms": cb - tok,
        }
        self.results["memory"] = {
            "rss_before_logins": rss0, "pss_before_logins": pss0,
            "rss_after_logins": rss1, "pss_after_logins": pss1,
            "logins_between": res["ok"] + 0,
            "processes": len(httpd.processes())}

    # ---------------------------------------------------------------- 3. bytes per session
    def phase_eviction(self):
        a = self.a
        size = a.evict_cache_size
        httpd = self.start_httpd(cache_size=size, label="evict")
        url = httpd.url("/fake/" + FILE_NAME)
        cookies = []
        batch = a.evict_batch
        probe_i = 0
        evicted_at = None
        limit = a.evict_max_logins
        while len(cookies) < limit:
            path = os.path.join(self.workdir, "evict-%d.txt" % len(cookies))
            login_flood(url, batch, a.login_concurrency, self.marker, cookies_out=path,
                        no_page=True)
            with open(path) as f:
                cookies += [l.strip() for l in f if l.strip()]
            # probe one old session that was never read before (a read marks it recently
            # used, which would shelter it from eviction)
            status, body, _ = fetch(self.http_port, "/fake/" + FILE_NAME, cookies[probe_i])
            probe_i += 1
            if status != 200:
                evicted_at = len(cookies)
                break
        if evicted_at is None:
            self.results["shm_per_session"] = {
                "cache_size": size, "note": "no eviction within %d logins" % len(cookies)}
            log("no eviction within %d logins" % len(cookies))
            return
        # survivors: every session the cache still holds (reads do not evict)
        flags = alive_flags(self.http_port, "/fake/" + FILE_NAME, cookies, self.payload)
        alive = sum(flags)
        size_b = parse_size(size)
        per = size_b / alive if alive else None
        oldest_alive = next((i for i, ok in enumerate(flags) if ok and i >= probe_i), None)
        full = [l for l in httpd.error_log().splitlines() if "session cache full" in l]
        m = re.search(r"(\d+) sessions evicted so far .*?(\d+) live", full[0]) if full else None
        self.results["shm_per_session"] = {
            "module_log_first_eviction": full[0].split("] ", 4)[-1] if full else None,
            "module_log_live_at_first_eviction": int(m.group(2)) if m else None,
            "cache_size": size, "cache_bytes": size_b, "logins": len(cookies),
            "first_eviction_seen_after_logins": evicted_at, "sessions_alive": alive,
            "bytes_per_session": per, "oldest_unprobed_alive_index": oldest_alive,
            "method": ("logged in sessions through the fake IdP into a %s cache in batches of %d, "
                       "without reading them (no request after the callback: a read marks an "
                       "entry as used and changes the eviction order); after each batch one "
                       "never-read old session was probed; once a probe "
                       "failed (the cache had started evicting), every session was checked: "
                       "bytes per session = cache size / sessions still valid" % (size, batch))}
        log("shared memory per session: %s / %d sessions alive = %.0f bytes" % (size, alive, per))
        self.check_httpd_log("eviction")

    # ---------------------------------------------------------------- 4. scaling
    def phase_scaling(self):
        """Throughput with 1, 10,000 and N live sessions in one shared-memory cache.

        Session 1 comes from a login at the real oidc-provider (/tpo/, access tokens for an
        hour); the others from logins through the fake IdP's oidc mode (/fake/), whose access
        tokens last 300 s and whose refresh tokens it forgets beyond 50,000 grants. So the
        'one session' runs and the end check use session 1 (never due for a refresh), and the
        'all sessions' runs use session 1 plus every fake session whose token is not yet due
        for a refresh (the module refreshes 60 s before expiry)."""
        a = self.a
        httpd = self.start_httpd(cache_size=a.scaling_cache_size, label="scaling")
        furl = httpd.url("/fake/" + FILE_NAME)
        first = login_idp(httpd, "tpo", "bench-first", TPO_COOKIE, self.marker)
        check_content(self.http_port, "tpo", first, self.payload, " (first session)")
        first_path = PATH["tpo"] + FILE_NAME
        targets = sorted(set([1] + [n for n in (10000, a.sessions) if n <= a.sessions]))
        cookies_path = os.path.join(self.workdir, "scaling-cookies.txt")
        fake, opened = [], []   # fake sessions in login order; opened: epoch ms of each
        points = []
        login_time = 0.0
        kw = self.wrk_kw()
        dur = a.scaling_duration
        for n in targets:
            need = n - 1 - len(fake)
            if need > 0:
                part = os.path.join(self.workdir, "scaling-part-%d.txt" % n)
                times = part + ".times"
                left = a.scaling_max_seconds - login_time
                if left < 5:
                    log("scaling: login time budget (--scaling-max-seconds %d) used up at %d "
                        "sessions" % (a.scaling_max_seconds, len(fake) + 1))
                    break
                res = login_flood(furl, need, a.scaling_concurrency, self.marker,
                                  cookies_out=part, times_out=times, max_seconds=int(left),
                                  allow_partial=True)
                login_time += res["elapsed_s"]
                with open(part) as f:
                    fake += [l.strip() for l in f if l.strip()]
                with open(times) as f:
                    opened += [int(l) for l in f if l.strip()]
                if len(opened) != len(fake):
                    raise Broken("scaling: login_flood.mjs wrote %d cookies but %d times"
                                 % (len(fake), len(opened)))
                log("%d sessions live (+%d in %.1fs, %.0f logins/s)" % (
                    len(fake) + 1, res["ok"], res["elapsed_s"], res["per_s"]))
            live = len(fake) + 1
            check_content(self.http_port, "tpo", first, self.payload,
                          " (first session, %d sessions live)" % live)
            hot, spread, used, ctrl = [], [], [], []
            last_other = 1.0
            for rnd in range(a.scaling_rounds):
                if last_other >= a.quiet_threshold:  # (little waiting: sessions age meanwhile)
                    self.wait_quiet(min(a.quiet_wait, 5))

                def run_open():
                    # control: the unprotected place, to tell the module's slowdown from the
                    # machine's drift
                    return run_wrk(httpd.url(PATH["open"] + FILE_NAME), None, dur,
                                   a.wrk_threads, a.connections, **kw)

                def run_one():
                    return run_wrk(httpd.url(first_path), first, dur, a.wrk_threads,
                                   a.connections, **kw)

                def run_all():
                    limit_ms = (time.time() + dur + 20 - FAKE_REFRESH_AGE_S) * 1000
                    lines = ["%s\t%s" % (first_path, first)]
                    lines += ["/fake/%s\t%s" % (FILE_NAME, c) for c, t in zip(fake, opened)
                              if t > limit_ms]
                    write_cookie_files(cookies_path, lines, a.wrk_threads)
                    used.append(len(lines))
                    return run_wrk(httpd.url(first_path), None, dur, a.wrk_threads,
                                   a.connections, cookies_file=cookies_path, **kw)
                # the order turns from round to round (no position effect)
                fns = [run_open, run_one, run_all]
                got = {}
                for fn in fns[rnd % 3:] + fns[:rnd % 3]:
                    got[fn] = fn()
                r0, r1, r2 = got[run_open], got[run_one], got[run_all]
                last_other = max(r["other_cpu"] or 0 for r in (r0, r1, r2))
                self.other_cpu += [r0["other_cpu"], r1["other_cpu"], r2["other_cpu"]]
                for r, what in ((r0, "unprotected"), (r1, "one session"), (r2, "all sessions")):
                    if r["problems"]:
                        self.problem("scaling %d sessions (%s)" % (live, what),
                                     "; ".join(r["problems"]))
                ctrl.append(r0["rps"])
                hot.append(r1["rps"])
                spread.append(r2["rps"])
            rss, pss = httpd.memory()
            paired_hot = median([x / y for x, y in zip(hot, ctrl) if x and y])
            paired_spread = median([x / y for x, y in zip(spread, ctrl) if x and y])
            points.append({"sessions": live, "open_median_rps": median(ctrl), "open_rounds": ctrl,
                           "hot_per_open": paired_hot, "spread_per_open": paired_spread,
                           "hot_median_rps": median(hot),
                           "hot_rounds": hot, "spread_median_rps": median(spread),
                           "spread_rounds": spread, "spread_sessions_used": used,
                           "rss": rss, "pss": pss})
            log("%d sessions: unprotected %.0f, one session %.0f, all sessions %.0f req/s "
                "(%d cookies)" % (live, median(ctrl), median(hot), median(spread), min(used)))
        base = points[0]
        for p in points:
            p["hot_ratio"] = p["hot_median_rps"] / base["hot_median_rps"]
            p["spread_ratio"] = p["spread_median_rps"] / base["spread_median_rps"]
            p["open_ratio"] = p["open_median_rps"] / base["open_median_rps"]
            # the module's own scaling: per round, the authenticated rate over the unprotected
            # rate of the adjacent run (the machine's drift cancels); median of the rounds;
            # then relative to the same figure with one live session
            p["hot_ratio_vs_control"] = p["hot_per_open"] / base["hot_per_open"]
            p["spread_ratio_vs_control"] = p["spread_per_open"] / base["spread_per_open"]
        status, body, _ = fetch(self.http_port, first_path, first)
        first_ok = status == 200 and body == self.payload
        if not first_ok:
            self.problem("scaling", "the first session no longer works at the end (%s)" % status)
        limit_ms = (time.time() + 30 - FAKE_REFRESH_AGE_S) * 1000
        young = [c for c, t in zip(fake, opened) if t > limit_ms]
        sample = young[:: max(1, len(young) // 1000)]
        alive = sum(alive_flags(self.http_port, "/fake/" + FILE_NAME, sample, self.payload))
        full_lines = [l for l in httpd.error_log().splitlines() if "session cache full" in l]
        self.results["scaling"] = {
            "sessions_requested": a.sessions, "cache_size": a.scaling_cache_size,
            "login_concurrency": a.scaling_concurrency, "login_seconds": login_time,
            "logins_per_s": len(fake) / login_time if login_time else None,
            "points": points, "first_session_ok_at_end": first_ok,
            "sample_checked": len(sample), "sample_alive": alive,
            "cache_full_log_lines": full_lines[:5],
            "method": ("wrk; 'one session' = every request with session 1 (a login at the real "
                       "oidc-provider, /tpo/); 'all sessions' = each request with the next "
                       "cookie of session 1 and of every fake-IdP session (/fake/) younger than "
                       "%d s minus the run, so that no request refreshes an access token (wrk "
                       "Lua); sessions 2..N from logins through the fake IdP's oidc mode"
                       % FAKE_REFRESH_AGE_S)}
        if alive != len(sample):
            self.problem("scaling", "%d of %d sampled young sessions no longer work" % (
                len(sample) - alive, len(sample)))
        if full_lines:
            self.problem("scaling", "the session cache evicted sessions: %s" % full_lines[0])
        self.check_httpd_log("scaling")

    # ---------------------------------------------------------------- 4b. distributed caches
    def phase_distributed(self):
        """Sessions in Redis and in memcached, each without and with the local tier
        (TPOAuthSessionCacheLocal), side by side with mod_auth_openidc using Redis
        (OIDCCacheType redis), with 1, 10,000 and N entries alive in the distributed cache.
        Entries 2..N are session-sized fillers written straight into the cache servers
        (pipelined, bounded): what they change is the cache servers' size, not the
        measured session. Every configuration runs in its own httpd, with /open/ (the
        unprotected rate of the same run), /tpo/ and /oidc/; rounds alternate the order;
        each 200 carries the file (wrk_status.lua checks the length, check_content the
        bytes before and after). After each configuration's wrk runs, --dist-logins logins
        through the fake IdP give its logins/s (mod_auth_openidc+Redis: the same in a virtual
        host on its own port, in the first configuration's httpd). The first login into Redis
        gives the session record's size, from which the shared memory of a local copy is
        computed (session_record_figures). --dist-login-cost N runs bench/login_cost.py (N
        logins under callgrind) with sessions in shm, in Redis and in Redis + local tier."""
        a = self.a
        rport, mport = h.free_port(), h.free_port()
        procs = []
        redis_argv = ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save",
                      "", "--appendonly", "no", "--dir", self.workdir]
        mc_argv = ["memcached", "-l", "127.0.0.1", "-p", str(mport), "-U", "0", "-m", "1024",
                   "-t", "2"]
        if os.geteuid() == 0:
            mc_argv += ["-u", "nobody"]
        for argv in (redis_argv, mc_argv):
            logf = open(os.path.join(self.workdir, argv[0] + ".log"), "ab")
            p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            logf.close()
            procs.append(_ProcStopper(p))
            self.servers.append(procs[-1])
        h.wait_until(lambda: h.port_open(rport) and h.port_open(mport), 10,
                     what="redis-server and memcached")
        oidc_cache = "OIDCCacheType redis\nOIDCRedisCacheServer 127.0.0.1:%d\n" % rport
        configs = [("redis", "redis 127.0.0.1:%d" % rport, False),
                   ("redis+local", "redis 127.0.0.1:%d" % rport, True),
                   ("memcache", "memcache 127.0.0.1:%d" % mport, False),
                   ("memcache+local", "memcache 127.0.0.1:%d" % mport, True)]
        targets = sorted(set(n for n in a.dist_sessions if n >= 1))
        filled = 0
        out = {"targets": targets, "filler_bytes": DIST_FILLER_BYTES, "points": [],
               "wrk": {"threads": a.wrk_threads, "connections": a.connections,
                       "duration_s": a.dist_duration, "rounds": a.dist_rounds}}
        kw = self.wrk_kw()
        for n in targets:
            if n - 1 > filled:
                t = time.monotonic()
                fill_redis(rport, filled, n - 1)
                fill_memcache(mport, filled, n - 1)
                log("distributed: %d entries in redis and memcached (+%d in %.1fs)" % (
                    n - 1, n - 1 - filled, time.monotonic() - t))
                filled = n - 1
            point = {"sessions": n}
            for label, cache, local in configs:
                extra = ("TPOAuthCache %s\nTPOAuthCachePassphrase %s\n"
                         "TPOAuthLoginCookieKeyFile %s\n" % (cache, secrets.token_hex(16),
                                                               self.login_key_file()))
                if local:
                    extra += "TPOAuthSessionCacheLocal On\n"
                # mod_auth_openidc's logins/s: a virtual host on a second port where it logs in
                # through the fake IdP (as ours does at /fake/), sessions in the same Redis;
                # only in the first configuration (it does not depend on ours)
                oport = None
                if label == "redis" and a.dist_logins:
                    oport = h.free_port()
                    while oport == self.http_port:
                        oport = h.free_port()
                    extra += oidc_fake_vhost(oport, self.fake.base, rport,
                                             os.path.join(self.workdir, "httpd-dist", "bench"))
                httpd = self.start_httpd(label="dist", extra_conf=extra, oidc_cache=oidc_cache)
                if local and cache.startswith("redis"):
                    h.wait_until(lambda: redis_pubsub_clients(rport) >= 1, 10,
                                 what="the local tier's invalidation subscriber")
                keys_before = redis_keys(rport) if label == "redis" else None
                cookies = {"open": None,
                           "tpo": login_idp(httpd, "tpo", "bench-user", TPO_COOKIE, self.marker)}
                if keys_before is not None and "session_record" not in out:
                    out["session_record"] = session_record_figures(rport, keys_before)
                cookies["oidc"] = login_idp(httpd, "oidc", "bench-user", OIDC_COOKIE, self.marker)
                keys = ["open", "tpo", "oidc"]
                for key in keys:
                    check_content(self.http_port, key, cookies[key], self.payload, " (" + label + ")")
                runs = {k: [] for k in keys}
                remote_gets, tpo_requests = 0, 0
                for rnd in range(a.dist_rounds):
                    self.wait_quiet(min(a.quiet_wait, 5))
                    for key in keys[rnd % 3:] + keys[:rnd % 3]:
                        before = remote_get_count(cache, rport, mport) if key == "tpo" else 0
                        res = run_wrk(httpd.url(PATH[key] + FILE_NAME), cookies[key],
                                      a.dist_duration, a.wrk_threads, a.connections, **kw)
                        if key == "tpo":
                            remote_gets += remote_get_count(cache, rport, mport) - before
                            tpo_requests += sum(res.get("statuses", {}).values())
                        runs[key].append(res)
                        if res["problems"]:
                            self.problem("distributed %s %d %s" % (label, n, key),
                                         "; ".join(res["problems"]))
                for key in keys:
                    check_content(self.http_port, key, cookies[key], self.payload,
                                  " (" + label + ", after wrk)")
                logins = None
                if a.dist_logins:
                    # logins/s after the wrk runs (the new sessions do not change them): a
                    # warm-up (discovery, JWKS and connections of every child), then the flood
                    furl = httpd.url("/fake/" + FILE_NAME)
                    login_flood(furl, a.login_concurrency, a.login_concurrency, self.marker,
                                max_seconds=120)
                    res = login_flood(furl, a.dist_logins, a.login_concurrency, self.marker,
                                      max_seconds=300)
                    logins = res["per_s"]
                    if oport:
                        ourl = "http://127.0.0.1:%d/oidc-fake/%s" % (oport, FILE_NAME)
                        login_flood(ourl, a.login_concurrency, a.login_concurrency, self.marker,
                                    cookie=OIDC_COOKIE, max_seconds=120)
                        ores = login_flood(ourl, a.dist_logins, a.login_concurrency, self.marker,
                                           cookie=OIDC_COOKIE, max_seconds=300)
                        point["oidc_redis_logins_per_s"] = ores["per_s"]
                med = {k: median([r["rps"] for r in runs[k] if r["rps"]]) for k in keys}
                tpo_open = median([x["rps"] / y["rps"] for x, y in zip(runs["tpo"], runs["open"])
                                   if x["rps"] and y["rps"]])
                oidc_open = median([x["rps"] / y["rps"] for x, y in
                                    zip(runs["oidc"], runs["open"]) if x["rps"] and y["rps"]])
                point[label] = {"open_rps": med["open"], "tpo_rps": med["tpo"],
                                "oidc_redis_rps": med["oidc"], "tpo_per_open": tpo_open,
                                "oidc_redis_per_open": oidc_open,
                                "tpo_per_oidc_redis": (med["tpo"] / med["oidc"]
                                                       if med["tpo"] and med["oidc"] else None),
                                "tpo_remote_gets_per_request": (remote_gets / tpo_requests
                                                                if tpo_requests else None),
                                "tpo_logins_per_s": logins}
                log("distributed %6d %-15s open %7.0f  tpo %7.0f (%.2f of open)  "
                    "mod_auth_openidc+redis %7.0f (%.2f)  tpo/oidc %.2f  cache GETs per tpo "
                    "request %.4f  logins/s %s%s" % (
                        n, label, med["open"] or 0, med["tpo"] or 0, tpo_open or 0,
                        med["oidc"] or 0, oidc_open or 0,
                        point[label]["tpo_per_oidc_redis"] or 0,
                        point[label]["tpo_remote_gets_per_request"] or 0, fmt_n(logins, 1),
                        "  (mod_auth_openidc+redis %s)" % fmt_n(
                            point.get("oidc_redis_logins_per_s"), 1) if oport else ""))
                self.check_httpd_log("distributed-%s-%d" % (label, n))
                httpd.stop()
            out["points"].append(point)
        self.results["distributed"] = out  # (reported even if the login cost fails)
        if a.dist_login_cost:
            # instructions per login (bench/login_cost.py, callgrind): sessions in shared
            # memory, in Redis, in Redis with the local tier
            out["login_cost"] = {}
            for what, cache_args in (("shm", []), ("redis", ["--cache", "redis 127.0.0.1:%d" % rport]),
                                     ("redis+local", ["--cache", "redis 127.0.0.1:%d" % rport,
                                                      "--local"])):
                out["login_cost"][what] = run_login_cost(self.a.module, a.dist_login_cost,
                                                         cache_args, self.workdir, what)
                log("instructions per login, sessions in %s: %s (callback %s)" % (
                    what, fmt_n(out["login_cost"][what]["total"]),
                    fmt_n(out["login_cost"][what]["steps"]["callback"])))
        self.results["distributed"] = out
        for p in procs:
            p.stop()
            self.servers.remove(p)

    def login_key_file(self):
        path = os.path.join(self.workdir, "login-cookie.key")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(path, 0o600)
        return path

    # ---------------------------------------------------------------- 5. callgrind
    def phase_callgrind(self):
        a = self.a
        if self.httpd is not None:
            self.httpd.stop()
        out = {"requests_n": a.callgrind_n, "method": (
            "apache2 -X under valgrind --tool=callgrind --dump-before=ap_send_error_response; "
            "after a login and %d warm-up requests: a 404 (dump), N requests, a 404 (dump A), "
            "2N requests, a 404 (dump B); instructions per request = (Ir(B) - Ir(A)) / N "
            "(start-up, login and the share of the 404s cancel out). One keep-alive connection, "
            "MaxKeepAliveRequests at its default (100)."
            % a.callgrind_warmup)}
        for key, _, _ in CONFIGS:
            out[key] = self.callgrind_one(key)
            log("callgrind %-17s %12.0f instructions/request" % (LABEL[key], out[key]["ir_per_request"]))
        base = out["open"]["ir_per_request"]
        out["tpo_share"] = out["tpo"]["ir_per_request"] - base
        out["oidc_share"] = out["oidc"]["ir_per_request"] - base
        out["share_ratio"] = out["tpo_share"] / out["oidc_share"] if out["oidc_share"] > 0 else None
        self.results["callgrind"] = out

    def callgrind_one(self, key):
        a = self.a
        root = os.path.join(self.workdir, "cg-" + key)
        shutil.rmtree(root, ignore_errors=True)
        cgdir = os.path.join(self.workdir, "callgrind")
        os.makedirs(cgdir, exist_ok=True)
        os.chmod(cgdir, 0o777)
        # valgrind runs as the unprivileged user from the start, so that every dump file is
        # written by the same user (apache2 would otherwise drop root privileges after valgrind
        # created its files as root).
        user = CALLGRIND_USER if os.geteuid() == 0 else None
        httpd = BenchHttpd(module=self.a.module, port=self.cg_port, server_root=root,
                           start_servers=1, threads=4, start_timeout=180, run_as=user)
        install_payload(httpd, self.payload)
        conf = bench_conf(root, self.idp, self.fake.base, self.cg_port,
                          passphrase=secrets.token_hex(16))
        httpd.write_config(conf)
        if user:
            import pwd
            pw = pwd.getpwnam(user)
            for d in ("logs", "run"):
                os.chown(os.path.join(root, d), pw.pw_uid, pw.pw_gid)
        prefix = os.path.join(cgdir, "callgrind.%s" % key)
        # Every entry into ap_send_error_response() dumps the counters (and zeroes them). The
        # measured requests never call it (they are all 200s); a request for a missing file
        # (404) does, so it marks the boundaries: dump after mark 2 = N requests, dump after
        # mark 3 = 2N requests, each plus the same fraction of a 404. No ptrace, no vgdb.
        argv = [VALGRIND, "--tool=callgrind", "--vgdb=no", "--callgrind-out-file=" + prefix + ".%p",
                "--dump-instr=no", "--collect-jumps=no", "--dump-before=ap_send_error_response",
                h.APACHE_BIN, "-f", httpd.conf_path, "-X"]
        vlog = open(os.path.join(cgdir, "valgrind.%s.log" % key), "wb")
        extra = {"user": user, "group": user, "extra_groups": []} if user else {}
        proc = subprocess.Popen(argv, stdout=vlog, stderr=subprocess.STDOUT, cwd=root,
                                env=h.apache_env(), start_new_session=True, **extra)
        stopper = _ProcStopper(proc, vlog)
        self.servers.append(stopper)
        try:
            try:
                h.wait_until(lambda: proc.poll() is None and httpd._answers(), 180,
                             interval=0.5, what="apache2 -X under callgrind")
            except TimeoutError:
                raise Broken("callgrind (%s): apache2 -X did not answer: %s" % (
                    LABEL[key], httpd.error_log()[-2000:]))
            cookie = None
            auth = ("Bearer " + bearer_token(self.idp)) if key in ("tpob", "oidcb") else None
            if key == "tpo":
                cookie = login_idp(httpd, "tpo", "bench-user", TPO_COOKIE, self.marker, timeout=120)
            elif key == "oidc":
                cookie = login_idp(httpd, "oidc", "bench-user", OIDC_COOKIE, self.marker,
                                   timeout=120)
            conn = http.client.HTTPConnection("127.0.0.1", self.cg_port, timeout=120)
            pattern = "%s.%d.*" % (prefix, proc.pid)

            def dumps():
                return sorted(glob.glob(pattern), key=lambda p: int(p.rsplit(".", 1)[1]))

            def burst(n):
                for _ in range(n):
                    status, body, _ = fetch(self.cg_port, PATH[key] + FILE_NAME, cookie, conn=conn,
                                            auth=auth)
                    if status != 200 or body != self.payload:
                        raise Broken("callgrind (%s): got %s instead of the file" % (LABEL[key], status))

            def mark():
                before = len(dumps())
                status, _, _ = fetch(self.cg_port, "/__callgrind_mark_%s" % key, conn=conn,
                                     timeout=120)
                if status != 404:
                    raise Broken("callgrind (%s): the mark request got %s, not 404" % (
                        LABEL[key], status))
                try:
                    h.wait_until(lambda: len(dumps()) > before, 60, interval=0.2,
                                 what="a callgrind dump")
                except TimeoutError:
                    raise Broken("callgrind (%s): no dump after the mark request" % LABEL[key])
                return dumps()[-1]

            burst(a.callgrind_warmup)
            n = a.callgrind_n
            mark()
            burst(n)
            d_n = mark()
            burst(2 * n)
            d_2n = mark()
            conn.close()
            ir_a = callgrind_total(d_n)
            ir_b = callgrind_total(d_2n)
            res = {"ir_n": ir_a, "ir_2n": ir_b, "ir_per_request": (ir_b - ir_a) / n,
                   "ir_per_request_n_run": ir_a / n, "ir_per_request_2n_run": ir_b / (2 * n)}
            outdir = os.path.dirname(os.path.abspath(a.json))
            keep = os.path.join(outdir, "callgrind.%s.out" % key)
            os.makedirs(outdir, exist_ok=True)
            shutil.copyfile(d_2n, keep)
            res["dump_2n"] = keep
            if key in ("tpo", "tpob"):
                res["top_self"] = annotate(d_2n, "mod_tp_oauth", inclusive=False, n=2 * n)
                res["top_inclusive"] = annotate(d_2n, "mod_tp_oauth", inclusive=True, n=2 * n)
            if key == "oidc":
                res["top_inclusive"] = annotate(d_2n, "mod_auth_openidc", inclusive=True,
                                                n=2 * n, limit=8)
            return res
        finally:
            stopper.stop()
            self.servers.remove(stopper)

    # ---------------------------------------------------------------- driver
    def run(self):
        a = self.a
        r = self.results
        r["started"] = datetime.datetime.now().isoformat(timespec="seconds")
        r["mode"] = "smoke" if a.smoke else "full"
        r["module"] = a.module
        r["machine"] = {"cpus": os.cpu_count(), "kernel": platform.release(),
                        "loadavg_start": open("/proc/loadavg").read().split()[:3]}
        r["versions"] = versions()
        t0 = time.monotonic()
        try:
            self.start_backends()
        except Exception as e:
            self.problem("start", "the identity providers did not start: %s" % e)
            return
        phases = [("throughput", self.phase_throughput), ("bearer", self.phase_bearer),
                  ("logins", self.phase_logins),
                  ("eviction", self.phase_eviction), ("scaling", self.phase_scaling),
                  ("distributed", self.phase_distributed),
                  ("callgrind", self.phase_callgrind)]
        for name, fn in phases:
            if a.only and name not in a.only:
                continue
            log("---- %s" % name)
            t = time.monotonic()
            try:
                if name in ("throughput", "bearer", "logins") and (
                        self.httpd is None or not self.httpd.server_root.endswith("httpd-main")
                        or not self.httpd.running):
                    self.start_httpd(label="main")
                    log("httpd on %s (mpm_event, %d x %d threads)" % (
                        self.httpd.base, a.servers, a.threads_per_child))
                fn()
                if name in ("throughput", "logins") or (name == "bearer"
                                                          and self.httpd.running):
                    self.check_httpd_log(name)
            except Broken as e:
                self.problem(name, str(e))
            except Exception as e:
                self.problem(name, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
            r.setdefault("phase_seconds", {})[name] = round(time.monotonic() - t, 1)
        r["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        oc = [x for x in self.other_cpu if x is not None]
        r["machine"]["other_cpu_during_wrk"] = {
            "median": median(oc), "max": max(oc) if oc else None, "runs": len(oc),
            "note": "share of all CPUs used by processes other than this benchmark, its httpd "
                    "and its clients, during each wrk run"}
        r["elapsed_s"] = round(time.monotonic() - t0, 1)


class _ProcStopper:
    """Stops a process started by the benchmark (SIGTERM, bounded wait, SIGKILL)."""

    def __init__(self, proc, logf=None):
        self.proc = proc
        self.logf = logf

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=60)
        if self.logf:
            self.logf.close()
            self.logf = None


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise Broken("no totals in %s" % path)


def annotate(path, obj_filter, inclusive, n, limit=15):
    """Top functions of one object in a callgrind dump: [(Ir per request, function)]."""
    argv = [CALLGRIND_ANNOTATE, "--inclusive=%s" % ("yes" if inclusive else "no"),
            "--threshold=100", path]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    rows = []
    rx = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?)\s+\[(.*)\]\s*$")
    for line in r.stdout.splitlines():
        m = rx.match(line)
        if not m or obj_filter not in m.group(3):
            continue
        rows.append({"ir_per_request": int(m.group(1).replace(",", "")) / n,
                     "function": m.group(2)})
        if len(rows) >= limit:
            break
    return rows


def alive_flags(port, path, cookies, payload, workers=4):
    """For each cookie: does it still open a session (200 with the file)?"""
    local = threading.local()

    def one(c):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for attempt in range(2):
            try:
                status, body, _ = fetch(port, path, c, conn=conn)
                return status == 200 and body == payload
            except (OSError, http.client.HTTPException):
                conn.close()
                if attempt:
                    raise
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, cookies))


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)", str(s).strip(), re.I)
    mult = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[m.group(2).upper()]
    return int(m.group(1)) * mult


def versions():
    out = {}
    for name, argv in (("apache2", [h.APACHE_BIN, "-v"]), ("wrk", [WRK, "-v"]),
                       ("node", [NODE, "--version"]), ("valgrind", [VALGRIND, "--version"])):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            out[name] = (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out[name] = None
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libapache2-mod-auth-openidc"],
                           capture_output=True, text=True, timeout=10)
        out["mod_auth_openidc"] = r.stdout.strip() or None
    except OSError:
        out["mod_auth_openidc"] = None
    try:
        r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        out["tree"] = r.stdout.strip() or None
    except OSError:
        out["tree"] = None
    return out


# ------------------------------------------------------------------ report

def summarize(res):
    """The headline figures and the targets, in one small dict (results["summary"])."""
    out = {"valid": not res.get("problems"), "targets": {}}

    def target(name, value, goal, higher_is_better=True):
        if value is None:
            return
        met = value >= goal if higher_is_better else value <= goal
        out["targets"][name] = {"value": round(value, 4), "target": round(goal, 4), "met": met}
    t = res.get("throughput")
    if t:
        out["rps_median"] = {k: t[k]["median_rps"] for k, _, _ in CONFIGS}
        target("ours_vs_unprotected", t.get("ratio_tpo_open"), TARGETS["vs_open"])
        out["ours_vs_unprotected_per_round_median"] = t.get("paired_ratio_tpo_open")
        out["ours_vs_mod_auth_openidc_per_round_median"] = t.get("paired_ratio_tpo_oidc")
        target("ours_vs_mod_auth_openidc", t.get("ratio_tpo_oidc"), TARGETS["vs_oidc"])
    b = res.get("bearer")
    if b:
        out["bearer_rps_median"] = {k: b[k]["median_rps"] for k, _, _ in BEARER_CONFIGS}
        target("bearer_vs_unprotected", b.get("ratio_tpob_open"), TARGETS["bearer_vs_open"])
        out["bearer_vs_unprotected_per_round_median"] = b.get("paired_ratio_tpob_open")
        out["bearer_vs_mod_auth_openidc_oauth20"] = b.get("ratio_tpob_oidcb")
        bc = b.get("callgrind")
        if bc:
            out["bearer_instructions_per_request"] = {
                k: round(bc[k]["ir_per_request"]) for k in ("open", "tpo", "tpob", "oidcb")}
            target("bearer_instructions_vs_session_request", bc["bearer_vs_session"],
                   TARGETS["bearer_instr_vs_session"], higher_is_better=False)
    c = res.get("callgrind")
    if c and "tpo_share" in c:
        out["instructions_per_request"] = {k: round(c[k]["ir_per_request"]) for k, _, _ in CONFIGS}
        out["module_instructions_per_request"] = {"mod_tp_oauth": round(c["tpo_share"]),
                                                  "mod_auth_openidc": round(c["oidc_share"])}
        target("module_instructions_ours_vs_mod_auth_openidc", c.get("share_ratio"),
               TARGETS["instr_share"], higher_is_better=False)
    lg = res.get("logins")
    if lg:
        out["logins_per_s"] = lg["logins_per_s"]
        out["callback_median_ms"] = lg["callback_median_ms"]
        out["callback_minus_token_endpoint_ms"] = round(lg["callback_minus_token_ms"], 3)
    sp = res.get("shm_per_session") or {}
    if sp.get("bytes_per_session"):
        out["shm_bytes_per_session"] = round(sp["bytes_per_session"])
    m = res.get("memory")
    if m:
        out["httpd_rss_mb_after_logins"] = round(m["rss_after_logins"] / 2 ** 20, 1)
        out["httpd_pss_mb_after_logins"] = round(m["pss_after_logins"] / 2 ** 20, 1)
        out["logins_before_rss"] = m["logins_between"]
    s = res.get("scaling")
    if s and s.get("points"):
        out["scaling"] = {str(p["sessions"]): {
            "one_session_ratio": round(p["hot_ratio"], 4),
            "all_sessions_ratio": round(p["spread_ratio"], 4),
            "unprotected_control_ratio": round(p["open_ratio"], 4),
            "one_session_ratio_vs_control": round(p["hot_ratio_vs_control"], 4),
            "all_sessions_ratio_vs_control": round(p["spread_ratio_vs_control"], 4)}
            for p in s["points"]}
        worst = min(min(p["hot_ratio_vs_control"], p["spread_ratio_vs_control"])
                    for p in s["points"])
        target("scaling_worst_ratio_drift_corrected", worst, TARGETS["scaling"])
        out["scaling_worst_raw_ratio"] = round(min(min(p["hot_ratio"], p["spread_ratio"])
                                                   for p in s["points"]), 4)
        out["scaling_max_sessions"] = s["points"][-1]["sessions"]
    d = res.get("distributed")
    if d and d.get("points"):
        out["distributed"] = {str(p["sessions"]): {
            label: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in p[label].items()}
            for label in DIST_LABELS if label in p} for p in d["points"]}
        for p in d["points"]:
            if p.get("oidc_redis_logins_per_s") is not None:
                out["distributed"][str(p["sessions"])]["mod_auth_openidc_redis_logins_per_s"] = \
                    p["oidc_redis_logins_per_s"]
        if d.get("session_record"):
            out["distributed_session_record_bytes"] = d["session_record"]["record_bytes"]
            out["distributed_local_shm_bytes_per_session"] = round(
                d["session_record"]["shm_bytes_per_session"])
        if d.get("login_cost"):
            out["instructions_per_login"] = {k: round(v["total"])
                                             for k, v in d["login_cost"].items()}
        for label in ("redis+local", "memcache+local"):
            vals = [p[label] for p in d["points"] if label in p]
            if vals:
                target("%s_vs_unprotected_worst" % label,
                       min(v["tpo_per_open"] or 0 for v in vals), TARGETS["dist_local_vs_open"])
                target("%s_vs_mod_auth_openidc_redis_worst" % label,
                       min(v["tpo_per_oidc_redis"] or 0 for v in vals),
                       TARGETS["dist_local_vs_oidc_redis"])
    oc = res.get("machine", {}).get("other_cpu_during_wrk") or {}
    out["other_cpu_during_wrk_median"] = oc.get("median")
    return out


def fmt_n(x, digits=0):
    if x is None:
        return "-"
    return "{:,.{d}f}".format(x, d=digits)


def mark(ok):
    return "ok" if ok else "MISSED"


def report(res):
    L = []
    add = L.append
    a = res.get("args", {})
    add("")
    add("mod_tp_oauth benchmark (%s run, %s)" % (res.get("mode"), res.get("started")))
    add("  module %s; mod_auth_openidc %s; %s; %s CPUs; load %s -> %s" % (
        res.get("module"), res.get("versions", {}).get("mod_auth_openidc"),
        res.get("versions", {}).get("apache2"), res.get("machine", {}).get("cpus"),
        " ".join(res.get("machine", {}).get("loadavg_start", [])),
        " ".join(res.get("machine", {}).get("loadavg_end", []))))
    t = res.get("throughput")
    if t:
        w = t["wrk"]
        add("")
        add("Authenticated requests for a %d-byte static file (wrk -t%d -c%d -d%ds, %d rounds "
            "alternating; requests/s)" % (t["file_bytes"], w["threads"], w["connections"],
                                          w["duration_s"], w["rounds"]))
        add("  %-28s %12s %12s %12s" % ("configuration", "median", "min", "max"))
        for key, label, path in CONFIGS:
            add("  %-28s %12s %12s %12s" % ("%s (%s)" % (label, path), fmt_n(t[key]["median_rps"]),
                                            fmt_n(t[key]["min_rps"]), fmt_n(t[key]["max_rps"])))
        if "ratio_tpo_open" in t:
            add("  %-28s %12.3f   target >= %.2f  %s   (median of per-round ratios %.3f)" % (
                "ours / unprotected", t["ratio_tpo_open"], TARGETS["vs_open"],
                mark(t["ratio_tpo_open"] >= TARGETS["vs_open"]), t.get("paired_ratio_tpo_open") or 0))
        if "ratio_tpo_oidc" in t:
            add("  %-28s %12.2fx  target >= %.1fx  %s   (median of per-round ratios %.2fx)" % (
                "ours / mod_auth_openidc", t["ratio_tpo_oidc"], TARGETS["vs_oidc"],
                mark(t["ratio_tpo_oidc"] >= TARGETS["vs_oidc"]), t.get("paired_ratio_tpo_oidc") or 0))
        if not t.get("valid", True):
            add("  INVALID: some wrk runs saw non-200 responses or socket errors (see problems)")
    d = res.get("distributed")
    if d and d.get("points"):
        w = d["wrk"]
        add("")
        add("Distributed caches (wrk -t%d -c%d -d%ds, %d rounds; requests/s, medians; ratios are "
            "per-round medians against /open/ of the same httpd)" % (
                w["threads"], w["connections"], w["duration_s"], w["rounds"]))
        add("  %-9s %-15s %9s %9s %7s %11s %7s %8s %9s %9s" % (
            "entries", "mod_tp_oauth", "open", "tpo", "/open", "oidc+redis", "/open", "tpo/oidc",
            "GETs/req", "logins/s"))
        for p in d["points"]:
            for label in DIST_LABELS:
                v = p.get(label)
                if not v:
                    continue
                add("  %-9s %-15s %9s %9s %7.3f %11s %7.3f %7.2fx %9s %9s" % (
                    fmt_n(p["sessions"]), label, fmt_n(v["open_rps"]), fmt_n(v["tpo_rps"]),
                    v["tpo_per_open"] or 0, fmt_n(v["oidc_redis_rps"]),
                    v["oidc_redis_per_open"] or 0, v["tpo_per_oidc_redis"] or 0,
                    fmt_n(v.get("tpo_remote_gets_per_request"), 4),
                    fmt_n(v.get("tpo_logins_per_s"), 1)))
            if p.get("oidc_redis_logins_per_s") is not None:
                add("  %-9s %-22s %70s" % (fmt_n(p["sessions"]), "mod_auth_openidc+redis",
                                           fmt_n(p["oidc_redis_logins_per_s"], 1)))
        if any(v.get("tpo_logins_per_s") for p in d["points"] for v in p.values()
               if isinstance(v, dict)):
            add("  logins/s: %d logins (%d concurrent) through test/fakeidp's oidc mode after the "
                "wrk runs of each configuration (mod_auth_openidc+redis: the same, in a virtual "
                "host on its own port)" % (a.get("dist_logins", 0), a.get("login_concurrency", 0)))
        sr = d.get("session_record")
        if sr:
            add("  session record of bench-user %s bytes (Redis value %s); a local copy %s bytes; "
                "shm bytes per session %s (computed from the record size and the shm layout, "
                "%d MiB segment; not read at runtime)" % (
                    fmt_n(sr["record_bytes"]), fmt_n(sr["redis_value_bytes"]),
                    fmt_n(sr["local_copy_bytes"]), fmt_n(sr["shm_bytes_per_session"]),
                    sr["local_segment_bytes"] >> 20))
        lc = d.get("login_cost")
        if lc:
            add("  instructions per login (bench/login_cost.py, callgrind, median of %d logins): %s" % (
                next(iter(lc.values()))["logins"], "; ".join(
                    "%s %s (redirect %s, callback %s, file %s)" % (
                        k, fmt_n(v["total"]), fmt_n(v["steps"]["redirect"]),
                        fmt_n(v["steps"]["callback"]), fmt_n(v["steps"]["file"]))
                    for k, v in lc.items())))
        add("  targets: with the local tier >= %.2f of unprotected and >= %.1fx mod_auth_openidc "
            "with Redis" % (TARGETS["dist_local_vs_open"], TARGETS["dist_local_vs_oidc_redis"]))
    c = res.get("callgrind")
    if c and "tpo_share" in c:
        add("")
        add("CPU per request (callgrind, apache2 -X, N=%d; instructions per request)" % c["requests_n"])
        add("  %-28s %12s %14s" % ("configuration", "total", "module share"))
        add("  %-28s %12s %14s" % ("unprotected", fmt_n(c["open"]["ir_per_request"]), "-"))
        add("  %-28s %12s %14s" % ("mod_tp_oauth", fmt_n(c["tpo"]["ir_per_request"]), fmt_n(c["tpo_share"])))
        add("  %-28s %12s %14s" % ("mod_auth_openidc", fmt_n(c["oidc"]["ir_per_request"]), fmt_n(c["oidc_share"])))
        if c.get("share_ratio") is not None:
            add("  %-28s %12.3f   target <= %.3f %s" % (
                "share ours / mod_auth_openidc", c["share_ratio"], TARGETS["instr_share"],
                mark(c["share_ratio"] <= TARGETS["instr_share"])))
        top = c["tpo"].get("top_inclusive") or []
        if top:
            add("  mod_tp_oauth functions, inclusive instructions per request (top %d):" % min(8, len(top)))
            for row in top[:8]:
                add("    %10s  %s" % (fmt_n(row["ir_per_request"]), row["function"]))
        top = c["tpo"].get("top_self") or []
        if top:
            add("  mod_tp_oauth functions, self instructions per request (top %d):" % min(8, len(top)))
            for row in top[:8]:
                add("    %10s  %s" % (fmt_n(row["ir_per_request"]), row["function"]))
    lg = res.get("logins")
    if lg:
        add("")
        add("Logins through the fake IdP (oidc mode: 4 requests each, token exchange, RS256 ID token)")
        add("  %-28s %12s   (%d logins, %d concurrent)" % (
            "logins/s", fmt_n(lg["logins_per_s"], 1), lg["count"], lg["concurrency"]))
        add("  %-28s %12s ms (client-side median, sequential logins, n=%d)" % (
            "callback request", fmt_n(lg["callback_median_ms"], 2), lg["sequential"]["count"]))
        add("  %-28s %12s ms (the same token request sent by the client itself)" % (
            "token endpoint alone", fmt_n(lg["token_endpoint_median_ms"], 2)))
        add("  %-28s %12s ms (callback median - token endpoint median)" % (
            "time the module adds", fmt_n(lg["callback_minus_token_ms"], 2)))
    sp = res.get("shm_per_session")
    m = res.get("memory")
    if sp or m:
        add("")
        add("Memory")
    if sp:
        if sp.get("bytes_per_session"):
            add("  %-28s %12s   (TPOAuthCacheSize %s / %d sessions alive after the cache began "
                "evicting; %d logins)" % ("shm bytes per session", fmt_n(sp["bytes_per_session"]),
                                          sp["cache_size"], sp["sessions_alive"], sp["logins"]))
            if sp.get("module_log_live_at_first_eviction"):
                add("  %-28s %12s   (the module's log at its first eviction: %d live)" % (
                    "  same, from the module log", fmt_n(parse_size(sp["cache_size"])
                                                     / sp["module_log_live_at_first_eviction"]),
                    sp["module_log_live_at_first_eviction"]))
        else:
            add("  shm bytes per session: %s" % sp.get("note"))
    if m:
        add("  %-28s %9s MB RSS %9s MB PSS (%d processes)" % (
            "httpd before logins", fmt_n(m["rss_before_logins"] / 2 ** 20, 1),
            fmt_n(m["pss_before_logins"] / 2 ** 20, 1), m["processes"]))
        add("  %-28s %9s MB RSS %9s MB PSS" % (
            "httpd after %d logins" % m["logins_between"], fmt_n(m["rss_after_logins"] / 2 ** 20, 1),
            fmt_n(m["pss_after_logins"] / 2 ** 20, 1)))
    s = res.get("scaling")
    if s and s.get("points"):
        add("")
        add("Session-count scaling (mod_tp_oauth, TPOAuthCacheSize %s; wrk -d%ds, requests/s, "
            "median of %d rounds; target ratio >= %.2f)" % (
                s["cache_size"], a.get("scaling_duration", 0), a.get("scaling_rounds", 0),
                TARGETS["scaling"]))
        add("  %-13s %12s %6s %12s %6s %13s %6s %8s %8s" % (
            "live sessions", "unprotected", "ratio", "one session", "ratio", "all sessions*",
            "ratio", "RSS MB", "PSS MB"))
        for p in s["points"]:
            add("  %-13s %12s %6.3f %12s %6.3f %13s %6.3f %8s %8s" % (
                fmt_n(p["sessions"]), fmt_n(p["open_median_rps"]), p["open_ratio"],
                fmt_n(p["hot_median_rps"]), p["hot_ratio"],
                fmt_n(p["spread_median_rps"]), p["spread_ratio"], fmt_n(p["rss"] / 2 ** 20, 1),
                fmt_n(p["pss"] / 2 ** 20, 1)))
        add("  drift-corrected (per round: authenticated / adjacent unprotected run; median; "
            "relative to 1 session; the target applies to these):")
        for p in s["points"]:
            u = p.get("spread_sessions_used") or [0]
            add("  %-13s %12s %6s %12s %6.3f %13s %6.3f   (%s cookies)" % (
                fmt_n(p["sessions"]), "", "", "%.3f" % p["hot_per_open"], p["hot_ratio_vs_control"],
                "%.3f" % p["spread_per_open"], p["spread_ratio_vs_control"],
                fmt_n(min(u)) if min(u) == max(u) else "%s-%s" % (fmt_n(min(u)), fmt_n(max(u)))))
        add("  one session: session 1 (real oidc-provider); * all sessions: each request with "
            "the next cookie of every live session whose access token is not due for a refresh "
            "(up to %s cookies)" % fmt_n(max(
                max(p.get("spread_sessions_used") or [0]) for p in s["points"])))
        worst = min(min(p["hot_ratio_vs_control"], p["spread_ratio_vs_control"])
                    for p in s["points"])
        add("  worst drift-corrected ratio %.3f %s; sessions created at %s logins/s; first session valid at the "
            "end: %s; %d young sessions sampled, %d valid; cache evictions logged: %s" % (
                worst, mark(worst >= TARGETS["scaling"]), fmt_n(s["logins_per_s"], 0),
                "yes" if s["first_session_ok_at_end"] else "NO", s["sample_checked"],
                s["sample_alive"], "YES" if s.get("cache_full_log_lines") else "none"))
        if s["points"][-1]["sessions"] < s["sessions_requested"]:
            add("  NOTE: only %d of %d sessions were created" % (s["points"][-1]["sessions"],
                                                                 s["sessions_requested"]))
    b = res.get("bearer")
    if b:
        w = b["wrk"]
        add("")
        add("Bearer tokens: the same JWT access token on every request (wrk -t%d -c%d -d%ds, %d "
            "rounds; requests/s)" % (w["threads"], w["connections"], w["duration_s"], w["rounds"]))
        for key, label, _ in BEARER_CONFIGS:
            add("  %-28s %12s" % (label, fmt_n(b[key]["median_rps"])))
        r = b.get("ratio_tpob_open")
        if r is not None:
            add("  mod_tp_oauth bearer / unprotected  %.3f (target >= %.2f) %s; per-round median "
                "%s" % (r, TARGETS["bearer_vs_open"], mark(r >= TARGETS["bearer_vs_open"]),
                        fmt_n(b.get("paired_ratio_tpob_open"), 3)))
        if b.get("ratio_tpob_oidcb") is not None:
            add("  mod_tp_oauth bearer / mod_auth_openidc oauth20  %.2f" % b["ratio_tpob_oidcb"])
        bc = b.get("callgrind")
        if bc:
            add("  instructions/request: unprotected %s, session %s, bearer %s, "
                "mod_auth_openidc oauth20 %s" % tuple(
                    fmt_n(bc[k]["ir_per_request"]) for k in ("open", "tpo", "tpob", "oidcb")))
            add("  bearer / session request  %.2f (target <= %.1f) %s; module share bearer %s vs "
                "session %s" % (bc["bearer_vs_session"], TARGETS["bearer_instr_vs_session"],
                                mark(bc["bearer_vs_session"] <= TARGETS["bearer_instr_vs_session"]),
                                fmt_n(bc["tpob_share"]), fmt_n(bc["tpo_share"])))
    oc = res.get("machine", {}).get("other_cpu_during_wrk") or {}
    if oc.get("median") is not None:
        add("")
        add("Other load: processes outside the benchmark used %.0f%% (median; max %.0f%%) of the "
            "CPUs during the %d wrk runs%s" % (
                100 * oc["median"], 100 * oc["max"], oc["runs"],
                " -- THE THROUGHPUT FIGURES ARE DISTURBED" if oc["median"] > 0.10 else ""))
    add("")
    if res.get("problems"):
        add("BROKEN (%d):" % len(res["problems"]))
        for p in res["problems"]:
            add("  - " + p.splitlines()[0][:400])
    else:
        add("No problems: every configuration returned 200 with the file; wrk saw only 200s.")
    add("Phases (s): %s; total %ss" % (res.get("phase_seconds"), res.get("elapsed_s")))
    return "\n".join(L)


# ------------------------------------------------------------------ distributed-cache fillers

DIST_LABELS = ("redis", "redis+local", "memcache", "memcache+local")
DIST_FILLER_BYTES = 2500   # a typical session record's size in the cache
DIST_FILL_BATCH = 2000


def fill_redis(port, start, end):
    """Entries start..end-1 (SET, pipelined in batches; replies counted)."""
    val = b"f" * DIST_FILLER_BYTES
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        for lo in range(start, end, DIST_FILL_BATCH):
            hi = min(end, lo + DIST_FILL_BATCH)
            buf = bytearray()
            for i in range(lo, hi):
                k = b"bench-filler-%d" % i
                buf += b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$4\r\n3600\r\n" % (
                    len(k), k, len(val), val)
            s.sendall(buf)
            for _ in range(lo, hi):
                line = f.readline()
                if not line.startswith(b"+OK"):
                    raise Broken("redis filler: %r" % line[:100])


def redis_pubsub_clients(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
        f = s.makefile("rb")
        n = int(f.readline()[1:])
        body = f.read(n + 2).decode(errors="replace")
    return sum(1 for line in body.splitlines() if "flags=P" in line)


def remote_get_count(cache, rport, mport):
    """GETs the cache server has answered so far (Redis INFO commandstats, memcached
    stats cmd_get)."""
    if cache.startswith("redis"):
        with socket.create_connection(("127.0.0.1", rport), timeout=5) as s:
            s.sendall(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            f = s.makefile("rb")
            n = int(f.readline()[1:])
            body = f.read(n + 2).decode(errors="replace")
        m = re.search(r"cmdstat_get:calls=(\d+)", body)
        return int(m.group(1)) if m else 0
    with socket.create_connection(("127.0.0.1", mport), timeout=5) as s:
        s.sendall(b"stats\r\n")
        f = s.makefile("rb")
        for _ in range(200):
            line = f.readline().decode(errors="replace").strip()
            if line == "END" or not line:
                break
            if line.startswith("STAT cmd_get "):
                return int(line.split()[2])
    return 0


def oidc_fake_vhost(port, fake_base, rport, docs):
    """A virtual host on its own port where mod_auth_openidc (sessions in Redis) logs in through
    test/fakeidp's oidc mode, for bench/login_flood.mjs (mod_auth_openidc's logins/s)."""
    return """
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    Alias /oidc-fake/ "{docs}/"
    OIDCProviderMetadataURL {fake}/oidc/.well-known/openid-configuration
    OIDCClientID fake-client
    OIDCClientSecret fake-secret
    OIDCRedirectURI http://127.0.0.1:{port}/oidc-fake/redirect_uri
    OIDCCryptoPassphrase {passphrase}
    OIDCScope "openid email"
    OIDCPKCEMethod S256
    OIDCCacheType redis
    OIDCRedisCacheServer 127.0.0.1:{rport}
    OIDCSessionType server-cache
    <Location /oidc-fake/>
        AuthType openid-connect
        Require valid-user
    </Location>
</VirtualHost>
""".format(port=port, docs=docs, fake=fake_base, rport=rport, passphrase=secrets.token_hex(16))


def redis_command(port, *args):
    """One command; the reply as Python values (bulk strings as bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        buf = b"*%d\r\n" % len(args)
        for x in args:
            x = x if isinstance(x, bytes) else str(x).encode()
            buf += b"$%d\r\n%s\r\n" % (len(x), x)
        s.sendall(buf)
        f = s.makefile("rb")

        def read():
            line = f.readline()
            t, rest = line[:1], line[1:-2]
            if t == b"+":
                return rest.decode()
            if t == b"-":
                raise Broken("redis %s: %s" % (args[0], rest.decode(errors="replace")))
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2]
            if t == b"*":
                return [read() for _ in range(int(rest))]
            raise Broken("redis %s: unexpected reply %r" % (args[0], line[:80]))
        return read()


def redis_keys(port):
    """Every key but the fillers."""
    return set(k for k in redis_command(port, "KEYS", "*") if not k.startswith(b"bench-filler-"))


def session_record_figures(port, before):
    """After one login of ours into Redis (keys `before` it): the session record's size (the
    largest new value, less the cache encryption's 28 bytes) and, computed from it, the shared
    memory a local copy takes (see shm_bytes_per_entry)."""
    new = redis_keys(port) - before
    sizes = sorted((redis_command(port, "STRLEN", k) for k in new), reverse=True)
    if not sizes:
        raise Broken("distributed: the login wrote no key into Redis")
    record = sizes[0] - CACHE_CRYPT_OVERHEAD
    key_len = len("s:") + 43      # TPO_KEY_SESSION + the session id (32 bytes, base64url)
    value_len = LOCAL_HDR + record  # tpo_cache_local.c: a header, then the decrypted record
    seg = LOCAL_SIZE_DEFAULT
    per = shm_bytes_per_entry(seg, key_len + value_len)
    return {"user": "bench-user (real oidc-provider, scope openid email profile groups)",
            "record_bytes": record, "redis_value_bytes": sizes[0],
            "new_redis_values_at_login": sizes,
            "local_copy_bytes": key_len + value_len, "local_segment_bytes": seg,
            "shm_bytes_per_session": per,
            "method": ("computed, not read at runtime (the module exposes no figure of the "
                       "local tier's segment): record = largest value the login wrote into "
                       "Redis - %d bytes of encryption; a local copy = key (%d) + header (%d) + "
                       "record, in 256-byte blocks; shm bytes per session = segment size "
                       "(TPOAuthSessionCacheLocalSize default %d MiB) / copies that fit "
                       "(tpo_cache_shm.c's layout: entry slots, hash buckets, block links, "
                       "blocks); the same figure holds for sessions in the shm session cache "
                       "(TPOAuthCacheSize) without the %d-byte header"
                       % (CACHE_CRYPT_OVERHEAD, key_len, LOCAL_HDR, seg >> 20, LOCAL_HDR))}


# tpo_cache_crypt.c (CK_OVERHEAD: version byte, 12-byte nonce, 16-byte tag), tpo_cache_local.c (HDR),
# tpo_defaults.h (TPO_DEF_CACHE_LOCAL_SIZE_M), tpo_cache_shm.c / tpo_cache_shm_private.h
CACHE_CRYPT_OVERHEAD = 29
LOCAL_HDR = 32
LOCAL_SIZE_DEFAULT = 16 << 20
SHM_BLOCK, SHM_ENTRY, SHM_STRIPES, SHM_BYTES_PER_ENTRY, SHM_HDR = 256, 48, 64, 512, 4352


def shm_bytes_per_entry(segment, entry_bytes):
    """Bytes of a tpo_cache_shm segment per entry of entry_bytes (key + value) when the segment
    is full of such entries: its layout as tpo_shm_cache_create() makes it (the header's size
    approximate)."""
    def a64(x):
        return (x + 63) // 64 * 64
    me = max(16, segment // SHM_BYTES_PER_ENTRY)
    nb = SHM_STRIPES
    while nb < me:
        nb <<= 1
    off_entries = a64(a64(SHM_HDR) + nb * 4)
    off_bnext = a64(off_entries + me * SHM_ENTRY)
    nblocks = max(16, (segment - off_bnext - 64) // (SHM_BLOCK + 4))
    fit = min(me, nblocks // -(-entry_bytes // SHM_BLOCK))
    return segment / fit if fit else None


def run_login_cost(module, n, cache_args, workdir, what):
    """bench/login_cost.py (callgrind): instructions per login; its JSON."""
    path = os.path.join(workdir, "login-cost-%s.json" % what.replace("+", "-"))
    argv = [sys.executable, os.path.join(BENCH_DIR, "login_cost.py"), "-n", str(n),
            "--module", module, "--json", path] + cache_args
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise Broken("login_cost.py (%s) did not finish in 30 min" % what)
    if r.returncode != 0 or not os.path.exists(path):
        raise Broken("login_cost.py (%s) failed (exit %s): %s %s" % (
            what, r.returncode, r.stdout[-800:], r.stderr[-800:]))
    with open(path) as f:
        return json.load(f)


def fill_memcache(port, start, end):
    val = b"f" * DIST_FILLER_BYTES
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        for lo in range(start, end, DIST_FILL_BATCH):
            hi = min(end, lo + DIST_FILL_BATCH)
            buf = bytearray()
            for i in range(lo, hi):
                buf += b"set bench-filler-%d 0 3600 %d\r\n%s\r\n" % (i, len(val), val)
            s.sendall(buf)
            for _ in range(lo, hi):
                line = f.readline()
                if not line.startswith(b"STORED"):
                    raise Broken("memcached filler: %r" % line[:100])


# ------------------------------------------------------------------ main

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a short run of everything (< 3 min)")
    ap.add_argument("--module", default=os.environ.get("TPO_MODULE"))
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per wrk run")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--servers", type=int, default=2, help="httpd child processes")
    ap.add_argument("--quiet-threshold", type=float, default=0.10,
                    help="before each round of wrk runs, wait until other processes use less "
                         "than this share of the CPUs for one second ...")
    ap.add_argument("--quiet-wait", type=int,
                    help="... but at most this many seconds (default 15; smoke 0)")
    ap.add_argument("--threads-per-child", type=int,
                    help="default: max(25, connections + 8), so that a child that holds every "
                         "wrk connection still has an idle worker (mpm_event closes keep-alive "
                         "connections when a child has none, which wrk counts as read errors)")
    ap.add_argument("--logins", type=int, help="logins for the logins/s figure")
    ap.add_argument("--login-concurrency", type=int, default=8)
    ap.add_argument("--timed-logins", type=int, help="sequential logins for the callback time")
    ap.add_argument("--evict-cache-size", default="1M")
    ap.add_argument("--evict-batch", type=int, default=250)
    ap.add_argument("--evict-max-logins", type=int, default=20000)
    ap.add_argument("--sessions", type=int, help="largest live-session count for scaling")
    ap.add_argument("--scaling-cache-size", default="512M")
    ap.add_argument("--scaling-concurrency", type=int, default=16)
    ap.add_argument("--scaling-rounds", type=int, help="default 30 (smoke 1)")
    ap.add_argument("--scaling-duration", type=int,
                    help="seconds per wrk run in the scaling phase (default 1: many short "
                         "adjacent runs cancel a VM's slow speed drift better than few long "
                         "ones)")
    ap.add_argument("--scaling-max-seconds", type=int, default=900)
    ap.add_argument("--dist-sessions", default=None,
                    help="distributed phase: entries alive in the cache servers, comma-separated "
                         "(default 1,10000,100000; smoke 1)")
    ap.add_argument("--dist-rounds", type=int, help="distributed phase: rounds (default 3; smoke 1)")
    ap.add_argument("--dist-duration", type=int,
                    help="distributed phase: seconds per wrk run (default 3; smoke 1)")
    ap.add_argument("--dist-logins", type=int,
                    help="distributed phase: logins for each configuration's logins/s, through "
                         "the fake IdP, after its wrk runs (default 200; smoke 10; 0: none)")
    ap.add_argument("--dist-login-cost", type=int,
                    help="distributed phase: logins measured by bench/login_cost.py under "
                         "callgrind, sessions in shm, Redis, Redis + local tier (default 3; "
                         "smoke 0: not run)")
    ap.add_argument("--callgrind-n", type=int)
    ap.add_argument("--callgrind-warmup", type=int, default=20)
    ap.add_argument("--only", action="append",
                    choices=["throughput", "bearer", "logins", "eviction", "scaling",
                             "distributed", "callgrind"],
                    help="run only this phase (repeatable)")
    ap.add_argument("--no-bearer-callgrind", dest="bearer_callgrind", action="store_false",
                    help="bearer phase: requests/s only, no instructions per request")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", default=os.path.join(RESULTS_DIR, "latest.json"))
    a = ap.parse_args(argv)
    smoke = a.smoke
    defaults = {"rounds": (1, 5), "duration": (1, 5), "logins": (100, 2000),
                "timed_logins": (30, 300), "sessions": (1000, 100000),
                "callgrind_n": (20, 200), "quiet_wait": (0, 15)}
    if a.scaling_rounds is None:
        a.scaling_rounds = 1 if smoke else 30
    if a.scaling_duration is None:
        a.scaling_duration = 1
    for k, (s, f) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, s if smoke else f)
    if a.dist_sessions is None:
        a.dist_sessions = "1" if smoke else "1,10000,100000"
    a.dist_sessions = [int(x) for x in str(a.dist_sessions).split(",") if x.strip()]
    if a.dist_rounds is None:
        a.dist_rounds = 1 if smoke else 3
    if a.dist_duration is None:
        a.dist_duration = 1 if smoke else 3
    if a.dist_logins is None:
        a.dist_logins = 10 if smoke else 200
    if a.dist_login_cost is None:
        a.dist_login_cost = 0 if smoke else 3
    if a.threads_per_child is None:
        a.threads_per_child = max(25, a.connections + 8)
    if not a.module:
        ap.error("no module: pass --module or set TPO_MODULE")
    a.module = os.path.abspath(a.module)
    if not os.path.exists(a.module):
        ap.error("module not found: %s" % a.module)
    return a


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    bench = Bench(a)
    bench.results["args"] = {k: v for k, v in vars(a).items() if k != "json"}

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    log("work directory %s" % bench.workdir)
    try:
        bench.run()
    except KeyboardInterrupt as e:
        bench.problem("interrupted", str(e) or "Ctrl-C")
    finally:
        bench.stop_all()
        keep = a.keep or bool(bench.results["problems"])
        if not keep:
            shutil.rmtree(bench.workdir, ignore_errors=True)
        else:
            bench.results["workdir"] = bench.workdir
    bench.results["summary"] = summarize(bench.results)
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(bench.results, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, a.json)
    print(report(bench.results))
    print("\nJSON: %s%s" % (a.json, ("\nwork directory kept: %s" % bench.workdir)
                            if bench.results.get("workdir") else ""))
    return 1 if bench.results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
