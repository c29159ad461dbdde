"""Tests for cooc.evaluate: similarity and analogy benchmarks."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from scipy.stats import spearmanr

import cooc.evaluate as evaluate_module
from cooc.evaluate import (
    evaluate_all,
    evaluate_analogies,
    evaluate_similarity,
    load_analogies,
    load_similarity,
)
from cooc.svd import Embeddings

SHARED_SIMILARITY = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "similarity"
)


# -------------------------------------------------------------- similarity


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_similarity(tmp_path):
    path = write(
        tmp_path / "sim.txt",
        "# header\n# more\nTiger\tCat\t7.35\n\nbook\tpaper 2\t1e1\nsun moon 3\n",
    )
    pairs = load_similarity(path)
    assert list(pairs.columns) == ["word1", "word2", "score"]
    assert pairs["word1"].tolist() == ["tiger", "book", "sun"]
    assert pairs["word2"].tolist() == ["cat", "paper 2", "moon"]
    assert pairs["score"].tolist() == [7.35, 10.0, 3.0]
    assert pairs["score"].dtype == np.float64


@pytest.mark.parametrize(
    "line, match",
    [
        ("tiger\tcat\n", "expected 'word1<TAB>word2<TAB>score'"),
        ("tiger\tcat\thigh\n", "could not convert"),
        ("tiger\tcat\t1\t2\n", "expected"),
        ("tiger\tcat\tnan\n", "not finite"),
    ],
)
def test_load_similarity_bad_line(tmp_path, line, match):
    path = write(tmp_path / "sim.txt", "# c\nsun\tmoon\t3\n" + line)
    with pytest.raises(ValueError, match=f"{path}:3: .*{match}"):
        load_similarity(path)


@pytest.fixture
def sim_embeddings():
    rng = np.random.default_rng(0)
    tokens = ["cat", "dog", "car", "bus", "Paris", "paris", "tree", "zero"]
    vectors = rng.standard_normal((len(tokens), 6))
    vectors[-1] = 0
    return Embeddings(tokens, vectors)


def cosine(u, v):
    n = np.linalg.norm(u) * np.linalg.norm(v)
    return float(u @ v / n) if n else 0.0


def test_evaluate_similarity_against_scipy(sim_embeddings):
    pairs = pd.DataFrame(
        {
            "word1": [
                "cat",
                "cat",
                "car",
                "dog",
                "tree",
                "cat",
                "unicorn",
                "paris",
                "zero",
            ],
            "word2": ["dog", "car", "bus", "tree", "bus", "bus", "cat", "tree", "cat"],
            "score": [9.0, 2.0, 8.0, 1.5, 1.0, 3.0, 4.0, 5.0, 0.5],
        }
    )
    result = evaluate_similarity(sim_embeddings, pairs)
    # Lower-cased lookup; of "Paris" and "paris" the first (more frequent) row wins.
    vec = {}
    for t, v in zip(
        sim_embeddings.tokens, sim_embeddings.vectors.astype(np.float64), strict=True
    ):
        vec.setdefault(t.lower(), v)
    covered = [
        w1 in vec and w2 in vec for w1, w2 in zip(pairs.word1, pairs.word2, strict=True)
    ]
    cos = [
        cosine(vec[a], vec[b]) if c else 0.0
        for a, b, c in zip(pairs.word1, pairs.word2, covered, strict=True)
    ]
    cov = np.array(covered)
    assert result["n_pairs"] == 9 and result["n_covered"] == 8
    assert result["coverage"] == 8 / 9
    expected = spearmanr(pairs.score[cov], np.array(cos)[cov]).statistic
    assert result["spearman"] == pytest.approx(expected, abs=1e-6)
    assert result["spearman_oov_zero"] == pytest.approx(
        spearmanr(pairs.score, cos).statistic, abs=1e-6
    )


def test_evaluate_similarity_case_and_path(sim_embeddings, tmp_path):
    # Upper-case rows are found through the lower-cased words; the first
    # (most frequent) case variant wins.
    emb = Embeddings(["Paris", "France", "paris"], [[1, 0], [1, 0.1], [0, 1]])
    path = write(
        tmp_path / "s.txt", "paris\tfrance\t9\nparis\tlondon\t5\nfrance\tparis\t8\n"
    )
    result = evaluate_similarity(emb, path)
    assert result["n_covered"] == 2 and result["coverage"] == 2 / 3


def test_evaluate_similarity_degenerate(sim_embeddings):
    none = pd.DataFrame({"word1": ["x"], "word2": ["y"], "score": [1.0]})
    result = evaluate_similarity(sim_embeddings, none)
    assert result["n_covered"] == 0 and result["coverage"] == 0
    assert math.isnan(result["spearman"])
    empty = evaluate_similarity(sim_embeddings, none.iloc[:0])
    assert empty["n_pairs"] == 0 and math.isnan(empty["coverage"])
    with pytest.raises(ValueError, match="score"):
        evaluate_similarity(sim_embeddings, none.drop(columns="score"))


# ---------------------------------------------------------------- analogies


def test_load_analogies(tmp_path):
    path = write(
        tmp_path / "q.txt",
        "Man King Woman Queen\n: capital-common\nAthens Greece Baghdad Iraq\n"
        "\n: family\nboy girl brother sister\n",
    )
    q = load_analogies(path)
    assert list(q.columns) == ["section", "a", "b", "c", "d"]
    assert q.values.tolist() == [
        ["default", "man", "king", "woman", "queen"],
        ["capital-common", "athens", "greece", "baghdad", "iraq"],
        ["family", "boy", "girl", "brother", "sister"],
    ]
    write(path, ": s\na b c\n")
    with pytest.raises(ValueError, match=f"{path}:2: expected four words"):
        load_analogies(path)


def royal_embeddings():
    """king = royal + male, queen = royal + female, ... built by hand."""
    royal, male, female, person, fruit = np.eye(5)
    words = {
        "man": person + male,
        "woman": person + female,
        "king": royal + male + 0.5 * person,
        "queen": royal + female + 0.5 * person,
        "prince": royal + 0.6 * male,
        "apple": fruit,
        "boy": 0.8 * person + male + 0.3 * fruit,
        "girl": 0.8 * person + female + 0.3 * fruit,
    }
    return Embeddings(list(words), np.array(list(words.values())))


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_king_queen(method):
    emb = royal_embeddings()
    q = pd.DataFrame(
        [
            ("royal", "man", "king", "woman", "queen"),
            ("royal", "woman", "queen", "man", "king"),
            ("youth", "man", "boy", "woman", "girl"),
            ("youth", "man", "boy", "woman", "apple"),  # wrong gold answer
            ("youth", "man", "boy", "woman", "unicorn"),  # not covered
        ],
        columns=["section", "a", "b", "c", "d"],
    )
    result = evaluate_analogies(emb, q, method=method)
    assert result["n_questions"] == 5 and result["n_covered"] == 4
    assert result["coverage"] == 0.8
    assert result["n_correct"] == 3 and result["accuracy"] == 0.75
    assert result["per_section"] == {"royal": 1.0, "youth": 0.5}


def test_analogy_excludes_question_words():
    # b - a + c is closest to b itself here; b must not be the answer.
    emb = Embeddings(
        ["a", "b", "c", "d"], [[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0.1], [0, 0.2, 1]]
    )
    q = pd.DataFrame(
        [("s", "a", "b", "c", "d")], columns=["section", "a", "b", "c", "d"]
    )
    assert evaluate_analogies(emb, q)["accuracy"] == 1.0


def test_analogy_restrict_vocab():
    emb = royal_embeddings()
    # A near-copy of queen past the first 8 rows would win if it were a candidate.
    rows = np.vstack([emb.vectors, emb["queen"] + 0.01 * emb["woman"]])
    wide = Embeddings([*emb.tokens, "queenly"], rows)
    q = pd.DataFrame(
        [
            ("r", "man", "king", "woman", "queen"),
            ("r", "man", "king", "woman", "queenly"),
        ],
        columns=["section", "a", "b", "c", "d"],
    )
    restricted = evaluate_analogies(wide, q, restrict_vocab=8)
    assert restricted["n_covered"] == 1 and restricted["accuracy"] == 1.0
    everything = evaluate_analogies(wide, q, restrict_vocab=None)
    assert everything["n_covered"] == 2 and everything["n_correct"] == 1
    assert evaluate_analogies(wide, q, restrict_vocab=3)["n_covered"] == 0
    assert math.isnan(evaluate_analogies(wide, q, restrict_vocab=3)["accuracy"])


def reference_analogy(unit, a, b, c, method):
    """Per-question loop over the vocabulary, straight from the definitions."""
    best, best_score = -1, -np.inf
    for x in range(len(unit)):
        if x in (a, b, c):
            continue
        ca, cb, cc = (float(unit[x] @ unit[i]) for i in (a, b, c))
        if method == "3cosadd":
            score = cb - ca + cc
        else:
            score = ((cb + 1) / 2) * ((cc + 1) / 2) / ((ca + 1) / 2 + 1e-3)
        if score > best_score:
            best, best_score = x, score
    return best


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_matches_reference_loop(method, monkeypatch):
    rng = np.random.default_rng(3)
    tokens = [f"w{i}" for i in range(60)]
    emb = Embeddings(tokens, rng.standard_normal((60, 8)))
    idx = rng.choice(50, size=(40, 4))
    unit = emb.normalized().vectors.astype(np.float64)
    # Gold answer = the reference prediction for half the questions.
    gold = [
        reference_analogy(unit[:50], a, b, c, method) if i % 2 else d
        for i, (a, b, c, d) in enumerate(idx)
    ]
    q = pd.DataFrame(
        [
            ("s", tokens[a], tokens[b], tokens[c], tokens[g])
            for (a, b, c, _), g in zip(idx, gold, strict=True)
        ],
        columns=["section", "a", "b", "c", "d"],
    )
    expected = sum(
        reference_analogy(unit[:50], a, b, c, method) == g
        for (a, b, c, _), g in zip(idx, gold, strict=True)
    )
    result = evaluate_analogies(emb, q, restrict_vocab=50, method=method)
    assert result["n_covered"] == 40 and result["n_correct"] == expected >= 20
    monkeypatch.setattr(
        evaluate_module, "_BATCH_VALUES", 7 * 50
    )  # several batches of 7
    assert evaluate_analogies(emb, q, restrict_vocab=50, method=method) == result


def test_analogy_parameter_errors():
    emb = royal_embeddings()
    q = pd.DataFrame(
        [("r", "man", "king", "woman", "queen")],
        columns=["section", "a", "b", "c", "d"],
    )
    with pytest.raises(ValueError, match="method='cosine'"):
        evaluate_analogies(emb, q, method="cosine")
    with pytest.raises(ValueError, match="restrict_vocab=0"):
        evaluate_analogies(emb, q, restrict_vocab=0)
    with pytest.raises(ValueError, match="column"):
        evaluate_analogies(emb, q.drop(columns="d"))


# ------------------------------------------------------------ evaluate_all


def test_evaluate_all(tmp_path):
    emb = royal_embeddings()
    write(
        tmp_path / "sim.txt",
        "# c\nking\tqueen\t8\nman\twoman\t7\napple\tking\t1\nboy\tunicorn\t3\n",
    )
    write(
        tmp_path / "analogies.txt",
        ": royal\nman king woman queen\nwoman queen man king\n",
    )
    table = evaluate_all(emb, [tmp_path / "sim.txt", tmp_path / "analogies.txt"])
    assert list(table.columns) == [
        "dataset",
        "task",
        "metric",
        "score",
        "coverage",
        "n_items",
        "n_covered",
        "spearman_oov_zero",
        "path",
    ]
    assert table["dataset"].tolist() == ["sim", "analogies"]
    assert table["task"].tolist() == ["similarity", "analogy"]
    assert table["n_items"].tolist() == [4, 2]
    assert table["coverage"].tolist() == [0.75, 1.0]
    assert table["score"].iloc[1] == 1.0
    sim = evaluate_similarity(emb, load_similarity(tmp_path / "sim.txt"))
    assert table["score"].iloc[0] == sim["spearman"]
    by_folder = evaluate_all(emb, tmp_path)  # a folder means its *.txt files, sorted
    assert by_folder["dataset"].tolist() == ["analogies", "sim"]


# ------------------------------------------------------- real benchmark files


@pytest.fixture
def shared_similarity():
    if not SHARED_SIMILARITY.is_dir():
        pytest.skip(f"{SHARED_SIMILARITY} is absent")
    return SHARED_SIMILARITY


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, n_pairs", [("wordsim353", 353), ("simlex999", 999), ("men_dataset", 3000)]
)
def test_real_similarity_files(shared_similarity, name, n_pairs):
    pairs = load_similarity(shared_similarity / f"{name}.txt")
    assert len(pairs) == n_pairs
    assert pairs["score"].notna().all()
    words = pd.concat([pairs.word1, pairs.word2])
    assert (words == words.str.lower()).all()


@pytest.mark.shared_data
def test_real_analogy_file_and_evaluate_all(shared_similarity):
    q = load_analogies(shared_similarity / "questions-words.txt")
    assert len(q) == 19544
    assert q["section"].nunique() == 14
    assert q.iloc[0].tolist() == [
        "capital-common-countries",
        "athens",
        "greece",
        "baghdad",
        "iraq",
    ]
    rng = np.random.default_rng(0)
    vocab = list(
        dict.fromkeys([*q.a[:2000], *q.d[:2000], "love", "sex", "tiger", "cat"])
    )
    emb = Embeddings(vocab, rng.standard_normal((len(vocab), 16)))
    table = evaluate_all(emb, shared_similarity)
    assert table["dataset"].tolist() == [
        "men_dataset",
        "questions-words",
        "simlex999",
        "wordsim353",
    ]
    assert table["task"].tolist() == [
        "similarity",
        "analogy",
        "similarity",
        "similarity",
    ]
    assert_array_equal(table["n_items"], [3000, 19544, 999, 353])
    assert table.loc[1, "n_covered"] > 0 and 0 <= table.loc[1, "score"] <= 1
