"""examples/chat: WebSocket clients on two workers talking through
microdot.pubsub, the heartbeat timer, and the SSE feed of the same channel;
once with Python's websockets package and once in headless Chromium."""
import asyncio
import json
import os
import socket
import subprocess
import time

import pytest
import websockets

from oracle import BINARY, ROOT, free_port, wait_for
from test_browser import chromium_driver

APP = os.path.join(ROOT, 'examples', 'chat', 'app.lua')


class Chat:
    """The example on a free loopback port, two workers, a fast heartbeat."""

    def __enter__(self):
        self.port = free_port()
        env = dict(os.environ, CHAT_HEARTBEAT='0.3')
        self.process = subprocess.Popen([BINARY, APP, '--port', str(self.port), '--workers', '2'],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(self.port, self.process)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        assert self.process.wait(timeout=15) == 0


async def welcome(ws):
    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert message['kind'] == 'welcome'
    return message['worker']


async def next_message(ws, kind, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f'no {kind} message in {timeout} s'
        message = json.loads(await asyncio.wait_for(ws.recv(), left))
        if message['kind'] == kind:
            return message


async def sockets_on_two_workers(port):
    """Connects until two sockets are on different workers (the kernel
    hands connections to the workers' loops in turn), closing the rest."""
    by_worker = {}
    extra = []
    for _ in range(8):
        ws = await websockets.connect(f'ws://127.0.0.1:{port}/ws?name=n{len(extra) + len(by_worker)}')
        worker = await welcome(ws)
        if worker in by_worker:
            extra.append(ws)
        else:
            by_worker[worker] = ws
        if len(by_worker) == 2:
            break
    for ws in extra:
        await ws.close()
    assert len(by_worker) == 2, 'every connection landed on one worker'
    return list(by_worker.items())


def read_sse_event(sock, buffer):
    while b'\n\n' not in buffer[0]:
        chunk = sock.recv(65536)
        assert chunk, buffer[0]
        buffer[0] += chunk
    event, buffer[0] = buffer[0].split(b'\n\n', 1)
    return event.decode()


def test_chat_across_workers_with_heartbeat_and_feed():
    async def scenario(port):
        (worker_a, a), (worker_b, b) = await sockets_on_two_workers(port)
        assert {worker_a, worker_b} == {1, 2}
        with socket.create_connection(('127.0.0.1', port), timeout=10) as feed:
            feed.sendall(b'GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
            buffer = [b'']
            head = read_sse_event(feed, buffer)  # the head ends in \r\n\r\n
            assert 'text/event-stream' in head
            await a.send('hello from a')
            got = await next_message(b, 'message')
            assert got['text'] == 'hello from a' and got['worker'] == worker_a
            await b.send('hello from b')
            got = await next_message(a, 'message')
            # a sees its own message first, then b's, in order.
            assert got['text'] == 'hello from a'
            got = await next_message(a, 'message')
            assert got['text'] == 'hello from b' and got['worker'] == worker_b
            beat = await next_message(b, 'heartbeat', timeout=3)
            assert isinstance(beat['time'], int)
            texts = []
            while len(texts) < 2:
                event = read_sse_event(feed, buffer)
                lines = dict(line.split(': ', 1) for line in event.split('\n') if ': ' in line)
                if lines.get('event') == 'chat':
                    data = json.loads(lines['data'])
                    if data['kind'] == 'message':
                        texts.append(data['text'])
            assert texts == ['hello from a', 'hello from b']
        await a.close()
        await b.close()

    with Chat() as chat:
        asyncio.run(asyncio.wait_for(scenario(chat.port), 30))


def test_chat_in_a_browser_across_two_workers():
    driver, why = chromium_driver()
    if driver is None:
        pytest.skip(why)
    try:
        driver.set_page_load_timeout(20)
        with Chat() as chat:
            tabs = {}
            for index in range(8):
                if index:
                    driver.switch_to.new_window('tab')
                driver.get(f'http://127.0.0.1:{chat.port}/?name=tab{index}')
                deadline = time.monotonic() + 10
                worker = None
                while worker is None and time.monotonic() < deadline:
                    worker = driver.execute_script(
                        'const w = window.received.find(m => m.kind === "welcome");'
                        'return w ? w.worker : null')
                    time.sleep(0.05)
                assert worker is not None, 'no welcome'
                tabs.setdefault(worker, (driver.current_window_handle, f'tab{index}'))
                if len(tabs) == 2:
                    break
            assert len(tabs) == 2, 'every tab landed on one worker'
            (worker_a, (tab_a, name_a)), (worker_b, (tab_b, _)) = sorted(tabs.items())
            driver.switch_to.window(tab_a)
            box = driver.find_element('id', 'text')
            box.send_keys('hi from the browser')
            driver.find_element('css selector', '#form button').click()
            driver.switch_to.window(tab_b)
            deadline = time.monotonic() + 10
            seen = []
            while time.monotonic() < deadline:
                seen = driver.execute_script(
                    'return window.received.filter(m => m.kind === "message")')
                if seen:
                    break
                time.sleep(0.05)
            assert seen and seen[0]['text'] == 'hi from the browser'
            assert seen[0]['from'] == name_a and seen[0]['worker'] == worker_a
            log = driver.find_element('id', 'log').text
            assert f'{name_a} (worker {worker_a}): hi from the browser' in log
            deadline = time.monotonic() + 5
            while 'heartbeat' not in driver.find_element('id', 'log').text:
                assert time.monotonic() < deadline, 'no heartbeat shown'
                time.sleep(0.05)
    finally:
        driver.quit()
