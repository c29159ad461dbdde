"""Phrase (collocation) scores of adjacent word pairs, as word2phrase and gensim.

:func:`score_phrases` counts each ordered pair of adjacent words ``a b`` with
cooc's counter (window 1, directional: row ``a``, column ``R:b`` holds how
often ``b`` comes directly after ``a``) and scores the pairs seen at least
``min_count`` times, with the formulas of gensim's ``Phrases``:

* ``word2phrase`` (gensim ``scoring="default"``, Mikolov et al. 2013):
  ``(count(ab) - min_count) / (count(a) * count(b)) * len_vocab``, where
  ``len_vocab`` is, as in gensim, the number of distinct words plus the
  number of distinct adjacent pairs (gensim keeps both in one dictionary);
* ``npmi`` (gensim ``scoring="npmi"``): ``log(pab / (pa * pb)) / -log(pab)``
  with ``pa = count(a) / N``, ``pb = count(b) / N``, ``pab = count(ab) / N``
  and ``N`` the number of tokens of the corpus;
* ``pmi``: ``log(pab / (pa * pb))``.

A pair is kept when its score is strictly greater than ``threshold`` (as in
gensim). Not yet done: repeated passes (trigrams from bigrams), joining the
phrases in a corpus, gensim's connector words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from cooc.errors import InputError

__all__ = ["DEFAULT_THRESHOLDS", "SCORINGS", "score_phrases"]

SCORINGS = ("word2phrase", "pmi", "npmi")
#: gensim's default for its default scorer; 0.5 is a common choice for npmi.
DEFAULT_THRESHOLDS = {"word2phrase": 10.0, "npmi": 0.5, "pmi": 0.0}
#: keyword arguments passed on to :func:`cooc.cooccurrence.build_cooccurrence`.
READING_OPTIONS = frozenset(
    {"tokenizer", "lowercase", "column", "encoding_errors", "chunk_size",
     "documents", "n_jobs"}
)  # fmt: skip


def _check(scoring, min_count, threshold) -> float:
    if scoring not in SCORINGS:
        raise InputError(f"scoring={scoring!r} is not one of {SCORINGS}.")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)):
        raise InputError(f"min_count must be an integer >= 1; got {min_count!r}.")
    if min_count < 1:
        raise InputError(f"min_count must be >= 1; got {min_count}.")
    if threshold is None:
        return DEFAULT_THRESHOLDS[scoring]
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise InputError(
            f"threshold must be a finite number; got {threshold!r}."
        ) from None
    if not math.isfinite(value):
        raise InputError(f"threshold must be a finite number; got {threshold!r}.")
    return value


def _adjacent_counts(source, progress, reading):
    """The directional window-1 matrix of ``source`` (paths or a CoocMatrix)."""
    from cooc.matrix import CoocMatrix

    if isinstance(source, CoocMatrix):
        if reading:
            raise InputError(
                f"reading options {sorted(reading)} do not apply to a counted matrix."
            )
        cooc = source
        p = cooc.params
        if (
            cooc.symmetric
            or p.get("window_size") != 1
            or p.get("dynamic_window")
            or p.get("subsample")
        ):
            raise InputError(
                "score_phrases needs a directional window-1 matrix without "
                "--dynamic-window or --subsample (cooc build --window 1 --directional)."
            )
        if cooc.stats.get("n_oov", 0) and p.get("oov", "drop") != "gap":
            raise InputError(
                "the matrix dropped out-of-vocabulary words (oov='drop'), which makes "
                "words around them look adjacent; count it with --oov gap or --min-count 1."
            )
        return cooc
    unknown = sorted(set(reading) - READING_OPTIONS)
    if unknown:
        raise InputError(
            f"score_phrases takes reading options {sorted(READING_OPTIONS)}; "
            f"not {unknown}."
        )
    from cooc.cooccurrence import build_cooccurrence

    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return build_cooccurrence(
        paths,
        window_size=1,
        symmetric=False,
        weighting="uniform",
        min_count=1,  # every word: its count and len_vocab are gensim's
        progress=progress,
        **reading,
    )


def score_phrases(
    source,
    *,
    scoring: str = "word2phrase",
    min_count: int = 5,
    threshold: float | None = None,
    progress: Callable[[str, int], None] | None = None,
    **reading,
):
    """Score the adjacent word pairs of a corpus as phrase candidates.

    Parameters
    ----------
    source : path, sequence of paths, or CoocMatrix
        Corpus files (as :func:`cooc.build_cooccurrence` reads them), or a
        matrix counted with ``window_size=1, symmetric=False``.
    scoring : {"word2phrase", "pmi", "npmi"}, default="word2phrase"
        The formula (see the module's documentation).
    min_count : int, default=5
        Pairs seen fewer times are not scored; also the ``delta`` discount of
        ``word2phrase`` (as in gensim).
    threshold : float, default=None
        Keep pairs whose score is strictly greater; None is
        ``DEFAULT_THRESHOLDS[scoring]`` (10 for word2phrase, as gensim).
    progress : callable, optional
        ``progress(stage, n_tokens)``, passed on to the counter.
    **reading
        ``tokenizer``, ``lowercase``, ``column``, ``encoding_errors``,
        ``documents``, ``chunk_size``, ``n_jobs``.

    Returns
    -------
    pandas.DataFrame
        Columns ``word1, word2, count, score`` (``word2`` directly after
        ``word1``), best score first (ties: higher count, then words).
    """
    import pandas as pd

    threshold = _check(scoring, min_count, threshold)
    cooc = _adjacent_counts(source, progress, reading)
    n_words = cooc.shape[0]
    right = cooc.integer_counts()[:, n_words:].tocoo()
    word_counts = np.asarray(cooc.vocabulary.counts, dtype=np.int64)
    n_tokens = int(cooc.stats.get("n_tokens", int(word_counts.sum())))
    len_vocab = n_words + int(right.nnz)

    keep = right.data >= min_count
    rows, cols = right.row[keep], right.col[keep]
    count = right.data[keep].astype(np.int64)
    ca = word_counts[rows].astype(np.float64)
    cb = word_counts[cols].astype(np.float64)
    cab = count.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scoring == "word2phrase":
            score = (cab - min_count) / (ca * cb) * len_vocab
        else:
            n = float(n_tokens)
            pa, pb, pab = ca / n, cb / n, cab / n
            score = np.log(pab / (pa * pb))
            if scoring == "npmi":
                score = score / -np.log(pab)
    passed = score > threshold
    tokens = np.asarray(cooc.vocabulary.tokens, dtype=object)
    frame = pd.DataFrame(
        {
            "word1": tokens[rows[passed]],
            "word2": tokens[cols[passed]],
            "count": count[passed],
            "score": score[passed],
        }
    )
    frame = frame.sort_values(
        ["score", "count", "word1", "word2"],
        ascending=[False, False, True, True],
        kind="mergesort",
    ).reset_index(drop=True)
    frame.attrs.update(
        scoring=scoring,
        min_count=int(min_count),
        threshold=threshold,
        n_tokens=n_tokens,
        len_vocab=len_vocab,
        n_candidates=int(keep.sum()),
    )
    return frame
