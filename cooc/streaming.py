"""Embedding a ``.cooc`` matrix larger than memory.

:func:`embed_cooc_file` gives the word vectors of ``cooc embed`` without ever
holding the matrix: the file is read in row blocks (each array member of the
zip is stored uncompressed, so its bytes sit at a fixed offset and a row range
is one read), every block is weighted on the fly from the marginals of one
first pass, and the randomized SVD of :mod:`cooc.svd` runs with its tall
``n x l`` blocks (``l = rank + oversamples``) on disk, making one pass over the
file per product. Only one ``n x l`` float32 matrix is in memory at a time: the
operand that the rows of a block gather from, stored as 64-column panels (the
layout the in-memory solver copies each panel into for its CSR kernel).

Products per power step. ``A`` is the weighted matrix (PPMI of the counts
``C``). PPMI is not symmetric even when ``C`` is (the context marginal is
smoothed), but for a symmetric ``C`` the row ``i`` of ``A^T`` is made of the
same stored counts as the row ``i`` of ``C``, weighted with the marginals
swapped: ``A^T[i, j] = A[j, i] = f(C[i, j], row j, context i)``. So both
``A^T Q`` and ``A Z`` are gathers over the row blocks of the file, and the
result blocks go straight to disk. For any other matrix ``A^T Q`` is a scatter
of the rows of ``Q`` into a resident ``m x l`` result (each thread owns some
of its column panels, so the sums are race-free and in row order).

The steps are those of :func:`cooc.svd.randomized_operator_svd`: the same
sparse sign test matrix (:func:`cooc.svd.sparse_sign`), dynamic shift, Cholesky
basis from the Gram matrix (:func:`cooc.svd.cholesky_basis`, run on
disk-backed blocks through :class:`_StreamOps`), final small-side SVD
(:func:`cooc.svd.small_side_svd`, same), sign convention, eigenvalue power
and w + c. Dense reductions are taken over fixed tiles of rows in a fixed
order, so the result does not depend on the block sizes, the memory budget or
the number of threads.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import struct
import tempfile
import time
import types
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.linalg import blas
from threadpoolctl import threadpool_limits

from cooc import _kernels, parallel
from cooc._kernels.streaming import (
    RANGE_COLS,
    count_kept,
    panel_product,
    panel_width,
    plain_block_values,
    ppmi_block_values,
    scan_counts,
    scatter_panel,
)
from cooc.container import (
    COOC_MEMBERS,
    check_indptr,
    check_member,
    check_total,
    check_vocabulary,
    decode_tokens,
    first_entry_problem,
    member_lengths,
    read_meta,
    write_npy_member,
)
from cooc.errors import InputError
from cooc.files import atomic_write, base_suffix, compression_of
from cooc.parallel import block_map, row_pieces, thread_map
from cooc.vectors import (
    Embeddings,
    check_word2vec_tokens,
    npz_token_arrays,
    unit_rows,
    write_word2vec_binary,
    write_word2vec_text,
)

# cooc.svd (the solver's steps) and cooc.weighting (the PPMI formula) are
# imported inside the functions that need them: both import scikit-learn,
# which would make importing this module about 0.7 s slower (0.3 s without)
# for the readers of .cooc files (CoocFile: cooc info, exports) that never
# embed.

__all__ = [
    "CoocFile",
    "ProgressEvent",
    "embed_cooc_file",
    "in_memory_embed_bytes",
    "iter_weighted_blocks",
    "streaming_embed_bytes",
]

PANEL = _kernels.PANEL

# Rows of the fixed tiles over which every dense reduction (Gram matrices) and
# every per-row dense step (triangular solve, small products) is taken: one
# BLAS call per tile, tiles summed in order. Fixed, so results do not depend on
# how the file's rows are cut into blocks.
_TILE = 8192

# Upper bounds of a row block of the file: stored entries and rows.
_MAX_BLOCK_NNZ = 1 << 24
_MAX_BLOCK_ROWS = 1 << 17
# The smallest blocks a memory budget must allow.
_MIN_BLOCK_NNZ = 1 << 16
_MIN_BLOCK_ROWS = 1024

# Bytes per stored entry of a block in flight: the raw int32 index and float64
# count of two blocks (one read ahead), the weighted values (float32), the
# compacted weighted block (int32 index + float32 value; two while the
# previous one is being copied to the weight cache), and the products' int64
# scratch (two per row, fewer rows than entries).
_BYTES_PER_BLOCK_NNZ = 2 * (4 + 8) + 4 + 2 * 8 + 16
# Free space left on the temporary folder's disk when deciding whether the
# weighted blocks can be kept there (see _WeightCache).
_CACHE_DISK_MARGIN = 1 << 30
# Dense row blocks in flight per row of a block, in units of l float32 values:
# the product (two: one being written) and the basis rows read for the shift
# (two: one read ahead).
_DENSE_SLOTS = 4
# The same for the groups of rows of the dense steps (the last one holds a
# group of Q and of A^T Q and a few k-column products of them).
_GROUP_SLOTS = 7

# Seconds per unit of work of each kind of stage, used for the time left until
# a stage of that kind has been measured in the run (then its own rate is
# used). Measured on the 2-core development machine (benchmarks/README.md).
_DEFAULT_RATES = {
    "reading": 1.2e-9,  # per byte of the file
    "sketch": 6e-8,  # per stored entry
    "product": 1.5e-10,  # per stored entry x column of the dense block
    "orthonormalisation": 1.5e-11,  # per n x l x l
    "final_svd": 3.5e-11,  # per n x l x (l + k)
    "writing": 1.5e-8,  # per vector value (binary; text is slower)
}
_TEXT_WRITE_RATE = 3e-7


# -- reading the .cooc file in row blocks ----------------------------------------------
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # the 30 fixed bytes of a zip local header
_LOCAL_SIGNATURE = b"PK\x03\x04"


@dataclass
class _Member:
    """A ``.npy`` array stored in the zip: where its values start, what they are."""

    name: str
    offset: int
    dtype: np.dtype
    shape: tuple
    crc: int | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _pread_into(fd, view, offset) -> int:
    """Fill the writable byte ``view`` from ``fd`` at ``offset``; bytes read."""
    got = 0
    total = len(view)
    while got < total:
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            break
        got += n
    return got


def _pwrite_all(fd, view, offset) -> None:
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


class CoocFile:
    """A ``.cooc`` file opened for reading in row blocks, never whole.

    The zip's central directory gives each member's local header; the member
    is stored, so its ``.npy`` header and values follow at a fixed offset. The
    metadata's fields and shape are checked on opening
    (:func:`cooc.container.check_meta`), and so are the arrays' dtypes and
    lengths from their ``.npy`` headers. :meth:`indptr` reads and checks the
    row pointers (monotone, from 0 to nnz); :meth:`tokens` the vocabulary
    (UTF-8, distinct, counts >= 0); :meth:`read_rows` reads the indices and
    counts of a row range; :meth:`check_rows` checks a block (indices in
    range and increasing within a row, counts finite and >= 0, their running
    total finite) with the messages of an in-memory load. The CRC-32 of each
    array is checked once, while the arrays are streamed in order
    (``crc=True`` in :meth:`read_rows`), by :meth:`verify_checksums` (or
    first, when a block is bad). Every problem is a one-line ``InputError``
    naming the file.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.label = repr(str(path))
        if not self.path.is_file():
            raise InputError(
                f"{self.label} does not exist or is not a file; expected a .cooc file."
            )
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            self._size = os.fstat(self._fd).st_size
            self.members = self._find_members()
            self.meta = self._read_meta()
            self._check_shapes()
        except BaseException:
            self.close()
            raise
        self._crc_state = {}
        self._total = 0.0  # of the counts check_rows saw

    # context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def _not_cooc(self, why):
        return InputError(f"{self.label} is not a .cooc file ({why}).")

    def _corrupt(self, why):
        return InputError(f"{self.label} is corrupt ({why}).")

    def _pread(self, offset, n) -> bytes:
        buf = bytearray(n)
        got = _pread_into(self._fd, memoryview(buf), offset)
        if got != n:
            raise self._corrupt(f"cut short: {n} bytes wanted at byte {offset}")
        return bytes(buf)

    def _find_members(self) -> dict[str, _Member]:
        try:
            with open(self.path, "rb") as fh, zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self._not_cooc(f"not a readable zip archive: {exc}") from None
        members = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1:
                raise InputError(
                    f"{self.label}: member {info.filename!r} is compressed or "
                    "encrypted; reading in row blocks needs the stored members "
                    "cooc writes (load it in memory, or save it again with cooc)."
                )
            head = self._pread(info.header_offset, _LOCAL_HEADER.size)
            fields = _LOCAL_HEADER.unpack(head)
            if fields[0] != _LOCAL_SIGNATURE:
                raise self._corrupt(f"bad local zip header of {info.filename!r}")
            start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
            member = self._parse_npy(name, start, info.file_size)
            if name == "meta":
                raw = self._pread(start, info.file_size)
                if zlib.crc32(raw) != info.CRC:
                    raise self._corrupt("checksum mismatch in 'meta'")
            members[name] = member
        missing = [k for k in ("meta", *COOC_MEMBERS) if k not in members]
        if missing:
            raise self._not_cooc(f"no {missing[0]!r} array")
        return members

    def _parse_npy(self, name, start, stored_size) -> _Member:
        fh = io.BytesIO(self._pread(start, min(12, stored_size)))
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                header_len = 10 + struct.unpack("<H", fh.getvalue()[8:10])[0]
            elif version in ((2, 0), (3, 0)):
                header_len = 12 + struct.unpack("<I", fh.getvalue()[8:12])[0]
            else:  # pragma: no cover - read_magic only knows these
                raise InputError(f"npy version {version}")
            if header_len > stored_size:
                raise InputError("header longer than the member")
            fh = io.BytesIO(self._pread(start, header_len))
            np.lib.format.read_magic(fh)
            reader = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = reader(fh)
        except ValueError as exc:
            raise self._corrupt(f"array {name!r}: {exc}") from None
        if name in COOC_MEMBERS:  # its dtype, and flat (the length: _check_shapes)
            check_member(self.path, name, dtype, shape)
        if dtype.hasobject or len(shape) != 1 or fortran:
            raise self._corrupt(f"array {name!r} is not a flat array of numbers")
        member = _Member(name, start + header_len, dtype, tuple(shape))
        if header_len + member.size * dtype.itemsize != stored_size:
            raise self._corrupt(f"array {name!r} does not fill its zip member")
        if member.offset + member.size * dtype.itemsize > self._size:
            raise self._corrupt(f"array {name!r} runs past the end of the file")
        return member

    def _read_array(self, name) -> np.ndarray:
        """A whole (small) member, its CRC-32 checked."""
        mem = self.members[name]
        out = np.empty(mem.size, dtype=mem.dtype)
        raw = out.view(np.uint8)
        if _pread_into(self._fd, memoryview(raw), mem.offset) != raw.size:
            raise self._corrupt(f"array {name!r} is cut short")
        if mem.crc is not None and zlib.crc32(raw) != mem.crc:
            raise self._corrupt(f"checksum mismatch in {name!r}")
        return out

    def _read_meta(self) -> dict:
        meta = read_meta({"meta": self._read_array("meta")}, self.path)
        crcs = meta.get("crc32") or {}
        for name, mem in self.members.items():
            if name in crcs:
                mem.crc = int(crcs[name])
        return meta

    def _check_shapes(self):
        # the metadata's types and its shape against the vocabulary: read_meta
        meta = self.meta
        (n, m), nnz = meta["shape"], meta["nnz"]
        self.shape, self.nnz = (n, m), nnz
        for name, length in member_lengths(meta).items():
            mem = self.members[name]
            check_member(self.path, name, mem.dtype, mem.shape, length)
        # (a matrix of no words is what save_cooc writes for an empty
        # vocabulary: info and export show it, embed refuses its rank)

    @property
    def params(self) -> dict:
        return self.meta.get("params") or {}

    @property
    def symmetric_counts(self) -> bool:
        """Whether the counts are a symmetric matrix, as the build settings say.

        A fixed-window build without ``--directional`` adds every pair both
        ways; dynamic windows do not (the centre's width decides); ``cooc
        import`` records whether the table had every pair both ways
        (``symmetric_counts``; an imported file written before it did is
        taken as not symmetric).
        """
        p = self.params
        return (
            self.shape[0] == self.shape[1]
            and bool(p.get("symmetric", False))
            and not p.get("dynamic_window", False)
            and bool(p.get("symmetric_counts", p.get("source") != "import"))
        )

    def indptr(self) -> np.ndarray:
        """The row pointers (int64), checked: from 0 to nnz, never decreasing."""
        indptr = self._read_array("indptr").astype(np.int64, copy=False)
        check_indptr(self.path, indptr, self.nnz)
        return indptr

    def tokens(self) -> list[str]:
        """The vocabulary, in row order: UTF-8, one token per row, distinct, with
        a count >= 0 each (both arrays CRC-32 checked)."""
        return self.vocabulary()[0]

    def vocabulary(self) -> tuple[list[str], np.ndarray]:
        """``(tokens, counts)``, checked as :meth:`tokens` says."""
        tokens = decode_tokens(self._read_array("tokens"), self.shape[0], self.label)
        counts = self._read_array("counts")
        check_vocabulary(self.path, tokens, counts)
        return tokens, counts

    def start_checksums(self):
        """Check the CRC-32 of 'indices' and 'data' as they are next read in order
        (and the total of the counts :meth:`check_rows` sees, from 0)."""
        self._crc_state = {k: [0, 0] for k in ("indices", "data")}
        self._total = 0.0

    def read_rows(self, lo, hi, indptr, out_indices=None, out_data=None, *, crc=False):
        """Indices (int32) and counts (float64) of rows ``lo <= i < hi``.

        ``out_indices``/``out_data``, large enough, receive them (no allocation).
        With ``crc`` the bytes feed the running checksums, which requires the
        blocks to come in order from row 0 (see :meth:`verify_checksums`).
        """
        p0, p1 = int(indptr[lo]), int(indptr[hi])
        result = []
        for name, target, out in (
            ("indices", np.int32, out_indices),
            ("data", np.float64, out_data),
        ):
            mem = self.members[name]
            count = p1 - p0
            native = mem.dtype == np.dtype(target)
            if out is not None and native:
                arr = out[:count]
            else:
                arr = np.empty(count, dtype=mem.dtype)
            raw = arr.view(np.uint8)
            got = _pread_into(
                self._fd, memoryview(raw), mem.offset + p0 * mem.dtype.itemsize
            )
            if got != raw.size:
                raise self._corrupt(f"array {name!r} is cut short")
            if crc and name in self._crc_state:
                state = self._crc_state[name]
                if state[1] == p0:
                    state[0] = zlib.crc32(raw, state[0])
                    state[1] = p1
            if not native:
                if (
                    name == "indices"
                    and count
                    and (
                        arr.min() < np.iinfo(np.int32).min
                        or arr.max() > np.iinfo(np.int32).max
                    )
                ):
                    raise self._corrupt("a column index does not fit in 32 bits")
                arr = arr.astype(target)
            result.append(arr)
        return result[0], result[1]

    def verify_checksums(self):
        """Raise unless every array streamed since :meth:`start_checksums` matched."""
        for name, (crc, done) in self._crc_state.items():
            mem = self.members[name]
            if done != mem.size:  # pragma: no cover - the passes read every row
                raise RuntimeError(f"checksum of {name!r} covered {done} values")
            if mem.crc is not None and crc != mem.crc:
                raise self._corrupt(f"checksum mismatch in {name!r}")
        self._crc_state = {}

    def check_rows(self, lo, indptr_local, indices, data, col_sums=None):
        """Check a block of rows from row ``lo``; optionally add its column sums."""
        sums = np.empty(0) if col_sums is None else col_sums
        code, row, _ = scan_counts(
            indptr_local, indices, data, self.shape[1], sums, col_sums is not None
        )
        try:
            if code:
                # the same message as an in-memory load's, with the values
                raise first_entry_problem(
                    self.path, indptr_local, indices, data, self.shape[1], lo,
                    int(indptr_local[row]),
                )  # fmt: skip
            # the counts read since start_checksums add up to a finite total
            with np.errstate(over="ignore"):
                self._total += float(np.sum(data))
            if not self._total < np.inf:
                check_total(self.path, self._total, lo + indptr_local.shape[0] - 2)
        except InputError as problem:
            raise self._checksum_problem() or problem from None

    @property
    def total(self) -> float:
        """The sum of the counts :meth:`check_rows` saw since
        :meth:`start_checksums` (block sums added in order; finite)."""
        return self._total

    def _checksum_problem(self):
        """The error of a checksum mismatch in 'indices' or 'data' (read whole,
        in pieces), or None: a damaged block is reported as what it is when
        the bytes are not those written, as an in-memory load does."""
        step = 1 << 26
        buf = np.empty(step, dtype=np.uint8)
        for name in ("indices", "data"):
            mem = self.members[name]
            if mem.crc is None:
                continue
            crc, size = 0, mem.size * mem.dtype.itemsize
            for start in range(0, size, step):
                view = memoryview(buf)[: min(step, size - start)]
                got = _pread_into(self._fd, view, mem.offset + start)
                crc = zlib.crc32(view[:got], crc)
            if crc != mem.crc:
                return self._corrupt(f"checksum mismatch in {name!r}")
        return None


def _row_sums_into(out, lo, indptr_local, data):
    """Row sums as scipy's ``csr.sum(axis=1)`` takes them (reduceat per row);
    an overflow is left to :meth:`CoocFile.check_rows` to report."""
    rows = np.flatnonzero(np.diff(indptr_local))
    if rows.size:
        with np.errstate(over="ignore"):
            out[lo + rows] = np.add.reduceat(
                np.asarray(data, dtype=np.float64), indptr_local[rows]
            )


# -- weighting a block -----------------------------------------------------------------


@dataclass
class WeightedBlock:
    """Rows ``lo <= i < hi`` of the weighted matrix, as CSR arrays (local indptr)."""

    lo: int
    hi: int
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def tocsr(self, n_cols):
        return sp.csr_matrix(
            (self.data, self.indices, self.indptr), shape=(self.hi - self.lo, n_cols)
        )


class _Weighting:
    """Weights row blocks of counts: PPMI from the marginals, ``log``, or ``none``."""

    def __init__(self, weighting, row_sums, col_sums, *, context_alpha, shift):
        # scikit-learn's start-up cost (see the imports)
        from cooc.weighting import PMI_TOLERANCE, smoothed_context_probs

        if weighting not in ("ppmi", "log", "none"):
            raise InputError(
                f"weighting={weighting!r} is not one of ('ppmi', 'log', 'none')."
            )
        self.weighting = weighting
        self.tol = PMI_TOLERANCE
        self.log_shift = float(np.log(shift))
        if weighting == "ppmi":
            # As cooc.weighting.ppmi: smoothed context distribution from the
            # column sums, logs of both marginals (-inf for 0).
            probs = smoothed_context_probs(col_sums, context_alpha)
            with np.errstate(divide="ignore"):
                self.log_rows = np.log(row_sums)
                self.log_ctx = np.log(probs)

    def __call__(self, cf, lo, hi, indptr_local, indices, data, *, transposed, pool,
                 pieces, buffers, slots=1):  # fmt: skip
        n_rows = hi - lo
        nnz = int(indptr_local[-1])
        values = buffers.take("values", nnz, np.float32)
        kept = np.empty(n_rows, dtype=np.int64)
        n_cols = cf.shape[1]
        if self.weighting == "ppmi":

            def run(r0, r1):
                return ppmi_block_values(
                    indptr_local, indices, data, self.log_rows, self.log_ctx,
                    self.log_shift, self.tol, transposed, lo, n_cols, values, kept,
                    r0, r1,
                )  # fmt: skip

        else:

            def run(r0, r1):
                bad = plain_block_values(
                    indptr_local, indices, data, n_cols, values, r0, r1
                )
                if bad == 0:
                    a, b = indptr_local[r0], indptr_local[r1]
                    if self.weighting == "log":
                        np.log1p(values[a:b], out=values[a:b])
                    count_kept(indptr_local, values, kept, r0, r1)
                return bad

        if any(block_map(run, pieces, pool=pool)):
            # the first pass checked the file: it changed since; say where
            cf.check_rows(lo, indptr_local, indices, data)
            raise cf._corrupt(f"rows {lo}..{hi - 1} changed during the run")
        new_indptr = np.zeros(n_rows + 1, dtype=np.int32)
        np.cumsum(kept, out=new_indptr[1:])
        n_kept = int(new_indptr[-1])
        new_indices = buffers.take("w_indices", n_kept, np.int32, slots=slots)
        new_data = buffers.take("w_data", n_kept, np.float32, slots=slots)
        block_map(
            lambda r0, r1: _kernels.compact_rows(
                indptr_local,
                indices,
                values,
                new_indptr,
                new_indices,
                new_data,
                r0,
                r1,
            ),  # fmt: skip
            pieces,
            pool=pool,
        )
        return WeightedBlock(lo, hi, new_indptr, new_indices, new_data)


class _Buffers:
    """Reusable flat buffers by name, each a ring of ``slots`` (fresh large
    arrays cost page faults on every block)."""

    def __init__(self):
        self._rings = {}

    def take(self, name, shape, dtype, slots=1):
        ring = self._rings.setdefault(name, [0, [None] * slots])
        if len(ring[1]) < slots:
            ring[1].extend([None] * (slots - len(ring[1])))
        i = ring[0]
        ring[0] = (i + 1) % slots
        dtype = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        nbytes = max(1, math.prod(shape) * dtype.itemsize)
        buf = ring[1][i]
        if buf is None or buf.nbytes < nbytes:
            buf = ring[1][i] = np.empty(nbytes, dtype=np.uint8)
        return buf[: math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)

    def release(self, *names):
        for name in names:
            self._rings.pop(name, None)


# -- tall dense blocks on disk or in memory --------------------------------------------
class _FileTall:
    """An ``n x width`` float32 matrix in a temporary file, read and written by rows."""

    dtype = np.dtype(np.float32)

    def __init__(self, fh, n_rows, width):
        self.fh = fh
        self.fd = fh.fileno()
        self.shape = (n_rows, width)
        self.gram = None

    def with_width(self, width):
        """The same file seen as rows of another width (rows packed from byte 0)."""
        return _FileTall(self.fh, self.shape[0], width)

    def read(self, lo, hi, out=None):
        w = self.shape[1]
        if out is None:
            out = np.empty((hi - lo, w), dtype=np.float32)
        raw = out.view(np.uint8).reshape(-1)
        got = _pread_into(self.fd, memoryview(raw), lo * w * 4)
        if got != raw.size:  # pragma: no cover - our own file
            raise OSError(f"temporary file cut short ({got} of {raw.size} bytes)")
        return out

    def write(self, lo, block):
        block = np.ascontiguousarray(block, dtype=np.float32)
        _pwrite_all(
            self.fd,
            memoryview(block.view(np.uint8).reshape(-1)),
            lo * block.shape[1] * 4,
        )


class _Panels:
    """The resident dense operand, as column panels for :func:`panel_product`.

    ``array[p]`` is the C-contiguous ``(n_rows, w)`` block of columns
    ``p * PANEL ...``, ``w = PANEL`` (the layout the in-memory solver copies
    each panel into; here it is the storage itself) except for a last panel
    of few columns, stored at a narrow width (``panel_width``), zero-padded.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, n_rows, width):
        self.shape = (n_rows, width)
        self.n_panels = -(-width // PANEL)
        self.array = []
        for p in range(self.n_panels):
            used = self.columns(p)[1]
            panel = np.empty((n_rows, panel_width(used)), dtype=np.float32)
            if used < panel.shape[1]:
                panel[:, used:] = 0
            self.array.append(panel)
        self.gram = None

    @staticmethod
    def stored_bytes(n_rows, width):
        n_panels = -(-width // PANEL)
        last = width - (n_panels - 1) * PANEL
        return 4 * n_rows * ((n_panels - 1) * PANEL + panel_width(last)) if width else 0

    def columns(self, p):
        c0 = p * PANEL
        return c0, min(PANEL, self.shape[1] - c0)

    def store(self, lo, block):
        hi = lo + block.shape[0]
        for p in range(self.n_panels):
            c0, w = self.columns(p)
            self.array[p][lo:hi, :w] = block[:, c0 : c0 + w]

    def read(self, lo, hi, out=None):
        if out is None:
            out = np.empty((hi - lo, self.shape[1]), dtype=np.float32)
        for p in range(self.n_panels):
            c0, w = self.columns(p)
            out[:, c0 : c0 + w] = self.array[p][lo:hi, :w]
        return out

    def zero(self):
        for panel in self.array:
            panel.fill(0)


class _Product:
    """``base @ W`` (float32, rounded as if materialised), made by tiles on read."""

    dtype = np.dtype(np.float32)

    def __init__(self, base, W, pool=None):
        self.base = base
        self.W = np.ascontiguousarray(W, dtype=np.float32)
        self.shape = (base.shape[0], self.W.shape[1])
        self.pool = pool
        self.gram = None

    def read(self, lo, hi, out=None):
        block = self.base.read(lo, hi)
        res = (
            np.empty((hi - lo, self.shape[1]), dtype=np.float32) if out is None else out
        )
        block_map(
            lambda a, b: np.matmul(block[a:b], self.W, out=res[a:b]),
            _tiles(hi - lo),
            pool=self.pool,
        )
        return res


def _tiles(n_rows):
    return [(a, min(a + _TILE, n_rows)) for a in range(0, n_rows, _TILE)]


def _tile_gram(tile):
    """``tile^T tile`` (upper triangle) by one float32 ``syrk``, as float64."""
    if tile.shape[0] == 0:
        return np.zeros((tile.shape[1], tile.shape[1]))
    # A C-ordered tile is the Fortran-ordered tile^T, the ``a`` of a@a^T.
    return blas.ssyrk(1.0, tile.T, trans=0, lower=0).astype(np.float64)


class _GramByTiles:
    """The Gram matrix of a tall matrix fed by consecutive row blocks of any size.

    Every fixed tile of ``_TILE`` rows contributes one float32 ``syrk``,
    added in float64 in tile order; rows of a tile split between blocks wait
    in a buffer. The result does not depend on the block sizes.
    """

    def __init__(self, n_rows, width, pool):
        self.n_rows, self.width, self.pool = n_rows, width, pool
        self.sum = np.zeros((width, width))
        self.next = 0
        self.pending = np.empty((min(_TILE, n_rows), width), dtype=np.float32)
        self.n_pending = 0

    def add(self, lo, block):
        if lo != self.next:  # pragma: no cover - internal invariant
            raise RuntimeError(f"Gram blocks out of order: {lo} after {self.next}")
        rows = block.shape[0]
        self.next = lo + rows
        pos = 0
        if self.n_pending:
            start = lo - self.n_pending
            end = min(start + _TILE, self.n_rows)
            take = min(end - lo, rows)
            self.pending[self.n_pending : self.n_pending + take] = block[:take]
            self.n_pending += take
            pos = take
            if start + self.n_pending == end:
                self.sum += _tile_gram(self.pending[: self.n_pending])
                self.n_pending = 0
        # whole tiles inside the block
        first = lo + pos
        views = []
        while True:
            start = first
            end = min((start // _TILE + 1) * _TILE, self.n_rows)
            if start % _TILE or end > lo + rows or start >= lo + rows:
                break
            views.append(block[start - lo : end - lo])
            first = end
        for g in thread_map(self.pool, _tile_gram, views):
            self.sum += g
        tail = lo + rows - first
        if tail:
            self.pending[:tail] = block[first - lo :]
            self.n_pending = tail
            if first + tail == self.n_rows:
                self.sum += _tile_gram(self.pending[:tail])
                self.n_pending = 0

    def result(self):
        if self.next != self.n_rows or self.n_pending:  # pragma: no cover
            raise RuntimeError("Gram matrix taken before every row was added")
        upper = np.triu(self.sum)
        return upper + np.triu(upper, 1).T


class _StreamOps:
    """The interface of :class:`cooc.svd.DenseOps` for tall matrices too large
    to hold.

    ``gram`` and ``solve_upper`` go through the rows tile by tile (several
    tiles at once on the pool, one BLAS call each); ``matmul`` returns a lazy
    :class:`_Product`. Lets :func:`cooc.svd.cholesky_basis` and
    :func:`cooc.svd.small_side_svd` run unchanged on disk-backed blocks.
    """

    def __init__(self, pool, group_rows, clock=None):
        self.pool = pool
        self.group = max(_TILE, group_rows // _TILE * _TILE)
        self.clock = clock

    def groups(self, n_rows):
        return [(a, min(a + self.group, n_rows)) for a in range(0, n_rows, self.group)]

    def gram(self, tall):
        if tall.gram is None:
            acc = _GramByTiles(tall.shape[0], tall.shape[1], self.pool)
            for lo, hi in self.groups(tall.shape[0]):
                acc.add(lo, tall.read(lo, hi))
            tall.gram = acc.result()
        return tall.gram.copy()

    def solve_upper(self, tall, R):
        from cooc.svd import DenseOps  # scikit-learn's start-up cost (see imports)

        R = np.ascontiguousarray(R, dtype=np.float32)
        solver = DenseOps(None)
        groups = self.groups(tall.shape[0])
        for g, (lo, hi) in enumerate(groups):
            block = tall.read(lo, hi)
            block_map(
                lambda a, b, block=block: solver.solve_upper(block[a:b], R),
                _tiles(hi - lo),
                pool=self.pool,
            )
            tall.write(lo, block)
            if self.clock is not None:
                self.clock.update((g + 1) / len(groups))
        tall.gram = None
        return tall

    def matmul(self, tall, W):
        return _Product(tall, W, self.pool)


# -- the plan: blocks, memory ----------------------------------------------------------
def _resident_bytes(n, m, width, symmetric):
    """The resident panels (``Q``, then ``Z``; or the m-row ``A^T Q``), or the
    sketch's sign matrix before them."""
    rows = n if symmetric else max(n, m)
    return max(_Panels.stored_bytes(rows, width), 64 * m)


def _fixed_bytes(n, m, width):
    """Row pointers (int64), the two marginals with their logarithms (float64),
    and the rows of a tile waiting for the Gram matrix."""
    return 8 * (n + 1) + 16 * (n + m) + 4 * width * min(_TILE, n)


def _min_block_nnz(nnz, row_nnz=0):
    """The smallest row blocks: 64k entries, or a 16th of a small matrix, and
    never less than its longest row."""
    return max(1, row_nnz, min(_MIN_BLOCK_NNZ, -(-nnz // 16)))


def _min_block_bytes(n, nnz, width, row_nnz=0):
    """The smallest row blocks in flight, and the dense groups of the other steps."""
    return (
        _BYTES_PER_BLOCK_NNZ * _min_block_nnz(nnz, row_nnz)
        + _DENSE_SLOTS * 4 * width * min(_MIN_BLOCK_ROWS, n)
        + _GROUP_SLOTS * 4 * width * min(_TILE, n)
    )


def streaming_embed_bytes(shape, nnz, n_random, *, symmetric=True):
    """The least memory (bytes) :func:`embed_cooc_file` can work in for this matrix.

    The resident panels, the marginals and row pointers, and the smallest row
    blocks; the vocabulary, the interpreter and libraries come on top.
    """
    n, m = shape
    return (
        _resident_bytes(n, m, n_random, symmetric)
        + _fixed_bytes(n, m, n_random)
        + _min_block_bytes(n, nnz, n_random)
    )


def in_memory_embed_bytes(shape, nnz, n_random):
    """About the peak memory (bytes) of ``cooc embed`` holding the matrix.

    The float64 counts with int32 indices (12 bytes per entry), the float32
    PPMI values while the counts are held (4), the PPMI matrix and its
    transposed copy in the solver (8 each, bounded by the stored counts), and
    about five dense ``n x l`` float32 blocks of the solver (Y, Q, Z, a spare
    block and the panel copy). On the 100M-token benchmark matrix (492k words,
    224M entries, l = 450) this gives 11.6 GB against a measured peak of 9.7 GB.
    """
    n, m = shape
    return 32 * nnz + 4 * n_random * (3 * n + 2 * m) + 16 * (n + m)


def embed_fits_in_memory(path, memory: int, n_components=None, n_oversamples=None):
    """``(fits, estimate)``: whether embedding the ``.cooc`` file ``path`` with
    the matrix held in memory stays within ``memory`` bytes, by
    :func:`in_memory_embed_bytes` from the file's header (shape and entries).

    A rank that is not below the matrix size fits (the embedding then reports
    the rank), with an estimate of 0. ``cooc embed --memory`` streams the file
    when it does not fit.
    """
    # cooc.svd imports scikit-learn: 0.7 s that readers of this module skip
    from cooc.svd import default_rank, n_random_vectors

    with CoocFile(path) as cf:
        shape, nnz = cf.shape, cf.nnz
    k = default_rank(shape) if n_components is None else n_components
    if k >= min(shape):
        return True, 0
    estimate = in_memory_embed_bytes(
        shape, nnz, n_random_vectors(k, n_oversamples, shape)
    )
    return estimate <= memory, estimate


@dataclass
class _Plan:
    block_nnz: int
    block_rows: int
    group_rows: int


def _plan_memory(cf, indptr, n_random, k, memory, symmetric, token_bytes):
    """Block sizes that keep the run's data within ``memory`` bytes (None: no limit)."""
    n, m = cf.shape
    if memory is None:
        return _Plan(_MAX_BLOCK_NNZ, _MAX_BLOCK_ROWS, 8 * _TILE)
    resident = _resident_bytes(n, m, n_random, symmetric)
    fixed = _fixed_bytes(n, m, n_random) + token_bytes
    spare = memory - resident - fixed
    row_nnz = int(np.diff(indptr).max()) if n else 0
    least = _min_block_bytes(n, cf.nnz, n_random, row_nnz)
    if spare < least:
        need = resident + fixed + least
        raise InputError(
            f"memory={memory} bytes is below what the streaming embedding of "
            f"{cf.label} needs at rank {k} ({need} bytes: one {n} x {n_random} "
            "float32 block, the marginals, the vocabulary and the smallest row "
            "blocks); raise --memory or lower --rank."
        )
    # What is left above the smallest blocks: 40 % to the sparse side of the
    # row blocks, 35 % to their dense rows, 25 % to the groups of the dense steps.
    extra = spare - least
    block_nnz = min(
        _MAX_BLOCK_NNZ,
        _min_block_nnz(cf.nnz, row_nnz) + int(0.40 * extra) // _BYTES_PER_BLOCK_NNZ,
    )
    block_rows = min(
        _MAX_BLOCK_ROWS,
        _MIN_BLOCK_ROWS + int(0.35 * extra) // (_DENSE_SLOTS * 4 * n_random),
    )
    group_rows = _TILE + int(0.25 * extra) // (_GROUP_SLOTS * 4 * n_random)
    group_rows = max(_TILE, min(group_rows, 16 * _TILE) // _TILE * _TILE)
    return _Plan(
        int(block_nnz), int(max(min(_MIN_BLOCK_ROWS, n), block_rows)), int(group_rows)
    )


def _row_blocks(indptr, block_nnz, block_rows):
    """Consecutive row ranges of at most ``block_nnz`` entries (or one row) and
    ``block_rows`` rows."""
    n = indptr.shape[0] - 1
    blocks = []
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(indptr, indptr[lo] + block_nnz, "right")) - 1
        hi = min(max(hi, lo + 1), lo + block_rows, n)
        blocks.append((lo, hi))
        lo = hi
    return blocks


# -- progress and time left ------------------------------------------------------------
@dataclass
class ProgressEvent:
    """What :func:`embed_cooc_file` reports to its ``progress`` callback.

    ``stage`` is a readable label ("product 3/11: A^T Q"), ``kind`` one of
    reading, sketch, product, orthonormalisation, final_svd, writing;
    ``fraction`` of the stage done, its ``seconds`` so far, and estimates of
    the seconds left in the stage and in the whole run (None until known).
    ``done`` is set on the last event of a stage.
    """

    stage: str
    kind: str
    fraction: float
    seconds: float
    stage_left: float | None
    total_left: float | None
    done: bool = False


@dataclass
class _Stage:
    label: str
    kind: str
    work: float


@dataclass
class _Clock:
    """Times the planned stages and estimates the time left from measured rates."""

    stages: list
    callback: Callable | None = None
    interval: float = 0.5
    rates: dict = field(default_factory=lambda: dict(_DEFAULT_RATES))
    measured: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    done_work: dict = field(default_factory=dict)
    done_time: dict = field(default_factory=dict)
    index: int = -1
    start: float = 0.0
    fraction: float = 0.0
    last: float = 0.0

    def begin(self, label=None):
        self.index += 1
        if self.index >= len(self.stages):  # unplanned extra work (fallbacks)
            self.stages.append(_Stage(label or "extra", "orthonormalisation", 0.0))
        elif label is not None:
            self.stages[self.index].label = label
        self.start = time.perf_counter()
        self.fraction = 0.0
        self.last = 0.0
        self._emit(done=False)

    @property
    def current(self):
        return self.stages[self.index]

    def _rate(self, kind):
        return self.measured.get(kind, self.rates[kind])

    def update(self, fraction):
        self.fraction = min(1.0, max(0.0, fraction))
        now = time.perf_counter()
        if self.callback is not None and now - self.last >= self.interval:
            self.last = now
            self._emit(done=False)

    def end(self):
        stage = self.current
        elapsed = time.perf_counter() - self.start
        self.times[stage.kind] = self.times.get(stage.kind, 0.0) + elapsed
        if stage.work > 0 and elapsed > 0:
            # the mean rate of the stages of this kind so far (a shared machine
            # makes single stages jump)
            done = self.done_work.get(stage.kind, 0.0) + stage.work
            self.done_work[stage.kind] = done
            self.done_time[stage.kind] = self.done_time.get(stage.kind, 0.0) + elapsed
            self.measured[stage.kind] = self.done_time[stage.kind] / done
        self.fraction = 1.0
        self._emit(done=True)

    def _left(self):
        stage = self.current
        elapsed = time.perf_counter() - self.start
        f = self.fraction
        if f >= 0.05 and elapsed > 0.2:
            stage_total = elapsed / f
        else:
            stage_total = max(elapsed, stage.work * self._rate(stage.kind))
        stage_left = max(0.0, stage_total - elapsed)
        if f >= 0.05 and stage.work > 0 and stage.kind not in self.measured:
            rate_now = stage_total / stage.work
        else:
            rate_now = None
        later = 0.0
        for s in self.stages[self.index + 1 :]:
            rate = (
                rate_now
                if (rate_now is not None and s.kind == stage.kind)
                else self._rate(s.kind)
            )
            later += s.work * rate
        return stage_left, stage_left + later

    def _emit(self, done):
        if self.callback is None:
            return
        stage = self.current
        stage_left, total_left = self._left()
        if done:
            stage_left = 0.0
        self.callback(
            ProgressEvent(
                stage.label,
                stage.kind,
                self.fraction,
                time.perf_counter() - self.start,
                stage_left,
                total_left,
                done,
            )
        )


class _WeightCache:
    """The weighted row blocks of one direction (``A`` or ``A^T``), kept in a
    temporary file by the first pass that weighs them and read back by the
    later ones instead of the counts.

    A pass over the file weighs every stored count (a logarithm each for PPMI)
    and compacts the block; on the 1B-token benchmark matrix that is about 39 s
    of a pass's two threads, paid again on each of the solver's 12 passes. The
    weighted block costs 8 bytes a kept entry on disk (int32 index, float32
    value) against 12 for the counts, so the later passes also read less. The
    blocks are the very arrays the weighting produces, so the products and the
    result are the same bits with or without the cache. A block is stored as its
    local row pointers (int32), indices, then values; the file is unlinked when
    made. A failed write (a full disk) drops the cache and the passes weigh
    again.
    """

    def __init__(self, folder):
        # closed by close(), which the caller registers on its exit stack
        self.fh = tempfile.TemporaryFile(
            dir=None if folder is None else str(folder), prefix=".cooc-weights-"
        )
        self.fd = self.fh.fileno()
        self.records = []  # (lo, hi, offset, kept entries) per block
        self.end = 0
        self.complete = False
        self.broken = None  # the OSError that stopped the cache, if any

    @property
    def usable(self):
        return self.complete and self.broken is None

    def put(self, block):
        """Append a weighted block (blocks come in row order); on the writer thread."""
        if self.broken is not None:
            return
        parts = (block.indptr, block.indices[: block.nnz], block.data[: block.nnz])
        offset = self.end
        try:
            for part in parts:
                raw = np.ascontiguousarray(part).view(np.uint8).reshape(-1)
                _pwrite_all(self.fd, memoryview(raw), self.end)
                self.end += raw.size
        except OSError as exc:
            self.drop(exc)
            return
        self.records.append((block.lo, block.hi, offset, block.nnz))

    def drop(self, exc):
        self.broken = exc
        self.records = []
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)

    def read(self, b, buffers):
        """The ``b``-th block as a :class:`WeightedBlock` in ring buffers."""
        lo, hi, offset, nnz = self.records[b]
        # the buffers the weighting fills (two slots: one block read ahead),
        # so a cached pass needs no memory beyond a weighing one
        indptr = buffers.take("c_indptr", hi - lo + 1, np.int32, slots=2)
        indices = buffers.take("w_indices", nnz, np.int32, slots=2)
        data = buffers.take("w_data", nnz, np.float32, slots=2)
        for part in (indptr, indices, data):
            raw = part.view(np.uint8).reshape(-1)
            got = _pread_into(self.fd, memoryview(raw), offset)
            if got != raw.size:  # pragma: no cover - our own file
                raise OSError(f"weight cache cut short ({got} of {raw.size} bytes)")
            offset += raw.size
        return WeightedBlock(lo, hi, indptr, indices, data)

    def close(self):
        self.fh.close()


def _cache_directions(folder, n_directions, nnz, tall_bytes):
    """How many directions' weighted blocks fit on the temporary folder's disk
    beside the solver's two tall files (at most ``8 * nnz`` bytes a direction)."""
    where = str(folder) if folder is not None else tempfile.gettempdir()
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return 0
    free -= 2 * tall_bytes + _CACHE_DISK_MARGIN
    return int(max(0, min(n_directions, free // max(1, 8 * nnz))))


# -- the streamed solver ---------------------------------------------------------------
class _Source:
    """The weighted matrix as row blocks of the file, with the passes of the solver."""

    def __init__(
        self, cf, indptr, blocks, weigh, symmetric, pool, n_threads, clock, plan
    ):
        self.cf = cf
        self.indptr = indptr
        self.blocks = blocks
        self.weigh = weigh
        self.symmetric = symmetric
        self.pool = pool
        self.n_threads = n_threads
        self.clock = clock
        self.plan = plan
        self.shape = cf.shape
        self.buffers = _Buffers()
        self.bounds = _range_bounds(cf.shape[1])
        self.caches = {}  # transposed -> _WeightCache, for the directions kept

    # reading -------------------------------------------------------------------------
    def _read(self, lo, hi, crc=False, extra=None):
        p0 = int(self.indptr[lo])
        count = int(self.indptr[hi]) - p0
        idx = self.buffers.take("indices", count, np.int32, slots=2)
        dat = self.buffers.take("data", count, np.float64, slots=2)
        indices, data = self.cf.read_rows(lo, hi, self.indptr, idx, dat, crc=crc)
        side = None
        if extra is not None:
            tall, width = extra
            side = tall.read(
                lo, hi, self.buffers.take("side", (hi - lo, width), np.float32, slots=2)
            )
        return indices, data, side

    def _blocks(self, crc=False, extra=None):
        """``(lo, hi, local indptr, indices, counts, side rows)`` per block, read
        one ahead on a thread."""
        blocks = self.blocks
        with ThreadPoolExecutor(1) as reader:
            pending = (
                reader.submit(self._read, *blocks[0], crc, extra) if blocks else None
            )
            for b, (lo, hi) in enumerate(blocks):
                indices, data, side = pending.result()
                if b + 1 < len(blocks):
                    pending = reader.submit(self._read, *blocks[b + 1], crc, extra)
                local = self.indptr[lo : hi + 1] - self.indptr[lo]
                yield lo, hi, local, indices, data, side

    def _weighted(self, transposed, extra=None):
        """``(weighted block, thread pieces, side rows)`` per block (read one ahead).

        The weighting runs on the pool between the products; the first pass
        of a direction with a :class:`_WeightCache` stores its blocks there and
        the later ones read them back. Weighing the next block on a thread of
        its own beside the products was tried: in A/B runs on the 100M-token
        matrix (a loaded machine) it was no faster and used 10-20 % more CPU
        time.
        """
        total = max(1, self.cf.nnz)
        cache = self.caches.get(transposed)
        if cache is not None and cache.usable:
            if all(c.usable for c in self.caches.values()):
                # no pass weighs counts any more: give their buffers back
                self.buffers.release("indices", "data", "values")
            yield from self._cached(cache, extra)
            return
        filling = cache is not None and cache.broken is None and not cache.records
        with _Writer() as saver:
            for lo, hi, local, indices, data, side in self._blocks(extra=extra):
                pieces = row_pieces(local, 4 * self.n_threads)
                block = self.weigh(
                    self.cf, lo, hi, local, indices, data, transposed=transposed,
                    pool=self.pool, pieces=pieces, buffers=self.buffers,
                    slots=2 if filling else 1,
                )  # fmt: skip
                if filling:
                    # two slots of weighted blocks: this one is copied while
                    # the next is weighed; the submit waits for the last copy
                    saver.submit(cache.put, block)
                yield block, row_pieces(block.indptr, 4 * self.n_threads), side
                self.clock.update(int(self.indptr[hi]) / total)
        if filling:
            cache.complete = cache.broken is None

    def _cached(self, cache, extra):
        """The blocks of :meth:`_weighted` from the cache, read one ahead."""
        total = max(1, self.cf.nnz)
        records = cache.records

        def read(b):
            block = cache.read(b, self.buffers)
            side = None
            if extra is not None:
                tall, width = extra
                side = tall.read(
                    block.lo,
                    block.hi,
                    self.buffers.take(
                        "side", (block.hi - block.lo, width), np.float32, slots=2
                    ),
                )
            return block, side

        with ThreadPoolExecutor(1) as reader:
            pending = reader.submit(read, 0) if records else None
            for b in range(len(records)):
                block, side = pending.result()
                if b + 1 < len(records):
                    pending = reader.submit(read, b + 1)
                yield block, row_pieces(block.indptr, 4 * self.n_threads), side
                self.clock.update(int(self.indptr[block.hi]) / total)

    # passes ---------------------------------------------------------------------------
    def marginals(self):
        """Row and column sums of the counts (float64, scipy's bits); checks all."""
        n, m = self.shape
        rows = np.zeros(n)
        cols = np.zeros(m)
        total = max(1, self.cf.nnz)
        self.cf.start_checksums()
        for lo, hi, local, indices, data, _ in self._blocks(crc=True):
            # column sums in row order on one thread, row sums beside it
            task = (
                self.pool.submit(_row_sums_into, rows, lo, local, data)
                if self.pool
                else None
            )
            self.cf.check_rows(lo, local, indices, data, cols)
            if task is not None:
                task.result()
            else:
                _row_sums_into(rows, lo, local, data)
            self.clock.update(int(self.indptr[hi]) / total)
        self.cf.verify_checksums()
        return rows, cols

    def sketch(self, cols, signs, out_tall, n_random):
        """``Y = A S`` for the sparse sign matrix ``S``, written to ``out_tall``,
        with its Gram matrix."""
        gram = _GramByTiles(self.shape[0], n_random, self.pool)
        with _Writer() as writer:
            for block, pieces, _ in self._weighted(False):
                out = self.buffers.take(
                    "out", (block.hi - block.lo, n_random), np.float32, slots=2
                )
                block_map(
                    lambda a, b, blk=block, out=out: _kernels.csr_sparse_sign(
                        blk.indptr, blk.indices, blk.data, cols, signs, out, a, b
                    ),
                    pieces,
                    pool=self.pool,
                )
                gram.add(block.lo, out)
                writer.submit(out_tall.write, block.lo, out)
        out_tall.gram = gram.result()
        return out_tall

    def _gather_block(self, block, pieces, panels, out):
        """``out = block @ panels``, panel by panel, the pieces of rows on the pool
        (both threads in the same panel share its slices in the cache)."""
        rows = block.hi - block.lo
        scratch = self.buffers.take("scratch", (2, rows), np.int64)
        mid_bounds, long_bounds = self.bounds
        for p in range(panels.n_panels):
            c0, w = panels.columns(p)
            part = out[:, c0 : c0 + w]
            panel = panels.array[p]
            block_map(
                lambda a, b, part=part, panel=panel: panel_product(
                    block.indptr,
                    block.indices,
                    block.data,
                    panel,
                    part,
                    a,
                    b,
                    mid_bounds,
                    long_bounds,
                    scratch[0],
                    scratch[1],
                ),  # fmt: skip
                pieces,
                pool=self.pool,
            )

    def gather_pass(self, panels, out_tall, *, transposed, shift=None):
        """``out = A @ panels`` (or ``A^T @ panels`` for symmetric counts), row block by
        row block, minus ``alpha * Q`` when ``shift = (alpha, Q)``; returns the Gram."""
        n_out, width = out_tall.shape
        gram = _GramByTiles(n_out, width, self.pool)
        extra = None if shift is None else (shift[1], width)
        with _Writer() as writer:
            for block, pieces, side in self._weighted(transposed, extra=extra):
                out = self.buffers.take(
                    "out", (block.hi - block.lo, width), np.float32, slots=2
                )
                self._gather_block(block, pieces, panels, out)
                if shift is not None and shift[0] > 0:
                    # the shift, elementwise (numpy's multiply then subtract: the
                    # same rounding at every position, whatever the block)
                    side *= np.float32(shift[0])
                    out -= side
                gram.add(block.lo, out)
                writer.submit(out_tall.write, block.lo, out)
        out_tall.gram = gram.result()
        return out_tall

    def scatter_pass(self, Q, panels):
        """``panels = A^T @ Q`` for any matrix: the rows of ``Q`` (read with the blocks)
        scattered into the resident result, each thread owning some panels."""
        panels.zero()
        owners = [
            list(range(t, panels.n_panels, self.n_threads))
            for t in range(self.n_threads)
        ]
        owners = [o for o in owners if o]
        for block, _, rows in self._weighted(False, extra=(Q, Q.shape[1])):

            def run(mine, block=block, rows=rows):
                for p in mine:
                    c0, w = panels.columns(p)
                    scatter_panel(
                        block.indptr, block.indices, block.data, rows, c0, w,
                        panels.array[p], 0, block.hi - block.lo,
                    )  # fmt: skip

            thread_map(self.pool, run, owners)
        panels.gram = None
        return panels

    def load(self, tall, panels, group_rows):
        """Copy a tall matrix from disk into the resident panels."""
        n = tall.shape[0]
        for lo in range(0, n, group_rows):
            hi = min(lo + group_rows, n)
            panels.store(lo, tall.read(lo, hi))


def _range_bounds(n_cols):
    """Column bounds of the ranges of mid and long rows: every 32k columns, and for
    mid rows of a matrix of more than 16 such ranges, ranges doubling from 32k."""
    even = np.array([*range(RANGE_COLS, n_cols, RANGE_COLS), n_cols], dtype=np.int64)
    if n_cols <= 16 * RANGE_COLS:
        return even, even
    doubling = []
    edge = RANGE_COLS
    while edge < n_cols:
        doubling.append(edge)
        edge *= 2
    return np.array([*doubling, n_cols], dtype=np.int64), even


class _Writer:
    """Writes row blocks on a thread, one at a time (the next submit waits)."""

    def __enter__(self):
        self.pool = ThreadPoolExecutor(1)
        self.pending = None
        return self

    def submit(self, fn, *args):
        self.wait()
        self.pending = self.pool.submit(fn, *args)

    def wait(self):
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.wait()
        finally:
            self.pool.shutdown(wait=True)


def _tsqr(tall, ops):
    """Tall-skinny QR by groups of rows: ``R`` and a lazy orthonormal ``Q``.

    Each group is factored on its own, the stacked ``R`` factors once more;
    reading a group of ``Q`` factors the group again (same bits) and applies
    its piece of the second factor. For blocks too ill-conditioned for the
    Gram route, where the in-memory solver uses LAPACK on the whole block.
    """
    groups = ops.groups(tall.shape[0])
    rs = []
    for lo, hi in groups:
        block = tall.read(lo, hi)
        # mode "r" gives the full (rows x l) factor; its rows past l are zero
        rs.append(linalg.qr(block, mode="r", check_finite=False)[0][: min(block.shape)])
    sizes = [r.shape[0] for r in rs]
    Qs, R = linalg.qr(
        np.vstack(rs).astype(np.float64), mode="economic", check_finite=False
    )
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pieces = {
        g: np.ascontiguousarray(Qs[offsets[i] : offsets[i + 1]], dtype=np.float32)
        for i, g in enumerate(groups)
    }

    class _TSQRBasis:
        dtype = np.dtype(np.float32)
        shape = tall.shape
        gram = None

        def read(self, lo, hi, out=None):
            q = linalg.qr(tall.read(lo, hi), mode="economic", check_finite=False)[0]
            res = q @ pieces[(lo, hi)]
            if out is not None:
                out[...] = res
                return out
            return np.ascontiguousarray(res, dtype=np.float32)

    return _TSQRBasis(), R


def _orthonormalise_tsqr(tall, ops, clock):
    """Replace ``tall`` (a file) by an orthonormal basis of its columns, by TSQR."""
    basis, _ = _tsqr(tall, ops)
    groups = ops.groups(tall.shape[0])
    # a group's Q depends only on its own rows, which are read before they are
    # overwritten
    for g, (lo, hi) in enumerate(groups):
        tall.write(lo, basis.read(lo, hi))
        clock.update((g + 1) / len(groups))
    tall.gram = None
    return tall


def _small_side(Bt, k, ops):
    """:func:`cooc.svd.small_side_svd` of a tall block, by tiles; TSQR when the
    Gram route is refused (where svd.py uses LAPACK on the whole block)."""
    # scikit-learn's start-up cost (see the imports)
    from cooc.svd import gram_usable, small_side_svd

    w = linalg.eigvalsh(ops.gram(Bt), check_finite=False)[::-1]
    if gram_usable(w, Bt.dtype):
        return small_side_svd(Bt, k, ops)
    basis, R = _tsqr(Bt, ops)
    Ur, S, Vrt = linalg.svd(R, full_matrices=False, check_finite=False)
    return (
        _Product(basis, Ur[:, :k], ops.pool),
        S.astype(np.float64),
        Vrt.T.astype(np.float64),
    )


def _streamed_svd(src, k, n_random, *, n_iter, random_state, work, ops, clock):
    """The steps of :func:`cooc.svd.randomized_operator_svd` on the streamed matrix.

    Returns ``(U, S, Ub)``: lazy tall ``n x k`` and ``m x k`` factors (left and
    right singular vectors, unflipped) and the ``n_random`` singular values.
    """
    # scikit-learn's start-up cost (see the imports)
    from cooc.svd import cholesky_basis, sparse_sign

    n, m = src.shape
    files = work.files
    cols, signs = sparse_sign(random_state, m, n_random, np.float32)
    clock.begin()
    Y = src.sketch(cols, signs, files[0], n_random)
    clock.end()
    del cols, signs
    panels = _Panels(n if src.symmetric else max(n, m), n_random)
    alpha = 0.0
    Q = None
    for step in range(n_iter + 1):
        if step > 0:
            Y = files[1] if Q is files[0] else files[0]
            if src.symmetric:
                clock.begin()
                src.load(Q, panels, src.plan.group_rows)
                src.gather_pass(panels, Y, transposed=True)  # Z = A^T Q, in Y's file
                clock.end()
                clock.begin()
                src.load(Y, panels, src.plan.group_rows)
            else:
                clock.begin()
                src.scatter_pass(Q, panels)  # Z = A^T Q, resident
                clock.end()
                clock.begin()
            src.gather_pass(panels, Y, transposed=False, shift=(alpha, Q))
            clock.end()
        clock.begin()
        found = cholesky_basis(Y, ops)  # on success the basis overwrites Y
        if found is None:
            # Too ill-conditioned for the Gram route: an orthonormal basis by
            # TSQR instead (svd.py takes LU there; any basis of the span does).
            _orthonormalise_tsqr(Y, ops, clock)
        else:
            S_step = found[1]
            if step > 0 and S_step[-1] > alpha:
                alpha = (alpha + S_step[-1]) / 2
        clock.end()
        Q = Y
    # X^T Q, shape (m, l)
    clock.begin()
    if src.symmetric:
        src.load(Q, panels, src.plan.group_rows)
        Bt = files[1] if Q is files[0] else files[0]
        src.gather_pass(panels, Bt, transposed=True)
        del panels
    else:
        Bt = src.scatter_pass(Q, panels)
        Bt.shape = (m, n_random)
    src.buffers = _Buffers()  # the row blocks' buffers are not needed any more
    clock.end()
    clock.begin()
    Ub, S, Vb = _small_side(Bt, k, ops)
    U = _Product(Q, Vb[:, :k], ops.pool)
    return U, S[:k], Ub, Bt


class _Work:
    """Two temporary ``n x l`` float32 files (unlinked at once: nothing stays)."""

    def __init__(self, folder, n, width):
        folder = None if folder is None else str(folder)
        # closed by close(), which the caller registers on its exit stack
        self._fhs = [
            tempfile.TemporaryFile(dir=folder, prefix=".cooc-embed-")
            for _ in range(2)
        ]
        self.files = [_FileTall(fh, n, width) for fh in self._fhs]

    def close(self):
        for fh in self._fhs:
            fh.close()


# -- writing the vectors ---------------------------------------------------------------
class _VectorWriter:
    """Writes vectors block by block in the format :meth:`Embeddings.save` picks
    from the extension (``.npz``, ``.bin``, else word2vec text), atomically; or
    collects them (``output`` None)."""

    def __init__(self, output, tokens, dim):
        self.output = None if output is None else Path(output)
        self.tokens = tokens
        self.dim = dim
        self.suffix = "" if output is None else base_suffix(self.output)
        self.rows = []
        self.keep = None  # a row mask: write only these rows (None: all)
        self.singular_values = None  # written to .npz files when set

    def kept_tokens(self):
        if self.keep is None:
            return list(self.tokens)
        return [t for t, k in zip(self.tokens, self.keep, strict=True) if k]

    @property
    def is_text(self):
        return self.output is not None and self.suffix not in (".npz", ".bin")

    def check(self):
        """What saving would refuse, checked before the long computation."""
        if len(set(self.tokens)) != len(self.tokens):
            Embeddings(
                self.tokens, np.zeros((len(self.tokens), 0))
            )  # names the duplicate
        if self.output is None:
            return
        folder = self.output.parent if str(self.output.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(
                f"output folder {str(folder)!r} does not exist; create it first."
            )
        if self.suffix == ".npz" and compression_of(self.output):
            raise InputError(
                f"{self.output}: .npz vectors are not compressed further; write "
                ".npz, or .txt.gz / .bin.gz."
            )
        if self.suffix != ".npz":
            check_word2vec_tokens(self.tokens)

    @contextlib.contextmanager
    def open(self):
        """Yields ``put(lo, vectors)``, called for consecutive row blocks; only
        the rows of ``keep`` are written."""
        with self._open() as put:
            if self.keep is None:
                yield put
            else:
                keep = self.keep
                offsets = np.concatenate([[0], np.cumsum(keep)])

                def put_kept(lo, vectors):
                    mask = keep[lo : lo + vectors.shape[0]]
                    put(int(offsets[lo]), vectors[mask])

                yield put_kept

    @contextlib.contextmanager
    def _open(self):
        if self.output is None:
            self.rows = []
            yield lambda lo, vectors: self.rows.append(vectors.copy())
            return
        tokens = self.kept_tokens()
        n = len(tokens)
        with atomic_write(self.output, "wb", compress=True) as fh:
            if self.suffix == ".npz":
                with zipfile.ZipFile(
                    fh, "w", zipfile.ZIP_STORED, allowZip64=True
                ) as zf:
                    # the members numpy.savez writes: vectors, then tokens
                    with zf.open("vectors.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array_header_1_0(
                            member,
                            {
                                "descr": "<f4",
                                "fortran_order": False,
                                "shape": (n, self.dim),
                            },
                        )
                        yield lambda lo, vectors: member.write(
                            np.ascontiguousarray(vectors, dtype="<f4")
                            .reshape(-1)
                            .view(np.uint8)
                        )
                    # then the tokens as UTF-8 bytes and offsets, as Embeddings.save
                    for key, array in npz_token_arrays(tokens).items():
                        write_npy_member(zf, key, array.dtype, len(array), [array])
                    if self.singular_values is not None:
                        with zf.open("singular_values.npy", "w") as member:
                            np.lib.format.write_array(
                                member, np.asarray(self.singular_values)
                            )
            else:
                write = (
                    write_word2vec_binary
                    if self.suffix == ".bin"
                    else write_word2vec_text
                )
                fh.write(f"{n} {self.dim}\n".encode())
                yield lambda lo, vectors: write(
                    fh, tokens[lo : lo + vectors.shape[0]], vectors
                )


# -- the public entry point ------------------------------------------------------------
def iter_weighted_blocks(
    path,
    *,
    weighting="ppmi",
    context_alpha=0.75,
    shift=1.0,
    transposed=False,
    block_nnz=None,
    block_rows=None,
    n_jobs=None,
):
    """Row blocks of the weighted matrix of a ``.cooc`` file, never loading it whole.

    One first pass reads and checks the file (row pointers, indices, counts,
    checksums) and takes the marginals; then the row blocks are yielded as
    :class:`WeightedBlock` (float32 values, int32 indices, local row pointers).
    PPMI values are the same bits as :func:`cooc.weighting.ppmi` gives for
    those rows. ``transposed`` (PPMI of a symmetric count matrix only) gives
    the rows of the transposed weighted matrix instead.
    """

    n_threads = parallel.n_threads(n_jobs)
    with (
        CoocFile(path) as cf,
        ThreadPoolExecutor(n_threads)
        if n_threads > 1
        else contextlib.nullcontext() as pool,
    ):
        if transposed and not cf.symmetric_counts:
            raise InputError(
                f"{cf.label}: transposed blocks need a symmetric count matrix."
            )
        indptr = cf.indptr()
        cf.tokens()  # (not used here, but a file with a damaged vocabulary is refused)
        blocks = _row_blocks(
            indptr, block_nnz or _MAX_BLOCK_NNZ, block_rows or _MAX_BLOCK_ROWS
        )
        clock = _Clock([_Stage("marginals", "reading", 0.0)])
        src = _Source(cf, indptr, blocks, None, False, pool, n_threads, clock, None)
        clock.begin()
        rows, cols = src.marginals()
        clock.end()
        src.weigh = _Weighting(
            weighting, rows, cols, context_alpha=context_alpha, shift=shift
        )
        clock.stages.append(_Stage("blocks", "product", 0.0))
        clock.begin()
        for block, _, _ in src._weighted(transposed):
            yield WeightedBlock(
                block.lo,
                block.hi,
                block.indptr.copy(),
                block.indices.copy(),
                block.data.copy(),
            )


@dataclass
class StreamedEmbedding:
    """The result of :func:`embed_cooc_file`.

    ``embeddings`` holds the vectors when no output file was given (else
    None: they are in the file); ``singular_values`` (float32, descending);
    ``stages`` the seconds per kind of stage; ``blocks`` how many row blocks
    each pass read; ``symmetric`` whether ``A^T`` products were gathers over
    the same row blocks (symmetric counts) rather than scatters.
    """

    embeddings: object
    singular_values: np.ndarray
    stages: dict
    n_words: int
    rank: int
    blocks: int
    symmetric: bool
    weight_cache: dict = field(default_factory=dict)
    dropped: list = field(default_factory=list)


def _plan_stages(cf, n_random, k, n_iter, symmetric, text_output):
    n, m = cf.shape
    nnz = cf.nnz
    n_products = 2 * n_iter + 2
    file_bytes = nnz * (
        cf.members["indices"].dtype.itemsize + cf.members["data"].dtype.itemsize
    )
    stages = [
        _Stage("marginals: reading and checking the file", "reading", file_bytes),
        _Stage(f"product 1/{n_products}: A·Ω (sketch)", "sketch", nnz),
        _Stage(
            f"orthonormalisation 1/{n_iter + 1}",
            "orthonormalisation",
            n * n_random**2,
        ),
    ]
    product = 2
    for step in range(1, n_iter + 1):
        stages.append(
            _Stage(f"product {product}/{n_products}: Aᵀ·Q", "product", nnz * n_random)
        )
        stages.append(
            _Stage(
                f"product {product + 1}/{n_products}: A·Z", "product", nnz * n_random
            )
        )
        product += 2
        stages.append(
            _Stage(
                f"orthonormalisation {step + 1}/{n_iter + 1}",
                "orthonormalisation",
                n * n_random**2,
            )
        )
    stages.append(
        _Stage(
            f"product {n_products}/{n_products}: Aᵀ·Q (final)",
            "product",
            nnz * n_random,
        )
    )
    stages.append(
        _Stage(
            "final SVD and signs", "final_svd", max(n, m) * n_random * (n_random + k)
        )
    )
    stages.append(_Stage("writing", "writing", n * k))
    rates = dict(_DEFAULT_RATES)
    if text_output:
        rates["writing"] = _TEXT_WRITE_RATE
    return stages, rates


def embed_cooc_file(
    path,
    output=None,
    n_components=None,
    *,
    weighting="ppmi",
    context_alpha=0.75,
    shift=1.0,
    power=None,
    add_context=None,
    normalize=True,
    n_iter=None,
    n_oversamples=None,
    random_state=0,
    memory=None,
    temp_dir=None,
    n_jobs=None,
    progress=None,
    block_nnz=None,
    block_rows=None,
    cache_weights=True,
    drop_empty=True,
) -> StreamedEmbedding:
    """Word vectors of a ``.cooc`` file without loading its matrix.

    The same vectors as :func:`cooc.pipeline.embed_cooccurrence` (weighting,
    randomized truncated SVD, eigenvalue power, w + c, unit rows) up to float
    rounding, computed from row blocks of the file: one pass for the marginals
    (which also checks the file), then one pass per product of the randomized
    SVD (``2 * n_iter + 2``). Memory: one ``n x l`` float32 block
    (``l = n_components + oversamples``), the marginals, and row blocks sized
    to fit ``memory`` (bytes; None: blocks of up to 16M entries). Two
    temporary ``n x l`` float32 files go to ``temp_dir`` (default: the output's
    folder, else the system's temporary folder); they are unlinked when made,
    so nothing stays behind.

    ``output`` (``.npz``, ``.bin``, else word2vec text) receives the vectors
    block by block; without it they are returned in ``embeddings``.
    ``progress(event)`` receives a :class:`ProgressEvent` as each stage runs,
    with estimates of the time left. ``block_nnz`` and ``block_rows`` cap the
    row blocks (the result does not depend on them, nor on ``n_jobs``).
    ``cache_weights`` keeps the weighted blocks of each direction in a
    temporary file from their first pass on, when ``temp_dir``'s disk has room
    for them (at most 8 bytes a stored entry a direction), instead of weighing
    the counts again on every pass; the result is the same either way.
    ``drop_empty`` leaves out the words whose vectors are all zero (as
    :func:`cooc.pipeline.embed_cooccurrence` does); they are listed in the
    result's ``dropped``.

    Raises ValueError, naming the file, for a damaged file (bad zip or
    ``.npy`` headers, row pointers, indices, counts or checksums), a rank out
    of range, or a budget too small for one ``n x l`` block.
    """
    # scikit-learn's start-up cost (see the imports)
    from sklearn.utils import check_random_state

    from cooc.svd import (
        DEFAULT_N_ITER,
        DEFAULT_POWER,
        check_embedding_params,
        check_embedding_shape,
        check_rank,
        n_random_vectors,
        scale_by_power,
    )
    from cooc.weighting import check_ppmi_params

    power = DEFAULT_POWER if power is None else power
    check_embedding_params(power=power, n_iter=n_iter, n_oversamples=n_oversamples)
    check_ppmi_params(context_alpha, shift)
    n_iter = DEFAULT_N_ITER if n_iter is None else n_iter
    if weighting not in ("ppmi", "log", "none"):
        raise InputError(
            f"weighting={weighting!r} is not one of ('ppmi', 'log', 'none')."
        )
    n_threads = parallel.n_threads(n_jobs)
    rng = check_random_state(random_state)
    with contextlib.ExitStack() as stack:
        cf = stack.enter_context(CoocFile(path))
        n, m = cf.shape
        tokens = cf.tokens()
        k = check_rank(
            n_components, types.SimpleNamespace(shape=cf.shape, vocabulary=tokens)
        )
        if add_context is None:
            add_context = n == m
        check_embedding_shape(k, cf.shape, add_context=add_context)
        n_random = n_random_vectors(k, n_oversamples, cf.shape)
        writer = _VectorWriter(output, tokens, k)
        writer.check()
        indptr = cf.indptr()
        symmetric = cf.symmetric_counts
        token_bytes = cf.members["tokens"].size + 80 * n
        plan = _plan_memory(cf, indptr, n_random, k, memory, symmetric, token_bytes)
        blocks = _row_blocks(
            indptr, block_nnz or plan.block_nnz, block_rows or plan.block_rows
        )
        stages, rates = _plan_stages(cf, n_random, k, n_iter, symmetric, writer.is_text)
        clock = _Clock(stages, progress, rates=rates)
        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        pool = (
            stack.enter_context(ThreadPoolExecutor(n_threads))
            if n_threads > 1
            else None
        )
        src = _Source(cf, indptr, blocks, None, symmetric, pool, n_threads, clock, plan)
        clock.begin()
        row_sums, col_sums = src.marginals()
        clock.end()
        if symmetric and not np.allclose(row_sums, col_sums, rtol=1e-9, atol=0):
            # The settings say symmetric, the sums disagree: take the general path.
            src.symmetric = symmetric = False
        src.weigh = _Weighting(
            weighting, row_sums, col_sums, context_alpha=context_alpha, shift=shift
        )
        del row_sums, col_sums
        if temp_dir is None and output is not None:
            temp_dir = Path(output).parent if str(Path(output).parent) else Path(".")
        work = _Work(temp_dir, n, n_random)
        stack.callback(work.close)
        # A^T is only gathered (the second direction) for symmetric counts; a
        # direction is worth caching when two or more passes weigh it.
        directions = [False, True] if symmetric else [False]
        if not cache_weights or n_iter < 1:
            directions = []
        kept = _cache_directions(temp_dir, len(directions), cf.nnz, 4 * n * n_random)
        for transposed in directions[:kept]:
            cache = _WeightCache(temp_dir)
            stack.callback(cache.close)
            src.caches[transposed] = cache
        ops = _StreamOps(pool, plan.group_rows, clock)
        U, S, Ub, Bt = _streamed_svd(
            src, k, n_random, n_iter=n_iter, random_state=rng, work=work, ops=ops,
            clock=clock,
        )  # fmt: skip
        ops.clock = None
        # svd_flip (u-based), eigenvalue power and w + c as svd_embed does them:
        # S in the matrix's dtype, scale = S**power, vectors = U*scale (+ V*scale),
        # with the column signs applied afterwards (a sign of +-1 commutes
        # exactly with the products and the sum).
        S = np.asarray(S, dtype=np.float32)
        scale = scale_by_power(S, power)
        Q_file = U.base
        stash = Q_file.with_width(k)  # packed over the rows of Q already read
        best_abs = np.full(k, -1.0, dtype=np.float32)
        best = np.zeros(k, dtype=np.float32)
        groups = ops.groups(n)
        keep = np.ones(n, dtype=bool)  # rows with a non-zero vector
        for g, (lo, hi) in enumerate(groups):
            u = U.read(lo, hi)
            top = np.argmax(np.abs(u), axis=0)
            values = u[top, np.arange(k)]
            better = np.abs(values) > best_abs
            best_abs[better] = np.abs(values[better])
            best[better] = values[better]
            vectors = u * scale
            if add_context:
                vectors += Ub.read(lo, hi) * scale
            if drop_empty:
                keep[lo:hi] = np.any(vectors != 0, axis=1)
            stash.write(lo, vectors)
            clock.update((g + 1) / len(groups))
        signs = np.sign(best).astype(np.float32)
        clock.end()
        del Bt, Ub
        dropped = [tokens[i] for i in np.flatnonzero(~keep)]
        writer.keep = None if not dropped else keep
        writer.singular_values = S
        clock.begin()
        with writer.open() as put:
            for g, (lo, hi) in enumerate(groups):
                vectors = stash.read(lo, hi)
                vectors *= signs
                if normalize:
                    vectors = unit_rows(vectors)
                put(lo, vectors)
                clock.update((g + 1) / len(groups))
        clock.end()
        embeddings = None
        if output is None:
            embeddings = Embeddings(
                writer.kept_tokens(),
                np.vstack(writer.rows) if writer.rows else np.zeros((0, k)),
            )
            embeddings.dropped = dropped
            embeddings.singular_values = S
        caches = list(src.caches.values())
        return StreamedEmbedding(
            embeddings,
            S,
            {key: round(v, 3) for key, v in clock.times.items()},
            n,
            k,
            len(blocks),
            symmetric,
            {
                "directions": sum(c.usable for c in caches),
                "skipped_for_space": len(directions) - kept,
                "bytes": sum(c.end for c in caches if c.usable),
                "dropped": next((str(c.broken) for c in caches if c.broken), None),
            },
            dropped,
        )
