"""Resolve identities: score the candidate pairs of a set of records, link them and group them into people.

`resolve` blocks the records (blocking.py), compares the candidate pairs (compare.py), trains a model
when none is given (model.py), and decides per pair: linked when its match probability is at least
`link_threshold`, to review when it is at least `review_threshold` but below the link threshold.

Clusters are the connected components of the linked pairs, with a guard against chaining: one
linked pair must not glue two otherwise separate groups of records (A1-A2 and B1-B2 become one
person because A2 looks like B1). Inside each component of four or more records (a smaller one
cannot hold two groups of two), the links are replayed from the strongest to the weakest, merging
groups as they go; a link that would merge two groups of which at least one has two or more records
is kept only when at least half of all the record pairs across the two groups score at or above
`review_threshold`. Otherwise the link is dropped (reported in `Resolution.dropped`) and the two
groups stay apart. Every pair across is scored for components of up to 400 records; in a larger one
(rare: it takes hundreds of records linked together) only the candidate pairs are known, and a pair
that shares no blocking key counts as below the threshold. The loop runs in Python over these
components only; components of two or three records are taken whole, with numpy.

A cluster's label is the smallest position among its records, so it is stable under reordering of
the clusters and needs no separate numbering. `match_one` scores one new record against candidates
(found through its blocking keys) with the same comparisons and model as the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .blocking import _pairs_by_rule, all_pairs_in_groups
from .compare import compare_records, comparison_vectors
from .model import MatchModel, fit
from .normalise import Prepared

__all__ = ["Resolution", "cluster_pairs", "match_one", "pairwise_scores", "resolve"]

GUARD_MIN_SIZE = 4
GUARD_FULL_SCORING = 400


@dataclass
class Resolution:
    """The scored candidate pairs of a set of records and the clusters of records that are one person."""

    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    probability: np.ndarray
    vectors: np.ndarray
    linked: np.ndarray
    review: np.ndarray
    cluster: np.ndarray
    # Linked pairs whose link the clustering guard refused (see the module docstring).
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def resolve(
    prepared: Prepared,
    model: MatchModel | None = None,
    *,
    link_threshold: float = 0.95,
    review_threshold: float = 0.50,
    seed: int = 0,
) -> tuple[Resolution, MatchModel]:
    """Score, link and cluster a set of records, training the model on them when none is given."""
    left, right, rule_masks = _pairs_by_rule(prepared, 1000)
    vectors = comparison_vectors(prepared, left, right)
    if model is None:
        model = fit(prepared, vectors, rule_masks, seed=seed)
    weight = model.weights(vectors)
    probability = model.probability(vectors)
    linked = probability >= link_threshold
    review = (probability >= review_threshold) & ~linked
    cluster, dropped = _cluster(prepared, model, left, right, weight, probability, linked, review_threshold)
    resolution = Resolution(
        left=left,
        right=right,
        weight=weight,
        probability=probability,
        vectors=vectors,
        linked=linked,
        review=review,
        cluster=cluster,
        dropped=dropped,
    )
    return resolution, model


def _smallest_member(groups: np.ndarray) -> np.ndarray:
    """Per record, the smallest position of the records sharing its group id."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_groups)) + 1))
    sizes = np.diff(np.append(starts, len(groups)))
    labels = np.empty(len(groups), dtype=np.int64)
    labels[order] = np.repeat(order[starts], sizes)
    return labels


def _cluster(
    prepared: Prepared,
    model: MatchModel,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    probability: np.ndarray,
    linked: np.ndarray,
    review_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    count = len(prepared)
    dropped = np.zeros(len(left), dtype=bool)
    if count == 0:
        return np.zeros(0, dtype=np.int64), dropped
    links = np.flatnonzero(linked)
    graph = coo_matrix((np.ones(len(links)), (left[links], right[links])), shape=(count, count)).tocsr()
    _, component = connected_components(graph, directed=False)
    component = component.astype(np.int64)
    sizes = np.bincount(component)
    guarded = np.flatnonzero(sizes >= GUARD_MIN_SIZE)
    if len(guarded) == 0:
        return _smallest_member(component), dropped

    # Records of the guarded components, grouped by component, and each one's index inside it.
    is_guarded = np.zeros(len(sizes), dtype=bool)
    is_guarded[guarded] = True
    members = np.flatnonzero(is_guarded[component])
    members = members[np.argsort(component[members], kind="stable")]
    member_sizes = sizes[guarded]
    member_starts = np.cumsum(member_sizes) - member_sizes
    local = np.full(count, -1, dtype=np.int64)
    local[members] = np.arange(len(members)) - np.repeat(member_starts, member_sizes)
    slot = np.full(len(sizes), -1, dtype=np.int64)
    slot[guarded] = np.arange(len(guarded))

    # Pairs inside guarded components with their probabilities: all pairs of the smaller components,
    # the candidate pairs of the larger ones.
    full = member_sizes <= GUARD_FULL_SCORING
    full_members = np.flatnonzero(np.repeat(full, member_sizes))
    full_sizes = member_sizes[full]
    pair_left, pair_right = all_pairs_in_groups(members[full_members], np.cumsum(full_sizes) - full_sizes, full_sizes)
    pair_probability = model.probability(comparison_vectors(prepared, pair_left, pair_right))
    large = np.flatnonzero(~full)
    if len(large):
        in_large = np.isin(component[left], guarded[large]) & (component[left] == component[right])
        pair_left = np.concatenate((pair_left, left[in_large]))
        pair_right = np.concatenate((pair_right, right[in_large]))
        pair_probability = np.concatenate((pair_probability, probability[in_large]))
    strong = pair_probability >= review_threshold
    pair_slot = slot[component[pair_left]]
    pair_order = np.argsort(pair_slot, kind="stable")
    pair_bounds = np.searchsorted(pair_slot[pair_order], np.arange(len(guarded) + 1))

    # Links inside guarded components, strongest first within each component.
    link_slot = slot[component[left[links]]]
    inside = link_slot >= 0
    links, link_slot = links[inside], link_slot[inside]
    link_order = np.lexsort((right[links], left[links], -weight[links], link_slot))
    links, link_slot = links[link_order], link_slot[link_order]
    link_bounds = np.searchsorted(link_slot, np.arange(len(guarded) + 1))

    groups = component.copy()
    next_group = len(sizes)
    for position in range(len(guarded)):
        size = int(member_sizes[position])
        strong_matrix = np.zeros((size, size), dtype=bool)
        chosen = pair_order[pair_bounds[position] : pair_bounds[position + 1]]
        a, b = local[pair_left[chosen]], local[pair_right[chosen]]
        strong_matrix[a, b] = strong[chosen]
        strong_matrix[b, a] = strong[chosen]
        group_of = np.arange(size)
        for link in links[link_bounds[position] : link_bounds[position + 1]]:
            group_a, group_b = group_of[local[left[link]]], group_of[local[right[link]]]
            if group_a == group_b:
                continue
            in_a, in_b = group_of == group_a, group_of == group_b
            if (in_a.sum() > 1 or in_b.sum() > 1) and strong_matrix[np.ix_(in_a, in_b)].mean() < 0.5:
                dropped[link] = True
                continue
            group_of[in_b] = group_a
        start = member_starts[position]
        groups[members[start : start + size]] = next_group + group_of
        next_group += size
    return _smallest_member(groups), dropped


def match_one(model: MatchModel, record: Prepared, candidates: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Return the match probability of record 0 of `record` against each candidate, and the vectors."""
    positions = np.arange(len(candidates), dtype=np.int64)
    vectors = compare_records(record, candidates, np.zeros(len(candidates), dtype=np.int64), positions)
    return model.probability(vectors), vectors


def cluster_pairs(cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions (i < j) that share a cluster label."""
    cluster = np.asarray(cluster)
    order = np.argsort(cluster, kind="stable")
    sorted_labels = cluster[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_labels)) + 1)) if len(cluster) else np.zeros(0)
    sizes = np.diff(np.append(starts, len(cluster)))
    first, second = all_pairs_in_groups(order, starts.astype(np.int64), sizes)
    return np.minimum(first, second), np.maximum(first, second)


def pairwise_scores(true_pairs: set[tuple], predicted_pairs: set[tuple]) -> dict:
    """Pairwise precision, recall and F1 of predicted pairs against true pairs (order inside a pair ignored)."""
    truth = {tuple(sorted(pair)) for pair in true_pairs}
    predicted = {tuple(sorted(pair)) for pair in predicted_pairs}
    hits = len(truth & predicted)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positives": hits,
        "predicted": len(predicted),
        "true": len(truth),
    }
