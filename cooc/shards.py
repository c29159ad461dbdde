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
    "Shard",
    "add_pair_counts",
    "add_word_counts",
    "count_shard_documents",
    "count_shard_pairs",
    "count_shard_words",
    "counter_params",
    "finish_counts",
    "iter_shard_chunks",
    "plan_shards",
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
    """Token chunks of one shard (whole documents, in order).

    ``options`` is a :class:`~cooc.corpus.ReadingOptions` (or a dict of its
    keywords).
    """
    options = ReadingOptions.of(options)
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
    """``(tokens, counts, n_docs, n_tokens)`` of one shard."""
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
    """Exact integer counts of one shard: ``(int64 CSR, scale, stats)``.

    ``params`` are the counting parameters of
    :class:`~cooc.cooccurrence.WindowCounter`; ``first_doc`` is the global
    number of the shard's first document.
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
