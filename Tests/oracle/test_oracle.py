"""Compares microdot-lua with Python Microdot (the reference) route by route.

Both serve the same app (oracle_app.lua / oracle_app.py) on loopback; every
request below goes to both, and status, body and the headers that matter
must agree, except where the spec deliberately differs (section 8).
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.path.join(ROOT, '.build', 'debug', 'microdot-lua')
COMPARED_HEADERS = ['content-type', 'content-length', 'location', 'set-cookie',
                    'cache-control', 'content-encoding', 'allow', 'x-extra', 'x-made']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(port, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'server exited with {process.returncode}')
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'server on port {port} did not start')


@pytest.fixture(scope='module')
def servers():
    lua_port, py_port = free_port(), free_port()
    lua = subprocess.Popen([BINARY, os.path.join(HERE, 'oracle_app.lua'), '--port', str(lua_port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    py = subprocess.Popen([sys.executable, os.path.join(HERE, 'oracle_app.py'), str(py_port)],
                          cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lua_port, lua)
        wait_for(py_port, py)
        yield lua_port, py_port
    finally:
        for p in (lua, py):
            p.terminate()
            p.wait(timeout=10)


def fetch(port, method, path):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read()
        headers = {}
        for name, value in response.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return response.status, headers, body
    finally:
        conn.close()


REQUESTS = [
    ('GET', '/'), ('GET', '/status'), ('GET', '/headers'), ('GET', '/s204'),
    ('GET', '/status-headers-only'), ('GET', '/body-headers'), ('GET', '/none'),
    ('GET', '/response'), ('GET', '/json'), ('GET', '/list'), ('GET', '/redirect'),
    ('GET', '/redirect301'), ('GET', '/file'), ('GET', '/file-maxage'), ('GET', '/file-gz'),
    ('GET', '/file-ext'), ('GET', '/file-typed'), ('GET', '/static/index.html'),
    ('GET', '/static/image.jpg'), ('GET', '/static/../oracle_app.py'), ('GET', '/fib'),
    ('GET', '/cookie-after'), ('GET', '/cookie-response'), ('GET', '/cookie-full'),
    ('GET', '/users/42'), ('GET', '/users/-7'), ('GET', '/users/x'), ('GET', '/names/bob'),
    ('GET', '/re/abc'), ('GET', '/re/ABC'), ('GET', '/error'), ('GET', '/abort'),
    ('GET', '/abort-reason'), ('GET', '/missing'), ('POST', '/items'), ('GET', '/items'),
    ('OPTIONS', '/items'), ('OPTIONS', '/'), ('HEAD', '/'), ('HEAD', '/json'),
]


@pytest.mark.parametrize('method,path', REQUESTS)
def test_same_as_microdot(servers, method, path):
    lua_port, py_port = servers
    lua_status, lua_headers, lua_body = fetch(lua_port, method, path)
    py_status, py_headers, py_body = fetch(py_port, method, path)

    assert lua_status == py_status
    is_json = (py_headers.get('content-type', [''])[0].startswith('application/json')
               and 'content-encoding' not in py_headers)
    if is_json and py_body:
        # Deliberate: our JSON is compact; the value must be the same.
        assert json.loads(lua_body) == json.loads(py_body)
    else:
        assert lua_body == py_body

    for name in COMPARED_HEADERS:
        if name == 'content-length':
            if py_status == 204:
                # Deliberate (RFC 9110 section 8.6): no Content-Length on 204.
                assert name not in lua_headers
                continue
            if name not in py_headers:
                # Microdot sends no length for files and streams; we send one
                # for files (the size is known) and chunk streams.
                if 'transfer-encoding' not in lua_headers:
                    assert lua_headers[name] == [str(len(lua_body))] or method == 'HEAD'
                continue
            if is_json and py_body:
                assert lua_headers[name] == [str(len(lua_body))]
                continue
        assert lua_headers.get(name) == py_headers.get(name), name


def test_method_not_allowed_differs_deliberately(servers):
    lua_port, py_port = servers
    lua_status, lua_headers, lua_body = fetch(lua_port, 'POST', '/')
    py_status, _, py_body = fetch(py_port, 'POST', '/')
    assert lua_status == py_status == 405
    # Microdot answers 405 with "Not found" and no Allow; RFC 9110 wants Allow.
    assert py_body == b'Not found'
    assert lua_body == b'Method not allowed'
    assert lua_headers['allow'] == ['GET, HEAD, OPTIONS']


def test_streams_are_chunked_on_http11(servers):
    lua_port, py_port = servers
    _, lua_headers, lua_body = fetch(lua_port, 'GET', '/fib')
    _, py_headers, py_body = fetch(py_port, 'GET', '/fib')
    assert lua_headers['transfer-encoding'] == ['chunked']
    assert 'transfer-encoding' not in py_headers
    assert lua_body == py_body
