"""Random bytes, random text and random shapes into every reader and every command.

Property: cooc either works or stops with a clear error — a ``ValueError`` /
``TypeError`` in Python, exit code 2 with one ``Error:`` line in the CLI —
never a traceback from deep inside.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from cooc.classify import load_model
from cooc.corpus import iter_documents
from cooc.evaluate import load_analogies, load_similarity
from cooc.io import load_cooc
from cooc.svd import Embeddings
from cooc.vision import check_images
from cooc.vocab import Vocabulary

FUZZ = settings(
    max_examples=int(__import__("os").environ.get("COOC_FUZZ_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
blobs = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(lambda s: s.encode("utf-8")),
    # plausible prefixes of real formats, then junk
    st.tuples(
        st.sampled_from([b"PK\x03\x04", b"\x1f\x8b", b"3 2\n", b"\x93NUMPY", b""]),
        st.binary(max_size=300),
    ).map(lambda t: t[0] + t[1]),
)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def clear_or_fine(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        assert str(err).strip(), "an error needs a message"
        assert "\n" not in str(err).strip(), str(err)


READERS = {
    "m.cooc": load_cooc,
    "v.txt": Embeddings.load,
    "v.bin": Embeddings.load,
    "v.npz": Embeddings.load,
    "vocab.tsv": Vocabulary.load,
    "m.skops": load_model,
    "sim.txt": load_similarity,
    "questions.txt": load_analogies,
}


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=blobs)
def test_readers_fail_clearly(tmp_path, name, data):
    clear_or_fine(READERS[name], write(tmp_path, name, data))


@pytest.mark.parametrize("name", ["c.txt", "c.txt.gz", "c.jsonl", "c.csv", "c.bz2"])
@FUZZ
@given(data=blobs, errors=st.sampled_from(["strict", "replace", "ignore"]))
def test_corpus_reader_fails_clearly(tmp_path, name, data, errors):
    path = write(tmp_path, name, data)
    clear_or_fine(lambda: list(iter_documents([path], encoding_errors=errors)))


@FUZZ
@given(
    images=st.one_of(
        arrays(
            st.sampled_from([np.uint8, np.float32, np.float64, np.int64, np.bool_]),
            array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6),
        ),
        st.lists(
            arrays(np.uint8, array_shapes(min_dims=1, max_dims=3, max_side=5)),
            max_size=4,
        ),
        st.text(max_size=5),
    )
)
def test_check_images_fails_clearly(images):
    clear_or_fine(check_images, images)


# -- every command, fed a random file ------------------------------------------------
def invocations(path, tmp):
    out = tmp / "out"
    return {
        "vocab": ["vocab", path, "-o", out],
        "build": ["build", path, "--min-count", "1", "-o", out],
        "info": ["info", path],
        "export": ["export", path, "-o", tmp / "out.tsv"],
        "import": ["import", path, "-o", tmp / "out.cooc"],
        "phrases": ["phrases", path, "--min-count", "1", "-o", tmp / "out.tsv"],
        "embed": ["embed", path, "--rank", "2", "-o", tmp / "out.txt"],
        "similar": ["similar", path, "a"],
        "evaluate": ["evaluate", path, "--similarity", path],
        "quantize": ["quantize", path, "-o", out, "--words", "2"],
        "fit": ["fit", path, "--label-column", "label", "-o", out],
        "predict": ["predict", path, path, "-o", out],
        "report": ["report", path, "--map-words", "5", "-o", tmp / "out.html"],
    }


SUFFIX = {
    "vocab": ".txt",
    "build": ".txt",
    "info": ".cooc",
    "export": ".cooc",
    "import": ".csv",
    "phrases": ".txt",
    "embed": ".cooc",
    "similar": ".txt",
    "evaluate": ".txt",
    "quantize": ".npz",
    "fit": ".csv",
    "predict": ".skops",
    "report": ".npz",
}


def test_every_command_is_fuzzed():
    from cooc.cli import cli

    assert set(SUFFIX) | {"demo"} == set(cli.commands)


@pytest.mark.parametrize("command", sorted(SUFFIX))
@settings(
    max_examples=int(__import__("os").environ.get("COOC_FUZZ_EXAMPLES", 12)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=blobs)
def test_commands_fail_clearly(tmp_path, run_cli, command, data):
    path = write(tmp_path, "input" + SUFFIX[command], data)
    result = run_cli(*invocations(path, tmp_path)[command])
    assert "Traceback" not in result.stderr + result.stdout
    assert result.exit_code in (0, 2), (
        result.exit_code,
        result.stderr,
        result.exception,
    )
    if result.exit_code == 2:
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
        assert len(errors) == 1, result.stderr
        assert result.stdout == ""


@settings(
    max_examples=int(__import__("os").environ.get("COOC_FUZZ_EXAMPLES", 12)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    images=arrays(
        st.sampled_from([np.float32, np.float64]),
        array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=9),
        elements=st.one_of(
            st.floats(-1e3, 1e3, width=32),
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 255.0]),
        ),
    )
)
def test_quantize_random_image_arrays(tmp_path, run_cli, images):
    (tmp_path / "c.tsv").unlink(missing_ok=True)  # tmp_path is shared by examples
    np.savez(tmp_path / "imgs.npz", images=images)
    result = run_cli(
        "quantize",
        tmp_path / "imgs.npz",
        "-o",
        tmp_path / "c.tsv",
        "--words",
        "2",
        "--patch-size",
        "2",
        "--step",
        "1",
    )
    assert "Traceback" not in result.stderr
    assert result.exit_code in (0, 2), (result.stderr, result.exception)
    if result.exit_code == 2:
        assert not (tmp_path / "c.tsv").exists()
