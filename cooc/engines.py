"""Which engine counts a corpus into a ``.cooc`` file: what ``cooc build`` runs.

Three engines give the same file for the same corpus and settings:

* ``"local"``: counts in memory while the sorted runs fit in ``memory``, then
  spills them to ``spill_dir`` and finishes out of core
  (:func:`cooc.outofcore.build_cooccurrence_file`);
* ``"local"`` with ``checkpoint``: shard by shard on this machine, each
  finished shard kept in the checkpoint folder so that a killed build resumes
  (:func:`cooc.checkpoint.build_cooccurrence_resumable`);
* ``"dask"``: shards counted by Dask tasks on ``client``'s cluster
  (:func:`cooc.distributed.build_cooccurrence_dask`; needs ``cooc[dask]``).
"""

from __future__ import annotations

from collections.abc import Callable

from cooc.checkpoint import build_cooccurrence_resumable
from cooc.cooccurrence import DEFAULT_MEMORY
from cooc.distributed import build_cooccurrence_dask  # (Dask itself: inside it)
from cooc.errors import InputError
from cooc.matrix import CoocMatrix
from cooc.outofcore import build_cooccurrence_file

__all__ = ["ENGINES", "write_cooccurrence"]

#: The values of ``engine``.
ENGINES = ("local", "dask")


def _reads_stdin(corpus) -> bool:
    items = [corpus] if isinstance(corpus, str) else list(corpus)
    return any(isinstance(p, str) and p == "-" for p in items)


def write_cooccurrence(
    corpus,
    output,
    *,
    engine: str = "local",
    client=None,
    checkpoint=None,
    n_shards: int | None = None,
    spill_dir=None,
    memory: int | None = None,
    on_shard: Callable[[str, int, bool], None] | None = None,
    **params,
):
    """Count ``corpus`` with the chosen engine and write the ``.cooc`` file ``output``.

    Parameters
    ----------
    corpus : str, path-like or iterable of them
        As for :func:`cooc.cooccurrence.build_cooccurrence` (``"-"`` is
        standard input; the Dask engine and ``checkpoint`` read the corpus
        twice, so with them standard input needs ``vocabulary``).
    output : path
        The ``.cooc`` file, written atomically.
    engine : {"local", "dask"}
    client : distributed.Client, optional
        The cluster of the Dask engine (required with ``engine="dask"``).
    checkpoint : path, optional
        Folder that keeps finished shards (local engine, no ``spill_dir``).
    n_shards : int, optional
        About how many shards (Dask engine and ``checkpoint``).
    spill_dir : path, optional
        Where the local engine spills sorted runs beyond ``memory``.
    memory : int, optional
        Bytes the counting may hold (local engine: beyond it, out of core);
        None means :data:`cooc.cooccurrence.DEFAULT_MEMORY` (2 GiB).
    on_shard : callable, optional
        ``on_shard(stage, i, resumed)`` after each checkpoint shard.
    **params
        Vocabulary, reading and window settings of
        :func:`cooc.cooccurrence.build_cooccurrence` (``vocabulary``,
        ``min_count``, ``tokenizer``, ``window_size``, ``progress``, ...).

    Returns
    -------
    CoocMatrix or cooc.outofcore.OutOfCoreResult
        What was written: its ``shape``, ``nnz`` and ``stats``.
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {list(ENGINES)}, got {engine!r}.")
    if engine == "dask" and client is None:
        raise InputError(
            "engine='dask' needs a client (see cooc.distributed.dask_client)."
        )
    if engine == "local" and client is not None:
        raise InputError("client is for engine='dask'; the local engine runs here.")
    if checkpoint is not None and (engine != "local" or spill_dir is not None):
        raise InputError(
            "checkpoint (--checkpoint) works with the local engine and without "
            "spill_dir (--spill-dir)."
        )
    if engine == "dask" and spill_dir is not None:
        raise InputError(
            "spill_dir (--spill-dir) is for the local engine; Dask spills by itself."
        )
    if _reads_stdin(corpus):
        if checkpoint is not None:
            raise InputError("a checkpoint cannot resume standard input ('-').")
        if engine == "dask" and params.get("vocabulary") is None:
            raise InputError(
                "reading standard input with the Dask engine needs a vocabulary "
                "(--vocab): it reads the corpus twice."
            )
    corpus = [corpus] if isinstance(corpus, str) else list(corpus)
    memory = DEFAULT_MEMORY if memory is None else memory
    if checkpoint is not None:
        cooc = build_cooccurrence_resumable(
            corpus, checkpoint, n_shards=n_shards, on_shard=on_shard,
            memory=memory, **params,
        )  # fmt: skip
    elif engine == "dask":
        cooc = build_cooccurrence_dask(
            corpus, client=client, n_shards=n_shards, memory=memory, **params
        )
    else:
        cooc = build_cooccurrence_file(
            corpus, output, spill_dir=spill_dir, memory=memory, **params
        )
    if isinstance(cooc, CoocMatrix):  # (out of core, the file is written already)
        progress = params.get("progress")
        if progress is not None:
            progress("writing", 0)  # a stage of its own in the progress report
        cooc.save(output)
    return cooc
