"""Every ``cooc`` command through click's CliRunner; outputs read back via cooc.io."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from cooc.cli import cli
from cooc.datasets import make_topic_corpus
from cooc.io import load_cooc, read_cooc_meta
from cooc.pipeline import DEFAULT_POWER
from cooc.svd import Embeddings
from cooc.vocab import Vocabulary
from cooc.weighting import ppmi

TINY_DOCS = [["a", "b", "a"], [], ["c"], ["b", "c", "b", "b"]]
README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = sorted(cli.commands)


def ok(result):
    """Assert success; show stderr and the traceback when it is not."""
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    return result


def bad_input(result, *needles):
    """Assert exit code 2 and one ``Error:`` line holding every needle; no traceback."""
    assert result.exit_code == 2, (
        result.exit_code,
        result.stdout,
        result.stderr,
        result.exception,
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def build(run_cli, corpus, out, *extra):
    return ok(run_cli("build", corpus, "-o", out, "--min-count", "1", "-q", *extra))


# -- vocab -----------------------------------------------------------------------------
def test_vocab_counts_in_id_order(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "vocab.tsv"
    r = ok(run_cli("vocab", tiny_corpus, "-o", out, "--min-count", "1", "--json", "-q"))
    assert json.loads(r.stdout) == {
        "output": str(out),
        "n_words": 3,
        "n_tokens_in_vocabulary": 8,
    }
    assert r.stderr == ""
    voc = Vocabulary.load(out)
    assert voc.tokens == ["b", "a", "c"]  # count descending, then alphabetical
    assert voc.counts.tolist() == [4, 2, 2]
    assert out.read_text(encoding="utf-8") == "b\t4\na\t2\nc\t2\n"


@pytest.mark.parametrize(
    ("args", "tokens"),
    [
        (["--min-count", "3"], ["b"]),
        (["--min-count", "1", "--max-size", "2"], ["b", "a"]),
    ],
)
def test_vocab_cutoffs(run_cli, tiny_corpus, tmp_path, args, tokens):
    ok(run_cli("vocab", tiny_corpus, "-o", tmp_path / "v.tsv", "-q", *args))
    assert Vocabulary.load(tmp_path / "v.tsv").tokens == tokens


def test_vocab_progress_goes_to_stderr(run_cli, tiny_corpus, tmp_path):
    r = ok(run_cli("vocab", tiny_corpus, "-o", tmp_path / "v.tsv", "--min-count", "1"))
    assert "wrote 3 words" in r.stderr
    assert "wrote" not in r.stdout
    assert re.search(r"^n_words\s+3$", r.stdout, re.MULTILINE)


# -- build -----------------------------------------------------------------------------
def test_build_hand_count(run_cli, abc_corpus, tmp_path):
    out = tmp_path / "abc.cooc"
    r = build(
        run_cli, abc_corpus, out, "--window", "1", "--weighting", "uniform", "--json"
    )
    assert r.stderr == ""  # --quiet
    result = json.loads(r.stdout)  # stdout is nothing but the JSON record
    assert result["shape"] == [3, 3]
    assert result["nnz"] == 4
    assert result["n_docs"] == 2
    assert result["n_tokens"] == 5
    assert result["output"] == str(out)
    m = load_cooc(out)
    assert m.vocabulary.tokens == ["a", "b", "c"]
    assert m.vocabulary.counts.tolist() == [2, 2, 1]
    # "a b a": a-b twice; "b c": b-c once; symmetric
    np.testing.assert_array_equal(m.matrix.toarray(), [[0, 2, 0], [2, 0, 1], [0, 1, 0]])
    assert m.params["window_size"] == 1
    assert m.params["weighting"] == "uniform"
    assert m.params["symmetric"] is True
    assert m.stats["n_docs"] == 2
    assert m.stats["n_tokens"] == 5
    assert m.stats["n_oov"] == 0


@pytest.mark.parametrize(
    ("window", "weighting"), [(1, "uniform"), (2, "harmonic"), (3, "linear")]
)
def test_build_matches_reference(
    run_cli, tiny_corpus, tmp_path, reference_counts, window, weighting
):
    out = tmp_path / "t.cooc"
    build(run_cli, tiny_corpus, out, "--window", window, "--weighting", weighting)
    m = load_cooc(out)
    assert m.vocabulary.tokens == ["b", "a", "c"]
    expected = reference_counts(TINY_DOCS, ["b", "a", "c"], window, weighting)
    np.testing.assert_allclose(m.matrix.toarray(), expected, rtol=0, atol=1e-15)
    assert m.stats["n_docs"] == 4  # the empty line is a document
    assert m.stats["n_tokens"] == 8


def test_build_tiny_window_1_by_hand(run_cli, tiny_corpus, tmp_path):
    build(
        run_cli,
        tiny_corpus,
        tmp_path / "t.cooc",
        "--window",
        "1",
        "--weighting",
        "uniform",
    )
    # ids b, a, c.  "a b a" -> a-b twice; "b c b b" -> b-c twice, b-b once (diagonal +2)
    np.testing.assert_array_equal(
        load_cooc(tmp_path / "t.cooc").matrix.toarray(),
        [[2, 2, 2], [2, 0, 0], [2, 0, 0]],
    )


def test_build_directional(run_cli, tiny_corpus, tmp_path, reference_counts):
    out = tmp_path / "d.cooc"
    r = build(
        run_cli,
        tiny_corpus,
        out,
        "--window",
        "1",
        "--weighting",
        "uniform",
        "--directional",
        "--json",
    )
    assert json.loads(r.stdout)["shape"] == [3, 6]
    m = load_cooc(out)
    expected = reference_counts(
        TINY_DOCS, ["b", "a", "c"], 1, "uniform", symmetric=False
    )
    np.testing.assert_array_equal(m.matrix.toarray(), expected)
    assert m.params["symmetric"] is False
    # a's only neighbour is b, once on each side
    assert m.matrix.toarray()[1].tolist() == [1, 0, 0, 1, 0, 0]


@pytest.mark.parametrize(("oov", "diagonal"), [("drop", 4.0), ("gap", 2.0)])
def test_build_out_of_vocabulary(run_cli, tiny_corpus, tmp_path, oov, diagonal):
    out = tmp_path / "o.cooc"
    ok(
        run_cli(
            "build",
            tiny_corpus,
            "-o",
            out,
            "--min-count",
            "3",
            "--window",
            "1",
            "--weighting",
            "uniform",
            "--oov",
            oov,
            "-q",
        )
    )
    m = load_cooc(out)
    assert m.vocabulary.tokens == ["b"]
    assert m.stats["n_oov"] == 4
    # drop: "b b b" is left of "b c b b" -> 2 pairs; gap: "b _ b b" -> 1 pair
    assert m.matrix.toarray().tolist() == [[diagonal]]
    assert m.params["oov"] == oov


def test_build_with_vocab_from_stdin(run_cli, tiny_corpus, tmp_path):
    ok(
        run_cli(
            "vocab", tiny_corpus, "-o", tmp_path / "v.tsv", "--min-count", "1", "-q"
        )
    )
    build(run_cli, tiny_corpus, tmp_path / "file.cooc", "--window", "2")
    ok(
        run_cli(
            "build",
            "-",
            "--vocab",
            tmp_path / "v.tsv",
            "-o",
            tmp_path / "stdin.cooc",
            "--window",
            "2",
            "-q",
            input=tiny_corpus.read_text(encoding="utf-8"),
        )
    )
    a, b = load_cooc(tmp_path / "file.cooc"), load_cooc(tmp_path / "stdin.cooc")
    assert a.vocabulary == b.vocabulary
    np.testing.assert_array_equal(a.matrix.toarray(), b.matrix.toarray())


def test_build_and_embed_read_stdin_once(run_cli, tiny_corpus, tmp_path):
    # The first pass keeps the token codes: standard input is read once, no
    # --vocab needed (the same matrix as from the file).
    build(run_cli, tiny_corpus, tmp_path / "file.cooc", "--window", "2")
    text = tiny_corpus.read_text(encoding="utf-8")
    out = tmp_path / "stdin.cooc"
    args = ("--window", "2", "--min-count", "1", "-q")
    ok(run_cli("build", "-", "-o", out, *args, input=text))
    a, b = load_cooc(tmp_path / "file.cooc"), load_cooc(out)
    assert a.vocabulary == b.vocabulary
    np.testing.assert_array_equal(a.matrix.toarray(), b.matrix.toarray())
    vec = tmp_path / "v.npz"
    ok(run_cli("embed", "-", "-o", vec, "--rank", "2", *args, input=text))
    assert vec.exists()


def test_build_stdin_without_vocab_is_refused_where_read_twice(run_cli, tmp_path):
    # a checkpoint resumes by reading the corpus again: never standard input
    # (cooc 0.2 advised --vocab here, which the next run refused as well)
    bad_input(
        run_cli(
            "build",
            "-",
            "-o",
            tmp_path / "x.cooc",
            "--checkpoint",
            tmp_path / "ck",
            input="a b\n",
        ),
        "checkpoint",
        "standard input",
    )


def test_build_from_stdin_out_of_core(run_cli, tiny_corpus, tmp_path, monkeypatch):
    # Spilling reads standard input once too (the codes are kept).
    import cooc.outofcore as O

    monkeypatch.setattr(O, "_runs_limit", lambda memory: 0)
    build(run_cli, tiny_corpus, tmp_path / "file.cooc", "--window", "2")
    out = tmp_path / "stdin.cooc"
    text = tiny_corpus.read_text(encoding="utf-8")
    args = ("--window", "2", "--min-count", "1", "--spill-dir", tmp_path, "-q")
    ok(run_cli("build", "-", "-o", out, *args, input=text))
    a, b = load_cooc(tmp_path / "file.cooc"), load_cooc(out)
    assert a.vocabulary == b.vocabulary
    np.testing.assert_array_equal(a.matrix.toarray(), b.matrix.toarray())
    assert (
        sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("cooc-")) == []
    )


def test_build_thread_count_does_not_change_result(run_cli, tiny_corpus, tmp_path):
    build(run_cli, tiny_corpus, tmp_path / "1.cooc", "--threads", "1", "--window", "3")
    build(run_cli, tiny_corpus, tmp_path / "2.cooc", "--threads", "2", "--window", "3")
    np.testing.assert_array_equal(
        load_cooc(tmp_path / "1.cooc").matrix.toarray(),
        load_cooc(tmp_path / "2.cooc").matrix.toarray(),
    )


def test_build_progress_on_stderr_results_on_stdout(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "t.cooc"
    r = ok(
        run_cli("build", tiny_corpus, "-o", out, "--min-count", "1", "--window", "1")
    )
    assert f"wrote {out}" in r.stderr
    # one line per stage: 8 tokens read twice, then the timed stages
    assert "vocabulary: 8 tokens in " in r.stderr
    assert "counting: 8 tokens in " in r.stderr
    assert "merging: " in r.stderr and "writing: " in r.stderr
    assert "wrote" not in r.stdout and "tokens/s" not in r.stdout
    assert re.search(r"^nnz\s+5$", r.stdout, re.MULTILINE)
    assert re.search(r"^n_docs\s+4$", r.stdout, re.MULTILINE)

    r = ok(
        run_cli(
            "build",
            tiny_corpus,
            "-o",
            out,
            "--min-count",
            "1",
            "--window",
            "1",
            "--quiet",
            "--json",
        )
    )
    assert r.stderr == ""
    assert json.loads(r.stdout)["nnz"] == 5


def test_build_encoding_errors_replace(run_cli, tmp_path):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"a b\n\xff a b\n")
    build(run_cli, corpus, tmp_path / "r.cooc", "--encoding-errors", "replace")
    m = load_cooc(tmp_path / "r.cooc")
    assert m.vocabulary.tokens == ["a", "b"]
    assert m.stats["n_docs"] == 2


def test_build_jsonl_column(run_cli, tmp_path):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text(
        '{"body": "a b a", "id": 1}\n{"body": "b c", "id": 2}\n', encoding="utf-8"
    )
    build(
        run_cli,
        corpus,
        tmp_path / "j.cooc",
        "--column",
        "body",
        "--window",
        "1",
        "--weighting",
        "uniform",
    )
    np.testing.assert_array_equal(
        load_cooc(tmp_path / "j.cooc").matrix.toarray(),
        [[0, 2, 0], [2, 0, 1], [0, 1, 0]],
    )


# -- info ------------------------------------------------------------------------------
def test_info(run_cli, abc_corpus, tmp_path):
    out = tmp_path / "abc.cooc"
    build(run_cli, abc_corpus, out, "--window", "1", "--weighting", "uniform")
    r = ok(run_cli("info", out, "--json"))
    info = json.loads(r.stdout)
    assert info["file"] == str(out)
    assert info["shape"] == [3, 3]
    assert info["nnz"] == 4
    assert info["density"] == pytest.approx(4 / 9)
    assert info["total"] == 6.0
    assert info["top_words"] == ["a", "b", "c"]
    assert info["params"] == load_cooc(out).params
    assert info["stats"]["n_tokens"] == 5
    assert info["stats"]["n_docs"] == 2
    assert r.stderr == ""

    r = ok(run_cli("info", out))
    assert re.search(r"^shape\s+3 x 3$", r.stdout, re.MULTILINE)
    assert re.search(r"^window_size\s+1$", r.stdout, re.MULTILINE)
    assert re.search(r"^top words\s+a b c$", r.stdout, re.MULTILINE)


# -- export ----------------------------------------------------------------------------
def test_export_tsv(run_cli, abc_corpus, tmp_path):
    out = tmp_path / "abc.cooc"
    build(run_cli, abc_corpus, out, "--window", "1", "--weighting", "uniform")
    pairs = tmp_path / "pairs.tsv"
    r = ok(run_cli("export", out, "-o", pairs))
    assert r.stdout == ""
    assert f"wrote 4 pairs to {pairs}" in r.stderr
    lines = pairs.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "word1\tword2\tvalue"
    rows = [line.split("\t") for line in lines[1:]]
    assert {(a, b, float(v)) for a, b, v in rows} == {
        ("a", "b", 2.0),
        ("b", "a", 2.0),
        ("b", "c", 1.0),
        ("c", "b", 1.0),
    }
    assert len(rows) == 4

    r = ok(run_cli("export", out, "-o", pairs, "-q"))
    assert r.stderr == ""


def test_export_matches_matrix_exactly(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "t.cooc"
    # harmonic weights of 1/3: sums that are not short decimals
    build(
        run_cli,
        tiny_corpus,
        out,
        "--window",
        "3",
        "--weighting",
        "harmonic",
        "--directional",
    )
    ok(run_cli("export", out, "-o", tmp_path / "p.tsv", "-q"))
    back = pd.read_csv(tmp_path / "p.tsv", sep="\t", quoting=3)
    m = load_cooc(out)
    pd.testing.assert_frame_equal(
        back, m.to_frame(), check_dtype=False, check_exact=True
    )
    assert set(back["word2"].str[:2]) == {"L:", "R:"}
    assert (back["value"] == 11 / 6).any()  # b-b: 1 + 1/2 + 1/3, not a short decimal


def test_export_keeps_tokens_verbatim(run_cli, tmp_path):
    # Regression (tests/data/quotes.txt): '"quoted' was written CSV-quoted.
    corpus = Path(__file__).parent / "data" / "quotes.txt"
    out = tmp_path / "q.cooc"
    build(run_cli, corpus, out, "--tokenizer", "whitespace", "--window", "1")
    ok(run_cli("export", out, "-o", tmp_path / "q.tsv", "-q"))
    lines = (tmp_path / "q.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "word1\tword2\tvalue"
    assert sorted(lines[1:]) == [
        '"quoted"\tback\\slash\t1.0',
        'back\\slash\t"quoted"\t1.0',
    ]


def test_export_parquet(run_cli, tiny_corpus, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "t.cooc"
    build(run_cli, tiny_corpus, out, "--window", "2")
    ok(run_cli("export", out, "-o", tmp_path / "p.parquet", "-q"))
    back = pd.read_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(back, load_cooc(out).to_frame(), check_dtype=False)


# -- embed -----------------------------------------------------------------------------
@pytest.fixture
def topic_cooc(tmp_path, run_cli):
    docs, _ = make_topic_corpus(
        60, doc_length=12, n_topics=3, words_per_topic=6, n_common=4, random_state=1
    )
    corpus = tmp_path / "topics.txt"
    corpus.write_text("\n".join(docs) + "\n", encoding="utf-8")
    out = tmp_path / "topics.cooc"
    build(run_cli, corpus, out, "--window", "2")
    return out


def _align_signs(a, b):
    """Flip columns of ``a`` to agree in sign with ``b`` (SVD signs are arbitrary)."""
    return a * np.sign(np.sum(a * b, axis=0, keepdims=True))


@pytest.mark.parametrize("context", [None, "--context", "--no-context"])
def test_embed_matches_dense_svd(run_cli, topic_cooc, tmp_path, context):
    out = tmp_path / "vectors.txt"
    flags = [context] if context else []
    r = ok(
        run_cli(
            "embed",
            topic_cooc,
            "-o",
            out,
            "--rank",
            "4",
            "--solver",
            "arpack",
            "--json",
            "-q",
            *flags,
        )
    )
    assert r.stderr == ""
    result = json.loads(r.stdout)
    m = load_cooc(topic_cooc)
    weighted = ppmi(m.matrix, context_alpha=0.75).toarray().astype(np.float64)
    u, s, vt = np.linalg.svd(weighted)
    assert result["n_words"] == m.shape[0] == 22
    assert result["rank"] == 4
    np.testing.assert_allclose(result["top_singular_values"], s[:4], rtol=1e-4)
    assert result["smallest_singular_value"] == pytest.approx(s[3], rel=1e-4)

    emb = Embeddings.load(out)
    assert emb.tokens == m.vocabulary.tokens
    assert emb.dim == 4
    scale = s[:4] ** DEFAULT_POWER  # the default eigenvalue power of `cooc embed`
    expected = u[:, :4] * scale
    if context != "--no-context":  # w + c is the default for a symmetric matrix
        expected = expected + vt[:4].T * scale
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(_align_signs(emb.vectors, expected), expected, atol=1e-4)


@pytest.mark.parametrize("streaming", [[], ["--streaming"]], ids=["memory", "rows"])
def test_embed_solver_options_reach_the_solver(
    run_cli, topic_cooc, tmp_path, streaming
):
    from cooc.pipeline import embed_cooccurrence

    m = load_cooc(topic_cooc)
    out = tmp_path / "v.npz"
    args = ["embed", topic_cooc, "-o", out, "--rank", "3", "-q", *streaming]
    ok(run_cli(*args, "--n-iter", "0", "--oversamples", "1"))
    got = Embeddings.load(out).vectors
    few, _ = embed_cooccurrence(m, 3, n_iter=0, n_oversamples=1)
    default, _ = embed_cooccurrence(m, 3)
    # no power step and one extra column: a rougher subspace than the defaults'
    assert np.abs(few.vectors - default.vectors).max() > 1e-3
    np.testing.assert_allclose(got, few.vectors, atol=1e-5)
    r = run_cli(*args, "--oversamples", "-1")
    assert r.exit_code == 2 and "--oversamples" in r.output


@pytest.mark.parametrize("suffix", [".bin", ".npz"])
def test_embed_formats_agree(run_cli, topic_cooc, tmp_path, suffix):
    ok(run_cli("embed", topic_cooc, "-o", tmp_path / "v.txt", "--rank", "3", "-q"))
    ok(run_cli("embed", topic_cooc, "-o", tmp_path / f"v{suffix}", "--rank", "3", "-q"))
    a, b = Embeddings.load(tmp_path / "v.txt"), Embeddings.load(tmp_path / f"v{suffix}")
    assert a.tokens == b.tokens
    np.testing.assert_array_equal(a.vectors, b.vectors)  # same seed, lossless formats
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, rtol=1e-5)


def test_embed_progress_and_options(run_cli, topic_cooc, tmp_path):
    r = ok(
        run_cli(
            "embed",
            topic_cooc,
            "-o",
            tmp_path / "v.npz",
            "--rank",
            "2",
            "--power",
            "0",
            "--context",
            "--weighting",
            "log",
        )
    )
    assert "rank 2" in r.stderr and "wrote 22 vectors" in r.stderr
    assert re.search(r"^n_words\s+22$", r.stdout, re.MULTILINE)
    assert Embeddings.load(tmp_path / "v.npz").dim == 2


# -- similar ---------------------------------------------------------------------------
@pytest.fixture
def toy_vectors(tmp_path):
    path = tmp_path / "toy.txt"
    Embeddings(["cat", "dog", "car"], np.array([[1, 0.1], [1, 0.2], [0, 1]])).save(path)
    return path


def _cos(u, v):
    u, v = np.asarray(u, np.float32), np.asarray(v, np.float32)
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def test_similar_json(run_cli, toy_vectors):
    r = ok(run_cli("similar", toy_vectors, "cat", "car", "-k", "2", "--json"))
    result = json.loads(r.stdout)
    assert list(result) == ["cat", "car"]
    assert [n["word"] for n in result["cat"]] == ["dog", "car"]
    assert result["cat"][0]["cosine"] == pytest.approx(
        _cos([1, 0.1], [1, 0.2]), abs=1e-6
    )
    assert result["cat"][1]["cosine"] == pytest.approx(_cos([1, 0.1], [0, 1]), abs=1e-6)
    assert [n["word"] for n in result["car"]] == ["dog", "cat"]
    assert r.stderr == ""


def test_similar_table_and_case_fallback(run_cli, toy_vectors):
    r = ok(run_cli("similar", toy_vectors, "CAT", "-k", "1"))
    assert r.stdout == f"CAT: dog ({_cos([1, 0.1], [1, 0.2]):.3f})\n"


def test_embed_from_corpus_in_one_process(run_cli, tmp_path):
    docs, _ = make_topic_corpus(40, doc_length=20, random_state=2)
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(docs) + "\n", encoding="utf-8")
    # corpus in: counted with cooc build's defaults, then embedded; the same
    # vectors as the two commands
    ok(run_cli("build", corpus, "-o", tmp_path / "d.cooc", "-q"))
    ok(run_cli("embed", tmp_path / "d.cooc", "-o", tmp_path / "two.npz", "-q"))
    r = ok(run_cli("embed", corpus, "-o", tmp_path / "one.npz", "--json"))
    assert json.loads(r.stdout)["n_words"] == len(
        load_cooc(tmp_path / "d.cooc").vocabulary
    )
    assert "counting" in r.stderr or "vocabulary" in r.stderr  # progress
    one, two = (
        Embeddings.load(tmp_path / "one.npz"),
        Embeddings.load(tmp_path / "two.npz"),
    )
    assert one.tokens == two.tokens
    np.testing.assert_array_equal(one.vectors, two.vectors)
    # --window and --min-count are the counting settings of a corpus input
    ok(
        run_cli(
            "build",
            corpus,
            "-o",
            tmp_path / "w.cooc",
            "--window",
            "3",
            "-q",
            "--min-count",
            "2",
        )
    )
    ok(run_cli("embed", tmp_path / "w.cooc", "-o", tmp_path / "w2.npz", "-q"))
    ok(
        run_cli(
            "embed",
            corpus,
            "--window",
            "3",
            "--min-count",
            "2",
            "-q",
            "-o",
            tmp_path / "w1.npz",
        )
    )
    np.testing.assert_array_equal(
        Embeddings.load(tmp_path / "w1.npz").vectors,
        Embeddings.load(tmp_path / "w2.npz").vectors,
    )
    # ... and make no sense for a .cooc input
    r = run_cli("embed", tmp_path / "d.cooc", "--window", "3", "-o", tmp_path / "x.npz")
    assert r.exit_code == 2 and "corpus inputs" in r.stderr
    assert not (tmp_path / "x.npz").exists()
    r = run_cli("embed", tmp_path / "missing.txt", "-o", tmp_path / "x.npz")
    assert r.exit_code == 2 and "missing.txt" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "x.npz").exists()


def test_similar_on_embed_output(run_cli, topic_cooc, tmp_path):
    ok(run_cli("embed", topic_cooc, "-o", tmp_path / "v.txt", "--rank", "4", "-q"))
    r = ok(run_cli("similar", tmp_path / "v.txt", "t0w1", "-k", "3", "--json"))
    neigh = json.loads(r.stdout)["t0w1"]
    assert len(neigh) == 3
    cosines = [n["cosine"] for n in neigh]
    assert cosines == sorted(cosines, reverse=True)
    assert all(n["word"] != "t0w1" for n in neigh)
    emb = Embeddings.load(tmp_path / "v.txt")
    assert cosines[0] == pytest.approx(
        emb.similarity("t0w1", neigh[0]["word"]), abs=1e-6
    )


# -- evaluate --------------------------------------------------------------------------
@pytest.fixture
def royal_vectors(tmp_path):
    path = tmp_path / "royal.txt"
    Embeddings(
        ["man", "woman", "king", "queen", "apple"],
        np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 1], [0, 0, -1]]),
    ).save(path)
    return path


def test_evaluate(run_cli, royal_vectors, tmp_path):
    sim = tmp_path / "sim.txt"
    sim.write_text(
        "# word1 word2 score\nman\twoman\t8\nking\tqueen\t7\nking\tapple\t1\n"
        "man\tzebra\t5\n",
        encoding="utf-8",
    )
    ana = tmp_path / "ana.txt"
    ana.write_text(
        ": royal\nman king woman queen\nman king zebra queen\n", encoding="utf-8"
    )
    r = ok(
        run_cli(
            "evaluate", royal_vectors, "--similarity", sim, "--analogy", ana, "--json"
        )
    )
    rows = json.loads(r.stdout)
    assert [(row["file"], row["task"]) for row in rows] == [
        ("sim.txt", "similarity"),
        ("ana.txt", "analogy 3cosadd"),
        ("ana.txt", "analogy 3cosmul"),
    ]
    s = rows[0]
    # covered cosines 0, 1/2, -1/sqrt(2) vs scores 8, 7, 1: ranks (2,3,1) vs (3,2,1)
    assert s["score"] == pytest.approx(0.5)
    assert s["coverage"] == 0.75
    assert s["n"] == 4
    expected_oov = scipy.stats.spearmanr(
        [8, 7, 1, 5], [0, 0.5, -(2**-0.5), 0]
    ).statistic
    assert s["score_oov_zero"] == pytest.approx(expected_oov)
    for row in rows[
        1:
    ]:  # king - man + woman = queen; the zebra question is not covered
        assert row["score"] == 1.0
        assert row["coverage"] == 0.5
        assert row["score_oov_zero"] == 0.5
        assert row["n"] == 2

    r = ok(run_cli("evaluate", royal_vectors, "--similarity", sim))
    assert "sim.txt" in r.stdout and "0.500" in r.stdout and "0.750" in r.stdout


def _strict_json(text):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_evaluate_json_is_strict_without_coverage(run_cli, toy_vectors):
    # Regression: no covered pair gives rho = NaN, which was printed as a bare NaN
    # (not JSON). Non-finite numbers are now null.
    sim = Path(__file__).parent / "data" / "sim_uncovered.txt"
    r = ok(run_cli("evaluate", toy_vectors, "--similarity", sim, "--json"))
    rows = _strict_json(r.stdout)
    assert rows == [
        {
            "file": "sim_uncovered.txt",
            "task": "similarity",
            "score": None,
            "coverage": 0.0,
            "score_oov_zero": None,
            "n": 1,
        }
    ]
    assert "NaN" in ok(run_cli("evaluate", toy_vectors, "--similarity", sim)).stdout


# -- demo ------------------------------------------------------------------------------
def test_demo_json(run_cli, tmp_path):
    r = ok(
        run_cli(
            "demo",
            "--only",
            "text",
            "--rank",
            "16",
            "--json",
            "--quiet",
            "--output-dir",
            tmp_path / "d",
        )
    )
    assert r.stderr == ""
    result = json.loads(r.stdout)
    assert set(result) == {
        "corpus",
        "n_tokens",
        "n_docs",
        "n_words",
        "nnz",
        "build_seconds",
        "embed_seconds",
        "rank",
        "neighbours",
        "similarity",
    }
    assert result["corpus"] == ["jane_austen.txt.gz", "moby_dick.txt.gz", "sotu.txt.gz"]
    assert result["rank"] == 16
    assert result["n_tokens"] > 2_000_000
    assert 1000 < result["n_words"] < result["n_tokens"]
    assert result["nnz"] > result["n_words"]
    assert {"whale", "ship", "sister"} <= set(result["neighbours"])
    for word, neigh in result["neighbours"].items():
        assert len(neigh) == 6
        assert all(isinstance(n, str) and n != word for n, _ in neigh)
        cosines = [c for _, c in neigh]
        assert cosines == sorted(cosines, reverse=True)
        assert all(-1.0 <= c <= 1.0 for c in cosines)
    for scores in result["similarity"].values():
        assert set(scores) == {"spearman", "coverage"}
        assert 0 < scores["coverage"] <= 1
    meta = read_cooc_meta(tmp_path / "d" / "demo.cooc")
    assert meta["shape"] == [result["n_words"], result["n_words"]]
    assert meta["nnz"] == result["nnz"]
    assert (
        (tmp_path / "d" / "demo_vectors.txt")
        .read_text(encoding="utf-8")
        .startswith(f"{result['n_words']} 16\n")
    )


def test_demo_multimodal_on_a_subset(run_cli, monkeypatch):
    import cooc.datasets

    full = cooc.datasets.load_emoji

    def subset(**kwargs):
        images, frame = full(**kwargs)
        keep = np.random.default_rng(0).permutation(len(frame))[:180]
        keep.sort()
        return images[keep], frame.iloc[keep].reset_index(drop=True)

    monkeypatch.setattr(cooc.datasets, "load_emoji", subset)
    r = ok(run_cli("demo", "--only", "multimodal", "--folds", "2", "--json", "-q"))
    result = json.loads(r.stdout)
    assert result["n_items"] == 180 and result["n_splits"] == 2
    models = result["models"]
    assert set(models) == {
        "text",
        "image",
        "early",
        "late mean",
        "late product",
        "late vote",
        "late stack",
        "joint",
    }
    for name, m in models.items():
        assert 0 <= m["macro_f1"] <= 1 and 0 <= m["accuracy"] <= 1, name
        assert len(m["weights"]) == 2
    for w in models["early"]["weights"]:
        assert max(w.values()) == 1.0  # the early grid keeps the strongest block at 1
    for name in ("late mean", "late stack"):
        for w in models[name]["weights"]:
            assert sum(w.values()) == pytest.approx(1.0)
    assert result["best_single"] in ("text", "image")
    # text is far above chance even on 90 training items
    assert models["text"]["accuracy"] > 2 * result["majority_rate"]
    hits = result["word_to_images"]
    assert hits and all(len(v) == 3 for v in hits.values())
    r = ok(run_cli("demo", "--only", "multimodal", "--folds", "2", "-q"))
    assert "early fusion" in r.stdout and "cross-modal neighbours" in r.stdout


# -- help, README ----------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(run_cli, command):
    r = ok(run_cli(command, "--help"))
    assert "Example" in r.stdout
    assert f"cooc {command}" in r.stdout
    assert ok(run_cli(command, "-h")).stdout == r.stdout


def test_top_level_help_lists_every_command(run_cli):
    r = ok(run_cli("--help"))
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", r.stdout, re.MULTILINE), command


def test_version(run_cli):
    import cooc

    assert cooc.__version__ in ok(run_cli("--version")).stdout


def test_every_command_is_in_readme():
    assert set(COMMANDS) == {
        "vocab",
        "build",
        "info",
        "export",
        "import",
        "phrases",
        "embed",
        "similar",
        "evaluate",
        "demo",
        "quantize",
        "fit",
        "predict",
        "report",
    }
    text = README.read_text(encoding="utf-8")
    missing = [c for c in COMMANDS if f"cooc {c}" not in text]
    assert not missing, f"README.md does not mention: {missing}"


# -- bad input: exit code 2, one line naming the culprit -------------------------------
def test_missing_corpus_file(run_cli, tmp_path):
    bad_input(
        run_cli("build", tmp_path / "nope.txt", "-o", tmp_path / "x.cooc", "-q"),
        "nope.txt",
    )
    bad_input(
        run_cli("vocab", tmp_path / "nope.txt", "-o", tmp_path / "v.tsv", "-q"),
        "nope.txt",
    )
    assert not (tmp_path / "x.cooc").exists()


@pytest.mark.parametrize("command", ["info", "export", "embed"])
def test_missing_cooc_file(run_cli, tmp_path, command):
    args = [command, tmp_path / "gone.cooc"] + (
        ["-o", tmp_path / "o.txt"] if command != "info" else []
    )
    bad_input(run_cli(*args), "gone.cooc")


def test_missing_output_folder(run_cli, tiny_corpus, tmp_path):
    bad_input(
        run_cli(
            "build",
            tiny_corpus,
            "-o",
            tmp_path / "no" / "x.cooc",
            "--min-count",
            "1",
            "-q",
        ),
        "does not exist",
    )


def test_rank_too_large(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "t.cooc"
    build(run_cli, tiny_corpus, out)
    bad_input(
        run_cli("embed", out, "-o", tmp_path / "v.txt", "--rank", "3", "-q"),
        "--rank",
        "3 words",
    )
    assert not (tmp_path / "v.txt").exists()


def test_unknown_word_in_similar(run_cli, toy_vectors):
    # One unknown word of several is named on stderr; the others are answered
    # (issue 13). All unknown: exit 2. More in tests/test_queries.py.
    r = ok(run_cli("similar", toy_vectors, "cat", "zebra"))
    assert r.stdout.startswith("cat: dog")
    assert "'zebra'" in r.stderr and str(toy_vectors) in r.stderr
    bad_input(run_cli("similar", toy_vectors, "zebra"), "'zebra'", str(toy_vectors))


def test_similar_needs_a_word(run_cli, toy_vectors):
    bad_input(run_cli("similar", toy_vectors), "WORDS")


def test_truncated_cooc_file(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "t.cooc"
    build(run_cli, tiny_corpus, out)
    cut = tmp_path / "cut.cooc"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size * 2 // 3])
    for command in (
        ["info", cut],
        ["export", cut, "-o", tmp_path / "p.tsv"],
        ["embed", cut, "-o", tmp_path / "v.txt", "--rank", "1", "-q"],
    ):
        bad_input(run_cli(*command), str(cut))
    assert not (tmp_path / "p.tsv").exists()


def test_flipped_bytes_in_cooc_file(run_cli, tiny_corpus, tmp_path):
    out = tmp_path / "t.cooc"
    build(run_cli, tiny_corpus, out)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for member in ("data.npy", "indices.npy", "tokens.npy"):
        info = infos[member]
        start = (
            info.header_offset
            + 30
            + int.from_bytes(
                raw[info.header_offset + 26 : info.header_offset + 28], "little"
            )
            + int.from_bytes(
                raw[info.header_offset + 28 : info.header_offset + 30], "little"
            )
        )
        flipped = bytearray(raw)
        for k in range(start + info.compress_size - 3, start + info.compress_size):
            flipped[k] ^= 0x5A
        path = tmp_path / f"flipped-{member}.cooc"
        path.write_bytes(bytes(flipped))
        line = bad_input(run_cli("info", path), str(path))
        assert "corrupt" in line


def test_memory_too_small(run_cli, tiny_corpus, tmp_path):
    bad_input(
        run_cli(
            "build",
            tiny_corpus,
            "-o",
            tmp_path / "x.cooc",
            "--min-count",
            "1",
            "--memory",
            "1K",
            "-q",
        ),
        "--memory",
    )
    bad_input(
        run_cli("build", tiny_corpus, "-o", tmp_path / "x.cooc", "--memory", "lots"),
        "--memory",
        "'lots'",
    )


def test_invalid_utf8_corpus(run_cli, tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("a b\ncaf\xe9 a\n".encode("latin-1"))
    line = bad_input(
        run_cli("build", corpus, "-o", tmp_path / "x.cooc", "--min-count", "1", "-q"),
        "latin1.txt",
        "line 2",
    )
    assert "--encoding-errors" in line
    bad_input(
        run_cli("vocab", corpus, "-o", tmp_path / "v.tsv", "-q"), "latin1.txt", "line 2"
    )


@pytest.mark.parametrize("window", ["0", "256", "-1", "two"])
def test_bad_window(run_cli, tiny_corpus, tmp_path, window):
    bad_input(
        run_cli("build", tiny_corpus, "-o", tmp_path / "x.cooc", "--window", window),
        "--window",
    )


def test_empty_vocabulary(run_cli, tiny_corpus, tmp_path):
    bad_input(
        run_cli("build", tiny_corpus, "-o", tmp_path / "x.cooc", "-q"), "min_count"
    )


def test_malformed_vocab_file(run_cli, tiny_corpus, tmp_path):
    vocab = tmp_path / "v.tsv"
    vocab.write_text("a\t2\nb two\n", encoding="utf-8")
    bad_input(
        run_cli(
            "build", tiny_corpus, "--vocab", vocab, "-o", tmp_path / "x.cooc", "-q"
        ),
        "v.tsv:2",
    )


def test_malformed_vectors_file(run_cli, tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text("2 2\ncat 1 0\ndog 1\n", encoding="utf-8")
    bad_input(run_cli("similar", vectors, "cat"), "v.txt:3")


def test_evaluate_needs_a_benchmark(run_cli, toy_vectors, tmp_path):
    bad_input(run_cli("evaluate", toy_vectors), "--similarity", "--analogy")
    sim = tmp_path / "sim.txt"
    sim.write_text("cat\tdog\n", encoding="utf-8")
    bad_input(run_cli("evaluate", toy_vectors, "--similarity", sim), "sim.txt:1")


def test_quantize_npz_writes_one_row_per_image(run_cli, tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "imgs.npz", images=images)
    out = tmp_path / "codes.tsv"
    r = ok(
        run_cli(
            "quantize",
            tmp_path / "imgs.npz",
            "-o",
            out,
            "--words",
            "4",
            "--patch-size",
            "8",
            "--step",
            "4",
            "--json",
            "-q",
        )
    )
    result = json.loads(r.stdout)
    frame = pd.read_csv(out, sep="\t")
    assert list(frame.columns) == ["image", "visual_words"]
    assert frame["image"].tolist() == [f"imgs.npz[{i}]" for i in range(30)]
    per_image = [len(v.split()) for v in frame["visual_words"]]
    assert per_image == [9] * 30  # a 3 x 3 grid of 8-pixel patches, step 4
    assert result["n_patches"] == 270 and result["n_images"] == 30
    tokens = {t for v in frame["visual_words"] for t in v.split()}
    assert tokens <= {"vw0", "vw1", "vw2", "vw3"}


def test_quantize_bad_archive_key(run_cli, tmp_path):
    np.savez(tmp_path / "imgs.npz", pictures=np.zeros((2, 8, 8), dtype=np.uint8))
    r = run_cli("quantize", tmp_path / "imgs.npz", "-o", tmp_path / "c.tsv")
    assert r.exit_code == 2
    assert "no array 'images'" in r.stderr and "--key" in r.stderr


@pytest.mark.parametrize("fusion", [(), ("--fusion", "late", "--rule", "stack")])
def test_fit_predict_round_trip(run_cli, tmp_path, fusion):
    import pandas as pd

    from cooc.datasets import make_topic_corpus

    docs, labels = make_topic_corpus(40, n_topics=2, random_state=0)
    rng = np.random.default_rng(0)
    # images carry the label too: bright for topic 1, dark for topic 0
    images = (
        rng.integers(0, 60, size=(40, 12, 12, 3)) + 150 * labels[:, None, None, None]
    )
    np.savez(tmp_path / "imgs.npz", images=images.astype(np.uint8))
    docs[3] = ""  # a missing text
    pd.DataFrame({"text": docs, "label": labels}).to_csv(
        tmp_path / "items.csv", index=False
    )
    model = tmp_path / "model.skops"
    r = ok(
        run_cli(
            "fit",
            tmp_path / "items.csv",
            "--label-column",
            "label",
            "--images",
            tmp_path / "imgs.npz",
            "--words",
            "4",
            "--cv",
            "2",
            *fusion,
            "-o",
            model,
            "--json",
            "-q",
        )
    )
    assert json.loads(r.stdout)["classes"] == ["0", "1"]
    r = ok(
        run_cli(
            "predict",
            model,
            tmp_path / "items.csv",
            "--images",
            tmp_path / "imgs.npz",
            "-o",
            tmp_path / "pred.csv",
            "--json",
            "-q",
        )
    )
    assert json.loads(r.stdout)["accuracy"] >= 0.9
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["prediction", "proba_0", "proba_1"]
    np.testing.assert_allclose(pred[["proba_0", "proba_1"]].sum(axis=1), 1.0, rtol=1e-9)


def test_fit_rejects_one_class_and_unknown_column(run_cli, tmp_path):
    import pandas as pd

    pd.DataFrame({"text": ["a b", "b c", "c d"], "label": ["x", "x", "x"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    r = run_cli(
        "fit",
        tmp_path / "t.csv",
        "--label-column",
        "label",
        "--image-column",
        "",
        "-o",
        tmp_path / "m.skops",
    )
    assert r.exit_code == 2 and "single class" in r.stderr
    r = run_cli(
        "fit",
        tmp_path / "t.csv",
        "--label-column",
        "category",
        "-o",
        tmp_path / "m.skops",
    )
    assert r.exit_code == 2 and "category" in r.stderr
    assert not (tmp_path / "m.skops").exists()


# -- the defaults chosen by benchmarks/sweep_embeddings.py ----------------------------
def test_build_and_embed_defaults_agree_with_the_library(run_cli, tmp_path):
    from cooc.checkpoint import build_cooccurrence_resumable
    from cooc.cooccurrence import (
        DEFAULT_DECAY,
        DEFAULT_WEIGHTING,
        DEFAULT_WINDOW,
        build_cooccurrence,
    )
    from cooc.distributed import build_cooccurrence_out_of_core
    from cooc.pipeline import DEFAULT_RANK, embed_cooccurrence

    docs, _ = make_topic_corpus(40, doc_length=20, random_state=2)
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(docs) + "\n", encoding="utf-8")
    out = tmp_path / "d.cooc"
    build(run_cli, corpus, out)
    assert DEFAULT_WINDOW == 15 and DEFAULT_RANK == 500
    meta = read_cooc_meta(out)
    library = build_cooccurrence([corpus], min_count=1)
    assert meta["params"] == library.params
    assert meta["params"]["window_size"] == DEFAULT_WINDOW
    assert (DEFAULT_WEIGHTING, DEFAULT_DECAY) == ("power", 1.25)
    assert meta["params"]["weighting"] == DEFAULT_WEIGHTING
    assert meta["params"]["decay"] == DEFAULT_DECAY
    assert (load_cooc(out).matrix != library.matrix).nnz == 0
    # the other file builders share these defaults
    resumable = build_cooccurrence_resumable(
        [corpus], tmp_path / "ck", n_shards=3, min_count=1
    )
    build_cooccurrence_out_of_core(
        [corpus], min_count=1, output=tmp_path / "o.cooc", memory=64 << 20
    )
    for other in (resumable, load_cooc(tmp_path / "o.cooc")):
        assert other.params == library.params
        assert (other.matrix != library.matrix).nnz == 0

    # no --rank: 500, or one less than the vocabulary when that is smaller
    vectors = tmp_path / "v.npz"
    r = ok(run_cli("embed", out, "-o", vectors, "--json", "-q"))
    n_words = library.shape[0]
    assert json.loads(r.stdout)["rank"] == min(DEFAULT_RANK, n_words - 1)
    emb, _ = embed_cooccurrence(library)
    assert emb.dim == min(DEFAULT_RANK, n_words - 1)
    np.testing.assert_allclose(
        np.abs(Embeddings.load(vectors).vectors), np.abs(emb.vectors), atol=1e-5
    )


def test_build_and_embed_json_report_the_time_of_each_stage(run_cli, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\nb c d e\nc d e a\n" * 20, encoding="utf-8")
    out, vec = tmp_path / "c.cooc", tmp_path / "v.npz"
    built = json.loads(
        ok(run_cli("build", corpus, "-o", out, "--min-count", "1", "--json")).stdout
    )
    assert list(built["stages"]) == [
        "start-up",
        "vocabulary",
        "counting",
        "merging",
        "writing",
    ]
    assert all(v >= 0 for v in built["stages"].values())
    # (each figure rounded to the millisecond)
    assert sum(built["stages"].values()) <= built["seconds"] + 0.005
    with_vocab = tmp_path / "vocab.tsv"
    ok(run_cli("vocab", corpus, "-o", with_vocab, "--min-count", "1"))
    again = json.loads(
        ok(run_cli("build", corpus, "-o", out, "--vocab", with_vocab, "--json")).stdout
    )
    assert list(again["stages"]) == ["start-up", "counting", "merging", "writing"]
    embedded = json.loads(
        ok(run_cli("embed", out, "-o", vec, "--rank", "2", "--json", "-q")).stdout
    )
    assert list(embedded["stages"]) == ["reading", "ppmi", "svd", "writing"]


def test_a_cluster_that_keeps_losing_workers_is_one_line_exit_1(monkeypatch):
    import click
    from click.testing import CliRunner

    from cooc.cli import _errors
    from cooc.distributed import ClusterLost

    @click.command()
    @_errors
    def flaky():
        raise ClusterLost("the Dask SVD lost workers 4 times in a row; giving up")

    @click.command()
    @_errors
    def buggy():
        raise RuntimeError("a bug")

    lost = CliRunner().invoke(flaky, [])
    assert lost.exit_code == 1
    assert lost.output.strip().splitlines() == [
        "Error: dask: the Dask SVD lost workers 4 times in a row; giving up"
    ]
    # a bug is no lost cluster: exit 1 saying so, its traceback under COOC_DEBUG
    monkeypatch.delenv("COOC_DEBUG", raising=False)
    bug = CliRunner().invoke(buggy, [])
    assert bug.exit_code == 1 and "internal error (RuntimeError: a bug)" in bug.output
    monkeypatch.setenv("COOC_DEBUG", "1")
    bug = CliRunner().invoke(buggy, [])
    assert isinstance(bug.exception, RuntimeError)
