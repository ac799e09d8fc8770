"""Host mode, SERVICES=shiny: R's shiny package (Debian's r-cran-shiny; make venv puts the
shiny-apps launcher beside the daemons) serving a sample app behind Jupyter's login."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tornado.httpclient import HTTPRequest
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from tests.helpers import Stack, require_service, wait_until

require_service(
    "shiny",
    "shiny-apps is not in the test environment: R's shiny package is not installed here "
    "(Debian: apt-get install r-cran-shiny, then make venv)",
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "shiny"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """(status, body), redirects not followed."""
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.build_opener(NoRedirect).open(
            urllib.request.Request(url, headers=headers), timeout=60
        ) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def greeting_over_the_websocket(url: str, token: str) -> str:
    """What the server renders into `greeting`, as Shiny's page script asks for it."""

    async def talk() -> str:
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}, connect_timeout=30))
        init = {"method": "init", "data": {".clientdata_output_greeting_hidden": False}}
        await ws.write_message(json.dumps(init))
        for _ in range(50):
            message = await ws.read_message()
            if message is None:
                break
            values = json.loads(message).get("values", {})
            if "greeting" in values:
                return values["greeting"]
        return ""

    return IOLoop.current().run_sync(talk, timeout=60)


def test_a_sample_app_behind_jupyters_login(tmp_path):
    apps = tmp_path / "apps"
    shutil.copytree(SAMPLE, apps)
    s = Stack(tmp_path, "jupyter,shiny", {"SHINY_APPS_DIR": str(apps)})
    try:
        report = s.wait_healthy(120)
        assert report["services"]["shiny"]["ready"], report
        base = f"http://127.0.0.1:{s.ports['jupyter']}/shiny/"
        assert get(base)[0] in (302, 403)  # no way in without Jupyter's login
        status, page = get(base, s.token())
        assert status == 200 and b"deepdocker sample app" in page
        # The server's part: over the websocket, through Jupyter's proxy.
        ws = f"ws://127.0.0.1:{s.ports['jupyter']}/shiny/websocket/"
        assert greeting_over_the_websocket(ws, s.token()) == "Hello from Shiny, 42"
        line = re.compile(r"^shiny +\| sample app: a session started", re.M)
        wait_until(lambda: line.search(s.logs()), 30, what="the app's line in the log, prefixed")
    finally:
        assert s.stop() == 0


def test_without_an_app_a_page_says_where_to_put_one(tmp_path):
    s = Stack(tmp_path, "jupyter,shiny")
    try:
        s.wait_healthy(120)
        status, page = get(f"http://127.0.0.1:{s.ports['jupyter']}/shiny/", s.token())
        assert status == 200 and b"No Shiny app here yet" in page
        assert str(tmp_path / "notebooks" / "shiny").encode() in page
    finally:
        assert s.stop() == 0
