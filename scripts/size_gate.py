#!/usr/bin/env python3
"""The size gate: an image's layers, grouped by the build step that made them, against budgets.

Every RUN of the Dockerfiles is one install script (`scripts/install-<name>.sh`), so a layer's
group is its script's name: system (install-system.sh and install-certs.sh), python (the user's
environment, Jupyter and the SciPy stack), frameworks, tex, r, rstudio, code, shiny, lab-extras,
tensorboard, control-plane (each with the files COPY put in for it); `base` is the base image. The
budgets, in bytes, are scripts/size-budgets.json. A group more than 5% past its budget, or a group
with no budget, fails the gate with one line that names it and the figures; raising a budget is an
edit of that file, in the same commit as what grew. A budget of null is a group the machine that
recorded the budgets could not build (RStudio Server: Posit's download is unreachable from it).

    scripts/size_gate.py IMAGE [--budget NAME]   # the gate (exit 1 when a group is past its budget)
    scripts/size_gate.py IMAGE --show            # the groups, measured, as the budget file holds them
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

BUDGETS = Path(__file__).resolve().parent / "size-budgets.json"
TOLERANCE = 0.05
# install-<script>.sh -> its group; a script not named here is a group of its own name.
MERGED = {"certs": "system"}
_SCRIPT = re.compile(r"/usr/local/lib/deepdocker/install-([a-z0-9-]+)\.sh\b")
_OURS = "/usr/local/lib/deepdocker/"


def groups(history: list[tuple[int, str]]) -> dict[str, int]:
    """Bytes per group, from `docker history` rows (size, created by), newest first as Docker lists
    them. Everything older than the image's first own step is the base image's; what a COPY put in
    belongs to the install script that runs next (the files it copies are that step's)."""
    sizes: dict[str, int] = {}
    ours, pending = False, 0
    for size, created_by in reversed(history):
        ours = ours or _OURS in created_by
        found = _SCRIPT.search(created_by)
        if not ours:
            sizes["base"] = sizes.get("base", 0) + size
        elif found and "#(nop)" not in created_by:
            group = MERGED.get(found.group(1), found.group(1))
            sizes[group] = sizes.get(group, 0) + size + pending
            pending = 0
        else:
            pending += size
    if pending:
        sizes["files"] = pending
    return sizes


def history(image: str) -> list[tuple[int, str]]:
    out = subprocess.run(
        ["docker", "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", image],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [(int(size), created) for size, _, created in (line.partition("\t") for line in out.splitlines())]


def gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def check(image: str, measured: dict[str, int], budget: dict[str, int | None]) -> list[str]:
    """One line per group past its budget by more than TOLERANCE, or with none recorded."""
    problems = []
    for group, size in sorted(measured.items()):
        if size == 0 or (group in budget and budget[group] is None):
            continue  # nothing installed; or a budget recorded as null: unmeasured where it was recorded
        allowed = budget.get(group)
        if allowed is None:
            problems.append(f"size gate: {image}: {group} is {gb(size)} and has no budget in {BUDGETS.name}")
        elif size > allowed * (1 + TOLERANCE):
            problems.append(
                f"size gate: {image}: {group} is {gb(size)}, past its budget of {gb(allowed)} by more than "
                f"{TOLERANCE:.0%} ({(size / allowed - 1):+.1%}); if that is meant, raise it in {BUDGETS.name}"
            )
    total, allowed_total = sum(measured.values()), budget.get("total")
    if allowed_total is not None and total > allowed_total * (1 + TOLERANCE):
        problems.append(
            f"size gate: {image}: the whole image is {gb(total)}, past its budget of {gb(allowed_total)} by more "
            f"than {TOLERANCE:.0%}; if that is meant, raise it in {BUDGETS.name}"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("image")
    parser.add_argument("--budget", help="the budget's name in the file (default: the image's name)")
    parser.add_argument("--show", action="store_true", help="print the groups as measured, as JSON")
    args = parser.parse_args(argv)
    measured = groups(history(args.image))
    if args.show:
        print(json.dumps({**dict(sorted(measured.items())), "total": sum(measured.values())}, indent=2))
        return 0
    budgets = json.loads(BUDGETS.read_text())
    name = args.budget or args.image
    if name not in budgets:
        print(f"size gate: no budget named {name} in {BUDGETS.name}; named: {', '.join(budgets)}", file=sys.stderr)
        return 2
    problems = check(args.image, measured, budgets[name])
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"size gate: {args.image}: {gb(sum(measured.values()))}, every group within its budget")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
