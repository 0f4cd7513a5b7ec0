"""microdot.session, microdot.auth and microdot.login against Python
Microdot 2.7 (session_app.lua / session_app.py): statuses, Set-Cookie,
Location, WWW-Authenticate, Vary and bodies, session cookies crossing both
ways, and the API contract's deliberate differences asserted as such."""
import base64
import hashlib
import hmac
import json
import random
import re
import time
import warnings
from urllib.parse import quote

import jwt
import pytest

from oracle import fetch, serve_both

SECRET = 'top-secret'
pytestmark = pytest.mark.filterwarnings('ignore:The HMAC key is')

PAYLOAD = {
    'utf8': 'é ü 日本 \u2028',
    'int': 42,
    'negative': -7,
    'big': 2 ** 53,
    'float': 1.5,
    'small': 0.1,
    'yes': True,
    'no': False,
    'nothing': None,
    'nested': {'list': [1, 'two', {'three': 3.0}], 'obj': {'k': 'v'}},
    'empty_list': [],
    'empty_obj': {},
}


@pytest.fixture(scope='module')
def servers():
    with serve_both('session_app.lua', 'session_app.py') as ports:
        yield ports


def both(servers, method, path, headers=None, body=None):
    lua_port, py_port = servers
    return (fetch(lua_port, method, path, headers, body),
            fetch(py_port, method, path, headers, body))


def set_cookies(response):
    return response[1].get('set-cookie', [])


def cookie_value(response, name):
    """The value of the last Set-Cookie for `name`, or None."""
    value = None
    for header in set_cookies(response):
        match = re.match(rf'{re.escape(name)}=([^;]*)', header)
        if match:
            value = match.group(1)
    return value


def without_tokens(headers):
    """Set-Cookie texts with each JWT replaced, for exact comparison."""
    return [re.sub(r'^([^=]+)=[^;]+\.[^;]+\.[^;]+', r'\1=TOKEN', h) for h in headers]


def decode(token, key=SECRET):
    return jwt.decode(token, key, algorithms=['HS256'])


def vary_set(response):
    values = response[1].get('vary', [])
    return {v.strip() for value in values for v in value.split(',') if v.strip()}


def assert_same(lua, py, json_body=False):
    assert lua[0] == py[0]
    if json_body:
        assert json.loads(lua[2]) == json.loads(py[2])
    else:
        assert lua[2] == py[2]
    for name in ('location', 'www-authenticate', 'x-after', 'x-vary-marks', 'x-refused', 'x-reason'):
        assert lua[1].get(name) == py[1].get(name), name
    # Vary: Python merges the marks into Vary; microdot-lua does it at the end
    # of dispatch (the common rules), compared as a set when it is there.
    marks = set(filter(None, py[1].get('x-vary-marks', [''])[0].split(',')))
    assert vary_set(py) == marks
    if 'vary' in lua[1]:
        assert vary_set(lua) == vary_set(py)


# Sessions

def test_session_made_by_python_reads_the_same_in_lua(servers):
    lua_port, py_port = servers
    saved = fetch(py_port, 'POST', '/session', {'Content-Type': 'application/json'},
                  json.dumps(PAYLOAD).encode())
    token = cookie_value(saved, 'session')
    assert decode(token) == PAYLOAD
    lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
    assert_same(lua, py, json_body=True)
    assert json.loads(lua[2]) == PAYLOAD


def test_session_made_by_lua_reads_the_same_in_python(servers):
    lua_port, py_port = servers
    saved = fetch(lua_port, 'POST', '/session', {'Content-Type': 'application/json'},
                  json.dumps(PAYLOAD).encode())
    token = cookie_value(saved, 'session')
    header = json.loads(base64.urlsafe_b64decode(token.split('.')[0] + '=='))
    assert header == {'alg': 'HS256', 'typ': 'JWT'}
    assert decode(token) == PAYLOAD
    lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
    assert_same(lua, py, json_body=True)
    assert json.loads(py[2]) == PAYLOAD


def test_session_keys_1_to_n_are_an_object(servers):
    lua_port, _ = servers
    saved = fetch(lua_port, 'POST', '/session', {'Content-Type': 'application/json'},
                  b'{"1": "a", "2": "b"}')
    assert decode(cookie_value(saved, 'session')) == {'1': 'a', '2': 'b'}


# Keys a Python dict holds like any other, named like the Lua session's
# methods and like Lua metamethods.
METHOD_NAMES = {'save': 'a', 'delete': 'b', 'get': 'c', '__index': 'd', '__newindex': 'e',
                '__pairs': 'f', '__metatable': 'g', 'visits': 3}


def test_session_keys_named_like_methods_cross_both_ways(servers):
    lua_port, py_port = servers
    for maker in (py_port, lua_port):
        saved = fetch(maker, 'POST', '/session', {'Content-Type': 'application/json'},
                      json.dumps(METHOD_NAMES).encode())
        assert saved[0] == 200 and saved[2] == b'saved', maker
        token = cookie_value(saved, 'session')
        assert decode(token) == METHOD_NAMES
        lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
        assert_same(lua, py, json_body=True)
        assert json.loads(lua[2]) == METHOD_NAMES
        # Saving a session read from such a cookie works, and keeps every key.
        lua, py = both(servers, 'GET', '/session/resave', {'Cookie': 'session=' + token})
        assert_same(lua, py)
        assert lua[2] == b'resaved function function function'
        assert decode(cookie_value(lua, 'session')) == decode(cookie_value(py, 'session')) == \
            dict(METHOD_NAMES, touched=True)
        for key in list(METHOD_NAMES) + ['missing']:
            lua, py = both(servers, 'GET', '/session/get?key=' + key, {'Cookie': 'session=' + token})
            assert lua[0] == py[0] == 200
            assert json.loads(lua[2]) == json.loads(py[2]) == {'value': METHOD_NAMES.get(key)}, key


def bad_tokens():
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'The HMAC key is')
        return make_bad_tokens()


def make_bad_tokens():
    good = jwt.encode({'a': 1}, SECRET, algorithm='HS256')
    head, payload, signature = good.split('.')
    return {
        'tampered payload': head + '.' + jwt.encode({'a': 2}, SECRET).split('.')[1] + '.' + signature,
        'tampered signature': head + '.' + payload + '.' + signature[::-1],
        'expired': jwt.encode({'a': 1, 'exp': int(time.time()) - 5}, SECRET, algorithm='HS256'),
        'not yet valid': jwt.encode({'a': 1, 'nbf': int(time.time()) + 60}, SECRET, algorithm='HS256'),
        'alg none': jwt.encode({'a': 1}, None, algorithm='none'),
        'HS512': jwt.encode({'a': 1}, SECRET, algorithm='HS512'),
        'other secret': jwt.encode({'a': 1}, 'another-secret', algorithm='HS256'),
        'audience': jwt.encode({'a': 1, 'aud': 'x'}, SECRET, algorithm='HS256'),
        'garbage': 'not-a-token',
        'empty': '',
    }


@pytest.mark.parametrize('name', list(bad_tokens()))
def test_bad_tokens_give_an_empty_session(servers, name):
    token = bad_tokens()[name]
    lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
    assert_same(lua, py, json_body=True)
    assert json.loads(lua[2]) == {}


def sign(header_segment, payload_segment, key=SECRET):
    signing_input = (header_segment + '.' + payload_segment).encode()
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return signing_input.decode() + '.' + base64.urlsafe_b64encode(signature).decode().rstrip('=')


def test_tokens_in_unusual_base64_read_as_pyjwt_reads_them(servers):
    """Signed tokens whose segments PyJWT's lenient base64 reading accepts or
    refuses: padding, characters outside the alphabet, `+` and `/`."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip('=')
    payload = base64.urlsafe_b64encode(b'{"k":"~~~>>>???","n":[1,2,3]}').decode().rstrip('=')
    rng = random.Random(13)
    variants = {payload, payload + '=', payload + '==', payload + '===', payload[:-1],
                payload.replace('-', '+').replace('_', '/'), '*' + payload, payload[:5] + '.' + payload[5:],
                payload[:8] + '=' + payload[8:], header + '.' + payload}
    for _ in range(40):
        chars = list(payload)
        for _ in range(rng.randint(1, 3)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice('=*!+/-_~.A'))
        variants.add(''.join(chars))
    for variant in sorted(variants):
        token = sign(header, variant)
        lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
        assert lua[0] == py[0] == 200, variant
        assert json.loads(lua[2]) == json.loads(py[2]), variant


def test_a_session_with_exp_expires_in_both(servers):
    token = jwt.encode({'a': 1, 'exp': int(time.time()) + 60}, SECRET, algorithm='HS256')
    lua, py = both(servers, 'GET', '/session', {'Cookie': 'session=' + token})
    assert json.loads(lua[2])['a'] == json.loads(py[2])['a'] == 1


def test_save_and_delete_set_cookie_texts(servers):
    lua, py = both(servers, 'POST', '/session', {'Content-Type': 'application/json'}, b'{"a": 1}')
    assert_same(lua, py)
    assert without_tokens(set_cookies(lua)) == without_tokens(set_cookies(py)) == [
        'session=TOKEN; Path=/; HttpOnly']
    assert decode(cookie_value(lua, 'session')) == decode(cookie_value(py, 'session')) == {'a': 1}
    lua, py = both(servers, 'GET', '/session/delete')
    assert_same(lua, py)
    assert set_cookies(lua) == set_cookies(py) == [
        'session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly']


def test_cookie_options_path_and_http_only(servers):
    lua, py = both(servers, 'GET', '/child/save')
    assert_same(lua, py)
    assert without_tokens(set_cookies(lua)) == without_tokens(set_cookies(py)) == [
        'session=TOKEN; Path=/child']
    assert decode(cookie_value(lua, 'session')) == decode(cookie_value(py, 'session')) == {'child': True}
    lua, py = both(servers, 'GET', '/child/delete')
    assert_same(lua, py)
    assert set_cookies(lua) == set_cookies(py) == [
        'session=; Path=/child; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0']


def test_two_saves_two_cookies_and_none_on_error(servers):
    lua, py = both(servers, 'GET', '/session/twice')
    assert_same(lua, py)
    assert [decode(re.match('session=([^;]+)', c).group(1)) for c in set_cookies(lua)] == \
        [decode(re.match('session=([^;]+)', c).group(1)) for c in set_cookies(py)] == [{'n': 1}, {'n': 2}]
    lua, py = both(servers, 'GET', '/session/fail')
    assert lua[0] == py[0] == 500
    assert set_cookies(lua) == set_cookies(py) == []


def test_vary_cookie_only_where_the_session_is_read(servers):
    lua, py = both(servers, 'GET', '/session/id/5')
    assert_same(lua, py)
    assert lua[2] == b'id 5'
    assert py[1]['x-vary-marks'] == ['Cookie'] and vary_set(py) == {'Cookie'}
    lua, py = both(servers, 'GET', '/plain')
    assert_same(lua, py)
    assert 'x-vary-marks' not in lua[1] and 'vary' not in py[1]


def test_no_secret_is_a_500(servers):
    lua, py = both(servers, 'GET', '/nosecret')
    assert lua[0] == py[0] == 500


# Auth

def basic(text):
    return {'Authorization': 'Basic ' + base64.b64encode(text.encode()).decode()}


AUTH_CASES = [
    ('/basic', {}),
    ('/basic', basic('susan:hello')),
    ('/basic', basic('susan:wrong')),
    ('/basic', basic('nobody:hello')),
    ('/basic', basic('é:pä:ss')),
    ('/basic', basic('susanhello')),
    ('/basic', {'Authorization': 'Basic c3VzYW46aGVsbG8'}),  # bad padding
    ('/basic', {'Authorization': 'Basic c3Vz YW46 aGVs bG8='}),  # spaces skipped
    ('/basic', {'Authorization': 'Basic !c3VzYW46aGVsbG8=!'}),  # junk skipped
    ('/basic', {'Authorization': 'Basic /w=='}),  # not UTF-8
    ('/basic', {'Authorization': 'Basic c3VzYW46aGVsbG8=c3VzYW46aGVsbG8='}),
    ('/basic', {'Authorization': 'basic c3VzYW46aGVsbG8='}),
    ('/basic', {'Authorization': 'Bearer good-token'}),
    ('/basic', {'Authorization': ''}),
    ('/basic/custom', {}),
    ('/basic/custom', basic('david:bye')),
    ('/basic/callback', {}),
    ('/basic/callback', basic('david:nope')),
    ('/basic/callback', basic('david:bye')),
    ('/basic/optional', {}),
    ('/basic/optional', basic('susan:hello')),
    ('/basic/optional', basic('susan:wrong')),
    ('/token', {}),
    ('/token', {'Authorization': 'Bearer good-token'}),
    ('/token', {'Authorization': 'bearer   good-token  '}),
    ('/token', {'Authorization': 'BEARER other-token'}),
    ('/token', {'Authorization': 'Bearer bad-token'}),
    ('/token', {'Authorization': 'Bearer'}),
    ('/token', {'Authorization': 'Bearergood-token'}),
    ('/token', {'Authorization': 'Basic good-token'}),
    ('/token', {'X-API-Key': 'good-token'}),
    ('/token/header', {}),
    ('/token/header', {'X-API-Key': 'good-token'}),
    ('/token/header', {'x-api-key': 'other-token'}),
    ('/token/header', {'X-API-Key': 'Bearer good-token'}),
    ('/token/header', {'Authorization': 'Bearer good-token'}),
    ('/token/custom', {}),
    ('/token/custom', {'Authorization': 'Token good-token'}),
    ('/token/custom', {'Authorization': 'Bearer good-token'}),
    ('/token/optional', {}),
    ('/token/optional', {'Authorization': 'Bearer good-token'}),
    ('/token/optional', {'Authorization': 'Bearer bad-token'}),
]


@pytest.mark.parametrize('path,headers', AUTH_CASES)
def test_auth_answers_as_microdot(servers, path, headers):
    lua, py = both(servers, 'GET', path, headers)
    assert_same(lua, py)
    assert lua[1].get('content-type') == py[1].get('content-type')


def test_basic_credentials_decode_as_microdot(servers):
    """Random, often malformed, Basic credentials: Microdot's decoding
    (binascii.a2b_base64, UTF-8, the first colon) gives the same answer."""
    rng = random.Random(7)
    texts = ['user:pass', 'a:', ':b', 'é:ü:x', 'no colon', '']
    for _ in range(150):
        text = base64.b64encode(rng.choice(texts).encode()).decode()
        if rng.random() < 0.3:
            text = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randint(0, 9)))).decode()
        chars = list(text)
        for _ in range(rng.randint(0, 3)):
            op = rng.random()
            if op < 0.5:
                chars.insert(rng.randrange(len(chars) + 1), rng.choice('= !*-_.\t'))
            elif chars:
                del chars[rng.randrange(len(chars))]
        value = 'Basic ' + ''.join(chars)
        lua, py = both(servers, 'GET', '/basic/echo', {'Authorization': value})
        assert (lua[0], lua[2]) == (py[0], py[2]), value


def test_basic_error_is_an_ordinary_answer(servers):
    lua, py = both(servers, 'GET', '/basic')
    assert lua[0] == 401 and lua[2] == b''
    assert lua[1]['www-authenticate'] == ['Basic realm="Please login", charset="UTF-8"']
    assert lua[1]['x-after'] == ['1']  # after-request hooks ran, no error handler
    lua, py = both(servers, 'GET', '/basic/custom')
    assert lua[0] == 403
    assert lua[1]['www-authenticate'] == ['Custom realm="Admin area", charset="latin1"']


def test_token_error_goes_through_the_401_handler(servers):
    lua, py = both(servers, 'GET', '/token')
    assert lua[0] == 401 and lua[2] == b'401 error'


def test_truthiness_is_luas(servers):
    lua, py = both(servers, 'GET', '/token/zero', {'Authorization': 'Bearer any'})
    assert py[0] == 401 and py[2] == b'401 error'  # 0 is no user in Python
    assert lua[0] == 200 and lua[2] == b'user 0'  # deliberate difference: 0 is a value in Lua
    lua, py = both(servers, 'GET', '/basic/empty', basic('susan:hello'))
    assert py[0] == 401 and py[1]['www-authenticate'] == ['Basic realm="Please login", charset="UTF-8"']
    assert lua[0] == 200 and lua[2] == b'user []'  # "" is a value in Lua


def test_login_truthiness_is_luas(servers):
    """A user loader returning 0: no user for Microdot (a redirect to the
    login page), a user here."""
    lua_port, py_port = servers
    for port in (lua_port, py_port):
        jar = login_flow_cookies(fetch(port, 'POST', '/login?user=1'), {})
        answer = fetch(port, 'GET', '/zero', cookie_header(jar))
        if port == py_port:
            assert answer[0] == 302 and answer[1]['location'] == ['/login?next=/zero']
        else:
            assert answer[0] == 200 and answer[2] == b'user 0'


# Login

def login_flow_cookies(response, jar):
    for header in set_cookies(response):
        name, value = re.match(r'([^=]+)=([^;]*)', header).groups()
        if 'Max-Age=0' in header:
            jar.pop(name, None)
        else:
            jar[name] = value
    return jar


def cookie_header(jar):
    return {'Cookie': '; '.join(f'{k}={v}' for k, v in jar.items())} if jar else {}


def test_login_flow(servers):
    lua, py = both(servers, 'GET', '/?foo=bar')
    assert_same(lua, py)
    assert lua[0] == 302 and lua[2] == b''
    assert lua[1]['location'] == ['/login?next=/%3Ffoo%3Dbar']

    lua, py = both(servers, 'POST', '/login?next=/%3Ffoo%3Dbar')
    assert_same(lua, py)
    assert lua[1]['location'] == ['/?foo=bar']
    assert without_tokens(set_cookies(lua)) == without_tokens(set_cookies(py)) == [
        'session=TOKEN; Path=/; HttpOnly']
    assert decode(cookie_value(lua, 'session')) == decode(cookie_value(py, 'session')) == {
        '_user_id': 123, '_fresh': True}

    # Each side's session cookie works on both servers.
    for source in (lua, py):
        jar = login_flow_cookies(source, {})
        lua_index, py_index = both(servers, 'GET', '/', cookie_header(jar))
        assert_same(lua_index, py_index)
        assert lua_index[:1] == (200,) and lua_index[2] == b'user123'

        lua_out, py_out = both(servers, 'POST', '/logout', cookie_header(jar))
        assert_same(lua_out, py_out)
        assert lua_out[2] == b'ok'
        assert decode(cookie_value(lua_out, 'session')) == decode(cookie_value(py_out, 'session')) == {}
        jar = login_flow_cookies(lua_out, jar)
        lua_index, py_index = both(servers, 'GET', '/', cookie_header(jar))
        assert_same(lua_index, py_index)
        assert lua_index[0] == 302


def test_login_redirects(servers):
    for query, location in [('', '/'), ('?next=http://example.com', '/'), ('?next=/a%2520b', '/a%20b'),
                            ('?to=/welcome', '/welcome'), ('?to=/welcome&next=/x', '/x'),
                            ('?next=relative', '/'), ('?next=/caf%25C3%25A9', '/caf%C3%A9')]:
        lua, py = both(servers, 'POST', '/login' + query)
        assert_same(lua, py)
        assert lua[1]['location'] == [location]


def test_login_open_redirect_fix_differs(servers):
    for next_url in ('//evil.example', '/\\evil.example'):
        lua, py = both(servers, 'POST', '/login?next=' + quote(next_url, safe=''))
        assert py[1]['location'] == [next_url]  # Microdot sends the browser off-site
        assert lua[1]['location'] == ['/']  # deliberate difference


def test_login_location_is_a_uri_reference_differs(servers):
    """`next` arrives decoded; Microdot writes it back raw (a space, a quote,
    UTF-8 bytes in Location), microdot-lua percent-encodes what a
    URI-reference cannot hold (RFC 9110 section 10.2.2), keeping escapes."""
    for query, raw, encoded in [
        ('?next=/ok%20path', '/ok path', '/ok%20path'),
        ('?next=/q%22%3C%3E%7B%7D%5E%60', '/q"<>{}^`', '/q%22%3C%3E%7B%7D%5E%60'),
        ('?next=/t%09ab', None, '/'),  # a control character: refused in both (Microdot: off to /)
    ]:
        lua, py = both(servers, 'POST', '/login' + query)
        assert lua[0] == 302, query
        assert lua[1]['location'] == [encoded], query
        if raw is not None:
            assert py[1]['location'] == [raw], query  # deliberate difference


def test_login_plus_in_the_url_differs(servers):
    lua, py = both(servers, 'GET', '/?a+b=c')
    assert py[1]['location'] == ['/login?next=/%3Fa%252Bb%3Dc']
    assert lua[1]['location'] == ['/login?next=/%3Fa%2Bb%3Dc']  # deliberate difference


def test_login_unknown_user(servers):
    lua, py = both(servers, 'POST', '/login?user=999')
    jar_lua, jar_py = login_flow_cookies(lua, {}), login_flow_cookies(py, {})
    lua, py = both(servers, 'GET', '/fresh', cookie_header(jar_lua))
    assert_same(lua, py)
    assert lua[1]['location'] == ['/login?next=/fresh']
    lua, py = both(servers, 'GET', '/', cookie_header(jar_py))
    assert_same(lua, py)
    assert lua[0] == 302


def test_remember_me_fresh_and_logout(servers):
    lua_port, py_port = servers
    lua, py = both(servers, 'POST', '/login?user=1&remember=yes&next=/%3Ffoo=bar')
    assert_same(lua, py)
    assert lua[1]['location'] == ['/?foo=bar']
    assert len(set_cookies(lua)) == len(set_cookies(py)) == 2
    # Deliberate difference: _remember gets the session's cookie options.
    assert without_tokens(set_cookies(py))[1] == '_remember=TOKEN; Max-Age=2592000'
    assert without_tokens(set_cookies(lua))[1] == '_remember=TOKEN; Path=/; Max-Age=2592000; HttpOnly'
    for response in (lua, py):
        remember = decode(cookie_value(response, '_remember'))
        assert remember['user_id'] == 1 and remember['days'] == 30
        assert abs(remember['exp'] - (time.time() + 30 * 86400)) < 60

    for response, port in ((lua, lua_port), (py, py_port)):
        jar = login_flow_cookies(response, {})
        fresh = fetch(port, 'GET', '/fresh', cookie_header(jar))
        assert fresh[0] == 200 and fresh[2] == b'fresh susan'
        # The session cookie is dropped: the login comes back from _remember,
        # not fresh.
        del jar['session']
        index = fetch(port, 'GET', '/', cookie_header(jar))
        assert index[0] == 200 and index[2] == b'susan'
        assert decode(cookie_value(index, 'session')) == {'_user_id': 1, '_fresh': False}
        assert decode(cookie_value(index, '_remember'))['user_id'] == 1
        jar = login_flow_cookies(index, jar)
        fresh = fetch(port, 'GET', '/fresh', cookie_header(jar))
        assert fresh[0] == 302 and fresh[1]['location'] == ['/login?next=/fresh']
        jar = login_flow_cookies(fresh, jar)
        out = fetch(port, 'POST', '/logout', cookie_header(jar))
        assert out[2] == b'ok'
        reset = [c for c in set_cookies(out) if c.startswith('_remember=')]
        assert len(reset) == 1 and 'Max-Age=0' in reset[0]
        reset_payload = jwt.decode(cookie_value(out, '_remember'), SECRET, algorithms=['HS256'],
                                   options={'verify_exp': False})
        assert reset_payload['user_id'] is None and reset_payload['days'] == 0
        jar = login_flow_cookies(out, jar)
        assert '_remember' not in jar
        assert fetch(port, 'GET', '/', cookie_header(jar))[0] == 302


def test_remember_days_renewal_differs(servers):
    lua_port, py_port = servers
    lua, py = both(servers, 'POST', '/login?user=1&remember=3')
    assert 'Max-Age=259200' in set_cookies(lua)[1] and 'Max-Age=259200' in set_cookies(py)[1]
    renewed = {}
    for response, port in ((lua, lua_port), (py, py_port)):
        jar = {'_remember': cookie_value(response, '_remember')}
        index = fetch(port, 'GET', '/', cookie_header(jar))
        assert index[2] == b'susan'
        renewed[port] = [c for c in set_cookies(index) if c.startswith('_remember=')][0]
    assert 'Max-Age=2592000' in renewed[py_port]  # Microdot reads an unwritten _days: 30
    assert 'Max-Age=259200;' in renewed[lua_port]  # deliberate difference: the stored days


def test_remember_cookie_crosses(servers):
    lua_port, py_port = servers
    py = fetch(py_port, 'POST', '/login?user=1&remember=yes')
    index = fetch(lua_port, 'GET', '/', {'Cookie': '_remember=' + cookie_value(py, '_remember')})
    assert index[0] == 200 and index[2] == b'susan'
    lua = fetch(lua_port, 'POST', '/login?user=1&remember=yes')
    index = fetch(py_port, 'GET', '/', {'Cookie': '_remember=' + cookie_value(lua, '_remember')})
    assert index[0] == 200 and index[2] == b'susan'
