"""Attacked as a hostile user and as a careless one would, on the real image (issue: hardening).

Every value goes in through `docker run -e`, as Docker, Compose, a Hub or Kubernetes hands it over;
every planted file is planted by the notebook user inside a running container.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.container.tracked import api, docker

pytestmark = pytest.mark.container

TOKEN = "hardening-token-0123456789"


def run_bad(image: str, *env: bytes | str, opts=()) -> subprocess.CompletedProcess:
    """docker run with values expected to be refused; the container is removed even if one is not."""
    name = f"deepdocker-bad-{uuid.uuid4().hex[:12]}"
    args: list[bytes | str] = ["docker", "run", "--rm", "--name", name, *opts]
    for value in env:
        args += ["-e", value]
    try:
        return subprocess.run([*args, image], capture_output=True, timeout=60)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


BAD = [
    # Config injection: a line break would be config of its own (a root program, sshd options).
    (b"TENSORBOARD_LOGDIR=/tmp/x\n[program:evil]\ncommand=/usr/bin/touch /tmp/pwned", "TENSORBOARD_LOGDIR"),
    (b"SSH_HOST_KEY_DIR=/tmp/k\nPermitRootLogin yes\nPasswordAuthentication yes", "SSH_HOST_KEY_DIR"),
    (b"NOTEBOOK_DIR=/home/jovyan\n[program:evil]", "NOTEBOOK_DIR"),
    (b"PASSWORD=pw\nroot:pwned", "PASSWORD"),
    # Unsafe values.
    (b"NB_USER=bad name", "NB_USER"),
    (b"NB_UMASK=999", "NB_UMASK"),
    (b"NOTEBOOK_ARGS=--ServerApp.token=x", "NOTEBOOK_ARGS"),
    (b"JUPYTER_TOKEN=a", "JUPYTER_TOKEN"),
    (b"JUPYTER_TOKEN_FILE=/etc/shadow", "JUPYTER_TOKEN_FILE"),
    (b"DEEPDOCKER_RUN_DIR=/root/sharedfolder", "DEEPDOCKER_RUN_DIR"),
    (b"DEEPDOCKER_RUN_DIR=/etc", "DEEPDOCKER_RUN_DIR"),
    (b"SSH_HOST_KEY_DIR=keys", "SSH_HOST_KEY_DIR"),
    # Bytes that are not UTF-8, paths under files, a socket path too long, the wrong variable blamed.
    (b"JUPYTER_BASE_URL=/caf\xe9/", "JUPYTER_BASE_URL"),
    (b"SERVICES=jupyter\xff", "SERVICES"),
    (b"DEEPDOCKER_RUN_DIR=/etc/passwd/run", "DEEPDOCKER_RUN_DIR"),
    (b"DEEPDOCKER_RUN_DIR=/run/" + b"d" * 120, "DEEPDOCKER_RUN_DIR"),
    (b"JUPYTER_PORT=6006", "JUPYTER_PORT"),
    # Accepted once and unreachable: refused now.
    (b"JUPYTER_BASE_URL=/../", "JUPYTER_BASE_URL"),
    (b"JUPYTER_BASE_URL=/" + b"a" * 100_000, "JUPYTER_BASE_URL"),
    (b"DEEPDOCKER_BIND=::", "DEEPDOCKER_BIND"),
    (b"DEEPDOCKER_BIND=10.255.255.1", "DEEPDOCKER_BIND"),
    (b"NOTEBOOK_DIR=/root", "NOTEBOOK_DIR"),
    # Folders that are not deepdocker's to make 0700 and fill with a private key (a second look).
    (b"SSH_HOST_KEY_DIR=/tmp", "SSH_HOST_KEY_DIR"),
    (b"SSH_HOST_KEY_DIR=/root/sharedfolder", "SSH_HOST_KEY_DIR"),
    (b"SSH_HOST_KEY_DIR=/home/jovyan/keys", "SSH_HOST_KEY_DIR"),
    (b"SSH_HOST_KEY_DIR=/etc", "SSH_HOST_KEY_DIR"),
    # Root's group for the notebook user: never.
    (b"NB_GID=0", "NB_GID"),
]


@pytest.mark.parametrize("value, var", BAD, ids=[v for _, v in BAD])
def test_bad_values_stop_the_start_with_one_line(image, value, var):
    result = run_bad(image, value)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode(errors="replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"deepdocker-entrypoint: {var}=") and "; accepted: " in lines[0]
    assert result.stdout == b""


def test_secrets_are_never_echoed(image):
    for value in (b"JUPYTER_TOKEN=my secret token", b"JUPYTER_PASSWORD=pass\x07word", b"PASSWORD=pw\nroot:x"):
        result = run_bad(image, value)
        assert result.returncode == 2
        secret = value.split(b"=", 1)[1]
        assert secret not in result.stderr and secret.split()[0] not in result.stderr


def test_a_token_file_with_white_space_inside_is_refused(image):
    folder = Path(tempfile.mkdtemp())
    (folder / "token").write_text("two words\n")
    (folder / "token").chmod(0o644)
    folder.chmod(0o755)
    try:
        result = run_bad(image, "JUPYTER_TOKEN_FILE=/secrets/token", opts=["-v", f"{folder}:/secrets:ro"])
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    assert result.returncode == 2 and b"JUPYTER_TOKEN_FILE" in result.stderr and b"two" not in result.stderr


def test_files_the_notebook_user_plants_do_not_break_the_next_start(containers):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN, "SERVICES": "jupyter,tensorboard"}, ports=[8888])
    c.wait_health("healthy")
    plant = (
        "cd /run/deepdocker/jupyter"
        " && ln -sf /etc/shadow token.tmp && ln -sf /etc/shadow .token.tmp"
        " && ln -sf /etc/shadow config/.jupyter_server_config.json.tmp"
        " && rm -rf runtime && ln -s /etc runtime"
        " && mkdir -p config/jupyter_server_config.json.d && ln -f /etc/hostname hardlink 2>/dev/null; true"
    )
    result = c.exec("bash", "-c", plant, user="jovyan")
    assert result.returncode == 0, result.stderr
    shadow_before = c.exec("stat", "-c", "%U %a", "/etc/shadow").stdout
    docker("restart", "-t", "10", c.id, timeout=60)
    c.wait_health("healthy")
    assert c.exec("stat", "-c", "%U %a", "/etc/shadow").stdout == shadow_before
    assert c.exec("test", "-L", "/run/deepdocker/jupyter/runtime").returncode != 0
    assert api(c.port(8888), TOKEN, "/api/status")[0] == 200


def test_a_shared_folder_whose_owner_changed_between_starts(containers):
    # The README's own advice (chown the folder), then `docker restart`.
    shared = Path(tempfile.mkdtemp())
    try:
        shared.chmod(0o755)
        os.chown(shared, 4242, 4242)
        c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888], opts=["-v", f"{shared}:/root/sharedfolder"])
        c.wait_health("healthy")
        os.chown(shared, 5252, 5252)
        docker("restart", "-t", "10", c.id, timeout=60)
        c.wait_health("healthy")
        report = json.loads(c.exec("deepdocker-health", "--json").stdout)
        assert report["services"]["jupyter"]["restarts"] == 0
        assert c.host.process.get(pid=report["services"]["jupyter"]["pid"]).uid == 5252
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)


def test_a_shared_folder_with_root_as_its_group_gives_no_root_group(containers):
    shared = Path(tempfile.mkdtemp())
    try:
        os.chown(shared, 4242, 0)
        c = containers.run(env={"SERVICES": "jupyter"}, opts=["-v", f"{shared}:/root/sharedfolder"])
        c.wait_health("healthy")
        pid = c.host.supervisor("jupyter").pid
        assert c.exec("stat", "-c", "%u:%g", f"/proc/{pid}").stdout.strip() == "4242:100"
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)


def test_docker_commit_keeps_no_host_key_token_or_cookie(containers, image):
    c = containers.run(env={"SERVICES": "jupyter,sshd", "JUPYTER_TOKEN": TOKEN}, ports=[22])
    c.wait_health("healthy")
    tag = "deepdocker-test-committed:latest"
    docker("commit", c.id, tag)
    try:
        leftovers = docker("run", "--rm", "--entrypoint", "find", tag, "/run/deepdocker", "/etc/ssh", "-type", "f")
        files = leftovers.stdout.split()
        assert not [f for f in files if f.startswith("/run/deepdocker/")], files
        assert not [f for f in files if "ssh_host_" in f], files
        # A container of the committed image is a host of its own.
        copy = containers.run(env={"SERVICES": "sshd"}, image=tag)
        copy.wait_health("healthy")
        key = "/run/deepdocker/sshd/ssh_host_ed25519_key.pub"
        assert copy.exec("cat", key).stdout != c.exec("cat", key).stdout
    finally:
        docker("rmi", "-f", tag, check=False)


def test_a_daemon_that_goes_fatal_is_unhealthy_soon_after_the_start_period(containers):
    # An option Jupyter refuses: it exits at once, every time, and goes FATAL within seconds.
    start = time.monotonic()
    c = containers.run(
        "jupyter", "lab", "--ServerApp.port_retries=not-a-number", env={"SERVICES": "jupyter"},
        expected=(r"\| \[C .*port_retries", r"\bCRIT\b", r"FATAL", r"\bERROR\b", r"Traceback"),
    )  # fmt: skip
    c.wait_health("unhealthy", timeout=90)
    took = time.monotonic() - start
    # Docker ignores failures for the 30 s start period, then needs 3 failed checks 5 s apart.
    assert took < 55, f"unhealthy only after {took:.0f} s"
    assert json.loads(c.exec("deepdocker-health", "--json").stdout)["services"]["jupyter"]["state"] == "FATAL"


def test_a_read_only_root_runs_with_tmpfs_for_run_and_tmp(containers):
    c = containers.run(
        env={"SERVICES": "jupyter,tensorboard,sshd", "JUPYTER_TOKEN": TOKEN},
        ports=[8888],
        opts=["--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp"],
    )
    c.wait_health("healthy")
    logs = c.logs()
    assert "HOME for the notebook daemons: /run/deepdocker/home (/home/jovyan cannot be written)" in logs
    # A notebook's work goes somewhere: a file saved through Jupyter lands in the writable home.
    status, _ = api(c.port(8888), TOKEN, "/api/contents/saved.txt", {"type": "file", "format": "text", "content": "x"},
                    "PUT")  # fmt: skip
    assert status in (200, 201)


def test_a_read_only_root_adopts_the_shared_folders_owner(containers):
    shared = Path(tempfile.mkdtemp())
    try:
        os.chown(shared, 1500, 1500)
        c = containers.run(
            env={"SERVICES": "jupyter,tensorboard", "JUPYTER_TOKEN": TOKEN},
            ports=[8888],
            opts=["--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp", "-v", f"{shared}:/root/sharedfolder"],
        )
        c.wait_health("healthy")
        pid = json.loads(c.exec("deepdocker-health", "--json").stdout)["services"]["jupyter"]["pid"]
        assert (c.host.process.get(pid=pid).uid, c.host.process.get(pid=pid).gid) == (1500, 1500)
        # Its home cannot be written: Jupyter's folder is the shared one.
        status, _ = api(c.port(8888), TOKEN, "/api/contents/x.txt",
                        {"type": "file", "format": "text", "content": "x"}, "PUT")  # fmt: skip
        assert status in (200, 201)
        assert ((shared / "x.txt").stat().st_uid, (shared / "x.txt").stat().st_gid) == (1500, 1500)
        # Served by nss_wrapper: the name is jovyan's, /etc untouched.
        # Read as the daemon's own user: root in the container lacks CAP_SYS_PTRACE for it.
        who = c.exec("cat", f"/proc/{pid}/environ", user="1500:1500")
        assert "NSS_WRAPPER_PASSWD=/run/deepdocker/passwd" in who.stdout
        assert "jovyan:x:1000:" in c.exec("cat", "/etc/passwd").stdout
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)


def test_a_read_only_root_without_tmpfs_says_what_it_needs(image):
    result = run_bad(image, "SERVICES=jupyter,sshd", opts=["--read-only"])
    assert result.returncode == 2
    assert b"--tmpfs /run" in result.stderr and len(result.stderr.splitlines()) == 1


def test_docker_stop_of_the_original_interactive_shell_is_quick(containers):
    # docker run -dit ... deepdocker:cpu bash; later, docker stop.
    c = containers.run("bash", env={"SERVICES": "jupyter,tensorboard"}, opts=["-t", "-i"])
    c.wait_health("healthy")
    status, took = c.stop(timeout=10)
    assert took < 5, f"docker stop took {took:.1f} s"
    assert status != 137, "killed by Docker after its timeout"
    assert "SIGKILL" not in c.logs()
