"""The README's tables that the registry decides, made from it.

    python -m entrypoint.docs README.md     rewrite those tables in place
    python -m entrypoint.docs --check FILE  exit 1, naming the first table, when they differ

Each table sits between `<!-- registry:NAME -->` and `<!-- /registry:NAME -->`; the text around
them is the README's own. tests/unit/test_docs.py fails when the README and the registry disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .core.model import Service
from .services import REGISTRY
from .settings import MAX_SECRET_FILE, MIN_TOKEN

DASH = "\u2013"  # the README's "none"


def _code(text: str) -> str:
    return f"`{text}`"


def _probe(svc: Service) -> str:
    if svc.probe.kind == "listen":
        return "a socket listening on the port"
    base = "{base_url}" if svc.under_base_url and not svc.probe.path.startswith("/") else ""
    return f"`GET {base}{svc.probe.path}` < 500"


def _behind(svc: Service) -> str:
    return f"at `/{svc.name}/` behind Jupyter's login"


def services_table() -> str:
    rows = [
        "| name | daemon | port variable (default) | readiness probe | runs as (when started as root) |",
        "|---|---|---|---|---|",
    ]
    for svc in REGISTRY.values():
        daemon = svc.summary
        if svc.public_var:
            if svc.secrets:
                own = f"its own port, with its own password, only when `{svc.public_var}=true`"
            else:
                own = f"its own port only on loopback unless `{svc.public_var}=true`"
            daemon += f", {_behind(svc)} ({own})"
        if svc.on_demand:
            daemon += "; started on its first request"
        runs_as = "`NB_USER`" if svc.runs_as == "notebook" else "root (switches per login)"
        port = f"`{svc.port_var}` ({svc.default_port})"
        rows.append(f"| `{svc.name}` | {daemon} | {port} | {_probe(svc)} | {runs_as} |")
    return "\n".join(rows)


def variables_table() -> str:
    rows = ["| variable | service | default | meaning |", "|---|---|---|---|"]
    for svc in REGISTRY.values():
        name = _code(svc.name)
        port = f"its port; 1{DASH}65535, no two enabled services alike"
        rows.append(f"| `{svc.port_var}` | {name} | {svc.default_port} | {port} |")
        if svc.public_var:
            login = "behind its own password" if svc.secrets else "with no login (a warning at every start)"
            rows.append(
                f"| `{svc.public_var}` | {name} | `false` | `true` publishes its own port on `DEEPDOCKER_BIND`, "
                f"{login}; otherwise it listens on 127.0.0.1 and is served {_behind(svc)} |"
            )
        for secret in svc.secrets:
            default = "random per start, printed once" if secret.generate else DASH
            if secret.generate and secret.unless:
                default += f" (none when `{secret.unless}` is set)"
            rows.append(f"| `{secret.var}`, `{secret.var}_FILE` | {name} | {default} | {secret.doc} |")
        if svc.auth_off_var:
            rows.append(
                f"| `{svc.auth_off_var}` | {name} | `false` | `true` turns its login off, "
                "with a loud warning at every start |"
            )
        for var, (default, meaning) in svc.knobs.items():
            rows.append(f"| `{var}` | {name} | {default or DASH} | {meaning} |")
        for var, (default, meaning) in svc.folders.items():
            meaning += " (an absolute path; need not exist yet)"
            rows.append(f"| `{var}` | {name} | `$NOTEBOOK_DIR/{default}` | {meaning} |")
    return "\n".join(rows)


def _security_row(svc: Service) -> str:
    if not svc.public_var:
        return f"| {svc.summary} | {svc.login} | {svc.open_up} |"
    guard = f"listens on 127.0.0.1 only; reached {_behind(svc)} (jupyter-server-proxy)"
    if svc.secrets:
        guard += ", its own login off"
        names = ", ".join(f"`{s.var}`, `{s.var}_FILE`" for s in svc.secrets)
        opened = (
            f"`{svc.public_var}=true` publishes its port behind its own password ({names}, or random and printed once)"
        )
    else:
        opened = f"`{svc.public_var}=true` publishes its port, unauthenticated, and warns"
    return f"| {svc.summary} | {guard} | {opened} |"


def security_table() -> str:
    rows = ["| what | protected by | to open it up on purpose |", "|---|---|---|"]
    return "\n".join(rows + [_security_row(svc) for svc in REGISTRY.values()])


TABLES = {"services": services_table, "variables": variables_table, "security": security_table}
# Said once, under the variables table.
FILE_RULE = (
    f"Every `*_FILE` variable names a file to read the secret from instead (Docker and Kubernetes secrets): "
    f"a regular UTF-8 file of at most {MAX_SECRET_FILE // 1024} KiB that the notebook user may read; setting "
    f"both is an error. A token is at least {MIN_TOKEN} characters, with no white space; a password may hold "
    "spaces. No secret reaches a command line, a config file or a daemon's environment."
)


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- registry:{name} -->\n)(.*?)(<!-- /registry:{name} -->)", re.S)


def _keeping_markers(body: str):
    return lambda m: m.group(1) + body + m.group(3)


def render(text: str) -> str:
    for name, make in TABLES.items():
        body = make() + ("\n\n" + FILE_RULE if name == "variables" else "") + "\n"
        text, count = _block(name).subn(_keeping_markers(body), text)
        if count != 1:
            raise ValueError(f"the README has {count} registry:{name} blocks, not one")
    return text


def main(argv: list[str]) -> int:
    check = argv[:1] == ["--check"]
    path = Path(argv[1] if check else argv[0])
    text = path.read_text()
    new = render(text)
    if check:
        for name in TABLES:
            if _block(name).search(text).group(2) != _block(name).search(new).group(2):  # type: ignore[union-attr]
                print(f"{path}: the registry:{name} table differs from the registry (python -m entrypoint.docs {path})")
                return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
