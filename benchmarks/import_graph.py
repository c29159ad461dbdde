"""The import graph of the cooc package, from its source (no imports run).

Prints, per module, the cooc modules it imports at module level and inside
functions, the cycles of the module-level graph and of the whole graph, and
every import of a ``_``-prefixed name from a sibling module::

    python benchmarks/import_graph.py            # the table
    python benchmarks/import_graph.py --json     # the same as JSON
    python benchmarks/import_graph.py --package ../old/cooc   # another checkout
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
    return modules, edges, private


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
    args = p.parse_args(argv)
    modules, edges, private = graph(args.package)
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
    print(f"cycles at module level: {result['cycles_module_level'] or 'none'}")
    print(f"cycles counting imports inside functions: {result['cycles_all'] or 'none'}")
    print(f"imports of _private names from sibling modules: {len(private)}")
    for a, b, n in private:
        print(f"  {a.removeprefix('cooc.')} <- {b.removeprefix('cooc.')}.{n}")


if __name__ == "__main__":
    main()
