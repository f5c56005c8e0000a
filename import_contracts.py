"""The import-linter contract type that pyproject.toml registers as `acyclic_modules`.

import-linter 2.17's own `acyclic_siblings` forbids circles between the children of each package
(a subpackage counted with everything below it), but not between a package's __init__.py and a
module inside it (collector/compose/__init__.py importing planned.py while planned.py imports the
package back). This contract looks at modules one by one: no module may reach itself through its
imports, whatever the packages. Every import counts, function-local and TYPE_CHECKING ones too.
It runs only under `lint-imports` (which puts the working directory on sys.path); hullcheck
never imports it.
"""

from __future__ import annotations

from typing import Any

from importlinter import Contract, ContractCheck, fields, output


class AcyclicModulesContract(Contract):
    """No import circle between any modules of `packages`."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        roots = list(self.packages)  # type: ignore[call-overload]
        modules = sorted(m for m in graph.modules if any(m == p or m.startswith(p + ".") for p in roots))
        inside = set(modules)
        edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
        circles = []
        for component in _strongly_connected(modules, edges):
            members = set(component)
            imports = []
            for importer in component:
                for imported in edges[importer]:
                    if imported in members:
                        for detail in graph.get_import_details(importer=importer, imported=imported) or [{}]:
                            imports.append((importer, imported, detail.get("line_number"), detail.get("line_contents", "")))
            circles.append({"modules": component, "imports": imports})
        return ContractCheck(kept=not circles, metadata={"circles": circles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for circle in check.metadata["circles"]:
            output.print_error(f"Import circle between {len(circle['modules'])} modules: {', '.join(circle['modules'])}")
            for importer, imported, line, text in circle["imports"]:
                output.print_error(f"- {importer} -> {imported} (line {line}: {text.strip()})", bold=False)
            output.new_line()


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, without recursion: every group of two or more modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for i in range(position, len(edges[node])):
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((node, i + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found
