#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""bench/session_size.py: bytes of cache per session, from real logins.

Starts the real oidc-provider (test/idp) and one httpd with the harness's standard configuration
(test/integration/tpo_harness.py: scope "openid email profile groups", default claim and header
settings), logs in a typical user and the IdP's user with 200 groups ("manygroups"), and prints
the size of each session record as the module logged it at the login (TPO00032 "... (session
record: N bytes)"): the bytes the session takes in the cache (shared memory, memcached or
Redis; the remote caches add their encryption's 28 bytes).

  TPO_MODULE=build/src/.libs/mod_tp_oauth.so bench/session_size.py [--user NAME ...]
      [--scope SCOPE] [--json FILE]
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import tpo_harness as h  # noqa: E402

LINE = re.compile(r"login of (\S+) through provider \S+ \(session record: (\d+) bytes\)")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="session_size.py", description=__doc__.split("\n")[0])
    ap.add_argument("--user", action="append",
                    help="login names (default: alice, manygroups)")
    ap.add_argument("--scope", default="openid email profile groups")
    ap.add_argument("--module", default=os.environ.get("TPO_MODULE") or os.path.join(
        HERE, "..", "build", "src", ".libs", "mod_tp_oauth.so"))
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    users = a.user or ["alice", "manygroups"]
    work = tempfile.mkdtemp(prefix="tpo-size-")
    os.chmod(work, 0o755)
    port = h.free_port()
    idp = h.IdP(work, h.idp_clients(port))
    httpd = h.Httpd(module=a.module, port=port)
    sizes = {}
    try:
        idp.start()
        httpd.start(h.standard_conf(idp.issuer, scope=a.scope))
        for user in users:
            s = h.browser_session()
            resp = h.oidc_login(s, httpd.url("/app/whoami.cgi"), user)
            s.close()
            if resp.status_code != 200:
                raise SystemExit("login of %s ended with %s at %s" % (user, resp.status_code,
                                                                     resp.url))
        for m in LINE.finditer(httpd.error_log()):
            sizes[m.group(1)] = int(m.group(2))
    finally:
        httpd.stop()
        idp.stop()
        httpd.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    missing = [u for u in users if u not in sizes]
    if missing:
        raise SystemExit("no session-record size logged for %s" % ", ".join(missing))
    print("session record bytes (scope \"%s\"):" % a.scope)
    for u in users:
        print("  %-12s %6d" % (u, sizes[u]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"scope": a.scope, "bytes": sizes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
