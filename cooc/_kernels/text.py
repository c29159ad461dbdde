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

  Tokenizing does not count: the caller counts the codes it wrote afterwards
  (:func:`count_codes`, one pass over them).

  Entries are numbered in order of first insertion and never move, so the codes
  a kernel wrote stay valid when the table grows.
* A kernel never grows an array itself: when the table, the arena or the
  per-thread ``scratch`` buffer is full it returns ``STATUS_GROW`` with
  ``state`` pointing at the start of the token it could not finish; the caller
  grows what is full (``state[3]``: ``GROW_SCRATCH`` or ``GROW_TABLE``;
  ``state[4]``: the token's length, so far for scratch) and calls again. The
  table counts as full when one more entry of that token's length would not
  fit, whether or not the token is new. ``scratch`` only holds tokens that
  lowercasing changes (the others are read where they are in ``data``).
  Codes and offsets past those ``state`` counts may have been written; the
  next call writes them again.
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
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# A prefetch hint has no effect on results, so sharing it with counting.py does
# not break the rule that a cached kernel's helpers live in its own file.
from cooc._kernels.counting import prefetch

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
_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_NEWLINE = 10
# Tokens are found and looked up in batches of up to BATCH: a scanning loop
# finds and hashes the next tokens (prefetching the slot each will probe), then
# a lookup loop codes them in order.
BATCH = 128
# The smallest useful scratch buffer (a lowercased character is at most 6
# bytes); tokens that need more make the caller grow it.
SCRATCH_MIN = 64

# What the scanning loop needs to know about one byte; 0: an ASCII separator.
_B_TOKEN = 1  # an ASCII token character
_B_LOWER = 2  # (with _B_TOKEN) one that lowercasing changes
_B_APOSTROPHE = 4  # an ASCII character kept only between token characters
_B_NEWLINE = 8
_B_OTHER = 16  # any other byte (a multi-byte character's first byte): decode
_RESTART = 3  # (internal) a token must start a new batch


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


@intrinsic
def _load_u64(typingctx, arr, idx):
    """The 8 bytes of a ``uint8`` array at ``arr[idx]``, as a little-endian
    ``uint64`` (an unaligned load; no bounds check: the caller makes sure that
    ``idx + 8 <= arr.shape[0]``)."""
    sig = types.uint64(arr, idx)

    def codegen(context, builder, signature, args):
        arr_type = signature.args[0]
        array = context.make_array(arr_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, arr_type, array, [args[1]], wraparound=False
        )
        word = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        return builder.load(word, align=1)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _hash_run(buf, start, n):
    """The state ``(h, w)`` of the token hash after the ``n`` bytes at
    ``buf[start]``: every full 8-byte word but the last mixed into ``h``, the
    last word (1 to 8 bytes, little-endian) in ``w``; :func:`_finish_hash`
    adds the length. Reads 8 bytes at a time."""
    h = _SEED
    w = np.uint64(0)
    if n > 0:
        p = start
        end = start + n
        while p + 8 < end:
            h = _mix_word(h, _load_u64(buf, p))
            p += 8
        tail = end - p  # 1 to 8 bytes, not mixed in yet
        if p + 8 <= buf.shape[0]:
            w = _load_u64(buf, p) & (_ALL_ONES >> np.uint64(64 - 8 * tail))
        else:
            for q in range(tail):
                w |= np.uint64(buf[p + q]) << np.uint64(8 * q)
    return h, w


@njit(cache=True, nogil=True, inline="always")
def _hash_key(buf, start, n):
    """``(hash, key)`` of the token ``buf[start:start + n]``: the same values
    :func:`tokenize_bytes` computes."""
    h, w = _hash_run(buf, start, n)
    x = _finish_hash(h, w, n)
    return x, (w if n <= 8 else x)


@intrinsic
def _store_u64(typingctx, arr, idx, value):
    """Write ``value`` (``uint64``) as 8 little-endian bytes at ``arr[idx]`` of a
    ``uint8`` array (unaligned; no bounds check: ``idx + 8 <= arr.shape[0]``)."""
    sig = types.void(arr, idx, types.uint64)

    def codegen(context, builder, signature, args):
        arr_type = signature.args[0]
        array = context.make_array(arr_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, arr_type, array, [args[1]], wraparound=False
        )
        word = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        builder.store(args[2], word, align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _count_trailing_zeros(typingctx, x):
    """Number of trailing zero bits of a ``uint64`` (64 for 0)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [i64, ir.IntType(1)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


@njit(cache=True, nogil=True)
def _byte_flags(cls, lower, lowercase):
    """``_B_*`` flags and lowercase of every byte value, from the character
    tables (a byte whose ASCII shortcut would be unsafe gets ``_B_OTHER``)."""
    flags = np.zeros(256, np.uint8)
    low = np.zeros(256, np.uint8)
    for b in range(256):
        low[b] = b
        if b == _NEWLINE:
            flags[b] = _B_NEWLINE
            continue
        if b >= 0x80 or (lowercase and (cls[b] & CLASS_SPECIAL)):
            flags[b] = _B_OTHER
            continue
        lb = lower[b] if lowercase else b
        if lb >= 0x80 or lb == _NEWLINE:
            flags[b] = _B_OTHER
            continue
        low[b] = lb
        c = cls[lb]
        if c & CLASS_TOKEN:
            flags[b] = _B_TOKEN | (_B_LOWER if lb != b else 0)
        elif c & CLASS_APOSTROPHE:
            flags[b] = _B_APOSTROPHE
    # For 8 bytes at a time: 1 for a plain ASCII token byte; and a token
    # byte's lowercase plus 256.
    plain = np.zeros(256, np.uint64)
    ascii_low = np.zeros(256, np.uint64)
    for b in range(256):
        plain[b] = 1 if flags[b] == _B_TOKEN else 0
        ascii_low[b] = (256 | low[b]) if flags[b] & _B_TOKEN else 0
    return flags, low, plain, ascii_low


@njit(cache=True, nogil=True, inline="always")
def _utf8(cp, dotted):
    """Code point ``cp`` as UTF-8 packed little-endian, and its byte count;
    ``dotted`` appends U+0307 (the second character of U+0130's lowercase)."""
    if cp < 0x80:
        enc = cp
        n = 1
    elif cp < 0x800:
        enc = (0xC0 | (cp >> 6)) | ((0x80 | (cp & 0x3F)) << 8)
        n = 2
    elif cp < 0x10000:
        enc = (
            (0xE0 | (cp >> 12))
            | ((0x80 | ((cp >> 6) & 0x3F)) << 8)
            | ((0x80 | (cp & 0x3F)) << 16)
        )
        n = 3
    else:
        enc = (
            (0xF0 | (cp >> 18))
            | ((0x80 | ((cp >> 12) & 0x3F)) << 8)
            | ((0x80 | ((cp >> 6) & 0x3F)) << 16)
            | ((0x80 | (cp & 0x3F)) << 24)
        )
        n = 4
    if dotted:
        enc |= 0x87CC << (8 * n)
        n += 2
    return np.int64(enc), np.int64(n)


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

    Works in batches of up to ``BATCH`` tokens. The scanning loop finds the
    batch's tokens: a token's bytes stay where they are in ``data`` unless
    lowercasing changes one, and only then is the token built in ``scratch``;
    runs of ASCII bytes are classified through 256-entry tables, 8 bytes at a
    time, and any other byte is decoded and looked up in the full tables. Once
    a token's bytes are known it is hashed (8 bytes at a time) and the slot
    it will probe is prefetched. The lookups then go over the batch three
    times: candidate entries from the slots (prefetching where a long token's
    bytes start), those bytes prefetched, then each token coded in order,
    confirmed or probed again and inserted, so that entries are numbered as
    without batches. The table's room for the whole batch is checked once;
    when it is short, every token is checked on its own, and the first one
    for which one more entry would not fit returns ``STATUS_GROW``.
    """
    flags, low, plain, ascii_low = _byte_flags(cls, lower, lowercase)
    last8 = min(hi, data.shape[0]) - 8  # the last i where 8 bytes can be read
    n_slots = slots.shape[0] // 2
    mask = np.uint64(n_slots - 1)
    scap = scratch.shape[0]
    # The batch: per token its hash, key, length, first byte in data, where in
    # scratch it was built (-1: its bytes are those of data) and the documents
    # before it.
    b_hash = np.empty(BATCH, np.uint64)
    b_key = np.empty(BATCH, np.uint64)
    b_len = np.empty(BATCH, np.int64)
    b_start = np.empty(BATCH, np.int64)
    b_built = np.empty(BATCH, np.int64)
    b_docs = np.empty(BATCH, np.int64)
    b_cand = np.empty(BATCH, np.int64)  # candidate entry (-1: none)
    i = state[0]
    n_tok = state[1]
    n_docs = state[2]
    while True:
        # -- scanning: up to BATCH tokens ---------------------------------------
        n_batch = 0
        batch_bytes = 0
        used = 0  # scratch bytes taken by the batch's built tokens
        stop = -1  # why scanning stopped early: STATUS_* or _RESTART
        stop_at = 0
        stop_len = 0
        while n_batch < BATCH:
            f = 0
            while i < hi:
                f = flags[data[i]]
                if f == 0 or f == _B_APOSTROPHE:
                    i += 1  # (an apostrophe starts no token)
                elif f == _B_NEWLINE:
                    n_docs += 1
                    offsets[n_docs] = n_tok + n_batch
                    i += 1
                else:
                    break
            if i >= hi:
                stop = STATUS_OK
                break
            if f == _B_OTHER:
                cp, m = _decode(data, i, hi, allow_surrogates)
                if m == 0:
                    stop = STATUS_FALLBACK
                    stop_at = i
                    break
                if lowercase:
                    if cls[cp] & CLASS_SPECIAL:
                        stop = STATUS_FALLBACK
                        stop_at = i
                        break
                    cp = lower[cp]
                if not (cls[cp] & CLASS_TOKEN):
                    i += m
                    continue
            # A token starts at i. Its first run of plain ASCII token bytes,
            # 8 bytes at a time: a bit per byte, and the first clear bit ends
            # the run (no branch per byte).
            start = i
            while True:
                if i > last8:
                    while i < hi and flags[data[i]] == _B_TOKEN:
                        i += 1
                    break
                word = _load_u64(data, i)
                bits = np.uint64(0)
                for k in range(8):
                    byte = (word >> np.uint64(8 * k)) & np.uint64(0xFF)
                    bits |= plain[byte] << np.uint64(k)
                run = np.int64(_count_trailing_zeros(~bits))  # 0 to 8
                i += run
                if run < 8:
                    break
            n = i - start
            built = -1  # where in scratch the token is built, once it must be
            # The rest of the token, if any, one character at a time.
            while i < hi:
                b = data[i]
                f = flags[b]
                if f == 0 or f == _B_NEWLINE:
                    break
                m = 1
                changed = False
                if f & _B_TOKEN:
                    enc = np.int64(low[b])
                    n_enc = 1
                    changed = (f & _B_LOWER) != 0
                elif f == _B_APOSTROPHE:
                    if i + 1 >= hi:
                        break
                    f2 = flags[data[i + 1]]
                    if f2 == _B_OTHER:
                        cp2, m2 = _decode(data, i + 1, hi, allow_surrogates)
                        if m2 == 0:
                            stop = STATUS_FALLBACK
                            stop_at = i + 1
                            break
                        if lowercase:
                            if cls[cp2] & CLASS_SPECIAL:
                                stop = STATUS_FALLBACK
                                stop_at = i + 1
                                break
                            cp2 = lower[cp2]
                        if not (cls[cp2] & CLASS_TOKEN):
                            break
                    elif not (f2 & _B_TOKEN):
                        break
                    enc = np.int64(b)
                    n_enc = 1
                else:
                    cp, m = _decode(data, i, hi, allow_surrogates)
                    if m == 0:
                        stop = STATUS_FALLBACK
                        stop_at = i
                        break
                    dotted = False
                    if lowercase:
                        if cls[cp] & CLASS_SPECIAL:
                            stop = STATUS_FALLBACK
                            stop_at = i
                            break
                        # U+0130 lowercases to "i" + U+0307 (both token
                        # characters in every tokenizer); the table gives "i".
                        dotted = cp == 0x130
                        lc = lower[cp]
                        changed = dotted or lc != cp
                        cp = lc
                    c = cls[cp]
                    if not (c & CLASS_TOKEN):
                        # An apostrophe is kept when a token character follows.
                        if not (c & CLASS_APOSTROPHE) or i + m >= hi:
                            break
                        cp2, m2 = _decode(data, i + m, hi, allow_surrogates)
                        if m2 == 0:
                            stop = STATUS_FALLBACK
                            stop_at = i + m
                            break
                        if cp2 == _NEWLINE:
                            break
                        if lowercase:
                            if cls[cp2] & CLASS_SPECIAL:
                                stop = STATUS_FALLBACK
                                stop_at = i + m
                                break
                            cp2 = lower[cp2]
                        if not (cls[cp2] & CLASS_TOKEN):
                            break
                    enc, n_enc = _utf8(cp, dotted)
                # The character is kept: its bytes are enc (those of data at i
                # unless changed).
                if changed and built < 0:
                    built = used
                    if built + n + n_enc <= scap:
                        for q in range(n):
                            scratch[built + q] = data[start + q]
                if built >= 0:
                    if built + n + n_enc > scap:
                        # Start again in a new batch (an empty scratch), or
                        # have the caller grow scratch.
                        stop = _RESTART if built > 0 else STATUS_GROW
                        stop_at = start
                        stop_len = n + n_enc
                        i = start
                        break
                    for _ in range(n_enc):
                        scratch[built + n] = enc & 0xFF
                        enc >>= 8
                        n += 1
                else:
                    n += n_enc
                i += m
                if built < 0:
                    # Plain ASCII token bytes, where they are.
                    while i < hi and flags[data[i]] == _B_TOKEN:
                        i += 1
                        n += 1
                else:
                    # ASCII token bytes, lowercased into scratch 8 at a time
                    # (all 8 are written, the run's are kept), then one at a
                    # time while scratch has room (the step above deals with a
                    # full one).
                    while i <= last8 and built + n + 8 <= scap:
                        word = _load_u64(data, i)
                        bits = np.uint64(0)
                        lowered = np.uint64(0)
                        for k in range(8):
                            t = ascii_low[(word >> np.uint64(8 * k)) & np.uint64(0xFF)]
                            bits |= (t >> np.uint64(8)) << np.uint64(k)
                            lowered |= (t & np.uint64(0xFF)) << np.uint64(8 * k)
                        _store_u64(scratch, built + n, lowered)
                        run = np.int64(_count_trailing_zeros(~bits))
                        i += run
                        n += run
                        if run < 8:
                            break
                    end = min(hi, i + scap - built - n)
                    while i < end:
                        b = data[i]
                        if not (flags[b] & _B_TOKEN):
                            break
                        scratch[built + n] = low[b]
                        n += 1
                        i += 1
            if stop >= 0:
                break
            if built >= 0:
                h, w = _hash_run(scratch, built, n)
            else:
                h, w = _hash_run(data, start, n)
            x = _finish_hash(h, w, n)
            prefetch(slots, 2 * (x & mask))
            b_hash[n_batch] = x
            b_key[n_batch] = w if n <= 8 else x
            b_len[n_batch] = n
            b_start[n_batch] = start
            b_built[n_batch] = built
            b_docs[n_batch] = n_docs
            if built >= 0:
                used = built + n
            batch_bytes += n
            n_batch += 1

        # -- lookups -------------------------------------------------------------
        # 1. Each token's candidate entry: the first slot of its probe with its
        #    key and length (a certain match for a token of up to 8 bytes);
        #    prefetch where a longer one's bytes start.
        for j in range(n_batch):
            lenf = np.uint64(min(b_len[j], 255))
            key = b_key[j]
            idx = b_hash[j] & mask
            cand = -1
            while True:
                v = slots[2 * idx + 1]
                if v == 0:
                    break
                if (v >> np.uint64(56)) == lenf and slots[2 * idx] == key:
                    cand = np.int64(v & _ENTRY_MASK) - 1
                    if b_len[j] > 8:
                        prefetch(ent_start, cand)
                    break
                idx = (idx + np.uint64(1)) & mask
            b_cand[j] = cand
        # 2. Prefetch those bytes.
        for j in range(n_batch):
            if b_cand[j] >= 0 and b_len[j] > 8:
                at = ent_start[b_cand[j]]
                prefetch(arena, at)
                prefetch(arena, at + b_len[j] - 1)
        # 3. Code the tokens in order: confirm the candidate, or probe again
        #    (a token may be new, or inserted by an earlier one of the batch).
        check_each = insert and (
            sizes[0] + n_batch > ent_start.shape[0]
            or 2 * (sizes[0] + n_batch) > n_slots
            or sizes[1] + batch_bytes > arena.shape[0]
        )
        for j in range(n_batch):
            tl = b_len[j]
            if check_each and (
                sizes[0] + 1 > ent_start.shape[0]
                or 2 * (sizes[0] + 1) > n_slots
                or sizes[1] + tl > arena.shape[0]
            ):
                state[0] = b_start[j]
                state[1] = n_tok + j
                state[2] = b_docs[j]
                state[3] = GROW_TABLE
                state[4] = tl
                return STATUS_GROW
            built = b_built[j]
            src = b_start[j]
            code = b_cand[j]
            if code >= 0 and tl > 8:
                at = ent_start[code]
                # (equal lengths below 255 are certain from the slot)
                same = tl < 255 or ent_len[code] == tl
                if built >= 0:
                    for q in range(tl):
                        if arena[at + q] != scratch[built + q]:
                            same = False
                            break
                else:
                    for q in range(tl):
                        if arena[at + q] != data[src + q]:
                            same = False
                            break
                if not same:
                    code = -1
            if code < 0:
                x = b_hash[j]
                key = b_key[j]
                lenf = np.uint64(min(tl, 255))
                idx = x & mask
                while True:
                    v = slots[2 * idx + 1]
                    if v == 0:
                        break
                    if (v >> np.uint64(56)) == lenf and slots[2 * idx] == key:
                        e = np.int64(v & _ENTRY_MASK) - 1
                        if tl <= 8:
                            code = e
                            break
                        if ent_len[e] == tl:
                            at = ent_start[e]
                            same = True
                            if built >= 0:
                                for q in range(tl):
                                    if arena[at + q] != scratch[built + q]:
                                        same = False
                                        break
                            else:
                                for q in range(tl):
                                    if arena[at + q] != data[src + q]:
                                        same = False
                                        break
                            if same:
                                code = e
                                break
                    idx = (idx + np.uint64(1)) & mask
                if code < 0 and insert:
                    e = sizes[0]
                    at = sizes[1]
                    if built >= 0:
                        for q in range(tl):
                            arena[at + q] = scratch[built + q]
                    else:
                        for q in range(tl):
                            arena[at + q] = data[src + q]
                    ent_hash[e] = x
                    ent_start[e] = at
                    ent_len[e] = tl
                    slots[2 * idx] = key
                    slots[2 * idx + 1] = (lenf << np.uint64(56)) | np.uint64(e + 1)
                    sizes[0] = e + 1
                    sizes[1] = at + tl
                    code = e
            codes[n_tok + j] = code
        n_tok += n_batch

        if stop < 0 or stop == _RESTART:
            continue
        state[0] = hi if stop == STATUS_OK else stop_at
        state[1] = n_tok
        state[2] = n_docs
        if stop == STATUS_GROW:
            state[3] = GROW_SCRATCH
            state[4] = stop_len
        return stop


# How many entries ahead rehashing prefetches the slot an entry will take.
_REHASH_AHEAD = 16
# Entries merged per batch (see merge_token_tables).
_MERGE_BATCH = 64


@njit(cache=True, nogil=True)
def rehash_token_table(ent_hash, ent_start, ent_len, arena, n_entries, slots):
    """Fill the empty ``slots`` (two words per slot, a power of two slots)
    with entries ``0 .. n_entries - 1`` of a token table."""
    mask = np.uint64(slots.shape[0] // 2 - 1)
    for e in range(n_entries):
        if e + _REHASH_AHEAD < n_entries:
            prefetch(slots, 2 * (ent_hash[e + _REHASH_AHEAD] & mask))
        x = ent_hash[e]
        n = ent_len[e]
        key = _hash_run(arena, ent_start[e], n)[1] if n <= 8 else x
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
    (call again from there).

    Source entries go in batches of ``_MERGE_BATCH``: their hashes first (the
    slots they probe prefetched), then their candidate entries in the
    destination (as in :func:`tokenize_bytes`; their counts and, for long
    tokens, their bytes prefetched), then in order, each confirmed or probed
    again and inserted.
    """
    n_slots = slots.shape[0] // 2
    mask = np.uint64(n_slots - 1)
    m_hash = np.empty(_MERGE_BATCH, np.uint64)
    m_key = np.empty(_MERGE_BATCH, np.uint64)
    m_cand = np.empty(_MERGE_BATCH, np.int64)
    for lo in range(first, n_src, _MERGE_BATCH):
        hi = min(lo + _MERGE_BATCH, n_src)
        for e in range(lo, hi):
            x, key = _hash_key(src_arena, src_start[e], src_len[e])
            prefetch(slots, 2 * (x & mask))
            m_hash[e - lo] = x
            m_key[e - lo] = key
        for e in range(lo, hi):
            n = src_len[e]
            lenf = np.uint64(min(n, 255))
            key = m_key[e - lo]
            idx = m_hash[e - lo] & mask
            cand = -1
            while True:
                v = slots[2 * idx + 1]
                if v == 0:
                    break
                if (v >> np.uint64(56)) == lenf and slots[2 * idx] == key:
                    cand = np.int64(v & _ENTRY_MASK) - 1
                    prefetch(ent_count, cand)
                    if n > 8:
                        prefetch(ent_start, cand)
                    break
                idx = (idx + np.uint64(1)) & mask
            m_cand[e - lo] = cand
        for e in range(lo, hi):
            d = m_cand[e - lo]
            if d >= 0 and src_len[e] > 8:
                at = ent_start[d]
                prefetch(arena, at)
                prefetch(arena, at + src_len[e] - 1)
        for e in range(lo, hi):
            n = src_len[e]
            s0 = src_start[e]
            code = m_cand[e - lo]
            if code >= 0 and n > 8:
                at = ent_start[code]
                # (equal lengths below 255 are certain from the slot)
                same = n < 255 or ent_len[code] == n
                for q in range(n):
                    if arena[at + q] != src_arena[s0 + q]:
                        same = False
                        break
                if not same:
                    code = -1
            if code < 0:
                x = m_hash[e - lo]
                key = m_key[e - lo]
                lenf = np.uint64(min(n, 255))
                idx = x & mask
                while True:
                    v = slots[2 * idx + 1]
                    if v == 0:
                        break
                    if (v >> np.uint64(56)) == lenf and slots[2 * idx] == key:
                        d = np.int64(v & _ENTRY_MASK) - 1
                        if ent_len[d] == n:
                            at = ent_start[d]
                            same = True
                            for q in range(n):
                                if arena[at + q] != src_arena[s0 + q]:
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
                    for q in range(n):
                        arena[used + q] = src_arena[s0 + q]
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
def count_newlines(data):
    """Number of ``\\n`` bytes in ``data`` (uint8), without the GIL."""
    n = 0
    for i in range(data.shape[0]):
        n += data[i] == _NEWLINE
    return n


@njit(cache=True, nogil=True)
def line_bounds(data, pos):
    """``(start, end)`` of the line of ``data`` holding position ``pos``: the
    bytes after the previous ``\\n`` up to the next one (or the end)."""
    start = pos
    while start > 0 and data[start - 1] != _NEWLINE:
        start -= 1
    end = pos
    while end < data.shape[0] and data[end] != _NEWLINE:
        end += 1
    return start, end


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
