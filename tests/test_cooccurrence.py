"""Window counting against a brute-force pure-Python reference."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc import _kernels as K
from cooc.cooccurrence import (
    CoocMatrix,
    WindowCounter,
    count_window,
    cooccurrence_matrix,
    merge,
    window_weights,
)


def weight(d, window, weighting):
    if weighting == "harmonic":
        return Fraction(1, d)
    if weighting == "linear":
        return Fraction(window - d + 1, window)
    return Fraction(1)


def reference(docs, n_words, window, weighting, symmetric=True, windows=None):
    """Slow, obviously-correct counts as exact fractions; docs are lists of ids."""
    n_cols = n_words if symmetric else 2 * n_words
    out = [[Fraction(0)] * n_cols for _ in range(n_words)]
    for k, doc in enumerate(docs):
        for i, a in enumerate(doc):
            for j in range(i + 1, min(i + window, len(doc) - 1) + 1):
                b = doc[j]
                if a < 0 or b < 0:
                    continue
                d = j - i
                w = weight(d, window, weighting)
                if windows is None or d <= windows[k][i]:
                    out[a][b if symmetric else n_words + b] += w  # b right of a
                if windows is None or d <= windows[k][j]:
                    out[b][a] += w  # a left of b
    return np.array([[float(x) for x in row] for row in out])


def flatten(docs):
    ids = np.array([t for d in docs for t in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    return ids, offsets


def test_hand_count_four_words():
    # "a b a c": pairs within window 2, harmonic
    m = count_window([0, 1, 0, 2], window_size=2, weighting="harmonic").toarray()
    expected = np.array(
        [
            # a-b at d=1 (twice: a b, b a), a-a at d=2 (counted from both sides),
            # a-c at d=1, b-c at d=2
            [1.0, 2.0, 1.0],
            [2.0, 0.0, 0.5],
            [1.0, 0.5, 0.0],
        ]
    )
    np.testing.assert_array_equal(m, expected)


def test_documents_are_boundaries():
    ids, offsets = flatten([[0, 1], [2, 3]])
    m = count_window(ids, offsets, 4, window_size=5, weighting="uniform").toarray()
    assert m[1, 2] == 0 and m[0, 1] == 1 and m[2, 3] == 1
    assert m.sum() == 4


docs_strategy = st.lists(
    st.lists(st.integers(min_value=-1, max_value=6), max_size=12), min_size=1, max_size=6
)


@settings(max_examples=60, deadline=None)
@given(
    docs=docs_strategy,
    window=st.integers(1, 6),
    weighting=st.sampled_from(["harmonic", "uniform", "linear"]),
    symmetric=st.booleans(),
    oov=st.sampled_from(["drop", "gap"]),
    n_jobs=st.sampled_from([1, 2, 3]),
    n_dense=st.sampled_from([0, 3, 7]),
)
def test_matches_reference(docs, window, weighting, symmetric, oov, n_jobs, n_dense):
    ids, offsets = flatten(docs)
    got = count_window(
        ids, offsets, 7, window_size=window, weighting=weighting, symmetric=symmetric,
        oov=oov, n_jobs=n_jobs, n_dense=n_dense,
    ).toarray()
    ref_docs = [[t for t in d if t >= 0] for d in docs] if oov == "drop" else docs
    np.testing.assert_allclose(got, reference(ref_docs, 7, window, weighting, symmetric), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    docs=docs_strategy,
    window=st.integers(1, 5),
    weighting=st.sampled_from(["harmonic", "uniform", "linear"]),
    symmetric=st.booleans(),
    seed=st.integers(0, 1000),
    n_jobs=st.sampled_from([1, 2]),
)
def test_dynamic_window_matches_reference(docs, window, weighting, symmetric, seed, n_jobs):
    ids, offsets = flatten(docs)
    got = count_window(
        ids, offsets, 7, window_size=window, weighting=weighting, symmetric=symmetric,
        dynamic_window=True, random_state=seed, n_jobs=n_jobs, oov="gap",
    ).toarray()
    widths = K.sample_windows(offsets, window, seed ^ 0x5A5A, 0)
    windows = [list(widths[offsets[k] : offsets[k + 1]]) for k in range(len(docs))]
    assert all(1 <= w <= window for w in widths)
    np.testing.assert_allclose(
        got, reference(docs, 7, window, weighting, symmetric, windows), rtol=1e-12
    )


def test_dynamic_window_averages_to_linear():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 3, size=20000).astype(np.int32)
    dyn = count_window(ids, None, 3, window_size=4, weighting="uniform", dynamic_window=True)
    lin = count_window(ids, None, 3, window_size=4, weighting="linear")
    np.testing.assert_allclose(dyn.toarray(), lin.toarray(), rtol=0.03)


def test_subsampling_drops_frequent_words():
    rng = np.random.default_rng(1)
    ids = np.where(rng.random(50000) < 0.5, 0, rng.integers(1, 50, 50000)).astype(np.int32)
    counts = np.bincount(ids, minlength=50)
    out, _ = K.filter_tokens(ids, np.array([0, ids.size]), np.minimum(1, np.sqrt(2e-2 / (counts / counts.sum()))), True, 7, 0)
    kept0 = np.count_nonzero(out == 0) / counts[0]
    assert abs(kept0 - np.sqrt(2e-2 / 0.5)) < 0.01
    # rare words are always kept
    assert np.array_equal(np.bincount(out, minlength=50)[1:], counts[1:])
    full = count_window(ids, None, 50, window_size=2, subsample=2e-2, word_counts=counts, random_state=7)
    expected = count_window(out, None, 50, window_size=2)
    assert (full != expected).nnz == 0


@settings(max_examples=30, deadline=None)
@given(docs=docs_strategy, cut=st.integers(0, 6), window=st.integers(1, 4), dynamic=st.booleans(),
       subsample=st.sampled_from([None, 0.05]))
def test_shards_sum_to_whole_exactly(docs, cut, window, dynamic, subsample):
    cut = min(cut, len(docs))
    counts = np.bincount(np.array([t for d in docs for t in d if t >= 0] + [0]), minlength=7)
    params = dict(window_size=window, weighting="harmonic", dynamic_window=dynamic,
                  subsample=subsample, word_counts=counts if subsample else None)
    whole, _ = WindowCounter(7, **params).update(*flatten(docs)).result_counts()
    total = sp.csr_matrix((7, 7 if True else 14), dtype=np.int64)
    for first, part in [(0, docs[:cut]), (cut, docs[cut:])]:
        if part:
            counter = WindowCounter(7, first_doc=first, **params).update(*flatten(part))
            total = total + counter.result_counts()[0]
    assert (total != whole).nnz == 0


def test_merge_is_exact_on_float_weights():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 40, size=5000).astype(np.int32)
    vocab = _vocab(40)
    parts = []
    counter_whole = WindowCounter(40, window_size=7).update(ids, [0, 2000, 5000])
    for first, (lo, hi) in enumerate([(0, 2000), (2000, 5000)]):
        c = WindowCounter(40, window_size=7, first_doc=first)
        c.update(ids[lo:hi])
        parts.append(CoocMatrix(c.result(), vocab, c.params, c.stats))
    merged = merge(parts)
    whole = counter_whole.result()
    assert (merged.matrix != whole).nnz == 0


@pytest.mark.parametrize("n_jobs", [1, 2, 4])
def test_thread_count_does_not_change_result(n_jobs):
    rng = np.random.default_rng(4)
    ids = rng.zipf(1.3, size=30000).astype(np.int64) % 500
    ref = count_window(ids.astype(np.int32), None, 500, window_size=5, n_jobs=1)
    got = count_window(ids.astype(np.int32), None, 500, window_size=5, n_jobs=n_jobs)
    assert (ref != got).nnz == 0


def test_table_growth_and_spill_are_exact():
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 3000, size=40000).astype(np.int32)
    ref = count_window(ids, None, 3000, window_size=3, weighting="uniform").toarray()
    # tiny budget: no dense block, table forced to spill many times
    small = WindowCounter(3000, window_size=3, weighting="uniform", n_dense=0,
                          memory=16 * 2**13 * 2, n_jobs=2)
    for part in np.array_split(ids, 5):
        small.update(part)
    assert small._spilled, "expected the tiny budget to force spills"
    # chunks are separate documents here, so compare to the same split
    split = np.cumsum([0] + [len(p) for p in np.array_split(ids, 5)])
    ref = count_window(ids, split, 3000, window_size=3, weighting="uniform").toarray()
    np.testing.assert_array_equal(small.result().toarray(), ref)


def test_window_weights_exact_and_rounded():
    w, scale = window_weights(5, "harmonic")
    assert scale == 60 and list(w[1:]) == [60, 30, 20, 15, 12]
    w, scale = window_weights(30, "harmonic")
    assert scale == 2**32
    w, scale = window_weights(4, "linear")
    assert scale == 4 and list(w[1:]) == [4, 3, 2, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window_size=0), "window_size=0"),
        (dict(weighting="cubic"), "weighting='cubic'"),
        (dict(oov="keep"), "oov='keep'"),
        (dict(subsample=2.0, word_counts=np.ones(5)), "subsample=2.0"),
        (dict(subsample=1e-3), "word_counts"),
        (dict(memory=1000), "raise --memory"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WindowCounter(5, **kwargs)


def test_bad_ids():
    with pytest.raises(ValueError, match="ids must lie in"):
        count_window([0, 7], None, 5)
    with pytest.raises(ValueError, match="offsets"):
        count_window([0, 1], [0, 3], 5)
    with pytest.raises(TypeError, match="1-d integer"):
        count_window(np.array([0.5, 1.0]), None, 5)


def _vocab(n):
    from cooc.vocab import Vocabulary

    return Vocabulary([f"w{i}" for i in range(n)], np.ones(n, dtype=np.int64))


def test_cooccurrence_matrix_from_documents():
    m = cooccurrence_matrix(["the cat sat", "", "the dog"], window_size=2, weighting="uniform")
    assert m.stats["n_docs"] == 3
    assert m.stats["n_tokens"] == 5
    frame = m.to_frame()
    pairs = set(zip(frame.word1, frame.word2))
    assert ("the", "cat") in pairs and ("cat", "dog") not in pairs
    assert m.matrix.sum() == 2 * 4  # (the,cat)(the,sat)(cat,sat)(the,dog), both ways
    assert sp.isspmatrix_csr(m.matrix)
