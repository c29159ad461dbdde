"""HSV colour histograms (cooc.colorhist): hsv(), exact bins, a brute-force reference.

The reference below is a pure-Python per-pixel loop over ``colorsys`` written
from the module's docstring (HSV joint bins, grey pixels by value, Hellinger
map, unit blocks, row / sqrt(n_blocks)); it shares no code with the
vectorised implementation.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from cooc.colorhist import ColorHistogram, hsv
from cooc.errors import InputError

N_BINS = 12 * 3 * 3 + 4  # defaults: hue 12 x saturation 3 x value 3 + 4 grey = 112


# -- hsv -----------------------------------------------------------------------------
def test_hsv_agrees_with_colorsys(rng):
    rgb = rng.random((300, 3))
    # corners of the cube and ties between the largest channels
    rgb[:8] = [[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)]
    rgb[8:12] = [[0.5, 0.5, 0.1], [0.2, 0.7, 0.7], [0.9, 0.3, 0.9], [0.4, 0.4, 0.4]]
    rgb[12:20] = rng.integers(0, 256, size=(8, 3)) / 255
    h, s, v = hsv(rgb)
    assert h.shape == s.shape == v.shape == (300,)
    for i, (r, g, b) in enumerate(rgb):
        eh, es, ev = colorsys.rgb_to_hsv(r, g, b)
        dh = abs(float(h[i]) - eh) % 1.0
        assert min(dh, 1 - dh) < 1e-5, (i, (r, g, b), float(h[i]), eh)
        assert float(s[i]) == pytest.approx(es, abs=1e-5)
        assert float(v[i]) == pytest.approx(ev, abs=1e-6)
    assert np.all((h >= 0) & (h <= 1) & (s >= 0) & (s <= 1))


def test_hsv_keeps_leading_shape():
    h, s, v = hsv(np.zeros((2, 3, 4, 3)))
    assert h.shape == s.shape == v.shape == (2, 3, 4)
    assert not h.any() and not s.any() and not v.any()


# -- exact bins on hand-checkable images ---------------------------------------------
RED, GREEN, BLUE, WHITE = (1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0), (1.0, 1.0, 1.0)
# code = (hue_bin * 3 + sat_bin) * 3 + value_bin for a coloured pixel, with
# bin = min(floor(x * n), n - 1); a grey pixel (saturation < 0.15) gets
# 12 * 3 * 3 + min(floor(value * 4), 3) = 108 + value bin.
RED_BIN = (0 * 3 + 2) * 3 + 2  # h 0 -> 0; s 1 -> min(3, 2) = 2; v 1 -> 2: 8
GREEN_BIN = (4 * 3 + 2) * 3 + 2  # h 1/3 * 12 = 4: (12 + 2) * 3 + 2 = 44
BLUE_BIN = (8 * 3 + 2) * 3 + 2  # h 2/3 * 12 = 8: (24 + 2) * 3 + 2 = 80
WHITE_BIN = 108 + 3  # s 0 < 0.15 -> grey; v 1 -> min(4, 3) = 3: 111


def test_red_white_halves_exact():
    img = np.zeros((1, 4, 4, 3))
    img[0, :, :2] = RED  # left half red, right half white
    img[0, :, 2:] = WHITE
    X = ColorHistogram().fit_transform(img)
    assert X.shape == (1, 5 * N_BINS)
    whole = X[0, :N_BINS]
    # whole image: p = 0.5 in each of two bins -> sqrt(0.5), divided by sqrt(5 blocks)
    assert_array_equal(np.flatnonzero(whole), [RED_BIN, WHITE_BIN])
    assert_allclose(
        whole[[RED_BIN, WHITE_BIN]], math.sqrt(0.5) / math.sqrt(5), rtol=1e-6
    )
    # quadrants (reading order): red, white, red, white -> one bin of 1 / sqrt(5)
    expected = np.zeros(5 * N_BINS)
    expected[:N_BINS] = whole
    for q, code in enumerate([RED_BIN, WHITE_BIN, RED_BIN, WHITE_BIN], start=1):
        expected[q * N_BINS + code] = 1 / math.sqrt(5)
    assert_allclose(X[0], expected, rtol=1e-6, atol=0)


def test_red_white_without_pyramid():
    img = np.zeros((1, 4, 4, 3))
    img[0, :, :2] = RED
    img[0, :, 2:] = WHITE
    X = ColorHistogram(pyramid=False).fit_transform(img)
    assert X.shape == (1, N_BINS)
    assert_array_equal(np.flatnonzero(X[0]), [RED_BIN, WHITE_BIN])
    assert_allclose(X[0, [RED_BIN, WHITE_BIN]], math.sqrt(0.5), rtol=1e-6)


def test_four_colour_quadrants_exact():
    img = np.zeros((1, 4, 4, 3))
    img[0, :2, :2] = RED
    img[0, :2, 2:] = GREEN
    img[0, 2:, :2] = BLUE
    img[0, 2:, 2:] = WHITE
    X = ColorHistogram().fit_transform(img)[0].reshape(5, N_BINS)
    # whole image: four bins at p = 1/4 -> sqrt(1/4) / sqrt(5) = 0.5 / sqrt(5)
    codes = [RED_BIN, GREEN_BIN, BLUE_BIN, WHITE_BIN]
    assert_array_equal(np.flatnonzero(X[0]), sorted(codes))
    assert_allclose(X[0, codes], 0.5 / math.sqrt(5), rtol=1e-6)
    for q, code in enumerate(codes, start=1):
        assert_array_equal(np.flatnonzero(X[q]), [code])
        assert X[q, code] == pytest.approx(1 / math.sqrt(5), rel=1e-6)


def test_grey_levels_and_threshold():
    # grey pixels go by value into 4 bins; a faint colour (s = 0.1) is grey too
    img = np.zeros((1, 1, 5, 3))
    img[0, 0, 0] = 0.0  # v 0 -> grey bin 0
    img[0, 0, 1] = 0.3  # v 0.3 -> floor(1.2) = 1
    img[0, 0, 2] = 0.6  # floor(2.4) = 2
    img[0, 0, 3] = (1.0, 0.9, 0.9)  # s 0.1 < 0.15, v 1 -> 3
    img[0, 0, 4] = (1.0, 0.8, 0.8)  # s 0.2 >= 0.15: coloured, h 0, s bin 0, v bin 2
    X = ColorHistogram(pyramid=False).fit_transform(img)[0]
    assert_array_equal(np.flatnonzero(X), [2, 108, 109, 110, 111])
    assert_allclose(X[np.flatnonzero(X)], math.sqrt(0.2), rtol=1e-6)


# -- brute-force reference ------------------------------------------------------------
def reference(images, *, nh=12, ns=3, nv=3, ng=4, gray_s=0.15, pyramid=True):
    """Per-pixel loop with colorsys: (n, H, W[, C]) uint8 or 0-1 floats -> rows."""
    images = np.asarray(images)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    n, H, W = images.shape[:3]
    n_bins = nh * ns * nv + ng
    n_blocks = 5 if pyramid else 1
    rows = []
    for img in images:
        hists = [[0.0] * n_bins for _ in range(n_blocks)]
        for y in range(H):
            for x in range(W):
                px = img[y, x]
                px = [float(px)] if np.ndim(px) == 0 else [float(c) for c in px]
                px = [c / scale for c in px]
                if len(px) == 1:
                    h, s, v = 0.0, 0.0, px[0]
                else:
                    h, s, v = colorsys.rgb_to_hsv(*px[:3])
                w = px[3] if len(px) == 4 else 1.0
                if s < gray_s:
                    code = nh * ns * nv + min(int(v * ng), ng - 1)
                else:
                    hb = min(int(h * nh), nh - 1)
                    sb = min(int(s * ns), ns - 1)
                    vb = min(int(v * nv), nv - 1)
                    code = (hb * ns + sb) * nv + vb
                hists[0][code] += w
                if pyramid:
                    q = 1 + 2 * (y >= H // 2) + (x >= W // 2)
                    hists[q][code] += w
        row = []
        for hist in hists:
            total = sum(hist)
            row += [math.sqrt(c / total) if total > 0 else 0.0 for c in hist]
        rows.append([c / math.sqrt(n_blocks) for c in row])
    return np.array(rows)


def _near_edge(x, n):
    """x * n within float noise of an inner bin edge 1 .. n - 1."""
    k = round(x * n)
    return 0 < k < n and abs(x * n - k) < 1e-6


def without_ties(images, *, nh=12, ns=3, nv=3, ng=4, gray_s=0.15):
    """Copy of uint8 images with pixels that sit exactly on a bin edge made mid-grey.

    Such pixels (e.g. saturation exactly 1/3) fall on either side depending on
    float rounding; they are checked on their own in test_exact_bin_edges.
    """
    images = images.copy()
    if images.ndim == 3:
        return images
    grey = np.array([128] * min(images.shape[3], 3), dtype=np.uint8)  # v 0.502, s 0
    n_replaced = 0
    for idx in np.ndindex(images.shape[:3]):
        px = images[idx]
        if len(px) == 1:
            continue
        h, s, v = colorsys.rgb_to_hsv(*(float(c) / 255 for c in px[:3]))
        if (
            _near_edge(h, nh)
            or _near_edge(s, ns)
            or _near_edge(v, nv)
            or _near_edge(v, ng)
            or abs(s - gray_s) < 1e-6
        ):
            images[idx][:3] = grey
            n_replaced += 1
    assert n_replaced <= images[..., 0].size // 10  # a rare case, not the data
    return images


@pytest.mark.parametrize("pyramid", [True, False])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_matches_reference(rng, pyramid, channels):
    shape = (3, 5, 7) if channels is None else (3, 5, 7, channels)  # odd sizes
    images = without_ties(rng.integers(0, 256, size=shape, dtype=np.uint8))
    est = ColorHistogram(pyramid=pyramid)
    X = est.fit_transform(images)
    assert X.dtype == np.float32
    assert X.shape == (3, N_BINS * (5 if pyramid else 1))
    assert_allclose(X, reference(images, pyramid=pyramid), atol=2e-6)


def test_matches_reference_other_bins(rng):
    params = dict(nh=7, ns=2, nv=5, ng=3, gray_s=0.3)
    images = rng.integers(0, 256, size=(2, 6, 6, 4), dtype=np.uint8)
    images = without_ties(images, **params)
    est = ColorHistogram(
        hue_bins=7, saturation_bins=2, value_bins=5, gray_bins=3, gray_saturation=0.3
    )
    X = est.fit_transform(images)
    assert est.n_bins_ == 7 * 2 * 5 + 3
    assert_allclose(X, reference(images, **params), atol=2e-6)


def test_matches_reference_float_images(rng):
    images = rng.random((2, 4, 6, 3))
    assert_allclose(
        ColorHistogram().fit_transform(images), reference(images), atol=2e-6
    )


# uint8 pixels whose exact HSV sits on a bin edge, and their bin by the formula
# bin = min(floor(x * n), n - 1) in exact arithmetic (defaults 12 x 3 x 3 + 4):
EDGE_PIXELS = [
    # (1, 1, 3): h 2/3 -> 8, s 2/3 -> floor(2) = 2, v 3/255 -> 0: (8*3 + 2)*3 + 0
    ((1, 1, 3), 78),
    # (243, 162, 233): h (5 - 71/81)/6 -> 10, s 81/243 = 1/3 -> 1, v -> 2: (30+1)*3+2
    ((243, 162, 233), 95),
    # (4, 3, 2): h (1/2)/6 = 1/12 -> 1, s 1/2 -> 1, v -> 0: (1*3 + 1)*3 + 0
    ((4, 3, 2), 12),
    # (20, 17, 17): s 3/20 = 0.15 is not < 0.15, so coloured: h 0, s 0.45 -> 0, v 0
    ((20, 17, 17), 0),
]


@pytest.mark.parametrize(("pixel", "code"), EDGE_PIXELS)
def test_exact_bin_edges(pixel, code):
    img = np.array(pixel, dtype=np.uint8).reshape(1, 1, 1, 3)
    X = ColorHistogram(pyramid=False).fit_transform(img)[0]
    assert_array_equal(np.flatnonzero(X), [code])


def test_alpha_weights_pixels():
    # left half opaque red, right half white at alpha 1/3: whole block p = 3/4, 1/4
    img = np.zeros((1, 2, 4, 4))
    img[0, :, :2] = (*RED, 1.0)
    img[0, :, 2:] = (*WHITE, 1 / 3)
    X = ColorHistogram(pyramid=False).fit_transform(img)[0]
    assert_array_equal(np.flatnonzero(X), [RED_BIN, WHITE_BIN])
    assert_allclose(
        X[[RED_BIN, WHITE_BIN]], [math.sqrt(0.75), math.sqrt(0.25)], rtol=1e-6
    )


# -- properties -----------------------------------------------------------------------
@pytest.mark.parametrize("pyramid", [True, False])
def test_rows_have_unit_norm(rng, pyramid):
    images = rng.integers(0, 256, size=(4, 6, 6, 3), dtype=np.uint8)
    X = ColorHistogram(pyramid=pyramid).fit_transform(images)
    assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert (X >= 0).all()


def test_uint8_and_float_agree(rng):
    images = rng.integers(0, 256, size=(3, 6, 5, 4), dtype=np.uint8)
    a = ColorHistogram().fit_transform(images)
    b = ColorHistogram().fit_transform(images.astype(np.float64) / 255)
    assert_allclose(a, b, atol=1e-6)


def test_deterministic(rng):
    images = rng.integers(0, 256, size=(3, 6, 6, 3), dtype=np.uint8)
    est = ColorHistogram().fit(images)
    first = est.transform(images)
    assert_array_equal(first, est.transform(images))
    assert_array_equal(first, ColorHistogram().fit_transform(images))
    # one image at a time gives the same rows
    assert_array_equal(
        np.vstack([est.transform(images[i : i + 1]) for i in range(3)]), first
    )


def test_transparent_image_gives_zeros(rng):
    images = rng.integers(0, 256, size=(2, 4, 4, 4), dtype=np.uint8)
    images[0, ..., 3] = 0  # image 0 fully transparent
    X = ColorHistogram().fit_transform(images)
    assert np.isfinite(X).all()
    assert_array_equal(X[0], 0)
    assert_allclose(np.linalg.norm(X[1]), 1.0, rtol=1e-5)


def test_partly_transparent_quadrant_is_empty_block():
    img = np.ones((1, 4, 4, 4))  # opaque white
    img[0, :2, :2, 3] = 0  # top-left quadrant transparent
    X = ColorHistogram().fit_transform(img)[0].reshape(5, N_BINS)
    assert np.isfinite(X).all()
    assert_array_equal(X[1], 0)
    for block in (0, 2, 3, 4):
        assert_array_equal(np.flatnonzero(X[block]), [WHITE_BIN])
        assert X[block, WHITE_BIN] == pytest.approx(1 / math.sqrt(5), rel=1e-6)


# -- errors ---------------------------------------------------------------------------
def test_two_channels_rejected():
    images = np.zeros((2, 4, 4, 2), dtype=np.uint8)
    with pytest.raises(ValueError) as info:
        ColorHistogram().fit(images)
    assert isinstance(info.value, InputError)
    message = str(info.value)
    assert "\n" not in message
    assert "2" in message and "channel" in message


def test_channel_count_must_match_fit():
    est = ColorHistogram().fit(np.zeros((1, 4, 4, 3), dtype=np.uint8))
    for images in (np.zeros((1, 4, 4, 4)), np.zeros((1, 4, 4))):
        with pytest.raises(ValueError, match="channel") as info:
            est.transform(images)
        assert isinstance(info.value, InputError)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("pyramid", [True, False])
def test_feature_names_match_width(pyramid):
    images = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    est = ColorHistogram(hue_bins=5, pyramid=pyramid).fit(images)
    names = est.get_feature_names_out()
    assert (
        len(names)
        == est.transform(images).shape[1]
        == est.n_bins_ * (5 if pyramid else 1)
    )
    assert len(set(names)) == len(names)


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ColorHistogram().transform(np.zeros((1, 4, 4, 3)))


# -- scikit-learn ---------------------------------------------------------------------
def test_clone_and_get_params():
    est = ColorHistogram(hue_bins=6, gray_saturation=0.2, pyramid=False)
    params = est.get_params()
    assert params == dict(
        hue_bins=6,
        saturation_bins=3,
        value_bins=3,
        gray_bins=4,
        gray_saturation=0.2,
        pyramid=False,
    )
    copy = clone(est)
    assert copy is not est
    assert copy.get_params() == params
    assert clone(ColorHistogram()).get_params() == ColorHistogram().get_params()


def test_invalid_param_rejected():
    with pytest.raises(ValueError):
        ColorHistogram(hue_bins=0).fit(np.zeros((1, 2, 2, 3)))


def test_pandas_output(rng):
    images = rng.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    expected = ColorHistogram().fit_transform(images)
    est = ColorHistogram().set_output(transform="pandas")
    out = est.fit_transform(images)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert_allclose(out.to_numpy(), expected)
