"""Chain of custody, the part both halves share: signing what hullcheck writes, checking a
signature over bytes already read.

A snapshot `FILE` is signed into `FILE.sig` (an SSH signature, namespace `hullcheck-snapshot`)
on the host that collected it (the collector's side: `collect --sign`); results written with
`--sign` get `RESULTS.sig` (namespace `hullcheck-results`). What a signature means for a snapshot
(the host it names, the bytes evaluated) is the evaluator's business: `evaluator.trust`.
Everything is checkable with `ssh-keygen -Y verify` alone (see docs/fleets.md, "Chain of custody").

The signature is computed before anything is written; then the file and its signature are each
written atomically (hullcheck_common.atomic; a stale signature is removed first), so an
interrupted run leaves an unsigned file, which is refused, and never a file with a signature of
other bytes.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Callable

from . import sshsig, userfile
from .atomic import write_atomic

SNAPSHOT_NAMESPACE = "hullcheck-snapshot"
RESULTS_NAMESPACE = "hullcheck-results"
SUFFIX = ".sig"


class SignatureRefused(sshsig.SignatureError):
    """A snapshot (or results file) whose signature is missing, bad or not trusted: not evaluated."""


def signature_path(path: str | os.PathLike[str]) -> Path:
    return Path(str(path) + SUFFIX)


# ---- signing ----------------------------------------------------------------------------------

def _passphrase(key: Path) -> Callable[[], str | None]:
    """$HULLCHECK_KEY_PASSPHRASE, else a prompt on the terminal (never echoed, never logged), else None."""
    def ask() -> str | None:
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


def write_signed(path: Path, text: str, signer: sshsig.Signer, namespace: str) -> None:
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

    def refused(name: str, problem: str) -> SignatureRefused:
        if problem == "no such file":
            return SignatureRefused(f"{path}: refused: no signature ({sig} is missing)")
        return SignatureRefused(f"{path}: refused: {name}: {problem}")

    return userfile.read_bytes(sig, what="a signature file", max_bytes=sshsig.MAX_SIGNATURE_BYTES, error=refused)


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
                principal: str | None) -> sshsig.Trusted:
    """The allowed-signers line that trusts `key` for `principal` now, or a one-line refusal."""
    try:
        return trust.check(key, principal, namespace)
    except sshsig.OutsideValidity as exc:
        raise SignatureRefused(f"{path}: refused: key outside its validity: {exc}") from None
    except sshsig.NotTrusted as exc:
        raise SignatureRefused(f"{path}: refused: key not trusted: {exc}") from None
