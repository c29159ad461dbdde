"""Joint co-occurrence of words and visual words for paired text and images.

Each item is a text, an image, or both. One square matrix over the union
vocabulary (the words, then the visual words ``vw:0``, ``vw:1``, ...) holds
three blocks:

* word × word: window co-occurrences within each text (:class:`WindowCounter`);
* word × visual word: every token × every visual word of the same item (and
  its transpose);
* visual word × visual word: every pair of distinct patches of one image, or
  only the pairs of spatial neighbours (grid positions within Chebyshev
  distance ``spatial_radius``).

:func:`count_joint_blocks` returns the three blocks as exact integer counts
(:class:`JointCounts`); :func:`count_joint` combines them with block weights;
:func:`build_joint` starts from raw texts and returns a
:class:`~cooc.cooccurrence.CoocMatrix`; :class:`JointEmbedding` adds PPMI and
truncated SVD, so that words and visual words live in one space, and maps
texts and images to vectors in it.

Exactness
---------
The blocks are integer counts (the text block in units of ``1 / scale``, see
:func:`cooc.cooccurrence.window_weights`), so counting the items in shards and
summing the blocks (:func:`merge_joint_counts`) gives the whole bit for bit,
for any ``n_jobs``. Weights apply only when the blocks are combined.
"""

from __future__ import annotations

import logging
import math
import operator
from functools import reduce
from numbers import Integral, Real
from typing import ClassVar, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from cooc import _kernels as K
from cooc._compat import Interval, StrOptions, check_is_fitted, fit_context
from cooc.cooccurrence import WEIGHTINGS, CoocMatrix, WindowCounter, check_corpus
from cooc.corpus import TOKENIZERS, chunks_from_documents
from cooc.errors import InputError, InputTypeError
from cooc.parallel import block_map, n_threads
from cooc.pipeline import embed_cooccurrence
from cooc.vectors import Embeddings
from cooc.vocab import Vocabulary, build_vocabulary

__all__ = [
    "VISUAL_PREFIX",
    "JointCounts",
    "JointEmbedding",
    "build_joint",
    "count_joint",
    "count_joint_blocks",
    "joint_vocabulary",
    "merge_joint_counts",
]

logger = logging.getLogger(__name__)

VISUAL_PREFIX = "vw:"  # visual word i is the token "vw:i"

# Spatial counting: pair words per thread buffer (8 bytes each, 8 more of sort
# scratch when it is spilled) and the smallest slice of patches per thread.
_SPATIAL_BUFFER = 1 << 20
_MIN_PATCHES_PER_THREAD = 1 << 14


# -- blocks ---------------------------------------------------------------------------
class JointCounts(NamedTuple):
    """The three blocks of a joint co-occurrence matrix, as exact integer counts.

    Attributes
    ----------
    text : scipy.sparse.csr_matrix of int64, shape (n_words, n_words)
        Window counts of the texts in units of ``1 / scale``.
    cross : scipy.sparse.csr_matrix of int64, shape (n_words, n_visual)
        Token × visual word counts within items.
    visual : scipy.sparse.csr_matrix of int64, shape (n_visual, n_visual)
        Counts of (ordered) pairs of distinct patches within images.
    scale : int
        Denominator of the text block.
    """

    text: sp.csr_matrix
    cross: sp.csr_matrix
    visual: sp.csr_matrix
    scale: int

    def combine(
        self, *, text_weight=1.0, cross_weight=1.0, visual_weight=1.0
    ) -> sp.csr_matrix:
        """The joint matrix ``[[tw T / scale, cw X], [cw X.T, vw V]]``, float64 CSR.

        Shape ``(n_words + n_visual, n_words + n_visual)``, words first.
        """
        for name, value in (
            ("text_weight", text_weight),
            ("cross_weight", cross_weight),
            ("visual_weight", visual_weight),
        ):
            _check_weight(name, value)
        text = self.text.astype(np.float64)
        text.data /= self.scale
        text.data *= text_weight
        cross = self.cross.astype(np.float64)
        cross.data *= cross_weight
        visual = self.visual.astype(np.float64)
        visual.data *= visual_weight
        out = sp.bmat([[text, cross], [cross.T, visual]], format="csr")
        out = sp.csr_matrix(out, dtype=np.float64)
        out.eliminate_zeros()
        out.sort_indices()
        return out


def merge_joint_counts(parts) -> JointCounts:
    """Sum the :class:`JointCounts` of shards of one collection of items, exactly."""
    parts = list(parts)
    if not parts:
        raise InputError("merge_joint_counts needs at least one JointCounts.")
    first = parts[0]
    for part in parts[1:]:
        if part.scale != first.scale or part.cross.shape != first.cross.shape:
            raise InputError(
                f"cannot merge joint counts of shape {part.cross.shape} and scale "
                f"{part.scale} with shape {first.cross.shape} and scale {first.scale}; "
                "count every shard with the same vocabularies and window."
            )
    blocks = [
        _sorted_csr(reduce(operator.add, (p[i] for p in parts))) for i in range(3)
    ]
    return JointCounts(*blocks, first.scale)


def _sorted_csr(matrix):
    out = sp.csr_matrix(matrix, dtype=np.int64)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def _check_weight(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InputError(f"{name}={value!r} must be a finite number >= 0, e.g. 1.0.")


def _check_n(name, value):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InputError(f"{name}={value!r} must be a positive int (vocabulary size).")
    return int(value)


def _check_visual(visual_ids, visual_offsets, n_visual, visual_positions):
    """Coerce the visual items: int32 codes, int64 offsets, int64 positions or None."""
    codes = np.asarray(visual_ids)
    if codes.ndim != 1 or not (codes.size == 0 or codes.dtype.kind in "iu"):
        raise InputTypeError(
            f"visual_ids must be a 1-d integer array, got dtype {codes.dtype} "
            f"ndim {codes.ndim}."
        )
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    offsets = np.ascontiguousarray(visual_offsets, dtype=np.int64)
    if (
        offsets.ndim != 1
        or offsets.shape[0] < 1
        or offsets[0] != 0
        or offsets[-1] != codes.shape[0]
        or np.any(np.diff(offsets) < 0)
    ):
        raise InputError(
            "visual_offsets must be non-decreasing, start at 0 and end at "
            f"len(visual_ids) ({codes.shape[0]})."
        )
    if codes.size and (codes.min() < 0 or codes.max() >= n_visual):
        raise InputError(
            f"visual_ids must lie in [0, {n_visual}); got range "
            f"[{codes.min()}, {codes.max()}]; pass n_visual = the codebook size."
        )
    positions = None
    if visual_positions is not None:
        positions = np.asarray(visual_positions)
        if positions.shape != (codes.shape[0], 2) or not (
            positions.size == 0 or positions.dtype.kind in "iu"
        ):
            raise InputError(
                f"visual_positions must be integer (row, col) pairs of shape "
                f"({codes.shape[0]}, 2), got {positions.dtype} {positions.shape}."
            )
        positions = positions.astype(np.int64)
    return codes, offsets, positions


def _item_counts(ids, offsets, n_cols) -> sp.csr_matrix:
    """Item × id counts, int64 CSR ``(n_items, n_cols)``; ids ``< 0`` are dropped."""
    n_items = offsets.shape[0] - 1
    items = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(offsets))
    keep = ids >= 0
    out = sp.csr_matrix(
        (
            np.ones(int(keep.sum()), dtype=np.int64),
            (items[keep], ids[keep].astype(np.int64)),
        ),
        shape=(n_items, n_cols),
    )
    out.sum_duplicates()
    return out


def _count_spatial(codes, offsets, positions, n_visual, radius, n_threads):
    """Counts of ordered neighbour pairs ``(codes[p], codes[q])``, int64 CSR."""
    n = codes.shape[0]
    key_bits = max(1, (n_visual * n_visual - 1).bit_length())
    if key_bits + 1 > 62:
        raise InputError(f"n_visual={n_visual!r} is too large to count pairs.")
    sizes = np.diff(offsets)
    items = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)
    order = np.lexsort((positions[:, 1], positions[:, 0], items))
    codes = np.ascontiguousarray(codes[order])
    rows = np.ascontiguousarray(positions[order, 0])
    cols = np.ascontiguousarray(positions[order, 1])
    cap = _SPATIAL_BUFFER + int(sizes.max(initial=0)) + 1
    weights = np.array([0, 1], dtype=np.int64)
    n_parts = max(1, min(n_threads, n // _MIN_PATCHES_PER_THREAD))
    cuts = [n * t // n_parts for t in range(n_parts + 1)]

    def count_part(pos, end):
        buffers = [np.empty(cap, dtype=np.int64)]
        stack = K.RunStack()
        while pos < end:
            pos, n_buf = K.count_spatial_pairs(
                codes, offsets, rows, cols, radius, pos, end, n_visual, buffers[0], 0
            )
            stack.add_buffer(buffers, 0, n_buf, weights, 1, key_bits)
        return stack.take()

    blocks = [(cuts[t], cuts[t + 1]) for t in range(n_parts)]
    parts = block_map(count_part, blocks, n_threads=n_threads)
    runs = [run for part in parts for run in part]
    del parts
    K.merge_down(runs)  # integer sums: the merge order does not matter
    if runs:
        keys, vals = runs[0]
    else:
        keys = vals = np.empty(0, dtype=np.int64)
    indptr = np.searchsorted(keys, np.arange(n_visual + 1, dtype=np.int64) * n_visual)
    indices = (keys % n_visual).astype(np.int32)
    out = sp.csr_matrix((vals, indices, indptr), shape=(n_visual, n_visual))
    out.has_sorted_indices = True
    return out


def count_joint_blocks(
    word_ids,
    word_offsets,
    n_words,
    visual_ids,
    visual_offsets,
    n_visual,
    *,
    visual_positions=None,
    window_size=5,
    weighting="harmonic",
    spatial_radius=None,
    n_jobs=None,
) -> JointCounts:
    """The word × word, word × visual word and visual × visual blocks, exactly.

    Parameters
    ----------
    word_ids : array of int, shape (n_tokens,)
        Word ids of all texts in ``[0, n_words)``; ``-1`` marks an
        out-of-vocabulary token (dropped before windowing and counting).
    word_offsets : array of int, shape (n_items + 1,)
        Item ``i``'s text is ``word_ids[word_offsets[i]:word_offsets[i + 1]]``
        (empty when the item has no text).
    n_words : int
        Word vocabulary size.
    visual_ids : array of int, shape (n_patches,)
        Visual word of every patch of all images, in ``[0, n_visual)``.
    visual_offsets : array of int, shape (n_items + 1,)
        Item ``i``'s patches are ``visual_ids[visual_offsets[i]:visual_offsets[i + 1]]``
        (empty when the item has no image).
    n_visual : int
        Number of visual words (codebook size).
    visual_positions : array of int, shape (n_patches, 2), default=None
        Grid position ``(row, col)`` of every patch; needed for ``spatial_radius``.
    window_size : int, default=5
        Window of the word × word block.
    weighting : {"harmonic", "power", "uniform", "linear"}, default="harmonic"
        Distance weighting of the word × word block (see
        :func:`cooc.cooccurrence.window_weights`; ``power`` is ``1/d**1.25``).
    spatial_radius : int or None, default=None
        None pairs every two distinct patches of an image; ``r`` only those at
        Chebyshev distance ``<= r`` on the grid.
    n_jobs : int or None, default=None
        Threads (None: all cores). The result does not depend on it.

    Returns
    -------
    JointCounts
        ``text`` ``(n_words, n_words)`` in units of ``1 / scale``, ``cross``
        ``(n_words, n_visual)`` and ``visual`` ``(n_visual, n_visual)``, all
        int64 CSR with sorted indices.

    Notes
    -----
    ``cross = Dt.T @ Dv`` and, without space, ``visual = Dv.T @ Dv - diag(n_v)``
    where ``Dt`` and ``Dv`` are the item × word and item × visual word counts and
    ``n_v`` the number of patches of visual word ``v``: a visual word seen ``c``
    times in an image pairs with itself ``c * (c - 1)`` times. Both are integer
    sparse products (scipy), exact. The spatial block is counted by a numba
    kernel over patches sorted by grid position, in ``O(n_patches * k)`` for
    ``k`` patches within ``2 r + 1`` grid rows.

    Examples
    --------
    >>> from cooc.multimodal import count_joint_blocks
    >>> blocks = count_joint_blocks([0, 1, 0], [0, 3], 2, [0, 0, 1], [0, 3], 2,
    ...                             window_size=1, weighting="uniform")
    >>> blocks.cross.toarray()
    array([[4, 2],
           [2, 1]])
    >>> blocks.visual.toarray()
    array([[2, 2],
           [2, 0]])
    """
    n_words = _check_n("n_words", n_words)
    n_visual = _check_n("n_visual", n_visual)
    word_ids, word_offsets = check_corpus(word_ids, word_offsets, n_words)
    codes, visual_offsets, positions = _check_visual(
        visual_ids, visual_offsets, n_visual, visual_positions
    )
    if word_offsets.shape[0] != visual_offsets.shape[0]:
        raise InputError(
            f"word_offsets describe {word_offsets.shape[0] - 1} items but "
            f"visual_offsets {visual_offsets.shape[0] - 1}; give every item an "
            "entry in both (an empty range when a modality is missing)."
        )
    if spatial_radius is not None:
        if (
            isinstance(spatial_radius, bool)
            or not isinstance(spatial_radius, Integral)
            or spatial_radius < 0
        ):
            raise InputError(
                f"spatial_radius={spatial_radius!r} must be an int >= 0 or None."
            )
        if positions is None:
            raise InputError(
                "spatial_radius needs visual_positions (the (row, col) grid "
                "position of every patch); pass them or set spatial_radius=None."
            )
    counter = WindowCounter(
        n_words, window_size=window_size, weighting=weighting, n_jobs=n_jobs
    )
    text, scale = counter.update(word_ids, word_offsets).result_counts()
    words = _item_counts(word_ids, word_offsets, n_words)
    visual = _item_counts(codes, visual_offsets, n_visual)
    cross = words.T.tocsr() @ visual
    if spatial_radius is None:
        totals = np.asarray(visual.sum(axis=0)).ravel()
        pairs = visual.T.tocsr() @ visual - sp.diags(
            totals, format="csr", dtype=np.int64
        )
    else:
        pairs = _count_spatial(
            codes,
            visual_offsets,
            positions,
            n_visual,
            int(spatial_radius),
            n_threads(n_jobs),
        )
    return JointCounts(
        _sorted_csr(text), _sorted_csr(cross), _sorted_csr(pairs), int(scale)
    )


def count_joint(
    word_ids,
    word_offsets,
    n_words,
    visual_ids,
    visual_offsets,
    n_visual,
    *,
    visual_positions=None,
    window_size=5,
    weighting="harmonic",
    spatial_radius=None,
    text_weight=1.0,
    cross_weight=1.0,
    visual_weight=1.0,
    n_jobs=None,
) -> sp.csr_matrix:
    """Joint co-occurrence matrix over words and visual words, words first.

    The parameters are those of :func:`count_joint_blocks` plus the block
    weights; the result is
    ``[[text_weight * T / scale, cross_weight * X], [cross_weight * X.T,
    visual_weight * V]]``.

    Returns
    -------
    counts : scipy.sparse.csr_matrix of float64, shape (n, n)
        Symmetric, ``n = n_words + n_visual``.

    Examples
    --------
    >>> from cooc.multimodal import count_joint
    >>> count_joint([0, 1], [0, 2, 2], 2, [0], [0, 0, 1], 1,
    ...             weighting="uniform", cross_weight=0.5).toarray()
    array([[0., 1., 0.],
           [1., 0., 0.],
           [0., 0., 0.]])
    """
    blocks = count_joint_blocks(
        word_ids,
        word_offsets,
        n_words,
        visual_ids,
        visual_offsets,
        n_visual,
        visual_positions=visual_positions,
        window_size=window_size,
        weighting=weighting,
        spatial_radius=spatial_radius,
        n_jobs=n_jobs,
    )
    return blocks.combine(
        text_weight=text_weight, cross_weight=cross_weight, visual_weight=visual_weight
    )


# -- vocabulary and raw texts ---------------------------------------------------
def joint_vocabulary(vocabulary, n_visual, visual_counts=None) -> Vocabulary:
    """The union vocabulary: the words, then ``"vw:0"`` ... ``"vw:{n_visual - 1}"``.

    The ``word`` tokenizer never yields a colon, so visual tokens cannot collide
    with words; a word starting with ``"vw:"`` (whitespace tokenizer,
    pre-tokenized input) raises a ValueError.

    Parameters
    ----------
    vocabulary : cooc.vocab.Vocabulary
        The words.
    n_visual : int
        Number of visual words.
    visual_counts : array of int, shape (n_visual,), default=None
        Patches per visual word; None means zeros.

    Returns
    -------
    Vocabulary
        Counts are the word counts then the visual-word counts.

    Examples
    --------
    >>> from cooc.vocab import Vocabulary
    >>> from cooc.multimodal import joint_vocabulary
    >>> joint_vocabulary(Vocabulary(["cat"], [3]), 2, [5, 1]).tokens
    ['cat', 'vw:0', 'vw:1']
    """
    n_visual = _check_n("n_visual", n_visual)
    clash = next((t for t in vocabulary.tokens if t.startswith(VISUAL_PREFIX)), None)
    if clash is not None:
        raise InputError(
            f"word {clash!r} starts with {VISUAL_PREFIX!r}, the visual-word prefix; "
            "use tokenizer='word' or rename such tokens."
        )
    if visual_counts is None:
        visual_counts = np.zeros(n_visual, dtype=np.int64)
    visual_counts = np.asarray(visual_counts)
    if visual_counts.shape != (n_visual,):
        raise InputError(
            f"visual_counts has shape {visual_counts.shape}; expected ({n_visual},)."
        )
    tokens = list(vocabulary.tokens) + [f"{VISUAL_PREFIX}{i}" for i in range(n_visual)]
    counts = np.concatenate([vocabulary.counts, visual_counts.astype(np.int64)])
    return Vocabulary(tokens, counts)


def _check_texts(texts, name):
    if isinstance(texts, (str, bytes)):
        raise InputTypeError(
            f"{name} expects a sequence of texts (str, token list or None), got a "
            "single string; wrap it in a list."
        )
    if getattr(texts, "ndim", 1) != 1:
        raise InputTypeError(f"{name} expects a 1-D sequence of texts.")
    return [
        "" if t is None or (isinstance(t, float) and math.isnan(t)) else t
        for t in texts
    ]


def encode_texts(texts, vocabulary, *, tokenizer, lowercase, min_count=1):
    """Tokenize texts; return ``(vocabulary, ids int32, offsets int64)``.

    ``texts`` are strings or token lists (one item each; see
    :func:`cooc.corpus.chunks_from_documents`), ``ids`` the word ids of all
    their tokens (``-1`` out of the vocabulary) and ``offsets`` the item
    bounds in them. ``vocabulary`` None builds one from the texts with
    ``min_count``.
    """
    chunks = list(
        chunks_from_documents(texts, tokenizer=tokenizer, lowercase=lowercase)
    )
    if vocabulary is None:
        vocabulary = build_vocabulary(chunks, min_count=min_count)
    ids = [vocabulary.encode_chunk(c) for c in chunks]
    offsets = [np.zeros(1, dtype=np.int64)]
    start = 0
    for c in chunks:
        offsets.append(c.offsets[1:] + start)
        start += c.n_tokens
    ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int32)
    return vocabulary, ids.astype(np.int32, copy=False), np.concatenate(offsets)


def build_joint(
    texts,
    visual_codes,
    visual_offsets,
    *,
    visual_positions=None,
    n_visual=None,
    vocabulary=None,
    min_count=1,
    tokenizer="word",
    lowercase=True,
    window_size=5,
    weighting="harmonic",
    spatial_radius=None,
    text_weight=1.0,
    cross_weight=1.0,
    visual_weight=1.0,
    n_jobs=None,
) -> CoocMatrix:
    """Joint co-occurrence matrix of paired texts and images.

    Parameters
    ----------
    texts : sequence of (str, list of str or None), length n_items
        The texts; None (or NaN, or "") for an item without text.
    visual_codes : array of int, shape (n_patches,)
        Visual word of every patch (e.g. the codes of ``VisualWords.encode``).
    visual_offsets : array of int, shape (n_items + 1,)
        Image boundaries in ``visual_codes``; an item without image is empty.
    visual_positions : array of int, shape (n_patches, 2), default=None
        Grid ``(row, col)`` of every patch, for ``spatial_radius``.
    n_visual : int, default=None
        Codebook size; None means ``visual_codes.max() + 1``.
    vocabulary : cooc.vocab.Vocabulary, default=None
        Word vocabulary; None builds one from ``texts`` with ``min_count``.
    min_count : int, default=1
        Words seen fewer times are out of vocabulary.
    tokenizer : {"word", "whitespace"}, default="word"
    lowercase : bool, default=True
    window_size, weighting, spatial_radius : see :func:`count_joint_blocks`
    text_weight, cross_weight, visual_weight, n_jobs : see :func:`count_joint`

    Returns
    -------
    CoocMatrix
        Over :func:`joint_vocabulary`; ``params`` records the window, the block
        weights, ``spatial_radius``, ``n_words``, ``n_visual`` and ``scale``.

    Notes
    -----
    :meth:`CoocMatrix.integer_counts` and :func:`cooc.cooccurrence.merge` are
    exact only when the block weights are integers; otherwise merge the
    :func:`count_joint_blocks` of the shards with :func:`merge_joint_counts`.

    Examples
    --------
    >>> from cooc.multimodal import build_joint
    >>> cooc = build_joint(["a cat", None], [0, 1, 1], [0, 1, 3], window_size=2)
    >>> cooc.vocabulary.tokens, cooc.shape
    (['a', 'cat', 'vw:0', 'vw:1'], (4, 4))
    """
    texts = _check_texts(texts, "build_joint")
    vocabulary, ids, offsets = encode_texts(
        texts,
        vocabulary,
        tokenizer=tokenizer,
        lowercase=lowercase,
        min_count=min_count,
    )
    codes = np.asarray(visual_codes)
    if n_visual is None:
        n_visual = int(codes.max()) + 1 if codes.size else 1
    return _joint_cooc(
        vocabulary,
        ids,
        offsets,
        codes,
        visual_offsets,
        n_visual,
        visual_positions=visual_positions,
        window_size=window_size,
        weighting=weighting,
        spatial_radius=spatial_radius,
        text_weight=text_weight,
        cross_weight=cross_weight,
        visual_weight=visual_weight,
        n_jobs=n_jobs,
    )


def _joint_cooc(vocabulary, ids, offsets, codes, visual_offsets, n_visual, **params):
    weights = {
        k: params.pop(k) for k in ("text_weight", "cross_weight", "visual_weight")
    }
    blocks = count_joint_blocks(
        ids, offsets, len(vocabulary), codes, visual_offsets, n_visual, **params
    )
    matrix = blocks.combine(**weights)
    codes = np.asarray(codes, dtype=np.int64)
    joint = joint_vocabulary(
        vocabulary, n_visual, np.bincount(codes, minlength=n_visual)
    )
    visual_offsets = np.asarray(visual_offsets)
    record = {
        "window_size": int(params["window_size"]),
        "weighting": params["weighting"],
        "symmetric": True,
        "spatial_radius": params["spatial_radius"],
        **{k: float(v) for k, v in weights.items()},
        "n_words": len(vocabulary),
        "n_visual": int(n_visual),
        "scale": blocks.scale,
    }
    stats = {
        "n_items": int(offsets.shape[0] - 1),
        "n_texts": int(np.count_nonzero(np.diff(offsets))),
        "n_images": int(np.count_nonzero(np.diff(visual_offsets))),
        "n_tokens": int(ids.shape[0]),
        "n_oov": int(np.count_nonzero(ids < 0)),
        "n_patches": int(codes.shape[0]),
    }
    logger.info(
        "joint co-occurrence: %d words + %d visual words, %d non-zeros",
        len(vocabulary),
        n_visual,
        matrix.nnz,
    )
    return CoocMatrix(matrix, joint, record, stats)


# -- estimator -----------------------------------------------------------------------
def _visual_arrays(visual, n_visual):
    """``(codes, offsets, positions or None, n_visual)`` from codes or a BoVW matrix."""
    if isinstance(visual, (tuple, list)):
        if len(visual) not in (2, 3):
            raise InputError(
                "visual must be (codes, offsets), (codes, offsets, positions) or a "
                f"BoVW count matrix; got a sequence of {len(visual)} items."
            )
        codes = np.asarray(visual[0])
        offsets = np.asarray(visual[1], dtype=np.int64)
        positions = visual[2] if len(visual) == 3 else None
        if n_visual is None:
            n_visual = int(codes.max()) + 1 if codes.size else 1
        return codes, offsets, positions, int(n_visual)
    if sp.issparse(visual) or (isinstance(visual, np.ndarray) and visual.ndim == 2):
        bovw = sp.csr_matrix(visual)
        bovw.sum_duplicates()
        data = bovw.data
        if data.size and (data.min() < 0 or not np.array_equal(data, np.round(data))):
            raise InputError(
                "a BoVW matrix must hold non-negative integer counts (not TF-IDF "
                "or normalised histograms); pass the counts of VisualWords.transform."
            )
        if n_visual is not None and bovw.shape[1] != n_visual:
            raise InputError(
                f"the BoVW matrix has {bovw.shape[1]} columns; expected "
                f"n_visual={n_visual}."
            )
        counts = data.astype(np.int64)
        codes = np.repeat(bovw.indices.astype(np.int32), counts)
        offsets = np.zeros(bovw.shape[0] + 1, dtype=np.int64)
        np.cumsum(
            np.asarray(bovw.sum(axis=1)).ravel().astype(np.int64), out=offsets[1:]
        )
        return codes, offsets, None, int(bovw.shape[1])
    raise InputTypeError(
        "visual must be a tuple (codes, offsets[, positions]) as returned by "
        "VisualWords.encode, or a sparse BoVW count matrix; got "
        f"{type(visual).__name__}."
    )


class JointEmbedding(TransformerMixin, BaseEstimator):
    """One vector space for words and visual words, learnt from paired items.

    ``fit`` counts the joint co-occurrences of the items' texts and images
    (:func:`build_joint`), weights them by PPMI and takes a truncated SVD
    (:func:`cooc.pipeline.embed_cooccurrence`). Words and visual words then
    share one space: the visual words nearest to "cat", the words nearest to
    an image. A text maps to the (TF-IDF) weighted mean of its word vectors, an
    image to that of its visual words, so an item with one modality still gets
    a vector; a missing modality gives a row of NaN.

    Parameters
    ----------
    n_components : int, default=100
        Dimensions; must be < ``n_words + n_visual``.
    window_size : int, default=5
        Window of the word × word block.
    weighting : {"harmonic", "power", "uniform", "linear"}, default="harmonic"
        Distance weighting of the word × word block (see
        :func:`cooc.cooccurrence.window_weights`; ``power`` is ``1/d**1.25``).
    spatial_radius : int or None, default=None
        Pair only patches within this Chebyshev grid distance (needs
        positions); None pairs every two patches of an image.
    text_weight, cross_weight, visual_weight : float, default=1.0
        Weights of the word × word, word × visual word and visual × visual
        blocks.
    min_count : int, default=1
        Words seen fewer times are left out.
    n_visual : int or None, default=None
        Codebook size; None takes the BoVW width or ``codes.max() + 1``.
    context_alpha : float, default=0.75
        PPMI context smoothing.
    shift : float, default=1.0
        PPMI shift ``k``.
    power : float, default=0.5
        Eigenvalue weighting of the SVD.
    pooling : {"tfidf", "mean"}, default="tfidf"
        Item vectors: IDF-weighted or plain mean of word (visual word) vectors.
    normalize : bool, default=True
        Scale item vectors to unit length.
    tokenizer : {"word", "whitespace"}, default="word"
    lowercase : bool, default=True
    random_state : int, RandomState or None, default=None
        Seed of the randomized SVD.
    n_jobs : int or None, default=None
        Counting threads (None: all cores). Results do not depend on it.

    Attributes
    ----------
    embeddings_ : cooc.svd.Embeddings
        Unit vectors of the words, then of the visual words ``vw:0``, ...
    vocabulary_ : cooc.vocab.Vocabulary
        The joint vocabulary (see :func:`joint_vocabulary`).
    n_words_ : int
        Number of words (the first rows of ``embeddings_``).
    n_visual_ : int
        Number of visual words.
    idf_ : ndarray of shape (n_words_ + n_visual_,)
        Smoothed inverse document frequencies, over items with text for words
        and over items with an image for visual words (ones for ``"mean"``).
    singular_values_ : ndarray of shape (n_components,)
    n_features_out_ : int

    See Also
    --------
    build_joint : The co-occurrence matrix alone.
    cooc.vectorizers.DocumentVectorizer : Text-only document vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.multimodal import JointEmbedding
    >>> texts = ["red apple", "green leaf", "red rose", "green grass"] * 5
    >>> codes = np.array([0, 0, 2, 1, 1, 3, 0, 2, 2, 1, 3, 3] * 5)
    >>> offsets = np.arange(0, 61, 3)
    >>> model = JointEmbedding(4, random_state=0).fit(texts, visual=(codes, offsets))
    >>> model.similar_visual_words("red", k=2)[0][0] in ("vw:0", "vw:2")
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "window_size": [Interval(Integral, 1, 255, closed="both")],
        "weighting": [StrOptions(set(WEIGHTINGS))],
        "spatial_radius": [Interval(Integral, 0, None, closed="left"), None],
        "text_weight": [Interval(Real, 0, None, closed="left")],
        "cross_weight": [Interval(Real, 0, None, closed="left")],
        "visual_weight": [Interval(Real, 0, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "n_visual": [Interval(Integral, 1, None, closed="left"), None],
        "context_alpha": [Interval(Real, 0, 1, closed="both")],
        "shift": [Interval(Real, 0, None, closed="neither")],
        "power": [Interval(Real, 0, None, closed="left")],
        "pooling": [StrOptions({"tfidf", "mean"})],
        "normalize": ["boolean"],
        "tokenizer": [StrOptions(set(TOKENIZERS))],
        "lowercase": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components=100,
        *,
        window_size=5,
        weighting="harmonic",
        spatial_radius=None,
        text_weight=1.0,
        cross_weight=1.0,
        visual_weight=1.0,
        min_count=1,
        n_visual=None,
        context_alpha=0.75,
        shift=1.0,
        power=0.5,
        pooling="tfidf",
        normalize=True,
        tokenizer="word",
        lowercase=True,
        random_state=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.window_size = window_size
        self.weighting = weighting
        self.spatial_radius = spatial_radius
        self.text_weight = text_weight
        self.cross_weight = cross_weight
        self.visual_weight = visual_weight
        self.min_count = min_count
        self.n_visual = n_visual
        self.context_alpha = context_alpha
        self.shift = shift
        self.power = power
        self.pooling = pooling
        self.normalize = normalize
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.random_state = random_state
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, texts, y=None, *, visual):
        """Learn the joint embeddings of paired items.

        Parameters
        ----------
        texts : sequence of (str, list of str or None), length n_items
            None for items without text.
        y : None
            Ignored.
        visual : tuple or sparse matrix
            ``(codes, offsets)`` or ``(codes, offsets, positions)`` as from
            ``VisualWords.encode`` (offsets of length ``n_items + 1``; an empty
            range for items without image), or a BoVW count matrix of shape
            ``(n_items, n_visual)``.

        Returns
        -------
        self : JointEmbedding
        """
        texts = _check_texts(texts, type(self).__name__)
        codes, offsets, positions, n_visual = _visual_arrays(visual, self.n_visual)
        if offsets.shape[0] - 1 != len(texts):
            raise InputError(
                f"{len(texts)} texts but {offsets.shape[0] - 1} images; pass one "
                "entry per item in both (None / an empty range when missing)."
            )
        if self.spatial_radius is not None and positions is None:
            raise InputError(
                f"spatial_radius={self.spatial_radius!r} needs patch positions; "
                "pass visual=(codes, offsets, positions) or spatial_radius=None."
            )
        vocab, ids, word_offsets = encode_texts(
            texts,
            None,
            tokenizer=self.tokenizer,
            lowercase=self.lowercase,
            min_count=self.min_count,
        )
        cooc = _joint_cooc(
            vocab,
            ids,
            word_offsets,
            codes,
            offsets,
            n_visual,
            visual_positions=positions,
            window_size=self.window_size,
            weighting=self.weighting,
            spatial_radius=self.spatial_radius,
            text_weight=self.text_weight,
            cross_weight=self.cross_weight,
            visual_weight=self.visual_weight,
            n_jobs=self.n_jobs,
        )
        seed = check_random_state(self.random_state).randint(0, 2**31 - 1)
        self.embeddings_, self.singular_values_ = embed_cooccurrence(
            cooc,
            self.n_components,
            context_alpha=self.context_alpha,
            shift=self.shift,
            power=self.power,
            random_state=int(seed),
        )
        self.vocabulary_ = cooc.vocabulary
        self.n_words_ = len(vocab)
        self.n_visual_ = n_visual
        if self.pooling == "tfidf":
            idf = []
            for counts in (
                _item_counts(ids, word_offsets, self.n_words_),
                _item_counts(np.asarray(codes, np.int32), offsets, n_visual),
            ):
                n_items = np.count_nonzero(np.diff(counts.indptr))
                df = np.bincount(counts.indices, minlength=counts.shape[1])
                idf.append(np.log((1 + n_items) / (1 + df)) + 1.0)
            self.idf_ = np.concatenate(idf)
        else:
            self.idf_ = np.ones(self.n_words_ + n_visual)
        self.n_features_out_ = self.embeddings_.dim
        return self

    def _pool(self, counts, start):
        """Weighted mean of the vectors of rows ``start + j`` for the counts of
        ``(n, n_j)`` CSR ``counts``; NaN where a row has no count."""
        stop = start + counts.shape[1]
        weights = sp.csr_matrix(counts.multiply(self.idf_[None, start:stop]))
        totals = np.asarray(weights.sum(axis=1)).ravel()
        out = np.asarray(
            weights @ self.embeddings_.vectors[start:stop].astype(np.float64)
        )
        empty = totals == 0
        out[~empty] /= totals[~empty, None]
        out[empty] = np.nan
        return self._finish(out)

    def _finish(self, out):
        if self.normalize:
            norms = np.linalg.norm(out, axis=1)
            ok = norms > 0
            out[ok] /= norms[ok, None]
        return out.astype(np.float32)

    def transform_text(self, texts):
        """Text vectors in the joint space.

        Parameters
        ----------
        texts : sequence of (str, list of str or None)

        Returns
        -------
        ndarray of float32, shape (n_items, n_components)
            NaN rows for texts with no known word (and for None).
        """
        check_is_fitted(self)
        texts = _check_texts(texts, type(self).__name__)
        _, ids, offsets = encode_texts(
            texts,
            self.vocabulary_,
            tokenizer=self.tokenizer,
            lowercase=self.lowercase,
        )
        ids[ids >= self.n_words_] = -1  # a "vw:i" token in pre-tokenized input
        return self._pool(_item_counts(ids, offsets, self.n_words_), 0)

    def transform_images(self, visual):
        """Image vectors in the joint space.

        Parameters
        ----------
        visual : tuple or sparse matrix
            ``(codes, offsets[, positions])`` or a BoVW count matrix of shape
            ``(n_items, n_visual_)``.

        Returns
        -------
        ndarray of float32, shape (n_items, n_components)
            NaN rows for items without patches.
        """
        check_is_fitted(self)
        codes, offsets, _, _ = _visual_arrays(visual, self.n_visual_)
        codes, offsets, _ = _check_visual(codes, offsets, self.n_visual_, None)
        return self._pool(_item_counts(codes, offsets, self.n_visual_), self.n_words_)

    def transform(self, texts, visual=None):
        """Item vectors: the mean of the text and image vectors an item has.

        Parameters
        ----------
        texts : sequence of (str, list of str or None), length n_items
        visual : tuple or sparse matrix, default=None
            As in :meth:`fit`; None uses the texts only.

        Returns
        -------
        ndarray of float32, shape (n_items, n_components)
            NaN rows for items with neither a known word nor a patch.
        """
        out = self.transform_text(texts).astype(np.float64)
        if visual is None:
            return out.astype(np.float32)
        images = self.transform_images(visual).astype(np.float64)
        if images.shape[0] != out.shape[0]:
            raise InputError(
                f"{out.shape[0]} texts but {images.shape[0]} images; pass one entry "
                "per item in both."
            )
        both = np.stack([out, images])
        present = ~np.isnan(both[:, :, 0])
        n_present = present.sum(axis=0)
        mean = np.where(present[:, :, None], both, 0.0).sum(axis=0)
        mean[n_present > 0] /= n_present[n_present > 0, None]
        mean[n_present == 0] = np.nan
        return self._finish(mean)

    def fit_transform(self, texts, y=None, *, visual):
        """Fit, then return :meth:`transform` of the training items."""
        return self.fit(texts, y, visual=visual).transform(texts, visual)

    def _block(self, visual):
        """The words' (``visual=False``) or visual words' embeddings."""
        cut = slice(self.n_words_, None) if visual else slice(0, self.n_words_)
        emb = self.embeddings_
        return Embeddings(emb.tokens[cut], emb.vectors[cut])

    def similar_visual_words(self, word, k=10):
        """The ``k`` visual words nearest to ``word``: list of (``"vw:i"``, cosine)."""
        check_is_fitted(self)
        return self._block(True).most_similar(self.embeddings_[word], k=k)

    def similar_words_to_image(self, image, k=10):
        """The ``k`` words nearest to an image.

        Parameters
        ----------
        image : sparse matrix of shape (1, n_visual_) or array of shape (n_visual_,)
            The image's BoVW counts.
        k : int, default=10

        Returns
        -------
        list of (str, float)
            Words and cosine similarities, best first.
        """
        check_is_fitted(self)
        row = sp.csr_matrix(image if sp.issparse(image) else np.atleast_2d(image))
        if row.shape != (1, self.n_visual_):
            raise InputError(
                f"image must be one BoVW row of {self.n_visual_} counts; got shape "
                f"{row.shape}."
            )
        vector = self.transform_images(row)[0]
        if np.isnan(vector).any():
            raise InputError("the image has no visual word; nothing to compare.")
        return self._block(False).most_similar(vector, k=k)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray(
            [f"jointembedding{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
