"""The user's environment survives the container (entrypoint.userlayer, deepdocker-env): what a
person installs the ways people type it, in a real container, then `docker rm` and a new container
on the same home volume. The packages are made here (a wheel, an R source package, a .vsix): no
network is needed."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import tarfile
import tempfile
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.container.tracked import Container, api, docker, execute

pytestmark = pytest.mark.container

TOKEN = "user-layer-token-0123456789"
PKGS = "/tmp/pkgs"


def wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A pure-Python wheel of one module, `name`, whose VALUE is `version`."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: deepdocker-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, text in {**files, f"{info}/RECORD": record}.items():
            z.writestr(n, text)
    return path


def r_package(folder: Path, name: str = "tinyr", version: str = "1.0") -> Path:
    """An R source package with one function, hello()."""
    path = folder / f"{name}_{version}.tar.gz"
    files = {
        f"{name}/DESCRIPTION": f"Package: {name}\nVersion: {version}\nTitle: A test\nDescription: A test.\n"
        "License: MIT\nAuthor: deepdocker\nMaintainer: deepdocker <d@example.org>\n",
        f"{name}/NAMESPACE": "export(hello)\n",
        f"{name}/R/hello.R": f'hello <- function() "hello from {name}"\n',
    }
    with tarfile.open(path, "w:gz") as t:
        for n, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(n)
            member.size, member.mode = len(data), 0o644
            t.addfile(member, io.BytesIO(data))
    return path


def vsix(folder: Path) -> Path:
    """A code-server extension with nothing in it but its manifest."""
    path = folder / "deepdocker-tests.tiny-0.0.1.vsix"
    package = {"name": "tiny", "publisher": "deepdocker-tests", "version": "0.0.1", "engines": {"vscode": "*"}}
    manifest = (
        '<?xml version="1.0" encoding="utf-8"?><PackageManifest Version="2.0.0" '
        'xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011"><Metadata>'
        '<Identity Language="en-US" Id="tiny" Version="0.0.1" Publisher="deepdocker-tests"/>'
        "<DisplayName>tiny</DisplayName><Description>tiny</Description></Metadata>"
        '<Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/></Installation>'
        '<Dependencies/><Assets><Asset Type="Microsoft.VisualStudio.Code.Manifest" '
        'Path="extension/package.json" Addressable="true"/></Assets></PackageManifest>'
    )
    types = (
        '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension=".json" ContentType="application/json"/><Default Extension='
        '".vsixmanifest" ContentType="text/xml"/></Types>'
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("extension.vsixmanifest", manifest)
        z.writestr("[Content_Types].xml", types)
        z.writestr("extension/package.json", json.dumps(package))
    return path


@pytest.fixture
def pkgs(tmp_path) -> Path:
    folder = tmp_path / "pkgs"
    folder.mkdir()
    for name in ("tinypkg", "tinyuv", "tinynb"):
        wheel(folder, name)
    r_package(folder)
    vsix(folder)
    # A CRAN-like repository of the R package, for deepdocker-env restore (DEEPDOCKER_R_REPOS).
    (folder / "cran/src/contrib").mkdir(parents=True)
    r_package(folder / "cran/src/contrib")
    return folder


@pytest.fixture
def volumes():
    made: list[str] = []

    def make() -> str:
        made.append(f"deepdocker-test-home-{uuid.uuid4().hex[:8]}")
        docker("volume", "create", made[-1])
        return made[-1]

    yield make
    for v in made:
        docker("volume", "rm", "-f", v, check=False)


def start(containers, volume: str, *, env: dict | None = None, opts=(), expected=(), mount: str = "") -> Container:
    c = containers.run(
        env={"SERVICES": "jupyter", "JUPYTER_TOKEN": TOKEN, **(env or {})},
        ports=[8888],
        opts=[*(["--mount", mount] if mount else ["-v", f"{volume}:/home/jovyan"]), *opts],
        expected=expected,
    )
    c.wait_health()
    return c


def copy_in(c: Container, folder: Path) -> None:
    docker("cp", str(folder), f"{c.id}:{PKGS}")
    assert c.exec("chmod", "-R", "a+rX", PKGS).returncode == 0


def as_user(c: Container, script: str) -> str:
    """A login shell of the notebook user's (docker exec -u jovyan CONTAINER bash -lc ...)."""
    done = c.exec("bash", "-lc", script, user="jovyan", timeout=300)
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


def venv_kernel_runs(c: Container) -> bool:
    """~/envs/proj is a kernel in Jupyter's list, by its place in the home, and runs its own Python."""
    status, specs = api(c.port(8888), TOKEN, "/api/kernelspecs")
    assert status == 200
    spec = specs["kernelspecs"].get("venv-envs-proj")
    assert spec and spec["spec"]["display_name"] == "Python (envs/proj)", specs["kernelspecs"].keys()
    return in_kernel(c, "import sys; print(sys.prefix)", "venv-envs-proj").strip() == "/home/jovyan/envs/proj"


def in_kernel(c: Container, code: str, name: str = "python3") -> str:
    status, kernel = api(c.port(8888), TOKEN, "/api/kernels", {"name": name}, "POST")
    assert status == 201, status
    url = f"ws://127.0.0.1:{c.port(8888)}/api/kernels/{kernel['id']}/channels"
    try:
        return asyncio.run(execute(url, TOKEN, code))
    finally:
        api(c.port(8888), TOKEN, f"/api/kernels/{kernel['id']}", None, "DELETE")


# Wheels of ipykernel and everything it needs, packed in the container from the image's own installed
# files (each dist-info's RECORD): a real ipykernel for a user's venv, with no index to fetch it from.
REPACK = r"""
import importlib.metadata as md, os, re, sys, zipfile
from packaging.requirements import Requirement
out, todo, seen = sys.argv[1], ["ipykernel"], set()
os.makedirs(out, exist_ok=True)
while todo:
    name = todo.pop()
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    key = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    if key in seen:
        continue
    seen.add(key)
    for r in dist.requires or []:
        req = Requirement(r)
        if not req.marker or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
    with zipfile.ZipFile(f"{out}/{key}-{dist.version}-py3-none-any.whl", "w") as z:
        for f in dist.files or []:
            src = dist.locate_file(f)
            if not str(f).startswith("..") and "__pycache__" not in str(f) and os.path.isfile(src):
                z.write(src, str(f))
print(len(seen))
"""

THEME = "/lab/api/settings/@jupyterlab/apputils-extension:themes"
IMPORTS = "import tinypkg, tinyuv, tinynb; print(tinypkg.VALUE, tinyuv.VALUE, tinynb.VALUE, tinypkg.__file__)"


def test_what_the_user_installs_outlives_the_container(containers, volumes, pkgs):
    home = volumes()
    c = start(containers, home)
    copy_in(c, pkgs)
    # pip from a terminal (docker exec, no login shell: the image's pip takes the user to their layer).
    done = c.exec("pip", "install", "--no-index", f"{PKGS}/tinypkg-1.0-py3-none-any.whl", user="jovyan")
    assert done.returncode == 0, done.stderr
    # uv, as docker-stacks users ask for it.
    as_user(c, f"uv pip install --no-index {PKGS}/tinyuv-1.0-py3-none-any.whl")
    # %pip in a notebook, through Jupyter's websocket as a browser sends it; then imported there.
    code = f"%pip install --no-index {PKGS}/tinynb-1.0-py3-none-any.whl\nimport tinynb; print(tinynb.VALUE)"
    out = in_kernel(c, code)
    assert "Successfully installed tinynb-1.0" in out and out.strip().endswith("1.0"), out
    # R's install.packages() of a source tarball, into the user's library.
    as_user(c, f"Rscript -e \"install.packages('{PKGS}/tinyr_1.0.tar.gz', repos = NULL, type = 'source')\"")
    # A JupyterLab setting through its settings API, as the lab saves it.
    raw = json.dumps({"theme": "JupyterLab Dark"})
    status, _ = api(c.port(8888), TOKEN, THEME, {"raw": raw}, "PUT")
    assert status == 204, status
    # A code-server extension from a local .vsix, where the image has code-server.
    code = "/opt/deepdocker/code/bin/code-server"
    has_code = c.exec("test", "-x", code).returncode == 0
    # CI's image always has it (the npm registry answers there; test_code fails without it).
    assert has_code or not os.environ.get("CI"), "CI's image has no code-server"
    if has_code:
        data = "/home/jovyan/.local/share/code-server"
        as_user(
            c,
            f"{code} --user-data-dir={data} --extensions-dir={data}/extensions "
            f"--install-extension {PKGS}/deepdocker-tests.tiny-0.0.1.vsix",
        )
    as_user(c, "echo 'echo kept' >> ~/.bash_history && git config --global user.name 'A Person'")
    # A venv of the user's own with ipykernel: a kernel in the list at once, with no ipykernel install.
    assert int(c.exec("/opt/venv/bin/python", "-c", REPACK, "/tmp/ipykernel-wheels").stdout) > 10
    as_user(c, "uv venv ~/envs/proj && uv pip install --python ~/envs/proj --no-index "
               "--find-links /tmp/ipykernel-wheels ipykernel")  # fmt: skip
    assert venv_kernel_runs(c)
    # The image's own environment is as built: nothing of the user's went into it.
    image_site = c.exec("sh", "-c", "ls /opt/venv/lib/python3*/site-packages").stdout
    assert "tinypkg" not in image_site and "tinyuv" not in image_site and "tinynb" not in image_site
    docker("rm", "-f", c.id)

    c2 = start(containers, home)
    copy_in(c2, pkgs)
    layer = as_user(c2, "python -c 'import sys; print(sys.prefix)'").strip()
    assert layer.startswith("/home/jovyan/.local/share/deepdocker/python3."), layer
    assert as_user(c2, f"python -c '{IMPORTS}'").split()[:3] == ["1.0", "1.0", "1.0"]
    out = in_kernel(c2, IMPORTS)
    assert out.split()[:3] == ["1.0", "1.0", "1.0"] and out.split()[3].startswith(layer), out
    assert as_user(c2, "Rscript -e 'library(tinyr); cat(hello())'") == "hello from tinyr"
    status, theme = api(c2.port(8888), TOKEN, THEME)
    assert status == 200 and json.loads(theme["raw"])["theme"] == "JupyterLab Dark", theme
    if has_code:
        assert "deepdocker-tests.tiny@0.0.1" in as_user(c2, "deepdocker-env export")
    assert venv_kernel_runs(c2)
    assert "echo kept" in as_user(c2, "cat ~/.bash_history")
    assert as_user(c2, "git config --global user.name").strip() == "A Person"
    # The image's packages still import beside the user's.
    assert as_user(c2, "python -c 'import numpy, pandas, tinypkg; print(numpy.__file__)'").startswith("/opt/venv/")


def test_a_layer_of_another_python_is_named_then_reinstalled(containers, volumes, pkgs):
    home = volumes()
    c = start(containers, home)
    copy_in(c, pkgs)
    # As a newer image with another Python finds it: a layer made for Python 3.9.
    old = "/home/jovyan/.local/share/deepdocker/python3.9-x86_64/lib/python3.9/site-packages"
    as_user(c, f"mkdir -p {old}/tinypkg-1.0.dist-info {old}/tinypkg && echo 'VALUE = 0' > {old}/tinypkg/__init__.py")
    docker("restart", "-t", "10", c.id, timeout=60)
    c.wait_health()
    [line] = [x for x in c.logs().splitlines() if "python3.9-x86_64" in x and "WARNING" in x][-1:]
    assert "1 package(s)" in line and "not loaded" in line and "deepdocker-env reinstall" in line, line
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert any("python3.9-x86_64" in n for n in report["notes"]), report
    # Not loaded: the image's Python imports nothing of the 3.9 layer.
    assert c.exec("bash", "-lc", "python -c 'import tinypkg'", user="jovyan").returncode == 1
    assert as_user(c, "python -c 'import numpy, pandas; print(numpy.__file__)'").startswith("/opt/venv/")
    # The one command brings it back for this image, from where the packages are.
    as_user(c, f"deepdocker-env reinstall --no-index --find-links {PKGS}")
    assert as_user(c, "python -c 'import tinypkg; print(tinypkg.VALUE)'").strip() == "1.0"
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    assert not any("python3.9" in n for n in report.get("notes", [])), report
    assert report["user_layer"]["packages"] == {"tinypkg": "1.0"}
    # The old layer is left as it was.
    assert c.exec("test", "-f", f"{old}/tinypkg/__init__.py").returncode == 0


def test_a_package_that_shadows_the_images_is_named_by_health(containers, volumes, tmp_path):
    home = volumes()
    c = start(containers, home)
    numpy = c.exec("sh", "-c", "ls -d /opt/venv/lib/python3*/site-packages/numpy-*.dist-info").stdout
    image_version = numpy.strip().rsplit("numpy-", 1)[1].removesuffix(".dist-info")
    folder = tmp_path / "old"
    folder.mkdir()
    wheel(folder, "numpy", "1.0.0")
    copy_in(c, folder)
    as_user(c, f"pip install --no-index --no-deps {PKGS}/numpy-1.0.0-py3-none-any.whl")
    report = json.loads(c.exec("deepdocker-health", "--json").stdout)
    shadows = report["user_layer"]["shadows"]
    assert shadows == [{"name": "numpy", "version": "1.0.0", "image_version": image_version}], report
    assert any("pip uninstall numpy" in n for n in report["notes"])
    as_user(c, "pip uninstall -y numpy")
    assert as_user(c, "python -c 'import numpy; print(numpy.__version__)'").strip() == image_version


def test_export_on_one_volume_restore_on_a_fresh_one(containers, volumes, pkgs):
    c = start(containers, volumes())
    copy_in(c, pkgs)
    as_user(c, f"pip install --no-index {PKGS}/tinypkg-1.0-py3-none-any.whl {PKGS}/tinyuv-1.0-py3-none-any.whl")
    as_user(c, f"Rscript -e \"install.packages('{PKGS}/tinyr_1.0.tar.gz', repos = NULL, type = 'source')\"")
    exported = json.loads(as_user(c, "deepdocker-env export"))
    assert exported["python_packages"] == {"tinypkg": "1.0", "tinyuv": "1.0"}
    assert exported["r_packages"] == {"tinyr": "1.0"}
    dockerfile = as_user(c, "deepdocker-env export --dockerfile")
    assert "FROM deepdocker:cpu" in dockerfile and "pip install --no-cache-dir tinypkg==1.0 tinyuv==1.0" in dockerfile
    as_user(c, "deepdocker-env export ~/lab.json")
    saved = c.exec("cat", "/home/jovyan/lab.json").stdout

    fresh = start(containers, volumes(), env={"DEEPDOCKER_R_REPOS": f"file://{PKGS}/cran"})
    copy_in(fresh, pkgs)
    subprocess.run(["docker", "cp", "-", f"{fresh.id}:/tmp"], input=tar_of("lab.json", saved), check=True, timeout=60)
    # R's repository index, as a CRAN mirror has one.
    index = fresh.exec("Rscript", "-e", f"tools::write_PACKAGES('{PKGS}/cran/src/contrib', type = 'source')")
    assert index.returncode == 0, index.stderr
    # A corrupt export: one line, exit 2, nothing installed.
    bad_export = json.dumps({"format": "deepdocker-env/1", "python_packages": {"a b": "1"}})
    fresh.exec("sh", "-c", f"echo '{bad_export}' > /tmp/bad.json")
    bad = fresh.exec("deepdocker-env", "restore", "/tmp/bad.json", user="jovyan")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad
    as_user(fresh, f"deepdocker-env restore /tmp/lab.json --no-index --find-links {PKGS}")
    again = json.loads(as_user(fresh, "deepdocker-env export"))
    assert again["python_packages"] == exported["python_packages"]
    assert again["r_packages"] == exported["r_packages"]


def tar_of(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = text.encode()
        member = tarfile.TarInfo(name)
        member.size, member.mode = len(data), 0o644
        t.addfile(member, io.BytesIO(data))
    return buf.getvalue()


def test_a_home_that_cannot_hold_a_layer_starts_with_the_image_alone(containers, volumes):
    home = volumes()
    # Another UID's home, closed to the notebook user.
    docker("run", "--rm", "--entrypoint", "sh", "-v", f"{home}:/h", "deepdocker:cpu", "-c",
           "rm -rf /h/* /h/.[!.]* && chown 4242:4242 /h && chmod 700 /h && echo theirs > /h/file")  # fmt: skip
    before = digest(home)
    c = start(containers, home, env={"NB_UID": "1000"}, expected=(r"user layer",))
    assert c.exec("deepdocker-health").returncode == 0
    [line] = [x for x in c.logs().splitlines() if "user layer" in x]
    assert "/home/jovyan cannot be written by jovyan (uid 1000)" in line and "as long as this container" in line
    listed = c.exec("sh", "-c", "ls -A /home/jovyan; stat -c '%u %a' /home/jovyan").stdout.split()
    assert listed == ["file", "4242", "700"]
    docker("rm", "-f", c.id)
    assert digest(home) == before
    # Read-only, with a layer in it from an earlier start: the same, nothing written, one line.
    ro = volumes()
    c = start(containers, ro)
    as_user(c, "true")
    docker("rm", "-f", c.id)
    before = digest(ro)
    c = start(containers, ro, mount=f"type=volume,src={ro},dst=/home/jovyan,readonly", expected=(r"user layer",))
    assert c.exec("deepdocker-health").returncode == 0
    [line] = [x for x in c.logs().splitlines() if "user layer" in x]
    assert "/home/jovyan cannot be written" in line and "as long as this container" in line, line
    assert as_user(c, "python -c 'import numpy; print(numpy.__file__)'").startswith("/opt/venv/")
    docker("rm", "-f", c.id)
    assert digest(ro) == before


def digest(volume: str) -> str:
    """Every file in a volume, with its owner, mode, size and time of change."""
    script = "cd /h && find . -printf '%p %U %G %m %s %T@\\n' | sort | md5sum"
    return docker("run", "--rm", "--entrypoint", "sh", "-v", f"{volume}:/h", "deepdocker:cpu", "-c", script).stdout


def test_a_home_folder_docker_made_is_handed_over_and_keeps_what_is_installed(containers, pkgs):
    base = Path(tempfile.mkdtemp())
    host_home = base / "home"  # not there: Docker makes it, empty and root's
    try:
        c = start(containers, str(host_home))  # -v HOST_PATH:/home/jovyan, as the README's lines do
        copy_in(c, pkgs)
        as_user(c, f"pip install --no-index {PKGS}/tinypkg-1.0-py3-none-any.whl")
        assert (host_home.stat().st_uid, host_home.stat().st_gid) == (1000, 100)
        assert list(host_home.glob(".local/share/deepdocker/python3.*/lib/python3.*/site-packages/tinypkg"))
        docker("rm", "-f", c.id)
        c = start(containers, str(host_home))
        assert as_user(c, "python -c 'import tinypkg; print(tinypkg.VALUE)'").strip() == "1.0"
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_read_only_container_with_a_home_volume_keeps_what_is_installed(containers, volumes, pkgs):
    home = volumes()
    # docker cp cannot write into a --read-only container: the packages come in a bind mount.
    opts = ["--read-only", "--tmpfs", "/tmp", "-v", f"{pkgs}:{PKGS}:ro"]
    c = start(containers, home, opts=opts)
    as_user(c, f"pip install --no-index {PKGS}/tinypkg-1.0-py3-none-any.whl")
    docker("rm", "-f", c.id)
    c = start(containers, home, opts=opts)
    assert as_user(c, "python -c 'import tinypkg; print(tinypkg.VALUE)'").strip() == "1.0"


def test_an_install_that_fills_the_disk_leaves_the_layer_as_it_was(containers, pkgs):
    # A home of 8 MiB: the layer and a tiny package fit, a 16 MiB one does not. Docker's tmpfs is
    # noexec too: the layer's scripts cannot run, its python (a link to the image's) can.
    big = pkgs / "big"
    big.mkdir()
    path = wheel(big, "bigpkg")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as z:
        z.writestr("bigpkg/blob.bin", os.urandom(16 << 20))
    # Not docker cp: Docker 20.10's hides a container's tmpfs mounts from it afterwards.
    c = start(
        containers,
        "",
        mount="type=tmpfs,dst=/home/jovyan,tmpfs-size=8388608,tmpfs-mode=1777",
        opts=["-v", f"{pkgs}:{PKGS}:ro"],
    )
    as_user(c, f"pip install --no-index {PKGS}/tinypkg-1.0-py3-none-any.whl")
    full = c.exec("bash", "-lc", f"pip install --no-cache-dir --no-index {PKGS}/big/bigpkg-1.0-py3-none-any.whl",
                  user="jovyan", timeout=300)  # fmt: skip
    assert full.returncode != 0 and "No space left on device" in full.stdout + full.stderr, full
    assert as_user(c, "python -c 'import tinypkg, numpy; print(tinypkg.VALUE)'").strip() == "1.0"
    listed = as_user(c, "pip list --format=freeze 2>/dev/null")
    assert "tinypkg==1.0" in listed and "bigpkg" not in listed
    assert c.exec("bash", "-lc", "python -c 'import bigpkg'", user="jovyan").returncode == 1
