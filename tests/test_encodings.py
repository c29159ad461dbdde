"""Tests for cooc.encodings and the encodings of VisualWords (soft, VLAD, Fisher)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from cooc.encodings import (
    bag,
    fisher_vectors,
    gmm_posteriors,
    hellinger_map,
    power_l2,
    soft_assign,
    vlad,
)
from cooc.errors import InputError
from cooc.vision import VisualWords, extract_patches, pca_projection, project

# -- hand-made descriptors: 2 centres in 2-D -------------------------------------------
CENTERS = np.array([[0.0, 0.0], [4.0, 0.0]])
# patches 0-2 belong to image 0, 3-4 to image 1; nearest centres 0, 0, 1 | 1, 1
Z = np.array([[1.0, 1.0], [-1.0, 2.0], [3.0, 0.0], [5.0, -1.0], [4.0, 3.0]])
SEGMENTS = np.array([0, 0, 0, 1, 1])


def test_vlad_by_hand():
    out = vlad(Z, CENTERS, SEGMENTS, 2)
    # image 0: word 0 residuals (1,1)+(-1,2) = (0,3); word 1: (3,0)-(4,0) = (-1,0)
    # image 1: word 0 none; word 1: (1,-1)+(0,3) = (1,2)
    expected = np.array([[0, 1, -1, 0], [0, 0, 1 / np.sqrt(5), 2 / np.sqrt(5)]])
    assert out.dtype == np.float32
    assert_allclose(out, expected, rtol=1e-6)
    # the nearest centres may be passed in (as k-means' predict gives them)
    assert_allclose(vlad(Z, CENTERS, SEGMENTS, 2, nearest=[0, 0, 1, 1, 1]), out)


def brute_vlad(Z, centers, segments, n_segments):
    k, d = centers.shape
    out = np.zeros((n_segments, k, d))
    for z, s in zip(Z, segments, strict=True):
        j = np.argmin(((centers - z) ** 2).sum(axis=1))
        out[s, j] += z - centers[j]
    for s in range(n_segments):
        for j in range(k):
            norm = np.linalg.norm(out[s, j])
            if norm > 0:
                out[s, j] /= norm
    return out.reshape(n_segments, -1)


def test_vlad_matches_brute_force(rng):
    Zr = rng.normal(size=(60, 3))
    centers = rng.normal(size=(5, 3))
    segments = rng.integers(0, 4, size=60)
    assert_allclose(
        vlad(Zr, centers, segments, 4),
        brute_vlad(Zr, centers, segments, 4),
        rtol=1e-5,
        atol=1e-6,
    )


def gmm_log_likelihood(Z, w, mu, sd):
    """Sum over rows of log p(z) under a diagonal mixture (the reference)."""
    comp = -0.5 * (((Z[:, None, :] - mu) / sd) ** 2 + np.log(2 * np.pi * sd**2))
    return logsumexp(np.log(w) + comp.sum(axis=2), axis=1).sum()


def test_fisher_vector_is_the_scaled_gradient_of_the_log_likelihood():
    # Improved FV: u_k = sd_k dL/dmu_k / (N sqrt(w_k)),
    # v_k = sd_k dL/dsd_k / (N sqrt(2 w_k))
    w = np.array([0.3, 0.7])
    mu = np.array([[0.0, 0.0], [3.0, 1.0]])
    sd = np.array([[1.0, 0.5], [1.5, 2.0]])
    segments = np.zeros(5, dtype=int)
    fv = fisher_vectors(Z, w, mu, sd**2, segments, 1, min_posterior=0)
    fv = fv.astype(np.float64)
    h = 1e-6
    grad_mu, grad_sd = np.zeros_like(mu), np.zeros_like(sd)
    for k in range(2):
        for d in range(2):
            e = np.zeros_like(mu)
            e[k, d] = h
            grad_mu[k, d] = (
                gmm_log_likelihood(Z, w, mu + e, sd)
                - gmm_log_likelihood(Z, w, mu - e, sd)
            ) / (2 * h)
            grad_sd[k, d] = (
                gmm_log_likelihood(Z, w, mu, sd + e)
                - gmm_log_likelihood(Z, w, mu, sd - e)
            ) / (2 * h)
    u = sd * grad_mu / (5 * np.sqrt(w)[:, None])
    v = sd * grad_sd / (5 * np.sqrt(2 * w)[:, None])
    assert fv.shape == (1, 8)
    assert_allclose(fv[0], np.concatenate([u.ravel(), v.ravel()]), rtol=1e-4, atol=1e-6)


def test_fisher_segments_and_posteriors(rng):
    w = np.array([0.2, 0.5, 0.3])
    mu = rng.normal(size=(3, 2))
    var = rng.uniform(0.5, 2.0, size=(3, 2))
    gmm = GaussianMixture(3, covariance_type="diag")
    gmm.weights_, gmm.means_, gmm.covariances_ = w, mu, var
    gmm.precisions_cholesky_ = 1 / np.sqrt(var)
    post = gmm_posteriors(Z, w, mu, var)
    assert_allclose(post, gmm.predict_proba(Z), rtol=1e-10)
    assert_allclose(post.sum(axis=1), 1)
    # each segment's vector is the vector of its patches alone; empty -> 0
    both = fisher_vectors(Z, w, mu, var, [0, 0, 0, 2, 2], 3)
    assert_allclose(both[0], fisher_vectors(Z[:3], w, mu, var, [0, 0, 0], 1)[0])
    assert_allclose(both[2], fisher_vectors(Z[3:], w, mu, var, [0, 0], 1)[0])
    assert_array_equal(both[1], 0)


def test_soft_assignment_rows_sum_to_one_and_tend_to_hard(rng):
    Zr = rng.normal(size=(40, 3))
    centers = rng.normal(size=(6, 3))
    index, weight = soft_assign(Zr, centers, n_nearest=3, scale=2.0)
    assert index.shape == weight.shape == (40, 3)
    assert_allclose(weight.sum(axis=1), 1)
    d2 = ((Zr[:, None] - centers) ** 2).sum(axis=2)
    assert_array_equal(index, np.argsort(d2, axis=1)[:, :3])
    assert (np.diff(weight, axis=1) <= 1e-12).all()  # nearest weighs most
    # Gaussian kernel: weight ratios are exp(-(d_i^2 - d_j^2) / scale)
    near = np.take_along_axis(d2, index, axis=1)
    assert_allclose(weight[:, 1] / weight[:, 0], np.exp(-(near[:, 1] - near[:, 0]) / 2))
    _, hard = soft_assign(Zr, centers, n_nearest=3, scale=1e-9)
    assert_allclose(hard[:, 0], 1)
    # the bag of soft weights: rows sum to the number of patches
    counts = bag(index, weight, np.arange(40) // 10, 4, 6)
    assert sp.isspmatrix_csr(counts) and counts.shape == (4, 6)
    assert_allclose(counts.sum(axis=1).A.ravel(), 10, rtol=1e-6)
    with pytest.raises(InputError, match="segments"):
        bag(index, weight, np.full(40, 4), 4, 6)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (3, 8), elements=st.floats(-1e3, 1e3)),
    st.floats(0.01, 100),
    st.sampled_from([1, 2, 4]),
)
def test_power_l2_properties(X, scale, n_blocks):
    out = power_l2(X, 0.5, n_blocks=n_blocks)
    assert out.dtype == np.float32 and out.shape == X.shape
    assert_array_equal(np.sign(out), np.sign(X) * (np.abs(out) > 0))
    blocks = out.reshape(3, n_blocks, -1).astype(np.float64)
    norms = np.linalg.norm(blocks, axis=2)
    nonzero = np.abs(X.reshape(3, n_blocks, -1)).max(axis=2) > 0
    assert_allclose(norms[nonzero], 1 / np.sqrt(n_blocks), rtol=1e-5)
    assert_array_equal(norms[~nonzero], 0)
    # invariant to a positive scale of the input
    assert_allclose(power_l2(X * scale, 0.5, n_blocks=n_blocks), out, atol=1e-6)


def test_hellinger_map():
    X = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0]])
    expected = np.sqrt(X / np.maximum(X.sum(axis=1, keepdims=True), 1))
    assert_allclose(hellinger_map(X), expected)
    sparse = hellinger_map(sp.csr_matrix(X))
    assert sp.isspmatrix_csr(sparse)
    assert_allclose(sparse.toarray(), expected)
    # mapped rows have unit norm: linear kernel = Bhattacharyya coefficient
    assert_allclose(np.linalg.norm(expected[[0, 2]], axis=1), 1)
    with pytest.raises(InputError, match="non-negative"):
        hellinger_map(-X)


# -- VisualWords(encoding=...) ---------------------------------------------------------
def striped(n, size=16, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        coord = yy if i % 2 == 0 else xx
        img = (200.0 * (((coord + rng.integers(0, 6)) // 4) % 2) + 25)[..., None]
        img = img * rng.uniform(0.6, 1.0, 3) + rng.normal(0, 8, (size, size, 3))
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def images():
    return striped(24)


def vw(**params):
    defaults = dict(n_words=4, patch_size=4, step=2, random_state=0, max_patches=None)
    defaults.update(params)
    return VisualWords(**defaults)


def patch_space(model, images):
    """The projected descriptors and grid positions of ``images`` (7x7 patches)."""
    desc, _, positions = extract_patches(
        images, patch_size=4, step=2, descriptor="hog+color"
    )
    return project(desc, pca_projection(model.pca_, model.whiten)), positions


@pytest.mark.parametrize(
    ("encoding", "width"), [("soft", 4), ("vlad", 4 * 48), ("fisher", 2 * 4 * 48)]
)
def test_visual_words_encodings_shapes_and_names(images, encoding, width):
    model = vw(encoding=encoding).fit(images)
    out = model.transform(images)
    assert out.shape == (24, width) and out.dtype == np.float32
    names = model.get_feature_names_out()
    assert len(names) == width
    if encoding == "soft":
        assert sp.isspmatrix_csr(out)
        assert_allclose(out.sum(axis=1).A.ravel(), 49, rtol=1e-5)
        assert names[0] == "vw0"
    else:
        assert isinstance(out, np.ndarray)
        assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
        first = "vlad0_0" if encoding == "vlad" else "fv_mean0_0"
        assert names[0] == first and len(set(names)) == width
    pyramid = vw(encoding=encoding, pyramid=True).fit(images)
    assert pyramid.transform(images).shape == (24, 5 * width)
    assert pyramid.get_feature_names_out()[width].endswith("_q1")


def test_vlad_and_fisher_of_visual_words_match_the_functions(images):
    model = vw(encoding="vlad").fit(images)
    Zi, _ = patch_space(model, images[:3])
    segments = np.repeat(np.arange(3), 49)
    expected = power_l2(vlad(Zi, model.codebook_, segments, 3))
    assert_allclose(model.transform(images[:3]), expected, rtol=1e-4, atol=1e-5)
    model = vw(encoding="fisher").fit(images)
    gmm = model.gmm_
    assert gmm.covariance_type == "diag" and gmm.n_components == 4
    Zi, _ = patch_space(model, images[:3])
    fv = fisher_vectors(Zi, gmm.weights_, gmm.means_, gmm.covariances_, segments, 3)
    assert_allclose(model.transform(images[:3]), power_l2(fv), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoding", ["soft", "vlad", "fisher"])
def test_pyramid_blocks_are_the_encodings_of_the_quadrants(images, encoding):
    model = vw(encoding=encoding, pyramid=True).fit(images)
    out = model.transform(images[:2])
    out = out.toarray() if sp.issparse(out) else out
    width = out.shape[1] // 5
    Zi, positions = patch_space(model, images[:2])
    # 16x16 images, 4x4 patches at step 2: centres of rows/cols 0-2 lie in the
    # top/left half, 3-6 in the other
    down, right = positions[:, 0] >= 3, positions[:, 1] >= 3
    quadrant = 2 * down + right
    image = np.repeat([0, 1], 49)
    for q in range(5):
        keep = np.ones(98, bool) if q == 0 else quadrant == q - 1
        segments = image[keep]
        if encoding == "soft":
            index, weight = soft_assign(
                Zi[keep], model.codebook_, n_nearest=5, scale=model.soft_scale_
            )
            expected = bag(index, weight, segments, 2, 4).toarray()
            got = out[:, q * width : (q + 1) * width]
        else:
            if encoding == "vlad":
                raw = vlad(Zi[keep], model.codebook_, segments, 2)
            else:
                g = model.gmm_
                raw = fisher_vectors(
                    Zi[keep], g.weights_, g.means_, g.covariances_, segments, 2
                )
            expected = power_l2(raw)
            got = out[:, q * width : (q + 1) * width] * np.sqrt(5)
        assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoding", ["soft", "vlad", "fisher"])
def test_encodings_are_deterministic_and_pickle(images, encoding):
    a = vw(encoding=encoding).fit(images)
    b = clone(a).fit(images)
    out_a, out_b = a.transform(images), b.transform(images)
    if sp.issparse(out_a):
        out_a, out_b = out_a.toarray(), out_b.toarray()
    assert_array_equal(out_a, out_b)
    c = pickle.loads(pickle.dumps(a))
    out_c = c.transform(images)
    assert_array_equal(out_c.toarray() if sp.issparse(out_c) else out_c, out_a)
    # a subset of images gets the same rows
    part = a.transform(images[3:7])
    part = part.toarray() if sp.issparse(part) else part
    # (float32 projections of other batch sizes; the square root amplifies)
    assert_allclose(part, out_a[3:7], rtol=1e-4, atol=1e-5)


def test_encodings_in_a_pipeline_and_pandas_output(images):
    y = np.arange(24) % 2  # horizontal / vertical stripes
    for encoding in ("soft", "vlad", "fisher"):
        pipe = make_pipeline(vw(encoding=encoding), LinearSVC(random_state=0))
        assert pipe.fit(images, y).score(images, y) == 1.0
    model = vw(encoding="vlad").fit(images).set_output(transform="pandas")
    frame = model.transform(images[:3])
    assert list(frame.columns) == model.get_feature_names_out().tolist()
    assert frame.shape == (3, 4 * 48)


def test_encoding_parameters_are_checked(images):
    with pytest.raises(ValueError, match="encoding"):
        vw(encoding="sift").fit(images)
    with pytest.raises(ValueError, match="temperature"):
        vw(encoding="soft", temperature=0).fit(images)
    with pytest.raises(InputError, match="partial_fit"):
        vw(encoding="fisher").partial_fit(images)
    soft = vw(encoding="soft").partial_fit(images[:12]).partial_fit(images[12:])
    assert soft.soft_scale_ > 0
    assert_allclose(soft.transform(images).sum(axis=1).A.ravel(), 49, rtol=1e-5)


def test_multimodal_features_pass_the_encoding_through(images):
    import pandas as pd

    from cooc.models import MultimodalClassifier, MultimodalFeatures

    items = pd.DataFrame(
        {"text": ["stripes across", "stripes down"] * 12, "image": list(images)}
    )
    # the VLAD block as it comes: no pyramid, one scale, no colour, no SVD
    plain = dict(pyramid=False, scales=(1,), color_histogram=False)
    features = MultimodalFeatures(
        n_components=4,
        patch_size=4,
        step=2,
        encoding="vlad",
        descriptor="hog+color",
        image_components=None,
        random_state=0,
        **plain,
    ).fit(items)
    X = features.transform(items)
    block = X[:, features.blocks_["image"]]
    assert block.shape == (24, 4 * 48) and features.visual_tfidf_ is None
    assert_allclose(
        block.toarray(), features.visual_words_.transform(images), rtol=1e-6
    )
    names = features.get_feature_names_out()
    assert len(names) == X.shape[1] and names[features.blocks_["image"]][0] == (
        "image:vlad0_0"
    )
    # a pickled model from before the encodings (no "encoding") still works
    state = features.__getstate__()
    state.pop("encoding")
    old = MultimodalFeatures.__new__(MultimodalFeatures)
    old.__setstate__(state)
    assert old.get_params()["encoding"] == "bow"
    y = np.arange(24) % 2
    model = MultimodalClassifier(
        fusion="image",
        n_components=4,
        patch_size=4,
        step=2,
        encoding="fisher",
        random_state=0,
        **plain,
    ).fit(items, y)
    assert model.features_.visual_words_.encoding == "fisher"
    assert (model.predict(items) == y).mean() == 1.0
    state = model.__getstate__()
    state.pop("encoding")
    old = MultimodalClassifier.__new__(MultimodalClassifier)
    old.__setstate__(state)
    assert old.get_params()["encoding"] == "bow"


def test_opponent_colour_descriptor(rng):
    imgs = rng.integers(0, 256, size=(2, 12, 12, 3)).astype(np.uint8)
    rgb, _, _ = extract_patches(imgs, patch_size=8, step=4, descriptor="hog+color")
    opp, _, _ = extract_patches(imgs, patch_size=8, step=4, descriptor="hog+opponent")
    assert opp.shape == rgb.shape == (8, 4 * (9 + 3))
    assert_array_equal(opp[:, :36], rgb[:, :36])  # the same gradient histograms
    s2, s3, s6 = np.sqrt(2), np.sqrt(3), np.sqrt(6)
    r, g, b = np.moveaxis(rgb[:, 36:].reshape(8, 4, 3), 2, 0)
    expected = np.stack([(r - g) / s2, (r + g - 2 * b) / s6, (r + g + b) / s3], -1)
    assert_allclose(opp[:, 36:].reshape(8, 4, 3), expected, rtol=1e-5, atol=1e-6)
    model = vw(descriptor="hog+opponent", encoding="fisher").fit(striped(8))
    assert model.transform(striped(2)).shape == (2, 2 * 4 * 48)


def test_scales_pool_the_patches_of_the_shrunk_images(images):
    from cooc.vision import resize_images

    model = vw(scales=(1, 2)).fit(images)
    counts = model.transform(images[:3])
    # 16x16: 7x7 patches at scale 1; 8x8 at scale 2: 3x3 patches
    assert sp.isspmatrix_csr(counts) and counts.shape == (3, 4)
    assert_array_equal(counts.sum(axis=1).A.ravel(), 49 + 9)
    codes, offsets, _ = model.encode(images[:3])
    small, small_offsets, _ = model.encode(resize_images(images[:3], 8))
    for i in range(3):
        expected = np.bincount(codes[offsets[i] : offsets[i + 1]], minlength=4)
        expected += np.bincount(
            small[small_offsets[i] : small_offsets[i + 1]], minlength=4
        )
        assert_array_equal(counts[i].toarray().ravel(), expected)
    fisher = vw(scales=(1, 2), encoding="fisher", pyramid=True).fit(images)
    assert fisher.transform(images[:2]).shape == (2, 5 * 2 * 4 * 48)
    for bad in [(2,), (1, 1), (1, 0), 3, (1, 8)]:
        with pytest.raises(ValueError, match="scales"):
            vw(scales=bad).fit(images)
