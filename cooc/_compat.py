"""The only module that imports private scikit-learn helpers; the rest of cooc
takes them from here under public names."""

from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._set_output import _get_output_config as get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "HasAttributes",
    "HasMethods",
    "Interval",
    "StrOptions",
    "check_is_fitted",
    "fit_context",
    "get_output_config",
    "validate_data",
]


class HasAttributes(HasMethods):
    """Parameter constraint: objects having all the named attributes.

    For duck-typed parameters such as gensim's ``KeyedVectors`` (attributes
    ``index_to_key`` and ``vectors``), where ``HasMethods`` would ask for
    callables.
    """

    def __init__(self, *attributes):
        super().__init__(list(attributes))

    def is_satisfied_by(self, val):
        return all(hasattr(val, name) for name in self.methods)

    def __str__(self):
        names = " and ".join(repr(name) for name in self.methods)
        return f"an object with attributes {names}"
