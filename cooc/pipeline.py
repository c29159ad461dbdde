"""The text path in one call each: files → :class:`CoocMatrix` → :class:`Embeddings`.

These functions glue the concern modules together for the CLI, the demo and
notebooks; each step is also available on its own (``build_cooccurrence``,
``ppmi``, ``svd_embed``).
"""

from __future__ import annotations

import numpy as np

from cooc.distributed import embed_cooccurrence_dask  # (Dask itself: inside it)
from cooc.errors import InputError, InputTypeError
from cooc.matrix import CoocMatrix
from cooc.subwords import fit_subwords

# The rank and power defaults and the rank check live beside the solver
# (cooc.svd), which the streamed and Dask embeddings use too; re-exported here.
from cooc.svd import (
    DEFAULT_POWER,
    DEFAULT_RANK,
    check_rank,
    default_rank,
    spmm,
    svd_embed,
)
from cooc.vectors import Embeddings

# (weight_cooccurrence lives with the weightings; re-exported here)
from cooc.weighting import (
    WEIGHTING_SCHEMES,
    PPMITransformer,
    check_ppmi_params,
    weight_cooccurrence,
)

__all__ = [
    "DEFAULT_POWER",
    "DEFAULT_RANK",
    "DEFAULT_RARE_WORDS",
    "WEIGHTING_SCHEMES",
    "check_rank",
    "default_rank",
    "embed_cooccurrence",
    "fold_in_words",
    "weight_cooccurrence",
]

#: How many words below the vocabulary's cut-off ``cooc embed CORPUS
#: --subwords`` gives a vector from their counts (the most frequent ones).
DEFAULT_RARE_WORDS = 100_000
# The fold-in's weight of a rare word's subword estimate beside its context
# estimate, and the power of the singular values dividing the word vectors:
# the best all-pairs MEN and WS353 rho of a 1M-token slice of the shared corpus
# (weights 0, 0.5, 1; powers 0, -0.5, -1; benchmarks/README.md, subwords).
RARE_SUBWORD_WEIGHT = 0.5
_FOLD_POWER = -0.5


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
    subwords=False,
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

    ``subwords`` True (or a dict of :func:`cooc.subwords.fit_subwords`
    options, such as ``{"min_n": 3, "max_n": 5}``) fits a subword model to
    the vectors afterwards, so that ``emb["unseen"]`` answers with an
    estimate from the word's character n-grams; the vectors stay the same.
    """
    options = _subword_options(subwords)
    if client is not None:
        emb, singular_values = embed_cooccurrence_dask(
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
        if options is not None:
            emb = fit_subwords(emb, **options)
        return emb, singular_values
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
    if options is not None:
        if progress is not None:
            progress("subwords", 0)
        emb = fit_subwords(emb, **options)
    return emb, singular_values


def _subword_options(subwords):
    """The fit_subwords options ``subwords`` asks for, None for none."""
    if subwords is False or subwords is None:
        return None
    if subwords is True:
        return {}
    if isinstance(subwords, dict):
        return dict(subwords)
    raise InputTypeError(
        f"subwords={subwords!r} must be True, False or a dict of fit_subwords options."
    )


def fold_in_words(
    emb: Embeddings,
    counts: CoocMatrix,
    singular_values=None,
    *,
    max_words: int | None = DEFAULT_RARE_WORDS,
    subword_weight: float = RARE_SUBWORD_WEIGHT,
    context_alpha: float = 0.75,
    shift: float = 1.0,
) -> Embeddings:
    """Give words outside the vocabulary vectors from their co-occurrence counts.

    A word seen too rarely to be in the vocabulary (below ``min_count``) still
    has a row of counts with the vocabulary's words. Its PPMI row ``a``
    (weighted with ``counts``' own marginals) is projected on the word vectors
    ``W`` as an SVD folds in a new row: ``a W diag(s)^-1/2``, then scaled to
    unit length, added to ``subword_weight`` times its unit subword estimate
    and scaled again. The vocabulary's vectors do not change; the rare words
    are stored in the subword model (``emb.subwords.rare_tokens``), answered
    by ``emb[word]`` and marked by ``emb.is_estimated(word)``.

    Parameters
    ----------
    emb : Embeddings
        Vectors with a subword model (:func:`cooc.subwords.fit_subwords`).
    counts : CoocMatrix
        A symmetric matrix of the same corpus over a larger vocabulary
        (counted with ``min_count=1`` say); its words that ``emb`` lacks are
        folded in (the ``max_words`` most frequent of them) and its words that
        ``emb`` has are the contexts.
    singular_values : array of shape (dim,), optional
        The SVD's; None uses ``emb.singular_values`` (or none: all ones).
    max_words : int or None, default=100000
        At most this many rare words (None: all).
    subword_weight : float, default=0.5
        The subword estimate's weight beside the context estimate (0: none).

    Returns
    -------
    Embeddings
        The same tokens and vectors, with the rare words added to the model.
    """
    if getattr(emb, "subwords", None) is None:
        raise InputError(
            "fold_in_words needs vectors with a subword model; fit one first "
            "(cooc.subwords.fit_subwords)."
        )
    if not isinstance(counts, CoocMatrix):
        raise InputTypeError(
            f"counts must be a CoocMatrix, got {type(counts).__name__}."
        )
    if counts.shape[0] != counts.shape[1]:
        raise InputError("counts must be a symmetric (words x words) matrix.")
    if max_words is not None and (
        isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 0
    ):
        raise InputError(f"max_words={max_words!r} must be an integer >= 0 or None.")
    if not np.isfinite(subword_weight) or subword_weight < 0:
        raise InputError(f"subword_weight={subword_weight!r} must be a number >= 0.")
    check_ppmi_params(context_alpha, shift)
    s = emb.singular_values if singular_values is None else singular_values
    scale = np.ones(emb.dim) if s is None else np.asarray(s, dtype=np.float64)
    if scale.shape != (emb.dim,) or not (scale > 0).all():
        raise InputError(
            f"singular_values must be {emb.dim} positive numbers, got shape "
            f"{scale.shape}."
        )
    tokens = list(counts.vocabulary.tokens)
    known = np.array([t in emb for t in tokens], dtype=bool)
    rare = np.flatnonzero(~known)
    word_counts = np.asarray(counts.vocabulary.counts)
    order = np.argsort(-word_counts[rare], kind="stable")
    rare = rare[order][: max_words if max_words is not None else len(rare)]
    if not len(rare):
        return emb.with_subwords(emb.subwords.with_rare_words([], None))
    contexts = np.flatnonzero(known)
    rows = [emb.index(tokens[j]) for j in contexts]
    # PPMI of the rare rows alone, against the whole matrix's contexts (the
    # same values as weighting it all, without a second matrix in memory)
    weigh = PPMITransformer(context_alpha, shift=shift).fit(counts.matrix)
    a = weigh.transform(counts.matrix[rare])[:, contexts].tocsr()
    basis = np.asarray(emb.vectors, dtype=np.float32)[rows] * (
        scale**_FOLD_POWER
    ).astype(np.float32)
    folded = _unit(spmm(a.astype(np.float32), basis))
    words = [tokens[i] for i in rare]
    if subword_weight:
        folded += np.float32(subword_weight) * _unit(emb.subwords.estimate(words))
        folded = _unit(folded)
    keep = np.flatnonzero(np.any(folded != 0, axis=1))
    model = emb.subwords.with_rare_words([words[i] for i in keep], folded[keep])
    return emb.with_subwords(model)


def _unit(x):
    """Rows of float32 ``x`` scaled to unit length, in place (zero rows stay)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    x /= np.where(norms > 0, norms, 1).astype(np.float32)[:, None]
    return x
