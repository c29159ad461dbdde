"""Hostile streams (issue 15): a line longer than the budget allows, devices and
named pipes as corpus paths, Ctrl-C, and files whose lines end in a lone CR.

* A document (a line; a paragraph; with ``documents="file"`` a whole file) may
  take at most 1/16 of ``--memory``: a longer one is refused in one line, found
  while reading (never held whole), so the process stays small.
* ``/dev/zero``, other devices, named pipes and sockets are refused before they
  are opened; ``-`` (standard input) streams.
* Ctrl-C is one line, ``Error: interrupted``, exit code 130, and leaves no
  output, temporary file or spill folder behind.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cooc.corpus import (
    DEFAULT_MAX_LINE,
    ReadingOptions,
    _DocumentStream,
    iter_byte_blocks,
    iter_documents,
    max_line_bytes,
)
from cooc.errors import InputError

COOC = [sys.executable, "-m", "cooc"]
MiB = 1 << 20


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error")]


def _blocks(path, **kw) -> list[bytes]:
    return [b.data for b in iter_byte_blocks(path, **kw)]


# -- the limit ------------------------------------------------------------------
def test_the_limit_is_a_sixteenth_of_the_budget():
    assert max_line_bytes(256 * MiB) == 16 * MiB
    assert max_line_bytes(None) == DEFAULT_MAX_LINE == 128 * MiB


@pytest.mark.parametrize("chunk_size", [7, 64, 1 << 16])
def test_a_line_at_the_limit_is_read_one_byte_more_is_refused(tmp_path, chunk_size):
    # (chunk_size 7 and 64: the line spans reads; 1 << 16: a read holds
    # several lines and longer ones than the limit)
    limit = 40
    ok = b"x" * limit
    path = tmp_path / "c.txt"
    path.write_bytes(b"a b\n" + ok + b"\nc\n")
    data = b"\n".join(_blocks(path, chunk_size=chunk_size, max_line=limit))
    assert data == b"a b\n" + ok + b"\nc"
    path.write_bytes(b"a b\n" + ok + b"\nc\n" + ok + b"y\nd\n")
    with pytest.raises(InputError) as err:
        _blocks(path, chunk_size=chunk_size, max_line=limit)
    message = str(err.value)
    assert message.startswith(f"{path}: line 4 is longer than 40 bytes")
    assert "raise --memory" in message and "\n" not in message


@pytest.mark.parametrize("chunk_size", [5, 1 << 16])
def test_the_last_line_without_a_newline_is_checked_too(tmp_path, chunk_size):
    path = tmp_path / "c.txt"
    path.write_bytes(b"a\nb\n" + b"z" * 41)
    with pytest.raises(InputError, match=r"line 3 is longer than 40 bytes"):
        _blocks(path, chunk_size=chunk_size, max_line=40)


def test_the_message_names_the_budget(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"w " * (MiB // 2) + b"x\n")  # a line of 1 MiB + 1 byte
    with pytest.raises(InputError) as err:
        _blocks(path, chunk_size=1 << 16, max_line=max_line_bytes(16 * MiB))
    assert str(err.value) == (
        f"{path}: line 1 is longer than 1 MiB, the limit for --memory 16M (1/16 "
        "of it); split it into shorter lines or raise --memory."
    )


def test_the_text_readers_refuse_long_lines_too(tmp_path):
    # (the str readers of the shard engine and iter_documents)
    path = tmp_path / "c.txt"
    path.write_bytes(b"a\n" + b"q" * 50 + b"\nb\n")
    options = ReadingOptions(chunk_size=16)
    with pytest.raises(InputError, match="line 2 is longer than 40 bytes"):
        list(options.blocks([path], max_line=40))
    with pytest.raises(InputError, match=r"\(bytes 0-9\): line 2 is longer"):
        with open(path, "rb") as fh:
            list(options.stream_blocks(fh, f"{path} (bytes 0-9)", max_line=40))
    assert list(iter_documents(path)) == ["a", "q" * 50, "b"]  # default limit


def test_paragraphs_count_their_raw_lines_and_their_length(tmp_path):
    path = tmp_path / "book.txt"
    # a raw line longer than the limit: held by the paragraph reader, refused
    # with the line number of the file
    path.write_bytes(b"a b\n\nc d\n" + b"e" * 41 + b"\n")
    with pytest.raises(InputError) as err:
        _blocks(path, chunk_size=8, max_line=40, documents="paragraph")
    assert str(err.value).startswith(f"{path}: line 4 is longer than 40 bytes")
    # short lines, a paragraph longer than the limit: paragraph 2
    path.write_bytes(b"a b\n\n" + b"cc dd\n" * 10 + b"\nlast\n")
    with pytest.raises(InputError) as err:
        _blocks(path, chunk_size=8, max_line=40, documents="paragraph")
    assert "a line here is a paragraph): line 2 is longer than 40 bytes" in str(
        err.value
    )
    path.write_bytes(b"a b\n\n" + b"cc dd\n" * 5 + b"\nlast\n")
    assert _blocks(path, chunk_size=8, max_line=40, documents="paragraph")


def test_a_whole_file_document_is_limited_to_the_same_length(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"ab\n" * 13)  # 39 bytes
    assert _blocks(path, chunk_size=4, max_line=40, documents="file")
    path.write_bytes(b"ab\n" * 14)
    with pytest.raises(InputError, match="line 1 is the whole file.*longer than"):
        _blocks(path, chunk_size=4, max_line=40, documents="file")


def test_a_document_stream_without_a_limit_uses_the_default():
    stream = _DocumentStream(io.BytesIO(b"a\n\nb\n"), "paragraph")
    assert stream.max_line == DEFAULT_MAX_LINE
    assert b"".join(iter(lambda: stream.read(100), b"")) == b"a\nb\n"


def _measured(args, *, timeout, **kwargs):
    """Run ``args`` in a child of a child; return (CompletedProcess, the
    grandchild's peak RSS in bytes)."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps([p.returncode, p.stdout, p.stderr, peak]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    rc, out, err, peak = json.loads(done.stdout)
    return subprocess.CompletedProcess(args, rc, out, err), peak


def test_a_64_mb_line_with_memory_64m_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "long.txt"
    with open(path, "wb") as fh:
        fh.write(b"first line\n")
        word = b"lorem ipsum dolor sit amet " * (1 << 15)
        for _ in range(64 * MiB // len(word) + 1):
            fh.write(word)
        fh.write(b"\nlast line\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    out = tmp_path / "out.cooc"
    args = [*COOC, "build", path, "-o", out, "--memory", "64M", "--spill-dir", spill]
    done, peak = _measured(args, timeout=300)
    assert done.returncode == 2, done.stderr
    assert _error_lines(done.stderr) == [
        f"Error: {path}: line 2 is longer than 4 MiB, the limit for --memory 64M "
        "(1/16 of it); split it into shorter lines or raise --memory."
    ]
    assert "Traceback" not in done.stderr
    assert peak < 1 << 30, peak
    assert not out.exists() and list(spill.iterdir()) == []


def test_a_line_within_the_limit_is_counted(tmp_path):
    # 1 MiB of words on one line with --memory 16M (limit 1 MiB): counted whole
    path = tmp_path / "c.txt"
    line = (b"a b " * (MiB // 4))[: MiB - 2] + b" c"
    assert len(line) == MiB
    path.write_bytes(line + b"\nd e\n")
    from cooc.outofcore import build_cooccurrence_file

    result = build_cooccurrence_file(
        path, tmp_path / "o.cooc", memory=16 * MiB, window_size=2
    )
    assert result.stats["n_docs"] == 2
    assert result.stats["n_tokens"] == len(line.split()) + 2


# -- devices, pipes ---------------------------------------------------------------
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("command", ["build", "vocab"])
def test_dev_zero_is_refused_at_once(tmp_path, command):
    out = tmp_path / ("o.cooc" if command == "build" else "v.tsv")
    done, peak = _measured(
        [*COOC, command, "/dev/zero", "-o", out], timeout=120, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert _error_lines(done.stderr) == [
        "Error: /dev/zero: a character device, not a regular file; a corpus is "
        "files, folders or '-' (standard input)."
    ]
    assert peak < 1 << 30
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_on_standard_input_ends_at_the_line_limit(tmp_path):
    out = tmp_path / "o.cooc"
    with open("/dev/zero", "rb") as zero:
        done, peak = _measured(
            [*COOC, "build", "-", "-o", out, "--memory", "64M"],
            timeout=120,
            stdin=zero,
        )
    assert done.returncode == 2, done.stderr
    assert _error_lines(done.stderr) == [
        "Error: <stdin>: line 1 is longer than 4 MiB, the limit for --memory 64M "
        "(1/16 of it); split it into shorter lines or raise --memory."
    ]
    assert peak < 1 << 30
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_refused_without_opening_it(tmp_path, run_cli):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody writes: opening it would wait forever
    result = run_cli("build", fifo, "-o", tmp_path / "o.cooc")
    assert result.exit_code == 2, result.output
    assert _error_lines(result.stderr) == [
        f"Error: {fifo}: a named pipe (FIFO), not a regular file; a corpus is "
        "files, folders or '-' (standard input); to stream it, give '-' and "
        f"redirect standard input: - < {fifo}."
    ]
    with pytest.raises(InputError, match="named pipe"):
        list(iter_documents(fifo))


def test_standard_input_still_streams(tmp_path):
    out = tmp_path / "o.cooc"
    done = subprocess.run(
        [*COOC, "build", "-", "-o", out, "--min-count", "1", "--json", "--quiet"],
        input=b"a b a\nb c\n",
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_docs"] == 2


# -- Ctrl-C ---------------------------------------------------------------------------
def _wait_for(stream, prefix: bytes, proc, timeout=120) -> list[bytes]:
    lines = []
    deadline = time.monotonic() + timeout
    for line in stream:
        lines.append(line)
        if line.startswith(prefix) or time.monotonic() > deadline:
            break
    return lines


def _interrupted(proc, seen):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hang
        proc.kill()
        pytest.fail("the build did not stop within 60 s of SIGINT")
    return b"".join(seen).decode() + rest.decode(), time.monotonic() - t0


def test_ctrl_c_while_reading_standard_input(tmp_path):
    out = tmp_path / "o.cooc"
    proc = subprocess.Popen(
        [*COOC, "build", "-", "-o", out],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(b"a b c d\n" * 10_000)
    proc.stdin.flush()  # ...and the pipe stays open: the build waits for more
    seen = _wait_for(proc.stderr, b"start-up", proc)
    time.sleep(0.5)
    err, took = _interrupted(proc, seen)
    proc.stdin.close()
    assert proc.returncode == 130, err
    assert _error_lines(err) == ["Error: interrupted"]
    assert "Traceback" not in err and "Aborted" not in err and "Fatal" not in err
    assert proc.stdout.read() == b""
    assert took < 30
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_counting_leaves_no_spill_or_output(tmp_path, rng):
    words = np.array([f"w{i}" for i in range(3000)])
    path = tmp_path / "c.txt"
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(20):
            ids = rng.zipf(1.2, size=(1000, 100)) % len(words)
            fh.write("\n".join(" ".join(row) for row in words[ids]) + "\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    out = tmp_path / "o.cooc"
    args = ["--memory", "16M", "--spill-dir", spill, "--window", "120"]
    proc = subprocess.Popen(
        [*COOC, "build", path, "-o", out, "--min-count", "1", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # counting spills runs (--memory 16M); merging them takes seconds
    seen = _wait_for(proc.stderr, b"counting:", proc)
    time.sleep(0.3)
    if proc.poll() is not None:  # pragma: no cover - a very fast machine
        pytest.skip("the build finished before SIGINT")
    assert [p.name[:11] for p in spill.iterdir()] == ["cooc-spill-"]
    err, _ = _interrupted(proc, seen)
    if proc.returncode == 0:  # pragma: no cover
        pytest.skip("the build finished before SIGINT arrived")
    assert proc.returncode == 130, err
    assert _error_lines(err) == ["Error: interrupted"]
    assert "Traceback" not in err
    assert list(spill.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "spill"]


def test_the_command_gives_ctrl_c_back_when_it_ends(abc_corpus, run_cli):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    out = abc_corpus.parent / "v.tsv"
    result = run_cli("vocab", abc_corpus, "-o", out, "--min-count", "1")
    assert result.exit_code == 0, result.output
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# -- line ends ------------------------------------------------------------------------
def test_a_file_with_cr_only_line_ends_is_one_document(tmp_path):
    path = tmp_path / "mac.txt"
    path.write_bytes(b"a b\rc d\re")
    assert list(iter_documents(path)) == ["a b\rc d\re"]
    from cooc.cooccurrence import build_cooccurrence

    cooc = build_cooccurrence(path, window_size=5)
    assert cooc.stats["n_docs"] == 1
    assert cooc.stats["n_tokens"] == 5
    a, d = cooc.vocabulary.id_of("a"), cooc.vocabulary.id_of("d")
    assert cooc.matrix[a, d] > 0  # the window crosses the lone CR


def test_a_table_before_a_text_file_keeps_line_documents(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text\nx y\n", encoding="utf-8")
    text = tmp_path / "u.txt"
    text.write_text("a b\nc d\n", encoding="utf-8")
    blocks = list(iter_byte_blocks([table, text]))
    assert [b.data for b in blocks] == [b"x y", b"a b\nc d"]
