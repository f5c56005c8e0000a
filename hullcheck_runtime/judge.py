"""The container policies, loaded once and kept warm: one verdict per container snapshot.

A long-running judge (guard, watch) pays the pack's load and jq compile once: a keeper thread keeps
an idle jq worker with the program compiled and replaces it when it dies (killed from outside, the
out-of-memory killer), so an evaluation never waits for a worker to start. A worker lost in the
middle of an evaluation costs that evaluation one retry, not an error. Waivers are read once (again
on `reload`) and judged against today's date at every verdict: a guard running for months lets an
expired waiver lapse on its day.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from evaluator.policy import Policy, Selection
from evaluator.snapshot import SnapshotError
from evaluator.worker_pool import Evaluator, Limits, Source
from hullcheck_common import __version__
from hullcheck_common.errors import UsageError
from hullcheck_common.vocabulary import SEVERITIES

SUBJECT = "container"
# A worker that vanished mid-evaluation says so in the policy's reason (evaluator.worker_pool._signal_reason).
_WORKER_LOST = ("jq worker was killed", "jq worker exited", "jq worker killed by")


@dataclass(frozen=True)
class JudgeOptions:
    """Which policies judge containers (the usual selection flags) and the waivers that apply."""

    policy_dirs: list[Path] = field(default_factory=list)
    selection: Selection = field(default_factory=Selection)
    limits: Limits = field(default_factory=lambda: Limits(policy_timeout=10.0, load_timeout=30.0,
                                                          memory_bytes=1024 ** 3))
    waivers: Path | None = None
    warm_workers: int = 1


def judges_containers(policy: Policy) -> bool:
    """A policy whose subject is the container (evaluator.scope): the ones a guard or watch runs."""
    return getattr(policy, "subject", None) == SUBJECT


def container_policies(options: JudgeOptions) -> list[Policy]:
    from evaluator.run import load_policies

    chosen = [p for p in load_policies(options.policy_dirs, options.selection) if judges_containers(p)]
    if not chosen:
        raise UsageError("no container policy in the selection (--policy/--skip/--level/--min-severity/--tag): "
                         "guard and watch judge the policies whose subject is a container")
    return chosen


def at_or_above(severity: str | None, threshold: str) -> bool:
    return severity in SEVERITIES and SEVERITIES.index(str(severity)) <= SEVERITIES.index(threshold)


class Judge:
    """Evaluates container snapshots with the container policies; thread-safe; close() when done."""

    def __init__(self, options: JudgeOptions, warn: Callable[[str], None]) -> None:
        self.options = options
        self.warn = warn
        self._said: set[str] = set()
        self.policies = container_policies(options)
        self.waivers = self._load_waivers()
        self.evaluator = Evaluator(self.policies, options.limits, pack_version=__version__)
        self._stop = threading.Event()
        self.evaluator.keep_warm(options.warm_workers)
        self._keeper = threading.Thread(target=self._keep, name="hullcheck-jq-keeper", daemon=True)
        self._keeper.start()

    def _load_waivers(self) -> list[Any] | None:
        if self.options.waivers is None:
            return None
        from evaluator.waivers import load_waivers

        return load_waivers(self.options.waivers)

    def reload_waivers(self) -> None:
        """Read the waivers file again (SIGHUP); a file that no longer loads keeps the old waivers."""
        try:
            self.waivers = self._load_waivers()
        except Exception as exc:  # noqa: BLE001 - a bad edit must not take the guard down
            self.warn(f"hullcheck: waivers not reloaded, the previous ones stay in force: {exc}")

    def _keep(self) -> None:
        while not self._stop.wait(0.5):
            try:
                died = self.evaluator.keep_warm(self.options.warm_workers)
            except Exception as exc:  # noqa: BLE001 - keep trying; evaluations start workers themselves
                self._once(f"hullcheck: could not start a jq worker: {exc}")
                continue
            if died:
                self.warn(f"hullcheck: {died} idle jq worker(s) ended (killed from outside?): replaced")

    def _once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self.warn(message)

    def warm_up(self) -> None:
        """Evaluate an empty container snapshot once: the pack is compiled in a worker and the
        whole path works before the first real request arrives."""
        from collector.live import container_snapshot, no_facts

        self.judge(container_snapshot(no_facts(), [], "request"), "warm-up")

    def judge(self, snapshot: dict[str, Any], name: str = "container", data: bytes | None = None) -> dict[str, Any]:
        """The results document (waivers applied as of today) of one snapshot (and its JSON, when
        made already); SnapshotError when it cannot be evaluated at all."""
        if data is None:
            data = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")).encode()
        source = Source.collected(name, snapshot, data)
        for attempt in (1, 2):
            try:
                document = self.evaluator.evaluate(source)
            except SnapshotError as exc:
                if attempt == 2 or not any(lost in str(exc) for lost in _WORKER_LOST):
                    raise
                continue
            lost = [r for r in document["results"] if r["status"] == "error"
                    and any(text in str(r.get("reason") or "") for text in _WORKER_LOST)]
            if not lost or attempt == 2:
                break
        if self.waivers:
            from evaluator.waivers import apply_waivers

            apply_waivers(document, self.waivers, dt.datetime.now(dt.timezone.utc).date(), str(self.options.waivers))
            for entry in document["waivers"]["expired"]:
                self._once(f"hullcheck: waiver {entry['id']} ({entry['policy']}) expired on {entry['expires']}")
        return document

    def close(self) -> None:
        self._stop.set()
        self.evaluator.close()
