"""Compares microdot-lua with Python Microdot (the reference) route by route.

Both serve the same app (oracle_app.lua / oracle_app.py) on loopback; every
request below goes to both, and status, body and the headers that matter
must agree, except where README "Differences from Microdot" says we
deliberately differ.
"""
import json

import pytest

from oracle import fetch, serve_both

COMPARED_HEADERS = ['content-type', 'content-length', 'location', 'set-cookie',
                    'cache-control', 'content-encoding', 'allow', 'x-extra', 'x-made']


@pytest.fixture(scope='module')
def servers():
    with serve_both('oracle_app.lua', 'oracle_app.py') as ports:
        yield ports


REQUESTS = [
    ('GET', '/'), ('GET', '/status/'), ('GET', '/headers/'), ('GET', '/s204/'),
    ('GET', '/status-headers-only'), ('GET', '/body-headers/'), ('GET', '/none'),
    ('GET', '/response'), ('GET', '/json'), ('GET', '/list'), ('GET', '/redirect/'),
    ('GET', '/redirect301'), ('GET', '/file/'), ('GET', '/file-maxage/'), ('GET', '/file-gz'),
    ('GET', '/file-ext'), ('GET', '/file-typed'), ('GET', '/static/index.html'),
    ('GET', '/static/image.jpg'), ('GET', '/static/../oracle_app.py'), ('GET', '/fibonacci'),
    ('GET', '/cookie-after/'), ('GET', '/cookie-response/'), ('GET', '/cookie-full'),
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
            if is_json and (py_body or method == 'HEAD'):
                # Our compact JSON has its own length; HEAD gives GET's.
                body = fetch(lua_port, 'GET', path)[2] if method == 'HEAD' else lua_body
                assert lua_headers[name] == [str(len(body))]
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
    _, lua_headers, lua_body = fetch(lua_port, 'GET', '/fibonacci')
    _, py_headers, py_body = fetch(py_port, 'GET', '/fibonacci')
    assert lua_headers['transfer-encoding'] == ['chunked']
    assert 'transfer-encoding' not in py_headers
    assert lua_body == py_body
