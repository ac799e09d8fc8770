"""TensorBoard in the image: idle until its first request, started by supervisord, lean (no
TensorFlow in its process), reading what TensorFlow/Keras and PyTorch write, shown in a browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.browser import chromium
from tests.container.tracked import api, docker
from tests.helpers import wait_until

pytestmark = pytest.mark.container

TOKEN = "on-demand-test-token-0123456789"
DATA = Path(__file__).with_name("data")
LOGS = "/home/jovyan/logs"  # $NOTEBOOK_DIR/logs, TensorBoard's default logdir


def frameworks(c) -> set[str]:
    return set(c.exec("cat", "/opt/deepdocker/frameworks").stdout.split())


def run_script(c, name: str) -> str:
    """A script of data/, as the notebook user types it in a terminal of the lab."""
    done = docker("exec", "-i", "-u", "jovyan", c.id, "python", "-", LOGS,
                  input=(DATA / name).read_text(), timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def states(c) -> dict[str, str]:
    return dict(line.split()[:2] for line in c.exec("supervisorctl", "status").stdout.splitlines())


def tb_get(c, path: str) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{c.port(8888)}/tensorboard/{path}", headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, r.read()


def test_tensorboard_starts_on_its_first_request_and_shows_both_frameworks(containers, tmp_path):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888])
    c.wait_health("healthy")
    installed = frameworks(c)
    missing = {"tensorflow", "torch"} - installed
    if missing:
        why = f"the event files come from both frameworks; the image lacks {' and '.join(sorted(missing))}"
        if os.environ.get("CI"):  # CI builds with WHEELHOUSE, torch included (.ci/run)
            pytest.fail(f"CI must run this check, but {why}")
        pytest.skip(f"{why} (make image WHEELHOUSE=... where PyTorch's index is unreachable)")

    # At rest: TensorBoard waits (supervisorctl status says RUNNING and exits 0), and the container is healthy.
    assert states(c) == {"jupyter": "RUNNING", "tensorboard": "RUNNING"}
    assert c.exec("supervisorctl", "status").returncode == 0
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert report["healthy"] and report["services"]["tensorboard"]["state"] == "IDLE"
    assert c.host.process.filter(comm="tensorboard") == []

    # Event files from both frameworks, written as the notebook user (a training step included).
    assert "tf events written" in run_script(c, "write_tf_events.py")
    trained = re.search(r"torch trained: loss ([\d.]+) -> ([\d.]+)", run_script(c, "write_torch_events.py"))
    assert trained and float(trained[2]) < float(trained[1]) / 2, trained

    # The user's own TensorBoard command (the one %tensorboard runs) works too, torch beside it.
    assert c.exec("tensorboard", "--version_tb", user="jovyan").returncode == 0

    # The first request waits for it and gets its page; health stays healthy all along.
    healthy: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            healthy.append(c.exec("deepdocker-health").returncode == 0)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        status, page = tb_get(c, "")
    finally:
        done.set()
        watcher.join()
    assert status == 200 and b"<tb-webapp>" in page
    assert healthy and all(healthy), healthy

    wait_until(lambda: states(c)["tensorboard"] == "RUNNING", 30, what="TensorBoard RUNNING")
    (tb,) = c.host.process.filter(comm="tensorboard")
    assert tb.user == "jovyan"
    # The lean environment: no TensorFlow in the daemon's process, though the image has it.
    assert tb.args.split()[1] == "/opt/deepdocker/tensorboard/bin/tensorboard"
    assert "tensorflow" not in c.exec("cat", f"/proc/{tb.pid}/maps").stdout
    assert "tensorboard | deepdocker: starting on its first request" in c.logs()

    # What the dashboards need, from TensorBoard's own API.
    def runs() -> set[str]:
        return set(json.loads(tb_get(c, "data/runs")[1]))

    wait_until(lambda: {"tf", "torch", "keras/train"} <= runs(), 60, what="the three runs loaded")
    listing = json.loads(tb_get(c, "data/plugins_listing")[1])
    assert all(listing[p]["enabled"] for p in ("scalars", "images", "histograms", "graphs")), listing
    scalars = json.loads(tb_get(c, "data/plugin/scalars/tags")[1])
    assert "tf_loss" in scalars["tf"] and "torch_loss" in scalars["torch"] and "epoch_loss" in scalars["keras/train"]
    assert "torch_images" in json.loads(tb_get(c, "data/plugin/images/tags")[1])["torch"]
    assert "tf_weights" in json.loads(tb_get(c, "data/plugin/histograms/tags")[1])["tf"]
    graph = tb_get(c, "data/plugin/graphs/graph?run=torch&conceptual=false")[1].decode()
    assert "Linear" in graph, graph[:300]
    tf_graph = tb_get(c, "data/plugin/graphs/graph?run=tf&conceptual=false&tag=tf_graph")[1].decode()
    assert "MatMul" in tf_graph, tf_graph[:300]

    # And in a browser, as a person sees it: the time-series dashboard with both frameworks' cards.
    page = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--window-size=1400,3000",
         "--dump-dom", f"http://127.0.0.1:{c.port(8888)}/tensorboard/?token={TOKEN}#timeseries"],
        capture_output=True, text=True, timeout=180,
    ).stdout  # fmt: skip
    for tag in ("tf_loss", "torch_loss", "epoch_loss", "tf_weights", "torch_weights", "tf_images", "torch_images"):
        assert tag in page, f"{tag} not on the time-series dashboard"

    # Supervised like any other from here: docker stop stops it within the stop budget.
    status, took = c.stop(timeout=10)
    assert status == 0 and took < 5, (status, took)
    assert re.search(r"stopped: tensorboard \((exit status 0|terminated by SIGTERM)\)", c.logs())


def test_every_daemon_at_start_when_asked(containers):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN, "DEEPDOCKER_ON_DEMAND": "false"}, ports=[8888])
    c.wait_health("healthy")
    assert states(c) == {"jupyter": "RUNNING", "tensorboard": "RUNNING"}
    status, _ = api(c.port(8888), TOKEN, "/api/status")
    assert status == 200 and tb_get(c, "")[0] == 200
