"""Ranking data: the synthetic default, loaders for ESCI, WANDS and graded CSV/TSV, and query splits.

Everything produces the frame described in `model.data.schema`. Importing this package is cheap (no
TensorFlow).
"""

from model.data.loaders import cap_candidates, load
from model.data.schema import COLUMNS, ESCI_GAINS, DataError, Splits, validate
from model.data.splits import split_by_query
from model.data.synthetic import generate, generate_parts

__all__ = [
    "COLUMNS",
    "ESCI_GAINS",
    "DataError",
    "Splits",
    "cap_candidates",
    "generate",
    "generate_parts",
    "load",
    "split_by_query",
    "validate",
]
