"""Tests for cooc.classify: pipelines, cross-validated scores, safe model files."""

import io
import json
import operator
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from cooc.classify import (
    evaluate_classifier,
    load_model,
    make_classifier,
    roc_auc_ovr_score,
    save_model,
    trusted_types,
)
from cooc.fusion import LateFusionClassifier, ModalityFusion, make_early_fusion


@pytest.fixture
def data(rng):
    """Three overlapping classes in 4 dimensions; 90 rows."""
    y = np.repeat([0, 1, 2], 30)
    X = np.eye(3)[y] @ rng.normal(size=(3, 4)) + rng.normal(scale=0.8, size=(90, 4))
    return X, y


def small(kind):
    """make_classifier with settings that are fast on tiny data."""
    params = {"n_estimators": 10} if kind == "forest" else {}
    return make_classifier(kind, random_state=0, **params)


# -- make_classifier ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["logreg", "linear_svm", "forest"])
def test_make_classifier_kinds(data, kind):
    X, y = data
    model = small(kind)
    assert isinstance(model, Pipeline)
    assert model.steps[-1][0] == "clf"
    model.fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (90, 3)
    assert_allclose(proba.sum(axis=1), 1)
    assert model.score(X, y) > 0.6
    assert_array_equal(small(kind).fit(X, y).predict(X), model.predict(X))


def test_make_classifier_steps_and_params():
    logreg = make_classifier("logreg", C=0.1)
    assert [name for name, _ in logreg.steps] == ["scale", "clf"]
    assert logreg[-1].C == 0.1
    svm = make_classifier("linear_svm", C=0.2, random_state=3)
    assert isinstance(svm[-1], CalibratedClassifierCV)
    assert isinstance(svm[-1].estimator, LinearSVC)
    assert (svm[-1].estimator.C, svm[-1].estimator.random_state) == (0.2, 3)
    forest = make_classifier("forest", n_estimators=7)
    assert [name for name, _ in forest.steps] == ["clf"]
    assert forest[-1].n_estimators == 7


def test_make_classifier_errors():
    with pytest.raises(ValueError, match=r"kind='svm' is not one of"):
        make_classifier("svm")
    with pytest.raises(ValueError, match="Invalid parameter 'n_trees'"):
        make_classifier("forest", n_trees=3)


# -- evaluate_classifier --------------------------------------------------------------
def test_evaluate_classifier_scores(data):
    X, y = data
    scores = evaluate_classifier(small("logreg"), X, y, cv=3, random_state=1)
    for name in ("accuracy", "macro_f1", "roc_auc_ovr"):
        folds = scores["folds"][name]
        assert folds.shape == (3,)
        assert scores[name] == pytest.approx(folds.mean())
        assert scores[f"{name}_std"] == pytest.approx(folds.std())
        assert 0.5 < scores[name] <= 1
    assert scores["n_splits"] == 3
    assert scores["folds"]["fit_time"].shape == (3,)
    again = evaluate_classifier(small("logreg"), X, y, cv=3, random_state=1)
    assert_array_equal(again["folds"]["accuracy"], scores["folds"]["accuracy"])
    other = evaluate_classifier(
        small("logreg"), X, y, cv=KFold(3, shuffle=True, random_state=0)
    )
    assert other["n_splits"] == 3


def test_roc_auc_ovr_matches_sklearn(data):
    X, y = data
    model = small("logreg").fit(X[::2], y[::2])
    expected = roc_auc_score(
        y[1::2], model.predict_proba(X[1::2]), multi_class="ovr", average="macro"
    )
    assert roc_auc_ovr_score(model, X[1::2], y[1::2]) == pytest.approx(expected)
    # binary: the AUC of the second class
    binary = y[::2] < 2
    model = small("logreg").fit(X[::2][binary], y[::2][binary])
    proba = model.predict_proba(X[1::2][binary])[:, 1]
    assert roc_auc_ovr_score(model, X[1::2][binary], y[1::2][binary]) == pytest.approx(
        roc_auc_score(y[1::2][binary], proba)
    )


def test_roc_auc_from_decision_function(data):
    X, y = data
    svm = LinearSVC().fit(X, y)
    assert not hasattr(svm, "predict_proba")
    auc = roc_auc_ovr_score(svm, X, y)
    scores = svm.decision_function(X)
    expected = np.mean([roc_auc_score(y == k, scores[:, k]) for k in range(3)])
    assert auc == pytest.approx(expected)
    assert evaluate_classifier(LinearSVC(), X, y, cv=3)["roc_auc_ovr"] > 0.5


def test_evaluate_fusion_models_with_missing_modalities(data, rng):
    X, y = data
    X = X.copy()
    X[rng.choice(90, 10, replace=False), :2] = np.nan
    blocks = [("t", [0, 1]), ("i", [2, 3])]
    lr = LogisticRegression(solver="newton-cholesky")
    late = LateFusionClassifier(lr, blocks, cv=3, random_state=0)
    early = make_pipeline(ModalityFusion(blocks), lr)
    for model in (late, early):
        scores = evaluate_classifier(model, X, y, cv=3)
        assert scores["accuracy"] > 0.5


def test_evaluate_classifier_rejects_one_fold(data):
    with pytest.raises(ValueError, match="cv=1 must be >= 2"):
        evaluate_classifier(small("logreg"), *data, cv=1)


# -- save_model / load_model ----------------------------------------------------------
skops_io = pytest.importorskip("skops.io")


def fusion_models():
    blocks = [("t", [0, 1]), ("i", [2, 3])]
    return {
        "early": make_early_fusion(
            LogisticRegression(solver="newton-cholesky"),
            blocks,
            weight_steps=2,
            cv=3,
            random_state=0,
        ),
        "early_project": make_pipeline(
            ModalityFusion(blocks, impute="project", n_components=3), small("forest")
        ),
        "late": LateFusionClassifier(
            [("t", small("linear_svm")), ("i", small("forest"))], blocks, cv=2
        ),
    }


@pytest.mark.parametrize("name", ["logreg", "linear_svm", "forest", *fusion_models()])
def test_save_load_round_trip(data, rng, tmp_path, name):
    X, y = data
    X = X.copy()
    model = small(name) if name in ("logreg", "linear_svm", "forest") else None
    if model is None:
        model = fusion_models()[name]
        X[rng.choice(90, 10, replace=False), 2:] = np.nan
    model.fit(X, y)
    path = tmp_path / f"{name}.skops"
    save_model(model, path, metadata={"data": "toy", "scores": [0.5, 1.0]})
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    loaded, metadata = load_model(path)
    assert metadata == {"data": "toy", "scores": [0.5, 1.0]}
    assert type(loaded) is type(model)
    assert_array_equal(loaded.predict(X), model.predict(X))
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert set(skops_io.get_untrusted_types(file=path)) <= set(trusted_types())


def test_load_refuses_a_foreign_type(data, tmp_path):
    X, y = data
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression())
    model.fit(X, y)
    path = tmp_path / "model.skops"
    save_model(model, path)
    foreign = sorted(
        set(skops_io.get_untrusted_types(file=path)) - set(trusted_types())
    )
    assert foreign == ["_operator.neg"]
    with pytest.raises(ValueError, match="outside cooc's trusted list") as err:
        load_model(path)
    assert repr(foreign[0]) in str(err.value)
    loaded, _ = load_model(path, trusted=foreign)  # explicit opt-in
    assert_array_equal(loaded.predict(X), model.predict(X))


def test_load_refuses_a_tampered_file(data, tmp_path):
    X, y = data
    path = tmp_path / "model.skops"
    save_model(small("logreg").fit(X, y), path)
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(files["schema.json"])
    model_node = schema["content"]["model"]
    model_node["__module__"], model_node["__class__"] = "os", "system"
    files["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(
        ValueError, match=r"outside cooc's trusted list: \['os.system'\]"
    ):
        load_model(path)


def test_load_model_errors(tmp_path, data):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "nope.skops")
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable skops model file"):
        load_model(junk)
    bare = tmp_path / "bare.skops"
    skops_io.dump(small("logreg").fit(*data), bare)
    with pytest.raises(ValueError, match="not a cooc model file"):
        load_model(bare)


def test_save_model_errors(tmp_path, data):
    model = small("logreg").fit(*data)
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        save_model(model, tmp_path / "m.skops", metadata={"x": object()})
    with pytest.raises(ValueError, match="does not exist"):
        save_model(model, tmp_path / "missing" / "m.skops")
