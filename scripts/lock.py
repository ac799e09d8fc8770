"""Writes scripts/locks/: every Python environment of both images, pinned with hashes (make lock).

Inputs: scripts/requirements/*.in, with ${NAME} standing for the Dockerfile's ARG of that name
(setup.cfg's install_requires for the control plane), and the platform file's PLATFORM_* values
(scripts/platforms/<arch>.env). uv resolves them for each platform's Linux machine and each
Python a base image has (Debian 12: 3.11, Ubuntu 24.04: 3.12) and writes every package of the
environment with the hashes of its files; the build installs with `pip --require-hashes`, the
lock as its constraints. Each lock's first line holds a digest of its inputs: tests/unit/test_locks.py
fails when an .in file or an ARG changed and the locks were not made again.

usage: python3 scripts/lock.py [--wheelhouse DIR] [--only ENVIRONMENT] [--platform ARCH]
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
PLATFORMS_DIR = ROOT / "scripts" / "platforms"
PYTHONS = ("3.11", "3.12")
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"
FRAMEWORKS = ("torch", "tensorflow", "keras", "pytensor", "onnx")
ENVIRONMENTS = ("control-plane", "tensorboard", "user-cpu", "user-gpu")
_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def assignments(path: Path, pattern: str) -> dict[str, str]:
    """NAME=VALUE of each line of `path` that `pattern` (NAME's group, then VALUE's) matches, quotes dropped."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(pattern, line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip().strip('"')
    return found


def dockerfile_args(variant: str) -> dict[str, str]:
    """The ARG defaults of Dockerfile.<variant>."""
    return assignments(ROOT / f"Dockerfile.{variant}", r"ARG\s+([A-Z0-9_]+)=(.*)$")


def platforms() -> list[str]:
    """The architectures the images are built for: a file each in scripts/platforms."""
    return sorted(path.stem for path in PLATFORMS_DIR.glob("*.env"))


def platform_values(arch: str) -> dict[str, str]:
    """One platform file's KEY=VALUE lines (as bash reads them: comments, quotes)."""
    return assignments(PLATFORMS_DIR / f"{arch}.env", r"(PLATFORM_[A-Z0-9_]+)=(.*)$")


def gpu_platforms() -> list[str]:
    """The architectures the GPU image is built for (scripts/gpu.env, which make reads too)."""
    return assignments(ROOT / "scripts" / "gpu.env", r"(GPU_PLATFORMS)=(.*)$")["GPU_PLATFORMS"].split()


def environments(arch: str) -> tuple[str, ...]:
    return ENVIRONMENTS if arch in gpu_platforms() else tuple(e for e in ENVIRONMENTS if e != "user-gpu")


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


def build_args(variant: str, arch: str) -> dict[str, str]:
    """What ${NAME} stands for in a build of this variant on this platform."""
    args = {**dockerfile_args(variant), **platform_values(arch)}
    if variant == "cpu" and args.get("PLATFORM_TORCH_CPU_VERSION"):
        args["TORCH_VERSION"] = args["PLATFORM_TORCH_CPU_VERSION"]
    return args


def inputs(env: str, arch: str = "amd64") -> list[str]:
    """The top-level requirements of one environment, as the build installs them."""
    variant = "gpu" if env == "user-gpu" else "cpu"
    args = build_args(variant, arch)
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


def digest(env: str, python: str, arch: str) -> str:
    text = "\n".join([env, python, platform_values(arch)["PLATFORM_LOCK"], *inputs(env, arch)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lock_path(env: str, python: str, arch: str) -> Path:
    return LOCKS / f"{env}-py{python}-{platform_values(arch)['PLATFORM_MACHINE']}.txt"


def header(env: str, python: str, arch: str) -> str:
    wheels = platform_values(arch)["PLATFORM_LOCK"]
    return f"# deepdocker lock {env} Python {python} {wheels} inputs={digest(env, python, arch)}"


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


def lock(env: str, python: str, arch: str, wheelhouse: Path | None) -> None:
    lines = inputs(env, arch)
    values = platform_values(arch)
    extra: list[str] = []
    note = ""
    if env == "user-cpu":
        torch_line = next(line for line in lines if line.startswith("torch=="))
        version = torch_line.split("==", 1)[1]
        index_url = values.get("PLATFORM_TORCH_CPU_INDEX_URL")
        if index_url:  # the platform's own CPU torch (arm64: PyPI's)
            if index_url.rstrip("/") != "https://pypi.org/simple":
                extra = ["--extra-index-url", index_url, "--index-strategy", "unsafe-best-match"]
        else:
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
    path = lock_path(env, python, arch)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{env}.in"
        source.write_text("\n".join(lines) + "\n")
        out = Path(tmp) / "lock.txt"
        # uv keeps the pins of the file it writes where the inputs allow: this lock's own, else
        # amd64's, so that each architecture gets the same versions.
        seed = path if path.exists() else lock_path(env, python, "amd64")
        if seed.exists():
            out.write_text(seed.read_text())
        command = [
            str(Path(sys.executable).parent / "uv"), "pip", "compile", "--quiet", "--no-header",
            "--generate-hashes", "--python-version", python, "--python-platform", values["PLATFORM_LOCK"],
            *extra, "-o", str(out), str(source),
        ]  # fmt: skip
        # The system's CA bundle, as pip and the build trust it (a TLS-intercepting proxy's CA too).
        uv_env = dict(os.environ)
        if "SSL_CERT_FILE" not in uv_env and Path(SYSTEM_CAS).is_file():
            uv_env["SSL_CERT_FILE"] = SYSTEM_CAS
        if subprocess.run(command, env=uv_env).returncode:
            raise SystemExit(f"lock: uv could not resolve {env} for Python {python} on {arch} (its words are above)")
        body = out.read_text().replace(str(source), f"scripts/requirements ({env})")
    path.write_text(f"{header(env, python, arch)}\n# make lock writes this file\n{note}{body}")
    print(f"lock: {path.relative_to(ROOT)}")


def stale() -> list[str]:
    """The locks whose inputs changed since they were made (or that are missing)."""
    found = []
    for arch in platforms():
        for env in environments(arch):
            for python in PYTHONS:
                path = lock_path(env, python, arch)
                first = path.read_text().split("\n", 1)[0] if path.exists() else ""
                if first != header(env, python, arch):
                    found.append(str(path.relative_to(ROOT)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wheelhouse", type=Path, help="a folder of wheels (a CPU torch)")
    parser.add_argument("--only", help="one environment (control-plane, tensorboard, user-cpu, user-gpu)")
    parser.add_argument("--platform", help=f"one architecture ({', '.join(platforms())})")
    options = parser.parse_args()
    if options.platform and options.platform not in platforms():
        parser.error(f"--platform {options.platform}: accepted: {', '.join(platforms())}")
    LOCKS.mkdir(exist_ok=True)
    for arch in [options.platform] if options.platform else platforms():
        for env in [options.only] if options.only else environments(arch):
            for python in PYTHONS:
                lock(env, python, arch, options.wheelhouse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
