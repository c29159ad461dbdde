"""Tests for cooc.corpus: paths, formats, tokenizers and chunked coding."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc.corpus as corpus
from cooc.corpus import (
    TOKENIZERS,
    TokenChunk,
    chunks_from_documents,
    iter_documents,
    iter_token_chunks,
    resolve_paths,
    tokenize,
)

HUGE = 1 << 30
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus"

# Characters that exercise the tokenizers: letters with case and accents,
# decomposed marks, digits, apostrophes, punctuation, exotic whitespace.
ALPHABET = "\0aBcZé\u0308ßİΣ9_'\u2019-. ,\t\u3000\x1c\u00a0!?\"ह\u093f"
TEXT = st.text(alphabet=ALPHABET, max_size=25)
DOCS = st.lists(TEXT, max_size=12)
# In-memory documents may also hold line breaks and lone surrogates.
RAW_DOCS = st.lists(st.text(alphabet=ALPHABET + "\n\r\ud800", max_size=25), max_size=12)


def flatten(chunks) -> list[list[str]]:
    """All documents of a chunk stream, as lists of tokens."""
    docs = []
    for chunk in chunks:
        check_chunk(chunk)
        docs.extend(chunk.documents())
    return docs


def check_chunk(chunk: TokenChunk) -> None:
    assert isinstance(chunk, TokenChunk)
    assert chunk.codes.dtype == np.int32
    assert chunk.uniques.dtype == object
    assert chunk.offsets.dtype == np.int64
    assert chunk.offsets[0] == 0
    assert chunk.offsets[-1] == chunk.n_tokens == len(chunk.codes)
    assert chunk.n_docs == len(chunk.offsets) - 1
    assert np.all(np.diff(chunk.offsets) >= 0)
    assert len(set(chunk.uniques.tolist())) == len(chunk.uniques)
    assert chunk.codes.flags.writeable
    if chunk.n_tokens:
        assert chunk.codes.min() >= 0
        assert chunk.codes.max() < len(chunk.uniques)


@contextlib.contextmanager
def pyarrow_enabled(enabled: bool):
    old = corpus._USE_PYARROW
    corpus._USE_PYARROW = enabled
    try:
        yield
    finally:
        corpus._USE_PYARROW = old


def write_lines(path: Path, docs, *, opener=open, newline="\n") -> Path:
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write("".join(doc + newline for doc in docs))
    return path


# --------------------------------------------------------------------------
# tokenize


@pytest.mark.parametrize(
    ("text", "tokenizer", "lowercase", "expected"),
    [
        ("Café naïve", "word", True, ["café", "naïve"]),
        ("Café naïve", "word", False, ["Café", "naïve"]),
        (
            "Don't stop: it's 4 o\u2019clock!",
            "word",
            True,
            ["don't", "stop", "it's", "4", "o\u2019clock"],
        ),
        (
            "'quoted' rock'n'roll a''b 'tis x'",
            "word",
            True,
            ["quoted", "rock'n'roll", "a", "b", "tis", "x"],
        ),
        (
            "3.14 is-not 2024, e-mail_address #tag",
            "word",
            True,
            ["3", "14", "is", "not", "2024", "e", "mail_address", "tag"],
        ),
        ("nai\u0308ve हिन्दी ΣΟΦΊΑ", "word", True, ["nai\u0308ve", "हिन्दी", "σοφία"]),
        ("...!!! --", "word", True, []),
        ("", "word", True, []),
        (
            "New_York  is-big\tCafé.",
            "whitespace",
            True,
            ["new_york", "is-big", "café."],
        ),
        ("New_York  is-big\u3000X", "whitespace", False, ["New_York", "is-big", "X"]),
        ("   ", "whitespace", True, []),
    ],
)
def test_tokenize_examples(text, tokenizer, lowercase, expected):
    assert tokenize(text, tokenizer, lowercase=lowercase) == expected


def test_tokenize_rejects_bad_input():
    with pytest.raises(TypeError, match="str"):
        tokenize(["a", "b"])
    with pytest.raises(ValueError, match="tokenizer='spacy'"):
        tokenize("a", "spacy")
    assert TOKENIZERS == ("word", "whitespace")


def test_space_table_matches_str_split():
    table = corpus.space_table()
    expected = np.array([chr(c).isspace() for c in range(sys.maxunicode + 1)])
    np.testing.assert_array_equal(table, expected)


# --------------------------------------------------------------------------
# chunks_from_documents


@pytest.mark.parametrize("use_pyarrow", [True, False])
@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@settings(max_examples=60, deadline=None)
@given(docs=RAW_DOCS, lowercase=st.booleans())
def test_chunks_match_tokenize_for_any_chunk_size(
    docs, lowercase, tokenizer, use_pyarrow
):
    expected = [tokenize(doc, tokenizer, lowercase=lowercase) for doc in docs]
    with pyarrow_enabled(use_pyarrow):
        for chunk_size in (1, 7, HUGE):
            chunks = list(
                chunks_from_documents(
                    docs,
                    tokenizer=tokenizer,
                    lowercase=lowercase,
                    chunk_size=chunk_size,
                )
            )
            assert flatten(chunks) == expected
    if docs:
        assert len(chunks) == 1


def test_chunk_keeps_empty_documents_and_codes_by_first_appearance():
    (chunk,) = chunks_from_documents(["", "b a b", "", "...", "a"])
    assert chunk.n_docs == 5
    assert chunk.uniques.tolist() == ["b", "a"]
    assert chunk.codes.tolist() == [0, 1, 0, 1]
    assert chunk.offsets.tolist() == [0, 0, 3, 3, 3, 4]


def test_chunk_size_splits_between_documents():
    docs = ["one two", "three", "four five six", ""]
    chunks = list(chunks_from_documents(docs, chunk_size=7))
    # A chunk is flushed once it reaches chunk_size characters.
    assert [c.n_docs for c in chunks] == [1, 2, 1]
    assert flatten(chunks) == [["one", "two"], ["three"], ["four", "five", "six"], []]


def test_pretokenized_documents_are_used_as_is():
    docs = [["New York", "IS"], ("x",), [], "Raw Text"]
    assert flatten(chunks_from_documents(docs)) == [
        ["New York", "IS"],
        ["x"],
        [],
        ["raw", "text"],
    ]


def test_chunks_from_documents_rejects_bad_input():
    with pytest.raises(TypeError, match="single str"):
        list(chunks_from_documents("a text"))
    with pytest.raises(TypeError, match="document 1 is a int"):
        list(chunks_from_documents(["a", 3]))
    with pytest.raises(TypeError, match="document 0 holds a int token"):
        list(chunks_from_documents([["a", 3]]))
    with pytest.raises(TypeError, match="only str tokens"):
        list(chunks_from_documents([["a", b"x"]]))
    with pytest.raises(ValueError, match="chunk_size=0"):
        list(chunks_from_documents(["a"], chunk_size=0))
    with pytest.raises(ValueError, match="tokenizer='x'"):
        list(chunks_from_documents(["a"], tokenizer="x"))


def test_no_documents_no_chunks():
    assert list(chunks_from_documents([])) == []


# --------------------------------------------------------------------------
# plain-text files


@settings(max_examples=40, deadline=None)
@given(docs=DOCS, trailing_newline=st.booleans(), crlf=st.booleans())
def test_file_chunks_match_tokenize_for_any_chunk_size(docs, trailing_newline, crlf):
    newline = "\r\n" if crlf else "\n"
    text = newline.join(docs) + (newline if trailing_newline and docs else "")
    # A final empty document without a newline after it cannot be represented.
    expected_docs = docs if trailing_newline or not docs or docs[-1] else docs[:-1]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_bytes(text.encode("utf-8"))
        assert list(iter_documents(path, chunk_size=3)) == expected_docs
        expected = [tokenize(doc) for doc in expected_docs]
        for chunk_size in (1, 7, HUGE):
            assert flatten(iter_token_chunks(path, chunk_size=chunk_size)) == expected


def test_empty_lines_are_empty_documents(tmp_path):
    path = write_lines(tmp_path / "a.txt", ["Hello world", "", "", "Bye."])
    assert list(iter_documents(path)) == ["Hello world", "", "", "Bye."]
    (chunk,) = iter_token_chunks(path)
    assert chunk.n_docs == 4
    assert chunk.offsets.tolist() == [0, 2, 2, 2, 3]


def test_bom_and_crlf_are_stripped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffFirst line\r\nsecond\r\n".encode())
    assert list(iter_documents(path)) == ["First line", "second"]
    assert flatten(iter_token_chunks(path)) == [["first", "line"], ["second"]]


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_text(tmp_path, suffix, opener):
    path = write_lines(tmp_path / f"docs.txt{suffix}", ["A b", "", "c"], opener=opener)
    assert list(iter_documents(path)) == ["A b", "", "c"]
    assert flatten(iter_token_chunks(path, chunk_size=2)) == [["a", "b"], [], ["c"]]


def test_corrupt_gzip_names_file(tmp_path):
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"some text\n" * 100)[:-30])
    with pytest.raises(ValueError, match=r"bad\.txt\.gz"):
        list(iter_token_chunks(path))


@pytest.mark.parametrize("chunk_size", [4, HUGE])
def test_invalid_utf8_names_file_and_line(tmp_path, chunk_size):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"fine\nalso fine\nbad \xff byte\nok\n")
    with pytest.raises(
        ValueError, match=r"broken\.txt.*line 3.*--encoding-errors replace"
    ):
        list(iter_token_chunks(path, chunk_size=chunk_size))
    with pytest.raises(ValueError, match="line 3"):
        list(iter_documents(path, chunk_size=chunk_size))
    replaced = list(iter_documents(path, encoding_errors="replace"))
    assert replaced == ["fine", "also fine", "bad \ufffd byte", "ok"]
    ignored = flatten(iter_token_chunks(path, encoding_errors="ignore"))
    assert ignored == [["fine"], ["also", "fine"], ["bad", "byte"], ["ok"]]


def test_invalid_utf8_in_gzip_reports_line(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(gzip.compress(b"a\n" * 10 + b"\xc3\x28\n"))
    with pytest.raises(ValueError, match="line 11"):
        list(iter_token_chunks(path, chunk_size=5))


def test_bad_parameters(tmp_path):
    path = write_lines(tmp_path / "a.txt", ["a"])
    with pytest.raises(ValueError, match="encoding_errors='bogus'"):
        list(iter_token_chunks(path, encoding_errors="bogus"))
    with pytest.raises(ValueError, match="chunk_size=-1"):
        list(iter_documents(path, chunk_size=-1))
    with pytest.raises(ValueError, match="tokenizer='chars'"):
        list(iter_token_chunks(path, tokenizer="chars"))


# --------------------------------------------------------------------------
# paths: directories, globs, stdin


def make_tree(root: Path) -> None:
    (root / "sub").mkdir()
    (root / ".hidden").mkdir()
    write_lines(root / "b.txt", ["bee"])
    write_lines(root / "a.txt", ["ay"])
    write_lines(root / "sub" / "c.txt.gz", ["sea"], opener=gzip.open)
    write_lines(root / ".secret.txt", ["hidden"])
    write_lines(root / ".hidden" / "d.txt", ["hidden"])


def test_directory_is_recursive_sorted_and_skips_hidden(tmp_path):
    make_tree(tmp_path)
    assert resolve_paths(tmp_path) == [
        tmp_path / "a.txt",
        tmp_path / "b.txt",
        tmp_path / "sub" / "c.txt.gz",
    ]
    assert list(iter_documents(str(tmp_path))) == ["ay", "bee", "sea"]
    # Small files are merged into one chunk; document counts stay exact.
    (chunk,) = iter_token_chunks(tmp_path)
    assert chunk.n_docs == 3
    assert flatten([chunk]) == [["ay"], ["bee"], ["sea"]]


def test_glob_patterns(tmp_path):
    make_tree(tmp_path)
    assert resolve_paths(str(tmp_path / "*.txt")) == [
        tmp_path / "a.txt",
        tmp_path / "b.txt",
    ]
    assert resolve_paths([str(tmp_path / "**" / "*.gz"), tmp_path / "a.txt"]) == [
        tmp_path / "sub" / "c.txt.gz",
        tmp_path / "a.txt",
    ]


def test_missing_paths_raise(tmp_path):
    with pytest.raises(ValueError, match=r"corpus path '.*nope\.txt' does not exist"):
        resolve_paths(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match=r"does not exist.*matches no files"):
        resolve_paths(str(tmp_path / "*.none"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="contains no"):
        resolve_paths(tmp_path / "empty")
    with pytest.raises(ValueError, match="only once"):
        resolve_paths(["-", "-"])
    with pytest.raises(TypeError, match="path-like"):
        resolve_paths([3])


@pytest.mark.parametrize("binary", [True, False])
def test_stdin(monkeypatch, binary):
    data = "Hello World\n\nsecond  doc\n"
    if binary:
        stream = io.TextIOWrapper(io.BytesIO(data.encode()), encoding="utf-8")
    else:
        stream = io.StringIO(data)
    monkeypatch.setattr(sys, "stdin", stream)
    assert resolve_paths("-") == ["-"]
    assert flatten(iter_token_chunks("-", chunk_size=4)) == [
        ["hello", "world"],
        [],
        ["second", "doc"],
    ]


def test_stdin_invalid_utf8(monkeypatch):
    stream = io.TextIOWrapper(io.BytesIO(b"ok\n\xff\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stream)
    with pytest.raises(ValueError, match="<stdin>: invalid UTF-8 at line 2"):
        list(iter_token_chunks("-"))


# --------------------------------------------------------------------------
# table formats

TABLE_DOCS = ["Hello, World", "", "line one\nline two", 'say "hi", ok']
TABLE_TOKENS = [
    ["hello", "world"],
    [],
    ["line", "one", "line", "two"],
    ["say", "hi", "ok"],
]


@pytest.mark.parametrize(
    "name", ["docs.csv", "docs.tsv", "docs.csv.gz", "docs.jsonl", "docs.json"]
)
@pytest.mark.parametrize("chunk_size", [1, HUGE])
def test_text_formats_round_trip(tmp_path, name, chunk_size):
    frame = pd.DataFrame({"id": range(4), "body": TABLE_DOCS})
    path = tmp_path / name
    if ".json" in name:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, sep="\t" if "tsv" in name else ",", index=False)
    assert (
        list(iter_documents(path, column="body", chunk_size=chunk_size)) == TABLE_DOCS
    )
    chunks = iter_token_chunks(path, column="body", chunk_size=chunk_size)
    assert flatten(chunks) == TABLE_TOKENS


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "docs.parquet"
    pd.DataFrame({"text": [*TABLE_DOCS, None], "n": range(5)}).to_parquet(path)
    assert list(iter_documents(path)) == [*TABLE_DOCS, ""]
    for chunk_size in (1, HUGE):
        chunks = iter_token_chunks(path, chunk_size=chunk_size)
        assert flatten(chunks) == [*TABLE_TOKENS, []]
    with pytest.raises(ValueError, match="column 'n' has type int64, not text"):
        list(iter_token_chunks(path, column="n"))


def test_jsonl_missing_values_are_empty_documents(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"text": "A b"}, {"text": None}, {"other": 1}, {"text": "c"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert list(iter_documents(path)) == ["A b", "", "", "c"]


@pytest.mark.parametrize("name", ["docs.csv", "docs.jsonl", "docs.parquet"])
def test_unknown_column_lists_available(tmp_path, name):
    if name.endswith("parquet"):
        pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"body": ["a"], "label": ["x"]})
    path = tmp_path / name
    {
        "docs.csv": lambda: frame.to_csv(path, index=False),
        "docs.jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        "docs.parquet": lambda: frame.to_parquet(path),
    }[name]()
    pattern = rf"{name}: no column 'text'; available columns: \['body', 'label'\]"
    with pytest.raises(ValueError, match=pattern):
        list(iter_token_chunks(path))


def test_non_text_column_is_rejected(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": ["a", "b"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="column 'text' holds mixed values, not text"):
        list(iter_documents(path))


def test_json_array_is_rejected(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text('[{"text": "a"}]', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON Lines"):
        list(iter_documents(path))


def test_invalid_utf8_in_csv(tmp_path):
    path = tmp_path / "docs.csv"
    path.write_bytes(b"text\nok\nbad \xff\n")
    with pytest.raises(ValueError, match=r"docs\.csv.*encoding-errors replace"):
        list(iter_documents(path))
    assert list(iter_documents(path, encoding_errors="replace")) == ["ok", "bad \ufffd"]


def test_mixed_formats_in_one_corpus(tmp_path):
    write_lines(tmp_path / "a.txt", ["plain text"])
    pd.DataFrame({"text": ["from csv"]}).to_csv(tmp_path / "b.csv", index=False)
    docs = flatten(iter_token_chunks(tmp_path))
    assert docs == [["plain", "text"], ["from", "csv"]]


# --------------------------------------------------------------------------
# real data


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="shared corpus not available")
def test_real_corpus_matches_per_document_tokenize():
    path = SHARED_CORPUS / "gensim_lee.txt.gz"
    docs = list(iter_documents(path))
    chunks = list(iter_token_chunks(path, chunk_size=50_000))
    assert len(chunks) > 1
    assert sum(c.n_docs for c in chunks) == len(docs)
    assert flatten(chunks) == [tokenize(doc) for doc in docs]


def test_character_tables_cached_on_disk_and_damage_ignored(tmp_path, monkeypatch):
    import numpy as np

    from cooc import corpus

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    expected = corpus._char_table(r"\w") | corpus._mark_table()
    corpus.word_table.cache_clear()
    try:
        first = corpus.word_table()  # computed, then written
        [cached] = tmp_path.glob("cooc-word-*.npy")
        np.testing.assert_array_equal(first, expected)
        corpus.word_table.cache_clear()
        np.testing.assert_array_equal(corpus.word_table(), expected)  # read back
        # a damaged or crafted file is not used: the table is computed again
        for damage in (b"not an npy file", None):
            if damage is None:
                bad = expected.copy()
                bad[ord("a")] = False  # fails a check
                np.save(cached, bad)
            else:
                cached.write_bytes(damage)
            corpus.word_table.cache_clear()
            np.testing.assert_array_equal(corpus.word_table(), expected)
    finally:
        corpus.word_table.cache_clear()
