"""Encodings of local descriptors: soft bags, VLAD, Fisher vectors, normalisations.

Every function takes descriptors ``Z`` (one row per patch, already in the
space of the codebook) and a ``segments`` array saying which output row each
patch adds to (an image, or one spatial-pyramid cell of an image), so whole
images and pyramid cells are encoded by the same code. Outputs are float32;
statistics are summed in float64.

Only numpy and scipy: :class:`cooc.vision.VisualWords` fits the codebook
(k-means) or the mixture (``sklearn.mixture.GaussianMixture``) and calls these.

References
----------
.. [1] J. C. van Gemert, C. J. Veenman, A. W. M. Smeulders and J.-M. Geusebroek,
   "Visual word ambiguity", PAMI 2010 (kernel codebooks, soft assignment).
.. [2] L. Liu, L. Wang and X. Liu, "In defense of soft-assignment coding",
   ICCV 2011 (soft assignment restricted to the nearest codewords).
.. [3] H. Jégou, M. Douze, C. Schmid and P. Pérez, "Aggregating local
   descriptors into a compact image representation", CVPR 2010 (VLAD);
   R. Arandjelović and A. Zisserman, "All about VLAD", CVPR 2013
   (intra-normalisation).
.. [4] F. Perronnin, J. Sánchez and T. Mensink, "Improving the Fisher kernel
   for large-scale image classification", ECCV 2010 (improved Fisher vectors:
   power and L2 normalisation).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cooc.errors import InputError

__all__ = [
    "bag",
    "fisher_vectors",
    "gmm_posteriors",
    "hellinger_map",
    "nearest_codewords",
    "power_l2",
    "soft_assign",
    "squared_distances",
    "vlad",
]

# Posteriors below this are dropped from the Fisher statistics (they change
# the vector by less than float32 rounding, and keep the sums sparse).
_MIN_POSTERIOR = 1e-4


def _segment_count(segments, n_segments):
    segments = np.asarray(segments, dtype=np.int64).ravel()
    if segments.size and (segments.min() < 0 or segments.max() >= n_segments):
        raise InputError(
            f"segments must lie in [0, n_segments={n_segments}); got values from "
            f"{segments.min()} to {segments.max()}."
        )
    return segments


def squared_distances(Z, centers):
    """``(n, k)`` squared Euclidean distances of the rows of ``Z`` to ``centers``
    (float64, clipped at 0)."""
    Z = np.asarray(Z, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    d2 = (Z * Z).sum(axis=1)[:, None] - 2.0 * (Z @ C.T) + (C * C).sum(axis=1)[None, :]
    return np.maximum(d2, 0.0, out=d2)


def nearest_codewords(Z, centers):
    """Index of the nearest centre of every row of ``Z`` (int64 ``(n,)``)."""
    return squared_distances(Z, centers).argmin(axis=1)


def soft_assign(Z, centers, *, n_nearest=5, scale=1.0):
    """Soft assignment of every descriptor to its ``n_nearest`` codewords.

    The weight of codeword ``j`` among the nearest ones is proportional to
    ``exp(-d_j^2 / scale)`` (a Gaussian kernel codebook restricted to the
    nearest words); every row of weights sums to 1. A small ``scale`` tends
    to hard assignment.

    Returns
    -------
    index : ndarray of shape (n, m), int64
        The ``m = min(n_nearest, k)`` nearest codewords, nearest first.
    weight : ndarray of shape (n, m), float64
        Their weights (rows sum to 1).
    """
    if not scale > 0:
        raise InputError(f"scale={scale!r} must be > 0.")
    d2 = squared_distances(Z, centers)
    m = max(1, min(int(n_nearest), d2.shape[1]))
    if m < d2.shape[1]:
        index = np.argpartition(d2, m - 1, axis=1)[:, :m]
    else:
        index = np.broadcast_to(np.arange(m), d2.shape).copy()
    near = np.take_along_axis(d2, index, axis=1)
    order = np.argsort(near, axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    near = np.take_along_axis(near, order, axis=1)
    # relative to the nearest: exp never underflows to an all-zero row
    weight = np.exp(-(near - near[:, :1]) / scale)
    weight /= weight.sum(axis=1, keepdims=True)
    return index, weight


def bag(index, weight, segments, n_segments, n_words):
    """Histogram ``(n_segments, n_words)`` (CSR, float32) of weighted codewords.

    ``index`` and ``weight`` are ``(n,)`` (hard assignment: pass ones) or
    ``(n, m)`` (soft assignment, :func:`soft_assign`); patch ``t`` adds
    ``weight[t, i]`` to column ``index[t, i]`` of row ``segments[t]``.
    """
    segments = _segment_count(segments, n_segments)
    index = np.asarray(index, dtype=np.int64).reshape(segments.size, -1)
    weight = np.asarray(weight, dtype=np.float64).reshape(index.shape)
    rows = np.repeat(segments, index.shape[1])
    out = sp.csr_matrix(
        (weight.ravel(), (rows, index.ravel())), shape=(n_segments, n_words)
    )
    out.sum_duplicates()
    return out.astype(np.float32)


def vlad(Z, centers, segments, n_segments, *, nearest=None):
    """VLAD of every segment, intra-normalised: ``(n_segments, k * d)`` float32.

    Block ``j`` (columns ``j*d .. j*d + d - 1``) of a row is the sum of
    ``z - c_j`` over the segment's descriptors whose nearest centre is ``c_j``,
    divided by its L2 norm (a block without descriptors stays 0). Apply
    :func:`power_l2` afterwards.

    ``nearest`` (the nearest-centre index of every row, e.g. from k-means'
    ``predict``) is computed when None.
    """
    Z = np.asarray(Z, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    k, d = C.shape
    segments = _segment_count(segments, n_segments)
    if nearest is None:
        nearest = nearest_codewords(Z, C)
    keys = segments * k + np.asarray(nearest, dtype=np.int64)
    onehot = sp.csr_matrix(
        (np.ones(keys.size), (keys, np.arange(keys.size))),
        shape=(n_segments * k, keys.size),
    )
    sums = onehot @ Z  # (n_segments * k, d)
    counts = np.bincount(keys, minlength=n_segments * k).astype(np.float64)
    sums -= counts[:, None] * np.tile(C, (n_segments, 1))
    norms = np.sqrt((sums * sums).sum(axis=1, keepdims=True))
    np.divide(sums, norms, out=sums, where=norms > 0)
    return sums.reshape(n_segments, k * d).astype(np.float32)


def gmm_posteriors(Z, weights, means, variances):
    """Posterior ``(n, k)`` of every component of a diagonal Gaussian mixture."""
    Z = np.asarray(Z, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    var = np.asarray(variances, dtype=np.float64)
    prec = 1.0 / var
    log_det = np.log(var).sum(axis=1)
    # sum_d (z - mu)^2 / var, expanded into products
    maha = (Z * Z) @ prec.T - 2.0 * Z @ (mu * prec).T + (mu * mu * prec).sum(axis=1)
    log_p = np.log(np.asarray(weights, dtype=np.float64)) - 0.5 * (
        log_det + maha + Z.shape[1] * np.log(2.0 * np.pi)
    )
    log_p -= log_p.max(axis=1, keepdims=True)
    post = np.exp(log_p)
    post /= post.sum(axis=1, keepdims=True)
    return post


def fisher_vectors(
    Z,
    weights,
    means,
    variances,
    segments,
    n_segments,
    *,
    post=None,
    min_posterior=_MIN_POSTERIOR,
):
    """Fisher vectors (gradients w.r.t. means and variances) of every segment.

    For a segment of ``N`` descriptors ``x_t``, posteriors ``g_tk`` of the
    diagonal mixture (``weights`` ``w_k``, ``means`` ``mu_k``, ``variances``
    ``s_k^2``)::

        u_k = sum_t g_tk (x_t - mu_k) / s_k                / (N sqrt(w_k))
        v_k = sum_t g_tk ((x_t - mu_k)^2 / s_k^2 - 1)      / (N sqrt(2 w_k))

    Row layout: ``[u_1 .. u_k | v_1 .. v_k]``, ``2 * k * d`` float32 columns;
    a segment without descriptors is all zeros. Apply :func:`power_l2`
    afterwards (the "improved" Fisher vector). ``post`` (the posteriors of
    ``Z``) is computed when None; posteriors below ``min_posterior`` are left
    out of the sums (0 keeps them all).
    """
    Z = np.asarray(Z, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    var = np.asarray(variances, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    k, d = mu.shape
    segments = _segment_count(segments, n_segments)
    if post is None:
        post = gmm_posteriors(Z, w, mu, var)
    t, j = np.nonzero((post >= min_posterior) & (post > 0))
    resp = sp.csr_matrix(
        (post[t, j], (segments[t] * k + j, t)), shape=(n_segments * k, Z.shape[0])
    )
    s0 = np.asarray(resp.sum(axis=1)).reshape(n_segments, k, 1)
    s1 = (resp @ Z).reshape(n_segments, k, d)
    s2 = (resp @ (Z * Z)).reshape(n_segments, k, d)
    n = np.bincount(segments, minlength=n_segments).astype(np.float64)
    n = np.maximum(n, 1.0)[:, None, None]
    sd = np.sqrt(var)
    u = (s1 - mu * s0) / (sd * np.sqrt(w)[:, None]) / n
    v = (s2 - 2.0 * mu * s1 + (mu * mu - var) * s0) / (var * np.sqrt(2.0 * w)[:, None])
    v /= n
    return np.concatenate(
        [u.reshape(n_segments, -1), v.reshape(n_segments, -1)], axis=1
    ).astype(np.float32)


def power_l2(X, alpha=0.5, *, n_blocks=1):
    """Signed power normalisation ``sign(x) |x|^alpha``, then L2 per row.

    With ``n_blocks`` > 1 the columns are cut into that many equal blocks
    (e.g. the cells of a spatial pyramid), each normalised to unit L2 norm and
    divided by ``sqrt(n_blocks)``, so a row with every block non-zero has unit
    norm. Rows (blocks) of zeros stay zero. Returns a new float32 array.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] % n_blocks:
        raise InputError(
            f"power_l2 needs a 2-D array whose {X.shape[-1]} columns split into "
            f"n_blocks={n_blocks} equal blocks."
        )
    out = np.sign(X) * np.abs(X) ** alpha
    blocks = out.reshape(X.shape[0], n_blocks, -1)
    norms = np.sqrt((blocks * blocks).sum(axis=2, keepdims=True))
    np.divide(blocks, norms, out=blocks, where=norms > 0)
    blocks /= np.sqrt(n_blocks)
    return blocks.reshape(X.shape).astype(np.float32)


def hellinger_map(X):
    """Explicit feature map of the Hellinger kernel: ``sqrt(x / sum(x))`` per row.

    For non-negative histograms (bags of visual words): the dot product of two
    mapped rows is the Bhattacharyya coefficient of the histograms, so a
    linear classifier on the map is a Hellinger-kernel classifier. Sparse in,
    sparse (CSR) out; a row of zeros stays zero.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64, copy=True)
        if X.data.size and X.data.min() < 0:
            raise InputError("hellinger_map needs non-negative values (histograms).")
        sums = np.asarray(X.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        X = sp.diags(scale) @ X
        X.data = np.sqrt(X.data)
        return X.tocsr()
    X = np.asarray(X, dtype=np.float64)
    if X.size and X.min() < 0:
        raise InputError("hellinger_map needs non-negative values (histograms).")
    sums = X.sum(axis=1, keepdims=True)
    return np.sqrt(np.divide(X, sums, out=np.zeros_like(X), where=sums > 0))
