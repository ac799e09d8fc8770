"""The whole input surface, fed generated values: each start means what its input says, or is refused.

At the entrypoint's boundary (main(), as `docker run -e` reaches it), every documented variable
gets values Hypothesis makes up: control characters, line breaks, bytes that are not UTF-8
(Python keeps them as lone surrogates), very long values, paths to special files, config
syntax, and plausible values too. Each run either renders a supervisord.conf that supervisor's
own parser reads back as exactly what the input means, or exits 2 with one line naming the
variable (never a secret's value), having written nothing and started nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from supervisor.options import ServerOptions

from entrypoint import cli
from entrypoint.services import REGISTRY
from entrypoint.settings import SECRETS, VARIABLES, registry_variables
from tests.helpers import daemon_argv

PORT_VARS = {s.port_var: name for name, s in REGISTRY.items()}
SWITCHES = tuple(s.public_var for s in REGISTRY.values() if s.public_var)
# Every variable deepdocker reads: its own and each registry entry's (ports, switches, secrets, knobs).
EVERY_VARIABLE = tuple(dict.fromkeys((*VARIABLES, *registry_variables())))
ALL = ",".join(REGISTRY)

# What an attacker or a careless user types.
NASTY = [
    "",
    " ",
    "/tmp/x\n[program:evil]\ncommand=/usr/bin/touch /tmp/pwned",
    "/tmp/x\nPermitRootLogin yes",
    "x\r\nroot:pwned",
    "/tmp/a ;b",
    "/tmp/a #b",
    '/tmp/a"b',
    "%(ENV_HOME)s",
    "/../",
    "/x/../../etc",
    "relative/path",
    "/dev/zero",
    "/dev/null",
    "/etc/shadow",
    "/proc/self/environ",
    "/",
    "/etc/passwd/below",
    "::",
    "10.255.255.1",
    "root",
    "0",
    "-1",
    "65536",
    "a",
    "\udcff\udcfe",
    "caf\u00e9",
    "x" * 5000,
    "/" + "d" * 200,
]
PLAUSIBLE = {
    "SERVICES": st.sampled_from(["jupyter", "all", "JUPYTER sshd", "tensorboard,,jupyter", "bogus", "rstudio"]),
    "DEEPDOCKER_BIND": st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "127.0.0.2", "1.2.3.4"]),
    "DEEPDOCKER_ON_FATAL": st.sampled_from(["stay", "EXIT", " exit ", "die"]),
    "JUPYTER_BASE_URL": st.from_regex(r"/([a-z0-9._~-]{1,8}/){0,3}", fullmatch=True),
    "NB_USER": st.sampled_from(["nobody", "daemon", "root", "no-such-user"]),
    "NB_UID": st.sampled_from(["4242", "0", "abc"]),
    "NB_GID": st.sampled_from(["4242", "0"]),
    "DISABLE_AUTH": st.sampled_from(["true", "no", "maybe"]),
    "NB_GROUP": st.sampled_from(["users", "staff", "newgroup", "Bad"]),
    "NB_UMASK": st.sampled_from(["002", "0022", "777", "0999", "22"]),
    "CHOWN_HOME_OPTS": st.sampled_from(["-R", "", "-v"]),
    "CHOWN_EXTRA": st.sampled_from(["/tmp", "/tmp,/var", "relative", "/"]),
    "JUPYTER_ENV_VARS_TO_UNSET": st.sampled_from(["A,B", "SECRET", "A B", "1X"]),
    "NOTEBOOK_ARGS": st.sampled_from(["--ServerApp.max_body_size=1", "--IdentityProvider.token=", "'x", "sub"]),
    "DOCKER_STACKS_JUPYTER_CMD": st.sampled_from(["lab", "notebook", "server", "nbclassic", "retro"]),
    **{
        var: st.sampled_from(["yes", "1", "no", "maybe"])
        for var in ("GRANT_SUDO", "GEN_CERT", "RESTARTABLE", "CHOWN_HOME")
    },
    **{var: st.sampled_from(["true", "0", "perhaps"]) for var in SWITCHES},
    **{var: st.integers(0, 70000).map(str) for var in PORT_VARS},
}
# Any character an environment can carry: all but NUL, and the lone surrogates U+DC80..U+DCFF
# that stand for bytes that are not UTF-8 (os.environ's surrogateescape).
UNDECODABLE = st.integers(0xDC80, 0xDCFF).map(chr)
ANY_CHAR = st.characters(codec="utf-8", exclude_characters="\x00") | UNDECODABLE
ANY_TEXT = st.text(ANY_CHAR, max_size=60)
# "." and ".." name the folder itself and its parent, never a new entry (a folder made of "made/."
# would be "made", emptied and removed as the run dir's place).
FOLDER_NAME = st.text(ANY_CHAR.filter(lambda c: c != "/"), min_size=1, max_size=20).filter(
    lambda n: n not in (".", "..")
)


CONFLICTS = {"SHARED_DIR": ("DEEPDOCKER_RUN_DIR",)}


def value_for(var: str) -> st.SearchStrategy:
    options = [ANY_TEXT, st.sampled_from(NASTY)]
    if var in PLAUSIBLE:
        options.append(PLAUSIBLE[var])
    return st.one_of(*options)


@pytest.fixture
def world(tmp_path, base_env):
    """A start's surroundings: stand-in daemons, a notebook folder, a place for made-up folders."""
    made = tmp_path / "made"
    made.mkdir()
    # "/": a folder any NB_USER may open (this test's own tmp folder is root's alone).
    env = {**base_env, "SERVICES": ALL, "NOTEBOOK_DIR": "/", "DEEPDOCKER_BIND": "127.0.0.1"}
    return env, made


def start(env: dict[str, str], monkeypatch) -> tuple[int, str, str]:
    """main() with exactly `env`, nothing exec'd or spawned: (status, stdout, stderr)."""

    def refuse(*args, **kwargs):
        raise AssertionError("bad input got as far as starting something")

    monkeypatch.setattr(os, "execve", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["--print-config"])
            if status == 2:
                # The real start, not only the preview, refuses it the same way.
                again = io.StringIO()
                with contextlib.redirect_stderr(again):
                    assert cli.main([]) == 2
                assert again.getvalue() == err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return status, out.getvalue(), err.getvalue()


def programs(text: str, folder: Path, run_dir: str) -> dict:
    conf = folder / "printed.conf"
    conf.write_text(text)
    opts = ServerOptions()
    opts.configfile = str(conf)
    # supervisor's parser wants the pidfile's folder, which a real start makes; made here for it alone.
    made = not os.path.exists(run_dir)
    if made:
        Path(run_dir).mkdir(parents=True)
    try:
        opts.process_config(do_usage=False)
    finally:
        if made:
            Path(run_dir).rmdir()
    return {p.name: p for g in opts.process_group_configs for p in g.process_configs}


def check_meaning(var: str, value: str, progs: dict, text: str) -> None:
    """The parsed config says what `var=value` means."""
    argv = {name: daemon_argv(p.command) for name, p in progs.items()}
    assert set(progs) <= set(REGISTRY), "a program nobody asked for"
    if var == "NOTEBOOK_DIR" and value:  # empty: unset, the default
        assert f"--ServerApp.root_dir={value}" in argv["jupyter"] and progs["jupyter"].directory == value
    elif var == "TENSORBOARD_LOGDIR" and value:
        assert f"--logdir={value}" in argv["tensorboard"]
    elif var == "JUPYTER_BASE_URL":
        assert f"--ServerApp.base_url={value if value.endswith('/') else value + '/'}" in argv["jupyter"]
    elif var in PORT_VARS and PORT_VARS[var] in progs and var != "SSHD_PORT":  # sshd's is in sshd_config
        # --port=N, --www-port=N, --bind-addr=HOST:N: the port, whole, as the value of an option.
        assert any(re.fullmatch(rf"--[a-z-]+=(\S+:)?{int(value)}", arg) for arg in argv[PORT_VARS[var]])
    elif var == "DEEPDOCKER_BIND":
        assert f"--ip={value}" in argv["jupyter"]
    elif var == "NB_USER" and value == "root":  # knowingly: root, with --allow-root
        assert progs["jupyter"].uid is None and "--allow-root" in argv["jupyter"]
    elif var == "NB_USER" and value:
        assert progs["jupyter"].uid is not None and progs["jupyter"].uid != 0
    elif var == "NB_UMASK" and value:
        assert progs["jupyter"].umask == int(value, 8)
    elif var == "SERVICES":
        assert progs, "no program for a SERVICES that was accepted"
    # No argument and no environment value of any program is the secret (one of a few characters
    # may be an argument of its own: "/" is this world's NOTEBOOK_DIR, code-server's folder).
    if var in SECRETS and len(value.strip()) > 3:
        for name, p in progs.items():
            assert value.strip() not in (*argv[name], *(p.environment or {}).values())


def check_refusal(var: str, value: str, status: int, out: str, err: str, env: dict, existed: bool) -> None:
    assert status == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("deepdocker-entrypoint: ") and "; accepted: " in line
    named = line.removeprefix("deepdocker-entrypoint: ").split("=", 1)[0]
    # The variable at fault, the one that names the file it came from, or the other side of a
    # conflict that this test's own settings hold (a shared folder of "/" holds its run dir).
    assert named in (var, f"{var}_FILE", var.removesuffix("_FILE"), *CONFLICTS.get(var, ())), line
    if var in SECRETS and len(value.strip()) > 3:
        assert value.strip() not in line
    if not existed:
        assert not os.path.lexists(env["DEEPDOCKER_RUN_DIR"]), "refused, yet something was written"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(var=st.sampled_from(EVERY_VARIABLE), data=st.data())
def test_every_variable_means_what_it_says_or_is_refused_in_one_line(world, monkeypatch, tmp_path, var, data):
    env, _ = world
    # As an environment would hand it over: bytes that happen to be UTF-8 are decoded.
    value = os.fsdecode(os.fsencode(data.draw(value_for(var), label=var)))
    if var == "PATH":  # after the stand-in daemons, so that what it adds is what is tested
        value = f"{env['PATH']}:{value}"
    # Empty is unset: the default run dir is the machine's own, not this test's to make.
    assume(not (var == "DEEPDOCKER_RUN_DIR" and not value))
    env = {**env, var: value}
    existed = os.path.lexists(env["DEEPDOCKER_RUN_DIR"])
    status, out, err = start(env, monkeypatch)
    event(f"{var}: {'accepted' if status == 0 else 'refused'}")
    if status == 0:
        check_meaning(var, value, programs(out, tmp_path, env["DEEPDOCKER_RUN_DIR"]), out)
    else:
        check_refusal(var, value, status, out, err, env, existed)


PATH_VARS = ("NOTEBOOK_DIR", "SHARED_DIR", "SSH_HOST_KEY_DIR", "DEEPDOCKER_RUN_DIR", "JUPYTER_TOKEN_FILE")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(var=st.sampled_from(PATH_VARS), name=FOLDER_NAME, content=st.binary(max_size=40))
def test_folders_and_files_of_any_name(world, monkeypatch, tmp_path, var, name, content):
    """Real folders and files whose names hold anything a file name can hold."""
    env, made = world
    # As an environment would hand it over: bytes that happen to be UTF-8 are decoded.
    target = made / os.fsdecode(os.fsencode(name))
    try:
        if var.endswith("_FILE"):
            target.write_bytes(content)
        else:
            target.mkdir(exist_ok=True)
    except (OSError, UnicodeEncodeError, ValueError):
        return  # not a name this file system takes
    env = {**env, var: str(target)}
    if var == "DEEPDOCKER_RUN_DIR":
        target.rmdir()
    status, out, err = start(env, monkeypatch)
    event(f"{var}: {'accepted' if status == 0 else 'refused'}")
    if status == 0:
        check_meaning(var, str(target), programs(out, tmp_path, env["DEEPDOCKER_RUN_DIR"]), out)
        if var == "JUPYTER_TOKEN_FILE":
            token = content.decode().strip()
            assert len(token) >= 8 and not any(c.isspace() or not c.isprintable() for c in token)
    else:
        check_refusal(var, str(target), status, out, err, env, existed=False)
