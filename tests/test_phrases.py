"""cooc.phrases: adjacent-pair phrase scores against a pure-Python reference."""

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from cooc.errors import InputError
from cooc.phrases import score_phrases

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
    assert list(frame.columns) == ["word1", "word2", "count", "score"]


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
    assert list(table.columns) == ["word1", "word2", "count", "score"]
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
