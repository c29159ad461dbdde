"""Compressed text by extension, export formats by extension, and file modes:
the defects a new user met (plain text under a .gz name, TSV under any name,
every output created 0600)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat

import numpy as np
import pandas as pd
import pytest

from cooc.cooccurrence import cooccurrence_matrix
from cooc.io import atomic_write, export_pairs, open_input
from cooc.svd import Embeddings
from cooc.vocab import Vocabulary

MAGIC = {".gz": b"\x1f\x8b", ".bz2": b"BZh", ".xz": b"\xfd7zXZ"}
OPEN = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _emb():
    rng = np.random.default_rng(0)
    return Embeddings(["the", "cat", "nan", "é"], rng.normal(size=(4, 5)))


@pytest.mark.parametrize("packed", [".gz", ".bz2", ".xz"])
@pytest.mark.parametrize("kind", [".txt", ".bin"])
def test_vectors_are_compressed_by_name_and_read_back(tmp_path, kind, packed):
    emb = _emb()
    path = tmp_path / f"v{kind}{packed}"
    emb.save(path)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC[packed])
    plain = tmp_path / f"v{kind}"
    emb.save(plain)
    # the compressed file holds exactly the plain file's bytes
    with OPEN[packed](path, "rb") as fh:
        assert fh.read() == plain.read_bytes()
    back = Embeddings.load(path)
    assert back.tokens == emb.tokens
    np.testing.assert_array_equal(back.vectors, emb.vectors)


def test_gzip_output_is_deterministic(tmp_path):
    a, b = tmp_path / "a.txt.gz", tmp_path / "b.txt.gz"
    _emb().save(a)
    _emb().save(b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("how", ["cut", "not-gzip", "trailing-junk"])
def test_damaged_compressed_vectors_are_refused_in_one_line(tmp_path, how):
    path = tmp_path / "v.txt.gz"
    _emb().save(path)
    raw = path.read_bytes()
    bad = {
        "cut": raw[: len(raw) // 2],
        "not-gzip": b"the 1 2 3\n",
        "trailing-junk": raw + b"junk",
    }[how]
    path.write_bytes(bad)
    with pytest.raises(ValueError, match=r"v\.txt\.gz: not a valid \.gz file") as err:
        Embeddings.load(path)
    assert "\n" not in str(err.value)


def test_npz_is_not_compressed_further(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz vectors are not compressed"):
        _emb().save(tmp_path / "v.npz.gz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("packed", ["", ".gz", ".xz"])
def test_vocabulary_compressed_round_trip(tmp_path, packed):
    vocab = Vocabulary(["b", "a", "null"], np.array([5, 3, 1]))
    path = tmp_path / f"vocab.tsv{packed}"
    vocab.save(path)
    if packed:
        assert path.read_bytes().startswith(MAGIC[packed])
    back = Vocabulary.load(path)
    assert back.tokens == vocab.tokens
    np.testing.assert_array_equal(back.counts, vocab.counts)


# -- export by extension ----------------------------------------------------------------
DOCS = [["nan", "null", "a,b"], ['say "hi"', "nan"], ["NA", "null", "nan"]]


@pytest.mark.parametrize("name", ["p.tsv", "p.tsv.gz", "p.csv", "p.csv.bz2"])
def test_export_text_formats_round_trip_through_pandas(tmp_path, name):
    m = cooccurrence_matrix(DOCS, window_size=2, weighting="harmonic")
    path = tmp_path / name
    assert export_pairs(m, path) == m.nnz
    tsv = ".tsv" in name
    back = pd.read_csv(
        path,
        sep="\t" if tsv else ",",
        quoting=3 if tsv else 0,
        keep_default_na=False,
        dtype={"word1": str, "word2": str},
    )
    pd.testing.assert_frame_equal(back, m.to_frame(), check_dtype=False)
    assert {"nan", "null", "NA"} <= set(back["word1"])
    with open_input(path, "rt", encoding="utf-8") as fh:
        first = fh.readline().rstrip("\r\n")
    assert first == ("word1\tword2\tvalue" if tsv else "word1,word2,value")


@pytest.mark.parametrize("name", ["p.json", "p.feather", "p.txt", "p", "p.parquet.gz"])
def test_export_refuses_a_name_it_cannot_place(tmp_path, name):
    m = cooccurrence_matrix(DOCS, window_size=2)
    with pytest.raises(ValueError, match=r"cannot tell the format from the name"):
        export_pairs(m, tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_cli_export_unknown_extension_exits_2(run_cli, tmp_path):
    m = cooccurrence_matrix(DOCS, window_size=2)
    src = tmp_path / "m.cooc"
    m.save(src)
    r = run_cli("export", src, "-o", tmp_path / "pairs.json")
    assert r.exit_code == 2
    assert "cannot tell the format from the name" in r.output
    assert sorted(os.listdir(tmp_path)) == ["m.cooc"]
    r = run_cli("export", src, "-o", tmp_path / "pairs.csv.gz", "-q")
    assert r.exit_code == 0, r.output
    back = pd.read_csv(tmp_path / "pairs.csv.gz", keep_default_na=False)
    assert len(back) == m.nnz


# -- file modes --------------------------------------------------------------------------
@pytest.fixture
def umask():
    def set_mask(mask):
        old = os.umask(mask)
        restore.append(old)

    restore = []
    yield set_mask
    for old in reversed(restore):
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umask_default(tmp_path, umask, mask):
    umask(mask)
    for name in ("v.txt", "v.txt.gz"):
        _emb().save(tmp_path / name)
        assert _mode(tmp_path / name) == 0o666 & ~mask
    with atomic_write(tmp_path / "raw.bin") as fh:
        fh.write(b"x")
    assert _mode(tmp_path / "raw.bin") == 0o666 & ~mask


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "v.txt"
    path.write_text("old\n")
    for mode in (0o644, 0o640, 0o600):
        os.chmod(path, mode)
        _emb().save(path)
        assert _mode(path) == mode
        assert path.read_text().startswith("4 5\n")


# -- merge metadata ----------------------------------------------------------------------
def test_merge_metadata_equals_the_whole_build(tmp_path):
    from cooc.cooccurrence import build_cooccurrence, merge

    parts = []
    for i, text in enumerate(["a b c a\nb c\n", "c a b\na a b c\n"]):
        path = tmp_path / f"part{i}.txt"
        path.write_text(text)
        parts.append(path)
    whole = build_cooccurrence(parts, min_count=1, window_size=2)
    pieces = [
        build_cooccurrence([p], vocabulary=whole.vocabulary, window_size=2)
        for p in parts
    ]
    merged = merge(pieces)
    assert (merged.matrix != whole.matrix).nnz == 0
    assert merged.stats == whole.stats
    assert merged.stats["vocabulary_size"] == 3
    assert merged.stats["sources"] == [str(p) for p in parts]
    # the parts were counted with the whole's vocabulary given; the rest agrees
    assert merged.params["vocabulary"] == {"source": "given", "size": 3}
    assert whole.params["vocabulary"] == {
        "source": "counted",
        "min_count": 1,
        "max_size": None,
    }
    strip = lambda p: {k: v for k, v in p.items() if k != "vocabulary"}  # noqa: E731
    assert strip(merged.params) == strip(whole.params)
