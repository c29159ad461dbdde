"""Colour histograms of whole images: the global colour a patch descriptor misses.

Every pixel gets one colour bin in HSV space: a joint ``hue × saturation ×
value`` bin when it has colour, or one of ``gray_bins`` levels of value when
its saturation is below ``gray_saturation`` (hue means nothing there). The
histogram of an image (and, with ``pyramid``, of each of its 2 × 2 quadrants)
is normalised to sum 1 and square-rooted: the Hellinger map, under which a
dot product of two rows is the Bhattacharyya coefficient of their histograms,
so a linear classifier gets a kernel suited to distributions. Each block is
then scaled to unit length and the row divided by ``sqrt(n_blocks)``.

With 4 channels the alpha channel weights each pixel (a transparent
background counts for nothing); one channel is all value, no colour.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from cooc._compat import Interval, check_is_fitted, fit_context
from cooc.errors import InputError
from cooc.vision import check_images

__all__ = ["ColorHistogram", "hsv"]

#: Pixels per chunk of :meth:`ColorHistogram.transform` (bounds its memory).
_CHUNK_PIXELS = 1 << 22
#: Slack of the bin edges: float64 rounding puts a pixel that sits exactly on
#: an edge (s = 2/3 of uint8 values) a hair below it; colour values of 8- or
#: 16-bit images are never that close to an edge without being on it.
_EDGE = 1e-9


def hsv(rgb):
    """float (..., 3) RGB on a 0-1 scale -> hue, saturation, value, each (...) in [0, 1].

    Hue is the usual hexagonal one (0 red, 1/3 green, 2/3 blue), 0 for grey.

    >>> h, s, v = hsv(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]]))
    >>> [round(float(x), 3) for x in h], s.tolist(), v.tolist()
    ([0.0, 0.667, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.5])
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    chroma = value - rgb.min(axis=-1)
    safe = np.where(chroma > 0, chroma, 1)
    hue = np.where(
        value == r,
        ((g - b) / safe) % 6,
        np.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    hue = np.where(chroma > 0, hue / 6, 0)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1), 0)
    return hue, saturation, value


def _unit_float(images):
    """(n, H, W[, C]) -> float64 (n, H, W, C) on a 0-1 scale."""
    if images.dtype.kind == "u":
        out = images.astype(np.float64) / np.iinfo(images.dtype).max
    else:
        out = images.astype(np.float64, copy=False)
    return out[..., None] if out.ndim == 3 else out


class ColorHistogram(TransformerMixin, BaseEstimator):
    """Hellinger-mapped HSV colour histograms of images (whole and 2 × 2 quadrants).

    Parameters
    ----------
    hue_bins, saturation_bins, value_bins : int, default=12, 3, 3
        Joint bins of the coloured pixels.
    gray_bins : int, default=4
        Value bins of the pixels without colour.
    gray_saturation : float, default=0.15
        Pixels with saturation below this count as grey.
    pyramid : bool, default=True
        Add the histogram of each image quadrant (reading order) after the
        whole image's.

    Attributes
    ----------
    n_bins_ : int
        Bins per histogram: ``hue * saturation * value + gray``.
    n_channels_ : int
        Channels of the images seen by ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.colorhist import ColorHistogram
    >>> red = np.zeros((1, 8, 8, 3)); red[..., 0] = 1.0
    >>> X = ColorHistogram(pyramid=False).fit_transform(red)
    >>> X.shape, int(np.flatnonzero(X[0])[0]), float(X[0].max())  # bin (hue 0, s 2, v 2)
    ((1, 112), 8, 1.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        "hue_bins": [Interval(Integral, 1, None, closed="left")],
        "saturation_bins": [Interval(Integral, 1, None, closed="left")],
        "value_bins": [Interval(Integral, 1, None, closed="left")],
        "gray_bins": [Interval(Integral, 1, None, closed="left")],
        "gray_saturation": [Interval(Real, 0, 1, closed="both")],
        "pyramid": ["boolean"],
    }

    def __init__(
        self,
        hue_bins=12,
        saturation_bins=3,
        value_bins=3,
        gray_bins=4,
        gray_saturation=0.15,
        pyramid=True,
    ):
        self.hue_bins = hue_bins
        self.saturation_bins = saturation_bins
        self.value_bins = value_bins
        self.gray_bins = gray_bins
        self.gray_saturation = gray_saturation
        self.pyramid = pyramid

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the images and fix the layout (nothing is learnt)."""
        images = check_images(X)
        self.n_channels_ = 1 if images.ndim == 3 else int(images.shape[3])
        self._check_channels(self.n_channels_)
        self.n_bins_ = (
            self.hue_bins * self.saturation_bins * self.value_bins + self.gray_bins
        )
        return self

    @staticmethod
    def _check_channels(n):
        if n not in (1, 3, 4):
            raise InputError(
                f"colour histograms need 1 (grey), 3 (RGB) or 4 (RGBA) channels, "
                f"got {n}."
            )

    def _n_blocks(self):
        return 5 if self.pyramid else 1

    def _codes(self, images):
        """Float (n, H, W, C) on 0-1 -> (bin codes (n, H, W) int64, weights or None)."""
        C = images.shape[3]
        weight = images[..., 3] if C == 4 else None
        if C == 1:
            hue = saturation = np.zeros(images.shape[:3])
            value = images[..., 0]
        else:
            hue, saturation, value = hsv(images[..., :3])
        nh, ns, nv, ng = (
            self.hue_bins,
            self.saturation_bins,
            self.value_bins,
            self.gray_bins,
        )

        def bins(x, n):
            return np.minimum((x * n + _EDGE).astype(np.int64), n - 1)

        hb = bins(hue, nh)
        sb, vb, gb = bins(saturation, ns), bins(value, nv), bins(value, ng)
        coloured = (hb * ns + sb) * nv + vb
        grey = saturation < self.gray_saturation - _EDGE
        codes = np.where(grey, nh * ns * nv + gb, coloured)
        return codes, weight

    def transform(self, X):
        """Histograms: a dense float32 array ``(n, n_bins_ * n_blocks)``."""
        check_is_fitted(self)
        images = check_images(X)
        C = 1 if images.ndim == 3 else images.shape[3]
        if C != self.n_channels_:
            raise InputError(
                f"images have {C} channel(s) but ColorHistogram was fitted on "
                f"{self.n_channels_}."
            )
        n, H, W = images.shape[:3]
        nb, blocks = self.n_bins_, self._n_blocks()
        out = np.zeros((n, blocks, nb), dtype=np.float64)
        if self.pyramid:  # quadrant of every pixel (centre lines go down/right)
            quadrant = (np.arange(H) >= H // 2)[:, None] * 2 + (np.arange(W) >= W // 2)[
                None, :
            ]
        step = max(1, _CHUNK_PIXELS // (H * W))
        for start in range(0, n, step):
            chunk = _unit_float(images[start : start + step])
            m = chunk.shape[0]
            codes, weight = self._codes(chunk)
            rows = np.arange(m)[:, None, None] * blocks
            w = None if weight is None else weight.ravel()
            whole = (rows * nb + codes).ravel()
            hist = np.bincount(whole, weights=w, minlength=m * blocks * nb)
            if self.pyramid:
                part = ((rows + 1 + quadrant) * nb + codes).ravel()
                hist = hist + np.bincount(part, weights=w, minlength=m * blocks * nb)
            out[start : start + m] = hist.reshape(m, blocks, nb)
        totals = out.sum(axis=2, keepdims=True)
        np.divide(out, totals, out=out, where=totals > 0)
        np.sqrt(out, out=out)  # unit length per block: sum of p = 1
        return (out.reshape(n, blocks * nb) / np.sqrt(blocks)).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        names = [f"color{j}" for j in range(self.n_bins_)]
        if self.pyramid:
            names += [
                f"color{j}_q{q}" for q in range(1, 5) for j in range(self.n_bins_)
            ]
        return np.asarray(names, dtype=object)
