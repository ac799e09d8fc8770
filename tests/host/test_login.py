"""Jupyter's login cannot be switched off from a config the notebook user writes, and a page on
another site cannot use its login cookie: real Jupyter, real configs, real Chromium."""

from __future__ import annotations

import http.cookiejar
import http.server
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest
import tornado.web

from tests import browser
from tests.helpers import Stack, free_ports, wait_until

TOKEN = "login-test-token-0123456789"

# Every login setting, in every spelling a user's config could use.
JSON_LOGIN = {
    "ServerApp": {
        "token": "",
        "password": "",
        "password_required": False,
        "disable_check_xsrf": True,
        "allow_origin": "*",
        "allow_origin_pat": ".*",
        "allow_credentials": True,
        "allow_remote_access": True,
        "identity_provider_class": "jupyter_server.auth.identity.IdentityProvider",
        "authorizer_class": "jupyter_server.auth.authorizer.AllowAllAuthorizer",
        "cookie_secret_file": "/tmp/forged-secret",
        "tornado_settings": {"cookie_secret": "forged", "xsrf_cookies": False, "disable_check_xsrf": True},
    },
    "IdentityProvider": {"token": ""},
    "PasswordIdentityProvider": {"token": "", "hashed_password": "", "password_required": False},
    "NotebookApp": {"token": "", "password": "", "disable_check_xsrf": True, "allow_origin": "*"},
}
PY_LOGIN = """
c.ServerApp.token = ""
c.IdentityProvider.token = ""
c.PasswordIdentityProvider.token = ""
c.ServerApp.cookie_secret = b"forged"
c.ServerApp.disable_check_xsrf = True
c.ServerApp.tornado_settings = {"cookie_secret": b"forged", "xsrf_cookies": False}
"""


def plant(home: Path) -> list[Path]:
    """The login settings in every config file Jupyter reads from the user's folders."""
    made = []
    for folder in (home / ".jupyter", home / ".local" / "etc" / "jupyter"):
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("jupyter_server_config", "jupyter_notebook_config", "jupyter_config"):
            (folder / f"{name}.json").write_text(json.dumps(JSON_LOGIN))
            made.append(folder / f"{name}.json")
        (folder / "jupyter_server_config.py").write_text(PY_LOGIN)
        made.append(folder / "jupyter_server_config.py")
        (folder / "jupyter_server_config.d").mkdir(exist_ok=True)
        (folder / "jupyter_server_config.d" / "login.json").write_text(json.dumps(JSON_LOGIN))
    return made


def status(url: str, **headers: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except urllib.error.URLError:
        return 0  # nothing listening (yet)


def forged_cookie(port: int) -> str:
    """A login cookie signed with the secret the planted configs name."""
    value = tornado.web.create_signed_value(b"forged", f"username-127-0-0-1-{port}", json.dumps({"username": "x"}))
    return f"username-127-0-0-1-{port}={value.decode()}"


@pytest.fixture
def planted(tmp_path):
    home = tmp_path / "home"
    made = plant(home)
    s = Stack(tmp_path, "jupyter", {"JUPYTER_TOKEN": TOKEN})
    try:
        s.wait_healthy()
        yield s, made
    finally:
        s.stop()


def test_no_config_the_user_writes_switches_the_login_off(planted):
    s, made = planted
    port = s.ports["jupyter"]
    base = f"http://127.0.0.1:{port}"

    def refused() -> None:
        assert status(f"{base}/api/contents") == 403
        assert status(f"{base}/api/kernels") == 403
        assert status(f"{base}/api/contents", Cookie=forged_cookie(port)) == 403
        # The page itself sends the browser to the login form.
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as page:
            opener.open(f"{base}/lab", timeout=30)
        assert page.value.code == 302 and "/login" in page.value.headers["Location"]
        assert status(f"{base}/api/contents?token={TOKEN}") == 200

    refused()
    # One line at start names what was overruled.
    warning = [line for line in s.logs().splitlines() if "touches the login" in line]
    assert len(warning) == 1, s.logs()
    assert any(str(path) in warning[0] for path in made) and "token" in warning[0], warning
    assert f"and {len(made) + 2 - 3} more file(s)" in warning[0]  # the .d files too
    assert "tornado_settings" in s.logs()  # the guard's line, in Jupyter's own log
    # Written while the lab runs, then Jupyter restarted (by supervisord, as after a crash): the same.
    plant(s.tmp / "home")
    pid = s.report()["services"]["jupyter"]["pid"]
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_until(lambda: s.report()["services"]["jupyter"]["pid"] not in (0, pid), 30, what="a new Jupyter")
    s.wait_healthy()
    refused()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Recorder(http.server.BaseHTTPRequestHandler):
    """A local web app behind Jupyter's /proxy/<port>/: what reached it, and a same-origin form."""

    seen: ClassVar[list[str]] = []

    def do_GET(self):
        body = b"<form id=f method=POST action=ok><input name=a value=1></form><script>f.submit()</script>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"recorded")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def lab(tmp_path):
    s = Stack(tmp_path, "jupyter", {"JUPYTER_TOKEN": TOKEN})
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


def test_a_foreign_origin_cannot_post_with_the_login_cookie(lab, recorder):
    base = f"http://127.0.0.1:{lab.ports['jupyter']}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/lab?token={TOKEN}", timeout=30) as r:
        login = [v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("username-")]
    assert login and re.search(r"SameSite=Lax", login[0], re.I), login

    def post(path: str, **headers: str) -> int:
        request = urllib.request.Request(f"{base}/proxy/{recorder}/{path}", data=b"a=1", headers=headers)
        try:
            with opener.open(request, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    # The reproduction: the cookie, another site's Origin, no XSRF token.
    assert post("evil", Origin="http://evil.example") == 403
    assert post("null", Origin="null") == 403
    assert post("noref") == 403  # neither Origin nor Referer: not from Jupyter's pages
    # From Jupyter's own origin, or with the token, it goes through.
    assert post("same", Origin=base) == 200
    assert post("ref", Referer=f"{base}/lab") == 200
    assert post("token", Authorization=f"token {TOKEN}", Origin="http://evil.example") == 200
    assert Recorder.seen == ["/same", "/ref", "/token"]


def test_a_page_on_another_site_cannot_reach_the_apps_behind_the_login(lab, recorder, tmp_path):
    base = f"http://127.0.0.1:{lab.ports['jupyter']}"
    (evil_port,) = free_ports(1)
    site = tmp_path / "evil"
    site.mkdir()
    # localhost is another site than 127.0.0.1 for the browser: its form POSTs and fetches there.
    (site / "attack.html").write_text(
        f"<form id=f method=POST action='{base}/proxy/{recorder}/steal'><input name=a value=1></form>"
        f"<script>fetch('{base}/proxy/{recorder}/fetched', {{method: 'POST', mode: 'no-cors', credentials: 'include',"
        " body: 'a=1'}).finally(() => { document.title = 'sent'; f.submit(); });</script>"
    )
    evil = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site), str(evil_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: status(f"http://127.0.0.1:{evil_port}/attack.html") == 200, 30, what="the other site")
        # Logged in with the token, the browser first posts a form of the app's own: that reaches it.
        # Then the other site's page: its fetch, then its form, whose answer is the page it ends on.
        jupyter = base.split("//")[1]
        landed = f"location.host === '{jupyter}' && document.readyState === 'complete' && document.body.innerText"
        before = (f"{base}/lab?token={TOKEN}", f"{base}/proxy/{recorder}/form")
        value, _ = browser.watch(f"http://localhost:{evil_port}/attack.html", landed, tmp_path / "profile", 60, before)
        assert value and "403" in value, value
    finally:
        evil.terminate()
        evil.wait(10)
    assert Recorder.seen == ["/ok"]
