"""cooc.retrieval: recall@k and MRR against brute force, the chance formulas
against enumeration and simulation, the emoji protocol on tiny made-up items."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cooc.errors import InputError
from cooc.retrieval import chance_recall, emoji_retrieval, retrieval_recall


def brute_force(queries, items, relevant, ks):
    """Rank of the first relevant item by counting, per relevant item, the
    items that beat it (higher cosine, or equal cosine and a smaller index)."""
    q = [np.asarray(v, float) / np.linalg.norm(v) for v in queries]
    it = [np.asarray(v, float) / np.linalg.norm(v) for v in items]
    ranks = []
    for a, rel in zip(q, relevant, strict=True):
        sims = [float(a @ b) for b in it]
        best = min(
            1
            + sum(
                1 for j, s in enumerate(sims) if s > sims[r] or (s == sims[r] and j < r)
            )
            for r in rel
        )
        ranks.append(best)
    out = {f"recall@{k}": sum(r <= k for r in ranks) / len(ranks) for k in ks}
    out["mrr"] = sum(1 / r for r in ranks) / len(ranks)
    return out


def test_hand_made_exact_values():
    queries = [[1, 0], [0, 1], [1, 1]]
    items = [[1, 0.1], [0.1, 1], [-1, 0], [1, 0.9]]
    # query 0 ranks 0, 3, 1, 2; query 1 ranks 1, 3, 0, 2; query 2 ranks 3, 0|1, ..
    got = retrieval_recall(queries, items, [[2], [3], [3, 1]], ks=(1, 2, 3))
    assert got == {
        "recall@1": 1 / 3,
        "recall@2": 2 / 3,
        "recall@3": 2 / 3,
        "mrr": (1 / 4 + 1 / 2 + 1) / 3,
        "n_queries": 3,
        "n_items": 4,
    }


@pytest.mark.parametrize("ties", [False, True])
def test_agrees_with_brute_force_on_random_vectors(ties):
    rng = np.random.default_rng(3)
    queries = rng.normal(size=(30, 3))
    if ties:
        # items on the signed axes: exact cosine ties, broken by the item index
        axes = np.vstack([np.eye(3), -np.eye(3)])
        items = axes[rng.integers(0, 6, size=25)]
    else:
        items = rng.normal(size=(25, 3))
    relevant = [
        rng.choice(25, size=rng.integers(1, 4), replace=False) for _ in range(30)
    ]
    got = retrieval_recall(queries, items, relevant, ks=(1, 3, 10))
    want = brute_force(queries, items, relevant, (1, 3, 10))
    assert got.keys() == want.keys() | {"n_queries", "n_items"}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12)


def enumerate_chance(n, r, ks):
    """Mean scores over every ordering of n items, relevant = the first r."""
    hits = {k: 0 for k in ks}
    mrr = 0.0
    perms = list(itertools.permutations(range(n)))
    for perm in perms:
        first = min(pos for pos, item in enumerate(perm) if item < r) + 1
        for k in ks:
            hits[k] += first <= k
        mrr += 1 / first
    out = {f"recall@{k}": hits[k] / len(perms) for k in ks}
    out["mrr"] = mrr / len(perms)
    return out


@pytest.mark.parametrize("n,r", [(1, 1), (5, 1), (5, 2), (6, 3), (6, 6)])
def test_chance_formula_equals_enumeration(n, r):
    got = chance_recall(n, r, ks=(1, 2, 5, 10))
    want = enumerate_chance(n, r, (1, 2, 5, 10))
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12)


def test_chance_formula_matches_simulation_with_a_fixed_seed():
    rng = np.random.default_rng(0)
    n, counts, ks = 40, [1, 2, 5, 1], (1, 5, 10)
    sims = []
    for r in counts:
        # 20,000 random rankings; the relevant items are 0 .. r - 1
        position = np.argsort(np.argsort(rng.random((20000, n)), axis=1), axis=1)
        first = position[:, :r].min(axis=1) + 1
        sims.append(
            {f"recall@{k}": np.mean(first <= k) for k in ks}
            | {"mrr": np.mean(1 / first)}
        )
    got = chance_recall(n, counts, ks)
    for key in got:
        simulated = np.mean([s[key] for s in sims])
        assert got[key] == pytest.approx(simulated, abs=0.01)


def test_deterministic_and_order_of_relevant_does_not_matter():
    rng = np.random.default_rng(1)
    q, it = rng.normal(size=(8, 4)), rng.normal(size=(12, 4))
    rel = [[i % 12, (3 * i + 1) % 12] for i in range(8)]
    a = retrieval_recall(q, it, rel)
    assert a == retrieval_recall(q, it, rel)
    assert a == retrieval_recall(q, it, [r[::-1] for r in rel])
    assert a == retrieval_recall(q * 3.0, it, rel)  # cosine: scale-free


@pytest.mark.parametrize(
    "args,match",
    [
        (([[1.0, 0.0]], [[1.0, 0.0, 0.0]], [[0]]), "dimensions"),
        (([[1.0, 0.0]], [[1.0, 0.0]], [[0], [0]]), "entries"),
        (([[1.0, 0.0]], [[1.0, 0.0]], [[]]), r"relevant\[0\] is empty"),
        (([[1.0, 0.0]], [[1.0, 0.0]], [[1]]), "outside"),
        (([1.0, 0.0], [[1.0, 0.0]], [[0]]), "2-d"),
        (([[np.nan, 0.0]], [[1.0, 0.0]], [[0]]), "NaN"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(args, match):
    with pytest.raises(InputError, match=match) as info:
        retrieval_recall(*args)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("ks", [(0,), (1, -2), (), (1.5,), (True,)])
def test_bad_ks_are_refused(ks):
    with pytest.raises(InputError, match="ks=") as info:
        retrieval_recall([[1.0]], [[1.0]], [[0]], ks=ks)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "n,r,match", [(0, 1, "n_items"), (3, 0, "n_relevant"), (3, 4, "n_relevant")]
)
def test_bad_chance_arguments_are_refused(n, r, match):
    with pytest.raises(InputError, match=match):
        chance_recall(n, r)


def test_emoji_protocol_on_tiny_made_up_items():
    """Two kinds of image (red / blue squares) named by their texts: the joint
    space must find the colour word of a held-out image far above chance."""
    rng = np.random.default_rng(0)
    n = 40
    colour = np.arange(n) % 2
    images = rng.integers(0, 40, size=(n, 24, 24, 3)).astype(np.uint8)
    images[colour == 0, :, :, 0] += 200
    images[colour == 1, :, :, 2] += 200
    texts = [
        ("red" if c == 0 else "blue") + f" thing{i % 5}" for i, c in enumerate(colour)
    ]
    kwargs = dict(n_splits=2, n_visual=8, n_components=4, n_neighbours=3, ks=(1, 2))
    a = emoji_retrieval(texts, images, colour, **kwargs)
    assert a == emoji_retrieval(texts, images, colour, **kwargs)  # deterministic
    joint = a["image->word"]["joint"]
    assert joint["n_queries"] == [20, 20]
    assert joint["n_items"] == [7, 7]  # red, blue, thing0..thing4
    assert set(a["word->image"]) == {"joint", "bovw", "chance"}
    assert set(a["image->word"]) == {"joint", "bovw", "popular", "chance"}
    # every held-out image has 2 relevant words among 7; word queries: all 7
    assert a["image->word"]["chance"]["recall@1"] == pytest.approx([2 / 7, 2 / 7])
    # the colour word of a held-out image: found by the joint space above chance
    for fold in range(2):
        assert (
            a["image->word"]["joint"]["mrr"][fold]
            > a["image->word"]["chance"]["mrr"][fold] + 0.2
        )
    # colour words always hold >= 2 held-out items; "thingN" words may not
    assert all(2 <= n <= 7 for n in a["word->image"]["joint"]["n_queries"])
    assert a["word->image"]["joint"]["n_items"] == [20, 20]
    with pytest.raises(InputError, match="labels"):
        emoji_retrieval(texts, images, colour[:-1], **kwargs)
    for bad, match in (
        ({"n_splits": 0}, "n_splits"),
        ({"min_items": 0}, "min_items"),
        ({"ks": (0,)}, "ks"),
    ):
        with pytest.raises(InputError, match=match):
            emoji_retrieval(texts, images, colour, **(kwargs | bad))
