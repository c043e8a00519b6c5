"""Reading import files (CSV and XLSX) into typed rows: pure Python, no models.

``open_table`` detects what the file is; ``guess_mapping`` / ``validate_mapping`` relate its columns to the
fields of an import kind (``KINDS``); ``RowReader`` streams its rows into values with per-cell errors.
"""

from .fields import KINDS, Field, fields_of
from .files import FileProblem, TableFile, open_table
from .mapping import RowReader, RowResult, guess_mapping, validate_mapping
from .values import (
    ValueProblem,
    guess_day_first,
    guess_decimal_comma,
    parse_bool,
    parse_choice,
    parse_country,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_int,
    parse_phone,
    parse_text,
)

__all__ = [
    "KINDS",
    "Field",
    "FileProblem",
    "RowReader",
    "RowResult",
    "TableFile",
    "ValueProblem",
    "fields_of",
    "guess_day_first",
    "guess_decimal_comma",
    "guess_mapping",
    "open_table",
    "parse_bool",
    "parse_choice",
    "parse_country",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_email",
    "parse_int",
    "parse_phone",
    "parse_text",
    "validate_mapping",
]
