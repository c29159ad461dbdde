"""Truncated SVD benchmark: cooc's randomized solver against scikit-learn and ARPACK.

Run ``python benchmarks/bench_svd.py [--quick] [--repeat N] [--ranks 128,300]``
(or ``make bench``). The input is the PPMI matrix (context smoothing 0.75, float32
CSR) of the window-5 co-occurrence counts of the real corpus
(``shared/data/corpus/*.txt.gz``, vocabulary: words seen at least 5 times, as
``cooc build`` does by default). For each rank k:

* cooc ``svd_embed(X, k)`` with its defaults (shifted subspace iteration,
  ``n_iter`` and oversampling as shipped), on 2 threads and on 1;
* scikit-learn ``randomized_svd`` with the same oversampling and the same
  number of power iterations as cooc, and with its own default of 7;
* scikit-learn ``TruncatedSVD(algorithm="randomized")``, same oversampling and
  iterations as cooc;
* ``randomized_svd`` again with OpenBLAS limited to one thread (threadpoolctl),
  in case BLAS threads fighting over a loaded machine are what makes it slow;
* scipy ``svds`` (ARPACK, float64): the reference the errors are measured
  against. Its singular values are cached in the bench cache folder, since
  ARPACK takes minutes at rank 300; the table says when the row is cached.

Columns: seconds (best of ``--repeat``), ``x time`` (seconds / cooc's 2-thread
seconds), peak and extra resident memory of the worker process during the
timed call, and the relative error of the singular values against ARPACK:
of the k-th (the smallest, where randomized methods are worst) and the mean
over the top k. Every method runs in its own fresh process (see ``common.py``).
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

SCRIPT = Path(__file__).resolve()
WINDOW = 5
MIN_COUNT = 5
ALPHA = 0.75


# =====================================================================================
# input
# =====================================================================================
def matrix_path(quick: bool) -> Path:
    """The window-5 ``.cooc`` of the corpus, built once with cooc and cached."""
    import cooc

    files = common.bench_files(quick)
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    path = common.CACHE / (
        f"svd-input-{common._key(stamp, WINDOW, MIN_COUNT, cooc.__version__)}.cooc"
    )
    if not path.exists():
        from cooc.cooccurrence import build_cooccurrence

        common.CACHE.mkdir(parents=True, exist_ok=True)
        # harmonic weights, as in every earlier run of this table (the
        # default of `cooc build` is now 1/d**1.25; the solver's speed and
        # accuracy hardly depend on it)
        m = build_cooccurrence(
            [str(f) for f in files],
            window_size=WINDOW,
            weighting="harmonic",
            min_count=MIN_COUNT,
        )
        tmp = path.with_name(f"tmp{os.getpid()}-{path.name}")
        m.save(tmp)
        os.replace(tmp, path)
    return path


def _ppmi(path):
    from cooc.io import load_cooc
    from cooc.weighting import ppmi

    return ppmi(load_cooc(path).matrix, context_alpha=ALPHA, dtype=np.float32)


def cooc_defaults(k: int) -> tuple[int, int]:
    """cooc's default ``(n_iter, n_oversamples)`` at rank k."""
    from cooc import svd

    return svd.DEFAULT_N_ITER, svd.default_n_oversamples(k)


# =====================================================================================
# workers (each runs in its own process)
# =====================================================================================
def w_svd(
    method, path, k, n_iter, n_oversamples, n_jobs, repeat, max_seconds, blas=None
):
    if blas is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=blas, user_api="blas")
    X = _ppmi(path)
    if method == "cooc":
        from cooc.svd import svd_embed

        svd_embed(X[:200, :200], 8, random_state=0, n_jobs=n_jobs)  # compile

        def run():
            return svd_embed(X, k, power=1.0, random_state=0, n_jobs=n_jobs)[1]

    elif method == "randomized_svd":
        from sklearn.utils.extmath import randomized_svd

        def run():
            return randomized_svd(
                X, k, n_oversamples=n_oversamples, n_iter=n_iter, random_state=0
            )[1]

    elif method == "TruncatedSVD":
        from sklearn.decomposition import TruncatedSVD

        def run():
            est = TruncatedSVD(
                k,
                algorithm="randomized",
                n_iter=n_iter,
                n_oversamples=n_oversamples,
                random_state=0,
            )
            est.fit_transform(X)
            return est.singular_values_

    elif method == "arpack":
        from scipy.sparse.linalg import svds

        X64 = X.astype(np.float64)
        del X
        v0 = np.random.RandomState(0).uniform(-1, 1, min(X64.shape))

        def run():
            return np.sort(
                svds(X64, k=k, v0=v0, solver="arpack", return_singular_vectors=False)
            )[::-1]

    else:
        raise ValueError(method)
    s = common.timed_section(run, repeat, max_seconds)
    values = np.asarray(s.pop("out"), dtype=np.float64)
    return {
        **s,
        "singular_values": values,
        "shape": list(X.shape if method != "arpack" else X64.shape),
    }


WORKERS = {"svd": w_svd}


# =====================================================================================
# the table
# =====================================================================================
def arpack_reference(path: Path, k: int, args) -> dict:
    """ARPACK's top-k singular values of the input, computed once and cached."""
    cache = path.with_name(f"{path.stem}-arpack-{k}.json")
    if cache.exists():
        out = json.loads(cache.read_text())
        out["cached"] = True
        return out
    out = common.run_worker(
        SCRIPT,
        "svd",
        timeout=3600,
        method="arpack",
        path=str(path),
        k=k,
        n_iter=0,
        n_oversamples=0,
        n_jobs=1,
        repeat=1,
        max_seconds=None,
    )
    if "error" not in out:
        cache.write_text(json.dumps(out))
    out["cached"] = False
    return out


def errors(values, reference):
    """Relative errors (%) of the k-th and the mean over the top k (positive = low)."""
    if values is None or reference is None:
        return None, None
    v, r = np.asarray(values), np.asarray(reference)[: len(values)]
    rel = (r - v) / r * 100
    return float(rel[-1]), float(rel.mean())


def rank_table(path: Path, k: int, args) -> str:
    n_iter, n_over = cooc_defaults(k)
    base = {
        "path": str(path),
        "k": k,
        "repeat": args.repeat,
        "max_seconds": args.max_seconds,
    }
    runs = [
        ("cooc svd_embed, 2 threads", "cooc", n_iter, n_over, 2),
        ("cooc svd_embed, 1 thread", "cooc", n_iter, n_over, 1),
        ("sklearn randomized_svd, same n_iter", "randomized_svd", n_iter, n_over, None),
        ("sklearn randomized_svd, n_iter=7", "randomized_svd", 7, n_over, None),
        ("sklearn TruncatedSVD, same n_iter", "TruncatedSVD", n_iter, n_over, None),
        (
            "sklearn randomized_svd, same n_iter, 1 BLAS thread",
            "randomized_svd",
            n_iter,
            n_over,
            "blas1",
        ),
    ]
    if args.skip_sklearn:
        runs = runs[:2]
    ref = arpack_reference(path, k, args)
    reference = ref.get("singular_values")
    results = []
    for label, method, it, over, n_jobs in runs:
        blas = 1 if n_jobs == "blas1" else None
        out = common.run_worker(
            SCRIPT,
            "svd",
            timeout=3600,
            method=method,
            n_iter=it,
            n_oversamples=over,
            n_jobs=None if blas else n_jobs,
            blas=blas,
            **base,
        )
        results.append((label, it, over, out))
    results.append(("scipy svds (ARPACK, float64)", "-", "-", ref))
    cooc_s = results[0][3].get("seconds")
    rows = []
    for label, it, over, out in results:
        if "error" in out:
            rows.append([label, it, over, "error: " + out["error"][:60]] + [None] * 6)
            continue
        e_k, e_mean = errors(out["singular_values"], reference)
        rows.append(
            [
                label + (" [cached]" if out.get("cached") else ""),
                it,
                over,
                fmt(out["seconds"]),
                fmt(out["seconds"] / cooc_s if cooc_s else None),
                fmt(out["peak_mib"], ".0f"),
                fmt(out["extra_mib"], ".0f"),
                fmt(e_k, ".3f"),
                fmt(e_mean, ".3f"),
                len(out["all_seconds"]),
            ]
        )
    shape = results[0][3].get("shape", ["?", "?"])
    notes = [
        f"input: PPMI (alpha {ALPHA}) of window-{WINDOW} counts, "
        f"{shape[0]} x {shape[1]}, float32 CSR; time = best of the runs, wall "
        "clock; 'x time' = seconds / cooc 2 threads (2.0 = half as fast as cooc)",
        "err = relative error of the singular value vs ARPACK in %, positive = too "
        "small (randomized methods underestimate); 'k-th' is the smallest of the k",
        "sklearn uses scipy's one-threaded sparse products and OpenBLAS threads for "
        "its LU/QR/SVD steps; the '1 BLAS thread' row limits those to one thread "
        "(on a loaded 2-core machine OpenBLAS's waiting threads can slow it down)",
        f"load average after the table: {embedding_eval.load_text()}",
    ]
    if ref.get("cached"):
        notes.append(
            "ARPACK row: singular values and seconds from an earlier run, cached in "
            f"{path.parent} (delete *-arpack-*.json to remeasure)"
        )
    return table(
        f"truncated SVD, rank {k}",
        [
            "method",
            "n_iter",
            "oversamples",
            "seconds",
            "x time",
            "peak MiB",
            "extra MiB",
            "err k-th %",
            "err mean %",
            "runs",
        ],
        rows,
        notes,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"use the {human(common.QUICK_TOKENS)}-token subset",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (best kept)"
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="stop repeating a measurement once its runs took this long",
    )
    p.add_argument("--ranks", default="128,300", help="comma-separated ranks")
    p.add_argument(
        "--skip-sklearn",
        action="store_true",
        help="only cooc and ARPACK (for quick checks of cooc's solver)",
    )
    args, _ = p.parse_known_args(argv)
    data = "1M-token subset" if args.quick else "full corpus"
    print(f"# bench_svd ({data}); {common.machine_line()}", flush=True)
    path = matrix_path(args.quick)
    for k in (int(x) for x in args.ranks.split(",")):
        t0 = time.perf_counter()
        print(rank_table(path, k, args), flush=True)
        print(f"   (rank {k}: {time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
