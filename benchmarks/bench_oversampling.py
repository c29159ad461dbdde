"""Oversampling and power iterations of cooc's randomized SVD: accuracy against cost.

Run ``python benchmarks/bench_oversampling.py [--ranks 128,300,500] [--seeds 3]``.
The question: how much accuracy do fewer random columns (oversamples ``p``
beyond the rank ``k``) and fewer power iterations (``n_iter``) lose, against
what they save on the streaming path of ``cooc embed`` (``cooc.streaming``),
where every pass over the matrix costs time in proportion to the columns
``k + p`` rounded up to panels of 64 and there are ``2 * n_iter + 2`` passes?

Input: the PPMI matrix (cooc's defaults: alpha 0.75, no shift, float32 CSR)
of ``cooc build CORPUS/*.txt.gz`` with cooc's default counting (window 15,
1/d**1.25, min count 5), built once with the CLI and cached; optionally
(``--synthetic``) a larger-vocabulary check on a synthetic corpus
(``benchmarks/synthetic.py``, counted with ``--tokenizer whitespace
--no-lowercase --window 10 --min-count 5``), singular values only. For each
rank ``k`` and each ``(n_iter, p)`` of the grid (the default
``(5, max(32, k // 2))`` first):

* ``svd_embed`` with those settings and what ``cooc embed`` does after it
  (eigenvalue power 0.15, context vectors added, rows normalised);
* the relative error of each of the ``k`` singular values against ARPACK
  (``scipy.sparse.linalg.svds`` in float64, computed once at the largest rank
  with ``bench_svd.py``'s worker and cached beside the ``.cooc``; the top
  ``k`` of a larger ARPACK run are as exact as a rank-``k`` run's): the
  largest over the ``k``, the ``k``-th, and the largest over the top 90 %;
* Spearman's rho on WS353, SimLex-999 and MEN (``embedding_eval.score``);
* the cost ``(2 * n_iter + 2) * ceil((k + p) / 64)`` in panel passes, and
  ``x cost`` against the default's (the streaming embed's time is almost all
  passes);
* seed spread: the default and the two most promising cheaper settings (the
  cheapest whose singular values pass at seed 0; ``--seed-settings`` to pick)
  are rerun with seeds ``1 .. --seeds - 1``; their rows show min-max (when
  none passes, the two cheaper ones with the smallest top-90 % error).

A setting is marked ``ok`` when its singular values over the top 90 % are
within 1e-3 relative of ARPACK's (worst seed) and each similarity score
(mean over its seeds) is at least the default's lowest seed. Each rank runs
in fresh worker processes (see ``common.py``); seconds are one run each, on a
shared machine: compare settings by cost, not by seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_svd
import common
import embedding_eval
from common import fmt, table

SCRIPT = Path(__file__).resolve()
PANEL = 64  # cooc._kernels.PANEL: columns per pass of the streamed products
SV_TOL = 1e-3  # relative error allowed over the top TOP_SHARE of the spectrum
TOP_SHARE = 0.9

# (n_iter, oversamples); "half" is k // 2 (the default is max(32, k // 2)).
GRID = [
    (5, "default"),
    (5, 20),
    (5, 32),
    (5, 84),
    (5, "half"),
    (4, 20),
    (4, 84),
    (4, "half"),
    (3, 20),
    (3, 84),
    (3, "half"),
]
SYNTHETIC_ARGS = [
    "--tokenizer",
    "whitespace",
    "--no-lowercase",
    "--window",
    "10",
    "--min-count",
    "5",
]


# =====================================================================================
# settings and cost
# =====================================================================================
def default_setting(k: int) -> tuple[int, int]:
    return bench_svd.cooc_defaults(k)


def oversamples(spec, k: int) -> int:
    if spec == "default":
        return default_setting(k)[1]
    if spec == "half":
        return k // 2
    return int(spec)


def grid(k: int) -> list[tuple[int, int]]:
    """The ``(n_iter, p)`` settings at rank k, default first, without repeats."""
    out = []
    for it, spec in GRID:
        s = (it, oversamples(spec, k))
        if s not in out:
            out.append(s)
    return out


def cost(k: int, n_iter: int, p: int) -> int:
    """Panel passes of the streaming embed: ``(2 n_iter + 2) * ceil((k + p) / 64)``."""
    return (2 * n_iter + 2) * math.ceil((k + p) / PANEL)


def parse_settings(text: str, k: int) -> list[tuple[int, int]]:
    """``"4:84,3:half"`` -> ``[(4, 84), (3, k // 2)]``."""
    out = []
    for item in filter(None, text.split(",")):
        it, spec = item.split(":")
        out.append((int(it), oversamples(spec, k)))
    return out


# =====================================================================================
# input
# =====================================================================================
def data_dir(arg) -> Path:
    """``--corpus`` (a folder of ``*.txt.gz``), else ``$COOC_DATA/corpus``, else
    the benchmarks' default corpus folder."""
    if arg:
        return Path(arg)
    env = os.environ.get("COOC_DATA")
    if env:
        return Path(env) / "corpus"
    return common.CORPUS_DIR


def built_cooc(files: list[Path], name: str, extra: list[str]) -> Path:
    """``cooc build FILES [extra] -o CACHE/...cooc``, once (cached by the files'
    names, sizes and times, the arguments and cooc's version)."""
    import cooc

    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    path = common.CACHE / (
        f"oversampling-{name}-{common._key(stamp, extra, cooc.__version__)}.cooc"
    )
    if not path.exists():
        common.CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"tmp{os.getpid()}-{path.name}")
        cmd = [sys.executable, "-m", "cooc", "build", *map(str, files)]
        subprocess.run(
            [*cmd, *extra, "-q", "-o", str(tmp)], check=True, stdout=sys.stderr
        )
        os.replace(tmp, path)
    return path


def _cached_reference(path: Path, k: int) -> dict | None:
    for cached in sorted(path.parent.glob(f"{path.stem}-arpack-*.json")):
        rank = int(cached.stem.rsplit("-", 1)[1])
        if rank >= k:
            out = json.loads(cached.read_text())
            out["cached"], out["rank"] = True, rank
            return out
    return None


def reference(path: Path, k: int, k_max: int) -> dict:
    """ARPACK's singular values, top k: from any cached run at a rank >= k
    (``bench_svd.arpack_reference``'s cache), else computed at ``k_max``.

    While one process computes it, a ``.lock`` file beside the ``.cooc`` makes
    the others wait for the cache (a lock older than two hours is ignored)."""
    lock = path.with_name(f"{path.stem}-arpack.lock")
    while (out := _cached_reference(path, k)) is None:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if time.time() - lock.stat().st_mtime > 7200:
                lock.unlink(missing_ok=True)
            time.sleep(10)
            continue
        os.close(fd)
        try:
            out = bench_svd.arpack_reference(path, max(k, k_max), None)
        finally:
            lock.unlink(missing_ok=True)
        out["rank"] = max(k, k_max)
        return out
    return out


# =====================================================================================
# worker (one process per matrix and rank)
# =====================================================================================
def w_runs(path, k, runs, scores):
    """``svd_embed`` at rank k for each ``[n_iter, p, seed]``, as ``cooc embed``."""
    from cooc.io import load_cooc
    from cooc.pipeline import DEFAULT_POWER, weight_cooccurrence
    from cooc.svd import Embeddings, svd_embed

    cooc = load_cooc(path)
    X = weight_cooccurrence(cooc)
    tokens = list(cooc.vocabulary.tokens)
    symmetric = X.shape[0] == X.shape[1]
    del cooc
    svd_embed(X[:200, :200], 8, random_state=0)  # numba compilation
    out = []
    for n_iter, p, seed in runs:
        t0 = time.perf_counter()
        vectors, S = svd_embed(
            X,
            k,
            power=DEFAULT_POWER,
            add_context=symmetric,
            n_iter=n_iter,
            n_oversamples=p,
            random_state=seed,
        )
        seconds = time.perf_counter() - t0
        row = {
            "n_iter": n_iter,
            "p": p,
            "seed": seed,
            "seconds": seconds,
            "singular_values": np.asarray(S, dtype=np.float64),
        }
        if scores:
            row["scores"] = embedding_eval.score(
                Embeddings(tokens, vectors).normalized(), analogies=False
            )
        out.append(row)
        print(
            f"   k={k} n_iter={n_iter} p={p} seed={seed}: {seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return {"runs": out, "shape": list(X.shape), "nnz": int(X.nnz)}


WORKERS = {"runs": w_runs}


# =====================================================================================
# the table
# =====================================================================================
def sv_errors(values, ref) -> dict:
    """Relative errors of the singular values (positive = too small)."""
    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)[: v.size]
    rel = (r - v) / r
    top = max(1, math.ceil(TOP_SHARE * v.size))
    return {
        "max": float(np.abs(rel).max()),
        "kth": float(rel[-1]),
        "top90": float(np.abs(rel[:top]).max()),
    }


def run_rank(path, k, k_max, args, scores: bool, seed_settings) -> dict:
    """Every setting at rank k (seed 0), then the seed reruns; the results."""
    env = {"COOC_BENCH_EVAL": str(args.eval_dir)} if args.eval_dir else None
    settings = grid(k)
    out = common.run_worker(
        SCRIPT,
        "runs",
        timeout=7200,
        env=env,
        path=str(path),
        k=k,
        runs=[[it, p, 0] for it, p in settings],
        scores=scores,
    )
    if "error" in out:
        raise SystemExit(f"rank {k}: {out['error']}")
    ref = reference(path, k, k_max)
    if "error" in ref:
        raise SystemExit(f"ARPACK failed at rank {k}: {ref['error']}")
    runs = out["runs"]
    for r in runs:
        r["err"] = sv_errors(r["singular_values"], ref["singular_values"])
    # seed reruns: the default and the two most promising cheaper settings
    default = settings[0]
    if args.seeds > 1 and scores:
        if seed_settings:
            chosen = parse_settings(seed_settings, k)
        else:
            base_cost = cost(k, *default)
            cheaper = [r for r in runs if cost(k, r["n_iter"], r["p"]) < base_cost]
            passing = [r for r in cheaper if r["err"]["top90"] <= SV_TOL]
            rest = sorted(
                (r for r in cheaper if r not in passing),
                key=lambda r: r["err"]["top90"],
            )
            passing.sort(
                key=lambda r: (cost(k, r["n_iter"], r["p"]), r["err"]["top90"])
            )
            chosen = [(r["n_iter"], r["p"]) for r in (passing + rest)[:2]]
        more = [
            [it, p, seed]
            for it, p in [default, *chosen]
            for seed in range(1, args.seeds)
        ]
        extra = common.run_worker(
            SCRIPT,
            "runs",
            timeout=7200,
            env=env,
            path=str(path),
            k=k,
            runs=more,
            scores=scores,
        )
        if "error" in extra:
            raise SystemExit(f"rank {k}, seeds: {extra['error']}")
        for r in extra["runs"]:
            r["err"] = sv_errors(r["singular_values"], ref["singular_values"])
        runs += extra["runs"]
    return {
        "k": k,
        "runs": runs,
        "shape": out["shape"],
        "nnz": out["nnz"],
        "arpack": {
            "rank": ref["rank"],
            "seconds": ref.get("seconds"),
            "cached": ref.get("cached", False),
        },
    }


def summarise(result: dict) -> list[dict]:
    """One entry per setting: seeds pooled, errors worst over seeds."""
    k = result["k"]
    by = {}
    for r in result["runs"]:
        by.setdefault((r["n_iter"], r["p"]), []).append(r)
    rows = []
    for (it, p), rs in by.items():
        seed0 = next(r for r in rs if r["seed"] == 0)
        row = {
            "k": k,
            "n_iter": it,
            "p": p,
            "cost": cost(k, it, p),
            "seeds": len(rs),
            "seconds": seed0["seconds"],
            "err_max": max(r["err"]["max"] for r in rs),
            "err_kth": max((r["err"]["kth"] for r in rs), key=abs),
            "err_top90": max(r["err"]["top90"] for r in rs),
        }
        if "scores" in seed0:
            for name in embedding_eval.SIMILARITY:
                vals = [r["scores"][name] for r in rs]
                row[name] = (min(vals), float(np.mean(vals)), max(vals))
        rows.append(row)
    default = rows[0]
    for row in rows:
        row["x_cost"] = row["cost"] / default["cost"]
        row["x_time"] = row["seconds"] / default["seconds"]
        row["sv_ok"] = row["err_top90"] <= SV_TOL
        if "WS353" in row:
            row["sim_ok"] = all(
                row[n][1] >= default[n][0] for n in embedding_eval.SIMILARITY
            )
    return rows


def recommend(rows: list[dict]):
    """The cheapest setting cheaper than the default that passes both tests."""
    ok = [
        r
        for r in rows[1:]
        if r["sv_ok"] and r.get("sim_ok", True) and r["cost"] < rows[0]["cost"]
    ]
    return min(ok, key=lambda r: (r["cost"], r["err_top90"])) if ok else None


def score_cell(v) -> str:
    if v is None:
        return "-"
    lo, mean, hi = v
    return f"{mean:.3f}" if hi == lo else f"{lo:.3f}-{hi:.3f}"


def render(results: list[tuple[str, dict]]) -> str:
    rows_out, notes, seen = [], [], set()
    order = {data: i for i, (data, _) in reversed(list(enumerate(results)))}
    results = sorted(results, key=lambda dr: (order[dr[0]], dr[1]["k"]))
    for data, result in results:
        rows = summarise(result)
        best = recommend(rows)
        for r in rows:
            checks = [("sv", r["sv_ok"]), ("sim", r.get("sim_ok"))]
            verdict = " ".join(name for name, ok in checks if ok) or "-"
            if r is rows[0]:
                verdict = "default" + (" (sv)" if r["sv_ok"] else "")
            elif r is best:
                verdict = "ok, cheapest"
            elif r["sv_ok"] and r.get("sim_ok", True):
                verdict = "ok"
            rows_out.append(
                [
                    data,
                    r["k"],
                    r["n_iter"],
                    r["p"],
                    r["k"] + r["p"],
                    r["cost"],
                    fmt(r["x_cost"]),
                    fmt(100 * r["err_max"], ".3f"),
                    fmt(100 * r["err_kth"], ".3f"),
                    fmt(100 * r["err_top90"], ".3f"),
                    *(score_cell(r.get(n)) for n in embedding_eval.SIMILARITY),
                    r["seeds"],
                    fmt(r["seconds"], ".1f"),
                    fmt(r["x_time"]),
                    verdict,
                ]
            )
        a = result["arpack"]
        if (data, a["rank"]) in seen:
            continue
        seen.add((data, a["rank"]))
        notes.append(
            f"{data}: PPMI {result['shape'][0]} x {result['shape'][1]}, "
            f"{common.human(result['nnz'])} non-zeros; ARPACK at rank {a['rank']}"
            + (
                f" ({a['seconds']:.0f} s{', cached' if a['cached'] else ''})"
                if a.get("seconds")
                else ""
            )
        )
    notes += [
        "cost = (2 n_iter + 2) * ceil((k + p) / 64): panel passes over the matrix "
        "of the streaming embed; x cost = against the default (n_iter 5, "
        "p = max(32, k // 2)) at the same rank",
        "err = relative error of the singular values against ARPACK, in %, "
        "positive = too small: max over all k (absolute), the k-th (signed), "
        f"max over the top {TOP_SHARE:.0%}; worst over the seeds",
        "WS353 / SimLex / MEN: Spearman rho of the vectors cooc embed writes "
        "(power 0.15, w + c, unit rows); 'a-b' = min-max over the seeds, one "
        "number = seed 0 only",
        f"check: 'sv' = top-{TOP_SHARE:.0%} error <= {SV_TOL:g}; 'sim' = every "
        "score (mean over its seeds) >= the default's lowest seed; 'ok' = both",
        "seconds: one run of svd_embed (in memory) on a shared machine; secondary",
        f"load average after the table: {embedding_eval.load_text()}",
    ]
    return table(
        "randomized SVD: oversamples and power iterations",
        [
            "data",
            "k",
            "n_iter",
            "p",
            "k+p",
            "cost",
            "x cost",
            "err max %",
            "err k-th %",
            "err top90 %",
            *embedding_eval.SIMILARITY,
            "seeds",
            "seconds",
            "x time",
            "check",
        ],
        rows_out,
        notes,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--corpus",
        default=None,
        help="folder of the corpus (*.txt.gz); default $COOC_DATA/corpus, else "
        "$COOC_BENCH_CORPUS or ../shared/data/corpus",
    )
    p.add_argument(
        "--eval",
        dest="eval_dir",
        default=None,
        help="folder of the similarity files; default $COOC_DATA/similarity, else "
        "$COOC_BENCH_EVAL or similarity/ beside the corpus",
    )
    p.add_argument("--ranks", default="128,300,500", help="comma-separated ranks")
    p.add_argument(
        "--seeds", type=int, default=3, help="seeds of the seed-spread rows (1: none)"
    )
    p.add_argument(
        "--seed-settings",
        default=None,
        help="n_iter:p pairs rerun with every seed besides the default, e.g. "
        "4:84,3:half [default: the two cheapest passing the singular values at "
        "seed 0]",
    )
    p.add_argument(
        "--synthetic",
        default=str(common.CACHE / "synthetic-10M-seed0"),
        help="folder of a synthetic corpus (benchmarks/synthetic.py, *.txt) for "
        "the larger-vocabulary check; 'none' to skip [default: %(default)s]",
    )
    p.add_argument(
        "--synthetic-ranks", default="300", help="ranks of the synthetic check"
    )
    p.add_argument(
        "--cooc", default=None, help="use this .cooc instead of building the corpus's"
    )
    p.add_argument("--json", default=None, help="also write the raw results here")
    args, _ = p.parse_known_args(argv)
    if args.eval_dir is None and os.environ.get("COOC_DATA"):
        args.eval_dir = str(Path(os.environ["COOC_DATA"]) / "similarity")
    if args.eval_dir is None and args.corpus:
        args.eval_dir = str(Path(args.corpus).parent / "similarity")
    print(f"# bench_oversampling; {common.machine_line()}", flush=True)
    ranks = [int(x) for x in args.ranks.split(",") if x]
    if args.cooc:
        path = Path(args.cooc)
    else:
        folder = data_dir(args.corpus)
        files = sorted(folder.glob("*.txt.gz"))
        if not files:
            raise SystemExit(f"no *.txt.gz in {folder}; pass --corpus or COOC_DATA")
        path = built_cooc(files, "corpus", [])
    results = []
    for k in ranks:
        t0 = time.perf_counter()
        res = run_rank(path, k, max(ranks), args, True, args.seed_settings)
        results.append(("corpus", res))
        print(f"   (rank {k}: {time.perf_counter() - t0:.0f} s)", flush=True)
    syn = Path(args.synthetic) if args.synthetic != "none" else None
    if syn is not None and sorted(syn.glob("*.txt*")):
        syn_path = built_cooc(sorted(syn.glob("*.txt*")), syn.name, SYNTHETIC_ARGS)
        syn_ranks = [int(x) for x in args.synthetic_ranks.split(",") if x]
        for k in syn_ranks:
            t0 = time.perf_counter()
            res = run_rank(syn_path, k, max(syn_ranks), args, False, None)
            results.append((syn.name, res))
            print(f"   ({syn.name} rank {k}: {time.perf_counter() - t0:.0f} s)")
    elif syn is not None:
        print(f"   (no synthetic corpus in {syn}; skipped)")
    print()
    print(render(results), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, default=common._json_default))


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
