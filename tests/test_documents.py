"""Documents that are not lines: ``documents="paragraph"`` and ``"file"``
(``--documents``), through every reader and every engine.

The reference is plain Python: the file's text split into lines, grouped into
paragraphs at blank lines (or taken whole), tokenized with
:func:`cooc.corpus.tokenize` and counted with ``hand_count``.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from cooc import distributed as D
from cooc import shards as S
from cooc.checkpoint import build_cooccurrence_resumable
from cooc.cooccurrence import build_cooccurrence
from cooc.corpus import (
    ReadingOptions,
    _DocumentStream,
    iter_documents,
    iter_token_chunks,
    tokenize,
)
from cooc.io import load_cooc
from cooc.vocab import build_vocabulary, build_vocabulary_from_files

MODES = ["line", "paragraph", "file"]

# Hard-wrapped text: a paragraph over three lines, blank lines made of spaces
# and tabs, a run of blank lines, CRLF ends and no final newline.
WRAPPED = (
    "\n"
    "The cat sat on\n"
    "the mat, and the\n"
    "dog sat too.\n"
    "\n"
    "  \t\n"
    "A bird\r\n"
    "sang.\r\n"
    "\r\n"
    "\n"
    "\n"
    "The end"
)
WRAPPED_DOCS = {
    "line": [
        [],
        ["the", "cat", "sat", "on"],
        ["the", "mat", "and", "the"],
        ["dog", "sat", "too"],
        [],
        [],
        ["a", "bird"],
        ["sang"],
        [],
        [],
        [],
        ["the", "end"],
    ],
    "paragraph": [
        ["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "sat", "too"],
        ["a", "bird", "sang"],
        ["the", "end"],
    ],
    "file": [
        [
            *["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "sat"],
            *["too", "a", "bird", "sang", "the", "end"],
        ]
    ],
}


def reference_documents(data: bytes, mode: str) -> list[str]:
    """The documents of a plain-text file's bytes, in plain Python."""
    text = data.decode("utf-8").removeprefix("\ufeff")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if mode == "line":
        return lines
    if mode == "file":
        return [" ".join(lines)] if data else []
    paragraphs, current = [], []
    for line in lines:
        if line.strip(" \t\r\f\v"):
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def reference_tokens(paths, mode: str) -> list[list[str]]:
    docs = []
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as fh:
            data = fh.read()
        docs += [tokenize(d) for d in reference_documents(data, mode)]
    return docs


def dense(cooc) -> np.ndarray:
    return cooc.matrix.toarray()


def assert_same(expected, got):
    """Exact equality of two CoocMatrix (arrays, vocabulary, records)."""
    a, b = expected.matrix, got.matrix
    assert a.shape == b.shape
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert expected.vocabulary == got.vocabulary
    assert expected.params == got.params
    assert expected.stats == got.stats


def write_wrapped_corpus(folder: Path, rng, n_paragraphs=250) -> list[Path]:
    """Hard-wrapped plain text in several shapes: LF, CRLF without a final
    newline and with leading blank lines, gzip, and a UTF-8 BOM."""
    folder.mkdir(parents=True, exist_ok=True)
    words = np.array([f"w{i}" for i in range(120)])
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()

    def text(end: str) -> str:
        parts = []
        for _ in range(n_paragraphs):
            tokens = list(rng.choice(words, rng.integers(1, 40), p=p))
            width = int(rng.integers(1, 8))
            lines = [
                " ".join(tokens[i : i + width]) for i in range(0, len(tokens), width)
            ]
            parts.append(end.join(lines))
            blanks = rng.choice(["", "  ", "\t", " \t "], rng.integers(1, 4))
            parts.append(end.join(["", *blanks, ""]))
        return "".join(parts)

    paths = []
    a = folder / "a.txt"
    a.write_bytes(text("\n").encode())
    b = folder / "b.txt"
    b.write_bytes(("\r\n\r\n" + text("\r\n").rstrip("\r\n")).encode())
    c = folder / "c.txt.gz"
    with gzip.open(c, "wb") as fh:
        fh.write(text("\n").encode())
    d = folder / "d.txt"
    d.write_bytes(b"\xef\xbb\xbf" + text("\n").encode())
    paths += [a, b, c, d]
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_wrapped_corpus(
        tmp_path_factory.mktemp("wrapped"), np.random.default_rng(11)
    )


# -- the documents ------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_documents_of_a_hard_wrapped_text(tmp_path, mode):
    path = tmp_path / "wrapped.txt"
    path.write_bytes(WRAPPED.encode())
    assert reference_tokens([path], mode) == WRAPPED_DOCS[mode]
    docs = [tokenize(d) for d in iter_documents(path, documents=mode)]
    assert docs == WRAPPED_DOCS[mode]
    for chunk_size in (1, 7, 1 << 20):
        chunks = iter_token_chunks(path, documents=mode, chunk_size=chunk_size)
        assert [d for c in chunks for d in c.documents()] == WRAPPED_DOCS[mode]


def test_paragraph_documents_as_text():
    data = b"one\ntwo  \r\n\n  \nthree\n"
    for mode, expected in [
        ("paragraph", b"one two  \nthree\n"),
        ("file", b"one two" + b" " * 7 + b"three \n"),
    ]:
        for step in (1, 3, 100):
            stream = _DocumentStream(io.BytesIO(data), mode)
            assert b"".join(iter(lambda s=stream, k=step: s.read(k), b"")) == expected
            assert stream.read(step) == b""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("weighting", ["uniform", "harmonic"])
def test_exact_counts_of_a_hard_wrapped_text(
    tmp_path, reference_counts, mode, weighting
):
    path = tmp_path / "wrapped.txt"
    path.write_bytes(WRAPPED.encode())
    m = build_cooccurrence(
        path, documents=mode, window_size=3, weighting=weighting, min_count=1
    )
    expected = reference_counts(WRAPPED_DOCS[mode], m.vocabulary.tokens, 3, weighting)
    assert np.allclose(dense(m), expected, rtol=1e-12, atol=0)
    if weighting == "uniform":
        assert np.array_equal(dense(m), expected)
    # Windows cross the hard wraps: "on" and "mat" (two apart over a line end).
    voc = m.vocabulary
    crossing = dense(m)[voc.id_of("on"), voc.id_of("mat")]
    assert (crossing > 0) == (mode != "line")
    assert m.stats["n_docs"] == len(WRAPPED_DOCS[mode])
    assert m.params.get("documents") == (None if mode == "line" else mode)


def test_stream_transform_matches_the_reference_on_random_bytes():
    """Random lines of a few characters (blanks, CR, LF, BOMs), read a few
    bytes at a time: the transformed stream holds the reference documents."""
    rnd = random.Random(5)
    alphabet = [b"a", b"b", b" ", b"\t", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf"]

    class Trickle:
        def __init__(self, data, step):
            self.raw, self.step = io.BytesIO(data), step

        def read(self, size):
            return self.raw.read(min(size, self.step))

    for _ in range(1500):
        data = b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
        for mode in ("paragraph", "file"):
            for step in (1, 2, 3, 64):
                stream = _DocumentStream(Trickle(data, step), mode)
                out = b"".join(iter(lambda s=stream, k=step: s.read(k), b""))
                text = out.decode("utf-8").removeprefix("\ufeff")
                docs = text.split("\n")
                if docs and docs[-1] == "":
                    docs.pop()
                expected = reference_documents(data, mode)
                assert [d.split() for d in docs] == [e.split() for e in expected], (
                    data,
                    step,
                )


@pytest.mark.parametrize("mode", ["paragraph", "file"])
def test_paragraphs_spanning_read_blocks(corpus, mode):
    """Blocks of a few bytes (the read size is the chunk size): every paragraph
    spans many reads, in the compiled reader and in the Python one."""
    expected = reference_tokens(corpus, mode)
    for chunk_size in (5, 64, 1 << 20):
        chunks = iter_token_chunks(corpus, documents=mode, chunk_size=chunk_size)
        assert [d for c in chunks for d in c.documents()] == expected
    whole = build_cooccurrence(corpus, documents=mode, window_size=4, min_count=1)
    small = build_cooccurrence(
        corpus, documents=mode, window_size=4, min_count=1, chunk_size=37
    )
    assert_same(whole, small)
    assert whole.stats["n_docs"] == len(expected)
    vocab = build_vocabulary([tokens for tokens in expected])
    assert whole.vocabulary == vocab


@pytest.mark.parametrize("mode", MODES)
def test_counts_equal_the_reference_on_the_corpus(corpus, reference_counts, mode):
    m = build_cooccurrence(
        corpus, documents=mode, window_size=5, weighting="uniform", min_count=1
    )
    docs = reference_tokens(corpus, mode)
    expected = reference_counts(docs, m.vocabulary.tokens, 5, "uniform")
    assert np.array_equal(dense(m), expected)


def test_crlf_and_gzip(tmp_path):
    text = "Hard\r\nwrapped line\r\n\r\nnext one\r\n"
    plain = tmp_path / "crlf.txt"
    plain.write_bytes(text.encode())
    packed = tmp_path / "crlf.txt.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        assert list(iter_documents(path, documents="paragraph")) == [
            "Hard wrapped line",
            "next one",
        ]
        assert list(iter_documents(path, documents="file")) == [
            "Hard wrapped line  next one "
        ]
    a = build_cooccurrence(plain, documents="paragraph", min_count=1, window_size=2)
    b = build_cooccurrence(packed, documents="paragraph", min_count=1, window_size=2)
    assert (a.matrix != b.matrix).nnz == 0
    assert a.stats["n_docs"] == 2


def test_files_never_share_a_document(tmp_path):
    one, two = tmp_path / "1.txt", tmp_path / "2.txt"
    one.write_text("a b\nc")  # no final newline: the paragraph ends with the file
    two.write_text("d e\n")
    for mode in ("paragraph", "file"):
        docs = list(iter_documents([one, two], documents=mode))
        assert docs == ["a b c", "d e"] if mode == "paragraph" else ["a b c", "d e "]


def test_empty_and_blank_files(tmp_path):
    empty, blank = tmp_path / "empty.txt", tmp_path / "blank.txt"
    empty.write_bytes(b"")
    blank.write_bytes(b"\xef\xbb\xbf\n \n\t\r\n")
    assert list(iter_documents([empty, blank], documents="paragraph")) == []
    assert list(iter_documents([empty], documents="file")) == []
    assert [d.split() for d in iter_documents([blank], documents="file")] == [[]]
    bom_only = tmp_path / "bom.txt"
    bom_only.write_bytes(b"\xef\xbb\xbf")  # one empty document, as in "line"
    for mode in MODES:
        assert list(iter_documents([bom_only], documents=mode)) == (
            [] if mode == "paragraph" else [""]
        )


def test_standard_input(monkeypatch):
    import sys

    data = b"a b\nc\n\nd\n"

    class Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert list(iter_documents("-", documents="paragraph")) == ["a b c", "d"]


# -- errors ----------------------------------------------------------------------------
def test_unknown_mode_and_tables_are_refused(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a b\n")
    table = tmp_path / "t.jsonl"
    table.write_text(json.dumps({"text": "a b"}) + "\n")
    with pytest.raises(ValueError, match=r"documents='sentence' is not supported"):
        list(iter_documents(text, documents="sentence"))
    with pytest.raises(ValueError, match=r"documents='sentence' is not supported"):
        build_cooccurrence(text, documents="sentence")
    calls = [
        lambda: list(iter_documents([text, table], documents="paragraph")),
        lambda: list(iter_token_chunks([text, table], documents="file")),
        lambda: build_cooccurrence([text, table], documents="paragraph"),
        lambda: build_vocabulary_from_files([text, table], documents="file"),
        lambda: build_cooccurrence_resumable(
            [text, table], tmp_path / "ck", documents="paragraph"
        ),
    ]
    for call in calls:
        with pytest.raises(
            ValueError, match=r"t\.jsonl: documents=.* applies to plain"
        ):
            call()
    # One document per row stays the default for tables.
    assert list(iter_documents([table])) == ["a b"]


@pytest.mark.parametrize("mode", ["paragraph", "file"])
def test_invalid_utf8_names_the_paragraph(tmp_path, mode):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nlines\n\nbroken\n\xff here\n")
    word = "paragraph" if mode == "paragraph" else "whole file"
    line = 2 if mode == "paragraph" else 1
    with pytest.raises(ValueError, match=rf"{word}\).* at line {line} "):
        build_cooccurrence(path, documents=mode, min_count=1)
    with pytest.raises(ValueError, match=rf"{word}\).* at line {line} "):
        list(iter_documents(path, documents=mode))


# -- engines ---------------------------------------------------------------------------
ENGINE_PARAMS = dict(window_size=4, dynamic_window=True, subsample=2e-2, random_state=3)


@pytest.mark.parametrize("mode", ["paragraph", "file"])
def test_every_local_engine_gives_the_same_matrix(corpus, tmp_path, monkeypatch, mode):
    import cooc.outofcore as O
    from cooc.cooccurrence import WindowCounter

    expected = build_cooccurrence(corpus, documents=mode, min_count=2, **ENGINE_PARAMS)
    assert expected.params["documents"] == mode
    assert expected.stats["n_docs"] == len(reference_tokens(corpus, mode))

    # Written from memory, in bands (what cooc build runs when the counts fit).
    result = O.build_cooccurrence_file(
        corpus, tmp_path / "f.cooc", memory=64 * 2**20, documents=mode, min_count=2,
        **ENGINE_PARAMS,
    )  # fmt: skip
    assert result.n_partials == 0
    assert_same(expected, load_cooc(tmp_path / "f.cooc"))

    # Out of core, spilling after every part.
    monkeypatch.setattr(O, "_runs_limit", lambda memory: 0)
    monkeypatch.setattr(WindowCounter, "_DENSE_DEFAULT", 16)
    monkeypatch.setattr(O, "BLOCK", 64)
    result = O.build_cooccurrence_out_of_core(
        corpus, tmp_path / "ooc.cooc", memory=16 * 2**20, spill_dir=tmp_path,
        chunk_size=1 << 10, documents=mode, min_count=2, **ENGINE_PARAMS,
    )  # fmt: skip
    assert result.n_partials >= 2
    assert_same(expected, load_cooc(tmp_path / "ooc.cooc"))

    # Resumable, in shards (paragraph mode cuts files after blank lines).
    got = build_cooccurrence_resumable(
        corpus, tmp_path / "ck", n_shards=13, documents=mode, min_count=2,
        **ENGINE_PARAMS,
    )  # fmt: skip
    assert_same(expected, got)
    manifest = json.loads((tmp_path / "ck" / "manifest.json").read_text())
    assert manifest["build"]["read"]["documents"] == mode
    n_pieces = len(manifest["build"]["shards"])
    assert n_pieces == (4 if mode == "file" else 13)
    # Resuming from the folder gives it again.
    again = build_cooccurrence_resumable(
        corpus, tmp_path / "ck", n_shards=13, documents=mode, min_count=2,
        **ENGINE_PARAMS,
    )  # fmt: skip
    assert_same(expected, again)


def test_line_mode_records_and_manifests_stay_as_they_were(corpus, tmp_path):
    m = build_cooccurrence(corpus[:1], min_count=1, window_size=2)
    assert "documents" not in m.params
    build_cooccurrence_resumable(corpus[:1], tmp_path / "ck", min_count=1)
    manifest = json.loads((tmp_path / "ck" / "manifest.json").read_text())
    assert "documents" not in manifest["build"]["read"]


@pytest.mark.parametrize("mode", MODES)
def test_shards_cut_at_paragraph_boundaries(corpus, mode):
    read = ReadingOptions(chunk_size=16, documents=mode)
    whole = reference_tokens(corpus, mode)
    for n in (1, 5, 9, 40):
        shards = D.plan_shards(corpus, n, documents=mode)
        if mode == "file":
            assert all(s.whole for s in shards)
        docs = []
        for s in shards:
            if not s.whole and s.start > 0:
                data = Path(s.path).read_bytes()
                before = data[: s.start].split(b"\n")[-2]
                if mode == "paragraph":
                    assert not before.strip(b" \t\r\f\v"), (s, before)
                else:
                    assert data[s.start - 1 : s.start] == b"\n"
            chunks = list(D.iter_shard_chunks(s, read))
            assert sum(c.n_docs for c in chunks) == D.count_shard_documents(s, read)
            docs += [d for c in chunks for d in c.documents()]
        assert docs == whole
    if mode == "paragraph":
        assert any(not s.whole for s in D.plan_shards(corpus, 9, documents=mode))


def test_paragraph_cut_search_skips_a_bom_and_finds_none(tmp_path):
    path = tmp_path / "p.txt"
    data = b"a b\n\n\xef\xbb\xbfc d\ne\n \nf g\n"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        size = len(data)
        assert S._paragraph_start_after(fh, 1, size) == data.index(b"f g")
        assert S._paragraph_start_after(fh, 0, size) == 0
        assert S._paragraph_start_after(fh, data.index(b"f g"), size) == size
    long = tmp_path / "long.txt"
    long.write_bytes(b"x" * 300_000 + b"\n" + b" " * 200_000 + b"\n" + b"y\n")
    with open(long, "rb") as fh:
        assert S._paragraph_start_after(fh, 5, long.stat().st_size) == 500_002


@pytest.mark.parametrize("mode", ["paragraph", "file"])
def test_dask_gives_the_same_matrix(client, corpus, mode):
    expected = build_cooccurrence(corpus, documents=mode, min_count=2, **ENGINE_PARAMS)
    got = D.build_cooccurrence_dask(
        corpus, documents=mode, min_count=2, n_shards=9, client=client,
        **ENGINE_PARAMS,
    )  # fmt: skip
    assert_same(expected, got)
    vocab = D.build_vocabulary_dask(
        corpus, documents=mode, min_count=2, n_shards=9, client=client
    )
    assert vocab == expected.vocabulary


# -- the command line ------------------------------------------------------------------
def test_cli_build_info_vocab_embed(run_cli, tmp_path):
    path = tmp_path / "wrapped.txt"
    path.write_bytes(WRAPPED.encode() * 3)
    out = tmp_path / "p.cooc"
    common = ["--min-count", 1, "--window", 3, "-q"]
    r = run_cli("build", path, "-o", out, "--documents", "paragraph", *common)
    assert r.exit_code == 0, r.output
    expected = build_cooccurrence(
        path, documents="paragraph", min_count=1, window_size=3
    )
    assert (load_cooc(out).matrix != expected.matrix).nnz == 0
    r = run_cli("info", out, "--json")
    assert json.loads(r.output)["params"]["documents"] == "paragraph"
    # ("The end" has no newline: it joins the next copy's first paragraph)
    assert json.loads(r.output)["stats"]["n_docs"] == 7
    r = run_cli("info", out)
    assert re.search(r"^documents\s+paragraph$", r.output, re.MULTILINE)

    r = run_cli("build", path, "-o", out, "--documents", "file", "--checkpoint",
                tmp_path / "ck", *common)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert load_cooc(out).stats["n_docs"] == 1

    r = run_cli("vocab", path, "-o", tmp_path / "v.tsv", "--documents", "file",
                "--min-count", 1, "-q")  # fmt: skip
    assert r.exit_code == 0, r.output

    vectors = tmp_path / "v.txt"
    r = run_cli("embed", path, "-o", vectors, "--documents", "paragraph",
                "--min-count", 1, "--rank", 2, "-q")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run_cli("embed", out, "-o", vectors, "--documents", "paragraph")
    assert r.exit_code == 2
    assert "--documents applies to corpus inputs" in r.output


def test_cli_refuses_tables_in_one_line(run_cli, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text\na b\n")
    r = run_cli(
        "build", table, "-o", tmp_path / "x.cooc", "--documents", "paragraph", "-q"
    )
    assert r.exit_code == 2
    assert "applies to plain text only" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = run_cli("build", table, "-o", tmp_path / "x.cooc", "--documents", "sentence")
    assert r.exit_code == 2
