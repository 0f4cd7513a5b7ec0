"""microdot.websocket (ws_app.lua) with real clients: Python's `websockets`
and raw RFC 6455 frames for what a library will not send (bad UTF-8,
unmasked frames, a ping between fragments, a cut frame). The 101 and 400
answers are compared byte for byte with Python Microdot 2.7 (ws_app.py)."""
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from oracle import BINARY, HERE, fetch, free_port, serve_both, wait_for

KEY = 'dGhlIHNhbXBsZSBub25jZQ=='  # RFC 6455 section 1.3's example


@contextlib.contextmanager
def serve(*flags):
    port = free_port()
    process = subprocess.Popen([BINARY, os.path.join(HERE, 'ws_app.lua'), '--port', str(port), *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope='module')
def server():
    with serve() as (port, process):
        yield port


@pytest.fixture(scope='module')
def both():
    with serve_both('ws_app.lua', 'ws_app.py') as ports:
        yield ports


def stats(port):
    return json.loads(fetch(port, 'GET', '/stats')[2])


def upgrade_request(path, key=KEY, extra=''):
    return (f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n').encode()


def raw_socket(port, path='/echo', after=b''):
    """A socket past the handshake (read byte by byte: frames may follow)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=10)
    sock.sendall(upgrade_request(path) + after)
    head = b''
    while not head.endswith(b'\r\n\r\n'):
        byte = sock.recv(1)
        assert byte, head
        head += byte
    assert head.startswith(b'HTTP/1.1 101 '), head
    return sock


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    """One client frame (RFC 6455 section 5.2)."""
    first = bytes([(0x80 if fin else 0) | rsv | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        length = bytes([bit | n])
    elif n < 65536:
        length = bytes([bit | 126]) + n.to_bytes(2, 'big')
    else:
        length = bytes([bit | 127]) + n.to_bytes(8, 'big')
    if not mask:
        return first + length + payload
    key = os.urandom(4)
    return first + length + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_exactly(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def read_frame(sock):
    """(opcode, payload) of the server's next frame, which is never masked."""
    b0, b1 = read_exactly(sock, 2)
    assert not b1 & 0x80, 'a server frame must not be masked'
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(read_exactly(sock, 2), 'big')
    elif n == 127:
        n = int.from_bytes(read_exactly(sock, 8), 'big')
    return b0 & 0x0f, read_exactly(sock, n)


def close_code(payload):
    return int.from_bytes(payload[:2], 'big') if len(payload) >= 2 else None


# The handshake, against Python Microdot

def head_of(port, request):
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(request)
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b'\r\n\r\n', 1)[0] + b'\r\n\r\n'


def test_101_byte_for_byte(both):
    lua, py = (head_of(port, upgrade_request('/echo')) for port in both)
    assert lua == py == (b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                         b'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n')


@pytest.mark.parametrize('headers', [
    {'Upgrade': 'websocket', 'Sec-WebSocket-Key': KEY},                           # no Connection
    {'Connection': 'keep-alive', 'Upgrade': 'websocket', 'Sec-WebSocket-Key': KEY},
    {'Connection': 'Upgrade', 'Upgrade': 'h2c', 'Sec-WebSocket-Key': KEY},
    {'Connection': 'Upgrade', 'Upgrade': 'websocket'},                            # no key
    {},
])
def test_400_as_microdot(both, headers):
    lua, py = (fetch(port, 'GET', '/echo', headers) for port in both)
    assert lua[0] == py[0] == 400
    assert lua[2] == py[2] == b'400 error'
    assert lua[1]['content-type'] == py[1]['content-type']


def test_400_byte_for_byte_but_the_status_line_and_date(both):
    request = b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n'
    lua, py = (head_of(port, request) for port in both)
    assert lua.startswith(b'HTTP/1.1 400 Bad Request\r\n') and py.startswith(b'HTTP/1.0 400 N/A\r\n')
    fields = lambda head: sorted(line.lower() for line in head.split(b'\r\n')[1:-2]  # noqa: E731
                                 if not line.lower().startswith((b'date:', b'connection:')))
    assert fields(lua) == fields(py)


def test_426_for_another_version(server):
    status, headers, body = fetch(server, 'GET', '/echo', {
        'Connection': 'Upgrade', 'Upgrade': 'websocket', 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '8'})
    assert status == 426 and body == b'426 error'
    assert headers['sec-websocket-version'] == ['13']


def test_hooks_run_before_the_upgrade(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        connect(f'ws://127.0.0.1:{server}/private', open_timeout=5)
    assert refused.value.response.status_code == 401
    with connect(f'ws://127.0.0.1:{server}/private', additional_headers={'X-Token': 't0k'}) as ws:
        assert ws.recv(timeout=5) == 'welcome'


# Messages

@pytest.mark.parametrize('message', ['hello', 'grüße ✓', b'\x00\x01\xff', 'x' * 300, b'y' * 65537, 'z' * 200000])
def test_echo(server, message):
    with connect(f'ws://127.0.0.1:{server}/echo', max_size=None) as ws:
        ws.send(message)
        assert ws.recv(timeout=10) == message


def test_echo_against_microdot(both):
    for port in both:
        with connect(f'ws://127.0.0.1:{port}/echo') as ws:
            for message in ('text', b'\x00bytes', 'x' * 300):
                ws.send(message)
                assert ws.recv(timeout=5) == message


def test_fragmented_message(server):
    with connect(f'ws://127.0.0.1:{server}/echo') as ws:
        ws.send(['frag', 'men', 'ted'])
        assert ws.recv(timeout=5) == 'fragmented'
        ws.send([b'\x01' * 1000, b'\x02' * 1000])
        assert ws.recv(timeout=5) == b'\x01' * 1000 + b'\x02' * 1000


def test_ping_is_answered(server):
    with connect(f'ws://127.0.0.1:{server}/echo') as ws:
        assert ws.ping(b'are you there').wait(5)
        ws.send('after the ping')
        assert ws.recv(timeout=5) == 'after the ping'
    with raw_socket(server) as sock:
        sock.sendall(frame(0x9, b'raw ping') + frame(0xA, b'unasked pong') + frame(0x1, b'then text'))
        assert read_frame(sock) == (0xA, b'raw ping')
        assert read_frame(sock) == (0x1, b'then text')   # the pong reached nobody


def test_ping_between_fragments(server):
    with raw_socket(server) as sock:
        sock.sendall(frame(0x1, b'Hel', fin=False) + frame(0x9, b'p') + frame(0x0, b'lo', fin=True))
        assert read_frame(sock) == (0xA, b'p')
        assert read_frame(sock) == (0x1, b'Hello')


def test_frames_sent_with_the_request_are_read(server):
    with raw_socket(server, after=frame(0x1, b'early')) as sock:
        assert read_frame(sock) == (0x1, b'early')


def test_receive_timeout(server):
    with connect(f'ws://127.0.0.1:{server}/timeout') as ws:
        assert ws.recv(timeout=5) == 'nil timeout'
        ws.send('later')
        assert ws.recv(timeout=5) == 'later'


# Closing

def closed_with(ws):
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=5)
    return closed.value.rcvd


def test_too_long_closes_with_1009(server):
    with connect(f'ws://127.0.0.1:{server}/small') as ws:
        ws.send('x' * 1024)
        assert ws.recv(timeout=5) == 'x' * 1024
        ws.send('x' * 1025)
        assert closed_with(ws).code == 1009
    with connect(f'ws://127.0.0.1:{server}/small') as ws:
        ws.send(['x' * 600, 'x' * 600])   # each fragment fits, the message does not
        assert closed_with(ws).code == 1009


@pytest.mark.parametrize('bad, code', [
    (frame(0x1, b'\xff\xfe'), 1007),                              # bad UTF-8
    (frame(0x1, b'ok', fin=False) + frame(0x0, b'\xc3', fin=True), 1007),  # cut in a fragment
    (frame(0x1, b'unmasked', mask=False), 1002),                  # RFC 6455 5.1
    (frame(0x1, b'rsv', rsv=0x40), 1002),                         # no extension negotiated
    (frame(0x3, b'unknown opcode'), 1002),
    (frame(0x0, b'continuation first'), 1002),
    (frame(0x9, b'p', fin=False), 1002),                          # a fragmented control frame
    (frame(0x8, b'\x03\xed'), 1002),                              # close code 1005 may not be sent
    (frame(0x8, b'\x03\xe8\xff'), 1007),                          # close reason not UTF-8
])
def test_protocol_errors_close_with_their_code(server, bad, code):
    with raw_socket(server) as sock:
        sock.sendall(bad)
        opcode, payload = read_frame(sock)
        assert opcode == 0x8 and close_code(payload) == code
        assert sock.recv(10) == b''   # then the server closes


def test_client_close_is_echoed_and_ends_the_handler(server):
    with connect(f'ws://127.0.0.1:{server}/track') as other:   # stays open meanwhile
        with raw_socket(server, '/closed-by-client') as sock:
            sock.sendall(frame(0x8, (4001).to_bytes(2, 'big') + b'see you'))
            opcode, payload = read_frame(sock)
            assert (opcode, payload) == (0x8, (4001).to_bytes(2, 'big'))  # at once, code echoed
            assert sock.recv(10) == b''
        assert stats(server)['last_close'] == {'ok': False, 'code': 4001, 'reason': 'see you', 'closed': True}
        other.send('still here')
        assert other.recv(timeout=5) == 'still here'
    with raw_socket(server, '/closed-by-client') as sock:
        sock.sendall(frame(0x8, b''))
        assert read_frame(sock) == (0x8, b'')   # an empty close answered empty
    deadline = time.monotonic() + 5
    while stats(server)['last_close']['code'] != 1005 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(server)['last_close']['code'] == 1005


def test_ending_handlers_and_after_request_hooks(server):
    before = stats(server)
    with connect(f'ws://127.0.0.1:{server}/track') as ws:
        ws.send('one')
        assert ws.recv(timeout=5) == 'one'
    # An abrupt close: half a frame, then the socket goes.
    sock = raw_socket(server, '/track')
    sock.sendall(frame(0x1, b'cut short')[:4])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    sock.close()
    deadline = time.monotonic() + 5
    while stats(server)['ended'] < before['ended'] + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = stats(server)
    assert after['ended'] == before['ended'] + 2
    assert after['after'] == before['after'] + 2


def test_handler_end_sends_a_close(server):
    with connect(f'ws://127.0.0.1:{server}/private', additional_headers={'X-Token': 't0k'}) as ws:
        assert ws.recv(timeout=5) == 'welcome'
        received = closed_with(ws)
        assert received.code == 1005   # an empty close, as Microdot sends


def test_handler_error_closes_with_1011(server):
    with connect(f'ws://127.0.0.1:{server}/fail') as ws:
        ws.send('go')
        assert closed_with(ws).code == 1011


def test_close_with_a_code_and_reason(server):
    with connect(f'ws://127.0.0.1:{server}/bye') as ws:
        assert ws.recv(timeout=5) == 'bye'
        received = closed_with(ws)
        assert (received.code, received.reason) == (4000, 'done here')


def test_send_waits_for_a_slow_client(server):
    with raw_socket(server, '/flood/100/65536') as sock:
        time.sleep(0.5)   # the server is held back meanwhile, not buffering 6.5 MB
        for _ in range(100):
            assert read_frame(sock) == (0x2, b'x' * 65536)
        assert read_frame(sock) == (0x1, b'end')


def test_a_client_sending_faster_than_the_handler_takes_is_held_back(server):
    with raw_socket(server, '/deaf') as sock:
        message = frame(0x2, b'm' * 65536)
        sock.setblocking(False)
        sent, quiet_since = 0, time.monotonic()
        while sent < 64 * 1024 * 1024 and time.monotonic() - quiet_since < 0.5:
            try:
                sent += sock.send(message)
                quiet_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        # 16 messages wait for the handler; the rest is in the socket buffers.
        assert sent < 32 * 1024 * 1024, sent
        sock.setblocking(True)
        opcode, payload = read_frame(sock)
        assert (opcode, payload) == (0x1, b'awake')


def test_write_timeout_applies_after_the_upgrade():
    with serve('--write-timeout', '1') as (port, _):
        sock = raw_socket(port, '/flood/2000/65536')
        time.sleep(2.5)   # read nothing: the server gives up on us
        received, deadline = 0, time.monotonic() + 10
        with pytest.raises((EOFError, ConnectionResetError)):
            while time.monotonic() < deadline:
                read_frame(sock)
                received += 1
        assert received < 2000
        sock.close()


def test_idle_sockets_outlive_the_idle_timeout():
    async def run(port, count):
        sockets = await asyncio.gather(*(websockets.connect(f'ws://127.0.0.1:{port}/echo', open_timeout=30)
                                         for _ in range(count)))
        await asyncio.sleep(1.5)   # past --idle-timeout 0.5 and the sweep
        for i, ws in enumerate(sockets):
            await ws.send(f'm{i}')
        replies = await asyncio.gather(*(ws.recv() for ws in sockets))
        await asyncio.gather(*(ws.close() for ws in sockets))
        return replies

    with serve('--idle-timeout', '0.5') as (port, _):
        assert asyncio.run(run(port, 1000)) == [f'm{i}' for i in range(1000)]


def test_shutdown_sends_1001():
    with serve('--shutdown-timeout', '5') as (port, process):
        with connect(f'ws://127.0.0.1:{port}/echo') as ws:
            ws.send('x')
            assert ws.recv(timeout=5) == 'x'
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert closed_with(ws).code == 1001
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 4


def test_wss_over_the_servers_own_tls(tmp_path):
    """`wss://`: the same echo through --tls-cert/--tls-key."""
    import ssl
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-keyout', str(key), '-out', str(cert), '-days', '1', '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'], check=True, capture_output=True)
    context = ssl.create_default_context(cafile=str(cert))
    with serve('--tls-cert', str(cert), '--tls-key', str(key)) as (port, _):
        with connect(f'wss://127.0.0.1:{port}/echo', ssl=context, max_size=None) as ws:
            for message in ('over TLS ✓', b'\x00\x01' * 40000):
                ws.send(message)
                assert ws.recv(timeout=10) == message


def test_a_spawned_close_while_the_handler_receives_then_sigterm_exits():
    """A coroutine the handler spawned closes the WebSocket while the handler
    waits in receive; the server still shuts down within its timeout."""
    with serve('--shutdown-timeout', '1') as (port, process):
        with connect(f'ws://127.0.0.1:{port}/spawn-close') as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd.code == 4000 and closed.value.rcvd.reason == 'from spawn'
        assert fetch(port, 'GET', '/plain')[2] == b'plain'
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_spawned_senders_wait_their_turn():
    size = 2_000_000
    with serve() as (port, _):
        with connect(f'ws://127.0.0.1:{port}/senders/{size}', max_size=None) as ws:
            time.sleep(0.5)  # the server's sends find the client behind
            got = sorted(ws.recv(timeout=20) for _ in range(9))
    assert got == sorted(chr(96 + i) * size + str(j) for i in range(1, 4) for j in range(1, 4))
