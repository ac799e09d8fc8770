"""Runs stock supervisord in this process, then exits with the status the extension chose.

supervisord's main() always returns normally; DEEPDOCKER_ON_FATAL=exit needs a non-zero
status so that Docker's restart policy or Kubernetes sees the failure.
"""

import sys

from supervisor import supervisord

from . import extension


def main() -> int:
    supervisord.main(sys.argv[1:])
    return extension.exit_code()


if __name__ == "__main__":
    sys.exit(main())
