"""The runtime import graph of `ais_ray/`: no circles, layers point one way, no private names across modules.

Built from the source with `ast` (module- and function-level imports; `if TYPE_CHECKING:` blocks
do not run, so they are left out). New modules and packages are picked up by walking the tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ais_ray

ROOT = Path(ais_ray.__file__).parent
# Which top-level parts each part may import at runtime (besides itself). Parts not listed
# (e.g. `testing`) may import anything of ours but nothing may import them.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "stats": {"core"},
    "fs": {"core", "stats"},
    "backends": {"core", "stats"},
    "auth": {"core"},  # tokens and the one access check, beside backends: the edges import it
    "ec": {"core", "fs", "stats"},
    "jobs": {"core", "fs", "backends", "ec", "stats"},
    "actors": {"core", "fs", "backends", "ec", "jobs", "stats", "auth"},
    "serve": {"core", "fs", "backends", "ec", "jobs", "actors", "stats", "auth", "client"},  # s3.py: native calls
    "client": {"core"},
    "deploy": {"core", "fs", "backends", "ec", "jobs", "actors", "serve", "stats", "auth"},
    "cli": {"core", "fs", "backends", "ec", "jobs", "actors", "serve", "deploy", "client", "stats", "auth"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modname: str, is_pkg: bool) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import that runs."""
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = modname.split(".") if is_pkg else modname.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    private: list[tuple[str, str, str]] = []
    for mod, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for target, names in _imports(tree, mod, path.name == "__init__.py"):
            if not target.startswith("ais_ray"):
                continue
            for name in names:  # `from ais_ray.x import y` may name a submodule
                if f"{target}.{name}" in files:
                    graph[mod].add(f"{target}.{name}")
                elif name.startswith("_") and not name.startswith("__"):
                    private.append((mod, target, name))
            if target in files:
                graph[mod].add(target)
    return graph, private


def _part(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_graph_sees_every_module() -> None:
    graph, _ = _graph()
    assert "ais_ray.core.smap" in graph and "ais_ray.client.http" in graph
    assert "ais_ray.core.hrw" in graph["ais_ray.core.smap"]


def test_no_import_cycles() -> None:
    graph, _ = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if n.startswith(m + ".") or m.startswith(n + "."):
                continue  # a package and its own submodules: Python resolves these, not a circle
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                dfs(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_layers_point_one_way() -> None:
    graph, _ = _graph()
    bad = []
    for mod, deps in graph.items():
        src = _part(mod)
        for dep in deps:
            dst = _part(dep)
            if not src or not dst or dst == src:
                continue
            if dst == "testing" or (src in ALLOWED and dst not in ALLOWED[src]):
                bad.append(f"{mod} -> {dep}")
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def test_no_private_names_across_modules() -> None:
    _, private = _graph()
    assert not private, "\n".join(f"{m} imports {t}.{n}" for m, t, n in private)
