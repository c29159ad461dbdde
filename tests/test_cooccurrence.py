"""Window counting against a brute-force pure-Python reference."""

import pickle
from contextlib import contextmanager
from fractions import Fraction
from itertools import pairwise
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc import _kernels as K
from cooc.cooccurrence import (
    CoocMatrix,
    WindowCounter,
    cooccurrence_matrix,
    count_window,
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
    st.lists(st.integers(min_value=-1, max_value=6), max_size=12),
    min_size=1,
    max_size=6,
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
        ids,
        offsets,
        7,
        window_size=window,
        weighting=weighting,
        symmetric=symmetric,
        oov=oov,
        n_jobs=n_jobs,
        n_dense=n_dense,
    ).toarray()
    ref_docs = [[t for t in d if t >= 0] for d in docs] if oov == "drop" else docs
    np.testing.assert_allclose(
        got, reference(ref_docs, 7, window, weighting, symmetric), rtol=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    docs=docs_strategy,
    window=st.integers(1, 5),
    weighting=st.sampled_from(["harmonic", "uniform", "linear"]),
    symmetric=st.booleans(),
    seed=st.integers(0, 1000),
    n_jobs=st.sampled_from([1, 2]),
)
def test_dynamic_window_matches_reference(
    docs, window, weighting, symmetric, seed, n_jobs
):
    ids, offsets = flatten(docs)
    got = count_window(
        ids,
        offsets,
        7,
        window_size=window,
        weighting=weighting,
        symmetric=symmetric,
        dynamic_window=True,
        random_state=seed,
        n_jobs=n_jobs,
        oov="gap",
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
    dyn = count_window(
        ids, None, 3, window_size=4, weighting="uniform", dynamic_window=True
    )
    lin = count_window(ids, None, 3, window_size=4, weighting="linear")
    np.testing.assert_allclose(dyn.toarray(), lin.toarray(), rtol=0.03)


def test_subsampling_drops_frequent_words():
    rng = np.random.default_rng(1)
    ids = np.where(rng.random(50000) < 0.5, 0, rng.integers(1, 50, 50000)).astype(
        np.int32
    )
    counts = np.bincount(ids, minlength=50)
    out, _ = K.filter_tokens(
        ids,
        np.array([0, ids.size]),
        np.minimum(1, np.sqrt(2e-2 / (counts / counts.sum()))),
        True,
        7,
        0,
    )
    kept0 = np.count_nonzero(out == 0) / counts[0]
    assert abs(kept0 - np.sqrt(2e-2 / 0.5)) < 0.01
    # rare words are always kept
    assert np.array_equal(np.bincount(out, minlength=50)[1:], counts[1:])
    full = count_window(
        ids, None, 50, window_size=2, subsample=2e-2, word_counts=counts, random_state=7
    )
    expected = count_window(out, None, 50, window_size=2)
    assert (full != expected).nnz == 0


@settings(max_examples=30, deadline=None)
@given(
    docs=docs_strategy,
    cut=st.integers(0, 6),
    window=st.integers(1, 4),
    dynamic=st.booleans(),
    subsample=st.sampled_from([None, 0.05]),
)
def test_shards_sum_to_whole_exactly(docs, cut, window, dynamic, subsample):
    cut = min(cut, len(docs))
    counts = np.bincount(
        np.array([t for d in docs for t in d if t >= 0] + [0]), minlength=7
    )
    params = dict(
        window_size=window,
        weighting="harmonic",
        dynamic_window=dynamic,
        subsample=subsample,
        word_counts=counts if subsample else None,
    )
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
    small = WindowCounter(
        3000,
        window_size=3,
        weighting="uniform",
        n_dense=0,
        memory=16 * 2**13 * 2,
        n_jobs=2,
    )
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


def test_power_weights_and_counts_by_hand():
    w, scale = window_weights(4, "power", decay=2)
    assert scale == 2**32 and list(w[1:]) == [2**32, 2**30, round(2**32 / 9), 2**28]
    w, scale = window_weights(15, "power", decay=1.25)
    d = np.arange(1, 16)
    np.testing.assert_allclose(w[1:] / scale, d**-1.25, rtol=0, atol=2**-33)
    # decay 1 is harmonic up to the rounding of 1/d to multiples of 2**-32
    wp, sp_ = window_weights(7, "power", decay=1)
    wh, sh = window_weights(7, "harmonic")
    np.testing.assert_allclose(wp / sp_, wh / sh, rtol=0, atol=2**-32)
    # "a b c a" with window 3, 1/d**2: a-b at 1 and 2 (1 + 1/4), a-c at 2 and 1,
    # b-c at 1, a-a at 3 (1/9, twice on the diagonal of a symmetric count)
    m = count_window([0, 1, 2, 0], window_size=3, weighting="power", decay=2)
    ninth = round(2**32 / 9) / 2**32
    expected = np.array(
        [[2 * ninth, 1.25, 1.25], [1.25, 0, 1], [1.25, 1, 0]], dtype=np.float64
    )
    np.testing.assert_array_equal(m.toarray(), expected)
    counter = WindowCounter(3, window_size=3, weighting="power", decay=2)
    assert counter.params["weighting"] == "power" and counter.params["decay"] == 2.0
    assert WindowCounter(3).params["decay"] is None  # harmonic: not recorded


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window_size=0), "window_size=0"),
        (dict(weighting="cubic"), "weighting='cubic'"),
        (dict(weighting="power", decay=0), "decay=0"),
        (dict(weighting="power", decay=11.0), "decay=11.0"),
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
    m = cooccurrence_matrix(
        ["the cat sat", "", "the dog"], window_size=2, weighting="uniform"
    )
    assert m.stats["n_docs"] == 3
    assert m.stats["n_tokens"] == 5
    frame = m.to_frame()
    pairs = set(zip(frame.word1, frame.word2))
    assert ("the", "cat") in pairs and ("cat", "dog") not in pairs
    assert m.matrix.sum() == 2 * 4  # (the,cat)(the,sat)(cat,sat)(the,dog), both ways
    assert sp.isspmatrix_csr(m.matrix)


# -- pair buffers, sorted runs and thread splits ------------------------------------
@contextmanager
def _split_everything():
    """Split every chunk and every result build between all threads, however small."""
    with mock.patch.object(WindowCounter, "_MIN_TOKENS_PER_THREAD", 1):
        yield


def _counts(n_words, ids, offsets, **params):
    return WindowCounter(n_words, **params).update(ids, offsets).result_counts()


@settings(max_examples=60, deadline=None)
@given(
    docs=docs_strategy,
    window=st.integers(1, 6),
    symmetric=st.booleans(),
    dynamic=st.booleans(),
    oov=st.sampled_from(["drop", "gap"]),
    n_jobs=st.sampled_from([2, 3, 5]),
    n_dense=st.sampled_from([0, 2, 7]),
    seed=st.integers(0, 50),
)
def test_split_threads_match_reference(
    docs, window, symmetric, dynamic, oov, n_jobs, n_dense, seed
):
    # Cuts fall inside documents; every mode; dense and buffered pairs mixed.
    ids, offsets = flatten(docs)
    params = dict(
        window_size=window,
        weighting="harmonic",
        symmetric=symmetric,
        dynamic_window=dynamic,
        random_state=seed,
        oov=oov,
        n_dense=n_dense,
    )
    with _split_everything():
        got, scale = _counts(7, ids, offsets, n_jobs=n_jobs, **params)
    ref, ref_scale = _counts(7, ids, offsets, n_jobs=1, **params)
    assert scale == ref_scale and got.dtype == np.int64
    assert got.has_sorted_indices and (got != ref).nnz == 0
    drop = oov == "drop"
    ref_docs = [[t for t in d if t >= 0] for d in docs] if drop else docs
    windows = None
    if dynamic:
        kept = offsets
        if drop:
            kept = K.filter_tokens(ids, offsets, np.empty(0), True, 0, 0)[1]
        widths = K.sample_windows(kept, window, seed ^ 0x5A5A, 0)
        windows = [list(widths[kept[k] : kept[k + 1]]) for k in range(len(ref_docs))]
    expected = reference(ref_docs, 7, window, "harmonic", symmetric, windows)
    np.testing.assert_allclose(got.toarray() / scale, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "symmetric, dynamic", [(True, False), (False, False), (True, True), (False, True)]
)
@pytest.mark.parametrize("n_jobs", [1, 3])
def test_spilled_runs_are_exact_in_every_mode(symmetric, dynamic, n_jobs):
    rng = np.random.default_rng(6)
    ids = (rng.zipf(1.2, size=60000) % 900).astype(np.int32)
    ids[rng.random(ids.size) < 0.05] = -1
    offsets = np.unique(np.r_[0, rng.integers(0, ids.size, 300), ids.size])
    params = dict(window_size=4, symmetric=symmetric, dynamic_window=dynamic, oov="gap")
    whole, _ = _counts(900, ids, offsets, n_jobs=1, **params)
    # A budget of a few thousand buffered pairs per thread forces many spills,
    # LSM merges of runs, and runs merged again when the result is built.
    spill = mock.patch.object(
        WindowCounter, "_spill", autospec=True, side_effect=WindowCounter._spill
    )
    merge = mock.patch("cooc._kernels.runs.merge_pair", side_effect=K.runs.merge_pair)
    with _split_everything(), spill as spills, merge as merges:
        small = WindowCounter(900, n_jobs=n_jobs, memory=400_000, n_dense=16, **params)
        cuts = np.linspace(0, len(offsets) - 1, 7).astype(int)
        for lo, hi in pairwise(cuts):
            chunk = ids[offsets[lo] : offsets[hi]]
            small.update(chunk, offsets[lo : hi + 1] - offsets[lo])
        assert small._spilled and small._buffer_cap < 20_000
        assert spills.call_count >= 10 and merges.call_count >= 5
        got, _ = small.result_counts()
    assert got.has_sorted_indices and (got != whole).nnz == 0
    # the counter stays usable: counting more after a result adds up exactly
    small.update(ids, offsets)
    again, _ = small.result_counts()
    twice = WindowCounter(900, n_jobs=1, **params).update(ids, offsets)
    assert (again != twice.update(ids, offsets).result_counts()[0]).nnz == 0


def test_result_is_exact_scaled_counts():
    rng = np.random.default_rng(7)
    ids = (rng.zipf(1.3, size=20000) % 300).astype(np.int32)
    counter = WindowCounter(300, window_size=7).update(ids)
    counts, scale = counter.result_counts()
    for dtype in (np.float64, np.float32):
        got = counter.result(dtype)
        expected = counts.astype(np.float64)
        expected.data /= scale  # (sparse / scalar would multiply by 1 / scale)
        expected = expected.astype(dtype)
        assert got.dtype == dtype and got.has_sorted_indices
        assert (got != expected).nnz == 0
        assert np.array_equal(got.indptr, counts.indptr)


def test_large_vocabulary_keys_beyond_32_bits():
    # n_words * n_cols >= 2**32 (directional dynamic windows: 2 * n_words columns).
    rng = np.random.default_rng(8)
    n_words = 70000
    big = np.array([0, 1, 2, 65000, 69998, 69999])
    ids = rng.choice(big, size=3000).astype(np.int32)
    params = dict(window_size=3, symmetric=False, dynamic_window=True, n_dense=2)
    counter = WindowCounter(n_words, **params)
    assert counter._key_bits > 32
    got, _ = counter.update(ids).result_counts()
    small_ids = np.searchsorted(big, ids).astype(np.int32)
    ref = WindowCounter(6, **params).update(small_ids).result_counts()[0].tocoo()
    cols = np.where(ref.col >= 6, big[ref.col % 6] + n_words, big[ref.col % 6])
    expected = sp.csr_matrix((ref.data, (big[ref.row], cols)), shape=got.shape)
    assert (got != expected).nnz == 0


def _sum_by_key(keys, values):
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values, minlength=len(uniq))
    return uniq, sums.astype(np.int64)


@pytest.mark.parametrize(
    "n, key_bits",
    [(n, b) for n in [0, 1, 5, 47, 48, 49, 3000, 200_000] for b in [1, 7, 20, 33]]
    # many MSD buckets: dense slots for the heavy ones, LSD for the rest
    + [(1_500_000, 32)],
)
def test_sort_reduce_pairs_matches_numpy(n, key_bits):
    rng = np.random.default_rng(n + key_bits)
    d_bits = 3
    weights = np.array([0, 8, 4, 2, 1, 3, 5, 7], dtype=np.int64)
    if key_bits < 20:
        keys = rng.integers(0, 2**key_bits, size=n)
    else:  # skewed rows (frequent words) and uniform columns, like real pair keys
        rows = rng.zipf(1.3, n) % 2 ** (key_bits - 16)
        keys = (rows << 16) + rng.integers(0, 2**16, n)
    keys = keys.astype(np.int64)
    d = rng.integers(1, 8, size=n)
    buf = (keys << d_bits) | d
    tmp = np.empty(n, dtype=np.int64)
    m = K.sort_reduce_pairs(buf, tmp, n, weights, d_bits, key_bits)
    uniq, sums = _sum_by_key(keys, weights[d])
    assert m == len(uniq)
    np.testing.assert_array_equal(buf[:m], uniq)
    np.testing.assert_array_equal(tmp[:m], sums)
    # merging two runs sums equal keys and keeps them sorted
    other, other_sums = _sum_by_key(keys[: n // 2], np.ones(n // 2))
    out_k = np.empty(m + len(other), dtype=np.int64)
    out_v = np.empty(m + len(other), dtype=np.int64)
    mm = K.merge_runs(buf[:m].copy(), tmp[:m].copy(), other, other_sums, out_k, out_v)
    want_k, want_v = _sum_by_key(np.r_[uniq, other], np.r_[sums, other_sums])
    np.testing.assert_array_equal(out_k[:mm], want_k)
    np.testing.assert_array_equal(out_v[:mm], want_v)


def test_counter_pickles_midway_and_edge_cases():
    rng = np.random.default_rng(9)
    ids = (rng.zipf(1.3, size=8000) % 200).astype(np.int32)
    whole, _ = _counts(200, ids, [0, 5000, 8000], window_size=3, n_jobs=2)
    counter = WindowCounter(200, window_size=3, n_jobs=2, n_dense=8).update(ids[:5000])
    blob = pickle.dumps(counter)
    assert len(blob) < 200_000  # the filled part of the buffers, not their capacity
    again = pickle.loads(blob).update(ids[5000:])
    assert (again.result_counts()[0] != whole).nnz == 0
    # nothing counted, a single word, all ids dense
    empty, _ = WindowCounter(5).result_counts()
    assert empty.shape == (5, 5) and empty.nnz == 0
    assert WindowCounter(4, symmetric=False).result().shape == (4, 8)
    one = count_window([0, 0, 0], None, 1, window_size=1, weighting="uniform")
    assert one.toarray().tolist() == [[4.0]]
    dense = count_window([0, 1, 2, 1], None, 3, window_size=2, n_dense=3)
    assert (
        dense != count_window([0, 1, 2, 1], None, 3, window_size=2, n_dense=0)
    ).nnz == 0


def test_build_reads_once_whether_codes_are_kept_or_spooled(tmp_path, monkeypatch):
    import cooc.cooccurrence as cc
    import cooc.corpus

    files = []
    for i in range(3):
        f = tmp_path / f"part{i}.txt"
        f.write_text(
            "".join(f"w{(i * 7 + j) % 11} w{j % 5} w{j % 3}\n" for j in range(40))
        )
        files.append(f)
    reads = []
    real = cooc.corpus.iter_byte_blocks

    def counting_reads(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cooc.corpus, "iter_byte_blocks", counting_reads)
    kept = cc.build_cooccurrence(files, window_size=3, chunk_size=64)
    assert len(reads) == 1  # counting reused the codes of the vocabulary pass
    monkeypatch.setattr(cc, "_codes_in_memory", lambda memory: 0)
    spooled = cc.build_cooccurrence(files, window_size=3, chunk_size=64)
    assert len(reads) == 2  # spooled to a temporary file, still one read
    assert kept.vocabulary == spooled.vocabulary
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(
            getattr(kept.matrix, name), getattr(spooled.matrix, name)
        )
    assert kept.stats == spooled.stats
    # and both equal the chunk-by-chunk reference path
    chunks = list(cooc.corpus.iter_token_chunks(files))
    from cooc.vocab import build_vocabulary

    vocab = build_vocabulary(chunks)
    params = cc.file_defaults({"window_size": 3})
    reference = cc._count_chunks(chunks, vocab, params, None)
    assert reference.vocabulary == kept.vocabulary
    assert (reference.matrix != kept.matrix).nnz == 0
