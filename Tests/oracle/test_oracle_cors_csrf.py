"""microdot.cors and microdot.csrf against Python Microdot 2.7's, header for
header: the same requests to cors_csrf_app.lua and cors_csrf_app.py under
each configuration of CONFIGS (cors_csrf_app.py)."""
import contextlib
import os

import pytest

from oracle import fetch, serve_both

CONFIGS = ['cors_star', 'cors_list', 'cors_bare', 'cors_off', 'csrf_plain', 'csrf_cors',
           'csrf_sub', 'csrf_some']

# The configurations whose CORS object has allowed_origins and adds its headers.
VARY_ALWAYS = {'cors_star', 'cors_list', 'csrf_cors', 'csrf_sub', 'csrf_some'}

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
    ('OPTIONS', '/submit', {'Origin': 'null', 'Access-Control-Request-Method': 'put',
                            'Access-Control-Request-Headers': 'X-Token, X-Other'}),
    ('GET', '/submit', {'Origin': 'null'}),
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
    # Deliberate difference: with allowed_origins set, every answer the CORS
    # hook sees says Vary: Origin (Microdot: only when it echoes the Origin).
    expected = vary_set(py[1]) | ({'Origin'} if config in VARY_ALWAYS else set())
    assert vary_set(lua[1]) == expected, f'{config}: Vary'


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


def cors_headers(headers):
    return {name: values for name, values in headers.items() if name.startswith('access-control-')}


def test_other_origins_get_every_cors_header_but_the_allow_ones():
    """What the README says, header for header: an Origin not in the list
    (or none) gets no Allow-Origin or Allow-Credentials, but the rest:
    Expose-Headers, and on a preflight Max-Age, Allow-Methods and
    Allow-Headers. Microdot's answer, and Vary: Origin here only."""
    preflight = {'Origin': 'https://evil.com', 'Access-Control-Request-Method': 'post',
                 'Access-Control-Request-Headers': 'x-token, x-other'}
    with serving('cors_list') as (lua_port, py_port):
        for method, headers, expected in [
            ('GET', {'Origin': 'https://evil.com'}, {'access-control-expose-headers': ['X-Total, X-Page']}),
            ('GET', {}, {'access-control-expose-headers': ['X-Total, X-Page']}),
            ('OPTIONS', preflight, {'access-control-expose-headers': ['X-Total, X-Page'],
                                    'access-control-max-age': ['600'],
                                    'access-control-allow-methods': ['POST'],
                                    'access-control-allow-headers': ['x-token']}),
        ]:
            lua = fetch(lua_port, method, '/submit', headers)
            py = fetch(py_port, method, '/submit', headers)
            assert cors_headers(lua[1]) == cors_headers(py[1]) == expected, (method, headers)
            assert 'vary' not in py[1]
            assert vary_set(lua[1]) == {'Origin'}  # deliberate difference


def test_any_origin_with_credentials_echoes_null_as_microdot():
    """allowed_origins = '*' with allow_credentials: every Origin, `null` too,
    is echoed with credentials allowed, in both (the README warns)."""
    with serving('cors_star') as (lua_port, py_port):
        for port in (lua_port, py_port):
            response = fetch(port, 'GET', '/submit', {'Origin': 'null'})
            assert response[1]['access-control-allow-origin'] == ['null']
            assert response[1]['access-control-allow-credentials'] == ['true']
