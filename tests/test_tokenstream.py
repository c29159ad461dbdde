"""The compiled tokenizer and token table agree with the Python reference path.

cooc.corpus.iter_token_chunks (numpy tables, str.lower, pandas/pyarrow) is the
reference: the bytes path of cooc.tokenstream must give the same documents,
tokens and counts for every input, including invalid UTF-8, context-dependent
lowercasing, apostrophes at every position and blocks cut anywhere.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cooc.corpus import iter_token_chunks
from cooc.tokenstream import EncodedCorpus, TokenTable, merge_tables, scan_corpus
from cooc.vocab import Vocabulary, build_vocabulary, vocabulary_from_table

# Characters that exercise every branch: ASCII word and separator characters,
# both apostrophes, characters whose lowercase changes the UTF-8 length (U+023A
# 2 -> 3 bytes, Kelvin sign 3 -> 1), the dotted capital I (two characters in
# lowercase), capital sigma (context-dependent), combining marks, NUL, a BOM,
# Unicode spaces and line separators that are not "\n", 4-byte characters.
ALPHABET = (
    "aAbZz09_ \t'\u2019.-,"
    "\u023a\u212a\u0130\u03a3\u03c3\u0391\u0301\u0307\u00df"
    "\x00\ufeff\u00a0\u2028\x85\r\x0b"
    "\U0001f600\U00010400\u4e2d"
)
text_strategy = st.lists(
    st.text(alphabet=ALPHABET, max_size=30), min_size=0, max_size=8
).map("\n".join)


def reference_docs(paths, **read):
    return [d for c in iter_token_chunks(paths, **read) for d in c.documents()]


def scan_docs(paths, n_jobs=2, **read):
    """Documents and counts through the bytes path (codes kept in memory)."""
    keep = EncodedCorpus(1 << 30)
    tables = scan_corpus(paths, keep=keep, n_jobs=n_jobs, **read)
    remaps = merge_tables(tables)
    merged = tables[0]
    tokens = merged.tokens(np.arange(len(merged)))
    docs = []
    for part in keep:
        words = [tokens[remaps[part.table][c]] for c in part.codes.tolist()]
        bounds = part.offsets.tolist()
        docs += [words[a:b] for a, b in itertools.pairwise(bounds)]
    counts = {
        t: int(c) for t, c in zip(tokens, merged.counts.tolist(), strict=True) if c
    }
    return docs, counts


def counts_of(docs):
    out: dict[str, int] = {}
    for doc in docs:
        for t in doc:
            out[t] = out.get(t, 0) + 1
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    texts=st.lists(text_strategy, min_size=1, max_size=3),
    tokenizer=st.sampled_from(["word", "whitespace"]),
    lowercase=st.booleans(),
    chunk_size=st.sampled_from([1, 7, 64, 1 << 20]),
    trailing_newline=st.booleans(),
    bom=st.booleans(),
)
def test_same_documents_and_counts_as_the_reference(
    tmp_path, texts, tokenizer, lowercase, chunk_size, trailing_newline, bom
):
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"f{i}.txt"
        raw = ("\ufeff" if bom and i == 0 else "") + text
        raw += "\n" if trailing_newline and text else ""
        path.write_bytes(raw.encode("utf-8"))
        paths.append(path)
    read = dict(tokenizer=tokenizer, lowercase=lowercase, chunk_size=chunk_size)
    expected = reference_docs(paths, **read)
    docs, counts = scan_docs(paths, **read)
    assert docs == expected
    assert counts == counts_of(expected)


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.text(alphabet="ab \n'\u03a3\u0130", max_size=6).map(
                lambda s: s.encode("utf-8")
            ),
            st.binary(max_size=4),
            st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]),
        ),
        max_size=12,
    ),
    errors=st.sampled_from(["replace", "ignore"]),
    tokenizer=st.sampled_from(["word", "whitespace"]),
)
def test_invalid_utf8_replaced_or_ignored_as_python_does(
    tmp_path_factory, pieces, errors, tokenizer
):
    path = tmp_path_factory.mktemp("bad") / "bad.txt"
    path.write_bytes(b"".join(pieces))
    read = dict(tokenizer=tokenizer, encoding_errors=errors, chunk_size=5)
    expected = reference_docs([path], **read)
    docs, _ = scan_docs([path], **read)
    assert docs == expected


def test_invalid_utf8_strict_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nsecond\nthird \xff here\n")
    with pytest.raises(ValueError) as ref:
        reference_docs([path])
    with pytest.raises(ValueError) as got:
        scan_docs([path])
    assert str(got.value) == str(ref.value)
    assert "bad.txt: invalid UTF-8 at line 3 (byte 7 of the line" in str(got.value)


def test_capital_sigma_lowercased_in_context():
    # Python's final-sigma rule: word-final capital sigma becomes U+03C2.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "greek.txt"
        path.write_text("ΟΔΥΣΣΕΥΣ Σ ΑΣ.\nİstanbul ΣΑ\n", encoding="utf-8")
        docs, _ = scan_docs([path])
    assert docs == [["οδυσσευς", "σ", "ας"], ["i̇stanbul", "σα"]]


def test_table_columns_with_lone_surrogates(tmp_path):
    # JSON escapes can make lone surrogates; they are token characters.
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "a \\ud800b c"}\n{"text": "It\'s A"}\n', encoding="utf-8")
    for tokenizer in ("word", "whitespace"):
        expected = reference_docs([path], tokenizer=tokenizer)
        docs, _ = scan_docs([path], tokenizer=tokenizer)
        assert docs == expected


def test_growth_of_every_buffer(tmp_path, rng):
    # Thousands of distinct tokens, some very long: the table, the arena and
    # the scratch buffer all grow from their smallest sizes mid-block.
    words = [f"w{i}" for i in range(3000)] + ["x" * 5000, "y" * 70000]
    ids = rng.integers(0, len(words), size=20000)
    lines = [" ".join(words[i] for i in ids[j : j + 9]) for j in range(0, 20000, 9)]
    path = tmp_path / "many.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = reference_docs([path])
    docs, counts = scan_docs([path], n_jobs=2)
    assert docs == expected
    assert counts == counts_of(expected)


def test_read_only_table_codes_are_vocabulary_ids(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("the cat sat\non the mat the end\n", encoding="utf-8")
    vocab = Vocabulary(["the", "mat", "cat", "dog"])
    table = TokenTable.from_tokens(vocab.tokens)
    parts = []
    scan_corpus([path], table=table, on_part=parts.append, n_jobs=1)
    codes = np.concatenate([p.codes for p in parts])
    words = [t for d in reference_docs([path]) for t in d]
    np.testing.assert_array_equal(codes, vocab.encode(words))
    assert len(table) == len(vocab)  # nothing was inserted


def test_vocabulary_from_table_matches_build_vocabulary(tmp_path, rng):
    words = ["b", "a", "c", "é", "z", "aa"]
    text = "\n".join(
        " ".join(words[i] for i in rng.integers(0, 6, size=7)) for _ in range(50)
    )
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    tables = scan_corpus([path], n_jobs=2, chunk_size=40)
    merge_tables(tables)
    for min_count, max_size in [(1, None), (40, None), (1, 3)]:
        vocab, entries = vocabulary_from_table(
            tables[0], min_count=min_count, max_size=max_size
        )
        expected = build_vocabulary(
            iter_token_chunks([path]), min_count=min_count, max_size=max_size
        )
        assert vocab == expected
        assert tables[0].tokens(entries) == expected.tokens


def test_empty_and_blank_corpora(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b"\n\n \n")
    for paths in ([empty], [blank], [empty, blank]):
        docs, counts = scan_docs(paths)
        assert docs == reference_docs(paths)
        assert counts == {}


# -- the batched kernel: batch boundaries, long tokens, growth mid-batch ------
def run_part(raw, tokenizer="word", lowercase=True, table=None, insert=True):
    """Codes, offsets and table of one part coded by ``_Tokenizer.run`` (no
    thread pool, so that entry numbers are deterministic)."""
    from cooc.tokenstream import _Segment, _Tokenizer

    tok = _Tokenizer(tokenizer, lowercase, "strict")
    table = TokenTable() if table is None else table
    data = np.frombuffer(raw, np.uint8)
    seg = [_Segment(0, data.shape[0], "part.txt", 0, False, False)]
    codes, offsets, _ = tok.run(
        table, insert, data, 0, data.shape[0], seg, np.empty(64, np.uint8)
    )
    return codes, offsets, table


def part_docs(raw, **kw):
    codes, offsets, table = run_part(raw, **kw)
    tokens = table.tokens(np.arange(len(table)))
    words = [tokens[c] for c in codes.tolist()]
    return [words[a:b] for a, b in itertools.pairwise(offsets.tolist())], table


def reference_of(tmp_path, raw, **read):
    path = tmp_path / "ref.txt"
    path.write_bytes(raw)
    return reference_docs([path], **read)


# Words for long lines: plain, capitalized (built in scratch when lowercasing),
# apostrophes, non-ASCII that lowercasing keeps or changes (or lengthens),
# separators of every kind.
WORDS = [
    "the", "The", "THE", "a", "x" * 9, "X" * 9, "don't", "Don't", "rock'n'roll",
    "l'été", "L’ÉTÉ", "\u0130stanbul", "\u212akelvin", "\u023a", "naïve", "NAÏVE",
    "中文", "\U0001f600", "abcdefghijklmnopq", "ABCDEFGHIJKLMNOPQ", "_", "42",
    "'", "''", "a'", "'a", "--", "\u00a0", "\u3000", "\t", "\r",
]  # fmt: skip


def random_text(rng, n_lines, tokens_per_line, words=WORDS):
    """Lines of random words; every fifth has a capital sigma somewhere."""
    lines = []
    for k in range(n_lines):
        ids = rng.integers(0, len(words), size=tokens_per_line)
        seps = rng.choice([" ", "  ", "\t", ",", " - "], size=tokens_per_line)
        line = [words[i] + s for i, s in zip(ids, seps, strict=True)]
        if k % 5 == 0:
            line.insert(int(rng.integers(0, len(line))), "ΟΔΥΣΣΕΥΣ ")
        lines.append("".join(line))
    return "\n".join(lines)


@pytest.mark.parametrize("tokenizer", ["word", "whitespace"])
@pytest.mark.parametrize("lowercase", [True, False])
def test_long_lines_cross_batch_boundaries(tmp_path, rng, tokenizer, lowercase):
    # Lines of hundreds of tokens: batches end mid-line, fallback lines (capital
    # sigma) start mid-batch, built and in-place tokens mix in one batch.
    text = random_text(rng, 40, 700)
    read = dict(tokenizer=tokenizer, lowercase=lowercase)
    raw = text.encode("utf-8")
    expected = reference_of(tmp_path, raw, **read)
    docs, _ = part_docs(raw, **read)
    assert docs == expected
    scanned, counts = scan_docs([tmp_path / "ref.txt"], chunk_size=1 << 14, **read)
    assert scanned == expected
    assert counts == counts_of(expected)


@pytest.mark.parametrize("n_tokens", [1, 127, 128, 129, 255, 256, 257, 1000])
def test_lines_of_exactly_batch_sized_token_counts(tmp_path, n_tokens):
    for words in (["a", "Bb", "c"], ["é", "É"], ["x" * 20, "Y" * 20]):
        text = "\n".join(
            " ".join(words[(i + j) % len(words)] for j in range(n_tokens))
            for i in range(3)
        )
        raw = text.encode("utf-8")
        expected = reference_of(tmp_path, raw)
        assert part_docs(raw)[0] == expected


def test_tokens_longer_than_scratch_and_batches(tmp_path):
    # In-place tokens of any length need no scratch; tokens that lowercasing
    # changes are built in scratch, which grows from 64 bytes (and a batch
    # whose built tokens fill it starts again in a new one).
    long_words = [
        "a" * 100_000,
        "A" * 100_000,
        "é" * 30_000,
        "É" * 30_000,
        "a" * 5000 + "B" + "c" * 5000,
        "x" * 70 + "\u0130" * 40,
        "A" * 63,
        "A" * 64,
        "A" * 65,
    ]
    lines = [" ".join(long_words), " ".join(w[:300] for w in long_words * 30)]
    lines.append(" ".join(["Ab" * 20] * 500))
    raw = "\n".join(lines).encode("utf-8")
    for tokenizer in ("word", "whitespace"):
        for lowercase in (True, False):
            read = dict(tokenizer=tokenizer, lowercase=lowercase)
            expected = reference_of(tmp_path, raw, **read)
            assert part_docs(raw, **read)[0] == expected


@pytest.mark.parametrize("lowercase", [True, False])
def test_table_growing_in_the_middle_of_a_batch(tmp_path, lowercase):
    # The smallest table: it grows at many tokens of a batch, and a token that
    # must wait for growth is coded exactly as without growth.
    words = [f"w{i}" for i in range(2000)] + [f"Long_Token_{i:05d}" for i in range(500)]
    rng = np.random.default_rng(5)
    ids = rng.integers(0, len(words), size=30_000)
    text = "\n".join(
        " ".join(words[i] for i in ids[j : j + 1000]) for j in range(0, 30_000, 1000)
    )
    raw = text.encode("utf-8")
    big = run_part(raw, lowercase=lowercase, table=TokenTable(1 << 16, 1 << 20))
    small = run_part(raw, lowercase=lowercase, table=TokenTable(16, 64))
    np.testing.assert_array_equal(small[0], big[0])
    np.testing.assert_array_equal(small[1], big[1])
    n = len(big[2])
    assert len(small[2]) == n
    np.testing.assert_array_equal(small[2].counts, big[2].counts)
    np.testing.assert_array_equal(small[2].hash[:n], big[2].hash[:n])
    assert small[2].tokens(np.arange(n)) == big[2].tokens(np.arange(n))
    expected = reference_of(tmp_path, raw, lowercase=lowercase)
    assert part_docs(raw, lowercase=lowercase, table=TokenTable(16, 64))[0] == expected


def test_crlf_unicode_spaces_and_separator_only_lines(tmp_path):
    raw = (
        "a b\r\nc\rd\r\n\r\n"
        "x\u00a0y\u3000z\u2028w\x85v\u2009u\n"
        "   \n\t\t\n , ; ' ’ -- \n\u00a0\u3000\n\n"
        "it's\u00a0Don’t \u3000 A\r"
    ).encode("utf-8")
    for tokenizer in ("word", "whitespace"):
        for lowercase in (True, False):
            read = dict(tokenizer=tokenizer, lowercase=lowercase)
            expected = reference_of(tmp_path, raw, **read)
            assert part_docs(raw, **read)[0] == expected
            for chunk_size in (1, 3, 1 << 20):
                docs, _ = scan_docs(
                    [tmp_path / "ref.txt"], chunk_size=chunk_size, **read
                )
                assert docs == expected


def test_empty_parts(tmp_path):
    # Blocks cut into more parts than they have lines: some parts are empty.
    path = tmp_path / "lines.txt"
    path.write_bytes(b"\n\n\na\n\n\n\nb c\n\n")
    for n_jobs in (1, 2, 4):
        for chunk_size in (1, 4, 1 << 20):
            docs, counts = scan_docs([path], n_jobs=n_jobs, chunk_size=chunk_size)
            expected = reference_docs([path], chunk_size=chunk_size)
            assert docs == expected
            assert counts == counts_of(expected)
    assert run_part(b"")[0].shape == (0,)


@pytest.mark.parametrize("tokenizer", ["word", "whitespace"])
def test_kernel_hashes_match_the_table_hashes(tmp_path, tokenizer):
    # Tokens of every length up to 40 at the very end of the data (where the
    # kernel cannot read 8 bytes at a time) and inside it: a table built by
    # from_tokens (hashing from its arena) finds them all.
    tokens = [
        "".join(chr(ord("a") + (k + j) % 26) for j in range(k)) for k in range(1, 41)
    ]
    vocab = Vocabulary(tokens)
    for k, last in enumerate(tokens):
        text = " ".join(tokens[: k + 1][::-1]) + " " + last
        codes, _, _ = run_part(
            text.encode(), tokenizer=tokenizer, table=TokenTable.from_tokens(tokens),
            insert=False,
        )  # fmt: skip
        expected = vocab.encode(text.split())
        np.testing.assert_array_equal(codes, expected)
