"""Visual-word benchmarks: cooc ``VisualWords`` against the obvious sklearn composition.

Run ``python benchmarks/bench_vision.py [--quick] [--repeat N]`` (or ``make bench``).
Data: the 1,906 shipped emoji images (64 x 64 RGB, ``cooc.datasets.load_emoji``);
``--quick`` takes the first 500. Tables:

1. quantization throughput (images -> bag-of-visual-words counts) with the same
   fitted codebook (raw contrast-normalised 8 x 8 colour patches, step 4, PCA
   whitening, 1024 words): ``VisualWords.transform`` vs, per image,
   ``sklearn.feature_extraction.image.extract_patches_2d`` (every stride-1
   patch, then the step-4 grid kept) + the same normalisation and projection +
   ``MiniBatchKMeans.predict`` + ``np.bincount``; plus the share of patches
   that get the same visual word;
2. nearest-codeword assignment alone on the same projected descriptors: a
   numpy float32 GEMM formulation vs ``MiniBatchKMeans.predict`` (which
   ``VisualWords`` uses, as the faster one here);
3. fit time: ``VisualWords.fit`` vs the composition (patches of every image,
   200,000 sampled, ``PCA`` + ``MiniBatchKMeans.fit``);
4. the default ``VisualWords`` (histogram-of-gradients + colour descriptor,
   12 x 12 patches): fit and transform throughput (no sklearn peer computes
   this descriptor);
5. ``joint``: the joint word / visual-word co-occurrence matrix of the paired
   (text, image) emoji items, replicated x20 (x4 with ``--quick``; always all
   1,906 images): ``cooc.multimodal.count_joint`` on pre-encoded ids vs the
   scipy composition ``T.T @ V``, ``V.T @ V - diag(patches per visual word)``
   and the numpy window counter of ``bench_counting.py``, checked equal;
   ``build_joint`` (tokenizing and vocabulary included) as an extra row.

Every measurement runs in a fresh interpreter (see ``common.py``); times are the
best of N runs after one warm-up call; memory is the peak resident set during
the timed runs.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import fmt, human, table

SCRIPT = Path(__file__).resolve()
N_QUICK = 500
RAW = dict(n_words=1024, patch_size=8, step=4, descriptor="raw", random_state=0)
DEFAULT = dict(random_state=0)  # the defaults: hog+color, 12 x 12 patches, step 4


# =====================================================================================
# workers (each runs in its own process)
# =====================================================================================
def _images(quick):
    from cooc.datasets import load_emoji

    images, _ = load_emoji()
    return images[:N_QUICK] if quick else images


def _model_path(quick, name):
    return common.CACHE / f"vision-{name}-{'quick' if quick else 'full'}.pkl"


def _strip(s, **extra):
    out = {k: v for k, v in s.items() if k != "out"}
    out.update(extra)
    return out


def w_fit_cooc(quick, name, params, repeat, max_seconds):
    from cooc.vision import VisualWords

    images = _images(quick)
    VisualWords(**{**params, "n_words": 8, "max_patches": 2000}).fit(images[:20])
    s = common.timed_section(
        lambda: VisualWords(**params).fit(images), repeat, max_seconds
    )
    common.CACHE.mkdir(parents=True, exist_ok=True)
    with open(_model_path(quick, name), "wb") as fh:
        pickle.dump(s["out"], fh)
    return _strip(s, n_images=len(images))


def _sklearn_descriptors(image, patch_size, step):
    """The composition's patches of one image: stride-1 patches, the grid kept."""
    from sklearn.feature_extraction.image import extract_patches_2d

    H, W = image.shape[:2]
    patches = extract_patches_2d(image, (patch_size, patch_size))
    grid = patches.reshape(H - patch_size + 1, W - patch_size + 1, -1)
    X = grid[::step, ::step].reshape(-1, grid.shape[-1]).astype(np.float32)
    X -= X.mean(axis=1, keepdims=True)  # contrast normalisation, as cooc's "raw"
    X /= np.sqrt(np.square(X).mean(axis=1, keepdims=True) + 10.0 / 255.0**2)
    return X


def w_fit_sklearn(quick, params, repeat, max_seconds):
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import PCA

    images = _images(quick).astype(np.float32) / 255
    p, step = params["patch_size"], params["step"]

    def fit():
        X = np.concatenate([_sklearn_descriptors(im, p, step) for im in images])
        rng = np.random.RandomState(0)
        X = X[rng.choice(X.shape[0], min(200_000, X.shape[0]), replace=False)]
        Z = PCA(whiten=True, random_state=0).fit_transform(X)
        return MiniBatchKMeans(
            params["n_words"], batch_size=4096, random_state=0, n_init="auto"
        ).fit(Z)

    s = common.timed_section(fit, repeat, max_seconds)
    return _strip(s, n_images=len(images))


def w_transform_cooc(quick, name, repeat, max_seconds):
    images = _images(quick)
    with open(_model_path(quick, name), "rb") as fh:
        vw = pickle.load(fh)
    vw.transform(images[:2])
    s = common.timed_section(lambda: vw.transform(images), repeat, max_seconds)
    codes = vw.encode(images)[0]
    return _strip(s, n_images=len(images), n_patches=int(codes.size), codes=codes)


def w_transform_sklearn(quick, name, repeat, max_seconds):
    import scipy.sparse as sp

    from cooc.vision import whitening_scale

    images = _images(quick)
    with open(_model_path(quick, name), "rb") as fh:
        vw = pickle.load(fh)
    p, step, k = vw.patch_size, vw.step, vw.n_words_
    pca, kmeans = vw.pca_, vw.kmeans_
    scale = whitening_scale(pca).astype(np.float32)  # cooc's regularised whitening
    all_codes = []

    def quantize(batch, keep_codes=False):
        rows = []
        for image in batch:
            X = _sklearn_descriptors(image.astype(np.float32) / 255, p, step)
            Z = (pca.transform(X) * scale).astype(np.float32)
            codes = kmeans.predict(Z)
            if keep_codes:
                all_codes.append(codes)
            rows.append(np.bincount(codes, minlength=k))
        return sp.csr_matrix(np.vstack(rows).astype(np.float32))

    quantize(images[:2])
    s = common.timed_section(lambda: quantize(images), repeat, max_seconds)
    quantize(images, keep_codes=True)
    codes = np.concatenate(all_codes)
    return _strip(s, n_images=len(images), n_patches=int(codes.size), codes=codes)


def _nearest_codewords(Z, centers, center_sq, rows=8192):
    """argmin_j ||c_j||^2 - 2 z.c_j as numpy float32 GEMMs over row batches."""
    codes = np.empty(Z.shape[0], dtype=np.int32)
    for start in range(0, Z.shape[0], rows):
        dist = Z[start : start + rows] @ centers.T
        dist *= -2
        dist += center_sq
        codes[start : start + rows] = dist.argmin(axis=1)
    return codes


def w_assign(quick, name, method, repeat, max_seconds):
    from cooc.vision import pca_projection, project

    images = _images(quick)
    with open(_model_path(quick, name), "rb") as fh:
        vw = pickle.load(fh)
    Z = np.concatenate(
        [
            project(d, pca_projection(vw.pca_, vw.whiten))
            for _, d in vw._descriptors(vw._images(images))
        ]
    )
    centers = vw.codebook_
    if method == "gemm":
        sq = np.einsum("ij,ij->i", centers, centers)

        def fn():
            return _nearest_codewords(Z, centers, sq)
    else:

        def fn():
            return vw.kmeans_.predict(Z)

    fn()
    s = common.timed_section(fn, repeat, max_seconds)
    return _strip(s, n_patches=int(Z.shape[0]), dim=int(Z.shape[1]))


# -- joint co-occurrence matrix -------------------------------------------------------
JOINT_TIMES = {True: 4, False: 20}  # replication of the 1,906 emoji items
JOINT_WINDOW = 5  # word x word block: window 5, harmonic 1/d weights (the defaults)


def _joint_codes_path():
    import cooc.vision

    # refit when the visual-word code changes
    f = Path(cooc.vision.__file__)
    key = common._key(str(f), f.stat().st_size, f.stat().st_mtime_ns)
    return common.CACHE / f"vision-joint-codes-{key}.npz"


def w_joint_codes():
    """Fit the default VisualWords on the 1,906 emoji once; cache their codes."""
    path = _joint_codes_path()
    if path.exists():
        return {"cached": True}
    from cooc.datasets import load_emoji
    from cooc.vision import VisualWords

    images, _ = load_emoji()
    t0 = time.perf_counter()
    vw = VisualWords(random_state=0).fit(images)
    codes, offsets, _ = vw.encode(images)
    common.CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, codes=codes, offsets=offsets, n_visual=vw.n_words_)
    Path(tmp).replace(path)
    return {"cached": False, "fit_encode_seconds": time.perf_counter() - t0}


def _joint_data(quick):
    """The replicated items: texts, word ids (cooc's tokenizer), visual codes."""
    from cooc.datasets import load_emoji
    from cooc.multimodal import encode_texts

    _, frame = load_emoji()
    texts = frame["text"].tolist()
    # tokenizing + vocabulary, outside the timing of the rows fed with ids
    vocab, ids, offsets = encode_texts(texts, None, tokenizer="word", lowercase=True)
    with np.load(_joint_codes_path()) as z:
        codes, voffsets, n_visual = z["codes"], z["offsets"], int(z["n_visual"])
    times = JOINT_TIMES[bool(quick)]
    ids, offsets = common.tile_corpus(ids, offsets, times)
    codes, voffsets = common.tile_corpus(codes, voffsets, times)
    return {
        "texts": texts * times,
        "ids": ids,
        "offsets": offsets,
        "n_words": len(vocab),
        "codes": codes,
        "voffsets": voffsets,
        "n_visual": n_visual,
        "times": times,
    }


def numpy_joint(ids, offsets, n_words, codes, voffsets, n_visual, window):
    """The joint matrix from scipy products and the numpy window counter."""
    import scipy.sparse as sp
    from bench_counting import numpy_window

    def item_counts(values, bounds, n_cols):
        n_items = bounds.shape[0] - 1
        rows = np.repeat(np.arange(n_items), np.diff(bounds))
        data = np.ones(values.shape[0], dtype=np.int64)
        return sp.csr_matrix((data, (rows, values)), shape=(n_items, n_cols))

    T = item_counts(ids, offsets, n_words)  # items x words
    V = item_counts(codes, voffsets, n_visual)  # items x visual words
    cross = (T.T @ V).astype(np.float64)
    # a patch never pairs with itself: a visual word seen c times in an image
    # gives c * (c - 1) pairs, so subtract c from the c * c of V.T @ V
    per_word = np.asarray(V.sum(axis=0)).ravel()
    visual = (V.T @ V - sp.diags(per_word, dtype=np.int64)).astype(np.float64)
    text = numpy_window(ids, offsets, n_words, window)
    return sp.bmat([[text, cross], [cross.T, visual]], format="csr")


def _first_items(d, k):
    """The id arrays of the first ``k`` items (all when k is None)."""
    if k is None:
        return d
    o, vo = d["offsets"][: k + 1], d["voffsets"][: k + 1]
    return {
        **d,
        "texts": d["texts"][:k],
        "ids": d["ids"][: o[-1]],
        "offsets": o,
        "codes": d["codes"][: vo[-1]],
        "voffsets": vo,
    }


def _same_matrix(a, b):
    """Same non-zero pattern and np.allclose values; returns max |a - b|."""
    a, b = (_sorted_csr(m) for m in (a, b))
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(a.indptr, b.indptr), "different non-zeros per row"
    assert np.array_equal(a.indices, b.indices), "different non-zero columns"
    assert np.allclose(a.data, b.data, rtol=1e-12, atol=0), "different values"
    return float(np.abs(a.data - b.data).max(initial=0.0))


def _sorted_csr(m):
    import scipy.sparse as sp

    m = sp.csr_matrix(m, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.sort_indices()
    return m


def w_joint(quick, method, repeat, max_seconds, n_jobs=None):
    from cooc.multimodal import build_joint, count_joint

    full = _joint_data(quick)
    W = JOINT_WINDOW

    def fn(k=None):
        d = _first_items(full, k)
        if method == "count_joint":  # pre-encoded ids, as the numpy peer
            return count_joint(
                d["ids"],
                d["offsets"],
                d["n_words"],
                d["codes"],
                d["voffsets"],
                d["n_visual"],
                window_size=W,
                n_jobs=n_jobs,
            )
        if method == "build_joint":  # raw texts: tokenizing + vocabulary timed
            return build_joint(
                d["texts"],
                d["codes"],
                d["voffsets"],
                n_visual=d["n_visual"],
                window_size=W,
                n_jobs=n_jobs,
            ).matrix
        return numpy_joint(
            d["ids"],
            d["offsets"],
            d["n_words"],
            d["codes"],
            d["voffsets"],
            d["n_visual"],
            W,
        )

    fn(50)  # warm-up on the first 50 items: numba compilation, imports
    s = common.timed_section(fn, repeat, max_seconds)
    out = {
        "n_items": len(full["texts"]),
        "times": full["times"],
        "n_tokens": int(full["ids"].shape[0]),
        "n_patches": int(full["codes"].shape[0]),
        "n_words": full["n_words"],
        "n_visual": full["n_visual"],
        "nnz": int(s["out"].nnz),
    }
    if method == "numpy":
        # after the timed runs: the numpy/scipy matrix must equal cooc's
        ref = s["out"]
        s["out"] = None
        worst = max(
            _same_matrix(
                ref,
                count_joint(
                    full["ids"],
                    full["offsets"],
                    full["n_words"],
                    full["codes"],
                    full["voffsets"],
                    full["n_visual"],
                    window_size=W,
                ),
            ),
            _same_matrix(
                ref,
                build_joint(
                    full["texts"],
                    full["codes"],
                    full["voffsets"],
                    n_visual=full["n_visual"],
                    window_size=W,
                ).matrix,
            ),
        )
        out["check"] = (
            "checked: numpy/scipy matrix == count_joint == build_joint (same "
            f"non-zeros, np.allclose values, max |difference| {worst:.2g})"
        )
    return _strip(s, **out)


WORKERS = {
    "joint_codes": w_joint_codes,
    "joint": w_joint,
    "fit_cooc": w_fit_cooc,
    "fit_sklearn": w_fit_sklearn,
    "transform_cooc": w_transform_cooc,
    "transform_sklearn": w_transform_sklearn,
    "assign": w_assign,
}


# =====================================================================================
# tables (parent process)
# =====================================================================================
def _run(task, args, **params):
    return common.run_worker(
        SCRIPT,
        task,
        quick=args.quick,
        repeat=args.repeat,
        max_seconds=args.max_seconds,
        **params,
    )


def _err(r):
    return r.get("error")


def _runs(r):
    return len(r.get("all_seconds", [])) or "-"


def section_quantize(args):
    fit = _run("fit_cooc", args, name="raw", params=RAW)
    if _err(fit):
        return f"== quantization: fit failed: {fit['error']}\n"
    cooc = _run("transform_cooc", args, name="raw")
    skl = _run("transform_sklearn", args, name="raw")
    same = None
    if not _err(cooc) and not _err(skl):
        same = float(np.mean(np.asarray(cooc["codes"]) == np.asarray(skl["codes"])))
    ref = skl.get("seconds")
    rows = []
    for label, r in (
        ("cooc VisualWords.transform", cooc),
        ("sklearn extract_patches_2d + predict + bincount", skl),
    ):
        if _err(r):
            rows.append([label, "error: " + r["error"][:60]] + [None] * 6)
            continue
        rows.append(
            [
                label,
                fmt(ref / r["seconds"] if ref else None, ".2f") + "x",
                fmt(r["n_images"] / r["seconds"], ".0f"),
                human(r["n_patches"] / r["seconds"]),
                fmt(r["seconds"], ".3f"),
                fmt(r["extra_mib"], ".0f"),
                _runs(r),
                fmt(same, ".4f") if same is not None else None,
            ]
        )
    return table(
        f"quantization with the same codebook ({cooc.get('n_images', '?')} emoji "
        "images, raw 8x8 RGB patches, step 4, whitened PCA, 1024 words)",
        [
            "method",
            "speed-up",
            "images/s",
            "patches/s",
            "seconds",
            "extra MiB",
            "runs",
            "same words",
        ],
        rows,
        [
            "speed-up = sklearn composition seconds / method seconds (higher is "
            "faster); same words = share of patches given the same visual word "
            "(float ties and summation order can differ)",
            "sklearn composition per image: extract_patches_2d (all stride-1 "
            "patches, grid kept), numpy contrast normalisation, PCA.transform x "
            "cooc's whitening scale, MiniBatchKMeans.predict, np.bincount",
        ],
    )


def section_assign(args):
    rows = []
    res = {m: _run("assign", args, name="raw", method=m) for m in ("gemm", "predict")}
    ref = res["predict"].get("seconds")
    for m, label in (
        ("gemm", "numpy float32 GEMM (||c||^2 - 2 z.c, 8192-row batches)"),
        ("predict", "MiniBatchKMeans.predict (used by VisualWords)"),
    ):
        r = res[m]
        if _err(r):
            rows.append([label, "error: " + r["error"][:60]] + [None] * 4)
            continue
        rows.append(
            [
                label,
                fmt(ref / r["seconds"] if ref else None, ".2f") + "x",
                human(r["n_patches"] / r["seconds"]),
                fmt(r["seconds"], ".3f"),
                fmt(r["extra_mib"], ".0f"),
                _runs(r),
            ]
        )
    r = res["gemm"]
    return table(
        f"nearest-codeword assignment only ({human(r.get('n_patches', 0))} patches "
        f"x {r.get('dim', '?')} dims, 1024 words)",
        ["method", "speed-up", "patches/s", "seconds", "extra MiB", "runs"],
        rows,
        ["speed-up = MiniBatchKMeans.predict seconds / method seconds"],
    )


def section_fit(args):
    # the fit_cooc worker of the quantization table has run; run it again so the
    # two rows of this table come from the same moment of the run
    cooc = _run("fit_cooc", args, name="raw", params=RAW)
    skl = _run("fit_sklearn", args, params=RAW)
    ref = skl.get("seconds")
    rows = []
    for label, r in (
        ("cooc VisualWords.fit", cooc),
        ("sklearn extract_patches_2d + PCA + MiniBatchKMeans.fit", skl),
    ):
        if _err(r):
            rows.append([label, "error: " + r["error"][:60]] + [None] * 4)
            continue
        rows.append(
            [
                label,
                fmt(ref / r["seconds"] if ref else None, ".2f") + "x",
                fmt(r["n_images"] / r["seconds"], ".0f"),
                fmt(r["seconds"], ".2f"),
                fmt(r["extra_mib"], ".0f"),
                _runs(r),
            ]
        )
    return table(
        "fit: PCA + 1024-word codebook from 200,000 sampled patches (raw 8x8 RGB, "
        "step 4)",
        ["method", "speed-up", "images/s", "seconds", "extra MiB", "runs"],
        rows,
        [
            "MiniBatchKMeans stops early on its own criterion, so fit times "
            "vary with the data and the seed"
        ],
    )


def section_default(args):
    fit = _run("fit_cooc", args, name="default", params=DEFAULT)
    if _err(fit):
        return f"== default VisualWords: fit failed: {fit['error']}\n"
    tr = _run("transform_cooc", args, name="default")
    rows = [
        [
            "fit",
            fmt(fit["n_images"] / fit["seconds"], ".0f"),
            "-",
            fmt(fit["seconds"], ".2f"),
            fmt(fit["extra_mib"], ".0f"),
            _runs(fit),
        ]
    ]
    if _err(tr):
        rows.append(["transform", "error: " + tr["error"][:60]] + [None] * 4)
    else:
        rows.append(
            [
                "transform",
                fmt(tr["n_images"] / tr["seconds"], ".0f"),
                human(tr["n_patches"] / tr["seconds"]),
                fmt(tr["seconds"], ".3f"),
                fmt(tr["extra_mib"], ".0f"),
                _runs(tr),
            ]
        )
    return table(
        "default VisualWords (hog+color descriptor, 12x12 patches, step 4, 1024 words)",
        ["step", "images/s", "patches/s", "seconds", "extra MiB", "runs"],
        rows,
        ["no sklearn peer computes this descriptor (scikit-image is not a dependency)"],
    )


def section_joint(args):
    prep = common.run_worker(SCRIPT, "joint_codes")
    if _err(prep):
        return f"== joint: VisualWords fit failed: {prep['error']}\n"
    res = {
        "count2": _run("joint", args, method="count_joint", n_jobs=2),
        "count1": _run("joint", args, method="count_joint", n_jobs=1),
        "build": _run("joint", args, method="build_joint", n_jobs=2),
        "numpy": _run("joint", args, method="numpy"),
    }
    ref = res["numpy"].get("seconds")
    rows = []
    for key, label in (
        ("count2", "cooc count_joint, n_jobs=2"),
        ("count1", "cooc count_joint, n_jobs=1"),
        ("numpy", "numpy/scipy: T.T@V, V.T@V - diag, numpy window"),
        ("build", "cooc build_joint (+ tokenize, vocabulary), n_jobs=2"),
    ):
        r = res[key]
        if _err(r):
            rows.append([label, "error: " + r["error"][:70]] + [None] * 6)
            continue
        rows.append(
            [
                label,
                fmt(ref / r["seconds"] if ref else None, ".2f") + "x",
                human(r["n_items"] / r["seconds"]),
                fmt(r["seconds"], ".3f"),
                fmt(r["extra_mib"], ".0f"),
                fmt(r["peak_mib"], ".0f"),
                _runs(r),
                human(r["nnz"]),
            ]
        )
    r = next((r for r in res.values() if not _err(r)), {})
    check = res["numpy"].get("check") or "agreement not checked (numpy row failed)"
    fit = (
        "codes cached from an earlier run"
        if prep.get("cached")
        else f"fit + encode took {prep['fit_encode_seconds']:.0f} s"
    )
    return table(
        f"joint co-occurrence matrix: the 1,906 emoji (text, image) items x"
        f"{r.get('times', '?')} = {human(r.get('n_items', 0))} items, "
        f"{human(r.get('n_tokens', 0))} tokens, {human(r.get('n_patches', 0))} "
        f"patches; {r.get('n_words', '?')} words + {r.get('n_visual', '?')} visual "
        f"words; window {JOINT_WINDOW} harmonic, all patch pairs",
        [
            "method",
            "speed-up",
            "items/s",
            "seconds",
            "extra MiB",
            "peak MiB",
            "runs",
            "nnz",
        ],
        rows,
        [
            "speed-up = numpy/scipy seconds / method seconds; the first three rows "
            "take the same word ids and visual codes (tokenizing outside the "
            "timing), build_joint starts from the raw texts",
            "visual codes: the default VisualWords (hog+color, 12x12, step 4, 1024 "
            f"words) fitted once on the 1,906 images, outside the timing ({fit}); "
            "the items are replicated, not re-encoded",
            "count_joint builds the word x visual and (without spatial_radius) the "
            "visual x visual blocks with these same scipy products, and the emoji "
            "texts are short (window block: a few ms), so both sides spend most "
            "of their time in the same sparse products: expect ratios near 1, "
            "and read the spread against the load average",
            check,
        ],
    )


SECTIONS = {
    "quantize": section_quantize,
    "assign": section_assign,
    "fit": section_fit,
    "default": section_default,
    "joint": section_joint,
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help=f"use the first {N_QUICK} images only"
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (best is kept)"
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="stop repeating a measurement once its runs took this long",
    )
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    # run_all.py passes every option to every script: ignore the others' options
    args, _ = p.parse_known_args(argv)
    common.CACHE.mkdir(parents=True, exist_ok=True)
    data = f"first {N_QUICK} emoji" if args.quick else "1,906 emoji"
    print(f"# bench_vision ({data}); {common.machine_line()}", flush=True)
    # other scripts' section names (run_all.py passes --sections on) are skipped
    names = [n for n in args.sections.split(",") if n in SECTIONS]
    if not names:
        print(f"   (no bench_vision section in {args.sections!r}: {list(SECTIONS)})")
    for name in names:
        t0 = time.perf_counter()
        print(SECTIONS[name](args), flush=True)
        print(
            f"   ({name}: {time.perf_counter() - t0:.0f} s; load average now "
            f"{common.load_average():.2f})\n",
            flush=True,
        )


if __name__ == "__main__":
    if not common.worker_main(WORKERS):
        main()
