"""The words of the advisory data, in one small module (the matching imports it, not the builder)."""

from __future__ import annotations

COMPONENTS = ("engine", "containerd", "runc")
TITLES = {"engine": "Docker Engine", "containerd": "containerd", "runc": "runc", "buildkit": "BuildKit"}
FORMAT = "hullcheck-advisories/1"
