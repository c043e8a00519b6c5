"""The ``cuore identity`` commands; cuore/cli.py wires them into its parser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def cmd_identity_resolve(args: argparse.Namespace) -> int:
    """Link every pending contact record to a golden contact and print what happened."""
    from cuore.identity.services import identity_resolve
    from cuore.users.selectors import user_for_command

    user = user_for_command(args.user)
    thresholds = {
        name: value
        for name, value in (("link_threshold", args.link_threshold), ("review_threshold", args.review_threshold))
        if value is not None
    }
    report = identity_resolve(actor=user, **thresholds)
    if not report.pending:
        print("identity: no pending records")
        return 0
    print(
        f"identity: {report.pending:,} records resolved ({report.mode}) in {report.seconds:.1f} s: "
        f"{report.by_rule:,} by rule, {report.linked:,} matched, {report.new_contacts:,} new contacts, "
        f"{report.review_items:,} pairs to review"
    )
    return 0


def cmd_identity_export(args: argparse.Namespace) -> int:
    """Write source,source_id,contact_id for every source record."""
    from cuore.identity.services import identity_export

    if args.output in (None, "-"):
        rows = identity_export(sys.stdout)
    else:
        path = Path(args.output)
        try:
            with path.open("w", encoding="utf-8", newline="") as out:
                rows = identity_export(out)
        except OSError as error:
            print(f"cuore: error: cannot write {path}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"{rows:,} source records written to {path}")
    return 0


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def add_identity_commands(commands: Any, parser_class: type) -> None:
    identity = commands.add_parser(
        "identity", help="resolve and export identities", description="Identity resolution: one view of each customer."
    )
    actions = identity.add_subparsers(dest="identity_command", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    resolve = actions.add_parser(
        "resolve",
        help="link every pending source record to a golden contact",
        description="Link pending contact records: rules, then probabilistic matching; doubtful pairs go to review.",
    )
    resolve.add_argument(
        "--link-threshold", type=_probability, metavar="P", help="link at or above this match probability (0.95)"
    )
    resolve.add_argument(
        "--review-threshold", type=_probability, metavar="P", help="review at or above this probability (0.5)"
    )
    resolve.add_argument("--user", metavar="USERNAME", help="act as this user (default: the first administrator)")
    resolve.set_defaults(handler=cmd_identity_resolve)
    export = actions.add_parser(
        "export",
        help="write source,source_id,contact_id for every source record",
        description="Write one CSV row per source record: its source, its id there, the contact it belongs to.",
    )
    export.add_argument("--output", metavar="FILE", help="the CSV to write (default: standard output)")
    export.set_defaults(handler=cmd_identity_export)
