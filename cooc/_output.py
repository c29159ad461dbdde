"""``set_output(transform="pandas")`` for the transformers whose output is sparse.

scikit-learn wraps dense transform outputs in a DataFrame by itself but
refuses sparse ones. The cooc transformers that return a sparse matrix call
:func:`sparse_output` on it: under pandas output it becomes a DataFrame of
pandas sparse columns (``frame.sparse.to_coo()`` gives the matrix back, and
scikit-learn estimators accept it as a sparse matrix), with the row index the
transformer chooses (the words, for matrices whose rows are words) and the
columns of ``get_feature_names_out()``. Otherwise the matrix is returned as it
is.
"""

from __future__ import annotations

import sys

import scipy.sparse as sp

from cooc._compat import get_output_config


def pandas_output(estimator, method="transform") -> bool:
    """True when ``estimator``'s ``method`` output is configured as pandas
    (by ``set_output`` or by ``sklearn.set_config(transform_output="pandas")``)."""
    return get_output_config(method, estimator)["dense"] == "pandas"


def input_index(X):
    """The index of a pandas DataFrame or Series ``X``, else None."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, (pd.DataFrame, pd.Series)):
        return X.index
    return None


def sparse_output(estimator, X, index=None):
    """``X`` as a DataFrame of sparse columns under pandas output, else ``X``."""
    if not sp.issparse(X) or not pandas_output(estimator):
        return X
    import pandas as pd

    return pd.DataFrame.sparse.from_spmatrix(
        X, index=index, columns=list(estimator.get_feature_names_out())
    )
