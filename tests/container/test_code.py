"""SERVICES=code in the image: VS Code (code-server) at /code/ behind Jupyter's login, seen in a
browser; its settings in the user's home; published on request with its own password."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from entrypoint.services import REGISTRY
from tests import browser
from tests.container.tracked import docker

pytestmark = pytest.mark.container

TOKEN = "code-test-token-0123456789"
JUPYTER = REGISTRY["jupyter"].default_port
CODE = REGISTRY["code"].default_port


@pytest.fixture(scope="module")
def has_code(image):
    config = docker("run", "--rm", "-e", "SERVICES=code", image, "--print-config", check=False)
    if config.returncode:
        # The npm registry answers wherever these tests run (the image's build reached it for pip's sake too).
        pytest.fail(f"the image has no code-server (INSTALL_CODE=auto found no npm registry?): {config.stderr}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_of(url: str, **kw) -> tuple[int, str]:
    try:
        with urllib.request.build_opener(NoRedirect).open(urllib.request.Request(url, **kw), timeout=60) as r:
            return r.status, r.headers.get("Location", "")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", "")


def test_vs_code_behind_jupyters_login_in_a_browser_settings_kept_in_home(containers, has_code, tmp_path):
    home = f"deepdocker-test-home-{uuid.uuid4().hex[:8]}"
    try:
        c = containers.run(
            env={"SERVICES": "jupyter,code", "JUPYTER_TOKEN": TOKEN, "NOTEBOOK_DIR": "/home/jovyan"},
            ports=[JUPYTER],
            opts=["-v", f"{home}:/home/jovyan"],
            expected=browser.PROXY_CLOSED,
        )
        c.wait_health()
        assert c.exec("deepdocker-health").returncode == 0
        c.exec("sh", "-c", "echo hi > /home/jovyan/hello-from-deepdocker.txt", user="jovyan")
        base = f"http://127.0.0.1:{c.port(JUPYTER)}/code/"
        # No way in without Jupyter's login; nothing listens on its own port outside the container.
        status, location = status_of(base)
        assert status in (302, 403) and (status == 403 or "login" in location)
        assert not re.search(rf":{CODE}\b.*LISTEN", c.exec("sh", "-c", "ss -ltn | grep -v 127.0.0.1").stdout)

        # In a browser, as a person opens it: the workbench, and the notebook folder's files in
        # its explorer (they come over its websocket, through Jupyter's proxy).
        files = "Array.from(document.querySelectorAll('.explorer-item')).map(e => e.textContent).join('|')"
        listed, errors = browser.watch(f"{base}?token={TOKEN}", files, tmp_path / "profile", timeout=120)
        assert "hello-from-deepdocker.txt" in (listed or ""), (listed, errors)
        assert re.search(r"^code +\| .*HTTP server listening on http://127\.0\.0\.1:", c.logs(), re.M)

        # Settings and extensions: in the home folder, the notebook user's, kept across a restart.
        data = "/home/jovyan/.local/share/code-server"
        assert c.exec("stat", "-c", "%U", data).stdout.strip() == "jovyan"
        settings = f"{data}/User/settings.json"
        c.exec("sh", "-c", f"mkdir -p {data}/User && echo '{{\"editor.fontSize\": 17}}' > {settings}", user="jovyan")
        docker("restart", "-t", "10", c.id, timeout=60)
        c.wait_health()
        base = f"http://127.0.0.1:{c.port(JUPYTER)}/code/"  # a restart publishes on a new host port
        assert status_of(base, headers={"Authorization": f"token {TOKEN}"})[0] == 302  # started again, on demand
        assert "17" in c.exec("cat", settings).stdout

        # Supervised like the others: docker stop stops it within the stop budget.
        status, took = c.stop(timeout=10)
        assert status == 0 and took < 5, (status, took)
        assert re.search(r"stopped: code \((exit status 0|terminated by SIGTERM)\)", c.logs())
    finally:
        containers.remove_all()
        docker("volume", "rm", "-f", home, check=False)


def test_published_with_its_own_password(containers, has_code):
    c = containers.run(
        env={"SERVICES": "jupyter,code", "JUPYTER_TOKEN": TOKEN, "CODE_PUBLIC": "true"}, ports=[JUPYTER, CODE]
    )
    c.wait_health()
    password = re.search(r"CODE_PASSWORD \(generated, shown once\): (\S+)", c.logs())
    assert password, c.logs()
    base = f"http://127.0.0.1:{c.port(CODE)}/"
    status, location = status_of(base)
    assert status == 302 and "login" in location
    form = urllib.parse.urlencode({"password": password.group(1)}).encode()
    status, location = status_of(base + "login", data=form)
    assert status == 302, "the generated password does not log in"
    assert status_of(base + "login", data=urllib.parse.urlencode({"password": "not it"}).encode())[0] != 302
    # Not in the process table, nor in what a daemon's environment shows.
    assert password.group(1) not in c.exec("ps", "axww", "-o", "args").stdout
