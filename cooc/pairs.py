"""Pairs tables back into co-occurrence matrices: the inverse of ``cooc export``.

:func:`import_pairs` reads a table of ``word1, word2, value`` rows (TSV, CSV,
either optionally ``.gz``/``.bz2``/``.xz`` compressed, or Parquet; the format
follows the name, as for :func:`cooc.io.export_pairs`) and returns a
:class:`~cooc.cooccurrence.CoocMatrix`, so that counts made by other tools can
be weighted and embedded like cooc's own. The table is read in blocks of rows
and the words are coded per block (pandas' hash tables), without a Python
loop per row.

The vocabulary (the rows) is the ``word1`` values in order of first
appearance, then the ``word2`` words that never appear as ``word1``, in order
of first appearance. An export lists the rows of a matrix in id order, so
``cooc export`` then ``cooc import`` gives back the same vocabulary order and
the same matrix, bit for bit (values are parsed exactly: the export writes the
shortest repr of each float). Words without any pair are not in an export,
and so not in the import; vocabulary counts are not in an export either, so
the imported ones are 0.

A table whose every ``word2`` is ``L:word`` or ``R:word`` (and names contexts
that are not ``word1`` values) is a directional export: the matrix is then
``n x 2n``, left contexts first, as :func:`cooc.cooccurrence.build_cooccurrence`
makes it with ``symmetric=False``.
"""

from __future__ import annotations

import csv
import lzma
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cooc.cooccurrence import CoocMatrix
from cooc.errors import InputError, MissingDependencyError
from cooc.files import open_input
from cooc.io import export_format
from cooc.vocab import Vocabulary

__all__ = ["import_pairs"]

COLUMNS = ("word1", "word2", "value")
# Rows read, coded and checked at a time.
_BLOCK_ROWS = 1 << 20


def import_pairs(
    path,
    *,
    progress: Callable[[int], None] | None = None,
    block_rows: int = _BLOCK_ROWS,
):
    """Read a ``word1, word2, value`` pairs table into a CoocMatrix.

    Parameters
    ----------
    path : str or path-like
        ``.tsv`` (unquoted, as ``cooc export`` writes it), ``.csv`` (quoted
        where needed) or ``.parquet``; the text formats may end in ``.gz``,
        ``.bz2`` or ``.xz``. The first row of TSV and CSV is the header; the
        columns ``word1``, ``word2`` and ``value`` are needed, others are
        ignored. Words are read as they are (``"nan"`` and ``""`` are words).
    progress : callable, default=None
        ``progress(n_rows)`` after each block of rows read.
    block_rows : int, default=1048576
        Rows read at a time.

    Returns
    -------
    CoocMatrix
        Float64 values as in the table (rows with the value 0 are left out),
        the vocabulary in order of first appearance (counts 0), ``params``
        ``{"source": "import", "symmetric": ...}`` (False for a directional
        table; a square one adds ``"symmetric_counts"``: whether every pair
        is there both ways with the same value, which ``cooc export --upper``
        and the streamed embedding rely on) and ``stats`` ``{"vocabulary_size": ..., "sources": [path]}``.

    Raises
    ------
    ValueError
        One line naming the file: an unknown format, a missing column, a
        value that is not a number or is negative, NaN or infinite, a missing
        word or one holding a line break, a pair given twice (sum such rows
        first: one value per pair), an empty table, or a damaged file. Rows
        are numbered from 1 after the header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cooc.cooccurrence import cooccurrence_matrix
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> m = cooccurrence_matrix(["a b a", "b c"], window_size=2)
    >>> m.to_frame().to_csv(folder / "pairs.csv", index=False)
    >>> back = import_pairs(folder / "pairs.csv")
    >>> back.vocabulary.tokens, (back.matrix != m.matrix).nnz
    (['a', 'b', 'c'], 0)
    """

    name = os.fspath(path)
    fmt = export_format(path)
    if not Path(path).is_file():
        raise InputError(f"{name}: no such file; expected a pairs table.")
    if (
        isinstance(block_rows, bool)
        or not isinstance(block_rows, int)
        or block_rows < 1
    ):
        raise InputError(f"block_rows={block_rows!r} must be a positive int.")

    words: dict[str, int] = {}  # word1 values, in order of first appearance
    contexts: dict[str, int] = {}  # word2 values, in order of first appearance
    rows, cols, values = [], [], []
    n_rows = 0
    blocks = (
        _parquet_blocks(path, block_rows)
        if fmt == "parquet"
        else _text_blocks(path, fmt, block_rows)
    )
    for word1, word2, value in blocks:
        if not len(value):
            continue
        value = _numbers(value, name, n_rows)
        rows.append(_code(word1, words, name, n_rows, "word1"))
        cols.append(_code(word2, contexts, name, n_rows, "word2"))
        values.append(value)
        n_rows += len(value)
        if progress is not None:
            progress(len(value))
    if n_rows == 0:
        raise InputError(
            f"{name}: the table has no rows; expected word1, word2, value rows."
        )

    names = list(contexts)
    directional = _is_directional(names, words)
    bases = [c[2:] for c in names] if directional else names
    for base in bases:  # words met only as contexts come last
        if base not in words:
            words[base] = len(words)
    tokens = list(words)
    n = len(tokens)
    ids = np.fromiter((words[b] for b in bases), np.int64, count=len(bases))
    if directional:
        ids += np.array([0 if c[0] == "L" else n for c in names], dtype=np.int64)
    row = np.concatenate(rows)
    col = ids[np.concatenate(cols)]
    data = np.concatenate(values)
    del rows, cols, values
    shape = (n, 2 * n if directional else n)
    order = np.lexsort((col, row))
    row, col, data = row[order], col[order], data[order]
    same = np.flatnonzero((row[1:] == row[:-1]) & (col[1:] == col[:-1]))
    if same.size:
        first = int(same[0])
        a, b = np.sort(order[first : first + 2]) + 1
        c = int(col[first])
        word2 = tokens[c % n] if not directional else "LR"[c // n] + ":" + tokens[c % n]
        raise InputError(
            f"{name}: the pair ({tokens[row[first]]!r}, {word2!r}) is given twice "
            f"(rows {a} and {b}); sum such rows first: one value per pair."
        )
    keep = data != 0
    if not keep.all():
        row, col, data = row[keep], col[keep], data[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    matrix = sp.csr_matrix((data, col.astype(np.int32), indptr), shape=shape)
    matrix.has_sorted_indices = True
    params = {"source": "import", "symmetric": not directional}
    if not directional:  # whether each pair is there both ways, with one value
        params["symmetric_counts"] = bool((matrix != matrix.T).nnz == 0)
    stats = {"vocabulary_size": n, "sources": [name]}
    return CoocMatrix(matrix, Vocabulary(tokens), params, stats)


def _is_directional(contexts: list[str], words: dict) -> bool:
    """Every context is ``L:word`` or ``R:word``, and some is not a word1
    value (a symmetric matrix names its contexts by the words themselves)."""
    if not contexts or not all(c[:2] in ("L:", "R:") for c in contexts):
        return False
    return any(c not in words for c in contexts)


def _code(values: np.ndarray, table: dict, name: str, before: int, column: str):
    """int64 codes of a block of words in ``table`` (new words added in order
    of first appearance); a missing word or one with a line break is refused."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        at = before + int(np.flatnonzero(codes < 0)[0]) + 1
        raise InputError(
            f"{name}: row {at} has no {column}; every row needs two words."
        )
    uniques = np.asarray(uniques, dtype=object)
    mapping = np.empty(len(uniques), dtype=np.int64)
    for i, word in enumerate(uniques.tolist()):
        known = table.get(word)
        if known is None:
            if not isinstance(word, str):
                at = before + int(np.flatnonzero(codes == i)[0]) + 1
                raise InputError(
                    f"{name}: row {at} has {column} {word!r} ({type(word).__name__}); "
                    "words must be text."
                )
            if "\n" in word or "\r" in word:
                at = before + int(np.flatnonzero(codes == i)[0]) + 1
                raise InputError(
                    f"{name}: row {at} has a {column} with a line break ({word!r}); "
                    "a .cooc file cannot store it."
                )
            known = table[word] = len(table)
        mapping[i] = known
    return mapping[codes]


def _numbers(value, name: str, before: int) -> np.ndarray:
    """The value column of a block as float64; anything but numbers >= 0 is
    refused, naming the first bad row."""
    value = np.asarray(value)
    if value.dtype.kind in "OUS":  # text: Python's float(), exact for any repr
        try:
            value = value.astype(np.float64)
        except (TypeError, ValueError):
            items = value.tolist()
            i = next(i for i, v in enumerate(items) if not _is_number(v))
            raise InputError(
                f"{name}: row {before + i + 1} has the value {items[i]!r}, not a "
                "number; the value column must hold numbers >= 0."
            ) from None
    elif value.dtype.kind not in "iuf":
        raise InputError(
            f"{name}: the value column holds {value.dtype} values, not numbers; "
            "it must hold numbers >= 0."
        )
    value = value.astype(np.float64, copy=False)
    bad = ~np.isfinite(value) | (value < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name}: row {before + i + 1} has the value {float(value[i])!r}; "
            "values must be finite numbers >= 0."
        )
    return value


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _missing_columns(name: str, found) -> ValueError:
    missing = [c for c in COLUMNS if c not in found]
    return InputError(
        f"{name}: no column {missing[0]!r}; a pairs table needs the columns "
        f"word1, word2, value (a header row, as cooc export writes), found "
        f"{[str(c) for c in found]}."
    )


def _text_blocks(path, fmt: str, block_rows: int) -> Iterator[tuple]:
    """``(word1, word2, value)`` arrays of each block of a TSV or CSV file."""
    import pandas as pd

    name = os.fspath(path)
    options = {"keep_default_na": False, "encoding": "utf-8"}
    if fmt == "tsv":
        options.update(sep="\t", quoting=csv.QUOTE_NONE)
    try:
        with open_input(path, "rb") as fh:
            try:
                header = pd.read_csv(fh, nrows=0, **options).columns
            except pd.errors.EmptyDataError:
                raise InputError(
                    f"{name}: the file is empty; expected a header row word1, "
                    "word2, value and one row per pair."
                ) from None
        if any(c not in header for c in COLUMNS):
            raise _missing_columns(name, header)
        with open_input(path, "rb") as fh:
            # Values as text, parsed by Python's float(): the exact double of
            # any repr, whatever the pandas version. index_col=False: a row
            # with extra fields never shifts the columns.
            reader = pd.read_csv(
                fh,
                usecols=list(COLUMNS),
                dtype=dict.fromkeys(COLUMNS, str),
                index_col=False,
                chunksize=block_rows,
                **options,
            )
            with reader:
                for frame in reader:
                    yield (
                        frame["word1"].to_numpy(object),
                        frame["word2"].to_numpy(object),
                        frame["value"].to_numpy(object),
                    )
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not valid UTF-8 ({err.reason}).") from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1] if str(err).strip() else "unreadable"
        raise InputError(
            f"{name}: not a readable {fmt.upper()} table ({detail})."
        ) from None
    except (EOFError, OSError, lzma.LZMAError) as err:
        if isinstance(err, (FileNotFoundError, PermissionError)):
            raise
        raise InputError(
            f"{name}: cannot read the file ({err or 'cut short'}); check that it is "
            "complete."
        ) from None


def _parquet_blocks(path, block_rows: int) -> Iterator[tuple]:
    """``(word1, word2, value)`` arrays of each row group batch of a Parquet file."""
    name = os.fspath(path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError(
            f'reading {name} needs pyarrow: pip install "cooc[parquet]"'
        ) from None
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{name}: not a readable Parquet file ({err}).") from None
    with parquet:
        schema = parquet.schema_arrow
        if any(c not in schema.names for c in COLUMNS):
            raise _missing_columns(name, schema.names)
        for column in ("word1", "word2"):
            kind = schema.field(column).type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                raise InputError(
                    f"{name}: column {column!r} has type {kind}, not text; a pairs "
                    "table has words in word1 and word2."
                )
        kind = schema.field("value").type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise InputError(
                f"{name}: column 'value' has type {kind}, not numbers; it must "
                "hold numbers >= 0."
            )
        try:
            for batch in parquet.iter_batches(
                batch_size=block_rows, columns=list(COLUMNS)
            ):
                word1, word2, value = (
                    batch.column(i).to_numpy(zero_copy_only=False) for i in range(3)
                )
                if batch.column(2).null_count:
                    value = value.astype(np.float64)  # nulls are NaN: refused
                yield word1, word2, value
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"{name}: not a readable Parquet file ({err}).") from None
