"""Vocabulary files from elsewhere: GloVe's ``vocab_count`` output and plain
word lists, besides cooc's own ``token<TAB>count`` (``Vocabulary.load``,
``cooc build --vocab``)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from cooc.cooccurrence import WindowCounter, build_cooccurrence
from cooc.io import load_cooc
from cooc.vocab import Vocabulary


def write(path, text: str):
    path.write_bytes(text.encode("utf-8"))
    return path


def test_glove_vocab_count_output(tmp_path):
    # vocab_count writes "word count", most frequent first.
    path = write(tmp_path / "vocab.txt", "the 120\nof 80\nwhale 7\n")
    vocab = Vocabulary.load(path)
    assert vocab.tokens == ["the", "of", "whale"]
    assert vocab.counts.tolist() == [120, 80, 7]
    packed = tmp_path / "vocab.txt.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert Vocabulary.load(packed) == vocab
    crlf = write(tmp_path / "crlf.txt", "\ufeffthe 120\r\nof 80\r\n")
    assert Vocabulary.load(crlf) == Vocabulary(["the", "of"], [120, 80])


def test_word_list_keeps_the_order_with_zero_counts(tmp_path):
    path = write(tmp_path / "words.txt", "zebra\napple\n42\nnaïve\n")
    vocab = Vocabulary.load(path)
    assert vocab.tokens == ["zebra", "apple", "42", "naïve"]
    assert vocab.counts.tolist() == [0, 0, 0, 0]
    assert Vocabulary.load(write(tmp_path / "one.txt", "only")).tokens == ["only"]


def test_tab_format_is_still_first_and_the_only_one_with_spaces(tmp_path):
    vocab = Vocabulary(["new york", "the", ""], [3, 2, 0])
    vocab.save(tmp_path / "v.tsv")
    assert Vocabulary.load(tmp_path / "v.tsv") == vocab
    # A word list or a GloVe file cannot hold a token with a space.
    with pytest.raises(ValueError, match=r"words\.txt:2: expected one word"):
        Vocabulary.load(write(tmp_path / "words.txt", "the\nnew york\n"))
    with pytest.raises(ValueError, match=r"glove\.txt:2: expected 'word count'"):
        Vocabulary.load(write(tmp_path / "glove.txt", "the 3\nnew york 2\n"))


@pytest.mark.parametrize(
    ("content", "line", "expected"),
    [
        # the first line sets the format; the first line that differs is named
        ("the\t3\ncat 1\n", 2, "expected 'token<TAB>count'"),
        ("the 3\ncat\t1\n", 2, "expected 'word count'"),
        ("the 3\ncat\n", 2, "expected 'word count'"),
        ("the\ncat 1\n", 2, "expected one word"),
        ("the\ncat\t1\n", 2, "expected one word"),
        ("the\n\ncat\n", 2, "expected one word"),
        ("the 3\n\n", 2, "expected 'word count'"),
        ("the 3\ncat -1\n", 2, "expected 'word count'"),
        ("the 3\ncat  1\n", 2, "expected 'word count'"),
        ("the 3 4\ncat 1\n", 1, "or one word per line"),
        (" the 3\n", 1, "or one word per line"),
        ("\n", 1, "or one word per line"),
        ("the 3\ncat 1\nthe 5\n", 3, "token 'the' repeats line 1"),
        ("a\nb\na\n", 3, "token 'a' repeats line 1"),
    ],
)
def test_mixed_or_malformed_files_name_the_first_bad_line(
    tmp_path, content, line, expected
):
    path = write(tmp_path / "bad.txt", content)
    with pytest.raises(ValueError, match=rf"bad\.txt:{line}: .*{expected}") as err:
        Vocabulary.load(path)
    assert "\n" not in str(err.value).replace("\\n", "")


def test_a_word_list_vocabulary_counts_like_any_other(tmp_path, abc_corpus):
    counted = build_cooccurrence(abc_corpus, min_count=1, window_size=2)
    words = write(tmp_path / "words.txt", "".join(t + "\n" for t in counted.vocabulary))
    glove = write(
        tmp_path / "glove.txt",
        "".join(
            f"{t} {c}\n"
            for t, c in zip(counted.vocabulary, counted.vocabulary.counts, strict=True)
        ),
    )
    for path in (words, glove):
        voc = Vocabulary.load(path)
        m = build_cooccurrence(abc_corpus, vocabulary=voc, window_size=2)
        assert m.vocabulary.tokens == counted.vocabulary.tokens
        assert (m.matrix != counted.matrix).nnz == 0
    # An order of one's own is kept: ids follow the file.
    reversed_list = write(tmp_path / "rev.txt", "c\nb\na\n")
    m = build_cooccurrence(
        abc_corpus, vocabulary=Vocabulary.load(reversed_list), window_size=2
    )
    assert m.vocabulary.tokens == ["c", "b", "a"]


def test_subsampling_refuses_a_vocabulary_without_counts(tmp_path, abc_corpus):
    voc = Vocabulary.load(write(tmp_path / "words.txt", "a\nb\nc\n"))
    with pytest.raises(ValueError, match=r"subsample needs the words' corpus counts"):
        build_cooccurrence(abc_corpus, vocabulary=voc, subsample=1e-3)
    with pytest.raises(ValueError, match=r"every count is 0"):
        WindowCounter(3, subsample=1e-3, word_counts=np.zeros(3))
    # Counts that are partly 0 (words absent from the corpus) still subsample.
    WindowCounter(3, subsample=1e-3, word_counts=np.array([5, 0, 1]))


def test_cli_build_with_glove_and_word_list_vocabularies(run_cli, tmp_path, abc_corpus):
    words = write(tmp_path / "words.txt", "b\na\nc\n")
    glove = write(tmp_path / "glove.txt", "b 3\na 2\nc 1\n")
    for path in (words, glove):
        out = tmp_path / f"{path.stem}.cooc"
        r = run_cli("build", abc_corpus, "--vocab", path, "-o", out, "-q")
        assert r.exit_code == 0, r.output
        assert load_cooc(out).vocabulary.tokens == ["b", "a", "c"]
    r = run_cli(
        "build", abc_corpus, "--vocab", words, "-o", tmp_path / "x.cooc",
        "--subsample", "1e-3", "-q",
    )  # fmt: skip
    assert r.exit_code == 2
    assert "every count is 0" in r.output
    assert len(r.output.strip().splitlines()) == 1
    bad = write(tmp_path / "bad.txt", "b 3\na\n")
    r = run_cli("build", abc_corpus, "--vocab", bad, "-o", tmp_path / "x.cooc", "-q")
    assert r.exit_code == 2
    assert "bad.txt:2: expected 'word count'" in r.output
