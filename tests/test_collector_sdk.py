"""The Docker SDK's paramiko and requests' charset_normalizer are imported on first use only
(collector/sdk.py), and still work."""

from __future__ import annotations

import importlib.util
import os
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


def test_a_netrc_login_for_localhost_never_reaches_the_local_engine(tmp_path, docker_client) -> None:
    """requests adds ~/.netrc credentials to every request of a session that trusts the
    environment; the engine's unix socket is http+docker://localhost to it. The collector's
    client does not (and skips the proxy lookups of every request), a tcp:// client still does."""
    (tmp_path / ".netrc").write_text("machine localhost login hc-user password hc-netrc-secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    code = (
        "import requests\n"
        "from collector.engine_api import connect\n"
        "client = connect(None)\n"
        "local = client.prepare_request(requests.Request('GET', client._url('/version')))\n"
        "print(client.trust_env, 'Authorization' in local.headers)\n"
        "print(client.version()['ApiVersion'] != '')\n"
        "plain = requests.Session().prepare_request(requests.Request('GET', client._url('/version')))\n"
        "print('Authorization' in plain.headers)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "HOME": str(tmp_path), "NETRC": str(tmp_path / ".netrc")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["False False", "True", "True"], proc.stdout
