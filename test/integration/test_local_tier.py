# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""The local tier in front of a distributed cache (TPOAuthSessionCacheLocal,
issue 17 item 1): two real Apache servers sharing a real redis-server or
memcached, the real oidc-provider (test/idp), all started here.

  * a request that finds its session in the local tier touches no network:
    with the cache server stopped (SIGSTOP), the session still answers 200
    (within the memcache lifetime; with Redis until the invalidation
    subscription's keep-alive notices);
  * Redis: a logout on A makes the session unusable on B on the very next
    request; a refresh on A is seen by B at once; killing the invalidation
    connection (CLIENT KILL TYPE pubsub) never lets B serve a session that was
    ended meanwhile, and the tier comes back with the subscription;
  * memcached: a logout or a refresh on A reaches B within
    TPOAuthSessionCacheLocalLifetime;
  * one subscriber per server: a graceful restart replaces it, a SIGKILLed one
    is seen dead at once (nothing stale served) and started again; Redis
    restarted without its data leaves no local copy usable.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

import tpo_harness as h

COOKIE = "tp_oauth_idp"
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
LIFETIME = 2
PROBE_TEXT = "tpo-local-tier probe\n"


def redis_cmd(port, *args):
    """One command over RESP; returns the first reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        out = "*%d\r\n" % len(args)
        for a in args:
            a = str(a)
            out += "$%d\r\n%s\r\n" % (len(a.encode()), a)
        s.sendall(out.encode())
        f = s.makefile("rb")
        line = f.readline().decode().rstrip("\r\n")
        if line.startswith("$") and line != "$-1":
            return f.read(int(line[1:]) + 2)[:-2].decode()
        return line


def pubsub_clients(port):
    return sum(1 for line in redis_cmd(port, "CLIENT", "LIST").splitlines()
               if "flags=P" in line)


class Pair:
    def __init__(self, kind, proc, port, idp, a, b, workdir):
        self.kind, self.proc, self.port, self.idp = kind, proc, port, idp
        self.a, self.b, self.workdir = a, b, workdir

    def probe(self, server):
        return server.url("/prot/probe.txt")

    def status(self, server, cookie):
        return requests.get(self.probe(server), headers=dict(XHR, Cookie=cookie),
                            allow_redirects=False, timeout=10)

    def login(self):
        s = h.browser_session()
        r = h.oidc_login(s, self.probe(self.a), "alice")
        assert r.status_code == 200 and r.text == PROBE_TEXT, (r.status_code, r.text[:500])
        return "%s=%s" % (COOKIE, s.cookies.get(COOKIE))

    def logout(self, server, cookie):
        r = requests.get(server.url("/app/redirect_uri/logout?return=/static/hello.txt"),
                         headers={"Cookie": cookie, "Accept": h.HTML_ACCEPT},
                         allow_redirects=False, timeout=10)
        assert r.status_code in (200, 302, 303), (r.status_code, r.text[:300])

    def info(self, server, cookie):
        r = requests.get(server.url("/app/redirect_uri/info"), headers=dict(XHR, Cookie=cookie),
                         allow_redirects=False, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return r.json()

    def refresh(self, server, cookie):
        r = requests.post(server.url("/app/redirect_uri/refresh"),
                          headers=dict(XHR, Cookie=cookie, Origin=server.base),
                          allow_redirects=False, timeout=15)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return r.json()

    def problems(self):
        return self.a.problems() + self.b.problems()


def start_backend(kind, port, workdir):
    if kind == "memcache":
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
        if h.running_as_root():
            argv += ["-u", "nobody"]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", workdir]
    log = open(os.path.join(workdir, kind + ".log"), "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    h.wait_until(lambda: h.port_open(port), 10, what="%s on %d" % (kind, port))
    return proc


@pytest.fixture(scope="module", params=["redis", "memcache"])
def pair(request, module_path):
    kind = request.param
    if shutil.which("redis-server" if kind == "redis" else "memcached") is None:
        pytest.fail("%s is not installed" % kind)
    wd = tempfile.mkdtemp(prefix="tpo-local-")
    os.chmod(wd, 0o755)
    ports = [h.free_port(), h.free_port()]
    clients = h.idp_clients(ports[0])
    for c in clients:
        if c.get("redirect_uris"):
            c["redirect_uris"] = c["redirect_uris"] + [
                "http://127.0.0.1:%d%s" % (ports[1], h.REDIRECT_PATH)]
    idp = h.IdP(wd, clients)
    servers = [h.Httpd(module=module_path, port=p) for p in ports]
    cport = h.free_port()
    proc = p = None
    try:
        proc = start_backend(kind, cport, wd)
        idp.start()
        conf = ("LogLevel warn tp_oauth:info\n"
                "TPOAuthCache %s 127.0.0.1:%d\n" % (kind, cport)
                + "TPOAuthCachePassphrase tpo-local-tier-test-passphrase\n"
                + "TPOAuthCacheTimeout 0.5\n"
                + "TPOAuthSessionCacheLocal On\n"
                + "TPOAuthSessionCacheLocalLifetime %d\n" % LIFETIME
                + h.standard_conf(idp.issuer)
                + 'Alias /prot/ "ROOT/static/"\n'
                + h.protect_conf("/prot/"))
        for s in servers:
            os.makedirs(os.path.join(s.server_root, "static"), exist_ok=True)
            with open(os.path.join(s.server_root, "static", "probe.txt"), "w") as f:
                f.write(PROBE_TEXT)
            s.start(conf.replace("ROOT", s.server_root))
        p = Pair(kind, proc, cport, idp, servers[0], servers[1], wd)
        if kind == "redis":
            h.wait_until(lambda: pubsub_clients(cport) == 2, 10,
                         what="one invalidation subscriber per server")
        yield p
    finally:
        for s in servers:
            try:
                s.stop()
                s.cleanup(keep=bool(s.problems(since_last=False)))
            except Exception:  # noqa: BLE001
                pass
        idp.stop()
        for bp in {proc, getattr(locals().get("p"), "proc", None)} - {None}:
            if bp.poll() is None:     # (a test may have restarted the server)
                os.kill(bp.pid, signal.SIGCONT)
                bp.terminate()
                bp.wait(10)
        shutil.rmtree(wd, ignore_errors=True)


def test_local_copy_served_without_network(pair):
    """With the cache server frozen, a session in the local tier still
    answers 200 at once (no network); a session that is not there gets 503."""
    cookie = pair.login()
    assert pair.status(pair.b, cookie).status_code == 200      # B keeps a copy now
    os.kill(pair.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        r = pair.status(pair.b, cookie)
        assert r.status_code == 200 and r.text == PROBE_TEXT, r.status_code
        assert time.time() - t0 < 0.4, "the local copy was not used (waited for the cache)"
        r = pair.status(pair.b, "%s=%s" % (COOKIE, "B" * 43))
        assert r.status_code == 503, r.status_code
    finally:
        os.kill(pair.proc.pid, signal.SIGCONT)
    time.sleep(1.5)     # every process probes the cache server again after 0.5 s
    if pair.kind == "redis":
        h.wait_until(lambda: pubsub_clients(pair.port) == 2, 10, what="subscribers back")
    h.wait_until(lambda: pair.status(pair.b, cookie).status_code == 200, 10,
                 what="the session to answer again")


def test_logout_on_a_ends_session_on_b(pair):
    cookie = pair.login()
    for _ in range(3):
        assert pair.status(pair.b, cookie).status_code == 200
    pair.logout(pair.a, cookie)
    if pair.kind == "redis":
        # the next request on B, no waiting
        assert pair.status(pair.b, cookie).status_code == 401
    else:
        # memcached has no invalidation: within the configured lifetime
        t0 = time.time()
        h.wait_until(lambda: pair.status(pair.b, cookie).status_code == 401,
                     LIFETIME + 1.0, interval=0.05, what="the logout to reach B")
        assert time.time() - t0 <= LIFETIME + 0.5
    assert pair.status(pair.a, cookie).status_code == 401
    assert not pair.problems()


def test_refresh_on_a_seen_by_b(pair):
    cookie = pair.login()
    before = pair.info(pair.b, cookie)
    assert pair.status(pair.b, cookie).status_code == 200
    time.sleep(1.1)     # access_token_expires has a one-second resolution
    body = pair.refresh(pair.a, cookie)
    assert body["refreshed"] is True
    assert body["access_token_expires"] > before["access_token_expires"]
    if pair.kind == "redis":
        after = pair.info(pair.b, cookie)      # the next request, no waiting
    else:
        # memcached: within the configured lifetime
        t0 = time.time()
        h.wait_until(lambda: pair.info(pair.b, cookie)["access_token_expires"]
                     == body["access_token_expires"], LIFETIME + 1.0, interval=0.05,
                     what="the refresh to reach B")
        assert time.time() - t0 <= LIFETIME + 0.5
        after = pair.info(pair.b, cookie)
    assert after["access_token_expires"] == body["access_token_expires"], (before, body, after)
    assert pair.status(pair.b, cookie).status_code == 200


@pytest.mark.parametrize("pair", ["redis"], indirect=True)
def test_killed_invalidation_connection_never_serves_ended_session(pair):
    for round_ in range(3):
        cookie = pair.login()
        for _ in range(2):
            assert pair.status(pair.b, cookie).status_code == 200
        killed = redis_cmd(pair.port, "CLIENT", "KILL", "TYPE", "pubsub")
        assert killed.startswith(":") and int(killed[1:]) >= 1, killed
        pair.logout(pair.a, cookie)
        assert pair.status(pair.b, cookie).status_code == 401, "round %d" % round_
        h.wait_until(lambda: pubsub_clients(pair.port) == 2, 10,
                     what="the subscribers to come back")
    # and with the subscription back, invalidation works again
    cookie = pair.login()
    assert pair.status(pair.b, cookie).status_code == 200
    assert pair.status(pair.b, cookie).status_code == 200
    pair.logout(pair.a, cookie)
    assert pair.status(pair.b, cookie).status_code == 401
    log = pair.b.error_log()
    assert "invalidation subscription was lost" in log


def subscriber_pids(server):
    return [int(m) for m in re.findall(r"subscription active \(subscriber pid (\d+)\)",
                                       server.error_log())]


def coherent(pair):
    cookie = pair.login()
    assert pair.status(pair.b, cookie).status_code == 200
    assert pair.status(pair.b, cookie).status_code == 200
    pair.logout(pair.a, cookie)
    assert pair.status(pair.b, cookie).status_code == 401


@pytest.mark.parametrize("pair", ["redis"], indirect=True)
def test_subscriber_restarted_and_single(pair):
    """One subscriber per server: a graceful restart replaces it (never two),
    a killed one is started again by the parent; meanwhile nothing stale is
    served, and afterwards invalidation works again."""
    h.wait_until(lambda: subscriber_pids(pair.b), 5, what="the subscriber's log line")
    first = subscriber_pids(pair.b)[-1]
    pair.b.graceful()
    h.wait_until(lambda: len(subscriber_pids(pair.b)) >= 2 and pubsub_clients(pair.port) == 2,
                 10, what="a new subscriber after the graceful restart")
    time.sleep(0.5)
    assert pubsub_clients(pair.port) == 2
    assert not os.path.exists("/proc/%d" % first) or \
        open("/proc/%d/stat" % first).read().split()[2] == "Z", "old subscriber still running"
    coherent(pair)
    # killed: the tier is bypassed (a logout on A is seen at once) and it comes back
    victim = subscriber_pids(pair.b)[-1]
    cookie = pair.login()
    assert pair.status(pair.b, cookie).status_code == 200
    os.kill(victim, signal.SIGKILL)
    pair.logout(pair.a, cookie)
    assert pair.status(pair.b, cookie).status_code == 401
    h.wait_until(lambda: subscriber_pids(pair.b)[-1] != victim and pubsub_clients(pair.port) == 2,
                 10, what="the parent to start another subscriber")
    coherent(pair)


@pytest.mark.parametrize("pair", ["redis"], indirect=True)
def test_redis_restarted_empty_no_local_copy_survives(pair):
    """Redis restarts without its data (every session ended): B must not go on
    serving its local copy; new logins work once the subscription is back."""
    cookie = pair.login()
    assert pair.status(pair.b, cookie).status_code == 200
    assert pair.status(pair.b, cookie).status_code == 200
    pair.proc.terminate()
    pair.proc.wait(10)
    pair.proc = start_backend("redis", pair.port, pair.workdir)
    h.wait_until(lambda: pair.status(pair.b, cookie).status_code != 503, 10, interval=0.1,
                 what="B to answer from Redis again")
    assert pair.status(pair.b, cookie).status_code == 401
    assert pair.status(pair.a, cookie).status_code == 401
    h.wait_until(lambda: pubsub_clients(pair.port) == 2, 10, what="the subscribers back")
    time.sleep(1.5)     # every process probes the cache server again after 0.5 s
    coherent(pair)
