"""Map a file's columns to an import's fields, then read its rows into typed values with per-cell errors."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from django.utils.translation import gettext_lazy as _
from rapidfuzz import fuzz

from .fields import KINDS, Field, fields_of
from .values import (
    ValueProblem,
    choice_index,
    fold,
    guess_day_first,
    guess_decimal_comma,
    lookup_choice,
    parse_bool,
    parse_country,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_int,
    parse_phone,
    parse_text,
    shown,
)

if TYPE_CHECKING:
    from .files import TableFile

FUZZY_MIN_RATIO = 90
DEFAULT_REGION = "IT"
# Kinds whose rows may repeat an id: an order has one row per line, each with the order's id.
REPEATED_IDS = {"orders"}
# Fields of which a kind needs at least one, mapped and filled in each row: a contact needs a name,
# as contact_create and the record intake of the API require.
ONE_REQUIRED: dict[str, tuple[str, ...]] = {"contacts": ("first_name", "last_name")}
# Cells that mean "no value": what databases and spreadsheets write for nothing. For typed fields only,
# a few more placeholders ("-", "n/a") that a text field keeps as written.
_NOTHING = {"null", "#n/a", "#null!"}
_NOTHING_TYPED = {"-", "--", "n/a", "n.a.", "n.d.", "nd", "none", "nan"}


# --- mapping -------------------------------------------------------------------------------------


def _compact(text: str) -> str:
    return fold(text).replace(" ", "")


@functools.cache
def _spellings(kind: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """Return (compact spelling → field, (folded spelling, field) pairs) for a kind's fields."""
    exact: dict[str, str] = {}
    folded: list[tuple[str, str]] = []
    for target in KINDS[kind]:
        for spelling in (target.name, *target.synonyms):
            exact.setdefault(_compact(spelling), target.name)
            folded.append((fold(spelling), target.name))
    return exact, tuple(folded)


def guess_mapping(kind: str, headers: list[str]) -> dict[str, str | None]:
    """Return header → field name (None: the column is ignored) for the headers of a file of ``kind``.

    Headers and synonyms are compared folded (case, accents, punctuation, spaces and "_" ignored): exact
    matches first, in column order, then close ones (rapidfuzz ratio ≥ 90), best first; each field once.
    """
    exact, folded = _spellings(kind)
    mapping: dict[str, str | None] = dict.fromkeys(headers)
    used: set[str] = set()
    for header in headers:
        name = exact.get(_compact(header))
        if name is not None and name not in used:
            mapping[header] = name
            used.add(name)
    close: list[tuple[float, int, str, str]] = []
    for position, header in enumerate(headers):
        key = fold(header)
        if mapping[header] is not None or not key:
            continue
        for spelling, name in folded:
            if name not in used:
                score = fuzz.ratio(key, spelling)
                if score >= FUZZY_MIN_RATIO:
                    close.append((-score, position, header, name))
    for _score, _position, header, name in sorted(close):
        if mapping[header] is None and name not in used:
            mapping[header] = name
            used.add(name)
    return mapping


def is_known_header(header: str) -> bool:
    """Return whether ``header`` names a field of any import kind (exactly or closely)."""
    return any(guess_mapping(kind, [header])[header] is not None for kind in KINDS)


def validate_mapping(kind: str, mapping: dict[str, str | None]) -> list[str]:
    """Return the problems of a mapping (header → field name) for ``kind``, each a sentence for the user."""
    try:
        targets = fields_of(kind)
    except ValueError:
        return [str(_("unknown import kind: %(kind)s")) % {"kind": kind}]
    problems: list[str] = []
    columns: dict[str, list[str]] = {}
    for header, name in mapping.items():
        if name is None:
            continue
        if name not in targets:
            problems.append(
                str(_("column “%(column)s” is mapped to “%(field)s”, which is not a field of this import"))
                % {"column": header, "field": name}
            )
            continue
        columns.setdefault(name, []).append(header)
    for name, headers in columns.items():
        if len(headers) > 1:
            problems.append(
                str(_("%(field)s is mapped to more than one column: %(columns)s"))
                % {"field": targets[name].label, "columns": ", ".join(f"“{header}”" for header in headers)}
            )
    for name, target in targets.items():
        if target.required and name not in columns:
            problems.append(str(_("%(field)s is required: choose the column that holds it")) % {"field": target.label})
    group = ONE_REQUIRED.get(kind, ())
    if group and not any(name in columns for name in group):
        problems.append(
            str(_("%(fields)s: at least one is required, choose the column that holds it"))
            % {"fields": " / ".join(str(targets[name].label) for name in group)}
        )
    return problems


# --- reading rows --------------------------------------------------------------------------------


@dataclass
class RowResult:
    """One data row read into the kind's fields.

    ``values`` holds each mapped field whose cell was read (None for an empty cell); a cell that could not be
    read is left out of ``values`` and listed in ``errors`` as (column header, reason). A problem with the
    row as a whole (its number of cells) has "" for the header. ``cells`` are the row's cells as in the file
    (padded to the header's width), for keeping the raw row or writing back the rows that failed.
    """

    line: int
    values: dict[str, Any]
    errors: list[tuple[str, str]] = field(default_factory=list)
    cells: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors


class _SeenIds:
    """The ids met so far and the line of each, in about 12 bytes an id rather than a dict's hundred.

    New ids go to a small dict; when it fills, they are merged into two sorted numpy arrays (hash, line).
    Python's string hash is 64 bits: two different ids collide with negligible probability (about n²/2⁶⁴).
    """

    MIN_PENDING = 4096

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}
        self.hashes = np.empty(0, dtype=np.int64)
        self.lines = np.empty(0, dtype=np.uint32)

    def first_line(self, value: str, line: int) -> int | None:
        """Return the line ``value`` was first met on; if never, remember it on ``line`` and return None."""
        key = hash(value)
        found = self.pending.get(key)
        if found is not None:
            return found
        if len(self.hashes):
            position = int(self.hashes.searchsorted(key))
            if position < len(self.hashes) and self.hashes[position] == key:
                return int(self.lines[position])
        self.pending[key] = line
        # Merging copies the arrays: let the dict grow with them so merges stay rare (amortised linear).
        if len(self.pending) >= max(self.MIN_PENDING, len(self.hashes) // 32):
            self._merge()
        return None

    def _merge(self) -> None:
        hashes = np.fromiter(self.pending.keys(), dtype=np.int64, count=len(self.pending))
        lines = np.fromiter(self.pending.values(), dtype=np.uint32, count=len(self.pending))
        order = np.argsort(hashes)
        hashes, lines = hashes[order], lines[order]
        positions = self.hashes.searchsorted(hashes)
        self.hashes = np.insert(self.hashes, positions, hashes)
        self.lines = np.insert(self.lines, positions, lines)
        self.pending = {}


def _is_nothing(text: str, kind: str) -> bool:
    if not text:
        return True
    lowered = text.lower()
    return lowered in _NOTHING or (kind != "text" and lowered in _NOTHING_TYPED)


class RowReader:
    """Read a table's rows into the fields of an import kind, cell by cell, with the reason for each bad cell.

    The habits of the file are guessed once from its first ``samples`` non-empty rows: per date column, whether
    the day comes before the month; for the whole file, whether decimals are written with a comma. Reasons
    are rendered in the language active while iterating (wrap the loop in ``translation.override``).
    """

    def __init__(self, table: TableFile, kind: str, mapping: dict[str, str | None], *, samples: int = 200):
        targets = fields_of(kind)
        self.table = table
        self.kind = kind
        self.mapping = mapping
        positions = {header: position for position, header in enumerate(table.headers)}
        self.columns: list[tuple[int, str, Field]] = []
        seen: set[str] = set()
        for header, name in mapping.items():
            if name is None:
                continue
            if header not in positions:
                raise ValueError(f"the mapping names a column the file does not have: {header!r}")
            if name not in targets:
                raise ValueError(f"{name!r} is not a field of {kind}")
            if name in seen:
                raise ValueError(f"{name!r} is mapped to more than one column")
            seen.add(name)
            self.columns.append((positions[header], header, targets[name]))
        self.columns.sort(key=lambda column: column[0])
        self.day_first: dict[str, bool] = {}
        self.decimal_comma = True
        self._guess(samples)
        self._parsers = {header: self._parser(target, header) for _position, header, target in self.columns}

    def _guess(self, samples: int) -> None:
        dates: dict[str, list[str]] = {
            header: [] for _p, header, target in self.columns if target.kind in {"date", "datetime"}
        }
        numbers: list[str] = []
        number_columns = [position for position, _h, target in self.columns if target.kind in {"decimal", "int"}]
        if dates or number_columns:
            rows = self.table.rows()
            try:
                non_empty = (cells for _line, cells in rows if any(cell.strip() for cell in cells))
                for cells in itertools.islice(non_empty, samples):
                    for position, header, _target in self.columns:
                        if header in dates and position < len(cells) and cells[position].strip():
                            dates[header].append(cells[position])
                    numbers.extend(cells[position] for position in number_columns if cells[position].strip())
            finally:
                rows.close()  # type: ignore[attr-defined]
        self.day_first = {header: guess_day_first(values) for header, values in dates.items()}
        # Without evidence: a CSV separated by "," writes decimals with a dot (a comma could not be both);
        # one separated by ";" (what Excel does where the comma is decimal), tab or | with a comma, as in
        # Italy; an XLSX's numbers arrive already written with a dot.
        default = self.table.format != "xlsx" and self.table.delimiter != ","
        self.decimal_comma = guess_decimal_comma(numbers, default=default)

    def _parser(self, target: Field, header: str) -> Callable[[str], Any]:
        kind = target.kind
        if kind == "text":
            return functools.partial(parse_text, max_length=target.max_length)
        if kind == "email":
            return parse_email
        if kind == "phone":
            return parse_phone
        if kind == "date":
            return functools.partial(parse_date, day_first=self.day_first[header])
        if kind == "datetime":
            return functools.partial(parse_datetime, day_first=self.day_first[header])
        if kind == "decimal":
            return functools.partial(parse_decimal, decimal_comma=self.decimal_comma)
        if kind == "int":
            return functools.partial(parse_int, decimal_comma=self.decimal_comma)
        if kind == "bool":
            return parse_bool
        if kind == "country":
            return parse_country
        index = choice_index(target.choices or {}, target.choice_synonyms)
        return functools.partial(lookup_choice, index=index)

    def __iter__(self) -> Iterator[RowResult]:
        width = len(self.table.headers)
        seen = _SeenIds() if self.kind not in REPEATED_IDS else None
        id_header = next((header for _p, header, target in self.columns if target.name == "source_id"), None)
        # Phones last: the row's country, when mapped, is the region their national numbers are read in.
        ordered = sorted(self.columns, key=lambda column: column[2].kind == "phone")
        required = _("required")
        positions = {header: position for position, header, _target in self.columns}
        mapped = {target.name: header for _position, header, target in self.columns}
        one_required = {name: mapped[name] for name in ONE_REQUIRED.get(self.kind, ()) if name in mapped}
        for line, cells in self.table.rows():
            if not any(cell.strip() for cell in cells):
                continue
            values: dict[str, Any] = {}
            errors: list[tuple[str, str]] = []
            for position, header, target in ordered:
                raw = cells[position].strip()
                if _is_nothing(raw, target.kind):
                    values[target.name] = None
                    if target.required:
                        errors.append((header, str(required)))
                    continue
                try:
                    if target.kind == "phone":
                        value = parse_phone(raw, region=values.get("country") or DEFAULT_REGION)
                    else:
                        value = self._parsers[header](raw)
                except ValueProblem as problem:
                    errors.append((header, str(problem)))
                    continue
                values[target.name] = value
            self._finish(values)
            if (
                one_required
                and not any(values.get(name) for name in one_required)
                and not any(header for header, _reason in errors if header in one_required.values())
            ):
                errors.append((next(iter(one_required.values())), str(_("a name is required: first or last name"))))
            if len(cells) > width:
                used = len(cells)  # trailing empty cells ("a;b;c;;") are no extra data
                while used > width and not cells[used - 1].strip():
                    used -= 1
                if used > width:
                    errors.append(
                        (
                            "",
                            str(_("the row has %(cells)s cells, the header %(headers)s"))
                            % {"cells": used, "headers": width},
                        )
                    )
            if seen is not None and id_header is not None and values.get("source_id"):
                first = seen.first_line(values["source_id"], line)
                if first is not None:
                    errors.append(
                        (
                            id_header,
                            str(_("duplicate id %(id)s, first on line %(line)s"))
                            % {"id": shown(values["source_id"]), "line": first},
                        )
                    )
            if len(errors) > 1:  # in the file's column order (phones were read last), the row's own first
                errors.sort(key=lambda error: positions.get(error[0], -1))
            yield RowResult(line=line, values=values, errors=errors, cells=cells)

    def _finish(self, values: dict[str, Any]) -> None:
        """Repair what spreadsheets do to values: an Italian postal code saved as a number loses its zeros."""
        code = values.get("postal_code")
        if code and code.isdigit() and 3 <= len(code) < 5 and (values.get("country") or DEFAULT_REGION) == "IT":
            values["postal_code"] = code.zfill(5)

    def preview(self, n: int = 10) -> list[RowResult]:
        """Return the first ``n`` rows read, as the import would read them."""
        rows = iter(self)
        try:
            return list(itertools.islice(rows, n))
        finally:
            rows.close()  # type: ignore[attr-defined]
