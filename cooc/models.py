"""Ready multimodal classifiers over tables of (text, image) items.

:class:`MultimodalFeatures` turns a table with a text column and an image
column into one sparse matrix with two blocks (TF-IDF of the words and of
their character n-grams | TF-IDF of the visual words); a missing text or image
is marked by a stored NaN in its block, so the fusion estimators of
:mod:`cooc.fusion` see which modality is absent.
:class:`MultimodalClassifier` chains it with early or late fusion and a
classifier from :mod:`cooc.classify`; it is what ``cooc fit`` trains.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.utils import check_random_state

from cooc._compat import Interval, StrOptions, check_is_fitted, fit_context
from cooc._output import input_index, sparse_output
from cooc.classify import make_classifier
from cooc.colorhist import ColorHistogram
from cooc.errors import InputError, InputTypeError
from cooc.features import RegionWords, StandardizedVectors, check_features
from cooc.fusion import RULES, LateFusionClassifier, make_early_fusion
from cooc.vision import DESCRIPTORS, ENCODINGS, VisualWords, check_images

__all__ = [
    "MultimodalClassifier",
    "MultimodalFeatures",
    "fusion_model",
    "learned_weights",
    "split_modalities",
]

FUSIONS = ("early", "late", "text", "image")
#: Images encoded at a time before the SVD of the image block.
_IMAGE_CHUNK = 256
#: Training images the SVD of the image block learns from, at most.
_SVD_SAMPLE = 4096
#: The cooc types a saved ``cooc fit`` model may hold: what ``cooc predict``
#: and ``cooc report`` trust when loading one (scikit-learn's own are trusted
#: by skops).
MODEL_TYPES = (
    "cooc.models.MultimodalClassifier",
    "cooc.models.MultimodalFeatures",
    "cooc.vision.VisualWords",
    "cooc.colorhist.ColorHistogram",
    "cooc.features.RegionWords",  # fitted with --features
    "cooc.features.StandardizedVectors",
)
#: What the image column holds: pixels, one feature vector per image
#: (``(d,)``), or region vectors per image (``(r, d)``).
IMAGE_INPUTS = ("pixels", "vector", "regions")


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# The fitted vectorizers' vocabularies (term -> column dicts) are stored packed
# in model files: skops writes a dict entry by entry into its JSON schema
# (about 400 bytes a term), which made 9 in 10 bytes of a text model.
_PACKED = "_packed_vocabularies"
_VECTORIZERS = ("text_vectorizer_", "char_vectorizer_")


def _pack_vocabulary(vocabulary):
    """``{term: column}`` with columns ``0..n-1`` as two arrays: the UTF-8 bytes
    of the terms in column order (uint8) and their lengths in bytes (int64).
    None when the columns are not ``0..n-1``."""
    n = len(vocabulary)
    terms = [None] * n
    for term, column in vocabulary.items():
        column = int(column)
        if not 0 <= column < n or terms[column] is not None:
            return None
        terms[column] = term.encode("utf-8", "surrogatepass")
    lengths = np.fromiter((len(t) for t in terms), dtype=np.int64, count=n)
    data = np.frombuffer(b"".join(terms), dtype=np.uint8).copy()
    return {"utf8": data, "lengths": lengths}


def _unpack_vocabulary(packed):
    """The ``{term: column}`` dict of :func:`_pack_vocabulary`'s arrays."""
    data = np.asarray(packed["utf8"], dtype=np.uint8).tobytes()
    ends = np.cumsum(np.asarray(packed["lengths"], dtype=np.int64)).tolist()
    starts = [0, *ends[:-1]]
    return {
        data[a:b].decode("utf-8", "surrogatepass"): j
        for j, (a, b) in enumerate(zip(starts, ends, strict=True))
    }


def split_modalities(X, text_column="text", image_column="image"):
    """Texts (None where missing) and a list of image arrays (None where missing).

    ``X`` is a pandas DataFrame; either column may be absent (the modality is
    then missing for every row).
    """
    if not isinstance(X, pd.DataFrame):
        raise InputTypeError(
            f"expected a pandas DataFrame with columns {text_column!r} and/or "
            f"{image_column!r}, got {type(X).__name__}."
        )
    if text_column not in X.columns and image_column not in X.columns:
        raise InputError(
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


#: The image-feature parameters MultimodalFeatures and MultimodalClassifier share.
_IMAGE_CONSTRAINTS = {
    "n_visual_words": [Interval(Integral, 2, None, closed="left")],
    "patch_size": [Interval(Integral, 2, None, closed="left")],
    "step": [Interval(Integral, 1, None, closed="left")],
    "encoding": [StrOptions(set(ENCODINGS))],
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "pyramid": ["boolean"],
    "descriptor": [StrOptions(set(DESCRIPTORS))],
    "scales": [tuple, list],
    "color_histogram": ["boolean"],
    "image_components": [Interval(Integral, 1, None, closed="left"), None],
}


def _old_image_settings(state):
    """Files written before the image settings existed were fitted with what
    were then the only ones: bags of 512 visual words of hog+color patches at
    one scale, no pyramid and no colour histogram (issue 18 changed the
    defaults)."""
    state.setdefault("encoding", "bow")
    state.setdefault("n_components", state.get("n_visual_words", 16))
    state.setdefault("pyramid", False)
    state.setdefault("descriptor", "hog+color")
    state.setdefault("scales", (1,))
    state.setdefault("color_histogram", False)
    state.setdefault("image_components", None)
    state.setdefault("image_input", "pixels")  # and before --features


class MultimodalFeatures(TransformerMixin, BaseEstimator):
    """Text and image columns → one sparse matrix ``[text block | image block]``.

    The text block is a sublinear TF-IDF of the words, followed (by default)
    by a TF-IDF of character n-grams inside words, which matches word forms
    the training texts spelled differently ("smiling" / "smile"). The image
    block is the TF-IDF of the bag of visual words
    (:class:`cooc.vision.VisualWords`). Every part is L2-normalised per row.

    A row whose text (image) is missing stores one NaN, in the first column of
    its text (image) block: :func:`cooc.fusion.missing_modalities` and the
    fusion estimators read that as "modality absent".

    Parameters
    ----------
    text_column, image_column : str, default="text", "image"
        Column names; the image column holds arrays ``(H, W[, C])`` or None.
    max_text_features : int, default=20000
        Vocabulary cap of the word TF-IDF.
    char_ngrams : tuple of (int, int) or None, default=(2, 5)
        Lengths of the character n-grams (``analyzer="char_wb"``); None
        leaves them out.
    n_visual_words : int, default=512
        Codebook size of the "bow" and "soft" encodings (and of
        ``image_input="regions"``).
    patch_size, step : int, default=12, 4
        Patch grid of the visual words (see :class:`cooc.vision.VisualWords`).
    encoding : {"bow", "soft", "vlad", "fisher"}, default="fisher"
        Image encoding (``VisualWords(encoding=...)``): the counts of "bow"
        and "soft" get a sublinear TF-IDF; the "vlad" and "fisher" vectors
        (``n_components`` times the descriptor size wide, or twice that, per
        pyramid block) are used as they come, already power- and
        L2-normalised. The defaults (Fisher vectors of a 16-component
        mixture, 2 × 2 pyramid, opponent colour, two scales, colour
        histogram) were chosen with ``benchmarks/sweep_vision.py``.
    n_components : int, default=16
        Mixture size of "fisher", codebook size of "vlad".
    pyramid : bool, default=True
        Add the encodings of the four image quadrants.
    descriptor : str, default="hog+opponent"
        Patch descriptor (see :func:`cooc.vision.extract_patches`).
    scales : tuple of int, default=(1, 2)
        Image scales of the patches (see :class:`cooc.vision.VisualWords`);
        a scale at which the training images would be smaller than a patch
        is left out.
    color_histogram : bool, default=True
        Append HSV colour histograms of the whole image and its quadrants
        (:class:`cooc.colorhist.ColorHistogram`) to the image block.
    image_components : int or None, default=256
        With "vlad" or "fisher": reduce the dense image block (8,240 columns
        with the defaults) to this many by a truncated SVD learnt on the
        training images (at most 4,096 of them, sampled; None keeps every
        column). Images are then encoded 256 at a time, so memory follows
        the reduced block. On emoji ``cooc fit`` is 7.4× faster with it
        (``benchmarks/bench_image_fit.py``) for the same held-out macro-F1.
    image_input : {"pixels", "vector", "regions"}, default="pixels"
        What the image column holds: image arrays; one precomputed feature
        vector ``(d,)`` per item (standardised per column, divided by
        ``sqrt(d)``: :class:`cooc.features.StandardizedVectors`); or region
        vectors ``(r, d)`` per item, quantized into ``n_visual_words`` words
        (:class:`cooc.features.RegionWords`) and weighted like the bag of
        visual words.
    random_state : int or None, default=None
        Seeds the codebook.

    Attributes
    ----------
    blocks_ : dict
        ``{"text": slice, "image": slice}`` of the output columns (an empty
        slice for a modality absent from every training row).
    text_vectorizer_, char_vectorizer_, visual_words_, visual_tfidf_
        The fitted parts (None when unused).
    color_histogram_, image_svd_
        The colour histograms and the SVD of the image block (None when unused).
    n_features_out_ : int

    Examples
    --------
    >>> import pandas as pd
    >>> from cooc.datasets import load_emoji
    >>> from cooc.fusion import missing_modalities
    >>> from cooc.models import MultimodalFeatures
    >>> images, frame = load_emoji()
    >>> items = pd.DataFrame({"text": frame["text"][:40], "image": list(images[:40])})
    >>> features = MultimodalFeatures(n_visual_words=8, random_state=0).fit(items)
    >>> items.loc[1, "text"] = None
    >>> X = features.transform(items[:3])
    >>> missing_modalities(X, features.blocks_).tolist()
    [[False, False], [True, False], [False, False]]
    """

    _parameter_constraints: ClassVar[dict] = {
        "text_column": [str],
        "image_column": [str],
        "max_text_features": [Interval(Integral, 1, None, closed="left")],
        "char_ngrams": [tuple, list, None],
        **_IMAGE_CONSTRAINTS,
        "image_input": [StrOptions(set(IMAGE_INPUTS))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        text_column="text",
        image_column="image",
        *,
        max_text_features=20000,
        char_ngrams=(2, 5),
        n_visual_words=512,
        patch_size=12,
        step=4,
        encoding="fisher",
        n_components=16,
        pyramid=True,
        descriptor="hog+opponent",
        scales=(1, 2),
        color_histogram=True,
        image_components=256,
        image_input="pixels",
        random_state=None,
    ):
        self.text_column = text_column
        self.image_column = image_column
        self.max_text_features = max_text_features
        self.char_ngrams = char_ngrams
        self.n_visual_words = n_visual_words
        self.patch_size = patch_size
        self.step = step
        self.encoding = encoding
        self.n_components = n_components
        self.pyramid = pyramid
        self.descriptor = descriptor
        self.scales = scales
        self.color_histogram = color_histogram
        self.image_components = image_components
        self.image_input = image_input
        self.random_state = random_state

    def _check_char_ngrams(self):
        if self.char_ngrams is None:
            return None
        ngrams = tuple(self.char_ngrams)
        if not (
            len(ngrams) == 2
            and all(isinstance(n, Integral) and n >= 1 for n in ngrams)
            and ngrams[0] <= ngrams[1]
        ):
            raise InputError(
                f"char_ngrams={self.char_ngrams!r} must be (min_n, max_n) with "
                "1 <= min_n <= max_n, e.g. (2, 5), or None."
            )
        return ngrams

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        self._fit(X)
        return self

    def _fit_transform(self, X):
        """Fit, then the sparse matrix of ``X`` (as :meth:`_transform`), with
        the reduced image block the SVD was fitted on instead of encoding the
        training images a second time."""
        self._validate_params()
        return self._transform(X, image_block=self._fit(X))

    def _fit(self, X):
        """Fit; returns the image block of the training images when fitting
        made it (the SVD learnt from all of them), else None."""
        ngrams = self._check_char_ngrams()
        texts, images = split_modalities(X, self.text_column, self.image_column)
        have_text = [t for t in texts if t is not None]
        have_image = [im for im in images if im is not None]
        if not have_text and not have_image:
            raise InputError(
                "every row lacks both its text and its image; nothing to learn."
            )
        self.text_vectorizer_ = self.char_vectorizer_ = None
        n_text = 0
        if have_text:
            self.text_vectorizer_ = TfidfVectorizer(
                sublinear_tf=True, max_features=self.max_text_features
            ).fit(have_text)
            n_text = len(self.text_vectorizer_.vocabulary_)
            if ngrams is not None:
                self.char_vectorizer_ = TfidfVectorizer(
                    sublinear_tf=True, analyzer="char_wb", ngram_range=ngrams
                ).fit(have_text)
                n_text += len(self.char_vectorizer_.vocabulary_)
            for vectorizer in (self.text_vectorizer_, self.char_vectorizer_):
                # scikit-learn < 1.9 keeps the terms max_features pruned, for
                # introspection only ("can be safely removed using delattr").
                if vectorizer is not None and hasattr(vectorizer, "stop_words_"):
                    del vectorizer.stop_words_
        self.visual_words_ = None
        self.visual_tfidf_ = None
        self.color_histogram_ = None
        self.image_svd_ = None
        reduced = None
        n_image = 0
        if have_image and self.image_input == "vector":
            self.visual_words_ = StandardizedVectors().fit(self._vectors(have_image))
            n_image = self.visual_words_.n_features_in_
        elif have_image and self.image_input == "regions":
            self.visual_words_ = RegionWords(
                self.n_visual_words, random_state=self.random_state
            ).fit(have_image)
            with config_context(transform_output="default"):  # sparse counts
                counts = self.visual_words_.transform(have_image)
            self.visual_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
            n_image = self.visual_words_.n_words_
        elif have_image:
            arrays = check_images(have_image)
            bag = self.encoding in ("bow", "soft")
            self.visual_words_ = VisualWords(
                self.n_visual_words if bag else self.n_components,
                patch_size=self.patch_size,
                step=self.step,
                encoding=self.encoding,
                pyramid=self.pyramid,
                descriptor=self.descriptor,
                scales=self._scales_for(arrays),
                random_state=self.random_state,
            ).fit(arrays)
            if bag:
                with config_context(transform_output="default"):  # sparse counts
                    counts = self.visual_words_.transform(arrays)
                self.visual_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
            n_image = len(self.visual_words_.get_feature_names_out())
            if self.color_histogram:
                self.color_histogram_ = ColorHistogram().fit(arrays)
                n_image += len(self.color_histogram_.get_feature_names_out())
            if not bag and self.image_components is not None:
                sample = arrays
                if len(arrays) > _SVD_SAMPLE:  # the SVD learns from a sample
                    rng = check_random_state(self.random_state)
                    rows = np.sort(rng.choice(len(arrays), _SVD_SAMPLE, replace=False))
                    sample = arrays[rows]
                dense = self._encoded(sample).toarray()
                k = min(self.image_components, dense.shape[0] - 1, dense.shape[1] - 1)
                if k >= 1:
                    self.image_svd_ = TruncatedSVD(
                        k, algorithm="randomized", random_state=self.random_state
                    ).fit(dense)
                    # float32 components (the file stores 256 x 8,240 of them)
                    svd = self.image_svd_
                    svd.components_ = svd.components_.astype(np.float32)
                    n_image = k
                    if sample is arrays:
                        reduced = sp.csr_matrix(svd.transform(dense))
        self.blocks_ = {
            "text": slice(0, n_text),
            "image": slice(n_text, n_text + n_image),
        }
        self.n_features_out_ = n_text + n_image
        return reduced

    def _scales_for(self, arrays):
        """``scales`` without those at which the images would be smaller than a
        patch (scale 1 always stays: VisualWords names the problem)."""
        side = min(arrays.shape[1:3])
        return tuple(
            s for s in self.scales if s == 1 or side // s >= self.patch_size
        ) or (1,)

    def _vectors(self, vectors):
        """The per-item feature vectors of the image column as one ``(n, d)``
        array (checked: 1-D, one ``d``, finite)."""
        sizes = {np.shape(v) for v in vectors}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise InputError(
                f"image_input='vector': the {self.image_column!r} column must hold "
                f"1-D feature vectors of one size, got shapes {sorted(sizes)[:3]}."
            )
        return check_features(np.stack(vectors), f"column {self.image_column!r}")

    def _image_block(self, present):
        """The image block of the present images (sparse).

        With the SVD the dense encodings are made and reduced
        ``_IMAGE_CHUNK`` images at a time, so memory follows the reduced
        block, not the encodings' 8,240 columns per image.
        """
        if self.image_input == "vector":
            return sp.csr_matrix(self.visual_words_.transform(self._vectors(present)))
        if self.image_input == "pixels":
            present = check_images(present)
        if getattr(self, "image_svd_", None) is None:
            return self._encoded(present)
        parts = [
            self.image_svd_.transform(self._encoded(present[i : i + _IMAGE_CHUNK]))
            for i in range(0, len(present), _IMAGE_CHUNK)
        ]
        return sp.csr_matrix(np.vstack(parts))

    def _encoded(self, present):
        """Visual-word encodings (TF-IDF weighted bags) | colour histograms."""
        with config_context(transform_output="default"):  # sparse
            block = self.visual_words_.transform(present)
            if self.visual_tfidf_ is not None:
                block = self.visual_tfidf_.transform(block)
            if self.color_histogram_ is not None:
                colors = self.color_histogram_.transform(present)
                block = sp.hstack([sp.csr_matrix(block), sp.csr_matrix(colors)], "csr")
        return sp.csr_matrix(block)

    def _text_block(self, texts):
        parts = [self.text_vectorizer_.transform(texts)]
        if self.char_vectorizer_ is not None:
            parts.append(self.char_vectorizer_.transform(texts))
        return sp.hstack(parts, format="csr")

    @staticmethod
    def _place(block, rows, n_rows, width):
        """``block`` in the given rows; other rows hold one NaN in column 0."""
        out = sp.lil_matrix((n_rows, width), dtype=np.float64)
        absent = np.setdiff1d(np.arange(n_rows), rows)
        full = sp.csr_matrix((n_rows, width), dtype=np.float64)
        if len(rows):
            scatter = sp.csr_matrix(
                (np.ones(len(rows)), (rows, np.arange(len(rows)))),
                shape=(n_rows, len(rows)),
            )
            full = (scatter @ block.astype(np.float64)).tocsr()
        if absent.size:
            out[absent, 0] = np.nan
            full = full + out.tocsr()  # stored NaN survive: sparsity patterns add
        return full.tocsr()

    def transform(self, X):
        """The sparse feature matrix (CSR, float64) of the table ``X``.

        Under ``set_output(transform="pandas")``: a DataFrame of pandas sparse
        columns named by :meth:`get_feature_names_out`, with ``X``'s index.
        """
        return sparse_output(self, self._transform(X), input_index(X))

    def _transform(self, X, image_block=None):
        """The sparse matrix of ``X``; ``image_block``: the image block of its
        rows that have an image, when already made."""
        check_is_fitted(self)
        texts, images = split_modalities(X, self.text_column, self.image_column)
        n = len(texts)
        parts = []
        width = self.blocks_["text"].stop - self.blocks_["text"].start
        if width:
            rows = np.array(
                [i for i, t in enumerate(texts) if t is not None], dtype=int
            )
            block = self._text_block([texts[i] for i in rows]) if rows.size else None
            parts.append(self._place(block, rows, n, width))
        width = self.blocks_["image"].stop - self.blocks_["image"].start
        if width:
            rows = np.array(
                [i for i, im in enumerate(images) if im is not None], dtype=int
            )
            block = image_block
            if rows.size and block is None:
                block = self._image_block([images[i] for i in rows])
            parts.append(self._place(block, rows, n, width))
        return sp.hstack(parts, format="csr")

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        names = []
        if self.text_vectorizer_ is not None:
            names += [
                f"text:{w}" for w in self.text_vectorizer_.get_feature_names_out()
            ]
        if self.char_vectorizer_ is not None:
            names += [
                f"char:{w}" for w in self.char_vectorizer_.get_feature_names_out()
            ]
        if self.image_svd_ is not None:
            names += [f"image:svd{j}" for j in range(self.image_svd_.n_components)]
            return np.asarray(names, dtype=object)
        if self.visual_words_ is not None:
            names += [f"image:{w}" for w in self.visual_words_.get_feature_names_out()]
        if self.color_histogram_ is not None:
            names += [
                f"image:{w}" for w in self.color_histogram_.get_feature_names_out()
            ]
        return np.asarray(names, dtype=object)

    def __getstate__(self):
        # The vectorizers are stored without their vocabulary_ dicts, which
        # are stored packed in two arrays each (see _pack_vocabulary): same
        # terms and columns, so the same features, in a fraction of the bytes.
        state = dict(super().__getstate__())
        packed = {}
        for name in _VECTORIZERS:
            vectorizer = state.get(name)
            vocabulary = getattr(vectorizer, "vocabulary_", None)
            if not isinstance(vocabulary, dict):
                continue
            arrays = _pack_vocabulary(vocabulary)
            if arrays is None:
                continue
            vectorizer = copy.copy(vectorizer)
            del vectorizer.vocabulary_
            vectorizer.__dict__.pop("stop_words_", None)
            state[name] = vectorizer
            packed[name] = arrays
        if packed:
            state[_PACKED] = packed
        return state

    def __setstate__(self, state):
        # Files written before the packing hold plain vocabulary_ dicts.
        state = dict(state)
        packed = state.pop(_PACKED, None) or {}
        _old_image_settings(state)
        if "blocks_" in state:  # fitted before the colour histograms
            state.setdefault("color_histogram_", None)
            state.setdefault("image_svd_", None)
        super().__setstate__(state)
        for name, arrays in packed.items():
            getattr(self, name).vocabulary_ = _unpack_vocabulary(arrays)


class MultimodalClassifier(ClassifierMixin, BaseEstimator):
    """Classify (text, image) items with learned-weight fusion.

    Features come from :class:`MultimodalFeatures` (sparse TF-IDF of words,
    character n-grams and visual words); the classifier sees them without
    column scaling (TF-IDF rows are already unit length).

    Parameters
    ----------
    text_column, image_column : str, default="text", "image"
    fusion : {"early", "late", "text", "image"}, default="early"
        ``"early"``: weighted concatenation of the two blocks, the weights
        (and nothing else) chosen by cross-validated grid search among
        ``(1, 0), (1, 0.25), ..., (1, 1), ..., (0, 1)``
        (:func:`cooc.fusion.make_early_fusion`); ``"late"``: one classifier
        per modality, probabilities combined by ``rule`` with weights learned
        on out-of-fold predictions (:class:`cooc.fusion.LateFusionClassifier`);
        ``"text"``/``"image"``: one modality alone. Both fusions search weight
        grids that include each modality alone, so a modality that does not
        help gets weight 0.
    rule : {"mean", "product", "vote", "stack"}, default="mean"
        How late fusion combines probabilities (``"stack"``: a logistic
        regression over each modality's log-probabilities, learnt out of
        fold; see :class:`cooc.fusion.LateFusionClassifier`).
    classifier : {"linear_svm", "logreg", "forest"}, default="linear_svm"
        ``"linear_svm"`` is a ``LinearSVC`` with temperature-scaled
        probabilities (:func:`cooc.classify.make_classifier`): on the emoji
        set it is as accurate as logistic regression and 30× faster to fit
        on the sparse TF-IDF features.
    C : float, default=1.0
        Inverse regularisation of ``"linear_svm"`` and ``"logreg"``.
    n_visual_words, patch_size, step : visual-word settings.
    encoding, n_components, pyramid, descriptor, scales, color_histogram, image_components
        Image features (see :class:`MultimodalFeatures`; by default Fisher
        vectors of 16 components with a pyramid, opponent colour, two
        scales and colour histograms).
    image_input : {"pixels", "vector", "regions"}, default="pixels"
        What the image column holds: images, or precomputed per-image
        vectors or per-region arrays (see :class:`MultimodalFeatures`).
    char_ngrams : tuple or None, default=(2, 5)
        Character n-grams of the text block (see :class:`MultimodalFeatures`).
    cv : int, default=5
        Folds of the weight search.
    random_state : int or None, default=None

    Attributes
    ----------
    features_ : MultimodalFeatures
    model_ : GridSearchCV or LateFusionClassifier
        The fitted fusion model.
    weights_ : dict
        Learned weight of each modality.
    classes_ : ndarray
    """

    _parameter_constraints: ClassVar[dict] = {
        "text_column": [str],
        "image_column": [str],
        "fusion": [StrOptions(set(FUSIONS))],
        "rule": [StrOptions(set(RULES))],
        "classifier": [StrOptions({"logreg", "linear_svm", "forest"})],
        "C": [Interval(Real, 0, None, closed="neither")],
        **_IMAGE_CONSTRAINTS,
        "char_ngrams": [tuple, list, None],
        "image_input": [StrOptions(set(IMAGE_INPUTS))],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        text_column="text",
        image_column="image",
        *,
        fusion="early",
        rule="mean",
        classifier="linear_svm",
        C=1.0,
        n_visual_words=512,
        patch_size=12,
        step=4,
        encoding="fisher",
        n_components=16,
        pyramid=True,
        descriptor="hog+opponent",
        scales=(1, 2),
        color_histogram=True,
        image_components=256,
        char_ngrams=(2, 5),
        image_input="pixels",
        cv=5,
        random_state=None,
    ):
        self.text_column = text_column
        self.image_column = image_column
        self.fusion = fusion
        self.rule = rule
        self.classifier = classifier
        self.C = C
        self.n_visual_words = n_visual_words
        self.patch_size = patch_size
        self.step = step
        self.encoding = encoding
        self.n_components = n_components
        self.pyramid = pyramid
        self.descriptor = descriptor
        self.scales = scales
        self.color_histogram = color_histogram
        self.image_components = image_components
        self.char_ngrams = char_ngrams
        self.image_input = image_input
        self.cv = cv
        self.random_state = random_state

    def __setstate__(self, state):
        state = dict(state)
        _old_image_settings(state)
        super().__setstate__(state)

    def _frame(self, X):
        if self.fusion == "text":
            return X.drop(columns=[self.image_column], errors="ignore")
        if self.fusion == "image":
            return X.drop(columns=[self.text_column], errors="ignore")
        return X

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        # The parts pass sparse matrices to each other whatever output the
        # user configured (set_config(transform_output="pandas")).
        with config_context(transform_output="default"):
            return self._fit(X, y)

    def _fit(self, X, y):
        y = np.asarray(y)
        if len(y) != len(X):
            raise InputError(f"{len(X)} rows but {len(y)} labels; they must match.")
        if np.unique(y).shape[0] < 2:
            raise InputError(
                f"the labels hold a single class {np.unique(y).tolist()!r}; "
                "a classifier needs at least two."
            )
        frame = self._frame(X)
        self.features_ = MultimodalFeatures(
            self.text_column,
            self.image_column,
            n_visual_words=self.n_visual_words,
            patch_size=self.patch_size,
            step=self.step,
            encoding=self.encoding,
            n_components=self.n_components,
            pyramid=self.pyramid,
            descriptor=self.descriptor,
            scales=self.scales,
            color_histogram=self.color_histogram,
            image_components=self.image_components,
            char_ngrams=self.char_ngrams,
            image_input=self.image_input,
            random_state=self.random_state,
        )
        # the sparse matrix whatever the output configuration
        F = self.features_._fit_transform(frame)
        blocks = {k: v for k, v in self.features_.blocks_.items() if v.stop > v.start}
        self.model_ = fusion_model(
            blocks,
            fusion="early" if self.fusion == "early" else "late",
            rule=self.rule,
            classifier=self.classifier,
            C=self.C,
            cv=self.cv,
            random_state=self.random_state,
        ).fit(F, y)
        self.weights_ = learned_weights(self.model_, list(blocks))
        self.classes_ = self.model_.classes_
        return self

    def _features(self, X):
        check_is_fitted(self)
        return self.features_._transform(self._frame(X))

    def predict_proba(self, X):
        with config_context(transform_output="default"):
            return self.model_.predict_proba(self._features(X))

    def predict(self, X):
        with config_context(transform_output="default"):
            return self.model_.predict(self._features(X))


def fusion_model(
    blocks,
    *,
    fusion="early",
    rule="mean",
    classifier="linear_svm",
    C=1.0,
    weight_steps=4,
    cv=5,
    random_state=None,
):
    """The unfitted fusion estimator :class:`MultimodalClassifier` uses.

    ``blocks`` maps modality names to column slices of a feature matrix such
    as :class:`MultimodalFeatures` makes. With one block, both fusions reduce
    to the classifier on that block.

    Returns a :class:`~sklearn.model_selection.GridSearchCV` (``"early"``) or
    a :class:`cooc.fusion.LateFusionClassifier` (``"late"``).
    """
    params = {"C": C} if classifier in ("logreg", "linear_svm") else {}
    clf = make_classifier(classifier, scale=False, random_state=random_state, **params)
    if fusion == "early" and len(blocks) > 1:
        return make_early_fusion(
            clf[-1],
            blocks,
            weight_steps=weight_steps,
            scaling="none",
            cv=cv,
            random_state=random_state,
        )
    return LateFusionClassifier(
        clf,
        blocks,
        rule=rule,
        weights="learn" if len(blocks) > 1 else None,
        cv=cv,
        random_state=random_state,
    )


def learned_weights(model, names):
    """``{modality: weight}`` of a fitted :func:`fusion_model`."""
    if hasattr(model, "best_params_"):
        w = model.best_params_["fusion__weights"]
    else:
        w = model.weights_
    return {name: round(float(v), 4) for name, v in zip(names, w, strict=True)}
