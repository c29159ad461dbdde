"""Numba kernel that joins phrases in a coded corpus (see :mod:`cooc.phrasetable`).

A corpus arrives as ``int32`` codes plus ``int64`` document offsets, as
everywhere in :mod:`cooc._kernels`; a code of ``-1`` (a token the caller could
not code) never joins. The phrases of each pass are sorted ``int64`` keys
``a * n_space + b`` (codes of the left and the right word) with the code of the
joined token beside each key.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def join_code_pairs(codes, offsets, n_space, starts, keys, values, bounds):
    """Join adjacent pairs greedily from left to right, pass after pass.

    ``codes``: int32, shape (n_tokens,); ``offsets``: int64, shape (n_docs + 1,).
    ``starts``: uint8, shape (n_passes, n_space), 1 where a code is the left
    word of some phrase of that pass (a quick filter before the search).
    ``keys``: int64, sorted within each pass; pass ``p`` owns
    ``keys[bounds[p]:bounds[p + 1]]``; ``values``: int32, the joined code of
    each key. Within a document and a pass the scan joins a pair when it is a
    key and then goes on after the pair (so ``a b c`` with keys ``a b`` and
    ``b c`` gives ``ab c``); pairs never cross documents. Returns the new
    codes (int32, a new array) and offsets (int64); the inputs are not
    modified.
    """
    n_docs = offsets.shape[0] - 1
    n_passes = bounds.shape[0] - 1
    out = codes.copy()
    new_offsets = np.empty(n_docs + 1, np.int64)
    new_offsets[0] = 0
    total = 0
    for d in range(n_docs):
        start = offsets[d]
        length = offsets[d + 1] - start
        for p in range(n_passes):
            lo = bounds[p]
            hi = bounds[p + 1]
            if lo == hi or length < 2:
                continue
            end = start + length
            w = start
            i = start
            while i < end:
                c = out[i]
                if i + 1 < end and c >= 0 and starts[p, c] != 0:
                    nxt = out[i + 1]
                    if nxt >= 0:
                        key = np.int64(c) * n_space + nxt
                        j = lo + np.searchsorted(keys[lo:hi], key)
                        if j < hi and keys[j] == key:
                            out[w] = values[j]
                            w += 1
                            i += 2
                            continue
                out[w] = c
                w += 1
                i += 1
            length = w - start
        # Documents only shrink: the write position never passes the read one.
        for k in range(length):
            out[total + k] = out[start + k]
        total += length
        new_offsets[d + 1] = total
    return out[:total].copy(), new_offsets
