"""Starts microdot-lua and Python Microdot on the same app, and fetches."""
import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.path.join(ROOT, '.build', 'debug', 'microdot-lua')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(port, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'server exited with {process.returncode}')
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'server on port {port} did not start')


@contextlib.contextmanager
def serve_both(lua_script, py_script):
    """Yields (lua_port, py_port) with both servers up on loopback."""
    lua_port, py_port = free_port(), free_port()
    lua = subprocess.Popen([BINARY, os.path.join(HERE, lua_script), '--port', str(lua_port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    py = subprocess.Popen([sys.executable, os.path.join(HERE, py_script), str(py_port)],
                          cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lua_port, lua)
        wait_for(py_port, py)
        yield lua_port, py_port
    finally:
        for p in (lua, py):
            p.terminate()
            p.wait(timeout=10)


def fetch(port, method, path, headers=None, body=None):
    """Status, headers (lower-case name -> list of values) and body bytes."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        received = {}
        for name, value in response.getheaders():
            received.setdefault(name.lower(), []).append(value)
        return response.status, received, data
    finally:
        conn.close()


def raw_exchange(port, data, timeout=10):
    """Sends raw bytes and reads until the server closes; returns the bytes."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks)
