"""Messages that sent a new user the wrong way, and progress lines."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cooc.cli import Progress, _amount
from cooc.cooccurrence import cooccurrence_matrix
from cooc.svd import Embeddings, svd_embed

DOCS = [["a", "b", "c", "a"], ["b", "c", "d"], ["a", "d", "b"]] * 20


@pytest.fixture
def cooc_file(tmp_path):
    path = tmp_path / "m.cooc"
    cooccurrence_matrix(DOCS, window_size=2).save(path)
    return path


def test_embed_of_a_table_takes_build_reading_options(run_cli, tmp_path):
    table = tmp_path / "t.csv"
    rows = ["body,label"] + [f'"{" ".join(d)}",x' for d in DOCS]
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "v.txt"
    r = run_cli("embed", table, "--column", "body", "--min-count", 1, "--rank", 2,
                "-o", out, "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_words"] == 4
    # and the wrong column is named
    r = run_cli("embed", table, "--column", "nope", "--min-count", 1, "-o", out)
    assert r.exit_code == 2 and "nope" in r.output


def test_embed_reading_options_on_a_cooc_file_are_refused(run_cli, cooc_file, tmp_path):
    r = run_cli("embed", cooc_file, "--column", "text", "-o", tmp_path / "v.txt")
    assert r.exit_code == 2
    assert "--column applies to corpus inputs" in r.output


def test_similar_on_a_cooc_file_says_to_embed_first(run_cli, cooc_file):
    r = run_cli("similar", cooc_file, "a")
    assert r.exit_code == 2
    assert "is a .cooc matrix, not word vectors: run cooc embed" in r.output
    assert "UTF-8" not in r.output


@pytest.mark.parametrize("name", ["v.txt", "v.bin.gz", "v.npz"])
def test_info_reads_vectors_files(run_cli, tmp_path, name):
    emb = Embeddings(["x", "y", "z"], np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))
    emb.save(tmp_path / name)
    r = run_cli("info", tmp_path / name, "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert (got["n_words"], got["dim"], got["zero_vectors"]) == (3, 2, 0)
    assert got["norm_max"] == pytest.approx(5.0)
    assert got["top_words"] == ["x", "y", "z"]
    assert "pickle" not in r.output


def test_info_on_neither_says_so_in_one_line(run_cli, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello world\nthis is not a vectors file\n")
    r = run_cli("info", junk)
    assert r.exit_code == 2
    assert "neither a .cooc matrix nor a vectors file" in r.output
    assert "pickle" not in r.output


# -- progress ---------------------------------------------------------------------------
def test_first_report_is_timed_from_the_end_of_the_previous_stage(monkeypatch, capsys):
    clock = iter([100.0, 110.0, 110.0, 112.0, 112.0, 112.0])
    monkeypatch.setattr("cooc.cli.time.perf_counter", lambda: next(clock))
    p = Progress(quiet=False)  # made at t = 100
    p("vocabulary", 5_000_000)  # one report, after the whole pass, at t = 110
    p.done()  # t = 112
    assert p.stages["vocabulary"] == pytest.approx(12.0)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "5.00M tokens in 12.0 s (416.7k tokens/s)" in line


def test_rates_below_ten_keep_their_decimals():
    assert _amount(0.25) == "0.25"
    assert _amount(3) == "3"
    assert _amount(12_345) == "12.3k"


def test_solver_steps_are_reported():
    rng = np.random.default_rng(0)
    X = rng.random((60, 50))
    calls = []
    svd_embed(X, 5, n_iter=3, on_step=lambda: calls.append(1))
    assert len(calls) == 3 + 2
    svd_embed(X, 5, solver="arpack", on_step=lambda: calls.append(1))
    assert len(calls) == 5


def test_cli_embed_shows_the_solver_steps(run_cli, cooc_file, tmp_path):
    r = run_cli(
        "embed", cooc_file, "--rank", 2, "-o", tmp_path / "v.txt", "--n-iter", 2
    )
    assert r.exit_code == 0, r.output
    assert re.search(r"svd: 4 of 4 solver steps in [\d.]+ s", r.stderr)


# -- the demo -----------------------------------------------------------------------------
def test_demo_prints_the_text_results_before_the_image_part(run_cli, monkeypatch):
    import sys

    import cooc.demo

    seen = {}

    def fake_text(**kwargs):
        return {"n_tokens": 1, "_table": "TEXT TABLE"}

    def fake_images(*, n_splits, random_state, progress):
        sys.stdout.flush()
        seen["stdout"] = sys.stdout.buffer.getvalue().decode()
        seen["n_splits"] = n_splits
        return {"n_items": 0, "_table": "IMAGE TABLE"}

    monkeypatch.setattr(cooc.demo, "run_demo", fake_text)
    monkeypatch.setattr(cooc.demo, "run_multimodal_demo", fake_images)
    r = run_cli("demo", "-q")
    assert r.exit_code == 0, r.output
    assert "TEXT TABLE" in seen["stdout"] and "IMAGE TABLE" not in seen["stdout"]
    assert seen["n_splits"] == 1  # one hold-out split unless --full
    assert r.stdout.index("TEXT TABLE") < r.stdout.index("IMAGE TABLE")
    run_cli("demo", "-q", "--full")
    assert seen["n_splits"] == 5
    run_cli("demo", "-q", "--folds", "3")
    assert seen["n_splits"] == 3


def test_info_shows_what_it_takes_to_redo_the_build(run_cli, tmp_path):
    import cooc

    corpus = tmp_path / "c.txt"
    corpus.write_text("The cat sat\n\nthe dog sat\n")
    out = tmp_path / "c.cooc"
    r = run_cli("build", corpus, "-o", out, "--min-count", 1, "--max-size", 50,
                "--tokenizer", "whitespace", "--no-lowercase",
                "--documents", "paragraph", "-q")  # fmt: skip
    assert r.exit_code == 0, r.output
    got = json.loads(run_cli("info", out, "--json").stdout)
    assert got["cooc_version"] == cooc.__version__
    params = got["params"]
    assert params["reading"] == {
        "tokenizer": "whitespace",
        "lowercase": False,
        "column": None,
        "encoding_errors": "strict",
    }
    assert params["vocabulary"] == {"source": "counted", "min_count": 1, "max_size": 50}
    assert params["documents"] == "paragraph"
    table = run_cli("info", out).stdout
    assert "tokenizer=whitespace, lowercase=False" in table
    assert "min_count=1, max_size=50" in table
    assert f"cooc {cooc.__version__}" in table


def test_an_empty_vocabulary_is_a_typed_error(tmp_path):
    from cooc.cooccurrence import build_cooccurrence
    from cooc.vocab import EmptyCorpusError, build_vocabulary

    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(EmptyCorpusError, match=r"empty.txt hold\(s\) no tokens"):
        build_cooccurrence([empty])
    with pytest.raises(EmptyCorpusError, match=r"after min_count=9: .* 2 distinct"):
        build_vocabulary([["a", "b", "a"]], min_count=9)
    with pytest.raises(EmptyCorpusError, match=r"the corpus has no tokens"):
        build_vocabulary([[]])
    assert issubclass(EmptyCorpusError, ValueError)
