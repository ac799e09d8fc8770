import http.server
import socket
import threading

import pytest

from healthchecks import probes


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.parametrize(
    "path, ready", [("/200", True), ("/302", True), ("/403", True), ("/500", False), ("/503", False)]
)
def test_http_status_decides(http_port, path, ready):
    ok, detail = probes.http("127.0.0.1", http_port, path)
    assert ok is ready
    assert detail == f"GET {path}: {path[1:]}"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_http_refused_is_not_ready():
    ok, detail = probes.http("127.0.0.1", closed_port(), "/")
    assert not ok and "refused" in detail.lower()


def test_http_on_a_non_http_server_is_not_ready():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        conn, _ = srv.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    ok, detail = probes.http("127.0.0.1", srv.getsockname()[1], "/")
    srv.close()
    assert not ok and "not an HTTP answer" in detail


def test_listen_sees_listening_sockets_only():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    assert probes.listen(port) == (False, f"nothing listens on port {port}")  # bound, not listening
    srv.listen()
    assert probes.listen(port) == (True, f"listening on port {port}")
    srv.close()
    assert probes.listen(port)[0] is False


def test_listen_sees_ipv6():
    if not socket.has_ipv6:
        pytest.skip("this kernel has no IPv6")
    srv = socket.socket(socket.AF_INET6)
    try:
        srv.bind(("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    srv.listen()
    assert probes.listen(srv.getsockname()[1])[0]
    srv.close()
