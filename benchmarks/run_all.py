"""Run every benchmark script (``benchmarks/bench_*.py``) and print its tables.

Usage::

    python benchmarks/run_all.py            # full corpus (~6 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # 1M-token subset (~3 minutes)
    python benchmarks/run_all.py --only counting --repeat 5

Options other than ``--only`` are passed on to each script. Tables go to
standard output; a script that fails is reported and the others still run; the
exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Run the cooc benchmarks.",
        epilog="Other options (--quick, --repeat N, --max-seconds S, ...) go to every "
        "script.",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only bench_NAME.py (repeatable), e.g. --only counting",
    )
    args, rest = p.parse_known_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {
            f"bench_{n.removeprefix('bench_').removesuffix('.py')}.py"
            for n in args.only
        }
        scripts = [s for s in scripts if s.name in wanted]
        if not scripts:
            print(f"no benchmark named {sorted(wanted)} in {HERE}", file=sys.stderr)
            return 2
    failed = []
    t_start = time.perf_counter()
    for script in scripts:
        print(f"### {script.name} {' '.join(rest)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *rest])
        print(
            f"### {script.name}: {time.perf_counter() - t0:.0f} s, exit {code}\n",
            flush=True,
        )
        if code != 0:
            failed.append(script.name)
    total = time.perf_counter() - t_start
    print(
        f"### all benchmarks: {total:.0f} s"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
