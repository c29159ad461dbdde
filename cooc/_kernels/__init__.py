"""Every numba kernel of cooc, and the run stack over two of them.

* :mod:`cooc._kernels.counting`: window counting over id streams, the sort and
  merge of pair runs, CSR assembly, sparse products and PPMI (its docstring
  holds the array contracts of the counting kernels).
* :mod:`cooc._kernels.runs`: the sorted runs of an in-memory counter, kept
  few and merged down (plain Python over ``sort_reduce_pairs`` and
  ``merge_runs``; the one spill-and-merge loop of the window and spatial
  counters).
* :mod:`cooc._kernels.spill`: compact encoding of sorted pair runs on disk,
  their k-way merge and the routing of merged pairs to output rows (the
  out-of-core build).
* :mod:`cooc._kernels.streaming`: checking and weighting row blocks of a
  ``.cooc`` file read piece by piece, and their products with column panels
  of a dense operand (the streaming embedding; imported by
  :mod:`cooc.streaming` from there).
* :mod:`cooc._kernels.text`: tokenizing UTF-8 bytes and counting the distinct
  tokens in an open-addressing hash table, without a Python object per token.

Each kernel lives in the same file as the jitted helpers it calls (numba's
cache does not notice edits to functions in other files).
"""

import numpy as np

from cooc._kernels.counting import (
    MODE_CANONICAL,
    MODE_CENTER,
    MODE_ORDERED,
    PANEL,
    compact_rows,
    count_spatial_pairs,
    count_window_pairs,
    csr_dense_panel,
    csr_sparse_sign,
    divide_counts_inplace,
    emit_csr_entries,
    filter_tokens,
    merge_runs,
    ppmi_values,
    sample_windows,
    sort_reduce_pairs,
)
from cooc._kernels.runs import RunStack, merge_down, merge_pair, sort_buffer
from cooc._kernels.spill import (
    MAX_PAIR_BYTES,
    assemble_rows,
    decode_pairs,
    dense_block_run,
    encode_pairs,
    merge_pieces,
    route_entries,
)
from cooc._kernels.text import (
    TOKEN_STATUS_FALLBACK,
    TOKEN_STATUS_OK,
    count_codes,
    gather_tokens,
    merge_token_tables,
    rehash_token_table,
    sort_entries_by_bytes,
    tokenize_bytes,
)

__all__ = [
    "MAX_PAIR_BYTES",
    "MODE_CANONICAL",
    "MODE_CENTER",
    "MODE_ORDERED",
    "PANEL",
    "TOKEN_STATUS_FALLBACK",
    "TOKEN_STATUS_OK",
    "RunStack",
    "assemble_rows",
    "compact_rows",
    "count_codes",
    "count_spatial_pairs",
    "count_window_pairs",
    "csr_dense_panel",
    "csr_sparse_sign",
    "decode_pairs",
    "dense_block_run",
    "divide_counts_inplace",
    "emit_csr_entries",
    "encode_pairs",
    "filter_tokens",
    "gather_tokens",
    "merge_down",
    "merge_pair",
    "merge_pieces",
    "merge_runs",
    "merge_token_tables",
    "ppmi_values",
    "rehash_token_table",
    "route_entries",
    "sample_windows",
    "sort_buffer",
    "sort_entries_by_bytes",
    "sort_reduce_pairs",
    "tokenize_bytes",
]


def start() -> None:
    """Get numba's compiler ready and load one cached kernel.

    The first call of any compiled function in a process sets up numba's
    typing and code-generation state (about half a second here, whatever the
    function); commands call this first so that this one-time cost is
    reported as start-up rather than charged to their first stage.
    """
    divide_counts_inplace(np.zeros(1, dtype=np.int64), 1.0)
