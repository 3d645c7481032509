# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""TPOAuthPreservePost: a form POST that needs a login is kept and reaches the
application after the login byte for byte (real httpd, real oidc-provider,
test/app/echo_body.cgi reports the body's SHA-256), through the HTTP flow (no
JavaScript: the replay page's form posted by the test) and through a real
Chromium (the page submits itself)."""

import hashlib
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse

import pytest

import tpo_harness as h

FIELD = "tpo_post_replay"
MARKER_LEN = len(FIELD) + 1 + 43
NAV = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "same-origin"}
FORM = "application/x-www-form-urlencoded"
# field order, '+' and %20, empty values, repeated names, escapes of NUL and
# high bytes, raw UTF-8, DEL, markup: the application must get exactly these bytes
URLENC = (b"b=2&a=1+2%202&empty=&a=&x=%00%FF%C3%A9&&=v&a=3&raw=\xc3\xa9\x7f"
          b"&q=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E&%22%3E%3Cscript%3E=1")
BOUNDARY = "----tpoB0undaryX"
MULTIPART = (("--%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1 + 2\r\n"
              "--%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n"
              "--%s\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n"
              "Content-Type: application/octet-stream\r\n\r\n" % (BOUNDARY, BOUNDARY, BOUNDARY))
             .encode() + bytes(range(256)) + ("\r\n--%s--\r\n" % BOUNDARY).encode())
EXPIRE_S = 4


def sha(b):
    return hashlib.sha256(b).hexdigest()


def record_path(root):
    return "%s/logs/post-record.log" % root


class BodyEcho:
    """A backend on 127.0.0.1 behind mod_proxy: answers every POST with the
    SHA-256, length and Content-Type of the body it received."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                out = json.dumps({"sha256": sha(body), "length": len(body), "path": self.path,
                                  "content_type": self.headers.get("Content-Type"),
                                  "user": self.headers.get("X-TPO-User")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def body_echo():
    server = BodyEcho()
    yield server
    server.stop()


def conf(issuer, root, max_age=None, echo_port=None):
    c = "TPOAuthCacheSize 16M\n"
    c += h.provider_conf("idp", issuer,
                         extra="TPOAuthSessionMaxAge %d" % max_age if max_age else "")
    c += 'ScriptAliasMatch "^/(?:keep|nokeep|small|open)/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += "SetEnv RECORD_CGI_FILE %s\n" % record_path(root)
    c += h.protect_conf()  # /app/: the redirect URI
    c += h.protect_conf("/keep/", extra="TPOAuthPreservePost 64K")
    c += h.protect_conf("/nokeep/")
    c += h.protect_conf("/small/", extra="TPOAuthPreservePost 100")
    if echo_port:
        c += h.protect_conf("/proxied/", extra="TPOAuthPreservePost 64K\n"
                            "ProxyPass http://127.0.0.1:%d/backend/" % echo_port)
    return c


def _record_file(root):
    path = record_path(root)
    if not os.path.exists(path):
        with open(path, "w"):
            pass
    os.chmod(path, 0o666)  # the CGI runs as www-data


@pytest.fixture
def server(httpd, idp):
    httpd.ensure(conf(idp.issuer, httpd.server_root))
    _record_file(httpd.server_root)
    return httpd


@pytest.fixture
def expiring(httpd, idp):
    httpd.ensure(conf(idp.issuer, httpd.server_root, max_age=EXPIRE_S))
    _record_file(httpd.server_root)
    return httpd


def records(server):
    try:
        with open(record_path(server.server_root)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def post(s, url, body, ctype, headers=None, **kw):
    hdrs = dict(NAV)
    hdrs["Content-Type"] = ctype
    hdrs.update(headers or {})
    return s.post(url, data=body, headers=hdrs, allow_redirects=False, timeout=10, **kw)


def login_get(server, s, user):
    resp = h.oidc_login(s, server.url("/app/whoami.cgi?format=json"), user)
    assert resp.status_code == 200, resp.text[:500]
    return resp


def replay_page(resp):
    """The callback's answer: the page, its form, its nonce."""
    assert resp.status_code == 200, (resp.status_code, resp.text[:1000])
    assert "/app/redirect_uri?" in resp.url, resp.url
    assert resp.headers["Cache-Control"] == "no-store"
    csp = resp.headers["Content-Security-Policy"]
    m = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", csp)
    assert m, csp
    assert "default-src 'none'" in csp
    assert '<script nonce="%s">' % m.group(1) in resp.text
    assert resp.text.count("<script") == 1
    forms = h.parse_forms(resp.text)
    assert len(forms) == 1, resp.text
    form = forms[0]
    assert form["method"] == "post"
    hidden = [i for i in form["inputs"] if i["type"] == "hidden"]
    assert [i["name"] for i in hidden] == [FIELD], form
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", hidden[0]["value"])
    # no-JS: a visible submit button
    assert any(i["type"] == "submit" for i in form["inputs"]), form
    return form, hidden[0]["value"]


def replay(s, resp, form, rid, headers=None):
    url = urllib.parse.urljoin(resp.url, form["action"])
    return post(s, url, urllib.parse.urlencode({FIELD: rid}), FORM, headers=headers)


def keep_and_login(server, s, path, body, ctype, user):
    """POST without a session -> kept + 302 to the provider -> login -> the replay page."""
    mark = len(server.error_log())
    before = len(records(server))
    r = post(s, server.url(path), body, ctype)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert "client_id=" in r.headers["Location"], r.headers["Location"]
    log = server.error_log()[mark:]
    assert "%d bytes kept for after the login" % len(body) in log, log[-2000:]
    # the application did not run for the POST without a session
    assert len(records(server)) == before
    resp = h.oidc_login(s, r.headers["Location"], user)
    form, rid = replay_page(resp)
    return resp, form, rid


def test_no_session_urlencoded_replayed_byte_for_byte(server):
    s = h.browser_session()
    path = "/keep/echo_body.cgi?x=1&y=%22%3E"
    resp, form, rid = keep_and_login(server, s, path, URLENC, FORM + "; charset=UTF-8", "pk-alice")
    # the action is the original URL (escaped in the page, the parser unescapes it)
    assert form["action"] == path
    assert URLENC.decode("latin-1") not in resp.text and "alert(1)" not in resp.text
    mark = len(server.error_log())
    r = replay(s, resp, form, rid)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    got = r.json()
    assert got["user"] == "pk-alice"
    assert got["method"] == "POST"
    assert got["query"] == "x=1&y=%22%3E"
    assert got["content_type"] == FORM + "; charset=UTF-8"
    assert got["length"] == len(URLENC)
    assert got["sha256"] == sha(URLENC)
    assert "replayed (%d bytes)" % len(URLENC) in server.error_log()[mark:]
    # one use: the same record again is refused (400, a log line), the app does not run
    before = len(records(server))
    mark = len(server.error_log())
    r = replay(s, resp, form, rid)
    assert r.status_code == 400, (r.status_code, r.text[:500])
    assert "replay of a kept form POST refused" in server.error_log()[mark:]
    assert len(records(server)) == before
    # the session itself is fine
    r = s.get(server.url("/keep/echo_body.cgi"), timeout=10, allow_redirects=False)
    assert r.status_code == 200 and r.json()["user"] == "pk-alice"


def test_no_session_multipart_replayed_byte_for_byte(server):
    s = h.browser_session()
    ctype = "multipart/form-data; boundary=%s" % BOUNDARY
    resp, form, rid = keep_and_login(server, s, "/keep/echo_body.cgi", MULTIPART, ctype, "pk-mp")
    r = replay(s, resp, form, rid)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    got = r.json()
    assert got["content_type"] == ctype
    assert got["sha256"] == sha(MULTIPART) and got["length"] == len(MULTIPART)


def test_replay_bound_to_session_and_url(server):
    """Another user's session cannot use the record; the owner still can, once,
    and only at the URL it was kept for."""
    owner, other = h.browser_session(), h.browser_session()
    login_get(server, other, "pk-other")
    resp, form, rid = keep_and_login(server, owner, "/keep/echo_body.cgi?o=1", URLENC, FORM,
                                     "pk-owner")
    mark = len(server.error_log())
    r = replay(other, resp, form, rid)
    assert r.status_code == 400
    assert "kept for another session" in server.error_log()[mark:]
    # another URL of the same location
    r = post(owner, server.url("/keep/echo_body.cgi?o=2"), urllib.parse.urlencode({FIELD: rid}),
             FORM)
    assert r.status_code == 400
    assert "kept for another URL" in server.error_log()[mark:]
    r = replay(owner, resp, form, rid)
    assert r.status_code == 200 and r.json()["sha256"] == sha(URLENC)
    assert r.json()["user"] == "pk-owner"
    # the other session was not touched
    r = other.get(server.url("/keep/echo_body.cgi"), timeout=10, allow_redirects=False)
    assert r.status_code == 200 and r.json()["user"] == "pk-other"


def test_unknown_replay_id_refused(server):
    s = h.browser_session()
    login_get(server, s, "pk-forger")
    mark = len(server.error_log())
    r = post(s, server.url("/keep/echo_body.cgi"),
             urllib.parse.urlencode({FIELD: "A" * 43}), FORM)
    assert r.status_code == 400
    assert "unknown, expired or already replayed" in server.error_log()[mark:]


def test_body_shaped_like_a_replay_reaches_the_app_untouched(server):
    """With a session, an application's own body of the replay's length and type
    is read by the module and given back byte for byte."""
    s = h.browser_session()
    login_get(server, s, "pk-same-len")
    body = ("z" * (MARKER_LEN - 2) + "=1").encode()
    assert len(body) == MARKER_LEN
    r = post(s, server.url("/keep/echo_body.cgi"), body, FORM)
    assert r.status_code == 200 and r.json()["sha256"] == sha(body)
    # and a large one with a session is not read by the module at all
    big = b"k=" + b"v" * 100000
    r = post(s, server.url("/keep/echo_body.cgi"), big, FORM)
    assert r.status_code == 200 and r.json()["sha256"] == sha(big)


def test_over_limit_413(server):
    s = h.browser_session()
    for body, what in ((b"a=" + b"x" * 98, "at the limit"), (b"a=" + b"x" * 98 + b"y", "over")):
        mark = len(server.error_log())
        r = post(s, server.url("/small/echo_body.cgi"), body, FORM)
        log = server.error_log()[mark:]
        if what == "at the limit":
            assert len(body) == 100
            assert r.status_code == 302 and "100 bytes kept" in log
            continue
        assert r.status_code == 413, (r.status_code, r.text[:300])
        assert "Location" not in r.headers
        assert "larger than TPOAuthPreservePost (100 bytes)" in log, log
        assert "kept for after the login" not in log
    # chunked (no Content-Length): counted while read
    mark = len(server.error_log())
    r = post(s, server.url("/small/echo_body.cgi"), iter([b"a=" + b"x" * 60, b"y" * 60]), FORM)
    assert r.status_code == 413
    assert "larger than TPOAuthPreservePost (100 bytes)" in server.error_log()[mark:]
    # the server keeps serving
    t = h.browser_session()
    login_get(server, t, "pk-after-413")


def test_script_post_gets_401_not_kept(server):
    s = h.browser_session()
    mark = len(server.error_log())
    r = post(s, server.url("/keep/echo_body.cgi"), URLENC, FORM,
             headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 401
    r = post(s, server.url("/keep/echo_body.cgi"), URLENC, FORM,
             headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"})
    assert r.status_code == 401
    # a POST that is not a form: 401 as without the directive, nothing kept
    r = post(s, server.url("/keep/echo_body.cgi"), b'{"a":1}', "application/json")
    assert r.status_code == 401
    log = server.error_log()[mark:]
    assert "kept for after the login" not in log
    assert "is not a form" in log


def test_cross_site_form_not_kept(server):
    """A form another site submits (its SameSite session cookie is not sent) is not
    kept, or the login would hand it back with the session: 401 as before."""
    s = h.browser_session()
    for extra in ({"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
                  {"Sec-Fetch-Site": "same-site"},
                  {"Sec-Fetch-Site": None, "Origin": "http://evil.example"},
                  {"Sec-Fetch-Site": None, "Origin": "null"},
                  {"Sec-Fetch-Site": None, "Referer": "http://evil.example/x"},
                  {"Sec-Fetch-Site": None}):
        mark = len(server.error_log())
        r = post(s, server.url("/keep/echo_body.cgi"), URLENC, FORM, headers=extra)
        log = server.error_log()[mark:]
        assert r.status_code == 401, (extra, r.status_code)
        assert "not sent from a page of this server's origin" in log, (extra, log)
        assert "kept for after the login" not in log
    # without Sec-Fetch-Site, this server's Origin (or Referer) is enough
    for extra in ({"Sec-Fetch-Site": None, "Origin": server.base},
                  {"Sec-Fetch-Site": None, "Referer": server.url("/static/form.html")}):
        r = post(s, server.url("/keep/echo_body.cgi"), URLENC, FORM, headers=extra)
        assert r.status_code == 302, (extra, r.status_code)
        s.cookies.clear()


def test_off_by_default(server):
    """Without TPOAuthPreservePost a POST without a session gets 401 as it always
    did (a POST is not a navigation the module redirects); nothing is kept."""
    s = h.browser_session()
    mark = len(server.error_log())
    before = len(records(server))
    r = post(s, server.url("/nokeep/echo_body.cgi?n=1"), URLENC, FORM)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("TP-OAuth")
    assert "Location" not in r.headers
    assert "kept" not in server.error_log()[mark:]
    assert len(records(server)) == before
    # a replay body there is the application's own (with a session)
    login_get(server, s, "pk-off")
    body = urllib.parse.urlencode({FIELD: "A" * 43}).encode()
    r = post(s, server.url("/nokeep/echo_body.cgi"), body, FORM)
    assert r.status_code == 200 and r.json()["sha256"] == sha(body)


def wait_ended(server, s, path="/keep/echo_body.cgi"):
    """Polls (bounded) until the session has ended (a navigation is sent to log in)."""
    deadline = time.monotonic() + EXPIRE_S + 6
    while time.monotonic() < deadline:
        r = s.get(server.url(path), timeout=10, allow_redirects=False)
        if r.status_code == 302:
            return
        time.sleep(0.5)
    raise AssertionError("the session did not end")


def test_expired_session_post_replayed(expiring):
    server = expiring
    s = h.browser_session()
    login_get(server, s, "pk-expired")
    time.sleep(EXPIRE_S)
    wait_ended(server, s)
    resp, form, rid = keep_and_login(server, s, "/keep/echo_body.cgi?e=1", URLENC, FORM,
                                     "pk-expired")
    r = replay(s, resp, form, rid)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    got = r.json()
    assert got["user"] == "pk-expired" and got["sha256"] == sha(URLENC)


# ---------------------------------------------------------------- Chromium

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20

FORM_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>form</title></head><body>
<form id="u" method="post" action="/{loc}/echo_body.cgi?via=browser">
<input name="b" value="2"><input name="a" value="1 + 2&amp;3=4"><input name="empty" value="">
<input name="a" value=""><input name="caf&eacute;" value="&eacute;&#x1F600;&quot;&gt;&lt;script&gt;">
<textarea name="t">line1
line2 %20 +</textarea>
<button id="us" type="submit">send</button></form>
<form id="m" method="post" enctype="multipart/form-data" action="/{loc}/echo_body.cgi?via=mp">
<input name="a" value="1 + 2"><input name="a" value=""><input type="file" name="f" id="f">
<button id="ms" type="submit">send</button></form>
</body></html>
"""


@pytest.fixture
def driver(expiring):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="tpo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-default-apps", "--no-default-browser-check",
                "--window-size=1000,800", "--user-data-dir=%s" % profile):
        opts.add_argument(arg)
    service = Service(CHROMEDRIVER, log_path=os.path.join(profile, "chromedriver.log"))
    drv = webdriver.Chrome(service=service, options=opts)
    drv.set_page_load_timeout(WAIT)
    yield drv
    try:
        drv.save_screenshot(os.path.join(expiring.server_root, "last-post-browser-page.png"))
    except Exception:  # noqa: BLE001 - best effort
        pass
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow  # a browser (the AddressSanitizer pass runs no browser test)
def test_browser_expired_session_form_replayed(expiring, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server = expiring
    wait = WebDriverWait(driver, WAIT)
    # the same forms to an unprotected copy of the application (what the browser
    # sends, whatever the session) and to the location that keeps POSTs
    for loc in ("open", "keep"):
        with open(os.path.join(server.server_root, "static", "form-%s.html" % loc), "w") as f:
            f.write(FORM_PAGE.replace("{loc}", loc))
    upload = tmp_path / "upload.bin"
    upload.write_bytes(bytes(range(256)) * 4)
    os.chmod(tmp_path, 0o755)

    def echo():
        pre = wait.until(EC.presence_of_element_located((By.TAG_NAME, "pre")))
        return json.loads(pre.text)

    def submit(form_id, button_id, loc="keep"):
        driver.get(server.url("/static/form-%s.html" % loc))
        if form_id == "m":
            driver.find_element(By.ID, "f").send_keys(str(upload))
        driver.find_element(By.ID, button_id).click()

    def log_in_if_asked(user):
        """oidc-provider's login and consent pages, when it shows them."""
        def state(d):
            if d.find_elements(By.NAME, "login"):
                return "login"
            if d.find_elements(By.CSS_SELECTOR, "form input[name=prompt][value=consent]"):
                return "consent"
            if d.find_elements(By.TAG_NAME, "pre") or d.find_elements(By.ID, "tpo-vars"):
                return "done"  # echo_body.cgi's JSON, or whoami.cgi
            return False
        for _ in range(4):
            st = wait.until(state)
            if st == "done":
                return
            if st == "login":
                field = driver.find_element(By.NAME, "login")
                field.clear()
                field.send_keys(user)
                driver.find_element(By.NAME, "password").send_keys("pw")
            page = driver.find_element(By.TAG_NAME, "html")
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            wait.until(EC.staleness_of(page))
        raise AssertionError("the login did not finish: %s" % driver.current_url)

    def boundary_free(got):
        b = got["content_type"].split("boundary=")[1].encode()
        import base64
        return base64.b64decode(got["body_b64"]).replace(b, b"BOUNDARY")

    # what this browser sends for each form (to the unprotected copy)
    submit("u", "us", "open")
    base_u = echo()
    submit("m", "ms", "open")
    base_m = echo()
    assert base_u["user"] is None and base_m["user"] is None
    assert base_u["length"] > 0 and base_m["length"] > 1024

    # log in; the session ends (TPOAuthSessionMaxAge); the forms are sent
    driver.get(server.url("/app/whoami.cgi"))
    log_in_if_asked("pk-browser")
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Hello pk-browser"))
    time.sleep(EXPIRE_S + 0.5)
    for form_id, button_id, base in (("u", "us", base_u), ("m", "ms", base_m)):
        mark = len(server.error_log())
        before = len(records(server))
        submit(form_id, button_id)
        log_in_if_asked("pk-browser")
        got = echo()
        log = server.error_log()[mark:]
        assert "kept for after the login" in log, log[-3000:]
        assert "replayed (%d bytes)" % base["length"] in log, log[-3000:]
        assert got["user"] == "pk-browser" and got["method"] == "POST"
        assert got["query"] == base["query"]  # the same URL, the login between
        assert got["length"] == base["length"]
        if form_id == "u":
            # exactly the bytes the browser sent for this form before
            assert got["content_type"] == base["content_type"]
            assert got["sha256"] == base["sha256"]
        else:
            # a browser draws a new multipart boundary per submission: apart from it,
            # byte for byte
            assert boundary_free(got) == boundary_free(base)
        # the application ran once for it: the replay, not the original POST
        assert len(records(server)) == before + 1
        # the address bar shows the form's URL (a real navigation, not a script's fetch)
        assert driver.current_url == server.url("/keep/echo_body.cgi?via=%s"
                                                % ("browser" if form_id == "u" else "mp"))
        time.sleep(EXPIRE_S + 0.5)


# ------------------------------------------------- a distributed cache (encrypted)

@pytest.fixture(params=["memcache", "redis"])
def remote(request, httpd, idp, tmp_path):
    from test_sessions import PASSPHRASE, REDIS_PASSWORD, Backend
    kind = request.param
    if shutil.which("memcached" if kind == "memcache" else "redis-server") is None:
        pytest.fail("%s is not installed (test.sh installs it)" % kind)
    os.chmod(tmp_path, 0o755)
    backend = Backend(kind, str(tmp_path), password=REDIS_PASSWORD if kind == "redis" else None)
    backend.start()
    try:
        c = "TPOAuthCache %s 127.0.0.1:%d\n" % (kind, backend.port)
        c += 'TPOAuthCachePassphrase "%s"\n' % PASSPHRASE
        if kind == "redis":
            c += "TPOAuthCacheRedisPassword %s\n" % REDIS_PASSWORD
        c += conf(idp.issuer, httpd.server_root).replace("TPOAuthCacheSize 16M\n", "")
        httpd.ensure(c)
        _record_file(httpd.server_root)
        yield httpd, backend
    finally:
        httpd.stop()
        backend.stop()


def test_remote_cache_kept_encrypted_and_replayed(remote):
    server, backend = remote
    s = h.browser_session()
    secret = b"card=4111111111111111&note=" + b"kept-in-the-cache-" * 4
    mark = len(server.error_log())
    r = post(s, server.url("/keep/echo_body.cgi"), secret, FORM)
    assert r.status_code == 302
    assert "%d bytes kept" % len(secret) in server.error_log()[mark:]
    # the body is in the shared cache, never in clear
    dump = backend.dump()
    assert dump and not any(b"4111111111111111" in k or b"4111111111111111" in v
                            for k, v in dump.items())
    # (keys are hashed by the encrypting layer: the one entry so far is the kept POST)
    assert len(dump) == 1, list(dump)
    kept_key = list(dump)[0]
    resp = h.oidc_login(s, r.headers["Location"], "pk-remote")
    form, rid = replay_page(resp)
    r = replay(s, resp, form, rid)
    assert r.status_code == 200 and r.json()["sha256"] == sha(secret)
    # taken: gone from the cache; a second replay is refused
    assert kept_key not in backend.dump()
    r = replay(s, resp, form, rid)
    assert r.status_code == 400
    # the cache down: a POST to keep gets 503 and a log line (no login loop, no loss
    # in silence); the server keeps serving
    backend.stop()
    mark = len(server.error_log())
    r = post(h.browser_session(), server.url("/keep/echo_body.cgi"), secret, FORM)
    assert r.status_code == 503
    assert "cannot keep it across the login (cache write failed)" in server.error_log()[mark:]
    assert h.http_get(server.url("/static/hello.txt"), timeout=10)[0] == 200


@pytest.mark.slow  # 3000 requests
def test_anonymous_posts_never_push_sessions_out(httpd, idp):
    """Kept POSTs live in a shared-memory segment of their own: 3000 anonymous
    ones (more entries than a 1 MB session cache indexes) leave a user's session
    alone, and the server keeps serving."""
    import concurrent.futures
    httpd.ensure(conf(idp.issuer, httpd.server_root).replace("TPOAuthCacheSize 16M",
                                                             "TPOAuthCacheSize 1M")
                 + "<Location /tpo-metrics>\n    SetHandler tp-oauth-metrics\n"
                   "    Require all granted\n</Location>\n")
    _record_file(httpd.server_root)
    user = h.browser_session()
    login_get(httpd, user, "pk-survivor")
    mark = len(httpd.error_log())

    def one(i):
        with h.browser_session() as s:
            codes = []
            for j in range(50):
                # a connection each (the event MPM may close idle keep-alive ones under load)
                r = post(s, httpd.url("/small/echo_body.cgi?i=%d" % i), b"a=%05d" % j + b"x" * 80,
                         FORM, headers={"Connection": "close"})
                codes.append(r.status_code)
                s.cookies.clear()
            return codes
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        codes = [c for cs in ex.map(one, range(60)) for c in cs]
    assert codes == [302] * 3000, set(codes)
    log = httpd.error_log()[mark:]
    assert log.count("bytes kept for after the login") == 3000
    # the session cache evicted nothing
    status, metrics = h.http_get(httpd.url("/tpo-metrics"), timeout=10)
    assert status == 200
    metrics = metrics.decode()
    m = re.search(r"^tpo_oauth_cache_evictions_total (\d+)$", metrics, re.M)
    assert m and m.group(1) == "0", metrics
    r = user.get(httpd.url("/keep/echo_body.cgi"), timeout=10, allow_redirects=False)
    assert r.status_code == 200 and r.json()["user"] == "pk-survivor"


def test_proxied_backend_gets_the_kept_body(httpd, idp, body_echo):
    """mod_proxy reads the kept body through the same input filter: the backend
    gets the original Content-Type and bytes."""
    httpd.ensure(conf(idp.issuer, httpd.server_root, echo_port=body_echo.port))
    _record_file(httpd.server_root)
    s = h.browser_session()
    ctype = "multipart/form-data; boundary=%s" % BOUNDARY
    resp, form, rid = keep_and_login(httpd, s, "/proxied/form?p=1", MULTIPART, ctype, "pk-proxy")
    r = replay(s, resp, form, rid)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    got = r.json()
    assert got["path"] == "/backend/form?p=1"
    assert got["content_type"] == ctype
    assert got["length"] == len(MULTIPART) and got["sha256"] == sha(MULTIPART)
