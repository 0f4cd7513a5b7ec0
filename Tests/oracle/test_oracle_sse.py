"""microdot.sse against Python Microdot 2.7's microdot.sse (sse_app.lua /
sse_app.py): the same events and framing (JSON spacing aside), events that
arrive one by one between sleeps; and, on microdot-lua alone, a client that
leaves mid-sleep closing the handler, and a slow client holding it back."""
import json
import socket
import time

import pytest

from oracle import fetch, serve_both


@pytest.fixture(scope='module')
def servers():
    with serve_both('sse_app.lua', 'sse_app.py') as ports:
        yield ports


def parse(body):
    """Microdot's TestResponse.events, with data decoded as JSON when it is."""
    events = []
    for block in body.split(b'\n\n'):
        event = {}
        for line in block.split(b'\n'):
            for field in (b'data', b'event', b'id', b'retry'):
                if line.startswith(field + b':'):
                    event[field.decode()] = line[len(field) + 1:].strip().decode()
            if line.startswith(b':'):
                event['comment'] = line[1:].strip().decode()
        if 'data' in event:
            try:
                event['data'] = json.loads(event['data'])
            except ValueError:
                pass
        if event:
            events.append(event)
    return events


def test_microdots_test_sse_stream(servers):
    lua, py = (fetch(port, 'GET', '/sse') for port in servers)
    assert lua[0] == py[0] == 200
    assert lua[1]['content-type'] == py[1]['content-type'] == ['text/event-stream']
    assert parse(lua[2]) == parse(py[2])
    assert lua[2].replace(b' ', b'') == py[2].replace(b' ', b'')


def test_fields_are_framed_byte_for_byte(servers):
    lua, py = (fetch(port, 'GET', '/fields') for port in servers)
    assert lua[2] == py[2]
    assert lua[2].startswith(b'retry: 2500\nevent: e\nid: 7\ndata: a\n\n')


def timed_events(port, path, limit):
    """Each event's arrival time, read from the socket as the stream comes
    (chunk-size lines, when chunked, hold no blank line and no field)."""
    arrivals = []
    start = time.monotonic()
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(f'GET {path} HTTP/1.1\r\nHost: x\r\n\r\n'.encode())
        buffer = b''
        while b'\r\n\r\n' not in buffer:
            buffer += sock.recv(65536)
        head, buffer = buffer.split(b'\r\n\r\n', 1)
        assert b'text/event-stream' in head
        while len(arrivals) < limit and time.monotonic() - start < 10:
            while b'\n\n' in buffer:
                block, buffer = buffer.split(b'\n\n', 1)
                arrivals.append((time.monotonic() - start, parse(block + b'\n\n')[0]))
            if len(arrivals) >= limit:
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    return arrivals


def test_events_arrive_one_by_one_between_sleeps(servers):
    for port in servers:
        arrivals = timed_events(port, '/ticks/4', 4)
        assert [event for _, event in arrivals] == [
            {'event': 'tick', 'id': str(i), 'data': i} for i in range(1, 5)]
        times = [t for t, _ in arrivals]
        for earlier, later in zip(times, times[1:]):
            assert later - earlier > 0.15, (port, times)
        assert times[0] > 0.15 and times[-1] < 5, times


def read_until(sock, marker, timeout=5):
    sock.settimeout(timeout)
    data = b''
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_client_leaving_mid_sleep_closes_the_handler_within_a_second(servers):
    lua_port = servers[0]
    assert fetch(lua_port, 'GET', '/closed/one')[2] == b'open'
    sock = socket.create_connection(('127.0.0.1', lua_port), timeout=5)
    sock.sendall(b'GET /watch/one HTTP/1.1\r\nHost: x\r\n\r\n')
    head = read_until(sock, b'data: started')
    assert b'200 OK' in head and b'data: started' in head
    time.sleep(0.2)
    assert fetch(lua_port, 'GET', '/closed/one')[2] == b'open'
    sock.close()
    deadline = time.monotonic() + 1.0
    state = b'open'
    while time.monotonic() < deadline:
        state = fetch(lua_port, 'GET', '/closed/one')[2]
        if state == b'closed':
            break
        time.sleep(0.05)
    assert state == b'closed'


def test_a_slow_client_holds_the_handler_back(servers):
    lua_port = servers[0]
    sock = socket.create_connection(('127.0.0.1', lua_port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b'GET /flood HTTP/1.1\r\nHost: x\r\n\r\n')
    first = read_until(sock, b'id: 1\n')
    time.sleep(0.5)
    assert fetch(lua_port, 'GET', '/flood-state')[2] == b'running'
    received = bytearray(first)
    sock.settimeout(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not received.endswith(b'\r\n0\r\n\r\n'):
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    sock.close()
    assert received.count(b'data: ' + b'x' * 8192 + b'\n\n') == 2000
    assert b'id: 2000\n' in received
    assert fetch(lua_port, 'GET', '/flood-state')[2] == b'finished'


def test_head_gets_the_head_only(servers):
    status, headers, body = fetch(servers[0], 'HEAD', '/watch/head')
    assert status == 200 and headers['content-type'] == ['text/event-stream'] and body == b''
    assert fetch(servers[0], 'GET', '/closed/head')[2] == b'open'
