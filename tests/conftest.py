"""Shared fixtures: a seeded rng, tiny hand-checkable corpora and a CLI runner."""

from __future__ import annotations

import shutil
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

DATA = Path(__file__).parent / "data"

# tests/data/tiny.txt: four documents, one of them empty, one a single token, and
# repeated tokens ("b" four times, a word next to itself in "b b").
TINY_TEXT = "a b a\n\nc\nb c b b\n"
TINY_DOCS = [["a", "b", "a"], [], ["c"], ["b", "c", "b", "b"]]
# tests/data/abc.txt: the two-line corpus of the CLI examples.
ABC_TEXT = "a b a\nb c\n"
ABC_DOCS = [["a", "b", "a"], ["b", "c"]]


@pytest.fixture
def rng():
    """A seeded generator; tests that draw data get the same data every run."""
    return np.random.default_rng(20240601)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """A copy of tests/data/tiny.txt in a fresh folder (commands write beside it)."""
    path = tmp_path / "tiny.txt"
    shutil.copyfile(DATA / "tiny.txt", path)
    assert path.read_text(encoding="utf-8") == TINY_TEXT
    return path


@pytest.fixture
def abc_corpus(tmp_path) -> Path:
    """A copy of tests/data/abc.txt ("a b a" / "b c") in a fresh folder."""
    path = tmp_path / "abc.txt"
    shutil.copyfile(DATA / "abc.txt", path)
    assert path.read_text(encoding="utf-8") == ABC_TEXT
    return path


@pytest.fixture
def run_cli():
    """Invoke ``cooc ARGS...`` in-process; returns click's Result."""
    from cooc.cli import cli

    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(
            cli, [str(a) for a in args], input=input, catch_exceptions=True
        )

    return run


def hand_count(docs, vocab, window, weighting="uniform", symmetric=True):
    """Slow reference window counts, dense (rows and columns in ``vocab`` order).

    A pair at distance ``d <= window`` in one document adds ``w(d)`` to ``(a, b)`` and
    ``(b, a)`` (or to ``(a, R:b)`` and ``(b, L:a)`` when not symmetric).
    """
    index = {t: i for i, t in enumerate(vocab)}
    n = len(vocab)
    out = Counter()
    for doc in docs:
        ids = [index[t] for t in doc if t in index]
        for i, a in enumerate(ids):
            for j in range(i + 1, min(i + window, len(ids) - 1) + 1):
                b, d = ids[j], j - i
                w = {
                    "uniform": Fraction(1),
                    "harmonic": Fraction(1, d),
                    "linear": Fraction(window - d + 1, window),
                }[weighting]
                if symmetric:
                    out[a, b] += w
                    out[b, a] += w
                else:
                    out[a, n + b] += w  # b is right of a
                    out[b, a] += w  # a is left of b
    dense = np.zeros((n, n if symmetric else 2 * n))
    for (i, j), v in out.items():
        dense[i, j] = float(v)
    return dense


@pytest.fixture
def reference_counts():
    """:func:`hand_count` as a fixture (test modules do not import conftest)."""
    return hand_count


@pytest.fixture(scope="module")
def client():
    """A two-worker local Dask cluster, one per test module that asks for it."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as cl,
    ):
        yield cl


def _write_corpus(folder, n_files=3, lines=400, seed=0, prefix="w") -> list[Path]:
    """``n_files`` text files of ``lines`` Zipf-distributed lines over 60 words
    ``{prefix}0..59`` in ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    words = np.array([f"{prefix}{i}" for i in range(60)])
    paths = []
    for f in range(n_files):
        rows = [
            " ".join(words[rng.zipf(1.5, size=rng.integers(1, 15)) % 60])
            for _ in range(lines)
        ]
        path = folder / f"part{f}.txt"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _same(a, b):
    """Assert two CoocMatrix objects hold the same words and counts, bit for bit."""
    assert list(a.vocabulary.tokens) == list(b.vocabulary.tokens)
    assert np.array_equal(a.vocabulary.counts, b.vocabulary.counts)
    ma, mb = a.matrix.tocsr(), b.matrix.tocsr()
    assert ma.shape == mb.shape
    assert np.array_equal(ma.indptr, mb.indptr)
    assert np.array_equal(ma.indices, mb.indices)
    assert np.array_equal(ma.data, mb.data)


@pytest.fixture
def write_corpus():
    """A function writing a small Zipf corpus of text files (see _write_corpus)."""
    return _write_corpus


@pytest.fixture
def same():
    """A function asserting two CoocMatrix objects are identical."""
    return _same
