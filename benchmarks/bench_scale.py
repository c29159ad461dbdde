"""End to end at scale: `cooc build` / `cooc embed` processes against GloVe's counting.

Whole processes, on synthetic corpora of growing size and on the shared corpus;
GloVe's `vocab_count` + `cooccur` are the peer.

    python benchmarks/bench_scale.py [--sizes 10M,100M] [--glove-dir DIR] [--corpus DIR]

Per corpus, each step is one fresh process, timed wall-clock from start to exit,
with its peak resident set from ``os.wait4`` (``ru_maxrss``, read by a small
launcher process: see ``_LAUNCHER``):

- ``cooc build FILES -o X.cooc --tokenizer whitespace --no-lowercase --window 10
  --weighting harmonic --min-count 5 --json``;
- ``cooc embed X.cooc --rank 128 -o V.npz --json`` (``--ranks 128,300`` for more);
- with ``--glove-dir DIR`` (or ``$COOC_GLOVE_DIR``): GloVe's ``vocab_count
  -min-count 5 < corpus > vocab.txt`` and ``cooccur -vocab-file vocab.txt
  -window-size 10 -memory 4.0 -symmetric 1 -distance-weighting 1 < corpus >
  cooc.bin`` (the corpus on standard input; several files go through one
  ``cat``). Without it the GloVe rows are skipped.

Both tools read the same plain-text files: the synthetic corpora are written
by ``synthetic.py`` into ``$COOC_BENCH_CACHE/synthetic-SIZE-seed0/`` (reused
when complete); the shared corpus (``*.txt.gz``) is decompressed once into
``$COOC_BENCH_CACHE/corpus-plain/`` before anything is timed.

The stages come from the ``"stages"`` dict of the CLI's ``--json`` output
when it has one (``-`` otherwise); GloVe's are read from the time its
progress messages arrive on standard error.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import human, table
from synthetic import parse_count, size_label

HERE = Path(__file__).resolve().parent
BUILD_STAGES = ("start-up", "vocabulary", "counting", "merging", "writing")
EMBED_STAGES = ("reading", "ppmi", "svd", "writing")
GLOVE_STAGES = (
    BUILD_STAGES  # vocab_count; cooccur: counting, merging, writing (see notes)
)
CREC_BYTES = 16  # GloVe's cooccurrence record: int word1, int word2, double value


# -- processes ------------------------------------------------------------------------
# A child's ru_maxrss starts from its parent's peak at fork time (Linux carries the
# high-water mark of the forked address space across exec), so a process started
# straight from this script would never show less than this script's own peak
# (hundreds of MB once numpy is loaded and files were read). Each measured command
# is therefore started by this small launcher (``python -S``, ~7 MB): it forks,
# execs the command, times it and reads its ru_maxrss with os.wait4.
_LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{seconds} {ru.ru_maxrss} {code}\\n")
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(
    cmd, stdin=None, stdout=None, env=None, cwd=None, on_stderr=None, timeout=None
):
    """Run ``cmd`` to its end: wall seconds, peak RSS (MiB), exit code, stdout, stderr.

    ``stdin``/``stdout``: open files (or None: /dev/null in, captured out).
    ``on_stderr(text, seconds_since_start)`` sees standard error as it arrives.
    """
    out_file = stdout if stdout is not None else tempfile.TemporaryFile()  # noqa: SIM115
    report = tempfile.NamedTemporaryFile(  # noqa: SIM115
        "w", suffix=".rusage", delete=False
    )
    report.close()
    err_chunks = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", _LAUNCHER, report.name, *map(str, cmd)],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=out_file,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,  # one process group: a time-out ends them all
    )

    def read_err():
        fd = proc.stderr.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text = chunk.decode("utf-8", "replace")
            err_chunks.append(text)
            if on_stderr is not None:
                on_stderr(text, time.perf_counter() - t0)

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    timer = None
    if timeout:
        timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        timer.start()
    proc.wait()
    wall = time.perf_counter() - t0
    if timer is not None:
        timer.cancel()
    reader.join()
    proc.stderr.close()
    text = ""
    if stdout is None:
        out_file.seek(0)
        text = out_file.read().decode("utf-8", "replace")
        out_file.close()
    rep = Path(report.name).read_text().split()
    os.unlink(report.name)
    if len(rep) == 3:
        seconds, peak_kib, code = float(rep[0]), int(rep[1]), int(rep[2])
    else:  # the launcher itself was killed (time-out)
        seconds, peak_kib, code = wall, 0, proc.returncode
    return {
        "seconds": seconds,
        "peak_mib": peak_kib / 1024,
        "returncode": code,
        "stdout": text,
        "stderr": "".join(err_chunks),
    }


def _json_out(text: str):
    start = text.find("{")
    return json.loads(text[start:]) if start >= 0 else {}


def _error(r, what):
    tail = (r["stderr"] or r["stdout"]).strip().splitlines()[-3:]
    return f"{what} failed (exit {r['returncode']}): " + " | ".join(tail)


# -- inputs ---------------------------------------------------------------------------
def synthetic_corpus(n_tokens: int, seed: int = 0) -> tuple[list[Path], dict]:
    """The cached synthetic corpus of ``n_tokens`` (generated once, in a subprocess)."""
    out = common.CACHE / f"synthetic-{size_label(n_tokens)}-seed{seed}"
    meta_path = out / "synthetic.json"
    from synthetic import VERSION

    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if (
        meta is None
        or meta.get("version") != VERSION
        or meta.get("gzip")
        or meta.get("topic_words", "zipf") != "zipf"
        or not all((out / f).exists() for f in meta["files"])
    ):
        print(f"generating {out} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "synthetic.py"),
                "--tokens",
                str(n_tokens),
                "-o",
                str(out),
                "--seed",
                str(seed),
                "-q",
            ],
            check=True,
        )
        meta = json.loads(meta_path.read_text())
        print(
            f"  {meta['n_tokens']:,} tokens in {meta['seconds']:.1f} s "
            f"({meta['tokens_per_second'] / 1e6:.1f}M tokens/s); "
            f"{meta['distinct_types']:,} distinct types, "
            f"{meta['types_min_count_5']:,} seen >= 5 times",
            flush=True,
        )
    return [out / f for f in meta["files"]], meta


def plain_shared_corpus(corpus_dir: Path) -> list[Path] | None:
    """The shared ``*.txt.gz`` corpus decompressed once into the cache (None if absent).

    A file that does not end with a newline gets one, so that feeding the
    files one after the other (GloVe's standard input) keeps the documents apart.
    """
    sources = sorted(Path(p) for p in glob.glob(str(corpus_dir / "*.txt.gz")))
    if not sources:
        return None
    out = common.CACHE / "corpus-plain"
    stamp = json.dumps(
        [[s.name, s.stat().st_size, s.stat().st_mtime_ns] for s in sources]
    )
    stamp_path = out / "sources.json"
    files = [out / s.name[: -len(".gz")] for s in sources]
    if (
        stamp_path.exists()
        and stamp_path.read_text() == stamp
        and all(f.exists() for f in files)
    ):
        return files
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"decompressing {len(sources)} files of {corpus_dir} into {out} ...", flush=True
    )
    for src, dst in zip(sources, files, strict=True):
        tmp = dst.with_suffix(".tmp")
        last = b"\n"
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(1 << 22):
                fout.write(chunk)
                last = chunk[-1:]
            if last != b"\n":
                fout.write(b"\n")
        os.replace(tmp, dst)
    stamp_path.write_text(stamp)
    return files


def count_tokens(files) -> int:
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 24):
                n += len(chunk.split())
    return n


# -- cooc ----------------------------------------------------------------------------
def cooc_cmd(*args):
    return [sys.executable, "-m", "cooc", *args]


def cooc_location(env, cwd) -> str:
    r = subprocess.run(
        [sys.executable, "-c", "import cooc; print(cooc.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    path = Path(r.stdout.strip()).parent.parent
    desc = ""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--", "cooc"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        desc = f" (git {head}{', cooc/ has uncommitted changes' if dirty else ''})"
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return f"{path}{desc}"


def warm_up_cooc(env, work: Path, build_args):
    """One untimed build + embed on a tiny corpus, so numba's cache is warm."""
    tiny = work / "warmup.txt"
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{i}" for i in rng.zipf(1.5, 25) % 300) for _ in range(2000)]
    tiny.write_text("\n".join(lines) + "\n")
    subprocess.run(
        cooc_cmd(
            "build", str(tiny), "-o", str(work / "warmup.cooc"), *build_args, "--quiet"
        ),
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        cooc_cmd(
            "embed",
            str(work / "warmup.cooc"),
            "--rank",
            "8",
            "-o",
            str(work / "warmup.npz"),
            "--quiet",
        ),
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )


# -- GloVe ---------------------------------------------------------------------------
def glove_run(glove_dir: Path, files, work: Path, args) -> dict:
    """vocab_count then cooccur on the concatenated files; their times and peaks."""
    vocab_count = glove_dir / "vocab_count"
    cooccur = glove_dir / "cooccur"
    vocab = work / "glove-vocab.txt"
    out = work / "glove-cooc.bin"

    def feed():
        """Standard input for one GloVe process: the file itself, or a `cat` of them."""
        if len(files) == 1:
            return open(files[0], "rb"), None
        cat = subprocess.Popen(["cat", *map(str, files)], stdout=subprocess.PIPE)
        return cat.stdout, cat

    res = {}
    stdin, cat = feed()
    with open(vocab, "wb") as fout:
        r = run_measured(
            [str(vocab_count), "-min-count", str(args.min_count), "-verbose", "2"],
            stdin=stdin,
            stdout=fout,
            timeout=args.timeout,
        )
    stdin.close()
    if cat is not None:
        cat.wait()
    if r["returncode"] != 0:
        return {"error": _error(r, "vocab_count")}
    res["vocab_seconds"], res["vocab_peak_mib"] = r["seconds"], r["peak_mib"]
    with open(vocab, "rb") as fh:
        res["n_words"] = sum(1 for _ in fh)

    marks = {}

    def on_err(text, t):
        # cooccur's progress: "Processed N tokens." ends the counting pass; "N files in
        # total." ends the dump of its dense table; merging then writes the output
        if "Processed" in text and "counting" not in marks:
            marks["counting"] = t
        if "files in total" in text and "dump" not in marks:
            marks["dump"] = t
        if "Merging" in text and "merge_start" not in marks:
            marks["merge_start"] = t

    stdin, cat = feed()
    with open(out, "wb") as fout:
        r = run_measured(
            [
                str(cooccur),
                "-vocab-file",
                str(vocab),
                "-window-size",
                str(args.window),
                "-memory",
                str(args.glove_memory),
                "-symmetric",
                "1",
                "-distance-weighting",
                "1",
                "-overflow-file",
                str(work / "glove-overflow"),
                "-verbose",
                "2",
            ],
            stdin=stdin,
            stdout=fout,
            on_stderr=on_err,
            timeout=args.timeout,
        )
    stdin.close()
    if cat is not None:
        cat.wait()
    if r["returncode"] != 0:
        return {"error": _error(r, "cooccur")}
    res["cooccur_seconds"], res["cooccur_peak_mib"] = r["seconds"], r["peak_mib"]
    m = re.search(r"Processed (\d+) tokens", r["stderr"])
    res["n_tokens"] = int(m.group(1)) if m else None
    m = re.search(r"(\d+) files in total", r["stderr"])
    res["n_files"] = int(m.group(1)) if m else None
    size = out.stat().st_size
    res["bytes"] = size
    res["nnz"] = size // CREC_BYTES
    res["stages"] = {
        "vocabulary": res["vocab_seconds"],
        "counting": marks.get("counting"),
        "writing": (marks["dump"] - marks["counting"])
        if {"dump", "counting"} <= marks.keys()
        else None,
        "merging": (r["seconds"] - marks["dump"]) if "dump" in marks else None,
    }
    res["sorted_unique"] = _glove_sorted_unique(out) if args.check_glove else None
    if not args.keep:
        out.unlink()
    return res


def _glove_sorted_unique(path: Path) -> bool:
    """True if GloVe's records are in strictly increasing (word1, word2) order.

    So no (i, j) appears twice (duplicates could only come from temporary
    files that were not merged). Read in chunks, so that this script stays
    small (see _LAUNCHER).
    """
    rec = np.dtype([("i", "<i4"), ("j", "<i4"), ("v", "<f8")])
    prev = -1
    with open(path, "rb") as fh:
        while True:
            block = np.fromfile(fh, dtype=rec, count=1 << 21)
            if block.size == 0:
                return True
            key = block["i"].astype(np.int64) << 32 | block["j"].astype(np.int64)
            if key[0] <= prev or not np.all(key[1:] > key[:-1]):
                return False
            prev = int(key[-1])


class SpillWatcher:
    """Peak bytes under a folder while a build runs (polled twice a second)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _size(self) -> int:
        total = 0
        for root, _, names in os.walk(self.folder):
            for name in names:
                try:
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass  # removed meanwhile
        return total

    def _poll(self):
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self._size())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# -- the table -----------------------------------------------------------------------
def _stages(d, keys):
    if not isinstance(d, dict):
        return " / ".join("-" for _ in keys)
    return " / ".join("-" if d.get(k) is None else f"{d[k]:.1f}" for k in keys)


def measure_corpus(name, files, args, env, glove_dir, work: Path):
    rows, notes = [], []
    cooc_file = work / f"{name}.cooc"
    build_args = [
        "--tokenizer",
        "whitespace",
        "--no-lowercase",
        "--window",
        str(args.window),
        "--weighting",
        "harmonic",
        "--min-count",
        str(args.min_count),
    ]
    load = common.load_average()
    spill = work / "spill"
    spill.mkdir(exist_ok=True)
    budget = ["--memory", args.memory] if args.memory else []
    with SpillWatcher(spill) as watch:
        r = run_measured(
            cooc_cmd(
                "build",
                *map(str, files),
                "-o",
                str(cooc_file),
                *build_args,
                *budget,
                "--spill-dir",
                str(spill),
                "--json",
                "--quiet",
            ),
            env=env,
            cwd=work,
            timeout=args.timeout,
        )
    if watch.peak:
        notes.append(
            f"{name}: cooc build spilled to disk (peak {watch.peak / 2**30:.1f} GiB "
            "in the spill folder)"
        )
    if r["returncode"] != 0:
        notes.append(f"{name}: " + _error(r, "cooc build"))
        return rows, notes, None
    b = _json_out(r["stdout"])
    n_tokens = b.get("n_tokens")
    build = {
        "what": "cooc build",
        "tokens": n_tokens,
        "vocab": b["shape"][0],
        "nnz": b["nnz"],
        "stages": _stages(b.get("stages"), BUILD_STAGES),
        "seconds": r["seconds"],
        "peak": r["peak_mib"],
        "load": load,
        "tps": True,
    }
    rows.append(build)
    for rank in args.ranks:
        load = common.load_average()
        vec = work / f"{name}-r{rank}.npz"
        r = run_measured(
            cooc_cmd(
                "embed",
                str(cooc_file),
                "--rank",
                str(rank),
                "-o",
                str(vec),
                "--json",
                "--quiet",
            ),
            env=env,
            cwd=work,
            timeout=args.timeout,
        )
        if r["returncode"] != 0:
            notes.append(f"{name}: " + _error(r, f"cooc embed --rank {rank}"))
            continue
        e = _json_out(r["stdout"])
        rows.append(
            {
                "what": f"cooc embed r{rank}",
                "tokens": None,
                "vocab": e.get("n_words"),
                "nnz": None,
                "stages": _stages(e.get("stages"), EMBED_STAGES),
                "seconds": r["seconds"],
                "peak": r["peak_mib"],
                "load": load,
            }
        )
        rows.append(
            {
                "what": f"cooc build + embed r{rank}",
                "tokens": n_tokens,
                "vocab": None,
                "nnz": None,
                "stages": "",
                "seconds": build["seconds"] + r["seconds"],
                "peak": max(build["peak"], r["peak_mib"]),
                "load": None,
            }
        )
        if not args.keep:
            vec.unlink(missing_ok=True)
    if not args.keep:
        cooc_file.unlink(missing_ok=True)

    glove = None
    if glove_dir is not None:
        load = common.load_average()
        g = glove_run(glove_dir, files, work, args)
        if "error" in g:
            notes.append(f"{name}: GloVe " + g["error"])
        else:
            glove = {
                "what": "GloVe vocab_count + cooccur",
                "tokens": g["n_tokens"],
                "vocab": g["n_words"],
                "nnz": g["nnz"],
                "stages": _stages(g["stages"], GLOVE_STAGES),
                "seconds": g["vocab_seconds"] + g["cooccur_seconds"],
                "peak": max(g["vocab_peak_mib"], g["cooccur_peak_mib"]),
                "load": load,
                "tps": True,
            }
            rows.append(glove)
            build["x_time"] = build["seconds"] / glove["seconds"]
            build["x_mem"] = build["peak"] / glove["peak"]
            glove["x_time"] = glove["x_mem"] = 1.0
            agree = []
            agree.append(
                "same vocabulary size"
                if glove["vocab"] == build["vocab"]
                else f"vocabulary {build['vocab']:,} (cooc), {glove['vocab']:,} (GloVe)"
            )
            agree.append(
                "same non-zeros"
                if glove["nnz"] == build["nnz"]
                else f"non-zeros {build['nnz']:,} (cooc) vs {glove['nnz']:,} (GloVe)"
            )
            if g["sorted_unique"] is not None:
                agree.append(
                    "GloVe's records strictly sorted by (i, j): no duplicate pairs"
                    if g["sorted_unique"]
                    else "GloVe's output has out-of-order or DUPLICATE (i, j) records"
                )
            notes.append(
                f"{name}: {'; '.join(agree)}; GloVe's cooccur used {g['n_files']} "
                f"temporary file(s); vocab_count {g['vocab_seconds']:.1f} s, "
                f"{g['vocab_peak_mib']:.0f} MiB; cooccur {g['cooccur_seconds']:.1f} s, "
                f"{g['cooccur_peak_mib']:.0f} MiB"
            )
    return rows, notes, glove


def format_rows(rows):
    out = []
    for r in rows:
        tok = r.get("tokens")
        secs = r["seconds"]
        tps = human(tok / secs) if tok and r.get("tps") else "-"
        out.append(
            [
                r["corpus"],
                r["what"],
                human(tok) if tok else "-",
                f"{r['vocab']:,}" if r.get("vocab") else "-",
                human(r["nnz"]) if r.get("nnz") else "-",
                r["stages"] or "",
                f"{secs:.1f}",
                tps,
                f"{r['peak']:.0f}",
                f"{r['x_time']:.2f}" if r.get("x_time") is not None else "-",
                f"{r['x_mem']:.2f}" if r.get("x_mem") is not None else "-",
                f"{r['load']:.2f}" if r.get("load") is not None else "",
            ]
        )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        default="10M,100M",
        help="synthetic corpus sizes, e.g. 10M,100M,1B ('' for none)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpora")
    p.add_argument(
        "--corpus",
        default=None,
        help="folder of the shared corpus (*.txt.gz); default $COOC_BENCH_CORPUS "
        "or ../shared/data/corpus; 'none' to skip",
    )
    p.add_argument(
        "--glove-dir",
        default=os.environ.get("COOC_GLOVE_DIR"),
        help="folder with GloVe's built vocab_count and cooccur (default "
        "$COOC_GLOVE_DIR); without it, no GloVe rows",
    )
    p.add_argument("--ranks", default="128", help="cooc embed ranks, e.g. 128,300")
    p.add_argument(
        "--memory",
        default=None,
        help="cooc build --memory (default: cooc's own, 2G); counts that outgrow "
        "it are spilled to a folder in the work folder",
    )
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument(
        "--glove-memory", default="4.0", help="cooccur -memory (GB, soft limit)"
    )
    p.add_argument(
        "--no-check-glove",
        dest="check_glove",
        action="store_false",
        help="skip reading GloVe's output back to check it has no duplicate (i, j)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the .cooc, vectors and GloVe output in the work folder",
    )
    p.add_argument(
        "--timeout", type=float, default=4 * 3600, help="seconds per process"
    )
    p.add_argument(
        "--cooc-path",
        default=None,
        help="source folder of the cooc to measure (first on the PYTHONPATH of the "
        "cooc processes), e.g. a git worktree of an older commit; default: the cooc "
        "that `import cooc` finds",
    )
    p.add_argument("--save", default=None, help="also write the table to this file")
    p.add_argument(
        "--quick",
        action="store_true",
        help="synthetic size 1M only (as run_all.py --quick)",
    )
    # run_all.py passes its options to every script: the ones that do not apply here
    # (--repeat, --max-seconds, ...) are ignored: each step runs once
    args, ignored = p.parse_known_args(argv)
    if ignored:
        print(
            f"bench_scale.py: ignoring {' '.join(ignored)} (each step runs once)",
            flush=True,
        )
    if args.quick:
        args.sizes = "1M"
    args.ranks = [int(x) for x in args.ranks.split(",") if x.strip()]
    sizes = [parse_count(s) for s in args.sizes.split(",") if s.strip()]

    env = dict(os.environ)
    if args.cooc_path:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(args.cooc_path).resolve())]
            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    common.CACHE.mkdir(parents=True, exist_ok=True)
    # cooc runs as `python -m cooc` with the work folder as its current directory:
    # from the repository's root, `-m` would import ./cooc before $PYTHONPATH
    tmp = tempfile.TemporaryDirectory(dir=common.CACHE, prefix="scale-")
    work = Path(tmp.name).resolve()
    header = [common.machine_line(), f"cooc: {cooc_location(env, work)}"]
    glove_dir = Path(args.glove_dir).resolve() if args.glove_dir else None
    if glove_dir is not None and not (glove_dir / "cooccur").exists():
        sub = glove_dir / "build"
        if (sub / "cooccur").exists():
            glove_dir = sub
        else:
            raise SystemExit(
                f"no cooccur in {args.glove_dir} (build GloVe there: make)"
            )
    header.append(
        f"GloVe: {glove_dir}"
        if glove_dir
        else "GloVe: skipped (no --glove-dir or $COOC_GLOVE_DIR)"
    )
    for line in header:
        print(line, flush=True)

    corpora = []
    for n in sizes:
        files, _ = synthetic_corpus(n, args.seed)
        corpora.append((f"synthetic {size_label(n)}", [f.resolve() for f in files]))
    skipped = []
    if args.corpus != "none":
        corpus_dir = Path(args.corpus) if args.corpus else common.CORPUS_DIR
        files = plain_shared_corpus(corpus_dir)
        if files is None:
            skipped.append(f"shared corpus: no *.txt.gz in {corpus_dir}, skipped")
            print(skipped[-1], flush=True)
        else:
            corpora.append(("shared corpus", [f.resolve() for f in files]))

    all_rows, notes = [], list(skipped)
    with tmp:
        warm_up_cooc(
            env, work, ["--tokenizer", "whitespace", "--window", str(args.window)]
        )
        for name, files in corpora:
            size_mib = sum(f.stat().st_size for f in files) / 2**20
            print(
                f"-- {name}: {len(files)} file(s), {size_mib:,.0f} MiB; "
                f"load average {common.load_average():.2f}",
                flush=True,
            )
            rows, n, _ = measure_corpus(
                name.replace(" ", "-"), files, args, env, glove_dir, work
            )
            for r in rows:
                r["corpus"] = name
            for r in format_rows(rows):
                print("   " + "  ".join(map(str, r)), flush=True)
            all_rows += rows
            notes += n
    if glove_dir is None:
        notes.append(
            "GloVe rows skipped: pass --glove-dir (or set $COOC_GLOVE_DIR) to a folder "
            "with its built vocab_count and cooccur"
        )
    build_opts = (
        f"--tokenizer whitespace --no-lowercase --window {args.window} "
        f"--weighting harmonic --min-count {args.min_count}"
    )
    notes += [
        "each row is one whole process (two for GloVe, and for build + embed) from "
        "start to exit: interpreter start-up, imports and reading the files included "
        "(they are in the page cache: written or decompressed just before); peak RSS "
        "= ru_maxrss from os.wait4 in a small launcher process (floor ~7 MiB), the "
        "larger of the two for two processes",
        f"cooc: build {build_opts}; embed --rank R (defaults otherwise); numba's "
        "cache warmed by one untimed tiny run first",
        f"GloVe: vocab_count -min-count {args.min_count}; cooccur -window-size "
        f"{args.window} -memory {args.glove_memory} -symmetric 1 "
        "-distance-weighting 1; the corpus on standard input (`cat` of the files "
        "when several); non-zeros = output bytes / 16 (int, int, double records)",
        "stages (s): cooc build = start-up (interpreter, imports, numba's set-up) / "
        "vocabulary / counting / merging / writing, cooc "
        'embed = reading / ppmi / svd / writing, from the CLI\'s --json "stages" (- '
        "when it has none); GloVe = - / vocab_count / counting (read + count, "
        "until its 'Processed N tokens') / merging (merge of its sorted temporary files, which "
        "writes the output) / writing (its dense table dumped to a temporary file)",
        "x time, x RSS: cooc build's seconds and peak over GloVe's (vocab_count + "
        "cooccur) on the same files, below 1 = cooc faster / smaller; tokens/s = "
        "tokens read / seconds; load = 1-minute load average when the row's first "
        "process started (2 cores)",
        "same counts: both tools keep words seen >= 5 times, drop the others before "
        "windowing, never pair across lines, weight 1/d and store both (i, j) and "
        "(j, i); GloVe's diagonal values are twice cooc's (it adds both directions of "
        "a word paired with itself to one cell)",
    ]
    cols = [
        "corpus",
        "what",
        "tokens",
        "vocabulary",
        "nnz",
        "stages (s)",
        "seconds",
        "tokens/s",
        "peak RSS MiB",
        "x time",
        "x RSS",
        "load",
    ]
    text = (
        "\n".join(header)
        + "\n\n"
        + table(
            "end to end: text files -> co-occurrence matrix (-> vectors), window "
            f"{args.window}, harmonic, min count {args.min_count}",
            cols,
            format_rows(all_rows),
            notes,
        )
        + "\n"
        + common.machine_line()
        + "\n"
    )
    print("\n" + text)
    if args.save:
        Path(args.save).write_text(text)


if __name__ == "__main__":
    main()
