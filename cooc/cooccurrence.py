"""Window co-occurrence counting and the :class:`CoocMatrix` container.

The array function is :func:`count_window` (encoded corpus in, sparse counts
out); :class:`WindowCounter` is its streaming form, fed one chunk at a time with
bounded memory; :func:`build_cooccurrence` reads files and
:func:`cooccurrence_matrix` takes documents in memory. The scikit-learn face of
all this is :class:`cooc.vectorizers.CooccurrenceVectorizer`.

Exactness
---------
Every distance weight is an integer multiple of ``1 / scale`` (``scale`` is
``lcm(1..window)`` for harmonic weights, ``window`` for linear ones and 1 for
uniform ones), so the kernels add integers. The result does not depend on the
number of threads, on the chunk size or on how the corpus is split into shards:
``merge([count(a), count(b)]) == count(a + b)`` bit for bit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cooc import _kernels as K

__all__ = [
    "WEIGHTINGS",
    "CoocMatrix",
    "WindowCounter",
    "build_cooccurrence",
    "cooccurrence_matrix",
    "count_window",
    "merge",
    "window_weights",
]

WEIGHTINGS = ("harmonic", "uniform", "linear")
OOV_MODES = ("drop", "gap")
_EXACT_SCALE_LIMIT = 1 << 32
_MAX_LOAD = 0.6
_DEFAULT_MEMORY = 2 * 1024**3


def window_weights(window_size: int, weighting: str = "harmonic") -> tuple[np.ndarray, int]:
    """Integer distance weights and their common denominator.

    Returns ``(weights, scale)``: ``weights[d] / scale`` is the weight of a pair
    at distance ``d`` (``weights[0]`` is unused). ``harmonic`` is ``1/d`` (GloVe),
    ``linear`` is ``(window - d + 1) / window`` (the expectation of word2vec's
    dynamic window), ``uniform`` is 1. Harmonic weights are exact for windows up
    to 22; beyond, ``1/d`` is rounded to a multiple of ``2**-32``.
    """
    _check_window(window_size)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting={weighting!r} is not one of {WEIGHTINGS}.")
    d = np.arange(window_size + 1, dtype=np.int64)
    if weighting == "uniform":
        weights, scale = np.ones_like(d), 1
    elif weighting == "linear":
        weights, scale = window_size - d + 1, window_size
    else:
        scale = math.lcm(*range(1, window_size + 1))
        if scale <= _EXACT_SCALE_LIMIT:
            weights = np.array([0] + [scale // i for i in range(1, window_size + 1)])
        else:
            scale = _EXACT_SCALE_LIMIT
            weights = np.array([0] + [round(scale / i) for i in range(1, window_size + 1)])
    weights = np.asarray(weights, dtype=np.int64)
    weights[0] = 0
    return weights, int(scale)


def _check_window(window_size):
    if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)):
        raise TypeError(f"window_size must be an int, got {window_size!r}.")
    if window_size < 1:
        raise ValueError(f"window_size={window_size!r} must be >= 1; use --window 5 or so.")


def _n_threads(n_jobs):
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1
    )
    if n_jobs is None or n_jobs == 0:
        return available
    if n_jobs < 0:
        return max(1, available + 1 + n_jobs)
    return int(n_jobs)


class WindowCounter:
    """Streaming window co-occurrence counter with bounded memory.

    Feed encoded chunks with :meth:`update`, then call :meth:`result` (float
    counts) or :meth:`result_counts` (the exact integer counts and their scale).

    Parameters
    ----------
    n_words : int
        Vocabulary size; ids must lie in ``[0, n_words)`` or be ``-1`` (OOV).
    window_size : int, default=5
        Largest distance between two counted tokens.
    weighting : {"harmonic", "uniform", "linear"}, default="harmonic"
        Weight of a pair at distance ``d``: ``1/d``, 1, or ``(W - d + 1)/W``.
    symmetric : bool, default=True
        If False, left and right contexts are kept apart: the result has
        ``2 * n_words`` columns, left contexts first.
    dynamic_window : bool, default=False
        word2vec's sampled windows: each centre draws its width from
        ``1..window_size``; the distance weight still applies.
    subsample : float or None, default=None
        Frequent-word subsampling threshold ``t``: a token of relative frequency
        ``f`` is dropped with probability ``1 - sqrt(t / f)`` before windowing.
        Needs ``word_counts``.
    word_counts : array of int, default=None
        Corpus counts per id, for subsampling.
    oov : {"drop", "gap"}, default="drop"
        Out-of-vocabulary tokens are removed before windowing ("drop") or kept
        as gaps that take a window slot but make no pair ("gap").
    random_state : int, default=0
        Seed for subsampling and dynamic windows.
    n_jobs : int or None, default=None
        Threads; None means all available cores. The result does not depend on it.
    memory : int, default=2 GiB
        Budget in bytes for the counting tables.
    n_dense : int or None, default=None
        Size of the dense block for the most frequent words (ids below it);
        None picks it from the vocabulary size and ``memory``.
    first_doc : int, default=0
        Global number of the first document this counter sees. A shard of a
        corpus counted with the number of documents before it gives exactly its
        part of the whole (subsampling and dynamic windows are drawn per global
        document and position).
    """

    def __init__(
        self,
        n_words,
        *,
        window_size=5,
        weighting="harmonic",
        symmetric=True,
        dynamic_window=False,
        subsample=None,
        word_counts=None,
        oov="drop",
        random_state=0,
        n_jobs=None,
        memory=_DEFAULT_MEMORY,
        n_dense=None,
        first_doc=0,
    ):
        if isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)) or n_words < 1:
            raise ValueError(f"n_words={n_words!r} must be a positive int (vocabulary size).")
        self.n_words = int(n_words)
        self.weights, self.scale = window_weights(window_size, weighting)
        self.window_size = int(window_size)
        self.weighting = weighting
        self.symmetric = bool(symmetric)
        self.dynamic_window = bool(dynamic_window)
        if oov not in OOV_MODES:
            raise ValueError(f"oov={oov!r} is not one of {OOV_MODES}.")
        self.oov = oov
        self.seed = _seed(random_state)
        self.keep_prob = np.empty(0, dtype=np.float64)
        if subsample is not None:
            if not (isinstance(subsample, (int, float)) and 0 < subsample < 1):
                raise ValueError(f"subsample={subsample!r} must be a float in (0, 1), e.g. 1e-5.")
            if word_counts is None:
                raise ValueError("subsample needs word_counts (corpus counts per word id).")
            wc = np.asarray(word_counts, dtype=np.float64)
            if wc.shape != (self.n_words,):
                raise ValueError(
                    f"word_counts has shape {wc.shape}; expected ({self.n_words},)."
                )
            freq = wc / max(wc.sum(), 1.0)
            with np.errstate(divide="ignore"):
                self.keep_prob = np.minimum(1.0, np.sqrt(subsample / freq))
        self.subsample = subsample
        self.n_threads = _n_threads(n_jobs)
        if memory is None:
            memory = _DEFAULT_MEMORY
        self.memory = int(memory)

        if self.dynamic_window:
            self.mode = K.MODE_CENTER
            self.n_cols = self.n_words if self.symmetric else 2 * self.n_words
        else:
            self.mode = K.MODE_CANONICAL if self.symmetric else K.MODE_ORDERED
            self.n_cols = self.n_words
        if n_dense is None:
            n_dense = min(self.n_words, 4096, math.isqrt(max(self.memory // 4 // 8, 1)))
        self.n_dense = int(min(max(n_dense, 0), self.n_words))
        dense_bytes = 8 * self.n_dense**2
        min_table = 16 * 2**12 * self.n_threads
        if dense_bytes + min_table > self.memory:
            raise ValueError(
                f"memory={self.memory} bytes is below the minimum this build needs "
                f"({dense_bytes + min_table} bytes); raise --memory."
            )
        self._table_budget = (self.memory - dense_bytes) // self.n_threads
        self._dense = np.zeros((self.n_dense, self.n_dense), dtype=np.int64)
        self._bits = [12] * self.n_threads
        self._tables = [np.full(2 << 12, -1, dtype=np.int64) for _ in range(self.n_threads)]
        self._used = [0] * self.n_threads
        self._spilled: list[sp.csr_matrix] = []
        self.first_doc = int(first_doc)
        self.n_docs = 0
        self.n_tokens = 0
        self.n_oov = 0
        self.n_counted = 0

    # -- counting ---------------------------------------------------------------
    def update(self, ids, offsets=None) -> WindowCounter:
        """Count one chunk: ``ids`` (int32, -1 = OOV) split into documents by ``offsets``."""
        ids, offsets = _check_corpus(ids, offsets, self.n_words)
        n_docs = offsets.shape[0] - 1
        doc_start = self.first_doc + self.n_docs
        self.n_docs += n_docs
        self.n_tokens += ids.shape[0]
        self.n_oov += int(np.count_nonzero(ids < 0))
        if self.keep_prob.shape[0] or (self.oov == "drop" and self.n_oov):
            ids, offsets = K.filter_tokens(
                ids, offsets, self.keep_prob, self.oov == "drop", self.seed, doc_start
            )
        self.n_counted += int(np.count_nonzero(ids >= 0))
        if self.dynamic_window:
            windows = K.sample_windows(offsets, self.window_size, self.seed ^ 0x5A5A, doc_start)
        else:
            windows = np.empty(0, dtype=np.int32)
        if ids.shape[0] == 0:
            return self
        self._run(lambda tid: self._count_thread(tid, ids, offsets, windows))
        return self

    def _run(self, fn):
        if self.n_threads == 1:
            return [fn(0)]
        with ThreadPoolExecutor(self.n_threads) as pool:
            return list(pool.map(fn, range(self.n_threads)))

    def _count_thread(self, tid, ids, offsets, windows):
        n_docs = offsets.shape[0] - 1
        doc, pos = 0, 0
        while True:
            cap = 1 << self._bits[tid]
            doc, pos, self._used[tid] = K.count_window_owned(
                ids, offsets, doc, pos, self.weights, windows, self.mode, self.n_cols,
                self.n_words, tid, self.n_threads, self._dense, self._tables[tid],
                self._bits[tid], self._used[tid], int(cap * _MAX_LOAD),
            )
            if doc >= n_docs:
                return
            if 16 * 2 * cap <= self._table_budget:
                self._bits[tid] += 1
                self._tables[tid] = K.table_rehash(self._tables[tid], self._bits[tid])
            else:
                self._spill(tid)

    def _spill(self, tid):
        """Move thread ``tid``'s table out to a compact sparse partial (exact)."""
        table = self._tables[tid]
        keys, vals = table[0::2], table[1::2]
        keep = keys != -1
        keys, vals = keys[keep], vals[keep]
        part = sp.csr_matrix(
            (vals, (keys // self.n_cols, keys % self.n_cols)),
            shape=(self.n_words, self.n_cols),
        )
        self._spilled.append(part)
        table.fill(-1)
        self._used[tid] = 0

    # -- results ----------------------------------------------------------------
    def result_counts(self) -> tuple[sp.csr_matrix, int]:
        """The exact integer counts (int64 CSR, final layout) and their ``scale``."""
        counts = np.zeros((self.n_threads, self.n_words), dtype=np.int64)
        self._run(
            lambda tid: K.count_owned_rows(
                self._tables[tid], self._dense, self.n_cols, tid, self.n_threads, counts[tid]
            )
        )
        indptr = np.zeros(self.n_words + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=0), out=indptr[1:])
        nnz = int(indptr[-1])
        indices = np.empty(nnz, dtype=np.int32)
        data = np.empty(nnz, dtype=np.int64)
        self._run(
            lambda tid: K.fill_owned_rows(
                self._tables[tid], self._dense, self.n_cols, tid, self.n_threads,
                indptr, indices, data,
            )
        )
        if nnz < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        upper = sp.csr_matrix((data, indices, indptr), shape=(self.n_words, self.n_cols))
        for part in self._spilled:
            upper = upper + part
        if self.mode == K.MODE_CANONICAL:
            full = (upper + upper.T).tocsr()
        elif self.mode == K.MODE_ORDERED:
            full = sp.hstack([upper.T, upper], format="csr")
        else:
            full = upper
        full.sort_indices()
        full.eliminate_zeros()
        return full, self.scale

    def result(self, dtype=np.float64) -> sp.csr_matrix:
        """Weighted co-occurrence counts as a CSR matrix of ``dtype``."""
        counts, scale = self.result_counts()
        return _to_float(counts, scale, dtype)

    @property
    def stats(self) -> dict:
        return {
            "n_docs": int(self.n_docs),
            "n_tokens": int(self.n_tokens),
            "n_oov": int(self.n_oov),
            "n_counted": int(self.n_counted),
        }

    @property
    def params(self) -> dict:
        return {
            "window_size": self.window_size,
            "weighting": self.weighting,
            "symmetric": self.symmetric,
            "dynamic_window": self.dynamic_window,
            "subsample": self.subsample,
            "oov": self.oov,
            "random_state": int(self.seed),
            "scale": self.scale,
        }


def _to_float(counts, scale, dtype):
    out = counts.astype(np.float64)
    if scale != 1:
        out.data /= scale
    return out.astype(dtype, copy=False)


def _seed(random_state):
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state={random_state!r} must be >= 0.")
        return int(random_state)
    raise TypeError(f"random_state must be an int or None, got {random_state!r}.")


def _check_corpus(ids, offsets, n_words):
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"ids must be a 1-d integer array, got dtype {ids.dtype} ndim {ids.ndim}.")
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    if offsets is None:
        offsets = np.array([0, ids.shape[0]], dtype=np.int64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if (
        offsets.ndim != 1
        or offsets.shape[0] < 1
        or offsets[0] != 0
        or offsets[-1] != ids.shape[0]
        or np.any(np.diff(offsets) < 0)
    ):
        raise ValueError(
            "offsets must be non-decreasing, start at 0 and end at len(ids) "
            f"({ids.shape[0]})."
        )
    if ids.size and (ids.max() >= n_words or ids.min() < -1):
        raise ValueError(
            f"ids must lie in [0, {n_words}) or be -1 (out of vocabulary); "
            f"got range [{ids.min()}, {ids.max()}]."
        )
    return ids, offsets


def count_window(ids, offsets=None, n_words=None, **params) -> sp.csr_matrix:
    """Window co-occurrence counts of an encoded corpus.

    Parameters
    ----------
    ids : array of int, shape (n_tokens,)
        Word ids in ``[0, n_words)``; ``-1`` marks an out-of-vocabulary token.
    offsets : array of int, shape (n_docs + 1,), default=None
        Document boundaries; pairs never cross them. None means one document.
    n_words : int, default=None
        Vocabulary size; ``ids.max() + 1`` when None.
    **params
        Keyword arguments of :class:`WindowCounter` (``window_size``,
        ``weighting``, ``symmetric``, ``dynamic_window``, ``subsample``,
        ``word_counts``, ``oov``, ``random_state``, ``n_jobs``, ``memory``).

    Returns
    -------
    counts : scipy.sparse.csr_matrix of float64, shape (n_words, n_words)
        ``(n_words, 2 * n_words)`` when ``symmetric=False`` (left contexts first).

    Examples
    --------
    >>> from cooc.cooccurrence import count_window
    >>> count_window([0, 1, 2], window_size=2, weighting="uniform").toarray()
    array([[0., 1., 1.],
           [1., 0., 1.],
           [1., 1., 0.]])
    """
    ids = np.asarray(ids)
    if n_words is None:
        n_words = int(ids.max()) + 1 if ids.size else 1
    counter = WindowCounter(n_words, **params)
    return counter.update(ids, offsets).result()


# ---------------------------------------------------------------------------------
@dataclass
class CoocMatrix:
    """A co-occurrence matrix with its vocabulary and how it was made.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_words, n_contexts)
        Weighted counts (float64).
    vocabulary : cooc.vocab.Vocabulary
        Row labels, in id order.
    params : dict
        Every counting parameter (window, weighting, ...), including ``scale``,
        the denominator that makes the counts exact integers.
    stats : dict
        Corpus statistics (documents, tokens, out-of-vocabulary tokens, ...).
    """

    matrix: sp.csr_matrix
    vocabulary: object
    params: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    @property
    def shape(self):
        return self.matrix.shape

    @property
    def nnz(self):
        return self.matrix.nnz

    @property
    def symmetric(self) -> bool:
        return self.matrix.shape[1] == self.matrix.shape[0]

    def context_names(self) -> list[str]:
        """Column labels: the words, or ``L:word`` / ``R:word`` for directional matrices."""
        tokens = list(self.vocabulary.tokens)
        if self.symmetric:
            return tokens
        return [f"L:{t}" for t in tokens] + [f"R:{t}" for t in tokens]

    def integer_counts(self) -> sp.csr_matrix:
        """The exact int64 counts (``matrix * scale``)."""
        scale = int(self.params.get("scale", 1))
        out = self.matrix.copy()
        out.data = np.rint(out.data * scale)
        return out.astype(np.int64)

    def to_frame(self) -> pd.DataFrame:
        """Every non-zero as a row ``word1, word2, value``."""
        coo = self.matrix.tocoo()
        rows = np.asarray(self.vocabulary.tokens, dtype=object)
        cols = np.asarray(self.context_names(), dtype=object)
        return pd.DataFrame({"word1": rows[coo.row], "word2": cols[coo.col], "value": coo.data})

    def save(self, path) -> None:
        from cooc.io import save_cooc

        save_cooc(self, path)

    @classmethod
    def load(cls, path) -> CoocMatrix:
        from cooc.io import load_cooc

        return load_cooc(path)

    def __repr__(self):
        return (
            f"CoocMatrix(shape={self.shape}, nnz={self.nnz}, "
            f"window={self.params.get('window_size')}, "
            f"weighting={self.params.get('weighting')!r})"
        )


def merge(matrices: Sequence[CoocMatrix]) -> CoocMatrix:
    """Sum co-occurrence matrices counted on parts of one corpus, exactly.

    All parts must share the vocabulary and counting parameters; the sum is done
    on the integer counts, so it equals counting the whole corpus at once.
    """
    matrices = list(matrices)
    if not matrices:
        raise ValueError("merge needs at least one CoocMatrix.")
    first = matrices[0]
    skip = {"random_state"}
    for m in matrices[1:]:
        if list(m.vocabulary.tokens) != list(first.vocabulary.tokens):
            raise ValueError("cannot merge matrices with different vocabularies.")
        a = {k: v for k, v in m.params.items() if k not in skip}
        b = {k: v for k, v in first.params.items() if k not in skip}
        if a != b:
            raise ValueError(f"cannot merge matrices counted with different parameters: {a} != {b}.")
    total = first.integer_counts()
    for m in matrices[1:]:
        total = total + m.integer_counts()
    stats = {}
    for m in matrices:
        for k, v in m.stats.items():
            if isinstance(v, (int, np.integer)):
                stats[k] = stats.get(k, 0) + int(v)
    return CoocMatrix(
        _to_float(total, int(first.params.get("scale", 1)), np.float64),
        first.vocabulary,
        dict(first.params),
        stats,
    )


_COUNTER_KEYS = (
    "window_size", "weighting", "symmetric", "dynamic_window", "subsample", "oov",
    "random_state", "n_jobs", "memory",
)


def _split_params(params):
    unknown = set(params) - set(_COUNTER_KEYS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {sorted(unknown)}.")
    return params


def _count_chunks(chunks, vocabulary, params, progress):
    counter = WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        **params,
    )
    for chunk in chunks:
        ids = vocabulary.encode_chunk(chunk)
        counter.update(ids, chunk.offsets)
        if progress is not None:
            progress(int(ids.shape[0]))
    stats = counter.stats
    stats["vocabulary_size"] = len(vocabulary)
    return CoocMatrix(counter.result(), vocabulary, counter.params, stats)


def cooccurrence_matrix(
    documents: Iterable,
    *,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    **params,
) -> CoocMatrix:
    """Count window co-occurrences of documents held in memory.

    ``documents`` is an iterable of strings (tokenized with ``tokenizer``) or of
    token lists (used as they are). Without ``vocabulary`` one is built from the
    same documents with ``min_count`` and ``max_size``. Other keyword arguments
    are those of :class:`WindowCounter`.
    """
    from cooc.corpus import chunks_from_documents
    from cooc.vocab import build_vocabulary

    _split_params(params)
    if isinstance(documents, (str, bytes)):
        raise TypeError("documents must be an iterable of documents, not a single string.")
    documents = list(documents)
    chunks = list(chunks_from_documents(documents, tokenizer=tokenizer, lowercase=lowercase))
    if vocabulary is None:
        vocabulary = build_vocabulary(chunks, min_count=min_count, max_size=max_size)
    return _count_chunks(chunks, vocabulary, params, None)


def build_cooccurrence(
    paths,
    *,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int = 1 << 24,
    progress: Callable[[str, int], None] | None = None,
    **params,
) -> CoocMatrix:
    """Count window co-occurrences of corpus files, streaming in bounded chunks.

    Two passes when no ``vocabulary`` is given (count words, then pairs); one
    otherwise. ``progress(stage, n_tokens)`` is called after every chunk.
    """
    from cooc.corpus import iter_token_chunks
    from cooc.vocab import build_vocabulary

    _split_params(params)
    read = dict(
        tokenizer=tokenizer,
        column=column,
        lowercase=lowercase,
        chunk_size=chunk_size,
        encoding_errors=encoding_errors,
    )
    if vocabulary is None:
        def counted(chunks):
            for chunk in chunks:
                if progress is not None:
                    progress("vocabulary", int(chunk.codes.shape[0]))
                yield chunk

        vocabulary = build_vocabulary(
            counted(iter_token_chunks(paths, **read)), min_count=min_count, max_size=max_size
        )
    step = None if progress is None else (lambda n: progress("counting", n))
    out = _count_chunks(iter_token_chunks(paths, **read), vocabulary, params, step)
    out.stats["sources"] = [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    return out
