"""The bulk path of the demo loader: explicit ids, raw multi-row inserts, fast deletes, sequence repair.

Rows are plain tuples in the order of the fields a ``Table`` was declared with; the columns, the table
name and the values of the fields the generator does not set come from the model's ``_meta``, so a
field added to a model later is filled with its default (or the load stops naming the field).
Times are seconds since the epoch (UTC) until they are written; money is whole cents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, models

from cuore.core.normalize import text_key

# The apps whose tables hold CRM data: everything but the kernel, the users and this loader.
NOT_CRM_APPS = frozenset({"core", "users", "demo"})


class MissingField(RuntimeError):
    """A model has a required field the demo generator does not know how to fill."""


# Rows a migration creates (the default alert rules): configuration, neither demo data nor deleted by --reset.
SEEDED_MODELS = {"analytics.alertrule"}


def crm_models() -> list[type[models.Model]]:
    """Return every model (many-to-many tables included) of the CRM apps."""
    found: list[type[models.Model]] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("cuore.") or config.label in NOT_CRM_APPS:
            continue
        found.extend(
            model
            for model in config.get_models(include_auto_created=True)
            if model._meta.managed and model._meta.label_lower not in SEEDED_MODELS
        )
    return found


def crm_tables() -> list[str]:
    return [model._meta.db_table for model in crm_models()]


def crm_data_exists() -> bool:
    """Tell whether any CRM table has a row (configuration such as pipelines counts too)."""
    with connection.cursor() as cursor:
        for table in crm_tables():
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
            if cursor.fetchone() is not None:
                return True
    return False


def crm_delete_all() -> None:
    """Empty every CRM table and restart their id sequences (TRUNCATE on PostgreSQL, DELETE on SQLite)."""
    statements = connection.ops.sql_flush(no_style(), crm_tables(), reset_sequences=True, allow_cascade=False)
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        # Rows written earlier in this transaction leave deferred foreign-key checks pending, and
        # PostgreSQL refuses to TRUNCATE a table with pending trigger events: run the checks now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    # Outside a transaction SQLite can switch its foreign-key checks off, which lets each DELETE empty the
    # table at once instead of checking every row against its children; inside one it is a no-op.
    with connection.constraint_checks_disabled():
        connection.ops.execute_sql_flush(statements)


def next_id(model: type[models.Model]) -> int:
    """Return the first free id of ``model``'s table."""
    with connection.cursor() as cursor:
        pk = connection.ops.quote_name(model._meta.pk.column)
        cursor.execute(f"SELECT MAX({pk}) FROM {connection.ops.quote_name(model._meta.db_table)}")
        (largest,) = cursor.fetchone()
    return (largest or 0) + 1


def sequences_repair(model_list: Iterable[type[models.Model]]) -> None:
    """Move PostgreSQL's id sequences past the ids inserted explicitly (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


class TimeFormat:
    """Turn epoch seconds into the text each backend stores for an aware datetime, quickly.

    Django keeps SQLite datetimes as naive UTC text (``2026-11-01 17:30:00``); PostgreSQL reads the same
    text with an explicit ``+00`` offset. Days and times of day come from tables built once, because a
    million-customer load formats tens of millions of times.
    """

    EPOCH = dt.date(1970, 1, 1)

    def __init__(self, vendor: str, *, first_day: int, last_day: int):
        suffix = "+00" if vendor == "postgresql" else ""
        self.first_day = first_day
        self.days = [(self.EPOCH + dt.timedelta(days=day)).isoformat() for day in range(first_day, last_day + 1)]
        self.clock = [
            f" {hour:02d}:{minute:02d}:{second:02d}{suffix}"
            for hour in range(24)
            for minute in range(60)
            for second in range(60)
        ]

    def __call__(self, seconds: int | None) -> str | None:
        if seconds is None:
            return None
        day, rest = divmod(int(seconds), 86400)
        return self.days[day - self.first_day] + self.clock[rest]

    def date(self, seconds: int) -> str:
        return self.days[int(seconds) // 86400 - self.first_day]


def money(cents: int) -> str:
    """Return whole cents as the decimal text of a two-place amount: 123456 → ``1234.56``."""
    return f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else f"-{money(-cents)}"


class Table:
    """Rows waiting to be inserted into one model's table, with the ids handed out so far."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], *, first_id: int | None = None):
        self.model = model
        self.fields = tuple(fields)
        meta = model._meta
        concrete = {field.name: field for field in meta.concrete_fields}
        unknown = [name for name in self.fields if name not in concrete]
        if unknown:
            raise MissingField(f"{meta.label} has no field {', '.join(unknown)}")
        self.columns = [concrete[name].column for name in self.fields]
        # Denormalised search keys (``name_key`` beside ``name``) are derived here unless given.
        self.keys: list[int] = []
        defaults: list[Any] = []
        for name, field in concrete.items():
            if name in self.fields:
                continue
            if name.endswith("_key") and name[: -len("_key")] in self.fields:
                self.keys.append(self.fields.index(name[: -len("_key")]))
                self.columns.append(field.column)
                continue
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) or field.primary_key:
                raise MissingField(f"the demo generator gives no value for {meta.label}.{name}")
            if not field.has_default() and not field.null and not field.empty_strings_allowed:
                raise MissingField(f"the demo generator gives no value for the required {meta.label}.{name}")
            value = field.get_default()
            if isinstance(field, models.DateTimeField | models.DateField) and value is not None:
                raise MissingField(f"the demo generator gives no value for {meta.label}.{name}")
            defaults.append(field.get_db_prep_save(value, connection))
            self.columns.append(field.column)
        self.extra = tuple(defaults)
        self.rows: list[tuple] = []
        self.next_id = first_id if first_id is not None else (next_id(model) if "id" in self.fields else 0)
        self.written = 0

    def take_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def add(self, row: tuple) -> None:
        self.rows.append(row)

    def _complete(self) -> list[tuple]:
        rows = self.rows
        if self.keys:
            keys = self.keys
            rows = [row + tuple(text_key(row[index]) for index in keys) for row in rows]
        if self.extra:
            extra = self.extra
            rows = [row + extra for row in rows]
        return rows

    def flush(self) -> None:
        """Insert the waiting rows: executemany on SQLite, COPY on PostgreSQL."""
        if not self.rows:
            return
        rows = self._complete()
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(column) for column in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        self.written += len(rows)
        self.rows = []


class Writer:
    """The tables of one load, flushed together in the order they were declared (parents first)."""

    def __init__(self):
        self.tables: list[Table] = []

    def table(self, model: type[models.Model], fields: Sequence[str]) -> Table:
        table = Table(model, fields)
        self.tables.append(table)
        return table

    def flush(self) -> None:
        for table in self.tables:
            table.flush()

    def models(self) -> list[type[models.Model]]:
        return [table.model for table in self.tables]
