"""Compose as it is written today (the current Compose Specification, Compose v2's behaviour where
docker-compose 1.29 differs), redaction where values are interpolated, and hostile files refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collector import dumps
from collector.compose import ComposeOptions, collect_compose
from collector.compose.keys import RECORDED, SHOWN, TOP_LEVEL
from collector.compose.validate import SCHEMA_PATH


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _plan(root: Path, files: dict[str, str], *, main: str = "compose.yaml", **options: Any) -> dict[str, Any]:
    _write(root, files)
    return collect_compose(ComposeOptions(files=[str(root / main)], **{"environ": {}, **options}))


def _by_service(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["planned"]["service"]: c for c in snap["containers"]}


def test_top_level_name_published_strings_ranges_and_yaml_1_2(tmp_path):
    snap = _plan(tmp_path, {"compose.yaml": """\
name: myapp
services:
  mail:
    image: mail
    ports:
      - 25:25
      - "8000-8002:9000-9002"
      - "7000-7010:80"
      - target: 443
        published: "8443"
        host_ip: 127.0.0.1
        name: https
        app_protocol: https
    read_only: 'false'
    privileged: "no"
    tty: yes
    healthcheck:
      test: ["CMD", "true"]
      retries: $RETRIES
"""}, environ={"RETRIES": "7"})
    (mail,) = snap["containers"]
    inspect = mail["inspect"]
    assert inspect["Name"] == "/myapp-mail-1" and snap["meta"]["source"]["project"] == "myapp"
    bindings = inspect["HostConfig"]["PortBindings"]
    assert bindings["25/tcp"] == [{"HostIp": "", "HostPort": "25"}]  # YAML 1.2: the string 25:25, not 1525
    assert bindings["9001/tcp"] == [{"HostIp": "", "HostPort": "8001"}]
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": "7000-7010"}]  # the engine picks one of the range
    assert bindings["443/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "8443"}]
    assert inspect["HostConfig"]["ReadonlyRootfs"] is False and inspect["HostConfig"]["Privileged"] is False
    assert inspect["Config"]["Tty"] is True and inspect["Config"]["Healthcheck"]["Retries"] == 7
    line = mail["planned"]["positions"]["/inspect/HostConfig/PortBindings/25~1tcp/0"]["line"]
    assert line == 6


def test_networks_default_name_and_string_booleans(tmp_path):
    snap = _plan(tmp_path, {"compose.yaml": """\
services:
  web: {image: web}
  db: {image: db, networks: [back]}
networks:
  default:
    name: shared-net
  back:
    enable_ipv6: 'true'
    internal: "true"
"""})
    by = _by_service(snap)
    web = by["web"]["inspect"]
    assert web["HostConfig"]["NetworkMode"] == "shared-net" and list(web["NetworkSettings"]["Networks"]) == ["shared-net"]
    assert by["db"]["inspect"]["HostConfig"]["NetworkMode"] == f"{tmp_path.name.lower()}_back"


def test_secrets_and_configs_mounted_where_compose_v2_mounts_them(tmp_path):
    snap = _plan(tmp_path, {"compose.yaml": """\
services:
  app:
    image: app
    secrets:
      - db_password
      - source: api_key
        target: api.key
      - source: from_env
    configs:
      - nginx
      - source: nginx
        target: /etc/nginx/nginx.conf
      - inline
secrets:
  db_password: {file: ./secrets/db_password.txt}
  api_key: {file: /etc/hullcheck/api.key}
  from_env: {environment: API_TOKEN}
configs:
  nginx: {file: ./nginx.conf}
  inline: {content: "listen 80;"}
"""}, environ={"API_TOKEN": "not-in-the-snapshot"})
    (app,) = snap["containers"]
    mounts = {m["Destination"]: m for m in app["inspect"]["Mounts"]}
    assert mounts["/run/secrets/db_password"]["Source"] == str(tmp_path / "secrets" / "db_password.txt")
    assert mounts["/run/secrets/api.key"]["Source"] == "/etc/hullcheck/api.key"
    assert mounts["/nginx"]["Source"] == str(tmp_path / "nginx.conf")
    assert mounts["/etc/nginx/nginx.conf"]["Source"] == str(tmp_path / "nginx.conf")
    assert all(m["RW"] is False and m["Type"] == "bind" for m in mounts.values())
    copied = app["planned"]["compose"]
    assert copied["secrets"] == [{"source": "from_env", "target": "/run/secrets/from_env", "from": "environment",
                                  "variable": "API_TOKEN"}]
    assert copied["configs"] == [{"source": "inline", "target": "/inline", "from": "content"}]
    assert "not-in-the-snapshot" not in dumps(snap)
    line = app["planned"]["positions"][f"/inspect/Mounts/{list(mounts).index('/run/secrets/api.key')}"]["line"]
    assert line == 6  # the `- source: api_key` entry


def test_deploy_resources_depends_on_develop_models_and_hooks(tmp_path):
    snap = _plan(tmp_path, {"compose.yaml": """\
services:
  api:
    image: api
    mem_limit: 1g
    deploy:
      replicas: 2
      resources:
        limits: {memory: 256M, cpus: "0.5", pids: 100}
        reservations:
          memory: 64M
          devices: [{capabilities: [gpu], count: 1, driver: nvidia}]
      placement: {constraints: ["node.role==manager"]}
    depends_on:
      db: {condition: service_healthy, restart: "true"}
      cloud: {condition: service_started}
    develop:
      watch: [{path: ./src, action: sync, target: /app}]
    models: [llm]
    post_start:
      - command: chown -R app /data
        user: root
        privileged: true
        environment: {HOOK_TOKEN: abc, MODE: fix}
    use_api_socket: true
  db: {image: db}
  cloud:
    provider: {type: awesomecloud, options: {type: mysql}}
models:
  llm: {model: ai/smollm2}
"""})
    by = _by_service(snap)
    assert [c["planned"]["replica"] for c in snap["containers"] if c["planned"]["service"] == "api"] == [1, 2]
    assert "cloud" not in by  # a provider service is not a container
    api = by["api"]
    host = api["inspect"]["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"], host["MemoryReservation"]) == \
        (256 * 2**20, 500_000_000, 100, 64 * 2**20)  # deploy.resources wins over mem_limit, as in Compose v2
    assert host["DeviceRequests"] == [{"Driver": "nvidia", "Count": 1, "DeviceIDs": None,
                                       "Capabilities": [["gpu"]], "Options": None}]
    assert api["planned"]["positions"]["/inspect/HostConfig/Memory"]["line"] == 8
    socket = [m for m in api["inspect"]["Mounts"] if m["Destination"] == "/var/run/docker.sock"]
    assert socket and socket[0]["Source"] == "/var/run/docker.sock"
    recorded = api["planned"]["compose"]
    assert recorded["depends_on"]["db"] == {"condition": "service_healthy", "restart": True}
    assert recorded["develop"]["watch"][0]["action"] == "sync"
    assert recorded["models"] == {"llm": {"model": "ai/smollm2"}}
    assert recorded["post_start"][0]["privileged"] is True and recorded["post_start"][0]["user"] == "root"
    assert recorded["post_start"][0]["environment"] == {"HOOK_TOKEN": "<redacted>", "MODE": "fix"}
    assert recorded["deploy"] == {"placement": {"constraints": ["node.role==manager"]}}
    assert recorded["providers"] == {"cloud": {"type": "awesomecloud", "options": {"type": "mysql"}}}


def test_include_and_extends_across_files_with_reset_and_override(tmp_path):
    snap = _plan(tmp_path, {
        "compose.yaml": """\
include:
  - sub/compose.yaml
services:
  web:
    extends: {file: common/base.yaml, service: base}
    cap_add: !reset []
    ports: !override ["8080:80"]
""",
        "sub/compose.yaml": "services:\n  worker:\n    image: worker:${TAG}\n    volumes: [./data:/data]\n",
        "sub/.env": "TAG=1.2\n",
        "common/base.yaml": "services:\n  base:\n    image: base\n    cap_add: [NET_ADMIN]\n    ports: ['9090:90']\n"
                            "    volumes: [./conf:/conf:ro]\n",
    })
    by = _by_service(snap)
    worker = by["worker"]["inspect"]
    assert worker["Config"]["Image"] == "worker:1.2"  # the included project's own .env
    assert worker["Mounts"][0]["Source"] == str(tmp_path / "sub" / "data")  # its own project directory
    web = by["web"]["inspect"]
    assert web["HostConfig"]["CapAdd"] is None and list(web["HostConfig"]["PortBindings"]) == ["80/tcp"]
    assert web["Mounts"][0]["Source"] == str(tmp_path / "common" / "conf")  # relative to the extended file
    assert [f["path"] for f in snap["meta"]["source"]["files"]] == \
        [str(tmp_path / p) for p in ("compose.yaml", "sub/compose.yaml", "common/base.yaml")]


def test_redaction_hides_values_where_they_were_interpolated_only(tmp_path):
    snap = _plan(tmp_path, {
        ".env": "DB_PASSWORD=postgres\n",
        "compose.yaml": """\
services:
  postgres:
    image: postgres:16
    container_name: postgres
    volumes: ["./postgres-data:/var/lib/postgresql/data"]
    environment:
      POSTGRES_USER: postgres
      POSTGRES_PASSWORD: ${DB_PASSWORD}
      DATABASE_URL: postgresql://postgres:${DB_PASSWORD}@postgres/postgres
    command: ["postgres", "-c", "password=${DB_PASSWORD}"]
    labels:
      - note=pw is ${DB_PASSWORD}
    healthcheck:
      test: pg_isready -U postgres -d postgres
""",
    })
    (db,) = snap["containers"]
    inspect = db["inspect"]
    assert inspect["Name"] == "/postgres" and inspect["Config"]["Image"] == "postgres:16"
    assert inspect["Mounts"][0]["Source"] == str(tmp_path / "postgres-data")
    # environment values are never in a snapshot (as for a live engine); names stay
    assert sorted(inspect["Config"]["Env"]) == ["DATABASE_URL=<redacted>", "POSTGRES_PASSWORD=<redacted>",
                                                "POSTGRES_USER=<redacted>"]
    assert inspect["Config"]["Cmd"] == ["postgres", "-c", "password=<redacted>"]
    assert inspect["Config"]["Labels"]["note"] == "pw is <redacted>"  # hidden where interpolated
    assert inspect["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "pg_isready -U postgres -d postgres"]
    assert dumps(inspect).count("<redacted>") == 5  # the three Env values, the command and the label only
    plain = collect_compose(ComposeOptions(files=[str(tmp_path / "compose.yaml")], environ={}, redact=False))
    assert "POSTGRES_PASSWORD=postgres" in plain["containers"][0]["inspect"]["Config"]["Env"]


def test_every_key_of_the_specification_is_placed():
    schema = json.loads(SCHEMA_PATH.read_text())
    service_keys = set(schema["$defs"]["service"]["properties"])
    assert service_keys == set(SHOWN) | set(RECORDED), (service_keys ^ (set(SHOWN) | set(RECORDED)))
    assert not set(SHOWN) & set(RECORDED)
    assert set(schema["properties"]) == set(TOP_LEVEL)


HOSTILE = {
    "alias-bomb": ({"compose.yaml": "services:\n  x:\n    image: x\n    x-bomb:\n" + "".join(
        f"      {chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}" if i else '"lol"'] * 9) + "]\n"
        for i in range(9))}, "compose.yaml:10: more than 250,000 values once aliases are expanded"),
    "include-self": ({"compose.yaml": "include: [compose.yaml]\nservices:\n  x: {image: x}\n"},
                     "compose.yaml:1: include loops back: compose.yaml -> compose.yaml"),
    "include-cycle": ({"compose.yaml": "include:\n  - b/compose.yaml\nservices:\n  x: {image: x}\n",
                       "b/compose.yaml": "include:\n  - ../compose.yaml\nservices:\n  y: {image: y}\n"},
                      "b/compose.yaml:2: include loops back: compose.yaml -> b/compose.yaml -> compose.yaml"),
    "extends-cycle": ({"compose.yaml": "services:\n  a:\n    extends: {file: other.yaml, service: b}\n",
                       "other.yaml": "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n"},
                      "other.yaml:3: extends loops back to service 'a'"),
    "nesting": ({"compose.yaml": "services:\n  x:\n    image: x\n    x-deep: " + "[" * 5000 + "]" * 5000 + "\n"},
                "compose.yaml:4: nesting deeper than 64 levels"),
    "oversized": ({"compose.yaml": "services:\n  x: {image: x}\n" + "# padding\n" * 500_000},
                  "compose.yaml: 5 MB is over the 4 MB limit"),
    "spec-rejects": ({"compose.yaml": "services:\n  web:\n    image: x\n    ports:\n      - {target: 80, publish: 8080}\n"},
                     "compose.yaml:5: unknown key 'publish' in services.web.ports.0"),
    "bad-boolean": ({"compose.yaml": "services:\n  web:\n    image: x\n    read_only: 'maybe'\n"},
                    "compose.yaml:4: invalid web.read_only: 'maybe' is not a boolean"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_and_invalid_files_are_one_line_exit_2(case, tmp_path, hullcheck_cli):
    files, expected = HOSTILE[case]
    _write(tmp_path, files)
    out = hullcheck_cli("collect", "--compose", "compose.yaml", "-o", "planned.json", cwd=str(tmp_path))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hullcheck: error: {expected}"), out.stderr
    assert not (tmp_path / "planned.json").exists()
