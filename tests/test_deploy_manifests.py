"""The shipped systemd units and Kubernetes manifest: valid for their tools, and as locked down as promised.

systemd: `systemd-analyze verify` (it parses every setting and checks that ExecStart's program
exists, so the test points a copy at this environment's hullcheck), and any warning counts.
Kubernetes: every document is checked in strict mode (unknown fields refused) against the
Kubernetes OpenAPI schemas that kubernetes-validate carries offline; then the security promises of
docs/fleets.md ("A Kubernetes DaemonSet") are checked on the parsed manifest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "deploy" / "systemd"
MANIFEST = REPO / "deploy" / "kubernetes" / "hullcheck-daemonset.yaml"
HULLCHECK = f"{sys.executable} -m hullcheck.cli"  # an executable that exists here, for verify's check
INSTALLED_AT = "/opt/hullcheck/venv/bin/hullcheck"


def _verify(directory: Path) -> subprocess.CompletedProcess[str]:
    units = sorted(str(p) for p in directory.iterdir() if p.suffix in (".service", ".timer"))
    return subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=120,
                          cwd=directory)


def _copy_units(tmp_path: Path, edit: Any = None) -> Path:
    out = tmp_path / "units"
    out.mkdir()
    for unit in SYSTEMD.iterdir():
        text = unit.read_text().replace(INSTALLED_AT, HULLCHECK)
        (out / unit.name).write_text(edit(unit.name, text) if edit else text)
    return out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_units_verify(tmp_path: Path) -> None:
    service = (SYSTEMD / "hullcheck-collect.service").read_text()
    assert f"ExecStart={INSTALLED_AT} collect --output /var/lib/hullcheck/%H.json" in service
    assert "StateDirectory=hullcheck" in service and "PrivateNetwork=yes" in service
    assert "ProtectSystem=strict" in service
    assert "Unit=hullcheck-collect.service" in (SYSTEMD / "hullcheck-collect.timer").read_text()
    done = _verify(_copy_units(tmp_path))
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_guard_unit_starts_before_docker_and_keeps_restarting(tmp_path: Path) -> None:
    """dockerd will not start, nor answer, without the plugin it names: ordered before it,
    ready only once serving (Type=notify), restarted at once and without a start limit."""
    from configparser import ConfigParser

    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((SYSTEMD / "hullcheck-guard.service").read_text())
    assert unit["Unit"]["Before"] == "docker.service" and unit["Unit"]["StartLimitIntervalSec"] == "0"
    service = unit["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "always"
    assert service["ExecStart"].startswith(f"{INSTALLED_AT} guard --name hullcheck --enforce ")
    assert service["RuntimeDirectory"] == "docker/plugins" and service["RuntimeDirectoryPreserve"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["PrivateNetwork"] == "yes"
    assert unit["Install"]["WantedBy"] == "docker.service"
    done = _verify(_copy_units(tmp_path))
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt setting is reported."""
    broken = _copy_units(tmp_path, lambda name, text: text.replace("OnCalendar=daily", "OnCalendar=dialy"))
    done = _verify(broken)
    assert done.returncode != 0 or done.stderr.strip(), "systemd-analyze accepted a bad calendar spec"


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def test_kubernetes_manifest_matches_the_openapi_schema() -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is a test dependency")
    documents = _documents()
    assert sorted(d["kind"] for d in documents) == ["DaemonSet", "Namespace", "NetworkPolicy", "ServiceAccount"]
    for document in documents:
        kv.validate(document, kv.latest_version(), strict=True)
    broken = next(d for d in _documents() if d["kind"] == "DaemonSet")
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readonly"] = True  # a typo
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


def test_kubernetes_daemonset_is_read_only_and_offline() -> None:
    by_kind = {d["kind"]: d for d in _documents()}
    pod = by_kind["DaemonSet"]["spec"]["template"]
    spec = pod["spec"]
    assert spec["hostNetwork"] is False and spec["hostPID"] is False and spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["host-root"]["hostPath"]["path"] == "/" and mounts["host-root"]["readOnly"] is True
    assert volumes["docker-socket"]["hostPath"]["type"] == "Socket" and mounts["docker-socket"]["readOnly"] is True
    assert volumes["snapshots"]["hostPath"]["path"] == "/var/lib/hullcheck"
    assert not mounts["snapshots"].get("readOnly")  # the one place it writes
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False and context["capabilities"]["drop"] == ["ALL"]
    assert "--host-root /host" in container["args"][0] and "/var/lib/hullcheck/" in container["args"][0]
    policy = by_kind["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in policy and "egress" not in policy  # no rule: deny all, both ways
    namespace = by_kind["Namespace"]["metadata"]["name"]
    assert all(d["metadata"].get("namespace", namespace) == namespace for d in by_kind.values())
