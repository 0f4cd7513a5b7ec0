"""The oracle: the same routes as oracle_app.lua, served by Python Microdot.

oracle_app.lua mounts the seed examples (examples/responses/*.lua); a
mounted "/" route answers at "<prefix>/", hence the trailing slashes here.
"""
import sys

from microdot import Microdot, Response, abort, redirect, send_file

app = Microdot()


@app.get('/')
async def index(request):
    return 'Hello, World!'


@app.get('/status/')
async def status(request):
    return 'Hello, World!', 202


@app.get('/headers/')
async def headers(request):
    return '<h1>Hello, World!</h1>', 202, {'Content-Type': 'text/html'}


@app.get('/s204/')
async def s204(request):
    return 204


@app.get('/status-headers-only')
async def status_headers_only(request):
    return 201, {'X-Extra': '1'}


@app.get('/body-headers/')
async def body_headers(request):
    return '<h1>Hello, World!</h1>', {'Content-Type': 'text/html'}


@app.get('/none')
async def none(request):
    return None


@app.get('/response')
async def response(request):
    return Response('made', 203, {'X-Made': 'yes'})


@app.get('/json')
async def json_route(request):
    return {'hello': 'world', 'n': 1, 'f': 2.5, 'list': [1, 2, 3], 'nested': {'a': None, 't': True}}


@app.get('/list')
async def list_route(request):
    return [1, 'two', 3.5]


@app.get('/redirect/')
async def redirect_route(request):
    return redirect('/about')


@app.get('/redirect301')
async def redirect301(request):
    return redirect('/moved', 301)


@app.get('/file/')
async def file(request):
    return send_file('static/index.html')


@app.get('/file-maxage/')
async def file_maxage(request):
    return send_file('static/image.jpg', max_age=3600)


@app.get('/file-gz')
async def file_gz(request):
    return send_file('static/data.json.gz', compressed=True)


@app.get('/file-ext')
async def file_ext(request):
    return send_file('static/data.json', file_extension='.gz', compressed='gzip')


@app.get('/file-typed')
async def file_typed(request):
    return send_file('static/index.html', content_type='text/x-custom', status_code=203)


@app.route('/static/<path:path>')
async def static(request, path):
    if '..' in path:
        return 'Not found', 404
    return send_file('static/' + path, max_age=86400)


@app.get('/fibonacci')
async def fib(request):
    async def generate():
        a, b = 0, 1
        while a < 100:
            yield str(a) + '\n'
            a, b = b, a + b
    return generate()


@app.get('/cookie-after/')
async def cookie_after(request):
    @request.after_request
    async def set_cookie(request, response):
        response.set_cookie('name', 'value')
        return response
    return 'Hello, World!'


@app.get('/cookie-response/')
async def cookie_response(request):
    response = Response('Hello, World!')
    response.set_cookie('name', 'value')
    return response


@app.get('/cookie-full')
async def cookie_full(request):
    response = Response('cookies')
    response.set_cookie('a', '1', path='/', domain='example.com',
                        expires='Thu, 01 Jan 2099 00:00:00 GMT', max_age=60,
                        secure=True, http_only=True, partitioned=True)
    response.set_cookie('b', '2', path='/b')
    response.delete_cookie('c', path='/x')
    return response


@app.get('/users/<int:id>')
async def user(request, id):
    return {'id': id}


@app.get('/names/<name>')
async def names(request, name):
    return 'name ' + name


@app.get('/re/<re:[a-z]+:word>')
async def regex(request, word):
    return 'word ' + word


@app.get('/error')
async def error(request):
    raise RuntimeError('boom')


@app.get('/abort')
async def abort_route(request):
    abort(403)


@app.get('/abort-reason')
async def abort_reason(request):
    abort(401, 'Go away')


@app.route('/items', methods=['GET', 'POST'])
async def items(request):
    return request.method + ' items'


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
