"""Compliance as metrics: an OpenMetrics text file for node_exporter's textfile collector.

`hullcheck watch --metrics /var/lib/node_exporter/textfile/hullcheck.prom` keeps, per policy and
severity, how many running containers fail it now, plus how many are judged and when the last
verdict came; every policy of the pack has its line (0 included), so a fixed policy drops to 0
instead of vanishing. The file is replaced atomically (a scrape never reads half of it); the
OpenMetrics text format is also Prometheus' text format 0.0.4 (`# EOF` is a comment there).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from hullcheck_common.atomic import write_atomic


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class ComplianceMetrics:
    """The latest verdicts of running containers, written out as metrics after each change."""

    def __init__(self, path: Path | None, policies: list[Any]) -> None:
        self.path = path
        self.policies = [(p.id, p.severity) for p in policies]
        self._failing: dict[str, set[str]] = {}   # container id -> failing policy ids
        self._errors: dict[str, set[str]] = {}
        self._last = 0.0
        self._lock = threading.Lock()

    def judged(self, container_id: str, running: bool, failing: set[str], errors: set[str]) -> None:
        with self._lock:
            if running:
                self._failing[container_id] = set(failing)
                self._errors[container_id] = set(errors)
            else:
                self._failing.pop(container_id, None)
                self._errors.pop(container_id, None)
            self._last = time.time()
            self._write()

    def gone(self, container_id: str) -> None:
        with self._lock:
            if self._failing.pop(container_id, None) is None and self._errors.pop(container_id, None) is None:
                return
            self._errors.pop(container_id, None)
            self._write()

    def keep_only(self, running_ids: set[str]) -> None:
        """After a resync: containers that no longer run are dropped."""
        with self._lock:
            for cid in [c for c in self._failing if c not in running_ids]:
                self._failing.pop(cid, None)
                self._errors.pop(cid, None)
            self._write()

    def text(self) -> str:
        lines = ["# HELP hullcheck_failing_containers Running containers that fail the policy now (hullcheck watch).",
                 "# TYPE hullcheck_failing_containers gauge"]
        for policy, severity in self.policies:
            count = sum(policy in failing for failing in self._failing.values())
            lines.append(f'hullcheck_failing_containers{{policy="{_label(policy)}",severity="{_label(severity)}"}} {count}')
        lines += ["# HELP hullcheck_error_containers Running containers the policy could not judge (hullcheck watch).",
                  "# TYPE hullcheck_error_containers gauge"]
        for policy, severity in self.policies:
            count = sum(policy in errors for errors in self._errors.values())
            lines.append(f'hullcheck_error_containers{{policy="{_label(policy)}",severity="{_label(severity)}"}} {count}')
        lines += ["# HELP hullcheck_judged_containers Running containers hullcheck watch holds a verdict for.",
                  "# TYPE hullcheck_judged_containers gauge",
                  f"hullcheck_judged_containers {len(self._failing)}",
                  "# HELP hullcheck_last_verdict_timestamp_seconds When hullcheck watch last judged a container.",
                  "# TYPE hullcheck_last_verdict_timestamp_seconds gauge",
                  f"hullcheck_last_verdict_timestamp_seconds {self._last:.3f}",
                  "# EOF"]
        return "\n".join(lines) + "\n"

    def _write(self) -> None:
        if self.path is not None:
            write_atomic(self.path, self.text(), mode=0o644)
