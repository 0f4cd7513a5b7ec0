"""microdot.template's API against Python Microdot 2.7's microdot.jinja
(templates_app.lua / templates_app.py: etlua and Jinja templates with the
same output): same types, statuses and bodies; render streams through
generate; and --reload recompiling a changed template. Jinja escapes quotes
as &#34; and &#39;, etlua as &quot; and &#039; (the Lua specs check those):
only <, > and & are compared here."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from oracle import BINARY, HERE, fetch, free_port, serve_both, wait_for


@pytest.fixture(scope='module')
def servers():
    with serve_both('templates_app.lua', 'templates_app.py') as ports:
        yield ports


@pytest.mark.parametrize('path', ['/hello?name=Ada', '/hello?name=%3Cb%3E%26', '/html?name=x',
                                  '/rows/3'])
def test_same_answer(servers, path):
    lua, py = (fetch(port, 'GET', path) for port in servers)
    assert lua[0] == py[0]
    assert lua[1]['content-type'] == py[1]['content-type']
    assert lua[2] == py[2]


def test_name_is_the_name_given(servers):
    lua, py = (fetch(port, 'GET', '/name') for port in servers)
    assert (lua[2], py[2]) == (b'hello.html', b'hello_jinja.html')
    assert lua[1]['content-type'] == py[1]['content-type']


def test_generate_streams_ten_thousand_rows_in_pieces(servers):
    lua_port, py_port = servers
    with socket.create_connection(('127.0.0.1', lua_port), timeout=10) as sock:
        sock.sendall(b'GET /rows/10000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b'\r\n\r\n', 1)
    assert b'Transfer-Encoding: chunked' in head
    pieces = []
    while True:
        size_line, body = body.split(b'\r\n', 1)
        size = int(size_line, 16)
        if size == 0:
            break
        pieces.append(body[:size])
        body = body[size + 2:]
    assert len(pieces) > 10
    text = b''.join(pieces)
    assert text == fetch(py_port, 'GET', '/rows/10000')[2]
    assert text.count(b'\n') == 10000


def test_reload_recompiles_a_changed_template(tmp_path):
    shutil.copy(os.path.join(HERE, 'templates_app.lua'), tmp_path / 'app.lua')
    shutil.copytree(os.path.join(HERE, 'templates'), tmp_path / 'templates')
    port = free_port()
    server = subprocess.Popen([BINARY, str(tmp_path / 'app.lua'), '--port', str(port), '--workers', '1', '--reload'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        assert fetch(port, 'GET', '/hello?name=a')[2] == b'<p>Hello, a!</p>'
        assert fetch(port, 'GET', '/served')[2] == b'1'
        time.sleep(1.1)  # a new modification time, whatever the file system's resolution
        (tmp_path / 'templates' / 'hello.html').write_text('<p>Bye, <%= name %>.</p>\n')
        assert fetch(port, 'GET', '/hello?name=a')[2] == b'<p>Bye, a.</p>\n'
        # The template was compiled again; the script was not run again.
        assert fetch(port, 'GET', '/served')[2] == b'2'
        (tmp_path / 'templates' / 'hello.html').write_text('<p><% if then %></p>\n')
        time.sleep(0.05)
        status, _, _ = fetch(port, 'GET', '/hello?name=a')
        assert status == 500
        (tmp_path / 'templates' / 'hello.html').write_text('<p>Back, <%= name %>.</p>\n')
        assert fetch(port, 'GET', '/hello?name=b')[2] == b'<p>Back, b.</p>\n'
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_without_reload_a_template_is_compiled_once(tmp_path):
    shutil.copy(os.path.join(HERE, 'templates_app.lua'), tmp_path / 'app.lua')
    shutil.copytree(os.path.join(HERE, 'templates'), tmp_path / 'templates')
    port = free_port()
    server = subprocess.Popen([BINARY, str(tmp_path / 'app.lua'), '--port', str(port), '--workers', '1'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        assert fetch(port, 'GET', '/hello?name=a')[2] == b'<p>Hello, a!</p>'
        time.sleep(1.1)
        (tmp_path / 'templates' / 'hello.html').write_text('<p>Bye</p>\n')
        assert fetch(port, 'GET', '/hello?name=a')[2] == b'<p>Hello, a!</p>'
    finally:
        server.terminate()
        server.wait(timeout=10)
