"""TensorFlow on a CPU without AVX: said at start, not found by a dead kernel (entrypoint.frameworks)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from entrypoint import frameworks
from entrypoint.frameworks import avx_by_cpuid, cpu_note

# /proc/cpuinfo as read on three machines (first lines of one processor, flags shortened).
AVX = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma\n"
NO_AVX = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel Core i7 9xx (Nehalem Class Core i7)\n" \
         "flags\t\t: fpu vme sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt hypervisor lahf_lm\n"  # fmt: skip
ARM64 = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\n" \
        "CPU implementer\t: 0x61\n"  # fmt: skip
TF = {"torch", "tensorflow", "keras"}


def never() -> bool | None:
    raise AssertionError("asked the emulator where the CPU had spoken")


def test_a_cpu_with_avx_says_nothing():
    assert cpu_note("x86_64", AVX, TF, never) is None


def test_a_cpu_without_avx_is_said_in_one_line():
    note = cpu_note("x86_64", NO_AVX, TF, never)
    assert note and "AVX" in note and "TensorFlow" in note and "\n" not in note


def test_an_emulated_cpu_is_asked_and_said_only_without_avx():
    note = cpu_note("x86_64", ARM64, TF, lambda: False)
    assert note and "emulated" in note
    assert cpu_note("x86_64", ARM64, TF, lambda: True) is None  # Rosetta with AVX
    assert cpu_note("x86_64", ARM64, TF, lambda: None) is None  # unknown: nothing claimed


def test_nothing_is_said_without_tensorflow_off_x86_or_unread():
    assert cpu_note("x86_64", NO_AVX, {"torch"}, never) is None
    assert cpu_note("aarch64", ARM64, TF, never) is None
    assert cpu_note("x86_64", None, TF, never) is None


def test_outside_the_image_nothing_is_probed(monkeypatch, tmp_path):
    monkeypatch.setattr(frameworks, "FRAMEWORKS_FILE", str(tmp_path / "none"))
    assert frameworks.note(None) is None  # type: ignore[arg-type]


def test_numpy_cpuid_sees_this_cpu():
    # numpy is in the test environment (TensorBoard's), as in the image's user environment.
    assert avx_by_cpuid([sys.executable]) is ("avx" in Path("/proc/cpuinfo").read_text().split())


def test_a_numpy_that_dies_of_an_illegal_instruction_means_no_tensorflow_either():
    # numpy 2.4's x86-64 wheels die so under QEMU's Nehalem; TensorFlow imports numpy first.
    assert avx_by_cpuid(["/bin/sh", "-c", "kill -ILL $$", "sh"]) is False
    assert avx_by_cpuid(["/bin/sh", "-c", "exit 1", "sh"]) is None


def test_numpy_cpuid_sees_an_emulated_cpu_without_avx():
    """For real: this Python under QEMU emulating a Nehalem, which has no AVX. numpy's CPUID says so
    (the image's numpy 2.2), or numpy dies of an illegal instruction (2.4's): no TensorFlow either way."""
    qemu = shutil.which("qemu-x86_64-static", path="/usr/bin:/usr/sbin")
    if not qemu:
        reason = "qemu-user-static (Debian) runs a program on an emulated CPU model"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert avx_by_cpuid([qemu, "-cpu", "Nehalem", sys.executable]) is False
    assert avx_by_cpuid([qemu, "-cpu", "Haswell", sys.executable]) is True
