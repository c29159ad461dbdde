"""`cooc fit` on text alone, and small model files (issue 13, tasks 1-3).

* A table without an image column (and no ``--images``) trains a text-only
  model, says so on stderr, and ``cooc predict`` runs on tables without images.
* Model files store the TF-IDF vocabularies packed (two arrays instead of a
  dict that skops writes entry by entry into its JSON) and deflated: the
  predictions of a model saved the old way and the new way are identical, the
  new file is a fraction of the old one's size and old files still load.
* skops and Pillow are core dependencies; the extras stay as aliases.
"""

from __future__ import annotations

import json
import pickle
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn import config_context
from sklearn.base import BaseEstimator

from cooc.classify import load_model, save_model
from cooc.datasets import load_emoji, make_topic_corpus
from cooc.models import (
    MODEL_TYPES,
    MultimodalClassifier,
    MultimodalFeatures,
    _pack_vocabulary,
    _unpack_vocabulary,
)

ROOT = Path(__file__).resolve().parents[1]


def ok(result):
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    return result


def bad_input(result, *needles):
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def emoji_items():
    """300 emoji (every 6th row: all 9 categories) with text and image."""
    images, frame = load_emoji()
    rows = np.arange(0, len(frame), 6)[:300]
    items = pd.DataFrame(
        {"text": frame["text"].to_numpy()[rows], "image": list(images[rows])}
    )
    return items, frame["category"].to_numpy(dtype=str)[rows]


def save_old_format(model, path, monkeypatch):
    """``save_model`` as cooc wrote models before: format version 1,
    vocabularies as plain dicts, zip members stored (not deflated)."""
    with monkeypatch.context() as m:
        m.setattr("cooc.classify.MODEL_FORMAT_VERSION", 1)
        m.setattr(MultimodalFeatures, "__getstate__", BaseEstimator.__getstate__)
        m.setattr(
            "cooc.classify.zipfile",
            types.SimpleNamespace(ZIP_DEFLATED=zipfile.ZIP_STORED),
        )
        save_model(model, path, metadata={"label_column": "label"})


# -- cooc fit / predict on text alone -------------------------------------------------
@pytest.fixture
def text_table(tmp_path):
    docs, labels = make_topic_corpus(60, n_topics=3, doc_length=8, random_state=3)
    path = tmp_path / "texts.csv"
    pd.DataFrame({"text": docs, "label": labels}).to_csv(path, index=False)
    return path, docs, labels


def test_fit_without_image_column_trains_text_only(run_cli, text_table, tmp_path):
    path, docs, labels = text_table
    model_path = tmp_path / "m.skops"
    r = ok(
        run_cli("fit", path, "--label-column", "label", "--cv", "2", "-o", model_path)
    )
    assert "no image column: text only" in r.stderr
    model, meta = load_model(model_path, trusted=MODEL_TYPES)
    assert model.fusion == "text" and model.weights_ == {"text": 1.0}
    assert model.features_.visual_words_ is None
    assert meta == {"label_column": "label"}
    # the same model as the library's text-only classifier
    expected = MultimodalClassifier(fusion="text", cv=2, random_state=0).fit(
        pd.DataFrame({"text": docs}), labels.astype(str)
    )
    frame = pd.DataFrame({"text": docs})
    assert_array_equal(model.predict_proba(frame), expected.predict_proba(frame))

    # predict on a table without images and without labels
    new = tmp_path / "new.csv"
    pd.DataFrame({"text": docs[:7]}).to_csv(new, index=False)
    r = ok(run_cli("predict", model_path, new, "-o", tmp_path / "p.csv", "--json"))
    assert json.loads(r.stdout)["n_items"] == 7
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert_array_equal(pred["prediction"].astype(str), expected.predict(frame.iloc[:7]))
    # an image column of the table is not needed by a text-only model, nor read
    with_paths = tmp_path / "with_paths.csv"
    pd.DataFrame({"text": docs[:7], "image": ["missing.png"] * 7}).to_csv(
        with_paths, index=False
    )
    ok(run_cli("predict", model_path, with_paths, "-o", tmp_path / "p2.csv"))
    assert_array_equal(pd.read_csv(tmp_path / "p2.csv"), pred)


def test_fit_text_only_with_empty_image_column_option_says_so(
    run_cli, text_table, tmp_path
):
    path, _, _ = text_table
    r = ok(
        run_cli(
            "fit", path, "--label-column", "label", "--image-column", "",
            "--cv", "2", "-o", tmp_path / "m.skops",
        )
    )  # fmt: skip
    assert "no image column: text only" in r.stderr


def test_fit_refuses_what_needs_images(run_cli, text_table, tmp_path):
    path, _, _ = text_table
    out = tmp_path / "m.skops"
    # an image column asked for by name must exist
    bad_input(
        run_cli(
            "fit", path, "--label-column", "label", "--image-column", "photo",
            "-o", out,
        ),
        "photo",
    )  # fmt: skip
    bad_input(
        run_cli("fit", path, "--label-column", "label", "--fusion", "image", "-o", out),
        "--fusion image",
        "images",
    )
    assert not out.exists()


def test_image_model_still_needs_its_images(run_cli, tmp_path):
    docs, labels = make_topic_corpus(40, n_topics=2, random_state=0)
    rng = np.random.default_rng(0)
    bright = 150 * labels[:, None, None, None]
    images = rng.integers(0, 60, size=(40, 12, 12, 3)) + bright
    np.savez(tmp_path / "imgs.npz", images=images.astype(np.uint8))
    table = tmp_path / "items.csv"
    pd.DataFrame({"text": docs, "label": labels}).to_csv(table, index=False)
    model = tmp_path / "m.skops"
    r = ok(
        run_cli(
            "fit", table, "--label-column", "label", "--images", tmp_path / "imgs.npz",
            "--words", "4", "--cv", "2", "-o", model,
        )
    )  # fmt: skip
    assert "text only" not in r.stderr
    bad_input(run_cli("predict", model, table, "-o", tmp_path / "p.csv"), "image")


# -- small model files with the same predictions --------------------------------------
def test_vocabulary_packing_round_trip():
    terms = ["a", "", " x", "café", "日本", "\x00nul", "e\u0301", "\ud800"]
    terms.append("zz" * 40)
    vocabulary = {t: j for j, t in enumerate(reversed(terms))}
    packed = _pack_vocabulary(vocabulary)
    assert packed["utf8"].dtype == np.uint8 and packed["lengths"].dtype == np.int64
    assert _unpack_vocabulary(packed) == vocabulary
    # numpy integer columns (TfidfVectorizer's max_features) pack the same
    assert (
        _pack_vocabulary({t: np.int64(j) for t, j in vocabulary.items()})[
            "lengths"
        ].tolist()
        == packed["lengths"].tolist()
    )
    # columns that are not 0..n-1 are left as a dict
    assert _pack_vocabulary({"a": 0, "b": 2}) is None
    assert _pack_vocabulary({"a": 1, "b": 1}) is None


def test_features_pickle_keeps_the_vocabularies(emoji_items):
    items, _ = emoji_items
    features = MultimodalFeatures(n_visual_words=8, random_state=0).fit(items)
    state = features.__getstate__()
    packed = state["_packed_vocabularies"]
    assert set(packed) == {"text_vectorizer_", "char_vectorizer_"}
    assert not hasattr(state["text_vectorizer_"], "vocabulary_")
    assert hasattr(features.text_vectorizer_, "vocabulary_")  # self is untouched
    copy = pickle.loads(pickle.dumps(features))
    assert copy.text_vectorizer_.vocabulary_ == features.text_vectorizer_.vocabulary_
    assert copy.char_vectorizer_.vocabulary_ == features.char_vectorizer_.vocabulary_
    assert not hasattr(copy, "_packed_vocabularies")
    assert (copy.transform(items) != features.transform(items)).nnz == 0


@pytest.mark.parametrize("images", [False, True], ids=["text", "text+image"])
def test_old_and_new_model_files_predict_identically(
    emoji_items, tmp_path, monkeypatch, images
):
    items, y = emoji_items
    if not images:
        items = items[["text"]]
    # the bag of visual words: what is measured here is the packing of the text
    # vocabularies (the default image block adds an SVD's components to both files)
    bag = dict(encoding="bow", pyramid=False, scales=(1,), color_histogram=False)
    model = MultimodalClassifier(
        fusion="early" if images else "text",
        n_visual_words=16,
        cv=2,
        random_state=0,
        **bag,
    ).fit(items, y)
    old, new = tmp_path / "old.skops", tmp_path / "new.skops"
    save_old_format(model, old, monkeypatch)
    save_model(model, new, metadata={"label_column": "label"})
    old_model, old_meta = load_model(old, trusted=MODEL_TYPES)  # old files load
    new_model, new_meta = load_model(new, trusted=MODEL_TYPES)
    assert old_meta == new_meta == {"label_column": "label"}
    expected = model.predict_proba(items)
    assert_array_equal(old_model.predict_proba(items), expected)
    assert_array_equal(new_model.predict_proba(items), expected)
    assert_array_equal(new_model.predict(items), model.predict(items))
    for name in ("text_vectorizer_", "char_vectorizer_"):
        assert (
            getattr(new_model.features_, name).vocabulary_
            == getattr(model.features_, name).vocabulary_
        )
    # 300 short texts: 8,000 character n-grams, ~400 bytes each in skops' JSON
    old_size, new_size = old.stat().st_size, new.stat().st_size
    assert new_size * 5 < old_size, (old_size, new_size)
    with zipfile.ZipFile(new) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_unknown_model_format_version_is_refused(tmp_path, monkeypatch):
    docs, labels = make_topic_corpus(30, n_topics=2, random_state=0)
    model = MultimodalClassifier(fusion="text", cv=2, random_state=0)
    model.fit(pd.DataFrame({"text": docs}), labels)
    monkeypatch.setattr("cooc.classify.MODEL_FORMAT_VERSION", 99)
    save_model(model, tmp_path / "future.skops")
    with pytest.raises(ValueError, match="format version 99.*upgrade cooc"):
        load_model(tmp_path / "future.skops", trusted=MODEL_TYPES)


def test_stop_words_are_not_stored(emoji_items):
    """scikit-learn < 1.9 keeps the terms max_features pruned in stop_words_."""
    items, _ = emoji_items
    items = items[["text"]]
    features = MultimodalFeatures(max_text_features=50).fit(items)
    assert not hasattr(features.text_vectorizer_, "stop_words_")
    features.text_vectorizer_.stop_words_ = {"pruned", "terms"}  # as old sklearn
    copy = pickle.loads(pickle.dumps(features))
    assert not hasattr(copy.text_vectorizer_, "stop_words_")
    assert (copy.transform(items) != features.transform(items)).nnz == 0


def test_model_ignores_global_pandas_output(emoji_items):
    items, y = emoji_items
    model = MultimodalClassifier(n_visual_words=8, cv=2, random_state=0)
    expected = model.fit(items, y).predict_proba(items)
    with config_context(transform_output="pandas"):
        model2 = MultimodalClassifier(n_visual_words=8, cv=2, random_state=0)
        assert_array_equal(model2.fit(items, y).predict_proba(items), expected)


# -- dependencies ----------------------------------------------------------------------
def test_skops_and_pillow_are_core_dependencies():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {d.split(">")[0].split("=")[0].strip() for d in project["dependencies"]}
    assert {"skops", "pillow"} <= core
    extras = project["optional-dependencies"]
    assert extras["skops"] == ["skops>=0.10"] and extras["vision"] == ["pillow>=10"]
