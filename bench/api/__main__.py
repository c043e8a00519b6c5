"""bench/api: p50 / p95 of the main API reads on the 1,000,000-customer demo data, beside their bare SQL.

Usage: ``python -m bench.api [--data-dir DIR] [--customers N] [--repeat R]``. When DIR holds no
database yet, the data set is generated first with ``cuore demo --customers N --no-serve`` and the
time it took and the database's size are printed too. Requests go through the whole Django stack
in-process (middleware, bearer-token auth, django-ninja validation and serialisation); the floor is
the same SQL statements the endpoint ran, executed bare on the same connection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("BENCH_DATA_DIR", "var/bench-1m"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per case (default 200)")
    args = parser.parse_args()

    data_dir = Path(args.data_dir).resolve()
    os.environ["CUORE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("CUORE_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("CUORE_DEBUG", "0")
    os.environ.setdefault("CUORE_HTTPS", "0")  # in-process requests are plain HTTP
    os.environ.setdefault("CUORE_SECRET_KEY", "bench-secret-key-bench-secret-key-bench-secret")
    os.environ.pop("CUORE_DATABASE_URL", None)
    database = data_dir / "cuore.sqlite3"
    if not database.exists():
        print(f"Generating {args.customers:,} customers into {data_dir} …", flush=True)
        started = time.perf_counter()
        cuore = Path(sys.executable).with_name("cuore")
        subprocess.run([str(cuore), "demo", "--customers", str(args.customers), "--no-serve"], check=True)
        elapsed = time.perf_counter() - started
        print(f"generation: {elapsed:,.0f} s, database {database.stat().st_size / 1e9:.2f} GB\n", flush=True)

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected: no pages here
    import django

    django.setup()
    from bench.api.cases import run_cases

    rows = run_cases(repeat=args.repeat)
    size = database.stat().st_size / 1e9
    print(f"\nbench/api — SQLite, {size:.2f} GB database, {args.repeat} requests per case (after 10 warm-up)\n")
    header = f"{'request':<38} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95/floor':>9} {'rows':>5}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.p95 / row.sql_p95 if row.sql_p95 else float("inf")
        print(
            f"{row.name:<38} {row.p50:8.1f} {row.p95:8.1f} {row.sql_p50:8.1f} {row.sql_p95:8.1f} {ratio:9.2f} {row.rows:5d}"
        )
    print(
        "\nThe floor is the endpoint's own SQL replayed bare. 'the stack alone' is the fixed cost of any\n"
        "request through Django, the token check, django-ninja and JSON, with one trivial query."
    )
    rows = [row for row in rows if not row.name.startswith("the stack alone")]
    worst = max(row.p95 for row in rows)
    print(
        f"\nworst p95: {worst:.1f} ms (target < 100 ms); median of p50s: {statistics.median(r.p50 for r in rows):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
