# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Redis as operators run it (issue 16 item 4), against a real httpd with the module,
the fake provider (test/fakeidp, `oidc` mode: it logs the user in by itself) and
Debian's redis-server / redis-sentinel started here on loopback ports:

  * TLS to Redis with a test CA made here (openssl CLI), an ACL user with a password
    and a database number: logins work, the sessions are in that database only;
  * a server certificate from another CA, or a name the certificate does not carry:
    503 and a log line that says the certificate is refused and why;
  * a wrong ACL password: 503 and a log line naming the rejected AUTH (never the
    password);
  * Sentinel: one master, one replica, three sentinels; wrk keeps requesting a page
    behind a session while the master is killed (SIGKILL): every answer is 200 or
    503 within a short window, and every session written before the failover is
    still valid afterwards. The figures (requests, non-200 answers, longest gap) are
    printed.

Every process started here is stopped here; every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

import tpo_harness as h
from fake_conf import mode_provider

PASSPHRASE = "redis-ops-test-passphrase-0123456789"
ACL_USER = "tpo-app"
ACL_PASS = "acl-pass-7f3a9c"
MASTER = "tpomaster"
PAGE = "/m/oidc/whoami.cgi"
STATIC = "/mstatic/hello.txt"
COOKIE = "tpo_oidc"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None
                                or shutil.which("redis-sentinel") is None
                                or shutil.which("openssl") is None,
                                reason="redis-server, redis-sentinel or openssl missing")


# ====================================================================== processes

class Proc:
    def __init__(self, argv, port, log_path):
        self.argv, self.port, self.log_path = argv, port, log_path
        self.proc = None

    def start(self, timeout=10):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.argv[0], open(self.log_path).read()))
            return h.port_open(self.port)
        h.wait_until(ready, timeout, what="%s on port %d" % (self.argv[0], self.port))
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def redis_argv(port, rdir, *extra):
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", rdir] + list(extra)


def resp(port, *cmds, timeout=3):
    """Send commands (lists of words) over plain TCP; the raw replies (one recv each)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rwb")
        for words in cmds:
            req = b"*%d\r\n" % len(words)
            for w in words:
                w = w.encode() if isinstance(w, str) else w
                req += b"$%d\r\n%s\r\n" % (len(w), w)
            f.write(req)
            f.flush()
            line = f.readline()
            if line.startswith(b"*"):
                n = int(line[1:])
                items = []
                for _ in range(max(n, 0)):
                    hdr = f.readline()
                    if hdr.startswith(b"$"):
                        items.append(f.read(int(hdr[1:]) + 2)[:-2].decode())
                    else:
                        items.append(hdr.strip().decode())
                out.append(items)
            elif line.startswith(b"$"):
                n = int(line[1:])
                out.append(None if n < 0 else f.read(n + 2)[:-2].decode())
            else:
                out.append(line.strip().decode())
    return out


@pytest.fixture(scope="module")
def rdir():
    d = tempfile.mkdtemp(prefix="tpo-redis-ops-")
    os.chmod(d, 0o755)
    yield d
    if not os.environ.get("TPO_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def certs(rdir):
    """A test CA, another CA, and a server certificate for 127.0.0.1 and localhost."""
    sh = r"""set -e
for ca in ca ca2; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 \
    -subj /CN=tpo-redis-test-$ca
done
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >srv.ext
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=redis
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile srv.ext -out server.crt
chmod 644 *.crt *.key
"""
    r = subprocess.run(["sh", "-c", sh], cwd=rdir, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return {n: os.path.join(rdir, n) for n in ("ca.crt", "ca2.crt", "server.crt",
                                                    "server.key")}


@pytest.fixture(scope="module")
def login_key(rdir):
    path = os.path.join(rdir, "login-cookie.key")
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o644)
    return path


def site_conf(cache_lines, fakeidp, root, login_key):
    c = cache_lines
    c += 'TPOAuthCachePassphrase "%s"\n' % PASSPHRASE
    c += 'TPOAuthLoginCookieKeyFile "%s"\n' % login_key
    if "TPOAuthCacheTimeout" not in c:
        c += "TPOAuthCacheTimeout 0.5\n"
    c += mode_provider(fakeidp.base, "oidc")
    c += 'ScriptAliasMatch "^/m/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += 'Alias /mstatic/ "%s/static/"\n' % root
    for loc in ("/m/oidc/", "/mstatic/"):
        c += ("<Location %s>\n    AuthType tp-oauth\n    AuthName \"m\"\n"
              "    TPOAuthProvider m_oidc\n    Require valid-user\n</Location>\n" % loc)
    return c


def login(server):
    """A full login through the fake IdP; (session, sid)."""
    s = h.browser_session()
    r = s.get(server.url(PAGE), timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text, (r.status_code, r.url,
                                                                    r.text[:500])
    sid = s.cookies.get(COOKIE)
    assert sid, s.cookies
    return s, sid


def with_sid(server, sid, path=STATIC):
    return requests.get(server.url(path), headers={"Cookie": "%s=%s" % (COOKIE, sid)},
                        allow_redirects=False, timeout=10).status_code


@pytest.fixture
def server(module_path):
    srv = h.Httpd(module=module_path)
    yield srv
    srv.cleanup(keep=bool(srv.problems(since_last=False)))


# ====================================================== TLS, ACL user, database number

@pytest.fixture(scope="module")
def tls_redis(rdir, certs):
    plain, tls = h.free_port(), h.free_port()
    p = Proc(redis_argv(plain, rdir,
                        "--tls-port", str(tls), "--tls-cert-file", certs["server.crt"],
                        "--tls-key-file", certs["server.key"],
                        "--tls-ca-cert-file", certs["ca.crt"], "--tls-auth-clients", "no",
                        "--user", "default", "off",
                        "--user", ACL_USER, "on", ">" + ACL_PASS, "~*", "+@all"),
             plain, os.path.join(rdir, "redis-tls.log")).start()
    h.wait_until(lambda: h.port_open(tls), 10, what="the TLS port")
    yield {"plain": plain, "tls": tls}
    p.stop()


def tls_lines(port, ca, password=ACL_PASS, name=None):
    # TPOAuthCacheTimeout 2 (site_conf's default is 0.5): TLS handshakes on a loaded machine
    c = "TPOAuthCacheTimeout 2\n"
    c += "TPOAuthCache redis 127.0.0.1:%d\n" % port
    c += "TPOAuthCacheRedisTLS On\nTPOAuthCacheRedisTLSCAFile %s\n" % ca
    c += "TPOAuthCacheRedisUser %s\nTPOAuthCacheRedisPassword %s\n" % (ACL_USER, password)
    c += "TPOAuthCacheRedisDatabase 5\n"
    if name:
        c += "TPOAuthCacheRedisTLSServerName %s\n" % name
    return c


def dbsize(port, db):
    out = resp(port, ["AUTH", ACL_USER, ACL_PASS], ["SELECT", str(db)], ["DBSIZE"])
    assert out[:2] == ["+OK", "+OK"], out
    return int(out[2][1:])


def test_tls_acl_database_login(server, tls_redis, certs, fakeidp, login_key):
    before5, before0 = dbsize(tls_redis["plain"], 5), dbsize(tls_redis["plain"], 0)
    server.start(site_conf(tls_lines(tls_redis["tls"], certs["ca.crt"]), fakeidp,
                           server.server_root, login_key))
    s, sid = login(server)
    assert with_sid(server, sid) == 200
    assert with_sid(server, sid, PAGE) == 200
    # the session (and the consumed-login marker) went to database 5, over TLS
    assert dbsize(tls_redis["plain"], 5) >= before5 + 2
    assert dbsize(tls_redis["plain"], 0) == before0
    # the same with the server name checked as a DNS name
    server.restart(site_conf(tls_lines(tls_redis["tls"], certs["ca.crt"], name="localhost"),
                             fakeidp, server.server_root, login_key))
    assert with_sid(server, sid) == 200
    log = server.error_log()
    assert "refused" not in log and "rejected" not in log, log[-3000:]
    assert ACL_PASS not in log


@pytest.mark.parametrize("case", ["other-ca", "wrong-name"])
def test_tls_wrong_server_certificate_refused(server, tls_redis, certs, fakeidp, login_key,
                                              case):
    lines = (tls_lines(tls_redis["tls"], certs["ca2.crt"]) if case == "other-ca" else
             tls_lines(tls_redis["tls"], certs["ca.crt"], name="redis.elsewhere.example"))
    server.start(site_conf(lines, fakeidp, server.server_root, login_key))
    mark = len(server.error_log())
    s = h.browser_session()
    t0 = time.monotonic()
    r = s.get(server.url(PAGE), timeout=10)
    assert r.status_code == 503, (r.status_code, r.url, r.text[:300])
    assert time.monotonic() - t0 < 5
    # a made-up session id: 503 too, not a login page
    assert with_sid(server, "A" * 43) == 503
    log = server.error_log()[mark:]
    refused = [line for line in log.splitlines() if "the server's certificate is refused" in line]
    assert refused, log[-3000:]
    if case == "other-ca":
        assert "self-signed certificate in certificate chain" in refused[0] \
            or "unable to get local issuer certificate" in refused[0], refused[0]
    else:
        assert "redis.elsewhere.example" in refused[0], refused[0]
    assert static_ok(server)


def test_acl_wrong_password_503(server, tls_redis, certs, fakeidp, login_key):
    server.start(site_conf(tls_lines(tls_redis["tls"], certs["ca.crt"], password="wrong-pw"),
                           fakeidp, server.server_root, login_key))
    mark = len(server.error_log())
    r = h.browser_session().get(server.url(PAGE), timeout=10)
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert with_sid(server, "A" * 43) == 503
    log = server.error_log()[mark:]
    assert "rejected AUTH" in log and "check the user name and the password" in log, log[-3000:]
    assert "wrong-pw" not in server.error_log()
    assert static_ok(server)


def test_bad_tls_settings_refused_at_startup(server, certs, fakeidp, login_key):
    lines = ("TPOAuthCache redis 127.0.0.1:6379\nTPOAuthCacheRedisTLS On\n"
             "TPOAuthCacheRedisTLSCAFile %s\n" % (certs["ca.crt"] + ".missing"))
    with pytest.raises(RuntimeError) as e:
        server.start(site_conf(lines, fakeidp, server.server_root, login_key))
    out = str(e.value) + server.error_log()
    assert "cannot load the CA file" in out and "TPOAuthCache redis" in out, out[-3000:]


def static_ok(server):
    r = requests.get(server.url("/static/hello.txt"), timeout=10)
    return r.status_code == 200


# ================================================================= Sentinel failover

SENTINEL_CONF = """port {port}
bind 127.0.0.1
daemonize no
dir {dir}
sentinel monitor {master} 127.0.0.1 {mport} 2
sentinel down-after-milliseconds {master} 1000
sentinel failover-timeout {master} 10000
sentinel parallel-syncs {master} 1
"""


@pytest.fixture
def sentinel_set(rdir):
    """One master, one replica, three sentinels; yields their ports."""
    d = tempfile.mkdtemp(prefix="sentinel-", dir=rdir)
    os.chmod(d, 0o755)
    mport, rport = h.free_port(), h.free_port()
    procs = []
    try:
        master = Proc(redis_argv(mport, d), mport, os.path.join(d, "master.log")).start()
        procs.append(master)
        procs.append(Proc(redis_argv(rport, d, "--replicaof", "127.0.0.1", str(mport)), rport,
                          os.path.join(d, "replica.log")).start())
        sports = []
        for i in range(3):
            sp = h.free_port()
            conf = os.path.join(d, "sentinel-%d.conf" % i)
            with open(conf, "w") as f:
                f.write(SENTINEL_CONF.format(port=sp, dir=d, master=MASTER, mport=mport))
            procs.append(Proc(["redis-sentinel", conf], sp,
                              os.path.join(d, "sentinel-%d.log" % i)).start())
            sports.append(sp)
        h.wait_until(lambda: "master_link_status:up" in resp(rport, ["INFO", "replication"])[0],
                     15, what="the replica's link to the master")
        # the sentinels know the replica (they learn it from the master's INFO)
        h.wait_until(lambda: all(len(resp(sp, ["SENTINEL", "replicas", MASTER])[0]) == 1
                                 for sp in sports), 30, what="the sentinels see the replica")
        yield {"master": mport, "replica": rport, "sentinels": sports, "master_proc": master,
               "dir": d}
    finally:
        for p in reversed(procs):
            p.stop(signal.SIGKILL)


WRK_LUA = r"""
local cookies = {}
for c in string.gmatch(os.getenv("TPO_WRK_COOKIES") or "", "[^|]+") do
  cookies[#cookies + 1] = c
end
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  reqs = {}
  for i, c in ipairs(cookies) do
    wrk.headers["Cookie"] = c
    reqs[i] = wrk.format()
  end
  idx = 0
end
function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
  io.write("STATUS_COUNTS {" .. table.concat(parts, ",") .. "}\n")
end
"""


def longest_gap(samples):
    """samples: (time, status) in time order: the longest stretch from the first non-200
    answer to the next 200 (s), and the number of non-200 answers."""
    gap, start, bad = 0.0, None, 0
    for t, st in samples:
        if st != 200:
            bad += 1
            if start is None:
                start = t
        elif start is not None:
            gap = max(gap, t - start)
            start = None
    if start is not None:
        gap = max(gap, samples[-1][0] - start)
    return gap, bad


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_sentinel_failover_under_load(server, sentinel_set, fakeidp, login_key, tmp_path):
    ss = sentinel_set
    lines = "TPOAuthCache redis %s\nTPOAuthCacheRedisSentinelMaster %s\n" % (
        ",".join("127.0.0.1:%d" % p for p in ss["sentinels"]), MASTER)
    server.start(site_conf(lines, fakeidp, server.server_root, login_key))
    users = [login(server) for _ in range(5)]
    for _, sid in users:
        assert with_sid(server, sid) == 200
    # the sessions are on the replica too before the master dies
    mkeys = int(resp(ss["master"], ["DBSIZE"])[0][1:])
    h.wait_until(lambda: int(resp(ss["replica"], ["DBSIZE"])[0][1:]) >= mkeys, 10,
                 what="the replica has the sessions")
    cookies = ["%s=%s" % (COOKIE, sid) for _, sid in users]

    # a sequential prober next to wrk, for the timeline
    samples, stop = [], threading.Event()

    def probe():
        i = 0
        while not stop.is_set():
            t = time.monotonic()
            try:
                st = with_sid(server, users[i % len(users)][1])
            except requests.RequestException:
                st = -1
            samples.append((t, st))
            i += 1
            time.sleep(0.02)

    lua = os.path.join(str(tmp_path), "status.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    env = dict(os.environ, TPO_WRK_COOKIES="|".join(cookies))
    seconds = 12
    prober = threading.Thread(target=probe)
    prober.start()
    wrk = subprocess.Popen(["wrk", "-t2", "-c8", "-d%ds" % seconds, "--timeout", "5s",
                            "-H", "Connection: close", "-s", lua, server.url(STATIC)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env)
    try:
        time.sleep(3)
        killed_at = time.monotonic()
        ss["master_proc"].stop(signal.SIGKILL)
        out, _ = wrk.communicate(timeout=seconds + 30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        stop.set()
        prober.join(timeout=20)
    m = re.search(r"STATUS_COUNTS (\{.*\})", out)
    assert m, out
    counts = {int(k): v for k, v in json.loads(m.group(1)).items()}
    total = sum(counts.values())
    gap, bad = longest_gap(samples)
    after = [s for s in samples if s[0] >= killed_at]
    recovered = next((t - killed_at for t, st in after if st == 200
                      and any(x[1] != 200 for x in after if x[0] < t)), 0.0)
    figures = ("sentinel failover under wrk: %d requests, status counts %s, non-200: %d; "
               "prober: %d requests, %d non-200, longest gap %.2f s, back to 200 %.2f s "
               "after the kill" % (total, counts, total - counts.get(200, 0), len(samples),
                                   bad, gap, recovered))
    print(figures)
    assert set(counts) <= {200, 503}, figures + "\n" + out
    assert counts.get(200, 0) > 500, figures
    assert gap < 10.0, figures
    assert all(st in (200, 503) for _, st in samples), figures
    # the new master is the old replica, and every session written before is valid
    assert resp(ss["sentinels"][0], ["SENTINEL", "get-master-addr-by-name", MASTER])[0] == [
        "127.0.0.1", str(ss["replica"])]
    for s, sid in users:
        assert with_sid(server, sid) == 200
        r = s.get(server.url(PAGE), allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "Hello fake-user-1" in r.text, r.status_code
    # a new login works and lands on the new master
    before = int(resp(ss["replica"], ["DBSIZE"])[0][1:])
    login(server)
    assert int(resp(ss["replica"], ["DBSIZE"])[0][1:]) > before
    log = server.error_log()
    # a graceful restart: the new children ask the sentinels, the old ones end (their
    # +switch-master subscriber stops with them)
    server.graceful()
    for _, sid in users:
        assert with_sid(server, sid) == 200
    assert not re.search(r"exit signal|Segmentation fault|AH00052", server.error_log()), \
        server.error_log()[-3000:]
    # followed by the sentinels' announcement, or by asking them after a failure
    assert ("+switch-master: 127.0.0.1:%d is the master" % ss["replica"] in log
            or "the sentinels name 127.0.0.1:%d the master" % ss["replica"] in log), log[-3000:]
