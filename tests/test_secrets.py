"""No planted secret reaches a snapshot or any report format (live engine).

Secrets are planted where users put them: container environment (`-e DB_PASSWORD=...`, and a
harmless-looking name too: every environment value is redacted), a secret-looking command-line
argument (`--password=...`), and an image's `ENV API_KEY=...` and `ENV MOTD=...`. Then `hullcheck collect`, every
format in `evaluator.render.FORMATS` (iterated: new formats are covered without touching this
file) and `hullcheck audit` are searched byte by byte.

Labels are not redacted by hullcheck in general: they are metadata that policies and reports
need (compose project and service) and anyone who can list containers sees them. Do not put
secrets in labels. (Labels with secret-looking names are the collector's redaction rules' business.)
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from evaluator.render import FORMATS

TOKEN = uuid.uuid4().hex[:10]
SECRETS = {
    "env-secret-name": f"EnvPw-{TOKEN}",
    "env-plain-name": f"EnvPlain-{TOKEN}",
    "argv": f"ArgvPw-{TOKEN}",
    "image-env": f"ImgKey-{TOKEN}",
    "image-env-plain": f"ImgPlain-{TOKEN}",
}


@pytest.fixture(scope="module")
def secret_image(docker_client: Any, busybox_image: str) -> Any:
    tag = f"hullcheck-test/secret-env:{TOKEN}"
    dockerfile = (f"FROM {busybox_image}\nENV API_KEY={SECRETS['image-env']}\n"
                  f"ENV MOTD={SECRETS['image-env-plain']}\n").encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True)
    yield tag
    try:
        docker_client.images.remove(tag, force=True)
    except Exception:  # already gone
        pass


def _leaks(blob: bytes) -> list[str]:
    return [where for where, secret in SECRETS.items() if secret.encode() in blob]


@pytest.fixture
def secret_container(docker_client: Any, secret_image: str, session_label: str) -> Any:
    """A running container of the secret image, labelled for this session, removed afterwards."""
    container = docker_client.containers.run(
        secret_image, name=f"hc-{session_label}-secrets", detach=True,
        command=["sh", "-c", "while :; do sleep 1; done", f"--password={SECRETS['argv']}"],
        environment={"DB_PASSWORD": SECRETS["env-secret-name"], "GREETING": SECRETS["env-plain-name"]},
        labels={"hullcheck.test": session_label})
    yield container
    try:
        container.remove(force=True, v=True)
    except Exception:  # already gone
        pass


def test_no_secret_in_snapshot_or_any_report(hullcheck_cli: Callable[..., Any], secret_container: Any,
                                             secret_image: str, session_label: str, tmp_path: Path) -> None:
    label = f"hullcheck.test={session_label}"
    snapshot = tmp_path / "snapshot.json"
    proc = hullcheck_cli("collect", "--label", label, "-o", str(snapshot))
    assert proc.returncode == 0, proc.stderr
    data = snapshot.read_bytes()
    # The container and the image were collected (the search below is not vacuous).
    doc = json.loads(data)
    names = [c["inspect"]["Name"] for c in doc["containers"]]
    assert any(n.endswith("-secrets") for n in names), names
    container = next(c for c in doc["containers"] if c["inspect"]["Name"].endswith("-secrets"))
    assert "DB_PASSWORD=<redacted>" in container["inspect"]["Config"]["Env"]
    assert any(secret_image in (i["inspect"].get("RepoTags") or []) for i in doc["images"])
    assert _leaks(data) == [], "secret in the snapshot"
    assert _leaks(proc.stdout.encode() + proc.stderr.encode()) == []

    outputs = {}
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        proc = hullcheck_cli("evaluate", str(snapshot), "--format", fmt, "-o", str(out), "--verbose")
        if proc.returncode == 2 and "invalid value" in proc.stderr.lower():
            pytest.fail(f"format {fmt} is in FORMATS but the CLI does not accept it: {proc.stderr}")
        assert proc.returncode == 1, (fmt, proc.stderr)  # root containers in the snapshot fail policies
        outputs[fmt] = out.read_bytes() + proc.stdout.encode() + proc.stderr.encode()
        assert outputs[fmt], fmt
    proc = hullcheck_cli("audit", "--label", label, "--format", "json", "--verbose")
    assert proc.returncode == 1, proc.stderr
    outputs["audit"] = proc.stdout.encode() + proc.stderr.encode()
    assert json.loads(proc.stdout)["snapshot"]["containers"] >= 1
    leaks = {fmt: _leaks(blob) for fmt, blob in outputs.items() if _leaks(blob)}
    assert leaks == {}, f"secrets leaked: {leaks}"


def test_secret_search_would_see_a_leak(hullcheck_cli: Callable[..., Any], run_container: Callable[..., Any],
                                        session_label: str, tmp_path: Path) -> None:
    """The same search finds the secret when redaction is switched off: the test above can fail."""
    run_container("unredacted", environment={"DB_PASSWORD": SECRETS["env-secret-name"]})
    snapshot = tmp_path / "raw.json"
    proc = hullcheck_cli("collect", "--no-redact", "--label", f"hullcheck.test={session_label}", "-o", str(snapshot))
    assert proc.returncode == 0, proc.stderr
    assert "env-secret-name" in _leaks(snapshot.read_bytes())
