"""Shared pieces of the benchmark scripts: machine facts, measuring a process tree, RESULTS.md.

Absolute times on a shared machine are noise; every script measures the things it compares side
by side in one run (interleaved repetitions, medians) and reports ratios. Each script owns one
section of RESULTS.md and rewrites only that section, so refreshing the file is one command per
script.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
CACHE = Path(os.environ.get("HULLCHECK_BENCH_CACHE", "/tmp/hullcheck-bench-cache"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testimage import IMAGE, build_busybox  # noqa: E402  (after the path: the repository's root)

BENCH_LABEL = "hullcheck.bench"


# ---- machine ----------------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    """What the figures were measured on, including the load (the machine is shared)."""
    cpu = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    jq_cli = "absent"
    if shutil.which("jq"):
        jq_cli = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        from importlib.metadata import version

        jq_binding = version("jq")
    except Exception:  # build it
        jq_binding = "absent"
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu.group(1).strip() if cpu else platform.processor() or "unknown",
        "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown",
        "python": platform.python_version(),
        "jq_cli": jq_cli,
        "jq_binding": f"jq {jq_binding} ({jq_build()})",
        "load": load(),
    }


def load() -> str:
    """The 1/5/15-minute load averages, as uptime prints them."""
    return " ".join(_read("/proc/loadavg").split()[:3])


def jq_build() -> str:
    """How the jq binding in use links libjq: the bundled static copy or a shared system libjq."""
    try:
        import jq

        path = jq.__file__
    except Exception:
        return "not importable"
    ldd = subprocess.run(["ldd", path], capture_output=True, text=True).stdout if shutil.which("ldd") else ""
    if "libjq" in ldd:
        lib = re.search(r"libjq\S*\s*=>\s*(\S+)", ldd)
        return f"linked to the system libjq {lib.group(1) if lib else ''}".strip()
    try:
        from importlib.metadata import distribution

        wheel = distribution("jq").read_text("WHEEL") or ""
    except Exception:
        wheel = ""
    from evaluator.jqbuild import optimised

    built = {True: "optimised", False: "unoptimised (-O0)", None: "optimisation unknown"}[optimised()]
    origin = "PyPI manylinux wheel" if "manylinux" in wheel else "built from the sdist"
    return f"{built}, by its machine code; {origin} metadata; bundled libjq"


def machine_line(m: dict[str, str]) -> str:
    return (f"Measured {m['date']} on {m['nproc']} x {m['cpu']}, {m['memory']} RAM; Python {m['python']}; "
            f"{m['jq_cli']} (CLI); {m['jq_binding']}; load average at start {m['load']}.")


# ---- measuring --------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _descendants(pid: int) -> list[int]:
    out = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out.append(int(child))
        out.extend(_descendants(int(child)))
    return out


def _hwm_kib(pid: int) -> int | None:
    match = re.search(r"^VmHWM:\s*(\d+) kB", _read(f"/proc/{pid}/status"), re.M)
    return int(match.group(1)) if match else None


@dataclass
class Run:
    """One measured process (tree): wall time, peak RSS per process, exit code, output."""

    wall: float
    rc: int
    peak_by_pid: dict[int, int] = field(default_factory=dict)  # KiB
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def peak_rss_mib(self) -> float:
        """Sum of each process's own peak (VmHWM): the parent and its jq worker live side by side."""
        return sum(self.peak_by_pid.values()) / 1024


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None,
                 stdout_to: str | None = None, timeout: float = 3600) -> Run:
    """Run a command; sample VmHWM of it and its descendants every few ms until it exits.

    VmHWM is a high-water mark, so a late sample still holds the peak; the last sample of a
    child is taken at most a few ms before it exits."""
    out = open(stdout_to, "wb") if stdout_to else subprocess.PIPE
    peaks: dict[int, int] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in [proc.pid, *_descendants(proc.pid)]:
                hwm = _hwm_kib(pid)
                if hwm is not None and hwm > peaks.get(pid, 0):
                    peaks[pid] = hwm
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        if stdout_to:
            out.close()  # type: ignore[union-attr]
    return Run(wall=wall, rc=proc.returncode, peak_by_pid=peaks, stdout=stdout or b"", stderr=stderr or b"")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


PACKAGES = ("hullcheck", "collector", "evaluator", "hullcheck_common")

_compiled: set[Path] = set()


def bytecode(tree: Path) -> Path:
    """Compile a tree's modules to bytecode once, as `pip install` does for an installed copy.

    A tree run from PYTHONPATH under PYTHONDONTWRITEBYTECODE=1 (set on some machines, this one
    included) would otherwise compile every module from source on every start: ~0.2 s of each
    `audit`, which no installed hullcheck pays. Both sides of a before/after get the same."""
    if tree not in _compiled:
        import compileall

        for package in PACKAGES:
            if (tree / package).is_dir():
                compileall.compile_dir(str(tree / package), quiet=1)
        _compiled.add(tree)
    return tree


def cli_env() -> dict[str, str]:
    """Environment for `python -m hullcheck.cli` from this checkout (not the installed copy), its
    modules compiled to bytecode (bytecode())."""
    return {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(bytecode(REPO))}


def hullcheck_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hullcheck.cli", *args]


# ---- Docker -----------------------------------------------------------------------------------

def before_tree(commit: str) -> Path:
    """A worktree of `commit` in the git-ignored benchmarks/.cache/ (made once, reused): the
    `before` side of the before/after benchmarks."""
    tree = REPO / "benchmarks" / ".cache" / f"before-{commit}"
    if not (tree / "hullcheck" / "cli.py").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--force", "--detach", str(tree), commit],
                       check=True, capture_output=True)
    return bytecode(tree)


def docker_client() -> Any:
    import docker

    client = docker.from_env(timeout=120)
    client.ping()
    return client


def ensure_busybox_image(client: Any) -> str:
    """The FROM-scratch busybox test image (testimage.py, shared with the tests), built when missing."""
    try:
        client.images.get(IMAGE)
        return IMAGE
    except Exception:  # build it
        pass
    try:
        return build_busybox(client, IMAGE)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


class BenchContainers:
    """N running containers labelled hullcheck.bench=<id>, removed on exit (also on Ctrl-C)."""

    def __init__(self, client: Any, count: int, bench_id: str, network: str = "none") -> None:
        # network "none" by default: the shared daemon's default bridge is not always usable here,
        # and the network a container sits on changes nothing in what collection costs.
        self.client, self.count, self.bench_id, self.network = client, count, bench_id, network
        self.containers: list[Any] = []

    def __enter__(self) -> BenchContainers:
        image = ensure_busybox_image(self.client)
        from concurrent.futures import ThreadPoolExecutor

        def start(i: int) -> Any:
            kwargs: dict[str, Any] = {}
            if i % 3 == 0:
                kwargs["mem_limit"] = "64m"
            if i % 5 == 0:
                kwargs["cap_add"] = ["NET_ADMIN"]
            if i % 4 == 0:
                kwargs["restart_policy"] = {"Name": "on-failure", "MaximumRetryCount": 3}
            return self.client.containers.run(image, ["sleep", "3600"], name=f"hc-bench-{self.bench_id}-{i}", detach=True,
                                              labels={BENCH_LABEL: self.bench_id}, environment={"BENCH_SECRET": "x"},
                                              network_mode=self.network, **kwargs)

        try:
            with ThreadPoolExecutor(4) as pool:
                for container in pool.map(start, range(self.count)):
                    self.containers.append(container)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Remove by label too, so a container whose start raised is not left behind.
        try:
            leftover = self.client.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={self.bench_id}"})
        except Exception:
            leftover = self.containers
        for container in leftover:
            try:
                container.remove(force=True, v=True)
            except Exception:  # already gone
                pass


# ---- RESULTS.md -------------------------------------------------------------------------------

HEADER = """# hullcheck benchmarks: results

Written by the scripts in `benchmarks/` (each rewrites only its own section; refresh with
`benchmarks/commands`, `benchmarks/evaluate`, `benchmarks/collect`, `benchmarks/fleet`,
`benchmarks/audit`). The machine
is shared with other workloads, so absolute times are noisy: every ratio below is measured side by
side in one run (interleaved repetitions, medians), and each section records the load.

## Targets (issue 9)

| target | limit |
|---|---|
| evaluate the full pack over 5,000 containers vs the `jq` CLI running the same combined program | <= 1.5x |
| evaluate 5,000 containers vs 500 containers (no superlinear growth) | <= 12x |
| peak RSS of an evaluation (parent + jq worker) | <= 5 x snapshot size + 80 MB |
| `hullcheck collect` of 50 running containers vs bare sequential Engine API calls (whole process) | <= 1.5x |
| `hullcheck audit` of 20 running containers vs docker-bench-security | >= 40x faster |
| fleet throughput, `--jobs 2` vs `--jobs 1` | >= 1.7x |
"""


def update_section(name: str, body: str, path: Path | None = None) -> Path:
    """Replace the section `name` of RESULTS.md (or append it), leaving the others alone."""
    path = path or RESULTS
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2), encoding="utf-8")


def common_args(parser: Any) -> None:
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: checks the script works, in seconds")
    parser.add_argument("--results", default=None,
                        help="RESULTS.md to update (default benchmarks/RESULTS.md; in --smoke mode nothing unless given)")
    parser.add_argument("--json", default=None, help="also write the figures as JSON to this file")


def results_path(args: Any) -> Path | None:
    if args.results:
        return Path(args.results)
    return None if args.smoke else RESULTS


def chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
