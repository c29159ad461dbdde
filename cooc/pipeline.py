"""The text path in one call each: files → :class:`CoocMatrix` → :class:`Embeddings`.

These functions glue the concern modules together for the CLI, the demo and
notebooks; each step is also available on its own (``build_cooccurrence``,
``ppmi``, ``svd_embed``).
"""

from __future__ import annotations

import numpy as np

from cooc.distributed import embed_cooccurrence_dask  # (Dask itself: inside it)
from cooc.matrix import CoocMatrix

# The rank and power defaults and the rank check live beside the solver
# (cooc.svd), which the streamed and Dask embeddings use too; re-exported here.
from cooc.svd import DEFAULT_POWER, DEFAULT_RANK, check_rank, default_rank, svd_embed
from cooc.vectors import Embeddings

# (weight_cooccurrence lives with the weightings; re-exported here)
from cooc.weighting import WEIGHTING_SCHEMES, weight_cooccurrence

__all__ = [
    "DEFAULT_POWER",
    "DEFAULT_RANK",
    "WEIGHTING_SCHEMES",
    "check_rank",
    "default_rank",
    "embed_cooccurrence",
    "weight_cooccurrence",
]


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
    client=None,
) -> tuple[Embeddings, np.ndarray]:
    """Word vectors from a co-occurrence matrix: weighting, then truncated SVD.

    Returns the :class:`~cooc.vectors.Embeddings` (rows in vocabulary order, unit
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
    each step of the randomized solver (``n_iter + 2`` steps). ``n_iter`` and
    ``n_oversamples`` are the randomized solver's (see
    :func:`~cooc.svd.svd_embed`; None: its defaults).

    A word whose weighted row (and column, with w + c) is empty -- it never
    co-occurs with anything, or only below chance under PPMI -- has an all-zero
    vector, which has no direction: with ``drop_empty`` such words are left
    out, and their tokens are in the result's ``dropped`` attribute.

    With a Dask ``client`` (``distributed.Client``), the SVD runs on its
    cluster: :func:`cooc.distributed.embed_cooccurrence_dask`, the same
    vectors up to float rounding (randomized solver only; ``progress`` is
    not called).
    """
    if client is not None:
        return embed_cooccurrence_dask(
            cooc,
            n_components,
            weighting=weighting,
            context_alpha=context_alpha,
            shift=shift,
            power=power,
            solver=solver,
            add_context=add_context,
            normalize=normalize,
            random_state=random_state,
            client=client,
            n_iter=n_iter,
            n_oversamples=n_oversamples,
            drop_empty=drop_empty,
        )
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
