"""Truncated SVD embeddings of weighted co-occurrence matrices, and word vectors.

:func:`svd_embed` turns a (PPMI) matrix of shape ``(n_words, n_contexts)``
into word vectors ``U * S**power``; :class:`SVDEmbedding` is the same as a
scikit-learn transformer; :class:`Embeddings` pairs vectors with their tokens,
answers nearest-neighbour queries and reads and writes the word2vec formats.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy import linalg
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

from cooc import _kernels
from cooc._compat import (
    Interval,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from cooc.files import atomic_write, base_suffix, compression_of, read_all_bytes
from cooc.parallel import n_threads, row_cuts

__all__ = ["Embeddings", "SVDEmbedding", "as_embeddings", "svd_embed"]

logger = logging.getLogger(__name__)

# Defaults of the randomized solver, chosen against ARPACK on the PPMI matrix
# of the development corpus (52k x 52k, 25M nonzeros, rank 500 with 250
# oversamples): 5 shifted power iterations leave the 500th singular value
# 0.9 % low (6: 0.5 %, 15 % more time), and the word vectors scored the same
# on WS353, SimLex-999 and MEN within the spread of the seeds (0.658-0.662,
# 0.311-0.316, 0.703-0.706 over four seeds, against 0.656-0.663,
# 0.313-0.316, 0.704-0.706 with 6). See benchmarks/bench_svd.py.
_DEFAULT_N_ITER = 5
_MIN_OVERSAMPLES = 32


def _default_n_oversamples(n_components):
    """Oversampling of the randomized solver: ``max(32, n_components // 2)``."""
    return max(_MIN_OVERSAMPLES, n_components // 2)


def _check_n_components(n_components, shape):
    """Raise ValueError unless ``1 <= n_components < min(shape)``."""
    n_samples, n_features = shape
    if not isinstance(n_components, Integral) or isinstance(n_components, bool):
        raise ValueError(
            f"n_components={n_components!r} must be an integer >= 1; set --rank."
        )
    if n_components < 1 or n_components >= min(shape):
        raise ValueError(
            f"n_components={n_components!r} must be >= 1 and < min("
            f"n_samples={n_samples}, n_features={n_features}) = {min(shape)}; "
            "lower --rank (or min_count)."
        )


def _svd_randomized(
    X, n_components, *, n_iter, n_oversamples, random_state, n_jobs=None,
    on_step=None,
):  # fmt: skip
    """Randomized SVD by shifted subspace iteration (:func:`_randomized_operator_svd`).

    Sparse input uses cooc's multi-threaded CSR x dense products (numba) and
    runs the dense steps on the same number of threads; dense input uses
    numpy's matrix products.
    """
    n_iter = _DEFAULT_N_ITER if n_iter is None else n_iter
    if n_oversamples is None:
        n_oversamples = _default_n_oversamples(n_components)
    # More than min(shape) random vectors cannot help: the range is then exact.
    n_oversamples = max(0, min(n_oversamples, min(X.shape) - n_components))
    if not sp.issparse(X):
        # Dense input: numpy's products, BLAS threads as configured.
        X = np.asarray(X)
        return _randomized_operator_svd(
            lambda B, out=None: X @ B,
            lambda B, out=None: X.T @ B,
            X.shape,
            X.dtype,
            n_components,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            random_state=random_state,
            on_step=on_step,
        )
    from threadpoolctl import threadpool_limits

    X = X.tocsr()
    Xt = X.T.tocsr()
    n_threads = _n_threads(n_jobs)
    # Sparse input: our threads for everything, BLAS on one thread per call
    # (see _DenseOps).
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(n_threads) if n_threads > 1 else nullcontext() as pool,
    ):
        return _randomized_operator_svd(
            _CSRProduct(X, n_jobs=n_jobs),
            _CSRProduct(Xt, n_jobs=n_jobs),
            X.shape,
            X.dtype,
            n_components,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            random_state=random_state,
            pool=pool,
            on_step=on_step,
        )


_n_threads = n_threads  # (the old name, for callers)


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

        self.n_threads = max(1, min(_n_threads(n_jobs), self.A.shape[0]))
        cuts = row_cuts(self.A, _SPMM_BLOCKS)
        self.blocks = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
        self.panel = np.zeros((self.A.shape[1], _kernels.PANEL), dtype=self.A.dtype)

    def _pool(self):
        """A thread pool for the row blocks, or a null context on one thread."""
        threads = self.n_threads
        return ThreadPoolExecutor(threads) if threads > 1 else nullcontext()

    def _run_blocks(self, pool, fn):
        """Call ``fn(row_lo, row_hi)`` for every row block, on ``pool`` if any."""
        if pool is None:
            for a, b in self.blocks:
                fn(a, b)
        else:
            list(pool.map(lambda ab: fn(*ab), self.blocks))

    def sketch(self, cols, signs, n_cols):
        """``A @ S`` for the sparse sign matrix ``S`` of :func:`_sparse_sign`.

        A scatter of ``z`` values per non-zero of ``A`` into a row of the
        result, instead of a dense product (0.1 s against 0.7 s for 750
        columns on the default PPMI matrix).
        """
        A = self.A
        out = np.empty((A.shape[0], n_cols), dtype=A.dtype)
        signs = np.ascontiguousarray(signs, dtype=A.dtype)
        with self._pool() as pool:
            self._run_blocks(
                pool,
                lambda a, b: _kernels.csr_sparse_sign(
                    A.indptr, A.indices, A.data, cols, signs, out, a, b
                ),
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
            raise ValueError(
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
                self._run_blocks(
                    pool,
                    lambda a, b, part=part: _kernels.csr_dense_panel(
                        A.indptr, A.indices, A.data, panel, part, a, b
                    ),
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
# the last step refines it (`_small_side_svd`). Beyond it the power iteration
# falls back to an LU basis and the last step to LAPACK's SVD.
_GRAM_MAX_RATIO = {np.dtype(np.float32): 1e3, np.dtype(np.float64): 1e6}

# The dense products of the solver are cut into this many row blocks, whatever
# the number of threads, so that sums are taken in the same order and the
# result does not depend on n_jobs.
_DENSE_BLOCKS = 8


class _DenseOps:
    """The dense BLAS-3 steps of the randomized solver, on a pool of threads.

    Tall blocks are cut into ``_DENSE_BLOCKS`` row blocks; each thread calls
    single-threaded BLAS on its blocks (the solver runs under a one-thread BLAS
    limit). On a shared 2-core machine OpenBLAS's own threads, which spin while
    they wait, made the same products several times slower and slowed the
    numba threads of the sparse products down as well; splitting the work
    ourselves keeps one thread per core busy.
    """

    def __init__(self, pool):
        self.pool = pool

    def _slices(self, n_rows):
        cuts = np.linspace(0, n_rows, _DENSE_BLOCKS + 1).astype(np.int64)
        return [slice(a, b) for a, b in itertools.pairwise(cuts) if b > a]

    def _map(self, fn, items):
        if self.pool is None:
            return [fn(x) for x in items]
        return list(self.pool.map(fn, items))

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
        import ctypes

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
        from scipy.linalg import blas

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


def _sparse_sign(random_state, n_rows, n_cols, dtype):
    """The rows of a random sparse sign matrix: ``(cols, signs)``, both ``(n_rows, z)``.

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
    """The sparse sign matrix of :func:`_sparse_sign` as a dense array."""
    out = np.zeros((cols.shape[0], n_cols), dtype=signs.dtype)
    rows = np.repeat(np.arange(cols.shape[0]), cols.shape[1])
    np.add.at(out, (rows, cols.ravel()), signs.ravel())
    return out


def _gram_usable(w, dtype):
    """Whether Gram eigenvalues ``w`` (descending) are within ``_GRAM_MAX_RATIO``."""
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
    if not _gram_usable(w, Y.dtype):
        return None
    S = np.sqrt(w)
    U = ops.matmul(Y, V / S) if vectors else None
    return U, S, V


@functools.cache
def _blas_trsm(dtype):
    """The BLAS ``strsm``/``dtrsm`` that scipy links, as a ctypes function."""
    import ctypes

    from numba.extending import get_cython_function_address

    name = "strsm" if np.dtype(dtype) == np.float32 else "dtrsm"
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 11)(address)


def _cholesky_basis(Y, ops):
    """An orthonormal basis of the columns of a tall block, and its singular values.

    ``Y = Q R`` with ``R`` the Cholesky factor of ``Y^T Y``, so
    ``Q = Y R^{-1}`` (a triangular solve, half the work of the product
    :func:`_eig_svd` ends with); the singular values come from the
    eigenvalues of the same Gram matrix. The basis is as orthonormal as
    :func:`_eig_svd`'s (both square the condition number), but it is not the
    singular-vector basis, which the power iteration does not need. ``Y`` is
    overwritten by ``Q``. Returns ``(Q, S)`` with ``S`` float64 and
    descending, or ``None`` under the same condition as :func:`_eig_svd`.
    """
    gram = ops.gram(Y)
    w = linalg.eigvalsh(gram, check_finite=False)[::-1]
    if not _gram_usable(w, Y.dtype):
        return None
    try:
        R = linalg.cholesky(gram, lower=False, overwrite_a=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    return ops.solve_upper(Y, R), np.sqrt(w)


def _randomized_operator_svd(
    times,
    t_times,
    shape,
    dtype,
    n_components,
    *,
    n_iter,
    n_oversamples,
    random_state,
    pool=None,
    on_step=None,
):
    """Randomized SVD of a matrix ``X`` known only by its products with blocks.

    ``times(B, out=None)`` returns ``X @ B`` and ``t_times(B, out=None)``
    returns ``X.T @ B`` for C-contiguous ``B`` of ``dtype``, writing into
    ``out`` (a block the solver no longer needs, or None) when they can; ``shape`` is ``X.shape``; ``pool`` (a
    ``concurrent.futures`` executor or None) runs the dense steps. Returns
    ``U (n, k), S (k,), Vt (k, m)`` with ``S`` descending (signs not fixed).

    Halko et al.'s subspace iteration on ``X X^T`` with the dynamic shift of
    Feng et al. (dashSVD): each step applies ``X X^T - alpha I`` to an
    orthonormal basis ``Q`` of ``l = n_components + n_oversamples`` columns,
    where ``alpha`` grows towards half the smallest of the ``l`` wanted
    eigenvalues. The shift leaves the wanted directions dominant and makes the
    unwanted ones (eigenvalues below ``2 alpha``) shrink faster: on the
    52k x 52k PPMI matrix of the development corpus, whose spectrum decays
    slowly, 5 shifted steps matched the accuracy of 7 plain ones (against
    ARPACK). The basis is re-orthonormalised once per step through the Gram
    matrix (:func:`_cholesky_basis`), which also gives the singular values that
    update ``alpha``. The test matrix is a sparse sign matrix
    (:func:`_sparse_sign`, seeded by one draw from ``random_state``);
    ``times.sketch(cols, signs, l)``, when ``times`` has it, multiplies by it
    without making it dense. ``on_step()``, when given, is called after the
    sketch, each power step and the final product (``n_iter + 2`` calls).
    """
    ops = _DenseOps(pool)
    step_done = on_step if on_step is not None else (lambda: None)
    n, m = shape
    n_random = n_components + n_oversamples
    cols, signs = _sparse_sign(random_state, m, n_random, dtype)
    sketch = getattr(times, "sketch", None)
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
        found = _cholesky_basis(Y, ops)  # on success the basis overwrites Y
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
    Ub, S, Vb = _small_side_svd(Bt, k, ops)
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


# `_small_side_svd` takes a second Gram pass only when the block's singular
# values spread more than this: one pass leaves the smallest value with a
# relative error of about eps * ratio**2 / 2 (3e-4 in float32 at 100; the PPMI
# matrices of the development corpus have ratios of 10-20 over the top 750).
_ONE_PASS_MAX_RATIO = 100.0


def _small_side_svd(B, n_vectors, ops):
    """Accurate thin SVD ``B = U diag(S) V^T`` of a tall block.

    The eigen-decomposition of the Gram matrix gives ``S`` and ``V``; when the
    singular values spread more than ``_ONE_PASS_MAX_RATIO``, a second pass on
    the nearly orthonormal result of the first (which is well conditioned)
    brings them to about the dtype's precision relative to each value, and
    LAPACK's SVD is used when the first pass is refused. Only the first
    ``n_vectors`` columns of ``U`` are returned; ``S`` and ``V`` are float64.
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


def _truncated_svd(
    X, n_components, *, solver, n_iter, n_oversamples, random_state, n_jobs=None,
    on_step=None,
):  # fmt: skip
    """Return ``U (n, k), S (k,), Vt (k, m)`` of ``X``, S descending, signs fixed.

    Signs follow :func:`sklearn.utils.extmath.svd_flip` with
    ``u_based_decision=True``: the largest entry of each column of U is positive.
    The results have the dtype of ``X``.
    """
    if solver not in _SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {sorted(_SOLVERS)}.")
    random_state = check_random_state(random_state)
    logger.info(
        "truncated SVD of a %d x %d matrix, rank %d, solver %s",
        X.shape[0],
        X.shape[1],
        n_components,
        solver,
    )
    U, S, Vt = _SOLVERS[solver](
        X,
        n_components,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
        n_jobs=n_jobs,
        on_step=on_step,
    )
    U, Vt = svd_flip(
        np.array(U, dtype=X.dtype), np.array(Vt, dtype=X.dtype), u_based_decision=True
    )
    return U, np.asarray(S, dtype=X.dtype), Vt


# The eigenvalue power of word vectors when none is given (svd_embed,
# SVDEmbedding, cooc embed): 0.15, chosen with benchmarks/sweep_embeddings.py
# (see cooc.pipeline, which re-exports it as DEFAULT_POWER).
DEFAULT_POWER = 0.15


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
        raise ValueError(
            f"n_components={n_components!r} must be a positive int (--rank)."
        )
    if n_components >= min(cooc.shape):
        raise ValueError(
            f"n_components={n_components} must be < the matrix size {min(cooc.shape)} "
            f"(vocabulary of {len(cooc.vocabulary)} words); lower --rank or min_count."
        )
    return int(n_components)


def _scale_by_power(S, power):
    """Return ``S**power`` with ``0**power = 0`` for ``power > 0``."""
    return np.power(S, power) if power != 0 else np.ones_like(S)


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
    same with 5 iterations and 0.54 % / 0.57 % with the default 6. Singular
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
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(
            f"dtype={dtype!r} is not supported; use np.float32 or np.float64."
        )
    if solver not in _SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {sorted(_SOLVERS)}.")
    if not isinstance(power, Real) or not power >= 0:
        raise ValueError(
            f"power={power!r} must be a number >= 0 (0.15 is the default)."
        )
    for name, value in (("n_iter", n_iter), ("n_oversamples", n_oversamples)):
        if value is not None and (not isinstance(value, Integral) or value < 0):
            raise ValueError(f"{name}={value!r} must be None or an integer >= 0.")
    X = check_array(
        matrix, accept_sparse=["csr", "csc"], dtype=dtype, input_name="matrix"
    )
    _check_n_components(n_components, X.shape)
    if add_context and X.shape[0] != X.shape[1]:
        raise ValueError(
            f"add_context=True needs a square word-by-word matrix, got shape "
            f"{X.shape}; "
            "use add_context=False."
        )
    U, S, Vt = _truncated_svd(
        X,
        n_components,
        solver=solver,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
        n_jobs=n_jobs,
        on_step=on_step,
    )
    scale = _scale_by_power(S, power)
    vectors = U * scale
    if add_context:
        vectors += Vt.T * scale
    return vectors, S


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

    @_fit_context(prefer_skip_nested_validation=True)
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
        _check_n_components(self.n_components, X.shape)
        U, S, Vt = _truncated_svd(
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
        return U * _scale_by_power(S, self.power)

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


def _unit_rows(vectors):
    """Return ``vectors`` with rows scaled to unit L2 norm; zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (vectors / norms).astype(vectors.dtype, copy=False)


# Added to the product of the negative terms of 3CosMul so that it never
# divides by zero (the value gensim's most_similar_cosmul uses).
_COSMUL_EPSILON = 1e-6
_QUERY_METHODS = ("3cosadd", "3cosmul")


def _analogy_scores(unit, terms, method="3cosadd", *, epsilon=_COSMUL_EPSILON,
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
        raise ValueError(f"method={method!r} must be one of {list(_QUERY_METHODS)}.")
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
    >>> from cooc.svd import as_embeddings
    >>> kv = types.SimpleNamespace(index_to_key=["cat", "dog"], vectors=np.eye(2))
    >>> as_embeddings(kv)
    Embeddings(n_words=2, dim=2)
    """
    if isinstance(obj, Embeddings):
        return obj
    if hasattr(obj, "index_to_key") and hasattr(obj, "vectors"):
        return Embeddings.from_keyed_vectors(obj)
    raise TypeError(
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

    See Also
    --------
    svd_embed : Produces the vectors.
    cooc.evaluate.evaluate_similarity : Benchmarks on word similarity.

    Notes
    -----
    File formats, chosen by the extension in :meth:`save` and :meth:`load`:
    ``.npz`` (arrays ``vectors`` and ``tokens``, no pickle), ``.bin``
    (word2vec binary) and anything else word2vec text
    (``n_words dim`` header, then ``word v1 ... vdim`` per line), both
    readable by gensim's ``KeyedVectors.load_word2vec_format``.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.svd import Embeddings
    >>> emb = Embeddings(["cat", "dog", "car"], np.array([[1, 0.1], [1, 0.2], [0, 1]]))
    >>> [(word, round(cos, 3)) for word, cos in emb.most_similar("cat", k=1)]
    [('dog', 0.995)]
    """

    def __init__(self, tokens: Sequence[str], vectors: np.ndarray):
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(
                    f"tokens must be str, got {type(token).__name__} {token!r}."
                )
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(
                f"vectors must be 2-D (n_words, dim), got shape {vectors.shape}."
            )
        if len(tokens) != vectors.shape[0]:
            raise ValueError(
                f"{len(tokens)} tokens but {vectors.shape[0]} vector rows; "
                "pass one row per token."
            )
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            seen = set()
            dup = next(t for t in tokens if t in seen or seen.add(t))
            raise ValueError(f"duplicate token {dup!r}; tokens must be unique.")
        self.tokens = tokens
        self.vectors = vectors
        self._index = index
        # words left out by the embedding for having all-zero vectors
        self.dropped: list[str] = []
        # the SVD's singular values, when known (kept by .npz files)
        self.singular_values: np.ndarray | None = None

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
            rows = np.fromiter((self.index(k) for k in key), dtype=np.intp)
            return self.vectors[rows]
        return self.vectors[self.index(key)]

    def __repr__(self) -> str:
        return f"Embeddings(n_words={len(self)}, dim={self.dim})"

    def index(self, token: str) -> int:
        """Return the row of ``token``; KeyError if it is not in the vocabulary."""
        try:
            return self._index[token]
        except (KeyError, TypeError):
            raise KeyError(
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

        Raises
        ------
        KeyError
            If ``key`` is not in the vocabulary.
        """
        vector = self.vectors[self.index(key)]
        if not norm:
            return vector
        return _unit_rows(vector[None, :])[0]

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
            raise TypeError(
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
        return Embeddings(self.tokens, _unit_rows(self.vectors))

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
        >>> from cooc.svd import Embeddings
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
        >>> from cooc.svd import Embeddings
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
        >>> from cooc.svd import Embeddings
        >>> emb = Embeddings(["cat", "dog", "car"], [[1, 0.1], [1, 0.2], [0, 1]])
        >>> emb.doesnt_match(["cat", "dog", "car"])
        'car'
        """
        if isinstance(words, str):
            raise TypeError(
                f"words must be a list of words, got the single string {words!r}."
            )
        words = list(words)
        if not words:
            raise ValueError("words is empty; give the words to compare.")
        unit = _unit_rows(self[words])
        mean = unit.mean(axis=0)
        norm = np.linalg.norm(mean)
        centrality = unit @ (mean / norm if norm > 0 else mean)
        return words[int(np.argmin(centrality))]

    def _rank(self, method, positive, negative, topn, restrict_vocab, k, exclude):
        """The ranked answer of :meth:`most_similar` and :meth:`most_similar_cosmul`."""
        name = "topn"
        if k is not None:
            if topn not in (10, k):
                raise TypeError(f"give topn={topn!r} or k={k!r}, not both.")
            topn, name = k, "k"
        if topn is not None and (
            not isinstance(topn, Integral) or isinstance(topn, bool) or topn < 0
        ):
            raise ValueError(f"{name}={topn!r} must be an integer >= 0 or None.")
        if restrict_vocab is not None and (
            not isinstance(restrict_vocab, Integral)
            or isinstance(restrict_vocab, bool)
            or restrict_vocab < 1
        ):
            raise ValueError(
                f"restrict_vocab={restrict_vocab!r} must be None or an integer >= 1."
            )
        terms, rows = self._query_terms(positive, negative)
        n = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        scores = _analogy_scores(
            _unit_rows(self.vectors[:n]), terms, method, normalize=True
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
            raise ValueError(
                "no query: give positive and/or negative words or vectors."
            )
        terms, rows = [], []
        for sign, item in items:
            if isinstance(item, str):
                row = self.index(item)
                rows.append(row)
                vector = self.vectors[row]
            else:
                try:
                    vector = np.asarray(item, dtype=np.float32)
                except (TypeError, ValueError):
                    raise TypeError(
                        f"query items must be words or vectors, got {item!r}."
                    ) from None
                if vector.shape != (self.dim,):
                    raise ValueError(
                        f"query vector has shape {vector.shape}; expected "
                        f"({self.dim},)."
                    )
            terms.append((sign, _unit_rows(vector[None, :])[0]))
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

        ``.npz``: numpy arrays ``vectors`` (float32) and ``tokens`` (unicode),
        no pickle. ``.bin``: word2vec binary. Anything else (``.txt``,
        ``.vec``, ...): word2vec text. A further ``.gz``, ``.bz2`` or ``.xz``
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
            raise ValueError(
                f"{os.fspath(path)}: .npz vectors are not compressed further; "
                "write .npz, or .txt.gz / .bin.gz."
            )
        if suffix == ".npz":
            tokens = (
                np.array(self.tokens, dtype=str)
                if self.tokens
                else np.array([], dtype="<U1")
            )
            extra = {}
            if self.singular_values is not None:
                extra["singular_values"] = np.asarray(self.singular_values).ravel()
            with atomic_write(path, "wb") as fh:
                np.savez(fh, vectors=self.vectors, tokens=tokens, **extra)
            return
        self._check_word2vec_tokens()
        with atomic_write(path, "wb", compress=True) as fh:
            fh.write(f"{len(self)} {self.dim}\n".encode())
            if suffix == ".bin":
                _write_word2vec_binary(fh, self.tokens, self.vectors)
            else:
                _write_word2vec_text(fh, self.tokens, self.vectors)

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
        if suffix == ".npz" and compression_of(path):
            raise ValueError(
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
            raise ValueError(f"{os.fspath(path)}: {exc}") from None
        emb.singular_values = singular_values
        return emb

    def _check_word2vec_tokens(self):
        """Raise ValueError if a token cannot be stored in a word2vec file."""
        for token in self.tokens:
            if not token or any(ch.isspace() for ch in token):
                raise ValueError(
                    f"token {token!r} is empty or contains whitespace, which word2vec "
                    "files cannot store; save as .npz instead."
                )


_WRITE_BLOCK = 4096  # rows per write call


def _write_word2vec_text(fh, tokens, vectors):
    """Write ``word v1 ... vdim`` lines, shortest float32 round-trip repr."""
    for start in range(0, len(tokens), _WRITE_BLOCK):
        block = vectors[start : start + _WRITE_BLOCK]
        lines = [
            f"{token} {' '.join([str(x) for x in row])}\n"
            for token, row in zip(
                tokens[start : start + _WRITE_BLOCK], block, strict=True
            )
        ]
        fh.write("".join(lines).encode("utf-8"))


def _write_word2vec_binary(fh, tokens, vectors):
    """Write ``word, space, dim little-endian float32s, newline`` (word2vec C)."""
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
        raise ValueError(f"{name}:{lineno}: not valid UTF-8 ({exc.reason}).") from None
    lines = [line.rstrip() for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError(
            f"{name}: empty file; expected a word2vec header 'n_words dim'."
        )
    header = _parse_header(path, lines[0])
    first = 1 if header is not None else 0
    body = lines[first:]
    if header is None:
        fields = lines[0].split(" ")
        if len(fields) < 2:
            raise ValueError(
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
        raise ValueError(
            f"{name}: header says {n_words} words but the file has {len(body)} "
            "vector lines."
        )
    tokens, values = [], []
    for lineno, line in enumerate(body, start=first + 1):
        fields = line.split(" ")
        if len(fields) != dim + 1 or not fields[0]:
            raise ValueError(
                f"{name}:{lineno}: expected a word and {dim} numbers separated by "
                f"single spaces, got {len(fields) - 1} fields after {fields[0][:40]!r}."
            )
        tokens.append(fields[0])
        values.append(fields[1:])
    try:
        vectors = np.array(values, dtype=np.float32).reshape(n_words, dim)
    except ValueError:
        for lineno, row in enumerate(values, start=first + 1):
            try:
                np.array(row, dtype=np.float32)
            except ValueError as exc:  # noqa: PERF203 (error path only)
                raise ValueError(f"{name}:{lineno}: bad number ({exc}).") from None
        raise
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
        raise ValueError(
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
            raise ValueError(
                f"{name}: entry {i + 1} of {n_words} (byte {pos}) is truncated; "
                "the file is damaged or the header count is wrong."
            )
        try:
            tokens.append(data[pos:space].decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(
                f"{name}: entry {i + 1} (byte {pos}): word is not valid UTF-8."
            ) from None
        vectors[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + n_bytes
    if data[pos:].strip():
        raise ValueError(
            f"{name}: data after the {n_words} entries the header announces."
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
                    raise ValueError(
                        f"{name}: missing array(s) {sorted(missing)}; "
                        "expected 'vectors' and 'tokens'."
                    )
                vectors, tokens = npz["vectors"], npz["tokens"]
                singular_values = (
                    npz["singular_values"] if "singular_values" in npz.files else None
                )
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{name}: not a valid .npz file ({exc}).") from None
        except ValueError as exc:
            if str(exc).startswith(name):
                raise
            raise ValueError(
                f"{name}: not a valid embeddings .npz file ({exc})."
            ) from None
    if tokens.dtype.kind != "U" or tokens.ndim != 1:
        raise ValueError(
            f"{name}: 'tokens' must be a 1-D unicode array, "
            f"got {tokens.dtype} {tokens.shape}."
        )
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        raise ValueError(
            f"{name}: 'vectors' must be a 2-D float array, "
            f"got {vectors.dtype} {vectors.shape}."
        )
    if singular_values is not None and (
        singular_values.ndim != 1 or singular_values.dtype.kind != "f"
    ):
        raise ValueError(
            f"{name}: 'singular_values' must be a 1-D float array, "
            f"got {singular_values.dtype} {singular_values.shape}."
        )
    return tokens.tolist(), vectors, singular_values
