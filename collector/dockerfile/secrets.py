"""CIS 4.10 on a Dockerfile: the secrets written into the file, found before anything is redacted.

A finding names the instruction, the key and the line, never the value:
- ENV, ARG or LABEL with a secret-looking name (the redactor's rule: password, token, api_key...)
  and a literal value (`ARG TOKEN=abc`, `ENV PASSWORD=${PASSWORD:-changeme}`); a value that only
  refers to a variable (`ENV TOKEN=$TOKEN`) is not literal;
- credentials in a URL (`https://user:pass@host`) anywhere in an instruction;
- a RUN step with a secret-looking flag or assignment and a literal value (`--password=x`,
  `TOKEN=x cmd`);
- ADD or COPY of a file that holds keys or credentials by its name (id_rsa, *.pem, .npmrc, .netrc...).
"""

from __future__ import annotations

import re
from typing import Any

from .. import redact
from .instructions import Instruction
from .shell import Env, Lex, ShellError

_URL = re.compile(r"[a-z][a-z0-9+.-]*://([^:/@\s]+):([^@/\s]+)@", re.IGNORECASE)
_WORD = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S+")
_FLAG = re.compile(r"^(--?[A-Za-z][A-Za-z0-9_.-]*)(?:=(.*))?$", re.DOTALL)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)
_FILES = re.compile(r"(^|/)(id_rsa|id_dsa|id_ecdsa|id_ed25519|\.netrc|\.npmrc|\.pypirc|\.git-credentials|\.pgpass"
                    r"|credentials(\.json)?|\.env|[^/]*\.(pem|key|p12|pfx|jks|keystore))$", re.IGNORECASE)


def _literal(value: str | None, lex: Lex) -> bool:
    """True when the value holds text of its own, not only references to variables."""
    if not value:
        return False
    try:
        return lex.process_word(value, Env()) != ""
    except ShellError:
        return True


def _reference(value: str) -> bool:
    return value.strip("\"'").startswith("$")


def _run_secrets(text: str) -> list[str]:
    keys: list[str] = []
    words = _WORD.findall(text)
    for i, word in enumerate(words):
        bare = word.strip("\"'")
        flag = _FLAG.match(bare)
        if flag and redact._is_secret_name(flag.group(1)):
            value = flag.group(2)
            if value is None:
                value = words[i + 1] if i + 1 < len(words) else ""
                if value.startswith("-"):
                    continue
            if value and not _reference(value):
                keys.append(flag.group(1))
            continue
        assign = _ASSIGN.match(bare)
        if assign and redact._is_secret_name(assign.group(1)) and assign.group(2) and not _reference(assign.group(2)):
            keys.append(assign.group(1))
    return keys


def find(instructions: list[tuple[str, Instruction]], escape: str) -> list[dict[str, Any]]:
    """[(stage label, instruction)] -> [{stage, instruction, key, line, reason}] in file order."""
    lex = Lex(escape)
    found: list[dict[str, Any]] = []

    def add(stage: str, ins: Instruction, key: str, reason: str) -> None:
        found.append({"stage": stage, "instruction": ins.kind.upper(), "key": key, "line": ins.line, "reason": reason})

    for stage, ins in instructions:
        if ins.kind in ("env", "arg", "label"):
            for key, value, _ in ins.pairs:
                if redact._is_secret_name(key) and _literal(value, lex):
                    add(stage, ins, key, f"{ins.kind.upper()} {key} has a literal value")
        if ins.kind == "run":
            text = " ".join(ins.cmdline or []) + "".join("\n" + d.content for d in ins.files)
            for key in _run_secrets(text):
                add(stage, ins, key, f"RUN passes {key} a literal value")
        if ins.kind in ("add", "copy"):
            for src in ins.sources:
                if _FILES.search(src.rstrip("/")):
                    add(stage, ins, src, f"{ins.kind.upper()} copies {src}, a file that holds keys or credentials")
        for match in _URL.finditer(ins.node.original + "".join("\n" + d.content for d in ins.node.heredocs)):
            if not match.group(2).startswith("$"):
                add(stage, ins, match.group(1), f"{ins.kind.upper()} has a URL with the credentials of {match.group(1)}")
    return found
