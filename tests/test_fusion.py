"""Tests for cooc.fusion: ModalityFusion, make_early_fusion, LateFusionClassifier."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from cooc.fusion import (
    LateFusionClassifier,
    ModalityFusion,
    make_early_fusion,
    missing_modalities,
    simplex_grid,
)

TWO = [("a", slice(0, 1)), ("b", slice(1, None))]


def LR():
    """A logistic regression that is fast on tiny data."""
    return LogisticRegression(solver="newton-cholesky")


@parametrize_with_checks(
    [
        ModalityFusion(),
        ModalityFusion(TWO, weights=[1, 2], impute="project"),
        ModalityFusion(TWO, scaling="l2", impute="zero", n_components=1),
        LateFusionClassifier(GaussianNB(), TWO, cv=2, random_state=0),
        LateFusionClassifier(GaussianNB(), TWO, rule="product", weights=[0.7, 0.3]),
        LateFusionClassifier(GaussianNB(), None, rule="vote", weights=None),
        LateFusionClassifier(GaussianNB(), TWO, rule="stack", cv=2, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- helpers --------------------------------------------------------------------------
def two_modalities(rng, n=240, noise_b=False):
    """4 classes; block a tells {0,1} from {2,3}, block b tells {0,2} from {1,3}.

    Each block alone reaches about 50% accuracy, both together about 100%.
    With ``noise_b`` block b is pure noise (and a tells all 4 classes apart).
    """
    y = np.arange(n) % 4
    a = (y >= 2).astype(float)[:, None] + rng.normal(scale=0.25, size=(n, 3))
    b = (y % 2).astype(float)[:, None] + rng.normal(scale=0.25, size=(n, 4))
    if noise_b:
        a = np.eye(4)[y] * 2 + rng.normal(scale=0.6, size=(n, 4))
        b = rng.normal(size=(n, 4))
    X = np.hstack([a, b])
    blocks = [("a", slice(0, a.shape[1])), ("b", slice(a.shape[1], None))]
    return X, y, blocks


def drop_blocks(X, blocks, rng, fraction=0.2):
    """Copy of X where ``fraction`` of the rows lose block a and as many block b."""
    X = X.copy()
    rows = rng.permutation(X.shape[0])
    k = int(fraction * X.shape[0])
    X[rows[:k], blocks[0][1]] = np.nan
    X[rows[k : 2 * k], blocks[1][1]] = np.nan
    return X, rows[:k], rows[k : 2 * k]


# -- helpers of the module ------------------------------------------------------------
def test_simplex_grid():
    grid = simplex_grid(3, 2)
    assert grid.shape == (6, 3)
    assert_allclose(grid.sum(axis=1), 1)
    assert {tuple(w) for w in grid} >= {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    assert len({tuple(w) for w in grid}) == 6
    assert_allclose(simplex_grid(2, 20)[:, 0], np.linspace(1, 0, 21))
    assert_array_equal(simplex_grid(1, 5), [[1.0]])


def test_missing_modalities_is_all_nan_per_block():
    X = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [np.nan, np.nan, 2.0]])
    mask = missing_modalities(X, {"t": [0, 1], "i": [2]})
    assert_array_equal(mask, [[False, False], [True, True], [True, False]])


# -- ModalityFusion -------------------------------------------------------------------
def test_fusion_scales_weights_and_concatenates(rng):
    X = rng.normal(size=(30, 5)) * [1, 10, 100, 2, 3] + 7
    fusion = ModalityFusion([("t", slice(0, 2)), ("i", [2, 3, 4])], weights=[3, 0.5])
    Z = fusion.fit_transform(X)
    expected = np.hstack(
        [
            StandardScaler().fit_transform(X[:, :2]) * 3 / np.sqrt(2),
            StandardScaler().fit_transform(X[:, 2:]) * 0.5 / np.sqrt(3),
        ]
    )
    assert_allclose(Z, expected, atol=1e-12)
    assert_allclose(fusion.transform(X), Z)
    assert_allclose(fusion.block_scales_, [3 / np.sqrt(2), 0.5 / np.sqrt(3)])
    # every block has total variance weight**2 whatever its width
    assert_allclose(Z[:, :2].var(axis=0).sum(), 9)
    assert_allclose(Z[:, 2:].var(axis=0).sum(), 0.25)
    assert list(fusion.get_feature_names_out()) == [
        "t__x0",
        "t__x1",
        "i__x2",
        "i__x3",
        "i__x4",
    ]


def test_fusion_l2_and_none_scaling(rng):
    X = rng.normal(size=(20, 4)) + 5
    Z = ModalityFusion([("t", [0, 1]), ("i", [2, 3])], scaling="l2").fit_transform(X)
    assert_allclose(np.linalg.norm(Z[:, :2], axis=1), 1)
    assert_allclose(np.linalg.norm(Z[:, 2:], axis=1), 1)
    Z = ModalityFusion([("i", [2, 3]), ("t", [0])], scaling="none", weights=[1, 2])
    assert_allclose(Z.fit_transform(X), np.hstack([X[:, 2:], 2 * X[:, :1]]))


def test_fusion_missing_blocks_at_fit_and_transform(rng):
    X, _, blocks = two_modalities(rng, n=40)
    X_missing, lost_a, lost_b = drop_blocks(X, blocks, rng)
    fusion = ModalityFusion(blocks)
    Z = fusion.fit_transform(X_missing)
    assert np.isfinite(Z).all()
    # scalers learn from the rows that have the block only
    present_a = np.setdiff1d(np.arange(40), lost_a)
    assert_allclose(fusion.means_[0], X[present_a, :3].mean(axis=0))
    assert_allclose(fusion.scalers_[0].scale_, X[present_a, :3].std(axis=0))
    # mean imputation is 0 after standard scaling; present blocks are unchanged
    assert_allclose(Z[lost_a, :3], 0)
    assert_allclose(Z[lost_b, 3:], 0)
    full = fusion.transform(X)
    assert_allclose(full[lost_a, 3:], Z[lost_a, 3:])
    # transform of new rows with a missing block: same rule
    Xt = X[:4].copy()
    Xt[0, 3:] = np.nan
    Zt = fusion.transform(Xt)
    assert_allclose(Zt[0, 3:], 0)
    assert_allclose(Zt[1:], full[1:4])


def test_fusion_zero_imputation_and_isolated_nan(rng):
    X = rng.normal(size=(10, 4)) + 3
    X[0, :2] = np.nan  # missing block
    X[1, 0] = np.nan  # isolated NaN in a present block
    fusion = ModalityFusion(
        [("t", [0, 1]), ("i", [2, 3])], impute="zero", scaling="none"
    )
    Z = fusion.fit_transform(X)
    assert_allclose(Z[0, :2], 0)
    assert_allclose(Z[1, 0], np.nanmean(X[1:, 0]))


def test_fusion_project_recovers_a_linear_modality(rng):
    n = 200
    a = rng.normal(size=(n, 3))
    b = a @ rng.normal(size=(3, 4)) + 0.01 * rng.normal(size=(n, 4))
    X = np.hstack([a, b])
    X_missing = X.copy()
    X_missing[:20, 3:] = np.nan  # 20 items without their image
    blocks = [("text", slice(0, 3)), ("image", slice(3, None))]
    projected = ModalityFusion(blocks, impute="project").fit(X_missing)
    mean = ModalityFusion(blocks, impute="mean").fit(X_missing)
    truth = projected.transform(X)[:20, 3:]
    err_project = np.abs(projected.transform(X_missing)[:20, 3:] - truth).max()
    err_mean = np.abs(mean.transform(X_missing)[:20, 3:] - truth).max()
    assert err_project < 0.05 < err_mean
    assert projected.projectors_[1] is not None
    # a row without any block gets the means (0 after scaling) from the projection
    empty = np.full((1, 7), np.nan)
    assert_allclose(projected.transform(empty), 0, atol=0.05)


def test_fusion_noise_only_in_fit_transform(rng):
    X = rng.normal(size=(500, 4))
    fusion = ModalityFusion([("t", [0, 1]), ("i", [2, 3])], noise=0.3, random_state=0)
    noisy = fusion.fit_transform(X)
    clean = fusion.transform(X)
    assert 0.28 < np.std(noisy - clean) < 0.32
    assert_allclose(fusion.transform(X), clean)  # transform never adds noise
    assert_allclose(fusion.fit_transform(X), noisy)  # seeded


def test_fusion_svd_mixing(rng):
    X = rng.normal(size=(50, 6))
    fusion = ModalityFusion([("t", [0, 1, 2]), ("i", [3, 4, 5])], n_components=2)
    Z = fusion.fit_transform(X)
    assert Z.shape == (50, 2)
    assert_allclose(fusion.transform(X), Z, atol=1e-10)
    assert list(fusion.get_feature_names_out()) == [
        "modalityfusion0",
        "modalityfusion1",
    ]
    with pytest.raises(ValueError, match=r"n_components=7 must be <= .* 6"):
        ModalityFusion(n_components=7).fit(X)


def test_fusion_dataframe_column_names(rng):
    frame = pd.DataFrame(rng.normal(size=(10, 3)), columns=["t0", "t1", "img"])
    fusion = ModalityFusion({"text": ["t0", "t1"], "image": ["img"]}).fit(frame)
    assert_array_equal(fusion.blocks_[0][1], [0, 1])
    assert list(fusion.get_feature_names_out()) == [
        "text__t0",
        "text__t1",
        "image__img",
    ]


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (
            {"blocks": [("a", [0, 1]), ("b", [1, 2])]},
            ValueError,
            "column 1 is in blocks",
        ),
        ({"blocks": [("a", [0, 9])]}, ValueError, "out of range .* n_features=4"),
        ({"blocks": [("a", slice(4, None))]}, ValueError, "selects no columns"),
        ({"blocks": [("a", [0]), ("a", [1])]}, ValueError, "used twice"),
        ({"blocks": [("a", ["x"])]}, ValueError, "no column names"),
        ({"blocks": [("a", [0])], "weights": [1, 2]}, ValueError, "2 entries for 1"),
        ({"blocks": [("a", [0]), ("b", [1])], "weights": [-1, 2]}, ValueError, ">= 0"),
        ({"blocks": [("a", [0])], "weights": {"z": 1}}, ValueError, "not block names"),
        ({"blocks": [("x", [3])]}, ValueError, "missing .* in every row"),
        ({"blocks": "a"}, ValueError, "blocks"),
        ({"scaling": "minmax"}, ValueError, "scaling"),
        ({"noise": -1.0}, ValueError, "noise"),
    ],
)
def test_fusion_parameter_errors(params, error, match):
    X = np.arange(12, dtype=float).reshape(3, 4)
    X[:, 3] = np.nan
    with pytest.raises(error, match=match):
        ModalityFusion(**params).fit(X)


# -- early fusion with learned weights ------------------------------------------------
def cv_accuracy(model, X, y):
    folds = StratifiedKFold(4, shuffle=True, random_state=1)
    return cross_val_score(model, X, y, cv=folds).mean()


def single_modality_scores(X, y, blocks):
    lr = LR()
    return {
        name: cv_accuracy(make_pipeline(StandardScaler(), clone(lr)), X[:, cols], y)
        for name, cols in blocks
    }


def test_early_fusion_learns_to_ignore_a_noise_modality(rng):
    X, y, blocks = two_modalities(rng, n=160, noise_b=True)
    search = make_early_fusion(LR(), blocks, weight_steps=5, cv=3, random_state=0)
    search.fit(X, y)
    weights = search.best_params_["fusion__weights"]
    assert weights[0] == 1.0
    assert weights[1] <= 0.4
    # the one-hot weights are candidates, so the search never scores below them
    results = search.cv_results_
    one_hot = [
        i
        for i, w in enumerate(results["param_fusion__weights"])
        if np.count_nonzero(w) == 1
    ]
    assert len(one_hot) == 2
    assert search.best_score_ >= results["mean_test_score"][one_hot].max()
    singles = single_modality_scores(X, y, blocks)
    assert cv_accuracy(search, X, y) >= max(singles.values()) - 0.02


def test_early_fusion_beats_both_modalities_when_complementary(rng):
    X, y, blocks = two_modalities(rng)
    singles = single_modality_scores(X, y, blocks)
    assert max(singles.values()) < 0.65
    search = make_early_fusion(LR(), blocks, weight_steps=4, cv=3)
    assert cv_accuracy(search, X, y) > max(singles.values()) + 0.25
    # with missing modalities it still works at fit and predict time
    X_missing, _, _ = drop_blocks(X, blocks, rng)
    assert cv_accuracy(search, X_missing, y) > max(singles.values()) + 0.1


def test_early_fusion_extra_grid_and_scaler_error(rng):
    X, y, blocks = two_modalities(rng, n=40)
    grid = make_early_fusion(LR(), blocks).param_grid["fusion__weights"]
    assert len(grid) == 11
    assert {(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.2), (0.6, 1.0)} <= set(grid)
    assert all(max(w) == 1.0 for w in grid)
    search = make_early_fusion(
        LR(), blocks, weight_steps=1, param_grid={"clf__C": [1, 2]}
    )
    assert len(search.fit(X, y).cv_results_["params"]) == 6  # 3 weights x 2 C
    with pytest.raises(
        ValueError, match=r"column scaling step\(s\) \['standardscaler'\]"
    ):
        make_early_fusion(make_pipeline(StandardScaler(), LR()), blocks)


# -- late fusion ----------------------------------------------------------------------
class ProbaPassthrough(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose probabilities are its input rows (for hand checks)."""

    def fit(self, X, y):
        self.classes_ = np.arange(X.shape[1])  # labels are 0..n_columns-1
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]


def hand_data():
    """Block a = p_a, block b = p_b (3 classes); rows with missing blocks."""
    pa = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    pb = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
    X = np.hstack([pa, pb])
    X[2, 3:] = np.nan  # row 2 has only a
    X[3, :] = np.nan  # row 3 has nothing
    y = np.array([0, 1, 2, 2])
    blocks = [("a", slice(0, 3)), ("b", slice(3, 6))]
    return X, y, pa, pb, blocks


@pytest.mark.parametrize("rule", ["mean", "product", "vote"])
def test_late_fusion_rules_and_renormalisation_by_hand(rule):
    X, y, pa, pb, blocks = hand_data()
    clf = LateFusionClassifier(
        ProbaPassthrough(), blocks, rule=rule, weights=[3, 1]
    ).fit(X, y)
    assert_allclose(clf.weights_, [0.75, 0.25])
    if rule == "mean":
        both = 0.75 * pa[:2] + 0.25 * pb[:2]
    elif rule == "product":
        both = pa[:2] ** 0.75 * pb[:2] ** 0.25
        both /= both.sum(axis=1, keepdims=True)
    else:  # a (weight 0.75) outvotes b
        both = np.eye(3)[[0, 1]] * 0.75 + np.eye(3)[[1, 0]] * 0.25
    proba = clf.predict_proba(X)
    assert_allclose(proba[:2], both, atol=1e-5)
    # row 2 has only a: its weight renormalises to 1, whatever the rule
    only_a = np.eye(3)[2] if rule == "vote" else pa[2]
    assert_allclose(proba[2], only_a, atol=1e-5)
    # row 3 has nothing: the class prior
    assert_allclose(proba[3], [0.25, 0.25, 0.5])
    assert_allclose(proba.sum(axis=1), 1)
    assert_array_equal(clf.predict(X), proba.argmax(axis=1))


def test_late_fusion_vote_ties_go_to_the_more_probable_class():
    X, y, _, _, blocks = hand_data()
    clf = LateFusionClassifier(ProbaPassthrough(), blocks, rule="vote", weights=None)
    clf.fit(X, y)
    # row 0: a votes 0 (0.6), b votes 1 (0.7); equal weights: mean prob favours 1
    assert clf.predict(X[:1])[0] == 1
    assert_allclose(clf.predict_proba(X[:1]), [[0.5, 0.5, 0]], atol=1e-5)


def test_late_fusion_zero_weight_modality_still_used_when_alone():
    X, y, pa, pb, blocks = hand_data()
    X[2, :3], X[2, 3:] = np.nan, pb[2]  # row 2 now has only b
    clf = LateFusionClassifier(ProbaPassthrough(), blocks, weights=[1, 0]).fit(X, y)
    proba = clf.predict_proba(X)
    assert_allclose(proba[0], pa[0])
    assert_allclose(proba[2], pb[2])  # better than the prior


def test_late_fusion_matches_soft_voting_without_missing(rng):
    X, y, blocks = two_modalities(rng, n=80)
    late = LateFusionClassifier(LR(), blocks, weights=[2, 1]).fit(X, y)
    select = [
        FunctionTransformer(lambda Z, cols=cols: Z[:, cols]) for _, cols in blocks
    ]
    voting = VotingClassifier(
        [
            (name, make_pipeline(sel, LR()))
            for (name, _), sel in zip(blocks, select, strict=True)
        ],
        voting="soft",
        weights=[2, 1],
    ).fit(X, y)
    assert_allclose(late.predict_proba(X), voting.predict_proba(X), atol=1e-10)


def test_late_fusion_missing_modalities_at_fit_and_predict(rng):
    X, y, blocks = two_modalities(rng, n=120)
    X_missing, lost_a, _ = drop_blocks(X, blocks, rng)
    X_missing[0] = np.nan  # an item with neither modality
    clf = LateFusionClassifier(LR(), blocks, cv=3, random_state=0)
    clf.fit(X_missing, y)
    assert clf.estimators_[0].n_features_in_ == 3
    proba = clf.predict_proba(X_missing)
    assert np.isfinite(proba).all()
    only_b = np.setdiff1d(lost_a, [0])
    assert_allclose(
        proba[only_b], clf.named_estimators_["b"].predict_proba(X[only_b, 3:])
    )
    assert_allclose(proba[0], clf.class_prior_)
    assert_allclose(clf.class_prior_, 0.25)


@pytest.mark.parametrize("rule", ["mean", "product", "vote"])
def test_late_fusion_learned_weights_ignore_a_noise_modality(rng, rule):
    X, y, blocks = two_modalities(rng, n=160, noise_b=True)
    clf = LateFusionClassifier(LR(), blocks, rule=rule, random_state=0)
    clf.fit(X, y)
    assert clf.weights_[0] >= 0.8
    best = int(np.argmax(clf.cv_results_["accuracy"]))
    assert clf.cv_results_["accuracy"][best] >= max(clf.modality_scores_.values())
    assert clf.modality_scores_["a"] > 0.8 > 0.4 > clf.modality_scores_["b"]


@pytest.mark.parametrize("rule", ["mean", "product", "stack"])
def test_late_fusion_beats_both_modalities_when_complementary(rng, rule):
    X, y, blocks = two_modalities(rng)
    singles = single_modality_scores(X, y, blocks)
    clf = LateFusionClassifier(LR(), blocks, rule=rule, cv=3)
    assert cv_accuracy(clf, X, y) > max(singles.values()) + 0.25
    X_missing, _, _ = drop_blocks(X, blocks, rng)
    assert cv_accuracy(clf, X_missing, y) > max(singles.values()) + 0.1


def test_late_fusion_per_block_estimators_and_nested_params(rng):
    X, y, blocks = two_modalities(rng, n=80)
    clf = LateFusionClassifier([("a", LR()), ("b", GaussianNB())], blocks, weights=None)
    assert clf.get_params()["a__C"] == 1.0
    clf.set_params(a__C=0.5)
    assert clf.estimators[0][1].C == 0.5
    clf.fit(X, y)
    assert isinstance(clf.named_estimators_["b"], GaussianNB)
    assert clf.named_estimators_["a"] is not clf.estimators[0][1]  # fitted clones


@pytest.mark.parametrize(
    ("estimators", "kwargs", "match"),
    [
        ([("x", GaussianNB()), ("b", GaussianNB())], {}, "named .*'x'.* blocks are"),
        (LinearSVC(), {}, r"needs predict_proba.*\(LinearSVC\)"),
        ("not an estimator", {}, "pass a classifier"),
        (GaussianNB(), {"weights": [1, 2, 3]}, "3 entries for 2 blocks"),
        (GaussianNB(), {"rule": "max"}, "rule"),
        (GaussianNB(), {"rule": "stack", "weights": [1, 1]}, "rule='stack' learns"),
    ],
)
def test_late_fusion_parameter_errors(rng, estimators, kwargs, match):
    X, y, blocks = two_modalities(rng, n=40)
    with pytest.raises((ValueError, TypeError), match=match):
        LateFusionClassifier(estimators, blocks, **kwargs).fit(X, y)


def test_late_fusion_block_errors(rng):
    X, y, blocks = two_modalities(rng, n=40)
    X_bad = X.copy()
    X_bad[:, 3:] = np.nan
    with pytest.raises(ValueError, match=r"block 'b' is missing .* every training row"):
        LateFusionClassifier(GaussianNB(), blocks).fit(X_bad, y)
    X_bad = X.copy()
    X_bad[y != 0, 3:] = np.nan
    with pytest.raises(
        ValueError, match="block 'b' is present only in rows of class 0"
    ):
        LateFusionClassifier(GaussianNB(), blocks).fit(X_bad, y)


def test_late_fusion_vote_works_without_predict_proba(rng):
    X, y, blocks = two_modalities(rng, n=80, noise_b=True)
    clf = LateFusionClassifier(LinearSVC(), blocks, rule="vote", cv=3, random_state=0)
    clf.fit(X, y)
    assert clf.weights_[0] >= 0.8
    assert clf.score(X, y) > 0.8


# -- sparse input ---------------------------------------------------------------------
def sparse_with_markers(X, blocks):
    """CSR copy of X where a missing (all-NaN) block keeps one NaN, in its first column."""
    X = X.copy()
    mask = missing_modalities(X, blocks)
    for b, (_, cols) in enumerate(blocks):
        idx = np.arange(X.shape[1])[cols]
        X[np.ix_(mask[:, b], idx)] = 0.0
        X[mask[:, b], idx[0]] = np.nan
    return sp.csr_matrix(X)


def test_missing_modalities_sparse_reads_stored_nan():
    X = sp.csr_matrix(np.array([[1.0, 0, 3], [np.nan, 0, 0], [0, 0, np.nan]]))
    mask = missing_modalities(X, {"t": [0, 1], "i": [2]})
    # row 0 block t stores a value; row 2 block t stores nothing: present (zeros)
    assert_array_equal(mask, [[False, False], [True, False], [False, True]])


@pytest.mark.parametrize("impute", ["mean", "zero"])
def test_fusion_sparse_matches_dense_without_scaling(rng, impute):
    X, _, blocks = two_modalities(rng, n=40)
    X_missing, _, _ = drop_blocks(X, blocks, rng)
    S = sparse_with_markers(X_missing, blocks)
    dense = ModalityFusion(blocks, scaling="none", impute=impute, weights=[2, 0.5])
    sparse = clone(dense)
    expected = dense.fit_transform(X_missing)
    got = sparse.fit_transform(S)
    assert sp.issparse(got)
    if impute == "mean":
        # means over the rows that have the block: identical in both layouts
        assert_allclose(got.toarray(), expected, atol=1e-12)
    else:
        zero_dense = np.nan_to_num(X_missing) * np.r_[[2.0] * 3, [0.5] * 4]
        assert_allclose(got.toarray(), zero_dense, atol=1e-12)
    assert_allclose(sparse.transform(S).toarray(), got.toarray())


def test_fusion_sparse_standard_and_l2_scaling(rng):
    X = np.abs(rng.normal(size=(30, 5)))
    X[X < 0.5] = 0.0
    S = sp.csr_matrix(X)
    blocks = [("t", [0, 1]), ("i", [2, 3, 4])]
    Z = ModalityFusion(blocks).fit_transform(S).toarray()
    # sparse input is scaled to unit variance but not centred
    expected = np.hstack([X[:, :2] / X[:, :2].std(axis=0) / np.sqrt(2),
                          X[:, 2:] / X[:, 2:].std(axis=0) / np.sqrt(3)])
    assert_allclose(Z, expected, atol=1e-12)
    Z = ModalityFusion(blocks, scaling="l2").fit_transform(S).toarray()
    nonzero = np.linalg.norm(X[:, :2], axis=1) > 0
    assert_allclose(np.linalg.norm(Z[nonzero, :2], axis=1), 1)


def test_fusion_sparse_refuses_projection_and_noise(rng):
    S = sp.csr_matrix(np.eye(6))
    with pytest.raises(ValueError, match="impute='project' needs dense X"):
        ModalityFusion(TWO, impute="project").fit(S)
    with pytest.raises(ValueError, match="noise=0.1 would make the sparse"):
        ModalityFusion(TWO, noise=0.1).fit(S)


def test_late_fusion_sparse_matches_dense(rng):
    X, y, blocks = two_modalities(rng, n=120)
    X_missing, _, _ = drop_blocks(X, blocks, rng)
    S = sparse_with_markers(X_missing, blocks)
    est = LogisticRegression(tol=1e-10, max_iter=1000)
    dense = LateFusionClassifier(est, blocks, cv=3, random_state=0).fit(X_missing, y)
    sparse = LateFusionClassifier(est, blocks, cv=3, random_state=0).fit(S, y)
    assert_allclose(sparse.weights_, dense.weights_)
    assert_allclose(sparse.predict_proba(S), dense.predict_proba(X_missing), atol=1e-6)


def test_early_fusion_sparse_learns_the_same_weights(rng):
    X, y, blocks = two_modalities(rng, n=160, noise_b=True)
    est = LogisticRegression(tol=1e-10, max_iter=1000)
    kw = dict(weight_steps=2, scaling="none", cv=3, random_state=0)
    dense = make_early_fusion(est, blocks, **kw).fit(X, y)
    sparse = make_early_fusion(est, blocks, **kw).fit(sp.csr_matrix(X), y)
    assert sparse.best_params_ == dense.best_params_
    assert_allclose(sparse.cv_results_["mean_test_score"],
                    dense.cv_results_["mean_test_score"])


@pytest.mark.parametrize("rule", ["product", "vote", "stack"])
def test_late_fusion_with_rule_equals_a_fit_with_that_rule(rng, rule):
    X, y, blocks = two_modalities(rng, n=120)
    X_missing, _, _ = drop_blocks(X, blocks, rng)
    base = LateFusionClassifier(LR(), blocks, cv=3, random_state=0).fit(X_missing, y)
    switched = base.with_rule(rule)
    direct = LateFusionClassifier(LR(), blocks, rule=rule, cv=3, random_state=0)
    direct.fit(X_missing, y)
    assert switched.rule == rule and base.rule == "mean"
    assert_allclose(switched.weights_, direct.weights_)
    assert_allclose(switched.predict_proba(X_missing), direct.predict_proba(X_missing))
    with pytest.raises(ValueError, match="rule='max'"):
        base.with_rule("max")


# -- stacking -------------------------------------------------------------------------
def test_late_fusion_stack_is_a_logistic_regression_on_oof_log_ratios(rng):
    X, y, blocks = two_modalities(rng, n=200)
    X_missing, lost_a, lost_b = drop_blocks(X, blocks, rng)
    X_missing[lost_a[0]] = np.nan  # one row without any modality
    clf = LateFusionClassifier(LR(), blocks, rule="stack", cv=3, random_state=0)
    clf.fit(X_missing, y)
    assert clf.meta_ is not None
    # reference, built from the stored OOF probabilities by hand
    prior = np.bincount(y) / y.size
    present = ~missing_modalities(X_missing, blocks)
    Z = np.hstack([
        np.where(present[:, [b]], np.log(clf.oof_proba_[b].clip(1e-12)) - np.log(prior), 0)
        for b in range(2)
    ])
    rows = present.any(axis=1)
    ref = LogisticRegression(C=1.0, max_iter=2000).fit(Z[rows], y[rows])
    # at prediction: each block's final estimator, zeros where a block is missing
    P = [np.zeros((y.size, 4)), np.zeros((y.size, 4))]
    for b, (_, cols) in enumerate(blocks):
        have = present[:, b]
        P[b][have] = clf.estimators_[b].predict_proba(X_missing[have][:, cols])
    Zp = np.hstack([
        np.where(present[:, [b]], np.log(P[b].clip(1e-12)) - np.log(prior), 0)
        for b in range(2)
    ])
    proba = clf.predict_proba(X_missing)
    assert_allclose(proba[rows], ref.predict_proba(Zp[rows]), atol=1e-6)
    assert_allclose(proba[~rows], np.tile(prior, (int((~rows).sum()), 1)))
    # weights_ summarise the coefficients; the stack is the last candidate
    share = np.abs(ref.coef_).reshape(4, 2, 4).sum(axis=(0, 2))
    assert_allclose(clf.weights_, share / share.sum(), rtol=1e-6)
    assert clf.cv_results_["accuracy"][-1] >= clf.cv_results_["accuracy"][:2].max()
    # the complementary blocks: the stack is far above either alone out of fold
    assert clf.cv_results_["accuracy"][-1] > clf.cv_results_["accuracy"][:2].max() + 0.2


def test_late_fusion_stack_falls_back_to_the_best_single_modality(rng, monkeypatch):
    import cooc.fusion as fusion

    # a regression regularised to the prior predicts one class: worse than block a
    monkeypatch.setattr(fusion, "_STACK_C", 1e-8)
    X, y, blocks = two_modalities(rng, n=160, noise_b=True)
    clf = LateFusionClassifier(LR(), blocks, rule="stack", cv=3, random_state=0)
    clf.fit(X, y)
    assert clf.meta_ is None
    assert_array_equal(clf.weights_, [1.0, 0.0])
    acc = clf.cv_results_["accuracy"]
    assert acc[0] > acc[-1] and acc[0] == acc.max()
    alone = clf.named_estimators_["a"].predict_proba(X[:, blocks[0][1]])
    assert_allclose(clf.predict_proba(X), alone)


def test_late_fusion_stack_needs_the_oof_probabilities(rng):
    X, y, blocks = two_modalities(rng, n=80)
    fixed = LateFusionClassifier(LR(), blocks, weights=[1, 1]).fit(X, y)
    with pytest.raises(ValueError, match="rule='stack' learns from out-of-fold"):
        fixed.with_rule("stack")
