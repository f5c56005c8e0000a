"""The Docker SDK's optional paramiko, imported only if something uses it.

`docker.transport` imports paramiko whenever it is installed (the `ssh` extra) for the SDK's own
ssh transport. hullcheck reaches ssh:// engines through OpenSSH instead (collector/sshclient.py),
so paramiko's code never runs, yet importing it cost 0.1-0.2 s of every `hullcheck collect` and
`audit` here. `defer("paramiko")` puts a stand-in module in its place: the SDK's `import
paramiko` finds it, and the first attribute anyone reads from it imports the real module, which
then replaces the stand-in. (importlib.util.LazyLoader cannot do this: the `import` statement
reads the module's `__spec__`, which makes LazyLoader load it at once.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for an installed module that has not been imported yet."""

    def __getattr__(self, attribute: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        return getattr(real, attribute)


def defer(name: str) -> None:
    """Make `import name` cost nothing until an attribute of the module is first read. A module
    already imported, or not installed, is left alone (the SDK then sees it as it is)."""
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
    sys.modules[name] = stand_in
