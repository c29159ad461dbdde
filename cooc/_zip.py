"""A ZIP_STORED writer for members whose sizes are known before their bytes.

``zipfile`` writes a member from start to end, one member at a time. The
out-of-core build knows the size of every array of a ``.cooc`` file once its
pairs are merged, but produces the column indices and the values of the
matrix together, row band by row band, possibly in parallel. This writer
lays the archive out first (each member's header and body at a fixed
offset), lets the caller ``pwrite`` any part of any body in any order, and
writes the headers, with the CRC-32 the caller supplies, when it closes.

The archive is a plain zip64 archive of stored members, which ``zipfile`` and
``numpy.load`` read like any other. Timestamps are fixed (1980-01-01), so the
same content gives the same bytes. Only this module and :mod:`zipfile` know
the layout; nothing here depends on the rest of cooc.
"""

from __future__ import annotations

import os
import struct
import zlib

from cooc.errors import InputError

_LOCAL = struct.Struct("<IHHHHHIIIHH")  # local file header, then name and extra
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # central directory entry
_ZIP64_EXTRA_LOCAL = struct.Struct("<HHQQ")  # id 1: sizes
_ZIP64_EXTRA_CENTRAL = struct.Struct("<HHQQQ")  # id 1: sizes, header offset
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 45  # zip64
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_MAX32 = 0xFFFFFFFF


def _libc_sync_file_range():
    """Linux's ``sync_file_range`` through ctypes, or None elsewhere."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _libc_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, n: int) -> None:
    """Ask the kernel to start writing ``n`` bytes at ``offset`` of ``fd`` to
    disk now, without waiting: the final ``fsync`` then waits for less. A hint
    only (nothing happens where the call is missing or fails)."""
    if _SYNC_FILE_RANGE is not None and n > 0:
        _SYNC_FILE_RANGE(fd, offset, n, _SYNC_FILE_RANGE_WRITE)


def pwrite_all(fd: int, data, offset: int) -> None:
    """``os.pwrite`` until every byte of ``data`` is written."""
    view = memoryview(data).cast("B")
    while view.nbytes:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


class _Member:
    __slots__ = ("crc", "data_offset", "header_offset", "name", "size")

    def __init__(self, name: bytes, header_offset: int, size: int):
        self.name = name
        self.header_offset = header_offset
        self.data_offset = header_offset + _LOCAL.size + len(name)
        self.data_offset += _ZIP64_EXTRA_LOCAL.size
        self.size = size
        self.crc = None


class PresizedZip:
    """Lay out members of known sizes in ``fh`` (a new file open for writing),
    fill their bodies with :meth:`write_at`, then :meth:`close`.

    ``reserve(name, size)`` returns the file offset of the member's body;
    ``set_crc(name, crc)`` records the CRC-32 of its complete body (zlib's,
    see :func:`crc32_combine` to join CRCs of parts written separately).
    """

    def __init__(self, fh):
        self.fd = fh.fileno()
        self.end = 0
        self.members: dict[str, _Member] = {}

    def reserve(self, name: str, size: int) -> int:
        if name in self.members:
            raise InputError(f"member {name!r} reserved twice")
        m = _Member(name.encode("ascii"), self.end, int(size))
        self.members[name] = m
        self.end = m.data_offset + m.size
        return m.data_offset

    def write_at(self, offset: int, data) -> None:
        pwrite_all(self.fd, data, offset)
        start_writeback(self.fd, offset, memoryview(data).nbytes)

    def set_crc(self, name: str, crc: int) -> None:
        self.members[name].crc = int(crc) & _MAX32

    def add(self, name: str, data) -> None:
        """Reserve, write and checksum a member in one go."""
        data = memoryview(data).cast("B")
        offset = self.reserve(name, data.nbytes)
        self.write_at(offset, data)
        self.set_crc(name, zlib.crc32(data))

    def close(self) -> None:
        central = bytearray()
        for m in self.members.values():
            if m.crc is None:
                raise RuntimeError(f"member {m.name!r} has no CRC-32")
            local = _LOCAL.pack(
                0x04034B50,
                _VERSION,
                0,
                0,
                0,
                _DOS_DATE,
                m.crc,
                _MAX32,
                _MAX32,
                len(m.name),
                _ZIP64_EXTRA_LOCAL.size,
            )
            extra = _ZIP64_EXTRA_LOCAL.pack(1, 16, m.size, m.size)
            pwrite_all(self.fd, local + m.name + extra, m.header_offset)
            central += _CENTRAL.pack(
                0x02014B50,
                (3 << 8) | _VERSION,
                _VERSION,
                0,
                0,
                0,
                _DOS_DATE,
                m.crc,
                _MAX32,
                _MAX32,
                len(m.name),
                _ZIP64_EXTRA_CENTRAL.size,
                0,
                0,
                0,
                (0o100644 << 16),
                _MAX32,
            )
            central += m.name
            central += _ZIP64_EXTRA_CENTRAL.pack(1, 24, m.size, m.size, m.header_offset)
        n = len(self.members)
        cd_offset = self.end
        end64_offset = cd_offset + len(central)
        tail = _END64.pack(
            0x06064B50,
            _END64.size - 12,
            (3 << 8) | _VERSION,
            _VERSION,
            0,
            0,
            n,
            n,
            len(central),
            cd_offset,
        )
        tail += _LOCATOR64.pack(0x07064B50, 0, end64_offset, 1)
        tail += _END.pack(
            0x06054B50,
            0,
            0,
            min(n, 0xFFFF),
            min(n, 0xFFFF),
            min(len(central), _MAX32),
            min(cd_offset, _MAX32),
            0,
        )
        pwrite_all(self.fd, bytes(central) + tail, cd_offset)
        os.ftruncate(self.fd, end64_offset + len(tail))


_POLY = 0xEDB88320  # CRC-32's polynomial, reflected


def _multmodp(a: int, b: int) -> int:
    """``a * b`` modulo CRC-32's polynomial (reflected: bit 31 is x^0)."""
    m = 1 << 31
    p = 0
    while m and a & ((m << 1) - 1):
        if a & m:
            p ^= b
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _x2n_table() -> list[int]:
    """``x^(2^k)`` modulo the polynomial, k = 0..31."""
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return table


_X2N = _x2n_table()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``.

    zlib's ``crc32_combine``: appending ``len2`` zero bytes multiplies the CRC
    register by ``x^(8 * len2)`` modulo the polynomial, the product of the
    table's ``x^(2^k)`` for the bits of ``8 * len2``; the result is XORed with
    ``crc2``. About 0.1 ms (readers check a member's recorded CRC-32 against
    its zip CRC-32 with it, without a pass over the bytes).
    """
    if len2 <= 0:
        return crc1
    p, k = 1 << 31, 3  # x^0; len2 counts bytes, and 8 = 2^3
    while len2:
        if len2 & 1:
            p = _multmodp(_X2N[k & 31], p)
        len2 >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2
