"""The pieces of the out-of-core build: run encoding, k-way merge, routing,
the presized zip writer and CRC combination (the whole build is compared with
the in-memory one in test_distributed.py)."""

import io
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc import _kernels as K
from cooc._zip import PresizedZip, crc32_combine

E = np.empty(0, dtype=np.int64)


def sorted_run(draw_keys, draw_vals):
    keys = np.array(sorted(set(draw_keys)), dtype=np.int64)
    vals = np.array(draw_vals[: keys.shape[0]], dtype=np.int64)
    return keys[: vals.shape[0]], vals


runs = st.tuples(
    st.lists(st.integers(0, 2**50), max_size=300),
    st.lists(st.integers(1, 2**40), min_size=300, max_size=300),
).map(lambda kv: sorted_run(*kv))


@settings(max_examples=60, deadline=None)
@given(run=runs, block=st.sampled_from([1, 3, 64, 1 << 62]), lo=st.integers(0, 2**50))
def test_encoding_round_trips_from_any_block(run, block, lo):
    keys, vals = run
    n = keys.shape[0]
    out = np.empty(K.MAX_PAIR_BYTES * n, dtype=np.uint8)
    n_blocks = n // block + 1
    idx_k = np.zeros(n_blocks, dtype=np.int64)
    idx_o = np.zeros(n_blocks, dtype=np.int64)
    # Encoded in two calls (the second goes on from the first's last key).
    half = n // 2
    a = K.encode_pairs(keys[:half], vals[:half], 0, -1, block, out, idx_k, idx_o, 0)
    prev = int(keys[half - 1]) if half else -1
    b = K.encode_pairs(
        keys[half:], vals[half:], half, prev, block, out[a:], idx_k, idx_o, a
    )
    buf = out[: a + b]
    assert a + b <= K.MAX_PAIR_BYTES * n
    got_k = np.empty(n, dtype=np.int64)
    got_v = np.empty(n, dtype=np.int64)
    m = K.decode_pairs(buf, 0, -1, block, 0, 1 << 62, got_k, got_v)
    assert m == n
    np.testing.assert_array_equal(got_k[:m], keys)
    np.testing.assert_array_equal(got_v[:m], vals)
    # Any block decodes on its own, and a key range is cut exactly.
    if block < n:
        b0 = n // block // 2
        start = int(idx_o[b0])
        assert idx_k[b0] == keys[b0 * block]
        m = K.decode_pairs(
            buf[start:], b0 * block, 0, block, lo, lo + 2**49, got_k, got_v
        )
        tail = keys[b0 * block :]
        sel = (tail >= lo) & (tail < lo + 2**49)
        np.testing.assert_array_equal(got_k[:m], tail[sel])
        np.testing.assert_array_equal(got_v[:m], vals[b0 * block :][sel])


def test_damaged_encodings_are_refused():
    keys = np.array([3, 7, 300], dtype=np.int64)
    vals = np.array([1, 2, 3], dtype=np.int64)
    out = np.empty(60, dtype=np.uint8)
    n = K.encode_pairs(keys, vals, 0, -1, 1 << 62, out, E, E, 0)
    k = np.empty(3, dtype=np.int64)
    v = np.empty(3, dtype=np.int64)
    assert K.decode_pairs(out[:n], 0, -1, 1 << 62, 0, 1 << 62, k, v) == 3
    assert K.decode_pairs(out[: n - 1], 0, -1, 1 << 62, 0, 1 << 62, k, v) == -1
    zero_delta = out[:n].copy()
    zero_delta[2] = 0  # the second key's delta: 0 (keys must increase)
    assert K.decode_pairs(zero_delta, 0, -1, 1 << 62, 0, 1 << 62, k, v) == -1
    too_long = np.full(12, 0xFF, dtype=np.uint8)
    assert K.decode_pairs(too_long, 0, -1, 1 << 62, 0, 1 << 62, k, v) == -1
    small = np.empty(2, dtype=np.int64)
    assert K.decode_pairs(out[:n], 0, -1, 1 << 62, 0, 1 << 62, small, small) == -1


@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(runs, max_size=9))
def test_merge_pieces_sums_like_a_dictionary(pieces):
    keys = np.concatenate([p[0] for p in pieces] or [E])
    vals = np.concatenate([p[1] for p in pieces] or [E])
    lens = np.array([p[0].shape[0] for p in pieces], dtype=np.int64)
    ends = np.cumsum(lens)
    out_k = np.empty(keys.shape[0], dtype=np.int64)
    out_v = np.empty(keys.shape[0], dtype=np.int64)
    m = K.merge_pieces(keys, vals, ends - lens, ends, out_k, out_v)
    expected = {}
    for k, v in zip(keys.tolist(), vals.tolist(), strict=True):
        expected[k] = expected.get(k, 0) + v
    assert out_k[:m].tolist() == sorted(expected)
    assert out_v[:m].tolist() == [expected[k] for k in sorted(expected)]


@pytest.mark.parametrize("mode", [K.MODE_CANONICAL, K.MODE_ORDERED, K.MODE_CENTER])
def test_routing_and_assembly_match_a_brute_force_layout(mode):
    rng = np.random.default_rng(1)
    n = 9
    n_cols = n
    out_cols = 2 * n if mode == K.MODE_ORDERED else n
    stored = {}
    for _ in range(40):
        r, c = rng.integers(0, n, 2)
        if mode == K.MODE_CANONICAL:
            r, c = min(r, c), max(r, c)
        stored[int(r) * n_cols + int(c)] = int(rng.integers(1, 9))
    keys = np.array(sorted(stored), dtype=np.int64)
    vals = np.array([stored[k] for k in keys.tolist()], dtype=np.int64)
    dense = np.zeros((n, out_cols), dtype=np.int64)
    for k, v in stored.items():
        r, c = divmod(k, n_cols)
        if mode == K.MODE_CANONICAL:
            dense[r, c] += v
            dense[c, r] += v
        elif mode == K.MODE_ORDERED:
            dense[r, c + n] += v
            dense[c, r] += v
        else:
            dense[r, c] += v
    # Three buckets of rows: [0, 2), [2, 6), [6, 9).
    buckets = np.array([0, 2, 6, 9])
    bucket_of = np.repeat(np.arange(3, dtype=np.int32), np.diff(buckets))
    m = keys.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    own_k, own_v = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    mir_k, mir_v = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    mir_starts = np.zeros(4, dtype=np.int64)
    n_mir = K.route_entries(
        keys, vals, mode, n_cols, out_cols, n, bucket_of, 3, counts,
        own_k, own_v, mir_k, mir_v, mir_starts,
    )  # fmt: skip
    np.testing.assert_array_equal(counts, np.count_nonzero(dense, axis=1))
    assert n_mir == mir_starts[-1] == counts.sum() - m
    for b in range(3):
        dest = mir_k[mir_starts[b] : mir_starts[b + 1]] % n_cols
        assert np.all((dest >= buckets[b]) & (dest < buckets[b + 1]))
    # Assemble each bucket's rows from its own and mirror entries.
    indptr = np.concatenate([[0], np.cumsum(counts)])
    rows, cols = np.nonzero(dense)
    for b in range(3):
        lo, hi = buckets[b], buckets[b + 1]
        a, z = np.searchsorted(own_k[:m], [lo * out_cols, hi * out_cols])
        row_ptr = indptr[lo : hi + 1] - indptr[lo]
        indices = np.empty(row_ptr[-1], dtype=np.int32)
        data = np.empty(row_ptr[-1], dtype=np.float64)
        ok = K.assemble_rows(
            own_k[a:z], own_v[a:z],
            mir_k[mir_starts[b] : mir_starts[b + 1]],
            mir_v[mir_starts[b] : mir_starts[b + 1]],
            n_cols, out_cols, lo, row_ptr, 2.0,
            np.empty(hi - lo, dtype=np.int64), indices, data,
        )  # fmt: skip
        assert ok
        sel = (rows >= lo) & (rows < hi)
        np.testing.assert_array_equal(indices, cols[sel])
        np.testing.assert_array_equal(data, dense[rows[sel], cols[sel]] / 2.0)
        # Row lengths that do not match the entries are refused.
        if row_ptr[-1]:
            short = row_ptr.copy()
            short[-1] -= 1
            assert not K.assemble_rows(
                own_k[a:z], own_v[a:z],
                mir_k[mir_starts[b] : mir_starts[b + 1]],
                mir_v[mir_starts[b] : mir_starts[b + 1]],
                n_cols, out_cols, lo, short, 2.0,
                np.empty(hi - lo, dtype=np.int64), indices, data,
            )  # fmt: skip


@pytest.mark.parametrize(
    "la,lb", [(0, 0), (0, 9), (9, 0), (1, 1), (1000, 4097), (3, 1 << 20)]
)
def test_crc32_combine_equals_the_crc_of_the_concatenation(la, lb):
    rng = np.random.default_rng(la + lb)
    a = rng.integers(0, 256, la, dtype=np.uint8).tobytes()
    b = rng.integers(0, 256, lb, dtype=np.uint8).tobytes()
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), lb) == zlib.crc32(a + b)


def test_presized_zip_is_read_by_zipfile_and_numpy(tmp_path):
    def npy(arr):
        bio = io.BytesIO()
        np.lib.format.write_array(bio, arr)
        return bio.getvalue()

    x = npy(np.arange(1000, dtype=np.int64))
    y = npy(np.linspace(0, 1, 77))
    path = tmp_path / "a.zip"
    with open(path, "wb") as fh:
        zf = PresizedZip(fh)
        at_x = zf.reserve("x.npy", len(x))
        at_y = zf.reserve("y.npy", len(y))
        # Bodies written out of order and in pieces; CRCs joined.
        zf.write_at(at_y, y)
        zf.write_at(at_x + 100, x[100:])
        zf.write_at(at_x, x[:100])
        zf.set_crc(
            "x.npy",
            crc32_combine(zlib.crc32(x[:100]), zlib.crc32(x[100:]), len(x) - 100),
        )
        zf.set_crc("y.npy", zlib.crc32(y))
        zf.add("z.npy", npy(np.array([3, 1, 2])))
        zf.close()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.namelist() == ["x.npy", "y.npy", "z.npy"]
    with np.load(path) as d:
        np.testing.assert_array_equal(d["x"], np.arange(1000))
        np.testing.assert_array_equal(d["y"], np.linspace(0, 1, 77))
        np.testing.assert_array_equal(d["z"], [3, 1, 2])


def test_presized_zip_refuses_a_member_without_crc(tmp_path):
    with open(tmp_path / "b.zip", "wb") as fh:
        zf = PresizedZip(fh)
        zf.reserve("x.npy", 10)
        with pytest.raises(RuntimeError, match="no CRC"):
            zf.close()
