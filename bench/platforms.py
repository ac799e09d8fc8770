"""make bench-platforms: the arm64 image beside the amd64 one, measured in one run.

1. Image size, uncompressed (`docker image inspect`), arm64 beside amd64 (the goal: within 10%).
2. Start to healthy (`docker run -d` to `deepdocker-health --wait` answering, default services):
   arm64 under emulation (qemu-user-static) where this machine is amd64, beside native amd64.
   Reported, no target: emulation runs Python about 10-12x slower.
The build time of each comes from `make image` itself (its last line: "built TAG (PLATFORM) in N s").

usage: platforms.py [ROUNDS] [AMD64_IMAGE] [ARM64_IMAGE]   (default 3, deepdocker:cpu, deepdocker:cpu-arm64)
"""

from __future__ import annotations

import statistics
import sys

from common import docker, start_to_healthy, table

TOKEN = "bench-platforms-token-0123456789"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    amd64 = sys.argv[2] if len(sys.argv) > 2 else "deepdocker:cpu"
    arm64 = sys.argv[3] if len(sys.argv) > 3 else "deepdocker:cpu-arm64"
    for image, arch in ((amd64, "amd64"), (arm64, "arm64")):
        found = docker("image", "inspect", "-f", "{{.Architecture}}", image)
        if found != arch:
            sys.exit(f"bench-platforms: {image} is {found}, not {arch}; build it with make image PLATFORM=linux/{arch}")
    size = {i: int(docker("image", "inspect", "-f", "{{.Size}}", i)) / 1e9 for i in (amd64, arm64)}
    frameworks = {i: docker("image", "inspect", "-f", '{{index .Config.Labels "io.deepdocker.frameworks"}}', i)
                  for i in (amd64, arm64)}  # fmt: skip
    times: dict[str, list[float]] = {amd64: [], arm64: []}
    for _ in range(rounds):  # interleaved: a noisy moment hurts both
        for image in (amd64, arm64):
            times[image].append(start_to_healthy(image, "-e", f"JUPYTER_TOKEN={TOKEN}"))
    rows = [
        ("image size, uncompressed", size[arm64], size[amd64], "GB"),
        ("start to healthy", statistics.median(times[arm64]), statistics.median(times[amd64]), " s"),
    ]
    print(table(rows, f"arm64 ({arm64}, emulated here) vs amd64 ({amd64}), {rounds} rounds, medians; baseline = amd64"))
    for image in (amd64, arm64):
        print(f"{image}: frameworks {frameworks[image]!r}; start to healthy, each round: "
              + ", ".join(f"{t:.1f} s" for t in times[image]))  # fmt: skip


if __name__ == "__main__":
    main()
