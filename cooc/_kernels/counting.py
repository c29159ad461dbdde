"""Numba kernels of window counting, sparse products and PPMI.

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
runs one kernel call per thread. Counting splits the token stream: thread
``tid`` takes the centre positions ``[pos, pos_end)`` of a chunk (a cut may fall
inside a document; a pair belongs to the thread of its left token) and adds into
its own storage only. Integer sums make any split exact, so per-thread partial
counts are simply added up at the end.

Storage per thread
------------------
* A dense block for pairs of the ``K`` most frequent words (ids are in
  frequency order, so both ids ``< K``): a flat ``int64`` array indexed by
  ``row_start[row] + col`` (the upper triangle packed in ``MODE_CANONICAL``, a
  full ``K * K`` square otherwise).
* A pair buffer for everything else: one ``int64`` word per pair update,
  ``(row * n_cols + col) << d_bits | distance``, appended sequentially (no
  random access: a hash table's probes into a large table wait on DRAM). When
  it is full, or for a result, it is sorted by key and its duplicates summed
  into a sorted *run* (``sort_reduce_pairs``): ``(keys, values)``, both
  ``int64``, keys strictly increasing. Runs are merged LSM-style
  (``merge_runs``, driven by ``cooc._kernels.runs.RunStack``); being in
  ``(row, col)`` order, they become CSR rows in one linear count pass and one
  fill pass (``emit_csr_entries``), with no per-row sort and no transpose.

Performance notes: the hot loops write their array updates inline; a helper
taking arrays, even ``inline="always"``, costs a reference-count round trip
per call (about 30x slower here).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DOC_MULT = np.uint64(0xD6E8FEB86659FD93)
_INV_2_53 = 1.0 / 9007199254740992.0

MODE_CANONICAL = 0  # symmetric, fixed window: key (min, max); result U + U.T
MODE_ORDERED = 1  # directional, fixed window: key (left, right); result [R.T | R]
MODE_CENTER = 2  # dynamic window: key (center, context column); result as stored

_SLOT_BITS = 17  # sort_reduce_pairs: dense slots for a bucket's keys (1 MB, fits L2)
# sort_reduce_pairs: at most 2**10 MSD buckets (of 8-11 and 15 tried, 10 sorted
# fastest: 21-27 ns per pair against 25-37 with 15, at 32- and 39-bit keys)
_MAX_TOP_BITS = 10


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


@njit(cache=True, nogil=True)
def count_window_pairs(
    ids,
    offsets,
    pos,
    pos_end,
    weights,
    windows,
    mode,
    n_cols,
    n_words,
    dense,
    row_start,
    n_dense,
    buf,
    n_buf,
    d_bits,
):
    """Count the window pairs whose left token lies in ``ids[pos:pos_end]``.

    ``weights[d]`` (int64, length ``window + 1``) is the integer weight of
    distance ``d``; ``windows`` (int32 per position) is the sampled width in
    ``MODE_CENTER`` and ignored otherwise. Pairs of two ids ``< n_dense`` are
    added to ``dense`` (int64, flat, index ``row_start[row] + col``); the others
    are appended to ``buf[n_buf:]`` as ``(row * n_cols + col) << d_bits | d``.
    Stops early, before a position that could overflow ``buf``.

    Returns ``(pos, n_buf)``: where to resume (``pos == pos_end`` when done) and
    the buffer's new fill.
    """
    window = weights.shape[0] - 1
    limit = buf.shape[0] - 2 * window
    n_docs = offsets.shape[0] - 1
    # the document holding pos: last doc with offsets[doc] <= pos
    lo = 0
    hi = n_docs
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offsets[mid] <= pos:
            lo = mid
        else:
            hi = mid
    doc = lo
    while pos < pos_end:
        while offsets[doc + 1] <= pos:
            doc += 1
        end = offsets[doc + 1]
        stop = min(end, pos_end)
        while pos < stop:
            if n_buf > limit:
                return pos, n_buf
            a = ids[pos]
            if a >= 0:
                # (The pair update is written out in each branch: a helper taking
                # arrays costs a reference-count round trip per call.)
                last = min(pos + window, end - 1)
                if mode == MODE_CANONICAL:
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        d = j - pos
                        row = min(a, b)
                        col = max(a, b)
                        if col < n_dense:
                            dense[row_start[row] + col] += weights[d]
                        else:
                            buf[n_buf] = ((np.int64(row) * n_cols + col) << d_bits) | d
                            n_buf += 1
                elif mode == MODE_ORDERED:
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        d = j - pos
                        if a < n_dense and b < n_dense:
                            dense[row_start[a] + b] += weights[d]
                        else:
                            buf[n_buf] = ((np.int64(a) * n_cols + b) << d_bits) | d
                            n_buf += 1
                else:
                    # MODE_CENTER: a at pos is the centre for its right contexts
                    # (distance <= its own width), and the left context of each
                    # right neighbour whose width reaches back to pos.
                    shift = n_words if n_cols > n_words else 0
                    for j in range(pos + 1, last + 1):
                        b = ids[j]
                        if b < 0:
                            continue
                        d = j - pos
                        if d <= windows[pos]:
                            col = b + shift
                            if a < n_dense and col < n_dense:
                                dense[row_start[a] + col] += weights[d]
                            else:
                                key = np.int64(a) * n_cols + col
                                buf[n_buf] = (key << d_bits) | d
                                n_buf += 1
                        if d <= windows[j]:
                            if b < n_dense and a < n_dense:
                                dense[row_start[b] + a] += weights[d]
                            else:
                                key = np.int64(b) * n_cols + a
                                buf[n_buf] = (key << d_bits) | d
                                n_buf += 1
            pos += 1
    return pos, n_buf


@njit(cache=True, nogil=True)
def sort_reduce_pairs(buf, tmp, n, weights, d_bits, key_bits):
    """Sort ``buf[:n]`` by key and sum the weights of equal keys, in place.

    ``buf`` holds words ``key << d_bits | d`` with ``key < 2 ** key_bits``;
    ``tmp`` (int64, length >= n) is scratch. Returns ``m``: the distinct keys,
    increasing, are in ``buf[:m]`` and their summed weights in ``tmp[:m]``.

    One MSD radix pass on the top key bits scatters into buckets. A bucket
    holding many pairs for its key range (the rows of frequent words) is summed
    into an L2-sized array of slots indexed by the remaining bits, then read out
    in order; any other bucket is LSD radix-sorted on the remaining bits
    (insertion sort when tiny) and reduced.
    """
    if n == 0:
        return 0
    top = 1
    while top < 14 and (np.int64(1) << (top + 10)) < n:
        top += 1
    if n > (np.int64(1) << 20):
        top = max(top, min(key_bits - _SLOT_BITS, _MAX_TOP_BITS))
    top = min(top, key_bits)
    rest = key_bits - top
    shift = d_bits + rest
    n_buckets = np.int64(1) << top
    bounds = np.zeros(n_buckets + 1, dtype=np.int64)
    for i in range(n):
        bounds[(buf[i] >> shift) + 1] += 1
    for b in range(n_buckets):
        bounds[b + 1] += bounds[b]
    cursor = bounds[:-1].copy()
    for i in range(n):
        x = buf[i]
        b = x >> shift
        tmp[cursor[b]] = x
        cursor[b] += 1
    # Data now in tmp. LSD on bits [d_bits, d_bits + rest) in n_pass digits.
    n_pass = (rest + 10) // 11
    digit = (rest + n_pass - 1) // n_pass if n_pass > 0 else 1
    radix = np.int64(1) << digit
    dmask = radix - 1
    hist = np.zeros((max(n_pass, 1), radix), dtype=np.int64)
    wmask = (np.int64(1) << d_bits) - 1
    slots = np.zeros(0, dtype=np.int64)
    m = 0
    for b in range(n_buckets):
        lo = bounds[b]
        hi = bounds[b + 1]
        if hi == lo:
            continue
        src = tmp
        if rest <= _SLOT_BITS and (hi - lo) * 8 >= (np.int64(1) << rest):
            if slots.shape[0] == 0:
                slots = np.zeros(np.int64(1) << rest, dtype=np.int64)
            rmask = (np.int64(1) << rest) - 1
            for i in range(lo, hi):
                x = tmp[i]
                slots[(x >> d_bits) & rmask] += weights[x & wmask]
            # All of tmp[lo:hi] is read before anything is written at <= hi.
            base = np.int64(b) << rest
            for r in range(np.int64(1) << rest):
                v = slots[r]
                if v != 0:
                    buf[m] = base + r
                    tmp[m] = v
                    m += 1
                    slots[r] = 0
            continue
        if hi - lo <= 48 or n_pass == 0:
            for i in range(lo + 1, hi):
                x = tmp[i]
                k = x >> d_bits
                j = i - 1
                while j >= lo and (tmp[j] >> d_bits) > k:
                    tmp[j + 1] = tmp[j]
                    j -= 1
                tmp[j + 1] = x
        else:
            hist[:, :] = 0
            for i in range(lo, hi):
                x = tmp[i] >> d_bits
                for p in range(n_pass):
                    hist[p, (x >> (p * digit)) & dmask] += 1
            dst = buf
            for p in range(n_pass):
                s = lo
                for r in range(radix):
                    c = hist[p, r]
                    hist[p, r] = s
                    s += c
                sh = d_bits + p * digit
                for i in range(lo, hi):
                    x = src[i]
                    r = (x >> sh) & dmask
                    dst[hist[p, r]] = x
                    hist[p, r] += 1
                src, dst = dst, src
        # Reduce src[lo:hi] into buf[m:] (keys) and tmp[m:] (sums). Safe in place:
        # slot m + k is written only after every index <= it has been read.
        x = src[lo]
        key = x >> d_bits
        acc = weights[x & wmask]
        for i in range(lo + 1, hi):
            x = src[i]
            k = x >> d_bits
            if k != key:
                buf[m] = key
                tmp[m] = acc
                m += 1
                key = k
                acc = weights[x & wmask]
            else:
                acc += weights[x & wmask]
        buf[m] = key
        tmp[m] = acc
        m += 1
    return m


@njit(cache=True, nogil=True)
def merge_runs(keys1, vals1, keys2, vals2, keys, vals):
    """Merge two sorted runs, summing equal keys, into ``keys``/``vals`` (int64,
    length >= both runs together); returns the merged length."""
    n1 = keys1.shape[0]
    n2 = keys2.shape[0]
    i = 0
    j = 0
    m = 0
    while i < n1 and j < n2:
        k1 = keys1[i]
        k2 = keys2[j]
        if k1 < k2:
            keys[m] = k1
            vals[m] = vals1[i]
            i += 1
        elif k2 < k1:
            keys[m] = k2
            vals[m] = vals2[j]
            j += 1
        else:
            keys[m] = k1
            vals[m] = vals1[i] + vals2[j]
            i += 1
            j += 1
        m += 1
    while i < n1:
        keys[m] = keys1[i]
        vals[m] = vals1[i]
        i += 1
        m += 1
    while j < n2:
        keys[m] = keys2[j]
        vals[m] = vals2[j]
        j += 1
        m += 1
    return m


@njit(cache=True, nogil=True, inline="always")
def _seek(keys, p, target):
    """First index ``>= p`` of sorted ``keys`` whose key is ``>= target``
    (galloping: cheap when it is near ``p``)."""
    n = keys.shape[0]
    if p >= n or keys[p] >= target:
        return p
    step = 1
    lo = p  # keys[lo] < target
    hi = p + 1
    while hi < n and keys[hi] < target:
        lo = hi
        step *= 2
        hi = lo + step
    hi = min(hi, n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if keys[mid] < target:
            lo = mid
        else:
            hi = mid
    return hi


@njit(cache=True, nogil=True)
def emit_csr_entries(
    dense,
    row_start,
    n_dense,
    keys1,
    vals1,
    keys2,
    vals2,
    row_lo,
    row_hi,
    mode,
    n_cols,
    n_words,
    fill,
    own,
    mirror,
    indices,
    data,
    dest_lo,
    dest_hi,
    out_base,
):
    """Count (``fill=False``) or write (``fill=True``) the CSR entries of rows
    ``[row_lo, row_hi)`` of the stored counts.

    Stored entries are the dense block's rows plus two sorted runs
    ``(keys1, vals1)`` and ``(keys2, vals2)`` (either may be empty; keys in
    ``[row_lo * n_cols, row_hi * n_cols)``), merged on the fly. Each stored
    ``(r, c, v)`` becomes an *own* entry of output row ``r`` and, in
    ``MODE_CANONICAL`` (``c != r``) and ``MODE_ORDERED``, a *mirror* entry
    ``(c, r, v)``; canonical diagonals are doubled, ordered own columns are
    shifted by ``n_words``. Counting adds 1 to ``own[r]`` / ``mirror[c]``;
    filling uses them as write cursors (advanced in place). An output row is its
    mirror entries (columns ``r``, increasing when the row ranges of successive
    calls are increasing) then its own entries, so the CSR comes out sorted.

    Only entries of output rows in ``[dest_lo, dest_hi)`` are counted or
    written; a write goes to position ``cursor - out_base`` (so a band of output
    rows can be filled into an array of its own). A stored row outside that
    range is not read through: its columns in ``[dest_lo, dest_hi)`` (its
    mirror entries for the band) are found by galloping search, so writing a
    matrix band by band reads each stored entry about once.
    """
    canonical = mode == MODE_CANONICAL
    ordered = mode == MODE_ORDERED
    n1 = keys1.shape[0]
    n2 = keys2.shape[0]
    p1 = 0
    p2 = 0
    for r in range(row_lo, row_hi):
        # Row r's stored entries: dense columns [c0, n_dense), then the runs'
        # entries (columns >= n_dense), so columns increase throughout.
        c0 = r if canonical else 0
        row_key = np.int64(r) * n_cols
        row_end = row_key + n_cols
        hi_col = n_cols
        q1 = p1
        q2 = p2
        if not (dest_lo <= r < dest_hi):
            # Only mirror entries (c, r) with c in [dest_lo, dest_hi) are
            # wanted from this row: jump to that column range, and past the row
            # after it, instead of reading the whole row.
            c0 = max(c0, dest_lo)
            hi_col = min(dest_hi, n_cols)
            if not (ordered or canonical) or c0 >= hi_col:
                p1 = _seek(keys1, p1, row_end)
                p2 = _seek(keys2, p2, row_end)
                continue
            q1 = _seek(keys1, p1, row_key + c0)
            q2 = _seek(keys2, p2, row_key + c0)
        stop = row_key + hi_col
        n_d = max(min(n_dense, hi_col) - c0, 0) if r < n_dense else 0
        base = row_start[r] if r < n_dense else 0
        i = 0
        while True:
            if i < n_d:
                c = np.int64(c0 + i)
                v = dense[base + c]
                i += 1
            else:
                in1 = q1 < n1 and keys1[q1] < stop
                in2 = q2 < n2 and keys2[q2] < stop
                if in1 and (not in2 or keys1[q1] <= keys2[q2]):
                    c = keys1[q1] - row_key
                    v = vals1[q1]
                    if in2 and keys2[q2] == keys1[q1]:
                        v += vals2[q2]
                        q2 += 1
                    q1 += 1
                elif in2:
                    c = keys2[q2] - row_key
                    v = vals2[q2]
                    q2 += 1
                else:
                    break
            if v == 0:
                continue
            own_col = c
            own_val = v
            mirrored = ordered or (canonical and c != r)
            if ordered:
                own_col = c + n_words
            elif canonical and c == r:
                own_val = 2 * v
            if dest_lo <= r < dest_hi:
                if fill:
                    q = own[r]
                    indices[q - out_base] = own_col
                    data[q - out_base] = own_val
                    own[r] = q + 1
                else:
                    own[r] += 1
            if mirrored and dest_lo <= c < dest_hi:
                if fill:
                    q = mirror[c]
                    indices[q - out_base] = r
                    data[q - out_base] = v
                    mirror[c] = q + 1
                else:
                    mirror[c] += 1
        # past the row (a row read through ends where its last entry was taken)
        p1 = q1 if hi_col == n_cols else _seek(keys1, q1, row_end)
        p2 = q2 if hi_col == n_cols else _seek(keys2, q2, row_end)


@njit(cache=True, nogil=True)
def divide_counts_inplace(data, scale):
    """Overwrite int64 ``data`` by ``float64(data) / scale``; return it as float64."""
    out = data.view(np.float64)
    for i in range(data.shape[0]):
        out[i] = data[i] / scale
    return out


# -- linear algebra ------------------------------------------------------------------


# Width of the column panels of `csr_dense_panel`: 64 float32 columns are
# 256 bytes (four cache lines, four AVX-512 registers) per row of B, so the
# panel of a 50,000-row B (13 MB) stays in a shared L3 cache while every row of
# A gathers from it. Measured on the PPMI matrix of the development corpus
# (52k x 52k, 25M non-zeros, B of 750 columns, 2 threads): whole rows of B
# gathered from DRAM took 2.2 s, 64-column panels 1.2 s; 32 and 128 were
# slower once the loop below was unrolled and prefetching.
PANEL = 64
# Non-zeros of a row of A consumed per step of `csr_dense_panel` (one load and
# store of the accumulators per step instead of per non-zero), and how many
# non-zeros ahead the rows of B they will gather are prefetched (the panel is
# in L3, whose latency would otherwise stall every step). 4 and 16: 0.65 s per
# product above, against 0.80 s unrolled without prefetching and 1.2 s with
# neither; unrolling by 8 or prefetching 8 or 64 ahead was no better.
_UNROLL = 4  # csr_dense_panel spells out its four loads
_PREFETCH_AHEAD = 16


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch the cache line of ``arr[idx]`` (a 1-D array).

    Shared by the kernels of ``text.py`` and ``streaming.py`` (a hint has no
    effect on results, so numba's cache missing an edit here is harmless).

    No effect on results: LLVM's ``llvm.prefetch`` (read, keep in all cache
    levels); no bounds check, and none is needed, a prefetch never faults.
    """
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        arr_type = signature.args[0]
        array = context.make_array(arr_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, arr_type, array, [args[1]], wraparound=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        rw, locality, data_cache = (
            ir.Constant(i32, 0),
            ir.Constant(i32, 3),
            ir.Constant(i32, 1),
        )
        builder.call(fn, [builder.bitcast(ptr, i8p), rw, locality, data_cache])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, fastmath=True)
def csr_dense_panel(indptr, indices, data, panel, out, row_lo, row_hi):
    """``out[i] = A[i] @ panel`` for rows ``row_lo <= i < row_hi`` of a CSR ``A``.

    ``panel`` is a C-contiguous ``(n_cols_A, PANEL)`` copy of a block of
    columns of ``B`` (zero-padded on the right); ``out`` (``(n_rows_A, w)``
    with ``w <= PANEL``, any strides) receives its first ``w`` columns. The
    caller runs every row block of one panel before the next, so the panel's
    rows that ``A`` gathers come from cache (a copy: gathering the same
    256-byte pieces from the rows of the whole of ``B`` was 1.5x slower). A
    row's non-zeros are taken ``_UNROLL`` at a time, and the rows of
    ``panel`` that the non-zeros ``_PREFETCH_AHEAD`` further on will need are
    prefetched. Each output entry is summed over the row's non-zeros in index
    order, in the same groups whatever the row blocks, so the result does
    not depend on how rows are split among threads. ``fastmath`` lets the
    loops over the panel's columns vectorise.
    """
    width = out.shape[1]
    line = max(1, 64 // panel.itemsize)  # elements per 64-byte cache line
    flat = panel.ravel()
    acc = np.empty(PANEL, dtype=out.dtype)
    for i in range(row_lo, row_hi):
        for c in range(PANEL):
            acc[c] = 0.0
        p = indptr[i]
        end = indptr[i + 1]
        while p + _UNROLL <= end:
            if p + _PREFETCH_AHEAD + _UNROLL <= end:
                for j in range(_UNROLL):
                    ahead = np.uint64(indices[p + _PREFETCH_AHEAD + j]) * PANEL
                    for e in range(0, PANEL, line):
                        prefetch(flat, ahead + e)
            v0 = data[p]
            v1 = data[p + 1]
            v2 = data[p + 2]
            v3 = data[p + 3]
            b0 = panel[np.uint64(indices[p])]
            b1 = panel[np.uint64(indices[p + 1])]
            b2 = panel[np.uint64(indices[p + 2])]
            b3 = panel[np.uint64(indices[p + 3])]
            for c in range(PANEL):
                acc[c] += (v0 * b0[c] + v1 * b1[c]) + (v2 * b2[c] + v3 * b3[c])
            p += _UNROLL
        while p < end:
            v = data[p]
            b = panel[np.uint64(indices[p])]
            for c in range(PANEL):
                acc[c] += v * b[c]
            p += 1
        for c in range(width):
            out[i, c] = acc[c]


@njit(cache=True, nogil=True)
def csr_sparse_sign(indptr, indices, data, cols, signs, out, row_lo, row_hi):
    """``out[i] = A[i] @ S`` for rows ``row_lo <= i < row_hi`` of a CSR ``A``.

    ``S`` is a sparse sign matrix given by rows: row ``j`` holds ``signs[j, t]``
    in column ``cols[j, t]`` for each ``t`` (a repeated column adds up).
    ``out`` (``(n_rows_A, n_cols_S)``, C-contiguous) is overwritten; each
    entry is summed in the order of the row's non-zeros, whatever the split
    of rows among threads.
    """
    zeta = cols.shape[1]
    for i in range(row_lo, row_hi):
        row = out[i]
        for c in range(row.shape[0]):
            row[c] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            j = indices[p]
            for t in range(zeta):
                row[cols[j, t]] += v * signs[j, t]


# -- weighting ------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def ppmi_values(
    indptr, indices, data, log_rows, log_ctx, log_shift, tol, out, row_counts, lo, hi
):
    """PPMI of the stored counts of CSR rows ``lo <= i < hi``, before compaction.

    ``out[p] = log(data[p]) - log_rows[i] - log_ctx[indices[p]] - log_shift``
    (in float64, stored in ``out``'s dtype) when that is at least ``tol`` and
    finite, else 0; ``row_counts[i]`` is the number of kept entries of row
    ``i``. An unseen context (``log_ctx = -inf``) gives 0. Returns how many
    counts were negative, NaN or infinite (the caller raises).
    """
    bad = 0
    for i in range(lo, hi):
        kept = 0
        base = log_rows[i] + log_shift
        for p in range(indptr[i], indptr[i + 1]):
            x = np.float64(data[p])
            if not (x >= 0.0 and x < np.inf):
                bad += 1
                out[p] = 0.0
                continue
            v = np.log(x) - base - log_ctx[indices[p]] if x > 0.0 else 0.0
            if v >= tol and v < np.inf:
                out[p] = v
                kept += 1
            else:
                out[p] = 0.0
        row_counts[i] = kept
    return bad


@njit(cache=True, nogil=True)
def compact_rows(indptr, indices, values, new_indptr, new_indices, new_data, lo, hi):
    """Copy the non-zero ``values`` of CSR rows ``lo <= i < hi`` to new arrays.

    ``new_indptr`` holds the kept counts' running sums, so each row is
    written to its own slice whatever the split of rows among threads.
    """
    for i in range(lo, hi):
        q = new_indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            if values[p] != 0:
                new_indices[q] = indices[p]
                new_data[q] = values[p]
                q += 1


# -- multimodal: visual words that are spatial neighbours ---------------------------


@njit(cache=True, nogil=True)
def count_spatial_pairs(
    codes, offsets, rows, cols, radius, pos, pos_end, n_visual, buf, n_buf
):
    """Append the ordered pairs of neighbouring patches whose first patch lies in
    ``codes[pos:pos_end]``.

    ``codes`` (int32, ``[0, n_visual)``) are the patches' visual words, split
    into images by ``offsets`` (int64); ``rows``/``cols`` (int64) are their grid
    positions, sorted by ``(row, col)`` within each image. Patches ``p != q`` of
    one image are neighbours when ``max(|drow|, |dcol|) <= radius``; each such
    ``(p, q)`` appends ``(codes[p] * n_visual + codes[q]) << 1 | 1`` to
    ``buf[n_buf:]`` (the word layout of ``sort_reduce_pairs`` with ``d_bits=1``).
    Stops early, before a patch whose pairs might not fit (``buf`` must hold
    more words than the largest image has patches).

    Returns ``(pos, n_buf)``: where to resume and the buffer's new fill.
    """
    cap = buf.shape[0]
    n_docs = offsets.shape[0] - 1
    lo = 0
    hi = n_docs
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offsets[mid] <= pos:
            lo = mid
        else:
            hi = mid
    doc = lo
    while pos < pos_end:
        while offsets[doc + 1] <= pos:
            doc += 1
        start = offsets[doc]
        end = offsets[doc + 1]
        if n_buf + (end - start) > cap:
            return pos, n_buf
        r = rows[pos]
        c = cols[pos]
        key = np.int64(codes[pos]) * n_visual
        # first patch of the image whose row is >= r - radius
        a = start
        b = end
        while a < b:
            mid = (a + b) // 2
            if rows[mid] < r - radius:
                a = mid + 1
            else:
                b = mid
        q = a
        while q < end and rows[q] <= r + radius:
            if q != pos and abs(cols[q] - c) <= radius:
                buf[n_buf] = ((key + codes[q]) << 1) | 1
                n_buf += 1
            q += 1
        pos += 1
    return pos, n_buf
