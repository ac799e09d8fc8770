"""The image on a real Docker engine: services, health, ports, restarts, stop, usage, contents."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from entrypoint.services import REGISTRY
from tests.container.tracked import docker
from tests.helpers import wait_until

pytestmark = pytest.mark.container

PORTS = {name: s.default_port for name, s in REGISTRY.items()}
TOKEN = "image-test-token-0123456789"


@pytest.fixture(scope="module")
def installed(image) -> list[str]:
    """What SERVICES=all starts in this image (RStudio where Posit's download answered at build time)."""
    config = docker("run", "--rm", "-e", "SERVICES=all", image, "--print-config").stdout
    return re.findall(r"^\[program:(\w+)\]", config, re.M)


def answers(c, name: str) -> bool:
    """The service answers from outside the container, where users reach it."""
    if name == "sshd":
        with socket.create_connection(("127.0.0.1", c.port(PORTS["sshd"])), timeout=5) as s:
            return s.recv(64).startswith(b"SSH-2.0-")
    if name == "rstudio":
        with urllib.request.urlopen(f"http://127.0.0.1:{c.port(PORTS['rstudio'])}/health-check", timeout=10) as r:
            return r.status == 200
    # The others are served behind Jupyter's login (their own ports are loopback only).
    path = "/api/status" if name == "jupyter" else f"/{name}/"
    url = f"http://127.0.0.1:{c.port(PORTS['jupyter'])}{path}"
    req = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status == 200


@pytest.mark.parametrize("services", ["jupyter", "jupyter,tensorboard", "sshd", "all"])
def test_services_run_healthy_and_answer(containers, installed, services):
    c = containers.run(env={"SERVICES": services, "JUPYTER_TOKEN": TOKEN}, ports=PORTS.values())
    c.wait_health("healthy")
    enabled = installed if services == "all" else services.split(",")
    assert {"jupyter", "tensorboard", "sshd"} <= set(installed)
    # With Jupyter, TensorBoard, VS Code and Shiny wait for their first request (on demand): IDLE to
    # deepdocker-health, RUNNING to supervisorctl (a waiting shell), whose status exits 0.
    lazy = {n for n in enabled if REGISTRY[n].on_demand} if "jupyter" in enabled else set()

    def states() -> dict[str, str]:
        status = c.exec("supervisorctl", "status")
        assert status.returncode == 0, status.stdout + status.stderr  # 3 would be "not running"
        return dict(line.split()[:2] for line in status.stdout.splitlines())

    # supervisorctl, with no flags, sees exactly the enabled daemons.
    assert states() == {name: "RUNNING" for name in enabled}
    idle = json.loads(c.exec("deepdocker-health", "--json").stdout)["services"]
    assert {n for n, s in idle.items() if s["state"] == "IDLE"} == lazy
    for name in enabled:
        assert answers(c, name), name
    wait_until(lambda: set(states().values()) == {"RUNNING"}, 30, what="every daemon RUNNING")
    for name in enabled:
        assert c.host.supervisor(name).is_running
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert report["healthy"] and sorted(report["services"]) == sorted(enabled)


def test_notebook_daemons_run_as_the_notebook_user(containers):
    c = containers.run(env={"SERVICES": "jupyter,tensorboard,sshd", "DEEPDOCKER_ON_DEMAND": "false"})
    c.wait_health("healthy")
    for name in ("jupyter", "tensorboard"):
        pid = c.host.supervisor(name).pid
        assert c.host.process.get(pid=pid).user == "jovyan", name
    assert c.host.process.get(pid=c.host.supervisor("sshd").pid).user == "root"


def test_sigkilled_daemon_returns_and_container_is_healthy_again(containers):
    c = containers.run(env={"SERVICES": "jupyter,tensorboard", "DEEPDOCKER_ON_DEMAND": "false"})
    c.wait_health("healthy")
    for name in ("jupyter", "tensorboard"):
        old = c.host.supervisor(name).pid
        assert c.exec("kill", "-KILL", str(old)).returncode == 0

        def respawned(name=name, old=old):
            sv = c.host.supervisor(name)
            return sv.is_running and sv.pid != old

        wait_until(respawned, 60, interval=0.2, what=f"{name} to come back")
    assert c.exec("deepdocker-health", "--wait", "60").returncode == 0
    c.wait_health("healthy")


def test_docker_stop_is_quick_clean_and_by_sigterm(containers, installed):
    c = containers.run(env={"SERVICES": "all", "DEEPDOCKER_ON_DEMAND": "false"})
    c.wait_health("healthy")
    status, took = c.stop(timeout=10)
    assert status == 0
    assert took < 5, f"docker stop took {took:.1f} s"
    logs = c.logs()
    assert "SIGKILL" not in logs
    for name in installed:
        assert re.search(rf"stopped: {name} \((exit status 0|terminated by SIGTERM)\)", logs), logs


def test_bad_services_exit_at_once_with_the_message(containers):
    c = containers.run(env={"SERVICES": "bogus"})
    start = time.monotonic()
    wait_until(lambda: not c.inspect()["State"]["Running"], 20, interval=0.2, what="the container to exit")
    assert time.monotonic() - start < 10
    assert c.inspect()["State"]["ExitCode"] == 2
    assert "SERVICES='bogus': unknown service 'bogus'" in c.logs()


def test_a_command_passes_through_and_its_stdout_is_its_own(image):
    # supervisord's and the daemons' lines go to stderr: a pipe or `> file` gets the command's output.
    result = docker("run", "--rm", image, "bash", "-c", "deepdocker-health --wait 60 >&2; echo hi", timeout=120)
    assert result.stdout == "hi\n"
    assert "INFO spawned: 'jupyter'" in result.stderr and "jupyter     | " in result.stderr


def test_original_interactive_usage_gives_a_shell_with_services(image):
    # `docker run -it deepdocker:cpu bash`, with the shell's input from a pipe.
    # The shell is the notebook user's: deepdocker-health reads supervisord's state through a
    # read-only socket of its own; supervisorctl (control) stays root's (docker exec).
    script = "deepdocker-health --wait 90 >/dev/null && deepdocker-health && whoami && exit 3\n"
    result = subprocess.run(
        ["docker", "run", "--rm", "-i", image, "bash"], input=script, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "RUNNING" in result.stdout and result.stdout.splitlines()[-1] == "jovyan"


def test_healthcheck_is_exec_form_with_explicit_timings(image):
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    check = config["Healthcheck"]
    assert check["Test"] == ["CMD", "/opt/deepdocker/venv/bin/deepdocker-health", "--live"]
    assert check["Interval"] and check["Timeout"] and check["StartPeriod"] and check["Retries"]
    # The services with a login of their own: the others listen on loopback, behind Jupyter's.
    assert set(config["ExposedPorts"]) == {f"{s.default_port}/tcp" for s in REGISTRY.values() if not s.public_var}
    assert config["Labels"]["org.opencontainers.image.title"] == "deepdocker"


def test_no_host_keys_baked_in_and_each_container_its_own(containers):
    c1 = containers.run(env={"SERVICES": "sshd"}, ports=[22])
    c2 = containers.run(env={"SERVICES": "sshd"}, ports=[22])
    image_keys = docker("run", "--rm", "--entrypoint", "sh", c1.inspect()["Config"]["Image"], "-c", "ls /etc/ssh")
    assert "ssh_host_" not in image_keys.stdout
    keys = []
    for c in (c1, c2):
        c.wait_health("healthy")
        scan = subprocess.run(
            ["ssh-keyscan", "-T", "5", "-p", str(c.port(22)), "127.0.0.1"], capture_output=True, text=True
        )
        assert "ssh-ed25519" in scan.stdout
        keys.append(scan.stdout.split()[-1])
    assert keys[0] != keys[1]


def test_control_plane_survives_user_pip(containers):
    c = containers.run(env={"SERVICES": "jupyter"})
    c.wait_health("healthy")
    # The user installs another supervisor into their own environment: supervision goes on.
    result = c.exec("pip", "install", "-q", "supervisor==4.2.5", user="jovyan", timeout=300)
    assert result.returncode == 0, result.stderr
    # It went to the user's layer (a login shell's python), not into the image's environment.
    user_version = c.exec(
        "bash", "-lc", "python -c 'import importlib.metadata as m; print(m.version(\"supervisor\"))'", user="jovyan"
    )
    assert user_version.stdout.strip() == "4.2.5", user_version.stderr
    assert "supervisor" not in c.exec("sh", "-c", "ls /opt/venv/lib/python3*/site-packages").stdout
    ours = c.exec(
        "/opt/deepdocker/venv/bin/python", "-c", "import importlib.metadata as m; print(m.version('supervisor'))"
    )
    assert ours.stdout.strip() == "4.3.0"
    # The control plane's supervisorctl (the user's own now comes first on their PATH, and is theirs).
    assert c.exec("/usr/local/bin/supervisorctl", "restart", "jupyter").returncode == 0
    assert c.exec("deepdocker-health", "--wait", "60").returncode == 0


R_KERNEL = """
import jupyter_client
km, kc = jupyter_client.manager.start_new_kernel(kernel_name="ir")
out = []
kc.execute_interactive("cat(6 * 7)", output_hook=lambda m: out.append(m["content"].get("text", "")), timeout=60)
kc.stop_channels(); km.shutdown_kernel(now=True)
print("".join(out))
"""


def test_r_kernel_executes_code(containers):
    c = containers.run("sleep", "600")
    result = c.exec("python", "-c", R_KERNEL, timeout=180, user="jovyan")
    assert result.stdout.strip() == "42", result.stdout + result.stderr


def test_rpy2_reaches_r(containers):
    c = containers.run("sleep", "600")
    result = c.exec("python", "-c", "import rpy2.robjects as ro; print(ro.r('sum(1:10)')[0])", user="jovyan")
    assert result.stdout.strip() == "55", result.stdout + result.stderr


FRAMEWORK_CHECKS = {
    "torch": "import torch; print(int(torch.arange(10).sum()))",
    "tensorflow": "import tensorflow as tf; print(int(tf.reduce_sum(tf.range(10))))",
    "keras": (
        "import keras, numpy as np; m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]);"
        "print(m.predict(np.zeros((4, 3)), verbose=0).shape[0] * 11 + 1)"
    ),
    "pytensor": (
        "import pytensor, pytensor.tensor as pt; x = pt.vector('x');"
        "f = pytensor.function([x], (x ** 2).sum()); print(int(f([1.0, 2.0, 3.0, 5.0, 0.0])))"
    ),
    "onnx": (
        "import onnx, onnxruntime as ort, numpy as np; from onnx import helper, TensorProto as T;"
        "io = lambda n: helper.make_tensor_value_info(n, T.FLOAT, [3]);"
        "g = helper.make_graph([helper.make_node('Add', ['a', 'b'], ['c'])], 'g', [io('a'), io('b')], [io('c')]);"
        "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)]); m.ir_version = 8;"
        "onnx.checker.check_model(m);"
        "s = ort.InferenceSession(m.SerializeToString());"
        "print(int(s.run(None, {'a': np.array([1, 2, 3], 'f'), 'b': np.array([10, 10, 9], 'f')})[0].sum()))"
    ),
}
EXPECTED = {"torch": "45", "tensorflow": "45", "keras": "45", "pytensor": "39", "onnx": "35"}


def test_each_installed_framework_imports_and_computes(containers):
    c = containers.run("sleep", "600")
    installed = c.exec("cat", "/opt/deepdocker/frameworks").stdout.split()
    assert set(installed) <= set(FRAMEWORK_CHECKS)
    label = c.inspect()["Config"]["Labels"]["io.deepdocker.frameworks"]
    assert installed == label.replace(",", " ").split()
    for fw in installed:
        result = c.exec("python", "-c", FRAMEWORK_CHECKS[fw], timeout=300, user="jovyan")
        assert result.stdout.strip().splitlines()[-1:] == [EXPECTED[fw]], f"{fw}: {result.stdout}{result.stderr}"
