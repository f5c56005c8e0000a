"""The Pythons hullcheck supports, as interpreters on this machine (tests/test_pythons.py, the fleet
test's hosts): pyenv's builds (`~/.pyenv/versions/X.Y.Z`, the newest patch release) or `pythonX.Y`
on PATH. CI has them all; elsewhere a test that needs a missing one is skipped, never under CI."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

import pytest

SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13")  # requires-python's floor to the newest tested
TOO_OLD = "3.6"  # what RHEL 8 and CentOS 7 hosts run as python3: the fleet test's too-old host


def interpreter(version: str) -> str | None:
    """The newest pyenv build of `version`, else pythonX.Y on PATH."""
    found = glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"))
    if found:
        return max(found, key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parents[1].name)])
    return shutil.which(f"python{version}")


def require(version: str) -> str:
    """The interpreter of `version`; the test fails without it under CI (CI=true) and skips elsewhere."""
    python = interpreter(version)
    if python is None:
        message = f"Python {version} not found (pyenv ~/.pyenv/versions/{version}.*, or python{version} on PATH)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI tests every supported Python")
        pytest.skip(message)
    return python
