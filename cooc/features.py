"""Image features the user already has: per-image vectors and per-region arrays.

Another tool (a CNN, CLIP, a detector) may have described every item's image
already, as one vector per image, an array ``(n, d)``, or as one vector per
region, an array ``(n, r, d)``. :func:`check_features` and
:func:`read_features` validate such arrays; :class:`RegionWords` quantizes the
regions into visual words with the interface of
:class:`cooc.vision.VisualWords` (``fit``, ``transform``, ``encode`` with ids,
offsets and positions), so it can stand in for it in the joint counting and in
the fusion models; :class:`StandardizedVectors` turns per-image vectors into a
fusion block.

Large regions (``d > 256`` by default) are reduced by PCA to 64 components
before k-means (a plain codebook on a PCA reduction); product quantization
(``RegionWords(quantizer="pq")``: a small k-means per block of dimensions, the
word being the tuple of block codes) is the alternative in Python.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state

from cooc._compat import (
    Interval,
    StrOptions,
    check_is_fitted,
    fit_context,
    validate_data,
)
from cooc._output import sparse_output
from cooc.errors import InputError

__all__ = [
    "RegionWords",
    "StandardizedVectors",
    "check_features",
    "check_regions",
    "read_features",
]

#: Region size above which ``RegionWords(n_pca="auto")`` reduces by PCA.
AUTO_PCA_ABOVE = 256
#: Components kept by that reduction.
AUTO_PCA_COMPONENTS = 64


def check_features(features, name="features", *, ndim=(2, 3)):
    """``features`` as a C-contiguous float32 array, checked.

    Parameters
    ----------
    features : array-like
        Per-image ``(n, d)`` or per-region ``(n, r, d)`` numbers.
    name : str
        How the one-line error names the array (e.g. the file).
    ndim : tuple of int
        The accepted numbers of dimensions.

    Raises :class:`InputError` for a non-numeric (object, string, boolean,
    complex) array, another number of dimensions, an empty side, or a value
    that is not finite.
    """
    try:
        array = np.asarray(features)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: not an array of numbers ({exc}).") from None
    kind = array.dtype.kind
    if kind not in "iuf":
        raise InputError(
            f"{name}: expected real numbers (float or int), got dtype {array.dtype}."
        )
    shapes = " or ".join({2: "(n, d)", 3: "(n, r, d)", 1: "(d,)"}[k] for k in ndim)
    if array.ndim not in ndim:
        raise InputError(
            f"{name}: expected an array of shape {shapes}, got {array.ndim} "
            f"dimension(s) {array.shape}."
        )
    if 0 in array.shape:
        raise InputError(
            f"{name}: expected an array of shape {shapes} with every side >= 1, "
            f"got {array.shape}."
        )
    with np.errstate(over="ignore"):  # values beyond float32 become inf: refused
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.argmax(~np.isfinite(array).reshape(len(array), -1).all(axis=1)))
        raise InputError(
            f"{name}: row {bad} holds NaN or infinite values (or values too large "
            "for float32); every value must be finite."
        )
    return array


def read_features(path, *, key=None, ndim=(2, 3)):
    """The feature array of a ``.npy`` file, or of a ``.npz`` with one array
    (or the array ``key``), read without pickles and checked
    (:func:`check_features`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"features file {str(path)!r} does not exist.")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise InputError(f"{path}: expected a .npy (or .npz) array of features.")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                names = sorted(loaded.keys())
                if key is None and len(names) != 1:
                    raise InputError(
                        f"{path}: holds {len(names)} arrays {names}; expected one."
                    )
                if key is not None and key not in names:
                    raise InputError(f"{path}: no array {key!r} (found {names}).")
                loaded = loaded[key if key is not None else names[0]]
    except InputError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0].split(". ")[0] if str(exc) else ""
        reason = reason.rstrip(".") or type(exc).__name__
        raise InputError(
            f"{path}: not a readable array of numbers without pickles ({reason})."
        ) from None
    return check_features(loaded, str(path), ndim=ndim)


def check_regions(X, name="regions"):
    """Region arrays as ``(stacked (N, d) float32, offsets (n + 1,) int64)``.

    ``X`` is an array ``(n, r, d)`` or a sequence of ``(r_i, d)`` arrays
    (``r_i >= 1``, one ``d``).
    """
    if isinstance(X, np.ndarray) and X.ndim == 3:
        X = check_features(X, name, ndim=(3,))
        n, r, d = X.shape
        return X.reshape(n * r, d), np.arange(n + 1, dtype=np.int64) * r
    try:
        items = list(X)
    except TypeError:
        raise InputError(
            f"{name}: expected an array (n, r, d) or a list of (r, d) arrays, "
            f"got {type(X).__name__}."
        ) from None
    if not items:
        raise InputError(f"{name}: no items; expected at least one (r, d) array.")
    arrays = [check_features(a, f"{name}[{i}]", ndim=(2,)) for i, a in enumerate(items)]
    dims = {a.shape[1] for a in arrays}
    if len(dims) > 1:
        raise InputError(
            f"{name}: the region arrays have different sizes d {sorted(dims)}; "
            "expected one."
        )
    sizes = np.array([0] + [a.shape[0] for a in arrays], dtype=np.int64)
    return np.concatenate(arrays), np.cumsum(sizes)


class RegionWords(TransformerMixin, BaseEstimator):
    """Visual words of region features: a k-means codebook of the region vectors.

    The stand-in for :class:`cooc.vision.VisualWords` when every image comes
    as ``r`` region vectors of size ``d`` (CNN feature-map cells, CLIP patch
    tokens, detector boxes) instead of pixels. ``fit`` learns ``n_words``
    k-means centres (``sklearn.cluster.KMeans``) of the regions, after a PCA
    when ``d`` is large; ``transform`` counts the words of each item;
    :meth:`encode` gives the word of every region with offsets and positions,
    as ``VisualWords.encode`` does.

    Parameters
    ----------
    n_words : int, default=512
        Codebook size.
    n_pca : int, None or "auto", default="auto"
        PCA components before k-means; "auto" keeps 64 when ``d > 256`` and
        does no PCA otherwise (nor ever with ``quantizer="pq"``); None never
        does one.
    quantizer : {"kmeans", "pq"}, default="kmeans"
        "kmeans": one codebook of ``n_words`` centres. "pq": product
        quantization; the (PCA-reduced) vector is cut into ``n_subspaces``
        blocks of consecutive dimensions (``numpy.array_split``), each with
        its own k-means of ``k`` centres where ``k ** n_subspaces == n_words``,
        and the word of a region is the tuple of its block codes, numbered
        ``sum_i c_i * k ** (n_subspaces - 1 - i)``.
    n_subspaces : int, default=2
        Blocks of ``quantizer="pq"``.
    max_regions : int or None, default=200_000
        Learn from at most this many regions, sampled at random.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling, the PCA and k-means.

    Attributes
    ----------
    codebook_ : ndarray (n_words_, n_components), float32, or None
        None with ``quantizer="pq"``.
    kmeans_ : KMeans or None
        None with ``quantizer="pq"``.
    subspaces_, subquantizers_ : list
        With ``quantizer="pq"``: the ``(start, stop)`` columns and the
        k-means of each block.
    pca_ : PCA or None
    n_words_ : int
    n_features_in_ : int
        ``d``, the size of a region vector.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.features import RegionWords
    >>> rng = np.random.default_rng(0)
    >>> regions = rng.normal(size=(20, 6, 8)).astype(np.float32)
    >>> rw = RegionWords(4, random_state=0).fit(regions)
    >>> codes, offsets, positions = rw.encode(regions[:2])
    >>> codes.shape, offsets.tolist(), positions[:2].tolist()
    ((12,), [0, 6, 12], [[0, 0], [0, 1]])
    >>> rw.transform(regions[:2]).sum(axis=1).A.ravel().tolist()
    [6.0, 6.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_words": [Interval(Integral, 2, None, closed="left")],
        "n_pca": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "max_regions": [Interval(Integral, 1, None, closed="left"), None],
        "quantizer": [StrOptions({"kmeans", "pq"})],
        "n_subspaces": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_words=512,
        *,
        n_pca="auto",
        max_regions=200_000,
        quantizer="kmeans",
        n_subspaces=2,
        random_state=None,
    ):
        self.n_words = n_words
        self.n_pca = n_pca
        self.max_regions = max_regions
        self.quantizer = quantizer
        self.n_subspaces = n_subspaces
        self.random_state = random_state

    def _pq_size(self):
        """``k`` of ``quantizer="pq"``: ``k ** n_subspaces == n_words``."""
        m = self.n_subspaces
        k = round(self.n_words ** (1 / m))
        if k < 2 or k**m != self.n_words:
            raise InputError(
                f"quantizer='pq' needs n_words = k ** n_subspaces with k >= 2; "
                f"n_words={self.n_words} is not a power {m} (e.g. {max(k, 2) ** m})."
            )
        return k

    def _components(self, d):
        if self.n_pca == "auto" and self.quantizer == "pq":
            return None
        if self.n_pca == "auto":
            return AUTO_PCA_COMPONENTS if d > AUTO_PCA_ABOVE else None
        if self.n_pca is not None and self.n_pca > d:
            raise InputError(f"n_pca={self.n_pca} must be <= the region size d={d}.")
        return self.n_pca

    def _project(self, Z):
        if self.pca_ is None:
            return Z
        return self.pca_.transform(Z).astype(np.float32, copy=False)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the codebook from region arrays ``(n, r, d)`` (or a list of
        ``(r, d)`` arrays)."""
        Z, _ = check_regions(X)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if self.max_regions is not None and Z.shape[0] > self.max_regions:
            Z = Z[np.sort(rng.choice(Z.shape[0], self.max_regions, replace=False))]
        k_pq = self._pq_size() if self.quantizer == "pq" else None
        if k_pq is not None and Z.shape[1] < self.n_subspaces:
            raise InputError(
                f"n_subspaces={self.n_subspaces} must be <= the region size "
                f"d={Z.shape[1]}."
            )
        distinct = np.unique(Z, axis=0).shape[0]
        needed = self.n_words if k_pq is None else k_pq
        if distinct < needed:
            raise InputError(
                f"only {distinct} distinct regions to learn {needed} centres "
                f"(n_words={self.n_words}) from; lower n_words or pass more regions."
            )
        k = self._components(Z.shape[1])
        self.pca_ = None
        if k is not None:
            k = min(k, Z.shape[0])
            self.pca_ = PCA(n_components=k, random_state=seed).fit(Z)
        self.n_features_in_ = int(Z.shape[1])
        P = self._project(Z)
        if k_pq is not None:
            blocks = np.array_split(np.arange(P.shape[1]), self.n_subspaces)
            self.subspaces_ = [(int(b[0]), int(b[-1]) + 1) for b in blocks]
            for lo, hi in self.subspaces_:
                if np.unique(P[:, lo:hi], axis=0).shape[0] < k_pq:
                    raise InputError(
                        f"columns {lo}..{hi - 1} of the regions take fewer than "
                        f"{k_pq} distinct values; lower n_words or n_subspaces."
                    )
            self.subquantizers_ = [
                KMeans(k_pq, n_init=1, random_state=seed + i).fit(P[:, lo:hi])
                for i, (lo, hi) in enumerate(self.subspaces_)
            ]
            self.kmeans_ = None
            self.codebook_ = None
            self.n_words_ = int(k_pq**self.n_subspaces)
            return self
        self.kmeans_ = KMeans(self.n_words, n_init=1, random_state=seed).fit(P)
        self.codebook_ = self.kmeans_.cluster_centers_.astype(np.float32)
        self.n_words_ = int(self.codebook_.shape[0])
        return self

    def _quantize(self, P):
        if self.kmeans_ is not None:
            return self.kmeans_.predict(P).astype(np.int32)
        codes = np.zeros(P.shape[0], dtype=np.int64)
        for (lo, hi), sub in zip(self.subspaces_, self.subquantizers_, strict=True):
            codes = codes * sub.n_clusters + sub.predict(P[:, lo:hi])
        return codes.astype(np.int32)

    def _codes(self, X):
        check_is_fitted(self)
        Z, offsets = check_regions(X)
        if Z.shape[1] != self.n_features_in_:
            raise InputError(
                f"regions have d={Z.shape[1]} but RegionWords was fitted on "
                f"d={self.n_features_in_}; pass features from the same extractor."
            )
        return self._quantize(self._project(Z)), offsets

    def encode(self, X):
        """``(codes int32, offsets int64, positions (N, 2) int32)``: the word of
        every region, item after item; item ``i`` is
        ``codes[offsets[i]:offsets[i + 1]]``; positions are ``(0, j)`` for the
        ``j``-th region of its item (one row of regions)."""
        codes, offsets = self._codes(X)
        sizes = np.diff(offsets)
        first = np.repeat(offsets[:-1], sizes)
        positions = np.zeros((codes.shape[0], 2), dtype=np.int32)
        positions[:, 1] = np.arange(codes.shape[0]) - first
        return codes, offsets, positions

    def transform(self, X):
        """Word counts per item: a CSR float32 matrix ``(n, n_words_)`` whose
        rows sum to the regions of each item."""
        codes, offsets = self._codes(X)
        n = offsets.size - 1
        rows = np.repeat(np.arange(n), np.diff(offsets))
        counts = sp.csr_matrix(
            (np.ones(codes.shape[0], dtype=np.float32), (rows, codes)),
            shape=(n, self.n_words_),
        )
        counts.sum_duplicates()
        return sparse_output(self, counts)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([f"vw{j}" for j in range(self.n_words_)], dtype=object)


class StandardizedVectors(TransformerMixin, BaseEstimator):
    """Per-image feature vectors as a fusion block: standardised per column
    (training mean and standard deviation; a constant column stays 0), then
    divided by ``sqrt(d)`` so a row has about unit length, like the TF-IDF
    rows of the other blocks."""

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0) * np.sqrt(X.shape[1])
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return (X - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([f"f{j}" for j in range(self.n_features_in_)], dtype=object)
