"""Subword vectors (cooc.subwords): n-grams, their hash, the two fits against
dense references, Embeddings answering unseen words, storage and the CLI."""

from __future__ import annotations

import json
import types
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from cooc.errors import InputError
from cooc.evaluate import evaluate_all, evaluate_similarity
from cooc.subwords import (
    SubwordModel,
    fit_subwords,
    fnv1a_32,
    ngram_buckets,
    sidecar_path,
    word_ngrams,
)
from cooc.vectors import Embeddings

WORDS = ["walk", "walked", "walking", "talk", "talked", "tall", "ball", "né", "a"]


def _emb(seed=0, dim=4):
    rng = np.random.default_rng(seed)
    return Embeddings(WORDS, rng.normal(size=(len(WORDS), dim))).normalized()


def _buckets_of(word, buckets, min_n=3, max_n=6):
    """Reference: every n-gram's bucket, in pure Python."""
    return [
        fnv1a_32(g.encode("utf-8")) % buckets for g in word_ngrams(word, min_n, max_n)
    ]


def _dense_rows(words, buckets, min_n=3, max_n=6):
    """Reference (n_words, buckets) mean n-gram indicator rows."""
    x = np.zeros((len(words), buckets))
    for k, word in enumerate(words):
        grams = _buckets_of(word, buckets, min_n, max_n)
        for b in grams:
            x[k, b] += 1 / len(grams)
    return x


# -- n-grams and hash -----------------------------------------------------------------
def test_ngrams_by_hand():
    assert word_ngrams("cat") == ["<ca", "cat", "at>", "<cat", "cat>", "<cat>"]
    # characters, not bytes: "é" is one character (two UTF-8 bytes)
    assert word_ngrams("né") == ["<né", "né>", "<né>"]
    assert word_ngrams("a") == ["<a>"]
    assert word_ngrams("", 3, 6) == []
    assert word_ngrams("abcd", 5, 5) == ["<abcd", "abcd>"]


def test_fnv1a_published_values():
    # FNV-1a 32-bit test vectors (Fowler, Noll, Vo)
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_vectorized_buckets_match_pure_python():
    words = [*WORDS, "", "ü🙂x", "日本語です", "x" * 40, "a b", "\x00z"]
    for buckets in (7, 1000, 2_000_000, 1 << 32):
        indptr, ids = ngram_buckets(words, 3, 6, buckets)
        for k, word in enumerate(words):
            got = sorted(ids[indptr[k] : indptr[k + 1]].tolist())
            assert got == sorted(_buckets_of(word, buckets)), (word, buckets)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=6),
    st.integers(1, 8),
    st.integers(0, 4),
    st.integers(1, 1 << 32),
)
def test_buckets_match_pure_python_on_random_text(words, min_n, extra, buckets):
    max_n = min(min_n + extra, 32)
    indptr, ids = ngram_buckets(words, min_n, max_n, buckets)
    assert indptr[-1] == len(ids)
    for k, word in enumerate(words):
        got = sorted(ids[indptr[k] : indptr[k + 1]].tolist())
        assert got == sorted(_buckets_of(word, buckets, min_n, max_n))


# -- the fits against dense references ------------------------------------------------
def test_ridge_agrees_with_a_dense_solve():
    emb, buckets, alpha = _emb(), 50, 0.3
    fitted = fit_subwords(
        emb, method="ridge", buckets=buckets, alpha=alpha, max_iter=500, tol=1e-12
    )
    x = _dense_rows(WORDS, buckets)
    weights = np.linalg.solve(x @ x.T + alpha * np.eye(len(WORDS)), emb.vectors)
    np.testing.assert_allclose(fitted.subwords.weights, weights, atol=1e-5)
    queries = ["walks", "talking", "zzz", "nééé"]
    expected = _dense_rows(queries, buckets) @ x.T @ weights
    np.testing.assert_allclose(fitted.subwords.estimate(queries), expected, atol=1e-5)


def test_centroid_agrees_with_brute_force():
    emb, buckets = _emb(1), 10_000
    fitted = fit_subwords(emb, buckets=buckets)
    members = {}  # bucket -> words having it
    for k, word in enumerate(WORDS):
        for b in set(_buckets_of(word, buckets)):
            members.setdefault(b, []).append(k)
    for query in ["walks", "talking", "balls", "zzz", "ané"]:
        grams = _buckets_of(query, buckets)
        expected = sum(
            (emb.vectors[members[b]].mean(axis=0) for b in grams if b in members),
            np.zeros(emb.dim),
        ) / max(len(grams), 1)
        got = fitted.subwords.estimate([query])[0]
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not fitted.subwords.estimate(["zzz"]).any()  # no known n-gram: zero row
    assert not fitted.subwords.covers("zzz") and fitted.subwords.covers("walks")


# -- Embeddings with a model ----------------------------------------------------------
@pytest.mark.parametrize("method", ["centroid", "ridge"])
def test_embeddings_answer_unseen_words(method):
    emb = _emb()
    fitted = fit_subwords(emb, method=method, buckets=1000)
    assert fitted is not emb and emb.subwords is None
    assert fitted.tokens == emb.tokens
    assert fitted.vectors.tobytes() == emb.vectors.tobytes()  # bit for bit
    for word in WORDS:
        assert fitted[word].tobytes() == emb[word].tobytes()
        assert not fitted.is_estimated(word)
    estimate = fitted.subwords.estimate(["walks"])[0]
    assert "walks" not in fitted and "walks" not in fitted.key_to_index
    assert fitted.is_estimated("walks")
    np.testing.assert_array_equal(fitted["walks"], estimate)
    np.testing.assert_array_equal(fitted.get_vector("walks"), estimate)
    np.testing.assert_allclose(
        fitted.get_vector("walks", norm=True), estimate / np.linalg.norm(estimate)
    )
    assert fitted[["walk", "walks"]].shape == (2, emb.dim)
    cosine = estimate @ emb["walk"] / np.linalg.norm(estimate)
    assert fitted.similarity("walks", "walk") == pytest.approx(cosine, abs=1e-6)
    best = fitted.most_similar("walks", topn=len(WORDS))
    assert len(best) == len(WORDS)  # nothing excluded: the query is no row
    assert best[0][1] == pytest.approx(max(s for _, s in best))
    with pytest.raises(KeyError):
        emb["walks"]  # without a model, as before
    assert not emb.is_estimated("walks")
    # estimates are deterministic: a second fit gives the same bits
    again = fit_subwords(emb, method=method, buckets=1000)
    assert again["walks"].tobytes() == fitted["walks"].tobytes()


def test_fit_refuses_bad_arguments():
    emb = _emb()
    kv = types.SimpleNamespace(index_to_key=WORDS, vectors=emb.vectors)
    with pytest.raises(TypeError, match="as_embeddings"):
        fit_subwords(kv)
    from cooc.vectors import as_embeddings

    assert fit_subwords(as_embeddings(kv)).is_estimated("walks")
    for bad in (
        {"min_n": 0},
        {"min_n": 4, "max_n": 3},
        {"buckets": 0},
        {"alpha": 0.0},
        {"method": "svd"},
        {"max_n": 33},
    ):
        with pytest.raises(InputError):
            fit_subwords(emb, **bad)


# -- storage --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["centroid", "ridge"])
@pytest.mark.parametrize("name", ["v.npz", "v.txt", "v.bin", "v.txt.gz"])
def test_round_trip(tmp_path, method, name):
    fitted = fit_subwords(_emb(), method=method, buckets=997, min_n=2, max_n=4)
    path = tmp_path / name
    fitted.save(path)
    sidecar = tmp_path / (name + ".subwords.npz")
    assert sidecar.exists() == (name != "v.npz")
    back = Embeddings.load(path)
    assert back.subwords is not None
    assert back.subwords.params() == fitted.subwords.params()
    np.testing.assert_allclose(back["walks"], fitted["walks"], atol=1e-6)
    if name == "v.npz":
        with np.load(path, allow_pickle=False) as npz:
            params = json.loads(str(npz["subword_params"]))
            assert ("subword_weights" in npz.files) == (method == "ridge")
        assert params["min_n"] == 2 and params["buckets"] == 997


def test_gensim_reads_the_plain_word2vec_file(tmp_path):
    gensim = pytest.importorskip("gensim")
    fitted = fit_subwords(_emb(), method="ridge", buckets=997)
    fitted.save(tmp_path / "v.txt")
    kv = gensim.models.KeyedVectors.load_word2vec_format(tmp_path / "v.txt")
    assert kv.index_to_key == WORDS
    np.testing.assert_allclose(kv.vectors, fitted.vectors, atol=1e-6)


def test_saving_without_a_model_removes_a_stale_sidecar(tmp_path):
    fit_subwords(_emb(), buckets=997).save(tmp_path / "v.txt")
    assert (tmp_path / "v.txt.subwords.npz").exists()
    _emb().save(tmp_path / "v.txt")
    assert not (tmp_path / "v.txt.subwords.npz").exists()
    assert Embeddings.load(tmp_path / "v.txt").subwords is None


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _params(path, **changes):
    with np.load(path, allow_pickle=False) as npz:
        params = json.loads(str(npz["subword_params"]))
    params.update(changes)
    return np.array(json.dumps(params))


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda p: _rewrite(p, subword_weights=np.zeros((3, 4), np.float32)),
         "shape"),
        (lambda p: _rewrite(p, subword_weights=np.full((9, 4), np.nan, np.float32)),
         "NaN"),
        (lambda p: _rewrite(p, subword_weights=None), "subword_weights"),
        (lambda p: _rewrite(p, subword_params=np.array("{nope")), "JSON"),
        (lambda p: _rewrite(p, subword_params=np.arange(3)), "JSON string"),
        (lambda p: _rewrite(p, subword_params=_params(p, min_n=9)), "min_n"),
        (lambda p: _rewrite(p, subword_params=_params(p, buckets=-1)), "buckets"),
        (lambda p: _rewrite(p, subword_params=_params(p, alpha=None)), "alpha"),
        (lambda p: _rewrite(p, subword_params=_params(p, max_n="6")), "max_n"),
        (lambda p: _rewrite(p, subword_params=_params(p, method="x")), "method"),
        (lambda p: _rewrite(p, subword_params=_params(p, version=99)), "version"),
        (lambda p: _rewrite(p, subword_params=_params(p, dim=5)), "dimensions"),
        (lambda p: _rewrite(p, subword_params=_params(p, vocabulary_sha256="0")),
         "another vocabulary"),
        (lambda p: p.write_bytes(b"not a zip"), "not a valid subword model"),
    ],
)  # fmt: skip
def test_damaged_models_are_refused_in_one_line(tmp_path, damage, needle):
    fit_subwords(_emb(), method="ridge", buckets=997).save(tmp_path / "v.txt")
    sidecar = tmp_path / "v.txt.subwords.npz"
    damage(sidecar)
    with pytest.raises(InputError) as info:
        Embeddings.load(tmp_path / "v.txt")
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert str(sidecar) in message


def test_a_sidecar_of_other_vectors_is_refused(tmp_path):
    fit_subwords(_emb(), buckets=997).save(tmp_path / "a.txt")
    other = Embeddings(WORDS[::-1], _emb().vectors)
    other.save(tmp_path / "b.txt")
    (tmp_path / "a.txt.subwords.npz").rename(sidecar_path(tmp_path / "b.txt"))
    with pytest.raises(InputError, match="another vocabulary"):
        Embeddings.load(tmp_path / "b.txt")


def test_model_rejects_mismatched_vectors():
    emb = _emb()
    model = SubwordModel(WORDS[:3], np.zeros((3, 4), np.float32))
    with pytest.raises(InputError, match="subword model has 3 words"):
        emb.with_subwords(model)
    reversed_words = SubwordModel(WORDS[::-1], np.zeros((9, 4), np.float32))
    with pytest.raises(InputError, match="other words"):
        emb.with_subwords(reversed_words)


# -- evaluation -----------------------------------------------------------------------
def test_spearman_all_against_brute_force():
    import pandas as pd

    emb = _emb(2)
    fitted = fit_subwords(emb, buckets=1000)
    pairs = pd.DataFrame(
        {
            "word1": ["walk", "Walks", "talk", "zzz", "ball", "tall", "walking"],
            "word2": ["talk", "walk", "balls", "walk", "tallest", "qqq", "a"],
            "score": [3.0, 9.0, 2.0, 1.0, 4.0, 0.5, 6.0],
        }
    )

    def vector(word):
        word = word.lower()
        if word in emb:
            return emb[word]
        est = fitted.subwords.estimate([word])[0]
        return est if est.any() else None

    cosines, n_estimated = [], 0
    for a, b in zip(pairs.word1, pairs.word2, strict=True):
        va, vb = vector(a), vector(b)
        ok = va is not None and vb is not None
        cosines.append(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb) if ok else 0.0)
        n_estimated += ok and not (a.lower() in emb and b.lower() in emb)
    result = evaluate_similarity(fitted, pairs)
    assert result["n_estimated"] == n_estimated == 3
    assert result["spearman_all"] == pytest.approx(
        spearmanr(pairs.score, cosines).statistic, abs=1e-9
    )
    before = evaluate_similarity(emb, pairs)
    assert before["spearman_all"] == before["spearman_oov_zero"]
    assert before["n_estimated"] == 0
    for key in ("spearman", "spearman_oov_zero", "coverage", "n_covered"):
        assert result[key] == before[key]


def test_evaluate_all_adds_columns_with_a_model(tmp_path):
    (tmp_path / "sim.txt").write_text("walk\ttalk\t3\nwalks\twalk\t9\nball\ttall\t2\n")
    plain = evaluate_all(_emb(), tmp_path / "sim.txt")
    assert "spearman_all" not in plain.columns
    table = evaluate_all(fit_subwords(_emb(), buckets=1000), tmp_path / "sim.txt")
    assert list(table.columns[-3:]) == ["spearman_all", "n_estimated", "path"]
    assert table["n_estimated"].tolist() == [1]


# -- the command line -----------------------------------------------------------------
def test_cli_embed_similar_evaluate(run_cli, write_corpus, tmp_path):
    files = write_corpus(tmp_path, n_files=1, lines=200)
    out = tmp_path / "v.txt"
    r = run_cli(
        "embed", *files, "--min-count", "1", "--rank", "4", "--subwords",
        "--subword-ngrams", "2:4", "--subword-buckets", "5000", "-o", out,
        "--quiet", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, (r.stderr, r.exception)
    report = json.loads(r.stdout)
    assert report["subwords"] == {
        "method": "centroid", "min_n": 2, "max_n": 4, "buckets": 5000,
        "rare_words": 0, "file": str(out) + ".subwords.npz",
    }  # fmt: skip
    emb = Embeddings.load(out)
    known = emb.tokens[0]
    unseen = known + "zq"
    assert unseen not in emb and emb.is_estimated(unseen)

    r = run_cli("similar", out, unseen, known, "-k", "2", "--json")
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert f"{unseen!r} is not in the vocabulary; using its subword estimate" in (
        r.stderr
    )
    result = json.loads(r.stdout)
    assert all(item["estimated"] for item in result[unseen])
    assert not any("estimated" in item for item in result[known])
    assert [n["word"] for n in result[unseen]] == [
        w for w, _ in emb.most_similar(unseen, topn=2)
    ]

    sim = tmp_path / "sim.txt"
    sim.write_text(
        f"{known}\t{emb.tokens[1]}\t5\n{unseen}\t{emb.tokens[2]}\t3\n"
        f"{emb.tokens[3]}\t{emb.tokens[4]}\t1\n"
    )
    r = run_cli("evaluate", out, "--similarity", sim, "--json")
    assert r.exit_code == 0, (r.stderr, r.exception)
    (row,) = json.loads(r.stdout)
    expected = evaluate_similarity(emb, sim)
    assert row["score_all"] == pytest.approx(expected["spearman_all"])
    assert row["n_estimated"] == expected["n_estimated"] == 1
    assert "1 of 3 pairs scored with subword estimates" in r.stderr

    # gensim-style readers see plain word2vec text
    first = out.read_text().splitlines()[0]
    assert first == f"{len(emb)} 4"

    # cooc info describes the model it found beside the vectors
    r = run_cli("info", out, "--json")
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert json.loads(r.stdout)["subwords"] == report["subwords"]
    r = run_cli("info", out)
    assert "centroid, character 2-4-grams in 5,000 buckets" in r.stdout
    assert "v.txt.subwords.npz" in r.stdout


def test_cli_refuses_bad_ngrams(run_cli, tmp_path, abc_corpus):
    r = run_cli(
        "embed", abc_corpus, "--subwords", "--subword-ngrams", "5:3", "-o",
        tmp_path / "v.npz",
    )  # fmt: skip
    assert r.exit_code == 2 and "--subword-ngrams" in r.stderr
    r = run_cli("embed", abc_corpus, "--subword-buckets", "9", "-o", tmp_path / "v.npz")
    assert r.exit_code == 2 and "--subword-buckets applies with --subwords" in r.stderr


def test_embed_npz_keeps_the_model(run_cli, abc_corpus, tmp_path):
    out = tmp_path / "v.npz"
    r = run_cli(
        "embed", abc_corpus, "--min-count", "1", "--rank", "1", "--subwords",
        "--subword-method", "ridge", "-o", out, "--quiet",
    )  # fmt: skip
    assert r.exit_code == 0, (r.stderr, r.exception)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"subword_weights.npy", "subword_params.npy"} <= names
    assert Embeddings.load(out).subwords.method == "ridge"


# -- scikit-learn -------------------------------------------------------------------
def test_document_vectorizer_uses_estimates():
    from cooc.vectorizers import DocumentVectorizer

    emb = _emb(3)
    docs = ["walk walks walks", "zzz", "talk"]
    plain = DocumentVectorizer(embeddings=emb, weighting="mean").fit(docs)
    est = DocumentVectorizer(
        embeddings=emb, weighting="mean", subwords={"buckets": 1000}
    ).fit(docs)
    assert est.embeddings_.subwords.buckets == 1000
    walks = est.embeddings_["walks"]
    expected = (emb["walk"] + 2 * walks) / 3
    np.testing.assert_allclose(
        est.transform(docs)[0], expected / np.linalg.norm(expected), atol=1e-6
    )
    np.testing.assert_allclose(plain.transform(docs)[0], emb["walk"], atol=1e-6)
    assert not est.transform(docs)[1].any()  # no known n-gram: still zeros
    np.testing.assert_array_equal(est.transform(docs)[2], plain.transform(docs)[2])
    # tf-idf: an unknown word weighs as a word no training document had
    tfidf = DocumentVectorizer(embeddings=emb, subwords=True).fit(docs)
    idf_walk = tfidf.idf_[emb.key_to_index["walk"]]
    assert tfidf.idf_unknown_ == pytest.approx(np.log(4) + 1)
    walks = tfidf.embeddings_["walks"]
    expected = idf_walk * emb["walk"] + 2 * tfidf.idf_unknown_ * walks
    np.testing.assert_allclose(
        tfidf.transform(docs)[0], expected / np.linalg.norm(expected), atol=1e-6
    )


# -- rare words folded in from their counts -----------------------------------------
def _dense_ppmi(counts, alpha=0.75):
    """Reference PPMI (context smoothing alpha, no shift) in plain numpy."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    context = counts.sum(axis=0) ** alpha
    with np.errstate(divide="ignore"):
        pmi = (
            np.log(counts / total)
            - np.log(counts.sum(axis=1, keepdims=True) / total)
            - np.log(context / context.sum())
        )
    return np.where(counts > 0, np.maximum(pmi, 0), 0)


def _unit_np(x):
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


@pytest.fixture
def rare_setup():
    """Counts over 6 words, vectors (with a subword model) for the first 3."""
    from cooc.matrix import CoocMatrix
    from cooc.vocab import Vocabulary

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, size=(6, 6))
    counts = counts + counts.T
    tokens = ["walk", "talk", "ball", "walker", "talking", "zz"]
    word_counts = [50, 40, 30, 3, 2, 1]
    import scipy.sparse as sp

    cooc = CoocMatrix(
        sp.csr_matrix(counts.astype(np.float64)),
        Vocabulary(tokens, word_counts),
        {"window_size": 2},
        {},
    )
    emb = fit_subwords(
        Embeddings(tokens[:3], rng.normal(size=(3, 4))).normalized(), buckets=997
    )
    return cooc, emb, np.array([4.0, 3.0, 2.0, 1.0])


def test_fold_in_agrees_with_a_dense_reference(rare_setup):
    from cooc.pipeline import fold_in_words

    cooc, emb, s = rare_setup
    folded = fold_in_words(emb, cooc, s, subword_weight=0)
    ppmi = _dense_ppmi(cooc.matrix.toarray())
    expected = _unit_np(ppmi[3:, :3] @ (emb.vectors / np.sqrt(s)))
    kept = [i for i in range(3) if np.any(expected[i])]
    assert folded.subwords.rare_tokens == [["walker", "talking", "zz"][i] for i in kept]
    np.testing.assert_allclose(
        folded[folded.subwords.rare_tokens], expected[kept], rtol=1e-5, atol=1e-6
    )
    # the vocabulary's vectors and membership do not change
    np.testing.assert_array_equal(folded.vectors, emb.vectors)
    assert "walker" not in folded and folded.is_estimated("walker")

    blended = fold_in_words(emb, cooc, s, subword_weight=0.5)
    estimate = _unit_np(emb.subwords.estimate(["walker"])[0].astype(np.float64))
    np.testing.assert_allclose(
        blended["walker"], _unit_np(expected[0] + 0.5 * estimate), rtol=1e-5, atol=1e-6
    )


def test_fold_in_keeps_the_most_frequent(rare_setup):
    from cooc.pipeline import fold_in_words

    cooc, emb, s = rare_setup
    folded = fold_in_words(emb, cooc, s, max_words=1)
    assert folded.subwords.rare_tokens == ["walker"]
    # an unseen word still gets its n-gram estimate
    np.testing.assert_allclose(
        folded["talked"], emb.subwords.estimate(["talked"])[0], rtol=1e-6
    )


@pytest.mark.parametrize("name", ["v.npz", "v.txt"])
def test_rare_words_round_trip(rare_setup, tmp_path, name):
    from cooc.pipeline import fold_in_words

    cooc, emb, s = rare_setup
    folded = fold_in_words(emb, cooc, s)
    folded.save(tmp_path / name)
    back = Embeddings.load(tmp_path / name)
    assert back.subwords.rare_tokens == folded.subwords.rare_tokens
    # stored in half precision
    np.testing.assert_allclose(
        back[back.subwords.rare_tokens], folded[folded.subwords.rare_tokens],
        atol=2e-3,
    )  # fmt: skip


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(subword_rare_offsets=np.array([0, 9, 3, 12], np.int64)), "increasing"),
        (dict(subword_rare_vectors=np.zeros((3, 4), np.float32)), "float16"),
        (dict(subword_rare_tokens=None), "subword_rare_tokens"),
        (dict(subword_rare_tokens=np.full(15, 0xFF, np.uint8)), "UTF-8"),
    ],
)
def test_damaged_rare_words_are_refused(rare_setup, tmp_path, change, needle):
    from cooc.pipeline import fold_in_words

    cooc, emb, s = rare_setup
    folded = fold_in_words(emb, cooc, s)
    assert folded.subwords.rare_tokens == ["walker", "talking", "zz"]  # 15 bytes
    folded.save(tmp_path / "v.npz")
    _rewrite(tmp_path / "v.npz", **change)
    with pytest.raises(InputError) as info:
        Embeddings.load(tmp_path / "v.npz")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_fold_in_refuses_bad_input(rare_setup):
    from cooc.pipeline import fold_in_words

    cooc, emb, s = rare_setup
    with pytest.raises(InputError, match="subword model"):
        fold_in_words(emb.with_subwords(None), cooc, s)
    with pytest.raises(InputError, match="singular_values"):
        fold_in_words(emb, cooc, s[:2])
    with pytest.raises(InputError, match="max_words"):
        fold_in_words(emb, cooc, s, max_words=-1)


def test_cli_gives_rare_words_vectors(run_cli, tmp_path):
    corpus = tmp_path / "c.txt"
    # "a b c" twice and "a b" once more: a, b at 3 and c at 2; "d" once
    corpus.write_text("a b c\na b c d\na b\n")
    out = tmp_path / "v.npz"
    r = run_cli(
        "embed", corpus, "--min-count", "3", "--rank", "1", "--subwords",
        "--subword-ngrams", "1:2", "-o", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert json.loads(r.stdout)["subwords"]["rare_words"] == 2
    emb = Embeddings.load(out)
    assert emb.tokens == ["a", "b"]
    assert sorted(emb.subwords.rare_tokens) == ["c", "d"]
    info = json.loads(run_cli("info", out, "--json").stdout)
    assert info["subwords"] == {
        "method": "centroid", "min_n": 1, "max_n": 2, "buckets": 2_000_000,
        "rare_words": 2,
    }  # fmt: skip
    r = run_cli(
        "embed", corpus, "--min-count", "3", "--rank", "1", "--subwords",
        "--rare-words", "1", "-o", out, "--quiet",
    )  # fmt: skip
    assert Embeddings.load(out).subwords.rare_tokens == ["c"]
    r = run_cli("embed", corpus, "--rare-words", "1", "-o", out)
    assert r.exit_code == 2 and "--rare-words applies with --subwords" in r.stderr
