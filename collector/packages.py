"""Which package provides the engine's binaries (dockerd or podman, containerd, runc), read-only.

CIS 1.2.2 needs to tell a distribution's build (Debian's docker.io 20.10.24+dfsg1-1+deb12u1,
Fedora's moby-engine) from an upstream one (Docker's docker-ce and containerd.io, a static
binary no package owns): a distribution may carry backported fixes under an old number. The
package managers' own databases are read as files; no package manager is run:

- dpkg (Debian, Ubuntu): /var/lib/dpkg/info/<package>[:<arch>].list name the files each package
  installed (the likely packages are read first, then, as `dpkg -S` does, every list), and
  /var/lib/dpkg/status gives the package's version and source package;
- rpm (Fedora, RHEL 9, Amazon Linux 2023, openSUSE): the SQLite database
  (/var/lib/rpm/rpmdb.sqlite or /usr/lib/sysimage/rpm/rpmdb.sqlite), opened read-only and
  immutable, its Basenames index and the package's header (NAME, VERSION, RELEASE, EPOCH, ARCH,
  SOURCERPM, and the file's directory to be sure). The Berkeley DB and NDB formats of older
  releases are not read: the snapshot says so, and 1.2.2 then leaves the build to a person.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from .errors import ErrorLog
from .files import BINARY_DIRS
from .hostfs import HostFS

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_INFO = "/var/lib/dpkg/info"
RPM_SQLITE = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
RPM_OLD = ("/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages.db")
# Packages that usually provide a component: their file lists are read first.
LIKELY = ("docker.io", "docker-ce", "docker-ee", "moby-engine", "docker", "docker-engine", "containerd", "containerd.io",
          "runc", "podman", "crun", "conmon", "docker.io-app", "containerd-app", "runc-app", "moby-containerd", "moby-runc")
MAX_LIST_BYTES = 64 * 1024 * 1024


def _path_variants(fs: HostFS, path: str) -> list[str]:
    """The names a package database may know a binary by: as found, resolved, with or without /usr."""
    out = [path]
    try:
        out.append(fs.realpath(path))
    except OSError:
        pass
    for p in list(out):
        if p.startswith("/usr/"):
            out.append(p[len("/usr"):])
        elif p.startswith(("/bin/", "/sbin/", "/lib/")):
            out.append("/usr" + p)
    seen: list[str] = []
    for p in out:
        if p not in seen:
            seen.append(p)
    return seen


def _find_binary(fs: HostFS, name: str) -> str | None:
    for directory in BINARY_DIRS:
        if fs.exists(f"{directory}/{name}"):
            return f"{directory}/{name}"
    return None


def binaries(daemon: dict[str, Any], processes: list[dict[str, Any]] | None, info: dict[str, Any] | None,
             fs: HostFS, libpod_info: dict[str, Any] | None = None) -> dict[str, tuple[str | None, str]]:
    """component -> (path, how it was found) for the engine's daemon, containerd and the OCI runtime."""
    out: dict[str, tuple[str | None, str]] = {}
    kind = daemon.get("kind") or "docker"
    process = daemon.get("process") or {}
    exe = str(process.get("exe") or "").removesuffix(" (deleted)") or None
    engine = "podman" if kind == "podman" else "engine"
    out[engine] = (exe, f"the running {'podman service' if kind == 'podman' else 'dockerd'} (pid {process.get('pid')})") \
        if exe else (_find_binary(fs, "podman" if kind == "podman" else "dockerd"), "found in the usual directories")
    if kind != "podman":
        running = next((p for p in processes or [] if os.path.basename(str(p.get("exe") or "")).removesuffix(" (deleted)")
                        == "containerd"), None)
        if running is not None:
            out["containerd"] = (str(running["exe"]).removesuffix(" (deleted)"), f"the running containerd (pid {running.get('pid')})")
        else:
            out["containerd"] = (_find_binary(fs, "containerd"), "found in the usual directories")
    runtimes = (info or {}).get("Runtimes") if isinstance((info or {}).get("Runtimes"), dict) else {}
    oci = ((libpod_info or {}).get("host") or {}).get("ociRuntime") if kind == "podman" else None
    if isinstance(oci, dict) and oci.get("path"):
        name = str(oci.get("name") or os.path.basename(str(oci["path"])))
        out["runc" if name == "runc" else name] = (str(oci["path"]), "the OCI runtime Podman reports (libpod info)")
    else:
        default = (info or {}).get("DefaultRuntime") or "runc"
        runtime = runtimes.get(default) if isinstance(runtimes, dict) else None
        path = runtime.get("path") if isinstance(runtime, dict) else None
        path = str(path) if isinstance(path, str) and path else "runc"
        if not path.startswith("/"):
            path = _find_binary(fs, path) or path
        out["runc"] = (path if path.startswith("/") else None, f"the engine's default runtime ({default})")
    conmon = ((libpod_info or {}).get("host") or {}).get("conmon") if kind == "podman" else None
    if isinstance(conmon, dict) and conmon.get("path"):
        out["conmon"] = (str(conmon["path"]), "the conmon Podman reports (libpod info)")
    return out


# ---- dpkg ---------------------------------------------------------------------------------------

class _Dpkg:
    def __init__(self, fs: HostFS) -> None:
        self.fs = fs
        self._lists: dict[str, set[str]] = {}

    def _list(self, name: str) -> set[str]:
        if name not in self._lists:
            text = self.fs.read_text_or_none(f"{DPKG_INFO}/{name}.list") or ""
            self._lists[name] = set(text.splitlines())
        return self._lists[name]

    def owner(self, variants: list[str]) -> str | None:
        """The package (with :arch when dpkg names it so) whose file list holds one of the paths."""
        names = [os.path.basename(p)[: -len(".list")] for p in self.fs.list_dir(DPKG_INFO) if p.endswith(".list")]
        likely = [n for n in names if n.split(":")[0] in LIKELY]
        for name in likely:
            if any(v in self._list(name) for v in variants):
                return name
        total = 0
        for name in names:  # as `dpkg -S` does: every list, read once
            if name in likely:
                continue
            files = self._list(name)
            total += sum(len(f) + 1 for f in files)
            if any(v in files for v in variants):
                return name
            if total > MAX_LIST_BYTES:
                break
        return None

    def stanza(self, package: str) -> dict[str, str] | None:
        name, _, arch = package.partition(":")
        text = self.fs.read_text(DPKG_STATUS, limit=256 * 1024 * 1024)
        for block in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if line[:1] in (" ", "\t") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key] = value.strip()
            if fields.get("Package") != name or (arch and fields.get("Architecture") not in (arch, "all")):
                continue
            if "installed" not in fields.get("Status", "").split()[-1:]:
                continue
            return fields
        return None


def _dpkg_package(dpkg: _Dpkg, owner: str) -> dict[str, Any] | None:
    fields = dpkg.stanza(owner)
    if fields is None:
        return None
    source, _, source_version = fields.get("Source", "").partition(" ")
    return {"manager": "dpkg", "name": fields["Package"], "version": fields.get("Version"),
            "architecture": fields.get("Architecture"),
            "source": source or fields["Package"],
            "source_version": source_version.strip("()") or fields.get("Version")}


# ---- rpm ----------------------------------------------------------------------------------------

_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1022: "arch", 1044: "sourcerpm",
             1116: "dirindexes", 1117: "basenames", 1118: "dirnames"}


def parse_rpm_header(blob: bytes) -> dict[str, Any]:
    """The tags hullcheck needs from an RPM header blob as rpmdb.sqlite stores it (index count and
    data length, 16-byte index entries, the data store; all big-endian)."""
    count, length = struct.unpack(">II", blob[:8])
    store = 8 + 16 * count
    data = blob[store: store + length]
    out: dict[str, Any] = {}
    for i in range(count):
        tag, kind, offset, items = struct.unpack(">iIiI", blob[8 + 16 * i: 24 + 16 * i])
        name = _RPM_TAGS.get(tag)
        if name is None:
            continue
        if kind in (6, 9):  # STRING, I18NSTRING: NUL-terminated (I18N: the first)
            out[name] = data[offset: data.index(b"\0", offset)].decode("utf-8", "replace")
        elif kind == 8:  # STRING_ARRAY
            values, pos = [], offset
            for _ in range(items):
                end = data.index(b"\0", pos)
                values.append(data[pos:end].decode("utf-8", "replace"))
                pos = end + 1
            out[name] = values
        elif kind == 4:  # INT32
            values = list(struct.unpack(f">{items}i", data[offset: offset + 4 * items]))
            out[name] = values if name == "dirindexes" else values[0]
    return out


def _rpm_owner(fs: HostFS, database: str, variants: list[str]) -> dict[str, Any] | None:
    import sqlite3

    uri = f"file:{fs.resolved(database)}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    try:
        for path in variants:
            directory, base = os.path.split(path)
            rows = connection.execute("SELECT hnum FROM Basenames WHERE key = ?", (base,)).fetchall()
            for (hnum,) in rows:
                row = connection.execute("SELECT blob FROM Packages WHERE hnum = ?", (hnum,)).fetchone()
                if row is None:
                    continue
                header = parse_rpm_header(bytes(row[0]))
                names, dirs, indexes = header.get("basenames") or [], header.get("dirnames") or [], header.get("dirindexes") or []
                if not any(n == base and dirs[i].rstrip("/") == directory for n, i in zip(names, indexes) if i < len(dirs)):
                    continue
                source = str(header.get("sourcerpm") or "")
                return {"manager": "rpm", "name": header.get("name"),
                        "version": "-".join(str(header[k]) for k in ("version", "release") if header.get(k)),
                        "epoch": header.get("epoch"), "architecture": header.get("arch"),
                        "source": source.rsplit("-", 2)[0] if source.count("-") >= 2 else source or None,
                        "source_version": None}
    finally:
        connection.close()
    return None


# ---- together -------------------------------------------------------------------------------------

def collect_packages(fs: HostFS, errors: ErrorLog, daemon: dict[str, Any], processes: list[dict[str, Any]] | None,
                     info: dict[str, Any] | None, libpod_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """host.packages: the package database found, and per component its binary and owning package."""
    manager = database = None
    problem = None
    if fs.is_file(DPKG_STATUS):
        manager, database = "dpkg", DPKG_STATUS
    else:
        database = next((p for p in RPM_SQLITE if fs.is_file(p)), None)
        if database is not None:
            manager = "rpm"
        else:
            old = next((p for p in RPM_OLD if fs.is_file(p)), None)
            if old is not None:
                manager, database = "rpm", old
                problem = f"{old}: an rpm database in Berkeley DB or NDB format, which hullcheck does not read (only rpmdb.sqlite)"
    out: dict[str, Any] = {"manager": manager, "database": database, "error": problem, "components": {}}
    if problem:
        errors.add("/host/packages/components", problem)
    dpkg = _Dpkg(fs) if manager == "dpkg" else None
    for component, (path, how) in binaries(daemon, processes, info, fs, libpod_info).items():
        record: dict[str, Any] = {"path": path, "found": how, "package": None, "error": None}
        out["components"][component] = record
        if path is None:
            record["error"] = "binary not found on the host"
            continue
        if manager is None or problem:
            record["error"] = problem or "no package database (dpkg or rpm) on the host"
            continue
        variants = _path_variants(fs, path)
        try:
            if dpkg is not None:
                owner = dpkg.owner(variants)
                record["package"] = _dpkg_package(dpkg, owner) if owner else None
            else:
                record["package"] = _rpm_owner(fs, str(database), variants)
        except Exception as exc:  # noqa: BLE001 - a database hullcheck cannot read is recorded, never fatal
            record["error"] = f"{database}: {type(exc).__name__}: {exc}"
            errors.add(f"/host/packages/components/{component}", record["error"])
    return out
