"""Every ``.cooc`` file is checked on read, structure as well as checksums.

A crafted file whose checksums are recomputed (so only its structure is
wrong) must stop every reader with one ``InputError`` line naming the file:
the Python readers (``load_cooc``, ``CoocMatrix.load``, ``export_pairs`` of a
file, ``embed_cooc_file``, ``iter_weighted_blocks``) and the commands that
read a ``.cooc`` (``info``, ``export``, ``embed`` in memory and
``--streaming``): exit code 2, one ``Error:`` line, nothing on stdout, no
output file. Valid files (symmetric, directional, big-endian arrays, no
words) read as before. The fuzz test writes checksum-valid random arrays
and metadata and runs the commands in a separate process, so a crash would
show as a failure instead of killing the test run.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cooc.cooccurrence import cooccurrence_matrix
from cooc.errors import InputError
from cooc.io import CoocMatrix, export_pairs, load_cooc, read_cooc_meta, save_cooc
from cooc.streaming import CoocFile, embed_cooc_file, iter_weighted_blocks
from cooc.vocab import Vocabulary

DOCS = [["a", "b", "a", "c"], ["b", "c", "d"], ["a", "d", "e", "f", "g", "h"]] * 3


# -- writing crafted files -------------------------------------------------------------
def read_members(path):
    """``(arrays, meta)`` of a .cooc file, the arrays writable copies."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k].copy() for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode("utf-8"))
    return arrays, meta


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_members(path, arrays, meta, *, crc=True, compression=zipfile.ZIP_STORED):
    """A zip of ``arrays`` (``.npy`` members, as numpy.savez writes them) and
    ``meta`` (any JSON value); with ``crc`` the metadata's ``crc32`` is made
    that of the arrays as stored, so only the structure can be wrong."""
    if crc and isinstance(meta, dict):
        meta = dict(
            meta,
            crc32={
                k: zlib.crc32(np.ascontiguousarray(v).reshape(-1).view(np.uint8))
                for k, v in arrays.items()
            },
        )
    raw = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, array in [*arrays.items(), ("meta", raw)]:
            zf.writestr(f"{name}.npy", npy_bytes(array))


def built(path, **kwargs):
    """A valid .cooc of 8 words, 29 entries (8 x 16 with symmetric=False)."""
    cooccurrence_matrix(DOCS, window_size=2, **kwargs).save(path)
    return path


def tokens_bytes(tokens) -> np.ndarray:
    return np.frombuffer("\n".join(tokens).encode("utf-8"), dtype=np.uint8).copy()


def swap_in_row(a, m):
    """Two column indices of a row swapped (a row of 2+ entries)."""
    p = a["indptr"]
    s = p[int(np.argmax(np.diff(p) >= 2))]
    a["indices"][[s, s + 1]] = a["indices"][[s + 1, s]]


def duplicate_in_row(a, m):
    p = a["indptr"]
    s = p[int(np.argmax(np.diff(p) >= 2))]
    a["indices"][s + 1] = a["indices"][s]


def ninth_word(a, m):
    """An 8 x 8 matrix with 9 words (tokens, counts and n_words agree)."""
    tokens = [*bytes(a["tokens"]).decode().split("\n"), "zz"]
    a["tokens"] = tokens_bytes(tokens)
    a["counts"] = np.append(a["counts"], 1)
    m["n_words"] = 9


def fewer_rows(a, m):
    """Shape 7 x 7 (indptr cut to 8 values, ending at nnz) for 8 words."""
    a["indptr"] = np.r_[a["indptr"][:7], a["indptr"][-1]]
    m["shape"] = [7, 7]


def set_item(name, index, value):
    def change(a, m):
        a[name][index] = value

    return change


def set_meta(*keys_value):
    *keys, value = keys_value

    def change(m):
        target = m
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def retype(name, dtype):
    def change(a, m):
        a[name] = a[name].astype(dtype)

    return change


@dataclass(frozen=True)
class Defect:
    arrays: object = None  # change(arrays, meta) before the checksums are made
    meta: object = None  # change(meta) after them (or a new record returned)
    needle: str = ""  # in the error line
    directional: bool = False


DEFECTS = {
    "negative column index": Defect(set_item("indices", 3, -1), needle="index -1"),
    "column index = number of columns": Defect(
        set_item("indices", 3, 8), needle="column index 8, outside 0..7"
    ),
    "column index beyond the directional layout": Defect(
        set_item("indices", 3, 16), needle="outside 0..15", directional=True
    ),
    "column indices not sorted": Defect(swap_in_row, needle="not increasing"),
    "a column index twice in a row": Defect(duplicate_in_row, needle="not increasing"),
    "indptr not increasing": Defect(
        lambda a, m: a["indptr"].__setitem__(2, a["indptr"][3] + 1),
        needle="indptr decreases at row",
    ),
    "indptr not starting at 0": Defect(set_item("indptr", 0, 1), needle="starts at 1"),
    "indptr not ending at nnz": Defect(
        set_item("indptr", -1, 28), needle="ends at 28, not at the 29"
    ),
    "indptr one value short": Defect(
        lambda a, m: a.__setitem__("indptr", a["indptr"][:-1].copy()),
        needle="'indptr' has shape (8,)",
    ),
    "nnz not the length of the entries": Defect(
        meta=set_meta("nnz", 30), needle="'indices' has shape (29,)"
    ),
    "8 x 8 matrix with 9 words": Defect(ninth_word, needle="8 rows for 9 words"),
    "shape not the vocabulary size": Defect(fewer_rows, needle="7 rows for 8 words"),
    "columns neither n nor 2n": Defect(
        meta=set_meta("shape", [8, 9]), needle="9 columns for 8 words"
    ),
    "directional matrix of n columns": Defect(
        meta=set_meta("params", "symmetric", False), needle="expected 16, an L: and"
    ),
    "crc32 a list": Defect(meta=set_meta("crc32", [1, 2, 3]), needle="'crc32'"),
    "crc32 value a string": Defect(
        meta=set_meta("crc32", "data", "123"), needle="'crc32.data'"
    ),
    "crc32 value beyond 32 bits": Defect(
        meta=set_meta("crc32", "data", 1 << 40), needle="'crc32.data'"
    ),
    "params a string": Defect(meta=set_meta("params", "x"), needle="'params'"),
    "stats a list": Defect(meta=set_meta("stats", [1]), needle="'stats'"),
    "shape a string": Defect(meta=set_meta("shape", "8x8"), needle="'shape'"),
    "shape of floats": Defect(meta=set_meta("shape", [8.0, 8.0]), needle="'shape'"),
    "nnz a string": Defect(meta=set_meta("nnz", "29"), needle="'nnz'"),
    "n_words negative": Defect(meta=set_meta("n_words", -1), needle="'n_words'"),
    "n_words missing": Defect(
        meta=lambda m: m.__delitem__("n_words"), needle="no 'n_words' in the metadata"
    ),
    "format_version a string": Defect(
        meta=set_meta("format_version", "1"), needle="'format_version'"
    ),
    "cooc_version a number": Defect(
        meta=set_meta("cooc_version", 2), needle="'cooc_version'"
    ),
    "params.symmetric a string": Defect(
        meta=set_meta("params", "symmetric", "yes"), needle="'params.symmetric'"
    ),
    "params.symmetric_counts a number": Defect(
        meta=set_meta("params", "symmetric_counts", 1),
        needle="'params.symmetric_counts'",
    ),
    "params.scale zero": Defect(
        meta=set_meta("params", "scale", 0), needle="'params.scale'"
    ),
    "complex counts": Defect(retype("data", np.complex128), needle="complex128"),
    "float32 counts": Defect(retype("data", np.float32), needle="float32"),
    "float column indices": Defect(
        retype("indices", np.float64), needle="'indices' holds float64"
    ),
    "int64 column indices": Defect(
        retype("indices", np.int64), needle="'indices' holds int64"
    ),
    "2-D column indices": Defect(
        lambda a, m: a.__setitem__("indices", a["indices"].reshape(1, -1)),
        needle="'indices'",
    ),
    "NaN count": Defect(set_item("data", 5, np.nan), needle="count nan"),
    "negative count": Defect(set_item("data", 5, -1.0), needle="count -1.0"),
    "infinite count": Defect(set_item("data", 5, np.inf), needle="count inf"),
    "counts adding up beyond float64": Defect(
        lambda a, m: a["data"].__setitem__(slice(None), 1e308), needle="add up to"
    ),
    "tokens not UTF-8": Defect(set_item("tokens", 0, 0xFF), needle="not UTF-8"),
    "a token twice": Defect(
        lambda a, m: a.__setitem__("tokens", tokens_bytes("abcdefgg")),
        needle="'g' is in the vocabulary twice",
    ),
    "negative word count": Defect(set_item("counts", 2, -5), needle="below 0"),
    "no counts array": Defect(lambda a, m: a.pop("counts"), needle="no 'counts' array"),
    "metadata a JSON list": Defect(meta=lambda m: [m], needle="not a .cooc file"),
}


def make_defect(tmp_path, name) -> Path:
    defect = DEFECTS[name]
    path = tmp_path / "m.cooc"
    built(path, symmetric=not defect.directional)
    arrays, meta = read_members(path)
    if defect.arrays is not None:
        defect.arrays(arrays, meta)
    if defect.meta is None:
        write_members(path, arrays, meta)
        return path
    write_members(path, arrays, meta)  # checksums of the arrays as stored
    _, meta = read_members(path)
    changed = defect.meta(meta)  # in place, or a new record
    write_members(path, arrays, meta if changed is None else changed, crc=False)
    return path


def one_line(message: str, path: Path):
    assert "\n" not in message.strip(), message
    assert repr(str(path)) in message or str(path) in message, message


# -- crafted files: the Python readers -------------------------------------------------
@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_python_readers_refuse_a_crafted_file(tmp_path, name):
    path = make_defect(tmp_path, name)
    needle = DEFECTS[name].needle
    for read in (load_cooc, CoocMatrix.load):
        with pytest.raises(InputError) as err:
            read(path)
        one_line(str(err.value), path)
        assert needle in str(err.value), (needle, str(err.value))
    out = tmp_path / "pairs.tsv"
    with pytest.raises(InputError, match=r"m\.cooc") as err:
        export_pairs(path, out)
    assert needle in str(err.value), (needle, str(err.value))
    assert not out.exists()
    with pytest.raises(InputError, match=r"m\.cooc") as err:
        embed_cooc_file(path, None, 2)
    assert needle in str(err.value), (needle, str(err.value))
    with pytest.raises(InputError, match=r"m\.cooc"):
        list(iter_weighted_blocks(path))


def test_the_first_problem_in_row_order_is_named(tmp_path):
    # two defects: the earlier one (row order) is reported, by every reader
    path = built(tmp_path / "m.cooc")
    arrays, meta = read_members(path)
    p = arrays["indptr"]
    arrays["data"][p[5] + 1] = np.nan
    arrays["indices"][p[2]] = -7
    write_members(path, arrays, meta)
    with pytest.raises(InputError, match=r"row 2 has column index -7, outside 0\.\.7"):
        load_cooc(path)
    with pytest.raises(InputError, match=r"row 2 has column index -7, outside 0\.\.7"):
        export_pairs(path, tmp_path / "p.tsv")


def test_a_checksum_mismatch_is_reported_before_the_structure(tmp_path):
    path = built(tmp_path / "m.cooc")
    arrays, meta = read_members(path)
    arrays["indices"][3] = -1  # checksums not recomputed
    write_members(path, arrays, meta, crc=False)
    for read in (load_cooc, lambda p: export_pairs(p, tmp_path / "p.tsv")):
        with pytest.raises(InputError, match=r"checksum mismatch in 'indices'"):
            read(path)


def test_read_cooc_meta_checks_the_metadata(tmp_path):
    path = make_defect(tmp_path, "params a string")
    with pytest.raises(InputError, match=r"metadata field 'params' is a JSON string"):
        read_cooc_meta(path)


# -- crafted files: the commands -------------------------------------------------------
COMMANDS = {
    "info": lambda p, t: ["info", p],
    "export": lambda p, t: ["export", p, "-o", t / "out.tsv"],
    "embed": lambda p, t: ["embed", p, "--rank", "2", "-o", t / "out.txt"],
    "embed --streaming": lambda p, t: [
        *("embed", p, "--rank", "2", "--streaming", "-o", t / "out.txt")
    ],
    "embed --memory": lambda p, t: [
        *("embed", p, "--rank", "2", "--memory", "1G", "-o", t / "out.txt")
    ],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_commands_refuse_a_crafted_file(tmp_path, run_cli, name, command):
    path = make_defect(tmp_path, name)
    result = run_cli(*COMMANDS[command](path, tmp_path))
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert str(path) in errors[0] and DEFECTS[name].needle in errors[0], errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.cooc"]


# -- valid files read as before --------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs", [{}, {"symmetric": False}, {"dynamic_window": True, "random_state": 1}]
)
def test_valid_files_load_as_written(tmp_path, run_cli, kwargs):
    original = cooccurrence_matrix(DOCS, window_size=3, **kwargs)
    path = tmp_path / "m.cooc"
    original.save(path)
    loaded = load_cooc(path)
    assert (loaded.matrix != original.matrix).nnz == 0
    assert loaded.matrix.has_canonical_format
    assert loaded.vocabulary == original.vocabulary
    for command in ("info", "export", "embed", "embed --streaming"):
        result = run_cli(*COMMANDS[command](path, tmp_path))
        assert result.exit_code == 0, (command, result.stderr, result.exception)


def test_big_endian_arrays_read_the_same(tmp_path, run_cli):
    path = built(tmp_path / "m.cooc")
    original = load_cooc(path)
    arrays, meta = read_members(path)
    swapped = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    other = tmp_path / "big.cooc"
    write_members(other, swapped, meta)
    loaded = load_cooc(other)
    assert (loaded.matrix != original.matrix).nnz == 0
    assert loaded.vocabulary == original.vocabulary
    export_pairs(path, tmp_path / "a.tsv")
    export_pairs(other, tmp_path / "b.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert run_cli("info", other).exit_code == 0


def test_a_compressed_copy_loads_in_memory(tmp_path, run_cli):
    path = built(tmp_path / "m.cooc")
    arrays, meta = read_members(path)
    deflated = tmp_path / "deflated.cooc"
    write_members(deflated, arrays, meta, compression=zipfile.ZIP_DEFLATED)
    assert (load_cooc(deflated).matrix != load_cooc(path).matrix).nnz == 0
    result = run_cli("info", deflated)  # row blocks need stored members
    assert result.exit_code == 2 and "compressed" in result.stderr


def test_a_matrix_of_no_words_is_shown_not_refused(tmp_path, run_cli):
    path = tmp_path / "empty.cooc"
    CoocMatrix(sp.csr_matrix((0, 0)), Vocabulary([]), {"symmetric": True}, {}).save(
        path
    )
    assert load_cooc(path).shape == (0, 0)
    assert run_cli("info", path).exit_code == 0
    assert run_cli("export", path, "-o", tmp_path / "p.tsv").exit_code == 0
    result = run_cli("embed", path, "--streaming", "-o", tmp_path / "v.txt")
    assert result.exit_code == 2 and "n_components" in result.stderr


# -- what save_cooc writes, load_cooc reads --------------------------------------------
def test_save_sorts_and_sums_a_matrix_that_is_not_canonical(tmp_path):
    m = sp.csr_matrix(
        (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 0]), np.array([0, 3, 4])),
        shape=(2, 2),
    )
    assert not m.has_canonical_format
    cooc = CoocMatrix(m, Vocabulary(["a", "b"]), {}, {})
    save_cooc(cooc, tmp_path / "m.cooc")
    loaded = load_cooc(tmp_path / "m.cooc")
    np.testing.assert_array_equal(loaded.matrix.toarray(), [[2.0, 4.0], [4.0, 0.0]])
    np.testing.assert_array_equal(loaded.matrix.indices, [0, 1, 0])


@pytest.mark.parametrize(
    "matrix, vocabulary, params, needle",
    [
        (sp.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0]])), "ab", {}, "negative"),
        (sp.csr_matrix(np.array([[0.0, np.nan], [1.0, 0.0]])), "ab", {}, "NaN"),
        (sp.csr_matrix(np.eye(2)), "abc", {}, "2 rows for 3 words"),
        (sp.csr_matrix(np.ones((2, 3))), "ab", {}, "3 columns for 2 words"),
        (sp.csr_matrix(np.eye(2)), "ab", {"symmetric": False}, "expected 4"),
    ],
)
def test_save_refuses_what_load_would(tmp_path, matrix, vocabulary, params, needle):
    cooc = CoocMatrix(matrix, Vocabulary(list(vocabulary)), params, {})
    with pytest.raises(InputError, match=needle):
        save_cooc(cooc, tmp_path / "m.cooc")
    assert not (tmp_path / "m.cooc").exists()


def test_streamed_reader_names_the_same_problem(tmp_path):
    path = make_defect(tmp_path, "column indices not sorted")
    with pytest.raises(InputError) as in_memory:
        load_cooc(path)
    with CoocFile(path) as cf, pytest.raises(InputError) as streamed:
        indptr = cf.indptr()
        indices, data = cf.read_rows(0, cf.shape[0], indptr)
        cf.check_rows(0, indptr, indices, data)
    assert str(in_memory.value) == str(streamed.value)


# -- fuzz: checksum-valid random arrays and metadata -----------------------------------
FUZZ_EXAMPLES = int(os.environ.get("COOC_FUZZ_EXAMPLES", 100))

# A worker process runs the commands in turn (one start-up for all the
# examples); a crash ends it, and the test then fails naming the file.
WORKER = r"""
import json, sys
from click.testing import CliRunner
from cooc.cli import cli

runner = CliRunner()
for line in sys.stdin:
    results = []
    for args in json.loads(line):
        r = runner.invoke(cli, args, catch_exceptions=True)
        bug = r.exception if not isinstance(r.exception, SystemExit) else None
        results.append([r.exit_code, r.stdout, r.stderr, repr(bug) if bug else None])
    sys.__stdout__.write(json.dumps(results) + "\n")
    sys.__stdout__.flush()
"""


class Worker:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def run(self, commands, path, timeout=120):
        self.proc.stdin.write(json.dumps([[str(a) for a in c] for c in commands]))
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            code = self.proc.wait()
            raise AssertionError(
                f"the commands crashed or hung on {path} (worker exit code {code})"
            )
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 40)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
DTYPES = [
    "<i8", "<i4", "<f8", "u1", "<i2", "<u4", "<u8", ">i8", ">i4", ">f8", "<f4",
    "<c16", "|b1",
]  # fmt: skip
SPECIAL_COUNTS = [np.nan, np.inf, -np.inf, -1.0, -0.0, 0.0, 5e-324, 1e308, 2.5]


@st.composite
def cooc_files(draw):
    """``(arrays, meta, note)``: a random valid matrix, then a few random
    changes of its arrays (values, dtypes, lengths, shapes) and metadata
    (any field replaced by any JSON value, or dropped)."""
    n = draw(st.integers(0, 5))
    directional = draw(st.booleans())
    n_cols = 2 * n if directional else n
    dense = np.zeros((n, n_cols))
    cells = draw(
        st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), max_size=12)
    )
    for i, j in cells:
        if n:
            dense[i % n, j % n_cols] = draw(st.sampled_from([1.0, 0.5, 3.0, 1e6]))
    m = sp.csr_matrix(dense)
    tokens = [f"w{i}" for i in range(n)]
    arrays = {
        "indptr": m.indptr.astype(np.int64),
        "indices": m.indices.astype(np.int32),
        "data": m.data.astype(np.float64),
        "tokens": tokens_bytes(tokens),
        "counts": np.arange(n, dtype=np.int64),
    }
    meta = {
        "format": "cooc-matrix",
        "format_version": 1,
        "cooc_version": "0.2.0",
        "shape": [n, n_cols],
        "nnz": int(m.nnz),
        "n_words": n,
        "params": {"symmetric": not directional, "scale": 1},
        "stats": {"n_docs": 1},
    }
    notes = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["value", "index", "indptr", "swap", "dtype", "length", "2-D",
                 "drop", "meta", "meta-drop", "meta-off-by-one", "tokens", "counts"]
            )
        )  # fmt: skip
        name = draw(st.sampled_from(sorted(arrays)))
        a = arrays.get(name)
        data, indices = arrays.get("data"), arrays.get("indices")
        if kind == "value" and data is not None and data.size:
            k = draw(st.integers(0, data.size - 1))
            with np.errstate(all="ignore"):  # whatever the dtype makes of it
                data.reshape(-1)[k] = np.array(draw(st.sampled_from(SPECIAL_COUNTS)))
        elif kind == "index" and indices is not None and indices.size:
            k = draw(st.integers(0, indices.size - 1))
            with np.errstate(all="ignore"):
                indices.reshape(-1)[k] = np.array(draw(st.integers(-5, n_cols + 5)))
        elif kind == "swap" and a is not None and a.ndim == 1 and a.size >= 2:
            # two neighbours exchanged: indptr decreasing, indices unsorted...
            k = draw(st.integers(0, a.size - 2))
            a[[k, k + 1]] = a[[k + 1, k]]
        elif kind == "indptr":
            arrays["indptr"] = np.array(
                draw(st.lists(st.integers(-3, 40), min_size=0, max_size=8)),
                dtype=np.int64,
            )
        elif kind == "dtype" and a is not None:
            arrays[name] = a.astype(draw(st.sampled_from(DTYPES)))
        elif kind == "length" and a is not None:
            arrays[name] = np.resize(a, max(0, a.size + draw(st.integers(-2, 2))))
        elif kind == "2-D" and a is not None:
            arrays[name] = a.reshape(1, -1)
        elif kind == "drop" and a is not None:
            del arrays[name]
        elif kind == "meta":
            field = draw(st.sampled_from([*meta, "crc32"]))
            meta[field] = draw(json_values)
        elif kind == "meta-drop" and meta:
            meta.pop(draw(st.sampled_from(sorted(meta))))
        elif kind == "meta-off-by-one":
            field = draw(st.sampled_from(["nnz", "n_words", "shape"]))
            step = draw(st.sampled_from([-1, 1]))
            if isinstance(meta.get(field), int):
                meta[field] += step
            elif isinstance(meta.get(field), list) and len(meta[field]) == 2:
                meta[field] = [meta[field][0], meta[field][1] + step]
        elif kind == "tokens":
            arrays["tokens"] = np.frombuffer(
                draw(st.binary(max_size=20)), dtype=np.uint8
            ).copy()
        elif kind == "counts":
            arrays["counts"] = np.array(
                draw(st.lists(st.integers(-3, 2**62), max_size=6)), dtype=np.int64
            )
        notes.append(f"{kind}:{name}")
    return arrays, meta, notes


def check_consistent(cooc, path):
    """What a loaded matrix must be, checked without cooc's own checks."""
    m = cooc.matrix
    n = len(cooc.vocabulary.tokens)
    assert m.shape[0] == n and m.shape[1] in (n, 2 * n), (m.shape, n)
    assert m.indptr[0] == 0 and m.indptr[-1] == m.nnz
    assert np.all(np.diff(m.indptr) >= 0)
    for i in range(n):
        row = m.indices[m.indptr[i] : m.indptr[i + 1]]
        assert np.all(np.diff(row) > 0) and (row.size == 0 or row[0] >= 0)
        assert row.size == 0 or row[-1] < m.shape[1]
    assert np.all(np.isfinite(m.data)) and np.all(m.data >= 0)
    assert np.isfinite(m.data.sum())
    assert len(set(cooc.vocabulary.tokens)) == n


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cooc_files())
def test_fuzz_every_reader_loads_or_refuses(tmp_path, worker, case):
    arrays, meta, notes = case
    path = tmp_path / "f.cooc"
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    write_members(path, arrays, meta)
    try:
        cooc = load_cooc(path)
    except InputError as err:
        one_line(str(err), path)
        loaded = False
        why = str(err).split("(", 1)[-1]
        event("refused: " + re.sub(r"-?\d+", "N", why)[:28])
    else:
        check_consistent(cooc, path)
        loaded = True
        event(f"loaded, {'some' if cooc.nnz else 'no'} entries")
    try:
        read_cooc_meta(path)
    except InputError as err:
        one_line(str(err), path)
    commands = [COMMANDS[c](path, tmp_path) for c in COMMANDS]
    results = worker.run(commands, path)
    for (code, stdout, stderr, bug), command in zip(results, COMMANDS, strict=True):
        where = (command, notes, code, stderr, bug)
        assert code in (0, 2), where
        assert "Traceback" not in stderr + stdout, where
        if code == 2:
            errors = [ln for ln in stderr.splitlines() if ln.startswith("Error")]
            assert len(errors) == 1 and stdout == "", where
        if command in ("info", "export"):
            # the streamed and the in-memory reader agree on every file
            assert (code == 0) == loaded, where
        elif not loaded:
            assert code == 2, where
    assert not (tmp_path / "out.txt").exists() or loaded
