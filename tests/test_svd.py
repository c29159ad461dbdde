"""Tests for cooc.svd: svd_embed, SVDEmbedding and Embeddings."""

import pickle
import re
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.extmath import svd_flip

from cooc.svd import Embeddings, SVDEmbedding, svd_embed
from cooc.weighting import PPMITransformer, ppmi


def matrix_with_spectrum(n_rows, n_cols, singular_values, seed=0):
    """Dense matrix ``U diag(s) V^T`` with random orthonormal U, V."""
    rng = np.random.default_rng(seed)
    k = len(singular_values)
    U, _ = np.linalg.qr(rng.standard_normal((n_rows, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n_cols, k)))
    return (U * singular_values) @ V.T


def reference_svd(X, k):
    """Top-k SVD by numpy, signs fixed like cooc (u-based svd_flip)."""
    U, S, Vt = np.linalg.svd(np.asarray(X, dtype=np.float64), full_matrices=False)
    U, Vt = svd_flip(U[:, :k].copy(), Vt[:k].copy(), u_based_decision=True)
    return U, S[:k], Vt


@pytest.fixture
def ppmi_matrix():
    rng = np.random.default_rng(1)
    counts = rng.poisson(
        rng.gamma(0.5, 2.0, size=(40, 1)) * rng.gamma(0.5, 2.0, size=(1, 40))
    )
    counts = counts + counts.T
    return ppmi(counts, dtype=np.float64)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("sparse", [False, True])
def test_svd_embed_matches_numpy(ppmi_matrix, solver, power, sparse):
    k = 6
    X = ppmi_matrix if sparse else ppmi_matrix.toarray()
    vectors, s = svd_embed(
        X, k, power=power, solver=solver, random_state=0, dtype=np.float64
    )
    U, S, _ = reference_svd(ppmi_matrix.toarray(), k)
    assert vectors.shape == (40, k) and s.shape == (k,)
    assert_allclose(s, S, rtol=1e-8)
    assert_allclose(vectors, U * S**power, atol=1e-8)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_svd_embed_add_context(ppmi_matrix, solver):
    vectors, _ = svd_embed(
        ppmi_matrix,
        5,
        power=0.5,
        add_context=True,
        solver=solver,
        random_state=0,
        dtype=np.float64,
    )
    U, S, Vt = reference_svd(ppmi_matrix.toarray(), 5)
    assert_allclose(vectors, U * S**0.5 + Vt.T * S**0.5, atol=1e-8)


def test_svd_embed_randomized_few_oversamples_decaying_spectrum():
    X = matrix_with_spectrum(300, 200, 100.0 * 0.5 ** np.arange(40))
    vectors, s = svd_embed(
        X, 8, power=1.0, n_oversamples=4, n_iter=6, random_state=0, dtype=np.float64
    )
    U, S, _ = reference_svd(X, 8)
    assert_allclose(s, S, rtol=1e-6)
    assert_allclose(vectors, U * S, atol=1e-6 * S[0])


def test_svd_embed_float32(ppmi_matrix):
    vectors, s = svd_embed(ppmi_matrix, 4, random_state=0)
    assert vectors.dtype == np.float32 and s.dtype == np.float32
    vectors64, s64 = svd_embed(ppmi_matrix, 4, random_state=0, dtype=np.float64)
    assert_allclose(s, s64, rtol=1e-4)
    assert_allclose(vectors, vectors64, atol=1e-4)


def test_svd_embed_singular_values_descending_and_signs(ppmi_matrix):
    for solver in ("randomized", "arpack"):
        vectors, s = svd_embed(ppmi_matrix, 8, power=0.0, solver=solver, random_state=3)
        assert np.all(np.diff(s) <= 0)
        # u-based svd_flip: the largest |entry| of every column of U is positive.
        assert np.all(vectors[np.abs(vectors).argmax(axis=0), np.arange(8)] > 0)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_svd_embed_deterministic(ppmi_matrix, solver):
    a = svd_embed(ppmi_matrix, 5, solver=solver, random_state=42)
    b = svd_embed(ppmi_matrix, 5, solver=solver, random_state=42)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    c = svd_embed(ppmi_matrix, 5, solver=solver, random_state=np.random.RandomState(7))
    assert_allclose(a[0], c[0], atol=1e-4)  # same answer from another seed, signs fixed


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"n_components": 40},
            r"n_components=40 must be .* < min\(n_samples=40, n_features=40\).*--rank",
        ),
        ({"n_components": 0}, "n_components=0"),
        ({"n_components": 2.5}, "n_components=2.5"),
        ({"solver": "lobpcg"}, "solver='lobpcg'"),
        ({"power": -1}, "power=-1"),
        ({"n_iter": -1}, "n_iter=-1"),
        ({"dtype": np.int64}, "dtype"),
    ],
)
def test_svd_embed_errors(ppmi_matrix, kwargs, match):
    with pytest.raises(ValueError, match=match):
        svd_embed(ppmi_matrix, **{"n_components": 4, **kwargs})


def test_svd_embed_add_context_needs_square():
    with pytest.raises(ValueError, match="square"):
        svd_embed(np.random.default_rng(0).random((10, 8)), 3, add_context=True)


def test_embed_operator_is_the_routine_of_svd_embed(ppmi_matrix):
    """Any object with the products is embedded by the routine svd_embed runs
    (the Dask SVD passes its row blocks): the same bits for the same products,
    and the same checks."""
    from cooc.svd import embed_operator

    X = ppmi_matrix.toarray().astype(np.float32)

    class Products:  # no sketch: the solver multiplies by a dense test matrix
        shape, dtype = X.shape, X.dtype

        def times(self, B, out=None):
            return X @ B

        def t_times(self, B, out=None):
            return X.T @ B

    for kwargs in ({}, {"add_context": True, "power": 0.5, "n_iter": 2}):
        got = embed_operator(Products(), 5, random_state=3, **kwargs)
        expected = svd_embed(X, 5, random_state=3, **kwargs)
        assert_array_equal(got[0], expected[0])
        assert_array_equal(got[1], expected[1])
    for kwargs, match in (
        ({"n_iter": -1}, "n_iter=-1"),
        ({"power": -1}, "power=-1"),
        ({"n_components": 40}, "--rank"),
    ):
        with pytest.raises(ValueError, match=match):
            embed_operator(Products(), **{"n_components": 5, **kwargs})


# ------------------------------------------------------------ SVDEmbedding


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_estimator_matches_svd_embed_and_transform(ppmi_matrix, solver, power):
    est = SVDEmbedding(6, power=power, solver=solver, random_state=0)
    Y = est.fit_transform(ppmi_matrix)
    vectors, s = svd_embed(
        ppmi_matrix, 6, power=power, solver=solver, random_state=0, dtype=np.float64
    )
    assert_allclose(Y, vectors, atol=1e-10)
    assert_allclose(est.singular_values_, s)
    assert est.components_.shape == (6, 40) and est.n_features_in_ == 40
    assert_allclose(est.transform(ppmi_matrix), Y, atol=1e-8)
    assert_allclose(est.transform(ppmi_matrix.toarray()), Y, atol=1e-8)


def test_estimator_power_one_is_truncated_svd_transform(ppmi_matrix):
    est = SVDEmbedding(5, power=1.0, random_state=0).fit(ppmi_matrix)
    assert_allclose(
        est.transform(ppmi_matrix), ppmi_matrix @ est.components_.T, atol=1e-10
    )


def test_estimator_float32_pipeline(ppmi_matrix):
    counts = (
        sp.random(30, 30, density=0.3, random_state=0, format="csr", dtype=np.float32)
        * 10
    )
    X = PPMITransformer().fit_transform(counts)
    assert X.dtype == np.float32
    est = SVDEmbedding(4, random_state=0)
    Y = est.fit_transform(X)
    assert Y.dtype == np.float32 and est.components_.dtype == np.float32
    assert est.transform(X).dtype == np.float32
    assert_allclose(est.transform(X), Y, atol=1e-4)


def test_estimator_feature_names_and_pickle(ppmi_matrix):
    est = SVDEmbedding(3, random_state=0).fit(ppmi_matrix)
    assert list(est.get_feature_names_out()) == [
        "svdembedding0",
        "svdembedding1",
        "svdembedding2",
    ]
    again = pickle.loads(pickle.dumps(est))
    assert_allclose(again.transform(ppmi_matrix), est.transform(ppmi_matrix))
    assert clone(est).get_params() == est.get_params()


def test_estimator_errors(ppmi_matrix):
    with pytest.raises(NotFittedError):
        SVDEmbedding(3).transform(ppmi_matrix)
    with pytest.raises(ValueError, match="--rank"):
        SVDEmbedding(40).fit(ppmi_matrix)
    for params in (
        {"n_components": 0},
        {"power": -0.5},
        {"solver": "dense"},
        {"n_iter": -2},
    ):
        with pytest.raises(ValueError, match=next(iter(params))):
            SVDEmbedding(**{"n_components": 3, **params}).fit(ppmi_matrix)


@parametrize_with_checks(
    [
        SVDEmbedding(n_components=1, random_state=0),
        SVDEmbedding(n_components=1, power=1.0, solver="arpack", random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -------------------------------------------------------------- Embeddings


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    tokens = ["the", "cat", "dog", "café", "日本", "x'y", "zero"]
    vectors = rng.standard_normal((len(tokens), 5)).astype(np.float32)
    vectors[-1] = 0  # a zero vector
    return Embeddings(tokens, vectors)


def test_embeddings_basics(emb):
    assert len(emb) == 7 and emb.dim == 5
    assert emb.vectors.dtype == np.float32
    assert "cat" in emb and "cow" not in emb and 3 not in emb
    assert emb.index("dog") == 2
    assert_array_equal(emb["dog"], emb.vectors[2])
    assert list(emb) == emb.tokens
    with pytest.raises(KeyError, match="'cow' is not in the vocabulary"):
        emb["cow"]
    with pytest.raises(KeyError, match="cow"):
        emb.index("cow")


def test_embeddings_constructor_errors():
    with pytest.raises(ValueError, match="2 tokens but 3 vector rows"):
        Embeddings(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        Embeddings(["a"], np.zeros(3))
    with pytest.raises(ValueError, match="duplicate token 'a'"):
        Embeddings(["a", "b", "a"], np.zeros((3, 2)))
    with pytest.raises(TypeError, match="str"):
        Embeddings(["a", 1], np.zeros((2, 2)))
    assert (
        Embeddings(["a"], np.ones((1, 2), dtype=np.float64)).vectors.dtype == np.float32
    )


def test_embeddings_normalized(emb):
    unit = emb.normalized()
    norms = np.linalg.norm(unit.vectors, axis=1)
    assert_allclose(norms[:-1], 1, rtol=1e-6)
    assert norms[-1] == 0
    assert unit.tokens == emb.tokens and unit.vectors.dtype == np.float32


def brute_force_neighbours(emb, vector, skip):
    sims = [
        (
            t,
            float(np.dot(v, vector) / (np.linalg.norm(v) * np.linalg.norm(vector)))
            if np.linalg.norm(v) > 0
            else 0.0,
        )
        for t, v in zip(emb.tokens, emb.vectors.astype(np.float64), strict=True)
        if t not in skip
    ]
    return sorted(sims, key=lambda ts: -ts[1])


def test_most_similar_against_brute_force():
    rng = np.random.default_rng(5)
    tokens = [f"w{i}" for i in range(200)]
    emb = Embeddings(tokens, rng.standard_normal((200, 16)))
    for query in ("w0", "w17", "w199"):
        got = emb.most_similar(query, k=10, exclude=("w3", "unknown"))
        expected = brute_force_neighbours(
            emb, emb[query].astype(np.float64), {query, "w3"}
        )[:10]
        assert [t for t, _ in got] == [t for t, _ in expected]
        assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5)
    vector = rng.standard_normal(16)
    got = emb.most_similar(vector, k=5)
    assert [t for t, _ in got] == [
        t for t, _ in brute_force_neighbours(emb, vector, set())[:5]
    ]


def test_most_similar_edge_cases(emb):
    assert len(emb.most_similar("cat", k=100)) == 6  # everything but the query
    assert emb.most_similar("cat", k=0) == []
    assert all(
        t not in ("cat", "dog") for t, _ in emb.most_similar("cat", exclude=["dog"])
    )
    assert emb.most_similar("cat", exclude="dog") == emb.most_similar(
        "cat", exclude=["dog"]
    )
    with pytest.raises(KeyError, match="cow"):
        emb.most_similar("cow")
    with pytest.raises(ValueError, match="shape"):
        emb.most_similar(np.ones(4))
    # Ties are broken by row order.
    tied = Embeddings(["a", "b", "c", "d"], [[1, 0], [0, 1], [0, 2], [0, 3]])
    assert [t for t, _ in tied.most_similar("b", k=2)] == ["c", "d"]


def test_similarity(emb):
    a, b = emb["cat"].astype(np.float64), emb["dog"].astype(np.float64)
    assert emb.similarity("cat", "dog") == pytest.approx(
        a @ b / np.linalg.norm(a) / np.linalg.norm(b), rel=1e-6
    )
    assert emb.similarity("cat", "zero") == 0.0
    assert emb.similarity("cat", "cat") == pytest.approx(1.0)
    with pytest.raises(KeyError):
        emb.similarity("cat", "cow")


@pytest.mark.parametrize("suffix", [".txt", ".vec", ".bin", ".npz", ".BIN"])
def test_save_load_round_trip(emb, tmp_path, suffix):
    path = tmp_path / f"emb{suffix}"
    emb.save(path)
    loaded = Embeddings.load(path)
    assert loaded.tokens == emb.tokens
    assert loaded.vectors.dtype == np.float32
    assert_array_equal(loaded.vectors, emb.vectors)  # bit-exact, text included
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_word2vec_text_layout(tmp_path):
    emb = Embeddings(["a", "bé"], np.array([[0.5, -1.0], [0.1, 2.0]], dtype=np.float32))
    emb.save(tmp_path / "e.txt")
    assert (tmp_path / "e.txt").read_text(
        encoding="utf-8"
    ) == "2 2\na 0.5 -1.0\nbé 0.1 2.0\n"


def test_word2vec_binary_layout(tmp_path):
    vectors = np.array([[0.5, -1.0], [0.1, 2.0]], dtype=np.float32)
    Embeddings(["a", "bé"], vectors).save(tmp_path / "e.bin")
    expected = (
        b"2 2\n"
        + b"a "
        + vectors[0].astype("<f4").tobytes()
        + b"\n"
        + "bé ".encode()
        + vectors[1].astype("<f4").tobytes()
        + b"\n"
    )
    assert (tmp_path / "e.bin").read_bytes() == expected


def test_load_binary_without_newlines_and_glove_text(tmp_path):
    # gensim writes binary records without the trailing newline.
    vectors = np.array([[1.5, 2.0], [3.0, -4.0]], dtype=np.float32)
    data = b"2 2\n" + b"x " + vectors[0].tobytes() + b"y " + vectors[1].tobytes()
    (tmp_path / "g.bin").write_bytes(data)
    loaded = Embeddings.load(tmp_path / "g.bin")
    assert loaded.tokens == ["x", "y"]
    assert_array_equal(loaded.vectors, vectors)
    # GloVe text has no header line; trailing spaces and CRLF are tolerated.
    (tmp_path / "glove.txt").write_bytes(b"x 1.5 2 \r\ny 3 -4\r\n")
    loaded = Embeddings.load(tmp_path / "glove.txt")
    assert loaded.tokens == ["x", "y"]
    assert_array_equal(loaded.vectors, vectors)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty file"),
        (b"2 3\na 1 2 3\n", "header says 2 words but the file has 1"),
        (b"2 3\na 1 2 3\nb 1 2\n", ":3: expected a word and 3 numbers"),
        (b"2 3\na 1 2 3\nb 1 two 3\n", ":3: bad number"),
        (b"1 2\n\xff\xfe 1 2\n", ":2: not valid UTF-8"),
        (b"2 2\na 1 2\na 3 4\n", "duplicate token 'a'"),
    ],
)
def test_load_malformed_text(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + match):
        Embeddings.load(path)


def test_load_malformed_binary(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"2 2\na " + np.ones(2, "<f4").tobytes() + b"\nb " + b"\x00" * 5)
    with pytest.raises(
        ValueError, match=re.escape(str(path)) + ".*entry 2 of 2.*truncated"
    ):
        Embeddings.load(path)
    path.write_bytes(b"not a header\n")
    with pytest.raises(ValueError, match="header"):
        Embeddings.load(path)
    path.write_bytes(b"1 2\na " + np.ones(2, "<f4").tobytes() + b"\nextra stuff")
    with pytest.raises(ValueError, match="after the 1 entries"):
        Embeddings.load(path)


def test_load_malformed_npz(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, vectors=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"missing array.*tokens"):
        Embeddings.load(path)
    np.savez(path, vectors=np.zeros((2, 2)), tokens=np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        Embeddings.load(path)  # object arrays need pickle: refused
    np.savez(path, vectors=np.zeros((2, 2)), tokens=np.array([1, 2]))
    with pytest.raises(ValueError, match="unicode"):
        Embeddings.load(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        Embeddings.load(path)


def test_save_rejects_whitespace_tokens_in_word2vec(tmp_path):
    emb = Embeddings(["new york", "a"], np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"'new york'.*npz"):
        emb.save(tmp_path / "e.txt")
    assert not list(tmp_path.iterdir())
    emb.save(tmp_path / "e.npz")
    assert Embeddings.load(tmp_path / "e.npz").tokens == ["new york", "a"]


def test_save_empty_embeddings(tmp_path):
    empty = Embeddings([], np.zeros((0, 3), dtype=np.float32))
    for name in ("e.txt", "e.bin", "e.npz"):
        empty.save(tmp_path / name)
        loaded = Embeddings.load(tmp_path / name)
        assert len(loaded) == 0 and loaded.dim == 3


# -- threaded sparse products and the randomized solver on sparse input ---------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmm_matches_scipy_and_ignores_thread_count(dtype):
    import scipy.sparse as sp

    from cooc.svd import spmm

    rng = np.random.default_rng(0)
    A = sp.random(300, 200, density=0.05, format="csr", random_state=1, dtype=dtype)
    A = sp.csr_matrix(A.multiply((np.arange(300) != 7)[:, None]))  # an empty row
    B = rng.standard_normal((200, 13)).astype(dtype)
    ref = A @ B
    one = spmm(A, B, n_jobs=1)
    for n_jobs in (2, 3, 7):
        np.testing.assert_array_equal(spmm(A, B, n_jobs=n_jobs), one)
    np.testing.assert_allclose(
        one,
        ref,
        rtol=1e-5 if dtype == np.float32 else 1e-12,
        atol=1e-5 if dtype == np.float32 else 1e-12,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmm_rows_of_every_length_and_several_panels(dtype):
    # Rows short and long enough for each path of the kernel (single non-zeros,
    # groups of four, groups with rows prefetched ahead, and their tails) and
    # a B wider than one panel whose last panel is padded.
    import scipy.sparse as sp

    from cooc._kernels import PANEL
    from cooc.svd import spmm

    rng = np.random.default_rng(5)
    n_cols = 150
    lengths = [0, 1, 3, 4, 5, 7, 19, 20, 21, 23, 35, 36, 37, 100, n_cols]
    rows = [np.sort(rng.choice(n_cols, size=n, replace=False)) for n in lengths]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(rows).astype(np.int32)
    data = rng.standard_normal(indices.size).astype(dtype)
    A = sp.csr_matrix((data, indices, indptr), shape=(len(lengths), n_cols))
    B = rng.standard_normal((n_cols, 2 * PANEL + 5)).astype(dtype)
    out = spmm(A, B, n_jobs=2)
    assert out.dtype == dtype and out.shape == (len(lengths), B.shape[1])
    ref = A.toarray().astype(np.float64) @ B.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(out[0], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_sign_test_matrix_and_its_product(dtype):
    import scipy.sparse as sp

    from cooc import svd

    cols, signs = svd.sparse_sign(np.random.RandomState(0), 200, 30, dtype)
    assert cols.shape == signs.shape == (200, svd._SIGN_NONZEROS)
    assert signs.dtype == dtype and set(np.unique(signs)) == {-1.0, 1.0}
    assert cols.min() >= 0 and cols.max() < 30
    again = svd.sparse_sign(np.random.RandomState(0), 200, 30, dtype)
    assert_array_equal(again[0], cols)
    assert_array_equal(again[1], signs)
    dense = svd._sparse_sign_dense(cols, signs, 30)
    # each row's entries add up, repeated columns included
    assert_array_equal(np.abs(dense).sum(axis=1) % 2, svd._SIGN_NONZEROS % 2)
    assert_allclose(dense.sum(axis=1), signs.sum(axis=1))
    A = sp.random(150, 200, density=0.1, format="csr", random_state=2, dtype=dtype)
    ref = A.toarray().astype(np.float64) @ dense.astype(np.float64)
    one = svd._CSRProduct(A, n_jobs=1).sketch(cols, signs, 30)
    assert one.dtype == dtype
    assert_allclose(one, ref, rtol=1e-5, atol=1e-5)
    assert_array_equal(svd._CSRProduct(A, n_jobs=3).sketch(cols, signs, 30), one)
    # a test matrix narrower than _SIGN_NONZEROS: as many entries per row as columns
    narrow = svd.sparse_sign(np.random.RandomState(1), 5, 3, dtype)
    assert narrow[0].shape == (5, 3)


def test_sparse_randomized_matches_dense_svd_and_is_deterministic():
    import scipy.sparse as sp

    X = sp.random(120, 90, density=0.2, format="csr", random_state=3, dtype=np.float64)
    vec1, s1 = svd_embed(X, 10, power=1.0, random_state=0, dtype=np.float64, n_jobs=1)
    vec2, s2 = svd_embed(X, 10, power=1.0, random_state=0, dtype=np.float64, n_jobs=3)
    np.testing.assert_array_equal(vec1, vec2)
    np.testing.assert_array_equal(s1, s2)
    s_ref = np.linalg.svd(X.toarray(), compute_uv=False)[:10]
    np.testing.assert_allclose(s1, s_ref, rtol=1e-6)


# -- the shifted subspace iteration and its Gram-based orthonormalisation -------------
def test_randomized_flat_spectrum_float32_sparse_close_to_exact():
    # A slowly decaying spectrum (like PPMI's) in float32 CSR: the default
    # solver gets the top singular values to a fraction of a percent.
    s_true = np.linspace(10.0, 4.0, 60) ** 2 / 10
    X = sp.csr_matrix(matrix_with_spectrum(400, 300, s_true, seed=4).astype(np.float32))
    _, s = svd_embed(X, 10, random_state=0)
    assert s.dtype == np.float32
    assert_allclose(s, s_true[:10], rtol=5e-3)


def test_shift_makes_power_iterations_count_more():
    # Same number of products: with the shift, the smallest wanted singular
    # value comes out closer to the truth than without it.
    from cooc import svd

    s_true = 1.0 / np.arange(1, 81) ** 0.3
    X = sp.csr_matrix(matrix_with_spectrum(500, 400, s_true, seed=5))
    kwargs = dict(n_iter=4, n_oversamples=5, random_state=np.random.RandomState(0))
    _, s, _ = svd._svd_randomized(X, 20, **kwargs)
    shifted_err = abs(s[-1] - s_true[19]) / s_true[19]
    # the unshifted iteration, for comparison: plain Halko steps by hand
    rng = np.random.RandomState(0)
    Q = np.linalg.qr(X @ rng.normal(size=(400, 25)))[0]
    for _ in range(4):
        Q = np.linalg.qr(X @ (X.T @ Q))[0]
    plain = np.linalg.svd(Q.T @ X.toarray(), compute_uv=False)[:20]
    plain_err = abs(plain[-1] - s_true[19]) / s_true[19]
    assert shifted_err < 0.7 * plain_err


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eig_svd_and_small_side_svd(dtype):
    from cooc import svd

    ops = svd.DenseOps(None)
    s_true = np.geomspace(500.0, 1.0, 30)  # ratio 500: accepted in both dtypes
    B = matrix_with_spectrum(700, 30, s_true, seed=6).astype(dtype)
    U, S, V = svd._eig_svd(B, ops)
    assert U.dtype == dtype and S.dtype == np.float64
    assert_allclose(S, s_true, rtol=1e-2 if dtype == np.float32 else 1e-8)
    # the refined version is accurate to about the dtype's precision per value
    U, S, V = svd.small_side_svd(B, 5, ops)
    assert U.shape == (700, 5)
    assert_allclose(S, s_true, rtol=2e-4 if dtype == np.float32 else 1e-10)
    assert_allclose(U.T @ U, np.eye(5), atol=1e-4 if dtype == np.float32 else 1e-10)
    Ur, Sr, Vtr = np.linalg.svd(B.astype(np.float64), full_matrices=False)
    best = (Ur[:, :5] * Sr[:5]) @ Vtr[:5]  # the best rank-5 approximation
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert_allclose((U * S[:5]) @ V[:, :5].T, best, atol=tol * s_true[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_side_svd_one_pass_for_a_narrow_spectrum(dtype):
    from cooc import svd

    ops = svd.DenseOps(None)
    s_true = np.geomspace(50.0, 1.0, 30)  # ratio 50: one Gram pass is enough
    B = matrix_with_spectrum(700, 30, s_true, seed=11).astype(dtype)
    with mock.patch.object(svd, "_eig_svd", wraps=svd._eig_svd) as eig:
        U, S, V = svd.small_side_svd(B, 5, ops)
    assert eig.call_count == 1
    assert_allclose(S, s_true, rtol=2e-4 if dtype == np.float32 else 1e-10)
    assert U.shape == (700, 5) and U.dtype == dtype
    assert_allclose(U.T @ U, np.eye(5), atol=1e-4 if dtype == np.float32 else 1e-10)
    Ur, Sr, Vtr = np.linalg.svd(B.astype(np.float64), full_matrices=False)
    best = (Ur[:, :5] * Sr[:5]) @ Vtr[:5]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert_allclose((U * S[:5]) @ V[:, :5].T, best, atol=tol * s_true[0])


def test_eig_svd_refuses_ill_conditioned_blocks_and_solver_falls_back():
    from cooc import svd

    ops = svd.DenseOps(None)
    B = matrix_with_spectrum(200, 10, np.geomspace(1e4, 1.0, 10), seed=7)
    assert svd._eig_svd(B.astype(np.float32), ops) is None  # ratio 1e4 > 1e3
    assert svd._eig_svd(B, ops) is not None  # fine in float64
    # the solver then uses LU / LAPACK's SVD and still gets the right answer
    s_true = np.geomspace(1e4, 1.0, 12)
    X = sp.csr_matrix(matrix_with_spectrum(150, 120, s_true, seed=8))
    _, s = svd_embed(X, 6, random_state=0, dtype=np.float64)
    assert_allclose(s, s_true[:6], rtol=1e-8)
    _, s32 = svd_embed(X, 6, random_state=0)
    assert_allclose(s32, s_true[:6], rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_basis_spans_the_block_and_refuses_ill_conditioned_ones(dtype):
    from cooc import svd

    ops = svd.DenseOps(None)
    s_true = np.geomspace(500.0, 1.0, 30)
    B = matrix_with_spectrum(700, 30, s_true, seed=6).astype(dtype)
    Q, S = svd.cholesky_basis(B.copy(), ops)
    assert Q.dtype == dtype and S.dtype == np.float64
    assert_allclose(S, s_true, rtol=1e-2 if dtype == np.float32 else 1e-8)
    # orthonormal up to eps * ratio**2, and the same column space as B
    assert_allclose(Q.T @ Q, np.eye(30), atol=0.05 if dtype == np.float32 else 1e-8)
    Ur = np.linalg.svd(B.astype(np.float64), full_matrices=False)[0]
    residual = Ur - Q @ np.linalg.lstsq(Q.astype(np.float64), Ur, rcond=None)[0]
    assert np.abs(residual).max() < (1e-3 if dtype == np.float32 else 1e-10)
    # too ill-conditioned for the Gram route in float32: refused, block untouched
    C = matrix_with_spectrum(200, 10, np.geomspace(1e4, 1.0, 10), seed=7)
    C32 = C.astype(np.float32)
    kept = C32.copy()
    assert svd.cholesky_basis(C32, ops) is None
    assert_array_equal(C32, kept)
    assert svd.cholesky_basis(C.copy(), ops) is not None  # fine in float64


def test_dense_ops_do_not_depend_on_the_pool():
    from concurrent.futures import ThreadPoolExecutor

    from cooc import svd

    rng = np.random.default_rng(9)
    Y = rng.standard_normal((1001, 17)).astype(np.float32)
    W = rng.standard_normal((17, 5))
    serial = svd.DenseOps(None)
    with ThreadPoolExecutor(3) as pool:
        threaded = svd.DenseOps(pool)
        assert_array_equal(threaded.gram(Y), serial.gram(Y))
        assert_array_equal(threaded.matmul(Y, W), serial.matmul(Y, W))
        R = np.triu(rng.standard_normal((17, 17))) + 5 * np.eye(17)
        assert_array_equal(
            threaded.solve_upper(Y.copy(), R), serial.solve_upper(Y.copy(), R)
        )
        assert_allclose(
            serial.solve_upper(Y.copy(), R) @ R.astype(np.float32), Y, atol=1e-4
        )
    exact = Y.astype(np.float64).T @ Y
    assert_allclose(serial.gram(Y), exact, atol=1e-5 * np.abs(exact).max())
    assert serial.matmul(Y, W).dtype == np.float32
