"""scikit-learn estimators that take raw documents.

:class:`CooccurrenceVectorizer` counts the word × context co-occurrence matrix
of a corpus (the start of a ``CooccurrenceVectorizer → PPMITransformer →
SVDEmbedding`` pipeline whose rows are words). :class:`DocumentVectorizer` maps
each document to the (optionally TF-IDF-weighted) mean of its word vectors, so
``make_pipeline(DocumentVectorizer(), LogisticRegression())`` classifies text.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from cooc._compat import (
    HasAttributes,
    Interval,
    StrOptions,
    check_is_fitted,
    fit_context,
)
from cooc._output import pandas_output, sparse_output
from cooc.cooccurrence import (
    DEFAULT_WEIGHTING,
    DEFAULT_WINDOW,
    WEIGHTINGS,
    CoocMatrix,
    WindowCounter,
)
from cooc.corpus import TOKENIZERS, chunks_from_documents
from cooc.errors import InputError, InputTypeError
from cooc.phrasetable import PhraseTable, as_phrase_table
from cooc.pipeline import embed_cooccurrence
from cooc.subwords import fit_subwords
from cooc.vectors import Embeddings, as_embeddings
from cooc.vocab import build_vocabulary

__all__ = ["CooccurrenceVectorizer", "DocumentVectorizer"]


def _check_raw_documents(raw_documents, name):
    if isinstance(raw_documents, (str, bytes)):
        raise InputTypeError(
            f"{name} expects an iterable of documents (strings or token lists), "
            "got a single string; wrap it in a list."
        )
    ndim = getattr(raw_documents, "ndim", 1)
    if ndim != 1:
        # list(DataFrame) would be its column names, taken as documents.
        raise InputTypeError(
            f"{name} expects a 1-D sequence of documents, got a {ndim}-D "
            f"{type(raw_documents).__name__}; select one column (in a "
            "ColumnTransformer, 'text' rather than ['text'])."
        )
    return list(raw_documents)


def _chunks(estimator, docs):
    """Token chunks of ``docs``, with the fitted phrases joined (``phrases_``)."""
    chunks = list(
        chunks_from_documents(
            docs, tokenizer=estimator.tokenizer, lowercase=estimator.lowercase
        )
    )
    table = getattr(estimator, "phrases_", None)
    return chunks if table is None else [table.join_chunk(c) for c in chunks]


# a phrase TSV of `cooc phrases`, a DataFrame with word1, word2[, pass], a table
_PHRASES_CONSTRAINT = [str, os.PathLike, pd.DataFrame, PhraseTable, None]


_COUNT_CONSTRAINTS = {
    "window_size": [Interval(Integral, 1, 255, closed="both")],
    "weighting": [StrOptions(set(WEIGHTINGS))],
    "decay": [Interval(Real, 0, 10, closed="right")],
    "symmetric": ["boolean"],
    "dynamic_window": ["boolean"],
    "subsample": [Interval(Real, 0, 1, closed="neither"), None],
    "min_count": [Interval(Integral, 1, None, closed="left")],
    "max_size": [Interval(Integral, 1, None, closed="left"), None],
    "tokenizer": [StrOptions(set(TOKENIZERS))],
    "lowercase": ["boolean"],
    "oov": [StrOptions({"drop", "gap"})],
    "random_state": ["random_state"],
    "n_jobs": [Integral, None],
    "phrases": _PHRASES_CONSTRAINT,
}


class CooccurrenceVectorizer(TransformerMixin, BaseEstimator):
    """Count window co-occurrences of raw documents.

    ``fit`` learns the vocabulary and counts the corpus; ``fit_transform``
    returns the word × context matrix (rows are words, not documents: this is
    the first step of a word-embedding pipeline). ``transform`` counts new
    documents over the fitted vocabulary.

    Parameters
    ----------
    window_size : int, default=15
        Largest distance between two counted words (``cooc build``'s default).
    weighting : {"harmonic", "power", "uniform", "linear"}, default="power"
        Weight of a pair at distance ``d``: ``1/d``, ``1/d**decay``, 1 or
        ``(W - d + 1) / W``; ``power`` with 1.25 as ``cooc build`` (they were
        window 5, harmonic in cooc 0.1).
    decay : float, default=1.25
        Exponent of the ``power`` weighting; ignored by the others.
    symmetric : bool, default=True
        If False, left and right contexts get separate columns.
    dynamic_window : bool, default=False
        word2vec-style sampled window widths.
    subsample : float or None, default=None
        Frequent-word subsampling threshold (e.g. ``1e-5``).
    min_count : int, default=1
        Words seen fewer times are left out of the vocabulary. 1, not
        ``cooc build``'s 5: a transformer is often fitted on a few hundred
        documents, where 5 would leave little.
    max_size : int or None, default=None
        Keep at most this many words.
    tokenizer : {"word", "whitespace"}, default="word"
        How strings are split into tokens; lists of tokens are used as given.
    lowercase : bool, default=True
        Lowercase before tokenizing.
    oov : {"drop", "gap"}, default="drop"
        Out-of-vocabulary tokens are removed, or kept as gaps.
    random_state : int, RandomState or None, default=None
        Seed for subsampling and dynamic windows.
    n_jobs : int or None, default=None
        Counting threads (None: all cores). Results do not depend on it.
    phrases : path, DataFrame, PhraseTable or None, default=None
        Phrases to join into single tokens (``new_york``) after tokenizing,
        as ``cooc build --phrases`` does: a TSV written by ``cooc phrases``,
        a DataFrame with ``word1, word2`` and optionally ``pass`` (as
        :func:`cooc.phrases.score_phrases` returns) or a
        :class:`cooc.phrasetable.PhraseTable`; read once in ``fit``
        (``phrases_``) and joined in ``transform`` too.

    Attributes
    ----------
    vocabulary_ : cooc.vocab.Vocabulary
        Words in id order (count descending, then alphabetical).
    cooccurrence_ : cooc.cooccurrence.CoocMatrix
        The counts of the training corpus with their metadata.
    phrases_ : cooc.phrasetable.PhraseTable or None
        The phrases read from ``phrases``.

    Examples
    --------
    >>> from cooc.vectorizers import CooccurrenceVectorizer
    >>> vec = CooccurrenceVectorizer(window_size=1, weighting="uniform")
    >>> vec.fit_transform(["a b a", "b c"]).toarray()
    array([[0., 2., 0.],
           [2., 0., 1.],
           [0., 1., 0.]])
    >>> vec.get_feature_names_out().tolist()
    ['a', 'b', 'c']
    """

    _parameter_constraints: ClassVar[dict] = dict(_COUNT_CONSTRAINTS)

    def __init__(
        self,
        window_size=DEFAULT_WINDOW,
        *,
        weighting=DEFAULT_WEIGHTING,
        decay=1.25,
        symmetric=True,
        dynamic_window=False,
        subsample=None,
        min_count=1,
        max_size=None,
        tokenizer="word",
        lowercase=True,
        oov="drop",
        random_state=None,
        n_jobs=None,
        phrases=None,
    ):
        self.window_size = window_size
        self.weighting = weighting
        self.decay = decay
        self.symmetric = symmetric
        self.dynamic_window = dynamic_window
        self.subsample = subsample
        self.min_count = min_count
        self.max_size = max_size
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.oov = oov
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.phrases = phrases

    def _count(self, chunks):
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(0, 2**31 - 1))
        counter = WindowCounter(
            len(self.vocabulary_),
            window_size=self.window_size,
            weighting=self.weighting,
            decay=self.decay,
            symmetric=self.symmetric,
            dynamic_window=self.dynamic_window,
            subsample=self.subsample,
            word_counts=self.vocabulary_.counts if self.subsample else None,
            oov=self.oov,
            random_state=seed,
            n_jobs=self.n_jobs,
        )
        for chunk in chunks:
            counter.update(self.vocabulary_.encode_chunk(chunk), chunk.offsets)
        return CoocMatrix(
            counter.result(), self.vocabulary_, counter.params, counter.stats
        )

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents, y=None):
        """Learn the vocabulary and count the co-occurrences of ``raw_documents``."""
        docs = _check_raw_documents(raw_documents, type(self).__name__)
        self.phrases_ = as_phrase_table(self.phrases)
        chunks = _chunks(self, docs)
        self.vocabulary_ = build_vocabulary(
            chunks, min_count=self.min_count, max_size=self.max_size
        )
        self.cooccurrence_ = self._count(chunks)
        return self

    def fit_transform(self, raw_documents, y=None):
        """Fit, then return the word × context matrix, shape (n_words, n_contexts).

        Under ``set_output(transform="pandas")`` (here and in :meth:`transform`):
        a DataFrame of pandas sparse columns indexed by the words, with the
        context names as columns.
        """
        return self._output(self.fit(raw_documents, y).cooccurrence_.matrix)

    def transform(self, raw_documents):
        """Co-occurrence counts of new documents over the fitted vocabulary."""
        check_is_fitted(self)
        docs = _check_raw_documents(raw_documents, type(self).__name__)
        return self._output(self._count(_chunks(self, docs)).matrix)

    def _output(self, matrix):
        """The matrix, or its DataFrame (rows: words) under pandas output."""
        if not pandas_output(self):
            return matrix
        return sparse_output(self, matrix, pd.Index(self.vocabulary_.tokens))

    def get_feature_names_out(self, input_features=None):
        """Context names: the words, or ``L:word``/``R:word`` when not symmetric."""
        check_is_fitted(self)
        return np.asarray(self.cooccurrence_.context_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


class DocumentVectorizer(TransformerMixin, BaseEstimator):
    """Map raw documents to the mean of their word vectors.

    Word vectors come from ``embeddings`` when given, else they are learnt in
    ``fit`` from the training documents themselves (window co-occurrence, PPMI,
    truncated SVD). A document's vector is the mean of its in-vocabulary words'
    vectors, each weighted by its inverse document frequency when
    ``weighting="tfidf"``; a document with no known word maps to zeros.

    Parameters
    ----------
    n_components : int, default=100
        Dimensions of the learnt word vectors (ignored with ``embeddings``).
    embeddings : cooc.svd.Embeddings, gensim KeyedVectors or None, default=None
        Pre-trained word vectors (e.g. ``Embeddings.load("vectors.txt")``);
        anything with ``index_to_key`` and ``vectors`` is taken as well (see
        :func:`cooc.svd.as_embeddings`).
    weighting : {"mean", "tfidf"}, default="tfidf"
        Plain mean of word vectors, or a TF-IDF-weighted mean.
    normalize : bool, default=True
        Scale each document vector to unit length.
    window_size : int, default=5
        Co-occurrence window when learning vectors.
    min_count : int, default=1
        Vocabulary cut-off when learning vectors.
    power : float, default=0.5
        Eigenvalue weighting of the learnt vectors.
    tokenizer : {"word", "whitespace"}, default="word"
    lowercase : bool, default=True
    random_state : int, RandomState or None, default=None
        Seed of the randomized SVD.
    subwords : bool or dict, default=False
        Give the documents' out-of-vocabulary words their subword estimates
        (:func:`cooc.subwords.fit_subwords`, with this dict as its options)
        instead of leaving them out; the embeddings' own model is used when
        they carry one. Such a word weighs as a word no training document
        had (the largest IDF).
    phrases : path, DataFrame, PhraseTable or None, default=None
        Phrases joined into single tokens after tokenizing, in ``fit`` and
        ``transform``, as in :class:`CooccurrenceVectorizer` (use the table
        the vectors were made with, so that ``new_york`` finds its vector).

    Attributes
    ----------
    embeddings_ : cooc.svd.Embeddings
        The word vectors used (with their ``subwords`` model when
        ``subwords`` is on).
    idf_ : ndarray of shape (n_words,)
        Smoothed inverse document frequencies (ones with ``weighting="mean"``).
    n_features_out_ : int
    phrases_ : cooc.phrasetable.PhraseTable or None
        The phrases read from ``phrases``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from cooc.datasets import make_topic_corpus
    >>> from cooc.vectorizers import DocumentVectorizer
    >>> docs, y = make_topic_corpus(200, random_state=0)
    >>> model = make_pipeline(DocumentVectorizer(n_components=8, random_state=0),
    ...                       LogisticRegression())
    >>> model.fit(docs[:150], y[:150]).score(docs[150:], y[150:]) > 0.9
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "embeddings": [Embeddings, HasAttributes("index_to_key", "vectors"), None],
        "weighting": [StrOptions({"mean", "tfidf"})],
        "normalize": ["boolean"],
        "window_size": [Interval(Integral, 1, 255, closed="both")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "power": [Real],
        "tokenizer": [StrOptions(set(TOKENIZERS))],
        "lowercase": ["boolean"],
        "random_state": ["random_state"],
        "subwords": ["boolean", dict],
        "phrases": _PHRASES_CONSTRAINT,
    }

    def __init__(
        self,
        n_components=100,
        *,
        embeddings=None,
        weighting="tfidf",
        normalize=True,
        window_size=5,
        min_count=1,
        power=0.5,
        tokenizer="word",
        lowercase=True,
        random_state=None,
        subwords=False,
        phrases=None,
    ):
        self.n_components = n_components
        self.embeddings = embeddings
        self.weighting = weighting
        self.normalize = normalize
        self.window_size = window_size
        self.min_count = min_count
        self.power = power
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.random_state = random_state
        self.subwords = subwords
        self.phrases = phrases

    def _subword_options(self):
        """fit_subwords options, or None when subwords are off."""
        if self.subwords is False:
            return None
        return {} if self.subwords is True else dict(self.subwords)

    def _estimated_part(self, chunks, index):
        """``(sums, totals)``: per document, the IDF-weighted sum of its unknown
        words' subword estimates, and their total weight (zeros when off)."""
        n_docs = sum(chunk.offsets.shape[0] - 1 for chunk in chunks)
        sums = np.zeros((n_docs, self.embeddings_.dim))
        totals = np.zeros(n_docs)
        model = self.embeddings_.subwords
        if self._subword_options() is None or model is None:
            return sums, totals
        start = 0
        for chunk in chunks:
            n = chunk.offsets.shape[0] - 1
            unknown = [k for k, t in enumerate(chunk.uniques) if t not in index]
            if unknown and chunk.codes.size:
                column = np.full(len(chunk.uniques), -1, dtype=np.int64)
                column[unknown] = np.arange(len(unknown))
                ids = column[chunk.codes]
                docs = np.repeat(np.arange(n), np.diff(chunk.offsets))
                keep = ids >= 0
                counts = sp.csr_matrix(
                    (np.ones(int(keep.sum())), (docs[keep], ids[keep])),
                    shape=(n, len(unknown)),
                )
                vectors = model.estimate([chunk.uniques[k] for k in unknown])
                sums[start : start + n] = self.idf_unknown_ * (counts @ vectors)
                totals[start : start + n] = self.idf_unknown_ * np.asarray(
                    counts.sum(axis=1)
                ).ravel()
            start += n
        return sums, totals

    def _doc_term(self, chunks, vocab_index):
        """Sparse (n_docs, n_words) term counts over the embeddings' vocabulary."""
        mats = []
        for chunk in chunks:
            table = np.array(
                [vocab_index.get(t, -1) for t in chunk.uniques], dtype=np.int64
            )
            ids = (
                table[chunk.codes] if chunk.codes.size else np.empty(0, dtype=np.int64)
            )
            docs = np.repeat(
                np.arange(chunk.offsets.shape[0] - 1), np.diff(chunk.offsets)
            )
            keep = ids >= 0
            mats.append(
                sp.csr_matrix(
                    (np.ones(int(keep.sum())), (docs[keep], ids[keep])),
                    shape=(chunk.offsets.shape[0] - 1, len(vocab_index)),
                )
            )
        return (
            sp.vstack(mats, format="csr")
            if mats
            else sp.csr_matrix((0, len(vocab_index)))
        )

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents, y=None):
        """Learn (or take) the word vectors and the IDF weights."""
        docs = _check_raw_documents(raw_documents, type(self).__name__)
        if not docs:
            raise InputError("DocumentVectorizer.fit needs at least one document.")
        self.phrases_ = as_phrase_table(self.phrases)
        chunks = _chunks(self, docs)
        if self.embeddings is None:
            vocab = build_vocabulary(chunks, min_count=self.min_count)
            counter = WindowCounter(len(vocab), window_size=self.window_size)
            for chunk in chunks:
                counter.update(vocab.encode_chunk(chunk), chunk.offsets)
            cooc = CoocMatrix(counter.result(), vocab, counter.params, counter.stats)
            k = min(self.n_components, len(vocab) - 1)
            if k < 1:
                raise InputError(
                    f"the training documents have only {len(vocab)} distinct word(s); "
                    "need at least 2 to learn word vectors."
                )
            seed = self.random_state
            if seed is None or isinstance(seed, np.random.RandomState):
                seed = np.random.RandomState(seed).randint(0, 2**31 - 1)
            self.embeddings_, _ = embed_cooccurrence(
                cooc,
                k,
                power=self.power,
                random_state=int(seed),
                subwords=self._subword_options(),
            )
        else:
            self.embeddings_ = as_embeddings(self.embeddings)
            options = self._subword_options()
            if options is not None and self.embeddings_.subwords is None:
                self.embeddings_ = fit_subwords(self.embeddings_, **options)
        self._index = {t: i for i, t in enumerate(self.embeddings_.tokens)}
        counts = self._doc_term(chunks, self._index)
        if self.weighting == "tfidf":
            df = np.bincount(counts.indices, minlength=len(self._index))
            self.idf_ = np.log((1 + len(docs)) / (1 + df)) + 1.0
        else:
            self.idf_ = np.ones(len(self._index))
        # the weight of a word no training document had
        self.idf_unknown_ = (
            np.log(1 + len(docs)) + 1.0 if self.weighting == "tfidf" else 1.0
        )
        self.n_features_out_ = self.embeddings_.dim
        return self

    def transform(self, raw_documents):
        """Document vectors, shape (n_docs, n_features_out_), float32."""
        check_is_fitted(self)
        docs = _check_raw_documents(raw_documents, type(self).__name__)
        index = getattr(self, "_index", None) or {
            t: i for i, t in enumerate(self.embeddings_.tokens)
        }
        chunks = _chunks(self, docs)
        counts = self._doc_term(chunks, index)
        weights = counts.multiply(self.idf_[None, :]).tocsr()
        totals = np.asarray(weights.sum(axis=1)).ravel()
        out = np.asarray(weights @ self.embeddings_.vectors, dtype=np.float64)
        if self.subwords is not False:
            sums, extra = self._estimated_part(chunks, index)
            out += sums
            totals += extra
        nonzero = totals > 0
        out[nonzero] /= totals[nonzero, None]
        if self.normalize:
            norms = np.linalg.norm(out, axis=1)
            out[norms > 0] /= norms[norms > 0, None]
        return out.astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray(
            [f"documentvectorizer{i}" for i in range(self.n_features_out_)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
