"""Thread helpers shared by every threaded loop of cooc (no cooc imports).

The counting kernels, the sparse products of the SVD, PPMI and the streamed
embedding all split rows into pieces of about equal non-zeros and run the
pieces on a thread pool; these are the helpers they share.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

__all__ = ["n_threads", "row_cuts", "row_pieces", "thread_map"]


def n_threads(n_jobs=None) -> int:
    """Threads for ``n_jobs``: None or 0 = every core this process may use,
    a negative value counts back from that (-1 = all), else ``n_jobs``."""
    available = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1)
    )
    if n_jobs is None or n_jobs == 0:
        return available
    if n_jobs < 0:
        return max(1, available + 1 + n_jobs)
    return int(n_jobs)


def row_cuts(matrix, n_blocks: int) -> np.ndarray:
    """Row bounds (int64, increasing) of up to ``n_blocks`` blocks of about equal
    non-zeros of a CSR ``matrix``; no block is empty unless the matrix is."""
    n_blocks = max(1, min(n_blocks, matrix.shape[0]))
    cuts = np.searchsorted(matrix.indptr, np.linspace(0, matrix.nnz, n_blocks + 1))
    cuts[0], cuts[-1] = 0, matrix.shape[0]
    return np.unique(np.maximum.accumulate(cuts)).astype(np.int64)


def row_pieces(indptr, n_pieces: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` row ranges of about equal entries for row pointers
    ``indptr`` (local to a block), none empty."""
    n = indptr.shape[0] - 1
    n_pieces = max(1, min(n_pieces, n))
    cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], n_pieces + 1))
    cuts[0], cuts[-1] = 0, n
    cuts = np.unique(np.maximum.accumulate(cuts))
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]


def thread_map(pool, fn, items) -> list:
    """``[fn(x) for x in items]``, on ``pool`` (an executor) when there is one
    and more than one item."""
    if pool is None or len(items) < 2:
        return [fn(x) for x in items]
    return list(pool.map(fn, items))
