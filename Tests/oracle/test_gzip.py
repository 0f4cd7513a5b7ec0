"""--gzip (spec section 21): which responses are compressed for which
Accept-Encoding, Vary, and bytes that decompress to what the app sent, with
Python's gzip and zlib and with curl --compressed."""
import gzip
import os
import shutil
import socket
import subprocess
import tempfile
import time
import zlib

import pytest

from oracle import BINARY, HERE, fetch, free_port, raw_exchange, wait_for


def text(n):
    """The body gzip_app.lua's text(n) makes."""
    parts, size, i = [], 0, 0
    while size < n:
        i += 1
        line = f'line {i} of the body, repeated words compress well\n'
        parts.append(line)
        size += len(line)
    return ''.join(parts)[:n].encode()


@pytest.fixture(scope='module')
def files():
    root = tempfile.mkdtemp()
    with open(os.path.join(root, 'page.html'), 'wb') as f:
        f.write(text(300_000))  # more than one 256 KiB part
    with open(os.path.join(root, 'small.txt'), 'wb') as f:
        f.write(b'tiny\n')
    with open(os.path.join(root, 'data.bin'), 'wb') as f:
        f.write(os.urandom(4000))
    yield root
    shutil.rmtree(root)


def start(files, *flags):
    port = free_port()
    env = dict(os.environ, MICRODOT_FILES_ROOT=files)
    process = subprocess.Popen([BINARY, os.path.join(HERE, 'gzip_app.lua'), '--port', str(port), *flags],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port, process)
    return port, process


@pytest.fixture(scope='module')
def port(files):
    port, process = start(files, '--gzip')
    yield port
    process.terminate()
    process.wait(timeout=10)


def get(port, path, accept='gzip', method='GET', headers=None):
    sent = dict(headers or {})
    if accept is not None:
        sent['Accept-Encoding'] = accept
    # http.client adds Accept-Encoding: identity unless one is given.
    if accept is None:
        sent.setdefault('Accept-Encoding', '')
    return fetch(port, method, path, sent)


def varies(headers):
    return {v.strip().lower() for value in headers.get('vary', []) for v in value.split(',')}


# Accept-Encoding -> compressed? (RFC 9110 section 12.5.3)
ACCEPT_CASES = [
    ('gzip', True), ('GZIP', True), ('x-gzip', True), ('gzip, deflate, br', True), ('br;q=1, gzip;q=0.5', True),
    ('gzip;q=0.001', True), ('gzip; q=1.0', True), ('*', True), ('*;q=0.3', True), ('identity, *', True),
    ('identity;q=0, gzip', True), ('*;q=0, gzip', True),
    ('gzip;q=0', False), ('gzip;Q=0.000', False), ('gzip;q=0, *', False), ('*;q=0', False),
    ('identity', False), ('identity;q=0', False), ('deflate, br', False), ('', False),
    ('gzip;q=2', False), ('gzip;q=abc', False), ('gzipped', False),
]


@pytest.mark.parametrize('accept,compressed', ACCEPT_CASES)
def test_accept_encoding_decides(port, accept, compressed):
    for path, expected in (('/text', text(1000)), ('/typed?type=text/html;%20charset=utf-8', text(1000))):
        status, headers, body = get(port, path, accept)
        assert status == 200
        assert 'accept-encoding' in varies(headers)
        if compressed:
            assert headers['content-encoding'] == ['gzip']
            assert int(headers['content-length'][0]) == len(body) < len(expected)
            assert gzip.decompress(body) == expected
        else:
            assert 'content-encoding' not in headers
            assert body == expected


def test_absent_accept_encoding_is_not_compressed(port):
    data = raw_exchange(port, b'GET /text HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    assert b'content-encoding' not in head.lower()
    assert b'vary: accept-encoding' in head.lower()
    assert body == text(1000)


def test_several_accept_encoding_lines_are_one_list(port):
    data = raw_exchange(port, b'GET /text HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n'
                              b'Accept-Encoding: gzip\r\nConnection: close\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    assert b'content-encoding: gzip' in head.lower()
    assert gzip.decompress(body) == text(1000)


def test_json_round_trip_and_vary(port):
    status, headers, body = get(port, '/json?n=200')
    assert status == 200 and headers['content-encoding'] == ['gzip']
    assert headers['content-type'][0].startswith('application/json')
    plain = fetch(port, 'GET', '/json?n=200')[2]
    assert zlib.decompress(body, 16 + zlib.MAX_WBITS) == plain


@pytest.mark.parametrize('query,expected', [
    ('v=Origin', {'origin', 'accept-encoding'}),
    ('v=Cookie&v=Origin', {'cookie', 'origin', 'accept-encoding'}),
    ('v=Accept-Encoding', {'accept-encoding'}),
    ('v=origin,%20accept-encoding', {'origin', 'accept-encoding'}),
    ('v=*', {'*'}),
])
def test_vary_is_merged(port, query, expected):
    for accept in ('gzip', 'identity'):
        status, headers, body = get(port, '/vary?' + query, accept)
        assert status == 200
        values = [v.strip().lower() for value in headers['vary'] for v in value.split(',')]
        assert set(values) == expected
        assert len(values) == len(set(values))  # no duplicate


def test_vary_marked_by_dispatch_is_kept(port):
    headers = get(port, '/marked')[1]
    assert varies(headers) == {'origin', 'accept-encoding'}


@pytest.mark.parametrize('path', [
    '/text?n=255', '/json?n=1', '/typed?type=image/png', '/typed?type=application/octet-stream',
    '/typed?type=text/event-stream', '/typed?type=application/jsonx', '/encoded', '/status?code=206',
    '/file?name=small.txt', '/file?name=data.bin',
])
def test_ineligible_responses_are_untouched(port, path):
    status, headers, body = get(port, path)
    assert 'content-encoding' not in headers or headers['content-encoding'] == ['identity']
    assert 'accept-encoding' not in varies(headers)
    assert int(headers['content-length'][0]) == len(body)
    if path.startswith('/text'):
        assert body == text(255)


def test_eligible_statuses_and_other_types(port):
    for path in ('/status?code=404', '/status?code=500', '/typed?type=image/svg%2Bxml',
                 '/typed?type=application/javascript', '/typed?type=Application/XML', '/typed?type=text/css'):
        status, headers, body = get(port, path)
        assert headers['content-encoding'] == ['gzip'], path
        assert gzip.decompress(body) == text(1000)


def test_head_has_the_get_headers(port):
    for path in ('/text', '/json?n=200', '/file?name=page.html', '/stream', '/text?n=100'):
        _, got, _ = get(port, path)
        status, headed, body = get(port, path, method='HEAD')
        assert status == 200 and body == b''
        for name in ('content-encoding', 'content-length', 'vary', 'transfer-encoding', 'etag', 'content-type'):
            assert headed.get(name) == got.get(name), (path, name)


def read_chunks(sock, pending):
    """Yields each chunk's payload as it arrives (after the head in pending)."""
    while True:
        while b'\r\n' not in pending:
            pending += sock.recv(65536)
        size_line, _, pending = pending.partition(b'\r\n')
        size = int(size_line, 16)
        while len(pending) < size + 2:
            pending += sock.recv(65536)
        chunk, pending = pending[:size], pending[size + 2:]
        yield chunk
        if size == 0:
            return


def test_stream_is_chunked_and_each_chunk_decompresses_at_once(port):
    pieces = [f'piece {i}: '.encode() + text(40 * i) + b'\n' for i in range(1, 5)]
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(b'GET /stream?pause=0.3&type=application/json HTTP/1.1\r\nHost: x\r\n'
                     b'Accept-Encoding: gzip\r\n\r\n')
        pending = b''
        while b'\r\n\r\n' not in pending:
            pending += sock.recv(65536)
        head, _, pending = pending.partition(b'\r\n\r\n')
        assert b'transfer-encoding: chunked' in head.lower()
        assert b'content-encoding: gzip' in head.lower()
        assert b'content-length' not in head.lower()
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        seen = 0
        started = time.monotonic()
        for chunk in read_chunks(sock, pending):
            out = decompressor.decompress(chunk)
            if chunk and seen < len(pieces):
                # Each piece is whole as soon as its chunk is in (sync flush),
                # before the generator's next sleep ends.
                assert out == pieces[seen]
                seen += 1
            if seen == 1:
                first_at = time.monotonic() - started
        assert seen == 4 and decompressor.eof and decompressor.flush() == b''
        assert first_at < 0.3 * 3


def test_stream_of_server_sent_events_is_not_compressed(port):
    status, headers, body = get(port, '/stream?type=text/event-stream')
    assert 'content-encoding' not in headers and body.startswith(b'piece 1: ')


def test_http10_stream_is_compressed_up_to_the_close(port):
    data = raw_exchange(port, b'GET /stream HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n')
    head, _, body = data.partition(b'\r\n\r\n')
    assert b'content-encoding: gzip' in head.lower() and b'transfer-encoding' not in head.lower()
    assert gzip.decompress(body) == b''.join(f'piece {i}: '.encode() + text(40 * i) + b'\n' for i in range(1, 5))


def test_send_file_of_a_text_file(port, files):
    with open(os.path.join(files, 'page.html'), 'rb') as f:
        expected = f.read()
    status, headers, body = get(port, '/file?name=page.html')
    assert status == 200 and headers['content-encoding'] == ['gzip']
    assert headers['transfer-encoding'] == ['chunked'] and 'content-length' not in headers
    assert headers['etag'][0].startswith('W/"')
    assert 'accept-ranges' not in headers
    assert gzip.decompress(body) == expected
    # Uncompressed, the same file has its strong ETag, its length and ranges.
    status, plain, body = get(port, '/file?name=page.html', 'identity')
    assert body == expected and plain['etag'][0] == headers['etag'][0][2:]
    assert plain['accept-ranges'] == ['bytes'] and 'accept-encoding' in varies(plain)
    # An ETag the app set turns weak too.
    assert get(port, '/file-tagged')[1]['etag'] == ['W/"app-tag"']


def test_range_with_gzip_is_the_whole_file_compressed_as_nginx(port, files):
    with open(os.path.join(files, 'page.html'), 'rb') as f:
        expected = f.read()
    status, headers, body = get(port, '/file?name=page.html', headers={'Range': 'bytes=0-99'})
    assert status == 200 and 'content-range' not in headers
    assert gzip.decompress(body) == expected
    # Without gzip, the range is served as before, untouched.
    status, headers, body = get(port, '/file?name=page.html', 'identity', headers={'Range': 'bytes=0-99'})
    assert status == 206 and body == expected[:100] and 'content-encoding' not in headers


def test_not_modified_is_not_compressed(port):
    etag = get(port, '/file?name=page.html')[1]['etag'][0]
    for accept in ('gzip', 'identity'):
        status, headers, body = get(port, '/file?name=page.html', accept, headers={'If-None-Match': etag})
        assert status == 304 and body == b'' and 'content-encoding' not in headers
    # The strong comparison of If-Match never matches a weak tag.
    assert get(port, '/file?name=page.html', headers={'If-Match': etag})[0] == 412


def test_curl_compressed(port, files):
    if shutil.which('curl') is None:
        pytest.skip('curl is not installed')
    for path in ('/text?n=5000', '/file?name=page.html', '/stream'):
        plain = fetch(port, 'GET', path)[2]
        out = subprocess.run(['curl', '-sS', '--compressed', '-D', '-', f'http://127.0.0.1:{port}{path}'],
                             capture_output=True, timeout=20, check=True).stdout
        head, _, body = out.partition(b'\r\n\r\n')
        assert b'content-encoding: gzip' in head.lower(), path
        assert body == plain, path


def test_without_the_flag_nothing_changes(files):
    port, process = start(files)
    try:
        status, headers, body = get(port, '/text')
        assert 'content-encoding' not in headers and 'vary' not in headers and body == text(1000)
        status, headers, body = get(port, '/file?name=page.html', headers={'Range': 'bytes=0-9'})
        assert status == 206 and body == text(10)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_under_tls_the_same(files):
    if shutil.which('openssl') is None:
        pytest.skip('openssl is not installed')
    import http.client
    import ssl
    workdir = tempfile.mkdtemp()
    cert, key = os.path.join(workdir, 'cert.pem'), os.path.join(workdir, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=localhost',
                    '-addext', 'subjectAltName=IP:127.0.0.1'], check=True, capture_output=True, timeout=30)
    port, process = start(files, '--gzip', '--tls-cert', cert, '--tls-key', key)
    try:
        context = ssl.create_default_context(cafile=cert)
        with open(os.path.join(files, 'page.html'), 'rb') as f:
            page = f.read()
        for path, expected in (('/text', text(1000)), ('/file?name=page.html', page)):
            conn = http.client.HTTPSConnection('127.0.0.1', port, context=context, timeout=10)
            conn.request('GET', path, headers={'Accept-Encoding': 'gzip'})
            response = conn.getresponse()
            assert response.getheader('Content-Encoding') == 'gzip'
            assert 'Accept-Encoding' in response.getheader('Vary')
            assert gzip.decompress(response.read()) == expected
            conn.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir)
