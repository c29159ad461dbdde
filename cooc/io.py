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


EXPORT_WEIGHTINGS = ("count", "ppmi", "npmi")


def export_pairs(
    cooc,
    path,
    *,
    weighting: str = "count",
    min_value=None,
    top_k=None,
    overall: bool = False,
    upper: bool = False,
    min_count=None,
    self_pairs: bool = True,
    progress=None,
    block_entries: int = 1 << 22,
) -> int:
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

    Collocations (the options of ``cooc export``), applied in this order:

    ``min_count``
        Only entries whose stored count is ``>= min_count`` (before any
        weighting; the marginals still sum every entry). PMI and NPMI favour
        rare pairs, and a corpus's rarest are often junk (spam, base64).
    ``self_pairs``
        False leaves out the diagonal (a word beside itself: ``very very``).
    ``weighting``
        ``"count"`` (the stored values, the default), ``"ppmi"`` (as
        :func:`cooc.weighting.ppmi`: context smoothing ``alpha = 0.75``,
        positive values only, so entries with PMI <= 0 are left out) or
        ``"npmi"`` (normalized PMI ``log(p(w,c) / (p(w) p(c))) / -log
        p(w,c)`` with unsmoothed marginals, in ``[-1, 1]``; 1 for a pair that
        is the whole matrix). A file is then read twice (once for the
        row and column sums).
    ``upper``
        Each unordered pair once: only entries with ``word1 <= word2`` by id
        (the diagonal kept). Refused for a directional matrix (n x 2n
        contexts, or counted with dynamic windows).
    ``min_value``
        Only entries whose (weighted) value is ``>= min_value``.
    ``top_k``
        Only the ``top_k`` largest values of each row: rows in order, each
        row's pairs by value (largest first, ties by column id). With
        ``overall=True`` the ``top_k`` largest of the whole matrix instead,
        by value (ties by row, then column id), kept in O(top_k) memory.

    Without ``top_k`` the pairs come in storage order (row, then column);
    with every option at its default the output is the plain export.
    """
    sel = _check_selection(
        weighting, min_value, top_k, overall, upper, min_count, self_pairs
    )
    path = Path(path)
    fmt = export_format(path)
    if fmt == "parquet":
        try:  # (here: optional, and only Parquet needs it)
            import pyarrow
        except ImportError:
            raise MissingDependencyError(
                'writing Parquet needs pyarrow: pip install "cooc[parquet]"'
            ) from None
    if sel is not None:
        return _export_selected(cooc, path, fmt, progress, block_entries, sel)
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


def _check_selection(
    weighting, min_value, top_k, overall, upper, min_count=None, self_pairs=True
):
    """The collocation options of :func:`export_pairs`, checked (InputError, one
    line naming the option); None when all are at their defaults."""
    from numbers import Integral, Real

    if weighting not in EXPORT_WEIGHTINGS:
        raise InputError(
            f"--weighting: expected one of {', '.join(EXPORT_WEIGHTINGS)}, "
            f"got {weighting!r}."
        )
    if min_value is not None and (
        isinstance(min_value, bool)
        or not isinstance(min_value, Real)
        or not np.isfinite(min_value)
    ):
        raise InputError(f"--min-value: expected a finite number, got {min_value!r}.")
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1
    ):
        raise InputError(f"--top-k: expected a whole number >= 1, got {top_k!r}.")
    if min_count is not None and (
        isinstance(min_count, bool)
        or not isinstance(min_count, Real)
        or not np.isfinite(min_count)
        or min_count < 0
    ):
        raise InputError(
            f"--min-count: expected a finite number >= 0, got {min_count!r}."
        )
    if overall and top_k is None:
        raise InputError("--overall: needs --top-k K (the K best of the whole matrix).")
    if (
        weighting == "count"
        and min_value is None
        and top_k is None
        and not upper
        and min_count is None
        and self_pairs
    ):
        return None
    return {
        "weighting": weighting,
        "min_value": None if min_value is None else float(min_value),
        "top_k": None if top_k is None else int(top_k),
        "overall": bool(overall),
        "upper": bool(upper),
        "min_count": None if min_count is None else float(min_count),
        "self_pairs": bool(self_pairs),
    }


def _context_labels(label, tokens, n_rows, n_cols):
    if n_cols == n_rows:
        return tokens
    if n_cols == 2 * n_rows:
        return [f"L:{t}" for t in tokens] + [f"R:{t}" for t in tokens]
    raise InputError(
        f"{label}: a {n_rows} x {n_cols} matrix has no word contexts to name "
        "(expected n x n or n x 2n)."
    )


def _row_block_bounds(indptr, block_entries):
    n_rows = len(indptr) - 1
    lo = 0
    while lo < n_rows:
        hi = int(np.searchsorted(indptr, indptr[lo] + block_entries, "right"))
        hi = min(max(hi - 1, lo + 1), n_rows)
        yield lo, hi
        lo = hi


def _weigh_block(sel, rows, indices, data, marg):
    """``(rows, cols, values)`` of a block's entries after the weighting (float64);
    entries without a finite weight (PPMI <= 0, zero counts) are left out."""
    data = np.asarray(data, dtype=np.float64)
    if sel["weighting"] == "count":
        return rows, indices, data
    from cooc.weighting import PMI_TOLERANCE

    row_sums, log_rows, log_cols, log_total = marg
    keep = data > 0
    rows, indices, data = rows[keep], indices[keep], data[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_joint = np.log(data)
        if sel["weighting"] == "ppmi":
            # as cooc.weighting.ppmi: log(#(w,c) / (#(w) P_0.75(c))), positives only
            values = log_joint - log_rows[rows] - log_cols[indices]
            keep = np.isfinite(values) & (values >= PMI_TOLERANCE)
        else:
            # NPMI = log(p(w,c) / (p(w) p(c))) / -log p(w,c), plain marginals
            log_p = log_joint - log_total
            pmi = log_p - (log_rows[rows] - log_total) - (log_cols[indices] - log_total)
            values = np.where(log_p < 0, pmi / -log_p, 1.0)
            values = np.clip(values, -1.0, 1.0)
            keep = np.isfinite(values)
    return rows[keep], indices[keep], values[keep]


def _prefilter_block(sel, rows, cols, data, n_rows):
    """The min-count and self-pair filters of one block, on the stored counts
    (a directional matrix's contexts ``L:w`` and ``R:w`` are both ``w``)."""
    keep = np.ones(len(rows), dtype=bool)
    if sel["min_count"] is not None:
        keep &= np.asarray(data, dtype=np.float64) >= sel["min_count"]
    if not sel["self_pairs"]:
        keep &= rows != cols % n_rows
    return rows[keep], cols[keep], np.asarray(data)[keep]


def _select_block(sel, rows, cols, values):
    """The upper / min-value / per-row top-k filters of one row block."""
    keep = np.ones(len(values), dtype=bool)
    if sel["upper"]:
        keep &= cols >= rows
    if sel["min_value"] is not None:
        keep &= values >= sel["min_value"]
    rows, cols, values = rows[keep], cols[keep], values[keep]
    k = sel["top_k"]
    if k is not None and not sel["overall"]:
        order = np.lexsort((cols, -values, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows, "left")
        keep = rank < k
        rows, cols, values = rows[keep], cols[keep], values[keep]
    return rows, cols, values


def _best_overall(k, rows, cols, values):
    """The ``k`` largest values, ties by row then column id, in that order."""
    order = np.lexsort((cols, rows, -values))[:k]
    return rows[order], cols[order], values[order]


def _export_selected(cooc, path, fmt, progress, block_entries, sel) -> int:
    """:func:`export_pairs` with weighting, thresholds, top-k or upper, streamed
    in row blocks (a ``.cooc`` file) or over the matrix's rows (in memory)."""
    import contextlib

    import pandas as pd

    with contextlib.ExitStack() as stack:
        if isinstance(cooc, (str, os.PathLike)):
            from cooc.streaming import CoocFile

            cf = stack.enter_context(CoocFile(Path(cooc)))
            label = repr(str(cooc))
            indptr = cf.indptr()
            tokens = cf.tokens()
            n_rows, n_cols = cf.shape
            params = cf.params

            def blocks(col_sums=None):
                cf.start_checksums()
                for lo, hi in _row_block_bounds(indptr, block_entries):
                    indices, data = cf.read_rows(lo, hi, indptr, crc=True)
                    local = indptr[lo : hi + 1] - indptr[lo]
                    cf.check_rows(lo, local, indices, data, col_sums)
                    yield lo, hi, local, indices, data
                cf.verify_checksums()

        else:
            X = cooc.matrix.tocsr()
            label = "the matrix"
            indptr = X.indptr.astype(np.int64)
            tokens = list(cooc.vocabulary.tokens)
            n_rows, n_cols = X.shape
            params = cooc.params or {}

            def blocks(col_sums=None):
                for lo, hi in _row_block_bounds(indptr, block_entries):
                    p0, p1 = indptr[lo], indptr[hi]
                    if col_sums is not None:
                        np.add.at(col_sums, X.indices[p0:p1], X.data[p0:p1])
                    yield (
                        lo,
                        hi,
                        indptr[lo : hi + 1] - p0,
                        X.indices[p0:p1],
                        X.data[p0:p1],
                    )

        contexts = _context_labels(label, tokens, n_rows, n_cols)
        directional = (
            n_cols != n_rows
            or not params.get("symmetric", True)
            or params.get("dynamic_window", False)
        )
        asymmetric = not params.get("symmetric_counts", True)  # (imported pairs)
        if sel["upper"] and not directional and asymmetric:
            raise InputError(
                f"--upper: expected a symmetric matrix (each pair stored both "
                f"ways); {label} was imported from pairs not all given both "
                "ways with one value, so half of them would be lost."
            )
        if sel["upper"] and directional:
            raise InputError(
                f"--upper: expected a symmetric matrix (each pair stored both "
                f"ways); {label} is directional ({n_rows} x {n_cols}"
                + (", dynamic windows)." if n_cols == n_rows else ", L:/R: contexts).")
            )
        if fmt == "tsv":
            _check_tsv_tokens(tokens)
        words = np.asarray(tokens, dtype=object)
        contexts = np.asarray(contexts, dtype=object)

        marg = None
        if sel["weighting"] != "count":
            from cooc.weighting import smoothed_context_probs

            row_sums = np.zeros(n_rows)
            col_sums = np.zeros(n_cols)
            for lo, hi, local, _, data in blocks(col_sums):
                row_sums[lo:hi] += np.bincount(
                    np.repeat(np.arange(hi - lo), np.diff(local)),
                    weights=np.asarray(data, dtype=np.float64),
                    minlength=hi - lo,
                )
            total = float(row_sums.sum())
            ctx = (
                smoothed_context_probs(col_sums, 0.75)
                if sel["weighting"] == "ppmi"
                else col_sums
            )
            with np.errstate(divide="ignore"):
                marg = (row_sums, np.log(row_sums), np.log(ctx), np.log(total))

        parquet = fmt == "parquet"
        written = 0
        state = {"writer": None, "header": True}
        best = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))

        with _open_export(path, fmt) as fh:

            def write(rows, cols, values):
                frame = pd.DataFrame(
                    {"word1": words[rows], "word2": contexts[cols], "value": values}
                )
                if parquet:
                    state["writer"] = _parquet_block(state["writer"], fh, frame)
                else:
                    _write_text_rows(frame, fh, fmt, header=state["header"])
                state["header"] = False
                if progress is not None:
                    progress(len(frame))
                return len(frame)

            for lo, hi, local, indices, data in blocks():
                rows = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(local))
                cols = np.asarray(indices, dtype=np.int64)
                if sel["min_count"] is not None or not sel["self_pairs"]:
                    rows, cols, data = _prefilter_block(sel, rows, cols, data, n_rows)
                picked = _select_block(sel, *_weigh_block(sel, rows, cols, data, marg))
                if sel["top_k"] is not None and sel["overall"]:
                    best = _best_overall(
                        sel["top_k"],
                        *(np.concatenate(pair) for pair in zip(best, picked)),
                    )
                elif len(picked[0]):
                    written += write(*picked)
            if sel["top_k"] is not None and sel["overall"] and len(best[0]):
                written += write(*best)
            if state["writer"] is not None:
                state["writer"].close()
            elif state["header"]:  # nothing kept: an empty table with the columns
                empty = pd.DataFrame({"word1": [], "word2": [], "value": np.empty(0)})
                if parquet:
                    empty.to_parquet(fh, index=False)
                else:
                    _write_text_rows(empty, fh, fmt, header=True)
        return written


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
