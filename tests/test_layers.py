"""The direction of cooc's imports, read from the source with ``ast`` (by
``benchmarks/import_graph.py``): a table of layers that every import must go
down, the bottom helpers importing nothing of cooc but its error classes, the
linear algebra never importing the text counter, Dask only in
``distributed.py``, ``Embeddings`` without scikit-learn or numba, no cycles,
and no private name taken from a sibling module."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cooc"

# Every module's layer: a module imports (at its top or inside a function)
# only modules of lower layers. A new module needs a line here, which is where
# its place in the stack is decided.
LAYERS = {
    # the bottom: nothing of cooc, or only cooc.errors
    "cooc.errors": 0,
    "cooc._compat": 0,  # scikit-learn's private API, in one place
    "cooc.parallel": 0,
    "cooc._kernels.counting": 0,
    "cooc._kernels.phrases": 0,
    "cooc._kernels.runs": 1,
    "cooc._kernels.spill": 1,
    "cooc._kernels.streaming": 1,
    "cooc._kernels.text": 1,
    "cooc._kernels": 2,
    "cooc.files": 1,
    "cooc.container": 1,
    "cooc._zip": 1,
    "cooc._output": 1,
    "cooc.subwords": 1,  # n-gram hashing, the subword model (below vectors)
    # readers, vectors, the linear algebra, the image features
    "cooc.corpus": 2,
    "cooc.vectors": 2,
    "cooc.phrasetable": 2,  # the phrase table and its joining (not cooc.corpus's import)
    "cooc.tokenstream": 3,
    "cooc.evaluate": 3,
    "cooc.svd": 3,
    "cooc.weighting": 3,
    "cooc.encodings": 2,  # soft bags, VLAD, Fisher vectors (numpy, scipy)
    "cooc.vision": 3,
    "cooc.fusion": 3,
    "cooc.vocab": 4,
    "cooc.classify": 4,
    "cooc.colorhist": 4,  # colour histograms of images (above vision's checks)
    "cooc.features": 4,  # region words and vectors the user already has
    "cooc.streaming": 4,
    "cooc.matrix": 5,
    "cooc.models": 5,
    # the counter and its engines
    "cooc.cooccurrence": 6,
    "cooc.io": 6,
    "cooc.shards": 7,
    "cooc.outofcore": 7,
    "cooc.pairs": 7,
    "cooc.phrases": 7,
    "cooc.checkpoint": 8,
    "cooc.distributed": 8,
    "cooc.pipeline": 9,
    "cooc.engines": 9,
    # estimators and readers of labelled items over all of it
    "cooc.multimodal": 10,
    "cooc.vectorizers": 10,
    "cooc.items": 10,
    "cooc.datasets": 0,
    "cooc.demo": 11,
    "cooc.report": 11,  # figures and the HTML report (matplotlib inside functions)
    "cooc.retrieval": 11,  # cross-modal retrieval scores, the emoji protocol
    "cooc.cli": 12,
    "cooc.__main__": 13,
}
TEXT_COUNTER = {
    "cooc.corpus",
    "cooc.tokenstream",
    "cooc.vocab",
    "cooc.cooccurrence",
    "cooc.shards",
    "cooc.outofcore",
    "cooc.checkpoint",
}
LINEAR_ALGEBRA = ["cooc.svd", "cooc.weighting", "cooc.streaming"]


@pytest.fixture(scope="module")
def graph():
    spec = importlib.util.spec_from_file_location(
        "import_graph", ROOT / "benchmarks" / "import_graph.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    modules, edges, private = mod.graph(PACKAGE)
    return mod, modules, edges, private


def test_every_module_has_a_layer(graph):
    _, modules, _, _ = graph
    missing = sorted(set(modules) - set(LAYERS) - {"cooc"})
    assert not missing, f"give these modules a layer in LAYERS: {missing}"
    assert not set(LAYERS) - set(modules), "LAYERS names a module that is gone"


def test_every_import_goes_down_the_layers(graph):
    _, _, edges, _ = graph
    upward = [
        (a, b, LAYERS[a], LAYERS[b])
        for a, targets in edges.items()
        if a != "cooc"  # the package's lazy exports reach every layer
        for b in targets
        if b != "cooc" and LAYERS[b] >= LAYERS[a]
    ]
    assert not upward, upward


@pytest.mark.parametrize(
    "bottom", ["cooc.files", "cooc.parallel", "cooc.container", "cooc.errors"]
)
def test_bottom_helpers_import_nothing_of_cooc_but_its_errors(graph, bottom):
    _, modules, edges, _ = graph
    assert bottom in modules
    assert set(edges.get(bottom, {})) <= {"cooc.errors"}
    assert edges.get("cooc.errors", {}) == {}


@pytest.mark.parametrize("algebra", LINEAR_ALGEBRA)
def test_linear_algebra_never_imports_the_text_counter(graph, algebra):
    _, _, edges, _ = graph
    assert not TEXT_COUNTER & set(edges.get(algebra, {}))


def test_no_cycles_even_through_imports_inside_functions(graph):
    mod, _, edges, _ = graph
    # cooc 0.1 had one of 9 modules (cooccurrence, corpus, io, pipeline,
    # streaming, svd, tokenstream, vocab, weighting)
    assert mod.cycles(edges, {"module"}) == []
    assert mod.cycles(edges, {"module", "function"}) == []


def test_the_matrix_module_sits_below_the_counter_and_io(graph):
    _, _, edges, _ = graph
    above = {
        "cooc.cooccurrence",
        "cooc.io",
        "cooc.outofcore",
        "cooc.streaming",
        "cooc._kernels",
        "cooc.tokenstream",
    }
    assert not above & set(edges.get("cooc.matrix", {}))


def test_no_private_names_from_sibling_modules(graph):
    *_, private = graph
    # 86 in cooc 0.1 (``from cooc.svd import _x`` or ``svd._x``)
    assert private == [], sorted(private)


def test_benchmarks_use_public_names_only(graph):
    mod, *_ = graph
    assert mod.private_uses(ROOT / "benchmarks", PACKAGE) == []


def _imports(path: Path):
    """Top-level names of every module a file imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0], node
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0], node


def test_only_distributed_imports_dask():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "distributed.py":
            continue
        for name, _ in _imports(path):
            assert name not in ("dask", "distributed"), f"{path.name} imports {name}"


def test_distributed_imports_dask_inside_functions_only():
    tree = ast.parse((PACKAGE / "distributed.py").read_text(encoding="utf-8"))
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in ("dask", "distributed"), name


def test_vectors_import_neither_scikit_learn_nor_numba():
    code = (
        "import sys, cooc.vectors, cooc.evaluate; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sklearn', 'numba', 'cooc._kernels'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
