"""Advisory data for CIS 1.2.2: which known vulnerabilities the engine's components carry.

- `build`: public OSV sources -> hullcheck's records (scripts/build-advisories, `advisories import`);
- `store`: the data in use (bundled, or imported into the local store) and --advisories files;
- `match`: a snapshot's components against the data -> the `$advisories` facts policies read;
- `versions`, `ranges`: ordering versions and evaluating OSV ranges;
- `bundle`: importing an OSV bundle (the Go database's zip, a directory of OSV files).

Everything here is offline: nothing is fetched, ever.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_MAX_AGE_DAYS = 30

# No dataclasses in this package: the jq worker imports it, and `dataclasses` brings `inspect`
# (10-40 ms of every evaluate, more than judging 1.2.2 itself costs).


class AdvisoryOptions(NamedTuple):
    """--advisories FILE (repeatable) and --advisories-max-age DAYS."""

    files: tuple[Path, ...] = ()
    max_age_days: int = DEFAULT_MAX_AGE_DAYS


def document_block(summary: dict[str, Any], collected_at: Any, max_age_days: int) -> dict[str, Any]:
    """The results document's `advisories`: the data's summary, and its age at the snapshot's collection."""
    from datetime import date, datetime, timezone

    from .match import _parse_time

    reference = _parse_time(collected_at) or datetime.now(timezone.utc)
    age = (reference.date() - date.fromisoformat(summary["date"])).days if summary.get("date") else None
    return {**summary, "age_days": age, "max_age_days": max_age_days,
            "stale": age is not None and age > max_age_days}
