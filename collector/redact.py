"""Redaction of secrets before anything is written.

Environment variable values of containers and images are replaced by a marker that keeps the
name (policies judge names, not values), and command-line arguments that look like credentials
keep their flag but lose their value. Redaction happens in the collector, so no later stage
(snapshot file, results, any report) can leak what it never received.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<redacted>"

# Flags whose value is a credential: --password=x, --token x, --api-key=x, -p x is too ambiguous.
_SECRET_FLAG = re.compile(
    r"^(--?[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth)[A-Za-z0-9_.-]*)(=(.*))?$",
    re.IGNORECASE,
)
# KEY=VALUE arguments whose key looks secret (e.g. `env DB_PASSWORD=x cmd`).
_SECRET_ASSIGNMENT = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*(?:PASS(?:WORD|WD)?|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Za-z0-9_]*)=(.*)$",
    re.IGNORECASE,
)
# Credentials embedded in URLs: scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.IGNORECASE)


def redact_env(env: list[str] | None) -> list[str] | None:
    """['A=1', 'B'] -> ['A=<redacted>', 'B']: names stay, values go."""
    if env is None:
        return None
    out = []
    for item in env:
        name, sep, _ = str(item).partition("=")
        out.append(f"{name}={MARKER}" if sep else name)
    return out


def redact_argv(argv: list[str] | None) -> list[str] | None:
    """Hide the values of secret-looking flags and assignments; keep everything else verbatim."""
    if argv is None:
        return None
    out: list[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next:
            out.append(MARKER)
            hide_next = False
            continue
        flag = _SECRET_FLAG.match(arg)
        if flag and arg.startswith("-"):
            if flag.group(2) is not None:
                out.append(f"{flag.group(1)}={MARKER}")
            else:
                out.append(arg)
                hide_next = True
            continue
        assignment = _SECRET_ASSIGNMENT.match(arg)
        if assignment:
            out.append(f"{assignment.group(1)}={MARKER}")
            continue
        out.append(_URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MARKER}@", arg))
    return out


def redact_container(inspect: dict[str, Any]) -> dict[str, Any]:
    """Redact one container inspect in place (and return it)."""
    config = inspect.get("Config") or {}
    if "Env" in config:
        config["Env"] = redact_env(config.get("Env"))
    for key in ("Cmd", "Entrypoint"):
        if isinstance(config.get(key), list):
            config[key] = redact_argv(config[key])
    if isinstance(inspect.get("Args"), list):
        inspect["Args"] = redact_argv(inspect["Args"])
    if isinstance(inspect.get("Path"), str):
        inspect["Path"] = redact_argv([inspect["Path"]])[0]
    return inspect


def redact_image(inspect: dict[str, Any]) -> dict[str, Any]:
    for section in ("Config", "ContainerConfig"):
        config = inspect.get(section) or {}
        if "Env" in config:
            config["Env"] = redact_env(config.get("Env"))
        for key in ("Cmd", "Entrypoint"):
            if isinstance(config.get(key), list):
                config[key] = redact_argv([redact_env_instruction(str(a)) for a in config[key]])
    return inspect


# A Dockerfile ENV instruction as the builder records it: `ENV A=1 B=2`, `#(nop)  ENV A=1`, `ENV A 1`.
_ENV_INSTRUCTION = re.compile(r"(?:^|(?<=\s))ENV\s+(.*)$", re.DOTALL)
_ENV_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|\S*)")


def redact_env_instruction(text: str) -> str:
    """Every value set by an ENV instruction is an environment value: hide it, whatever its name."""
    match = _ENV_INSTRUCTION.search(text)
    if not match:
        return text
    rest = match.group(1)
    if "=" in rest:
        hidden = _ENV_PAIR.sub(lambda m: f"{m.group(1)}={MARKER}", rest)
    else:  # legacy form `ENV NAME value`
        name = rest.split(None, 1)[0] if rest.split() else ""
        hidden = f"{name} {MARKER}" if name else rest
    return text[:match.start(1)] + hidden


def redact_history(history: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Build steps can carry `ENV SECRET=x` or `--build-arg TOKEN=x`: hide those values."""
    if history is None:
        return None
    for layer in history:
        created_by = layer.get("CreatedBy")
        if isinstance(created_by, str):
            layer["CreatedBy"] = redact_text(redact_env_instruction(created_by))
    return history


def redact_processes(top: dict[str, Any] | None) -> dict[str, Any] | None:
    """`docker top` rows end with the command line: redact the secret parts of it."""
    if not top:
        return top
    titles = top.get("Titles") or []
    try:
        cmd_index = titles.index("CMD") if "CMD" in titles else titles.index("COMMAND")
    except ValueError:
        return top
    for row in top.get("Processes") or []:
        if len(row) > cmd_index and isinstance(row[cmd_index], str):
            row[cmd_index] = redact_text(row[cmd_index])
    return top


def redact_text(text: str) -> str:
    """Redact a shell-ish command string word by word (whitespace kept simple)."""
    words = text.split(" ")
    return " ".join(redact_argv(words) or [])
