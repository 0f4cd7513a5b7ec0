"""The benchmark routes, for Python Microdot (the same as app.lua)."""
import os
import sys

from microdot import Microdot, Request, send_file

Request.max_content_length = 1024 * 1024
Request.max_body_length = 1024 * 1024
app = Microdot()
CHUNK = 'x' * 1024
FILE = os.environ.get('BENCH_FILE', 'data.bin')


@app.get('/')
async def hello(request):
    return 'Hello, World!'


@app.get('/json')
async def json_route(request):
    return {'message': 'Hello, World!', 'id': 42, 'tags': ['a', 'b']}


@app.get('/params/<int:id>')
async def params(request, id):
    return {'id': id}


@app.get('/stream')
async def stream(request):
    async def generate():
        for _ in range(10):
            yield CHUNK
    return generate()


@app.get('/file')
async def file(request):
    return send_file(FILE, content_type='application/octet-stream')


@app.post('/echo')
async def echo(request):
    return request.json


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
