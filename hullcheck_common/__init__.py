"""Pieces both halves of hullcheck share (below the collector, the evaluator and the CLI)."""
