"""Waivers: accepted risks that expire, carry a reason, and say when they no longer match anything.

A waiver turns matching *failing* findings into `waived` (never `pass`, and never an `error`:
a finding hullcheck could not judge is not a risk anyone has accepted). Waivers are applied to
the results document after evaluation, so `evaluate`, `audit` and `render` share one path and
the evaluation itself stays pure.

Expiry is judged against an explicit date (`--as-of`, default today in UTC): the last day a
waiver applies is its `expires` date. From the next day the finding is back as `fail`, its
message says which waiver expired and when, and the waiver is listed under `waivers.expired`.
An active waiver that matched no failing finding is listed under `waivers.stale`, so waivers
for fixed problems get deleted instead of silently hiding the next regression.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError

from .jqsafety import JqSafetyError, check

if TYPE_CHECKING:
    import jsonschema

SOON_DAYS = 14
MAX_BYTES = 4 * userfile.MiB  # a waivers file is written by hand: the YAML reader's limit


class WaiverError(HullcheckError):
    """A waivers file that cannot be used: where, and why (exit code 2 at the CLI)."""


@dataclass(frozen=True)
class Issue:
    """One finding of `waivers lint`: level is error (file unusable), problem or note."""

    level: str
    line: int | None
    waiver: str | None
    message: str

    def describe(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        who = f"waiver {self.waiver}: " if self.waiver else ""
        return f"{where}: {self.level}: {who}{self.message}"


@dataclass(frozen=True)
class Waiver:
    index: int
    policy: str
    reason: str
    expires: dt.date
    resources: tuple[str, ...] = ()
    where: str | None = None
    owner: str | None = None
    ticket: str | None = None
    name: str | None = None
    line: int | None = None
    _program: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        """How reports name the waiver: its id, or its position in the file."""
        return self.name or f"#{self.index + 1}"

    def active(self, as_of: dt.date) -> bool:
        return as_of <= self.expires

    def describe(self) -> dict[str, Any]:
        """The waiver as results carry it."""
        out: dict[str, Any] = {"id": self.label, "policy": self.policy}
        if self.resources:
            out["resources"] = list(self.resources)
        if self.where:
            out["where"] = self.where
        out["reason"] = self.reason
        if self.owner:
            out["owner"] = self.owner
        if self.ticket:
            out["ticket"] = self.ticket
        out["expires"] = self.expires.isoformat()
        return out

    def matches(self, policy_id: str, finding: dict[str, Any]) -> bool:
        """Does the waiver cover this failing finding of this policy?"""
        if not fnmatch.fnmatchcase(policy_id, self.policy):
            return False
        ref = finding.get("resource") or {}
        if self.resources:
            names = [str(ref.get("name") or ""), str(ref.get("key") or "")]
            if not any(fnmatch.fnmatchcase(n, pat) for pat in self.resources for n in names):
                return False
        if self._program is not None:
            try:
                return self._program.input_value(finding).first() == [True]
            except ValueError:
                return False  # a jq error never waives anything: fail closed
        return True


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # here, not at import: most commands that load this module read no waivers file

    from hullcheck_common.resources import policies_dir

    schema = json.loads((policies_dir() / "waiver.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def check_file(path: Path | str) -> tuple[list[Waiver], list[Issue]]:
    """Read and check a waivers file: every usable waiver, and every error that makes it unusable."""
    path = Path(path)
    try:
        text = userfile.read_text(path, what="a waivers file", max_bytes=MAX_BYTES)
    except userfile.UserFileError as exc:
        return [], [Issue("error", None, None, exc.problem)]
    from hullcheck_common import yamlread

    try:  # plain YAML, dates kept as text (the schema and the code judge them, with a clear message)
        document = yamlread.load(text, str(path), anchors=False)
    except yamlread.YamlError as exc:
        return [], [Issue("error", exc.pos.line if exc.pos else None, None, exc.detail)]
    if document is None:
        return [], [Issue("error", None, None, "empty file: expected a mapping with a 'waivers' list")]
    items = document.get("waivers") if isinstance(document, dict) else None
    lines = [pos.line if pos else None for pos in items.itempos] if isinstance(items, yamlread.LList) else []
    data = yamlread.plain(document)
    issues: list[Issue] = []
    bad_items: set[int] = set()
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = list(error.absolute_path)
        index = where[1] if len(where) > 1 and where[0] == "waivers" and isinstance(where[1], int) else None
        line = lines[index] if index is not None and index < len(lines) else None
        pointer = "/".join(map(str, where)) or "file"
        if index is not None:
            bad_items.add(index)
        issues.append(Issue("error", line, None, f"{pointer}: {error.message}"))
    if not isinstance(data, dict) or not isinstance(data.get("waivers"), list):
        return [], issues or [Issue("error", None, None, "expected a mapping with a 'waivers' list")]
    waivers: list[Waiver] = []
    for index, item in enumerate(data["waivers"]):
        if index in bad_items or not isinstance(item, dict):
            continue
        line = lines[index] if index < len(lines) else None
        label = item.get("id") or f"#{index + 1}"
        try:
            expires = dt.date.fromisoformat(item["expires"])
        except ValueError:
            issues.append(Issue("error", line, label, f"expires: '{item['expires']}' is not a calendar date"))
            continue
        program = None
        if item.get("where"):
            try:
                check(item["where"])
                import jq

                # At most two outputs are taken: a generator that never ends cannot hang the run.
                program = jq.compile(f"[limit(2; ({item['where']}\n))]")
            except JqSafetyError as exc:
                issues.append(Issue("error", line, label, f"where: {exc}"))
                continue
            except ValueError as exc:
                message = str(exc).replace("jq: error: ", "").strip().splitlines()
                issues.append(Issue("error", line, label, f"where: jq: {message[0] if message else 'compile error'}"))
                continue
        waivers.append(Waiver(index=index, policy=item["policy"], reason=item["reason"].strip(), expires=expires,
                              resources=tuple(item.get("resources") or ()), where=item.get("where"),
                              owner=item.get("owner"), ticket=item.get("ticket"), name=item.get("id"),
                              line=line, _program=program))
    names = [w.name for w in waivers if w.name]
    for name in sorted({n for n in names if names.count(n) > 1}):
        issues.append(Issue("error", None, name, "the same id is used by more than one waiver"))
    return waivers, issues


def load_waivers(path: Path | str) -> list[Waiver]:
    """The waivers of a file, or WaiverError naming every reason it cannot be used."""
    waivers, issues = check_file(path)
    errors = [i for i in issues if i.level == "error"]
    if errors:
        first = errors[0].describe(str(path))
        more = f" (and {len(errors) - 1} more: run `hullcheck waivers lint {path}`)" if len(errors) > 1 else ""
        raise WaiverError(first + more)
    return waivers


def parse_as_of(text: str | None) -> dt.date:
    """`--as-of` (YYYY-MM-DD, or a full ISO timestamp whose UTC date is used); default: today in UTC."""
    if text is None:
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WaiverError(f"--as-of '{text}' is not a date (YYYY-MM-DD)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def lint(waivers: Iterable[Waiver], as_of: dt.date, policy_ids: Iterable[str] | None = None,
         max_days: int | None = None) -> list[Issue]:
    """Problems (expired, unknown policy, too far ahead) and notes (expiring soon) of usable waivers."""
    ids = list(policy_ids) if policy_ids is not None else None
    issues = []
    for w in waivers:
        if not w.active(as_of):
            issues.append(Issue("problem", w.line, w.label, f"expired on {w.expires.isoformat()} (as of {as_of.isoformat()}); "
                                                           "the findings it covered are failing again"))
        elif max_days is not None and (w.expires - as_of).days > max_days:
            issues.append(Issue("problem", w.line, w.label, f"expires {w.expires.isoformat()}, more than {max_days} days "
                                                           f"after {as_of.isoformat()}"))
        elif (w.expires - as_of).days < SOON_DAYS:
            issues.append(Issue("note", w.line, w.label, f"expires soon: {w.expires.isoformat()}"))
        if ids is not None and not any(fnmatch.fnmatchcase(i, w.policy) for i in ids):
            issues.append(Issue("problem", w.line, w.label, f"policy '{w.policy}' matches no known policy id"))
    return issues


def _result_status(result: dict[str, Any]) -> str:
    statuses = {f["status"] for f in result.get("findings", [])}
    if "fail" in statuses:
        return "fail"
    if "error" in statuses:
        return "error"
    if "waived" in statuses:
        return "waived"
    return "pass"


def _only_not_judged(waiver: Waiver, judged_ids: list[str], not_judged: list[str]) -> bool:
    """The waiver names only policies the snapshot could not judge (their ids or a glob of them)."""
    return (any(fnmatch.fnmatchcase(i, waiver.policy) for i in not_judged)
            and not any(fnmatch.fnmatchcase(i, waiver.policy) for i in judged_ids))


def apply_waivers(document: dict[str, Any], waivers: list[Waiver], as_of: dt.date,
                  source: str | None = None) -> dict[str, Any]:
    """Mark failing findings covered by an active waiver as `waived`; record applied, expired, stale.

    Changes the document in place (and returns it): finding status and `waiver` /
    `expired_waiver`, each policy's status, the summary, and a top-level `waivers` block.
    """
    from .results import summarize
    from .scope import not_judged_count, not_judged_ids

    if "waivers" in document:
        raise WaiverError("these results already have waivers applied; render them as they are, or re-evaluate")
    matched: dict[int, list[str]] = {w.index: [] for w in waivers}
    waived_findings = 0
    for result in document.get("results", []):
        changed = False
        for finding in result.get("findings", []):
            if finding.get("status") != "fail":
                continue
            key = f"{result['id']}[{(finding.get('resource') or {}).get('key')}]"
            for w in waivers:
                if not w.matches(result["id"], finding):
                    continue
                matched[w.index].append(key)
                if w.active(as_of):
                    finding["status"] = "waived"
                    finding["waiver"] = w.describe()
                    finding.pop("expired_waiver", None)
                    waived_findings += 1
                    changed = True
                    break
                if "expired_waiver" not in finding:
                    finding["expired_waiver"] = w.describe()
                    finding["message"] = (f"{finding.get('message', '')} [waiver {w.label} expired on "
                                          f"{w.expires.isoformat()}: {w.reason}]")
        if changed:
            result["status"] = _result_status(result)
            if result["status"] == "waived":
                count = sum(f["status"] == "waived" for f in result["findings"])
                result["reason"] = f"{count} failing resource(s) waived"
        back = [f["expired_waiver"] for f in result.get("findings", []) if f.get("status") == "fail" and f.get("expired_waiver")]
        if back and result.get("status") == "fail" and not result.get("reason"):
            result["reason"] = (f"{len(back)} failing resource(s) back after waiver(s) expired: "
                                + ", ".join(sorted({f"{w['id']} on {w['expires']}" for w in back})))
    applied, expired, stale = [], [], []
    judged_ids = [r["id"] for r in document.get("results", [])]
    out_of_scope = sorted(not_judged_ids(document))
    for w in waivers:
        entry = {**w.describe(), "matched": matched[w.index]}
        if not w.active(as_of):
            expired.append(entry)
        elif matched[w.index]:
            applied.append(entry)
        elif _only_not_judged(w, judged_ids, out_of_scope):
            continue  # its policy was not judged from this source (a plan): neither applied nor stale
        else:
            stale.append(entry)
    document["summary"] = summarize(document.get("results", []), not_judged_count(document))
    document["waivers"] = {
        "file": source, "as_of": as_of.isoformat(), "waived_findings": waived_findings,
        "applied": applied, "expired": expired, "stale": stale,
    }
    return document
