"""Loading a policy pack: YAML files validated by a schema, jq checked for safety and syntax.

Everything is loaded and checked before anything is evaluated; the first bad file stops the run
with its path, the line, and jq's own message (exit code 2 at the CLI).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Iterable

import jq
import jsonschema
import yaml

from .jqsafety import JqSafetyError, check
from .program import PRELUDE, fragment_check_program, prelude_line_count

SEVERITIES = ("critical", "high", "medium", "low", "info")
JQ_FIELDS = ("resources", "applies", "assert", "message")


class PolicyError(Exception):
    """A policy file that cannot be used: where it is, and why."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    description: str
    remediation: str
    severity: str
    level: int
    controls: dict[str, str]
    automated: bool
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    audit: str | None = None
    requires: tuple[str, ...] = ()
    applies: str | None = None
    not_applicable_reason: str | None = None
    resources: str | None = None
    assert_: str | None = None
    message: str | None = None
    evidence: tuple[str, ...] = ()
    tests: tuple[dict[str, Any], ...] = ()
    path: str = ""
    sha256: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def section(self) -> str:
        """The CIS section ('5') the policy reports under, or 'other'."""
        for framework in sorted(self.controls, reverse=True):
            if framework.startswith("cis-docker"):
                return self.controls[framework].split(".")[0]
        return "other"

    def metadata(self) -> dict[str, Any]:
        """What results carry about the policy, so reports render without the pack."""
        return {
            "id": self.id, "title": self.title, "severity": self.severity, "level": self.level,
            "controls": dict(sorted(self.controls.items())), "tags": list(self.tags), "automated": self.automated,
            "description": self.description, "remediation": self.remediation, "references": list(self.references),
            **({"audit": self.audit} if self.audit else {}),
        }


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    from hullcheck.resources import policy_schema_path

    return jsonschema.Draft202012Validator(json.loads(policy_schema_path().read_text()),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


# libyaml's loader when PyYAML has it: 10x faster than the pure-Python one on a 120-policy pack
# (which otherwise costs seconds on every run). Errors are re-parsed by the pure-Python loader, so
# messages stay the same.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> object:
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)  # raises with the pure-Python loader's wording


def _field_lines(text: str) -> dict[str, tuple[int, bool]]:
    """Line (1-based) where each top-level field's value starts, and whether it is a block scalar."""
    try:
        node = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return {}
    out = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            block = isinstance(value, yaml.ScalarNode) and value.style in ("|", ">")
            out[str(key.value)] = (value.start_mark.line + 1, block)
    return out


def load_policy(path: Path) -> Policy:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(path, "not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(path, f"YAML error: {problem}", mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise PolicyError(path, "a policy file must be a YAML mapping")
    lines = _field_lines(text)
    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        top = str(error.absolute_path[0]) if error.absolute_path else None
        raise PolicyError(path, f"{where or 'policy'}: {error.message}", lines.get(top, (None, False))[0] if top else None)
    for name in JQ_FIELDS:
        fragment = data.get(name)
        if fragment is None:
            continue
        line, block = lines.get(name, (None, False))
        try:
            check(fragment)
        except JqSafetyError as exc:
            raise PolicyError(path, f"{name}: {exc}", line) from None
        try:
            jq.compile(fragment_check_program(fragment))
        except ValueError as exc:
            raise PolicyError(path, f"{name}: jq: {_jq_message(exc)}", _jq_line(exc, line, block)) from None
    return Policy(
        id=data["id"], title=data["title"], description=data["description"].strip(), remediation=data["remediation"].strip(),
        severity=data["severity"], level=data["level"], controls={k: str(v) for k, v in data["controls"].items()},
        automated=data["automated"], tags=tuple(data.get("tags") or ()), references=tuple(data.get("references") or ()),
        audit=(data.get("audit") or "").strip() or None, requires=tuple(data.get("requires") or ()),
        applies=data.get("applies"), not_applicable_reason=data.get("not_applicable_reason"),
        resources=data.get("resources"), assert_=data.get("assert"), message=data.get("message"),
        evidence=tuple(data.get("evidence") or ()), tests=tuple(data.get("tests") or ()),
        path=str(path), sha256=hashlib.sha256(raw).hexdigest(), lines={k: v[0] for k, v in lines.items()},
    )


def _jq_message(exc: ValueError) -> str:
    text = str(exc).replace("jq: error: ", "").strip()
    first = text.splitlines()[0] if text else "compile error"
    return re.sub(r" at <top-level>, line \d+(, column \d+)?:?$", "", first)


def _jq_line(exc: ValueError, field_line: int | None, block: bool) -> int | None:
    match = re.search(r"line (\d+)", str(exc))
    if not match or field_line is None:
        return field_line
    program_line = int(match.group(1)) - prelude_line_count() - 1  # 1-based line inside the fragment
    if program_line < 1:
        return field_line
    return field_line + (program_line - 1) + (1 if block else 0)


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.yaml") if p.is_file() and not p.name.startswith("."))


def load_pack(directories: Iterable[Path]) -> list[Policy]:
    """Every policy under the directories, checked, sorted by id; a duplicate id is an error."""
    policies: dict[str, Policy] = {}
    for directory in directories:
        directory = Path(directory)
        if not directory.is_dir():
            raise PolicyError(directory, "not a directory of policies")
        for path in policy_files(directory):
            policy = load_policy(path)
            if policy.id in policies:
                raise PolicyError(path, f"duplicate policy id '{policy.id}' (also in {policies[policy.id].path})",
                                  policy.lines.get("id"))
            policies[policy.id] = policy
    return sorted(policies.values(), key=lambda p: _id_key(p.id))


def _id_key(policy_id: str) -> tuple:
    """Natural order: cis-docker-5.2 before cis-docker-5.10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.-]", policy_id))


def pack_digest(policies: Iterable[Policy]) -> str:
    """sha256 over every policy's id and file digest, and the prelude: what decided the results."""
    h = hashlib.sha256()
    h.update(hashlib.sha256(PRELUDE.encode()).digest())
    for policy in sorted(policies, key=lambda p: p.id):
        h.update(f"{policy.id}\0{policy.sha256}\n".encode())
    return h.hexdigest()


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
