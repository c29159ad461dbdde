"""Thread helpers shared by every threaded loop of cooc (no cooc imports).

The counting kernels, the sparse products of the SVD, PPMI and the streamed
embedding all split rows into pieces of about equal non-zeros and run the
pieces on a thread pool; these are the helpers they share.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    "block_map",
    "n_threads",
    "ordered_map",
    "row_cuts",
    "row_parts",
    "row_pieces",
    "thread_map",
]


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


def row_parts(indptr, max_entries: int) -> list[tuple[int, int]]:
    """Consecutive ``(lo, hi)`` row ranges of at most ``max_entries`` entries
    for row pointers ``indptr`` (a row longer than that is a range of its
    own), covering every row in order."""
    n = indptr.shape[0] - 1
    parts, lo = [], 0
    while lo < n:
        hi = int(np.searchsorted(indptr, indptr[lo] + max_entries, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        parts.append((lo, hi))
        lo = hi
    return parts


def ordered_map(pool, fn, items, depth: int):
    """``fn(item)`` for each item on ``pool``, yielded in order, with at most
    ``depth`` results pending (so finished work does not pile up)."""
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()


def thread_map(pool, fn, items) -> list:
    """``[fn(x) for x in items]``, on ``pool`` (an executor) when there is one
    and more than one item."""
    if pool is None or len(items) < 2:
        return [fn(x) for x in items]
    return list(pool.map(fn, items))


def block_map(fn, blocks, *, n_threads: int = 1, pool=None) -> list:
    """``[fn(*b) for b in blocks]``, the one block loop of every threaded kernel.

    Each ``b`` is a tuple of arguments (``(lo, hi)`` row bounds, or
    ``(part,)``). The blocks run on ``pool`` when one is given (a caller that
    maps many times keeps its pool), else on a pool of ``n_threads`` threads
    made for this call when there are more than one thread and one block;
    otherwise in order on this thread. The kernels release the GIL, so the
    blocks run side by side; results come back in the order of ``blocks``.
    """
    blocks = list(blocks)
    if pool is None and (n_threads <= 1 or len(blocks) < 2):
        return [fn(*b) for b in blocks]
    if pool is not None:
        return list(pool.map(lambda b: fn(*b), blocks))
    with ThreadPoolExecutor(min(n_threads, len(blocks))) as own:
        return list(own.map(lambda b: fn(*b), blocks))
