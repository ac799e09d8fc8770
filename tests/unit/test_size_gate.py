"""The size gate (scripts/size_gate.py) on stand-in `docker history` rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("size_gate", ROOT / "scripts" / "size_gate.py")
assert _spec and _spec.loader
size_gate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(size_gate)

RUN = "|20 INSTALL_CODE=auto /bin/bash -o pipefail -c /usr/local/lib/deepdocker/install-{}.sh"
COPY = "/bin/bash -o pipefail -c #(nop) COPY file:abc in /usr/local/lib/deepdocker/ "
# Newest first, as `docker history` lists them.
HISTORY = [
    (0, '/bin/bash -o pipefail -c #(nop)  CMD ["start.sh"]'),
    (300, RUN.format("frameworks")),
    (5, COPY),
    (40, RUN.format("certs")),
    (60, RUN.format("system")),
    (2, "/bin/bash -o pipefail -c #(nop) COPY dir:ff in /usr/local/lib/deepdocker/platforms/ "),
    (100, "/bin/sh -c #(nop) ADD file:base in / "),
]


def test_layers_are_grouped_by_the_install_script_that_made_them():
    # A COPY's files are the next step's: the platform files the system step's, the frameworks' script its own.
    assert size_gate.groups(HISTORY) == {"base": 100, "system": 102, "frameworks": 305}
    assert size_gate.groups([(9, COPY), *HISTORY]) == {"base": 100, "system": 102, "frameworks": 305, "files": 9}


def test_a_group_past_its_budget_by_more_than_5_percent_fails_in_one_line_with_its_figures():
    measured = {"base": 100, "system": 100, "frameworks": 300, "rstudio": 0}
    budget = {"base": 100, "system": 96, "frameworks": 280, "total": 1000}
    # system: +4.2%, within; frameworks: +7.1%, past; rstudio installed nothing here, so not gated.
    [line] = size_gate.check("deepdocker:cpu", measured, budget)
    assert line.startswith("size gate: deepdocker:cpu: frameworks is 0.0 MB, past its budget of 0.0 MB")
    assert "(+7.1%)" in line and "raise it in size-budgets.json" in line
    [unbudgeted] = size_gate.check("deepdocker:cpu", {"shiny": 5}, {"total": 10})
    assert unbudgeted == "size gate: deepdocker:cpu: shiny is 0.0 MB and has no budget in size-budgets.json"
    [whole] = size_gate.check("deepdocker:cpu", {"base": 100}, {"base": 100, "total": 90})
    assert whole.startswith("size gate: deepdocker:cpu: the whole image is 0.0 MB, past its budget")


def test_every_budget_names_the_groups_the_build_makes():
    budgets = json.loads(size_gate.BUDGETS.read_text())
    scripts = {p.name[len("install-") : -len(".sh")] for p in (ROOT / "scripts").glob("install-*.sh")}
    made = {size_gate.MERGED.get(s, s) for s in scripts} | {"base", "files"}
    for name, budget in budgets.items():
        assert name.startswith("deepdocker:") and "total" in budget
        # Every group the build makes has a budget; RStudio's alone is null, unmeasured here (Posit's
        # download is unreachable from these machines). Nothing else goes ungated.
        assert set(budget) - {"total"} <= made and made - {"files"} <= set(budget), name
        assert [g for g, b in budget.items() if b is None] == ["rstudio"], name
    assert size_gate.check("deepdocker:cpu", {"rstudio": 900}, {"rstudio": None, "total": 1000}) == []
