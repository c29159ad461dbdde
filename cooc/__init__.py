"""cooc: co-occurrence matrices, PPMI and truncated SVD embeddings.

The public API on one screen::

    # text path, plain functions
    build_cooccurrence(paths, window_size=5)        -> CoocMatrix   (files, streaming)
    cooccurrence_matrix(documents, window_size=5)   -> CoocMatrix   (in memory)
    count_window(ids, offsets, n_words)             -> csr_matrix   (encoded corpus)
    ppmi(counts, context_alpha=0.75)                -> csr_matrix
    svd_embed(matrix, n_components=128, power=0.15) -> (vectors, singular values)
    embed_cooccurrence(cooc, 128)                   -> (Embeddings, singular values)
    embed_cooc_file(path, "v.bin", 300, memory=8 << 30) -> vectors from row blocks
    write_cooccurrence(paths, "c.cooc", engine="local") -> what cooc build runs
    fit_subwords(emb)                               -> emb["unseen"] from n-grams
    fold_in_words(emb, counts_min_count_1)          -> rare words from their counts
    score_phrases(paths, passes=2)                  -> DataFrame of phrases
    join_phrases(token_lists, phrases)              -> token lists with new_york

    # scikit-learn estimators
    CooccurrenceVectorizer, PPMITransformer, SVDEmbedding, DocumentVectorizer

    # images and text together
    build_joint(texts, visual_codes, visual_offsets) -> CoocMatrix over words + vw:k
    JointEmbedding                                  -> one space for words and visual words
    VisualWords, ModalityFusion, LateFusionClassifier, make_early_fusion, make_classifier
    read_items("items.csv", text_column="text")     -> (table, items with images)

    # every check of an argument, file or corpus raises InputError (a ValueError)
"""

__version__ = "0.2.0"

# Names are imported from their modules on first use (PEP 562), so that
# `import cooc` and the command line start fast: a command loads only the
# modules it needs (scikit-learn, for instance, only when an estimator is used).
_LAZY = {
    "CoocMatrix": "cooc.matrix",
    "CooccurrenceVectorizer": "cooc.vectorizers",
    "DocumentVectorizer": "cooc.vectorizers",
    "Embeddings": "cooc.vectors",
    "InputError": "cooc.errors",
    "JointEmbedding": "cooc.multimodal",
    "LateFusionClassifier": "cooc.fusion",
    "ModalityFusion": "cooc.fusion",
    "PPMITransformer": "cooc.weighting",
    "ReadingOptions": "cooc.corpus",
    "SVDEmbedding": "cooc.svd",
    "VisualWords": "cooc.vision",
    "Vocabulary": "cooc.vocab",
    "WindowCounter": "cooc.cooccurrence",
    "build_cooccurrence": "cooc.cooccurrence",
    "build_joint": "cooc.multimodal",
    "build_vocabulary": "cooc.vocab",
    "build_vocabulary_from_files": "cooc.vocab",
    "cooccurrence_matrix": "cooc.cooccurrence",
    "count_joint": "cooc.multimodal",
    "count_window": "cooc.cooccurrence",
    "embed_cooc_file": "cooc.streaming",
    "embed_cooccurrence": "cooc.pipeline",
    "fit_subwords": "cooc.subwords",
    "fold_in_words": "cooc.pipeline",
    "join_phrases": "cooc.phrases",
    "score_phrases": "cooc.phrases",
    "evaluate_analogies": "cooc.evaluate",
    "evaluate_classifier": "cooc.classify",
    "evaluate_similarity": "cooc.evaluate",
    "import_pairs": "cooc.pairs",
    "iter_documents": "cooc.corpus",
    "iter_token_chunks": "cooc.corpus",
    "read_items": "cooc.items",
    "load_cooc": "cooc.io",
    "load_model": "cooc.classify",
    "log_counts": "cooc.weighting",
    "make_classifier": "cooc.classify",
    "make_early_fusion": "cooc.fusion",
    "merge": "cooc.matrix",
    "ppmi": "cooc.weighting",
    "save_cooc": "cooc.io",
    "save_model": "cooc.classify",
    "svd_embed": "cooc.svd",
    "tokenize": "cooc.corpus",
    "write_cooccurrence": "cooc.engines",
}


__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cooc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
