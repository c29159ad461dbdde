"""Joint word/visual-word co-occurrence against a brute-force reference, and
JointEmbedding end to end on synthetic paired items."""

import pickle
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from cooc import multimodal as mm
from cooc.cooccurrence import window_weights
from cooc.multimodal import (
    JointEmbedding,
    build_joint,
    count_joint,
    count_joint_blocks,
    joint_vocabulary,
    merge_joint_counts,
)
from cooc.vocab import Vocabulary

# -- reference -------------------------------------------------------------------


def weight(d, window, weighting):
    if weighting == "harmonic":
        return Fraction(1, d)
    if weighting == "linear":
        return Fraction(window - d + 1, window)
    return Fraction(1)


def reference(texts, images, n_words, n_visual, window, weighting, radius):
    """Blocks as exact Fractions (text) and ints, from plain loops.

    ``texts[i]`` is a list of word ids (-1 = out of vocabulary, dropped first);
    ``images[i]`` a list of ``(code, row, col)`` patches.
    """
    T = [[Fraction(0)] * n_words for _ in range(n_words)]
    X = np.zeros((n_words, n_visual), dtype=np.int64)
    V = np.zeros((n_visual, n_visual), dtype=np.int64)
    for text, image in zip(texts, images, strict=True):
        ids = [t for t in text if t >= 0]
        for i, a in enumerate(ids):
            for j in range(i + 1, min(i + window, len(ids) - 1) + 1):
                w = weight(j - i, window, weighting)
                T[a][ids[j]] += w
                T[ids[j]][a] += w
        for a in ids:
            for code, _, _ in image:
                X[a, code] += 1
        for p, (u, r1, c1) in enumerate(image):
            for q, (v, r2, c2) in enumerate(image):
                if p == q:
                    continue
                if radius is None or max(abs(r1 - r2), abs(c1 - c2)) <= radius:
                    V[u, v] += 1
    return T, X, V


def flatten(texts, images):
    word_ids = np.array([t for text in texts for t in text], dtype=np.int32)
    word_offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
    patches = [p for image in images for p in image]
    codes = np.array([p[0] for p in patches], dtype=np.int32)
    positions = np.array([p[1:] for p in patches], dtype=np.int32).reshape(-1, 2)
    visual_offsets = np.cumsum([0] + [len(i) for i in images]).astype(np.int64)
    return word_ids, word_offsets, codes, visual_offsets, positions


def items_strategy():
    @st.composite
    def items(draw):
        n_words = draw(st.integers(1, 5))
        n_visual = draw(st.integers(1, 4))
        n_items = draw(st.integers(0, 6))
        ids = st.integers(-1, n_words - 1)
        patch = st.tuples(
            st.integers(0, n_visual - 1), st.integers(0, 3), st.integers(0, 3)
        )
        texts = draw(
            st.lists(st.lists(ids, max_size=8), min_size=n_items, max_size=n_items)
        )
        images = draw(
            st.lists(st.lists(patch, max_size=8), min_size=n_items, max_size=n_items)
        )
        return n_words, n_visual, texts, images

    return items()


def random_items(rng, n_items, n_words=30, n_visual=12, max_text=12, max_patches=20):
    texts, images = [], []
    for _ in range(n_items):
        n_t = int(rng.integers(0, max_text + 1)) if rng.random() > 0.15 else 0
        n_p = int(rng.integers(0, max_patches + 1)) if rng.random() > 0.15 else 0
        texts.append(rng.integers(-1, n_words, n_t).tolist())
        images.append(
            list(
                zip(
                    rng.integers(0, n_visual, n_p).tolist(),
                    rng.integers(0, 6, n_p).tolist(),
                    rng.integers(0, 6, n_p).tolist(),
                    strict=True,
                )
            )
        )
    return texts, images


def count(texts, images, n_words, n_visual, **params):
    word_ids, word_offsets, codes, visual_offsets, positions = flatten(texts, images)
    return count_joint_blocks(
        word_ids,
        word_offsets,
        n_words,
        codes,
        visual_offsets,
        n_visual,
        visual_positions=positions,
        **params,
    )


def assert_same_csr(a, b):
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


# -- blocks ----------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    items=items_strategy(),
    window=st.integers(1, 4),
    weighting=st.sampled_from(["harmonic", "uniform", "linear"]),
    radius=st.sampled_from([None, 0, 1, 2]),
    weights=st.tuples(*[st.sampled_from([0.0, 0.5, 1.0, 2.5])] * 3),
)
def test_blocks_match_reference(items, window, weighting, radius, weights):
    n_words, n_visual, texts, images = items
    blocks = count(
        texts,
        images,
        n_words,
        n_visual,
        window_size=window,
        weighting=weighting,
        spatial_radius=radius,
        n_jobs=1,
    )
    T, X, V = reference(texts, images, n_words, n_visual, window, weighting, radius)
    _, scale = window_weights(window, weighting)
    assert blocks.scale == scale
    for block in blocks[:3]:
        assert sp.isspmatrix_csr(block) and block.dtype == np.int64
        assert block.has_sorted_indices
        assert not np.any(block.data == 0)
    T_int = np.array([[int(x * scale) for x in row] for row in T], dtype=np.int64)
    np.testing.assert_array_equal(blocks.text.toarray(), T_int)
    np.testing.assert_array_equal(blocks.cross.toarray(), X)
    np.testing.assert_array_equal(blocks.visual.toarray(), V)

    tw, cw, vw = weights
    joint = blocks.combine(text_weight=tw, cross_weight=cw, visual_weight=vw)
    expected = np.block(
        [
            [tw * np.array([[float(x) for x in row] for row in T]), cw * X],
            [cw * X.T, vw * V],
        ]
    )
    assert joint.dtype == np.float64 and joint.shape == expected.shape
    np.testing.assert_allclose(joint.toarray(), expected, rtol=1e-12, atol=0)
    assert (joint != joint.T).nnz == 0


def test_hand_count():
    # item 0: text "0 1 0", image with visual words 0, 0, 1 in a row
    # item 1: text only; item 2: image only
    blocks = count(
        [[0, 1, 0], [1, 1], []],
        [[(0, 0, 0), (0, 0, 1), (1, 0, 2)], [], [(1, 0, 0), (1, 0, 1)]],
        2,
        2,
        window_size=1,
        weighting="uniform",
    )
    np.testing.assert_array_equal(blocks.text.toarray(), [[0, 2], [2, 2]])
    # token 0 twice x visual 0 twice -> 4; a text-only item adds nothing
    np.testing.assert_array_equal(blocks.cross.toarray(), [[4, 2], [2, 1]])
    # 0 with 0: 2*1; 0-1: 2; 1 with 1: 1*0 + 2*1 (image-only item)
    np.testing.assert_array_equal(blocks.visual.toarray(), [[2, 2], [2, 2]])
    spatial = count(
        [[0, 1, 0], [1, 1], []],
        [[(0, 0, 0), (0, 0, 1), (1, 0, 2)], [], [(1, 0, 0), (1, 0, 1)]],
        2,
        2,
        window_size=1,
        spatial_radius=1,
    )
    # first 0 and 1 are two columns apart: no pair
    np.testing.assert_array_equal(spatial.visual.toarray(), [[2, 1], [1, 2]])


def test_count_joint_is_combined_blocks():
    rng = np.random.default_rng(1)
    texts, images = random_items(rng, 40)
    word_ids, word_offsets, codes, visual_offsets, positions = flatten(texts, images)
    args = (word_ids, word_offsets, 30, codes, visual_offsets, 12)
    joint = count_joint(
        *args, visual_positions=positions, spatial_radius=2, cross_weight=0.25
    )
    blocks = count_joint_blocks(*args, visual_positions=positions, spatial_radius=2)
    assert_same_csr(joint, blocks.combine(cross_weight=0.25))
    # the text block is exactly the window counter's float result
    from cooc.cooccurrence import count_window

    text = count_window(word_ids, word_offsets, 30)
    np.testing.assert_array_equal(joint[:30, :30].toarray(), text.toarray())


@pytest.mark.parametrize("radius", [None, 1])
def test_shard_sums_are_exact(radius):
    rng = np.random.default_rng(2)
    texts, images = random_items(rng, 60)
    params = dict(window_size=4, weighting="harmonic", spatial_radius=radius)
    whole = count(texts, images, 30, 12, **params)
    for cut in (0, 17, 60):
        parts = [
            count(texts[:cut], images[:cut], 30, 12, **params),
            count(texts[cut:], images[cut:], 30, 12, **params),
        ]
        merged = merge_joint_counts(parts)
        for a, b in zip(merged[:3], whole[:3], strict=True):
            assert_same_csr(a, b)
        assert merged.scale == whole.scale
        assert_same_csr(merged.combine(text_weight=0.3), whole.combine(text_weight=0.3))


def test_merge_rejects_mismatch():
    a = count([[0]], [[(0, 0, 0)]], 2, 2, window_size=2)
    b = count([[0]], [[(0, 0, 0)]], 2, 3, window_size=2)
    with pytest.raises(ValueError, match="same vocabularies"):
        merge_joint_counts([a, b])
    with pytest.raises(ValueError, match="at least one"):
        merge_joint_counts([])


def test_n_jobs_and_spills_do_not_change_counts(monkeypatch):
    rng = np.random.default_rng(3)
    texts, images = random_items(rng, 300, max_patches=40)
    expected = count(texts, images, 30, 12, spatial_radius=1, n_jobs=1)
    monkeypatch.setattr(mm, "_MIN_PATCHES_PER_THREAD", 1)
    monkeypatch.setattr(mm, "_SPATIAL_BUFFER", 64)  # many spills and merges
    for n_jobs in (1, 3):
        got = count(texts, images, 30, 12, spatial_radius=1, n_jobs=n_jobs)
        for a, b in zip(got[:3], expected[:3], strict=True):
            assert_same_csr(a, b)


def test_large_radius_equals_all_pairs():
    rng = np.random.default_rng(4)
    texts, images = random_items(rng, 50)
    spatial = count(texts, images, 30, 12, spatial_radius=100)
    plain = count(texts, images, 30, 12)
    assert_same_csr(spatial.visual, plain.visual)


def test_no_items_and_empty_modalities():
    blocks = count([], [], 3, 2, spatial_radius=1)
    assert blocks.text.nnz == blocks.cross.nnz == blocks.visual.nnz == 0
    assert blocks.cross.shape == (3, 2)
    text_only = count([[0, 1, 2]], [[]], 3, 2)
    assert text_only.text.nnz > 0 and text_only.cross.nnz == 0
    image_only = count([[]], [[(0, 0, 0), (1, 0, 1)]], 3, 2)
    assert image_only.text.nnz == image_only.cross.nnz == 0
    np.testing.assert_array_equal(image_only.visual.toarray(), [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(visual_offsets=[0, 2]), "items"),
        (dict(visual_ids=[0, 5]), r"visual_ids must lie in \[0, 2\)"),
        (dict(visual_positions=None, spatial_radius=1), "needs visual_positions"),
        (dict(spatial_radius=-1), "spatial_radius"),
        (dict(visual_positions=[[0, 0]]), "visual_positions"),
        (dict(visual_offsets=[0, 2, 1]), "visual_offsets"),
        (dict(n_visual=0), "n_visual"),
    ],
)
def test_count_joint_errors(change, match):
    args = dict(
        word_ids=[0, 1],
        word_offsets=[0, 1, 2],
        n_words=2,
        visual_ids=[0, 1],
        visual_offsets=[0, 1, 2],
        n_visual=2,
        visual_positions=[[0, 0], [0, 1]],
    )
    args.update(change)
    with pytest.raises(ValueError, match=match):
        count_joint(**args)


@pytest.mark.parametrize("name", ["text_weight", "cross_weight", "visual_weight"])
def test_negative_weight(name):
    with pytest.raises(ValueError, match=name):
        count_joint([0], [0, 1], 1, [0], [0, 1], 1, **{name: -1.0})


# -- vocabulary and build_joint ------------------------------------------------------


def test_joint_vocabulary():
    vocab = joint_vocabulary(Vocabulary(["the", "cat"], [3, 1]), 3, [4, 0, 2])
    assert vocab.tokens == ["the", "cat", "vw:0", "vw:1", "vw:2"]
    assert vocab.counts.tolist() == [3, 1, 4, 0, 2]
    assert joint_vocabulary(Vocabulary(["a"], [1]), 1).counts.tolist() == [1, 0]
    with pytest.raises(ValueError, match="visual-word prefix"):
        joint_vocabulary(Vocabulary(["vw:0"], [1]), 2)
    with pytest.raises(ValueError, match="visual_counts"):
        joint_vocabulary(Vocabulary(["a"], [1]), 2, [1])


def test_build_joint_missing_modalities():
    texts = ["A cat sat", None, "the cat", float("nan")]
    codes = np.array([0, 2, 2, 1, 1, 0], dtype=np.int32)
    offsets = np.array([0, 3, 5, 5, 6])  # item 2 has no image
    cooc = build_joint(texts, codes, offsets, window_size=2, cross_weight=2.0)
    words = ["cat", "a", "sat", "the"]
    assert cooc.vocabulary.tokens == [*words, "vw:0", "vw:1", "vw:2"]
    assert cooc.vocabulary.counts.tolist() == [2, 1, 1, 1, 2, 2, 2]
    assert cooc.params["n_words"] == 4 and cooc.params["n_visual"] == 3
    assert cooc.params["cross_weight"] == 2.0 and cooc.params["spatial_radius"] is None
    assert cooc.stats == {
        "n_items": 4,
        "n_texts": 2,
        "n_images": 3,
        "n_tokens": 5,
        "n_oov": 0,
        "n_patches": 6,
    }
    m = cooc.to_frame().set_index(["word1", "word2"])["value"]
    # "cat" x vw:2: 1 token x 2 patches (item 0), doubled by cross_weight
    assert m["cat", "vw:2"] == m["vw:2", "cat"] == 4.0
    # "the cat" has no image: no pair with any visual word for "the"
    assert not any(w1 == "the" and w2.startswith("vw:") for w1, w2 in m.index)
    # vw:1 twice in the text-less item 1
    assert m["vw:1", "vw:1"] == 2.0
    # integer weights: integer_counts is exact
    assert cooc.integer_counts().dtype == np.int64


def test_joint_cooc_round_trips(tmp_path):
    from cooc.io import load_cooc, save_cooc

    cooc = build_joint(["a b", None], [0, 1], [0, 1, 2], text_weight=0.5)
    save_cooc(cooc, tmp_path / "joint.cooc")
    back = load_cooc(tmp_path / "joint.cooc")
    assert back.vocabulary == cooc.vocabulary and back.params == cooc.params
    assert_same_csr(back.matrix, cooc.matrix)


def test_build_joint_with_vocabulary_and_positions():
    vocab = Vocabulary(["cat"], [1])
    cooc = build_joint(
        ["cat dog", "dog"],
        [0, 1, 1],
        [0, 2, 3],
        visual_positions=[[0, 0], [5, 5], [0, 0]],
        vocabulary=vocab,
        n_visual=4,
        spatial_radius=1,
    )
    assert cooc.shape == (5, 5)
    assert cooc.stats["n_oov"] == 2
    # the two patches of item 0 are far apart
    assert cooc.matrix[1:, 1:].nnz == 0
    np.testing.assert_array_equal(cooc.matrix[0].toarray(), [[0, 1, 1, 0, 0]])


def test_build_joint_rejects_bare_string():
    with pytest.raises(TypeError, match="single string"):
        build_joint("a cat", [0], [0, 1])


# -- JointEmbedding ------------------------------------------------------------------

N_CLASSES = 5
FILLER = ["the", "a", "of", "and", "is", "it"]


def make_items(n_per_class=30, seed=0):
    """Items of class k say "wk" and show visual word k (plus shared noise)."""
    rng = np.random.default_rng(seed)
    texts, codes, positions, offsets, labels = [], [], [], [0], []
    grid = np.array([(r, c) for r in range(4) for c in range(4)])
    for i in range(N_CLASSES * n_per_class):
        k = i % N_CLASSES
        words = [f"w{k}", *rng.choice(FILLER, 3)]
        rng.shuffle(words)
        texts.append(" ".join(words) if i % 11 != 3 else None)
        if i % 13 == 5:
            offsets.append(offsets[-1])
        else:
            patch = rng.integers(N_CLASSES, N_CLASSES + 4, 16)
            patch[rng.choice(16, 6, replace=False)] = k
            codes.extend(patch.tolist())
            positions.append(grid)
            offsets.append(offsets[-1] + 16)
        labels.append(k)
    return (
        texts,
        (np.array(codes, np.int32), np.array(offsets), np.concatenate(positions)),
        np.array(labels),
    )


def bovw(visual, n_visual):
    codes, offsets = visual[0], visual[1]
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return sp.csr_matrix(
        (np.ones(len(codes)), (rows, codes)), shape=(len(offsets) - 1, n_visual)
    )


@pytest.fixture(scope="module")
def fitted():
    texts, visual, labels = make_items()
    model = JointEmbedding(8, window_size=3, random_state=0)
    return model.fit(texts, visual=visual), texts, visual, labels


def test_words_and_visual_words_are_comparable(fitted):
    model, _, visual, labels = fitted
    emb = model.embeddings_
    assert emb.tokens[: model.n_words_] == model.vocabulary_.tokens[: model.n_words_]
    assert emb.tokens[model.n_words_ :] == [f"vw:{i}" for i in range(9)]
    for k in range(N_CLASSES):
        visual_first = [
            t for t, _ in emb.most_similar(f"w{k}", k=len(emb)) if t.startswith("vw:")
        ]
        assert visual_first[0] == f"vw:{k}"
        assert model.similar_visual_words(f"w{k}", k=3)[0][0] == f"vw:{k}"
    counts = bovw(visual, 9)
    item = int(np.flatnonzero((labels == 2) & (np.diff(visual[1]) > 0))[0])
    words = model.similar_words_to_image(counts[item], k=3)
    # 10 of its 16 patches are noise shared with every class (and so with the
    # filler words): its class word is near the top and first among class words
    assert "w2" in [t for t, _ in words[:2]]
    ranked = [t for t, _ in model.similar_words_to_image(counts[item], k=20)]
    assert next(t for t in ranked if t.startswith("w")) == "w2"
    assert all(not t.startswith("vw:") for t, _ in words)
    dense_row = counts[item].toarray().ravel()
    assert model.similar_words_to_image(dense_row, k=3) == words


def test_item_vectors_and_missing_modalities(fitted):
    model, texts, visual, labels = fitted
    T = model.transform_text(texts)
    V = model.transform_images(visual)
    assert T.shape == V.shape == (len(texts), 8) and T.dtype == np.float32
    no_text = np.array([t is None for t in texts])
    no_image = np.diff(visual[1]) == 0
    np.testing.assert_array_equal(np.isnan(T).all(axis=1), no_text)
    np.testing.assert_array_equal(np.isnan(V).all(axis=1), no_image)
    assert not np.isnan(T[~no_text]).any()
    np.testing.assert_allclose(np.linalg.norm(T[~no_text], axis=1), 1, rtol=1e-5)
    both = model.transform(texts, visual)
    none = no_text & no_image
    assert none.sum() == 1  # item 135
    np.testing.assert_array_equal(np.isnan(both).any(axis=1), none)
    np.testing.assert_allclose(both[no_text], V[no_text], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[no_image], T[no_image], rtol=1e-5, atol=1e-6)
    # cross-modal retrieval: a text's nearest image vector is from its class
    ok = ~no_text & ~no_image
    sims = T[ok] @ V[ok].T
    assert (labels[ok][sims.argmax(axis=1)] == labels[ok]).mean() > 0.9
    # unknown words only -> NaN; a BoVW matrix gives the same image vectors
    assert np.isnan(model.transform_text(["zzz qqq", ""])).all()
    np.testing.assert_allclose(
        model.transform_images(bovw(visual, 9)), V, rtol=1e-6, equal_nan=True
    )
    np.testing.assert_allclose(
        clone(model).fit_transform(texts, visual=visual), both, rtol=1e-5, atol=1e-6
    )


def test_fit_on_bovw_matches_codes(fitted):
    model, texts, visual, _ = fitted
    other = JointEmbedding(8, window_size=3, random_state=0)
    other.fit(texts, visual=bovw(visual, 9))
    np.testing.assert_array_equal(other.embeddings_.vectors, model.embeddings_.vectors)


def test_spatial_radius_and_mean_pooling(fitted):
    _, texts, visual, _ = fitted
    model = JointEmbedding(
        8, spatial_radius=1, pooling="mean", visual_weight=0.5, random_state=0
    ).fit(texts, visual=visual)
    assert model.similar_visual_words("w1", k=1)[0][0] == "vw:1"
    np.testing.assert_array_equal(model.idf_, 1.0)
    with pytest.raises(ValueError, match="needs patch positions"):
        clone(model).fit(texts, visual=visual[:2])


def test_sklearn_api(fitted):
    model, texts, visual, _ = fitted
    with pytest.raises(NotFittedError):
        JointEmbedding().transform_text(["a"])
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "embeddings_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        restored.transform_text(texts[:5]), model.transform_text(texts[:5])
    )
    assert model.get_feature_names_out()[0] == "jointembedding0"
    refit = (
        clone(model)
        .set_params(n_components=4)
        .fit(texts[:50], visual=bovw(visual, 9)[:50])
    )
    assert refit.embeddings_.dim == 4 and refit.transform_text(texts[:2]).shape == (
        2,
        4,
    )


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_components=0), "n_components"),
        (dict(pooling="max"), "pooling"),
        (dict(spatial_radius=-1), "spatial_radius"),
        (dict(cross_weight=-1.0), "cross_weight"),
        (dict(weighting="cosine"), "weighting"),
        (dict(n_components=500), "n_components=500"),
        (dict(n_visual=2), r"visual_ids must lie in \[0, 2\)"),
    ],
)
def test_param_errors(fitted, params, match):
    _, texts, visual, _ = fitted
    with pytest.raises(ValueError, match=match):
        JointEmbedding(**params).fit(texts, visual=visual)


def test_input_errors(fitted):
    model, texts, visual, _ = fitted
    with pytest.raises(ValueError, match="texts but"):
        JointEmbedding(4).fit(texts[:-1], visual=visual)
    with pytest.raises(TypeError, match="BoVW"):
        JointEmbedding(4).fit(texts, visual="images")
    with pytest.raises(ValueError, match="non-negative integer counts"):
        JointEmbedding(4).fit(texts, visual=bovw(visual, 9) * 0.5)
    with pytest.raises(ValueError, match="columns"):
        model.transform_images(bovw(visual, 10))
    with pytest.raises(ValueError, match="one BoVW row"):
        model.similar_words_to_image(np.ones(3))
    with pytest.raises(ValueError, match="no visual word"):
        model.similar_words_to_image(np.zeros(9))
    with pytest.raises(TypeError, match="single string"):
        model.transform_text("a cat")
