"""gensim-style queries of Embeddings and `cooc similar` (issue 13).

most_similar (3CosAdd), most_similar_cosmul (3CosMul), doesnt_match, lookups
under gensim's names, duck-typed KeyedVectors, and agreement with gensim
itself when it is installed.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from cooc.evaluate import evaluate_all, evaluate_analogies, evaluate_similarity
from cooc.svd import Embeddings, as_embeddings
from cooc.vectorizers import DocumentVectorizer

S5 = np.sqrt(5)

# 2-D vectors where king - man + woman points exactly at queen:
# (0, 1) - (1, 0) + (-1, 0) = (-2, 1).
ROYAL = {
    "man": [1, 0],
    "king": [0, 1],
    "woman": [-1, 0],
    "queen": [-2, 1],
    "car": [1, -1],
    "boat": [0, -1],
}


@pytest.fixture
def royal():
    return Embeddings(list(ROYAL), np.array(list(ROYAL.values()), dtype=float))


@pytest.fixture
def royal_file(tmp_path, royal):
    path = tmp_path / "royal.txt"
    royal.save(path)
    return path


def random_embeddings(rng, n=300, dim=20):
    return Embeddings([f"w{i}" for i in range(n)], rng.standard_normal((n, dim)))


# ------------------------------------------------------------- reference code
def unit64(emb):
    v = emb.vectors.astype(np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def reference(emb, positive, negative, *, cosmul=False, restrict=None, topn=10):
    """Brute force in float64: all candidates scored, sorted, inputs removed."""
    unit = unit64(emb)
    n = len(emb) if restrict is None else min(restrict, len(emb))
    pos = [unit[emb.index(w)] for w in positive]
    neg = [unit[emb.index(w)] for w in negative]
    scores = []
    for i in range(n):
        if cosmul:
            num = np.prod([(1 + unit[i] @ p) / 2 for p in pos])
            den = np.prod([(1 + unit[i] @ q) / 2 for q in neg])
            scores.append(num / (den + 1e-6))
        else:
            mean = np.sum(pos, axis=0) - np.sum(neg, axis=0) if neg else np.sum(pos, 0)
            scores.append(unit[i] @ mean / np.linalg.norm(mean))
    inputs = set(positive) | set(negative)
    ranked = sorted(
        (
            (emb.tokens[i], s)
            for i, s in enumerate(scores)
            if emb.tokens[i] not in inputs
        ),
        key=lambda ts: -ts[1],
    )
    return ranked[:topn]


def reference_odd(emb, words):
    unit = unit64(emb)[[emb.index(w) for w in words]]
    mean = unit.mean(axis=0)
    return words[int(np.argmin(unit @ (mean / np.linalg.norm(mean))))]


def check_same(got, expected, atol=1e-5):
    assert [w for w, _ in got] == [w for w, _ in expected]
    assert_allclose([s for _, s in got], [s for _, s in expected], atol=atol)


# ------------------------------------------------------------ hand-checkable
def test_analogy_3cosadd_by_hand(royal):
    got = royal.most_similar(positive=["king", "woman"], negative=["man"])
    # cosines with (-2, 1) / sqrt(5); the three query words are left out
    expected = [("queen", 1.0), ("boat", -1 / S5), ("car", -3 / np.sqrt(10))]
    check_same(got, expected, atol=1e-6)
    assert royal.most_similar(["king", "woman"], ["man"], 1) == got[:1]
    assert royal.most_similar(["king", "woman"], "man", topn=1) == got[:1]


def test_analogy_3cosmul_by_hand(royal):
    got = royal.most_similar_cosmul(positive=["king", "woman"], negative=["man"])
    # queen: cos with king 1/sqrt5, with woman 2/sqrt5, with man -2/sqrt5
    queen = (1 + 1 / S5) / 2 * (1 + 2 / S5) / 2 / ((1 - 2 / S5) / 2 + 1e-6)
    # boat (0, -1): cosines -1, 0, 0 -> 0 * 0.5 / (0.5 + 1e-6)
    # car (1, -1)/sqrt2: cosines -1/sqrt2, -1/sqrt2, 1/sqrt2
    c = 1 / np.sqrt(2)
    car = (1 - c) / 2 * (1 - c) / 2 / ((1 + c) / 2 + 1e-6)
    check_same(got, [("queen", queen), ("car", car), ("boat", 0.0)], atol=1e-5)


def test_no_negatives_and_single_word(royal):
    # a single string is a one-word query: its neighbours
    assert royal.most_similar("king") == royal.most_similar(positive=["king"])
    assert royal.most_similar("king", topn=2) == royal.most_similar("king", k=2)
    top = royal.most_similar("king", topn=1)
    assert top[0][0] == "queen"
    assert top[0][1] == pytest.approx(1 / S5, abs=1e-6)
    # 3CosMul without negatives: product of shifted cosines / (1 + 1e-6)
    word, score = royal.most_similar_cosmul("king", topn=1)[0]
    assert word == "queen"
    assert score == pytest.approx((1 + 1 / S5) / 2 / (1 + 1e-6), abs=1e-6)
    # only negatives: the words furthest from them
    assert royal.most_similar(negative=["king"], topn=1)[0][0] == "boat"


def test_vectors_instead_of_words(royal):
    by_word = royal.most_similar(["king", "woman"], ["man"])
    # vectors are scaled to unit length like words, and are not left out
    by_vector = royal.most_similar(
        [np.array([0.0, 5.0]), "woman"], [np.array([3.0, 0.0])]
    )
    # only the word "woman" is left out; king (0, 1) now has cosine 1/sqrt5
    assert [w for w, _ in by_vector] == ["queen", "king", "boat", "man", "car"]
    assert by_vector[0][1] == pytest.approx(1.0, abs=1e-6)
    assert by_vector[1][1] == pytest.approx(1 / S5, abs=1e-6)
    assert [w for w, _ in by_vector if w in dict(by_word)] == [w for w, _ in by_word]
    assert royal.most_similar(np.array([-2.0, 1.0]), topn=1)[0][0] == "queen"
    with pytest.raises(ValueError, match="shape"):
        royal.most_similar([np.ones(3)])
    with pytest.raises(TypeError, match="words or vectors"):
        royal.most_similar([{"king": 1}])


def test_doesnt_match_by_hand(royal):
    # unit vectors of king, queen, boat: their mean points at queen,
    # boat has the lowest cosine with it (-1/sqrt5)
    assert royal.doesnt_match(["king", "queen", "boat"]) == "boat"
    assert royal.doesnt_match(("man", "car", "boat", "woman")) == "woman"
    assert royal.doesnt_match(["king"]) == "king"
    with pytest.raises(ValueError, match="empty"):
        royal.doesnt_match([])
    with pytest.raises(TypeError, match="single string"):
        royal.doesnt_match("king")


def test_topn_none_returns_all_scores(royal):
    scores = royal.most_similar(["king", "woman"], ["man"], topn=None)
    assert isinstance(scores, np.ndarray) and scores.shape == (6,)
    assert scores[royal.index("queen")] == pytest.approx(1.0)
    assert royal.most_similar("king", topn=None, restrict_vocab=3).shape == (3,)
    assert royal.most_similar("king", topn=0) == []


def test_restrict_vocab(royal):
    # candidates are the first rows only: man, king, woman
    got = royal.most_similar("queen", restrict_vocab=3)
    assert [w for w, _ in got] == ["woman", "king", "man"]
    # the query words may come from beyond the cut
    assert royal.most_similar(["car", "boat"], restrict_vocab=2)[0][0] == "man"
    got = royal.most_similar_cosmul(["king", "woman"], ["man"], restrict_vocab=4)
    assert [w for w, _ in got] == ["queen"]
    assert len(royal.most_similar("king", restrict_vocab=100)) == 5
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="restrict_vocab"):
            royal.most_similar("king", restrict_vocab=bad)


def test_topn_and_k(royal):
    assert royal.most_similar("king", 2) == royal.most_similar("king", topn=2)
    assert royal.most_similar_cosmul("king", k=2) == royal.most_similar_cosmul(
        "king", topn=2
    )
    with pytest.raises(TypeError, match="not both"):
        royal.most_similar("king", topn=3, k=2)
    with pytest.raises(ValueError, match="topn=-1"):
        royal.most_similar("king", topn=-1)
    with pytest.raises(ValueError, match="k=1.5"):
        royal.most_similar("king", k=1.5)
    with pytest.raises(ValueError, match="no query"):
        royal.most_similar()
    # man and woman tie at cosine 0 with king: row order decides
    assert royal.most_similar("king", exclude="queen", topn=2) == [
        ("man", 0.0),
        ("woman", 0.0),
    ]


def test_unknown_words_raise_key_error_naming_them(royal):
    calls = [
        lambda: royal.most_similar(["king", "zebra"], ["man"]),
        lambda: royal.most_similar(["king"], ["zebra"]),
        lambda: royal.most_similar_cosmul("zebra"),
        lambda: royal.doesnt_match(["king", "zebra"]),
        lambda: royal.similarity("king", "zebra"),
        lambda: royal["zebra"],
        lambda: royal[["king", "zebra"]],
        lambda: royal.get_vector("zebra"),
        lambda: royal.get_index("zebra"),
    ]
    for call in calls:
        with pytest.raises(KeyError, match="zebra"):
            call()
    assert "zebra" not in royal
    assert ["king"] not in royal  # unhashable: not a word
    assert royal.get_index("zebra", -1) == -1


def test_lookups_under_gensim_names(royal):
    assert len(royal) == 6 and royal.vector_size == 2
    assert royal.index_to_key == list(ROYAL)
    assert royal.key_to_index == {w: i for i, w in enumerate(ROYAL)}
    assert "queen" in royal
    assert royal.get_index("queen") == 3
    assert_allclose(royal["queen"], [-2, 1])
    assert_allclose(royal.get_vector("queen"), [-2, 1])
    assert_allclose(royal.get_vector("queen", norm=True), [-2 / S5, 1 / S5], atol=1e-7)
    block = royal[["queen", "man"]]
    assert block.shape == (2, 2) and block.dtype == np.float32
    assert_allclose(block, [[-2, 1], [1, 0]])
    assert royal[[]].shape == (0, 2)
    assert royal.similarity("queen", "woman") == pytest.approx(2 / S5, abs=1e-6)
    zero = Embeddings(["a", "b"], [[0, 0], [1, 0]])
    assert_allclose(zero.get_vector("a", norm=True), [0, 0])


# ------------------------------------------------------------- brute force
def test_against_brute_force_on_random_vectors(rng):
    emb = random_embeddings(rng)
    words = emb.tokens
    for _ in range(8):
        a, b, c = rng.choice(len(words), 3, replace=False)
        a, b, c = words[a], words[b], words[c]
        for restrict in (None, 150):
            check_same(
                emb.most_similar([b, c], [a], restrict_vocab=restrict),
                reference(emb, [b, c], [a], restrict=restrict),
            )
            check_same(
                emb.most_similar_cosmul([b, c], [a], restrict_vocab=restrict),
                reference(emb, [b, c], [a], cosmul=True, restrict=restrict),
            )
        check_same(emb.most_similar(a, topn=20), reference(emb, [a], [], topn=20))
        several = [words[i] for i in rng.choice(len(words), 5, replace=False)]
        assert emb.doesnt_match(several) == reference_odd(emb, several)
    # more positives and negatives than an analogy has
    pos, neg = ["w1", "w2", "w3"], ["w4", "w5"]
    check_same(emb.most_similar(pos, neg, topn=15), reference(emb, pos, neg, topn=15))
    check_same(
        emb.most_similar_cosmul(pos, neg, topn=15),
        reference(emb, pos, neg, cosmul=True, topn=15),
    )


def test_evaluate_analogies_answers_as_most_similar(rng):
    # evaluate_analogies and most_similar share the 3CosAdd code: questions
    # whose d is most_similar's answer are all answered right.
    emb = random_embeddings(rng, n=200, dim=12)
    rows = []
    for _ in range(40):
        a, b, c = (emb.tokens[i] for i in rng.choice(120, 3, replace=False))
        d = emb.most_similar([b, c], [a], topn=1, restrict_vocab=120)[0][0]
        rows.append(("s", a, b, c, d))
    questions = pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])
    result = evaluate_analogies(emb, questions, restrict_vocab=120)
    assert result["n_covered"] == 40 and result["accuracy"] == 1.0


# ------------------------------------------------- KeyedVectors by duck typing
def fake_keyed_vectors(emb):
    """What cooc reads of a gensim KeyedVectors: index_to_key and vectors."""
    return types.SimpleNamespace(index_to_key=list(emb.tokens), vectors=emb.vectors)


def test_as_embeddings(royal):
    assert as_embeddings(royal) is royal
    kv = fake_keyed_vectors(royal)
    wrapped = as_embeddings(kv)
    assert wrapped.tokens == royal.tokens
    assert wrapped.vectors is royal.vectors  # float32: not copied
    assert Embeddings.from_keyed_vectors(kv).tokens == royal.tokens
    with pytest.raises(TypeError, match="embeddings must be"):
        as_embeddings(np.eye(2))
    with pytest.raises(TypeError, match="index_to_key"):
        Embeddings.from_keyed_vectors(object())
    with pytest.raises(TypeError, match="str"):
        as_embeddings(types.SimpleNamespace(index_to_key=[0, 1], vectors=np.eye(2)))


def test_cooc_functions_take_keyed_vectors(royal, tmp_path):
    kv = fake_keyed_vectors(royal)
    pairs = pd.DataFrame(
        {
            "word1": ["king", "king", "man"],
            "word2": ["queen", "boat", "woman"],
            "score": [8.0, 1.0, 5.0],
        }
    )
    assert evaluate_similarity(kv, pairs) == evaluate_similarity(royal, pairs)
    questions = pd.DataFrame(
        [("s", "man", "king", "woman", "queen")], columns=["section", *"abcd"]
    )
    assert evaluate_analogies(kv, questions)["accuracy"] == 1.0
    ana = tmp_path / "ana.txt"
    ana.write_text(": s\nman king woman queen\n", encoding="utf-8")
    assert evaluate_all(kv, [ana])["score"].tolist() == [1.0]
    docs = ["king and queen", "a car and a boat", "man woman"]
    ours = DocumentVectorizer(embeddings=royal).fit(docs).transform(docs)
    theirs = DocumentVectorizer(embeddings=kv).fit(docs).transform(docs)
    assert_allclose(theirs, ours)
    with pytest.raises(ValueError, match="index_to_key"):
        DocumentVectorizer(embeddings=np.eye(2)).fit(docs)


# ---------------------------------------------------------------------- CLI
def one_error_line(r, *needles):
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), r.stderr
    for needle in needles:
        assert needle in lines[0]


def test_cli_analogy(run_cli, royal_file):
    r = run_cli("similar", royal_file, "king", "--minus", "man", "--plus", "woman")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "king + woman - man: queen (1.000), boat (-0.447), car (-0.949)\n"
    )
    assert r.stderr == ""
    r = run_cli(
        "similar", royal_file, "KING", "--minus", "man", "--plus", "woman", "-k", "1"
    )
    assert r.stdout == "KING + woman - man: queen (1.000)\n"


def test_cli_analogy_json_and_cosmul(run_cli, royal_file):
    args = ("similar", royal_file, "king", "woman", "--minus", "man", "--json")
    report = json.loads(run_cli(*args).stdout)
    assert report["positive"] == ["king", "woman"]
    assert report["negative"] == ["man"]
    assert report["method"] == "3cosadd"
    assert [x["word"] for x in report["results"]] == ["queen", "boat", "car"]
    assert report["results"][0]["score"] == pytest.approx(1.0, abs=1e-6)
    r = run_cli(*args, "--cosmul")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["method"] == "3cosmul"
    assert [x["word"] for x in report["results"]] == ["queen", "car", "boat"]
    # --cosmul alone: WORDS are the positives
    r = run_cli("similar", royal_file, "king", "--cosmul", "-k", "1")
    assert r.stdout.startswith("king: queen (")


def test_cli_restrict_vocab(run_cli, royal_file):
    r = run_cli("similar", royal_file, "queen", "--restrict-vocab", "3", "--json")
    assert [x["word"] for x in json.loads(r.stdout)["queen"]] == [
        "woman",
        "king",
        "man",
    ]
    r = run_cli("similar", royal_file, "car", "--plus", "boat", "--restrict-vocab", "2")
    assert r.stdout.startswith("car + boat: man (")
    assert (
        run_cli("similar", royal_file, "king", "--restrict-vocab", "0").exit_code == 2
    )


def test_cli_odd_one_out(run_cli, royal_file):
    r = run_cli("similar", royal_file, "--odd-one-out", "king", "queen", "boat")
    assert (r.exit_code, r.stdout) == (0, "boat\n")
    r = run_cli(
        "similar", royal_file, "king", "QUEEN", "boat", "--odd-one-out", "--json"
    )
    assert json.loads(r.stdout) == {
        "words": ["king", "QUEEN", "boat"],
        "odd_one_out": "boat",
    }
    one_error_line(
        run_cli("similar", royal_file, "--odd-one-out", "king", "--plus", "queen"),
        "--odd-one-out",
    )
    one_error_line(run_cli("similar", royal_file, "--odd-one-out", "king"), "two WORDS")


def test_cli_plain_keeps_its_output(run_cli, royal_file):
    r = run_cli("similar", royal_file, "king", "boat", "-k", "1")
    assert r.stdout == "king: queen (0.447)\nboat: car (0.707)\n"
    r = run_cli("similar", royal_file, "king", "-k", "1", "--json")
    assert json.loads(r.stdout) == {
        "king": [{"word": "queen", "cosine": pytest.approx(1 / S5, abs=1e-6)}]
    }


def test_cli_unknown_words(run_cli, royal_file):
    # neighbours: unknown words named on stderr (one line each), others answered
    r = run_cli("similar", royal_file, "zebra", "king", "yak", "-k", "1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "king: queen (0.447)\n"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "'zebra'" in lines[0] and "'yak'" in lines[1]
    r = run_cli("similar", royal_file, "zebra", "king", "--json")
    assert list(json.loads(r.stdout)) == ["king"]
    # all unknown: exit 2, one line
    one_error_line(
        run_cli("similar", royal_file, "zebra", "yak"), "'zebra'", "'yak'", "royal.txt"
    )
    # any unknown word of an analogy or odd-one-out query: exit 2, one line
    one_error_line(
        run_cli("similar", royal_file, "king", "--minus", "zebra", "--plus", "woman"),
        "'zebra'",
    )
    one_error_line(
        run_cli("similar", royal_file, "zebra", "--minus", "man", "--plus", "woman"),
        "'zebra'",
    )
    one_error_line(run_cli("similar", royal_file, "king", "--cosmul", "yak"), "'yak'")
    one_error_line(
        run_cli("similar", royal_file, "--odd-one-out", "king", "queen", "zebra"),
        "'zebra'",
    )


def test_cli_help_shows_examples(run_cli):
    text = run_cli("similar", "--help").stdout
    for needle in (
        "--minus man --plus woman",
        "--odd-one-out",
        "--cosmul",
        "--restrict-vocab",
        "-k, --top",
    ):
        assert needle in text


# ------------------------------------------------------------ gensim itself
@pytest.fixture
def gensim_pair(tmp_path, rng):
    gensim_models = pytest.importorskip("gensim.models")
    emb = random_embeddings(rng, n=250, dim=16)
    path = tmp_path / "vectors.txt"
    emb.save(path)
    kv = gensim_models.KeyedVectors.load_word2vec_format(path, binary=False)
    return Embeddings.load(path), kv


@pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")
def test_gensim_agrees_word_for_word(gensim_pair, rng):
    ours, kv = gensim_pair
    words = ours.tokens
    assert kv.index_to_key == words
    for word in ("w0", "w7", "w123", "w249"):
        check_same(ours.most_similar(word), kv.most_similar(word))
        check_same(
            ours.most_similar(positive=[word], topn=25, restrict_vocab=100),
            kv.most_similar(positive=[word], topn=25, restrict_vocab=100),
        )
    for _ in range(10):
        a, b, c = (words[i] for i in rng.choice(len(words), 3, replace=False))
        check_same(
            ours.most_similar(positive=[b, c], negative=[a]),
            kv.most_similar(positive=[b, c], negative=[a]),
        )
        check_same(
            ours.most_similar(positive=[b, c], negative=[a], restrict_vocab=120),
            kv.most_similar(positive=[b, c], negative=[a], restrict_vocab=120),
        )
        # gensim's most_similar_cosmul accepts restrict_vocab but ignores it
        check_same(
            ours.most_similar_cosmul(positive=[b, c], negative=[a]),
            kv.most_similar_cosmul(positive=[b, c], negative=[a]),
        )
        several = [words[i] for i in rng.choice(len(words), 6, replace=False)]
        assert ours.doesnt_match(several) == kv.doesnt_match(several)
        assert ours.similarity(a, b) == pytest.approx(kv.similarity(a, b), abs=1e-6)
    assert_allclose(
        ours.most_similar(["w1", "w2"], ["w3"], topn=None),
        kv.most_similar(["w1", "w2"], ["w3"], topn=None),
        atol=1e-6,
    )
    assert_allclose(ours.get_vector("w5", norm=True), kv.get_vector("w5", norm=True))
    assert_allclose(ours[["w5", "w6"]], kv[["w5", "w6"]])


def test_cooc_takes_gensim_keyed_vectors(gensim_pair, tmp_path):
    ours, kv = gensim_pair
    wrapped = as_embeddings(kv)
    assert wrapped.tokens == ours.tokens
    np.testing.assert_array_equal(wrapped.vectors, ours.vectors)
    pairs = pd.DataFrame(
        {"word1": ["w0", "w1", "w2", "w3"], "word2": ["w9", "w8", "w7", "w6"],
         "score": [1.0, 3.0, 2.0, 4.0]}
    )  # fmt: skip
    assert evaluate_similarity(kv, pairs) == evaluate_similarity(ours, pairs)
    questions = pd.DataFrame(
        [("s", "w1", "w2", "w3", "w4"), ("s", "w5", "w6", "w7", "w8")],
        columns=["section", *"abcd"],
    )
    assert evaluate_analogies(kv, questions) == evaluate_analogies(ours, questions)
    docs = ["w1 w2 w3", "w4 w4 w200", "nothing known"]
    assert_allclose(
        DocumentVectorizer(embeddings=kv).fit(docs).transform(docs),
        DocumentVectorizer(embeddings=ours).fit(docs).transform(docs),
    )
