"""Atomic writes and compressed text by name (imports only cooc.errors).

Every writer in cooc goes through :func:`atomic_write`: the data is written to
a temporary file in the target folder and renamed into place only once it is
complete, so an interrupted run leaves either the old file or none, never a
truncated one. Text files whose names end in ``.gz``, ``.bz2`` or ``.xz`` are
compressed on the way out (``compress=True``) and read back decompressed
(:func:`open_input`, :func:`read_all_bytes`).

An output replaces only a regular file. A symbolic link is written through, as
a shell redirect does: the temporary file goes beside the link's target and is
renamed over the target, and the link stays. A directory, a device, a FIFO or a
socket is refused (:func:`output_target`): renaming over it would replace it,
and writing into it could not be atomic. An OS error about the output (its
folder not writable, a read-only file system, a full disk) names the output.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cooc.errors import InputError

__all__ = [
    "COMPRESSIONS",
    "atomic_write",
    "base_suffix",
    "check_output",
    "check_writable_folder",
    "compression_of",
    "decompression_error",
    "open_input",
    "output_target",
    "read_all_bytes",
    "reading_compressed",
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


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def output_target(path) -> Path:
    """The regular file an output named ``path`` is written to.

    ``path`` itself, or the file a symbolic link at ``path`` points to
    (through any chain of links; a dangling link's target is created, as a
    shell redirect would). Raises :class:`InputError` when ``path`` is, or
    points to, a directory, a device, a FIFO or a socket, or is a loop of
    links: renaming the finished output over it would replace it.
    """
    path = Path(path)
    name = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise InputError(
            f"output {name!r} is a loop of symbolic links; name a regular file."
        ) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(
            f"output {name!r} is {_kind(mode)}, not a regular file: cooc writes an "
            "output to a temporary file and renames it over the target, which would "
            "replace it; name a regular file."
        )
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _writable(folder: Path) -> bool:
    """Whether this process may create files in ``folder``, as access(2) says."""
    extra = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    return os.access(folder, os.W_OK | os.X_OK, **extra)


def _read_only(folder: Path) -> bool:
    """Whether ``folder`` is on a file system mounted read-only."""
    with contextlib.suppress(OSError, AttributeError):
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    return False


def _cannot_create(name: str, folder: Path, code: int) -> OSError:
    """The OSError (a PermissionError for EACCES and EPERM) of a file ``name``
    that cannot be made in ``folder``, with ``name`` as its filename."""
    where = os.fspath(folder)
    detail = "" if where == name else f" (cannot create files in {where!r})"
    return OSError(code, f"{os.strerror(code)}{detail}", name)


def check_writable_folder(folder) -> None:
    """Raise when no file can be made in the existing folder ``folder``: a
    PermissionError, or an OSError with errno EROFS on a read-only file
    system, naming the folder (a check made before the work starts)."""
    folder = Path(folder)
    if not _writable(folder):
        code = errno.EROFS if _read_only(folder) else errno.EACCES
        raise _cannot_create(os.fspath(folder), folder, code)


def check_output(path) -> Path:
    """Check, before the work starts, that an output can be written at ``path``.

    Returns its :func:`output_target`. Raises :class:`InputError` when it
    is not a regular file or its folder does not exist, and a
    PermissionError (an OSError with errno EROFS on a read-only file system)
    naming ``path`` when its folder is not writable.
    """
    target = output_target(path)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(
            f"output folder {str(folder)!r} does not exist; create it first."
        )
    if not _writable(folder):
        code = errno.EROFS if _read_only(folder) else errno.EACCES
        raise _cannot_create(os.fspath(path), folder, code)
    return target


# Errors of the output's file system: the OSError is given the output's name.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
_CREATE_ERRORS = _STORAGE_ERRORS | {errno.EACCES, errno.EPERM}


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

    ``path`` may be a symbolic link: the link's target is written (the
    temporary file goes beside the target) and the link stays. A directory,
    a device, a FIFO or a socket is refused (:func:`output_target`). An
    OSError of the output's folder or file system (permission, read-only,
    full disk) is raised with ``path`` as its filename.
    """
    path = Path(path)
    name = os.fspath(path)
    target = output_target(path)
    folder = target.parent
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
            tmp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                tmp = None  # nothing was made
                if exc.errno not in _CREATE_ERRORS:
                    raise
                raise _cannot_create(name, folder, exc.errno) from None
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
        os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if (
            isinstance(exc, OSError)
            and exc.errno in _STORAGE_ERRORS
            and exc.filename is None
        ):
            exc.filename = name  # (the error of a write names no file)
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
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        if compression is None or not _decompressing(exc):
            raise
        raise InputError(
            f"{os.fspath(path)}: not a valid {compression} file ({exc or 'cut short'})."
        ) from None


def _decompressing(exc: BaseException) -> bool:
    """Whether ``exc`` is the error of decompressing bad data: gzip's, bz2's and
    lzma's errors, zlib's, a stream cut short; not an OSError of the file
    itself (those carry an errno: a missing file, permission, a read error)."""
    import lzma

    if isinstance(exc, OSError):
        return exc.errno is None
    return isinstance(exc, (EOFError, lzma.LZMAError, zlib.error))


def decompression_error(path, exc: BaseException, name=None) -> InputError | None:
    """The one-line :class:`InputError` of the compressed file ``path`` that
    ``exc`` (raised while reading it) shows to be damaged: cut short, not in
    its format, or followed by junk; None when ``path`` is not compressed or
    ``exc`` is another error. ``name`` is how messages call the file."""
    compression = compression_of(path)
    if compression is None or not _decompressing(exc):
        return None
    name = os.fspath(path) if name is None else name
    return InputError(
        f"cannot decompress {name}: {exc or 'the file is cut short'}; check that the "
        f"file is a complete {compression} file."
    )


@contextlib.contextmanager
def reading_compressed(path, name=None) -> Iterator[None]:
    """Turn the errors of decompressing ``path`` inside the block into
    :func:`decompression_error`'s one line; other errors pass unchanged."""
    import lzma

    try:
        yield
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        error = decompression_error(path, exc, name)
        if error is None:
            raise
        raise error from exc
