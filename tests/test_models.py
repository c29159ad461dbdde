"""Tests for cooc.models: MultimodalFeatures and MultimodalClassifier."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from cooc.classify import load_model, save_model
from cooc.datasets import make_topic_corpus
from cooc.fusion import missing_modalities
from cooc.models import MultimodalClassifier, MultimodalFeatures, learned_weights


@pytest.fixture(scope="module")
def items():
    """60 items, 3 topics; text and image both carry the topic, the image weakly."""
    docs, labels = make_topic_corpus(60, n_topics=3, doc_length=6, random_state=1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 80, size=(60, 16, 16, 3))
    images[..., 0] += 80 * labels[:, None, None]  # redder for a higher topic
    frame = pd.DataFrame({"text": docs, "image": list(images.astype(np.uint8))})
    return frame, labels


# the bag of visual words (the default before issue 18): its blocks are checked
# exactly below; the default Fisher + colour image block has its own tests
BAG = dict(encoding="bow", pyramid=False, descriptor="hog+color", scales=(1,))


def small(**params):
    bag = {**BAG, "color_histogram": False}
    bag.update(params)
    return dict(n_visual_words=4, patch_size=8, step=4, random_state=0, **bag)


def test_features_blocks_and_text_block_match_tfidf(items):
    frame, _ = items
    features = MultimodalFeatures(**small()).fit(frame)
    X = features.transform(frame)
    assert sp.issparse(X) and X.shape == (60, features.n_features_out_)
    word = TfidfVectorizer(sublinear_tf=True).fit(frame["text"])
    char = TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5))
    char.fit(frame["text"])
    expected = sp.hstack([word.transform(frame["text"]), char.transform(frame["text"])])
    assert_allclose(X[:, features.blocks_["text"]].toarray(), expected.toarray())
    image = X[:, features.blocks_["image"]].toarray()
    assert image.shape[1] == 4
    assert_allclose(np.linalg.norm(image, axis=1), 1.0)  # TF-IDF rows, L2-normalised
    names = features.get_feature_names_out()
    assert names.size == X.shape[1] and names[-1] == "image:vw3"
    assert names[0].startswith("text:") and any(n.startswith("char:") for n in names)


def test_features_mark_missing_modalities(items):
    frame, _ = items
    features = MultimodalFeatures(**small(char_ngrams=None)).fit(frame)
    part = frame.iloc[:4].copy()
    part.loc[part.index[1], "text"] = "   "
    part.loc[part.index[2], "image"] = None
    X = features.transform(part)
    assert_array_equal(
        missing_modalities(X, features.blocks_),
        [[False, False], [True, False], [False, True], [False, False]],
    )
    # the complete rows are unchanged by the missing ones
    full = features.transform(frame.iloc[[0, 3]])
    assert_allclose(X[[0, 3]].toarray(), full.toarray())


def test_features_with_one_modality_only(items):
    frame, _ = items
    features = MultimodalFeatures(**small()).fit(frame[["text"]])
    assert features.blocks_["image"].stop == features.blocks_["image"].start
    assert features.transform(frame[["text"]]).shape[0] == 60
    with pytest.raises(ValueError, match="lacks both"):
        MultimodalFeatures(**small()).fit(pd.DataFrame({"text": [None, " "]}))
    with pytest.raises(ValueError, match="char_ngrams"):
        MultimodalFeatures(**small(char_ngrams=(3, 1))).fit(frame)


@pytest.mark.parametrize(
    ("fusion", "rule"),
    [
        ("early", "mean"),
        ("late", "mean"),
        ("late", "stack"),
        ("text", "mean"),
        ("image", "mean"),
    ],
)
def test_classifier_fusions_fit_predict_and_round_trip(items, fusion, rule, tmp_path):
    frame, y = items
    model = MultimodalClassifier(fusion=fusion, rule=rule, cv=2, **small())
    model.fit(frame, y)
    proba = model.predict_proba(frame)
    assert proba.shape == (60, 3)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(model.predict(frame), model.classes_[proba.argmax(axis=1)])
    floor = 0.5 if fusion == "image" else 0.8  # chance is 1/3
    assert (model.predict(frame) == y).mean() > floor
    expected = {"early": 2, "late": 2, "text": 1, "image": 1}[fusion]
    assert len(model.weights_) == expected
    path = tmp_path / "m.skops"
    save_model(model, path)
    loaded, _ = load_model(path)
    assert_allclose(loaded.predict_proba(frame), proba)


def test_classifier_handles_missing_modalities_at_fit_and_predict(items):
    frame, y = items
    holes = frame.copy()
    holes.loc[holes.index[:10], "text"] = None
    holes.loc[holes.index[10:20], "image"] = None
    for fusion in ("early", "late"):
        model = MultimodalClassifier(fusion=fusion, cv=2, **small()).fit(holes, y)
        pred = model.predict(holes)
        assert (pred == y).mean() > 0.7
        only_image = model.predict(frame.assign(text=None))
        assert only_image.shape == (60,)


def test_late_fusion_switches_off_a_useless_modality(items):
    frame, y = items
    noise = frame.copy()
    rng = np.random.default_rng(5)
    noise["image"] = list(rng.integers(0, 256, size=(60, 16, 16, 3)).astype(np.uint8))
    model = MultimodalClassifier(fusion="late", cv=3, **small()).fit(noise, y)
    # text alone is perfect out of fold, so the images cannot add anything
    assert learned_weights(model.model_, ["text", "image"])["text"] >= 0.5
    assert (model.predict(noise) == y).mean() == 1.0


def test_classifier_is_deterministic_and_clonable(items):
    frame, y = items
    a = MultimodalClassifier(cv=2, **small()).fit(frame, y)
    b = clone(a).fit(frame, y)
    assert_allclose(a.predict_proba(frame), b.predict_proba(frame))


def test_classifier_errors(items):
    frame, y = items
    with pytest.raises(ValueError, match="60 rows but 59 labels"):
        MultimodalClassifier(**small()).fit(frame, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        MultimodalClassifier(**small()).fit(frame, np.zeros(60))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        MultimodalClassifier(**small()).fit(np.zeros((60, 2)), y)


# -- the default image block (issue 18): Fisher vectors + colour histograms, SVD ------
def _default_small(**params):
    return dict(patch_size=8, step=4, n_components=4, random_state=0, **params)


def test_default_image_block_is_the_svd_of_fisher_and_colour(items):
    from sklearn.decomposition import TruncatedSVD

    from cooc.colorhist import ColorHistogram
    from cooc.vision import VisualWords

    frame, _ = items
    images = np.stack(frame["image"].to_list())
    for k in (None, 6):
        features = MultimodalFeatures(**_default_small(image_components=k)).fit(frame)
        image = features.transform(frame)[:, features.blocks_["image"]].toarray()
        vw = VisualWords(
            4,
            patch_size=8,
            step=4,
            encoding="fisher",
            pyramid=True,
            descriptor="hog+opponent",
            scales=(1, 2),
            random_state=0,
        ).fit(images)
        dense = np.hstack(
            [vw.transform(images), ColorHistogram().fit_transform(images)]
        )
        if k is None:
            assert_allclose(image, dense, rtol=1e-5, atol=1e-7)
            names = features.get_feature_names_out()
            assert names[-1] == "image:color111_q4" and names.size == image.shape[1] + (
                features.blocks_["text"].stop
            )
        else:
            svd = TruncatedSVD(6, algorithm="randomized", random_state=0).fit(dense)
            assert image.shape == (60, 6)
            assert_allclose(image, svd.transform(dense), rtol=1e-4, atol=1e-6)


def test_scales_that_do_not_fit_small_images_are_left_out(items):
    frame, _ = items  # 16 x 16 images: at scale 2 they are 8 x 8, under 12 px patches
    features = MultimodalFeatures(n_components=4, random_state=0).fit(frame)
    assert features.visual_words_.scales == (1,)
    assert features.transform(frame).shape == (60, features.n_features_out_)


def test_models_saved_before_the_image_settings_keep_the_bag(items):
    frame, _ = items
    old = MultimodalFeatures(**small())
    old.fit(frame)
    state = old.__getstate__()
    for name in (
        "n_components",
        "pyramid",
        "descriptor",
        "scales",
        "color_histogram",
        "image_components",
        "color_histogram_",
        "image_svd_",
    ):
        state.pop(name)
    state.pop("encoding")
    revived = MultimodalFeatures.__new__(MultimodalFeatures)
    revived.__setstate__(state)
    assert revived.encoding == "bow" and revived.color_histogram is False
    assert revived.get_params()["scales"] == (1,)
    assert_allclose(revived.transform(frame).toarray(), old.transform(frame).toarray())


def test_default_classifier_round_trips_through_skops(items, tmp_path):
    from cooc.models import MODEL_TYPES

    frame, y = items
    model = MultimodalClassifier(fusion="image", cv=2, **_default_small()).fit(frame, y)
    assert model.features_.image_svd_ is not None
    assert model.features_.color_histogram_ is not None
    save_model(model, tmp_path / "m.skops")
    loaded, _ = load_model(tmp_path / "m.skops", trusted=MODEL_TYPES)
    assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))
    assert (model.predict(frame) == y).mean() > 0.5  # chance is 1/3


def test_image_block_in_chunks_and_svd_from_a_sample(items, monkeypatch):
    import cooc.models as models

    frame, _ = items
    whole = MultimodalFeatures(**_default_small(image_components=5)).fit(frame)
    expected = whole.transform(frame).toarray()
    monkeypatch.setattr(models, "_IMAGE_CHUNK", 7)  # 60 images in 9 chunks
    assert_allclose(whole.transform(frame).toarray(), expected, rtol=1e-6, atol=1e-9)
    monkeypatch.setattr(models, "_SVD_SAMPLE", 20)
    sampled = MultimodalFeatures(**_default_small(image_components=5)).fit(frame)
    again = MultimodalFeatures(**_default_small(image_components=5)).fit(frame)
    block = sampled.blocks_["image"]
    assert sampled.image_svd_.components_.shape == whole.image_svd_.components_.shape
    assert_allclose(sampled.image_svd_.components_, again.image_svd_.components_)
    assert not np.allclose(
        sampled.transform(frame)[:, block].toarray(), expected[:, block]
    )  # learnt from 20 images, not 60


def test_fit_transform_reuses_the_image_block_it_fitted(items, monkeypatch):
    frame, _ = items
    features = MultimodalFeatures(**_default_small(image_components=6))
    calls = []
    encoded = MultimodalFeatures._encoded
    monkeypatch.setattr(
        MultimodalFeatures,
        "_encoded",
        lambda self, present: calls.append(len(present)) or encoded(self, present),
    )
    X = features._fit_transform(frame)
    assert calls == [60]  # the training images are encoded once
    assert_allclose(
        X.toarray(), features.transform(frame).toarray(), rtol=1e-5, atol=1e-7
    )
