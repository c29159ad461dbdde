"""Intrinsic evaluation of word embeddings: word similarity and analogies.

Similarity files hold ``word1 word2 score`` lines (tab-separated, ``#``
comments), e.g. WordSim-353, SimLex-999 and MEN; the score is the Spearman
correlation between human scores and cosine similarities. Analogy files use
the Google ``questions-words.txt`` format (``: section`` lines, then
``a b c d`` per line); the score is the accuracy of predicting ``d`` from
``b - a + c``.

Words are compared in lower case. When the vocabulary has several case
variants of a word, the first (most frequent) row is used.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cooc.errors import InputError
from cooc.vectors import Embeddings, analogy_scores, as_embeddings
from cooc.vectors import unit_rows as _unit_vectors

__all__ = [
    "evaluate_all",
    "evaluate_analogies",
    "evaluate_similarity",
    "load_analogies",
    "load_similarity",
]

# Scores of one batch of analogy questions take about this many float32
# values (16 M = 64 MB per candidate-score matrix).
_BATCH_VALUES = 1 << 24
_COSMUL_EPSILON = 1e-3
_ANALOGY_METHODS = ("3cosadd", "3cosmul")


def _read_lines(path):
    """Yield ``(lineno, stripped line)`` for non-blank lines of a UTF-8 text file."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if line:
                yield lineno, line


def load_similarity(path) -> pd.DataFrame:
    """Read a word-similarity benchmark file.

    Parameters
    ----------
    path : str or path-like
        Text file with one ``word1 word2 score`` triple per line, separated by
        tabs (or, when a line has no tab, by spaces). Lines starting with
        ``#`` and blank lines are skipped.

    Returns
    -------
    pairs : pandas.DataFrame
        Columns ``word1``, ``word2`` (lower-cased str) and ``score`` (float),
        in file order.

    Raises
    ------
    ValueError
        If a line does not hold two words and a number; the message gives
        ``file:line``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cooc.evaluate import load_similarity
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sim.txt"
    >>> _ = path.write_text("# demo\\nTiger\\tcat\\t7.35\\n")
    >>> load_similarity(path)
       word1 word2  score
    0  tiger   cat   7.35
    """
    rows = []
    for lineno, line in _read_lines(path):
        if line.startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        try:
            if len(fields) != 3 or not fields[0] or not fields[1]:
                raise InputError(
                    f"expected 'word1<TAB>word2<TAB>score', got {line[:80]!r}"
                )
            score = float(fields[2])
            if not math.isfinite(score):
                raise InputError(f"score {fields[2]!r} is not finite")
        except ValueError as exc:
            raise InputError(f"{os.fspath(path)}:{lineno}: {exc}.") from None
        rows.append((fields[0].lower(), fields[1].lower(), score))
    return pd.DataFrame(rows, columns=["word1", "word2", "score"]).astype(
        {"word1": object, "word2": object, "score": np.float64}
    )


def load_analogies(path) -> pd.DataFrame:
    """Read an analogy benchmark in the Google ``questions-words.txt`` format.

    Parameters
    ----------
    path : str or path-like
        Text file with ``: section`` header lines followed by questions
        ``a b c d`` (``a`` is to ``b`` as ``c`` is to ``d``), one per line.
        Questions before the first header get the section ``"default"``;
        ``#`` lines and blank lines are skipped.

    Returns
    -------
    questions : pandas.DataFrame
        Columns ``section``, ``a``, ``b``, ``c``, ``d`` (words lower-cased).

    Raises
    ------
    ValueError
        If a question line does not have exactly four words (``file:line``).
    """
    rows = []
    section = "default"
    for lineno, line in _read_lines(path):
        if line.startswith("#"):
            continue
        if line.startswith(":"):
            section = line[1:].strip() or "default"
            continue
        words = line.lower().split()
        if len(words) != 4:
            raise InputError(
                f"{os.fspath(path)}:{lineno}: expected four words 'a b c d' or a "
                f"': section' line, got {line[:80]!r}."
            )
        rows.append((section, *words))
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"], dtype=object)


def _word_rows(embeddings, limit=None):
    """Map lower-cased tokens to their first row (below ``limit`` if given)."""
    tokens = embeddings.tokens if limit is None else embeddings.tokens[:limit]
    rows = {}
    for i, token in enumerate(tokens):
        rows.setdefault(token.lower(), i)
    return rows


def _lookup(rows, words):
    """Row of each word, -1 where it is missing."""
    return np.fromiter(
        (rows.get(w, -1) for w in words), dtype=np.int64, count=len(words)
    )


def _unit_rows(vectors):
    """Unit-length float32 rows; zero rows stay zero (``Embeddings``' own)."""
    return _unit_vectors(np.asarray(vectors, dtype=np.float32))


def _spearman(x, y):
    """Spearman's rho (Pearson of average ranks, as scipy's ``spearmanr``).

    NaN with fewer than two pairs or a constant input. Computed with pandas
    to keep ``scipy.stats`` (slow to import) out of ``import cooc``.
    """
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def evaluate_similarity(embeddings: Embeddings, pairs) -> dict:
    """Spearman correlation between human similarity scores and cosines.

    Parameters
    ----------
    embeddings : Embeddings or gensim KeyedVectors
        The word vectors (see :func:`cooc.svd.as_embeddings`).
    pairs : pandas.DataFrame or path-like
        Columns ``word1``, ``word2``, ``score`` (see :func:`load_similarity`),
        or the path of such a file.

    Returns
    -------
    result : dict
        ``spearman``: rho over the pairs whose two words are both in the
        vocabulary (NaN if fewer than two); ``spearman_oov_zero``: rho over
        all pairs, a missing pair scored as cosine 0; ``coverage``:
        ``n_covered / n_pairs``; ``n_pairs``; ``n_covered``;
        ``spearman_all``: rho over all pairs with an out-of-vocabulary word
        given its subword estimate when the embeddings have a ``subwords``
        model (see :func:`cooc.subwords.fit_subwords`; a pair with a word no
        n-gram of which is known still scores 0), equal to
        ``spearman_oov_zero`` without a model; ``n_estimated``: the pairs not
        covered that were scored from estimates (0 without a model).

    Notes
    -----
    Report ``spearman`` together with ``coverage``: out-of-vocabulary pairs
    change the score. ``spearman_oov_zero`` penalises small vocabularies and
    so compares embeddings with different coverage more fairly.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from cooc.vectors import Embeddings
    >>> from cooc.evaluate import evaluate_similarity
    >>> emb = Embeddings(["cat", "dog", "car"], np.array([[1, 0.1], [1, 0.3], [0, 1]]))
    >>> pairs = pd.DataFrame({"word1": ["cat", "cat", "dog", "cat"],
    ...                       "word2": ["dog", "car", "car", "zebra"],
    ...                       "score": [9.0, 1.0, 2.0, 5.0]})
    >>> r = evaluate_similarity(emb, pairs)
    >>> r["spearman"], r["coverage"]
    (1.0, 0.75)
    """
    embeddings = as_embeddings(embeddings)
    if not isinstance(pairs, pd.DataFrame):
        pairs = load_similarity(pairs)
    missing = {"word1", "word2", "score"} - set(pairs.columns)
    if missing:
        raise InputError(
            f"pairs lacks column(s) {sorted(missing)}; use load_similarity()."
        )
    rows = _word_rows(embeddings)
    i = _lookup(rows, [str(w).lower() for w in pairs["word1"]])
    j = _lookup(rows, [str(w).lower() for w in pairs["word2"]])
    covered = (i >= 0) & (j >= 0)
    scores = pairs["score"].to_numpy(dtype=np.float64)
    unit = _unit_rows(embeddings.vectors)
    cosines = np.zeros(len(pairs), dtype=np.float64)
    if covered.any():
        cosines[covered] = np.einsum("ij,ij->i", unit[i[covered]], unit[j[covered]])
    n_pairs, n_covered = len(pairs), int(covered.sum())
    all_cosines, n_estimated = _estimated_cosines(embeddings, pairs, i, j, unit)
    all_cosines[covered] = cosines[covered]
    return {
        "spearman": _spearman(scores[covered], cosines[covered]),
        "spearman_oov_zero": _spearman(scores, cosines),
        "coverage": n_covered / n_pairs if n_pairs else float("nan"),
        "n_pairs": n_pairs,
        "n_covered": n_covered,
        "spearman_all": _spearman(scores, all_cosines),
        "n_estimated": n_estimated,
    }


def _estimated_cosines(embeddings, pairs, i, j, unit):
    """``(cosines, n_estimated)`` of the pairs not covered, an unknown
    (lower-cased) word given its subword estimate; 0 where there is no model
    or a word's estimate is zero. Covered pairs are left at 0 here."""
    cosines = np.zeros(len(pairs), dtype=np.float64)
    model = getattr(embeddings, "subwords", None)
    uncovered = np.flatnonzero((i < 0) | (j < 0))
    if model is None or not len(uncovered):
        return cosines, 0
    words = [
        [str(w).lower() for w in pairs[col].to_numpy()[uncovered]]
        for col in ("word1", "word2")
    ]
    rows = (i[uncovered], j[uncovered])
    unknown = sorted(
        {w for column, r in zip(words, rows, strict=True)
         for w, row in zip(column, r, strict=True) if row < 0}
    )  # fmt: skip
    estimates = dict(
        zip(unknown, _unit_rows(model.estimate(unknown)), strict=True)
    )

    def vector(word, row):
        return unit[row] if row >= 0 else estimates.get(word)

    n_estimated = 0
    for k, a, b in zip(uncovered, *words, strict=True):
        va, vb = vector(a, i[k]), vector(b, j[k])
        if va is not None and vb is not None and va.any() and vb.any():
            cosines[k] = float(np.dot(va, vb))
            n_estimated += 1
    return cosines, n_estimated


def _answer_analogies(unit, a, b, c, method, batch_size):
    """Predicted row of ``d`` for each question (rows a, b, c into ``unit``)."""
    predictions = np.empty(len(a), dtype=np.int64)
    for start in range(0, len(a), batch_size):
        sl = slice(start, start + batch_size)
        ua, ub, uc = unit[a[sl]], unit[b[sl]], unit[c[sl]]
        # b - a + c, or Levy & Goldberg's (2014) product of shifted cosines:
        # the same code as Embeddings.most_similar / most_similar_cosmul.
        scores = analogy_scores(
            unit, [(1, ub), (-1, ua), (1, uc)], method, epsilon=_COSMUL_EPSILON
        )
        rows = np.arange(scores.shape[0])
        for q in (a[sl], b[sl], c[sl]):
            scores[rows, q] = -np.inf
        predictions[sl] = np.argmax(scores, axis=1)
    return predictions


def evaluate_analogies(
    embeddings: Embeddings, questions, *, restrict_vocab=30000, method="3cosadd"
) -> dict:
    """Accuracy on word analogies ``a : b :: c : d``.

    Parameters
    ----------
    embeddings : Embeddings or gensim KeyedVectors
        The word vectors, rows in decreasing frequency order (see
        :func:`cooc.svd.as_embeddings`).
    questions : pandas.DataFrame or path-like
        Columns ``section``, ``a``, ``b``, ``c``, ``d`` (see
        :func:`load_analogies`), or the path of such a file.
    restrict_vocab : int or None, default=30000
        Only the first ``restrict_vocab`` rows are candidate answers, and a
        question with any word outside them is not covered (the standard
        protocol of word2vec's ``compute-accuracy`` and gensim). None uses
        all rows.
    method : {"3cosadd", "3cosmul"}, default="3cosadd"
        ``3cosadd``: argmax of ``cos(x, b) - cos(x, a) + cos(x, c)``.
        ``3cosmul``: argmax of ``cos(x, b) cos(x, c) / (cos(x, a) + 1e-3)``
        with cosines shifted to ``[0, 1]`` (Levy & Goldberg, 2014).

    Returns
    -------
    result : dict
        ``accuracy`` over the covered questions (NaN if none),
        ``coverage``, ``n_questions``, ``n_covered``, ``n_correct`` and
        ``per_section``: ``{section: accuracy}`` in file order (NaN for a
        section with no covered question).

    Notes
    -----
    ``a``, ``b`` and ``c`` are never accepted as answers. Questions are
    scored in batches with matrix products against all candidate rows; time
    O(n_questions * restrict_vocab * dim), memory about 64 MB per batch.

    References
    ----------
    .. [1] T. Mikolov, K. Chen, G. Corrado and J. Dean, "Efficient
       estimation of word representations in vector space", 2013.
    .. [2] O. Levy and Y. Goldberg, "Linguistic regularities in sparse and
       explicit word representations", CoNLL 2014.
    """
    if method not in _ANALOGY_METHODS:
        raise InputError(f"method={method!r} must be one of {list(_ANALOGY_METHODS)}.")
    if restrict_vocab is not None and (
        isinstance(restrict_vocab, bool)
        or not isinstance(restrict_vocab, (int, np.integer))
        or restrict_vocab < 1
    ):
        raise InputError(
            f"restrict_vocab={restrict_vocab!r} must be None or an integer >= 1."
        )
    embeddings = as_embeddings(embeddings)
    if not isinstance(questions, pd.DataFrame):
        questions = load_analogies(questions)
    missing = {"section", "a", "b", "c", "d"} - set(questions.columns)
    if missing:
        raise InputError(
            f"questions lacks column(s) {sorted(missing)}; use load_analogies()."
        )
    n_rows = (
        len(embeddings)
        if restrict_vocab is None
        else min(restrict_vocab, len(embeddings))
    )
    rows = _word_rows(embeddings, n_rows)
    ids = {
        col: _lookup(rows, [str(w).lower() for w in questions[col]]) for col in "abcd"
    }
    covered = (
        np.all([ids[col] >= 0 for col in "abcd"], axis=0)
        if len(questions)
        else np.zeros(0, bool)
    )
    correct = np.zeros(len(questions), dtype=bool)
    if covered.any():
        unit = _unit_rows(embeddings.vectors[:n_rows])
        batch_size = max(1, _BATCH_VALUES // max(n_rows, 1))
        predicted = _answer_analogies(
            unit,
            ids["a"][covered],
            ids["b"][covered],
            ids["c"][covered],
            method,
            batch_size,
        )
        correct[covered] = predicted == ids["d"][covered]
    per_section = {}
    sections = questions["section"].to_numpy()
    for section in dict.fromkeys(sections):
        mask = (sections == section) & covered
        per_section[section] = (
            float(correct[mask].mean()) if mask.any() else float("nan")
        )
    n_questions, n_covered = len(questions), int(covered.sum())
    return {
        "accuracy": float(correct[covered].mean()) if n_covered else float("nan"),
        "coverage": n_covered / n_questions if n_questions else float("nan"),
        "n_questions": n_questions,
        "n_covered": n_covered,
        "n_correct": int(correct.sum()),
        "per_section": per_section,
    }


def _is_analogy_file(path):
    """True if the first data line of ``path`` is ``: section`` or four words."""
    for _, line in _read_lines(path):
        if line.startswith("#"):
            continue
        return line.startswith(":") or ("\t" not in line and len(line.split()) == 4)
    return False


def _expand_files(files):
    """Paths from one path, a folder (its ``*.txt`` files, sorted) or an iterable."""
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    paths = []
    for f in files:
        f = Path(f)
        paths.extend(sorted(f.glob("*.txt")) if f.is_dir() else [f])
    return paths


def evaluate_all(
    embeddings: Embeddings, files, *, restrict_vocab=30000, method="3cosadd"
) -> pd.DataFrame:
    """Evaluate on several benchmark files, similarity or analogy by content.

    Parameters
    ----------
    embeddings : Embeddings or gensim KeyedVectors
        The word vectors (see :func:`cooc.svd.as_embeddings`).
    files : path-like or iterable of path-like
        Benchmark files; a folder stands for its ``*.txt`` files. A file
        whose first data line is ``: section`` or four words is an analogy
        set, anything else a similarity set.
    restrict_vocab : int or None, default=30000
        Passed to :func:`evaluate_analogies`.
    method : {"3cosadd", "3cosmul"}, default="3cosadd"
        Passed to :func:`evaluate_analogies`.

    Returns
    -------
    results : pandas.DataFrame
        One row per file with columns ``dataset`` (file stem), ``task``
        (``"similarity"`` or ``"analogy"``), ``metric`` (``"spearman"`` or
        ``"accuracy"``), ``score``, ``coverage``, ``n_items``, ``n_covered``,
        ``spearman_oov_zero`` (NaN for analogies) and ``path``; when the
        embeddings have a ``subwords`` model, also ``spearman_all`` and
        ``n_estimated`` (see :func:`evaluate_similarity`; NaN and 0 for
        analogies), before ``path``.
    """
    embeddings = as_embeddings(embeddings)
    records, estimated = [], []
    for path in _expand_files(files):
        if _is_analogy_file(path):
            r = evaluate_analogies(
                embeddings,
                load_analogies(path),
                restrict_vocab=restrict_vocab,
                method=method,
            )
            records.append(
                (
                    "analogy",
                    "accuracy",
                    r["accuracy"],
                    r["coverage"],
                    r["n_questions"],
                    r["n_covered"],
                    float("nan"),
                    path,
                )
            )
            estimated.append((float("nan"), 0))
        else:
            r = evaluate_similarity(embeddings, load_similarity(path))
            records.append(
                (
                    "similarity",
                    "spearman",
                    r["spearman"],
                    r["coverage"],
                    r["n_pairs"],
                    r["n_covered"],
                    r["spearman_oov_zero"],
                    path,
                )
            )
            estimated.append((r["spearman_all"], r["n_estimated"]))
    columns = [
        "task",
        "metric",
        "score",
        "coverage",
        "n_items",
        "n_covered",
        "spearman_oov_zero",
        "path",
    ]
    table = pd.DataFrame(records, columns=columns)
    if getattr(embeddings, "subwords", None) is not None:
        position = columns.index("path")
        table.insert(position, "spearman_all", [e[0] for e in estimated])
        table.insert(position + 1, "n_estimated", [e[1] for e in estimated])
    table.insert(0, "dataset", [Path(p).stem for p in table["path"]])
    table["path"] = [os.fspath(p) for p in table["path"]]
    return table
