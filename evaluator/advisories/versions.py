"""Ordering the version strings engines report and advisories name.

Two families:

- **upstream releases** of Docker Engine (moby), containerd, runc and BuildKit, as the engine's
  `/version` reports them (`27.1.1`, `1.7.13`, `v1.1.12`, `1.0.0-rc93`), as Go modules name
  them (`v27.1.1+incompatible`, `1.0.0-rc8.0.20190930145003-cad42f6e0932`), and as old Docker
  CE named itself (`18.06.1-ce`, `19.03.0`). Compared like SemVer 2.0 with two corrections that
  matter here: numeric parts with leading zeros are numbers (`19.03.1`, which strict SemVer
  refuses), and pre-release identifiers compare letters and digits naturally, so runc
  `1.0.0-rc10` comes after `1.0.0-rc9` and `1.0.0-rc3`, as it was released (SemVer and Go's
  module ordering compare `rc10` and `rc9` as text and put rc10 first: a range `introduced:
  1.0.0-rc3` would miss runc 1.0.0-rc10). That is why this is written here rather than taken
  from a SemVer library; it is small and tested against every version the shipped data names.
- **distribution packages** (`20.10.24+dfsg1-1+deb12u1`, `1.6.20~ds1-1`, `20.10.21-0ubuntu1~22.04.3`),
  compared by dpkg's rules through python-debian, Debian's own implementation.

A string that cannot be read is a `VersionError`: the policy then says `error` with the string,
never `pass`.
"""

from __future__ import annotations

import re
from functools import lru_cache, total_ordering
from typing import Any

from hullcheck_common.errors import HullcheckError


class VersionError(HullcheckError, ValueError):
    """A version string hullcheck cannot order."""


# MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], an optional leading v. Old Docker releases carry
# -ce / -ee-N after the numbers; Go pseudo-versions are pre-releases (-rc8.0.2019...-cad42f6e0932).
_UPSTREAM = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.~-]+))?(?:\+([0-9A-Za-z.~+-]*))?$")
# Docker CE/EE's own suffixes: not pre-releases but the edition (18.06.1-ce is the release 18.06.1).
_EDITION = re.compile(r"^(ce|ee)(?:[.-]\d+)?$")
_TOKEN = re.compile(r"\d+|[A-Za-z]+|[^0-9A-Za-z]+")


def _natural(identifier: str) -> tuple[tuple[int, int | str], ...]:
    """'rc10' -> ((1, 'rc'), (0, 10)): digits as numbers, letters as text (digits sort first, as in SemVer)."""
    return tuple((0, int(tok)) if tok.isdigit() else (1, tok) for tok in _TOKEN.findall(identifier))


@total_ordering
class Upstream:
    """An upstream release version; compares with another Upstream."""

    __slots__ = ("text", "release", "pre", "build")

    def __init__(self, text: str) -> None:
        self.text = text
        match = _UPSTREAM.match(text.strip())
        if match is None:
            raise VersionError(f"not an upstream release version: {text!r}")
        major, minor, patch, pre, build = match.groups()
        self.release = (int(major), int(minor or 0), int(patch or 0))
        self.build = build or ""
        if pre and _EDITION.match(pre):
            pre = None
        self.pre: tuple[tuple[tuple[int, int | str], ...], ...] | None = (
            tuple(_natural(part) for part in pre.split(".")) if pre else None)

    def key(self) -> tuple:
        # A release sorts after all of its pre-releases; pre-release identifiers compare part by
        # part, a shorter list first when one is the other's prefix (SemVer 11.4.4).
        return (self.release, 1 if self.pre is None else 0, self.pre or ())

    @property
    def branch(self) -> tuple[int, int]:
        return self.release[:2]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Upstream) and self.key() == other.key()

    def __lt__(self, other: Upstream) -> bool:
        return self.key() < other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return f"Upstream({self.text!r})"


@lru_cache(maxsize=8192)
def upstream(text: str) -> Upstream:
    """Upstream(text), remembered: the same range bounds are read for every snapshot of a fleet."""
    return Upstream(text)


# Build metadata an upstream build may carry and still be the release it names: Go's marker for
# modules without go.mod, and Docker's own packaging of containerd (containerd.io reports 1.6.20).
_UPSTREAM_BUILDS = ("", "incompatible")


def is_plain_upstream(version: Upstream) -> bool:
    """True when the string names an upstream release as released: no distribution suffix
    (`+dfsg1`, `~ds1`), no development build (`+dev`)."""
    return version.build in _UPSTREAM_BUILDS and "~" not in version.text


@total_ordering
class DebianVersion:
    """A Debian/Ubuntu package version (epoch:upstream-revision), ordered by dpkg's rules."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        from debian.debian_support import Version

        try:
            Version(text)
        except ValueError as exc:
            raise VersionError(f"not a Debian package version: {text!r} ({exc})") from None
        self.text = text

    def _cmp(self, other: DebianVersion) -> int:
        from debian.debian_support import version_compare

        return int(version_compare(self.text, other.text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DebianVersion) and self._cmp(other) == 0

    def __lt__(self, other: DebianVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"DebianVersion({self.text!r})"


# Either kind: ranges.py orders versions of one kind at a time (never an upstream with a Debian one).
Version = Any


def parse(text: str, scheme: str) -> Version:
    """`scheme` 'upstream' or 'debian' (Debian and Ubuntu ecosystems)."""
    if not isinstance(text, str) or not text:
        raise VersionError(f"no version string ({text!r})")
    return DebianVersion(text) if scheme == "debian" else Upstream(text)
