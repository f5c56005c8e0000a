"""SSH signatures (OpenSSH PROTOCOL.sshsig) and allowed-signers files, as `ssh-keygen -Y` makes and checks them.

Why this format: operators already hold SSH keys and git signs commits with them, so an auditor
can check hullcheck's evidence with `ssh-keygen -Y verify` and nothing else. Everything here is
byte-compatible with OpenSSH 8.x/9.x:

- armored signatures (`-----BEGIN SSH SIGNATURE-----`, base64 in 70-column lines) over the
  SHA-512 of the message, with a namespace that stops a signature made for one purpose (a
  snapshot) from being accepted for another (results);
- ed25519, ECDSA nistp256/384/521 and RSA (rsa-sha2-512/256) keys; sign and verify;
- private keys from OpenSSH or PEM key files (a passphrase from the caller, never stored), or
  held by ssh-agent (the agent protocol's sign request, spoken over SSH_AUTH_SOCK: no private
  key ever enters this process);
- the allowed-signers format of ssh-keygen(1): principal pattern-lists with `*`, `?` and `!`
  negation, `namespaces="..."`, `valid-after`/`valid-before`; `cert-authority` lines are read
  but certificates are not supported, which the refusal says;
- SHA256 fingerprints as `ssh-keygen -l` prints them.

The cryptography itself is the `cryptography` package's; this module only frames bytes.
Every failure is a SignatureError subclass whose message is one line saying what is wrong.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import hashlib
import os
import re
import socket
import struct
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from .errors import HullcheckError
from .userfile import UserFileError, read_bytes, read_text

MAGIC = b"SSHSIG"
VERSION = 1
ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
ARMOR_END = "-----END SSH SIGNATURE-----"
ARMOR_WIDTH = 70  # what ssh-keygen writes
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
DEFAULT_HASH = "sha512"
MAX_SIGNATURE_BYTES = 64 * 1024  # an RSA-16384 signature with its key is under 5 KB
MAX_KEY_FILE_BYTES = 1024 * 1024  # an SSH private key (RSA-16384 included) is a few KB
MAX_ALLOWED_SIGNERS_BYTES = 16 * 1024 * 1024  # a line per host key: a large fleet is a few MB

_ECDSA = {"ecdsa-sha2-nistp256": "nistp256", "ecdsa-sha2-nistp384": "nistp384", "ecdsa-sha2-nistp521": "nistp521"}
KEY_TYPES = ("ssh-ed25519", *_ECDSA, "ssh-rsa")
_LABEL = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", **{k: "ECDSA" for k in _ECDSA}}


# ---- errors ------------------------------------------------------------------------------------

class SignatureError(HullcheckError):
    """Anything wrong with a signature, a key or an allowed-signers file; the message is one line (exit 2)."""


class MalformedSignature(SignatureError):
    """Not an armored SSH signature, or one this module cannot read."""


class WrongNamespace(SignatureError):
    """A good signature made for another purpose (e.g. results presented as a snapshot's)."""


class BadSignature(SignatureError):
    """The signature does not match the bytes: they changed after signing, or it belongs to another file."""


class NotTrusted(SignatureError):
    """The signing key is not trusted for the principal (unknown key, other principal, namespace, validity)."""


class OutsideValidity(NotTrusted):
    """The key is trusted for the principal, but not now (valid-after / valid-before)."""


class AllowedSignersError(SignatureError):
    """The allowed-signers file cannot be used."""


class SigningError(SignatureError):
    """A key that cannot sign: unreadable, wrong passphrase, unsupported type, agent problems."""


# ---- SSH wire encoding -------------------------------------------------------------------------

def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    if value == 0:
        return _string(b"")
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _string(b"\0" + raw if raw[0] & 0x80 else raw)  # a leading zero keeps it positive


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedSignature(f"{self.what} ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedSignature(f"{self.what} holds a name that is not UTF-8") from None

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def done(self) -> bool:
        return self.pos == len(self.data)


# ---- public keys -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicKey:
    """An SSH public key: its wire blob (what fingerprints hash) and the `cryptography` key."""

    key_type: str
    blob: bytes
    key: Any

    @property
    def fingerprint(self) -> str:
        """`SHA256:...` exactly as `ssh-keygen -l` prints it."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    @property
    def label(self) -> str:
        """ED25519, ECDSA or RSA, as ssh-keygen names key kinds in its messages."""
        return _LABEL.get(self.key_type, self.key_type)

    def openssh(self) -> str:
        """The `type base64` form of authorized_keys and allowed-signers lines."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode()}"

    def same_key(self, other: PublicKey) -> bool:
        return self.key_type == other.key_type and self.blob == other.blob


def parse_public_blob(blob: bytes, what: str = "public key") -> PublicKey:
    """A public key from its SSH wire blob; certificates and security-key types are refused by name."""
    from cryptography.hazmat.primitives import serialization

    reader = _Reader(blob, what)
    key_type = reader.text()
    if key_type.endswith("-cert-v01@openssh.com"):
        raise SigningError(f"{what} is an OpenSSH certificate ({key_type}): hullcheck trusts keys listed in "
                           "allowed-signers, not certificate authorities; list the key itself")
    if key_type not in KEY_TYPES:
        raise SigningError(f"{what} is of type {key_type!r}: hullcheck supports "
                           "ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa keys")
    try:
        key = serialization.load_ssh_public_key(f"{key_type} {base64.b64encode(blob).decode()}".encode())
    except (ValueError, TypeError) as exc:
        raise MalformedSignature(f"{what}: not a valid {key_type} key ({exc})") from None
    canonical = _blob_of(key)
    if canonical != blob:
        raise MalformedSignature(f"{what}: not a canonical {key_type} key encoding")
    return PublicKey(key_type, blob, key)


def parse_public_line(text: str, what: str = "public key") -> PublicKey:
    """A public key from `type base64 [comment]` (a .pub file or an allowed-signers key)."""
    fields = text.split()
    if len(fields) < 2:
        raise SigningError(f"{what}: not an SSH public key (expected 'TYPE BASE64 [comment]')")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError:
        raise SigningError(f"{what}: the key is not valid base64") from None
    key = parse_public_blob(blob, what)
    if key.key_type != fields[0]:
        raise SigningError(f"{what}: says {fields[0]} but holds a {key.key_type} key")
    return key


def _blob_of(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    line = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def _key_type_of(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    line = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return line.split()[0].decode()


def public_key_of(private_key: Any) -> PublicKey:
    pub = private_key.public_key()
    return PublicKey(_key_type_of(pub), _blob_of(pub), pub)


# ---- the signature algorithms ------------------------------------------------------------------

def _ecdsa_hash(key_type: str) -> Any:
    from cryptography.hazmat.primitives import hashes

    return {"nistp256": hashes.SHA256(), "nistp384": hashes.SHA384(), "nistp521": hashes.SHA512()}[_ECDSA[key_type]]


def _sign_with(private_key: Any, key_type: str, data: bytes) -> bytes:
    """The SSH signature blob (string algorithm, string signature) of `data` by a private key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if key_type == "ssh-ed25519":
        return _string(b"ssh-ed25519") + _string(private_key.sign(data))
    if key_type in _ECDSA:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(_ecdsa_hash(key_type))))
        return _string(key_type.encode()) + _string(_mpint(r) + _mpint(s))
    if key_type == "ssh-rsa":  # never SHA-1 "ssh-rsa" signatures: PROTOCOL.sshsig forbids them
        return _string(b"rsa-sha2-512") + _string(private_key.sign(data, padding.PKCS1v15(), hashes.SHA512()))
    raise SigningError(f"cannot sign with a {key_type} key")


def _verify_with(key: PublicKey, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    reader = _Reader(signature, "signature")
    algorithm = reader.text()
    raw = reader.string()
    if not reader.done():
        raise MalformedSignature("signature has trailing bytes")
    try:
        if key.key_type == "ssh-ed25519":
            if algorithm != "ssh-ed25519":
                raise MalformedSignature(f"an ed25519 key with a {algorithm!r} signature")
            key.key.verify(raw, data)
        elif key.key_type in _ECDSA:
            if algorithm != key.key_type:
                raise MalformedSignature(f"a {key.key_type} key with a {algorithm!r} signature")
            parts = _Reader(raw, "ECDSA signature")
            r, s = parts.mpint(), parts.mpint()
            if not parts.done() or r <= 0 or s <= 0:
                raise MalformedSignature("ECDSA signature is not two positive integers")
            key.key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_ecdsa_hash(key.key_type)))
        elif key.key_type == "ssh-rsa":
            digest = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256()}.get(algorithm)
            if digest is None:
                raise MalformedSignature(f"RSA signature algorithm {algorithm!r} is not allowed "
                                         "(rsa-sha2-512 or rsa-sha2-256 only)")
            key.key.verify(raw, data, padding.PKCS1v15(), digest)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _signed_data(namespace: str, hash_algorithm: str, message: bytes) -> bytes:
    """What the key actually signs (PROTOCOL.sshsig section 3): never the message itself."""
    digest = HASHES[hash_algorithm](message).digest()
    return MAGIC + _string(namespace.encode()) + _string(b"") + _string(hash_algorithm.encode()) + _string(digest)


# ---- signers -----------------------------------------------------------------------------------

class Signer(Protocol):
    """Something that signs with one key: a key loaded into memory, or ssh-agent."""

    public_key: PublicKey

    def sign_data(self, data: bytes) -> bytes:
        """The SSH signature blob of `data`."""


class KeySigner:
    """A private key held in this process's memory only (never written anywhere)."""

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        supported = isinstance(private_key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)) or (
            isinstance(private_key, ec.EllipticCurvePrivateKey)
            and private_key.curve.name in ("secp256r1", "secp384r1", "secp521r1"))
        if not supported:  # DSA, Ed448, other curves
            raise SigningError(f"cannot sign with this {type(private_key).__name__.replace('PrivateKey', '')} key: "
                               "hullcheck signs with ed25519, ECDSA (nistp256/384/521) and RSA keys")
        self._private_key = private_key
        self.public_key = public_key_of(private_key)

    def sign_data(self, data: bytes) -> bytes:
        return _sign_with(self._private_key, self.public_key.key_type, data)

    def __repr__(self) -> str:  # never the key material
        return f"KeySigner({self.public_key.label} {self.public_key.fingerprint})"


AGENT_FAILURE, REQUEST_IDENTITIES, IDENTITIES_ANSWER, SIGN_REQUEST, SIGN_RESPONSE = 5, 11, 12, 13, 14
AGENT_RSA_SHA2_512 = 4
AGENT_TIMEOUT = 120.0  # the agent may ask its user to confirm (ssh-add -c)
MAX_AGENT_REPLY = 256 * 1024


class AgentSigner:
    """Signs through ssh-agent's sign request: the private key stays inside the agent."""

    def __init__(self, socket_path: str, public_key: PublicKey) -> None:
        self.socket_path = socket_path
        self.public_key = public_key

    def sign_data(self, data: bytes) -> bytes:
        flags = AGENT_RSA_SHA2_512 if self.public_key.key_type == "ssh-rsa" else 0
        kind, reply = agent_request(self.socket_path, bytes([SIGN_REQUEST]) + _string(self.public_key.blob)
                                    + _string(data) + struct.pack(">I", flags))
        if kind != SIGN_RESPONSE:
            raise SigningError(f"ssh-agent refused to sign with {self.public_key.fingerprint} "
                               "(key removed, or confirmation denied)")
        blob = _Reader(reply, "ssh-agent reply").string()
        return blob

    def __repr__(self) -> str:
        return f"AgentSigner({self.public_key.label} {self.public_key.fingerprint} via {self.socket_path})"


def agent_request(socket_path: str, message: bytes) -> tuple[int, bytes]:
    """One request to ssh-agent over its Unix socket: (reply type, reply body)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(AGENT_TIMEOUT)
            sock.connect(socket_path)
            sock.sendall(_string(message))
            header = _recv_exactly(sock, 4)
            length = int(struct.unpack(">I", header)[0])
            if not 1 <= length <= MAX_AGENT_REPLY:
                raise SigningError(f"ssh-agent at {socket_path} sent a reply of {length} bytes")
            body = _recv_exactly(sock, length)
    except TimeoutError:
        raise SigningError(f"ssh-agent at {socket_path} did not answer in {AGENT_TIMEOUT:.0f}s") from None
    except OSError as exc:
        raise SigningError(f"cannot reach ssh-agent at {socket_path} (SSH_AUTH_SOCK): {exc.strerror or exc}") from None
    return body[0], body[1:]


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise SigningError("ssh-agent closed the connection mid-reply")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def agent_keys(socket_path: str) -> list[PublicKey]:
    """The keys ssh-agent holds (of the types hullcheck signs with; others are skipped)."""
    kind, body = agent_request(socket_path, bytes([REQUEST_IDENTITIES]))
    if kind != IDENTITIES_ANSWER:
        raise SigningError(f"ssh-agent at {socket_path} refused to list its keys")
    reader = _Reader(body, "ssh-agent key list")
    keys = []
    for _ in range(reader.u32()):
        blob, _comment = reader.string(), reader.string()
        try:
            keys.append(parse_public_blob(blob, "agent key"))
        except SignatureError:
            continue  # a certificate or security key the agent also holds: not ours to use
    return keys


PASSPHRASE_ENV = "HULLCHECK_KEY_PASSPHRASE"


def load_signer(path: str | os.PathLike[str], passphrase: Callable[[], str | None] | None = None,
                agent_socket: str | None = None) -> Signer:
    """The signer for `--sign PATH`, chosen as `ssh-keygen -Y sign -f PATH` chooses.

    PATH is a private key file (OpenSSH or PEM), or a public key file whose private half ssh-agent
    holds. When the agent (`agent_socket`, normally $SSH_AUTH_SOCK) holds the key named by PATH
    (PATH itself if public, else PATH.pub), the agent signs and no passphrase is asked. Otherwise
    the private key is read; `passphrase()` is called only if it is encrypted, and may return
    None (no way to ask). A wrong passphrase is a SigningError, never a retry loop here.
    """
    p = Path(path)
    text = _read_key_file(p)
    stripped = text.lstrip()
    is_private = stripped.startswith("-----BEGIN ")
    public: PublicKey | None = None
    if not is_private:
        public = parse_public_line(stripped.splitlines()[0] if stripped else "", str(p))
    else:
        pub_path = Path(str(p) + ".pub")
        if pub_path.is_file():
            try:
                public = parse_public_line(read_bytes(pub_path, max_bytes=MAX_KEY_FILE_BYTES).decode("utf-8", "replace"),
                                           str(pub_path))
            except (SignatureError, UserFileError):
                public = None
    if public is not None and agent_socket:
        try:
            held = agent_keys(agent_socket)
        except SigningError:
            if not is_private:
                raise
            held = []
        if any(k.same_key(public) for k in held):
            return AgentSigner(agent_socket, public)
    if not is_private:
        where = f"the ssh-agent at {agent_socket}" if agent_socket else "no ssh-agent (SSH_AUTH_SOCK is not set)"
        raise SigningError(f"{p} is a public key and {where} does not hold its private half "
                           f"({public.fingerprint if public else ''}): ssh-add the key, or pass the private key file")
    private_key = _load_private(p, text.encode(), passphrase)
    try:
        return KeySigner(private_key)  # a stale .pub beside it does not matter: the private key signs
    except SigningError as exc:
        raise SigningError(f"{p}: {exc}") from None


def _read_key_file(path: Path) -> str:
    data = read_bytes(path, what="an SSH key file", max_bytes=MAX_KEY_FILE_BYTES,
                      error=lambda name, problem: SigningError(f"{name}: {problem}"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SigningError(f"{path}: not a text SSH key file (OpenSSH or PEM)") from None


def _load_private(path: Path, data: bytes, passphrase: Callable[[], str | None] | None) -> Any:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    openssh = b"-----BEGIN OPENSSH PRIVATE KEY-----" in data

    def load(password: bytes | None) -> Any:
        with warnings.catch_warnings():  # "DSA keys are deprecated": refused just below, by name
            warnings.simplefilter("ignore")
            if openssh:
                return serialization.load_ssh_private_key(data, password)
            return serialization.load_pem_private_key(data, password)

    try:
        return load(None)
    except TypeError:  # encrypted: "password was not provided"
        pass
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{path}: not a private key hullcheck can read ({_one_line(exc)})") from None
    secret = passphrase() if passphrase else None
    if secret is None:
        raise SigningError(f"{path} is protected by a passphrase: set {PASSPHRASE_ENV}, run from a terminal "
                           "to be asked, or add the key to ssh-agent and pass its .pub file")
    try:
        return load(secret.encode("utf-8"))
    except ValueError:
        raise SigningError(f"{path}: wrong passphrase") from None
    except Exception as exc:  # noqa: BLE001 - e.g. bcrypt missing for an encrypted OpenSSH key
        raise SigningError(f"{path}: cannot decrypt the key ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---- sign, armor, verify -----------------------------------------------------------------------

def sign(message: bytes, signer: Signer, namespace: str, hash_algorithm: str = DEFAULT_HASH) -> str:
    """An armored SSH signature of `message`, as `ssh-keygen -Y sign -n NAMESPACE` writes it."""
    if not namespace:
        raise SigningError("a signature namespace must not be empty")
    key = signer.public_key
    signature = signer.sign_data(_signed_data(namespace, hash_algorithm, message))
    if not _verify_with(key, signature, _signed_data(namespace, hash_algorithm, message)):
        raise SigningError(f"the signature made with {key.fingerprint} does not verify (agent or key fault)")
    blob = (MAGIC + struct.pack(">I", VERSION) + _string(key.blob) + _string(namespace.encode()) + _string(b"")
            + _string(hash_algorithm.encode()) + _string(signature))
    return armor(blob)


def armor(blob: bytes) -> str:
    text = base64.b64encode(blob).decode()
    lines = [text[i:i + ARMOR_WIDTH] for i in range(0, len(text), ARMOR_WIDTH)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + "\n"


@dataclass(frozen=True)
class Signature:
    """A parsed SSH signature (not yet verified)."""

    public_key: PublicKey
    namespace: str
    hash_algorithm: str
    signature: bytes


def parse(armored: bytes | str) -> Signature:
    """Read an armored signature; MalformedSignature says what is wrong with it."""
    text = armored.decode("ascii", errors="replace") if isinstance(armored, bytes) else armored
    if len(text) > MAX_SIGNATURE_BYTES:
        raise MalformedSignature("too large to be an SSH signature")
    if not text.startswith(ARMOR_BEGIN + "\n"):
        raise MalformedSignature(f"not an SSH signature: it does not start with {ARMOR_BEGIN}")
    end = text.find("\n" + ARMOR_END, len(ARMOR_BEGIN))
    if end < 0:
        raise MalformedSignature(f"SSH signature without its {ARMOR_END} line (truncated?)")
    if text[end + 1 + len(ARMOR_END):].strip():
        raise MalformedSignature(f"text after the {ARMOR_END} line")
    body = "".join(text[len(ARMOR_BEGIN) + 1:end].split())
    try:
        blob = base64.b64decode(body, validate=True)
    except ValueError:
        raise MalformedSignature("the SSH signature is not valid base64") from None
    reader = _Reader(blob, "SSH signature")
    if reader.take(6) != MAGIC:
        raise MalformedSignature("not an SSH signature (no SSHSIG preamble)")
    version = reader.u32()
    if version != VERSION:
        raise MalformedSignature(f"SSH signature version {version}; this hullcheck reads version {VERSION}")
    key_blob = reader.string()
    namespace = reader.text()
    reader.string()  # reserved: ignored, as PROTOCOL.sshsig says
    hash_algorithm = reader.text()
    signature = reader.string()
    if not reader.done():
        raise MalformedSignature("SSH signature has trailing bytes")
    if hash_algorithm not in HASHES:
        raise MalformedSignature(f"SSH signature uses hash {hash_algorithm!r} (sha256 or sha512 only)")
    if not namespace:
        raise MalformedSignature("SSH signature with an empty namespace")
    try:
        key = parse_public_blob(key_blob, "the signing key")
    except SigningError as exc:
        raise MalformedSignature(str(exc)) from None
    return Signature(key, namespace, hash_algorithm, signature)


def verify(message: bytes, armored: bytes | str, namespace: str) -> PublicKey:
    """Check the signature over `message` for `namespace`; return the key that made it (not yet trusted)."""
    sig = parse(armored)
    if sig.namespace != namespace:
        raise WrongNamespace(f"the signature is for namespace {sig.namespace!r}, not {namespace!r}")
    if not _verify_with(sig.public_key, sig.signature, _signed_data(namespace, sig.hash_algorithm, message)):
        raise BadSignature(f"the signature by {sig.public_key.fingerprint} does not match the bytes")
    return sig.public_key


# ---- ssh-keygen patterns -----------------------------------------------------------------------

def match_pattern(text: str, pattern: str) -> bool:
    """OpenSSH's match_pattern: `*` any run, `?` one character, everything else literal, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def match_pattern_list(text: str, patterns: str) -> bool:
    """OpenSSH's match_pattern_list: any positive pattern matches and no `!negated` one does."""
    positive = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if match_pattern(text, pattern[1:] if negated else pattern):
            if negated:
                return False
            positive = True
    return positive


# ---- allowed signers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed-signers file."""

    line: int
    principals: str
    key: PublicKey
    namespaces: str | None = None
    valid_after: int | None = None    # epoch seconds, inclusive
    valid_before: int | None = None   # epoch seconds, inclusive
    cert_authority: bool = False


@dataclass(frozen=True)
class Trusted:
    """A signature accepted: who signed, for which principal, by which allowed-signers line."""

    key: PublicKey
    principal: str
    entry: AllowedSigner
    namespace: str


def parse_time(text: str) -> int:
    """ssh-keygen's timestamps: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time unless suffixed Z."""
    utc = text.endswith(("Z", "z"))
    digits = text[:-1] if utc else text
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        raise ValueError(f"{text!r} is not YYYYMMDD[Z], YYYYMMDDHHMM[Z] or YYYYMMDDHHMMSS[Z]")
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    hour, minute, second = int(digits[8:10] or 0), int(digits[10:12] or 0), int(digits[12:14] or 0)
    try:
        datetime.datetime(year, month, day, hour, minute, second)  # month 13 or 25:00 is an error, not a wrap-around
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date and time") from None
    parts = (year, month, day, hour, minute, second, 0, 0, -1)
    return calendar.timegm(parts) if utc else int(time.mktime(parts))


def _format_time(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))


def _split_principals(line: str, where: str) -> tuple[str, str]:
    if line.startswith('"'):
        end = line.find('"', 1)
        if end < 0:
            raise AllowedSignersError(f"{where}: the quoted principals have no closing quote")
        principals, rest = line[1:end], line[end + 1:]
        if rest and not rest[0].isspace():
            raise AllowedSignersError(f"{where}: expected a space after the quoted principals")
    else:
        fields = line.split(None, 1)
        principals, rest = fields[0], (fields[1] if len(fields) > 1 else "")
    if not principals:
        raise AllowedSignersError(f"{where}: empty principals")
    return principals, rest.lstrip()


def _split_options(text: str, where: str) -> tuple[str, str]:
    """The options field (up to the first unquoted space) and what follows it."""
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quoted and text[i + 1:i + 2] == '"':
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c.isspace() and not quoted:
            return text[:i], text[i:].lstrip()
        i += 1
    if quoted:
        raise AllowedSignersError(f"{where}: an option value has no closing quote")
    return text, ""


def _parse_options(text: str, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cert_authority": False}
    pos = 0
    while pos < len(text):
        lower = text[pos:].lower()
        if lower.startswith("cert-authority") and lower[len("cert-authority"):len("cert-authority") + 1] in ("", ","):
            out["cert_authority"] = True
            pos += len("cert-authority")
        else:
            name = next((n for n in ("namespaces", "valid-after", "valid-before") if lower.startswith(n + "=")), None)
            if name is None:
                raise AllowedSignersError(f"{where}: unknown option {text[pos:].split(',')[0]!r} "
                                          "(cert-authority, namespaces=, valid-after=, valid-before=)")
            pos += len(name) + 1
            if text[pos:pos + 1] != '"':
                raise AllowedSignersError(f'{where}: the value of {name}= must be in double quotes')
            value, pos = _dequote(text, pos + 1, where)
            key = name.replace("-", "_")
            if key in out:
                raise AllowedSignersError(f'{where}: more than one "{name}" option')
            if key == "namespaces":
                out[key] = value
            else:
                try:
                    out[key] = parse_time(value)
                except ValueError as exc:
                    raise AllowedSignersError(f"{where}: invalid {name} time: {exc}") from None
        if pos == len(text):
            break
        if text[pos] != ",":
            raise AllowedSignersError(f"{where}: options must be separated by commas")
        pos += 1
        if pos == len(text):
            raise AllowedSignersError(f"{where}: the options end with a comma")
    if "valid_after" in out and "valid_before" in out and out["valid_before"] <= out["valid_after"]:
        raise AllowedSignersError(f'{where}: "valid-before" time is before "valid-after"')
    return out


def _dequote(text: str, pos: int, where: str) -> tuple[str, int]:
    value = []
    while pos < len(text):
        c = text[pos]
        if c == "\\" and text[pos + 1:pos + 2] == '"':
            value.append('"')
            pos += 2
            continue
        if c == '"':
            return "".join(value), pos + 1
        value.append(c)
        pos += 1
    raise AllowedSignersError(f"{where}: an option value has no closing quote")


_KEY_TYPE_LIKE = re.compile(r"^(ssh-|ecdsa-|sk-)")  # a key type (options never start so)


def parse_allowed_signers(text: str, name: str = "allowed_signers") -> list[AllowedSigner]:
    """Every line of an allowed-signers file; a malformed line is an error naming FILE:LINE (strict:
    a trust file that does not say what its author meant must not be half-used)."""
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{name}:{number}"
        principals, rest = _split_principals(line, where)
        options: dict[str, Any] = {"cert_authority": False}
        if rest and not _KEY_TYPE_LIKE.match(rest.split(None, 1)[0]):
            opts, rest = _split_options(rest, where)
            options = _parse_options(opts, where)
        if not rest:
            raise AllowedSignersError(f"{where}: missing key")
        try:
            key = parse_public_line(rest, where)
        except SignatureError as exc:
            raise AllowedSignersError(str(exc)) from None
        entries.append(AllowedSigner(line=number, principals=principals, key=key, namespaces=options.get("namespaces"),
                                     valid_after=options.get("valid_after"), valid_before=options.get("valid_before"),
                                     cert_authority=options["cert_authority"]))
    return entries


class AllowedSigners:
    """An allowed-signers file, parsed once; `check` decides as `ssh-keygen -Y verify` does."""

    def __init__(self, entries: list[AllowedSigner], name: str) -> None:
        self.entries = entries
        self.name = name

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AllowedSigners:
        p = Path(path)
        text = read_text(p, what="an allowed-signers file", max_bytes=MAX_ALLOWED_SIGNERS_BYTES,
                         error=lambda name, problem: AllowedSignersError(f"{name}: {problem}"))
        entries = parse_allowed_signers(text, str(p))
        if not entries:
            raise AllowedSignersError(f"{p}: lists no key (format: PRINCIPALS [OPTIONS] KEYTYPE BASE64, see "
                                      "ssh-keygen(1) ALLOWED SIGNERS)")
        return cls(entries, str(p))

    def check(self, key: PublicKey, principal: str | None, namespace: str, when: float | None = None) -> Trusted:
        """The line that trusts `key` for `principal` (None: any principal) in `namespace` at `when`
        (default now), or NotTrusted saying the nearest reason it is not."""
        now = time.time() if when is None else when
        reasons: list[tuple[int, str]] = []  # (priority, reason): the most specific one is reported
        for entry in self.entries:
            principal_ok = principal is None or match_pattern_list(principal, entry.principals)
            key_ok = entry.key.same_key(key)
            where = f"{self.name}:{entry.line}"
            if entry.cert_authority:
                if principal_ok and principal is not None:
                    reasons.append((1, f"{where} is a cert-authority line; hullcheck does not accept certificates"))
                continue
            if not key_ok:
                if principal_ok and principal is not None:
                    reasons.append((2, f"{where} lists another key ({entry.key.fingerprint}) for {principal!r}"))
                continue
            if not principal_ok:
                reasons.append((3, f"{where} lists this key for {entry.principals!r} only"))
                continue
            if entry.namespaces is not None and not match_pattern_list(namespace, entry.namespaces):
                reasons.append((4, f"{where} allows this key for namespaces {entry.namespaces!r} only, "
                                   f"not {namespace!r}"))
                continue
            if entry.valid_after is not None and now < entry.valid_after:
                reasons.append((5, f"{where}: the key is not valid yet (valid-after {_format_time(entry.valid_after)})"))
                continue
            if entry.valid_before is not None and now > entry.valid_before:
                reasons.append((5, f"{where}: the key has expired (valid-before {_format_time(entry.valid_before)})"))
                continue
            matched = principal if principal is not None else entry.principals
            return Trusted(key=key, principal=matched, entry=entry, namespace=namespace)
        for_whom = f" for {principal!r}" if principal is not None else ""
        if not reasons:
            raise NotTrusted(f"signed by {key.label} key {key.fingerprint}, which {self.name} does not list")
        priority, reason = max(reasons, key=lambda r: r[0])
        if priority == 5:
            raise OutsideValidity(f"{key.label} key {key.fingerprint}{for_whom}: {reason}")
        raise NotTrusted(f"{key.label} key {key.fingerprint} is not trusted{for_whom}: {reason}")
