"""Large uploads on the debug binary (lua-api section 19): a 1 GiB body
through req.stream with the server's RSS bounded while other requests are
served, a 100 MiB multipart file spooled to a 0600 temp file and saved
(no temp file left), and curl -T not waiting for its 100 Continue."""
import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from oracle import BINARY, HERE, fetch, free_port, wait_for

MiB = 1024 * 1024


@pytest.fixture(scope='module')
def server():
    """(port, pid, tmpdir): the app with TMPDIR a folder of its own."""
    tmpdir = tempfile.mkdtemp(prefix='uploads-tmp-')
    port = free_port()
    env = dict(os.environ, TMPDIR=tmpdir)
    process = subprocess.Popen([BINARY, os.path.join(HERE, 'uploads_app.lua'), '--port', str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, process)
        yield port, process.pid, tmpdir
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(tmpdir, ignore_errors=True)


def rss(pid):
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmRSS')


def read_response(sock):
    """Status and body of one response with a Content-Length."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        assert chunk, 'connection closed before the response'
        data += chunk
    head, body = data.split(b'\r\n\r\n', 1)
    lines = head.decode().split('\r\n')
    length = next(int(line.split(':', 1)[1]) for line in lines if line.lower().startswith('content-length:'))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1]), body


@contextlib.contextmanager
def pinging(port, interval=0.05):
    """Sends GET /ping on other connections meanwhile; yields the list of
    the answers' round-trip times (None for a failure)."""
    times = []
    stop = threading.Event()

    def run():
        while not stop.is_set():
            started = time.monotonic()
            try:
                status, _, body = fetch(port, 'GET', '/ping')
                times.append(time.monotonic() - started if (status, body) == (200, b'pong') else None)
            except OSError:
                times.append(None)
            stop.wait(interval)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join()


def test_a_1_gib_upload_streams_with_bounded_memory_while_others_are_served(server):
    port, pid, _ = server
    fetch(port, 'GET', '/ping')
    baseline = peak = rss(pid)
    size = 1024 * MiB
    piece = b'\x5a' * MiB
    started = time.monotonic()
    with pinging(port) as pings, socket.create_connection(('127.0.0.1', port), timeout=120) as sock:
        sock.sendall(f'POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n'.encode())
        for i in range(size // MiB):
            sock.sendall(piece)
            if i % 16 == 0:
                peak = max(peak, rss(pid))
        status, body = read_response(sock)
        peak = max(peak, rss(pid))
    elapsed = time.monotonic() - started
    assert status == 200
    assert json.loads(body) == {'size': size}
    growth = peak - baseline
    print(f'1 GiB in {elapsed:.1f} s; RSS {baseline / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB; '
          f'{len(pings)} pings, slowest {max(t for t in pings if t is not None):.3f} s')
    assert growth < 64 * MiB, f'RSS grew by {growth / MiB:.1f} MiB'
    assert None not in pings, 'a request failed during the upload'
    assert len(pings) >= 5, 'too few requests were served during the upload'


def multipart_around(boundary):
    """The head (a field, then the file part's headers) and the tail of a
    multipart body whose file's bytes go between them."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbackup\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="disk.img"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n').encode()
    return head, f'\r\n--{boundary}--\r\n'.encode()


def test_a_100_mib_multipart_file_is_spooled_saved_and_no_temp_file_is_left(server):
    port, _, tmpdir = server
    boundary = 'b0undary'
    # Near-boundaries in the data: the parser must not stop at them.
    pattern = (b'\r\n--b0undar' + bytes(range(256)) * 4) * 64
    size = 100 * MiB // len(pattern) * len(pattern)
    count = size // len(pattern)
    head, tail = multipart_around(boundary)
    target_dir = tempfile.mkdtemp(prefix='uploads-saved-')
    target = os.path.join(target_dir, 'disk.img')
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=60) as sock:
            sock.sendall((f'POST /upload?target={target} HTTP/1.1\r\nHost: x\r\n'
                          f'Content-Type: multipart/form-data; boundary={boundary}\r\n'
                          f'Content-Length: {len(head) + size + len(tail)}\r\n\r\n').encode() + head)
            spooled = None
            for i in range(count):
                sock.sendall(pattern)
                if spooled is None and i == count // 2:
                    # Half way: the file is in a temp file of mode 0600.
                    deadline = time.monotonic() + 10
                    while not os.listdir(tmpdir) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    names = os.listdir(tmpdir)
                    assert len(names) == 1, names
                    spooled = os.path.join(tmpdir, names[0])
                    assert stat.S_IMODE(os.stat(spooled).st_mode) == 0o600
            sock.sendall(tail)
            status, body = read_response(sock)
        assert status == 200, body
        assert json.loads(body) == {'title': 'backup', 'filename': 'disk.img', 'size': size}
        assert os.listdir(tmpdir) == [], 'a temp file is left'
        assert os.path.getsize(target) == size
        digest = hashlib.sha256()
        for _ in range(count):
            digest.update(pattern)
        with open(target, 'rb') as saved:
            assert hashlib.file_digest(saved, 'sha256').hexdigest() == digest.hexdigest()
    finally:
        shutil.rmtree(target_dir, ignore_errors=True)


def curl_put(port, path, size, *extra):
    with tempfile.NamedTemporaryFile() as upload:
        upload.write(b'c' * size)
        upload.flush()
        result = subprocess.run(
            ['curl', '-sS', '-T', upload.name, *extra, '-w', '\n%{time_total}', f'http://127.0.0.1:{port}{path}'],
            capture_output=True, timeout=30, check=True)
    body, seconds = result.stdout.rsplit(b'\n', 1)
    return json.loads(body), float(seconds)


def test_curl_upload_does_not_wait_for_100_continue(server):
    port, _, _ = server
    # curl sends `Expect: 100-continue` for a file over 1 MiB, and waits a
    # second for the 100 before it sends anyway.
    streamed, seconds = curl_put(port, '/put/big', 3 * MiB)
    assert streamed == {'name': 'big', 'size': 3 * MiB, 'body': 0, 'streamed': True}
    assert seconds < 0.9, f'curl waited {seconds} s for its 100 Continue (streamed body)'
    whole, seconds = curl_put(port, '/put/small', 512 * 1024, '-H', 'Expect: 100-continue')
    assert whole == {'name': 'small', 'size': 512 * 1024, 'body': 512 * 1024, 'streamed': False}
    assert seconds < 0.9, f'curl waited {seconds} s for its 100 Continue (whole body)'
