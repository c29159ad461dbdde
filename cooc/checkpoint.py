"""Resumable builds: count a corpus shard by shard, keeping finished shards on disk.

:func:`build_cooccurrence_resumable` cuts the corpus into shards
(:func:`cooc.shards.plan_shards`: whole files, or byte ranges of plain
text cut at line ends, about 64 MiB each by default) and gathers small
neighbours into groups (:func:`cooc.shards.group_shards`: ten thousand 1 KB
files make one group, not ten thousand), then

1. counts the words and documents of every group, writing each result to the
   checkpoint folder as soon as it is done;
2. selects the vocabulary from the summed word counts;
3. counts the co-occurrences of every group with that vocabulary and the
   global number of its first document, again one file per finished group;
4. adds the integer partial matrices and writes the ``.cooc`` file.

Every file is written to a temporary name and renamed when complete, so a
build killed at any point (Ctrl-C, SIGTERM, SIGKILL, out of memory) leaves only
whole shard files. Running the same build again with the same folder skips
the shards already there. Partial counts are exact integers and the random
choices of subsampling and dynamic windows hash the global document number,
so the resumed result is bit for bit the matrix of an uninterrupted build (and
of :func:`cooc.cooccurrence.build_cooccurrence`).

The folder records what it belongs to (``manifest.json``: the shard list with
file sizes and modification times, the counting and reading parameters): a
rerun with other files or settings is refused instead of mixing counts, and so
is a manifest that is not one. Each shard file's SHA-256 is appended to
``shards.sha256`` (the format ``sha256sum -c`` checks) once the file is in
place; a shard file is used again only when its SHA-256 is the recorded one and
its arrays are whole and consistent. Any other (edited, damaged, unrecorded,
unreadable) is counted again, with a note through ``progress.note`` (the
command line prints it) or else a :class:`CheckpointWarning`. A directory
where a shard file goes is refused. Token lists are stored as UTF-8 bytes with
offsets (:func:`cooc.container.pack_tokens`): any token, NUL characters
included, comes back as it was, in the bytes its UTF-8 takes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cooc.container import pack_tokens, unpack_tokens
from cooc.cooccurrence import (
    CoocMatrix,
    check_counter_params,
    file_defaults,
    params_record,
    vocabulary_selection,
)
from cooc.corpus import ReadingOptions, resolve_paths, source_names
from cooc.errors import InputError
from cooc.files import atomic_write
from cooc.parallel import n_threads
from cooc.phrasetable import as_phrase_table
from cooc.shards import (
    GROUP_BYTES,
    count_shard_pairs,
    count_shard_words,
    counter_params,
    finish_counts,
    group_shards,
    plan_shards,
    sum_pair_counts,
)
from cooc.vocab import check_vocabulary_params, merge_counts, vocabulary_from_counts

__all__ = ["CheckpointWarning", "build_cooccurrence_resumable"]

MANIFEST = "manifest.json"
#: The SHA-256 of every finished shard file, one ``sha256sum`` line each.
LEDGER = "shards.sha256"
_FORMAT = "cooc-checkpoint"
# 2: shard files recorded in LEDGER; tokens as UTF-8 bytes and offsets; groups.
_FORMAT_VERSION = 2
_LEDGER_LINE = re.compile(rb"([0-9a-f]{64})  ((?:vocab|counts)-[0-9]{5,}\.npz)")
_HASH_BLOCK = 1 << 20


class CheckpointWarning(UserWarning):
    """A shard file of a checkpoint folder could not be trusted and is counted
    again (given when ``progress`` has no ``note`` method to say so)."""


def _sha256_fd(fd: int) -> str:
    """SHA-256 of the whole file open as ``fd`` (read with ``pread``)."""
    digest = hashlib.sha256()
    pos = 0
    while block := os.pread(fd, _HASH_BLOCK, pos):
        digest.update(block)
        pos += len(block)
    return digest.hexdigest()


def _count(value, name) -> int:
    """A 0-d integer array >= 0 of a shard file, as int."""
    value = np.asarray(value)
    if value.ndim != 0 or value.dtype.kind not in "iu" or value < 0:
        raise InputError(f"{name} must be an integer >= 0, got {value!r}.")
    return int(value)


def _int64_vector(z, key, length=None) -> np.ndarray:
    value = z[key]
    if value.ndim != 1 or value.dtype != np.int64:
        raise InputError(f"{key!r} must be a 1-D int64 array, got {value.dtype}.")
    if length is not None and len(value) != length:
        raise InputError(f"{key!r} holds {len(value)} values, expected {length}.")
    return value


class _Folder:
    """A checkpoint folder: its manifest, the ledger of finished shard files,
    and shard files read only when they are the ones recorded."""

    def __init__(self, path: Path, note: Callable[[str], None]):
        self.path = path
        self.note = note
        self.ledger = path / LEDGER
        self.hashes: dict[str, str] = {}
        self._torn = False  # the ledger ends in a line cut short (SIGKILL)
        self._new = False  # the manifest was made by this run

    def _refuse_directory(self, path: Path, what: str) -> None:
        if path.is_dir():
            raise InputError(
                f"{path}: a directory where the checkpoint keeps its {what}; "
                "remove it, or use another checkpoint folder."
            )

    def open(self, record: dict) -> None:
        """Check that the folder belongs to this build, or make it this build's."""
        path = self.path / MANIFEST
        self._refuse_directory(path, "manifest file")
        self._refuse_directory(self.ledger, "list of finished shards")
        if not os.path.lexists(path):
            # A new build: the ledger of any earlier one goes first, so that
            # its shard files are never taken for this build's.
            with atomic_write(self.ledger, "w", encoding="ascii"):
                pass
            with atomic_write(path, "w", encoding="utf-8") as fh:
                json.dump(record, fh, indent=1)
            self._new = True
            return
        old = self._read_manifest(path)
        if old["key"] != record["key"]:
            raise InputError(
                f"checkpoint folder {str(self.path)!r} belongs to another build (other "
                "files, file contents or settings); use a new folder, or delete "
                "this one to start over."
            )
        self.hashes = self._read_ledger()

    def _read_manifest(self, path: Path) -> dict:
        start_over = "delete the folder or use another one"
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", exc)
            raise InputError(
                f"{path}: cannot read the checkpoint manifest ({reason}); {start_over}."
            ) from None
        except ValueError as exc:
            raise InputError(
                f"{path}: the checkpoint manifest is not valid JSON ({exc}); "
                f"{start_over}."
            ) from None
        version = old.get("version", 1) if isinstance(old, dict) else None
        if (
            not isinstance(old, dict)
            or old.get("format") != _FORMAT
            or not isinstance(old.get("key"), str)
            or not isinstance(version, int)
            or isinstance(version, bool)
        ):
            raise InputError(
                f"{path}: not a cooc checkpoint manifest (expected a JSON object "
                f"with format {_FORMAT!r}, a version and a key); {start_over}."
            )
        if version > _FORMAT_VERSION:
            raise InputError(
                f"{path}: written by a newer cooc (checkpoint format {version} > "
                f"{_FORMAT_VERSION}); upgrade cooc, or {start_over}."
            )
        if version < _FORMAT_VERSION:
            raise InputError(
                f"{path}: made by an earlier cooc (checkpoint format {version}; this "
                f"one keeps format {_FORMAT_VERSION}, with checksums); {start_over}."
            )
        return old

    def _read_ledger(self) -> dict[str, str]:
        """Shard file name -> SHA-256; lines that are not whole records (one
        cut short by a kill, or edited) are left out, so their shards count
        again."""
        if not os.path.lexists(self.ledger):
            return {}
        try:
            data = self.ledger.read_bytes()
        except OSError as exc:
            raise InputError(
                f"{self.ledger}: cannot read the checkpoint's list of finished "
                f"shards ({exc.strerror}); delete the folder or use another one."
            ) from None
        self._torn = bool(data) and not data.endswith(b"\n")
        hashes = {}
        for line in data.split(b"\n"):
            if (m := _LEDGER_LINE.fullmatch(line)) is not None:
                hashes[m[2].decode("ascii")] = m[1].decode("ascii")
        return hashes

    def check_names(self, names) -> None:
        """Refuse, before any work, a directory where a shard file goes."""
        for name in names:
            self._refuse_directory(self.path / name, "shard files")

    def load(self, name: str, parse: Callable[[dict], tuple], what: str):
        """``parse(arrays)`` of the shard file ``name`` when it is the file
        recorded in the ledger and ``parse`` accepts it; None otherwise (no
        file: nothing said; any other case: a note that it is counted again)."""
        path = self.path / name
        if self._new or not os.path.lexists(path):
            return None  # (files of an earlier build are replaced without a word)
        expected = self.hashes.get(name)
        if not path.is_file():
            problem = "is not a regular file"
        elif expected is None:
            problem = "is not recorded as finished (a build stopped while writing it?)"
        else:
            try:
                with open(path, "rb") as fh:
                    digest = _sha256_fd(fh.fileno())
                    fh.seek(0)
                    if digest != expected:
                        problem = (
                            f"does not match the SHA-256 recorded in {LEDGER} when it "
                            "was written (it changed since)"
                        )
                    else:
                        with np.load(fh, allow_pickle=False) as z:
                            return parse(z)
            except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as exc:
                problem = f"cannot be used ({exc})"
        self.note(f"checkpoint: {path} {problem}; counting {what} again.")
        return None

    def save(self, name: str, arrays: dict) -> None:
        """Write a shard file (atomically), then record its SHA-256."""
        with atomic_write(self.path / name, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            digest = _sha256_fd(fh.fileno())  # the bytes renamed into place
        line = f"{digest}  {name}\n"
        if self._torn:
            line, self._torn = "\n" + line, False
        with open(self.ledger, "a", encoding="ascii") as fh:
            fh.write(line)
        self.hashes[name] = digest


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


def _vocab_name(i: int) -> str:
    return f"vocab-{i:05d}.npz"


def _counts_name(i: int) -> str:
    return f"counts-{i:05d}.npz"


def _parse_vocab(z) -> tuple:
    """``(tokens, counts, n_docs, n_tokens)`` of a word-count shard file."""
    tokens = unpack_tokens(z["tokens"], z["token_offsets"], "'tokens'")
    counts = _int64_vector(z, "counts", len(tokens))
    n_docs, n_tokens = _count(z["n_docs"], "n_docs"), _count(z["n_tokens"], "n_tokens")
    if counts.size and (counts.min() < 1 or int(counts.sum()) != n_tokens):
        raise InputError("'counts' must be >= 1 and add up to n_tokens.")
    array = np.empty(len(tokens), dtype=object)
    array[:] = tokens
    return array, counts, n_docs, n_tokens


def _vocab_part(folder: _Folder, i: int, group, options: ReadingOptions) -> tuple:
    name = _vocab_name(i)
    done = folder.load(name, _parse_vocab, f"the words of shard {i}")
    if done is not None:
        return (*done, True)
    tokens, counts, n_docs, n_tokens = count_shard_words(group, options)
    utf8, offsets = pack_tokens(tokens)
    folder.save(
        name,
        {
            "tokens": utf8,
            "token_offsets": offsets,
            "counts": np.asarray(counts, dtype=np.int64),
            "n_docs": np.int64(n_docs),
            "n_tokens": np.int64(n_tokens),
        },
    )
    return tokens, counts, n_docs, n_tokens, False


def _counts_parser(size: int) -> Callable:
    """The parser of a pair-count shard file for a vocabulary of ``size``."""

    def parse(z) -> tuple:
        shape = _int64_vector(z, "shape", 2)
        if tuple(shape) != (size, size):
            raise InputError(f"shape {tuple(shape)} is not ({size}, {size}).")
        indptr = _int64_vector(z, "indptr", size + 1)
        data = _int64_vector(z, "data")
        indices = _int64_vector(z, "indices", len(data))
        counts = sp.csr_matrix((data, indices, indptr), shape=(size, size))
        counts.check_format(full_check=True)
        if data.size and data.min() < 0:
            raise InputError("negative pair counts.")
        scale = np.asarray(z["scale"])
        if scale.ndim != 0 or scale.dtype.kind != "f" or not (0 < scale < np.inf):
            raise InputError(f"scale must be a positive float, got {scale!r}.")
        stats = json.loads(bytes(z["stats"]).decode("utf-8"))
        if not isinstance(stats, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in stats.values()
        ):
            raise InputError("stats must be a JSON object of integers.")
        return counts, float(scale), stats

    return parse


def _count_part(folder: _Folder, i, group, options, vocabulary, params, first_doc):
    name = _counts_name(i)
    parse = _counts_parser(len(vocabulary))
    done = folder.load(name, parse, f"the pairs of shard {i}")
    if done is not None:
        return (*done, True)
    counts, scale, stats = count_shard_pairs(
        group, options, vocabulary, params, int(first_doc)
    )
    counts = counts.tocsr()
    folder.save(
        name,
        {
            "data": np.asarray(counts.data, dtype=np.int64),
            "indices": np.asarray(counts.indices, dtype=np.int64),
            "indptr": np.asarray(counts.indptr, dtype=np.int64),
            "shape": np.asarray(counts.shape, dtype=np.int64),
            "scale": np.float64(scale),
            "stats": np.frombuffer(
                json.dumps(_jsonable(stats)).encode("utf-8"), np.uint8
            ),
        },
    )
    return counts, scale, stats, False


def _plan(paths, n_shards, documents) -> list[tuple]:
    """The groups of shards of a resumable build (see the module notes)."""
    files = [str(f) for f in resolve_paths(paths)]
    if n_shards is None:
        total = sum(os.path.getsize(f) for f in files)
        n_shards = max(math.ceil(total / GROUP_BYTES), 8 if len(files) == 1 else 1)
    shards = plan_shards(files, n_shards, documents=documents)
    return group_shards(shards, n_shards)


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
    phrases=None,
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
        About how many shards. None means shards of about 64 MiB: small
        files gathered into one shard up to that size, large plain-text
        files cut at line ends, and at least 8 for a single plain-text file
        (see :func:`cooc.shards.plan_shards` and
        :func:`cooc.shards.group_shards`).
    vocabulary, min_count, max_size, tokenizer, lowercase, column, \
encoding_errors, chunk_size, documents, phrases
        As for :func:`cooc.cooccurrence.build_cooccurrence` (with
        ``documents="file"`` every shard is whole files; with
        ``"paragraph"`` files are cut after blank lines).
    progress : callable, default=None
        ``progress(stage, n_tokens)`` after each shard (also for shards
        found in the folder). When it has a ``note(text)`` method (the
        command line's has), a shard file found in the folder but not
        trusted is reported there; otherwise by a :class:`CheckpointWarning`.
    on_shard : callable, default=None
        ``on_shard(stage, index, resumed)`` after each shard; ``resumed`` is
        True when the shard was read from the folder.

    Raises
    ------
    ValueError
        If the folder belongs to another build, its manifest is not one
        (not a JSON object of this format, or of an earlier or newer
        checkpoint format), or a directory stands where a shard file goes.
        A shard file that is not the one recorded is counted again instead.
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
        phrases=as_phrase_table(phrases),
    )
    options.check_paths(paths)
    groups = _plan(paths, n_shards, documents)
    path = Path(checkpoint)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"cannot create checkpoint folder {str(path)!r}: {err.strerror}."
        ) from None
    note = getattr(progress, "note", None)
    if not callable(note):

        def note(text):
            warnings.warn(text, CheckpointWarning, stacklevel=4)

    folder = _Folder(path, note)
    params = dict(params)
    n_jobs = params.pop("n_jobs", None)
    params["n_jobs"] = n_threads(n_jobs)  # resolved here: tasks run in this process
    counted_params = {k: v for k, v in params.items() if k not in ("n_jobs", "memory")}
    identity = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "shards": [[_shard_record(s) for s in group] for group in groups],
        # (without the default documents="line")
        "read": {
            k: v
            for k, v in options.keywords().items()
            if k != "documents" or v != "line"
        },
        # (the phrase table by its hash: another table is another build)
        **({} if phrases is None else {"phrases": options.phrases.record()}),
        "params": _jsonable(counted_params),
        "min_count": min_count,
        "max_size": max_size,
        "vocabulary": None
        if vocabulary is None
        else hashlib.sha256(
            b"".join(a.tobytes() for a in pack_tokens(map(str, vocabulary.tokens)))
        ).hexdigest(),
    }
    key = hashlib.sha256(
        json.dumps(_jsonable(identity), sort_keys=True).encode("utf-8")
    ).hexdigest()
    folder.open(
        {"format": _FORMAT, "version": _FORMAT_VERSION, "key": key, "build": identity}
    )
    random = bool(params.get("subsample")) or bool(params.get("dynamic_window"))
    needs_words = vocabulary is None or random
    folder.check_names(
        [_counts_name(i) for i in range(len(groups))]
        + ([_vocab_name(i) for i in range(len(groups))] if needs_words else [])
    )

    n_docs = [0] * len(groups)
    if needs_words:
        token_parts, count_parts = [], []
        for i, group in enumerate(groups):
            tokens, counts, docs, n_tok, resumed = _vocab_part(
                folder, i, group, options
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

    def parts():
        for i, group in enumerate(groups):
            first_doc = first_docs[i] if random else 0
            counts, scale, stats, resumed = _count_part(
                folder, i, group, options, vocabulary, params, first_doc
            )
            yield counts, scale, stats
            if progress is not None:
                progress("counting", int(stats.get("n_tokens", 0)))
            if on_shard is not None:
                on_shard("counting", i, resumed)

    total, scale, stats = sum_pair_counts(parts())
    matrix = finish_counts(total.astype(np.int64), scale)
    del total
    stats = {k: int(v) for k, v in stats.items()}
    stats["vocabulary_size"] = len(vocabulary)
    stats["sources"] = source_names(paths)
    return CoocMatrix(matrix, vocabulary, record, stats)
