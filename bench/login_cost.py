#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""bench/login_cost.py: instructions per login in Apache, per step, under callgrind.

apache2 -X runs under valgrind --tool=callgrind --dump-before=ap_send_error_response (as
bench/callgrind does) with the harness's provider (the real oidc-provider of test/idp, RS256 ID
tokens, scope "openid email profile groups") protecting a static file. After one warm-up login
(provider metadata and JWKS fetched), each of N logins is walked by hand and cut by 404 marks
(each mark dumps the counters); one worker thread (ThreadsPerChild 1), so that per-thread
initialisations (OpenSSL's random generator) fall into the warm-up:
  redirect   the first request: no session -> 302 to the provider
  callback   the redirect URI: state, code exchange, ID-token check, session -> 302
  file       the first request with the new session (the file, 200)
and then, per request, 20 more requests with that session (the authenticated hot path, as
bench/callgrind measures it).
A step's instructions = its dump - an empty dump (two marks in a row: the 404s' share).
Prints the median over N of each step and of their sum; --annotate STEP also the top functions
of mod_tp_oauth in that step of the last login (inclusive).

--cache "redis 127.0.0.1:6379" (or "memcache HOST:PORT") puts the sessions in that distributed
cache (TPOAuthCache, with a passphrase and a login-cookie key of this run) instead of shared
memory; --local adds the local tier (TPOAuthSessionCacheLocal On); --json FILE writes the figures.

  TPO_MODULE=build/src/.libs/mod_tp_oauth.so bench/login_cost.py [-n N] [--annotate callback]
      [--cache "redis 127.0.0.1:PORT" [--local]] [--json FILE]
"""
import argparse
import glob
import json
import html.parser
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import requests  # noqa: E402

import tpo_harness as h  # noqa: E402
import bench  # noqa: E402

FILE = "/static/hello.txt"
REQUESTS = 20  # requests with the session after each login: the authenticated hot path


def walk_idp(s, url, httpd_base, login):
    """Follows the provider's pages (login form, consent) until it redirects back to httpd;
    returns that URL (the callback)."""
    resp = s.get(url, allow_redirects=False, timeout=30)
    for _ in range(20):
        if resp.is_redirect:
            loc = urllib.parse.urljoin(resp.url, resp.headers["Location"])
            if loc.startswith(httpd_base):
                return loc
            resp = s.get(loc, allow_redirects=False, timeout=30)
            continue
        forms = h.parse_forms(resp.text)
        data, form = {}, None
        for f in forms:
            names = {i["name"] for i in f["inputs"]}
            hidden = {i["name"]: i["value"] for i in f["inputs"]
                      if i["name"] and i["type"] == "hidden"}
            if "login" in names and "password" in names:
                form, data = f, dict(hidden, login=login, password="any-password")
                break
            if hidden.get("prompt") == "consent":
                form, data = f, hidden
                break
        if form is None:
            raise SystemExit("login_cost: no form at %s (%s)" % (resp.url, resp.status_code))
        resp = s.post(urllib.parse.urljoin(resp.url, form["action"]), data=data,
                      allow_redirects=False, timeout=30)
    raise SystemExit("login_cost: the provider did not send the browser back")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="login_cost.py")
    ap.add_argument("-n", type=int, default=5, help="measured logins (default 5)")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--annotate", action="append", choices=["redirect", "callback", "file"],
                    help="also print the top functions of mod_tp_oauth in this step")
    ap.add_argument("--module", default=os.environ.get("TPO_MODULE") or os.path.join(
        HERE, "..", "build", "src", ".libs", "mod_tp_oauth.so"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--cache", help='sessions in this distributed cache, e.g. "redis 127.0.0.1:6379"')
    ap.add_argument("--local", action="store_true", help="with --cache: the local tier on")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    if a.local and not a.cache:
        ap.error("--local needs --cache")

    work = tempfile.mkdtemp(prefix="tpo-logincost-")
    os.chmod(work, 0o755)
    port = h.free_port()
    idp = h.IdP(work, h.idp_clients(port))
    user = bench.CALLGRIND_USER if os.geteuid() == 0 else None
    root = os.path.join(work, "httpd")
    os.makedirs(root)
    httpd = bench.BenchHttpd(module=os.path.abspath(a.module), port=port, server_root=root,
                             start_servers=1, threads=1, start_timeout=180, run_as=user)
    cgdir = os.path.join(work, "cg")
    os.makedirs(cgdir)
    os.chmod(cgdir, 0o777)
    proc = None
    try:
        idp.start()
        cache_conf = "TPOAuthCacheSize 16M\n"
        if a.cache:
            keyfile = os.path.join(work, "login-cookie.key")
            with open(keyfile, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(keyfile, 0o600)
            if user:  # apache2 -X reads it as the unprivileged user under callgrind
                import pwd
                pw = pwd.getpwnam(user)
                os.chown(keyfile, pw.pw_uid, pw.pw_gid)
            cache_conf = ("TPOAuthCache %s\nTPOAuthCachePassphrase %s\n"
                          "TPOAuthLoginCookieKeyFile %s\n" % (a.cache, os.urandom(16).hex(),
                                                               keyfile))
            if a.local:
                cache_conf += "TPOAuthSessionCacheLocal On\n"
        httpd.write_config(cache_conf + h.provider_conf("idp", idp.issuer)
                           + h.protect_conf(location="/static/"))
        if user:
            import pwd
            pw = pwd.getpwnam(user)
            for d in ("logs", "run"):
                os.chown(os.path.join(root, d), pw.pw_uid, pw.pw_gid)
        prefix = os.path.join(cgdir, "callgrind")
        argv = [bench.VALGRIND, "--tool=callgrind", "--vgdb=no",
                "--callgrind-out-file=" + prefix + ".%p", "--dump-instr=no",
                "--collect-jumps=no", "--dump-before=ap_send_error_response",
                h.APACHE_BIN, "-f", httpd.conf_path, "-X"]
        extra = {"user": user, "group": user, "extra_groups": []} if user else {}
        vlog = open(os.path.join(cgdir, "valgrind.log"), "wb")
        proc = subprocess.Popen(argv, stdout=vlog, stderr=subprocess.STDOUT, cwd=root,
                                env=h.apache_env(), start_new_session=True, **extra)
        h.wait_until(lambda: proc.poll() is None and httpd._answers(), 180, interval=0.5,
                     what="apache2 -X under callgrind")
        conn = requests.Session()  # to httpd: one keep-alive connection
        pattern = "%s.%d.*" % (prefix, proc.pid)

        def dumps():
            return sorted(glob.glob(pattern), key=lambda p: int(p.rsplit(".", 1)[1]))

        def mark():
            """A 404 (it dumps the counters); returns the number of dumps so far."""
            before = len(dumps())
            r = conn.get(httpd.url("/__login_cost_mark"), timeout=120)
            if r.status_code != 404:
                raise SystemExit("login_cost: mark got %s" % r.status_code)
            h.wait_until(lambda: len(dumps()) > before, 60, interval=0.1, what="a dump")
            time.sleep(0.2)
            return len(dumps())

        def since(n):
            """Instructions of the dumps after the first n (a 302 dumps as well: it is sent
            by ap_send_error_response too), and those dumps."""
            files = dumps()[n:]
            return sum(bench.callgrind_total(f) for f in files), files

        def login():
            s = requests.Session()
            ir, files = {}, {}
            n = mark()
            r = conn.get(httpd.url(FILE), headers={"Accept": "text/html"},
                         allow_redirects=False, timeout=120)
            if r.status_code != 302:
                raise SystemExit("login_cost: first request got %s" % r.status_code)
            mark()
            ir["redirect"], files["redirect"] = since(n)
            for c in r.cookies:  # the login cookie goes with the browser to the callback
                s.cookies.set(c.name, c.value)
            cb = walk_idp(s, r.headers["Location"], httpd.base, a.user)
            n = mark()
            r = conn.get(cb, cookies=s.cookies, headers={"Accept": "text/html"},
                         allow_redirects=False, timeout=120)
            if r.status_code != 302:
                raise SystemExit("login_cost: callback got %s: %s" % (r.status_code, r.text[:500]))
            mark()
            ir["callback"], files["callback"] = since(n)
            cookies = {c.name: c.value for c in r.cookies}
            n = mark()
            r = conn.get(httpd.url(FILE), cookies=cookies, allow_redirects=False, timeout=120)
            if r.status_code != 200:
                raise SystemExit("login_cost: the file got %s" % r.status_code)
            mark()
            ir["file"], files["file"] = since(n)
            n = mark()
            for _ in range(REQUESTS):
                r = conn.get(httpd.url(FILE), cookies=cookies, allow_redirects=False, timeout=120)
                if r.status_code != 200:
                    raise SystemExit("login_cost: the file got %s" % r.status_code)
            mark()
            ir["per_request"], files["per_request"] = since(n)
            conn.cookies.clear()
            n = mark()
            mark()
            empty, _ = since(n)
            # each step: its requests + the tail of one 404 and the head of the next (= empty)
            out = {k: v - empty for k, v in ir.items()}
            out["per_request"] /= REQUESTS
            return out, files

        login()
        runs = [login() for _ in range(a.n)]
        steps = ("redirect", "callback", "file")
        med = {k: statistics.median(r[0][k] for r in runs) for k in steps}
        total = statistics.median(sum(r[0][k] for k in steps) for r in runs)
        where = a.cache + (" + local tier" if a.local else "") if a.cache else "shared memory"
        print("instructions per login in Apache (median of %d logins of %s; sessions in %s):"
              % (a.n, a.user, where))
        for k in steps:
            print("  %-10s %12.0f" % (k, med[k]))
        print("  %-10s %12.0f" % ("total", total))
        print("then, per request with the session (the hot path, %d requests after each login): "
              "%.0f" % (REQUESTS, statistics.median(r[0]["per_request"] for r in runs)))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"logins": a.n, "user": a.user, "cache": where,
                           "steps": med, "total": total,
                           "per_request": statistics.median(r[0]["per_request"] for r in runs)},
                          f, indent=1)
        for step in a.annotate or ():
            rows = {}
            for f in runs[-1][1][step]:
                for row in bench.annotate(f, "mod_tp_oauth", inclusive=True, n=1, limit=40):
                    rows[row["function"]] = rows.get(row["function"], 0) + row["ir_per_request"]
            print("%s, mod_tp_oauth functions (inclusive, last login):" % step)
            for fn, ir in sorted(rows.items(), key=lambda x: -x[1])[:30]:
                print("  %12.0f  %s" % (ir, fn))
        return 0
    finally:
        if proc is not None:
            stopper = bench._ProcStopper(proc, None)
            stopper.stop()
        idp.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
