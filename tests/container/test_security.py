"""Secure by default, in a container: logins, SSH, users and UIDs, secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.container.tracked import ssh
from tests.helpers import wait_until

pytestmark = pytest.mark.container

TOKEN = "container-test-token-0123456789"


def test_ssh_key_login_as_the_notebook_user_with_the_notebooks_path(containers, keypair):
    pub = keypair.with_suffix(".pub").read_text().strip()
    c = containers.run(env={"SERVICES": "sshd", "SSH_AUTHORIZED_KEYS": pub}, ports=[22])
    c.wait_health("healthy")
    port = c.port(22)
    who = ssh(port, keypair, "jovyan", "id -un; command -v python jupyter R")
    assert who.returncode == 0, who.stderr
    name, python, jupyter, r = who.stdout.split()
    # Python: the user's layer in their home, on top of the image's (entrypoint.userlayer).
    assert (name, jupyter, r) == ("jovyan", "/opt/venv/bin/jupyter", "/usr/bin/R")
    assert python.startswith("/home/jovyan/.local/share/deepdocker/python3.") and python.endswith("/bin/python")
    # Root may not log in, even with an authorized key; nobody logs in with a password.
    assert ssh(port, keypair, "root", "true").returncode == 255
    password = ssh(port, keypair, "jovyan", "true", extra=["-o", "PreferredAuthentications=password"])
    assert password.returncode == 255 and "Permission denied" in password.stderr


def test_files_written_through_jupyter_belong_to_the_host_owner(containers):
    shared = Path(tempfile.mkdtemp())
    try:
        os.chown(shared, 4242, 4242)
        c = containers.run(
            env={"SERVICES": "jupyter", "JUPYTER_TOKEN": TOKEN},
            ports=[8888],
            opts=["-v", f"{shared}:/root/sharedfolder"],
        )
        c.wait_health("healthy")
        req = urllib.request.Request(
            f"http://127.0.0.1:{c.port(8888)}/api/contents/sharedfolder/from-jupyter.txt",
            data=json.dumps({"type": "file", "format": "text", "content": "hello"}).encode(),
            method="PUT",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status in (200, 201)
        made = shared / "from-jupyter.txt"
        assert made.read_text() == "hello"
        assert (made.stat().st_uid, made.stat().st_gid) == (4242, 4242)
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)


def test_an_arbitrary_uid_runs_the_unprivileged_services(containers):
    c = containers.run(
        env={"SERVICES": "jupyter,tensorboard", "JUPYTER_TOKEN": TOKEN}, opts=["--user", "4242:4242"], ports=[8888]
    )
    c.wait_health("healthy")
    # TensorBoard on demand works without root too: its first request starts it.
    req = urllib.request.Request(
        f"http://127.0.0.1:{c.port(8888)}/tensorboard/", headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200
    for name in ("jupyter", "tensorboard"):
        pid = json.loads(c.exec("deepdocker-health", "--json").stdout)["services"][name]["pid"]
        assert c.host.process.get(pid=pid).uid == 4242


def test_no_secret_in_the_process_list(containers):
    c = containers.run(env={"SERVICES": "jupyter,tensorboard", "JUPYTER_TOKEN": TOKEN, "PASSWORD": "rstudio-pw-123"})
    c.wait_health("healthy")
    ps = c.exec("ps", "-eo", "args")
    assert ps.returncode == 0
    assert TOKEN not in ps.stdout and "rstudio-pw-123" not in ps.stdout
    # Nor in supervisord.conf, which only root may read anyway.
    conf = c.exec("cat", "/run/deepdocker/supervisord.conf").stdout
    assert TOKEN not in conf
    assert c.exec("cat", "/run/deepdocker/supervisord.conf", user="jovyan").returncode != 0


def test_tensorboard_port_is_closed_unless_published_on_purpose(containers):
    private = containers.run(env={"SERVICES": "jupyter,tensorboard", "JUPYTER_TOKEN": TOKEN}, ports=[6006, 8888])
    public = containers.run(env={"SERVICES": "tensorboard", "TENSORBOARD_PUBLIC": "true"}, ports=[6006])
    private.wait_health("healthy")
    public.wait_health("healthy")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{private.port(6006)}/", timeout=5)
    proxied = urllib.request.Request(
        f"http://127.0.0.1:{private.port(8888)}/tensorboard/", headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(proxied, timeout=30) as r:
        assert r.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{public.port(6006)}/", timeout=10) as r:
        assert r.status == 200
    assert "WARNING: TENSORBOARD_PUBLIC=true" in public.logs()


def test_host_keys_persist_in_a_mounted_folder(containers):
    keys = Path(tempfile.mkdtemp())
    try:
        env = {"SERVICES": "sshd", "SSH_HOST_KEY_DIR": "/etc/ssh/host_keys"}
        first = containers.run(env=env, opts=["-v", f"{keys}:/etc/ssh/host_keys"])
        first.wait_health("healthy")
        made = (keys / "ssh_host_ed25519_key.pub").read_text()
        assert not containers.remove_all()
        second = containers.run(env=env, opts=["-v", f"{keys}:/etc/ssh/host_keys"])
        second.wait_health("healthy")
        assert (keys / "ssh_host_ed25519_key.pub").read_text() == made
        wait_until(lambda: second.host.supervisor("sshd").is_running, 30)
    finally:
        shutil.rmtree(keys, ignore_errors=True)


def test_notebook_code_cannot_switch_the_login_off(containers):
    c = containers.run(env={"SERVICES": "jupyter", "JUPYTER_TOKEN": TOKEN}, ports=[8888])
    c.wait_health("healthy")
    # What a notebook's code could write, as the notebook user: the login off, in every user config.
    off = json.dumps({"IdentityProvider": {"token": ""}, "ServerApp": {"token": "", "disable_check_xsrf": True}})
    for folder in ("/home/jovyan/.jupyter", "/home/jovyan/.local/etc/jupyter"):
        script = f"mkdir -p {folder} && echo '{off}' > {folder}/jupyter_server_config.json"
        assert c.exec("bash", "-c", script, user="jovyan").returncode == 0
    # deepdocker's own config is root's: the notebook user can neither change nor replace it.
    for target in ("/run/deepdocker/jupyter/config/jupyter_server_config.json", "/run/deepdocker/jupyter/config/x"):
        assert c.exec("bash", "-c", f"echo {{}} > {target}", user="jovyan").returncode != 0
    assert c.exec("mv", "/run/deepdocker/jupyter/config", "/run/deepdocker/jupyter/c2", user="jovyan").returncode != 0
    assert c.exec("supervisorctl", "restart", "jupyter").returncode == 0
    c.wait_health("healthy")
    wait_until(lambda: c.exec("deepdocker-health").returncode == 0, 60)
    base = f"http://127.0.0.1:{c.port(8888)}"
    for path in ("/api/contents", "/api/kernels", "/api/terminals"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + path, timeout=30)
        assert e.value.code == 403, path
    req = urllib.request.Request(f"{base}/api/contents", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
