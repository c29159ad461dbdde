"""A corpus as a stream of token codes, tokenized and counted in compiled code.

This is the fast path of :func:`cooc.cooccurrence.build_cooccurrence` and of
``cooc build``: the files are read as bytes, in blocks of whole lines, and a
numba kernel (:mod:`cooc._kernels.text`) splits each block into tokens,
lowercases them and looks each one up in a hash table of distinct tokens held
in plain arrays (:class:`TokenTable`). No Python object is made per token, nor
per distinct token of a block: Python strings exist only for the final
vocabulary. Each block is cut at line ends into one part per thread; every
thread owns a table, and the tables are merged once at the end.

The first pass keeps what it read as codes (``int32`` entry numbers, 4 bytes
per token, spooled to a temporary file past a memory limit), so the counting
pass maps codes to word ids with one array lookup instead of reading and
tokenizing the corpus again. With a vocabulary given, one pass does both.

The tokens are exactly those of :mod:`cooc.corpus` (same tables, same
lowercasing, same apostrophe rule); a line that needs Python (invalid UTF-8,
or a capital sigma, whose lowercase depends on its neighbours) goes through
Python's decoder and :meth:`str.lower` first, then through the same kernel.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import functools
import logging
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cooc import _kernels as K
from cooc import corpus
from cooc._kernels import text as T
from cooc.errors import InputError
from cooc.parallel import n_threads as thread_count

logger = logging.getLogger(__name__)

__all__ = ["EncodedCorpus", "TokenTable", "scan_corpus"]

_SIGMA = 0x03A3  # lowercase depends on the context (Python's final-sigma rule)
_DOTTED_I = 0x0130  # lowercase is two characters: "i" + U+0307


# -- character tables ------------------------------------------------------------
@functools.cache
def _lower_table() -> np.ndarray:
    """``int32`` lowercase of every code point (``str.lower`` where it maps one
    character to one; the two special characters map to themselves)."""
    n = sys.maxunicode + 1
    codes = np.arange(n, dtype=np.uint32)
    everything = codes.tobytes().decode("utf-32-le", "surrogatepass")
    for special in (_SIGMA, _DOTTED_I):
        everything = everything.replace(chr(special), "\0")
    lowered = np.frombuffer(
        everything.lower().encode("utf-32-le", "surrogatepass"), np.uint32
    )
    if lowered.shape[0] != n:  # pragma: no cover - a new Unicode version
        raise RuntimeError("str.lower changed length; cooc.tokenstream needs updating.")
    table = lowered.astype(np.int32)
    table[0] = 0
    table[_SIGMA] = _SIGMA
    table[_DOTTED_I] = ord("i")
    table.flags.writeable = False
    return table


@functools.cache
def _class_table(tokenizer: str) -> np.ndarray:
    """``uint8`` class of every code point for ``tokenizer`` (see
    :mod:`cooc._kernels.text`)."""
    if tokenizer == "word":
        table = corpus.word_table().astype(np.uint8) * np.uint8(T.CLASS_TOKEN)
        for a in corpus.APOSTROPHES:
            table[a] |= T.CLASS_APOSTROPHE
    else:
        table = (~corpus.space_table()).astype(np.uint8) * np.uint8(T.CLASS_TOKEN)
    table[_SIGMA] |= T.CLASS_SPECIAL
    table.flags.writeable = False
    return table


# -- the token table ------------------------------------------------------------
class TokenTable:
    """Distinct tokens (UTF-8 bytes) and their counts, in numpy arrays.

    Entries are numbered ``0, 1, ...`` in order of first insertion and keep
    their number as the table grows; see :mod:`cooc._kernels.text`.
    """

    def __init__(self, n_entries: int = 1 << 14, arena_bytes: int = 1 << 18):
        n_entries = max(16, int(n_entries))
        # Two words per slot; at most half of the slots are used.
        self.slots = np.zeros(2 * _pow2(2 * n_entries), np.uint64)
        self.hash = np.empty(n_entries, np.uint64)
        self.start = np.empty(n_entries, np.int64)
        self.len = np.empty(n_entries, np.int64)
        self.count = np.zeros(n_entries, np.int64)
        self.arena = np.empty(max(64, int(arena_bytes)), np.uint8)
        self.sizes = np.zeros(2, np.int64)

    def __len__(self) -> int:
        return int(self.sizes[0])

    @property
    def counts(self) -> np.ndarray:
        """Occurrences of each entry (a view)."""
        return self.count[: len(self)]

    @property
    def nbytes(self) -> int:
        arrays = (self.slots, self.hash, self.start, self.len, self.count, self.arena)
        return sum(a.nbytes for a in arrays)

    def grow(self, token_bytes: int) -> None:
        """Make room for one more entry of ``token_bytes`` bytes."""
        n, used = int(self.sizes[0]), int(self.sizes[1])
        if n + 1 > self.start.shape[0]:
            cap = 2 * self.start.shape[0]
            for name in ("hash", "start", "len", "count"):
                old = getattr(self, name)
                new = np.zeros(cap, old.dtype)
                new[:n] = old[:n]
                setattr(self, name, new)
        if 2 * (n + 1) > self.slots.shape[0] // 2:
            self.slots = np.zeros(2 * self.slots.shape[0], np.uint64)
            K.rehash_token_table(
                self.hash, self.start, self.len, self.arena, n, self.slots
            )
        if used + token_bytes > self.arena.shape[0]:
            new = np.empty(
                max(2 * self.arena.shape[0], used + 2 * token_bytes), np.uint8
            )
            new[:used] = self.arena[:used]
            self.arena = new

    def merge(self, other: TokenTable) -> np.ndarray:
        """Add ``other``'s entries and counts; return where each of them went."""
        remap = np.empty(len(other), np.int32)
        first = 0
        while first < len(other):
            first = K.merge_token_tables(
                other.start,
                other.len,
                other.count,
                other.arena,
                first,
                len(other),
                self.slots,
                self.hash,
                self.start,
                self.len,
                self.count,
                self.arena,
                self.sizes,
                remap,
            )
            if first < len(other):
                self.grow(int(other.len[first]))
        return remap

    @classmethod
    def from_tokens(cls, tokens) -> TokenTable:
        """A table whose entry ``i`` is ``tokens[i]`` (distinct str), count 0."""
        encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
        lens = np.fromiter(map(len, encoded), np.int64, count=len(encoded))
        src = cls.__new__(cls)
        src.arena = np.frombuffer(b"".join(encoded), np.uint8)
        src.len = lens
        src.start = np.zeros(len(encoded), np.int64)
        np.cumsum(lens[:-1], out=src.start[1:])
        src.count = np.zeros(len(encoded), np.int64)
        src.sizes = np.array([len(encoded), src.arena.shape[0]], np.int64)
        table = cls(2 * len(encoded), 2 * src.arena.shape[0])
        remap = table.merge(src)
        if not np.array_equal(remap, np.arange(len(encoded))):
            raise InputError("tokens must be distinct.")
        return table

    def tokens(self, entries: np.ndarray) -> list[str]:
        """The tokens of ``entries``, as str."""
        entries = np.ascontiguousarray(entries, dtype=np.int64)
        if entries.shape[0] == 0:
            return []
        joined = K.gather_tokens(self.arena, self.start, self.len, entries)
        return joined.tobytes().decode("utf-8", "surrogatepass").split("\n")


def _pow2(n: int) -> int:
    return 1 << max(4, (int(n) - 1).bit_length())


# -- one part of a block ------------------------------------------------------------
@dataclass
class _Segment:
    """Bytes ``[start, end)`` of a block came from ``name``, starting at its
    line ``lines_before + 1``; ``table`` marks text made from a table column
    (decoded with surrogates allowed); ``bom``: a byte-order mark was dropped
    before ``start``."""

    start: int
    end: int
    name: str
    lines_before: int
    table: bool
    bom: bool


@dataclass
class Part:
    """Whole documents of a block, coded through the table of thread ``table``."""

    table: int
    codes: np.ndarray  # int32, entry numbers (or -1 with a read-only table)
    offsets: np.ndarray  # int64, n_docs + 1

    @property
    def n_tokens(self) -> int:
        return int(self.codes.shape[0])


class _Tokenizer:
    """Runs the kernel over one part, growing buffers and falling back to
    Python's decoder where the kernel asks for it."""

    def __init__(self, tokenizer: str, lowercase: bool, encoding_errors: str):
        self.cls = _class_table(tokenizer)
        self.lower = _lower_table()
        self.lowercase = bool(lowercase)
        self.encoding_errors = encoding_errors

    def run(self, table: TokenTable, insert: bool, data, lo, hi, segments, scratch):
        """Code ``data[lo:hi]``; returns ``(codes, offsets, scratch)``."""
        view = data[lo:hi]
        n = view.shape[0]
        n_docs = T.count_newlines(view) + 1
        codes = np.empty(n // 2 + 1, np.int32)
        offsets = np.zeros(n_docs + 1, np.int64)
        state = np.zeros(5, np.int64)
        while True:
            status, scratch = self._kernel(
                table,
                insert,
                view,
                self.lowercase,
                False,
                scratch,
                codes,
                offsets,
                state,
            )
            if status == T.STATUS_OK:
                break
            # One line needs Python: take back its tokens, redo it, go on.
            pos, doc = int(state[0]), int(state[2])
            first = int(offsets[doc])
            start, end = T.line_bounds(view, pos)
            text = self._decode_line(data, lo + start, lo + end, segments)
            if self.lowercase:
                text = text.lower()
            line = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
            state[:] = (0, first, doc, 0, 0)
            status, scratch = self._kernel(
                table, insert, line, False, True, scratch, codes, offsets, state
            )
            if status != T.STATUS_OK:  # pragma: no cover - internal invariant
                raise RuntimeError("cooc.tokenstream: fallback failed; please report.")
            state[:] = (end, state[1], doc, 0, 0)
        n_tok = int(state[1])
        if int(state[2]) != n_docs - 1:  # pragma: no cover - internal invariant
            raise RuntimeError("cooc.tokenstream: line count mismatch; please report.")
        offsets[n_docs] = n_tok
        codes.resize(n_tok, refcheck=False)
        if insert:
            K.count_codes(codes, table.count)
        return codes, offsets, scratch

    def _kernel(self, table, insert, view, lowercase, surrogates, scratch, *out):
        """Run the kernel until it finishes or needs Python, growing buffers."""
        codes, offsets, state = out
        while True:
            status = K.tokenize_bytes(
                view,
                view.shape[0],
                self.cls,
                self.lower,
                lowercase,
                surrogates,
                insert,
                table.slots,
                table.hash,
                table.start,
                table.len,
                table.arena,
                table.sizes,
                scratch,
                codes,
                offsets,
                state,
            )
            if status != T.STATUS_GROW:
                return status, scratch
            if state[3] == T.GROW_SCRATCH:
                scratch = np.empty(2 * scratch.shape[0], np.uint8)
            else:
                table.grow(int(state[4]))

    def _decode_line(self, data, a, b, segments) -> str:
        """Python's decoding of the line ``data[a:b]`` (an error names its file
        and line)."""
        seg = segments[bisect.bisect_right([s.start for s in segments], a) - 1]
        raw = data[a:b].tobytes()
        if seg.table:
            return raw.decode("utf-8", "surrogatepass")
        try:
            text = raw.decode("utf-8", self.encoding_errors)
        except UnicodeDecodeError as err:
            line = seg.lines_before + data[seg.start : a].tobytes().count(b"\n") + 1
            raise corpus.invalid_utf8_error(
                seg.name, line, err.start + 1, err
            ) from None
        if seg.lines_before == 0 and a == seg.start and not seg.bom:
            # A BOM that only decoding reveals (after an ignored bad byte)
            # is dropped, as cooc.corpus drops one at the start of a file.
            text = text.removeprefix("\ufeff")
        return text


# -- reading ---------------------------------------------------------------------------
@dataclass
class _Block:
    data: np.ndarray  # uint8, whole lines joined by "\n"
    segments: list


def _iter_blocks(
    paths, column, encoding_errors, chunk_size, documents="line", max_line=None
) -> Iterator[_Block]:
    """Blocks of about ``chunk_size`` bytes of whole documents, from every file
    (a document longer than ``max_line`` bytes is refused, see
    :func:`cooc.corpus.iter_byte_blocks`)."""
    pending: list = []  # (bytes, name, lines_before, table)
    size = 0

    def flush():
        segments, start = [], 0
        for raw, name, lines_before, table, bom in pending:
            end = start + len(raw)
            segments.append(_Segment(start, end, name, lines_before, table, bom))
            start = end + 1
        if len(pending) == 1:
            joined = pending[0].data
        else:
            joined = b"\n".join(p.data for p in pending)
        return _Block(np.frombuffer(joined, np.uint8), segments)

    for item in corpus.iter_byte_blocks(
        paths,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
        max_line=max_line,
    ):
        if pending and size + len(item.data) > chunk_size:
            yield flush()
            pending, size = [], 0
        pending.append(item)
        size += len(item.data) + 1
    if pending:
        yield flush()


# Seconds a stopped consumer waits for the reader thread to finish its block.
_STOP_WAIT = 1.0


def _prefetched(iterator: Iterator, depth: int = 1) -> Iterator:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (file
    reading and decompression release the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer
            q.put((done, exc))

    thread = threading.Thread(target=work, daemon=True, name="cooc-reader")
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        # The reader stops at its next block; one blocked in a read that
        # never returns (standard input left open) is left behind, a daemon,
        # so that an interrupted build still ends.
        waited = 0.0
        while thread.is_alive() and waited < _STOP_WAIT:
            _drain(q)
            thread.join(0.05)
            waited += 0.05


def _find_newline(data: np.ndarray, start: int) -> int:
    """Position of the first ``\\n`` at or after ``start``, or -1."""
    raw = memoryview(data)
    n = data.shape[0]
    step = 1 << 16
    while start < n:
        found = bytes(raw[start : start + step]).find(b"\n")
        if found >= 0:
            return start + found
        start += step
        step *= 4
    return -1


def _drain(q: queue.Queue) -> None:
    """Take what is waiting in ``q`` (so that a blocked producer can stop)."""
    with contextlib.suppress(queue.Empty):
        while True:
            q.get_nowait()


# Parts a block is cut into per thread (a part is at least a few MB at the
# default block size of 16 MB).
_PARTS_PER_THREAD = 2


def _cuts(data: np.ndarray, n_parts: int) -> list[tuple[int, int]]:
    """Bounds ``(lo, hi)`` of up to ``n_parts`` parts of about equal size of
    ``data``, cut at line ends (the ``\\n`` at ``hi`` belongs to no part)."""
    n = data.shape[0]
    bounds = []
    lo = 0
    for t in range(1, n_parts):
        cut = _find_newline(data, max(lo, n * t // n_parts))
        if cut < 0:
            break
        bounds.append((lo, cut))
        lo = cut + 1
    bounds.append((lo, n))
    return bounds


# -- the encoded corpus ------------------------------------------------------------
class EncodedCorpus:
    """The parts of a corpus as read, in order, kept in memory up to
    ``memory_limit`` bytes and spooled to an anonymous temporary file beyond."""

    def __init__(self, memory_limit: int, spill_dir=None):
        self.memory_limit = int(memory_limit)
        self.spill_dir = spill_dir
        self._parts: list = []
        self._bytes = 0
        self._spool = None
        self.n_tokens = 0
        self.n_docs = 0

    def append(self, part: Part) -> None:
        self.n_tokens += part.n_tokens
        self.n_docs += part.offsets.shape[0] - 1
        size = part.codes.nbytes + part.offsets.nbytes
        if self._bytes + size <= self.memory_limit:
            self._parts.append(part)
            self._bytes += size
            return
        if self._spool is None:
            # Closed by close(); unlinked at once, so nothing is left behind.
            self._spool = tempfile.TemporaryFile(
                prefix="cooc-codes-", dir=self.spill_dir
            )
        where = self._spool.seek(0, os.SEEK_END)
        self._spool.write(part.codes.tobytes())
        self._spool.write(part.offsets.tobytes())
        self._parts.append((part.table, where, part.n_tokens, part.offsets.shape[0]))

    def __iter__(self) -> Iterator[Part]:
        for item in self._parts:
            if isinstance(item, Part):
                yield item
                continue
            table, where, n_tok, n_off = item
            self._spool.seek(where)
            codes = np.fromfile(self._spool, np.int32, count=n_tok)
            offsets = np.fromfile(self._spool, np.int64, count=n_off)
            yield Part(table, codes, offsets)

    def close(self) -> None:
        self._parts = []
        if self._spool is not None:
            self._spool.close()
            self._spool = None


# -- the passes ----------------------------------------------------------------------
def scan_corpus(
    paths,
    *,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int = 1 << 24,
    documents: str = "line",
    n_jobs: int | None = None,
    table: TokenTable | None = None,
    keep: EncodedCorpus | None = None,
    on_part: Callable[[Part], None] | None = None,
    progress: Callable[[int], None] | None = None,
    max_line: int | None = None,
) -> list[TokenTable]:
    """Read and code a corpus; return the token table of each thread.

    Without ``table`` every thread builds its own table (counting as it goes)
    and the first one, after :func:`merge_tables`, holds the corpus's counts.
    With ``table`` all threads read that one table (codes of unseen tokens are
    -1). Each part is handed to ``on_part`` and/or appended to ``keep`` in
    reading order; ``progress(n_tokens)`` follows every block. ``documents``
    says what a document of a plain-text file is (see
    :func:`cooc.corpus.iter_documents`). A document longer than ``max_line``
    bytes (default :data:`cooc.corpus.DEFAULT_MAX_LINE`, 1/16 of the default
    budget; :func:`cooc.corpus.max_line_bytes` of a budget) is refused
    while it is read.
    """
    n_threads = max(1, thread_count(n_jobs))
    insert = table is None
    tables = [TokenTable() for _ in range(n_threads)] if insert else [table]
    tok = _Tokenizer(tokenizer, lowercase, encoding_errors)
    scratch = [np.empty(1 << 12, np.uint8) for _ in range(n_threads)]

    # A part is coded by whichever thread is free, with that thread's table
    # (and scratch): the table number travels with the part's codes.
    free: queue.SimpleQueue = queue.SimpleQueue()
    for t in range(n_threads):
        free.put(t)

    def work(block, lo, hi):
        t = free.get()
        try:
            tab = tables[t] if insert else tables[0]
            codes, offsets, scratch[t] = tok.run(
                tab, insert, block.data, lo, hi, block.segments, scratch[t]
            )
        finally:
            free.put(t)
        return Part(t if insert else 0, codes, offsets)

    def finish(futures):
        n = 0
        for future in futures:
            part = future.result()
            n += part.n_tokens
            if keep is not None:
                keep.append(part)
            if on_part is not None:
                on_part(part)
        if progress is not None:
            progress(n)

    blocks = _prefetched(
        _iter_blocks(paths, column, encoding_errors, chunk_size, documents, max_line)
    )
    in_flight: collections.deque = collections.deque()
    with contextlib.closing(blocks), ThreadPoolExecutor(n_threads) as pool:
        # (closing: an error or a signal stops the reader thread now, not
        # whenever the generator is collected)
        try:
            for block in blocks:
                # Several parts per thread and the next block queued behind
                # this one: no thread waits for the slowest part of a block.
                bounds = _cuts(block.data, _PARTS_PER_THREAD * n_threads)
                in_flight.append([pool.submit(work, block, *b) for b in bounds])
                while len(in_flight) > 1:
                    finish(in_flight.popleft())
            while in_flight:
                finish(in_flight.popleft())
        finally:
            for futures in in_flight:
                for future in futures:
                    future.cancel()
    return tables


def merge_tables(tables: list[TokenTable]) -> list[np.ndarray]:
    """Merge every table into the first; return each table's entry -> merged
    entry map (the identity for the first)."""
    first = tables[0]
    others = [first.merge(other) for other in tables[1:]]
    return [np.arange(len(first), dtype=np.int32), *others]
