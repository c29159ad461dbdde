"""The compiled kernels of the streaming embedding (:mod:`cooc.streaming`):
checking and weighting row blocks of a ``.cooc`` file read in pieces, and the
products of a row block with column panels of the resident dense operand.

Array contracts: CSR row blocks arrive as ``indptr`` (local, int64),
``indices`` (int32) and ``data`` (float64 counts or float32 weights), straight
from the file, so every kernel that reads them checks them as it goes (an
index out of range or not increasing, a count negative or not finite) and
reports the first problem instead of reading out of bounds. A column panel is a
C-contiguous ``(n_cols, PANEL)`` float32 block of the operand's columns.
"""

import numpy as np
from numba import njit

# A prefetch hint has no effect on results, so sharing it with counting.py does
# not break the rule that a cached kernel's helpers live in its own file.
from cooc._kernels.counting import PANEL, prefetch


@njit(cache=True, nogil=True)
def scan_counts(indptr, indices, data, n_cols, col_sums, add):
    """Check CSR rows (indices in range and increasing, counts finite, >= 0).

    Returns ``(0, 0, 0)`` or ``(code, row, column)`` of the first problem
    (1: index out of range, 2: not increasing, 3: bad count). With ``add``,
    the counts are added to ``col_sums`` in row order, the order of
    scipy's column sums of the whole matrix (so the sums are the same bits).
    """
    for i in range(indptr.shape[0] - 1):
        prev = -1
        for p in range(indptr[i], indptr[i + 1]):
            j = np.int64(indices[p])
            if j < 0 or j >= n_cols:
                return 1, i, j
            if j <= prev:
                return 2, i, j
            prev = j
            x = np.float64(data[p])
            if not (x >= 0.0 and x < np.inf):
                return 3, i, j
            if add:
                col_sums[j] += x
    return 0, 0, 0


@njit(cache=True, nogil=True)
def ppmi_block_values(
    indptr, indices, data, log_rows, log_ctx, log_shift, tol, transposed, row0,
    n_cols, values, kept, lo, hi,
):  # fmt: skip
    """PPMI of the counts of block rows ``lo <= i < hi`` (global row ``row0 + i``).

    The expression and its order of operations are those of
    ``cooc._kernels.ppmi_values`` (so the values are the same bits as
    :func:`cooc.weighting.ppmi`). With ``transposed`` the block of a symmetric
    count matrix gives the rows of the transposed PPMI matrix: entry ``(i, j)``
    is PPMI's ``(j, i)``, whose row marginal is ``j``'s and context is ``i``.
    Indices are checked on every pass (out of range or not increasing: returns
    ``1 + i``), so a file changed under the run cannot make a kernel read out
    of bounds; a bad count returns ``-(1 + i)``.
    """
    for i in range(lo, hi):
        count = 0
        prev = -1
        for p in range(indptr[i], indptr[i + 1]):
            j = np.int64(indices[p])
            if j < 0 or j >= n_cols or j <= prev:
                return i + 1
            prev = j
            x = np.float64(data[p])
            if not (x >= 0.0 and x < np.inf):
                return -(i + 1)
            if transposed:
                base = log_rows[j] + log_shift
                ctx = log_ctx[row0 + i]
            else:
                base = log_rows[row0 + i] + log_shift
                ctx = log_ctx[j]
            v = np.log(x) - base - ctx if x > 0.0 else 0.0
            if v >= tol and v < np.inf:
                values[p] = v
                count += 1
            else:
                values[p] = 0.0
        kept[i] = count
    return 0


@njit(cache=True, nogil=True)
def plain_block_values(indptr, indices, data, n_cols, values, lo, hi):
    """Counts of block rows ``lo <= i < hi`` as float32 (checked as for PPMI)."""
    for i in range(lo, hi):
        prev = -1
        for p in range(indptr[i], indptr[i + 1]):
            j = np.int64(indices[p])
            if j < 0 or j >= n_cols or j <= prev:
                return i + 1
            prev = j
            x = np.float64(data[p])
            if not (x >= 0.0 and x < np.inf):
                return -(i + 1)
            values[p] = np.float32(x)
    return 0


@njit(cache=True, nogil=True)
def count_kept(indptr, values, kept, lo, hi):
    """``kept[i]`` = the non-zero values of block row ``i``, for ``lo <= i < hi``."""
    for i in range(lo, hi):
        count = 0
        for p in range(indptr[i], indptr[i + 1]):
            if values[p] != 0:
                count += 1
        kept[i] = count


# How `panel_product` takes the columns of a row. A row gathers rows of the
# panel (256 bytes each) at random; the frequent words' rows touch nearly
# every column, and the panel of 3M words (776 MB) is far larger than the L3
# cache (32 MB). So rows with at least `_MID_ROW` entries take their columns in
# ranges, each range for all such rows of the block before the next, so that a
# range's slice of the panel is fetched once and then hit in cache: ranges that
# double from 32k columns (the frequent columns, where most entries fall, in
# 8 MB slices; the rarer ones sparsely) for rows of `_MID_ROW` entries or more,
# and even ranges of 32k columns for rows of `_LONG_ROW` or more (which fill
# every range). Each range's sum is added to the row's result, so a row costs
# one more read and write of its 64 results per range; short rows are summed
# whole as in `csr_dense_panel`. On every 12th row block of the 1B-token
# benchmark matrix (3.03M words, 1.85G entries; one thread, one panel): 4.2 s
# with csr_dense_panel, 2.85 s with even ranges for rows of 512 entries or
# more, 2.4 s so (about 10 % apart in repeated runs); ranges of 1k-8k columns
# for the long rows (for the L2 cache) and other thresholds were within the
# noise. On the 100M-token matrix (492k words, 15 ranges) doubling ranges were
# 5-8 % slower than even ones, so a matrix of up to 16 ranges takes even ones.
RANGE_COLS = 1 << 15
_MID_ROW = 256
_LONG_ROW = 8192
_PREFETCH_AHEAD = 16


# The last panel of an operand whose width is not a multiple of PANEL is stored
# narrower when its columns fit (rank 300 with 150 oversamples leaves 2
# columns in an eighth panel): a gathered row of a 16-column panel is one
# 64-byte cache line instead of four. Each width is a constant at its own
# inlined copy of the gather loop, as PANEL is.
NARROW_WIDTHS = (16, 32)


def panel_width(columns):
    """The stored width of a panel holding ``columns`` (<= PANEL) columns."""
    for w in NARROW_WIDTHS:
        if columns <= w:
            return w
    return PANEL


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _gather_range(indices, data, panel, flat, acc, p, end, col_end, W):
    """``acc[:W] = sum of data[q] * panel[indices[q]]`` over the entries ``q >= p``
    of a row (ending at ``end``) whose column is below ``col_end``; returns the
    first entry not taken. ``W`` is the panel's stored width, a constant at
    each call. Four entries a step, the panel rows of the entries
    ``_PREFETCH_AHEAD`` further on prefetched (as ``csr_dense_panel`` does)."""
    line = 16
    for c in range(W):
        acc[c] = 0.0
    while p + 4 <= end and indices[p + 3] < col_end:
        if p + _PREFETCH_AHEAD + 4 <= end:
            for j in range(4):
                ahead = np.uint64(indices[p + _PREFETCH_AHEAD + j]) * W
                for e in range(0, W, line):
                    prefetch(flat, ahead + e)
        v0 = data[p]
        v1 = data[p + 1]
        v2 = data[p + 2]
        v3 = data[p + 3]
        b0 = panel[np.uint64(indices[p])]
        b1 = panel[np.uint64(indices[p + 1])]
        b2 = panel[np.uint64(indices[p + 2])]
        b3 = panel[np.uint64(indices[p + 3])]
        for c in range(W):
            acc[c] += (v0 * b0[c] + v1 * b1[c]) + (v2 * b2[c] + v3 * b3[c])
        p += 4
    while p < end and indices[p] < col_end:
        v = data[p]
        b = panel[np.uint64(indices[p])]
        for c in range(W):
            acc[c] += v * b[c]
        p += 1
    return p


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _gather_any(indices, data, panel, flat, acc, p, end, col_end):
    """:func:`_gather_range` at the panel's stored width (PANEL or a narrow one)."""
    stored = panel.shape[1]
    if stored == NARROW_WIDTHS[0]:
        return _gather_range(
            indices, data, panel, flat, acc, p, end, col_end, NARROW_WIDTHS[0]
        )
    if stored == NARROW_WIDTHS[1]:
        return _gather_range(
            indices, data, panel, flat, acc, p, end, col_end, NARROW_WIDTHS[1]
        )
    return _gather_range(indices, data, panel, flat, acc, p, end, col_end, PANEL)


@njit(cache=True, nogil=True, fastmath=True)
def panel_product(
    indptr, indices, data, panel, out, row_lo, row_hi, mid_bounds, long_bounds,
    cursor, rows,
):  # fmt: skip
    """``out[i] = A[i] @ panel`` for block rows ``row_lo <= i < row_hi``.

    ``panel`` is one ``(n_cols, w)`` column panel of the resident operand
    (``w`` PANEL or one of ``NARROW_WIDTHS``, zero-padded), ``out`` a
    ``(block rows, <= w)`` view; ``cursor`` and ``rows`` are int64 scratch of
    one entry per block row. Short rows are summed whole; rows of ``_MID_ROW``
    or more entries range by range of ``mid_bounds``, those of ``_LONG_ROW``
    or more of ``long_bounds`` (see ``RANGE_COLS``). A row's result depends
    on that row alone, not on the block or the thread.
    """
    width = out.shape[1]
    flat = panel.ravel()
    acc = np.empty(PANEL, dtype=out.dtype)
    n_cols = panel.shape[0]
    n_mid = 0
    n_long = 0
    # rows[row_lo : row_lo + n_mid] lists the mid rows, rows[row_hi - n_long :
    # row_hi] the long ones
    for i in range(row_lo, row_hi):
        start = indptr[i]
        end = indptr[i + 1]
        if end - start >= _MID_ROW:
            cursor[i] = start
            for c in range(width):
                out[i, c] = 0.0
            if end - start >= _LONG_ROW:
                n_long += 1
                rows[row_hi - n_long] = i
            else:
                rows[row_lo + n_mid] = i
                n_mid += 1
        else:
            _gather_any(indices, data, panel, flat, acc, start, end, n_cols)
            for c in range(width):
                out[i, c] = acc[c]
    for kind in range(2):
        if kind == 0:
            bounds, first, last = mid_bounds, row_lo, row_lo + n_mid
        else:
            bounds, first, last = long_bounds, row_hi - n_long, row_hi
        for r in range(bounds.shape[0] if last > first else 0):
            col_end = bounds[r]
            for q in range(first, last):
                i = rows[q]
                p = cursor[i]
                end = indptr[i + 1]
                if p >= end or indices[p] >= col_end:
                    continue
                cursor[i] = _gather_any(
                    indices, data, panel, flat, acc, p, end, col_end
                )
                for c in range(width):
                    out[i, c] += acc[c]


@njit(cache=True, nogil=True, fastmath=True)
def scatter_panel(indptr, indices, data, rows, c0, width, panel, lo, hi):
    """``panel[j] += A[i, j] * rows[i, c0:c0 + width]`` for the entries of rows
    ``lo..hi``.

    Each row of ``panel`` receives its terms in row order (the order of a
    transposed CSR product), whatever the blocks.
    """
    acc = np.zeros(panel.shape[1], dtype=panel.dtype)
    for i in range(lo, hi):
        for c in range(width):
            acc[c] = rows[i, c0 + c]
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            dst = panel[indices[p]]
            for c in range(acc.shape[0]):
                dst[c] += v * acc[c]
