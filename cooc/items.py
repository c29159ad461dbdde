"""Reading labelled items: a table of texts (and image paths) and their images.

``cooc fit``, ``cooc predict`` and ``cooc quantize`` read their input through
these functions, and Python callers can do the same::

    frame, items = read_items("train.csv", text_column="text", image_column="image")
    images, names = read_images(["icons/"])

Every problem with the files is an :class:`cooc.errors.InputError` naming the
file and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cooc.corpus import resolve_paths
from cooc.errors import InputError
from cooc.features import read_features
from cooc.files import base_suffix, compression_of, decompression_error
from cooc.vision import check_images, load_images

__all__ = ["IMAGE_SUFFIXES", "read_images", "read_items", "read_table"]

#: Image files :func:`read_images` picks from directories and globs.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)


def read_table(path) -> pd.DataFrame:
    """A ``.csv``, ``.tsv``, ``.parquet`` or ``.jsonl`` table as a DataFrame.

    The text formats may be compressed (``.gz``, ``.bz2``, ``.xz``; pandas
    reads them). Raises :class:`InputError` for another suffix or a table
    that cannot be read.
    """
    path = Path(path)
    suffix = base_suffix(path)
    packed = compression_of(path)
    readers = {
        ".csv": lambda: pd.read_csv(path, keep_default_na=True),
        ".tsv": lambda: pd.read_csv(path, sep="\t"),
        ".jsonl": lambda: pd.read_json(path, lines=True),
        ".json": lambda: pd.read_json(path, lines=True),
        ".ndjson": lambda: pd.read_json(path, lines=True),
    }
    if not packed:
        readers[".parquet"] = readers[".pq"] = lambda: pd.read_parquet(path)
    if suffix not in readers:
        raise InputError(
            f"{path}: expected a .csv, .tsv, .parquet or .jsonl table (the text "
            "ones may end in .gz, .bz2 or .xz)."
        )
    try:
        return readers[suffix]()
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
        raise
    except Exception as exc:
        damaged = decompression_error(path, exc)
        if damaged is not None:
            raise damaged from None
        raise InputError(f"{path}: cannot read the table ({exc}).") from None


def read_images(inputs, *, key: str = "images", size=None):
    """Images from one ``.npz`` archive (array ``key``) or from image files.

    Parameters
    ----------
    inputs : sequence of str or path-like
        One ``.npz`` file, or image files, directories and glob patterns
        (files with a suffix in :data:`IMAGE_SUFFIXES` are read, needs Pillow).
    key : str
        The array to take from a ``.npz`` archive.
    size : int or (int, int), optional
        Resize image files to this size (see :func:`cooc.vision.load_images`).

    Returns
    -------
    images : ndarray of shape (n, H, W[, C])
    names : list of str
        The file path of each image, or ``archive.npz[i]``.
    """
    inputs = list(inputs)
    if len(inputs) == 1 and str(inputs[0]).endswith(".npz"):
        path = Path(inputs[0])
        if not path.is_file():
            raise InputError(f"image archive {str(path)!r} does not exist.")
        try:
            with np.load(path, allow_pickle=False) as z:
                found = sorted(z.keys())
                images = z[key] if key in found else None
        except Exception as exc:
            raise InputError(f"{path}: not a readable .npz archive ({exc}).") from None
        if images is None:
            raise InputError(
                f"{path}: no array {key!r} (found {found}); choose one with --key."
            )
        names = [f"{path.name}[{i}]" for i in range(len(images))]
        try:
            return check_images(images), names
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: {exc}") from None
    files = [
        p
        for p in resolve_paths(inputs)
        if isinstance(p, Path) and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise InputError(
            f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) among {inputs}; "
            "or pass one .npz archive of an 'images' array."
        )
    return load_images(files, size=size), [str(p) for p in files]


def read_items(
    table,
    *,
    text_column: str = "text",
    image_column: str | None = "image",
    images=None,
    key: str = "images",
    label_column: str | None = None,
    image_optional: bool = False,
    features=None,
):
    """A table of items with their images loaded, ready for the classifiers.

    Parameters
    ----------
    table : str or path-like
        A table (see :func:`read_table`) with a text column, optionally a
        label column, and an image column of paths (relative paths are taken
        from the table's folder; an empty cell is an item without an image).
    images : str or path-like, optional
        A ``.npz`` archive whose array ``key`` holds one image per row, in
        place of the image column of paths.
    label_column : str, optional
        A column that must be present (the labels, for fitting).
    image_optional : bool
        Without ``images``, a table that lacks ``image_column`` gives items
        without images instead of an error.
    features : str or path-like, optional
        A ``.npy`` (or one-array ``.npz``) of precomputed image features,
        per image ``(n, d)`` or per region ``(n, r, d)``, row for row with the
        table (see :func:`cooc.features.read_features`); the image column then
        holds each row's ``(d,)`` or ``(r, d)`` array. Not with ``images``.

    Returns
    -------
    frame : DataFrame
        The table as read.
    items : DataFrame
        A copy whose image column holds arrays (or None) instead of paths.
    """
    table = Path(table)
    if features is not None and images is not None:
        raise InputError("pass image features or an image archive, not both.")
    frame = read_table(table)
    if features is not None:
        images, image_column = features, image_column or "image"
    if image_optional and images is None and image_column not in frame.columns:
        image_column = None
    wanted = [c for c in (text_column, label_column) if c]
    if image_column and images is None:
        wanted.append(image_column)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(
            f"{table}: no column(s) {missing}; the table has {list(frame.columns)}."
        )
    out = frame.copy()
    if images is not None:
        if features is not None:
            arrays = read_features(features)
        else:
            arrays, _ = read_images([images], key=key)
        if len(arrays) != len(frame):
            what = "feature rows" if features is not None else "images"
            raise InputError(
                f"{images} holds {len(arrays)} {what} but {table} has "
                f"{len(frame)} rows; they must match row for row."
            )
        out[image_column] = list(arrays)
    elif image_column:
        paths = frame[image_column]
        present = [i for i, p in enumerate(paths) if isinstance(p, str) and p.strip()]
        files = [
            Path(paths[i]) if Path(paths[i]).is_absolute() else table.parent / paths[i]
            for i in present
        ]
        column = [None] * len(frame)
        if files:
            for i, array in zip(present, load_images(files), strict=True):
                column[i] = array
        out[image_column] = column
    return frame, out
