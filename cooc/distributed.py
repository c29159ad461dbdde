"""Counting and SVD beyond one process: shards on Dask, and out of core on disk.

The shard engine (:mod:`cooc.shards`) cuts the corpus into shards, counts each
shard with the same :class:`~cooc.cooccurrence.WindowCounter` (told the global
number of its first document), and adds the integer partial counts. Integer
sums do not depend on their order, so every back end gives exactly the matrix
of :func:`cooc.cooccurrence.build_cooccurrence`, bit for bit. This module runs
the shards on Dask.

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
See :mod:`cooc.shards` for how a corpus is cut (:func:`plan_shards`) and
what a shard's parts are; :class:`Shard`, :func:`plan_shards`,
:func:`iter_shard_chunks` and :func:`count_shard_documents` stay importable
from here.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import CancelledError

import numpy as np
import scipy.sparse as sp

from cooc import parallel
from cooc.cooccurrence import (
    CoocMatrix,
    check_counter_params,
    file_defaults,
    params_record,
    vocabulary_selection,
)
from cooc.corpus import ReadingOptions, source_names
from cooc.errors import InputError, MissingDependencyError

# out of core moved to cooc.outofcore; the names stay importable here
from cooc.outofcore import OutOfCoreResult, build_cooccurrence_out_of_core
from cooc.parallel import n_threads
from cooc.phrasetable import as_phrase_table
from cooc.shards import (
    Shard,
    add_pair_counts,
    add_word_counts,
    count_shard_documents,
    count_shard_pairs,
    count_shard_words,
    counter_params,
    finish_counts,
    iter_shard_chunks,
    plan_shards,
)
from cooc.vectors import Embeddings
from cooc.vocab import check_vocabulary_params, vocabulary_from_counts

__all__ = [
    "OutOfCoreResult",
    "Shard",
    "build_cooccurrence_dask",
    "build_cooccurrence_out_of_core",
    "build_vocabulary_dask",
    "count_shard_documents",
    "dask_client",
    "embed_cooccurrence_dask",
    "iter_shard_chunks",
    "plan_shards",
    "svd_embed_dask",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'the Dask engine needs dask.distributed: pip install "cooc[dask]"'
# Reruns of a task that raised (I/O hiccups); a lost worker is handled by the
# scheduler itself (its tasks are rescheduled, see "allowed-failures").
_RETRIES = 1


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(_INSTALL_HINT) from None
    return distributed


# -- tasks (run on the workers; module-level so they pickle by reference) -------------
# The shard work itself is cooc.shards' (count_shard_words, count_shard_documents,
# count_shard_pairs, and the sums add_word_counts, add_pair_counts).
def _vocab_stats(part) -> tuple[int, int]:
    return part[2], part[3]


def _identity(value):
    return value


def _task_threads(n_jobs, per_host: dict) -> int:
    """Numba threads for one task: ``n_jobs``, else the cores of this host shared
    by all worker threads on it."""
    if n_jobs is not None:
        return n_jobs
    from distributed import get_worker
    from distributed.comm import get_address_host

    worker = get_worker()
    threads = per_host.get(get_address_host(worker.address), worker.state.nthreads)
    return max(1, n_threads(None) // max(1, threads))


def _count_task(
    shard: Shard,
    options: ReadingOptions,
    vocabulary,
    params: dict,
    first_doc: int,
    per_host: dict,
):
    """:func:`~cooc.shards.count_shard_pairs` on this worker's share of its host."""
    params = dict(params)
    params["n_jobs"] = _task_threads(params.get("n_jobs"), per_host)
    return count_shard_pairs(shard, options, vocabulary, params, first_doc)


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
    return n_threads(None)


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
        When the scheduler cannot be reached (an address of an unknown
        scheme, or no scheduler answering within the connect timeout:
        ``distributed.comm.timeouts.connect`` of the Dask configuration, at
        most 10 s).
    """
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is not None:
        timeout = _connect_timeout()
        try:
            # A Client that fails to connect hangs for a minute when it is
            # collected (its close waits for the scheduler): try the address
            # with a plain connection first, and make a Client only after it.
            _probe_scheduler(scheduler, timeout)
            client = distributed.Client(
                scheduler, set_as_default=False, timeout=timeout
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one "
                "with `dask scheduler` or leave out --scheduler for a local cluster."
            ) from None
        with client:
            yield client
        return
    if n_workers is not None and n_workers < 1:
        raise InputError(f"n_workers={n_workers!r} must be >= 1 (--workers).")
    cluster = distributed.LocalCluster(
        n_workers=n_workers or _cores(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=_dashboard_address(),
        silence_logs=logging.ERROR if quiet else logging.WARNING,
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


#: The longest wait for a scheduler to answer (Dask's own default is 30 s).
_CONNECT_TIMEOUT = 10.0


def _connect_timeout() -> float:
    """Seconds to wait for a scheduler: Dask's connect timeout, at most 10 s."""
    import dask
    from dask.utils import parse_timedelta

    configured = dask.config.get("distributed.comm.timeouts.connect", None)
    seconds = parse_timedelta(configured, "s") if configured else _CONNECT_TIMEOUT
    return float(min(seconds, _CONNECT_TIMEOUT))


def _probe_scheduler(address: str, timeout: float) -> None:
    """Open and close one connection to the scheduler at ``address``.

    Raises ValueError for an address of an unknown scheme and OSError or
    TimeoutError when nothing answers within ``timeout`` seconds (or what
    answers is no Dask server). Runs on a thread of its own, so that it works
    where an event loop already runs (a notebook).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect, parse_address
    from distributed.comm.registry import get_backend
    from distributed.security import Security

    get_backend(parse_address(address)[0])  # ValueError: unknown scheme
    extra = Security().get_connection_args("client")

    async def probe():
        comm = await connect(address, timeout=timeout, **extra)
        await comm.close()

    async def bounded():
        # connect's timeout does not bound the handshake, which another
        # server (not Dask's) may never answer, or answer with garbage.
        try:
            await asyncio.wait_for(probe(), timeout + 1)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            if str(exc):
                raise
            raise TimeoutError(f"no answer within {timeout:g} s") from None
        except OSError:
            raise
        except (Exception, MemoryError) as exc:
            raise OSError(
                f"what answers there is not a Dask scheduler ({type(exc).__name__})"
            ) from None

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, bounded()).result()


def _dashboard_address():
    """``":0"`` (any free port) when the dashboard can run (needs bokeh), else None."""
    try:
        import bokeh
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
def _vocabulary_pass(client, shards, options: ReadingOptions, progress):
    """Vocabulary counts of every shard, merged in a tree; and per-shard stats."""
    parts = [
        client.submit(
            count_shard_words,
            s,
            options,
            retries=_RETRIES,
            key=f"cooc-vocab-{i}-{_tok(s, options)}",
        )
        for i, s in enumerate(shards)
    ]
    stats = [client.submit(_vocab_stats, p, key=f"cooc-vstats-{p.key}") for p in parts]
    total = _tree_reduce(client, parts, add_word_counts, "cooc-vocab-merge")
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
    options = ReadingOptions(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
    )
    check_vocabulary_params(min_count, max_size)
    options.check_paths(paths)
    shards = plan_shards(paths, n_shards, documents=documents)
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        tokens, counts, _ = _vocabulary_pass(cl, shards, options, progress)
    return vocabulary_from_counts(
        tokens, counts, min_count=min_count, max_size=max_size
    )


# -- counting -------------------------------------------------------------------------
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
    phrases=None,
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
    phrases : path, DataFrame or PhraseTable, default=None
        As for :func:`build_cooccurrence`: joined in every shard's chunks.
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
    selection = vocabulary_selection(vocabulary, min_count, max_size)
    params = file_defaults(dict(params))
    options = ReadingOptions(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
        phrases=as_phrase_table(phrases),
    )
    options.check_paths(paths)
    if vocabulary is not None:
        record = counter_params(vocabulary, params)
    else:
        check_vocabulary_params(min_count, max_size)
        check_counter_params(params)
    shards = plan_shards(paths, n_shards, documents=documents)
    random = bool(params.get("subsample")) or bool(params.get("dynamic_window"))
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        n_docs = None
        if vocabulary is None:
            tokens, counts, n_docs = _vocabulary_pass(cl, shards, options, progress)
            vocabulary = vocabulary_from_counts(
                tokens, counts, min_count=min_count, max_size=max_size
            )
            del tokens, counts
            record = counter_params(vocabulary, params)
        elif random:
            futures = [
                cl.submit(
                    count_shard_documents,
                    s,
                    options,
                    retries=_RETRIES,
                    key=f"cooc-docs-{i}-{_tok(s, options)}",
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
        task_params = dict(params)
        parts = [
            cl.submit(
                _count_task,
                s,
                options,
                voc,
                task_params,
                int(first),
                per_host,
                retries=_RETRIES,
                key=f"cooc-count-{i}-{_tok(s, options, voc.key, task_params, first)}",
            )
            for i, (s, first) in enumerate(zip(shards, first_docs, strict=True))
        ]
        stats = [cl.submit(_count_stats, p, key=f"cooc-cstats-{p.key}") for p in parts]
        total = _tree_reduce(cl, parts, add_pair_counts, "cooc-count-merge")
        del parts
        _report(cl, stats, "counting", lambda s: s["n_tokens"], progress)
        counts, scale, stats = total.result()
        del total
    matrix = finish_counts(counts, scale)
    del counts
    stats = {k: int(v) for k, v in stats.items()}
    stats["vocabulary_size"] = len(vocabulary)
    stats["sources"] = source_names(paths)
    return CoocMatrix(
        matrix, vocabulary, params_record(record, options, selection), stats
    )


# -- SVD ------------------------------------------------------------------------------
# The Dask SVD supplies only its operator (_BlockOperator: the products of row
# blocks held by the workers); the checks, the solver and the vectors are
# cooc.svd's embed_operator, which svd_embed calls too. cooc.svd is imported
# inside the functions: it imports scikit-learn, which made importing this
# module 0.7 s slower (0.3 s without), for the Dask counting that never needs it.


def _block_task(block):
    """A row block and its transpose, both CSR (the two products need both)."""
    return block, block.T.tocsr()


def _block_threads() -> int:
    """Threads for one product task: the worker's share of its host's cores."""
    from distributed import get_worker  # optional dependency

    worker = get_worker()
    return max(1, parallel.n_threads(None) // max(1, worker.state.nthreads))


def _mul_task(block, right):
    """``X_i @ right`` for the row block ``X_i``: shape (block rows, k)."""
    from cooc.svd import spmm  # scikit-learn's start-up cost (see above)

    return spmm(block[0], right, n_jobs=_block_threads())


def _tmul_task(block, rows):
    """``X_i.T @ rows`` (``rows`` is the block's part of a tall matrix): (n_cols, k)."""
    from cooc.svd import spmm  # scikit-learn's start-up cost (see above)

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
    from distributed.comm import CommClosedError  # optional dependency

    return CancelledError, CommClosedError


class _BlockOperator:
    """``X @ B`` and ``X.T @ B`` for a CSR ``X`` kept by the workers in row blocks.

    The :class:`cooc.svd.MatrixOperator` of the Dask SVD (``shape``,
    ``dtype``, ``times``, ``t_times``; no ``sketch``, so the solver multiplies
    by its test matrix as a dense block). Each product is one task per block:
    ``X_i @ B`` (stacked on the client), or ``X_i.T @ B_i`` for the block's
    rows of ``B``, added up by a tree of tasks.
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
        self.client = client
        self.X = X
        self.shape, self.dtype = X.shape, X.dtype
        self.cuts = parallel.row_cuts(X, n_blocks)
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
    client. The blocks are only the operator (``_BlockOperator``): the checks,
    the solver, the signs and the eigenvalue power are those of
    :func:`cooc.svd.embed_operator`, which :func:`~cooc.svd.svd_embed` runs
    too. Same sparse sign test matrix for the same seed (multiplied here as a
    dense block), same steps: the result equals :func:`~cooc.svd.svd_embed`'s
    up to float rounding (sums are taken in another order). ``power`` None
    means :data:`cooc.svd.DEFAULT_POWER`. A worker lost during the SVD costs
    a rerun of the product under way, with the blocks it held sent again from
    the client; the result is bit for bit the same.
    """
    from cooc.svd import (  # scikit-learn's start-up cost (see "SVD" above)
        DEFAULT_POWER,
        check_embedding_params,
        check_embedding_shape,
        check_matrix,
        embed_operator,
    )

    power = DEFAULT_POWER if power is None else power
    check_embedding_params(power=power, n_iter=n_iter, n_oversamples=n_oversamples)
    X = sp.csr_matrix(check_matrix(matrix, dtype))
    # before a cluster is started and the blocks are sent (embed_operator
    # checks again, cheaply)
    check_embedding_shape(n_components, X.shape, add_context=add_context)
    with dask_client(client or scheduler, n_workers=n_workers) as cl:
        if n_blocks is None:
            workers = cl.scheduler_info(n_workers=-1)["workers"]
            n_blocks = 2 * max(1, sum(w["nthreads"] for w in workers.values()))
        return embed_operator(
            _BlockOperator(cl, X, n_blocks),
            n_components,
            power=power,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            add_context=add_context,
            random_state=random_state,
        )


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
    (:func:`svd_embed_dask`); the weighting runs on the client. The defaults
    are those of :func:`cooc.pipeline.embed_cooccurrence` (and ``cooc embed``);
    ``power`` None means :data:`cooc.svd.DEFAULT_POWER`."""
    # scikit-learn's start-up cost (see "SVD")
    from cooc.svd import check_rank
    from cooc.weighting import weight_cooccurrence

    if solver != "randomized":
        raise InputError(
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
