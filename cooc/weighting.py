"""Association weightings of co-occurrence counts: PPMI and log counts.

The array functions (:func:`ppmi`, :func:`log_counts`) take a count matrix of
shape ``(n_words, n_contexts)`` and return a new CSR matrix; the estimator
(:class:`PPMITransformer`) learns the context distribution on one matrix and
applies it to others.
"""

from __future__ import annotations

import itertools
from numbers import Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_non_negative

from cooc import _kernels, parallel
from cooc._compat import Interval, check_is_fitted, fit_context, validate_data
from cooc._output import input_index, sparse_output
from cooc.errors import InputError

__all__ = [
    "PMI_TOLERANCE",
    "WEIGHTING_SCHEMES",
    "check_ppmi_params",
    "PPMITransformer",
    "log_counts",
    "ppmi",
    "smoothed_context_probs",
    "weight_cooccurrence",
]

# PMI values below this are rounding noise around 0 (for instance a ratio of
# exactly ``shift``) and are dropped like the negative ones.
PMI_TOLERANCE = 1e-10
"""PMI values below this count as zero (rounding noise around 0): the one
threshold of :func:`ppmi`, :class:`PPMITransformer` and the streamed PPMI of
:mod:`cooc.streaming`."""

# Rows are processed in blocks of about this many stored entries, which bounds
# the float64 temporaries to a few tens of megabytes whatever the matrix size.
_BLOCK_NNZ = 1 << 22


def _check_dtype(dtype):
    """Return ``dtype`` as a numpy float32/float64 dtype or raise ValueError."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(
            f"dtype={dtype!r} is not supported; use np.float32 or np.float64."
        )
    return dtype


def _as_count_csr(counts, whom, *, dtype, copy):
    """Validate ``counts`` and return it as a canonical CSR matrix of ``dtype``.

    Sparse arrays stay sparse arrays, everything else becomes ``csr_matrix``.
    Explicitly stored zeros are removed and duplicates are summed.
    """
    is_sparray = isinstance(counts, sp.sparray)
    X = check_array(
        counts,
        accept_sparse="csr",
        dtype=dtype,
        copy=copy,
        ensure_min_samples=0,
        ensure_min_features=0,
        input_name="counts",
    )
    check_non_negative(X, whom)
    if not sp.issparse(X):
        X = sp.csr_array(X) if is_sparray else sp.csr_matrix(X)
    elif not X.has_canonical_format:
        X.sum_duplicates()
    X.eliminate_zeros()
    return X


def smoothed_context_probs(col_sums, context_alpha):
    """Return ``P_alpha(c) = #(c)**alpha / sum #(c')**alpha`` over observed contexts.

    ``col_sums`` are the column sums ``#(c)`` of the counts (float64). Contexts
    that never occur get probability 0, also for ``context_alpha=0``. The
    context distribution of :func:`ppmi`, :class:`PPMITransformer` and the
    streamed PPMI of :mod:`cooc.streaming`.
    """
    col_sums = np.asarray(col_sums, dtype=np.float64).ravel()
    seen = col_sums > 0
    probs = np.zeros_like(col_sums)
    probs[seen] = col_sums[seen] ** context_alpha
    total = probs.sum()
    if total > 0:
        probs /= total
    return probs


def _log_marginals(X, context_probs):
    """``log`` of the row sums of CSR ``X`` and of ``context_probs`` (-inf for 0)."""
    row_sums = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    with np.errstate(divide="ignore"):
        return np.log(row_sums), np.log(context_probs)


def _ppmi_csr_inplace(X, context_probs, shift):
    """Overwrite the data of canonical CSR ``X`` with PPMI values; drop non-positives.

    ``X`` has non-negative values and no stored zeros; ``context_probs`` has
    shape ``(n_contexts,)``. Entries in an unseen context (probability 0) are
    set to 0. Computed in float64, stored in ``X.dtype``.
    """
    n_rows = X.shape[0]
    log_rows, log_ctx = _log_marginals(X, context_probs)
    log_shift = np.log(shift)
    indptr, indices, data = X.indptr, X.indices, X.data
    row_start = 0
    while row_start < n_rows:
        # Extend the block of rows until it holds about _BLOCK_NNZ entries.
        row_stop = int(np.searchsorted(indptr, indptr[row_start] + _BLOCK_NNZ, "right"))
        row_stop = min(max(row_stop - 1, row_start + 1), n_rows)
        lo, hi = indptr[row_start], indptr[row_stop]
        if hi > lo:
            values = np.log(data[lo:hi], dtype=np.float64)
            values -= np.repeat(
                log_rows[row_start:row_stop], np.diff(indptr[row_start : row_stop + 1])
            )
            values -= log_ctx[indices[lo:hi]]
            values -= log_shift
            # Unseen contexts give +inf (log 0 subtracted): no evidence, so 0.
            values[~np.isfinite(values) | (values < PMI_TOLERANCE)] = 0.0
            data[lo:hi] = values
        row_start = row_stop
    X.eliminate_zeros()
    return X


def _ppmi_threaded(X, context_probs, shift, dtype):
    """PPMI of a canonical float CSR ``X`` into a new CSR matrix, on threads.

    Two passes of numba kernels over row blocks of equal non-zero counts:
    values and kept counts per row, then compaction into new arrays. Returns
    None when ``X`` holds negative or non-finite counts (the caller's checks
    then raise the usual errors).
    """
    n_rows = X.shape[0]
    log_rows, log_ctx = _log_marginals(X, context_probs)
    values = np.empty(X.nnz, dtype=dtype)
    row_counts = np.zeros(n_rows, dtype=np.int64)
    n_threads = max(1, min(parallel.n_threads(None), n_rows))
    parts = list(itertools.pairwise(parallel.row_cuts(X, n_threads)))
    log_shift = float(np.log(shift))
    bad = parallel.block_map(
        lambda a, b: _kernels.ppmi_values(
            X.indptr,
            X.indices,
            X.data,
            log_rows,
            log_ctx,
            log_shift,
            PMI_TOLERANCE,
            values,
            row_counts,
            a,
            b,
        ),  # fmt: skip
        parts,
        n_threads=n_threads,
    )
    if sum(bad):
        return None
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(row_counts, out=indptr[1:])
    index_dtype = np.int32 if indptr[-1] <= np.iinfo(np.int32).max else np.int64
    indptr = indptr.astype(index_dtype, copy=False)
    indices = np.empty(int(indptr[-1]), dtype=index_dtype)
    data = np.empty(int(indptr[-1]), dtype=dtype)
    parallel.block_map(
        lambda a, b: _kernels.compact_rows(
            X.indptr, X.indices, values, indptr, indices, data, a, b
        ),
        parts,
        n_threads=n_threads,
    )
    out_type = sp.csr_array if isinstance(X, sp.sparray) else sp.csr_matrix
    out = out_type((data, indices, indptr), shape=X.shape)
    out.has_sorted_indices = X.has_sorted_indices
    return out


def ppmi(counts, *, context_alpha=0.75, shift=1.0, dtype=np.float32, copy=True):
    """Positive pointwise mutual information with context smoothing and shift.

    Each stored count ``#(w, c)`` becomes
    ``max(0, log(#(w, c) * Z / (#(w) * #(c)**alpha)) - log(shift))``, where
    ``#(w)`` is the row sum, ``#(c)`` the column sum and
    ``Z = sum_c' #(c')**alpha``. Only positive values are stored in the result.

    Parameters
    ----------
    counts : {array-like, sparse matrix} of shape (n_words, n_contexts)
        Non-negative co-occurrence counts (integer or float).
    context_alpha : float, default=0.75
        Exponent ``alpha`` in ``[0, 1]`` that smooths the context distribution
        (Levy et al., 2015). ``1`` is plain PPMI; ``0.75`` raises the
        probability of rare contexts and lowers their PMI.
    shift : float, default=1.0
        The shift ``k > 0``: ``log(k)`` is subtracted before clipping at zero
        (shifted PPMI, the SGNS analogue of ``k`` negative samples).
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the result. Logarithms are computed in float64.
    copy : bool, default=True
        If False and ``counts`` is already a canonical CSR matrix of ``dtype``,
        its data is overwritten and the same object is returned.

    Returns
    -------
    ppmi : scipy.sparse.csr_matrix of shape (n_words, n_contexts)
        The weighted matrix, with explicit zeros removed. A ``csr_array``
        when ``counts`` is a sparse array.

    Raises
    ------
    ValueError
        If ``counts`` has negative, NaN or infinite values.

    See Also
    --------
    PPMITransformer : The same weighting as a scikit-learn transformer.
    log_counts : ``log(1 + count)`` weighting.

    Notes
    -----
    Rows and columns that sum to zero stay zero; no NaN or infinity is
    produced. Values below 1e-10 (rounding noise, e.g. a ratio of exactly
    ``shift``) count as zero. Time and extra memory are O(nnz).

    References
    ----------
    .. [1] O. Levy, Y. Goldberg and I. Dagan, "Improving distributional
       similarity with lessons learned from word embeddings", TACL 3, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.weighting import ppmi
    >>> counts = np.array([[4, 0, 1], [0, 2, 2], [1, 2, 0]])
    >>> ppmi(counts, context_alpha=1.0).toarray().round(3)
    array([[0.652, 0.   , 0.   ],
           [0.   , 0.405, 0.693],
           [0.   , 0.693, 0.   ]], dtype=float32)
    """
    check_ppmi_params(context_alpha, shift)
    dtype = _check_dtype(dtype)
    if (
        copy
        and sp.issparse(counts)
        and counts.format == "csr"
        and counts.dtype in (np.float32, np.float64)
        and counts.has_canonical_format
    ):
        # The common case (a CoocMatrix's counts): one threaded pass, no
        # converted copy of the input; anything unusual takes the path below.
        col_sums = np.asarray(counts.sum(axis=0, dtype=np.float64)).ravel()
        probs = smoothed_context_probs(col_sums, context_alpha)
        out = _ppmi_threaded(counts, probs, shift, dtype)
        if out is not None:
            return out
    X = _as_count_csr(counts, "ppmi (counts)", dtype=dtype, copy=copy)
    col_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
    return _ppmi_csr_inplace(X, smoothed_context_probs(col_sums, context_alpha), shift)


def log_counts(counts, *, dtype=np.float32):
    """Return ``log(1 + counts)`` as a sparse matrix.

    Parameters
    ----------
    counts : {array-like, sparse matrix} of shape (n_words, n_contexts)
        Non-negative co-occurrence counts.
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the result.

    Returns
    -------
    log_counts : scipy.sparse.csr_matrix of shape (n_words, n_contexts)
        ``log1p`` of every entry; zeros stay zero and are not stored. A
        ``csr_array`` when ``counts`` is a sparse array.

    See Also
    --------
    ppmi : Positive pointwise mutual information.

    Examples
    --------
    >>> from cooc.weighting import log_counts
    >>> log_counts([[0, 1], [3, 0]]).toarray().round(3)
    array([[0.   , 0.693],
           [1.386, 0.   ]], dtype=float32)
    """
    X = _as_count_csr(
        counts, "log_counts (counts)", dtype=_check_dtype(dtype), copy=True
    )
    np.log1p(X.data, out=X.data)
    return X


def check_ppmi_params(context_alpha, shift):
    """Validate the scalar PPMI parameters of the array function."""
    if not isinstance(context_alpha, Real) or not 0 <= context_alpha <= 1:
        raise InputError(
            f"context_alpha={context_alpha!r} must be a number in [0, 1]; "
            "0.75 is usual."
        )
    if not isinstance(shift, Real) or not 0 < shift < float("inf"):
        raise InputError(
            f"shift={shift!r} must be a finite number > 0 (--shift); use 1 for no "
            "shift."
        )


class PPMITransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Weight co-occurrence counts by positive pointwise mutual information.

    ``fit`` learns the smoothed context distribution ``P_alpha(c)`` from the
    column sums of a count matrix; ``transform`` weights each row of a count
    matrix against it. On the training matrix the result equals
    :func:`ppmi` with the same parameters.

    Parameters
    ----------
    context_alpha : float, default=0.75
        Exponent in ``[0, 1]`` smoothing the context distribution; ``1`` is
        plain PPMI.
    shift : float, default=1.0
        The shift ``k > 0``: ``log(k)`` is subtracted before clipping at zero.

    Attributes
    ----------
    context_probs_ : ndarray of shape (n_features_in_,)
        Smoothed context distribution ``P_alpha(c)`` (float64, sums to 1
        unless the training matrix is all zeros). Contexts never seen in
        training have probability 0.
    n_features_in_ : int
        Number of contexts (columns) seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    ppmi : The array function.
    cooc.svd.SVDEmbedding : Truncated SVD of the weighted matrix.

    Notes
    -----
    For a row ``w`` of ``X``,
    ``transform(X)[w, c] = max(0, log(X[w, c] / r_w / P_alpha(c)) - log(shift))``
    with the row sum ``r_w = sum_c' X[w, c']``.
    Rows are weighted independently, so ``transform`` of a subset of rows
    equals the same rows of ``transform`` of the whole matrix. Entries in a
    context unseen during fit become 0. Sparse input gives CSR output, dense
    input dense output; float32 is preserved. Time O(nnz).

    References
    ----------
    .. [1] O. Levy, Y. Goldberg and I. Dagan, "Improving distributional
       similarity with lessons learned from word embeddings", TACL 3, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.weighting import PPMITransformer
    >>> counts = np.array([[4, 0, 1], [0, 2, 2], [1, 2, 0]], dtype=np.float32)
    >>> PPMITransformer(context_alpha=1.0).fit_transform(counts).round(3)
    array([[0.652, 0.   , 0.   ],
           [0.   , 0.405, 0.693],
           [0.   , 0.693, 0.   ]], dtype=float32)
    """

    _parameter_constraints: ClassVar[dict] = {
        "context_alpha": [Interval(Real, 0, 1, closed="both")],
        "shift": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, context_alpha=0.75, *, shift=1.0):
        self.context_alpha = context_alpha
        self.shift = shift

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the smoothed context distribution from the column sums of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_words, n_contexts)
            Non-negative co-occurrence counts.
        y : None
            Ignored.

        Returns
        -------
        self : PPMITransformer
            The fitted transformer.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        check_non_negative(X, "PPMITransformer.fit")
        col_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
        self.context_probs_ = smoothed_context_probs(col_sums, self.context_alpha)
        return self

    def transform(self, X):
        """Weight each row of X by PPMI against the learned context distribution.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_words, n_contexts)
            Non-negative co-occurrence counts over the contexts seen in fit.

        Returns
        -------
        X_ppmi : {ndarray, sparse matrix} of shape (n_words, n_contexts)
            CSR when ``X`` is sparse, dense otherwise; same float dtype as X.
            Under ``set_output(transform="pandas")`` a DataFrame with ``X``'s
            index (the words, after :class:`cooc.CooccurrenceVectorizer`), of
            pandas sparse columns when ``X`` is sparse.
        """
        check_is_fitted(self)
        index = input_index(X)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )
        check_non_negative(X, "PPMITransformer.transform")
        dense = not sp.issparse(X)
        Xt = _as_count_csr(X, "PPMITransformer.transform", dtype=X.dtype, copy=True)
        Xt = _ppmi_csr_inplace(Xt, self.context_probs_, self.shift)
        return Xt.toarray() if dense else sparse_output(self, Xt, index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


WEIGHTING_SCHEMES = ("ppmi", "log", "none")


def weight_cooccurrence(cooc, *, weighting="ppmi", context_alpha=0.75, shift=1.0):
    """Weighted matrix (float32 CSR) of a :class:`~cooc.matrix.CoocMatrix`
    (``cooc.matrix``): ``"ppmi"``, ``"log"`` (log(1 + count)) or ``"none"``."""
    if weighting == "ppmi":
        return ppmi(cooc.matrix, context_alpha=context_alpha, shift=shift)
    if weighting == "log":
        return log_counts(cooc.matrix)
    if weighting == "none":
        return cooc.matrix.astype(np.float32)
    raise InputError(f"weighting={weighting!r} is not one of {WEIGHTING_SCHEMES}.")
