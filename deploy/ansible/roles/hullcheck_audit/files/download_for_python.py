"""`pip download` of hullcheck's wheels for a host's Python, which need not be the controller's.

    python3 download_for_python.py PYTHON GLIBC [pip download arguments...]
    python3 download_for_python.py 3.9 2.28 --dest WHEELHOUSE hullcheck-0.1.0-py3-none-any.whl

- Python: pip's --python-version decides which wheels (their cp39 tags) and which releases
  (their Requires-Python) fit, but pip evaluates environment markers (`click>=8.2.1;
  python_version >= "3.10"`) against the Python running it (pypa/pip#11198, still so in pip 26):
  a 3.11 controller would choose typer 0.28 and click 8.2 for a 3.9 host, which need 3.10. This
  runs the same pip with the target version's python_version, python_full_version and
  implementation_version markers.
- glibc: without --platform pip takes the controller's own glibc, and a controller with glibc
  2.34 would fetch manylinux_2_34 wheels that a Debian 11 host (glibc 2.31) cannot install. The
  wheels chosen here run on any glibc from GLIBC on (manylinux tags up to it), on the
  controller's CPU architecture; the other platform markers stay the controller's.

Used by tasks/main.yml ("Add the dependencies' wheels for every supported Python").
"""

from __future__ import annotations

import platform
import sys


def platforms(glibc: str, arch: str) -> list[str]:
    """Every manylinux tag a wheel for glibc <= GLIBC carries (the legacy names too), for pip's --platform."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2 or minor < 5:
        raise SystemExit(f"download_for_python: glibc {glibc}: expected 2.5 or newer, e.g. 2.28")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    tags += [f"{legacy}_{arch}" for legacy, floor in (("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5))
             if minor >= floor]
    return tags


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    version, glibc, rest = argv[0], argv[1], argv[2:]
    full = version if version.count(".") >= 2 else f"{version}.0"  # as pip reads --python-version 3.9: 3.9.0

    from pip._vendor.packaging import markers

    controller = markers.default_environment

    def target() -> dict[str, str]:
        environment = dict(controller())
        environment.update(python_version=".".join(full.split(".")[:2]), python_full_version=full,
                           implementation_version=full)
        return environment

    markers.default_environment = target  # type: ignore[assignment]
    from pip._internal.cli.main import main as pip

    tags = [arg for tag in platforms(glibc, platform.machine()) for arg in ("--platform", tag)]
    return pip(["download", "--disable-pip-version-check", "--only-binary", ":all:", "--python-version", version,
                "--implementation", "cp", *tags, *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
