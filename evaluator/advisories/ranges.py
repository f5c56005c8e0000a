"""OSV affected ranges, evaluated as the OSV schema's `IsVulnerable` does, on ordered versions.

Events are sorted by version first (some sources list branches out of order: the Go report of
CVE-2024-41110 does), then walked: `introduced` opens an interval, `fixed` closes it before that
version, `last_affected` closes it after, `limit` bounds everything. `introduced: "0"` is before
every version.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple

from .versions import Version, VersionError


class Interval(NamedTuple):  # not a dataclass: the jq worker imports this (see advisories/__init__.py)
    """One affected interval: [introduced, fixed) or [introduced, last_affected]; None = unbounded."""

    introduced: str | None          # None: from the beginning ("0")
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None        # an open interval judged only below this version

    def describe(self) -> str:
        low = f">= {self.introduced}" if self.introduced else ""
        high = f"< {self.fixed}" if self.fixed else f"<= {self.last_affected}" if self.last_affected else ""
        return ", ".join(p for p in (low, high) if p) or "all versions"


def intervals(events: Iterable[dict[str, Any]], parse: Callable[[str], Version]) -> list[Interval]:
    """The affected intervals a range's events describe (VersionError for an unreadable event version)."""
    keyed: list[tuple[Any, int, str, str]] = []
    limits: list[str] = []
    order = {"introduced": 0, "last_affected": 1, "fixed": 2}
    for event in events:
        for kind, value in event.items():
            if kind == "limit":
                if value != "*":
                    limits.append(str(value))
                continue
            if kind not in order or not isinstance(value, str):
                continue
            if kind == "introduced" and value == "0":
                keyed.append(((0,), order[kind], kind, value))
            else:
                keyed.append(((1, parse(value)), order[kind], kind, value))
    keyed.sort(key=lambda k: (k[0], k[1]))
    out: list[Interval] = []
    start: str | None = None
    opened = False
    for _key, _order, kind, value in keyed:
        if kind == "introduced":
            if not opened:
                start, opened = (None if value == "0" else value), True
        elif opened:
            out.append(Interval(start, fixed=value) if kind == "fixed" else Interval(start, last_affected=value))
            opened = False
    if opened:
        out.append(Interval(start))
    if limits:  # nothing at or beyond the lowest limit is judged by this range
        limit = min(limits, key=parse)
        bounded = []
        for item in out:
            if item.introduced is not None and not parse(item.introduced) < parse(limit):
                continue
            open_ended = item.fixed is None and item.last_affected is None
            bounded.append(Interval(item.introduced, limit=limit) if open_ended else item)
        out = bounded
    return out


def contains(interval: Interval, version: Version, parse: Callable[[str], Version]) -> bool:
    if interval.introduced is not None and version < parse(interval.introduced):
        return False
    if interval.fixed is not None and not version < parse(interval.fixed):
        return False
    if interval.limit is not None and not version < parse(interval.limit):
        return False
    return not (interval.last_affected is not None and parse(interval.last_affected) < version)


def affected_by(ranges: list[dict[str, Any]], versions: list[str], version: Version,
                parse: Callable[[str], Version]) -> tuple[Interval | None, list[Interval]]:
    """(the interval holding `version`, or None; every interval of the ranges). An explicit
    `versions` list matches by equality. Raises VersionError for an unreadable range."""
    every: list[Interval] = []
    hit: Interval | None = None
    for rng in ranges:
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        for item in intervals(rng.get("events") or [], parse):
            every.append(item)
            if hit is None and contains(item, version, parse):
                hit = item
    if hit is None:
        for listed in versions:
            try:
                if parse(listed) == version:
                    hit = Interval(listed, last_affected=listed)
                    break
            except VersionError:
                continue
    return hit, every
