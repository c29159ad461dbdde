"""Ready multimodal classifiers over tables of (text, image) items.

:class:`MultimodalFeatures` turns a table with a text column and an image
column into one dense matrix with two blocks (TF-IDF of the words | TF-IDF of
the visual words); a missing text or image gives a row of NaN in its block, so
the fusion estimators of :mod:`cooc.fusion` see which modality is absent.
:class:`MultimodalClassifier` chains it with early or late fusion and a
classifier from :mod:`cooc.classify`; it is what ``cooc fit`` trains.
"""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from cooc._compat import Interval, StrOptions, _fit_context, check_is_fitted
from cooc.classify import make_classifier
from cooc.fusion import LateFusionClassifier, make_early_fusion
from cooc.vision import VisualWords, check_images

__all__ = ["MultimodalClassifier", "MultimodalFeatures", "split_modalities"]

FUSIONS = ("late", "early", "text", "image")


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def split_modalities(X, text_column="text", image_column="image"):
    """Texts (None where missing) and a list of image arrays (None where missing).

    ``X`` is a pandas DataFrame; either column may be absent (the modality is
    then missing for every row).
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"expected a pandas DataFrame with columns {text_column!r} and/or "
            f"{image_column!r}, got {type(X).__name__}."
        )
    if text_column not in X.columns and image_column not in X.columns:
        raise ValueError(
            f"neither text column {text_column!r} nor image column {image_column!r} "
            f"is in the table (columns: {list(X.columns)})."
        )
    n = len(X)
    texts = [None] * n
    images = [None] * n
    if text_column in X.columns:
        texts = [None if _missing(t) else str(t) for t in X[text_column]]
    if image_column in X.columns:
        images = [
            None if (v is None or (np.ndim(v) == 0)) else v for v in X[image_column]
        ]
    return texts, images


class MultimodalFeatures(TransformerMixin, BaseEstimator):
    """Text and image columns → one dense matrix ``[text block | image block]``.

    The text block is a sublinear TF-IDF of the words; the image block is the
    TF-IDF of the bag of visual words (:class:`cooc.vision.VisualWords`). Rows
    whose text (image) is missing hold NaN in the text (image) block.

    Parameters
    ----------
    text_column, image_column : str, default="text", "image"
        Column names; the image column holds arrays ``(H, W[, C])`` or None.
    max_text_features : int, default=20000
        Vocabulary cap of the TF-IDF.
    n_visual_words : int, default=512
        Codebook size.
    patch_size, step : int, default=8, 4
        Patch grid of the visual words.
    random_state : int or None, default=None

    Attributes
    ----------
    blocks_ : dict
        ``{"text": slice, "image": slice}`` of the output columns.
    text_vectorizer_, visual_words_, visual_tfidf_ : fitted parts (or None).
    """

    _parameter_constraints: ClassVar[dict] = {
        "text_column": [str],
        "image_column": [str],
        "max_text_features": [Interval(Integral, 1, None, closed="left")],
        "n_visual_words": [Interval(Integral, 2, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        text_column="text",
        image_column="image",
        *,
        max_text_features=20000,
        n_visual_words=512,
        patch_size=8,
        step=4,
        random_state=None,
    ):
        self.text_column = text_column
        self.image_column = image_column
        self.max_text_features = max_text_features
        self.n_visual_words = n_visual_words
        self.patch_size = patch_size
        self.step = step
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        texts, images = split_modalities(X, self.text_column, self.image_column)
        have_text = [t for t in texts if t is not None]
        have_image = [im for im in images if im is not None]
        if not have_text and not have_image:
            raise ValueError(
                "every row lacks both its text and its image; nothing to learn."
            )
        self.text_vectorizer_ = None
        if have_text:
            self.text_vectorizer_ = TfidfVectorizer(
                sublinear_tf=True, max_features=self.max_text_features
            ).fit(have_text)
        self.visual_words_ = None
        self.visual_tfidf_ = None
        if have_image:
            arrays = check_images(have_image)
            self.visual_words_ = VisualWords(
                self.n_visual_words,
                patch_size=self.patch_size,
                step=self.step,
                random_state=self.random_state,
            ).fit(arrays)
            self.visual_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(
                self.visual_words_.transform(arrays)
            )
        n_text = len(self.text_vectorizer_.vocabulary_) if self.text_vectorizer_ else 0
        n_image = self.n_visual_words if self.visual_words_ is not None else 0
        self.blocks_ = {
            "text": slice(0, n_text),
            "image": slice(n_text, n_text + n_image),
        }
        self.n_features_out_ = n_text + n_image
        return self

    def transform(self, X):
        check_is_fitted(self)
        texts, images = split_modalities(X, self.text_column, self.image_column)
        n = len(texts)
        out = np.full((n, self.n_features_out_), np.nan, dtype=np.float64)
        rows = [i for i, t in enumerate(texts) if t is not None]
        if self.text_vectorizer_ is not None and rows:
            block = self.text_vectorizer_.transform([texts[i] for i in rows]).toarray()
            out[
                np.asarray(rows)[:, None],
                np.arange(self.blocks_["text"].start, self.blocks_["text"].stop),
            ] = block
        rows = [i for i, im in enumerate(images) if im is not None]
        if self.visual_words_ is not None and rows:
            arrays = check_images([images[i] for i in rows])
            bovw = self.visual_tfidf_.transform(
                self.visual_words_.transform(arrays)
            ).toarray()
            out[
                np.asarray(rows)[:, None],
                np.arange(self.blocks_["image"].start, self.blocks_["image"].stop),
            ] = bovw
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        names = []
        if self.text_vectorizer_ is not None:
            names += [
                f"text:{w}" for w in self.text_vectorizer_.get_feature_names_out()
            ]
        if self.visual_words_ is not None:
            names += [f"image:vw{k}" for k in range(self.n_visual_words)]
        return np.asarray(names, dtype=object)


class MultimodalClassifier(ClassifierMixin, BaseEstimator):
    """Classify (text, image) items with learned-weight fusion.

    Parameters
    ----------
    text_column, image_column : str, default="text", "image"
    fusion : {"late", "early", "text", "image"}, default="late"
        ``"late"``: one classifier per modality, probabilities combined with
        weights learned by cross-validation (:class:`cooc.fusion.
        LateFusionClassifier`); ``"early"``: weighted concatenation with the
        weights chosen by grid search (:func:`cooc.fusion.make_early_fusion`);
        ``"text"``/``"image"``: one modality alone.
    rule : {"mean", "product", "vote"}, default="mean"
        How late fusion combines probabilities.
    classifier : {"logreg", "linear_svm", "forest"}, default="logreg"
    n_visual_words, patch_size, step : visual-word settings.
    cv : int, default=5
        Folds of the weight search.
    random_state : int or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        "text_column": [str],
        "image_column": [str],
        "fusion": [StrOptions(set(FUSIONS))],
        "rule": [StrOptions({"mean", "product", "vote"})],
        "classifier": [StrOptions({"logreg", "linear_svm", "forest"})],
        "n_visual_words": [Interval(Integral, 2, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        text_column="text",
        image_column="image",
        *,
        fusion="late",
        rule="mean",
        classifier="logreg",
        n_visual_words=512,
        patch_size=8,
        step=4,
        cv=5,
        random_state=None,
    ):
        self.text_column = text_column
        self.image_column = image_column
        self.fusion = fusion
        self.rule = rule
        self.classifier = classifier
        self.n_visual_words = n_visual_words
        self.patch_size = patch_size
        self.step = step
        self.cv = cv
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{len(X)} rows but {len(y)} labels; they must match.")
        if np.unique(y).shape[0] < 2:
            raise ValueError(
                f"the labels hold a single class {np.unique(y).tolist()!r}; "
                "a classifier needs at least two."
            )
        frame = X
        if self.fusion == "text":
            frame = X.drop(columns=[self.image_column], errors="ignore")
        elif self.fusion == "image":
            frame = X.drop(columns=[self.text_column], errors="ignore")
        self.features_ = MultimodalFeatures(
            self.text_column,
            self.image_column,
            n_visual_words=self.n_visual_words,
            patch_size=self.patch_size,
            step=self.step,
            random_state=self.random_state,
        ).fit(frame)
        F = self.features_.transform(frame)
        blocks = {k: v for k, v in self.features_.blocks_.items() if v.stop > v.start}
        clf = make_classifier(self.classifier, random_state=self.random_state)
        if self.fusion == "early" and len(blocks) > 1:
            # the fusion step scales each block; a scaler inside the classifier
            # would undo the learned block weights, so only its last step is used
            self.model_ = make_early_fusion(
                clf[-1], blocks, cv=self.cv, random_state=self.random_state
            )
        else:
            self.model_ = LateFusionClassifier(
                clf,
                blocks,
                rule=self.rule,
                weights="learn" if len(blocks) > 1 else None,
                cv=self.cv,
                random_state=self.random_state,
            )
        self.model_.fit(F, y)
        self.classes_ = self.model_.classes_
        return self

    def _features(self, X):
        check_is_fitted(self)
        frame = X
        if self.fusion == "text":
            frame = X.drop(columns=[self.image_column], errors="ignore")
        elif self.fusion == "image":
            frame = X.drop(columns=[self.text_column], errors="ignore")
        return self.features_.transform(frame)

    def predict_proba(self, X):
        return self.model_.predict_proba(self._features(X))

    def predict(self, X):
        return self.model_.predict(self._features(X))
