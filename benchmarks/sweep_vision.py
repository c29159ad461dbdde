"""Sweep of the image encodings of VisualWords on the emoji set (issue 18).

The demo's protocol for the image-only model (cooc.demo.evaluate_multimodal):
5 stratified folds (shuffled, seed 0); on each fold VisualWords is fitted on
the training images only, every image is transformed, and a LinearSVC (C=1)
is trained on the training rows and scored (accuracy, macro-F1) on the
held-out ones. Bags ("bow", "soft") are weighted as MultimodalFeatures does
(sublinear TF-IDF, L2), or mapped with the Hellinger feature map ("+hellinger");
VLAD and Fisher vectors are used as they come (power + L2 normalised).

Times are per 1,000 images: ``fit`` is VisualWords.fit on the training
images, ``transform`` its transform over all images (one process, in turn;
the load average is printed since the 2 cores are shared).

    nice python benchmarks/sweep_vision.py                 # every row (~30 min)
    nice python benchmarks/sweep_vision.py --folds 2       # first 2 of 5 folds
    nice python benchmarks/sweep_vision.py --only bow-512 fisher-16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt, load_average, machine_line, table

from cooc.colorhist import ColorHistogram
from cooc.datasets import load_emoji
from cooc.encodings import hellinger_map
from cooc.vision import VisualWords

_OPP = {"descriptor": "hog+opponent"}
_S12 = {"scales": (1, 2)}
_BEST = {"encoding": "fisher", "n_words": 16, "pyramid": True, **_OPP, **_S12}
# name -> (VisualWords parameters, weighting of the output)
GRID = {
    "bow-512": ({"encoding": "bow", "n_words": 512}, "tfidf"),
    "bow-1024": ({"encoding": "bow", "n_words": 1024}, "tfidf"),
    "bow-512+hellinger": ({"encoding": "bow", "n_words": 512}, "hellinger"),
    "bow-512 pyramid": ({"encoding": "bow", "n_words": 512, "pyramid": True}, "tfidf"),
    "soft-512": ({"encoding": "soft", "n_words": 512}, "tfidf"),
    "soft-512 t0.2": (
        {"encoding": "soft", "n_words": 512, "temperature": 0.2},
        "tfidf",
    ),
    "soft-512+hellinger": ({"encoding": "soft", "n_words": 512}, "hellinger"),
    "soft-512 pyramid": (
        {"encoding": "soft", "n_words": 512, "pyramid": True},
        "tfidf",
    ),
    "vlad-16": ({"encoding": "vlad", "n_words": 16}, None),
    "vlad-64": ({"encoding": "vlad", "n_words": 64}, None),
    "vlad-64 pyramid": ({"encoding": "vlad", "n_words": 64, "pyramid": True}, None),
    "fisher-16": ({"encoding": "fisher", "n_words": 16}, None),
    "fisher-64": ({"encoding": "fisher", "n_words": 64}, None),
    "fisher-16 pyramid": (
        {"encoding": "fisher", "n_words": 16, "pyramid": True},
        None,
    ),
    # descriptor options (issue 18, descriptors): opponent colour, two scales
    "fisher-16 opponent": ({"encoding": "fisher", "n_words": 16, **_OPP}, None),
    "fisher-16 scales 1,2": ({"encoding": "fisher", "n_words": 16, **_S12}, None),
    "fisher-64 pca32": ({"encoding": "fisher", "n_words": 64, "n_pca": 32}, None),
    "fisher-64 opponent": ({"encoding": "fisher", "n_words": 64, **_OPP}, None),
    "fisher-64 scales 1,2": ({"encoding": "fisher", "n_words": 64, **_S12}, None),
    "fisher-64 opponent scales 1,2": (
        {"encoding": "fisher", "n_words": 64, **_OPP, **_S12},
        None,
    ),
    "fisher-16 pyramid opponent scales 1,2": (
        {"encoding": "fisher", "n_words": 16, "pyramid": True, **_OPP, **_S12},
        None,
    ),
    "fisher-16 pyramid scales 1,2": (
        {"encoding": "fisher", "n_words": 16, "pyramid": True, **_S12},
        None,
    ),
    "fisher-32 pyramid scales 1,2": (
        {"encoding": "fisher", "n_words": 32, "pyramid": True, **_S12},
        None,
    ),
    "fisher-16 pyramid no whitening": (
        {"encoding": "fisher", "n_words": 16, "pyramid": True, "whiten": False},
        None,
    ),
    "fisher-32 pyramid opponent scales 1,2": (
        {"encoding": "fisher", "n_words": 32, "pyramid": True, **_OPP, **_S12},
        None,
    ),
    "fisher-64 pyramid opponent scales 1,2": (
        {"encoding": "fisher", "n_words": 64, "pyramid": True, **_OPP, **_S12},
        None,
    ),
    "bow-512 pyramid opponent scales 1,2": (
        {"encoding": "bow", "n_words": 512, "pyramid": True, **_OPP, **_S12},
        "tfidf",
    ),
    # with HSV colour histograms (cooc.colorhist) beside the encoding; "svd":
    # then a truncated SVD to 256 columns, as MultimodalFeatures does by default
    "colour histogram alone": (None, "color"),
    "fisher-16 pyramid opponent scales 1,2 + colour": (_BEST, "color"),
    "fisher-16 pyramid opponent scales 1,2 + colour, SVD 256": (_BEST, "color+svd"),
    "fisher-16 pyramid opponent scales 1,2 step 2 + colour": (
        {**_BEST, "step": 2},
        "color",
    ),
    "fisher-16 pyramid opponent scales 1,2 patch 16 pca64 + colour": (
        {**_BEST, "patch_size": 16, "n_pca": 64},
        "color",
    ),
}


def weigh(F, train, how, images=None, seed=0):
    """The classifier's input: as MultimodalFeatures weighs a bag, or as is;
    "color": colour histograms appended ("+svd": then a truncated SVD)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer

    if how and how.startswith("color"):
        colors = ColorHistogram().fit_transform(images)
        X = colors if F is None else np.hstack([np.asarray(F), colors])
        if how.endswith("+svd"):
            svd = TruncatedSVD(256, algorithm="randomized", random_state=seed)
            X = svd.fit(X[train]).transform(X)
        return X
    if how == "tfidf":
        return TfidfTransformer(sublinear_tf=True).fit(F[train]).transform(F)
    if how == "hellinger":
        return hellinger_map(F)
    return F


def run(name, images, y, folds, seed=0):
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    params, how = GRID[name]
    acc, f1, fit_s, tr_s, n_fit, width = [], [], 0.0, 0.0, 0, 0
    for train, test in folds:
        t0 = time.perf_counter()
        F = None
        if params is not None:
            vw = VisualWords(random_state=seed, **params).fit(images[train])
        t1 = time.perf_counter()
        if params is not None:
            F = vw.transform(images)
        X = weigh(F, train, how, images, seed)
        t2 = time.perf_counter()
        fit_s += t1 - t0
        tr_s += t2 - t1
        n_fit += len(train)
        width = X.shape[1]
        model = LinearSVC(C=1.0, random_state=seed).fit(X[train], y[train])
        pred = model.predict(X[test])
        acc.append(accuracy_score(y[test], pred))
        f1.append(f1_score(y[test], pred, average="macro"))
    n_transformed = len(folds) * len(images)
    return {
        "accuracy": float(np.mean(acc)),
        "macro_f1": float(np.mean(f1)),
        "macro_f1_std": float(np.std(f1)),
        "fit_per_1k": 1000 * fit_s / n_fit,
        "transform_per_1k": 1000 * tr_s / n_transformed,
        "width": width,
    }


def main(argv=None):
    from sklearn.model_selection import StratifiedKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="folds run (of 5)")
    parser.add_argument("--only", nargs="+", choices=list(GRID), help="configs")
    args = parser.parse_args(argv)
    images, frame = load_emoji()
    y = frame["category"].to_numpy(dtype=str)
    split = StratifiedKFold(5, shuffle=True, random_state=0)
    folds = list(split.split(np.zeros(len(y)), y))[: args.folds]
    print(machine_line(), flush=True)
    names = args.only or list(GRID)
    results = {}
    for name in names:
        load = load_average()
        results[name] = r = run(name, images, y, folds)
        r["load"] = load
        print(
            f"{name}: macro-F1 {r['macro_f1']:.4f} accuracy {r['accuracy']:.4f} "
            f"fit {r['fit_per_1k']:.2f} s/1k transform {r['transform_per_1k']:.2f} "
            f"s/1k (load {load:.1f})",
            flush=True,
        )
    base = results.get("bow-512")
    rows = []
    for name, r in results.items():
        ratio = None
        if base is not None:
            total = r["fit_per_1k"] + r["transform_per_1k"]
            ratio = total / (base["fit_per_1k"] + base["transform_per_1k"])
        rows.append(
            [
                name,
                r["width"],
                fmt(r["accuracy"], ".3f"),
                f"{r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f}",
                fmt(r["fit_per_1k"], ".2f"),
                fmt(r["transform_per_1k"], ".2f"),
                fmt(ratio, ".2f"),
            ]
        )
    print(
        table(
            f"image-only LinearSVC on emoji ({len(y)} images), "
            f"{len(folds)} of 5 stratified folds",
            [
                "encoding",
                "columns",
                "accuracy",
                "macro-F1",
                "fit s/1k",
                "transform s/1k",
                "time vs bow-512",
            ],
            rows,
            notes=[
                "fit: VisualWords.fit per 1,000 training images; transform: per "
                "1,000 images; time vs bow-512: (fit + transform) / bow-512's",
                "bags: sublinear TF-IDF + L2 (as MultimodalFeatures) or the "
                "Hellinger map; vlad/fisher: power 0.5 + L2",
            ],
        )
    )


if __name__ == "__main__":
    main()
