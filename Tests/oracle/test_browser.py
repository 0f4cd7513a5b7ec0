"""A browser page on one loopback origin calling microdot-lua on another:
a CORS preflight, credentialed requests whose cookie and exposed header
the page can read, and an EventSource receiving named events with ids.
Headless Chromium driven by selenium; the same exchange is also checked
over raw HTTP (test_raw_http_exchange), which needs no browser."""
import http.server
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from oracle import BINARY, HERE, fetch, free_port, wait_for

PAGE = """<!doctype html><html><body><script>
const api = "http://127.0.0.1:%(api_port)d";
window.results = {events: []};
(async () => {
  try {
    const login = await fetch(api + "/login", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json", "X-Token": "t0k"},
      body: JSON.stringify({user: "ada"})});
    window.results.login = await login.json();
    const who = await fetch(api + "/whoami", {credentials: "include"});
    window.results.whoami = await who.json();
    window.results.total = who.headers.get("X-Total");
  } catch (e) { window.results.error = String(e); }
  const source = new EventSource(api + "/events", {withCredentials: true});
  const record = (e) => {
    window.results.events.push({type: e.type, data: e.data, id: e.lastEventId});
    if (e.type === "end") { source.close(); window.results.done = true; }
  };
  for (const name of ["reading", "note", "end"]) source.addEventListener(name, record);
  source.onerror = () => { window.results.sse_error = true; };
})();
</script></body></html>"""


class Servers:
    def __init__(self):
        self.page_port, self.api_port = free_port(), free_port()
        self.origin = f'http://127.0.0.1:{self.page_port}'
        self.page = (PAGE % {'api_port': self.api_port}).encode()

    def __enter__(self):
        page = self.page

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header('Content-Type', 'text/html; charset=utf-8')
                self.send_header('Content-Length', str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', self.page_port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        env = dict(os.environ, PAGE_ORIGIN=self.origin)
        self.api = subprocess.Popen([BINARY, os.path.join(HERE, 'browser_api.lua'),
                                     '--port', str(self.api_port), '--workers', '1'],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.api_port, self.api)
        return self

    def __exit__(self, *exc):
        self.api.terminate()
        self.api.wait(timeout=10)
        self.httpd.shutdown()
        self.httpd.server_close()


def chromium_driver():
    """A headless Chromium, or the reason there is none."""
    if not (shutil.which('chromium') and shutil.which('chromedriver')):
        return None, 'chromium or chromedriver is not installed (scripts/install-deps --test)'
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        return None, f'selenium is missing: {error}'
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which('chromium')
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                     '--no-first-run', '--disable-extensions'):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which('chromedriver'))
    return webdriver.Chrome(service=service, options=options), None


def test_browser_cors_and_event_source():
    driver, why = chromium_driver()
    if driver is None:
        pytest.skip(why)
    try:
        driver.set_page_load_timeout(20)
        with Servers() as servers:
            driver.get(servers.origin + '/')
            deadline = time.monotonic() + 20
            results = {}
            while time.monotonic() < deadline:
                results = driver.execute_script('return window.results')
                if results.get('done') or results.get('error'):
                    break
                time.sleep(0.1)
            assert results.get('error') is None, results
            assert results['login'] == {'user': 'ada', 'token': 't0k'}
            assert results['whoami'] == {'user': 'ada'}
            assert results['total'] == '42'
            assert results['events'] == [
                {'type': 'reading', 'data': '{"n":1}', 'id': 'a1'},
                {'type': 'note', 'data': 'two\nlines', 'id': 'a2'},
                {'type': 'end', 'data': 'done', 'id': 'a3'},
            ]
            assert results.get('done') is True
            # The browser asked first: at least the POST's preflight.
            assert json.loads(fetch(servers.api_port, 'GET', '/stats')[2])['options'] >= 1
    finally:
        driver.quit()


def test_raw_http_exchange():
    """What the browser does, step by step, over raw HTTP."""
    with Servers() as servers:
        port, origin = servers.api_port, servers.origin
        status, headers, body = fetch(port, 'OPTIONS', '/login', {
            'Origin': origin, 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type,x-token'})
        assert status == 200 and body == b''
        assert headers['access-control-allow-origin'] == [origin]
        assert headers['access-control-allow-credentials'] == ['true']
        assert headers['access-control-allow-methods'] == ['POST']
        assert headers['access-control-allow-headers'] == ['content-type, x-token']
        assert 'access-control-max-age' not in headers
        assert {v.strip() for v in headers['vary'][0].split(',')} == {'Origin'}
        status, headers, body = fetch(port, 'POST', '/login', {
            'Origin': origin, 'Content-Type': 'application/json', 'X-Token': 't0k'},
            body=b'{"user": "ada"}')
        assert status == 200 and json.loads(body) == {'user': 'ada', 'token': 't0k'}
        assert headers['access-control-allow-origin'] == [origin]
        assert headers['access-control-allow-credentials'] == ['true']
        assert headers['set-cookie'] == ['user=ada; Path=/; HttpOnly']
        status, headers, body = fetch(port, 'GET', '/whoami', {'Origin': origin, 'Cookie': 'user=ada'})
        assert json.loads(body) == {'user': 'ada'}
        assert headers['access-control-expose-headers'] == ['X-Total']
        # Another origin gets no CORS headers: the browser would refuse it.
        _, headers, _ = fetch(port, 'GET', '/whoami', {'Origin': 'http://127.0.0.1:1'})
        assert 'access-control-allow-origin' not in headers
        # The event stream's framing, read until the last event.
        import socket
        with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
            sock.sendall(f'GET /events HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n'
                         'Accept: text/event-stream\r\n\r\n'.encode())
            data = b''
            while b'data: done\n\n' not in data:
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
        head = data.split(b'\r\n\r\n', 1)[0].decode()
        assert 'Content-Type: text/event-stream\r\n' in head
        assert f'Access-Control-Allow-Origin: {origin}\r\n' in head
        for framed in (b'event: reading\nid: a1\ndata: {"n":1}\n\n',
                       b'event: note\nid: a2\ndata: two\ndata: lines\n\n',
                       b'retry: 60000\nevent: end\nid: a3\ndata: done\n\n'):
            assert framed in data
