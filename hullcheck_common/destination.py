"""Where a command's output goes: standard output, or a file written atomically and signed on request.

Every command that reports, writes a snapshot or a schema goes through write_output: "-" or no
file is standard output; a file is written by the atomic writer (hullcheck_common/atomic.py),
never over one of the command's inputs, and with a signer (--sign) beside its signature
(hullcheck_common/signed_files.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .atomic import write_atomic
from .errors import UsageError

if TYPE_CHECKING:
    from .sshsig import Signer


def write_output(text: str | Iterable[str], output: str | os.PathLike[str] | None,
                 inputs: tuple[str | os.PathLike[str], ...] = (), signer: Signer | None = None,
                 namespace: str = "") -> None:
    """Where every command's report goes: stdout for None or "-", else `output` written atomically,
    never over one of `inputs` (same path, symlink or hard link to it). Problems are UsageError.
    `text` may come in pieces (render_chunks): each is written as it comes.

    With `signer` (--sign), `output.sig` too: an SSH signature in `namespace` (hullcheck_common.signed_files)."""
    if output is None or str(output) == "-":
        for piece in (text,) if isinstance(text, str) else text:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    target = Path(output)
    refuse_overwriting_inputs(target, inputs)
    if target.is_dir():
        raise UsageError(f"{target}: is a directory")
    try:
        if signer is not None:
            from .signed_files import write_signed  # cryptography is loaded only to sign

            # The signature covers the whole text and is made before anything is written.
            write_signed(target, text if isinstance(text, str) else "".join(text), signer, namespace)
        else:
            write_atomic(target, text)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write: {exc.strerror or exc}") from None


def refuse_overwriting_inputs(output: str | os.PathLike[str] | None, inputs: tuple[str | os.PathLike[str], ...]) -> None:
    """-o naming an input (same path, a symlink or a hard link to it) is refused before any work."""
    if output is None or str(output) == "-":
        return
    target = Path(output)
    resolved = target.resolve()
    if any(resolved == Path(i).resolve() or _same_file(target, Path(i)) for i in inputs):
        raise UsageError(f"{target}: refusing to overwrite an input file")


def _same_file(a: Path, b: Path) -> bool:
    """True when both names reach one file (hard link, bind mount)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
