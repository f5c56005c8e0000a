"""Chain of custody: signing what hullcheck writes and verifying what it is handed.

A snapshot `FILE` is signed into `FILE.sig` (an SSH signature, namespace `hullcheck-snapshot`)
on the host that collected it; in the site, `evaluate FILE --trust ALLOWED_SIGNERS` accepts it
only when that signature is good over FILE's exact bytes and the key is trusted, in the
allowed-signers file, for the host the snapshot names (`meta.hostname`). The bytes that were
verified are the bytes evaluated (never the file read a second time). Results written with
`--sign` get `RESULTS.sig` (namespace `hullcheck-results`), checked by `render --trust`.
Everything is checkable with `ssh-keygen -Y verify` alone (see the README, chain of custody).

The signature is computed before anything is written; then the file and its signature are each
written atomically (a stale signature is removed first), so an interrupted run leaves an
unsigned file, which is refused, and never a file with a signature of other bytes.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from hullcheck_common import sshsig  # the evaluator is imported only when a file is verified: collect stays light

SNAPSHOT_NAMESPACE = "hullcheck-snapshot"
RESULTS_NAMESPACE = "hullcheck-results"
SUFFIX = ".sig"


class SignatureRefused(sshsig.SignatureError):
    """A snapshot (or results file) whose signature is missing, bad or not trusted: not evaluated."""


@dataclass(frozen=True)
class Verified:
    """A snapshot whose signature was checked: the exact bytes, and who vouched for them."""

    path: str
    data: bytes
    sha256: str
    trusted: sshsig.Trusted

    def record(self) -> dict[str, Any]:
        """What the results document says about the signature (results.schema.json: snapshot.signature)."""
        return signature_record(self.trusted, verified=True)


def signature_record(trusted: sshsig.Trusted, verified: bool) -> dict[str, Any]:
    return {"fingerprint": trusted.key.fingerprint, "key_type": trusted.key.key_type,
            "principal": trusted.principal, "namespace": trusted.namespace, "verified": verified}


def signature_path(path: str | os.PathLike[str]) -> Path:
    return Path(str(path) + SUFFIX)


# ---- signing ----------------------------------------------------------------------------------

def _passphrase(key: Path) -> Callable[[], Optional[str]]:
    """$HULLCHECK_KEY_PASSPHRASE, else a prompt on the terminal (never echoed, never logged), else None."""
    def ask() -> Optional[str]:
        if sshsig.PASSPHRASE_ENV in os.environ:
            return os.environ[sshsig.PASSPHRASE_ENV]
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return None
        os.close(fd)
        try:
            return getpass.getpass(f"Enter passphrase for {key}: ")
        except (EOFError, OSError):
            return None
    return ask


def load_signer(key: Path) -> sshsig.Signer:
    """The signer for `--sign KEY`: ssh-agent when it holds the key, else the key file (see sshsig.load_signer)."""
    return sshsig.load_signer(key, passphrase=_passphrase(key), agent_socket=os.environ.get("SSH_AUTH_SOCK") or None)


def write_signed(path: Path, text: str, signer: sshsig.Signer, namespace: str,
                 write_atomic: Callable[[Path, str], None]) -> None:
    """Sign `text`, then write it and `path.sig`, each atomically; the signature is made first, so a
    key or agent that fails leaves nothing written."""
    armored = sshsig.sign(text.encode("utf-8"), signer, namespace)
    sig = signature_path(path)
    try:
        sig.unlink()  # never a moment where the new file sits beside the old file's signature
    except FileNotFoundError:
        pass
    write_atomic(path, text)
    write_atomic(sig, armored)


# ---- verifying --------------------------------------------------------------------------------

def load_trust(path: Path) -> sshsig.AllowedSigners:
    """An allowed-signers file, read and checked once, before any work."""
    return sshsig.AllowedSigners.load(path)


def _read_signature(path: Path) -> bytes:
    sig = signature_path(path)
    try:
        fd = os.open(sig, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise SignatureRefused(f"{path}: refused: no signature ({sig} is missing)") from None
    except OSError as exc:
        raise SignatureRefused(f"{path}: refused: cannot read {sig}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not os.path.isfile(sig):
            raise SignatureRefused(f"{path}: refused: {sig} is not a regular file")
        return fh.read(sshsig.MAX_SIGNATURE_BYTES + 1)


def check_bytes(path: Path, data: bytes, namespace: str, what: str) -> sshsig.PublicKey:
    """The key whose signature `path.sig` is good over `data` in `namespace`; one line saying which check failed.

    Checked before the bytes are even parsed: a tampered file says "changed since signing", never
    a JSON error."""
    armored = _read_signature(path)
    sig = signature_path(path)
    try:
        return sshsig.verify(data, armored, namespace)
    except sshsig.WrongNamespace as exc:
        raise SignatureRefused(f"{path}: refused: wrong namespace: {exc} (is {sig} the signature of a {what}?)") from None
    except sshsig.BadSignature as exc:
        raise SignatureRefused(f"{path}: refused: changed since signing: {exc} (or {sig} belongs to another file)") from None
    except sshsig.SignatureError as exc:
        raise SignatureRefused(f"{path}: refused: malformed signature {sig}: {exc}") from None


def check_trust(path: Path, key: sshsig.PublicKey, trust: sshsig.AllowedSigners, namespace: str,
                principal: Optional[str]) -> sshsig.Trusted:
    """The allowed-signers line that trusts `key` for `principal` now, or a one-line refusal."""
    try:
        return trust.check(key, principal, namespace)
    except sshsig.OutsideValidity as exc:
        raise SignatureRefused(f"{path}: refused: key outside its validity: {exc}") from None
    except sshsig.NotTrusted as exc:
        raise SignatureRefused(f"{path}: refused: key not trusted: {exc}") from None


def verify_snapshot(path: Path, trust: sshsig.AllowedSigners, max_bytes: int) -> Verified:
    """Read a snapshot once and accept it only signed by a key trusted for the host it names."""
    from evaluator.snapshot import parse, read_bytes

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


def verify_results(path: Path, trust: sshsig.AllowedSigners, max_bytes: int = 256 * 1024 * 1024) -> tuple[bytes, str]:
    """Signed results (`evaluate -o F --sign KEY`): the verified bytes, and a line saying who signed them.

    Results are vouched for by whoever evaluated them, so any principal of the allowed-signers file
    may have signed, as long as its line allows the hullcheck-results namespace: give host keys
    `namespaces="hullcheck-snapshot"` so that a host cannot sign results.
    """
    from evaluator.snapshot import read_bytes

    data = read_bytes(path, max_bytes)
    trusted = check_trust(path, check_bytes(path, data, RESULTS_NAMESPACE, "results file"), trust, RESULTS_NAMESPACE, None)
    return data, (f"hullcheck: {path}: good signature by {trusted.principal} with {trusted.key.label} key "
                  f"{trusted.key.fingerprint} ({trust.name}:{trusted.entry.line})")


def snapshot_source(path: Path, trust: Optional[sshsig.AllowedSigners], max_bytes: int) -> tuple[Any, Optional[Verified]]:
    """What `evaluate` hands the evaluator: the verified bytes with --trust, else the file itself."""
    from evaluator import Source

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

