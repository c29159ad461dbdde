"""The .cooc file (round trips, damaged or foreign files), atomic writes, export."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import cooc
from cooc.cooccurrence import CoocMatrix, cooccurrence_matrix
from cooc.io import atomic_write, export_pairs, load_cooc, read_cooc_meta, save_cooc
from cooc.vocab import Vocabulary

DOCS = [["a", "b", "a"], [], ["c"], ["b", "c", "b", "b"]]


def _assert_same(loaded: CoocMatrix, original: CoocMatrix):
    assert loaded.matrix.format == "csr"
    assert loaded.matrix.dtype == np.float64
    assert loaded.shape == original.shape
    np.testing.assert_array_equal(loaded.matrix.indptr, original.matrix.indptr)
    np.testing.assert_array_equal(loaded.matrix.indices, original.matrix.indices)
    np.testing.assert_array_equal(
        loaded.matrix.data, original.matrix.data
    )  # bit for bit
    assert loaded.vocabulary == original.vocabulary
    assert loaded.params == original.params
    assert loaded.stats == original.stats


# -- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize("symmetric", [True, False])
def test_round_trip_is_exact(tmp_path, symmetric):
    # window 3 harmonic: weights 1, 1/2, 1/3 are not dyadic, so any text step would show
    original = cooccurrence_matrix(
        DOCS, window_size=3, weighting="harmonic", symmetric=symmetric
    )
    path = tmp_path / "m.cooc"
    original.save(path)
    loaded = load_cooc(path)
    _assert_same(loaded, original)
    assert loaded.shape == ((3, 3) if symmetric else (3, 6))
    assert loaded.symmetric is symmetric
    assert loaded.params["symmetric"] is symmetric
    assert loaded.params["scale"] == 6
    assert loaded.stats["n_docs"] == 4
    assert loaded.stats["n_tokens"] == 8
    assert CoocMatrix.load(path).vocabulary.tokens == ["b", "a", "c"]
    if not symmetric:
        assert loaded.context_names() == ["L:b", "L:a", "L:c", "R:b", "R:a", "R:c"]


def test_round_trip_unicode_tokens_and_hand_made_matrix(tmp_path):
    tokens = [
        "café",
        "日本",
        "naïve",
        "",
        "x y",
    ]  # empty and spaced tokens are legal here
    matrix = sp.csr_matrix(
        np.array(
            [
                [0, 1.5, 0, 0, 0],
                [1.5, 0, 0, 0, 2],
                [0, 0, 0, 0, 0],
                [0, 0, 0, 0.25, 0],
                [0, 2, 0, 0, 0],
            ]
        )
    )
    original = CoocMatrix(
        matrix,
        Vocabulary(tokens, [5, 4, 3, 2, 1]),
        {"window_size": 2, "note": "é"},
        {"n_docs": 7},
    )
    save_cooc(original, tmp_path / "u.cooc")
    _assert_same(load_cooc(tmp_path / "u.cooc"), original)


def test_round_trip_matrix_without_pairs(tmp_path):
    original = cooccurrence_matrix([["lonely"]], window_size=2)
    assert original.nnz == 0
    original.save(tmp_path / "empty.cooc")
    loaded = load_cooc(tmp_path / "empty.cooc")
    _assert_same(loaded, original)
    assert loaded.shape == (1, 1)


def test_token_with_line_break_is_refused_at_save_not_at_load(tmp_path):
    # Regression: tokens are stored newline-joined, so "a\nb" used to save fine and
    # then fail to load ("corrupt .cooc file"). Now save refuses it, naming the token.
    original = cooccurrence_matrix([["a\nb", "c", "a\nb"]], window_size=1)
    path = tmp_path / "nl.cooc"
    with pytest.raises(ValueError, match=r"'a\\nb'"):
        original.save(path)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_read_cooc_meta(tmp_path):
    original = cooccurrence_matrix(DOCS, window_size=1, weighting="uniform")
    original.save(tmp_path / "m.cooc")
    meta = read_cooc_meta(tmp_path / "m.cooc")
    assert meta["format"] == "cooc-matrix"
    assert meta["format_version"] == 1
    assert meta["cooc_version"] == cooc.__version__
    assert meta["shape"] == [3, 3]
    assert meta["nnz"] == 5
    assert meta["n_words"] == 3
    assert meta["params"] == original.params
    assert meta["stats"] == original.stats
    assert set(meta["crc32"]) == {"indptr", "indices", "data", "tokens", "counts"}
    json.dumps(meta)  # plain JSON types only


# -- damaged or foreign files ----------------------------------------------------------
def _rewrite(src, dst, change):
    """Copy a .cooc archive edited by ``change(arrays, meta)`` (zip CRCs stay valid)."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(dst, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.cooc"
    cooccurrence_matrix(DOCS, window_size=2).save(path)
    return path


def test_newer_format_version_is_refused(saved, tmp_path):
    newer = tmp_path / "newer.cooc"
    _rewrite(saved, newer, lambda a, m: m.update(format_version=2))
    for reader in (load_cooc, read_cooc_meta):
        with pytest.raises(
            ValueError, match=r"newer.cooc.*newer cooc.*format version 2 > 1"
        ):
            reader(newer)


def test_foreign_format_is_refused(saved, tmp_path):
    other = tmp_path / "other.cooc"
    _rewrite(saved, other, lambda a, m: m.update(format="something-else"))
    with pytest.raises(
        ValueError, match=r"other.cooc.*not a .cooc file.*something-else"
    ):
        load_cooc(other)


def test_checksum_mismatch_is_refused(saved, tmp_path):
    bad = tmp_path / "bad.cooc"

    def tamper(arrays, meta):
        arrays["data"] = arrays["data"].copy()
        arrays["data"][0] += 1.0

    _rewrite(saved, bad, tamper)
    with pytest.raises(ValueError, match=r"bad.cooc.*checksum mismatch in 'data'"):
        load_cooc(bad)


def test_token_count_mismatch_is_refused(saved, tmp_path):
    bad = tmp_path / "bad.cooc"

    def tamper(arrays, meta):
        # a token too many in the bytes (an n_words that is not the matrix's
        # rows is refused before: tests/test_cooc_validation.py)
        arrays["tokens"] = np.frombuffer(b"a\nb\nc\nd", dtype=np.uint8)
        meta["crc32"].pop("tokens")

    _rewrite(saved, bad, tamper)
    with pytest.raises(
        ValueError, match=r"corrupt .cooc file \(expected 3 tokens, found 4\)"
    ):
        load_cooc(bad)


def test_truncated_file_is_refused(saved, tmp_path):
    cut = tmp_path / "cut.cooc"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.cooc.*not a .cooc file"):
        load_cooc(cut)


def _flip_last_data_byte(src, dst, mask) -> None:
    """Copy ``src`` to ``dst`` with the last byte of ``data.npy`` XORed by ``mask``."""
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        info = zf.getinfo("data.npy")
    local = info.header_offset
    name_len = int.from_bytes(raw[local + 26 : local + 28], "little")
    extra_len = int.from_bytes(raw[local + 28 : local + 30], "little")
    last = local + 30 + name_len + extra_len + info.compress_size - 1
    raw[last] ^= mask
    dst.write_bytes(bytes(raw))


def test_flipped_payload_byte_is_refused(saved, tmp_path):
    flipped = tmp_path / "flipped.cooc"
    _flip_last_data_byte(saved, flipped, 0xFF)
    with pytest.raises(ValueError, match=r"flipped.cooc.*corrupt"):
        load_cooc(flipped)


@pytest.mark.parametrize("content", [b"", b"word\t3\n", b"PK\x03\x04garbage"])
def test_not_a_cooc_file(tmp_path, content):
    path = tmp_path / "x.cooc"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"x.cooc.*not a .cooc file"):
        load_cooc(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing.cooc.*does not exist"):
        load_cooc(tmp_path / "missing.cooc")
    with pytest.raises(ValueError, match=r"does not exist"):
        read_cooc_meta(tmp_path / "missing.cooc")


# -- atomic writes ---------------------------------------------------------------------
def test_atomic_write_replaces_on_success(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as fh:
        fh.write(b"new")
        assert path.read_bytes() == b"old"  # nothing visible until the end
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_keeps_old_file_when_writer_raises(tmp_path, exc):
    path = tmp_path / "out.txt"
    path.write_text("old content", encoding="utf-8")
    with pytest.raises(exc), atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write("half of the new cont")
        raise exc("interrupted")
    assert path.read_text(encoding="utf-8") == "old content"
    assert os.listdir(tmp_path) == ["out.txt"]  # no temporary file left behind


def test_atomic_write_creates_nothing_when_writer_raises(tmp_path):
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "new.bin") as fh:
        fh.write(b"x")
        raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_save_cooc_failure_keeps_old_file(saved, monkeypatch):
    before = saved.read_bytes()

    from cooc._zip import PresizedZip

    real = PresizedZip.write_at
    calls = []

    def full_after_one_write(*args, **kwargs):
        # the disk fills up while the second piece is written
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(PresizedZip, "write_at", full_after_one_write)
    with pytest.raises(OSError, match="disk full"):
        cooccurrence_matrix([["x", "y"]], window_size=1).save(saved)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_save_in_many_parts_gives_the_same_bytes(tmp_path, monkeypatch):
    import cooc.matrix

    docs = [[f"w{(5 * i + j) % 17}" for j in range(i % 11)] for i in range(80)]
    m = cooccurrence_matrix(docs, window_size=3, weighting="harmonic")
    one, many = tmp_path / "one.cooc", tmp_path / "many.cooc"
    m.save(one)
    # parts of 3 values: the checksums of the pieces are combined in order
    monkeypatch.setattr(cooc.matrix, "WRITE_STEP", 3 * 8)
    save_cooc(m, many)
    assert many.read_bytes() == one.read_bytes()
    _assert_same(load_cooc(many), m)


def test_the_metadata_record_is_built_in_one_place(saved):
    from cooc.matrix import cooc_meta

    m = load_cooc(saved)
    meta = read_cooc_meta(saved)
    assert list(meta["crc32"]) == ["indptr", "indices", "data", "tokens", "counts"]
    expected = cooc_meta(m.vocabulary, m.params, m.stats, m.shape, m.nnz)
    assert list(meta) == list(expected)
    assert {k: v for k, v in meta.items() if k != "crc32"} == {
        k: v for k, v in expected.items() if k != "crc32"
    }


def test_coocmatrix_keeps_its_old_import_path_for_pickles():
    import pickle

    import cooc.cooccurrence
    import cooc.io
    import cooc.matrix

    assert (
        cooc.CoocMatrix
        is cooc.cooccurrence.CoocMatrix
        is cooc.io.CoocMatrix
        is cooc.matrix.CoocMatrix
    )
    assert cooc.merge is cooc.cooccurrence.merge is cooc.matrix.merge
    m = cooccurrence_matrix(DOCS, window_size=2)
    # a pickle written when the class lived in cooc.cooccurrence
    raw = pickle.dumps(m, protocol=0)
    assert b"ccooc.matrix\nCoocMatrix\n" in raw
    old = raw.replace(
        b"ccooc.matrix\nCoocMatrix\n", b"ccooc.cooccurrence\nCoocMatrix\n"
    )
    back = pickle.loads(old)
    assert type(back) is CoocMatrix
    _assert_same(back, m)


def test_atomic_write_needs_existing_folder(tmp_path):
    with pytest.raises(ValueError, match=r"nope.*does not exist"):
        atomic_write(tmp_path / "nope" / "f.bin").__enter__()


# -- export ----------------------------------------------------------------------------
@pytest.mark.parametrize("symmetric", [True, False])
def test_export_tsv_round_trip(tmp_path, symmetric):
    m = cooccurrence_matrix(
        DOCS, window_size=3, weighting="harmonic", symmetric=symmetric
    )
    path = tmp_path / "pairs.tsv"
    assert export_pairs(m, path) == m.nnz
    back = pd.read_csv(
        path,
        sep="\t",
        quoting=3,
        keep_default_na=False,
        dtype={"word1": str, "word2": str},
    )
    pd.testing.assert_frame_equal(back, m.to_frame(), check_dtype=False)
    # values round-trip exactly (1/3 and 2/3 included)
    np.testing.assert_array_equal(back["value"].to_numpy(), m.matrix.tocoo().data)
    if not symmetric:
        assert set(back["word2"]) <= {"L:a", "L:b", "L:c", "R:a", "R:b", "R:c"}


def test_export_tsv_hand_values(tmp_path):
    m = cooccurrence_matrix(
        [["a", "b", "a"], ["b", "c"]], window_size=1, weighting="uniform"
    )
    export_pairs(m, tmp_path / "p.tsv")
    lines = (tmp_path / "p.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "word1\tword2\tvalue"
    rows = {tuple(line.split("\t")) for line in lines[1:]}
    assert {(a, b, float(v)) for a, b, v in rows} == {
        ("a", "b", 2.0),
        ("b", "a", 2.0),
        ("b", "c", 1.0),
        ("c", "b", 1.0),
    }


def test_export_tsv_writes_tokens_unquoted(tmp_path):
    # Regression: CSV quoting turned the token '"quoted' into '"""quoted"'.
    m = cooccurrence_matrix([['"quoted', "back\\slash", "it's"]], window_size=1)
    export_pairs(m, tmp_path / "p.tsv")
    lines = (tmp_path / "p.tsv").read_text(encoding="utf-8").splitlines()
    assert '"quoted\tback\\slash\t1.0' in lines
    assert "it's\tback\\slash\t1.0" in lines
    assert len(lines) == 5


@pytest.mark.parametrize("token", ["a\tb", "a\rb"])
def test_export_tsv_refuses_tab_in_token(tmp_path, token):
    m = cooccurrence_matrix([[token, "c"]], window_size=1)
    with pytest.raises(ValueError, match=r"tab or line break.*\.csv or \.parquet"):
        export_pairs(m, tmp_path / "p.tsv")
    assert os.listdir(tmp_path) == []


def test_export_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    m = cooccurrence_matrix(DOCS, window_size=3, weighting="linear", symmetric=False)
    path = tmp_path / "pairs.parquet"
    assert export_pairs(m, path) == m.nnz
    back = pd.read_parquet(path)
    assert list(back.columns) == ["word1", "word2", "value"]
    pd.testing.assert_frame_equal(back, m.to_frame(), check_dtype=False)
    assert back["value"].dtype == np.float64


@pytest.mark.parametrize("suffix", [".tsv", ".csv.gz", ".parquet"])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("block", [1, 3, 1 << 22])
def test_export_of_a_file_in_row_blocks_equals_the_whole_matrix(
    tmp_path, symmetric, block, suffix
):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    docs = [[f"w{(7 * i + j) % 13}" for j in range(i % 9)] for i in range(60)]
    m = cooccurrence_matrix(
        docs, window_size=3, weighting="harmonic", symmetric=symmetric
    )
    src = tmp_path / "m.cooc"
    m.save(src)
    whole, streamed = tmp_path / f"whole{suffix}", tmp_path / f"streamed{suffix}"
    seen = []
    export_pairs(m, whole)
    assert (
        export_pairs(src, streamed, block_entries=block, progress=seen.append) == m.nnz
    )
    assert sum(seen) == m.nnz and (block > m.nnz or len(seen) > 1)
    if suffix != ".parquet":
        assert streamed.read_bytes() == whole.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(streamed), m.to_frame())


def test_export_of_a_damaged_file_writes_nothing(saved, tmp_path):
    # a count changed in place: well-formed, so only the checksum can tell
    bad = tmp_path / "bad.cooc"
    _flip_last_data_byte(saved, bad, 0x01)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=r"bad.cooc.*checksum"):
        export_pairs(bad, out / "p.tsv", block_entries=1)
    assert os.listdir(out) == []
