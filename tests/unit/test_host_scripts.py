"""The scripts that run on the user's machine (make image, make venv) keep to what macOS's stock
/bin/bash 3.2 does: under `set -u`, bash before 4.4 stops at an empty array's "${a[@]}" (and before
4.0 at an empty "$@"). Each such expansion is guarded: ${a[@]+"${a[@]}"}, or only reached when
the array is not empty (a ${#a[@]} -gt 0 test in the same file). Nor do they, or the Makefile's
recipes (bash too), use what bash 4 brought: declare -A, ${x,,} and ${x^^}, mapfile/readarray."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run on the host, not in the image (whose bash is Debian's).
HOST_SCRIPTS = ("scripts/build-image.sh", "scripts/make-base-image.sh", "scripts/default-frameworks.sh",
                "scripts/install-code.sh", "scripts/install-shiny.sh")  # fmt: skip
BARE_ARRAY = re.compile(r'(?<!\+)"\$\{(\w+)\[@\]\}"')
BASH4 = re.compile(r"\b(?:declare|local|typeset) -A\b|\$\{\w+(?:,,?|\^\^?)\}|\b(?:mapfile|readarray)\b|\bcoproc\b")


def unguarded(text: str) -> list[str]:
    # What is in single quotes is written out for another shell, not expanded here.
    text = re.sub(r"'[^']*'", "''", text)
    out = []
    for name in sorted(set(BARE_ARRAY.findall(text))):
        if not re.search(rf"\$\{{#{name}\[@\]\}} -gt 0", text):
            out.append(name)
    if re.search(r'(?<!\+)"\$@"', text) and "set -u" in text.replace("set -euo", "set -u"):
        out.append("@")
    return out


def test_the_rule_sees_what_bash_3_2_stops_at():
    assert unguarded('set -euo pipefail\na=()\ncmd "${a[@]}"\n') == ["a"]
    assert unguarded('set -u\ncmd "$@"\n') == ["@"]
    assert unguarded('set -u\ncmd ${a[@]+"${a[@]}"} ${1+"$@"}\n') == []
    assert unguarded('set -u\nif [ ${#a[@]} -gt 0 ]; then cmd "${a[@]}"; fi\n') == []
    assert unguarded("set -u\nprintf 'exec \"$@\"' >x\n") == []


def test_the_host_scripts_run_on_macos_bash():
    found = {name: unguarded((ROOT / name).read_text()) for name in HOST_SCRIPTS}
    assert all((ROOT / name).is_file() for name in HOST_SCRIPTS)
    assert {name: names for name, names in found.items() if names} == {}


def test_no_bash_4_features_where_bash_3_2_runs():
    assert BASH4.findall("declare -A m\necho ${x,,} ${y^^}\nmapfile -t a <f\n") == [
        "declare -A",
        "${x,,}",
        "${y^^}",
        "mapfile",
    ]
    assert BASH4.findall('echo "${x}" ${#a[@]} ${x:-y}\n') == []
    found = {name: BASH4.findall((ROOT / name).read_text()) for name in (*HOST_SCRIPTS, "Makefile")}
    assert {name: hits for name, hits in found.items() if hits} == {}
