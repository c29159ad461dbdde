"""cooc quantize / fit / predict on the emoji images: the image features of
issue 18 against the bag of visual words they replaced, end to end.

Each row is one CLI process (text table + image archive in, file out): wall
seconds per 1,000 images, CPU seconds and the process's peak resident set
(``os.wait4``), the output's size, and for ``predict`` the accuracy and
macro-F1 on the held-out items. Data: the shipped emoji set (1,906 images,
64 x 64), split 80/20 stratified (seed 0) as the quick demo does; ``fit``
trains on the 80 %, ``predict`` the 20 % (and, for throughput, every item),
``quantize`` encodes every image.

    python benchmarks/bench_image_fit.py [--repeat N] [--quick]

Rows: "bag (cooc 0.2)" is ``--encoding bow --no-pyramid --descriptor
hog+color --scales 1 --no-color-histogram`` (the defaults before issue 18),
"default" the current defaults (Fisher vectors of 16 components, pyramid,
opponent colour, scales 1,2, colour histograms, SVD to 256 columns), and
"default, late stack" the same features with ``--fusion late --rule stack``,
"default, no SVD" the same with ``--image-components 0``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli_process, fmt, load_average, machine_line, table

BAG = [
    "--encoding", "bow", "--no-pyramid", "--descriptor", "hog+color",
    "--scales", "1", "--no-color-histogram",
]  # fmt: skip
CONFIGS = {
    "bag (cooc 0.2)": BAG,
    "default": [],
    "default, late stack": ["--fusion", "late", "--rule", "stack"],
    "default, no SVD": ["--image-components", "0"],
}


def write_data(folder: Path):
    """The emoji items as train/test/all tables + image archives."""
    import pandas as pd
    from sklearn.model_selection import StratifiedShuffleSplit

    from cooc.datasets import load_emoji

    images, frame = load_emoji()
    y = frame["category"].to_numpy(dtype=str)
    split = StratifiedShuffleSplit(1, test_size=0.2, random_state=0)
    train, test = next(split.split(np.zeros(len(y)), y))
    parts = {"train": train, "test": test, "all": np.arange(len(y))}
    for name, rows in parts.items():
        table_ = pd.DataFrame(
            {"text": frame["text"].to_numpy()[rows], "label": y[rows]}
        )
        table_.to_csv(folder / f"{name}.csv", index=False)
        np.savez(folder / f"{name}.npz", images=images[rows])
    return {name: len(rows) for name, rows in parts.items()}


def best(args, repeat, cwd):
    runs = [cli_process(args, cwd=cwd) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def scores(folder: Path, predictions: str):
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    truth = pd.read_csv(folder / "test.csv")["label"].astype(str)
    pred = pd.read_csv(folder / predictions)["prediction"].astype(str)
    return accuracy_score(truth, pred), f1_score(truth, pred, average="macro")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    parser.add_argument(
        "--quick", action="store_true", help="leave out the slow no-SVD row"
    )
    args = parser.parse_args(argv)
    configs = {k: v for k, v in CONFIGS.items() if not (args.quick and "no SVD" in k)}
    print(machine_line(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cooc-image-fit-") as tmp:
        folder = Path(tmp)
        n = write_data(folder)
        q = best(
            ["quantize", "all.npz", "-o", "codes.tsv", "--words", "512", "--quiet"],
            args.repeat,
            folder,
        )
        size = (folder / "codes.tsv").stat().st_size
        rows.append(["quantize (both)", "all", n["all"], q, size, None])
        for name, extra in configs.items():
            model = f"{name.split()[0]}-{len(rows)}.skops"
            fit = best(
                ["fit", "train.csv", "--label-column", "label", "--images",
                 "train.npz", "-o", model, "--quiet", *extra],
                args.repeat,
                folder,
            )  # fmt: skip
            rows.append([f"fit: {name}", "train", n["train"], fit,
                         (folder / model).stat().st_size, None])  # fmt: skip
            for part in ("test", "all"):
                out = f"{model}.{part}.csv"
                pred = best(
                    ["predict", model, f"{part}.csv", "--images", f"{part}.npz",
                     "-o", out, "--quiet"],
                    args.repeat,
                    folder,
                )  # fmt: skip
                quality = scores(folder, out) if part == "test" else None
                rows.append([f"predict: {name}", part, n[part], pred,
                             (folder / out).stat().st_size, quality])  # fmt: skip
            print(f"{name}: done (load {load_average():.1f})", flush=True)
    base = {r[0].split(": ")[0] + r[1]: r[3]["seconds"] / r[2] for r in rows
            if "bag" in r[0] or "quantize" in r[0]}  # fmt: skip
    out = []
    for label, part, count, run, size, quality in rows:
        per_k = 1000 * run["seconds"] / count
        ref = base.get(label.split(": ")[0] + part)
        out.append([
            label, part, count, fmt(per_k, ".2f"),
            fmt(per_k / (1000 * ref) if ref else None, ".2f"),
            fmt(run["cpu_seconds"], ".1f"), fmt(run["peak_mib"], ".0f"),
            fmt(size / 2**20, ".2f"),
            "" if quality is None else f"{quality[0]:.3f} / {quality[1]:.3f}",
        ])  # fmt: skip
    print(
        table(
            "cooc quantize / fit / predict on emoji (one process per row)",
            [
                "command",
                "items",
                "n",
                "s per 1k",
                "x bag",
                "CPU s",
                "peak MiB",
                "out MiB",
                "held-out acc / macro-F1",
            ],  # fmt: skip
            out,
            notes=[
                "s per 1k: wall seconds of the whole process per 1,000 items "
                "(start-up included); x bag: over the same command with the "
                "bag of visual words of cooc 0.2",
                f"load average after the table: {load_average():.2f}",
            ],
        )
    )


if __name__ == "__main__":
    main()
