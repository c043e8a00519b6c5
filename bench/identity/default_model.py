"""Estimate the matching model Cuore starts with, before its own data can teach it anything.

A new installation has too few records for expectation–maximisation to learn the m and u
probabilities (a handful of people, no duplicates yet). Until it has ``MIN_TRAIN_RECORDS`` contact
records, identity resolution uses this model: estimated by the same EM, unlabelled, on 100,000
synthetic records from ``bench/identity/synthetic.py`` (Italian and international people with the
usual corruptions), with its prior scaled to the installation's size. Run
``python -m bench.identity.default_model`` to write ``cuore/identity/matching/default_model.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bench.identity.synthetic import generate
from cuore.identity.matching import prepare, train

RECORDS = 100_000
SEED = 20261129
TARGET = Path(__file__).resolve().parents[2] / "cuore" / "identity" / "matching" / "default_model.json"


def main() -> int:
    columns, _truth = generate(RECORDS, seed=SEED)
    model = train(prepare(np.arange(RECORDS), columns), seed=0)
    data = {"records": RECORDS, "seed": SEED, "model": model.to_json()}
    TARGET.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {TARGET} (prior {model.prior:.3g} at {RECORDS:,} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
