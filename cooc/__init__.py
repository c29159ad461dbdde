"""cooc: co-occurrence matrices, PPMI and truncated SVD embeddings.

The public API on one screen::

    # text path, plain functions
    build_cooccurrence(paths, window_size=5)        -> CoocMatrix   (files, streaming)
    cooccurrence_matrix(documents, window_size=5)   -> CoocMatrix   (in memory)
    count_window(ids, offsets, n_words)             -> csr_matrix   (encoded corpus)
    ppmi(counts, context_alpha=0.75)                -> csr_matrix
    svd_embed(matrix, n_components=128, power=0.5)  -> (vectors, singular values)
    embed_cooccurrence(cooc, 128)                   -> (Embeddings, singular values)

    # scikit-learn estimators
    CooccurrenceVectorizer, PPMITransformer, SVDEmbedding, DocumentVectorizer

    # images and text together
    build_joint(texts, visual_codes, visual_offsets) -> CoocMatrix over words + vw:k
    JointEmbedding                                  -> one space for words and visual words
    VisualWords, ModalityFusion, LateFusionClassifier, make_early_fusion, make_classifier
"""

__version__ = "0.1.0"

from cooc.cooccurrence import (
    CoocMatrix,
    WindowCounter,
    build_cooccurrence,
    cooccurrence_matrix,
    count_window,
    merge,
)
from cooc.corpus import iter_documents, iter_token_chunks, tokenize
from cooc.classify import evaluate_classifier, load_model, make_classifier, save_model
from cooc.evaluate import evaluate_analogies, evaluate_similarity
from cooc.fusion import LateFusionClassifier, ModalityFusion, make_early_fusion
from cooc.io import load_cooc, save_cooc
from cooc.multimodal import JointEmbedding, build_joint, count_joint
from cooc.pipeline import embed_cooccurrence
from cooc.svd import Embeddings, SVDEmbedding, svd_embed
from cooc.vectorizers import CooccurrenceVectorizer, DocumentVectorizer
from cooc.vision import VisualWords
from cooc.vocab import Vocabulary, build_vocabulary
from cooc.weighting import PPMITransformer, log_counts, ppmi

__all__ = [
    "CoocMatrix",
    "CooccurrenceVectorizer",
    "DocumentVectorizer",
    "Embeddings",
    "JointEmbedding",
    "LateFusionClassifier",
    "ModalityFusion",
    "PPMITransformer",
    "SVDEmbedding",
    "VisualWords",
    "Vocabulary",
    "WindowCounter",
    "__version__",
    "build_cooccurrence",
    "build_joint",
    "build_vocabulary",
    "cooccurrence_matrix",
    "count_joint",
    "count_window",
    "embed_cooccurrence",
    "evaluate_classifier",
    "evaluate_analogies",
    "evaluate_similarity",
    "iter_documents",
    "iter_token_chunks",
    "load_cooc",
    "load_model",
    "log_counts",
    "make_classifier",
    "make_early_fusion",
    "merge",
    "ppmi",
    "save_cooc",
    "save_model",
    "svd_embed",
    "tokenize",
]
