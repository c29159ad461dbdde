"""cooc.streaming: the .cooc file read in row blocks, PPMI per block, and the
randomized SVD streaming the blocks (``cooc embed --memory`` / ``--streaming``)."""

from __future__ import annotations

import json
import os
import types
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from cooc.cooccurrence import CoocMatrix, count_window
from cooc.io import save_cooc, write_cooc_members
from cooc.pipeline import embed_cooccurrence
from cooc.streaming import (
    CoocFile,
    embed_cooc_file,
    in_memory_embed_bytes,
    iter_weighted_blocks,
)
from cooc.svd import Embeddings, svd_embed
from cooc.vocab import Vocabulary
from cooc.weighting import log_counts, ppmi


def _corpus(n_words, n_tokens, seed):
    """A Zipf-like id stream with topics, in documents of 20-60 tokens."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_words + 1)
    base = 1.0 / ranks
    topics = [rng.permutation(base) for _ in range(4)]
    ids, offsets = [], [0]
    while offsets[-1] < n_tokens:
        p = 0.5 * base / base.sum() + 0.5 * (t := topics[rng.integers(4)]) / t.sum()
        doc = rng.choice(n_words, size=int(rng.integers(20, 60)), p=p)
        ids.append(doc)
        offsets.append(offsets[-1] + doc.size)
    return np.concatenate(ids).astype(np.int32), np.array(offsets, dtype=np.int64)


def _cooc(n_words=160, n_tokens=20000, seed=0, **params):
    ids, offsets = _corpus(n_words, n_tokens, seed)
    params = {"window_size": 4, "weighting": "harmonic", **params}
    counts = count_window(ids, offsets, n_words, **params)
    vocab = Vocabulary(
        [f"w{i}" for i in range(n_words)], np.bincount(ids, minlength=n_words)
    )
    full = {
        "window_size": params["window_size"],
        "weighting": params["weighting"],
        "symmetric": params.get("symmetric", True),
        "dynamic_window": params.get("dynamic_window", False),
    }
    return CoocMatrix(counts, vocab, full, {})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three small .cooc files: symmetric, directional (n x 2n), dynamic windows
    (square, not symmetric)."""
    folder = tmp_path_factory.mktemp("streaming")
    made = {}
    for name, params in {
        "symmetric": {},
        "directional": {"symmetric": False},
        "dynamic": {"dynamic_window": True, "random_state": 3},
    }.items():
        cooc = _cooc(**params)
        path = folder / f"{name}.cooc"
        save_cooc(cooc, path)
        made[name] = (path, cooc)
    return made


# -- reading ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["symmetric", "directional"])
@pytest.mark.parametrize("weighting", ["ppmi", "log"])
def test_weighted_blocks_are_the_rows_of_the_in_memory_weighting(
    files, kind, weighting
):
    path, cooc = files[kind]
    ref = (
        ppmi(cooc.matrix, context_alpha=0.75, shift=2.0)
        if weighting == "ppmi"
        else log_counts(cooc.matrix)
    )
    transposes = (
        [False, True] if kind == "symmetric" and weighting == "ppmi" else [False]
    )
    for transposed in transposes:
        want = ref.T.tocsr() if transposed else ref
        want.sort_indices()
        rows = 0
        for block in iter_weighted_blocks(
            path, weighting=weighting, shift=2.0, transposed=transposed,
            block_nnz=700, block_rows=9,
        ):  # fmt: skip
            part = want[block.lo : block.hi]
            np.testing.assert_array_equal(block.indptr, part.indptr - part.indptr[0])
            np.testing.assert_array_equal(block.indices, part.indices)
            np.testing.assert_array_equal(block.data, part.data)  # the same bits
            assert block.data.dtype == np.float32
            rows = block.hi
        assert rows == cooc.shape[0]


def test_reader_finds_members_and_shapes(files):
    path, cooc = files["directional"]
    with CoocFile(path) as cf:
        assert cf.shape == cooc.shape and cf.nnz == cooc.nnz
        assert not cf.symmetric_counts
        indptr = cf.indptr()
        np.testing.assert_array_equal(indptr, cooc.matrix.indptr)
        indices, data = cf.read_rows(5, 17, indptr)
        np.testing.assert_array_equal(indices, cooc.matrix[5:17].indices)
        np.testing.assert_array_equal(data, cooc.matrix[5:17].data)
        assert cf.tokens() == cooc.vocabulary.tokens
    with CoocFile(files["symmetric"][0]) as cf:
        assert cf.symmetric_counts
    with CoocFile(files["dynamic"][0]) as cf:
        assert not cf.symmetric_counts  # square, but the windows differ per centre


# -- damaged and crafted files ---------------------------------------------------------
def _write(path, arrays, shape, nnz, **meta_extra):
    meta = {
        "format": "cooc-matrix",
        "format_version": 1,
        "shape": list(shape),
        "nnz": nnz,
        "n_words": shape[0],
        "params": {"symmetric": True},
        "stats": {},
        **meta_extra,
    }
    members = {k: (v.dtype, v.shape[0], [v]) for k, v in arrays.items()}
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        write_cooc_members(zf, members, meta)


def _arrays(cooc):
    m = cooc.matrix
    tokens = np.frombuffer("\n".join(cooc.vocabulary.tokens).encode(), dtype=np.uint8)
    return {
        "indptr": m.indptr.astype(np.int64),
        "indices": m.indices.astype(np.int32),
        "data": m.data.astype(np.float64),
        "tokens": tokens,
        "counts": np.asarray(cooc.vocabulary.counts, dtype=np.int64),
    }


def _damaged(tmp_path, cooc, how):
    arrays = _arrays(cooc)
    path = tmp_path / f"{how}.cooc"
    if how == "indptr decreasing":
        arrays["indptr"][7] = arrays["indptr"][8] + 1
    elif how == "indptr start":
        arrays["indptr"][0] = 1
    elif how == "indptr end":
        arrays["indptr"][-1] -= 1
    elif how == "index out of range":
        arrays["indices"][arrays["indptr"][40] + 1] = cooc.shape[1] + 5
    elif how == "negative index":
        arrays["indices"][arrays["indptr"][3]] = -1
    elif how == "unsorted indices":
        a = arrays["indptr"][12]
        arrays["indices"][[a, a + 1]] = arrays["indices"][[a + 1, a]]
    elif how == "negative count":
        arrays["data"][100] = -1.0
    elif how == "NaN count":
        arrays["data"][50] = np.nan
    if how != "crc":
        _write(path, arrays, cooc.shape, cooc.nnz)
        return path
    save_cooc(cooc, path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("data.npy")
    raw[info.header_offset + 30 + len("data.npy") + 200 + 3] ^= 0x10  # a count flipped
    path.write_bytes(bytes(raw))
    return path


DAMAGE = {
    "indptr decreasing": "indptr decreases at row 7",
    "indptr start": "indptr starts at 1, not 0",
    "indptr end": "indptr ends at",
    "index out of range": "row 40 has column index",
    "negative index": "row 3 has column index -1",
    "unsorted indices": "row 12: column indices not increasing",
    "negative count": "negative, NaN or infinite",
    "NaN count": "negative, NaN or infinite",
    "crc": "checksum mismatch in 'data'",
}


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_file_is_refused_in_one_line(files, tmp_path, how):
    path = _damaged(tmp_path, files["symmetric"][1], how)
    with pytest.raises(ValueError) as err:
        embed_cooc_file(path, None, 4, memory=64 << 20)
    message = str(err.value)
    assert "\n" not in message
    assert repr(str(path)) in message and "is corrupt" in message
    assert DAMAGE[how] in message


def test_not_a_zip_and_compressed_members_are_refused(files, tmp_path):
    bad = tmp_path / "bad.cooc"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"is not a \.cooc file \(not a readable zip"):
        CoocFile(bad)
    path, _ = files["symmetric"]
    deflated = tmp_path / "deflated.cooc"
    with (
        zipfile.ZipFile(path) as src,
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    with pytest.raises(ValueError, match="compressed or encrypted"):
        CoocFile(deflated)
    cut = tmp_path / "cut.cooc"
    cut.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"cut\.cooc"):
        embed_cooc_file(cut, None, 4)


# -- the streamed SVD against the in-memory one ----------------------------------------
def _subspace_angle(a, b):
    qa, _ = np.linalg.qr(a.astype(np.float64))
    qb, _ = np.linalg.qr(b.astype(np.float64))
    s = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.arccos(np.clip(s.min(), -1, 1)))


@pytest.mark.parametrize("kind", ["symmetric", "directional", "dynamic"])
def test_agrees_with_the_in_memory_embedding(files, kind):
    path, cooc = files[kind]
    k = 12
    emb, s = embed_cooccurrence(cooc, k, random_state=3)
    res = embed_cooc_file(path, None, k, random_state=3, memory=8 << 20)
    assert res.symmetric == (kind == "symmetric")
    np.testing.assert_allclose(res.singular_values, s, rtol=1e-4)
    assert res.embeddings.tokens == emb.tokens
    # same signs (svd_flip), unit rows, w + c for square matrices
    cos = np.sum(res.embeddings.vectors * emb.vectors, axis=1)
    assert cos.min() > 0.999
    np.testing.assert_allclose(res.embeddings.vectors, emb.vectors, atol=2e-3)


@pytest.mark.parametrize("kind", ["symmetric", "directional"])
def test_singular_vectors_agree_with_svd_embed(files, kind):
    path, cooc = files[kind]
    k = 10
    weighted = ppmi(cooc.matrix)
    vectors, s = svd_embed(weighted, k, power=1.0, random_state=0)
    res = embed_cooc_file(
        path, None, k, power=1.0, add_context=False, normalize=False, random_state=0
    )
    np.testing.assert_allclose(res.singular_values, s, rtol=1e-4)
    got = res.embeddings.vectors
    # vectors U * S up to sign (fixed the same way here), and the same subspace
    np.testing.assert_allclose(got, vectors, atol=2e-4 * s[0])
    assert _subspace_angle(got, vectors) < 1e-3


def test_block_sizes_threads_and_budget_do_not_change_the_result(files):
    path, _ = files["symmetric"]
    one = embed_cooc_file(path, None, 8, random_state=1, block_rows=1)
    many = embed_cooc_file(path, None, 8, random_state=1, block_nnz=1 << 20)
    single = embed_cooc_file(path, None, 8, random_state=1, n_jobs=1, block_nnz=500)
    assert one.blocks == 160 and many.blocks == 1
    for other in (many, single):
        np.testing.assert_array_equal(one.singular_values, other.singular_values)
        np.testing.assert_array_equal(one.embeddings.vectors, other.embeddings.vectors)
    again = embed_cooc_file(path, None, 8, random_state=1)
    np.testing.assert_array_equal(again.embeddings.vectors, one.embeddings.vectors)
    seeded = embed_cooc_file(path, None, 8, random_state=2)
    assert not np.array_equal(seeded.embeddings.vectors, one.embeddings.vectors)


@pytest.mark.parametrize("kind", ["symmetric", "directional", "dynamic"])
def test_weight_cache_gives_the_same_bits(files, kind):
    path, _ = files[kind]
    fresh = embed_cooc_file(path, None, 8, random_state=4, block_nnz=700,
                            cache_weights=False)  # fmt: skip
    cached = embed_cooc_file(path, None, 8, random_state=4, block_nnz=700)
    assert fresh.weight_cache["directions"] == 0
    # A and A^T for symmetric counts; the scatter path weighs A only
    assert cached.weight_cache["directions"] == (2 if kind == "symmetric" else 1)
    assert cached.weight_cache["dropped"] is None
    # 8 bytes a kept entry plus 4 a row pointer, per direction; PPMI keeps
    # some of the stored counts only
    cf = CoocFile(path)
    n_ptr = cached.blocks + cf.shape[0]
    assert (
        0
        < cached.weight_cache["bytes"]
        <= (cached.weight_cache["directions"] * (8 * cf.nnz + 4 * n_ptr))
    )
    cf.close()
    np.testing.assert_array_equal(fresh.singular_values, cached.singular_values)
    np.testing.assert_array_equal(fresh.embeddings.vectors, cached.embeddings.vectors)


def test_weight_cache_full_disk_and_no_room(files, monkeypatch):
    import errno

    import cooc.streaming as streaming

    path, _ = files["symmetric"]
    want = embed_cooc_file(path, None, 8, random_state=4, block_nnz=700,
                           cache_weights=False)  # fmt: skip
    real = streaming._pwrite_all
    writes = {"n": 0}

    def full_after_three(fd, view, offset):
        if any(c.fd == fd for c in caches):
            writes["n"] += 1
            if writes["n"] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, view, offset)

    caches = []
    real_cache = streaming._WeightCache

    def tracked(folder):
        cache = real_cache(folder)
        caches.append(cache)
        return cache

    monkeypatch.setattr(streaming, "_WeightCache", tracked)
    monkeypatch.setattr(streaming, "_pwrite_all", full_after_three)
    res = embed_cooc_file(path, None, 8, random_state=4, block_nnz=700)
    assert res.weight_cache["directions"] == 0
    assert "No space left" in res.weight_cache["dropped"]
    assert all(os.fstat(c.fd).st_size == 0 for c in caches if not c.fh.closed)
    np.testing.assert_array_equal(want.embeddings.vectors, res.embeddings.vectors)

    # a disk without room for even one direction: no cache is made
    monkeypatch.setattr(streaming, "_pwrite_all", real)
    monkeypatch.setattr(
        streaming.shutil,
        "disk_usage",
        lambda _: types.SimpleNamespace(free=0, total=0, used=0),
    )
    caches.clear()
    res = embed_cooc_file(path, None, 8, random_state=4, block_nnz=700)
    assert caches == [] and res.weight_cache["skipped_for_space"] == 2
    np.testing.assert_array_equal(want.embeddings.vectors, res.embeddings.vectors)


@pytest.mark.parametrize("kind", ["symmetric", "directional"])
@pytest.mark.parametrize("columns", [66, 84, 100])
def test_narrow_last_panel_gives_the_same_bits(files, kind, columns, monkeypatch):
    # 64 + 2 / + 20 / + 36 columns: the last panel is stored 16, 32 or 64 wide
    import cooc.streaming as streaming

    path, cooc = files[kind]
    k = 10
    args = dict(n_oversamples=columns - k, random_state=5, block_nnz=900)
    narrow = embed_cooc_file(path, None, k, **args)
    panels = streaming._Panels(7, columns)
    assert [a.shape for a in panels.array] == [
        (7, 64),
        (7, {66: 16, 84: 32, 100: 64}[columns]),
    ]
    monkeypatch.setattr(streaming, "panel_width", lambda used: 64)
    wide = embed_cooc_file(path, None, k, **args)
    np.testing.assert_array_equal(narrow.singular_values, wide.singular_values)
    np.testing.assert_array_equal(narrow.embeddings.vectors, wide.embeddings.vectors)
    # and the in-memory solver with the same oversamples agrees
    emb, s = embed_cooccurrence(cooc, k, random_state=5, n_oversamples=columns - k)
    np.testing.assert_allclose(narrow.singular_values, s, rtol=1e-4)


def test_directional_blocks_do_not_change_the_scatter(files):
    path, _ = files["directional"]
    a = embed_cooc_file(path, None, 6, random_state=0, block_rows=3)
    b = embed_cooc_file(path, None, 6, random_state=0)
    np.testing.assert_array_equal(a.embeddings.vectors, b.embeddings.vectors)


def test_low_rank_matrix_takes_the_tsqr_route(tmp_path):
    # counts of rank 3: the Gram matrices of the 3 + oversamples columns are
    # singular, so both the power steps and the last step leave the Gram route
    rng = np.random.default_rng(0)
    n = 60
    u = rng.random((n, 3))
    counts = sp.csr_matrix(np.round(u @ u.T * 50) + 0.0)
    cooc = CoocMatrix(counts, Vocabulary([f"w{i}" for i in range(n)], np.ones(n, int)),
                      {"symmetric": True}, {})  # fmt: skip
    path = tmp_path / "low.cooc"
    save_cooc(cooc, path)
    k = 2
    _, s = svd_embed(ppmi(counts, context_alpha=1.0), k, random_state=0)
    res = embed_cooc_file(
        path, None, k, context_alpha=1.0, random_state=0, n_oversamples=20
    )
    np.testing.assert_allclose(res.singular_values, s, rtol=1e-4)
    assert np.isfinite(res.embeddings.vectors).all()


def test_budget_too_small_and_bad_options(files):
    path, _ = files["symmetric"]
    with pytest.raises(
        ValueError, match=r"below what the streaming embedding .* needs"
    ):
        embed_cooc_file(path, None, 8, memory=10_000)
    with pytest.raises(ValueError, match="must be < the matrix size"):
        embed_cooc_file(path, None, 160)
    with pytest.raises(ValueError, match="add_context=True needs a square"):
        embed_cooc_file(files["directional"][0], None, 4, add_context=True)
    assert in_memory_embed_bytes((3_030_000, 3_030_000), 1_300_000_000, 450) > 60e9


# -- the command line ------------------------------------------------------------------
def _ok(result):
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


@pytest.mark.parametrize("suffix", [".txt", ".bin", ".npz"])
def test_cli_memory_budget_streams_and_writes_the_same_vectors(
    run_cli, files, tmp_path, suffix
):
    path, cooc = files["symmetric"]
    # in memory this matrix would take about 1 MB: a budget of 600 kB streams it
    out = tmp_path / f"v{suffix}"
    r = _ok(
        run_cli("embed", path, "--rank", "8", "--memory", "600k", "-o", out, "--json")
    )
    result = json.loads(r.stdout)
    assert result["streaming"]["memory"] == 600 * 1024
    assert result["streaming"]["symmetric_passes"] is True
    assert set(result["stages"]) == {
        "reading", "sketch", "product", "orthonormalisation", "final_svd", "writing",
    }  # fmt: skip
    assert "reading it in row blocks" in r.stderr
    for stage in (
        "marginals",
        "product 12/12",
        "orthonormalisation 6/6",
        "final SVD",
        "writing",
    ):
        assert stage in r.stderr
    assert "left in all" in r.stderr
    streamed = Embeddings.load(out)
    ref = tmp_path / f"ref{suffix}"
    _ok(run_cli("embed", path, "--rank", "8", "-o", ref, "-q"))
    in_memory = Embeddings.load(ref)
    assert streamed.tokens == in_memory.tokens == cooc.vocabulary.tokens
    np.testing.assert_allclose(streamed.vectors, in_memory.vectors, atol=2e-3)
    if suffix == ".npz":
        with np.load(out) as a, np.load(ref) as b:
            assert a.files == b.files
            assert a["tokens"].dtype == b["tokens"].dtype
            assert a["vectors"].shape == b["vectors"].shape


def test_cli_streaming_quiet_and_refusals(run_cli, files, tmp_path):
    path, _ = files["directional"]
    out = tmp_path / "v.npz"
    r = _ok(run_cli("embed", path, "--rank", "5", "--streaming", "-q", "-o", out))
    assert r.stderr == ""
    assert "n_words" in r.stdout and Embeddings.load(out).dim == 5
    r = run_cli(
        "embed", path, "--rank", "5", "--streaming", "--solver", "arpack", "-o", out
    )
    assert r.exit_code == 2 and "needs the matrix in memory" in r.stderr
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c a b\n")
    r = run_cli("embed", corpus, "--memory", "1G", "-o", out)
    assert r.exit_code == 2 and "apply to a .cooc file" in r.stderr
    r = run_cli(
        "embed", files["symmetric"][0], "--rank", "5", "--memory", "40k", "-o", out
    )
    assert r.exit_code == 2 and "raise --memory" in r.stderr
    assert len(r.stderr.strip().splitlines()[-1]) > 0
    damaged = _damaged(tmp_path, files["symmetric"][1], "crc")
    r = run_cli("embed", damaged, "--rank", "5", "--streaming", "-o", out)
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "checksum mismatch in 'data'" in r.stderr


def test_cli_large_budget_keeps_the_in_memory_path(run_cli, files, tmp_path):
    path, _ = files["symmetric"]
    r = _ok(
        run_cli(
            "embed",
            path,
            "--rank",
            "5",
            "--memory",
            "8G",
            "-o",
            tmp_path / "v.npz",
            "--json",
        )
    )
    result = json.loads(r.stdout)
    assert "streaming" not in result and list(result["stages"]) == [
        "reading", "ppmi", "svd", "writing",
    ]  # fmt: skip
