"""File formats and atomic writes.

Every writer in cooc goes through :func:`atomic_write`: the data is written to a
temporary file in the target folder and renamed into place only once it is
complete, so an interrupted run leaves either the old file or none, never a
truncated one.
"""

from __future__ import annotations

import csv
import json
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp

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

# (defined in cooc.files, the bottom module; re-exported here as before)
from cooc.files import (
    COMPRESSIONS,
    atomic_write,
    base_suffix,
    compression_of,
    open_input,
    read_all_bytes,
)

__all__ = [
    "COMPRESSIONS",
    "atomic_write",
    "base_suffix",
    "compression_of",
    "export_pairs",
    "load_cooc",
    "open_input",
    "read_all_bytes",
    "read_cooc_meta",
    "save_cooc",
    "write_cooc_members",
    "write_npy_member",
]


# -- the .cooc file ---------------------------------------------------------------
# (the container's primitives live in cooc.container; their old names here)
_encode_tokens = encode_tokens
_decode_tokens = decode_tokens
_read_meta = read_meta


def write_npz_presized(fh, arrays: dict, meta: dict) -> None:
    """Write 1-D ``arrays`` (name -> array) and then ``meta`` (with the CRC-32
    of each array's values filled in) as the ``.npy`` members of a zip, into
    ``fh``, a new file open for writing.

    Same archive as :func:`write_cooc_members`, written faster: every member
    is laid out first (:class:`cooc._zip.PresizedZip`), then large arrays are
    cut into pieces that two threads write in place and checksum at once; the
    pieces' CRCs are combined, so each byte is checksummed once.
    """
    from cooc._zip import PresizedZip, crc32_combine

    zf = PresizedZip(fh)
    jobs, places = [], {}
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr).reshape(-1)
        header = npy_header(arr.dtype, arr.shape[0])
        at = zf.reserve(f"{name}.npy", len(header) + arr.nbytes)
        zf.write_at(at, header)
        raw = arr.view(np.uint8)
        places[name] = (header, raw.shape[0])
        for lo in range(0, raw.shape[0], WRITE_STEP):
            jobs.append((name, at + len(header) + lo, raw[lo : lo + WRITE_STEP]))

    def put(job):
        _, offset, piece = job
        zf.write_at(offset, piece)
        return zlib.crc32(piece), piece.shape[0]

    crc = dict.fromkeys(arrays, 0)
    with ThreadPoolExecutor(2) as pool:
        for (name, _, _), (c, n) in zip(jobs, pool.map(put, jobs), strict=True):
            crc[name] = crc32_combine(crc[name], c, n)
    for name, (header, size) in places.items():
        zf.set_crc(f"{name}.npy", crc32_combine(zlib.crc32(header), crc[name], size))
    raw = json.dumps(dict(meta, crc32=crc)).encode("utf-8")
    zf.add("meta.npy", npy_header(np.uint8, len(raw)) + raw)
    zf.close()


def save_cooc(cooc, path) -> None:
    """Write a :class:`~cooc.cooccurrence.CoocMatrix` to one ``.cooc`` file.

    The file is an uncompressed zip (``numpy.savez`` layout) of plain arrays:
    the CSR arrays, the vocabulary (UTF-8 tokens and int64 counts) and a JSON
    metadata record (format version, cooc version, parameters, corpus
    statistics, shape and a CRC-32 of each array). No pickle. Written
    atomically.
    """
    from cooc import __version__

    m = cooc.matrix.tocsr()
    arrays = {
        "indptr": np.asarray(m.indptr, dtype=np.int64),
        "indices": np.asarray(m.indices, dtype=np.int32),
        "data": np.asarray(m.data, dtype=np.float64),
        "tokens": _encode_tokens(cooc.vocabulary.tokens),
        "counts": np.asarray(cooc.vocabulary.counts, dtype=np.int64),
    }
    meta = {
        "format": COOC_FORMAT,
        "format_version": COOC_FORMAT_VERSION,
        "cooc_version": __version__,
        "shape": [int(s) for s in m.shape],
        "nnz": int(m.nnz),
        "n_words": len(cooc.vocabulary),
        "params": cooc.params,
        "stats": cooc.stats,
        "crc32": {},
    }
    with atomic_write(path, "wb") as fh:
        write_npz_presized(fh, arrays, meta)


def read_cooc_meta(path) -> dict:
    """The JSON metadata record of a ``.cooc`` file (without loading the matrix)."""
    with _open_npz(path) as z:
        return _read_meta(z, path)


def _open_npz(path):
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{str(path)!r} does not exist or is not a file; expected a .cooc file."
        )
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError
        raise ValueError(
            f"{str(path)!r} is not a .cooc file (not a readable zip archive: {exc})."
        ) from None


def load_cooc(path):
    """Read a ``.cooc`` file written by :func:`save_cooc`; verify its checksums."""
    from cooc.cooccurrence import CoocMatrix
    from cooc.vocab import Vocabulary

    with _open_npz(path) as z:
        meta = _read_meta(z, path)
        arrays = {}
        for key in ("indptr", "indices", "data", "tokens", "counts"):
            try:
                arrays[key] = z[key]
            except Exception as exc:
                raise ValueError(
                    f"{str(path)!r} is truncated or corrupt (array {key!r}: {exc})."
                ) from None
            crc = meta.get("crc32", {}).get(key)
            if (
                crc is not None
                and zlib.crc32(np.ascontiguousarray(arrays[key]).view(np.uint8)) != crc
            ):
                raise ValueError(
                    f"{str(path)!r} is corrupt (checksum mismatch in {key!r})."
                )
    tokens = _decode_tokens(arrays["tokens"], int(meta["n_words"]), path)
    shape = tuple(meta["shape"])
    try:
        matrix = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape
        )
    except ValueError as exc:
        raise ValueError(f"{str(path)!r} is corrupt ({exc}).") from None
    vocab = Vocabulary(tokens, arrays["counts"])
    return CoocMatrix(matrix, vocab, meta.get("params", {}), meta.get("stats", {}))


EXPORT_FORMATS = {".tsv": "tsv", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def export_format(path) -> str:
    """``"tsv"``, ``"csv"`` or ``"parquet"`` from an export file's name; the text
    formats may be compressed (``.tsv.gz``, ``.csv.xz``...). ValueError otherwise."""
    fmt = EXPORT_FORMATS.get(base_suffix(path))
    if fmt is None or (fmt == "parquet" and compression_of(path)):
        raise ValueError(
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
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(
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
        raise ValueError(
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
            raise ValueError(
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
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(fh, table.schema)
    writer.write_table(table)
    return writer
