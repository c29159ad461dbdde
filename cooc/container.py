"""The ``.cooc`` container's primitives (no cooc imports): the format name and
version, its members, the token encoding, ``.npy`` members written in pieces
with their CRC-32, and the checks every reader runs on what a file holds
(metadata fields and their JSON types, array dtypes and lengths, row
pointers, column indices, counts, vocabulary), each failing with one
``'PATH' is corrupt (...)`` line. :mod:`cooc.matrix` (the metadata
record, the one ``.cooc`` writer, whole matrices read back), and through it
:mod:`cooc.io` and :mod:`cooc.outofcore` (the spilled build), and
:mod:`cooc.streaming` (row blocks) all read and write through these.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cooc.errors import InputError

__all__ = [
    "COOC_FORMAT",
    "COOC_FORMAT_VERSION",
    "COOC_MEMBERS",
    "WRITE_STEP",
    "check_entries",
    "check_indptr",
    "check_member",
    "check_meta",
    "check_total",
    "check_vocabulary",
    "corrupt",
    "decode_tokens",
    "encode_tokens",
    "entry_problem",
    "first_entry_problem",
    "is_cooc_archive",
    "member_lengths",
    "npy_header",
    "pack_tokens",
    "read_meta",
    "unpack_tokens",
    "write_cooc_members",
    "write_npy_member",
]

COOC_FORMAT = "cooc-matrix"
COOC_FORMAT_VERSION = 1

#: The arrays of a ``.cooc`` file (``.npy`` members, 1-D), in the order they
#: are laid out, with their dtypes; the ``meta`` member (JSON bytes) comes last.
#: ``tokens`` is :func:`encode_tokens`'s bytes, ``counts`` the word counts.
COOC_MEMBERS = {
    "indptr": np.int64,
    "indices": np.int32,
    "data": np.float64,
    "tokens": np.uint8,
    "counts": np.int64,
}


def is_cooc_archive(path) -> bool:
    """True for a zip holding a ``.cooc`` file's members (its name aside);
    ``.npz`` vectors, zips too, never hold ``meta.npy`` and ``indptr.npy``.
    Only the zip's directory is read: :func:`read_meta` checks the rest."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return "meta.npy" in names and "indptr.npy" in names


def encode_tokens(tokens) -> np.ndarray:
    """The tokens as one UTF-8 byte array, joined by line breaks."""
    bad = next((t for t in tokens if "\n" in t), None)
    if bad is not None:
        raise InputError(
            f"token {bad!r} contains a line break and cannot be stored in a .cooc "
            "file; clean the pre-tokenized input."
        )
    joined = "\n".join(tokens)
    return np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)


def decode_tokens(buf: np.ndarray, n: int, path) -> list[str]:
    """The ``n`` tokens of :func:`encode_tokens`'s bytes; ValueError naming
    ``path`` when they are not ``n``."""
    try:
        text = bytes(buf).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: corrupt .cooc file (the tokens are not UTF-8: {exc.reason} "
            f"at byte {exc.start})."
        ) from None
    tokens = text.split("\n") if n or text else []
    if len(tokens) != n:
        raise InputError(
            f"{path}: corrupt .cooc file (expected {n} tokens, found {len(tokens)})."
        )
    return tokens


# Bytes written (and checksummed) at a time by write_npy_member (and about
# the most cooc.matrix's save_cooc writes of one array at a time).
WRITE_STEP = 64 << 20


def write_npy_member(
    zf: zipfile.ZipFile, name: str, dtype, n: int, blocks: Iterable
) -> int:
    """Write a ``.npy`` member of ``n`` values of ``dtype``, taken from
    ``blocks`` (arrays) in turn, into the open zip ``zf``; return the CRC-32 of
    the values' bytes.

    The member is what ``numpy.savez`` writes. The CRC-32 recorded in the
    ``.cooc`` metadata is computed on a second thread while the zip module
    checksums and writes the same bytes (both release the GIL), and nothing
    is copied on the way.
    """
    dtype = np.dtype(dtype)
    written = 0
    crc = [0]

    def add(piece):
        crc[0] = zlib.crc32(piece, crc[0])

    # One worker: the pieces are checksummed in order.
    with (
        ThreadPoolExecutor(1) as pool,
        zf.open(f"{name}.npy", "w", force_zip64=True) as out,
    ):
        header = {
            "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": False,
            "shape": (n,),
        }
        np.lib.format.write_array_header_1_0(out, header)
        pending = []
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=dtype).reshape(-1)
            raw = block.view(np.uint8)
            for start in range(0, raw.shape[0], WRITE_STEP):
                piece = raw[start : start + WRITE_STEP]
                pending.append(pool.submit(add, piece))
                out.write(piece.data)
            written += block.shape[0]
        for done in pending:
            done.result()
    if written != n:  # pragma: no cover - internal invariant
        raise RuntimeError(
            f"wrote {written} of {n} values of {name}; please report this."
        )
    return crc[0]


def write_cooc_members(zf, arrays: dict, meta: dict) -> None:
    """The members of a ``.cooc`` file: every array of ``arrays`` (name ->
    ``(dtype, n, blocks)``), then ``meta`` with their CRC-32 filled in."""
    crc = {}
    for key, (dtype, n, blocks) in arrays.items():
        crc[key] = write_npy_member(zf, key, dtype, n, blocks)
    meta = dict(meta, crc32=crc)
    raw = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    write_npy_member(zf, "meta", np.uint8, raw.shape[0], [raw])


def npy_header(dtype, n: int) -> bytes:
    """The ``.npy`` header (format 1.0) of a 1-D array of ``n`` values of ``dtype``."""
    bio = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": (int(n),),
    }
    np.lib.format.write_array_header_1_0(bio, header)
    return bio.getvalue()


# -- checks of what a .cooc file holds (every reader runs them) ------------------------
def corrupt(path, why) -> InputError:
    """The one-line error of a damaged ``.cooc`` file: ``'PATH' is corrupt (why).``
    (``why`` is kept as its ``reason``)."""
    error = InputError(f"{str(path)!r} is corrupt ({why}).")
    error.reason = why
    return error


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _json_type(value) -> str:
    for kind, name in (
        (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
        (list, "array"), (dict, "object"),
    ):  # fmt: skip
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _shown(value) -> str:
    """``a JSON string "8x8"``: a metadata value as a message shows it."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # pragma: no cover - values come from JSON
        text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"a JSON {_json_type(value)} {text}" if value is not None else "null"


def check_meta(meta: dict, path) -> dict:
    """``meta`` (a ``.cooc`` file's JSON record) if every field has the JSON type
    cooc writes and the shape fits the vocabulary; else the InputError naming
    the field (``'m.cooc' is corrupt (metadata field 'params' is a JSON string
    "x", expected an object)``).

    ``shape`` is two integers ``[n_words, n_words]`` (``[n_words, 2 * n_words]``
    for a directional matrix: the ``L:`` then the ``R:`` contexts), ``nnz`` and
    ``n_words`` integers ``>= 0``; ``params``, ``stats`` and ``crc32`` (when
    present) objects, the checksums integers below 2^32;
    ``params["symmetric"]``, ``["dynamic_window"]`` and ``["symmetric_counts"]``
    booleans,
    ``params["scale"]`` a positive number (or null); ``cooc_version`` a string.
    """

    def bad(name, value, expected):
        return corrupt(
            path, f"metadata field {name!r} is {_shown(value)}, expected {expected}"
        )

    for name in ("shape", "nnz", "n_words"):
        if name not in meta:
            raise corrupt(path, f"no {name!r} in the metadata")
    shape = meta["shape"]
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(_is_int(s) and s >= 0 for s in shape)
    ):
        raise bad("shape", shape, "a list of two integers >= 0")
    for name in ("nnz", "n_words"):
        if not (_is_int(meta[name]) and meta[name] >= 0):
            raise bad(name, meta[name], "an integer >= 0")
    for name in ("params", "stats", "crc32"):
        if not isinstance(meta.get(name, {}), dict):
            raise bad(name, meta[name], "an object")
    version = meta.get("cooc_version")
    if version is not None and not isinstance(version, str):
        raise bad("cooc_version", version, "a string")
    for name, crc in meta.get("crc32", {}).items():
        if not (_is_int(crc) and 0 <= crc < 1 << 32):
            raise bad(f"crc32.{name}", crc, "an integer in 0..4294967295")
    params = meta.get("params", {})
    for name in ("symmetric", "dynamic_window", "symmetric_counts"):
        value = params.get(name)
        if value is not None and not isinstance(value, bool):
            raise bad(f"params.{name}", value, "true or false")
    scale = params.get("scale")
    if scale is not None and not (_is_number(scale) and scale > 0):
        raise bad("params.scale", scale, "a number > 0")
    (n_rows, n_cols), n_words = shape, meta["n_words"]
    if n_rows != n_words:
        raise corrupt(
            path, f"the matrix has {n_rows} rows for {n_words} words; expected "
            "one row per word",
        )  # fmt: skip
    one = f"{n_words}, one per word"
    both = f"{2 * n_words}, an L: and an R: context per word"
    symmetric = params.get("symmetric")
    wanted, layout = {
        True: ([n_words], f"{one}, as params.symmetric is true"),
        False: ([2 * n_words], f"{both}, as params.symmetric is false"),
    }.get(symmetric, ([n_words, 2 * n_words], f"{one}, or {both}"))
    if n_cols not in wanted:
        raise corrupt(
            path, f"the matrix has {n_cols} columns for {n_words} words; expected "
            f"{layout}",
        )  # fmt: skip
    return meta


def check_member(path, name: str, dtype, shape, length=None) -> None:
    """Array ``name`` of a ``.cooc`` file (its ``.npy`` header's ``dtype`` and
    ``shape``) is flat, of :data:`COOC_MEMBERS`'s type (in either byte order)
    and, when given, of ``length`` values (what the metadata implies)."""
    dtype = np.dtype(dtype)
    want = np.dtype(COOC_MEMBERS[name])
    if dtype.kind != want.kind or dtype.itemsize != want.itemsize:
        raise corrupt(path, f"array {name!r} holds {dtype} values, expected {want}")
    shape = tuple(shape)
    if len(shape) != 1:
        raise corrupt(
            path, f"array {name!r} has shape {shape}, expected a flat 1-D array"
        )
    if length is not None and shape[0] != length:
        raise corrupt(
            path, f"array {name!r} has shape {shape}, the metadata says ({length},)"
        )


def member_lengths(meta: dict) -> dict:
    """The number of values of each array of a ``.cooc`` file whose metadata
    (checked by :func:`check_meta`) is ``meta``; None where any will do."""
    n_rows, nnz = meta["shape"][0], meta["nnz"]
    return {
        "indptr": n_rows + 1,
        "indices": nnz,
        "data": nnz,
        "tokens": None,
        "counts": meta["n_words"],
    }


def check_vocabulary(path, tokens: list, counts: np.ndarray) -> None:
    """The words of a ``.cooc`` file (:func:`decode_tokens`, one per row) are
    distinct and their counts (int64, one per word) ``>= 0``."""
    if counts.size and counts.min() < 0:
        row = int(np.argmin(counts))
        raise corrupt(path, f"word {row} has the count {int(counts[row])}, below 0")
    if len(set(tokens)) != len(tokens):
        seen: set = set()
        twice = next(t for t in tokens if t in seen or seen.add(t))
        raise corrupt(path, f"the token {twice!r} is in the vocabulary twice")


def check_indptr(path, indptr: np.ndarray, nnz: int) -> None:
    """Row pointers from 0 to ``nnz``, never decreasing (``n_rows + 1`` of them,
    which :func:`check_member` saw)."""
    if indptr[0] != 0:
        raise corrupt(path, f"indptr starts at {indptr[0]}, not 0")
    if indptr[-1] != nnz:
        raise corrupt(path, f"indptr ends at {indptr[-1]}, not at the {nnz} non-zeros")
    steps = np.diff(indptr)
    if steps.size and steps.min() < 0:
        raise corrupt(path, f"indptr decreases at row {int(np.argmax(steps < 0))}")


def entry_problem(path, code: int, row: int, col: int, n_cols: int, detail=""):
    """The error of the first bad stored entry (codes of
    ``cooc._kernels.streaming.scan_counts``): 1 a column index outside
    ``0..n_cols - 1``, 2 column indices not increasing within the row, 3 a
    count that is negative, NaN or infinite; ``detail`` (the values) follows."""
    if code == 1:
        why = f"row {row} has column index {col}, outside 0..{n_cols - 1}"
    elif code == 2:
        why = f"row {row}: column indices not increasing"
    else:
        why = f"row {row}, column {col}: a count that is negative, NaN or infinite"
    return corrupt(path, why + (f": {detail}" if detail else ""))


# Entries checked at a time by check_entries (fits the caches: a few passes
# over each piece cost about one read of it from memory).
_CHECK_STEP = 1 << 18


def check_entries(path, indptr, indices, data, n_cols: int, row0: int = 0) -> None:
    """The stored entries of CSR rows read from ``path`` (``indptr`` checked
    by :func:`check_indptr`, local to the rows, the first of which is row
    ``row0`` of the file): column indices in ``0..n_cols - 1`` and strictly
    increasing within each row (sorted, no duplicate), counts finite and
    ``>= 0``, as every ``.cooc`` writer makes them and the kernels assume.
    The first bad entry, in row order, is :func:`first_entry_problem`'s error.
    The counts must also add up to a finite total (:func:`check_total`), so
    no marginal overflows.

    Vectorised over pieces of :data:`_CHECK_STEP` entries (a few passes over
    each, in cache): about 0.6 ns an entry; numpy's loops release the GIL.
    """
    nnz = int(indptr[-1])
    total = 0.0
    for a in range(0, nnz, _CHECK_STEP):
        b = min(a + _CHECK_STEP, nnz)
        idx, values = indices[a:b], data[a:b]
        ok = (
            idx.min() >= 0
            and idx.max() < n_cols
            and values.min() >= 0.0  # False for NaN
        )
        if ok:
            with np.errstate(over="ignore"):
                total += values.sum()
            ok = total < np.inf or values.max() < np.inf  # inf: a bad entry
        if ok:
            start = max(a, 1)
            rising = indices[start:b] > indices[start - 1 : b - 1]
            r0, r1 = np.searchsorted(indptr, [start, b], "left")
            rising[indptr[r0:r1] - start] = True  # first entries of rows
            ok = bool(rising.all())
        if not ok:
            raise first_entry_problem(path, indptr, indices, data, n_cols, row0, a)
        if not total < np.inf:
            row = row0 + int(np.searchsorted(indptr, b - 1, "right")) - 1
            check_total(path, total, row)


def check_total(path, total: float, row: int) -> None:
    """The counts up to row ``row`` add up to ``total``: refused once it is not
    finite (every count finite, but their sum beyond 1.8e308: the row and
    column sums that PPMI divides by would be infinite)."""
    if not total < np.inf:
        raise corrupt(
            path, f"the counts up to row {row} add up to more than the largest "
            "float64 (1.8e308); expected a finite total",
        )  # fmt: skip


def first_entry_problem(path, indptr, indices, data, n_cols, row0=0, first=0):
    """The error (:func:`entry_problem`, with the values) of the first bad
    entry from entry ``first`` on of CSR rows (``indptr`` local to them) that
    start at row ``row0`` of the file; :func:`check_entries` or a kernel saw one."""
    nnz = int(indptr[-1])
    for a in range(first, nnz, _CHECK_STEP):
        b = min(a + _CHECK_STEP, nnz)
        idx = indices[a:b].astype(np.int64)
        values = data[a:b]
        out = (idx < 0) | (idx >= n_cols)
        prev = indices[a - 1 : b - 1].astype(np.int64) if a else np.r_[-1, idx[:-1]]
        starts = indptr[np.searchsorted(indptr, a) : np.searchsorted(indptr, b)]
        row_start = np.zeros(b - a, dtype=bool)
        row_start[starts - a] = True
        falling = (idx <= prev) & ~row_start
        with np.errstate(invalid="ignore"):
            bad_value = ~((values >= 0.0) & (values < np.inf))
        found = np.flatnonzero(out | falling | bad_value)
        if found.size:
            break
    else:  # pragma: no cover - the callers saw a bad entry
        return corrupt(path, f"a bad entry in the rows from row {row0}")
    p = int(found[0])
    row = row0 + int(np.searchsorted(indptr, a + p, "right")) - 1
    col = int(idx[p])
    if out[p]:
        return entry_problem(path, 1, row, col, n_cols)
    if falling[p]:
        detail = f"column {col} after column {int(prev[p])}"
        return entry_problem(path, 2, row, col, n_cols, detail)
    return entry_problem(path, 3, row, col, n_cols, f"count {float(values[p])}")


def read_meta(z, path) -> dict:
    """The JSON metadata of a ``.cooc`` file (``z["meta"]``: its bytes), checked
    to be cooc's format at a version this cooc reads, every field of the JSON
    type cooc writes (:func:`check_meta`)."""
    try:
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except zipfile.BadZipFile:  # its bytes are not those of the zip's CRC-32
        raise corrupt(path, "checksum mismatch in 'meta'") from None
    except Exception:
        raise InputError(
            f"{str(path)!r} is not a .cooc file (no readable metadata)."
        ) from None
    if not isinstance(meta, dict):
        raise InputError(
            f"{str(path)!r} is not a .cooc file (metadata is a JSON "
            f"{_json_type(meta)}, expected an object)."
        )
    if meta.get("format") != COOC_FORMAT:
        raise InputError(
            f"{str(path)!r} is not a .cooc file (format {meta.get('format')!r})."
        )
    version = meta.get("format_version", 0)
    if not _is_int(version):
        raise corrupt(
            path, f"metadata field 'format_version' is {_shown(version)}, expected "
            "an integer",
        )  # fmt: skip
    if version > COOC_FORMAT_VERSION:
        raise InputError(
            f"{str(path)!r} was written by a newer cooc (format version "
            f"{meta['format_version']} > {COOC_FORMAT_VERSION}); upgrade cooc to read it."
        )
    return check_meta(meta, path)


def pack_tokens(tokens) -> tuple[np.ndarray, np.ndarray]:
    """``(utf8, offsets)``: the tokens' UTF-8 bytes end to end (uint8) and
    the ``n + 1`` byte offsets where each starts and the last ends (int64).

    Any str is stored as it is (line breaks, NUL, a 200,000-character
    token) in as many bytes as its UTF-8 takes: the layout of token lists in
    checkpoint shards and ``.npz`` vectors, unlike numpy's fixed-width
    unicode arrays (4 bytes a character times the longest token, trailing
    NULs dropped). :func:`unpack_tokens` reads it back.
    """
    parts = [t.encode("utf-8", "surrogatepass") for t in tokens]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    if parts:
        np.cumsum([len(p) for p in parts], out=offsets[1:])
    return np.frombuffer(b"".join(parts), dtype=np.uint8), offsets


def unpack_tokens(utf8, offsets, what: str) -> list[str]:
    """The tokens of :func:`pack_tokens`'s arrays; an InputError saying what
    is wrong with ``what`` (the file, or a member of it) when they do not make
    a token list."""
    utf8, offsets = np.asarray(utf8), np.asarray(offsets)
    if utf8.ndim != 1 or utf8.dtype != np.uint8:
        raise InputError(
            f"{what}: token bytes must be a 1-D uint8 array, "
            f"got {utf8.dtype} {utf8.shape}."
        )
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or not len(offsets):
        raise InputError(
            f"{what}: token offsets must be a non-empty 1-D integer array, "
            f"got {offsets.dtype} {offsets.shape}."
        )
    if (
        offsets[0] != 0
        or offsets[-1] != len(utf8)
        or (len(offsets) > 1 and bool(np.any(np.diff(offsets) < 0)))
    ):
        raise InputError(
            f"{what}: token offsets must rise from 0 to {len(utf8)} (the number "
            "of token bytes)."
        )
    raw = utf8.tobytes()
    bounds = offsets.tolist()
    try:
        text = raw.decode("utf-8", "surrogatepass")
        if len(text) == len(raw):  # ASCII: byte offsets are character offsets
            return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return [
            raw[a:b].decode("utf-8", "surrogatepass")
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what}: a token is not valid UTF-8 ({exc.reason})."
        ) from None
