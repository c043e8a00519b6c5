"""The ``cuore import`` command; cuore/cli.py wires it into its parser."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2
KINDS = ("contacts", "accounts", "products", "orders", "interactions")


def _mapping(path: str | None) -> dict[str, str | None] | None:
    from cuore.core.errors import ValidationFailed

    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValidationFailed(field="--mapping", reason=f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise ValidationFailed(field="--mapping", reason=f"{path} is not JSON: {error}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in data.items()
    ):
        raise ValidationFailed(field="--mapping", reason='must be a JSON object {"column header": "field" or null}')
    return data


def cmd_import(args: argparse.Namespace) -> int:
    """Import a CSV or XLSX file: detect, map, read every row, report the failed ones."""
    from cuore.core.errors import ValidationFailed
    from cuore.imports.services import import_create, import_failed_csv, import_run

    path = Path(args.file)
    if not path.is_file():
        raise ValidationFailed(field="FILE", reason=f"{path} is not a file")
    from cuore.users.selectors import user_for_command

    user = user_for_command(args.user)
    job = import_create(
        actor=user, kind=args.kind, source=args.source, file=path, filename=path.name, mapping=_mapping(args.mapping)
    )
    delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(job.delimiter, job.delimiter)
    print(
        f"{job.filename}: {job.file_format.upper()}"
        + (f", {job.encoding}, {delimiter}-separated" if job.file_format == "csv" else "")
        + f", {len(job.headers)} columns"
    )
    for header, field in job.mapping.items():
        print(f"  {header!r} → {field or '(left out)'}")

    def progress(current) -> None:
        print(
            f"\r{current.rows_read:,} rows read: {current.rows_created:,} new, {current.rows_updated:,} updated, "
            f"{current.rows_unchanged:,} unchanged, {current.rows_failed:,} failed",
            end="",
            file=sys.stderr,
            flush=True,
        )

    done = import_run(import_id=job.pk, progress=progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if done.status == "failed":
        print(f"cuore: error: the import stopped after {done.rows_read:,} rows: {done.error}", file=sys.stderr)
        return 1
    print(
        f"import {done.pk}: {done.rows_read:,} rows read, {done.rows_created:,} new, {done.rows_updated:,} updated, "
        f"{done.rows_unchanged:,} unchanged, {done.rows_failed:,} failed"
    )
    identity = (done.figures or {}).get("identity")
    if identity and identity.get("pending"):
        print(
            f"identity: {identity['pending']:,} records resolved ({identity['mode']}): {identity['by_rule']:,} by rule, "
            f"{identity['linked']:,} matched, {identity['new_contacts']:,} new contacts, "
            f"{identity['review_items']:,} pairs to review"
        )
    if done.rows_failed:
        failed = import_failed_csv(job=done)
        for error in done.row_errors.order_by("line", "pk")[:20]:
            print(f"  line {error.line}, {error.column or 'row'}: {error.reason}", file=sys.stderr)
        print(
            f"cuore: error: {done.rows_failed:,} rows failed; fix them in {failed} and import that file again",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return 0


def add_import_command(commands: Any, parser_class: type) -> None:
    parser = commands.add_parser(
        "import",
        help="import contacts, accounts, products, orders or interactions from CSV / XLSX",
        description="Import a CSV (any delimiter and encoding) or XLSX file from a source; "
        "importing the same file again changes nothing.",
    )
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=" | ".join(KINDS))
    parser.add_argument("file", metavar="FILE", help="the CSV or XLSX file")
    parser.add_argument("--source", required=True, metavar="NAME", help="the source system (e.g. webshop, till)")
    parser.add_argument(
        "--mapping", metavar="FILE", help='a JSON file {"column header": "field" or null}; default: guessed'
    )
    parser.add_argument("--user", metavar="USERNAME", help="act as this user (default: the first administrator)")
    parser.set_defaults(handler=cmd_import)
