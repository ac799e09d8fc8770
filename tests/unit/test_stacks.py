"""docker-stacks' interface: start commands, NOTEBOOK_ARGS, its start-up variables, hooks, accounts."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from entrypoint import cli
from entrypoint.accounts import users
from entrypoint.core.errors import UsageError
from entrypoint.render import render
from entrypoint.services import jupyter
from entrypoint.services.jupyter.command import jupyter_request
from entrypoint.settings import from_env
from entrypoint.stacks import hooks, messages
from entrypoint.stacks import options as stacks
from entrypoint.stacks.options import command_words
from tests.helpers import daemon_argv

NOBODY = pwd.getpwnam("nobody")


@pytest.mark.parametrize(
    "argv, env, page, options",
    [
        ("start-notebook.py", {}, "", ()),
        ("/usr/local/bin/start-notebook.sh --ServerApp.max_body_size=9", {}, "", ("--ServerApp.max_body_size=9",)),
        ("start-notebook.py --debug", {"NOTEBOOK_ARGS": "--LabApp.x=1 '--A.b=c d'"}, "",
         ("--LabApp.x=1", "--A.b=c d", "--debug")),
        ("start-notebook.py", {"DOCKER_STACKS_JUPYTER_CMD": "notebook"}, "/tree", ()),
        ("start-notebook.py", {"DOCKER_STACKS_JUPYTER_CMD": " Server "}, "", ()),
        ("", {"NOTEBOOK_ARGS": "--debug"}, "", ("--debug",)),
        ("", {"DOCKER_STACKS_JUPYTER_CMD": "notebook"}, "/tree", ()),
    ],
)  # fmt: skip
def test_start_notebook_and_its_variables(argv, env, page, options):
    request = jupyter_request(shlex.split(argv), env)
    assert request is not None
    assert (request.default_url, request.options) == (page, options)


def test_start_sh_is_the_command_it_runs():
    assert command_words(["start.sh", "bash", "-c", "id"]) == ["bash", "-c", "id"]
    assert command_words(["/usr/local/bin/start.sh"]) == []
    assert command_words(["bash", "start.sh"]) == ["bash", "start.sh"]
    # `start.sh jupyter lab` is the supervised Jupyter too.
    assert jupyter_request(command_words(["start.sh", "jupyter", "lab"])) is not None


@pytest.mark.parametrize(
    "argv, env, named",
    [
        ("start-notebook.py", {"NOTEBOOK_ARGS": "--IdentityProvider.token="}, "NOTEBOOK_ARGS"),
        ("start-notebook.py", {"NOTEBOOK_ARGS": "'unclosed"}, "NOTEBOOK_ARGS"),
        ("start-notebook.py", {"NOTEBOOK_ARGS": "subcommand"}, "NOTEBOOK_ARGS"),
        ("start-notebook.py --ServerApp.token=secret", {}, "--ServerApp.token"),
        ("start-notebook.py", {"DOCKER_STACKS_JUPYTER_CMD": "retro"}, "DOCKER_STACKS_JUPYTER_CMD"),
        ("start-notebook.py", {"DOCKER_STACKS_JUPYTER_CMD": "nbclassic", "PATH": "/nonexistent"},
         "DOCKER_STACKS_JUPYTER_CMD"),
        ("start-singleuser.py --debug", {}, "JUPYTERHUB_API_TOKEN"),
        ("start-singleuser.sh", {"JUPYTERHUB_API_TOKEN": "t" * 32, "JUPYTERHUB_SERVICE_URL": "ftp://x"},
         "JUPYTERHUB_SERVICE_URL"),
        ("jupyterhub-singleuser --ServerApp.token=secret", {"JUPYTERHUB_API_TOKEN": "t" * 32}, "--ServerApp.token"),
        ("start-notebook.py --ServerApp.base_url=/../etc", {}, "--ServerApp.base_url"),
        ("start-notebook.py", {"NOTEBOOK_ARGS": "--NotebookApp.base_url"}, "NOTEBOOK_ARGS"),
    ],
)  # fmt: skip
def test_bad_start_options_name_where_they_came_from(argv, env, named):
    with pytest.raises(UsageError) as e:
        jupyter_request(shlex.split(argv), env)
    assert str(e.value).startswith(f"{named}=")
    assert "secret" not in str(e.value)


@pytest.mark.parametrize(
    "argv, env, base_url",
    [
        ("start-notebook.py --ServerApp.base_url=/test", {}, "/test/"),
        ("start-notebook.py --ServerApp.base_url /test/", {}, "/test/"),
        ("start-notebook.py", {"NOTEBOOK_ARGS": "--NotebookApp.base_url=/nb"}, "/nb/"),
        ("jupyter lab --ServerApp.base_url=/lab/", {"JUPYTER_BASE_URL": "/other/"}, "/lab/"),
        ("start-notebook.py --debug", {"JUPYTER_BASE_URL": "/other/"}, "/other/"),
        # docker-stacks' test_notebook_args: NOTEBOOK_ARGS alone, the image's default start.
        ("", {"NOTEBOOK_ARGS": "--ServerApp.base_url=/tests-base-url"}, "/tests-base-url/"),
    ],
)  # fmt: skip
def test_a_base_url_option_is_the_servers_base_url_once(tmp_path, base_env, argv, env, base_url):
    # docker-stacks' healthcheck runs `start-notebook.py --ServerApp.base_url=/test`: one base URL,
    # which the login, the services under Jupyter and the health check all follow.
    settings, command = cli.configure({**base_env, "SERVICES": "jupyter", **env}, command_words(shlex.split(argv)))
    assert command == [] and settings.jupyter_base_url == base_url
    argv = daemon_argv(programs(settings, tmp_path)["jupyter"].command)
    assert [a for a in argv if a.partition("=")[0].endswith(".base_url")] == [f"--ServerApp.base_url={base_url}"]


def programs(settings, folder) -> dict:
    """The rendered config as supervisord parses it: program name -> its config."""
    conf = folder / "s.conf"
    conf.write_text(render(settings))
    opts = ServerOptions()
    opts.configfile = str(conf)
    os.makedirs(settings.run_dir, exist_ok=True)
    opts.process_config(do_usage=False)
    return {p.name: p for g in opts.process_group_configs for p in g.process_configs}


def test_notebook_args_reach_jupyter_and_stacks_settings_reach_the_config(tmp_path, base_env):
    env = {**base_env, "SERVICES": "jupyter,tensorboard", "NOTEBOOK_ARGS": "--ServerApp.max_body_size=7"}
    env |= {"NB_UMASK": "0027", "GEN_CERT": "yes", "DOCKER_STACKS_JUPYTER_CMD": "notebook"}
    settings, command = cli.configure(env, [])
    assert command == []
    progs = programs(settings, tmp_path)
    argv = daemon_argv(progs["jupyter"].command)
    assert "--ServerApp.max_body_size=7" in argv and "--LabApp.default_url=/tree" in argv
    assert f"--ServerApp.certfile={settings.run_dir}/jupyter/cert.pem" in argv
    assert progs["jupyter"].umask == 0o027 and progs["tensorboard"].umask == 0o027
    # Every address, IPv4 and IPv6, unless DEEPDOCKER_BIND narrows it.
    assert "--ip=" in argv


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, stacks.Stacks()),
        ({"NB_UMASK": "002", "RESTARTABLE": "yes", "GEN_CERT": "0"}, stacks.Stacks(umask=0o002, restartable=True)),
        ({"CHOWN_HOME": "yes", "CHOWN_HOME_OPTS": "-R", "CHOWN_EXTRA": "/tmp, /var", "CHOWN_EXTRA_OPTS": ""},
         stacks.Stacks(chown_home=True, chown_home_recursive=True, chown_extra=("/tmp", "/var"))),
        ({"JUPYTER_ENV_VARS_TO_UNSET": "AWS_SECRET,  TOKEN2,"}, stacks.Stacks(unset=("AWS_SECRET", "TOKEN2"))),
    ],
)  # fmt: skip
def test_stacks_variables_parse(env, expected):
    assert stacks.parse(env, is_root=True) == expected


@pytest.mark.parametrize("var, value", [("GRANT_SUDO", "yes"), ("CHOWN_HOME", "1"), ("CHOWN_EXTRA", "/tmp")])
def test_root_only_switches_are_refused_when_not_root(var, value):
    with pytest.raises(UsageError, match=rf"^{var}=.*only root"):
        stacks.parse({var: value}, is_root=False)


def test_grant_sudo_writes_sudoers_in_the_image_only(monkeypatch, tmp_path):
    monkeypatch.setattr(users, "IMAGE_USER_FILE", str(tmp_path / "no-image-here"))
    with pytest.raises(UsageError, match=r"^GRANT_SUDO=.*only in deepdocker's image"):
        stacks.parse({"GRANT_SUDO": "yes"}, is_root=True)


def test_unset_variables_leave_the_daemons_and_the_command(base_env):
    env = {**base_env, "SERVICES": "jupyter", "JUPYTER_ENV_VARS_TO_UNSET": "CLOUD_KEY", "CLOUD_KEY": "k"}
    settings = from_env(env)
    for made in (cli.daemon_env(env, settings), cli.command_env(env, settings)):
        assert "CLOUD_KEY" not in made and "JUPYTER_ENV_VARS_TO_UNSET" not in made
    assert cli.command_env(env, settings)["DEEPDOCKER_RUN_DIR"] == str(settings.run_dir)


@pytest.fixture
def open_folder():
    """A folder another user can write in (pytest's own tmp folders are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="deepdocker-test-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path)


def test_the_command_runs_as_the_notebook_user_with_its_umask(base_env, open_folder):
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    out = open_folder
    env = {**base_env, "SERVICES": "jupyter", "NB_USER": "nobody", "NB_UMASK": "077", "NOTEBOOK_DIR": "/"}
    settings = from_env(env)
    runner = cli.CommandRunner(
        ["/bin/sh", "-c", f'/usr/bin/id -u > {out}/id; echo "$HOME $USER" > {out}/who'],
        cli.command_env(env, settings),
        settings,
    )
    runner.start()
    assert runner.proc.wait() == 0
    assert (out / "id").read_text().strip() == str(NOBODY.pw_uid)
    assert (out / "id").stat().st_uid == NOBODY.pw_uid
    assert (out / "id").stat().st_mode & 0o777 == 0o600
    assert (out / "who").read_text().split()[1] == "nobody"


def write_hook(folder, name, text, mode=0o755):
    path = folder / name
    path.write_text(text)
    path.chmod(mode)


def test_hooks_run_in_order_sourced_or_executed_and_failures_do_not_stop(tmp_path, capfd):
    folder = tmp_path / "before-notebook.d"
    folder.mkdir()
    log = tmp_path / "log"
    write_hook(folder, "10-env.sh", f"echo 10 >> {log}; export FROM_HOOK=yes; unset DROP_ME\n", 0o644)
    write_hook(folder, "20-run", f"#!/bin/sh\necho 20 >> {log}; export NOT_KEPT=1; exit 3\n")
    write_hook(folder, "30-fails.sh", f"echo 30 >> {log}; false\n")
    write_hook(folder, "40-notes.txt", "not a hook\n", 0o644)
    env = hooks.run(str(folder), {"PATH": "/usr/bin:/bin", "DROP_ME": "1", "KEEP": "k"})
    assert log.read_text().split() == ["10", "20", "30"]
    assert env == {"PATH": "/usr/bin:/bin", "KEEP": "k", "FROM_HOOK": "yes"}
    out, err = capfd.readouterr()
    assert out == ""  # a command's stdout stays its own
    # docker-stacks' own lines, in its order: what tools and people grep a start's log for.
    assert err.splitlines() == [
        f"Running hooks in: {folder} as uid: {os.getuid()} gid: {os.getgid()}",
        f"Sourcing shell script: {folder}/10-env.sh",
        f"Running executable: {folder}/20-run",
        f"ERROR: {folder}/20-run has failed, continuing execution (status 3)",
        f"Sourcing shell script: {folder}/30-fails.sh",
        f"ERROR: {folder}/30-fails.sh has failed, continuing execution (status 1)",
        f"Ignoring non-executable: {folder}/40-notes.txt",
        f"Done running hooks in: {folder}",
    ]


def test_jupyter_docker_stacks_quiet_keeps_all_but_the_errors_back(tmp_path, capfd):
    folder = tmp_path / "before-notebook.d"
    folder.mkdir()
    write_hook(folder, "10-ok.sh", "true\n", 0o644)
    write_hook(folder, "20-fails", "#!/bin/sh\nexit 5\n")
    hooks.run(str(folder), {"PATH": "/usr/bin:/bin", "JUPYTER_DOCKER_STACKS_QUIET": "1"})
    assert capfd.readouterr().err.splitlines() == [
        f"ERROR: {folder}/20-fails has failed, continuing execution (status 5)"
    ]


def test_a_hook_that_exits_ends_the_start_and_none_costs_nothing(tmp_path):
    folder = tmp_path / "start-notebook.d"
    assert hooks.run(str(folder), {"A": "1"}) == {"A": "1"}  # missing
    folder.mkdir()
    assert hooks.run(str(folder), {"A": "1"}) == {"A": "1"}  # empty
    write_hook(folder, "10-stop.sh", "exit 7\n", 0o644)
    with pytest.raises(hooks.HookEnded) as e:
        hooks.run(str(folder), {"PATH": "/usr/bin:/bin"})
    assert e.value.status == 7


def test_root_on_request_and_a_new_name_renames_the_image_user(monkeypatch, tmp_path):
    assert users.resolve({"NB_USER": "root"}, is_root=True).is_root
    assert users.resolve({"NB_USER": "nobody", "NB_UID": "0"}, is_root=True).is_root
    marker = tmp_path / "image-user"
    monkeypatch.setattr(users, "IMAGE_USER_FILE", str(marker))
    with pytest.raises(UsageError, match=r"^NB_USER="):
        users.resolve({"NB_USER": "alice"}, is_root=True)  # outside the image: nothing to rename
    marker.write_text("nobody\n")
    monkeypatch.setattr(users, "IMAGE_USER_FILE", str(marker))
    account = users.resolve({"NB_USER": "alice", "NB_GROUP": "alices"}, is_root=True)
    assert (account.name, account.home, account.rename_from, account.group) == (
        "alice",
        "/home/alice",
        "nobody",
        "alices",
    )
    assert (account.uid, account.gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(UsageError, match=r"^NB_GROUP=.*already the name"):
        users.resolve({"NB_USER": "alice", "NB_GROUP": "root"}, is_root=True)


def test_an_arbitrary_uid_borrows_nb_users_entry(monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: 4242)
    monkeypatch.setattr(os, "getgid", lambda: 0)
    account = users.resolve({"NB_USER": "nobody", "HOME": "/"}, is_root=False)
    assert (account.name, account.uid, account.gid, account.home, account.passwd) == (
        "nobody", 4242, 0, NOBODY.pw_dir, False)  # fmt: skip
    line = next(x for x in users.nss_passwd(account).splitlines() if x.startswith("nobody:"))
    assert line.split(":")[2:4] == ["4242", "0"]
    nameless = users.resolve({}, is_root=False)
    assert nameless.name == "4242" and "4242:x:4242:0::/:/bin/bash" in users.nss_passwd(nameless)


HUB_ENV = {
    "JUPYTERHUB_API_TOKEN": "hub-token-0123456789abcdef",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8890/user/alice/",
    "JUPYTERHUB_USER": "alice",
}


@pytest.mark.parametrize("argv", [["start-singleuser.py"], ["start-singleuser.sh", "--debug"],
                                  ["jupyterhub-singleuser"], ["start-notebook.py"], [], ["--debug"]])  # fmt: skip
def test_a_hub_start_is_the_single_user_server_behind_the_hubs_login(tmp_path, base_env, stand_ins, argv):
    singleuser = stand_ins / "jupyterhub-singleuser"
    singleuser.write_text((stand_ins / "jupyter-lab").read_text())
    singleuser.chmod(0o755)
    env = {**base_env, **HUB_ENV, "SERVICES": "jupyter,tensorboard"}
    settings, command = cli.configure(env, argv)
    assert command == [] and settings.hub is not None and not settings.generated
    progs = programs(settings, tmp_path)
    jupyter = daemon_argv(progs["jupyter"].command)
    assert jupyter[0] == str(singleuser)
    assert "--port=8890" in jupyter and "--ServerApp.base_url=/user/alice/" in jupyter
    assert "JUPYTER_TOKEN_FILE" not in progs["jupyter"].environment  # the Hub's login, not a token of ours
    assert HUB_ENV["JUPYTERHUB_API_TOKEN"] not in progs["jupyter"].command
    # TensorBoard under the Hub's prefix, behind its login, on loopback.
    assert "--host=127.0.0.1" in daemon_argv(progs["tensorboard"].command)


@pytest.fixture
def singleuser(stand_ins):
    exe = stand_ins / "jupyterhub-singleuser"
    exe.write_text((stand_ins / "jupyter-lab").read_text())
    exe.chmod(0o755)
    return exe


def test_in_hub_mode_every_service_sits_behind_the_hub_and_only_jupyter_holds_its_token(tmp_path, base_env, singleuser):
    env = {**base_env, **HUB_ENV, "SERVICES": "jupyter,tensorboard,rstudio,sshd", "DEEPDOCKER_ON_DEMAND": "false"}
    settings, _ = cli.configure(env, ["start-singleuser.py"])
    text = render(settings)
    assert "\nessential=jupyter\n" in text  # the container lives as long as Jupyter does
    progs = programs(settings, tmp_path)
    for name in ("tensorboard", "rstudio", "sshd"):
        assert progs[name].environment["JUPYTERHUB_API_TOKEN"] == "", name
    assert "JUPYTERHUB_API_TOKEN" not in progs["jupyter"].environment  # its own, from supervisord's
    # RStudio: its own login off, on loopback, at the Hub's prefix, proxied like TensorBoard.
    rstudio = daemon_argv(progs["rstudio"].command)
    assert "--auth-none=1" in rstudio and "--www-address=127.0.0.1" in rstudio
    assert "--www-root-path=/user/alice/rstudio/" in rstudio
    assert "PASSWORD" not in settings.secrets and not settings.generated
    servers = jupyter.config(settings, settings.get("jupyter"))["ServerProxy"]["servers"]
    assert set(servers) == {"tensorboard", "rstudio"}
    assert servers["rstudio"]["port"] == settings.get("rstudio").port


def test_in_hub_mode_sshd_runs_only_when_asked_and_says_it_is_outside_the_hubs_login(base_env, singleuser, capsys):
    settings, _ = cli.configure({**base_env, **HUB_ENV}, ["start-singleuser.py"])
    assert "sshd" not in settings.names  # SERVICES unset: Jupyter and TensorBoard
    cli.announce(settings)
    assert "sshd:" not in capsys.readouterr().err
    settings, _ = cli.configure({**base_env, **HUB_ENV, "SERVICES": "jupyter,sshd"}, ["start-singleuser.py"])
    cli.announce(settings)
    err = capsys.readouterr().err
    assert "sshd: on because SERVICES names it" in err and "outside the Hub's login" in err


def test_without_a_hub_nothing_lives_for_jupyter_alone(base_env):
    settings, _ = cli.configure({**base_env, "SERVICES": "jupyter,rstudio"}, [])
    text = render(settings)
    assert "essential=" not in text and "JUPYTERHUB_API_TOKEN" not in text and "--auth-none" not in text


def test_in_hub_mode_a_public_switch_is_refused(base_env, singleuser):
    env = {**base_env, **HUB_ENV, "SERVICES": "jupyter,tensorboard", "TENSORBOARD_PUBLIC": "true"}
    with pytest.raises(UsageError, match=r"^TENSORBOARD_PUBLIC='true': .*behind the Hub's login"):
        cli.configure(env, ["start-singleuser.py"])


def test_a_hub_start_without_the_single_user_server_says_so(base_env):
    with pytest.raises(UsageError, match=r"^command='jupyterhub-singleuser': .*not installed"):
        cli.configure({**base_env, **HUB_ENV, "SERVICES": "jupyter"}, ["start-singleuser.py"])


@pytest.mark.parametrize(
    "argv, env, runs",
    [
        ([], {}, "jupyter lab"),
        (["start.sh"], {"DOCKER_STACKS_JUPYTER_CMD": "notebook"}, "jupyter notebook"),
        (["start-notebook.py", "--debug"], {}, "jupyter lab --debug"),
        (["jupyter", "server", "--port=9000"], {}, "jupyter server"),
        (["jupyter-notebook"], {}, "jupyter notebook"),
        (["/opt/venv/bin/jupyter", "lab"], {}, "jupyter lab"),
        (["start-notebook.sh"], {"DOCKER_STACKS_JUPYTER_CMD": "Server"}, "jupyter server"),
        (["start.sh", "Rscript", "-e", "1"], {}, "Rscript -e 1"),
        ([], {"SERVICES": "sshd"}, "supervisord sshd"),
    ],
)  # fmt: skip
def test_the_start_up_lines_docker_stacks_users_grep_for(base_env, argv, env, runs):
    env = {**base_env, "JUPYTER_TOKEN": "t" * 32, "PASSWORD": "p" * 12, **env}
    settings, command = cli.configure(env, command_words(argv))
    given = " ".join(command_words(argv)) or runs
    assert messages.entered(command_words(argv), settings, command) == f"Entered start.sh with args: {given}"
    lines = messages.handing_over(settings, command)
    # Where docker-stacks' own checks look; a root start also says whom it hands over to, and the
    # Jupyter server start, as start-notebook.py does, what it executes.
    server = [f"Executing: {runs}"] if runs.startswith("jupyter") else []
    assert lines[-1 - len(server) :] == [f"Executing the command: {runs}", *server]
    assert lines[: -1 - len(server)] == ([f"Running as {settings.nb_user}: {runs}"] if settings.is_root else [])
    assert not messages.quiet(env) and messages.quiet({"JUPYTER_DOCKER_STACKS_QUIET": "1"})


def test_chown_home_of_a_renamed_user_follows_the_link_the_rename_made_and_no_other(tmp_path):
    # docker-stacks' test_nb_user_change: NB_USER=nayvoj CHOWN_HOME=yes, where /home/nayvoj is the
    # link to the image's home that the rename made (root's, in a folder only root writes).
    os.chmod(tmp_path, 0o755)
    image_home = tmp_path / "jovyan"
    (image_home / "work").mkdir(parents=True)
    (tmp_path / "nayvoj").symlink_to("jovyan")
    account = users.Account("nayvoj", 4242, 4343, str(tmp_path / "nayvoj"), rename_from="jovyan")
    assert users.home_folder(account) == str(image_home)
    stacks.chown_tree(users.home_folder(account), 4242, 4343, recursive=True)
    assert [(p.stat().st_uid, p.stat().st_gid) for p in (image_home, image_home / "work")] == [(4242, 4343)] * 2
    # A link in a folder others can write, or a link to a link, is no home of the account's: taken
    # as it is, chown_tree (O_NOFOLLOW) refuses it rather than follow it.
    os.chmod(tmp_path, 0o777)
    assert users.home_folder(account) == account.home
    with pytest.raises(OSError):
        stacks.chown_tree(account.home, 4242, 4343, recursive=False)
    os.chmod(tmp_path, 0o755)
    (tmp_path / "alias").symlink_to("nayvoj")
    assert users.home_folder(users.Account("alias", 4242, 4343, str(tmp_path / "alias"))) == str(tmp_path / "alias")
    assert users.home_folder(users.Account("nobody", 1, 1, str(tmp_path / "missing"))) == str(tmp_path / "missing")


def test_what_the_start_changed_of_the_account_in_docker_stacks_words():
    renamed = users.Account("nayvoj", 1000, 100, "/home/nayvoj", rename_from="jovyan")
    # docker-stacks' test_nb_user_change greps for "username: jovyan       -> nayvoj".
    assert messages.account_changes(renamed) == [
        "Updated the jovyan user:",
        "- username: jovyan       -> nayvoj",
        "- home dir: /home/jovyan -> /home/nayvoj",
    ]
    remapped = users.Account("jovyan", 1010, 101, "/home/jovyan", remap=True)
    assert messages.account_changes(remapped) == ["Update jovyan's UID:GID to 1010:101"]
    assert messages.account_changes(users.Account("jovyan", 1000, 100, "/home/jovyan")) == []


def test_sudo_finds_the_image_environment_only_while_root_alone_can_write_it(monkeypatch, tmp_path):
    # docker-stacks' test_sudo_path: `sudo which jupyter` finds the image's environment.
    image_bin, sudoers = tmp_path / "venv-bin", tmp_path / "sudoers.d" / "grant"
    image_bin.mkdir(mode=0o755)
    monkeypatch.setattr(stacks, "IMAGE_BIN", str(image_bin))
    monkeypatch.setattr(stacks, "SUDOERS", str(sudoers))
    stacks.write_sudoers("alice")
    assert sudoers.read_text().splitlines() == [
        f'Defaults:alice secure_path="{image_bin}:{stacks.SECURE_PATH}"',
        "alice ALL=(ALL:ALL) NOPASSWD:ALL",
    ]
    assert oct(sudoers.stat().st_mode & 0o777) == "0o440"
    image_bin.chmod(0o777)  # a folder others could write: never on root's PATH
    stacks.write_sudoers("alice")
    assert sudoers.read_text().splitlines()[0] == f'Defaults:alice secure_path="{stacks.SECURE_PATH}"'


@pytest.mark.parametrize(
    "args, said",
    [
        ("", "ERROR: Should pass exactly one directory (got 0)"),
        ("a b", "ERROR: Should pass exactly one directory (got 2)"),
        ("/nonexistent/", "ERROR: Directory /nonexistent/ doesn't exist or is not a directory"),
        ("/etc/hostname", "ERROR: Directory /etc/hostname doesn't exist or is not a directory"),
    ],
)
def test_run_hooks_sh_sourced_by_hand_refuses_anything_but_one_folder(args, said):
    # docker-stacks' test_run_hooks: `source /usr/local/bin/run-hooks.sh ...` in a user's shell.
    script = f'source {shlex.quote(hooks.RUN_HOOKS)} {args}; echo "status $?"'
    done = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.stdout == "status 1\n" and done.stderr.startswith(said), done.stderr


def test_run_hooks_sh_leaves_the_hooks_variables_and_nothing_of_its_own_in_the_shell(tmp_path):
    write_hook(tmp_path, "a.sh", "export MY_VAR=123\n", 0o644)
    write_hook(tmp_path, "b.sh", 'echo "b sees $MY_VAR"; run-unknown-command\n', 0o644)
    write_hook(tmp_path, "c", '#!/bin/sh\necho "c sees $MY_VAR"\n')
    script = f"source {shlex.quote(hooks.RUN_HOOKS)} {tmp_path}/; "
    script += (
        'echo "after: $MY_VAR"; declare -F _deepdocker_hooks_say || echo "no helper"; echo "${_deepdocker_hook-none}"'
    )
    done = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.stdout.splitlines() == ["b sees 123", "c sees 123", "after: 123", "no helper", "none"]
    assert f"ERROR: {tmp_path}//b.sh has failed, continuing execution (status 127)" in done.stderr


def test_notebook_args_alone_shape_the_server_services_pick_and_enable_nothing(base_env):
    env = {**base_env, "SERVICES": "jupyter", "NOTEBOOK_ARGS": "--port=9001 --ServerApp.base_url=/nb"}
    settings, _ = cli.configure(env, [])
    jupyter = settings.get("jupyter")
    assert settings.jupyter_base_url == "/nb/" and jupyter is not None and jupyter.port == 9001
    settings, _ = cli.configure({**env, "SERVICES": "sshd", "PASSWORD": "p" * 12}, [])
    assert settings.get("jupyter") is None
