"""A page in headless Chromium echoing text and binary messages through
microdot.websocket (ws_app.lua's /page and /echo), then closing cleanly."""
import os
import subprocess
import time

import pytest

from oracle import BINARY, HERE, free_port, wait_for
from test_browser import chromium_driver


def test_browser_echoes_through_a_websocket():
    driver, why = chromium_driver()
    if driver is None:
        pytest.skip(why)
    port = free_port()
    server = subprocess.Popen([BINARY, os.path.join(HERE, 'ws_app.lua'), '--port', str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        driver.set_page_load_timeout(20)
        driver.get(f'http://127.0.0.1:{port}/page')
        deadline = time.monotonic() + 20
        results = {}
        while time.monotonic() < deadline:
            results = driver.execute_script('return window.results')
            if results.get('closed') or results.get('error'):
                break
            time.sleep(0.1)
        assert results.get('error') is None, results
        assert results['received'] == ['hello from the browser', 'bytes 0,1,2,255', 'text of 70000']
        assert results['closed'] == {'code': 1000, 'clean': True}
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)
