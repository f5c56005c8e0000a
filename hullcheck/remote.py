"""Remote engines: the TLS settings of a tcp:// endpoint, resolved the way the Docker CLI does.

`--tlsverify` (or DOCKER_TLS_VERIFY set to anything) verifies the engine against a CA and
implies `--tls`; `--tls` (or DOCKER_TLS) encrypts without verifying. The CA, certificate and key
default to ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (default ~/.docker); a default file
that does not exist is left out, a file named on the command line must exist. ssh:// engines
need no TLS: the SDK tunnels through OpenSSH (or paramiko) to `docker system dial-stdio`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from hullcheck_common.errors import HullcheckError
from hullcheck_common.userfile import check_regular


class RemoteSettingsError(HullcheckError, ValueError):
    """A TLS option that cannot work (missing file, key without certificate): one line for the user."""


@dataclass(frozen=True)
class TLSFlags:
    """What the user gave on the command line (None: not given)."""

    tls: bool = False
    tlsverify: bool = False
    tlscacert: Optional[Path] = None
    tlscert: Optional[Path] = None
    tlskey: Optional[Path] = None

    def any_file(self) -> bool:
        return any(p is not None for p in (self.tlscacert, self.tlscert, self.tlskey))


def _scheme(docker_host: Optional[str]) -> str:
    return (docker_host or "").split("://", 1)[0].lower() if "://" in (docker_host or "") else ""


def _pick(given: Optional[Path], default: Path, flag: str) -> Optional[str]:
    if given is not None:  # the ssl module reads it by name: refused here if it is not a regular file (a FIFO would block)
        check_regular(given, what="a PEM file", shown=f"{flag} {given}",
                      error=lambda name, problem: RemoteSettingsError(f"{name}: {problem}"))
        return str(given)
    return str(default) if default.is_file() else None


def tls_config(docker_host: Optional[str], flags: TLSFlags, env: Mapping[str, str] | None = None) -> Any:
    """A docker.tls.TLSConfig for a tcp:// engine, or None when TLS is off or the endpoint is not tcp.

    `docker_host` is the --docker-host value; DOCKER_HOST from `env` is used when it is None.
    """
    env = os.environ if env is None else env
    host = docker_host or env.get("DOCKER_HOST") or ""
    verify = flags.tlsverify or bool(env.get("DOCKER_TLS_VERIFY"))
    use_tls = flags.tls or verify or bool(env.get("DOCKER_TLS"))
    if _scheme(host) not in ("tcp", "https"):
        if (flags.tls or flags.tlsverify or flags.any_file()) and host:
            raise RemoteSettingsError(f"TLS options apply to tcp:// engines, not to {host}")
        return None
    if not use_tls:
        if flags.any_file():
            raise RemoteSettingsError("--tlscacert/--tlscert/--tlskey need --tlsverify (or --tls)")
        return None
    cert_dir = Path(env.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
    ca = _pick(flags.tlscacert, cert_dir / "ca.pem", "--tlscacert") if verify else None
    cert = _pick(flags.tlscert, cert_dir / "cert.pem", "--tlscert")
    key = _pick(flags.tlskey, cert_dir / "key.pem", "--tlskey")
    if (cert is None) != (key is None):
        missing, present = ("--tlskey", cert) if key is None else ("--tlscert", key)
        raise RemoteSettingsError(f"a client certificate needs both --tlscert and --tlskey; {missing} is missing "
                                  f"(have {present})")
    from docker.errors import TLSParameterError
    from docker.tls import TLSConfig

    try:
        return TLSConfig(client_cert=(cert, key) if cert and key else None, ca_cert=ca, verify=verify)
    except TLSParameterError as exc:
        raise RemoteSettingsError(str(exc).strip().splitlines()[0]) from None
