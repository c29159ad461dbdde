"""Numba kernels of the out-of-core build: compact runs on disk, their k-way
merge, and the routing of merged pairs to the rows of the final matrix.

Array contracts
---------------
* A *run* is a sorted stream of ``(key, value)`` pairs, both ``int64``, keys
  strictly increasing (the layout of ``cooc._kernels.counting`` runs).
* On disk a run is *encoded*: pairs are cut into blocks of ``block`` pairs;
  within a block each key is written as the LEB128 varint of its difference
  from the previous key (the first key of a block as itself), followed by the
  varint of its value. Values are positive, so both numbers are unsigned.
  Consecutive keys of a row differ by a column gap, which takes one to three
  bytes, against eight; a pair costs 3-6 bytes instead of 16.
* A block can be decoded on its own; the encoder records each block's first
  key and byte offset, so a key range of a run is found by a search over that
  index and read without touching the rest of the file.
* *Routing* turns merged stored pairs into entries of the output matrix: the
  pair ``(r, c, v)`` is an *own* entry of row ``r`` (column shifted by
  ``n_words`` in ``MODE_ORDERED``, diagonal doubled in ``MODE_CANONICAL``) and,
  in ``MODE_CANONICAL`` off the diagonal and always in ``MODE_ORDERED``, a
  *mirror* entry ``(c, r, v)``. Own entries are keyed ``row * out_cols + col``
  and stay in stored order; mirror entries keep their stored key (so they
  too are a sorted run) and are only grouped by destination rows. A row's
  mirror entries, in stored order, have increasing columns ``r``, all below
  its own columns, so rows are assembled without a merge.
"""

import numpy as np
from numba import njit

from cooc._kernels.counting import MODE_CANONICAL, MODE_ORDERED

# Bytes an encoded pair can take at most: two 10-byte varints.
MAX_PAIR_BYTES = 20


@njit(cache=True, nogil=True)
def encode_pairs(keys, vals, first, prev, block, out, idx_keys, idx_offs, byte_base):
    """Encode the pairs ``keys``/``vals`` into ``out`` (uint8); return the
    number of bytes written.

    ``keys[0]`` is pair number ``first`` of its run and ``prev`` the key before
    it (unused at a block boundary). ``out`` holds at least
    ``MAX_PAIR_BYTES * len(keys)`` bytes. For each block starting here,
    ``idx_keys[b]`` receives its first key and ``idx_offs[b]`` its offset:
    ``byte_base`` plus its position in ``out``.
    """
    p = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        g = first + i
        if g % block == 0:
            b = g // block
            idx_keys[b] = key
            idx_offs[b] = byte_base + p
            prev = 0
        x = np.uint64(key - prev)
        prev = key
        while x >= 0x80:
            out[p] = np.uint8((x & np.uint64(0x7F)) | np.uint64(0x80))
            x >>= np.uint64(7)
            p += 1
        out[p] = np.uint8(x)
        p += 1
        x = np.uint64(vals[i])
        while x >= 0x80:
            out[p] = np.uint8((x & np.uint64(0x7F)) | np.uint64(0x80))
            x >>= np.uint64(7)
            p += 1
        out[p] = np.uint8(x)
        p += 1
    return p


@njit(cache=True, nogil=True)
def decode_pairs(buf, first, prev, block, key_lo, key_hi, out_keys, out_vals):
    """Decode the encoded pairs in ``buf`` whose keys lie in ``[key_lo, key_hi)``;
    return how many were written to ``out_keys``/``out_vals``, or -1 if ``buf``
    is not a well-formed encoding (a varint running past the end or over 10
    bytes long, keys that do not increase, more pairs than ``out_keys`` holds).

    The first pair of ``buf`` is pair number ``first`` of its run and ``prev``
    the key before it, as given to :func:`encode_pairs`. Decoding stops at the
    first key ``>= key_hi``."""
    n = buf.shape[0]
    p = 0
    i = first
    m = 0
    cap = out_keys.shape[0]
    while p < n:
        x = np.uint64(0)
        shift = np.uint64(0)
        while True:
            if p >= n or shift > 63:
                return -1
            byte = np.uint64(buf[p])
            p += 1
            x |= (byte & np.uint64(0x7F)) << shift
            if byte < 0x80:
                break
            shift += np.uint64(7)
        if i % block == 0:
            key = np.int64(x)
            if key < prev or key < 0:
                return -1
        else:
            key = prev + np.int64(x)
            if x == 0 or key < prev:
                return -1
        prev = key
        i += 1
        v = np.uint64(0)
        shift = np.uint64(0)
        while True:
            if p >= n or shift > 63:
                return -1
            byte = np.uint64(buf[p])
            p += 1
            v |= (byte & np.uint64(0x7F)) << shift
            if byte < 0x80:
                break
            shift += np.uint64(7)
        if key >= key_hi:
            break
        if key >= key_lo:
            if m >= cap:
                return -1
            out_keys[m] = key
            out_vals[m] = np.int64(v)
            m += 1
    return m


@njit(cache=True, nogil=True)
def merge_pieces(keys, vals, starts, ends, out_keys, out_vals):
    """Merge the sorted pieces ``keys[starts[p]:ends[p]]`` (with their
    ``vals``) into one sorted run, summing equal keys; return its length.

    A binary heap of the pieces' current keys picks the next pair: one pass
    over the data whatever the number of pieces, ``log2(pieces)`` comparisons
    per pair.
    """
    k = starts.shape[0]
    pos = np.empty(k, dtype=np.int64)
    end = np.empty(k, dtype=np.int64)
    heap = np.empty(k, dtype=np.int64)  # piece numbers
    hkey = np.empty(k, dtype=np.int64)  # their current keys
    n = 0
    for q in range(k):
        pos[q] = starts[q]
        end[q] = ends[q]
        if pos[q] < end[q]:
            # Sift up the new leaf.
            j = n
            key = keys[pos[q]]
            while j > 0:
                parent = (j - 1) >> 1
                if hkey[parent] <= key:
                    break
                heap[j] = heap[parent]
                hkey[j] = hkey[parent]
                j = parent
            heap[j] = q
            hkey[j] = key
            n += 1
    m = 0
    while n > 0:
        q = heap[0]
        key = hkey[0]
        v = vals[pos[q]]
        if m > 0 and out_keys[m - 1] == key:
            out_vals[m - 1] += v
        else:
            out_keys[m] = key
            out_vals[m] = v
            m += 1
        pos[q] += 1
        if pos[q] < end[q]:
            new_key = keys[pos[q]]
        else:
            n -= 1
            q = heap[n]
            new_key = hkey[n]
        if n == 0:
            break
        # Sift the root's replacement down.
        j = 0
        while True:
            child = 2 * j + 1
            if child >= n:
                break
            if child + 1 < n and hkey[child + 1] < hkey[child]:
                child += 1
            if hkey[child] >= new_key:
                break
            heap[j] = heap[child]
            hkey[j] = hkey[child]
            j = child
        heap[j] = q
        hkey[j] = new_key
    return m


@njit(cache=True, nogil=True)
def dense_block_run(dense, row_start, n_dense, mode, n_cols):
    """The non-zero entries of a counter's dense block as a sorted run."""
    canonical = mode == MODE_CANONICAL
    n = 0
    for x in range(dense.shape[0]):
        if dense[x] != 0:
            n += 1
    keys = np.empty(n, dtype=np.int64)
    vals = np.empty(n, dtype=np.int64)
    m = 0
    for r in range(n_dense):
        c0 = r if canonical else 0
        for c in range(c0, n_dense):
            v = dense[row_start[r] + c]
            if v != 0:
                keys[m] = np.int64(r) * n_cols + c
                vals[m] = v
                m += 1
    return keys, vals


@njit(cache=True, nogil=True)
def route_entries(
    keys,
    vals,
    mode,
    n_cols,
    out_cols,
    n_words,
    bucket_of,
    n_buckets,
    row_counts,
    own_keys,
    own_vals,
    mir_keys,
    mir_vals,
    mir_starts,
):
    """Split merged stored pairs into own entries and mirror entries.

    Each pair ``(r, c, v)`` (``key = r * n_cols + c``, keys increasing) gives
    its own entry, written to ``own_keys``/``own_vals`` in the same order
    under its output key (see the module notes), and, where the mode
    mirrors, a mirror entry for row ``c``, kept under its *stored* key and
    grouped by the bucket of ``c`` (``bucket_of[c]``): bucket ``b``'s mirror
    entries end up in ``mir_*[mir_starts[b]:mir_starts[b + 1]]``, in stored
    order (a stable counting sort; ``mir_starts`` has ``n_buckets + 1``
    places). ``row_counts[row]`` gains the number of entries of each output
    row. Returns the number of mirror entries.
    """
    canonical = mode == MODE_CANONICAL
    ordered = mode == MODE_ORDERED
    n = keys.shape[0]
    mir_starts[:] = 0
    for i in range(n):
        r = keys[i] // n_cols
        c = keys[i] - r * n_cols
        row_counts[r] += 1
        if ordered or (canonical and c != r):
            mir_starts[bucket_of[c] + 1] += 1
            row_counts[c] += 1
    for b in range(n_buckets):
        mir_starts[b + 1] += mir_starts[b]
    cursor = mir_starts[:-1].copy()
    for i in range(n):
        r = keys[i] // n_cols
        c = keys[i] - r * n_cols
        v = vals[i]
        if ordered:
            own_keys[i] = r * out_cols + c + n_words
            own_vals[i] = v
        elif canonical and c == r:
            own_keys[i] = r * out_cols + c
            own_vals[i] = 2 * v
        else:
            own_keys[i] = r * out_cols + c
            own_vals[i] = v
        if ordered or (canonical and c != r):
            q = cursor[bucket_of[c]]
            mir_keys[q] = keys[i]
            mir_vals[q] = v
            cursor[bucket_of[c]] = q + 1
    return mir_starts[n_buckets]


@njit(cache=True, nogil=True)
def assemble_rows(
    own_keys,
    own_vals,
    mir_keys,
    mir_vals,
    n_cols,
    out_cols,
    row_lo,
    row_ptr,
    scale,
    cursor,
    indices,
    data,
):
    """Write output rows ``[row_lo, row_lo + len(row_ptr) - 1)`` as CSR
    columns and values (``vals / scale``) at ``row_ptr`` (their offsets in
    ``indices``/``data``).

    ``own_*`` are the rows' own entries (output keys, increasing); ``mir_*``
    their mirror entries under stored keys ``(r, c)`` (destination row ``c``,
    column ``r``), in increasing stored order, so each row receives its
    mirror columns in increasing order, before its own (larger) columns.
    ``cursor`` is int64 scratch of ``len(row_ptr) - 1``. Returns False if the
    entries do not fill the rows exactly.
    """
    n_rows = row_ptr.shape[0] - 1
    for x in range(n_rows):
        cursor[x] = row_ptr[x]
    for i in range(mir_keys.shape[0]):
        r = mir_keys[i] // n_cols
        x = mir_keys[i] - r * n_cols - row_lo
        if x < 0 or x >= n_rows:
            return False
        q = cursor[x]
        if q >= row_ptr[x + 1]:
            return False
        indices[q] = np.int32(r)
        data[q] = mir_vals[i] / scale
        cursor[x] = q + 1
    for i in range(own_keys.shape[0]):
        r = own_keys[i] // out_cols
        x = r - row_lo
        if x < 0 or x >= n_rows:
            return False
        q = cursor[x]
        if q >= row_ptr[x + 1]:
            return False
        indices[q] = np.int32(own_keys[i] - r * out_cols)
        data[q] = own_vals[i] / scale
        cursor[x] = q + 1
    for x in range(n_rows):
        if cursor[x] != row_ptr[x + 1]:
            return False
    return True
