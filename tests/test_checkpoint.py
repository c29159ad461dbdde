"""Resumable builds (cooc.checkpoint, cooc build --checkpoint): killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cooc.checkpoint import CheckpointWarning, build_cooccurrence_resumable
from cooc.cooccurrence import build_cooccurrence
from cooc.io import load_cooc
from cooc.vocab import Vocabulary

PARAMS = [
    dict(window_size=3),
    dict(window_size=5, weighting="uniform", symmetric=False),
    dict(window_size=4, subsample=1e-2, dynamic_window=True, random_state=7),
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("n_shards", [None, 7])
def test_equals_the_single_machine_build(
    tmp_path, params, n_shards, write_corpus, same
):
    paths = write_corpus(tmp_path)
    expected = build_cooccurrence(paths, min_count=2, **params)
    got = build_cooccurrence_resumable(
        paths, tmp_path / "ck", n_shards=n_shards, min_count=2, **params
    )
    same(got, expected)
    assert got.stats["n_tokens"] == expected.stats["n_tokens"]
    assert got.stats["n_docs"] == expected.stats["n_docs"]


def test_given_vocabulary_and_thread_counts(tmp_path, write_corpus, same):
    paths = write_corpus(tmp_path)
    voc = Vocabulary(["w1", "w2", "w3", "w5", "w8"], [5, 4, 3, 2, 1])
    params = dict(window_size=3, subsample=0.05, random_state=1)
    expected = build_cooccurrence(paths, vocabulary=voc, **params)
    got = build_cooccurrence_resumable(
        paths, tmp_path / "ck", n_shards=5, vocabulary=voc, n_jobs=1, **params
    )
    same(got, expected)


class Stop(Exception):
    pass


def test_interrupted_then_resumed(tmp_path, write_corpus, same):
    paths = write_corpus(tmp_path)
    params = dict(window_size=4, subsample=1e-2, dynamic_window=True, random_state=3)
    expected = build_cooccurrence(paths, min_count=2, **params)
    seen = []

    def stop_after(limit):
        def hook(stage, i, resumed):
            seen.append((stage, i, resumed))
            if sum(not r for _, _, r in seen) >= limit:
                raise Stop

        return hook

    for limit in (3, 4, 2):  # 3 word-count shards; 3 more + 1 pair count; 2 more
        with pytest.raises(Stop):
            build_cooccurrence_resumable(
                paths,
                tmp_path / "ck",
                n_shards=6,
                min_count=2,
                on_shard=stop_after(limit),
                **params,
            )
        seen.clear()
    done = []
    got = build_cooccurrence_resumable(
        paths,
        tmp_path / "ck",
        n_shards=6,
        min_count=2,
        on_shard=lambda s, i, r: done.append((s, r)),
        **params,
    )
    same(got, expected)
    resumed = [s for s, r in done if r]
    assert resumed.count("vocabulary") == 6  # all word counts were kept
    assert resumed.count("counting") == 3  # and 3 pair-count shards


def test_a_damaged_shard_file_is_counted_again(tmp_path, write_corpus, same):
    paths = write_corpus(tmp_path)
    first = build_cooccurrence_resumable(
        paths, tmp_path / "ck", n_shards=3, window_size=3
    )
    shard = tmp_path / "ck" / "counts-00001.npz"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.warns(CheckpointWarning, match="counts-00001.npz"):
        again = build_cooccurrence_resumable(
            paths, tmp_path / "ck", n_shards=3, window_size=3
        )
    same(again, first)


def test_other_settings_or_changed_files_are_refused(tmp_path, write_corpus):
    paths = write_corpus(tmp_path)
    build_cooccurrence_resumable(paths, tmp_path / "ck", window_size=3)
    with pytest.raises(ValueError, match="belongs to another build"):
        build_cooccurrence_resumable(paths, tmp_path / "ck", window_size=4)
    paths[0].write_text("changed text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="belongs to another build"):
        build_cooccurrence_resumable(paths, tmp_path / "ck", window_size=3)
    with pytest.raises(ValueError, match="standard input"):
        build_cooccurrence_resumable("-", tmp_path / "ck2", window_size=3)


# -- the command, killed with SIGKILL at random points ---------------------------------
def _cmd(paths, out, ck):
    return [
        sys.executable,
        "-m",
        "cooc",
        "build",
        *map(str, paths),
        "-o",
        str(out),
        "--checkpoint",
        str(ck),
        "--shards",
        "12",
        "--window",
        "4",
        "--subsample",
        "0.01",
        "--dynamic-window",
        "--seed",
        "5",
        "--min-count",
        "2",
        "--threads",
        "1",
        "-q",
    ]


def _finished(ck: Path) -> int:
    return sum(1 for p in ck.glob("*.npz")) if ck.is_dir() else 0


def test_sigkill_at_random_points_then_resume(tmp_path, write_corpus, same):
    paths = write_corpus(tmp_path, n_files=3, lines=3000, seed=1)
    out = tmp_path / "out.cooc"
    ck = tmp_path / "ck"
    expected = build_cooccurrence(
        paths,
        min_count=2,
        window_size=4,
        subsample=0.01,
        dynamic_window=True,
        random_state=5,
    )
    rng = np.random.default_rng(2024)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    kills = 0
    for _ in range(4):
        before = _finished(ck)
        target = before + int(rng.integers(1, 6))  # kill after a few more shards
        proc = subprocess.Popen(
            _cmd(paths, out, ck),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and _finished(ck) < target:
            if time.monotonic() > deadline:  # pragma: no cover - a stuck build
                proc.kill()
                pytest.fail("build made no progress in 120 s")
            time.sleep(0.002)
        time.sleep(float(rng.uniform(0, 0.05)))  # land inside a shard, or not
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        # never a truncated output: it is absent, or whole and correct
        if out.exists():
            same(load_cooc(out), expected)
            break
    assert kills >= 1
    # shard files are whole too: each one loads
    for part in ck.glob("*.npz"):
        with np.load(part, allow_pickle=False) as z:
            assert z.files
    done = subprocess.run(_cmd(paths, out, ck), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    same(load_cooc(out), expected)


def test_sigterm_stops_cleanly_without_temporary_files(tmp_path, write_corpus):
    paths = write_corpus(tmp_path, n_files=3, lines=3000, seed=3)
    out, ck = tmp_path / "out.cooc", tmp_path / "ck"
    proc = subprocess.Popen(
        _cmd(paths, out, ck), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and _finished(ck) < 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # pragma: no cover - finished before the signal
        pytest.skip("the build finished before SIGTERM arrived")
    assert proc.returncode == 143, err
    assert b"Traceback" not in err
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []
