"""Chain of custody, the evaluator's part: a snapshot is judged only when signed by a key trusted
for the host it names, and the results record who vouched for the bytes judged.

`evaluate FILE --trust ALLOWED_SIGNERS` accepts FILE only when `FILE.sig` is good over FILE's
exact bytes and the key is trusted, in the allowed-signers file, for the snapshot's
`meta.hostname`. The bytes that were verified are the bytes evaluated (never the file read a
second time). `render --trust` checks signed results the same way. Signing and the byte-level
checks live in `hullcheck_common.signed_files` (the collector signs too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hullcheck_common import sshsig
from hullcheck_common.signed_files import (
    RESULTS_NAMESPACE,
    SNAPSHOT_NAMESPACE,
    SignatureRefused,
    check_bytes,
    check_trust,
)

from .snapshot import DEFAULT_MAX_BYTES, parse, read_bytes
from .worker_pool import Source

__all__ = ["SignatureRefused", "Verified", "attach", "snapshot_source", "verify_results", "verify_snapshot"]


@dataclass(frozen=True)
class Verified:
    """A snapshot whose signature was checked: the exact bytes, and who vouched for them."""

    path: str
    data: bytes
    sha256: str
    trusted: sshsig.Trusted

    def record(self) -> dict[str, Any]:
        """What the results document says about the signature (results.schema.json: snapshot.signature)."""
        trusted = self.trusted
        return {"fingerprint": trusted.key.fingerprint, "key_type": trusted.key.key_type,
                "principal": trusted.principal, "namespace": trusted.namespace, "verified": True}


def verify_snapshot(path: Path, trust: sshsig.AllowedSigners, max_bytes: int = DEFAULT_MAX_BYTES) -> Verified:
    """Read a snapshot once and accept it only signed by a key trusted for the host it names."""
    data = read_bytes(path, max_bytes)
    key = check_bytes(path, data, SNAPSHOT_NAMESPACE, "snapshot")
    snapshot = parse(data, str(path))
    meta = snapshot.get("meta")
    host = meta.get("hostname") if isinstance(meta, dict) else None
    if not isinstance(host, str) or not host:
        raise SignatureRefused(f"{path}: refused: the snapshot names no host (meta.hostname), so no key can be "
                               "trusted for it")
    trusted = check_trust(path, key, trust, SNAPSHOT_NAMESPACE, host)
    return Verified(path=str(path), data=data, sha256=hashlib.sha256(data).hexdigest(), trusted=trusted)


def verify_results(path: Path, trust: sshsig.AllowedSigners, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, str]:
    """Signed results (`evaluate -o F --sign KEY`): the verified bytes, and a line saying who signed them.

    Results are vouched for by whoever evaluated them, so any principal of the allowed-signers file
    may have signed, as long as its line allows the hullcheck-results namespace: give host keys
    `namespaces="hullcheck-snapshot"` so that a host cannot sign results.
    """
    data = read_bytes(path, max_bytes)
    trusted = check_trust(path, check_bytes(path, data, RESULTS_NAMESPACE, "results file"), trust, RESULTS_NAMESPACE, None)
    return data, (f"hullcheck: {path}: good signature by {trusted.principal} with {trusted.key.label} key "
                  f"{trusted.key.fingerprint} ({trust.name}:{trusted.entry.line})")


def snapshot_source(path: Path, trust: sshsig.AllowedSigners | None, max_bytes: int) -> tuple[Source, Verified | None]:
    """What `evaluate` hands the evaluator: the verified bytes with --trust, else the file itself."""
    if trust is None:
        return Source(name=str(path), path=str(path)), None
    verified = verify_snapshot(path, trust, max_bytes)
    return Source(name=str(path), data=verified.data), verified


def attach(document: dict[str, Any], verified: Verified) -> dict[str, Any]:
    """Record in the results who signed the snapshot they judge; the sha256 is the verified bytes'."""
    snapshot = document.setdefault("snapshot", {})
    if snapshot.get("sha256") not in (None, verified.sha256):
        raise SignatureRefused(f"{verified.path}: evaluated bytes differ from the verified ones")
    snapshot["signature"] = verified.record()
    return document
