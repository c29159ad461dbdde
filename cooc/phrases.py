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
gensim). With ``passes=N`` pass ``k`` scores the pairs of the corpus with the
phrases of passes ``< k`` joined (``new_york`` + ``times`` ->
``new_york_times``), as gensim's ``Phrases`` run on the output of an earlier
``Phrases``; each phrase records its pass. The files are read and tokenized
once (their codes kept, :mod:`cooc.tokenstream`); each pass joins the phrases
found so far in the codes (:mod:`cooc.phrasetable`'s kernel) and counts again.
:func:`join_phrases` and ``cooc build/embed --phrases`` join them (see
:mod:`cooc.phrasetable` for the TSV, the joining rule and words that contain
``_``).

Counts are keyed by word pairs. gensim keys its counts by the joined string, so
where a word contains ``_`` (``new_york`` in the text, or any token after a
first pass) its counts and ``len_vocab`` differ from these, and so do a few of
its phrases (``benchmarks/README.md``). Not done: gensim's connector words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from cooc.errors import InputError
from cooc.phrasetable import (
    DELIMITER,
    PhraseTable,
    as_phrase_table,
    read_phrases,
    write_phrases,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DELIMITER",
    "SCORINGS",
    "PhraseTable",
    "join_phrases",
    "read_phrases",
    "score_phrases",
    "write_phrases",
]

SCORINGS = ("word2phrase", "pmi", "npmi")
#: gensim's default for its default scorer; 0.5 is a common choice for npmi.
DEFAULT_THRESHOLDS = {"word2phrase": 10.0, "npmi": 0.5, "pmi": 0.0}
#: reading options of the files (those of :class:`cooc.corpus.ReadingOptions`).
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


def _check_passes(passes) -> int:
    if isinstance(passes, bool) or not isinstance(passes, (int, np.integer)):
        raise InputError(f"passes must be an integer >= 1; got {passes!r}.")
    if passes < 1:
        raise InputError(f"passes must be >= 1; got {passes}.")
    return int(passes)


def _check_matrix(cooc, reading):
    """``cooc`` when it is a directional window-1 count that can be scored."""
    if reading:
        raise InputError(
            f"reading options {sorted(reading)} do not apply to a counted matrix."
        )
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


def score_phrases(
    source,
    *,
    scoring: str = "word2phrase",
    min_count: int = 5,
    threshold: float | None = None,
    passes: int = 1,
    progress: Callable[[str, int], None] | None = None,
    **reading,
):
    """Score the adjacent word pairs of a corpus as phrase candidates.

    Parameters
    ----------
    source : path, sequence of paths, or CoocMatrix
        Corpus files (as :func:`cooc.build_cooccurrence` reads them), or a
        matrix counted with ``window_size=1, symmetric=False`` (one pass only).
    scoring : {"word2phrase", "pmi", "npmi"}, default="word2phrase"
        The formula (see the module's documentation).
    min_count : int, default=5
        Pairs seen fewer times are not scored; also the ``delta`` discount of
        ``word2phrase`` (as in gensim).
    threshold : float, default=None
        Keep pairs whose score is strictly greater; None is
        ``DEFAULT_THRESHOLDS[scoring]`` (10 for word2phrase, as gensim).
    passes : int, default=1
        Pass ``k`` scores the corpus with the phrases of the passes before it
        joined, so that phrases grow to up to ``2**passes`` words; the same
        ``scoring``, ``min_count`` and ``threshold`` every pass. Stops early
        when a pass finds nothing.
    progress : callable, optional
        ``progress(stage, n_tokens)``, passed on to the counter.
    **reading
        ``tokenizer``, ``lowercase``, ``column``, ``encoding_errors``,
        ``documents``, ``chunk_size``, ``n_jobs``.

    Returns
    -------
    pandas.DataFrame
        Columns ``word1, word2, count, score, pass`` (``word2`` directly after
        ``word1``; ``pass`` from 1), by pass, then best score first (ties:
        higher count, then words). ``attrs`` holds the settings,
        ``n_tokens`` (of the corpus as read), ``n_candidates`` (pairs scored,
        all passes) and ``per_pass`` (``n_tokens``, ``len_vocab``,
        ``n_candidates``, ``n_phrases`` of each pass).
    """
    import pandas as pd

    from cooc.matrix import CoocMatrix

    threshold = _check(scoring, min_count, threshold)
    passes = _check_passes(passes)
    if passes > 1 and isinstance(source, CoocMatrix):
        raise InputError(
            "passes > 1 needs the corpus files (each pass counts the corpus "
            "again with the phrases found so far joined); got a CoocMatrix."
        )
    frames, per_pass = [], []
    if isinstance(source, CoocMatrix):
        cooc = _check_matrix(source, reading)
        frame, info = _score_pass(cooc, scoring, min_count, threshold)
        frame["pass"] = np.int64(1)
        frames.append(frame)
        per_pass.append(info)
    else:
        scan = _Scan(source, progress, reading)
        try:
            found = None
            for k in range(1, passes + 1):
                frame, info = _score(
                    *scan.adjacent(found), scoring, min_count, threshold
                )
                frame["pass"] = np.int64(k)
                frames.append(frame)
                per_pass.append(info)
                if len(frame) == 0 or k == passes:
                    break
                done = pd.concat(frames, ignore_index=True)
                found = PhraseTable(
                    done["word1"].tolist(),
                    done["word2"].tolist(),
                    done["pass"].tolist(),
                )
        finally:
            scan.close()
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(
        scoring=scoring,
        min_count=int(min_count),
        threshold=threshold,
        passes=passes,
        n_tokens=per_pass[0]["n_tokens"],
        len_vocab=per_pass[0]["len_vocab"],
        n_candidates=sum(p["n_candidates"] for p in per_pass),
        per_pass=per_pass,
    )
    return out


def _score_pass(cooc, scoring, min_count, threshold):
    """The phrases of one directional window-1 matrix, and its statistics."""
    n_words = cooc.shape[0]
    right = cooc.integer_counts()[:, n_words:].tocoo()
    word_counts = np.asarray(cooc.vocabulary.counts, dtype=np.int64)
    n_tokens = int(cooc.stats.get("n_tokens", int(word_counts.sum())))
    tokens = np.asarray(cooc.vocabulary.tokens, dtype=object)
    return _score(
        right, word_counts, n_tokens, tokens.__getitem__, scoring, min_count, threshold
    )


class _Scan:
    """A corpus read once (:func:`cooc.tokenstream.scan_corpus`, codes kept),
    whose adjacent pairs are counted again for each pass with the phrases found
    so far joined."""

    def __init__(self, source, progress, reading):
        from cooc.cooccurrence import DEFAULT_MEMORY
        from cooc.corpus import ReadingOptions, max_line_bytes
        from cooc.tokenstream import EncodedCorpus, merge_tables, scan_corpus
        from cooc.vocab import EmptyCorpusError

        unknown = sorted(set(reading) - READING_OPTIONS)
        if unknown:
            raise InputError(
                f"score_phrases takes reading options {sorted(READING_OPTIONS)}; "
                f"not {unknown}."
            )
        reading = dict(reading)
        self.n_jobs = reading.pop("n_jobs", None)
        reading.setdefault("chunk_size", 1 << 24)
        options = ReadingOptions(**reading)
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        options.check_paths(paths)
        self.progress = progress
        self.keep = EncodedCorpus(DEFAULT_MEMORY // 4)
        step = None
        if progress is not None:
            progress("vocabulary", 0)
            step = lambda n: progress("vocabulary", n)  # noqa: E731
        tables = scan_corpus(
            paths,
            **options.keywords(),
            n_jobs=self.n_jobs,
            keep=self.keep,
            progress=step,
            max_line=max_line_bytes(DEFAULT_MEMORY),
        )
        self.remaps = merge_tables(tables)
        self.table = tables[0]
        if self.keep.n_tokens == 0:
            self.close()
            raise EmptyCorpusError.no_tokens("the corpus has")

    def close(self) -> None:
        self.keep.close()

    def _parts(self, phrases, plan):
        for part in self.keep:
            codes = self.remaps[part.table][part.codes]
            if plan is None:
                yield codes, part.offsets
            else:
                yield phrases.join_codes(codes, part.offsets, plan)

    def adjacent(self, phrases):
        """``(right, word_counts, n_tokens, tokens_of)`` of the corpus with
        ``phrases`` joined: ``right`` the COO counts of ``b`` right after
        ``a`` over word ids (by count, descending), ``tokens_of(ids)`` their
        tokens."""
        from cooc.cooccurrence import WindowCounter
        from cooc.tokenstream import TokenTable

        plan = None
        if phrases is not None:
            entries = self.table.merge(TokenTable.from_tokens(list(phrases.words)))
            plan = phrases.plan(entries, len(self.table))
        if plan is None:  # the words as read: the table counted them
            counts = np.array(self.table.counts, dtype=np.int64)
        else:
            counts = np.zeros(len(self.table), np.int64)
            for codes, _ in self._parts(phrases, plan):
                counts += np.bincount(codes, minlength=counts.shape[0])
        n_words = int(np.count_nonzero(counts))
        # Word ids by count (the counter keeps the most frequent pairs dense).
        entry_of = np.argsort(-counts, kind="stable")[:n_words]
        id_of = np.full(counts.shape[0], -1, np.int32)
        id_of[entry_of] = np.arange(n_words, dtype=np.int32)
        counter = WindowCounter(
            n_words, window_size=1, weighting="uniform", symmetric=False,
            n_jobs=self.n_jobs,
        )  # fmt: skip
        if self.progress is not None:
            self.progress("counting", 0)
        for codes, offsets in self._parts(phrases, plan):
            counter.update(id_of[codes], offsets)
            if self.progress is not None:
                self.progress("counting", int(codes.shape[0]))
        matrix, scale = counter.result_counts()
        if scale != 1:  # pragma: no cover - uniform weights count in units
            raise RuntimeError("cooc.phrases: unexpected scale; please report.")
        # The right contexts (columns n_words + b), without scipy's slicing.
        rows = np.repeat(np.arange(n_words, dtype=np.int32), np.diff(matrix.indptr))
        on_right = matrix.indices >= n_words
        right = sp.coo_matrix(
            (
                matrix.data[on_right],
                (rows[on_right], matrix.indices[on_right] - n_words),
            ),
            shape=(n_words, n_words),
        )
        table = self.table

        def tokens_of(ids):
            return np.asarray(table.tokens(entry_of[ids]), dtype=object)

        return right, counts[entry_of], int(counts.sum()), tokens_of


def _score(right, word_counts, n_tokens, tokens_of, scoring, min_count, threshold):
    """The phrases of the right-context counts ``right`` (COO over word ids),
    and the statistics of the pass."""
    import pandas as pd

    n_words = int(word_counts.shape[0])
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
    # Strings only for the words of the phrases kept.
    used, inverse = np.unique(
        np.concatenate([rows[passed], cols[passed]]), return_inverse=True
    )
    words = tokens_of(used)[inverse] if used.shape[0] else np.zeros(0, object)
    n_kept = int(passed.sum())
    frame = pd.DataFrame(
        {
            "word1": words[:n_kept],
            "word2": words[n_kept:],
            "count": count[passed],
            "score": score[passed],
        }
    )
    frame = frame.sort_values(
        ["score", "count", "word1", "word2"],
        ascending=[False, False, True, True],
        kind="mergesort",
    ).reset_index(drop=True)
    info = {
        "n_tokens": n_tokens,
        "len_vocab": len_vocab,
        "n_candidates": int(keep.sum()),
        "n_phrases": len(frame),
    }
    return frame, info


def join_phrases(documents, phrases) -> list[list[str]]:
    """Join phrases in token lists, as ``cooc build --phrases`` does in a corpus.

    Parameters
    ----------
    documents : iterable of list of str
        One token list per document (phrases never cross documents).
    phrases : path, DataFrame or PhraseTable
        A phrase TSV written by ``cooc phrases`` (or :func:`write_phrases`),
        a DataFrame with ``word1, word2`` and optionally ``pass`` (such as
        :func:`score_phrases` returns), or a :class:`PhraseTable`.

    Returns
    -------
    list of list of str
        The documents with each phrase one token ``word1_word2``: pass 1,
        then pass 2, ...; within a pass a greedy scan from the left (gensim's
        ``FrozenPhrases``).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"word1": ["new", "new_york"],
    ...                       "word2": ["york", "times"], "pass": [1, 2]})
    >>> join_phrases([["the", "new", "york", "times"], ["new", "york"]], table)
    [['the', 'new_york_times'], ['new_york']]
    """
    table = as_phrase_table(phrases)
    if table is None:
        raise InputError(
            "join_phrases needs phrases (a path, DataFrame or PhraseTable)."
        )
    return table.join_documents(documents)
