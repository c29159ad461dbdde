"""pandas output and SVD statistics (issue 13, task 4).

* ``set_output(transform="pandas")`` on every cooc transformer: a DataFrame
  with the columns of ``get_feature_names_out()``, the same values as the
  default output, pandas sparse columns where the output is sparse, and the
  words as the index where the rows are words.
* ``SVDEmbedding.explained_variance_ratio_`` agrees with scikit-learn's
  ``TruncatedSVD`` (ARPACK) on the same data.
* ``.npz`` vectors keep the singular values; ``cooc embed`` writes them and
  ``cooc info`` prints them.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import TransformerMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.pipeline import make_pipeline

import cooc
from cooc import CooccurrenceVectorizer, PPMITransformer, SVDEmbedding
from cooc.colorhist import ColorHistogram
from cooc.datasets import load_emoji, make_topic_corpus
from cooc.features import RegionWords, StandardizedVectors
from cooc.fusion import ModalityFusion
from cooc.models import MultimodalFeatures
from cooc.multimodal import JointEmbedding
from cooc.svd import Embeddings
from cooc.vectorizers import DocumentVectorizer
from cooc.vision import VisualWords

TESTED = {
    "ColorHistogram",
    "CooccurrenceVectorizer",
    "DocumentVectorizer",
    "JointEmbedding",
    "ModalityFusion",
    "MultimodalFeatures",
    "PPMITransformer",
    "RegionWords",
    "SVDEmbedding",
    "StandardizedVectors",
    "VisualWords",
}


def values(out):
    """Dense values of a matrix, an array or a DataFrame (sparse columns too)."""
    if isinstance(out, pd.DataFrame):
        if len(out.columns) and all(isinstance(t, pd.SparseDtype) for t in out.dtypes):
            return out.sparse.to_coo().toarray()
        return out.to_numpy()
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def is_sparse_frame(out):
    return all(isinstance(t, pd.SparseDtype) for t in out.dtypes)


def check_pandas(est, X, *, sparse, index=None, fit_kwargs=None, transform_args=()):
    """fit_transform and transform under pandas output against the default."""
    fit_kwargs = fit_kwargs or {}
    default = clone(est).fit(X, **fit_kwargs)
    expected = default.transform(X, *transform_args)
    assert sp.issparse(expected) == sparse
    framed = clone(est).set_output(transform="pandas")
    first = framed.fit_transform(X, **fit_kwargs)
    again = framed.transform(X, *transform_args)
    for out in (first, again):
        assert isinstance(out, pd.DataFrame)
        assert is_sparse_frame(out) == sparse
        assert list(out.columns) == list(default.get_feature_names_out())
        assert_allclose(values(out), values(expected), equal_nan=True, atol=1e-6)
        if index is not None:
            assert list(out.index) == list(index)
    return again


def test_every_transformer_is_tested():
    found = set()
    for info in pkgutil.iter_modules(cooc.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cooc.{info.name}")
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, TransformerMixin)
                and obj.__module__ == module.__name__
            ):
                found.add(name)
    assert found == TESTED


@pytest.fixture(scope="module")
def docs():
    docs, labels = make_topic_corpus(120, random_state=0)
    return docs, labels


@pytest.fixture(scope="module")
def emoji():
    images, frame = load_emoji()
    rows = np.arange(0, len(frame), 20)  # 96 items, every category
    return images[rows], frame["text"].to_numpy()[rows]


# -- text transformers, rows are words ------------------------------------------------
@pytest.mark.parametrize("symmetric", [True, False])
def test_cooccurrence_vectorizer_rows_are_words(docs, symmetric):
    docs, _ = docs
    est = CooccurrenceVectorizer(window_size=2, symmetric=symmetric)
    fitted = clone(est).fit(docs)
    out = check_pandas(est, docs, sparse=True, index=fitted.vocabulary_.tokens)
    row = fitted.vocabulary_.tokens.index("c0")
    assert (
        out.loc["c0", fitted.get_feature_names_out()[1]]
        == values(fitted.transform(docs))[row, 1]
    )
    # a pandas Series of documents: the rows are still the words
    series = pd.Series(docs, index=[f"doc{i}" for i in range(len(docs))])
    out = clone(est).set_output(transform="pandas").fit_transform(series)
    assert list(out.index) == fitted.vocabulary_.tokens


def test_ppmi_keeps_the_index_dense_and_sparse(docs):
    docs, _ = docs
    counts = CooccurrenceVectorizer(window_size=2).fit(docs)
    matrix = counts.transform(docs)
    words = counts.vocabulary_.tokens
    dense = pd.DataFrame(matrix.toarray(), index=words, columns=words)
    check_pandas(PPMITransformer(), dense, sparse=False, index=words)
    check_pandas(PPMITransformer(), matrix, sparse=True)  # no index to keep
    framed = counts.set_output(transform="pandas").transform(docs)
    check_pandas(PPMITransformer(), framed, sparse=True, index=words)


def test_svd_embedding_keeps_the_index(docs):
    docs, _ = docs
    counts = CooccurrenceVectorizer(window_size=2).fit(docs)
    words = counts.vocabulary_.tokens
    dense = pd.DataFrame(counts.transform(docs).toarray(), index=words)
    est = SVDEmbedding(4, solver="arpack", random_state=0)
    out = check_pandas(est, dense, sparse=False, index=words)
    assert list(out.columns) == [f"svdembedding{i}" for i in range(4)]


def test_document_vectorizer_keeps_the_documents_index(docs):
    docs, _ = docs
    series = pd.Series(docs, index=[f"doc{i}" for i in range(len(docs))])
    est = DocumentVectorizer(n_components=4, random_state=0)
    check_pandas(est, series, sparse=False, index=series.index)


def test_readme_word_pipeline_gives_word_vectors_indexed_by_word():
    docs, _ = make_topic_corpus(300, random_state=0)

    def words():
        return make_pipeline(
            CooccurrenceVectorizer(window_size=3),
            PPMITransformer(),
            SVDEmbedding(n_components=8, random_state=0),
        )

    plain = words().fit_transform(docs)
    pipe = words().set_output(transform="pandas")
    word_vectors = pipe.fit_transform(docs)
    vocabulary = pipe[0].vocabulary_.tokens
    assert isinstance(word_vectors, pd.DataFrame)
    assert list(word_vectors.index) == vocabulary
    assert list(word_vectors.columns) == [f"svdembedding{i}" for i in range(8)]
    assert_allclose(word_vectors.to_numpy(), plain, rtol=1e-6, atol=1e-7)
    assert_allclose(
        word_vectors.loc["c0"].to_numpy(), plain[vocabulary.index("c0")], atol=1e-7
    )
    # the global switch does the same
    with config_context(transform_output="pandas"):
        again = words().fit_transform(docs)
    assert_array_equal(again.to_numpy(), word_vectors.to_numpy())
    assert list(again.index) == vocabulary


# -- image and multimodal transformers ------------------------------------------------
def test_visual_words_sparse_frame(emoji):
    images, _ = emoji
    est = VisualWords(8, patch_size=16, step=8, random_state=0)
    out = check_pandas(est, images, sparse=True)
    assert list(out.columns) == [f"vw{i}" for i in range(8)]


def test_color_histogram_dense_frame(emoji):
    images, _ = emoji
    est = ColorHistogram()
    out = check_pandas(est, images, sparse=False)
    assert list(out.columns) == list(clone(est).fit(images).get_feature_names_out())


def test_region_words_sparse_frame(rng):
    regions = rng.normal(size=(12, 5, 6)).astype(np.float32)
    out = check_pandas(RegionWords(4, random_state=0), regions, sparse=True)
    assert list(out.columns) == ["vw0", "vw1", "vw2", "vw3"]
    assert_allclose(out.sparse.to_coo().toarray().sum(axis=1), 5)  # regions per item


def test_standardized_vectors_dense_frame(rng):
    X = rng.normal(size=(10, 3))
    out = check_pandas(StandardizedVectors(), X, sparse=False)
    assert list(out.columns) == ["f0", "f1", "f2"]
    assert_allclose(out.mean().to_numpy(), 0, atol=1e-12)


def test_joint_embedding_frame(emoji):
    images, texts = emoji
    counts = VisualWords(8, patch_size=16, step=8, random_state=0).fit_transform(images)
    texts = pd.Series(list(texts), index=[f"item{i}" for i in range(len(texts))])
    est = JointEmbedding(4, random_state=0)
    check_pandas(
        est, texts, sparse=False, index=texts.index, fit_kwargs={"visual": counts},
        transform_args=(counts,),
    )  # fmt: skip


def test_multimodal_features_keep_the_table_index_and_missing_marks(emoji):
    images, texts = emoji
    table = pd.DataFrame(
        {"text": list(texts), "image": list(images)},
        index=[f"e{i}" for i in range(len(texts))],
    )
    table.loc["e1", "text"] = None
    table.loc["e2", "image"] = None
    est = MultimodalFeatures(n_visual_words=8, patch_size=16, step=8, random_state=0)
    out = check_pandas(est, table, sparse=True, index=table.index)
    assert np.isnan(out.loc["e1"].iloc[0]) and not np.isnan(out.loc["e0"].iloc[0])


@pytest.mark.parametrize("sparse", [False, True])
def test_modality_fusion_frame(rng, sparse):
    X = rng.random((30, 5))
    X[X < 0.5] = 0
    X[3, :2] = np.nan  # block a missing in row 3
    frame = pd.DataFrame(X, index=[f"r{i}" for i in range(30)])
    data = sp.csr_matrix(X) if sparse else frame
    est = ModalityFusion([("a", slice(0, 2)), ("b", slice(2, 5))], scaling="none")
    check_pandas(est, data, sparse=sparse, index=None if sparse else frame.index)


# -- SVDEmbedding: singular values and explained variance -----------------------------
@pytest.mark.parametrize("kind", ["dense", "csr", "float32"])
def test_explained_variance_ratio_matches_truncated_svd(rng, kind):
    X = rng.random((80, 30)) * (rng.random((80, 30)) < 0.3)
    X[:, 0] += 3.0  # an uncentred column: ratios differ from PCA's
    if kind == "csr":
        X = sp.csr_matrix(X)
    elif kind == "float32":
        X = X.astype(np.float32)
    ours = SVDEmbedding(6, solver="arpack", random_state=0).fit(X)
    ref = TruncatedSVD(6, algorithm="arpack", random_state=0).fit(X)
    rtol = 1e-4 if kind == "float32" else 1e-9
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=rtol)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol
    )
    assert 0 < ours.explained_variance_ratio_.sum() <= 1
    # the randomized solver finds the same top components on this small matrix
    fast = SVDEmbedding(6, random_state=0).fit(X)
    assert_allclose(
        fast.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-3
    )


def test_explained_variance_ratio_of_a_constant_matrix_is_zero():
    est = SVDEmbedding(1, solver="arpack", random_state=0).fit(np.ones((5, 4)))
    assert_array_equal(est.explained_variance_ratio_, [0.0])


# -- vectors files keep the singular values -------------------------------------------
def test_npz_keeps_singular_values(tmp_path):
    emb = Embeddings(["a", "b", "c"], np.eye(3, 2))
    assert emb.singular_values is None
    emb.save(tmp_path / "plain.npz")
    assert Embeddings.load(tmp_path / "plain.npz").singular_values is None
    emb.singular_values = np.array([3.0, 1.5], dtype=np.float32)
    emb.save(tmp_path / "v.npz")
    loaded = Embeddings.load(tmp_path / "v.npz")
    assert_array_equal(loaded.singular_values, [3.0, 1.5])
    assert loaded.tokens == emb.tokens
    emb.save(tmp_path / "v.txt")  # word2vec text cannot keep them
    assert Embeddings.load(tmp_path / "v.txt").singular_values is None
    np.savez(
        tmp_path / "bad.npz",
        vectors=emb.vectors,
        tokens=np.array(emb.tokens),
        singular_values=np.array(["x", "y"]),
    )
    with pytest.raises(ValueError, match="singular_values"):
        Embeddings.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("streaming", [False, True], ids=["in-memory", "streamed"])
def test_cooc_embed_writes_and_info_prints_singular_values(
    run_cli, tmp_path, streaming
):
    docs, _ = make_topic_corpus(200, random_state=1)
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(docs) + "\n", encoding="utf-8")
    matrix = tmp_path / "d.cooc"
    r = run_cli("build", corpus, "--min-count", "1", "-o", matrix, "-q")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "v.npz"
    extra = ["--streaming"] if streaming else []
    r = run_cli("embed", matrix, "--rank", "6", "-o", out, "--json", "-q", *extra)
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert ("streaming" in report) == streaming
    emb = Embeddings.load(out)
    assert emb.singular_values.shape == (6,)
    assert_allclose(emb.singular_values[:5], report["top_singular_values"], rtol=1e-6)
    assert_allclose(emb.singular_values[-1], report["smallest_singular_value"])
    r = run_cli("info", out, "--json")
    assert r.exit_code == 0, r.stderr
    assert_allclose(json.loads(r.stdout)["singular_values"], emb.singular_values)
    r = run_cli("info", out)
    assert "singular values (6)" in r.stdout
