"""The thread helpers of cooc.parallel against plain loops."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.parallel import block_map, n_threads, row_cuts, row_pieces


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), max_size=9),
    threads=st.integers(0, 4),
)
def test_block_map_is_the_loop_in_order(blocks, threads):
    expected = [a * 3 + b for a, b in blocks]
    assert block_map(lambda a, b: a * 3 + b, blocks, n_threads=threads) == expected
    with ThreadPoolExecutor(2) as pool:
        assert block_map(lambda a, b: a * 3 + b, blocks, pool=pool) == expected


def test_block_map_uses_threads_and_passes_errors_on():
    seen = set()

    def fn(i):
        seen.add(threading.get_ident())
        return i

    assert block_map(fn, [(i,) for i in range(1)], n_threads=4) == [0]
    assert seen == {threading.get_ident()}  # one block: no pool
    seen.clear()
    barrier = threading.Barrier(2, timeout=10)

    def meet(i):
        barrier.wait()  # only returns when two blocks run at once
        return i

    assert block_map(meet, [(0,), (1,)], n_threads=2) == [0, 1]

    def boom(i):
        raise KeyError(i)

    with pytest.raises(KeyError):
        block_map(boom, [(0,), (1,)], n_threads=2)


def test_n_threads_counts_back_from_the_cores():
    cores = n_threads(None)
    assert cores >= 1 and n_threads(0) == cores
    assert n_threads(-1) == cores and n_threads(3) == 3
    assert n_threads(-cores - 5) == 1


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 20), min_size=1, max_size=30),
    n=st.integers(1, 8),
)
def test_row_cuts_and_pieces_cover_every_row_once(lengths, n):
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    X = sp.csr_matrix(
        (np.ones(indptr[-1]), np.zeros(indptr[-1], dtype=np.int32), indptr),
        shape=(len(lengths), 1),
    )
    cuts = row_cuts(X, n)
    assert cuts[0] == 0 and cuts[-1] == len(lengths)
    assert np.all(np.diff(cuts) > 0) and len(cuts) - 1 <= n
    pieces = row_pieces(indptr, n)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(lengths)
    assert all(a < b for a, b in pieces)
    assert all(p[1] == q[0] for p, q in zip(pieces, pieces[1:]))
