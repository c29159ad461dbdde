"""Classifiers over embeddings: ready pipelines, cross-validated scores, safe files.

* :func:`make_classifier`: a scikit-learn Pipeline with logistic regression,
  a linear SVM (both after ``StandardScaler``) or a random forest.
* :func:`evaluate_classifier`: accuracy, macro-F1 and one-vs-rest ROC-AUC
  under stratified, shuffled k-fold cross-validation.
* :func:`save_model` / :func:`load_model`: fitted models in the skops format,
  which is loaded without running pickle: every type in the file beyond the
  basic ones skops trusts must be on cooc's explicit trusted list
  (:func:`trusted_types`), else loading is refused.
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from numbers import Integral
from pathlib import Path

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    get_scorer,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, check_cv, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler, label_binarize
from sklearn.svm import LinearSVC

import cooc
from cooc.errors import InputError, InputTypeError, MissingDependencyError
from cooc.files import atomic_write
from cooc.fusion import LateFusionClassifier, ModalityFusion

__all__ = [
    "evaluate_classifier",
    "load_model",
    "make_classifier",
    "roc_auc_ovr_score",
    "save_model",
    "trusted_types",
]

logger = logging.getLogger(__name__)

KINDS = ("logreg", "linear_svm", "forest")
# Temperature scaling (scikit-learn >= 1.8) keeps the SVM's predictions.
_CALIBRATION = (
    "temperature"
    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)
    else "sigmoid"
)
MODEL_FORMAT = "cooc-model"
# 2: MultimodalFeatures store their TF-IDF vocabularies packed (cooc.models);
# a cooc that reads only version 1 refuses such files instead of misreading them.
MODEL_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)


# -- pipelines ------------------------------------------------------------------------
def make_classifier(kind="logreg", *, scale=True, random_state=None, **params):
    """A ready classification pipeline for dense features such as embeddings.

    Parameters
    ----------
    kind : {"logreg", "linear_svm", "forest"}, default="logreg"
        ``"logreg"``: ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``.
        ``"linear_svm"``: ``StandardScaler`` + ``LinearSVC`` wrapped in
        ``CalibratedClassifierCV(method="temperature", cv=3, ensemble=False)``
        (``"sigmoid"`` before scikit-learn 1.8), so that it has
        ``predict_proba`` for ROC-AUC and late fusion while predicting what the
        SVM fitted on all the data predicts.
        ``"forest"``: ``RandomForestClassifier`` (no scaling).
    scale : bool, default=True
        Put a ``StandardScaler`` before the linear models. Turn it off for
        sparse features that are already on one scale, such as TF-IDF rows
        (a scaler cannot centre a sparse matrix).
    random_state : int, RandomState instance or None, default=None
        Seeds the classifier.
    **params
        Parameters of the classifier (``LogisticRegression``, ``LinearSVC``
        or ``RandomForestClassifier``), e.g. ``C=0.1`` or ``n_estimators=500``.

    Returns
    -------
    pipeline : Pipeline
        Unfitted; the classifier is the step ``"clf"``.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a parameter the classifier does not have.

    See Also
    --------
    evaluate_classifier : Cross-validated scores of a pipeline.

    Examples
    --------
    >>> from cooc.classify import make_classifier
    >>> make_classifier("logreg", C=0.5)
    Pipeline(steps=[('scale', StandardScaler()),
                    ('clf', LogisticRegression(C=0.5, max_iter=1000))])
    """
    if kind == "logreg":
        est = LogisticRegression(max_iter=1000, random_state=random_state)
        est.set_params(**params)
        return _with_scaler(est, scale)
    if kind == "linear_svm":
        est = LinearSVC(max_iter=5000, random_state=random_state)
        est.set_params(**params)
        # One SVM on all the data; a calibration map fitted on 3-fold
        # out-of-fold scores. Temperature scaling keeps the SVM's argmax;
        # per-class sigmoids (ensemble=True) can cost accuracy with many classes.
        calibrated = CalibratedClassifierCV(
            est, method=_CALIBRATION, cv=3, ensemble=False
        )
        return _with_scaler(calibrated, scale)
    if kind == "forest":
        est = RandomForestClassifier(random_state=random_state)
        est.set_params(**params)
        return Pipeline([("clf", est)])
    raise InputError(f"kind={kind!r} is not one of {KINDS!r}; use 'logreg'.")


def _with_scaler(est, scale):
    steps = [("scale", StandardScaler())] if scale else []
    return Pipeline([*steps, ("clf", est)])


# -- evaluation -----------------------------------------------------------------------
def _class_scores(estimator, X):
    """Per-class scores: ``predict_proba`` or else ``decision_function``."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X))
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(X))
    raise InputTypeError(
        f"{type(estimator).__name__} has neither predict_proba nor "
        "decision_function, so ROC-AUC cannot be computed; use a probabilistic "
        "classifier."
    )


def roc_auc_ovr_score(estimator, X, y):
    """Macro one-vs-rest ROC-AUC of a fitted classifier (a scorer).

    Uses ``predict_proba`` or, without it, ``decision_function`` (only the
    order of the scores within each class matters). Classes absent from ``y``
    are skipped; for two classes this is the plain ROC-AUC of the second.
    """
    scores = _class_scores(estimator, X)
    classes = estimator.classes_
    if classes.size == 2:
        return float(roc_auc_score(y, scores if scores.ndim == 1 else scores[:, 1]))
    Y = label_binarize(y, classes=classes)
    aucs = [
        roc_auc_score(Y[:, k], scores[:, k])
        for k in range(classes.size)
        if 0 < Y[:, k].sum() < Y.shape[0]
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def evaluate_classifier(model, X, y, *, cv=5, random_state=0, n_jobs=None):
    """Accuracy, macro-F1 and one-vs-rest ROC-AUC under stratified k-fold CV.

    Parameters
    ----------
    model : classifier
        An unfitted estimator (cloned for every fold), e.g. from
        :func:`make_classifier` or :func:`cooc.fusion.make_early_fusion`.
    X : array-like of shape (n_samples, n_features)
        Features (NaN blocks are fine for the fusion estimators).
    y : array-like of shape (n_samples,)
        Class labels.
    cv : int or cross-validation splitter, default=5
        An int is ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
    random_state : int or None, default=0
        Seeds the folds (so models compared with the same seed see the same
        folds).
    n_jobs : int, default=None
        Folds fitted in parallel.

    Returns
    -------
    scores : dict
        ``"accuracy"``, ``"macro_f1"``, ``"roc_auc_ovr"`` (means over folds),
        the same names with ``"_std"`` (standard deviations), ``"folds"``
        (a dict of per-fold ndarrays, also ``"fit_time"``) and ``"n_splits"``.

    See Also
    --------
    make_classifier : Ready pipelines.
    roc_auc_ovr_score : The ROC-AUC scorer.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.classify import evaluate_classifier, make_classifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = y[:, None] + rng.normal(scale=0.3, size=(60, 2))
    >>> scores = evaluate_classifier(make_classifier("logreg"), X, y, cv=3)
    >>> round(scores["accuracy"], 2), scores["folds"]["macro_f1"].shape
    (1.0, (3,))
    """
    if isinstance(cv, Integral):
        if cv < 2:
            raise InputError(f"cv={cv!r} must be >= 2 folds; 5 is usual.")
        cv = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    else:
        cv = check_cv(cv, y, classifier=True)
    result = cross_validate(
        model,
        X,
        y,
        cv=cv,
        scoring={
            "accuracy": "accuracy",
            "macro_f1": "f1_macro",
            "roc_auc_ovr": roc_auc_ovr_score,
        },
        n_jobs=n_jobs,
        error_score="raise",
    )
    names = ("accuracy", "macro_f1", "roc_auc_ovr")
    scores = {}
    for name in names:
        values = np.asarray(result[f"test_{name}"], dtype=np.float64)
        scores[name] = float(np.mean(values))
        scores[f"{name}_std"] = float(np.std(values))
    scores["folds"] = {name: np.asarray(result[f"test_{name}"]) for name in names}
    scores["folds"]["fit_time"] = np.asarray(result["fit_time"])
    scores["n_splits"] = len(scores["folds"]["accuracy"])
    logger.info(
        "%s: accuracy %.4f ± %.4f, macro-F1 %.4f, ROC-AUC %.4f",
        type(model).__name__,
        scores["accuracy"],
        scores["accuracy_std"],
        scores["macro_f1"],
        scores["roc_auc_ovr"],
    )
    return scores


# -- persistence ----------------------------------------------------------------------
def _name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def trusted_types():
    """The types :func:`load_model` accepts beyond skops' own trusted defaults.

    skops trusts builtins, numpy and scipy containers and most scikit-learn
    estimators by itself; this list adds the cooc estimators and the
    scikit-learn internals that the models built here contain (calibrated
    SVMs, forests, grid searches with their folds and scorers).

    Returns
    -------
    names : list of str
        Fully qualified type names, sorted.
    """
    public = [
        ModalityFusion,
        LateFusionClassifier,
        IsotonicRegression,
        StratifiedKFold,
        accuracy_score,
        f1_score,
        log_loss,
        roc_auc_score,
        roc_auc_ovr_score,
        type(get_scorer("accuracy")),
    ]
    private = [
        # CalibratedClassifierCV.calibrated_classifiers_ (the linear SVM)
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.calibration._TemperatureScaling",
        # tree_ of every DecisionTreeClassifier in a RandomForestClassifier
        "sklearn.tree._tree.Tree",
        # what `cooc fit` saves (named as strings: cooc.models imports this module)
        "cooc.models.MultimodalClassifier",
        "cooc.models.MultimodalFeatures",
        "cooc.vision.VisualWords",
    ]
    return sorted({_name(obj) for obj in public} | set(private))


def save_model(model, path, *, metadata=None):
    """Save a fitted model in the skops format, atomically.

    Parameters
    ----------
    model : estimator
        A fitted model (any scikit-learn or cooc estimator).
    path : str or path-like
        Output file, ``.skops`` by convention (a zip of deflated members).
        Written to a temporary file and renamed, so a crash leaves no partial
        file.
    metadata : dict, default=None
        JSON-serialisable information stored beside the model (data set,
        scores, parameters); returned by :func:`load_model`.

    Raises
    ------
    ValueError
        If ``metadata`` is not JSON-serialisable or the folder does not exist.
    ImportError
        If skops is not installed.

    See Also
    --------
    load_model : Load it back, refusing untrusted types.
    """
    sio = _import_skops()
    try:
        meta_json = json.dumps({} if metadata is None else metadata)
    except TypeError as exc:
        raise InputError(
            f"metadata={metadata!r} is not JSON-serialisable ({exc}); use str, "
            "int, float, bool, None, lists and dicts."
        ) from None
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "cooc_version": cooc.__version__,
        "sklearn_version": sklearn.__version__,
        "metadata": meta_json,
        "model": model,
    }
    # Deflated zip members: the arrays of a text model (column indices, zero
    # means, TF-IDF weights) and the JSON schema shrink 2-10x; loading reads
    # stored and deflated members alike, so older files load as before.
    data = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def load_model(path, *, trusted=(), expected=None):
    """Load a model saved by :func:`save_model`, refusing untrusted types.

    The file is inspected before anything is built: every type it names that
    skops does not trust by default must be in :func:`trusted_types` or in
    ``trusted``; otherwise a ``ValueError`` lists the offending types and
    nothing is loaded. No pickle code runs.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    trusted : sequence of str, default=()
        Extra fully qualified type names to accept (for your own estimators),
        as listed by ``skops.io.get_untrusted_types(file=path)``.
    expected : type, str or tuple of them, default=None
        The class(es) the model must be an instance of (a class, or its
        fully qualified name, e.g. ``"cooc.models.MultimodalClassifier"``,
        which ``cooc predict`` asks for); None accepts any.

    Returns
    -------
    model : estimator
        The fitted model.
    metadata : dict
        The metadata given to :func:`save_model`.

    Raises
    ------
    ValueError
        If the file holds a type outside the trusted lists, is not a cooc
        model file, or holds a model that is not ``expected``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from cooc.classify import load_model, make_classifier, save_model
    >>> X, y = np.array([[0.0], [0.2], [1.0], [1.2]]), [0, 0, 1, 1]
    >>> model = make_classifier("logreg").fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> save_model(model, path, metadata={"data": "toy"})
    >>> loaded, meta = load_model(path)
    >>> meta, loaded.predict([[1.1]])
    ({'data': 'toy'}, array([1]))
    """
    sio = _import_skops()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist; check the path.")
    if isinstance(trusted, str):
        trusted = [trusted]
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip, no schema, bad JSON
        raise InputError(
            f"{str(path)!r} is not a readable skops model file ({exc}); save it "
            "with cooc.classify.save_model."
        ) from None
    allowed = set(trusted_types()) | set(trusted)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise InputError(
            f"{str(path)!r} contains types outside cooc's trusted list: {refused!r}. "
            "Loading refused; if you trust the file's source and these types, pass "
            "them as load_model(path, trusted=[...])."
        )
    payload = sio.load(path, trusted=list(untrusted))
    if not (isinstance(payload, dict) and payload.get("format") == MODEL_FORMAT):
        raise InputError(
            f"{str(path)!r} is a skops file but not a cooc model file; save it with "
            "cooc.classify.save_model."
        )
    if payload.get("format_version") not in _READABLE_VERSIONS:
        raise InputError(
            f"{str(path)!r} has model format version {payload.get('format_version')!r}"
            f"; this cooc reads versions {_READABLE_VERSIONS}. Re-save the model "
            "with this cooc, or upgrade cooc."
        )
    if payload.get("sklearn_version") != sklearn.__version__:
        warnings.warn(
            f"{str(path)!r} was saved with scikit-learn "
            f"{payload.get('sklearn_version')} and is loaded with "
            f"{sklearn.__version__}; predictions may differ. Re-fit to be sure.",
            UserWarning,
            stacklevel=2,
        )
    model = payload["model"]
    if expected is not None:
        _check_expected(path, model, expected)
    return model, json.loads(payload["metadata"])


def _check_expected(path, model, expected) -> None:
    """Raise InputError unless ``model`` is an instance of a class in
    ``expected`` (classes or fully qualified names)."""
    wanted = expected if isinstance(expected, tuple | list) else (expected,)
    names = [w if isinstance(w, str) else _name(w) for w in wanted]
    if {_name(c) for c in type(model).__mro__} & set(names):
        return
    what, tail = " or ".join(names), "."
    if all(n.startswith("cooc.") for n in names):
        what, tail = f"cooc model ({what})", "; `cooc fit` makes one."
    kind = type(model)
    raise InputError(
        f"{str(path)!r} holds a {kind.__name__} ({_name(kind)}), not a {what}{tail}"
    )


def _import_skops():
    try:
        import skops.io as sio
    except ImportError:
        raise MissingDependencyError(
            "saving and loading models needs skops, a dependency of cooc that is "
            'missing here: pip install "cooc[skops]"'
        ) from None
    return sio
