"""Readiness probes over a raw socket: is the daemon serving, not merely running?"""

from __future__ import annotations

import _socket

TIMEOUT = 2.0


def _connect(host: str, port: int, timeout: float):
    family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _read_until(sock, marker: bytes, limit: int = 4096) -> bytes:
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def http(host: str, port: int, path: str, timeout: float = TIMEOUT, tls: bool = False) -> tuple[bool, str]:
    """Ready when an HTTP GET is answered with a status below 500 (over TLS: GEN_CERT's own
    self-signed certificate, not checked: the probe asks its own container over loopback)."""
    try:
        sock = _connect(host, port, timeout)
        if tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        try:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = _read_until(sock, b"\r\n")
        finally:
            sock.close()
    except OSError as e:
        return False, f"{host}:{port}: {e.strerror or e}"
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return False, f"GET {path}: not an HTTP answer"
    code = int(parts[1])
    return code < 500, f"GET {path}: {code}"


def listen(port: int, tables: tuple[str, ...] = ("/proc/net/tcp", "/proc/net/tcp6")) -> tuple[bool, str]:
    """Ready when a TCP socket listens on `port`: the kernel then completes connections.

    For sshd, which logs a line for every connection that ends before login: a probe
    that connected every few seconds would fill the logs.
    """
    suffix = f":{port:04X}"
    for table in tables:
        try:
            with open(table) as f:
                next(f, None)  # header
                for row in f:
                    fields = row.split(None, 4)
                    # fields: sl, local address, remote address, state (0A = LISTEN)
                    if len(fields) > 3 and fields[3] == "0A" and fields[1].endswith(suffix):
                        return True, f"listening on port {port}"
        except OSError:
            continue
    return False, f"nothing listens on port {port}"
