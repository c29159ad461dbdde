"""``cooc export`` collocation options: --weighting, --min-value, --top-k
(per row / --overall) and --upper, against a dense brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cooc.cooccurrence import cooccurrence_matrix
from cooc.errors import InputError
from cooc.io import export_pairs
from cooc.matrix import CoocMatrix
from cooc.vocab import Vocabulary
from cooc.weighting import ppmi

TOKENS = ["a", "b", "c", "d", "e"]
# symmetric, hand-checkable; 'e' never co-occurs (an empty row and column)
DENSE = np.array(
    [
        [0, 4, 1, 0, 0],
        [4, 0, 2, 1, 0],
        [1, 2, 2, 3, 0],
        [0, 1, 3, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    dtype=np.float64,
)


def _matrix(dense=DENSE, tokens=TOKENS, params=None):
    return CoocMatrix(
        sp.csr_matrix(dense),
        Vocabulary(tokens, [1] * len(tokens)),
        {"symmetric": True, "window_size": 1} if params is None else params,
    )


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.cooc"
    _matrix().save(path)
    return path


def _read(path):
    return pd.read_csv(path, sep="\t", quoting=3, keep_default_na=False)


def _triples(frame):
    return [(a, b, v) for a, b, v in frame.itertuples(index=False)]


def ref_ppmi(C, alpha=0.75):
    """Dense PPMI as in Levy et al.: log(#(w,c) / (#(w) P_alpha(c))), > 0 only."""
    row = C.sum(axis=1)
    col = C.sum(axis=0)
    pc = col**alpha
    pc = pc / pc.sum()
    out = np.zeros_like(C)
    for i, j in zip(*np.nonzero(C)):
        v = np.log(C[i, j] / (row[i] * pc[j]))
        if v > 1e-10:
            out[i, j] = v
    return out


def ref_npmi(C):
    """Dense NPMI of the stored pairs (NaN where there is no pair)."""
    N = C.sum()
    p_w, p_c = C.sum(axis=1) / N, C.sum(axis=0) / N
    out = np.full_like(C, np.nan)
    for i, j in zip(*np.nonzero(C)):
        p = C[i, j] / N
        out[i, j] = np.log(p / (p_w[i] * p_c[j])) / -np.log(p)
    return out


def _ref_pairs(W, present):
    """Every (word1, word2, value) where ``present``, in row-major order."""
    return [
        (TOKENS[i], TOKENS[j], W[i, j])
        for i in range(W.shape[0])
        for j in range(W.shape[1])
        if present[i, j]
    ]


def _assert_pairs(got, want):
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in want]
    np.testing.assert_allclose([v for *_, v in got], [v for *_, v in want], rtol=1e-12)


# -- weightings ------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["file", "memory"])
@pytest.mark.parametrize("block", [1, 3, 1 << 22])
def test_ppmi_matches_dense_reference(saved, tmp_path, source, block):
    out = tmp_path / "p.tsv"
    src = saved if source == "file" else _matrix()
    n = export_pairs(src, out, weighting="ppmi", block_entries=block)
    W = ref_ppmi(DENSE)
    want = _ref_pairs(W, W > 0)
    got = _triples(_read(out))
    assert n == len(want) > 0
    _assert_pairs(got, want)
    # and the same values as the library's PPMI
    lib = ppmi(DENSE, dtype=np.float64).toarray()
    np.testing.assert_allclose([v for *_, v in got], lib[W > 0], rtol=1e-12)


@pytest.mark.parametrize("source", ["file", "memory"])
def test_npmi_matches_dense_reference(saved, tmp_path, source):
    out = tmp_path / "p.tsv"
    export_pairs(saved if source == "file" else _matrix(), out, weighting="npmi",
                 block_entries=2)  # fmt: skip
    W = ref_npmi(DENSE)
    got = _triples(_read(out))
    _assert_pairs(got, _ref_pairs(W, DENSE > 0))  # every stored pair, negatives too
    assert all(-1 <= v <= 1 for *_, v in got)
    assert any(v < 0 for *_, v in got)


def test_npmi_of_a_single_pair_is_one(tmp_path):
    dense = np.zeros((2, 2))
    dense[0, 1] = 3.0
    m = _matrix(dense, ["x", "y"], {"symmetric": False})
    export_pairs(m, tmp_path / "p.tsv", weighting="npmi")
    assert _triples(_read(tmp_path / "p.tsv")) == [("x", "y", 1.0)]


# -- selections ------------------------------------------------------------------------
@pytest.mark.parametrize("weighting", ["count", "ppmi", "npmi"])
@pytest.mark.parametrize("block", [1, 4, 1 << 22])
def test_top_k_per_row(saved, tmp_path, weighting, block):
    out = tmp_path / "p.tsv"
    export_pairs(saved, out, weighting=weighting, top_k=2, block_entries=block)
    W = {"count": DENSE, "ppmi": ref_ppmi(DENSE), "npmi": ref_npmi(DENSE)}[weighting]
    present = ref_ppmi(DENSE) > 0 if weighting == "ppmi" else DENSE > 0
    want = []
    for i in range(len(TOKENS)):
        cols = [j for j in range(len(TOKENS)) if present[i, j]]
        cols.sort(key=lambda j: (-W[i, j], j))  # best first, ties by column id
        want += [(TOKENS[i], TOKENS[j], W[i, j]) for j in cols[:2]]
    _assert_pairs(_triples(_read(out)), want)


def test_top_k_per_row_by_hand(saved, tmp_path):
    out = tmp_path / "p.tsv"
    export_pairs(saved, out, top_k=1)
    # c: d=3 beats b=2 = c=2; ties (none here at the top) go to the lower id
    assert _triples(_read(out)) == [
        ("a", "b", 4.0),
        ("b", "a", 4.0),
        ("c", "d", 3.0),
        ("d", "c", 3.0),
    ]
    export_pairs(saved, out, top_k=2)
    assert _triples(_read(out))[4:6] == [("c", "d", 3.0), ("c", "b", 2.0)]


@pytest.mark.parametrize("source", ["file", "memory"])
@pytest.mark.parametrize("block", [1, 3, 1 << 22])
@pytest.mark.parametrize("k", [1, 3, 5, 100])
def test_top_k_overall(saved, tmp_path, source, block, k):
    out = tmp_path / "p.tsv"
    src = saved if source == "file" else _matrix()
    n = export_pairs(src, out, weighting="npmi", top_k=k, overall=True,
                     block_entries=block)  # fmt: skip
    W = ref_npmi(DENSE)
    cells = sorted(zip(*np.nonzero(DENSE)), key=lambda ij: (-W[ij], ij[0], ij[1]))
    want = [(TOKENS[i], TOKENS[j], W[i, j]) for i, j in cells[:k]]
    assert n == len(want) == min(k, int((DENSE > 0).sum()))
    _assert_pairs(_triples(_read(out)), want)


def test_top_k_overall_counts_by_hand(saved, tmp_path):
    export_pairs(saved, tmp_path / "p.tsv", top_k=3, overall=True, block_entries=1)
    # 4 (a,b) and (b,a), then 3: (c,d) before (d,c) (ties by row id)
    assert _triples(_read(tmp_path / "p.tsv")) == [
        ("a", "b", 4.0),
        ("b", "a", 4.0),
        ("c", "d", 3.0),
    ]


@pytest.mark.parametrize("weighting", ["count", "ppmi", "npmi"])
def test_min_value(saved, tmp_path, weighting):
    out = tmp_path / "p.tsv"
    W = {"count": DENSE, "ppmi": ref_ppmi(DENSE), "npmi": ref_npmi(DENSE)}[weighting]
    present = ref_ppmi(DENSE) > 0 if weighting == "ppmi" else DENSE > 0
    x = float(np.median(W[present]))
    export_pairs(saved, out, weighting=weighting, min_value=x, block_entries=2)
    want = _ref_pairs(W, present & (np.nan_to_num(W, nan=-np.inf) >= x))
    got = _triples(_read(out))
    assert 0 < len(got) < present.sum()
    _assert_pairs(got, want)


def test_min_value_keeps_equal_values(saved, tmp_path):
    export_pairs(saved, tmp_path / "p.tsv", min_value=3)
    assert {(a, b) for a, b, _ in _triples(_read(tmp_path / "p.tsv"))} == {
        ("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"),
    }  # fmt: skip


@pytest.mark.parametrize("source", ["file", "memory"])
def test_upper_writes_each_pair_once(saved, tmp_path, source):
    out = tmp_path / "p.tsv"
    src = saved if source == "file" else _matrix()
    export_pairs(src, out, upper=True, block_entries=2)
    got = _triples(_read(out))
    index = {t: i for i, t in enumerate(TOKENS)}
    assert all(index[a] <= index[b] for a, b, _ in got)
    # each unordered pair once, the diagonal (c, c) included
    assert sorted(frozenset((a, b)) for a, b, _ in got) == sorted(
        frozenset((TOKENS[i], TOKENS[j])) for i, j in zip(*np.nonzero(np.triu(DENSE)))
    )
    assert ("c", "c", 2.0) in got and len(got) == 6


def test_example_of_the_issue(saved, tmp_path):
    # cooc export corpus.cooc --weighting npmi --top-k 10 --upper -o colloc.tsv
    out = tmp_path / "colloc.tsv"
    export_pairs(saved, out, weighting="npmi", top_k=1, upper=True, min_value=0)
    W = ref_npmi(DENSE)
    want = []
    for i in range(len(TOKENS)):
        cols = [j for j in range(i, len(TOKENS)) if DENSE[i, j] > 0 and W[i, j] >= 0]
        cols.sort(key=lambda j: (-W[i, j], j))
        want += [(TOKENS[i], TOKENS[j], W[i, j]) for j in cols[:1]]
    _assert_pairs(_triples(_read(out)), want)


def test_nothing_kept_writes_the_header(saved, tmp_path):
    assert export_pairs(saved, tmp_path / "p.tsv", min_value=100) == 0
    assert (tmp_path / "p.tsv").read_text() == "word1\tword2\tvalue\n"


def test_parquet_and_csv(saved, tmp_path):
    pytest.importorskip("pyarrow")
    opts = {"weighting": "ppmi", "top_k": 2, "block_entries": 1}
    export_pairs(saved, tmp_path / "p.parquet", **opts)
    export_pairs(saved, tmp_path / "p.csv", **opts)
    pq = pd.read_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(pq, pd.read_csv(tmp_path / "p.csv"))


# -- defaults: the plain export, byte for byte -----------------------------------------
@pytest.mark.parametrize("symmetric", [True, False])
def test_default_options_are_the_plain_export(tmp_path, symmetric):
    docs = [[f"w{(7 * i + j) % 13}" for j in range(i % 9)] for i in range(60)]
    m = cooccurrence_matrix(
        docs, window_size=3, weighting="harmonic", symmetric=symmetric
    )
    src = tmp_path / "m.cooc"
    m.save(src)
    plain, explicit = tmp_path / "plain.tsv", tmp_path / "explicit.tsv"
    export_pairs(m, plain)
    export_pairs(src, explicit, weighting="count", min_value=None, top_k=None,
                 overall=False, upper=False, block_entries=3)  # fmt: skip
    assert explicit.read_bytes() == plain.read_bytes()
    # the filtered path with a filter that keeps everything writes the same bytes
    export_pairs(src, tmp_path / "all.tsv", min_value=0, block_entries=3)
    assert (tmp_path / "all.tsv").read_bytes() == plain.read_bytes()


def test_default_cli_export_unchanged(run_cli, saved, tmp_path):
    # the hand values of test_export_tsv_hand_values's format: storage order
    r = run_cli("export", saved, "-o", tmp_path / "p.tsv", "-q")
    assert r.exit_code == 0, r.stderr
    lines = (tmp_path / "p.tsv").read_text().splitlines()
    assert lines[0] == "word1\tword2\tvalue"
    assert lines[1:4] == ["a\tb\t4.0", "a\tc\t1.0", "b\ta\t4.0"]


# -- refusals --------------------------------------------------------------------------
def _one_line_error(result, *needles):
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_cli_refuses_upper_on_a_directional_matrix(run_cli, tmp_path):
    m = cooccurrence_matrix([["a", "b", "c", "a"]], window_size=2, symmetric=False)
    src = tmp_path / "d.cooc"
    m.save(src)
    out = tmp_path / "p.tsv"
    r = run_cli("export", src, "--upper", "-o", out)
    _one_line_error(r, "--upper", "directional")
    assert not out.exists()


def test_cli_refuses_upper_for_dynamic_windows(tmp_path):
    m = _matrix(params={"symmetric": True, "dynamic_window": True})
    with pytest.raises(InputError, match="--upper.*directional"):
        export_pairs(m, tmp_path / "p.tsv", upper=True)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--top-k", "0"], "--top-k"),
        (["--top-k", "-3"], "--top-k"),
        (["--weighting", "tfidf"], "--weighting"),
        (["--overall"], "--overall"),
    ],
)
def test_cli_refusals(run_cli, saved, tmp_path, args, needle):
    out = tmp_path / "p.tsv"
    _one_line_error(run_cli("export", saved, *args, "-o", out), needle)
    assert not out.exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"min_value": float("nan")}, {"top_k": 1.5}, {"top_k": True}, {"weighting": None}],
)
def test_library_refusals(saved, tmp_path, kwargs):
    with pytest.raises(InputError):
        export_pairs(saved, tmp_path / "p.tsv", **kwargs)


def test_cli_collocations(run_cli, saved, tmp_path):
    out = tmp_path / "colloc.tsv"
    r = run_cli("export", saved, "--weighting", "npmi", "--top-k", "2", "--overall",
                "--upper", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "wrote 2 pairs" in r.stderr
    got = _triples(_read(out))
    full = ref_npmi(DENSE)
    cells = sorted(
        zip(*np.nonzero(np.triu(DENSE))), key=lambda ij: (-full[ij], ij[0], ij[1])
    )
    _assert_pairs(got, [(TOKENS[i], TOKENS[j], full[i, j]) for i, j in cells[:2]])


# -- min_count and self_pairs ------------------------------------------------------------
@pytest.mark.parametrize("source", ["file", "memory"])
@pytest.mark.parametrize("weighting", ["count", "ppmi", "npmi"])
@pytest.mark.parametrize("block", [1, 1 << 22])
def test_min_count_filters_counts_not_marginals(
    saved, tmp_path, source, weighting, block
):
    out = tmp_path / "p.tsv"
    src = saved if source == "file" else _matrix()
    export_pairs(src, out, weighting=weighting, min_count=2, block_entries=block)
    # the weights of the whole matrix, then only pairs counted >= 2
    W = {"count": DENSE, "ppmi": ref_ppmi(DENSE), "npmi": ref_npmi(DENSE)}[weighting]
    present = (DENSE >= 2) & (W > 0 if weighting == "ppmi" else DENSE > 0)
    _assert_pairs(_triples(_read(out)), _ref_pairs(W, present))


@pytest.mark.parametrize("source", ["file", "memory"])
def test_self_pairs_left_out(saved, tmp_path, source):
    out = tmp_path / "p.tsv"
    export_pairs(saved if source == "file" else _matrix(), out, self_pairs=False)
    present = (DENSE > 0) & ~np.eye(len(TOKENS), dtype=bool)
    assert ("c", "c", 2.0) not in _triples(_read(out))
    _assert_pairs(_triples(_read(out)), _ref_pairs(DENSE, present))


def test_self_pairs_of_a_directional_matrix(tmp_path):
    # n x 2n: L:w and R:w are both the word itself
    dense = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    m = _matrix(dense, ["x", "y"], {"symmetric": False, "window_size": 1})
    export_pairs(m, tmp_path / "p.tsv", self_pairs=False)
    assert _triples(_read(tmp_path / "p.tsv")) == [
        ("x", "L:y", 2.0), ("x", "R:y", 4.0), ("y", "L:x", 5.0), ("y", "R:x", 7.0),
    ]  # fmt: skip


@pytest.mark.parametrize("value", [-1, float("nan"), "2", True])
def test_min_count_refusals(saved, tmp_path, value):
    with pytest.raises(InputError, match="--min-count"):
        export_pairs(saved, tmp_path / "p.tsv", min_count=value)


def test_cli_min_count_and_self_pairs(run_cli, saved, tmp_path):
    out = tmp_path / "s.tsv"
    r = run_cli("export", saved, "--min-count", "2", "--no-self-pairs", "-o", out)
    assert r.exit_code == 0, r.stderr
    present = (DENSE >= 2) & ~np.eye(len(TOKENS), dtype=bool)
    _assert_pairs(_triples(_read(out)), _ref_pairs(DENSE, present))
    r = run_cli("export", saved, "--min-count", "-1", "-o", out)
    _one_line_error(r, "--min-count")
