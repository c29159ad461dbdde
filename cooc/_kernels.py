"""Every numba kernel of cooc, and nothing else.

Array contracts
---------------
* A corpus arrives as a flat ``int32`` id array plus ``int64`` document offsets
  (``offsets[0] == 0``, ``offsets[-1] == len(ids)``). Id ``-1`` marks an
  out-of-vocabulary position (a gap: it occupies a window slot but makes no pair).
* Counts are accumulated as **integers** (``int64``): every distance weight is
  an integer multiple of ``1 / scale`` (see ``cooc.cooccurrence.window_weights``).
  Integer sums do not depend on the order of addition, so the result is
  bit-identical for any thread count and any split of the corpus into shards.
* Randomness (subsampling, dynamic windows) comes from a counter-based hash of
  ``(seed, global document number, position)``, never from an RNG object, so a
  token's fate does not depend on how the corpus was chunked.

Parallelism
-----------
The kernels are serial and release the GIL (``nogil=True``); the Python layer
runs one kernel call per thread. Thread ``tid`` of ``n_threads`` owns every
output row ``r`` with ``r % n_threads == tid``: it scans the whole chunk but only
adds the pairs whose row it owns, into its own hash table and into its own rows
of the shared dense block. No two threads ever write the same memory.

Storage per thread: a dense ``(K, K)`` block for pairs of the ``K`` most frequent
words (ids are in frequency order, so that is ids ``< K``), where most updates
land, and an open-addressing hash table for the rest. The table is one ``int64``
array of ``2 * capacity`` slots, key and value side by side (one cache line per
probe); an empty slot has key ``-1``.
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DOC_MULT = np.uint64(0xD6E8FEB86659FD93)
_INV_2_53 = 1.0 / 9007199254740992.0

MODE_CANONICAL = 0  # symmetric, fixed window: key (min, max); result U + U.T
MODE_ORDERED = 1  # directional, fixed window: key (left, right); result [R.T | R]
MODE_CENTER = 2  # dynamic window: key (center, context column); result as stored


@njit(cache=True, nogil=True, inline="always")
def _uniform(seed, doc, pos):
    """Uniform float64 in [0, 1) from a splitmix64 hash of (seed, doc, pos)."""
    z = np.uint64(seed) + np.uint64(doc) * _DOC_MULT + np.uint64(pos) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * _INV_2_53


@njit(cache=True, nogil=True)
def filter_tokens(ids, offsets, keep_prob, drop_oov, seed, doc_start):
    """Drop subsampled (and, if ``drop_oov``, out-of-vocabulary) tokens.

    ``keep_prob`` is float64 ``(n_words,)``, or empty for no subsampling.
    Position ``i`` of document ``doc_start + k`` is kept with probability
    ``keep_prob[ids[i]]``. Returns new ``(ids, offsets)``; inputs are unchanged.
    """
    n_docs = offsets.shape[0] - 1
    out = np.empty(ids.shape[0], dtype=np.int32)
    out_offsets = np.empty(n_docs + 1, dtype=np.int64)
    subsample = keep_prob.shape[0] > 0
    n = 0
    out_offsets[0] = 0
    for k in range(n_docs):
        start = offsets[k]
        for i in range(start, offsets[k + 1]):
            w = ids[i]
            if w < 0:
                if drop_oov:
                    continue
            elif subsample and _uniform(seed, doc_start + k, i - start) >= keep_prob[w]:
                continue
            out[n] = w
            n += 1
        out_offsets[k + 1] = n
    return out[:n].copy(), out_offsets


@njit(cache=True, nogil=True)
def sample_windows(offsets, window, seed, doc_start):
    """Dynamic window: per position a width drawn uniformly from 1..window (int32)."""
    n_docs = offsets.shape[0] - 1
    out = np.empty(offsets[n_docs], dtype=np.int32)
    for k in range(n_docs):
        start = offsets[k]
        for i in range(start, offsets[k + 1]):
            u = _uniform(seed, doc_start + k, i - start)
            out[i] = 1 + np.int32(u * window)
    return out


@njit(cache=True, nogil=True, inline="always")
def _table_add(table, bits, key, value):
    """Add ``value`` at ``key``; return 1 if a new slot was taken, else 0."""
    mask = (np.int64(1) << bits) - 1
    slot = np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits))
    while True:
        k = table[2 * slot]
        if k == key:
            table[2 * slot + 1] += value
            return 0
        if k == -1:
            table[2 * slot] = key
            table[2 * slot + 1] = value
            return 1
        slot = (slot + 1) & mask


@njit(cache=True, nogil=True)
def table_rehash(table, bits):
    """Return a new table of ``2 ** bits`` slots holding the entries of ``table``."""
    new = np.full(2 * (np.int64(1) << bits), -1, dtype=np.int64)
    for s in range(table.shape[0] // 2):
        key = table[2 * s]
        if key != -1:
            _table_add(new, bits, key, table[2 * s + 1])
    return new


@njit(cache=True, nogil=True, inline="always")
def _add(row, col, value, n_cols, tid, n_threads, dense, n_dense, table, bits):
    if row % n_threads != tid:
        return 0
    if row < n_dense and col < n_dense:
        dense[row, col] += value
        return 0
    return _table_add(table, bits, np.int64(row) * n_cols + col, value)


@njit(cache=True, nogil=True)
def count_window_owned(
    ids,
    offsets,
    doc,
    pos,
    weights,
    windows,
    mode,
    n_cols,
    n_words,
    tid,
    n_threads,
    dense,
    table,
    bits,
    n_used,
    max_used,
):
    """Count the window pairs whose output row thread ``tid`` owns.

    Starts at document ``doc``, position ``pos`` (absolute index into ``ids``)
    and stops early, before a position that could push the table past
    ``max_used`` entries. ``weights[d]`` (int64, length ``window + 1``) is the
    integer weight of distance ``d``; ``windows`` (int32 per position) is the
    sampled width in ``MODE_CENTER`` and ignored otherwise. ``dense`` (int64
    ``(K, K)``) and ``table`` are updated in place.

    Returns ``(doc, pos, n_used)``: where to resume (``doc == n_docs`` when done)
    and the table's new entry count.
    """
    window = weights.shape[0] - 1
    n_docs = offsets.shape[0] - 1
    n_dense = dense.shape[0]
    per_pos = 2 * window
    while doc < n_docs:
        end = offsets[doc + 1]
        if pos < offsets[doc]:
            pos = offsets[doc]
        while pos < end:
            if n_used + per_pos > max_used:
                return doc, pos, n_used
            a = ids[pos]
            if a >= 0:
                last = min(pos + window, end - 1)
                if mode == MODE_CANONICAL:
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        w = weights[j - pos]
                        if a <= b:
                            n_used += _add(a, b, w, n_cols, tid, n_threads, dense,
                                           n_dense, table, bits)
                        else:
                            n_used += _add(b, a, w, n_cols, tid, n_threads, dense,
                                           n_dense, table, bits)
                elif mode == MODE_ORDERED:
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        n_used += _add(a, b, weights[j - pos], n_cols, tid, n_threads,
                                       dense, n_dense, table, bits)
                else:
                    # MODE_CENTER: a at pos is the centre for its right contexts
                    # (distance <= its own width), and the left context of each
                    # right neighbour whose width reaches back to pos.
                    right = n_cols > n_words
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        d = j - pos
                        w = weights[d]
                        if d <= windows[pos]:
                            col = b + n_words if right else b
                            n_used += _add(a, col, w, n_cols, tid, n_threads, dense,
                                           n_dense, table, bits)
                        if d <= windows[j]:
                            n_used += _add(b, a, w, n_cols, tid, n_threads, dense,
                                           n_dense, table, bits)
            pos += 1
        doc += 1
    return doc, pos, n_used


@njit(cache=True, nogil=True)
def count_owned_rows(table, dense, n_cols, tid, n_threads, counts):
    """Add to ``counts[row]`` the number of non-zeros thread ``tid`` holds per row."""
    n_dense = dense.shape[0]
    for r in range(tid, n_dense, n_threads):
        c = 0
        for j in range(n_dense):
            if dense[r, j] != 0:
                c += 1
        counts[r] += c
    for s in range(table.shape[0] // 2):
        key = table[2 * s]
        if key != -1 and table[2 * s + 1] != 0:
            counts[key // n_cols] += 1


@njit(cache=True, nogil=True)
def fill_owned_rows(table, dense, n_cols, tid, n_threads, indptr, indices, data):
    """Write thread ``tid``'s entries into its rows of a CSR, sorted by column.

    ``indptr`` must already hold the final row pointers (from
    :func:`count_owned_rows`); only rows owned by ``tid`` are written.
    """
    n_rows = indptr.shape[0] - 1
    n_dense = dense.shape[0]
    cursor = indptr[:-1].copy()
    for r in range(tid, n_dense, n_threads):
        p = cursor[r]
        for j in range(n_dense):
            v = dense[r, j]
            if v != 0:
                indices[p] = j
                data[p] = v
                p += 1
        cursor[r] = p
    for s in range(table.shape[0] // 2):
        key = table[2 * s]
        v = table[2 * s + 1]
        if key != -1 and v != 0:
            r = key // n_cols
            p = cursor[r]
            indices[p] = key - r * n_cols
            data[p] = v
            cursor[r] = p + 1
    for r in range(tid, n_rows, n_threads):
        lo = indptr[r]
        hi = indptr[r + 1]
        if hi - lo > 1:
            order = np.argsort(indices[lo:hi], kind="mergesort")
            indices[lo:hi] = indices[lo:hi][order]
            data[lo:hi] = data[lo:hi][order]
