"""make bench: one table, every figure beside its baseline from the same run.

Baselines: stock supervisord 4.3.0 on the same rendered configuration (no deepdocker
extension) for start, restart, stop and RSS; `supervisorctl status` for the health probe.
"""

from __future__ import annotations

import platform
import sys

import health
import speed
from common import table


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows, notes = speed.rows(rounds)
    rows += health.run()
    print(table(rows, f"deepdocker vs stock ({platform.machine()}, {rounds} rounds, medians; baseline = stock)"))
    for note in notes:
        print(note)
    print(table(health.gpu_rows(), "GPU column: baseline = the probe / a bare interpreter (medians; RSS max)"))


if __name__ == "__main__":
    main()
