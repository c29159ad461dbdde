"""Hostile files and a hostile machine: what cooc does with them.

Outputs that are devices, FIFOs, sockets or symbolic links; unreadable files
and folders; full disks and read-only file systems; globs and folders that
loop through links; damaged compressed tables; images and models that are
not what they claim; a scheduler address that leads nowhere. Each is one
line on standard error (exit 2 for what the user can fix, exit 1 for a full
disk) and leaves no partial output.

Permissions are made with chmod when that bites; running as root (where it
does not) the tests make the same errors by monkeypatching ``os.access``,
``os.scandir``, ``open`` and ``os.open`` for the paths concerned. A real full
disk (a tiny tmpfs) is used only as root where ``mount`` works; otherwise
writes are made to fail with ENOSPC by monkeypatching.
"""

from __future__ import annotations

import builtins
import bz2
import errno
import gzip
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cooc.corpus import resolve_paths
from cooc.errors import InputError
from cooc.files import atomic_write, check_output

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
TEXT = "the cat sat on the mat\nthe dog sat on the log\n"


def one_error_line(result) -> str:
    """The single ``Error:`` line of a failed command (progress lines aside),
    with no traceback and nothing on standard output."""
    text = result.stderr
    lines = [line for line in text.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: "), text
    assert "Traceback" not in text + result.stdout
    assert result.stdout == ""
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def write(path: Path, text: str = TEXT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def n_docs(run_cli, *args) -> int:
    import json

    r = run_cli("build", *args, "--min-count", "1", "--json", "-q")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["n_docs"]


# -- permissions: chmod where it bites, else monkeypatching -------------------------


class Denied:
    """Make files unreadable and folders unreadable or read-only.

    Not as root, with chmod (undone at the end). As root, where chmod does not
    bite, by making ``os.access``, ``os.scandir``, ``open`` and ``os.open``
    answer for the chosen paths as they would to an ordinary user.
    """

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.modes: list[tuple[Path, int]] = []
        self.unreadable: set[str] = set()
        self.read_only: set[str] = set()
        self.patched = False

    def _patch(self):
        if self.patched:
            return
        self.patched = True
        real_access, real_scandir = os.access, os.scandir
        real_open, real_os_open = builtins.open, os.open
        unreadable, read_only = self.unreadable, self.read_only

        def key(path):
            return os.path.abspath(os.fspath(path)) if not isinstance(path, int) else ""

        def deny(path):
            code = errno.EACCES
            raise PermissionError(code, os.strerror(code), os.fspath(path))

        def access(path, mode, *args, **kwargs):
            k = key(path)
            if k in unreadable and mode & (os.R_OK | os.X_OK):
                return False
            if k in read_only and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        def scandir(path="."):
            if key(path) in unreadable:
                deny(path)
            return real_scandir(path)

        def open_(file, mode="r", *args, **kwargs):
            if key(file) in unreadable:
                deny(file)
            return real_open(file, mode, *args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and os.path.dirname(key(path)) in read_only:
                deny(path)
            return real_os_open(path, flags, *args, **kwargs)

        self.monkeypatch.setattr(os, "access", access)
        self.monkeypatch.setattr(os, "scandir", scandir)
        self.monkeypatch.setattr(builtins, "open", open_)
        self.monkeypatch.setattr(io, "open", open_)
        self.monkeypatch.setattr(os, "open", os_open)

    def file(self, path: Path) -> None:
        """``path`` (a file or a folder) cannot be read (nor listed)."""
        if ROOT:
            self._patch()
            self.unreadable.add(os.path.abspath(path))
        else:
            self.modes.append((path, path.stat().st_mode))
            path.chmod(0)

    def folder_read_only(self, path: Path) -> None:
        """No file can be made in the folder ``path``."""
        if ROOT:
            self._patch()
            self.read_only.add(os.path.abspath(path))
        else:
            self.modes.append((path, path.stat().st_mode))
            path.chmod(0o555)

    def undo(self):
        for path, mode in reversed(self.modes):
            path.chmod(stat.S_IMODE(mode))


@pytest.fixture
def denied(monkeypatch):
    d = Denied(monkeypatch)
    yield d
    d.undo()


# -- (7) outputs that are not regular files ------------------------------------------


def test_a_fifo_as_output_is_refused_and_stays_a_fifo(run_cli, tmp_path):
    corpus = write(tmp_path / "c.txt")
    fifo = tmp_path / "out.cooc"
    os.mkfifo(fifo)
    r = run_cli("build", corpus, "--min-count", "1", "-o", fifo)
    assert r.exit_code == 2
    line = one_error_line(r)
    assert "out.cooc" in line and "FIFO" in line and "not a regular file" in line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_a_link_to_a_device_is_refused_and_the_device_is_untouched(run_cli, tmp_path):
    corpus = write(tmp_path / "c.txt")
    link = tmp_path / "null.cooc"
    link.symlink_to(os.devnull)
    before = os.stat(os.devnull)
    r = run_cli("build", corpus, "--min-count", "1", "-o", link)
    assert r.exit_code == 2
    assert "character device" in one_error_line(r)
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert os.stat(os.devnull).st_ino == before.st_ino


def test_a_socket_as_output_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with (
            pytest.raises(InputError, match="socket, not a regular file"),
            atomic_write(path) as fh,
        ):
            fh.write(b"x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_a_directory_or_a_loop_of_links_as_output_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match=r"'.*d' is a directory"):
        check_output(tmp_path / "d")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with (
        pytest.raises(InputError, match="loop of symbolic links"),
        atomic_write(tmp_path / "a") as fh,
    ):
        fh.write(b"x")


def test_a_link_as_output_is_written_through_and_stays(run_cli, tmp_path):
    corpus = write(tmp_path / "c.txt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "real.cooc"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.cooc"
    link.symlink_to(Path("elsewhere") / "real.cooc")  # relative, as ln -s makes
    r = run_cli("build", corpus, "--min-count", "1", "-o", link, "-q")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and os.readlink(link) == "elsewhere/real.cooc"
    assert target.read_bytes()[:2] == b"PK"  # the .cooc went to the target
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # its mode is kept
    assert leftovers(tmp_path) == [] and leftovers(elsewhere) == []
    r = run_cli("info", link)
    assert r.exit_code == 0, r.output


def test_a_dangling_link_as_output_creates_its_target(tmp_path):
    link = tmp_path / "v.txt"
    link.symlink_to("made.txt")
    with atomic_write(link, "w", encoding="utf-8") as fh:
        fh.write("hello\n")
    assert link.is_symlink()
    assert (tmp_path / "made.txt").read_text(encoding="utf-8") == "hello\n"


def test_the_temporary_file_goes_beside_the_target(tmp_path, monkeypatch):
    """Renaming works only within one file system: the temporary file is made
    in the target's folder, not the link's."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "a" / "out.bin"
    link.symlink_to(tmp_path / "b" / "out.bin")
    made = []
    real = os.open

    def spy(path, flags, *args):
        made.append(Path(path).parent)
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    with atomic_write(link) as fh:
        fh.write(b"data")
    assert made == [tmp_path / "b"]
    assert (tmp_path / "b" / "out.bin").read_bytes() == b"data"


# -- (8) permissions -----------------------------------------------------------------


def test_an_unreadable_corpus_file_is_one_line_naming_it(run_cli, tmp_path, denied):
    corpus = write(tmp_path / "secret.txt")
    denied.file(corpus)
    r = run_cli("build", corpus, "--min-count", "1", "-o", tmp_path / "out.cooc")
    assert r.exit_code == 2
    assert one_error_line(r) == f"Error: {corpus}: Permission denied"
    assert not (tmp_path / "out.cooc").exists()


def test_an_unreadable_file_in_a_corpus_folder_stops_before_reading(
    run_cli, tmp_path, denied
):
    write(tmp_path / "corpus" / "a.txt")
    bad = write(tmp_path / "corpus" / "b.txt")
    denied.file(bad)
    with pytest.raises(PermissionError) as err:
        resolve_paths(tmp_path / "corpus")
    assert err.value.filename == str(bad)
    r = run_cli("build", tmp_path / "corpus", "-o", tmp_path / "out.cooc")
    assert r.exit_code == 2
    assert "b.txt: Permission denied" in one_error_line(r)


@pytest.mark.parametrize("how", ["folder", "glob"])
def test_an_unreadable_subfolder_is_refused_not_skipped(run_cli, tmp_path, denied, how):
    for i in range(4):
        write(tmp_path / "corpus" / f"f{i}.txt", "a b\n")
    for i in range(100):
        write(tmp_path / "corpus" / "sub" / f"g{i}.txt", "a b\n")
    assert n_docs(run_cli, tmp_path / "corpus", "-o", tmp_path / "all.cooc") == 104
    denied.file(tmp_path / "corpus" / "sub")
    given = tmp_path / "corpus" if how == "folder" else f"{tmp_path}/corpus/**/*.txt"
    r = run_cli("build", given, "--min-count", "1", "-o", tmp_path / "out.cooc")
    assert r.exit_code == 2, r.output
    line = one_error_line(r)
    assert f"{tmp_path / 'corpus' / 'sub'}: Permission denied" in line
    assert not (tmp_path / "out.cooc").exists()


def test_an_unreadable_cooc_file_is_one_line(run_cli, tmp_path, denied):
    corpus = write(tmp_path / "c.txt")
    r = run_cli("build", corpus, "--min-count", "1", "-o", tmp_path / "m.cooc", "-q")
    assert r.exit_code == 0, r.output
    denied.file(tmp_path / "m.cooc")
    for command, *rest in (
        ["embed", "--rank", "2", "-o", tmp_path / "v.txt"],
        ["export", "-o", tmp_path / "p.tsv"],
    ):
        r = run_cli(command, tmp_path / "m.cooc", *rest)
        assert r.exit_code == 2, r.output
        assert "m.cooc" in one_error_line(r)
    assert not (tmp_path / "v.txt").exists() and not (tmp_path / "p.tsv").exists()


def test_a_read_only_output_folder_names_the_output_before_any_work(
    run_cli, tmp_path, denied
):
    corpus = write(tmp_path / "c.txt")
    ro = tmp_path / "ro"
    ro.mkdir()
    denied.folder_read_only(ro)
    r = run_cli("build", corpus, "--min-count", "1", "-o", ro / "out.cooc")
    assert r.exit_code == 2
    line = one_error_line(r)
    assert f"{ro / 'out.cooc'}: Permission denied" in line
    assert ".tmp" not in line
    assert list(ro.iterdir()) == []


def test_atomic_write_names_the_output_when_its_folder_refuses(tmp_path, monkeypatch):
    """The check when the temporary file is made (after the work): the error
    names the output, not the temporary file, and nothing is left behind."""
    real = os.open

    def refuse(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    with (
        pytest.raises(PermissionError) as err,
        atomic_write(tmp_path / "out.bin") as fh,
    ):
        fh.write(b"x")
    assert err.value.filename == str(tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_system_is_one_line_exit_2(run_cli, tmp_path, monkeypatch):
    corpus = write(tmp_path / "c.txt")
    real = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    r = run_cli("build", corpus, "--min-count", "1", "-o", tmp_path / "out.cooc")
    assert r.exit_code == 2
    line = one_error_line(r)
    assert f"{tmp_path / 'out.cooc'}: Read-only file system" in line
    assert not (tmp_path / "out.cooc").exists()


@pytest.mark.parametrize("option", ["--spill-dir", "--temp-dir"])
def test_a_read_only_temporary_folder_is_refused_before_any_work(
    run_cli, tmp_path, denied, option
):
    corpus = write(tmp_path / "c.txt")
    r = run_cli("build", corpus, "--min-count", "1", "-o", tmp_path / "m.cooc", "-q")
    assert r.exit_code == 0
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    denied.folder_read_only(folder)
    if option == "--spill-dir":
        args = ["build", corpus, "--memory", "16M", "-o", tmp_path / "out.cooc"]
    else:
        args = ["embed", tmp_path / "m.cooc", "--streaming", "--rank", "2"]
        args += ["-o", tmp_path / "out.txt"]
    r = run_cli(*args, option, folder)
    assert r.exit_code == 2
    assert f"{folder}: Permission denied" in one_error_line(r)
    assert list(folder.iterdir()) == []
    assert not list(tmp_path.glob("out.*"))


def test_an_unreadable_corpus_file_on_dask_is_one_line(run_cli, tmp_path, denied):
    pytest.importorskip("distributed")
    corpus = write(tmp_path / "secret.txt")
    denied.file(corpus)
    r = run_cli(
        "build", corpus, "--engine", "dask", "--workers", "1", "-q",
        "-o", tmp_path / "out.cooc",
    )  # fmt: skip
    assert r.exit_code == 2
    assert one_error_line(r) == f"Error: {corpus}: Permission denied"
    assert not (tmp_path / "out.cooc").exists()


# -- (9) a full disk -----------------------------------------------------------------


class _Full(io.FileIO):
    """A file on a disk that has ``room`` bytes left."""

    room = 0

    def write(self, data):
        n = memoryview(data).nbytes
        if n > _Full.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _Full.room -= n
        return super().write(data)


def _full_fdopen(fd, mode="r", buffering=-1, encoding=None, errors=None, newline=None):
    raw = _Full(fd, "w")
    buffered = io.BufferedWriter(raw)
    if "b" in mode:
        return buffered
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline=newline)


def _full_pwrite(real_pwrite):
    def pwrite(fd, data, offset):
        n = memoryview(data).nbytes
        if n > _Full.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _Full.room -= n
        return real_pwrite(fd, data, offset)

    return pwrite


def _full_open(real_open):
    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax"):
            return io.BufferedWriter(_Full(file, "w"))
        return real_open(file, mode, *args, **kwargs)

    return open_


@pytest.fixture
def made(tmp_path, run_cli):
    """A corpus and the .cooc file built from it."""
    corpus = write(tmp_path / "c.txt", TEXT * 200)
    r = run_cli("build", corpus, "--min-count", "1", "-o", tmp_path / "m.cooc", "-q")
    assert r.exit_code == 0, r.output
    return corpus, tmp_path / "m.cooc"


FULL_WRITES = {
    "build": lambda t, c, m: ["build", c, "--min-count", "1", "-o", t / "out.cooc"],
    "build --checkpoint": lambda t, c, m: [
        "build", c, "--min-count", "1", "--checkpoint", t / "ck", "-o", t / "out.cooc",
    ],
    "export": lambda t, c, m: ["export", m, "-o", t / "out.tsv"],
    "export .gz": lambda t, c, m: ["export", m, "-o", t / "out.tsv.gz"],
    "embed": lambda t, c, m: ["embed", m, "--rank", "2", "-o", t / "out.txt"],
    "embed .npz": lambda t, c, m: ["embed", m, "--rank", "2", "-o", t / "out.npz"],
    "vocab": lambda t, c, m: ["vocab", c, "-o", t / "out.tsv"],
}  # fmt: skip


@pytest.mark.parametrize("room", [0, 16])
@pytest.mark.parametrize("command", list(FULL_WRITES))
def test_a_full_disk_is_one_line_exit_1_naming_the_output(
    run_cli, tmp_path, made, monkeypatch, command, room
):
    corpus, matrix = made
    args = FULL_WRITES[command](tmp_path, corpus, matrix)
    monkeypatch.setattr(_Full, "room", room)
    monkeypatch.setattr(os, "fdopen", _full_fdopen)
    monkeypatch.setattr(os, "pwrite", _full_pwrite(os.pwrite))  # (.cooc files)
    r = run_cli(*args)
    assert r.exit_code == 1, (r.output, r.exception)
    line = one_error_line(r)
    assert line.startswith("Error: no space left on the device writing "), line
    assert not list(tmp_path.glob("out.*"))
    assert leftovers(tmp_path) == []


def test_a_full_spill_folder_is_one_line_exit_1(run_cli, tmp_path, monkeypatch):
    import cooc.outofcore

    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    lines = [" ".join(rng.choice(words, 12)) for _ in range(20000)]
    corpus = write(tmp_path / "big.txt", "\n".join(lines) + "\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(_Full, "room", 1000)
    monkeypatch.setattr(cooc.outofcore, "open", _full_open(open), raising=False)
    r = run_cli(
        "build", corpus, "--min-count", "1", "--memory", "16M", "--spill-dir", spill,
        "-q", "-o", tmp_path / "out.cooc",
    )  # fmt: skip
    assert r.exit_code == 1, (r.output, r.exception)
    assert one_error_line(r).startswith("Error: no space left on the device")
    assert not (tmp_path / "out.cooc").exists()
    assert list(spill.iterdir()) == []  # the spilled runs are removed


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (root only, where mount works): a real full disk."""
    if not ROOT or shutil.which("mount") is None:
        pytest.skip("needs root and mount for a real full disk")
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_every_writer_on_a_really_full_disk(run_cli, tmp_path, tiny_disk):
    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(3000)])
    lines = [" ".join(rng.choice(words, 12)) for _ in range(20000)]
    corpus = write(tmp_path / "big.txt", "\n".join(lines) + "\n")
    matrix = tmp_path / "m.cooc"
    r = run_cli("build", corpus, "--min-count", "1", "-o", matrix, "-q")
    assert r.exit_code == 0
    d, t = tiny_disk, tmp_path
    build = ["build", corpus, "--min-count", "1"]
    runs = [
        [*build, "-o", d / "out.cooc"],
        [*build, "--checkpoint", d / "ck", "-o", t / "o1.cooc"],
        [*build, "--memory", "16M", "--spill-dir", d, "-o", t / "o2.cooc"],
        ["export", matrix, "-o", d / "out.tsv.gz"],
        ["embed", matrix, "--rank", "50", "-o", d / "out.npz"],
        ["embed", matrix, "--rank", "50", "--streaming", "--memory", "100M",
         "--temp-dir", d, "-o", t / "o3.txt"],
    ]  # fmt: skip
    for args in runs:
        r = run_cli(*args, "-q")
        assert r.exit_code == 1, (args, r.output, r.exception)
        assert one_error_line(r).startswith("Error: no space left on the device")
        assert not list(d.glob("out.*")) and leftovers(d) == []
        shutil.rmtree(d / "ck", ignore_errors=True)
    assert not list(tmp_path.glob("o?.*"))


# -- (10) globs and folders that loop through links -----------------------------------


def looping_tree(root: Path) -> Path:
    """c1/a.txt, c1/sub/b.txt, c1/sub/up -> .. and c1/sub/alias.txt -> ../a.txt"""
    c1 = root / "c1"
    write(c1 / "a.txt", "a b\n")
    write(c1 / "sub" / "b.txt", "c d\n")
    (c1 / "sub" / "up").symlink_to("..")
    (c1 / "sub" / "alias.txt").symlink_to(Path("..") / "a.txt")
    return c1


def test_a_glob_through_a_link_up_the_tree_counts_each_file_once(run_cli, tmp_path):
    c1 = looping_tree(tmp_path)
    found = resolve_paths(f"{c1}/**/*.txt")
    assert sorted(os.path.realpath(p) for p in found) == sorted(
        os.path.realpath(p) for p in (c1 / "a.txt", c1 / "sub" / "b.txt")
    )
    assert n_docs(run_cli, f"{c1}/**/*.txt", "-o", tmp_path / "g.cooc") == 2
    assert n_docs(run_cli, f"{c1}/**", "-o", tmp_path / "h.cooc") == 2


def test_a_folder_through_a_link_up_the_tree_counts_each_file_once(run_cli, tmp_path):
    c1 = looping_tree(tmp_path)
    assert resolve_paths(c1) == [c1 / "a.txt", c1 / "sub" / "b.txt"]
    assert n_docs(run_cli, c1, "-o", tmp_path / "g.cooc") == 2


def test_links_to_other_folders_are_followed_once(tmp_path):
    data = tmp_path / "data"
    write(data / "x.txt")
    corpus = tmp_path / "corpus"
    write(corpus / "own.txt")
    (corpus / "linked").symlink_to(data)
    (corpus / "again").symlink_to(data)
    assert resolve_paths(corpus) == [corpus / "again" / "x.txt", corpus / "own.txt"]


def test_two_loops_of_links_do_not_explode(tmp_path):
    """Two links back up at every level: glob.glob would walk 2^40 paths."""
    c = tmp_path / "c"
    write(c / "a.txt")
    (c / "l1").symlink_to(".")
    (c / "l2").symlink_to(".")
    start = time.perf_counter()
    assert resolve_paths(f"{c}/**/*.txt") == [c / "a.txt"]
    assert resolve_paths(c) == [c / "a.txt"]
    assert time.perf_counter() - start < 5


def test_the_same_file_from_two_arguments_is_refused(tmp_path):
    c1 = looping_tree(tmp_path)
    with pytest.raises(InputError, match="name each file once"):
        resolve_paths([c1, c1 / "a.txt"])
    with pytest.raises(InputError, match="name each file once"):
        resolve_paths([c1 / "a.txt", c1 / "a.txt"])


def test_a_broken_link_in_a_corpus_folder_is_refused(tmp_path):
    c = tmp_path / "c"
    write(c / "a.txt")
    (c / "gone.txt").symlink_to("nowhere.txt")
    with pytest.raises(InputError, match=r"gone\.txt.*'nowhere\.txt', which does not"):
        resolve_paths(c)
    with pytest.raises(InputError, match=r"gone\.txt"):
        resolve_paths(f"{c}/*.txt")
    (c / "gone.txt").unlink()
    (c / "self.txt").symlink_to("self.txt")
    with pytest.raises(InputError, match=r"self\.txt' is a loop of symbolic links"):
        resolve_paths(c)


def test_patterns_match_what_glob_glob_matches(tmp_path):
    """Without links, a pattern gives the files the standard glob's matches
    gave (folders expanded, hidden names skipped), each once."""
    import glob

    for name in ["a.txt", "b.md", ".h.txt", "s/c.txt", "s/t/d.txt", ".hid/e.txt",
                 "s/.f.txt", "u/g.txt.gz"]:  # fmt: skip
        write(tmp_path / name)

    def standard(pattern):
        files = []
        for match in map(Path, sorted(glob.glob(pattern, recursive=True))):
            if match.is_dir():
                below = (p for p in match.rglob("*") if p.is_file())
                files += sorted(
                    p for p in below
                    if not any(x.startswith(".") for x in p.relative_to(match).parts)
                )  # fmt: skip
            elif match.is_file():
                files.append(match)
        return list(dict.fromkeys(files))

    for pattern in ["*.txt", "**/*.txt", "s/*", "s/**", "*/*.txt", "**", "?.md",
                    "[ab].*", "s/**/*.txt", "**/t/*", ".*", "u/*.gz"]:  # fmt: skip
        full = f"{tmp_path}/{pattern}"
        assert resolve_paths(full) == standard(full), pattern


# -- (11) damaged compressed tables ---------------------------------------------------

CSV = b"text,label\n" + b"".join(
    b"the cat sat %d,x\n" % i if i % 2 else b"a dog ran %d,y\n" % i for i in range(3000)
)
JSONL = b"".join(
    b'{"text": "the cat %d", "label": "%s"}\n' % (i, b"xy"[i % 2 : i % 2 + 1])
    for i in range(3000)
)


def damaged(kind: str, data: bytes, compression: str) -> bytes:
    packed = gzip.compress(data) if compression == ".gz" else bz2.compress(data)
    return {
        "cut short": packed[: len(packed) // 2],
        "not compressed": data,
        "trailing junk": packed + b"garbage!",
        "corrupted": packed[:100] + bytes(200) + packed[300:],
    }[kind]


CASES_11 = [
    (kind, table, compression)
    for kind in ("cut short", "not compressed", "trailing junk", "corrupted")
    for table in ("t.csv", "t.jsonl")
    for compression in (".gz", ".bz2")
    # (bz2 stops reading at the end of its stream: junk after it is ignored)
    if not (kind == "trailing junk" and compression == ".bz2")
]


@pytest.mark.parametrize("kind,table,compression", CASES_11)
def test_a_damaged_compressed_table_corpus_is_one_line(
    run_cli, tmp_path, kind, table, compression
):
    path = tmp_path / f"{table}{compression}"
    path.write_bytes(damaged(kind, CSV if table == "t.csv" else JSONL, compression))
    r = run_cli("build", path, "--column", "text", "-o", tmp_path / "out.cooc")
    assert r.exit_code == 2, (r.output, r.exception)
    line = one_error_line(r)
    assert line.startswith(f"Error: cannot decompress {path}: "), line
    assert line.endswith(f"check that the file is a complete {compression} file."), line
    assert not (tmp_path / "out.cooc").exists()


@pytest.mark.parametrize("kind", ["cut short", "not compressed", "corrupted"])
@pytest.mark.parametrize("name", ["items.csv.gz", "items.csv.bz2", "items.jsonl.gz"])
def test_a_damaged_compressed_table_to_fit_or_predict_is_one_line(
    run_cli, tmp_path, kind, name
):
    data = CSV if ".csv" in name else JSONL
    good = tmp_path / f"good{name[5:]}"
    pack = gzip.compress if name.endswith(".gz") else bz2.compress
    good.write_bytes(pack(data))
    path = tmp_path / name
    path.write_bytes(damaged(kind, data, Path(name).suffix))
    r = run_cli("fit", path, "--label-column", "label", "--image-column", "",
                "-o", tmp_path / "out.skops")  # fmt: skip
    assert r.exit_code == 2, (r.output, r.exception)
    assert one_error_line(r).startswith(f"Error: cannot decompress {path}: ")
    r = run_cli("fit", good, "--label-column", "label", "--image-column", "", "-q",
                "-o", tmp_path / "m.skops")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run_cli("predict", tmp_path / "m.skops", path, "-o", tmp_path / "out.csv")
    assert r.exit_code == 2, (r.output, r.exception)
    assert one_error_line(r).startswith(f"Error: cannot decompress {path}: ")
    assert not list(tmp_path.glob("out.*"))


# -- (15) a model file that holds something else --------------------------------------


@pytest.mark.parametrize("thing", ["estimator", "dict"])
def test_a_skops_file_holding_another_object_is_one_line(run_cli, tmp_path, thing):
    pytest.importorskip("skops")
    from sklearn.linear_model import LogisticRegression

    from cooc.classify import load_model, save_model

    model = (
        LogisticRegression().fit([[0.0], [1.0]], [0, 1]) if thing == "estimator"
        else {"a": 1}
    )  # fmt: skip
    save_model(model, tmp_path / "m.skops")
    table = tmp_path / "items.csv"
    table.write_text("text\na b\n", encoding="utf-8")
    r = run_cli("predict", tmp_path / "m.skops", table, "-o", tmp_path / "out.csv")
    assert r.exit_code == 2, (r.output, r.exception)
    line = one_error_line(r)
    name = "LogisticRegression" if thing == "estimator" else "dict"
    assert f"m.skops' holds a {name} (" in line
    assert "not a cooc model (cooc.models.MultimodalClassifier)" in line
    assert not (tmp_path / "out.csv").exists()
    # Python callers choose: any model, or one of a class
    loaded, _ = load_model(tmp_path / "m.skops")
    assert type(loaded) is type(model)
    with pytest.raises(InputError, match="not a cooc model"):
        load_model(tmp_path / "m.skops", expected="cooc.models.MultimodalClassifier")
    if thing == "estimator":
        load_model(tmp_path / "m.skops", expected=LogisticRegression)


# -- (16) a scheduler address that leads nowhere --------------------------------------


def _run_cooc(*args, env=None, timeout=50):
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cooc", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"cooc {' '.join(map(str, args))} still runs after {timeout} s")
    return done, time.perf_counter() - started


def test_a_scheduler_address_of_an_unknown_scheme_is_one_line_at_once(tmp_path):
    pytest.importorskip("distributed")
    corpus = write(tmp_path / "c.txt")
    done, seconds = _run_cooc(
        "build", corpus, "--engine", "dask", "--scheduler", "nonsense://x",
        "-o", tmp_path / "out.cooc",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], lines
    assert "unknown address scheme 'nonsense'" in lines[0]
    assert seconds < 20
    assert not (tmp_path / "out.cooc").exists()


def test_a_server_that_is_not_a_scheduler_is_one_line_without_a_hang(tmp_path):
    """A port that accepts connections but never answers Dask's handshake."""
    pytest.importorskip("distributed")
    corpus = write(tmp_path / "c.txt")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # (never accepted: the handshake is never answered)
        port = server.getsockname()[1]
        done, seconds = _run_cooc(
            "build", corpus, "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}",
            "-o", tmp_path / "out.cooc",
            env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0], lines
    assert seconds < 30


# -- (17) image files that are not images ---------------------------------------------


@pytest.fixture
def pictures(tmp_path):
    from PIL import Image

    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
    return folder


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.png", b"", "the file is empty"),
        ("fake.jpg", b"not an image at all\n", "not a format Pillow knows"),
        ("cut.png", None, "truncated"),
    ],
)
def test_a_file_that_is_not_an_image_is_one_line_naming_it(
    run_cli, tmp_path, pictures, name, content, reason
):
    bad = pictures / name
    if content is None:
        data = (pictures / "a.png").read_bytes()
        content = data[: len(data) // 2]
    bad.write_bytes(content)
    r = run_cli("quantize", pictures, "-o", tmp_path / "out.tsv")
    assert r.exit_code == 2, (r.output, r.exception)
    line = one_error_line(r)
    assert f"image '{bad}' cannot be read" in line and reason in line, line
    table = tmp_path / "items.csv"
    table.write_text(
        f"text,image,label\na b,pics/a.png,x\nc d,pics/{name},y\n"
        "a c,pics/b.png,x\nb d,pics/a.png,y\n",
        encoding="utf-8",
    )
    r = run_cli("fit", table, "--label-column", "label", "-o", tmp_path / "out.skops")
    assert r.exit_code == 2, (r.output, r.exception)
    assert f"image '{bad}' cannot be read" in one_error_line(r)
    assert not list(tmp_path.glob("out.*"))


def test_an_unreadable_image_is_a_permission_error(tmp_path, pictures, denied):
    from cooc.vision import load_images

    denied.file(pictures / "b.png")
    with pytest.raises(PermissionError):
        load_images([pictures / "a.png", pictures / "b.png"])
