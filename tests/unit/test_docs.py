"""The README's service, variable and security tables are the registry's (entrypoint.docs)."""

from __future__ import annotations

from pathlib import Path

from entrypoint import docs
from entrypoint.core.model import Probe, Secret, Service
from entrypoint.services import REGISTRY, jupyter

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_tables_are_the_registrys():
    assert docs.main(["--check", str(README)]) == 0, "run: python -m entrypoint.docs README.md"


def test_a_new_entry_shows_in_every_table(monkeypatch, tmp_path, capsys):
    new = Service(
        name="newsvc", program="newsvc", port_var="NEWSVC_PORT", default_port=9999, probe=Probe("http", "/ok"),
        public_var="NEWSVC_PUBLIC", secrets=(Secret("NEWSVC_PASSWORD", password=True, generate=True, doc="its word"),),
        knobs={"NEWSVC_DIR": ("", "where it looks")}, summary="A new service",
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, "newsvc", new)
    copy = tmp_path / "README.md"
    copy.write_text(README.read_text())
    assert docs.main(["--check", str(copy)]) == 1
    assert "registry:services" in capsys.readouterr().out
    docs.main([str(copy)])
    text = copy.read_text()
    for expected in (
        "| `newsvc` | A new service, at `/newsvc/` behind Jupyter's login",
        "| `NEWSVC_PORT` | `newsvc` | 9999 |",
        "| `NEWSVC_PASSWORD`, `NEWSVC_PASSWORD_FILE` | `newsvc` | random per start",
        "| `NEWSVC_DIR` |",
        "`NEWSVC_PUBLIC=true` publishes its port behind its own password",
    ):
        assert expected in text
    assert docs.main(["--check", str(copy)]) == 0


def test_every_variable_kept_from_the_daemons_is_documented():
    for svc in REGISTRY.values():
        documented = {*svc.knobs, *(s.var for s in svc.secrets)}
        assert set(svc.private_vars) <= documented, svc.name


def test_a_new_entry_alone_gets_its_secret_read_generated_kept_and_its_proxy(monkeypatch, base_env, stand_ins):
    """What the registry promises: a service with a login of its own when published, declared in
    one entry, with no line of code elsewhere naming it."""
    from entrypoint import cli

    new = Service(
        name="newsvc", program="newsvc", port_var="NEWSVC_PORT", default_port=9999, probe=Probe("http", "/ok"),
        public_var="NEWSVC_PUBLIC", secrets=(Secret("NEWSVC_PASSWORD", password=True, generate=True),),
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, "newsvc", new)
    (stand_ins / "newsvc").write_text((stand_ins / "jupyter-lab").read_text())
    (stand_ins / "newsvc").chmod(0o755)
    env = {**base_env, "SERVICES": "jupyter,newsvc"}
    behind = cli.configure(env, [])[0]
    e = behind.get("newsvc")
    assert (e.bind, e.public, e.own_login, e.proxied) == ("127.0.0.1", False, False, True)
    assert "NEWSVC_PASSWORD" not in behind.generated
    assert "newsvc" in jupyter.config(behind, behind.get("jupyter"))["ServerProxy"]["servers"]
    published = cli.configure({**env, "NEWSVC_PUBLIC": "true"}, [])[0]
    e = published.get("newsvc")
    assert (e.public, e.own_login, e.proxied) == (True, True, False)
    assert "NEWSVC_PASSWORD" in published.generated and len(published.secret("NEWSVC_PASSWORD")) >= 12
    given = {**env, "NEWSVC_PUBLIC": "true", "NEWSVC_PASSWORD": "a pass phrase", "NEWSVC_PASSWORD_FILE": "/x"}
    kept = cli.daemon_env({**given, "NEWSVC_PASSWORD_FILE": "/x"}, published)
    assert "NEWSVC_PASSWORD" not in kept and "NEWSVC_PASSWORD_FILE" not in kept
    given.pop("NEWSVC_PASSWORD_FILE")
    assert cli.configure(given, [])[0].secret("NEWSVC_PASSWORD") == "a pass phrase"
