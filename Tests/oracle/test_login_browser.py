"""examples/login in a real browser (headless Chromium driven by selenium):
the login form, the session kept across pages, a form that a page of
another loopback origin posts to the app refused by microdot.csrf (the user
stays logged in), and the logout button. Every process started here (the
app, the other origin's server, chromedriver and Chromium) is stopped by
its fixture's finalizer."""
import http.server
import os
import secrets
import subprocess
import threading

import pytest

from oracle import ROOT, free_port, wait_for
from test_browser import chromium_driver

APP = os.path.join(ROOT, 'examples', 'login', 'app.lua')
TIMEOUT = 15  # seconds any one page may take to show


def server_binary():
    """$MICRODOT_LUA, else the most recently built of the release and debug
    binaries."""
    if os.environ.get('MICRODOT_LUA'):
        return os.environ['MICRODOT_LUA']
    built = [path for path in (os.path.join(ROOT, '.build', kind, 'microdot-lua') for kind in ('release', 'debug'))
             if os.path.exists(path)]
    if not built:
        pytest.fail('no microdot-lua binary: run swift build first')
    return max(built, key=os.path.getmtime)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def app(tmp_path):
    """The login example on a free loopback port: (origin, path of its log)."""
    port, log_path = free_port(), tmp_path / 'app.log'
    env = dict(os.environ, SECRET_KEY=secrets.token_hex(16))
    with open(log_path, 'wb') as log:
        process = subprocess.Popen([server_binary(), APP, '--port', str(port), '--workers', '1', '--debug'],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(port, process)
        yield f'http://127.0.0.1:{port}', log_path
    finally:
        stop(process)


# The other site's page: as soon as it loads, it posts a form to the app's
# /logout, as a page that wants to log the visitor out behind their back.
FORGERY = """<!doctype html><html><body>
<form id="forged" method="post" action="%(target)s/logout"><input name="x" value="1"></form>
<script>document.getElementById("forged").submit();</script>
</body></html>"""


@pytest.fixture
def other_origin(app):
    """A page on another loopback origin (another port) posting to the app."""
    page = (FORGERY % {'target': app[0]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{httpd.server_address[1]}'
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser():
    driver, why = chromium_driver()
    if driver is None:
        pytest.skip(why)
    try:
        driver.set_page_load_timeout(TIMEOUT)
        yield driver
    finally:
        driver.quit()


def wait_for_page(driver, url, title):
    from selenium.webdriver.support.ui import WebDriverWait

    def arrived(d):
        return d.current_url == url and d.title == title

    try:
        WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(arrived)
    except Exception:
        pytest.fail(f'expected {url} titled {title!r}, at {driver.current_url} titled {driver.title!r}')


def text_of(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, selector).text


def click(driver, selector):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, selector).click()


def test_login_session_csrf_and_logout_in_a_browser(app, other_origin, browser):
    from selenium.webdriver.common.by import By
    origin, log_path = app

    # Not logged in: the home page sends the browser to the login form.
    browser.get(origin + '/')
    wait_for_page(browser, origin + '/login?next=/', 'Log in')
    browser.find_element(By.NAME, 'username').send_keys('ada')
    browser.find_element(By.NAME, 'password').send_keys('lovelace')
    click(browser, 'input[name=remember]')
    click(browser, '#login')
    wait_for_page(browser, origin + '/', 'Hello, Ada Lovelace')
    assert text_of(browser, 'p') == 'Visits in this session: 1'
    cookies = {c['name']: c for c in browser.get_cookies()}
    assert cookies['session']['httpOnly'] and cookies['_remember']['httpOnly']

    # The session is kept from page to page.
    browser.find_element(By.LINK_TEXT, 'Account').click()
    wait_for_page(browser, origin + '/account', 'Account of ada')
    browser.find_element(By.LINK_TEXT, 'Home').click()
    wait_for_page(browser, origin + '/', 'Hello, Ada Lovelace')
    assert text_of(browser, 'p') == 'Visits in this session: 2'

    # A page of another origin posts a logout form to the app: the browser
    # sends it with the user's cookies (the same host, so the same site),
    # and says where it came from; microdot.csrf refuses it.
    browser.get(other_origin + '/')
    wait_for_page(browser, origin + '/logout', 'Forbidden')
    assert 'sent from another site' in text_of(browser, 'p')
    browser.get(origin + '/')
    wait_for_page(browser, origin + '/', 'Hello, Ada Lovelace')
    assert text_of(browser, 'p') == 'Visits in this session: 3'

    # The page's own logout button works, and ends the login.
    click(browser, '#logout')
    wait_for_page(browser, origin + '/login', 'Log in')
    assert '_remember' not in {c['name'] for c in browser.get_cookies()}
    browser.get(origin + '/')
    wait_for_page(browser, origin + '/login?next=/', 'Log in')

    # What the server saw, in order: the login, the refused forgery, the
    # real logout.
    requests = [line.split('[MicrodotLua] ', 1)[1] for line in log_path.read_text().splitlines()
                if '[MicrodotLua] POST ' in line]
    assert requests == ['POST /login 302', 'POST /logout 403', 'POST /logout 302'], requests
