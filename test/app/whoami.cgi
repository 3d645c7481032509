#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""whoami.cgi: the sample application behind mod_tp_oauth.

Shows who Apache says the user is (REMOTE_USER, AUTH_TYPE) and every TPO_*
variable the module exported, HTML-escaped. It knows nothing about OAuth.
"""
import html
import json
import os
import sys


def esc(value):
    return html.escape(value, quote=True)


def as_json(env):
    """?format=json: what the application sees, for tests."""
    keep = {k: v for k, v in env.items()
            if k.startswith(("TPO_", "HTTP_")) or k in ("REMOTE_USER", "AUTH_TYPE",
                                                          "REQUEST_METHOD")}
    data = json.dumps(keep, ensure_ascii=False, sort_keys=True).encode("utf-8",
                                                                       "surrogateescape")
    out = sys.stdout.buffer
    out.write(b"Content-Type: application/json\r\n")
    out.write(b"Cache-Control: no-store\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(data))
    out.write(data)
    out.flush()


def main():
    env = os.environ
    if "format=json" in env.get("QUERY_STRING", ""):
        return as_json(env)
    user = env.get("REMOTE_USER", "")
    rows = "".join(
        "<tr><td>%s</td><td>%s</td></tr>\n" % (esc(k), esc(env[k]))
        for k in sorted(env) if k.startswith("TPO_"))
    body = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>whoami</title></head>
<body>
<h1>Hello %s</h1>
<p id="remote-user">REMOTE_USER=%s</p>
<p id="auth-type">AUTH_TYPE=%s</p>
<p id="request">REQUEST_METHOD=%s REQUEST_URI=%s</p>
<table id="tpo-vars" border="1">
<tr><th>variable</th><th>value</th></tr>
%s</table>
</body>
</html>
""" % (esc(user), esc(user), esc(env.get("AUTH_TYPE", "")),
       esc(env.get("REQUEST_METHOD", "")), esc(env.get("REQUEST_URI", "")), rows)
    data = body.encode("utf-8", "surrogateescape")
    out = sys.stdout.buffer
    out.write(b"Content-Type: text/html; charset=utf-8\r\n")
    out.write(b"Cache-Control: no-store\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(data))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    main()
