"""Reading corpora and turning them into streams of integer-coded token chunks.

A corpus is one or more files (or standard input) holding one document per
record: plain text holds one document per line (optionally ``.gz``, ``.bz2`` or
``.xz`` compressed), or with ``documents="paragraph"`` one per paragraph (blank
lines between them) or with ``documents="file"`` one per file; JSON Lines,
CSV, TSV and Parquet files hold one document per row, in the text column
``column`` (default ``"text"``).

Everything is streamed in bounded chunks of about ``chunk_size`` characters; no
file is ever read into memory as a whole (but for a document longer than a
chunk: a whole file with ``documents="file"``; a document longer than
:data:`DEFAULT_MAX_LINE`, or 1/16 of a build's memory budget, is refused while it
is read). Each chunk is tokenized and coded in
compiled code (numpy, then Arrow's split and hash kernels when pyarrow is
installed, else ``str.split`` and :func:`pandas.factorize`): there is no Python
loop per token. A chunk always holds whole documents.

Tokenizers
----------
``"word"``
    Runs of Unicode word characters, with internal apostrophes (``'`` or ``\u2019``)
    kept: ``"Don't stop, o\u2019clock!"`` gives ``["don't", "stop", "o\u2019clock"]``.
    Word characters are those of the regex ``\\w`` (letters, digits and ``_``)
    plus combining marks (categories Mn, Mc, Me), so decomposed ``"nai\\u0308ve"``
    and Devanagari words stay whole. Everything else (punctuation, hyphens,
    symbols, leading or trailing apostrophes) separates tokens: ``"3.14"`` gives
    ``["3", "14"]``.
``"whitespace"``
    :meth:`str.split`: for pre-tokenized text, tokens separated by whitespace.

Both lowercase the text first (:meth:`str.lower`) unless ``lowercase=False``.
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import errno
import fnmatch
import functools
import glob
import gzip
import itertools
import logging
import lzma
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cooc.errors import InputError, InputTypeError, MissingDependencyError
from cooc.files import atomic_write, reading_compressed

__all__ = [
    "TOKENIZERS",
    "ByteBlock",
    "ReadingOptions",
    "TokenChunk",
    "chunks_from_documents",
    "iter_byte_blocks",
    "iter_documents",
    "iter_token_chunks",
    "resolve_paths",
    "tokenize",
]

TOKENIZERS = ("word", "whitespace")
ENCODING_ERRORS = ("strict", "replace", "ignore")
DOCUMENTS = ("line", "paragraph", "file")
DEFAULT_COLUMN = "text"
DEFAULT_CHUNK_SIZE = 1 << 22

# Code points of the apostrophes the "word" tokenizer keeps inside a word.
APOSTROPHES = (ord("'"), ord("\u2019"))
_NEWLINE = ord("\n")
_SPACE = ord(" ")
_GLOB_CHARS = frozenset("*?[")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TABLE_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BOM = "\ufeff"
# Use pyarrow's split and hash kernels when installed; tests flip this to compare
# them with the numpy/pandas path.
_USE_PYARROW = True

logger = logging.getLogger(__name__)


class TokenChunk(NamedTuple):
    """A block of whole documents, tokenized and coded.

    Attributes
    ----------
    codes : ndarray of int32, shape (n_tokens,)
        Index of each token into ``uniques``, in reading order.
    uniques : ndarray of object (str), shape (n_unique,)
        The distinct tokens of this chunk, in order of first appearance.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document ``i`` is ``codes[offsets[i]:offsets[i + 1]]``;
        ``offsets[0] == 0`` and ``offsets[-1] == n_tokens``. Empty documents
        are kept as zero-length slices.
    """

    codes: np.ndarray
    uniques: np.ndarray
    offsets: np.ndarray

    @property
    def n_docs(self) -> int:
        """Number of documents in the chunk."""
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        """Number of tokens in the chunk."""
        return len(self.codes)

    def documents(self) -> list[list[str]]:
        """Decode back to one list of tokens per document (slow; for tests)."""
        tokens = self.uniques[self.codes].tolist()
        bounds = self.offsets.tolist()
        return [tokens[a:b] for a, b in itertools.pairwise(bounds)]


# --------------------------------------------------------------------------
# parameter checks


def check_tokenizer(tokenizer) -> None:
    """Raise a one-line ``ValueError`` unless ``tokenizer`` is one of ``TOKENIZERS``."""
    if tokenizer not in TOKENIZERS:
        raise InputError(
            f"tokenizer={tokenizer!r} is not supported; use one of {TOKENIZERS}."
        )


def check_encoding_errors(encoding_errors) -> None:
    """Raise a one-line ``ValueError`` unless ``encoding_errors`` is one of
    ``ENCODING_ERRORS``."""
    if encoding_errors not in ENCODING_ERRORS:
        raise InputError(
            f"encoding_errors={encoding_errors!r} is not supported; "
            f"use one of {ENCODING_ERRORS}."
        )


def check_document_mode(documents) -> None:
    """Raise a one-line ``ValueError`` unless ``documents`` is one of ``DOCUMENTS``."""
    if documents not in DOCUMENTS:
        raise InputError(
            f"documents={documents!r} is not supported; use one of {DOCUMENTS} "
            "(--documents)."
        )


def check_chunk_size(chunk_size) -> None:
    """Raise a one-line ``ValueError`` unless ``chunk_size`` is a positive integer."""
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise InputError(
            f"chunk_size={chunk_size!r} must be a positive integer (characters "
            f"per chunk); the default is {DEFAULT_CHUNK_SIZE}."
        )


# --------------------------------------------------------------------------
# paths


def _identity(path) -> tuple[int, int]:
    """The device and inode of the file ``path`` names (through any links)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _entries(folder: Path) -> list[os.DirEntry]:
    """The entries of ``folder`` sorted by name; an unreadable folder raises
    PermissionError naming it (it is not skipped)."""
    with os.scandir(folder) as it:
        return sorted(it, key=lambda entry: entry.name)


def _is_dir(entry: os.DirEntry) -> bool:
    """Whether ``entry`` is a directory or a link to one (a broken link or a
    loop of links is not)."""
    try:
        return entry.is_dir()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return False
        raise


def _is_file(entry: os.DirEntry) -> bool:
    """Whether ``entry`` is a regular file or a link to one."""
    try:
        return entry.is_file()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return False
        raise


def _broken_link(path: Path) -> InputError:
    """The error of a symbolic link that leads to no file."""
    try:
        os.stat(path)
        what = "leads to no file"
    except OSError as exc:
        what = "is a loop of symbolic links" if exc.errno == errno.ELOOP else None
    if what is None:
        with contextlib.suppress(OSError):
            what = f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
    return InputError(
        f"corpus path {str(path)!r} {what or 'is a broken symbolic link'}; fix or "
        "remove the link."
    )


def _expand_directory(directory: Path) -> list[Path]:
    """The non-hidden files below ``directory`` in sorted order (of their path
    components). Links to directories are followed, but each real directory
    is entered once: a link back up the tree does not loop. An unreadable
    directory raises PermissionError, a broken link InputError; devices,
    FIFOs and sockets are left out."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path) -> None:
        key = _identity(folder)
        if key in seen:
            return
        seen.add(key)
        for entry in _entries(folder):
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            if _is_dir(entry):
                visit(path)
            elif _is_file(entry):
                files.append(path)
            elif entry.is_symlink():
                raise _broken_link(path)

    visit(directory)
    return files


def _glob(pattern: str) -> list[Path]:
    """The paths ``pattern`` matches, as ``glob.glob(pattern, recursive=True)``
    gives them (``**`` is any number of folders; wildcards match no hidden
    names unless they start with a dot) but without its traps: ``**``
    follows links to directories entering each real directory once (a link
    back up the tree does not loop), and an unreadable directory raises
    PermissionError instead of being skipped. Sorted as strings."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    out: list[Path] = []
    seen: set[tuple[int, int, int]] = set()  # (part, device, inode) expanded by **

    def match(folder: Path, i: int) -> None:
        if i == len(parts):
            out.append(folder)
            return
        part, last = parts[i], i == len(parts) - 1
        if part == "**":
            if last:  # everything below: the directory itself is expanded
                out.append(folder)
                return
            key = (i, *_identity(folder))
            if key in seen:
                return
            seen.add(key)
            match(folder, i + 1)
            for entry in _entries(folder):
                if not entry.name.startswith(".") and _is_dir(entry):
                    match(folder / entry.name, i)
        elif not glob.has_magic(part):
            child = folder / part
            if last and os.path.lexists(child):
                out.append(child)
            elif not last and child.is_dir():
                match(child, i + 1)
        else:
            for entry in _entries(folder):
                if entry.name.startswith(".") and not part.startswith("."):
                    continue
                if not fnmatch.fnmatchcase(entry.name, part):
                    continue
                if last:
                    out.append(folder / entry.name)
                elif _is_dir(entry):
                    match(folder / entry.name, i + 1)

    base = Path(*parts[:first])
    if base.is_dir():
        match(base, first)
    return sorted(dict.fromkeys(out), key=str)


def resolve_paths(paths) -> list[Path | str]:
    """Expand corpus paths into the list of files to read, in reading order.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files, directories (all non-hidden files below them, recursively, in
        sorted order), glob patterns (``"data/*.txt.gz"``, ``"**"`` recurses),
        or ``"-"`` for standard input. Directories and ``**`` follow links to
        directories but enter each real directory once (a link back up the
        tree does not loop), and a file that one directory or pattern reaches
        twice (through links) is read once.

    Returns
    -------
    list of Path or str
        One entry per file; ``"-"`` stays the string ``"-"``.

    Raises
    ------
    ValueError
        If a path does not exist, a pattern matches nothing, a directory holds
        no files or a broken link, two of ``paths`` give the same file, or
        ``"-"`` is given twice.
    PermissionError
        If a file is not readable, or a directory below a directory or a
        pattern cannot be listed (it is not skipped); the error names it.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    resolved: list[Path | str] = []
    owners: dict[tuple[int, int], tuple[Path, int, str]] = {}
    n_stdin = 0
    for index, raw in enumerate(paths):
        if not isinstance(raw, str | os.PathLike):
            raise InputTypeError(
                f"corpus paths must be str or path-like, got {type(raw).__name__}: "
                f"{raw!r}."
            )
        text = os.fspath(raw)
        if text == "-":
            n_stdin += 1
            if n_stdin > 1:
                raise InputError("'-' (standard input) can be given only once.")
            resolved.append("-")
            continue
        path = Path(text)
        if path.is_dir():
            files = _expand_directory(path)
            if not files:
                raise InputError(
                    f"corpus directory {text!r} contains no (non-hidden) files; "
                    "check the path."
                )
        elif path.exists():
            files = [path]
        elif _GLOB_CHARS & set(text):
            files = []
            for match in _glob(text):
                if match.is_dir():
                    files.extend(_expand_directory(match))
                elif match.is_file():
                    files.append(match)
                elif match.is_symlink() and not match.exists():
                    raise _broken_link(match)
            if not files:
                raise InputError(
                    f"corpus path {text!r} does not exist: the pattern matches no "
                    "files; check the pattern."
                )
        else:
            raise InputError(
                f"corpus path {text!r} does not exist; check the path "
                "(use '-' for standard input)."
            )
        for file in files:
            key = _identity(file)
            if key in owners:
                first, where, given = owners[key]
                if where == index:
                    continue  # one directory or pattern reaching a file twice
                alias = "" if first == file else f" (as {str(first)!r})"
                raise InputError(
                    f"corpus path {text!r} gives the file {str(file)!r}, which "
                    f"{given!r} gives already{alias}; name each file once."
                )
            owners[key] = (file, index, text)
            _check_readable(file)
            resolved.append(file)
    return resolved


def _check_readable(path: Path) -> None:
    """Raise PermissionError naming ``path`` when this process cannot read it
    (before anything is read: no partial work, no failing Dask task)."""
    extra = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(path, os.R_OK, **extra):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def source_names(paths) -> list[str]:
    """The corpus paths as given (not expanded), as strings: a build's ``sources``."""
    return [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]


def file_format(path: Path | str) -> tuple[str, str | None]:
    """Return ``(format, compression suffix)`` for a corpus path."""
    if path == "-":
        return "text", None
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSED:
        compression = suffixes.pop()
    fmt = _TABLE_SUFFIXES.get(suffixes[-1], "text") if suffixes else "text"
    return fmt, compression


# --------------------------------------------------------------------------
# reading plain text in blocks of whole lines


def invalid_utf8_error(name: str, line: int, byte: int, err: UnicodeDecodeError):
    """The ValueError for invalid UTF-8 in ``name`` at ``line`` (1-based) and
    ``byte`` of that line (1-based), from the decoder's ``err``."""
    return InputError(
        f"{name}: invalid UTF-8 at line {line} (byte {byte} of the line: "
        f"{err.reason}); pass encoding_errors='replace' (--encoding-errors "
        "replace) to substitute bad bytes, or 'ignore' to drop them."
    )


#: A document of a plain-text file (a line; a paragraph with
#: ``documents="paragraph"``; the whole file with ``"file"``) may take at most
#: this fraction of a build's memory budget: a longer one is refused, found
#: while it is read (it is never held whole).
MAX_LINE_FRACTION = 16
#: The longest document without a budget: that of the default ``--memory 2G``.
DEFAULT_MAX_LINE = (2 << 30) // MAX_LINE_FRACTION


def max_line_bytes(memory: int | None) -> int:
    """The longest document, in bytes, a build within ``memory`` bytes reads
    (:data:`DEFAULT_MAX_LINE` for None)."""
    if memory is None:
        return DEFAULT_MAX_LINE
    return max(1, int(memory) // MAX_LINE_FRACTION)


def _size_text(n: int) -> str:
    """``n`` bytes as ``--memory`` spells sizes: 16M, 2G, 1536K, or bytes."""
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n} bytes"


def long_line_error(name: str, line: int, max_line: int) -> InputError:
    """The error for line ``line`` (1-based) of ``name``, longer than ``max_line``."""
    memory = _size_text(max_line * MAX_LINE_FRACTION)
    longest = _size_text(max_line)
    if not longest.endswith("bytes"):
        longest = f"{longest[:-1]} {longest[-1]}iB"
    return InputError(
        f"{name}: line {line} is longer than {longest}, the limit for --memory "
        f"{memory} (1/{MAX_LINE_FRACTION} of it); split it into shorter lines "
        "or raise --memory."
    )


def _check_regular_file(path: Path | str) -> None:
    """Refuse a corpus path that is not a regular file (``"-"`` aside): a
    device never ends (``/dev/zero``) and a pipe can be read only once."""
    if path == "-":
        return
    path = Path(path)
    kinds = (
        ("character device", path.is_char_device),
        ("block device", path.is_block_device),
        ("named pipe (FIFO)", path.is_fifo),
        ("socket", path.is_socket),
    )
    for kind, test in kinds:
        if test():
            hint = (
                f"; to stream it, give '-' and redirect standard input: - < {path}"
                if kind in ("named pipe (FIFO)", "socket")
                else ""
            )
            raise InputError(
                f"{path}: a {kind}, not a regular file; a corpus is files, "
                f"folders or '-' (standard input){hint}."
            )


def _check_lines(data, held: int, max_line: int, name: str, lines_before: int):
    """Check the lengths of the lines in ``data``, a read that follows
    ``held`` bytes (or characters) of an unfinished line, the line
    ``lines_before + 1``; return the length of the line ``data`` leaves
    unfinished. A line longer than ``max_line`` raises
    :func:`long_line_error`."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    first = data.find(newline)
    if first < 0:
        held += len(data)
        if held > max_line:
            raise long_line_error(name, lines_before + 1, max_line)
        return held
    if held + first > max_line:
        raise long_line_error(name, lines_before + 1, max_line)
    last = data.rfind(newline)
    if last - first - 1 > max_line:  # (a read longer than the limit)
        if isinstance(data, bytes):
            ends = np.flatnonzero(np.frombuffer(data, np.uint8) == _NEWLINE)
        else:
            lengths = [len(line) + 1 for line in data.split(newline)]
            ends = np.cumsum(lengths)[:-1] - 1
        long = np.flatnonzero(np.diff(ends) - 1 > max_line)
        if long.size:
            raise long_line_error(name, lines_before + 2 + int(long[0]), max_line)
    tail = len(data) - last - 1
    if tail > max_line:
        raise long_line_error(name, lines_before + 1 + data.count(newline), max_line)
    return tail


def _iter_text_blocks(
    stream,
    name: str,
    block_size: int,
    encoding_errors: str,
    max_line: int | None = None,
) -> Iterator[str]:
    """Yield blocks of whole lines, joined by ``"\\n"`` without the final one.

    ``stream`` is binary (decoded here, so errors know their line) or text. A
    block of ``k`` lines holds ``k - 1`` newlines; a trailing newline at the end
    of the stream ends the last line and starts no empty one. ``"\\r\\n"`` line
    ends become ``"\\n"``; a lone ``"\\r"`` stays inside its line. A line
    longer than ``max_line`` (default :data:`DEFAULT_MAX_LINE`) raises
    :func:`long_line_error` as soon as that many of its bytes are read.
    """
    max_line = DEFAULT_MAX_LINE if max_line is None else int(max_line)
    parts: list = []
    lines_before = 0
    held = 0  # length of the unfinished line in parts
    first = True
    while True:
        data = stream.read(block_size)
        if not data:
            break
        held = _check_lines(data, held, max_line, name, lines_before)
        is_bytes = isinstance(data, bytes)
        cut = data.rfind(b"\n" if is_bytes else "\n")
        if cut < 0:
            parts.append(data)
            continue
        parts.append(data[:cut])
        block = parts[0][:0].join(parts)
        parts = [data[cut + 1 :]]
        text = _decode_block(block, name, lines_before, encoding_errors, first)
        first = False
        n_lines = text.count("\n") + 1
        lines_before += n_lines
        yield text
    if parts and parts[0][:0].join(parts):
        block = parts[0][:0].join(parts)
        yield _decode_block(block, name, lines_before, encoding_errors, first)


def _decode_block(
    block, name: str, lines_before: int, encoding_errors: str, first: bool
) -> str:
    if isinstance(block, bytes):
        try:
            text = block.decode("utf-8", encoding_errors)
        except UnicodeDecodeError as err:
            line_start = block.rfind(b"\n", 0, err.start) + 1
            line = lines_before + block.count(b"\n", 0, err.start) + 1
            raise invalid_utf8_error(
                name, line, err.start - line_start + 1, err
            ) from None
    else:
        text = block
    if first and text.startswith(_BOM):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):  # "\r\n" split across the block boundary
            text = text[:-1]
    return text


def _open_binary(path: Path | str, compression: str | None):
    if path == "-":
        stdin = sys.stdin
        return _NoClose(getattr(stdin, "buffer", stdin))
    if compression is not None:
        return _COMPRESSED[compression](path, "rb")
    return open(path, "rb")


class _NoClose:
    """Context-manager wrapper that leaves standard input open.

    Standard input is read through its file descriptor when it has one, not
    through its buffered reader: a reader thread left waiting in a read (a
    build interrupted while the pipe stays open) would hold that reader's
    lock, which Python's exit then waits for and dies on.
    """

    def __init__(self, stream):
        self.stream = stream
        try:
            self.fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation)
            self.fd = None

    def read(self, size: int = -1):
        if self.fd is None:
            return self.stream.read(size)
        parts = []
        left = size if size is not None and size >= 0 else -1
        while left != 0:
            data = os.read(self.fd, (1 << 20) if left < 0 else min(left, 1 << 20))
            if not data:
                break
            parts.append(data)
            left = left if left < 0 else left - len(data)
        return b"".join(parts)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None


# -- documents that are not lines: paragraphs, whole files
# A blank line holds only spaces, tabs, \r, \f and \v (or nothing).
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]+(?=\n)")
_PARAGRAPH_BREAK = re.compile(rb"\n\n+")


class _DocumentStream:
    """A binary stream whose documents are paragraphs or the whole file, read
    as a stream of one document per line.

    ``"paragraph"``: paragraphs are separated by one or more blank lines
    (empty, or only spaces, tabs, ``\\r``, ``\\f``, ``\\v``); the lines of a
    paragraph are joined by one space (``\\n`` and ``\\r\\n`` ends alike), and
    each paragraph becomes one ``\\n``-terminated line. Blank lines before
    the first paragraph and after the last one make no document. ``"file"``:
    every line end becomes a space and the stream one line (none when it is
    empty: a file with any byte is one document, as in line mode). A leading
    UTF-8 byte-order mark is handed on in front of the first document (the
    readers drop it), and dropped when no paragraph follows. Only whole
    lines are transformed: a paragraph (or ``\\r\\n``) may span any number of
    reads. In paragraph mode a line of the file longer than ``max_line``
    bytes (default :data:`DEFAULT_MAX_LINE`) raises :func:`long_line_error`
    naming ``name`` and the line, once that many of its bytes are read.
    """

    def __init__(
        self,
        stream,
        mode: str,
        name: str = "<stream>",
        max_line: int | None = None,
    ):
        self.stream = stream
        self.paragraphs = mode == "paragraph"
        self.name = name
        self.max_line = DEFAULT_MAX_LINE if max_line is None else int(max_line)
        self.line_held = 0  # bytes of the unfinished line (paragraph mode)
        self.lines_before = 0  # lines of the file before it
        self.pending: list[bytes] = []  # an unfinished line (paragraph mode)
        self.held = b""  # a trailing "\r" (file mode)
        self.head = b""  # the first bytes, until a BOM can be told apart
        self.bom = b""  # a BOM waiting for the first document
        self.started = False  # past the check for a BOM
        self.in_paragraph = False  # a paragraph (file mode: the file) is open
        self.emitted = False  # something was read out
        self.done = False

    def read(self, size: int = -1) -> bytes:
        step = size if size is not None and size > 0 else 1 << 20
        while not self.done:
            data = self.stream.read(step)
            if isinstance(data, str):  # a text stream (standard input)
                data = data.encode("utf-8", "surrogatepass")
            if data and self.paragraphs:  # (an unfinished line is held here)
                self.line_held = _check_lines(
                    data, self.line_held, self.max_line, self.name, self.lines_before
                )
                self.lines_before += data.count(b"\n")
            out = self._feed(data) if data else self._finish()
            if out:
                return out
        return b""

    def _emit(self, out: bytes) -> bytes:
        if out and not self.emitted:
            self.emitted = True
            if self.bom:
                out, self.bom = self.bom + out, b""
            elif out.startswith(_UTF8_BOM):
                # U+FEFF starting a paragraph after blank lines: text, not the
                # file's byte-order mark, which the readers would drop.
                out = b" " + out
        return out

    def _feed(self, data: bytes) -> bytes:
        if not self.paragraphs:
            self.in_paragraph = True  # a file with any byte is one document
        if not self.started:
            data = self.head + data
            if len(data) < len(_UTF8_BOM) and _UTF8_BOM.startswith(data):
                self.head = data
                return b""
            self.started, self.head = True, b""
            if data.startswith(_UTF8_BOM):
                self.bom, data = _UTF8_BOM, data[len(_UTF8_BOM) :]
        return self._content(data)

    def _content(self, data: bytes) -> bytes:
        if not self.paragraphs:
            data = self.held + data
            self.held = b""
            if data.endswith(b"\r"):
                data, self.held = data[:-1], b"\r"
            return self._emit(data.replace(b"\r\n", b" ").replace(b"\n", b" "))
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending.append(data)
            return b""
        self.pending.append(data[: cut + 1])
        lines = b"".join(self.pending)
        self.pending = [data[cut + 1 :]] if cut + 1 < len(data) else []
        return self._emit(self._paragraph_lines(lines))

    def _paragraph_lines(self, lines: bytes) -> bytes:
        """Whole lines (ending in ``\\n``) turned into paragraph text."""
        # Blank lines made empty (a newline is put in front for the first
        # line, and taken off again); then paragraphs are runs of lines.
        lines = b"\n" + lines.replace(b"\r\n", b"\n")
        lines = _BLANK_LINE.sub(b"\n", lines)[1:]
        body = lines.lstrip(b"\n")
        out = []
        if len(body) < len(lines) and self.in_paragraph:  # blank lines first
            out.append(b"\n")
            self.in_paragraph = False
        if body:
            text = body.rstrip(b"\n")
            ends = len(body) - len(text) > 1  # blank lines at the end
            text = b"\n".join(
                p.replace(b"\n", b" ") for p in _PARAGRAPH_BREAK.split(text)
            )
            if self.in_paragraph:
                out.append(b" ")
            out.append(text)
            if ends:
                out.append(b"\n")
            self.in_paragraph = not ends
        return b"".join(out)

    def _finish(self) -> bytes:
        self.done = True
        out = b""
        if not self.started:  # fewer bytes than a BOM, and not one
            self.started, data, self.head = True, self.head, b""
            out = self._content(data)
        if self.paragraphs:
            last = b"".join(self.pending)
            self.pending = []
            if last:
                out += self._paragraph_lines(last + b"\n")
        if self.in_paragraph:
            out += b"\n"
            self.in_paragraph = False
        return self._emit(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None


def _document_stream(
    stream, documents: str, name: str = "<stream>", max_line: int | None = None
):
    """``stream`` read with one document per line (see :class:`_DocumentStream`)."""
    if documents == "line":
        return stream
    return _DocumentStream(stream, documents, name, max_line)


def _document_name(name: str, documents: str) -> str:
    """A file's name in error messages, saying what their line numbers count."""
    if documents == "paragraph":
        return f"{name} (documents='paragraph': a line here is a paragraph)"
    if documents == "file":
        return f"{name} (documents='file': line 1 is the whole file)"
    return name


def _table_documents(path, fmt: str, documents: str) -> ValueError:
    return InputError(
        f"{path}: documents={documents!r} (--documents) applies to plain text "
        f"only; a {fmt.upper()} file holds one document per row."
    )


def check_document_paths(paths, documents: str) -> None:
    """Refuse ``paragraph``/``file`` documents for table inputs, before reading."""
    check_document_mode(documents)
    if documents == "line":
        return
    for path in resolve_paths(paths):
        fmt, _ = file_format(path)
        if fmt != "text":
            raise _table_documents(path, fmt, documents)


def _iter_plain_text(
    path: Path | str,
    compression: str | None,
    block_size: int,
    encoding_errors: str,
    documents: str = "line",
    max_line: int | None = None,
) -> Iterator[str]:
    name = "<stdin>" if path == "-" else str(path)
    with _reading(path, compression, name) as stream:
        yield from _iter_text_blocks(
            _document_stream(stream, documents, name, max_line),
            _document_name(name, documents),
            block_size,
            encoding_errors,
            max_line,
        )


@contextlib.contextmanager
def _reading(path: Path | str, compression: str | None, name: str):
    """The file opened for binary reading; a damaged compressed file becomes
    one ValueError naming it, wherever the reading fails (gzip's, bz2's,
    lzma's and zlib's errors alike; a file cut short, or not in its format,
    or followed by junk)."""
    with _open_binary(path, compression) as stream, reading_compressed(path, name):
        yield stream


# --------------------------------------------------------------------------
# reading table formats (one document per row) through pandas / pyarrow


def _rows_per_batch(chunk_size: int) -> int:
    return int(min(max(chunk_size // 512, 1), 10_000))


def _missing_column(path, column: str, columns) -> ValueError:
    return InputError(
        f"{path}: no column {column!r}; available columns: "
        f"{[str(c) for c in columns]}. Pass column=... (--column) to pick one."
    )


def _column_values(values, path, column: str) -> list[str]:
    """Turn one batch of a text column into a list of str (missing -> "")."""
    import pandas as pd

    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = ""
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind not in ("string", "empty"):
        raise InputError(
            f"{path}: column {column!r} holds {kind} values, not text; "
            "pick a text column with column=... (--column)."
        )
    return values.tolist()


def _encoding_error(path, err: UnicodeDecodeError) -> ValueError:
    return InputError(
        f"{path}: invalid UTF-8 ({err.reason}); pass encoding_errors='replace' "
        "(--encoding-errors replace) to substitute bad bytes, or 'ignore' to "
        "drop them."
    )


def _iter_csv(path, sep: str, column: str, rows: int, encoding_errors: str):
    options = {"sep": sep, "encoding": "utf-8", "encoding_errors": encoding_errors}
    with reading_compressed(path):
        yield from _csv_batches(path, column, rows, options)


def _csv_batches(path, column: str, rows: int, options: dict):
    import pandas as pd

    try:
        try:
            header = pd.read_csv(path, nrows=0, **options).columns
        except pd.errors.EmptyDataError:
            return
        if column not in header:
            raise _missing_column(path, column, header)
        reader = pd.read_csv(
            path,
            usecols=[column],
            dtype={column: object},
            keep_default_na=False,
            chunksize=rows,
            **options,
        )
        with reader:
            for frame in reader:
                yield _column_values(frame[column].to_numpy(object), path, column)
    except UnicodeDecodeError as err:
        raise _encoding_error(path, err) from None


def _check_json_lines(path, compression: str | None) -> None:
    with _open_binary(path, compression) as stream, reading_compressed(path):
        head = stream.read(4096).lstrip()
    if head.startswith(b"["):
        raise InputError(
            f"{path}: looks like a JSON array; cooc reads JSON Lines (one JSON "
            "object per line). Convert it, e.g. with `jq -c '.[]'`."
        )


def _iter_jsonl(path, compression, column: str, rows: int, encoding_errors: str):
    import pandas as pd

    _check_json_lines(path, compression)
    try:
        with reading_compressed(path):
            reader = pd.read_json(
                path,
                lines=True,
                chunksize=rows,
                dtype=False,
                encoding="utf-8",
                encoding_errors=encoding_errors,
            )
            with reader:
                for frame in reader:
                    if column not in frame.columns:
                        raise _missing_column(path, column, frame.columns)
                    yield _column_values(frame[column].to_numpy(object), path, column)
    except UnicodeDecodeError as err:
        raise _encoding_error(path, err) from None


def _iter_parquet(path, column: str, rows: int):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise MissingDependencyError(
            f"reading {path} needs pyarrow; install it with "
            'pip install "cooc[parquet]".'
        ) from err
    with pq.ParquetFile(path) as parquet:
        schema = parquet.schema_arrow
        if column not in schema.names:
            raise _missing_column(path, column, schema.names)
        kind = schema.field(column).type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(kind))
        ):
            raise InputError(
                f"{path}: column {column!r} has type {kind}, not text; "
                "pick a text column with column=... (--column)."
            )
        for batch in parquet.iter_batches(batch_size=rows, columns=[column]):
            yield _column_values(
                batch.column(0).to_numpy(zero_copy_only=False), path, column
            )


def _iter_blocks(
    paths,
    *,
    column,
    encoding_errors: str,
    chunk_size: int,
    documents: str = "line",
    max_line: int | None = None,
) -> Iterator[str | list[str]]:
    """Yield, per file, text blocks (str of ``"\\n"``-separated lines, one
    document each: see :class:`_DocumentStream` for ``documents``) or lists
    of documents (table formats); a plain-text document longer than
    ``max_line`` bytes is refused (see :func:`iter_byte_blocks`)."""
    column = DEFAULT_COLUMN if column is None else column
    rows = _rows_per_batch(chunk_size)
    for path in resolve_paths(paths):
        _check_regular_file(path)
        fmt, compression = file_format(path)
        logger.debug("reading %s as %s", path, fmt)
        if fmt != "text" and documents != "line":
            raise _table_documents(path, fmt, documents)
        if fmt == "text":
            yield from _iter_plain_text(
                path, compression, chunk_size, encoding_errors, documents, max_line
            )
        elif fmt in ("csv", "tsv"):
            sep = "," if fmt == "csv" else "\t"
            yield from _iter_csv(path, sep, column, rows, encoding_errors)
        elif fmt == "jsonl":
            yield from _iter_jsonl(path, compression, column, rows, encoding_errors)
        else:
            yield from _iter_parquet(path, column, rows)


_UTF8_BOM = b"\xef\xbb\xbf"


def _iter_line_bytes(
    stream, block_size: int, name: str = "<stream>", max_line: int | None = None
) -> Iterator[tuple[bytes, int, bool]]:
    """Yield ``(block, lines_before, bom)``: blocks of whole lines as raw bytes,
    joined by ``b"\\n"`` without the final one (the lines of
    :func:`_iter_text_blocks`, undecoded); a leading UTF-8 BOM is dropped
    (``bom`` is True for the block it was dropped from). A line of ``name``
    longer than ``max_line`` bytes (default :data:`DEFAULT_MAX_LINE`) raises
    :func:`long_line_error` once that many of its bytes are read: no more of
    it is held."""
    max_line = DEFAULT_MAX_LINE if max_line is None else int(max_line)
    parts: list[bytes] = []
    lines_before = 0
    held = 0  # length of the unfinished line in parts
    first = True
    bom = False  # a BOM was dropped from the block being collected
    while True:
        data = stream.read(block_size)
        if not data:
            break
        held = _check_lines(data, held, max_line, name, lines_before)
        if first and not parts and data.startswith(_UTF8_BOM[: len(data)]):
            # The BOM may straddle reads of a few bytes; collect it first.
            while len(data) < len(_UTF8_BOM):
                more = stream.read(block_size)
                if not more:
                    break
                data += more
            if data.startswith(_UTF8_BOM):
                data = data[len(_UTF8_BOM) :]
                bom = True
            first = False
            if not data:
                continue
        first = False
        cut = data.rfind(b"\n")
        if cut < 0:
            parts.append(data)
            continue
        parts.append(data[:cut])
        block = parts[0] if len(parts) == 1 else b"".join(parts)
        parts = [data[cut + 1 :]]
        yield block, lines_before, bom
        bom = False
        lines_before += block.count(b"\n") + 1
    block = b"".join(parts)
    if block or bom:  # (a file holding only a BOM is one empty document)
        yield block, lines_before, bom


class ByteBlock(NamedTuple):
    """Whole documents of one file as UTF-8 bytes; see :func:`iter_byte_blocks`."""

    data: bytes
    name: str
    lines_before: int
    from_table: bool
    bom: bool


def iter_byte_blocks(
    paths,
    *,
    column=None,
    encoding_errors="strict",
    chunk_size=DEFAULT_CHUNK_SIZE,
    documents="line",
    max_line=None,
) -> Iterator[ByteBlock]:
    """Yield a corpus as :class:`ByteBlock` tuples.

    ``block`` holds whole documents as UTF-8 bytes separated by ``b"\n"``:
    plain-text files as they are on disk (not decoded: the caller validates
    them, and decodes with ``encoding_errors`` only where needed), table
    columns re-encoded from str (lone surrogates, which JSON escapes can make,
    as ``"surrogatepass"`` encodes them; ``from_table`` is then True).
    ``name`` and ``lines_before`` place the block's first line for error
    messages; ``bom`` says that a UTF-8 byte-order mark was dropped from the
    start of ``block``. The documents are those of :func:`iter_documents`
    (with ``documents="paragraph"`` or ``"file"`` a plain-text file's lines
    are its paragraphs, or the whole file: see :class:`_DocumentStream`).

    A plain-text document (line, paragraph or file) longer than ``max_line``
    bytes (default :data:`DEFAULT_MAX_LINE`; :func:`max_line_bytes` of a
    budget) stops the reading with :func:`long_line_error` once that many of
    its bytes are read. A path that is not a regular file (a device, a
    named pipe, a socket) is refused before it is opened; ``"-"`` reads
    standard input.
    """
    check_encoding_errors(encoding_errors)
    check_chunk_size(chunk_size)
    check_document_mode(documents)
    max_line = max_line_bytes(None) if max_line is None else int(max_line)
    column = DEFAULT_COLUMN if column is None else column
    rows = _rows_per_batch(chunk_size)
    for path in resolve_paths(paths):
        _check_regular_file(path)
        fmt, compression = file_format(path)
        name = "<stdin>" if path == "-" else str(path)
        if fmt != "text" and documents != "line":
            raise _table_documents(path, fmt, documents)
        if fmt == "text":
            with _reading(path, compression, name) as stream:
                stream = _document_stream(stream, documents, name, max_line)
                shown = _document_name(name, documents)
                lines = _iter_line_bytes(stream, chunk_size, shown, max_line)
                for block, before, bom in lines:
                    yield ByteBlock(block, shown, before, False, bom)
            continue
        if fmt in ("csv", "tsv"):
            sep = "," if fmt == "csv" else "\t"
            blocks = _iter_csv(path, sep, column, rows, encoding_errors)
        elif fmt == "jsonl":
            blocks = _iter_jsonl(path, compression, column, rows, encoding_errors)
        else:
            blocks = _iter_parquet(path, column, rows)
        for batch in blocks:  # (not `documents`: the mode of the next file)
            if batch:
                text = _join_documents(batch)
                yield ByteBlock(
                    text.encode("utf-8", "surrogatepass"), name, 0, True, False
                )


def iter_documents(
    paths,
    *,
    column=None,
    encoding_errors="strict",
    chunk_size=DEFAULT_CHUNK_SIZE,
    documents="line",
) -> Iterator[str]:
    """Yield the raw documents of a corpus, one string per document.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        See :func:`resolve_paths`. Plain-text files give one document per line
        (``"\\n"`` or ``"\\r\\n"`` line ends, not included; empty lines are empty
        documents); ``.jsonl``/``.json`` (JSON Lines), ``.csv``, ``.tsv`` and
        ``.parquet`` files give one document per row.
    column : str, default=None
        Text column of table formats; None means ``"text"``. Ignored for plain
        text. Missing values are empty documents.
    encoding_errors : {"strict", "replace", "ignore"}, default="strict"
        What to do with invalid UTF-8. ``"strict"`` raises a ValueError naming
        the file and line.
    chunk_size : int, default=4194304
        Characters read at a time (memory bound).
    documents : {"line", "paragraph", "file"}, default="line"
        What a document of a plain-text file is: a line; a paragraph (lines
        separated by one or more blank lines, i.e. empty or only spaces and
        tabs; the paragraph's lines are joined by a space, so windows cross
        hard line wraps); or the whole file (line ends become spaces). Blank
        lines make no documents in ``"paragraph"``. A document is read into
        memory whole (in ``"file"``, the whole file), so one longer than
        :data:`DEFAULT_MAX_LINE` (128 MiB) is refused. A lone ``"\\r"`` ends
        no line: a file with CR-only line ends is one document. Table formats always
        give one document per row: ``"paragraph"`` and ``"file"`` refuse
        them.

    Yields
    ------
    str
    """
    check_encoding_errors(encoding_errors)
    check_chunk_size(chunk_size)
    check_document_mode(documents)
    for block in _iter_blocks(
        paths,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
    ):
        if isinstance(block, str):
            yield from block.split("\n")
        else:
            yield from block


# --------------------------------------------------------------------------
# tokenizing


def tokenize(
    text: str, tokenizer: str = "word", *, lowercase: bool = True
) -> list[str]:
    """Split one document into tokens.

    Parameters
    ----------
    text : str
    tokenizer : {"word", "whitespace"}, default="word"
        See the module docstring.
    lowercase : bool, default=True
        Lowercase the text first (both tokenizers).

    Returns
    -------
    list of str

    Examples
    --------
    >>> tokenize("Don't panic: it's 4 o\u2019clock!")
    ["don't", 'panic', "it's", '4', 'o\u2019clock']
    >>> tokenize("New_York is-big", "whitespace", lowercase=False)
    ['New_York', 'is-big']
    """
    if not isinstance(text, str):
        raise InputTypeError(f"tokenize expects a str, got {type(text).__name__}.")
    check_tokenizer(tokenizer)
    if lowercase:
        text = text.lower()
    if tokenizer == "word":
        return _word_regex().findall(text)
    return text.split()


@functools.cache
def _all_code_points() -> str:
    """Every code point, in order, as one str (surrogates included)."""
    codes = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


@functools.cache
def _char_table(pattern: str) -> np.ndarray:
    """Boolean table over all code points: does ``pattern`` match the char?"""
    marked = re.sub(pattern, "\0", _all_code_points())
    codes = np.frombuffer(marked.encode("utf-32-le", "surrogatepass"), np.uint32)
    table = codes == 0
    table[0] = re.fullmatch(pattern, "\0") is not None
    table.flags.writeable = False
    return table


@functools.cache
def _mark_table() -> np.ndarray:
    """True for combining marks (Unicode categories Mn, Mc, Me)."""
    category = unicodedata.category
    return np.fromiter(
        (category(chr(c))[0] == "M" for c in range(sys.maxunicode + 1)),
        bool,
        count=sys.maxunicode + 1,
    )


def _table_cache_dir() -> Path:
    """Where computed character tables are kept: numba's cache folder when set,
    else this package's ``__pycache__`` (where numba keeps its own)."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    return Path(folder) if folder else Path(__file__).parent / "__pycache__"


def _cached_table(name: str, compute, checks: dict) -> np.ndarray:
    """``compute()``, a boolean table over all code points, kept on disk.

    Computing the word table takes about 0.6 s (a Python call per code point
    for the Unicode category); the file is keyed by the Python and Unicode
    versions and trusted as numba's cache beside it is, after checks of its
    type, size and of the characters in ``checks`` (code point -> value).
    Any problem with the file means computing the table again.
    """

    version = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    path = _table_cache_dir() / (
        f"cooc-{name}-{version}-ucd{unicodedata.unidata_version}.npy"
    )
    n = sys.maxunicode + 1
    try:
        table = np.load(path, allow_pickle=False)
        if (
            table.dtype == np.bool_
            and table.shape == (n,)
            and all(bool(table[c]) == v for c, v in checks.items())
        ):
            table.flags.writeable = False
            return table
    except (OSError, ValueError):
        pass
    table = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
    except (OSError, ValueError):
        pass  # a read-only install: compute it every time
    return table


_WORD_CHECKS = {ord("a"): True, ord("_"): True, 0x0301: True, 32: False, 0: False}
_SPACE_CHECKS = {32: True, 10: True, 0x3000: True, ord("a"): False, 0: False}


@functools.cache
def word_table() -> np.ndarray:
    """True for word characters: ``\\w`` plus combining marks (read-only bool
    array indexed by code point; the characters of the "word" tokenizer)."""

    def compute():
        return _char_table(r"\w") | _mark_table()

    table = _cached_table("word", compute, _WORD_CHECKS)
    table.flags.writeable = False
    return table


@functools.cache
def space_table() -> np.ndarray:
    """True for the code points :meth:`str.split` splits on (bool array
    indexed by code point; the separators of the "whitespace" tokenizer)."""
    return _cached_table("space", lambda: _char_table(r"\s"), _SPACE_CHECKS)


@functools.cache
def _word_regex() -> re.Pattern:
    """The "word" tokenizer as a regex, matching what ``word_table`` marks."""
    marks = np.flatnonzero(_mark_table())
    breaks = np.flatnonzero(np.diff(marks) != 1)
    firsts = np.concatenate([marks[:1], marks[breaks + 1]])
    lasts = np.concatenate([marks[breaks], marks[-1:]])
    ranges = "".join(
        f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)
    )
    word = f"[\\w{ranges}]+"
    return re.compile(f"{word}(?:['\u2019]{word})*")


def _empty_chunk(n_docs: int) -> TokenChunk:
    return TokenChunk(
        np.zeros(0, np.int32), np.zeros(0, object), np.zeros(n_docs + 1, np.int64)
    )


def _code_tokens(tokens: list) -> tuple[np.ndarray, np.ndarray]:
    """Factorize tokens (pandas' C hash table): int32 codes and object uniques."""
    import pandas as pd

    if not tokens:
        return np.zeros(0, np.int32), np.zeros(0, object)
    codes, uniques = pd.factorize(np.array(tokens, dtype=object))
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


@functools.cache
def _pyarrow_compute():
    """Return ``(pyarrow, pyarrow.compute)``, or None when pyarrow is missing."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return pa, pc


def _code_spaced_text(cleaned: str, n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Split text whose only separators are ASCII spaces and code the tokens.

    With pyarrow, splitting and hashing run in Arrow's C++ kernels and Python
    strings are made only for the distinct tokens; otherwise ``str.split`` and
    :func:`pandas.factorize` do it.
    """
    modules = _pyarrow_compute() if _USE_PYARROW else None
    if modules is not None:
        pa, pc = modules
        try:
            text = pa.array([cleaned.strip(" ")], pa.large_string())
        except UnicodeEncodeError:  # lone surrogates: let Python handle them
            pass
        else:
            tokens = pc.ascii_split_whitespace(text).flatten()
            if len(tokens) == n_tokens:
                coded = tokens.dictionary_encode()
                codes = coded.indices.to_numpy().astype(np.int32)  # writable copy
                uniques = coded.dictionary.to_numpy(zero_copy_only=False)
                return codes, np.asarray(uniques, dtype=object)
    tokens = cleaned.split()
    if len(tokens) != n_tokens:  # pragma: no cover - internal invariant
        raise RuntimeError("token count mismatch in cooc.corpus; please report this.")
    return _code_tokens(tokens)


def _chunk_from_text(text: str, tokenizer: str, lowercase: bool) -> TokenChunk:
    """Tokenize and code a block of ``"\\n"``-separated documents at once.

    The block becomes a code-point array; a lookup table marks the token
    characters, token starts and newlines give the document offsets, and every
    other character becomes a space, so one split yields all tokens in order.
    """
    n_docs = text.count("\n") + 1
    if lowercase:
        text = text.lower()
    chars = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    if tokenizer == "word":
        keep = word_table()[chars]
        if len(chars) > 2:
            middle = chars[1:-1]
            inner = (middle == APOSTROPHES[0]) | (middle == APOSTROPHES[1])
            inner &= keep[:-2] & keep[2:]
            keep[1:-1] |= inner
    else:
        keep = ~space_table()[chars]
    starts = keep.copy()
    starts[1:] &= ~keep[:-1]
    token_starts = np.flatnonzero(starts)
    n_tokens = len(token_starts)
    if n_tokens == 0:
        return _empty_chunk(n_docs)
    offsets = np.empty(n_docs + 1, np.int64)
    offsets[0] = 0
    offsets[1:-1] = np.searchsorted(token_starts, np.flatnonzero(chars == _NEWLINE))
    offsets[-1] = n_tokens
    cleaned = str(
        np.where(keep, chars, np.uint32(_SPACE)), "utf-32-le", "surrogatepass"
    )
    codes, uniques = _code_spaced_text(cleaned, n_tokens)
    return TokenChunk(codes, uniques, offsets)


def _chunk_from_token_lists(documents: list) -> TokenChunk:
    import pandas as pd

    lengths = np.fromiter(map(len, documents), np.int64, count=len(documents))
    offsets = np.zeros(len(documents) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = list(itertools.chain.from_iterable(documents))
    codes, uniques = _code_tokens(tokens)
    if len(uniques) and pd.api.types.infer_dtype(uniques, skipna=False) != "string":
        raise InputTypeError(
            "pre-tokenized documents must hold only str tokens; got "
            f"{pd.api.types.infer_dtype(uniques, skipna=False)} values."
        )
    return TokenChunk(codes, uniques, offsets)


def _join_documents(documents: list[str]) -> str:
    """Join raw documents with ``"\\n"`` (newlines inside documents become spaces)."""
    text = "\n".join(documents)
    if text.count("\n") != len(documents) - 1:
        text = "\n".join([doc.replace("\n", " ") for doc in documents])
    return text


def _check_documents(documents) -> None:
    if isinstance(documents, str | bytes):
        raise InputTypeError(
            "documents must be an iterable of documents (str or lists of tokens), "
            "not a single str; wrap it in a list: [text]."
        )


def chunks_from_documents(
    documents: Iterable,
    *,
    tokenizer: str = "word",
    lowercase: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TokenChunk]:
    """Tokenize and code in-memory documents in chunks.

    Parameters
    ----------
    documents : iterable of str or of list/tuple of str
        Raw documents (tokenized with ``tokenizer``) or already tokenized ones
        (used as they are: not lowercased, not split).
    tokenizer : {"word", "whitespace"}, default="word"
    lowercase : bool, default=True
        Lowercase raw documents before tokenizing.
    chunk_size : int, default=4194304
        Approximate characters per chunk; a chunk holds whole documents and at
        least one.

    Yields
    ------
    TokenChunk
    """
    _check_documents(documents)
    check_tokenizer(tokenizer)
    check_chunk_size(chunk_size)
    buffer: list = []
    size = 0
    pretokenized = False
    for index, doc in enumerate(documents):
        if isinstance(doc, str):
            size += len(doc) + 1
        elif isinstance(doc, list | tuple):
            pretokenized = True
            try:
                size += sum(map(len, doc)) + len(doc) + 1
            except TypeError:
                raise _bad_tokens(index, doc) from None
        else:
            raise InputTypeError(
                f"document {index} is a {type(doc).__name__}; documents must be "
                "str or lists of str tokens."
            )
        buffer.append(doc)
        if size >= chunk_size:
            yield _chunk_from_buffer(buffer, pretokenized, tokenizer, lowercase)
            buffer, size, pretokenized = [], 0, False
    if buffer:
        yield _chunk_from_buffer(buffer, pretokenized, tokenizer, lowercase)


def _bad_tokens(index: int, doc) -> TypeError:
    bad = next(t for t in doc if not isinstance(t, str))
    return InputTypeError(
        f"document {index} holds a {type(bad).__name__} token ({bad!r}); "
        "pre-tokenized documents must hold only str tokens."
    )


def _chunk_from_buffer(buffer, pretokenized, tokenizer, lowercase) -> TokenChunk:
    if not pretokenized:
        return _chunk_from_text(_join_documents(buffer), tokenizer, lowercase)
    documents = [
        tokenize(doc, tokenizer, lowercase=lowercase) if isinstance(doc, str) else doc
        for doc in buffer
    ]
    return _chunk_from_token_lists(documents)


def iter_token_chunks(
    paths,
    *,
    tokenizer: str = "word",
    column: str | None = None,
    lowercase: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    encoding_errors: str = "strict",
    documents: str = "line",
) -> Iterator[TokenChunk]:
    """Read a corpus and yield it as coded token chunks, in bounded memory.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files, directories, glob patterns or ``"-"`` (standard input); see
        :func:`resolve_paths` and :func:`iter_documents` for the formats.
    tokenizer : {"word", "whitespace"}, default="word"
    column : str, default=None
        Text column of JSON Lines/CSV/TSV/Parquet files; None means ``"text"``.
    lowercase : bool, default=True
    chunk_size : int, default=4194304
        Approximate characters (bytes of input) per chunk. Small files are
        merged into one chunk; a chunk always holds whole documents.
    encoding_errors : {"strict", "replace", "ignore"}, default="strict"
    documents : {"line", "paragraph", "file"}, default="line"
        What a document of a plain-text file is; see :func:`iter_documents`.

    Yields
    ------
    TokenChunk

    Notes
    -----
    Each chunk is tokenized with a few passes of numpy over its code points and
    one ``str.split``, then coded with :func:`pandas.factorize`: the cost is a
    few hundred nanoseconds per token, without a Python loop per token.
    """
    options = ReadingOptions(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
    )
    yield from options.chunks_of(options.blocks(paths))


# --------------------------------------------------------------------------
# reading options shared by the file builders


@dataclass(frozen=True)
class ReadingOptions:
    """How a corpus is read and tokenized: the settings every file builder shares.

    :func:`cooc.cooccurrence.build_cooccurrence` and its out-of-core,
    resumable and Dask forms make one from their keyword arguments and pass
    it to the readers. The values are checked when it is made: a bad one
    raises a one-line ``ValueError`` naming the option, as
    :func:`iter_token_chunks` does.

    Attributes
    ----------
    tokenizer : {"word", "whitespace"}, default="word"
    lowercase : bool, default=True
    column : str, default=None
        Text column of JSON Lines/CSV/TSV/Parquet files; None means ``"text"``.
    encoding_errors : {"strict", "replace", "ignore"}, default="strict"
    chunk_size : int, default=4194304
        Approximate characters (bytes of input) per chunk and per block read.
    documents : {"line", "paragraph", "file"}, default="line"
        What a document of a plain-text file is; see :func:`iter_documents`.
    phrases : cooc.phrasetable.PhraseTable, default=None
        Phrases joined into single tokens in every chunk (see
        :mod:`cooc.phrasetable`); recorded in :meth:`record` by its SHA-256.

    Examples
    --------
    >>> options = ReadingOptions(tokenizer="whitespace", documents="paragraph")
    >>> options.record()["tokenizer"], options.documents
    ('whitespace', 'paragraph')
    >>> ReadingOptions(chunk_size=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cooc.errors.InputError: chunk_size=0 must be a positive integer ...
    """

    tokenizer: str = "word"
    lowercase: bool = True
    column: str | None = None
    encoding_errors: str = "strict"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    documents: str = "line"
    phrases: object = None  # a cooc.phrasetable.PhraseTable (a higher layer)

    def __post_init__(self) -> None:
        check_tokenizer(self.tokenizer)
        check_encoding_errors(self.encoding_errors)
        check_chunk_size(self.chunk_size)
        check_document_mode(self.documents)
        if self.phrases is not None and not callable(
            getattr(self.phrases, "join_chunk", None)
        ):
            raise InputTypeError(
                "phrases must be a PhraseTable (cooc.phrasetable.as_phrase_table) "
                f"or None; got {type(self.phrases).__name__}."
            )

    @classmethod
    def of(cls, options) -> ReadingOptions:
        """``options`` itself, or the options of a dict of the same keywords."""
        return options if isinstance(options, cls) else cls(**options)

    def keywords(self) -> dict:
        """The options as keyword arguments (of :func:`iter_token_chunks`, say);
        not ``phrases``, which the readers apply themselves."""
        fields = dataclasses.fields(self)
        return {f.name: getattr(self, f.name) for f in fields if f.name != "phrases"}

    def record(self) -> dict:
        """The ``reading`` record of a build's params: what redoing it needs."""
        return {
            "tokenizer": self.tokenizer,
            "lowercase": self.lowercase,
            "column": self.column,
            "encoding_errors": self.encoding_errors,
        } | ({} if self.phrases is None else {"phrases": self.phrases.record()})

    def check_paths(self, paths) -> None:
        """Refuse table inputs, before reading, unless documents are lines."""
        check_document_paths(paths, self.documents)

    def token_chunks(self, paths) -> Iterator[TokenChunk]:
        """The corpus ``paths`` as coded token chunks (:func:`iter_token_chunks`),
        with the phrases joined."""
        chunks = iter_token_chunks(paths, **self.keywords())
        return chunks if self.phrases is None else map(self.phrases.join_chunk, chunks)

    def blocks(self, paths, max_line: int | None = None) -> Iterator[str | list[str]]:
        """Per file, blocks of whole documents: a str of ``"\\n"``-separated
        documents (plain text) or a list of documents (table rows). A
        plain-text document longer than ``max_line`` bytes (default
        :data:`DEFAULT_MAX_LINE`; :func:`max_line_bytes` of a budget) is
        refused."""
        return _iter_blocks(
            paths,
            column=self.column,
            encoding_errors=self.encoding_errors,
            chunk_size=self.chunk_size,
            documents=self.documents,
            max_line=max_line,
        )

    def stream_blocks(
        self, stream, name: str, max_line: int | None = None
    ) -> Iterator[str]:
        """The blocks of a binary stream of plain text, as :meth:`blocks` gives
        those of a file; ``name`` places errors (line numbers from the start)."""
        return _iter_text_blocks(
            _document_stream(stream, self.documents, name, max_line),
            _document_name(name, self.documents),
            self.chunk_size,
            self.encoding_errors,
            max_line,
        )

    def chunks_of(self, blocks) -> Iterator[TokenChunk]:
        """Token chunks of about ``chunk_size`` characters from blocks of whole
        documents (:meth:`blocks`); chunk bounds do not change any count.
        The phrases, if any, are joined in each chunk."""
        tokenizer, lowercase = self.tokenizer, self.lowercase
        join = (lambda c: c) if self.phrases is None else self.phrases.join_chunk
        pending: list[str] = []
        size = 0
        for block in blocks:
            if not isinstance(block, str):
                if not block:
                    continue
                block = _join_documents(block)
            if pending and size + len(block) > self.chunk_size:
                yield join(_chunk_from_text("\n".join(pending), tokenizer, lowercase))
                pending, size = [], 0
            pending.append(block)
            size += len(block) + 1
        if pending:
            yield join(_chunk_from_text("\n".join(pending), tokenizer, lowercase))
