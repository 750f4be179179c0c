"""Domain exceptions of evaluation. This module imports nothing."""


class EvaluationError(Exception):
    """An evaluation cannot be done as asked: no usable rows, no common labels, mismatched data."""
