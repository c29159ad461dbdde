"""Words that co-occur with nothing get no vector (issue: all-zero vectors used
to reach the vectors file, and `cooc similar` ranked neighbours at cosine 0)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cooc.cooccurrence import build_cooccurrence
from cooc.io import save_cooc
from cooc.pipeline import embed_cooccurrence
from cooc.streaming import embed_cooc_file
from cooc.svd import Embeddings

LONERS = ("alone", "solo")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Topic lines, and two words that only ever stand alone on a line."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, size=8)) for _ in range(300)]
    lines += [LONERS[i % 2] for i in range(20)]
    rng.shuffle(lines)
    folder = tmp_path_factory.mktemp("empty")
    path = folder / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    cooc = build_cooccurrence([path], min_count=1, window_size=3)
    cooc_path = folder / "c.cooc"
    save_cooc(cooc, cooc_path)
    return path, cooc_path, cooc


def test_loners_are_in_the_vocabulary_with_empty_rows(corpus):
    _, _, cooc = corpus
    tokens = list(cooc.vocabulary.tokens)
    for word in LONERS:
        i = tokens.index(word)
        assert cooc.matrix[i].nnz == 0 and cooc.matrix[:, i].nnz == 0


@pytest.mark.parametrize("add_context", [True, False])
def test_in_memory_embedding_leaves_them_out(corpus, add_context):
    _, _, cooc = corpus
    emb, _ = embed_cooccurrence(cooc, 8, add_context=add_context)
    assert sorted(emb.dropped) == sorted(LONERS)
    assert len(emb) == cooc.shape[0] - 2
    assert not any(w in emb for w in LONERS)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, rtol=1e-5)
    kept, _ = embed_cooccurrence(cooc, 8, add_context=add_context, drop_empty=False)
    assert kept.dropped == [] and len(kept) == cooc.shape[0]
    zero = ~np.any(kept.vectors != 0, axis=1)
    assert sorted(np.array(kept.tokens)[zero]) == sorted(LONERS)
    # the other words' vectors are the same either way
    np.testing.assert_array_equal(emb.vectors, kept.vectors[~zero])


def test_streamed_embedding_leaves_them_out(corpus, tmp_path):
    _, cooc_path, cooc = corpus
    want, _ = embed_cooccurrence(cooc, 8)
    res = embed_cooc_file(cooc_path, None, 8)
    assert sorted(res.dropped) == sorted(LONERS)
    assert res.embeddings.tokens == want.tokens
    np.testing.assert_allclose(res.embeddings.vectors, want.vectors, atol=2e-3)
    for suffix in (".txt", ".bin", ".npz"):
        out = tmp_path / f"v{suffix}"
        embed_cooc_file(cooc_path, out, 8)
        back = Embeddings.load(out)
        assert back.tokens == want.tokens
        np.testing.assert_allclose(back.vectors, res.embeddings.vectors, atol=1e-6)


@pytest.mark.parametrize("streaming", [False, True])
def test_cli_reports_the_count_and_writes_no_zero_vector(
    run_cli, corpus, tmp_path, streaming
):
    _, cooc_path, cooc = corpus
    out = tmp_path / "v.txt"
    args = ["embed", cooc_path, "--rank", 8, "-o", out, "--json"]
    r = run_cli(*args, *(["--streaming"] if streaming else []))
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["dropped_words"] == 2
    assert report["n_words"] == cooc.shape[0] - 2
    assert "left out 2 word(s) that co-occur with nothing" in r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == f"{cooc.shape[0] - 2} 8"
    assert not any(line.split()[0] in LONERS for line in lines[1:])
    r = run_cli("similar", out, "alone")
    assert r.exit_code == 2
