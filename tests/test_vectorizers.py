"""CooccurrenceVectorizer and DocumentVectorizer: hand-checked results, sklearn API.

Both take raw documents, so scikit-learn's estimator checks skip them (STYLE.md §9);
cloning, parameters, refitting, NotFittedError and pickling are tested here.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from cooc.cooccurrence import cooccurrence_matrix
from cooc.datasets import make_topic_corpus
from cooc.svd import Embeddings, SVDEmbedding
from cooc.vectorizers import CooccurrenceVectorizer, DocumentVectorizer
from cooc.weighting import PPMITransformer, ppmi

TINY = ["a b a", "", "c", "b c b b"]  # empty doc, one-token doc, repeated tokens


@pytest.fixture(scope="module")
def topics():
    docs, labels = make_topic_corpus(200, random_state=0)
    return docs, labels


# -- CooccurrenceVectorizer ------------------------------------------------------------
def test_cooc_hand_count():
    vec = CooccurrenceVectorizer(window_size=1, weighting="uniform")
    X = vec.fit_transform(["a b a", "b c"])
    assert sp.issparse(X)
    assert X.shape == (3, 3)
    np.testing.assert_array_equal(X.toarray(), [[0, 2, 0], [2, 0, 1], [0, 1, 0]])
    assert vec.get_feature_names_out().tolist() == ["a", "b", "c"]
    assert vec.vocabulary_.counts.tolist() == [2, 2, 1]


def test_cooc_hand_count_tiny(reference_counts):
    vec = CooccurrenceVectorizer(window_size=2, weighting="harmonic")
    X = vec.fit_transform(TINY)
    assert vec.vocabulary_.tokens == ["b", "a", "c"]
    # b row: a-b twice (1 each), b-c at d1 twice and d2 once, b-b at d1 once and d2 once
    np.testing.assert_allclose(
        X.toarray(), [[3, 2, 2.5], [2, 1, 0], [2.5, 0, 0]], rtol=0, atol=1e-15
    )
    docs = [d.split() for d in TINY]
    np.testing.assert_allclose(
        X.toarray(),
        reference_counts(docs, ["b", "a", "c"], 2, "harmonic"),
        rtol=0,
        atol=1e-15,
    )
    assert vec.cooccurrence_.stats["n_docs"] == 4
    assert vec.cooccurrence_.stats["n_tokens"] == 8


@pytest.mark.parametrize("symmetric", [True, False])
def test_cooc_random_docs_match_reference(rng, reference_counts, symmetric):
    words = [f"w{i}" for i in range(7)]
    docs = [list(rng.choice(words, size=rng.integers(0, 12))) for _ in range(25)]
    vec = CooccurrenceVectorizer(
        window_size=4, weighting="linear", symmetric=symmetric, tokenizer="whitespace"
    )
    X = vec.fit_transform([" ".join(d) for d in docs])
    expected = reference_counts(
        docs, vec.vocabulary_.tokens, 4, "linear", symmetric=symmetric
    )
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "params",
    [
        {"window_size": 3, "weighting": "harmonic"},
        {"window_size": 2, "weighting": "linear", "symmetric": False},
        {"window_size": 4, "min_count": 2, "oov": "gap"},
        {"window_size": 5, "dynamic_window": True, "random_state": 3},
    ],
)
def test_cooc_equals_cooccurrence_matrix(topics, params):
    docs = [*topics[0][:40], ["pre", "tokenized", "pre"], []]
    X = CooccurrenceVectorizer(**params).fit_transform(docs)
    # the vectorizer's default weighting is cooc build's (1/d**1.25); the
    # array-level cooccurrence_matrix keeps harmonic weights
    p = {"weighting": "power", **params}
    expected = cooccurrence_matrix(docs, **p).matrix
    assert X.shape == expected.shape
    assert abs(X - expected).max() == 0


def test_cooc_transform_uses_fitted_vocabulary():
    vec = CooccurrenceVectorizer(window_size=1, weighting="uniform").fit(
        ["a b a", "b c"]
    )
    # "x" is unknown and dropped, so "a c a" remains: a-c twice
    np.testing.assert_array_equal(
        vec.transform(["a c x a"]).toarray(), [[0, 0, 2], [0, 0, 0], [2, 0, 0]]
    )
    with_gap = clone(vec).set_params(oov="gap").fit(["a b a", "b c"])
    np.testing.assert_array_equal(
        with_gap.transform(["a x c"]).toarray(), np.zeros((3, 3))
    )


def test_cooc_token_lists_and_case():
    vec = CooccurrenceVectorizer(window_size=1, weighting="uniform")
    assert vec.fit(["The the THE"]).get_feature_names_out().tolist() == ["the"]
    vec.set_params(lowercase=False)
    assert vec.fit(["The the"]).get_feature_names_out().tolist() == ["The", "the"]
    X = vec.fit_transform([["New York", "is", "New York"]])  # tokens used as given
    assert vec.get_feature_names_out().tolist() == ["New York", "is"]
    np.testing.assert_array_equal(X.toarray(), [[0, 2], [2, 0]])


@pytest.mark.parametrize(
    "est", [CooccurrenceVectorizer(), DocumentVectorizer(n_components=2)]
)
@pytest.mark.parametrize("bad", ["a b a", b"a b a"])
def test_rejects_a_bare_string(est, bad):
    with pytest.raises(TypeError, match="single string; wrap it in a list"):
        est.fit(bad)


@pytest.mark.parametrize(
    "est", [CooccurrenceVectorizer(), DocumentVectorizer(n_components=2)]
)
def test_rejects_a_two_dimensional_table(est):
    # Regression: list(DataFrame) is the column names, so fit(frame[["text"]]) learnt
    # the single word "text" without complaint.
    frame = pd.DataFrame({"text": ["a b a", "b c"]})
    with pytest.raises(TypeError, match=r"1-D sequence.*2-D DataFrame.*'text'"):
        est.fit(frame)
    with pytest.raises(TypeError, match=r"2-D ndarray"):
        est.fit(frame.to_numpy())
    assert est.fit(frame["text"]) is est  # the column itself is fine


def test_cooc_directional_feature_names():
    vec = CooccurrenceVectorizer(window_size=1, weighting="uniform", symmetric=False)
    X = vec.fit_transform(["a b a", "b c"])
    assert X.shape == (3, 6)
    assert vec.get_feature_names_out().tolist() == [
        "L:a",
        "L:b",
        "L:c",
        "R:a",
        "R:b",
        "R:c",
    ]
    # b has a on its left once and on its right once, and c on its right once
    assert X.toarray()[1].tolist() == [1, 0, 0, 1, 0, 1]


def test_cooc_api():
    vec = CooccurrenceVectorizer(
        window_size=2, weighting="linear", min_count=2, random_state=0
    )
    params = vec.get_params()
    assert params["window_size"] == 2 and params["weighting"] == "linear"
    assert set(params) == {
        "window_size",
        "weighting",
        "decay",
        "symmetric",
        "dynamic_window",
        "subsample",
        "min_count",
        "max_size",
        "tokenizer",
        "lowercase",
        "oov",
        "random_state",
        "n_jobs",
        "phrases",
    }
    assert vec.fit(TINY) is vec  # fit returns self
    cloned = clone(vec)
    assert cloned.get_params() == params
    assert not hasattr(cloned, "vocabulary_")
    assert vec.set_params(window_size=1) is vec
    assert vec.get_params()["window_size"] == 1


def test_cooc_refit_replaces_vocabulary():
    vec = CooccurrenceVectorizer(window_size=1).fit(["a b a"])
    assert vec.vocabulary_.tokens == ["a", "b"]
    X = vec.fit_transform(["x y z z"])
    assert vec.vocabulary_.tokens == ["z", "x", "y"]
    assert X.shape == (3, 3)
    assert vec.get_feature_names_out().tolist() == ["z", "x", "y"]


def test_cooc_not_fitted():
    vec = CooccurrenceVectorizer()
    with pytest.raises(NotFittedError):
        vec.transform(["a b"])
    with pytest.raises(NotFittedError):
        vec.get_feature_names_out()


def test_cooc_pickle(topics):
    vec = CooccurrenceVectorizer(window_size=3, subsample=0.05, random_state=1).fit(
        topics[0][:50]
    )
    back = pickle.loads(pickle.dumps(vec))
    assert back.vocabulary_ == vec.vocabulary_
    new = topics[0][50:60]
    assert (back.transform(new) != vec.transform(new)).nnz == 0
    assert back.transform(new).nnz > 0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"window_size": 0}, "window_size"),
        ({"window_size": 256}, "window_size"),
        ({"weighting": "gaussian"}, "weighting"),
        ({"min_count": 0}, "min_count"),
        ({"subsample": 1.5}, "subsample"),
        ({"tokenizer": "bpe"}, "tokenizer"),
        ({"oov": "keep"}, "oov"),
    ],
)
def test_cooc_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        CooccurrenceVectorizer(**params).fit(["a b"])


def test_word_vector_pipeline(topics):
    docs = topics[0]
    pipe = Pipeline(
        [
            ("cooc", CooccurrenceVectorizer(window_size=3)),
            ("ppmi", PPMITransformer()),
            ("svd", SVDEmbedding(n_components=8, random_state=0)),
        ]
    )
    vectors = pipe.fit_transform(docs)
    words = pipe.named_steps["cooc"].get_feature_names_out()
    assert vectors.shape == (len(words), 8) == (56, 8)  # 4 topics x 12 words + 8 common
    # the same three steps by hand
    counts = cooccurrence_matrix(docs, window_size=3, weighting="power").matrix
    weighted = ppmi(counts, dtype=np.float64)  # PPMITransformer keeps float64
    by_hand = SVDEmbedding(n_components=8, random_state=0).fit_transform(weighted)
    np.testing.assert_allclose(vectors, by_hand, rtol=1e-5, atol=1e-6)
    # words of one topic are closer to each other than to another topic's words
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    same = [
        unit[index[f"t0w{i}"]] @ unit[index[f"t0w{j}"]]
        for i in range(6)
        for j in range(i)
    ]
    other = [
        unit[index[f"t0w{i}"]] @ unit[index[f"t1w{j}"]]
        for i in range(6)
        for j in range(6)
    ]
    assert np.mean(same) > np.mean(other) + 0.3


# -- DocumentVectorizer ----------------------------------------------------------------
@pytest.fixture
def pets():
    emb = Embeddings(
        ["cat", "dog", "car"], np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0]])
    )
    return emb


def test_doc_uses_given_embeddings(pets):
    train = ["cat dog", "cat car", "dog dog zebra"]
    vec = DocumentVectorizer(embeddings=pets).fit(train)
    assert vec.embeddings_ is pets
    assert vec.n_features_out_ == 2
    # smoothed idf: df(cat) = df(dog) = 2, df(car) = 1 over 3 documents
    idf = np.log(4 / np.array([3, 3, 2])) + 1
    np.testing.assert_allclose(vec.idf_, idf)
    X = vec.transform(["Cat dog dog car unknown", "car"])
    assert X.dtype == np.float32 and X.shape == (2, 2)
    tf = np.array([1, 2, 1])
    mean = (tf * idf) @ pets.vectors.astype(np.float64) / (tf * idf).sum()
    np.testing.assert_allclose(X[0], mean / np.linalg.norm(mean), rtol=1e-6)
    np.testing.assert_allclose(X[1], [0, 1], atol=1e-7)


def test_doc_plain_mean_without_normalizing(pets):
    vec = DocumentVectorizer(embeddings=pets, weighting="mean", normalize=False).fit(
        ["cat"]
    )
    np.testing.assert_array_equal(vec.idf_, np.ones(3))
    X = vec.transform(["cat dog dog car"])
    np.testing.assert_allclose(
        X[0], (pets["cat"] + 2 * pets["dog"] + pets["car"]) / 4, rtol=1e-6
    )


@pytest.mark.parametrize("doc", ["zebra unicorn", "", "   ", "!!!"])
def test_doc_without_known_words_is_zero(pets, doc):
    vec = DocumentVectorizer(embeddings=pets).fit(["cat dog"])
    X = vec.transform([doc, "cat"])
    np.testing.assert_array_equal(X[0], [0, 0])
    assert np.all(np.isfinite(X))
    np.testing.assert_allclose(X[1], [1, 0])


def test_doc_learns_vectors(topics):
    docs = topics[0]
    vec = DocumentVectorizer(n_components=6, random_state=0)
    X = vec.fit_transform(docs)
    assert X.shape == (200, 6)
    assert vec.embeddings_.dim == 6 and len(vec.embeddings_) == 56
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    assert vec.get_feature_names_out().tolist() == [
        f"documentvectorizer{i}" for i in range(6)
    ]


def test_doc_n_components_capped_by_vocabulary():
    vec = DocumentVectorizer(n_components=50, random_state=0).fit(["a b c", "c d a"])
    assert vec.n_features_out_ == 3  # 4 words -> at most 3 components
    with pytest.raises(ValueError, match="at least 2"):
        DocumentVectorizer(n_components=2).fit(["same same same"])


def test_doc_classifies_topics(topics):
    docs, y = topics
    model = make_pipeline(
        DocumentVectorizer(n_components=8, random_state=0), LogisticRegression()
    )
    score = model.fit(docs[:150], y[:150]).score(docs[150:], y[150:])
    assert score >= 0.8  # chance is 0.25 with four topics


def test_doc_in_column_transformer(topics):
    docs, y = topics
    frame = pd.DataFrame({"text": docs, "length": [len(d.split()) for d in docs]})
    features = ColumnTransformer(
        [
            ("text", DocumentVectorizer(n_components=8, random_state=0), "text"),
            ("n", "passthrough", ["length"]),
        ]
    )
    Xt = features.fit_transform(frame)
    assert Xt.shape == (200, 9)
    np.testing.assert_array_equal(Xt[:, 8], frame["length"])
    standalone = DocumentVectorizer(n_components=8, random_state=0).fit_transform(docs)
    np.testing.assert_allclose(Xt[:, :8], standalone, rtol=1e-6)
    names = features.get_feature_names_out().tolist()
    assert names[0] == "text__documentvectorizer0" and names[-1] == "n__length"
    model = make_pipeline(features, LogisticRegression(max_iter=1000))
    assert model.fit(frame.iloc[:150], y[:150]).score(frame.iloc[150:], y[150:]) >= 0.8


def test_doc_api(pets):
    vec = DocumentVectorizer(
        n_components=4, embeddings=pets, weighting="mean", random_state=0
    )
    params = vec.get_params()
    assert params["embeddings"] is pets and params["n_components"] == 4
    assert vec.fit(["cat dog"]) is vec
    cloned = clone(vec)
    assert not hasattr(cloned, "embeddings_")
    assert cloned.get_params()["weighting"] == "mean"
    assert cloned.get_params()["embeddings"].tokens == pets.tokens
    assert vec.set_params(normalize=False) is vec and vec.normalize is False


def test_doc_refit_replaces_vectors():
    vec = DocumentVectorizer(n_components=2, random_state=0).fit(["a b c", "b c d"])
    assert sorted(vec.embeddings_.tokens) == ["a", "b", "c", "d"]
    vec.fit(["x y z", "y z w", "x w"])
    assert sorted(vec.embeddings_.tokens) == ["w", "x", "y", "z"]
    assert vec.idf_.shape == (4,)
    assert np.all(vec.transform(["a b c"]) == 0)  # old words are forgotten


def test_doc_not_fitted():
    vec = DocumentVectorizer()
    with pytest.raises(NotFittedError):
        vec.transform(["a b"])
    with pytest.raises(NotFittedError):
        vec.get_feature_names_out()


def test_doc_pickle(topics):
    docs = topics[0]
    vec = DocumentVectorizer(n_components=5, random_state=0).fit(docs[:100])
    back = pickle.loads(pickle.dumps(vec))
    np.testing.assert_array_equal(back.transform(docs[100:]), vec.transform(docs[100:]))


def test_doc_seeded_fit_is_reproducible(topics):
    docs = topics[0][:80]
    a = DocumentVectorizer(n_components=5, random_state=7).fit_transform(docs)
    b = DocumentVectorizer(n_components=5, random_state=7).fit_transform(docs)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 0}, "n_components"),
        ({"weighting": "bm25"}, "weighting"),
        ({"window_size": 0}, "window_size"),
        ({"min_count": 0}, "min_count"),
        ({"embeddings": "vectors.txt"}, "embeddings"),
        ({"tokenizer": "bpe"}, "tokenizer"),
    ],
)
def test_doc_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        DocumentVectorizer(**params).fit(["a b c", "c d"])


def test_doc_needs_documents():
    with pytest.raises(ValueError, match="at least one document"):
        DocumentVectorizer().fit([])
