"""The locks (scripts/locks, make lock) and the shell code that installs from them (scripts/locks.sh):
each lock is current for its inputs, pins every package with hashes, and a build without a fit lock
stops with one line. That each image's environments hold exactly their locks: tests/container/test_locks.py."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("deepdocker_lock", ROOT / "scripts" / "lock.py")
assert _spec and _spec.loader
lock = importlib.util.module_from_spec(_spec)
sys.modules["deepdocker_lock"] = lock
_spec.loader.exec_module(lock)

LOCKS = sorted((ROOT / "scripts" / "locks").glob("*.txt"))
ENTRY = re.compile(r"^([A-Za-z0-9._-]+(?:\[[^\]]*\])?)==(\S+) \\$")


def entries(path: Path) -> dict[str, list[str]]:
    """Each pinned package of a lock with its hashes."""
    found: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = ENTRY.match(line)
        if match:
            current = match.group(1)
            found[current] = []
        elif line.startswith("    --hash=sha256:") and current:
            found[current].append(line.split(":", 1)[1].rstrip(" \\"))
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"{path.name}: a line that is neither a pin with hashes nor a comment: {line}")
    return found


def test_every_environment_has_a_lock_for_every_python_and_machine():
    machines = {"amd64": "x86_64", "arm64": "aarch64"}
    assert lock.platforms() == sorted(machines)
    expected = {f"{env}-py{py}-{machines[arch]}.txt" for arch in machines for env in lock.environments(arch)
                for py in lock.PYTHONS}  # fmt: skip
    assert {p.name for p in LOCKS} == expected
    assert "user-gpu" not in lock.environments("arm64")  # the GPU image is amd64's alone


def test_the_architectures_differ_only_where_their_platform_files_say():
    # Same versions on both, but for tensorflow-cpu (no aarch64 wheel) and arm64's own CPU torch.
    def pins(path: Path) -> dict[str, str]:
        return {name: line for name, line in (
            (re.sub(r"\[.*\]", "", m.group(1)).lower(), m.group(0))
            for m in map(ENTRY.match, path.read_text().splitlines()) if m)}  # fmt: skip

    for env in ("control-plane", "tensorboard", "user-cpu"):
        for py in lock.PYTHONS:
            amd = pins(ROOT / "scripts" / "locks" / f"{env}-py{py}-x86_64.txt")
            arm = pins(ROOT / "scripts" / "locks" / f"{env}-py{py}-aarch64.txt")
            differ = {n for n in amd.keys() | arm.keys() if amd.get(n, "").split()[:1] != arm.get(n, "").split()[:1]}
            assert differ == ({"tensorflow-cpu", "tensorflow", "torch"} if env == "user-cpu" else set()), (env, py)
    arm64 = lock.platform_values("arm64")
    assert arm64["PLATFORM_TENSORFLOW_CPU"] == "tensorflow" and arm64["PLATFORM_TORCH_CPU_VERSION"]


def test_every_lock_is_current_for_its_inputs():
    # An ARG or an .in file changed without `make lock` would install other versions than the lock
    # pins (or stop the build): this says which lock, and the one command that mends it.
    assert lock.stale() == [], "out of date: make lock"


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: p.name)
def test_every_package_is_pinned_with_sha256_hashes(path):
    found = entries(path)
    assert len(found) >= 7
    for name, hashes in found.items():
        assert hashes, f"{path.name}: {name} has no hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
    # pip and setuptools too: the tools that install everything else are locked like the rest.
    assert {"pip", "setuptools"} <= set(found)


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: p.name)
def test_every_top_level_requirement_is_in_its_lock_at_its_pin(path):
    env = path.name.rsplit("-py", 1)[0]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}[path.stem.rsplit("-", 1)[1]]
    entries(path)  # the lock's shape: test_every_package_is_pinned_with_sha256_hashes
    pins = dict(re.sub(r"\[.*\]", "", line).lower().split("==") for line in lock.inputs(env, arch) if "==" in line)
    versions = {}
    for line in path.read_text().splitlines():
        match = ENTRY.match(line)
        if match:
            versions[match.group(1).lower().replace("_", "-")] = match.group(2)
    for name, version in pins.items():
        if name == "torch" and "# unhashed: torch==" in path.read_text():
            continue  # said on the lock's third line, and at build (install-frameworks.sh)
        assert name in versions, f"{path.name}: {name} is missing"
        assert versions[name].split("+")[0] == version, f"{path.name}: {name} {versions[name]}, the ARG says {version}"


def test_the_root_environments_read_the_same_versions_from_both_dockerfiles():
    # control-plane and tensorboard locks are made from Dockerfile.cpu's ARGs and serve both images.
    cpu, gpu = lock.dockerfile_args("cpu"), lock.dockerfile_args("gpu")
    for env in ("control-plane", "tensorboard"):
        text = "\n".join(lock.inputs(env))
        for name in re.findall(r"\$\{([A-Z0-9_]+)\}", (ROOT / "scripts/requirements" / f"{env}.in").read_text()):
            assert cpu[name] == gpu[name], f"{name}: Dockerfile.cpu {cpu[name]}, Dockerfile.gpu {gpu[name]}"
            assert cpu[name] in text


def test_a_requirement_naming_no_arg_is_refused(tmp_path):
    path = tmp_path / "x.in"
    path.write_text("numpy==${NO_SUCH_VERSION}  # a comment\n")
    with pytest.raises(SystemExit, match=r"x.in names \$\{NO_SUCH_VERSION\}, which no Dockerfile ARG sets"):
        lock.requirement_lines(path, {"NUMPY_VERSION": "1"})
    assert lock.requirement_lines(path, {"NO_SUCH_VERSION": "2.0"}) == ["numpy==2.0"]


def shell(script: str, locks_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Bash with scripts/locks.sh sourced and its folder of locks pointed at a stand-in."""
    code = f'. "{ROOT}/scripts/locks.sh"; LOCKS_DIR="{locks_dir}"; {script}'
    return subprocess.run(
        ["/bin/bash", "-c", code, "install-test"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=30,
    )


@pytest.fixture
def stand_in_locks(tmp_path):
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / f"user-cpu-py{python}-x86_64.txt").write_text(
        "# header\npip==26.3 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r x\nsix==1.0 \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
    )
    (tmp_path / "user-cpu-py2.7-x86_64.txt").write_text("")
    return tmp_path, python


def test_lock_file_names_the_lock_of_this_python(stand_in_locks):
    folder, python = stand_in_locks
    # locks.sh asks python3 on PATH, as the build does: this test's own interpreter first.
    result = shell("lock_file user-cpu", folder, PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(folder / f"user-cpu-py{python}-x86_64.txt")


def test_a_python_without_a_lock_stops_with_one_line(stand_in_locks):
    folder, _ = stand_in_locks
    result = shell("lock_file user-gpu", folder, PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "no lock for user-gpu on Python" in result.stderr and "PIP_LOCK=0" in result.stderr


def test_pip_lock_0_is_said_and_gives_no_lock_and_other_values_are_refused(stand_in_locks):
    folder, _ = stand_in_locks
    off = shell("lock_file user-cpu", folder, PIP_LOCK="0")
    assert off.returncode == 0 and off.stdout == ""
    assert "WITHOUT its lock" in off.stderr
    bad = shell("lock_file user-cpu", folder, PIP_LOCK="yes")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "install-test: PIP_LOCK='yes'; accepted: 1 (install from scripts/locks), 0 (without)"


def test_lock_entry_gives_one_package_with_its_hashes(stand_in_locks):
    folder, python = stand_in_locks
    result = shell(f'lock_entry "{folder}/user-cpu-py{python}-x86_64.txt" pip', folder)
    assert result.stdout.splitlines() == ["pip==26.3 \\", "    --hash=sha256:" + "a" * 64, "    # via -r x"]
    assert shell(f'lock_entry "{folder}/user-cpu-py{python}-x86_64.txt" pi', folder).stdout == ""
