"""The co-occurrence matrix and its ``.cooc`` file.

:class:`CoocMatrix` (CSR counts, vocabulary, how they were made) and
:func:`merge` (exact sums of parts), and the ``.cooc`` file they are kept in:
:func:`cooc_meta`, the one place the metadata record is built, and
:func:`write_cooc`, the one writer of the archive (members laid out first,
the column indices and values written in place band by band, checksums
combined in order), which :func:`save_cooc` (a matrix in memory) and
:mod:`cooc.outofcore` (bands merged from disk) both write through;
:func:`load_cooc` and :func:`read_cooc_meta` read it back.

This module sits below everything that makes or exports matrices
(:mod:`cooc.cooccurrence`, :mod:`cooc.outofcore`, :mod:`cooc.io`, which
re-export its names) and above the container's primitives
(:mod:`cooc.container`, :mod:`cooc._zip`), so nothing here imports a counter.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from cooc import __version__
from cooc._zip import PresizedZip, crc32_combine
from cooc.container import (
    COOC_FORMAT,
    COOC_FORMAT_VERSION,
    COOC_MEMBERS,
    WRITE_STEP,
    check_entries,
    check_indptr,
    check_member,
    check_meta,
    check_vocabulary,
    corrupt,
    decode_tokens,
    encode_tokens,
    member_lengths,
    npy_header,
    read_meta,
)
from cooc.errors import InputError
from cooc.files import atomic_write
from cooc.parallel import ordered_map, row_parts
from cooc.vocab import Vocabulary

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CoocMatrix",
    "cooc_meta",
    "load_cooc",
    "merge",
    "read_cooc_meta",
    "save_cooc",
    "write_cooc",
]


# ---------------------------------------------------------------------------------
@dataclass
class CoocMatrix:
    """A co-occurrence matrix with its vocabulary and how it was made.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_words, n_contexts)
        Weighted counts (float64).
    vocabulary : cooc.vocab.Vocabulary
        Row labels, in id order.
    params : dict
        Every counting parameter (window, weighting, ...), including ``scale``,
        the denominator that makes the counts exact integers.
    stats : dict
        Corpus statistics (documents, tokens, out-of-vocabulary tokens, ...).
    """

    matrix: sp.csr_matrix
    vocabulary: object
    params: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    @property
    def shape(self):
        return self.matrix.shape

    @property
    def nnz(self):
        return self.matrix.nnz

    @property
    def symmetric(self) -> bool:
        return self.matrix.shape[1] == self.matrix.shape[0]

    def context_names(self) -> list[str]:
        """Column labels: the words, or ``L:word`` / ``R:word`` for directional
        matrices."""
        tokens = list(self.vocabulary.tokens)
        if self.symmetric:
            return tokens
        return [f"L:{t}" for t in tokens] + [f"R:{t}" for t in tokens]

    def integer_counts(self) -> sp.csr_matrix:
        """The exact int64 counts (``matrix * scale``)."""
        scale = int(self.params.get("scale", 1))
        out = self.matrix.copy()
        out.data = np.rint(out.data * scale)
        return out.astype(np.int64)

    def to_frame(self) -> pd.DataFrame:
        """Every non-zero as a row ``word1, word2, value``."""
        import pandas as pd  # (here: a measured start-up cost of 0.15 s)

        coo = self.matrix.tocoo()
        rows = np.asarray(self.vocabulary.tokens, dtype=object)
        cols = np.asarray(self.context_names(), dtype=object)
        return pd.DataFrame(
            {"word1": rows[coo.row], "word2": cols[coo.col], "value": coo.data}
        )

    def save(self, path) -> None:
        """Write this matrix to a ``.cooc`` file (:func:`save_cooc`)."""
        save_cooc(self, path)

    @classmethod
    def load(cls, path) -> CoocMatrix:
        """Read a ``.cooc`` file (:func:`load_cooc`)."""
        return load_cooc(path)

    def __repr__(self):
        return (
            f"CoocMatrix(shape={self.shape}, nnz={self.nnz}, "
            f"window={self.params.get('window_size')}, "
            f"weighting={self.params.get('weighting')!r})"
        )


def merge(matrices: Sequence[CoocMatrix]) -> CoocMatrix:
    """Sum co-occurrence matrices counted on parts of one corpus, exactly.

    All parts must share the vocabulary and counting parameters; the sum is done
    on the integer counts, so it equals counting the whole corpus at once, and
    so do the statistics (documents and tokens summed, the shared vocabulary's
    size, the parts' sources in order).
    """
    matrices = list(matrices)
    if not matrices:
        raise InputError("merge needs at least one CoocMatrix.")
    first = matrices[0]
    if any(m.params.get("source") == "import" for m in matrices):
        raise InputError(
            "cannot merge imported matrices (cooc import): their values are not "
            "integer counts with a scale; add their .matrix instead."
        )
    skip = {"random_state"}
    for m in matrices[1:]:
        if list(m.vocabulary.tokens) != list(first.vocabulary.tokens):
            raise InputError("cannot merge matrices with different vocabularies.")
        # A parameter set to None is the same as one not recorded (files
        # written before `decay` existed).
        a = {k: v for k, v in m.params.items() if k not in skip and v is not None}
        b = {k: v for k, v in first.params.items() if k not in skip and v is not None}
        if a != b:
            raise InputError(
                f"cannot merge matrices counted with different parameters: {a} != {b}."
            )
    total = first.integer_counts()
    for m in matrices[1:]:
        total = total + m.integer_counts()
    return CoocMatrix(
        _to_float(total, int(first.params.get("scale", 1)), np.float64),
        first.vocabulary,
        dict(first.params),
        _merged_stats([m.stats for m in matrices], len(first.vocabulary)),
    )


# Statistics of a count that add up over the parts of a corpus.
_ADDITIVE_STATS = ("n_docs", "n_tokens", "n_oov", "n_counted")


def _merged_stats(parts, vocabulary_size) -> dict:
    """The statistics of the whole from those of its parts: counts of documents
    and tokens add up, the vocabulary is the shared one, the sources are listed
    in order; anything else is kept where every part agrees on it."""
    stats = {}
    keys = list(dict.fromkeys(k for part in parts for k in part))
    for key in keys:
        values = [part.get(key) for part in parts]
        if key in _ADDITIVE_STATS and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
        ):
            stats[key] = sum(int(v) for v in values)
        elif key == "vocabulary_size":
            stats[key] = int(vocabulary_size)
        elif key == "sources" and all(isinstance(v, list) for v in values):
            stats[key] = [s for v in values for s in v]
        elif all(v == values[0] for v in values[1:]):
            stats[key] = values[0]
    return stats


def _to_float(counts, scale, dtype):
    """Integer ``counts`` (sparse) over ``scale``, as ``dtype``."""
    out = counts.astype(np.float64)
    if scale != 1:
        out.data /= scale
    return out.astype(dtype, copy=False)


# -- the .cooc file -------------------------------------------------------------------
def cooc_meta(vocabulary, params: dict, stats: dict, shape, nnz: int) -> dict:
    """The JSON metadata record of a ``.cooc`` file holding a ``shape`` matrix
    of ``nnz`` non-zeros over ``vocabulary``: format and version, the cooc
    that wrote it, ``params`` (every counting parameter) and ``stats``
    (corpus statistics). :func:`write_cooc` fills in ``crc32``."""
    return {
        "format": COOC_FORMAT,
        "format_version": COOC_FORMAT_VERSION,
        "cooc_version": __version__,
        "shape": [int(s) for s in shape],
        "nnz": int(nnz),
        "n_words": len(vocabulary),
        "params": params,
        "stats": stats,
        "crc32": {},
    }


def write_cooc(
    path,
    indptr,
    vocabulary,
    meta: dict,
    parts: Iterable,
    make_rows: Callable,
    pool,
    tell: Callable[[int], None] | None = None,
    *,
    crc_order: Sequence[str] = tuple(COOC_MEMBERS),
) -> None:
    """Write the ``.cooc`` file ``path`` (atomically) of a matrix whose row
    lengths (``indptr``) are known, its column indices and values made by
    ``make_rows(part)`` for each of ``parts``: ``(lo, hi, indices, data)``
    for the output rows ``[lo, hi)``, the parts covering the rows in order.

    Every member of :data:`~cooc.container.COOC_MEMBERS` is laid out first
    (:class:`cooc._zip.PresizedZip`); two parts are made at a time on
    ``pool``, each written in place and checksummed, and the checksums are
    combined in order. ``tell(n)`` is called with the entries of each part
    written. ``meta`` (:func:`cooc_meta`) is written last with the CRC-32 of
    every array's values, listed in ``crc_order`` (readers look them up by
    name).
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    nnz = int(indptr[-1])
    whole = {
        "indptr": indptr,
        "tokens": encode_tokens(vocabulary.tokens),
        "counts": np.ascontiguousarray(vocabulary.counts, dtype=np.int64),
    }
    sizes = {"indices": nnz, "data": nnz}
    sizes.update((name, arr.shape[0]) for name, arr in whole.items())
    crc = {"indices": 0, "data": 0}
    with atomic_write(path, "wb") as fh:
        zf = PresizedZip(fh)
        at, headers = {}, {}
        for name, dtype in COOC_MEMBERS.items():
            header = headers[name] = npy_header(dtype, sizes[name])
            body = np.dtype(dtype).itemsize * sizes[name]
            start = zf.reserve(f"{name}.npy", len(header) + body)
            zf.write_at(start, header)
            at[name] = start + len(header)

        def one(part):
            lo, hi, indices, data = make_rows(part)
            indices = np.ascontiguousarray(indices, dtype=np.int32)
            data = np.ascontiguousarray(data, dtype=np.float64)
            first = int(indptr[lo])
            if indices.shape[0] != int(indptr[hi]) - first:  # pragma: no cover
                raise RuntimeError(f"rows {lo}-{hi}: wrong number of entries")
            zf.write_at(at["indices"] + 4 * first, indices)
            zf.write_at(at["data"] + 8 * first, data)
            return zlib.crc32(indices), zlib.crc32(data), indices.nbytes, data.nbytes

        for ci, cd, li, ld in ordered_map(pool, one, parts, 2):
            crc["indices"] = crc32_combine(crc["indices"], ci, li)
            crc["data"] = crc32_combine(crc["data"], cd, ld)
            if tell is not None:
                tell(li // 4)
        for name, arr in whole.items():
            zf.write_at(at[name], arr)
            crc[name] = zlib.crc32(arr)
        for name, dtype in COOC_MEMBERS.items():
            body = np.dtype(dtype).itemsize * sizes[name]
            whole_crc = crc32_combine(zlib.crc32(headers[name]), crc[name], body)
            zf.set_crc(f"{name}.npy", whole_crc)
        record = dict(meta, crc32={name: crc[name] for name in crc_order})
        raw = json.dumps(record).encode("utf-8")
        zf.add("meta.npy", npy_header(np.uint8, len(raw)) + raw)
        zf.close()


def save_cooc(cooc, path) -> None:
    """Write a :class:`CoocMatrix` to one ``.cooc`` file.

    The file is an uncompressed zip (``numpy.savez`` layout) of plain arrays:
    the CSR arrays, the vocabulary (UTF-8 tokens and int64 counts) and a JSON
    metadata record (format version, cooc version, parameters, corpus
    statistics, shape and a CRC-32 of each array). No pickle. Written
    atomically (:func:`write_cooc`, in pieces of about 64 MB on two threads).
    """
    m = cooc.matrix.tocsr()
    if not m.has_canonical_format:
        # readers take a row's column indices strictly increasing (load_cooc
        # refuses anything else): sort them, summing duplicates
        m = m.copy()
        m.sum_duplicates()
    with np.errstate(over="ignore"):
        finite = m.nnz == 0 or (m.data.min() >= 0 and m.data.sum() < np.inf)
    if not finite:
        raise InputError(
            f"cannot save {str(path)!r}: the matrix holds negative, NaN or infinite "
            "values (or values adding up beyond 1.8e308); a .cooc file stores "
            "counts, finite and >= 0."
        )
    indptr = np.asarray(m.indptr, dtype=np.int64)
    meta = cooc_meta(cooc.vocabulary, cooc.params, cooc.stats, m.shape, m.nnz)
    try:  # what load_cooc would refuse (the rows are not the words, ...)
        check_meta(meta, path)
    except InputError as exc:
        raise InputError(
            f"cannot save {str(path)!r}: {getattr(exc, 'reason', exc)}."
        ) from None

    def rows(part):
        lo, hi = part
        first, last = indptr[lo], indptr[hi]
        return lo, hi, m.indices[first:last], m.data[first:last]

    # Parts of at most WRITE_STEP bytes of values (8 bytes each).
    parts = row_parts(indptr, WRITE_STEP // 8)
    with ThreadPoolExecutor(2) as pool:
        write_cooc(path, indptr, cooc.vocabulary, meta, parts, rows, pool)


def read_cooc_meta(path) -> dict:
    """The JSON metadata record of a ``.cooc`` file (without loading the matrix)."""
    with _open_npz(path) as z:
        return read_meta(z, path)


def _open_npz(path):
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{str(path)!r} does not exist or is not a file; expected a .cooc file."
        )
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError
        raise InputError(
            f"{str(path)!r} is not a .cooc file (not a readable zip archive: {exc})."
        ) from None


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,
}


def _read_member(z, path, name: str, length, crc) -> np.ndarray:
    """Array ``name`` of the open ``.cooc`` archive ``z``, its ``.npy`` header
    checked (:func:`~cooc.container.check_member`, and that it fills its zip
    member) before a byte of its values is allocated or read.

    The values' CRC-32 recorded in the metadata (``crc``, or None) is checked
    without a pass of its own: the zip's CRC-32 of the member (header, then
    values) must be its combination with the header's
    (:func:`cooc._zip.crc32_combine`), and :mod:`zipfile` checks the zip's
    CRC-32 as the values are read."""
    label = repr(str(path))
    try:
        info = z.zip.getinfo(f"{name}.npy")
    except KeyError:
        raise InputError(f"{label} is not a .cooc file (no {name!r} array).") from None
    try:
        with z.zip.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            reader = _NPY_HEADER_READERS.get(version)
            if reader is None:  # pragma: no cover - read_magic knows no other
                raise ValueError(f"npy format version {version}")
            shape, _, dtype = reader(fp)
            header_len = fp.tell()
            fp.seek(0)
            header = fp.read(header_len)
    except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError, EOFError
        raise corrupt(path, f"array {name!r}: {exc}") from None
    check_member(path, name, dtype, shape, length)
    body = shape[0] * dtype.itemsize
    if header_len + body != info.file_size:
        raise corrupt(path, f"array {name!r} does not fill its zip member")
    if crc is not None and crc32_combine(zlib.crc32(header), crc, body) != info.CRC:
        raise corrupt(path, f"checksum mismatch in {name!r}")
    try:
        return z[name]
    except zipfile.BadZipFile:  # the values do not match the zip's CRC-32
        raise corrupt(path, f"checksum mismatch in {name!r}") from None
    except (OSError, ValueError, EOFError) as exc:  # (MemoryError goes up)
        raise InputError(
            f"{label} is truncated or corrupt (array {name!r}: {exc})."
        ) from None


def load_cooc(path) -> CoocMatrix:
    """Read a ``.cooc`` file written by :func:`save_cooc`, checked whole.

    The metadata's fields have the JSON types cooc writes and its shape fits
    the vocabulary (:func:`~cooc.container.check_meta`); every array has its
    dtype and length (checked from its ``.npy`` header before it is read)
    and the CRC-32 the metadata records; the row pointers run from 0 to nnz,
    never decreasing; the column indices are in range and strictly
    increasing within each row, the counts finite and ``>= 0``
    (:func:`~cooc.container.check_entries`); the tokens are UTF-8, one per
    row, distinct, with a count ``>= 0`` each. Anything else is one
    :class:`~cooc.errors.InputError` naming the file (a checksum mismatch
    first: it says more than what the damaged bytes look like).
    """
    label = repr(str(path))
    with _open_npz(path) as z:
        meta = read_meta(z, path)
        lengths, crcs = member_lengths(meta), meta.get("crc32", {})
        arrays = {
            # in native byte order (no copy for the files cooc writes)
            key: _read_member(z, path, key, lengths[key], crcs.get(key)).astype(
                dtype, copy=False
            )
            for key, dtype in COOC_MEMBERS.items()
        }
    n_rows, n_cols = meta["shape"]
    check_indptr(path, arrays["indptr"], meta["nnz"])
    check_entries(path, arrays["indptr"], arrays["indices"], arrays["data"], n_cols)
    tokens = decode_tokens(arrays["tokens"], meta["n_words"], label)
    check_vocabulary(path, tokens, arrays["counts"])
    vocab = Vocabulary(tokens, arrays["counts"])
    matrix = sp.csr_matrix(
        (arrays["data"], arrays["indices"], arrays["indptr"]),
        shape=(n_rows, n_cols),
        copy=False,
    )
    matrix.has_canonical_format = True  # checked: sorted, distinct per row
    return CoocMatrix(matrix, vocab, meta.get("params", {}), meta.get("stats", {}))
