"""Every bad input of the README's "Errors and guarantees" table, run end to end.

Each row of ``CASES`` builds its input in a fresh folder, runs one ``cooc``
command and checks: exit code 2, exactly one ``Error:`` line on stderr that
contains the expected words, no traceback, nothing on stdout and no output
file left behind. ``python -m tests.test_errors`` prints the Markdown table
the README holds; ``test_readme_table_is_current`` keeps the two in step.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
README = Path(__file__).parents[1] / "README.md"
TABLE_START = "<!-- errors-table:start -->"
TABLE_END = "<!-- errors-table:end -->"


@dataclass(frozen=True)
class Case:
    what: str  # the bad input, as the README row says it
    setup: Callable[[Path], list]  # builds files in the folder, returns the CLI args
    needles: tuple  # words the error line must contain
    output: str = "out"  # output path that must not exist afterwards


def corpus(tmp: Path, text="a b a\nb c\n", name="c.txt") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def built(tmp: Path) -> Path:
    """A small valid .cooc file."""
    from cooc.cooccurrence import cooccurrence_matrix

    docs = [["a", "b", "a", "c"], ["b", "c", "d"], ["a", "d"]] * 3
    path = tmp / "m.cooc"
    cooccurrence_matrix(docs, window_size=2).save(path)
    return path


def fit_with_features(tmp: Path, array, **save) -> list:
    """``cooc fit`` of a two-item table with ``array`` saved as ``--features f.npy``."""
    (tmp / "items.csv").write_text("text,label\nred,x\nblue,y\n")
    np.save(tmp / "f.npy", array, **save)
    return ["fit", tmp / "items.csv", "--label-column", "label",
            "--features", tmp / "f.npy", "-o", tmp / "out"]  # fmt: skip


def vectors(tmp: Path) -> Path:
    path = tmp / "v.txt"
    path.write_text("3 2\na 1 0\nb 0 1\nc 1 1\n", encoding="utf-8")
    return path


def foreign_sidecar(tmp: Path) -> Path:
    """v.txt (see :func:`vectors`) with a subword model fitted on other words."""
    from cooc.subwords import fit_subwords
    from cooc.vectors import Embeddings

    fit_subwords(Embeddings(["x", "y", "z"], np.eye(3, 2))).save(tmp / "w.txt")
    (tmp / "w.txt.subwords.npz").rename(tmp / "v.txt.subwords.npz")
    return vectors(tmp)


def truncated_cooc(tmp):
    path = built(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return ["info", path]


def corrupted_cooc(tmp):
    path = built(tmp)
    # change one value of the stored matrix, keeping the archive readable
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in members if "data" in n)
    raw = bytearray(members[name])
    raw[-1] ^= 0xFF
    members[name] = bytes(raw)
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return ["embed", path, "--rank", "2", "-o", tmp / "out.txt"]


def newer_cooc(tmp):
    path = built(tmp)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in members if "meta" in n)
    arr = np.load(io.BytesIO(members[name]), allow_pickle=False)
    meta = json.loads(bytes(arr).decode("utf-8"))
    meta["format_version"] = 99
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    members[name] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return ["info", path]


def cut_gzip() -> bytes:
    """The first half of a gzip stream of 2,000 distinct words."""
    words = " ".join(f"w{i}" for i in range(2000)).encode()
    data = gzip.compress(words + b"\n")
    return data[: len(data) // 2]


def pngs(tmp, sizes) -> Path:
    """A folder of PNG files a.png, b.png, ... of the given (height, width)."""
    from PIL import Image

    folder = tmp / "pics"
    folder.mkdir()
    for name, (h, w) in zip("abcdefgh", sizes, strict=False):
        Image.fromarray(np.zeros((h, w, 3), dtype=np.uint8)).save(
            folder / f"{name}.png"
        )
    return folder


def npz(tmp, images, name="imgs.npz"):
    np.savez(tmp / name, images=images)
    return tmp / name


def table(tmp, rows, name="items.csv"):
    import pandas as pd

    pd.DataFrame(rows).to_csv(tmp / name, index=False)
    return tmp / name


CASES = [
    Case(
        "corpus file does not exist",
        lambda t: ["build", t / "missing.txt", "-o", t / "out"],
        ("missing.txt",),
    ),
    Case(
        "corpus directory holds no files",
        lambda t: (
            (t / "empty_dir").mkdir() or ["build", t / "empty_dir", "-o", t / "out"]
        ),
        ("empty_dir",),
    ),
    Case(
        "a folder where a file is expected",
        lambda t: (t / "folder.cooc").mkdir() or ["info", t / "folder.cooc"],
        ("folder.cooc", "directory"),
    ),
    Case(
        "empty corpus file",
        lambda t: ["build", corpus(t, ""), "-o", t / "out"],
        ("c.txt",),
    ),
    Case(
        "invalid UTF-8 (default --encoding-errors strict)",
        lambda t: (
            (t / "bad.txt").write_bytes(b"good line\nbad \xff\xfe byte\n")
            and ["build", t / "bad.txt", "-o", t / "out"]
        ),
        ("bad.txt", "line 2"),
    ),
    Case(
        "binary file (NUL bytes)",
        lambda t: (
            (t / "blob.txt").write_bytes(bytes(range(256)) * 8)
            and ["build", t / "blob.txt", "-o", t / "out"]
        ),
        ("blob.txt",),
    ),
    Case(
        "gzip file that is cut short",
        lambda t: (
            (t / "cut.txt.gz").write_bytes(cut_gzip())
            and ["build", t / "cut.txt.gz", "-o", t / "out"]
        ),
        ("cut.txt.gz",),
    ),
    Case(
        "empty vocabulary after --min-count",
        lambda t: ["build", corpus(t), "--min-count", "50", "-o", t / "out"],
        ("min_count=50",),
    ),
    Case(
        "--window 0",
        lambda t: ["build", corpus(t), "--window", "0", "-o", t / "out"],
        ("--window",),
    ),
    Case(
        "--memory below what the build needs",
        lambda t: [
            "build",
            corpus(t),
            "--min-count",
            "1",
            "--memory",
            "1K",
            "--window",
            "5",
            "-o",
            t / "out",
        ],
        ("--memory",),
    ),
    Case(
        "unknown --column in a CSV corpus",
        lambda t: [
            "build",
            table(t, {"body": ["a b", "c d"]}),
            "--column",
            "text",
            "-o",
            t / "out",
        ],
        ("text", "body"),
    ),
    Case(
        "--rank not below the matrix size",
        lambda t: ["embed", built(t), "--rank", "4", "-o", t / "out"],
        ("--rank",),
    ),
    Case(
        "truncated .cooc file",
        truncated_cooc,
        ("m.cooc",),
    ),
    Case(
        "corrupted .cooc file (checksum mismatch)",
        corrupted_cooc,
        ("m.cooc", "checksum"),
    ),
    Case(
        ".cooc file from a newer format version",
        newer_cooc,
        ("m.cooc", "newer"),
    ),
    Case(
        "vectors file cut short",
        lambda t: (
            (t / "v.txt").write_text("3 2\na 1 0\nb 0", encoding="utf-8")
            and ["similar", t / "v.txt", "a"]
        ),
        ("v.txt",),
    ),
    Case(
        "vectors .npz that is not a vectors archive",
        lambda t: np.savez(t / "v.npz", other=np.zeros(3))
        or ["similar", t / "v.npz", "a"],
        ("v.npz",),
    ),
    Case(
        "word not in the vectors",
        lambda t: ["similar", vectors(t), "zebra"],
        ("zebra",),
    ),
    Case(
        "images of different sizes",
        lambda t: ["quantize", pngs(t, [(16, 16), (20, 12)]), "-o", t / "out"],
        ("b.png", "--image-size"),
    ),
    Case(
        "images holding NaN",
        lambda t: ["quantize", npz(t, np.full((3, 16, 16), np.nan)), "-o", t / "out"],
        ("NaN",),
    ),
    Case(
        "images of zero size",
        lambda t: ["quantize", npz(t, np.zeros((3, 0, 16))), "-o", t / "out"],
        ("imgs.npz",),
    ),
    Case(
        "fewer images than table rows",
        lambda t: [
            "fit",
            table(t, {"text": ["a b", "b c", "c d"], "label": [0, 1, 0]}),
            "--label-column",
            "label",
            "--images",
            npz(t, np.zeros((2, 16, 16), dtype=np.uint8)),
            "-o",
            t / "out",
        ],
        ("images", "3"),
    ),
    Case(
        "label column with one class",
        lambda t: [
            "fit",
            table(t, {"text": ["a b", "b c", "c d"], "label": ["x"] * 3}),
            "--label-column",
            "label",
            "--image-column",
            "",
            "-o",
            t / "out",
        ],
        ("single class",),
    ),
    Case(
        "unknown label column",
        lambda t: [
            "fit",
            table(t, {"text": ["a b", "b c"], "label": ["x", "y"]}),
            "--label-column",
            "category",
            "-o",
            t / "out",
        ],
        ("category",),
    ),
    Case(
        "model file that is not a model",
        lambda t: (
            (t / "m.skops").write_bytes(b"PK\x03\x04 not really")
            and ["predict", t / "m.skops", table(t, {"text": ["a"]}), "-o", t / "out"]
        ),
        ("m.skops",),
    ),
    # -- crafted .cooc files --
    # (made by tests/test_cooc_validation.py's make_defect: checksums recomputed)
    *(
        Case(
            what,
            lambda t, defect=defect, command=command: [
                command[0],
                __import__("runpy").run_path(
                    str(Path(__file__).with_name("test_cooc_validation.py"))
                )["make_defect"](t, defect),
                *(t / a if a.startswith("out.") else a for a in command[1:]),
            ],
            ("m.cooc", needle),
        )
        for what, defect, command, needle in [
            (
                "`.cooc` with a negative column index (checksums valid)",
                "negative column index",
                ["embed", "--rank", "2", "-o", "out.txt"],
                "column index -1",
            ),
            (
                "`.cooc` whose indptr is not increasing (checksums valid)",
                "indptr not increasing",
                ["export", "-o", "out.tsv"],
                "indptr decreases",
            ),
            (
                "`.cooc` whose shape is not the vocabulary size",
                "shape not the vocabulary size",
                ["embed", "--rank", "2", "--streaming", "-o", "out.txt"],
                "7 rows for 8 words",
            ),
            (
                "`.cooc` metadata field of the wrong type",
                "params a string",
                ["info"],
                "metadata field 'params'",
            ),
        ]
    ),
    # -- checkpoints and vectors files --
    Case(
        "vectors file holding NaN or infinity",
        lambda t: (
            (t / "v.txt").write_text("2 2\na 1 0\nb nan 1\n", encoding="utf-8")
            and ["similar", t / "v.txt", "a"]
        ),
        ("v.txt:3", "NaN"),
    ),
    Case(
        "checkpoint manifest that is not one",
        lambda t: (
            (t / "ck").mkdir()
            or (t / "ck" / "manifest.json").write_text("[1, 2]", encoding="utf-8")
            and ["build", corpus(t), "--checkpoint", t / "ck", "-o", t / "out"]
        ),
        ("manifest.json", "not a cooc checkpoint manifest"),
    ),
    Case(
        "a directory where a checkpoint shard file goes",
        lambda t: (
            (t / "ck" / "counts-00000.npz").mkdir(parents=True)
            or ["build", corpus(t), "--checkpoint", t / "ck", "-o", t / "out"]
        ),
        ("counts-00000.npz", "directory"),
    ),
    # -- environment: outputs, permissions, globs, compressed tables, images, models --
    Case(
        "a FIFO, a device or a socket as -o (a link is written through)",
        lambda t: (
            __import__("os").mkfifo(t / "out.cooc")
            or ["build", corpus(t), "-o", t / "out.cooc"]
        ),
        ("out.cooc", "FIFO", "not a regular file"),
        output=".out.cooc",  # (no temporary file left; the FIFO stays)
    ),
    Case(
        "a broken symbolic link in a corpus folder",
        lambda t: (
            (t / "docs").mkdir()
            or corpus(t / "docs", name="a.txt")
            .with_name("gone.txt")
            .symlink_to("a.bak")
            or ["build", t / "docs", "-o", t / "out"]
        ),
        ("gone.txt", "a.bak", "does not exist"),
    ),
    Case(
        "the same file named twice (a folder and a file in it)",
        lambda t: (
            (t / "docs").mkdir()
            or corpus(t / "docs", name="a.txt").touch()
            or ["build", t / "docs", t / "docs" / "a.txt", "-o", t / "out"]
        ),
        ("a.txt", "docs", "name each file once"),
    ),
    Case(
        "gzip CSV corpus cut short (--column)",
        lambda t: (
            (t / "items.csv.gz").write_bytes(
                (packed := gzip.compress(b"text\n" + b"a b\n" * 9999))[
                    : len(packed) // 2
                ]
            )
            and ["build", t / "items.csv.gz", "--column", "text", "-o", t / "out"]
        ),
        ("cannot decompress", "items.csv.gz", "complete .gz file"),
    ),
    Case(
        "a .csv.bz2 table that is not bz2",
        lambda t: (
            (t / "items.csv.bz2").write_bytes(b"text,label\na b,x\nb c,y\n")
            and [
                "fit",
                t / "items.csv.bz2",
                "--label-column",
                "label",
                "--image-column",
                "",
                "-o",
                t / "out",
            ]
        ),
        ("cannot decompress", "items.csv.bz2", "complete .bz2 file"),
    ),
    Case(
        "model file holding another estimator",
        lambda t: (
            __import__("cooc.classify", fromlist=["save_model"]).save_model(
                __import__("sklearn.linear_model", fromlist=["LogisticRegression"])
                .LogisticRegression()
                .fit([[0.0], [1.0]], [0, 1]),
                t / "m.skops",
            )
            or ["predict", t / "m.skops", table(t, {"text": ["a"]}), "-o", t / "out"]
        ),
        ("m.skops", "LogisticRegression", "not a cooc model"),
    ),
    Case(
        "--scheduler address of an unknown scheme",
        lambda t: [
            "build",
            corpus(t),
            "--engine",
            "dask",
            "--scheduler",
            "nonsense://x",
            "-o",
            t / "out",
        ],
        ("nonsense://x", "unknown address scheme"),
    ),
    Case(
        "an empty (or not an) image file",
        lambda t: (
            (pngs(t, [(16, 16)]) / "b.png").write_bytes(b"")
            or ["quantize", t / "pics", "-o", t / "out"]
        ),
        ("b.png", "cannot be read", "empty"),
    ),
    # -- memory and odd streams --
    Case(
        "a line longer than 1/16 of --memory",
        lambda t: [
            "build",
            corpus(t, "a b\n" + "w " * (1 << 19) + "x\n"),
            "--memory",
            "16M",
            "-o",
            t / "out",
        ],
        ("c.txt: line 2", "longer than 1 MiB", "--memory 16M"),
    ),
    Case(
        "a device as the corpus",
        lambda t: ["build", "/dev/zero", "-o", t / "out"],
        ("/dev/zero", "character device"),
    ),
    Case(
        "a named pipe as the corpus",
        lambda t: (
            __import__("os").mkfifo(t / "pipe.txt")  # (nobody writes to it)
            or ["build", t / "pipe.txt", "-o", t / "out"]
        ),
        ("pipe.txt", "named pipe", "- <"),
    ),
    # -- numbers --
    Case(
        "--power inf (or nan; --shift, --alpha and --decay likewise)",
        lambda t: ["embed", built(t), "--power", "inf", "-o", t / "out"],
        ("--power", "finite"),
    ),
    Case(
        "--seed beyond 2^32 - 1",
        lambda t: ["build", corpus(t), "--seed", str(10**23), "-o", t / "out"],
        ("--seed", "4294967295"),
    ),
    Case(
        "--vocab count beyond 64 bits",
        lambda t: (
            (t / "v.tsv").write_text(f"a\t{10**23}\nb\t2\n", encoding="utf-8")
            and ["build", corpus(t), "--vocab", t / "v.tsv", "-o", t / "out"]
        ),
        ("v.tsv:1", "count"),
    ),
    Case(
        "unknown option",
        lambda t: ["embed", built(t), "--rnak", "5", "-o", t / "out"],
        ("--rnak", "cooc embed --help"),
    ),
    Case(
        "--phrases TSV with a pass below 1 (or a bad header, an empty word, a "
        "non-finite score)",
        lambda t: (
            (t / "p.tsv").write_text("word1\tword2\tpass\nnew\tyork\t0\n")
            and ["build", corpus(t), "--phrases", t / "p.tsv", "-o", t / "out"]
        ),
        ("p.tsv", "line 2", "pass must be an integer >= 1"),
    ),
    Case(
        "a subword model (VECTORS.subwords.npz) of other vectors, or damaged",
        lambda t: ["similar", foreign_sidecar(t), "a"],
        ("v.txt.subwords.npz", "another vocabulary"),
    ),
    Case(
        "cooc report: --similarity without a vectors input (or --table without a "
        "model, two inputs of one kind)",
        lambda t: [
            "report", built(t), "--similarity", vectors(t), "-o", t / "out.html"
        ],
        ("--similarity/--analogy need a vectors input",),
    ),
    Case(
        "cooc export --projector of a .cooc (it takes vectors)",
        lambda t: ["export", built(t), "--projector", t / "out"],
        ("m.cooc", "not word vectors"),
    ),
    Case(
        "--features array holding NaN (or of another ndim, dtype or row count)",
        lambda t: fit_with_features(t, np.array([[1.0, np.nan], [0.0, 1.0]])),
        ("f.npy", "row 0 holds NaN"),
    ),
    Case(
        "--features .npy of pickled objects",
        lambda t: fit_with_features(t, np.array([{}, {}]), allow_pickle=True),
        ("f.npy", "without pickles"),
    ),
    Case(
        "cooc fit --scales that do not start with 1 (or repeat a scale)",
        lambda t: (
            (t / "items.csv").write_text("text,label\nred,x\nblue,y\n")
            and [
                "fit",
                t / "items.csv",
                "--label-column",
                "label",
                "--scales",
                "2,1",
                "-o",
                t / "out",
            ]
        ),
        ("--scales", "starting with 1"),
    ),
]


def run_case(case: Case, tmp: Path, run_cli):
    args = case.setup(tmp)
    result = run_cli(*args)
    return args, result


def error_line(result):
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    return errors[0] if len(errors) == 1 else None


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, tmp_path, run_cli):
    _, result = run_case(case, tmp_path, run_cli)
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    line = error_line(result)
    assert line is not None, result.stderr
    for needle in case.needles:
        assert needle in line, (needle, line)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(case.output)]
    assert leftovers == [], leftovers


def _shown(args, tmp):
    """The command line as the README shows it (folder names dropped)."""
    parts = []
    for a in args:
        s = str(a)
        parts.append(Path(s).name if s.startswith(str(tmp)) else s)
    return "cooc " + " ".join(parts)


def markdown_table(run_cli_factory) -> str:
    """Run every case and format the README table from the messages."""
    import tempfile

    rows = ["| bad input | command | message (exit code 2) |", "| --- | --- | --- |"]
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            args, result = run_case(case, tmp, run_cli_factory())
            line = error_line(result) or "(no single error line)"
            line = line.replace(str(tmp) + "/", "").replace(str(tmp), ".")
            line = line.replace("|", "\\|")
            rows.append(f"| {case.what} | `{_shown(args, tmp)}` | {line} |")
    return "\n".join(rows)


def _runner():
    from click.testing import CliRunner

    from cooc.cli import cli

    runner = CliRunner()
    return lambda *a: runner.invoke(cli, [str(x) for x in a])


def test_readme_table_is_current():
    text = README.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, "README lacks the errors table"
    current = text.split(TABLE_START)[1].split(TABLE_END)[0].strip()
    assert current == markdown_table(_runner).strip(), (
        "README errors table is stale; regenerate with python -m tests.test_errors"
    )


if __name__ == "__main__":
    print(markdown_table(_runner))
