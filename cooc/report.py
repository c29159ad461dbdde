"""``cooc report``: figures of a corpus, its vectors and a classifier in one HTML file.

Each section is built from what it is given: a :class:`~cooc.matrix.CoocMatrix`
(corpus statistics, the word-frequency and row-degree distributions, the
strongest PPMI pairs), :class:`~cooc.vectors.Embeddings` (the singular-value
spectrum and its cumulative energy, a 2-D map of the most frequent words,
neighbour tables, similarity and analogy benchmarks) or a fitted
:class:`~cooc.models.MultimodalClassifier` with labelled items (confusion
matrix, per-class precision/recall/F1, modality weights, one-vs-rest ROC
curves, misclassified images). Every figure keeps the arrays it plots in
``Figure.data``, so what is drawn can be checked against its source.

The figures are drawn by matplotlib (the ``plot`` extra) with the Agg
backend and embedded as base64 PNG: the HTML file names no URL and needs no
network to be viewed. matplotlib is imported only when a figure is drawn
(``import cooc`` and the other commands never load it).
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cooc.container import is_cooc_archive
from cooc.errors import InputError, MissingDependencyError, UnknownWordError
from cooc.files import atomic_write

__all__ = [
    "Figure",
    "Report",
    "Section",
    "Table",
    "assemble_report",
    "benchmark_section",
    "build_report",
    "corpus_section",
    "input_kind",
    "model_section",
    "vectors_section",
    "write_projector",
]

PLOT_HINT = "pip install 'cooc[plot]'"


# -- the report's parts ----------------------------------------------------------------
def _named(items, name):
    """The first of ``items`` whose ``name`` is ``name`` (KeyError if none)."""
    found = next((item for item in items if item.name == name), None)
    if found is None:
        raise KeyError(name)
    return found


@dataclass
class Figure:
    """One figure: its PNG and the arrays it plots (``data``)."""

    name: str
    title: str
    png: bytes
    data: dict
    caption: str = ""


@dataclass
class Table:
    """A table of rows (lists of cells) under named columns."""

    name: str
    title: str
    columns: list
    rows: list


@dataclass
class Section:
    """A titled part of a report: facts (name, value), figures, tables, notes."""

    name: str
    title: str
    facts: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def figure(self, name: str) -> Figure:
        """The figure called ``name`` (KeyError if there is none)."""
        return _named(self.figures, name)


@dataclass
class Report:
    """Sections in order; :meth:`to_html` renders them, :meth:`save` writes them."""

    title: str
    sections: list = field(default_factory=list)

    def section(self, name: str) -> Section:
        """The section called ``name`` (KeyError if there is none)."""
        return _named(self.sections, name)

    @property
    def figures(self) -> list:
        return [fig for sec in self.sections for fig in sec.figures]

    def to_html(self) -> str:
        """One self-contained HTML page: inline CSS, figures as data: PNGs."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_esc(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{_esc(self.title)}</h1>",
        ]
        if len(self.sections) > 1:
            items = "".join(
                f'<li><a href="#{_esc(s.name)}">{_esc(s.title)}</a></li>'
                for s in self.sections
            )
            parts.append(f"<nav><ul>{items}</ul></nav>")
        for sec in self.sections:
            parts.append(f'<section id="{_esc(sec.name)}"><h2>{_esc(sec.title)}</h2>')
            if sec.facts:
                rows = "".join(
                    f"<tr><th>{_esc(k)}</th><td>{_esc(_shown(v))}</td></tr>"
                    for k, v in sec.facts
                )
                parts.append(f'<table class="facts">{rows}</table>')
            parts.extend(f'<p class="note">{_esc(n)}</p>' for n in sec.notes)
            for fig in sec.figures:
                src = base64.b64encode(fig.png).decode("ascii")
                caption = f"<figcaption>{_esc(fig.caption)}</figcaption>"
                parts.append(
                    f'<figure data-figure="{_esc(fig.name)}">'
                    f"<h3>{_esc(fig.title)}</h3>"
                    f'<img alt="{_esc(fig.title)}" src="data:image/png;base64,{src}">'
                    f"{caption if fig.caption else ''}</figure>"
                )
            for table in sec.tables:
                head = "".join(f"<th>{_esc(c)}</th>" for c in table.columns)
                body = "".join(
                    "<tr>"
                    + "".join(f"<td>{_esc(_shown(c))}</td>" for c in row)
                    + "</tr>"
                    for row in table.rows
                )
                parts.append(
                    f'<div class="table" data-table="{_esc(table.name)}">'
                    f"<h3>{_esc(table.title)}</h3><table><thead><tr>{head}</tr>"
                    f"</thead><tbody>{body}</tbody></table></div>"
                )
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def save(self, path) -> int:
        """Write the HTML atomically; returns its size in bytes."""
        data = self.to_html().encode("utf-8")
        with atomic_write(path, "wb") as fh:
            fh.write(data)
        return len(data)

    def summary(self) -> dict:
        """Section names with their figures and tables (for ``--json``)."""
        return {
            sec.name: {
                "figures": [f.name for f in sec.figures],
                "tables": [t.name for t in sec.tables],
            }
            for sec in self.sections
        }


_CSS = (
    "body{font-family:sans-serif;max-width:1150px;margin:1em auto;color:#222}"
    "h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "figure{margin:1em 0}figure img{max-width:100%;height:auto}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:90%}"
    "th,td{border:1px solid #ddd;padding:2px 6px;text-align:left}"
    "table.facts th{background:#f4f4f4}.note{color:#555;font-style:italic}"
)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _shown(value) -> str:
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return "n/a"
        return f"{value:.4g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


# -- matplotlib, loaded when drawing ---------------------------------------------------
def require_matplotlib() -> None:
    """Raise the one-line :class:`MissingDependencyError` without matplotlib."""
    try:
        import matplotlib  # noqa: F401  (optional dependency: the plot extra)
    except ImportError:
        raise MissingDependencyError(
            f"cooc report needs matplotlib; install it with {PLOT_HINT}."
        ) from None


def _subplots(*args, figsize=None, **kwargs):
    """A new figure and its axes without pyplot: no global state, and the
    backend of a notebook that imports the report stays as it was."""
    require_matplotlib()
    from matplotlib.figure import Figure as MatplotlibFigure

    fig = MatplotlibFigure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _plain(text) -> str:
    """``text`` shown as it is: a ``$`` would start matplotlib's mathtext."""
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    """The figure as PNG bytes, rendered by Agg (no metadata: no Software URL)."""
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None}
    )
    return buf.getvalue()


# -- a .cooc ---------------------------------------------------------------------------
# Row blocks of a .cooc file read by the report: about 2^20 stored entries
# (~50 bytes each in flight), and at most this many rows (None: streaming's).
_BLOCK_NNZ = 1 << 20
_BLOCK_ROWS = None


def _blocks(path, weighting, context_alpha, shift):
    from cooc.streaming import iter_weighted_blocks

    return iter_weighted_blocks(
        path,
        weighting=weighting,
        context_alpha=context_alpha,
        shift=shift,
        block_nnz=_BLOCK_NNZ,
        block_rows=_BLOCK_ROWS,
    )


def _is_path(cooc) -> bool:
    return isinstance(cooc, (str, os.PathLike))


def _top_of(rows, cols, vals, k):
    """The ``k`` first entries by value (descending), then row, then column."""
    order = np.lexsort((cols, rows, -vals))[:k]
    return rows[order], cols[order], vals[order]


def _block_candidates(block, k, upper, offdiag):
    """Entries of a weighted row block that may be among the ``k`` strongest
    kept pairs: every kept entry at least as large as the ``m``-th largest
    value of the block, ``m`` growing from ``2k`` until ``k`` are kept (or
    all are looked at). Only the candidates get row and column arrays, so
    the memory is one float32 copy of the block's values."""
    vals = block.data
    m = 2 * k
    while True:
        if m >= vals.size:
            idx = np.flatnonzero(vals > 0)
        else:
            kth = np.partition(vals, vals.size - m)[vals.size - m]
            idx = np.flatnonzero(vals >= kth)
            idx = idx[vals[idx] > 0]
        rows = np.searchsorted(block.indptr, idx, side="right") - 1 + block.lo
        cols = block.indices[idx].astype(np.int64)
        keep = np.ones(idx.size, dtype=bool)
        if upper:
            keep = rows < cols
        elif offdiag:
            keep = rows != cols
        if keep.sum() >= k or m >= vals.size:
            return rows[keep], cols[keep], vals[idx][keep]
        m *= 4


def _streamed_pairs(path, top_pairs, context_alpha, shift, *, upper, offdiag):
    """The strongest PPMI pairs of a ``.cooc`` file read in row blocks
    (:func:`cooc.streaming.iter_weighted_blocks`, which checks the whole file
    on its first pass): ``(rows, cols, ppmi, stored counts)``, in the order of
    the in-memory :func:`corpus_section`; a running top list of
    ``top_pairs`` entries, so the memory is one row block."""
    from cooc.streaming import CoocFile

    empty = np.empty(0, dtype=np.int64)
    best = (empty, empty, np.empty(0, dtype=np.float32))
    for block in _blocks(path, "ppmi", context_alpha, shift):
        rows, cols, vals = _block_candidates(block, top_pairs, upper, offdiag)
        best = _top_of(
            np.concatenate([best[0], rows]),
            np.concatenate([best[1], cols]),
            np.concatenate([best[2], vals]),
            top_pairs,
        )
    counts = []
    with CoocFile(path) as cf:  # the stored count of each pair: one row read each
        indptr = cf.indptr()
        for r, c in zip(best[0], best[1], strict=True):
            indices, data = cf.read_rows(int(r), int(r) + 1, indptr)
            at = int(np.searchsorted(indices, c))
            counts.append(float(data[at]))
    return (*best, counts)


def corpus_section(cooc, *, top_pairs=20, context_alpha=0.75, shift=1.0) -> Section:
    """Statistics, the frequency and row-degree distributions and the strongest
    PPMI pairs of a :class:`~cooc.matrix.CoocMatrix`, or of a ``.cooc`` file
    given by its path, read in row blocks (never whole, so a matrix larger
    than memory is fine; the figures and tables are the same).

    Figures: ``word-frequency`` (``rank``, ``count``: the vocabulary's counts
    in decreasing order, log-log) and ``row-degree`` (``degree``, ``n_rows``:
    how many rows have each number of non-zeros, log-log). Table
    ``ppmi-pairs``: the ``top_pairs`` largest PPMI values (of symmetric counts
    each pair once, word1 before word2 by id as ``cooc export --upper``; the
    diagonal of a square matrix left out).
    """
    require_matplotlib()
    if _is_path(cooc):
        from cooc.streaming import CoocFile

        with CoocFile(cooc) as cf:
            (n_rows, n_cols), indptr = cf.shape, cf.indptr()
            tokens, vocab_counts = cf.vocabulary()
            stats, params = dict(cf.meta.get("stats", {})), dict(cf.params)
            symmetric_counts = cf.symmetric_counts
        matrix = None
        nnz = int(indptr[-1])
    else:
        matrix = cooc.matrix.tocsr()
        n_rows, n_cols = matrix.shape
        indptr, nnz = matrix.indptr, int(matrix.nnz)
        tokens, vocab_counts = cooc.vocabulary.tokens, cooc.vocabulary.counts
        stats, params = dict(cooc.stats), dict(cooc.params)
    facts = [
        ("words (rows)", n_rows),
        ("contexts (columns)", n_cols),
        ("non-zeros", nnz),
        ("density", nnz / max(n_rows * n_cols, 1)),
    ]
    counted = {
        "n_tokens": "tokens",
        "n_docs": "documents",
        "n_oov": "out-of-vocabulary tokens",
    }
    facts += [(name, stats[key]) for key, name in counted.items() if key in stats]
    named = {
        "window_size": "window",
        "weighting": "distance weighting",
        "min_count": "min count",
        "symmetric": "symmetric",
        "phrases": "phrases",
    }
    facts += [(name, params[key]) for key, name in named.items() if key in params]
    sec = Section("corpus", "Corpus and co-occurrence matrix", facts=facts)

    counts = np.sort(np.asarray(vocab_counts, dtype=np.int64))[::-1]
    ranks = np.arange(1, counts.size + 1)
    shown = counts > 0
    if shown.any():
        fig, ax = _subplots(figsize=(6, 4))
        ax.loglog(ranks[shown], counts[shown], marker=".", markersize=3)
        ax.set_xlabel("rank")
        ax.set_ylabel("count")
        ax.grid(True, which="major", alpha=0.3)
        sec.figures.append(
            Figure(
                "word-frequency",
                "Word frequency by rank (log-log)",
                _png(fig),
                {"rank": ranks, "count": counts},
                f"{counts.size:,} words; a straight line is Zipf's law.",
            )
        )
    else:
        sec.notes.append(
            "The vocabulary holds no word counts (a .cooc from cooc import): no "
            "word-frequency figure."
        )

    degree = np.diff(indptr)
    values, n_with = np.unique(degree[degree > 0], return_counts=True)
    if not values.size:
        sec.notes.append("The matrix has no non-zeros.")
        return sec
    fig, ax = _subplots(figsize=(6, 4))
    ax.loglog(values, n_with, marker="o", linestyle="none", markersize=3)
    ax.set_xlabel("non-zeros in the row (distinct contexts)")
    ax.set_ylabel("rows")
    ax.grid(True, which="major", alpha=0.3)
    sec.figures.append(
        Figure(
            "row-degree",
            "Row degree distribution (log-log)",
            _png(fig),
            {
                "degree": values,
                "n_rows": n_with,
                "empty_rows": int((degree == 0).sum()),
            },
            f"{int((degree == 0).sum()):,} empty rows not shown.",
        )
    )

    if nnz and top_pairs:
        square = n_rows == n_cols
        if matrix is None:
            # each pair once when the build made the counts symmetric
            rows, cols, vals, stored = _streamed_pairs(
                cooc, top_pairs, context_alpha, shift,
                upper=symmetric_counts, offdiag=square,
            )  # fmt: skip
        else:
            from cooc.weighting import ppmi

            weighted = ppmi(matrix, context_alpha=context_alpha, shift=shift).tocoo()
            keep = weighted.data > 0
            if square and (matrix != matrix.T).nnz == 0:
                keep &= weighted.row < weighted.col  # each pair once, as export --upper
            elif square:
                keep &= weighted.row != weighted.col
            rows, cols, vals = _top_of(
                weighted.row[keep].astype(np.int64),
                weighted.col[keep].astype(np.int64),
                weighted.data[keep],
                top_pairs,
            )
            stored = [float(matrix[r, c]) for r, c in zip(rows, cols, strict=True)]
        words = list(tokens)
        contexts = (
            words if square else [f"L:{t}" for t in words] + [f"R:{t}" for t in words]
        )
        sec.tables.append(
            Table(
                "ppmi-pairs",
                f"Strongest PPMI pairs (context smoothing {context_alpha})",
                ["word1", "word2", "ppmi", "count (weighted)"],
                [
                    [words[r], contexts[c], round(float(v), 4), n]
                    for r, c, v, n in zip(rows, cols, vals, stored, strict=True)
                ],
            )
        )
    return sec


# -- vectors ---------------------------------------------------------------------------
def _total_energy(cooc, emb, weighting, context_alpha, shift) -> float:
    """Squared Frobenius norm of the weighted matrix the vectors came from."""
    if _is_path(cooc):
        from cooc.streaming import CoocFile

        with CoocFile(cooc) as cf:
            tokens = cf.tokens()
    else:
        tokens = cooc.vocabulary.tokens
    known = set(tokens)
    stray = next((t for t in emb.tokens if t not in known), None)
    if stray is not None:
        raise InputError(
            f"the vectors hold the word {stray[:40]!r}, which the .cooc does not: "
            "give the .cooc the vectors were made from."
        )
    if _is_path(cooc):  # in row blocks: a matrix larger than memory is fine
        total = 0.0
        for block in _blocks(cooc, weighting, context_alpha, shift):
            data = block.data.astype(np.float64)
            total += float(data @ data)
        return total
    from cooc.weighting import weight_cooccurrence

    weighted = weight_cooccurrence(
        cooc, weighting=weighting, context_alpha=context_alpha, shift=shift
    )
    data = weighted.data.astype(np.float64)
    return float(data @ data)


def vectors_section(
    emb,
    *,
    cooc=None,
    words=None,
    map_words=500,
    n_neighbours=8,
    weighting="ppmi",
    context_alpha=0.75,
    shift=1.0,
    random_state=0,
) -> Section:
    """The spectrum, a 2-D word map and neighbour tables of word vectors.

    Figure ``spectrum`` (when ``emb.singular_values`` is known, as in ``.npz``
    files of ``cooc embed``): the singular values and their cumulative
    energy share ``cumsum(s**2) / total``, with the rank marked. With the
    ``cooc`` the vectors came from (a CoocMatrix, or the path of a ``.cooc``
    file, then read in row blocks), ``total`` is the squared Frobenius norm
    of its weighted matrix (``weighting``, ``context_alpha`` and ``shift`` as
    given to ``cooc embed``), so the share is exact; otherwise it is the sum
    of the kept ``s**2`` (the share relative to the kept values).

    Figure ``word-map``: the ``map_words`` first (most frequent) words,
    reduced by PCA to 50 dimensions, then to 2 by t-SNE (scikit-learn) or
    UMAP when umap-learn is installed; a subset whose labels do not overlap
    is labelled. Table ``neighbours``: cosine neighbours of ``words`` (the 6
    most frequent words by default).
    """
    require_matplotlib()
    unknown = next((w for w in words or () if w not in emb), None)
    if unknown is not None:  # (before any work)
        raise UnknownWordError(
            f"--words: {unknown!r} is not in the vectors' vocabulary."
        )
    facts = [("words", len(emb)), ("dimensions", emb.dim)]
    sec = Section("vectors", "Word vectors", facts=facts)
    if emb.dropped:
        sec.notes.append(f"{len(emb.dropped):,} words had no vector and were dropped.")
    s = emb.singular_values
    if s is None:
        sec.notes.append(
            "No singular values: word2vec files do not keep them (cooc embed "
            "-o vectors.npz does); no spectrum."
        )
    else:
        s = np.asarray(s, dtype=np.float64)
        energy = s**2
        exact = cooc is not None
        total = (
            _total_energy(cooc, emb, weighting, context_alpha, shift)
            if exact
            else float(energy.sum())
        )
        cumulative = np.cumsum(energy) / total if total > 0 else np.zeros_like(energy)
        k = np.arange(1, s.size + 1)
        fig, (ax1, ax2) = _subplots(1, 2, figsize=(11, 4))
        ax1.semilogy(k, s, marker=".", markersize=3)
        ax1.set_xlabel("component")
        ax1.set_ylabel("singular value")
        ax2.plot(k, cumulative, marker=".", markersize=3)
        ax2.set_xlabel("components kept")
        ax2.set_ylabel(
            "share of the energy (‖W‖²_F)" if exact else "share of the kept energy"
        )
        ax2.set_ylim(0, max(1.0, float(cumulative.max()) if cumulative.size else 1.0))
        for ax in (ax1, ax2):
            ax.axvline(s.size, color="tab:red", linestyle="--", label=f"rank {s.size}")
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best")
        share = float(cumulative[-1]) if cumulative.size else float("nan")
        if exact and share > 1 + 1e-3:
            sec.notes.append(
                f"The kept singular values hold {share:.1%} of the matrix's energy, "
                f"more than all of it: these vectors were not embedded from this "
                f".cooc with --weighting {weighting} (give the options cooc embed had)."
            )
        caption = (
            f"rank {s.size} keeps {share:.1%} of the squared Frobenius norm of the "
            f"{weighting} matrix."
            if exact
            else "shares are relative to the kept singular values (give the .cooc "
            "the vectors came from for the share of the whole matrix)."
        )
        sec.figures.append(
            Figure(
                "spectrum",
                "Singular-value spectrum and cumulative energy",
                _png(fig),
                {
                    "singular_values": s,
                    "cumulative_energy": cumulative,
                    "total_energy": total,
                    "rank": int(s.size),
                    "exact": exact,
                },
                caption,
            )
        )
        sec.facts.append(("rank", int(s.size)))
        if exact:
            sec.facts.append(("energy share kept", share))
    if map_words:
        fig_map = _word_map(emb, map_words, random_state)
        if fig_map is None:
            sec.notes.append("Too few words for a map (at least 5 are needed).")
        else:
            sec.figures.append(fig_map)
    sec.tables.append(_neighbour_table(emb, words, n_neighbours))
    return sec


def _word_map(emb, n_words, random_state):
    from sklearn.decomposition import PCA

    require_matplotlib()
    n = min(int(n_words), len(emb))
    if n < 5:
        return None
    tokens = emb.tokens[:n]
    X = np.asarray(emb.vectors[:n], dtype=np.float64)
    n_pca = min(50, X.shape[1], n - 1)
    if n_pca < X.shape[1]:
        X = PCA(n_components=n_pca, random_state=random_state).fit_transform(X)
    try:
        import umap  # (optional: umap-learn, used when installed)

        method = "UMAP"
        xy = umap.UMAP(
            n_components=2, n_neighbors=min(15, n - 1), random_state=random_state
        ).fit_transform(X)
    except ImportError:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        method = "t-SNE"
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
        tsne = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=random_state
        )
        # One OpenMP thread: its 1,000 small steps each end at a barrier, which
        # on a busy machine waits for a descheduled thread (a 500-word map took
        # 56 s on 2 loaded cores, 1.8 s with one thread).
        with threadpool_limits(limits=1, user_api="openmp"):
            xy = tsne.fit_transform(X)
    xy = np.asarray(xy, dtype=np.float64)
    labelled = _spread_labels(xy, limit=80)
    fig, ax = _subplots(figsize=(11, 8))
    ax.scatter(xy[:, 0], xy[:, 1], s=6, color="tab:blue", alpha=0.5)
    for i in labelled:
        ax.annotate(
            _plain(tokens[i]),
            xy[i],
            fontsize=8,
            xytext=(2, 2),
            textcoords="offset points",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    return Figure(
        "word-map",
        f"Map of the {n:,} most frequent words (PCA to {n_pca}, then {method})",
        _png(fig),
        {
            "words": list(tokens),
            "xy": xy,
            "labelled": [tokens[i] for i in labelled],
            "method": method,
        },
        f"{len(labelled)} words labelled, by frequency, where labels do not crowd.",
    )


def _spread_labels(xy, limit, min_gap=0.045):
    """Rows to label, in row (frequency) order, each at least ``min_gap`` of the
    plot's extent away from those already chosen."""
    span = np.ptp(xy, axis=0)
    unit = (xy - xy.min(axis=0)) / np.where(span > 0, span, 1.0)
    chosen = []
    for i in range(unit.shape[0]):
        if len(chosen) >= limit:
            break
        if chosen and np.min(np.abs(unit[chosen] - unit[i]).max(axis=1)) < min_gap:
            continue
        chosen.append(i)
    return chosen


def _neighbour_table(emb, words, n_neighbours) -> Table:
    if not words:
        words = emb.tokens[: min(6, len(emb))]
    k = max(1, min(n_neighbours, len(emb) - 1))
    rows = []
    for w in words:
        hits = emb.most_similar(w, k) if len(emb) > 1 else []
        rows.append([w, ", ".join(f"{n} ({s:.2f})" for n, s in hits)])
    return Table(
        "neighbours", "Nearest neighbours (cosine)", ["word", "neighbours"], rows
    )


# -- benchmarks ------------------------------------------------------------------------
def benchmark_section(
    emb, *, similarity=(), analogy=(), restrict_vocab=30000
) -> Section:
    """Human-vs-cosine scatters of similarity files, analogy accuracy per section.

    Figure ``similarity-<i>`` per file: the human scores and the cosines of
    the covered pairs with Spearman's rho (the ``spearman`` of
    :func:`cooc.evaluate.evaluate_similarity`). Figure ``analogy-<i>`` per
    file: the 3CosAdd accuracy of each section
    (:func:`cooc.evaluate.evaluate_analogies`).
    """
    from cooc.evaluate import (
        evaluate_analogies,
        evaluate_similarity,
        load_analogies,
        load_similarity,
    )

    require_matplotlib()
    sec = Section("benchmarks", "Benchmarks")
    rows = []
    index = {}
    for i, token in enumerate(emb.tokens):
        index.setdefault(token.lower(), i)
    unit = np.asarray(emb.vectors, dtype=np.float64)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit = unit / np.where(norms > 0, norms, 1.0)
    for n, path in enumerate(similarity, 1):
        pairs = load_similarity(path)
        result = evaluate_similarity(emb, pairs)
        a = np.array(
            [index.get(str(w).lower(), -1) for w in pairs["word1"]], dtype=np.int64
        )
        b = np.array(
            [index.get(str(w).lower(), -1) for w in pairs["word2"]], dtype=np.int64
        )
        covered = (a >= 0) & (b >= 0)
        human = pairs["score"].to_numpy(dtype=np.float64)[covered]
        cosine = np.einsum("ij,ij->i", unit[a[covered]], unit[b[covered]])
        rho = result["spearman"]
        fig, ax = _subplots(figsize=(5.5, 4.5))
        ax.scatter(human, cosine, s=10, alpha=0.6)
        ax.set_xlabel("human score")
        ax.set_ylabel("cosine")
        ax.set_title(_plain(f"{Path(path).name}: Spearman ρ = {rho:.3f}"))
        ax.grid(True, alpha=0.3)
        sec.figures.append(
            Figure(
                f"similarity-{n}",
                f"Word similarity: {Path(path).name}",
                _png(fig),
                {
                    "human": human,
                    "cosine": cosine,
                    "spearman": rho,
                    "coverage": result["coverage"],
                },
                f"{int(covered.sum())} of {len(pairs)} pairs covered "
                f"({result['coverage']:.1%}).",
            )
        )
        rows.append(
            [Path(path).name, "similarity (Spearman ρ)", rho, result["coverage"]]
        )
    for n, path in enumerate(analogy, 1):
        questions = load_analogies(path)
        result = evaluate_analogies(emb, questions, restrict_vocab=restrict_vocab)
        sections = list(result["per_section"])
        accuracy = np.array(
            [result["per_section"][s] for s in sections], dtype=np.float64
        )
        fig, ax = _subplots(figsize=(8, max(2.5, 0.3 * len(sections) + 1)))
        ax.barh(np.arange(len(sections)), np.nan_to_num(accuracy), color="tab:green")
        ax.set_yticks(
            np.arange(len(sections)), [_plain(s) for s in sections], fontsize=8
        )
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy (3CosAdd, covered questions)")
        ax.grid(True, axis="x", alpha=0.3)
        sec.figures.append(
            Figure(
                f"analogy-{n}",
                f"Analogies per section: {Path(path).name}",
                _png(fig),
                {
                    "sections": sections,
                    "accuracy": accuracy,
                    "overall": result["accuracy"],
                },
                f"overall {result['accuracy']:.1%} of {result['n_covered']} covered "
                f"questions (coverage {result['coverage']:.1%}); a section with no "
                "covered question shows 0.",
            )
        )
        rows.append(
            [
                Path(path).name,
                "analogy (3CosAdd accuracy)",
                result["accuracy"],
                result["coverage"],
            ]
        )
    if rows:
        sec.tables.append(
            Table("scores", "Scores", ["file", "task", "score", "coverage"], rows)
        )
    return sec


# -- a cooc fit model ------------------------------------------------------------------
def model_section(model, items, y, *, max_images=24) -> Section:
    """How a fitted :class:`~cooc.models.MultimodalClassifier` does on labelled items.

    Figures: ``confusion`` (``confusion``: sklearn's confusion matrix over
    ``labels``, rows true, columns predicted), ``modality-weights``
    (``weights``: the model's ``weights_``), ``roc`` (``fpr``, ``tpr``,
    ``auc`` per class, one-vs-rest on the predicted probabilities) and, for
    items with images, ``misclassified`` (up to ``max_images`` wrong items
    with their text, the label, the prediction and each modality's guess,
    the model given only the text or only the image). Table
    ``per-class``: sklearn's ``classification_report``.
    """
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        roc_auc_score,
        roc_curve,
    )

    require_matplotlib()
    y = np.asarray(y).astype(str)
    if len(y) != len(items):
        raise InputError(f"{len(items)} items but {len(y)} labels; they must match.")
    proba = model.predict_proba(items)
    classes = np.asarray(model.classes_).astype(str)
    pred = classes[np.argmax(proba, axis=1)]
    labels = sorted(set(classes) | set(y))
    cm = confusion_matrix(y, pred, labels=labels)
    facts = [
        ("items", len(y)),
        ("classes", len(classes)),
        ("accuracy", float(accuracy_score(y, pred))),
        ("fusion", getattr(model, "fusion", "?")),
        ("classifier", getattr(model, "classifier", "?")),
    ]
    sec = Section("model", "Classifier", facts=facts)

    size = max(4.0, 0.55 * len(labels) + 2)
    fig, ax = _subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    shown = [_plain(c) for c in labels]
    ax.set_xticks(np.arange(len(labels)), shown, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(labels)), shown, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2 if cm.size else 0
    for (r, c), v in np.ndenumerate(cm):
        ax.text(
            c,
            r,
            str(v),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if v > threshold else "black",
        )
    fig.colorbar(im, ax=ax, shrink=0.8)
    sec.figures.append(
        Figure(
            "confusion",
            "Confusion matrix",
            _png(fig),
            {"confusion": cm, "labels": labels},
        )
    )

    report = classification_report(
        y, pred, labels=labels, output_dict=True, zero_division=0
    )
    rows = [
        [
            c,
            report[c]["precision"],
            report[c]["recall"],
            report[c]["f1-score"],
            int(report[c]["support"]),
        ]
        for c in labels
    ]
    for avg in ("macro avg", "weighted avg"):
        if avg in report:
            r = report[avg]
            rows.append(
                [avg, r["precision"], r["recall"], r["f1-score"], int(r["support"])]
            )
    sec.tables.append(
        Table(
            "per-class",
            "Precision, recall and F1 per class",
            ["class", "precision", "recall", "F1", "support"],
            rows,
        )
    )

    weights = dict(getattr(model, "weights_", {}) or {})
    if weights:
        fig, ax = _subplots(figsize=(5, 0.5 * len(weights) + 1.5))
        names = list(weights)
        ax.barh(
            [_plain(n) for n in names], [weights[n] for n in names], color="tab:orange"
        )
        ax.set_xlim(0, max(1.0, max(weights.values())))
        stacked = getattr(getattr(model, "model_", None), "meta_", None) is not None
        ax.set_xlabel("share of |coefficients|" if stacked else "learned weight")
        caption = (
            "Each modality's share of the absolute coefficients of the stacking "
            "regression (late fusion, rule 'stack')"
            if stacked
            else "Learned modality weights"
        )
        sec.figures.append(
            Figure("modality-weights", caption, _png(fig), {"weights": weights})
        )

    fpr, tpr, auc = {}, {}, {}
    for j, c in enumerate(classes):
        truth = y == c
        if truth.all() or not truth.any():
            continue
        fpr[c], tpr[c], _ = roc_curve(truth, proba[:, j])
        auc[c] = float(roc_auc_score(truth, proba[:, j]))
    if auc:
        fig, ax = _subplots(figsize=(6.5, 5.5))
        for c in auc:
            ax.plot(fpr[c], tpr[c], label=_plain(f"{c} (AUC {auc[c]:.2f})"))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7, loc="lower right")
        sec.figures.append(
            Figure(
                "roc",
                "One-vs-rest ROC curves",
                _png(fig),
                {"fpr": fpr, "tpr": tpr, "auc": auc},
            )
        )

    image_column = getattr(model, "image_column", None)
    uses_images = (
        getattr(getattr(model, "features_", None), "visual_words_", None) is not None
    )
    wrong = np.flatnonzero(pred != y)
    if uses_images and image_column in items.columns and wrong.size and max_images:
        fig_grid = _misclassified(model, items, y, pred, wrong[:max_images])
        if fig_grid is not None:
            sec.figures.append(fig_grid)
    return sec


def _misclassified(model, items, y, pred, rows):
    require_matplotlib()
    subset = items.iloc[rows].copy()
    has_image = np.array([v is not None for v in subset[model.image_column]])
    rows, subset = rows[has_image], subset[has_image]
    if not rows.size:
        return None
    text_only, image_only = subset.copy(), subset.copy()
    text_only[model.image_column] = [None] * len(subset)
    guesses = {"text": model.predict(text_only)}
    if model.text_column in subset.columns:
        image_only[model.text_column] = [None] * len(subset)
    guesses["image"] = model.predict(image_only)
    n_cols = 6
    n_rows = -(-rows.size // n_cols)
    fig, axes = _subplots(
        n_rows, n_cols, figsize=(2.2 * n_cols, 2.9 * n_rows), squeeze=False
    )
    texts = (
        subset[model.text_column].tolist()
        if model.text_column in subset.columns
        else [""] * len(subset)
    )
    for ax in axes.ravel():
        ax.axis("off")
    for k, (ax, image) in enumerate(
        zip(axes.ravel(), subset[model.image_column], strict=False)
    ):
        ax.imshow(np.asarray(image))
        text = str(texts[k]) if texts[k] is not None else ""
        text = text if len(text) <= 28 else text[:27] + "…"
        ax.set_title(
            _plain(
                f"{text}\ntrue {y[rows[k]]} / pred {pred[rows[k]]}\n"
                f"text→{guesses['text'][k]}  image→{guesses['image'][k]}"
            ),
            fontsize=6,
        )
    return Figure(
        "misclassified",
        f"Misclassified items (first {rows.size})",
        _png(fig),
        {
            "rows": rows,
            "true": [str(y[i]) for i in rows],
            "predicted": [str(pred[i]) for i in rows],
            "text_guess": [str(g) for g in guesses["text"]],
            "image_guess": [str(g) for g in guesses["image"]],
        },
        "Each: its text, the label and the prediction, then what the model "
        "predicts from the text alone and from the image alone.",
    )


# -- files in, a report out ------------------------------------------------------------
def input_kind(path) -> str:
    """``"cooc"``, ``"model"`` (a ``cooc fit`` file) or ``"vectors"``, by content."""
    if is_cooc_archive(path):
        return "cooc"
    try:
        with zipfile.ZipFile(path) as zf:
            if "schema.json" in zf.namelist():
                return "model"
    except (OSError, zipfile.BadZipFile):
        pass
    return "vectors"


def build_report(
    inputs,
    *,
    similarity=(),
    analogy=(),
    restrict_vocab=30000,
    table=None,
    label_column=None,
    images=None,
    key="images",
    words=None,
    map_words=500,
    top_pairs=20,
    weighting="ppmi",
    context_alpha=0.75,
    shift=1.0,
    random_state=0,
    progress=None,
) -> Report:
    """A :class:`Report` of the files ``inputs``: at most one ``.cooc``, one
    vectors file and one ``cooc fit`` model, told apart by their content.

    ``similarity``/``analogy`` files need vectors; ``table`` (a labelled
    table as ``cooc predict`` reads, with ``images``/``key`` for an image
    archive) needs a model, and a model needs a table. ``label_column``
    defaults to the one the model was fitted with.
    """
    from cooc.classify import load_model
    from cooc.models import MODEL_TYPES
    from cooc.vectors import Embeddings

    note = progress if progress is not None else (lambda text: None)
    require_matplotlib()  # (the one-line error before any work)
    found = {}
    for path in inputs:
        kind = input_kind(path)
        if kind in found:
            raise InputError(
                f"{path}: a second {kind} input (after {found[kind]}); give at "
                "most one .cooc, one vectors file and one model."
            )
        found[kind] = path
    loaded = {}
    if "cooc" in found:  # read in row blocks by the sections, never whole
        loaded["cooc"] = found["cooc"]
    if "vectors" in found:
        loaded["vectors"] = Embeddings.load(found["vectors"])
    if "model" in found:
        loaded["model"] = load_model(
            found["model"],
            trusted=MODEL_TYPES,
            expected="cooc.models.MultimodalClassifier",
        )
    if (similarity or analogy) and "vectors" not in loaded:
        raise InputError("--similarity/--analogy need a vectors input.")
    if table is not None and "model" not in loaded:
        raise InputError("--table needs a model input (from cooc fit).")
    if "model" in loaded and table is None:
        raise InputError(f"{found['model']}: a model needs --table, a labelled table.")
    if not loaded:
        raise InputError("give at least one input: a .cooc, vectors or a model.")
    model_items = None
    if "model" in loaded:
        model, meta = loaded.pop("model")
        label = label_column or (meta or {}).get("label_column")
        if not label:
            raise InputError("--label-column: name the table's label column.")
        model_items = (*_read_model_items(model, table, label, images, key), model)
    return assemble_report(
        cooc=loaded.get("cooc"),
        embeddings=loaded.get("vectors"),
        model_items=model_items,
        similarity=similarity,
        analogy=analogy,
        restrict_vocab=restrict_vocab,
        words=words,
        map_words=map_words,
        top_pairs=top_pairs,
        weighting=weighting,
        context_alpha=context_alpha,
        shift=shift,
        random_state=random_state,
        progress=note,
    )


def _read_model_items(model, table, label, images, key):
    from cooc.items import read_items

    uses_images = getattr(model.features_, "visual_words_", None) is not None
    frame, items = read_items(
        table,
        text_column=None,
        image_column=model.image_column if uses_images else None,
        images=images if uses_images else None,
        key=key,
        label_column=label,
    )
    if model.text_column not in items.columns:
        items[model.text_column] = None
    return items, frame[label].astype(str).to_numpy()


def assemble_report(
    *,
    cooc=None,
    embeddings=None,
    model_items=None,
    similarity=(),
    analogy=(),
    restrict_vocab=30000,
    words=None,
    map_words=500,
    top_pairs=20,
    weighting="ppmi",
    context_alpha=0.75,
    shift=1.0,
    random_state=0,
    title="cooc report",
    progress=None,
) -> Report:
    """A :class:`Report` of objects in memory: a CoocMatrix (or the path of a
    ``.cooc`` file, read in row blocks), Embeddings and ``model_items =
    (items, labels, model)``; each given one adds its sections."""
    note = progress if progress is not None else (lambda text: None)
    report = Report(title)
    if cooc is not None:
        t0 = time.perf_counter()
        report.sections.append(
            corpus_section(
                cooc, top_pairs=top_pairs, context_alpha=context_alpha, shift=shift
            )
        )
        note(f"corpus section in {time.perf_counter() - t0:.1f} s")
    if embeddings is not None:
        t0 = time.perf_counter()
        report.sections.append(
            vectors_section(
                embeddings,
                cooc=cooc,
                words=words,
                map_words=map_words,
                weighting=weighting,
                context_alpha=context_alpha,
                shift=shift,
                random_state=random_state,
            )
        )
        note(f"vectors section in {time.perf_counter() - t0:.1f} s")
        if similarity or analogy:
            report.sections.append(
                benchmark_section(
                    embeddings,
                    similarity=similarity,
                    analogy=analogy,
                    restrict_vocab=restrict_vocab,
                )
            )
    if model_items is not None:
        t0 = time.perf_counter()
        items, labels, model = model_items
        report.sections.append(model_section(model, items, labels))
        note(f"classifier section in {time.perf_counter() - t0:.1f} s")
    return report


# -- the TensorBoard projector pair ----------------------------------------------------
def write_projector(emb, prefix) -> tuple[Path, Path]:
    """Write ``<prefix>_vectors.tsv`` and ``<prefix>_metadata.tsv`` for the
    TensorBoard Embedding Projector ("Load data").

    The vectors file has one row of tab-separated floats per word and no
    header; the metadata file one word per line and, being a single column,
    no header either (the projector's documented format). Both are written
    atomically. A word with a tab or a line break cannot be a row of a TSV:
    such vectors are refused.
    """
    prefix = os.fspath(prefix)
    bad = next((t for t in emb.tokens if any(c in t for c in "\t\n\r")), None)
    if bad is not None:
        raise InputError(
            f"the word {bad[:40]!r} holds a tab or a line break, which a projector "
            "metadata TSV cannot; write .npz or word2vec files instead."
        )
    vectors_path = Path(prefix + "_vectors.tsv")
    metadata_path = Path(prefix + "_metadata.tsv")
    with atomic_write(vectors_path, "w", encoding="utf-8", newline="\n") as fh:
        np.savetxt(
            fh, np.asarray(emb.vectors, dtype=np.float32), fmt="%.6g", delimiter="\t"
        )
    with atomic_write(metadata_path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(f"{t}\n" for t in emb.tokens)
    return vectors_path, metadata_path
