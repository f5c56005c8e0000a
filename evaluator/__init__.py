"""hullcheck's evaluator: declarative jq policies over a snapshot, offline.

It needs nothing but the snapshot: no Docker, no network.

    from evaluator import Evaluator, Source, load_pack
    with Evaluator(load_pack([policies_dir])) as ev:
        results = ev.evaluate(Source(name="host.json", path="host.json"))
"""

from .engine import Evaluator, Limits, Source
from .policy import Policy, PolicyError, Selection, load_pack
from .snapshot import SnapshotError

__all__ = ["Evaluator", "Limits", "Policy", "PolicyError", "Selection", "SnapshotError", "Source", "load_pack"]
