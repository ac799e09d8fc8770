"""The structure: imports go down the layers, never back up, and no module imports itself round
a loop. Read from the source with ast, so a lazy import inside a function counts too.

Layers, lowest first (docs: "How it works"):
  healthchecks            the HEALTHCHECK's import-light check; nothing of deepdocker's below it
  deepdocker_supervisor   what supervisord loads: supervisor, healthchecks
  entrypoint.core         types, values, paths, files
  entrypoint.accounts     the notebook user
  entrypoint.stacks       docker-stacks' options and hooks
  entrypoint.services     one package per service; none imports another service
  entrypoint.<module>     the start-up program: settings, prepare, render, cli, docs
entrypoint.wake (run by Jupyter's proxy as the notebook user) imports nothing of deepdocker's.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"entrypoint": ROOT / "entrypoint", "healthchecks": ROOT / "healthchecks",
           "deepdocker_supervisor": ROOT / "supervisor" / "deepdocker_supervisor"}  # fmt: skip
LAYERS = ("healthchecks", "deepdocker_supervisor", "entrypoint.core", "entrypoint.accounts", "entrypoint.stacks",
          "entrypoint.services", "entrypoint")  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base]) if base else ".".join(up)
            # `from pkg import submodule` imports the submodule; `from pkg import name`, the package.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def layer(name: str) -> int:
    return max(i for i, prefix in enumerate(LAYERS) if name == prefix or name.startswith(prefix + "."))


def service(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["entrypoint", "services"] else None


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


def test_the_graph_was_read():
    assert "entrypoint.services.jupyter" in GRAPH and "entrypoint.core.model" in GRAPH["entrypoint.settings"]


def test_no_import_goes_back_up_a_layer():
    up = [(a, b) for a, targets in GRAPH.items() for b in targets if layer(b) > layer(a)]
    assert up == []


def test_no_service_imports_another():
    across = [
        (a, b) for a, targets in GRAPH.items() for b in targets if service(a) and service(b) not in (None, service(a))
    ]
    assert across == []


def test_the_waker_imports_nothing_of_deepdockers():
    assert GRAPH["entrypoint.wake"] == set()


def test_no_cycle():
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        seen[name] = 1
        for target in sorted(GRAPH[name]):
            assert seen.get(target) != 1, " -> ".join([*path, name, target])
            if target not in seen:
                visit(target, [*path, name])
        seen[name] = 2

    for name in sorted(GRAPH):
        if name not in seen:
            visit(name, [])
