"""Tokenizing UTF-8 bytes and counting distinct tokens, in compiled code.

Array contracts
---------------
* Text arrives as a ``uint8`` array of whole documents separated by ``\\n``
  (``0x0A``); the kernel reads ``data[state[0]:hi]``. Documents are never cut.
* Characters are classified by a ``uint8`` table over all code points
  (``CLASS_TOKEN``: part of a token; ``CLASS_APOSTROPHE``: kept between two
  token characters; ``CLASS_SPECIAL``: its lowercase depends on the context
  (U+03A3, capital sigma), so the caller lowercases its line in Python) and
  lowercased through an ``int32`` table (one code point to one code point; the
  kernel adds the U+0307 of U+0130's two-character lowercase itself).
* A **token table** is an open-addressing hash table with linear probing:

  - ``slots`` (``uint64``, two words per slot, a power of two slots): the
    *key*, then ``min(length, 255) << 56 | (entry + 1)`` (0: empty). The key
    of a token of at most 8 bytes is its bytes packed little-endian (so the
    common short token is compared in one instruction, without reading the
    arena); that of a longer one is its hash, confirmed against the arena;
  - per entry, ``ent_hash`` (``uint64``), ``ent_start`` (``int64``, offset of
    the token's UTF-8 bytes in ``arena``) and ``ent_len`` (``int64``);
  - ``sizes`` (``int64[2]``): entries used, arena bytes used.

  Tokenizing does not count: the caller counts codes with ``numpy.bincount``
  (a sequential pass instead of a random write per token).

  Entries are numbered in order of first insertion and never move, so the codes
  a kernel wrote stay valid when the table grows.
* A kernel never grows an array itself: when the table, the arena or the
  per-thread ``scratch`` buffer is full it returns ``STATUS_GROW`` with
  ``state`` pointing at the start of the token it could not finish; the caller
  grows what is full (``state[3]``: ``GROW_SCRATCH`` or ``GROW_TABLE``;
  ``state[4]``: the token's length so far) and calls again.
  ``STATUS_FALLBACK`` means the bytes need Python (invalid UTF-8, or a
  ``CLASS_SPECIAL`` character when lowercasing); ``state`` then points at the
  offending byte, with the codes and documents written so far, so that the
  caller can redo that one line and carry on after it.

Tokens follow :mod:`cooc.corpus` exactly: the text is lowercased first (when
asked), then a token is a maximal run of ``CLASS_TOKEN`` characters, joined
across one ``CLASS_APOSTROPHE`` character that has a token character on both
sides.
"""

import numpy as np
from numba import njit

# A prefetch hint has no effect on results, so sharing it with counting.py does
# not break the rule that a cached kernel's helpers live in its own file.
from cooc._kernels.counting import _prefetch

STATUS_OK = 0
STATUS_GROW = 1
STATUS_FALLBACK = 2
TOKEN_STATUS_OK = STATUS_OK
TOKEN_STATUS_FALLBACK = STATUS_FALLBACK

GROW_SCRATCH = 1
GROW_TABLE = 2

CLASS_TOKEN = 1
CLASS_APOSTROPHE = 2
CLASS_SPECIAL = 4

_SEED = np.uint64(0x9E3779B97F4A7C15)
_WORD_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
_LEN_MULT = np.uint64(0x165667B19E3779F9)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_ENTRY_MASK = np.uint64((1 << 40) - 1)
_NEWLINE = 10
# Lookups wait in a ring of RING tokens while their slots are prefetched; a
# token of up to RING_BYTES - 6 bytes is built in its ring slot of scratch,
# a longer one in the big area after the ring.
RING = 16
RING_BYTES = 64
_BIG = RING * RING_BYTES
SCRATCH_MIN = _BIG + 64


@njit(cache=True, nogil=True, inline="always")
def _decode(data, i, hi, allow_surrogates):
    """Code point and byte length of the UTF-8 sequence at ``data[i]``
    (``i < hi``); ``(-1, 0)`` for an invalid or truncated one."""
    b0 = np.int64(data[i])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xC2:
        return -1, 0
    if b0 < 0xE0:
        if i + 1 >= hi:
            return -1, 0
        b1 = np.int64(data[i + 1])
        if b1 < 0x80 or b1 > 0xBF:
            return -1, 0
        return ((b0 & 0x1F) << 6) | (b1 & 0x3F), 2
    if b0 < 0xF0:
        if i + 2 >= hi:
            return -1, 0
        b1 = np.int64(data[i + 1])
        b2 = np.int64(data[i + 2])
        lo1 = 0xA0 if b0 == 0xE0 else 0x80
        hi1 = 0x9F if (b0 == 0xED and not allow_surrogates) else 0xBF
        if b1 < lo1 or b1 > hi1 or b2 < 0x80 or b2 > 0xBF:
            return -1, 0
        return ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F), 3
    if b0 < 0xF5:
        if i + 3 >= hi:
            return -1, 0
        b1 = np.int64(data[i + 1])
        b2 = np.int64(data[i + 2])
        b3 = np.int64(data[i + 3])
        lo1 = 0x90 if b0 == 0xF0 else 0x80
        hi1 = 0x8F if b0 == 0xF4 else 0xBF
        if b1 < lo1 or b1 > hi1 or b2 < 0x80 or b2 > 0xBF or b3 < 0x80 or b3 > 0xBF:
            return -1, 0
        cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6)
        return cp | (b3 & 0x3F), 4
    return -1, 0


@njit(cache=True, nogil=True, inline="always")
def _mix_word(h, w):
    h = (h ^ w) * _WORD_MULT
    return h ^ (h >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _finish_hash(h, w, n):
    x = h ^ w ^ (np.uint64(n) * _LEN_MULT)
    x ^= x >> np.uint64(33)
    x *= _MIX1
    x ^= x >> np.uint64(29)
    x *= _MIX2
    return x ^ (x >> np.uint64(32))


@njit(cache=True, nogil=True)
def _hash_key(buf, start, n):
    """``(hash, key)`` of the token ``buf[start:start + n]``: the same values
    :func:`tokenize_bytes` computes byte by byte."""
    h = _SEED
    w = np.uint64(0)
    for p in range(n):
        if p > 0 and (p & 7) == 0:
            h = _mix_word(h, w)
            w = np.uint64(0)
        w |= np.uint64(buf[start + p]) << np.uint64(8 * (p & 7))
    x = _finish_hash(h, w, n)
    return x, (w if n <= 8 else x)


@njit(cache=True, nogil=True)
def tokenize_bytes(
    data,
    hi,
    cls,
    lower,
    lowercase,
    allow_surrogates,
    insert,
    slots,
    ent_hash,
    ent_start,
    ent_len,
    arena,
    sizes,
    scratch,
    codes,
    offsets,
    state,
):
    """Tokenize ``data[state[0]:hi]`` and code every token through a token table.

    ``insert`` True: unseen tokens become new entries; False: the table is only
    read (several threads may share it) and unseen tokens get code -1. Writes
    ``codes[state[1]:]`` (int32 entry numbers) and, at each ``\\n``,
    ``offsets[state[2] + 1] = n_tokens`` (``offsets[0]`` is the caller's; the
    last document is closed by the caller too). ``state`` (int64[5]: position,
    tokens, documents, then what to grow and the token's length) is updated in
    place; returns a ``STATUS_*`` code. ``scratch`` (uint8) must hold at least
    ``SCRATCH_MIN`` bytes.

    Lookups are pipelined: a finished token waits in a ring of ``RING``
    tokens while the cache line of its slot is prefetched, and is looked up
    (and inserted) when the ring is full, in token order. Table capacity for
    every waiting token is checked when it enters the ring, so that looking up
    never needs to grow the table.
    """
    n_tok = state[1]
    n_docs = state[2]
    n_slots = slots.shape[0] // 2
    mask = np.uint64(n_slots - 1)
    scap = scratch.shape[0]
    # The ring: per waiting token its hash, key, length, bytes (in scratch at
    # off) and the position of its code.
    p_x = np.empty(RING, np.uint64)
    p_key = np.empty(RING, np.uint64)
    p_len = np.empty(RING, np.int64)
    p_off = np.empty(RING, np.int64)
    p_at = np.empty(RING, np.int64)
    head = 0
    n_pend = 0
    pend_bytes = 0
    target = RING - 1  # drain the ring down to this many waiting tokens
    ret = -1  # status to return once the ring is drained
    finished = False
    have_token = False  # a finished token waits to enter the ring
    i = state[0]
    tok_len = 0
    tok_pos = i
    cur_off = 0
    h = _SEED
    w = np.uint64(0)
    x = np.uint64(0)
    while True:
        # 1. Look up waiting tokens, oldest first.
        while n_pend > target:
            k = head
            px = p_x[k]
            pkey = p_key[k]
            tl = p_len[k]
            off = p_off[k]
            lenf = np.uint64(min(tl, 255))
            idx = px & mask
            code = -1
            while True:
                v = slots[2 * idx + 1]
                if v == 0:
                    break
                if (v >> np.uint64(56)) == lenf and slots[2 * idx] == pkey:
                    e = np.int64(v & _ENTRY_MASK) - 1
                    if tl <= 8:
                        code = e
                        break
                    if ent_len[e] == tl:
                        start = ent_start[e]
                        same = True
                        for q in range(tl):
                            if arena[start + q] != scratch[off + q]:
                                same = False
                                break
                        if same:
                            code = e
                            break
                idx = (idx + np.uint64(1)) & mask
            if code < 0 and insert:
                # (room was checked when the token entered the ring)
                e = sizes[0]
                used = sizes[1]
                for q in range(tl):
                    arena[used + q] = scratch[off + q]
                ent_hash[e] = px
                ent_start[e] = used
                ent_len[e] = tl
                slots[2 * idx] = pkey
                slots[2 * idx + 1] = (lenf << np.uint64(56)) | np.uint64(e + 1)
                sizes[0] = e + 1
                sizes[1] = used + tl
                code = e
            codes[p_at[k]] = code
            head = (head + 1) % RING
            n_pend -= 1
            pend_bytes -= tl
        if ret >= 0:
            return ret
        if finished:
            break
        target = RING - 1
        # 2. A finished token enters the ring (if the table has room for it
        #    and for every token already waiting).
        if have_token:
            if insert and (
                sizes[0] + n_pend + 1 > ent_start.shape[0]
                or 2 * (sizes[0] + n_pend + 1) > n_slots
                or sizes[1] + pend_bytes + tok_len > arena.shape[0]
            ):
                if n_pend > 0:
                    target = 0
                    continue
                state[0] = tok_pos
                state[1] = n_tok
                state[2] = n_docs
                state[3] = GROW_TABLE
                state[4] = tok_len
                return STATUS_GROW
            x = _finish_hash(h, w, tok_len)
            k = (head + n_pend) % RING
            p_x[k] = x
            p_key[k] = w if tok_len <= 8 else x
            p_len[k] = tok_len
            p_off[k] = cur_off
            p_at[k] = n_tok
            _prefetch(slots, 2 * (x & mask))
            n_pend += 1
            pend_bytes += tok_len
            n_tok += 1
            have_token = False
            if cur_off == _BIG:
                target = 0  # the long token's bytes are needed by the next one
            tok_len = 0
            continue
        # 3. Read one character.
        cp = -1
        nb = 0
        if i < hi:
            cp, nb = _decode(data, i, hi, allow_surrogates)
            if nb == 0:
                state[0] = i
                state[1] = n_tok
                state[2] = n_docs
                ret = STATUS_FALLBACK
                target = 0
                continue
        keep = False
        dotted = False
        if cp >= 0 and cp != _NEWLINE:
            if lowercase:
                if cls[cp] & CLASS_SPECIAL:
                    state[0] = i
                    state[1] = n_tok
                    state[2] = n_docs
                    ret = STATUS_FALLBACK
                    target = 0
                    continue
                # U+0130 lowercases to "i" + U+0307 (both token characters in
                # every tokenizer); the table gives the "i".
                dotted = cp == 0x130
                cp = lower[cp]
            c = cls[cp]
            if c & CLASS_TOKEN:
                keep = True
            elif (c & CLASS_APOSTROPHE) and tok_len > 0 and i + nb < hi:
                # Kept only when the next character is a token character.
                cp2, nb2 = _decode(data, i + nb, hi, allow_surrogates)
                if nb2 == 0:
                    state[0] = i + nb
                    state[1] = n_tok
                    state[2] = n_docs
                    ret = STATUS_FALLBACK
                    target = 0
                    continue
                if cp2 != _NEWLINE:
                    if lowercase:
                        if cls[cp2] & CLASS_SPECIAL:
                            state[0] = i + nb
                            state[1] = n_tok
                            state[2] = n_docs
                            ret = STATUS_FALLBACK
                            target = 0
                            continue
                        cp2 = lower[cp2]
                    keep = (cls[cp2] & CLASS_TOKEN) != 0
        if keep:
            if tok_len == 0:
                tok_pos = i
                h = _SEED
                w = np.uint64(0)
                cur_off = ((head + n_pend) % RING) * RING_BYTES
            if cur_off != _BIG and tok_len + 6 > RING_BYTES:
                # Too long for its ring slot: move to the big area.
                for q in range(tok_len):
                    scratch[_BIG + q] = scratch[cur_off + q]
                cur_off = _BIG
            if cur_off == _BIG and _BIG + tok_len + 6 > scap:
                state[0] = tok_pos
                state[1] = n_tok
                state[2] = n_docs
                state[3] = GROW_SCRATCH
                state[4] = tok_len
                ret = STATUS_GROW
                target = 0
                continue
            # The (lowercased) character as UTF-8, packed little-endian.
            if cp < 0x80:
                enc = cp
                n_enc = 1
            elif cp < 0x800:
                enc = (0xC0 | (cp >> 6)) | ((0x80 | (cp & 0x3F)) << 8)
                n_enc = 2
            elif cp < 0x10000:
                enc = (
                    (0xE0 | (cp >> 12))
                    | ((0x80 | ((cp >> 6) & 0x3F)) << 8)
                    | ((0x80 | (cp & 0x3F)) << 16)
                )
                n_enc = 3
            else:
                enc = (
                    (0xF0 | (cp >> 18))
                    | ((0x80 | ((cp >> 12) & 0x3F)) << 8)
                    | ((0x80 | ((cp >> 6) & 0x3F)) << 16)
                    | ((0x80 | (cp & 0x3F)) << 24)
                )
                n_enc = 4
            if dotted:
                enc |= 0x87CC << (8 * n_enc)
                n_enc += 2
            for _ in range(n_enc):
                b = enc & 0xFF
                enc >>= 8
                scratch[cur_off + tok_len] = b
                if tok_len > 0 and (tok_len & 7) == 0:
                    h = _mix_word(h, w)
                    w = np.uint64(0)
                w |= np.uint64(b) << np.uint64(8 * (tok_len & 7))
                tok_len += 1
            i += nb
            # Fast path: the token's next ASCII token characters, without the
            # checks above (lowercase ASCII is ASCII; a newline, an apostrophe
            # of the word tokenizer, UTF-8 and a full slot go the long way).
            limit = RING_BYTES - 6 if cur_off != _BIG else scap - _BIG - 6
            while i < hi and tok_len < limit:
                b = np.int64(data[i])
                if b >= 0x80:
                    break
                if lowercase:
                    b = np.int64(lower[b])
                if not (cls[b] & CLASS_TOKEN):
                    break
                scratch[cur_off + tok_len] = b
                if (tok_len & 7) == 0:
                    h = _mix_word(h, w)
                    w = np.uint64(0)
                w |= np.uint64(b) << np.uint64(8 * (tok_len & 7))
                tok_len += 1
                i += 1
            continue
        if tok_len > 0:
            have_token = True  # (the character at i is read again after it)
            continue
        if cp < 0:
            finished = True
            target = 0
            continue
        if cp == _NEWLINE:
            n_docs += 1
            offsets[n_docs] = n_tok
        i += nb
    state[0] = hi
    state[1] = n_tok
    state[2] = n_docs
    return STATUS_OK


@njit(cache=True, nogil=True)
def rehash_token_table(ent_hash, ent_start, ent_len, arena, n_entries, slots):
    """Fill the empty ``slots`` (two words per slot, a power of two slots)
    with entries ``0 .. n_entries - 1`` of a token table."""
    mask = np.uint64(slots.shape[0] // 2 - 1)
    for e in range(n_entries):
        x = ent_hash[e]
        n = ent_len[e]
        key = _hash_key(arena, ent_start[e], n)[1] if n <= 8 else x
        idx = x & mask
        while slots[2 * idx + 1] != 0:
            idx = (idx + np.uint64(1)) & mask
        slots[2 * idx] = key
        slots[2 * idx + 1] = (np.uint64(min(n, 255)) << np.uint64(56)) | np.uint64(
            e + 1
        )


@njit(cache=True, nogil=True)
def merge_token_tables(
    src_start,
    src_len,
    src_count,
    src_arena,
    first,
    n_src,
    slots,
    ent_hash,
    ent_start,
    ent_len,
    ent_count,
    arena,
    sizes,
    remap,
):
    """Add entries ``first .. n_src - 1`` of a source token table into a
    destination table (counts summed; new entries start at 0); ``remap[e]`` =
    destination entry of source entry ``e``. Returns the first entry not
    merged: ``n_src`` when done, less when the destination must grow first
    (call again from there)."""
    n_slots = slots.shape[0] // 2
    mask = np.uint64(n_slots - 1)
    for e in range(first, n_src):
        n = src_len[e]
        s0 = src_start[e]
        x, key = _hash_key(src_arena, s0, n)
        lenf = np.uint64(min(n, 255))
        idx = x & mask
        code = -1
        while True:
            v = slots[2 * idx + 1]
            if v == 0:
                break
            if (v >> np.uint64(56)) == lenf and slots[2 * idx] == key:
                d = np.int64(v & _ENTRY_MASK) - 1
                if ent_len[d] == n:
                    start = ent_start[d]
                    same = True
                    for k in range(n):
                        if arena[start + k] != src_arena[s0 + k]:
                            same = False
                            break
                    if same:
                        code = d
                        break
            idx = (idx + np.uint64(1)) & mask
        if code < 0:
            d = sizes[0]
            used = sizes[1]
            if (
                d + 1 > ent_start.shape[0]
                or 2 * (d + 1) > n_slots
                or used + n > arena.shape[0]
            ):
                return e
            for k in range(n):
                arena[used + k] = src_arena[s0 + k]
            ent_hash[d] = x
            ent_start[d] = used
            ent_len[d] = n
            ent_count[d] = 0
            slots[2 * idx] = key
            slots[2 * idx + 1] = (lenf << np.uint64(56)) | np.uint64(d + 1)
            sizes[0] = d + 1
            sizes[1] = used + n
            code = d
        ent_count[code] += src_count[e]
        remap[e] = code
    return n_src


@njit(cache=True, nogil=True)
def gather_tokens(arena, ent_start, ent_len, entries):
    """The UTF-8 bytes of ``entries`` (in that order) joined by ``\\n``."""
    total = 0
    for j in range(entries.shape[0]):
        total += ent_len[entries[j]] + 1
    out = np.empty(max(total - 1, 0), dtype=np.uint8)
    p = 0
    for j in range(entries.shape[0]):
        e = entries[j]
        if j:
            out[p] = _NEWLINE
            p += 1
        start = ent_start[e]
        for k in range(ent_len[e]):
            out[p + k] = arena[start + k]
        p += ent_len[e]
    return out


@njit(cache=True, nogil=True)
def count_codes(codes, counts):
    """``counts[c] += 1`` for every code ``c >= 0`` (int32 codes, int64 counts)."""
    for j in range(codes.shape[0]):
        c = codes[j]
        if c >= 0:
            counts[c] += 1


@njit(cache=True, nogil=True)
def sort_entries_by_bytes(arena, ent_start, ent_len, entries):
    """``entries`` sorted by their tokens' bytes (UTF-8 byte order is code point
    order, that of Python's ``str``); a bottom-up merge sort, new array."""
    n = entries.shape[0]
    src = entries.copy()
    dst = np.empty_like(src)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            end = min(lo + 2 * width, n)
            a = lo
            b = mid
            out = lo
            while a < mid and b < end:
                ea = src[a]
                eb = src[b]
                sa = ent_start[ea]
                sb = ent_start[eb]
                la = ent_len[ea]
                lb = ent_len[eb]
                m = min(la, lb)
                less_or_equal = la <= lb
                for q in range(m):
                    ca = arena[sa + q]
                    cb = arena[sb + q]
                    if ca != cb:
                        less_or_equal = ca < cb
                        break
                if less_or_equal:
                    dst[out] = ea
                    a += 1
                else:
                    dst[out] = eb
                    b += 1
                out += 1
            while a < mid:
                dst[out] = src[a]
                a += 1
                out += 1
            while b < end:
                dst[out] = src[b]
                b += 1
                out += 1
        src, dst = dst, src
        width *= 2
    return src
