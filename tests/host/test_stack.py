"""Host mode: the real entrypoint, supervisord, JupyterLab, TensorBoard and sshd, no container."""

from __future__ import annotations

import json
import os
import pty
import pwd
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from entrypoint.core.paths import Paths
from entrypoint.services import REGISTRY, jupyter
from entrypoint.settings import find_program
from tests.helpers import TEST_PATH, Stack, children, cmdline, make_kernel_busy, wait_until

SERVICES = ("jupyter", "tensorboard", "sshd")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), ",".join(SERVICES))
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # report the 302 itself, not the login page behind it


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str, token: str | None = None, method: str = "GET") -> int:
    req = urllib.request.Request(url, method=method)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with _opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_health_reports_every_enabled_daemon(stack):
    report = stack.report()
    assert report["healthy"] is True
    assert sorted(report["services"]) == sorted(SERVICES)
    for name, s in report["services"].items():
        assert s["state"] == "RUNNING" and s["ready"] is True, (name, s)
        assert psutil.pid_exists(s["pid"])
        assert s["rss"] > 1_000_000 and s["uptime"] > 0
        assert s["port"] == stack.ports[name]
    table = stack.health()
    assert table.returncode == 0 and table.stdout.rstrip().endswith("healthy")


def test_every_port_answers(stack):
    token = stack.token()
    assert get(f"http://127.0.0.1:{stack.ports['jupyter']}/api/status", token) == 200
    assert get(f"http://127.0.0.1:{stack.ports['tensorboard']}/") == 200
    ssh = subprocess.run(
        ["ssh-keyscan", "-T", "5", "-p", str(stack.ports["sshd"]), "127.0.0.1"], capture_output=True, text=True
    )
    assert "ssh-ed25519" in ssh.stdout


def test_jupyter_refuses_requests_without_the_token(stack):
    base = f"http://127.0.0.1:{stack.ports['jupyter']}"
    assert get(f"{base}/api/contents") == 403
    assert get(f"{base}/api/contents", "wrong-token") == 403
    assert get(f"{base}/api/contents", stack.token()) == 200


def test_no_secret_in_process_list_or_config(stack):
    token = stack.token()
    for p in psutil.process_iter(["pid"]):
        assert token not in cmdline(p.pid)
    assert token not in (stack.run_dir / "supervisord.conf").read_text()
    assert (stack.run_dir / "supervisord.conf").stat().st_mode & 0o777 == 0o600
    assert (stack.run_dir / "jupyter" / "token").stat().st_mode & 0o777 == 0o600


def test_daemon_output_reaches_stdout_and_stderr_prefixed(stack):
    logs = stack.logs()
    assert re.search(r"^jupyter     \| .*Jupyter Server", logs, re.M)
    assert re.search(r"^tensorboard \| TensorBoard", logs, re.M)
    assert re.search(r"^sshd        \| Server listening on 127\.0\.0\.1 port", logs, re.M)
    # No log files anywhere under the run dir.
    assert not [p for p in stack.run_dir.rglob("*.log")]


def test_supervisorctl_reads_the_rendered_config(stack):
    supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
    out = subprocess.run(
        [supervisorctl, "-c", str(stack.run_dir / "supervisord.conf"), "status"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    states = dict(line.split()[:2] for line in out.stdout.splitlines())
    assert states == {name: "RUNNING" for name in SERVICES}


@pytest.mark.parametrize("name", SERVICES)
def test_sigkilled_daemon_comes_back_healthy(stack, name):
    old = stack.report()["services"][name]
    os.kill(old["pid"], signal.SIGKILL)
    program = REGISTRY[name].program

    def new_pid():
        return [p for p in children(stack.supervisord_pid) if p != old["pid"] and program in cmdline(p)]

    (pid,) = wait_until(new_pid, 30, what=f"{name} to be spawned again")
    report = stack.wait_healthy()
    assert report["services"][name]["pid"] == pid
    assert report["services"][name]["restarts"] == old["restarts"] + 1
    assert not psutil.pid_exists(old["pid"]) or psutil.Process(old["pid"]).status() == psutil.STATUS_ZOMBIE


def test_two_stacks_side_by_side(stack, tmp_path):
    other = Stack(tmp_path, "sshd")
    try:
        assert list(other.wait_healthy()["services"]) == ["sshd"]
        assert stack.report()["healthy"]
    finally:
        assert other.stop() == 0


def start_kernel(stack: Stack) -> int:
    base = f"http://127.0.0.1:{stack.ports['jupyter']}"
    req = urllib.request.Request(f"{base}/api/kernels", data=b"{}", method="POST")
    req.add_header("Authorization", f"token {stack.token()}")
    with urllib.request.urlopen(req, timeout=60) as r:
        kernel_id = json.load(r)["id"]

    def kernel_pid():
        # The kernel itself, not its guard (entrypoint.kernel_guard), whose command names it too.
        found = [p.pid for p in psutil.process_iter() if kernel_id in cmdline(p.pid)]
        return [p for p in found if "entrypoint.kernel_guard" not in cmdline(p)]

    return wait_until(kernel_pid, 60, what="the kernel process")[0]


def test_sigterm_stops_every_daemon_and_their_children(tmp_path):
    s = Stack(tmp_path, ",".join(SERVICES))
    try:
        s.wait_healthy()
        kernel = start_kernel(s)
        daemons = psutil.Process(s.proc.pid).children(recursive=True)
    finally:
        status = s.stop()
    assert status == 0
    _, alive = psutil.wait_procs(daemons, timeout=5)
    assert not alive, alive
    assert not psutil.pid_exists(kernel), "the Jupyter kernel outlived the stop"
    logs = s.logs()
    assert "SIGKILL" not in logs
    for name in SERVICES:
        assert re.search(rf"stopped: {name} \((exit status 0|terminated by SIGTERM)\)", logs), logs


def test_a_kernel_runs_under_its_guard_and_goes_when_its_server_is_killed(tmp_path):
    s = Stack(tmp_path, "jupyter")
    try:
        s.wait_healthy()
        kernel = psutil.Process(start_kernel(s))
        guard = kernel.parent()
        assert guard is not None and "entrypoint.kernel_guard" in cmdline(guard.pid), cmdline(kernel.pid)
        server = guard.parent()
        assert server is not None and "jupyter" in cmdline(server.pid)
        # The OOM killer's first pick: the kernel, not the server.
        assert Path(f"/proc/{kernel.pid}/oom_score_adj").read_text().strip() == "1000"
        assert Path(f"/proc/{server.pid}/oom_score_adj").read_text().strip() != "1000"
        server.kill()  # as the OOM killer would
        _, alive = psutil.wait_procs([kernel, guard], timeout=10)
        assert not alive, f"the kernel outlived its server: {alive}"
        s.wait_healthy()  # supervisord starts a new server
    finally:
        s.stop()


def test_command_mode_runs_the_command_with_services_and_stops_them(tmp_path):
    s = Stack(
        tmp_path,
        "sshd,tensorboard",
        args=("sh", "-c", "deepdocker-health --wait 60 >/dev/null && exit 7"),
    )
    status = s.proc.wait(90)
    assert status == 7, s.logs()
    # The command printed nothing; supervisord and the daemons write to stderr, never its stdout.
    assert s.stdout_path.read_text() == ""
    assert "INFO spawned: 'sshd'" in s.stderr_path.read_text()
    assert not [p for p in psutil.process_iter() if str(s.run_dir) in cmdline(p.pid)]


def test_command_not_found_stops_services(tmp_path):
    s = Stack(tmp_path, "sshd", args=("no-such-command-here",))
    assert s.proc.wait(30) == 127
    assert "cannot run 'no-such-command-here'" in s.logs()
    assert not [p for p in psutil.process_iter() if str(s.run_dir) in cmdline(p.pid)]


def unprivileged_user_can_run(user: str) -> str | None:
    """Why `user` cannot run this checkout's Python, or None when it can."""
    if os.geteuid() != 0:
        return "starting as another user needs root"
    if not os.access("/usr/bin/setpriv", os.X_OK):
        return "setpriv (util-linux) is not installed"
    uid = pwd.getpwnam(user).pw_uid
    probe = subprocess.run(
        [
            "/usr/bin/setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import entrypoint",
        ],
        capture_output=True,
        cwd="/",
    )
    if probe.returncode:
        return f"{user} cannot run {sys.executable} with this checkout (make test builds a venv others can read)"
    return None


def test_runs_as_an_ordinary_user(public_tmp):
    user = "nobody"
    why = unprivileged_user_can_run(user)
    if why:
        pytest.skip(why)
    entry = pwd.getpwnam(user)
    home = public_tmp / "home"
    home.mkdir()
    (home / "notebooks").mkdir()
    for p in (home, home / "notebooks"):
        os.chown(p, entry.pw_uid, entry.pw_gid)
    s = Stack(
        home,
        ",".join(SERVICES),
        extra_env={"HOME": str(home), "USER": user},
        preexec=lambda: (os.setgroups([]), os.setgid(entry.pw_gid), os.setuid(entry.pw_uid)),
    )
    try:
        report = s.wait_healthy()
        for name in SERVICES:
            assert psutil.Process(report["services"][name]["pid"]).uids().real == entry.pw_uid
    finally:
        assert s.stop() == 0


def test_rstudio_live(tmp_path):
    if not find_program(REGISTRY["rstudio"], TEST_PATH):
        pytest.skip("RStudio Server (rserver) is not installed: Posit's download cannot be reached on this machine")
    s = Stack(tmp_path, "rstudio")
    try:
        report = s.wait_healthy(120)
        assert report["services"]["rstudio"]["ready"]
    finally:
        assert s.stop() == 0


def test_tensorboard_is_behind_jupyters_login(stack):
    url = f"http://127.0.0.1:{stack.ports['jupyter']}/tensorboard/"
    assert get(url, stack.token()) == 200
    assert get(url) in (302, 403)  # a browser is sent to the login page


def test_jupyter_password_is_stored_hashed_and_logs_in(tmp_path):
    import http.cookiejar
    import urllib.parse

    s = Stack(tmp_path, "jupyter", {"JUPYTER_PASSWORD": "correct horse battery"})
    try:
        s.wait_healthy()
        config = jupyter.Files(Paths(s.run_dir)).config.read_text()
        assert "correct horse" not in config and '"hashed_password": "argon2:' in config
        assert "correct horse" not in s.logs() and "Jupyter token" not in s.logs()
        base = f"http://127.0.0.1:{s.ports['jupyter']}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(f"{base}/login", timeout=10).read()
        xsrf = next(c.value for c in jar if c.name == "_xsrf")
        for password, expected in (("wrong", 401), ("correct horse battery", 200)):
            form = urllib.parse.urlencode({"_xsrf": xsrf, "password": password}).encode()
            try:
                opener.open(f"{base}/login?next=/api/status", data=form, timeout=10)
                status = 200
            except urllib.error.HTTPError as e:
                status = e.code
            assert status == expected, password
        with opener.open(f"{base}/api/contents", timeout=10) as r:
            assert r.status == 200
    finally:
        assert s.stop() == 0


def test_login_url_only_for_a_terminal(stack):
    from healthchecks.cli import login_lines

    token = stack.token()
    port = stack.ports["jupyter"]
    assert login_lines(str(stack.run_dir)) == [f"jupyter login: http://127.0.0.1:{port}/lab?token={token}"]
    # Piped (as Docker's HEALTHCHECK runs it): no token in the output Docker keeps.
    assert token not in stack.health().stdout


def test_the_users_own_jupyter_config_is_read(tmp_path):
    # deepdocker's config comes first on JUPYTER_CONFIG_PATH; ~/.jupyter is still Jupyter's to read.
    user_config = tmp_path / "home" / ".jupyter"
    user_config.mkdir(parents=True)
    headers = {"ServerApp": {"tornado_settings": {"headers": {"X-From-User-Config": "yes"}}}}
    (user_config / "jupyter_server_config.json").write_text(json.dumps(headers))
    s = Stack(tmp_path, "jupyter")
    try:
        s.wait_healthy()
        with urllib.request.urlopen(f"http://127.0.0.1:{s.ports['jupyter']}/api/status?token=x", timeout=10) as r:
            pass
    except urllib.error.HTTPError as e:
        r = e
    finally:
        assert s.stop() == 0
    assert r.headers["X-From-User-Config"] == "yes"


def test_a_command_that_ignores_sigterm_still_stops_quickly(tmp_path):
    # `docker run -dit ... bash`, then `docker stop`: an interactive shell ignores SIGTERM.
    s = Stack(tmp_path, "sshd", args=("sh", "-c", "trap '' TERM; sleep 60 & wait"))
    try:
        s.wait_healthy()
        start = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        status = s.proc.wait(10)
        took = time.monotonic() - start
    finally:
        s.stop()
    assert took < 3, f"stopped after {took:.1f} s"
    assert status == 128 + signal.SIGHUP  # hung up on, as when its terminal goes
    assert not [p for p in psutil.process_iter() if str(s.run_dir) in cmdline(p.pid)]


def test_a_killed_supervisord_is_replaced_and_its_daemons_with_it(tmp_path):
    s = Stack(tmp_path, "jupyter,sshd", args=("sleep", "120"))
    try:
        old = s.wait_healthy()["services"]
        first = s.supervisord_pid
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not psutil.pid_exists(old["jupyter"]["pid"]), 15, what="the orphaned jupyter to stop")
        report = s.wait_healthy()
        assert s.supervisord_pid != first
        assert {n: r["pid"] for n, r in report["services"].items()} != {n: r["pid"] for n, r in old.items()}
        assert "supervisord ended (killed by signal 9)" in s.logs()
    finally:
        assert s.stop() == 128 + signal.SIGTERM
    assert not [p for p in psutil.process_iter() if str(s.run_dir) in cmdline(p.pid)]


def test_a_hung_daemon_is_restarted_and_a_busy_kernel_is_not_a_hang(tmp_path):
    # TensorBoard is frozen (SIGSTOP: RUNNING to supervisord, answering nothing); meanwhile a
    # kernel computes at 100% CPU, which must never make Jupyter look hung.
    s = Stack(tmp_path, "jupyter,tensorboard")
    try:
        before = s.wait_healthy()["services"]
        kernel = start_kernel(s)
        make_kernel_busy(s)
        wait_until(lambda: psutil.Process(kernel).cpu_percent(0.5) > 50, 30, what="the kernel to compute")
        frozen = before["tensorboard"]["pid"]
        time.sleep(2)  # the watchdog looks every second until its first answer
        os.kill(frozen, signal.SIGSTOP)
        start = time.monotonic()
        live = REGISTRY["tensorboard"].liveness
        budget = live.failures * live.interval + live.timeout + 15  # + its own start, generously

        def back():
            r = s.report()["services"]["tensorboard"]
            return r["ready"] and r["pid"] != frozen and r

        after = wait_until(back, budget, 0.5, what="tensorboard restarted and ready")
        took = time.monotonic() - start
        assert after["liveness_restarts"] == 1 and after["restarts"] == 1
        assert re.search(r"^tensorboard .* 1 \(1 hung\) ", s.health().stdout, re.M)
        assert not psutil.pid_exists(frozen) or psutil.Process(frozen).status() == psutil.STATUS_ZOMBIE
        assert re.search(r"^tensorboard \| deepdocker: not answering \(.*\): restarting it$", s.logs(), re.M)
        # Jupyter, its kernel busy all along: never restarted.
        jupyter = s.report()["services"]["jupyter"]
        assert jupyter["pid"] == before["jupyter"]["pid"] and jupyter["liveness_restarts"] == 0
        assert psutil.pid_exists(kernel)
        print(f"tensorboard ready again {took:.1f} s after SIGSTOP (budget {budget:.0f} s)")
    finally:
        assert s.stop() == 0


def test_at_a_terminal_the_daemons_do_not_print_over_the_prompt(tmp_path):
    # docker run -it ... bash: a person types at a terminal; the daemons' lines go to a file.
    _, terminal = pty.openpty()
    s = Stack(tmp_path, "sshd,tensorboard", args=("sh", "-c", "deepdocker-health --wait 60 >/dev/null"), stdin=terminal)
    try:
        assert s.proc.wait(90) == 0
    finally:
        s.stop()
        os.close(terminal)
    log = s.run_dir / "daemons.log"
    shown = s.stderr_path.read_text()
    assert f"the daemons' logs: {log} (tail -f {log})" in shown
    assert "spawned" not in shown and "tensorboard |" not in shown
    written = log.read_text()
    assert "INFO spawned: 'sshd'" in written and "tensorboard | " in written
    assert log.stat().st_mode & 0o777 == 0o600
