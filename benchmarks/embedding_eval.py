"""Word-embedding quality on the shared benchmark sets, for the benchmark scripts.

Not a benchmark itself (``run_all.py`` runs ``bench_*.py`` only): the helpers
that ``bench_word2vec.py`` and ``sweep_embeddings.py`` share, so that every
row of their tables is scored by the same code (cooc's own
``cooc.evaluate``): Spearman's rho with coverage on WordSim-353, SimLex-999
and MEN, and 3CosAdd accuracy on the Google analogies with candidates and
questions restricted to the 30,000 most frequent words.
"""

from __future__ import annotations

import os
from pathlib import Path

import common

SIMILARITY = {
    "WS353": "wordsim353.txt",
    "SimLex": "simlex999.txt",
    "MEN": "men_dataset.txt",
}
ANALOGY = "questions-words.txt"
RESTRICT_VOCAB = 30_000


def eval_dir() -> Path:
    """Folder of the benchmark files: ``$COOC_BENCH_EVAL``, else the
    ``similarity`` folder beside the corpus folder."""
    env = os.environ.get("COOC_BENCH_EVAL")
    folder = Path(env) if env else common.CORPUS_DIR.parent / "similarity"
    missing = [f for f in [*SIMILARITY.values(), ANALOGY] if not (folder / f).is_file()]
    if missing:
        raise SystemExit(
            f"missing {missing} in {folder}; set COOC_BENCH_EVAL to the folder of "
            "the similarity and analogy files."
        )
    return folder


def load_text() -> str:
    """The three load averages, for the notes of a table."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


_CACHE: dict = {}


def _sets():
    if not _CACHE:
        from cooc.evaluate import load_analogies, load_similarity

        folder = eval_dir()
        for name, fname in SIMILARITY.items():
            _CACHE[name] = load_similarity(folder / fname)
        _CACHE["analogy"] = load_analogies(folder / ANALOGY)
    return _CACHE


def score(emb, analogies: bool = True) -> dict:
    """Scores of an :class:`cooc.svd.Embeddings`.

    Returns ``{"WS353": rho, "WS353_cov": coverage, ..., "analogy": accuracy,
    "analogy_cov": coverage}`` (analogy keys only with ``analogies``).
    """
    from cooc.evaluate import evaluate_analogies, evaluate_similarity

    sets = _sets()
    out = {}
    for name in SIMILARITY:
        r = evaluate_similarity(emb, sets[name])
        out[name] = r["spearman"]
        out[name + "_cov"] = r["coverage"]
    if analogies:
        r = evaluate_analogies(
            emb, sets["analogy"], restrict_vocab=RESTRICT_VOCAB, method="3cosadd"
        )
        out["analogy"] = r["accuracy"]
        out["analogy_cov"] = r["coverage"]
    return out
