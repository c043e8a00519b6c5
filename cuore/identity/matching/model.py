"""The Fellegi–Sunter model: its parameters, how they are estimated from the data, scores and evidence.

For a comparison k at level l, m = P(level | the records are one person) and u = P(level | they are
not). A pair's match weight is log2(λ/(1-λ)) + Σ_k log2(m_k,l / u_k,l) over its non-missing comparisons
(a missing value adds 0), and its match probability is 2^w / (1 + 2^w). `explain` lists the terms.

λ (`prior`) is the probability that two records drawn at random are one person, and it is the prior
applied to candidate pairs too. With u measured on random pairs, that is what makes the candidates'
probabilities calibrated: blocking picks pairs by values that their comparison vectors already
record, so P(match | vector) is the same for a candidate pair as for a random pair with that vector.
(The share of matches among the candidate pairs, EM's λ inside a pass, is far higher, but weighing
it against random-pair u would count the blocking fields' agreement twice.)

Estimation (`train`), Splink's method, without labels and without hand-set weights:

1. u from random pairs: up to `max_pairs` pairs drawn uniformly (all pairs of a small set), their
   level frequencies per comparison, missing values left out.
2. m by expectation–maximisation on the blocked candidate pairs, one pass per blocking rule: the
   pass takes the pairs that share that rule's key and leaves out the comparisons of the fields the
   rule reads, since inside its blocks those agree whatever the truth (a postal code also fixes
   city, province and country: left out with it, or EM would take "same place" for the mark of a
   match). u stays fixed; EM estimates that pass's λ and the other comparisons' m. Each
   comparison's m is the average over its passes weighted by each pass's expected number of
   matches. A comparison left out of every pass that ran (few data) takes its m from one pass over
   all candidate pairs. EM runs on the distinct (vector, rule mask) rows with their counts, so its
   cost does not grow with the number of pairs. m carries a weak Dirichlet prior worth two matched
   pairs (more alike levels more likely), which only matters when a data set holds a handful of pairs.
3. λ: the fixed point of λ = Σ_candidates P(match | vector; λ) / (n(n-1)/2), i.e. EM for λ over all
   pairs with the pairs that share no key counted as non-matches.
4. u again, from the same random pairs each weighted by its probability of being a non-match under
   the current model: a random sample of a data set full of duplicates holds matches, and left in
   they make agreement look common (u too high, weights too low).
   Steps 2–4 run three times. m and u are finally clamped into [1e-6, 1 - 1e-6], and a level seen
   neither in a random pair nor in an expected match gets m = u (weight 0): its m and u would be the
   prior and the clamp alone. So does a comparison's `neutral` level (last_name's "swapped", which
   first_name already weighs), here and inside EM.

Everything is deterministic for a seed (the random pairs are drawn with numpy's PCG64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .blocking import BLOCKING_RULES, _pairs_by_rule
from .compare import COMPARISONS, comparison_vectors
from .normalise import Prepared

__all__ = ["MatchModel", "train"]

CLAMP = 1e-6
# λ is at least this: below it a data set says nothing of its duplicates anyway (10⁻¹⁵ ≈ 50 bits).
MIN_PRIOR = 1e-15
PRIOR_PAIRS = 2.0
ROUNDS = 3
EM_ITERATIONS = 200
EM_TOLERANCE = 1e-6
MIN_PASS_PAIRS = 20


def _clamp(values: np.ndarray) -> np.ndarray:
    return np.clip(values, CLAMP, 1 - CLAMP)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))


@dataclass
class MatchModel:
    """Fellegi–Sunter parameters: the prior λ and, per comparison and level, m and u."""

    prior: float
    m: list[list[float]]
    u: list[list[float]]

    def _weight_tables(self) -> list[np.ndarray]:
        # One extra 0 at the end: level -1 (missing) indexes it.
        return [
            np.append(np.log2(_clamp(np.asarray(m)) / _clamp(np.asarray(u))), 0.0)
            for m, u in zip(self.m, self.u, strict=True)
        ]

    def prior_weight(self) -> float:
        prior = float(np.clip(self.prior, MIN_PRIOR, 1 - CLAMP))
        return float(np.log2(prior / (1 - prior)))

    def weights(self, vectors: np.ndarray) -> np.ndarray:
        """Return the match weight (bits) of each comparison vector."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.int8))
        weights = np.full(len(vectors), self.prior_weight())
        for column, table in enumerate(self._weight_tables()):
            weights += table[vectors[:, column]]
        return weights

    def probability(self, vectors: np.ndarray) -> np.ndarray:
        """Return the match probability 2^w / (1 + 2^w) of each comparison vector."""
        return _sigmoid(self.weights(vectors) * np.log(2.0))

    def explain(self, vector: np.ndarray) -> list[dict[str, Any]]:
        """Return each comparison's level and weight for one vector (the weights plus the prior's sum to its weight)."""
        tables = self._weight_tables()
        evidence = []
        for comparison, table, level in zip(COMPARISONS, tables, np.asarray(vector).tolist(), strict=True):
            evidence.append(
                {
                    "comparison": comparison.name,
                    "level": comparison.levels[level] if level >= 0 else "missing",
                    "weight": float(table[level]) if level >= 0 else 0.0,
                    "fields": list(comparison.fields),
                }
            )
        return evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "prior": float(self.prior),
            "comparisons": [comparison.name for comparison in COMPARISONS],
            "levels": [list(comparison.levels) for comparison in COMPARISONS],
            "m": [[float(value) for value in row] for row in self.m],
            "u": [[float(value) for value in row] for row in self.u],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchModel:
        """Read a model written by to_json; raise ValueError when it was made for other comparisons."""
        names = [comparison.name for comparison in COMPARISONS]
        levels = [list(comparison.levels) for comparison in COMPARISONS]
        if data.get("comparisons", names) != names or data.get("levels", levels) != levels:
            raise ValueError("the model was trained with other comparisons or levels")
        m = [[float(value) for value in row] for row in data["m"]]
        u = [[float(value) for value in row] for row in data["u"]]
        shapes = [len(comparison.levels) for comparison in COMPARISONS]
        if [len(row) for row in m] != shapes or [len(row) for row in u] != shapes:
            raise ValueError("the model's m and u do not have one value per comparison level")
        return cls(prior=float(data["prior"]), m=m, u=u)


def _level_counts() -> list[int]:
    return [len(comparison.levels) for comparison in COMPARISONS]


def _default_m() -> list[np.ndarray]:
    """The Dirichlet prior's mean: 5% "different", the rest halving from the most alike level down."""
    defaults = []
    for count in _level_counts():
        alike = 0.5 ** np.arange(count - 1)
        defaults.append(np.append(0.95 * alike / alike.sum(), 0.05))
    return defaults


def _patterns(vectors: np.ndarray, tags: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of `vectors` (with their tag, e.g. a rule mask), their tags and how often each occurs.

    EM then runs over a few thousand distinct rows with counts instead of millions of pairs.
    """
    tags = np.zeros(len(vectors), dtype=np.int64) if tags is None else tags.astype(np.int64)
    if len(vectors) == 0:
        return vectors.reshape(0, len(COMPARISONS)), tags, np.zeros(0)
    base = max(_level_counts()) + 1
    codes = tags.copy()
    for column in range(vectors.shape[1]):
        codes = codes * base + (vectors[:, column].astype(np.int64) + 1)
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    return vectors[first], tags[first], counts.astype(np.float64)


def _log_bayes_factors(patterns: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], used: np.ndarray) -> np.ndarray:
    """Natural-log Σ log(m/u) per pattern over the comparisons in `used`, missing levels adding 0."""
    total = np.zeros(len(patterns))
    for column in np.flatnonzero(used):
        table = np.append(np.log(_clamp(m[column]) / _clamp(u[column])), 0.0)
        table[list(COMPARISONS[column].neutral)] = 0.0
        total += table[patterns[:, column]]
    return total


def _expectation_maximisation(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
    used: np.ndarray,
) -> tuple[list[np.ndarray], float]:
    """EM for m (comparisons in `used`) and λ on one set of pairs, u fixed; returns m and the expected matches."""
    m = [values.copy() for values in m]
    defaults = _default_m()
    prior = 0.5
    expected = 0.0
    for _ in range(EM_ITERATIONS):
        logit = np.log(prior / (1 - prior)) + _log_bayes_factors(patterns, m, u, used)
        matched = counts * _sigmoid(logit)
        expected = float(matched.sum())
        new_prior = float(np.clip(expected / counts.sum(), CLAMP, 1 - CLAMP))
        change = abs(new_prior - prior)
        prior = new_prior
        for column in np.flatnonzero(used):
            levels = patterns[:, column]
            present = levels >= 0
            totals = np.bincount(levels[present], weights=matched[present], minlength=len(m[column]))
            totals = totals + PRIOR_PAIRS * defaults[column]
            new_m = totals / totals.sum()
            change = max(change, float(np.abs(new_m - m[column]).max()))
            m[column] = new_m
        if change < EM_TOLERANCE:
            break
    return m, expected


# A postal code stands for its city, province and country: pairs blocked on it agree on those too.
_FIELDS_IMPLIED = {"postal_code": ("city", "province", "country"), "city": ("province", "country")}


def _fields_fixed_by(fields: tuple[str, ...]) -> set[str]:
    """The fields on which pairs that share a key of a rule reading `fields` agree, whatever the truth."""
    fixed = set(fields)
    for name in fields:
        fixed.update(_FIELDS_IMPLIED.get(name, ()))
    return fixed


def _estimate_m(
    patterns: np.ndarray,
    rule_masks: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
) -> list[np.ndarray]:
    """One EM pass per blocking rule, leaving out the comparisons of the rule's fields; m averaged over passes."""
    count = len(COMPARISONS)
    sums = [np.zeros(len(values)) for values in m]
    weights = np.zeros(count)
    for bit, rule in enumerate(BLOCKING_RULES):
        selected = ((rule_masks >> bit) & 1).astype(bool)
        if counts[selected].sum() < MIN_PASS_PAIRS:
            continue
        used = np.array([not set(comparison.fields) & _fields_fixed_by(rule.fields) for comparison in COMPARISONS])
        estimate, expected = _expectation_maximisation(patterns[selected], counts[selected], m, u, used)
        for column in np.flatnonzero(used):
            sums[column] += expected * estimate[column]
            weights[column] += expected
    missing = weights <= 0
    if missing.any():
        estimate = m
        if len(patterns):
            estimate, _ = _expectation_maximisation(patterns, counts, m, u, np.ones(count, dtype=bool))
        for column in np.flatnonzero(missing):
            sums[column] = estimate[column].copy()
            weights[column] = 1.0
    return [sums[column] / weights[column] for column in range(count)]


def _random_pair_prior(
    patterns: np.ndarray, counts: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], total_pairs: int
) -> float:
    """λ such that the candidates' expected matches, under λ, are λ times all pairs (EM for λ alone)."""
    if len(patterns) == 0 or total_pairs == 0:
        return CLAMP
    factors = _log_bayes_factors(patterns, m, u, np.ones(len(COMPARISONS), dtype=bool))
    prior = float(np.clip(0.1 * counts.sum() / total_pairs, MIN_PRIOR, 0.5))
    for _ in range(500):
        expected = float((counts * _sigmoid(np.log(prior / (1 - prior)) + factors)).sum())
        new_prior = float(np.clip(expected / total_pairs, MIN_PRIOR, 1 - CLAMP))
        if abs(new_prior - prior) <= 1e-9 * prior:
            return new_prior
        prior = new_prior
    return prior


def _estimate_u(
    patterns: np.ndarray, counts: np.ndarray, m: list[np.ndarray] | None, u: list[np.ndarray], prior: float
) -> list[np.ndarray]:
    """Level frequencies over random pairs, each pair weighted by its probability of being a non-match."""
    weights = counts
    if m is not None:
        factors = _log_bayes_factors(patterns, m, u, np.ones(len(COMPARISONS), dtype=bool))
        weights = counts * (1.0 - _sigmoid(np.log(prior / (1 - prior)) + factors))
    estimates = []
    for column, levels_count in enumerate(_level_counts()):
        levels = patterns[:, column]
        present = levels >= 0
        totals = np.bincount(levels[present], weights=weights[present], minlength=levels_count)
        if totals.sum() > 0:
            estimates.append(totals / totals.sum())
        else:
            # Never observed on both sides: no evidence either way, so m = u keeps its weight at 0.
            estimates.append(np.full(levels_count, 1.0 / levels_count))
    return estimates


def random_pairs(count: int, sample: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j of `count` records when there are at most `sample`, else `sample` uniform draws."""
    total = count * (count - 1) // 2
    if total <= sample:
        left, right = np.triu_indices(count, k=1)
        return left.astype(np.int64), right.astype(np.int64)
    left = rng.integers(0, count, size=sample, dtype=np.int64)
    right = rng.integers(0, count - 1, size=sample, dtype=np.int64)
    right += right >= left
    return np.minimum(left, right), np.maximum(left, right)


def fit(
    prepared: Prepared,
    vectors: np.ndarray,
    rule_masks: np.ndarray,
    *,
    seed: int = 0,
    max_pairs: int = 2_000_000,
) -> MatchModel:
    """Estimate a model from the candidate pairs' vectors and rule masks (see the module docstring)."""
    rng = np.random.default_rng(seed)
    count = len(prepared)
    total_pairs = count * (count - 1) // 2
    random_left, random_right = random_pairs(count, max_pairs, rng)
    random_patterns, _, random_counts = _patterns(comparison_vectors(prepared, random_left, random_right))
    tagged_patterns, tagged_masks, tagged_counts = _patterns(vectors, rule_masks)
    candidate_patterns, _, candidate_counts = _patterns(vectors)
    u = _estimate_u(random_patterns, random_counts, None, [], 0.0)
    m = _default_m()
    prior = CLAMP
    for _ in range(ROUNDS):
        m = _estimate_m(tagged_patterns, tagged_masks, tagged_counts, m, u)
        prior = _random_pair_prior(candidate_patterns, candidate_counts, m, u, total_pairs)
        u = _estimate_u(random_patterns, random_counts, m, u, prior)
    prior = _random_pair_prior(candidate_patterns, candidate_counts, m, u, total_pairs)
    m, u = [_clamp(values) for values in m], [_clamp(values) for values in u]
    _silence_unseen_levels(m, u, random_patterns, random_counts, candidate_patterns, candidate_counts, prior)
    return MatchModel(prior=prior, m=[values.tolist() for values in m], u=[values.tolist() for values in u])


def _silence_unseen_levels(
    m: list[np.ndarray],
    u: list[np.ndarray],
    random_patterns: np.ndarray,
    random_counts: np.ndarray,
    candidate_patterns: np.ndarray,
    candidate_counts: np.ndarray,
    prior: float,
) -> None:
    """Give weight 0 (m = u) to the levels seen neither in a random pair nor in an expected match.

    Both m and u of such a level are only the prior and the clamp: their ratio would be a weight made
    of no data (for example a country that is the same in every record would make "different" count
    as evidence for a match).
    """
    factors = _log_bayes_factors(candidate_patterns, m, u, np.ones(len(COMPARISONS), dtype=bool))
    matched = candidate_counts * _sigmoid(np.log(prior / (1 - prior)) + factors)
    for column, levels_count in enumerate(_level_counts()):
        random_levels = random_patterns[:, column]
        candidate_levels = candidate_patterns[:, column]
        seen_random = np.bincount(
            random_levels[random_levels >= 0], weights=random_counts[random_levels >= 0], minlength=levels_count
        )
        seen_matched = np.bincount(
            candidate_levels[candidate_levels >= 0], weights=matched[candidate_levels >= 0], minlength=levels_count
        )
        unseen = (seen_random == 0) & (seen_matched < 1.0)
        unseen[list(COMPARISONS[column].neutral)] = True
        m[column][unseen] = u[column][unseen]


def train(prepared: Prepared, *, seed: int = 0, max_pairs: int = 2_000_000) -> MatchModel:
    """Estimate m, u and λ from unlabelled records: u on random pairs, m and λ by EM on the blocked pairs."""
    left, right, rule_masks = _pairs_by_rule(prepared, 1000)
    vectors = comparison_vectors(prepared, left, right)
    return fit(prepared, vectors, rule_masks, seed=seed, max_pairs=max_pairs)
