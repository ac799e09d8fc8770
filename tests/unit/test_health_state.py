"""The health-state contract (healthchecks.state): what the entrypoint writes is what the probe reads."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoint import cli
from entrypoint.prepare import state as written
from healthchecks import state
from healthchecks.cli import read_state

# What a field may hold: any text but the separators (the entrypoint validates values before).
field = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), min_size=1)
names = field.filter(lambda n: n not in state.KINDS)
services = st.builds(
    state.ServiceState, names, st.sampled_from(state.PROBES), field, st.integers(1, 65535), field,
    st.sampled_from(state.STARTS),
)  # fmt: skip
states = st.builds(
    state.State, field, st.lists(services, unique_by=lambda s: s.name).map(lambda ss: {s.name: s for s in ss}),
    st.lists(field), st.lists(names), st.lists(st.tuples(names, field, field)),
    st.none() | st.tuples(field, st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), field),
)  # fmt: skip


@given(states)
def test_what_is_written_is_what_is_read(s):
    assert state.loads(state.dumps(s)) == s


@pytest.mark.parametrize("bad", ["a\tb", "a\nb", "a\rb", ""])
def test_a_field_the_file_cannot_hold_is_refused(bad):
    with pytest.raises(ValueError):
        state.dumps(state.State("/run/s.sock", notes=[bad]))


def test_a_start_writes_a_state_the_probe_reads(tmp_path, base_env):
    settings, _ = cli.configure({**base_env, "SERVICES": "jupyter,tensorboard,sshd"}, [])
    (tmp_path / state.FILE).write_text(written(settings))
    got = read_state(str(tmp_path))
    assert list(got.services) == ["jupyter", "tensorboard", "sshd"] and got.live == ["jupyter"]
    assert got.services["jupyter"] == state.ServiceState("jupyter", "http", "127.0.0.1", 8888, "/api", "now")
    assert got.services["sshd"].probe == "listen" and got.services["sshd"].target == "-"
    url = "http://127.0.0.1:8888/lab?token="
    assert got.logins == [("jupyter", url, str(settings.run_dir / "jupyter" / "token"))]


def test_reading_it_imports_nothing():
    # Every HEALTHCHECK reads it: no import may creep in.
    code = "import sys; before = set(sys.modules); import healthchecks.state; print(*set(sys.modules) - before)"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert set(out.stdout.split()) <= {"__future__", "healthchecks", "healthchecks.state"}, out.stdout
