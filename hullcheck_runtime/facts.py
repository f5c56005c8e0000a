"""The engine's own facts, read in the background and kept fresh for guard and watch.

The guard starts before dockerd (dockerd refuses to start while a configured authorization plugin
does not answer), so the first reading waits until the engine answers, retrying; after that the
facts are read again every `interval` seconds, and at once when asked (`refresh`: a daemon
restart seen by watch, SIGHUP). Until the first reading, containers are judged on their own
settings: the snapshot holds the container subject only, and policies that need the engine's
facts are not judged (evaluator/scope.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from collector.live import EngineFacts, collect_facts, no_facts


class FactsKeeper:
    def __init__(self, docker_host: str | None, tls: Any, interval: float, warn: Callable[[str], None]) -> None:
        self.docker_host = docker_host
        self.tls = tls
        self.interval = max(1.0, interval)
        self.warn = warn
        self._facts = no_facts()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._gave_up = False
        self._thread = threading.Thread(target=self._run, name="hullcheck-facts", daemon=True)

    def start(self) -> FactsKeeper:
        self._thread.start()
        return self

    def current(self) -> EngineFacts:
        return self._facts

    def wait(self, timeout: float) -> bool:
        """Block until the facts were read once."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def first(self, timeout: float) -> EngineFacts:
        """The facts, reading them now if they never were (a judged request proves the engine
        answers: the guard started before dockerd and the retry may be seconds away)."""
        if not self._ready.is_set() and not self._gave_up:
            self._wake.set()
            if not self._ready.wait(timeout):
                self._gave_up = True  # the reader keeps trying; requests no longer wait for it
        return self._facts

    def refresh(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        delay = 0.5
        failing_since: float | None = None
        while not self._stop.is_set():
            try:
                self._facts = collect_facts(self.docker_host, self.tls)
                self._ready.set()
                if failing_since is not None:
                    self.warn("hullcheck: the engine answers again: its facts are read")
                failing_since = None
                delay = 0.5
                wait = self.interval
            except Exception as exc:  # noqa: BLE001 - an engine not (yet) up: retry, never give up
                if failing_since is None:
                    failing_since = time.monotonic()
                    self.warn(f"hullcheck: cannot read the engine's facts yet ({str(exc)[:200]}); retrying "
                              "(containers are judged on their own settings meanwhile)")
                wait, delay = delay, min(delay * 2, 5.0)
            self._wake.wait(wait)
            self._wake.clear()
