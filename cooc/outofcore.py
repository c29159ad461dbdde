"""Counting within a memory budget: compact runs on disk, one merge, a
``.cooc`` file written band by band.

:func:`build_cooccurrence_out_of_core` counts like
:func:`cooc.cooccurrence.build_cooccurrence` (same tokenizing, same
:class:`~cooc.cooccurrence.WindowCounter`, so the same matrix bit for bit),
but whenever the counter's sorted runs reach their share of the budget it
*spills* them:

1. **Spill.** The runs are merged into one and written to the spill folder in
   the compact encoding of :mod:`cooc._kernels.spill` (3-6 bytes a pair
   instead of 16), with an index of its blocks. The counter forgets them and
   goes on; its dense block of frequent pairs stays in memory to the end.
2. **Merge.** The rows are cut into *bands* holding about the same number of
   spilled pairs (found from the block indexes). Two bands at a time, every
   run's slice of the band is decoded, merged (a k-way heap merge: one pass
   whatever the number of runs), and routed to the output rows: each stored
   pair becomes its own entry and, for symmetric or directional counts, its
   mirror entry in the row of its column. Routed entries are filed under
   fixed groups of output rows (*buckets*) in one append-only file. Now the
   length of every output row is known.
3. **Write.** The ``.cooc`` archive is laid out by
   :func:`cooc.matrix.write_cooc` (the writer ``save_cooc`` uses too): the
   row pointers are written, and groups of buckets that fit the budget are
   decoded, merged and written straight to their place in the ``indices``
   and ``data`` members, two groups at a time. Checksums of the parts are
   combined in order.

Memory stays near the budget (``memory``) for any corpus size; disk use is
about 5 bytes per spilled pair plus 5 per output entry, on top of the
output file (12 bytes per entry).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import queue
import shutil
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc import _kernels as K
from cooc.cooccurrence import (
    check_counter_params,
    count_files,
    file_defaults,
    params_record,
    vocabulary_selection,
)
from cooc.corpus import ReadingOptions, max_line_bytes, source_names
from cooc.errors import InputError
from cooc.files import atomic_write
from cooc.matrix import cooc_meta, write_cooc
from cooc.parallel import ordered_map, row_parts
from cooc.phrasetable import as_phrase_table
from cooc.vocab import check_vocabulary_params

__all__ = [
    "OutOfCoreResult",
    "build_cooccurrence_file",
    "build_cooccurrence_out_of_core",
]

logger = logging.getLogger(__name__)

BLOCK = 1 << 16  # pairs per independently decodable block of a spilled run
_CHAIN = 1 << 62  # "block" of routed pieces: one delta chain, no restarts
_STEP = 1 << 22  # pairs merged and encoded at a time when spilling
_N_BUCKETS = 1024  # groups of output rows the routed entries are filed under
_ENCODE_PAIRS = 1 << 21  # pairs encoded per call into the routed-output buffer
# Bytes per spilled pair a merge task holds at most: the decoded pairs (16),
# their merge (16), own and mirror entries (2 x 16) and their encoding.
_MERGE_BYTES_PER_PAIR = 96
# Bytes per output entry a write task holds: decoded (16), the column indices
# and values (12).
_WRITE_BYTES_PER_ENTRY = 28
# Fewest entries in a band of rows written from memory.
_MIN_BAND = 1 << 16
_EMPTY = np.empty(0, dtype=np.int64)


@dataclass
class OutOfCoreResult:
    """What :func:`build_cooccurrence_out_of_core` wrote: the file and its record.

    The matrix itself stays on disk (load it with :func:`cooc.io.load_cooc`).
    ``n_partials`` is the number of runs spilled; ``n_passes`` the number of
    merge passes over them (one).
    """

    path: Path
    shape: tuple
    nnz: int
    params: dict
    stats: dict
    n_partials: int
    n_passes: int

    def save(self, path) -> None:
        """Copy the written file to ``path`` (nothing to do for the same path)."""
        if Path(path).resolve() != Path(self.path).resolve():
            with open(self.path, "rb") as src, atomic_write(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _read_bytes(path: Path, offset: int, n: int) -> np.ndarray:
    buf = np.empty(n, dtype=np.uint8)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(offset)
        got = fh.readinto(buf)
    if got != n:
        raise _damaged(path)
    return buf


def _damaged(path) -> RuntimeError:
    return RuntimeError(
        f"spill file {str(path)!r} was truncated or changed during the build."
    )


def _ignore(*args) -> None:
    pass


# -- spilled runs ---------------------------------------------------------------------
@dataclass
class _Run:
    """A sorted run of pairs on disk, encoded (see :mod:`cooc._kernels.spill`)."""

    path: Path
    n_pairs: int
    n_bytes: int
    idx_keys: np.ndarray  # first key of each block
    idx_offs: np.ndarray  # byte offset of each block

    def span(self, key_lo: int, key_hi: int) -> tuple[int, int, int, int]:
        """``(first pair, most pairs, first byte, end byte)`` of the blocks that
        may hold keys in ``[key_lo, key_hi)``."""
        n_blocks = self.idx_keys.shape[0]
        b0 = max(int(np.searchsorted(self.idx_keys, key_lo, "right")) - 1, 0)
        b1 = int(np.searchsorted(self.idx_keys, key_hi, "left"))
        if b1 <= b0:
            return 0, 0, 0, 0
        first = b0 * BLOCK
        most = min(b1 * BLOCK, self.n_pairs) - first
        end = int(self.idx_offs[b1]) if b1 < n_blocks else self.n_bytes
        return first, most, int(self.idx_offs[b0]), end


def _spill(runs, path: Path, pool) -> _Run:
    """Merge sorted runs ``(keys, values)`` into one and write it encoded."""
    runs = [r for r in runs if r[0].shape[0]]
    total = sum(r[0].shape[0] for r in runs)
    # Key ranges of about _STEP pairs: cut at every (_STEP / stride)-th sample.
    stride = 4096
    samples = np.sort(np.concatenate([k[::stride] for k, _ in runs] or [_EMPTY]))
    per = max(1, _STEP // stride)
    cuts = np.unique(samples[per::per])
    edges = [0, *cuts.tolist(), 1 << 62]

    def merge(i):
        lo, hi = edges[i], edges[i + 1]
        parts = []
        for keys, vals in runs:
            a, b = np.searchsorted(keys, [lo, hi])
            if b > a:
                parts.append((keys[a:b], vals[a:b]))
        if not parts:
            return _EMPTY, _EMPTY
        if len(parts) == 1:
            return parts[0]
        keys = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts])
        lens = np.array([p[0].shape[0] for p in parts], dtype=np.int64)
        ends = np.cumsum(lens)
        out_k = np.empty(keys.shape[0], dtype=np.int64)
        out_v = np.empty(keys.shape[0], dtype=np.int64)
        m = K.merge_pieces(keys, vals, ends - lens, ends, out_k, out_v)
        return out_k[:m], out_v[:m]

    n_blocks = total // BLOCK + 1
    idx_keys = np.zeros(n_blocks, dtype=np.int64)
    idx_offs = np.zeros(n_blocks, dtype=np.int64)
    out = np.empty(0, dtype=np.uint8)
    n_pairs = n_bytes = 0
    prev = 0
    with open(path, "wb") as fh:
        for keys, vals in ordered_map(pool, merge, range(len(edges) - 1), 2):
            n = keys.shape[0]
            if n == 0:
                continue
            if out.shape[0] < K.MAX_PAIR_BYTES * n:
                out = np.empty(K.MAX_PAIR_BYTES * n, dtype=np.uint8)
            size = K.encode_pairs(
                keys, vals, n_pairs, prev, BLOCK, out, idx_keys, idx_offs, n_bytes
            )
            fh.write(out[:size].data)
            n_pairs += n
            n_bytes += size
            prev = int(keys[-1])
    used = -(-n_pairs // BLOCK)
    return _Run(path, n_pairs, n_bytes, idx_keys[:used].copy(), idx_offs[:used].copy())


def _plan_bands(runs: list[_Run], n_rows: int, n_cols: int, max_pairs: int):
    """Row bands ``[lo, hi)`` holding about ``max_pairs`` spilled pairs each."""
    starts = np.sort(np.concatenate([r.idx_keys for r in runs] or [_EMPTY]))
    per = max(1, max_pairs // BLOCK)
    rows = np.unique(starts[per::per] // n_cols)
    rows = rows[(rows > 0) & (rows < n_rows)]
    bounds = [0, *rows.tolist(), n_rows]
    return list(itertools.pairwise(bounds))


def _plan_buckets(word_counts, window: int, n_rows: int, out_cols: int) -> np.ndarray:
    """First rows of the output buckets (and ``n_rows`` last), chosen so that
    each holds about the same number of entries by a rough estimate: a row's
    entries are at most its word's count times the window span, and at most
    the number of columns."""
    est = np.minimum(np.asarray(word_counts, dtype=np.float64) * 2 * window, out_cols)
    est = np.maximum(est, 1.0)
    cum = np.concatenate([[0.0], np.cumsum(est)])
    targets = np.linspace(0.0, cum[-1], min(_N_BUCKETS, n_rows) + 1)
    rows = np.searchsorted(cum, targets[1:-1], side="right") - 1
    rows = np.unique(rows[(rows > 0) & (rows < n_rows)])
    return np.concatenate([[0], rows, [n_rows]]).astype(np.int64)


@dataclass
class _Routed:
    """A band's routed entries in the routed file. For bucket ``b``, its own
    entries are bytes ``offs[2 * b]:offs[2 * b + 1]`` (``counts[2 * b]`` of
    them) and its mirror entries bytes ``offs[2 * b + 1]:offs[2 * b + 2]``
    (``counts[2 * b + 1]``); offsets are absolute, and each piece is a delta
    chain of its own (starting from key -1, so that a first key 0 encodes)."""

    offs: np.ndarray
    counts: np.ndarray


class _Scratch:
    """Per-task scratch of the routing kernel, reused between bands."""

    def __init__(self, n_rows: int):
        self.row_counts = np.zeros(n_rows, dtype=np.int64)


class _BandWriter:
    """Steps 2 and 3 of the module notes, for one finished set of runs."""

    def __init__(self, runs, *, mode, n_words, n_cols, out_cols, buckets, memory, work):
        self.runs = runs
        self.mode = mode
        self.n_words = n_words
        self.n_cols = n_cols
        self.out_cols = out_cols
        self.mirrors = mode in (K.MODE_CANONICAL, K.MODE_ORDERED)
        self.buckets = buckets
        self.n_buckets = len(buckets) - 1
        self.bucket_of = np.repeat(
            np.arange(self.n_buckets, dtype=np.int32), np.diff(buckets)
        )
        self.bucket_keys = buckets * out_cols
        self.memory = memory
        self.routed_path = work / "routed.bin"
        self.routed: list[_Routed] = []
        self.scratch: queue.SimpleQueue = queue.SimpleQueue()
        self.row_counts = np.zeros(n_words, dtype=np.int64)

    # -- step 2 -------------------------------------------------------------------
    def _merge_band(self, band):
        lo, hi = band
        key_lo, key_hi = lo * self.n_cols, hi * self.n_cols
        spans = [run.span(key_lo, key_hi) for run in self.runs]
        cap = sum(s[1] for s in spans)
        keys = np.empty(cap, dtype=np.int64)
        vals = np.empty(cap, dtype=np.int64)
        starts = np.zeros(len(spans), dtype=np.int64)
        ends = np.zeros(len(spans), dtype=np.int64)
        pos = 0
        for i, (run, (first, most, b0, b1)) in enumerate(
            zip(self.runs, spans, strict=True)
        ):
            if most == 0:
                starts[i] = ends[i] = pos
                continue
            buf = _read_bytes(run.path, b0, b1 - b0)
            m = K.decode_pairs(
                buf,
                first,
                0,
                BLOCK,
                key_lo,
                key_hi,
                keys[pos : pos + most],
                vals[pos : pos + most],
            )
            if m < 0:
                raise _damaged(run.path)
            starts[i], ends[i] = pos, pos + m
            pos += most
        merged_k = np.empty(int((ends - starts).sum()), dtype=np.int64)
        merged_v = np.empty_like(merged_k)
        m = K.merge_pieces(keys, vals, starts, ends, merged_k, merged_v)
        del keys, vals
        own_k = np.empty(m, dtype=np.int64)
        own_v = np.empty(m, dtype=np.int64)
        mir_k = np.empty(m if self.mirrors else 0, dtype=np.int64)
        mir_v = np.empty_like(mir_k)
        mir_starts = np.zeros(self.n_buckets + 1, dtype=np.int64)
        try:
            scratch = self.scratch.get_nowait()
        except queue.Empty:
            scratch = _Scratch(self.n_words)
        try:
            K.route_entries(
                merged_k[:m],
                merged_v[:m],
                self.mode,
                self.n_cols,
                self.out_cols,
                self.n_words,
                self.bucket_of,
                self.n_buckets,
                scratch.row_counts,
                own_k,
                own_v,
                mir_k,
                mir_v,
                mir_starts,
            )
        finally:
            self.scratch.put(scratch)
        del merged_k, merged_v
        own_cuts = np.searchsorted(own_k, self.bucket_keys)
        # Encode bucket by bucket, own then mirror entries, each piece its own
        # chain, in slices (so that the buffer stays small).
        n_pieces = 2 * self.n_buckets
        offs = np.zeros(n_pieces + 1, dtype=np.int64)
        counts = np.zeros(n_pieces, dtype=np.int64)
        pieces, size = [], 0
        buf = np.empty(K.MAX_PAIR_BYTES * min(max(m, 1), _ENCODE_PAIRS), dtype=np.uint8)
        for p in range(n_pieces):
            b = p // 2
            if p % 2 == 0:
                k, v, a, z = own_k, own_v, int(own_cuts[b]), int(own_cuts[b + 1])
            else:
                k, v, a, z = mir_k, mir_v, int(mir_starts[b]), int(mir_starts[b + 1])
            offs[p] = size
            counts[p] = z - a
            last = -1
            for x in range(a, z, _ENCODE_PAIRS):
                y = min(x + _ENCODE_PAIRS, z)
                used = K.encode_pairs(
                    k[x:y], v[x:y], 1, last, _CHAIN, buf, _EMPTY, _EMPTY, 0
                )
                pieces.append(buf[:used].tobytes())
                size += used
                last = int(k[y - 1])
        offs[-1] = size
        return pieces, offs, counts, int((ends - starts).sum())

    def merge(self, bands, pool, tell) -> None:
        with open(self.routed_path, "wb") as fh:
            base = 0
            for pieces, offs, counts, n_read in ordered_map(
                pool, self._merge_band, bands, 2
            ):
                for p in pieces:
                    fh.write(p)
                self.routed.append(_Routed(offs + base, counts))
                base += int(offs[-1])
                tell(n_read)
        while True:
            try:
                scratch = self.scratch.get_nowait()
            except queue.Empty:
                break
            self.row_counts += scratch.row_counts

    # -- step 3 -------------------------------------------------------------------
    def groups(self, max_entries: int) -> list[tuple[int, int]]:
        """Runs of consecutive buckets holding at most ``max_entries`` entries
        (a bucket larger than that alone)."""
        sizes = np.zeros(self.n_buckets, dtype=np.int64)
        for r in self.routed:
            sizes += r.counts[0::2] + r.counts[1::2]
        out, g0, acc = [], 0, 0
        for b, s in enumerate(sizes.tolist()):
            if b > g0 and acc + s > max_entries:
                out.append((g0, b))
                g0, acc = b, 0
            acc += s
        out.append((g0, self.n_buckets))
        return out

    def rows(self, group, indptr, scale):
        """Rows ``[lo, hi)`` of the output for a group of buckets: ``(lo, hi,
        indices, data)``."""
        g0, g1 = group
        lo, hi = int(self.buckets[g0]), int(self.buckets[g1])
        n_own = sum(int(r.counts[2 * g0 : 2 * g1 : 2].sum()) for r in self.routed)
        n_mir = sum(int(r.counts[2 * g0 + 1 : 2 * g1 : 2].sum()) for r in self.routed)
        own_k = np.empty(n_own, dtype=np.int64)
        own_v = np.empty(n_own, dtype=np.int64)
        mir_k = np.empty(n_mir, dtype=np.int64)
        mir_v = np.empty(n_mir, dtype=np.int64)
        at = [0, 0]
        outs = ((own_k, own_v), (mir_k, mir_v))
        for r in self.routed:
            start, stop = int(r.offs[2 * g0]), int(r.offs[2 * g1])
            if stop == start:
                continue
            buf = _read_bytes(self.routed_path, start, stop - start)
            for p in range(2 * g0, 2 * g1):
                count = int(r.counts[p])
                if not count:
                    continue
                k, v = outs[p % 2]
                q = at[p % 2]
                got = K.decode_pairs(
                    buf[int(r.offs[p]) - start : int(r.offs[p + 1]) - start],
                    1,
                    -1,
                    _CHAIN,
                    0,
                    1 << 62,
                    k[q : q + count],
                    v[q : q + count],
                )
                if got != count:
                    raise _damaged(self.routed_path)
                at[p % 2] = q + count
        first = int(indptr[lo])
        row_ptr = indptr[lo : hi + 1] - first
        n = int(row_ptr[-1])
        indices = np.empty(n, dtype=np.int32)
        data = np.empty(n, dtype=np.float64)
        cursor = np.empty(hi - lo, dtype=np.int64)
        ok = n == n_own + n_mir and K.assemble_rows(
            own_k,
            own_v,
            mir_k,
            mir_v,
            self.n_cols,
            self.out_cols,
            lo,
            row_ptr,
            float(scale),
            cursor,
            indices,
            data,
        )
        if not ok:  # pragma: no cover - internal invariant
            raise RuntimeError(f"rows {lo}-{hi}: entries do not match the row counts")
        return lo, hi, indices, data


# The order in which the out-of-core build's files have always listed the
# CRC-32s of their arrays (readers look them up by name; save_cooc lists them
# in member order): kept, so that the files stay the same byte for byte.
_CRC_ORDER = ("indices", "data", "indptr", "tokens", "counts")


def _write_cooc(path, indptr, vocabulary, meta, parts, make_rows, pool, tell=None):
    """:func:`cooc.matrix.write_cooc`, with this build's order of checksums."""
    write_cooc(
        path,
        indptr,
        vocabulary,
        meta,
        parts,
        make_rows,
        pool,
        tell,
        crc_order=_CRC_ORDER,
    )


def _write_layout(path, counter, vocabulary, meta_of, memory, pool, tell, step):
    """Write a counter that kept its counts in memory straight to a ``.cooc``
    file, in bands of output rows, without building the whole CSR matrix.

    A band's own entries come from its stored rows; its mirror entries from
    every stored row before its end (symmetric counts) or from all of them
    (directional counts), scanned again for each band: a pass over sorted
    runs in memory costs far less than a copy of the whole matrix.
    """
    lay = counter._layout()
    indptr = lay.indptr
    n_words = counter.n_words
    own = indptr[:-1] + lay.n_mirror
    mirror = indptr[:-1].copy()
    lay.mirror = None
    mode = counter.mode
    scale = float(counter.scale)
    nnz = int(indptr[-1])
    # Bands of an eighth of the matrix (12 bytes an entry), two at a time.
    per_band = max(_MIN_BAND, min(nnz // 8 + 1, memory // 4 // 12))

    def make_rows(part):
        lo, hi = part
        first = int(indptr[lo])
        m = int(indptr[hi]) - first
        indices = np.empty(m, dtype=np.int32)
        data = np.empty(m, dtype=np.int64)
        if mode == K.MODE_CANONICAL:
            stored = (0, hi)
        elif mode == K.MODE_ORDERED:
            stored = (0, n_words)
        else:
            stored = (lo, hi)
        lay.emit_rows(stored, True, own, mirror, indices, data, lo, hi, first)
        return lo, hi, indices, K.divide_counts_inplace(data, scale)

    shape = (n_words, lay.out_cols)
    tell("writing", nnz, "entries")
    parts = row_parts(indptr, per_band)
    _write_cooc(
        path, indptr, vocabulary, meta_of(shape, nnz), parts, make_rows, pool, step
    )
    return shape, nnz


def _runs_limit(memory: int) -> int:
    """Bytes of sorted runs the counter holds before they are spilled."""
    return memory // 4


def _hand_back_freed_memory() -> None:
    """Make freed memory go back to the system, so the budget holds for RSS too.

    glibc serves blocks below a moving threshold (up to 32 MB) from its heap,
    where freed space stays with the process; fixing the threshold at 256 KiB
    maps large arrays on their own.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None)  # the process's own symbols: glibc's mallopt
            libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 1024 * 1024)  # M_TRIM_THRESHOLD


def build_cooccurrence_out_of_core(
    paths,
    output,
    *,
    memory: int,
    spill_dir=None,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    documents: str = "line",
    phrases=None,
    **params,
) -> OutOfCoreResult:
    """Count window co-occurrences within a memory budget and write a ``.cooc`` file.

    The result is exactly the matrix of
    :func:`~cooc.cooccurrence.build_cooccurrence` with the same settings; see
    the module notes for how. Runs are spilled whenever they reach a quarter
    of ``memory``, and the file is always written band by band (see
    :func:`build_cooccurrence_file` to keep a build that fits in memory).

    Parameters
    ----------
    paths : str, path-like or iterable of them
        The corpus (``"-"`` for standard input).
    output : path
        The ``.cooc`` file to write (atomically).
    memory : int
        Budget in bytes for the data of the build (token codes, counting
        tables, merge and write buffers); the interpreter and its libraries
        come on top, and so does the table of distinct words of the
        vocabulary pass (pass ``vocabulary`` to skip that pass).
    spill_dir : path, default=None
        Folder for the spilled runs (a temporary folder inside it is used and
        removed); None means the system's temporary folder.
    Other parameters
        As for :func:`~cooc.cooccurrence.build_cooccurrence` (``phrases``
        too).

    Returns
    -------
    OutOfCoreResult
    """
    return _build(
        paths,
        output,
        memory,
        spill_dir,
        True,
        vocabulary,
        min_count,
        max_size,
        dict(
            tokenizer=tokenizer,
            column=column,
            lowercase=lowercase,
            chunk_size=chunk_size,
            encoding_errors=encoding_errors,
            documents=documents,
            phrases=as_phrase_table(phrases),
        ),
        progress,
        params,
    )


def build_cooccurrence_file(
    paths,
    output,
    *,
    memory: int,
    spill_dir=None,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    documents: str = "line",
    phrases=None,
    **params,
):
    """Count window co-occurrences for a ``.cooc`` file, within ``memory``.

    What ``cooc build`` runs. The counting starts in memory; if its sorted
    runs outgrow a quarter of ``memory`` they are spilled to ``spill_dir``
    and the build goes on out of core, writing ``output`` itself (see
    :func:`build_cooccurrence_out_of_core`). The parameters are those of
    that function.

    Returns
    -------
    CoocMatrix or OutOfCoreResult
        The matrix when the build stayed in memory (``output`` is not written
        yet: call its ``save``), or the record of the file written.
    """
    return _build(
        paths,
        output,
        memory,
        spill_dir,
        False,
        vocabulary,
        min_count,
        max_size,
        dict(
            tokenizer=tokenizer,
            column=column,
            lowercase=lowercase,
            chunk_size=chunk_size,
            encoding_errors=encoding_errors,
            documents=documents,
            phrases=as_phrase_table(phrases),
        ),
        progress,
        params,
    )


def _build(
    paths,
    output,
    memory,
    spill_dir,
    always,
    vocabulary,
    min_count,
    max_size,
    read,
    progress,
    params,
):
    check_counter_params(params)
    selection = vocabulary_selection(vocabulary, min_count, max_size)
    sources = source_names(paths)
    params = file_defaults(dict(params))
    params.pop("memory", None)
    params.pop("fan_in", None)  # (the merge is one pass now)
    memory = int(memory)
    if memory < 16 * 2**20:
        raise InputError(
            f"memory={memory!r} bytes is below the minimum of a build (16M); "
            "raise --memory."
        )
    if vocabulary is None:
        check_vocabulary_params(min_count, max_size)
    spill_root = (
        Path(spill_dir) if spill_dir is not None else Path(tempfile.gettempdir())
    )
    if not spill_root.is_dir():
        raise InputError(
            f"spill folder {str(spill_root)!r} does not exist; create it first."
        )
    if read["chunk_size"] is None:
        read["chunk_size"] = int(min(max(memory // 128, 1 << 16), 1 << 24))
    options = ReadingOptions(**read)
    options.check_paths(paths)
    _hand_back_freed_memory()
    # The budget: codes of the first pass 1/8, runs held before a spill 1/4,
    # the counter's pair buffers 1/2 up to 1 GiB (larger buffers, fewer sorted
    # runs to merge), 1/4 beyond; merging and writing use half of it.
    counting = dict(params, memory=max(memory // 4, min(memory // 2, 1 << 30)))
    runs_limit = _runs_limit(memory)

    def tell(stage, total=None, unit=None):
        if progress is None:
            return
        expect = getattr(progress, "expect", None)
        if total is not None and expect is not None:
            expect(stage, total, unit)
        progress(stage, 0)

    def step(stage):
        return (lambda n: progress(stage, n)) if progress is not None else _ignore

    work = None
    try:
        with ThreadPoolExecutor(2) as pool:
            runs: list[_Run] = []

            def spill(counter):
                nonlocal work
                if counter.runs_nbytes() > runs_limit:
                    if work is None:
                        work = Path(
                            tempfile.mkdtemp(prefix="cooc-spill-", dir=spill_root)
                        )
                    path = work / f"run-{len(runs):05d}.bin"
                    runs.append(_spill(counter.take_runs(), path, pool))
                    _hand_back_freed_memory()
                    logger.info("spilled run %d: %d pairs", len(runs), runs[-1].n_pairs)

            counter, vocabulary = count_files(
                paths,
                vocabulary,
                min_count,
                max_size,
                options,
                counting,
                progress,
                on_update=spill,
                codes_memory=memory // 8,
                max_line=max_line_bytes(memory),  # a longer document is refused
            )
            if not runs and not always:
                # It fit: written from memory, in bands of rows.
                tell("merging")
                stats = dict(
                    counter.stats, vocabulary_size=len(vocabulary), sources=sources
                )
                record = params_record(counter.params, options, selection)

                def meta_of(shape, nnz):
                    return cooc_meta(vocabulary, record, stats, shape, nnz)

                shape, nnz = _write_layout(
                    output,
                    counter,
                    vocabulary,
                    meta_of,
                    memory,
                    pool,
                    tell,
                    step("writing"),
                )
                return OutOfCoreResult(Path(output), shape, nnz, record, stats, 0, 0)
            if work is None:
                work = Path(tempfile.mkdtemp(prefix="cooc-spill-", dir=spill_root))
            tell("merging")
            final = counter.take_runs()
            final.append(counter.dense_run())
            runs.append(_spill(final, work / f"run-{len(runs):05d}.bin", pool))
            del final
            stats = counter.stats
            record = params_record(counter.params, options, selection)
            scale = counter.scale
            mode, n_cols = counter.mode, counter.n_cols
            window = counter.window_size
            del counter
            _hand_back_freed_memory()

            n_words = len(vocabulary)
            out_cols = 2 * n_words if mode == K.MODE_ORDERED else n_cols
            buckets = _plan_buckets(vocabulary.counts, window, n_words, out_cols)
            writer = _BandWriter(
                runs,
                mode=mode,
                n_words=n_words,
                n_cols=n_cols,
                out_cols=out_cols,
                buckets=buckets,
                memory=memory,
                work=work,
            )
            max_pairs = max(BLOCK, memory // 4 // _MERGE_BYTES_PER_PAIR)
            bands = _plan_bands(runs, n_words, n_cols, max_pairs)
            tell("merging", sum(r.n_pairs for r in runs), "pairs")
            writer.merge(bands, pool, step("merging"))
            for run in runs:
                run.path.unlink()
            indptr = np.zeros(n_words + 1, dtype=np.int64)
            np.cumsum(writer.row_counts, out=indptr[1:])
            tell("writing", int(indptr[-1]), "entries")
            stats = dict(stats, vocabulary_size=n_words, sources=sources)
            meta = cooc_meta(
                vocabulary, record, stats, (n_words, out_cols), int(indptr[-1])
            )
            budget = max(1 << 16, memory // 4 // _WRITE_BYTES_PER_ENTRY)
            _write_cooc(
                output,
                indptr,
                vocabulary,
                meta,
                writer.groups(budget),
                lambda g: writer.rows(g, indptr, scale),
                pool,
                step("writing"),
            )
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return OutOfCoreResult(
        Path(output),
        (n_words, out_cols),
        int(indptr[-1]),
        record,
        stats,
        len(runs),
        1,
    )
