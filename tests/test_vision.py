"""Tests for cooc.vision: image checks, patch descriptors and VisualWords."""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.image import extract_patches_2d

from cooc.vision import (
    VisualWords,
    check_images,
    extract_patches,
    load_images,
    pca_projection,
    project,
    resize_images,
)


def striped_images(n, *, size=16, seed=0, channels=3):
    """``n`` uint8 images: even ones horizontal stripes, odd ones vertical, noisy.

    Stripe period and phase vary; the class is ``i % 2``.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.empty((n, size, size, channels), dtype=np.uint8)
    for i in range(n):
        period, phase = rng.integers(3, 6), rng.integers(0, 6)
        coord = yy if i % 2 == 0 else xx
        base = 200.0 * (((coord + phase) // period) % 2) + 25
        img = base[..., None] * rng.uniform(0.6, 1.0, channels)
        img += rng.normal(0, 8, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


@pytest.fixture
def images():
    return striped_images(24)


def small_vw(**params):
    defaults = dict(n_words=8, patch_size=4, step=2, random_state=0, max_patches=None)
    defaults.update(params)
    return VisualWords(**defaults)


# -- check_images / resize_images / load_images -------------------------------------
def test_check_images_accepts_arrays_and_lists(rng):
    gray = rng.random((3, 5, 6))
    assert check_images(gray) is not None and check_images(gray).shape == (3, 5, 6)
    color = rng.integers(0, 256, (2, 5, 6, 3)).astype(np.uint8)
    out = check_images(color)
    assert out.dtype == np.uint8 and out.shape == (2, 5, 6, 3)
    stacked = check_images([color[0], color[1]])
    assert_array_equal(stacked, color)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([np.zeros((4, 4)), np.zeros((4, 5))], r"image 1 has shape \(4, 5\).*\(4, 4\)"),
        ([np.zeros((4, 4)), np.zeros((4, 4, 2, 1))], r"image 1 has shape"),
        ([], "no images"),
        (np.zeros((0, 4, 4)), "no images"),
        (np.zeros((2, 0, 4)), "empty"),
        (np.zeros((4, 4)), r"images\[None\]"),
        (np.zeros((1, 2, 3, 4, 5)), "3-D .* or 4-D"),
    ],
)
def test_check_images_rejects_bad_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        check_images(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_check_images_rejects_non_finite_naming_the_image(value):
    images = np.zeros((4, 3, 3), dtype=np.float32)
    images[2, 1, 1] = value
    with pytest.raises(ValueError, match="image 2 contains NaN or infinite"):
        check_images(images)


def test_check_images_rejects_non_numeric():
    with pytest.raises(TypeError, match="dtype"):
        check_images(np.array([[["a"]]]))
    with pytest.raises(TypeError, match="dtype"):
        check_images(np.zeros((1, 2, 2), dtype=bool))


def test_resize_images_block_mean_and_nearest():
    img = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    down = resize_images(img, 3)
    assert down.shape == (1, 3, 3, 1)
    assert_allclose(down[0, :, :, 0], img[0].reshape(3, 2, 3, 2).mean(axis=(1, 3)))
    # not a divisor: nearest pixel centre
    near = resize_images(img, (4, 5))
    rows = ((np.arange(4) + 0.5) * 6 / 4).astype(int)
    cols = ((np.arange(5) + 0.5) * 6 / 5).astype(int)
    assert_array_equal(near[0, :, :, 0], img[0][np.ix_(rows, cols)])
    # integer enlargement repeats pixels; uint8 is scaled to 0-1
    up = resize_images(np.array([[[0, 255]]], dtype=np.uint8), (2, 4))
    assert_array_equal(up[0, :, :, 0], [[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="size=0"):
        resize_images(img, 0)


def test_load_images_reads_resizes_and_checks_sizes(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 8, 3)).astype(np.uint8) for _ in range(2)]
    paths = []
    for i, arr in enumerate(arrays):
        paths.append(tmp_path / f"im{i}.png")
        Image.fromarray(arr).save(paths[-1])
    out = load_images(paths)
    assert out.dtype == np.uint8 and out.shape == (2, 6, 8, 3)
    assert_array_equal(out, np.stack(arrays))
    assert load_images(paths, mode="L").shape == (2, 6, 8, 1)
    assert load_images(paths, size=(3, 4)).shape == (2, 3, 4, 3)
    assert load_images(paths, size=5, mode="RGBA").shape == (2, 5, 5, 4)

    Image.fromarray(np.zeros((5, 8, 3), dtype=np.uint8)).save(tmp_path / "odd.png")
    with pytest.raises(ValueError, match=r"odd\.png.* is 5x8 .*im0\.png.* is 6x8"):
        load_images([*paths, tmp_path / "odd.png"])
    assert load_images([*paths, tmp_path / "odd.png"], size=4).shape == (3, 4, 4, 3)

    # transparency is composited on white for RGB
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "clear.png")
    assert_array_equal(load_images([tmp_path / "clear.png"]), 255)

    with pytest.raises(TypeError, match="wrap it in a list"):
        load_images(str(paths[0]))
    with pytest.raises(ValueError, match="no paths"):
        load_images([])
    with pytest.raises(ValueError, match="mode='CMYK'"):
        load_images(paths, mode="CMYK")


# -- extract_patches ------------------------------------------------------------------
@pytest.mark.parametrize("step", [1, 3])
@pytest.mark.parametrize("channels", [None, 3])
def test_raw_patches_match_extract_patches_2d(rng, step, channels):
    shape = (3, 11, 9) if channels is None else (3, 11, 9, channels)
    images = rng.integers(0, 256, shape).astype(np.uint8)
    p = 4
    desc, offsets, positions = extract_patches(
        images, patch_size=p, step=step, normalize=False
    )
    gh, gw = (11 - p) // step + 1, (9 - p) // step + 1
    assert desc.dtype == np.float32 and offsets.dtype == np.int64
    assert positions.dtype == np.int32
    assert_array_equal(offsets, np.arange(4) * gh * gw)
    for i, img in enumerate(images):
        ref = extract_patches_2d(img.astype(np.float32) / 255, (p, p))
        # extract_patches_2d gives every position at stride 1, row-major
        ref = ref.reshape(11 - p + 1, 9 - p + 1, -1)[::step, ::step].reshape(
            gh * gw, -1
        )
        assert_allclose(desc[offsets[i] : offsets[i + 1]], ref, rtol=1e-6)
        pos = positions[offsets[i] : offsets[i + 1]]
        assert_array_equal(pos, np.argwhere(np.ones((gh, gw))))
        # the patch at (row, col) starts at pixel (row * step, col * step)
        r, c = pos[-1] * step
        top_left = img[r, c] if channels is None else img[r, c, 0]
        assert desc[offsets[i + 1] - 1, 0] == np.float32(top_left) / 255


def test_normalized_patches_have_zero_mean_and_flat_patches_become_zero(rng):
    images = rng.random((2, 12, 12, 3)).astype(np.float32)
    images[1, :8, :8] = 0.5  # a flat area
    desc, offsets, positions = extract_patches(images, patch_size=4, step=4)
    assert np.isfinite(desc).all()
    assert_allclose(desc.mean(axis=1), 0, atol=1e-5)
    textured = desc[: offsets[1]]
    assert_allclose(textured.std(axis=1), 1, atol=0.05)  # eps is tiny vs var
    flat = (positions[offsets[1] :] < 2).all(axis=1)
    assert flat.sum() == 4
    assert_array_equal(desc[offsets[1] :][flat], 0)


def test_grayscale_uses_luma(rng):
    images = rng.integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    gray, _, _ = extract_patches(images, patch_size=8, grayscale=True, normalize=False)
    luma = images.astype(np.float32) / 255 @ np.array([0.299, 0.587, 0.114])
    assert_allclose(gray, luma.reshape(2, 64), rtol=1e-5)
    with pytest.raises(ValueError, match="grayscale=True needs"):
        extract_patches(np.zeros((1, 8, 8, 2)), grayscale=True)


def hog_reference(image, top, left, patch_size, n_cells, n_bins=9):
    """Loop-over-pixels orientation histograms of one patch of a 2-D float image."""
    H, W = image.shape
    cell = patch_size // n_cells
    hist = np.zeros((n_cells, n_cells, n_bins))
    for y in range(top, top + patch_size):
        for x in range(left, left + patch_size):
            gx = image[y, x + 1] - image[y, x - 1] if 0 < x < W - 1 else 0.0
            gy = image[y + 1, x] - image[y - 1, x] if 0 < y < H - 1 else 0.0
            mag = np.hypot(gx, gy)
            pos = (np.arctan2(gy, gx) % np.pi) * n_bins / np.pi - 0.5
            lo = int(np.floor(pos))
            frac = pos - lo
            cy, cx = (y - top) // cell, (x - left) // cell
            hist[cy, cx, lo % n_bins] += mag * (1 - frac)
            hist[cy, cx, (lo + 1) % n_bins] += mag * frac
    return hist.ravel()


@pytest.mark.parametrize("patch_size", [6, 16])
def test_hog_matches_pixel_loop_reference(rng, patch_size):
    image = rng.random((20, 22)).astype(np.float32)
    step = 5
    desc, _, positions = extract_patches(
        image[None], patch_size=patch_size, step=step, descriptor="hog", normalize=False
    )
    n_cells = 4 if patch_size >= 16 else 2
    assert desc.shape[1] == n_cells**2 * 9
    for row, (r, c) in zip(desc, positions, strict=True):
        ref = hog_reference(image, r * step, c * step, patch_size, n_cells)
        assert_allclose(row, ref, rtol=1e-4, atol=1e-5)


def test_hog_normalisation_and_colour_part(rng):
    images = rng.random((2, 12, 12, 3)).astype(np.float32)
    images[1] = 0.25  # flat image: no gradients
    hog, offsets, _ = extract_patches(images, patch_size=6, step=3, descriptor="hog")
    assert np.isfinite(hog).all()
    assert_allclose(np.linalg.norm(hog[: offsets[1]], axis=1), 1, atol=1e-5)
    assert_array_equal(hog[offsets[1] :], 0)
    both, _, positions = extract_patches(
        images, patch_size=6, step=3, descriptor="hog+color"
    )
    assert both.shape == (hog.shape[0], 4 * (9 + 3))
    assert_allclose(both[:, :36], hog)
    # then the mean of each channel per 3x3 cell, cells row-major, times 0.5
    r, c = positions[5] * 3
    cell_means = images[0, r : r + 6, c : c + 6].reshape(2, 3, 2, 3, 3).mean((1, 3))
    assert_allclose(both[5, 36:], 0.5 * cell_means.ravel(), rtol=1e-5)
    assert_allclose(both[offsets[1] :, 36:], 0.125)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(patch_size=1), "patch_size=1"),
        (dict(step=0), "step=0"),
        (dict(descriptor="sift"), "descriptor='sift'"),
        (dict(patch_size=20), "smaller than patch_size=20"),
    ],
)
def test_extract_patches_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        extract_patches(np.zeros((1, 16, 16)), **params)


# -- nearest codewords ----------------------------------------------------------------
def test_encode_gives_the_nearest_codeword(images):
    vw = small_vw(n_words=10).fit(images)
    desc, _, _ = extract_patches(images, patch_size=4, step=2, descriptor="hog+color")
    Z = project(desc, pca_projection(vw.pca_, whiten=True))
    dist = ((Z[:, None, :] - vw.codebook_[None]) ** 2).sum(-1)
    codes = vw.encode(images)[0]
    best = dist.min(axis=1)
    # the chosen codeword is at the minimal distance (ties may pick either)
    assert_allclose(dist[np.arange(len(codes)), codes], best, rtol=1e-4, atol=1e-5)
    assert (codes == dist.argmin(axis=1)).mean() > 0.99


# -- VisualWords: sklearn API by hand (images are 4-D) ------------------------------
def test_fit_returns_self_and_sets_attributes(images):
    vw = small_vw()
    assert vw.fit(images) is vw
    assert vw.codebook_.shape == (8, 4 * (9 + 3))  # hog+color: 2x2 cells * (9 + 3)
    assert vw.codebook_.dtype == np.float32
    assert vw.n_words_ == 8 and vw.n_channels_ == 3
    assert isinstance(vw.pca_, PCA)
    assert vw.n_patches_seen_ == 24 * 7 * 7
    assert not hasattr(VisualWords(), "codebook_")


def test_clone_and_params(images):
    vw = small_vw(pyramid=True)
    params = vw.get_params()
    assert params["pyramid"] is True and params["n_words"] == 8
    vw.set_params(n_words=5, descriptor="raw")
    assert vw.n_words == 5 and vw.descriptor == "raw"
    fitted = vw.fit(images)
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "codebook_")


def test_refit_replaces_state(images):
    vw = small_vw(descriptor="raw").fit(images)
    assert vw.codebook_.shape[1] == 4 * 4 * 3
    vw.set_params(grayscale=True, n_words=6).fit(images)
    assert vw.codebook_.shape == (6, 16) and vw.n_channels_ == 1
    assert vw.transform(images).shape == (24, 6)
    # partial_fit state does not survive a fit
    vw = small_vw().partial_fit(images).partial_fit(images)
    vw.fit(images)
    assert isinstance(vw.pca_, PCA) and vw.n_patches_seen_ == 24 * 49


@pytest.mark.parametrize("method", ["transform", "encode", "get_feature_names_out"])
def test_not_fitted(images, method):
    vw = small_vw()
    args = () if method == "get_feature_names_out" else (images,)
    with pytest.raises(NotFittedError):
        getattr(vw, method)(*args)


def test_pickle_round_trip(images):
    vw = small_vw(pyramid=True).fit(images)
    loaded = pickle.loads(pickle.dumps(vw))
    assert (vw.transform(images) != loaded.transform(images)).nnz == 0
    # the sequence of partial_fit updates continues identically after pickling
    a = small_vw().partial_fit(images[:12])
    b = pickle.loads(pickle.dumps(a))
    assert_array_equal(
        a.partial_fit(images[12:]).codebook_, b.partial_fit(images[12:]).codebook_
    )


def test_deterministic_given_random_state(images):
    for params in (dict(descriptor="raw", n_pca=5), dict(max_patches=200)):
        a = small_vw(**params).fit(images)
        b = small_vw(**params).fit(images)
        assert_array_equal(a.codebook_, b.codebook_)
        assert_array_equal(a.encode(images)[0], b.encode(images)[0])
    a = small_vw(max_patches=300).partial_fit(images[:12]).partial_fit(images[12:])
    b = small_vw(max_patches=300).partial_fit(images[:12]).partial_fit(images[12:])
    assert_array_equal(a.codebook_, b.codebook_)
    c = small_vw(random_state=1).fit(images)
    assert not np.array_equal(small_vw().fit(images).codebook_, c.codebook_)


def nearest_centroid_accuracy(X_train, y_train, X_test, y_test):
    """Accuracy of the nearest class mean of L2-normalised histograms."""

    def norm(X):
        X = np.asarray(X.todense())
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    Xtr, Xte = norm(X_train), norm(X_test)
    means = np.stack([Xtr[y_train == k].mean(axis=0) for k in (0, 1)])
    pred = (Xte @ means.T).argmax(axis=1)
    return (pred == y_test).mean()


@pytest.mark.parametrize("descriptor", ["raw", "hog", "hog+color"])
def test_codebook_separates_stripe_directions(descriptor):
    train, test = striped_images(40, seed=1), striped_images(20, seed=2)
    y_train, y_test = np.arange(40) % 2, np.arange(20) % 2
    vw = small_vw(n_words=12, descriptor=descriptor).fit(train)
    acc = nearest_centroid_accuracy(
        vw.transform(train), y_train, vw.transform(test), y_test
    )
    assert acc >= 0.9


def test_partial_fit_over_batches_gives_a_working_codebook():
    train, test = striped_images(40, seed=1), striped_images(20, seed=2)
    y_train, y_test = np.arange(40) % 2, np.arange(20) % 2
    vw = small_vw(n_words=12, batch_size=64)
    for start in range(0, 40, 10):
        vw.partial_fit(train[start : start + 10])
    assert isinstance(vw.pca_, IncrementalPCA)
    assert vw.pca_.n_samples_seen_ == vw.n_patches_seen_ == 40 * 49
    assert vw.codebook_.shape == (12, 48) and np.isfinite(vw.codebook_).all()
    codes, _, _ = vw.encode(test)
    assert np.unique(codes).size >= 6  # the codewords are used, not collapsed
    acc = nearest_centroid_accuracy(
        vw.transform(train), y_train, vw.transform(test), y_test
    )
    assert acc >= 0.9
    # after fit (plain PCA) partial_fit updates only the codebook
    fitted = small_vw(n_words=12).fit(train)
    pca = fitted.pca_
    fitted.partial_fit(test)
    assert fitted.pca_ is pca and fitted.n_patches_seen_ == 60 * 49


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_flat_patches_get_one_codeword(method):
    # most patches are flat (identical descriptors): they are clustered as one
    # weighted sample, so no codewords are spent on copies of that point
    images = striped_images(30, seed=3)
    images[:, :, :10] = 255
    vw = getattr(small_vw(n_words=24, descriptor="raw", batch_size=256), method)(images)
    C = vw.codebook_
    dist = ((C[:, None] - C[None]) ** 2).sum(-1) + np.diag(np.full(24, np.inf))
    assert dist.min() > 1e-6
    codes = vw.encode(images)[0]
    # 4x4 patches at step 2, pixel columns 0-9 white: grid columns 0-3 are flat
    _, _, positions = extract_patches(images[:1], patch_size=4, step=2)
    is_flat = np.tile(positions[:, 1] <= 3, 30)
    assert np.unique(codes[is_flat]).size == 1


def test_partial_fit_first_batch_too_small():
    vw = small_vw(n_words=16)
    with pytest.raises(
        ValueError, match=r"only 9 distinct patches to learn n_words=16"
    ):
        vw.partial_fit(striped_images(1, size=8))
    with pytest.raises(NotFittedError):  # a failed first call leaves no state
        vw.transform(striped_images(1))


# -- VisualWords: outputs -------------------------------------------------------------
def test_counts_sum_to_patches_and_match_encode(images):
    vw = small_vw().fit(images)
    counts = vw.transform(images)
    assert sp.isspmatrix_csr(counts) and counts.dtype == np.float32
    assert counts.shape == (24, 8)
    assert_array_equal(counts.sum(axis=1).A.ravel(), 49)
    codes, offsets, positions = vw.encode(images)
    assert codes.dtype == np.int32 and offsets.dtype == np.int64
    assert positions.dtype == np.int32 and positions.shape == (24 * 49, 2)
    assert_array_equal(offsets, np.arange(25) * 49)
    assert codes.min() >= 0 and codes.max() < 8
    for i in range(24):
        row = np.bincount(codes[offsets[i] : offsets[i + 1]], minlength=8)
        assert_array_equal(counts[i].toarray().ravel(), row)
    # a subset of images gets the same rows
    assert (vw.transform(images[5:9]) != counts[5:9]).nnz == 0


def test_pyramid_cells_sum_to_whole_image_histogram(images):
    vw = small_vw(pyramid=True).fit(images)
    counts = vw.transform(images).toarray()
    assert counts.shape == (24, 40)
    whole, cells = counts[:, :8], counts[:, 8:].reshape(24, 4, 8)
    assert_array_equal(cells.sum(axis=1), whole)
    # 16x16 images, 4x4 patches at step 2: a 7x7 grid; centres at 2, 4, .., 14;
    # rows/cols 0-2 are in the top/left half (centre < 8), 3-6 in the other
    assert_array_equal(cells.sum(axis=2)[0], [9, 12, 12, 16])
    codes, _, positions = vw.encode(images[:1])
    top_left = (positions[:, 0] < 3) & (positions[:, 1] < 3)
    assert_array_equal(cells[0, 0], np.bincount(codes[top_left], minlength=8))


def test_feature_names(images):
    names = small_vw().fit(images).get_feature_names_out()
    assert names.tolist() == [f"vw{j}" for j in range(8)]
    names = small_vw(pyramid=True).fit(images).get_feature_names_out()
    assert len(names) == 40
    assert names[:2].tolist() == ["vw0", "vw1"]
    assert names[8:10].tolist() == ["vw0_q1", "vw1_q1"]
    assert names[-1] == "vw7_q4"


def test_whitening_gives_unit_variance_components(images):
    vw = small_vw(descriptor="raw", n_pca=6).fit(images)
    desc, _, _ = extract_patches(images, patch_size=4, step=2)
    Z = project(desc, pca_projection(vw.pca_, whiten=True))
    var = Z.var(axis=0)
    # regularised whitening: var_j / (var_j + 0.1 * mean variance) -> about 1
    assert_allclose(var[:3], 1, atol=0.05)
    assert np.all(var <= 1.01)
    assert_allclose(Z.mean(axis=0), 0, atol=1e-3)
    unwhitened = small_vw(descriptor="raw", n_pca=6, whiten=False).fit(images)
    Z = project(desc, pca_projection(unwhitened.pca_, whiten=False))
    assert_allclose(
        Z.var(axis=0, ddof=1), unwhitened.pca_.explained_variance_, rtol=1e-3
    )
    assert small_vw(whiten=False).fit(images).pca_ is None


def test_image_size_resizes_first(images):
    vw = small_vw(image_size=8).fit(images)
    assert_array_equal(vw.transform(images).sum(axis=1).A.ravel(), 9)  # 3x3 grid
    # transform accepts other sizes: they are resized too
    big = np.repeat(np.repeat(images[:2], 2, axis=1), 2, axis=2)
    assert_array_equal(vw.transform(big).toarray(), vw.transform(images[:2]).toarray())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(n_words=1), "n_words"),
        (dict(patch_size=0), "patch_size"),
        (dict(step=0), "step"),
        (dict(descriptor="sift"), "descriptor"),
        (dict(n_pca=0), "n_pca"),
        (dict(max_patches=0), "max_patches"),
        (dict(image_size=2.5), "image_size"),
        (dict(grayscale="yes"), "grayscale"),
        (dict(n_pca=500), re.escape("n_pca=500 must be <= the descriptor size 48")),
        (dict(n_words=2000), "only 1176 distinct patches to learn n_words=2000"),
        (dict(patch_size=20), "smaller than patch_size=20"),
    ],
)
def test_bad_parameters(images, params, match):
    with pytest.raises(ValueError, match=match):
        small_vw(**params).fit(images)


def test_bad_inputs(images):
    vw = small_vw().fit(images)
    with pytest.raises(ValueError, match="fitted on 3"):
        vw.transform(images[..., 0])
    with pytest.raises(ValueError, match="image 1 contains NaN"):
        vw.transform(np.stack([np.zeros((16, 16, 3)), np.full((16, 16, 3), np.nan)]))
    with pytest.raises(ValueError, match=r"images\[None\]"):
        vw.transform(images[0, ..., 0])
    with pytest.raises(ValueError, match="image 1 has shape"):
        vw.fit([images[0], images[1, :8]])


def test_emoji_subset():
    from cooc.datasets import load_emoji

    emoji, _ = load_emoji()
    emoji = emoji[:100]
    vw = VisualWords(64, random_state=0).fit(emoji)
    counts = vw.transform(emoji)
    assert counts.shape == (100, 64)
    assert_array_equal(counts.sum(axis=1).A.ravel(), 14 * 14)  # 64 px, 12/4 grid
    assert (counts.sum(axis=0).A > 0).sum() >= 60  # the codebook is used
    codes, offsets, _ = vw.encode(emoji[:3])
    assert_array_equal(
        np.bincount(codes[: offsets[1]], minlength=64), counts[0].toarray()[0]
    )


def test_fewer_patches_than_descriptor_dimensions():
    # 6 images of one 12-pixel patch each: 6 samples, 100+ descriptor dimensions
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(6, 12, 12, 3)).astype(np.uint8)
    vw = VisualWords(3, random_state=0).fit(images)
    assert vw.pca_.n_components_ == 6
    assert vw.transform(images).sum() == 6
    with pytest.raises(ValueError, match="n_pca=8 needs at least that many patches"):
        VisualWords(3, n_pca=8, random_state=0).fit(images)
