"""Checkpoint folders that were edited, damaged or are not what they seem
(issue 15): shard files are used again only when they are the files recorded,
token lists keep every character in as many bytes as their UTF-8 takes, and
many small files make few shards."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cooc.checkpoint import LEDGER, CheckpointWarning, build_cooccurrence_resumable
from cooc.container import pack_tokens, unpack_tokens
from cooc.cooccurrence import build_cooccurrence
from cooc.errors import InputError
from cooc.shards import Shard, group_shards, plan_shards, sum_pair_counts


def quietly(*args, **kwargs):
    """A resumable build that must not find anything to distrust."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        return build_cooccurrence_resumable(*args, **kwargs)


def rewrite(path: Path, **changes):
    """Rewrite a shard file as a valid .npz with some arrays changed."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


# -- tokens stored as they are -------------------------------------------------------
def test_tokens_ending_in_nul_survive_a_resume(tmp_path, same):
    corpus = tmp_path / "nul.txt"
    corpus.write_bytes(b"dog dog\x00 cat\n" * 100)
    kw = dict(tokenizer="whitespace", min_count=1, window_size=2)
    expected = build_cooccurrence([corpus], **kw)
    first = quietly([corpus], tmp_path / "ck", **kw)
    again = quietly([corpus], tmp_path / "ck", **kw)  # every shard read back
    assert sorted(again.vocabulary.tokens) == ["cat", "dog", "dog\x00"]
    same(first, expected)
    same(again, expected)


@pytest.mark.parametrize(
    "tokens",
    [[], [""], ["a", "", "b"], ["dog\x00", "\x00", "é\n\t", "x" * 1000, "\ud800"]],
)
def test_pack_tokens_round_trip(tokens):
    utf8, offsets = pack_tokens(tokens)
    assert utf8.dtype == np.uint8 and offsets.dtype == np.int64
    assert len(offsets) == len(tokens) + 1
    assert unpack_tokens(utf8, offsets, "t") == tokens


@pytest.mark.parametrize(
    "offsets",
    [np.array([], np.int64), np.array([1, 3]), np.array([0, 2, 1, 3]), [0, 4]],
)
def test_unpack_tokens_refuses_bad_offsets(offsets):
    utf8, _ = pack_tokens(["ab", "c"])
    with pytest.raises(InputError, match="t:"):
        unpack_tokens(utf8, np.asarray(offsets), "t")


def test_unpack_tokens_refuses_bad_utf8():
    with pytest.raises(InputError, match="UTF-8"):
        unpack_tokens(np.frombuffer(b"a\xffb", np.uint8), np.array([0, 1, 3]), "t")


def test_a_long_token_makes_a_small_shard_file(tmp_path):
    corpus = tmp_path / "long.txt"
    words = " ".join(f"u{i}" for i in range(300))
    corpus.write_text(f"{words} {'x' * 200_000}\n" + "a b c\n" * 100, encoding="utf-8")
    quietly([corpus], tmp_path / "ck", window_size=2)
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "ck").iterdir()}
    # (a unicode array took 300 x 800,000 bytes: 240 MB)
    assert max(sizes.values()) < 400_000, sizes


# -- shard files used only when they are the ones recorded ---------------------------
def test_doubled_counts_in_a_valid_shard_file_are_counted_again(
    tmp_path, write_corpus, same
):
    paths = write_corpus(tmp_path)
    expected = build_cooccurrence(paths, window_size=3)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3)
    shard = tmp_path / "ck" / "counts-00001.npz"
    with np.load(shard) as z:
        doubled = z["data"] * 2
    rewrite(shard, data=doubled)
    with pytest.warns(CheckpointWarning, match="counts-00001.npz.*SHA-256"):
        got = build_cooccurrence_resumable(
            paths, tmp_path / "ck", n_shards=3, window_size=3
        )
    same(got, expected)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3)  # mended


def test_a_token_removed_from_a_shard_file_is_counted_again(
    tmp_path, write_corpus, same
):
    paths = write_corpus(tmp_path)
    expected = build_cooccurrence(paths, window_size=3, min_count=2)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3, min_count=2)
    shard = tmp_path / "ck" / "vocab-00002.npz"
    with np.load(shard) as z:
        tokens = unpack_tokens(z["tokens"], z["token_offsets"], "t")
        counts = z["counts"]
    utf8, offsets = pack_tokens(tokens[1:])
    rewrite(shard, tokens=utf8, token_offsets=offsets, counts=counts[1:])
    with pytest.warns(CheckpointWarning, match="vocab-00002.npz"):
        got = build_cooccurrence_resumable(
            paths, tmp_path / "ck", n_shards=3, window_size=3, min_count=2
        )
    same(got, expected)


def test_a_shard_file_of_another_build_is_not_taken(tmp_path, write_corpus, same):
    """The manifest deleted and the folder reused: the earlier build's shard
    files are there under the same names, but not recorded for this one."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_corpus(tmp_path / "a", seed=1, prefix="a")
    second = write_corpus(tmp_path / "b", seed=2, prefix="b")
    quietly(first, tmp_path / "ck", n_shards=3, window_size=3)
    (tmp_path / "ck" / "manifest.json").unlink()
    got = quietly(second, tmp_path / "ck", n_shards=3, window_size=3)
    same(got, build_cooccurrence(second, window_size=3))


def test_an_unrecorded_or_torn_ledger_line_counts_that_shard_again(
    tmp_path, write_corpus, same
):
    paths = write_corpus(tmp_path)
    expected = build_cooccurrence(paths, window_size=3)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3)
    ledger = tmp_path / "ck" / LEDGER
    lines = ledger.read_bytes().splitlines(keepends=True)
    assert len(lines) == 6
    # the last line cut short, as a kill while appending it leaves it
    last = lines[-1].split()[1].decode()
    ledger.write_bytes(b"".join(lines[:-1]) + lines[-1][:30])
    with pytest.warns(CheckpointWarning, match=f"{last}.*not recorded"):
        got = build_cooccurrence_resumable(
            paths, tmp_path / "ck", n_shards=3, window_size=3
        )
    same(got, expected)
    # the record appended after the torn line is read back
    same(quietly(paths, tmp_path / "ck", n_shards=3, window_size=3), expected)


def test_an_unreadable_shard_file_is_counted_again(tmp_path, write_corpus, same):
    paths = write_corpus(tmp_path)
    expected = build_cooccurrence(paths, window_size=3)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3)
    (tmp_path / "ck" / "vocab-00000.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.warns(CheckpointWarning, match="vocab-00000.npz"):
        got = build_cooccurrence_resumable(
            paths, tmp_path / "ck", n_shards=3, window_size=3
        )
    same(got, expected)


def _recorded_anew(folder: Path, name: str) -> None:
    """Append the SHA-256 of a shard file as it is now to the ledger."""
    import hashlib

    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    with open(folder / LEDGER, "a", encoding="ascii") as fh:
        fh.write(f"{digest}  {name}\n")


@pytest.mark.parametrize(
    "name, change",
    [
        ("counts-00000.npz", dict(shape=np.array([3, 3]))),
        ("counts-00000.npz", dict(indices=np.array([0], np.int64))),
        ("counts-00000.npz", dict(scale=np.float64(np.nan))),
        ("counts-00000.npz", dict(stats=np.frombuffer(b"[1]", np.uint8))),
        ("counts-00001.npz", dict(data=np.array([1.5]))),
        ("vocab-00000.npz", dict(token_offsets=np.array([0, 2]))),
        ("vocab-00001.npz", dict(n_docs=np.float64(2))),
        ("vocab-00002.npz", dict(counts=np.array([1, 2, 3]))),
    ],
)
def test_a_recorded_shard_file_with_bad_arrays_is_counted_again(
    tmp_path, name, change, write_corpus, same
):
    """Even a file whose SHA-256 was recorded anew must hold consistent arrays."""
    paths = write_corpus(tmp_path)
    kw = dict(n_shards=3, window_size=3, subsample=0.1, random_state=1)
    expected = build_cooccurrence(paths, window_size=3, subsample=0.1, random_state=1)
    quietly(paths, tmp_path / "ck", **kw)
    rewrite(tmp_path / "ck" / name, **change)
    _recorded_anew(tmp_path / "ck", name)
    with pytest.warns(CheckpointWarning, match=f"{name} cannot be used"):
        got = build_cooccurrence_resumable(paths, tmp_path / "ck", **kw)
    same(got, expected)


def test_the_command_line_says_which_shard_it_counts_again(
    tmp_path, run_cli, write_corpus
):
    paths = write_corpus(tmp_path)
    args = ["build", *paths, "-o", tmp_path / "out.cooc", "--checkpoint"]
    args += [tmp_path / "ck", "--shards", "3"]
    assert run_cli(*args).exit_code == 0
    shard = tmp_path / "ck" / "counts-00000.npz"
    with np.load(shard) as z:
        rewrite(shard, data=z["data"] + 1)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "counts-00000.npz does not match" in result.stderr
    assert "counting the pairs of shard 0 again" in result.stderr


# -- manifests and shard paths that are not what they should be ----------------------
@pytest.mark.parametrize(
    "text, needle",
    [
        ("[1, 2]", "not a cooc checkpoint manifest"),
        ('{"format": "cooc-checkpoint"}', "not a cooc checkpoint manifest"),
        ('{"format": "cooc-checkpoint", "key": 3}', "not a cooc checkpoint manifest"),
        ('{"format": "x", "version": 2, "key": "k"}', "not a cooc checkpoint manifest"),
        ('{"format": "cooc-checkpoint", "version": "2", "key": "k"}', "manifest"),
        ('{"format": "cooc-checkpoint", "key": "k"}', "earlier cooc"),
        ('{"format": "cooc-checkpoint", "version": 9, "key": "k"}', "newer cooc"),
        ("{not json", "not valid JSON"),
        ('"\udcff"', "manifest"),
    ],
)
def test_a_malformed_manifest_is_one_line(tmp_path, text, needle, write_corpus):
    paths = write_corpus(tmp_path, n_files=1)
    (tmp_path / "ck").mkdir()
    manifest = tmp_path / "ck" / "manifest.json"
    manifest.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(InputError, match=needle) as info:
        build_cooccurrence_resumable(paths, tmp_path / "ck", window_size=3)
    assert str(manifest) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_manifest_of_another_build_is_refused(tmp_path, write_corpus):
    paths = write_corpus(tmp_path)
    quietly(paths, tmp_path / "ck", window_size=3)
    with pytest.raises(InputError, match="belongs to another build"):
        build_cooccurrence_resumable(paths, tmp_path / "ck", window_size=4)


@pytest.mark.parametrize(
    "name", ["vocab-00001.npz", "counts-00000.npz", "manifest.json", LEDGER]
)
def test_a_directory_where_a_checkpoint_file_goes_is_one_line(
    tmp_path, name, write_corpus
):
    paths = write_corpus(tmp_path)
    quietly(paths, tmp_path / "ck", n_shards=3, window_size=3)
    target = tmp_path / "ck" / name
    target.unlink()
    (target / "inside").mkdir(parents=True)
    with pytest.raises(InputError, match="a directory") as info:
        build_cooccurrence_resumable(paths, tmp_path / "ck", n_shards=3, window_size=3)
    assert str(target) in str(info.value)


def test_a_directory_in_a_new_folder_is_refused_before_counting(tmp_path, write_corpus):
    paths = write_corpus(tmp_path)
    (tmp_path / "ck" / "counts-00002.npz").mkdir(parents=True)
    seen = []
    with pytest.raises(InputError, match="counts-00002.npz"):
        build_cooccurrence_resumable(
            paths,
            tmp_path / "ck",
            n_shards=3,
            window_size=3,
            on_shard=lambda *a: seen.append(a),
        )
    assert seen == []


# -- many small files ----------------------------------------------------------------
def test_many_small_files_make_few_shards(tmp_path, same):
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(300):
        words = rng.integers(0, 50, size=rng.integers(1, 40))
        lines = " ".join(f"w{w}" for w in words).replace(" w7 ", "\n")
        (folder / f"f{i:04d}.txt").write_text(lines + "\n", encoding="utf-8")
    params = dict(window_size=4, subsample=0.05, dynamic_window=True, random_state=2)
    expected = build_cooccurrence([folder], min_count=2, **params)
    done = []
    got = quietly(
        [folder],
        tmp_path / "ck",
        min_count=2,
        on_shard=lambda s, i, r: done.append((s, i)),
        **params,
    )
    same(got, expected)
    assert done == [("vocabulary", 0), ("counting", 0)]  # one shard, not 300
    # about the number asked for, whole files each
    got = quietly([folder], tmp_path / "ck7", n_shards=7, min_count=2, **params)
    same(got, expected)
    assert 7 <= len(list((tmp_path / "ck7").glob("counts-*.npz"))) <= 9


def test_group_shards():
    pieces = [Shard("a", 10 * i, 10 * i + 10) for i in range(6)]
    assert group_shards(pieces, 6) == [(p,) for p in pieces]
    assert [len(g) for g in group_shards(pieces, 3)] == [2, 2, 2]
    assert [len(g) for g in group_shards(pieces, target_bytes=25)] == [2, 2, 2]
    assert [len(g) for g in group_shards(pieces, target_bytes=5)] == [1] * 6
    mixed = [Shard("a", a, b) for a, b in [(0, 1), (1, 2), (2, 100), (100, 101)]]
    assert [len(g) for g in group_shards(mixed, target_bytes=50)] == [2, 1, 1]
    assert group_shards([], 3) == []
    with pytest.raises(InputError, match="n_groups"):
        group_shards(pieces, 0)


def test_groups_of_planned_shards_cover_the_corpus_in_order(tmp_path, write_corpus):
    paths = write_corpus(tmp_path, n_files=5)
    shards = plan_shards(paths, 13)
    for n in (1, 2, 5, 13, 40):
        groups = group_shards(shards, n)
        assert [s for g in groups for s in g] == shards
        assert len(groups) <= max(n, len(shards)) + 1


def test_sum_pair_counts_is_the_sum():
    rng = np.random.default_rng(0)
    parts = []
    for i in range(11):
        m = sp.random(30, 30, density=0.02 * (i % 4 + 1), random_state=i, format="csr")
        m.data = rng.integers(1, 9, size=m.nnz).astype(np.int64)
        parts.append((m, 2.0, {"n_tokens": i, "n_pairs": 2 * i}))
    total, scale, stats = sum_pair_counts(iter(parts))
    expected = sum(p[0] for p in parts[1:]) + parts[0][0]
    assert (total != expected).nnz == 0
    assert scale == 2.0 and stats == {"n_tokens": 55, "n_pairs": 110}
    with pytest.raises(InputError):
        sum_pair_counts([])


def test_the_manifest_records_groups_and_the_ledger_every_file(tmp_path, write_corpus):
    paths = write_corpus(tmp_path, n_files=4)
    quietly(paths, tmp_path / "ck", window_size=3)
    manifest = json.loads((tmp_path / "ck" / "manifest.json").read_text())
    assert manifest["version"] == 2
    assert [len(g) for g in manifest["build"]["shards"]] == [4]
    names = sorted(p.name for p in (tmp_path / "ck").glob("*.npz"))
    ledger = (tmp_path / "ck" / LEDGER).read_text().split()
    assert sorted(ledger[1::2]) == names
