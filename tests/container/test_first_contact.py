"""What a newcomer types first, exactly as the 2016 README and Docker's habits have it.

Mounted host folders are made by Docker here, not by the test: a missing host path given to
`-v` becomes an empty folder that belongs to root, which is what most users get.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser import chromium
from tests.container.tracked import Container, api, docker, problems, ssh
from tests.helpers import SYSTEM_PATH, wait_until

pytestmark = pytest.mark.container

TOKEN = "first-contact-token-0123456789"
# The original README's line, less its fixed host ports (tests publish on free ones).
ORIGINAL = ["-p", "127.0.0.1::8888", "-p", "127.0.0.1::6006", "-p", "127.0.0.1::8787", "-p", "127.0.0.1::22"]


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def test_the_original_command_with_a_folder_docker_creates(image, host_dir, keypair):
    """docker run ... -v /sharedfolder:/root/sharedfolder -it deepdocker:cpu bash, then work."""
    env = ["-e", f"JUPYTER_TOKEN={TOKEN}", "-e", "SERVICES=jupyter,tensorboard,sshd"]
    env += ["-e", f"SSH_AUTHORIZED_KEYS={keypair.with_suffix('.pub').read_text().strip()}"]
    name = f"deepdocker-first-contact-{os.getpid()}"
    shell = subprocess.Popen(
        ["docker", "run", "--rm", "--name", name, *ORIGINAL, *env,
         "-v", f"{host_dir}:/root/sharedfolder", "-i", image, "bash"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        c = Container(wait_until(lambda: docker("ps", "-q", "-f", f"name={name}").stdout.strip(), 60, 0.2))
        c.wait_health("healthy")
        # From a notebook (Jupyter's contents API, as the browser writes a file) and over SSH.
        status, _ = api(c.port(8888), TOKEN, "/api/contents/sharedfolder/from-jupyter.txt",
                        {"type": "file", "format": "text", "content": "jupyter"}, "PUT")  # fmt: skip
        assert status in (200, 201)
        over_ssh = ssh(c.port(22), keypair, "jovyan", "echo ssh > /root/sharedfolder/from-ssh.txt")
        assert over_ssh.returncode == 0, over_ssh.stderr
        # From the shell the command gave (its stdin is ours), then leave it.
        out, err = shell.communicate("echo shell > /root/sharedfolder/from-shell.txt; exit 3\n", timeout=60)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert shell.returncode == 3, out + err
    assert not problems(out + err)
    assert "now jovyan (uid 1000)'s" in err, err
    # Docker made the folder for root; it was empty, so the notebook user took it over.
    assert owner(host_dir) == (1000, 100)
    assert (host_dir / "from-jupyter.txt").read_text() == "jupyter"
    assert owner(host_dir / "from-jupyter.txt") == (1000, 100)
    assert (host_dir / "from-ssh.txt").read_text() == "ssh\n"
    assert owner(host_dir / "from-ssh.txt") == (1000, 100)
    assert (host_dir / "from-shell.txt").read_text() == "shell\n"
    assert owner(host_dir / "from-shell.txt") == (1000, 100)  # the shell is the notebook user's


def test_a_root_folder_with_files_starts_the_lab_and_says_what_to_do(containers, host_dir):
    # A folder root made on the host, holding data: never re-owned, and not a reason to stop.
    host_dir.mkdir()
    (host_dir / "data.csv").write_text("a,b\n1,2\n")
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888], opts=["-v", f"{host_dir}:/root/sharedfolder"])
    c.wait_health("healthy")
    assert re.search(r"WARNING: SHARED_DIR: /root/sharedfolder belongs to root and is not empty.*chown", c.logs())
    # What works: reading. What does not: saving there, as the warning says.
    status, model = api(c.port(8888), TOKEN, "/api/contents/sharedfolder/data.csv")
    assert status == 200 and model["content"] == "a,b\n1,2\n"
    status, _ = api(c.port(8888), TOKEN, "/api/contents/sharedfolder/new.txt",
                    {"type": "file", "format": "text", "content": "x"}, "PUT")  # fmt: skip
    assert status >= 400
    c.expected = (r"\| \[E .*Permission denied", r"\bERROR\b.*new\.txt", r"Traceback", r"PermissionError")
    health = c.exec("deepdocker-health")
    assert health.returncode == 0 and "note: SHARED_DIR: /root/sharedfolder belongs to root" in health.stdout
    assert owner(host_dir) == (0, 0) and owner(host_dir / "data.csv") == (0, 0)
    assert not (host_dir / "new.txt").exists()


def test_a_read_only_mount_starts_with_a_warning(containers, host_dir):
    host_dir.mkdir()
    (host_dir / "notes.txt").write_text("read me")
    os.chown(host_dir, 4242, 4242)
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888], opts=["-v", f"{host_dir}:/root/sharedfolder:ro"])
    c.wait_health("healthy")
    assert "WARNING: SHARED_DIR: /root/sharedfolder is mounted read-only" in c.logs()
    status, model = api(c.port(8888), TOKEN, "/api/contents/sharedfolder/notes.txt")
    assert status == 200 and model["content"] == "read me"
    assert owner(host_dir) == (4242, 4242)


def test_jupyter_notebook_as_the_command_is_the_supervised_server(containers):
    # The original README's other line: docker run -it -p 8888:8888 -p 6006:6006 deepdocker:cpu jupyter notebook
    c = containers.run(
        "jupyter", "notebook", "--ip=0.0.0.0", "--allow-root",
        env={"JUPYTER_TOKEN": TOKEN}, ports=[8888, 6006], opts=["-t", "-i"],
    )  # fmt: skip
    c.wait_health("healthy")
    time.sleep(6)  # the unsupervised second Jupyter of old exited about 6 s in, taking the container
    assert c.inspect()["State"]["Running"]
    states = dict(line.split()[:2] for line in c.exec("supervisorctl", "status").stdout.splitlines())
    # TensorBoard waits for its first request at /tensorboard/ (on demand), running all the same.
    assert states == {"jupyter": "RUNNING", "tensorboard": "RUNNING"}
    pid = c.host.supervisor("jupyter").pid
    assert c.host.process.get(pid=pid).user == "jovyan"
    assert "--LabApp.default_url=/tree" in c.host.process.get(pid=pid).args
    # The Notebook UI it asked for, on the port it published.
    status, _ = api(c.port(8888), TOKEN, "/api/status")
    assert status == 200

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{c.port(8888)}/?token={TOKEN}", timeout=30)
    assert redirect.value.code == 302 and redirect.value.headers["Location"].split("?")[0].endswith("/tree")
    # One Jupyter: the supervised one.
    assert len(c.host.process.filter(comm="jupyter-lab")) == 1


@pytest.fixture
def outbound_counter():
    """Counts (and drops) every packet a container sends beyond this host, in Docker's own chain."""
    rules: list[list[str]] = []
    if os.geteuid() != 0 or not shutil.which("iptables", path=SYSTEM_PATH):
        why = "counting a container's packets needs root and iptables (apt-get install iptables)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the network check, but: {why}")
        pytest.skip(why)

    def watch(ip: str) -> Callable[[], int]:
        rule = ["DOCKER-USER", "-s", ip, "-m", "comment", "--comment", "deepdocker-test", "-j", "DROP"]
        subprocess.run(["iptables", "-I", *rule], check=True, env={"PATH": SYSTEM_PATH})
        rules.append(rule)

        def packets() -> int:
            listing = subprocess.run(
                ["iptables", "-L", "DOCKER-USER", "-v", "-x", "-n"],
                capture_output=True, text=True, check=True, env={"PATH": SYSTEM_PATH},
            ).stdout  # fmt: skip
            line = next(ln for ln in listing.splitlines() if ip in ln and "deepdocker-test" in ln)
            return int(line.split()[0])

        return packets

    yield watch
    for rule in rules:
        subprocess.run(["iptables", "-D", *rule], check=False, env={"PATH": SYSTEM_PATH})


def test_a_page_load_asks_nothing_and_fetches_nothing_from_outside(containers, outbound_counter, tmp_path):
    browser = chromium()
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888])
    packets = outbound_counter(c.inspect()["NetworkSettings"]["IPAddress"])
    c.wait_health("healthy")
    origin = f"http://127.0.0.1:{c.port(8888)}"
    netlog = tmp_path / "netlog.json"
    page = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--log-net-log={netlog}", "--virtual-time-budget=20000", "--dump-dom", f"{origin}/lab?token={TOKEN}"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert "jp-LabShell" in page.stdout, "JupyterLab did not load in the browser"
    assert "Would you like to get notified about official Jupyter news" not in page.stdout
    # Every request the page itself made went to the lab (Chrome's own, to Google, are not the page's).
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    made = [e["params"]["url"] for e in log["events"]
            if e["type"] == start_job and e.get("params", {}).get("initiator") == origin]  # fmt: skip
    assert len(made) > 20, made
    assert [u for u in made if urllib.parse.urlsplit(u).netloc != f"127.0.0.1:{c.port(8888)}"] == []
    # The lab's server fetched nothing either (news, update checks, PyPI for the extension manager).
    status, _ = api(c.port(8888), TOKEN, "/lab/api/extensions?query=&page=1&per_page=30")
    assert status == 200
    assert packets() == 0
    # Defaults (the image's overrides), which a user may still change in Settings > Notifications.
    schema = api(c.port(8888), TOKEN, "/lab/api/settings/@jupyterlab/apputils-extension:notification")[1]["schema"]
    assert schema["properties"]["fetchNews"]["default"] == "false"
    assert schema["properties"]["checkForUpdates"]["default"] is False


def test_the_original_interactive_shell_gets_a_clean_terminal(image):
    """docker run -it deepdocker:cpu bash, typed at a terminal: a prompt, not daemon logs over it."""
    master, terminal = pty.openpty()
    name = f"deepdocker-tty-{os.getpid()}"
    shell = subprocess.Popen(
        ["docker", "run", "--rm", "--name", name, "-it", image, "bash"],
        stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    try:
        os.write(master, b"deepdocker-health --wait 90 >/dev/null && echo HEALTHY-$((6*7)); sleep 2; exit 5\n")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the terminal closed: the shell is gone
                    break
                shown += chunk
            elif shell.poll() is not None:
                break
        assert shell.wait(30) == 5, shown.decode(errors="replace")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        os.close(master)
    text = shown.decode(errors="replace")
    assert "HEALTHY-42" in text
    assert "the daemons' logs: /run/deepdocker/daemons.log" in text
    assert "spawned" not in text and "jupyter     |" not in text and "tensorboard |" not in text
