"""The exceptions cooc raises about its input (no cooc imports).

Every check of an argument, a file or a corpus raises :class:`InputError`, or
one of its subclasses that is also the built-in exception a Python caller
expects (``TypeError`` for a wrong type, ``KeyError`` for an unknown word,
``ImportError`` for a missing optional dependency). Callers catch the built-in
class as they always have; the command line catches :class:`InputError` and
prints its one-line message with exit code 2. Anything else that escapes is a
bug: the command line exits 1 and shows the traceback with ``--debug`` or
``COOC_DEBUG=1``.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingDependencyError",
    "UnknownWordError",
]


class InputError(ValueError):
    """Bad input: an argument, a file or a corpus cooc cannot use, said in one line."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type."""


class UnknownWordError(InputError, KeyError):
    """A word that is not in the vocabulary or the vectors (a ``KeyError``, as
    in gensim and dicts)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(InputError, ImportError):
    """A feature needs an optional dependency that is not installed; the
    message says which extra to install."""
