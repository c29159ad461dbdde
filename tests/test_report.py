"""cooc report: each figure's data against its source (numpy references,
scikit-learn's metrics, cooc.evaluate), the HTML self-contained (no URL, every
image a non-blank PNG), the CLI's exit codes and one-line errors, atomic
writes, the TensorBoard projector pair of cooc export, and matplotlib loaded
only by the report."""

from __future__ import annotations

import base64
import collections
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.stats

pytest.importorskip("matplotlib")

from sklearn.base import clone

from cooc.classify import save_model
from cooc.cooccurrence import build_cooccurrence
from cooc.evaluate import evaluate_analogies, evaluate_similarity
from cooc.models import MultimodalClassifier
from cooc.pipeline import embed_cooccurrence
from cooc.report import (
    Report,
    assemble_report,
    build_report,
    corpus_section,
    input_kind,
    model_section,
    vectors_section,
    write_projector,
)
from cooc.vectors import Embeddings

N_WORDS = 40
RANK = 6


# -- data ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A Zipf corpus over 40 words, its .cooc and rank-6 vectors (.npz)."""
    folder = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(N_WORDS)]
    docs = [
        [words[j] for j in rng.zipf(1.4, size=rng.integers(2, 12)) % N_WORDS]
        for _ in range(600)
    ]
    text = folder / "corpus.txt"
    text.write_text("\n".join(" ".join(d) for d in docs) + "\n", encoding="utf-8")
    cooc = build_cooccurrence([text], min_count=1, window_size=3)
    emb, s = embed_cooccurrence(cooc, RANK, random_state=0)
    emb.singular_values = s
    cooc.save(folder / "corpus.cooc")
    emb.save(folder / "vectors.npz")
    emb.save(folder / "vectors.txt")
    sim = folder / "sim.txt"
    sim.write_text(
        "# word1 word2 score\nw0\tw1\t9\nw0\tw2\t7\nw1\tw3\t4\nw5\tw8\t2\n"
        "w2\tw9\t6\nw4\tunknownword\t5\nw6\tw7\t1\n",
        encoding="utf-8",
    )
    analogies = folder / "questions.txt"
    analogies.write_text(
        ": first\nw0 w1 w2 w3\nw1 w2 w3 w4\nw0 w2 w4 w6\n: second\n"
        "w5 w6 w7 w8\nw9 w10 w11 nosuchword\n",
        encoding="utf-8",
    )
    return {
        "folder": folder,
        "docs": docs,
        "cooc": cooc,
        "emb": emb,
        "sim": sim,
        "analogies": analogies,
    }


def dense_ppmi(counts, alpha=0.75):
    """PPMI by its formula on a dense array (the reference)."""
    X = np.asarray(counts, dtype=np.float64)
    total = X.sum()
    p_w = X.sum(axis=1, keepdims=True) / total
    col = X.sum(axis=0) ** alpha
    p_c = col / col.sum()
    with np.errstate(divide="ignore"):
        pmi = np.log(X / total) - np.log(p_w) - np.log(p_c)[None, :]
    return np.where(X > 0, np.maximum(pmi, 0.0), 0.0)


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A small image + text model on 3 colour classes; labels for evaluation with
    5 flipped, so that the model gets those 5 wrong."""
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(3)
    labels = np.repeat(list(COLOURS), 14)
    images = np.empty((labels.size, 16, 16, 3), dtype=np.uint8)
    texts = []
    for i, label in enumerate(labels):
        noise = rng.integers(-25, 25, size=(16, 16, 3))
        images[i] = np.clip(np.array(COLOURS[label]) + noise, 0, 255)
        texts.append(f"{label} thing {rng.choice(['small', 'big', 'round'])}")
    items = pd.DataFrame({"text": texts, "image": list(images)})
    model = MultimodalClassifier(
        n_visual_words=6, patch_size=4, step=4, cv=2, char_ngrams=None, random_state=0
    ).fit(items, labels)
    flipped = labels.copy()
    for i in (0, 15, 16, 30, 41):
        flipped[i] = {"red": "green", "green": "blue", "blue": "red"}[labels[i]]
    table = folder / "items.csv"
    pd.DataFrame({"text": texts, "label": flipped}).to_csv(table, index=False)
    npz = folder / "images.npz"
    np.savez(npz, images=images)
    path = folder / "model.skops"
    save_model(model, path, metadata={"label_column": "label"})
    return {
        "model": model,
        "items": items,
        "y": flipped,
        "table": table,
        "npz": npz,
        "path": path,
        "folder": folder,
    }


# -- the HTML --------------------------------------------------------------------------
def png_images(html_text):
    """Every <img>'s decoded PNG as an array (matplotlib reads it)."""
    import matplotlib.image

    srcs = re.findall(r'<img [^>]*src="([^"]*)"', html_text)
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        out.append(matplotlib.image.imread(io.BytesIO(raw), format="png"))
    return out


def check_self_contained(html_text, n_figures):
    for needle in ("http://", "https://"):  # (base64 has no ':')
        assert needle not in html_text.lower(), needle
    # the rest outside the images' base64, where '//CDN' could occur by chance
    markup = re.sub(r"base64,[A-Za-z0-9+/=]*", "base64,", html_text).lower()
    for needle in ("//cdn", "url(", "<script", "<link", 'src="//', "@import"):
        assert needle not in markup, needle
    assert len(re.findall(r"src=", markup)) == len(
        re.findall(r"data:image/png", markup)
    )
    assert len(re.findall(r"<figure data-figure=", html_text)) == n_figures
    images = png_images(html_text)
    assert len(images) == n_figures
    for pixels in images:
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
        assert float(pixels[..., :3].std()) > 0.01  # not blank


# -- a .cooc ---------------------------------------------------------------------------
def test_word_frequency_is_the_corpus_counts(corpus):
    sec = corpus_section(corpus["cooc"])
    data = sec.figure("word-frequency").data
    counted = collections.Counter(w for doc in corpus["docs"] for w in doc)
    assert data["count"].tolist() == sorted(counted.values(), reverse=True)
    assert data["rank"].tolist() == list(range(1, len(counted) + 1))
    facts = dict(sec.facts)
    assert facts["tokens"] == sum(counted.values())
    assert facts["documents"] == len(corpus["docs"])
    assert facts["non-zeros"] == corpus["cooc"].nnz
    assert facts["density"] == corpus["cooc"].nnz / len(counted) ** 2


def test_row_degree_counts_the_rows(corpus):
    dense = corpus["cooc"].matrix.toarray()
    degree = (dense != 0).sum(axis=1)
    data = corpus_section(corpus["cooc"]).figure("row-degree").data
    expected = collections.Counter(int(d) for d in degree if d > 0)
    assert (
        dict(zip(data["degree"].tolist(), data["n_rows"].tolist(), strict=True))
        == expected
    )
    assert data["empty_rows"] == int((degree == 0).sum())


def test_strongest_ppmi_pairs_match_a_dense_reference(corpus):
    cooc = corpus["cooc"]
    sec = corpus_section(cooc, top_pairs=5)
    (table,) = sec.tables
    ref = np.triu(dense_ppmi(cooc.matrix.toarray()), k=1)
    best = np.sort(ref.ravel())[::-1][:5]
    assert [row[2] for row in table.rows] == pytest.approx(best, abs=1e-4)
    tokens = cooc.vocabulary.tokens
    for w1, w2, value, count in table.rows:
        i, j = tokens.index(w1), tokens.index(w2)
        assert i < j and ref[i, j] == pytest.approx(value, abs=1e-4)
        assert count == cooc.matrix[i, j]


# -- vectors ---------------------------------------------------------------------------
def test_spectrum_is_the_singular_values_with_the_exact_energy(corpus):
    emb, cooc = corpus["emb"], corpus["cooc"]
    data = vectors_section(emb, cooc=cooc, map_words=0).figure("spectrum").data
    np.testing.assert_array_equal(data["singular_values"], emb.singular_values)
    # the total: the squared Frobenius norm of PPMI, = the sum of all s**2
    ref = dense_ppmi(cooc.matrix.toarray())
    all_s = np.linalg.svd(ref, compute_uv=False)
    assert data["total_energy"] == pytest.approx((ref**2).sum(), rel=1e-5)
    assert data["total_energy"] == pytest.approx((all_s**2).sum(), rel=1e-5)
    assert data["exact"] and data["rank"] == RANK
    np.testing.assert_allclose(
        data["cumulative_energy"],
        np.cumsum(all_s[:RANK] ** 2) / (all_s**2).sum(),
        rtol=1e-3,
    )
    assert 0 < data["cumulative_energy"][-1] < 1


@pytest.mark.parametrize(
    "kind", ["symmetric", "directional", "dynamic", "imported asymmetric"]
)
def test_a_cooc_file_is_read_in_row_blocks_with_the_same_result(
    corpus, kind, tmp_path, monkeypatch
):
    import cooc.matrix
    import cooc.report
    from cooc.pairs import import_pairs

    text = corpus["folder"] / "corpus.txt"
    path = tmp_path / "m.cooc"
    if kind == "imported asymmetric":
        rng = np.random.default_rng(1)
        lines = {(f"w{a}", f"w{b}"): int(rng.integers(1, 9))
                 for a, b in rng.integers(0, 25, size=(150, 2))}  # fmt: skip
        pairs = tmp_path / "p.tsv"
        pairs.write_text("word1\tword2\tvalue\n" + "".join(
            f"{a}\t{b}\t{v}\n" for (a, b), v in lines.items()))  # fmt: skip
        import_pairs(pairs).save(path)
    else:
        params = {"symmetric": {}, "directional": {"symmetric": False},
                  "dynamic": {"dynamic_window": True, "random_state": 0}}[kind]  # fmt: skip
        build_cooccurrence([text], min_count=1, window_size=3, **params).save(path)
    whole = cooc.matrix.load_cooc(path)
    expected = corpus_section(whole, top_pairs=400)
    # many small blocks, and the file is never loaded whole
    monkeypatch.setattr(cooc.report, "_BLOCK_NNZ", 37)
    monkeypatch.setattr(cooc.report, "_BLOCK_ROWS", 3)
    monkeypatch.setattr(cooc.matrix, "load_cooc", None)
    for top in (400, 7):
        got = corpus_section(path, top_pairs=top)
        assert got.facts == expected.facts
        assert [f.name for f in got.figures] == [f.name for f in expected.figures]
        for fig, ref in zip(got.figures, expected.figures, strict=True):
            for key, value in ref.data.items():
                np.testing.assert_array_equal(fig.data[key], value)
        assert got.tables[0].rows == expected.tables[0].rows[:top]
    assert len(expected.tables[0].rows) > 7
    if kind == "symmetric":  # the energy of the spectrum, summed over blocks
        emb = corpus["emb"]
        data = vectors_section(emb, cooc=path, map_words=0).figure("spectrum").data
        ref = vectors_section(emb, cooc=whole, map_words=0).figure("spectrum").data
        assert data["total_energy"] == pytest.approx(ref["total_energy"], rel=1e-9)
        report = build_report([path, corpus["folder"] / "vectors.npz"], map_words=0)
        assert report.section("corpus").facts == expected.facts


def test_spectrum_without_the_cooc_is_relative_to_the_kept_values(corpus):
    emb = Embeddings.load(corpus["folder"] / "vectors.npz")
    sec = vectors_section(emb, map_words=0)
    data = sec.figure("spectrum").data
    assert not data["exact"]
    assert data["cumulative_energy"][-1] == pytest.approx(1.0)
    assert "relative to the kept" in sec.figure("spectrum").caption


def test_word2vec_vectors_have_no_spectrum_and_say_so(corpus):
    emb = Embeddings.load(corpus["folder"] / "vectors.txt")
    sec = vectors_section(emb, map_words=0)
    assert [f.name for f in sec.figures] == []
    assert any("No singular values" in n for n in sec.notes)


def test_a_cooc_of_other_words_is_refused(corpus):
    other = Embeddings(["zz", "yy", "xx"], np.eye(3, 2))
    other.singular_values = np.array([2.0, 1.0])
    with pytest.raises(ValueError, match="the vectors hold the word 'zz'"):
        vectors_section(other, cooc=corpus["cooc"], map_words=0)


def test_word_map_and_neighbours(corpus):
    emb = corpus["emb"]
    sec = vectors_section(emb, words=["w3", "w0"], map_words=30, random_state=1)
    data = sec.figure("word-map").data
    assert data["words"] == emb.tokens[:30]
    assert data["xy"].shape == (30, 2) and np.isfinite(data["xy"]).all()
    assert data["method"] in ("t-SNE", "UMAP")
    assert data["labelled"][0] == emb.tokens[0]
    assert 1 <= len(data["labelled"]) <= 30 and set(data["labelled"]) <= set(
        data["words"]
    )
    (table,) = sec.tables
    assert [row[0] for row in table.rows] == ["w3", "w0"]
    first = [p.split(" (")[0] for p in table.rows[0][1].split(", ")]
    assert first == [w for w, _ in emb.most_similar("w3", 8)]
    again = vectors_section(emb, words=["w3"], map_words=30, random_state=1)
    np.testing.assert_array_equal(again.figure("word-map").data["xy"], data["xy"])


def test_unknown_word_is_refused(corpus):
    with pytest.raises(KeyError, match="--words: 'nope'"):
        vectors_section(corpus["emb"], words=["nope"], map_words=0)


def test_benchmarks_agree_with_cooc_evaluate(corpus):
    emb = corpus["emb"]
    report = assemble_report(
        embeddings=emb,
        similarity=[corpus["sim"]],
        analogy=[corpus["analogies"]],
        map_words=0,
    )
    sec = report.section("benchmarks")
    data = sec.figure("similarity-1").data
    expected = evaluate_similarity(emb, corpus["sim"])
    assert data["spearman"] == expected["spearman"]
    assert data["coverage"] == expected["coverage"]
    rho = scipy.stats.spearmanr(data["human"], data["cosine"]).statistic
    assert rho == pytest.approx(expected["spearman"])
    assert data["human"].tolist() == [9, 7, 4, 2, 6, 1]  # the covered pairs
    assert data["cosine"][0] == pytest.approx(emb.similarity("w0", "w1"), abs=1e-6)
    analogy = sec.figure("analogy-1").data
    result = evaluate_analogies(emb, corpus["analogies"])
    assert analogy["sections"] == list(result["per_section"])
    np.testing.assert_array_equal(
        analogy["accuracy"], [result["per_section"][s] for s in analogy["sections"]]
    )


# -- a model ---------------------------------------------------------------------------
def test_model_figures_agree_with_sklearn(classifier):
    from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

    model, items, y = classifier["model"], classifier["items"], classifier["y"]
    sec = model_section(model, items, y)
    pred = model.predict(items)
    labels = sorted(COLOURS)
    data = sec.figure("confusion").data
    assert data["labels"] == labels
    np.testing.assert_array_equal(
        data["confusion"], confusion_matrix(y, pred, labels=labels)
    )
    assert np.trace(data["confusion"]) == (pred == y).sum()
    expected = classification_report(y, pred, output_dict=True, zero_division=0)
    table = sec.tables[0]
    for row in table.rows[: len(labels)]:
        r = expected[row[0]]
        assert row[1:] == [r["precision"], r["recall"], r["f1-score"], r["support"]]
    assert sec.figure("modality-weights").data["weights"] == model.weights_
    assert sec.figure("modality-weights").title == "Learned modality weights"
    proba = model.predict_proba(items)
    roc = sec.figure("roc").data
    for j, c in enumerate(model.classes_):
        assert roc["auc"][c] == pytest.approx(roc_auc_score(y == c, proba[:, j]))
    grid = sec.figure("misclassified").data
    wrong = np.flatnonzero(pred != y)
    assert grid["rows"].tolist() == wrong.tolist() and wrong.size >= 5
    assert grid["true"] == y[wrong].tolist()
    assert grid["predicted"] == pred[wrong].tolist()
    text_only = items.iloc[wrong].assign(image=None)
    image_only = items.iloc[wrong].assign(text=None)
    assert grid["text_guess"] == model.predict(text_only).tolist()
    assert grid["image_guess"] == model.predict(image_only).tolist()


def test_model_report_from_the_cli(classifier, run_cli, tmp_path):
    out = tmp_path / "model.html"
    r = run_cli(
        "report",
        classifier["path"],
        "--table",
        classifier["table"],
        "--images",
        classifier["npz"],
        "-o",
        out,
        "--json",
        "-q",
    )
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert r.stderr == ""
    summary = json.loads(r.stdout)
    figures = summary["sections"]["model"]["figures"]
    assert figures == ["confusion", "modality-weights", "roc", "misclassified"]
    check_self_contained(out.read_text(encoding="utf-8"), len(figures))
    assert summary["bytes"] == out.stat().st_size


# -- the whole report, the CLI ---------------------------------------------------------
def test_full_report_is_self_contained(corpus, run_cli, tmp_path):
    f = corpus["folder"]
    out = tmp_path / "report.html"
    r = run_cli(
        "report",
        f / "corpus.cooc",
        f / "vectors.npz",
        "--similarity",
        corpus["sim"],
        "--analogy",
        corpus["analogies"],
        "--map-words",
        "30",
        "--words",
        "w1,w2",
        "-o",
        out,
    )
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert "wrote" in r.stderr and "n_figures" in r.stdout
    text = out.read_text(encoding="utf-8")
    check_self_contained(text, 6)
    for name in (
        "word-frequency",
        "row-degree",
        "spectrum",
        "word-map",
        "similarity-1",
    ):
        assert f'data-figure="{name}"' in text
    assert 'data-table="ppmi-pairs"' in text and 'data-table="neighbours"' in text


def test_inputs_are_told_apart_by_content(corpus, classifier, tmp_path):
    f = corpus["folder"]
    renamed = tmp_path / "matrix.bin"
    renamed.write_bytes((f / "corpus.cooc").read_bytes())
    assert input_kind(renamed) == "cooc"
    assert input_kind(f / "vectors.npz") == "vectors"
    assert input_kind(f / "vectors.txt") == "vectors"
    assert input_kind(classifier["path"]) == "model"
    report = build_report([renamed], map_words=0)
    assert [s.name for s in report.sections] == ["corpus"]


def bad(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_bad_inputs_fail_in_one_line(corpus, classifier, run_cli, tmp_path):
    f = corpus["folder"]
    out = tmp_path / "r.html"
    bad(
        run_cli("report", f / "vectors.npz", f / "vectors.txt", "-o", out),
        "second vectors",
    )
    bad(
        run_cli("report", f / "corpus.cooc", "--similarity", corpus["sim"], "-o", out),
        "need a vectors input",
    )
    bad(run_cli("report", classifier["path"], "-o", out), "needs --table")
    bad(
        run_cli("report", f / "vectors.npz", "--table", classifier["table"], "-o", out),
        "needs a model",
    )
    bad(run_cli("report", f / "vectors.npz", "--words", "w1,nope", "-o", out), "nope")
    bad(run_cli("report", f / "vectors.npz", "--words", ",", "-o", out), "--words")
    bad(run_cli("report", f / "vectors.npz", "-o", tmp_path / "no" / "r.html"), "no")
    junk = tmp_path / "junk.txt"
    junk.write_text("not vectors at all\n", encoding="utf-8")
    bad(run_cli("report", junk, "-o", out), "junk.txt")
    assert not out.exists()


def test_missing_matplotlib_names_the_extra(corpus, run_cli, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    r = run_cli("report", corpus["folder"] / "vectors.npz", "-o", tmp_path / "r.html")
    bad(r, "pip install 'cooc[plot]'")


def test_written_atomically(corpus, run_cli, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old report", encoding="utf-8")
    r = run_cli(
        "report", corpus["folder"] / "vectors.npz", "--words", "nope", "-o", out
    )
    bad(r, "nope")
    assert out.read_text(encoding="utf-8") == "old report"
    report = Report("t")
    report.sections.append(vectors_section(corpus["emb"], map_words=0))

    class Boom(Exception):
        pass

    def failing():
        raise Boom

    report.to_html = failing
    with pytest.raises(Boom):
        report.save(out)
    assert out.read_text(encoding="utf-8") == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary left


def test_matplotlib_is_imported_only_by_the_report():
    code = (
        "import sys, cooc, cooc.cli, cooc.report, cooc.demo\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "import numpy as np\n"
        "from cooc.vectors import Embeddings\n"
        "emb = Embeddings(['a', 'b', 'c'], np.eye(3, 2))\n"
        "emb.singular_values = np.array([2.0, 1.0])\n"
        "sec = cooc.report.vectors_section(emb, map_words=0)\n"
        "assert sec.figure('spectrum').png.startswith(b'\\x89PNG')\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot: global state'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the TensorBoard projector pair ----------------------------------------------------
def test_projector_pair(corpus, run_cli, tmp_path):
    emb = corpus["emb"]
    r = run_cli(
        "export", corpus["folder"] / "vectors.npz", "--projector", tmp_path / "emb"
    )
    assert r.exit_code == 0, (r.stderr, r.exception)
    vectors = np.loadtxt(tmp_path / "emb_vectors.tsv", delimiter="\t", dtype=np.float64)
    np.testing.assert_allclose(vectors, emb.vectors, rtol=1e-5, atol=1e-6)
    lines = (tmp_path / "emb_metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == emb.tokens  # one word a line, no header (a single column)
    first = (tmp_path / "emb_vectors.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert len(first.split("\t")) == emb.dim


def test_projector_errors(corpus, run_cli, tmp_path):
    v = corpus["folder"] / "vectors.npz"
    bad(
        run_cli("export", v, "--projector", tmp_path / "e", "-o", tmp_path / "p.tsv"),
        "not both",
    )
    bad(run_cli("export", v), "not both nor neither")
    bad(run_cli("export", v, "--projector", tmp_path / "e", "--top-k", "3"), "--top-k")
    bad(
        run_cli(
            "export", corpus["folder"] / "corpus.cooc", "--projector", tmp_path / "e"
        ),
        "not word vectors",
    )
    tabbed = Embeddings(["a\tb", "c"], np.eye(2))
    with pytest.raises(ValueError, match="tab or a line break"):
        write_projector(tabbed, tmp_path / "t")
    assert not list(tmp_path.iterdir())


# -- the demo's report -----------------------------------------------------------------
def test_demo_report_of_the_image_part(run_cli, tmp_path, monkeypatch):
    import cooc.datasets

    full = cooc.datasets.load_emoji

    def subset(**kwargs):
        images, frame = full(**kwargs)  # 20 items of each category
        keep = frame.groupby("category").head(20).index.to_numpy()
        return images[keep], frame.iloc[keep].reset_index(drop=True)

    monkeypatch.setattr(cooc.datasets, "load_emoji", subset)
    out = tmp_path / "demo.html"
    r = run_cli(
        "demo", "--only", "multimodal", "--folds", "2", "--report", out, "-q", "--json"
    )
    assert r.exit_code == 0, (r.stderr, r.exception)
    result = json.loads(r.stdout)
    assert result["report"]["bytes"] == out.stat().st_size
    text = out.read_text(encoding="utf-8")
    check_self_contained(text, text.count("<figure "))
    for name in ("confusion", "modality-weights", "roc"):
        assert f'data-figure="{name}"' in text


def test_demo_report_of_the_text_part(run_cli, tmp_path):
    out = tmp_path / "demo.html"
    r = run_cli("demo", "--only", "text", "--rank", "16", "--report", out, "-q")
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert r.stderr == ""
    text = out.read_text(encoding="utf-8")
    check_self_contained(text, text.count("<figure "))
    for name in ("word-frequency", "row-degree", "spectrum", "word-map"):
        assert f'data-figure="{name}"' in text
    assert "<td>whale</td>" in text  # the demo's words in the neighbour table


def test_imported_cooc_without_counts(run_cli, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "word1\tword2\tvalue\na\tb\t3\nb\tc\t1\nc\ta\t2\n", encoding="utf-8"
    )
    assert run_cli("import", pairs, "-o", tmp_path / "m.cooc", "-q").exit_code == 0
    report = build_report([tmp_path / "m.cooc"])
    sec = report.section("corpus")
    assert [f.name for f in sec.figures] == ["row-degree"]
    assert any("no word counts" in n for n in sec.notes)
    data = sec.figure("row-degree").data
    assert data["degree"].tolist() == [1] and data["n_rows"].tolist() == [3]
    (table,) = sec.tables
    assert len(table.rows) == 3  # a->b, b->c, c->a: a directed triangle, all positive


def test_a_mismatched_weighting_is_noted(corpus):
    emb = corpus["emb"]
    big = Embeddings(emb.tokens, emb.vectors)
    big.singular_values = emb.singular_values * 100
    sec = vectors_section(big, cooc=corpus["cooc"], map_words=0)
    assert sec.figure("spectrum").data["cumulative_energy"][-1] > 1
    assert any("were not embedded from this .cooc" in n for n in sec.notes)


def test_words_with_dollar_signs_are_drawn_as_text():
    # "$...$" would be matplotlib mathtext, and "$\notacommand$" an error there
    words = ["$\\notacommand$", "a$b$c", "$5", "plain", "w", "x", "y"]
    emb = Embeddings(words, np.random.default_rng(0).normal(size=(7, 4)))
    sec = vectors_section(emb, map_words=7, words=["$5"])
    data = sec.figure("word-map").data
    assert data["labelled"][0] == "$\\notacommand$"
    assert sec.tables[0].rows[0][0] == "$5"


def test_stacked_model_weights_are_captioned_as_coefficient_shares(classifier):
    # 4 classes: the text tells class // 2, the colour class % 2, so only
    # both together classify (stacking beats either modality alone)
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(4), 15)
    texts = [f"{'north' if c // 2 else 'south'} item {rng.integers(9)}" for c in y]
    base = np.where((y % 2)[:, None], [200, 40, 40], [40, 40, 200])
    noise = rng.integers(-20, 20, size=(y.size, 16, 16, 3))
    images = np.clip(base[:, None, None, :] + noise, 0, 255).astype(np.uint8)
    items = pd.DataFrame({"text": texts, "image": list(images)})
    model = clone(classifier["model"]).set_params(fusion="late", rule="stack")
    model.fit(items, y)
    assert model.model_.meta_ is not None
    sec = model_section(model, items, y)
    fig = sec.figure("modality-weights")
    assert fig.data["weights"] == model.weights_
    assert sum(fig.data["weights"].values()) == pytest.approx(1.0)
    assert "share of the absolute coefficients" in fig.title
