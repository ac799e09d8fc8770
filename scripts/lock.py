"""Writes scripts/locks/: every Python environment of both images, pinned with hashes (make lock).

Inputs: scripts/requirements/*.in, with ${NAME} standing for the Dockerfile's ARG of that name
(setup.cfg's install_requires for the control plane). uv resolves them for Linux x86_64 and each
Python a base image has (Debian 12: 3.11, Ubuntu 24.04: 3.12) and writes every package of the
environment with the hashes of its files; the build installs with `pip --require-hashes`, the
lock as its constraints. Each lock's first line holds a digest of its inputs: tests/unit/test_locks.py
fails when an .in file or an ARG changed and the locks were not made again.

usage: python3 scripts/lock.py [--wheelhouse DIR] [--only ENVIRONMENT]
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements"
LOCKS = ROOT / "scripts" / "locks"
PYTHONS = ("3.11", "3.12")
# The oldest glibc of the bases (Debian 12: 2.36): a wheel for it runs on Ubuntu 24.04 too.
PLATFORM = "x86_64-manylinux_2_36"
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"
FRAMEWORKS = ("torch", "tensorflow", "keras", "pytensor", "onnx")
ENVIRONMENTS = ("control-plane", "tensorboard", "user-cpu", "user-gpu")
_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def dockerfile_args(variant: str) -> dict[str, str]:
    """The ARG defaults of Dockerfile.<variant>."""
    found = {}
    for line in (ROOT / f"Dockerfile.{variant}").read_text().splitlines():
        match = re.match(r"ARG\s+([A-Z0-9_]+)=(.*)$", line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip().strip('"')
    return found


def requirement_lines(path: Path, args: dict[str, str]) -> list[str]:
    """An .in file's requirements, comments dropped, ${NAME} replaced by the ARG's value."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in args:
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                raise SystemExit(f"lock: {shown} names ${{{name}}}, which no Dockerfile ARG sets")
            return args[name]

        lines.append(_VAR.sub(value, line))
    return lines


def control_plane_requires() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def inputs(env: str) -> list[str]:
    """The top-level requirements of one environment, as the build installs them."""
    variant = "gpu" if env == "user-gpu" else "cpu"
    args = dockerfile_args(variant)
    if env == "control-plane":
        return requirement_lines(REQUIREMENTS / "control-plane.in", args) + control_plane_requires()
    if env == "tensorboard":
        return requirement_lines(REQUIREMENTS / "tensorboard.in", args)
    lines = []
    for name in ("python.in", "r.in"):
        lines += requirement_lines(REQUIREMENTS / name, args)
    for framework in FRAMEWORKS:
        specific = REQUIREMENTS / "frameworks" / f"{framework}-{variant}.in"
        common = REQUIREMENTS / "frameworks" / f"{framework}.in"
        lines += requirement_lines(specific if specific.exists() else common, args)
    return lines + requirement_lines(REQUIREMENTS / "lab-extras.in", args)


def digest(env: str, python: str) -> str:
    text = "\n".join([env, python, PLATFORM, *inputs(env)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lock_path(env: str, python: str) -> Path:
    return LOCKS / f"{env}-py{python}.txt"


def header(env: str, python: str) -> str:
    return f"# deepdocker lock {env} Python {python} {PLATFORM} inputs={digest(env, python)}"


def _cpu_torch(version: str, python: str, wheelhouse: Path | None) -> tuple[str | None, list[str], list[str]]:
    """The CPU torch: (requirement or None when it cannot be locked here, uv args, its dependencies)."""
    tag = "cp" + python.replace(".", "")
    wheels = sorted(wheelhouse.glob(f"torch-{version}+cpu-*.whl")) if wheelhouse else []
    if any(f"-{tag}-" in wheel.name for wheel in wheels):
        return f"torch=={version}+cpu", ["--find-links", str(wheelhouse)], []
    index = dockerfile_args("cpu")["TORCH_INDEX_URL"]
    try:
        urllib.request.urlopen(f"{index}/torch/", timeout=10).close()
    except OSError:
        pass
    else:
        return f"torch=={version}+cpu", ["--extra-index-url", index, "--index-strategy", "unsafe-best-match"], []
    if not wheels:
        raise SystemExit(
            f"lock: no CPU torch {version} for Python {python}: {index} does not answer and no"
            f" --wheelhouse holds torch-{version}+cpu; accepted: either"
        )
    # Its dependencies from the wheel of another Python: the same for every Python but markers.
    with zipfile.ZipFile(wheels[0]) as wheel:
        meta = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in wheel.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    return None, [], requires


def lock(env: str, python: str, wheelhouse: Path | None) -> None:
    lines = inputs(env)
    extra: list[str] = []
    note = ""
    if env == "user-cpu":
        torch_line = next(line for line in lines if line.startswith("torch=="))
        version = torch_line.split("==", 1)[1]
        requirement, extra, requires = _cpu_torch(version, python, wheelhouse)
        index = lines.index(torch_line)
        if requirement:
            lines[index] = requirement
        else:
            lines[index : index + 1] = requires
            note = (
                f"# unhashed: torch=={version}+cpu (no cp{python.replace('.', '')} wheel where this lock"
                " was made; its dependencies are here)\n"
            )
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{env}.in"
        source.write_text("\n".join(lines) + "\n")
        out = Path(tmp) / "lock.txt"
        command = [
            str(Path(sys.executable).parent / "uv"), "pip", "compile", "--quiet", "--no-header",
            "--generate-hashes", "--python-version", python, "--python-platform", PLATFORM,
            *extra, "-o", str(out), str(source),
        ]  # fmt: skip
        # The system's CA bundle, as pip and the build trust it (a TLS-intercepting proxy's CA too).
        uv_env = dict(os.environ)
        if "SSL_CERT_FILE" not in uv_env and Path(SYSTEM_CAS).is_file():
            uv_env["SSL_CERT_FILE"] = SYSTEM_CAS
        if subprocess.run(command, env=uv_env).returncode:
            raise SystemExit(f"lock: uv could not resolve {env} for Python {python} (its words are above)")
        body = out.read_text().replace(str(source), f"scripts/requirements ({env})")
    lock_path(env, python).write_text(f"{header(env, python)}\n# make lock writes this file\n{note}{body}")
    print(f"lock: {lock_path(env, python).relative_to(ROOT)}")


def stale() -> list[str]:
    """The locks whose inputs changed since they were made (or that are missing)."""
    found = []
    for env in ENVIRONMENTS:
        for python in PYTHONS:
            path = lock_path(env, python)
            first = path.read_text().split("\n", 1)[0] if path.exists() else ""
            if first != header(env, python):
                found.append(str(path.relative_to(ROOT)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wheelhouse", type=Path, help="a folder of wheels (a CPU torch)")
    parser.add_argument("--only", help="one environment (control-plane, tensorboard, user-cpu, user-gpu)")
    options = parser.parse_args()
    LOCKS.mkdir(exist_ok=True)
    for env in [options.only] if options.only else ENVIRONMENTS:
        for python in PYTHONS:
            lock(env, python, options.wheelhouse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
