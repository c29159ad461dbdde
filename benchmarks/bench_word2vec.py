"""Embedding quality and end-to-end time: cooc (PPMI + SVD) against gensim Word2Vec.

Run ``python benchmarks/bench_word2vec.py [--quick]`` (or ``make bench``).
Every method goes from the corpus text files to word vectors on disk (word2vec
binary format) on the same corpus (``shared/data/corpus/*.txt.gz``, or the 1M-token
subset with ``--quick``), with the same tokens and the same vocabulary cut-off:

* cooc, in one process: ``cooc embed FILES -o vectors.bin`` (counts in memory
  with ``cooc build``'s defaults, then embeds); and in two: ``cooc build FILES
  -o corpus.cooc`` then ``cooc embed corpus.cooc -o vectors.bin``; all with
  their default settings, each command in a fresh process (start-up, imports
  and numba cache loading included). 'x time' is against the one-process row;
* gensim ``Word2Vec`` skip-gram (``sg=1``) and CBOW (``sg=0``): gensim's
  defaults (5 epochs, 5 negative samples, ``sample=1e-3``) except
  ``window=5``, ``min_count=5``, ``workers=2`` and ``vector_size`` = cooc's
  default rank; skip-gram also at gensim's default ``vector_size=100``. It is
  fed the documents as token lists made by cooc's tokenizer (lower-cased word
  runs; documents longer than gensim's 10,000-token limit are cut into
  pieces), so both see the same tokens; the time of that tokenization is
  included in its end-to-end time.

The vectors are scored from the files by the same code (``cooc.evaluate``):
Spearman's rho on WordSim-353, SimLex-999 and MEN with the share of pairs
covered, and 3CosAdd accuracy on the Google analogies (questions and candidates
among the 30,000 most frequent words) with coverage.

gensim takes minutes (skip-gram at 500 dimensions about 3.5 on the full
corpus, 2 cores, load 1-2), so its results are cached in the bench cache folder
under a key of every setting, the corpus files and the gensim version; the
table marks cached rows. cooc is measured on every run.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import embedding_eval
from common import fmt, human, table

SCRIPT = Path(__file__).resolve()
GENSIM_MAX_WORDS = 10_000  # gensim drops the rest of a longer sentence


def cooc_rank() -> int:
    """cooc's default rank (``cooc embed`` without ``--rank``)."""
    from cooc.pipeline import DEFAULT_RANK

    return DEFAULT_RANK


# =====================================================================================
# workers
# =====================================================================================
def w_gensim(files, sg, vector_size, window, min_count, workers, out):
    import gensim
    from gensim.models import Word2Vec

    from cooc.corpus import iter_token_chunks
    from cooc.svd import Embeddings

    t0 = time.perf_counter()
    docs = []
    for chunk in iter_token_chunks(files):
        tokens = chunk.uniques[chunk.codes].tolist()
        bounds = chunk.offsets.tolist()
        for a, b in itertools.pairwise(bounds):
            docs.extend(
                tokens[start : min(b, start + GENSIM_MAX_WORDS)]
                for start in range(a, b, GENSIM_MAX_WORDS)
            )
    t_tok = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = Word2Vec(
        docs,
        sg=sg,
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        workers=workers,
        seed=0,
    )
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.wv.save_word2vec_format(out, binary=True)
    t_save = time.perf_counter() - t0
    n_words = len(model.wv)
    del model, docs
    scores = embedding_eval.score(Embeddings.load(out))
    return {
        "seconds": t_tok + t_train + t_save,
        "split": {"tokenize": t_tok, "train": t_train, "save": t_save},
        "n_words": n_words,
        "scores": scores,
        "gensim": gensim.__version__,
        "measured": datetime.datetime.now().isoformat(timespec="minutes"),
        "load_after": os.getloadavg(),
    }


def w_score(path):
    from cooc.svd import Embeddings

    emb = Embeddings.load(path)
    return {"scores": embedding_eval.score(emb), "n_words": len(emb)}


WORKERS = {"gensim": w_gensim, "score": w_score}


# =====================================================================================
# parent
# =====================================================================================
def run_cli(args: list[str]) -> dict:
    """Run ``cooc ARGS`` in a fresh process: wall seconds and peak RSS (MiB)."""
    return common.cli_process(args)


def measure_cooc(files, one_process=False) -> dict:
    """``cooc build`` + ``cooc embed FILE.cooc``, or ``cooc embed CORPUS`` alone."""
    work = common.CACHE / "w2v-bench"
    work.mkdir(parents=True, exist_ok=True)
    matrix, vectors = work / "corpus.cooc", work / "cooc-vectors.bin"
    if one_process:
        embed = run_cli(["embed", *files, "-o", vectors, "--quiet"])
        timing = {"seconds": embed["seconds"], "split": {"embed": embed["seconds"]}}
        timing["peak_mib"] = embed["peak_mib"]
    else:
        build = run_cli(["build", *files, "-o", matrix, "--quiet"])
        embed = run_cli(["embed", matrix, "-o", vectors, "--quiet"])
        timing = {
            "seconds": build["seconds"] + embed["seconds"],
            "split": {"build": build["seconds"], "embed": embed["seconds"]},
            "peak_mib": max(build["peak_mib"], embed["peak_mib"]),
        }
    scored = common.run_worker(SCRIPT, "score", timeout=1800, path=str(vectors))
    if "error" in scored:
        raise SystemExit(f"scoring cooc's vectors failed: {scored['error']}")
    return {**timing, **scored}


def measure_gensim(files, sg, dims) -> dict:
    import gensim

    settings = dict(sg=sg, vector_size=dims, window=5, min_count=5, workers=2)
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = common._key(stamp, sorted(settings.items()), gensim.__version__)
    return common.cached_worker(
        SCRIPT,
        "gensim",
        common.CACHE / f"w2v-gensim-{key}.json",
        files=[str(f) for f in files],
        out=str(common.CACHE / f"w2v-gensim-{key}.bin"),
        **settings,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"use the {human(common.QUICK_TOKENS)}-token subset",
    )
    p.add_argument(
        "--no-gensim",
        action="store_true",
        help="cooc only (gensim rows only if cached)",
    )
    args, _ = p.parse_known_args(argv)
    data = "1M-token subset" if args.quick else "full corpus"
    print(f"# bench_word2vec ({data}); {common.machine_line()}", flush=True)
    files = common.bench_files(args.quick)
    embedding_eval.eval_dir()
    rank = cooc_rank()
    t0 = time.perf_counter()
    rows_in = [
        ("cooc embed CORPUS (defaults, one process)", measure_cooc(files, True)),
        ("cooc build + cooc embed FILE.cooc", measure_cooc(files)),
    ]
    gensim_runs = (
        (f"gensim Word2Vec skip-gram, {rank} dims", 1, rank),
        (f"gensim Word2Vec CBOW, {rank} dims", 0, rank),
        ("gensim Word2Vec skip-gram, 100 dims", 1, 100),
    )
    for label, sg, dims in gensim_runs:
        if args.no_gensim:
            continue
        rows_in.append((label, measure_gensim(files, sg, dims)))
    cooc_s = rows_in[0][1]["seconds"]
    rows, notes = [], []
    for label, r in rows_in:
        if "error" in r:
            rows.append([label, "error: " + r["error"][:80]] + [None] * 8)
            continue
        sc = r["scores"]
        split = ", ".join(f"{k} {v:.1f}" for k, v in r["split"].items())
        rows.append(
            [
                label + (" [cached]" if r.get("cached") else ""),
                fmt(sc["WS353"], ".3f") + f" ({sc['WS353_cov']:.0%})",
                fmt(sc["SimLex"], ".3f") + f" ({sc['SimLex_cov']:.0%})",
                fmt(sc["MEN"], ".3f") + f" ({sc['MEN_cov']:.0%})",
                fmt(sc["analogy"], ".3f") + f" ({sc['analogy_cov']:.0%})",
                fmt(r["seconds"], ".1f"),
                fmt(r["seconds"] / cooc_s, ".1f"),
                split,
                r["n_words"],
            ]
        )
        if r.get("cached"):
            notes.append(
                f"{label}: cached result measured {r['measured']} (gensim "
                f"{r['gensim']}, load average then "
                f"{' '.join(f'{x:.2f}' for x in r['load_after'])}); delete "
                f"{common.CACHE}/w2v-gensim-*.json to remeasure"
            )
    notes = [
        f"rho (coverage of the pairs); analogy = 3CosAdd accuracy, top "
        f"{embedding_eval.RESTRICT_VOCAB // 1000}k words (coverage of the questions); "
        f"dimension {rank} unless stated; 'x time' = seconds / cooc's seconds",
        "seconds = text files -> vectors file, wall clock; cooc: one CLI process "
        "(embed CORPUS) or two (build, embed); gensim: cooc's tokenizer into "
        "token lists + Word2Vec() + save",
        *notes,
        f"load average after the table: {embedding_eval.load_text()}",
    ]
    print(
        table(
            "word vectors: quality and end-to-end time",
            [
                "method",
                "WS353",
                "SimLex",
                "MEN",
                "analogy",
                "seconds",
                "x time",
                "split (s)",
                "words",
            ],
            rows,
            notes,
        ),
        flush=True,
    )
    print(f"   ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
