"""The shard engine: a corpus cut into shards, each counted on its own, the
integer parts added up. No Dask here: :mod:`cooc.checkpoint` runs the shards
one after the other in this process, :mod:`cooc.distributed` as Dask tasks.

Each shard is counted with the same :class:`~cooc.cooccurrence.WindowCounter`
(told the global number of its first document) and the integer partial
counts are added. Integer sums do not depend on their order, so every way of
running the shards gives exactly the matrix of
:func:`cooc.cooccurrence.build_cooccurrence`, bit for bit.

Shards
------
A shard is a whole file, or, for uncompressed plain text (one document per
line), a byte range cut just after a newline (with ``documents="paragraph"``:
just after a blank line; with ``documents="file"`` files are never cut).
Compressed files and tables (JSONL, CSV, TSV, Parquet) are never cut. Shards
are numbered in reading order; the documents before a shard give its first
global document number, which subsampling and dynamic windows need (they are
drawn from a hash of the seed, the global document number and the position).
Consecutive shards can be counted together as a group (:func:`group_shards`:
many small files filled into groups of about 64 MiB, or about ``n`` groups).

Parts
-----
:func:`count_shard_words` gives ``(tokens, counts, n_docs, n_tokens)`` and
:func:`count_shard_pairs` ``(int64 CSR, scale, stats)``; two parts of a kind
are added by :func:`add_word_counts` and :func:`add_pair_counts`, and the
sum of the pair parts becomes the float matrix of a
:class:`~cooc.cooccurrence.CoocMatrix` by :func:`finish_counts`.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cooc import _kernels as K
from cooc.cooccurrence import WindowCounter, check_counter_params
from cooc.corpus import ReadingOptions, check_document_mode, file_format, resolve_paths
from cooc.errors import InputError
from cooc.vocab import count_arrays, merge_counts

__all__ = [
    "GROUP_BYTES",
    "Shard",
    "add_pair_counts",
    "add_word_counts",
    "count_shard_documents",
    "count_shard_pairs",
    "count_shard_words",
    "counter_params",
    "finish_counts",
    "group_shards",
    "iter_shard_chunks",
    "plan_shards",
    "shard_bytes",
    "sum_pair_counts",
]

# Bytes read at a time while looking for the newline after a cut point.
_SCAN = 1 << 16
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Shard:
    """One piece of a corpus: a whole file, or bytes ``[start, end)`` of a text file.

    Attributes
    ----------
    path : str
        The file.
    start, end : int
        Byte range for plain uncompressed text; ``end == -1`` means the whole
        file (any format). A range starts at the beginning of a line and ends
        just after a newline or at the end of the file.
    """

    path: str
    start: int = 0
    end: int = -1

    @property
    def whole(self) -> bool:
        return self.end < 0

    def __str__(self) -> str:
        return self.path if self.whole else f"{self.path}[{self.start}:{self.end}]"


def _splittable(path) -> bool:
    return file_format(path) == ("text", None)


def _line_start_after(fh, pos: int, size: int) -> int:
    """The first line start at or after ``pos`` (``size`` if there is none).

    A line that starts with a UTF-8 byte-order mark is skipped: the reader
    drops a mark at the start of a range, which would change that line.
    """
    while 0 < pos < size:
        fh.seek(pos - 1)
        scanned = pos - 1
        while True:
            data = fh.read(_SCAN)
            if not data:
                return size
            cut = data.find(b"\n")
            if cut >= 0:
                pos = scanned + cut + 1
                break
            scanned += len(data)
        fh.seek(pos)
        if fh.read(len(_BOM)) != _BOM:
            return pos
        pos += 1
    return min(pos, size)


_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")


def _paragraph_start_after(fh, pos: int, size: int) -> int:
    """The first line start after ``pos`` that follows a blank line (``size``
    if there is none): a paragraph boundary, where the paragraphs of the bytes
    before and after are those of the whole file. A line that starts with a
    UTF-8 byte-order mark is skipped, as in :func:`_line_start_after`.
    """
    if pos <= 0:
        return 0
    if pos >= size:
        return size
    offset = pos - 1  # the file offset of buf[0]
    fh.seek(offset)
    buf = b""
    while True:
        data = fh.read(_SCAN)
        if not data:
            return size
        buf += data
        start = 0
        while (m := _BLANK_LINE.search(buf, start)) is not None:
            cut = offset + m.end()
            if cut >= size:
                return size
            here = fh.tell()
            fh.seek(cut)
            head = fh.read(len(_BOM))
            fh.seek(here)
            if head != _BOM:
                return cut
            start = m.end()
        # Keep what a blank line can still start from: the last newline, when
        # only blanks follow it.
        nl = buf.rfind(b"\n")
        if nl >= 0 and not buf[nl + 1 :].strip(b" \t\r\f\v"):
            offset += nl
            buf = buf[nl:]
        else:
            offset += len(buf)
            buf = b""


def plan_shards(
    paths, n_shards: int | None = None, *, documents: str = "line"
) -> list[Shard]:
    """Cut a corpus into about ``n_shards`` shards, in reading order.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        As for :func:`cooc.corpus.resolve_paths`; standard input (``"-"``) cannot
        be sharded.
    n_shards : int, default=None
        Wanted number of shards; None means one per file. Files are never
        merged; uncompressed plain-text files are cut at line boundaries into
        pieces of about equal size when more shards than files are asked for.
    documents : {"line", "paragraph", "file"}, default="line"
        What a document of a plain-text file is (see
        :func:`cooc.corpus.iter_documents`): files are cut at line boundaries,
        just after blank lines (paragraph boundaries), or never.

    Returns
    -------
    list of Shard

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("one line\\nanother line\\nthird\\n")
    >>> shards = plan_shards([folder / "a.txt"], n_shards=2)
    >>> [(s.start, s.end) for s in shards]
    [(0, 22), (22, 28)]
    """
    if n_shards is not None and (
        isinstance(n_shards, bool) or not isinstance(n_shards, int) or n_shards < 1
    ):
        raise InputError(f"n_shards={n_shards!r} must be a positive int (--shards).")
    check_document_mode(documents)
    files = resolve_paths(paths)
    if "-" in files:
        raise InputError(
            "standard input ('-') cannot be split into shards; save it to a file "
            "first or use --engine local."
        )
    files = [str(f) for f in files]
    if n_shards is None or n_shards <= len(files) or documents == "file":
        return [Shard(f) for f in files]
    sizes = {f: os.path.getsize(f) for f in files if _splittable(f)}
    total = sum(sizes.values())
    extra = n_shards - (len(files) - len(sizes))
    shards: list[Shard] = []
    for f in files:
        size = sizes.get(f, 0)
        pieces = max(1, round(extra * size / total)) if size else 1
        if pieces == 1:
            shards.append(Shard(f))
            continue
        with open(f, "rb") as fh:
            if documents == "paragraph":
                cuts = [0]
                for j in range(1, pieces):
                    # (a cut past the next point is the cut of that point too)
                    pos = size * j // pieces
                    if pos > cuts[-1]:
                        cuts.append(_paragraph_start_after(fh, pos, size))
            else:
                cuts = [
                    _line_start_after(fh, size * j // pieces, size)
                    for j in range(pieces)
                ]
        cuts = sorted(set([0, *cuts[1:], size]))
        shards.extend(Shard(f, a, b) for a, b in itertools.pairwise(cuts) if b > a)
    return shards


#: Bytes of input a group of small files is filled to by :func:`group_shards`
#: when no number of groups is asked for.
GROUP_BYTES = 64 << 20


def shard_bytes(shard: Shard) -> int:
    """Bytes of input in a shard: its range, or the size of its whole file
    (compressed size for a compressed file)."""
    return os.path.getsize(shard.path) if shard.whole else shard.end - shard.start


def group_shards(
    shards, n_groups: int | None = None, *, target_bytes: int = GROUP_BYTES
) -> list[tuple[Shard, ...]]:
    """Consecutive shards gathered into groups, each counted as one piece.

    A group is a tuple of shards in reading order; the groups, in order,
    hold every shard once. The counting functions take a group wherever they
    take a shard, and a group's documents are numbered on from the group
    before it, so the counts of any grouping add up to the same matrix.
    Grouping keeps a corpus of many small files from costing a file (and a
    checkpoint write) per file.

    Parameters
    ----------
    shards : list of Shard
        Usually :func:`plan_shards`' result.
    n_groups : int, default=None
        About how many groups, of about equal bytes; None fills each group
        to about ``target_bytes``.
    target_bytes : int, default=64 MiB
        Bytes of input a group holds about (without ``n_groups``); a shard
        larger than this is a group of its own.

    Examples
    --------
    >>> groups = group_shards([Shard("a", 0, 10), Shard("a", 10, 20),
    ...                        Shard("a", 20, 100)], target_bytes=30)
    >>> [[str(s) for s in g] for g in groups]
    [['a[0:10]', 'a[10:20]'], ['a[20:100]']]
    """
    shards = list(shards)
    if n_groups is not None and (
        isinstance(n_groups, bool) or not isinstance(n_groups, int) or n_groups < 1
    ):
        raise InputError(f"n_groups={n_groups!r} must be a positive int.")
    sizes = [shard_bytes(s) for s in shards]
    total = sum(sizes)
    target = total / n_groups if n_groups is not None else target_bytes
    groups: list[list[Shard]] = []
    filled = 0
    for shard, size in zip(shards, sizes, strict=True):
        # A shard joins the group before it while that stays within the
        # target: pieces of about total / n stay apart (so about n groups),
        # small files fill groups up to the target.
        if not groups or filled + size > target:
            groups.append([])
            filled = 0
        groups[-1].append(shard)
        filled += size
    return [tuple(g) for g in groups]


def _as_group(shard) -> tuple[Shard, ...]:
    return (shard,) if isinstance(shard, Shard) else tuple(shard)


class _ByteRange:
    """Read-only view of bytes ``[start, end)`` of a binary file."""

    def __init__(self, path, start: int, end: int):
        self._fh = open(path, "rb")
        self._fh.seek(start)
        self._left = end - start

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = self._fh.read(size)
        self._left -= len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._fh.close()


def _shard_blocks(shard: Shard, options: ReadingOptions) -> Iterator:
    """Blocks of a shard as :meth:`ReadingOptions.blocks` yields those of a file."""
    if shard.whole:
        yield from options.blocks([shard.path])
        return
    name = f"{shard.path} (bytes {shard.start}-{shard.end}; line numbers from there)"
    with _ByteRange(shard.path, shard.start, shard.end) as stream:
        yield from options.stream_blocks(stream, name)


def iter_shard_chunks(shard: Shard, options) -> Iterator:
    """Token chunks of one shard, or of a group of shards (whole documents, in
    order).

    ``options`` is a :class:`~cooc.corpus.ReadingOptions` (or a dict of its
    keywords).
    """
    options = ReadingOptions.of(options)
    if not isinstance(shard, Shard):
        group = _as_group(shard)
        if all(s.whole for s in group):
            yield from options.token_chunks([s.path for s in group])
        else:
            blocks = (block for s in group for block in _shard_blocks(s, options))
            yield from options.chunks_of(blocks)
        return
    if shard.whole:
        yield from options.token_chunks([shard.path])
        return
    # The grouping of iter_token_chunks; chunk bounds do not change any count.
    yield from options.chunks_of(_shard_blocks(shard, options))


def count_shard_documents(shard: Shard, options) -> int:
    """Number of documents in a shard, without tokenizing it."""
    options = ReadingOptions.of(options)
    n = 0
    for block in _shard_blocks(shard, options):
        n += block.count("\n") + 1 if isinstance(block, str) else len(block)
    return n


# -- the parts of one shard and their sums ---------------------------------------------
def count_shard_words(shard: Shard, options: ReadingOptions):
    """``(tokens, counts, n_docs, n_tokens)`` of one shard (or a group of
    them, :func:`group_shards`)."""
    stats = [0, 0]

    def chunks():
        for chunk in iter_shard_chunks(shard, options):
            stats[0] += chunk.n_docs
            stats[1] += chunk.n_tokens
            yield chunk

    tokens, counts = count_arrays(chunks())
    return tokens, counts, stats[0], stats[1]


def add_word_counts(a, b):
    """The sum of two results of :func:`count_shard_words` (or of sums of them)."""
    tokens, counts = merge_counts([a[0], b[0]], [a[1], b[1]])
    return tokens, counts, a[2] + b[2], a[3] + b[3]


def count_shard_pairs(
    shard: Shard, options: ReadingOptions, vocabulary, params: dict, first_doc: int
):
    """Exact integer counts of one shard (or a group of them,
    :func:`group_shards`): ``(int64 CSR, scale, stats)``.

    ``params`` are the counting parameters of
    :class:`~cooc.cooccurrence.WindowCounter`; ``first_doc`` is the global
    number of the shard's (group's) first document.
    """
    counter = WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        first_doc=first_doc,
        **params,
    )
    for chunk in iter_shard_chunks(shard, options):
        counter.update(vocabulary.encode_chunk(chunk), chunk.offsets)
    counts, scale = counter.result_counts()
    return counts, scale, counter.stats


def add_pair_counts(a, b):
    """The sum of two results of :func:`count_shard_pairs` (int64, exact)."""
    total = a[0] + b[0]
    stats = {k: a[2][k] + b[2][k] for k in a[2]}
    return total, a[1], stats


def _pairwise_sum(items: list):
    """The sum of a non-empty list, added in a balanced tree of pairs."""
    while len(items) > 1:
        items = [
            items[i] + items[i + 1] if i + 1 < len(items) else items[i]
            for i in range(0, len(items), 2)
        ]
    return items[0]


def sum_pair_counts(parts):
    """The sum of results of :func:`count_shard_pairs` (an iterable, consumed
    once), as :func:`add_pair_counts` would give it.

    Parts are gathered until they hold as many entries as the running total,
    added up pairwise, then added to the total: every entry is copied about
    log(n) times instead of once per later part, and no more than about
    twice the total is held at a time.
    """
    total, scale, stats = None, None, None
    batch, batch_nnz = [], 0
    for counts, part_scale, part_stats in parts:
        if stats is None:
            scale, stats = part_scale, dict(part_stats)
        else:
            stats = {k: stats[k] + part_stats[k] for k in stats}
        batch.append(counts)
        batch_nnz += counts.nnz
        if total is None or batch_nnz >= total.nnz:
            added = _pairwise_sum(batch)
            total = added if total is None else total + added
            batch, batch_nnz = [], 0
    if stats is None:
        raise InputError("no shards to add up.")
    if batch:
        total = total + _pairwise_sum(batch)
    return total, scale, stats


def finish_counts(counts, scale) -> sp.csr_matrix:
    """Float64 CSR laid out as ``WindowCounter.result`` makes it (same kernel, bits)."""
    counts = counts.tocsr()
    counts.sum_duplicates()  # also sorts the indices
    data = K.divide_counts_inplace(
        np.ascontiguousarray(counts.data, dtype=np.int64), float(scale)
    )
    indices = counts.indices.astype(np.int32, copy=False)
    indptr = counts.indptr.astype(
        np.int32 if counts.nnz < np.iinfo(np.int32).max else np.int64, copy=False
    )
    out = sp.csr_matrix((data, indices, indptr), shape=counts.shape)
    out.has_sorted_indices = True
    return out


def counter_params(vocabulary, params: dict) -> dict:
    """Check the counting parameters before any shard runs; their record back."""
    check_counter_params(params)
    check = dict(params, n_jobs=1, memory=None)
    counter = WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        n_dense=0,
        **check,
    )
    return counter.params
