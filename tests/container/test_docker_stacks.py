"""A docker-stacks user's habits, typed as docker-stacks' docs ("Common Features") show them."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.container.tracked import Container, api, docker, problems
from tests.helpers import wait_until

TOKEN = "docker-stacks-habits-token"


def run(image: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`docker run --rm [options] IMAGE [command]`, as typed: its status, stdout and stderr."""
    *options, command = _split(args)
    return docker("run", "--rm", *options, image, *command, timeout=timeout, check=False)


def _split(args: tuple[str, ...]) -> list:
    """("-e", "X=1", "--", "id") -> ["-e", "X=1", ["id"]]: options, then the command after "--"."""
    i = args.index("--") if "--" in args else len(args)
    return [*args[:i], list(args[i + 1 :])]


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


# -- 1. commands run as the notebook user ---------------------------------------------------------


def test_a_command_writes_into_the_mounted_folder_as_the_notebook_user(image, host_dir):
    result = run(image, "-v", f"{host_dir}:/root/sharedfolder", "--", "touch", "/root/sharedfolder/x")
    assert result.returncode == 0, result.stderr
    assert owner(host_dir / "x") == (1000, 100)


@pytest.mark.parametrize(
    "options, expected",
    [
        (("--user", "root", "-e", "NB_UID=1010"), "uid=1010(jovyan) gid=100(users) groups=100(users)"),
        (("--user", "root", "-e", "NB_GID=110"), "uid=1000(jovyan) gid=110(jovyan) groups=110(jovyan),100(users)"),
        ((), "uid=1000(jovyan) gid=100(users) groups=100(users)"),
        (("-e", "NB_USER=root"), "uid=0(root) gid=0(root) groups=0(root)"),
        (("--user", "root", "-e", "NB_UID=0"), "uid=0(root) gid=0(root) groups=0(root)"),
        (("-e", "NB_USER=alice", "-e", "NB_GROUP=alices"), "uid=1000(alice) gid=100(alices) groups=100(alices)"),
    ],
)
def test_id_as_docker_stacks_prints_it(image, options, expected):
    result = run(image, *options, "--", "id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
    root = "uid=0(" in expected
    assert ("NB_UID=0: Jupyter, TensorBoard and commands run as root" in result.stderr) == root


def test_home_umask_and_sudo_as_asked(image):
    script = 'echo "$HOME $(whoami) $(pwd)"; touch f; stat -c %a f; sudo -n id -u 2>&1 || echo no-sudo'
    script += "; sudo -n which jupyter 2>&1 || echo no-sudo"  # docker-stacks' test_sudo_path
    plain = run(image, "-e", "NB_UMASK=077", "-w", "/tmp", "--", "bash", "-c", script).stdout.splitlines()
    assert (plain[0], plain[1], plain[-1]) == ("/home/jovyan jovyan /tmp", "600", "no-sudo"), plain
    granted = run(image, "--user", "root", "-e", "GRANT_SUDO=yes", "-w", "/tmp", "--", "bash", "-c", script)
    expected = ["/home/jovyan jovyan /tmp", "644", "0", "/opt/venv/bin/jupyter"]
    assert granted.stdout.splitlines() == expected, granted.stdout + granted.stderr
    refused = run(image, "--user", "1000", "-e", "GRANT_SUDO=yes", "--", "true")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].startswith(
        "deepdocker-entrypoint: GRANT_SUDO='yes': only root can do that"
    )


@pytest.mark.parametrize(
    "options, expected",
    [
        (("-e", "NB_USER=alice", "-e", "NB_UID=1500"), "uid=1500(alice) gid=100(users) groups=100(users)"),
        (("-e", "NB_USER=alice", "-e", "NB_UID=1500", "-e", "NB_GID=1600"),
         "uid=1500(alice) gid=1600(alice) groups=1600(alice),100(users)"),
    ],
)  # fmt: skip
def test_a_rename_with_a_uid_change(image, options, expected):
    result = run(image, *options, "--", "bash", "-c", "id; touch ~/x && stat -c %u ~/x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [expected, expected.split("(")[0].split("=")[1]]


def test_a_rename_takes_the_host_folders_owner(image, host_dir):
    host_dir.mkdir()
    os.chown(host_dir, 1500, 1500)
    result = run(image, "-e", "NB_USER=nosuch", "-v", f"{host_dir}:/root/sharedfolder", "--",
                 "bash", "-c", "id -un; touch /root/sharedfolder/y")  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "nosuch", result.stderr
    assert owner(host_dir / "y") == (1500, 1500)


def test_nb_user_renames_jovyan_home_included(image):
    script = "whoami; echo $HOME; ls -a ~/ | grep -c bashrc; touch ~/x && echo saved; pgrep -u alice -c jupyter-lab"
    result = run(image, "-e", "NB_USER=alice", "--", "bash", "-c", f"deepdocker-health --wait 60 >/dev/null; {script}")
    assert result.stdout.split() == ["alice", "/home/alice", "1", "saved", "1"], result.stderr


def test_a_renamed_user_with_chown_home_owns_the_home_the_rename_linked(image):
    # docker-stacks' test_nb_user_change: /home/nayvoj is the rename's link to the image's home.
    script = 'id; stat -c "%U %G" /home/nayvoj/ /home/nayvoj/.bashrc'
    result = run(image, "--user", "root", "-e", "NB_USER=nayvoj", "-e", "CHOWN_HOME=yes", "--", "bash", "-c", script)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.splitlines() == [
        "uid=1000(nayvoj) gid=100(users) groups=100(users)", "nayvoj users", "nayvoj users"]  # fmt: skip
    assert "Running as nayvoj: bash -c" in result.stderr


def test_chown_home_and_chown_extra(image):
    with tempfile.TemporaryDirectory() as extra:
        Path(extra, "data.csv").write_text("1,2\n")
        os.chown(extra, 0, 0)
        script = "stat -c %u ~/.bashrc ~ /extra /extra/data.csv"
        options = ["--user", "root", "-e", "NB_UID=1010", "-e", "CHOWN_HOME=yes", "-e", "CHOWN_HOME_OPTS=-R"]
        options += ["-e", "CHOWN_EXTRA=/extra", "-v", f"{extra}:/extra"]
        result = run(image, *options, "--", "sh", "-c", script)
        # -R for the home; CHOWN_EXTRA without CHOWN_EXTRA_OPTS=-R: the folder itself.
        assert result.stdout.split() == ["1010", "1010", "1010", "0"], result.stderr
        assert owner(Path(extra)) == (1010, 100)


def test_start_up_lines_go_to_stderr_as_docker_stacks_writes_them(image):
    # docker-stacks' test_log_stderr and its waits for "Running as NB_USER:" (the account is ready).
    result = run(image, "--user", "root", "-e", "NB_USER=root", "-e", "NB_UID=0", "-e", "NB_GID=0", "--", "echo", "out")
    assert result.stdout == "out\n", result.stderr
    assert "Entered start.sh with args: echo out" in result.stderr
    assert "Running as root: echo out" in result.stderr
    renamed = run(image, "-e", "NB_USER=nayvoj", "-e", "CHOWN_HOME=yes", "--", "Rscript", "-e", "1")
    said = [line.split("| ", 1)[-1] for line in renamed.stderr.splitlines() if line.startswith("deepdocker | ")]
    # Whom it hands over to, then what it runs (the daemons' lines follow, as the services run beside it).
    handed = [said.index("Running as nayvoj: Rscript -e 1"), said.index("Executing the command: Rscript -e 1")]
    assert handed[0] < handed[1], renamed.stderr
    assert renamed.stdout == "[1] 1\n"
    quiet = run(image, "-e", "JUPYTER_DOCKER_STACKS_QUIET=1", "--", "true")
    assert quiet.returncode == 0 and "Entered start.sh" not in quiet.stderr and "Executing" not in quiet.stderr


def test_jupyter_env_vars_to_unset_reach_neither_the_command_nor_jupyter(image):
    script = 'echo "${CLOUD_KEY-unset}"; deepdocker-health --wait 60 >/dev/null; '
    script += "pid=$(pgrep -o -x jupyter-lab); tr '\\0' '\\n' < /proc/$pid/environ > /tmp/env; "
    script += "grep -c ^CLOUD_KEY= /tmp/env; grep -c ^JUPYTER_CONFIG_PATH= /tmp/env"
    env = ["-e", "CLOUD_KEY=abc", "-e", "JUPYTER_ENV_VARS_TO_UNSET=CLOUD_KEY"]
    result = run(image, *env, "--", "bash", "-c", script)
    # Jupyter (and so its kernels) runs without it too; its environment was read (it has deepdocker's own).
    assert result.stdout.split() == ["unset", "0", "1"], result.stderr


# -- 2. start commands, NOTEBOOK_ARGS, DOCKER_STACKS_JUPYTER_CMD, hooks ---------------------------


def jupyter_argv(c: Container) -> list[str]:
    pid = c.exec("pgrep", "-o", "-x", "jupyter-lab").stdout.split()[0]
    return c.exec("cat", f"/proc/{pid}/cmdline").stdout.split("\0")


def test_start_notebook_py_with_notebook_args_and_options(containers):
    env = {"JUPYTER_TOKEN": TOKEN, "NOTEBOOK_ARGS": "--ServerApp.max_body_size=123456 --debug"}
    c = containers.run("start-notebook.py", "--ServerApp.max_buffer_size=654321", env=env, ports=[8888])
    c.wait_health()
    argv = jupyter_argv(c)
    assert "--ServerApp.max_body_size=123456" in argv and "--debug" in argv
    assert "--ServerApp.max_buffer_size=654321" in argv
    assert api(c.port(8888), TOKEN, "/api/status")[0] == 200


@pytest.mark.parametrize(
    "env, opts",
    [
        ({}, ()),
        ({"GEN_CERT": "1", "JUPYTER_PORT": "7891"}, ()),
        ({"NB_USER": "testuser", "CHOWN_HOME": "1", "JUPYTER_PORT": "8123"}, ("--user", "root")),
    ],
)
def test_start_notebook_with_a_base_url_is_healthy_by_dockers_own_healthcheck(containers, env, opts):
    # docker-stacks' test_healthcheck: `start-notebook.py --ServerApp.base_url=/test`, read by Docker's
    # HEALTHCHECK; the server is under /test/ alone, behind its login.
    env = {"JUPYTER_TOKEN": TOKEN, **env}
    port = int(env.get("JUPYTER_PORT", 8888))
    c = containers.run("start-notebook.py", "--ServerApp.base_url=/test", env=env, ports=[port], opts=opts)
    c.wait_health(timeout=120)
    scheme = "https" if "GEN_CERT" in env else "http"
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    def status(token: str, path: str) -> int:
        url = f"{scheme}://127.0.0.1:{c.port(port)}{path}"
        request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert [status(TOKEN, "/test/api/status"), status("wrong", "/test/api/status"), status(TOKEN, "/api/status")] == [
        200, 403, 404]  # fmt: skip
    assert "Executing: jupyter lab" in c.logs()  # start-notebook.py's last line, which test_start_notebook reads


@pytest.mark.parametrize("cmd, page", [("notebook", "/tree"), ("nbclassic", "/nbclassic/tree"), ("lab", "/lab")])
def test_docker_stacks_jupyter_cmd(containers, cmd, page):
    c = containers.run(
        "start-notebook.sh", env={"JUPYTER_TOKEN": TOKEN, "DOCKER_STACKS_JUPYTER_CMD": cmd}, ports=[8888]
    )
    c.wait_health()
    request = urllib.request.Request(f"http://127.0.0.1:{c.port(8888)}/", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200 and r.url.split("?")[0].endswith(page)


def test_run_hooks_sh_is_there_to_source_as_docker_stacks_users_do(image):
    script = (
        "mkdir /tmp/h && echo 'export X=1' > /tmp/h/a.sh && source /usr/local/bin/run-hooks.sh /tmp/h/ && echo X=$X"
    )
    result = run(image, "-e", "JUPYTER_DOCKER_STACKS_QUIET=1", "--", "bash", "-c", script)
    assert result.stdout == "X=1\n", result.stderr


def test_start_sh_runs_the_command_and_singleuser_needs_a_hub(image):
    assert run(image, "--", "start.sh", "whoami").stdout == "jovyan\n"
    # A Hub's start is tests/container/test_hub.py's; without one, one line and nothing started.
    result = run(image, "--", "start-singleuser.py")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "deepdocker-entrypoint: JUPYTERHUB_API_TOKEN='': unset: not started by a JupyterHub; "
        "accepted: a JupyterHub Spawner's start (it sets the JUPYTERHUB_* variables)"
    )
    login_off = run(image, "--", "start-notebook.py", "--IdentityProvider.token=")
    assert login_off.returncode == 2 and "Jupyter's login is set by deepdocker" in login_off.stderr


def test_startup_hooks_run_in_order_as_docker_stacks_runs_them(image):
    with tempfile.TemporaryDirectory() as start_d, tempfile.TemporaryDirectory() as before_d:
        Path(start_d, "10-pick.sh").write_text("export PICKED_BY_HOOK=start; echo start-hook-ran\n")
        Path(before_d, "10-env.sh").write_text('export FROM_BEFORE="$PICKED_BY_HOOK-then-before"\n')
        exe = Path(before_d, "20-whoami")
        exe.write_text('#!/bin/sh\necho "hook as $(whoami)" >&2\nexit 4\n')
        exe.chmod(0o755)
        mounts = ["-v", f"{start_d}:/usr/local/bin/start-notebook.d:ro"]
        mounts += ["-v", f"{before_d}:/usr/local/bin/before-notebook.d:ro"]
        result = run(image, *mounts, "--", "bash", "-c", 'echo "$FROM_BEFORE"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "start-then-before\n"  # hook output goes to stderr
    assert "start-hook-ran" in result.stderr and "hook as root" in result.stderr
    assert "ERROR: /usr/local/bin/before-notebook.d/20-whoami has failed, continuing execution" in result.stderr
    assert "Running hooks in: /usr/local/bin/start-notebook.d as uid: 0 gid: 0" in result.stderr


# -- 3. arbitrary and remapped UIDs -----------------------------------------------------------------

INSTALL = r"""set -e
mkdir -p /tmp/pkg/rprobe && cd /tmp/pkg
printf 'from setuptools import setup\nsetup(name="ddprobe", version="1", py_modules=["ddprobe"])\n' > setup.py
echo 'X = 42' > ddprobe.py
pip install -q --no-index --no-build-isolation --no-deps . 2>&1 | grep -v WARNING || true
python -c 'import ddprobe; print("pip", ddprobe.X)'
printf 'Package: rprobe\nVersion: 1.0\nTitle: t\nDescription: t.\nLicense: MIT\n' > rprobe/DESCRIPTION
printf 'Author: t\nMaintainer: t <t@t>\n' >> rprobe/DESCRIPTION
echo 'export(answer)' > rprobe/NAMESPACE && mkdir rprobe/R && echo 'answer <- function() 42' > rprobe/R/a.R
Rscript -e 'install.packages("/tmp/pkg/rprobe", repos = NULL, type = "source", quiet = TRUE)' >/dev/null 2>&1
Rscript -e 'cat("R", rprobe::answer(), "\n")'
echo "$(whoami) $HOME"; touch ~/made-here && echo home-ok
"""


@pytest.mark.parametrize(
    "options, who",
    [
        (("--user", "1010", "--group-add", "users"), "jovyan /home/jovyan"),  # arbitrary (OpenShift)
        (("--user", "root", "-e", "NB_UID=1010", "-e", "NB_GID=1010"), "jovyan /home/jovyan"),  # remapped
    ],
)
def test_any_uid_in_users_installs_into_the_user_environment(image, options, who):
    result = run(image, *options, "--", "bash", "-c", INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-4:] == ["pip 42", "R 42 ", who, "home-ok"], result.stdout


def test_an_arbitrary_uid_has_a_name_and_its_health(image):
    result = run(image, "--user", "1010", "--", "bash", "-c", "whoami; deepdocker-health --wait 60 >/dev/null; echo $?")
    assert result.stdout.split() == ["jovyan", "0"], result.stderr


def test_the_notebook_user_sees_health_and_docker_exec_is_root(containers):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN})
    c.wait_health()
    assert c.exec("id", "-u").stdout.strip() == "0"
    as_user = docker("exec", "-u", "jovyan", c.id, "deepdocker-health", "--json")
    report = json.loads(as_user.stdout)
    assert report["healthy"] and report["services"]["jupyter"]["state"] == "RUNNING"
    denied = docker("exec", "-u", "jovyan", c.id, "supervisorctl", "status", check=False)
    assert denied.returncode != 0  # control stays root's: docker exec, or sudo with GRANT_SUDO


# -- 4. nbconvert --to pdf, usetex ----------------------------------------------------------------

PDF = r"""set -e
cd /tmp
python - <<'PY'
import nbformat
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\n$e^{i\\pi} + 1 = 0$"), nbformat.v4.new_code_cell("1 + 1")]
nbformat.write(nb, "n.ipynb")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.rcParams["text.usetex"] = True
plt.plot([1, 2]); plt.title(r"$\alpha^2$"); plt.savefig("tex.png")
PY
jupyter nbconvert --to pdf n.ipynb >/dev/null 2>&1
head -c 5 n.pdf; echo; test -s tex.png && echo usetex-ok
"""


def test_nbconvert_to_pdf_and_matplotlib_usetex(image):
    result = run(image, "--", "bash", "-c", PDF, timeout=300)
    assert result.stdout.split() == ["%PDF-", "usetex-ok"], result.stdout + result.stderr


# -- 5. GEN_CERT, IPv4 and IPv6 -------------------------------------------------------------------


def test_gen_cert_serves_https(containers):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN, "GEN_CERT": "yes"}, ports=[8888])
    c.wait_health()
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    url = f"https://127.0.0.1:{c.port(8888)}/api/status"
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30, context=context) as r:
        assert r.status == 200
    assert "https://" in c.logs()


@pytest.fixture
def ipv6_network(containers):
    name = f"deepdocker-v6-{os.getpid()}"
    made = docker("network", "create", "--ipv6", "--subnet", "fd00:dd:6::/64", name, check=False)
    if made.returncode:
        pytest.fail(f"an IPv6 Docker network cannot be made here: {made.stderr.strip()}")
    yield name
    found = containers.remove_all()  # before the network, which cannot go while they use it
    docker("network", "rm", name, check=False)
    assert not found, found


def answers(host: str, port: int) -> bool:
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/api"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("bind, v4, v6", [(None, True, True), ("0.0.0.0", True, False), ("::", False, True)])
def test_ipv4_and_ipv6_together_unless_narrowed(containers, ipv6_network, bind, v4, v6):
    env = {"JUPYTER_TOKEN": TOKEN, **({"DEEPDOCKER_BIND": bind} if bind else {})}
    c = containers.run(env=env, opts=["--network", ipv6_network])
    c.wait_health()
    net = c.inspect()["NetworkSettings"]["Networks"][ipv6_network]
    wait_until(lambda: answers(net["IPAddress"], 8888) or answers(net["GlobalIPv6Address"], 8888), 30)
    assert (answers(net["IPAddress"], 8888), answers(net["GlobalIPv6Address"], 8888)) == (v4, v6)
    assert not problems(c.logs())
