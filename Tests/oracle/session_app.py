"""The oracle for sessions, auth and login: the same routes as
session_app.lua, served by Python Microdot 2.7 (microdot.session needs
PyJWT)."""
import json
import sys

from microdot import Microdot
from microdot.auth import BasicAuth, TokenAuth
from microdot.login import Login
from microdot.session import Session, with_session

SECRET = 'top-secret'

app = Microdot()
Session(app, secret_key=SECRET)


@app.after_request
async def marks(req, res):
    # What the extensions marked for Vary, so both sides can be compared
    # before microdot-lua merges the marks into Vary itself.
    if hasattr(req.g, '_vary'):
        res.headers['X-Vary-Marks'] = ','.join(sorted(req.g._vary))
    res.headers['X-After'] = '1'
    return res


@app.errorhandler(401)
async def unauthorized(req):
    return '401 error', 401


# Sessions

@app.get('/session')
@with_session
async def session_get(req, session):
    return dict(session)


@app.post('/session')
@with_session
async def session_set(req, session):
    session.update(req.json)
    session.save()
    return 'saved'


@app.get('/session/delete')
@with_session
async def session_delete(req, session):
    session.delete()
    return 'deleted'


@app.get('/session/twice')
@with_session
async def session_twice(req, session):
    session['n'] = 1
    session.save()
    session['n'] = 2
    session.save()
    return 'twice'


@app.get('/session/fail')
@with_session
async def session_fail(req, session):
    session['n'] = 1
    session.save()
    raise RuntimeError('after save')


@app.get('/session/resave')
@with_session
async def session_resave(req, session):
    session['touched'] = True
    session.save()
    # What the Lua twin says: its methods are still methods.
    return 'resaved function function function'


@app.get('/session/get')
@with_session
async def session_get_key(req, session):
    return json.dumps({'value': session.get(req.args['key'])})


@app.get('/session/id/<int:id>')
@with_session
async def session_args(req, session, id):
    return f'id {id}'


@app.get('/plain')
async def plain(req):
    return 'plain'


child = Session(secret_key=SECRET,
                cookie_options={'path': '/child', 'http_only': False})


@app.get('/child/save')
async def child_save(req):
    child.update(req, {'child': True})
    return 'saved'


@app.get('/child/delete')
async def child_delete(req):
    child.delete(req)
    return 'deleted'


no_secret = Session()


@app.get('/nosecret')
async def nosecret(req):
    no_secret.get(req)
    return 'unreachable'


# Auth

USERS = {'susan': 'hello', 'david': 'bye', 'é': 'pä:ss'}
TOKENS = {'good-token': 'susan', 'other-token': 'david'}

async def check_basic(req, username, password):
    if USERS.get(username) == password:
        return {'name': username}

# authenticate() returns None, as a decorator too: called, not applied.
basic = BasicAuth()
basic.authenticate(check_basic)

custom_basic = BasicAuth(realm='Admin area', charset='latin1', scheme='Custom',
                         error_status=403)
custom_basic.authenticate(check_basic)

callback_basic = BasicAuth()
callback_basic.authenticate(check_basic)


async def basic_refused(req):
    return 'refused', 418, {'X-Refused': 'yes'}

callback_basic.error_callback = basic_refused


@app.get('/basic')
@basic
async def basic_route(req):
    return 'hi ' + req.g.current_user['name']


@app.get('/basic/custom')
@custom_basic
async def basic_custom(req):
    return 'custom ' + req.g.current_user['name']


@app.get('/basic/callback')
@callback_basic
async def basic_callback(req):
    return 'callback ' + req.g.current_user['name']


echo_basic = BasicAuth()


@echo_basic.authenticate
async def echo_credentials(req, username, password):
    return {'name': username + '|' + password}


@app.get('/basic/echo')
@echo_basic
async def basic_echo(req):
    return 'hi ' + req.g.current_user['name']


@app.get('/basic/optional')
@basic.optional
async def basic_optional(req):
    user = req.g.current_user
    return 'hi ' + user['name'] if user else 'anonymous'


async def check_token(req, value):
    return TOKENS.get(value)

token = TokenAuth()
token.authenticate(check_token)
header_token = TokenAuth(header='X-API-Key')
header_token.authenticate(check_token)

custom_token = TokenAuth(scheme='Token', error_status=403)
custom_token.authenticate(check_token)


@custom_token.errorhandler
async def token_refused(req):
    return 'no token', 401, {'X-Reason': 'custom'}


@app.get('/token')
@token
async def token_route(req):
    return 'token ' + req.g.current_user


@app.get('/token/header')
@header_token
async def token_header(req):
    return 'header ' + req.g.current_user


@app.get('/token/custom')
@custom_token
async def token_custom(req):
    return 'custom ' + req.g.current_user


zero_token = TokenAuth()


@zero_token.authenticate
async def zero_user(req, value):
    return 0  # a user of 0: falsy in Python, true in Lua


@app.get('/token/zero')
@zero_token
async def token_zero(req):
    return 'user ' + str(req.g.current_user)


empty_basic = BasicAuth()


@empty_basic.authenticate
async def empty_user(req, username, password):
    return ''  # a user of '': falsy in Python, true in Lua


@app.get('/basic/empty')
@empty_basic
async def basic_empty(req):
    return 'user [' + req.g.current_user + ']'


@app.get('/token/optional')
@token.optional
async def token_optional(req):
    return 'token ' + (req.g.current_user or 'none')


# Login

class User:
    def __init__(self, id, name):
        self.id = id
        self.name = name


LOGIN_USERS = {1: 'susan', 123: 'user123'}
login = Login()


@login.user_loader
async def load_user(user_id):
    name = LOGIN_USERS.get(user_id)
    return User(user_id, name) if name else None


@app.get('/')
@login
async def index(req):
    return req.g.current_user.name


@app.get('/fresh')
@login.fresh
async def fresh(req):
    return 'fresh ' + req.g.current_user.name


zero_login = Login()


@zero_login.user_loader
async def load_zero(user_id):
    return 0  # a user of 0: falsy in Python, true in Lua


@app.get('/zero')
@zero_login
async def zero(req):
    return 'user ' + str(req.g.current_user)


@app.post('/login')
async def login_route(req):
    remember = req.args.get('remember')
    if remember == 'yes':
        remember = True
    elif remember:
        remember = int(remember)
    else:
        remember = False
    user_id = int(req.args.get('user', '123'))
    return await login.login_user(req, User(user_id, 'x'), remember=remember,
                                  redirect_url=req.args.get('to', '/'))


@app.post('/logout')
async def logout_route(req):
    await login.logout_user(req)
    return 'ok'


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
