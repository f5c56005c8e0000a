"""A policy: what one policy file says, checked, as one immutable value, and how it is chosen.

`Policy` owns its serialisation: its fields are the policy file's fields (the one list of them),
`Policy.from_data` builds one from a file's checked YAML data and `to_data` gives that data back,
so the pack cache (evaluator/packcache.py) stores a pack as plain JSON and rebuilds the very same
policies. Loading and checking policy files is evaluator/pack.py's work.
"""

from __future__ import annotations

import fnmatch
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, Iterable

from hullcheck_common.vocabulary import SEVERITIES, pointer_subject

# How a field of the policy file becomes the Policy's value (field metadata "read"); a field
# without one is taken as the file gives it. Reading a value twice gives the same value, so
# Policy.from_data(policy.to_data()) == policy.


def _stripped(value: str) -> str:
    return value.strip()


def _stripped_or_none(value: str | None) -> str | None:
    return (value or "").strip() or None


def _items(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value or ())


def _controls(value: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in value.items()}


def _read(how: Callable[[Any], Any], key: str | None = None) -> dict[str, Any]:
    return {"read": how, **({"key": key} if key else {})}


_NOT_IN_FILE = {"key": None}  # where the policy was loaded from: not a field of the file

# The fields that hold jq, by their names in the file, in the order the engine runs them.
JQ_FIELDS = ("resources", "applies", "assert", "manual", "message")


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    description: str = field(metadata=_read(_stripped))
    remediation: str = field(metadata=_read(_stripped))
    severity: str
    level: int
    controls: dict[str, str] = field(metadata=_read(_controls))
    automated: bool
    tags: tuple[str, ...] = field(default=(), metadata=_read(_items))
    references: tuple[str, ...] = field(default=(), metadata=_read(_items))
    audit: str | None = field(default=None, metadata=_read(_stripped_or_none))
    requires: tuple[str, ...] = field(default=(), metadata=_read(_items))
    applies: str | None = None
    not_applicable_reason: str | None = None
    resources: str | None = None
    assert_: str | None = field(default=None, metadata={"key": "assert"})
    manual: str | None = None          # jq over a resource's data: true = a person must judge it (status manual)
    message: str | None = None
    evidence: tuple[str, ...] = field(default=(), metadata=_read(_items))
    tests: tuple[dict[str, Any], ...] = field(default=(), metadata=_read(_items))
    # What the policy judges and what else it needs (evaluator/scope.py): declared in the file, or
    # derived at load from `requires` (derive_scope); None: judged on every source.
    subject: str | None = None
    needs: tuple[str, ...] = field(default=(), metadata=_read(_items))
    path: str = field(default="", metadata=_NOT_IN_FILE)
    sha256: str = field(default="", metadata=_NOT_IN_FILE)
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False, metadata=_NOT_IN_FILE)

    @classmethod
    def from_data(cls, data: dict[str, Any], path: str, sha256: str, lines: dict[str, int]) -> Policy:
        """The Policy of a policy file's checked data (what the schema accepted), or of to_data().

        A policy without `subject` gets its subject and needs derived here, once, from `requires`
        (derive_scope); to_data() keeps them as derived. KeyError for a required field missing."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f.metadata.get("key", f.name)
            if key is None:
                continue
            if key in data:
                value = data[key]
            elif f.default is not MISSING or f.default_factory is not MISSING:
                value = None
            else:
                raise KeyError(key)
            how = f.metadata.get("read")
            values[f.name] = how(value) if how is not None else value
        if values["subject"] is None:
            values["subject"], values["needs"] = derive_scope(values["requires"])
        values["needs"] = tuple(dict.fromkeys(n for n in values["needs"] if n != values["subject"]))
        return cls(**values, path=path, sha256=sha256, lines=dict(lines))

    def to_data(self) -> dict[str, Any]:
        """The policy's file fields as plain JSON-able data, for from_data() to rebuild it."""
        data: dict[str, Any] = {}
        for f in fields(self):
            key = f.metadata.get("key", f.name)
            if key is None:
                continue
            value = getattr(self, f.name)
            data[key] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, dict) else value
        return data

    @property
    def scope(self) -> tuple[str, ...]:
        """Every subject a snapshot must hold for this policy to be judged: its subject, then its needs."""
        return tuple(s for s in (self.subject, *self.needs) if s is not None)

    def fragments(self) -> list[tuple[str, str]]:
        """The policy's jq, by the name of its field in the file, in the order the engine runs them."""
        values = ((name, getattr(self, "assert_" if name == "assert" else name)) for name in JQ_FIELDS)
        return [(name, value) for name, value in values if value is not None]

    def metadata(self) -> dict[str, Any]:
        """What results carry about the policy, so reports render without the pack."""
        return {
            "id": self.id, "title": self.title, "severity": self.severity, "level": self.level,
            "controls": dict(sorted(self.controls.items())), "tags": list(self.tags), "automated": self.automated,
            "description": self.description, "remediation": self.remediation, "references": list(self.references),
            **({"audit": self.audit} if self.audit else {}),
        }


def derive_scope(requires: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    """(subject, needs) of a policy that does not declare them, from the pointers it requires:
    the first pointer's subject is what it judges, the others' are what it needs besides (a
    custom policy requiring /containers and /engine/info is judged only where both are held).
    (None, ()) when no pointer names a subject: the policy is judged on every source."""
    found: list[str] = []
    for pointer in requires:
        subject = pointer_subject(pointer)
        if subject is not None and subject not in found:
            found.append(subject)
    if not found:
        return None, ()
    if found[0] == "processes":  # processes are a container's: the container is what is judged
        found.insert(0, "container")
    return found[0], tuple(found[1:])


@dataclass(frozen=True)
class Selection:
    """Which policies run: ids or globs to include and skip, level, minimum severity, tags."""

    include: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    level: int | None = None
    min_severity: str | None = None
    tags: tuple[str, ...] = ()

    def apply(self, policies: list[Policy]) -> list[Policy]:
        chosen = []
        for p in policies:
            if self.include and not any(fnmatch.fnmatchcase(p.id, pat) for pat in self.include):
                continue
            if any(fnmatch.fnmatchcase(p.id, pat) for pat in self.skip):
                continue
            if self.level is not None and p.level > self.level:
                continue
            if self.min_severity and SEVERITIES.index(p.severity) > SEVERITIES.index(self.min_severity):
                continue
            if self.tags and not set(self.tags) & set(p.tags):
                continue
            chosen.append(p)
        return chosen
