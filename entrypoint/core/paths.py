"""Where everything lives under DEEPDOCKER_RUN_DIR. One place, so the CLIs agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from healthchecks.state import FILE as STATE_FILE


@dataclass(frozen=True)
class Paths:
    """The run dir's shared files; each service's own are in its Files (services/<name>)."""

    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def state(self) -> Path:
        """What deepdocker-health needs: enabled services, probes, socket."""
        return self.run_dir / STATE_FILE

    @property
    def daemons_log(self) -> Path:
        """Where the daemons' lines go in command mode at a terminal (capped: extension.MAX_LOG_FILE)."""
        return self.run_dir / "daemons.log"

    @property
    def wake(self) -> Path:
        """The notebook user's folder of wake FIFOs, one per on-demand service (wake_fifo)."""
        return self.run_dir / "wake"

    def wake_fifo(self, name: str) -> Path:
        """An on-demand service's FIFO: its program waits on it, Jupyter's proxy writes to it (entrypoint.wake)."""
        return self.wake / name

    def wake_started(self, name: str) -> Path:
        """Made by the program once woken: from then on it starts at once (a restart after a crash)."""
        return self.wake / f"{name}.started"

    @property
    def passwd(self) -> Path:
        """nss_wrapper's passwd for a UID with no entry of its own (users.nss_passwd)."""
        return self.run_dir / "passwd"

    @property
    def group(self) -> Path:
        """nss_wrapper's group file, where /etc cannot be written (users.nss_group)."""
        return self.run_dir / "group"

    @property
    def status_socket(self) -> Path:
        """The notebook user's read-only status (deepdocker_supervisor.extension): supervisord's socket is root's."""
        return self.run_dir / "status.sock"

    def secret(self, e, var: str) -> Path:
        """Where a secret handed over in a file (services.Secret.in_file) lies for `e`, an Enabled."""
        return self.run_dir / "secrets" / e.service.name / var
