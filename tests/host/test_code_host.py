"""Host mode, SERVICES=code: the real code-server (make venv installs it with scripts/install-code.sh,
as the image does), under supervisord, behind Jupyter's login or published with its own password."""

from __future__ import annotations

import http.cookiejar
import re
import socket
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from tests.helpers import Stack, require_service, wait_until

require_service(
    "code",
    "code-server is not in the test environment: make venv could not build it here (its output says why; "
    "scripts/install-code.sh names what it needs)",
)

PASSWORD = "a long pass phrase"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, token: str | None = None, data: bytes | None = None, opener=None) -> tuple[int, str, bytes]:
    """(status, Location, body) of one request, redirects not followed."""
    headers = {"Authorization": f"token {token}"} if token else {}
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=60) as r:
            return r.status, r.headers.get("Location", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", ""), e.read()


def listening_on(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}


def code_process(stack: Stack) -> psutil.Process | None:
    for p in psutil.Process(stack.supervisord_pid).children(recursive=True):
        try:
            if "out/node/entry.js" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                return p
        except psutil.Error:  # ended meanwhile
            continue
    return None


@pytest.fixture
def behind(tmp_path):
    s = Stack(tmp_path, "jupyter,code")
    try:
        s.wait_healthy(120)
        yield s
    finally:
        assert s.stop() == 0


def test_behind_jupyters_login_at_code(behind):
    report = behind.report()
    assert report["services"]["code"]["ready"], report
    port = behind.ports["code"]
    assert listening_on(port) == {"127.0.0.1"}
    base = f"http://127.0.0.1:{behind.ports['jupyter']}/code/"
    status, location, _ = fetch(base)
    assert status in (302, 403) and ("login" in location or status == 403)  # no way in without Jupyter's login
    # It opens the notebook folder (a relative redirect: it works under the proxy's prefix)...
    status, location, _ = fetch(base, behind.token())
    assert (status, location) == (302, f"./?folder={behind.tmp / 'notebooks'}")
    status, _, page = fetch(base + location[2:], behind.token())
    assert status == 200 and b"vscode-workbench-web-configuration" in page, page[:300]
    # ...and its own login is off behind Jupyter's.
    assert "--auth=none" in code_process(behind).cmdline()  # type: ignore[union-attr]
    # Its settings and extensions live under the user's home: a mounted home keeps them.
    home = behind.tmp / "home"
    wait_until(lambda: (home / ".local/share/code-server").is_dir(), 30, what="code-server's user data dir")
    # Its lines reach the container's log, prefixed like the others'.
    line = re.compile(r"^code +\| .*HTTP server listening on http://127\.0\.0\.1:", re.M)
    wait_until(lambda: line.search(behind.logs()), 30, what="code's lines in the log, prefixed")


def test_published_with_its_own_password(tmp_path):
    s = Stack(tmp_path, "jupyter,code", {"CODE_PUBLIC": "true", "CODE_PASSWORD": PASSWORD})
    try:
        s.wait_healthy(120)
        base = f"http://127.0.0.1:{s.ports['code']}/"
        status, location, _ = fetch(base)
        assert status == 302 and "login" in location
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))

        def log_in(password: str) -> int:
            form = urllib.parse.urlencode({"password": password}).encode()
            return fetch(base + "login", data=form, opener=opener)[0]

        assert log_in("wrong one") != 302 and not [c for c in jar if c.name == "code-server-session"]
        assert log_in(PASSWORD) == 302 and [c for c in jar if c.name == "code-server-session"]
        assert fetch(base, opener=opener)[0] == 302  # to ./?folder=...
        # The password: in a file only its user may read; not in argv, the config or the logs.
        proc = code_process(s)
        assert proc is not None and PASSWORD not in " ".join(proc.cmdline()) and PASSWORD not in s.logs()
        assert PASSWORD not in (s.run_dir / "supervisord.conf").read_text()
        secret = s.run_dir / "secrets" / "code" / "CODE_PASSWORD"
        assert secret.stat().st_mode & 0o777 == 0o600
        # Jupyter does not proxy it: it has a login of its own.
        url = f"http://127.0.0.1:{s.ports['jupyter']}/code/"
        assert fetch(url, s.token(), opener=urllib.request.build_opener())[0] == 404
    finally:
        assert s.stop() == 0


def test_killed_it_comes_back(behind):
    old = code_process(behind)
    assert old is not None
    old.kill()
    wait_until(lambda: (code_process(behind) or old).pid != old.pid, 30, what="a new code-server")
    port = behind.ports["code"]

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_until(answers, 30, what="code-server answering again")
    assert behind.report()["services"]["code"]["restarts"] >= 1
