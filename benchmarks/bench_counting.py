"""Counting benchmarks: cooc's window counter against what a user would pick instead.

Run ``python benchmarks/bench_counting.py [--quick] [--repeat N]`` (or ``make bench``).
Four tables, on the real corpus (``shared/data/corpus/*.txt.gz``), vocabulary =
the 50,000 most frequent words, out-of-vocabulary tokens dropped:

1. window counting throughput: cooc ``WindowCounter`` (n_jobs=1, 2) vs a plain
   numpy/scipy implementation vs ``vectorizers.TokenCooccurrenceVectorizer``,
   window 10 and 5, harmonic (1/d) weights, symmetric; plus the first-call
   (compile) cost, apart;
2. document-level co-occurrence: sklearn ``CountVectorizer`` + ``X.T @ X`` vs
   cooc (uniform window as wide as the longest document);
3. end to end ``cooc build`` (text files -> .cooc), with the split of its time;
4. linear scaling of counting with the corpus size (1x, 2x, 4x).

Every measurement runs in a fresh interpreter (see ``common.py``); times are
the best of N runs after one warm-up call; memory is the peak resident set
during the timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import fmt, human, table

SCRIPT = Path(__file__).resolve()
DOC_MAX_LEN = 200  # document-level table: documents of at most this many tokens


# =====================================================================================
# workers (each runs in its own process)
# =====================================================================================
def _corpus(quick, tile=1):
    d = common.encoded_corpus(quick)
    ids, offsets = d["ids"], d["offsets"]
    if tile > 1:
        ids, offsets = common.tile_corpus(ids, offsets, tile)
    return ids, offsets, d["n_words"]


def _tiny(n_words=50):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, n_words, 500).astype(np.int32)
    return ids, np.array([0, 200, 500], dtype=np.int64)


def _section(fn, repeat, max_seconds):
    return common.timed_section(fn, repeat, max_seconds)


def _strip(s, **extra):
    out = {k: v for k, v in s.items() if k != "out"}
    out.update(extra)
    return out


def w_cooc_window(quick, window, n_jobs, repeat, max_seconds, tile=1):
    from cooc.cooccurrence import WindowCounter

    ids, offsets, n = _corpus(quick, tile)
    t0 = time.perf_counter()
    tiny_ids, tiny_off = _tiny()
    WindowCounter(n, window_size=window, n_jobs=n_jobs).update(
        tiny_ids, tiny_off
    ).result()
    warm = time.perf_counter() - t0

    parts = []

    def run():
        t0 = time.perf_counter()
        counter = WindowCounter(n, window_size=window, n_jobs=n_jobs).update(
            ids, offsets
        )
        t1 = time.perf_counter()
        out = counter.result()
        parts.append((t1 - t0, time.perf_counter() - t1))
        return out

    s = _section(run, repeat, max_seconds)
    best = int(np.argmin(s["all_seconds"]))
    return _strip(
        s,
        nnz=s["out"].nnz,
        n_tokens=int(ids.shape[0]),
        warmup_seconds=warm,
        update_seconds=parts[best][0],
        result_seconds=parts[best][1],
    )


def numpy_window(ids, offsets, n, window):
    """Plain numpy/scipy: one COO matrix per distance d, summed, plus its transpose."""
    import scipy.sparse as sp

    doc = np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int32), np.diff(offsets))
    total = sp.csr_matrix((n, n), dtype=np.float64)
    for d in range(1, window + 1):
        same = doc[:-d] == doc[d:]
        rows, cols = ids[:-d][same], ids[d:][same]
        w = np.full(rows.shape[0], 1.0 / d)
        total = total + sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    return (total + total.T).tocsr()


def w_numpy_window(quick, window, repeat, max_seconds, check_tokens=200_000):
    ids, offsets, n = _corpus(quick)
    s = _section(lambda: numpy_window(ids, offsets, n, window), repeat, max_seconds)
    nnz = s["out"].nnz
    s["out"] = None
    # agreement with cooc on the first documents (after the timed section)
    from cooc.cooccurrence import count_window

    k = int(np.searchsorted(offsets, check_tokens))
    sub_ids, sub_off = ids[: offsets[k]], offsets[: k + 1]
    a = numpy_window(sub_ids, sub_off, n, window)
    b = count_window(sub_ids, sub_off, n_words=n, window_size=window)
    diff = abs(a - b).max()
    rel = diff / abs(b).max()
    return _strip(
        s,
        nnz=nnz,
        n_tokens=int(ids.shape[0]),
        check=f"max |numpy - cooc| = {diff:.2g} (relative {rel:.1g}) on the first "
        f"{human(sub_ids.shape[0])} tokens",
    )


def w_vectorizers_window(quick, window, n_threads_list, repeat, max_seconds):
    """vectorizers' TokenCooccurrenceVectorizer: harmonic kernel, 'after' windows, no
    normalisation, the same ids as tokens (identity token dictionary); its matrix
    M (row = token, column = token after it) gives the symmetric counts as M + M.T."""
    warnings.filterwarnings("ignore")
    ids, offsets, n = _corpus(quick)
    t0 = time.perf_counter()
    try:
        from vectorizers import TokenCooccurrenceVectorizer
        from vectorizers import base_cooccurrence_vectorizer as base
    except Exception as err:  # a broken peer must not stop the run
        return {"error": f"import vectorizers failed: {type(err).__name__}: {err}"}
    t_import = time.perf_counter() - t0
    dictionary = {i: i for i in range(n)}

    def make(n_threads):
        return TokenCooccurrenceVectorizer(
            token_dictionary=dictionary,
            window_radii=window,
            kernel_functions="harmonic",
            window_orientations="after",
            normalize_windows=False,
            n_threads=n_threads,
        )

    t0 = time.perf_counter()
    make(1).fit_transform([[1, 2, 3], [2, 3, 4, 5]])
    t_compile = time.perf_counter() - t0

    # time spent in its counting proper (excluding its Python preprocessing of tokens)
    kernel = {}
    orig = base.BaseCooccurrenceVectorizer._build_token_cooccurrence_matrix

    def timed(self, seqs):
        t = time.perf_counter()
        out = orig(self, seqs)
        kernel.setdefault("s", []).append(time.perf_counter() - t)
        return out

    base.BaseCooccurrenceVectorizer._build_token_cooccurrence_matrix = timed
    docs = [
        ids[offsets[i] : offsets[i + 1]].tolist() for i in range(offsets.shape[0] - 1)
    ]
    runs, last = [], None
    for n_threads in n_threads_list:
        kernel.clear()
        last = None
        s = _section(
            lambda nt=n_threads: make(nt).fit_transform(docs), repeat, max_seconds
        )
        last = s.pop("out")
        runs.append(
            _strip(
                s,
                n_threads=n_threads,
                kernel_seconds=min(kernel["s"]),
                nnz=int((last + last.T).nnz),
            )
        )
    # agreement with cooc on the same data
    from cooc.cooccurrence import count_window

    sym = (last + last.T).tocsr().astype(np.float64)
    ref = count_window(ids, offsets, n_words=n, window_size=window)
    diff = abs(sym - ref).max()
    rel = diff / abs(ref).max()
    same_pattern = sym.nnz == ref.nnz
    return {
        "runs": runs,
        "import_seconds": t_import,
        "compile_seconds": t_compile,
        "n_tokens": int(ids.shape[0]),
        "check": f"M + M.T vs cooc on the same {human(ids.shape[0])} tokens: "
        f"max abs diff "
        f"{diff:.2g} (relative {rel:.1g}, float32 accumulation), same non-zeros: "
        f"{same_pattern}",
    }


def w_compile():
    """First-call cost of cooc's kernels in a fresh process."""
    t0 = time.perf_counter()
    from cooc.cooccurrence import WindowCounter

    t_import = time.perf_counter() - t0
    ids, offsets = _tiny()
    out = {"import_seconds": t_import}
    for n_jobs in (1, 2):
        for label in ("first", "second"):
            t0 = time.perf_counter()
            WindowCounter(50, window_size=10, n_jobs=n_jobs).update(
                ids, offsets
            ).result()
            out[f"{label}_call_n_jobs={n_jobs}"] = time.perf_counter() - t0
    return out


def _doc_subset(quick, max_len):
    ids, offsets, n = _corpus(quick)
    lens = np.diff(offsets)
    keep = np.flatnonzero(lens <= max_len)
    parts = [ids[offsets[i] : offsets[i + 1]] for i in keep]
    sub_off = np.zeros(keep.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens[keep], out=sub_off[1:])
    return np.concatenate(parts), sub_off, n


def sklearn_doc(token_docs, vocabulary):
    """sklearn: binary doc-term matrix X, then X.T @ X with the diagonal removed."""
    from sklearn.feature_extraction.text import CountVectorizer

    t0 = time.perf_counter()
    vec = CountVectorizer(
        analyzer=_identity, vocabulary=vocabulary, binary=True, dtype=np.int64
    )
    X = vec.fit_transform(token_docs)
    t1 = time.perf_counter()
    C = (X.T @ X).tocsr()
    C.setdiag(0)
    C.eliminate_zeros()
    t2 = time.perf_counter()
    return C, t1 - t0, t2 - t1


def _identity(doc):
    return doc


def cooc_doc(ids, offsets, n, n_jobs):
    """cooc: ids deduplicated per document, uniform window as wide as any document."""
    from cooc.cooccurrence import WindowCounter

    t0 = time.perf_counter()
    doc = np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))
    key = np.sort(
        doc * n + ids
    )  # np.unique is ~100x slower here (numpy 2.4, int64 keys)
    first = np.empty(key.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    key = key[first]
    uids = (key % n).astype(np.int32)
    uoff = np.searchsorted(key // n, np.arange(offsets.shape[0]), side="left").astype(
        np.int64
    )
    t1 = time.perf_counter()
    width = max(int(np.diff(uoff).max()), 1)
    counter = WindowCounter(n, window_size=width, weighting="uniform", n_jobs=n_jobs)
    counts = counter.update(uids, uoff).result_counts()[0]
    t2 = time.perf_counter()
    return counts, t1 - t0, t2 - t1, width


def w_sklearn_doc(quick, max_len, repeat, max_seconds):
    ids, offsets, n = _doc_subset(quick, max_len)
    tokens = common.encoded_corpus(quick)["tokens"].astype(object)
    token_docs = [
        tokens[ids[offsets[i] : offsets[i + 1]]].tolist()
        for i in range(offsets.shape[0] - 1)
    ]
    vocabulary = {w: i for i, w in enumerate(tokens.tolist())}
    sklearn_doc(token_docs[:10], vocabulary)  # warm-up
    parts = {}

    def run():
        C, t_vec, t_prod = sklearn_doc(token_docs, vocabulary)
        parts.setdefault("vec", []).append(t_vec)
        parts.setdefault("prod", []).append(t_prod)
        return C

    s = _section(run, repeat, max_seconds)
    C = s.pop("out")
    best = int(np.argmin(s["all_seconds"]))
    # agreement with cooc on the same data (after the timed section)
    ref, _, _, width = cooc_doc(ids, offsets, n, None)
    equal = (ref != C).nnz == 0
    # and the count-weighted form: cooc without dedup == Xc.T @ Xc - diag(column sums)
    import scipy.sparse as sp

    from cooc.cooccurrence import WindowCounter

    k = int(np.searchsorted(offsets, 100_000))
    sid, soff = ids[: offsets[k]], offsets[: k + 1]
    doc = np.repeat(np.arange(k), np.diff(soff))
    Xc = sp.csr_matrix((np.ones(sid.shape[0], np.int64), (doc, sid)), shape=(k, n))
    want = (Xc.T @ Xc).tocsr() - sp.diags(np.asarray(Xc.sum(axis=0)).ravel())
    got = (
        WindowCounter(n, window_size=int(np.diff(soff).max()), weighting="uniform")
        .update(sid, soff)
        .result_counts()[0]
    )
    equal_counts = abs(want - got).max() == 0
    return _strip(
        s,
        nnz=C.nnz,
        n_tokens=int(ids.shape[0]),
        n_docs=int(offsets.shape[0] - 1),
        vectorize_seconds=parts["vec"][best],
        product_seconds=parts["prod"][best],
        check=f"binary X.T@X minus diagonal == cooc on per-document-deduplicated ids "
        f"(uniform, window {width}): {equal}; count-weighted Xc.T@Xc - "
        f"diag(token counts) == cooc on raw ids (first {human(sid.shape[0])} "
        f"tokens): {equal_counts}",
    )


def w_cooc_doc(quick, max_len, n_jobs, repeat, max_seconds):
    ids, offsets, n = _doc_subset(quick, max_len)
    tiny_ids, tiny_off = _tiny()
    cooc_doc(tiny_ids, tiny_off, 50, n_jobs)  # warm-up
    parts = {}

    def run():
        C, t_dedup, t_count, width = cooc_doc(ids, offsets, n, n_jobs)
        parts.setdefault("dedup", []).append(t_dedup)
        parts.setdefault("count", []).append(t_count)
        parts["width"] = width
        return C

    s = _section(run, repeat, max_seconds)
    C = s.pop("out")
    best = int(np.argmin(s["all_seconds"]))
    return _strip(
        s,
        nnz=C.nnz,
        n_tokens=int(ids.shape[0]),
        dedup_seconds=parts["dedup"][best],
        count_seconds=parts["count"][best],
        width=parts["width"],
    )


def w_build_split(quick, window):
    """The steps of `cooc build`, with the library functions and a timer on each."""
    from cooc.cooccurrence import CoocMatrix, WindowCounter
    from cooc.corpus import iter_token_chunks
    from cooc.vocab import build_vocabulary

    files = [str(f) for f in common.bench_files(quick)]
    tiny_ids, tiny_off = _tiny()
    WindowCounter(50, window_size=window).update(tiny_ids, tiny_off).result()  # warm-up
    timer = common.Timer()

    def timed_chunks(stage):
        it = iter_token_chunks(files)
        while True:
            with timer(stage):
                chunk = next(it, None)
            if chunk is None:
                return
            yield chunk

    common.reset_peak()
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    vocab = build_vocabulary(
        timed_chunks("pass 1: read + tokenize"), max_size=common.VOCAB_SIZE
    )
    timer.seconds["pass 1: count words, vocabulary"] = (
        time.perf_counter() - t0 - timer.seconds["pass 1: read + tokenize"]
    )
    counter = WindowCounter(len(vocab), window_size=window)
    for chunk in timed_chunks("pass 2: read + tokenize"):
        with timer("pass 2: encode ids"):
            ids = vocab.encode_chunk(chunk)
        with timer("counting: window kernel"):
            counter.update(ids, chunk.offsets)
    with timer("counting: assemble CSR"):
        matrix = counter.result()
    stats = dict(counter.stats, vocabulary_size=len(vocab))
    with tempfile.TemporaryDirectory(dir=common.CACHE) as tmp:
        path = Path(tmp) / "bench.cooc"
        with timer("write .cooc"):
            CoocMatrix(matrix, vocab, counter.params, stats).save(path)
        size = path.stat().st_size
    total = time.perf_counter() - t_start
    return {
        "stages": timer.seconds,
        "total_seconds": total,
        "peak_mib": common.peak_mib(),
        "n_tokens": stats["n_tokens"],
        "nnz": matrix.nnz,
        "file_mib": size / 2**20,
    }


WORKERS = {
    "cooc_window": w_cooc_window,
    "numpy_window": w_numpy_window,
    "vectorizers_window": w_vectorizers_window,
    "compile": w_compile,
    "sklearn_doc": w_sklearn_doc,
    "cooc_doc": w_cooc_doc,
    "build_split": w_build_split,
}


# =====================================================================================
# the parent: runs the workers, prints the tables
# =====================================================================================
def run(task, **params):
    env = params.pop("env", None)
    out = common.run_worker(SCRIPT, task, env=env, **params)
    if "error" in out:
        print(f"   ! {task} {params}: {out['error']}", file=sys.stderr)
    return out


def _mib(x):
    return fmt(x, ".0f")


def counting_table(args):
    windows = (10, 5)
    rep, cap = args.repeat, args.max_seconds
    groups = [(args.quick, False)]
    if not args.quick:  # the 1M subset, for vectorizers (and the same peers)
        groups.append((True, True))
    out_tables = []
    for window in windows:
        rows, notes, vec_subset = [], [], None
        for quick_data, vec_group in groups:
            res = {}
            for nj in (1, 2):
                res[f"cooc n_jobs={nj}"] = run(
                    "cooc_window",
                    quick=quick_data,
                    window=window,
                    n_jobs=nj,
                    repeat=rep,
                    max_seconds=cap,
                )
            res["numpy/scipy coo per distance"] = run(
                "numpy_window",
                quick=quick_data,
                window=window,
                repeat=rep,
                max_seconds=cap,
            )
            if vec_group or args.quick or args.vectorizers_full:
                v = run(
                    "vectorizers_window",
                    quick=quick_data,
                    window=window,
                    n_threads_list=[1, 2],
                    repeat=rep,
                    max_seconds=cap,
                )
                if "error" in v:
                    res["vectorizers"] = v
                else:
                    if vec_group:
                        vec_subset = v
                    for r in v["runs"]:
                        r["n_tokens"] = v["n_tokens"]
                        res[f"vectorizers n_threads={r['n_threads']}"] = r
                    notes.append(
                        f"vectorizers: import {v['import_seconds']:.1f} s, first call "
                        f"(numba compile, no cache) {v['compile_seconds']:.1f} s; "
                        f"{v['check']}"
                    )
            ref = res["cooc n_jobs=2"].get("seconds")
            ref_mem = res["cooc n_jobs=2"].get("extra_mib")
            n_tok = next((r["n_tokens"] for r in res.values() if "n_tokens" in r), 0)
            ident = f"n_tokens={human(n_tok)}-window={window}"
            for name, r in res.items():
                if "error" in r:
                    rows.append(
                        [ident, name, "failed", "", "", "", "", "", "", r["error"][:60]]
                    )
                    continue
                sec = r["seconds"]
                rows.append(
                    [
                        ident,
                        name,
                        fmt(sec / ref if ref else None, ".2f"),
                        fmt(r["extra_mib"] / ref_mem if ref_mem else None, ".2f"),
                        fmt(sec, ".2f"),
                        human(r["n_tokens"] / sec),
                        _mib(r["peak_mib"]),
                        _mib(r["extra_mib"]),
                        len(r["all_seconds"]),
                        human(r["nnz"]),
                    ]
                )
                if "check" in r:
                    notes.append(f"numpy/scipy ({ident}): {r['check']}")
                if "kernel_seconds" in r:
                    notes.append(
                        f"{name} ({ident}): {r['kernel_seconds']:.2f} s of it in its "
                        "counting proper, the rest in its Python preprocessing "
                        "(token lookup per token)"
                    )
        if not args.quick and not args.vectorizers_full and vec_subset:
            r1 = vec_subset["runs"][0]
            notes.append(
                f"vectorizers runs on the {human(vec_subset['n_tokens'])}-token subset "
                f"only: there it took {r1['seconds']:.0f} s and "
                f"{r1['extra_mib']:.0f} MiB (its buffer of (row, col, value) triples "
                "grows with the pairs); the full corpus is 10x that "
                "(--vectorizers-full to try)"
            )
        notes.append(
            "input: the same int32 ids for all (OOV dropped), harmonic 1/d weights, "
            "symmetric; cooc sums exact integers, numpy float64, vectorizers float32"
        )
        notes.append(
            "both vectorizers rows run in one process (compiled once); every other row "
            "in its own process"
        )
        out_tables.append(
            table(
                f"window counting, real corpus, 50k vocabulary, window={window}: "
                "time and memory per method (ratios vs cooc n_jobs=2 on the same "
                "data; >1 = slower/bigger)",
                [
                    "id",
                    "method",
                    "x time",
                    "x mem",
                    "seconds",
                    "tokens/s",
                    "peak MiB",
                    "extra MiB",
                    "runs",
                    "nnz",
                ],
                rows,
                notes,
            )
        )
    return out_tables


def compile_table(args):
    rows = []
    with tempfile.TemporaryDirectory(dir=common.CACHE) as cold_cache:
        for label, env in (
            ("cold (empty numba cache)", {"NUMBA_CACHE_DIR": cold_cache}),
            ("warm (cache filled by the cold run)", {"NUMBA_CACHE_DIR": cold_cache}),
        ):
            r = run("compile", env=env)
            if "error" in r:
                rows.append([label, "failed", r["error"][:80], "", "", ""])
                continue
            rows.append(
                [
                    label,
                    fmt(r["import_seconds"]),
                    fmt(r["first_call_n_jobs=1"]),
                    fmt(r["second_call_n_jobs=1"], ".4f"),
                    fmt(r["first_call_n_jobs=2"], ".4f"),
                    fmt(r["second_call_n_jobs=2"], ".4f"),
                ]
            )
    return table(
        "cooc first-call cost (numba compile or cache load) in a fresh process, "
        "500-token input, "
        "window=10 - excluded from every other figure",
        [
            "numba cache",
            "import s",
            "1st call n_jobs=1 s",
            "2nd call s",
            "1st call n_jobs=2 s",
            "2nd call s",
        ],
        rows,
        [
            "the kernels use numba's cache=True: an installed cooc pays the cold cost "
            "once"
        ],
    )


def doc_table(args):
    rep, cap = args.repeat, args.max_seconds
    res = {
        "sklearn CountVectorizer + X.T@X": run(
            "sklearn_doc",
            quick=args.quick,
            max_len=DOC_MAX_LEN,
            repeat=rep,
            max_seconds=cap,
        )
    }
    for nj in (1, 2):
        res[f"cooc n_jobs={nj}"] = run(
            "cooc_doc",
            quick=args.quick,
            max_len=DOC_MAX_LEN,
            n_jobs=nj,
            repeat=rep,
            max_seconds=cap,
        )
    ref = res["cooc n_jobs=2"].get("seconds")
    ref_mem = res["cooc n_jobs=2"].get("extra_mib")
    rows, notes = [], []
    n_tok = next((r["n_tokens"] for r in res.values() if "n_tokens" in r), 0)
    ident = f"n_tokens={human(n_tok)}-docs<={DOC_MAX_LEN}"
    for name, r in res.items():
        if "error" in r:
            rows.append([ident, name, "failed", r["error"][:60]] + [""] * 6)
            continue
        if "vectorize_seconds" in r:
            split = (
                f"vectorize {r['vectorize_seconds']:.2f} + "
                f"X.T@X {r['product_seconds']:.2f}"
            )
            notes.append(r["check"])
        else:
            split = f"dedup {r['dedup_seconds']:.2f} + count {r['count_seconds']:.2f}"
        rows.append(
            [
                ident,
                name,
                fmt(r["seconds"] / ref if ref else None),
                fmt(r["extra_mib"] / ref_mem if ref_mem else None),
                fmt(r["seconds"]),
                human(r["n_tokens"] / r["seconds"]),
                _mib(r["peak_mib"]),
                _mib(r["extra_mib"]),
                split,
                human(r["nnz"]),
            ]
        )
    notes.append(
        f"data: the documents of at most {DOC_MAX_LEN} tokens (tweets, reviews, "
        "summaries, paragraphs); long documents make both methods quadratic"
    )
    notes.append(
        "cooc has no document-level counter: a uniform window as wide as the longest "
        "document counts every pair of positions of a document once (a word with "
        "itself "
        "n(n-1) times on the diagonal); on ids deduplicated per document that is the "
        "number of documents holding both words, i.e. binary X.T@X without its diagonal"
    )
    return table(
        "document-level co-occurrence (number of documents holding both words), "
        "real corpus, "
        "50k vocabulary (ratios vs cooc n_jobs=2)",
        [
            "id",
            "method",
            "x time",
            "x mem",
            "seconds",
            "tokens/s",
            "peak MiB",
            "extra MiB",
            "split (s)",
            "nnz",
        ],
        rows,
        notes,
    )


def _cli_build(files, window, out):
    cmd = [
        sys.executable,
        "-m",
        "cooc",
        "build",
        *map(str, files),
        "-o",
        str(out),
        "--window",
        str(window),
        "--min-count",
        "1",
        "--max-size",
        str(common.VOCAB_SIZE),
        "--json",
        "--quiet",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {stderr.strip()[-200:]}"}
    return {
        "seconds": wall,
        "peak_mib": rusage.ru_maxrss / 1024,
        "json": json.loads(stdout),
    }


def build_table(args):
    files = common.bench_files(args.quick)
    cols = {}
    for window in (5, 10):
        runs = []
        with tempfile.TemporaryDirectory(dir=common.CACHE) as tmp:
            for _ in range(args.repeat):
                r = _cli_build(files, window, Path(tmp) / "out.cooc")
                runs.append(r)
                if (
                    "error" in r
                    or sum(x["seconds"] for x in runs) + r["seconds"] > args.max_seconds
                ):
                    break
        split = run("build_split", quick=args.quick, window=window)
        cols[window] = (runs, split)
    rows, notes = [], []
    n_tok = None
    for window, (runs, split) in cols.items():
        if any("error" in r for r in runs):
            notes.append(f"window {window}: cooc build failed: {runs[-1]['error']}")
            continue
        best = min(runs, key=lambda r: r["seconds"])
        n_tok = best["json"]["n_tokens"]
        rows.append(
            [
                f"n_tokens={human(n_tok)}-window={window}",
                "cooc build (CLI)",
                fmt(best["seconds"]),
                human(n_tok / best["seconds"]),
                _mib(max(r["peak_mib"] for r in runs)),
                len(runs),
                "100%",
            ]
        )
        if "error" in split:
            notes.append(f"window {window}: split failed: {split['error']}")
            continue
        total = split["total_seconds"]
        rows.append(
            [
                f"n_tokens={human(n_tok)}-window={window}",
                "library, timed steps (total)",
                fmt(total),
                human(n_tok / total),
                _mib(split["peak_mib"]),
                1,
                "100%",
            ]
        )
        st = split["stages"]
        for stage, sec in st.items():
            rows.append(
                ["", f"  {stage}", fmt(sec), "", "", "", f"{100 * sec / total:.0f}%"]
            )
        tok = st.get("pass 1: read + tokenize", 0) + st.get(
            "pass 2: read + tokenize", 0
        )
        cnt = st.get("counting: window kernel", 0) + st.get("counting: assemble CSR", 0)
        top = "counting" if cnt > tok else "reading + tokenizing"
        notes.append(
            f"window {window}: reading + tokenizing (two passes) {tok:.1f} s "
            f"({100 * tok / total:.0f}%) vs counting {cnt:.1f} s "
            f"({100 * cnt / total:.0f}%): {top} dominates; .cooc file "
            f"{split['file_mib']:.0f} MiB, {human(split['nnz'])} non-zeros"
        )
    notes.append(
        "CLI: `cooc build FILES -o out.cooc --window W --min-count 1 --max-size 50000` "
        "in a fresh process, all cores; wall time includes interpreter start-up and "
        "imports; peak RSS of the process from wait4()"
    )
    notes.append(
        "the timed steps read the corpus twice (vocabulary pass, counting pass); "
        "the CLI without --vocab reads it once and keeps the tokenized chunks "
        "between the passes when they fit in 512 MiB (pass 2's read + tokenize "
        "is then saved)"
    )
    return table(
        f"end-to-end cooc build: text files ({len(files)} .txt.gz) -> .cooc on disk, "
        "50k "
        "vocabulary: wall time, peak memory and where the time goes",
        ["id", "what", "seconds", "tokens/s", "peak MiB", "runs", "share"],
        rows,
        notes,
    )


def scaling_table(args):
    window = 10
    rows, base, base_update = [], None, None
    for k in (1, 2, 4):
        r = run(
            "cooc_window",
            quick=args.quick,
            window=window,
            n_jobs=2,
            repeat=args.repeat,
            max_seconds=args.max_seconds,
            tile=k,
        )
        if "error" in r:
            rows.append([f"{k}x", "failed", r["error"][:80], "", "", "", "", ""])
            continue
        ns = 1e9 * r["seconds"] / r["n_tokens"]
        base = base or ns
        ns_update = 1e9 * r["update_seconds"] / r["n_tokens"]
        base_update = base_update or ns_update
        rows.append(
            [
                f"n_tokens={human(r['n_tokens'])}-window={window}",
                f"{k}x",
                fmt(ns / base),
                fmt(ns_update / base_update),
                fmt(r["seconds"]),
                fmt(ns, ".0f"),
                fmt(r["update_seconds"]),
                fmt(r["result_seconds"]),
                human(r["n_tokens"] / r["seconds"]),
                _mib(r["peak_mib"]),
                _mib(r["extra_mib"]),
                len(r["all_seconds"]),
                human(r["nnz"]),
            ]
        )
    return table(
        "linear scaling: cooc WindowCounter (n_jobs=2, window=10, harmonic) on the "
        "real corpus "
        "concatenated with itself 1x/2x/4x",
        [
            "id",
            "corpus",
            "x ns/token vs 1x",
            "x update ns/token",
            "seconds",
            "ns/token",
            "update s",
            "result s",
            "tokens/s",
            "peak MiB",
            "extra MiB",
            "runs",
            "nnz",
        ],
        rows,
        [
            "the same documents repeated: the vocabulary and the non-zeros stay the "
            "same, only the counts grow, so this isolates the cost per token; 'extra' "
            "excludes the input ids",
            "update = WindowCounter.update (the window kernel, grows with tokens); "
            "result = "
            "assembling the CSR matrix (grows with non-zeros, here constant)",
        ],
    )


SECTIONS = {
    "counting": counting_table,
    "compile": compile_table,
    "documents": doc_table,
    "build": build_table,
    "scaling": scaling_table,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"use a {human(common.QUICK_TOKENS)}-token subset of the corpus",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (best is kept)"
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="stop repeating a measurement once its runs took this long",
    )
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    p.add_argument(
        "--vectorizers-full",
        action="store_true",
        help="also run vectorizers on the full corpus (slow, >10 GB)",
    )
    args = p.parse_args(argv)
    common.CACHE.mkdir(parents=True, exist_ok=True)
    data = "1M-token subset" if args.quick else "full corpus"
    print(f"# bench_counting ({data}); {common.machine_line()}", flush=True)
    common.encoded_corpus(args.quick)  # build the shared input once, before any timing
    if not args.quick:
        common.encoded_corpus(True)
    for name in args.sections.split(","):
        t0 = time.perf_counter()
        for text in np.atleast_1d(SECTIONS[name](args)):
            print(text, flush=True)
        print(
            f"   ({name}: {time.perf_counter() - t0:.0f} s; load average now "
            f"{common.load_average():.2f})\n",
            flush=True,
        )


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
