"""SERVICES=jupyter,code,shiny in the image: every one healthy, and a sample Shiny app at /shiny/
behind Jupyter's login, rendered in a browser (its server's output comes over the websocket)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from entrypoint.services import REGISTRY
from tests import browser
from tests.container.tracked import docker

pytestmark = pytest.mark.container

TOKEN = "shiny-test-token-0123456789"
JUPYTER = REGISTRY["jupyter"].default_port
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "shiny"


def test_a_sample_app_in_a_browser_beside_vs_code(containers, image, tmp_path):
    config = docker("run", "--rm", "-e", "SERVICES=jupyter,code,shiny", image, "--print-config", check=False)
    assert config.returncode == 0, config.stderr  # both installed: the npm registry and Debian answer here
    apps = tmp_path / "apps"
    shutil.copytree(SAMPLE, apps)
    for p in (apps, *apps.iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)  # the notebook user reads what the host mounts
    c = containers.run(
        env={"SERVICES": "jupyter,code,shiny", "JUPYTER_TOKEN": TOKEN, "SHINY_APPS_DIR": "/srv/apps"},
        ports=[JUPYTER],
        opts=["-v", f"{apps}:/srv/apps:ro"],
        expected=browser.PROXY_CLOSED,
    )
    c.wait_health()
    assert c.exec("deepdocker-health").returncode == 0

    base = f"http://127.0.0.1:{c.port(JUPYTER)}"
    greeting = "document.getElementById('greeting') && document.getElementById('greeting').textContent"
    shown, errors = browser.watch(f"{base}/shiny/?token={TOKEN}", greeting, tmp_path / "profile", timeout=120)
    assert shown == "Hello from Shiny, 42", (shown, errors)
    assert re.search(r"^shiny +\| sample app: a session started", c.logs(), re.M)
    files = "Array.from(document.querySelectorAll('.explorer-item')).map(e => e.textContent).join('|')"
    listed, errors = browser.watch(f"{base}/code/?token={TOKEN}", files, tmp_path / "profile2", timeout=120)
    assert listed, errors
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert report["healthy"] is True and all(report["services"][n]["ready"] for n in ("jupyter", "code", "shiny"))

    status, took = c.stop(timeout=10)
    assert status == 0 and took < 5, (status, took)
    assert re.search(r"stopped: shiny \((exit status 0|terminated by SIGTERM)\)", c.logs())
