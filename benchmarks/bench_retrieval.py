"""Cross-modal retrieval on emoji: the joint word + visual-word space against baselines.

Does the joint space find words for images and images for words better than the obvious
baselines?

Run ``nice python benchmarks/bench_retrieval.py [--quick] [--folds K]
[--classification]``. Data: the 1,906 shipped emoji (``cooc.datasets.load_emoji``; the
words "flag"/"flags" removed from the texts). Protocol
(``cooc.retrieval.emoji_retrieval``): the demo's stratified folds (shuffled, seed 0;
``--quick``: the quick demo's one 80/20 split), on each 512 visual words and a
256-dimensional ``JointEmbedding`` fitted on the training items only, scored on the
held-out ones:

* image -> word: a held-out image's joint vector ranks the whole (training) word
  vocabulary; relevant are the words of its own text;
* word -> image: each word found in >= 2 held-out texts ranks the held-out images;
  relevant are the images whose text has the word.

Beside the joint space: ``bovw`` (TF-IDF bag of visual words, no joint space: the words
of the 10 nearest training images, weighted by cosine; or, for a word, the held-out
images nearest the mean bag of the training images with the word), ``popular`` (the
words by training document frequency, the same list for every image) and ``chance`` (the
exact expectation of a random ranking). Recall@k is the share of queries with a relevant
result in the top k; MRR the mean reciprocal rank of the first relevant one. Means over
folds (± the standard deviation of MRR). ``--classification`` adds the demo's text /
image / joint classification rows (``cooc.demo.evaluate_multimodal`` on the same folds;
several minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import table

KS = (1, 5, 10)
METHODS = {
    "joint": "joint space (cosine)",
    "bovw": "TF-IDF visual words, nearest neighbours",
    "popular": "most frequent training words",
    "chance": "random ranking (exact)",
}


class _Progress:
    def note(self, text):
        print(f"   {text}", flush=True)


def retrieval_table(results, folds) -> str:
    rows = []
    for direction, methods in results.items():
        for method, label in METHODS.items():
            if method not in methods:
                continue
            s = methods[method]
            queries = s.get("n_queries")
            items = s.get("n_items", results[direction]["joint"]["n_items"])
            rows.append(
                [
                    f"{direction}: {label}",
                    f"{np.mean(queries):.0f}" if queries else "",
                    f"{np.mean(items):.0f}",
                    *(f"{np.mean(s[f'recall@{k}']):.3f}" for k in KS),
                    f"{np.mean(s['mrr']):.3f} ± {np.std(s['mrr']):.3f}",
                ]
            )
    return table(
        f"cross-modal retrieval on emoji, held out ({folds})",
        ["direction: method", "queries", "ranked", "R@1", "R@5", "R@10", "MRR"],
        rows,
        [
            "queries and ranked items are means per fold; image -> word ranks the "
            "training vocabulary, word -> image the held-out images",
        ],
    )


def classification_table(texts, images, y, n_splits) -> str:
    from cooc.demo import MODEL_LABELS, evaluate_multimodal

    results = evaluate_multimodal(
        texts, images, y, n_splits=n_splits, random_state=0, progress=_Progress()
    )
    rows = [
        [
            MODEL_LABELS[name],
            f"{np.mean(results[name]['accuracy']):.3f}",
            f"{np.mean(results[name]['macro_f1']):.3f}",
        ]
        for name in ("text", "image", "early", "joint")
    ]
    return table(
        "classification on the same folds (cooc.demo.evaluate_multimodal)",
        ["model", "accuracy", "macro-F1"],
        rows,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="one stratified 80/20 split (the quick demo's)",
    )
    p.add_argument("--folds", type=int, default=5, help="stratified folds (default 5)")
    p.add_argument(
        "--classification",
        action="store_true",
        help="also run the demo's classification on the same folds (minutes)",
    )
    # run_all.py passes every option to every script: ignore the others' options
    args, _ = p.parse_known_args(argv)
    from cooc.datasets import load_emoji
    from cooc.retrieval import emoji_retrieval

    n_splits = 1 if args.quick else args.folds
    folds = "one 80/20 split" if n_splits == 1 else f"{n_splits} stratified folds"
    print(
        f"# bench_retrieval (1,906 emoji, {folds}); {common.machine_line()}", flush=True
    )
    images, frame = load_emoji()
    texts = frame["text"].tolist()
    y = frame["category"].to_numpy(dtype=str)
    t0 = time.perf_counter()
    results = emoji_retrieval(
        texts, images, y, n_splits=n_splits, ks=KS, random_state=0, progress=_Progress()
    )
    print(retrieval_table(results, folds), flush=True)
    print(f"   (retrieval: {time.perf_counter() - t0:.0f} s)\n", flush=True)
    if args.classification:
        t0 = time.perf_counter()
        print(classification_table(texts, images, y, n_splits), flush=True)
        print(f"   (classification: {time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
