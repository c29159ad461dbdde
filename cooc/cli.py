"""The ``cooc`` command line: thin wrappers that parse, call the library and print.

Standard output carries results (tables, or JSON with ``--json``); standard
error carries progress and errors. Exit codes: 0 success, 2 bad input
(:class:`cooc.errors.InputError`, or an OS error about a named path), 1 a
full disk, no memory left, or a bug (traceback with --debug or COOC_DEBUG=1).

Each command imports the library inside its function: a measured start-up
cost. numba's kernels and scikit-learn take about 1 s to import, which
``cooc --help`` (0.1 s) and ``cooc similar`` (0.3 s, vectors only) skip.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import click
import numpy as np

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class FiniteFloat(click.FloatRange):
    """A float option in a range that refuses nan and inf at parse time
    (click's FloatRange lets nan through any range, and inf through open ones)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class OneLineUsage(click.Group):
    """The ``cooc`` group: a usage error (unknown option, bad value, missing
    argument) is one line, ``Error: ... (see 'cooc CMD --help')``, exit 2,
    instead of click's usage, hint and error on three lines."""

    @staticmethod
    def _one_line(exc: click.UsageError) -> click.ClickException:
        where = "cooc"  # (the program's name, also when run as python -m cooc)
        if exc.ctx is not None:
            where += exc.ctx.command_path[len(exc.ctx.find_root().command_path) :]
        return BadInput(f"{exc.format_message()} (see '{where} --help')")

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise self._one_line(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise self._one_line(exc) from None


#: --seed: what every seed of cooc takes (numpy's RandomState, numba's int64)
SEED = click.IntRange(0, 2**32 - 1)


class BadInput(click.ClickException):
    """A clear one-line error about the user's input; exit code 2."""

    exit_code = 2


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
# What each command can do about running out of memory (its own options only).
_MEMORY_ADVICE = {
    "build": "; lower --memory (the counts then spill to --spill-dir) or --max-size.",
    "vocab": "; lower --max-size, or count a part of the corpus.",
    "embed": (
        "; give a .cooc file --memory SIZE (its rows are then streamed from "
        "disk) or lower --rank."
    ),
    "similar": "; the vectors file does not fit in memory (write fewer words or dims).",
    "evaluate": "; the vectors file does not fit in memory (write fewer words or dims).",
    "quantize": "; lower --image-size or use fewer images.",
    "fit": "; lower --words or use fewer items.",
}
# OS errors about a path the user named: bad input, not a bug.
_PATH_ERRORS = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
# ... and the errnos of plain OSErrors that are so when they name a file: a
# read-only file system, a loop of symbolic links, a name too long.
_PATH_ERRNOS = {errno.EROFS, errno.ELOOP, errno.ENAMETOOLONG}
# Options that name what a command writes, checked before it starts (see
# _check_outputs): output files, and folders of temporary files.
_OUTPUT_OPTIONS = ("output",)
_FOLDER_OPTIONS = ("spill_dir", "temp_dir")


def _check_outputs(params: dict) -> None:
    """Refuse, before any work is done, the outputs a command could not write
    at its end: ``-o`` naming a directory, a device, a FIFO or a socket (or a
    link to one), or in a missing or unwritable folder; a ``--spill-dir`` or
    ``--temp-dir`` that is not writable. (``-o`` naming a link writes the
    link's target: :func:`cooc.files.atomic_write`.)"""
    from cooc.files import check_output, check_writable_folder

    for key in _OUTPUT_OPTIONS:
        if params.get(key) is not None:
            check_output(params[key])
    for key in _FOLDER_OPTIONS:
        if params.get(key) is not None:
            check_writable_folder(params[key])


def _debug() -> bool:
    """Whether --debug or COOC_DEBUG asks for tracebacks of internal errors."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and (root.params or {}).get("debug"):
        return True
    return os.environ.get("COOC_DEBUG", "").strip().lower() not in (
        "",
        "0",
        "no",
        "false",
    )


def _errors(fn):
    """Report cooc's input errors in one line (exit 2) and anything else as a bug.

    :class:`cooc.errors.InputError` (which every check of an argument, file or
    corpus raises) and an OS error about a named path (missing, not
    permitted, on a read-only file system) are the user's to fix: one line,
    exit code 2. A full disk, running out of memory or a cluster that keeps
    losing workers is the machine's: one line, exit 1. Any other exception
    is a bug in cooc: exit 1, with the traceback under --debug or
    COOC_DEBUG=1, else one line saying how to get it. Before the command
    runs, its outputs are checked (:func:`_check_outputs`).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from cooc.errors import InputError

        try:
            _check_outputs(kwargs)
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except InputError as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise BadInput(str(msg)) from None
        except _PATH_ERRORS as exc:
            name = f"{exc.filename}: " if exc.filename is not None else ""
            raise BadInput(f"{name}{exc.strerror or exc}") from None
        except OSError as exc:
            if exc.errno in _PATH_ERRNOS and exc.filename is not None:
                raise BadInput(f"{exc.filename}: {exc.strerror or exc}") from None
            if exc.errno in _DISK_FULL:
                where = f" writing {exc.filename}" if exc.filename else ""
                raise click.ClickException(
                    f"no space left on the device{where}; free some space or "
                    "point --temp-dir/--spill-dir/-o elsewhere."
                ) from None
            if _debug():
                raise
            raise _Bug(exc) from None
        except MemoryError:
            ctx = click.get_current_context(silent=True)
            advice = _MEMORY_ADVICE.get(ctx.info_name if ctx else None, "")
            raise click.ClickException(f"out of memory{advice}") from None
        except Exception as exc:
            # A cluster that keeps losing workers is no bug of cooc.
            if type(exc).__name__ in ("KilledWorker", "ClusterLost"):
                raise click.ClickException(f"dask: {exc}") from None
            if _debug():
                raise
            raise _Bug(exc) from None

    return wrapper


class _Bug(click.ClickException):
    """An exception cooc did not expect: exit 1, one line and how to see more."""

    exit_code = 1

    def __init__(self, exc: BaseException):
        first = str(exc).strip().splitlines()
        detail = f": {first[0]}" if first else ""
        super().__init__(
            f"internal error ({type(exc).__name__}{detail}). This is a bug in "
            "cooc; run again with --debug (or COOC_DEBUG=1) for the traceback "
            "and report it."
        )


class Progress:
    """Progress lines on stderr; silent with --quiet. Redraws in place on a terminal.

    ``progress(stage, n)`` starts or continues a stage (``n`` tokens, or the
    unit given by ``progress.expect(stage, total, unit)``, which also makes
    the line show the share done and the time left); ``stages`` holds the
    seconds each finished stage took (recorded with --quiet too). Not on a
    terminal, a line is printed every 30 s and at the end of each stage.
    """

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.stage = None
        self.count = 0
        self.start = time.perf_counter()
        self.mark = self.start  # when the last stage ended
        self.last = 0.0
        self.stages: dict[str, float] = {}
        self.totals: dict[str, tuple[int, str]] = {}

    def expect(self, stage: str, total: int, unit: str) -> None:
        """Stage ``stage`` will count ``total`` ``unit`` in all."""
        self.totals[stage] = (int(total), unit)

    def __call__(self, stage: str, n: int) -> None:
        if stage != self.stage:
            self.done()
            # A stage's first report often comes after its first piece of work
            # (a whole chunk of tokens): the stage started when the previous one
            # ended (or when this object was made), not at that report.
            self.stage, self.count, self.start = stage, 0, self.mark
            self.last = time.perf_counter()
        self.count += n
        if self.quiet:
            return
        now = time.perf_counter()
        if self.tty and now - self.last > 0.2:
            self.last = now
            click.echo(f"\r{self._line()}", nl=False, err=True)
        elif not self.tty and now - self.last > 30:
            self.last = now
            click.echo(self._line(), err=True)

    def _line(self):
        dt = time.perf_counter() - self.start
        if not self.count:
            return f"{self.stage}: {dt:.1f} s"
        total, unit = self.totals.get(self.stage, (0, "tokens"))
        done = f"{_amount(self.count)}" + (f" of {_amount(total)}" if total else "")
        # No rate over the first instants (it would be noise).
        rate = f" ({_amount(self.count / dt)} {unit}/s" if dt > 0.05 else ""
        if rate and total and self.count < total:
            rate += f", about {(total - self.count) * dt / self.count:.0f} s left"
        rate += ")" if rate else ""
        return f"{self.stage}: {done} {unit} in {dt:.1f} s{rate}"

    def done(self):
        if self.stage is None:
            return
        now = time.perf_counter()
        self.stages[self.stage] = self.stages.get(self.stage, 0.0) + now - self.start
        if not self.quiet:
            click.echo(("\r" if self.tty else "") + self._line(), err=True)
        self.stage = None
        self.mark = now

    def timed(self, stage: str):
        """Context manager: one stage without token counts (reading, writing...)."""
        progress = self

        class _Stage:
            def __enter__(self):
                progress.done()
                progress.mark = time.perf_counter()
                progress(stage, 0)

            def __exit__(self, *exc_info):
                progress.done()

        return _Stage()

    def table(self) -> dict[str, float]:
        """The stage times, rounded for --json."""
        return {k: round(v, 3) for k, v in self.stages.items()}

    def note(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)


def _process_age() -> float | None:
    """Seconds since this process started (Linux), else None."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            started = int(fh.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


# True when the process is the `cooc` program (see main), not a caller of cli().
_AS_PROGRAM = False


def _start_up(progress: Progress) -> float:
    """Make the compiled kernels ready and record the ``start-up`` stage.

    Run as the ``cooc`` program, the stage is the process's age by then
    (interpreter, imports and numba's one-time set-up), and the seconds
    before this call are returned (the command's clock starts with the
    process); called from Python, only the set-up is recorded and 0 returned.
    """
    from cooc import _kernels as K

    t = time.perf_counter()
    K.start()
    took = time.perf_counter() - t
    age = _process_age() if _AS_PROGRAM else None
    progress.stages["start-up"] = took if age is None else age
    progress.mark = time.perf_counter()  # the next stage starts now
    progress.note(f"start-up: {progress.stages['start-up']:.1f} s")
    return 0.0 if age is None else max(0.0, age - took)


def _amount(n: float) -> str:
    """``n`` for people: 950, 12.3k, 10.57M, 1.20G; 0.25 for a rate below 10."""
    for scale, unit, digits in ((1e9, "G", 2), (1e6, "M", 2), (1e3, "k", 1)):
        if n >= scale:
            return f"{n / scale:.{digits}f}{unit}"
    if n < 10 and n != int(n):
        return f"{n:.2f}"
    return f"{n:.0f}"


def _parse_memory(value) -> int:
    if value is None:
        return None
    m = re.fullmatch(
        r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(value), re.IGNORECASE
    )
    if not m:
        raise click.BadParameter(
            f"{value!r} is not a size like 512M or 2G.", param_hint="--memory"
        )
    mult = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _emit(result, as_json: bool, table: str | None = None) -> None:
    if as_json:
        text = json.dumps(
            _finite(result), indent=2, default=_json_default, allow_nan=False
        )
        click.echo(text)
    elif table is not None:
        click.echo(table)


def _finite(obj):
    """``obj`` with NaN and infinities as None (null): strict JSON has no NaN."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def _kv_table(rows) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _frame_table(frame, floatfmt="{:.3f}") -> str:
    return frame.to_string(index=False, float_format=lambda x: floatfmt.format(x))


# -- shared options -------------------------------------------------------------------
def corpus_options(fn):
    """Options of the commands that read a corpus."""
    for opt in reversed(
        [
            click.option(
                "--tokenizer",
                type=click.Choice(["word", "whitespace"]),
                default="word",
                show_default=True,
                help="word: Unicode word regex, lowercased; whitespace: pre-tokenized text.",
            ),
            click.option(
                "--no-lowercase", is_flag=True, help="Keep the case of tokens."
            ),
            click.option(
                "--column",
                default=None,
                help="Text column of JSONL/CSV/TSV/Parquet inputs [default: text].",
            ),
            click.option(
                "--encoding-errors",
                type=click.Choice(["strict", "replace", "ignore"]),
                default="strict",
                show_default=True,
                help="What to do with invalid UTF-8: stop with the file and line, or repair.",
            ),
            click.option(
                "--documents",
                type=click.Choice(["line", "paragraph", "file"]),
                default="line",
                show_default=True,
                help="A document of a plain-text file (pairs never cross one): a "
                "line; a paragraph, blank lines between (its lines joined, for "
                "hard-wrapped text); or the whole file. Table inputs: one per row.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def quiet_json_options(fn):
    fn = click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON."
    )(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")(fn)
    return fn


corpus_argument = click.argument("corpus", nargs=-1, required=True)


def benchmark_options(fn):
    """--similarity, --analogy and --restrict-vocab (evaluate and report)."""
    for opt in reversed(
        [
            click.option(
                "--similarity",
                "sim_files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Word-similarity file(s): word1<TAB>word2<TAB>score, # comments.",
            ),
            click.option(
                "--analogy",
                "analogy_files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Analogy file(s) in the Google questions-words format.",
            ),
            click.option(
                "--restrict-vocab",
                type=click.IntRange(1),
                default=30000,
                show_default=True,
                help="Analogies: candidates are the most frequent words only.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def weighting_options(weighting_help: str):
    """--weighting, --alpha and --shift: how counts are weighted before the SVD
    (embed, and report to recompute the energy the vectors kept)."""

    def add(fn):
        for opt in reversed(
            [
                click.option(
                    "--weighting",
                    type=click.Choice(["ppmi", "log", "none"]),
                    default="ppmi",
                    show_default=True,
                    help=weighting_help,
                ),
                click.option(
                    "--alpha",
                    type=FiniteFloat(0, 1),
                    default=0.75,
                    show_default=True,
                    help="Context-distribution smoothing of PPMI.",
                ),
                click.option(
                    "--shift",
                    type=FiniteFloat(1),
                    default=1.0,
                    show_default=True,
                    help="Shifted PPMI: subtract log(shift).",
                ),
            ]
        ):
            fn = opt(fn)
        return fn

    return add


def dask_options(fn):
    """--engine, --scheduler and --workers (commands that can run on Dask)."""
    for opt in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(["local", "dask"]),
                default="local",
                show_default=True,
                help="Run in this process, or on a Dask cluster "
                '(pip install "cooc[dask]").',
            ),
            click.option(
                "--scheduler",
                default=None,
                metavar="ADDRESS",
                help="Dask scheduler, e.g. tcp://host:8786 [default: a local cluster "
                "for the run].",
            ),
            click.option(
                "--workers",
                type=click.IntRange(1),
                default=None,
                help="Worker processes of the local cluster [default: one per core].",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


shards_option = click.option(
    "--shards",
    type=click.IntRange(1),
    default=None,
    help="With --engine dask (or build --checkpoint): about this many shards (plain "
    "text files are cut at line boundaries) [default: one per file with Dask; "
    "about 64 MiB each, small files together, with --checkpoint].",
)


def _dask_client(engine, scheduler, workers, quiet, progress, **local_only):
    """The Dask client of ``--engine dask`` (closed with the command), else None."""
    if engine != "dask":
        given = {"--scheduler": scheduler, "--workers": workers, **local_only}
        wrong = [k for k, v in given.items() if v is not None]
        if wrong:
            raise BadInput(f"{wrong[0]} needs --engine dask.")
        return None
    if scheduler is not None and workers is not None:
        raise BadInput(
            "--workers sizes the local cluster; leave it out with --scheduler."
        )
    from cooc.distributed import dask_client, describe_client

    ctx = click.get_current_context()
    client = ctx.with_resource(dask_client(scheduler, n_workers=workers, quiet=quiet))
    progress.note(describe_client(client))
    return client


@click.group(cls=OneLineUsage, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="cooc")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the traceback of an internal error (also COOC_DEBUG=1).",
)
def cli(debug):
    """cooc: co-occurrence matrices, PPMI and truncated SVD embeddings.

    \b
    A typical session:
      cooc build corpus/*.txt.gz -o corpus.cooc --window 5
      cooc embed corpus.cooc --rank 128 -o vectors.txt
      cooc similar vectors.txt whale
    """
    _exit_cleanly_on_sigterm()


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit(143) and Ctrl-C (SIGINT) into one line,
    ``Error: interrupted``, and SystemExit(130) (not click's ``Aborted!`` and
    exit 1): temporary files and spill folders are removed on the way out.
    The handlers are those of the command only: the previous ones come back
    when it ends (a Python caller's Ctrl-C is its own again)."""
    import contextlib
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    told = []

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    def interrupt(signum, frame):
        if not told:  # (a second Ctrl-C during the clean-up says nothing more)
            told.append(signum)
            with contextlib.suppress(Exception):
                stream = sys.stderr
                stream.write(("\n" if stream.isatty() else "") + "Error: interrupted\n")
                stream.flush()
        raise SystemExit(128 + signum)

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, terminate),
        signal.SIGINT: signal.signal(signal.SIGINT, interrupt),
    }

    def restore():
        for signum, handler in previous.items():
            if handler is not None:
                with contextlib.suppress(ValueError, TypeError, OSError):
                    signal.signal(signum, handler)

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.find_root().call_on_close(restore)


def _input_file_option(flag, dest, help_text):
    """An optional ``flag FILE`` that must name an existing file, as ``dest``."""
    return click.option(
        flag,
        dest,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=help_text,
    )


def phrases_option(help_text):
    """``--phrases TSV`` (a file written by ``cooc phrases``), as ``phrases_path``."""
    return _input_file_option("--phrases", "phrases_path", help_text)


# -- vocab ----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@corpus_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Vocabulary TSV to write (token<TAB>count, in id order).",
)
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Drop words seen fewer times.",
)
@click.option(
    "--max-size",
    type=click.IntRange(1),
    default=None,
    help="Keep at most this many words (the most frequent).",
)
@phrases_option(
    "Join the phrases of this TSV (written by cooc phrases) before counting, "
    "as cooc build --phrases does (one more pass over the corpus)."
)
@corpus_options
@quiet_json_options
@dask_options
@shards_option
@_errors
def vocab(
    corpus,
    output,
    min_count,
    max_size,
    phrases_path,
    tokenizer,
    no_lowercase,
    column,
    encoding_errors,
    documents,
    quiet,
    as_json,
    engine,
    scheduler,
    workers,
    shards,
):
    """Count the words of a corpus and write the vocabulary.

    CORPUS is one or more text files (one document per line, .gz allowed),
    directories, glob patterns, JSONL/CSV/Parquet files (see --column) or - for
    standard input.

    \b
    Example:
      cooc vocab corpus/*.txt.gz -o vocab.tsv --min-count 5
      cooc vocab corpus/*.txt.gz -o vocab.tsv --phrases phrases.tsv
    """
    from cooc.vocab import build_vocabulary_from_files

    if phrases_path is not None and engine == "dask":
        raise BadInput(
            "--phrases: cooc vocab joins phrases with the local engine only; drop "
            "--engine dask (cooc build --engine dask --phrases counts them)."
        )
    progress = Progress(quiet)
    client = _dask_client(
        engine, scheduler, workers, quiet, progress, **{"--shards": shards}
    )
    if client is not None:
        from cooc.distributed import build_vocabulary_dask

        voc = build_vocabulary_dask(
            list(corpus),
            min_count=min_count,
            max_size=max_size,
            tokenizer=tokenizer,
            lowercase=not no_lowercase,
            column=column,
            encoding_errors=encoding_errors,
            documents=documents,
            n_shards=shards,
            client=client,
            progress=progress,
        )
    else:
        voc = build_vocabulary_from_files(
            list(corpus),
            min_count=min_count,
            max_size=max_size,
            tokenizer=tokenizer,
            lowercase=not no_lowercase,
            column=column,
            encoding_errors=encoding_errors,
            documents=documents,
            progress=lambda n: progress("vocabulary", n),
            phrases=phrases_path,
        )
    progress.done()
    voc.save(output)
    result = {
        "output": str(output),
        "n_words": len(voc),
        "n_tokens_in_vocabulary": voc.n_tokens,
    }
    progress.note(f"wrote {len(voc)} words to {output}")
    _emit(result, as_json, _kv_table(list(result.items())))


# -- build ----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@corpus_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .cooc file to write.",
)
@click.option(
    "--vocab",
    "vocab_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Use this vocabulary instead of counting one (one pass less): cooc's "
    "token<TAB>count, GloVe's 'word count' or one word per line (no counts: not "
    "with --subsample); ids follow the file.",
)
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Drop words seen fewer times (ignored with --vocab).",
)
@click.option(
    "--max-size",
    type=click.IntRange(1),
    default=None,
    help="Keep at most this many words (ignored with --vocab).",
)
@click.option(
    "--window",
    type=click.IntRange(1, 255),
    default=15,
    show_default=True,
    help="Largest distance between two counted words. 15 was the best of 2-20 "
    "on a 10M-token corpus (with 1/d weights); the default 1/d**1.25 was then "
    "tuned at window 15. Corpora of a few million tokens may do better with 5.",
)
@click.option(
    "--weighting",
    type=click.Choice(["power", "harmonic", "uniform", "linear"]),
    default="power",
    show_default=True,
    help="Weight of a pair at distance d: 1/d**DECAY, 1/d, 1 or (W-d+1)/W.",
)
@click.option(
    "--decay",
    type=FiniteFloat(0, 10, min_open=True),
    default=1.25,
    show_default=True,
    help="Exponent of --weighting power (1 is harmonic). On a 10M-token corpus "
    "1.25 gained about 0.004 on SimLex-999 over 1 at equal WS353 and MEN; "
    "steeper decays cost WS353.",
)
@click.option(
    "--directional",
    is_flag=True,
    help="Keep left and right contexts apart (2 x vocabulary columns).",
)
@click.option(
    "--dynamic-window",
    is_flag=True,
    help="word2vec's sampled window widths (seeded by --seed).",
)
@click.option(
    "--subsample",
    type=FiniteFloat(0, 1, max_open=True),
    default=0,
    show_default=True,
    help="Frequent-word subsampling threshold t, 0 for none. On a 10M-token corpus "
    "1e-4 to 3e-4 raised WS353 and MEN by about 0.01 but made SimLex depend on "
    "--seed; 1e-5 cost 0.05 on SimLex.",
)
@click.option(
    "--oov",
    type=click.Choice(["drop", "gap"]),
    default="drop",
    show_default=True,
    help="Out-of-vocabulary tokens: removed before windowing, or kept as gaps.",
)
@click.option(
    "--threads",
    type=click.IntRange(1),
    default=None,
    help="Counting threads [default: all cores]. The result does not depend on it.",
)
@click.option(
    "--memory",
    default="2G",
    show_default=True,
    help="Memory budget of the build (e.g. 512M, 8G): counts that outgrow it are "
    "spilled to --spill-dir and merged from there.",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of subsampling and dynamic windows.",
)
@click.option(
    "--spill-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder for the sorted runs spilled when the counts outgrow --memory "
    "[default: the system's temporary folder].",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Resumable build: keep each finished shard in this folder; rerunning the "
    "same command after an interruption continues from there (the folder is kept; "
    "delete it when done).",
)
@phrases_option(
    "Join the phrases of this TSV (written by cooc phrases) into single "
    "tokens before counting, pass by pass, so that the vocabulary holds new_york."
)
@corpus_options
@quiet_json_options
@dask_options
@shards_option
@_errors
def build(
    corpus,
    output,
    vocab_path,
    min_count,
    max_size,
    window,
    weighting,
    decay,
    directional,
    dynamic_window,
    subsample,
    oov,
    threads,
    memory,
    seed,
    tokenizer,
    no_lowercase,
    column,
    encoding_errors,
    documents,
    quiet,
    as_json,
    spill_dir,
    checkpoint,
    phrases_path,
    engine,
    scheduler,
    workers,
    shards,
):
    """Count word co-occurrences in a sliding window and write a .cooc file.

    CORPUS is one or more text files (one document per line, .gz allowed),
    directories, glob patterns, JSONL/CSV/Parquet files (see --column) or - for
    standard input. Pairs never cross a document boundary: a line, or with
    --documents paragraph a paragraph (hard-wrapped books, man pages, mail).

    \b
    Example:
      cooc build corpus/*.txt.gz -o corpus.cooc --window 15 --min-count 5
      cooc build corpus/*.txt.gz -o corpus.cooc --checkpoint corpus.ckpt
      cooc build books/*.txt -o books.cooc --documents paragraph
      cooc build corpus/*.txt.gz -o corpus.cooc --phrases phrases.tsv
      cooc info corpus.cooc
    """
    from cooc.engines import write_cooccurrence
    from cooc.vocab import Vocabulary

    progress = Progress(quiet)
    t0 = time.perf_counter()
    if engine == "local":
        t0 -= _start_up(progress)
    voc = Vocabulary.load(vocab_path) if vocab_path else None
    client = _dask_client(
        engine,
        scheduler,
        workers,
        quiet,
        progress,
        **({"--shards": shards} if checkpoint is None else {}),
    )
    taken = {"vocabulary": 0, "counting": 0}  # shards found in --checkpoint

    def resumed_note(stage, i, resumed):
        taken[stage] += int(resumed)

    cooc = write_cooccurrence(
        list(corpus),
        output,
        engine=engine,
        client=client,
        checkpoint=checkpoint,
        n_shards=shards,
        spill_dir=spill_dir,
        memory=_parse_memory(memory),
        on_shard=resumed_note,
        vocabulary=voc,
        min_count=min_count,
        max_size=max_size,
        tokenizer=tokenizer,
        lowercase=not no_lowercase,
        column=column,
        encoding_errors=encoding_errors,
        documents=documents,
        phrases=phrases_path,
        progress=progress,
        window_size=window,
        weighting=weighting,
        decay=decay,
        symmetric=not directional,
        dynamic_window=dynamic_window,
        subsample=subsample or None,
        oov=oov,
        random_state=seed,
        n_jobs=threads,
    )
    progress.done()
    if any(taken.values()):
        progress.note(
            f"resumed from {checkpoint}: {taken['vocabulary']} word-count and "
            f"{taken['counting']} pair-count shard(s) were already done"
        )
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "shape": list(cooc.shape),
        "nnz": int(cooc.nnz),
        "n_docs": cooc.stats["n_docs"],
        "n_tokens": cooc.stats["n_tokens"],
        "seconds": round(seconds, 3),
        "tokens_per_second": round(cooc.stats["n_tokens"] / max(seconds, 1e-9)),
        "stages": progress.table(),
    }
    progress.note(
        f"wrote {output}: {cooc.shape[0]} x {cooc.shape[1]}, {cooc.nnz} non-zeros, "
        f"{seconds:.1f} s"
    )
    _emit(result, as_json, _kv_table(list(result.items())))


# -- phrases --------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@corpus_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Phrase TSV to write (word1, word2, count, score, pass; by pass, best "
    "first; .gz etc. allowed).",
)
@click.option(
    "--scoring",
    type=click.Choice(["word2phrase", "pmi", "npmi"]),
    default="word2phrase",
    show_default=True,
    help="word2phrase: (n(ab) - min_count) / (n(a) n(b)) * len_vocab, gensim's "
    "default; npmi: PMI / -log p(ab), in [-1, 1]; pmi: log p(ab) / (p(a) p(b)).",
)
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Score only pairs seen at least this often (also word2phrase's discount).",
)
@click.option(
    "--threshold",
    type=FiniteFloat(),
    default=None,
    help="Keep pairs scoring strictly above this [default: 10 for word2phrase, "
    "0.5 for npmi, 0 for pmi].",
)
@click.option(
    "--passes",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Pass k scores the corpus with the phrases of earlier passes joined "
    "(new_york + times -> new_york_times); the pass is in the TSV.",
)
@corpus_options
@quiet_json_options
@_errors
def phrases(
    corpus,
    output,
    scoring,
    min_count,
    threshold,
    passes,
    tokenizer,
    no_lowercase,
    column,
    encoding_errors,
    documents,
    quiet,
    as_json,
):
    """Score adjacent word pairs as phrases (word2phrase / gensim Phrases).

    CORPUS is read as by `cooc build`; pairs never cross a document. The TSV
    feeds `cooc build/embed --phrases`, which join each phrase into one token
    word1_word2.

    \b
    Example:
      cooc phrases corpus/*.txt.gz -o phrases.tsv --scoring npmi --threshold 0.5
      cooc phrases corpus/*.txt.gz -o phrases.tsv --passes 2
      cooc embed corpus/*.txt.gz --phrases phrases.tsv -o vectors.bin
    """
    from cooc.phrases import score_phrases, write_phrases

    progress = Progress(quiet)
    t0 = time.perf_counter()
    frame = score_phrases(
        list(corpus),
        scoring=scoring,
        min_count=min_count,
        threshold=threshold,
        passes=passes,
        progress=progress,
        tokenizer=tokenizer,
        lowercase=not no_lowercase,
        column=column,
        encoding_errors=encoding_errors,
        documents=documents,
    )
    progress.done()
    write_phrases(frame, output)
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "scoring": scoring,
        "min_count": min_count,
        "threshold": frame.attrs["threshold"],
        "n_tokens": frame.attrs["n_tokens"],
        "n_candidates": frame.attrs["n_candidates"],
        "n_phrases": len(frame),
        "phrases_per_pass": [p["n_phrases"] for p in frame.attrs["per_pass"]],
        "seconds": round(seconds, 3),
    }
    progress.note(
        f"wrote {len(frame)} phrases of {frame.attrs['n_candidates']} candidate "
        f"pairs to {output}, {seconds:.1f} s"
    )
    _emit(result, as_json, _kv_table(list(result.items())))


# -- info / export --------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the metadata record as JSON."
)
@_errors
def info(file, as_json):
    """Print a summary of a .cooc file (shape, non-zeros, corpus and
    parameters) or of a vectors file (words, dimensions, norms).

    \b
    Example:
      cooc info corpus.cooc --json
      cooc info vectors.txt.gz
    """
    from cooc.container import is_cooc_archive
    from cooc.streaming import CoocFile

    if file.suffix.lower() != ".cooc" and not is_cooc_archive(file):
        return _info_vectors(file, as_json)

    # Streamed in row blocks (checked and checksummed on the way): a .cooc of
    # a billion-token corpus is larger than memory.
    with CoocFile(file) as cf:
        indptr = cf.indptr()
        top = cf.tokens()[:10]
        n_rows, n_cols = cf.shape
        cf.start_checksums()
        step = 1 << 24
        lo = 0
        while lo < n_rows:
            hi = int(np.searchsorted(indptr, indptr[lo] + step, side="right")) - 1
            hi = min(max(hi, lo + 1), n_rows)
            indices, data = cf.read_rows(lo, hi, indptr, crc=True)
            cf.check_rows(lo, indptr[lo : hi + 1] - indptr[lo], indices, data)
            lo = hi
        cf.verify_checksums()
        total = cf.total  # of the blocks' sums, taken by check_rows
        stats, params = cf.meta.get("stats", {}), cf.params
        version = cf.meta.get("cooc_version")
        nnz = int(indptr[-1])
    result = {
        "file": str(file),
        "cooc_version": version,
        "shape": [int(n_rows), int(n_cols)],
        "nnz": nnz,
        "density": nnz / max(n_rows * n_cols, 1),
        "total": total,
        "stats": stats,
        "params": params,
        "top_words": list(top),
    }
    rows = [
        ("file", file),
        ("shape", f"{n_rows} x {n_cols}"),
        ("nnz", nnz),
        ("density", f"{result['density']:.3g}"),
        ("total weight", f"{result['total']:.6g}"),
    ]
    rows += [(k, v) for k, v in stats.items()]
    # nested records (reading options, vocabulary choice) as k=v lists
    rows += [
        (k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
        for k, v in params.items()
    ]
    rows.append(("written by", f"cooc {version}" if version else "unknown"))
    rows.append(("top words", " ".join(top)))
    _emit(result, as_json, _kv_table(rows))


def _info_vectors(file, as_json):
    """``cooc info`` of a vectors file (word2vec text or binary, .npz)."""
    from cooc.vectors import Embeddings

    try:
        emb = Embeddings.load(file)
    except ValueError as exc:
        raise BadInput(
            f"{file} is neither a .cooc matrix nor a vectors file ({exc})"
        ) from None
    from cooc.files import base_suffix, compression_of

    suffix = base_suffix(file)
    kind = {".npz": "npz", ".bin": "word2vec binary"}.get(suffix, "word2vec text")
    if compression_of(file):
        kind += f", {compression_of(file)[1:]}-compressed"
    norms = np.linalg.norm(emb.vectors, axis=1) if len(emb) else np.zeros(1)
    result = {
        "file": str(file),
        "format": kind,
        "n_words": len(emb),
        "dim": emb.dim,
        "norm_min": float(norms.min()),
        "norm_max": float(norms.max()),
        "zero_vectors": int(np.sum(norms == 0)),
        "top_words": list(emb.tokens[:10]),
    }
    rows = [
        ("file", file),
        ("format", kind),
        ("words", len(emb)),
        ("dimensions", emb.dim),
        ("norms", f"{result['norm_min']:.4g} .. {result['norm_max']:.4g}"),
        ("zero vectors", result["zero_vectors"]),
        ("first words", " ".join(result["top_words"])),
    ]
    if emb.singular_values is not None:  # .npz files from cooc embed
        values = [float(x) for x in emb.singular_values]
        result["singular_values"] = values
        shown = [f"{x:.4g}" for x in values]
        if len(shown) > 8:
            shown = [*shown[:5], "...", shown[-1]]
        rows.append((f"singular values ({len(values)})", " ".join(shown)))
    sub = emb.subwords
    if sub is not None:  # cooc embed --subwords: in the .npz or a sidecar file
        from cooc.subwords import sidecar_path

        result["subwords"] = {
            "method": sub.method,
            "min_n": sub.min_n,
            "max_n": sub.max_n,
            "buckets": sub.buckets,
            "rare_words": len(sub.rare_tokens),
        }
        where = ""
        if suffix != ".npz":
            result["subwords"]["file"] = str(sidecar_path(file))
            where = f" (from {Path(sidecar_path(file)).name})"
        rows.append(
            (
                "subwords",
                f"{sub.method}, character {sub.min_n}-{sub.max_n}-grams in "
                f"{sub.buckets:,} buckets, {len(sub.rare_tokens):,} rare words "
                f"folded in; unseen words get estimates{where}",
            )
        )
    _emit(result, as_json, _kv_table(rows))


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="pairs.tsv, pairs.csv or pairs.parquet (the format follows the name; "
    ".tsv/.csv may end in .gz, .bz2 or .xz).",
)
@click.option(
    "--projector",
    metavar="PREFIX",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="FILE is vectors: write PREFIX_vectors.tsv and PREFIX_metadata.tsv for "
    "the TensorBoard Embedding Projector (instead of -o).",
)
@click.option(
    "--weighting",
    default="count",
    show_default=True,
    metavar="count|ppmi|npmi",
    help="Values written: the stored counts; PPMI (context smoothing 0.75, "
    "positive values only, as 'embed'); or NPMI, PMI / -log p(w,c) in [-1, 1].",
)
@click.option(
    "--min-value",
    type=float,
    default=None,
    metavar="X",
    help="Keep only pairs whose (weighted) value is >= X.",
)
@click.option(
    "--top-k",
    type=int,
    default=None,
    metavar="K",
    help="Keep the K largest values of each row (by value within a row), "
    "or of the whole matrix with --overall.",
)
@click.option(
    "--overall",
    is_flag=True,
    help="With --top-k: the K best pairs of the whole matrix, largest first.",
)
@click.option(
    "--upper",
    is_flag=True,
    help="Each pair once: only word1 <= word2 by id (symmetric matrices only).",
)
@click.option(
    "--min-count",
    type=FiniteFloat(),
    default=None,
    metavar="N",
    help="Keep only pairs counted >= N times (before any weighting; PMI and NPMI "
    "favour a corpus's rarest, often junk, pairs).",
)
@click.option(
    "--no-self-pairs",
    is_flag=True,
    help="Leave out a word paired with itself (the diagonal).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@_errors
def export(
    file, output, projector, weighting, min_value, top_k, overall, upper, min_count,
    no_self_pairs, quiet,
):  # fmt: skip
    """Write every non-zero of a .cooc file as word1, word2, value rows.

    The format follows the output's name: TSV (unquoted), CSV (quoted where
    needed), both with a header row and optionally compressed (.gz, .bz2,
    .xz), or Parquet; any other name is refused. In pandas, read the text
    ones with keep_default_na=False so that words such as "nan" stay words
    (and quoting=3 for TSV). The file is read in row blocks (checked and
    checksummed on the way) and written block by block, so a matrix larger
    than memory exports too.

    Collocations: --weighting ppmi|npmi writes association scores instead of
    counts (the file is then read twice, first for the row and column sums);
    --upper writes each pair of a symmetric matrix once; --min-value X keeps
    values >= X; --top-k K keeps each row's K best (rows in order, best
    first), or with --overall the K best of the matrix (best first);
    --min-count N keeps pairs counted at least N times and --no-self-pairs
    drops a word paired with itself. They apply in that order: min-count and
    self pairs, weighting, upper, min-value, top-k.

    --projector PREFIX reads vectors instead and writes the pair the
    TensorBoard Embedding Projector loads: PREFIX_vectors.tsv (one row of
    tab-separated floats per word, no header) and PREFIX_metadata.tsv (one
    word per line, no header, as for a single column).

    \b
    Example:
      cooc export corpus.cooc -o pairs.tsv
      cooc export corpus.cooc -o pairs.csv.gz
      cooc export corpus.cooc -o pairs.parquet
      cooc export corpus.cooc --weighting npmi --top-k 10 --upper -o colloc.tsv
      cooc export corpus.cooc --weighting ppmi --top-k 100 --overall -o best.tsv
      cooc export corpus.cooc --weighting npmi --min-count 20 --no-self-pairs \
          --top-k 50 --overall --upper -o strongest.tsv
      cooc export vectors.npz --projector emb
    """
    from cooc.io import export_pairs

    if (output is None) == (projector is None):
        raise BadInput(
            "give -o FILE (the pairs of a .cooc) or --projector PREFIX (vectors), "
            "not both nor neither."
        )
    if projector is not None:
        from cooc.report import write_projector

        pair_options = (
            weighting != "count", min_value, top_k, overall, upper, min_count,
            no_self_pairs,
        )  # fmt: skip
        if any(v not in (None, False) for v in pair_options):
            raise BadInput(
                "--projector writes vectors as they are; --weighting, --min-value, "
                "--top-k, --overall, --upper, --min-count and --no-self-pairs apply "
                "to -o pairs."
            )
        emb = _load_vectors(file)
        paths = write_projector(emb, projector)
        Progress(quiet).note(
            f"wrote {len(emb)} vectors to {paths[0]} and their words to {paths[1]}"
        )
        return
    # Streamed in row blocks: a .cooc larger than memory exports too.
    progress = Progress(quiet)
    progress.expect("exporting", 0, "pairs")
    n = export_pairs(
        file,
        output,
        weighting=weighting,
        min_value=min_value,
        top_k=top_k,
        overall=overall,
        upper=upper,
        min_count=min_count,
        self_pairs=not no_self_pairs,
        progress=lambda k: progress("exporting", k),
    )
    progress.done()
    progress.note(f"wrote {n} pairs to {output}")


@cli.command(name="import", context_settings=CONTEXT_SETTINGS)
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .cooc file to write.",
)
@quiet_json_options
@_errors
def import_(pairs, output, quiet, as_json):
    """Turn a word1, word2, value pairs table into a .cooc file.

    PAIRS is what cooc export writes, or counts from another tool in the same
    columns: TSV (unquoted) or CSV with a header row naming word1, word2 and
    value (other columns are ignored), either optionally .gz/.bz2/.xz, or
    Parquet; the format follows the name. One row per pair (a pair given
    twice is refused), values finite and >= 0. The words are the word1
    values in order of first appearance, then words met only as word2;
    contexts all named L:word / R:word make a directional (n x 2n) matrix.
    An export imports back to the same matrix and word order (without the
    counting parameters and word counts, which the export does not hold).

    \b
    Example:
      cooc export corpus.cooc -o pairs.tsv.gz
      cooc import pairs.tsv.gz -o again.cooc
      cooc embed again.cooc -o vectors.txt
    """
    from cooc.pairs import import_pairs

    progress = Progress(quiet)
    t0 = time.perf_counter()
    progress.expect("importing", 0, "pairs")
    cooc = import_pairs(pairs, progress=lambda k: progress("importing", k))
    progress.done()
    with progress.timed("writing"):
        cooc.save(output)
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "shape": list(cooc.shape),
        "nnz": int(cooc.nnz),
        "n_words": len(cooc.vocabulary),
        "directional": not cooc.symmetric,
        "seconds": round(seconds, 3),
    }
    progress.note(
        f"wrote {output}: {cooc.shape[0]} x {cooc.shape[1]}, {cooc.nnz} non-zeros"
    )
    _emit(result, as_json, _kv_table(list(result.items())))


# -- embed ----------------------------------------------------------------------------
def _is_cooc_file(path) -> bool:
    """True for a .cooc file (a zip archive); corpus files never are."""
    import zipfile

    path = Path(path)
    return path.is_file() and zipfile.is_zipfile(path)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", metavar="FILE.cooc | CORPUS...", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="vectors.txt (word2vec text), vectors.bin (word2vec binary) or vectors.npz.",
)
@click.option(
    "--rank",
    type=click.IntRange(1),
    default=None,
    help="Dimensions of the vectors (n_components in Python) [default: 500, or "
    "the vocabulary size - 1 if smaller].",
)
@weighting_options("Weighting of the counts before the SVD.")
@click.option(
    "--power",
    type=FiniteFloat(0),
    default=0.15,
    show_default=True,
    help="Eigenvalue weighting p: vectors are U * S**p.",
)
@click.option(
    "--context/--no-context",
    "add_context",
    default=None,
    help="Add the context vectors (w + c) [default: on for symmetric matrices].",
)
@click.option(
    "--solver",
    type=click.Choice(["randomized", "arpack"]),
    default="randomized",
    show_default=True,
    help="Truncated SVD solver (arpack is the exact reference).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=None,
    help="Corpus input only: drop words seen fewer times [default: 5, as cooc build].",
)
@click.option(
    "--window",
    type=click.IntRange(1, 255),
    default=None,
    help="Corpus input only: window of the counts [default: 15, as cooc build; the "
    "other counting settings are cooc build's defaults].",
)
@phrases_option(
    "Corpus input only: join the phrases of this TSV (cooc phrases) into "
    "single tokens before counting, so that new_york gets a vector."
)
@click.option(
    "--memory",
    default=None,
    metavar="SIZE",
    help="Memory budget of a .cooc input's data (e.g. 8G): when holding the matrix "
    "would take more (estimated from the file's header), the file is read in row "
    "blocks and the SVD streams them on each pass [default: no budget, in memory].",
)
@click.option(
    "--streaming",
    is_flag=True,
    help="Read the .cooc file in row blocks whatever its size (see --memory; blocks "
    "of up to 16M entries without it).",
)
@click.option(
    "--temp-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Streaming only: folder of the two temporary words x (rank + oversamples) "
    "float32 files [default: the output's folder].",
)
@click.option(
    "--n-iter",
    type=click.IntRange(0, 1000),
    default=None,
    help="Randomized solver: power iterations, two passes over the matrix each "
    "[default: 5].",
)
@click.option(
    "--oversamples",
    type=click.IntRange(0),
    default=None,
    help="Randomized solver: random columns beyond the rank [default: max(32, "
    "rank // 2)].",
)
@click.option(
    "--subwords",
    is_flag=True,
    help="Also learn vectors for unseen words from their character n-grams "
    "(cooc similar and cooc evaluate use them); kept in the .npz, or beside "
    "word2vec files in OUTPUT.subwords.npz.",
)
@click.option(
    "--subword-ngrams",
    default="3:6",
    show_default=True,
    metavar="MIN:MAX",
    callback=lambda ctx, param, value: _parse_ngrams(value),
    help="--subwords: n-gram lengths in characters of <word>.",
)
@click.option(
    "--subword-buckets",
    type=click.IntRange(1, 1 << 32),
    default=2_000_000,
    show_default=True,
    help="--subwords: hash buckets of the n-grams (FNV-1a of the UTF-8 bytes).",
)
@click.option(
    "--subword-method",
    type=click.Choice(["centroid", "ridge"]),
    default="centroid",
    show_default=True,
    help="--subwords: n-gram vectors as the mean of their words' vectors, or "
    "ridge regression (stores an n_words x rank matrix more).",
)
@click.option(
    "--rare-words",
    type=click.IntRange(0),
    default=100_000,
    show_default=True,
    help="--subwords with corpus inputs: also give vectors to the N most frequent "
    "words below --min-count, from their co-occurrence counts (one more counting "
    "pass) and their n-grams; 0: none.",
)
@corpus_options
@quiet_json_options
@dask_options
@_errors
def embed(
    inputs,
    output,
    rank,
    weighting,
    alpha,
    shift,
    power,
    add_context,
    solver,
    seed,
    min_count,
    window,
    phrases_path,
    memory,
    streaming,
    temp_dir,
    n_iter,
    oversamples,
    tokenizer,
    no_lowercase,
    column,
    encoding_errors,
    documents,
    quiet,
    as_json,
    engine,
    scheduler,
    workers,
    subwords=False,
    subword_ngrams=(3, 6),
    subword_buckets=2_000_000,
    subword_method="centroid",
    rare_words=100_000,
):
    """Turn a .cooc matrix into word vectors: PPMI weighting, then truncated SVD.

    The input is a .cooc file, or corpus files (as for cooc build: text, .gz,
    directories, globs, JSONL/CSV/Parquet, with build's reading options
    --tokenizer, --column, --no-lowercase, --encoding-errors, --documents), which are
    counted in memory with cooc build's default settings first: text to vectors in one process,
    without writing and reading the .cooc file. Writes word2vec text format
    (readable by gensim's KeyedVectors.load_word2vec_format), word2vec binary
    (.bin) or .npz.

    A .cooc file larger than memory: with --memory SIZE (or --streaming) the
    matrix is never loaded; its row blocks are weighted on the fly and the
    randomized SVD reads them once per product (2 x 5 power steps + 2 passes),
    keeping one words x (rank + oversamples) float32 block in memory and two
    on disk (--temp-dir). Same vectors up to float rounding; progress shows
    every pass with the time left.

    --subwords also fits a map from character n-grams (3 to 6 characters of
    <word>, hashed) to the vectors, so that unseen words get estimated
    vectors; word2vec files stay plain (gensim reads them) and the model goes
    to OUTPUT.subwords.npz beside them. With corpus inputs, the --rare-words
    most frequent words below --min-count get vectors too, folded in from their
    co-occurrence counts (a second counting pass) and blended with their
    n-gram estimates; the vocabulary's vectors do not change.

    \b
    Example:
      cooc embed corpus.cooc -o vectors.txt
      cooc embed corpus.cooc --rank 300 --power 0.5 --context -o vectors.npz
      cooc embed corpus/*.txt.gz -o vectors.bin
      cooc embed corpus/*.txt.gz --subwords --subword-ngrams 3:5 -o vectors.npz
      cooc embed corpus/*.txt.gz --phrases phrases.tsv -o vectors.bin
      cooc embed big.cooc --rank 300 --memory 8G --temp-dir /scratch -o vectors.bin
    """
    from cooc.io import load_cooc
    from cooc.pipeline import default_rank, embed_cooccurrence
    from cooc.svd import DEFAULT_N_ITER

    progress = Progress(quiet)
    t0 = time.perf_counter()
    if not subwords:
        subword_given = {
            "--subword-ngrams": subword_ngrams != (3, 6),
            "--subword-buckets": subword_buckets != 2_000_000,
            "--subword-method": subword_method != "centroid",
            "--rare-words": rare_words != 100_000,
        }
        for name, on in subword_given.items():
            if on:
                raise BadInput(f"{name} applies with --subwords; add --subwords.")
    is_file = len(inputs) == 1 and _is_cooc_file(inputs[0])
    budget = _parse_memory(memory)
    if (budget is not None or streaming) and not is_file:
        raise BadInput(
            "--memory and --streaming apply to a .cooc file input; count the corpus "
            "first (cooc build CORPUS... --memory SIZE -o FILE.cooc)."
        )
    reading = {
        "--min-count": min_count is not None,
        "--window": window is not None,
        "--tokenizer": tokenizer != "word",
        "--no-lowercase": no_lowercase,
        "--column": column is not None,
        "--encoding-errors": encoding_errors != "strict",
        "--documents": documents != "line",
        "--phrases": phrases_path is not None,
    }
    given = [name for name, on in reading.items() if on]
    if is_file and rare_words != 100_000:
        given.append("--rare-words")
    if is_file and given:
        raise BadInput(
            f"{given[0]} applies to corpus inputs; {inputs[0]} is a .cooc file, "
            "counted already (see cooc info)."
        )
    streams = is_file and _embed_streaming(
        inputs[0], rank, budget, streaming, progress, oversamples
    )
    if streams:
        if subwords:
            raise BadInput(
                "--subwords needs the vectors in memory; embed without --memory/"
                "--streaming, or fit later (cooc.subwords.fit_subwords in Python)."
            )
        if solver != "randomized":
            raise BadInput(
                f"--solver {solver} needs the matrix in memory; use --solver "
                "randomized with --memory/--streaming (or raise --memory)."
            )
        if engine != "local":
            raise BadInput("--memory and --streaming run with --engine local.")
        return _embed_stream(
            inputs[0], output, rank, weighting, alpha, shift, power, add_context,
            seed, budget, temp_dir, quiet, as_json, progress, t0, n_iter,
            oversamples,
        )  # fmt: skip
    if is_file:
        with progress.timed("reading"):
            cooc = load_cooc(inputs[0])
    else:
        from cooc.cooccurrence import DEFAULT_WINDOW, build_cooccurrence

        def count(**vocabulary):  # build's defaults and the reading options
            counted = build_cooccurrence(
                list(inputs),
                window_size=DEFAULT_WINDOW if window is None else window,
                tokenizer=tokenizer,
                lowercase=not no_lowercase,
                column=column,
                encoding_errors=encoding_errors,
                documents=documents,
                phrases=phrases_path,
                progress=progress,
                **vocabulary,
            )
            progress.done()
            return counted

        cooc = count(min_count=5 if min_count is None else min_count)
    if rank is None:
        rank = default_rank(cooc.shape)
    progress.note(f"embedding {cooc.shape[0]} words, rank {rank} ({solver} SVD)")
    client = _dask_client(engine, scheduler, workers, quiet, progress)
    if client is None and solver == "randomized":
        steps = (DEFAULT_N_ITER if n_iter is None else n_iter) + 2
        progress.expect("svd", steps, "solver steps")
    emb, s = embed_cooccurrence(
        cooc,
        rank,
        client=client,
        progress=progress,
        weighting=weighting,
        context_alpha=alpha,
        shift=shift,
        power=power,
        solver=solver,
        add_context=add_context,
        random_state=seed,
        n_iter=n_iter,
        n_oversamples=oversamples,
        subwords=subwords
        and {
            "min_n": subword_ngrams[0],
            "max_n": subword_ngrams[1],
            "buckets": subword_buckets,
            "method": subword_method,
        },
    )
    progress.done()
    _note_dropped(progress, emb.dropped)
    emb.singular_values = s  # kept by .npz files
    effective_min_count = 5 if min_count is None else min_count
    if subwords and not is_file and rare_words and effective_min_count > 1:
        from cooc.pipeline import fold_in_words

        progress.note(f"counting the words below --min-count {effective_min_count}")
        n_words = len(cooc.vocabulary)
        del cooc  # (the first count: not needed beside the second)
        counts = count(min_count=1, max_size=n_words + rare_words)
        with progress.timed("rare words"):
            emb = fold_in_words(emb, counts, s, max_words=rare_words)
        del counts
    with progress.timed("writing"):
        emb.save(output)
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "n_words": len(emb),
        "dropped_words": len(emb.dropped),
        "rank": int(rank),
        "seconds": round(seconds, 3),
        "top_singular_values": [float(x) for x in s[:5]],
        "smallest_singular_value": float(s[-1]),
        "stages": progress.table(),
    }
    if emb.subwords is not None:
        from cooc.files import base_suffix
        from cooc.subwords import sidecar_path

        params = emb.subwords.params()
        result["subwords"] = {k: params[k] for k in ("method", "min_n", "max_n")}
        result["subwords"]["buckets"] = params["buckets"]
        result["subwords"]["rare_words"] = params["n_rare"]
        result["subwords"]["file"] = (
            str(output) if base_suffix(output) == ".npz" else sidecar_path(output)
        )
    progress.note(
        f"wrote {len(emb)} vectors of {rank} dimensions to {output} in {seconds:.1f} s"
    )
    _emit(result, as_json, _kv_table(list(result.items())))


def _parse_ngrams(value):
    """``--subword-ngrams MIN:MAX`` as ``(min_n, max_n)``."""
    low, sep, high = str(value).partition(":")
    try:
        low, high = int(low), int(high if sep else low)
    except ValueError:
        low = high = 0
    if not 1 <= low <= high <= 32:
        raise click.BadParameter(
            f"{value!r}: expected MIN:MAX with 1 <= MIN <= MAX <= 32, e.g. 3:6.",
            param_hint="--subword-ngrams",
        )
    return low, high


def _note_dropped(progress, dropped):
    """Say on stderr which words got no vector (all-zero rows, left out)."""
    if dropped:
        shown = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
        progress.note(
            f"left out {len(dropped)} word(s) that co-occur with nothing (their "
            f"vectors would be all zero): {shown}"
        )


def _embed_streaming(path, rank, budget, forced, progress, oversamples) -> bool:
    """Whether ``cooc embed`` of a .cooc file streams it: ``--streaming``, or a
    budget below the in-memory estimate from the file's header (shape, nnz)."""
    if not forced and budget is None:
        return False
    from cooc.streaming import embed_fits_in_memory

    if forced:
        return True
    fits, estimate = embed_fits_in_memory(path, budget, rank, oversamples)
    if not estimate:  # the rank is refused later, with the matrix's size
        return False
    if not fits:
        progress.note(
            f"holding the matrix would take about {_bytes(estimate)} > --memory "
            f"{_bytes(budget)}: reading it in row blocks"
        )
        return True
    progress.note(
        f"holding the matrix takes about {_bytes(estimate)} <= --memory "
        f"{_bytes(budget)}: in memory"
    )
    return False


def _bytes(n: float) -> str:
    """A size for people: 512.0 MB, 7.5 GB."""
    for scale, unit in ((2**40, "TB"), (2**30, "GB"), (2**20, "MB"), (2**10, "kB")):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _StreamProgress:
    """Lines on stderr for the stages of the streaming embedding, with the time
    left in the stage and in the whole run: redrawn in place on a terminal;
    elsewhere one line per finished stage and one a minute within a long one."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = time.perf_counter()

    def __call__(self, event) -> None:
        if self.quiet:
            return
        text = f"{event.stage}: {event.fraction:4.0%} in {event.seconds:.1f} s"
        left = []
        if not event.done and event.stage_left is not None and event.fraction > 0:
            left.append(f"{_duration(event.stage_left)} left in the stage")
        if event.total_left is not None:
            left.append(f"about {_duration(event.total_left)} left in all")
        if left:
            text += f" ({'; '.join(left)})"
        now = time.perf_counter()
        if event.done:
            click.echo(("\r" if self.tty else "") + text + " " * 8, err=True)
            self.last = now
        elif self.tty:
            click.echo(f"\r{text}" + " " * 8, nl=False, err=True)
        elif now - self.last >= 60:
            click.echo(text, err=True)
            self.last = now


def _embed_stream(
    path, output, rank, weighting, alpha, shift, power, add_context, seed, budget,
    temp_dir, quiet, as_json, progress, t0, n_iter, oversamples,
):  # fmt: skip
    """``cooc embed FILE.cooc`` reading the file in row blocks (cooc.streaming)."""
    from cooc.streaming import embed_cooc_file

    budget_text = "no memory budget" if budget is None else f"--memory {_bytes(budget)}"
    progress.note(f"embedding {path} in row blocks ({budget_text}), randomized SVD")
    res = embed_cooc_file(
        path,
        output,
        rank,
        weighting=weighting,
        context_alpha=alpha,
        shift=shift,
        power=power,
        add_context=add_context,
        random_state=seed,
        memory=budget,
        temp_dir=temp_dir,
        progress=_StreamProgress(quiet),
        n_iter=n_iter,
        n_oversamples=oversamples,
    )
    seconds = time.perf_counter() - t0
    _note_dropped(progress, res.dropped)
    s = res.singular_values
    result = {
        "output": str(output),
        "n_words": res.n_words - len(res.dropped),
        "dropped_words": len(res.dropped),
        "rank": res.rank,
        "seconds": round(seconds, 3),
        "top_singular_values": [float(x) for x in s[:5]],
        "smallest_singular_value": float(s[-1]),
        "stages": res.stages,
        "streaming": {
            "memory": budget,
            "blocks_per_pass": res.blocks,
            "symmetric_passes": res.symmetric,
            "weight_cache": res.weight_cache,
        },
    }
    progress.note(
        f"wrote {res.n_words - len(res.dropped)} vectors of {res.rank} dimensions to {output} in "
        f"{seconds:.1f} s"
    )
    _emit(result, as_json, _kv_table(list(result.items())))


# -- similar / evaluate -------------------------------------------------------------------
def _load_vectors(path):
    from cooc.vectors import Embeddings

    return Embeddings.load(path)


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("vectors", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("words", nargs=-1, required=True)
@click.option(
    "--plus",
    multiple=True,
    metavar="WORD",
    help="Analogy: a word to add, like WORDS (repeatable).",
)
@click.option(
    "--minus",
    multiple=True,
    metavar="WORD",
    help="Analogy: a word to subtract (repeatable).",
)
@click.option(
    "--cosmul",
    is_flag=True,
    help="Rank the analogy by 3CosMul (Levy & Goldberg) instead of 3CosAdd.",
)
@click.option(
    "--odd-one-out",
    is_flag=True,
    help="Print the one of WORDS furthest from the others.",
)
@click.option(
    "--restrict-vocab",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Answers come from the first N (most frequent) words only.",
)
@click.option(
    "-k",
    "--top",
    "k",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="How many neighbours.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_errors
def similar(vectors, words, plus, minus, cosmul, odd_one_out, restrict_vocab, k,
            as_json):  # fmt: skip
    """Print nearest neighbours (cosine), analogies or the odd one out.

    WORDS alone: the neighbours of each word. With --plus/--minus (or
    --cosmul): one list answering the analogy, WORDS and every --plus
    attracting, every --minus repelling (gensim's most_similar, 3CosAdd; or
    most_similar_cosmul, 3CosMul). --odd-one-out: gensim's doesnt_match.
    A word missing from the vectors is tried in lower case; neighbours of the
    other words are still printed when some are unknown (named on stderr).
    Vectors made with cooc embed --subwords answer an unknown word with its
    estimate from character n-grams (said on stderr; "estimated": true in
    the JSON neighbours).

    \b
    Examples:
      cooc similar vectors.txt whale ship -k 5
      cooc similar vectors.txt king --minus man --plus woman
      cooc similar vectors.txt paris --minus france --plus italy --cosmul
      cooc similar vectors.txt king --restrict-vocab 30000 --json
      cooc similar vectors.txt --odd-one-out breakfast lunch dinner ship
      cooc similar subword-vectors.npz whaleship
    """
    analogy = bool(plus or minus or cosmul)
    if odd_one_out and (analogy or restrict_vocab is not None):
        raise BadInput(
            "--odd-one-out takes WORDS only, not --plus, --minus, --cosmul or "
            "--restrict-vocab."
        )
    if odd_one_out and len(words) < 2:
        raise BadInput("--odd-one-out needs at least two WORDS.")
    emb = _load_vectors(vectors)

    def find(word):
        return next((w for w in (word, word.lower()) if w in emb), None)

    keys = {word: find(word) for word in (*words, *plus, *minus)}
    estimated = []
    if emb.subwords is not None:  # unseen words: their n-gram estimates
        estimated = [
            word
            for word, key in keys.items()
            if key is None and emb.subwords.covers(word)  # (else no n-gram known)
        ]
        for word in estimated:
            keys[word] = word
            click.echo(
                f"{word!r} is not in the vocabulary; using its subword estimate.",
                err=True,
            )
    unknown = [word for word, key in keys.items() if key is None]
    if unknown and (analogy or odd_one_out or len(unknown) == len(keys)):
        listed = ", ".join(repr(w) for w in unknown)
        raise BadInput(
            f"word {listed} is not in the vocabulary of {vectors}."
            if len(unknown) == 1
            else f"words {listed} are not in the vocabulary of {vectors}."
        )
    if odd_one_out:
        odd = emb.doesnt_match([keys[w] for w in words])
        odd = next(w for w in words if keys[w] == odd)
        _emit({"words": list(words), "odd_one_out": odd}, as_json, odd)
        return
    if analogy:
        positive, negative = [*words, *plus], list(minus)
        rank = emb.most_similar_cosmul if cosmul else emb.most_similar
        ranked = rank(
            [keys[w] for w in positive],
            [keys[w] for w in negative],
            topn=k,
            restrict_vocab=restrict_vocab,
        )
        query = " ".join(
            [positive[0]]
            + [f"+ {w}" for w in positive[1:]]
            + [f"- {w}" for w in negative]
        )
        report = {
            "positive": positive,
            "negative": negative,
            "method": "3cosmul" if cosmul else "3cosadd",
            "results": [{"word": n, "score": s} for n, s in ranked],
        }
        if estimated:
            report["estimated"] = estimated
        table = f"{query}: " + ", ".join(f"{n} ({s:.3f})" for n, s in ranked)
        _emit(report, as_json, table)
        return
    for word in unknown:
        click.echo(
            f"word {word!r} is not in the vocabulary of {vectors}; skipped.", err=True
        )
    result = {}
    for word in words:
        if keys[word] is not None:
            result[word] = emb.most_similar(
                keys[word], topn=k, restrict_vocab=restrict_vocab
            )
    if as_json:
        mark = {"estimated": True}  # (cosines with the word's subword estimate)
        _emit(
            {
                w: [{"word": n, "cosine": s, **(mark if w in estimated else {})}
                    for n, s in v]
                for w, v in result.items()
            },
            True,
        )  # fmt: skip
        return
    for word, neigh in result.items():
        label = f"{word} (estimated)" if word in estimated else word
        click.echo(f"{label}: " + ", ".join(f"{n} ({s:.3f})" for n, s in neigh))


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("vectors", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@benchmark_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_errors
def evaluate(vectors, sim_files, analogy_files, restrict_vocab, as_json):
    """Score word vectors on similarity (Spearman) and analogy benchmarks.

    Similarity reports Spearman's rho over the covered pairs, the coverage, and
    rho with out-of-vocabulary pairs scored as zero similarity. Vectors made
    with cooc embed --subwords add score_all, rho over all pairs with unseen
    words given their n-gram estimates, and n_estimated, the pairs so scored.

    \b
    Example:
      cooc evaluate vectors.txt --similarity wordsim353.txt --similarity men_dataset.txt
      cooc evaluate vectors.txt --analogy questions-words.txt --json
    """
    import pandas as pd

    from cooc.evaluate import (
        evaluate_analogies,
        evaluate_similarity,
        load_analogies,
        load_similarity,
    )

    if not sim_files and not analogy_files:
        raise BadInput("give at least one --similarity or --analogy file.")
    emb = _load_vectors(vectors)
    has_subwords = emb.subwords is not None
    rows = []
    for f in sim_files:
        r = evaluate_similarity(emb, load_similarity(f))
        rows.append(
            {
                "file": f.name,
                "task": "similarity",
                "score": r["spearman"],
                "coverage": r["coverage"],
                "score_oov_zero": r["spearman_oov_zero"],
                "n": r["n_pairs"],
            }
        )
        if has_subwords:  # rho over all pairs, unseen words by their estimates
            rows[-1]["score_all"] = r["spearman_all"]
            rows[-1]["n_estimated"] = r["n_estimated"]
            if r["n_estimated"]:
                click.echo(
                    f"{f.name}: {r['n_estimated']} of {r['n_pairs']} pairs scored "
                    "with subword estimates of unseen words.",
                    err=True,
                )
    for f in analogy_files:
        q = load_analogies(f)
        for method in ("3cosadd", "3cosmul"):
            r = evaluate_analogies(emb, q, restrict_vocab=restrict_vocab, method=method)
            rows.append(
                {
                    "file": f.name,
                    "task": f"analogy {method}",
                    "score": r["accuracy"],
                    "coverage": r["coverage"],
                    "score_oov_zero": r["accuracy"] * r["coverage"],
                    "n": r["n_questions"],
                }
            )
            if has_subwords:  # (analogies are scored on the vocabulary only)
                rows[-1]["score_all"] = float("nan")
                rows[-1]["n_estimated"] = 0
    frame = pd.DataFrame(rows)
    _emit(rows, as_json, _frame_table(frame))


# -- demo -------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--rank",
    type=click.IntRange(2),
    default=128,
    show_default=True,
    help="Dimensions of the demo vectors.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also keep the demo's .cooc and vectors here.",
)
@click.option(
    "--only",
    type=click.Choice(["all", "text", "multimodal"]),
    default="all",
    show_default=True,
    help="Run the text part, the image + text part, or both.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Cross-validate the image + text part (5 folds, a few minutes) instead of "
    "one 80/20 hold-out split.",
)
@click.option(
    "--folds",
    type=click.IntRange(2, 20),
    default=None,
    help="Cross-validation folds of the image + text part [default: 5 with --full].",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write an HTML report (as cooc report) of the text part's matrix "
    "and vectors and of the image + text model on the held-out 20 %.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@quiet_json_options
@_errors
def demo(rank, output_dir, only, full, folds, report_path, seed, quiet, as_json):
    """Run the main jobs on the shipped data and print the results.

    Text: counts co-occurrences in Jane Austen, Moby-Dick and the State of the
    Union addresses (2.7M tokens, shipped inside the package), embeds them
    with PPMI + SVD, prints nearest neighbours and, when the word-similarity
    files are found (a shared/data folder or $COOC_DATA), their Spearman
    scores.

    Images + text: on the shipped emoji set (1,906 images, CLDR names and
    keywords, 9 categories) scores text-only, image-only, early and late
    fusion and joint-embedding classifiers (accuracy and macro-F1) on one
    stratified 80/20 hold-out split, or cross-validated with --full (a few
    minutes on 2 cores), then prints cross-modal neighbours. The text results
    are printed as soon as they exist, before the image part runs.

    \b
    Example:
      cooc demo
      cooc demo --only text --rank 64 --json
      cooc demo --full
      cooc demo --only multimodal --folds 3
      cooc demo --report demo.html
    """
    from cooc.demo import run_demo, run_multimodal_demo

    progress = Progress(quiet)
    result = {}
    parts = {}  # what the report shows
    if report_path is not None:
        from cooc.files import check_output
        from cooc.report import require_matplotlib

        check_output(report_path)
        require_matplotlib()  # (missing: the one-line error before any work)
    n_splits = folds if folds is not None else (5 if full else 1)
    if only in ("all", "text"):
        text = run_demo(
            rank=rank,
            output_dir=output_dir,
            progress=progress,
            keep_objects=report_path is not None,
        )
        parts["cooc"] = text.pop("_cooc", None)
        parts["embeddings"] = text.pop("_embeddings", None)
        table = text.pop("_table")
        result = text if only == "text" else {"text": text}
        if not as_json:
            click.echo(table)  # now, not after the image part
    if only in ("all", "multimodal"):
        images = run_multimodal_demo(
            n_splits=n_splits, random_state=seed, progress=progress
        )
        table = images.pop("_table")
        result = images if only == "multimodal" else {**result, "multimodal": images}
        if not as_json:
            click.echo(table)
    if report_path is not None:
        result["report"] = _demo_report(report_path, only, parts, seed, progress)
    if as_json:
        _emit(result, True)


def _demo_report(path, only, parts, seed, progress) -> dict:
    """Write the demo's report: the text part's matrix and vectors (with the
    similarity files when found), the emoji model on the held-out split."""
    from cooc.datasets import similarity_files
    from cooc.demo import DEMO_WORDS, demo_classifier
    from cooc.report import assemble_report

    t0 = time.perf_counter()
    emb = parts.get("embeddings")
    model_items = None
    if only in ("all", "multimodal"):
        progress.note("report: fitting the emoji model (cooc fit) on the 80 % split")
        model, items, y = demo_classifier(random_state=seed)
        model_items = (items, y, model)
    report = assemble_report(
        cooc=parts.get("cooc"),
        embeddings=emb,
        model_items=model_items,
        similarity=list(similarity_files().values()) if emb is not None else (),
        words=[w for w in DEMO_WORDS if w in emb] or None if emb is not None else None,
        random_state=seed,
        title="cooc demo report",
        progress=lambda text: progress.note(f"report: {text}"),
    )
    size = report.save(path)
    seconds = time.perf_counter() - t0
    progress.note(f"wrote {path} ({_bytes(size)}) in {seconds:.1f} s")
    return {"output": str(path), "bytes": size, "seconds": round(seconds, 3)}


# -- images -----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("images", nargs=-1, required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="TSV to write: image<TAB>visual_words (space-separated vwK tokens, patch order).",
)
@_input_file_option(
    "--features",
    "features_npy",
    "Instead of IMAGES: a .npy (or one-array .npz) of region features "
    "(n, r, d) from another tool, quantized by k-means (after a PCA to 64 "
    "components when d > 256).",
)
@click.option(
    "--pq",
    "pq_subspaces",
    type=click.IntRange(1),
    default=None,
    help="With --features: product quantization in this many blocks of "
    "dimensions, --words = k**PQ (e.g. --pq 2 --words 256: 16 centres a block).",
)
@click.option(
    "--words",
    type=click.IntRange(2),
    default=512,
    show_default=True,
    help="Size of the visual-word codebook (k-means clusters).",
)
@click.option(
    "--patch-size",
    type=click.IntRange(2),
    default=12,
    show_default=True,
    help="Side of the square patches, in pixels.",
)
@click.option(
    "--step",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Distance between patch corners on the grid.",
)
@click.option(
    "--image-size",
    type=click.IntRange(4),
    default=None,
    help="Resize every image to this square size first.",
)
@click.option("--gray", is_flag=True, help="Grayscale patches instead of colour.")
@click.option(
    "--descriptor",
    type=click.Choice(["raw", "hog", "hog+color"]),
    default="hog+color",
    show_default=True,
    help="Normalised pixels, gradient-orientation histograms, or those plus "
    "mean cell colours.",
)
@click.option(
    "--key", default="images", show_default=True, help="Array name inside a .npz input."
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@quiet_json_options
@_errors
def quantize(
    images,
    output,
    words,
    patch_size,
    step,
    image_size,
    gray,
    descriptor,
    key,
    seed,
    quiet,
    as_json,
    features_npy=None,
    pq_subspaces=None,
):
    """Turn images into sequences of visual words (k-means codes of patches).

    IMAGES is image files, directories or globs (read with Pillow), or one
    .npz archive holding an array of
    images (n, height, width[, channels]). The output TSV can be counted like
    text: cooc build codes.tsv --column visual_words --tokenizer whitespace.
    With --features instead of IMAGES, the regions of each row (n, r, d) are
    its "patches" (named F.npy[i], regions in order).

    \b
    Example:
      cooc quantize photos/ -o codes.tsv --words 512
      cooc quantize emoji.npz -o codes.tsv --words 256 --patch-size 8 --step 4
      cooc quantize --features regions.npy -o codes.tsv --words 256
      cooc quantize --features clip_tokens.npy -o codes.tsv --words 256 --pq 2
    """
    import pandas as pd

    from cooc.files import atomic_write
    from cooc.vision import VisualWords

    progress = Progress(quiet)
    t0 = time.perf_counter()
    from cooc.features import RegionWords, read_features
    from cooc.items import read_images

    _one_image_source(features_npy, images)
    if features_npy is not None:
        arrays = read_features(features_npy, ndim=(3,))
        names = [f"{features_npy.name}[{i}]" for i in range(len(arrays))]
        vw = RegionWords(
            words,
            quantizer="kmeans" if pq_subspaces is None else "pq",
            n_subspaces=pq_subspaces or 2,
            random_state=seed,
        )
    elif not images:
        raise BadInput("pass IMAGES (files, folders, globs or one .npz) or --features.")
    elif pq_subspaces is not None:
        raise BadInput("--pq applies to --features only.")
    else:
        arrays, names = read_images(images, key=key, size=image_size)
        vw = VisualWords(
            words,
            patch_size=patch_size,
            step=step,
            image_size=image_size,
            grayscale=gray,
            descriptor=descriptor,
            random_state=seed,
        )
    progress.note(f"quantizing {len(arrays)} images into {words} visual words")
    codes, offsets, _ = vw.fit(arrays).encode(arrays)
    tokens = np.char.add("vw", codes.astype(str))
    rows = [" ".join(tokens[offsets[i] : offsets[i + 1]]) for i in range(len(names))]
    frame = pd.DataFrame({"image": names, "visual_words": rows})
    with atomic_write(output, "w", compress=True, encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, sep="\t", index=False)
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "n_images": len(names),
        "n_words": int(words),
        "n_patches": int(codes.shape[0]),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(names) / max(seconds, 1e-9), 1),
    }
    progress.note(f"wrote {output} in {seconds:.1f} s")
    _emit(result, as_json, _kv_table(list(result.items())))


# -- fit / predict ----------------------------------------------------------------------


def image_array_options(fn):
    """``--images`` (a .npz array archive, row for row with the table) and ``--key``."""
    fn = click.option(
        "--key", default="images", show_default=True, help="Array name in --images."
    )(fn)
    return click.option(
        "--images",
        "images_npz",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A .npz of an image array, row for row with the table.",
    )(fn)


def features_option(fn):
    """``--features F.npy``: precomputed image features, row for row with the table."""
    return _input_file_option(
        "--features",
        "features_npy",
        "A .npy (or one-array .npz) of image features from another tool "
        "(CNN, CLIP), row for row with the table: per image (n, d) or per "
        "region (n, r, d). Not with --images.",
    )(fn)


def _parse_scales(value):
    """``"1,2"`` -> ``(1, 2)``: distinct ints >= 1, 1 first."""
    try:
        scales = tuple(int(v) for v in str(value).split(","))
    except ValueError:
        scales = ()
    if not scales or scales[0] != 1 or min(scales) < 1 or len(set(scales)) < len(scales):
        raise click.BadParameter(
            f"{value!r}: expected distinct integers >= 1 starting with 1, e.g. 1,2."
        )
    return scales


def image_feature_options(fn):
    """The image features of ``cooc fit`` (MultimodalClassifier's parameters)."""
    options = [
        click.option(
            "--image-components",
            type=click.IntRange(0),
            default=256,
            show_default=True,
            help="Truncated SVD of the dense image block (fisher/vlad) to this "
            "many columns; 0 keeps them all.",
        ),
        click.option(
            "--color-histogram/--no-color-histogram",
            default=True,
            show_default=True,
            help="Append HSV colour histograms (whole image and quadrants).",
        ),
        click.option(
            "--scales",
            default="1,2",
            show_default=True,
            metavar="S1,S2,...",
            callback=lambda ctx, param, value: _parse_scales(value),
            help="Image scales of the patches, 1 first (scales that make the "
            "images smaller than a patch are left out).",
        ),
        click.option(
            "--descriptor",
            type=click.Choice(["hog+opponent", "hog+color", "hog", "raw"]),
            default="hog+opponent",
            show_default=True,
            help="Patch descriptor.",
        ),
        click.option(
            "--pyramid/--no-pyramid",
            default=True,
            show_default=True,
            help="Add the encodings of the four image quadrants.",
        ),
        click.option(
            "--components",
            type=click.IntRange(1),
            default=16,
            show_default=True,
            help="Mixture size of fisher, codebook size of vlad.",
        ),
        click.option(
            "--encoding",
            type=click.Choice(["fisher", "vlad", "bow", "soft"]),
            default="fisher",
            show_default=True,
            help="Image encoding: Fisher vectors, VLAD, or a bag of --words "
            "visual words (hard or soft assignment).",
        ),
    ]
    for option in options:
        fn = option(fn)
    return fn


def _one_image_source(features_npy, images):
    if features_npy is not None and images:
        raise BadInput("pass images (--images or IMAGES) or --features, not both.")


def _features_kind(features_npy, items, image_column):
    """``"vector"``/``"regions"``: what --features holds (``"pixels"`` without it)."""
    if features_npy is None:
        return "pixels"
    first = items[image_column].iloc[0]
    return "vector" if np.ndim(first) == 1 else "regions"


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Model file to write (skops format, safe to load).",
)
@click.option("--label-column", required=True, help="Column with the class labels.")
@click.option("--text-column", default="text", show_default=True)
@click.option(
    "--image-column",
    default="image",
    show_default=True,
    help="Column of image file paths (relative to the table), or the column "
    "name to give the --images array. A table without the default column and "
    "no --images trains a text-only model.",
)
@image_array_options
@features_option
@click.option(
    "--fusion",
    type=click.Choice(["early", "late", "text", "image"]),
    default="early",
    show_default=True,
    help="Late/early fusion with learned modality weights, or one modality.",
)
@click.option(
    "--rule",
    type=click.Choice(["mean", "product", "vote", "stack"]),
    default="mean",
    show_default=True,
    help="How late fusion combines the modalities: weighted mean, product or "
    "vote of their probabilities, or a logistic regression over them (stack).",
)
@click.option(
    "--classifier",
    type=click.Choice(["linear_svm", "logreg", "forest"]),
    default="linear_svm",
    show_default=True,
)
@click.option(
    "--words",
    type=click.IntRange(2),
    default=512,
    show_default=True,
    help="Visual words of --encoding bow/soft and of region --features.",
)
@image_feature_options
@click.option(
    "--cv",
    type=click.IntRange(2),
    default=5,
    show_default=True,
    help="Folds of the modality-weight search.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@quiet_json_options
@_errors
def fit(
    data,
    output,
    label_column,
    text_column,
    image_column,
    images_npz,
    key,
    features_npy,
    fusion,
    rule,
    classifier,
    words,
    encoding,
    components,
    pyramid,
    descriptor,
    scales,
    color_histogram,
    image_components,
    cv,
    seed,
    quiet,
    as_json,
):
    """Train a text + image classifier on a table and save it.

    DATA is a CSV/TSV/Parquet/JSONL table with a text column, a label column
    and an image column of file paths (or --images with an array archive).
    Missing texts or images are allowed. Without an image column (and without
    --images) the model is text only. Images are described by Fisher vectors
    of dense HOG + opponent-colour patches at two scales with a 2 x 2 pyramid,
    plus HSV colour histograms, reduced by a truncated SVD (--encoding bow
    --no-pyramid --descriptor hog+color --scales 1 --no-color-histogram gives
    the bag of visual words of cooc 0.2). --features takes image features made
    by another tool instead of images: per image (n, d), standardised into
    the image block; or per region (n, r, d), quantized into --words visual
    words.

    \b
    Example:
      cooc fit items.csv --label-column category --images images.npz -o model.skops
      cooc predict model.skops items.csv --images images.npz -o predictions.csv
      cooc fit texts.csv --label-column category -o text_model.skops
      cooc fit items.csv --label-column category --features clip.npy -o model.skops
    """
    from click.core import ParameterSource

    from cooc.classify import save_model
    from cooc.items import read_items
    from cooc.models import MultimodalClassifier

    progress = Progress(quiet)
    t0 = time.perf_counter()
    source = click.get_current_context().get_parameter_source("image_column")
    _one_image_source(features_npy, images_npz)
    frame, items = read_items(
        data,
        text_column=text_column,
        image_column=image_column,
        images=images_npz,
        key=key,
        label_column=label_column,
        image_optional=source is ParameterSource.DEFAULT,
        features=features_npy,
    )
    image_input = _features_kind(features_npy, items, image_column)
    if not image_column or image_column not in items.columns:
        if fusion == "image":
            raise BadInput(
                f"{data}: --fusion image needs images; the table has no column "
                f"{image_column!r} (pass --image-column or --images)."
            )
        fusion = "text"
        progress.note("no image column: text only")
    y = frame[label_column].astype(str).to_numpy()
    progress.note(f"training on {len(frame)} items ({fusion} fusion, {classifier})")
    model = MultimodalClassifier(
        text_column,
        image_column,
        fusion=fusion,
        rule=rule,
        classifier=classifier,
        n_visual_words=words,
        encoding=encoding,
        n_components=components,
        pyramid=pyramid,
        descriptor=descriptor,
        scales=scales,
        color_histogram=color_histogram,
        image_components=image_components or None,
        image_input=image_input,
        cv=cv,
        random_state=seed,
    ).fit(items, y)
    save_model(model, output, metadata={"label_column": label_column})
    seconds = time.perf_counter() - t0
    result = {
        "output": str(output),
        "n_items": len(frame),
        "classes": list(model.classes_),
        "train_accuracy": float((model.predict(items) == y).mean()),
        "seconds": round(seconds, 3),
    }
    progress.note(f"wrote {output} in {seconds:.1f} s")
    _emit(result, as_json, _kv_table(list(result.items())))


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument(
    "model_path",
    metavar="MODEL",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV of predictions: prediction + one proba_ column per class.",
)
@image_array_options
@features_option
@quiet_json_options
@_errors
def predict(model_path, data, output, images_npz, key, features_npy, quiet, as_json):
    """Predict the labels of a table with a model from cooc fit.

    A model fitted with --features needs --features of the same kind (per
    image or per region) and size d, row for row with DATA.

    \b
    Example:
      cooc predict model.skops items.csv --images images.npz -o predictions.csv
      cooc predict model.skops items.csv --features clip.npy -o predictions.csv
    """
    import pandas as pd

    from cooc.classify import load_model
    from cooc.files import atomic_write
    from cooc.items import read_items
    from cooc.models import MODEL_TYPES

    model, meta = load_model(
        model_path, trusted=MODEL_TYPES, expected="cooc.models.MultimodalClassifier"
    )
    # a text-only model needs no image column (nor reads one)
    uses_images = getattr(model.features_, "visual_words_", None) is not None
    wanted = getattr(model, "image_input", "pixels") if uses_images else None
    _one_image_source(features_npy, images_npz)
    if wanted in ("vector", "regions") and features_npy is None:
        shape = "(n, d)" if wanted == "vector" else "(n, r, d)"
        raise BadInput(
            f"{model_path} was fitted on image features {shape}; pass --features."
        )
    if wanted == "pixels" and features_npy is not None:
        raise BadInput(
            f"{model_path} was fitted on images, not --features; pass --images "
            "or the table's image column."
        )
    frame, items = read_items(
        data,
        text_column=None,
        image_column=model.image_column if uses_images else None,
        images=images_npz if uses_images and features_npy is None else None,
        key=key,
        features=features_npy if uses_images else None,
    )
    if wanted in ("vector", "regions"):
        got = _features_kind(features_npy, items, model.image_column)
        if got != wanted:
            shape = "(n, d)" if wanted == "vector" else "(n, r, d)"
            raise BadInput(
                f"{features_npy}: {model_path} was fitted on features of shape "
                f"{shape}; pass the same kind."
            )
        d = np.shape(items[model.image_column].iloc[0])[-1]
        fitted = model.features_.visual_words_.n_features_in_
        if d != fitted:
            raise BadInput(
                f"{features_npy}: features of size d={d}, but {model_path} was "
                f"fitted on d={fitted}; pass features from the same extractor."
            )
    if model.text_column not in items.columns:
        items[model.text_column] = None
    proba = model.predict_proba(items)
    pred = model.classes_[np.argmax(proba, axis=1)]
    out = pd.DataFrame({"prediction": pred})
    for j, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, j]
    with atomic_write(output, "w", compress=True, encoding="utf-8", newline="") as fh:
        out.to_csv(fh, index=False)
    result = {"output": str(output), "n_items": len(out)}
    label = (meta or {}).get("label_column")
    if label and label in frame.columns:
        result["accuracy"] = float((frame[label].astype(str).to_numpy() == pred).mean())
    Progress(quiet).note(f"wrote {len(out)} predictions to {output}")
    _emit(result, as_json, _kv_table(list(result.items())))


# -- report -----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument(
    "inputs",
    metavar="INPUT...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write (self-contained: figures inline, no URL).",
)
@benchmark_options
@click.option(
    "--table",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A labelled table (as cooc predict reads) to judge a model from cooc fit on.",
)
@click.option(
    "--label-column",
    default=None,
    help="--table's label column [default: the one the model was fitted with].",
)
@image_array_options
@click.option(
    "--words",
    default=None,
    metavar="W1,W2,...",
    help="Words of the neighbour table [default: the 6 most frequent].",
)
@click.option(
    "--map-words",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Words on the 2-D map (the most frequent; 0: no map).",
)
@click.option(
    "--top-pairs",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Rows of the strongest-PPMI-pairs table of a .cooc.",
)
@weighting_options(
    "With a .cooc and vectors: the weighting the vectors were embedded with "
    "(as cooc embed), for the energy share of the spectrum."
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Seed of the word map."
)
@quiet_json_options
@_errors
def report(
    inputs,
    output,
    sim_files,
    analogy_files,
    restrict_vocab,
    table,
    label_column,
    images_npz,
    key,
    words,
    map_words,
    top_pairs,
    weighting,
    alpha,
    shift,
    seed,
    quiet,
    as_json,
):
    """Write one self-contained HTML report of a .cooc, vectors and/or a model.

    Each INPUT is told apart by its content: a .cooc (corpus statistics,
    word-frequency and row-degree distributions, strongest PPMI pairs),
    vectors (singular-value spectrum and cumulative energy, exact with the
    .cooc they came from; a t-SNE map of the most frequent words, or UMAP when
    umap-learn is installed; neighbour tables; with --similarity/--analogy,
    a human-vs-cosine scatter with its rho and accuracy per section), or a
    model from cooc fit with --table (confusion matrix, per-class
    precision/recall/F1, modality weights, one-vs-rest ROC curves,
    misclassified images). The figures are PNGs drawn by matplotlib (pip
    install 'cooc[plot]') inside the file: it opens without a network.

    \b
    Example:
      cooc report corpus.cooc vectors.npz --similarity wordsim353.txt -o report.html
      cooc report vectors.npz --words whale,ship --map-words 300 -o vectors.html
      cooc report model.skops --table test.csv --images test.npz -o model.html
    """
    from cooc.report import build_report

    progress = Progress(quiet)
    t0 = time.perf_counter()
    chosen = [w.strip() for w in words.split(",") if w.strip()] if words else None
    if words is not None and not chosen:
        raise BadInput(f"--words: expected words separated by commas, got {words!r}.")
    result = build_report(
        inputs,
        similarity=sim_files,
        analogy=analogy_files,
        restrict_vocab=restrict_vocab,
        table=table,
        label_column=label_column,
        images=images_npz,
        key=key,
        words=chosen,
        map_words=map_words,
        top_pairs=top_pairs,
        weighting=weighting,
        context_alpha=alpha,
        shift=shift,
        random_state=seed,
        progress=progress.note,
    )
    size = result.save(output)
    seconds = time.perf_counter() - t0
    progress.note(f"wrote {output} ({_bytes(size)}) in {seconds:.1f} s")
    summary = {
        "output": str(output),
        "bytes": size,
        "sections": result.summary(),
        "n_figures": len(result.figures),
        "seconds": round(seconds, 3),
    }
    _emit(
        summary,
        as_json,
        _kv_table([(k, v) for k, v in summary.items() if k != "sections"]),
    )


def main() -> None:
    """The ``cooc`` program (``python -m cooc`` too)."""
    global _AS_PROGRAM
    _AS_PROGRAM = True
    cli()
