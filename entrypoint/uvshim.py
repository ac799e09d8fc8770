"""The image's `uv` (scripts/install-python.sh puts it first on PATH; the real one is uv-image).

As the notebook user with no environment active, uv works in their layer (entrypoint.userlayer),
as pip does. uv reads one environment only (astral-sh/uv#4466): in the layer it would not see the
image's packages, and would install its own copies, newer ones, over them (numpy, pandas, torch).
So `uv pip install` into the layer leaves out of its resolution every package the image has
(UV_EXCLUDE), except those the command names itself (`uv pip install numpy==2.3`, or in a `-r`
file): those it installs into the layer, where they shadow the image's (deepdocker-health names
them), as pip would. A UV_EXCLUDE of the user's own is left alone.

    python -I -m entrypoint.uvshim ARG...      exec uv-image ARG..., with VIRTUAL_ENV and UV_EXCLUDE set
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from . import userlayer

REAL = "uv-image"
REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# uv pip install's options that take a value, which is no requirement (a file or a URL is not either).
WITH_VALUE = {
    "-c", "--constraint", "--constraints", "--override", "--overrides", "--excludes", "-b", "--build-constraints",
    "-i", "--index-url", "--index", "--default-index", "--extra-index-url", "-f", "--find-links", "-p", "--python",
    "--target", "--prefix", "--extra", "--group", "--cache-dir", "--config-file", "--directory", "--project",
    "--python-version", "--python-platform", "--index-strategy", "--keyring-provider", "--resolution",
    "--prerelease", "--exclude-newer", "--link-mode", "--torch-backend", "-C", "--config-setting", "--color",
    "--allow-insecure-host", "-P", "--upgrade-package", "--reinstall-package", "--no-binary", "--only-binary",
}  # fmt: skip


# Options that point uv pip install at another environment than the one VIRTUAL_ENV names.
ELSEWHERE = {"-p", "--python", "--system", "--target", "--prefix"}


def named(args: list[str], depth: int = 0) -> set[str]:
    """The packages a `uv pip install` command line names: its requirements and its -r files'."""
    out: set[str] = set()
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-r", "--requirement", "--requirements") and i + 1 < len(args):
            out |= requirements_file(args[i + 1], depth)
            i += 2
            continue
        if a.startswith("--requirement=") or a.startswith("--requirements="):
            out |= requirements_file(a.split("=", 1)[1], depth)
        elif a in WITH_VALUE:
            i += 1
        elif (
            not a.startswith("-")
            and "/" not in a
            and not a.endswith((".whl", ".tar.gz", ".zip"))
            and (m := REQUIREMENT.match(a))
        ):
            out.add(userlayer.canonical(m[1]))
        i += 1
    return out


def requirements_file(path: str, depth: int) -> set[str]:
    if depth > 3:
        return set()
    try:
        with open(path, errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return set()
    args: list[str] = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            args += line.split(None, 1) if line.startswith("-") else [line]
    return named(args, depth + 1)


def environment(argv: list[str], env: dict[str, str], home: str, uid: int) -> dict[str, str]:
    """uv's environment for `argv` (its arguments): the layer, and what to leave out."""
    img = userlayer.image(env)
    if img is None or uid == 0:
        return env
    layer = userlayer.layer_path(home, img)
    if not env.get("VIRTUAL_ENV") and os.access(f"{layer}/bin/python", os.X_OK):
        env = {**env, "VIRTUAL_ENV": layer}
    if env.get("VIRTUAL_ENV") != layer or "UV_EXCLUDE" in env or argv[:2] != ["pip", "install"]:
        return env
    if any(a.split("=", 1)[0] in ELSEWHERE for a in argv[2:]):
        return env  # into another environment: as the command says
    leave_out = sorted(set(userlayer.packages(img.site_packages)) - named(argv[2:]))
    if not leave_out:
        return env
    text = "".join(f"{n}\n" for n in leave_out)
    folder = os.path.join(home, ".cache", "deepdocker")
    path = os.path.join(folder, f"uv-exclude-{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt")
    try:
        if not os.path.exists(path):
            os.makedirs(folder, exist_ok=True)
            tmp = Path(f"{path}.{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)  # whole: another uv may read it at once
    except OSError:
        return env
    return {**env, "UV_EXCLUDE": path}


def main() -> None:
    argv = sys.argv[1:]
    real = os.path.join(os.path.dirname(os.environ.get("USER_VENV", "/opt/venv") + "/bin/"), REAL)
    env = environment(argv, dict(os.environ), os.environ.get("HOME", ""), os.getuid())
    os.execve(real, [real, *argv], env)


if __name__ == "__main__":
    main()
