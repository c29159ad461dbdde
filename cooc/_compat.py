"""The only module that imports private scikit-learn helpers."""

from sklearn.base import _fit_context  # noqa: F401
from sklearn.utils._param_validation import Interval, StrOptions  # noqa: F401
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: F401
