"""Refusing jq that reaches outside the snapshot, before anything runs.

Policies are untrusted input (a pack in a pull request is evaluated by CI). A policy may read the
snapshot and nothing else: no environment ($ENV, env), no further input (input, inputs), no
stopping the process (halt, halt_error), no modules (import, include), no clock (now), no side
channels (debug, stderr, input_filename). The check runs on the code outside string literals,
including code inside string interpolation, and also demands balanced brackets so that a
fragment cannot close the wrapper hullcheck puts around it.
"""

from __future__ import annotations

import re

FORBIDDEN = (
    "$ENV", "$__prog_args", "env", "input", "inputs", "halt", "halt_error", "import", "include",
    "input_filename", "input_line_number", "debug", "stderr", "now", "get_search_list",
    "get_prog_origin", "get_jq_origin", "modulemeta",
)
_NAMES = sorted({n for n in FORBIDDEN if not n.startswith("$")}, key=len, reverse=True)
# A forbidden name used as code: not a field (.env), not a variable ($env), not part of a longer
# name, and not an object key ({env: 1}). A single ':' before it ({a:env}) does not make it a key.
_NAME_RE = re.compile(r"(?<![\w$.])(" + "|".join(map(re.escape, _NAMES)) + r")(?![\w:])(?!\s*:(?!:))")
_VAR_RE = re.compile(r"(\$ENV|\$__prog_args)(?!\w)")


class JqSafetyError(ValueError):
    """The fragment uses something a policy may not use, or is not a closed expression."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset  # where in the fragment, so the loader can name the file's line


def _skip_comment(text: str, i: int, out: list[str]) -> int:
    """Blank the comment starting at `i`; return where code resumes.

    As jq's lexer (1.7+) does, a backslash escapes the next character, so a comment ending in an
    odd number of backslashes goes on over the line break: a `)` on the next line is comment, not
    code, and must not count towards the brackets."""
    n = len(text)
    while i < n and text[i] != "\n":
        if text[i] == "\\" and i + 1 < n:
            out.append(" \n" if text[i + 1] == "\n" else "  ")  # two characters for two, line breaks kept
            i += 2
            continue
        out.append(" ")
        i += 1
    return i


def code_only(text: str) -> str:
    """The program with string literal contents blanked out (interpolated code kept) and comments removed."""
    out: list[str] = []
    i = 0
    n = len(text)
    # Stack of contexts: "code" (with a paren depth) or "string".
    stack: list[list] = [["code", 0]]
    while i < n:
        ch = text[i]
        ctx = stack[-1]
        if ctx[0] == "code":
            if ch == "#":  # comment, blanked so offsets stay those of the fragment
                i = _skip_comment(text, i, out)
                continue
            if ch == '"':
                stack.append(["string", 0])
                out.append(" ")
            elif ch == "(":
                ctx[1] += 1
                out.append(ch)
            elif ch == ")":
                if ctx[1] == 0 and len(stack) > 1:  # end of an interpolation
                    stack.pop()
                    out.append(" ")
                else:
                    ctx[1] -= 1
                    out.append(ch)
            else:
                out.append(ch)
            i += 1
        else:  # inside a string literal
            if ch == "\\" and i + 1 < n:
                if text[i + 1] == "(":
                    stack.append(["code", 0])
                    out.append("  ")
                    i += 2
                    continue
                out.append("  ")
                i += 2
                continue
            if ch == '"':
                stack.pop()
            out.append(" " if ch != "\n" else "\n")
            i += 1
    if len(stack) != 1:
        raise JqSafetyError("unterminated string literal or interpolation")
    return "".join(out)


def _object_key_shorthand(code: str, start: int, end: int) -> bool:
    """True for `{env}` or `{a: 1, now}`: jq's shorthand for the key and `.env`, not a call."""
    before = code[:start].rstrip()
    after = code[end:].lstrip()
    if not before or before[-1] not in "{," or not after or after[0] not in ",}":
        return False
    depth = 0
    for ch in reversed(before):  # the innermost open bracket around the name must be '{'
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                return ch == "{"
            depth -= 1
    return False


def check(text: str) -> None:
    """Raise JqSafetyError when the fragment uses a forbidden builtin or is not balanced."""
    code = code_only(text)
    var = _VAR_RE.search(code)
    if var:
        raise JqSafetyError(f"'{var.group(1)}' is not allowed in a policy: policies read the snapshot only", var.start())
    for name in _NAME_RE.finditer(code):
        if not _object_key_shorthand(code, name.start(), name.end()):
            raise JqSafetyError(f"'{name.group(1)}' is not allowed in a policy: policies read the snapshot only",
                                name.start())
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for index, ch in enumerate(code):
        if ch in depth:
            depth[ch] += 1
        elif ch in closing:
            depth[closing[ch]] -= 1
            if depth[closing[ch]] < 0:
                raise JqSafetyError(f"unbalanced '{ch}': a policy fragment must be one closed expression", index)
    for opener, count in depth.items():
        if count:
            raise JqSafetyError(f"unbalanced '{opener}': a policy fragment must be one closed expression",
                                code.rfind(opener))
