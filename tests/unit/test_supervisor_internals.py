"""The adapter to supervisord's internals (entrypoint.supervisor_internals) refuses a supervisor it
was not written for, at supervisord's start, with one clear error."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import supervisor.options

from deepdocker_supervisor import extension as supervisor_ext
from deepdocker_supervisor import internals as supervisor_internals

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_it_was_written_for_is_the_one_setup_cfg_pins():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    pins = re.findall(r"^supervisor==(\S+)$", config["options"]["install_requires"], re.M)
    assert pins == [supervisor_internals.WRITTEN_FOR]
    supervisor_internals.check_version()  # the installed one


def test_another_version_stops_supervisords_start_before_anything_is_touched(monkeypatch):
    monkeypatch.setattr(supervisor.options, "VERSION", "4.2.5")
    # supervisord=None: anything the factory touched before the check would fail otherwise.
    with pytest.raises(RuntimeError, match=r"written for supervisor 4\.3\.0 .* this is supervisor 4\.2\.5\..*pins it"):
        supervisor_ext.make_interface(None)
