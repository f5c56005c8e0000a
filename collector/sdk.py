"""The Docker SDK's optional paramiko, imported only if something uses it.

`docker.transport` imports paramiko whenever it is installed (the `ssh` extra) for the SDK's own
ssh transport. hullcheck reaches ssh:// engines through OpenSSH instead (collector/sshclient.py),
so paramiko's code never runs, yet importing it cost 0.1-0.2 s of every `hullcheck collect` and
`audit` here. `defer("paramiko")` puts a stand-in module in its place: the SDK's `import
paramiko` finds it, and the first attribute anyone reads from it imports the real module, which
then replaces the stand-in. (importlib.util.LazyLoader cannot do this: the `import` statement
reads the module's `__spec__`, which makes LazyLoader load it at once.)

requests imports charset_normalizer (~20 ms) to guess the encoding of answers that do not name
one; the Engine API's JSON always does, so it is deferred the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for an installed module that has not been imported yet."""

    __version__: str  # set by defer(version_in=...) only

    def __getattr__(self, attribute: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        return getattr(real, attribute)


def defer(name: str, version_in: str | None = None) -> None:
    """Make `import name` cost nothing until an attribute of the module is first read. A module
    already imported, or not installed, is left alone (the SDK then sees it as it is).

    `version_in`: the package's file that sets `__version__ = "..."`, which the stand-in then
    carries from the start (requests reads charset_normalizer's version at import, to check it);
    when that file says nothing so plain, the module is left alone too."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(name, f"{name}, imported on first use (collector/sdk.py)")
    stand_in.__spec__ = spec
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    if version_in is not None:
        version = _literal_version(stand_in.__path__, version_in)
        if version is None:
            return
        stand_in.__version__ = version
    sys.modules[name] = stand_in


def _literal_version(locations: list[str], filename: str) -> str | None:
    import os
    import re

    for location in locations:
        try:
            with open(os.path.join(location, filename), encoding="utf-8") as fh:
                match = re.search(r'^__version__ = "([0-9][0-9A-Za-z.+-]*)"$', fh.read(), re.M)
        except OSError:
            continue
        return match.group(1) if match else None
    return None
