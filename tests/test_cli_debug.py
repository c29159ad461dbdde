"""What the command line does with an exception: cooc's input errors are one
line and exit 2; anything else is a bug, exit 1, with the traceback only under
--debug or COOC_DEBUG."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from cooc.errors import (
    InputError,
    InputTypeError,
    MissingDependencyError,
    UnknownWordError,
)
from cooc.vectors import Embeddings


@pytest.fixture
def vectors(tmp_path):
    path = tmp_path / "v.txt"
    Embeddings(["a", "b", "c"], np.eye(3, dtype=np.float32)).save(path)
    return path


def fail_loading_with(monkeypatch, exc):
    def load(*args, **kwargs):
        raise exc

    monkeypatch.setattr(Embeddings, "load", classmethod(lambda cls, *a, **k: load()))


def lines(result):
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "exc",
    [
        InputError("v.txt: the header says 3 words"),
        InputTypeError("size must be an int"),
        UnknownWordError("word 'zebra' is not in the vocabulary"),
        MissingDependencyError('needs skops: pip install "cooc[skops]"'),
    ],
)
def test_input_errors_are_one_line_and_exit_2(run_cli, vectors, monkeypatch, exc):
    fail_loading_with(monkeypatch, exc)
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 2
    assert lines(result) == [f"Error: {exc.args[0]}"]


@pytest.mark.parametrize(
    "exc", [TypeError("unsupported operand"), KeyError("x"), RuntimeError("odd")]
)
def test_anything_else_is_a_bug_exit_1_without_traceback(
    run_cli, vectors, monkeypatch, exc
):
    monkeypatch.delenv("COOC_DEBUG", raising=False)
    fail_loading_with(monkeypatch, exc)
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 1
    (line,) = lines(result)
    assert line.startswith(f"Error: internal error ({type(exc).__name__}")
    assert "--debug" in line and "COOC_DEBUG=1" in line
    assert "Traceback" not in result.output


def test_debug_flag_and_variable_show_the_traceback(run_cli, vectors, monkeypatch):
    monkeypatch.delenv("COOC_DEBUG", raising=False)
    fail_loading_with(monkeypatch, TypeError("unsupported operand"))
    result = run_cli("--debug", "similar", vectors, "a")
    assert result.exit_code == 1
    assert isinstance(result.exception, TypeError)  # raised, not reworded
    monkeypatch.setenv("COOC_DEBUG", "1")
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 1 and isinstance(result.exception, TypeError)
    monkeypatch.setenv("COOC_DEBUG", "0")  # off again
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 1 and not isinstance(result.exception, TypeError)


def test_debug_does_not_change_input_errors(run_cli, vectors, monkeypatch):
    fail_loading_with(monkeypatch, InputError("bad file"))
    result = run_cli("--debug", "similar", vectors, "a")
    assert result.exit_code == 2 and lines(result) == ["Error: bad file"]


def test_os_errors_about_a_path_are_input_a_full_disk_is_not_a_bug(
    run_cli, vectors, monkeypatch
):
    fail_loading_with(
        monkeypatch, PermissionError(errno.EACCES, "Permission denied", "v.txt")
    )
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 2
    assert lines(result) == ["Error: v.txt: Permission denied"]
    fail_loading_with(
        monkeypatch, OSError(errno.ENOSPC, "No space left on device", "out.tmp")
    )
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 1
    (line,) = lines(result)
    assert "no space left" in line and "out.tmp" in line and "internal" not in line


def test_the_error_classes_are_the_builtin_ones_python_callers_catch():
    assert issubclass(InputError, ValueError)
    assert issubclass(InputTypeError, TypeError) and issubclass(
        InputTypeError, InputError
    )
    assert issubclass(UnknownWordError, KeyError)
    assert str(UnknownWordError("word 'x' is missing")) == "word 'x' is missing"
    assert issubclass(MissingDependencyError, ImportError)
    from cooc.vocab import EmptyCorpusError

    assert issubclass(EmptyCorpusError, InputError)


def test_library_checks_raise_the_input_class(tmp_path):
    # the library's own checks, as the CLI sees them (not only ValueError)
    (tmp_path / "c.txt").write_text("")
    from cooc import build_cooccurrence

    with pytest.raises(InputError, match=r"c\.txt"):
        build_cooccurrence([tmp_path / "c.txt"])
    (tmp_path / "d.txt").write_text("a b c\n")
    with pytest.raises(InputError, match="window"):
        build_cooccurrence([tmp_path / "d.txt"], window_size=0)
    v = Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    with pytest.raises(UnknownWordError, match="zebra"):
        v["zebra"]
    (tmp_path / "v.txt").write_text("2 3\na 1 2 3\n")  # one vector short
    with pytest.raises(InputError, match=r"v\.txt"):
        Embeddings.load(tmp_path / "v.txt")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["embed", "m.cooc", "-o", "x.npz", "--power", "inf"], "'--power': 'inf' is not a finite"),
        (["embed", "m.cooc", "-o", "x.npz", "--shift", "inf"], "'--shift': 'inf' is not a finite"),
        (["embed", "m.cooc", "-o", "x.npz", "--alpha", "nan"], "'--alpha': 'nan' is not a finite"),
        (["build", "c.txt", "-o", "x.cooc", "--seed", str(10**23)], "'--seed'"),
        (["build", "c.txt", "-o", "x.cooc", "--subsample", "nan"], "'--subsample'"),
        (["embed"], "Missing argument"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_usage_errors_and_odd_numbers_are_one_line_at_parse_time(
    run_cli, tmp_path, monkeypatch, args, needle
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.txt").write_text("a b a\n")
    result = run_cli(*args)
    assert result.exit_code == 2
    (line,) = lines(result)
    assert line.startswith("Error: ") and needle in line and "--help')" in line
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.cooc").exists()


def test_library_refuses_infinite_power_shift_and_huge_seeds():
    import scipy.sparse as sp

    from cooc import cooccurrence_matrix, ppmi, svd_embed

    X = sp.random(20, 20, density=0.3, random_state=0, format="csr")
    with pytest.raises(InputError, match="power=inf"):
        svd_embed(X, 3, power=float("inf"))
    with pytest.raises(InputError, match="shift=inf"):
        ppmi(X, shift=float("inf"))
    with pytest.raises(InputError, match="random_state"):
        cooccurrence_matrix([["a", "b"]], dynamic_window=True, random_state=2**70)


def test_a_vocabulary_count_beyond_64_bits_is_one_line(tmp_path):
    from cooc.vocab import Vocabulary

    (tmp_path / "v.tsv").write_text(f"a\t{10**23}\nb\t3\n")
    with pytest.raises(InputError, match=r"v\.tsv:1: count 1\d+ of 'a'"):
        Vocabulary.load(tmp_path / "v.tsv")


def test_out_of_memory_advice_names_the_commands_own_options(run_cli, vectors, monkeypatch):
    fail_loading_with(monkeypatch, MemoryError())
    result = run_cli("similar", vectors, "a")
    assert result.exit_code == 1
    (line,) = lines(result)
    assert "out of memory" in line and "--memory" not in line
