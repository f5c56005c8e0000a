"""Remote engines: collect and evaluate through a real dockerd that only speaks verified TLS.

The fixture starts its own dockerd (own data root, exec root, pidfile and unix socket, no bridge,
no iptables) listening on tcp://127.0.0.1:<free port> with certificates generated here, so the
shared daemon is never touched. It runs in a network namespace of its own: `--bridge none`
makes dockerd delete the `docker0` interface of the namespace it starts in, which in the host's
namespace would cut the shared daemon's default bridge off. The CLI reaches it by entering that
namespace (nsenter), where 127.0.0.1 is the test engine's. Host-level sections must come back as
"not collected", never as the local host's, and policies that need them must say `error`.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from collector_support import PrivateDockerd
from conftest import LABEL_KEY, REPO

from testimage import build_busybox

pytestmark = pytest.mark.docker

REMOTE_IMAGE = "hullcheck-test/remote-busybox:1"


# ---- certificates -------------------------------------------------------------------------------

def _certs_with_cryptography(out: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(stem: str, key: Any, cert: Any) -> None:
        (out / f"{stem}-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(cn: str, issuer: str, issuer_key: Any, key: Any, *, ca: bool = False, eku: Any = None,
              san: Any = None) -> Any:
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    for prefix in ("", "rogue-"):  # the real CA and an unrelated one for the negative cases
        ca_key = ec.generate_private_key(ec.SECP256R1())
        save(f"{prefix}ca", ca_key, issue(f"{prefix}hullcheck test CA", f"{prefix}hullcheck test CA", ca_key, ca_key, ca=True))
        client_key = ec.generate_private_key(ec.SECP256R1())
        save(f"{prefix}client", client_key, issue(f"{prefix}client", f"{prefix}hullcheck test CA", ca_key, client_key,
                                                  eku=[ExtendedKeyUsageOID.CLIENT_AUTH]))
        if not prefix:
            server_key = ec.generate_private_key(ec.SECP256R1())
            save("server", server_key, issue("localhost", "hullcheck test CA", ca_key, server_key,
                                             eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                                             san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))


def _certs_with_openssl(out: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True)

    for prefix in ("", "rogue-"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={prefix}hullcheck test CA", "-keyout", f"{prefix}ca-key.pem", "-out", f"{prefix}ca.pem")
        leaves = [("client", "/CN=client", "extendedKeyUsage=clientAuth")]
        if not prefix:
            leaves.append(("server", "/CN=localhost",
                           "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1"))
        for stem, subject, ext in leaves:
            (out / f"{prefix}{stem}.ext").write_text(ext + "\n")
            run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                "-keyout", f"{prefix}{stem}-key.pem", "-out", f"{prefix}{stem}.csr")
            run("x509", "-req", "-in", f"{prefix}{stem}.csr", "-CA", f"{prefix}ca.pem", "-CAkey", f"{prefix}ca-key.pem",
                "-CAcreateserial", "-days", "2", "-extfile", f"{prefix}{stem}.ext", "-out", f"{prefix}{stem}.pem")


def make_certs(out: Path) -> None:
    """CA, server certificate for 127.0.0.1/localhost (SAN), client certificate; plus a rogue CA and client.

    With the `cryptography` package when it is installed, else with the openssl command
    (HULLCHECK_TEST_CERTS=openssl forces the latter, to test it).
    """
    try:
        import cryptography  # noqa: F401
    except ImportError:
        _certs_with_openssl(out)
        return
    if os.environ.get("HULLCHECK_TEST_CERTS") == "openssl":
        _certs_with_openssl(out)
    else:
        _certs_with_cryptography(out)


# ---- the engine ---------------------------------------------------------------------------------

@dataclass
class TLSEngine:
    url: str                 # tcp://127.0.0.1:<port>, inside the engine's network namespace
    certs: Path
    unix: str                # the same engine over its private unix socket, for setting up
    hostnet: str             # container names created on it
    isolated: str
    netns: str               # /proc/<dockerd pid>/ns/net

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `python -m hullcheck.cli` from this checkout inside the engine's network namespace."""
        full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), **(env or {})}
        return subprocess.run(["nsenter", f"--net={self.netns}", "--", sys.executable, "-m", "hullcheck.cli", *args],
                              capture_output=True, text=True, env=full_env, cwd="/", timeout=300, check=False)

    def tls_args(self, client: str = "client", ca: str = "ca") -> list[str]:
        return ["--docker-host", self.url, "--tlsverify", "--tlscacert", str(self.certs / f"{ca}.pem"),
                "--tlscert", str(self.certs / f"{client}.pem"), "--tlskey", str(self.certs / f"{client}-key.pem")]


def _build_busybox(client: Any) -> None:
    build_busybox(client, REMOTE_IMAGE, applets=False, cmd=b'["/bin/busybox", "sleep", "3600"]')


@pytest.fixture(scope="session")
def tls_engine(session_label: str) -> Iterator[TLSEngine]:
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (apt-get install docker.io)")
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.fail("unshare and nsenter (util-linux) are needed to give the test dockerd its own network namespace")
    port = 2376  # the engine has a network namespace of its own: Docker's TLS port is free there
    namespace = f"hc-{session_label}"
    had_docker0 = Path("/sys/class/net/docker0").exists()  # the shared daemon's bridge must survive us
    # An empty daemon.json: never read the machine's /etc/docker/daemon.json. A short directory name:
    # unix socket paths are limited to 108 bytes. unshare execs (no fork): the daemon's pid is
    # dockerd's own, and stopping it stops only our daemon (tests/support/lifecycle.py).
    daemon = PrivateDockerd({}, own_netns=True, dir_prefix="hc-tls-")
    certs = daemon.dir / "certs"
    certs.mkdir()
    make_certs(certs)
    daemon.extra_args = (
        "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
        "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"),
        "--bridge", "none", "--iptables=false", "--ip6tables=false",
        "--containerd-namespace", namespace, "--containerd-plugins-namespace", f"{namespace}-plugins")
    try:
        daemon.start()
    except RuntimeError as exc:
        pytest.fail(f"the test dockerd did not start: {exc}")
    try:
        client = daemon.client()
        _build_busybox(client)
        labels = {LABEL_KEY: session_label}
        hostnet = client.containers.run(REMOTE_IMAGE, name="remote-hostnet", network_mode="host", detach=True,
                                        labels=labels)
        isolated = client.containers.run(REMOTE_IMAGE, name="remote-isolated", network_mode="none", detach=True,
                                         mem_limit="64m", labels=labels)
        client.close()
        assert daemon.proc is not None
        yield TLSEngine(url=f"tcp://127.0.0.1:{port}", certs=certs, unix=daemon.url, hostnet=hostnet.name,
                        isolated=isolated.name, netns=f"/proc/{daemon.proc.pid}/ns/net")
    finally:
        daemon.stop()
        if had_docker0 and not Path("/sys/class/net/docker0").exists():
            pytest.fail("the test dockerd removed the host's docker0 bridge")


# A host-level and a daemon-level policy: with a remote engine they must say error, never pass.
HOST_POLICIES = {
    "remote-test-daemon-icc.yaml": """\
id: remote-test-daemon-icc
title: Inter-container communication is off
description: Needs the daemon's effective settings, which only the engine's host can show.
remediation: Set "icc" to false in daemon.json.
severity: medium
level: 1
controls: {custom: "R.1"}
automated: true
requires: [/daemon/options]
resources: daemon
assert: .options.icc.value == false
message: '"icc is on"'
evidence: [/options/icc]
""",
    "remote-test-daemon-json-mode.yaml": """\
id: remote-test-daemon-json-mode
title: daemon.json is not writable by group or others
description: Needs the host's files.
remediation: chmod 0644 /etc/docker/daemon.json
severity: medium
level: 1
controls: {custom: "R.2"}
automated: true
requires: [/files]
resources: file("/etc/docker/daemon.json")
assert: (.exists | not) or mode_within("0644")
message: '"daemon.json mode \\(.mode)"'
evidence: [/mode]
""",
}


@pytest.fixture
def host_policies(tmp_path: Path) -> Path:
    directory = tmp_path / "host-policies"
    directory.mkdir()
    for name, text in HOST_POLICIES.items():
        (directory / name).write_text(text)
    return directory


def _result(document: dict[str, Any], policy_id: str) -> dict[str, Any]:
    return next(r for r in document["results"] if r["id"] == policy_id)


def _offenders(document: dict[str, Any], policy_id: str) -> set[str]:
    return {f["resource"]["name"] for f in _result(document, policy_id)["findings"] if f["status"] == "fail"}


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hullcheck: error: ") and "Traceback" not in proc.stderr
    return lines[0]


# ---- tests --------------------------------------------------------------------------------------

def test_collect_through_verified_tls_then_evaluate(tls_engine: TLSEngine, hullcheck_cli: Any, tmp_path: Path,
                                                    host_policies: Path) -> None:
    out = tmp_path / "remote.json"
    proc = tls_engine.cli("collect", *tls_engine.tls_args(), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    snapshot = json.loads(out.read_text())

    names = {c["inspect"]["Name"].lstrip("/") for c in snapshot["containers"]}
    assert names == {tls_engine.hostnet, tls_engine.isolated}, "the remote engine's containers, not the shared daemon's"
    collector = snapshot["meta"]["collector"]
    assert collector["remote"] is True and collector["host_root"] is None
    assert snapshot["meta"]["engine_endpoint"].endswith(tls_engine.url.split("//")[1])

    # The local host is not the engine's host: nothing host-level may be described from here,
    # although a dockerd (two, even) runs on this machine.
    assert snapshot["host"] is None and snapshot["files"] is None and snapshot["audit"] is None
    assert snapshot["daemon"] == {"process": None, "config_file": None, "options": None, "units": None}
    sources = {e["source"] for e in snapshot["meta"]["errors"]}
    assert {"/host", "/files", "/audit", "/daemon/process", "/daemon/options"} <= sources
    assert all("remote" in e["reason"] for e in snapshot["meta"]["errors"] if e["source"] in ("/host", "/files"))

    proc = hullcheck_cli("evaluate", str(out), "--format", "json", "--policies", str(host_policies),
                         "--policy", "cis-docker-5.10", "--policy", "cis-docker-5.11", "--policy", "remote-test-*")
    assert proc.returncode == 1, proc.stderr + proc.stdout
    document = json.loads(proc.stdout)
    assert _offenders(document, "cis-docker-5.10") == {tls_engine.hostnet}
    assert _offenders(document, "cis-docker-5.11") == {tls_engine.hostnet}
    assert {p["name"] for p in _result(document, "cis-docker-5.11")["passed"]} == {tls_engine.isolated}
    for policy_id in ("remote-test-daemon-icc", "remote-test-daemon-json-mode"):
        assert _result(document, policy_id)["status"] == "error", "host-level data was not collected: error, never pass"


def test_audit_through_tls_with_docker_cli_environment(tls_engine: TLSEngine, hullcheck_cli: Any, tmp_path: Path,
                                                       host_policies: Path) -> None:
    """DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), as the Docker CLI reads them."""
    cert_path = tmp_path / "docker-certs"
    cert_path.mkdir()
    shutil.copy(tls_engine.certs / "ca.pem", cert_path / "ca.pem")
    shutil.copy(tls_engine.certs / "client.pem", cert_path / "cert.pem")
    shutil.copy(tls_engine.certs / "client-key.pem", cert_path / "key.pem")
    # A CA bundle for everything else in the environment must not replace the engine's CA.
    env = {"DOCKER_HOST": tls_engine.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(cert_path),
           "REQUESTS_CA_BUNDLE": str(tls_engine.certs / "rogue-ca.pem"),
           "CURL_CA_BUNDLE": str(tls_engine.certs / "rogue-ca.pem")}
    proc = tls_engine.cli("audit", "--format", "json", "--policies", str(host_policies),
                          "--policy", "cis-docker-5.10", "--policy", "remote-test-*", env=env)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert _offenders(document, "cis-docker-5.10") == {tls_engine.hostnet}
    assert _result(document, "remote-test-daemon-icc")["status"] == "error"
    assert _result(document, "remote-test-daemon-json-mode")["status"] == "error"


def test_client_certificate_from_another_ca_is_one_clear_line(tls_engine: TLSEngine, hullcheck_cli: Any) -> None:
    line = _one_error_line(tls_engine.cli("collect", *tls_engine.tls_args(client="rogue-client")))
    assert "client certificate" in line and tls_engine.url in line, line


def test_missing_client_certificate_is_one_clear_line(tls_engine: TLSEngine, hullcheck_cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "no-default-certs"
    empty.mkdir()
    proc = tls_engine.cli("collect", "--docker-host", tls_engine.url, "--tlsverify",
                         "--tlscacert", str(tls_engine.certs / "ca.pem"), env={"DOCKER_CERT_PATH": str(empty)})
    line = _one_error_line(proc)
    assert "client certificate" in line


def test_engine_certificate_from_an_untrusted_ca_is_refused(tls_engine: TLSEngine, hullcheck_cli: Any) -> None:
    line = _one_error_line(tls_engine.cli("collect", *tls_engine.tls_args(ca="rogue-ca")))
    assert "certificate verification failed" in line


def test_plain_http_to_a_tls_engine_says_to_use_tls(tls_engine: TLSEngine, hullcheck_cli: Any) -> None:
    line = _one_error_line(tls_engine.cli("collect", "--docker-host", tls_engine.url,
                                         env={"DOCKER_TLS_VERIFY": "", "DOCKER_TLS": ""}))
    assert "--tlsverify" in line


def test_named_certificate_file_that_does_not_exist(hullcheck_cli: Any, tmp_path: Path) -> None:
    line = _one_error_line(hullcheck_cli("collect", "--docker-host", "tcp://127.0.0.1:1", "--tlsverify",
                                         "--tlscacert", str(tmp_path / "missing-ca.pem")))
    assert "--tlscacert" in line and "no such file" in line


def test_tls_settings_resolve_like_the_docker_cli(tmp_path: Path) -> None:
    from hullcheck.remote import RemoteSettingsError, TLSFlags, tls_config

    make_certs(tmp_path)
    cert_dir = tmp_path / "dot-docker"
    cert_dir.mkdir()
    shutil.copy(tmp_path / "ca.pem", cert_dir / "ca.pem")
    host = "tcp://127.0.0.1:2376"
    # No TLS asked for: none, even with certificates lying around.
    assert tls_config(host, TLSFlags(), env={"DOCKER_CERT_PATH": str(cert_dir)}) is None
    # DOCKER_TLS_VERIFY: verify against DOCKER_CERT_PATH/ca.pem; absent default client files are left out.
    config = tls_config(host, TLSFlags(), env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(cert_dir)})
    assert config.verify is True and config.ca_cert == str(cert_dir / "ca.pem") and config.cert is None
    # --tls alone encrypts without verifying.
    assert tls_config(host, TLSFlags(tls=True), env={"DOCKER_CERT_PATH": str(cert_dir)}).verify is False
    # Explicit files win over the directory.
    config = tls_config(host, TLSFlags(tlsverify=True, tlscacert=tmp_path / "ca.pem", tlscert=tmp_path / "client.pem",
                                       tlskey=tmp_path / "client-key.pem"), env={"DOCKER_CERT_PATH": str(cert_dir)})
    assert config.cert == (str(tmp_path / "client.pem"), str(tmp_path / "client-key.pem"))
    with pytest.raises(RemoteSettingsError, match="--tlskey"):
        tls_config(host, TLSFlags(tlsverify=True, tlscert=tmp_path / "client.pem"), env={"DOCKER_CERT_PATH": str(cert_dir)})
    with pytest.raises(RemoteSettingsError, match="tcp://"):
        tls_config("unix:///var/run/docker.sock", TLSFlags(tlsverify=True), env={})
    # A unix socket with DOCKER_TLS_VERIFY in the environment (as the Docker CLI) ignores TLS.
    assert tls_config("unix:///var/run/docker.sock", TLSFlags(), env={"DOCKER_TLS_VERIFY": "1"}) is None


def test_ssh_engines_count_as_remote() -> None:
    from collector.snapshot import is_remote

    # What the SDK reports as the base URL for ssh://, unix:// and tcp:// endpoints.
    assert is_remote("http+docker://ssh") and is_remote("ssh://admin@docker-01")
    assert is_remote("https://127.0.0.1:2376") and is_remote("http://10.0.0.5:2375")
    assert not is_remote("http+docker://localhost") and not is_remote("unix:///var/run/docker.sock")


def test_ssh_engine_that_cannot_be_reached_is_one_line(hullcheck_cli: Any) -> None:
    """Without paramiko the SDK has no ssh transport: say how to get it; with it, say what failed.
    With OpenSSH installed, ssh's own complaint is the cause on hullcheck's line, not a second line."""
    import importlib.util
    import shutil

    line = _one_error_line(hullcheck_cli("collect", "--docker-host", "ssh://nobody@127.0.0.1:1"))
    assert "ssh://nobody@127.0.0.1:1" in line
    if importlib.util.find_spec("paramiko") is None:
        assert "pip install 'hullcheck[ssh]'" in line
    elif shutil.which("ssh") is not None:
        assert "(ssh: connect to host 127.0.0.1 port 1: Connection refused)" in line, line
