"""No import cycles among the project's own modules (gate, rfid, recognition).

A cycle makes start-up order matter and hides design knots (the console importing the
service that builds the console). Read with ``ast`` (nothing is imported), every import
counts, at module level or inside a function, except those under ``if TYPE_CHECKING:``,
which never run. A lazy import inside a function still closes a cycle at run time, so it
is not an escape hatch. One relation is not a cycle: a package importing its own
submodules (``gate.bench`` loading its suites). Python runs a package's ``__init__`` before
any of its submodules whatever the imports say, so that edge is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("gate", "rfid", "recognition")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                walk(branch)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(tree)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports at run time."""
    files = {module_name(p, root): p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the module's own package upwards
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[:len(package) - node.level + 1]
                    base = ".".join([*package, *([base] if base else [])])
                # ``from pkg import mod`` imports the module pkg.mod when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]  # ``import a.b.c`` of a name in a.b
                if target and target != name and not target.startswith(name + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "gate"
    (pkg / "sub").mkdir(parents=True)
    for f in ("__init__.py", "sub/__init__.py", "c.py"):
        (pkg / f).write_text("")
    (pkg / "a.py").write_text("from gate.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("def load() -> None:\n    from . import b\n")
    (pkg / "sub" / "b.py").write_text("def f() -> None:\n    from ..c import x\n")
    (pkg / "c.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    import gate.sub.b\n"
                              "import gate.a\n")
    for other in PACKAGES[1:]:
        (tmp_path / other).mkdir()
    graph = import_graph(tmp_path)
    assert graph["gate.sub.b"] == {"gate.c"}  # relative and lazy imports count
    assert graph["gate.sub"] == set()  # a package loading its own submodule
    assert graph["gate.c"] == {"gate.a"}  # TYPE_CHECKING imports do not
    assert cycles(graph) == [["gate.a", "gate.c", "gate.sub.b"]]
    (pkg / "c.py").write_text("")
    assert cycles(import_graph(tmp_path)) == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "gate.console.app" in graph and "gate.service" in graph
    assert "gate.service" not in graph["gate.console.app"]  # only under TYPE_CHECKING
    assert cycles(graph) == []
