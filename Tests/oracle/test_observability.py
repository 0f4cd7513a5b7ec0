"""--access-log, request ids and --metrics (spec section 21) on the binary."""
import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oracle import BINARY, HERE, fetch, free_port, raw_exchange, wait_for

APP = os.path.join(HERE, 'observe_app.lua')
QUOTED = r'"(?:[^"\\]|\\x[0-9A-F]{2})*"'
# nginx's combined format plus the request id; escapes as \xHH only.
LINE = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    rf'(?P<request>{QUOTED}|-) (?P<status>\d{{3}}) (?P<bytes>\d+) (?P<referer>{QUOTED}) (?P<agent>{QUOTED}) '
    r'(?P<id>[A-Za-z0-9._~:/+=-]{1,128})$')
HEX_ID = re.compile(r'^[0-9a-f]{32}$')


@contextlib.contextmanager
def server(*flags, env=None):
    port = free_port()
    process = subprocess.Popen([BINARY, APP, '--port', str(port), *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=dict(os.environ, **(env or {})))
    try:
        wait_for(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        process.stderr.close()


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def log_lines(path):
    with open(path, 'rb') as f:
        lines = f.read().decode('ascii').splitlines()
    for line in lines:
        assert LINE.match(line), line
    return [LINE.match(line).groupdict() for line in lines]


def wait_until(predicate, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_lines_in_combined_format_flushed_at_exit(tmp_path):
    path = tmp_path / 'access.log'
    with server('--access-log', str(path), '--header-timeout', '60', env={'TZ': 'UTC'}) as (port, process):
        auth = 'Basic ' + base64.b64encode(b'ada:secret').decode()
        fetch(port, 'GET', '/u/7?x=1', {'Authorization': auth, 'Referer': 'http://r.example/',
                                        'User-Agent': 'curl/8.0'})
        # A user agent with a quote, a backslash and UTF-8 (bytes past 0x7e).
        raw_exchange(port, b'GET /u/8 HTTP/1.1\r\nHost: x\r\nUser-Agent: a"b\\c\xc3\xa9\r\n'
                           b'Connection: close\r\n\r\n')
        fetch(port, 'GET', '/nope')
        fetch(port, 'HEAD', '/u/9')
        stop(process)
    lines = log_lines(path)
    assert [line['status'] for line in lines] == ['200', '200', '404', '200']
    first = lines[0]
    assert first['addr'] == '127.0.0.1' and first['user'] == 'ada'
    assert first['time'].endswith(' +0000')
    assert first['request'] == '"GET /u/7?x=1 HTTP/1.1"'
    assert first['bytes'] == str(len('user 7'))
    assert first['referer'] == '"http://r.example/"' and first['agent'] == '"curl/8.0"'
    assert HEX_ID.match(first['id'])
    assert lines[1]['agent'] == r'"a\x22b\x5Cc\xC3\xA9"'
    assert lines[1]['user'] == '-' and lines[2]['referer'] == '"-"'
    assert lines[3]['request'] == '"HEAD /u/9 HTTP/1.1"' and lines[3]['bytes'] == '0'


def test_lines_flushed_each_second_and_cut_requests(tmp_path):
    path = tmp_path / 'access.log'
    with server('--access-log', str(path)) as (port, process):
        fetch(port, 'GET', '/u/1')
        # Unparseable: the parser gives no head, the log a `-`.
        assert raw_exchange(port, b'GET / HTTP/1.1\r\nBad Header\r\n\r\n').startswith(b'HTTP/1.1 400')
        # A header line over max_readline: 431, its request line logged.
        big = b'X-Big: ' + b'a' * 10000 + b'\r\n'
        assert raw_exchange(port, b'GET /u/2 HTTP/1.1\r\nHost: x\r\n' + big + b'\r\n').startswith(b'HTTP/1.1 431')
        assert wait_until(lambda: path.exists() and len(path.read_bytes().splitlines()) == 3, timeout=3)
        lines = log_lines(path)
        assert process.poll() is None
    assert [(line['status'], line['request']) for line in lines] == [
        ('200', '"GET /u/1 HTTP/1.1"'), ('400', '-'), ('431', '"GET /u/2 HTTP/1.1"')]


def test_sigusr1_reopens_after_a_rename(tmp_path):
    path = tmp_path / 'access.log'
    rotated = tmp_path / 'access.log.1'
    with server('--access-log', str(path)) as (port, process):
        fetch(port, 'GET', '/u/1')
        assert wait_until(lambda: path.exists() and path.stat().st_size > 0)
        os.rename(path, rotated)
        fetch(port, 'GET', '/u/2')
        process.send_signal(signal.SIGUSR1)
        # The reopen creates the file again; then new lines go there.
        assert wait_until(path.exists)
        fetch(port, 'GET', '/u/3')
        stop(process)
    assert [line['request'] for line in log_lines(rotated)] == ['"GET /u/1 HTTP/1.1"', '"GET /u/2 HTTP/1.1"']
    assert [line['request'] for line in log_lines(path)] == ['"GET /u/3 HTTP/1.1"']


def test_request_ids_while_logging(tmp_path):
    path = tmp_path / 'access.log'
    with server('--access-log', str(path)) as (port, process):
        given = 'trace-1.2_3~a:b/c+d=e'
        status, headers, body = fetch(port, 'GET', '/rid', {'X-Request-Id': given})
        assert headers['x-request-id'] == [given] and body == given.encode()
        for invalid in ['has space', 'x' * 129, 'semi;colon']:
            status, headers, body = fetch(port, 'GET', '/rid', {'X-Request-Id': invalid})
            assert HEX_ID.match(headers['x-request-id'][0]) and body.decode() == headers['x-request-id'][0]
        _, headers, body = fetch(port, 'GET', '/rid')
        assert HEX_ID.match(body.decode()) and headers['x-request-id'] == [body.decode()]
        # Responses the app never saw carry one too.
        big = b'X-Big: ' + b'a' * 10000 + b'\r\n'
        cut = raw_exchange(port, b'GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: cut-1\r\n' + big + b'\r\n')
        assert b'\r\nX-Request-Id: cut-1\r\n' in cut
        # The error's log record carries the id as metadata.
        fetch(port, 'GET', '/fail', {'X-Request-Id': 'err-1'})
        stop(process)
        assert 'request_id=err-1' in process.stderr.read().decode()
    ids = [line['id'] for line in log_lines(path)]
    assert ids[0] == given and ids[-2:] == ['cut-1', 'err-1'] and len(set(ids)) == len(ids)


def test_request_id_without_logging():
    with server() as (port, _):
        status, headers, body = fetch(port, 'GET', '/rid', {'X-Request-Id': 'abc-123'})
        assert body == b'abc-123' and 'x-request-id' not in headers
        _, _, body = fetch(port, 'GET', '/rid', {'X-Request-Id': 'bad id'})
        assert HEX_ID.match(body.decode())


def scrape(port):
    status, headers, body = fetch(port, 'GET', '/metrics')
    assert status == 200
    assert headers['content-type'] == ['text/plain; version=0.0.4; charset=utf-8']
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_count_the_requests_made():
    metrics_port = free_port()
    with server('--metrics', f'127.0.0.1:{metrics_port}', '--workers', '2') as (port, process):
        wait_for(metrics_port, process)
        for i in range(5):
            fetch(port, 'GET', f'/u/{i}')
        fetch(port, 'POST', '/u/1', body=b'')
        fetch(port, 'HEAD', '/u/1')
        for name in ['a', 'b', 'c']:
            fetch(port, 'GET', f'/api/items/{name}')
        fetch(port, 'GET', '/nope')
        fetch(port, 'PURGE', '/u/1')  # known to the parser, not a label
        fetch(port, 'GET', '/fail')
        fetch(port, 'GET', '/stream')
        samples = scrape(metrics_port)
        total = 'http_requests_total'
        assert value(samples, total, method='GET', route='/u/<int:id>', status='200') == 5
        assert value(samples, total, method='POST', route='/u/<int:id>', status='201') == 1
        assert value(samples, total, method='HEAD', route='/u/<int:id>', status='200') == 1
        assert value(samples, total, method='GET', route='/api/items/<name>', status='200') == 3
        assert value(samples, total, method='GET', route='', status='404') == 1
        assert value(samples, total, method='OTHER', route='', status='405') == 1
        assert value(samples, total, method='GET', route='/fail', status='500') == 1
        assert value(samples, total, method='GET', route='/stream', status='200') == 1
        assert sum(v for (name, _), v in samples.items() if name == total) == 14
        duration = 'http_request_duration_seconds'
        assert value(samples, duration + '_count', method='GET', route='/u/<int:id>') == 5
        assert value(samples, duration + '_bucket', method='GET', route='/u/<int:id>', le='10.0') == 5
        assert value(samples, duration + '_bucket', method='GET', route='/u/<int:id>', le='+Inf') == 5
        assert value(samples, 'lua_errors_total') == 1
        assert value(samples, 'lua_memory_bytes', worker='1') > 0
        assert value(samples, 'lua_memory_bytes', worker='2') > 0
        assert value(samples, 'http_requests_in_flight') == 0
        assert ('pubsub_subscriptions', ()) in samples and ('websocket_connections_open', ()) in samples


def test_metrics_gauges_and_other_paths():
    metrics_port = free_port()
    with server('--metrics', f'127.0.0.1:{metrics_port}') as (port, process):
        wait_for(metrics_port, process)
        done = []
        slow = threading.Thread(target=lambda: done.append(fetch(port, 'GET', '/sleep')))
        slow.start()
        held = socket.create_connection(('127.0.0.1', port))
        try:
            assert wait_until(lambda: value(scrape(metrics_port), 'http_requests_in_flight') == 1)
            assert wait_until(lambda: value(scrape(metrics_port), 'http_connections_open') == 2)
        finally:
            held.close()
            slow.join(timeout=10)
        assert done[0][0] == 200
        assert wait_until(lambda: value(scrape(metrics_port), 'http_connections_open') == 0)
        assert value(scrape(metrics_port), 'http_requests_in_flight') == 0
        status, headers, body = fetch(metrics_port, 'HEAD', '/metrics')
        assert status == 200 and body == b'' and int(headers['content-length'][0]) > 0
        assert fetch(metrics_port, 'GET', '/')[0] == 404
        assert fetch(metrics_port, 'GET', '/metrics/x')[0] == 404
        assert fetch(metrics_port, 'POST', '/metrics')[0] == 405
        # The app's own port has no /metrics.
        assert fetch(port, 'GET', '/metrics')[0] == 404


@pytest.mark.parametrize('flags, message', [
    (['--metrics', '127.0.0.1:{port}'], "must not be the app's own address"),
    (['--metrics', 'nonsense'], '--metrics must be HOST:PORT'),
    (['--access-log', '/nonexistent-folder/access.log'], '--access-log'),
])
def test_bad_flags_stop_start_up(flags, message):
    port = free_port()
    flags = [flag.format(port=port) for flag in flags]
    result = subprocess.run([BINARY, APP, '--port', str(port), *flags], capture_output=True, timeout=30)
    assert result.returncode != 0
    assert message in result.stderr.decode()


def test_check_validates_the_flags(tmp_path):
    good = subprocess.run([BINARY, 'check', APP, '--metrics', '127.0.0.1:9100',
                           '--access-log', str(tmp_path / 'a.log')], capture_output=True, timeout=30)
    assert good.returncode == 0, good.stderr
    assert not (tmp_path / 'a.log').exists()
    bad = subprocess.run([BINARY, 'check', APP, '--metrics', '127.0.0.1:99999',
                          '--access-log', '/nonexistent-folder/a.log'], capture_output=True, timeout=30)
    assert bad.returncode == 1
    errors = bad.stderr.decode()
    assert '--metrics: must be HOST:PORT' in errors and '--access-log: cannot open' in errors
