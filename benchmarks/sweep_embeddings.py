"""Sweep of the PPMI-SVD settings that matter, scored on word similarity and analogies.

Run ``python benchmarks/sweep_embeddings.py [--quick] [--plan NAME,...]``. Not run
by ``make bench`` (it takes about an hour on the full corpus, 2 cores); it is how
the defaults of ``cooc build`` and ``cooc embed`` were chosen. Prints one table
row per setting, then the rows ranked by the mean of the three similarity
scores, marking those that reach the targets of issue 4 (WS353 >= 0.65,
SimLex >= 0.31, MEN >= 0.70).

The settings come in groups (``--plan``):

``counting``
    window 2 .. 10, harmonic / uniform / linear distance weights, word2vec's
    dynamic window, frequent-word subsampling, at PPMI alpha 0.75, rank 300,
    eigenvalue power p 0 and 0.5, vectors w and w + c.
``windows``
    wider windows (15, 20), and windows 5 to 15 with milder subsampling,
    p 0, 0.25 and 0.5, w + c, rank 300 (after reading ``counting``).
``weighting``
    on the two best matrices of ``windows`` (window 10 and 15, subsampling
    1e-4): PPMI context smoothing alpha (0.75, 1), shift (1, 2, 5), p in
    {0, 0.25, 0.5}, w + c with or without unit rows before the sum, rank 300
    and 500.
``final``
    around the best of the above: windows 8 to 15 with subsampling 2e-4 and
    3e-4, ranks 300, 500 and 700; windows 10 to 20 without subsampling at
    rank 500.
``seeds``
    the chosen defaults (window 15, rank 500) and their neighbours p 0 and 0.25
    with four seeds of the randomized SVD (seed 0 is the default's); and the
    runner-up (window 15 with subsampling 3e-4) with three subsampling seeds.
``decay``
    power-law distance weights 1/d**a, a from 1 (harmonic) to 2, at windows
    15 and 10, rank 500, p 0 to 0.25, four SVD seeds each: steeper weights
    shrink the PPMI matrix (fewer positive entries) and trade WS353 for SimLex.
``solver``
    the same with cheaper randomized SVDs (power iterations / oversamples
    4/100, 3/100, 2/100 instead of svd_embed's 6 / k/2), four seeds each:
    how much accuracy of the SVD the word vectors need.

A matrix is counted once per counting setting and cached in the bench cache
folder (``.cooc``); one SVD at the largest rank of a group serves every rank,
power and w / w + c row of a (matrix, alpha, shift, SVD seed and settings): a
rank-r row uses the top r components of that decomposition; the ``svd`` column
gives the power iterations / oversamples of the randomized SVD. Scores are
cached too (``--fresh`` recomputes them); the ``cached`` column says which rows
come from an earlier run. The defaults are checked end to end, through the CLI, by
``bench_word2vec.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import embedding_eval
from common import fmt, human, table

TARGETS = {"WS353": 0.65, "SimLex": 0.31, "MEN": 0.70}
MIN_COUNT = 5


def C(
    window=5, weighting="harmonic", dynamic=False, subsample=None, seed=0, decay=None
):
    """A counting setting (the options of ``cooc build``; ``seed`` is --seed).

    ``decay`` sets ``weighting="power"`` (1/d**decay).
    """
    c = {
        "window": window,
        "weighting": "power" if decay is not None else weighting,
        "dynamic": dynamic,
        "subsample": subsample,
    }
    # absent unless set, so the keys of earlier rows stay valid
    if seed:
        c["seed"] = seed
    if decay is not None:
        c["decay"] = decay
    return c


def E(rank=300, power=0.5, vectors="w+c"):
    """A setting of the embedding step after the SVD (``cooc embed``)."""
    return {"rank": rank, "power": power, "vectors": vectors}


def _grid(ranks, powers, vectors):
    return [E(r, p, v) for r in ranks for p in powers for v in vectors]


PLANS = {
    "counting": [
        (
            [
                C(2),
                C(3),
                C(5),
                C(8),
                C(10),
                C(5, "uniform"),
                C(5, "linear"),
                C(3, "uniform"),
                C(5, dynamic=True),
                C(10, dynamic=True),
                C(3, subsample=1e-5),
                C(5, subsample=1e-5),
                C(5, subsample=1e-4),
                C(10, subsample=1e-5),
            ],
            [(0.75, 1.0)],
            _grid([300], [0.0, 0.5], ["w", "w+c"]),
        )
    ],
    "windows": [
        (
            [
                C(15),
                C(20),
                C(10, "uniform"),
                C(5, subsample=3e-5),
                C(5, subsample=3e-4),
                C(8, subsample=1e-4),
                C(10, subsample=1e-4),
                C(15, subsample=1e-4),
            ],
            [(0.75, 1.0)],
            _grid([300], [0.0, 0.25, 0.5], ["w+c"]),
        )
    ],
    "weighting": [
        (
            [C(10, subsample=1e-4), C(15, subsample=1e-4)],
            [(0.75, 1.0), (1.0, 1.0), (0.75, 2.0), (0.75, 5.0)],
            _grid([300, 500], [0.0, 0.25, 0.5], ["w+c", "w+c unit"]),
        )
    ],
    "final": [
        (
            [
                C(8, subsample=2e-4),
                C(10, subsample=2e-4),
                C(10, subsample=3e-4),
                C(15, subsample=2e-4),
                C(15, subsample=3e-4),
            ],
            [(0.75, 1.0)],
            _grid([300, 500], [0.0, 0.25, 0.5], ["w+c"]),
        ),
        (
            [C(10, subsample=1e-4), C(10, subsample=2e-4)],
            [(0.75, 1.0)],
            _grid([700], [0.0, 0.25, 0.5], ["w+c"]),
        ),
        (
            [C(10), C(15), C(20)],
            [(0.75, 1.0)],
            _grid([500], [0.0, 0.1, 0.25], ["w+c"]),
        ),
        (
            [C(15, subsample=3e-4)],
            [(0.75, 1.0)],
            _grid([500], [0.1], ["w+c"]),
        ),
    ],
    "seeds": [
        (
            [C(15)],
            [(0.75, 1.0, seed) for seed in range(4)],
            _grid([500], [0.0, 0.1, 0.25], ["w+c"]),
        ),
        (
            [C(15, subsample=3e-4, seed=seed) for seed in range(3)],
            [(0.75, 1.0)],
            _grid([500], [0.0, 0.1, 0.25], ["w+c"]),
        ),
    ],
    "decay": [
        (
            [C(15, decay=a) for a in (1.0, 1.25, 1.5, 1.75, 2.0)]
            + [C(10, decay=a) for a in (1.5, 2.0)],
            [(0.75, 1.0, seed) for seed in range(4)],
            _grid([500], [0.0, 0.1, 0.15, 0.25], ["w+c"]),
        ),
    ],
    "solver": [
        (
            [C(15)],
            [
                (0.75, 1.0, seed, n_iter, n_over)
                for n_iter, n_over in ((4, 100), (3, 100), (2, 100))
                for seed in range(4)
            ],
            _grid([500], [0.1], ["w+c"]),
        )
    ],
}


def label_counting(c) -> str:
    parts = [f"w{c['window']}", c["weighting"][:3]]
    if "decay" in c:
        parts[-1] = f"1/d^{c['decay']:g}"
    if c["dynamic"]:
        parts.append("dyn")
    if c["subsample"]:
        parts.append(f"sub{c['subsample']:g}")
    if c.get("seed"):
        parts.append(f"seed{c['seed']}")
    return " ".join(parts)


# -- steps ----------------------------------------------------------------------------
def counted(files, c, quick):
    """The co-occurrence matrix of counting setting ``c`` (built once, cached)."""
    import cooc
    from cooc.cooccurrence import build_cooccurrence
    from cooc.io import load_cooc

    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = common._key(stamp, sorted(c.items()), MIN_COUNT, cooc.__version__)
    path = common.CACHE / f"sweep-{key}.cooc"
    if path.exists():
        return load_cooc(path), None
    t0 = time.perf_counter()
    m = build_cooccurrence(
        [str(f) for f in files],
        min_count=MIN_COUNT,
        window_size=c["window"],
        weighting=c["weighting"],
        dynamic_window=c["dynamic"],
        subsample=c["subsample"],
        random_state=c.get("seed", 0),
        **({"decay": c["decay"]} if "decay" in c else {}),
    )
    seconds = time.perf_counter() - t0
    common.CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"tmp{os.getpid()}-{path.name}")
    m.save(tmp)
    os.replace(tmp, path)
    return m, seconds


def vectors_of(U, S, Vt, e):
    from cooc.vectors import unit_rows

    r, p = e["rank"], e["power"]
    scale = S[:r] ** p if p else np.ones(r, dtype=S.dtype)
    w = U[:, :r] * scale
    if e["vectors"] == "w":
        return w
    c = Vt[:r].T * scale
    if e["vectors"] == "w+c unit":
        return unit_rows(w) + unit_rows(c)
    return w + c


# -- the sweep ------------------------------------------------------------------------
def run_plan(plan, files, args, results, cache):
    from cooc.svd import truncated_svd
    from cooc.vectors import Embeddings
    from cooc.weighting import ppmi

    for builds, weights, embeds in PLANS[plan]:
        rmax = max(e["rank"] for e in embeds)
        for c in builds:
            todo = [
                (w, e)
                for w in weights
                for e in embeds
                if args.fresh or _row_key(args, c, w, e) not in cache
            ]
            if not todo:
                for w in weights:
                    for e in embeds:
                        results.append(
                            {**cache[_row_key(args, c, w, e)], "cached": True}
                        )
                continue
            m, build_s = counted(files, c, args.quick)
            tokens = list(m.vocabulary.tokens)
            for weight in weights:
                alpha, shift = weight[:2]
                seed = weight[2] if len(weight) > 2 else 0
                # None: svd_embed's defaults (5 iterations, max(32, k // 2))
                n_iter, n_over = weight[3:5] if len(weight) > 3 else (None, None)
                need = [e for (w, e) in todo if w == weight]
                if need:
                    X = ppmi(m.matrix, context_alpha=alpha, shift=shift)
                    t0 = time.perf_counter()
                    U, S, Vt = truncated_svd(
                        X,
                        rmax,
                        solver="randomized",
                        n_iter=n_iter,
                        n_oversamples=n_over,
                        random_state=seed,
                    )
                    svd_s = time.perf_counter() - t0
                    del X
                for e in embeds:
                    key = _row_key(args, c, weight, e)
                    if e not in need:
                        results.append({**cache[key], "cached": True})
                        continue
                    emb = Embeddings(tokens, vectors_of(U, S, Vt, e))
                    row = {
                        "counting": label_counting(c),
                        "alpha": alpha,
                        "shift": shift,
                        "seed": seed,
                        "svd": f"{n_iter}/{n_over}" if n_iter is not None else "6/k/2",
                        **e,
                        **embedding_eval.score(emb),
                        "build_s": build_s,
                        "svd_s": svd_s,
                        "svd_rank": rmax,
                        "load": os.getloadavg()[0],
                    }
                    cache[key] = row
                    results.append({**row, "cached": False})
                    print(_row_text(results[-1]), flush=True)
                _save_cache(args, cache)


def _row_key(args, c, w, e) -> str:
    return json.dumps([args.quick, c, list(w), e], sort_keys=True)


def _cache_path(args) -> Path:
    return common.CACHE / f"sweep-scores-{'quick' if args.quick else 'full'}.json"


def _load_cache(args) -> dict:
    path = _cache_path(args)
    return json.loads(path.read_text()) if path.exists() and not args.fresh else {}


def _save_cache(args, cache):
    common.CACHE.mkdir(parents=True, exist_ok=True)
    tmp = _cache_path(args).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(cache))
    os.replace(tmp, _cache_path(args))


def _mean_sim(r) -> float:
    return float(np.mean([r[k] for k in TARGETS]))


def _meets(r) -> bool:
    return all(r[k] >= v for k, v in TARGETS.items())


def _cells(r):
    return [
        r["counting"],
        fmt(r["alpha"], "g"),
        fmt(r["shift"], "g"),
        r.get("seed", 0),
        r.get("svd", "6/k/2"),
        r["rank"],
        fmt(r["power"], "g"),
        r["vectors"],
        fmt(r["WS353"], ".3f"),
        fmt(r["SimLex"], ".3f"),
        fmt(r["MEN"], ".3f"),
        fmt(_mean_sim(r), ".3f"),
        fmt(r["analogy"], ".3f"),
        "yes" if _meets(r) else "",
        fmt(r["build_s"], ".0f") if r["build_s"] is not None else "disk",
        fmt(r["svd_s"], ".0f"),
        "yes" if r.get("cached") else "",
    ]


COLUMNS = [
    "counting",
    "alpha",
    "shift",
    "seed",
    "svd",
    "rank",
    "p",
    "vectors",
    "WS353",
    "SimLex",
    "MEN",
    "mean sim",
    "analogy",
    "targets",
    "build s",
    "svd s",
    "cached",
]


def _row_text(r) -> str:
    return "  ".join(str(x) for x in _cells(r))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"use the {human(common.QUICK_TOKENS)}-token subset",
    )
    p.add_argument(
        "--plan",
        default=",".join(PLANS),
        help=f"comma-separated subset of {','.join(PLANS)}",
    )
    p.add_argument("--fresh", action="store_true", help="ignore cached scores")
    p.add_argument("--top", type=int, default=25, help="rows in the ranked table")
    args, _ = p.parse_known_args(argv)
    data = "1M-token subset" if args.quick else "full corpus"
    print(f"# sweep_embeddings ({data}); {common.machine_line()}", flush=True)
    files = common.bench_files(args.quick)
    embedding_eval.eval_dir()
    cache = _load_cache(args)
    t0 = time.perf_counter()
    for plan in args.plan.split(","):
        results = []
        run_plan(plan, files, args, results, cache)
        if not results:
            continue
        print(
            table(
                f"sweep '{plan}' ({data}, min_count {MIN_COUNT})",
                COLUMNS,
                [_cells(r) for r in results],
                [
                    "rho on the covered pairs (coverage is the same for every row: "
                    "same vocabulary); analogy = 3CosAdd accuracy, top 30k words",
                    "svd s = one randomized SVD at the largest rank of the group, "
                    "shared by its rows; build s = counting, once per counting setting "
                    "('disk': the matrix was counted by an earlier run)",
                    f"load average now: {embedding_eval.load_text()}",
                ],
            ),
            flush=True,
        )
        ranked = sorted(results, key=_mean_sim, reverse=True)[: args.top]
        print(
            table(
                f"sweep '{plan}': best {len(ranked)} by mean similarity rho",
                COLUMNS,
                [_cells(r) for r in ranked],
                ["targets = WS353 >= 0.65, SimLex >= 0.31 and MEN >= 0.70"],
            ),
            flush=True,
        )
    print(f"   (sweep: {time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
