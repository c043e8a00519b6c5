"""Open an uploaded CSV or XLSX file as a table: its format, encoding, delimiter and headers, then its rows, streamed.

Detection, in order (none loads the file in memory; only the encoding check reads all of it, 1 MB at a time):

1. Size, from the file system, before reading a byte: over ``max_bytes`` → ``FileProblem``.
2. Format, from the first bytes: a zip holding ``xl/workbook.xml`` is XLSX whatever its extension; other
   known signatures (PDF, images, other zips, old .xls, HTML, RTF) → ``FileProblem`` saying what it is.
3. Encoding of a CSV: a BOM → ``utf-8-sig`` (or ``utf-16``); the whole file valid UTF-8 → ``utf-8``; else
   ``cp1252`` when it uses bytes 0x80–0x9F and all of them are cp1252 characters (€ ’ “ ” – …), else ``latin-1``.
   NUL bytes anywhere (outside UTF-16), or more than 1% control characters in the first 64 KB → not a table.
   A line longer than 1 MB (no line breaks) → ``FileProblem`` when reached, never read whole.
4. Delimiter, among , ; tab | over the first 64 KB: a first line ``sep=;`` (Excel's hint) names it; else
   ``csv.Sniffer``, kept when its delimiter splits the header into several columns and the rows agree with the
   header's count of cells at least as often as with any other candidate; otherwise the candidate whose rows
   agree most often with the header (ties: more columns). Quotes are ", doubled inside a quoted cell.
5. Headers: the first non-empty row, stripped, inner spaces collapsed; an empty header becomes ``col_<n>`` and a
   repeated one ``<header>_<n>`` (n = its 1-based column). A first row that looks like data (emails, numbers,
   dates) and names no known field, a single column whose header is no known field, or no row after the
   header → ``FileProblem``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import warnings
import weakref
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

MAX_BYTES = 1_073_741_824
SAMPLE_BYTES = 64 * 1024
SCAN_CHUNK = 1024 * 1024
MAX_LINE = 1024 * 1024  # characters
DELIMITERS = ",;\t|"
# Rows after the header looked at for one that is not empty, to tell a header-only file.
_ROWS_TO_FIND_DATA = 1000

_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"
_C1 = bytes(range(0x80, 0xA0))
_ALLOWED_CONTROLS = "\t\n\r\f\x0b\x1a"  # \x0b is Excel's line break in a cell, \x1a an old DOS end of file
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f\x7f-\x9f]")


class FileProblem(Exception):
    """The whole file is unusable; ``str()`` is one line for the user, in the active language."""

    def __init__(self, message: Any, **params: Any):
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


@dataclass
class TableFile:
    """An opened table: what was detected about the file, its headers, and its rows on demand."""

    path: Path
    format: str  # "csv" | "xlsx"
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    header_line: int = 1  # the line (CSV) or row (XLSX) of the headers; blank lines before it are skipped
    sheet: str | None = None  # XLSX: the worksheet read
    _book: Any = field(default=None, repr=False, compare=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield (line number, cells) for every row after the header, blank ones included, in constant memory.

        The line number is the file's (the header is line 1 in the usual file; for a CSV, the line where the
        record starts). Short rows are padded with "", long rows are kept whole so the caller can report them.
        """
        width = len(self.headers)
        source = self._xlsx_rows() if self.format == "xlsx" else self._csv_rows()
        for line, cells in source:
            if line <= self.header_line:
                continue
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            yield line, cells

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        with open(self.path, encoding=self.encoding, newline="") as handle:
            yield from _csv_records(handle, self.delimiter or ",")

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        sheet = self._worksheet()
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            yield number, [cell_text(value) for value in values]

    def _worksheet(self) -> Any:
        if self._book is None:
            self._book = _Workbook(self.path)
        sheet = self._book.book[self.sheet]
        sheet.reset_dimensions()  # the stored dimensions are often wrong; read what is there
        return sheet

    def close(self) -> None:
        """Release the workbook an XLSX keeps open between readings of its rows."""
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self) -> TableFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bounded_lines(handle: io.TextIOBase) -> Iterator[str]:
    """Yield the file's lines, refusing one longer than ``MAX_LINE`` (a file without line breaks would
    otherwise be read whole into memory by the csv module)."""
    number = 0
    while line := handle.readline(MAX_LINE):
        number += 1
        if len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
            raise FileProblem(
                _("line %(line)s is longer than %(limit)s: is this a table?"), line=number, limit=human_size(MAX_LINE)
            )
        yield line


def _csv_records(handle: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_bounded_lines(handle), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem(
                _("line %(line)s cannot be read (%(error)s): is a quote left open?"), line=start, error=error
            ) from None
        except UnicodeDecodeError:  # UTF-16 is the one encoding trusted without a full scan first
            raise FileProblem(
                _("line %(line)s cannot be read in the file's encoding (%(encoding)s): save it again as UTF-8"),
                line=start,
                encoding=handle.encoding,
            ) from None
        yield start, cells
        start = reader.line_num + 1


# --- cells --------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """Return an XLSX cell's value as the text a CSV would hold: dates in ISO, numbers without float noise."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel keeps 15 significant digits; more is binary noise (12.500000001, 0.30000000000000004).
        return format(Decimal(f"{value:.15g}").normalize(), "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- opening ------------------------------------------------------------------------------------


def human_size(size: int) -> str:
    """Return a size the way a file manager shows it: ``2.1 GB``, ``340.0 MB``, ``12 KB``."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def open_table(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> TableFile:
    """Detect the file's format, encoding, delimiter and headers; raise ``FileProblem`` if it is no table."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise FileProblem(_("the file cannot be opened")) from None
    if not path.is_file():
        raise FileProblem(_("the file cannot be opened"))
    if size > max_bytes:
        raise FileProblem(
            _("the file is %(size)s; the largest import is %(limit)s — split it"),
            size=human_size(size),
            limit=human_size(max_bytes),
        )
    if size == 0:
        raise FileProblem(_("the file is empty"))
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    _reject_known_formats(path, head)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path)
    return _open_csv(path, head)


def _reject_known_formats(path: Path, head: bytes) -> None:
    """Raise ``FileProblem`` naming what the file is, when its first bytes say it is not a table."""
    what = None
    if head.startswith(b"%PDF"):
        what = _("a PDF document")
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")) or (
        head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    ):
        what = _("an image")
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        what = _("an old Excel file (.xls) or a password-protected workbook")
    elif head.startswith(b"{\\rtf"):
        what = _("an RTF document")
    elif head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")):
        what = _("a compressed archive")
    elif head.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        what = _("a zip archive")
    elif head.startswith(b"PK\x03\x04"):
        what = _zip_kind(path)
    else:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
        if start.startswith((b"<!doctype html", b"<html", b"<table")):
            what = _("a web page (HTML)")
        elif start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head.lower():
            what = _("an Excel 2003 XML spreadsheet")
    if what is not None:
        raise FileProblem(_("this is %(what)s, not a table: save it as CSV or XLSX"), what=what)


def _zip_kind(path: Path) -> Any:
    """Return None for an XLSX, else what the zip is."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        raise FileProblem(_("the XLSX file cannot be read (it may be damaged): save it again from Excel")) from None
    if "xl/workbook.xml" in names:
        return None
    if b"opendocument.spreadsheet" in mimetype:
        return _("an OpenDocument spreadsheet (.ods)")
    if "word/document.xml" in names:
        return _("a Word document")
    if "ppt/presentation.xml" in names:
        return _("a PowerPoint presentation")
    return _("a zip archive")


class _Workbook:
    """An openpyxl read-only workbook and the file it streams from (a file object: openpyxl refuses a path
    whose extension is not .xlsx, and an upload's name says nothing)."""

    def __init__(self, path: Path):
        import openpyxl

        self.handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "no default style", unsupported extensions: not the user's concern
                self.book = openpyxl.load_workbook(self.handle, read_only=True, data_only=True, keep_links=False)
        except Exception:  # openpyxl raises anything from KeyError to XML errors on a damaged file
            self.handle.close()
            raise FileProblem(_("the XLSX file cannot be read (it may be damaged): save it again from Excel")) from None
        # Closed by TableFile.close() (or its "with" block); failing that, when the table is garbage.
        self._finalizer = weakref.finalize(self, _close_workbook, self.book, self.handle)

    def close(self) -> None:
        self._finalizer()


def _close_workbook(book: Any, handle: io.BufferedReader) -> None:
    book.close()
    handle.close()


def _open_xlsx(path: Path) -> TableFile:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    workbook = _Workbook(path)
    try:
        book = workbook.book
        sheets = [sheet for sheet in book.worksheets if isinstance(sheet, ReadOnlyWorksheet)]
        active = book.active if isinstance(book.active, ReadOnlyWorksheet) else None
        # The sheet the user last looked at, unless it is empty: then the first sheet with data.
        candidates = [active, *(sheet for sheet in sheets if sheet is not active)] if active is not None else sheets
        for sheet in candidates:
            table = TableFile(path=path, format="xlsx", encoding=None, delimiter=None, headers=[], sheet=sheet.title)
            table._book = workbook
            try:
                _read_headers(table)
            except _EmptyTable:
                continue
            return table
    except FileProblem:
        workbook.close()
        raise
    except Exception:
        workbook.close()
        raise FileProblem(_("the XLSX file cannot be read (it may be damaged): save it again from Excel")) from None
    workbook.close()
    raise FileProblem(_("the file is empty"))


def _open_csv(path: Path, head: bytes) -> TableFile:
    encoding = detect_encoding(path, head)
    sample = _decoded_sample(head, encoding)
    controls = len(_CONTROL.findall(sample))
    if controls > max(3, len(sample) // 100):
        raise FileProblem(_("this is not a table (it looks like a binary file): save it as CSV or XLSX"))
    # Excel writes a first line "sep=;" when asked to: it names the delimiter and is no header.
    if hint := _SEPARATOR_HINT.match(sample):
        delimiter, skip = hint[1], 1
    else:
        delimiter, skip = detect_delimiter(sample), 0
    table = TableFile(path=path, format="csv", encoding=encoding, delimiter=delimiter, headers=[])
    try:
        _read_headers(table, skip=skip)
    except _EmptyTable:
        raise FileProblem(_("the file is empty")) from None
    return table


_SEPARATOR_HINT = re.compile(r'"?sep=([,;\t|])"?[ \t]*(?:\r\n|\n|\r)', re.IGNORECASE)


def detect_encoding(path: Path, head: bytes) -> str:
    """Return the file's encoding (see the module docstring); raise ``FileProblem`` for a binary file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    c1_bytes = undefined_in_cp1252 = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(SCAN_CHUNK):
            if b"\x00" in chunk:
                raise FileProblem(_("this is not a table (it looks like a binary file): save it as CSV or XLSX"))
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            c1_bytes += len(chunk) - len(chunk.translate(None, _C1))
            undefined_in_cp1252 += len(chunk) - len(chunk.translate(None, _CP1252_UNDEFINED))
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    return "cp1252" if c1_bytes and not undefined_in_cp1252 else "latin-1"


def _decoded_sample(head: bytes, encoding: str) -> str:
    """Return the first 64 KB as text, cut after its last line break so no record is cut in two."""
    text = head.decode(encoding, errors="ignore")
    if len(head) == SAMPLE_BYTES:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut > 0:
            text = text[: cut + 1]
    return text


def _cells_per_record(sample: str, delimiter: str, limit: int = 200) -> list[int]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    counts = []
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                counts.append(len(cells))
            if len(counts) >= limit:
                break
    except csv.Error:
        pass
    return counts


def detect_delimiter(sample: str) -> str:
    """Return the delimiter among , ; tab | (see the module docstring); "," for a single column."""
    scores: dict[str, tuple[float, int]] = {}
    for candidate in DELIMITERS:
        counts = _cells_per_record(sample, candidate)
        if not counts or counts[0] < 2:
            scores[candidate] = (0.0, 1)
            continue
        agree = sum(1 for count in counts if count == counts[0]) / len(counts)
        scores[candidate] = (agree, counts[0])
    best = max(DELIMITERS, key=lambda candidate: scores[candidate])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in scores and scores[sniffed][1] > 1 and scores[sniffed][0] >= scores[best][0]:
        return sniffed
    return best if scores[best][1] > 1 else ","


class _EmptyTable(Exception):
    pass


_HEADER_SPACES = re.compile(r"\s+")
_LOOKS_LIKE_DATA = re.compile(
    r"[^@\s]+@[^@\s]+\.[^@\s]+"  # an email address
    r"|[-+]?[\d.,\s]*\d[\d.,]*"  # a number
    r"|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?"  # a date
)


def _read_headers(table: TableFile, *, skip: int = 0) -> None:
    """Fill ``table.headers`` and ``table.header_line`` from the first non-empty row after the first ``skip``
    lines, and check that a row with data follows."""
    source = table._xlsx_rows() if table.format == "xlsx" else table._csv_rows()
    header: list[str] | None = None
    after = 0
    with _closing(source):
        for line, cells in source:
            if line <= skip:
                continue
            if header is None:
                if any(cell.strip() for cell in cells):
                    header, table.header_line = cells, line
                continue
            if any(cell.strip() for cell in cells):
                break
            after += 1
            if after >= _ROWS_TO_FIND_DATA:
                break
        else:
            if header is None:
                raise _EmptyTable
            _check_header(header)
            raise FileProblem(_("the file has a header row but no data rows"))
    assert header is not None
    _check_header(header)
    table.headers = unique_headers(header)


class _closing:
    """Close a generator when leaving the block (it holds an open file)."""

    def __init__(self, generator: Iterator[Any]):
        self.generator = generator

    def __enter__(self) -> Iterator[Any]:
        return self.generator

    def __exit__(self, *exc: object) -> None:
        self.generator.close()  # type: ignore[attr-defined]


def _check_header(header: list[str]) -> None:
    from .mapping import is_known_header

    cells = [_HEADER_SPACES.sub(" ", cell).strip() for cell in header]
    named = [cell for cell in cells if cell]
    known = any(is_known_header(cell) for cell in named)
    if len(cells) - _trailing_empty(cells) == 1 and not known:
        raise FileProblem(
            _(
                "only one column was found, and its header “%(header)s” is not a field Cuore knows: "
                "separate the columns with , ; tab or |, or save the file as XLSX"
            ),
            header=named[0][:40],
        )
    data_like = sum(1 for cell in named if _LOOKS_LIKE_DATA.fullmatch(cell))
    if not known and data_like * 2 >= len(named):
        raise FileProblem(_("the first row holds data, not column names: add a header row"))


def _trailing_empty(cells: list[str]) -> int:
    count = 0
    for cell in reversed(cells):
        if cell:
            break
        count += 1
    return count


def unique_headers(header: list[str]) -> list[str]:
    """Return the headers stripped, trailing empty ones dropped, empty and repeated ones made unique."""
    cells = [_HEADER_SPACES.sub(" ", cell).strip() for cell in header]
    del cells[len(cells) - _trailing_empty(cells) :]
    seen: Counter[str] = Counter(cell.casefold() for cell in cells if cell)
    used: set[str] = set()
    result = []
    for position, cell in enumerate(cells, start=1):
        name = cell
        if not name:
            name = f"col_{position}"
        elif name.casefold() in used:
            name = f"{cell}_{position}"
        while name.casefold() in used or (name != cell and name.casefold() in seen):
            name += "_"
        used.add(name.casefold())
        result.append(name)
    return result
