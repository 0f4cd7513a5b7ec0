"""The oracle for server-sent events: Python Microdot 2.7's microdot.sse
with the routes of sse_app.lua."""
import asyncio
import sys

from microdot import Microdot
from microdot.sse import with_sse

app = Microdot()


@app.route('/sse')
@with_sse
async def stream(req, sse):
    # Microdot's own test_sse events (bytes and exceptions have no Lua twin).
    await sse.send('foo')
    await sse.send('bar', event='test')
    await sse.send({'foo': 'bar'})
    await sse.send([42, 'foo', 'bar'])
    await sse.send(12.5)
    await sse.send(7)


@app.route('/fields')
@with_sse
async def fields(req, sse):
    await sse.send('a', event='e', event_id='7', retry=2.5)
    await sse.send('b', event='', event_id='', retry=0)
    await sse.send('keepalive', comment=True)
    await sse.send('c', event_id='x1')


@app.route('/ticks/<int:n>')
@with_sse
async def ticks(req, sse, n):
    for i in range(1, n + 1):
        await asyncio.sleep(0.3)
        await sse.send(i, event='tick', event_id=str(i))


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
