"""The Docker SDK's paramiko and requests' charset_normalizer are imported on first use only
(collector/sdk.py), and still work."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

needs_paramiko = pytest.mark.skipif(importlib.util.find_spec("paramiko") is None,
                                reason="paramiko is not installed (the ssh extra): nothing to defer")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@needs_paramiko
def test_importing_the_collector_does_not_run_paramiko() -> None:
    out = _run("import sys, collector, docker.transport; "
               "print(sorted(m for m in sys.modules if m.startswith('paramiko.')), hasattr(docker.transport, 'SSHHTTPAdapter'))")
    assert out == "[] True"  # no paramiko submodule ran, yet the SDK has its ssh transport


@needs_paramiko
def test_the_first_use_imports_the_real_module() -> None:
    out = _run("import sys, collector, docker.transport.sshconn as s; "
               "c = s.paramiko.SSHClient; print(c.__module__, type(sys.modules['paramiko']).__name__)")
    assert out == "paramiko.client module"


def test_charset_normalizer_waits_for_an_answer_without_a_charset() -> None:
    """requests imports it at once to check its version; the stand-in carries the real version,
    and the first guess of an encoding imports the real module and guesses as it would."""
    out = _run("import sys, collector, requests, warnings\n"
               "import charset_normalizer as c\n"
               "print(type(c).__name__, c.__version__ == __import__('importlib.metadata').metadata.version('charset-normalizer'))\n"
               "r = requests.models.Response(); r._content = 'naïve café'.encode('utf-8')\n"
               "print(r.apparent_encoding, type(sys.modules['charset_normalizer']).__name__)")
    assert out == "_Deferred True\nutf-8 module"
