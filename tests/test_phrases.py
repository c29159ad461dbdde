"""cooc.phrases: adjacent-pair phrase scores against a pure-Python reference."""

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.errors import InputError
from cooc.phrases import join_phrases, read_phrases, score_phrases, write_phrases
from cooc.phrasetable import as_phrase_table

LINES = [
    "new york is big",
    "i love new york",
    "new york new york",
    "san francisco is new",
    "san francisco san francisco",
    "i love san francisco",
    "big apple new york",
    "",
    "york",
    "new york san francisco i love",
]


def reference(lines, scoring, min_count, threshold):
    words, pairs = Counter(), Counter()
    for line in lines:
        toks = line.split()
        words.update(toks)
        pairs.update(zip(toks, toks[1:]))
    n = sum(words.values())
    len_vocab = len(words) + len(pairs)
    out = {}
    for (a, b), c in pairs.items():
        if c < min_count:
            continue
        if scoring == "word2phrase":
            s = (c - min_count) / float(words[a] * words[b]) * len_vocab
        else:
            pa, pb, pab = words[a] / n, words[b] / n, c / n
            s = math.log(pab / (pa * pb))
            if scoring == "npmi":
                s = s / -math.log(pab)
        if s > threshold:
            out[(a, b)] = (c, s)
    return out


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return p


def as_dict(frame):
    return {
        (a, b): (int(c), float(s))
        for a, b, c, s in zip(frame.word1, frame.word2, frame["count"], frame.score)
    }


@pytest.mark.parametrize(
    "scoring,min_count,threshold",
    [
        ("word2phrase", 1, -1e9),
        ("word2phrase", 2, 0.0),
        ("word2phrase", 3, 1.0),
        ("npmi", 1, -1.0),
        ("npmi", 2, 0.3),
        ("pmi", 1, -100.0),
        ("pmi", 2, 1.0),
    ],
)
def test_matches_reference(corpus, scoring, min_count, threshold):
    frame = score_phrases(
        corpus,
        scoring=scoring,
        min_count=min_count,
        threshold=threshold,
        tokenizer="whitespace",
    )
    ref = reference(LINES, scoring, min_count, threshold)
    got = as_dict(frame)
    assert set(got) == set(ref)
    for k, (c, s) in ref.items():
        assert got[k][0] == c
        assert got[k][1] == pytest.approx(s, rel=1e-12, abs=1e-12)
    assert list(frame.score) == sorted(frame.score, reverse=True)
    assert list(frame.columns) == ["word1", "word2", "count", "score", "pass"]
    assert (frame["pass"] == 1).all()


def test_direction_matters(corpus):
    got = as_dict(score_phrases(corpus, min_count=1, threshold=-1e9))
    assert got[("new", "york")][0] == 6
    assert ("york", "new") in got and got[("york", "new")][0] == 1
    assert ("francisco", "san") in got and ("york", "york") not in got


def test_threshold_is_strict(corpus):
    full = score_phrases(corpus, scoring="pmi", min_count=1, threshold=-1e9)
    top = float(full.score.iloc[0])
    strict = score_phrases(corpus, scoring="pmi", min_count=1, threshold=top)
    assert (strict.score > top).all()
    assert len(strict) == 0 or strict.score.iloc[0] > top
    assert len(strict) < len(full)


def test_min_count(corpus):
    frame = score_phrases(corpus, min_count=3, threshold=-1e9)
    assert (frame["count"] >= 3).all()
    assert {("new", "york"), ("san", "francisco")} <= set(as_dict(frame))


def test_from_cooc_matrix(corpus):
    from cooc.cooccurrence import build_cooccurrence

    m = build_cooccurrence(
        [corpus], window_size=1, symmetric=False, weighting="uniform", min_count=1
    )
    a = score_phrases(m, scoring="npmi", min_count=2, threshold=0)
    b = score_phrases(corpus, scoring="npmi", min_count=2, threshold=0)
    pd.testing.assert_frame_equal(a, b)
    sym = build_cooccurrence([corpus], window_size=1, weighting="uniform", min_count=1)
    with pytest.raises(InputError, match="directional"):
        score_phrases(sym)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scoring": "bogus"}, "scoring"),
        ({"threshold": float("nan")}, "threshold"),
        ({"min_count": 0}, "min_count"),
        ({"window_size": 3}, "window_size"),
    ],
)
def test_bad_arguments(corpus, kwargs, match):
    with pytest.raises(InputError, match=match):
        score_phrases(corpus, **kwargs)


def test_cli_writes_the_same_table(run_cli, corpus, tmp_path):
    out = tmp_path / "phrases.tsv"
    r = run_cli(
        "phrases",
        corpus,
        "-o",
        out,
        "--scoring",
        "npmi",
        "--min-count",
        "2",
        "--threshold",
        "0.1",
        "--tokenizer",
        "whitespace",
        "-q",
        "--json",
    )
    assert r.exit_code == 0, (r.stderr, r.exception)
    import json

    summary = json.loads(r.stdout)
    table = pd.read_csv(out, sep="\t", keep_default_na=False, quoting=3)
    frame = score_phrases(
        corpus, scoring="npmi", min_count=2, threshold=0.1, tokenizer="whitespace"
    )
    assert summary["n_phrases"] == len(frame) == len(table) > 0
    assert list(table.columns) == ["word1", "word2", "count", "score", "pass"]
    assert list(table.word1) == list(frame.word1)
    assert list(table.word2) == list(frame.word2)
    assert np.array_equal(table["count"].to_numpy(), frame["count"].to_numpy())
    assert np.array_equal(table.score.to_numpy(), frame.score.to_numpy())


@pytest.mark.parametrize(
    "args,word",
    [(["--scoring", "bogus"], "--scoring"), (["--threshold", "nan"], "--threshold")],
)
def test_cli_bad_options(run_cli, corpus, tmp_path, args, word):
    r = run_cli("phrases", corpus, "-o", tmp_path / "p.tsv", "-q", *args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], r.stderr
    assert not (tmp_path / "p.tsv").exists()


def test_same_phrases_as_gensim(corpus):
    phrases_mod = pytest.importorskip("gensim.models.phrases")
    sentences = [line.split() for line in LINES]
    for scoring, gscoring, threshold in [
        ("word2phrase", "default", 0.5),
        ("npmi", "npmi", 0.2),
    ]:
        model = phrases_mod.Phrases(
            sentences,
            min_count=2,
            threshold=threshold,
            scoring=gscoring,
            delimiter=" ",
        )
        theirs = model.export_phrases()
        ours = score_phrases(
            corpus,
            scoring=scoring,
            min_count=2,
            threshold=threshold,
            tokenizer="whitespace",
        )
        mine = {f"{a} {b}": s for a, b, s in zip(ours.word1, ours.word2, ours.score)}
        assert set(mine) == set(theirs)
        for k in mine:
            assert mine[k] == pytest.approx(theirs[k], rel=1e-12)


# -- joining ---------------------------------------------------------------------------
def greedy_join(docs, table):
    """Reference joiner: pass by pass, a left-to-right scan per document."""
    out = [list(d) for d in docs]
    for p in sorted({p for _, _, p in table}):
        pairs = {(a, b) for a, b, q in table if q == p}
        joined_docs = []
        for doc in out:
            res, i = [], 0
            while i < len(doc):
                if i + 1 < len(doc) and (doc[i], doc[i + 1]) in pairs:
                    res.append(doc[i] + "_" + doc[i + 1])
                    i += 2
                else:
                    res.append(doc[i])
                    i += 1
            joined_docs.append(res)
        out = joined_docs
    return out


def table_frame(rows):
    return pd.DataFrame(rows, columns=["word1", "word2", "pass"])


HAND_DOCS = [
    ["a", "b", "c"],  # overlapping candidates: a b wins, b c is not joined
    ["b", "c", "a"],
    ["a"],
    ["b"],  # "a" ends the document before: no pair across documents
    [],
    ["x", "a", "b", "a", "b", "c"],
    ["a", "b", "c", "d"],
]
HAND_TABLE = [("a", "b", 1), ("b", "c", 1), ("a_b", "c", 2), ("c", "d", 2)]


def test_join_by_hand():
    got = join_phrases(HAND_DOCS, table_frame(HAND_TABLE))
    assert got == [
        ["a_b_c"],
        ["b_c", "a"],
        ["a"],
        ["b"],
        [],
        ["x", "a_b", "a_b_c"],
        ["a_b_c", "d"],  # c d (pass 2) lost c to a_b c, which came first
    ]
    assert got == greedy_join(HAND_DOCS, HAND_TABLE)
    # one pass only: the pass-2 phrases are not applied
    one = join_phrases(HAND_DOCS, table_frame([r for r in HAND_TABLE if r[2] == 1]))
    assert one[0] == ["a_b", "c"] and one[6] == ["a_b", "c", "d"]


def test_join_leaves_documents_without_phrases_alone():
    docs = [["p", "q"], ["q", "p", "p"]]
    assert join_phrases(docs, table_frame(HAND_TABLE)) == docs
    assert join_phrases(docs, table_frame([])) == docs


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(st.sampled_from("abcde"), max_size=12), max_size=8),
    rows=st.lists(
        st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde")),
        max_size=10,
        unique=True,
    ),
)
def test_join_then_split_gives_the_tokens_back(docs, rows):
    table = [(a, b, 1) for a, b in rows]
    if rows:
        # a second pass over the joined tokens of the first
        table.append((rows[0][0] + "_" + rows[0][1], rows[-1][0], 2))
    got = join_phrases(docs, table_frame(table))
    assert got == greedy_join(docs, table)
    assert [[w for t in doc for w in t.split("_")] for doc in got] == docs
    assert all(len(g) <= len(d) for g, d in zip(got, docs, strict=True))


def gensim_phrases():
    return pytest.importorskip("gensim.models.phrases")


def test_join_equals_gensim_frozen_phrases():
    gp = gensim_phrases()
    sentences = [line.split() for line in LINES]
    model = gp.Phrases(sentences, min_count=1, threshold=0.5)
    frozen = model.freeze()
    pairs = [k.split("_") for k in frozen.phrasegrams]
    table = table_frame([(a, b, 1) for a, b in pairs])
    assert len(table) >= 3
    ours = join_phrases(sentences, table)
    assert ours == [frozen[s] for s in sentences]
    assert ours == [model[s] for s in sentences]


TIMES = [
    "the new york times",
    "new york times is big",
    "i read the new york times",
    "new york times new york",
    "san francisco times",
]


def test_two_passes_equal_gensim(tmp_path):
    """Pass 2 against gensim's second Phrases model trained on the first one's
    output. gensim's export_phrases (hence freeze()) re-scores a key such as
    "new_york_times" from the counts of "new" and "times" (it splits keys on
    the delimiter), so the unfrozen model's own pair scores are the reference."""
    gp = gensim_phrases()
    corpus = tmp_path / "times.txt"
    corpus.write_text("\n".join(LINES + TIMES) + "\n", encoding="utf-8")
    sentences = [line.split() for line in LINES + TIMES]
    first = gp.Phrases(sentences, min_count=2, threshold=0.5).freeze()
    second_input = [first[s] for s in sentences]
    second = gp.Phrases(second_input, min_count=2, threshold=0.5)
    theirs = {(1, k): v for k, v in first.phrasegrams.items()}
    for sent in second_input:
        for a, b in itertools.pairwise(sent):
            phrase, score = second.score_candidate(a, b, [])
            if score is not None:
                theirs[(2, phrase)] = score
    frame = score_phrases(
        corpus, min_count=2, threshold=0.5, passes=2, tokenizer="whitespace"
    )
    mine = {
        (int(p), f"{a}_{b}"): s
        for a, b, s, p in zip(
            frame.word1, frame.word2, frame.score, frame["pass"], strict=True
        )
    }
    assert set(mine) == set(theirs)
    assert any(p == 2 for p, _ in mine)
    for k, v in mine.items():
        assert v == pytest.approx(theirs[k], rel=1e-12)
    # joining both passes: the second model applied to the first one's output
    assert join_phrases(sentences, frame) == [second[s] for s in second_input]


# -- counting with phrases -------------------------------------------------------------
def test_build_counts_the_joined_tokens(corpus, tmp_path, same):
    from cooc.checkpoint import build_cooccurrence_resumable
    from cooc.cooccurrence import build_cooccurrence, cooccurrence_matrix
    from cooc.matrix import merge
    from cooc.vocab import Vocabulary

    table = table_frame([("new", "york", 1), ("san", "francisco", 1)])
    write_phrases(table, tmp_path / "p.tsv")
    docs = [line.split() for line in LINES]
    joined = join_phrases(docs, table)
    kw = dict(window_size=2, weighting="uniform", tokenizer="whitespace")
    got = build_cooccurrence([corpus], phrases=tmp_path / "p.tsv", **kw)
    counts = dict(zip(got.vocabulary.tokens, got.vocabulary.counts, strict=True))
    # by hand: 6 "new york", 5 "san francisco"; one "new" and one "york" left
    assert counts["new_york"] == 6 and counts["san_francisco"] == 5
    assert counts["new"] == 1 and counts["york"] == 1
    assert "san" not in counts and "francisco" not in counts
    ref = cooccurrence_matrix(joined, window_size=2, weighting="uniform")
    same(got, ref)
    assert got.params["reading"]["phrases"]["n_phrases"] == 2
    # a given vocabulary (one pass over a read-only table), the shard engine
    vocab = Vocabulary(["new_york", "is", "york", "love", "big"])
    with_vocab = build_cooccurrence([corpus], phrases=table, vocabulary=vocab, **kw)
    same(with_vocab, cooccurrence_matrix(joined, vocabulary=vocab, **kw))
    resumed = build_cooccurrence_resumable(
        [corpus], tmp_path / "ck", n_shards=3, phrases=table, **kw
    )
    same(resumed, got)
    from cooc.io import load_cooc
    from cooc.outofcore import build_cooccurrence_out_of_core

    build_cooccurrence_out_of_core(
        [corpus], tmp_path / "ooc.cooc", memory=16 * 2**20, phrases=table, **kw
    )
    same(load_cooc(tmp_path / "ooc.cooc"), got)
    plain = build_cooccurrence([corpus], **kw)
    with pytest.raises(InputError, match="different"):
        merge([got, plain])


def test_cli_build_and_embed_with_phrases(run_cli, corpus, tmp_path):
    from cooc.io import load_cooc
    from cooc.vectors import Embeddings

    tsv = tmp_path / "p.tsv"
    r = run_cli("phrases", corpus, "-o", tsv, "--min-count", "2", "--threshold",
                "1", "--passes", "2", "--tokenizer", "whitespace", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    table = pd.read_csv(tsv, sep="\t", keep_default_na=False, quoting=3)
    assert list(table.columns) == ["word1", "word2", "count", "score", "pass"]
    assert ("new", "york") in set(zip(table.word1, table.word2, strict=True))
    out = tmp_path / "c.cooc"
    r = run_cli("build", corpus, "-o", out, "--phrases", tsv, "--min-count", "1",
                "--tokenizer", "whitespace", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    m = load_cooc(out)
    joined = join_phrases([line.split() for line in LINES], tsv)
    expect = Counter(t for doc in joined for t in doc)
    assert dict(
        zip(m.vocabulary.tokens, m.vocabulary.counts.tolist(), strict=True)
    ) == (dict(expect))
    assert "new_york" in expect
    # cooc vocab --phrases counts the same words (then build --vocab agrees)
    voc = tmp_path / "vocab.tsv"
    r = run_cli("vocab", corpus, "-o", voc, "--phrases", tsv, "--min-count", "1",
                "--tokenizer", "whitespace", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in voc.read_text().splitlines()]
    assert [t for t, _ in rows] == m.vocabulary.tokens
    assert [int(c) for _, c in rows] == m.vocabulary.counts.tolist()
    again = tmp_path / "again.cooc"
    r = run_cli("build", corpus, "-o", again, "--vocab", voc, "--phrases", tsv,
                "--tokenizer", "whitespace", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert (load_cooc(again).matrix != m.matrix).nnz == 0
    r = run_cli("vocab", corpus, "-o", voc, "--phrases", tsv, "--engine", "dask")
    assert r.exit_code == 2 and "--phrases" in r.stderr
    vec = tmp_path / "v.txt"
    r = run_cli("embed", corpus, "-o", vec, "--phrases", tsv, "--min-count", "1",
                "--rank", "2", "--tokenizer", "whitespace", "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "new_york" in Embeddings.load(vec)
    r = run_cli("embed", out, "-o", vec, "--phrases", tsv, "-q")
    assert r.exit_code == 2 and "--phrases" in r.stderr


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "empty"),
        ("a\tb\n", "header"),
        ("word1\tword2\tbogus\nnew\tyork\t1\n", "header"),
        ("word1\tword2\tpass\nnew\tyork\n", "line 2 has 2 field"),
        ("word1\tword2\tpass\nnew\t\t1\n", "line 2: word2 is empty"),
        ("word1\tword2\tpass\nnew\tyork\t0\n", "line 2: pass must be an integer >= 1"),
        ("word1\tword2\tpass\nnew\tyork\tx\n", "pass must be an integer"),
        ("word1\tword2\tscore\nnew\tyork\tnan\n", "score must be a finite"),
        ("word1\tword2\tcount\nnew\tyork\t-1\n", "count must be an integer"),
        ("word1\tword2\nnew york\tcity\n", "white space"),
        ("word1\tword2\nnew\tyork\nnew\tyork\n", "line 3 repeats line 2"),
    ],
)
def test_malformed_phrase_files_are_refused(run_cli, corpus, tmp_path, text, match):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_phrases(tsv)
    r = run_cli("build", corpus, "-o", tmp_path / "c.cooc", "--phrases", tsv, "-q")
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.tsv" in lines[0] and match in lines[0], r.stderr
    assert not (tmp_path / "c.cooc").exists()


def test_phrase_table_round_trip_and_identity(tmp_path):
    frame = table_frame(HAND_TABLE)
    frame["count"] = [3, 2, 1, 1]
    frame["score"] = [1.5, 0.25, 2.0, 9.0]
    write_phrases(frame, tmp_path / "p.tsv.gz")
    back = read_phrases(tmp_path / "p.tsv.gz")
    assert back == as_phrase_table(frame)  # same phrases and passes: same sha256
    assert len(back) == 4 and back.n_passes == 2
    other = as_phrase_table(table_frame(HAND_TABLE[:3]))
    assert other != back and other.sha256 != back.sha256
    with pytest.raises(InputError, match="word1"):
        as_phrase_table(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(InputError, match="passes"):
        score_phrases(tmp_path / "p.tsv.gz", passes=0)


def test_dask_engine_joins_the_phrases(corpus, client, same):
    from cooc.cooccurrence import build_cooccurrence
    from cooc.distributed import build_cooccurrence_dask

    table = as_phrase_table(table_frame([("new", "york", 1), ("new_york", "san", 2)]))
    kw = dict(window_size=3, weighting="uniform", tokenizer="whitespace")
    got = build_cooccurrence_dask(
        [corpus], client=client, n_shards=2, phrases=table, **kw
    )
    want = build_cooccurrence([corpus], phrases=table, **kw)
    same(got, want)
    assert "new_york_san" in got.vocabulary
    assert got.params == want.params


def test_a_checkpoint_refuses_another_phrase_table(corpus, tmp_path):
    from cooc.checkpoint import build_cooccurrence_resumable

    kw = dict(window_size=2, tokenizer="whitespace", n_shards=2)
    one = table_frame([("new", "york", 1)])
    build_cooccurrence_resumable([corpus], tmp_path / "ck", phrases=one, **kw)
    again = build_cooccurrence_resumable([corpus], tmp_path / "ck", phrases=one, **kw)
    assert "new_york" in again.vocabulary
    for other in (table_frame([("san", "francisco", 1)]), None):
        with pytest.raises(InputError, match="another build"):
            build_cooccurrence_resumable([corpus], tmp_path / "ck", phrases=other, **kw)


# -- scikit-learn vectorizers ----------------------------------------------------------
def test_vectorizers_join_the_phrases_as_cooc_build_does(corpus, tmp_path):
    from sklearn.base import clone

    from cooc.cooccurrence import build_cooccurrence
    from cooc.vectorizers import CooccurrenceVectorizer, DocumentVectorizer
    from cooc.vectors import Embeddings

    table = score_phrases(corpus, min_count=2, threshold=1, tokenizer="whitespace")
    assert ("new", "york") in set(zip(table.word1, table.word2, strict=True))
    tsv = tmp_path / "p.tsv"
    write_phrases(table, tsv)
    kw = dict(window_size=3, weighting="harmonic", tokenizer="whitespace")
    for source in (tsv, str(tsv), table, as_phrase_table(table)):
        vec = CooccurrenceVectorizer(phrases=source, **kw)
        got = vec.fit_transform(LINES)
        # the reference: the joined token lists, counted without phrases
        joined = join_phrases([line.split() for line in LINES], table)
        plain = CooccurrenceVectorizer(**kw).fit(joined)
        assert vec.get_feature_names_out().tolist() == (
            plain.get_feature_names_out().tolist()
        )
        assert (got != plain.cooccurrence_.matrix).nnz == 0
        assert "new_york" in vec.vocabulary_
        # the same as cooc build --phrases on the file
        built = build_cooccurrence([corpus], phrases=tsv, min_count=1, **kw)
        assert built.vocabulary.tokens == vec.vocabulary_.tokens
        assert (built.matrix != got).nnz == 0
        # transform joins them too; clone keeps the parameter
        again = vec.transform(["i love new york"])
        assert (again != plain.transform([["i_love", "new_york"]])).nnz == 0
        assert again[vec.vocabulary_.tokens.index("new_york")].nnz > 0
        assert clone(vec).get_params()["phrases"] is not None

    # DocumentVectorizer: a phrase maps to its own vector
    emb = Embeddings(["new_york", "new", "york"], np.eye(3))
    doc = DocumentVectorizer(embeddings=emb, weighting="mean", phrases=table)
    out = doc.fit(["new york", "new"]).transform(["new york", "york"])
    np.testing.assert_allclose(out, [[1, 0, 0], [0, 0, 1]])
    without = DocumentVectorizer(embeddings=emb, weighting="mean").fit(["a"])
    np.testing.assert_allclose(
        without.transform(["new york"]), [[0, 2**-0.5, 2**-0.5]]
    )

    with pytest.raises(ValueError, match="missing.tsv"):
        CooccurrenceVectorizer(phrases=tmp_path / "missing.tsv").fit(LINES)
    with pytest.raises((ValueError, TypeError), match="phrases"):
        CooccurrenceVectorizer(phrases=3).fit(LINES)


def test_vocabulary_from_files_joins_phrases_like_the_build(tmp_path):
    from cooc.cooccurrence import build_cooccurrence
    from cooc.vocab import build_vocabulary_from_files

    files = []
    for i in range(3):  # several files, small blocks, two threads
        f = tmp_path / f"c{i}.txt"
        f.write_text("\n".join(LINES[i:] + LINES[:i]) * 3 + "\n", encoding="utf-8")
        files.append(f)
    table = pd.DataFrame({"word1": ["new", "san", "new_york"],
                          "word2": ["york", "francisco", "new_york"],
                          "pass": [1, 1, 2]})  # fmt: skip
    kw = dict(min_count=2, tokenizer="whitespace")
    got = build_vocabulary_from_files(files, phrases=table, n_jobs=2,
                                      chunk_size=64, **kw)  # fmt: skip
    built = build_cooccurrence(files, phrases=table, **kw).vocabulary
    assert got.tokens == built.tokens
    assert got.counts.tolist() == built.counts.tolist()
    joined = join_phrases(
        [line.split() for f in files for line in f.read_text().splitlines()], table
    )
    expect = Counter(t for doc in joined for t in doc)
    assert dict(zip(got.tokens, got.counts.tolist(), strict=True)) == {
        w: c for w, c in expect.items() if c >= 2
    }
    assert "new_york_new_york" in got.tokens and "san_francisco" in got.tokens
