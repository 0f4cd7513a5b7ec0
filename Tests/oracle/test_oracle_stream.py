"""Streamed request bodies: microdot-lua against Python Microdot
(stream_app.lua / stream_app.py) with Microdot's test_request stream
limits, max_body_length = 16 and max_content_length = 32."""
import json

import pytest

from oracle import fetch, serve_both

FORM = {'Content-Type': 'application/x-www-form-urlencoded'}

REQUESTS = [
    # Read whole: req.stream reads req.body.
    ('/stream', b'foo=bar&abc=d'),
    # Microdot's test_large_payload: over max_body_length, req.body is
    # empty and req.stream reads the body.
    ('/stream', b'foo=bar&abc=def&x=y'),
    ('/stream', b'x' * 32),
    # Over max_content_length: 413.
    ('/stream', b'x' * 33),
    ('/lines', b'abcdone line\ntwo\n'),
    ('/lines', b'abcdone\nt\n'),
]


@pytest.fixture(scope='module')
def servers():
    with serve_both('stream_app.lua', 'stream_app.py') as ports:
        yield ports


@pytest.mark.parametrize('path,body', REQUESTS)
def test_same_as_microdot(servers, path, body):
    lua_port, py_port = servers
    lua = fetch(lua_port, 'POST', path, FORM, body)
    py = fetch(py_port, 'POST', path, FORM, body)
    assert lua[0] == py[0]
    if py[1].get('content-type', [''])[0].startswith('application/json'):
        assert json.loads(lua[2]) == json.loads(py[2])
    else:
        assert lua[2] == py[2]
