"""The recorded Dockerfile plans (snapshots/dockerfile/NAME/Dockerfile -> snapshots/examples/dockerfile-NAME.json).

Collected at the repository root, so the recorded file paths are repository-relative (as in CI).
Re-record with: python tests/dockerfile_support.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "snapshots" / "dockerfile"
EXAMPLES = REPO / "snapshots" / "examples"
NAMES = ("hardened", "misconfigured")


def plan(name: str, **overrides: Any) -> dict[str, Any]:
    """The planned snapshot of a recorded Dockerfile, collected at the repository root."""
    from collector.dockerfile import DockerfileOptions, collect_dockerfile

    before = os.getcwd()
    os.chdir(REPO)
    try:
        return collect_dockerfile(DockerfileOptions(path=f"snapshots/dockerfile/{name}/Dockerfile", **overrides))
    finally:
        os.chdir(before)


def record() -> None:
    for name in NAMES:
        snapshot = plan(name)
        snapshot["meta"]["collector"]["uid"] = 1000
        (EXAMPLES / f"dockerfile-{name}.json").write_text(json.dumps(snapshot, indent=2) + "\n")
        print(f"recorded snapshots/examples/dockerfile-{name}.json")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    record()
