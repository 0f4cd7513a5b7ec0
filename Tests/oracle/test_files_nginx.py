"""Conditional and range GET for files (spec section 20), with nginx
serving the same folder as the reference: header by header where the two
agree, and microdot-lua's documented choice where they differ."""
import datetime
import email.utils
import os
import shutil
import subprocess
import tempfile

import pytest

from oracle import BINARY, HERE, fetch, free_port, wait_for

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server_tokens off;
    types {{ text/plain txt; }}
    default_type application/octet-stream;
    # Section 20's choices: If-Modified-Since at or after the mtime, and
    # several ranges ignored.
    if_modified_since before;
    max_ranges 1;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {root}/; }}
    }}
}}
"""

# What is compared: the headers section 20 is about, and the framing.
COMPARED = ('etag', 'last-modified', 'accept-ranges', 'content-range', 'content-length', 'content-type',
            'content-encoding', 'transfer-encoding')
SIZE = 100_000


@pytest.fixture(scope='module')
def servers():
    if shutil.which('nginx') is None:
        pytest.skip('nginx is not installed (scripts/install-deps --test installs it)')
    workdir = tempfile.mkdtemp()
    os.chmod(workdir, 0o755)  # nginx's workers drop root and must read the files
    root = os.path.join(workdir, 'files')
    os.mkdir(root)
    os.chmod(root, 0o755)
    with open(os.path.join(root, 'data.bin'), 'wb') as f:
        f.write(os.urandom(SIZE))
    with open(os.path.join(root, 'hello.txt'), 'w') as f:
        f.write('Hello, files!\n')
    for name in ('data.bin', 'hello.txt'):
        os.chmod(os.path.join(root, name), 0o644)
        os.utime(os.path.join(root, name), (1_700_000_000, 1_700_000_000))
    prefix = os.path.join(workdir, 'nginx')
    os.mkdir(prefix)
    nginx_port, lua_port = free_port(), free_port()
    with open(os.path.join(prefix, 'nginx.conf'), 'w') as f:
        f.write(NGINX_CONF.format(prefix=prefix, port=nginx_port, root=root))
    nginx = subprocess.Popen(['nginx', '-p', prefix, '-c', os.path.join(prefix, 'nginx.conf')],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lua = subprocess.Popen([BINARY, os.path.join(HERE, 'files_app.lua'), '--port', str(lua_port)],
                           env=dict(os.environ, MICRODOT_FILES_ROOT=root),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(nginx_port, nginx)
        wait_for(lua_port, lua)
        yield {'lua': lua_port, 'nginx': nginx_port, 'root': root}
    finally:
        for process in (lua, nginx):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def both(servers, path, headers=None, method='GET'):
    """Both answers, checked equal in status, compared headers and body."""
    ours = fetch(servers['lua'], method, path, headers)
    theirs = fetch(servers['nginx'], method, path, headers)
    assert ours[0] == theirs[0], (path, headers, ours[0], theirs[0])
    for name in COMPARED:
        assert ours[1].get(name) == theirs[1].get(name), (path, headers, name, ours[1], theirs[1])
    assert ours[2] == theirs[2], (path, headers)
    return ours


def validators(servers, name='data.bin'):
    _, headers, _ = fetch(servers['lua'], 'GET', '/static/' + name)
    return headers['etag'][0], headers['last-modified'][0]


def shifted(date, seconds):
    """The HTTP date `date` moved by `seconds`."""
    moved = email.utils.parsedate_to_datetime(date) + datetime.timedelta(seconds=seconds)
    return email.utils.format_datetime(moved, usegmt=True)


def test_headers_of_a_whole_file(servers):
    for name in ('data.bin', 'hello.txt'):
        status, headers, body = both(servers, '/static/' + name)
        assert status == 200
        assert headers['accept-ranges'] == ['bytes']
        mtime = 1_700_000_000
        size = os.path.getsize(os.path.join(servers['root'], name))
        assert headers['etag'] == [f'"{mtime:x}-{size:x}"']
        assert headers['last-modified'] == ['Tue, 14 Nov 2023 22:13:20 GMT']


def test_head_has_the_headers_and_no_body(servers):
    status, headers, body = both(servers, '/static/data.bin', method='HEAD')
    assert status == 200 and body == b'' and headers['content-length'] == [str(SIZE)]
    status, headers, body = both(servers, '/static/data.bin', {'If-None-Match': validators(servers)[0]}, 'HEAD')
    assert status == 304


def test_not_modified_by_tag_and_by_date(servers):
    etag, modified = validators(servers)
    for headers in ({'If-None-Match': etag}, {'If-None-Match': f'"x", {etag}'}, {'If-None-Match': '*'},
                    {'If-None-Match': 'W/' + etag}, {'If-Modified-Since': modified},
                    {'If-Modified-Since': shifted(modified, 3600)},
                    # RFC 850 and asctime forms of the same date.
                    {'If-Modified-Since': 'Tuesday, 14-Nov-23 22:13:20 GMT'},
                    {'If-Modified-Since': 'Tue Nov 14 22:13:20 2023'}):
        status, received, body = both(servers, '/static/data.bin', headers)
        assert status == 304, headers
        assert body == b''
        assert received['etag'] == [etag] and received['last-modified'] == [modified]
        for dropped in ('content-type', 'content-length', 'accept-ranges'):
            assert dropped not in received, (headers, dropped)


def test_modified_and_if_none_match_winning(servers):
    etag, modified = validators(servers)
    for headers in ({'If-Modified-Since': shifted(modified, -1)}, {'If-None-Match': '"other"'},
                    # A non-matching If-None-Match wins over a date that would say 304.
                    {'If-None-Match': '"other"', 'If-Modified-Since': modified},
                    {'If-Modified-Since': 'not a date'}):
        status, _, body = both(servers, '/static/data.bin', headers)
        assert status == 200 and len(body) == SIZE, headers
    # A matching If-None-Match wins over an older date too (RFC 9110
    # 13.2.2; nginx wants both to hold and answers 200).
    status, _, body = fetch(servers['lua'], 'GET', '/static/data.bin',
                            {'If-None-Match': etag, 'If-Modified-Since': shifted(modified, -1)})
    assert status == 304 and body == b''


def test_precondition_failed(servers):
    etag, modified = validators(servers)
    for headers, expected in (({'If-Match': etag}, 200), ({'If-Match': '*'}, 200), ({'If-Match': '"other"'}, 412),
                              ({'If-Match': 'W/' + etag}, 412), ({'If-Unmodified-Since': modified}, 200),
                              ({'If-Unmodified-Since': shifted(modified, -1)}, 412)):
        ours = fetch(servers['lua'], 'GET', '/static/data.bin', headers)
        theirs = fetch(servers['nginx'], 'GET', '/static/data.bin', headers)
        assert ours[0] == theirs[0] == expected, headers
        if expected == 412:
            assert ours[2] == b'Precondition failed'
            assert ours[1]['content-type'] == ['text/plain; charset=UTF-8']
            for dropped in ('etag', 'last-modified', 'accept-ranges'):
                assert dropped not in ours[1] and dropped not in theirs[1]
    # RFC 9110 13.1.4: a date that is not one is ignored (nginx answers 412).
    assert fetch(servers['lua'], 'GET', '/static/data.bin', {'If-Unmodified-Since': 'yesterday'})[0] == 200
    # If-Match is evaluated first: If-Unmodified-Since is then not looked at.
    status = fetch(servers['lua'], 'GET', '/static/data.bin',
                   {'If-Match': etag, 'If-Unmodified-Since': shifted(modified, -1)})[0]
    assert status == 200


def test_each_range_form(servers):
    with open(os.path.join(servers['root'], 'data.bin'), 'rb') as f:
        data = f.read()
    for spec, first, last in (('0-99', 0, 99), ('99990-', 99990, SIZE - 1), ('-100', SIZE - 100, SIZE - 1),
                              ('500-99999999', 500, SIZE - 1), ('-200000', 0, SIZE - 1), ('7-7', 7, 7)):
        status, headers, body = both(servers, '/static/data.bin', {'Range': 'bytes=' + spec})
        assert status == 206, spec
        assert headers['content-range'] == [f'bytes {first}-{last}/{SIZE}']
        assert body == data[first:last + 1]
        assert 'accept-ranges' not in headers


def test_unsatisfiable_and_ignored_ranges(servers):
    for spec in (f'{SIZE}-', f'{SIZE + 5}-{SIZE + 10}', '-0'):
        ours = fetch(servers['lua'], 'GET', '/static/data.bin', {'Range': 'bytes=' + spec})
        theirs = fetch(servers['nginx'], 'GET', '/static/data.bin', {'Range': 'bytes=' + spec})
        assert ours[0] == theirs[0] == 416, spec
        assert ours[1]['content-range'] == theirs[1]['content-range'] == [f'bytes */{SIZE}']
        assert ours[2] == b'Range not satisfiable'
    # Several ranges (nginx with max_ranges 1) and other units: the whole file.
    for value in ('bytes=0-1,5-6', 'bytes=0-1, -5', 'items=0-5'):
        status, _, body = both(servers, '/static/data.bin', {'Range': value})
        assert status == 200 and len(body) == SIZE, value
    # Bad syntax is ignored (RFC 9110 14.2 allows it; nginx answers 416).
    for value in ('bytes=abc', 'bytes=5-2', 'bytes=--5', 'bytes=1-2-3'):
        status, _, body = fetch(servers['lua'], 'GET', '/static/data.bin', {'Range': value})
        assert status == 200 and len(body) == SIZE, value
    # A Range applies to GET only (RFC 9110 14.2; nginx answers HEAD 206).
    assert fetch(servers['lua'], 'HEAD', '/static/data.bin', {'Range': 'bytes=0-9'})[0] == 200


def test_if_range_current_and_stale(servers):
    etag, modified = validators(servers)
    for if_range, expected in ((etag, 206), (modified, 206), ('"stale"', 200), (shifted(modified, -10), 200),
                               ('W/' + etag, 200)):
        status, _, body = both(servers, '/static/data.bin', {'Range': 'bytes=10-19', 'If-Range': if_range})
        assert status == expected, if_range
        assert len(body) == (10 if expected == 206 else SIZE)


def test_a_touched_file_gets_a_new_etag(servers):
    path = os.path.join(servers['root'], 'hello.txt')
    before, _ = validators(servers, 'hello.txt')
    os.utime(path, (1_700_000_100, 1_700_000_100))
    try:
        status, headers, _ = both(servers, '/static/hello.txt')
        assert headers['etag'] == [f'"{1_700_000_100:x}-{os.path.getsize(path):x}"'] != [before]
        assert both(servers, '/static/hello.txt', {'If-None-Match': before})[0] == 200
    finally:
        os.utime(path, (1_700_000_000, 1_700_000_000))


def test_validators_the_app_sets(servers):
    port = servers['lua']
    status, headers, _ = fetch(port, 'GET', '/tagged')
    assert headers['etag'] == ['"v1"'] and 'last-modified' in headers
    assert fetch(port, 'GET', '/tagged', {'If-None-Match': '"v1"'})[0] == 304
    assert fetch(port, 'GET', '/tagged', {'If-Match': '"v2"'})[0] == 412
    assert fetch(port, 'GET', '/tagged', {'Range': 'bytes=0-0', 'If-Range': '"v1"'})[0] == 206
    status, headers, _ = fetch(port, 'GET', '/dated')
    assert headers['last-modified'] == ['Sun, 06 Nov 1994 08:49:37 GMT']
    assert fetch(port, 'GET', '/dated', {'If-Modified-Since': 'Sun, 06 Nov 1994 08:49:37 GMT'})[0] == 304
    assert fetch(port, 'GET', '/dated', {'If-Unmodified-Since': 'Sat, 05 Nov 1994 08:49:37 GMT'})[0] == 412
    status, headers, _ = fetch(port, 'GET', '/no-ranges', {'Range': 'bytes=0-0'})
    assert status == 200 and headers['accept-ranges'] == ['none']
    # Only a 200 to GET or HEAD: another status, or another method, as is.
    status, headers, _ = fetch(port, 'GET', '/missing', {'If-None-Match': '*', 'Range': 'bytes=0-0'})
    assert status == 404 and 'etag' not in headers and 'accept-ranges' not in headers
    status, headers, _ = fetch(port, 'POST', '/posted', {'Range': 'bytes=0-0'})
    assert status == 200 and 'etag' not in headers


def test_curl_resumes_a_download(servers, tmp_path):
    if shutil.which('curl') is None:
        pytest.skip('curl is not installed')
    with open(os.path.join(servers['root'], 'data.bin'), 'rb') as f:
        data = f.read()
    target = tmp_path / 'download.bin'
    target.write_bytes(data[:12345])
    subprocess.run(['curl', '-s', '-f', '-C', '-', '-o', str(target),
                    f'http://127.0.0.1:{servers["lua"]}/static/data.bin'], check=True, timeout=30)
    assert target.read_bytes() == data
