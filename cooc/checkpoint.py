"""Resumable builds: count a corpus shard by shard, keeping finished shards on disk.

:func:`build_cooccurrence_resumable` cuts the corpus into shards
(:func:`cooc.shards.plan_shards`: whole files, or byte ranges of plain
text cut at line ends), then

1. counts the words and documents of every shard, writing each result to the
   checkpoint folder as soon as it is done;
2. selects the vocabulary from the summed word counts;
3. counts the co-occurrences of every shard with that vocabulary and the
   global number of its first document, again one file per finished shard;
4. adds the integer partial matrices and writes the ``.cooc`` file.

Every file is written to a temporary name and renamed when complete, so a
build killed at any point (Ctrl-C, SIGTERM, SIGKILL, out of memory) leaves only
whole shard files. Running the same build again with the same folder skips
the shards already there. Partial counts are exact integers and the random
choices of subsampling and dynamic windows hash the global document number,
so the resumed result is bit for bit the matrix of an uninterrupted build (and
of :func:`cooc.cooccurrence.build_cooccurrence`).

The folder records what it belongs to (the shard list with file sizes and
modification times, the counting and reading parameters): a rerun with other
files or settings is refused instead of mixing counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cooc.cooccurrence import (
    CoocMatrix,
    check_counter_params,
    file_defaults,
    params_record,
    vocabulary_selection,
)
from cooc.corpus import ReadingOptions, source_names
from cooc.errors import InputError
from cooc.files import atomic_write
from cooc.parallel import n_threads
from cooc.shards import (
    count_shard_pairs,
    count_shard_words,
    counter_params,
    finish_counts,
    plan_shards,
)
from cooc.vocab import check_vocabulary_params, merge_counts, vocabulary_from_counts

__all__ = ["build_cooccurrence_resumable"]

MANIFEST = "manifest.json"
_FORMAT = "cooc-checkpoint"
_FORMAT_VERSION = 1


def _shard_record(shard) -> dict:
    stat = os.stat(shard.path)
    return {
        "path": str(Path(shard.path).resolve()),
        "start": shard.start,
        "end": shard.end,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _open_manifest(folder: Path, record: dict) -> None:
    """Create the manifest, or check that the folder belongs to this build."""
    path = folder / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError(
                f"checkpoint folder {str(folder)!r} has an unreadable {MANIFEST}; "
                "delete the folder or use another one."
            ) from None
        if old.get("format") != _FORMAT or old.get("key") != record["key"]:
            raise InputError(
                f"checkpoint folder {str(folder)!r} belongs to another build (other "
                "files, file contents or settings); use a new folder, or delete "
                "this one to start over."
            )
        return
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)


def _save_npz(path: Path, **arrays) -> None:
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)


def _load_npz(path: Path):
    """The arrays of a finished shard file, or None when it is absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a file that cannot be read is counted again
        return None


def _vocab_part(folder: Path, i: int, shard, options: ReadingOptions) -> tuple:
    path = folder / f"vocab-{i:05d}.npz"
    done = _load_npz(path)
    if done is not None:
        tokens = done["tokens"].astype(object)
        return tokens, done["counts"], int(done["n_docs"]), int(done["n_tokens"]), True
    tokens, counts, n_docs, n_tokens = count_shard_words(shard, options)
    _save_npz(
        path,
        tokens=np.asarray(tokens, dtype=str),
        counts=np.asarray(counts, dtype=np.int64),
        n_docs=np.int64(n_docs),
        n_tokens=np.int64(n_tokens),
    )
    return tokens, counts, n_docs, n_tokens, False


def _count_part(folder, i, shard, options, vocabulary, params, first_doc):
    path = folder / f"counts-{i:05d}.npz"
    done = _load_npz(path)
    if done is not None:
        counts = sp.csr_matrix(
            (done["data"], done["indices"], done["indptr"]), shape=tuple(done["shape"])
        )
        stats = json.loads(bytes(done["stats"]).decode("utf-8"))
        return counts, float(done["scale"]), stats, True
    counts, scale, stats = count_shard_pairs(
        shard, options, vocabulary, params, int(first_doc)
    )
    counts = counts.tocsr()
    _save_npz(
        path,
        data=np.asarray(counts.data, dtype=np.int64),
        indices=np.asarray(counts.indices, dtype=np.int64),
        indptr=np.asarray(counts.indptr, dtype=np.int64),
        shape=np.asarray(counts.shape, dtype=np.int64),
        scale=np.float64(scale),
        stats=np.frombuffer(json.dumps(_jsonable(stats)).encode("utf-8"), np.uint8),
    )
    return counts, scale, stats, False


def build_cooccurrence_resumable(
    paths,
    checkpoint,
    *,
    n_shards: int | None = None,
    vocabulary=None,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    chunk_size: int = 1 << 24,
    progress: Callable[[str, int], None] | None = None,
    on_shard: Callable[[str, int, bool], None] | None = None,
    documents: str = "line",
    **params,
):
    """Count window co-occurrences shard by shard, resuming from ``checkpoint``.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        The corpus, as for :func:`cooc.cooccurrence.build_cooccurrence`
        (not standard input: it cannot be read twice).
    checkpoint : path
        Folder for the finished shards (created if needed). Rerunning the
        same build with it skips what is there; other files or settings are
        refused with a ``ValueError``.
    n_shards : int, default=None
        About how many shards; None means one per file, and at least 8 for
        a single plain-text file (see :func:`cooc.shards.plan_shards`).
    vocabulary, min_count, max_size, tokenizer, lowercase, column, \
encoding_errors, chunk_size, documents
        As for :func:`cooc.cooccurrence.build_cooccurrence` (with
        ``documents="file"`` every shard is a whole file; with
        ``"paragraph"`` files are cut after blank lines).
    progress : callable, default=None
        ``progress(stage, n_tokens)`` after each shard (also for shards
        found in the folder).
    on_shard : callable, default=None
        ``on_shard(stage, index, resumed)`` after each shard; ``resumed`` is
        True when the shard was read from the folder.
    **params
        Counting parameters of :class:`~cooc.cooccurrence.WindowCounter`.

    Returns
    -------
    CoocMatrix
        Exactly the matrix :func:`~cooc.cooccurrence.build_cooccurrence`
        gives for the same corpus and parameters.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cooc.checkpoint import build_cooccurrence_resumable
    >>> from cooc.cooccurrence import build_cooccurrence
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = (tmp / "c.txt").write_text("a b a\\nb c\\nc a b\\n" * 50)
    >>> m = build_cooccurrence_resumable([tmp / "c.txt"], tmp / "ck", n_shards=4,
    ...                                   window_size=2)
    >>> sorted(p.name for p in (tmp / "ck").iterdir())[:3]
    ['counts-00000.npz', 'counts-00001.npz', 'counts-00002.npz']
    >>> (m.matrix != build_cooccurrence([tmp / "c.txt"], window_size=2).matrix).nnz
    0
    """
    if paths == "-" or (isinstance(paths, (list, tuple)) and "-" in paths):
        raise InputError(
            "a resumable build cannot read standard input ('-'); save it to a file."
        )
    check_counter_params(params)
    params = file_defaults(dict(params))
    selection = vocabulary_selection(vocabulary, min_count, max_size)
    if vocabulary is None:
        check_vocabulary_params(min_count, max_size)
    options = ReadingOptions(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
    )
    options.check_paths(paths)
    files = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if n_shards is None and len(files) == 1:
        n_shards = 8
    shards = plan_shards(paths, n_shards, documents=documents)
    folder = Path(checkpoint)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"cannot create checkpoint folder {str(folder)!r}: {err.strerror}."
        ) from None
    params = dict(params)
    n_jobs = params.pop("n_jobs", None)
    params["n_jobs"] = n_threads(n_jobs)  # resolved here: tasks run in this process
    counted_params = {k: v for k, v in params.items() if k not in ("n_jobs", "memory")}
    identity = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "shards": [_shard_record(s) for s in shards],
        # (without the default documents="line": folders made before the
        # option existed still resume)
        "read": {
            k: v
            for k, v in options.keywords().items()
            if k != "documents" or v != "line"
        },
        "params": _jsonable(counted_params),
        "min_count": min_count,
        "max_size": max_size,
        "vocabulary": None
        if vocabulary is None
        else hashlib.sha256(
            "\n".join(map(str, vocabulary.tokens)).encode("utf-8")
        ).hexdigest(),
    }
    key = hashlib.sha256(
        json.dumps(_jsonable(identity), sort_keys=True).encode("utf-8")
    ).hexdigest()
    _open_manifest(folder, {"format": _FORMAT, "key": key, "build": identity})

    random = bool(params.get("subsample")) or bool(params.get("dynamic_window"))
    n_docs = [0] * len(shards)
    if vocabulary is None or random:
        token_parts, count_parts = [], []
        for i, shard in enumerate(shards):
            tokens, counts, docs, n_tok, resumed = _vocab_part(
                folder, i, shard, options
            )
            n_docs[i] = docs
            if vocabulary is None:
                token_parts.append(tokens)
                count_parts.append(counts)
            if progress is not None:
                progress("vocabulary", n_tok)
            if on_shard is not None:
                on_shard("vocabulary", i, resumed)
        if vocabulary is None:
            tokens, counts = merge_counts(token_parts, count_parts)
            del token_parts, count_parts
            vocabulary = vocabulary_from_counts(
                tokens, counts, min_count=min_count, max_size=max_size
            )
    record = params_record(counter_params(vocabulary, params), options, selection)
    first_docs = np.concatenate([[0], np.cumsum(n_docs)[:-1]]).astype(np.int64)

    total, scale, stats = None, None, None
    for i, shard in enumerate(shards):
        first_doc = first_docs[i] if random else 0
        counts, part_scale, part_stats, resumed = _count_part(
            folder, i, shard, options, vocabulary, params, first_doc
        )
        if total is None:
            total, scale, stats = counts, part_scale, dict(part_stats)
        else:
            total = total + counts
            stats = {k: stats[k] + part_stats[k] for k in stats}
        if progress is not None:
            progress("counting", int(part_stats.get("n_tokens", 0)))
        if on_shard is not None:
            on_shard("counting", i, resumed)
    matrix = finish_counts(total.astype(np.int64), scale)
    del total
    stats = {k: int(v) for k, v in stats.items()}
    stats["vocabulary_size"] = len(vocabulary)
    stats["sources"] = source_names(paths)
    return CoocMatrix(matrix, vocabulary, record, stats)
