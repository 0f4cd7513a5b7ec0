"""Requests, hooks, error handlers and mounted apps: microdot-lua against
Python Microdot (requests_app.lua / requests_app.py), request by request."""
import json

import pytest

from oracle import fetch, raw_exchange, serve_both

COMPARED_HEADERS = ['content-type', 'set-cookie', 'allow', 'x-trail', 'x-after-error', 'location']

FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
MULTIPART_BODY = (
    b'--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n'
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
    b'Content-Type: text/plain\r\n\r\nfirst line\r\nsecond line\r\n--xyz--\r\n')

REQUESTS = [
    ('GET', '/args?q=one&q=two&n=42&bad=x&a+b=c%26d&empty', {}, None),
    ('GET', '/args?other=1', {}, None),  # Microdot's args is a plain dict without a query
    ('GET', '/args?q=%C3%A9t%C3%A9&n=-3', {}, None),
    ('POST', '/form', FORM, b'name=Ada+Lovelace&tag=a&tag=b%2Fc'),
    ('POST', '/form', FORM, b''),
    ('POST', '/form', {'Content-Type': 'text/plain'}, b'name=x'),
    ('POST', '/upload', {'Content-Type': 'multipart/form-data; boundary=xyz'}, MULTIPART_BODY),
    ('POST', '/json', {'Content-Type': 'application/json'}, b'{"a": [1, 2], "b": null}'),
    ('POST', '/json', {'Content-Type': 'text/plain'}, b'{"a": 1}'),
    ('GET', '/cookies', {'Cookie': 'a=1; b=two; flag; c=x=y'}, None),
    ('GET', '/cookies', {}, None),
    ('GET', '/trail', {}, None),
    ('GET', '/trail', {'X-Deny': '1'}, None),
    ('GET', '/replace', {}, None),
    ('GET', '/nowhere', {}, None),
    ('GET', '/raise/field', {}, None),
    ('GET', '/raise/validation', {}, None),
    ('GET', '/raise/other', {}, None),
    ('GET', '/abort/418', {}, None),
    ('GET', '/abort/404', {}, None),
    ('GET', '/abort-reason', {}, None),
    ('GET', '/api/items/5', {}, None),
    ('GET', '/api/items/0', {}, None),
    ('GET', '/api/items/1', {}, None),
    ('GET', '/api/nothing', {}, None),
    ('GET', '/conflict', {}, None),
    ('GET', '/admin/panel', {}, None),
    ('GET', '/admin/panel', {'X-Admin': 'yes'}, None),
    ('GET', '/needs-login', {}, None),
    ('POST', '/limited', {}, b'x' * 1024),
]


@pytest.fixture(scope='module')
def servers():
    with serve_both('requests_app.lua', 'requests_app.py') as ports:
        yield ports


def assert_same_body(lua, py):
    (_, lua_headers, lua_body), (_, py_headers, py_body) = lua, py
    if py_headers.get('content-type', [''])[0].startswith('application/json'):
        # Our JSON is compact and unordered (deliberate); values must agree.
        assert json.loads(lua_body) == json.loads(py_body)
    else:
        assert lua_body == py_body


@pytest.mark.parametrize('method,path,headers,body', REQUESTS)
def test_same_as_microdot(servers, method, path, headers, body):
    lua_port, py_port = servers
    lua = fetch(lua_port, method, path, headers, body)
    py = fetch(py_port, method, path, headers, body)
    assert lua[0] == py[0]
    assert_same_body(lua, py)
    for name in COMPARED_HEADERS:
        assert lua[1].get(name) == py[1].get(name), name


def test_method_not_allowed_in_a_mounted_app(servers):
    lua_port, py_port = servers
    lua = fetch(lua_port, 'POST', '/api/items/5')
    py = fetch(py_port, 'POST', '/api/items/5')
    assert lua[0] == py[0] == 405
    # Deliberate: Microdot says "Not found" without Allow.
    assert lua[2] == b'Method not allowed'
    assert lua[1]['allow'] == ['GET, HEAD, OPTIONS']
    assert lua[1]['x-after-error'] == py[1]['x-after-error'] == ['405']


def test_body_over_max_content_length(servers):
    # Only the head is sent: both answer 413 without waiting for the body.
    request = b'POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n'
    lua_port, py_port = servers
    lua = raw_exchange(lua_port, request)
    py = raw_exchange(py_port, request)
    assert lua.split(b' ', 2)[1] == py.split(b' ', 2)[1] == b'413'
    assert lua.endswith(b'\r\n\r\nPayload too large')
    assert py.endswith(b'\r\n\r\nPayload too large')
    assert b'X-After-Error: 413' in lua and b'X-After-Error: 413' in py


def test_malformed_json_differs_deliberately(servers):
    lua_port, py_port = servers
    headers = {'Content-Type': 'application/json'}
    lua = fetch(lua_port, 'POST', '/json', headers, b'{oops')
    py = fetch(py_port, 'POST', '/json', headers, b'{oops')
    # Microdot lets the decoding error become a 500; the client sent bad input.
    assert py[0] == 500
    assert lua[0] == 400 and lua[2] == b'Bad request'
