"""The vocabulary: token <-> id mapping with corpus counts, built from token chunks.

Ids follow a stable order: count descending, then token ascending (by code
point), so the same corpus and parameters always give the same ids.
"""

from __future__ import annotations

import itertools
import numbers
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from cooc.corpus import TokenChunk, check_document_paths, chunks_from_documents
from cooc.errors import InputError, InputTypeError, UnknownWordError
from cooc.files import atomic_write, read_all_bytes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EmptyCorpusError",
    "Vocabulary",
    "build_vocabulary",
    "build_vocabulary_from_files",
    "count_tokens",
    "vocabulary_from_table",
]

# Merge per-chunk counts once this many (token, count) pairs are pending.
_MERGE_AT = 1 << 20


class EmptyCorpusError(InputError):
    """No word is left for the vocabulary: the corpus holds no token, or none
    occurs ``min_count`` times. A ``ValueError``, so existing handlers keep
    working; the CLI reports it as bad input (exit 2)."""

    @classmethod
    def no_tokens(cls, subject="the corpus has") -> EmptyCorpusError:
        return cls(
            f"vocabulary is empty: {subject} no tokens; check the input files, "
            "the column and the tokenizer."
        )

    @classmethod
    def below_min_count(cls, min_count, n_distinct, top_count) -> EmptyCorpusError:
        return cls(
            f"vocabulary is empty after min_count={min_count!r}: the most frequent "
            f"of the {n_distinct} distinct tokens occurs {int(top_count)} times; "
            "lower min_count."
        )


class Vocabulary:
    """Token <-> id mapping with a count per token.

    Parameters
    ----------
    tokens : sequence of str
        The tokens in id order; must be distinct.
    counts : array-like of int, shape (n_words,), default=None
        Corpus count of each token; None means zeros.

    Attributes
    ----------
    tokens : list of str
        Token of each id. Treat as read-only.
    counts : ndarray of int64, shape (n_words,)
        Count of each id.

    See Also
    --------
    build_vocabulary : Count a corpus and keep the frequent tokens.

    Examples
    --------
    >>> vocab = Vocabulary(["the", "cat"], [5, 2])
    >>> vocab.encode(["cat", "dog", "the"])
    array([ 1, -1,  0], dtype=int32)
    >>> vocab.decode([0, 1])
    ['the', 'cat']
    """

    def __init__(self, tokens: Sequence[str], counts=None):
        import pandas as pd

        if isinstance(tokens, str):
            raise InputTypeError("tokens must be a sequence of str, not a single str.")
        tokens = list(tokens)
        bad = next((t for t in tokens if not isinstance(t, str)), None)
        if bad is not None:
            raise InputTypeError(
                f"tokens must be str; got {type(bad).__name__} {bad!r}."
            )
        if counts is None:
            counts = np.zeros(len(tokens), np.int64)
        else:
            counts = np.asarray(counts)
            if counts.ndim != 1 or len(counts) != len(tokens):
                raise InputError(
                    f"counts has shape {counts.shape} but there are {len(tokens)} "
                    "tokens; pass one count per token."
                )
            if len(counts) and counts.dtype.kind not in "iu":
                raise InputError(
                    f"counts must be integers, got dtype {counts.dtype}; "
                    "round or cast them first."
                )
            counts = counts.astype(np.int64)
            if len(counts) and counts.min() < 0:
                raise InputError(
                    f"counts must be >= 0, got {int(counts.min())} for token "
                    f"{tokens[int(counts.argmin())]!r}."
                )
        index = pd.Index(np.array(tokens, dtype=object), dtype=object)
        if not index.is_unique:
            dupes = index[index.duplicated()].unique()[:5].tolist()
            raise InputError(
                f"tokens must be distinct; duplicated: {dupes}. Merge their counts "
                "first (e.g. Vocabulary.from_counts)."
            )
        self.tokens = tokens
        self.counts = counts
        self._index_cache = index

    @classmethod
    def _trusted(cls, tokens: list[str], counts: np.ndarray) -> Vocabulary:
        """A vocabulary of tokens known to be distinct str and counts known to
        be int64 >= 0 (no checks; the lookup index is built on first use)."""
        vocab = cls.__new__(cls)
        vocab.tokens = tokens
        vocab.counts = counts.astype(np.int64, copy=False)
        vocab._index_cache = None
        return vocab

    def __setstate__(self, state: dict) -> None:
        # Pickles and skops files made before the index became lazy hold it
        # as "_index".
        state = dict(state)
        state.setdefault("_index_cache", state.pop("_index", None))
        self.__dict__.update(state)

    @property
    def _index(self) -> pd.Index:
        import pandas as pd

        if self._index_cache is None:
            self._index_cache = pd.Index(
                np.array(self.tokens, dtype=object), dtype=object
            )
        return self._index_cache

    # -- container protocol -------------------------------------------------

    def __len__(self) -> int:
        return len(self.tokens)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tokens)

    def __contains__(self, token) -> bool:
        return isinstance(token, str) and token in self._index

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.tokens == other.tokens and np.array_equal(self.counts, other.counts)

    __hash__ = None  # mutable-looking container with value equality

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self.tokens[:5])) + (
            ", ..." if len(self) > 5 else ""
        )
        return (
            f"Vocabulary(n_words={len(self)}, n_tokens={self.n_tokens}, "
            f"tokens=[{head}])"
        )

    @property
    def n_tokens(self) -> int:
        """Total count over all tokens (corpus tokens covered by the vocabulary)."""
        return int(self.counts.sum())

    # -- lookups --------------------------------------------------------------

    def id_of(self, token: str) -> int:
        """Id of ``token``; KeyError if it is not in the vocabulary."""
        position = self._index.get_indexer([token])[0] if isinstance(token, str) else -1
        if position < 0:
            raise UnknownWordError(
                f"token {token!r} is not in the vocabulary ({len(self)} words); "
                "check `token in vocab` first or lower min_count."
            )
        return int(position)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Map tokens to ids.

        Parameters
        ----------
        tokens : sequence of str

        Returns
        -------
        ndarray of int32, shape (n_tokens,)
            The id of each token, -1 for tokens not in the vocabulary.
        """
        if isinstance(tokens, str):
            raise InputTypeError(
                "encode expects a sequence of tokens, not a single str; "
                "wrap it in a list or use id_of()."
            )
        values = np.asarray(tokens, dtype=object).ravel()
        if len(values) == 0:
            return np.zeros(0, np.int32)
        return self._index.get_indexer(values).astype(np.int32)

    def encode_chunk(self, chunk: TokenChunk) -> np.ndarray:
        """Map the tokens of a chunk to ids, looking up each distinct token once.

        Returns
        -------
        ndarray of int32, shape (chunk.n_tokens,)
            Ids aligned with ``chunk.codes``; -1 marks out-of-vocabulary tokens.
        """
        if len(chunk.uniques) == 0:
            return np.zeros(len(chunk.codes), np.int32)
        table = self._index.get_indexer(chunk.uniques).astype(np.int32)
        return table[chunk.codes]

    def decode(self, ids) -> list[str]:
        """Map ids back to tokens; ids must be in ``[0, len(self))``."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return []
        if ids.dtype.kind not in "iu":
            raise InputError(f"ids must be integers, got dtype {ids.dtype}.")
        ids = ids.ravel()
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= len(self):
            bad = low if low < 0 else high
            hint = " (-1 marks out-of-vocabulary tokens)" if bad == -1 else ""
            raise InputError(
                f"id {bad} is out of range for a vocabulary of {len(self)} "
                f"words{hint}; drop such ids before decoding."
            )
        return self._index.to_numpy()[ids].tolist()

    # -- conversion -------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame with columns ``token`` and ``count``, indexed by id."""
        import pandas as pd

        return pd.DataFrame(
            {
                "token": pd.Series(self.tokens, dtype=object),
                "count": pd.Series(self.counts, dtype=np.int64),
            }
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as UTF-8 TSV, ``token<TAB>count`` per line, in id order.

        The file is written atomically (a temporary file renamed into place),
        compressed when its name ends in ``.gz``, ``.bz2`` or ``.xz``.
        """
        bad = next(
            (t for t in self.tokens if "\t" in t or "\n" in t or "\r" in t), None
        )
        if bad is not None:
            raise InputError(
                f"token {bad!r} contains a tab or line break and cannot be saved "
                "as TSV; clean the pre-tokenized input."
            )
        lines = [
            f"{token}\t{count}\n"
            for token, count in zip(self.tokens, self.counts.tolist(), strict=True)
        ]
        with atomic_write(
            path, "w", compress=True, encoding="utf-8", newline="\n"
        ) as fh:
            fh.writelines(lines)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary file (UTF-8, optionally ``.gz``/``.bz2``/``.xz``).

        Three formats are read, told apart by the first line (every other
        line must then have the same form):

        * ``token<TAB>count``: what :meth:`save` and ``cooc vocab`` write;
          the only format whose tokens may hold spaces.
        * ``word count``, one space between: GloVe's ``vocab_count`` output.
        * one word per line, without counts: a plain word list. The counts
          are all 0 (they are unknown): the ids follow the file, which is all
          a fixed vocabulary needs, but frequent-word subsampling (which
          needs counts) refuses such a vocabulary.

        The ids follow the file's order in every format. ``\\r\\n`` line ends
        and a UTF-8 byte-order mark are accepted.

        Raises
        ------
        ValueError
            Naming the file and line of the first malformed, mixed-format or
            duplicated entry.
        """
        name = os.fspath(path)
        try:
            text = read_all_bytes(path).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(
                f"{name}: not valid UTF-8 ({err.reason}); "
                "vocabulary files are UTF-8 TSV."
            ) from None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [line.removesuffix("\r") for line in lines]
        kind = _vocabulary_format(lines[0]) if lines else "tsv"
        if kind is None:
            raise InputError(
                f"{name}:1: expected 'token<TAB>count' (cooc), 'word count' "
                "(GloVe's vocab_count) or one word per line, got "
                f"{lines[0] + chr(10)!r}."
            )
        parse = _LINE_PARSERS[kind]
        tokens: list[str] = []
        counts: list[int] = []
        seen: dict[str, int] = {}
        for lineno, line in enumerate(lines, start=1):
            entry = parse(line)
            if entry is None:
                raise InputError(
                    f"{name}:{lineno}: {_EXPECTED[kind]}, got "
                    f"{line + chr(10)!r}{_HINTS[kind]}"
                )
            token, count = entry
            if token in seen:
                raise InputError(
                    f"{name}:{lineno}: token {token!r} repeats "
                    f"line {seen[token]}; tokens must be distinct."
                )
            if count is not None and not 0 <= count < 2**63:
                raise InputError(
                    f"{name}:{lineno}: count {count} of {token!r} is outside "
                    "0..2**63-1 (a 64-bit count)."
                )
            seen[token] = lineno
            tokens.append(token)
            counts.append(count)
        return cls(tokens, np.array(counts, dtype=np.int64))

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Keep tokens with ``count >= min_count``, most frequent first.

        Parameters
        ----------
        counts : mapping of str to int
            For example a :class:`collections.Counter` or :func:`count_tokens`.
        min_count : int, default=1
        max_size : int, default=None
            Keep at most this many tokens (the most frequent); None keeps all.

        Returns
        -------
        Vocabulary
            Ordered by count descending, then token ascending.
        """
        check_vocabulary_params(min_count, max_size)
        if not isinstance(counts, Mapping):
            raise InputTypeError(
                f"counts must be a mapping of token to count, got "
                f"{type(counts).__name__}."
            )
        tokens = np.array(list(counts.keys()), dtype=object)
        values = np.array(list(counts.values()))
        if len(values) and values.dtype.kind not in "iu":
            raise InputError(
                f"counts must be integers, got dtype {values.dtype}; "
                "round or cast them first."
            )
        return _select(tokens, values.astype(np.int64), min_count, max_size)


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _tsv_entry(line: str):
    fields = line.split("\t")
    if len(fields) != 2 or not _is_count(fields[1]):
        return None
    return fields[0], int(fields[1])


def _glove_entry(line: str):
    fields = line.split(" ")
    if len(fields) != 2 or not fields[0] or "\t" in line or not _is_count(fields[1]):
        return None
    return fields[0], int(fields[1])


def _word_entry(line: str):
    if not line or " " in line or "\t" in line:
        return None
    return line, 0


_LINE_PARSERS = {"tsv": _tsv_entry, "glove": _glove_entry, "words": _word_entry}
_EXPECTED = {
    "tsv": "expected 'token<TAB>count' with a count >= 0",
    "glove": "expected 'word count' (one space, a count >= 0) as on line 1, "
    "GloVe's vocab_count format",
    "words": "expected one word (no space or tab) as on line 1, a word list",
}
_HINTS = {
    "tsv": "; is this a vocabulary file written by cooc?",
    "glove": "; all lines must have the same form.",
    "words": "; all lines must have the same form.",
}


def _vocabulary_format(first_line: str) -> str | None:
    """``"tsv"``, ``"glove"`` or ``"words"``: the format a vocabulary file's
    first line is in (None when it is in none)."""
    if "\t" in first_line:
        return "tsv"
    if _glove_entry(first_line) is not None:
        return "glove"
    if _word_entry(first_line) is not None:
        return "words"
    return None


def check_vocabulary_params(min_count, max_size) -> None:
    """Raise a one-line ``ValueError`` unless ``min_count`` is an integer >= 1
    and ``max_size`` one >= 1 or None."""
    if (
        isinstance(min_count, bool)
        or not isinstance(min_count, numbers.Integral)
        or min_count < 1
    ):
        raise InputError(
            f"{min_count=!r} must be an integer >= 1; use min_count=1 to keep "
            "every token."
        )
    if max_size is not None and (
        isinstance(max_size, bool)
        or not isinstance(max_size, numbers.Integral)
        or max_size < 1
    ):
        raise InputError(
            f"{max_size=!r} must be an integer >= 1 or None; use None for no limit."
        )


def _select(tokens: np.ndarray, counts: np.ndarray, min_count, max_size) -> Vocabulary:
    """Filter by ``min_count``, order by (-count, token), truncate to ``max_size``."""
    keep = counts >= min_count
    tokens, counts = tokens[keep], counts[keep]
    order = _id_order(tokens, counts, max_size)
    return Vocabulary(tokens[order].tolist(), counts[order])


def _id_order(tokens: np.ndarray, counts: np.ndarray, max_size) -> np.ndarray:
    """Positions of the tokens in id order: (-count, token), at most ``max_size``."""
    import pandas as pd

    # Rank tokens by code point order (Python's sort is fast on str), then
    # sort stably by count: equivalent to sorting on (-count, token).
    ranks = pd.Index(sorted(tokens.tolist()), dtype=object).get_indexer(tokens)
    order = np.lexsort((ranks, -counts))
    if max_size is not None:
        order = order[:max_size]
    return order


def vocabulary_from_table(table, *, min_count: int = 1, max_size: int | None = None):
    """The vocabulary of a :class:`cooc.tokenstream.TokenTable`'s counts.

    Returns ``(vocabulary, entries)``: ``entries[i]`` is the table entry of
    word id ``i``. Same selection and order as :func:`build_vocabulary`; Python
    strings are made only for the tokens that reach ``min_count``.
    """
    # numba's kernels: 0.2 s of start-up that readers of .cooc files skip
    from cooc import _kernels as K

    check_vocabulary_params(min_count, max_size)
    counts = table.counts
    candidates = np.flatnonzero(counts >= min_count)
    # By token (compiled merge sort on the bytes), then stably by count.
    by_token = K.sort_entries_by_bytes(table.arena, table.start, table.len, candidates)
    entries = by_token[np.argsort(-counts[by_token], kind="stable")][:max_size]
    vocab = Vocabulary._trusted(table.tokens(entries), counts[entries])
    if len(vocab) == 0:
        seen = np.count_nonzero(counts)
        if seen == 0:
            raise EmptyCorpusError.no_tokens()
        raise EmptyCorpusError.below_min_count(min_count, seen, counts.max())
    return vocab, entries


def count_arrays(chunks: Iterable[TokenChunk]) -> tuple[np.ndarray, np.ndarray]:
    """Sum token counts over chunks: distinct tokens (object) and int64 counts."""
    keys: list[np.ndarray] = []
    values: list[np.ndarray] = []
    pending = merged = 0
    for chunk in chunks:
        if not isinstance(chunk, TokenChunk):
            raise InputTypeError(
                f"expected TokenChunk objects, got {type(chunk).__name__}; "
                "build them with cooc.corpus.iter_token_chunks or "
                "chunks_from_documents."
            )
        keys.append(chunk.uniques)
        values.append(np.bincount(chunk.codes, minlength=len(chunk.uniques)))
        pending += len(chunk.uniques)
        if pending > max(2 * merged, _MERGE_AT):
            tokens, counts = merge_counts(keys, values)
            keys, values = [tokens], [counts]
            pending = merged = len(tokens)
    tokens, counts = merge_counts(keys, values)
    nonzero = counts > 0
    return tokens[nonzero], counts[nonzero]


def merge_counts(keys, values) -> tuple[np.ndarray, np.ndarray]:
    """Add up token counts given in parts: ``keys[i]`` the tokens of part ``i``
    (distinct within it), ``values[i]`` their counts; distinct tokens (object)
    and int64 counts back, in order of first appearance."""
    import pandas as pd

    if not keys:
        return np.zeros(0, object), np.zeros(0, np.int64)
    if len(keys) == 1:
        return np.asarray(keys[0], dtype=object), values[0].astype(np.int64)
    codes, tokens = pd.factorize(np.concatenate(keys).astype(object, copy=False))
    counts = np.zeros(len(tokens), np.int64)
    np.add.at(counts, codes, np.concatenate(values).astype(np.int64, copy=False))
    return np.asarray(tokens, dtype=object), counts


def count_tokens(chunks: Iterable[TokenChunk]) -> dict[str, int]:
    """Count each distinct token over a stream of chunks.

    Parameters
    ----------
    chunks : iterable of TokenChunk

    Returns
    -------
    dict of str to int
        Tokens in order of first appearance.

    Notes
    -----
    Each chunk is counted with :func:`numpy.bincount` over its codes; chunks are
    merged through :func:`pandas.factorize` over their distinct tokens, so the
    cost is linear in tokens with no Python loop per token.
    """
    tokens, counts = count_arrays(chunks)
    return dict(zip(tokens.tolist(), counts.tolist(), strict=True))


def build_vocabulary(
    source,
    *,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
) -> Vocabulary:
    """Count a corpus and build its vocabulary.

    Parameters
    ----------
    source : iterable of TokenChunk, or iterable of documents
        Chunks (e.g. from :func:`cooc.corpus.iter_token_chunks`), or raw
        documents (str) or pre-tokenized documents (lists of str), which are
        tokenized with ``tokenizer`` and ``lowercase``.
    min_count : int, default=1
        Drop tokens seen fewer times.
    max_size : int, default=None
        Keep at most this many tokens (the most frequent).
    tokenizer : {"word", "whitespace"}, default="word"
        Used only for raw documents.
    lowercase : bool, default=True
        Used only for raw documents.

    Returns
    -------
    Vocabulary
        Ordered by count descending, then token ascending.

    Raises
    ------
    ValueError
        If no token reaches ``min_count``.

    Examples
    --------
    >>> vocab = build_vocabulary(["the cat", "the dog"])
    >>> vocab.tokens, vocab.counts.tolist()
    (['the', 'cat', 'dog'], [2, 1, 1])
    """
    check_vocabulary_params(min_count, max_size)
    if isinstance(source, str | bytes | os.PathLike):
        raise InputTypeError(
            "source must be an iterable of TokenChunk or of documents, not a single "
            "str or path; to read files pass cooc.corpus.iter_token_chunks(paths)."
        )
    if isinstance(source, TokenChunk):
        source = [source]
    iterator = iter(source)
    first = next(iterator, None)
    if first is None:
        chunks: Iterable[TokenChunk] = []
    elif isinstance(first, TokenChunk):
        chunks = itertools.chain([first], iterator)
    else:
        chunks = chunks_from_documents(
            itertools.chain([first], iterator), tokenizer=tokenizer, lowercase=lowercase
        )
    tokens, counts = count_arrays(chunks)
    return vocabulary_from_counts(
        tokens, counts, min_count=min_count, max_size=max_size
    )


def vocabulary_from_counts(
    tokens, counts, *, min_count: int = 1, max_size: int | None = None
) -> Vocabulary:
    """The vocabulary of summed counts (:func:`count_arrays`, :func:`merge_counts`):
    the selection and order of :func:`build_vocabulary`, and its errors."""
    check_vocabulary_params(min_count, max_size)
    vocab = _select(tokens, counts, min_count, max_size)
    if len(vocab) == 0:
        if len(tokens) == 0:
            raise EmptyCorpusError.no_tokens()
        raise EmptyCorpusError.below_min_count(min_count, len(tokens), counts.max())
    return vocab


def build_vocabulary_from_files(
    paths,
    *,
    min_count: int = 1,
    max_size: int | None = None,
    tokenizer: str = "word",
    lowercase: bool = True,
    column: str | None = None,
    encoding_errors: str = "strict",
    n_jobs: int | None = None,
    chunk_size: int = 1 << 24,
    progress=None,
    documents: str = "line",
    phrases=None,
) -> Vocabulary:
    """Count the words of corpus files and build their vocabulary.

    The same vocabulary as ``build_vocabulary(iter_token_chunks(paths, ...))``,
    counted straight from the files' bytes in compiled code on ``n_jobs``
    threads (see :mod:`cooc.tokenstream`), reading blocks of about
    ``chunk_size`` bytes. ``progress(n_tokens)`` follows every block.
    ``documents`` is as for :func:`cooc.corpus.iter_documents` (it changes
    no count, only what is refused: table inputs take only ``"line"``).
    ``phrases`` (a ``cooc phrases`` TSV, a DataFrame with ``word1, word2[,
    pass]`` or a :class:`cooc.phrasetable.PhraseTable`) are joined before
    the words are counted, as :func:`cooc.cooccurrence.build_cooccurrence`
    joins them: a second pass over the files counts the joined tokens, so
    the vocabulary is the one ``cooc build --phrases`` makes.

    Examples
    --------
    >>> from cooc.datasets import demo_corpus_paths
    >>> vocab = build_vocabulary_from_files(demo_corpus_paths(), min_count=50)
    >>> vocab.tokens[:3], len(vocab)
    (['the', 'of', 'and'], 4412)
    """
    from cooc.phrasetable import as_phrase_table

    # the compiled tokenizer: numba's 0.2 s of start-up (see vocabulary_from_table)
    from cooc.tokenstream import merge_tables, scan_corpus

    check_vocabulary_params(min_count, max_size)
    check_document_paths(paths, documents)
    phrases = as_phrase_table(phrases)
    read = dict(
        tokenizer=tokenizer,
        lowercase=lowercase,
        column=column,
        encoding_errors=encoding_errors,
        chunk_size=chunk_size,
        documents=documents,
        n_jobs=n_jobs,
    )
    tables = scan_corpus(paths, **read, progress=progress)
    merge_tables(tables)
    table = tables[0]
    if phrases is not None and len(phrases):
        _count_joined(paths, table, phrases, read)
    return vocabulary_from_table(table, min_count=min_count, max_size=max_size)[0]


def _count_joined(paths, table, phrases, read) -> None:
    """Count ``table``'s tokens again with the phrases joined: a second scan
    coded by the (fixed) table of the first, which holds every word; the
    joined tokens are added to it first."""
    from cooc.tokenstream import TokenTable, scan_corpus

    entries = table.merge(TokenTable.from_tokens(list(phrases.words)))
    plan = phrases.plan(entries, len(table))
    counts = np.zeros(len(table), np.int64)

    def count(part):
        codes, _ = phrases.join_codes(part.codes, part.offsets, plan)
        counts[:] += np.bincount(codes[codes >= 0], minlength=counts.shape[0])

    scan_corpus(paths, **read, table=table, on_part=count)
    table.count[: counts.shape[0]] = counts
