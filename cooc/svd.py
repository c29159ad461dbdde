"""Truncated SVD embeddings of weighted co-occurrence matrices: the solver.

:func:`svd_embed` turns a (PPMI) matrix of shape ``(n_words, n_contexts)``
into word vectors ``U * S**power``; :class:`SVDEmbedding` is the same as a
scikit-learn transformer.

The randomized solver sees the matrix only through its products with dense
blocks (a :class:`MatrixOperator`): :func:`embed_operator` is the one
embedding routine (checks, randomized range finder, small SVD, signs,
eigenvalue power), which :func:`svd_embed` calls with the in-memory products
(:class:`CSROperator`, :func:`spmm`) and :func:`cooc.distributed.svd_embed_dask`
with products run by Dask workers. :mod:`cooc.streaming` runs the same steps
(:func:`sparse_sign`, :func:`cholesky_basis`, :func:`small_side_svd`) on tall
blocks kept on disk.

Word vectors with their tokens (:class:`Embeddings`) and their files live in
:mod:`cooc.vectors`, which imports neither scikit-learn nor numba; the names
stay importable from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import ClassVar, Protocol

import numpy as np
import scipy.sparse as sp
from numba.extending import get_cython_function_address
from scipy import linalg
from scipy.linalg import blas
from scipy.sparse.linalg import svds
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot, svd_flip
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_array
from threadpoolctl import threadpool_limits

from cooc import _kernels
from cooc._compat import (
    Interval,
    StrOptions,
    check_is_fitted,
    fit_context,
    validate_data,
)
from cooc.errors import InputError
from cooc.parallel import block_map, n_threads, row_cuts
from cooc.vectors import Embeddings, as_embeddings

__all__ = [
    "DEFAULT_N_ITER",
    "DEFAULT_POWER",
    "DEFAULT_RANK",
    "CSROperator",
    "DenseOps",
    "Embeddings",
    "MatrixOperator",
    "SVDEmbedding",
    "as_embeddings",
    "check_embedding_params",
    "check_embedding_shape",
    "check_matrix",
    "check_n_components",
    "check_rank",
    "cholesky_basis",
    "default_n_oversamples",
    "default_rank",
    "embed_operator",
    "gram_usable",
    "n_random_vectors",
    "randomized_operator_svd",
    "scale_by_power",
    "small_side_svd",
    "sparse_sign",
    "spmm",
    "svd_embed",
    "truncated_svd",
]

logger = logging.getLogger(__name__)

# Defaults of the randomized solver, chosen against ARPACK on the PPMI matrix
# of the development corpus (52k x 52k, 25M nonzeros, rank 500 with 250
# oversamples): 5 shifted power iterations leave the 500th singular value
# 0.9 % low (6: 0.5 %, 15 % more time), and the word vectors scored the same
# on WS353, SimLex-999 and MEN within the spread of the seeds (0.658-0.662,
# 0.311-0.316, 0.703-0.706 over four seeds, against 0.656-0.663,
# 0.313-0.316, 0.704-0.706 with 6). See benchmarks/bench_svd.py.
DEFAULT_N_ITER = 5
"""Power iterations of the randomized solver when none is given (``n_iter=None``)."""

_MIN_OVERSAMPLES = 32

# The eigenvalue power of word vectors when none is given (svd_embed,
# SVDEmbedding, cooc embed): 0.15, chosen with benchmarks/sweep_embeddings.py
# (see cooc.pipeline, which re-exports it as DEFAULT_POWER).
DEFAULT_POWER = 0.15
"""Eigenvalue weighting exponent ``p`` of the vectors ``U * S**p`` by default."""


def default_n_oversamples(n_components):
    """Oversampling of the randomized solver when none is given:
    ``max(32, n_components // 2)`` (the in-memory, Dask and streamed solvers)."""
    return max(_MIN_OVERSAMPLES, n_components // 2)


def n_random_vectors(n_components, n_oversamples, shape):
    """Width ``l = n_components + oversamples`` of the solver's tall blocks.

    ``n_oversamples`` None means :func:`default_n_oversamples`; more than
    ``min(shape) - n_components`` cannot help (the range is then exact) and
    is cut to that. Shared by every path of the randomized solver, so that a
    seed draws the same test matrix in memory, on Dask and streamed.
    """
    if n_oversamples is None:
        n_oversamples = default_n_oversamples(n_components)
    return n_components + max(0, min(n_oversamples, min(shape) - n_components))


def scale_by_power(S, power):
    """Return ``S**power`` with ``0**power = 0`` for ``power > 0`` (and all ones
    for ``power == 0``): the column scale of the word vectors ``U * S**power``."""
    return np.power(S, power) if power != 0 else np.ones_like(S)


def check_embedding_params(*, power, n_iter=None, n_oversamples=None):
    """Raise ValueError unless ``power`` is a number >= 0 and ``n_iter`` and
    ``n_oversamples`` are None or integers >= 0.

    The checks of :func:`svd_embed`, :func:`cooc.distributed.svd_embed_dask`
    and :func:`cooc.streaming.embed_cooc_file` (none of which needs the
    matrix for them).
    """
    if not isinstance(power, Real) or not 0 <= power < math.inf:
        raise InputError(
            f"power={power!r} must be a finite number >= 0 (--power; 0.15 is the "
            "default)."
        )
    for name, value in (("n_iter", n_iter), ("n_oversamples", n_oversamples)):
        if value is not None and (not isinstance(value, Integral) or value < 0):
            raise InputError(f"{name}={value!r} must be None or an integer >= 0.")


def check_embedding_shape(n_components, shape, *, add_context=False):
    """Raise ValueError unless ``1 <= n_components < min(shape)`` and, with
    ``add_context`` (w + c), the matrix is square."""
    check_n_components(n_components, shape)
    if add_context and shape[0] != shape[1]:
        raise InputError(
            f"add_context=True needs a square word-by-word matrix, got shape "
            f"{tuple(shape)}; use add_context=False."
        )


def check_matrix(matrix, dtype=np.float32):
    """``matrix`` as the solver takes it: a 2-D array, CSR or CSC matrix of
    ``dtype`` (float32 or float64; scikit-learn's ``check_array``, which
    also refuses NaN and infinity). Raises ValueError for another dtype."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(
            f"dtype={dtype!r} is not supported; use np.float32 or np.float64."
        )
    return check_array(
        matrix, accept_sparse=["csr", "csc"], dtype=dtype, input_name="matrix"
    )


def check_n_components(n_components, shape):
    """Raise ValueError unless ``n_components`` is an integer with
    ``1 <= n_components < min(shape)``; the message points at ``--rank``."""
    n_samples, n_features = shape
    if not isinstance(n_components, Integral) or isinstance(n_components, bool):
        raise InputError(
            f"n_components={n_components!r} must be an integer >= 1; set --rank."
        )
    if n_components < 1 or n_components >= min(shape):
        raise InputError(
            f"n_components={n_components!r} must be >= 1 and < min("
            f"n_samples={n_samples}, n_features={n_features}) = {min(shape)}; "
            "lower --rank (or min_count)."
        )


class MatrixOperator(Protocol):
    """A matrix ``A`` known only by its products with dense blocks.

    What :func:`randomized_operator_svd` and :func:`embed_operator` take: the
    in-memory :class:`CSROperator`, the Dask workers' row blocks
    (``cooc.distributed``), or any object with these attributes. ``times`` and
    ``t_times`` receive C-contiguous blocks of ``dtype`` and may write the
    result into ``out`` (a block of the result's shape that the solver no
    longer needs, or None) when they can. An operator may also have
    ``sketch(cols, signs, n_cols)``, returning ``A @ S`` for the sparse sign
    matrix ``S`` of :func:`sparse_sign` without making it dense; without it
    the solver passes ``times`` the dense ``S``.
    """

    shape: tuple[int, int]
    dtype: np.dtype

    def times(self, B, out=None):
        """``A @ B``, shape ``(shape[0], B.shape[1])``."""

    def t_times(self, B, out=None):
        """``A.T @ B``, shape ``(shape[1], B.shape[1])``."""


class _DenseOperator:
    """A dense array as a :class:`MatrixOperator`: numpy's products, BLAS
    threads as configured."""

    def __init__(self, X):
        self.X = np.asarray(X)
        self.shape, self.dtype = self.X.shape, self.X.dtype

    def times(self, B, out=None):
        return self.X @ B

    def t_times(self, B, out=None):
        return self.X.T @ B


class CSROperator:
    """A sparse matrix as a :class:`MatrixOperator`: cooc's multi-threaded
    CSR x dense products (as :func:`spmm`) with the matrix and a CSR copy of
    its transpose, and the sparse sign sketch without a dense test matrix.
    The results do not depend on ``n_jobs``."""

    def __init__(self, X, *, n_jobs=None):
        X = X.tocsr()
        self.shape, self.dtype = X.shape, X.dtype
        self.times = _CSRProduct(X, n_jobs=n_jobs)
        self.t_times = _CSRProduct(X.T.tocsr(), n_jobs=n_jobs)
        self.sketch = self.times.sketch


@contextlib.contextmanager
def _in_memory_operator(X, *, n_jobs=None):
    """Yields ``(operator, pool)`` for an in-memory matrix: the operator of
    ``X`` and the pool for the solver's dense steps (None: this thread).

    Sparse input: our threads for everything, BLAS on one thread per call
    (see :class:`DenseOps`). Dense input: numpy's products, no pool.
    """
    if not sp.issparse(X):
        yield _DenseOperator(X), None
        return
    threads = n_threads(n_jobs)
    executor = ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext()
    with threadpool_limits(limits=1, user_api="blas"), executor as pool:
        yield CSROperator(X, n_jobs=n_jobs), pool


def _svd_randomized(
    X, n_components, *, n_iter, n_oversamples, random_state, n_jobs=None,
    on_step=None,
):  # fmt: skip
    """Randomized SVD of an in-memory matrix (:func:`randomized_operator_svd`).

    Sparse input uses cooc's multi-threaded CSR x dense products (numba) and
    runs the dense steps on the same number of threads; dense input uses
    numpy's matrix products.
    """
    with _in_memory_operator(X, n_jobs=n_jobs) as (operator, pool):
        return randomized_operator_svd(
            operator,
            n_components,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            random_state=random_state,
            pool=pool,
            on_step=on_step,
        )


# Row blocks per column panel in `spmm`, taken by the threads as they come free:
# with one fixed block per thread, the product's time followed the slower
# core (0.66-1.0 s on the default PPMI matrix with 750 columns; 64 blocks:
# 0.68-0.69 s).
_SPMM_BLOCKS = 64


class _CSRProduct:
    """``A @ B`` for a CSR ``A`` and dense blocks ``B``, reusing one panel buffer.

    The columns of ``B`` are copied one panel (:data:`cooc._kernels.PANEL`
    wide) at a time into a C-contiguous buffer that the rows of ``A`` gather
    from, so the gathered rows come from cache; the buffer is kept for the
    next product (a solver making 14 products of 750 columns saves the page
    faults of a fresh 13 MB buffer each time). Within a panel, rows of the
    result are split into ``_SPMM_BLOCKS`` blocks of equal non-zero counts
    that the threads take in turn; each entry is summed by one kernel call in
    a fixed order, so the result does not depend on ``n_jobs``.
    """

    def __init__(self, A, *, n_jobs=None):
        self.A = A.tocsr() if not sp.isspmatrix_csr(A) else A

        self.n_threads = max(1, min(n_threads(n_jobs), self.A.shape[0]))
        cuts = row_cuts(self.A, _SPMM_BLOCKS)
        self.blocks = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
        self.panel = np.zeros((self.A.shape[1], _kernels.PANEL), dtype=self.A.dtype)

    def _pool(self):
        """A thread pool for the row blocks of one product (kept for all its
        panels), or a null context (None) on one thread."""
        threads = self.n_threads
        return ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext()

    def sketch(self, cols, signs, n_cols):
        """``A @ S`` for the sparse sign matrix ``S`` of :func:`sparse_sign`.

        A scatter of ``z`` values per non-zero of ``A`` into a row of the
        result, instead of a dense product (0.1 s against 0.7 s for 750
        columns on the default PPMI matrix).
        """
        A = self.A
        out = np.empty((A.shape[0], n_cols), dtype=A.dtype)
        signs = np.ascontiguousarray(signs, dtype=A.dtype)
        block_map(
            lambda a, b: _kernels.csr_sparse_sign(
                A.indptr, A.indices, A.data, cols, signs, out, a, b
            ),
            self.blocks,
            n_threads=self.n_threads,
        )
        return out

    def __call__(self, B, out=None):
        A, width = self.A, _kernels.PANEL
        B = np.asarray(B)
        k = B.shape[1]
        shape = (A.shape[0], k)
        if out is None:
            out = np.empty(shape, dtype=A.dtype)
        elif out.shape != shape or out.dtype != A.dtype or not out.flags.c_contiguous:
            raise InputError(
                f"out must be a C-ordered {A.dtype} array of shape {shape}; got "
                f"{out.dtype} {out.shape}."
            )
        panel = self.panel
        with self._pool() as pool:
            for c0 in range(0, k, width):
                cols = B[:, c0 : c0 + width]
                panel[:, : cols.shape[1]] = cols
                panel[:, cols.shape[1] :] = 0
                part = out[:, c0 : c0 + width]
                block_map(
                    lambda a, b, part=part: _kernels.csr_dense_panel(
                        A.indptr, A.indices, A.data, panel, part, a, b
                    ),
                    self.blocks,
                    pool=pool,
                )
        return out


def spmm(A, B, *, n_jobs=None, out=None):
    """``A @ B`` for a CSR matrix ``A`` and a dense ``B``, on threads.

    See :class:`_CSRProduct`: panels of ``B``'s columns in cache, rows of the
    result in blocks taken by the threads in turn; the result does not depend
    on ``n_jobs``. ``out``, a C-ordered array of the result's shape and
    ``A``'s dtype, receives the result when given.
    """
    return _CSRProduct(A, n_jobs=n_jobs)(B, out)


# How far the Gram route of `_eig_svd` is trusted: the largest ratio
# S[0] / S[-1] of the singular values of a tall block for which the Gram
# matrix, formed from the block's dtype, is used. The smallest eigenvalue of the
# Gram matrix then carries a relative rounding error of about eps * ratio**2
# (6 % for float32 at 1e3): harmless for a basis of the power iteration, and
# the last step refines it (`small_side_svd`). Beyond it the power iteration
# falls back to an LU basis and the last step to LAPACK's SVD.
_GRAM_MAX_RATIO = {np.dtype(np.float32): 1e3, np.dtype(np.float64): 1e6}

# The dense products of the solver are cut into this many row blocks, whatever
# the number of threads, so that sums are taken in the same order and the
# result does not depend on n_jobs.
_DENSE_BLOCKS = 8


class DenseOps:
    """The dense BLAS-3 steps of the randomized solver, on a pool of threads.

    ``pool`` is a ``concurrent.futures`` executor, or None for this thread.
    Tall blocks are cut into ``_DENSE_BLOCKS`` row blocks; each thread calls
    single-threaded BLAS on its blocks (the solver runs under a one-thread BLAS
    limit). On a shared 2-core machine OpenBLAS's own threads, which spin while
    they wait, made the same products several times slower and slowed the
    numba threads of the sparse products down as well; splitting the work
    ourselves keeps one thread per core busy. The blocks do not depend on the
    pool, so neither do the results. :mod:`cooc.streaming` offers the same
    methods (``gram``, ``solve_upper``, ``matmul``) for blocks on disk.
    """

    def __init__(self, pool):
        self.pool = pool

    def _slices(self, n_rows):
        cuts = np.linspace(0, n_rows, _DENSE_BLOCKS + 1).astype(np.int64)
        return [slice(a, b) for a, b in itertools.pairwise(cuts) if b > a]

    def _map(self, fn, items):
        return block_map(fn, [(x,) for x in items], pool=self.pool)

    def gram(self, Y):
        """``Y^T Y`` in float64 (block products in Y's dtype, summed in float64)."""
        parts = self._map(lambda s: Y[s].T @ Y[s], self._slices(Y.shape[0]))
        gram = np.zeros((Y.shape[1], Y.shape[1]), dtype=np.float64)
        for part in parts:
            gram += part
        return gram

    def solve_upper(self, Y, R):
        """``Y @ inv(R)`` for an upper triangular ``R``, written over ``Y``.

        BLAS ``trsm`` on each row block (half the work of a general product).
        ``Y`` is C-contiguous, so each block's transpose is a Fortran-ordered
        right-hand side that ``trsm`` solves in place: ``R^-T Y^T``, and the
        C-ordered ``R`` is the Fortran-ordered lower triangular ``R^T``.
        ``trsm`` is called through ctypes, which releases the GIL, so the
        blocks run in parallel (scipy's own ``strsm`` wrapper holds it: 0.26 s
        per 52k x 750 block on two threads, against 0.13 s).
        """
        trsm = _blas_trsm(Y.dtype)
        c_real = ctypes.c_float if Y.dtype == np.float32 else ctypes.c_double
        R = np.ascontiguousarray(R, dtype=Y.dtype)
        flags = [ctypes.c_char(c) for c in (b"L", b"L", b"N", b"N")]
        order = ctypes.c_int(Y.shape[1])
        one = c_real(1.0)

        def run(s):
            block = Y[s]
            rows = ctypes.c_int(block.shape[0])
            trsm(
                *(ctypes.byref(f) for f in flags),
                ctypes.byref(order),
                ctypes.byref(rows),
                ctypes.byref(one),
                R.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(order),
                block.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(order),
            )

        self._map(run, self._slices(Y.shape[0]))
        return Y

    def axpy(self, a, X, Y):
        """``Y += a * X`` in place, without a temporary (BLAS ``axpy`` per block)."""
        axpy = blas.saxpy if Y.dtype == np.float32 else blas.daxpy
        X = np.ascontiguousarray(X, dtype=Y.dtype)

        def run(s):
            axpy(X[s].ravel(), Y[s].ravel(), a=a)

        self._map(run, self._slices(Y.shape[0]))
        return Y

    def matmul(self, Y, W):
        """``Y @ W`` for a tall ``Y`` and a small ``W`` (cast to Y's dtype)."""
        W = np.ascontiguousarray(W, dtype=Y.dtype)
        out = np.empty((Y.shape[0], W.shape[1]), dtype=Y.dtype)

        def run(s):
            np.matmul(Y[s], W, out=out[s])

        self._map(run, self._slices(Y.shape[0]))
        return out


# Non-zeros per row of the sparse sign test matrix (Tropp et al. 2019 and
# Martinsson & Tropp 2020 recommend 8): on the PPMI matrix of the development
# corpus, as accurate as a Gaussian test matrix (500th singular value 0.93-0.95 %
# low against 0.92-0.96 %, 5 iterations), and its product with a sparse matrix
# is a scatter of 8 values per non-zero instead of a dense product.
_SIGN_NONZEROS = 8


def sparse_sign(random_state, n_rows, n_cols, dtype):
    """The rows of a random sparse sign matrix: ``(cols, signs)``, both ``(n_rows, z)``.

    The randomized solver's test matrix (in memory, on Dask and streamed).
    Row ``j`` has ``z = min(_SIGN_NONZEROS, n_cols)`` entries of value
    ``+-1`` in the columns ``cols[j]``, drawn with replacement (a repeated
    column adds up; harmless for a test matrix). One integer drawn from
    ``random_state`` (a ``RandomState``) seeds numpy's ``Generator``.
    """
    zeta = min(_SIGN_NONZEROS, n_cols)
    rng = np.random.default_rng(int(random_state.randint(np.iinfo(np.int32).max)))
    cols = rng.integers(0, n_cols, size=(n_rows, zeta), dtype=np.int32)
    signs = (2 * rng.integers(0, 2, size=(n_rows, zeta)) - 1).astype(dtype)
    return cols, signs


def _sparse_sign_dense(cols, signs, n_cols):
    """The sparse sign matrix of :func:`sparse_sign` as a dense array."""
    out = np.zeros((cols.shape[0], n_cols), dtype=signs.dtype)
    rows = np.repeat(np.arange(cols.shape[0]), cols.shape[1])
    np.add.at(out, (rows, cols.ravel()), signs.ravel())
    return out


def gram_usable(w, dtype):
    """Whether Gram eigenvalues ``w`` (descending) are within ``_GRAM_MAX_RATIO``.

    That is, whether a basis or an SVD made from the Gram matrix of a tall
    block of ``dtype`` is accurate enough (:func:`cholesky_basis`,
    :func:`small_side_svd`); when not, the solvers take LAPACK (in memory) or
    a tall-skinny QR (streamed) instead.
    """
    limit = _GRAM_MAX_RATIO.get(np.dtype(dtype), 1e6)
    return w[-1] > 0 and w[0] <= limit**2 * w[-1]


def _eig_svd(Y, ops, *, vectors=True):
    """Thin SVD ``Y = U diag(S) V^T`` of a tall block through ``eigh(Y^T Y)``.

    Two matrix products and the eigen-decomposition of a small square matrix:
    cheaper than a QR factorisation of the tall block, and unlike an LU
    factorisation it yields an orthonormal basis and the singular values (the
    shifted iteration needs both). The Gram matrix squares the condition
    number, so the result is ``None`` when ``S[0] / S[-1]`` exceeds
    ``_GRAM_MAX_RATIO`` for the dtype (the caller then uses LAPACK instead).
    ``S`` is float64 and descending; ``U`` has the dtype of ``Y`` (None
    unless ``vectors``).
    """
    w, V = linalg.eigh(ops.gram(Y), check_finite=False, overwrite_a=True)
    w, V = w[::-1], V[:, ::-1]
    if not gram_usable(w, Y.dtype):
        return None
    S = np.sqrt(w)
    U = ops.matmul(Y, V / S) if vectors else None
    return U, S, V


@functools.cache
def _blas_trsm(dtype):
    """The BLAS ``strsm``/``dtrsm`` that scipy links, as a ctypes function."""
    name = "strsm" if np.dtype(dtype) == np.float32 else "dtrsm"
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 11)(address)


def cholesky_basis(Y, ops):
    """An orthonormal basis of the columns of a tall block, and its singular values.

    ``Y = Q R`` with ``R`` the Cholesky factor of ``Y^T Y``, so
    ``Q = Y R^{-1}`` (a triangular solve, half the work of the product
    :func:`_eig_svd` ends with); the singular values come from the
    eigenvalues of the same Gram matrix. The basis is as orthonormal as
    :func:`_eig_svd`'s (both square the condition number), but it is not the
    singular-vector basis, which the power iteration does not need. ``Y`` is
    overwritten by ``Q``. Returns ``(Q, S)`` with ``S`` float64 and
    descending, or ``None`` when :func:`gram_usable` refuses the block (or
    the factorisation fails). ``ops`` does the tall steps: a :class:`DenseOps`,
    or the streamed embedding's equivalent for blocks on disk.
    """
    gram = ops.gram(Y)
    w = linalg.eigvalsh(gram, check_finite=False)[::-1]
    if not gram_usable(w, Y.dtype):
        return None
    try:
        R = linalg.cholesky(gram, lower=False, overwrite_a=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    return ops.solve_upper(Y, R), np.sqrt(w)


def randomized_operator_svd(
    operator,
    n_components,
    *,
    n_iter=None,
    n_oversamples=None,
    random_state=None,
    pool=None,
    on_step=None,
):
    """Randomized SVD of a matrix ``X`` known only by its products with blocks.

    ``operator`` is a :class:`MatrixOperator` (``X.shape``, ``X.dtype``,
    ``X @ B``, ``X.T @ B``); ``pool`` (a ``concurrent.futures`` executor or
    None) runs the dense steps. ``n_iter`` None means
    :data:`DEFAULT_N_ITER`; ``n_oversamples`` None means
    :func:`default_n_oversamples` (see :func:`n_random_vectors`);
    ``random_state`` is anything :func:`sklearn.utils.check_random_state`
    takes. Returns ``U (n, k), S (k,), Vt (k, m)`` with ``S`` descending
    (signs not fixed; :func:`embed_operator` fixes them).

    Halko et al.'s subspace iteration on ``X X^T`` with the dynamic shift of
    Feng et al. (dashSVD): each step applies ``X X^T - alpha I`` to an
    orthonormal basis ``Q`` of ``l = n_components + n_oversamples`` columns,
    where ``alpha`` grows towards half the smallest of the ``l`` wanted
    eigenvalues. The shift leaves the wanted directions dominant and makes the
    unwanted ones (eigenvalues below ``2 alpha``) shrink faster: on the
    52k x 52k PPMI matrix of the development corpus, whose spectrum decays
    slowly, 5 shifted steps matched the accuracy of 7 plain ones (against
    ARPACK). The basis is re-orthonormalised once per step through the Gram
    matrix (:func:`cholesky_basis`), which also gives the singular values that
    update ``alpha``. The test matrix is a sparse sign matrix
    (:func:`sparse_sign`, seeded by one draw from ``random_state``);
    ``operator.sketch(cols, signs, l)``, when the operator has it, multiplies
    by it without making it dense. ``on_step()``, when given, is called after
    the sketch, each power step and the final product (``n_iter + 2`` calls).
    """
    n_iter = DEFAULT_N_ITER if n_iter is None else n_iter
    random_state = check_random_state(random_state)
    times, t_times = operator.times, operator.t_times
    dtype = operator.dtype
    ops = DenseOps(pool)
    step_done = on_step if on_step is not None else (lambda: None)
    n, m = shape = operator.shape
    n_random = n_random_vectors(n_components, n_oversamples, shape)
    cols, signs = sparse_sign(random_state, m, n_random, dtype)
    sketch = getattr(operator, "sketch", None)
    if sketch is not None:
        Y = sketch(cols, signs, n_random)
    else:
        Y = times(_sparse_sign_dense(cols, signs, n_random))
    del cols, signs
    alpha = 0.0
    Q, orthonormal = None, False
    # Blocks handed back to the products for reuse (fresh 150 MB blocks cost
    # page faults each step): an n x l block no longer needed, and X^T Q.
    spare = Z = None
    for step in range(n_iter + 1):
        if step > 0:
            Z = t_times(Q, out=_reusable(Z, (m, n_random), dtype))
            Y = times(Z, out=_reusable(spare, (n, n_random), dtype))
            spare = None
            if alpha > 0:
                ops.axpy(-alpha, Q, Y)  # the shift, in place
        found = cholesky_basis(Y, ops)  # on success the basis overwrites Y
        if found is None:
            # Too ill-conditioned for the Gram route: any basis of the span
            # will do for the next step (the shifted product does not need an
            # orthonormal one), and LU is cheaper than QR.
            basis = np.ascontiguousarray(
                linalg.lu(Y, permute_l=True, check_finite=False)[0]
            )
            orthonormal = False
            spare = Y
        else:
            basis, S_step = found
            orthonormal = True
            # S_step[-1] estimates (the l-th eigenvalue of X X^T) - alpha, and
            # never overestimates it, so alpha stays below half that eigenvalue.
            if step > 0 and S_step[-1] > alpha:
                alpha = (alpha + S_step[-1]) / 2
        if Q is not None:
            spare = Q
        Q = basis
        del Y, basis
        step_done()
    if not orthonormal:
        Q = np.ascontiguousarray(linalg.qr(Q, mode="economic", check_finite=False)[0])
    # X^T Q = (Q^T X)^T, shape (m, l)
    Bt = t_times(Q, out=_reusable(Z, (m, n_random), dtype))
    k = n_components
    Ub, S, Vb = small_side_svd(Bt, k, ops)
    # X ~ Q Q^T X = Q Bt^T = (Q Vb) diag(S) Ub^T
    U = ops.matmul(Q, Vb[:, :k])
    step_done()
    return U, S[:k], Ub[:, :k].T


def _reusable(block, shape, dtype):
    """``block`` if it can receive a product of ``shape`` and ``dtype``, else None."""
    if (
        block is not None
        and block.shape == shape
        and block.dtype == dtype
        and block.flags.c_contiguous
        and block.flags.writeable
    ):
        return block
    return None


# `small_side_svd` takes a second Gram pass only when the block's singular
# values spread more than this: one pass leaves the smallest value with a
# relative error of about eps * ratio**2 / 2 (3e-4 in float32 at 100; the PPMI
# matrices of the development corpus have ratios of 10-20 over the top 750).
_ONE_PASS_MAX_RATIO = 100.0


def small_side_svd(B, n_vectors, ops):
    """Accurate thin SVD ``B = U diag(S) V^T`` of a tall block.

    The last step of the randomized solver (``B = X^T Q``). The
    eigen-decomposition of the Gram matrix gives ``S`` and ``V``; when the
    singular values spread more than ``_ONE_PASS_MAX_RATIO``, a second pass on
    the nearly orthonormal result of the first (which is well conditioned)
    brings them to about the dtype's precision relative to each value, and
    LAPACK's SVD is used when the first pass is refused. Only the first
    ``n_vectors`` columns of ``U`` are returned; ``S`` and ``V`` are float64.
    ``ops`` does the tall steps, as for :func:`cholesky_basis`.
    """
    first = _eig_svd(B, ops, vectors=False)
    if first is None:
        U, S, Vt = linalg.svd(B, full_matrices=False, check_finite=False)
        return U[:, :n_vectors], S.astype(np.float64), Vt.T.astype(np.float64)
    _, S1, V1 = first
    if S1[0] <= _ONE_PASS_MAX_RATIO * S1[-1]:
        U = ops.matmul(B, V1[:, :n_vectors] / S1[:n_vectors])
        return U, S1, V1
    U1 = ops.matmul(B, V1 / S1)
    second = _eig_svd(U1, ops, vectors=False)
    if second is None:  # pragma: no cover - U1 is nearly orthonormal
        U, S, Vt = linalg.svd(B, full_matrices=False, check_finite=False)
        return U[:, :n_vectors], S.astype(np.float64), Vt.T.astype(np.float64)
    _, S2, V2 = second
    # B = U1 diag(S1) V1^T and U1 = U2 diag(S2) V2^T, so B = U2 M with the
    # small M = diag(S2) V2^T diag(S1) V1^T; its SVD finishes the job, and
    # U = U2 Um = U1 (V2 / S2) Um.
    M = (S2[:, None] * V2.T * S1) @ V1.T
    Um, S, Vmt = linalg.svd(M, check_finite=False)
    U = ops.matmul(U1, (V2 / S2) @ Um[:, :n_vectors])
    return U, S, Vmt.T


def _svd_arpack(
    X, n_components, *, n_iter, n_oversamples, random_state, n_jobs=None,
    on_step=None,
):  # fmt: skip
    """ARPACK Lanczos (``scipy.sparse.linalg.svds``) in float64, sorted descending."""
    v0 = random_state.uniform(-1, 1, min(X.shape))
    X64 = X.astype(np.float64, copy=False)
    U, S, Vt = svds(X64, k=n_components, v0=v0, solver="arpack")
    order = np.argsort(S)[::-1]
    return U[:, order], S[order], Vt[order]


# The one place that maps a solver name to its implementation. Each takes a
# validated 2-D float matrix and returns (U, S, Vt) with S descending.
_SOLVERS = {"randomized": _svd_randomized, "arpack": _svd_arpack}


def truncated_svd(
    X, n_components, *, solver="randomized", n_iter=None, n_oversamples=None,
    random_state=None, n_jobs=None, on_step=None,
):  # fmt: skip
    """Return ``U (n, k), S (k,), Vt (k, m)`` of ``X``, S descending, signs fixed.

    ``X`` is a validated 2-D float matrix (:func:`check_matrix`); ``solver``,
    ``n_iter``, ``n_oversamples``, ``random_state``, ``n_jobs`` and
    ``on_step`` are those of :func:`svd_embed`. Signs follow
    :func:`sklearn.utils.extmath.svd_flip` with ``u_based_decision=True``: the
    largest entry of each column of U is positive. The results have the dtype
    of ``X``. :class:`SVDEmbedding` keeps these factors; :func:`svd_embed`
    turns them into word vectors.
    """
    if solver not in _SOLVERS:
        raise InputError(f"solver={solver!r} is not one of {sorted(_SOLVERS)}.")
    random_state = check_random_state(random_state)
    _log_svd(X.shape, n_components, solver)
    U, S, Vt = _SOLVERS[solver](
        X,
        n_components,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
        n_jobs=n_jobs,
        on_step=on_step,
    )
    return _fixed_signs(U, S, Vt, X.dtype)


def _log_svd(shape, n_components, solver):
    logger.info(
        "truncated SVD of a %d x %d matrix, rank %d, solver %s",
        shape[0],
        shape[1],
        n_components,
        solver,
    )


def _fixed_signs(U, S, Vt, dtype):
    """``U, S, Vt`` in ``dtype`` with the signs of ``svd_flip`` (u-based)."""
    U, Vt = svd_flip(
        np.array(U, dtype=dtype), np.array(Vt, dtype=dtype), u_based_decision=True
    )
    return U, np.asarray(S, dtype=dtype), Vt


def _word_vectors(U, S, Vt, *, power, add_context):
    """``(U * S**power (+ V * S**power), S)``: the vectors of :func:`svd_embed`."""
    scale = scale_by_power(S, power)
    vectors = U * scale
    if add_context:
        vectors += Vt.T * scale
    return vectors, S


def embed_operator(
    operator,
    n_components,
    *,
    power=DEFAULT_POWER,
    n_iter=None,
    n_oversamples=None,
    add_context=False,
    random_state=None,
    pool=None,
    on_step=None,
):
    """Word vectors of a matrix known by its products: the one embedding routine.

    The randomized solver of :func:`svd_embed`, for any
    :class:`MatrixOperator`: :func:`svd_embed` calls it with the in-memory
    products, :func:`cooc.distributed.svd_embed_dask` with the products of
    row blocks held by Dask workers. It checks the parameters
    (:func:`check_embedding_params`, :func:`check_embedding_shape`), runs
    :func:`randomized_operator_svd` (sparse sign test matrix, shifted power
    iteration, small-side SVD), fixes the signs as
    :func:`sklearn.utils.extmath.svd_flip` does (u-based) and returns
    ``(U * S**power (+ V * S**power with add_context), S)`` in the operator's
    dtype. ``pool`` runs the dense steps (None: this thread); ``on_step`` is
    called after each of the ``n_iter + 2`` steps. Parameters otherwise as in
    :func:`svd_embed`.
    """
    check_embedding_params(power=power, n_iter=n_iter, n_oversamples=n_oversamples)
    check_embedding_shape(n_components, operator.shape, add_context=add_context)
    _log_svd(operator.shape, n_components, "randomized")
    U, S, Vt = randomized_operator_svd(
        operator,
        n_components,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
        pool=pool,
        on_step=on_step,
    )
    U, S, Vt = _fixed_signs(U, S, Vt, operator.dtype)
    return _word_vectors(U, S, Vt, power=power, add_context=add_context)


# The defaults of `cooc embed` and `embed_cooccurrence`, chosen with
# benchmarks/sweep_embeddings.py on the 10.5M-token development corpus (window
# 15 counts, see `cooc.cooccurrence.DEFAULT_WINDOW`): rank 500 and eigenvalue
# power 0.15 on the default 1/d**1.25 counts (`DEFAULT_DECAY`) reached
# WordSim-353 >= 0.65, SimLex-999 >= 0.31 and MEN >= 0.70 together for each of
# four SVD seeds (0.656-0.663, 0.313-0.316, 0.704-0.706; plan `decay`). Rank
# 300 loses about 0.01 on SimLex; power 0.25-0.5 gains on MEN and WS353 and
# loses on SimLex, power 0-0.1 the reverse.
DEFAULT_RANK = 500


def default_rank(shape) -> int:
    """``DEFAULT_RANK``, or ``min(shape) - 1`` for a smaller matrix."""
    return max(1, min(DEFAULT_RANK, min(shape) - 1))


def check_rank(n_components, cooc) -> int:
    """The rank to use for ``cooc`` (anything with ``shape`` and
    ``vocabulary``): :func:`default_rank` for None, else ``n_components``
    after checking ``1 <= n_components < min(cooc.shape)``."""
    if n_components is None:
        return default_rank(cooc.shape)
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise InputError(
            f"n_components={n_components!r} must be a positive int (--rank)."
        )
    if n_components >= min(cooc.shape):
        raise InputError(
            f"n_components={n_components} must be < the matrix size {min(cooc.shape)} "
            f"(vocabulary of {len(cooc.vocabulary)} words); lower --rank or min_count."
        )
    return int(n_components)


def svd_embed(
    matrix,
    n_components=128,
    *,
    power=DEFAULT_POWER,
    solver="randomized",
    n_iter=None,
    n_oversamples=None,
    add_context=False,
    random_state=None,
    dtype=np.float32,
    n_jobs=None,
    on_step=None,
):
    """Embed the rows of a weighted co-occurrence matrix by truncated SVD.

    With ``matrix ~ U S V^T`` (rank ``n_components``), the word vectors are
    ``U * S**power``; with ``add_context=True`` the context vectors
    ``V * S**power`` are added (``w + c``, Levy et al. 2015), which needs a
    square word-by-word matrix.

    Parameters
    ----------
    matrix : {array-like, sparse matrix} of shape (n_words, n_contexts)
        The weighted matrix, typically the output of :func:`cooc.weighting.ppmi`.
    n_components : int, default=128
        Number of dimensions; must be < ``min(matrix.shape)``. The CLI calls
        it ``--rank``.
    power : float, default=0.15
        Eigenvalue weighting exponent ``p >= 0``: ``0`` keeps only U, ``1``
        is the classic ``U S`` (what :class:`sklearn.decomposition.TruncatedSVD`
        returns), ``0.5`` is symmetric and usually best for similarity tasks.
    solver : {"randomized", "arpack"}, default="randomized"
        ``"randomized"``: randomized subspace iteration with dynamic shifts
        (Halko et al. with the shift of Feng et al.), multi-threaded for
        sparse input, fast. ``"arpack"``:
        :func:`scipy.sparse.linalg.svds` in float64, accurate in the tail of
        the spectrum, slower.
    n_iter : int, default=None
        Power iterations of the randomized solver; None means 5. Ignored by
        ARPACK.
    n_oversamples : int, default=None
        Extra random vectors of the randomized solver; None means
        ``max(32, n_components // 2)``. Ignored by ARPACK.
    add_context : bool, default=False
        Return ``U * S**power + V * S**power``. Only for square matrices.
    random_state : int, RandomState instance or None, default=None
        Seeds the random test matrix (randomized) or the start vector
        (ARPACK). Pass an int for reproducible output.
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the matrix during the computation and of the results.
    n_jobs : int or None, default=None
        Threads of the randomized solver on sparse input (None: all cores).
        The result does not depend on it.
    on_step : callable or None, default=None
        Called with no arguments after each of the randomized solver's
        ``n_iter + 2`` steps (sketch, power steps, final product), for
        progress; not called by ARPACK.

    Returns
    -------
    vectors : ndarray of shape (n_words, n_components)
        The word vectors.
    singular_values : ndarray of shape (n_components,)
        The singular values, in descending order.

    Raises
    ------
    ValueError
        If ``n_components >= min(matrix.shape)``, or if ``add_context`` is
        set for a non-square matrix.

    See Also
    --------
    SVDEmbedding : The same as a scikit-learn transformer.
    cooc.weighting.ppmi : The usual input weighting.

    Notes
    -----
    Signs are made deterministic with :func:`sklearn.utils.extmath.svd_flip`
    (the largest entry of each column of U is positive).

    The randomized defaults were measured against ARPACK on the PPMI matrix
    of a 10 M-token English corpus (52,000 x 52,000, 14 M nonzeros). With
    ``max(32, k // 2)`` oversamples, plain subspace iteration (scikit-learn's
    ``randomized_svd``) with 7 iterations leaves the k-th singular value
    1.0 % low at k = 128 and 300; the shifted iteration used here gets the
    same with 5 iterations (the default) and 0.54 % / 0.57 % with 6. The test
    matrix is a sparse sign matrix (8 non-zeros a row), as accurate there as a
    Gaussian one and cheaper to multiply by. Singular
    values are never overestimated, and the error shrinks from the tail to
    the head of the spectrum. Float32 is as accurate as float64 here and
    twice as fast. Time O(n_iter * nnz * (n_components + n_oversamples));
    memory a few dense ``(n_words, n_components + n_oversamples)`` blocks and
    a transposed copy of a sparse matrix.

    References
    ----------
    .. [1] N. Halko, P.-G. Martinsson and J. A. Tropp, "Finding structure
       with randomness", SIAM Review 53(2), 2011.
    .. [2] O. Levy, Y. Goldberg and I. Dagan, "Improving distributional
       similarity with lessons learned from word embeddings", TACL 3, 2015.
    .. [3] X. Feng, W. Yu, Y. Xie and J. Tang, "Algorithm 1043: Faster
       randomized SVD with dynamic shifts", ACM Transactions on
       Mathematical Software, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.svd import svd_embed
    >>> X = np.random.default_rng(0).random((6, 5))
    >>> vectors, s = svd_embed(X, n_components=2, random_state=0)
    >>> vectors.shape, vectors.dtype, bool(s[0] >= s[1])
    ((6, 2), dtype('float32'), True)
    """
    if solver not in _SOLVERS:
        raise InputError(f"solver={solver!r} is not one of {sorted(_SOLVERS)}.")
    check_embedding_params(power=power, n_iter=n_iter, n_oversamples=n_oversamples)
    X = check_matrix(matrix, dtype)
    check_embedding_shape(n_components, X.shape, add_context=add_context)
    if solver == "randomized":
        with _in_memory_operator(X, n_jobs=n_jobs) as (operator, pool):
            return embed_operator(
                operator,
                n_components,
                power=power,
                n_iter=n_iter,
                n_oversamples=n_oversamples,
                add_context=add_context,
                random_state=random_state,
                pool=pool,
                on_step=on_step,
            )
    U, S, Vt = truncated_svd(
        X,
        n_components,
        solver=solver,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
        n_jobs=n_jobs,
        on_step=on_step,
    )
    return _word_vectors(U, S, Vt, power=power, add_context=add_context)


class SVDEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Truncated SVD with eigenvalue weighting, for word embeddings.

    ``fit`` computes ``X ~ U S V^T`` of rank ``n_components``;
    ``fit_transform`` returns ``U * S**power``. ``transform`` projects new
    rows onto the same space, scaled so that ``transform(X_train)`` equals
    ``fit_transform(X_train)``.

    Parameters
    ----------
    n_components : int, default=128
        Number of dimensions; must be < ``min(X.shape)``. The CLI calls it
        ``--rank`` (default 500 there, for corpora; 128 here because a
        transformer often meets matrices too small for 500).
    power : float, default=0.15
        Eigenvalue weighting exponent ``p >= 0``; 0.15 as ``cooc embed``
        (chosen with benchmarks/sweep_embeddings.py; 0.5 in cooc 0.1).
    solver : {"randomized", "arpack"}, default="randomized"
        SVD back end; see :func:`svd_embed`.
    n_iter : int, default=None
        Power iterations of the randomized solver; None means 5.
    random_state : int, RandomState instance or None, default=None
        Seeds the solver. Pass an int for reproducible output.
    n_jobs : int or None, default=None
        Threads for the sparse products (None: all cores); no effect on the
        result.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features_in_)
        Right singular vectors ``V^T``.
    singular_values_ : ndarray of shape (n_components,)
        Singular values, descending.
    explained_variance_ : ndarray of shape (n_components,)
        Variance over the training rows of the projection of ``X`` on each
        component (``X @ components_.T``), float64.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        ``explained_variance_`` divided by the total variance of ``X``'s
        columns, as :class:`sklearn.decomposition.TruncatedSVD` defines it
        (``X`` is not centred, so the ratios need not be in descending
        order); zeros when ``X`` has no variance.
    n_features_in_ : int
        Number of columns seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` is a DataFrame with string column names.

    See Also
    --------
    svd_embed : The array function.
    cooc.weighting.PPMITransformer : The usual preceding step.
    sklearn.decomposition.TruncatedSVD : The same factorisation with
        ``power=1`` (its ``transform`` is ``X @ components_.T``).

    Notes
    -----
    ``transform(X) = X @ components_.T * singular_values_**(power - 1)``.
    Since ``X_train @ V = U S``, this gives ``U * S**power`` on the training
    data (exactly for ARPACK, up to the randomized approximation error
    otherwise). scikit-learn's ``TruncatedSVD.transform`` corresponds to
    ``power=1``. Directions with a zero singular value map to 0.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.svd import SVDEmbedding
    >>> X = np.random.default_rng(0).random((6, 5)).astype(np.float32)
    >>> est = SVDEmbedding(n_components=2, random_state=0)
    >>> Y = est.fit_transform(X)
    >>> Y.shape, Y.dtype, bool(np.allclose(est.transform(X), Y, atol=1e-5))
    ((6, 2), dtype('float32'), True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "power": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions(set(_SOLVERS))],
        "n_iter": [Interval(Integral, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components=128,
        *,
        power=DEFAULT_POWER,
        solver="randomized",
        n_iter=None,
        random_state=None,
        n_jobs=None,
    ):
        self.n_jobs = n_jobs
        self.n_components = n_components
        self.power = power
        self.solver = solver
        self.n_iter = n_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the truncated SVD of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training matrix, e.g. PPMI weights.
        y : None
            Ignored.

        Returns
        -------
        self : SVDEmbedding
            The fitted estimator.
        """
        self.fit_transform(X)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit the truncated SVD of X and return ``U * S**power``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training matrix, e.g. PPMI weights.
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The embedding of the rows of X, same float dtype as X.
        """
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32]
        )
        check_n_components(self.n_components, X.shape)
        U, S, Vt = truncated_svd(
            X,
            self.n_components,
            solver=self.solver,
            n_iter=self.n_iter,
            n_oversamples=None,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        self.components_ = Vt
        self.singular_values_ = S
        self._explained_variance(X)
        return U * scale_by_power(S, self.power)

    def _explained_variance(self, X):
        """``explained_variance_(ratio_)`` as ``TruncatedSVD`` computes them:
        the variance of ``X @ V`` (not ``U * S``, which the randomized solver
        only approximates) over the total variance of ``X``'s columns."""
        projected = np.asarray(safe_sparse_dot(X, self.components_.T), dtype=np.float64)
        self.explained_variance_ = np.var(projected, axis=0)
        if sp.issparse(X):
            _, column_var = mean_variance_axis(X.astype(np.float64, copy=False), axis=0)
        else:
            column_var = np.var(np.asarray(X, dtype=np.float64), axis=0)
        total = float(np.sum(column_var))
        if total > 0:
            self.explained_variance_ratio_ = self.explained_variance_ / total
        else:
            self.explained_variance_ratio_ = np.zeros_like(self.explained_variance_)

    def transform(self, X):
        """Project X onto the fitted singular vectors, scaled by ``S**(power - 1)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to embed, over the columns seen in fit.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The embedding, same float dtype as X.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )
        S = self.singular_values_.astype(X.dtype, copy=False)
        scale = np.zeros_like(S)
        positive = S > 0
        scale[positive] = S[positive] ** (self.power - 1)
        projected = safe_sparse_dot(X, self.components_.T.astype(X.dtype, copy=False))
        return np.asarray(projected * scale, dtype=X.dtype)

    @property
    def _n_features_out(self):
        """Number of output features, for ``get_feature_names_out``."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
