"""Shared helpers of the benchmark scripts: data, timing, memory, subprocesses, tables.

Every figure a benchmark prints is measured in a fresh Python process (a
"worker"): the parent script starts ``python <script> --worker TASK PARAMS``,
the worker loads its input, warms up (so compilation is excluded), resets the
kernel's peak-RSS counter, runs the timed calls and prints one JSON line. So the
memory of one method never shows up in another's figure.

Memory is read from the kernel, not from tracemalloc (which does not see numba
or C allocations): ``VmHWM`` (peak resident set) of ``/proc/self/status``,
reset with ``/proc/self/clear_refs`` right before the timed section; where that
is not available, ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak over the
whole process).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS_DIR = Path(
    os.environ.get("COOC_BENCH_CORPUS", REPO.parent / "shared" / "data" / "corpus")
)
CACHE = Path(
    os.environ.get("COOC_BENCH_CACHE", Path(tempfile.gettempdir()) / "cooc-bench")
)
QUICK_TOKENS = 1_000_000
VOCAB_SIZE = 50_000
_MARK = "@@BENCH-RESULT@@ "


# -- data ---------------------------------------------------------------------------
def corpus_files() -> list[Path]:
    """The real corpus: every ``*.txt.gz`` under ``CORPUS_DIR`` (a document a line)."""
    files = sorted(Path(p) for p in glob.glob(str(CORPUS_DIR / "*.txt.gz")))
    if not files:
        raise SystemExit(
            f"no corpus files in {CORPUS_DIR}; set COOC_BENCH_CORPUS to a folder of "
            "*.txt.gz files (one document per line)."
        )
    return files


def quick_files(n_tokens: int = QUICK_TOKENS) -> list[Path]:
    """A ~``n_tokens`` subset of the real corpus, written once to the cache.

    The same fraction of characters is taken from the start of every file, so
    all 13 sources are represented; whole lines (documents) only.
    """
    files = corpus_files()
    out = CACHE / f"subset-{n_tokens}.txt.gz"
    if out.exists():
        return [out]
    CACHE.mkdir(parents=True, exist_ok=True)
    texts = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts.append(fh.read())
    total_tokens = encoded_corpus(quick=False)["n_tokens_raw"]
    fraction = min(1.0, n_tokens / max(total_tokens, 1))
    lines = []
    for text in texts:
        budget = fraction * len(text)
        used = 0
        for line in text.splitlines():
            if used >= budget:
                break
            lines.append(line)
            used += len(line) + 1
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return [out]


def bench_files(quick: bool) -> list[Path]:
    return quick_files() if quick else corpus_files()


def _key(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def encoded_corpus(quick: bool, max_size: int = VOCAB_SIZE) -> dict:
    """The corpus as cooc ids, cached as ``.npz``: the common input of every method.

    Returns a dict with ``ids`` (int32, out-of-vocabulary tokens removed, as
    cooc's ``oov="drop"`` does), ``offsets`` (int64 document boundaries over
    ``ids``), ``n_words``, ``n_tokens_raw`` (tokens before removing OOV),
    ``max_doc_len`` and ``tokens`` (the vocabulary, id order).
    """
    files = bench_files(quick)
    import cooc.corpus
    import cooc.vocab

    # re-encode when the corpus or cooc's tokenizer/vocabulary code changes
    code = [cooc.corpus.__file__, cooc.vocab.__file__]
    stamp = [
        (str(f), Path(f).stat().st_size, Path(f).stat().st_mtime_ns)
        for f in files + code
    ]
    path = CACHE / f"ids-{_key(stamp, max_size)}.npz"
    if not path.exists():
        from cooc.corpus import iter_token_chunks
        from cooc.vocab import build_vocabulary

        chunks = list(iter_token_chunks([str(f) for f in files]))
        vocab = build_vocabulary(chunks, max_size=max_size)
        ids = np.concatenate([vocab.encode_chunk(c) for c in chunks])
        lens = np.concatenate([np.diff(c.offsets) for c in chunks])
        doc = np.repeat(np.arange(lens.size), lens)
        keep = ids >= 0
        kept = np.bincount(doc[keep], minlength=lens.size)
        offsets = np.zeros(lens.size + 1, dtype=np.int64)
        np.cumsum(kept, out=offsets[1:])
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(
            tmp,
            ids=ids[keep].astype(np.int32),
            offsets=offsets,
            n_words=len(vocab),
            n_tokens_raw=ids.size,
            tokens=np.array(vocab.tokens, dtype=object).astype(str),
        )
        os.replace(tmp, path)
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["n_words"] = int(data["n_words"])
    data["n_tokens_raw"] = int(data["n_tokens_raw"])
    data["max_doc_len"] = int(np.diff(data["offsets"]).max())
    return data


def tile_corpus(ids: np.ndarray, offsets: np.ndarray, times: int):
    """The corpus concatenated with itself ``times`` times (documents stay whole)."""
    n = ids.shape[0]
    ids_t = np.tile(ids, times)
    offsets_t = np.concatenate(
        [offsets[:-1] + k * n for k in range(times)] + [np.array([n * times])]
    ).astype(np.int64)
    return ids_t, offsets_t


# -- measuring ------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    kib = _status_kib("VmRSS")
    if kib is None:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    return kib / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_mib() -> float:
    """Peak resident set since the last :func:`reset_peak` (or process start), MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024


def best_of(fn, repeat: int, max_seconds: float | None = None):
    """Run ``fn()`` up to ``repeat`` times; return (best s, all seconds, last result).

    With ``max_seconds``, stop early once another run would take the total past it
    (at least one run always happens).
    """
    times, out = [], None
    while True:
        out = None  # free the previous result before the next run
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= max(1, repeat):
            break
        if max_seconds is not None and sum(times) + times[-1] > max_seconds:
            break
    return min(times), times, out


class Timer:
    """Accumulating named timers: ``with timer("read"): ...``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name):
        return _Span(self, name)


class _Span:
    def __init__(self, timer, name):
        self.timer, self.name = timer, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t0
        self.timer.seconds[self.name] = self.timer.seconds.get(self.name, 0.0) + dt


# -- workers --------------------------------------------------------------------------
def run_worker(
    script: str | Path, task: str, timeout: float = 900, env=None, **params
) -> dict:
    """Run ``task`` of ``script`` in a fresh interpreter; return its JSON result.

    The worker's wall time (start-up and imports included) is added as
    ``process_seconds``; a failure is returned as ``{"error": ...}`` rather than
    raised, so one broken peer does not stop the run.
    """
    cmd = [sys.executable, str(script), "--worker", task, json.dumps(params)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    elapsed = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_MARK):
            out = json.loads(line[len(_MARK) :])
            out["process_seconds"] = elapsed
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def cached_worker(
    script: str | Path, task: str, cache: Path, *, run: bool = True, **params
) -> dict | None:
    """:func:`run_worker` once per ``cache`` file (a JSON result): the cached
    result with ``cached`` True when there is one; else None unless ``run``;
    else the worker's result, stored unless it is an error (``cached``
    False). For slow peers (gensim) whose key is in the cache file's name."""
    if cache.exists():
        out = json.loads(cache.read_text())
        out["cached"] = True
        return out
    if not run:
        return None
    out = run_worker(script, task, timeout=4 * 3600, **params)
    if "error" in out:
        return out
    out.pop("process_seconds", None)
    cache.write_text(json.dumps(out))
    out["cached"] = False
    return out


def worker_main(tasks: dict) -> bool:
    """In a worker process (``--worker TASK PARAMS``): run the task, return True."""
    if len(sys.argv) < 2 or sys.argv[1] != "--worker":
        return False
    task, params = sys.argv[2], json.loads(sys.argv[3])
    result = tasks[task](**params)
    result.setdefault(
        "max_rss_process_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    sys.stdout.write(_MARK + json.dumps(result, default=_json_default) + "\n")
    sys.stdout.flush()
    return True


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def timed_section(fn, repeat: int, max_seconds: float | None = None) -> dict:
    """Reset the peak-RSS counter, time ``fn`` best-of-``repeat``, report memory.

    ``base_mib`` is the resident set before the timed calls (interpreter,
    libraries, input data, warm-up); ``peak_mib`` is the highest resident set
    during them; ``extra_mib = peak - base`` is what the method itself needed.
    """
    import gc

    gc.collect()
    exact = reset_peak()
    base = rss_mib()
    best, times, out = best_of(fn, repeat, max_seconds)
    peak = peak_mib()
    return {
        "seconds": best,
        "all_seconds": times,
        "base_mib": base,
        "peak_mib": peak,
        "extra_mib": peak - base,
        "peak_exact": exact,
        "out": out,
    }


# -- formatting -----------------------------------------------------------------------
def human(n: float) -> str:
    """10567821 -> '10.6M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def fmt(x, spec=".2f") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    if isinstance(x, str):
        return x
    return format(x, spec)


def table(
    title: str, columns: list[str], rows: list[list], notes: list[str] = ()
) -> str:
    """A plain-text table: a one-line title, aligned columns, then notes."""
    cells = [[str(c) for c in columns]] + [
        [("-" if v is None else str(v)) for v in r] for r in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(r):
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )

    out = [f"== {title}", line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    out += [f"   note: {n}" for n in notes]
    return "\n".join(out) + "\n"


def machine_line() -> str:
    import numba

    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    cores = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return (
        f"machine: {platform.machine()} {cores} cores, "
        f"python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__}; load average now {load}"
    )


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def cli_process(args, cwd=None) -> dict:
    """Run ``python -m cooc ARGS`` in a fresh process: wall and CPU seconds and
    the peak resident set of that one process (``os.wait4``); exits with the
    command's stderr when it fails."""
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "cooc", *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd
    )
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
    }
