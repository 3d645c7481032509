#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""echo_body.cgi: what the application received. Answers JSON with the
method, the user, the Content-Type, the raw request body (base64), its length
and its SHA-256; appends one line (method, user, SHA-256) to the file named
by RECORD_CGI_FILE when set (SetEnv in the test configuration)."""
import base64
import hashlib
import json
import os
import sys

length = int(os.environ.get("CONTENT_LENGTH") or 0)
body = b""
while len(body) < length:
    chunk = sys.stdin.buffer.read(length - len(body))
    if not chunk:
        break
    body += chunk
digest = hashlib.sha256(body).hexdigest()
path = os.environ.get("RECORD_CGI_FILE")
if path:
    with open(path, "a") as f:
        f.write("%s user=%r sha256=%s\n" % (os.environ.get("REQUEST_METHOD", ""),
                                            os.environ.get("REMOTE_USER"), digest))
data = json.dumps({"method": os.environ.get("REQUEST_METHOD", ""),
                   "user": os.environ.get("REMOTE_USER"),
                   "query": os.environ.get("QUERY_STRING", ""),
                   "content_type": os.environ.get("CONTENT_TYPE"),
                   "length": len(body), "sha256": digest,
                   "body_b64": base64.b64encode(body).decode("ascii")}).encode("ascii")
out = sys.stdout.buffer
out.write(b"Content-Type: application/json\r\nCache-Control: no-store\r\n")
out.write(b"Content-Length: %d\r\n\r\n" % len(data))
out.write(data)
