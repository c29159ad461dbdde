"""The text path in one call each: files → :class:`CoocMatrix` → :class:`Embeddings`.

These functions glue the concern modules together for the CLI, the demo and
notebooks; each step is also available on its own (``build_cooccurrence``,
``ppmi``, ``svd_embed``).
"""

from __future__ import annotations

import numpy as np

from cooc.cooccurrence import CoocMatrix
from cooc.svd import Embeddings, svd_embed
from cooc.weighting import log_counts, ppmi

__all__ = ["WEIGHTING_SCHEMES", "embed_cooccurrence", "weight_cooccurrence"]

WEIGHTING_SCHEMES = ("ppmi", "log", "none")


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
    n_components: int = 128,
    *,
    weighting: str = "ppmi",
    context_alpha: float = 0.75,
    shift: float = 1.0,
    power: float = 0.5,
    solver: str = "randomized",
    add_context: bool | None = None,
    normalize: bool = True,
    random_state=0,
) -> tuple[Embeddings, np.ndarray]:
    """Word vectors from a co-occurrence matrix: weighting, then truncated SVD.

    Returns the :class:`~cooc.svd.Embeddings` (rows in vocabulary order, unit
    length when ``normalize``) and the singular values. ``add_context`` (w + c)
    needs a symmetric matrix; None means on for symmetric matrices.

    The defaults (PPMI with α 0.75, eigenvalue power 0.5, w + c) were the best
    general setting on the 10.5M-token development corpus (see
    ``benchmarks/README.md``).
    """
    n_words = len(cooc.vocabulary)
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(
            f"n_components={n_components!r} must be a positive int (--rank)."
        )
    if n_components >= min(cooc.shape):
        raise ValueError(
            f"n_components={n_components} must be < the matrix size {min(cooc.shape)} "
            f"(vocabulary of {n_words} words); lower --rank or min_count."
        )
    if add_context is None:
        add_context = cooc.shape[0] == cooc.shape[1]
    weighted = weight_cooccurrence(
        cooc, weighting=weighting, context_alpha=context_alpha, shift=shift
    )
    vectors, singular_values = svd_embed(
        weighted,
        n_components,
        power=power,
        solver=solver,
        add_context=add_context,
        random_state=random_state,
    )
    emb = Embeddings(list(cooc.vocabulary.tokens), vectors)
    if normalize:
        emb = emb.normalized()
    return emb, singular_values
