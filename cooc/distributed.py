"""Counting and SVD beyond one process: shards on Dask, and out of core on disk.

Three back ends share one idea: cut the corpus into shards, count each shard
with the same :class:`~cooc.cooccurrence.WindowCounter` (told the global number
of its first document), and add the integer partial counts. Integer sums do
not depend on their order, so every back end gives exactly the matrix of
:func:`cooc.cooccurrence.build_cooccurrence`, bit for bit.

* :func:`build_vocabulary_dask` and :func:`build_cooccurrence_dask` count the
  shards as Dask tasks on a ``distributed`` cluster (a scheduler address, a
  :class:`distributed.Client`, or a :class:`distributed.LocalCluster` started
  for the call) and add the partial results in a tree of Dask tasks. A worker
  lost mid-build costs only its tasks: the scheduler reruns them elsewhere.
* :func:`build_cooccurrence_out_of_core` (from :mod:`cooc.outofcore`) works on
  one machine within a memory budget.
* :func:`svd_embed_dask` runs the randomized SVD of
  :func:`cooc.svd.svd_embed` with the sparse matrix split into row blocks held
  by the workers; only dense ``(n, k)`` blocks travel. A worker lost mid-SVD
  costs its blocks and the product under way: the client, which keeps the
  matrix, sends those blocks again and runs the product again, so the vectors
  are the same as without the loss.

``distributed`` is an optional dependency (``pip install "cooc[dask]"``): this
module imports it inside the functions that need it, never at import time.

Shards
------
A shard is a whole file, or, for uncompressed plain text (one document per
line), a byte range cut just after a newline (with ``documents="paragraph"``:
just after a blank line; with ``documents="file"`` files are never cut).
Compressed files and tables (JSONL, CSV, TSV, Parquet) are never cut. Shards
are numbered in reading order; the documents before a shard give its first
global document number, which subsampling and dynamic windows need (they are
drawn from a hash of the seed, the global document number and the position).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cooc import _kernels as K

__all__ = [
    "OutOfCoreResult",
    "Shard",
    "build_cooccurrence_dask",
    "build_cooccurrence_out_of_core",
    "build_vocabulary_dask",
    "dask_client",
    "embed_cooccurrence_dask",
    "plan_shards",
    "svd_embed_dask",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'the Dask engine needs dask.distributed: pip install "cooc[dask]"'
# Bytes read at a time while looking for the newline after a cut point.
_SCAN = 1 << 16
_BOM = b"\xef\xbb\xbf"
# Reruns of a task that raised (I/O hiccups); a lost worker is handled by the
# scheduler itself (its tasks are rescheduled, see "allowed-failures").
_RETRIES = 1


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return distributed


# -- shards ---------------------------------------------------------------------------
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
    from cooc.corpus import _file_format

    return _file_format(path) == ("text", None)


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
    from cooc.corpus import _check_document_mode, resolve_paths

    if n_shards is not None and (
        isinstance(n_shards, bool) or not isinstance(n_shards, int) or n_shards < 1
    ):
        raise ValueError(f"n_shards={n_shards!r} must be a positive int (--shards).")
    _check_document_mode(documents)
    files = resolve_paths(paths)
    if "-" in files:
        raise ValueError(
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
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in __exit__
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


def _read_options(
    tokenizer, column, lowercase, chunk_size, encoding_errors, documents="line"
) -> dict:
    from cooc.corpus import (
        _check_chunk_size,
        _check_document_mode,
        _check_encoding_errors,
        _check_tokenizer,
    )

    _check_tokenizer(tokenizer)
    _check_encoding_errors(encoding_errors)
    _check_chunk_size(chunk_size)
    _check_document_mode(documents)
    return dict(
        tokenizer=tokenizer,
        column=column,
        lowercase=lowercase,
        chunk_size=chunk_size,
        encoding_errors=encoding_errors,
        documents=documents,
    )


def _shard_blocks(shard: Shard, read: dict) -> Iterator:
    """Blocks of a shard as :func:`cooc.corpus._iter_blocks` yields them."""
    from cooc.corpus import (
        _document_name,
        _document_stream,
        _iter_blocks,
        _iter_text_blocks,
    )

    documents = read.get("documents", "line")
    if shard.whole:
        yield from _iter_blocks(
            [shard.path],
            column=read["column"],
            encoding_errors=read["encoding_errors"],
            chunk_size=read["chunk_size"],
            documents=documents,
        )
        return
    name = f"{shard.path} (bytes {shard.start}-{shard.end}; line numbers from there)"
    with _ByteRange(shard.path, shard.start, shard.end) as stream:
        yield from _iter_text_blocks(
            _document_stream(stream, documents),
            _document_name(name, documents),
            read["chunk_size"],
            read["encoding_errors"],
        )


def iter_shard_chunks(shard: Shard, read: dict) -> Iterator:
    """Token chunks of one shard (whole documents, in order)."""
    from cooc.corpus import _chunk_from_text, _join_documents, iter_token_chunks

    if shard.whole:
        yield from iter_token_chunks([shard.path], **read)
        return
    # The grouping of iter_token_chunks; chunk bounds do not change any count.
    pending: list[str] = []
    size = 0
    for block in _shard_blocks(shard, read):
        if not isinstance(block, str):  # pragma: no cover - ranges are plain text
            block = _join_documents(block)
        if pending and size + len(block) > read["chunk_size"]:
            yield _chunk_from_text(
                "\n".join(pending), read["tokenizer"], read["lowercase"]
            )
            pending, size = [], 0
        pending.append(block)
        size += len(block) + 1
    if pending:
        yield _chunk_from_text("\n".join(pending), read["tokenizer"], read["lowercase"])


def count_shard_documents(shard: Shard, read: dict) -> int:
    """Number of documents in a shard, without tokenizing it."""
    n = 0
    for block in _shard_blocks(shard, read):
        n += block.count("\n") + 1 if isinstance(block, str) else len(block)
    return n


# -- tasks (run on the workers; module-level so they pickle by reference) -------------
def _vocab_task(shard: Shard, read: dict):
    """``(tokens, counts, n_docs, n_tokens)`` of one shard."""
    from cooc.vocab import _count_arrays

    stats = [0, 0]

    def chunks():
        for chunk in iter_shard_chunks(shard, read):
            stats[0] += chunk.n_docs
            stats[1] += chunk.n_tokens
            yield chunk

    tokens, counts = _count_arrays(chunks())
    return tokens, counts, stats[0], stats[1]


def _vocab_merge(a, b):
    from cooc.vocab import _merge_counts

    tokens, counts = _merge_counts([a[0], b[0]], [a[1], b[1]])
    return tokens, counts, a[2] + b[2], a[3] + b[3]


def _vocab_stats(part) -> tuple[int, int]:
    return part[2], part[3]


def _identity(value):
    return value


def _docs_task(shard: Shard, read: dict) -> int:
    return count_shard_documents(shard, read)


def _task_threads(n_jobs, per_host: dict) -> int:
    """Numba threads for one task: ``n_jobs``, else the cores of this host shared
    by all worker threads on it."""
    if n_jobs is not None:
        return n_jobs
    from distributed import get_worker
    from distributed.comm import get_address_host

    from cooc.parallel import n_threads as _n_threads

    worker = get_worker()
    threads = per_host.get(get_address_host(worker.address), worker.state.nthreads)
    return max(1, _n_threads(None) // max(1, threads))


def _count_task(
    shard: Shard, read: dict, vocabulary, params: dict, first_doc: int, per_host: dict
):
    """Exact integer counts of one shard: ``(int64 CSR, scale, stats)``."""
    from cooc.cooccurrence import WindowCounter

    params = dict(params)
    params["n_jobs"] = _task_threads(params.get("n_jobs"), per_host)
    counter = WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        first_doc=first_doc,
        **params,
    )
    for chunk in iter_shard_chunks(shard, read):
        counter.update(vocabulary.encode_chunk(chunk), chunk.offsets)
    counts, scale = counter.result_counts()
    return counts, scale, counter.stats


def _count_merge(a, b):
    """Sum two partial results of ``_count_task`` (int64, exact)."""
    total = a[0] + b[0]
    stats = {k: a[2][k] + b[2][k] for k in a[2]}
    return total, a[1], stats


def _count_stats(part) -> dict:
    return part[2]


def _tree_reduce(client, futures: list, fn: Callable, key_prefix: str):
    """Add up ``futures`` pairwise, level by level, as Dask tasks; one future back."""
    level = list(futures)
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = [
            client.submit(
                fn,
                a,
                b,
                retries=_RETRIES,
                key=f"{key_prefix}-{depth}-{i}-{_token(a, b)}",
            )
            for i, (a, b) in enumerate(zip(level[0::2], level[1::2], strict=False))
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _token(*futures) -> str:
    from dask.base import tokenize

    return tokenize(*[f.key for f in futures])


def _report(client, futures: list, stage: str, tokens_of, progress) -> None:
    """Call ``progress(stage, n_tokens)`` as each future finishes."""
    if progress is None:
        return
    distributed = _import_distributed()
    for future in distributed.as_completed(futures, loop=client.loop):
        progress(stage, int(tokens_of(future.result())))


# -- clients --------------------------------------------------------------------------
def _cores() -> int:
    from cooc.parallel import n_threads as _n_threads

    return _n_threads(None)


@contextlib.contextmanager
def dask_client(scheduler=None, *, n_workers: int | None = None, quiet: bool = False):
    """A :class:`distributed.Client`: the one given, one connected to ``scheduler``
    (an address such as ``"tcp://host:8786"``), or one on a
    :class:`distributed.LocalCluster` of ``n_workers`` single-threaded worker
    processes (default: one per core), closed on exit.

    Raises
    ------
    ImportError
        When ``distributed`` is not installed.
    ValueError
        When the scheduler cannot be reached (the connect timeout is
        ``distributed.comm.timeouts.connect`` of the Dask configuration).
    """
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one "
                "with `dask scheduler` or leave out --scheduler for a local cluster."
            ) from None
        with client:
            yield client
        return
    if n_workers is not None and n_workers < 1:
        raise ValueError(f"n_workers={n_workers!r} must be >= 1 (--workers).")
    cluster = distributed.LocalCluster(
        n_workers=n_workers or _cores(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=_dashboard_address(),
        silence_logs=logging.ERROR if quiet else logging.WARNING,
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _dashboard_address():
    """``":0"`` (any free port) when the dashboard can run (needs bokeh), else None."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return None
    return ":0"


def describe_client(client) -> str:
    """One line: workers, threads and the dashboard link when there is one."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    threads = sum(w["nthreads"] for w in workers.values())
    text = (
        f"dask: {len(workers)} workers, {threads} threads at {client.scheduler.address}"
    )
    link = getattr(client, "dashboard_link", None) if _dashboard_address() else None
    return f"{text}; dashboard {link}" if link else text


def _threads_per_host(client) -> dict:
    """Worker threads per host address, to share each host's cores among them."""
    from distributed.comm import get_address_host

    out: dict = {}
    for addr, w in client.scheduler_info(n_workers=-1)["workers"].items():
        host = get_address_host(addr)
        out[host] = out.get(host, 0) + int(w["nthreads"])
    return out


# -- vocabulary -----------------------------------------------------------------------
def _select_vocabulary(tokens, counts, min_count, max_size):
    """The rows of :func:`cooc.vocab.build_vocabulary`, from merged counts."""
    from cooc.vocab import EmptyCorpusError, _check_params, _select

    _check_params(min_count, max_size)
    vocab = _select(tokens, counts, min_count, max_size)
    if len(vocab) == 0:
        if len(tokens) == 0:
            raise EmptyCorpusError.no_tokens()
        raise EmptyCorpusError.below_min_count(min_count, len(tokens), counts.max())
    return vocab


def _vocabulary_pass(client, shards, read, progress):
    """Vocabulary counts of every shard, merged in a tree; and per-shard stats."""
    parts = [
        client.submit(
            _vocab_task,
            s,
            read,
            retries=_RETRIES,
            key=f"cooc-vocab-{i}-{_tok(s, read)}",
        )
        for i, s in enumerate(shards)
    ]
    stats = [client.submit(_vocab_stats, p, key=f"cooc-vstats-{p.key}") for p in parts]
    total = _tree_reduce(client, parts, _vocab_merge, "cooc-vocab-merge")
    del parts
    _report(client, stats, "vocabulary", lambda s: s[1], progress)
    tokens, counts, _, _ = total.result()
    n_docs = [s[0] for s in client.gather(stats)]
    return tokens, counts, n_docs


def _tok(*args) -> str:
    from dask.base import tokenize

    return tokenize(*args)


def build_vocabulary_dask(
    paths,
    *,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int = 1 << 24,
    n_shards: int | None = None,
    client=None,
    scheduler=None,
    n_workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    documents: str = "line",
):
    """Count the words of a corpus on Dask: the vocabulary of
    :func:`cooc.vocab.build_vocabulary`, exactly.

    Each shard (see :func:`plan_shards`) is counted by one task; the per-shard
    counts are merged by a tree of tasks. ``client`` (a
    :class:`distributed.Client`) or ``scheduler`` (an address) choose the
    cluster; with neither a :class:`distributed.LocalCluster` of ``n_workers``
    processes runs for the call. ``documents`` is as for
    :func:`cooc.corpus.iter_documents`.
    """
    from cooc.corpus import _check_document_paths

    read = _read_options(
        tokenizer, column, lowercase, chunk_size, encoding_errors, documents
    )
    from cooc.vocab import _check_params

    _check_params(min_count, max_size)
    _check_document_paths(paths, documents)
    shards = plan_shards(paths, n_shards, documents=documents)
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        tokens, counts, _ = _vocabulary_pass(cl, shards, read, progress)
    return _select_vocabulary(tokens, counts, min_count, max_size)


# -- counting -------------------------------------------------------------------------
def _finish_counts(counts, scale) -> sp.csr_matrix:
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


def _counter_params(vocabulary, params: dict):
    """Validate the counting parameters on the client; their record for the result."""
    from cooc.cooccurrence import WindowCounter, _split_params

    _split_params(params)
    check = dict(params, n_jobs=1, memory=None)
    counter = WindowCounter(
        len(vocabulary),
        word_counts=vocabulary.counts if params.get("subsample") else None,
        n_dense=0,
        **check,
    )
    return counter.params


def _sources(paths) -> list[str]:
    return [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]


def build_cooccurrence_dask(
    paths,
    *,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int = 1 << 24,
    n_shards: int | None = None,
    client=None,
    scheduler=None,
    n_workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    documents: str = "line",
    **params,
):
    """Count window co-occurrences on Dask: exactly :func:`build_cooccurrence`.

    The corpus is cut into shards (:func:`plan_shards`). Without
    ``vocabulary``, a first pass counts the words of every shard (and its
    documents); then each shard is counted by a task with the shared
    vocabulary and the global number of its first document, and the integer
    partial matrices are added by a tree of tasks. When neither subsampling
    nor dynamic windows are asked for, document numbers do not matter and a
    given vocabulary means a single pass.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        The corpus, as for :func:`build_cooccurrence` (but not standard input).
    vocabulary, min_count, max_size, tokenizer, lowercase, column, encoding_errors
        As for :func:`build_cooccurrence`.
    chunk_size : int, default=16777216
        As for :func:`build_cooccurrence`.
    documents : {"line", "paragraph", "file"}, default="line"
        As for :func:`build_cooccurrence` (see :func:`plan_shards` for how
        each mode is sharded).
    n_shards : int, default=None
        About how many shards; None means one per file.
    client : distributed.Client, default=None
        The cluster to use.
    scheduler : str, default=None
        Address of a running scheduler, when no ``client`` is given. With
        neither, a :class:`distributed.LocalCluster` of ``n_workers``
        single-threaded processes (one per core by default) runs for the call.
    progress : callable, default=None
        ``progress(stage, n_tokens)``, called as shards finish.
    **params
        Counting parameters of :class:`~cooc.cooccurrence.WindowCounter`.
        ``n_jobs`` is the numba threads of each task (default: the host's cores
        shared among its worker threads); ``memory`` is the budget of each task.

    Returns
    -------
    CoocMatrix
    """
    from cooc.cooccurrence import (
        CoocMatrix,
        _file_defaults,
        _reading_record,
        _selection,
    )
    from cooc.corpus import _check_document_paths

    selection = _selection(vocabulary, min_count, max_size)
    params = _file_defaults(dict(params))
    read = _read_options(
        tokenizer, column, lowercase, chunk_size, encoding_errors, documents
    )
    _check_document_paths(paths, documents)
    if vocabulary is not None:
        record = _counter_params(vocabulary, params)
    else:
        from cooc.vocab import _check_params

        _check_params(min_count, max_size)
        from cooc.cooccurrence import _split_params

        _split_params(params)
    shards = plan_shards(paths, n_shards, documents=documents)
    random = bool(params.get("subsample")) or bool(params.get("dynamic_window"))
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        n_docs = None
        if vocabulary is None:
            tokens, counts, n_docs = _vocabulary_pass(cl, shards, read, progress)
            vocabulary = _select_vocabulary(tokens, counts, min_count, max_size)
            del tokens, counts
            record = _counter_params(vocabulary, params)
        elif random:
            futures = [
                cl.submit(
                    _docs_task,
                    s,
                    read,
                    retries=_RETRIES,
                    key=f"cooc-docs-{i}-{_tok(s, read)}",
                )
                for i, s in enumerate(shards)
            ]
            n_docs = cl.gather(futures)
        first_docs = (
            np.concatenate([[0], np.cumsum(n_docs)[:-1]]).tolist()
            if random
            else [0] * len(shards)
        )
        # A task, not scattered data: if the workers holding it are lost, the
        # scheduler can make it again.
        voc = cl.submit(
            _identity,
            vocabulary,
            key=f"cooc-vocabulary-{_tok(vocabulary.tokens, vocabulary.counts)}",
        )
        per_host = _threads_per_host(cl)
        counter_params = dict(params)
        parts = [
            cl.submit(
                _count_task,
                s,
                read,
                voc,
                counter_params,
                int(first),
                per_host,
                retries=_RETRIES,
                key=f"cooc-count-{i}-{_tok(s, read, voc.key, counter_params, first)}",
            )
            for i, (s, first) in enumerate(zip(shards, first_docs, strict=True))
        ]
        stats = [cl.submit(_count_stats, p, key=f"cooc-cstats-{p.key}") for p in parts]
        total = _tree_reduce(cl, parts, _count_merge, "cooc-count-merge")
        del parts
        _report(cl, stats, "counting", lambda s: s["n_tokens"], progress)
        counts, scale, stats = total.result()
        del total
    matrix = _finish_counts(counts, scale)
    del counts
    stats = {k: int(v) for k, v in stats.items()}
    stats["vocabulary_size"] = len(vocabulary)
    stats["sources"] = _sources(paths)
    return CoocMatrix(
        matrix, vocabulary, _reading_record(record, read, selection), stats
    )


# -- out of core (moved to cooc.outofcore; the names stay importable here) --------
from cooc.outofcore import (  # noqa: E402
    OutOfCoreResult,
    build_cooccurrence_out_of_core,
)


# -- SVD ------------------------------------------------------------------------------
def _block_task(block):
    """A row block and its transpose, both CSR (the two products need both)."""
    return block, block.T.tocsr()


def _block_threads() -> int:
    from distributed import get_worker

    from cooc.parallel import n_threads as _n_threads

    worker = get_worker()
    return max(1, _n_threads(None) // max(1, worker.state.nthreads))


def _mul_task(block, right):
    """``X_i @ right`` for the row block ``X_i``: shape (block rows, k)."""
    from cooc.svd import spmm

    return spmm(block[0], right, n_jobs=_block_threads())


def _tmul_task(block, rows):
    """``X_i.T @ rows`` (``rows`` is the block's part of a tall matrix): (n_cols, k)."""
    from cooc.svd import spmm

    return spmm(block[1], rows, n_jobs=_block_threads())


def _add_task(a, b):
    return a + b


# How many times one product of the Dask SVD is started again after it failed
# because workers were lost (each time, the row blocks they held are sent
# again). More losses in a row than this and the cluster is taken as unusable.
_PRODUCT_RERUNS = 3


class ClusterLost(RuntimeError):
    """The Dask cluster kept losing workers; the command cannot finish."""


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    """What a product raises when a worker holding its inputs is gone.

    The scheduler cancels the tasks whose scattered inputs went down with a
    worker (``CancelledError``); a scatter or gather that meets a worker which
    the scheduler has not yet written off fails with a closed connection
    (``CommClosedError``, an ``OSError``).
    """
    from concurrent.futures import CancelledError

    from distributed.comm import CommClosedError

    return CancelledError, CommClosedError


class _BlockOperator:
    """``X @ B`` and ``X.T @ B`` for a CSR ``X`` kept by the workers in row blocks.

    Each product is one task per block: ``X_i @ B`` (stacked on the client), or
    ``X_i.T @ B_i`` for the block's rows of ``B``, added up by a tree of tasks.
    Only dense ``(n, k)`` blocks travel; the sparse blocks are sent once, and
    again only when the worker holding them is lost.

    Parameters
    ----------
    client : distributed.Client
        The cluster.
    X : scipy.sparse.csr_matrix
        The matrix. The operator keeps a reference to it: it is the source
        from which lost blocks are sent again (scattered data cannot be
        recomputed by the scheduler, and putting the blocks in the task graph
        instead would keep a copy of the whole matrix on the scheduler).
    n_blocks : int
        About how many row blocks (of about equal non-zeros).

    Notes
    -----
    When a product fails because a worker was lost, the blocks that no
    surviving worker holds are sent again from ``X`` and the whole product is
    run again, at most ``_PRODUCT_RERUNS`` times in a row. A block and a
    product depend only on ``X``, the cuts and the product's input, and the
    partial sums of ``X.T @ B`` are added in a fixed tree, so the result is
    bit for bit the one of a run without the loss.
    """

    def __init__(self, client, X: sp.csr_matrix, n_blocks: int):
        from cooc.parallel import row_cuts as _row_cuts

        self.client = client
        self.X = X
        self.cuts = _row_cuts(X, n_blocks)
        self.blocks = [None] * (len(self.cuts) - 1)
        self._send(range(len(self.blocks)))

    def _send(self, which) -> None:
        """Scatter the row blocks numbered ``which`` and make their transposes."""
        which = list(which)
        if not which:
            return
        pieces = [self.X[self.cuts[i] : self.cuts[i + 1]] for i in which]
        sent = self.client.scatter(pieces, hash=False)
        for i, s in zip(which, sent, strict=True):
            self.blocks[i] = self.client.submit(_block_task, s, pure=False)

    def _send_lost(self) -> list[int]:
        """Send again the blocks that no worker holds; their numbers back."""
        # Cancelled futures (the client has heard of the loss) are sent again
        # without asking; for the others the scheduler is asked, as the client
        # may not have heard yet. A block still being made is sent again too:
        # a second copy costs a little, waiting on a lost one costs a rerun.
        done = [f for f in self.blocks if f.status == "finished"]
        held = self.client.who_has(done) if done else {}
        lost = [i for i, f in enumerate(self.blocks) if not held.get(f.key)]
        self._send(lost)
        return lost

    def _run(self, product, name: str):
        """``product()``, run again after workers were lost (see the class notes)."""
        lost_worker = _lost_worker_errors()
        for attempt in itertools.count():
            try:
                if attempt:
                    resent = self._send_lost()
                    logger.warning(
                        "dask SVD: workers lost during %s; %d row block(s) sent "
                        "again, running it again",
                        name,
                        len(resent),
                    )
                return product()
            except lost_worker as exc:
                if attempt == _PRODUCT_RERUNS:
                    raise ClusterLost(
                        f"the Dask SVD lost workers {attempt + 1} times in a row "
                        f"during one product ({name}, last: {type(exc).__name__}); "
                        "giving up: is the cluster stable?"
                    ) from exc

    def times(self, B, out=None):  # out: the local solver's reuse hint, unused
        B = np.ascontiguousarray(B)

        def product():
            [b] = self.client.scatter([B], broadcast=True, hash=False)
            parts = [
                self.client.submit(_mul_task, x, b, pure=False) for x in self.blocks
            ]
            return np.vstack(self.client.gather(parts))

        return self._run(product, "X @ B")

    def t_times(self, B, out=None):
        B = np.ascontiguousarray(B)

        def product():
            rows = self.client.scatter(
                [B[a:b] for a, b in itertools.pairwise(self.cuts)], hash=False
            )
            parts = [
                self.client.submit(_tmul_task, x, r, pure=False)
                for x, r in zip(self.blocks, rows, strict=True)
            ]
            return _tree_reduce_impure(self.client, parts, _add_task).result()

        return self._run(product, "X.T @ B")


def _randomized_blocks(
    client, X, n_components, *, n_iter, n_oversamples, random_state, n_blocks
):
    """The local randomized solver of :mod:`cooc.svd`, its sparse products on Dask.

    The very same driver (``_randomized_operator_svd``) runs with the block
    products, so a seed gives the local solver's result up to the order of
    the sums.
    """
    from cooc.svd import _randomized_operator_svd

    op = _BlockOperator(client, X, n_blocks)
    return _randomized_operator_svd(
        op.times,
        op.t_times,
        X.shape,
        X.dtype,
        n_components,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        random_state=random_state,
    )


def _tree_reduce_impure(client, futures, fn):
    level = list(futures)
    while len(level) > 1:
        nxt = [
            client.submit(fn, a, b, pure=False)
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def svd_embed_dask(
    matrix,
    n_components=128,
    *,
    power=None,
    n_iter=None,
    n_oversamples=None,
    add_context=False,
    random_state=None,
    dtype=np.float32,
    n_blocks=None,
    client=None,
    scheduler=None,
    n_workers=None,
):
    """:func:`cooc.svd.svd_embed` (randomized solver) with the matrix row-blocked
    across Dask workers.

    The sparse matrix is cut into ``n_blocks`` row blocks of about equal
    non-zeros (default: two per worker thread), which the workers keep; each
    product with the matrix or its transpose is one task per block (the
    transposed products are added in a tree), and the dense steps run on the
    client. Same Gaussian test matrix for the same seed, same steps: the
    result equals :func:`~cooc.svd.svd_embed`'s up to float rounding (sums are
    taken in another order). A worker lost during the SVD costs a rerun of the
    product under way, with the blocks it held sent again from the client;
    the result is bit for bit the same.
    """
    from sklearn.utils import check_random_state
    from sklearn.utils.extmath import svd_flip
    from sklearn.utils.validation import check_array

    from cooc.svd import (
        _DEFAULT_N_ITER,
        _check_n_components,
        _default_n_oversamples,
        _scale_by_power,
    )

    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(
            f"dtype={dtype!r} is not supported; use np.float32 or np.float64."
        )
    if power is None:  # svd_embed's default
        from cooc.svd import DEFAULT_POWER

        power = DEFAULT_POWER
    if not isinstance(power, (int, float)) or not power >= 0:
        raise ValueError(
            f"power={power!r} must be a number >= 0 (0.15 is the default)."
        )
    X = check_array(
        matrix, accept_sparse=["csr", "csc"], dtype=dtype, input_name="matrix"
    )
    X = sp.csr_matrix(X)
    _check_n_components(n_components, X.shape)
    if add_context and X.shape[0] != X.shape[1]:
        raise ValueError(
            "add_context=True needs a square word-by-word matrix, got shape "
            f"{X.shape}; "
            "use add_context=False."
        )
    n_iter = _DEFAULT_N_ITER if n_iter is None else n_iter
    if n_oversamples is None:
        n_oversamples = _default_n_oversamples(n_components)
    n_oversamples = max(0, min(n_oversamples, min(X.shape) - n_components))
    rs = check_random_state(random_state)
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        if n_blocks is None:
            workers = cl.scheduler_info(n_workers=-1)["workers"]
            n_blocks = 2 * max(1, sum(w["nthreads"] for w in workers.values()))
        U, S, Vt = _randomized_blocks(
            cl,
            X,
            n_components,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            random_state=rs,
            n_blocks=n_blocks,
        )
    U, Vt = svd_flip(
        np.array(U, dtype=dtype), np.array(Vt, dtype=dtype), u_based_decision=True
    )
    S = np.asarray(S, dtype=dtype)
    scale = _scale_by_power(S, power)
    vectors = U * scale
    if add_context:
        vectors += Vt.T * scale
    return vectors, S


def embed_cooccurrence_dask(
    cooc,
    n_components: int | None = None,
    *,
    weighting: str = "ppmi",
    context_alpha: float = 0.75,
    shift: float = 1.0,
    power: float | None = None,
    solver: str = "randomized",
    add_context: bool | None = None,
    normalize: bool = True,
    random_state=0,
    n_blocks=None,
    client=None,
    scheduler=None,
    n_workers=None,
    n_iter=None,
    n_oversamples=None,
    drop_empty=True,
):
    """:func:`cooc.pipeline.embed_cooccurrence` with the SVD on Dask
    (:func:`svd_embed_dask`); the weighting runs on the client."""
    from cooc.pipeline import DEFAULT_POWER, check_rank, weight_cooccurrence
    from cooc.vectors import Embeddings

    # the same defaults as cooc.pipeline.embed_cooccurrence (and cooc embed)
    if power is None:
        power = DEFAULT_POWER

    if solver != "randomized":
        raise ValueError(
            f"solver={solver!r}: the Dask engine runs the randomized solver only; "
            "use --solver randomized or --engine local."
        )
    n_components = check_rank(n_components, cooc)
    if add_context is None:
        add_context = cooc.shape[0] == cooc.shape[1]
    weighted = weight_cooccurrence(
        cooc, weighting=weighting, context_alpha=context_alpha, shift=shift
    )
    vectors, singular_values = svd_embed_dask(
        weighted,
        n_components,
        power=power,
        add_context=add_context,
        random_state=random_state,
        n_blocks=n_blocks,
        client=client,
        scheduler=scheduler,
        n_workers=n_workers,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
    )
    emb = Embeddings.from_factors(
        cooc.vocabulary.tokens, vectors, normalize=normalize, drop_empty=drop_empty
    )
    return emb, singular_values
