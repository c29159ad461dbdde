"""The phrase table: which adjacent word pairs become one token, pass by pass.

``cooc phrases`` writes a TSV of phrases; ``cooc build/embed --phrases``,
:func:`cooc.cooccurrence.build_cooccurrence(..., phrases=...)` and
:func:`cooc.phrases.join_phrases` read it into a :class:`PhraseTable` and join
the phrases in the token stream before anything is counted.

The TSV has a header line and one phrase per line, tab-separated, no quoting::

    word1   word2   count   score   pass
    new     york    1043    23.9    1
    new_york  times 120     11.2    2

``word1`` and ``word2`` are required; ``count`` (an integer >= 0) and ``score``
(a finite number) are what ``cooc phrases`` measured and are checked but not
used for joining; ``pass`` (an integer >= 1, default 1) says when the pair
joins. The joined token is ``word1 + "_" + word2`` (gensim's default
delimiter).

Joining follows gensim's ``Phraser``/``FrozenPhrases``: pass 1, then pass 2,
...; within each pass every document is scanned from left to right and a pair
that is in the table becomes one token, the scan going on after it (``a b c``
with both ``a b`` and ``b c`` gives ``a_b c``). Pairs never cross documents.

Words that already contain ``_``: they are ordinary words. A joined token is
the same string, hence the same vocabulary word, as a corpus token spelled the
same way (``new_york`` in the text and ``new`` + ``york`` joined are one word,
as in gensim), and splitting joined tokens on ``_`` gives the original tokens
back only when no word contained ``_``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re

import numpy as np

from cooc.errors import InputError, InputTypeError
from cooc.files import atomic_write, read_all_bytes

__all__ = [
    "COLUMNS",
    "DELIMITER",
    "PhraseTable",
    "as_phrase_table",
    "read_phrases",
    "write_phrases",
]

#: What joins the two words of a phrase (gensim's default).
DELIMITER = "_"
#: The columns of a phrase TSV, in the order ``cooc phrases`` writes them.
COLUMNS = ("word1", "word2", "count", "score", "pass")


def _bad_word(word) -> str | None:
    """Why ``word`` cannot be a phrase word, or None."""
    if not isinstance(word, str):
        return f"must be a str, not {type(word).__name__}"
    if not word:
        return "is empty"
    if len(word.split()) != 1 or word.split()[0] != word:
        return f"{word!r} holds white space (a token never does)"
    return None


_WHITE_SPACE = re.compile(r"\s")


def _all_good_words(words: list) -> bool:
    """True when every word is a non-empty str without white space (one pass
    in C over the joined words; :func:`_bad_word` then says which is not)."""
    if not all(type(w) is str and w for w in words):
        return False
    return _WHITE_SPACE.search("\0".join(words)) is None


class PhraseTable:
    """Phrases to join: ``(word1, word2)`` pairs and the pass of each.

    Made by :func:`read_phrases` (a TSV) or :func:`as_phrase_table` (a path,
    a DataFrame or a table); the words are checked when it is made.

    Attributes
    ----------
    word1, word2 : ndarray of object (str), shape (n_phrases,)
    passes : ndarray of int64, shape (n_phrases,)
        The pass of each phrase (>= 1).
    joined : ndarray of object (str), shape (n_phrases,)
        ``word1 + "_" + word2``.
    words : ndarray of object (str)
        Every distinct word and joined token of the table.
    sha256 : str
        Hash of the phrases and passes (not of counts or scores, which do
        not change the joining), recorded in a ``.cooc`` file's params.
    """

    def __init__(self, word1, word2, passes=None, *, source: str = "phrases"):
        word1 = list(word1)
        word2 = list(word2)
        passes = [1] * len(word1) if passes is None else list(passes)
        if not len(word1) == len(word2) == len(passes):
            raise InputError(f"{source}: word1, word2 and pass differ in length.")
        if not _all_good_words(word1) or not _all_good_words(word2):
            for i, (a, b) in enumerate(zip(word1, word2, strict=True)):
                for name, w in (("word1", a), ("word2", b)):
                    why = _bad_word(w)
                    if why is not None:
                        raise InputError(f"{source}: phrase {i + 1}: {name} {why}.")
        seen = set()
        for i, (a, b, p) in enumerate(zip(word1, word2, passes, strict=True)):
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
                raise InputError(
                    f"{source}: phrase {i + 1}: pass must be an integer >= 1; "
                    f"got {p!r}."
                )
            key = (a, b, int(p))
            if key in seen:
                raise InputError(
                    f"{source}: phrase {i + 1}: {a} {b} is listed twice in pass {p}."
                )
            seen.add(key)
        self.source = source
        self.word1 = _objects(word1)
        self.word2 = _objects(word2)
        self.passes = np.asarray(passes, dtype=np.int64).reshape(-1)
        self.joined = _objects(
            [a + DELIMITER + b for a, b in zip(word1, word2, strict=True)]
        )
        self.words = _objects(list(dict.fromkeys([*word1, *word2, *self.joined])))
        canonical = sorted(zip(self.passes.tolist(), word1, word2, strict=True))
        digest = hashlib.sha256()
        for p, a, b in canonical:
            digest.update(f"{p}\t{a}\t{b}\n".encode("utf-8", "surrogatepass"))
        self.sha256 = digest.hexdigest()
        self._index_cache = None
        self._ids = None

    # -- identity -------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.word1.shape[0])

    @property
    def n_passes(self) -> int:
        """Number of distinct passes."""
        return int(np.unique(self.passes).shape[0])

    def __eq__(self, other) -> bool:
        return isinstance(other, PhraseTable) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __dask_tokenize__(self):
        return ("cooc.PhraseTable", self.sha256)

    def __repr__(self) -> str:
        return (
            f"PhraseTable({len(self)} phrases, {self.n_passes} pass(es), "
            f"sha256={self.sha256[:12]}...)"
        )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_index_cache"] = None
        state["_ids"] = None
        return state

    def record(self) -> dict:
        """What a ``.cooc`` file's params keep of the table (``reading.phrases``)."""
        return {
            "sha256": self.sha256,
            "n_phrases": len(self),
            "passes": self.n_passes,
            "delimiter": DELIMITER,
        }

    def to_frame(self):
        """The phrases as a DataFrame (``word1, word2, pass``)."""
        import pandas as pd

        return pd.DataFrame(
            {"word1": self.word1, "word2": self.word2, "pass": self.passes}
        )

    # -- joining ----------------------------------------------------------------
    def _index(self):
        if self._index_cache is None:
            import pandas as pd

            self._index_cache = pd.Index(self.words, dtype=object)
        return self._index_cache

    def _word_ids(self):
        """Positions in ``words`` of each phrase's word1, word2 and joined token,
        and the pass number of each phrase (0, 1, ... over the distinct passes)."""
        if self._ids is None:
            index = self._index()
            numbers, rank = np.unique(self.passes, return_inverse=True)
            self._ids = (
                index.get_indexer(self.word1).astype(np.int64),
                index.get_indexer(self.word2).astype(np.int64),
                index.get_indexer(self.joined).astype(np.int64),
                rank.astype(np.int64).reshape(-1),
                len(numbers),
            )
        return self._ids

    def plan(self, code_of_word, n_space: int) -> tuple:
        """The arrays of :func:`cooc._kernels.phrases.join_code_pairs` for a code
        space of ``n_space`` codes where ``words[i]`` has code
        ``code_of_word[i]`` (every word needs a distinct code)."""
        i1, i2, ij, rank, n_passes = self._word_ids()
        code_of_word = np.asarray(code_of_word, dtype=np.int64)
        a, b, v = code_of_word[i1], code_of_word[i2], code_of_word[ij]
        keys = a * np.int64(n_space) + b
        order = np.lexsort((keys, rank))
        bounds = np.searchsorted(rank[order], np.arange(n_passes + 1)).astype(np.int64)
        starts = np.zeros((max(n_passes, 1), max(int(n_space), 1)), np.uint8)
        starts[rank, a] = 1
        return (
            np.int64(n_space),
            starts,
            np.ascontiguousarray(keys[order]),
            np.ascontiguousarray(v[order].astype(np.int32)),
            bounds,
        )

    def join_codes(self, codes, offsets, plan) -> tuple[np.ndarray, np.ndarray]:
        """Join the phrases in a coded corpus (codes of :meth:`plan`'s space,
        -1 for a token outside it): new ``(codes, offsets)``."""
        # numba's kernels: a measured start-up cost that readers skip
        from cooc._kernels.phrases import join_code_pairs

        codes = np.ascontiguousarray(codes, dtype=np.int32)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        if len(self) == 0 or codes.shape[0] < 2:
            return codes, offsets
        return join_code_pairs(codes, offsets, *plan)

    def join_coded(self, codes, uniques, offsets) -> tuple:
        """Join the phrases in tokens coded as ``uniques[codes]`` (a
        :class:`cooc.corpus.TokenChunk`'s arrays): new ``(codes, uniques,
        offsets)``, the uniques in order of first appearance."""
        import pandas as pd

        n_unique = len(uniques)
        if len(self) == 0 or n_unique == 0:
            return codes, uniques, offsets
        where = self._index().get_indexer(np.asarray(uniques, dtype=object))
        code_of_word = np.full(len(self.words), -1, np.int64)
        hit = where >= 0
        code_of_word[where[hit]] = np.flatnonzero(hit)
        missing = np.flatnonzero(code_of_word < 0)
        code_of_word[missing] = n_unique + np.arange(missing.shape[0])
        plan = self.plan(code_of_word, n_unique + missing.shape[0])
        joined, offsets = self.join_codes(codes, offsets, plan)
        new_codes, order = pd.factorize(joined)
        extended = np.concatenate(
            [np.asarray(uniques, dtype=object), self.words[missing]]
        )
        return new_codes.astype(np.int32), extended[order], offsets

    def join_chunk(self, chunk):
        """A token chunk (:class:`cooc.corpus.TokenChunk`) with the phrases joined."""
        if len(self) == 0:
            return chunk
        return type(chunk)(*self.join_coded(chunk.codes, chunk.uniques, chunk.offsets))

    def join_documents(self, documents) -> list[list[str]]:
        """Token lists with the phrases joined (one list per document)."""
        import pandas as pd

        if isinstance(documents, (str, bytes)):
            raise InputTypeError(
                "documents must be an iterable of token lists, not a single str."
            )
        docs = []
        for i, doc in enumerate(documents):
            if isinstance(doc, (str, bytes)) or not isinstance(doc, (list, tuple)):
                raise InputTypeError(
                    f"document {i} is a {type(doc).__name__}; documents must be "
                    "lists of str tokens (wrap one document: [tokens])."
                )
            for t in doc:
                if not isinstance(t, str):
                    raise InputTypeError(
                        f"document {i} holds a {type(t).__name__} token ({t!r}); "
                        "tokens must be str."
                    )
            docs.append(doc)
        lengths = np.fromiter(map(len, docs), np.int64, count=len(docs))
        offsets = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.empty(int(offsets[-1]), dtype=object)
        flat[:] = [t for doc in docs for t in doc]
        codes, uniques = pd.factorize(flat)
        codes, uniques, offsets = self.join_coded(
            codes.astype(np.int32), np.asarray(uniques, dtype=object), offsets
        )
        tokens = uniques[codes].tolist()
        bounds = offsets.tolist()
        return [tokens[a:b] for a, b in itertools.pairwise(bounds)]


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# -- the TSV -----------------------------------------------------------------------
def _integer(text: str):
    try:
        return int(text)
    except ValueError:
        return None


def read_phrases(path) -> PhraseTable:
    """Read and check a phrase TSV (see the module's documentation).

    Raises :class:`cooc.errors.InputError` with one line naming the file (and
    the line) when it is not one: no header, unknown or missing columns, a
    wrong number of fields, an empty word, a count, score or pass that is not
    of its kind.
    """
    name = os.fspath(path)
    try:
        raw = read_all_bytes(path)
    except FileNotFoundError:
        raise InputError(f"phrases file {name!r} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"phrases file {name!r} is a directory.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"phrases file {name}: not UTF-8 (byte {err.start + 1})."
        ) from None
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not lines:
        raise InputError(
            f"phrases file {name} is empty; expected a header "
            f"({chr(9).join(COLUMNS)}) as cooc phrases writes it."
        )
    header = lines[0].split("\t")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or header[:2] != ["word1", "word2"] or len(set(header)) != len(header):
        raise InputError(
            f"phrases file {name}: header {lines[0]!r} is not a phrase table's; "
            f"expected word1, word2 then any of count, score, pass (tab-separated), "
            "as cooc phrases writes it."
        )
    col = {c: i for i, c in enumerate(header)}
    word1, word2, passes = [], [], []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(
                f"phrases file {name}: line {n} has {len(fields)} field(s), "
                f"the header {len(header)}."
            )
        for c in ("word1", "word2"):
            why = _bad_word(fields[col[c]])
            if why is not None:
                raise InputError(f"phrases file {name}: line {n}: {c} {why}.")
        if "count" in col:
            value = _integer(fields[col["count"]])
            if value is None or value < 0:
                raise InputError(
                    f"phrases file {name}: line {n}: count must be an integer "
                    f">= 0; got {fields[col['count']]!r}."
                )
        if "score" in col:
            try:
                score = float(fields[col["score"]])
            except ValueError:
                score = math.nan
            if not math.isfinite(score):
                raise InputError(
                    f"phrases file {name}: line {n}: score must be a finite "
                    f"number; got {fields[col['score']]!r}."
                )
        p = 1
        if "pass" in col:
            p = _integer(fields[col["pass"]])
            if p is None or p < 1:
                raise InputError(
                    f"phrases file {name}: line {n}: pass must be an integer "
                    f">= 1; got {fields[col['pass']]!r}."
                )
        word1.append(fields[col["word1"]])
        word2.append(fields[col["word2"]])
        passes.append(p)
    seen: dict = {}
    for n, key in enumerate(zip(word1, word2, passes, strict=True), start=2):
        if key in seen:
            raise InputError(
                f"phrases file {name}: line {n} repeats line {seen[key]} "
                f"({key[0]} {key[1]}, pass {key[2]})."
            )
        seen[key] = n
    return PhraseTable(word1, word2, passes, source=f"phrases file {name}")


def write_phrases(frame, path) -> None:
    """Write a phrase table (a DataFrame with ``word1, word2`` and any of
    ``count, score, pass``, such as :func:`cooc.phrases.score_phrases` returns)
    as TSV, atomically; ``.gz``/``.bz2``/``.xz`` names are compressed."""
    columns = [c for c in COLUMNS if c in frame.columns]
    if columns[:2] != ["word1", "word2"]:
        raise InputError("a phrase table needs columns word1 and word2.")
    values = [frame[c].tolist() for c in columns]
    fmt = {
        "word1": str,
        "word2": str,
        "count": lambda v: str(int(v)),
        "score": lambda v: repr(float(v)),
        "pass": lambda v: str(int(v)),
    }
    with atomic_write(path, "w", compress=True, encoding="utf-8", newline="") as f:
        f.write("\t".join(columns) + "\n")
        for row in zip(*values, strict=True):
            f.write(
                "\t".join(fmt[c](v) for c, v in zip(columns, row, strict=True)) + "\n"
            )


def as_phrase_table(phrases) -> PhraseTable | None:
    """``phrases`` as a :class:`PhraseTable`: None, a table, a path to a phrase
    TSV (:func:`read_phrases`) or a DataFrame with columns ``word1, word2``
    and optionally ``pass``."""
    if phrases is None or isinstance(phrases, PhraseTable):
        return phrases
    if isinstance(phrases, (str, os.PathLike)):
        return read_phrases(phrases)
    columns = getattr(phrases, "columns", None)
    if columns is not None:
        missing = [c for c in ("word1", "word2") if c not in columns]
        if missing:
            raise InputError(
                f"phrases: the DataFrame has no column(s) {missing}; expected "
                "word1, word2 and optionally pass."
            )
        passes = phrases["pass"].tolist() if "pass" in columns else None
        return PhraseTable(
            phrases["word1"].tolist(), phrases["word2"].tolist(), passes,
            source="phrases (DataFrame)",
        )  # fmt: skip
    raise InputTypeError(
        f"phrases must be a path to a phrase TSV, a DataFrame or a PhraseTable; "
        f"got {type(phrases).__name__}."
    )
