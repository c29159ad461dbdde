"""Image features the user already has: cooc.features and --features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from cooc.errors import InputError
from cooc.features import (
    RegionWords,
    StandardizedVectors,
    check_features,
    check_regions,
    read_features,
)
from cooc.fusion import missing_modalities
from cooc.models import MultimodalClassifier, MultimodalFeatures

N = 60
LABELS = np.array(["a", "b", "c"])[np.arange(N) % 3]
WORDS = ["red", "blue", "green", "tree", "car", "dog"]


def _texts(seed=0):
    """Texts drawn independently of the labels: text alone is at chance."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 4)) for _ in range(N)]


def _vectors(seed=0, d=5):
    """Per-image features: class k has +10 on dimension k (linearly separable)."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(N, d))
    F[np.arange(N), np.arange(N) % 3] += 10
    return F


def _regions(seed=0, r=4, d=6):
    rng = np.random.default_rng(seed)
    R = rng.normal(size=(N, r, d))
    R[np.arange(N), :, np.arange(N) % 3] += 10
    return R.astype(np.float32)


# -- checks -----------------------------------------------------------------------
@parametrize_with_checks([StandardizedVectors()])
def test_standardized_vectors_is_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.array([[1.0, np.nan]]), "row 0 holds NaN"),
        (np.array([[1.0], [np.inf]]), "row 1 holds NaN"),
        (np.ones(3), "got 1 dimension"),
        (np.ones((2, 2, 2, 2)), "got 4 dimension"),
        (np.ones((2, 0)), "every side >= 1"),
        (np.ones((2, 0, 3)), "every side >= 1"),
        (np.array([[1, "a"]], dtype=object), "dtype object"),
        (np.ones((2, 2), dtype=bool), "dtype bool"),
        (np.ones((2, 2), dtype=complex), "dtype complex"),
        (np.array([[1e300]]), "finite"),
    ],
)
def test_check_features_refuses_in_one_line(array, needle):
    with pytest.raises(InputError, match=needle) as err:
        check_features(array, "F.npy")
    assert str(err.value).startswith("F.npy: ") and "\n" not in str(err.value)


def test_check_features_accepts_ints_and_gives_float32():
    out = check_features(np.arange(6).reshape(2, 3))
    assert out.dtype == np.float32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_read_features_npy_npz_and_pickles(tmp_path):
    F = _vectors()
    np.save(tmp_path / "f.npy", F)
    np.testing.assert_array_equal(read_features(tmp_path / "f.npy"), F.astype("f4"))
    np.savez(tmp_path / "one.npz", x=F)
    np.testing.assert_array_equal(read_features(tmp_path / "one.npz"), F.astype("f4"))
    np.savez(tmp_path / "two.npz", x=F, y=F)
    with pytest.raises(InputError, match="holds 2 arrays"):
        read_features(tmp_path / "two.npz")
    assert read_features(tmp_path / "two.npz", key="y").shape == F.shape
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="without pickles"):
        read_features(tmp_path / "p.npy")
    (tmp_path / "g.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match=r"g\.npy"):
        read_features(tmp_path / "g.npy")
    with pytest.raises(InputError, match="does not exist"):
        read_features(tmp_path / "missing.npy")
    (tmp_path / "f.txt").write_text("1 2\n")
    with pytest.raises(InputError, match=r"expected a \.npy"):
        read_features(tmp_path / "f.txt")


def test_check_regions_lists_of_varying_r():
    Z, offsets = check_regions([np.ones((2, 3)), np.zeros((1, 3))])
    assert Z.shape == (3, 3) and offsets.tolist() == [0, 2, 3]
    with pytest.raises(InputError, match=r"different sizes d \[3, 4\]"):
        check_regions([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(InputError, match=r"regions\[1\]: .*every side >= 1"):
        check_regions([np.ones((2, 3)), np.ones((0, 3))])


# -- RegionWords --------------------------------------------------------------------
def test_region_words_match_sklearn_kmeans_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=20, size=(5, 8))
    truth = rng.integers(0, 5, size=(30, 7))
    R = (centres[truth] + rng.normal(size=(30, 7, 8))).astype(np.float32)
    rw = RegionWords(5, random_state=0).fit(R)
    codes, offsets, positions = rw.encode(R)
    reference = KMeans(5, n_init=10, random_state=3).fit_predict(R.reshape(-1, 8))
    assert adjusted_rand_score(reference, codes) == 1.0
    assert adjusted_rand_score(truth.ravel(), codes) == 1.0
    assert offsets.tolist() == list(range(0, 211, 7))
    assert positions[:8].tolist() == [[0, j] for j in range(7)] + [[0, 0]]
    counts = rw.transform(R).toarray()
    expected = np.zeros((30, 5))
    np.add.at(expected, (np.repeat(np.arange(30), 7), codes), 1)
    np.testing.assert_array_equal(counts, expected)
    with pytest.raises(InputError, match="d=4 but RegionWords was fitted on d=8"):
        rw.transform(R[:, :, :4])


def test_region_words_pca_above_256_and_too_few_regions():
    R = np.random.default_rng(0).normal(size=(30, 3, 300))
    rw = RegionWords(4, random_state=0).fit(R)
    assert rw.codebook_.shape == (4, 64) and rw.pca_.n_components_ == 64
    assert RegionWords(4, n_pca=None, random_state=0).fit(R).pca_ is None
    with pytest.raises(InputError, match="only 1 distinct regions to learn 2 centres"):
        RegionWords(2).fit(np.ones((3, 2, 4)))


def test_standardized_vectors():
    F = _vectors()
    Z = StandardizedVectors().fit(F).transform(F)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(Z.std(axis=0), 1 / np.sqrt(F.shape[1]), rtol=1e-5)


# -- the models ---------------------------------------------------------------------
def test_separating_vectors_give_accurate_model_while_text_is_random():
    items = pd.DataFrame({"text": _texts(), "image": list(_vectors())})
    train, test = slice(0, 45), slice(45, N)
    acc = {}
    for fusion in ("text", "image", "early", "late"):
        model = MultimodalClassifier(
            fusion=fusion, image_input="vector", cv=3, random_state=0
        ).fit(items[train], LABELS[train])
        acc[fusion] = (model.predict(items[test]) == LABELS[test]).mean()
    assert acc["text"] < 0.6
    assert acc["image"] == acc["early"] == acc["late"] == 1.0


def test_regions_feed_the_fusion_and_missing_images_are_marked():
    column = list(_regions())
    column[1] = None
    items = pd.DataFrame({"text": _texts(), "image": column})
    features = MultimodalFeatures(
        n_visual_words=6, image_input="regions", random_state=0
    ).fit(items)
    X = features.transform(items[:3])
    assert missing_modalities(X, features.blocks_).tolist() == [
        [False, False],
        [False, True],
        [False, False],
    ]
    assert features.get_feature_names_out()[-1] == "image:vw5"
    train, test = slice(0, 45), slice(45, N)
    model = MultimodalClassifier(
        fusion="image", image_input="regions", n_visual_words=6, cv=3, random_state=0
    ).fit(items[train], LABELS[train])
    assert (model.predict(items[test]) == LABELS[test]).mean() == 1.0


def test_vector_column_of_mixed_sizes_is_refused():
    items = pd.DataFrame(
        {"text": ["red car", "dog"], "image": [np.ones(3), np.ones(4)]}
    )
    with pytest.raises(InputError, match="1-D feature vectors of one size"):
        MultimodalFeatures(image_input="vector").fit(items)


# -- the command line ----------------------------------------------------------------
@pytest.fixture
def table(tmp_path):
    pd.DataFrame({"text": _texts(), "label": LABELS}).to_csv(
        tmp_path / "items.csv", index=False
    )
    np.save(tmp_path / "vec.npy", _vectors())
    np.save(tmp_path / "reg.npy", _regions())
    return tmp_path


@pytest.mark.parametrize("kind", ["vec", "reg"])
def test_cli_fit_predict_match_python(kind, table, run_cli):
    from cooc.classify import load_model
    from cooc.models import MODEL_TYPES

    features = table / f"{kind}.npy"
    args = ["--label-column", "label", "--features", features, "--words", 6]
    res = run_cli("fit", table / "items.csv", *args, "--cv", 3, "-o", table / "m.sk")
    assert res.exit_code == 0, res.output
    res = run_cli(
        "predict", table / "m.sk", table / "items.csv", "--features", features,
        "-o", table / "p.csv", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = pd.read_csv(table / "p.csv")
    model, _ = load_model(table / "m.sk", trusted=MODEL_TYPES)
    assert model.image_input == ("vector" if kind == "vec" else "regions")
    items = pd.DataFrame({"text": _texts(), "image": list(np.load(features))})
    np.testing.assert_allclose(
        out[[f"proba_{c}" for c in model.classes_]].to_numpy(),
        model.predict_proba(items),
        rtol=1e-6,
        atol=1e-12,
    )
    assert out["prediction"].tolist() == LABELS.tolist()
    direct = MultimodalClassifier(
        image_input=model.image_input, n_visual_words=6, cv=3, random_state=0
    ).fit(items, LABELS)
    np.testing.assert_allclose(direct.predict_proba(items), model.predict_proba(items))


def test_cli_quantize_features_is_region_words_and_deterministic(table, run_cli):
    for name in ("a.tsv", "b.tsv"):
        res = run_cli(
            "quantize", "--features", table / "reg.npy", "--words", 6, "--seed", 7,
            "-o", table / name,
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    text = (table / "a.tsv").read_text()
    assert text == (table / "b.tsv").read_text()
    frame = pd.read_csv(table / "a.tsv", sep="\t")
    R = _regions()
    codes, offsets, _ = RegionWords(6, random_state=7).fit(R).encode(R)
    expected = [
        " ".join(f"vw{c}" for c in codes[offsets[i] : offsets[i + 1]]) for i in range(N)
    ]
    assert frame["visual_words"].tolist() == expected
    assert frame["image"].tolist()[:2] == ["reg.npy[0]", "reg.npy[1]"]


def test_cli_fit_same_seed_same_model(table, run_cli):
    probas = []
    for name in ("m1", "m2"):
        args = ["--label-column", "label", "--features", table / "reg.npy"]
        res = run_cli(
            "fit", table / "items.csv", *args, "--words", 6, "--cv", 3, "--seed", 5,
            "-o", table / name,
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        res = run_cli(
            "predict", table / name, table / "items.csv", "--features",
            table / "reg.npy", "-o", table / f"{name}.csv",
        )  # fmt: skip
        probas.append((table / f"{name}.csv").read_text())
    assert probas[0] == probas[1]


def _bad(tmp, name, array, pickle=False):
    np.save(tmp / name, array, allow_pickle=pickle)
    return tmp / name


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda t: _bad(t, "nan.npy", np.full((N, 3), np.nan)), ("nan.npy", "NaN")),
        (lambda t: _bad(t, "4d.npy", np.ones((N, 2, 2, 2))), ("4d.npy", "(n, d)")),
        (lambda t: _bad(t, "short.npy", np.ones((N - 1, 3))), ("59 feature rows",)),
        (
            lambda t: _bad(t, "o.npy", np.array([{}] * N, dtype=object), pickle=True),
            ("o.npy", "without pickles"),
        ),
        (lambda t: _bad(t, "s.npy", np.array([["x"] * 2] * N)), ("s.npy", "dtype")),
    ],
)
def test_cli_bad_arrays_exit_2_in_one_line(make, needles, table, run_cli):
    path = make(table)
    res = run_cli(
        "fit", table / "items.csv", "--label-column", "label", "--features", path,
        "-o", table / "out.sk",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in res.output
    assert all(n in errors[0] for n in needles), errors
    assert not (table / "out.sk").exists()


def test_cli_predict_refuses_the_other_kind_and_size(table, run_cli):
    args = ["--label-column", "label", "--features", table / "vec.npy", "--cv", 3]
    assert run_cli("fit", table / "items.csv", *args, "-o", table / "m").exit_code == 0
    np.save(table / "d7.npy", np.ones((N, 7)))
    for extra, needle in [
        ([], "fitted on image features (n, d); pass --features"),
        (["--features", table / "reg.npy"], "fitted on features of shape (n, d)"),
        (["--features", table / "d7.npy"], "size d=7, but "),
        (
            ["--features", table / "vec.npy", "--images", table / "vec.npy"],
            "not both",
        ),
    ]:
        res = run_cli("predict", table / "m", table / "items.csv", *extra, "-o", "p")
        assert res.exit_code == 2 and needle in res.stderr, (needle, res.stderr)
    res = run_cli("quantize", "--features", table / "vec.npy", "-o", table / "q")
    assert res.exit_code == 2 and "(n, r, d)" in res.stderr
    res = run_cli("quantize", "-o", table / "q")
    assert res.exit_code == 2 and "--features" in res.stderr


def test_region_words_feed_the_joint_counting():
    """Word x region-word counts of build_joint = (item x word)^T (item x vw)."""
    from cooc.multimodal import build_joint

    R = np.random.default_rng(0).normal(size=(6, 3, 4)).astype(np.float32)
    rw = RegionWords(3, random_state=0).fit(R)
    codes, offsets, positions = rw.encode(R)
    texts = ["red car", "dog", None, "red red", "car dog", "tree"]
    joint = build_joint(texts, codes, offsets, visual_positions=positions, n_visual=3)
    words = joint.vocabulary.tokens[:4]
    assert sorted(words) == ["car", "dog", "red", "tree"]
    assert joint.vocabulary.tokens[4:] == ["vw:0", "vw:1", "vw:2"]
    T = np.array([[(t or "").split().count(w) for w in words] for t in texts])
    cross = joint.matrix.toarray()[:4, 4:]
    np.testing.assert_array_equal(cross, T.T @ rw.transform(R).toarray())


def test_product_quantization_is_the_tuple_of_block_kmeans():
    rng = np.random.default_rng(2)
    R = rng.normal(size=(40, 5, 6)).astype(np.float32)
    rw = RegionWords(9, quantizer="pq", n_subspaces=2, random_state=0).fit(R)
    assert rw.n_words_ == 9 and rw.subspaces_ == [(0, 3), (3, 6)]
    codes = rw.encode(R)[0]
    Z = R.reshape(-1, 6)
    # independent reference: the nearest centre of each block by brute force
    parts = [
        ((Z[:, lo:hi, None] - sub.cluster_centers_.T[None]) ** 2).sum(1).argmin(1)
        for (lo, hi), sub in zip(rw.subspaces_, rw.subquantizers_, strict=True)
    ]
    np.testing.assert_array_equal(codes, 3 * parts[0] + parts[1])
    assert rw.transform(R).shape == (40, 9)
    assert rw.get_feature_names_out()[-1] == "vw8"
    with pytest.raises(InputError, match="not a power 2"):
        RegionWords(10, quantizer="pq").fit(R)
    with pytest.raises(InputError, match="n_subspaces=7 must be <="):
        RegionWords(128, quantizer="pq", n_subspaces=7).fit(R)


def test_cli_quantize_pq(table, run_cli):
    res = run_cli(
        "quantize", "--features", table / "reg.npy", "--words", 9, "--pq", 2,
        "--seed", 1, "-o", table / "q.tsv",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    R = _regions()
    rw = RegionWords(9, quantizer="pq", n_subspaces=2, random_state=1).fit(R)
    codes = rw.encode(R)[0].reshape(N, 4)
    frame = pd.read_csv(table / "q.tsv", sep="\t")
    assert frame["visual_words"].tolist() == [
        " ".join(f"vw{c}" for c in row) for row in codes
    ]
    res = run_cli("quantize", "--features", table / "reg.npy", "--words", 10,
                  "--pq", 2, "-o", table / "q2.tsv")  # fmt: skip
    assert res.exit_code == 2 and "not a power 2" in res.stderr
    assert not (table / "q2.tsv").exists()
