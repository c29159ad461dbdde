"""``cooc demo``: the main job on the shipped data, with a printed report."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from cooc.cooccurrence import build_cooccurrence
from cooc.datasets import demo_corpus_paths, similarity_files
from cooc.evaluate import evaluate_similarity, load_similarity
from cooc.pipeline import embed_cooccurrence

DEMO_WORDS = ("whale", "ship", "sister", "love", "war", "president", "money")


def run_demo(*, rank=128, output_dir=None, progress=None) -> dict:
    """Build, embed and evaluate on the demo corpus; return results and a text table."""
    note = progress.note if progress is not None else (lambda text: None)
    paths = demo_corpus_paths()
    t0 = time.perf_counter()
    cooc = build_cooccurrence(
        paths,
        min_count=5,
        window_size=5,
        weighting="harmonic",
        progress=progress,
    )
    if progress is not None:
        progress.done()
    t_build = time.perf_counter() - t0
    note(
        f"counted {cooc.stats['n_tokens']:,} tokens: {cooc.shape[0]:,} words, "
        f"{cooc.nnz:,} non-zeros in {t_build:.1f} s"
    )
    t1 = time.perf_counter()
    emb, _ = embed_cooccurrence(cooc, rank, random_state=0)
    t_embed = time.perf_counter() - t1
    note(f"embedded with PPMI + rank-{rank} SVD in {t_embed:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(output_dir) if output_dir is not None else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        cooc.save(out / "demo.cooc")
        emb.save(out / "demo_vectors.txt")
        if output_dir is not None:
            note(f"kept {out / 'demo.cooc'} and {out / 'demo_vectors.txt'}")

    neighbours = {
        w: [(n, round(float(s), 3)) for n, s in emb.most_similar(w, 6)]
        for w in DEMO_WORDS
        if w in emb
    }
    scores = {}
    for name, path in similarity_files().items():
        r = evaluate_similarity(emb, load_similarity(path))
        scores[name] = {
            "spearman": round(float(r["spearman"]), 4),
            "coverage": round(float(r["coverage"]), 4),
        }

    lines = [
        "cooc demo: Jane Austen + Moby-Dick + State of the Union (public domain, shipped)",
        f"  tokens {cooc.stats['n_tokens']:,}   documents {cooc.stats['n_docs']:,}   "
        f"vocabulary {cooc.shape[0]:,} (min_count 5)",
        f"  co-occurrence (window 5, harmonic): {cooc.nnz:,} non-zeros, built in {t_build:.2f} s "
        f"({cooc.stats['n_tokens'] / t_build / 1e6:.2f}M tokens/s, both passes)",
        f"  PPMI (alpha 0.75) + truncated SVD rank {rank} (p 0.5, w + c): {t_embed:.2f} s",
        "",
        "nearest neighbours (cosine):",
    ]
    width = max(len(w) for w in neighbours) if neighbours else 0
    for w, neigh in neighbours.items():
        lines.append(f"  {w:<{width}}  " + ", ".join(f"{n} {s:.2f}" for n, s in neigh))
    lines.append("")
    if scores:
        lines.append("word similarity (Spearman rho over covered pairs, coverage):")
        for name, r in scores.items():
            lines.append(
                f"  {name:<10} rho {r['spearman']:.3f}   coverage {r['coverage']:.1%}"
            )
    else:
        lines.append(
            "word similarity: benchmark files not found (set COOC_DATA to a folder with "
            "similarity/wordsim353.txt ...); skipped."
        )
    return {
        "corpus": [p.name for p in paths],
        "n_tokens": cooc.stats["n_tokens"],
        "n_docs": cooc.stats["n_docs"],
        "n_words": cooc.shape[0],
        "nnz": int(cooc.nnz),
        "build_seconds": round(t_build, 3),
        "embed_seconds": round(t_embed, 3),
        "rank": rank,
        "neighbours": neighbours,
        "similarity": scores,
        "_table": "\n".join(lines),
    }
