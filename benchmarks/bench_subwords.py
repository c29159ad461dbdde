"""Rare and unseen words: cooc's subword estimates against gensim FastText.

Run ``python benchmarks/bench_subwords.py [--slices 1M,3M,full]`` (or ``make
bench BENCH_ARGS="--only subwords"``; with ``--quick`` only the 1M slice).
On slices of the shared corpus (``shared/data/corpus/*.txt.gz``): 1M and 3M
tokens (the same share of characters from the start of each file, whole
lines, as ``--quick`` takes) and the whole corpus (~10.5M tokens), so that
many benchmark words are rare or unseen. Per slice, every row goes from the
text files to a vectors file on disk in a fresh process (wall seconds, peak
resident set):

* ``cooc embed SLICE -o v.npz``: cooc's defaults, no subwords; a pair with an
  out-of-vocabulary word is scored 0 in the all-pairs rho;
* ``cooc embed SLICE -o v.npz --subwords``: the same with the character
  n-gram model stored beside the vectors (its defaults: the words below
  ``--min-count`` also get vectors from their counts, ``--rare-words``); an
  out-of-vocabulary word gets its estimate (``emb[word]``);
* gensim ``FastText`` CBOW (and, with ``--sg``, skip-gram) on the same tokens
  (cooc's tokenizer, documents cut at gensim's 10,000-token sentence limit),
  dimension = cooc's default rank on that slice, ``min_count=5`` (cooc's
  default), ``window=5``, ``workers=2``, gensim's defaults otherwise (5
  epochs, n-grams 3-6, 2M buckets); seconds = reading and tokenizing +
  training + saving the keyed vectors with their n-gram buckets
  (``model.wv.save``, what a user keeps to query unseen words). An
  out-of-vocabulary word gets FastText's n-gram vector (``model.wv[word]``).

Scores: Spearman's rho on WordSim-353, SimLex-999 and MEN over the pairs with
both words in the vocabulary (with the coverage) and over all pairs, and MEN's
all-pairs rho split by how often the rarer word of a pair occurs in the slice
(counted with cooc's tokenizer). cooc's rows are also scored by
``cooc.evaluate.evaluate_similarity`` and the two are checked to agree.
Then the targets of issue 16: MEN all-pairs rho on the 1M slice at least 0.10
above the same slice without subwords; no in-vocabulary drop beyond 0.005 on
the full corpus; cooc with subwords above FastText on every set at every
slice; FastText at least 5x cooc's time.

FastText takes minutes (its 2M x dimension n-gram table is 4 GB at 500
dimensions), so its results (the cosine of every benchmark pair, the times)
are cached in the bench cache folder under a key of its settings, the slice's
files and the gensim version, and its vectors file is deleted after scoring;
the table marks cached rows. cooc is measured on every run.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import importlib.util
import itertools
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import embedding_eval
from bench_word2vec import GENSIM_MAX_WORDS, run_cli
from common import fmt, human, table

SCRIPT = Path(__file__).resolve()
FULL = "full"
DEFAULT_SLICES = "1M,3M,full"
MIN_COUNT = 5  # cooc embed's default --min-count, given to FastText too
# count in the slice of the rarer word of a pair: unseen, below cooc's (and
# FastText's) min_count, and two bands of words with vectors of their own
BANDS = ((0, 1), (1, MIN_COUNT), (MIN_COUNT, 100), (100, None))
METHODS = ("plain", "subwords", "fasttext", "fasttext-sg")
TARGET_GAIN = 0.10  # 1M slice: MEN all-pairs rho, subwords minus plain
TARGET_DROP = 0.005  # full corpus: largest allowed in-vocabulary drop
TARGET_SPEED = 5.0  # FastText seconds / cooc --subwords seconds


# =====================================================================================
# slices, counts, benchmark pairs
# =====================================================================================
def parse_slice(name: str) -> int | None:
    """'1M' -> 1_000_000, '300k' -> 300_000, 'full' -> None."""
    if name == FULL:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", name)
    if not m:
        raise SystemExit(f"--slices: {name!r} is not 'full' or a count such as 1M")
    scale = {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def slice_files(name: str) -> list[Path]:
    n = parse_slice(name)
    return common.corpus_files() if n is None else common.quick_files(n)


def stamp(files) -> list:
    return [(str(f), Path(f).stat().st_size, Path(f).stat().st_mtime_ns) for f in files]


def eval_pairs() -> dict[str, pd.DataFrame]:
    from cooc.evaluate import load_similarity

    folder = embedding_eval.eval_dir()
    return {
        name: load_similarity(folder / fname)
        for name, fname in embedding_eval.SIMILARITY.items()
    }


def slice_counts(files, words) -> dict:
    """Tokens of the slice, words kept at ``MIN_COUNT`` and each benchmark word's
    count in it (cooc's tokenizer), cached per slice."""
    import cooc.corpus

    key = common._key(stamp(files), sorted(words), cooc.corpus.__file__)
    path = common.CACHE / f"subwords-counts-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    from cooc.vocab import build_vocabulary_from_files

    vocab = build_vocabulary_from_files([str(f) for f in files], min_count=1)
    counts = dict(zip(vocab.tokens, vocab.counts.tolist(), strict=True))
    out = {
        "n_tokens": int(vocab.counts.sum()),
        "n_words_min_count": int((vocab.counts >= MIN_COUNT).sum()),
        "counts": {w: counts.get(w, 0) for w in sorted(words)},
    }
    common.CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def pair_cosines(vector, known, pairs: dict[str, pd.DataFrame]) -> dict:
    """The cosine of every benchmark pair and whether both words are known.

    ``vector(word)`` returns a vector or None (the pair is then scored 0);
    ``known(word)`` says whether the word is in the vocabulary proper.
    """
    out = {}
    for name, df in pairs.items():
        cos, covered = [], []
        for w1, w2 in zip(df["word1"], df["word2"], strict=True):
            a, b = vector(w1), vector(w2)
            c = 0.0
            if a is not None and b is not None:
                na, nb = np.linalg.norm(a), np.linalg.norm(b)
                if na > 0 and nb > 0:
                    c = float(np.dot(a, b) / (na * nb))
            cos.append(c)
            covered.append(bool(known(w1) and known(w2)))
        out[name] = {"cosines": cos, "covered": covered}
    return out


def spearman(x, y) -> float:
    """Spearman's rho (Pearson of average ranks); NaN below 2 pairs or if constant."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def band_label(lo, hi) -> str:
    if hi is None:
        return f">={lo}"
    return str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}"


def rarer_counts(df: pd.DataFrame, counts: dict) -> np.ndarray:
    return np.array(
        [
            min(counts.get(a, 0), counts.get(b, 0))
            for a, b in zip(df["word1"], df["word2"], strict=True)
        ]
    )


def summarize(result: dict, pairs: dict, counts: dict) -> dict:
    """rho over all pairs and over the covered ones, coverage, MEN by band."""
    out = {}
    for name, df in pairs.items():
        scores = df["score"].to_numpy(float)
        cos = np.asarray(result["pairs"][name]["cosines"], float)
        cov = np.asarray(result["pairs"][name]["covered"], bool)
        out[name] = {
            "all": spearman(scores, cos),
            "inv": spearman(scores[cov], cos[cov]),
            "cov": float(cov.mean()),
        }
        if name == "MEN":
            rare = rarer_counts(df, counts)
            for lo, hi in BANDS:
                sel = (rare >= lo) & (rare < (hi if hi is not None else np.inf))
                out[name][band_label(lo, hi)] = spearman(scores[sel], cos[sel])
    return out


# =====================================================================================
# workers
# =====================================================================================
def w_score(path):
    """Scores of a cooc vectors file: per-pair cosines and evaluate_similarity."""
    from cooc.evaluate import evaluate_similarity
    from cooc.vectors import Embeddings

    emb = Embeddings.load(path)
    pairs = eval_pairs()

    def vector(word):
        try:
            return np.asarray(emb[word], dtype=np.float64)
        except KeyError:
            return None

    vocabulary = set(emb.tokens)  # words with a vector of their own
    out = {"pairs": pair_cosines(vector, vocabulary.__contains__, pairs)}
    evaluated = {}
    for name, df in pairs.items():
        r = evaluate_similarity(emb, df)
        evaluated[name] = {
            k: r.get(k)
            for k in ("spearman", "spearman_all", "spearman_oov_zero", "coverage")
        }
        evaluated[name]["n_estimated"] = r.get("n_estimated")
    out["evaluate"] = evaluated
    out["n_words"] = len(emb)
    out["dim"] = int(emb.vectors.shape[1])
    out["has_subwords"] = getattr(emb, "subwords", None) is not None
    return out


def gensim_documents(files) -> list[list[str]]:
    """The corpus as token lists by cooc's tokenizer, cut at gensim's limit."""
    from cooc.corpus import iter_token_chunks

    docs = []
    for chunk in iter_token_chunks([str(f) for f in files]):
        tokens = chunk.uniques[chunk.codes].tolist()
        for a, b in itertools.pairwise(chunk.offsets.tolist()):
            docs.extend(
                tokens[start : min(b, start + GENSIM_MAX_WORDS)]
                for start in range(a, b, GENSIM_MAX_WORDS)
            )
    return docs


def w_fasttext(files, out, **settings):
    import gensim
    from gensim.models import FastText

    t0 = time.perf_counter()
    docs = gensim_documents(files)
    t_tok = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = FastText(docs, seed=0, **settings)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.wv.save(out)
    t_save = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    written = glob.glob(glob.escape(out) + "*")
    size = sum(os.path.getsize(p) for p in written)
    del docs
    wv = model.wv
    result = {
        "seconds": t_tok + t_train + t_save,
        "split": {"tokenize": t_tok, "train": t_train, "save": t_save},
        "peak_mib": peak,
        "file_mib": size / 2**20,
        "n_words": len(wv),
        "dim": int(wv.vector_size),
        "pairs": pair_cosines(
            lambda w: np.asarray(wv[w], dtype=np.float64),
            lambda w: w in wv.key_to_index,
            eval_pairs(),
        ),
        "gensim": gensim.__version__,
        "measured": datetime.datetime.now().isoformat(timespec="minutes"),
        "load_after": os.getloadavg(),
    }
    for p in written:  # gigabytes; the cosines above are all the table needs
        os.remove(p)
    return result


WORKERS = {"score": w_score, "fasttext": w_fasttext}


# =====================================================================================
# parent
# =====================================================================================
def subwords_available() -> str | None:
    """None when ``cooc embed --subwords`` exists, else why not."""
    if importlib.util.find_spec("cooc.subwords") is None:
        return "cooc.subwords does not exist yet"
    proc = subprocess.run(
        [sys.executable, "-m", "cooc", "embed", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    if "--subwords" not in proc.stdout:
        return "cooc embed has no --subwords option yet"
    return None


def measure_cooc(name: str, files, subwords: bool, options=()) -> dict:
    work = common.CACHE / "subwords-bench"
    work.mkdir(parents=True, exist_ok=True)
    vectors = work / f"{name}-{'subwords' if subwords else 'plain'}.npz"
    args = ["embed", *files, "-o", vectors, "--quiet"]
    if subwords:
        args += ["--subwords", *options]
    timing = run_cli(args)
    scored = common.run_worker(SCRIPT, "score", timeout=1800, path=str(vectors))
    if "error" in scored:
        return {"error": f"scoring {vectors.name} failed: {scored['error']}"}
    scored.pop("process_seconds", None)
    return {
        **timing,
        **scored,
        "file_mib": vectors.stat().st_size / 2**20,
        "split": {"embed": timing["seconds"]},
    }


def measure_fasttext(files, sg: int, dims: int, cached_only: bool) -> dict:
    import gensim

    settings = dict(sg=sg, vector_size=dims, window=5, min_count=MIN_COUNT, workers=2)
    key = common._key(stamp(files), sorted(settings.items()), gensim.__version__)
    out = common.cached_worker(
        SCRIPT,
        "fasttext",
        common.CACHE / f"subwords-fasttext-{key}.json",
        run=not cached_only,
        files=[str(f) for f in files],
        out=str(common.CACHE / f"subwords-fasttext-{key}.kv"),
        **settings,
    )
    return {"skipped": "--no-gensim and not cached"} if out is None else out


def cooc_checks(label, r, summary) -> list[str]:
    """Notes where the per-pair scores and evaluate_similarity disagree."""
    notes = []
    for name, ev in r.get("evaluate", {}).items():
        pairs = [("spearman", "inv"), ("coverage", "cov")]
        if ev.get("spearman_all") is not None:
            pairs.append(("spearman_all", "all"))
        for ek, sk in pairs:
            a, b = ev.get(ek), summary[name][sk]
            if a is None or not (np.isfinite(a) and np.isfinite(b)):
                continue
            if abs(a - b) > 1e-6:
                notes.append(
                    f"{label}: {name} {ek} {a:.6f} by evaluate_similarity but "
                    f"{b:.6f} here"
                )
    return notes


def run_slice(name, methods, args, pairs, words, skip_subwords) -> dict:
    files = slice_files(name)
    counts = slice_counts(files, words)
    from cooc.svd import default_rank

    dims = default_rank((counts["n_words_min_count"],) * 2)
    rows = {}
    for method in methods:
        if method == "plain":
            rows[method] = measure_cooc(name, files, False)
        elif method == "subwords":
            rows[method] = (
                {"skipped": skip_subwords}
                if skip_subwords
                else measure_cooc(name, files, True, args.subword_options)
            )
        else:
            sg = int(method == "fasttext-sg")
            rows[method] = measure_fasttext(files, sg, dims, args.no_gensim)
        r = rows[method]
        if "pairs" in r:
            r["summary"] = summarize(r, pairs, counts["counts"])
    return {"files": files, "counts": counts, "dims": dims, "rows": rows}


LABELS = {
    "plain": "cooc embed (no subwords; OOV pairs 0)",
    "subwords": "cooc embed --subwords",
    "fasttext": "gensim FastText CBOW",
    "fasttext-sg": "gensim FastText skip-gram (optional)",
}


def print_slice(name, res, pairs) -> None:
    rows_in = res["rows"]
    base = rows_in.get("subwords", {}).get("seconds") or rows_in.get("plain", {}).get(
        "seconds"
    )
    base_label = (
        "cooc --subwords"
        if rows_in.get("subwords", {}).get("seconds")
        else ("cooc without subwords")
    )
    men = pairs["MEN"]
    rare = rarer_counts(men, res["counts"]["counts"])
    band_cols = []
    for lo, hi in BANDS:
        n = int(((rare >= lo) & (rare < (hi if hi is not None else np.inf))).sum())
        band_cols.append(f"MEN {band_label(lo, hi)} (n={n})")
    rows, notes = [], []
    for method, r in rows_in.items():
        label = LABELS[method]
        if "summary" not in r:
            why = r.get("skipped") or r.get("error", "?")
            rows.append([label, "skipped"] + [None] * (7 + len(BANDS)))
            notes.append(f"{label}: skipped: {why}")
            continue
        s = r["summary"]
        cells = [
            f"{fmt(s[k]['all'], '.3f')} {fmt(s[k]['inv'], '.3f')} ({s[k]['cov']:.0%})"
            for k in embedding_eval.SIMILARITY
        ]
        bands = [fmt(s["MEN"][band_label(lo, hi)], ".3f") for lo, hi in BANDS]
        split = ", ".join(f"{k} {v:.1f}" for k, v in r["split"].items())
        rows.append(
            [
                label + (" [cached]" if r.get("cached") else ""),
                *cells,
                *bands,
                fmt(r["seconds"], ".1f"),
                fmt(r["seconds"] / base, ".1f") if base else "-",
                fmt(r["peak_mib"], ".0f"),
                fmt(r["file_mib"], ".0f"),
                split if method.startswith("fasttext") else "",
            ]
        )
        notes += cooc_checks(label, r, s)
        if method == "subwords" and "evaluate" in r:
            est = {k: v.get("n_estimated") for k, v in r["evaluate"].items()}
            notes.append(f"{label}: pairs scored by an estimate {est}")
        if r.get("cached"):
            notes.append(
                f"{label}: cached result measured {r['measured']} (gensim "
                f"{r['gensim']}, load average after "
                f"{' '.join(f'{x:.2f}' for x in r['load_after'])})"
            )
    c = res["counts"]
    notes = [
        f"{name}: {human(c['n_tokens'])} tokens, {c['n_words_min_count']} words seen "
        f">= {MIN_COUNT} times; FastText dimension {res['dims']} (cooc's default rank)",
        "each set: rho over all pairs, rho over in-vocabulary pairs (coverage); "
        f"MEN {'/'.join(band_label(*b) for b in BANDS)}: all-pairs rho of the MEN "
        "pairs whose rarer word occurs that often in this slice (n pairs)",
        f"seconds: text files -> vectors file, wall clock; cooc: one CLI process; "
        f"FastText: cooc's tokenizer + FastText() + wv.save (split in the last "
        f"column); x time vs {base_label}; peak MiB: the process's peak resident "
        "set; file MiB: the vectors file(s) written",
        *notes,
        f"load average after the table: {embedding_eval.load_text()}",
    ]
    print(
        table(
            f"subwords: slice {name}",
            [
                "method",
                "WS353 all inv (cov)",
                "SimLex all inv (cov)",
                "MEN all inv (cov)",
                *band_cols,
                "seconds",
                "x time",
                "peak MiB",
                "file MiB",
                "split (s)",
            ],
            rows,
            notes,
        ),
        flush=True,
    )


def print_checks(results: dict) -> None:
    rows = []

    def summary(name, method):
        return results.get(name, {}).get("rows", {}).get(method, {}).get("summary")

    plain, sub = summary("1M", "plain"), summary("1M", "subwords")
    if plain and sub:
        gain = sub["MEN"]["all"] - plain["MEN"]["all"]
        rows.append(
            [
                "1M: MEN all-pairs rho, --subwords minus without",
                f">= +{TARGET_GAIN:.2f}",
                f"{gain:+.3f} ({sub['MEN']['all']:.3f} vs {plain['MEN']['all']:.3f})",
                "PASS" if gain >= TARGET_GAIN else "FAIL",
            ]
        )
    plain, sub = summary(FULL, "plain"), summary(FULL, "subwords")
    if plain and sub:
        for k in embedding_eval.SIMILARITY:
            d = sub[k]["inv"] - plain[k]["inv"]
            same = "" if sub[k]["cov"] == plain[k]["cov"] else " (other pairs)"
            rows.append(
                [
                    f"full: {k} in-vocabulary rho change{same}",
                    f">= -{TARGET_DROP}",
                    f"{d:+.4f} ({sub[k]['inv']:.3f} vs {plain[k]['inv']:.3f})",
                    "PASS" if d >= -TARGET_DROP else "FAIL",
                ]
            )
    for name, res in results.items():
        sub = summary(name, "subwords")
        r_sub = res["rows"].get("subwords", {})
        for method in ("fasttext", "fasttext-sg"):
            ft = summary(name, method)
            if not (sub and ft):
                continue
            for k in embedding_eval.SIMILARITY:
                d = sub[k]["all"] - ft[k]["all"]
                rows.append(
                    [
                        f"{name}: {k} all-pairs rho, --subwords minus {method}",
                        "> 0",
                        f"{d:+.3f} ({sub[k]['all']:.3f} vs {ft[k]['all']:.3f})",
                        "PASS" if d > 0 else "FAIL",
                    ]
                )
            ratio = res["rows"][method]["seconds"] / r_sub["seconds"]
            rows.append(
                [
                    f"{name}: {method} seconds / cooc --subwords seconds",
                    f">= {TARGET_SPEED:.0f}",
                    f"{ratio:.1f} ({res['rows'][method]['seconds']:.1f} s vs "
                    f"{r_sub['seconds']:.1f} s)",
                    "PASS" if ratio >= TARGET_SPEED else "FAIL",
                ]
            )
    if not rows:
        print("(no targets to check: the --subwords rows are missing)\n")
        return
    print(
        table(
            "subwords: the targets of issue 16",
            ["check", "target", "measured", "result"],
            rows,
            [f"load average after the table: {embedding_eval.load_text()}"],
        ),
        flush=True,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--slices",
        default=None,
        help=f"comma-separated token counts (1M, 300k) or 'full' [default: "
        f"{DEFAULT_SLICES}; 1M with --quick]",
    )
    p.add_argument("--quick", action="store_true", help="the 1M slice only")
    p.add_argument(
        "--methods",
        default="plain,subwords,fasttext",
        help=f"rows to run, from {','.join(METHODS)} [default: %(default)s]",
    )
    p.add_argument(
        "--sg",
        action="store_true",
        help="also gensim FastText skip-gram (optional row; slow)",
    )
    p.add_argument(
        "--subword-options",
        default="",
        help="more cooc embed options for the --subwords row, e.g. "
        "'--subword-method ridge'",
    )
    p.add_argument(
        "--no-gensim",
        action="store_true",
        help="cooc only (FastText rows only if cached)",
    )
    args, _ = p.parse_known_args(argv)
    args.subword_options = shlex.split(args.subword_options)
    if args.subword_options:
        LABELS["subwords"] += " " + shlex.join(args.subword_options)
    slices = (args.slices or ("1M" if args.quick else DEFAULT_SLICES)).split(",")
    for s in slices:
        parse_slice(s)
    methods = [m for m in args.methods.split(",") if m]
    if args.sg and "fasttext-sg" not in methods:
        methods.append("fasttext-sg")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"--methods: unknown {sorted(unknown)}; choose from {METHODS}")
    print(
        f"# bench_subwords (slices {','.join(slices)}); {common.machine_line()}",
        flush=True,
    )
    pairs = eval_pairs()
    words = set().union(*(set(df["word1"]) | set(df["word2"]) for df in pairs.values()))
    skip = subwords_available() if "subwords" in methods else None
    if skip:
        print(f"# --subwords rows skipped: {skip}", flush=True)
    t0 = time.perf_counter()
    results = {}
    for name in slices:
        results[name] = run_slice(name, methods, args, pairs, words, skip)
        print_slice(name, results[name], pairs)
    print_checks(results)
    print(f"   ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
