# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""pytest fixtures for mod_tp_oauth's integration tests.

Environment:
  TPO_MODULE          path to mod_tp_oauth.so (default: ./build/src/.libs/mod_tp_oauth.so)
  TPO_HTTPD_PRELOAD   a library to LD_PRELOAD into apache2 (libasan.so for the ASan pass)
  TPO_KEEP=1          keep the generated server roots and IdP logs under /tmp
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import tpo_harness as h  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (load, expiry) tests; not run in "
                                       "the AddressSanitizer pass")


def pytest_report_header(config):
    return ["tpo: module %s" % _module_path(),
            "tpo: preload %s" % (os.environ.get("TPO_HTTPD_PRELOAD") or "-")]


def _module_path():
    path = os.environ.get("TPO_MODULE") or os.path.join(h.REPO, "build", "src", ".libs",
                                                       "mod_tp_oauth.so")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def module_path():
    path = _module_path()
    if not os.path.exists(path):
        pytest.fail("mod_tp_oauth.so not found at %s (build it, or set TPO_MODULE)" % path)
    return path


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="tpo-it-")
    os.chmod(d, 0o755)
    yield d
    if not os.environ.get("TPO_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def http_port():
    """The port of the test httpd, chosen once: the IdP registers redirect URIs for it."""
    return h.free_port()


@pytest.fixture(scope="session")
def idp(workdir, http_port):
    """test/idp/server.mjs (oidc-provider) with the harness's clients."""
    server = h.IdP(workdir, h.idp_clients(http_port))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fakeidp(workdir):
    """test/fakeidp/server.mjs, when it exists (.base is its URL)."""
    if not h.FakeIdP.available():
        pytest.skip("test/fakeidp/server.mjs does not exist")
    server = h.FakeIdP(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def httpd(module_path, http_port):
    """The test httpd (not started): tests call .ensure(conf), .start(conf),
    .restart(conf), .graceful(conf), .configtest(conf)."""
    server = h.Httpd(module=module_path, port=http_port)
    yield server
    server.stop()
    problems = server.problems(since_last=False)
    server.cleanup(keep=bool(problems))


@pytest.fixture(autouse=True)
def _check_httpd_health(request):
    """Fails a test whose httpd crashed or reported a sanitizer error meanwhile."""
    yield
    if "httpd" not in request.fixturenames:
        return
    server = request.getfixturevalue("httpd")
    problems = server.problems()
    if problems:
        pytest.fail("httpd reported problems (server root %s):\n%s"
                    % (server.server_root, "\n".join(problems)[:12000]), pytrace=False)


@pytest.fixture
def std_conf(idp):
    """The module configuration used by most tests."""
    return h.standard_conf(idp.issuer)


@pytest.fixture
def browser():
    """A requests.Session that sends Accept: text/html like a browser navigation."""
    s = h.browser_session()
    yield s
    s.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report shows the end of httpd's error log and of the IdP's log."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    server = item.funcargs.get("httpd") if hasattr(item, "funcargs") else None
    if server is not None:
        tail = server.error_log().splitlines()[-40:]
        if tail:
            rep.sections.append(("httpd error_log (last 40 lines; %s)" % server.server_root,
                                 "\n".join(tail)))
    provider = item.funcargs.get("idp") if hasattr(item, "funcargs") else None
    if provider is not None:
        tail = provider.log().splitlines()[-20:]
        if tail:
            rep.sections.append(("idp log (last 20 lines)", "\n".join(tail)))
