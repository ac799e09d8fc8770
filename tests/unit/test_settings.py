import pytest

from entrypoint.core.errors import UsageError
from entrypoint.services import DEFAULT_SERVICES, REGISTRY
from entrypoint.settings import from_env, parse_ports, parse_services

ALL = {name: f"/opt/bin/{svc.program}" for name, svc in REGISTRY.items()}
NO_RSTUDIO = {k: v for k, v in ALL.items() if k != "rstudio"}
# What "all" finds with every program but rserver installed: the registry's order.
ALL_BUT_RSTUDIO = tuple(NO_RSTUDIO)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("jupyter", ("jupyter",)),
        ("JUPYTER,TensorBoard", ("jupyter", "tensorboard")),
        ("  sshd ,, jupyter  ", ("jupyter", "sshd")),
        ("sshd jupyter\ttensorboard", ("jupyter", "tensorboard", "sshd")),
        ("jupyter,jupyter,Jupyter", ("jupyter",)),
        ("all", ALL_BUT_RSTUDIO),
        ("ALL, jupyter", ALL_BUT_RSTUDIO),
    ],
)
def test_services_parsing(raw, expected):
    assert parse_services(raw, NO_RSTUDIO) == expected


def test_all_means_every_installed_program():
    assert parse_services("all", ALL) == tuple(REGISTRY)


def test_unset_services_is_the_documented_default_minus_what_is_missing():
    assert parse_services(None, ALL) == DEFAULT_SERVICES
    assert parse_services(None, {"jupyter": "/x"}) == ("jupyter",)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("bogus", "unknown service 'bogus'"),
        ("jupyter,lab", "unknown service 'lab'"),
        ("", "no service named"),
        (" , ", "no service named"),
        ("rstudio", "rstudio is not installed (no rserver on PATH)"),
    ],
)
def test_bad_services(raw, fragment):
    with pytest.raises(UsageError) as err:
        parse_services(raw, NO_RSTUDIO)
    message = str(err.value)
    assert message.startswith(f"SERVICES={raw!r}: ")
    assert fragment in message
    assert "\n" not in message
    # It lists what would have been accepted.
    assert "jupyter" in message.split("accepted:")[1]


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80 80", "8.5", "", "123456"])
def test_bad_port(value):
    with pytest.raises(UsageError, match=r"^JUPYTER_PORT=.*accepted: an integer from 1 to 65535$"):
        parse_ports({"JUPYTER_PORT": value}, ("jupyter",))


def test_bad_port_of_a_disabled_service_is_still_an_error():
    with pytest.raises(UsageError, match=r"^SSHD_PORT="):
        parse_ports({"SSHD_PORT": "x"}, ("jupyter",))


def test_ports_default_and_collide():
    assert parse_ports({}, tuple(REGISTRY)) == {
        "jupyter": 8888,
        "tensorboard": 6006,
        "code": 8443,
        "shiny": 3838,
        "rstudio": 8787,
        "sshd": 22,
    }
    with pytest.raises(UsageError, match="same port as JUPYTER_PORT"):
        parse_ports({"TENSORBOARD_PORT": "8888"}, ("jupyter", "tensorboard"))
    # Only enabled services collide.
    assert parse_ports({"TENSORBOARD_PORT": "8888"}, ("jupyter",)) == {"jupyter": 8888}


def test_from_env_resolves_programs_and_defaults(base_env, stand_ins):
    s = from_env({**base_env, "SERVICES": "jupyter,sshd"})
    assert s.names == ("jupyter", "sshd")
    assert s.get("jupyter").port == 8888 and s.get("jupyter").exe == str(stand_ins / "jupyter-lab")
    assert s.get("sshd").exe == str(stand_ins / "sshd")
    assert s.generated == ("JUPYTER_TOKEN",) and len(s.secret("JUPYTER_TOKEN")) >= 32
    assert s.notebook_dir == base_env["HOME"]
    assert s.on_fatal == "stay"


def test_token_from_env_and_file(tmp_path, base_env):
    assert from_env({**base_env, "JUPYTER_TOKEN": "abc123abc"}).secret("JUPYTER_TOKEN") == "abc123abc"
    f = tmp_path / "tok"
    f.write_text("fromfile\n")
    s = from_env({**base_env, "JUPYTER_TOKEN_FILE": str(f)})
    assert s.secret("JUPYTER_TOKEN") == "fromfile" and not s.generated


@pytest.mark.parametrize(
    "env, var",
    [
        ({"DEEPDOCKER_RUN_DIR": "relative/dir"}, "DEEPDOCKER_RUN_DIR"),
        ({"DEEPDOCKER_BIND": "localhost:80"}, "DEEPDOCKER_BIND"),
        ({"DEEPDOCKER_ON_FATAL": "explode"}, "DEEPDOCKER_ON_FATAL"),
        ({"JUPYTER_TOKEN": ""}, "JUPYTER_TOKEN"),
        ({"JUPYTER_TOKEN": "a b"}, "JUPYTER_TOKEN"),
        ({"JUPYTER_TOKEN_FILE": "/nonexistent/token"}, "JUPYTER_TOKEN_FILE"),
        ({"JUPYTER_TOKEN": "x", "JUPYTER_TOKEN_FILE": "/etc/hostname"}, "JUPYTER_TOKEN_FILE"),
        ({"JUPYTER_BASE_URL": "no-slash here"}, "JUPYTER_BASE_URL"),
        ({"NOTEBOOK_DIR": "/nonexistent/notebooks"}, "NOTEBOOK_DIR"),
        ({"NB_USER": "no-such-user-here"}, "NB_USER"),
    ],
)
def test_bad_environment(base_env, env, var):
    with pytest.raises(UsageError) as err:
        from_env({**base_env, "SERVICES": "jupyter", **env})
    assert str(err.value).startswith(f"{var}=")
    assert "accepted: " in str(err.value)


def test_rstudio_password_generated_only_when_needed(base_env):
    env = {**base_env, "SERVICES": "jupyter"}
    s = from_env(env)
    assert "PASSWORD" not in s.secrets and "PASSWORD" not in s.generated
    s = from_env({**env, "SERVICES": "jupyter,rstudio"})
    assert "PASSWORD" in s.generated and len(s.secret("PASSWORD")) >= 12
    s = from_env({**env, "SERVICES": "jupyter,rstudio", "DISABLE_AUTH": "true"})
    assert "PASSWORD" not in s.secrets and not s.get("rstudio").own_login
    s = from_env({**env, "PASSWORD": "my own pass"})
    assert s.secret("PASSWORD") == "my own pass" and "PASSWORD" not in s.generated


def test_password_replaces_the_generated_token(base_env):
    s = from_env({**base_env, "SERVICES": "jupyter", "JUPYTER_PASSWORD": "long pass phrase"})
    assert s.secret("JUPYTER_TOKEN") == "" and not s.generated and s.secret("JUPYTER_PASSWORD") == "long pass phrase"


def test_tensorboard_listens_on_loopback_unless_public(base_env):
    env = {**base_env, "SERVICES": "tensorboard"}
    assert from_env(env).get("tensorboard").bind == "127.0.0.1"
    # Public: every address, IPv4 and IPv6 (DEEPDOCKER_BIND unset), or the one it names.
    assert from_env({**env, "TENSORBOARD_PUBLIC": "true"}).get("tensorboard").bind == ""
    narrowed = {**env, "TENSORBOARD_PUBLIC": "true", "DEEPDOCKER_BIND": "0.0.0.0"}
    assert from_env(narrowed).get("tensorboard").bind == "0.0.0.0"
