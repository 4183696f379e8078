"""Structure figures for issue 12's before/after: import cycles, long modules and functions,
`Any` parameters, function-local imports of pilot_tui, branches on a deploy target's kind
outside deploy/targets/ (and the schema that defines the kinds). Prints figures; asserts
nothing.

    .venv/bin/python tests/bench/structure.py [--list]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pilot_tui", "screens")
LONG_MODULE = 400
LONG_FUNCTION = 60
TARGET_KINDS = frozenset({"server", "cloud-run", "lambda", "ecs", "s3-cloudfront", "gcs-cdn"})
KIND_SETS = frozenset({"STATIC_TARGETS", "GCP_TARGETS", "AWS_TARGETS"})
# Names whose values share a word with a kind without being one: teardown's "server" step,
# the welcome screen's "server" action.
NOT_KINDS = frozenset({"step", "action"})
# Where branching on the kind is the job: the targets themselves and the schema's checks.
KIND_HOMES = ("pilot_tui/deploy/targets/", "pilot_tui/config/")


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


def _names_a_kind(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in TARGET_KINDS
    if isinstance(node, ast.Name | ast.Attribute):
        return (node.id if isinstance(node, ast.Name) else node.attr) in KIND_SETS
    if isinstance(node, ast.Set | ast.Tuple | ast.List):
        return any(_names_a_kind(e) for e in node.elts)
    return False


def _name(node: ast.expr) -> str:
    """A variable's or attribute's name (``step``, ``t.step``), else ""."""
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def kind_branches(path: Path, target_classes: frozenset[str]) -> list[str]:
    """Lines that choose by a target's kind: a comparison with a kind's name or a set of
    kinds, an isinstance of a target class, a dict keyed by kinds."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        hit = False
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            hit = any(_names_a_kind(e) for e in operands) and not any(
                _name(e) in NOT_KINDS for e in operands
            )
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
            hit = len(node.args) == 2 and bool(
                {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)} & target_classes
            )
        elif isinstance(node, ast.Dict):
            hit = sum(k is not None and _names_a_kind(k) for k in node.keys) >= 2
        if hit:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def target_classes() -> frozenset[str]:
    """The classes of deploy/ that are one kind's (or one family's) target."""
    names = {"ServerTarget", "CloudRunTarget", "LambdaTarget", "EcsTarget"}
    names |= {"S3CloudFrontTarget", "GcsCdnTarget"}
    for path in (ROOT / "pilot_tui" / "deploy").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith(
                ("Site", "Target", "Function", "Service", "Host", "Run", "Cdn", "CloudFront")
            ):
                names.add(node.name)
    return frozenset(names - {"DockerTarget"})  # the Docker host's address, not a kind


def cycles() -> list[tuple[str, ...]]:
    """Import cycles among pilot_tui modules, found as the layering test finds them."""
    sys.path.insert(0, str(ROOT))
    from tests.unit.test_layering import import_cycles

    return sorted(tuple(sorted(group)) for group in import_cycles())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--list", action="store_true", help="name the modules and functions")
    ns = parser.parse_args()
    files = sources()
    long_modules: list[str] = []
    long_functions: list[str] = []
    any_params = local_imports = 0
    classes = target_classes()
    branches: list[str] = []
    for path in files:
        if not str(path.relative_to(ROOT)).startswith(KIND_HOMES):
            branches += kind_branches(path, classes)
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
    modules = len({b.rsplit(":", 1)[0] for b in branches})
    print(f"kind branches outside targets {len(branches)} in {modules} modules")
    if ns.list:
        print("\n".join(["", *long_modules, "", *long_functions, "", *branches]))


if __name__ == "__main__":
    main()
