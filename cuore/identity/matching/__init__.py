"""Identity resolution: a Fellegi–Sunter record-linkage engine over numpy arrays, with no Django import.

Stages: normalise.py (clean values, hold records as columns), blocking.py (which pairs to compare),
compare.py (comparison vectors), model.py (m/u estimation, scores, evidence) and resolve.py (links,
clusters, one-record matching). Each module's docstring states its method and rules.
"""

from .blocking import BLOCKING_RULES, BlockingRule, candidate_pairs, record_keys
from .compare import COMPARISONS, Comparison, compare_records, comparison_vectors
from .model import MatchModel, train
from .normalise import (
    FIELDS,
    Prepared,
    canonical_first_name,
    normalise_date,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_postcode,
    normalise_street,
    normalise_tax_code,
    prepare,
)
from .resolve import Resolution, cluster_pairs, match_one, pairwise_scores, resolve

__all__ = [
    "BLOCKING_RULES",
    "COMPARISONS",
    "FIELDS",
    "BlockingRule",
    "Comparison",
    "MatchModel",
    "Prepared",
    "Resolution",
    "canonical_first_name",
    "candidate_pairs",
    "cluster_pairs",
    "compare_records",
    "comparison_vectors",
    "match_one",
    "normalise_date",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
    "normalise_postcode",
    "normalise_street",
    "normalise_tax_code",
    "pairwise_scores",
    "prepare",
    "record_keys",
    "resolve",
    "train",
]
