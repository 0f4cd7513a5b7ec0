"""microdot.cors and microdot.csrf against Python Microdot 2.7's, header for
header: the same requests to cors_csrf_app.lua and cors_csrf_app.py under
each configuration of CONFIGS (cors_csrf_app.py)."""
import contextlib
import os

import pytest

from oracle import fetch, serve_both

CONFIGS = ['cors_star', 'cors_list', 'cors_bare', 'cors_off', 'csrf_plain', 'csrf_cors',
           'csrf_sub', 'csrf_some']

COMPARED = ['access-control-allow-origin', 'access-control-allow-credentials',
            'access-control-expose-headers', 'access-control-max-age',
            'access-control-allow-methods', 'access-control-allow-headers', 'allow',
            'content-type']

A = 'https://a.com'
PREFLIGHT = {'Origin': A, 'Access-Control-Request-Method': 'post',
             'Access-Control-Request-Headers': 'X-Token, x-other ,content-type'}

REQUESTS = [
    ('GET', '/submit', {}),
    ('GET', '/submit', {'Origin': A}),
    ('GET', '/submit', {'Origin': 'https://b.org'}),
    ('GET', '/submit', {'Origin': 'https://evil.com'}),
    ('GET', '/submit', {'Origin': 'https://x.a.com'}),
    ('GET', '/nowhere', {'Origin': A}),
    ('GET', '/nowhere', {}),
    ('GET', '/fail', {'Origin': A}),
    ('GET', '/vary', {'Origin': A}),
    ('GET', '/vary', {}),
    ('OPTIONS', '/submit', PREFLIGHT),
    ('OPTIONS', '/submit', {'Origin': A, 'Access-Control-Request-Method': 'DELETE'}),
    ('OPTIONS', '/submit', {'Origin': A, 'Access-Control-Request-Method': 'GET',
                            'Access-Control-Request-Headers': 'X-Nothing'}),
    ('OPTIONS', '/submit', {'Origin': 'https://evil.com', 'Access-Control-Request-Method': 'POST'}),
    ('OPTIONS', '/submit', {}),
    ('OPTIONS', '/submit', {'Origin': A}),  # test_cors_preflight: an Origin, nothing requested
    ('OPTIONS', '/nowhere', PREFLIGHT),
    ('POST', '/submit', {}),
    ('POST', '/submit', {'Sec-Fetch-Site': 'same-origin'}),
    ('POST', '/submit', {'Sec-Fetch-Site': 'none'}),
    ('POST', '/submit', {'Sec-Fetch-Site': 'same-site'}),
    ('POST', '/submit', {'Sec-Fetch-Site': 'cross-site'}),
    ('POST', '/submit', {'Origin': A}),
    ('POST', '/submit', {'Origin': A, 'Sec-Fetch-Site': 'cross-site'}),
    ('POST', '/submit', {'Origin': 'https://x.a.com'}),
    ('POST', '/submit', {'Origin': 'https://x.y.a.com', 'Sec-Fetch-Site': 'same-site'}),
    ('POST', '/submit', {'Origin': 'http://x.a.com'}),
    ('POST', '/submit', {'Origin': 'https://xa.com'}),
    ('POST', '/submit', {'Origin': 'http://x.b.org'}),
    ('POST', '/submit', {'Origin': 'https://x.b.org'}),
    ('POST', '/submit', {'Origin': 'https://evil.com'}),
    ('PUT', '/submit', {'Sec-Fetch-Site': 'cross-site'}),
    ('DELETE', '/submit', {'Origin': 'https://evil.com', 'Sec-Fetch-Site': 'same-origin'}),
    ('GET', '/submit', {'Sec-Fetch-Site': 'cross-site'}),
    ('POST', '/exempt', {'Sec-Fetch-Site': 'cross-site', 'Origin': 'https://evil.com'}),
    ('GET', '/protected', {'Sec-Fetch-Site': 'cross-site'}),
    ('GET', '/protected', {'Sec-Fetch-Site': 'same-origin', 'Origin': A}),
    ('GET', '/protected', {'Origin': 'https://evil.com'}),
]


@contextlib.contextmanager
def serving(config):
    """Both apps under `config` (the servers read it from their environment)."""
    with contextlib.ExitStack() as stack:
        os.environ['CORS_CSRF_CONFIG'] = config
        try:
            ports = stack.enter_context(serve_both('cors_csrf_app.lua', 'cors_csrf_app.py'))
        finally:
            os.environ.pop('CORS_CSRF_CONFIG', None)
        yield ports


@pytest.fixture(scope='module', params=CONFIGS)
def servers(request):
    with serving(request.param) as ports:
        yield request.param, ports


def vary_set(headers):
    values = headers.get('vary', [])
    return {v.strip() for value in values for v in value.split(',') if v.strip()}


@pytest.mark.parametrize('method,path,headers', REQUESTS,
                         ids=[f'{m} {p} {h}' for m, p, h in REQUESTS])
def test_same_answer(servers, method, path, headers):
    config, (lua_port, py_port) = servers
    lua = fetch(lua_port, method, path, headers)
    py = fetch(py_port, method, path, headers)
    assert lua[0] == py[0], f'{config}: status'
    assert lua[2] == py[2], f'{config}: body'
    for name in COMPARED:
        assert lua[1].get(name) == py[1].get(name), f'{config}: {name}'
    assert vary_set(lua[1]) == vary_set(py[1]), f'{config}: Vary'


def test_deliberate_differences():
    """An Origin without '://' under allow_subdomains, and Origins checked
    against a CORS object without a list: 403 here, 500 in Microdot."""
    for config, path, headers in [('csrf_sub', '/submit', {'Origin': 'null'}),
                                  ('csrf_plain', '/submit', {'Origin': A})]:
        with serving(config) as (lua_port, py_port):
            lua = fetch(lua_port, 'POST', path, headers)
            py = fetch(py_port, 'POST', path, headers)
        assert lua[0] == 403, config
        if config == 'csrf_sub':
            assert py[0] == 500
