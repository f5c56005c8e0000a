"""The env files a Compose project names: --env-file (or the project's .env) for interpolation, and
a service's env_file: and label_file: entries. Each is read by the one reader of user-named files
(hullcheck_common.userfile: a FIFO, a device or a directory is refused, the size is bounded) and
parsed by python-dotenv, as Compose's own dotenv reader would.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from hullcheck_common import userfile

from .source import ComposeError

MAX_BYTES = 4 * userfile.MiB  # env files are a few hundred bytes; a Compose file has the same limit


def _values(path: Path, error: userfile.ErrorFactory) -> dict[str, str]:
    text = userfile.read_text(path, what="an env file", max_bytes=MAX_BYTES, error=error)
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text), interpolate=True).items() if v is not None}


def project_values(env_file: Path) -> dict[str, str]:
    """The variables of an --env-file (or the project's .env) for interpolation."""
    if not env_file.exists():
        raise ComposeError("env file not found", file=str(env_file))
    return _values(env_file, lambda name, problem: ComposeError(f"cannot read env file: {problem}", file=name))


def service_values(service: Any, key: str, entries: list[Any]) -> dict[str, str]:
    """The values of a service's env_file / label_file entries, in order (a later file wins)."""
    out: dict[str, str] = {}
    for entry in entries:
        path = Path(entry["path"] if isinstance(entry, dict) else entry)
        required = entry.get("required", True) if isinstance(entry, dict) else True
        if not path.exists():
            if not required:
                continue
            raise ComposeError(f"{key} {path} not found", service.keypos.get(key), file=str(path))
        out.update(_values(path, lambda name, problem: ComposeError(f"cannot read {key} {name}: {problem}",
                                                                    service.keypos.get(key))))
    return out
