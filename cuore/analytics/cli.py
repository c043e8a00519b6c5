"""The ``cuore analytics`` commands; cuore/cli.py wires them into its parser."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


def iso_date(text: str) -> dt.date:
    """Parse a YYYY-MM-DD argument."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _churn_lines(churn: dict) -> list[str]:
    if not churn or "skipped" in churn:
        return [f"churn model: not trained ({churn.get('skipped', 'no figures')})"] if churn else []
    lines = [
        f"churn model (no purchase in {churn['horizon_days']} days): holdout AUC {churn['auc']:.3f}, "
        f"Brier {churn['brier']:.3f}, base rate {churn['base_rate']:.1%}, "
        f"trained on {churn['train_rows']} customers at {churn['train_cutoff']}, tested on {churn['test_rows']} "
        f"at {churn['test_cutoff']}",
        "calibration (predicted → observed, customers): "
        + "; ".join(f"{pred:.2f} → {observed:.2f} ({n})" for pred, observed, n in churn.get("calibration", [])),
    ]
    return lines


def cmd_analytics_run(args: argparse.Namespace) -> int:
    """Run the analytics engine and print what it found: counts, model fit and quality, stage times."""
    import duckdb

    from cuore.analytics.services import analytics_run

    try:
        run = analytics_run(as_of=args.as_of)
    except duckdb.Error as exc:
        print(f"cuore: error: analytics warehouse: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    figures = run.figures
    contacts = figures["contacts"]
    abc = " ".join(f"{cls}={contacts['abc'].get(cls, 0)}" for cls in "ABC")
    tiers = ", ".join(f"{name} {count}" for name, count in contacts.get("tiers", {}).items())
    segments = ", ".join(f"{name} {count}" for name, count in contacts["segments"].items())
    lines = [
        f"analytics run {run.pk} as of {run.as_of}: {figures['scored']['contact']} contacts and "
        f"{figures['scored']['account']} accounts scored in {figures['seconds']:.1f} s",
        f"ABC {abc}; tiers: {tiers or 'none'}",
        f"segments: {segments or 'none'}",
    ]
    fit = figures.get("lifetime_value", {}).get("contact", {})
    if "bgnbd" in fit:
        bg, gg = fit["bgnbd"], fit["gamma_gamma"]
        lines.append(
            f"lifetime value: BG/NBD r={bg['r']:.4g} alpha={bg['alpha']:.4g} a={bg['a']:.4g} b={bg['b']:.4g}; "
            f"Gamma-Gamma p={gg['p']:.4g} q={gg['q']:.4g} gamma={gg['gamma']:.4g}"
        )
    elif fit:
        lines.append(f"lifetime value: not fitted ({fit.get('skipped')})")
    lines += _churn_lines(figures.get("churn", {}))
    lines.append(
        "stages: "
        + ", ".join(f"{s['stage']} {s['seconds']:.1f} s / {s['peak_rss_mb']:.0f} MB" for s in figures.get("stages", []))
    )
    print("\n".join(lines))
    return 0


def cmd_score_file(args: argparse.Namespace) -> int:
    """Score the customers of a transactions CSV and write the per-customer table."""
    from cuore.analytics.scorefile import Columns, FileProblem, score_file, write_csv

    try:
        rows = score_file(
            Path(args.file),
            columns=Columns(customer=args.customer, date=args.date, amount=args.amount, category=args.category),
            period_end=args.period_end,
            freq=args.freq,
        )
    except FileProblem as problem:
        print(f"cuore: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.output:
        try:
            with open(args.output, "w", newline="", encoding="utf-8") as out:
                write_csv(rows, out)
        except OSError as exc:
            print(f"cuore: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"{len(rows)} customers scored into {args.output}", file=sys.stderr)
    else:
        write_csv(rows, sys.stdout)
    return 0


def cmd_clv_fit(args: argparse.Namespace) -> int:
    """Fit a lifetime-value model on a summary CSV and print its parameters as JSON."""
    from cuore.analytics.scorefile import FileProblem, clv_fit

    try:
        result = clv_fit(Path(args.file), model=args.model)
    except FileProblem as problem:
        print(f"cuore: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(result, indent=2))
    return 0


def add_file_commands(commands, parser_class) -> None:
    """Add ``score-file`` and ``clv-fit`` (for analysts, no CRM database needed) to ``cuore analytics``."""
    score = commands.add_parser(
        "score-file",
        help="score the customers of a transactions CSV (no CRM database needed)",
        description=(
            "Read TRANSACTIONS.csv (one row per purchase) and write one row per customer: frequency, recency, T "
            "and monetary value (in --freq periods), orders, RFM scores and segment, ABC class, preferred "
            "category, expected purchases and CLV over 12 months, P(alive). Dates: YYYY-MM-DD, YYYYMMDD or "
            "DD/MM/YYYY; amounts with a decimal point, never negative."
        ),
    )
    score.add_argument("file", metavar="TRANSACTIONS.csv")
    score.add_argument("--customer", required=True, metavar="COL", help="the column with the customer id")
    score.add_argument("--date", required=True, metavar="COL", help="the column with the purchase date")
    score.add_argument("--amount", required=True, metavar="COL", help="the column with the amount spent")
    score.add_argument("--category", metavar="COL", help="the column with the product category (optional)")
    score.add_argument(
        "--period-end", type=iso_date, metavar="YYYY-MM-DD", help="end of the observation (default: the last date)"
    )
    score.add_argument("--freq", choices=("D", "W"), default="D", help="time unit of recency and T (default D)")
    score.add_argument("--output", metavar="FILE", help="write the CSV here (default: standard output)")
    score.set_defaults(handler=cmd_score_file)

    fit = commands.add_parser(
        "clv-fit",
        help="fit BG/NBD, Pareto/NBD or Gamma-Gamma on a summary CSV and print the parameters as JSON",
        description=(
            "Fit a model by maximum likelihood on SUMMARY.csv with columns frequency, recency, T (and "
            "monetary_value for gammagamma); print the parameters and the log-likelihood as JSON."
        ),
    )
    fit.add_argument("file", metavar="SUMMARY.csv")
    fit.add_argument("--model", required=True, choices=("bgnbd", "paretonbd", "gammagamma"))
    fit.set_defaults(handler=cmd_clv_fit)
