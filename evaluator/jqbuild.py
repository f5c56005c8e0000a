"""Which build of the jq binding runs the policies: optimised or not, read from its machine code.

The `jq` wheel on PyPI compiles its bundled libjq without optimisation (-O0): policies run about
2.4x slower than with the same source built with -O2 (benchmarks/RESULTS.md). Nothing in the
installed files records the compiler flags, so this looks at the code itself: at -O0, GCC and
Clang begin almost every function on x86-64 with a frame-pointer prologue (`push %rbp; mov
%rsp,%rbp`); from -O1 on the frame pointer is omitted and the prologue all but disappears (the
PyPI wheel of 1.13.0 holds 1,431 of them; the same source built with -O2 holds 2). Elsewhere
the build is reported as unknown rather than guessed.

    python -m evaluator.jqbuild     # prints the description; exit 0 optimised, 1 not, 2 unknown
"""

from __future__ import annotations

import platform
import sys
from functools import cache

_PROLOGUE = b"\x55\x48\x89\xe5"  # push %rbp; mov %rsp,%rbp
# Far below an -O0 build of libjq (over 1,000 functions) and far above an optimised one (a handful).
_UNOPTIMISED_AT = 200


@cache
def optimised() -> bool | None:
    """True for an optimised build of the binding, False for an -O0 one, None when it cannot be told."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        import jq

        return is_optimised(jq.__file__)
    except (ImportError, TypeError):
        return None


def is_optimised(shared_object: str) -> bool | None:
    """The verdict for one x86-64 shared object (None when it cannot be read)."""
    try:
        with open(shared_object, "rb") as fh:
            code = fh.read()
    except OSError:
        return None
    return code.count(_PROLOGUE) < _UNOPTIMISED_AT


def binding_version() -> str:
    try:
        from importlib.metadata import version

        return version("jq")
    except Exception:  # noqa: BLE001 - a binding without metadata is still a binding
        return "unknown version"


def describe() -> str:
    """One line: the binding's version and its build, e.g. 'jq 1.13.0 (optimised build)'."""
    state = optimised()
    build = {True: "optimised build", False: "unoptimised build (-O0, as PyPI's wheel; see docs/performance.md to build it -O2)",
             None: "build not known"}[state]
    return f"jq {binding_version()} ({build})"


if __name__ == "__main__":
    print(describe())
    sys.exit({True: 0, False: 1, None: 2}[optimised()])
