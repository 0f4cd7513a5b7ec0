"""The oracle for requests, hooks, error handlers and mount: the same routes
as requests_app.lua, served by Python Microdot."""
import sys

from microdot import Microdot, Request, Response, abort
from microdot.multipart import with_form_data

Request.max_content_length = 1024
Request.max_body_length = 1024

app = Microdot()


class ValidationError(Exception):
    pass


class FieldError(ValidationError):
    pass


@app.before_request
async def before(req):
    req.g.trail = ['app-before']
    if req.headers.get('X-Deny'):
        return 'denied', 403


@app.after_request
async def after(req, res):
    req.g.trail.append('app-after')
    res.headers['X-Trail'] = ','.join(req.g.trail)
    return res


@app.after_error_request
async def after_error(req, res):
    res.headers['X-After-Error'] = str(res.status_code)
    return res


@app.errorhandler(404)
async def not_found(req):
    return {'error': 'not here', 'path': req.path}, 404


@app.errorhandler(ValidationError)
async def validation_error(req, exc):
    return {'invalid': str(exc)}, 422


@app.get('/args')
async def args(req):
    return {
        'q': req.args.get('q'), 'all': req.args.getlist('q'), 'n': req.args.get('n', type=int),
        'missing': req.args.get('missing', 'default'),
        'decoded': req.args.get('a b'), 'empty': req.args.get('empty'),
    }


@app.post('/form')
async def form(req):
    if req.form is None:
        return {'form': None}
    return {'name': req.form.get('name'), 'tags': req.form.getlist('tag')}


@app.post('/upload')
@with_form_data
async def upload(req):
    file = req.files['file']
    content = await file.read()
    return {'title': req.form['title'], 'filename': file.filename,
            'content_type': file.content_type, 'size': len(content), 'text': content.decode()}


@app.post('/json')
async def json_body(req):
    return {'got': req.json}


@app.get('/cookies')
async def cookies(req):
    return req.cookies


@app.get('/trail')
async def trail(req):
    req.g.trail.append('route')
    return 'trail'


@app.get('/replace')
async def replace(req):
    @req.after_request
    async def replace_response(req, res):
        return Response('replaced', 202)
    return 'original'


@app.get('/raise/field')
async def raise_field(req):
    raise FieldError('email')


@app.get('/raise/validation')
async def raise_validation(req):
    raise ValidationError('name')


@app.get('/raise/other')
async def raise_other(req):
    raise RuntimeError('unclassed')


@app.get('/abort/<int:code>')
async def abort_code(req, code):
    abort(code)


@app.get('/abort-reason')
async def abort_reason(req):
    abort(406, 'Not acceptable here')


@app.post('/limited')
async def limited(req):
    return 'read'


api = Microdot()


@api.before_request
async def api_before(req):
    req.g.trail.append('api-before')


@api.after_request
async def api_after(req, res):
    req.g.trail.append('api-after')
    return res


@api.errorhandler(404)
async def api_not_found(req):
    return 'api: no such item', 404


@api.errorhandler(409)
async def api_conflict(req):
    return 'api conflict', 409


@api.get('/items/<int:id>')
async def item(req, id):
    req.g.trail.append('route')
    if id == 0:
        abort(404)
    if id == 1:
        abort(409)
    return {'id': id, 'url_prefix': req.url_prefix, 'path': req.path}


app.mount(api, '/api', local=True)

admin = Microdot()


@admin.before_request
async def admin_before(req):
    req.g.trail.append('admin-before')


@admin.errorhandler(401)
async def admin_only(req):
    return 'admin only', 401


@admin.get('/panel')
async def panel(req):
    if req.headers.get('X-Admin') != 'yes':
        abort(401)
    req.g.trail.append('route')
    return {'url_prefix': req.url_prefix}


app.mount(admin, '/admin')


@app.get('/needs-login')
async def needs_login(req):
    abort(401)


@app.get('/conflict')
async def conflict(req):
    abort(409)


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
