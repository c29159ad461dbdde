"""``cooc import`` / :func:`cooc.pairs.import_pairs`: pairs tables back into
``.cooc`` files, exactly the inverse of ``cooc export``."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from cooc.cooccurrence import build_cooccurrence, merge
from cooc.io import export_pairs, load_cooc
from cooc.pairs import import_pairs

NAMES = ["pairs.tsv", "pairs.csv", "pairs.csv.gz", "pairs.tsv.xz", "pairs.parquet"]


def write_corpus(path, rng, n_docs=400, n_words=150):
    """Every line holds at least two tokens, so every word has a pair."""
    words = np.array([f"w{i}" for i in range(n_words)] + ["nan", "null", '"q"'])
    lines = [" ".join(rng.choice(words, rng.integers(2, 12))) for _ in range(n_docs)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(
        tmp_path_factory.mktemp("c") / "c.txt", np.random.default_rng(4)
    )


def same_matrix(a, b):
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert a.data.dtype == b.data.dtype == np.float64
    assert np.array_equal(a.data.view(np.int64), b.data.view(np.int64))  # same bits


@pytest.mark.parametrize(
    "params",
    [
        dict(window_size=5),
        dict(window_size=4, symmetric=False),
        dict(window_size=6, weighting="harmonic", dynamic_window=True, random_state=2),
    ],
    ids=["symmetric", "directional", "harmonic-dynamic"],
)
@pytest.mark.parametrize("name", NAMES)
def test_export_then_import_round_trips_exactly(corpus, tmp_path, params, name):
    # (whitespace tokens: words such as "nan", "null" and '"q"' must stay words)
    m = build_cooccurrence(corpus, min_count=1, tokenizer="whitespace", **params)
    m.save(tmp_path / "m.cooc")
    original = load_cooc(tmp_path / "m.cooc")
    out = tmp_path / name
    export_pairs(tmp_path / "m.cooc", out, block_entries=97)
    back = import_pairs(out, block_rows=101)
    same_matrix(original.matrix, back.matrix)
    assert back.vocabulary.tokens == original.vocabulary.tokens
    assert back.vocabulary.counts.tolist() == [0] * len(back.vocabulary)
    assert back.symmetric == original.symmetric
    expected = {"source": "import", "symmetric": original.symmetric}
    if original.symmetric:  # square: whether every pair is there both ways
        M = original.matrix
        expected["symmetric_counts"] = bool((M != M.T).nnz == 0)
        assert expected["symmetric_counts"] == ("dynamic_window" not in params)
    assert back.params == expected
    assert back.stats == {
        "vocabulary_size": len(back.vocabulary),
        "sources": [str(out)],
    }
    # Saved and read back as a .cooc: the same arrays again.
    back.save(tmp_path / "back.cooc")
    same_matrix(original.matrix, load_cooc(tmp_path / "back.cooc").matrix)


def test_words_without_pairs_are_not_in_the_export(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b a\nlonely\nb c\n")
    m = build_cooccurrence(path, min_count=1, window_size=2)
    assert "lonely" in m.vocabulary
    export_pairs(m, tmp_path / "p.tsv")
    back = import_pairs(tmp_path / "p.tsv")
    keep = [m.vocabulary.id_of(t) for t in back.vocabulary.tokens]
    assert "lonely" not in back.vocabulary
    assert (back.matrix != m.matrix[keep][:, keep]).nnz == 0


def test_vocabulary_order_and_words_met_only_as_contexts(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "word1,word2,value,note\n"
        "b,x,1.5,ignored\n"
        "a,b,2,\n"
        "b,a,2,\n"
        "a,y,0,zero values are left out\n"
        "c,x,1e-3,\n"
    )
    back = import_pairs(path)
    assert back.vocabulary.tokens == ["b", "a", "c", "x", "y"]
    assert back.shape == (5, 5)
    dense = back.matrix.toarray()
    assert dense[0, 3] == 1.5 and dense[1, 0] == 2 and dense[2, 3] == 1e-3
    assert back.nnz == 4  # the 0 is not stored


def test_directional_detection(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("word1\tword2\tvalue\na\tR:b\t1\nb\tL:a\t1\nb\tR:c\t2\n")
    back = import_pairs(path)
    assert back.shape == (3, 6) and not back.symmetric
    assert back.context_names()[3:] == ["R:a", "R:b", "R:c"]
    assert back.to_frame().values.tolist() == [
        ["a", "R:b", 1.0],
        ["b", "L:a", 1.0],
        ["b", "R:c", 2.0],
    ]
    # Words that themselves look like contexts: symmetric (contexts are words).
    path.write_text("word1\tword2\tvalue\nL:a\tR:b\t1\nR:b\tL:a\t1\n")
    back = import_pairs(path)
    assert back.shape == (2, 2) and back.vocabulary.tokens == ["L:a", "R:b"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", r"the file is empty"),
        ("word1,word2,value\n", r"the table has no rows"),
        ("w1,word2,value\na,b,1\n", r"no column 'word1'.*found \['w1'"),
        ("word1,word2\na,b\n", r"no column 'value'"),
        ("word1,word2,value\na,b,1\nb,a,x\n", r"row 2 has the value 'x', not a number"),
        ("word1,word2,value\na,b,\n", r"row 1 has the value '', not a number"),
        ("word1,word2,value\na,b,-1\n", r"row 1 has the value -1.0; values must"),
        ("word1,word2,value\na,b,nan\n", r"row 1 has the value nan"),
        ("word1,word2,value\na,b,inf\n", r"row 1 has the value inf"),
        ("word1,word2,value\na,b,1\nc,d,2\na,b,3\n", r"\('a', 'b'\) is given twice "
         r"\(rows 1 and 3\); sum such rows first"),
        ('word1,word2,value\n"a\nb",c,1\n', r"row 1 has a word1 with a line break"),
    ],
)  # fmt: skip
def test_bad_tables_are_one_line_errors_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{tmp_path}/bad\.csv: .*{match}") as err:
        import_pairs(path)
    assert "\n" not in str(err.value)


def test_other_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"cannot tell the format from the name"):
        import_pairs(tmp_path / "pairs.txt")
    with pytest.raises(ValueError, match=r"no such file"):
        import_pairs(tmp_path / "missing.tsv")
    cut = tmp_path / "cut.tsv.gz"
    cut.write_bytes(gzip.compress(b"word1\tword2\tvalue\n" + b"a\tb\t1\n" * 1000)[:60])
    with pytest.raises(ValueError, match=r"cut\.tsv\.gz: cannot read the file"):
        import_pairs(cut)
    latin = tmp_path / "latin.tsv"
    latin.write_bytes(b"word1\tword2\tvalue\ncaf\xe9\tb\t1\n")
    with pytest.raises(ValueError, match=r"latin\.tsv: not valid UTF-8"):
        import_pairs(latin)


def test_parquet_checks(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"word1": ["a"], "word2": ["b"], "value": [True]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'value' has type bool, not numbers"):
        import_pairs(path)
    pd.DataFrame({"word1": [1], "word2": ["b"], "value": [1.0]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'word1' has type int64, not text"):
        import_pairs(path)
    pd.DataFrame(
        {"word1": ["a", None], "word2": ["b", "a"], "value": [1.0, 2.0]}
    ).to_parquet(path)
    with pytest.raises(ValueError, match=r"row 2 has no word1"):
        import_pairs(path)
    pd.DataFrame(
        {"word1": ["a", "b"], "word2": ["b", "a"], "value": [1.0, None]}
    ).to_parquet(path)
    with pytest.raises(ValueError, match=r"row 2 has the value nan"):
        import_pairs(path)
    pd.DataFrame({"word1": ["a"], "word2": ["b"], "count": [3]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"no column 'value'"):
        import_pairs(path)
    pd.DataFrame(
        {"word1": ["a", "b"], "word2": ["b", "a"], "value": [3, 4]}
    ).to_parquet(path)
    assert import_pairs(path).matrix.toarray().tolist() == [[0, 3], [4, 0]]


def test_imported_matrices_are_not_merged(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("word1\tword2\tvalue\na\tb\t0.5\nb\ta\t0.5\n")
    back = import_pairs(path)
    with pytest.raises(ValueError, match=r"cannot merge imported matrices"):
        merge([back, back])


def test_cli_export_import_embed(run_cli, corpus, tmp_path):
    m = tmp_path / "m.cooc"
    assert run_cli("build", corpus, "-o", m, "--min-count", 1, "-q").exit_code == 0
    pairs = tmp_path / "pairs.tsv.gz"
    assert run_cli("export", m, "-o", pairs, "-q").exit_code == 0
    again = tmp_path / "again.cooc"
    r = run_cli("import", pairs, "-o", again, "--json", "-q")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    original = load_cooc(m)
    assert result["shape"] == list(original.shape)
    assert result["nnz"] == original.nnz and result["directional"] is False
    same_matrix(original.matrix, load_cooc(again).matrix)
    assert load_cooc(again).vocabulary.tokens == original.vocabulary.tokens
    r = run_cli("info", again, "--json")
    assert json.loads(r.output)["params"]["source"] == "import"
    vectors = tmp_path / "v.txt"
    r = run_cli("embed", again, "-o", vectors, "--rank", 8, "-q")
    assert r.exit_code == 0, r.output
    reference = tmp_path / "ref.txt"
    assert run_cli("embed", m, "-o", reference, "--rank", 8, "-q").exit_code == 0
    assert vectors.read_bytes() == reference.read_bytes()  # same matrix, same vectors
    r = run_cli("embed", again, "-o", vectors, "--rank", 8, "--streaming", "-q")
    assert r.exit_code == 0, r.output

    r = run_cli("import", "--help")
    assert "Example:" in r.output and "cooc import" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("word1,word2,value\na,b,-2\n")
    r = run_cli("import", bad, "-o", tmp_path / "x.cooc", "-q")
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"Error: {bad}: row 1 has the value -2.0; values must be finite numbers >= 0."
    ]
    assert not (tmp_path / "x.cooc").exists()


def test_asymmetric_pairs_are_recorded_and_kept_whole(run_cli, tmp_path):
    # a -> b -> c -> a plus a diagonal: square, asymmetric, yet every row sum
    # equals its column sum (so the marginals cannot tell)
    pairs = tmp_path / "cycle.tsv"
    pairs.write_text(
        "word1\tword2\tvalue\na\tb\t2\nb\tc\t2\nc\ta\t2\n"
        "a\ta\t1\nb\tb\t3\nc\tc\t5\n"
    )
    m = tmp_path / "cycle.cooc"
    assert run_cli("import", pairs, "-o", m, "-q").exit_code == 0
    assert load_cooc(m).params["symmetric_counts"] is False
    from cooc.streaming import CoocFile

    with CoocFile(m) as cf:
        assert cf.symmetric_counts is False
    # --upper would drop c -> a: refused in one line, nothing written
    out = tmp_path / "upper.tsv"
    r = run_cli("export", m, "--upper", "-o", out)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "not all given both ways" in r.stderr and not out.exists()
    # the streamed embedding is the in-memory one
    for flags, name in (((), "mem.npz"), (("--streaming",), "str.npz")):
        r = run_cli("embed", m, "--rank", 2, "--weighting", "none", *flags,
                    "-o", tmp_path / name, "-q")  # fmt: skip
        assert r.exit_code == 0, r.output
    a, b = np.load(tmp_path / "mem.npz"), np.load(tmp_path / "str.npz")
    s = np.linalg.svd(np.array([[1, 2, 0], [0, 3, 2], [2, 0, 5.0]]))[1]
    np.testing.assert_allclose(a["singular_values"], s[:2], rtol=1e-5)
    np.testing.assert_allclose(b["singular_values"], s[:2], rtol=1e-5)
    # the same pairs given both ways: symmetric, --upper works
    sym = tmp_path / "sym.tsv"
    sym.write_text("word1\tword2\tvalue\na\tb\t2\nb\ta\t2\nc\tc\t1\n")
    assert run_cli("import", sym, "-o", m, "-q").exit_code == 0
    assert load_cooc(m).params["symmetric_counts"] is True
    assert run_cli("export", m, "--upper", "-o", out, "-q").exit_code == 0
    assert out.read_text().splitlines()[1:] == ["a\tb\t2.0", "c\tc\t1.0"]
