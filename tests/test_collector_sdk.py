"""The Docker SDK's paramiko is imported on first use only (collector/sdk.py), and still works."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("paramiko") is None,
                                reason="paramiko is not installed (the ssh extra): nothing to defer")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_collector_does_not_run_paramiko() -> None:
    out = _run("import sys, collector, docker.transport; "
               "print(sorted(m for m in sys.modules if m.startswith('paramiko.')), hasattr(docker.transport, 'SSHHTTPAdapter'))")
    assert out == "[] True"  # no paramiko submodule ran, yet the SDK has its ssh transport


def test_the_first_use_imports_the_real_module() -> None:
    out = _run("import sys, collector, docker.transport.sshconn as s; "
               "c = s.paramiko.SSHClient; print(c.__module__, type(sys.modules['paramiko']).__name__)")
    assert out == "paramiko.client module"
