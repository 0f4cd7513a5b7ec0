"""The oracle for CORS and CSRF: Python Microdot 2.7 configured by the
CORS_CSRF_CONFIG environment variable (see CONFIGS in
test_oracle_cors_csrf.py); cors_csrf_app.lua is its twin."""
import os
import sys

from microdot import Microdot
from microdot.cors import CORS
from microdot.csrf import CSRF

CONFIGS = {
    'cors_star': ({'allowed_origins': '*', 'allow_credentials': True,
                   'expose_headers': ['X-Total']}, None),
    'cors_list': ({'allowed_origins': ['https://a.com', 'https://b.org'],
                   'allow_credentials': True, 'allowed_methods': ['GET', 'POST'],
                   'allowed_headers': ['X-Token', 'Content-Type'], 'max_age': 600,
                   'expose_headers': ['X-Total', 'X-Page']}, None),
    'cors_bare': ({}, None),
    'cors_off': ({'allowed_origins': '*', 'handle_cors': False}, None),
    'csrf_plain': (None, {}),
    'csrf_cors': ({'allowed_origins': ['https://a.com']}, {}),
    'csrf_sub': ({'allowed_origins': ['https://a.com', 'http://b.org']},
                 {'allow_subdomains': True}),
    'csrf_some': ({'allowed_origins': ['https://a.com']}, {'protect_all': False}),
}

app = Microdot()
cors_options, csrf_options = CONFIGS[os.environ['CORS_CSRF_CONFIG']]
cors = CORS(app, **cors_options) if cors_options is not None else None
csrf = CSRF(app, cors=cors, **csrf_options) if csrf_options is not None else None


def exempt(f):
    return csrf.exempt(f) if csrf else f


def protect(f):
    return csrf.protect(f) if csrf else f


@app.route('/submit', methods=['GET', 'POST', 'PUT', 'DELETE'])
async def submit(req):
    return 'done'


@app.post('/exempt')
@exempt
async def exempted(req):
    return 'exempt'


@app.get('/protected')
@protect
async def protected(req):
    return 'protected'


@app.get('/vary')
async def vary(req):
    # What a session does: it marks Cookie.
    if not hasattr(req.g, '_vary'):
        req.g._vary = set()
    req.g._vary.add('Cookie')
    return 'vary', {'Vary': 'X, Accept'}


@app.get('/fail')
async def fail(req):
    raise RuntimeError('boom')


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
