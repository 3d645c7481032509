# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Test harness for mod_tp_oauth: a real Apache httpd in a generated server root,
the local OpenID Provider (test/idp, npm oidc-provider), the fake payment
providers (test/fakeidp) and a login helper that fills the IdP's HTML forms.

Modelled on httpd's own test/pyhttpd. Used by conftest.py (pytest fixtures)
and by demo.sh (``python3 tpo_harness.py demo ...``).

Everything binds and talks to 127.0.0.1 only; every wait is bounded.
"""

import argparse
import glob
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APACHE_BIN = os.environ.get("TPO_APACHE_BIN", "/usr/sbin/apache2")
APACHE_MODULES = os.environ.get("TPO_APACHE_MODULES", "/usr/lib/apache2/modules")
NODE_BIN = os.environ.get("TPO_NODE_BIN", shutil.which("node") or "/usr/bin/node")
IDP_SERVER = os.path.join(REPO, "test", "idp", "server.mjs")
FAKEIDP_SERVER = os.path.join(REPO, "test", "fakeidp", "server.mjs")
APP_DIR = os.path.join(REPO, "test", "app")

HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# The modules the generated httpd.conf loads (those compiled into Debian's
# apache2, such as log_config and unixd, are skipped automatically).
MODULES = ["mpm_event", "authz_core", "authz_user", "authn_core", "alias", "mime",
           "log_config", "cgid", "dir", "headers", "env", "setenvif", "proxy",
           "proxy_http", "unixd"]

# Error-log text that always fails a test.
CRASH_MARKERS = ("Segmentation fault", "AddressSanitizer", "exit signal",
                 "runtime error:", "LeakSanitizer")

# Standard test clients registered at the IdP; the redirect URIs are completed
# with the httpd port by idp_clients().
CLIENT_ID = "tpo-test"
CLIENT_SECRET = "tpo-test-secret"
REDIRECT_PATH = "/app/redirect_uri"


# --------------------------------------------------------------------- utils

def free_port():
    """A free TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(url, timeout=2.0):
    """(status, body bytes) or (None, None) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, ValueError):
        return None, None


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))


def running_as_root():
    return os.geteuid() == 0


def _make_world_readable_dir(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)


# ----------------------------------------------------------------- processes

class _NodeServer:
    """A node server started by the harness; stdout/stderr go to a log file."""

    name = "node"

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, "%s.log" % self.name)
        self._log = None

    def _spawn(self, argv, env=None):
        self._log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     env=full_env, start_new_session=True)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log()))

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None


class IdP(_NodeServer):
    """test/idp/server.mjs: oidc-provider on 127.0.0.1:<port>."""

    name = "idp"

    def __init__(self, workdir, clients, port=None, keys_file=None, at_ttl=3600):
        super().__init__(workdir)
        self.port = port or free_port()
        self.clients = clients
        self.keys_file = keys_file or os.path.join(workdir, "idp-keys.json")
        self.clients_file = os.path.join(workdir, "idp-clients.json")
        self.at_ttl = at_ttl

    @property
    def issuer(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def base(self):
        return self.issuer

    def start(self, timeout=60.0):
        with open(self.clients_file, "w") as f:
            json.dump(self.clients, f, indent=2)
        self._spawn([NODE_BIN, IDP_SERVER, "--port", str(self.port),
                     "--clients", self.clients_file, "--keys", self.keys_file,
                     "--at-ttl", str(self.at_ttl), "--max-seconds", "7200"],
                    env={"NODE_NO_WARNINGS": "1"})

        def ready():
            self._check_alive()
            status, _ = http_get(self.issuer + "/.well-known/openid-configuration")
            return status == 200
        wait_until(ready, timeout, what="the IdP's discovery document")
        return self

    def restart(self, timeout=60.0):
        self.stop()
        return self.start(timeout)

    def discovery(self):
        status, body = http_get(self.issuer + "/.well-known/openid-configuration")
        assert status == 200, "IdP discovery: %s" % status
        return json.loads(body)

    def stats(self):
        status, body = http_get(self.issuer + "/__stats")
        assert status == 200, "IdP /__stats: %s" % status
        return json.loads(body)

    def reset_stats(self):
        req = urllib.request.Request(self.issuer + "/__stats/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())


class FakeIdP(_NodeServer):
    """test/fakeidp/server.mjs (written by another helper): misbehaving providers."""

    name = "fakeidp"

    def __init__(self, workdir, port=None):
        super().__init__(workdir)
        self.port = port or free_port()

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @staticmethod
    def available():
        return os.path.exists(FAKEIDP_SERVER)

    def start(self, timeout=20.0):
        self._spawn([NODE_BIN, FAKEIDP_SERVER, "--port", str(self.port),
                     "--max-seconds", "7200"])

        def ready():
            self._check_alive()
            status, _ = http_get(self.base + "/__health")
            return status == 200
        wait_until(ready, timeout, what="the fake IdP's /__health")
        return self

    def stats(self):
        status, body = http_get(self.base + "/__stats")
        assert status == 200
        return json.loads(body)

    def reset_stats(self):
        req = urllib.request.Request(self.base + "/__stats/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.read()


def idp_clients(http_port, extra_redirect_paths=()):
    """The clients the harness registers at the IdP for an httpd on http_port."""
    base = "http://127.0.0.1:%d" % http_port
    paths = [REDIRECT_PATH] + list(extra_redirect_paths)
    redirect_uris = [base + p for p in paths]
    logout = [base + "/", base + "/static/hello.txt"]
    code = ["authorization_code", "refresh_token"]
    return [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
         "token_endpoint_auth_method": "client_secret_basic", "grant_types": code,
         "redirect_uris": redirect_uris, "post_logout_redirect_uris": logout},
        {"client_id": "tpo-post", "client_secret": "tpo-post-secret",
         "token_endpoint_auth_method": "client_secret_post", "grant_types": code,
         "redirect_uris": redirect_uris, "post_logout_redirect_uris": logout},
        {"client_id": "tpo-public", "token_endpoint_auth_method": "none",
         "grant_types": code, "redirect_uris": redirect_uris,
         "post_logout_redirect_uris": logout},
        {"client_id": "tpo-es256", "client_secret": "tpo-es256-secret",
         "token_endpoint_auth_method": "client_secret_basic", "grant_types": code,
         "id_token_signed_response_alg": "ES256",
         "redirect_uris": redirect_uris, "post_logout_redirect_uris": logout},
        {"client_id": "tpo-cc", "client_secret": "tpo-cc-secret",
         "token_endpoint_auth_method": "client_secret_basic",
         "grant_types": ["client_credentials"], "redirect_uris": []},
    ]


def provider_conf(name, issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                  client_auth="client_secret_basic", scope="openid email profile groups",
                  redirect_uri=REDIRECT_PATH, extra=""):
    """A <TPOAuthProvider> section."""
    lines = ["<TPOAuthProvider %s>" % name,
             "    TPOAuthIssuer %s" % issuer,
             "    TPOAuthClientID %s" % client_id]
    if client_secret:
        lines.append("    TPOAuthClientSecret %s" % client_secret)
    if client_auth:
        lines.append("    TPOAuthClientAuth %s" % client_auth)
    lines += ['    TPOAuthScope "%s"' % scope,
              "    TPOAuthRedirectURI %s" % redirect_uri]
    if extra:
        lines += ["    " + line.strip() for line in extra.strip().splitlines()]
    lines.append("</TPOAuthProvider>")
    return "\n".join(lines) + "\n"


def protect_conf(location="/app/", provider="idp", authname="test", extra=""):
    """A <Location> protected by the module."""
    lines = ["<Location %s>" % location,
             "    AuthType tp-oauth",
             '    AuthName "%s"' % authname,
             "    TPOAuthProvider %s" % provider,
             "    Require valid-user"]
    if extra:
        lines += ["    " + line.strip() for line in extra.strip().splitlines()]
    lines.append("</Location>")
    return "\n".join(lines) + "\n"


def standard_conf(issuer, cache_size="16M", provider_extra="", location_extra="", **kw):
    """The module configuration used by most tests (and the demo)."""
    return ("TPOAuthCacheSize %s\n" % cache_size
            + provider_conf("idp", issuer, extra=provider_extra, **kw)
            + protect_conf(extra=location_extra))


# --------------------------------------------------------------------- httpd

_BUILTINS = None


def apache_builtin_modules():
    global _BUILTINS
    if _BUILTINS is None:
        out = subprocess.run([APACHE_BIN, "-l"], capture_output=True, text=True,
                             timeout=10, env=apache_env()).stdout
        _BUILTINS = {line.strip()[len("mod_"):-2] for line in out.splitlines()
                     if line.strip().startswith("mod_") and line.strip().endswith(".c")}
    return _BUILTINS


def apache_env(extra=None):
    """The environment for apache2: no Debian APACHE_* variables, LANG=C."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("APACHE_") and k not in ("LD_PRELOAD", "ASAN_OPTIONS",
                                                         "UBSAN_OPTIONS")}
    env["LANG"] = "C"
    env.pop("LC_ALL", None)
    if extra:
        env.update(extra)
    return env


class Httpd:
    """A real Apache httpd (Debian's apache2 binary) in a generated server root."""

    def __init__(self, module=None, port=None, server_root=None, preload=None,
                 start_timeout=None):
        self.module = module or os.environ.get("TPO_MODULE")
        if not self.module:
            raise RuntimeError("TPO_MODULE is not set (path to mod_tp_oauth.so)")
        self.module = os.path.abspath(self.module)
        self.port = port or free_port()
        self.preload = preload if preload is not None else os.environ.get("TPO_HTTPD_PRELOAD", "")
        self.start_timeout = start_timeout or (60.0 if self.preload else 20.0)
        self._own_root = server_root is None
        self.server_root = server_root or tempfile.mkdtemp(prefix="tpo-httpd-")
        self.conf_path = os.path.join(self.server_root, "conf", "httpd.conf")
        self.error_log_path = os.path.join(self.server_root, "logs", "error_log")
        self.access_log_path = os.path.join(self.server_root, "logs", "access_log")
        self.pid_path = os.path.join(self.server_root, "logs", "httpd.pid")
        self.extra_conf = ""
        self.running = False
        self._log_checked = 0
        self._prepare_root()

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    # ------------------------------------------------------------ server root
    def _prepare_root(self):
        root = self.server_root
        _make_world_readable_dir(root)
        if running_as_root():
            # The children run as www-data: they must be able to write the
            # sanitizer reports (ASAN_OPTIONS log_path=<server root>/asan).
            import pwd
            pw = pwd.getpwnam("www-data")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        for sub in ("conf", "logs", "run", "htdocs", "app", "static"):
            _make_world_readable_dir(os.path.join(root, sub))
        with open(os.path.join(root, "htdocs", "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><body><p>tpo test server</p></body></html>\n")
        for name in os.listdir(APP_DIR):
            src = os.path.join(APP_DIR, name)
            if os.path.isfile(src):
                dst = os.path.join(root, "app", name)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o755 if name.endswith(".cgi") else 0o644)
        static_src = os.path.join(APP_DIR, "static")
        if os.path.isdir(static_src):
            for name in os.listdir(static_src):
                dst = os.path.join(root, "static", name)
                shutil.copyfile(os.path.join(static_src, name), dst)
                os.chmod(dst, 0o644)

    def load_modules_conf(self):
        builtins = apache_builtin_modules()
        lines = []
        for mod in MODULES:
            if mod in builtins:
                continue
            path = os.path.join(APACHE_MODULES, "mod_%s.so" % mod)
            lines.append("LoadModule %s_module %s" % (mod, path))
        return "\n".join(lines) + "\n"

    def base_conf(self):
        root = self.server_root
        user = ""
        if running_as_root():
            user = "User www-data\nGroup www-data\n"
        return """# generated by test/integration/tpo_harness.py
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/logs/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
{modules}{user}
<IfModule mpm_event_module>
    # ServerLimit above MaxRequestWorkers / ThreadsPerChild: slots for the children of
    # older generations that still finish their connections after a graceful restart
    # (with no headroom a new generation cannot start its children meanwhile: AH00484)
    StartServers 2
    ServerLimit 8
    ThreadsPerChild 4
    MaxRequestWorkers 16
    MinSpareThreads 4
    MaxSpareThreads 16
    ThreadLimit 4
</IfModule>
ScriptSock "{root}/run/cgisock"
Timeout 30
KeepAlive On
HostnameLookups Off

LoadModule tp_oauth_module {module}

ErrorLog "{root}/logs/error_log"
LogLevel warn tp_oauth:debug
LogFormat "%P %h %l %u %t \\"%r\\" %>s %b" tpo
CustomLog "{root}/logs/access_log" tpo

TypesConfig /etc/mime.types
AddDefaultCharset utf-8
DocumentRoot "{root}/htdocs"
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{root}/htdocs">
    Require all granted
</Directory>
<Directory "{root}/static">
    Require all granted
</Directory>
<Directory "{root}/app">
    Options +ExecCGI
    Require all granted
</Directory>
Alias /static/ "{root}/static/"
ScriptAlias /app/ "{root}/app/"
""".format(root=root, port=self.port, modules=self.load_modules_conf(), user=user,
           module=self.module)

    def write_config(self, extra_conf=None):
        if extra_conf is not None:
            self.extra_conf = extra_conf
        with open(self.conf_path, "w") as f:
            f.write(self.base_conf())
            f.write("\n# ---- test configuration\n")
            f.write(self.extra_conf)
            if not self.extra_conf.endswith("\n"):
                f.write("\n")
        return self.conf_path

    # ------------------------------------------------------------ control
    def _env(self):
        extra = {}
        if self.preload:
            extra["LD_PRELOAD"] = self.preload
            extra["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=0:allow_user_segv_handler=0:log_path=%s/asan"
                                     % self.server_root)
            extra["UBSAN_OPTIONS"] = ("print_stacktrace=1:log_path=%s/ubsan"
                                      % self.server_root)
        return apache_env(extra)

    def _apache(self, *args, timeout=30, conf=None):
        return subprocess.run([APACHE_BIN, "-f", conf or self.conf_path] + list(args),
                              capture_output=True, text=True, env=self._env(),
                              timeout=timeout, cwd=self.server_root)

    def configtest(self, extra_conf):
        """(returncode, output) of `apache2 -t` on the base configuration plus
        extra_conf (written to a separate file: a running server is untouched)."""
        path = os.path.join(self.server_root, "conf", "configtest.conf")
        with open(path, "w") as f:
            f.write(self.base_conf())
            f.write("\n# ---- test configuration\n")
            f.write(extra_conf)
            f.write("\n")
        r = self._apache("-t", conf=path)
        return r.returncode, (r.stdout + r.stderr)

    def pid(self):
        try:
            with open(self.pid_path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /static/hello.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                s.settimeout(2)
                return s.recv(12).startswith(b"HTTP/")
        except OSError:
            return False

    def start(self, extra_conf=None):
        if self.running:
            raise RuntimeError("httpd already running")
        self.write_config(extra_conf)
        r = self._apache("-k", "start")
        if r.returncode != 0:
            raise RuntimeError("apache2 -k start failed (%d):\n%s%s\n%s" % (
                r.returncode, r.stdout, r.stderr, self.error_log()[-4000:]))
        self.running = True
        try:
            wait_until(self._answers, self.start_timeout, interval=0.1,
                       what="httpd on port %d" % self.port)
        except TimeoutError:
            raise RuntimeError("httpd did not answer:\n%s" % self.error_log()[-4000:])
        return self

    def _generations(self):
        return self.error_log().count("resuming normal operations")

    def graceful(self, extra_conf=None, timeout=None):
        """apache2 -k graceful, waiting (bounded) for the new generation."""
        self.write_config(extra_conf)
        before = self._generations()
        r = self._apache("-k", "graceful")
        if r.returncode != 0:
            raise RuntimeError("apache2 -k graceful failed: %s%s" % (r.stdout, r.stderr))
        wait_until(lambda: self._generations() > before, timeout or self.start_timeout,
                   what="graceful restart")
        wait_until(self._answers, timeout or self.start_timeout, what="httpd after graceful")
        return self

    def restart(self, extra_conf=None):
        self.stop()
        return self.start(extra_conf)

    def ensure(self, extra_conf):
        """Running with exactly this configuration (restarts only when it changed)."""
        if self.running and self.extra_conf == extra_conf and self.pid() is not None:
            return self
        self.stop()
        return self.start(extra_conf)

    def stop(self, timeout=None):
        if not self.running:
            return
        timeout = timeout or self.start_timeout
        pid = self.pid()
        if pid is not None:
            # SIGTERM to the parent is what "-k stop" sends, without reading the
            # configuration again (a test may have removed a file it names)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        else:
            self._apache("-k", "stop")

        def gone():
            if pid is None:
                return not port_open(self.port)
            try:
                os.kill(pid, 0)
                return False
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        try:
            wait_until(gone, timeout, what="httpd to stop")
        except TimeoutError:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # no child of this server outlives it (a killed parent leaves its
        # children holding the port for the next test)
        self._kill_leftovers()
        self.running = False

    def _kill_leftovers(self):
        conf = os.path.join(self.server_root, "conf")
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if (args and args[0].endswith(b"apache2")
                    and any(a.decode("utf-8", "replace").startswith(conf) for a in args)):
                try:
                    os.kill(int(d), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def cleanup(self, keep=False):
        self.stop()
        if self._own_root and not keep and not os.environ.get("TPO_KEEP"):
            shutil.rmtree(self.server_root, ignore_errors=True)

    # ------------------------------------------------------------ logs
    def error_log(self):
        try:
            with open(self.error_log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def access_log(self):
        try:
            with open(self.access_log_path, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def access_entries(self):
        """Parsed access-log lines: dicts with pid, user, request, status."""
        rx = re.compile(r'^(\d+) (\S+) (\S+) (\S+) \[[^\]]*\] "([^"]*)" (\d{3}) (\S+)')
        out = []
        for line in self.access_log():
            m = rx.match(line)
            if m:
                out.append({"pid": int(m.group(1)), "host": m.group(2), "user": m.group(4),
                            "request": m.group(5), "status": int(m.group(6)), "line": line})
        return out

    def sanitizer_reports(self):
        return sorted(glob.glob(os.path.join(self.server_root, "asan.*"))
                      + glob.glob(os.path.join(self.server_root, "ubsan.*")))

    def problems(self, since_last=True):
        """Crash markers in the error log and sanitizer report files (texts)."""
        text = self.error_log()
        start = self._log_checked if since_last else 0
        self._log_checked = len(text)
        found = []
        for line in text[start:].splitlines():
            if any(marker in line for marker in CRASH_MARKERS):
                found.append(line)
        for path in self.sanitizer_reports():
            try:
                with open(path, errors="replace") as f:
                    found.append("%s:\n%s" % (path, f.read()[:8000]))
            except OSError:
                found.append(path)
        return found

    def log_lines(self, level_rx=r"\[(?:[a-z_]+:)?(?:error|warn|crit|alert|emerg)\]"):
        rx = re.compile(level_rx)
        return [line for line in self.error_log().splitlines() if rx.search(line)]


# ---------------------------------------------------------------- the login

class _FormParser(html.parser.HTMLParser):
    """Collects every <form> with its action, method and inputs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._form = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "button") and self._form is not None:
            self._form["inputs"].append({"name": a.get("name"), "type": (a.get("type") or "text").lower(),
                                         "value": a.get("value") or ""})

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def parse_forms(text):
    p = _FormParser()
    p.feed(text)
    p.close()
    return p.forms


def browser_session():
    """A requests.Session that looks like a browser navigation."""
    import requests
    s = requests.Session()
    s.headers.update({"Accept": HTML_ACCEPT, "User-Agent": "tpo-test/1.0"})
    return s


class LoginError(AssertionError):
    pass


def oidc_login(session, url, login, password="any-password", timeout=10, max_forms=6):
    """Walk the authorization-code flow through oidc-provider's devInteractions.

    GETs the protected url (following redirects), fills the login form (login
    name + password) and confirms the consent form, following every redirect,
    and returns the final response. Every response of the flow is in the
    returned response's ``tpo_steps`` list (redirect hops included).
    """
    steps = []

    def record(resp):
        steps.extend(resp.history)
        steps.append(resp)
        return resp

    resp = record(session.get(url, timeout=timeout, allow_redirects=True))
    for _ in range(max_forms):
        ctype = resp.headers.get("Content-Type", "")
        if "html" not in ctype:
            break
        forms = parse_forms(resp.text)
        form = None
        data = {}
        for f in forms:
            names = {i["name"] for i in f["inputs"]}
            if "login" in names and "password" in names:
                form = f
                for i in f["inputs"]:
                    if i["name"] and i["type"] == "hidden":
                        data[i["name"]] = i["value"]
                data["login"] = login
                data["password"] = password
                break
            hidden = {i["name"]: i["value"] for i in f["inputs"]
                      if i["name"] and i["type"] == "hidden"}
            # the provider's logout confirmation when another account logs in on its
            # session (oidc-provider posts it by script; a browser submits it at once)
            if hidden.get("prompt") == "consent" or (hidden.get("logout") == "yes"
                                                     and "xsrf" in hidden):
                form = f
                data = hidden
                break
        if form is None:
            break
        action = urllib.parse.urljoin(resp.url, form["action"])
        if form["method"] != "post":
            raise LoginError("unexpected %s form at %s" % (form["method"], resp.url))
        resp = record(session.post(action, data=data, timeout=timeout, allow_redirects=True))
    else:
        raise LoginError("login did not finish after %d forms; last page %s:\n%s"
                         % (max_forms, resp.url, resp.text[:2000]))
    if "oops! something went wrong" in resp.text:
        raise LoginError("the IdP refused the login at %s:\n%s" % (resp.url, resp.text[:3000]))
    resp.tpo_steps = steps
    return resp


def set_cookie_headers(resp):
    """Every Set-Cookie header of one response (not merged)."""
    raw = getattr(resp, "raw", None)
    headers = getattr(raw, "headers", None)
    if headers is not None:
        getter = getattr(headers, "getlist", None) or getattr(headers, "get_all", None)
        if getter:
            return list(getter("Set-Cookie") or [])
    value = resp.headers.get("Set-Cookie")
    return [value] if value else []


def parse_set_cookie(header):
    """'name=value; Attr; Attr=x' -> (name, value, {attr_lower: value_or_True})."""
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), value.strip(), attrs


def find_set_cookie(responses, name):
    """The last Set-Cookie for `name` among responses: (value, attrs, response) or None."""
    found = None
    for r in responses:
        for h in set_cookie_headers(r):
            n, v, attrs = parse_set_cookie(h)
            if n == name:
                found = (v, attrs, r)
    return found


# ---------------------------------------------------------------- the demo

def _traversable_by_others(path):
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def run_demo(args):
    workdir = os.path.abspath(args.root)
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    httpd_root = os.path.join(workdir, "httpd")
    if running_as_root() and not _traversable_by_others(workdir):
        # www-data could not reach the CGI below a private directory (e.g. /root)
        httpd_root = os.path.join(tempfile.gettempdir(), "tpo-demo-httpd")
        print("demo: %s is not readable by www-data; the server root is %s"
              % (workdir, httpd_root))
    shutil.rmtree(httpd_root, ignore_errors=True)
    os.makedirs(httpd_root)
    idp = IdP(workdir, idp_clients(args.http_port), port=args.idp_port,
              keys_file=os.path.join(workdir, "idp-keys.json"))
    httpd = Httpd(module=args.module, port=args.http_port, server_root=httpd_root)
    for port, what in ((args.idp_port, "the IdP"), (args.http_port, "Apache")):
        if port_open(port):
            print("demo: port %d (for %s) is already in use" % (port, what), file=sys.stderr)
            return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        idp.start()
        httpd.start(standard_conf(idp.issuer))
        print("""
mod_tp_oauth demo is running.

  Open:        %s/app/whoami.cgi
  Log in with: any login name, any password (the login name becomes REMOTE_USER;
               try "jose" for a non-ASCII name)
  IdP:         %s  (oidc-provider, devInteractions)
  Unprotected: %s/static/hello.txt
  Logs:        %s/logs/error_log, access_log; IdP log %s

Press Ctrl-C to stop.""" % (httpd.base, idp.issuer, httpd.base, httpd_root, idp.log_path), flush=True)
        while not stop.wait(1.0):
            if idp.proc is not None and idp.proc.poll() is not None:
                print("demo: the IdP exited:\n%s" % idp.log()[-2000:], file=sys.stderr)
                return 1
            if httpd.pid() is None:
                print("demo: Apache stopped:\n%s" % httpd.error_log()[-2000:], file=sys.stderr)
                return 1
        return 0
    finally:
        print("\ndemo: stopping", flush=True)
        httpd.stop()
        idp.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tpo_harness")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run Apache + the IdP in the foreground until Ctrl-C")
    d.add_argument("--module", required=True)
    d.add_argument("--root", default=os.path.join(REPO, "run", "demo"))
    d.add_argument("--http-port", type=int, default=8080)
    d.add_argument("--idp-port", type=int, default=9000)
    args = ap.parse_args(argv)
    if args.cmd == "demo":
        return run_demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
