"""The text path in one call each: files → :class:`CoocMatrix` → :class:`Embeddings`.

These functions glue the concern modules together for the CLI, the demo and
notebooks; each step is also available on its own (``build_cooccurrence``,
``ppmi``, ``svd_embed``).
"""

from __future__ import annotations

import numpy as np

from cooc import svd as _svd
from cooc.cooccurrence import CoocMatrix
from cooc.svd import Embeddings, svd_embed
from cooc.weighting import log_counts, ppmi

__all__ = [
    "DEFAULT_POWER",
    "DEFAULT_RANK",
    "WEIGHTING_SCHEMES",
    "check_rank",
    "default_rank",
    "embed_cooccurrence",
    "weight_cooccurrence",
]

WEIGHTING_SCHEMES = ("ppmi", "log", "none")

# The rank and power defaults and the rank check live beside the solver
# (cooc.svd), which the streamed and Dask embeddings use too; re-exported here.
DEFAULT_POWER = _svd.DEFAULT_POWER
DEFAULT_RANK = _svd.DEFAULT_RANK
check_rank = _svd.check_rank
default_rank = _svd.default_rank


def weight_cooccurrence(
    cooc: CoocMatrix, *, weighting="ppmi", context_alpha=0.75, shift=1.0
):
    """Weighted matrix (float32 CSR) of a co-occurrence matrix."""
    if weighting == "ppmi":
        return ppmi(cooc.matrix, context_alpha=context_alpha, shift=shift)
    if weighting == "log":
        return log_counts(cooc.matrix)
    if weighting == "none":
        return cooc.matrix.astype(np.float32)
    raise ValueError(f"weighting={weighting!r} is not one of {WEIGHTING_SCHEMES}.")


def embed_cooccurrence(
    cooc: CoocMatrix,
    n_components: int | None = None,
    *,
    weighting: str = "ppmi",
    context_alpha: float = 0.75,
    shift: float = 1.0,
    power: float = DEFAULT_POWER,
    solver: str = "randomized",
    add_context: bool | None = None,
    normalize: bool = True,
    random_state=0,
    progress=None,
    n_iter: int | None = None,
    n_oversamples: int | None = None,
    drop_empty: bool = True,
) -> tuple[Embeddings, np.ndarray]:
    """Word vectors from a co-occurrence matrix: weighting, then truncated SVD.

    Returns the :class:`~cooc.svd.Embeddings` (rows in vocabulary order, unit
    length when ``normalize``) and the singular values. ``n_components`` None
    means :func:`default_rank` (500, or one less than the vocabulary size when
    that is smaller). ``add_context`` (w + c) needs a symmetric matrix; None
    means on for symmetric matrices.

    The defaults (PPMI with α 0.75 and no shift, rank 500, eigenvalue power
    0.15, w + c; on counts with 1/d**1.25 weights) were the best general
    setting on the 10.5M-token development corpus (see
    ``benchmarks/README.md`` and ``DEFAULT_RANK``). ``progress(stage, n)``, when
    given, is called with ``n = 0`` as the weighting (``"ppmi"``, ``"log"``,
    ``"none"``) and the SVD (``"svd"``) start, then with ``("svd", 1)`` after
    each step of the randomized solver (``n_iter + 2`` steps). ``n_iter`` and ``n_oversamples`` are the
    randomized solver's (see :func:`~cooc.svd.svd_embed`; None: its defaults).

    A word whose weighted row (and column, with w + c) is empty -- it never
    co-occurs with anything, or only below chance under PPMI -- has an all-zero
    vector, which has no direction: with ``drop_empty`` such words are left
    out, and their tokens are in the result's ``dropped`` attribute.
    """
    n_components = check_rank(n_components, cooc)
    if add_context is None:
        add_context = cooc.shape[0] == cooc.shape[1]
    if progress is not None:
        progress(weighting, 0)
    weighted = weight_cooccurrence(
        cooc, weighting=weighting, context_alpha=context_alpha, shift=shift
    )
    if progress is not None:
        progress("svd", 0)
    vectors, singular_values = svd_embed(
        weighted,
        n_components,
        power=power,
        solver=solver,
        add_context=add_context,
        random_state=random_state,
        n_iter=n_iter,
        n_oversamples=n_oversamples,
        on_step=None if progress is None else (lambda: progress("svd", 1)),
    )
    emb = Embeddings.from_factors(
        cooc.vocabulary.tokens, vectors, normalize=normalize, drop_empty=drop_empty
    )
    return emb, singular_values
