"""Structure figures for issue 12's before/after: import cycles, long modules and functions,
`Any` parameters, function-local imports of pilot_tui. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/structure.py [--list]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pilot_tui", "screens")
LONG_MODULE = 400
LONG_FUNCTION = 60


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _annotation_is_any(node: ast.expr | None) -> bool:
    return node is not None and "Any" in {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name)
    } | {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def scan(path: Path) -> tuple[int, list[str], int, int]:
    """Lines, long functions (name:length), `Any` parameters, local pilot_tui imports."""
    text = path.read_text()
    tree = ast.parse(text)
    long_functions: list[str] = []
    any_params = 0
    local_imports = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > LONG_FUNCTION:
                long_functions.append(f"{node.name}:{length}")
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            params += [a for a in (args.vararg, args.kwarg) if a]
            any_params += sum(_annotation_is_any(a.annotation) for a in params)
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    names = [inner.module or ""]
                elif isinstance(inner, ast.Import):
                    names = [a.name for a in inner.names]
                else:
                    continue
                local_imports += any(n.startswith("pilot_tui") for n in names)
    return len(text.splitlines()), long_functions, any_params, local_imports


def cycles() -> list[tuple[str, ...]]:
    """Strongly connected groups of pilot_tui modules (function-local imports included)."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("pilot_tui", cache_dir=None)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = {m: graph.find_modules_directly_imported_by(m) for m in modules}
    # Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit.
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []
    for root in modules:
        if root in order:
            continue
        work = [(root, iter(sorted(edges[root])))]
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    continue
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], order[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(tuple(sorted(group)))
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--list", action="store_true", help="name the modules and functions")
    ns = parser.parse_args()
    files = sources()
    long_modules: list[str] = []
    long_functions: list[str] = []
    any_params = local_imports = 0
    for path in files:
        lines, functions, anys, locals_ = scan(path)
        name = str(path.relative_to(ROOT))
        if lines > LONG_MODULE:
            long_modules.append(f"{name}:{lines}")
        long_functions += [f"{name}:{f}" for f in functions]
        any_params += anys
        local_imports += locals_
    groups = cycles()
    print(f"files                        {len(files)}")
    print(f"import cycles (groups)       {len(groups)}")
    for group in groups:
        print(f"  {len(group)} modules: {', '.join(group)}")
    print(f"modules > {LONG_MODULE} lines         {len(long_modules)}")
    print(f"functions > {LONG_FUNCTION} lines        {len(long_functions)}")
    print(f"parameters typed Any         {any_params}")
    print(f"function-local pilot_tui imports {local_imports}")
    if ns.list:
        print("\n".join(["", *long_modules, "", *long_functions]))


if __name__ == "__main__":
    main()
