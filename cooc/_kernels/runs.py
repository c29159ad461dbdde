"""Sorted pair runs, kept few and merged down: the one spill-and-merge loop
of the in-memory counters (plain Python over the kernels of
:mod:`cooc._kernels.counting`; no numba code here).

A *run* is ``(keys, values)``, two ``int64`` arrays of one length, keys
strictly increasing (see ``sort_reduce_pairs``). A counter fills a buffer of
pair words, turns it into a run with :meth:`RunStack.add_buffer` and goes on
with a fresh buffer; the stack merges its newest runs whenever the one below
is not more than twice as long, so run lengths decrease geometrically: a
stack of ``n`` pairs holds ``O(log n)`` runs and a pair is merged ``O(log n)``
times. :func:`merge_down` merges any list of runs (the stacks of several
threads, or slices of them) down to a few, smallest two first.

Counts are integer sums, so the order of the merges never changes a result.
Every run made here owns its arrays and is cut to its length in place
(``ndarray.resize``), which gives the unused tail back to the allocator.
"""

from __future__ import annotations

import numpy as np

from cooc._kernels.counting import merge_runs, sort_reduce_pairs

__all__ = ["RunStack", "merge_down", "merge_pair", "sort_buffer"]


def _shrink(keys, vals, m):
    """``(keys, vals)`` cut to ``m`` entries in place (both own their data)."""
    keys.resize(m, refcheck=False)
    vals.resize(m, refcheck=False)
    return keys, vals


def sort_buffer(buf, n, weights, d_bits, key_bits):
    """The run of the pair words ``buf[:n]`` (see ``sort_reduce_pairs``).

    ``buf`` (``int64``, owning its data) becomes the run's keys, shrunk in
    place: the caller hands it over and takes a new buffer (no view of ``buf``
    may outlive this call).
    """
    tmp = np.empty(n, dtype=np.int64)
    m = sort_reduce_pairs(buf, tmp, n, weights, d_bits, key_bits)
    return _shrink(buf, tmp, m)


def merge_pair(a, b):
    """The runs ``a`` and ``b`` merged into a new run, equal keys summed."""
    n = a[0].shape[0] + b[0].shape[0]
    keys = np.empty(n, dtype=np.int64)
    vals = np.empty(n, dtype=np.int64)
    m = merge_runs(a[0], a[1], b[0], b[1], keys, vals)
    return _shrink(keys, vals, m)


def merge_down(runs: list, keep=1) -> list:
    """Merge the runs of the list ``runs`` in place, the two shortest first,
    until at most ``keep`` are left; returns ``runs``.

    The runs merged leave the list as they are merged (so they are freed then
    if nothing else holds them); the runs themselves are not changed.
    """
    while len(runs) > max(keep, 1):
        runs.sort(key=lambda run: run[0].shape[0])
        runs[:2] = [merge_pair(runs[0], runs[1])]
    return runs


class RunStack:
    """The sorted runs of one counter (one thread), lengths decreasing
    geometrically from the bottom (the oldest) to the top.

    ``runs`` is a plain list; a stack built from given runs keeps them as
    they are and only keeps the rule for the runs added on top.
    """

    __slots__ = ("runs",)

    def __init__(self, runs=()):
        self.runs = list(runs)

    def __len__(self):
        return len(self.runs)

    def __iter__(self):
        return iter(self.runs)

    def push(self, run) -> None:
        """Add ``run`` on top and merge down (see :meth:`_settle`)."""
        self.runs.append(run)
        del run
        self._settle()

    def add_buffer(self, buffers, i, n, weights, d_bits, key_bits) -> None:
        """Push the run of the pair words ``buffers[i][:n]`` (nothing when
        ``n`` is 0).

        The buffer is taken out of the list ``buffers`` and becomes the run
        (see :func:`sort_buffer`); a fresh one of the same size takes its
        place (its pages cost nothing until written). Taking it from the list
        leaves the caller no reference to it, so each run merged is freed as
        soon as it is merged, as the memory budgets of the counters assume.
        """
        if n == 0:
            return
        buf = buffers[i]
        buffers[i] = np.empty_like(buf)
        self.runs.append(sort_buffer(buf, n, weights, d_bits, key_bits))
        del buf
        self._settle()

    def _settle(self) -> None:
        """Merge the top two runs while the lower is not more than twice as
        long as the upper."""
        runs = self.runs
        while len(runs) >= 2 and runs[-2][0].shape[0] <= 2 * runs[-1][0].shape[0]:
            b = runs.pop()
            a = runs.pop()
            runs.append(merge_pair(a, b))
            del a, b

    def take(self) -> list:
        """Every run, oldest first; the stack is left empty."""
        runs, self.runs = self.runs, []
        return runs

    def nbytes(self) -> int:
        """Bytes held by the runs."""
        return sum(keys.nbytes + vals.nbytes for keys, vals in self.runs)
