"""Window co-occurrence counting into :class:`~cooc.matrix.CoocMatrix` objects.

The array function is :func:`count_window` (encoded corpus in, sparse counts
out); :class:`WindowCounter` is its streaming form, fed one chunk at a time with
bounded memory; :func:`build_cooccurrence` reads files and
:func:`cooccurrence_matrix` takes documents in memory. The scikit-learn face of
all this is :class:`cooc.vectorizers.CooccurrenceVectorizer`.

Exactness
---------
Every distance weight is an integer multiple of ``1 / scale`` (``scale`` is
``lcm(1..window)`` for harmonic weights, ``2**32`` for power-law ones (each
``d**-decay`` rounded to a multiple of ``2**-32``), ``window`` for linear ones
and 1 for uniform ones), so the kernels add integers. The result does not depend on the
number of threads, on the chunk size or on how the corpus is split into shards:
``merge([count(a), count(b)]) == count(a + b)`` bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from cooc import _kernels as K
from cooc.corpus import (
    ReadingOptions,
    chunks_from_documents,
    max_line_bytes,
    source_names,
)
from cooc.errors import InputError, InputTypeError

# CoocMatrix and merge are defined in cooc.matrix; re-exported here.
from cooc.matrix import CoocMatrix, merge
from cooc.parallel import block_map, n_threads
from cooc.phrasetable import as_phrase_table
from cooc.tokenstream import EncodedCorpus, TokenTable, merge_tables, scan_corpus
from cooc.vocab import (
    EmptyCorpusError,
    build_vocabulary,
    check_vocabulary_params,
    vocabulary_from_table,
)

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

WEIGHTINGS = ("harmonic", "power", "uniform", "linear")
OOV_MODES = ("drop", "gap")
# Window of `build_cooccurrence` and `cooc build` when none is given: with
# harmonic (1/d) weights, 15 gave the best word vectors of the windows 2-20
# tried on the 10.5M-token development corpus (benchmarks/sweep_embeddings.py).
# The array-level `WindowCounter` and `count_window` keep 5.
DEFAULT_WINDOW = 15
# Distance weighting of `build_cooccurrence` and `cooc build` when none is
# given: 1 / d**DEFAULT_DECAY. On the development corpus (window 15, rank 500)
# a decay of 1.25 raised SimLex-999 by about 0.004 over harmonic weights
# (decay 1) at the same WS353 and MEN within 0.005, and dropped 7 % of the
# PPMI matrix's non-zeros; steeper decays cost WS353 (sweep plan ``decay``).
# The array-level `WindowCounter` and `count_window` keep harmonic weights.
DEFAULT_WEIGHTING = "power"
DEFAULT_DECAY = 1.25
_EXACT_SCALE_LIMIT = 1 << 32
_MAX_LOAD = 0.6
DEFAULT_MEMORY = 2 * 1024**3  # bytes a build may hold (cooc build --memory 2G)


def window_weights(
    window_size: int, weighting: str = "harmonic", decay: float = DEFAULT_DECAY
) -> tuple[np.ndarray, int]:
    """Integer distance weights and their common denominator.

    Returns ``(weights, scale)``: ``weights[d] / scale`` is the weight of a pair
    at distance ``d`` (``weights[0]`` is unused). ``harmonic`` is ``1/d`` (GloVe),
    ``power`` is ``1/d**decay`` (``decay`` is used by it only), ``linear`` is
    ``(window - d + 1) / window`` (the expectation of word2vec's dynamic
    window), ``uniform`` is 1. Harmonic weights are exact for windows up to 22;
    beyond, ``1/d`` is rounded to a multiple of ``2**-32``, as power-law
    weights always are.
    """
    _check_window(window_size)
    if weighting not in WEIGHTINGS:
        raise InputError(f"weighting={weighting!r} is not one of {WEIGHTINGS}.")
    d = np.arange(window_size + 1, dtype=np.int64)
    if weighting == "uniform":
        weights, scale = np.ones_like(d), 1
    elif weighting == "linear":
        weights, scale = window_size - d + 1, window_size
    elif weighting == "power":
        _check_decay(decay)
        scale = _EXACT_SCALE_LIMIT
        weights = np.array(
            [0] + [round(scale / i**decay) for i in range(1, window_size + 1)]
        )
    else:
        scale = math.lcm(*range(1, window_size + 1))
        if scale <= _EXACT_SCALE_LIMIT:
            weights = np.array([0] + [scale // i for i in range(1, window_size + 1)])
        else:
            scale = _EXACT_SCALE_LIMIT
            weights = np.array(
                [0] + [round(scale / i) for i in range(1, window_size + 1)]
            )
    weights = np.asarray(weights, dtype=np.int64)
    weights[0] = 0
    return weights, int(scale)


def _check_decay(decay):
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.number)):
        raise InputTypeError(f"decay must be a number, got {decay!r}.")
    if not 0 < decay <= 10:
        raise InputError(
            f"decay={decay!r} must be in (0, 10]: the weight of distance d is "
            "1/d**decay (1 is harmonic)."
        )


def _check_window(window_size):
    if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)):
        raise InputTypeError(f"window_size must be an int, got {window_size!r}.")
    if window_size < 1:
        raise InputError(
            f"window_size={window_size!r} must be >= 1; use --window 5 or so."
        )


# (kept under their old names for the modules and tests that use them)


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
    weighting : {"harmonic", "power", "uniform", "linear"}, default="harmonic"
        Weight of a pair at distance ``d``: ``1/d``, ``1/d**decay``, 1, or
        ``(W - d + 1)/W``.
    decay : float, default=1.25
        Exponent of the ``power`` weighting (ignored by the others).
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
        Budget in bytes for the counting storage: per thread, a dense block and
        a buffer of pair updates (8 bytes each, plus 8 of scratch when it is
        sorted). A full buffer is sorted into a compact run of distinct pairs
        (16 bytes each); runs are kept in memory and merged as they accumulate.
    n_dense : int or None, default=None
        Size of the dense block for the most frequent words (ids below it);
        None picks 4096, or fewer when ``memory`` is small.
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
        decay=DEFAULT_DECAY,
        symmetric=True,
        dynamic_window=False,
        subsample=None,
        word_counts=None,
        oov="drop",
        random_state=0,
        n_jobs=None,
        memory=DEFAULT_MEMORY,
        n_dense=None,
        first_doc=0,
    ):
        if (
            isinstance(n_words, bool)
            or not isinstance(n_words, (int, np.integer))
            or n_words < 1
        ):
            raise InputError(
                f"n_words={n_words!r} must be a positive int (vocabulary size)."
            )
        self.n_words = int(n_words)
        self.weights, self.scale = window_weights(window_size, weighting, decay)
        self.window_size = int(window_size)
        self.weighting = weighting
        # Recorded for the power weighting only, where it changes the counts.
        self.decay = float(decay) if weighting == "power" else None
        self.symmetric = bool(symmetric)
        self.dynamic_window = bool(dynamic_window)
        if oov not in OOV_MODES:
            raise InputError(f"oov={oov!r} is not one of {OOV_MODES}.")
        self.oov = oov
        self.seed = _seed(random_state)
        self.keep_prob = np.empty(0, dtype=np.float64)
        if subsample is not None:
            if not (isinstance(subsample, (int, float)) and 0 < subsample < 1):
                raise InputError(
                    f"subsample={subsample!r} must be a float in (0, 1), e.g. 1e-5."
                )
            if word_counts is None:
                raise InputError(
                    "subsample needs word_counts (corpus counts per word id)."
                )
            wc = np.asarray(word_counts, dtype=np.float64)
            if wc.shape != (self.n_words,):
                raise InputError(
                    f"word_counts has shape {wc.shape}; expected ({self.n_words},)."
                )
            if self.n_words and not wc.any():
                raise InputError(
                    "subsample needs the words' corpus counts, but every count is "
                    "0 (a vocabulary read from a plain word list has none); give "
                    "a vocabulary with counts (cooc vocab) or leave out subsample "
                    "(--subsample)."
                )
            freq = wc / max(wc.sum(), 1.0)
            with np.errstate(divide="ignore"):
                self.keep_prob = np.minimum(1.0, np.sqrt(subsample / freq))
        self.subsample = subsample
        self.n_threads = n_threads(n_jobs)
        if memory is None:
            memory = DEFAULT_MEMORY
        self.memory = int(memory)

        if self.dynamic_window:
            self.mode = K.MODE_CENTER
            self.n_cols = self.n_words if self.symmetric else 2 * self.n_words
        else:
            self.mode = K.MODE_CANONICAL if self.symmetric else K.MODE_ORDERED
            self.n_cols = self.n_words
        # Buffered pairs are int64 words (row * n_cols + col) << d_bits | distance.
        self._d_bits = self.window_size.bit_length()
        self._key_bits = max(1, (self.n_words * self.n_cols - 1).bit_length())
        if self._key_bits + self._d_bits > 62:
            raise InputError(
                f"n_words={self.n_words!r} with window_size={self.window_size!r} is "
                "too large to count (pair keys need more than 62 bits); lower max_size."
            )
        packed = self.mode == K.MODE_CANONICAL

        def dense_len(k):
            return k * (k + 1) // 2 if packed else k * k

        if n_dense is None:
            n_dense = min(self.n_words, self._DENSE_DEFAULT)
            while n_dense and 4 * self.n_threads * 8 * dense_len(n_dense) > self.memory:
                n_dense //= 2
        self.n_dense = int(min(max(n_dense, 0), self.n_words))
        k = self.n_dense
        dense_bytes = self.n_threads * 8 * dense_len(k)
        min_buffer = self._MIN_BUFFER + 2 * self.window_size
        min_bytes = dense_bytes + self.n_threads * self._BYTES_PER_SLOT * min_buffer
        if min_bytes > self.memory:
            raise InputError(
                f"memory={self.memory} bytes is below the minimum this build needs "
                f"({min_bytes} bytes); raise --memory."
            )
        # Per thread: a buffer of 8-byte words, 8 more per word of sort scratch at
        # flush time, and as much again left for the sorted runs.
        self._buffer_cap = max(
            min_buffer,
            (self.memory - dense_bytes) // self.n_threads // self._BYTES_PER_SLOT,
        )
        r = np.arange(k, dtype=np.int64)
        self._row_start = r * k - r * (r - 1) // 2 - r if packed else r * k
        self._dense = [np.zeros(dense_len(k), np.int64) for _ in range(self.n_threads)]
        self._buf = [self._new_buffer() for _ in range(self.n_threads)]
        self._n_buf = [0] * self.n_threads
        self._runs = [K.RunStack() for _ in range(self.n_threads)]
        self.first_doc = int(first_doc)
        self.n_docs = 0
        self.n_tokens = 0
        self.n_oov = 0
        self.n_counted = 0

    # -- counting ---------------------------------------------------------------
    def update(self, ids, offsets=None) -> WindowCounter:
        """Count one chunk: ``ids`` (int32, -1 = OOV) split into documents by ``offsets``."""
        ids, offsets = check_corpus(ids, offsets, self.n_words)
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
            windows = K.sample_windows(
                offsets, self.window_size, self.seed ^ 0x5A5A, doc_start
            )
        else:
            windows = np.empty(0, dtype=np.int32)
        if ids.shape[0] == 0:
            return self
        n = ids.shape[0]
        n_parts = max(1, min(self.n_threads, n // self._MIN_TOKENS_PER_THREAD))
        cuts = [n * t // n_parts for t in range(n_parts + 1)]
        block_map(
            lambda t, lo, hi: self._count_part(t, ids, offsets, windows, lo, hi),
            [(t, cuts[t], cuts[t + 1]) for t in range(n_parts)],
            n_threads=self.n_threads,
        )
        return self

    # Tuning: dense block of the most frequent words (int64, per thread; the
    # packed triangle of 4096 words is 64 MB), bytes per buffered pair (buffer +
    # sort scratch + room for runs), smallest buffer, smallest slice per thread.
    # A pair counted in the dense block is a random add to it (several ns when
    # it misses the caches); a buffered one costs 25-35 ns of sorting on this
    # project's 2-core machine. On the shared corpus (window 10) 4096 words
    # took 42 % of the buffered pairs out of the sort (2.5 -> 1.2 s of sorting,
    # 0.95 -> 1.35 s of pair generation, summed over the threads); on the
    # synthetic 10M corpus it was even (2.7 -> 2.8 s); 1024 and 2048 lay between.
    _DENSE_DEFAULT = 4096
    _BYTES_PER_SLOT = 32
    _MIN_BUFFER = 1024
    _MIN_TOKENS_PER_THREAD = 1 << 15

    def _new_buffer(self):
        # Allocated at full size: untouched pages cost no memory.
        return np.empty(self._buffer_cap, dtype=np.int64)

    def _spill_all(self, threaded=True):
        """Sort every non-empty pair buffer into a run, a thread each when
        ``threaded``."""
        busy = [(t,) for t in range(self.n_threads) if self._n_buf[t]]
        block_map(self._spill, busy, n_threads=self.n_threads if threaded else 1)

    def _count_part(self, tid, ids, offsets, windows, pos, pos_end):
        """Count into thread ``tid``'s storage the pairs whose left token lies in
        ``ids[pos:pos_end]``, spilling its buffer whenever it fills up."""
        while pos < pos_end:
            pos, self._n_buf[tid] = K.count_window_pairs(
                ids,
                offsets,
                pos,
                pos_end,
                self.weights,
                windows,
                self.mode,
                self.n_cols,
                self.n_words,
                self._dense[tid],
                self._row_start,
                self.n_dense,
                self._buf[tid],
                self._n_buf[tid],
                self._d_bits,
            )
            if pos < pos_end:
                self._spill(tid)

    def _spill(self, tid):
        """Sort thread ``tid``'s buffer into a run on its stack (exact)."""
        n = self._n_buf[tid]
        self._n_buf[tid] = 0
        # The buffer becomes the run, shrunk in place (no copy); a fresh buffer
        # takes its place in self._buf.
        self._runs[tid].add_buffer(
            self._buf, tid, n, self.weights, self._d_bits, self._key_bits
        )

    def __getstate__(self):
        # Pickle only the filled part of each pair buffer.
        state = self.__dict__.copy()
        bufs = zip(self._buf, self._n_buf, strict=True)
        state["_buf"] = [buf[:n].copy() for buf, n in bufs]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        filled, self._buf = self._buf, []
        for part in filled:
            buf = self._new_buffer()
            buf[: part.shape[0]] = part
            self._buf.append(buf)

    @property
    def _spilled(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every sorted run (partial counts moved out of the pair buffers)."""
        return [run for runs in self._runs for run in runs]

    def runs_nbytes(self) -> int:
        """Bytes held by the sorted runs and the filled part of the pair buffers."""
        runs = sum(stack.nbytes() for stack in self._runs)
        return runs + 8 * sum(self._n_buf)

    def take_runs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Sort the pair buffers into runs and hand every run over.

        The counter forgets them and goes on counting (its dense block stays:
        see :meth:`dense_run`); the counts are the sum of all runs handed over,
        the runs of :meth:`result_counts` and the dense block.
        """
        self._spill_all()
        return [run for stack in self._runs for run in stack.take()]

    def dense_run(self) -> tuple[np.ndarray, np.ndarray]:
        """The dense block's non-zero counts as one sorted run ``(keys, values)``."""
        dense = self._dense[0].copy()
        for other in self._dense[1:]:
            dense += other
        return K.dense_block_run(
            dense, self._row_start, self.n_dense, self.mode, self.n_cols
        )

    # -- results ----------------------------------------------------------------
    def result_counts(self) -> tuple[sp.csr_matrix, int]:
        """The exact integer counts (int64 CSR, final layout) and their ``scale``."""
        lay = self._layout()
        nnz = int(lay.indptr[-1])
        indices = np.empty(nnz, dtype=np.int32)
        data = np.empty(nnz, dtype=np.int64)
        own_cursor = lay.indptr[:-1] + lay.n_mirror
        mirror_cursor = np.cumsum(lay.mirror, axis=0)
        mirror_cursor -= lay.mirror
        mirror_cursor += lay.indptr[:-1]
        lay.mirror = None
        n_words = self.n_words
        block_map(
            lambda t: lay.emit(
                t,
                t + 1,
                True,
                own_cursor,
                mirror_cursor[t],
                indices,
                data,
                0,
                n_words,
                0,
            ),
            [(t,) for t in range(lay.n_parts)],
            n_threads=self.n_threads,
        )
        indptr = lay.indptr
        if nnz < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        full = sp.csr_matrix((data, indices, indptr), shape=(n_words, lay.out_cols))
        full.has_sorted_indices = True
        return full, self.scale

    def _layout(self) -> _Layout:
        """Merge the runs into at most two sorted pieces per row range and
        count the entries of every output row (see :class:`_Layout`)."""
        # 1. Buffers -> runs; dense blocks summed.
        self._spill_all(threaded=sum(self._n_buf) >= self._MIN_TOKENS_PER_THREAD)
        dense = self._dense[0]
        for other in self._dense[1:]:
            dense += other
            other.fill(0)
        runs = self._spilled
        n_words, n_cols, k = self.n_words, self.n_cols, self.n_dense

        # 2. Split the rows into ranges of about equal work, one per thread.
        row_keys = np.arange(n_words + 1, dtype=np.int64) * n_cols
        starts = [np.searchsorted(keys, row_keys) for keys, _ in runs]
        work = np.zeros(n_words + 1, dtype=np.int64)
        for st in starts:
            work[1:] += np.diff(st)
        work[1 : k + 1] += (k - np.arange(k)) if self.mode == K.MODE_CANONICAL else k
        np.cumsum(work, out=work)
        total = int(work[-1])
        n_parts = min(self.n_threads, total // (8 * self._MIN_TOKENS_PER_THREAD))
        n_parts = max(n_parts, 1)
        targets = [total * t // n_parts for t in range(n_parts + 1)]
        bounds = np.searchsorted(work, targets)
        bounds[0], bounds[-1] = 0, n_words
        bounds = np.maximum.accumulate(bounds)

        # 3. Per range: the runs' slices, merged down to at most two sorted
        #    pieces (the output pass merges two on the fly).
        empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))

        def range_pieces(lo, hi):
            parts = [
                (keys[st[lo] : st[hi]], vals[st[lo] : st[hi]])
                for (keys, vals), st in zip(runs, starts, strict=True)
            ]
            parts = K.merge_down([p for p in parts if p[0].shape[0]], keep=2)
            return [*parts, empty, empty][:2]

        pieces = block_map(
            range_pieces,
            [(bounds[t], bounds[t + 1]) for t in range(n_parts)],
            n_threads=self.n_threads,
        )
        if len(runs) > 2:
            # The pieces (sorted runs) replace the runs they were merged from,
            # which frees those before the output is built.
            kept = [p for two in pieces for p in two if p[0].shape[0]]
            self._runs = [K.RunStack(kept)]
            self._runs += [K.RunStack() for _ in range(self.n_threads - 1)]
        runs = starts = None  # (free what the pieces no longer need)

        # 4. Count entries per output row.
        lay = _Layout(self, dense, pieces, bounds, n_parts)
        own = np.zeros(n_words, dtype=np.int64)
        mirror = np.zeros((n_parts, n_words), dtype=np.int64)
        no_idx, no_data = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64)
        block_map(
            lambda t: lay.emit(
                t, t + 1, False, own, mirror[t], no_idx, no_data, 0, n_words, 0
            ),
            [(t,) for t in range(n_parts)],
            n_threads=self.n_threads,
        )
        lay.n_mirror = mirror.sum(axis=0)
        lay.mirror = mirror
        lay.indptr = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(own + lay.n_mirror, out=lay.indptr[1:])
        return lay

    def result(self, dtype=np.float64) -> sp.csr_matrix:
        """Weighted co-occurrence counts as a CSR matrix of ``dtype``."""
        counts, scale = self.result_counts()
        # Same values as ``_to_float(counts, scale, dtype)``, without a second copy.
        data = K.divide_counts_inplace(counts.data, float(scale))
        out = sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)
        out.has_sorted_indices = True
        return out.astype(dtype, copy=False)

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
            "decay": self.decay,
            "symmetric": self.symmetric,
            "dynamic_window": self.dynamic_window,
            "subsample": self.subsample,
            "oov": self.oov,
            "random_state": int(self.seed),
            "scale": self.scale,
        }


class _Layout:
    """A counter's counts ready to be written out: the summed dense block, at
    most two sorted pieces per row range ``[bounds[t], bounds[t + 1])``, and
    the length of every output row (``indptr``; ``n_mirror`` of them are
    mirror entries, ``mirror[t]`` those coming from range ``t``)."""

    def __init__(self, counter, dense, pieces, bounds, n_parts):
        self.counter = counter
        self.dense = dense
        self.pieces = pieces
        self.bounds = bounds
        self.n_parts = n_parts
        self.out_cols = (
            2 * counter.n_words if counter.mode == K.MODE_ORDERED else counter.n_cols
        )
        self.indptr = self.n_mirror = self.mirror = None

    def emit(self, t0, t1, fill, own, mirror, indices, data, dest_lo, dest_hi, base):
        """Run :func:`~cooc._kernels.emit_csr_entries` over the row ranges
        ``t0..t1 - 1`` in order (see it for the arguments)."""
        c = self.counter
        for t in range(t0, t1):
            (keys1, vals1), (keys2, vals2) = self.pieces[t]
            K.emit_csr_entries(
                self.dense,
                c._row_start,
                c.n_dense,
                keys1,
                vals1,
                keys2,
                vals2,
                self.bounds[t],
                self.bounds[t + 1],
                c.mode,
                c.n_cols,
                c.n_words,
                fill,
                own,
                mirror,
                indices,
                data,
                dest_lo,
                dest_hi,
                base,
            )

    def emit_rows(self, stored, fill, own, mirror, indices, data, lo, hi, out_base):
        """:meth:`emit` over the stored rows ``[stored[0], stored[1])`` only
        (the pieces cut to them), for output rows ``[lo, hi)``."""
        c = self.counter
        s_lo, s_hi = stored
        for t in range(self.n_parts):
            r0 = max(int(self.bounds[t]), s_lo)
            r1 = min(int(self.bounds[t + 1]), s_hi)
            if r0 >= r1:
                continue
            cut = [r0 * c.n_cols, r1 * c.n_cols]
            (keys1, vals1), (keys2, vals2) = self.pieces[t]
            a1, b1 = np.searchsorted(keys1, cut)
            a2, b2 = np.searchsorted(keys2, cut)
            K.emit_csr_entries(
                self.dense,
                c._row_start,
                c.n_dense,
                keys1[a1:b1],
                vals1[a1:b1],
                keys2[a2:b2],
                vals2[a2:b2],
                r0,
                r1,
                c.mode,
                c.n_cols,
                c.n_words,
                fill,
                own,
                mirror,
                indices,
                data,
                lo,
                hi,
                out_base,
            )


def _seed(random_state):
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(
        random_state, bool
    ):
        if not 0 <= random_state < 2**63:
            raise InputError(
                f"random_state={random_state!r} must be in [0, 2**63) (--seed)."
            )
        return int(random_state)
    raise InputTypeError(f"random_state must be an int or None, got {random_state!r}.")


def check_corpus(ids, offsets, n_words):
    """An encoded corpus checked and made ready for the counting kernels.

    Parameters
    ----------
    ids : array of int, shape (n_tokens,)
        Word ids in ``[0, n_words)``; ``-1`` marks an out-of-vocabulary token.
    offsets : array of int, shape (n_docs + 1,), or None
        Document boundaries (non-decreasing, from 0 to ``len(ids)``); None
        means one document.
    n_words : int
        Vocabulary size.

    Returns
    -------
    ids : ndarray of int32, contiguous
    offsets : ndarray of int64, contiguous

    Raises
    ------
    TypeError
        ``ids`` is not a 1-d integer array.
    ValueError
        ``offsets`` do not describe ``ids``, or an id is out of range.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise InputTypeError(
            f"ids must be a 1-d integer array, got dtype {ids.dtype} ndim {ids.ndim}."
        )
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
        raise InputError(
            "offsets must be non-decreasing, start at 0 and end at len(ids) "
            f"({ids.shape[0]})."
        )
    if ids.size and (ids.max() >= n_words or ids.min() < -1):
        raise InputError(
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


_COUNTER_KEYS = (
    "window_size",
    "weighting",
    "decay",
    "symmetric",
    "dynamic_window",
    "subsample",
    "oov",
    "random_state",
    "n_jobs",
    "memory",
)


def file_defaults(params: dict) -> dict:
    """Fill in the window and weighting of the file builders when not given.

    :func:`build_cooccurrence`, its Dask, out-of-core and resumable forms and
    ``cooc build`` share ``DEFAULT_WINDOW`` and ``DEFAULT_WEIGHTING``; the
    array-level counters keep :class:`WindowCounter`'s own defaults.
    """
    params.setdefault("window_size", DEFAULT_WINDOW)
    params.setdefault("weighting", DEFAULT_WEIGHTING)
    return params


def check_counter_params(params: dict) -> dict:
    """Raise a one-line ``TypeError`` naming the keywords that are not counting
    parameters of :class:`WindowCounter`; ``params`` back."""
    unknown = set(params) - set(_COUNTER_KEYS)
    if unknown:
        raise InputTypeError(f"unexpected keyword argument(s): {sorted(unknown)}.")
    return params


def _codes_in_memory(memory: int) -> int:
    """Bytes of token codes the first pass keeps in memory (4 per token); the
    rest is spooled to a temporary file until the counting pass reads it."""
    return int(memory) // 4


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


def params_record(
    counting: dict, options: ReadingOptions, selection: dict | None = None
) -> dict:
    """The params record of a build: the counting parameters, how the files
    were read (``reading``: tokenizer, lowercasing, column, encoding errors)
    and how the vocabulary was made (``vocabulary``: counted with
    ``min_count``/``max_size``, or given), so that ``cooc info`` shows what
    it takes to redo the build; and the documents mode when it is not the
    default ``"line"``."""
    out = dict(counting)
    out["reading"] = options.record()
    if selection is not None:
        out["vocabulary"] = dict(selection)
    if options.documents != "line":
        out["documents"] = options.documents
    return out


def vocabulary_selection(vocabulary, min_count, max_size) -> dict:
    """How a build's vocabulary was chosen (given, or counted), for its record."""
    if vocabulary is not None:
        return {"source": "given", "size": len(vocabulary)}
    return {"source": "counted", "min_count": int(min_count), "max_size": max_size}


def _empty_corpus_error(paths) -> ValueError:
    names = source_names(paths)
    shown = ", ".join(names[:3]) + (
        f" and {len(names) - 3} more" if len(names) > 3 else ""
    )
    return EmptyCorpusError.no_tokens(f"{shown} hold(s)")


def count_files(
    paths,
    vocabulary,
    min_count,
    max_size,
    options: ReadingOptions,
    params: dict,
    progress,
    *,
    on_update=None,
    codes_memory=None,
    max_line=None,
):
    """Count the files into a new :class:`WindowCounter`; return it and the
    vocabulary.

    The files are tokenized and coded once, in compiled code
    (:mod:`cooc.tokenstream`); without a vocabulary the codes are kept (in
    memory up to ``codes_memory``, by default a quarter of ``memory``, spooled
    to a temporary file beyond) and mapped to word ids for counting once the
    vocabulary is known. ``on_update(counter)`` runs after every part counted.
    A document longer than ``max_line`` bytes (by default 1/16 of
    ``memory``: :func:`cooc.corpus.max_line_bytes`) is refused.
    """

    read = options.keywords()

    def tell(stage):
        # A stage starts when it is told so (0 tokens), not at its first block.
        if progress is None:
            return None
        progress(stage, 0)
        return lambda n: progress(stage, n)

    n_jobs = params.get("n_jobs")
    memory = params.get("memory") or DEFAULT_MEMORY
    read["max_line"] = max_line_bytes(memory) if max_line is None else max_line
    phrases = options.phrases
    if vocabulary is not None:
        # One pass: the vocabulary's table is read by every thread.
        step = tell("counting")
        counter = _new_counter(vocabulary, params)
        table = TokenTable.from_tokens(vocabulary.tokens)
        plan = None if phrases is None else _phrase_plan(phrases, table)
        n_words = len(vocabulary)

        def count(part):
            codes, offsets = part.codes, part.offsets
            if plan is not None:  # (phrase words beyond the vocabulary: -1)
                codes, offsets = phrases.join_codes(codes, offsets, plan)
                codes = np.where(codes < n_words, codes, -1).astype(np.int32)
            counter.update(codes, offsets)
            if on_update is not None:
                on_update(counter)
            if step is not None:
                step(part.n_tokens)

        scan_corpus(
            paths,
            **read,
            n_jobs=n_jobs,
            table=table,
            on_part=count,
        )
        return counter, vocabulary

    if codes_memory is None:
        codes_memory = _codes_in_memory(memory)
    keep = EncodedCorpus(codes_memory)
    try:
        step = tell("vocabulary")
        tables = scan_corpus(paths, **read, n_jobs=n_jobs, keep=keep, progress=step)
        remaps = merge_tables(tables)
        if keep.n_tokens == 0:
            raise _empty_corpus_error(paths)
        plan = None
        if phrases is not None:
            # The words are counted again with the phrases joined (the
            # kernel is cheap, so the counting pass joins them again).
            plan = _phrase_plan(phrases, tables[0])
            counts = np.zeros(len(tables[0]), np.int64)
            for part in keep:
                codes, _ = phrases.join_codes(
                    remaps[part.table][part.codes], part.offsets, plan
                )
                counts += np.bincount(codes, minlength=counts.shape[0])
            tables[0].count[: counts.shape[0]] = counts
        vocabulary, entries = vocabulary_from_table(
            tables[0], min_count=min_count, max_size=max_size
        )
        word_of = np.full(len(tables[0]), -1, dtype=np.int32)
        word_of[entries] = np.arange(len(entries), dtype=np.int32)
        maps = [word_of[r] for r in remaps]
        tables = None
        if plan is None:
            remaps = word_of = None
        step = tell("counting")
        counter = _new_counter(vocabulary, params)
        for part in keep:
            if plan is None:
                counter.update(maps[part.table][part.codes], part.offsets)
            else:
                codes, offsets = phrases.join_codes(
                    remaps[part.table][part.codes], part.offsets, plan
                )
                counter.update(word_of[codes], offsets)
            if on_update is not None:
                on_update(counter)
            if step is not None:
                step(part.n_tokens)
    finally:
        keep.close()
    return counter, vocabulary


def _phrase_plan(phrases, table: TokenTable) -> tuple:
    """Add the phrase table's words to ``table`` (count 0 when new) and return
    the joining plan over the table's entries."""
    entries = table.merge(TokenTable.from_tokens(list(phrases.words)))
    return phrases.plan(entries, len(table))


def _new_counter(vocabulary, params) -> WindowCounter:
    return WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        **params,
    )


def _finish(counter, vocabulary, progress) -> CoocMatrix:
    if progress is not None:
        progress("merging", 0)
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
    check_counter_params(params)
    if isinstance(documents, (str, bytes)):
        raise InputTypeError(
            "documents must be an iterable of documents, not a single string."
        )
    documents = list(documents)
    chunks = list(
        chunks_from_documents(documents, tokenizer=tokenizer, lowercase=lowercase)
    )
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
    window_size: int = DEFAULT_WINDOW,
    weighting: str = DEFAULT_WEIGHTING,
    documents: str = "line",
    phrases=None,
    **params,
) -> CoocMatrix:
    """Count window co-occurrences of corpus files, streaming in bounded chunks.

    Two passes when no ``vocabulary`` is given (count words, then pairs); one
    otherwise. ``progress(stage, n_tokens)`` is called after every chunk.
    Other keyword arguments are those of :class:`WindowCounter`; the window
    and the weighting default to ``DEFAULT_WINDOW`` (15) and
    ``DEFAULT_WEIGHTING`` (``power``, ``1/d**1.25``) here, as in ``cooc build``.
    ``documents`` (``"line"``, ``"paragraph"`` or ``"file"``) says what a
    document of a plain-text file is (see :func:`cooc.corpus.iter_documents`);
    pairs never cross documents. A mode other than ``"line"`` is recorded in
    the result's ``params``. ``phrases`` (a phrase TSV written by ``cooc
    phrases``, a DataFrame with ``word1, word2[, pass]`` or a
    :class:`cooc.phrasetable.PhraseTable`) are joined into single tokens
    (``new_york``) before anything is counted, so the vocabulary and the
    counts hold the joined tokens; the table's SHA-256 is recorded in
    ``params["reading"]["phrases"]``.
    """
    params["window_size"] = window_size
    params["weighting"] = weighting
    check_counter_params(params)
    if vocabulary is None:
        check_vocabulary_params(min_count, max_size)
    options = ReadingOptions(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
        phrases=as_phrase_table(phrases),
    )
    options.check_paths(paths)
    selection = vocabulary_selection(vocabulary, min_count, max_size)
    counter, vocabulary = count_files(
        paths, vocabulary, min_count, max_size, options, params, progress
    )
    out = _finish(counter, vocabulary, progress)
    out.params = params_record(out.params, options, selection)
    out.stats["sources"] = source_names(paths)
    return out
