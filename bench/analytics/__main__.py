"""bench/analytics: the full analytics run on 1,000,000 customers, and our CLV models beside lifetimes'.

Usage: ``python -m bench.analytics [--customers N] [--data-dir DIR] [--repeat R] [--rebuild] [--build-only]``.

1. The data set (``bench/analytics/dataset.py``): N customers, 10 × N order lines, products in a
   category tree, interactions, tickets and consent events, in ``DIR/cuore.sqlite3``
   (``var/bench-analytics`` by default). A database built earlier with the same size and seed is reused.
2. The full run: ``analytics_run(as_of=AS_OF)``, its seconds and the process's peak memory, and per stage
   what the run recorded in ``run.figures["stages"]``. Targets: under 5 minutes and 4 GB.
3. The side by side (``bench/analytics/compare.py``): one customer summary, then our BG/NBD + Gamma-Gamma
   fits and predictions against lifetimes 0.11.3's on it: the parameters (equal to 3 significant digits?),
   the predictions' largest differences, the seconds of each and their ratio (target: ours ≥ 10× faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_RUN_SECONDS = 5 * 60
TARGET_RUN_MB = 4 * 1024
TARGET_SPEED_RATIO = 10.0
META_FILE = "bench-analytics.json"


@dataclass
class Report:
    """Every figure the bench prints in its final table, with the target it is held to."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("yes" if met else "**no**")
        self.rows.append((measure, value, target, verdict))

    def print(self) -> None:
        print("\n| measure | value | target | met |\n|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def _load() -> str:
    """The machine's load average: the wall-clock figures mean little when it exceeds the CPUs."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} over 1 / 5 min on {os.cpu_count()} CPUs"


def _setup(data_dir: Path) -> None:
    os.environ["CUORE_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("CUORE_DEBUG", "0")
    os.environ.setdefault("CUORE_HTTPS", "0")
    os.environ.setdefault("CUORE_SECRET_KEY", "bench-secret-key-bench-secret-key-bench-secret")
    os.environ.pop("CUORE_DATABASE_URL", None)
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected: no pages here
    data_dir.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


# --- 1. the data set -------------------------------------------------------------------------------


def _expected(customers: int) -> dict[str, Any]:
    from bench.analytics import dataset

    return {"customers": customers, "seed": dataset.SEED, "as_of": dataset.AS_OF.isoformat()}


def _reusable(data_dir: Path, customers: int) -> dict[str, int] | None:
    """The row counts of an earlier build of the same size and seed, or None when there is none to reuse."""
    from bench.analytics import dataset

    meta_path = data_dir / META_FILE
    if not (data_dir / "cuore.sqlite3").exists() or not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("parameters") != _expected(customers):
        return None
    try:
        counts = dataset.dataset_counts()
    except Exception:  # a half-built or foreign database: build anew
        return None
    if counts["contacts"] != customers or counts["order lines"] != dataset.LINES_PER_CUSTOMER * customers:
        return None
    return counts


def _remove_database(data_dir: Path) -> None:
    from django.db import connection

    connection.close()
    for name in ("cuore.sqlite3", "cuore.sqlite3-wal", "cuore.sqlite3-shm", META_FILE):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / "warehouse", ignore_errors=True)


def dataset_ensure(data_dir: Path, *, customers: int, rebuild: bool, report: Report) -> dict[str, int]:
    """Reuse the data set in ``data_dir`` if it has the expected size, else build it; print what was done."""
    from django.core.management import call_command

    from bench.analytics import dataset

    counts = None if rebuild else _reusable(data_dir, customers)
    if counts is not None:
        meta = json.loads((data_dir / META_FILE).read_text())
        # New migrations (the analytics app grows) apply to the existing database.
        call_command("migrate", verbosity=0, interactive=False)
        print(
            f"Reusing the data set in {data_dir} (built {meta['built_at']} in {meta['build_seconds']:.0f} s; "
            f"same size, seed and as-of date)."
        )
        build_seconds = None
    else:
        _remove_database(data_dir)
        print(f"Building {customers:,} customers into {data_dir} …", flush=True)
        started, started_cpu = time.perf_counter(), time.process_time()
        call_command("migrate", verbosity=0, interactive=False)
        migrate_seconds = time.perf_counter() - started
        result = dataset.dataset_build(customers=customers)
        build_seconds = time.perf_counter() - started
        counts = dataset.dataset_counts()
        totals = dataset.dataset_totals_check()
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
        print(
            f"build: {build_seconds:.1f} s (migrate {migrate_seconds:.1f} s, {steps}); "
            f"CPU {time.process_time() - started_cpu:.1f} s; {_load()}"
        )
        print(
            f"hidden truth: {result.repeat_purchases:,} repeat purchases drawn, {result.churned:,} customers "
            f"dropped out before {dataset.AS_OF}; BG/NBD {dataset.TRUE_BGNBD} per day, spend {dataset.TRUE_SPEND} €"
        )
        same = totals["orders_total_cents"] == totals["lines_total_cents"]
        print(
            f"sum of order totals {totals['orders_total_cents'] / 100:,.2f} € = sum of line totals "
            f"{totals['lines_total_cents'] / 100:,.2f} €: {'yes' if same else 'NO'}"
        )
        if not same:
            report.failed.append("order totals differ from the sums of their lines")
        started_check = time.perf_counter()
        dangling = dataset.dataset_foreign_key_violations()
        print(f"foreign keys pointing nowhere: {dangling} (checked in {time.perf_counter() - started_check:.1f} s)")
        if dangling:
            report.failed.append(f"{dangling} rows with dangling foreign keys")
        (data_dir / META_FILE).write_text(
            json.dumps(
                {
                    "parameters": _expected(customers),
                    "built_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "build_seconds": round(build_seconds, 1),
                    "counts": counts,
                },
                indent=2,
            )
        )
        report.add("data set build (migrate + rows)", f"{build_seconds:.0f} s")
    size = sum(path.stat().st_size for path in data_dir.glob("cuore.sqlite3*")) / 1e9
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()) + f"; database {size:.2f} GB")
    if build_seconds is None:
        report.add("data set build", "reused")
    report.add(
        "contacts / orders / order lines", f"{counts['contacts']:,} / {counts['orders']:,} / {counts['order lines']:,}"
    )
    report.add(
        "interactions / tickets / consent events",
        f"{counts['interactions']:,} / {counts['tickets']:,} / {counts['consent events']:,}",
    )
    return counts


# --- 2. the full run -------------------------------------------------------------------------------


def _stages_print(figures: dict, report: Report) -> None:
    stages = figures.get("stages")
    if not stages:
        print(f"run.figures has no 'stages'; its keys: {sorted(figures)}")
        for key, value in figures.items():
            if key.endswith("seconds"):
                print(f"  {key}: {value}")
                report.add(f"run figure: {key}", f"{value} s")
        return
    print(f"\n{'stage':<28} {'seconds':>9} {'peak RSS MB':>12}")
    print("-" * 51)
    for stage in stages:
        peak = stage.get("peak_rss_mb", float("nan"))
        print(f"{stage['stage']:<28} {stage['seconds']:9.1f} {peak:12,.0f}")
        report.add(f"run stage: {stage['stage']}", f"{stage['seconds']:.1f} s, peak RSS {peak:,.0f} MB")


def full_run(report: Report) -> None:
    """Run ``analytics_run`` once and print its seconds and peak memory, in total and per stage."""
    from bench.analytics.dataset import AS_OF
    from bench.analytics.memory import PeakMemory
    from cuore.analytics.models import AnalyticsRun
    from cuore.analytics.services import analytics_run

    print(f"\n## Full run: analytics_run(as_of={AS_OF})", flush=True)
    run = None
    print(f"({_load()} at the start)")
    with PeakMemory() as peak:
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            run = analytics_run(as_of=AS_OF)
        except Exception:
            sys.stdout.flush()
            traceback.print_exc()
            sys.stderr.flush()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - started_cpu
    if run is None:
        # A failed run keeps the figures it had, its stages so far among them.
        failed = AnalyticsRun.objects.order_by("-pk").first()
        print(f"analytics_run FAILED after {seconds:.1f} s: {failed.error if failed else '(no run recorded)'}")
        if failed is not None:
            _stages_print(failed.figures or {}, report)
        report.failed.append("analytics_run failed")
        report.add("full run", f"failed after {seconds:.0f} s", f"< {TARGET_RUN_SECONDS} s", False)
        return
    figures = run.figures or {}
    _stages_print(figures, report)
    print(
        f"\nrun {run.pk} {run.status}: {seconds:.1f} s (the run's own figure: {figures.get('seconds')} s); "
        f"target < {TARGET_RUN_SECONDS} s"
    )
    print(f"CPU time of the process during the run: {cpu_seconds:.1f} s ({_load()} at the end)")
    print(f"peak RSS during the run: {peak.peak_mb:,.0f} MB ({peak.method}); target < {TARGET_RUN_MB:,} MB")
    report.add(
        "full run, total",
        f"{seconds:.1f} s (CPU {cpu_seconds:.1f} s)",
        f"< {TARGET_RUN_SECONDS} s",
        seconds < TARGET_RUN_SECONDS,
    )
    report.add("full run, peak RSS", f"{peak.peak_mb:,.0f} MB", f"< {TARGET_RUN_MB:,} MB", peak.peak_mb < TARGET_RUN_MB)


# --- 3. the side by side ---------------------------------------------------------------------------


def side_by_side(report: Report, *, repeat: int, sample: int) -> None:
    """Our BG/NBD + Gamma-Gamma against lifetimes' on one summary table; print parameters, differences, times."""
    from bench.analytics import compare
    from bench.analytics.dataset import AS_OF, SEED, TRUE_BGNBD, TRUE_SPEND

    print("\n## Side by side: cuore.analytics.clv against lifetimes 0.11.3", flush=True)
    transactions = compare.transactions_read(as_of=AS_OF)
    print(f"counted orders read from the database: {transactions.customer.size:,} in {transactions.seconds:.1f} s")
    summary, duckdb_seconds = compare.summary_duckdb(transactions, as_of=AS_OF)
    print(f"summary in DuckDB: {summary.customer_ids.size:,} customers in {duckdb_seconds:.2f} s")
    reference, clv_seconds = compare.summary_clv(transactions, as_of=AS_OF)
    same = compare.summaries_equal(summary, reference)
    print(f"the same summary through clv.summarise: {clv_seconds:.1f} s; identical: {'yes' if same else 'NO'}")
    if not same:
        report.failed.append("the DuckDB summary differs from clv.summarise's")
    del transactions, reference
    repeaters = int((summary.frequency > 0).sum())
    print(
        f"customers {summary.customer_ids.size:,}, repeat buyers {repeaters:,}, mean frequency "
        f"{summary.frequency.mean():.2f}, mean T {summary.T.mean():.0f} days, mean monetary of repeat buyers "
        f"{summary.monetary[summary.frequency > 0].mean():.2f} €"
    )
    report.add(
        "summary table (DuckDB / clv.summarise)",
        f"{duckdb_seconds:.1f} s / {clv_seconds:.1f} s, identical: {'yes' if same else 'no'}",
    )
    truth = {**TRUE_BGNBD, **TRUE_SPEND}
    print(
        "the data were drawn with "
        + ", ".join(f"{name}={value:g}" for name, value in truth.items())
        + " (seasonal, with drafts, cancellations and returns left out, and spend shaped by product prices, so"
        " only roughly)"
    )
    _compare(summary, report, repeat=repeat, label="")
    if sample and sample < summary.customer_ids.size:
        print(f"\n### The same on a random sample of {sample:,} customers", flush=True)
        _compare(
            compare.summary_sample(summary, size=sample, seed=SEED), report, repeat=repeat, label=f"{sample:,} sample: "
        )


def _compare(summary, report: Report, *, repeat: int, label: str) -> None:
    """Fit and predict with both libraries on ``summary``; print and report how they compare."""
    from bench.analytics import compare
    from bench.analytics.memory import PeakMemory

    with PeakMemory() as ours_peak:
        ours = compare.ours(summary, repeat=repeat)
    print(f"ours: done ({ours.repetitions} run(s), {ours.total_seconds:.1f} s median)", flush=True)
    with PeakMemory() as theirs_peak:
        try:
            theirs = compare.lifetimes_once(summary)
        except Exception:
            sys.stdout.flush()
            traceback.print_exc()
            sys.stderr.flush()
            theirs = None
    if theirs is None:
        print("lifetimes FAILED (traceback above)")
        report.failed.append(f"{label}lifetimes failed")
        return
    print(f"lifetimes: done ({theirs.total_seconds:.1f} s)")
    check = compare.agreement(ours, theirs)

    print(f"\n{'parameter':<10} {'ours':>14} {'lifetimes':>14} {'3 s.f.':>15} {'rel. diff':>10}")
    print("-" * 67)
    for name, value in ours.params.items():
        other = theirs.params[name]
        pair = f"{compare.significant(value)} / {compare.significant(other)}"
        print(f"{name:<10} {value:14.6g} {other:14.6g} {pair:>15} {check.parameter_differences[name]:10.2e}")
    print(f"(lifetimes calls Gamma-Gamma's gamma 'v'; log-likelihoods of ours: {ours.log_likelihood})")
    verdict = "PASS" if check.parameters_agree else "FAIL"
    print(
        f"parameters agree to 3 significant digits: {verdict} (largest relative difference "
        f"{check.largest_parameter_difference:.2e}, tolerance {compare.PARAMETER_TOLERANCE:.0e})"
    )
    print(
        "ours' Nelder-Mead passes (likelihood evaluations, why it stopped): "
        + "; ".join(f"{fit} {evaluations:,} ({message.rstrip('.')})" for fit, evaluations, message in ours.optimizer)
    )
    print(
        f"\n{'prediction (per customer)':<30} {'max rel. diff':>14} {'max abs. diff':>14} {'mean ours':>12} "
        f"{'mean lifetimes':>15}"
    )
    print("-" * 89)
    for name in compare.PREDICTIONS:
        relative, absolute = check.prediction_differences[name]
        print(
            f"{name:<30} {relative:14.2e} {absolute:14.2e} {ours.predictions[name].mean():12.4f} "
            f"{theirs.predictions[name].mean():15.4f}"
        )
    print(
        f"(relative differences over values ≥ {compare.RELATIVE_FLOOR:g}; both CLVs with 30-day months, "
        "lifetimes' definition)"
    )

    print(f"\n{'seconds':<18} {'ours':>10} {'lifetimes':>10} {'ratio':>8}")
    print("-" * 49)
    for step in ("fit BG/NBD", "fit Gamma-Gamma", "predictions", "total", "total CPU"):
        mine, other = ours.seconds[step], theirs.seconds[step]
        print(f"{step:<18} {mine:10.2f} {other:10.2f} {other / mine:7.2f}×")
    ratio = theirs.total_seconds / ours.total_seconds
    cpu_ratio = theirs.seconds["total CPU"] / ours.seconds["total CPU"]
    verdict = (
        f"(target ≥ {TARGET_SPEED_RATIO:.0f}×): {'PASS' if ratio >= TARGET_SPEED_RATIO else 'FAIL'}"
        if not label
        else "(the target is set on the whole summary; fixed costs weigh more on a sample)"
    )
    print(
        f"ours: median of {ours.repetitions} run(s); lifetimes: one run. Ours is {ratio:.2f}× as fast as lifetimes "
        + verdict
    )
    print(f"by CPU time: {cpu_ratio:.2f}× ({_load()})")
    print(f"peak RSS: ours {ours_peak.peak_mb:,.0f} MB, lifetimes {theirs_peak.peak_mb:,.0f} MB ({ours_peak.method})")

    report.add(
        f"{label}parameters equal to 3 significant digits",
        f"{verdict}, largest rel. diff {check.largest_parameter_difference:.1e}",
        f"< {compare.PARAMETER_TOLERANCE:.0e}",
        check.parameters_agree,
    )
    report.add(f"{label}predictions, largest rel. diff", f"{check.largest_prediction_difference:.1e}")
    report.add(
        f"{label}ours: fit BG/NBD + Gamma-Gamma + predictions",
        f"{ours.total_seconds:.1f} s, CPU {ours.seconds['total CPU']:.1f} s (median of {ours.repetitions}), "
        f"{ours_peak.peak_mb:,.0f} MB",
    )
    report.add(
        f"{label}lifetimes: the same",
        f"{theirs.total_seconds:.1f} s, CPU {theirs.seconds['total CPU']:.1f} s (one run), {theirs_peak.peak_mb:,.0f} MB",
    )
    # The target is set on the whole customer base; a sample's ratio is reported without one.
    report.add(
        f"{label}speed ratio lifetimes / ours",
        f"{ratio:.2f}× (by CPU time {cpu_ratio:.2f}×)",
        "" if label else f"≥ {TARGET_SPEED_RATIO:.0f}×",
        None if label else ratio >= TARGET_SPEED_RATIO,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers (default 1,000,000)")
    parser.add_argument(
        "--data-dir", default=os.environ.get("BENCH_ANALYTICS_DATA_DIR", "var/bench-analytics"), help="data directory"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours to take the median of, while cheap")
    parser.add_argument(
        "--sample",
        type=int,
        default=100_000,
        help="also compare on a random sample of this many customers (0: no; default 100,000)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the data set even if one can be reused")
    parser.add_argument("--build-only", action="store_true", help="build (or reuse) the data set and stop")
    args = parser.parse_args(argv)
    if args.customers < 100:
        parser.error("--customers must be at least 100")

    data_dir = Path(args.data_dir).resolve()
    _setup(data_dir)
    from bench.analytics.memory import process_peak_mb

    report = Report()
    started = time.perf_counter()
    print(f"# bench/analytics — {args.customers:,} customers, SQLite, {os.cpu_count()} CPUs\n")
    dataset_ensure(data_dir, customers=args.customers, rebuild=args.rebuild, report=report)
    if not args.build_only:
        full_run(report)
        side_by_side(report, repeat=args.repeat, sample=args.sample)
    report.add(
        "the whole bench (process)", f"{time.perf_counter() - started:.0f} s, peak RSS {process_peak_mb():,.0f} MB"
    )
    report.print()
    if report.failed:
        print("\nFailed: " + "; ".join(report.failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
