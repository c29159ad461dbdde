"""Tests for cooc.vocab: Vocabulary, count_tokens, build_vocabulary."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc.vocab as vocab_module
from cooc.corpus import chunks_from_documents, iter_token_chunks, tokenize
from cooc.vocab import Vocabulary, build_vocabulary, count_tokens

TOKEN = st.text(alphabet="abcé\u2019'_ΣЖ9", min_size=1, max_size=4)
COUNTS = st.dictionaries(TOKEN, st.integers(0, 6), max_size=30)
DOCS = st.lists(st.text(alphabet="abc ABé'.\n", max_size=20), max_size=15)


def reference(counter: Counter, min_count: int, max_size: int | None):
    """(tokens, counts) ordered by count descending then token, the slow way."""
    items = sorted(
        ((t, c) for t, c in counter.items() if c >= min_count),
        key=lambda item: (-item[1], item[0]),
    )[:max_size]
    return [t for t, _ in items], [c for _, c in items]


# --------------------------------------------------------------------------
# Vocabulary object


def test_vocabulary_basics():
    vocab = Vocabulary(["the", "cat", "café"], [5, 2, 1])
    assert len(vocab) == 3
    assert list(vocab) == ["the", "cat", "café"]
    assert "cat" in vocab
    assert "dog" not in vocab
    assert 3 not in vocab
    assert vocab.id_of("café") == 2
    assert vocab.n_tokens == 8
    assert vocab.counts.dtype == np.int64
    assert vocab == Vocabulary(["the", "cat", "café"], [5, 2, 1])
    assert vocab != Vocabulary(["the", "cat", "café"], [5, 2, 2])
    assert vocab != Vocabulary(["the", "café", "cat"], [5, 2, 1])
    assert vocab != ["the", "cat", "café"]
    assert repr(vocab) == (
        "Vocabulary(n_words=3, n_tokens=8, tokens=['the', 'cat', 'café'])"
    )
    assert "..." in repr(Vocabulary(list("abcdefg")))
    assert pickle.loads(pickle.dumps(vocab)) == vocab


def test_default_counts_are_zero():
    vocab = Vocabulary(("a", "b"))
    assert vocab.counts.tolist() == [0, 0]
    assert vocab.counts.dtype == np.int64
    assert vocab.n_tokens == 0
    assert len(Vocabulary([])) == 0


@pytest.mark.parametrize(
    ("tokens", "counts", "error", "match"),
    [
        (["a", "b", "a"], None, ValueError, r"distinct; duplicated: \['a'\]"),
        (["a", "b"], [1], ValueError, "one count per token"),
        (["a", "b"], [1, -2], ValueError, "counts must be >= 0, got -2 for token 'b'"),
        (["a"], [1.5], ValueError, "integers"),
        (["a", 3], None, TypeError, "tokens must be str; got int 3"),
        ("abc", None, TypeError, "not a single str"),
    ],
)
def test_vocabulary_rejects_bad_input(tokens, counts, error, match):
    with pytest.raises(error, match=match):
        Vocabulary(tokens, counts)


def test_id_of_missing_token():
    with pytest.raises(KeyError, match="token 'dog' is not in the vocabulary"):
        Vocabulary(["cat"]).id_of("dog")


def test_encode_decode():
    vocab = Vocabulary(["the", "cat", "naïve"])
    ids = vocab.encode(["cat", "dog", "naïve", "the", "cat"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, -1, 2, 0, 1]
    assert vocab.encode([]).dtype == np.int32
    assert vocab.decode(np.array([2, 0])) == ["naïve", "the"]
    assert vocab.decode([]) == []
    with pytest.raises(ValueError, match=r"id -1 .*out-of-vocabulary"):
        vocab.decode(ids)
    with pytest.raises(ValueError, match="id 3 is out of range"):
        vocab.decode([3])
    with pytest.raises(TypeError, match="single str"):
        vocab.encode("cat")


@settings(max_examples=50, deadline=None)
@given(words=st.lists(TOKEN, max_size=20, unique=True), docs=DOCS)
def test_encode_chunk_matches_encode(words, docs):
    vocab = Vocabulary(words)
    for chunk in chunks_from_documents(docs, chunk_size=5):
        ids = vocab.encode_chunk(chunk)
        assert ids.dtype == np.int32
        tokens = chunk.uniques[chunk.codes].tolist()
        np.testing.assert_array_equal(ids, vocab.encode(tokens))
        known = ids >= 0
        assert vocab.decode(ids[known]) == [t for t in tokens if t in vocab]


def test_to_frame():
    frame = Vocabulary(["a", "b"], [3, 1]).to_frame()
    expected = pd.DataFrame(
        {"token": pd.Series(["a", "b"], dtype=object), "count": [3, 1]}
    )
    pd.testing.assert_frame_equal(frame, expected)


# --------------------------------------------------------------------------
# from_counts, count_tokens, build_vocabulary


@settings(max_examples=100, deadline=None)
@given(
    counts=COUNTS,
    min_count=st.integers(1, 4),
    max_size=st.none() | st.integers(1, 10),
)
def test_from_counts_matches_counter_reference(counts, min_count, max_size):
    vocab = Vocabulary.from_counts(
        Counter(counts), min_count=min_count, max_size=max_size
    )
    tokens, expected_counts = reference(Counter(counts), min_count, max_size)
    assert vocab.tokens == tokens
    assert vocab.counts.tolist() == expected_counts


def test_order_is_count_then_token():
    vocab = Vocabulary.from_counts({"b": 2, "a": 2, "c": 3, "é": 2, "B": 2, "z": 1})
    assert vocab.tokens == ["c", "B", "a", "b", "é", "z"]


@settings(max_examples=50, deadline=None)
@given(docs=DOCS, min_count=st.integers(1, 3), max_size=st.none() | st.integers(1, 5))
def test_build_vocabulary_matches_counter_reference(docs, min_count, max_size):
    counter = Counter(t for doc in docs for t in tokenize(doc))
    assert count_tokens(chunks_from_documents(docs, chunk_size=3)) == dict(counter)
    tokens, counts = reference(counter, min_count, max_size)
    if not tokens:
        with pytest.raises(ValueError, match="vocabulary is empty"):
            build_vocabulary(docs, min_count=min_count, max_size=max_size)
        return
    expected = Vocabulary(tokens, counts)
    params = {"min_count": min_count, "max_size": max_size}
    assert build_vocabulary(docs, **params) == expected
    chunks = chunks_from_documents(docs, chunk_size=4)
    assert build_vocabulary(chunks, **params) == expected
    pretokenized = [tokenize(doc) for doc in docs]
    assert build_vocabulary(pretokenized, **params) == expected


def test_count_tokens_merges_many_chunks(monkeypatch):
    monkeypatch.setattr(vocab_module, "_MERGE_AT", 3)
    docs = [f"w{i % 7} w{i % 3} common" for i in range(50)]
    expected = Counter(t for doc in docs for t in tokenize(doc))
    assert count_tokens(chunks_from_documents(docs, chunk_size=1)) == dict(expected)
    assert count_tokens([]) == {}


def test_count_tokens_rejects_documents():
    with pytest.raises(TypeError, match="expected TokenChunk"):
        count_tokens(["a b"])


def test_build_vocabulary_options():
    docs = ["The THE the", "Cat"]
    assert build_vocabulary(docs, lowercase=False).tokens == [
        "Cat",
        "THE",
        "The",
        "the",
    ]
    assert build_vocabulary(["a-b c"], tokenizer="whitespace").tokens == ["a-b", "c"]
    (chunk,) = chunks_from_documents(docs)
    assert build_vocabulary(chunk).tokens == ["the", "cat"]


def test_build_vocabulary_from_files(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("b a\nb\n\nc b a\n", encoding="utf-8")
    vocab = build_vocabulary(iter_token_chunks(path, chunk_size=2), min_count=2)
    assert vocab == Vocabulary(["b", "a"], [3, 2])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"min_count": 0}, "min_count=0 must be an integer >= 1"),
        ({"min_count": -3}, "min_count=-3"),
        ({"min_count": 1.5}, "min_count=1.5"),
        ({"min_count": True}, "min_count=True"),
        ({"min_count": "2"}, "min_count='2'"),
        ({"max_size": 0}, "max_size=0 must be an integer >= 1 or None"),
        ({"max_size": 2.0}, "max_size=2.0"),
    ],
)
def test_parameter_errors(params, match):
    with pytest.raises(ValueError, match=match):
        build_vocabulary(["a b"], **params)
    with pytest.raises(ValueError, match=match):
        Vocabulary.from_counts({"a": 1}, **params)


def test_empty_vocabulary_errors():
    with pytest.raises(ValueError, match=r"empty after min_count=5.*lower min_count"):
        build_vocabulary(["a b a"], min_count=5)
    with pytest.raises(ValueError, match="no tokens"):
        build_vocabulary(["", "..."])
    with pytest.raises(ValueError, match="no tokens"):
        build_vocabulary([])
    with pytest.raises(TypeError, match="not a single str"):
        build_vocabulary("a b c")
    with pytest.raises(TypeError, match="not a single str or path"):
        build_vocabulary(Path("corpus.txt"))


# --------------------------------------------------------------------------
# save / load


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary(
        ["the", "café", "naïve", "日本", "o\u2019clock", ""], [9, 4, 3, 2, 1, 0]
    )
    path = tmp_path / "vocab.tsv"
    vocab.save(path)
    assert Vocabulary.load(path) == vocab
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("the\t9\ncafé\t4\n")
    assert text.endswith("\t0\n")
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.tsv"]  # no temp files left
    Vocabulary([]).save(path)
    assert len(Vocabulary.load(path)) == 0


@settings(max_examples=30, deadline=None)
@given(counts=COUNTS)
def test_save_load_round_trip_property(counts, tmp_path_factory):
    vocab = Vocabulary(list(counts), list(counts.values()))
    path = tmp_path_factory.mktemp("vocab") / "v.tsv"
    vocab.save(path)
    assert Vocabulary.load(path) == vocab


def test_save_rejects_tab_tokens(tmp_path):
    with pytest.raises(ValueError, match="contains a tab or line break"):
        Vocabulary(["a\tb"]).save(tmp_path / "v.tsv")
    assert not list(tmp_path.iterdir())


def test_save_to_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Vocabulary(["a"]).save(tmp_path / "missing" / "v.tsv")


def test_load_accepts_crlf_and_bom(tmp_path):
    path = tmp_path / "v.tsv"
    path.write_bytes("\ufeffthe\t3\r\ncat\t1\r\n".encode())
    assert Vocabulary.load(path) == Vocabulary(["the", "cat"], [3, 1])


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("the\t3\ncat 1\n", 2),
        ("the\t3\n\ncat\t1\n", 2),
        ("the\t-3\n", 1),
        ("the\tx\n", 1),
        ("the\t3\t4\n", 1),
        ("the\t3\ncat\t1\nthe\t1\n", 3),
    ],
)
def test_load_bad_tsv_names_file_and_line(tmp_path, content, line):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.tsv:{line}: "):
        Vocabulary.load(path)


def test_load_invalid_utf8(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"the\t3\n\xff\t1\n")
    with pytest.raises(ValueError, match=r"bad\.tsv: not valid UTF-8"):
        Vocabulary.load(path)


def test_vocabulary_from_files_equals_the_chunk_path(tmp_path):
    from cooc.corpus import iter_token_chunks
    from cooc.vocab import build_vocabulary_from_files

    a = tmp_path / "a.txt"
    a.write_text("The cat's hat\nthe CAT sat\n\nΣΟΦΙΑ σοφία\n", encoding="utf-8")
    b = tmp_path / "b.jsonl"
    b.write_text('{"text": "the hat"}\n{"text": null}\n', encoding="utf-8")
    for tokenizer in ("word", "whitespace"):
        for lowercase in (True, False):
            for min_count, max_size in [(1, None), (2, None), (1, 3)]:
                read = dict(tokenizer=tokenizer, lowercase=lowercase)
                got = build_vocabulary_from_files(
                    [a, b], min_count=min_count, max_size=max_size, n_jobs=2, **read
                )
                expected = build_vocabulary(
                    iter_token_chunks([a, b], **read),
                    min_count=min_count,
                    max_size=max_size,
                )
                assert got == expected
