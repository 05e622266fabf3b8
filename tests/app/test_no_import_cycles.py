"""Imports inside each package point one way: no module imports, directly or through others, a module
that imports it back. Every import counts (function-level and `TYPE_CHECKING` ones too), so a circle
cannot be hidden by moving an import into a function.

The layers between packages are import-linter's job (pyproject.toml); this checks inside them.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("app", "cli", "bench", "engine", "gui", "core", "rt", "dsp", "model", "data", "audio", "midi", "link", "settings", "training")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("lmd_studio", cache_dir=None)


def import_circles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm) among `package`'s
    modules, following only imports between them: each group is one import circle."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    inside = set(modules)
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in inside) for m in modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in modules:
        if module not in order:
            visit(module)
    return circles


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_the_package(graph: grimp.ImportGraph, package: str) -> None:
    circles = import_circles(graph, f"lmd_studio.{package}")
    chains = [graph.find_shortest_chain(group[0], group[1]) for group in circles]
    assert circles == [], f"import circles: {circles} (e.g. {chains})"


def test_the_check_finds_a_circle() -> None:
    """The check itself: a graph with a circle through a function-level import is reported."""
    g = grimp.ImportGraph()
    for name in ("p", "p.root", "p.part", "p.leaf"):
        g.add_module(name)
    g.add_import(importer="p.root", imported="p.part", line_number=1, line_contents="import p.part")
    g.add_import(importer="p.part", imported="p.leaf", line_number=1, line_contents="import p.leaf")
    assert import_circles(g, "p") == []
    g.add_import(importer="p.leaf", imported="p.root", line_number=9, line_contents="    import p.root")
    assert import_circles(g, "p") == [["p.leaf", "p.part", "p.root"]]
