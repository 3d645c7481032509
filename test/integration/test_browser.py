# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""A real browser (headless Chromium through Selenium) logs in through the module
and oidc-provider's login and consent pages."""

import os
import shutil
import tempfile

import pytest

import tpo_harness as h

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20  # seconds, for every page

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="chromium and chromium-driver are not installed")


@pytest.fixture
def driver(httpd):
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
    drv.set_script_timeout(WAIT)
    yield drv
    try:
        drv.save_screenshot(os.path.join(httpd.server_root, "last-browser-page.png"))
    except Exception:  # noqa: BLE001 - best effort
        pass
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


def browser_login(drv, url, login, password="secret-password"):
    wait = WebDriverWait(drv, WAIT)
    drv.get(url)
    # oidc-provider's devInteractions login page
    field = wait.until(EC.element_to_be_clickable((By.NAME, "login")))
    field.clear()
    field.send_keys(login)
    drv.find_element(By.NAME, "password").send_keys(password)
    drv.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the consent page
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "form input[name=prompt][value=consent]")))
    drv.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Hello "))


def test_browser_login(httpd, std_conf, driver):
    httpd.ensure(std_conf)
    url = httpd.url("/app/whoami.cgi?from=browser")
    browser_login(driver, url, "jose")
    assert driver.current_url == url
    assert driver.find_element(By.TAG_NAME, "h1").text == "Hello jose"
    table = driver.find_element(By.ID, "tpo-vars").text
    assert "TPO_CLAIM_email jose@example.test" in table, table
    assert "José Müller" in table, table
    cookies = {c["name"]: c for c in driver.get_cookies()}
    assert cookies["tp_oauth_idp"]["httpOnly"] is True
    # the session now works for the page's own fetch() calls, without a redirect
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/app/whoami.cgi', {headers: {'X-Requested-With': 'XMLHttpRequest'}})
            .then(r => done(r.status), e => done(String(e)));""")
    assert status == 200
    # a reload stays logged in (no trip to the IdP)
    driver.get(httpd.url("/app/whoami.cgi"))
    WebDriverWait(driver, WAIT).until(
        EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Hello jose"))
