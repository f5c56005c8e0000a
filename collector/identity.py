"""Which engine answers at the endpoint: Docker or Podman, rootful or rootless, and how we know.

Podman serves the Docker API too (`podman system service`), so a client cannot tell the two apart
by the API alone. Podman names itself in GET /version (a "Podman Engine" component) and in a
`Libpod-Api-Version` response header; rootless engines say so in /info (Podman's `Rootless: true`,
Docker's `name=rootless` security option). Everything downstream (which daemon process and
config files are read, how API answers are normalised, which policies apply) follows from this.
"""

from __future__ import annotations

from typing import Any, Mapping

DOCKER = "docker"
PODMAN = "podman"


def identify(version: Mapping[str, Any] | None, info: Mapping[str, Any] | None,
             headers: Mapping[str, str] | None) -> dict[str, Any]:
    """meta.engine: {kind, rootless, version, api_version, identified_by, rootless_by}.

    kind is null only when neither /version nor the ping headers could be read."""
    version = version or {}
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    components = [c for c in version.get("Components") or [] if isinstance(c, dict)]
    podman = next((c for c in components if str(c.get("Name", "")).startswith("Podman")), None)
    kind: str | None
    if podman is not None:
        kind, how = PODMAN, "version-components"
        engine_version = podman.get("Version") or version.get("Version")
    elif "libpod-api-version" in headers:
        kind, how = PODMAN, "libpod-api-version-header"
        engine_version = version.get("Version") or headers["libpod-api-version"]
    elif version or headers:
        kind, how = DOCKER, "version" if version else "ping-headers"
        engine_version = version.get("Version")
    else:
        kind, how, engine_version = None, "unknown", None
    rootless, rootless_by = _rootless(info)
    return {
        "kind": kind,
        "rootless": rootless,
        "version": engine_version,
        "api_version": version.get("ApiVersion") or headers.get("api-version"),
        "libpod_api_version": headers.get("libpod-api-version") if kind == PODMAN else None,
        "identified_by": how,
        "rootless_by": rootless_by,
    }


def _rootless(info: Mapping[str, Any] | None) -> tuple[bool | None, str | None]:
    """Podman's /info has `Rootless`; Docker's lists `name=rootless` among SecurityOptions."""
    if not info:
        return None, None
    if info.get("Rootless") is True:
        return True, "info.Rootless"
    if any("name=rootless" in str(o) for o in info.get("SecurityOptions") or []):
        return True, "info.SecurityOptions"
    return False, "info.Rootless" if "Rootless" in info else "info.SecurityOptions"
