"""The oracle for streamed request bodies: Microdot's test_request stream
case (max_body_length = 16, max_content_length = 32), served by Python
Microdot; stream_app.lua has the same routes."""
import sys

from microdot import Microdot, Request

Request.max_content_length = 32
Request.max_body_length = 16

app = Microdot()


@app.post('/stream')
async def stream(req):
    # Python's stream reads the socket until it closes: read what was
    # declared, no more.
    data = b''
    while len(data) < req.content_length:
        chunk = await req.stream.read(req.content_length - len(data))
        if not chunk:
            break
        data += chunk
    return {'body': req.body.decode(), 'stream': data.decode(), 'length': req.content_length}


@app.post('/lines')
async def lines(req):
    first = await req.stream.readexactly(4)
    one = await req.stream.readline()
    two = await req.stream.readline()
    return {'first': first.decode(), 'lines': [one.decode(), two.decode()], 'body': req.body.decode()}


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
