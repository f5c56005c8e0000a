"""Audit rules: `auditctl -l` when it can run, and the rules files, both raw and parsed.

docker-bench-security reads one or the other (#150, #484); a watch found in either counts.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from typing import Any

from .errors import ErrorLog
from .hostfs import HostFS, describe_oserror

RULES_FILES = ("/etc/audit/audit.rules",)
RULES_DIR = "/etc/audit/rules.d"


def collect_audit(fs: HostFS, errors: ErrorLog, *, run_auditctl: bool) -> dict[str, Any]:
    auditctl = _auditctl(run_auditctl)
    if auditctl.get("raw") is None:
        errors.add("/audit/auditctl/raw", f"loaded audit rules not read: {auditctl.get('error')}")
    files = []
    for path in list(RULES_FILES) + [p for p in fs.list_dir(RULES_DIR) if p.endswith(".rules")]:
        try:
            files.append({"path": path, "raw": fs.read_text(path)})
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            errors.add("/audit/rules_files", f"{path}: {describe_oserror(exc)}")
    watches = []
    if auditctl.get("raw"):
        watches += parse_rules(auditctl["raw"], "auditctl -l")
    for item in files:
        watches += parse_rules(item["raw"], item["path"])
    return {"auditctl": auditctl, "rules_files": files, "watches": watches}


def _auditctl(run: bool) -> dict[str, Any]:
    binary = shutil.which("auditctl")
    if not run or binary is None:
        reason = "auditctl not installed" if run else "auditctl not run (host read below --host-root or remote)"
        return {"available": False, "raw": None, "error": reason}
    try:
        proc = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": True, "raw": None, "error": str(exc)}
    if proc.returncode != 0:
        return {"available": True, "raw": None, "error": (proc.stderr or proc.stdout).strip()[:300] or f"exit {proc.returncode}"}
    return {"available": True, "raw": proc.stdout, "error": None}


def parse_rules(text: str, origin: str) -> list[dict[str, Any]]:
    """File watches from audit rules: `-w PATH -p PERMS -k KEY` and `-a ... -F path=PATH -F perm=...`."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == "No rules":
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        path = perms = key = None
        it = iter(range(len(tokens)))
        for i in it:
            tok = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if tok == "-w" and nxt:
                path = nxt
            elif tok == "-p" and nxt:
                perms = nxt
            elif tok == "-k" and nxt:
                key = nxt
            elif tok == "-F" and nxt:
                field, _, value = nxt.partition("=")
                if field in ("path", "dir"):
                    path = value
                elif field == "perm":
                    perms = value
                elif field in ("key", "k"):
                    key = value
        if path:
            out.append({"path": path, "permissions": perms, "key": key, "origin": origin})
    return out
