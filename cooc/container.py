"""The ``.cooc`` container's primitives (no cooc imports): the format name and
version, its members, the token encoding, ``.npy`` members written in pieces
with their CRC-32, and the metadata check. :mod:`cooc.matrix` (the metadata
record, the one ``.cooc`` writer, whole matrices read back), and through it
:mod:`cooc.io` and :mod:`cooc.outofcore` (the spilled build), and
:mod:`cooc.streaming` (row blocks) all read and write through these.
"""

from __future__ import annotations

import io
import json
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
    "decode_tokens",
    "encode_tokens",
    "is_cooc_archive",
    "npy_header",
    "read_meta",
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
    tokens = bytes(buf).decode("utf-8").split("\n") if n else []
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


def read_meta(z, path) -> dict:
    """The JSON metadata of a ``.cooc`` file (``z["meta"]``: its bytes), checked
    to be cooc's format at a version this cooc reads."""
    try:
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except Exception:
        raise InputError(
            f"{str(path)!r} is not a .cooc file (no readable metadata)."
        ) from None
    if meta.get("format") != COOC_FORMAT:
        raise InputError(
            f"{str(path)!r} is not a .cooc file (format {meta.get('format')!r})."
        )
    if meta.get("format_version", 0) > COOC_FORMAT_VERSION:
        raise InputError(
            f"{str(path)!r} was written by a newer cooc (format version "
            f"{meta['format_version']} > {COOC_FORMAT_VERSION}); upgrade cooc to read it."
        )
    return meta
