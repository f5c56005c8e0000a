"""Scope: which policies a snapshot can decide, and how the others are reported.

A live snapshot holds every subject (hullcheck_common.vocabulary.SUBJECTS). A plan holds part of
a host and says which part in `meta.source.subjects` (a Compose plan: its containers, and their
images when they were read from an engine). A policy judges one subject and may need others
(`subject:` and `needs:` in its file, or derived once at load from its `requires` pointers:
policy.derive_scope).

One rule, here: a policy is judged when the snapshot holds its subject and all it needs;
otherwise it is *not judged* and leaves the results for one `not_judged` block of the document,
outside the summary's statuses, the score and the exit code. The jq program applies the same
rule (program.py, `_hc_policy`) so that it does no work for those policies, and skips, inside a
judged policy, the `requires` and `evidence` pointers into subjects the snapshot does not hold.
"""

from __future__ import annotations

from typing import Any, Iterable

from hullcheck_common.vocabulary import SUBJECTS

from .policy import Policy

# Subjects in words, for the one sentence a report says about not-judged policies.
SUBJECT_WORDS: dict[str, str] = {
    "host": "the host", "daemon": "the daemon", "engine": "the engine", "files": "the host's files",
    "swarm": "the swarm", "image": "images", "container": "containers", "processes": "running processes",
}
# meta.source.kind in words; a snapshot without meta.source is a live one.
SOURCE_WORDS: dict[str, str] = {"compose": "this Compose plan", "dockerfile": "this Dockerfile plan",
                                "request": "this request", "event": "this container's event"}


def held_subjects(snapshot: dict[str, Any]) -> list[str] | None:
    """What the snapshot holds (meta.source.subjects, in SUBJECTS order), or None: every subject."""
    source = (snapshot.get("meta") or {}).get("source")
    subjects = source.get("subjects") if isinstance(source, dict) else None
    if not isinstance(subjects, list):
        return None
    return [s for s in SUBJECTS if s in subjects]


def held_of(summary: dict[str, Any] | None) -> frozenset[str] | None:
    """The held subjects as the results document's `snapshot` summary records them (None: all)."""
    subjects = (summary or {}).get("subjects")
    return frozenset(subjects) if isinstance(subjects, list) else None


def lacking(policy: Policy, held: frozenset[str] | None) -> tuple[str, ...]:
    """The subjects the policy needs that the snapshot does not hold (() when it is judged)."""
    if held is None:
        return ()
    return tuple(s for s in policy.scope if s not in held)


def judged(policy: Policy, held: frozenset[str] | None) -> bool:
    """Does the snapshot hold the policy's subject and everything it needs?"""
    return not lacking(policy, held)


def _words(subjects: Iterable[str], last: str) -> str:
    words = [SUBJECT_WORDS.get(s, s) for s in SUBJECTS if s in set(subjects)]
    if len(words) <= 1:
        return "".join(words) or "nothing"
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def reason(held: frozenset[str], missing: Iterable[str], kind: str | None) -> str:
    """One sentence: which source, what it holds, what the not-judged policies need instead."""
    source = SOURCE_WORDS.get(str(kind), "this snapshot")
    return f"{source} holds {_words(held, 'and')} only; they need {_words(missing, 'or')}"


def not_judged_block(policies: list[Policy], held: frozenset[str] | None,
                     summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The results document's `not_judged` block for the policies a snapshot cannot decide, or
    None when every policy is judged (a live snapshot: the document does not change)."""
    if held is None or not policies:
        return None
    missing = {s for policy in policies for s in lacking(policy, held)}
    return {
        "reason": reason(held, missing, (summary or {}).get("source")),
        "policies": [{"id": p.id, "title": p.title, "subject": p.subject, "lacks": list(lacking(p, held))}
                     for p in policies],
    }


def not_judged_count(document: dict[str, Any]) -> int:
    """How many policies the document lists as not judged."""
    block = document.get("not_judged")
    return len(block.get("policies") or []) if isinstance(block, dict) else 0


def not_judged_ids(document: dict[str, Any]) -> set[str]:
    block = document.get("not_judged")
    return {str(p.get("id")) for p in (block.get("policies") or [])} if isinstance(block, dict) else set()


def line(document: dict[str, Any]) -> str | None:
    """What text, Markdown and HTML reports say, once: '82 policies not judged: this Compose plan
    holds containers only; these policies need the host, ...'. None when every policy was judged."""
    count = not_judged_count(document)
    if not count:
        return None
    return f"{count} {'policy' if count == 1 else 'policies'} not judged: {document['not_judged'].get('reason')}."
