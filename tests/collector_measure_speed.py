"""Measure collection against the docker CLI, side by side in one run (ratios, not absolute times).

    python tests/collector_measure_speed.py [N]

Starts N labelled sleeping containers on the local engine, then times, alternately and three
times each: (a) the collector for those containers (all sections), (b) one `docker inspect`
process per container plus one `docker top` per container (the CLI way to read the same), and
(c) a single `docker inspect` of all of them at once. Removes the containers afterwards.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import docker  # noqa: E402
from collector_support import build_busybox  # noqa: E402

from collector import CollectOptions, collect  # noqa: E402


def main(count: int) -> None:
    client = docker.from_env(timeout=120)
    image = build_busybox(client, "hullcheck-test/busybox:1")
    label = f"hullcheck.test=speed-{uuid.uuid4().hex[:8]}"
    key, value = label.split("=")
    api = client.api

    def start(i: int) -> str:
        cid = api.create_container(image, ["sleep", "3600"], name=f"hc-{value}-{i:03d}", labels={key: value},
                                   host_config=api.create_host_config(network_mode="none"))["Id"]
        api.start(cid)
        return cid

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(start, range(count)))
    try:
        timings: dict[str, list[float]] = {"collector": [], "cli inspect+top per container": [], "cli one bulk inspect": []}
        for _ in range(3):
            t = time.perf_counter()
            snapshot = collect(CollectOptions(label_filter=[label]))
            timings["collector"].append(time.perf_counter() - t)
            assert len(snapshot["containers"]) == count
            t = time.perf_counter()
            for cid in ids:
                subprocess.run(["docker", "inspect", cid], capture_output=True, check=True)
                subprocess.run(["docker", "top", cid], capture_output=True, check=True)
            timings["cli inspect+top per container"].append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["docker", "inspect", *ids], capture_output=True, check=True)
            timings["cli one bulk inspect"].append(time.perf_counter() - t)
        base = statistics.median(timings["collector"])
        print(f"{count} running containers, median of 3:")
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"  {name:32s} {median:7.2f} s  ({median / base:5.2f} x collector)")
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda cid: api.remove_container(cid, force=True), ids))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
