"""Visual words: images -> dense patch descriptors -> codebook -> visual-word ids.

The array functions take a stack of images and return flat arrays, like the
text side's ``(ids, offsets)``: :func:`extract_patches` gives one descriptor per
patch on a regular grid plus image offsets and grid positions. The estimator
:class:`VisualWords` learns a PCA (optionally whitening) and a k-means codebook
on those descriptors, then turns every image into a bag of visual words
(:meth:`VisualWords.transform`; soft bags, VLAD or Fisher vectors with
``encoding=``, computed by :mod:`cooc.encodings`) or a sequence of visual-word
ids with their positions (:meth:`VisualWords.encode`), ready for
co-occurrence counting.

Image files are read with Pillow (a dependency of cooc); everything else
needs only numpy, scipy and scikit-learn.
"""

from __future__ import annotations

import itertools
import os
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from cooc._compat import Interval, StrOptions, check_is_fitted, fit_context
from cooc._output import sparse_output
from cooc.encodings import (
    bag,
    fisher_vectors,
    gmm_posteriors,
    power_l2,
    soft_assign,
    squared_distances,
    vlad,
)
from cooc.errors import InputError, InputTypeError, MissingDependencyError

__all__ = [
    "VisualWords",
    "check_images",
    "extract_patches",
    "load_images",
    "resize_images",
]

DESCRIPTORS = ("raw", "hog", "hog+color", "hog+opponent")
ENCODINGS = ("bow", "soft", "vlad", "fisher")

# Contrast normalisation divides a mean-free patch by sqrt(var + eps): 10 on the
# 0-255 scale (Coates et al., 2011), here on the 0-1 scale. Flat patches become 0.
_CONTRAST_EPS = 10.0 / 255.0**2
# Gradient-histogram descriptors: unsigned orientation bins.
_HOG_BINS = 9
# L2-Hys normalisation of a histogram descriptor: v / sqrt(|v|^2 + eps^2), values
# clipped at 0.2, normalised again. eps is relative to the patch side, so a patch
# crossed by one edge of contrast below ~_HOG_EPS is damped, not blown up.
_HOG_EPS = 0.02
_HOG_CLIP = 0.2
# "hog+color" appends the mean of every channel per cell (0-1 scale) times this
# weight to the normalised histograms (which have unit L2 norm).
_COLOR_WEIGHT = 0.5
# Whitening divides PCA component j by sqrt(var_j + reg * mean(var)) (regularised,
# like ZCA's epsilon), so near-zero-variance directions are not blown up.
_WHITEN_REG = 0.1
# Descriptors are computed (and assigned to codewords) in image chunks of about
# this many bytes.
_CHUNK_BYTES = 16 << 20
# "hog+opponent": RGB -> opponent colours (R-G, R+G-2B, R+G+B), orthonormal
# (van de Sande, Gevers and Snoek, PAMI 2010); other channels pass unchanged.
_OPPONENT = np.array(
    [
        [1 / np.sqrt(2), 1 / np.sqrt(6), 1 / np.sqrt(3)],
        [-1 / np.sqrt(2), 1 / np.sqrt(6), 1 / np.sqrt(3)],
        [0.0, -2 / np.sqrt(6), 1 / np.sqrt(3)],
    ],
    dtype=np.float32,
)
# ITU-R 601-2 luma, as Pillow's convert("L").
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIP_HINT = 'pip install "cooc[vision]"'
# encoding="soft": the kernel width is temperature * the mean squared distance
# of a patch to its nearest codeword, measured on at most this many patches.
_SOFT_SAMPLE = 20_000
# encoding="fisher": the diagonal Gaussian mixture is learnt (EM started from
# the k-means codebook) on at most this many of the sampled patches, with at
# most this many EM iterations, and variances floored at this fraction of the
# mean variance per dimension (flat patches repeat one point many times).
_GMM_SAMPLE = 50_000
_GMM_MAX_ITER = 50
_GMM_REG = 1e-3
# vlad and fisher: exponent of the signed power normalisation.
_POWER = 0.5


# -- input ------------------------------------------------------------------------
def _import_pillow():
    try:
        from PIL import Image  # Pillow: only when image files are read
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"reading image files needs Pillow, a dependency of cooc that is "
            f"missing here: {_PIP_HINT} (or pass the images as numpy arrays)."
        ) from exc
    return Image


def _check_size(size, name="size"):
    """Return ``size`` (an int or a (height, width) pair) as a tuple of two ints."""
    pair = (size, size) if isinstance(size, Integral) else size
    try:
        h, w = pair
        ok = all(isinstance(v, Integral) and v >= 1 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(size, bool):
        raise InputError(
            f"{name}={size!r} must be a positive int or a (height, width) pair of "
            "positive ints, e.g. 64."
        )
    return int(h), int(w)


def load_images(paths, *, size=None, mode="RGB"):
    """Read image files into one uint8 array (needs Pillow).

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Image files, in any format Pillow reads.
    size : int or (height, width) or None, default=None
        Resize every image to this size (an int gives a square) with Pillow's
        bicubic filter (antialiased when shrinking). Note the (height, width)
        order of numpy, not Pillow's (width, height). With None all images
        must have the same size.
    mode : {"RGB", "L", "RGBA"}, default="RGB"
        Pillow mode to convert to: colour, grayscale or colour with alpha.
        Transparent pixels are composited on white for "RGB" and "L".

    Returns
    -------
    images : ndarray of shape (n_images, height, width, n_channels), dtype uint8
        ``n_channels`` is 3, 1 or 4 for "RGB", "L" and "RGBA".

    Raises
    ------
    ImportError
        If Pillow is not installed.
    ValueError
        If ``paths`` is empty, or images differ in size and ``size`` is None
        (the message names the file and both sizes).

    See Also
    --------
    check_images : Validate images already in memory.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise InputTypeError(
            f"load_images expects a list of paths, got the single path {paths!r}; "
            "wrap it in a list."
        )
    paths = list(paths)
    if not paths:
        raise InputError("load_images got no paths; pass at least one image file.")
    if mode not in ("RGB", "L", "RGBA"):
        raise InputError(f"mode={mode!r} is not supported; use 'RGB', 'L' or 'RGBA'.")
    hw = None if size is None else _check_size(size)
    Image = _import_pillow()
    out, first = None, None
    for i, path in enumerate(paths):
        arr = _read_image(Image, path, mode, hw)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if out is None:
            out = np.empty((len(paths), *arr.shape), dtype=np.uint8)
            first = path
        elif arr.shape != out.shape[1:]:
            raise InputError(
                f"image {os.fspath(path)!r} is {arr.shape[0]}x{arr.shape[1]} "
                f"(height x width) but {os.fspath(first)!r} is "
                f"{out.shape[1]}x{out.shape[2]}; pass size= (--image-size in the CLI) to resize them all."
            )
        out[i] = arr
    return out


def _read_image(Image, path, mode: str, hw) -> np.ndarray:
    """One image file as a uint8 array in ``mode`` (resized to ``hw``); a file
    Pillow cannot read (empty, not an image, cut short, too large) is an
    InputError naming it. OS errors of the file itself (missing, no
    permission, a read error) pass unchanged."""
    try:
        with Image.open(path) as im:
            im.load()
            if mode != "RGBA" and (
                im.mode in ("RGBA", "LA") or "transparency" in im.info
            ):
                rgba = im.convert("RGBA")
                im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im.alpha_composite(rgba)
            im = im.convert(mode)
            if hw is not None and im.size != (hw[1], hw[0]):
                im = im.resize((hw[1], hw[0]), Image.Resampling.BICUBIC)
            return np.asarray(im, dtype=np.uint8)
    except MemoryError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        # Pillow says UnidentifiedImageError (an empty or non-image file),
        # OSError "image file is truncated", SyntaxError or ValueError from a
        # plugin, DecompressionBombError; the first line of it is enough.
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if isinstance(exc, Image.UnidentifiedImageError):
            empty = os.path.isfile(path) and os.path.getsize(path) == 0
            reason = "the file is empty" if empty else "not a format Pillow knows"
        raise InputError(
            f"image {os.fspath(path)!r} cannot be read ({reason}); check that it is "
            "a complete image file in a format Pillow reads."
        ) from None


def check_images(images):
    """Validate a stack of images and return it as one numpy array.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, n_channels])
        A 3-D (grayscale) or 4-D array, or a list of equally shaped 2-D or 3-D
        arrays. Unsigned integer (e.g. uint8) or float values; floats are
        expected on a 0-1 scale.

    Returns
    -------
    images : ndarray of shape (n_images, height, width[, n_channels])
        The same values and dtype, stacked into one array if a list was given.

    Raises
    ------
    TypeError
        If the values are not numeric (or are bool/complex).
    ValueError
        If there are no images, an image is empty, the images have different
        shapes, or an image holds NaN or infinite values; the message names
        the image index.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.vision import check_images
    >>> check_images([np.zeros((4, 5)), np.ones((4, 5))]).shape
    (2, 4, 5)
    """
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError("no images: got an empty list; pass at least one image.")
        arrays = [np.asarray(im) for im in images]
        first = arrays[0].shape
        for i, arr in enumerate(arrays):
            if arr.ndim not in (2, 3):
                raise InputError(
                    f"image {i} has shape {arr.shape}; each image must be 2-D "
                    "(height, width) or 3-D (height, width, channels)."
                )
            if arr.shape != first:
                raise InputError(
                    f"image {i} has shape {arr.shape} but image 0 has {first}; "
                    "resize them to one size first (resize_images or "
                    "load_images(size=...))."
                )
        images = np.stack(arrays)
    else:
        images = np.asarray(images)
    if images.dtype == object or images.dtype.kind not in "uif":
        raise InputTypeError(
            f"images of dtype {images.dtype} are not supported; pass uint8 or "
            "float arrays."
        )
    if images.ndim not in (3, 4):
        hint = "; for a single image use images[None]" if images.ndim == 2 else ""
        raise InputError(
            f"images must be 3-D (n_images, height, width) or 4-D (n_images, "
            f"height, width, channels), got shape {images.shape}{hint}."
        )
    if 0 in images.shape:
        if images.shape[0] == 0:
            raise InputError("no images: got 0 images; pass at least one image.")
        raise InputError(
            f"image 0 is empty: images have shape {images.shape}; every image "
            "needs at least one pixel (and channel)."
        )
    if images.dtype.kind == "f":
        finite = np.isfinite(images).reshape(len(images), -1).all(axis=1)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise InputError(
                f"image {bad} contains NaN or infinite values "
                f"({int((~finite).sum())} image(s) in all); clean or drop them."
            )
    return images


def _as_float(images):
    """(n, H, W[, C]) -> float32 (n, H, W, C) on a 0-1 scale (uint / dtype max)."""
    if images.dtype.kind == "u":
        out = images.astype(np.float32) / np.float32(np.iinfo(images.dtype).max)
    else:
        out = images.astype(np.float32, copy=False)
    return out[..., None] if out.ndim == 3 else out


def _to_gray(images):
    """float32 (n, H, W, C) -> (n, H, W, 1): luma of RGB(A), or the only channel."""
    n_channels = images.shape[3]
    if n_channels == 1:
        return images
    if n_channels in (3, 4):
        return (images[..., :3] @ _LUMA)[..., None]
    raise InputError(
        f"grayscale=True needs 1, 3 (RGB) or 4 (RGBA) channels, got {n_channels}; "
        "convert the images first or use grayscale=False."
    )


def _resize(images, hw):
    """Resize float (n, H, W, C): block mean for integer shrink, else nearest."""
    n, H, W, C = images.shape
    h, w = hw
    if images.shape[1:3] == (h, w):
        return images
    if H % h == 0 and W % w == 0:
        return images.reshape(n, h, H // h, w, W // w, C).mean(axis=(2, 4))
    rows = np.minimum(((np.arange(h) + 0.5) * H / h).astype(np.intp), H - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * W / w).astype(np.intp), W - 1)
    return images[:, rows][:, :, cols]


def resize_images(images, size):
    """Resize images with numpy: block means when shrinking by integers, else nearest.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, n_channels])
        Images as accepted by :func:`check_images`.
    size : int or (height, width)
        Target size; an int gives a square.

    Returns
    -------
    resized : ndarray of shape (n_images, size_h, size_w, n_channels), float32
        Values on a 0-1 scale (unsigned integer images are divided by their
        dtype's maximum, e.g. 255). Grayscale input gets ``n_channels=1``.

    Notes
    -----
    When the height and width are integer multiples of the target, each
    output pixel is the mean of its block (area averaging, no aliasing);
    otherwise the nearest source pixel is taken (pixel centres), which also
    covers integer enlargement exactly. Use Pillow (:func:`load_images`) for
    high-quality resampling.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.vision import resize_images
    >>> img = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    >>> resize_images(img, 2)[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    return _resize(_as_float(check_images(images)), _check_size(size))


# -- descriptors --------------------------------------------------------------------
def _grid_shape(height, width, patch_size, step):
    return (height - patch_size) // step + 1, (width - patch_size) // step + 1


def _raw_patches(images, patch_size, step):
    """float32 (n, H, W, C) -> (n * gh * gw, p * p * C), rows (p, p, C) row-major."""
    C = images.shape[3]
    windows = sliding_window_view(images, (patch_size, patch_size), axis=(1, 2))
    windows = windows[:, ::step, ::step]  # (n, gh, gw, C, p, p)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, patch_size * patch_size * C)


def _normalize_contrast(desc):
    """Remove each row's mean and divide by sqrt(var + eps), in place."""
    desc -= desc.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", desc, desc) / np.float32(desc.shape[1])
    desc /= np.sqrt(var + np.float32(_CONTRAST_EPS))[:, None]
    return desc


def _orientation_maps(images):
    """float32 (n, H, W, C) -> (n, H, W, bins) gradient magnitude per orientation bin.

    Central differences (0 on the border); with several channels each pixel
    takes the channel of largest gradient. Unsigned orientations, each pixel
    voting for its two nearest bins with linear weights.
    """
    gx = np.zeros_like(images)
    gy = np.zeros_like(images)
    gx[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    gy[:, 1:-1] = images[:, 2:] - images[:, :-2]
    mag = np.hypot(gx, gy)
    if images.shape[3] > 1:
        best = mag.argmax(axis=3)[..., None]
        mag = np.take_along_axis(mag, best, axis=3)[..., 0]
        gx = np.take_along_axis(gx, best, axis=3)[..., 0]
        gy = np.take_along_axis(gy, best, axis=3)[..., 0]
    else:
        mag, gx, gy = mag[..., 0], gx[..., 0], gy[..., 0]
    angle = np.arctan2(gy, gx) % np.pi  # [0, pi)
    pos = angle * (_HOG_BINS / np.pi) - 0.5  # bin b is centred at b + 0.5
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float32)
    lo = lo.astype(np.intp) % _HOG_BINS
    hi = (lo + 1) % _HOG_BINS
    maps = np.zeros((*mag.shape, _HOG_BINS), dtype=np.float32)
    np.put_along_axis(maps, lo[..., None], (mag * (1 - frac))[..., None], axis=-1)
    np.put_along_axis(maps, hi[..., None], (mag * frac)[..., None], axis=-1)
    return maps


def _hog_cells(patch_size):
    """Cells per patch side of the histogram descriptor: 2, or 4 for patches >= 16."""
    return 4 if patch_size >= 16 else 2


def _cell_sums(maps, patch_size, step, n_cells):
    """Sums of float (n, H, W, m) over the cells of every patch: (n*gh*gw, cells² * m).

    Uses an integral image, so the cost does not depend on the cell size.
    """
    n, H, W, m = maps.shape
    gh, gw = _grid_shape(H, W, patch_size, step)
    cell = patch_size // n_cells
    integral = np.zeros((n, H + 1, W + 1, m), dtype=np.float64)
    np.cumsum(maps, axis=1, out=integral[:, 1:, 1:])
    np.cumsum(integral[:, 1:, 1:], axis=2, out=integral[:, 1:, 1:])
    # box[:, y, x] = sum of maps over rows y..y+cell-1, cols x..x+cell-1
    box = (
        integral[:, cell:, cell:]
        - integral[:, :-cell, cell:]
        - integral[:, cell:, :-cell]
        + integral[:, :-cell, :-cell]
    )
    span_r, span_c = (gh - 1) * step + 1, (gw - 1) * step + 1
    cells = [
        box[:, i * cell : i * cell + span_r : step, j * cell : j * cell + span_c : step]
        for i in range(n_cells)
        for j in range(n_cells)
    ]  # each (n, gh, gw, m)
    return np.stack(cells, axis=3).astype(np.float32).reshape(n * gh * gw, -1)


def _hog_patches(images, patch_size, step, normalize, color=False):
    """float32 (n, H, W, C) -> (n * gh * gw, d) orientation histograms per cell.

    With ``color``, the mean of every channel per cell follows, times
    _COLOR_WEIGHT (RGB in opponent colours when ``color == "opponent"``).
    """
    n_cells = _hog_cells(patch_size)
    desc = _cell_sums(_orientation_maps(images), patch_size, step, n_cells)
    if normalize:
        # L2-Hys: normalise, clip, normalise again (flat patches stay 0)
        eps2 = np.float32((_HOG_EPS * patch_size) ** 2)
        desc /= np.sqrt(np.square(desc).sum(axis=1, keepdims=True) + eps2)
        np.minimum(desc, _HOG_CLIP, out=desc)
        desc /= np.sqrt(np.square(desc).sum(axis=1, keepdims=True) + np.float32(1e-12))
    if color:
        cell = patch_size // n_cells
        weight = np.float32(_COLOR_WEIGHT / cell**2)
        if color == "opponent" and images.shape[3] >= 3:
            rgb = images[..., :3] @ _OPPONENT
            images = np.concatenate([rgb, images[..., 3:]], axis=3)
        desc = np.hstack([desc, _cell_sums(images, patch_size, step, n_cells) * weight])
    return desc


def _descriptor_dim(n_channels, patch_size, descriptor):
    if descriptor == "raw":
        return patch_size * patch_size * n_channels
    n_cells = _hog_cells(patch_size) ** 2
    color = n_channels if descriptor in ("hog+color", "hog+opponent") else 0
    return n_cells * (_HOG_BINS + color)


def _check_patch_params(patch_size, step, descriptor):
    if not isinstance(patch_size, Integral) or patch_size < 2:
        raise InputError(f"patch_size={patch_size!r} must be an int >= 2, e.g. 8.")
    if not isinstance(step, Integral) or step < 1:
        raise InputError(f"step={step!r} must be an int >= 1, e.g. patch_size // 2.")
    if descriptor not in DESCRIPTORS:
        raise InputError(
            f"descriptor={descriptor!r} is not supported; use one of {DESCRIPTORS}."
        )


def _prepare(images, *, image_size, grayscale, patch_size):
    """Checked images -> float32 (n, H, W, C), resized and converted."""
    images = _as_float(check_images(images))
    if grayscale:
        images = _to_gray(images)
    if image_size is not None:
        images = _resize(images, _check_size(image_size, "image_size"))
    H, W = images.shape[1:3]
    if min(H, W) < patch_size:
        raise InputError(
            f"images of {H}x{W} pixels are smaller than patch_size={patch_size}; "
            "use a smaller patch_size or a larger image_size."
        )
    return images


def _iter_descriptors(images, patch_size, step, normalize, descriptor):
    """Yield (first image, descriptors) over image chunks of about _CHUNK_BYTES."""
    n, H, W, C = images.shape
    gh, gw = _grid_shape(H, W, patch_size, step)
    d = _descriptor_dim(C, patch_size, descriptor)
    per_image = gh * gw * d * 4
    if descriptor != "raw":  # orientation maps and their integral image
        per_image += H * W * (_HOG_BINS + C) * 16
    chunk = max(1, _CHUNK_BYTES // per_image)
    for start in range(0, n, chunk):
        block = images[start : start + chunk]
        if descriptor != "raw":
            color = descriptor in ("hog+color", "hog+opponent")
            if descriptor == "hog+opponent":
                color = "opponent"
            desc = _hog_patches(block, patch_size, step, normalize, color)
        else:
            desc = _raw_patches(block, patch_size, step)
            if normalize:
                _normalize_contrast(desc)
        yield start, desc


def _grid_positions(n_images, gh, gw):
    """(row, col) of every patch on the (gh, gw) grid, repeated per image, int32."""
    rows, cols = np.divmod(np.arange(gh * gw, dtype=np.int32), np.int32(gw))
    return np.tile(np.column_stack([rows, cols]), (n_images, 1))


def extract_patches(
    images, *, patch_size=8, step=4, grayscale=False, normalize=True, descriptor="raw"
):
    """Dense patch descriptors of a stack of images.

    Patches of ``patch_size × patch_size`` pixels are cut on a regular grid
    with stride ``step`` (patches that would cross the right or bottom border
    are left out) and described either by their pixels or by histograms of
    gradient orientations.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, n_channels])
        Images as accepted by :func:`check_images`; unsigned integers are
        scaled to 0-1 by their dtype's maximum, floats are used as given.
    patch_size : int, default=8
        Side of the square patches, in pixels.
    step : int, default=4
        Stride of the patch grid, in pixels.
    grayscale : bool, default=False
        Convert RGB(A) to luma (ITU-R 601-2) first; otherwise every channel is
        kept (an alpha channel counts as a colour).
    normalize : bool, default=True
        ``"raw"``: remove each patch's mean and divide by
        ``sqrt(var + 10/255**2)`` (contrast normalisation; a flat patch
        becomes all zeros instead of noise). ``"hog"``: L2-Hys normalisation
        of the histograms (normalise, clip at 0.2, normalise again).
    descriptor : {"raw", "hog", "hog+color", "hog+opponent"}, default="raw"
        ``"raw"``: the patch pixels, ``patch_size**2 * n_channels`` values in
        (row, col, channel) order, as ``extract_patches_2d`` gives them.
        ``"hog"``: histograms of unsigned gradient orientations (9 bins,
        magnitude-weighted, linear votes) over 2 × 2 cells of the patch (4 × 4
        cells for ``patch_size >= 16``), ``cells * 9`` values; colour images
        use the channel with the strongest gradient at each pixel.
        ``"hog+color"``: the same histograms followed by the mean of every
        channel in each cell (0-1 scale, times 0.5), ``cells * (9 +
        n_channels)`` values: shape and colour. ``"hog+opponent"``: the
        same with the RGB channels in the opponent colour space
        (``(R-G)/√2, (R+G-2B)/√6, (R+G+B)/√3``; more channels pass unchanged,
        one channel is kept as it is).

    Returns
    -------
    descriptors : ndarray of shape (n_patches_total, n_features), float32
        One row per patch, image after image, each image's patches in
        row-major grid order.
    offsets : ndarray of shape (n_images + 1,), int64
        Patches of image ``i`` are rows ``offsets[i]:offsets[i + 1]``.
    positions : ndarray of shape (n_patches_total, 2), int32
        ``(row, col)`` of each patch on the patch grid; its top-left pixel is
        ``(row * step, col * step)``.

    Raises
    ------
    ValueError
        If the images are invalid (see :func:`check_images`), smaller than a
        patch, or a parameter is out of range.

    See Also
    --------
    sklearn.feature_extraction.image.extract_patches_2d : All patches at
        stride 1 of one image.
    VisualWords : Quantise the descriptors into visual words.

    Notes
    -----
    The work is vectorised with ``numpy.lib.stride_tricks.sliding_window_view``
    (raw) or an integral image of orientation maps (hog), in chunks of images
    of about 64 MB; time and memory are O(n_patches_total × n_features).

    References
    ----------
    .. [1] A. Coates, H. Lee and A. Y. Ng, "An analysis of single-layer
       networks in unsupervised feature learning", AISTATS 2011.
    .. [2] N. Dalal and B. Triggs, "Histograms of oriented gradients for human
       detection", CVPR 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from cooc.vision import extract_patches
    >>> images = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    >>> desc, offsets, positions = extract_patches(images, patch_size=8, step=4)
    >>> desc.shape, offsets.tolist(), positions[:4].tolist()
    ((18, 192), [0, 9, 18], [[0, 0], [0, 1], [0, 2], [1, 0]])
    """
    _check_patch_params(patch_size, step, descriptor)
    images = _prepare(
        images, image_size=None, grayscale=grayscale, patch_size=patch_size
    )
    n, H, W, _ = images.shape
    gh, gw = _grid_shape(H, W, patch_size, step)
    parts = [
        d for _, d in _iter_descriptors(images, patch_size, step, normalize, descriptor)
    ]
    desc = parts[0] if len(parts) == 1 else np.concatenate(parts)
    offsets = np.arange(n + 1, dtype=np.int64) * (gh * gw)
    return desc, offsets, _grid_positions(n, gh, gw)


# -- codebook -----------------------------------------------------------------------
def _unique_rows(desc):
    """Distinct rows of ``desc`` (first-seen order) and their counts as float32.

    Flat patches all get the same descriptor; clustering them as one weighted
    sample keeps MiniBatchKMeans from spending several codewords on that point.
    """
    desc = np.ascontiguousarray(desc)
    rows = desc.view(np.dtype((np.void, desc.dtype.itemsize * desc.shape[1])))
    _, first, counts = np.unique(rows.ravel(), return_index=True, return_counts=True)
    order = np.argsort(first)
    return desc[first[order]], counts[order].astype(np.float32)


def whitening_scale(pca):
    """cooc's regularised whitening of a fitted PCA: the factor of every
    component, ``1 / sqrt(var_j + reg * mean variance per input dimension)``,
    float64 ``(n_components,)``."""
    ev = np.asarray(pca.explained_variance_, dtype=np.float64)
    ratio = float(np.sum(pca.explained_variance_ratio_))
    total = ev.sum() / ratio if ratio > 0 else 0.0
    reg = _WHITEN_REG * total / pca.components_.shape[1]
    return 1.0 / np.sqrt(ev + max(reg, np.finfo(np.float32).tiny))


def pca_projection(pca, whiten):
    """``(W, b)`` with ``project(x) = x @ W - b`` (float32) for a fitted PCA,
    whitened by :func:`whitening_scale` when ``whiten``; None without a PCA."""
    if pca is None:
        return None
    W = pca.components_.T.astype(np.float64)
    if whiten:
        W = W * whitening_scale(pca)
    b = np.asarray(pca.mean_, dtype=np.float64) @ W
    return W.astype(np.float32), b.astype(np.float32)


def project(desc, projection):
    """Descriptors ``desc`` in the space of ``projection`` (``(W, b)`` of
    :func:`pca_projection`: ``desc @ W - b``), or ``desc`` itself when None."""
    if projection is None:
        return desc
    W, b = projection
    out = desc @ W
    out -= b
    return out


def _reproject_centers(centers, old, new):
    """Carry centres from the old projected space into the new one (via ``x``)."""
    W_old, b_old = (np.asarray(a, dtype=np.float64) for a in old)
    W_new, b_new = (np.asarray(a, dtype=np.float64) for a in new)
    # x = (c + b_old) @ pinv(W_old): exact when W_old is square, else the
    # least-squares point of the old subspace.
    x = np.linalg.lstsq(W_old.T, (centers + b_old).T, rcond=None)[0].T
    return (x @ W_new - b_new).astype(np.float32)


_PYRAMID_CELLS = ("q1", "q2", "q3", "q4")


class VisualWords(TransformerMixin, BaseEstimator):
    """Bag of visual words: a k-means codebook of dense image-patch descriptors.

    ``fit`` cuts patches on a regular grid of every image (see
    :func:`extract_patches`), learns a PCA of their descriptors (whitened by
    default) and a codebook of ``n_words`` centres with ``MiniBatchKMeans``.
    ``transform`` assigns every patch to its nearest codeword and counts the
    visual words of each image; :meth:`encode` returns the sequence of
    visual-word ids with the grid position of each patch instead.
    ``partial_fit`` learns from batches of images, for collections larger than
    memory.

    Parameters
    ----------
    n_words : int, default=1024
        Size of the codebook (number of visual words).
    patch_size : int, default=12
        Side of the square patches, in pixels (after resizing).
    step : int, default=4
        Stride of the patch grid, in pixels.
    image_size : int or None, default=None
        Resize images to ``(image_size, image_size)`` first: block means when
        the sides are multiples of it, else nearest pixel. None keeps the
        size; images of any size are accepted by ``transform``.
    grayscale : bool, default=False
        Convert RGB(A) images to luma first; otherwise patches keep every
        channel.
    descriptor : {"raw", "hog", "hog+color", "hog+opponent"}, default="hog+color"
        Patch description: contrast-normalised pixels, histograms of gradient
        orientations, or those histograms plus the mean colour of each cell,
        in RGB or opponent colours (see :func:`extract_patches`).
    normalize : bool, default=True
        Per-patch normalisation of the descriptors (see
        :func:`extract_patches`).
    whiten : bool, default=True
        Scale the PCA components to (about) unit variance before clustering:
        component ``j`` is divided by ``sqrt(var_j + 0.1 * v)``, ``v`` being the
        mean variance per descriptor dimension (regularised, so directions of
        almost no variance are not blown up).
    n_pca : int or None, default=None
        Number of PCA components kept (at most the descriptor size). None
        keeps them all (a rotation, plus whitening if ``whiten``); with None
        and ``whiten=False`` no PCA is done.
    pyramid : bool, default=False
        Add a 2 × 2 spatial pyramid: ``transform`` then returns the whole-image
        encoding followed by one encoding per image quadrant.
    encoding : {"bow", "soft", "vlad", "fisher"}, default="bow"
        What ``transform`` returns per image (see :mod:`cooc.encodings`):
        "bow" counts the nearest codeword of every patch; "soft" spreads each
        patch over its ``n_nearest`` codewords (Gaussian kernel weights that
        sum to 1, so rows still sum to the number of patches); "vlad" sums the
        residuals ``z - c_j`` per nearest codeword (``n_words * d`` columns,
        ``d`` the PCA dimension), intra-normalised; "fisher" learns a
        diagonal Gaussian mixture of ``n_words`` components (EM started from
        the codebook) and returns the gradients of the log-likelihood with
        respect to its means and variances (``2 * n_words * d`` columns).
        "bow" and "soft" give sparse counts; "vlad" and "fisher" a dense
        float32 array, signed-square-rooted and L2-normalised (per pyramid
        block, each block then divided by ``sqrt(5)``). :meth:`encode` always
        gives the nearest codeword.
    n_nearest : int, default=5
        Codewords per patch with ``encoding="soft"``.
    temperature : float, default=1.0
        Kernel width of ``encoding="soft"``: weights are
        ``exp(-d_j^2 / (temperature * m))``, ``m`` the mean squared distance of
        a training patch to its nearest codeword. Smaller is harder.
    scales : tuple of int, default=(1,)
        Image scales of the patches, 1 first: ``(1, 2)`` also cuts patches
        (same size and step) from every image shrunk by 2 (block means), so
        they cover twice the side. The codebook learns from the patches of
        every scale, and ``transform`` pools them into one row per image
        (pyramid quadrants by patch centre at each scale). :meth:`encode`
        gives the patches of scale 1 only.
    batch_size : int, default=4096
        Mini-batch size of ``MiniBatchKMeans``.
    max_patches : int or None, default=200_000
        Learn the PCA and codebook from at most this many patches, sampled at
        random from all images (per call of ``partial_fit``). None uses all.
    random_state : int, RandomState instance or None, default=None
        Seed of the patch sampling, the PCA and ``MiniBatchKMeans``; an int
        gives the same codebook every time.

    Attributes
    ----------
    codebook_ : ndarray of shape (n_words_, n_components), float32
        The visual words (k-means centres) in the PCA space (the descriptor
        space when there is no PCA).
    pca_ : PCA, IncrementalPCA or None
        The fitted PCA (``IncrementalPCA`` when learnt by ``partial_fit``),
        without whitening; None when ``whiten=False`` and ``n_pca=None``.
    kmeans_ : MiniBatchKMeans
        The fitted clusterer; ``codebook_`` is its ``cluster_centers_``.
    n_words_ : int
        Number of visual words.
    n_channels_ : int
        Channels of the patches (1 with ``grayscale``); ``transform`` expects
        the same.
    n_patches_seen_ : int
        Patches used to learn the codebook so far.
    soft_scale_ : float
        With ``encoding="soft"``: ``temperature * m`` (see ``temperature``).
    gmm_ : GaussianMixture or None
        With ``encoding="fisher"``: the diagonal mixture; None otherwise.

    See Also
    --------
    extract_patches : The descriptors.
    sklearn.cluster.MiniBatchKMeans : The clusterer.
    sklearn.feature_extraction.text.TfidfTransformer : Weight the counts.

    Notes
    -----
    Feature names (:meth:`get_feature_names_out`): ``vw0 .. vw{n_words-1}``
    for the whole image, then with ``pyramid`` ``vw{j}_q1 .. vw{j}_q4`` for the
    quadrants in reading order (q1 top-left, q2 top-right, q3 bottom-left, q4
    bottom-right); a patch belongs to the quadrant holding its centre (centres
    on the middle line go down/right). Column ``j + k * n_words`` is word ``j``
    of block ``k`` (0 = whole image).

    Nearest codewords are found by ``MiniBatchKMeans.predict`` (float32 GEMMs
    ``||c_j||^2 - 2 z . c_j`` and the argmin in chunked, threaded C; faster
    than the same in numpy) on chunks of about 16 MB of descriptors:
    O(n_patches × n_words × n_components) time, memory bounded by the chunk.

    Identical descriptors (every flat patch of one colour gives the same one)
    are clustered as one sample weighted by its count, and ``MiniBatchKMeans``
    runs without reassigning small clusters to random patches
    (``reassignment_ratio=0``): both keep the codebook from spending several
    words on copies of one point.

    In ``partial_fit`` the PCA is updated with every batch; the codewords
    learnt so far are carried into the new PCA space (through the descriptor
    space) before the k-means update. After ``fit`` (a plain PCA),
    ``partial_fit`` keeps the PCA and updates only the codebook.

    References
    ----------
    .. [1] J. Sivic and A. Zisserman, "Video Google: a text retrieval approach
       to object matching in videos", ICCV 2003.
    .. [2] A. Coates, H. Lee and A. Y. Ng, "An analysis of single-layer
       networks in unsupervised feature learning", AISTATS 2011.
    .. [3] S. Lazebnik, C. Schmid and J. Ponce, "Beyond bags of features:
       spatial pyramid matching", CVPR 2006.

    Examples
    --------
    >>> from cooc.datasets import load_emoji
    >>> from cooc.vision import VisualWords
    >>> images, frame = load_emoji()
    >>> vw = VisualWords(16, random_state=0).fit(images[:40])
    >>> counts = vw.transform(images[:3])  # 64x64 images: 14 x 14 patches each
    >>> counts.shape, counts.sum(axis=1).A.ravel().tolist()
    ((3, 16), [196.0, 196.0, 196.0])
    >>> vw.get_feature_names_out()[:3].tolist()
    ['vw0', 'vw1', 'vw2']
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_words": [Interval(Integral, 2, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "image_size": [Interval(Integral, 1, None, closed="left"), None],
        "grayscale": ["boolean"],
        "descriptor": [StrOptions(set(DESCRIPTORS))],
        "normalize": ["boolean"],
        "whiten": ["boolean"],
        "n_pca": [Interval(Integral, 1, None, closed="left"), None],
        "pyramid": ["boolean"],
        "encoding": [StrOptions(set(ENCODINGS))],
        "n_nearest": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "scales": [tuple, list],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_patches": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_words=1024,
        *,
        patch_size=12,
        step=4,
        image_size=None,
        grayscale=False,
        descriptor="hog+color",
        normalize=True,
        whiten=True,
        n_pca=None,
        pyramid=False,
        encoding="bow",
        n_nearest=5,
        temperature=1.0,
        scales=(1,),
        batch_size=4096,
        max_patches=200_000,
        random_state=None,
    ):
        self.n_words = n_words
        self.patch_size = patch_size
        self.step = step
        self.image_size = image_size
        self.grayscale = grayscale
        self.descriptor = descriptor
        self.normalize = normalize
        self.whiten = whiten
        self.n_pca = n_pca
        self.pyramid = pyramid
        self.encoding = encoding
        self.n_nearest = n_nearest
        self.temperature = temperature
        self.scales = scales
        self.batch_size = batch_size
        self.max_patches = max_patches
        self.random_state = random_state

    # -- helpers ----------------------------------------------------------------------
    def _images(self, X):
        return _prepare(
            X,
            image_size=self.image_size,
            grayscale=self.grayscale,
            patch_size=self.patch_size,
        )

    def _descriptors(self, images):
        return _iter_descriptors(
            images, self.patch_size, self.step, self.normalize, self.descriptor
        )

    def _scales(self):
        """``scales`` as a tuple of ints (checked: distinct, >= 1, 1 first)."""
        scales = self.scales
        try:
            scales = tuple(scales)
            ok = (
                len(scales) >= 1
                and all(isinstance(v, Integral) and v >= 1 for v in scales)
                and scales[0] == 1
                and len(set(scales)) == len(scales)
            )
        except TypeError:
            ok = False
        if not ok:
            raise InputError(
                f"scales={self.scales!r} must be distinct ints >= 1 starting with 1, "
                "e.g. (1, 2)."
            )
        return tuple(int(v) for v in scales)

    def _pyramid_of_scales(self, images):
        """The images at every scale of ``scales`` (shrunk by block means)."""
        _, H, W, _ = images.shape
        out = []
        for scale in self._scales():
            h, w = H // scale, W // scale
            if min(h, w) < self.patch_size:
                raise InputError(
                    f"images of {H}x{W} pixels shrunk by scales={scale} are smaller "
                    f"than patch_size={self.patch_size}; drop that scale or use "
                    "larger images."
                )
            out.append(images if scale == 1 else _resize(images, (h, w)))
        return out

    def _sample(self, images, rng):
        """Descriptors of at most ``max_patches`` random patches (all if None),
        drawn from the patches of every scale."""
        layers = self._pyramid_of_scales(images)
        grids = [
            _grid_shape(im.shape[1], im.shape[2], self.patch_size, self.step)
            for im in layers
        ]
        total = sum(len(images) * gh * gw for gh, gw in grids)
        keep = None
        if self.max_patches is not None and total > self.max_patches:
            keep = np.sort(rng.choice(total, self.max_patches, replace=False))
        parts = []
        base = 0
        for im, (gh, gw) in zip(layers, grids, strict=True):
            for start, desc in self._descriptors(im):
                if keep is None:
                    parts.append(desc)
                    continue
                lo = base + start * gh * gw
                hi = lo + desc.shape[0]
                sel = keep[np.searchsorted(keep, lo) : np.searchsorted(keep, hi)]
                parts.append(desc[sel - lo])
            base += len(images) * gh * gw
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _n_components(self, n_features):
        if self.n_pca is not None and self.n_pca > n_features:
            raise InputError(
                f"n_pca={self.n_pca!r} must be <= the descriptor size {n_features} "
                f"(patch_size={self.patch_size}, descriptor={self.descriptor!r}); "
                "lower n_pca or use None to keep every component."
            )
        return n_features if self.n_pca is None else self.n_pca

    def _uses_pca(self):
        return self.whiten or self.n_pca is not None

    def _check_enough(self, n_samples):
        if n_samples < self.n_words:
            raise InputError(
                f"only {n_samples} distinct patches to learn n_words={self.n_words} "
                "visual words from; lower n_words, or pass more or larger images, a "
                "smaller step or a larger max_patches."
            )

    def _kmeans(self, seed):
        return MiniBatchKMeans(
            n_clusters=self.n_words,
            batch_size=self.batch_size,
            random_state=seed,
            n_init="auto",
            # no reassignment of small clusters to random patches: with many
            # repeated patches it parks several words on one point
            reassignment_ratio=0.0,
        )

    def _check_channels(self, images):
        if images.shape[3] != self.n_channels_:
            raise InputError(
                f"images have {images.shape[3]} channel(s) but VisualWords was "
                f"fitted on {self.n_channels_}; pass images like the training ones "
                "(or fit with grayscale=True)."
            )

    # -- fitting ----------------------------------------------------------------------
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the PCA and the visual-word codebook from images.

        Parameters
        ----------
        X : array-like of shape (n_images, height, width[, n_channels])
            Training images (see :func:`check_images`).
        y : None
            Ignored.

        Returns
        -------
        self : VisualWords
            The fitted estimator.
        """
        images = self._images(X)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        desc = self._sample(images, rng)
        n_patches = desc.shape[0]
        k = self._n_components(desc.shape[1])
        if k > n_patches:
            if self.n_pca is not None:
                raise InputError(
                    f"n_pca={self.n_pca!r} needs at least that many patches, but the "
                    f"images give {n_patches}; lower n_pca or pass more images."
                )
            k = n_patches  # a full rotation needs no more components than samples
        unique, weights = _unique_rows(desc)
        self._check_enough(unique.shape[0])
        pca = None
        if self._uses_pca():
            pca = PCA(n_components=k, random_state=seed).fit(desc)
        projection = pca_projection(pca, self.whiten)
        Z = project(unique, projection)
        kmeans = self._kmeans(seed).fit(Z, sample_weight=weights)
        self.pca_ = pca
        self.kmeans_ = kmeans
        self.codebook_ = kmeans.cluster_centers_.astype(np.float32, copy=False)
        self.n_words_ = int(self.codebook_.shape[0])
        self.n_channels_ = int(images.shape[3])
        self.n_patches_seen_ = int(n_patches)
        self._rng = rng
        self._fit_encoding(desc, projection, seed)
        return self

    def _fit_encoding(self, desc, projection, seed):
        """The soft-assignment scale or the Gaussian mixture, from the sampled
        descriptors ``desc`` (all patches, repeats included)."""
        self.gmm_ = None
        if self.encoding not in ("soft", "fisher"):
            return
        limit = _SOFT_SAMPLE if self.encoding == "soft" else _GMM_SAMPLE
        rows = np.random.RandomState(seed).permutation(desc.shape[0])[:limit]
        Z = project(desc[np.sort(rows)], projection)
        if self.encoding == "soft":
            nearest = squared_distances(Z, self.codebook_).min(axis=1)
            mean = float(nearest.mean())
            self.soft_scale_ = self.temperature * (mean if mean > 0 else 1.0)
            return
        floor = _GMM_REG * float(np.mean(Z.var(axis=0))) + 1e-12
        gmm = GaussianMixture(
            self.n_words_,
            covariance_type="diag",
            max_iter=_GMM_MAX_ITER,
            reg_covar=floor,
            means_init=self.codebook_.astype(np.float64),
            random_state=seed,
        )
        with warnings.catch_warnings():
            # EM starts at the k-means codebook; a capped run is good enough
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gmm_ = gmm.fit(Z.astype(np.float64))

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the PCA and the codebook with one batch of images.

        The first call initialises the codebook (k-means++ on the batch), so
        it needs at least ``n_words`` patches. Later batches must have the
        same number of channels.

        Parameters
        ----------
        X : array-like of shape (n_images, height, width[, n_channels])
            A batch of training images (see :func:`check_images`).
        y : None
            Ignored.

        Returns
        -------
        self : VisualWords
            The updated estimator.
        """
        if self.encoding == "fisher":
            raise InputError(
                "partial_fit does not learn the Gaussian mixture of "
                "encoding='fisher'; use fit, or another encoding."
            )
        images = self._images(X)
        first = not hasattr(self, "kmeans_")
        if first:
            rng = check_random_state(self.random_state)
        else:
            self._check_channels(images)
            rng = self._rng
        desc = self._sample(images, rng)
        unique, weights = _unique_rows(desc)
        if first:
            # nothing is stored before these checks pass
            self._check_enough(unique.shape[0])
            k = self._n_components(desc.shape[1])
            if self._uses_pca() and desc.shape[0] < k:
                raise InputError(
                    f"the first partial_fit batch has {desc.shape[0]} patches, "
                    f"fewer than the {k} PCA components; pass more images."
                )
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self._rng = rng
            self.n_channels_ = int(images.shape[3])
            self.n_patches_seen_ = 0
            self.pca_ = None
            if self._uses_pca():
                self.pca_ = IncrementalPCA(n_components=k).partial_fit(desc)
            self.kmeans_ = self._kmeans(seed)
        elif isinstance(self.pca_, IncrementalPCA) and desc.shape[0] >= len(
            self.pca_.components_
        ):
            old = pca_projection(self.pca_, self.whiten)
            self.pca_.partial_fit(desc)
            self.kmeans_.cluster_centers_ = _reproject_centers(
                self.kmeans_.cluster_centers_,
                old,
                pca_projection(self.pca_, self.whiten),
            )
        n_patches = desc.shape[0]
        del desc
        Z = project(unique, pca_projection(self.pca_, self.whiten))
        order = rng.permutation(Z.shape[0])
        # the first mini-batch initialises the centres: give it at least n_words
        first_size = max(self.batch_size, self.n_words) if first else self.batch_size
        bounds = [0, *range(first_size, Z.shape[0], self.batch_size), Z.shape[0]]
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                batch = order[lo:hi]
                self.kmeans_.partial_fit(Z[batch], sample_weight=weights[batch])
        self.codebook_ = self.kmeans_.cluster_centers_.astype(np.float32, copy=False)
        self.n_words_ = int(self.codebook_.shape[0])
        self.n_patches_seen_ += int(n_patches)
        if self.encoding == "soft":  # the scale follows the latest codebook
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self._fit_encoding(Z, None, seed)
        return self

    # -- encoding ---------------------------------------------------------------------
    def _encode(self, X):
        """(codes, offsets, positions, (height, width)) of the prepared images."""
        check_is_fitted(self)
        images = self._images(X)
        self._check_channels(images)
        n, H, W, _ = images.shape
        gh, gw = _grid_shape(H, W, self.patch_size, self.step)
        projection = pca_projection(self.pca_, self.whiten)
        codes = np.empty(n * gh * gw, dtype=np.int32)
        for start, desc in self._descriptors(images):
            lo = start * gh * gw
            Z = project(desc, projection)
            # measured faster than a numpy GEMM + argmin (benchmarks/bench_vision.py)
            codes[lo : lo + Z.shape[0]] = self.kmeans_.predict(Z)
        offsets = np.arange(n + 1, dtype=np.int64) * (gh * gw)
        return codes, offsets, _grid_positions(n, gh, gw), (H, W)

    def encode(self, X):
        """Visual-word id of every patch, image after image.

        Parameters
        ----------
        X : array-like of shape (n_images, height, width[, n_channels])
            Images (see :func:`check_images`).

        Returns
        -------
        codes : ndarray of shape (n_patches_total,), int32
            Visual-word ids in ``[0, n_words_)``, each image's patches in
            row-major grid order (a "document" of visual words).
        offsets : ndarray of shape (n_images + 1,), int64
            Image ``i`` is ``codes[offsets[i]:offsets[i + 1]]``.
        positions : ndarray of shape (n_patches_total, 2), int32
            ``(row, col)`` of each patch on the patch grid.
        """
        codes, offsets, positions, _ = self._encode(X)
        return codes, offsets, positions

    def transform(self, X):
        """Count the visual words of each image.

        Parameters
        ----------
        X : array-like of shape (n_images, height, width[, n_channels])
            Images (see :func:`check_images`).

        Returns
        -------
        counts : csr_matrix or ndarray of shape (n_images, n_features_out)
            With ``encoding="vlad"`` or ``"fisher"``: a dense float32 array
            (see ``encoding``). Otherwise float32 (soft) counts;
            ``n_features_out`` is ``n_words_``, or
            ``5 * n_words_`` with ``pyramid`` (whole image, then quadrants
            q1..q4). Each row of the whole-image block sums to the number of
            patches per image. Under ``set_output(transform="pandas")``: a
            DataFrame of pandas sparse columns ``vw0..``.
        """
        if self.encoding != "bow" or len(self._scales()) > 1:
            return self._transform_encoded(X)
        codes, offsets, positions, (H, W) = self._encode(X)
        n_images = offsets.size - 1
        per_image = int(offsets[1] - offsets[0])
        k = self.n_words_
        n_cols = k * (5 if self.pyramid else 1)
        cols = codes.reshape(n_images, per_image).astype(np.int64)
        if self.pyramid:
            cell = 1 + self._quadrants(positions[:per_image], H, W)
            cols = np.concatenate([cols, cols + k * cell], axis=1)
        chunk = max(1, (1 << 22) // n_cols)
        blocks = []
        for start in range(0, n_images, chunk):
            block = cols[start : start + chunk]
            keys = block + n_cols * np.arange(block.shape[0])[:, None]
            dense = np.bincount(keys.ravel(), minlength=block.shape[0] * n_cols)
            blocks.append(
                sp.csr_matrix(dense.reshape(block.shape[0], n_cols).astype(np.float32))
            )
        counts = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
        return sparse_output(self, counts)

    def _quadrants(self, positions, H, W):
        """Pyramid quadrant (0..3, reading order) of patches at grid ``positions``:
        the one holding the patch centre, centres on a middle line going
        down/right."""
        down = 2 * positions[:, 0] * self.step + self.patch_size >= H
        right = 2 * positions[:, 1] * self.step + self.patch_size >= W
        return 2 * down.astype(np.int64) + right

    def _assign(self, Z):
        """What the encoding needs of every patch: soft weights, nearest word
        or mixture posteriors."""
        if self.encoding == "bow":
            return self.kmeans_.predict(Z), np.ones(Z.shape[0])
        if self.encoding == "soft":
            return soft_assign(
                Z, self.codebook_, n_nearest=self.n_nearest, scale=self.soft_scale_
            )
        if self.encoding == "vlad":
            return self.kmeans_.predict(Z)
        return gmm_posteriors(
            Z, self.gmm_.weights_, self.gmm_.means_, self.gmm_.covariances_
        )

    def _aggregate(self, Z, assigned, segments, n_segments):
        if self.encoding in ("bow", "soft"):
            index, weight = assigned
            return bag(index, weight, segments, n_segments, self.n_words_)
        if self.encoding == "vlad":
            return vlad(Z, self.codebook_, segments, n_segments, nearest=assigned)
        gmm = self.gmm_
        return fisher_vectors(
            Z,
            gmm.weights_,
            gmm.means_,
            gmm.covariances_,
            segments,
            n_segments,
            post=assigned,
        )

    def _transform_encoded(self, X):
        """transform for the soft, vlad and fisher encodings, and for several
        scales: the patches of every scale of an image pool into its row."""
        check_is_fitted(self)
        images = self._images(X)
        self._check_channels(images)
        n = images.shape[0]
        projection = pca_projection(self.pca_, self.whiten)
        layers = self._pyramid_of_scales(images)
        grids, cells = [], []
        for im in layers:
            H, W = im.shape[1:3]
            gh, gw = _grid_shape(H, W, self.patch_size, self.step)
            grids.append(gh * gw)
            cells.append(self._quadrants(_grid_positions(1, gh, gw), H, W))
        per_image = sum(grids)
        # images per slice: the (patches, n_words) distances or posteriors of
        # one slice stay near 32 MB
        step = max(1, (1 << 22) // (self.n_words_ * per_image))
        rows = []
        for lo in range(0, n, step):
            m = min(step, n - lo)
            Zs, image, cell = [], [], []
            for im, size, grid_cell in zip(layers, grids, cells, strict=True):
                for _, desc in self._descriptors(im[lo : lo + m]):
                    Zs.append(project(desc, projection))
                image.append(np.repeat(np.arange(m), size))
                cell.append(np.tile(grid_cell, m))
            Z = Zs[0] if len(Zs) == 1 else np.concatenate(Zs)
            image = np.concatenate(image)
            assigned = self._assign(Z)
            blocks = [self._aggregate(Z, assigned, image, m)]
            if self.pyramid:
                quads = self._aggregate(
                    Z, assigned, 4 * image + np.concatenate(cell), 4 * m
                )
                blocks.append(quads.reshape(m, -1))
            if self.encoding in ("bow", "soft"):
                rows.append(sp.hstack(blocks, format="csr"))
            else:
                rows.append(np.hstack(blocks))
        if self.encoding in ("bow", "soft"):
            out = rows[0] if len(rows) == 1 else sp.vstack(rows, format="csr")
            return sparse_output(self, out.astype(np.float32))
        out = rows[0] if len(rows) == 1 else np.vstack(rows)
        return power_l2(out, _POWER, n_blocks=5 if self.pyramid else 1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``vw0..``, then ``vw0_q1..`` with ``pyramid``.

        Parameters
        ----------
        input_features : None
            Ignored (images have no feature names).

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``n_words_`` names, or ``5 * n_words_`` with ``pyramid``. With
            ``encoding="vlad"``: ``vlad{j}_{c}`` (word ``j``, PCA component
            ``c``); with "fisher": ``fv_mean{j}_{c}`` then ``fv_var{j}_{c}``;
            quadrant blocks add ``_q1..`` as for the counts.
        """
        check_is_fitted(self)
        words = [f"vw{j}" for j in range(self.n_words_)]
        if self.encoding in ("vlad", "fisher"):
            dims = range(self.codebook_.shape[1])
            words = [f"vlad{j}_{c}" for j in range(self.n_words_) for c in dims]
            if self.encoding == "fisher":
                words = [
                    f"fv_{part}{j}_{c}"
                    for part in ("mean", "var")
                    for j in range(self.n_words_)
                    for c in dims
                ]
        names = list(words)
        if self.pyramid:
            names += [f"{w}_{cell}" for cell in _PYRAMID_CELLS for w in words]
        return np.asarray(names, dtype=object)

    def __setstate__(self, state):
        # models saved before the encodings counted hard-assigned words
        state = dict(state)
        defaults = {"encoding": "bow", "n_nearest": 5, "temperature": 1.0}
        for name, value in (*defaults.items(), ("scales", (1,))):
            state.setdefault(name, value)
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags
