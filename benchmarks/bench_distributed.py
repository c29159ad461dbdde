"""Beyond one process: the Dask engine and the out-of-core build against the plain one.

Usage::

    python benchmarks/bench_distributed.py [--quick] [--shards 16] [--workers 2]
                                          [--rank 64] [--no-svd]

Every row is one ``cooc`` command run in fresh processes, on the real corpus
decompressed to plain text (so ``--shards`` cuts files at line boundaries):

* single machine: ``cooc build`` (the in-memory build);
* Dask, cold: ``cooc build --engine dask --workers 2 --shards N`` (a
  LocalCluster is started and stopped inside the timed command);
* Dask, warm: the same against a running ``dask scheduler`` and two
  ``dask worker`` processes (the README's set-up), ``--scheduler ADDRESS``;
* out of core: ``cooc build --memory M --spill-dir DIR`` with ``M`` a quarter
  of the single-machine peak RSS, and a quarter of its peak above the floor;
* SVD: ``cooc embed`` locally and with ``--engine dask`` on the warm cluster.

Memory is the kernel's peak resident set (``VmHWM``) of each process, read
from ``/proc`` while the command runs (the client, and each worker process).
"Floor" is the peak of the same command on a one-line corpus: the
interpreter, the libraries and the compiled kernels. Every matrix is compared
with the single-machine one, array for array.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, corpus_files, load_average, machine_line, quick_files, table

BIN = Path(sys.executable).parent


# -- processes and their memory -------------------------------------------------------
def _hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _reset_peak(pid: int) -> None:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def run_measured(cmd: list[str], env=None) -> dict:
    """Run ``cmd``; its wall time and the peak RSS of it and of each descendant."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peaks: dict[int, float] = {}
    while proc.poll() is None:
        for pid in [proc.pid, *_descendants(proc.pid)]:
            hwm = _hwm_mib(pid)
            if hwm is not None:
                peaks[pid] = max(peaks.get(pid, 0.0), hwm)
        time.sleep(0.05)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    client = peaks.pop(proc.pid, None)
    # The client's final peak: getrusage of the finished child is exact.
    return {
        "seconds": seconds,
        "client_mib": client,
        "children_mib": sorted(peaks.values(), reverse=True),
        "stdout": out,
        "stderr": err,
    }


def best_of(cmd: list[str], env, repeat: int, max_seconds: float, before=None) -> dict:
    """The fastest of up to ``repeat`` runs; memory peaks are the largest seen."""
    runs = []
    spent = 0.0
    while len(runs) < max(repeat, 1) and (not runs or spent < max_seconds):
        if before is not None:
            before()
        r = run_measured(cmd, env)
        spent += r["seconds"]
        runs.append(r)
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["client_mib"] = max(r["client_mib"] or 0 for r in runs)
    best["runs"] = len(runs)
    return best


def plain_corpus(files: list[Path]) -> list[Path]:
    """The corpus as uncompressed text files in the cache (made once)."""
    folder = CACHE / f"plain-{len(files)}-{sum(f.stat().st_size for f in files)}"
    done = folder / ".done"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            opener = gzip.open if f.suffix == ".gz" else open
            with (
                opener(f, "rb") as src,
                open(folder / f.name.removesuffix(".gz"), "wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
        done.touch()
    return sorted(folder.glob("*.txt"))


def same_matrix(a: Path, b: Path) -> bool:
    from cooc.io import load_cooc

    x, y = load_cooc(a), load_cooc(b)
    return (
        all(
            np.array_equal(getattr(x.matrix, n), getattr(y.matrix, n))
            for n in ("indptr", "indices", "data")
        )
        and x.vocabulary == y.vocabulary
        and x.params == y.params
        and {k: v for k, v in x.stats.items() if k != "sources"}
        == {k: v for k, v in y.stats.items() if k != "sources"}
    )


class LoopbackCluster:
    """``dask scheduler`` and ``n`` single-threaded ``dask worker`` processes."""

    def __init__(self, n_workers: int, folder: Path):
        info = folder / "scheduler.json"
        info.unlink(missing_ok=True)
        dask = str(BIN / "dask")
        self.procs = [
            subprocess.Popen(
                [
                    dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(info),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        ]
        while not info.exists():
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        self.workers = [
            subprocess.Popen(
                [dask, "worker", self.address, "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(n_workers)
        ]
        self.procs += self.workers
        from distributed import Client

        with Client(self.address) as c:
            c.wait_for_workers(n_workers, timeout=120)

    def worker_pids(self) -> list[int]:
        """The worker processes (a ``dask worker`` runs its worker in a child)."""
        pids = []
        for w in self.workers:
            pids += [w.pid, *_descendants(w.pid)]
        return pids

    def close(self):
        for p in self.procs:
            p.terminate()
        deadline = time.monotonic() + 30
        for p in self.procs:
            while p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if p.poll() is None:
                p.kill()
                p.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the 1M-token subset")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rank", type=int, default=64, help="rank of the SVD rows")
    ap.add_argument("--no-svd", action="store_true", help="skip the SVD rows")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row, fastest kept")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=60,
        help="stop repeating a row once its runs took this long",
    )
    args, _ = ap.parse_known_args(argv)
    print(machine_line(), flush=True)
    cooc = str(BIN / "cooc")
    files = plain_corpus(quick_files() if args.quick else corpus_files())
    names = [str(f) for f in files]
    work = Path(tempfile.mkdtemp(prefix="bench-distributed-", dir=CACHE))
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(CACHE / "numba"))
    load_start = load_average()
    rows, notes = [], []

    def timed(cmd, before=None):
        return best_of(cmd, env, args.repeat, args.max_seconds, before)

    try:
        tiny = work / "tiny.txt"
        tiny.write_text("one line of text\n")
        floor = run_measured(
            [
                cooc,
                "build",
                str(tiny),
                "-o",
                str(work / "t.cooc"),
                "--min-count",
                "1",
                "-q",
            ],
            env,
        )["client_mib"]
        # warm the numba cache and the page cache once (not timed)
        run_measured([cooc, "build", *names, "-o", str(work / "warm.cooc"), "-q"], env)

        single = timed(
            [cooc, "build", *names, "-o", str(work / "single.cooc"), "-q", "--json"]
        )
        base = single["seconds"]
        n_tokens = json.loads(single["stdout"])["n_tokens"]

        def row(name, r, out):
            workers = r["children_mib"][: args.workers] if r["children_mib"] else []
            rows.append(
                [
                    name,
                    f"{r['seconds'] / base:.2f}",
                    f"{r['seconds']:.1f}",
                    f"{n_tokens / r['seconds'] / 1e6:.2f}",
                    str(r.get("runs", 1)),
                    f"{r['client_mib']:.0f}" if r["client_mib"] else "-",
                    " / ".join(f"{w:.0f}" for w in workers) or "-",
                    "yes"
                    if out is None or same_matrix(work / "single.cooc", out)
                    else "NO",
                ]
            )

        row("single machine (in memory)", single, None)
        out = work / "dask-cold.cooc"
        r = timed(
            [
                cooc,
                "build",
                *names,
                "-o",
                str(out),
                "-q",
                "--engine",
                "dask",
                "--workers",
                str(args.workers),
                "--shards",
                str(args.shards),
            ]
        )
        row(f"Dask LocalCluster {args.workers} workers, cold (start+stop)", r, out)

        cluster = LoopbackCluster(args.workers, work)
        try:

            def reset():
                for pid in cluster.worker_pids():
                    _reset_peak(pid)

            out = work / "dask-warm.cooc"
            r = timed(
                [
                    cooc,
                    "build",
                    *names,
                    "-o",
                    str(out),
                    "-q",
                    "--engine",
                    "dask",
                    "--scheduler",
                    cluster.address,
                    "--shards",
                    str(args.shards),
                ],
                reset,
            )
            hwm = sorted(
                (_hwm_mib(p) or 0 for p in cluster.worker_pids()), reverse=True
            )
            r["children_mib"] = hwm
            row(f"Dask scheduler + {args.workers} workers, warm", r, out)

            quarter = int(single["client_mib"] // 4)
            above = int((single["client_mib"] - floor) // 4)
            for label, mib in [
                ("quarter of peak", quarter),
                ("quarter above floor", above),
            ]:
                out = work / f"ooc-{mib}.cooc"
                spill = work / "spill"
                spill.mkdir(exist_ok=True)
                r = timed(
                    [
                        cooc,
                        "build",
                        *names,
                        "-o",
                        str(out),
                        "-q",
                        "--memory",
                        f"{mib}M",
                        "--spill-dir",
                        str(spill),
                    ]
                )
                row(f"out of core --memory {mib}M ({label})", r, out)
                over = r["client_mib"] - floor
                notes.append(
                    f"out of core --memory {mib}M: peak {r['client_mib']:.0f} MiB = "
                    f"floor {floor:.0f} + {over:.0f} MiB of data "
                    f"({'within' if over <= mib else 'OVER'} the budget)"
                )
            print(
                table(
                    f"cooc build on {len(files)} files, {n_tokens / 1e6:.1f}M tokens, "
                    f"--shards {args.shards}",
                    [
                        "method",
                        "time ratio",
                        "seconds",
                        "Mtok/s",
                        "runs",
                        "client peak MiB",
                        "worker peaks MiB",
                        "identical",
                    ],
                    rows,
                    [
                        f"floor (cooc build on a one-line corpus): {floor:.0f} MiB "
                        "peak RSS",
                        *notes,
                        f"load average (1 min) at start {load_start:.2f}, "
                        f"now {load_average():.2f}",
                    ],
                ),
                flush=True,
            )

            if not args.no_svd:
                svd_rows = []
                local = timed(
                    [
                        cooc,
                        "embed",
                        str(work / "single.cooc"),
                        "--rank",
                        str(args.rank),
                        "-o",
                        str(work / "v1.npz"),
                        "-q",
                        "--json",
                    ]
                )
                dist = timed(
                    [
                        cooc,
                        "embed",
                        str(work / "single.cooc"),
                        "--rank",
                        str(args.rank),
                        "-o",
                        str(work / "v2.npz"),
                        "-q",
                        "--json",
                        "--engine",
                        "dask",
                        "--scheduler",
                        cluster.address,
                    ],
                    reset,
                )
                dist["children_mib"] = sorted(
                    (_hwm_mib(p) or 0 for p in cluster.worker_pids()), reverse=True
                )
                s1 = np.array(json.loads(local["stdout"])["top_singular_values"])
                s2 = np.array(json.loads(dist["stdout"])["top_singular_values"])
                a, b = np.load(work / "v1.npz"), np.load(work / "v2.npz")
                key = next(k for k in a.files if a[k].dtype.kind == "f")
                cos = np.abs(np.sum(a[key] * b[key], axis=1))
                for name, r in [
                    ("local randomized SVD", local),
                    (f"Dask, {args.workers} workers (warm)", dist),
                ]:
                    svd_rows.append(
                        [
                            name,
                            f"{r['seconds'] / local['seconds']:.2f}",
                            f"{r['seconds']:.1f}",
                            str(r.get("runs", 1)),
                            f"{r['client_mib']:.0f}",
                            " / ".join(
                                f"{w:.0f}" for w in r["children_mib"][: args.workers]
                            )
                            or "-",
                        ]
                    )
                print(
                    table(
                        f"cooc embed --rank {args.rank} (PPMI + randomized SVD)",
                        [
                            "method",
                            "time ratio",
                            "seconds",
                            "runs",
                            "client peak MiB",
                            "worker peaks MiB",
                        ],
                        svd_rows,
                        [
                            f"top singular values, max relative difference "
                            f"{np.max(np.abs(s1 - s2) / s1):.1e}; "
                            "word vectors: min |cosine| "
                            f"{cos.min():.5f}, median {np.median(cos):.6f}",
                            f"load average (1 min) now {load_average():.2f}",
                        ],
                    ),
                    flush=True,
                )
        finally:
            cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
