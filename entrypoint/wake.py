"""python -m entrypoint.wake FIFO NAME: ask supervisord to start an on-demand service.

jupyter-server-proxy runs this (as the notebook user) before the first request to /<NAME>/, then
waits until the service's port answers. supervisord reads NAME from the FIFO in its own loop and
starts the program (deepdocker_supervisor.extension), which from then on is supervised like any other.
Always exits 0: the proxy would run a failing command again and again; a failure to wake shows
as the proxy's timeout, and this says why on stderr (Jupyter's log).
"""

from __future__ import annotations

import errno
import os
import sys


def wake(fifo: str, name: str) -> str | None:
    """None when the request was handed over, else why not."""
    try:
        # O_NONBLOCK: with no reader (supervisord gone) this fails at once instead of hanging.
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return f"{fifo}: supervisord is not reading it"
        return f"{fifo}: {e.strerror}"
    try:
        os.write(fd, name.encode() + b"\n")  # well under PIPE_BUF: written whole or not at all
    except OSError as e:
        return f"{fifo}: {e.strerror}"
    finally:
        os.close(fd)
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m entrypoint.wake FIFO NAME", file=sys.stderr)
        return 0
    problem = wake(*argv)
    if problem:
        print(f"deepdocker: cannot start {argv[1]} on demand: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
