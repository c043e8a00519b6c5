"""The ``cuore analytics`` commands; cuore/cli.py wires them into its parser."""

from __future__ import annotations

import argparse
import datetime as dt
import sys


def iso_date(text: str) -> dt.date:
    """Parse a YYYY-MM-DD argument."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_analytics_run(args: argparse.Namespace) -> int:
    """Run the analytics engine and print a one-line summary."""
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
    segments = ", ".join(f"{name} {count}" for name, count in contacts["segments"].items())
    print(
        f"analytics run {run.pk} as of {run.as_of}: {figures['scored']['contact']} contacts and "
        f"{figures['scored']['account']} accounts scored; ABC {abc}; segments: {segments or 'none'}; "
        f"{figures['seconds']:.1f} s"
    )
    return 0
