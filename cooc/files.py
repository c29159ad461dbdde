"""Atomic writes and compressed text by name (imports only cooc.errors).

Every writer in cooc goes through :func:`atomic_write`: the data is written to
a temporary file in the target folder and renamed into place only once it is
complete, so an interrupted run leaves either the old file or none, never a
truncated one. Text files whose names end in ``.gz``, ``.bz2`` or ``.xz`` are
compressed on the way out (``compress=True``) and read back decompressed
(:func:`open_input`, :func:`read_all_bytes`).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cooc.errors import InputError

__all__ = [
    "COMPRESSIONS",
    "atomic_write",
    "base_suffix",
    "compression_of",
    "open_input",
    "read_all_bytes",
]


# Compressed text by extension, for every text file cooc reads or writes.
COMPRESSIONS = (".gz", ".bz2", ".xz")


def compression_of(path) -> str | None:
    """``".gz"``, ``".bz2"`` or ``".xz"`` when the file name ends so, else None."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in COMPRESSIONS else None


def base_suffix(path) -> str:
    """The file's extension under any compression: ``.txt`` for ``v.txt.gz``."""
    path = Path(path)
    if compression_of(path):
        path = path.with_suffix("")
    return path.suffix.lower()


def _compressor(fh, compression):
    import bz2
    import gzip
    import lzma

    if compression == ".gz":
        # no name and mtime 0 in the header: the same bytes for the same data
        return gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0)
    if compression == ".bz2":
        return bz2.BZ2File(fh, "wb")
    return lzma.LZMAFile(fh, "wb")


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """The mode the written file gets: that of the regular file it replaces,
    else what ``open()`` would give a new one (0666 less the umask)."""
    with contextlib.suppress(OSError):
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", *, compress: bool = False,
    **open_kwargs,
) -> Iterator[IO]:  # fmt: skip
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is
    removed and ``path`` is left untouched. The file gets the mode of the
    file it replaces, or the umask's default for a new one. With
    ``compress``, a name ending in ``.gz``, ``.bz2`` or ``.xz`` is written
    compressed (text modes encode first, as ``open`` would).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"output folder {str(folder)!r} does not exist; create it first."
        )
    compression = compression_of(path) if compress else None
    tmp = None
    try:
        # The name is chosen before the file is made, inside the try: a signal
        # arriving right after the file is made (SIGTERM raises in the main
        # thread) still finds the name and removes it.
        while True:
            tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                continue
        if compression is None:
            with os.fdopen(fd, mode, **open_kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
        else:
            with os.fdopen(fd, "wb") as raw:
                with _compressor(raw, compression) as packed:
                    if "b" in mode:
                        yield packed
                    else:
                        text = io.TextIOWrapper(packed, **open_kwargs)
                        yield text
                        text.flush()
                        text.detach()
                raw.flush()
                os.fsync(raw.fileno())
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def open_input(path, mode: str = "rb", **open_kwargs) -> IO:
    """Open a file for reading, decompressing ``.gz``/``.bz2``/``.xz`` by its name."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(
        compression_of(path), open
    )
    if "b" not in mode and opener is not open:
        mode = mode.replace("r", "rt") if "t" not in mode else mode
    return opener(path, mode, **open_kwargs)


def read_all_bytes(path) -> bytes:
    """The whole content of a file, decompressed by its name; a damaged
    compressed file raises ValueError naming it."""
    import lzma

    compression = compression_of(path)
    try:
        with open_input(path, "rb") as fh:
            return fh.read()
    except (EOFError, OSError, lzma.LZMAError) as exc:
        if compression is None or isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        raise InputError(
            f"{os.fspath(path)}: not a valid {compression} file ({exc or 'cut short'})."
        ) from None
