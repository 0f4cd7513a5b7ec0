"""The oracle for WebSocket handshakes: Python Microdot 2.7's
microdot.websocket with ws_app.lua's /echo."""
import sys

from microdot import Microdot
from microdot.websocket import with_websocket

app = Microdot()


@app.route('/echo')
@with_websocket
async def echo(request, ws):
    while True:
        data = await ws.receive()
        await ws.send(data)


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
