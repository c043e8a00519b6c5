"""bench/analytics end to end on 2,000 customers, run as ``make bench`` runs it: a subprocess with its own data.

The subprocess gets an environment cleaned of the test suite's settings, so the bench builds its own
SQLite database under the test's temporary directory, runs the analytics on it and compares our CLV
models with lifetimes'. The database it leaves behind is then read directly to check the builder.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CUSTOMERS = 2000
COUNTED = "('confirmed', 'fulfilled', 'shipped', 'delivered')"


def run_bench(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUORE_") and k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", "bench.analytics", "--customers", str(CUSTOMERS), "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("bench-analytics")
    result = run_bench(data_dir, "--repeat", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir, result.stdout


def query(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "cuore.sqlite3") as db:
        return db.execute(sql).fetchall()


@pytest.mark.slow
def test_the_bench_reports_the_build_the_run_and_the_comparison(bench):
    # given / when: the bench run of the fixture, on an empty data directory
    _data_dir, out = bench

    # then it built the data set and says it is consistent
    assert f"Building {CUSTOMERS:,} customers" in out
    assert f"rows: contacts {CUSTOMERS:,}, categories 30, products 288, orders " in out
    assert f"order lines {CUSTOMERS * 10:,}, interactions " in out
    assert re.search(r"sum of order totals [\d,.]+ € = sum of line totals [\d,.]+ €: yes", out)
    assert "foreign keys pointing nowhere: 0 " in out
    # and the full run succeeded, stage by stage, with its time and memory
    assert re.search(r"run \d+ succeeded: [\d.]+ s", out)
    assert re.search(r"^extract +[\d.]+ +[\d,]+$", out, re.MULTILINE)
    assert re.search(r"peak RSS during the run: [\d,]+ MB", out)
    # and the DuckDB summary is clv.summarise's, and both libraries fit the same parameters
    assert "identical: yes" in out
    assert "parameters agree to 3 significant digits: PASS" in out
    assert re.search(r"ours' Nelder-Mead passes .*: BG/NBD [\d,]+ \(", out)
    assert re.search(
        r"^\| speed ratio lifetimes / ours \| [\d.]+× \(by CPU time [\d.]+×\) \| ≥ 10× \| (yes|\*\*no\*\*) \|$",
        out,
        re.MULTILINE,
    )


@pytest.mark.slow
def test_the_builder_writes_valid_consistent_rows(bench):
    data_dir, _out = bench

    assert query(data_dir, "SELECT COUNT(*) FROM contacts_contact") == [(CUSTOMERS,)]
    assert query(data_dir, "SELECT COUNT(*) FROM orders_orderline") == [(CUSTOMERS * 10,)]
    # every line: line_total = quantity × unit_price − discount, to the cent
    assert query(
        data_dir,
        "SELECT COUNT(*) FROM orders_orderline "
        "WHERE ROUND(line_total * 100) != ROUND(quantity * unit_price * 100) - ROUND(discount * 100)",
    ) == [(0,)]
    # every order: at least one line, and its totals are its lines'
    assert query(
        data_dir,
        """
        SELECT COUNT(*) FROM orders_order o LEFT JOIN (
            SELECT order_id, SUM(ROUND(quantity * unit_price * 100)) AS gross, SUM(ROUND(discount * 100)) AS off,
                   SUM(ROUND(line_total * 100)) AS net, SUM(ROUND(quantity * unit_cost * 100)) AS cost
            FROM orders_orderline GROUP BY order_id
        ) l ON l.order_id = o.id
        WHERE l.order_id IS NULL OR ROUND(o.subtotal * 100) != l.gross OR ROUND(o.discount_total * 100) != l.off
           OR ROUND(o.total * 100) != l.net OR ROUND(o.cost_total * 100) != l.cost
        """,
    ) == [(0,)]
    # every customer bought at least once (a counted order), all before the as-of date
    assert query(data_dir, f"SELECT COUNT(DISTINCT contact_id) FROM orders_order WHERE status IN {COUNTED}") == [
        (CUSTOMERS,)
    ]
    assert query(data_dir, "SELECT MAX(placed_at) < '2026-04-01' FROM orders_order") == [(1,)]
    # the category tree: 6 departments of 4 categories, the products in the leaves
    assert query(data_dir, "SELECT COUNT(*) FROM orders_category WHERE parent_id IS NULL") == [(6,)]
    assert query(
        data_dir,
        "SELECT COUNT(*) FROM orders_product p JOIN orders_category c ON c.id = p.category_id "
        "WHERE c.parent_id IS NOT NULL",
    ) == [(288,)]
    # tickets carry 1-5 ratings; the analytics scored every customer
    assert query(data_dir, "SELECT MIN(satisfaction_rating), MAX(satisfaction_rating) FROM service_ticket") == [(1, 5)]
    assert query(data_dir, "SELECT COUNT(*) FROM analytics_contactscore") == [(CUSTOMERS,)]


@pytest.mark.slow
def test_smartphone_buyers_buy_phone_accessories_in_the_same_order(bench):
    data_dir, _out = bench

    # when: the share of smartphone orders with phone accessories, against the share of all orders with them
    [(with_phone, overall)] = query(
        data_dir,
        """
        WITH lines AS (
            SELECT DISTINCT l.order_id, c.name FROM orders_orderline l
            JOIN orders_product p ON p.id = l.product_id JOIN orders_category c ON c.id = p.category_id
        ),
        phones AS (SELECT order_id FROM lines WHERE name = 'Smartphones'),
        accessories AS (SELECT order_id FROM lines WHERE name = 'Phone accessories')
        SELECT (SELECT COUNT(*) FROM phones JOIN accessories USING (order_id)) * 1.0 / (SELECT COUNT(*) FROM phones),
               (SELECT COUNT(*) FROM accessories) * 1.0 / (SELECT COUNT(*) FROM orders_order)
        """,
    )

    # then: the co-purchase pattern is several times what chance would give
    assert with_phone > 3 * overall


@pytest.mark.slow
def test_a_second_run_reuses_the_data_set(bench):
    data_dir, _out = bench

    result = run_bench(data_dir, "--build-only")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Reusing the data set in {data_dir}" in result.stdout
    assert f"rows: contacts {CUSTOMERS:,}," in result.stdout
