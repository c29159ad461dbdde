"""The library calls the CLI's build, fit and predict go through:
cooc.engines.write_cooccurrence (which engine counts a corpus) and cooc.items
(tables and images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cooc.engines import write_cooccurrence
from cooc.errors import InputError
from cooc.io import load_cooc
from cooc.items import read_images, read_items, read_table


def test_every_engine_writes_the_same_file(tiny_corpus, tmp_path):
    local = write_cooccurrence([tiny_corpus], tmp_path / "a.cooc", window_size=3)
    spilled = write_cooccurrence(
        [tiny_corpus], tmp_path / "b.cooc", window_size=3, memory=16 << 20,
        spill_dir=tmp_path,
    )  # fmt: skip
    resumable = write_cooccurrence(
        [tiny_corpus], tmp_path / "c.cooc", window_size=3, checkpoint=tmp_path / "ck"
    )
    a, b, c = (load_cooc(tmp_path / f"{x}.cooc") for x in "abc")
    assert local.shape == a.shape and resumable.nnz == c.nnz and spilled.nnz == b.nnz
    for other in (b, c):
        assert other.vocabulary.tokens == a.vocabulary.tokens
        assert (other.matrix != a.matrix).nnz == 0
    assert a.stats["n_tokens"] > 0


def test_progress_hears_of_the_writing(tiny_corpus, tmp_path):
    stages = []
    write_cooccurrence(
        [tiny_corpus], tmp_path / "a.cooc", progress=lambda s, n: stages.append(s)
    )
    assert stages[-1] == "writing"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"engine": "spark"}, "engine must be one of"),
        ({"engine": "dask"}, "needs a client"),
        ({"client": object()}, "client is for engine='dask'"),
        ({"checkpoint": "ck", "spill_dir": "."}, "checkpoint"),
    ],
)
def test_wrong_engine_settings_are_input_errors(tiny_corpus, tmp_path, kwargs, needle):
    with pytest.raises(InputError, match=needle):
        write_cooccurrence([tiny_corpus], tmp_path / "x.cooc", **kwargs)
    assert not (tmp_path / "x.cooc").exists()


def test_a_checkpoint_cannot_resume_standard_input(tmp_path):
    with pytest.raises(InputError, match="standard input"):
        write_cooccurrence("-", tmp_path / "x.cooc", checkpoint=tmp_path / "ck")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".csv.gz"])
def test_read_table_reads_each_format(tmp_path, suffix):
    frame = pd.DataFrame({"text": ["a b", "c"], "label": ["x", "y"]})
    path = tmp_path / f"t{suffix}"
    if ".csv" in suffix:
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_read_table_refuses_other_files_in_one_line(tmp_path):
    (tmp_path / "t.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"t\.xlsx: expected a \.csv"):
        read_table(tmp_path / "t.xlsx")
    (tmp_path / "t.jsonl").write_text("{not json\n")
    with pytest.raises(InputError, match=r"t\.jsonl: cannot read the table"):
        read_table(tmp_path / "t.jsonl")


def test_read_items_loads_images_from_an_archive_row_for_row(tmp_path):
    pd.DataFrame({"text": ["a", "b", "c"], "label": list("xyx")}).to_csv(
        tmp_path / "t.csv", index=False
    )
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    np.savez(tmp_path / "i.npz", images=images)
    frame, items = read_items(
        tmp_path / "t.csv", images=tmp_path / "i.npz", label_column="label"
    )
    assert list(frame.columns) == ["text", "label"]
    assert all(
        np.array_equal(a, b) for a, b in zip(items["image"], images, strict=True)
    )
    np.savez(tmp_path / "two.npz", images=images[:2])
    with pytest.raises(InputError, match="holds 2 images but .*3 rows"):
        read_items(tmp_path / "t.csv", images=tmp_path / "two.npz")
    with pytest.raises(InputError, match=r"no column\(s\) \['category'\]"):
        read_items(tmp_path / "t.csv", label_column="category", image_column=None)
    _, items = read_items(tmp_path / "t.csv", image_optional=True)
    assert "image" not in items.columns  # no image column and none needed


def test_read_images_from_an_archive_names_each_image(tmp_path):
    np.savez(tmp_path / "i.npz", pics=np.zeros((2, 3, 3), dtype=np.uint8))
    images, names = read_images([tmp_path / "i.npz"], key="pics")
    assert images.shape == (2, 3, 3) and names == ["i.npz[0]", "i.npz[1]"]
    with pytest.raises(InputError, match=r"no array 'images' \(found \['pics'\]\)"):
        read_images([tmp_path / "i.npz"])
    with pytest.raises(InputError, match="no image files"):
        read_images([tmp_path])
