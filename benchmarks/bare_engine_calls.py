#!/usr/bin/env python3
"""The bare minimum of Engine API calls a snapshot needs, made sequentially: the baseline of benchmarks/collect.

Plain HTTP over the Docker socket from the standard library (no SDK, no threads): list the
containers (with the same label filter hullcheck gets), inspect and top each running container,
list the images, info, version. Prints how many calls it made.

    python benchmarks/bare_engine_calls.py [--socket /var/run/docker.sock] [--label KEY=VALUE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import urllib.parse


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--label", action="append", default=[])
    args = parser.parse_args()
    conn = UnixHTTPConnection(args.socket)
    calls = 0

    def get(path: str) -> object:
        nonlocal calls
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        calls += 1
        if response.status != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status}")
        return json.loads(body)

    query = "all=1"
    if args.label:
        query += "&filters=" + urllib.parse.quote(json.dumps({"label": args.label}))
    containers = get(f"/containers/json?{query}")
    for item in containers:  # type: ignore[union-attr]
        inspect = get(f"/containers/{item['Id']}/json")
        if inspect["State"]["Running"]:  # type: ignore[index]
            get(f"/containers/{item['Id']}/top")
    get("/images/json?all=1")
    get("/info")
    get("/version")
    print(json.dumps({"calls": calls, "containers": len(containers)}))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
