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
_NAME_RE = re.compile(r"(?<![\w$.:])(" + "|".join(map(re.escape, _NAMES)) + r")(?![\w:])(?!\s*:(?!:))")
_VAR_RE = re.compile(r"(\$ENV|\$__prog_args)(?!\w)")


class JqSafetyError(ValueError):
    """The fragment uses something a policy may not use, or is not a closed expression."""


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
            if ch == "#":  # comment to end of line
                while i < n and text[i] != "\n":
                    i += 1
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


def check(text: str) -> None:
    """Raise JqSafetyError when the fragment uses a forbidden builtin or is not balanced."""
    code = code_only(text)
    var = _VAR_RE.search(code)
    if var:
        raise JqSafetyError(f"'{var.group(1)}' is not allowed in a policy: policies read the snapshot only")
    name = _NAME_RE.search(code)
    if name:
        raise JqSafetyError(f"'{name.group(1)}' is not allowed in a policy: policies read the snapshot only")
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for ch in code:
        if ch in depth:
            depth[ch] += 1
        elif ch in closing:
            depth[closing[ch]] -= 1
            if depth[closing[ch]] < 0:
                raise JqSafetyError(f"unbalanced '{ch}': a policy fragment must be one closed expression")
    for opener, count in depth.items():
        if count:
            raise JqSafetyError(f"unbalanced '{opener}': a policy fragment must be one closed expression")
