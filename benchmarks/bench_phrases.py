"""Phrases: ``cooc phrases`` against gensim ``Phrases``, and what phrases do to vectors.

Run ``python benchmarks/bench_phrases.py [--quick] [--no-gensim] [--no-embed]``.
Corpus: ``shared/data/corpus/*.txt.gz`` (``COOC_BENCH_CORPUS``), or its
1M-token subset with ``--quick``.

1. Agreement and speed. For each scoring (word2phrase = gensim's default
   scorer at its default threshold 10; npmi at 0.5), ``min_count=5``, one and
   two passes:

   * cooc: ``cooc phrases FILES -o phrases.tsv --scoring S --threshold T
     --passes N`` in a fresh process (start-up and numba cache loading
     included): text in, phrase TSV out;
   * gensim: cooc's tokenizer into token lists (so both see the same tokens;
     its time is included), ``Phrases(docs, min_count, threshold, scoring,
     delimiter="_")``, ``export_phrases()`` and a TSV written; the second pass
     applies ``freeze()`` of the first model to every document and trains a
     second ``Phrases`` on that, as gensim's documentation does for trigrams.

   Both are compared pass by pass: |cooc ∩ gensim|, only-cooc and
   only-gensim (with examples), and the largest score difference on the
   common phrases. gensim's phrases are taken two ways: ``export_phrases()``
   (what ``freeze()`` keeps, the usual user path) and the pairs its model
   scores above the threshold when asked about each adjacent pair of its
   input (``score_candidate(a, b, [])``, what ``Phrases[sentence]`` joins).
   gensim's results are cached in the bench cache folder under a key of the
   settings, the corpus files and the gensim version.

2. Effect on the benchmarks. ``cooc embed FILES -o v.bin`` with cooc's
   defaults, without and with ``--phrases`` (word2phrase, threshold 10, one and
   two passes), scored by ``embedding_eval`` (Spearman rho with coverage on
   WS353, SimLex-999 and MEN; 3CosAdd on the Google analogies, top 30k words).
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
MIN_COUNT = 5
SETTINGS = [("word2phrase", "default", 10.0), ("npmi", "npmi", 0.5)]
PASSES = 2


# =====================================================================================
# workers
# =====================================================================================
def _tokens(files):
    from cooc.corpus import iter_token_chunks

    docs = []
    for chunk in iter_token_chunks(files):
        tokens = chunk.uniques[chunk.codes].tolist()
        docs.extend(tokens[a:b] for a, b in itertools.pairwise(chunk.offsets.tolist()))
    return docs


def _reference(docs, scorer, threshold, min_count) -> dict:
    """gensim's scoring function over counts keyed by word tuples (gensim keys
    its counts by the joined string, so "a_b" the word and "a b" the pair
    share one count): pair "a<TAB>b" -> score, for the pairs above threshold."""
    from collections import Counter

    words, pairs = Counter(), Counter()
    for doc in docs:
        words.update(doc)
        pairs.update(itertools.pairwise(doc))
    n, len_vocab = sum(words.values()), len(words) + len(pairs)
    out = {}
    for (a, b), c in pairs.items():
        score = scorer(
            worda_count=words[a], wordb_count=words[b], bigram_count=c,
            len_vocab=len_vocab, min_count=min_count, corpus_word_count=n,
        )  # fmt: skip
        if score > threshold:
            out[f"{a}\t{b}"] = score
    return out


def _greedy_join(docs, pairs: set) -> list:
    """Join the pairs ("a<TAB>b") from the left, as gensim's FrozenPhrases."""
    out = []
    for doc in docs:
        res, i, n = [], 0, len(doc)
        while i < n:
            if i + 1 < n and f"{doc[i]}\t{doc[i + 1]}" in pairs:
                res.append(f"{doc[i]}_{doc[i + 1]}")
                i += 2
            else:
                res.append(doc[i])
                i += 1
        out.append(res)
    return out


def w_gensim(files, scoring, threshold, min_count, passes, out):
    """gensim Phrases, pass after pass; timings, and each pass's phrases."""
    import gensim
    from gensim.models import phrases as gp
    from gensim.models.phrases import Phrases

    common.reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    docs = _tokens(files)
    seconds = {"tokenize": time.perf_counter() - t0}
    cpu = {"tokenize": time.process_time() - c0}
    results = []
    untimed = 0.0
    scorer = gp.original_scorer if scoring == "default" else gp.npmi_scorer
    ref_docs = docs
    for k in range(1, passes + 1):
        t, c = time.perf_counter(), time.process_time()
        model = Phrases(
            docs,
            min_count=min_count,
            threshold=threshold,
            scoring=scoring,
            delimiter="_",
        )
        exported = model.export_phrases()
        with open(f"{out}.pass{k}.tsv", "w", encoding="utf-8") as fh:
            fh.write("phrase\tscore\n")
            for phrase, score in exported.items():
                fh.write(f"{phrase}\t{score!r}\n")
        seconds[f"pass {k}"] = time.perf_counter() - t
        cpu[f"pass {k}"] = time.process_time() - c
        peak = common.peak_mib()
        # Not timed: gensim's own score of every distinct adjacent pair of its
        # input (what Phrases[sentence] joins), for the comparison.
        u = time.perf_counter()
        pairs = {}
        seen = set()
        for doc in docs:
            for a, b in itertools.pairwise(doc):
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                _, score = model.score_candidate(a, b, [])
                if score is not None:
                    pairs[f"{a}\t{b}"] = score
        del seen
        reference = _reference(ref_docs, scorer, threshold, min_count)
        if k < passes:
            ref_docs = _greedy_join(ref_docs, set(reference))
        untimed += time.perf_counter() - u
        results.append(
            {
                "exported": exported,
                "pairs": pairs,
                "reference": reference,
                "n_vocab": len(model.vocab),
                "corpus_word_count": model.corpus_word_count,
            }
        )
        if k < passes:
            t, c = time.perf_counter(), time.process_time()
            frozen = model.freeze()
            docs = [frozen[d] for d in docs]
            seconds[f"join {k}"] = time.perf_counter() - t
            cpu[f"join {k}"] = time.process_time() - c
        del model
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mib": peak,
        "untimed_seconds": untimed,
        "passes": results,
        "gensim": gensim.__version__,
        "measured": datetime.datetime.now().isoformat(timespec="minutes"),
        "load_after": os.getloadavg(),
    }


def w_cooc(files, scoring, threshold, min_count, passes, out):
    """cooc's score_phrases + write_phrases in this process, after its imports
    and a warm-up on a few lines (numba's cache loaded), as gensim's worker."""
    import tempfile

    from cooc.phrases import score_phrases, write_phrases

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.txt"
        warm.write_text("a b c\na b\n" * 10, encoding="utf-8")
        write_phrases(score_phrases([warm], passes=2, min_count=1), Path(tmp) / "w.tsv")

    def run():
        frame = score_phrases(
            files, scoring=scoring, threshold=threshold, min_count=min_count,
            passes=passes,
        )  # fmt: skip
        write_phrases(frame, out)
        return len(frame)

    timed = common.timed_section(run, repeat=1)
    return {"seconds": timed["seconds"], "peak_mib": timed["peak_mib"]}


def w_score(path, phrases=None):
    """Scores of a vectors file, and which benchmark words it lacks."""
    from cooc.evaluate import load_analogies, load_similarity
    from cooc.svd import Embeddings

    emb = Embeddings.load(path)
    folder = embedding_eval.eval_dir()
    words = set()
    for fname in embedding_eval.SIMILARITY.values():
        frame = load_similarity(folder / fname)
        words |= set(frame.word1) | set(frame.word2)
    questions = load_analogies(folder / embedding_eval.ANALOGY)
    analogy_words = set(questions[["a", "b", "c", "d"]].to_numpy().ravel())
    vocab = set(emb.index_to_key)
    out = {
        "scores": embedding_eval.score(emb),
        "n_words": len(emb),
        "missing_similarity": sorted(words - vocab),
        "missing_analogy": sorted(analogy_words - vocab),
    }
    if phrases:
        from cooc.evaluate import evaluate_analogies
        from cooc.phrases import read_phrases

        joined = set(read_phrases(phrases).joined.tolist())
        out["n_phrase_words"] = len(joined & vocab)
        # The analogies again among the 30k most frequent single words: the
        # phrase tokens left out of the candidates and of the top-30k cut.
        keep = [i for i, t in enumerate(emb.index_to_key) if t not in joined]
        words = Embeddings([emb.index_to_key[i] for i in keep], emb.vectors[keep])
        r = evaluate_analogies(
            words, questions, restrict_vocab=embedding_eval.RESTRICT_VOCAB,
            method="3cosadd",
        )  # fmt: skip
        out["analogy_words"] = (r["accuracy"], r["coverage"])
    return out


WORKERS = {"gensim": w_gensim, "score": w_score, "cooc": w_cooc}


# =====================================================================================
# parent
# =====================================================================================
def run_cli_peak(args: list) -> dict:
    """As :func:`run_cli`, with the peak RSS of that one process (os.wait4)."""
    return common.cli_process(args)


def work_dir() -> Path:
    work = common.CACHE / "phrases-bench"
    work.mkdir(parents=True, exist_ok=True)
    return work


def measure_cooc(files, scoring, threshold, passes, tag) -> dict:
    tsv = work_dir() / f"cooc-{tag}-{scoring}-{threshold:g}-p{passes}.tsv"
    r = run_cli_peak(
        ["phrases", *files, "-o", tsv, "--scoring", scoring, "--threshold",
         threshold, "--min-count", MIN_COUNT, "--passes", passes, "--quiet"]
    )  # fmt: skip
    import pandas as pd

    frame = pd.read_csv(
        tsv, sep="\t", keep_default_na=False, na_filter=False, quoting=3,
        dtype={"word1": str, "word2": str},
    )  # fmt: skip
    r["frame"] = frame
    r["tsv"] = tsv
    inproc = common.run_worker(
        SCRIPT, "cooc", files=[str(f) for f in files], scoring=scoring,
        threshold=threshold, min_count=MIN_COUNT, passes=passes,
        out=str(tsv.with_suffix(".inproc.tsv")),
    )  # fmt: skip
    r["inproc_seconds"] = inproc.get("seconds")
    return r


def measure_gensim(files, scoring, threshold, passes, tag, run=True) -> dict | None:
    import gensim

    settings = dict(
        scoring=scoring, threshold=threshold, min_count=MIN_COUNT, passes=passes
    )
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    key = common._key(stamp, sorted(settings.items()), gensim.__version__, "ref-2")
    return common.cached_worker(
        SCRIPT,
        "gensim",
        common.CACHE / f"phrases-gensim-{key}.json",
        run=run,
        files=[str(f) for f in files],
        out=str(work_dir() / f"gensim-{tag}-{key}"),
        **settings,
    )


def _examples(keys, info, n=4) -> str:
    keys = sorted(keys, key=lambda k: -info.get(k, (0, 0))[0])[:n]
    return ", ".join(f"{k} ({info[k][0]}, {info[k][1]:.3g})" for k in keys) or "-"


def compare(cooc_frame, gensim_pass, k) -> dict:
    """cooc's phrases of pass k against gensim's (exported and pair-scored)."""
    mine = cooc_frame[cooc_frame["pass"] == k]
    ours = {
        f"{a}_{b}": float(s)
        for a, b, s in zip(mine.word1, mine.word2, mine.score, strict=True)
    }
    ours_pairs = {
        f"{a}\t{b}": float(s)
        for a, b, s in zip(mine.word1, mine.word2, mine.score, strict=True)
    }
    info = {
        f"{a}_{b}": (int(c), float(s))
        for a, b, c, s in zip(mine.word1, mine.word2, mine["count"], mine.score,
                              strict=True)
    }  # fmt: skip
    out = {"n_cooc": len(mine)}
    for name, theirs, mine_keys in (
        ("reference", gensim_pass["reference"], ours_pairs),
        ("pairs", gensim_pass["pairs"], ours_pairs),
        ("exported", gensim_pass["exported"], ours),
    ):
        both = set(mine_keys) & set(theirs)
        only_c = set(mine_keys) - set(theirs)
        only_g = set(theirs) - set(mine_keys)
        diff = max((abs(mine_keys[x] - theirs[x]) for x in both), default=0.0)
        rels = {
            x: abs(mine_keys[x] - theirs[x]) / max(abs(theirs[x]), 1e-300) for x in both
        }
        worst = max(rels, key=rels.get, default=None)
        rel = rels.get(worst, 0.0)
        out[name] = {
            "n": len(theirs),
            "both": len(both),
            "only_cooc": sorted(only_c),
            "only_gensim": sorted(only_g),
            "max_abs_diff": diff,
            "max_rel_diff": rel,
            "worst": None
            if worst is None
            else (worst.replace("\t", " + "), mine_keys[worst], theirs[worst]),
        }
    out["info"] = info
    return out


def agreement_section(files, tag, use_gensim: bool) -> tuple[list, list, dict]:
    rows, notes = [], []
    tsvs = {}
    for scoring, gscoring, threshold in SETTINGS:
        cooc_runs = {
            n: measure_cooc(files, scoring, threshold, n, tag)
            for n in range(1, PASSES + 1)
        }
        tsvs[(scoring, threshold)] = {n: r["tsv"] for n, r in cooc_runs.items()}
        g = measure_gensim(files, gscoring, threshold, PASSES, tag, run=use_gensim)
        if g is not None and "error" in g:
            notes.append(f"gensim {scoring}: {g['error'][:200]}")
            g = None
        for n in range(1, PASSES + 1):
            c = cooc_runs[n]
            frame = c["frame"]
            label = f"{scoring} > {threshold:g}, pass {n}"
            if g is None:
                seconds = [fmt(c["seconds"], ".1f"), fmt(c["inproc_seconds"], ".1f")]
                seconds.append(fmt(c["cpu_seconds"], ".1f"))
                rows.append([label, int((frame["pass"] == n).sum()), *[None] * 8,
                             *seconds, *[None] * 5, fmt(c["peak_mib"], ".0f"),
                             None])  # fmt: skip
                continue
            cmp = compare(frame, g["passes"][n - 1], n)

            def upto(d, n=n):  # tokenize, pass 1, join 1, pass 2, ...
                total = d["tokenize"] + sum(d[f"pass {k}"] for k in range(1, n + 1))
                return total + sum(d[f"join {k}"] for k in range(1, n))

            g_seconds, g_cpu = upto(g["seconds"]), upto(g["cpu_seconds"])
            r, p, e = cmp["reference"], cmp["pairs"], cmp["exported"]
            rows.append(
                [
                    label + (" [gensim cached]" if g.get("cached") else ""),
                    cmp["n_cooc"],
                    f"{r['both']}/{r['n']}",
                    f"{len(r['only_cooc'])}/{len(r['only_gensim'])}",
                    fmt(r["max_rel_diff"], ".0e"),
                    f"{p['both']}/{p['n']}",
                    f"{len(p['only_cooc'])}/{len(p['only_gensim'])}",
                    fmt(p["max_rel_diff"], ".0e"),
                    f"{e['both']}/{e['n']}",
                    f"{len(e['only_cooc'])}/{len(e['only_gensim'])}",
                    fmt(c["seconds"], ".1f"),
                    fmt(c["inproc_seconds"], ".1f"),
                    fmt(c["cpu_seconds"], ".1f"),
                    fmt(g_seconds, ".1f"),
                    fmt(g_cpu, ".1f"),
                    fmt(g_seconds / c["seconds"], ".1f"),
                    fmt(g_seconds / c["inproc_seconds"], ".1f"),
                    fmt(g_cpu / c["cpu_seconds"], ".1f"),
                    fmt(c["peak_mib"], ".0f"),
                    fmt(g["peak_mib"], ".0f"),
                ]
            )
            info = cmp["info"]
            if p["worst"] is not None and p["max_rel_diff"] > 1e-9:
                w, mine_s, their_s = p["worst"]
                notes.append(
                    f"{label}, pairs: largest score difference {w}: cooc "
                    f"{mine_s:.6g}, gensim {their_s:.6g}"
                )
            for name in ("reference", "pairs", "exported"):
                d = cmp[name]
                if d["only_cooc"] or d["only_gensim"]:
                    oc = _examples([k.replace("\t", "_") for k in d["only_cooc"]],
                                   info)  # fmt: skip
                    og = ", ".join(k.replace("\t", " + ") for k in d["only_gensim"][:4])
                    notes.append(
                        f"{label}, {name}: only cooc e.g. {oc}; only gensim "
                        f"e.g. {og or '-'}"
                    )
            if g.get("cached"):
                notes.append(
                    f"{label}: gensim cached, measured {g['measured']} (gensim "
                    f"{g['gensim']}, load then "
                    f"{' '.join(f'{x:.2f}' for x in g['load_after'])})"
                )
    return rows, notes, tsvs


def effect_section(files, tsvs) -> tuple[list, list]:
    work = work_dir()
    runs = [("no phrases", None)]
    w2p = tsvs[("word2phrase", 10.0)]
    runs += [(f"--phrases word2phrase > 10, {n} pass(es)", w2p[n]) for n in sorted(w2p)]
    rows, notes, base = [], [], None
    for label, tsv in runs:
        vec = work / f"vectors-{len(rows)}.bin"
        args = ["embed", *files, "-o", vec, "--quiet"]
        if tsv is not None:
            args += ["--phrases", tsv]
        r = run_cli_peak(args)
        scored = common.run_worker(
            SCRIPT, "score", timeout=1800, path=str(vec),
            phrases=None if tsv is None else str(tsv),
        )  # fmt: skip
        if "error" in scored:
            raise SystemExit(f"scoring failed: {scored['error']}")
        sc = scored["scores"]
        if base is None:
            base = scored
        lost_sim = sorted(
            set(scored["missing_similarity"]) - set(base["missing_similarity"])
        )
        lost_ana = sorted(set(scored["missing_analogy"]) - set(base["missing_analogy"]))
        rows.append(
            [
                label,
                fmt(sc["WS353"], ".3f") + f" ({sc['WS353_cov']:.1%})",
                fmt(sc["SimLex"], ".3f") + f" ({sc['SimLex_cov']:.1%})",
                fmt(sc["MEN"], ".3f") + f" ({sc['MEN_cov']:.1%})",
                fmt(sc["analogy"], ".3f") + f" ({sc['analogy_cov']:.1%})",
                "-"
                if "analogy_words" not in scored
                else fmt(scored["analogy_words"][0], ".3f")
                + f" ({scored['analogy_words'][1]:.1%})",
                scored["n_words"],
                scored.get("n_phrase_words", 0),
                fmt(r["seconds"], ".1f"),
            ]
        )
        if tsv is not None:
            notes.append(
                f"{label}: benchmark words lost against no phrases: similarity "
                f"{len(lost_sim)} ({', '.join(lost_sim[:8]) or '-'}), analogy "
                f"{len(lost_ana)} ({', '.join(lost_ana[:8]) or '-'})"
            )
    return rows, notes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{human(common.QUICK_TOKENS)}-token subset",
    )
    p.add_argument(
        "--no-gensim", action="store_true", help="gensim rows only if cached"
    )
    p.add_argument("--no-embed", action="store_true", help="agreement only")
    args, _ = p.parse_known_args(argv)
    data = "1M-token subset" if args.quick else "full corpus"
    print(f"# bench_phrases ({data}); {common.machine_line()}", flush=True)
    files = common.bench_files(args.quick)
    tag = "quick" if args.quick else "full"
    t0 = time.perf_counter()
    rows, notes, tsvs = agreement_section(files, tag, not args.no_gensim)
    notes = [
        "phrases: cooc's count; 'ref' = gensim's scoring function over counts "
        "keyed by word pairs (Python Counter), pass 2 on the corpus joined with "
        "the ref's pass 1; 'pairs' = the adjacent pairs gensim's model scores "
        "above the threshold (what Phrases[sentence] joins); 'exported' = "
        "gensim's export_phrases() (what freeze() keeps); a/b = common / "
        "theirs, c/r, c/g = only cooc / only theirs; rel diff = largest relative "
        "score difference on the common pairs",
        "seconds = text files -> phrase TSV, wall clock; cooc s: the CLI in a "
        "fresh process (start-up and numba's cache included); in-proc s: "
        "score_phrases + write_phrases in a worker after its imports and a tiny "
        "warm-up, as gensim s (its worker, after its imports); pass 2 = both "
        "passes (gensim: + freeze() and joining the corpus); x = gensim s / cooc "
        "s, x in-proc = gensim s / in-proc s; CPU s = user + system seconds of "
        "all threads (cooc: the CLI process; gensim: its timed part), x CPU = "
        "their ratio (what the machine's load changes least); MiB = peak RSS "
        "(cooc: the CLI "
        "process; gensim: its worker up to the end of the timed part)",
        *notes,
    ]
    print(
        table(
            f"phrases: cooc vs gensim Phrases (min_count {MIN_COUNT})",
            ["setting", "phrases", "ref a/b", "c/r", "rel diff", "pairs a/b", "c/g",
             "rel diff", "exported a/b", "c/g", "cooc s", "in-proc s", "cooc CPU s",
             "gensim s", "gensim CPU s", "x", "x in-proc", "x CPU", "cooc MiB",
             "gensim MiB"],
            rows,
            notes,
        ),
        flush=True,
    )  # fmt: skip
    if not args.no_embed:
        rows, notes = effect_section(files, tsvs)
        notes = [
            "cooc embed CORPUS with its defaults (rank 500, window 15, min count 5); "
            "rho (coverage of the pairs); analogy = 3CosAdd accuracy among the 30k "
            "most frequent words (coverage of the questions); analogy (words) = the "
            "same among the 30k most frequent single words (phrase tokens left out "
            "of the candidates and of the cut); phrase words = joined tokens that "
            "got a vector",
            *notes,
            f"load average after the table: {embedding_eval.load_text()}",
        ]
        print(
            table(
                "phrases and the benchmarks",
                ["vectors", "WS353", "SimLex", "MEN", "analogy", "analogy (words)",
                 "words", "phrase words", "embed s"],
                rows,
                notes,
            ),
            flush=True,
        )  # fmt: skip
    print(f"   ({time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
