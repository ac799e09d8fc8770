"""make bench-env: what the user's layer (entrypoint.userlayer) costs, beside the same image without it.

1. Start to healthy (`docker run` to `deepdocker-health --wait` answering) with 200 packages in the
   layer of the home volume, beside an empty home volume. Goal: +0.3 s at most.
2. `import numpy, pandas, torch` in a fresh interpreter: the layer's Python (200 packages ahead of
   the image's on sys.path) beside the image's own /opt/venv/bin/python. Goal: within 5%.
3. `uv pip install` beside `pip install` of the same 40 wheels, from a local folder, into a fresh layer.

Every figure is a median of ROUNDS, measured in the same run as its baseline.

usage: userlayer.py [ROUNDS] [IMAGE]   (default 5, deepdocker:cpu)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import uuid

from common import docker, start_to_healthy, table

TOKEN = "bench-env-token-0123456789"
PACKAGES = 200
WHEELS = 40

# Run in the container as the notebook user: 200 installed packages, as pip leaves them.
FILL = f"""
import os, site, sys
site_dir = sys.argv[1]
for i in range({PACKAGES}):
    name = f"benchpkg{{i:03d}}"
    os.makedirs(f"{{site_dir}}/{{name}}", exist_ok=True)
    open(f"{{site_dir}}/{{name}}/__init__.py", "w").write("VALUE = 1\\n")
    info = f"{{site_dir}}/{{name}}-1.0.dist-info"
    os.makedirs(info, exist_ok=True)
    open(f"{{info}}/METADATA", "w").write(f"Metadata-Version: 2.1\\nName: {{name}}\\nVersion: 1.0\\n")
    open(f"{{info}}/RECORD", "w").write("")
"""

# Wheels of one module each, into a folder (pip and uv install them offline).
WHEELS_SCRIPT = f"""
import os, sys, zipfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for i in range({WHEELS}):
    name = f"benchwheel{{i:03d}}"
    info = f"{{name}}-1.0.dist-info"
    files = {{f"{{name}}/__init__.py": "VALUE = 1\\n",
             f"{{info}}/METADATA": f"Metadata-Version: 2.1\\nName: {{name}}\\nVersion: 1.0\\n",
             f"{{info}}/WHEEL": "Wheel-Version: 1.0\\nGenerator: bench\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    files[f"{{info}}/RECORD"] = "".join(f"{{n}},,\\n" for n in files) + f"{{info}}/RECORD,,\\n"
    with zipfile.ZipFile(f"{{out}}/{{name}}-1.0-py3-none-any.whl", "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
"""

# Wall time of argv, N times alternately for each, in one process of the container.
TIMES = """
import json, subprocess, sys, time
cmds = json.loads(sys.argv[1]); rounds = int(sys.argv[2])
out = {k: [] for k in cmds}
for _ in range(rounds):
    for k, argv in cmds.items():
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out[k].append(time.perf_counter() - t)
print(json.dumps(out))
"""


def started(volume: str) -> tuple[str, ...]:
    return "-e", "SERVICES=jupyter", "-e", f"JUPYTER_TOKEN={TOKEN}", "-v", f"{volume}:/home/jovyan"


def layer_site(image: str, volume: str) -> str:
    """Start once on `volume` (the layer is made), fill its layer, return its site-packages."""
    cid = docker(
        "run", "-d", "-e", "SERVICES=jupyter", "-e", f"JUPYTER_TOKEN={TOKEN}", "-v", f"{volume}:/home/jovyan", image
    )
    try:
        docker("exec", cid, "deepdocker-health", "--wait", "120")
        return docker(
            "exec", "-u", "jovyan", cid, "bash", "-lc", "python -c 'import site; print(site.getsitepackages()[0])'"
        )
    finally:
        docker("rm", "-f", cid)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = sys.argv[2] if len(sys.argv) > 2 else "deepdocker:cpu"
    full, empty = f"bench-env-{uuid.uuid4().hex[:8]}", f"bench-env-{uuid.uuid4().hex[:8]}"
    for v in (full, empty):
        docker("volume", "create", v)
    rows = []
    try:
        site_dir = layer_site(image, full)
        layer_site(image, empty)
        cid = docker(
            "run", "-d", "-e", "SERVICES=jupyter", "-e", f"JUPYTER_TOKEN={TOKEN}", "-v", f"{full}:/home/jovyan", image
        )
        try:
            docker("exec", "-u", "jovyan", cid, "/opt/venv/bin/python", "-c", FILL, site_dir)
            layer = site_dir.split("/lib/python", 1)[0]
            imports = "import numpy, pandas, torch"
            import json

            cmds = {"layer": [f"{layer}/bin/python", "-c", imports], "image": ["/opt/venv/bin/python", "-c", imports]}
            times = json.loads(docker("exec", "-u", "jovyan", cid, "/opt/venv/bin/python", "-c", TIMES,
                                      json.dumps(cmds), str(rounds)))  # fmt: skip
            rows.append(("import numpy, pandas, torch", statistics.median(times["layer"]),
                         statistics.median(times["image"]), " s"))  # fmt: skip
            docker("exec", "-u", "jovyan", cid, "/opt/venv/bin/python", "-c", WHEELS_SCRIPT, "/tmp/wheels")
            names = [f"benchwheel{i:03d}" for i in range(WHEELS)]
            install = (
                "set -e; rm -rf /tmp/t && cp -a {layer} /tmp/t && VIRTUAL_ENV=/tmp/t UV_EXCLUDE= {tool} "
                "--no-index --find-links /tmp/wheels -q {names}"
            )
            tools = {
                "uv": "/opt/venv/bin/uv-image pip install",
                "pip": "/tmp/t/bin/python -m pip install --disable-pip-version-check",
            }
            cmds = {
                k: ["bash", "-c", install.format(layer=layer, tool=v, names=" ".join(names))] for k, v in tools.items()
            }
            base = {"copy": ["bash", "-c", f"rm -rf /tmp/t && cp -a {layer} /tmp/t"]}
            times = json.loads(docker("exec", "-u", "jovyan", cid, "/opt/venv/bin/python", "-c", TIMES,
                                      json.dumps({**cmds, **base}), str(rounds)))  # fmt: skip
            copy = statistics.median(times["copy"])
            rows.append((f"install {WHEELS} wheels: uv vs pip", statistics.median(times["uv"]) - copy,
                         statistics.median(times["pip"]) - copy, " s"))  # fmt: skip
        finally:
            docker("rm", "-f", cid)
        with_pkgs, without = [], []
        for _ in range(rounds):
            with_pkgs.append(start_to_healthy(image, *started(full), wait=120))
            without.append(start_to_healthy(image, *started(empty), wait=120))
        rows.insert(
            0, (f"start to healthy, {PACKAGES} pkgs", statistics.median(with_pkgs), statistics.median(without), " s")
        )
    finally:
        for v in (full, empty):
            subprocess.run(["docker", "volume", "rm", "-f", v], capture_output=True)
    print(table(rows, f"user layer ({image}, median of {rounds}); baseline: empty layer / the image's Python / pip"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
