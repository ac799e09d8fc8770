"""Which packages the wheel holds; everything else is in setup.cfg.

Found, not listed: a new service is a new folder under entrypoint/services/ and nothing else.
deepdocker_supervisor, what supervisord itself loads, lives in supervisor/ under a name of its own,
so nothing can shadow the supervisor library (setup.cfg alone cannot find packages in two places).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["entrypoint", "entrypoint.*", "healthchecks", "healthchecks.*"])
    + find_packages("supervisor"),
    package_dir={"deepdocker_supervisor": "supervisor/deepdocker_supervisor"},
)
