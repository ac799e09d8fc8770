"""deepdocker-env: the notebook user's own environment (entrypoint.userlayer), to look at, export,
restore on a new volume or machine, and reinstall for a newer image.

    deepdocker-env [status] [--json]     the layer, its packages, what shadows the image's, old layers
    deepdocker-env export [FILE]         the layer as JSON (stdout without FILE): Python packages and
                                         R packages with versions, kernels, code-server extensions
    deepdocker-env export --dockerfile [FILE]
                                         the same as a Dockerfile: FROM this image, plus the lines
                                         that bake it in
    deepdocker-env restore FILE [PIP_OPTION...]
                                         install an export's packages into this layer (Python with
                                         pip, R with install.packages(), code-server's extensions)
    deepdocker-env reinstall [PIP_OPTION...]
                                         install, for this image, what a layer of another Python
                                         holds (and this layer's own, when the image changed)

PIP_OPTION: passed to pip (`--no-index --find-links DIR`, `--index-url URL`). R packages come from
R's repositories (options("repos")), or DEEPDOCKER_R_REPOS (a URL) where it is set.
Runs as the notebook user; started as root (`docker exec`), it runs as the start's notebook user.
A file that is not an export: one line, exit status 2, nothing installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from . import userlayer

PROG = "deepdocker-env"
FORMAT = "deepdocker-env/1"
NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?")
# PEP 440 public and local versions (what pip installs), and R's (1.2-3).
VERSION = re.compile(r"[0-9][0-9A-Za-z.!+_-]{0,62}")
R_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")
EXTENSION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\.[a-z0-9][a-z0-9-]{0,127}(@[0-9][0-9A-Za-z.+-]{0,62})?", re.I)
KERNEL = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Neither pip's nor ours: what a layer holds for pip and setuptools is the image's business.
TOOLS = {"pip", "setuptools", "wheel"}


class Refused(Exception):
    """Bad input: one line, exit status 2."""


def home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def context() -> tuple[userlayer.Image, str]:
    img = userlayer.image(os.environ)
    if img is None:
        raise Refused("no image environment here (USER_VENV): deepdocker-env runs in a deepdocker container")
    return img, userlayer.layer_path(home(), img)


def r_packages(h: str) -> dict[str, str]:
    """name -> version in R's user library (DESCRIPTION files' Package and Version)."""
    lib = userlayer.r_user_library(h)
    out: dict[str, str] = {}
    if not lib or not os.path.isdir(lib):
        return out
    for entry in sorted(os.listdir(lib)):
        try:
            with open(f"{lib}/{entry}/DESCRIPTION", errors="replace") as f:
                fields = dict(
                    line.split(":", 1) for line in f.read(65536).splitlines() if ":" in line and not line[:1].isspace()
                )
        except OSError:
            continue
        name, version = fields.get("Package", "").strip(), fields.get("Version", "").strip()
        if R_NAME.fullmatch(name) and VERSION.fullmatch(version):
            out[name] = version
    return out


def code_extensions(h: str) -> list[str]:
    """code-server's extensions in the home (id@version), from its extensions folder."""
    folder = Path(h) / ".local/share/code-server/extensions"
    out: list[str] = []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return out
    for entry in entries:
        try:
            manifest = json.loads((folder / entry / "package.json").read_text())
            ident = f"{manifest['publisher']}.{manifest['name']}@{manifest['version']}".lower()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if EXTENSION.fullmatch(ident):
            out.append(ident)
    return out


def kernels(h: str) -> list[str]:
    """The kernels the user registered (~/.local/share/jupyter/kernels)."""
    folder = Path(h) / ".local/share/jupyter/kernels"
    try:
        return sorted(k for k in os.listdir(folder) if KERNEL.fullmatch(k) and (folder / k / "kernel.json").is_file())
    except OSError:
        return []


def export(img: userlayer.Image, layer: str) -> dict:
    h = home()
    python = userlayer.packages(f"{layer}/lib/python{img.short}/site-packages")
    return {
        "format": FORMAT,
        "python": img.short,
        "machine": img.machine,
        "python_packages": {n: v for n, v in sorted(python.items()) if n not in TOOLS},
        "r_packages": r_packages(h),
        "kernels": kernels(h),
        "code_extensions": code_extensions(h),
    }


def dockerfile(data: dict, image_ref: str) -> str:
    lines = [
        f"# deepdocker-env export --dockerfile: the user's layer baked into {image_ref}.",
        f"FROM {image_ref}",
    ]
    py = [f"{n}=={v}" for n, v in data["python_packages"].items()]
    if py:
        lines.append("RUN pip install --no-cache-dir " + " ".join(py))
    r = list(data["r_packages"])
    if r:
        versions = ", ".join(f"{n} {v}" for n, v in data["r_packages"].items())
        lines.append(f"# R, as exported: {versions} (install.packages() takes the repositories' current versions)")
        names = ", ".join(f"'{n}'" for n in r)
        lines.append(f"RUN Rscript -e \"install.packages(c({names}), lib = '/usr/local/lib/R/site-library')\"")
    if data["code_extensions"]:
        lines.append("# code-server extensions (install them in the container: deepdocker-env restore FILE): ")
        lines.append("#   " + " ".join(data["code_extensions"]))
    return "\n".join(lines) + "\n"


def parse_export(text: str) -> dict:
    """An export's contents, every name and version checked for the place it reaches (a pip
    requirement, an R string, a command argument); Refused otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise Refused(f"not JSON ({e.msg} at line {e.lineno})") from None
    except ValueError:
        raise Refused("not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Refused(f'not an export of deepdocker-env (accepted: a JSON object with "format": "{FORMAT}")')
    checks = {
        "python_packages": (NAME, VERSION),
        "r_packages": (R_NAME, VERSION),
    }
    for key, (name_re, version_re) in checks.items():
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise Refused(f"{key}: not an object of name: version")
        for n, v in value.items():
            if not isinstance(v, str) or not name_re.fullmatch(n) or not version_re.fullmatch(v):
                raise Refused(f"{key}: {n!r}: {v!r} is not a package name and version")
    for key, pattern in (("code_extensions", EXTENSION), ("kernels", KERNEL)):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) and pattern.fullmatch(x) for x in value):
            raise Refused(f"{key}: not a list of {'publisher.name@version' if key == 'code_extensions' else 'names'}")
    for key in ("python", "machine"):
        if not isinstance(data.get(key, ""), str):
            raise Refused(f"{key}: not a string")
    return {
        "python": data.get("python", ""),
        "machine": data.get("machine", ""),
        "python_packages": dict(data.get("python_packages", {})),
        "r_packages": dict(data.get("r_packages", {})),
        "code_extensions": list(data.get("code_extensions", [])),
        "kernels": list(data.get("kernels", [])),
    }


def pip_install(layer: str, requirements: list[str], pip_options: list[str], extra: tuple[str, ...] = ()) -> int:
    if not requirements:
        return 0
    argv = [f"{layer}/bin/python", "-m", "pip", "install", *extra, *pip_options, *requirements]
    print(f"{PROG}: pip install {' '.join(requirements)}", file=sys.stderr)
    return subprocess.run(argv, stdin=subprocess.DEVNULL).returncode


def r_install(names: list[str]) -> int:
    if not names:
        return 0
    lib = userlayer.r_user_library(home())
    if not lib:
        print(f"{PROG}: R's user library is unknown here: R packages left out", file=sys.stderr)
        return 1
    os.makedirs(lib, exist_ok=True)
    # Names and the URL reach R as arguments, never as code.
    script = (
        "a <- commandArgs(TRUE); repos <- if (nzchar(a[1])) a[1] else getOption('repos'); "
        "install.packages(a[-(1:2)], lib = a[2], repos = repos); "
        "quit(status = as.integer(!all(a[-(1:2)] %in% rownames(installed.packages(lib.loc = a[2])))))"
    )
    repos = os.environ.get("DEEPDOCKER_R_REPOS", "")
    print(f"{PROG}: install.packages({', '.join(names)})", file=sys.stderr)
    return subprocess.run(["Rscript", "-e", script, repos, lib, *names], stdin=subprocess.DEVNULL).returncode


def code_install(extensions: list[str]) -> int:
    if not extensions:
        return 0
    code = "/opt/deepdocker/code/bin/code-server"
    if not os.access(code, os.X_OK):
        print(f"{PROG}: no code-server in this image: its extensions left out", file=sys.stderr)
        return 1
    h = home()
    status = 0
    for ext in extensions:
        argv = [
            code,
            f"--user-data-dir={h}/.local/share/code-server",
            f"--extensions-dir={h}/.local/share/code-server/extensions",
            "--install-extension",
            ext,
        ]
        status |= subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    return status


def restore(path: str, pip_options: list[str]) -> int:
    img, layer = context()
    try:
        with open(path) as f:
            text = f.read(4 << 20)
    except OSError as e:
        raise Refused(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise Refused(f"{path}: not text") from None
    try:
        data = parse_export(text)
    except Refused as e:
        raise Refused(f"{path}: {e}") from None
    if not os.access(f"{layer}/bin/python", os.X_OK):
        print(f"{PROG}: no user layer at {layer} (the container's start makes it)", file=sys.stderr)
        return 1
    if data["python"] and data["python"] != img.short:
        print(f"{PROG}: exported under Python {data['python']}; installing for {img.short}", file=sys.stderr)
    status = pip_install(layer, [f"{n}=={v}" for n, v in data["python_packages"].items()], pip_options)
    status |= r_install(list(data["r_packages"]))
    status |= code_install(data["code_extensions"])
    if data["kernels"]:
        print(f"{PROG}: kernels in the export (make their environments again): {', '.join(data['kernels'])}")
    if status == 0:
        userlayer.stamp(layer, img)
    return 1 if status else 0


def reinstall(pip_options: list[str]) -> int:
    img, layer = context()
    found = userlayer.scan(home(), layer, img)
    wanted: dict[str, str] = {}
    for _path, missing in found["other_layers"].items():
        wanted.update(missing)
    status = 0
    if wanted:
        status |= pip_install(layer, [f"{n}=={v}" for n, v in sorted(wanted.items()) if n not in TOOLS], pip_options)
    if found["image_changed"]:
        mine = [f"{n}=={v}" for n, v in sorted(found["packages"].items()) if n not in TOOLS]
        status |= pip_install(layer, mine, pip_options, ("--force-reinstall", "--no-deps"))
    if not wanted and not found["image_changed"]:
        print(f"{PROG}: nothing to reinstall: {layer} was made for this image")
        return 0
    if status == 0:
        userlayer.stamp(layer, img)
        for path in found["other_layers"]:
            print(f"{PROG}: {path} is left as it was; remove it once you no longer need it")
    return 1 if status else 0


def status(as_json: bool) -> int:
    img, layer = context()
    found = userlayer.scan(home(), layer, img)
    if as_json:
        print(json.dumps(found, indent=1))
        return 0
    print(f"user layer: {layer}: {len(found['packages'])} package(s) of your own, on the image's Python {img.version}")
    for note in found["notes"]:
        print(f"note: {note}")
    return 0


def as_notebook_user(argv: list[str]) -> int | None:
    """Started as root: run again as the start's notebook user (healthchecks.state), who owns the
    layer; root runs nothing in it. None: not root, or the notebook user is root."""
    if os.geteuid() != 0:
        return None
    from healthchecks import state
    from healthchecks.rundir import state_dir

    try:
        user = state.load(state_dir(os.environ)).user
    except OSError:
        user = None
    if user is None:
        raise Refused("started as root with no deepdocker start to name the notebook user: docker exec -u jovyan ...")
    name, uid, gid, h = user
    if uid == 0:
        return None
    env = {**os.environ, "HOME": h, "USER": name, "LOGNAME": name}
    argv0 = [sys.executable, "-m", "entrypoint.userenv", *argv]
    return subprocess.run(argv0, env=env, user=uid, group=gid, extra_groups=[], cwd=h).returncode


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("status", [])
    try:
        if command in ("-h", "--help", "help"):
            print(__doc__.strip())
            return 0
        again = as_notebook_user(args)
        if again is not None:
            return again
        if command == "status" and rest in ([], ["--json"]):
            return status(rest == ["--json"])
        if command == "export":
            as_docker = "--dockerfile" in rest
            rest = [a for a in rest if a != "--dockerfile"]
            if len(rest) > 1 or any(a.startswith("-") and a != "-" for a in rest):
                raise Refused(f"export: {' '.join(rest)!r}; accepted: export [--dockerfile] [FILE]")
            img, layer = context()
            data = export(img, layer)
            ref = os.environ.get("DEEPDOCKER_IMAGE", f"deepdocker:{os.environ.get('VARIANT', 'cpu')}")
            text = dockerfile(data, ref) if as_docker else json.dumps(data, indent=1) + "\n"
            if not rest or rest == ["-"]:
                sys.stdout.write(text)
            else:
                Path(rest[0]).write_text(text)
                print(f"{PROG}: wrote {rest[0]}", file=sys.stderr)
            return 0
        if command == "restore" and rest and not rest[0].startswith("-"):
            return restore(rest[0], rest[1:])
        if command == "reinstall":
            return reinstall(rest)
        raise Refused(
            f"{' '.join(args)!r}: accepted: status [--json], export [--dockerfile] [FILE], restore FILE, reinstall"
        )
    except Refused as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
