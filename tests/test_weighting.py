"""Tests for cooc.weighting: ppmi, log_counts and PPMITransformer."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from cooc.weighting import PPMITransformer, log_counts, ppmi


def ppmi_reference(counts, context_alpha=0.75, shift=1.0):
    """Dense, loop-free restatement of the PPMI formula in float64."""
    C = np.asarray(counts, dtype=np.float64)
    row = C.sum(axis=1, keepdims=True)
    col = C.sum(axis=0, keepdims=True)
    col_alpha = np.where(col > 0, col**context_alpha, 0.0)  # unseen contexts: no mass
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(C * col_alpha.sum() / (row * col_alpha)) - np.log(shift)
    return np.where((C > 0) & (pmi > 0), pmi, 0.0)


count_matrices = arrays(
    dtype=np.int64,
    shape=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    elements=st.one_of(st.just(0), st.integers(0, 30)),
)


@settings(max_examples=150, deadline=None)
@given(
    counts=count_matrices,
    context_alpha=st.sampled_from([1.0, 0.75, 0.5, 0.0]),
    shift=st.sampled_from([1.0, 2.0, 5.0, 0.5]),
)
def test_ppmi_matches_dense_formula(counts, context_alpha, shift):
    expected = ppmi_reference(counts, context_alpha, shift)
    # float CSR input takes the threaded kernel path, the others the numpy one;
    # the last one stores explicit zeros (not canonical: numpy path again)
    with_zeros = sp.csr_matrix(counts.astype(np.float64))
    with_zeros.data[::2] = 0.0
    expected_zeros = ppmi_reference(with_zeros.toarray(), context_alpha, shift)
    for X, want in (
        (counts, expected),
        (sp.csr_matrix(counts), expected),
        (sp.coo_matrix(counts), expected),
        (sp.csr_matrix(counts.astype(np.float64)), expected),
        (sp.csr_array(counts.astype(np.float32)), expected),
        (with_zeros, expected_zeros),
    ):
        result = ppmi(X, context_alpha=context_alpha, shift=shift, dtype=np.float64)
        assert sp.issparse(result) and result.format == "csr"
        assert isinstance(result, sp.sparray) == isinstance(X, sp.sparray)
        assert result.dtype == np.float64
        assert np.all(result.data > 0)  # only positive entries are stored
        assert_allclose(result.toarray(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ppmi_threaded_path_matches_numpy_path_on_a_larger_matrix(dtype):
    # Rows of very different lengths (row blocks per thread), some empty rows
    # and unseen contexts; the int64 copy of the same counts takes the numpy path.
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((400, 300)) < 0.05, rng.integers(1, 21, (400, 300)), 0)
    dense[rng.random(400) < 0.1] = 0  # empty rows
    dense[:, 5] = 0  # an unseen context
    dense[:50] *= 7
    counts = sp.csr_matrix(dense)
    fast = ppmi(counts.astype(dtype), shift=2.0)
    slow = ppmi(counts.astype(np.int64), shift=2.0)
    assert fast.dtype == np.float32 and fast.has_sorted_indices
    assert_array_equal(fast.indptr, slow.indptr)
    assert_array_equal(fast.indices, slow.indices)
    assert_allclose(fast.data, slow.data, rtol=1e-6)
    assert_allclose(
        fast.toarray(), ppmi_reference(counts.toarray(), 0.75, 2.0), rtol=1e-6
    )
    # bad counts in a float CSR matrix still get the usual one-line errors
    bad = counts.astype(dtype)
    bad.data[3] = -1.0
    with pytest.raises(ValueError, match="Negative values"):
        ppmi(bad)
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ppmi(bad)


def test_ppmi_zero_rows_and_columns_stay_zero():
    counts = np.array([[0, 0, 0, 0], [0, 5, 0, 1], [0, 1, 0, 3], [0, 0, 0, 0]])
    result = ppmi(counts).toarray()
    assert np.isfinite(result).all()
    assert_array_equal(result[[0, 3]], 0)
    assert_array_equal(result[:, [0, 2]], 0)
    assert ppmi(np.zeros((3, 4))).nnz == 0


def test_ppmi_known_values():
    counts = np.array([[4, 0, 1], [0, 2, 2], [1, 2, 0]])
    # PMI(0, 0) = log(4 * 12 / (5 * 5)) with alpha = 1.
    assert ppmi(counts, context_alpha=1.0)[0, 0] == pytest.approx(
        np.log(48 / 25), rel=1e-6
    )
    shifted = ppmi(counts, context_alpha=1.0, shift=1.5)
    assert shifted[0, 0] == pytest.approx(np.log(48 / 25 / 1.5), rel=1e-6)
    # log(2 * 12 / (4 * 3)) - log(1.5) > 0 but log(24 / 16) - log(1.5) = 0: not stored.
    assert shifted[1, 2] > 0
    assert shifted[1, 1] == 0 and shifted.nnz == 3


def test_ppmi_dtype_and_containers():
    counts = np.array([[3, 1, 0], [1, 0, 2], [0, 2, 5]])
    default = ppmi(counts)
    assert isinstance(default, sp.csr_matrix) and default.dtype == np.float32
    assert ppmi(counts, dtype=np.float64).dtype == np.float64
    assert isinstance(ppmi(sp.csr_array(counts)), sp.csr_array)
    assert_allclose(
        ppmi(counts.astype(np.float32)).toarray(), ppmi(sp.csc_matrix(counts)).toarray()
    )
    assert_allclose(
        default.toarray(), ppmi(counts, dtype=np.float64).toarray(), rtol=1e-6
    )


def test_ppmi_canonicalises_duplicates_and_explicit_zeros():
    coo = sp.coo_matrix(
        ([1.0, 2.0, 0.0, 4.0], ([0, 0, 1, 1], [0, 0, 1, 0])), shape=(2, 2)
    )
    assert_allclose(ppmi(coo).toarray(), ppmi(coo.toarray()).toarray())


def test_ppmi_copy():
    counts = sp.csr_matrix(np.array([[3.0, 1.0], [1.0, 4.0]], dtype=np.float32))
    before = counts.toarray()
    out = ppmi(counts)
    assert out is not counts
    assert_array_equal(counts.toarray(), before)
    inplace = ppmi(counts, copy=False)
    assert inplace is counts
    assert_allclose(inplace.toarray(), out.toarray())


@pytest.mark.parametrize(
    "counts, match",
    [
        (np.array([[1.0, -1.0]]), "Negative values"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "infinity"),
    ],
)
def test_ppmi_rejects_bad_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        ppmi(counts)
    with pytest.raises(ValueError, match=match):
        log_counts(counts)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"context_alpha": 1.5}, "context_alpha=1.5"),
        ({"context_alpha": -0.1}, "context_alpha=-0.1"),
        ({"shift": 0}, "shift=0"),
        ({"dtype": np.int32}, "dtype"),
    ],
)
def test_ppmi_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ppmi(np.ones((2, 2)), **kwargs)


def test_log_counts():
    counts = np.array([[0, 1], [3, 0]])
    result = log_counts(counts)
    assert isinstance(result, sp.csr_matrix) and result.dtype == np.float32
    assert result.nnz == 2
    assert_allclose(result.toarray(), np.log1p(counts), rtol=1e-6)
    assert log_counts(counts, dtype=np.float64).dtype == np.float64


# --------------------------------------------------------------- estimator


@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    C = rng.poisson(1.0, size=(12, 9)).astype(np.float64)
    C[3] = 0  # an empty row
    C[:, 5] = 0  # an unseen context
    return C


@pytest.mark.parametrize(
    "params", [{}, {"context_alpha": 1.0}, {"context_alpha": 0.5, "shift": 3.0}]
)
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csr_array])
def test_transformer_on_training_data_equals_ppmi(counts, params, container):
    X = container(counts)
    Xt = PPMITransformer(**params).fit_transform(X)
    expected = ppmi(counts, dtype=np.float64, **params).toarray()
    if sp.issparse(X):
        assert sp.issparse(Xt) and Xt.format == "csr"
        Xt = Xt.toarray()
    else:
        assert isinstance(Xt, np.ndarray)
    assert_allclose(Xt, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformer_preserves_dtype(counts, dtype):
    est = PPMITransformer().fit(counts.astype(dtype))
    assert est.transform(counts.astype(dtype)).dtype == dtype
    assert est.transform(sp.csr_matrix(counts.astype(dtype))).dtype == dtype
    assert est.context_probs_.dtype == np.float64
    assert est.context_probs_.sum() == pytest.approx(1.0)
    assert est.n_features_in_ == counts.shape[1]


def test_transformer_rows_are_independent(counts):
    est = PPMITransformer().fit(counts)
    full = est.transform(counts)
    assert_allclose(est.transform(counts[4:7]), full[4:7])


def test_transformer_formula_on_new_rows(counts):
    est = PPMITransformer(context_alpha=0.75, shift=2.0).fit(counts)
    new = np.array([[0.0, 2.0, 1.0, 0.0, 0.0, 7.0, 0.0, 0.0, 3.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(new / new.sum() / est.context_probs_) - np.log(2.0)
    expected = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
    assert expected[0, 5] == 0  # unseen context gives 0, not inf
    assert_allclose(est.transform(new), expected, rtol=1e-12)


def test_transformer_errors(counts):
    with pytest.raises(NotFittedError):
        PPMITransformer().transform(counts)
    with pytest.raises(ValueError, match="Negative values"):
        PPMITransformer().fit(-counts - 1)
    est = PPMITransformer().fit(counts)
    with pytest.raises(ValueError, match="Negative values"):
        est.transform(-counts - 1)
    with pytest.raises(ValueError, match="features"):
        est.transform(counts[:, :4])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"context_alpha": 1.5}, "context_alpha"),
        ({"context_alpha": "0.75"}, "context_alpha"),
        ({"shift": 0.0}, "shift"),
        ({"shift": -1.0}, "shift"),
    ],
)
def test_transformer_parameter_validation(counts, params, match):
    with pytest.raises(ValueError, match=match):
        PPMITransformer(**params).fit(counts)


def test_transformer_clone_and_feature_names(counts):
    est = clone(PPMITransformer(0.5, shift=2.0))
    assert est.get_params() == {"context_alpha": 0.5, "shift": 2.0}
    est.fit(counts)
    assert list(est.get_feature_names_out()) == [
        f"x{i}" for i in range(counts.shape[1])
    ]


@parametrize_with_checks(
    [PPMITransformer(), PPMITransformer(context_alpha=1.0, shift=2.0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
