"""The notebook user's layer (entrypoint.userlayer) and deepdocker-env (entrypoint.userenv), on a
stand-in image environment made here: a real venv of this interpreter, with dist-info folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoint import userenv, userlayer


def short() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def dist(site: Path, name: str, version: str, module: str | None = None, record: bool = True) -> None:
    """An installed package as pip leaves it: its dist-info with METADATA and (last) RECORD."""
    (site / f"{name}-{version}.dist-info").mkdir(parents=True)
    (site / f"{name}-{version}.dist-info" / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")
    if record:
        (site / f"{name}-{version}.dist-info" / "RECORD").write_text("")
    if module:
        (site / f"{module}.py").write_text(f"WHERE = {str(site)!r}\nVERSION = {version!r}\n")


@pytest.fixture
def image(tmp_path, monkeypatch) -> userlayer.Image:
    """An image environment: a venv without pip, holding numpy 2.2.6 and a .pth of its own."""
    env = tmp_path / "opt-venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    site = env / f"lib/python{short()}/site-packages"
    dist(site, "numpy", "2.2.6", "numpy")
    (site / "image_extra.pth").write_text(str(tmp_path / "extra") + "\n")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "from_image_pth.py").write_text("OK = True\n")
    monkeypatch.setenv("USER_VENV", str(env))
    img = userlayer.image(os.environ)
    assert img is not None and img.short == short()
    return img


def run_python(layer: str, code: str) -> str:
    done = subprocess.run([f"{layer}/bin/python", "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_layer_is_a_prefix_of_its_own_on_top_of_the_image(image, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    answer = userlayer.ensure(str(home), image)
    layer = answer["layer"]
    assert layer == f"{home}/.local/share/deepdocker/python{short()}-{image.machine}"
    assert answer["notes"] == []
    out = json.loads(
        run_python(
            layer,
            "import json, sys, numpy, from_image_pth; print(json.dumps([sys.prefix, sys.path, numpy.WHERE]))",
        )
    )
    prefix, path, numpy_from = out
    assert prefix == layer
    mine, theirs = f"{layer}/lib/python{short()}/site-packages", image.site_packages
    # The user's packages first, then the image's, its own .pth files processed.
    assert path.index(mine) < path.index(theirs)
    assert numpy_from == theirs
    # The Jupyter kernel and pip both run this prefix's python.
    spec = json.loads(Path(layer, "share/jupyter/kernels/python3/kernel.json").read_text())
    assert spec["argv"][0] == f"{layer}/bin/python"
    assert Path(layer, "bin/pip").read_text().startswith(f"#!{layer}/bin/python\n")


def test_a_user_package_shadows_the_image_and_is_named(image, tmp_path):
    home = tmp_path / "home"
    layer = userlayer.ensure(str(home), image)["layer"]
    dist(Path(layer, f"lib/python{short()}/site-packages"), "numpy", "1.26.4", "numpy")
    assert run_python(layer, "import numpy; print(numpy.VERSION)") == "1.26.4"
    found = userlayer.scan(str(home), layer, image)
    assert found["shadows"] == [{"name": "numpy", "version": "1.26.4", "image_version": "2.2.6"}]
    assert any(
        "numpy 1.26.4" in n and "shadows the image's 2.2.6" in n and "pip uninstall numpy" in n for n in found["notes"]
    )


def test_a_start_leaves_the_users_packages_and_files_as_they_were(image, tmp_path):
    home = tmp_path / "home"
    layer = Path(userlayer.ensure(str(home), image)["layer"])
    site = layer / f"lib/python{short()}/site-packages"
    dist(site, "tinypkg", "1.0", "tinypkg")
    (layer / "bin" / "pip").write_text("#!/bin/sh\n# the user's own pip\n")
    before = {p: p.read_bytes() for p in layer.rglob("*") if p.is_file()}
    userlayer.ensure(str(home), image)
    after = {p: p.read_bytes() for p in layer.rglob("*") if p.is_file()}
    assert after == before


def test_a_layer_of_another_python_is_named_not_loaded(image, tmp_path):
    home = tmp_path / "home"
    old = home / userlayer.ROOT / "python3.9-x86_64" / "lib/python3.9/site-packages"
    dist(old, "tinypkg", "1.0")
    dist(old, "pip", "23.0")
    answer = userlayer.ensure(str(home), image)
    [note] = answer["notes"]
    assert "1 package(s)" in note and "tinypkg" in note and "python3.9-x86_64" in note
    assert "not loaded" in note and "deepdocker-env reinstall" in note
    # Once this layer has it, the old one is no longer news.
    dist(Path(answer["layer"], f"lib/python{short()}/site-packages"), "tinypkg", "1.0")
    assert userlayer.ensure(str(home), image)["notes"] == []


def test_an_image_change_under_a_layer_with_packages_is_said(image, tmp_path):
    home = tmp_path / "home"
    layer = userlayer.ensure(str(home), image)["layer"]
    dist(Path(layer, f"lib/python{short()}/site-packages"), "tinypkg", "1.0")
    site = Path(image.site_packages)
    (site / "numpy-2.2.6.dist-info").rename(site / "numpy-2.3.0.dist-info")
    [note] = userlayer.ensure(str(home), image)["notes"]
    assert "numpy 2.2.6 -> 2.3.0" in note and "deepdocker-env reinstall" in note


def as_uid(uid: int, fn, *args):
    """fn(*args) in a child process that is `uid` alone (where the tests run as root), its
    JSON-able result read back through a pipe."""
    if os.geteuid() != 0:
        return fn(*args)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.write(write, json.dumps(fn(*args)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    assert os.waitpid(pid, 0)[1] == 0
    return json.loads(text)


def test_a_home_that_cannot_be_written_gets_the_image_alone_and_is_left_as_it_was(image):
    """Root's home, seen by the notebook user (uid 4242, where the tests run as root), beside a home
    of the user's own in the same folder, where the same child makes its layer."""
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        theirs, mine = base / "theirs", base / "mine"
        theirs.mkdir(mode=0o755)
        mine.mkdir()
        (theirs / "notes.txt").write_text("root's")
        if os.geteuid() == 0:
            os.chown(mine, 4242, 4242)
        else:
            theirs.chmod(0o555)
        answers = as_uid(4242, lambda: [userlayer.ensure(str(h), image) for h in (theirs, mine)])
        theirs.chmod(0o755)
        refused, made = answers
        assert refused["layer"] == ""
        [note] = refused["notes"]
        assert "cannot hold one (Permission denied)" in note and "the image's environment only" in note
        assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
        assert made["layer"].startswith(f"{mine}/") and made["notes"] == []
    finally:
        shutil.rmtree(base)


def test_a_home_that_cannot_be_written_as_root(image, tmp_path):
    """As root, the same through a file where the layer's folder would go (ENOTDIR)."""
    home = tmp_path / "home"
    (home / ".local").mkdir(parents=True)
    (home / ".local" / "share").write_text("a file of the user's")
    answer = userlayer.ensure(str(home), image)
    assert answer["layer"] == ""
    assert "cannot hold one" in answer["notes"][0]
    assert (home / ".local" / "share").read_text() == "a file of the user's"


def test_environment_puts_the_layer_first():
    env = userlayer.environment("/h/L", {"PATH": "/opt/venv/bin:/usr/bin", "JUPYTER_PATH": "/x"})
    assert env == {
        "PATH": "/h/L/bin:/opt/venv/bin:/usr/bin",
        "VIRTUAL_ENV": "/h/L",
        "JUPYTER_PATH": "/h/L/share/jupyter:/x",
    }


def test_no_image_environment_no_layer(monkeypatch, tmp_path):
    monkeypatch.delenv("USER_VENV", raising=False)
    assert userlayer.image(os.environ) is None
    monkeypatch.setenv("USER_VENV", str(tmp_path))  # no pyvenv.cfg
    assert userlayer.image(os.environ) is None


def test_export_then_the_same_file_parses_back(image, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    layer = userlayer.ensure(str(home), image)["layer"]
    dist(Path(layer, f"lib/python{short()}/site-packages"), "tinypkg", "1.0")
    dist(Path(layer, f"lib/python{short()}/site-packages"), "pip", "25.0")
    data = userenv.export(image, layer)
    assert data["python_packages"] == {"tinypkg": "1.0"}
    parsed = userenv.parse_export(json.dumps(data))
    assert parsed["python_packages"] == {"tinypkg": "1.0"}
    text = userenv.dockerfile(parsed, "deepdocker:cpu")
    assert text.splitlines()[1] == "FROM deepdocker:cpu"
    assert "RUN pip install --no-cache-dir tinypkg==1.0" in text


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[]", "not an export"),
        ('{"format": "other"}', "not an export"),
        ('{"format": "deepdocker-env/1", "python_packages": {"x; rm -rf ~": "1"}}', "not a package name"),
        ('{"format": "deepdocker-env/1", "python_packages": {"x": "1 --index-url=http://evil"}}', "not a package"),
        ('{"format": "deepdocker-env/1", "python_packages": {"--pre": "1"}}', "not a package name"),
        ('{"format": "deepdocker-env/1", "r_packages": {"x\')); system(\'id": "1"}}', "not a package name"),
        ('{"format": "deepdocker-env/1", "code_extensions": ["--force"]}', "code_extensions"),
        ('{"format": "deepdocker-env/1", "python_packages": []}', "not an object"),
    ],
)
def test_a_corrupt_export_is_refused_before_anything_is_installed(text, why, image, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    layer = userlayer.ensure(str(home), image)["layer"]
    before = sorted(p.name for p in Path(layer, f"lib/python{short()}/site-packages").iterdir())
    export = tmp_path / "export.json"
    export.write_text(text)
    calls = []
    monkeypatch.setattr(userenv, "as_notebook_user", lambda argv: None)  # root here is the notebook user
    monkeypatch.setattr(userenv.subprocess, "run", lambda *a, **k: calls.append(a))
    assert userenv.main(["restore", str(export)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"deepdocker-env: {export}: ") and why in err[0], err
    assert calls == []
    assert sorted(p.name for p in Path(layer, f"lib/python{short()}/site-packages").iterdir()) == before


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["format", "python", "machine", "python_packages", "r_packages", "kernels", "code_extensions"]),
        JSONISH,
    ),
    st.booleans(),
)
def test_any_json_is_an_export_whose_every_value_is_safe_or_refused(data, good_format):
    if good_format:
        data["format"] = userenv.FORMAT
    try:
        parsed = userenv.parse_export(json.dumps(data))
    except userenv.Refused as e:
        assert "\n" not in str(e)
        return
    for n, v in parsed["python_packages"].items():
        assert userenv.NAME.fullmatch(n) and userenv.VERSION.fullmatch(v) and not n.startswith("-")
    for n, v in parsed["r_packages"].items():
        assert userenv.R_NAME.fullmatch(n) and userenv.VERSION.fullmatch(v)
    assert all(userenv.EXTENSION.fullmatch(x) and not x.startswith("-") for x in parsed["code_extensions"])


def test_uv_in_the_layer_leaves_the_images_packages_out_unless_named(image, tmp_path):
    from entrypoint import uvshim

    home = tmp_path / "home"
    layer = userlayer.ensure(str(home), image)["layer"]
    dist(Path(image.site_packages), "pandas", "2.3.3")
    env = {"USER_VENV": image.venv, "HOME": str(home), "PATH": "/usr/bin"}
    out = uvshim.environment(["pip", "install", "seaborn"], env, str(home), 4242)
    assert out["VIRTUAL_ENV"] == layer
    assert Path(out["UV_EXCLUDE"]).read_text().split() == ["numpy", "pandas"]
    # Named on the command line or in a -r file: installed into the layer as asked.
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# pinned\nPandas==2.0 ; python_version > '3'\n-c constraints.txt\n")
    out = uvshim.environment(["pip", "install", "numpy==2.3", "-r", str(reqs)], env, str(home), 4242)
    assert "UV_EXCLUDE" not in out
    out = uvshim.environment(["pip", "install", "--index-url", "numpy", "x"], env, str(home), 4242)
    assert Path(out["UV_EXCLUDE"]).read_text().split() == ["numpy", "pandas"]
    # Another environment active, a UV_EXCLUDE of the user's, another command, root: left alone.
    assert (
        uvshim.environment(["pip", "install", "x"], {**env, "VIRTUAL_ENV": "/x"}, str(home), 4242).get("UV_EXCLUDE")
        is None
    )
    assert uvshim.environment(["pip", "install", "x"], {**env, "UV_EXCLUDE": ""}, str(home), 4242)["UV_EXCLUDE"] == ""
    assert "UV_EXCLUDE" not in uvshim.environment(["venv", "x"], env, str(home), 4242)
    assert "UV_EXCLUDE" not in uvshim.environment(["pip", "install", "--python=/x/bin/python", "y"], env, str(home), 1)
    assert "UV_EXCLUDE" not in uvshim.environment(["pip", "install", "-p", "/x", "y"], env, str(home), 1)
    assert uvshim.environment(["pip", "install", "x"], env, str(home), 0) == env


def test_the_state_file_carries_the_layer():
    from healthchecks import state

    s = state.State("/run/x.sock", layer="/home/jovyan/.local/share/deepdocker/python3.11-x86_64")
    assert state.loads(state.dumps(s)) == s
    assert state.loads(state.dumps(state.State("/s"))).layer == ""


def test_a_start_gives_every_daemon_and_command_the_layer(image, base_env):
    from entrypoint import cli
    from entrypoint.services import sshd
    from entrypoint.settings import from_env

    env = {**base_env, "SERVICES": "jupyter,sshd", "USER_VENV": image.venv}
    settings = userlayer.attach(from_env(env), env)
    layer = userlayer.layer_path(settings.nb_home, image)
    assert settings.user_layer == layer and Path(layer, "bin/python").is_symlink()
    for made in (cli.daemon_env(env, settings), cli.command_env(env, settings)):
        assert made["PATH"] == f"{layer}/bin:{env['PATH']}"
        assert made["VIRTUAL_ENV"] == layer and made["JUPYTER_PATH"] == f"{layer}/share/jupyter"
    assert f'"PATH={layer}/bin:{env["PATH"]}" "VIRTUAL_ENV={layer}"' in sshd.setenv(settings)
    # Where the image has none (host mode), nothing changes.
    plain = userlayer.attach(from_env(base_env), base_env)
    assert plain.user_layer == "" and "VIRTUAL_ENV" not in cli.daemon_env(base_env, plain)


@pytest.mark.parametrize(
    "args", [["nosuch"], ["export", "a", "b"], ["export", "--force"], ["status", "--yaml"], ["restore"]]
)
def test_deepdocker_env_usage_errors_are_one_line_and_exit_2(args, image, monkeypatch, capsys):
    monkeypatch.setattr(userenv, "as_notebook_user", lambda argv: None)
    assert userenv.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepdocker-env: ") and "accepted:" in err[0], err


def test_deepdocker_env_help(capsys):
    assert userenv.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("deepdocker-env: the notebook user's own environment")


@pytest.mark.parametrize("status", [0, 1])
def test_the_layers_pip_takes_back_what_a_failed_install_added(image, tmp_path, status):
    """The layer's pip (its shim) around a stand-in pip that installs a package, then fails (a full disk)."""
    fake = Path(image.site_packages) / "pip/_internal/cli"
    fake.mkdir(parents=True)
    for d in (fake.parents[1], fake.parent, fake):
        (d / "__init__.py").write_text("")
    (fake / "main.py").write_text(
        "import os, sys, sysconfig\n"
        "def main():\n"
        "    site, bin = sysconfig.get_paths()['purelib'], sysconfig.get_paths()['scripts']\n"
        "    os.makedirs(f'{site}/half/sub'); os.makedirs(f'{site}/half-1.0.dist-info')\n"
        "    open(f'{bin}/half-cli', 'w').close()\n"
        f"    return {status}\n"
    )
    home = tmp_path / "home"
    layer = Path(userlayer.ensure(str(home), image)["layer"])
    site = layer / f"lib/python{short()}/site-packages"
    dist(site, "tinypkg", "1.0", "tinypkg")
    before = sorted(p.name for p in site.iterdir()), sorted(p.name for p in (layer / "bin").iterdir())
    done = subprocess.run([f"{layer}/bin/python", f"{layer}/bin/pip", "install", "half"], env={"PATH": "/usr/bin"})
    assert done.returncode == status
    after = sorted(p.name for p in site.iterdir()), sorted(p.name for p in (layer / "bin").iterdir())
    if status:
        assert after == before
    else:
        assert {"half", "half-1.0.dist-info"} <= set(after[0]) and "half-cli" in after[1]


def test_a_package_whose_install_was_killed_is_named(image, tmp_path):
    home = tmp_path / "home"
    layer = userlayer.ensure(str(home), image)["layer"]
    site = Path(layer, f"lib/python{short()}/site-packages")
    dist(site, "tinypkg", "1.0")
    dist(site, "half", "2.0", record=False)
    found = userlayer.scan(str(home), layer, image)
    assert found["half_installed"] == ["half"]
    [note] = found["notes"]
    assert "half 2.0" in note and "half-installed" in note and "half-2.0.dist-info" in note


def test_a_layer_of_another_uid_loads_and_says_it_cannot_take_installs(image):
    """A layer made by uid 1000, then a start as uid 4242 (an NB_UID changed on the same volume)."""
    if os.geteuid() != 0:
        pytest.skip("makes files of two other uids: needs root (CI runs the unit tests as root)")
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        home.chmod(0o777)
        made = as_uid(1000, userlayer.ensure, str(home), image)
        assert made["layer"] and made["notes"] == [], made
        answer = as_uid(4242, userlayer.ensure, str(home), image)
        assert answer["layer"] == made["layer"]
        [note] = answer["notes"]
        assert "is uid 1000's" in note and "its packages load; new installs fail" in note and "CHOWN_HOME" in note
    finally:
        shutil.rmtree(base)
