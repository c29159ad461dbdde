"""cooc: co-occurrence matrices, PPMI and truncated SVD embeddings."""
