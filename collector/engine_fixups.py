"""One meaning per field, whichever engine answered: Podman's Docker-compatible API differs from
dockerd's in small ways that make policies judge the wrong thing. Each fix-up here changes the
collected object in place and returns what it replaced, keyed by the JSON Pointer (relative to
the container or image item) of the field it changed, so the snapshot keeps the engine's own
answer beside the normalised one (`raw`).
"""

from __future__ import annotations

import copy
from typing import Any

Raw = dict[str, Any]


def processes(top: Any) -> tuple[dict[str, Any] | None, Raw]:
    """/top rows as lists of columns. Podman 4 answers some rows as one string per process
    ("root 1 0 ... /usr/sbin/sshd -D"), which a policy reading the COMMAND column would miss:
    split each such row into as many columns as there are titles, the last keeping its spaces."""
    if not isinstance(top, dict) or not isinstance(top.get("Processes"), list):
        return top, {}
    titles = top.get("Titles") or []
    rows = top["Processes"]
    if not any(isinstance(row, str) for row in rows):
        return top, {}
    raw = {"/processes": copy.deepcopy(top)}
    width = max(len(titles), 1)
    top["Processes"] = [row.split(None, width - 1) if isinstance(row, str) else row for row in rows]
    return top, raw


def capabilities(inspect: dict[str, Any]) -> Raw:
    """CapAdd/CapDrop as names without CAP_, upper-cased: dockerd keeps what the user typed
    ("CAP_NET_ADMIN" or "net_admin"), Podman strips the prefix."""
    raw: Raw = {}
    host_config = inspect.get("HostConfig")
    if not isinstance(host_config, dict):
        return raw
    for key in ("CapAdd", "CapDrop"):
        caps = host_config.get(key)
        if not isinstance(caps, list):
            continue
        fixed = [c.upper().removeprefix("CAP_") if isinstance(c, str) else c for c in caps]
        if fixed != caps:
            raw[f"/inspect/HostConfig/{key}"] = caps
            host_config[key] = fixed
    return raw


def health_state(inspect: dict[str, Any]) -> Raw:
    """Podman reports `State.Health: {"Status": ""}` for every container, health check or not;
    dockerd has no State.Health without one. An empty status means no health check: drop it."""
    state = inspect.get("State")
    if isinstance(state, dict) and isinstance(state.get("Health"), dict) and not state["Health"].get("Status"):
        return {"/inspect/State/Health": state.pop("Health")}
    return {}


def image_healthcheck(inspect: dict[str, Any], libpod: dict[str, Any] | None) -> Raw:
    """Podman's compat image inspect drops Config.Healthcheck; its libpod inspect keeps it as
    Healthcheck. Put it where dockerd has it."""
    if not isinstance(libpod, dict):
        return {}
    # libpod's ImageData.HealthCheck is serialised as "Healthcheck" (older releases: "HealthCheck").
    check = libpod.get("Healthcheck") or libpod.get("HealthCheck") or ((libpod.get("Config") or {}).get("Healthcheck"))
    config = inspect.setdefault("Config", {}) if isinstance(inspect.get("Config", {}), dict) else None
    if not check or config is None or config.get("Healthcheck"):
        return {}
    raw = {"/inspect/Config/Healthcheck": config.get("Healthcheck")}
    config["Healthcheck"] = check
    return raw


def container(inspect: dict[str, Any]) -> Raw:
    """Every container fix-up; what was replaced, by pointer."""
    return {**capabilities(inspect), **health_state(inspect)}
