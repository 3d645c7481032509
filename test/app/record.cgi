#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""record.cgi: proves that the application ran. Appends one line (method, the
user Apache passed, the query) to the file named by RECORD_CGI_FILE (SetEnv in
the test configuration), then answers "recorded"."""
import os
import sys

path = os.environ.get("RECORD_CGI_FILE")
if path:
    with open(path, "a") as f:
        f.write("%s user=%r query=%s\n" % (os.environ.get("REQUEST_METHOD", ""),
                                           os.environ.get("REMOTE_USER"),
                                           os.environ.get("QUERY_STRING", "")))
sys.stdout.write("Content-Type: text/plain\r\nCache-Control: no-store\r\n\r\nrecorded\n")
