"""File formats and atomic writes: the ``.cooc`` file, exports of its pairs.

Every writer in cooc goes through :func:`atomic_write`: the data is written to a
temporary file in the target folder and renamed into place only once it is
complete, so an interrupted run leaves either the old file or none, never a
truncated one. The ``.cooc`` file itself is read and written by
:mod:`cooc.matrix` (:func:`save_cooc`, :func:`load_cooc`,
:func:`read_cooc_meta`, re-exported here); this module adds the exports.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

# (the container's primitives, defined in cooc.container; re-exported here)
from cooc.container import (
    COOC_FORMAT,
    COOC_FORMAT_VERSION,
    WRITE_STEP,
    decode_tokens,
    encode_tokens,
    npy_header,
    read_meta,
    write_cooc_members,
    write_npy_member,
)
from cooc.errors import InputError, MissingDependencyError

# (defined in cooc.files, the bottom module; re-exported here as before)
from cooc.files import (
    COMPRESSIONS,
    atomic_write,
    base_suffix,
    compression_of,
    open_input,
    read_all_bytes,
)

# (the .cooc file, defined in cooc.matrix; re-exported here as before)
from cooc.matrix import CoocMatrix, load_cooc, read_cooc_meta, save_cooc

__all__ = [
    "COMPRESSIONS",
    "COOC_FORMAT",
    "COOC_FORMAT_VERSION",
    "WRITE_STEP",
    "CoocMatrix",
    "atomic_write",
    "base_suffix",
    "compression_of",
    "decode_tokens",
    "encode_tokens",
    "export_pairs",
    "load_cooc",
    "npy_header",
    "open_input",
    "read_all_bytes",
    "read_cooc_meta",
    "read_meta",
    "save_cooc",
    "write_cooc_members",
    "write_npy_member",
]

# (the container's primitives live in cooc.container; their old names here)
_encode_tokens = encode_tokens
_decode_tokens = decode_tokens
_read_meta = read_meta


EXPORT_FORMATS = {".tsv": "tsv", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def export_format(path) -> str:
    """``"tsv"``, ``"csv"`` or ``"parquet"`` from an export file's name; the text
    formats may be compressed (``.tsv.gz``, ``.csv.xz``...). ValueError otherwise."""
    fmt = EXPORT_FORMATS.get(base_suffix(path))
    if fmt is None or (fmt == "parquet" and compression_of(path)):
        raise InputError(
            f"{os.fspath(path)}: cannot tell the format from the name; use .tsv, "
            ".csv or .parquet (.tsv and .csv may end in .gz, .bz2 or .xz)."
        )
    return fmt


def export_pairs(cooc, path, *, progress=None, block_entries: int = 1 << 22) -> int:
    """Write every non-zero as a ``word1, word2, value`` row, in the format of
    the file's name (:func:`export_format`).

    TSV and CSV have a header row; TSV is unquoted (a token holding a tab or
    line break is refused: use CSV or Parquet), CSV quoted where needed. Read
    them back with pandas as ``pd.read_csv(path, sep="\\t", quoting=3,
    keep_default_na=False)`` (TSV) or ``pd.read_csv(path,
    keep_default_na=False)`` (CSV), so that words such as ``nan`` or ``null``
    stay words. ``cooc`` is a :class:`~cooc.cooccurrence.CoocMatrix` or the
    path of a ``.cooc`` file; a file is read in row blocks of about
    ``block_entries`` non-zeros (checked and checksummed on the way) and
    written block by block, so a matrix larger than memory can be exported.
    ``progress(n)`` is called with the pairs written after each block.
    Returns the number of rows written. Parquet needs pyarrow.
    """
    path = Path(path)
    fmt = export_format(path)
    if fmt == "parquet":
        try:  # (here: optional, and only Parquet needs it)
            import pyarrow
        except ImportError:
            raise MissingDependencyError(
                'writing Parquet needs pyarrow: pip install "cooc[parquet]"'
            ) from None
    if isinstance(cooc, (str, os.PathLike)):
        return _export_file(Path(cooc), path, fmt, progress, block_entries)
    frame = cooc.to_frame()
    if fmt == "parquet":
        with atomic_write(path, "wb") as fh:
            frame.to_parquet(fh, index=False)
    else:
        if fmt == "tsv":
            _check_tsv_tokens(cooc.vocabulary.tokens)
        with _open_export(path, fmt) as fh:
            _write_text_rows(frame, fh, fmt, header=True)
    if progress is not None:
        progress(len(frame))
    return len(frame)


def _open_export(path, fmt):
    if fmt == "parquet":
        return atomic_write(path, "wb")
    return atomic_write(path, "w", compress=True, encoding="utf-8", newline="")


def _check_tsv_tokens(tokens) -> None:
    bad = next((t for t in tokens if "\t" in t or "\n" in t or "\r" in t), None)
    if bad is not None:
        raise InputError(
            f"token {bad!r} contains a tab or line break and cannot be written as "
            "TSV; export to .csv or .parquet instead."
        )


def _write_text_rows(frame, fh, fmt, header) -> None:
    # TSV: tokens as they are (no quoting of '"'); CSV: quoted where needed.
    # No float_format: the shortest round-trip repr reads back exactly.
    if fmt == "tsv":
        frame.to_csv(fh, sep="\t", header=header, index=False, quoting=csv.QUOTE_NONE)
    else:
        frame.to_csv(fh, header=header, index=False)


def _export_file(source: Path, path: Path, fmt, progress, block_entries) -> int:
    """:func:`export_pairs` of a ``.cooc`` file, row block by row block."""
    # (here: measured start-up costs, 0.15 s for pandas and 0.23 s for
    # cooc.streaming, which loads the numba kernels)
    import pandas as pd

    from cooc.streaming import CoocFile

    with CoocFile(source) as cf:
        indptr = cf.indptr()
        tokens = cf.tokens()
        n_rows, n_cols = cf.shape
        if n_cols == n_rows:
            contexts = tokens
        elif n_cols == 2 * n_rows:
            contexts = [f"L:{t}" for t in tokens] + [f"R:{t}" for t in tokens]
        else:
            raise InputError(
                f"{str(source)!r}: a {n_rows} x {n_cols} matrix has no word "
                "contexts to name (expected n x n or n x 2n)."
            )
        parquet = fmt == "parquet"
        if fmt == "tsv":
            _check_tsv_tokens(tokens)
        words = np.asarray(tokens, dtype=object)
        contexts = np.asarray(contexts, dtype=object)
        cf.start_checksums()
        with _open_export(path, fmt) as fh:
            writer = None
            lo = 0
            while lo < n_rows:
                hi = int(np.searchsorted(indptr, indptr[lo] + block_entries, "right"))
                hi = min(max(hi - 1, lo + 1), n_rows)
                indices, data = cf.read_rows(lo, hi, indptr, crc=True)
                local = indptr[lo : hi + 1] - indptr[lo]
                cf.check_rows(lo, local, indices, data)
                rows = np.repeat(np.arange(lo, hi), np.diff(local))
                frame = pd.DataFrame(
                    {"word1": words[rows], "word2": contexts[indices], "value": data}
                )
                if parquet:
                    writer = _parquet_block(writer, fh, frame)
                else:
                    _write_text_rows(frame, fh, fmt, header=lo == 0)
                if progress is not None:
                    progress(len(frame))
                lo = hi
            cf.verify_checksums()
            if writer is not None:
                writer.close()
            elif n_rows == 0:  # no rows: an empty table with the columns
                empty = pd.DataFrame({"word1": [], "word2": [], "value": np.empty(0)})
                if parquet:
                    empty.to_parquet(fh, index=False)
                else:
                    _write_text_rows(empty, fh, fmt, header=True)
        return int(indptr[-1])


def _parquet_block(writer, fh, frame):
    """Append ``frame`` as a row group (opening the writer at the first block)."""
    # (here: pyarrow is optional, and only Parquet needs it)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(fh, table.schema)
    writer.write_table(table)
    return writer
