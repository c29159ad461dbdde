"""Cross-modal retrieval in the joint word + visual-word space, and its scores.

:func:`retrieval_recall` scores any ranking task: every query vector ranks
all item vectors by cosine; a query is answered at ``k`` when one of its
relevant items is among the first ``k``. :func:`chance_recall` gives the
same scores, in expectation, for a random ranking (exact formulas), and
:func:`emoji_retrieval` runs the protocol of issue 18 on paired
(text, image) items:

* the folds are the demo's (:func:`cooc.demo.evaluate_multimodal`: stratified,
  shuffled with the same seed), and on each the visual words
  (:class:`cooc.vision.VisualWords`, 512) and the joint embedding
  (:class:`cooc.multimodal.JointEmbedding`, 256 dimensions) are fitted on the
  training items only;
* image -> word: each held-out image (the TF-IDF-weighted mean of its visual
  words' vectors, :meth:`~cooc.multimodal.JointEmbedding.transform_images`)
  ranks the whole word vocabulary; relevant are the words of the item's own
  text that the training texts contain (an item with none is left out);
* word -> image: the query words are the vocabulary words found in the texts
  of at least ``min_items`` (2) held-out items; each ranks the held-out
  images; relevant are the images whose text contains the word.

Two baselines that never look at the joint space sit beside it: ``popular``
(image -> word: the words ranked by how many training texts hold them, the
same list for every image) and ``bovw`` (nearest neighbours in the TF-IDF
bag of visual words: image -> word scores a word by the cosine of the
query to each of the ``n_neighbours`` nearest training images whose text has
it; word -> image ranks the held-out images by cosine to the mean TF-IDF bag
of the training images whose text has the word).
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from cooc.corpus import tokenize
from cooc.errors import InputError, InputTypeError
from cooc.multimodal import JointEmbedding
from cooc.vision import VisualWords

__all__ = [
    "chance_recall",
    "emoji_retrieval",
    "retrieval_recall",
]


def _check_ks(ks):
    ks = tuple(ks) if not isinstance(ks, Integral) else (ks,)
    if not ks or any(
        isinstance(k, bool) or not isinstance(k, Integral) or k < 1 for k in ks
    ):
        raise InputError(f"ks={ks!r} must be positive ints, e.g. (1, 5, 10).")
    return tuple(int(k) for k in ks)


def _check_relevant(relevant, n_queries, n_items):
    if isinstance(relevant, (str, bytes)) or not hasattr(relevant, "__len__"):
        raise InputTypeError(
            f"relevant must be a list of index lists, one per query, got "
            f"{type(relevant).__name__}."
        )
    if len(relevant) != n_queries:
        raise InputError(
            f"relevant has {len(relevant)} entries but there are {n_queries} "
            "queries; give one list of relevant item indices per query."
        )
    out = []
    for q, rel in enumerate(relevant):
        rel = np.unique(np.asarray(list(rel), dtype=np.int64))
        if rel.size == 0:
            raise InputError(
                f"relevant[{q}] is empty; every query needs at least one relevant "
                "item (leave such queries out)."
            )
        if rel[0] < 0 or rel[-1] >= n_items:
            raise InputError(
                f"relevant[{q}] holds indices outside [0, {n_items}), the items."
            )
        out.append(rel)
    return out


def _unit_rows(name, x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"{name} must be a non-empty 2-d array, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise InputError(f"{name} holds NaN or inf; drop rows without a vector.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def retrieval_recall(query_vectors, item_vectors, relevant, ks=(1, 5, 10)) -> dict:
    """Recall@k and mean reciprocal rank of cosine retrieval.

    Parameters
    ----------
    query_vectors : array of shape (n_queries, d)
    item_vectors : array of shape (n_items, d)
    relevant : sequence of n_queries sequences of int
        The indices of the items relevant to each query (at least one each).
    ks : sequence of int, default=(1, 5, 10)

    Returns
    -------
    dict
        ``{"recall@k": share of queries with a relevant item among the k most
        similar, ..., "mrr": mean over queries of 1 / rank of the first
        relevant item, "n_queries": n_queries, "n_items": n_items}``. Items are
        ranked by decreasing cosine, ties by index (a stable sort).

    Examples
    --------
    >>> q = [[1.0, 0.0], [0.0, 1.0]]
    >>> items = [[1.0, 0.1], [0.1, 1.0], [1.0, 1.0]]
    >>> retrieval_recall(q, items, [[2], [1]], ks=(1, 2))
    {'recall@1': 0.5, 'recall@2': 1.0, 'mrr': 0.75, 'n_queries': 2, 'n_items': 3}
    """
    ks = _check_ks(ks)
    queries = _unit_rows("query_vectors", query_vectors)
    items = _unit_rows("item_vectors", item_vectors)
    if queries.shape[1] != items.shape[1]:
        raise InputError(
            f"query_vectors have {queries.shape[1]} dimensions but item_vectors "
            f"{items.shape[1]}; embed both in one space."
        )
    relevant = _check_relevant(relevant, queries.shape[0], items.shape[0])
    ranks = _first_ranks(queries @ items.T, relevant)
    return _scores_from_ranks(ranks, ks, items.shape[0])


def _first_ranks(scores, relevant):
    """1-based rank of the first relevant item of each query (stable ties)."""
    ranks = np.empty(scores.shape[0], dtype=np.int64)
    for q, rel in enumerate(relevant):
        order = np.argsort(-scores[q], kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(order.shape[0])
        ranks[q] = position[rel].min() + 1
    return ranks


def _scores_from_ranks(ranks, ks, n_items):
    out = {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["mrr"] = float(np.mean(1.0 / ranks))
    out["n_queries"] = int(ranks.shape[0])
    out["n_items"] = int(n_items)
    return out


def chance_recall(n_items, n_relevant, ks=(1, 5, 10)) -> dict:
    """Expected recall@k and MRR of a uniformly random ranking, exactly.

    With ``r`` relevant items among ``n``, the chance that none is in the top
    ``k`` is ``C(n - r, k) / C(n, k)``, and the first relevant item is at rank
    ``i`` with probability ``C(n - i, r - 1) / C(n, r)``.

    Parameters
    ----------
    n_items : int
        Items ranked per query.
    n_relevant : int or sequence of int
        Relevant items of each query (1 to ``n_items``); the scores are means
        over the queries.
    ks : sequence of int, default=(1, 5, 10)

    Returns
    -------
    dict
        ``{"recall@k": ..., "mrr": ...}``.

    Examples
    --------
    >>> scores = chance_recall(4, [1, 2], ks=(1, 2))
    >>> {key: round(value, 4) for key, value in scores.items()}
    {'recall@1': 0.375, 'recall@2': 0.6667, 'mrr': 0.6215}
    """
    ks = _check_ks(ks)
    if isinstance(n_items, bool) or not isinstance(n_items, Integral) or n_items < 1:
        raise InputError(f"n_items={n_items!r} must be a positive int.")
    counts = np.atleast_1d(np.asarray(n_relevant))
    if counts.size == 0 or counts.dtype.kind not in "iu" or counts.ndim != 1:
        raise InputError("n_relevant must be a positive int or a list of them.")
    if counts.min() < 1 or counts.max() > n_items:
        raise InputError(
            f"n_relevant must lie in [1, {n_items}] (n_items); got "
            f"[{counts.min()}, {counts.max()}]."
        )
    n = int(n_items)
    recall = {k: 0.0 for k in ks}
    mrr = 0.0
    values, weights = np.unique(counts, return_counts=True)
    for r, w in zip(values.tolist(), weights.tolist(), strict=True):
        # exact integers; each ratio of two of them is rounded once
        for k in ks:
            top = min(k, n)  # k beyond n: every item is in the top k
            recall[k] += w * (1.0 - math.comb(n - r, top) / math.comb(n, top))
        total = math.comb(n, r)
        mrr += w * math.fsum(
            math.comb(n - i, r - 1) / total / i for i in range(1, n - r + 2)
        )
    out = {f"recall@{k}": recall[k] / counts.size for k in ks}
    out["mrr"] = mrr / counts.size
    return out


# -- the emoji protocol ---------------------------------------------------------------
def _tfidf_rows(counts, idf):
    x = sp.csr_matrix(counts, dtype=np.float64).multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x)


def _word_matrix(token_sets, index):
    """Items × words, 1 where the item's text has the word (float64 CSR)."""
    rows, cols = [], []
    for r, words in enumerate(token_sets):
        ids = sorted(index[w] for w in words if w in index)
        rows += [r] * len(ids)
        cols += ids
    return sp.csr_matrix(
        (np.ones(len(cols)), (rows, cols)), shape=(len(token_sets), len(index))
    )


def _ranks_from_scores(scores, relevant, ks, n_items):
    return _scores_from_ranks(_first_ranks(scores, relevant), ks, n_items)


def emoji_retrieval(
    texts,
    images,
    y,
    *,
    n_splits=5,
    n_visual=512,
    n_components=256,
    min_items=2,
    n_neighbours=10,
    ks=(1, 5, 10),
    random_state=0,
    progress=None,
) -> dict:
    """Cross-modal retrieval scores of the joint space, held out, per fold.

    Parameters
    ----------
    texts : sequence of str, length n_items
    images : array of shape (n_items, height, width, 3)
    y : sequence of labels, length n_items
        The categories that stratify the folds (as in the demo).
    n_splits : int, default=5
        Stratified folds (1: one stratified 80/20 hold-out split).
    n_visual, n_components : int
        Visual words and joint dimensions (the demo's 512 and 256).
    min_items : int, default=2
        A word is a word -> image query when at least this many held-out
        texts contain it.
    n_neighbours : int, default=10
        Training images the ``bovw`` image -> word baseline looks at.
    ks : sequence of int, default=(1, 5, 10)
    random_state : int, default=0
    progress : object with a ``note(str)`` method, optional

    Returns
    -------
    dict
        ``{direction: {method: {score: [one value per fold]}}}`` for the
        directions ``"image->word"`` and ``"word->image"`` and the methods
        ``"joint"``, ``"bovw"``, ``"popular"`` (image -> word only) and
        ``"chance"``; each score dict also holds ``n_queries`` and ``n_items``.
    """
    ks = _check_ks(ks)
    note = progress.note if progress is not None else (lambda text: None)
    texts = list(texts)
    images = np.asarray(images)
    y = np.asarray(y)
    if not (len(texts) == images.shape[0] == y.shape[0]):
        raise InputError(
            f"{len(texts)} texts, {images.shape[0]} images and {y.shape[0]} labels; "
            "pass one of each per item."
        )
    if (
        isinstance(min_items, bool)
        or not isinstance(min_items, Integral)
        or min_items < 1
    ):
        raise InputError(f"min_items={min_items!r} must be a positive int.")
    if isinstance(n_splits, bool) or not isinstance(n_splits, Integral) or n_splits < 1:
        raise InputError(f"n_splits={n_splits!r} must be a positive int (1: 80/20).")
    if n_splits == 1:
        folds = StratifiedShuffleSplit(1, test_size=0.2, random_state=random_state)
    else:
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    tokens = [set(tokenize(t)) for t in texts]
    results: dict = {"image->word": {}, "word->image": {}}

    def record(direction, method, scores):
        entry = results[direction].setdefault(method, {})
        for key, value in scores.items():
            entry.setdefault(key, []).append(value)

    for fold, (train, test) in enumerate(folds.split(np.zeros(len(y)), y)):
        vw = VisualWords(n_visual, random_state=random_state).fit(images[train])
        counts = sp.csr_matrix(vw.transform(images))
        joint = JointEmbedding(n_components, random_state=random_state).fit(
            [texts[i] for i in train], visual=counts[train]
        )
        words = list(joint.embeddings_.tokens[: joint.n_words_])
        index = {w: j for j, w in enumerate(words)}
        word_vectors = joint.embeddings_.vectors[: joint.n_words_]
        image_vectors = joint.transform_images(counts)
        has_image = ~np.isnan(image_vectors).any(axis=1)
        # training statistics of the baselines
        train_words = _word_matrix([tokens[i] for i in train], index)
        df = np.bincount(train_words.indices, minlength=len(words))
        n_train = train.shape[0]
        vdf = np.bincount(counts[train].indices, minlength=counts.shape[1])
        idf = np.log((1 + n_train) / (1 + vdf)) + 1.0
        bags = _tfidf_rows(counts, idf)

        # image -> word: held-out images with a vector and a known word
        queries = [
            i for i in test if has_image[i] and any(w in index for w in tokens[i])
        ]
        relevant = [sorted(index[w] for w in tokens[i] if w in index) for i in queries]
        record(
            "image->word",
            "joint",
            retrieval_recall(image_vectors[queries], word_vectors, relevant, ks),
        )
        popular = np.broadcast_to(df.astype(np.float64), (len(queries), len(words)))
        record(
            "image->word",
            "popular",
            _ranks_from_scores(popular, relevant, ks, len(words)),
        )
        sims = (bags[queries] @ bags[train].T).toarray()
        cut = np.argsort(-sims, axis=1, kind="stable")[:, n_neighbours:]
        np.put_along_axis(sims, cut, 0.0, axis=1)
        # the neighbours' words by summed cosine; popularity breaks the ties
        votes = np.asarray(sims @ train_words) + df[None, :] * 1e-9
        record(
            "image->word", "bovw", _ranks_from_scores(votes, relevant, ks, len(words))
        )
        record(
            "image->word",
            "chance",
            chance_recall(len(words), [len(r) for r in relevant], ks),
        )

        # word -> image: words of >= min_items held-out texts, held-out images
        gallery = np.asarray([i for i in test if has_image[i]])
        holders: dict = {}
        for g, i in enumerate(gallery):
            for w in tokens[i]:
                if w in index:
                    holders.setdefault(w, []).append(g)
        query_words = sorted(w for w, g in holders.items() if len(g) >= min_items)
        relevant = [holders[w] for w in query_words]
        q_ids = [index[w] for w in query_words]
        record(
            "word->image",
            "joint",
            retrieval_recall(word_vectors[q_ids], image_vectors[gallery], relevant, ks),
        )
        centroids = np.asarray(
            (train_words[:, q_ids].T @ bags[train]).toarray(), dtype=np.float64
        )
        centroids = np.nan_to_num(
            centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        )
        scores = centroids @ bags[gallery].toarray().T
        record(
            "word->image",
            "bovw",
            _ranks_from_scores(scores, relevant, ks, gallery.shape[0]),
        )
        record(
            "word->image",
            "chance",
            chance_recall(gallery.shape[0], [len(r) for r in relevant], ks),
        )
        note(
            f"fold {fold + 1}/{n_splits}: joint MRR image->word "
            f"{results['image->word']['joint']['mrr'][-1]:.3f}, word->image "
            f"{results['word->image']['joint']['mrr'][-1]:.3f}"
        )
    return results
