"""Vectors for words outside the vocabulary, from their character n-grams.

A word is seen as the character n-grams of ``<word>`` (``<`` and ``>`` mark
its start and end; characters, not bytes, so ``"é"`` is one), each hashed
into one of ``buckets`` buckets by 32-bit FNV-1a over its UTF-8 bytes. The
word's n-gram row ``x`` is the mean of its n-grams' indicator vectors (a
bucket counts as often as its n-grams occur). :func:`fit_subwords` learns a
linear map from these rows to the words' unit vectors ``W``, in one of two
ways, both kept in dual form so that nothing of size ``buckets`` is stored:

* ``"centroid"`` (the default): a bucket's vector is the mean unit vector of
  the vocabulary words that have it, and a word's estimate the mean over its
  n-grams: ``estimate(q) = x_q D⁻¹ Bᵀ W`` with ``B`` the words' 0/1 bucket
  indicators and ``D`` the buckets' word counts. Nothing is fitted beyond
  the vectors themselves, so nothing but the parameters is stored.
* ``"ridge"``: ridge regression from ``x`` to ``W`` over the vocabulary,
  ``weights = (X Xᵀ + alpha I)⁻¹ W`` by conjugate gradients and
  ``estimate(q) = x_q Xᵀ weights``; the ``(n_words, dim)`` weights are stored.

``X`` and ``B`` (n_words × buckets) are rebuilt from the tokens by the same
deterministic hash whenever a model is loaded. The in-vocabulary vectors are
never changed.

This module sits below :mod:`cooc.vectors` (which stores a model with the
vectors and answers ``emb["unseen"]`` with it), so it imports only numpy,
cooc's errors and, inside functions, scipy's sparse matrices.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from numbers import Integral, Real

import numpy as np

from cooc.errors import InputError, InputTypeError
from cooc.parallel import block_map, n_threads, row_cuts

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BUCKETS",
    "DEFAULT_MAX_N",
    "DEFAULT_METHOD",
    "DEFAULT_MIN_N",
    "METHODS",
    "SUBWORD_ARRAYS",
    "SubwordModel",
    "fit_subwords",
    "fnv1a_32",
    "ngram_buckets",
    "sidecar_path",
    "solve_ridge_dual",
    "word_ngrams",
]

DEFAULT_MIN_N = 3
DEFAULT_MAX_N = 6
DEFAULT_BUCKETS = 2_000_000
# The ridge penalty: the best all-pairs rho on WS353 and MEN of a 1M-token
# slice of the shared corpus (0.001 to 100 tried), and 3x faster to solve than
# 0.1, which held-out rare words preferred by a little (README, "Subword
# vectors"). Centroids are the default: as good there, better on held-out
# words, and one sparse product instead of tens.
DEFAULT_ALPHA = 1.0
DEFAULT_METHOD = "centroid"
METHODS = ("centroid", "ridge")
# Conjugate-gradient steps: 5 scored as 30 on the shared corpus (MEN all-pairs
# rho 0.6790 against 0.6792 on the whole corpus; equal within 0.001 at 1M
# tokens) at a sixth of the time; the early stop regularizes too.
DEFAULT_MAX_ITER = 5
DEFAULT_TOL = 1e-3
# Longest n-gram allowed, in characters.
MAX_NGRAM = 32

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_HASH_NAME = "fnv1a32-utf8"
_FORMAT = "cooc-subwords"
_VERSION = 1
# The .npz members of a stored model (inside .npz vectors, or the sidecar
# ``<output>.subwords.npz`` of word2vec files).
SUBWORD_ARRAYS = (
    "subword_weights",
    "subword_params",
    "subword_rare_tokens",
    "subword_rare_offsets",
    "subword_rare_vectors",
)
# Right-hand-side columns solved together (bounds the (n_ngrams, block)
# intermediate of the products).
_BLOCK = 128


# -- n-grams and their hash ------------------------------------------------------
def word_ngrams(word: str, min_n: int = DEFAULT_MIN_N, max_n: int = DEFAULT_MAX_N):
    """The character n-grams of ``<word>``, ``min_n <= n <= max_n``, by n then
    position (repeats kept).

    >>> word_ngrams("cat")
    ['<ca', 'cat', 'at>', '<cat', 'cat>', '<cat>']
    """
    marked = f"<{word}>"
    return [
        marked[i : i + n]
        for n in range(min_n, max_n + 1)
        for i in range(len(marked) - n + 1)
    ]


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a of ``data`` (offset basis 2166136261, prime 16777619).

    >>> fnv1a_32(b"a")
    3826002220
    """
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _ngram_hashes(words, min_n, max_n):
    """``(owner, hashes, n_ngrams)``: for every n-gram of every word, the word's
    index (int64) and its FNV-1a hash (uint64 holding 32 bits), and the number
    of n-grams of each word. Vectorized over all words at once."""
    n_words = len(words)
    marked = [f"<{w}>" for w in words]
    lengths = np.fromiter((len(m) for m in marked), dtype=np.int64, count=n_words)
    text = "".join(marked)
    # Each character's UTF-8 length (lone surrogates: 3 bytes, as surrogatepass).
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    widths = (
        1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    )
    blob = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    byte_at = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(widths, out=byte_at[1:])
    starts = np.zeros(n_words, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    owners, hashes = [], []
    counts = np.zeros(n_words, dtype=np.int64)
    for n in range(min_n, max_n + 1):
        per_word = np.maximum(lengths - n + 1, 0)
        total = int(per_word.sum())
        if total == 0:
            continue
        counts += per_word
        owner = np.repeat(np.arange(n_words, dtype=np.int64), per_word)
        first = np.cumsum(per_word) - per_word
        pos = np.arange(total, dtype=np.int64) - np.repeat(first - starts, per_word)
        lo, hi = byte_at[pos], byte_at[pos + n]
        h = np.full(total, _FNV_OFFSET, dtype=np.uint64)
        size = hi - lo
        for j in range(int(size.max())):
            live = size > j
            h[live] ^= blob[lo[live] + j]
            h[live] = (h[live] * _FNV_PRIME) & 0xFFFFFFFF
        owners.append(owner)
        hashes.append(h)
    if not owners:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64), counts
    return np.concatenate(owners), np.concatenate(hashes), counts


def ngram_buckets(words, min_n=DEFAULT_MIN_N, max_n=DEFAULT_MAX_N,
                  buckets=DEFAULT_BUCKETS):  # fmt: skip
    """The bucket of every n-gram of each word: ``(indptr, bucket_ids)``, CSR style.

    Word ``k``'s buckets are ``bucket_ids[indptr[k]:indptr[k + 1]]`` (int64,
    ``fnv1a_32(ngram.encode()) % buckets``, in no particular order).
    """
    _check_params(min_n, max_n, buckets)
    owner, hashes, counts = _ngram_hashes(list(words), min_n, max_n)
    order = np.argsort(owner, kind="stable")
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, (hashes[order] % np.uint64(buckets)).astype(np.int64)


def _check_params(min_n, max_n, buckets, alpha=None, method=DEFAULT_METHOD):
    for name, value, low in (("min_n", min_n, 1), ("max_n", max_n, 1),
                             ("buckets", buckets, 1)):  # fmt: skip
        if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
            raise InputError(f"{name}={value!r} must be an integer >= {low}.")
    if not min_n <= max_n <= MAX_NGRAM:
        raise InputError(
            f"min_n={min_n!r}, max_n={max_n!r}: need min_n <= max_n <= {MAX_NGRAM}."
        )
    if buckets > 1 << 32:
        raise InputError(f"buckets={buckets!r} must be <= 2**32 (a 32-bit hash).")
    if alpha is not None and (
        not isinstance(alpha, Real)
        or isinstance(alpha, bool)
        or not math.isfinite(alpha)
        or alpha <= 0
    ):
        raise InputError(f"alpha={alpha!r} must be a finite number > 0.")
    if method not in METHODS:
        raise InputError(f"method={method!r} must be one of {list(METHODS)}.")


def _vocabulary_digest(tokens) -> str:
    """SHA-256 of the tokens in order (each one's UTF-8 length, then its bytes)."""
    h = hashlib.sha256()
    for token in tokens:
        data = token.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


# -- the model ------------------------------------------------------------------------
class SubwordModel:
    """A fitted map from character n-grams to word vectors (see the module).

    Made by :func:`fit_subwords`; stored with the vectors by
    :meth:`cooc.vectors.Embeddings.save` and read back by ``load``.

    Parameters
    ----------
    tokens : sequence of str
        The vocabulary the model was fitted on, in the vectors' row order.
    weights : ndarray of shape (n_words, dim)
        ``"ridge"``: the dual weights; ``"centroid"``: the unit word vectors.
    method : {"centroid", "ridge"}, default="centroid"
    min_n, max_n : int, default=3, 6
        The n-gram lengths, in characters of ``<word>``.
    buckets : int, default=2_000_000
        The number of hash buckets.
    alpha : float, default=1.0
        The ridge penalty the weights were solved with (metadata).

    Attributes
    ----------
    dim : int
    n_words : int
    """

    def __init__(self, tokens, weights, *, method=DEFAULT_METHOD,
                 min_n=DEFAULT_MIN_N, max_n=DEFAULT_MAX_N, buckets=DEFAULT_BUCKETS,
                 alpha=DEFAULT_ALPHA, rare_tokens=(), rare_vectors=None):  # fmt: skip
        if alpha is None:
            raise InputError("alpha=None must be a finite number > 0.")
        _check_params(min_n, max_n, buckets, alpha, method)
        weights = np.asarray(weights, dtype=np.float32)
        tokens = list(tokens)
        if weights.ndim != 2 or weights.shape[0] != len(tokens):
            raise InputError(
                f"weights must have shape ({len(tokens)}, dim), got {weights.shape}."
            )
        if not np.isfinite(weights).all():
            raise InputError("weights hold NaN or an infinite value.")
        self.tokens = tokens
        self.weights = weights
        self.method = method
        self.min_n, self.max_n = int(min_n), int(max_n)
        self.buckets = int(buckets)
        self.alpha = float(alpha)
        self._design = None  # (used buckets, the (n_buckets, n_words) map)
        self.rare_tokens, self.rare_vectors = _check_rare(
            rare_tokens, rare_vectors, weights.shape[1], tokens
        )
        self._rare_index = {t: i for i, t in enumerate(self.rare_tokens)}

    @property
    def dim(self) -> int:
        return self.weights.shape[1]

    @property
    def n_words(self) -> int:
        return self.weights.shape[0]

    @property
    def n_rare(self) -> int:
        """Number of words below the vocabulary's cut-off with a stored vector."""
        return len(self.rare_tokens)

    def with_rare_words(self, tokens, vectors) -> SubwordModel:
        """A copy of the model that also answers ``tokens`` (words outside the
        vocabulary, seen too rarely to be in it) with ``vectors`` (made by
        :func:`cooc.pipeline.fold_in_words` from their co-occurrence counts);
        they replace any earlier rare words."""
        return SubwordModel(
            self.tokens, self.weights, method=self.method, min_n=self.min_n,
            max_n=self.max_n, buckets=self.buckets, alpha=self.alpha,
            rare_tokens=tokens, rare_vectors=vectors,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"SubwordModel(method={self.method!r}, n_words={self.n_words}, "
            f"dim={self.dim}, min_n={self.min_n}, max_n={self.max_n}, "
            f"buckets={self.buckets}, n_rare={self.n_rare})"
        )

    def params(self) -> dict:
        """The model's settings, as stored in ``subword_params``."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "hash": _HASH_NAME,
            "method": self.method,
            "min_n": self.min_n,
            "max_n": self.max_n,
            "buckets": self.buckets,
            "alpha": self.alpha,
            "n_words": self.n_words,
            "dim": self.dim,
            "vocabulary_sha256": _vocabulary_digest(self.tokens),
            "n_rare": self.n_rare,
        }

    def _map(self):
        """``(used, M)``: the buckets of the vocabulary (sorted) and the CSR
        (len(used), n_words) matrix taking a bucket row to the weights' rows
        (``Xᵀ`` for ridge, ``D⁻¹ Bᵀ`` for centroids); built once."""
        if self._design is None:
            used, x = _ngram_rows(self.tokens, self.min_n, self.max_n, self.buckets)
            self._design = used, _bucket_map(x, self.method)
        return self._design

    def estimate(self, words) -> np.ndarray:
        """Vectors for ``words`` from their n-grams: ndarray (n, dim) float32.

        A word none of whose n-grams occurs in the vocabulary gets a zero row.
        Vocabulary words get their fitted value too (not their own vector:
        :class:`~cooc.vectors.Embeddings` answers those).
        """
        if isinstance(words, str):
            raise InputTypeError(
                f"words must be a list of words, got the single string {words!r}."
            )
        words = [str(w) for w in words]
        rare = np.fromiter(
            (self._rare_index.get(w, -1) for w in words), np.int64, len(words)
        )
        out = np.zeros((len(words), self.dim), dtype=np.float32)
        found = rare >= 0
        if found.any():
            out[found] = self.rare_vectors[rare[found]]
        rest = np.flatnonzero(~found)
        if len(rest):
            used, bucket_map = self._map()
            _, query = _ngram_rows(
                [words[i] for i in rest], self.min_n, self.max_n, self.buckets, used
            )
            # Each bucket's vector once (a common n-gram such as "ing>" has
            # thousands of words), then the queries' means of them.
            import scipy.sparse as sp

            cols, inverse = np.unique(query.indices, return_inverse=True)
            query = sp.csr_matrix(
                (query.data, inverse.ravel(), query.indptr),
                shape=(query.shape[0], len(cols)),
            )
            vectors = _threaded_product(bucket_map[cols], self.weights)
            out[rest] = _threaded_product(query.astype(np.float32), vectors)
        return out

    def covers(self, word) -> bool:
        """True if ``word`` is a stored rare word or one of its n-grams is in
        the vocabulary's buckets."""
        if str(word) in self._rare_index:
            return True
        used, _ = self._map()
        _, query = _ngram_rows([str(word)], self.min_n, self.max_n, self.buckets, used)
        return bool(query.nnz)

    # -- storage
    def to_arrays(self) -> dict:
        """The ``.npz`` members: ``subword_params`` (a 0-d unicode array
        holding JSON) and, for ridge, ``subword_weights`` (float32 (n_words,
        dim)); a centroid model's weights are the unit vectors, rebuilt."""
        arrays = {"subword_params": np.array(json.dumps(self.params(), sort_keys=True))}
        if self.method == "ridge":
            arrays["subword_weights"] = self.weights
        if self.n_rare:
            data, offsets = _pack(self.rare_tokens)
            arrays["subword_rare_tokens"] = data
            arrays["subword_rare_offsets"] = offsets
            # half precision: cosines move by about 1e-3, the file by half
            arrays["subword_rare_vectors"] = self.rare_vectors.astype(np.float16)
        return arrays

    @classmethod
    def from_arrays(cls, arrays, tokens, vectors, name="subwords") -> SubwordModel:
        """The model stored in ``arrays`` (see :meth:`to_arrays`), checked
        against the vectors it belongs to (``tokens``, ``vectors``); an
        InputError in one line naming ``name`` otherwise."""
        tokens = list(tokens)
        dim = vectors.shape[1]
        raw = arrays.get("subword_params")
        if raw is None:
            raise InputError(f"{name}: missing array 'subword_params'.")
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise InputError(
                f"{name}: 'subword_params' must be a JSON string, got {raw.dtype} "
                f"{raw.shape}."
            )
        try:
            params = json.loads(str(raw))
        except ValueError as exc:
            raise InputError(f"{name}: 'subword_params' is not JSON ({exc}).") from None
        if not isinstance(params, dict) or params.get("format") != _FORMAT:
            raise InputError(f"{name}: 'subword_params' is not a cooc subword model.")
        if params.get("version") != _VERSION or params.get("hash") != _HASH_NAME:
            raise InputError(
                f"{name}: subword model version {params.get('version')!r} / hash "
                f"{params.get('hash')!r}; this cooc reads version {_VERSION}, "
                f"{_HASH_NAME}."
            )
        method = params.get("method")
        if method not in METHODS:
            raise InputError(
                f"{name}: subword method {method!r}; expected one of {list(METHODS)}."
            )
        if params.get("n_words") != len(tokens) or params.get("dim") != dim:
            raise InputError(
                f"{name}: the subword model is for {params.get('n_words')!r} words x "
                f"{params.get('dim')!r} dimensions; the vectors have {len(tokens)} x "
                f"{dim}."
            )
        if params.get("vocabulary_sha256") != _vocabulary_digest(tokens):
            raise InputError(
                f"{name}: the subword model was fitted on another vocabulary than "
                "these vectors'; refit it (cooc embed --subwords)."
            )
        if method == "ridge":
            weights = arrays.get("subword_weights")
            if weights is None:
                raise InputError(f"{name}: missing array 'subword_weights'.")
            if weights.dtype != np.float32 or weights.shape != (len(tokens), dim):
                raise InputError(
                    f"{name}: 'subword_weights' must be float32 of shape "
                    f"({len(tokens)}, {dim}) to match the vectors, got "
                    f"{weights.dtype} {weights.shape}."
                )
            if not np.isfinite(weights).all():
                raise InputError(
                    f"{name}: 'subword_weights' holds NaN or an infinite value."
                )
        else:
            weights = _unit(vectors)
        rare_tokens, rare_vectors = _read_rare(arrays, params, dim, name)
        try:
            return cls(
                tokens,
                weights,
                method=method,
                min_n=params.get("min_n"),
                max_n=params.get("max_n"),
                buckets=params.get("buckets"),
                alpha=params.get("alpha"),
                rare_tokens=rare_tokens,
                rare_vectors=rare_vectors,
            )
        except ValueError as exc:
            raise InputError(f"{name}: bad subword model parameters: {exc}") from None


def _threaded_product(a, b):
    """``a @ b`` (CSR times dense float32) in row blocks on every core
    (scipy's sparse products release the GIL); float32."""
    b = np.ascontiguousarray(b, dtype=np.float32)
    a = a.astype(np.float32)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
    threads = n_threads()
    cuts = row_cuts(a, 4 * threads)

    def block(lo, hi):
        out[lo:hi] = a[lo:hi] @ b

    block_map(block, itertools.pairwise(cuts.tolist()), n_threads=threads)
    return out


def _pack(tokens):
    """Tokens as their UTF-8 bytes (uint8) and int64 offsets (n + 1)."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def _check_rare(tokens, vectors, dim, vocabulary):
    """``(list of str, float32 unit rows)`` of a model's rare words, checked."""
    tokens = list(tokens)
    if vectors is None:
        if tokens:
            raise InputError(f"{len(tokens)} rare words but no rare_vectors.")
        return [], np.zeros((0, dim), dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(tokens), dim):
        raise InputError(
            f"rare_vectors must have shape ({len(tokens)}, {dim}), got {vectors.shape}."
        )
    if not np.isfinite(vectors).all():
        raise InputError("rare_vectors hold NaN or an infinite value.")
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise InputTypeError(f"rare words must be non-empty str, got {token!r}.")
    if len(set(tokens)) != len(tokens):
        raise InputError("rare words must be unique.")
    if tokens and not set(tokens).isdisjoint(vocabulary):
        both = next(t for t in tokens if t in set(vocabulary))
        raise InputError(f"rare word {both!r} is in the vocabulary already.")
    return tokens, _unit(vectors)


def _read_rare(arrays, params, dim, name):
    """The rare words of a stored model (see :meth:`SubwordModel.to_arrays`)."""
    n_rare = params.get("n_rare", 0)
    if isinstance(n_rare, bool) or not isinstance(n_rare, int) or n_rare < 0:
        raise InputError(f"{name}: 'n_rare' must be an integer >= 0, got {n_rare!r}.")
    members = ("subword_rare_tokens", "subword_rare_offsets", "subword_rare_vectors")
    present = [m for m in members if m in arrays]
    if n_rare == 0:
        if present:
            raise InputError(f"{name}: n_rare is 0 but {present[0]!r} is stored.")
        return [], None
    if len(present) != len(members):
        missing = next(m for m in members if m not in arrays)
        raise InputError(f"{name}: missing array {missing!r}.")
    data, offsets, vectors = (arrays[m] for m in members)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise InputError(f"{name}: 'subword_rare_tokens' must be 1-D uint8 bytes.")
    if (
        offsets.dtype != np.int64
        or offsets.shape != (n_rare + 1,)
        or offsets[0] != 0
        or offsets[-1] != len(data)
        or (np.diff(offsets) <= 0).any()
    ):
        raise InputError(
            f"{name}: 'subword_rare_offsets' must be {n_rare + 1} increasing int64 "
            f"offsets from 0 to {len(data)}."
        )
    if vectors.dtype != np.float16 or vectors.shape != (n_rare, dim):
        raise InputError(
            f"{name}: 'subword_rare_vectors' must be float16 of shape ({n_rare}, "
            f"{dim}), got {vectors.dtype} {vectors.shape}."
        )
    raw = data.tobytes()
    try:
        tokens = [
            raw[a:b].decode("utf-8")
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: a rare word is not UTF-8 ({exc}).") from None
    return tokens, vectors


def _unit(vectors):
    """float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


def _bucket_map(x, method):
    """The (n_buckets, n_words) CSR map of :meth:`SubwordModel._map`."""
    import scipy.sparse as sp  # (about 0.25 s: only when a model is used)

    if method == "ridge":
        return x.T.tocsr()
    b = x.T.tocsr()
    b.data[:] = 1.0
    counts = np.diff(b.indptr)
    return sp.diags(1.0 / np.maximum(counts, 1)) @ b


def sidecar_path(path) -> str:
    """Where the subword model of word2vec vectors ``path`` is kept:
    ``<path>.subwords.npz``."""
    return os.fspath(path) + ".subwords.npz"


def _ngram_rows(words, min_n, max_n, buckets, used=None):
    """``(used, X)``: the sorted buckets that occur, and the CSR (n_words,
    len(used)) float64 matrix of mean n-gram indicators over them. With
    ``used`` given, n-grams outside it are left out (the row is still divided
    by the word's full n-gram count)."""
    import scipy.sparse as sp  # (about 0.25 s: only when a model is used)

    owner, hashes, counts = _ngram_hashes(words, min_n, max_n)
    bucket = (hashes % np.uint64(buckets)).astype(np.int64)
    if used is None:
        used, column = np.unique(bucket, return_inverse=True)
        keep = slice(None)
    else:
        column = np.searchsorted(used, bucket)
        column = np.minimum(column, max(len(used) - 1, 0))
        keep = used[column] == bucket if len(used) else np.zeros(len(bucket), bool)
        column, owner = column[keep], owner[keep]
    values = 1.0 / np.maximum(counts, 1)[owner]
    x = sp.csr_matrix((values, (owner, column)), shape=(len(words), max(len(used), 1)))
    x.sum_duplicates()
    return used, x


# -- fitting --------------------------------------------------------------------------
def solve_ridge_dual(x, targets, alpha, *, max_iter=DEFAULT_MAX_ITER,
                     tol=DEFAULT_TOL):  # fmt: skip
    """``(X Xᵀ + alpha I)⁻¹ targets`` by conjugate gradients, a block of columns
    at a time, with the products ``X (Xᵀ P)`` kept sparse (``X`` CSR).

    Each column stops when its residual falls below ``tol`` times its
    right-hand side's norm, or after ``max_iter`` steps. Jacobi-preconditioned
    (the diagonal of ``X Xᵀ`` is each word's squared row norm). The sparse
    products run in float32 (2.7x faster than float64 on the shared corpus),
    the iterates and their sums in float64. Returns float64
    ``(n_words, n_columns)``.
    """
    x32 = x.astype(np.float32)
    xt = x32.T.tocsr()

    def product(p):
        return x32 @ (xt @ p.astype(np.float32)) + alpha * p

    diag = np.asarray(x.multiply(x).sum(axis=1)).ravel() + alpha
    inv_diag = (1.0 / diag)[:, None]
    targets = np.asarray(targets, dtype=np.float64)
    out = np.zeros_like(targets)
    for start in range(0, targets.shape[1], _BLOCK):
        b = targets[:, start : start + _BLOCK]
        sol = b * inv_diag  # the preconditioner's answer as the start
        r = b - product(sol)
        z = r * inv_diag
        p = z.copy()
        rz = np.einsum("ij,ij->j", r, z)
        goal = (tol * np.linalg.norm(b, axis=0)) ** 2
        for _ in range(max_iter):
            if (np.einsum("ij,ij->j", r, r) <= goal).all():
                break
            q = product(p)
            pq = np.einsum("ij,ij->j", p, q)
            step = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0)
            sol += p * step
            r -= q * step
            z = r * inv_diag
            rz_new = np.einsum("ij,ij->j", r, z)
            beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
            p = z + p * beta
            rz = rz_new
        out[:, start : start + _BLOCK] = sol
    return out


def fit_subwords(embeddings, *, method=DEFAULT_METHOD, min_n=DEFAULT_MIN_N,
                 max_n=DEFAULT_MAX_N, buckets=DEFAULT_BUCKETS, alpha=DEFAULT_ALPHA,
                 max_iter=DEFAULT_MAX_ITER, tol=DEFAULT_TOL):  # fmt: skip
    """Fit a :class:`SubwordModel` to word vectors; return them with it attached.

    Maps each vocabulary word's n-gram row (the mean of its hashed n-grams'
    indicators) to its unit vector (see the module docstring).

    Parameters
    ----------
    embeddings : cooc.vectors.Embeddings
        The vectors (wrap a gensim ``KeyedVectors`` with
        :func:`cooc.vectors.as_embeddings` first).
    method : {"centroid", "ridge"}, default="centroid"
        ``"centroid"``: n-gram vectors are the mean unit vectors of the words
        that have them (one sparse product, nothing stored but the settings).
        ``"ridge"``: ridge regression solved by conjugate gradients (the dual
        weights, ``n_words x dim`` float32, are stored).
    min_n, max_n : int, default=3, 6
        n-gram lengths in characters of ``<word>``.
    buckets : int, default=2_000_000
        Hash buckets (``fnv1a_32(utf8) % buckets``).
    alpha : float, default=1.0
        Ridge only: the penalty (larger: smoother estimates, faster solve).
    max_iter : int, default=5
        Ridge only: conjugate-gradient steps at most (an early stop: the
        exact solution scored the same on the shared corpus).
    tol : float, default=1e-3
        Ridge only: relative residual at which a column stops.

    Returns
    -------
    embeddings : Embeddings
        A new object with the same tokens and vectors (shared, unchanged)
        and ``subwords`` set to the fitted model.

    Notes
    -----
    Centroids: time O(nnz(X) * dim) for the first estimate, nnz(X) about 20
    n-grams a word. Ridge: O(max_iter * nnz(X) * dim); memory O(n_words *
    dim) plus one (n_ngrams, 128) block. The defaults were measured on the
    shared corpus (README, "Subword vectors").

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.vectors import Embeddings
    >>> from cooc.subwords import fit_subwords
    >>> emb = Embeddings(["walk", "walked", "talk", "talked"],
    ...                  np.array([[1, 0], [1, 0.2], [0, 1], [0.2, 1]]))
    >>> emb = fit_subwords(emb, buckets=1000)
    >>> "walking" in emb, emb.is_estimated("walking")
    (False, True)
    >>> emb.most_similar("walking", topn=1)[0][0]
    'walked'
    """
    with_subwords = getattr(embeddings, "with_subwords", None)
    if with_subwords is None:
        raise InputTypeError(
            f"embeddings must be cooc Embeddings, got {type(embeddings).__name__}; "
            "wrap gensim KeyedVectors with cooc.vectors.as_embeddings(kv) first."
        )
    _check_params(min_n, max_n, buckets, alpha, method)
    if not isinstance(max_iter, Integral) or isinstance(max_iter, bool) or max_iter < 0:
        raise InputError(f"max_iter={max_iter!r} must be an integer >= 0.")
    if not isinstance(tol, Real) or isinstance(tol, bool) or not tol >= 0:
        raise InputError(f"tol={tol!r} must be a number >= 0.")
    tokens = list(embeddings.tokens)
    targets = _unit(embeddings.vectors)
    if method == "ridge":
        _, x = _ngram_rows(tokens, min_n, max_n, buckets)
        weights = solve_ridge_dual(x, targets, alpha, max_iter=max_iter, tol=tol)
    else:
        weights = targets
    model = SubwordModel(
        tokens, weights, method=method, min_n=min_n, max_n=max_n, buckets=buckets,
        alpha=alpha,
    )  # fmt: skip
    return with_subwords(model)
