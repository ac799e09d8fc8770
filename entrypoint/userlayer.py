"""The notebook user's layer: what they install lives in their home, on top of the image's.

The image's Python environment (USER_VENV, /opt/venv) belongs to root and never changes at run
time. On top of it, in the notebook user's home, is a virtual environment of the user's own, one
per Python minor version and machine:

    ~/.local/share/deepdocker/python3.11-x86_64/
        pyvenv.cfg                 the image's interpreter (its `home`), no system site-packages
        bin/python, python3, ...   that interpreter; bin/pip: the image's pip, for this prefix
        lib/python3.11/site-packages/
            _deepdocker_image.pth  the image's site-packages, after the user's own
        share/jupyter/kernels/python3/kernel.json
                                   the notebook's "Python 3" kernel, run by this prefix's python
        deepdocker-layer.json      the image it was made under (its packages and versions)

Every daemon and command gets it first on PATH, as VIRTUAL_ENV, and on JUPYTER_PATH: `pip install`,
`%pip install`, `uv pip install` and `python -m pip` all land in it, and a home on a volume keeps
it. The Jupyter server itself runs the image's Python: nothing a user installs can stop the lab.
R's user library (R_LIBS_USER, ~/R/<platform>-library/<R minor>) is made here too, so that
`install.packages()` writes there instead of the image's site library.

Another Python minor version (a newer image) gets a layer of its own: the old one is left as it
was, not loaded, and named at start with the command that reinstalls its packages
(`deepdocker-env reinstall`). A user package that shadows an image package is named by
`deepdocker-health`.

Root never runs this module's `ensure` or `scan` itself: the entrypoint and deepdocker-health run
them as the notebook user (`python -I -m entrypoint.userlayer ...`), and read back one JSON line.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path

# Under the notebook user's home.
ROOT = ".local/share/deepdocker"
STAMP = "deepdocker-layer.json"
PTH = "_deepdocker_image.pth"
# Where install-r.sh wrote R's user library, relative to a home (R_LIBS_USER's default there).
R_LIBS_USER_FILE = "/usr/local/lib/deepdocker/r-libs-user"
LAYER_NAME = re.compile(r"python(\d+)\.(\d+)-([A-Za-z0-9_]+)")
DIST_INFO = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._]*)-(?P<version>[A-Za-z0-9.!+_]+)\.dist-info")
# How many names a note lists before "and N more".
LISTED = 5


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Image:
    """The image's Python environment, from its pyvenv.cfg: the interpreter's folder and version."""

    def __init__(self, venv: str, home: str, version: str, machine: str) -> None:
        self.venv, self.home, self.version, self.machine = venv, home, version, machine
        major, minor = version.split(".")[:2]
        self.short = f"{major}.{minor}"

    @property
    def layer_name(self) -> str:
        return f"python{self.short}-{self.machine}"

    @property
    def site_packages(self) -> str:
        return f"{self.venv}/lib/python{self.short}/site-packages"


def image(env: dict[str, str] | os._Environ) -> Image | None:
    """The image's environment (USER_VENV), or None where there is none (host mode, tests)."""
    venv = env.get("USER_VENV", "")
    if not venv or not os.path.isabs(venv):
        return None
    try:
        with open(f"{venv}/pyvenv.cfg") as f:
            cfg = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
    except OSError:
        return None
    cfg = {k.strip(): v.strip() for k, v in cfg.items()}
    version, home = cfg.get("version", ""), cfg.get("home", "")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", version) or not os.path.isabs(home):
        return None
    return Image(venv, home, version, platform.machine())


def layer_path(home: str, img: Image) -> str:
    return f"{home}/{ROOT}/{img.layer_name}"


def environment(layer: str, env: dict[str, str]) -> dict[str, str]:
    """What a daemon or command needs to use `layer`: PATH, VIRTUAL_ENV, JUPYTER_PATH."""
    path = env.get("PATH", "")
    jupyter = env.get("JUPYTER_PATH", "")
    return {
        "PATH": f"{layer}/bin:{path}" if path else f"{layer}/bin",
        "VIRTUAL_ENV": layer,
        "JUPYTER_PATH": f"{layer}/share/jupyter:{jupyter}" if jupyter else f"{layer}/share/jupyter",
    }


def packages(site_packages: str) -> dict[str, str]:
    """canonical name -> version of what is installed in `site_packages`, from the dist-info
    folders' names alone (no file in them is read)."""
    out = {}
    try:
        names = os.listdir(site_packages)
    except OSError:
        return {}
    for entry in names:
        m = DIST_INFO.fullmatch(entry)
        if m:
            out[canonical(m["name"])] = m["version"]
    return out


def _infos(site: str, name: str, version: str) -> list[str]:
    """The dist-info folders in `site` of a package (canonical `name`) at `version`."""
    try:
        entries = os.listdir(site)
    except OSError:
        return []
    out = []
    for entry in entries:
        m = DIST_INFO.fullmatch(entry)
        if m and canonical(m["name"]) == name and m["version"] == version:
            out.append(entry)
    return out


def _listing(items: list[str]) -> str:
    more = len(items) - LISTED
    return ", ".join(items[:LISTED]) + (f" and {more} more" if more > 0 else "")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """`text` into `path` whole (a temporary file renamed over it); nothing done if it holds it."""
    try:
        if not path.is_symlink() and path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _link(path: Path, target: str) -> None:
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)


PIP_SHIM = """#!{python}
# deepdocker: the image's pip, installing into this layer ({layer}). An install that fails half-way
# (a full disk) takes away what it had added: the layer is left as it was.
import os, shutil, sys, sysconfig
from pip._internal.cli.main import main
dirs = {{sysconfig.get_paths()[k] for k in ("purelib", "platlib", "scripts")}}
before = {{d: set(os.listdir(d)) for d in dirs if os.path.isdir(d)}}
status = main()
if status and "install" in sys.argv[1:2]:
    for d, old in before.items():
        for entry in set(os.listdir(d)) - old:
            path = os.path.join(d, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
sys.exit(status)
"""


def kernel_spec(layer: str) -> str:
    spec = {
        "argv": [f"{layer}/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    return json.dumps(spec, indent=1) + "\n"


def build(layer: str, img: Image) -> None:
    """Make `layer` (or bring it up to date with this image): only deepdocker's own files in it are
    written; the user's packages are never touched."""
    root = Path(layer)
    site = root / f"lib/python{img.short}/site-packages"
    for d in (root / "bin", site, root / "share/jupyter/kernels/python3"):
        d.mkdir(parents=True, exist_ok=True)
    _write(
        root / "pyvenv.cfg",
        f"home = {img.home}\ninclude-system-site-packages = false\nversion = {img.version}\n"
        f"executable = {img.home}/python{img.short}\n",
    )
    _link(root / f"bin/python{img.short}", f"{img.home}/python{img.short}")
    _link(root / "bin/python3", f"python{img.short}")
    _link(root / "bin/python", f"python{img.short}")
    # The image's site-packages after the user's, its own .pth files processed (site.addsitedir).
    _write(site / PTH, f"import site; site.addsitedir({img.site_packages!r})\n")
    for name in ("pip", "pip3", f"pip{img.short}"):
        shim = root / "bin" / name
        # A pip the user installed into the layer wrote its own: that one stays.
        if not shim.exists() or shim.read_text(errors="replace").startswith(f"#!{layer}/bin/python\n# deepdocker"):
            _write(shim, PIP_SHIM.format(python=f"{layer}/bin/python", layer=layer), 0o755)
    kernels = root / "share/jupyter/kernels/python3"
    _write(kernels / "kernel.json", kernel_spec(layer))
    image_kernel = Path(img.venv) / "share/jupyter/kernels/python3"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        try:
            data = (image_kernel / logo).read_bytes()
        except OSError:
            continue
        if not (kernels / logo).exists():
            (kernels / logo).write_bytes(data)
    if not (root / STAMP).exists():
        stamp(layer, img)


def stamp(layer: str, img: Image) -> None:
    """Record the image the layer's packages were installed under (`deepdocker-env reinstall` too)."""
    text = json.dumps({"python": img.version, "machine": img.machine, "image": packages(img.site_packages)}, indent=1)
    _write(Path(layer) / STAMP, text + "\n")


def r_user_library(home: str) -> str | None:
    """R's user library in `home` (R_LIBS_USER's default, which R uses only if it exists)."""
    try:
        with open(R_LIBS_USER_FILE) as f:
            rel = f.read().strip()
    except OSError:
        return None
    return f"{home}/{rel}" if rel and not rel.startswith("/") and ".." not in rel.split("/") else None


def other_layers(home: str, img: Image, mine: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The layers made under another Python or machine, with the packages the current one lacks."""
    out = []
    base = Path(home) / ROOT
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    for entry in entries:
        m = LAYER_NAME.fullmatch(entry)
        if not m or entry == img.layer_name:
            continue
        theirs = packages(f"{base}/{entry}/lib/python{m[1]}.{m[2]}/site-packages")
        missing = {n: v for n, v in theirs.items() if n not in mine and n not in ("pip", "setuptools")}
        if missing:
            out.append((f"{base}/{entry}", missing))
    return out


def scan(home: str, layer: str, img: Image) -> dict:
    """What a person should know of the user's layer: its packages, those that shadow the image's
    (another version of the same package), the image change since it was made, old layers."""
    mine = packages(f"{layer}/lib/python{img.short}/site-packages")
    image_pkgs = packages(img.site_packages)
    shadows = sorted((n, v, image_pkgs[n]) for n, v in mine.items() if n in image_pkgs and image_pkgs[n] != v)
    try:
        with open(f"{layer}/{STAMP}") as f:
            made_under = json.load(f).get("image", {})
        changed = sorted(
            f"{n} {made_under[n]} -> {v}" for n, v in image_pkgs.items() if n in made_under and made_under[n] != v
        )
    except (OSError, ValueError, AttributeError):
        changed = []
    old = other_layers(home, img, mine)
    site = f"{layer}/lib/python{img.short}/site-packages"
    # pip writes a package's RECORD last: without one, its install was stopped half-way (killed).
    half = sorted(
        n for n, v in mine.items() if not any(os.path.isfile(f"{site}/{d}/RECORD") for d in _infos(site, n, v))
    )
    notes = []
    for name in half:
        notes.append(
            f"user layer: {name} {mine[name]} in {layer} was left half-installed (its install was stopped): "
            f"remove its files and {name}-{mine[name]}.dist-info from {site}, then install it again"
        )
    for name, version, theirs in shadows:
        notes.append(
            f"user layer: {name} {version} in {layer} shadows the image's {theirs} "
            f"(pip uninstall {name}: the image's comes back)"
        )
    if mine and changed:
        notes.append(
            f"user layer: {len(mine)} package(s) in {layer} were installed under another image "
            f"({_listing(changed)}); if one fails to import: deepdocker-env reinstall"
        )
    for path, missing in old:
        notes.append(
            f"user layer: {len(missing)} package(s) in {path} ({_listing(sorted(missing))}) were installed for "
            f"{Path(path).name}; this image has {img.layer_name}: not loaded. deepdocker-env reinstall "
            "installs them for this one"
        )
    return {
        "path": layer,
        "packages": mine,
        "shadows": [{"name": n, "version": v, "image_version": i} for n, v, i in shadows],
        "half_installed": half,
        "image_changed": changed if mine else [],
        "other_layers": {p: m for p, m in old},
        "notes": notes,
    }


def ensure(home: str, img: Image) -> dict:
    """Run as the notebook user at every start: the layer and R's user library made or brought up to
    date; {"layer": PATH or "", "notes": [...]}. A home that cannot be written (another UID's,
    read-only, full) gets the image's environment alone, with one note, and nothing in it changed."""
    layer = layer_path(home, img)
    notes: list[str] = []
    try:
        build(layer, img)
        if lib := r_user_library(home):
            os.makedirs(lib, exist_ok=True)
    except OSError as e:
        usable = os.path.isfile(f"{layer}/pyvenv.cfg") and os.access(f"{layer}/bin/python", os.X_OK)
        why = e.strerror or str(e)
        if usable:
            notes.append(f"user layer: {layer} cannot be written ({why}): its packages load; new installs fail")
        else:
            notes.append(
                f"user layer: {home} cannot hold one ({why}): the image's environment only; "
                "pip install goes nowhere (README, Your environment)"
            )
            return {"layer": "", "notes": notes}
    site = f"{layer}/lib/python{img.short}/site-packages"
    if not notes and not os.access(site, os.W_OK):
        owner = os.stat(site).st_uid
        notes.append(
            f"user layer: {layer} is uid {owner}'s, not this user's: its packages load; new installs fail "
            "(CHOWN_HOME=yes hands the home over)"
        )
    notes += scan(home, layer, img)["notes"]
    return {"layer": layer, "notes": notes}


def attach(settings, env: dict[str, str]):
    """The start's settings with the notebook user's layer made and named (Settings.user_layer), and
    its notes added. Started as root, `ensure` runs as the notebook user, in the control plane's own
    Python, isolated (-I): root writes nothing in the user's home and runs nothing of theirs."""
    import dataclasses
    import subprocess

    from .accounts import users

    img = image(env)
    if img is None:
        return settings
    account, home = settings.account, settings.nb_home
    if settings.is_root and not account.is_root:
        switch: dict = {"user": account.uid, "group": account.gid, "extra_groups": users.groups(account)}
        if settings.stacks.umask is not None:
            switch["umask"] = settings.stacks.umask
        run_env: dict[str, str] = {k: env[k] for k in ("USER_VENV", "LANG", "LC_ALL") if k in env}
        run_env.update(HOME=home, PATH="/usr/bin:/bin")
        argv = [sys.executable, "-I", "-m", "entrypoint.userlayer", "ensure", home]
        done = None
        try:
            done = subprocess.run(
                argv,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                cwd="/",
                **switch,
            )
            answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
            answer = None
        if not isinstance(answer, dict):
            last = done.stderr.strip().splitlines()[-1][:200] if done and done.stderr.strip() else "no answer"
            answer = {"layer": "", "notes": [f"user layer: not made ({last}): the image's environment only"]}
    else:
        answer = ensure(home, img)
    layer = answer.get("layer") if isinstance(answer.get("layer"), str) else ""
    expected = layer_path(home, img)
    notes = [n for n in answer.get("notes", []) if isinstance(n, str)]
    # One line each, printable, short: a note goes into the state file and the log.
    notes = [n[:500] for n in notes if n.isprintable()]
    if layer and home != account.home:
        notes.append(
            f"user layer: {account.home} cannot be written by {account.name} (uid {account.uid}): what you install "
            f"lasts only as long as this container, in {layer} (README, Your environment)"
        )
    return dataclasses.replace(settings, user_layer=layer if layer == expected else "", notes=(*settings.notes, *notes))


def main(argv: list[str]) -> int:
    """python -I -m entrypoint.userlayer ensure|scan HOME: one JSON line on stdout."""
    if len(argv) != 2 or argv[0] not in ("ensure", "scan"):
        print("usage: python -I -m entrypoint.userlayer ensure|scan HOME", file=sys.stderr)
        return 2
    img = image(os.environ)
    if img is None:
        print(json.dumps({"layer": "", "notes": []}))
        return 0
    home = argv[1]
    result = ensure(home, img) if argv[0] == "ensure" else scan(home, layer_path(home, img), img)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
