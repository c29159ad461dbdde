"""Vectors files that are not what they should be (issue 15): tokens stored
as they are in ``.npz`` vectors, earlier ``.npz`` layouts still read, and NaN
or infinite values refused in one line naming the line, entry or row."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from cooc.errors import InputError
from cooc.evaluate import evaluate_similarity
from cooc.vectors import Embeddings, first_nonfinite_row, npz_token_arrays

ODD = ["dog\x00", "dog", "\x00", "cat\nhat", "é", "tab\there", "", "\ud800"]


def emb(tokens, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    return Embeddings(tokens, rng.normal(size=(len(tokens), dim)))


# -- .npz: tokens as UTF-8 bytes and offsets -----------------------------------------
def test_npz_keeps_every_token_as_it_is(tmp_path):
    e = emb(ODD)
    e.save(tmp_path / "v.npz")
    back = Embeddings.load(tmp_path / "v.npz")
    assert back.tokens == ODD
    assert np.array_equal(back.vectors, e.vectors)
    with np.load(tmp_path / "v.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["token_offsets", "tokens", "vectors"]
        assert z["tokens"].dtype == np.uint8


def test_npz_of_a_long_token_is_small(tmp_path):
    tokens = [f"w{i}" for i in range(300)] + ["x" * 200_000]
    emb(tokens, dim=2).save(tmp_path / "v.npz")
    # (a unicode array took 301 x 800,000 bytes: 240 MB)
    assert (tmp_path / "v.npz").stat().st_size < 300_000
    assert Embeddings.load(tmp_path / "v.npz").tokens == tokens


def test_npz_of_earlier_versions_still_loads(tmp_path):
    vectors = np.eye(3, dtype=np.float32)
    np.savez(tmp_path / "old.npz", vectors=vectors, tokens=np.array(["a", "bé", "c"]))
    back = Embeddings.load(tmp_path / "old.npz")
    assert back.tokens == ["a", "bé", "c"]
    np.savez(
        tmp_path / "old2.npz",
        vectors=vectors[:2],
        tokens=np.array(["a", "b"]),
        singular_values=np.array([2.0, 1.0]),
    )
    assert list(Embeddings.load(tmp_path / "old2.npz").singular_values) == [2.0, 1.0]


def test_npz_token_arrays_is_what_save_writes(tmp_path):
    e = emb(ODD)
    np.savez(tmp_path / "own.npz", vectors=e.vectors, **npz_token_arrays(ODD))
    assert Embeddings.load(tmp_path / "own.npz").tokens == ODD


@pytest.mark.parametrize(
    "arrays, needle",
    [
        (dict(tokens=np.zeros(3, np.uint8)), "token_offsets"),
        (dict(tokens=np.zeros(3, np.int64), token_offsets=np.arange(3)), "uint8"),
        (dict(tokens=np.frombuffer(b"abc", np.uint8), token_offsets=[0, 9]), "offsets"),
        (dict(tokens=np.frombuffer(b"a\xff", np.uint8), token_offsets=[0, 1, 2]), "UT"),
        (dict(tokens=np.frombuffer(b"abc", np.uint8), token_offsets=[0, 3]), "1 tok"),
        (dict(tokens=np.array([["a", "b"]])), "tokens"),
    ],
)
def test_bad_npz_tokens_are_one_line(tmp_path, arrays, needle):
    np.savez(tmp_path / "v.npz", vectors=np.zeros((2, 2), np.float32), **arrays)
    with pytest.raises(InputError, match=needle) as info:
        Embeddings.load(tmp_path / "v.npz")
    assert str(info.value).startswith(str(tmp_path / "v.npz"))
    assert "\n" not in str(info.value)


# -- word2vec formats: NUL kept, whitespace refused ----------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".bin", ".txt.gz"])
def test_word2vec_keeps_nul(tmp_path, suffix):
    tokens = ["dog\x00", "dog", "\x00", "a\x00b"]
    e = emb(tokens)
    e.save(tmp_path / f"v{suffix}")
    assert Embeddings.load(tmp_path / f"v{suffix}").tokens == tokens


def test_word2vec_refuses_whitespace_in_one_line(tmp_path):
    with pytest.raises(InputError, match="save as .npz"):
        emb(["cat\nhat", "b"]).save(tmp_path / "v.txt")


# -- NaN and infinities --------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e39", "-1e39"]
)
def test_text_vectors_with_non_finite_values_are_refused(tmp_path, value):
    (tmp_path / "v.txt").write_text(
        f"3 2\na 1 0\nb 0.5 {value}\nc 1 1\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"v\.txt:3: the vector of 'b' .*NaN"):
        Embeddings.load(tmp_path / "v.txt")


def test_glove_text_without_header_gives_the_line(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 0\nb 0 1\nc nan 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"v\.txt:3:"):
        Embeddings.load(tmp_path / "v.txt")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_binary_vectors_with_non_finite_values_are_refused(tmp_path, bad):
    rows = [("a", [1, 0]), ("b", [0, 1]), ("c", [bad, 1])]
    body = b"".join(
        w.encode() + b" " + np.array(v, "<f4").tobytes() + b"\n" for w, v in rows
    )
    (tmp_path / "v.bin").write_bytes(b"3 2\n" + body)
    with pytest.raises(InputError, match=r"v\.bin: entry 3 of 3 \('c'\)"):
        Embeddings.load(tmp_path / "v.bin")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npz_vectors_with_non_finite_values_are_refused(tmp_path, dtype):
    vectors = np.ones((4, 2), dtype=dtype)
    vectors[2, 1] = np.nan if dtype == np.float32 else 1e300  # (beyond float32)
    np.savez(tmp_path / "v.npz", vectors=vectors, **npz_token_arrays(list("abcd")))
    with pytest.raises(InputError, match=r"v\.npz: row 2 of 'vectors' \('c'\)"):
        Embeddings.load(tmp_path / "v.npz")


def test_npz_singular_values_must_be_finite(tmp_path):
    np.savez(
        tmp_path / "v.npz",
        vectors=np.eye(2, dtype=np.float32),
        singular_values=np.array([1.0, np.nan]),
        **npz_token_arrays(["a", "b"]),
    )
    with pytest.raises(InputError, match="singular_values"):
        Embeddings.load(tmp_path / "v.npz")


def test_embeddings_refuse_non_finite_vectors():
    with pytest.raises(InputError, match=r"row 1 \('b'\)"):
        Embeddings(["a", "b"], [[1.0, 0.0], [np.inf, 0.0]])
    with pytest.raises(InputError, match="NaN"):
        Embeddings(["a", "b"], np.array([[1.0, 0.0], [0.0, 1e39]]))
    Embeddings([], np.zeros((0, 3)))  # nothing to check


def test_gensim_like_vectors_with_nan_are_refused_by_evaluate():
    class KV:
        index_to_key = ["a", "b", "c"]
        vectors = np.array([[1, 0], [np.nan, 1], [1, 1]], dtype=np.float32)

    with pytest.raises(InputError, match="NaN"):
        evaluate_similarity(KV(), [("a", "b", 1.0), ("a", "c", 2.0)])


def test_first_nonfinite_row_scans_in_blocks(monkeypatch):
    import cooc.vectors as V

    monkeypatch.setattr(V, "_CHECK_VALUES", 6)
    vectors = np.zeros((10, 3), np.float32)
    assert first_nonfinite_row(vectors) is None
    vectors[7, 0] = np.nan
    vectors[9, 2] = np.inf
    assert first_nonfinite_row(vectors) == 7


@pytest.mark.parametrize("suffix", [".txt", ".npz"])
def test_cli_similar_refuses_nan_vectors(tmp_path, run_cli, suffix):
    path = tmp_path / f"v{suffix}"
    if suffix == ".txt":
        path.write_text("2 2\na 1 0\nb nan 1\n", encoding="utf-8")
    else:
        vectors = np.array([[1, 0], [np.nan, 1]], np.float32)
        np.savez(path, vectors=vectors, tokens=np.array(["a", "b"]))
    result = run_cli("similar", path, "a")
    assert result.exit_code == 2, result.output
    assert "NaN" in result.stderr and "Traceback" not in result.stderr


def test_npz_is_still_a_plain_zip_of_npy(tmp_path):
    emb(["a", "b"]).save(tmp_path / "v.npz")
    with zipfile.ZipFile(tmp_path / "v.npz") as z:
        names = sorted(z.namelist())
    assert names == ["token_offsets.npy", "tokens.npy", "vectors.npy"]
