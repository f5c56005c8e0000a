"""hullcheck at run time: `hullcheck guard` (an Engine authorization plugin) and `hullcheck watch`
(the engine's event stream), both judging one container at a time with the container policies.

The one package that joins the two halves outside the CLI: a planned or live container comes from
the collector (collector.apiplan, collector.live), its verdict from a warm evaluator
(evaluator.worker_pool), and the decision, the decision log and the metrics are made here. The CLI
(hullcheck/cli.py) only parses flags into GuardOptions and WatchOptions and calls `serve`.
"""

from __future__ import annotations
