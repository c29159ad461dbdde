"""Word vectors with their tokens (:class:`Embeddings`): lookups, gensim-style
queries and the word2vec/``.npz`` file formats.

Imports neither scikit-learn nor numba, so that reading and querying vectors
(``cooc similar``, ``cooc evaluate``, ``cooc info``) starts fast; the solver
that makes them is :mod:`cooc.svd`, which re-exports these names.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from numbers import Integral
from pathlib import Path

import numpy as np

from cooc.container import is_cooc_archive, pack_tokens, unpack_tokens
from cooc.errors import InputError, InputTypeError, UnknownWordError
from cooc.files import atomic_write, base_suffix, compression_of, read_all_bytes
from cooc.subwords import SUBWORD_ARRAYS, SubwordModel, sidecar_path

__all__ = ["Embeddings", "as_embeddings"]


def unit_rows(vectors):
    """Return ``vectors`` with rows scaled to unit L2 norm; zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (vectors / norms).astype(vectors.dtype, copy=False)


_NOT_FINITE = (
    "holds NaN or an infinite value (or a number beyond float32's range); "
    "word vectors must be finite."
)
# Rows checked at a time when looking for the bad one (bounds the mask's memory).
_CHECK_VALUES = 1 << 22


def first_nonfinite_row(vectors) -> int | None:
    """The first row of a 2-D float array holding NaN or ±inf, else None.

    Two passes without allocation (``min`` and ``max`` propagate NaN and
    show an infinity) over the usual all-finite array; only when one fails
    are rows scanned, a block at a time, for the first bad one.
    """
    if vectors.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        if np.isfinite(vectors.min()) and np.isfinite(vectors.max()):
            return None
    step = max(1, _CHECK_VALUES // max(1, vectors.shape[1]))
    for start in range(0, vectors.shape[0], step):
        bad = ~np.isfinite(vectors[start : start + step]).all(axis=1)
        if bad.any():
            return start + int(np.argmax(bad))
    return None  # pragma: no cover - min/max saw a non-finite value


def npz_token_arrays(tokens) -> dict:
    """The ``.npz`` vectors members that hold ``tokens``: ``tokens`` (their
    UTF-8 bytes end to end, uint8) and ``token_offsets`` (int64, one more
    than the tokens: where each starts, and the end). Every str survives,
    NUL characters included, in the bytes its UTF-8 takes (a numpy unicode
    array would take 4 bytes a character times the longest token, and drops
    trailing NULs). For :meth:`Embeddings.save` and any other ``.npz``
    vectors writer."""
    utf8, offsets = pack_tokens(tokens)
    return {"tokens": utf8, "token_offsets": offsets}


# Added to the product of the negative terms of 3CosMul so that it never
# divides by zero (the value gensim's most_similar_cosmul uses).
_COSMUL_EPSILON = 1e-6
_QUERY_METHODS = ("3cosadd", "3cosmul")


def analogy_scores(unit, terms, method="3cosadd", *, epsilon=_COSMUL_EPSILON,
                   normalize=False):  # fmt: skip
    """Score every candidate row as the answer to one or a batch of queries.

    The one implementation of 3CosAdd and 3CosMul, shared by
    :meth:`Embeddings.most_similar`, :meth:`Embeddings.most_similar_cosmul`
    and :func:`cooc.evaluate.evaluate_analogies`.

    Parameters
    ----------
    unit : ndarray of shape (n_candidates, dim)
        The candidates' unit vectors (a zero row has cosine 0 with anything).
    terms : sequence of (sign, ndarray of shape (dim,) or (n_queries, dim))
        The query's unit vectors, with sign ``+1`` (positive) or ``-1``
        (negative), combined in this order.
    method : {"3cosadd", "3cosmul"}, default="3cosadd"
        ``3cosadd``: cosine with the signed sum of the terms.
        ``3cosmul``: product over the positive terms of ``(1 + cos) / 2``
        divided by (the same product over the negative terms ``+ epsilon``);
        an empty product is 1 (Levy & Goldberg, 2014).
    epsilon : float, default=1e-6
        3CosMul only.
    normalize : bool, default=False
        3CosAdd only: scale the sum to unit length first, so that the scores
        are cosines (the ranking is the same either way).

    Returns
    -------
    scores : ndarray of shape (n_candidates,) or (n_queries, n_candidates)
    """
    if method not in _QUERY_METHODS:
        raise InputError(f"method={method!r} must be one of {list(_QUERY_METHODS)}.")
    if method == "3cosadd":
        combined = None
        for sign, vec in terms:
            if combined is None:
                combined = vec if sign > 0 else -vec
            else:
                combined = combined + vec if sign > 0 else combined - vec
        if normalize:
            norm = np.linalg.norm(combined, axis=-1, keepdims=True)
            combined = combined / np.where(norm > 0, norm, 1).astype(combined.dtype)
        return combined @ unit.T
    numerator = denominator = None
    for sign, vec in terms:
        shifted = (vec @ unit.T + 1) / 2
        if sign > 0:
            numerator = shifted if numerator is None else numerator * shifted
        else:
            denominator = shifted if denominator is None else denominator * shifted
    if numerator is None:
        numerator = 1.0
    if denominator is None:
        denominator = 1.0
    return numerator / (denominator + epsilon)


def as_embeddings(obj, name="embeddings") -> Embeddings:
    """Return ``obj`` as :class:`Embeddings`: itself, or a gensim ``KeyedVectors``.

    Anything with the attributes ``index_to_key`` (the words in row order)
    and ``vectors`` (one row per word), as gensim's ``KeyedVectors`` has
    them, is wrapped without copying float32 vectors; gensim is not imported.

    Parameters
    ----------
    obj : Embeddings or KeyedVectors-like
    name : str, default="embeddings"
        The argument's name, for the error message.

    Raises
    ------
    TypeError
        If ``obj`` is neither, or a key is not a str.

    Examples
    --------
    >>> import types, numpy as np
    >>> from cooc.vectors import as_embeddings
    >>> kv = types.SimpleNamespace(index_to_key=["cat", "dog"], vectors=np.eye(2))
    >>> as_embeddings(kv)
    Embeddings(n_words=2, dim=2)
    """
    if isinstance(obj, Embeddings):
        return obj
    if hasattr(obj, "index_to_key") and hasattr(obj, "vectors"):
        return Embeddings.from_keyed_vectors(obj)
    raise InputTypeError(
        f"{name} must be cooc Embeddings or have index_to_key and vectors "
        f"(gensim KeyedVectors), got {type(obj).__name__}."
    )


def _as_query_list(value):
    """The items of a ``positive``/``negative`` argument, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, np.ndarray):
        return [value] if value.ndim == 1 else list(value)
    return list(value)


class Embeddings:
    """Word vectors with their tokens: lookup, cosine neighbours, file formats.

    The queries of gensim's ``KeyedVectors`` work the same way:
    ``most_similar(positive, negative, topn, restrict_vocab)``,
    ``most_similar_cosmul``, ``doesnt_match``, ``similarity``,
    ``emb["word"]`` (or a list of words), ``"word" in emb``,
    ``get_vector(word, norm=False)``, ``key_to_index``, ``index_to_key``
    and ``len(emb)``; :meth:`from_keyed_vectors` wraps a ``KeyedVectors``.

    Parameters
    ----------
    tokens : sequence of str
        The words, unique, in row order (usually by decreasing frequency).
    vectors : array-like of shape (n_words, dim)
        One row per token; stored as float32 (no copy if already float32).

    Attributes
    ----------
    tokens : list of str
        The words in row order.
    vectors : ndarray of shape (n_words, dim)
        The float32 vectors.
    dim : int
        Number of dimensions.
    dropped : list of str
        Words an embedding left out for having all-zero vectors (see
        :func:`cooc.pipeline.embed_cooccurrence`); empty otherwise.
    singular_values : ndarray of shape (dim,) or None
        The singular values of the SVD that made the vectors, descending, when
        known (``cooc embed`` sets them); ``.npz`` files keep them (an array
        ``singular_values``, optional when loading), the word2vec formats
        cannot. None otherwise.
    subwords : cooc.subwords.SubwordModel or None
        A map from character n-grams to vectors
        (:func:`cooc.subwords.fit_subwords`): with one, an unseen word gets
        an estimate (``emb[word]``, ``get_vector``, ``similarity``,
        ``most_similar``; see :meth:`is_estimated`) where it would raise
        KeyError, while ``word in emb`` stays membership of the vocabulary.
        ``.npz`` files keep it as the arrays ``subword_params`` and
        ``subword_weights``; word2vec files in the sidecar
        ``<path>.subwords.npz``, which :meth:`load` reads when present.
        None by default.

    See Also
    --------
    svd_embed : Produces the vectors.
    cooc.evaluate.evaluate_similarity : Benchmarks on word similarity.

    Notes
    -----
    File formats, chosen by the extension in :meth:`save` and :meth:`load`:
    ``.npz`` (arrays ``vectors``, ``tokens`` and ``token_offsets``, no
    pickle; files of earlier cooc versions, with a unicode ``tokens``
    array, load too), ``.bin``
    (word2vec binary) and anything else word2vec text
    (``n_words dim`` header, then ``word v1 ... vdim`` per line), both
    readable by gensim's ``KeyedVectors.load_word2vec_format``.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.vectors import Embeddings
    >>> emb = Embeddings(["cat", "dog", "car"], np.array([[1, 0.1], [1, 0.2], [0, 1]]))
    >>> [(word, round(cos, 3)) for word, cos in emb.most_similar("cat", k=1)]
    [('dog', 0.995)]
    """

    def __init__(self, tokens: Sequence[str], vectors: np.ndarray):
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str):
                raise InputTypeError(
                    f"tokens must be str, got {type(token).__name__} {token!r}."
                )
        with np.errstate(over="ignore"):  # (beyond float32: refused below)
            vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InputError(
                f"vectors must be 2-D (n_words, dim), got shape {vectors.shape}."
            )
        if len(tokens) != vectors.shape[0]:
            raise InputError(
                f"{len(tokens)} tokens but {vectors.shape[0]} vector rows; "
                "pass one row per token."
            )
        bad = first_nonfinite_row(vectors)
        if bad is not None:
            raise InputError(f"vectors row {bad} ({tokens[bad]!r}) {_NOT_FINITE}")
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            seen = set()
            dup = next(t for t in tokens if t in seen or seen.add(t))
            raise InputError(f"duplicate token {dup!r}; tokens must be unique.")
        self.tokens = tokens
        self.vectors = vectors
        self._index = index
        # words left out by the embedding for having all-zero vectors
        self.dropped: list[str] = []
        # the SVD's singular values, when known (kept by .npz files)
        self.singular_values: np.ndarray | None = None
        # vectors for unseen words from their character n-grams (cooc.subwords)
        self.subwords: SubwordModel | None = None

    @property
    def dim(self) -> int:
        """Number of dimensions of the vectors."""
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        try:
            return token in self._index
        except TypeError:  # unhashable, e.g. a list
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.tokens)

    def __getitem__(self, key) -> np.ndarray:
        """The vector of a word, or the 2-D array of a list of words' vectors.

        Raises
        ------
        KeyError
            Naming the first word that is not in the vocabulary.
        """
        if isinstance(key, (list, tuple, np.ndarray)):
            if self.subwords is not None:  # known rows, then the unseen in one batch
                key = list(key)
                unseen = [k for k in key if self.is_estimated(k)]
                out = np.empty((len(key), self.dim), dtype=np.float32)
                known = [i for i, k in enumerate(key) if not self.is_estimated(k)]
                out[known] = self.vectors[[self.index(key[i]) for i in known]]
                if unseen:
                    out[[i for i, k in enumerate(key) if self.is_estimated(k)]] = (
                        self.subwords.estimate(unseen)
                    )
                return out
            rows = np.fromiter((self.index(k) for k in key), dtype=np.intp)
            return self.vectors[rows]
        if self.is_estimated(key):
            return self.subwords.estimate([key])[0]
        return self.vectors[self.index(key)]

    def __repr__(self) -> str:
        return f"Embeddings(n_words={len(self)}, dim={self.dim})"

    def index(self, token: str) -> int:
        """Return the row of ``token``; KeyError if it is not in the vocabulary."""
        try:
            return self._index[token]
        except (KeyError, TypeError):
            raise UnknownWordError(
                f"{token!r} is not in the vocabulary ({len(self)} words); "
                "check spelling and case."
            ) from None

    # ------------------------------------------- names gensim's KeyedVectors uses

    @property
    def key_to_index(self) -> dict[str, int]:
        """Map from each word to its row (gensim's name; do not modify)."""
        return self._index

    @property
    def index_to_key(self) -> list[str]:
        """The words in row order: :attr:`tokens` under gensim's name."""
        return self.tokens

    @property
    def vector_size(self) -> int:
        """Number of dimensions: :attr:`dim` under gensim's name."""
        return self.dim

    def get_index(self, key: str, default=None) -> int:
        """Row of ``key``; ``default`` if given and ``key`` is unknown, or KeyError."""
        if default is not None and key not in self:
            return default
        return self.index(key)

    def get_vector(self, key: str, norm: bool = False) -> np.ndarray:
        """The vector of ``key``, scaled to unit length with ``norm=True``.

        An unseen word gets its subword estimate when there is a
        :attr:`subwords` model (see :meth:`is_estimated`).

        Raises
        ------
        KeyError
            If ``key`` is not in the vocabulary (and there is no model).
        """
        vector = self[key] if isinstance(key, str) else self.vectors[self.index(key)]
        if not norm:
            return vector
        return unit_rows(vector[None, :])[0]

    def is_estimated(self, word) -> bool:
        """True if ``word`` is not in the vocabulary but a :attr:`subwords`
        model answers it (``emb[word]`` is then its n-gram estimate, a zero
        vector when none of its n-grams is known)."""
        return (
            self.subwords is not None and isinstance(word, str) and word not in self
        )

    def with_subwords(self, model: SubwordModel | None) -> Embeddings:
        """A new Embeddings with the same tokens and vectors (shared, not
        copied) and ``subwords`` set to ``model`` (fitted on these tokens and
        dimensions; see :func:`cooc.subwords.fit_subwords`)."""
        if model is not None and (
            model.n_words != len(self) or model.dim != self.dim
        ):
            raise InputError(
                f"the subword model has {model.n_words} words x {model.dim} "
                f"dimensions; these vectors {len(self)} x {self.dim}."
            )
        if model is not None and model.tokens != self.tokens:
            raise InputError(
                "the subword model was fitted on other words than these vectors'; "
                "fit it on them (cooc.subwords.fit_subwords)."
            )
        emb = Embeddings(self.tokens, self.vectors)
        emb.dropped = list(self.dropped)
        emb.singular_values = self.singular_values
        emb.subwords = model
        return emb

    @classmethod
    def from_keyed_vectors(cls, kv) -> Embeddings:
        """Embeddings holding the words and vectors of a gensim ``KeyedVectors``.

        Any object with ``index_to_key`` (words in row order) and ``vectors``
        will do; gensim is not imported. float32 vectors are not copied.

        Raises
        ------
        TypeError
            If ``kv`` lacks those attributes or a key is not a str.
        """
        if not (hasattr(kv, "index_to_key") and hasattr(kv, "vectors")):
            raise InputTypeError(
                "kv must have index_to_key and vectors (gensim KeyedVectors), got "
                f"{type(kv).__name__}."
            )
        return cls(list(kv.index_to_key), kv.vectors)

    @classmethod
    def from_factors(
        cls, tokens, vectors, *, normalize=True, drop_empty=True
    ) -> Embeddings:
        """Embeddings from the rows an SVD gave, one per token.

        With ``drop_empty`` the rows that are all zero (words with an empty
        weighted row: they never co-occur with anything) are left out and
        their tokens listed in ``dropped``; ``normalize`` gives unit rows.
        """
        tokens = list(tokens)
        dropped = []
        if drop_empty:
            empty = ~np.any(np.asarray(vectors) != 0, axis=1)
            if empty.any():
                dropped = [t for t, e in zip(tokens, empty, strict=True) if e]
                tokens = [t for t, e in zip(tokens, empty, strict=True) if not e]
                vectors = vectors[~empty]
        emb = cls(tokens, vectors)
        if normalize:
            emb = emb.normalized()
        emb.dropped = dropped
        return emb

    def normalized(self) -> Embeddings:
        """Return a copy with rows scaled to unit length (zero rows stay zero)."""
        emb = Embeddings(self.tokens, unit_rows(self.vectors))
        emb.subwords = self.subwords  # (fitted to the unit vectors already)
        return emb

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words (0.0 if either vector is zero)."""
        a, b = self[w1], self[w2]
        norm = float(np.linalg.norm(a)) * float(np.linalg.norm(b))
        return float(np.dot(a, b)) / norm if norm > 0 else 0.0

    def most_similar(
        self, positive=None, negative=None, topn=10, restrict_vocab=None, *,
        k=None, exclude=(),
    ):  # fmt: skip
        """Words nearest to a word, a vector or an analogy (3CosAdd), as gensim's.

        The score of a candidate is its cosine with the mean of the unit
        vectors of ``positive`` (weight +1) and ``negative`` (weight -1):
        ``most_similar(["king", "woman"], ["man"])`` answers *man is to king
        as woman is to ...*; ``most_similar("cat")`` gives the neighbours of
        ``cat``. The words of the query are never returned.

        Parameters
        ----------
        positive : str, ndarray of shape (dim,) or list of them, default=None
            Words (or vectors) that attract. A single word or vector may be
            given alone.
        negative : str, ndarray or list of them, default=None
            Words (or vectors) that repel. For the former call form
            ``most_similar(word, k)``, an integer here is taken as ``topn``.
        topn : int or None, default=10
            Number of results; fewer if fewer candidates remain. None returns
            the scores of all candidates as an array (rows in order, query
            words included), as gensim does.
        restrict_vocab : int or None, default=None
            Only the first ``restrict_vocab`` rows (the most frequent words)
            are candidates; the query words may lie anywhere.
        k : int, optional
            Alias of ``topn``.
        exclude : str or iterable of str, default=()
            Words never returned; unknown words are ignored.

        Returns
        -------
        results : list of (str, float)
            Words and cosines, best first; ties in row order.

        Raises
        ------
        KeyError
            Naming a query word that is not in the vocabulary.
        ValueError
            If there is no query, a vector has the wrong shape, or ``topn``
            or ``restrict_vocab`` is out of range.

        See Also
        --------
        most_similar_cosmul : The 3CosMul ranking.

        Notes
        -----
        Vectors given instead of words are scaled to unit length like the
        words' vectors (gensim adds them as they are; the same for unit
        vectors). Cost O(restrict_vocab * dim) per query.

        Examples
        --------
        >>> import numpy as np
        >>> from cooc.vectors import Embeddings
        >>> emb = Embeddings(["man", "king", "woman", "queen", "car"],
        ...                  np.array([[1, 0], [0, 1], [-1, 0], [-2, 1], [1, -1]]))
        >>> best = emb.most_similar(positive=["king", "woman"], negative=["man"])
        >>> [(word, round(cos, 3)) for word, cos in best]
        [('queen', 1.0), ('car', -0.949)]
        """
        if isinstance(negative, Integral) and not isinstance(negative, bool):
            topn, negative = negative, None  # most_similar(word, k)
        return self._rank(
            "3cosadd", positive, negative, topn, restrict_vocab, k, exclude
        )

    def most_similar_cosmul(
        self, positive=None, negative=None, topn=10, restrict_vocab=None, *,
        k=None, exclude=(),
    ):  # fmt: skip
        """Words ranked by 3CosMul (Levy & Goldberg), as gensim's.

        The score of a candidate ``x`` is the product over ``positive`` of
        ``(1 + cos(x, p)) / 2`` divided by (the same product over
        ``negative`` plus 1e-6): cosines shifted to ``[0, 1]``, so that one
        large similarity cannot outweigh the others as it can in a sum.

        Parameters
        ----------
        positive, negative, topn, restrict_vocab, k, exclude
            As in :meth:`most_similar`.

        Returns
        -------
        results : list of (str, float)
            Words and scores, best first; ties in row order.

        Raises
        ------
        KeyError
            Naming a query word that is not in the vocabulary.

        References
        ----------
        .. [1] O. Levy and Y. Goldberg, "Linguistic regularities in sparse and
           explicit word representations", CoNLL 2014.

        Examples
        --------
        >>> import numpy as np
        >>> from cooc.vectors import Embeddings
        >>> emb = Embeddings(["man", "king", "woman", "queen", "car"],
        ...                  np.array([[1, 0], [0, 1], [-1, 0], [-2, 1], [1, -1]]))
        >>> emb.most_similar_cosmul(["king", "woman"], ["man"], topn=1)[0][0]
        'queen'
        """
        return self._rank(
            "3cosmul", positive, negative, topn, restrict_vocab, k, exclude
        )

    def doesnt_match(self, words) -> str:
        """The word furthest from the others, as gensim's ``doesnt_match``.

        The word whose unit vector has the lowest cosine with the mean of
        all the words' unit vectors (the first such word on a tie).

        Parameters
        ----------
        words : iterable of str

        Returns
        -------
        word : str

        Raises
        ------
        KeyError
            Naming a word that is not in the vocabulary (gensim leaves such
            words out instead).
        ValueError
            If ``words`` is empty.

        Examples
        --------
        >>> import numpy as np
        >>> from cooc.vectors import Embeddings
        >>> emb = Embeddings(["cat", "dog", "car"], [[1, 0.1], [1, 0.2], [0, 1]])
        >>> emb.doesnt_match(["cat", "dog", "car"])
        'car'
        """
        if isinstance(words, str):
            raise InputTypeError(
                f"words must be a list of words, got the single string {words!r}."
            )
        words = list(words)
        if not words:
            raise InputError("words is empty; give the words to compare.")
        unit = unit_rows(self[words])
        mean = unit.mean(axis=0)
        norm = np.linalg.norm(mean)
        centrality = unit @ (mean / norm if norm > 0 else mean)
        return words[int(np.argmin(centrality))]

    def _rank(self, method, positive, negative, topn, restrict_vocab, k, exclude):
        """The ranked answer of :meth:`most_similar` and :meth:`most_similar_cosmul`."""
        name = "topn"
        if k is not None:
            if topn not in (10, k):
                raise InputTypeError(f"give topn={topn!r} or k={k!r}, not both.")
            topn, name = k, "k"
        if topn is not None and (
            not isinstance(topn, Integral) or isinstance(topn, bool) or topn < 0
        ):
            raise InputError(f"{name}={topn!r} must be an integer >= 0 or None.")
        if restrict_vocab is not None and (
            not isinstance(restrict_vocab, Integral)
            or isinstance(restrict_vocab, bool)
            or restrict_vocab < 1
        ):
            raise InputError(
                f"restrict_vocab={restrict_vocab!r} must be None or an integer >= 1."
            )
        terms, rows = self._query_terms(positive, negative)
        n = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        scores = analogy_scores(
            unit_rows(self.vectors[:n]), terms, method, normalize=True
        )
        if topn is None:
            return scores
        if isinstance(exclude, str):
            exclude = (exclude,)
        excluded = {r for r in rows if r < n}
        excluded.update(self._index[t] for t in exclude if self._index.get(t, n) < n)
        return self._top(scores, topn, excluded)

    def _query_terms(self, positive, negative):
        """``(terms, rows)``: signed unit vectors of a query, rows of its words."""
        items = [(1, x) for x in _as_query_list(positive)]
        items += [(-1, x) for x in _as_query_list(negative)]
        if not items:
            raise InputError(
                "no query: give positive and/or negative words or vectors."
            )
        terms, rows = [], []
        for sign, item in items:
            if self.is_estimated(item):
                vector = self.subwords.estimate([item])[0]
            elif isinstance(item, str):
                row = self.index(item)
                rows.append(row)
                vector = self.vectors[row]
            else:
                try:
                    vector = np.asarray(item, dtype=np.float32)
                except (TypeError, ValueError):
                    raise InputTypeError(
                        f"query items must be words or vectors, got {item!r}."
                    ) from None
                if vector.shape != (self.dim,):
                    raise InputError(
                        f"query vector has shape {vector.shape}; expected "
                        f"({self.dim},)."
                    )
            terms.append((sign, unit_rows(vector[None, :])[0]))
        return terms, rows

    def _top(self, scores, k, excluded):
        """The ``k`` best ``(token, score)`` pairs outside ``excluded``; ties by row."""
        scores = np.array(scores, copy=True)
        if excluded:
            scores[list(excluded)] = -np.inf
        k = min(k, len(scores) - len(excluded))
        if k <= 0:
            return []
        top = (
            np.argpartition(-scores, k - 1)[:k]
            if k < len(scores)
            else np.arange(len(scores))
        )
        # Sort the candidates by score, then row; include rows tied with the k-th.
        kth = scores[top].min()
        top = np.flatnonzero(scores >= kth)
        top = top[np.lexsort((top, -scores[top]))][:k]
        return [(self.tokens[i], float(scores[i])) for i in top]

    # ------------------------------------------------------------------ I/O

    def save(self, path) -> None:
        """Write the embeddings; the format follows the file extension.

        ``.npz``: numpy arrays ``vectors`` (float32), ``tokens`` (the
        tokens' UTF-8 bytes end to end) and ``token_offsets`` (where each
        starts; see :func:`npz_token_arrays`), no pickle. ``.bin``:
        word2vec binary. Anything else (``.txt``, ``.vec``, ...): word2vec
        text. A further ``.gz``, ``.bz2`` or ``.xz``
        compresses the word2vec formats (as gensim reads them). The file is
        written atomically.

        Raises
        ------
        ValueError
            If a token is empty or contains whitespace and the format is a
            word2vec one (use ``.npz``), or if the folder does not exist.
        """
        path = Path(path)
        suffix = base_suffix(path)
        if suffix == ".npz" and compression_of(path):
            raise InputError(
                f"{os.fspath(path)}: .npz vectors are not compressed further; "
                "write .npz, or .txt.gz / .bin.gz."
            )
        if suffix == ".npz":
            extra = npz_token_arrays(self.tokens)
            if self.singular_values is not None:
                extra["singular_values"] = np.asarray(self.singular_values).ravel()
            if self.subwords is not None:
                extra.update(self.subwords.to_arrays())
            with atomic_write(path, "wb") as fh:
                np.savez(fh, vectors=self.vectors, **extra)
            return
        check_word2vec_tokens(self.tokens)
        with atomic_write(path, "wb", compress=True) as fh:
            fh.write(f"{len(self)} {self.dim}\n".encode())
            if suffix == ".bin":
                write_word2vec_binary(fh, self.tokens, self.vectors)
            else:
                write_word2vec_text(fh, self.tokens, self.vectors)
        sidecar = sidecar_path(path)
        if self.subwords is not None:
            with atomic_write(sidecar, "wb") as fh:
                np.savez(fh, **self.subwords.to_arrays())
        elif os.path.exists(sidecar):
            os.remove(sidecar)  # (a former model would not match these vectors)

    @classmethod
    def load(cls, path) -> Embeddings:
        """Read embeddings written by :meth:`save` (or word2vec/gensim/GloVe).

        The format follows the extension as in :meth:`save`. Text files
        without the ``n_words dim`` header (GloVe) are accepted too.

        Raises
        ------
        ValueError
            If the file is malformed; the message names the file and line
            (entry, for ``.bin``).
        """
        path = Path(path)
        suffix = base_suffix(path)
        if is_cooc_archive(path):
            raise InputError(
                f"{os.fspath(path)} is a .cooc matrix, not word vectors: run cooc "
                f"embed {os.fspath(path)} -o vectors.txt first."
            )
        if suffix == ".npz" and compression_of(path):
            raise InputError(
                f"{os.fspath(path)}: expected .npz vectors uncompressed (or "
                ".txt.gz / .bin.gz)."
            )
        singular_values = None
        if suffix == ".npz":
            tokens, vectors, singular_values = _read_npz(path)
        elif suffix == ".bin":
            tokens, vectors = _read_word2vec_binary(path)
        else:
            tokens, vectors = _read_word2vec_text(path)
        try:
            emb = cls(tokens, vectors)
        except ValueError as exc:
            raise InputError(f"{os.fspath(path)}: {exc}") from None
        emb.singular_values = singular_values
        if suffix == ".npz":
            emb.subwords = _read_subwords(path, emb, inside=True)
        elif os.path.exists(sidecar_path(path)):
            emb.subwords = _read_subwords(sidecar_path(path), emb, inside=False)
        return emb


def _read_subwords(path, emb, *, inside):
    """The subword model stored in the ``.npz`` file ``path`` (None when
    ``inside`` vectors hold none), checked against ``emb``."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            if inside and not set(SUBWORD_ARRAYS) & set(npz.files):
                return None
            arrays = {a: npz[a] for a in SUBWORD_ARRAYS if a in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{name}: not a valid subword model .npz ({exc}).") from None
    return SubwordModel.from_arrays(arrays, emb.tokens, emb.vectors, name)


def check_word2vec_tokens(tokens):
    """Raise ValueError if a token cannot be stored in a word2vec file (empty,
    or with whitespace); checked before :meth:`Embeddings.save` and the
    streamed embedding (:mod:`cooc.streaming`) write one."""
    for token in tokens:
        if not token or any(ch.isspace() for ch in token):
            raise InputError(
                f"token {token!r} is empty or contains whitespace, which word2vec "
                "files cannot store; save as .npz instead."
            )


_WRITE_BLOCK = 4096  # rows per write call


def write_word2vec_text(fh, tokens, vectors):
    """Write ``word v1 ... vdim`` lines, shortest float32 round-trip repr.

    The body of a word2vec text file, to the binary file object ``fh`` (the
    ``n_words dim`` header is the caller's): :meth:`Embeddings.save`, and the
    streamed embedding block by block. ``tokens`` pass
    :func:`check_word2vec_tokens`.
    """
    for start in range(0, len(tokens), _WRITE_BLOCK):
        block = vectors[start : start + _WRITE_BLOCK]
        lines = [
            f"{token} {' '.join([str(x) for x in row])}\n"
            for token, row in zip(
                tokens[start : start + _WRITE_BLOCK], block, strict=True
            )
        ]
        fh.write("".join(lines).encode("utf-8"))


def write_word2vec_binary(fh, tokens, vectors):
    """Write ``word, space, dim little-endian float32s, newline`` (word2vec C).

    The body of a word2vec binary file, as :func:`write_word2vec_text`.
    """
    little = vectors.astype("<f4", copy=False)
    for start in range(0, len(tokens), _WRITE_BLOCK):
        parts = []
        for token, row in zip(
            tokens[start : start + _WRITE_BLOCK],
            little[start : start + _WRITE_BLOCK],
            strict=True,
        ):
            parts += [token.encode("utf-8"), b" ", row.tobytes(), b"\n"]
        fh.write(b"".join(parts))


def _parse_header(path, line):
    """Return ``(n_words, dim)`` from a word2vec header line, or None."""
    fields = line.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        return int(fields[0]), int(fields[1])
    return None


def _read_word2vec_text(path):
    """Parse a word2vec (or headerless GloVe) text file: tokens, float32 vectors."""
    name = os.fspath(path)
    data = read_all_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{name}:{lineno}: not valid UTF-8 ({exc.reason}).") from None
    lines = [line.rstrip() for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(
            f"{name}: empty file; expected a word2vec header 'n_words dim'."
        )
    header = _parse_header(path, lines[0])
    first = 1 if header is not None else 0
    body = lines[first:]
    if header is None:
        fields = lines[0].split(" ")
        if len(fields) < 2:
            raise InputError(
                f"{name}:1: expected a header 'n_words dim' or 'word v1 v2 ...', "
                f"got {lines[0][:80]!r}."
            )
        n_words, dim = len(body), len(fields) - 1
    else:
        n_words, dim = header
    # Trailing blank lines are allowed; blank lines inside the body are not.
    while body and body[-1] == "":
        body.pop()
    if len(body) != n_words:
        raise InputError(
            f"{name}: header says {n_words} words but the file has {len(body)} "
            "vector lines."
        )
    tokens, values = [], []
    for lineno, line in enumerate(body, start=first + 1):
        fields = line.split(" ")
        if len(fields) != dim + 1 or not fields[0]:
            raise InputError(
                f"{name}:{lineno}: expected a word and {dim} numbers separated by "
                f"single spaces, got {len(fields) - 1} fields after {fields[0][:40]!r}."
            )
        tokens.append(fields[0])
        values.append(fields[1:])
    try:
        with np.errstate(over="ignore"):  # (beyond float32: refused below)
            vectors = np.array(values, dtype=np.float32).reshape(n_words, dim)
    except ValueError:
        for lineno, row in enumerate(values, start=first + 1):
            try:
                np.array(row, dtype=np.float32)
            except ValueError as exc:
                raise InputError(f"{name}:{lineno}: bad number ({exc}).") from None
        raise
    bad = first_nonfinite_row(vectors)
    if bad is not None:
        raise InputError(
            f"{name}:{first + 1 + bad}: the vector of {tokens[bad][:40]!r} "
            f"{_NOT_FINITE}"
        )
    return tokens, vectors


def _read_word2vec_binary(path):
    """Parse a word2vec binary file (word, space, dim float32, optional newline)."""
    name = os.fspath(path)
    data = read_all_bytes(path)
    end = data.find(b"\n")
    header = (
        _parse_header(path, data[:end].decode("ascii", "replace")) if end >= 0 else None
    )
    if header is None:
        raise InputError(
            f"{name}:1: expected a word2vec header 'n_words dim', got {data[:40]!r}."
        )
    n_words, dim = header
    n_bytes = 4 * dim
    vectors = np.empty((n_words, dim), dtype=np.float32)
    tokens = []
    pos = end + 1
    for i in range(n_words):
        while pos < len(data) and data[pos : pos + 1] == b"\n":
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + 1 + n_bytes > len(data):
            raise InputError(
                f"{name}: entry {i + 1} of {n_words} (byte {pos}) is truncated; "
                "the file is damaged or the header count is wrong."
            )
        try:
            tokens.append(data[pos:space].decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(
                f"{name}: entry {i + 1} (byte {pos}): word is not valid UTF-8."
            ) from None
        vectors[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + n_bytes
    if data[pos:].strip():
        raise InputError(
            f"{name}: data after the {n_words} entries the header announces."
        )
    bad = first_nonfinite_row(vectors)
    if bad is not None:
        raise InputError(
            f"{name}: entry {bad + 1} of {n_words} ({tokens[bad][:40]!r}): its vector "
            f"{_NOT_FINITE}"
        )
    return tokens, vectors


def _read_npz(path):
    """Read ``vectors``, ``tokens`` and the optional ``singular_values`` (None
    when absent) from an ``.npz`` file without pickle."""
    name = os.fspath(path)
    with open(path, "rb") as fh:
        try:
            with np.load(fh, allow_pickle=False) as npz:
                missing = {"vectors", "tokens"} - set(npz.files)
                if missing:
                    raise InputError(
                        f"{name}: missing array(s) {sorted(missing)}; "
                        "expected 'vectors' and 'tokens'."
                    )
                vectors, tokens = npz["vectors"], npz["tokens"]
                offsets = npz["token_offsets"] if "token_offsets" in npz.files else None
                singular_values = (
                    npz["singular_values"] if "singular_values" in npz.files else None
                )
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{name}: not a valid .npz file ({exc}).") from None
        except ValueError as exc:
            if str(exc).startswith(name):
                raise
            raise InputError(
                f"{name}: not a valid embeddings .npz file ({exc})."
            ) from None
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        raise InputError(
            f"{name}: 'vectors' must be a 2-D float array, "
            f"got {vectors.dtype} {vectors.shape}."
        )
    if offsets is not None:  # cooc's layout: UTF-8 bytes and offsets
        tokens = unpack_tokens(tokens, offsets, f"{name}: 'tokens'/'token_offsets'")
    elif tokens.dtype.kind == "U" and tokens.ndim == 1:
        tokens = tokens.tolist()  # (earlier cooc versions: a unicode array)
    else:
        raise InputError(
            f"{name}: 'tokens' must be UTF-8 bytes (uint8) with 'token_offsets', "
            f"or a 1-D unicode array; got {tokens.dtype} {tokens.shape}."
        )
    if len(tokens) != vectors.shape[0]:
        raise InputError(
            f"{name}: {len(tokens)} tokens but {vectors.shape[0]} rows of 'vectors'; "
            "expected one row per token."
        )
    with np.errstate(over="ignore"):  # (beyond float32: refused below)
        vectors = vectors.astype(np.float32, copy=False)
    bad = first_nonfinite_row(vectors)
    if bad is not None:
        raise InputError(
            f"{name}: row {bad} of 'vectors' ({tokens[bad][:40]!r}) {_NOT_FINITE}"
        )
    if singular_values is not None and (
        singular_values.ndim != 1 or singular_values.dtype.kind != "f"
    ):
        raise InputError(
            f"{name}: 'singular_values' must be a 1-D float array, "
            f"got {singular_values.dtype} {singular_values.shape}."
        )
    if singular_values is not None and not np.isfinite(singular_values).all():
        raise InputError(
            f"{name}: 'singular_values' holds NaN or an infinite value; they must "
            "be finite."
        )
    return tokens, vectors, singular_values
