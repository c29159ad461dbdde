"""The import graph of the cooc package, from its source (no imports run).

Prints, per module, the cooc modules it imports at module level and inside
functions, the cycles of the module-level graph and of the whole graph, and
every import of a ``_``-prefixed name from a sibling module::

    python benchmarks/import_graph.py            # the table
    python benchmarks/import_graph.py --json     # the same as JSON
    python benchmarks/import_graph.py --package ../old/cooc   # another checkout
    python benchmarks/import_graph.py --scan benchmarks       # their private uses
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cooc"


def module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path):
    """``(target module, names, at module level?)`` for each cooc import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cooc" or node.module.startswith("cooc."):
                names = [a.name for a in node.names]
                if node.module == "cooc":  # from cooc import io, parallel
                    for name in names:
                        out.append((f"cooc.{name}", [], id(node) in top))
                else:
                    out.append((node.module, names, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cooc."):
                    out.append((alias.name, [], id(node) in top))
    return out


def private_attributes(path: Path):
    """``(module, name)`` for each ``module._name`` read through a cooc module
    bound by an import (``from cooc import svd`` then ``svd._x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cooc" or node.module.startswith("cooc."):
                for a in node.names:
                    bound[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cooc.") and a.asname:
                    bound[a.asname] = a.name
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__"):
            continue
        target = node.value
        if isinstance(target, ast.Name) and target.id in bound:
            out.append((bound[target.id], attr))
        elif isinstance(target, ast.Attribute):  # cooc.svd._x
            chain = []
            while isinstance(target, ast.Attribute):
                chain.append(target.attr)
                target = target.value
            if isinstance(target, ast.Name) and target.id == "cooc":
                out.append((".".join(["cooc", *reversed(chain)]), attr))
    return out


def function_imports(path: Path) -> int:
    """Import statements of cooc modules made inside functions."""
    return sum(not top for _, _, top in imports_of(path))


def graph(package: Path = PACKAGE):
    modules = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    edges = {}
    private = []
    for name, path in modules.items():
        for target, names, top in imports_of(path):
            if target not in modules or target == name:
                continue
            edges.setdefault(name, {}).setdefault(target, set()).add(
                "module" if top else "function"
            )
            sibling = target.rsplit(".", 1)[0] == name.rsplit(".", 1)[0]
            for n in names:
                if n.startswith("_") and not n.startswith("__") and sibling:
                    private.append((name, target, n))
        for target, n in private_attributes(path):
            if target in modules and target != name:
                private.append((name, target, n))
    return modules, edges, private


def private_uses(folder: Path, package: Path = PACKAGE):
    """``(file, module, name)`` for each private cooc name a folder's scripts
    import or read (``from cooc.svd import _x``, ``svd._x``)."""
    modules = {module_name(p, package) for p in package.rglob("*.py")}
    out = []
    for path in sorted(folder.rglob("*.py")):
        for target, names, _ in imports_of(path):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target in modules:
                    out.append((path.name, target, n))
        for target, n in private_attributes(path):
            if target in modules:
                out.append((path.name, target, n))
    return out


def cycles(edges, kinds):
    """Strongly connected components of more than one module (Tarjan)."""
    adj = {a: [b for b, k in bs.items() if k & kinds] for a, bs in edges.items()}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(adj):
        if v not in index:
            visit(v)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--package",
        type=Path,
        default=PACKAGE,
        help="the cooc folder to read (e.g. of an older checkout)",
    )
    p.add_argument(
        "--scan",
        type=Path,
        action="append",
        default=[],
        help="also list the private cooc names a folder's scripts use (repeatable)",
    )
    args = p.parse_args(argv)
    modules, edges, private = graph(args.package)
    outside = [u for folder in args.scan for u in private_uses(folder, args.package)]
    in_functions = sum(function_imports(path) for path in modules.values())
    result = {
        "edges": {
            a: {b: sorted(k) for b, k in sorted(bs.items())}
            for a, bs in sorted(edges.items())
        },
        "cycles_module_level": cycles(edges, {"module"}),
        "cycles_all": cycles(edges, {"module", "function"}),
        "private_imports": [list(x) for x in private],
        "function_level_imports": sum(
            "function" in k for bs in edges.values() for k in bs.values()
        ),
        "import_statements_in_functions": in_functions,
        "private_uses_outside": [list(x) for x in outside],
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for a, bs in result["edges"].items():
        shown = ", ".join(
            b.removeprefix("cooc.") + ("" if k == ["module"] else " (in functions)")
            for b, k in bs.items()
        )
        print(f"{a.removeprefix('cooc.'):<22} -> {shown}")
    print()
    print(
        f"module pairs imported only or also inside functions: "
        f"{result['function_level_imports']}"
    )
    print(f"import statements of cooc modules inside functions: {in_functions}")
    print(f"cycles at module level: {result['cycles_module_level'] or 'none'}")
    print(f"cycles counting imports inside functions: {result['cycles_all'] or 'none'}")
    print(f"imports of _private names from sibling modules: {len(private)}")
    for a, b, n in private:
        print(f"  {a.removeprefix('cooc.')} <- {b.removeprefix('cooc.')}.{n}")
    if args.scan:
        print(
            f"private cooc names used by {', '.join(map(str, args.scan))}: {len(outside)}"
        )
        for f, b, n in outside:
            print(f"  {f} <- {b.removeprefix('cooc.')}.{n}")


if __name__ == "__main__":
    main()
