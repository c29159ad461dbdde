"""cooc.distributed: shards, Dask counting and SVD, out-of-core builds.

Every build here is compared with the single-machine ``build_cooccurrence``
array for array (CSR indptr, indices and data, vocabulary, parameters,
statistics). The Dask tests share one LocalCluster of two worker processes
(module fixture) and are skipped when ``distributed`` is not installed; the
``test`` extra installs it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cooc import distributed as D
from cooc.cooccurrence import build_cooccurrence
from cooc.corpus import ReadingOptions, iter_documents
from cooc.io import load_cooc
from cooc.vocab import Vocabulary, build_vocabulary

# Parameter sets of the identity tests: plain, directional, sampled.
PARAMS = [
    dict(window_size=5),
    dict(window_size=3, weighting="uniform", symmetric=False, oov="gap"),
    dict(window_size=4, dynamic_window=True, subsample=1e-3, random_state=7),
    dict(window_size=6, weighting="linear", dynamic_window=True, symmetric=False),
]
IDS = ["plain", "directional-gap", "dynamic-subsample", "linear-dynamic-directional"]


def assert_same(expected, got):
    """Exact equality of two CoocMatrix (arrays, dtypes, vocabulary, records)."""
    a, b = expected.matrix, got.matrix
    assert a.shape == b.shape
    for name in ("indptr", "indices", "data"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name
    assert expected.vocabulary == got.vocabulary
    assert expected.params == got.params
    assert expected.stats == got.stats


def write_corpus(folder: Path, rng, n_files=3, n_docs=1500, n_words=400) -> list[Path]:
    """Plain-text files of Zipf-ish words, one with CRLF line ends and no final
    newline, one with empty lines, plus a .gz and a .jsonl (never cut)."""
    folder.mkdir(parents=True, exist_ok=True)
    words = np.array([f"w{i}" for i in range(n_words)])
    p = 1.0 / np.arange(1, n_words + 1)
    p /= p.sum()

    def docs(n):
        return [" ".join(rng.choice(words, rng.integers(0, 25), p=p)) for _ in range(n)]

    paths = []
    for f in range(n_files):
        lines = docs(n_docs)
        end = "\r\n" if f == 1 else "\n"
        text = end.join(lines) + ("" if f == 1 else "\n")
        path = folder / f"part{f}.txt"
        path.write_bytes(text.encode())
        paths.append(path)
    gz = folder / "extra.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(docs(300)) + "\n")
    jsonl = folder / "table.jsonl"
    jsonl.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs(200)))
    return [*paths, gz, jsonl]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"), np.random.default_rng(5))


# -- without a cluster -----------------------------------------------------------
def test_core_never_imports_distributed():
    code = (
        "import sys, cooc, cooc.cli, cooc.distributed, cooc.pipeline; "
        "assert 'distributed' not in sys.modules, 'distributed imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shards_cut_at_line_boundaries(tmp_path):
    text = "\ufeffa b\r\nc\n\n d e \nf\ng h i\n\nj k\nlast"
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode())
    whole = list(iter_documents([path]))
    read = ReadingOptions(tokenizer="word", lowercase=True, chunk_size=4)
    for n in range(1, 12):
        shards = D.plan_shards([path], n)
        assert shards[0].start == 0 and shards[-1].end in (-1, len(path.read_bytes()))
        data = path.read_bytes()
        docs = []
        for s in shards:
            if not s.whole:
                assert s.start == 0 or data[s.start - 1 : s.start] == b"\n"
            chunks = list(D.iter_shard_chunks(s, read))
            n_docs = sum(c.n_docs for c in chunks)
            assert n_docs == D.count_shard_documents(s, read)
            docs += [d for c in chunks for d in c.documents()]
        assert len(docs) == len(whole)
        assert docs == [d.lower().split() for d in whole]


def test_shards_keep_compressed_and_tables_whole(corpus):
    shards = D.plan_shards(corpus, 20)
    assert len(shards) >= 15
    for s in shards:
        if not s.path.endswith(".txt"):
            assert s.whole
    assert [str(s) for s in D.plan_shards(corpus)] == [str(p) for p in corpus]


def test_standard_input_cannot_be_sharded():
    with pytest.raises(ValueError, match="standard input"):
        D.plan_shards(["-"], 4)


@pytest.mark.parametrize("params", PARAMS, ids=IDS)
def test_out_of_core_equals_in_memory(corpus, tmp_path, monkeypatch, params):
    expected = build_cooccurrence(corpus, min_count=2, **params)
    # Spill after every part counted: many runs, each row band merged from all.
    import cooc.outofcore as O
    from cooc.cooccurrence import WindowCounter

    monkeypatch.setattr(O, "_runs_limit", lambda memory: 0)
    # (a dense block of all 400 words would leave nothing to spill)
    monkeypatch.setattr(WindowCounter, "_DENSE_DEFAULT", 16)
    monkeypatch.setattr(O, "BLOCK", 64)  # many blocks per run, bands of few rows
    monkeypatch.setattr(O, "_MERGE_BYTES_PER_PAIR", 100_000)
    monkeypatch.setattr(O, "_WRITE_BYTES_PER_ENTRY", 20_000)
    out = tmp_path / "ooc.cooc"
    result = D.build_cooccurrence_out_of_core(
        corpus,
        out,
        memory=16 * 2**20,
        spill_dir=tmp_path,
        min_count=2,
        chunk_size=1 << 12,
        **params,
    )
    assert result.n_partials >= 4 and result.n_passes == 1
    assert result.nnz == expected.nnz and result.shape == expected.shape
    assert_same(expected, load_cooc(out))
    assert [p.name for p in tmp_path.iterdir()] == ["ooc.cooc"]  # spill folder gone


@pytest.mark.parametrize("n_dense", [16, None], ids=["runs", "all-dense"])
@pytest.mark.parametrize("params", PARAMS, ids=IDS)
def test_file_build_written_from_memory_in_bands(
    corpus, tmp_path, monkeypatch, params, n_dense
):
    # Fits in memory: no spill, the file written in bands of a few rows, each
    # band's mirror entries searched for in the stored rows before it (in the
    # sorted runs, and in the dense block of the first words).
    import cooc.outofcore as O
    from cooc.cooccurrence import WindowCounter

    expected = build_cooccurrence(corpus, min_count=2, **params)
    monkeypatch.setattr(O, "_MIN_BAND", 50)
    if n_dense is not None:
        monkeypatch.setattr(WindowCounter, "_DENSE_DEFAULT", n_dense)
    out = tmp_path / "bands.cooc"
    result = O.build_cooccurrence_file(
        corpus, out, memory=64 * 2**20, min_count=2, **params
    )
    assert result.n_partials == 0
    assert result.nnz == expected.nnz and result.shape == expected.shape
    assert_same(expected, load_cooc(out))


def test_out_of_core_cli(run_cli, corpus, tmp_path):
    expected = build_cooccurrence(corpus, min_count=2, window_size=3)
    out = tmp_path / "cli.cooc"
    r = run_cli(
        "build",
        *corpus,
        "-o",
        out,
        "--min-count",
        2,
        "--window",
        3,
        "--memory",
        "64M",
        "--spill-dir",
        tmp_path,
        "-q",
    )
    assert r.exit_code == 0, r.output
    assert_same(expected, load_cooc(out))


def test_dask_options_need_the_dask_engine(run_cli, corpus, tmp_path):
    r = run_cli("build", *corpus, "-o", tmp_path / "x.cooc", "--shards", 3)
    assert r.exit_code == 2
    assert "--shards needs --engine dask" in r.output
    r = run_cli("embed", tmp_path / "x.cooc", "-o", tmp_path / "v.npz", "--workers", 2)
    assert r.exit_code == 2
    r = run_cli(
        "vocab",
        *corpus,
        "-o",
        tmp_path / "v.tsv",
        "--engine",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--workers",
        2,
    )
    assert r.exit_code == 2
    assert "--workers sizes the local cluster" in r.output


def test_out_of_core_spills_by_itself_under_a_small_budget(tmp_path):
    """No monkeypatching: 16 MiB leave 2 MiB to the counting tables, which a
    corpus of 3000 distinct words in 20k documents overflows many times."""
    files = write_corpus(
        tmp_path / "big",
        np.random.default_rng(3),
        n_files=2,
        n_docs=10000,
        n_words=3000,
    )[:2]
    params = dict(window_size=8, dynamic_window=True, subsample=1e-3)
    expected = build_cooccurrence(files, **params)
    out = tmp_path / "o.cooc"
    result = D.build_cooccurrence_out_of_core(files, out, memory=16 * 2**20, **params)
    assert result.n_partials > 1
    assert_same(expected, load_cooc(out))


def test_missing_distributed_is_one_clear_line(run_cli, corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    r = run_cli("build", *corpus, "-o", tmp_path / "x.cooc", "--engine", "dask")
    assert r.exit_code == 2
    assert 'pip install "cooc[dask]"' in r.output
    assert len(r.output.strip().splitlines()) == 1


# -- on a LocalCluster -----------------------------------------------------------


@pytest.mark.parametrize("params", PARAMS, ids=IDS)
def test_dask_build_equals_single_machine(client, corpus, params):
    expected = build_cooccurrence(corpus, min_count=2, **params)
    got = D.build_cooccurrence_dask(
        corpus, min_count=2, n_shards=11, client=client, **params
    )
    assert_same(expected, got)


def test_dask_build_with_given_vocabulary(client, corpus):
    voc = build_vocabulary(list(iter_documents(corpus)), min_count=3)
    params = dict(window_size=5, dynamic_window=True, subsample=1e-3)
    expected = build_cooccurrence(corpus, vocabulary=voc, **params)
    got = D.build_cooccurrence_dask(
        corpus, vocabulary=voc, n_shards=7, client=client, **params
    )
    assert_same(expected, got)


def test_dask_vocabulary_equals_single_machine(client, corpus):
    for min_count, max_size in [(1, None), (3, 50)]:
        expected = build_vocabulary(
            list(iter_documents(corpus)), min_count=min_count, max_size=max_size
        )
        got = D.build_vocabulary_dask(
            corpus, min_count=min_count, max_size=max_size, n_shards=9, client=client
        )
        assert got == expected


def test_dask_errors_come_back_as_value_errors(client, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nbroken \xff byte\n")
    with pytest.raises(ValueError, match="invalid UTF-8"):
        D.build_vocabulary_dask([bad], client=client)


def test_dask_svd_agrees_with_single_machine(client, corpus):
    from cooc.pipeline import embed_cooccurrence
    from cooc.svd import svd_embed
    from cooc.weighting import ppmi

    cooc = build_cooccurrence(corpus, min_count=2)
    X = ppmi(cooc.matrix)
    v1, s1 = svd_embed(X, 24, random_state=0)
    v2, s2 = D.svd_embed_dask(X, 24, random_state=0, n_blocks=5, client=client)
    np.testing.assert_allclose(s2, s1, rtol=1e-4)
    np.testing.assert_allclose(np.abs(v2), np.abs(v1), atol=2e-3)
    e1, _ = embed_cooccurrence(cooc, 16, random_state=1)
    e2, _ = D.embed_cooccurrence_dask(cooc, 16, random_state=1, client=client)
    cos = np.abs(np.sum(e1.vectors * e2.vectors, axis=1))
    assert cos.min() > 0.999


def test_cli_on_dask(client, run_cli, corpus, tmp_path):
    address = client.scheduler.address
    expected = build_cooccurrence(
        corpus, min_count=2, window_size=4, dynamic_window=True
    )
    out = tmp_path / "d.cooc"
    r = run_cli(
        "build",
        *corpus,
        "-o",
        out,
        "--min-count",
        2,
        "--window",
        4,
        "--dynamic-window",
        "--engine",
        "dask",
        "--scheduler",
        address,
        "--shards",
        9,
    )
    assert r.exit_code == 0, r.output
    assert "dask: 2 workers" in r.stderr
    got = load_cooc(out)
    got.stats["sources"] = expected.stats["sources"]
    assert_same(expected, got)

    r = run_cli(
        "vocab",
        *corpus,
        "-o",
        tmp_path / "v.tsv",
        "--min-count",
        2,
        "--engine",
        "dask",
        "--scheduler",
        address,
        "--shards",
        5,
        "-q",
    )
    assert r.exit_code == 0 and r.stderr == ""
    assert Vocabulary.load(tmp_path / "v.tsv") == expected.vocabulary

    r = run_cli(
        "embed",
        out,
        "--rank",
        8,
        "-o",
        tmp_path / "v.npz",
        "--engine",
        "dask",
        "--scheduler",
        address,
        "-q",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rank"] == 8
    r = run_cli(
        "embed",
        out,
        "--rank",
        8,
        "-o",
        tmp_path / "v.npz",
        "--engine",
        "dask",
        "--scheduler",
        address,
        "--solver",
        "arpack",
    )
    assert r.exit_code == 2 and "randomized" in r.output


def test_unreachable_scheduler_is_bad_input(run_cli, corpus, tmp_path):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        r = run_cli(
            "build",
            *corpus,
            "-o",
            tmp_path / "x.cooc",
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        )
    assert r.exit_code == 2
    assert "cannot reach the Dask scheduler" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_killed_worker_still_gives_the_same_matrix(client, tmp_path):
    """SIGKILL one worker process while shards are being counted."""
    files = write_corpus(tmp_path, np.random.default_rng(11), n_files=4, n_docs=4000)[
        :4
    ]
    voc = build_vocabulary(list(iter_documents(files)), min_count=2)
    params = dict(window_size=10, dynamic_window=True, subsample=1e-3)
    expected = build_cooccurrence(files, vocabulary=voc, **params)
    n_shards = 40
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(
            D.build_cooccurrence_dask,
            files,
            vocabulary=voc,
            n_shards=n_shards,
            client=client,
            **params,
        )
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline and not job.done():
            for worker, keys in client.has_what().items():
                done = [k for k in keys if str(k).startswith("cooc-count-")]
                if done:
                    victim = worker
                    break
            time.sleep(0.005)
        assert victim is not None and not job.done(), "the build ended before the kill"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        got = job.result(timeout=120)
    assert_same(expected, got)
    client.wait_for_workers(2, timeout=60)
    assert pid not in client.run(os.getpid).values()  # the nanny started a new one


def test_worker_lost_mid_svd_still_gives_the_same_vectors(client, run_cli, tmp_path):
    """``cooc embed --engine dask`` while a worker dies in a transposed product:
    its row blocks and inputs are gone, and the command must still exit 0 with
    the vectors of an undisturbed run."""
    from distributed.diagnostics.plugin import WorkerPlugin

    rng = np.random.default_rng(2)
    words = np.array([f"w{i}" for i in range(150)])
    text = tmp_path / "c.txt"
    text.write_text("".join(" ".join(rng.choice(words, 12)) + "\n" for _ in range(800)))
    build_cooccurrence([text], window_size=4).save(tmp_path / "c.cooc")
    address = client.scheduler.address

    def embed(out):
        args = ["embed", tmp_path / "c.cooc", "--rank", 8, "-o", out]
        r = run_cli(*args, "--engine", "dask", "--scheduler", address, "-q")
        assert r.exit_code == 0, r.output
        with np.load(out) as z:
            return {k: z[k] for k in z.files}

    expected = embed(tmp_path / "a.npz")
    flag = tmp_path / "kill-once"
    flag.touch()

    class DieInTransposedProduct(WorkerPlugin):
        # Defined in the test, so that it travels by value to the workers.
        def __init__(self, flag):
            self.flag = flag

        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or "tmul" not in str(key):
                return
            try:
                os.remove(self.flag)  # only the first worker to get here dies
            except FileNotFoundError:
                return
            os._exit(1)

    pids = set(client.run(os.getpid).values())
    client.register_plugin(DieInTransposedProduct(str(flag)), name="die-in-tmul")
    try:
        got = embed(tmp_path / "b.npz")
    finally:
        client.unregister_worker_plugin("die-in-tmul")
    assert not flag.exists(), "no worker was lost"
    assert expected.keys() == got.keys()
    for k in expected:
        assert np.array_equal(got[k], expected[k]), k
    client.wait_for_workers(2, timeout=60)
    assert pids != set(client.run(os.getpid).values())  # a new worker came up


def test_real_scheduler_and_two_workers_on_loopback(tmp_path, corpus):
    """The README's set-up: `dask scheduler` and two `dask worker` processes."""
    pytest.importorskip("distributed")
    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent))
    cooc_cli = shutil.which("cooc", path=str(Path(sys.executable).parent))
    if dask_cli is None or cooc_cli is None:
        pytest.skip("the dask and cooc scripts are not installed beside python")
    info = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                dask_cli,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs += [
            subprocess.Popen(
                [dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        out = tmp_path / "loop.cooc"
        run = subprocess.run(
            [
                cooc_cli,
                "build",
                *map(str, corpus),
                "-o",
                str(out),
                "--min-count",
                "2",
                "--subsample",
                "1e-3",
                "--engine",
                "dask",
                "--scheduler",
                address,
                "--shards",
                "8",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
    finally:
        for p in procs:
            p.terminate()
        deadline = time.monotonic() + 20
        for p in procs:
            if p.poll() is None and _wait(p, deadline - time.monotonic()) is None:
                p.kill()
    expected = build_cooccurrence(corpus, min_count=2, subsample=1e-3)
    got = load_cooc(out)
    got.stats["sources"] = expected.stats["sources"]
    assert_same(expected, got)


def _wait(proc, seconds):
    """``proc``'s exit code, or None if it is still running after ``seconds``."""
    try:
        return proc.wait(timeout=max(seconds, 0.1))
    except subprocess.TimeoutExpired:
        return None
