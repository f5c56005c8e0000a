"""What every report format agrees on: severity scores, stable names, finding lists (the words
themselves, severities and statuses, live in hullcheck_common.vocabulary).

One place, so SARIF, JUnit, Markdown and HTML never disagree about which finding is which.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

from hullcheck_common.vocabulary import STATUS_LABELS, STATUS_ORDER, resource_key, severity_rank

from ..scope import line as not_judged_line
from ..scope import not_judged_count

__all__ = ["STATUS_LABELS", "STATUS_ORDER", "SECURITY_SEVERITY", "advisory_data_text", "case_name", "fingerprint",
           "host_of", "iter_findings", "not_judged_count", "not_judged_line", "resource_key", "severity_rank",
           "waiver_text"]

# GitHub code scanning reads `security-severity` as a CVSS-like score: >= 9.0 critical,
# 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. info carries no security weight.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def case_name(policy_id: str, ref: dict[str, Any] | None) -> str:
    """The stable name of one policy judged on one resource: `cis-docker-5.10[container:web]`."""
    return f"{policy_id}[{resource_key(ref)}]" if ref else policy_id


def fingerprint(policy_id: str, ref: dict[str, Any] | None) -> str:
    """sha256 of policy id and resource key: the same finding on a redeployed container matches."""
    return hashlib.sha256(f"{policy_id}\0{resource_key(ref or {})}".encode()).hexdigest()


def host_of(document: dict[str, Any]) -> str:
    return str((document.get("snapshot") or {}).get("host") or "unknown-host")


def engine_of(document: dict[str, Any]) -> str:
    """'podman 4.3.1 (rootless)': the engine the judged snapshot came from, named in every report."""
    from ..snapshot import engine_text

    return engine_text((document.get("snapshot") or {}).get("engine"))


def signed_by(document: dict[str, Any]) -> str | None:
    """'web01 (ED25519 key SHA256:...)' when the snapshot's signature was verified (evaluate --trust), else None."""
    sig = (document.get("snapshot") or {}).get("signature")
    if not isinstance(sig, dict) or not sig.get("fingerprint"):
        return None
    kind = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA"}.get(str(sig.get("key_type")), "ECDSA")
    return f"{sig.get('principal')} ({kind} key {sig['fingerprint']})"


def advisory_data_text(document: dict[str, Any]) -> str | None:
    """'advisory data dated 2026-08-21 (bundled; 100 days before the snapshot: over the 30-day limit)',
    named by every report whose results used it (CIS 1.2.2), else None."""
    block = document.get("advisories")
    if not isinstance(block, dict):
        return None
    age = block.get("age_days")
    when = f"{age} days before the snapshot" if isinstance(age, int) and age >= 0 else "newer than the snapshot"
    limit = f": over the {block.get('max_age_days')}-day limit, refresh it" if block.get("stale") else ""
    extra = f"; distribution data: {', '.join(block['distribution_files'])}" if block.get("distribution_files") else ""
    return f"advisory data dated {block.get('date')} ({block.get('origin')}; {when}{limit}{extra})"


def iter_findings(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(policy result, finding) for every finding, in document order."""
    for result in document.get("results", []):
        for finding in result.get("findings", []):
            yield result, finding


def waiver_text(waiver: dict[str, Any] | None) -> str:
    """One line about a waiver: reason, owner, expiry."""
    if not waiver:
        return ""
    parts = [str(waiver.get("reason") or "")]
    if waiver.get("owner"):
        parts.append(f"owner {waiver['owner']}")
    if waiver.get("ticket"):
        parts.append(f"ticket {waiver['ticket']}")
    parts.append(f"expires {waiver.get('expires')}")
    return f"waiver {waiver.get('id')}: " + "; ".join(parts)


def location_text(finding: dict[str, Any]) -> str:
    """`compose.yaml:14, common/base.yaml:6` for a finding planned from Compose files; else ''."""
    return ", ".join(f"{loc.get('file')}:{loc.get('line')}" for loc in finding.get("locations") or [])
