"""Fusion of modalities (text, image, ...) stored side by side in one matrix.

Every function and estimator here takes one two-dimensional float matrix ``X``
plus ``blocks``, which names the columns of each modality (the text embedding,
the image embedding, ...). An item that lacks a modality has that block all
NaN in its row; :func:`missing_modalities` returns that mask.

* :class:`ModalityFusion` (early fusion): scales each block, imputes missing
  blocks (mean or a ridge projection from the other blocks), weights and
  concatenates them, optionally mixes the result with a truncated SVD.
* :func:`make_early_fusion`: :class:`ModalityFusion` + a classifier, with the
  block weights chosen by cross-validated grid search over the simplex.
* :class:`LateFusionClassifier` (late fusion): one classifier per block, their
  probabilities combined by a weighted mean, product or vote over the
  modalities present in each row, with weights learned on out-of-fold
  predictions.

Both fusions search weight grids that contain the one-hot weights (one
modality alone), so a weak modality is switched off when it does not help:
by construction the cross-validated score of the chosen weights is at least
that of the best single modality.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
    clone,
)
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_predict,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.multiclass import check_classification_targets

from cooc._compat import (
    Interval,
    StrOptions,
    check_is_fitted,
    fit_context,
    validate_data,
)
from cooc._output import input_index, sparse_output
from cooc.errors import InputError, InputTypeError

__all__ = [
    "LateFusionClassifier",
    "ModalityFusion",
    "make_early_fusion",
    "missing_modalities",
    "simplex_grid",
]

logger = logging.getLogger(__name__)

# Probabilities are clipped to this before logarithms (product rule, log-loss).
_EPS = 1e-12
# In the vote rule, the weighted-mean probabilities are mixed in with this
# weight so that tied votes go to the class the estimators find most probable.
_VOTE_TIE_BREAK = 1e-6
# Late fusion's combination rules; "stack" learns a logistic regression over the
# per-modality log-probabilities instead of weights.
RULES = ("mean", "product", "vote", "stack")
# Inverse regularisation of the stacking logistic regression (its inputs are
# K log-probability ratios per modality, a few dozen columns at most).
_STACK_C = 1.0
# Steps that rescale columns and so would undo the block weights of early fusion.
_COLUMN_SCALERS = (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)
# Alphas tried by the ridge projection used for impute="project".
_PROJECT_ALPHAS = np.logspace(-2, 3, 6)


# -- blocks ---------------------------------------------------------------------------
def _resolve_blocks(blocks, n_features, feature_names=None):
    """Return ``blocks`` as a list of ``(name, int64 column indices)``.

    ``blocks`` is None (one block ``"x"`` of all columns), a dict
    ``name -> columns`` or a list of ``(name, columns)``; ``columns`` is a
    slice, integer indices, a boolean mask or (for DataFrames) column names.
    """
    if blocks is None:
        return [("x", np.arange(n_features))]
    if isinstance(blocks, dict):
        items = list(blocks.items())
    elif isinstance(blocks, (list, tuple)):
        items = list(blocks)
    else:
        raise InputTypeError(
            f"blocks={blocks!r} must be a list of (name, columns) pairs or a dict "
            "name -> columns, e.g. [('text', slice(0, 300)), ('image', "
            "slice(300, None))]."
        )
    if not items:
        raise InputError("blocks=[] is empty; give at least one (name, columns) pair.")
    all_columns = np.arange(n_features)
    resolved, seen = [], {}
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise InputTypeError(
                f"blocks entry {item!r} must be a (name, columns) pair, e.g. "
                "('text', slice(0, 300))."
            )
        name, columns = item
        if not isinstance(name, str) or not name or "__" in name:
            raise InputError(
                f"block name {name!r} must be a non-empty str without '__'."
            )
        if any(name == other for other, _ in resolved):
            raise InputError(
                f"block name {name!r} is used twice; names must be unique."
            )
        idx = _block_columns(name, columns, all_columns, feature_names)
        if idx.size == 0:
            raise InputError(
                f"block {name!r} selects no columns of X with n_features={n_features}; "
                "check its columns or drop it."
            )
        for j in idx:
            if j in seen:
                raise InputError(
                    f"column {j} is in blocks {seen[j]!r} and {name!r}; each column "
                    "may belong to one block only."
                )
            seen[j] = name
        resolved.append((name, idx))
    return resolved


def _block_columns(name, columns, all_columns, feature_names):
    """Column indices (int64, in the given order) that ``columns`` selects."""
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, slice):
        columns = np.asarray(columns)
        if columns.dtype.kind in "OUS":
            if feature_names is None:
                raise InputError(
                    f"block {name!r} names columns {list(columns)!r} but X has no "
                    "column names; pass a DataFrame or use integer indices."
                )
            lookup = {str(f): i for i, f in enumerate(feature_names)}
            unknown = [c for c in columns if str(c) not in lookup]
            if unknown:
                raise InputError(
                    f"block {name!r}: columns {unknown!r} are not in X; known "
                    f"columns start {list(feature_names[:5])!r}."
                )
            return np.array([lookup[str(c)] for c in columns], dtype=np.int64)
        if columns.dtype.kind == "b" and columns.size != all_columns.size:
            raise InputError(
                f"block {name!r}: boolean mask of length {columns.size} does not "
                f"match n_features={all_columns.size}."
            )
        if columns.dtype.kind not in "iub" and columns.size:
            raise InputTypeError(
                f"block {name!r}: columns {columns!r} must be a slice, integer "
                "indices, a boolean mask or column names."
            )
        if columns.size == 0:
            return np.empty(0, dtype=np.int64)
    try:
        idx = all_columns[columns]
    except IndexError:
        raise InputError(
            f"block {name!r}: columns {columns!r} are out of range for X with "
            f"n_features={all_columns.size}."
        ) from None
    return np.atleast_1d(idx).astype(np.int64)


def _block_slices(blocks, X):
    """The columns of each block of ``X`` (a list of 2-D arrays or CSR matrices)."""
    if sp.issparse(X):
        return [X[:, idx].tocsr() for _, idx in blocks]
    return [X[:, idx] for _, idx in blocks]


def _sparse_missing_rows(Xb):
    """Rows of a CSR block that store at least one value and only NaN."""
    stored = np.diff(Xb.indptr)
    rows = np.repeat(np.arange(Xb.shape[0]), stored)
    n_nan = np.bincount(rows[np.isnan(Xb.data)], minlength=Xb.shape[0])
    return (stored > 0) & (n_nan == stored)


def _missing_mask(X, blocks):
    """Boolean ``(n_samples, n_blocks)``: True where the row's block is all NaN.

    For a sparse ``X`` a block is missing in a row when the row stores values
    in the block and every one of them is NaN (one stored NaN is enough to
    mark a missing modality; the implicit zeros do not count).
    """
    mask = np.empty((X.shape[0], len(blocks)), dtype=bool)
    for b, (_, idx) in enumerate(blocks):
        if sp.issparse(X):
            mask[:, b] = _sparse_missing_rows(X[:, idx].tocsr())
        else:
            mask[:, b] = np.isnan(X[:, idx]).all(axis=1)
    return mask


def _zero_nan(Xb):
    """A CSR copy of ``Xb`` with its stored NaN removed (they become zeros)."""
    Xb = sp.csr_matrix(Xb, copy=True)
    nan = np.isnan(Xb.data)
    if nan.any():
        Xb.data[nan] = 0
        Xb.eliminate_zeros()
    return Xb


def _nan_column_means(Xp):
    """Column means (float64) ignoring NaN; 0 for an all-NaN column.

    Sparse blocks: stored NaN count as 0 (a present sparse block should hold
    none; a missing one is dropped before this is called).
    """
    if sp.issparse(Xp):
        return np.asarray(_zero_nan(Xp).mean(axis=0), dtype=np.float64).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an all-NaN column
        mean = np.nanmean(np.asarray(Xp, dtype=np.float64), axis=0)
    return np.where(np.isnan(mean), 0.0, mean)


def _fill_nan(Xb, mean):
    """Replace NaN in ``Xb`` by the column means (a copy when there are any).

    Sparse blocks get their stored NaN replaced by 0 instead (see
    :func:`_nan_column_means`).
    """
    if sp.issparse(Xb):
        return _zero_nan(Xb)
    nan = np.isnan(Xb)
    if not nan.any():
        return Xb
    Xb = np.array(Xb)
    Xb[nan] = np.broadcast_to(mean, Xb.shape)[nan].astype(Xb.dtype)
    return Xb


def missing_modalities(X, blocks=None):
    """Which modality each row lacks: True where the row's block is all NaN.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The modalities side by side; a missing modality is a block of NaN
        (sparse: a block whose stored values in the row are all NaN).
    blocks : list of (str, columns) or dict, default=None
        The columns of each modality (see :class:`ModalityFusion`). None is one
        block of all columns.

    Returns
    -------
    missing : ndarray of shape (n_samples, n_blocks), dtype=bool
        ``missing[i, b]`` is True when row ``i`` has only NaN in block ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.fusion import missing_modalities
    >>> X = np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, 3.0], [1.0, np.nan, np.nan]])
    >>> missing_modalities(X, [("text", slice(0, 2)), ("image", [2])])
    array([[False, False],
           [ True, False],
           [False,  True]])
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        return _missing_mask(X, _resolve_blocks(blocks, X.shape[1]))
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(
            f"X must be two-dimensional, got shape {X.shape!r}; reshape it or stack "
            "the modalities side by side."
        )
    return _missing_mask(X, _resolve_blocks(blocks, X.shape[1]))


# -- weights --------------------------------------------------------------------------
def simplex_grid(n_modalities, n_steps):
    """All weight vectors with entries ``k / n_steps`` that sum to 1.

    The grid contains the one-hot vectors (one modality alone) and the
    uniform weights whenever ``n_steps`` is a multiple of ``n_modalities``.

    Parameters
    ----------
    n_modalities : int
        Length of each weight vector (number of blocks), at least 1.
    n_steps : int
        Number of steps between 0 and 1, at least 1; ``20`` gives steps of 0.05.

    Returns
    -------
    grid : ndarray of shape (n_candidates, n_modalities)
        One weight vector per row, the first modality's weight decreasing;
        ``n_candidates = comb(n_steps + n_modalities - 1, n_modalities - 1)``.

    Examples
    --------
    >>> from cooc.fusion import simplex_grid
    >>> simplex_grid(2, 4)
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.5 , 0.5 ],
           [0.25, 0.75],
           [0.  , 1.  ]])
    """
    if not isinstance(n_modalities, Integral) or n_modalities < 1:
        raise InputError(f"n_modalities={n_modalities!r} must be an int >= 1.")
    if not isinstance(n_steps, Integral) or n_steps < 1:
        raise InputError(f"n_steps={n_steps!r} must be an int >= 1; 20 gives 0.05.")
    n_modalities, n_steps = int(n_modalities), int(n_steps)
    rows = []
    # Stars and bars: choose the positions of n_modalities - 1 bars.
    for bars in itertools.combinations(
        range(n_steps + n_modalities - 1), n_modalities - 1
    ):
        edges = (-1, *bars, n_steps + n_modalities - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(n_modalities)])
    grid = np.array(rows, dtype=np.float64)[::-1] / n_steps
    return np.ascontiguousarray(grid)


def _default_steps(n_modalities, *, late):
    """Grid resolution: 0.05 (late) or 0.2 (early) for two modalities, coarser above."""
    if n_modalities <= 2:
        return 20 if late else 5
    if n_modalities == 3:
        return 10 if late else 2
    return 5 if late else 1


def _max_one_grid(n_modalities, n_steps):
    """Weight vectors with entries in ``{0, 1/n_steps, ..., 1}`` and maximum 1.

    Each direction of the non-negative orthant appears once at most; the
    one-hot vectors and the all-ones vector are included.
    """
    rows = [
        k
        for k in itertools.product(range(n_steps, -1, -1), repeat=n_modalities)
        if max(k) == n_steps
    ]
    return np.array(rows, dtype=np.float64) / n_steps


def _resolve_weights(weights, names):
    """Validate fixed block weights; return float64 ``(n_blocks,)``."""
    n = len(names)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise InputError(
                f"weights has keys {unknown!r} that are not block names {names!r}."
            )
        weights = [weights.get(name, 0.0) for name in names]
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise InputError(
            f"weights={list(np.asarray(weights).ravel())!r} has {w.size} entries for "
            f"{n} blocks {names!r}; give one weight per block."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise InputError(
            f"weights={w.tolist()!r} must be finite, >= 0 and not all 0; e.g. "
            f"{[1.0] * n!r}."
        )
    return w


# -- early fusion ---------------------------------------------------------------------
class ModalityFusion(TransformerMixin, BaseEstimator):
    """Early fusion: scale, impute, weight and concatenate the blocks of X.

    Each block (modality) of ``X`` is scaled on the rows where it is present,
    divided by ``sqrt(n_columns)`` with ``scaling="standard"`` so that a wide
    block does not outweigh a narrow one, multiplied by its weight and put
    side by side with the others. A row that lacks a modality (its block is
    all NaN) gets an imputed block: the mean (0 after scaling), zeros, or a
    ridge projection from the blocks it has. The fused matrix can be mixed
    by a truncated SVD, and ``fit_transform`` can add Gaussian noise to it
    (augmentation of the training features).

    Parameters
    ----------
    blocks : list of (str, columns) or dict of str -> columns, default=None
        The modalities: ``[("text", slice(0, 300)), ("image", slice(300, None))]``.
        ``columns`` is a slice, integer indices, a boolean mask or, for a
        DataFrame, column names. Blocks must not overlap; columns in no block
        are dropped. None is one block ``"x"`` of all columns.
    weights : array-like of shape (n_blocks,) or dict of str -> float, default=None
        Non-negative factor for each block, applied after scaling; None gives
        1 to each. :func:`make_early_fusion` learns them by cross-validation.
    scaling : {"standard", "l2", "none"}, default="standard"
        ``"standard"``: z-score each column, then divide the block by
        ``sqrt(n_columns)`` (every block then has total variance 1).
        ``"l2"``: subtract the block mean, then scale each row of the block to
        unit Euclidean norm. ``"none"``: use the values as they are.
    impute : {"mean", "zero", "project"}, default="mean"
        Value of a missing block. ``"mean"``: the block's mean over the rows
        that have it (0 after ``"standard"`` or ``"l2"`` scaling).
        ``"zero"``: raw zeros, scaled like observed values. ``"project"``: a
        ridge regression (alpha chosen by leave-one-out) from the scaled
        other blocks to the scaled block, fitted on the training rows that
        have the block; the joint-space projection of the other modality.
    n_components : int, default=None
        If set, the fused matrix is mixed by a truncated SVD to this many
        columns.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the fused training
        matrix by ``fit_transform`` (and so in a Pipeline's ``fit``), never by
        ``transform``. In the units of the fused features.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise and the randomized SVD.

    Attributes
    ----------
    blocks_ : list of (str, ndarray)
        Each block's name and its column indices in ``X``.
    weights_ : ndarray of shape (n_blocks,)
        The block weights used.
    block_scales_ : ndarray of shape (n_blocks,)
        Factor applied to each scaled block: the weight, divided by
        ``sqrt(n_columns)`` under ``scaling="standard"``.
    means_ : list of ndarray
        Mean of each block's columns over the training rows that have it.
    scalers_ : list of estimator or None
        The fitted per-block scaler (``StandardScaler`` or a Pipeline of
        centring and ``Normalizer``), None with ``scaling="none"``.
    projectors_ : list of RidgeCV or None
        With ``impute="project"``, the ridge regression that predicts each
        block from the others; None where it could not be fitted (one block,
        or fewer than 2 rows with the block and another one).
    svd_ : TruncatedSVD or None
        The mixing SVD when ``n_components`` is set.
    n_features_in_ : int
        Number of columns of ``X`` seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    make_early_fusion : This transformer + a classifier, weights learned by CV.
    LateFusionClassifier : One classifier per modality, probabilities combined.
    missing_modalities : The mask of missing blocks.

    Notes
    -----
    For a present block ``b`` of row ``x``,
    ``out_b = weights[b] * scale_b(x_b) / sqrt(d_b)`` (``"standard"``), where
    ``scale_b`` is fitted on the training rows that have the block. Isolated
    NaN inside a present block are replaced by the column mean. Rows are
    transformed independently. Time O(n_samples * n_features) plus, for
    ``impute="project"``, one ridge fit per block.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.fusion import ModalityFusion
    >>> X = np.array([[1.0, 2.0, 10.0], [3.0, 4.0, np.nan], [5.0, 0.0, 30.0]])
    >>> fusion = ModalityFusion([("text", [0, 1]), ("image", [2])], weights=[1, 2])
    >>> fusion.fit_transform(X).round(3)
    array([[-0.866,  0.   , -2.   ],
           [ 0.   ,  0.866,  0.   ],
           [ 0.866, -0.866,  2.   ]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "blocks": [list, tuple, dict, None],
        "weights": ["array-like", dict, None],
        "scaling": [StrOptions({"standard", "l2", "none"})],
        "impute": [StrOptions({"mean", "zero", "project"})],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        blocks=None,
        *,
        weights=None,
        scaling="standard",
        impute="mean",
        n_components=None,
        noise=0.0,
        random_state=None,
    ):
        self.blocks = blocks
        self.weights = weights
        self.scaling = scaling
        self.impute = impute
        self.n_components = n_components
        self.noise = noise
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the per-block scalers, means, projections and the SVD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.
        y : None
            Ignored.

        Returns
        -------
        self : ModalityFusion
            The fitted transformer.
        """
        self._fit(X)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the fused training matrix (with noise if ``noise > 0``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.
        y : None
            Ignored.

        Returns
        -------
        X_fused : ndarray of shape (n_samples, n_features_out)
            The fused features, plus ``N(0, noise**2)`` noise.
        """
        Z = self._fit(X)
        if self.noise > 0:
            rng = check_random_state(self.random_state)
            Z += rng.normal(scale=self.noise, size=Z.shape).astype(Z.dtype)
        return sparse_output(self, Z, input_index(X))

    def transform(self, X):
        """Impute missing blocks, then scale, weight and concatenate them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.

        Returns
        -------
        X_fused : ndarray of shape (n_samples, n_features_out)
            Same float dtype as ``X``; no noise is added. Sparse (CSR) for
            sparse ``X`` without SVD mixing; under
            ``set_output(transform="pandas")`` that is a DataFrame of pandas
            sparse columns with ``X``'s index.
        """
        check_is_fitted(self)
        index = input_index(X)
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=False,
        )
        Z = self._fuse(X)
        if self.svd_ is not None:
            Z = self.svd_.transform(Z)
        return sparse_output(self, Z, index)

    def get_feature_names_out(self, input_features=None):
        """Output names ``"<block>__<input name>"``; ``"modalityfusion<i>"`` after SVD.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names; default ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        names : ndarray of str objects
            One name per output column.
        """
        check_is_fitted(self)
        if self.svd_ is not None:
            return np.array(
                [f"modalityfusion{i}" for i in range(self.svd_.n_components)],
                dtype=object,
            )
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        input_features = np.asarray(input_features, dtype=object)
        if input_features.size != self.n_features_in_:
            raise InputError(
                f"input_features has {input_features.size} names; expected "
                f"{self.n_features_in_} (n_features_in_)."
            )
        return np.array(
            [f"{name}__{input_features[j]}" for name, idx in self.blocks_ for j in idx],
            dtype=object,
        )

    # -- internals --------------------------------------------------------------------
    def _fit(self, X):
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        sparse = sp.issparse(X)
        if sparse and self.impute == "project":
            raise InputError(
                "impute='project' needs dense X (a ridge projection onto a sparse "
                "block would be dense); use impute='mean' or 'zero', or pass X.toarray()."
            )
        if sparse and self.noise > 0:
            raise InputError(
                f"noise={self.noise!r} would make the sparse fused matrix dense; use "
                "noise=0 or pass X.toarray()."
            )
        self.blocks_ = _resolve_blocks(
            self.blocks, X.shape[1], getattr(self, "feature_names_in_", None)
        )
        names = [name for name, _ in self.blocks_]
        self.weights_ = _resolve_weights(self.weights, names)
        missing = _missing_mask(X, self.blocks_)
        self.means_, self.scalers_ = [], []
        norms = np.ones(len(self.blocks_))
        for b, (name, Xb) in enumerate(
            zip(names, _block_slices(self.blocks_, X), strict=True)
        ):
            present = ~missing[:, b]
            if not present.any():
                raise InputError(
                    f"block {name!r} is missing (all NaN) in every row of X; drop it "
                    "from blocks or fit on rows that have it."
                )
            mean = _nan_column_means(Xb[present])
            self.means_.append(mean)
            Xp = _fill_nan(Xb[present].astype(np.float64), mean)
            if self.scaling == "standard":
                # sparse: scaled to unit variance but not centred (keeps it sparse)
                scaler = StandardScaler(with_mean=not sparse).fit(Xp)
                norms[b] = 1.0 / math.sqrt(Xb.shape[1])
            elif self.scaling == "l2" and sparse:
                scaler = Normalizer().fit(Xp)
            elif self.scaling == "l2":
                scaler = Pipeline(
                    [("center", StandardScaler(with_std=False)), ("l2", Normalizer())]
                ).fit(Xp)
            else:
                scaler = None
            self.scalers_.append(scaler)
        self.block_scales_ = self.weights_ * norms

        self.projectors_ = [None] * len(self.blocks_)
        if self.impute == "project" and len(self.blocks_) > 1:
            S = self._scaled_blocks(X, missing, project=False)
            for b, (name, _) in enumerate(self.blocks_):
                others = [o for o in range(len(self.blocks_)) if o != b]
                rows = ~missing[:, b] & ~missing[:, others].all(axis=1)
                if rows.sum() < 2:
                    logger.info("block %r: too few rows to fit a projection", name)
                    continue
                inputs = self._projection_inputs(S, others)
                self.projectors_[b] = RidgeCV(alphas=_PROJECT_ALPHAS).fit(
                    inputs[rows], S[b][rows]
                )

        Z = self._fuse(X, missing)
        self.svd_ = None
        if self.n_components is not None:
            if self.n_components > Z.shape[1]:
                raise InputError(
                    f"n_components={self.n_components!r} must be <= the number of "
                    f"fused columns {Z.shape[1]}; lower n_components."
                )
            self.svd_ = TruncatedSVD(
                self.n_components, random_state=self.random_state
            ).fit(Z)
            Z = self.svd_.transform(Z)
        return Z

    def _projection_inputs(self, S, others):
        """The other scaled blocks side by side (divided by sqrt(width) if standard)."""
        if self.scaling != "standard":
            return np.hstack([S[o] for o in others])
        return np.hstack([S[o] / math.sqrt(S[o].shape[1]) for o in others])

    def _scaled_sparse_blocks(self, X, missing):
        """Sparse path of :meth:`_scaled_blocks` (no projection)."""
        S = []
        for b, Xb in enumerate(_block_slices(self.blocks_, X)):
            Xb = _zero_nan(Xb.astype(np.float64))  # drops the NaN of missing rows
            scaler = self.scalers_[b]
            if scaler is not None:
                Xb = sp.csr_matrix(scaler.transform(Xb))
            absent = missing[:, b]
            if self.impute == "mean" and absent.any():
                fill = self.means_[b][None, :]
                if scaler is not None:
                    fill = scaler.transform(fill)
                indicator = sp.csr_matrix(absent.astype(np.float64)[:, None])
                Xb = Xb + indicator @ sp.csr_matrix(fill)
            S.append(Xb.tocsr())
        return S

    def _scaled_blocks(self, X, missing, *, project):
        """Each block scaled (float64), missing rows imputed; no weights."""
        if sp.issparse(X):
            return self._scaled_sparse_blocks(X, missing)
        S = []
        for b, Xb in enumerate(_block_slices(self.blocks_, X)):
            Xb = np.array(Xb, dtype=np.float64)
            absent = missing[:, b]
            fill = (
                np.zeros_like(self.means_[b])
                if self.impute == "zero"
                else self.means_[b]
            )
            Xb[absent] = fill
            Xb = _fill_nan(Xb, self.means_[b])  # isolated NaN in a present block
            S.append(Xb if self.scalers_[b] is None else self.scalers_[b].transform(Xb))
        if project and self.impute == "project":
            n_blocks = len(S)
            base = [s.copy() for s in S]  # inputs: observed or mean, never projected
            for b in range(n_blocks):
                absent = missing[:, b]
                if self.projectors_[b] is None or not absent.any():
                    continue
                others = [o for o in range(n_blocks) if o != b]
                inputs = self._projection_inputs(base, others)
                pred = self.projectors_[b].predict(inputs[absent])
                S[b][absent] = pred.reshape(absent.sum(), -1)
        return S

    def _fuse(self, X, missing=None):
        if missing is None:
            missing = _missing_mask(X, self.blocks_)
        S = self._scaled_blocks(X, missing, project=True)
        if sp.issparse(X):
            Z = sp.hstack(
                [s * f for s, f in zip(S, self.block_scales_, strict=True)],
                format="csr",
            )
            return Z.astype(X.dtype, copy=False)
        Z = np.hstack([s * f for s, f in zip(S, self.block_scales_, strict=True)])
        return Z.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # a ridge projection or dense noise would densify the output
        tags.input_tags.sparse = self.impute != "project" and not self.noise
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def make_early_fusion(
    classifier,
    blocks,
    *,
    weight_steps=None,
    param_grid=None,
    scaling="standard",
    impute="mean",
    n_components=None,
    noise=0.0,
    cv=5,
    scoring="accuracy",
    n_jobs=None,
    random_state=None,
):
    """Early fusion + classifier, with the block weights learned by grid search.

    Builds ``Pipeline([("fusion", ModalityFusion(blocks, ...)), ("clf",
    classifier)])`` inside a :class:`~sklearn.model_selection.GridSearchCV`
    over ``fusion__weights``: all weight vectors with entries in
    ``{0, 1/weight_steps, ..., 1}`` whose largest entry is 1 (one per
    direction). The strongest block thus keeps its standard scale, so the
    regularisation of a linear classifier does not change with the mix, and
    ``(1, 1)`` is :class:`ModalityFusion`'s default. The grid contains the one-hot
    weights, i.e. each modality alone, so when fusing does not help,
    cross-validation picks a single modality: the chosen model's CV score is
    never below that of the best single modality (on the same folds;
    held-out data can differ by sampling noise).

    Parameters
    ----------
    classifier : estimator
        The classifier fitted on the fused features, e.g.
        ``LogisticRegression(max_iter=1000)`` or
        ``cooc.classify.make_classifier("forest")``. It must not rescale
        columns (no ``StandardScaler``): that would undo the block weights.
    blocks : list of (str, columns) or dict of str -> columns
        The modalities, as in :class:`ModalityFusion`.
    weight_steps : int, default=None
        Weights are multiples of ``1 / weight_steps``; there are
        ``(weight_steps + 1)**n_blocks - weight_steps**n_blocks`` candidates.
        Default 5 for two blocks (11 candidates: ``(1, 0), (1, 0.2), ...,
        (1, 1), (0.8, 1), ..., (0, 1)``), 2 for three (19), 1 above (every
        subset of blocks at weight 1).
    param_grid : dict of str -> list, default=None
        More parameters to search jointly, e.g. ``{"clf__C": [0.1, 1, 10]}``
        (the block scaling changes the effective regularisation, so tuning
        ``C`` together with the weights often pays). A ``"fusion__weights"``
        entry replaces the simplex grid.
    scaling, impute, n_components, noise
        Passed to :class:`ModalityFusion`.
    cv : int or cross-validation splitter, default=5
        An int is a shuffled ``StratifiedKFold`` seeded by ``random_state``.
    scoring : str or callable, default="accuracy"
        What the search maximises (see sklearn's scoring parameter).
    n_jobs : int, default=None
        Parallel fits in the search.
    random_state : int or None, default=None
        Seeds the folds and the fusion's noise and SVD.

    Returns
    -------
    search : GridSearchCV
        Unfitted. After ``fit``, ``best_params_["fusion__weights"]`` holds the
        learned weights and ``best_estimator_`` the refitted pipeline.

    See Also
    --------
    ModalityFusion : The fusion transformer.
    LateFusionClassifier : Late fusion with learned weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cooc.fusion import make_early_fusion
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> X = np.hstack([y[:, None] + rng.normal(size=(60, 2)), rng.normal(size=(60, 2))])
    >>> search = make_early_fusion(
    ...     LogisticRegression(), [("good", [0, 1]), ("noise", [2, 3])],
    ...     weight_steps=2, cv=3, random_state=0)
    >>> search.fit(X, y).best_params_["fusion__weights"]
    (1.0, 0.0)
    """
    steps = classifier.steps if isinstance(classifier, Pipeline) else []
    scalers = [name for name, step in steps if isinstance(step, _COLUMN_SCALERS)]
    if scalers:
        raise InputError(
            f"classifier has column scaling step(s) {scalers!r}, which would undo "
            "the learned block weights; pass the classifier without them, e.g. "
            "make_classifier('logreg')[-1]."
        )
    n_blocks = 1 if blocks is None else len(blocks)
    if weight_steps is None:
        weight_steps = _default_steps(n_blocks, late=False)
    grid = [tuple(map(float, w)) for w in _max_one_grid(n_blocks, weight_steps)]
    param_grid = {"fusion__weights": grid, **(param_grid or {})}
    if isinstance(cv, Integral):
        cv = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    pipe = Pipeline(
        [
            (
                "fusion",
                ModalityFusion(
                    blocks,
                    scaling=scaling,
                    impute=impute,
                    n_components=n_components,
                    noise=noise,
                    random_state=random_state,
                ),
            ),
            ("clf", classifier),
        ]
    )
    return GridSearchCV(
        pipe,
        param_grid,
        cv=cv,
        scoring=scoring,
        n_jobs=n_jobs,
        error_score="raise",
    )


# -- late fusion ----------------------------------------------------------------------
def _combine(P, present, weights, rule, prior):
    """Combine per-modality probabilities ``P`` (n_blocks, n, K) row by row.

    Weights are renormalised over the modalities present in each row; when all
    present ones weigh 0 they share equally; rows with none get ``prior``.
    """
    W = present * weights[None, :]
    total = W.sum(axis=1)
    zero = (total <= 0) & present.any(axis=1)
    W[zero] = present[zero]
    total = W.sum(axis=1)
    none = total <= 0
    W /= np.where(none, 1.0, total)[:, None]
    if rule == "mean":
        out = np.einsum("nm,mnk->nk", W, P)
    elif rule == "product":
        logp = np.einsum("nm,mnk->nk", W, np.log(np.clip(P, _EPS, 1.0)))
        logp -= logp.max(axis=1, keepdims=True)
        out = np.exp(logp)
        out /= out.sum(axis=1, keepdims=True)
    else:  # vote
        K = P.shape[2]
        votes = np.eye(K)[P.argmax(axis=2)]  # (n_blocks, n, K) one-hot
        out = np.einsum("nm,mnk->nk", W, votes)
        out = (1 - _VOTE_TIE_BREAK) * out + _VOTE_TIE_BREAK * np.einsum(
            "nm,mnk->nk", W, P
        )
    out[none] = prior
    return out


def _stack_features(P, present, prior):
    """Inputs of the stacking regression: per modality ``log(p / prior)``.

    A missing modality contributes zeros, i.e. no evidence beyond the class
    prior, so the same regression serves rows with any subset of modalities.
    Returns ``(n, n_blocks * K)``.
    """
    Z = np.log(np.clip(P, _EPS, 1.0)) - np.log(np.clip(prior, _EPS, 1.0))
    Z *= present.T[:, :, None]
    return np.concatenate(list(Z), axis=1)


def _is_named_list(estimators):
    """True for a list of ``(str, estimator)`` pairs."""
    return isinstance(estimators, list) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
        for p in estimators
    )


def _scores(proba, y_enc):
    """Accuracy and log-loss of combined probabilities against encoded labels."""
    accuracy = float(np.mean(proba.argmax(axis=1) == y_enc))
    p_true = np.clip(proba[np.arange(y_enc.size), y_enc], _EPS, 1.0)
    return accuracy, float(-np.mean(np.log(p_true)))


class LateFusionClassifier(ClassifierMixin, BaseEstimator):
    """Late fusion: one classifier per modality, probabilities combined per row.

    Each estimator is fitted on its block's columns, on the rows where the
    block is present (not all NaN). At prediction the class probabilities of
    the modalities present in a row are combined by a weighted mean, a
    weighted product (geometric mean) or a weighted majority vote, with the
    weights renormalised over those modalities; a row with no modality gets
    the training class frequencies. With ``weights="learn"`` the weights are
    chosen on out-of-fold predictions.

    Without missing modalities, ``rule="mean"`` is
    :class:`~sklearn.ensemble.VotingClassifier` with ``voting="soft"`` over
    per-block pipelines; this class adds the per-row renormalisation and the
    weight search, which VotingClassifier and StackingClassifier lack.

    Parameters
    ----------
    estimators : estimator or list of (str, estimator)
        One classifier per block, in the order of ``blocks`` and named like
        the blocks; or one classifier, cloned for every block. ``rule="mean"``
        and ``"product"`` need ``predict_proba`` (wrap a ``LinearSVC`` in
        ``CalibratedClassifierCV``); ``"vote"`` uses ``predict`` otherwise.
    blocks : list of (str, columns) or dict of str -> columns or None
        The modalities, as in :class:`ModalityFusion`; None is one block.
    rule : {"mean", "product", "vote", "stack"}, default="mean"
        ``"mean"``: ``sum_m w_m p_m``. ``"product"``: ``prod_m p_m ** w_m``,
        renormalised over classes (probabilities clipped at 1e-12).
        ``"vote"``: ``sum_m w_m [c == argmax p_m]``; ties go to the class with
        the highest weighted-mean probability. ``"stack"``: a multinomial
        logistic regression (``meta_``) over every modality's
        ``log(p_m / prior)``, learnt on the out-of-fold probabilities; a
        missing modality enters as zeros (no evidence). Needs
        ``weights="learn"``; when its own out-of-fold accuracy (a second,
        inner cross-validation) is below the best single modality's, that
        modality is used alone instead, so the guarantee below holds.
    weights : "learn", array-like of shape (n_blocks,), dict or None, default="learn"
        ``"learn"``: the grid point of the simplex (steps of 0.05 for two
        blocks, 0.1 for three, 0.2 above; one-hot weights included) with the
        best out-of-fold accuracy of the combined prediction, ties broken by
        the lower log-loss, then by closeness to equal weights. None: equal
        weights. Otherwise fixed weights (normalised to sum 1).
        With ``rule="stack"``, ``weights_`` reports each modality's share of
        the absolute coefficients of ``meta_``.
    cv : int, cross-validation splitter or None, default=5
        Folds for the out-of-fold predictions of ``weights="learn"``. An int
        (None: 5) is a shuffled ``StratifiedKFold`` seeded by ``random_state``;
        a splitter is applied to the rows that have each block.
    random_state : int or None, default=None
        Seeds the folds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    blocks_ : list of (str, ndarray)
        Each block's name and column indices.
    estimators_ : list of estimator
        The fitted classifier of each block.
    named_estimators_ : dict of str -> estimator
        The same, by block name.
    weights_ : ndarray of shape (n_blocks,)
        The modality weights used, summing to 1 (``rule="stack"``: the
        share of each modality in the stacking regression's coefficients).
    meta_ : LogisticRegression or None
        ``rule="stack"`` only: the stacking regression, or None when a
        single modality scored better out of fold (then ``weights_`` is
        one-hot and rows combine as with ``rule="mean"``).
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies (prediction for rows with no modality).
    modality_scores_ : dict of str -> float
        Out-of-fold accuracy of each modality alone on the rows that have it
        (``weights="learn"`` only).
    cv_results_ : dict of str -> ndarray
        ``"weights"`` (n_candidates, n_blocks), ``"accuracy"`` and
        ``"log_loss"`` of every candidate (``weights="learn"`` only). For
        ``rule="stack"`` the candidates are each modality alone (one-hot
        weights) and, last, the stacking regression (its coefficient shares).
    oof_proba_ : ndarray of shape (n_blocks, n_samples, n_classes)
        Out-of-fold class probabilities of each modality (zeros where the
        modality is missing), from which the weights were learned
        (``weights="learn"`` with two or more blocks only; see
        :meth:`with_rule`).
    oof_present_ : ndarray of shape (n_samples, n_blocks), dtype=bool
    oof_y_ : ndarray of shape (n_samples,)
        The encoded training labels.
    n_features_in_ : int
        Number of columns of ``X`` seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    ModalityFusion : Early fusion.
    make_early_fusion : Early fusion with learned weights.

    Notes
    -----
    The weight search maximises accuracy because the guarantee that matters
    is on accuracy: the one-hot weights are candidates, so the chosen
    weights score at least as well out of fold as the best single modality.
    The log-loss tie-break prefers the smoothest of equally accurate
    weights. The search costs ``cv`` extra fits per block; combining a
    candidate is O(n_samples * n_classes * n_blocks).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cooc.fusion import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> X = np.hstack([y[:, None] + rng.normal(size=(60, 2)), rng.normal(size=(60, 2))])
    >>> X[:5, :2] = np.nan  # five items without their first modality
    >>> clf = LateFusionClassifier(
    ...     LogisticRegression(), [("good", [0, 1]), ("noise", [2, 3])],
    ...     cv=3, random_state=0).fit(X, y)
    >>> clf.weights_
    array([1., 0.])
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimators": "no_validation",  # checked in fit
        "blocks": [list, tuple, dict, None],
        "rule": [StrOptions(set(RULES))],
        "weights": [StrOptions({"learn"}), "array-like", dict, None],
        "cv": ["cv_object"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimators,
        blocks,
        *,
        rule="mean",
        weights="learn",
        cv=5,
        random_state=None,
    ):
        self.estimators = estimators
        self.blocks = blocks
        self.rule = rule
        self.weights = weights
        self.cv = cv
        self.random_state = random_state

    # get_params/set_params expose "<block>__<param>" like VotingClassifier.
    def get_params(self, deep=True):
        """Parameters of this estimator and, with ``deep``, of the per-block ones.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``"<name>__<param>"`` for each ``(name, estimator)``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        if deep and _is_named_list(self.estimators):
            for name, est in self.estimators:
                params[name] = est
                if hasattr(est, "get_params"):
                    for key, value in est.get_params(deep=True).items():
                        params[f"{name}__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, including ``"<name>"`` and ``"<name>__<param>"``.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to new values.

        Returns
        -------
        self : LateFusionClassifier
            This estimator.
        """
        if "estimators" in params:
            self.estimators = params.pop("estimators")
        if _is_named_list(self.estimators):
            names = [name for name, _ in self.estimators]
            nested = {}
            for key in list(params):
                head, sep, tail = key.partition("__")
                if head in names:
                    value = params.pop(key)
                    if sep:
                        nested.setdefault(head, {})[tail] = value
                    else:
                        self.estimators = [
                            (n, value if n == head else e) for n, e in self.estimators
                        ]
            for name, sub in nested.items():
                dict(self.estimators)[name].set_params(**sub)
        return super().set_params(**params)

    def _named_list(self):
        try:
            return [(name, est) for name, est in self.estimators]
        except (TypeError, ValueError):
            raise InputTypeError(
                f"estimators={self.estimators!r} must be a classifier or a list of "
                "(name, classifier) pairs, one per block."
            ) from None

    def _per_block_estimators(self, names):
        """One unfitted clone per block, checked against ``names``."""
        if isinstance(self.estimators, list):
            pairs = self._named_list()
            given = [name for name, _ in pairs]
            if given != names:
                raise InputError(
                    f"estimators are named {given!r} but the blocks are {names!r}; "
                    "give one (name, estimator) per block, in block order."
                )
            ests = [est for _, est in pairs]
        else:
            ests = [self.estimators] * len(names)
        for name, est in zip(names, ests, strict=True):
            if not (hasattr(est, "fit") and hasattr(est, "predict")):
                raise InputTypeError(
                    f"estimator for block {name!r} is {est!r}, which has no "
                    "fit/predict; pass a classifier."
                )
            if self.rule != "vote" and not hasattr(est, "predict_proba"):
                raise InputError(
                    f"rule={self.rule!r} needs predict_proba, but the estimator for "
                    f"block {name!r} ({type(est).__name__}) has none; wrap it in "
                    "CalibratedClassifierCV or use rule='vote'."
                )
        return [clone(est) for est in ests]

    def _splitter(self):
        if self.cv is None or isinstance(self.cv, Integral):
            return StratifiedKFold(
                n_splits=5 if self.cv is None else int(self.cv),
                shuffle=True,
                random_state=self.random_state,
            )
        return check_cv(self.cv, classifier=True)

    def _block_proba(self, est, Xb):
        """Class probabilities over ``classes_`` (one-hot of predict without proba)."""
        cols = np.searchsorted(self.classes_, est.classes_)
        out = np.zeros((Xb.shape[0], self.classes_.size))
        if hasattr(est, "predict_proba"):
            out[:, cols] = est.predict_proba(Xb)
        else:
            pred = np.searchsorted(self.classes_, est.predict(Xb))
            out[np.arange(Xb.shape[0]), pred] = 1.0
        return out

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit one classifier per block and, if asked, learn the modality weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : LateFusionClassifier
            The fitted classifier.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise InputError(
                f"y has only one class {self.classes_.tolist()[0]!r}; a classifier "
                "needs at least 2 classes."
            )
        self.class_prior_ = np.bincount(y_enc) / y_enc.size
        self.blocks_ = _resolve_blocks(
            self.blocks, X.shape[1], getattr(self, "feature_names_in_", None)
        )
        names = [name for name, _ in self.blocks_]
        ests = self._per_block_estimators(names)
        present = ~_missing_mask(X, self.blocks_)
        for b, name in enumerate(names):
            rows = present[:, b]
            if not rows.any():
                raise InputError(
                    f"block {name!r} is missing (all NaN) in every training row; "
                    "drop it from blocks."
                )
            found = np.unique(y_enc[rows])
            if found.size < 2:
                raise InputError(
                    f"block {name!r} is present only in rows of class "
                    f"{self.classes_[found].tolist()[0]!r}; its estimator needs rows "
                    "of at least 2 classes."
                )

        # Isolated NaN inside a present block: the column mean, as in ModalityFusion.
        self.means_ = [
            _nan_column_means(Xb[rows])
            for Xb, rows in zip(_block_slices(self.blocks_, X), present.T, strict=True)
        ]
        X_blocks = [
            _fill_nan(Xb, mean)
            for Xb, mean in zip(
                _block_slices(self.blocks_, X), self.means_, strict=True
            )
        ]
        self.meta_ = None
        if isinstance(self.weights, str):  # "learn"
            self._learn_weights(X_blocks, y, y_enc, ests, present, names)
        elif self.rule == "stack":
            raise InputError(
                f"rule='stack' learns its own combination, but weights="
                f"{self.weights!r}; use weights='learn' or another rule."
            )
        else:
            w = _resolve_weights(self.weights, names)
            self.weights_ = w / w.sum()

        self.estimators_ = []
        for est, Xb, rows in zip(ests, X_blocks, present.T, strict=True):
            self.estimators_.append(est.fit(Xb[rows], y[rows]))
        self.named_estimators_ = dict(zip(names, self.estimators_, strict=True))
        return self

    def _learn_weights(self, X_blocks, y, y_enc, ests, present, names):
        """Out-of-fold probabilities per block, then the best simplex grid point."""
        n_blocks, K = len(names), self.classes_.size
        if n_blocks == 1:
            self.weights_ = np.ones(1)
            return
        splitter = self._splitter()
        P = np.zeros((n_blocks, y.size, K))
        self.modality_scores_ = {}
        for b, (est, Xb) in enumerate(zip(ests, X_blocks, strict=True)):
            rows = present[:, b]
            method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
            with warnings.catch_warnings():
                # a class rarer than cv in this block's rows: handled below
                warnings.filterwarnings("ignore", message=".*least populated class")
                warnings.filterwarnings("ignore", message=".*Number of classes in")
                oof = cross_val_predict(
                    clone(est), Xb[rows], y[rows], cv=splitter, method=method
                )
            if method == "predict_proba":
                cols = np.searchsorted(self.classes_, np.unique(y[rows]))
                P[b][np.ix_(rows, cols)] = oof
            else:
                P[b][np.flatnonzero(rows), np.searchsorted(self.classes_, oof)] = 1.0
            self.modality_scores_[names[b]] = float(
                np.mean(P[b][rows].argmax(axis=1) == y_enc[rows])
            )
        self.oof_proba_ = P
        self.oof_present_ = present
        self.oof_y_ = y_enc
        self._search_weights(self.rule)
        logger.info(
            "late fusion weights %s: OOF accuracy %.4f (single modalities %s)",
            dict(zip(names, self.weights_.round(3).tolist(), strict=True)),
            self.cv_results_["accuracy"].max(),
            self.modality_scores_,
        )

    def _search_weights(self, rule):
        """Pick the grid weights that combine the OOF probabilities best under ``rule``."""
        P, present, y_enc = self.oof_proba_, self.oof_present_, self.oof_y_
        n_blocks = P.shape[0]
        self.meta_ = None
        if rule == "stack":
            self._fit_stack()
            return
        grid = simplex_grid(n_blocks, _default_steps(n_blocks, late=True))
        acc = np.empty(len(grid))
        loss = np.empty(len(grid))
        for g, w in enumerate(grid):
            proba = _combine(P, present, w, rule, self.class_prior_)
            acc[g], loss[g] = _scores(proba, y_enc)
        # Best accuracy, then lowest log-loss, then weights closest to uniform.
        spread = np.abs(grid - 1.0 / n_blocks).sum(axis=1)
        best = np.lexsort((spread, np.round(loss, 12), -acc))[0]
        self.weights_ = grid[best].copy()
        self.cv_results_ = {"weights": grid, "accuracy": acc, "log_loss": loss}

    def _fit_stack(self):
        """The stacking regression on the OOF probabilities, or the best modality.

        The regression's own out-of-fold accuracy (inner folds over the
        same rows) is compared with each modality alone (one-hot weights
        under the mean rule); ties go to the regression.
        """
        P, present, y_enc = self.oof_proba_, self.oof_present_, self.oof_y_
        n_blocks = P.shape[0]
        onehot = np.eye(n_blocks)
        acc = np.empty(n_blocks + 1)
        loss = np.empty(n_blocks + 1)
        for b in range(n_blocks):
            proba = _combine(P, present, onehot[b], "mean", self.class_prior_)
            acc[b], loss[b] = _scores(proba, y_enc)
        Z = _stack_features(P, present, self.class_prior_)
        rows = present.any(axis=1)
        meta = LogisticRegression(C=_STACK_C, max_iter=2000)
        found = np.unique(y_enc[rows])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*least populated class")
            oof = cross_val_predict(
                clone(meta),
                Z[rows],
                y_enc[rows],
                cv=self._splitter(),
                method="predict_proba",
            )
        proba = np.tile(self.class_prior_, (y_enc.size, 1))
        proba[rows] = 0.0
        proba[np.ix_(rows, found)] = oof
        acc[n_blocks], loss[n_blocks] = _scores(proba, y_enc)
        meta.fit(Z[rows], y_enc[rows])
        K = self.classes_.size
        share = np.abs(meta.coef_).reshape(-1, n_blocks, K).sum(axis=(0, 2))
        share = (
            share / share.sum() if share.sum() > 0 else np.full(n_blocks, 1 / n_blocks)
        )
        best = int(np.argmax(acc[:n_blocks]))
        if acc[n_blocks] >= acc[best]:
            self.meta_ = meta
            self.weights_ = share
        else:
            self.weights_ = onehot[best].copy()
        self.cv_results_ = {
            "weights": np.vstack([onehot, share]),
            "accuracy": acc,
            "log_loss": loss,
        }

    def with_rule(self, rule):
        """A fitted copy that combines with another ``rule``, weights re-learned.

        The per-modality classifiers are shared, not refitted, and the new
        weights are searched on the out-of-fold probabilities stored at fit,
        so comparing the mean, product and vote rules costs one fit.

        Parameters
        ----------
        rule : {"mean", "product", "vote", "stack"}

        Returns
        -------
        LateFusionClassifier
            A shallow copy with ``rule`` set and ``weights_``/``cv_results_``
            re-learned (``weights="learn"``) or kept (fixed weights).
        """
        check_is_fitted(self)
        if rule not in RULES:
            raise InputError(
                f"rule={rule!r} is not one of {', '.join(map(repr, RULES))}."
            )
        if (
            rule == "stack"
            and not hasattr(self, "oof_proba_")
            and len(self.blocks_) > 1
        ):
            raise InputError(
                "rule='stack' learns from out-of-fold probabilities, which a model "
                "fitted with fixed weights has not kept; fit with weights='learn'."
            )
        if rule != "vote" and not all(
            hasattr(est, "predict_proba") for est in self.estimators_
        ):
            raise InputError(f"rule={rule!r} needs predict_proba from every estimator.")
        other = copy.copy(self)
        other.rule = rule
        if hasattr(self, "oof_proba_"):
            other._search_weights(rule)
        else:
            other.meta_ = None
        return other

    def predict_proba(self, X):
        """Combine the probabilities of the modalities present in each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Combined class probabilities, in the order of ``classes_``. For
            ``rule="vote"``, the weighted vote shares.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            accept_sparse="csr",
            reset=False,
        )
        present = ~_missing_mask(X, self.blocks_)
        P = np.zeros((len(self.blocks_), X.shape[0], self.classes_.size))
        blocks = _block_slices(self.blocks_, X)
        for b, (est, Xb, mean) in enumerate(
            zip(self.estimators_, blocks, self.means_, strict=True)
        ):
            rows = present[:, b]
            if rows.any():
                P[b][rows] = self._block_proba(est, _fill_nan(Xb[rows], mean))
        meta = getattr(self, "meta_", None)
        if meta is None:
            rule = "mean" if self.rule == "stack" else self.rule
            return _combine(P, present, self.weights_, rule, self.class_prior_)
        out = np.tile(self.class_prior_, (X.shape[0], 1))
        rows = present.any(axis=1)
        if rows.any():
            out[rows] = 0.0
            Z = _stack_features(P[:, rows], present[rows], self.class_prior_)
            out[np.ix_(rows, meta.classes_)] = meta.predict_proba(Z)
        return out

    def predict(self, X):
        """Predict the class with the highest combined probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The modalities side by side; NaN blocks mark missing modalities.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        ests = (
            [est for _, est in self.estimators]
            if _is_named_list(self.estimators)
            else [self.estimators]
        )
        try:
            tags.input_tags.sparse = all(get_tags(e).input_tags.sparse for e in ests)
        except (TypeError, AttributeError, ValueError):
            tags.input_tags.sparse = False
        return tags
