"""A seeded synthetic corpus that stands in for web-size text.

    python benchmarks/synthetic.py --tokens 50M -o DIR [--files N] [--seed 0] [--gzip]

Model (all draws from numpy's ``default_rng``, so the same seed and size give
the same bytes):

- 4,000,000 word types named ``w0``, ``w1``, ... (``w0`` the most frequent);
- documents of 25 tokens, one per line, tokens separated by single spaces;
- each document has one topic out of 2,000 (uniform); 15 of its 25 tokens
  (60 %) come from that topic, the other 10 (40 %) from the global unigram
  distribution, in one of 4,096 random orders (drawn once);
- global unigrams: Zipf with exponent 1.07 over the finite support of 4 M
  types, sampled by inverse CDF on the cumulative weights (the same ids as
  ``np.searchsorted(cdf, u, side="right")``; see :func:`sample_zipf`);
- a topic is 400 distinct words drawn uniformly from the 4 M types, word ``i``
  of the topic (``i = 1..400``) weighted by ``Pareto(1) / i`` (a classic
  Pareto draw, ``1 + rng.pareto(1)``); a topic token is drawn from its
  topic's weights (Walker's alias method).

The corpus is generated in blocks of 10,000 documents (250,000 tokens), each
from its own stream ``default_rng([seed, 1, block])``, so the output does not
depend on ``--files`` or ``--threads`` (the files are cut at document
boundaries of one stream). Text is built without a Python loop per token: a
table of 16-byte rows (the word and its separator, zero padded) is gathered
and the padding dropped with ``bytes.translate``. Memory stays around 300 MB
whatever the size (the 4 M-type tables, a few blocks in flight, and the
per-type counts behind the summary).

Writes ``part-00000.txt`` ... (``.txt.gz`` with ``--gzip``: compression level
1, no timestamp in the header) and, last, ``synthetic.json`` with the
settings and counts (distinct types, types seen at least 5 times); a folder
with that file is complete.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

N_TYPES = 4_000_000
ZIPF_S = 1.07
DOC_LEN = 25
TOPIC_TOKENS = 15  # 60 % of DOC_LEN
N_TOPICS = 2_000
TOPIC_SIZE = 400
DOCS_PER_BLOCK = 10_000
TOKENS_PER_FILE = 100_000_000
GUIDE = 1 << 20  # buckets of the guide table of the Zipf inverse CDF
HEAD = 1024  # the tail's continuous inverse starts at this rank
VERSION = 2  # bump when the output for a given seed and size changes


def parse_count(text: str) -> int:
    """'50M' -> 50_000_000; '1B' or '1G' -> 10**9; '10k' -> 10_000; '1e6' -> 10**6."""
    t = str(text).strip().replace("_", "").replace(",", "")
    scale = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}
    if t and t[-1].lower() in scale:
        return round(float(t[:-1]) * scale[t[-1].lower()])
    return int(float(t))


def size_label(n: int) -> str:
    """10_000_000 -> '10M', 1_000_000_000 -> '1B', 2_500_000 -> '2500k'."""
    for unit, scale in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if n % scale == 0 and n >= scale:
            return f"{n // scale}{unit}"
    return str(n)


class Model:
    """The fixed part of the corpus model (depends on the seed only)."""

    def __init__(self, seed: int = 0, topic_words: str = "zipf"):
        if topic_words not in ("zipf", "uniform"):
            raise ValueError(f"topic_words: 'zipf' or 'uniform', not {topic_words!r}")
        self.seed = seed
        self.topic_words_from = topic_words
        # global Zipf: cumulative weights over the 4 M ranks
        w = np.arange(1, N_TYPES + 1, dtype=np.float64) ** -ZIPF_S
        cum = np.cumsum(w)
        self.total = float(cum[-1])
        self.cdf = cum / self.total
        del w, cum
        # guide table: the ids at K evenly spaced cumulative probabilities; a draw
        # u in bucket k = floor(u * K) lies in [guide[k], guide[k + 1]]
        self.guide = np.searchsorted(
            self.cdf, np.arange(GUIDE + 1) / GUIDE, side="right"
        ).astype(np.int32)
        # the tail's continuous inverse (midpoint rule):
        # sum_{r <= R} r^-s ~ W(r0) + int_{r0 + 1/2}^{R + 1/2} x^-s dx
        self._r0 = HEAD
        self._w0 = float(self.cdf[HEAD - 1]) * self.total
        self._a = 1.0 - ZIPF_S
        self._x0 = (HEAD + 0.5) ** self._a

        # topics (one generator, seeded with the seed alone)
        rng = np.random.default_rng(seed)
        words = np.empty((N_TOPICS, TOPIC_SIZE), dtype=np.int32)
        for t in range(N_TOPICS):
            if topic_words == "uniform":
                words[t] = rng.choice(N_TYPES, TOPIC_SIZE, replace=False)
                continue
            # distinct words drawn from the global Zipf, in the order drawn
            got = np.empty(0, dtype=np.int64)
            while got.size < TOPIC_SIZE:
                more = np.concatenate(
                    [got, self.sample_zipf(rng.random(2 * TOPIC_SIZE))]
                )
                _, first = np.unique(more, return_index=True)
                got = more[np.sort(first)]
            words[t] = got[:TOPIC_SIZE]
        weights = (1.0 + rng.pareto(1.0, (N_TOPICS, TOPIC_SIZE))) / np.arange(
            1, TOPIC_SIZE + 1
        )
        prob, alias = _alias_tables(weights)
        # one 16-byte record a (topic, slot): prob (float32), word, alias word, 0
        table = np.zeros((N_TOPICS * TOPIC_SIZE, 4), dtype=np.int32)
        table[:, 0] = prob.reshape(-1).astype(np.float32).view(np.int32)
        table[:, 1] = words.reshape(-1)
        table[:, 2] = np.take_along_axis(words, alias, axis=1).reshape(-1)
        self.topic_table = table.view(np.uint64)  # (N_TOPICS * TOPIC_SIZE, 2)

        # text: 16-byte rows "w123" + separator (space), zero padded
        ids = np.arange(N_TYPES, dtype=np.int64)
        n_digits = np.ones(N_TYPES, dtype=np.int64)
        for p in range(1, 7):
            n_digits += ids >= 10**p
        length = n_digits + 2  # "w", the digits, the separator
        rows = np.zeros((N_TYPES, 16), dtype=np.uint8)
        rows[:, 0] = ord("w")
        for p in range(7):  # the p-th digit from the right goes to column n_digits - p
            has = n_digits > p
            rows[has, (n_digits - p)[has]] = ord("0") + (ids[has] // 10**p) % 10
        del ids, has
        rows[np.arange(N_TYPES), length - 1] = ord(" ")
        # the length rides in the last byte (read and cleared after the gather:
        # cheaper than a second random gather from a table of lengths)
        rows[:, 15] = length
        self.rows = rows.view(np.uint64)  # (N_TYPES, 2), little-endian bytes

        # 4096 random orders of a document's 25 tokens, drawn once: position p
        # of a document takes token perms[q, p] of [15 topic | 10 global]
        self.perms = np.argsort(rng.random((4096, DOC_LEN)), axis=1).astype(np.int32)

    # -- sampling ----------------------------------------------------------------
    def sample_zipf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF of the global Zipf: ``np.searchsorted(self.cdf, u, "right")``.

        The same ids, without a binary search over the 32 MB table for each
        draw (that runs at ~4 M draws/s here, a cache miss per step): a guide
        table of 2^20 buckets settles the ~80 % of draws whose bucket holds at
        most one step of the CDF with one comparison; the others (ranks above
        ~50k) start from the continuous inverse of the cumulative weights and
        are corrected against the exact cumulative weights (almost always 0
        steps).
        """
        cdf = self.cdf
        k = (u * GUIDE).astype(np.int64)
        lo = self.guide[k].astype(np.int64)
        wide = np.flatnonzero(self.guide[k + 1] - lo > 1)
        out = lo
        out += cdf[lo] <= u
        if wide.size:
            ut = u[wide]
            y = (ut * self.total - self._w0) * self._a + self._x0
            x = np.power(y, 1.0 / self._a)  # the continuous rank R + 1/2
            i = np.ceil(x - 1.5).astype(np.int64)  # 0-based id
            # the answer is within the bucket's bounds
            np.clip(i, out[wide], self.guide[k[wide] + 1], out=i)
            # want cdf[i - 1] <= u < cdf[i]
            for _ in range(64):
                up = cdf[i] <= ut
                up &= i < N_TYPES - 1
                down = cdf[i - 1] > ut
                down &= i > 0
                if not (up.any() or down.any()):
                    break
                i += up
                i -= down
            else:  # pragma: no cover - the continuous inverse is within a rank or two
                i = np.searchsorted(cdf, ut, side="right")
            out[wide] = i
        return out

    def block_ids(self, block: int, n_docs: int) -> np.ndarray:
        """Token ids of block ``block`` (``n_docs`` documents): (n_docs, 25) int32."""
        rng = np.random.default_rng([self.seed, 1, block])
        topic = rng.integers(0, N_TOPICS, n_docs)
        perm = rng.integers(0, self.perms.shape[0], n_docs)
        u = rng.random(n_docs * DOC_LEN)
        n_t = n_docs * TOPIC_TOKENS
        # each document as [15 topic tokens | 10 global tokens], permuted below
        src = np.empty((n_docs, DOC_LEN), dtype=np.int32)
        # topic tokens: alias method, one uniform per draw (integer part: the
        # slot, fraction: the coin); one gather of (prob, word, alias word)
        v = u[:n_t].reshape(n_docs, TOPIC_TOKENS) * TOPIC_SIZE
        j = v.astype(np.int32)
        v -= j
        j += (topic * TOPIC_SIZE).astype(np.int32)[:, None]
        rec = np.take(self.topic_table, j.reshape(-1), axis=0).view(np.int32)
        prob = rec[:, 0].view(np.float32).reshape(n_docs, TOPIC_TOKENS)
        word = rec[:, 1].reshape(n_docs, TOPIC_TOKENS)
        alias = rec[:, 2].reshape(n_docs, TOPIC_TOKENS)
        src[:, :TOPIC_TOKENS] = np.where(v < prob, word, alias)
        # global tokens
        src[:, TOPIC_TOKENS:] = self.sample_zipf(u[n_t:]).reshape(n_docs, -1)
        # the topic tokens at random positions: one of 4096 permutations a document
        at = self.perms[perm]
        at += np.arange(0, n_docs * DOC_LEN, DOC_LEN, dtype=np.int32)[:, None]
        return src.reshape(-1)[at]

    def text(self, ids: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Bytes of the documents ``ids`` (n_docs, 25) and each document's end offset.

        Gathers each token's 16-byte row (word, separator, zero padding), turns
        the separator of each document's last token into a newline, and drops
        the padding with ``bytes.translate`` (faster here than a boolean mask).
        """
        flat = ids.reshape(-1)
        rows = np.take(self.rows, flat, axis=0)  # (n, 2) uint64
        byte = rows.view(np.uint8)
        length = byte[:, 15].copy()
        rows[:, 1] &= np.uint64((1 << 56) - 1)  # clear the length byte
        last = np.arange(DOC_LEN - 1, flat.size, DOC_LEN)
        byte[last, length[last].astype(np.int64) - 1] = ord("\n")
        out = rows.tobytes().translate(None, b"\0")
        ends = np.cumsum(
            length.reshape(-1, DOC_LEN).sum(axis=1, dtype=np.int64), dtype=np.int64
        )
        return out, ends


def _alias_tables(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias tables of each row of ``weights``: (prob, alias)."""
    n_rows, n = weights.shape
    prob = np.zeros((n_rows, n))
    alias = np.zeros((n_rows, n), dtype=np.int64)
    scaled = weights / weights.sum(axis=1, keepdims=True) * n
    for r in range(n_rows):
        p = scaled[r].tolist()
        small = [i for i, x in enumerate(p) if x < 1.0]
        large = [i for i, x in enumerate(p) if x >= 1.0]
        pr, al = [1.0] * n, list(range(n))
        while small and large:
            s, g = small.pop(), large.pop()
            pr[s], al[s] = p[s], g
            p[g] = (p[g] + p[s]) - 1.0
            (small if p[g] < 1.0 else large).append(g)
        prob[r], alias[r] = pr, al
    return prob, alias


def generate(
    n_tokens: int,
    out_dir: str | Path,
    n_files: int | None = None,
    seed: int = 0,
    use_gzip: bool = False,
    threads: int | None = None,
    progress: bool = True,
    topic_words: str = "zipf",
) -> dict:
    """Write the corpus to ``out_dir``; return the summary (``synthetic.json``)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_docs = -(-n_tokens // DOC_LEN)
    if n_files is None:
        n_files = max(1, round(n_docs * DOC_LEN / TOKENS_PER_FILE))
    n_files = max(1, min(n_files, n_docs))
    threads = threads or min(2, os.cpu_count() or 1)
    model = Model(seed, topic_words)
    t_model = time.perf_counter() - t0

    n_blocks = -(-n_docs // DOCS_PER_BLOCK)
    # documents of file f: [cuts[f], cuts[f + 1])
    cuts = [f * n_docs // n_files for f in range(n_files + 1)]
    suffix = ".txt.gz" if use_gzip else ".txt"
    names = [f"part-{f:05d}{suffix}" for f in range(n_files)]
    for old in out_dir.glob("part-*.txt*"):
        old.unlink()
    (out_dir / "synthetic.json").unlink(missing_ok=True)

    counts = np.zeros(N_TYPES, dtype=np.int64)
    pending: list[np.ndarray] = []
    pending_n = 0

    def work(b):
        nd = min(DOCS_PER_BLOCK, n_docs - b * DOCS_PER_BLOCK)
        ids = model.block_ids(b, nd)
        data, ends = model.text(ids)
        return ids, data, ends

    # the writer runs in its own thread (file writes and zlib release the GIL)
    write_q: queue.Queue = queue.Queue(maxsize=4)
    n_bytes = [0]

    def writer():
        f_idx, fh = 0, None
        while True:
            item = write_q.get()
            if item is None:
                break
            first_doc, data, ends = item
            last_doc = first_doc + ends.size
            pos, doc = 0, first_doc
            while doc < last_doc:  # the block may span several files
                if fh is None:
                    fh = _open(out_dir / names[f_idx])
                stop = min(last_doc, cuts[f_idx + 1])
                end = int(ends[stop - first_doc - 1])
                fh.write(memoryview(data)[pos:end])
                n_bytes[0] += end - pos
                pos, doc = end, stop
                if doc == cuts[f_idx + 1]:
                    _close(fh)
                    fh, f_idx = None, f_idx + 1
        if fh is not None:  # pragma: no cover - every file ends on a cut
            _close(fh)

    def _open(path):
        if not use_gzip:
            return open(path, "wb", buffering=0)
        raw = open(path, "wb")  # noqa: SIM115 - closed by _close
        fh = gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0
        )
        fh._raw = raw  # closed by _close
        return fh

    def _close(fh):
        fh.close()
        raw = getattr(fh, "_raw", None)
        if raw is not None:
            raw.close()

    wt = threading.Thread(target=writer, daemon=True)
    wt.start()
    last_report = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        in_flight = {}
        next_b = 0
        for b in range(n_blocks):
            while next_b < n_blocks and next_b < b + 2 * threads:
                in_flight[next_b] = pool.submit(work, next_b)
                next_b += 1
            ids, data, ends = in_flight.pop(b).result()
            write_q.put((b * DOCS_PER_BLOCK, data, ends))
            pending.append(ids.reshape(-1))
            pending_n += ids.size
            if pending_n >= 16_000_000:
                counts += np.bincount(np.concatenate(pending), minlength=N_TYPES)
                pending, pending_n = [], 0
            now = time.perf_counter()
            if progress and now - last_report > 5:
                done = (b + 1) * DOCS_PER_BLOCK * DOC_LEN
                print(
                    f"  {done / 1e6:.0f}M / {n_docs * DOC_LEN / 1e6:.0f}M tokens, "
                    f"{done / (now - t0) / 1e6:.1f}M tokens/s",
                    file=sys.stderr,
                    flush=True,
                )
                last_report = now
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=N_TYPES)
    write_q.put(None)
    wt.join()
    seconds = time.perf_counter() - t0
    summary = {
        "generator": "benchmarks/synthetic.py",
        "version": VERSION,
        "seed": seed,
        "topic_words": topic_words,
        "n_tokens": n_docs * DOC_LEN,
        "n_docs": n_docs,
        "files": names,
        "gzip": use_gzip,
        "n_bytes": n_bytes[0],
        "distinct_types": int(np.count_nonzero(counts)),
        "types_min_count_5": int(np.count_nonzero(counts >= 5)),
        "top_type_share": float(counts[0] / max(1, counts.sum())),
        "seconds": round(seconds, 2),
        "model_seconds": round(t_model, 2),
        "tokens_per_second": round(n_docs * DOC_LEN / seconds),
        "tokens_per_second_after_setup": round(
            n_docs * DOC_LEN / max(seconds - t_model, 1e-9)
        ),
        "threads": threads,
    }
    tmp = out_dir / "synthetic.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out_dir / "synthetic.json")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--tokens",
        required=True,
        help="e.g. 10M, 50M, 1B (whole documents: rounded up to 25)",
    )
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--files",
        type=int,
        default=None,
        help="number of files (default: one per ~100M tokens, at least 1)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gzip", action="store_true", help="write .txt.gz (level 1)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="generator threads (default: 2, or 1 on one core); the output is the same",
    )
    p.add_argument(
        "--topic-words",
        choices=("zipf", "uniform"),
        default="zipf",
        help="how a topic's 400 words are picked: drawn from the global Zipf "
        "(default) or uniformly from the 4M types",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    s = generate(
        parse_count(a.tokens),
        a.output,
        n_files=a.files,
        seed=a.seed,
        use_gzip=a.gzip,
        threads=a.threads,
        progress=not a.quiet,
        topic_words=a.topic_words,
    )
    speed = s["tokens_per_second"] / 1e6
    after = s["tokens_per_second_after_setup"] / 1e6
    print(
        f"wrote {s['n_tokens']:,} tokens ({s['n_docs']:,} documents, "
        f"{s['n_bytes'] / 2**20:,.0f} MiB) in {len(s['files'])} file(s) to {a.output} "
        f"in {s['seconds']:.1f} s ({speed:.1f}M tokens/s; {after:.1f}M/s after the "
        f"model's set-up of {s['model_seconds']:.1f} s); {s['distinct_types']:,} "
        f"distinct types, {s['types_min_count_5']:,} seen >= 5 times"
    )


if __name__ == "__main__":
    main()
