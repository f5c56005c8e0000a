"""Compose files nobody here wrote: every file of the public corpora collects (or is refused
exactly where Compose refuses it), and for a committed sample the planned containers say what
the files say. The corpora are fetched by `scripts/fetch-corpus compose` into .cache/corpora/compose
(the full run skips without it); the sample under tests/data/compose-corpus is committed
(attribution in its ATTRIBUTION.md)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector import dumps
from collector.compose import ComposeOptions, collect_compose
from collector.compose.normalize import parse_port
from hullcheck_common.errors import HullcheckError

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "corpora" / "compose"
SAMPLE = REPO / "tests" / "data" / "compose-corpus"
_NAMED = re.compile(r"^(docker-)?compose[^/]*\.ya?ml$", re.I)

# Files of the corpora that Compose v2 refuses too (the corpus path, the reason, part of our message).
REFUSED = {
    # Duplicate entries in a list-form environment: the specification's schema says uniqueItems.
    "Haxxnet+Compose-Examples/examples/kutt/docker-compose.yml":
        "invalid services.kutt.environment: duplicate entry 'DB_FILENAME=/var/lib/kutt/data.sqlite'",
    "Haxxnet+Compose-Examples/examples/upsnap/docker-compose.yml":
        "invalid services.upsnap.environment: duplicate entry 'TZ=Europe/Berlin'",
    # Compose v2's own tests of its errors.
    "docker+compose/pkg/e2e/fixtures/env_file/compose.yaml": "env_file /doesnotexist/.env not found",
    "docker+compose/pkg/e2e/fixtures/wrong-composefile/compose.yaml": "unknown key 'wrongField' in services.simple",
    "docker+compose/pkg/e2e/testdata/TestUpContainerNameConflict/compose.yaml":
        "invalid services.test.container_name: '' does not match",
    "docker+compose/pkg/e2e/testdata/TestUpImageID/compose.yaml": "required variable ID is unset",
    # Compose's consistency check: a service needs an image or a build. Read in an empty
    # environment (as here), `image: ${VAR}` is empty; an override file read alone has no image.
    "docker+compose/pkg/e2e/testdata/TestLocalComposeConfigNoConsistency/compose.yaml":
        "has neither an image nor a build context specified",
    "docker+compose/pkg/e2e/testdata/TestUpWithBuildDependencies/compose.yaml":
        "service bar has neither an image nor a build context specified",
    "docker+compose/pkg/e2e/testdata/TestImagesAfterImageRemoved/compose.yaml":
        "service app has neither an image nor a build context specified",
    "docker+compose/pkg/e2e/fixtures/publish/oci/compose-override.yaml":
        "service app has neither an image nor a build context specified",
    # A build whose Dockerfile BuildKit refuses: `docker compose build` fails on it as the plan does.
    "docker+compose/pkg/e2e/fixtures/wrong-composefile/build-error.yml": "unknown instruction: WRONG",
}


def compose_files(root: Path) -> list[Path]:
    """The Compose files of a tree: named like one, or YAML with a top-level services: key."""
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            continue
        if _NAMED.match(path.name) or re.search(r"^services:", path.read_text(errors="replace"), re.M):
            out.append(path)
    return out


def _collect(path: Path, **options: Any) -> dict[str, Any]:
    return collect_compose(ComposeOptions(files=[str(path)], **{"environ": {}, "profiles": ["*"], **options}))


@pytest.mark.skipif(not CACHE.is_dir(), reason="corpora not fetched: run scripts/fetch-corpus compose "
                                              "(the committed sample is tested by the other tests here)")
def test_every_file_of_the_corpora_collects():
    counts: dict[str, list[int]] = {}
    unexpected = []
    for corpus in sorted(p for p in CACHE.iterdir() if p.is_dir()):
        tally = counts.setdefault(corpus.name, [0, 0, 0])
        for path in compose_files(corpus):
            key = path.relative_to(CACHE).as_posix()
            try:
                snap = _collect(path)
            except HullcheckError as exc:
                message = str(exc)
                expected = REFUSED.get(key)
                if expected is None or expected not in message:
                    unexpected.append(f"{key}: {message}")
                else:
                    tally[1] += 1
                continue
            if key in REFUSED:
                unexpected.append(f"{key}: collected, but Compose refuses it ({REFUSED[key]})")
            tally[0] += 1
            tally[2] += len(snap["containers"])
    print("corpus: files collected / refused as Compose refuses them / planned containers")
    for name, (ok, refused, containers) in counts.items():
        print(f"  {name}: {ok} / {refused} / {containers}")
    assert not unexpected, "\n".join(unexpected)
    assert sum(c[0] for c in counts.values()) >= 400, counts


def test_every_sample_file_collects():
    files = compose_files(SAMPLE)
    assert len(files) >= 9
    for path in files:
        snap = _collect(path)
        assert snap["containers"], path


def _inspect(path: str, **options: Any) -> dict[str, dict[str, Any]]:
    snap = _collect(SAMPLE / path, **options)
    return {c["planned"]["service"]: c["inspect"] for c in snap["containers"]}


def _mounts(inspect: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    return {(m["Type"], m.get("Name") or m["Source"], m["Destination"], m["RW"]) for m in inspect["Mounts"]}


def _ports(inspect: dict[str, Any]) -> dict[str, list[str]]:
    return {k: [f"{b['HostIp']}:{b['HostPort']}" for b in v] for k, v in inspect["HostConfig"]["PortBindings"].items()}


def test_sample_plans_say_what_the_files_say():
    # Expectations read off each file by hand: network mode, privileged, capabilities, mounts,
    # published ports, user, read-only root.
    base = SAMPLE / "awesome-compose"
    app = _inspect("awesome-compose/nginx-golang-mysql/compose.yaml")
    assert _mounts(app["proxy"]) == {("bind", str(base / "nginx-golang-mysql/proxy/nginx.conf"),
                                      "/etc/nginx/conf.d/default.conf", False)}
    assert _mounts(app["db"]) == {("volume", "nginx-golang-mysql_db-data", "/var/lib/mysql", True),
                                  ("bind", str(base / "nginx-golang-mysql/db/password.txt"), "/run/secrets/db-password", False)}
    assert ("bind", str(base / "nginx-golang-mysql/db/password.txt"), "/run/secrets/db-password", False) in _mounts(app["backend"])
    assert _ports(app["proxy"]) == {"80/tcp": [":80"]} and app["db"]["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert app["db"]["Config"]["Healthcheck"]["Test"][1].startswith("mysqladmin ping")
    for inspect in app.values():
        assert inspect["HostConfig"]["NetworkMode"] == "nginx-golang-mysql_default"
        assert not inspect["HostConfig"]["Privileged"] and not inspect["HostConfig"]["ReadonlyRootfs"]
        assert inspect["HostConfig"]["CapAdd"] is None and inspect["Config"]["User"] == ""

    dns = _inspect("awesome-compose/pihole-cloudflared-DoH/compose.yaml")
    assert dns["pihole"]["HostConfig"]["CapAdd"] == ["NET_ADMIN"]
    assert _ports(dns["pihole"]) == {"53/tcp": [":53"], "53/udp": [":53"], "67/udp": [":67"], "80/tcp": [":8080"],
                                     "443/tcp": [":8443"]}
    assert _mounts(dns["pihole"]) == {("bind", "/etc/pihole", "/etc/pihole/", True),
                                      ("bind", "/etc/dnsmasq.d", "/etc/dnsmasq.d/", True)}
    assert dns["cloudflared"]["NetworkSettings"]["Networks"]["pihole-cloudflared-doh_dns-net"]["IPAddress"] == "172.20.0.2"
    assert dns["pihole"]["Name"] == "/pihole" and dns["pihole"]["HostConfig"]["NetworkMode"] == "pihole-cloudflared-doh_dns-net"

    portainer = _inspect("awesome-compose/portainer/compose.yaml")["portainer"]
    assert ("bind", "/var/run/docker.sock", "/var/run/docker.sock", True) in _mounts(portainer)
    assert portainer["Config"]["Cmd"] == ["-H", "unix:///var/run/docker.sock"] and _ports(portainer) == {"9000/tcp": [":9000"]}

    traefik = _inspect("awesome-compose/traefik-golang/compose.yaml")
    assert ("bind", "/var/run/docker.sock", "/var/run/docker.sock", True) in _mounts(traefik["frontend"])
    assert traefik["backend"]["Config"]["Labels"]["traefik.enable"] == "true"

    wireguard = _inspect("awesome-compose/wireguard/compose.yaml")["wireguard"]
    assert wireguard["HostConfig"]["CapAdd"] == ["NET_ADMIN", "SYS_MODULE"]
    assert ("bind", "/lib/modules", "/lib/modules", True) in _mounts(wireguard)
    assert _ports(wireguard) == {"51820/udp": [":51820"]}
    assert wireguard["HostConfig"]["Sysctls"] == {"net.ipv4.conf.all.src_valid_mark": "1"}

    plex = _inspect("awesome-compose/plex/compose.yaml")["plex"]
    assert plex["HostConfig"]["NetworkMode"] == "host" and plex["NetworkSettings"]["Networks"] == {"host": {"NetworkID": plex["NetworkSettings"]["Networks"]["host"]["NetworkID"]}}
    assert _mounts(plex) == {("bind", "/media/your/plex/path", "/media/", True)}  # from its .env

    nets = _inspect("docker-compose/fixtures/network-test/compose.yaml")
    assert nets["mydb"]["HostConfig"]["NetworkMode"] == "service:db"
    assert set(nets["db"]["NetworkSettings"]["Networks"]) == {"network-test_dbnet", "closenamenet", "closenamenet-2"}
    assert set(nets["web"]["NetworkSettings"]["Networks"]) == {"microservices"} and nets["web"]["HostConfig"]["Init"] is True
    assert _ports(nets["words"]) == {"8080/tcp": [":"]}


def test_sample_secret_from_environment_through_include():
    snap = _collect(SAMPLE / "docker-compose/testdata/TestSecretFromEnv/compose.yaml")
    by = {c["planned"]["service"]: c for c in snap["containers"]}
    assert by["foo"]["planned"]["compose"]["secrets"] == [
        {"source": "secret", "target": "/run/secrets/bar", "from": "environment", "variable": "SECRET",
         "uid": "1005", "gid": "1005", "mode": 0o440}]
    assert by["included"]["planned"]["compose"]["secrets"][0]["target"] == "/run/secrets/my-secret"
    assert "this-is-secret" not in dumps(snap)
    assert not [m for c in by.values() for m in c["inspect"]["Mounts"]]  # copied in by Compose, not mounted


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (1.29) is not installed")
@pytest.mark.parametrize("project", ["pihole-cloudflared-DoH", "plex", "portainer", "wireguard"])
def test_sample_agrees_with_docker_compose_config(project):
    """Where docker-compose 1.29 agrees with the specification (these files use nothing where they
    differ), its `config` gives the same ports, mounts, capabilities and modes."""
    directory = SAMPLE / "awesome-compose" / project
    done = subprocess.run(["docker-compose", "config"], capture_output=True, text=True, cwd=directory,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    theirs = yaml.safe_load(done.stdout)["services"]
    ours = _inspect(f"awesome-compose/{project}/compose.yaml")
    assert set(theirs) == set(ours)
    for name, service in theirs.items():
        inspect = ours[name]
        ports = [e for p in service.get("ports") or [] for e in parse_port(p, None)]
        assert sorted(f"{p['target']}/{p['protocol']}" for p in ports) == \
            sorted(k for k, v in inspect["HostConfig"]["PortBindings"].items() for _ in v)
        assert sorted(str(p["published"]) for p in ports) == \
            sorted(b["HostPort"] for v in inspect["HostConfig"]["PortBindings"].values() for b in v)
        mounts = sorted(str(v).split(":")[1] if isinstance(v, str) else v["target"] for v in service.get("volumes") or [])
        assert mounts == sorted(m["Destination"].rstrip("/") or "/" for m in inspect["Mounts"]) or \
            mounts == sorted(m["Destination"] for m in inspect["Mounts"])
        assert sorted(service.get("cap_add") or []) == sorted(inspect["HostConfig"]["CapAdd"] or [])
        assert bool(service.get("privileged")) == inspect["HostConfig"]["Privileged"]
        assert bool(service.get("read_only")) == inspect["HostConfig"]["ReadonlyRootfs"]
        assert str(service.get("user") or "") == inspect["Config"]["User"]
        if service.get("network_mode"):
            assert service["network_mode"] == inspect["HostConfig"]["NetworkMode"]
