"""Data sets for the demo, tests and benchmarks: shipped files and tiny generators.

Nothing here touches the network. The demo corpus ships inside the package
(public-domain text, see ``cooc/data/NOTICE.md``); larger real data is found in
a ``shared/data`` folder when one is present (a development checkout), or where
``COOC_DATA`` points.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "demo_corpus_paths",
    "load_emoji",
    "make_topic_corpus",
    "shared_data_dir",
    "similarity_files",
]

SIMILARITY_FILES = {
    "WS353": "wordsim353.txt",
    "SimLex999": "simlex999.txt",
    "MEN": "men_dataset.txt",
}
ANALOGY_FILE = "questions-words.txt"


def demo_corpus_paths() -> list[Path]:
    """The shipped demo corpus: Jane Austen, Moby-Dick and the State of the Union."""
    folder = resources.files("cooc") / "data"
    names = ("jane_austen.txt.gz", "moby_dick.txt.gz", "sotu.txt.gz")
    return [Path(str(folder / name)) for name in names]


def load_emoji(*, drop_flag_word: bool = True):
    """The shipped emoji set: 1,906 images with their CLDR text and category.

    Returns ``(images, frame)``: ``images`` uint8 ``(1906, 64, 64, 3)`` and a
    pandas DataFrame with columns ``hexcode, label, tags, unicode_name,
    category, subcategory`` and ``text`` (label + tags), row for row. The labels
    and tags of flags contain the word "flag" ("flag: Chad"), which would give
    the "Flags" category away; with ``drop_flag_word`` (default) the words
    "flag" and "flags" are removed from ``tags`` and ``text`` (``label`` keeps
    the original name).
    Sources and licences: ``cooc/data/NOTICE.md``.

    Examples
    --------
    >>> images, frame = load_emoji()
    >>> images.shape, frame["category"].nunique()
    ((1906, 64, 64, 3), 9)
    """
    import pandas as pd

    folder = resources.files("cooc") / "data"
    with np.load(str(folder / "emoji.npz"), allow_pickle=False) as z:
        images = z["images"]
    frame = pd.read_csv(str(folder / "emoji.csv"), keep_default_na=False, dtype=str)
    frame["text"] = (frame["label"] + " " + frame["tags"]).str.strip()
    if drop_flag_word:
        # "flag"/"flags" appear in every label ("flag: Chad") and tag list of the
        # Flags category: a give-away, removed from the text used for learning.
        pattern = r"(?i)\bflags?\b:?"
        for col in ("tags", "text"):
            frame[col] = frame[col].str.replace(pattern, " ", regex=True).str.split().str.join(" ")
    return images, frame


def shared_data_dir() -> Path | None:
    """The real-data folder: ``$COOC_DATA``, else a ``shared/data`` beside the checkout."""
    env = os.environ.get("COOC_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = Path(__file__).resolve()
    candidates = [
        p / "shared" / "data" for p in [*here.parents, *Path.cwd().resolve().parents]
    ]
    candidates.insert(0, Path.cwd() / ".." / "shared" / "data")
    for cand in candidates:
        if (cand / "similarity").is_dir() or (cand / "corpus").is_dir():
            return cand.resolve()
    return None


def similarity_files(data_dir: Path | None = None) -> dict[str, Path]:
    """Word-similarity benchmark files found in the real-data folder (may be empty)."""
    data_dir = data_dir or shared_data_dir()
    if data_dir is None:
        return {}
    out = {}
    for name, fname in SIMILARITY_FILES.items():
        path = Path(data_dir) / "similarity" / fname
        if path.is_file():
            out[name] = path
    return out


def make_topic_corpus(
    n_docs: int = 200,
    *,
    doc_length: int = 20,
    n_topics: int = 4,
    words_per_topic: int = 12,
    n_common: int = 8,
    random_state=0,
) -> tuple[list[str], np.ndarray]:
    """A tiny synthetic corpus whose documents each talk about one topic.

    Every topic has its own words (``t{k}w{j}``); all documents also use common
    words (``c{j}``). Returns the documents (space-separated strings) and the
    topic label of each, so classifiers and embeddings have signal to find.

    Examples
    --------
    >>> docs, labels = make_topic_corpus(4, doc_length=5, random_state=0)
    >>> len(docs), labels.tolist()
    (4, [3, 2, 2, 1])
    """
    rng = np.random.default_rng(random_state)
    labels = rng.integers(0, n_topics, size=n_docs)
    docs = []
    for label in labels:
        topical = rng.random(doc_length) < 0.6
        words = [
            f"t{label}w{rng.integers(words_per_topic)}"
            if t
            else f"c{rng.integers(n_common)}"
            for t in topical
        ]
        docs.append(" ".join(words))
    return docs, labels
