"""`hullcheck --version` says which jq build runs the policies; the verdict comes from machine code
(the frame-pointer prologues an -O0 build has and an optimised one omits), checked here on real
shared objects compiled both ways."""

from __future__ import annotations

import platform
import shutil
import subprocess

import pytest

from evaluator import jqbuild

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="the detector reads x86-64 code only")


@pytest.mark.parametrize("flags, expected", [("-O0", False), ("-O2", True)])
def test_the_build_is_told_from_its_machine_code(tmp_path, flags, expected):
    assert shutil.which("gcc"), "gcc is needed (.ci/run installs it)"
    # 400 small functions, like a library: an -O0 build gives each a frame-pointer prologue
    source = "\n".join(f"int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) s += a[j] * {i}; return s; }}"
                       for i in range(400))
    (tmp_path / "lib.c").write_text(source)
    subprocess.run(["gcc", flags, "-shared", "-fPIC", "-o", str(tmp_path / "lib.so"), str(tmp_path / "lib.c")],
                   check=True)
    assert jqbuild.is_optimised(str(tmp_path / "lib.so")) is expected


def test_version_names_the_jq_build(hullcheck_cli):
    proc = hullcheck_cli("--version")
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith("hullcheck ")
    assert second == jqbuild.describe() and second.startswith(f"jq {jqbuild.binding_version()} (")
    assert ("(optimised build)" in second) is (jqbuild.optimised() is True)
