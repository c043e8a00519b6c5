"""Imports end to end (cuore.imports): messy files in, per-row failures out, re-imports that change nothing.

Here rather than in cuore/imports/tests because they check what landed in contacts, orders and
interactions through their models — and the command, through cuore.cli.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from cuore.cli import main
from cuore.contacts.models import ConsentEvent, Contact, ContactPoint
from cuore.core.errors import ValidationFailed
from cuore.core.models import AuditEntry
from cuore.core.roles import Role
from cuore.identity.models import LinkStatus, RecordKind, SourceRecord
from cuore.imports.models import ImportStatus
from cuore.imports.services import import_create, import_failed_csv, import_mapping_set, import_preview, import_run
from cuore.interactions.models import Interaction
from cuore.orders.models import Order, OrderStatus, Product

CONTACTS = (
    "Codice cliente;Nome;Cognome;E-mail;Telefono;Data di nascita;Indirizzo;CAP;Città;Consenso email\n"
    "C1;Giuseppe;Verdi;g.verdi@example.com;333 111 2222;10/10/1953;Via Roma 1;43011;Busseto;sì\n"
    "C2;Anna;Bianchi;anna.bianchi@example;+39 02 1234567;31/12/1980;Corso Italia 5;20122;Milano;no\n"
    'C3;Luca;Neri;luca@example.com;;05/03/1990;=HYPERLINK("http://x");00100;Roma;\n'
    "C4;Chiara;D’Amico;chiara@example.com;0039 347 5556666;01/02/1985;Piazza Dante 3;80135;Napoli;sì\n"
)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "var"


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


def _file(tmp_path: Path, name: str, text: str, encoding: str = "cp1252") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _run(admin, kind: str, path: Path, source: str = "webshop", mapping=None):
    job = import_create(actor=admin, kind=kind, source=source, file=path, filename=path.name, mapping=mapping)
    return import_run(import_id=job.pk)


def test_a_messy_contacts_file_is_read_reported_fixed_and_imported_again(admin, tmp_path):
    # given a semicolon, Windows-1252 file with Italian headers, dd/mm/yyyy dates, one malformed email and a formula
    path = _file(tmp_path, "clienti.csv", CONTACTS)
    job = import_create(actor=admin, kind="contacts", source="webshop", file=path, filename=path.name)

    # then its format is detected and its columns mapped to the contact fields
    assert (job.file_format, job.encoding, job.delimiter) == ("csv", "cp1252", ";")
    assert job.mapping["Codice cliente"] == "source_id" and job.mapping["Città"] == "city"
    assert job.mapping["Data di nascita"] == "birth_date" and job.mapping["E-mail"] == "email"
    preview = import_preview(job=job, rows=4)
    assert preview[0].values["birth_date"] == dt.date(1953, 10, 10)
    assert [row.line for row in preview if row.errors] == [3, 4]

    # when it runs
    done = import_run(import_id=job.pk)

    # then the good rows are contacts, the bad ones reported with line, column and reason
    assert done.status == ImportStatus.SUCCEEDED
    assert (done.rows_read, done.rows_created, done.rows_failed) == (4, 2, 2)
    errors = {(e.line, e.column) for e in done.row_errors.all()}
    assert errors == {(3, "E-mail"), (4, "Indirizzo")}
    verdi = Contact.objects.get(last_name="Verdi")
    assert verdi.birth_date == dt.date(1953, 10, 10) and verdi.source == "webshop"
    assert set(ContactPoint.objects.filter(contact=verdi).values_list("kind", "value_normalized")) >= {
        ("email", "g.verdi@example.com"),
        ("phone", "+393331112222"),
        ("external_id", "C1"),
    }
    assert verdi.addresses.get().city == "Busseto"
    assert ConsentEvent.objects.filter(contact=verdi, channel="email", status="granted").count() == 1
    assert AuditEntry.objects.filter(object_id=str(verdi.pk), action="contact.create", channel="import").exists()
    assert done.figures["identity"]["new_contacts"] == 2

    # and the failed rows come back as a CSV with the reasons, to fix
    failed = import_failed_csv(job=done)
    rows = list(csv.reader(io.StringIO(failed.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows[0][-1] == "errors" and [r[0] for r in rows[1:]] == ["C2", "C3"]
    assert "E-mail" in rows[1][-1]

    # when the same file is imported again, nothing changes
    again = _run(admin, "contacts", path)
    assert (again.rows_created, again.rows_updated, again.rows_unchanged, again.rows_failed) == (0, 0, 2, 2)
    assert Contact.objects.count() == 2

    # when the fixed rows are imported (the errors column is left out by the mapping)
    assert rows[2][6] == '\'=HYPERLINK("http://x")'  # quoted: it stays text when opened in a spreadsheet
    rows[1][3], rows[2][6] = "anna.bianchi@example.com", "Via Appia 7"
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    fixed_path = _file(tmp_path, "clienti-failed.csv", out.getvalue(), "utf-8-sig")
    third = _run(admin, "contacts", fixed_path)
    assert (third.rows_created, third.rows_failed) == (2, 0), list(
        third.row_errors.values_list("line", "column", "reason")
    )
    assert Contact.objects.count() == 4
    assert Contact.objects.get(last_name="Neri").addresses.get().line1 == "Via Appia 7"


def test_the_same_person_from_a_second_source_joins_the_contact(admin, tmp_path):
    _run(admin, "contacts", _file(tmp_path, "a.csv", CONTACTS))
    till = (
        "id,first name,last name,email,phone\n"
        "T-77,Giuseppe,Verdi,G.Verdi@Example.com,+393331112222\n"
        "T-78,Paolo,Rossi,paolo.rossi@example.com,+393479998888\n"
    )
    done = _run(admin, "contacts", _file(tmp_path, "till.csv", till, "utf-8"), source="till")
    verdi = Contact.objects.get(last_name="Verdi")
    records = SourceRecord.objects.filter(contact=verdi, kind=RecordKind.CONTACT)
    assert sorted(r.source.name for r in records) == ["till", "webshop"]
    assert Contact.objects.filter(last_name="Rossi").count() == 1
    assert done.figures["identity"]["pending"] == 2


def test_orders_products_and_interactions_attach_to_the_imported_customers(admin, tmp_path):
    _run(admin, "contacts", _file(tmp_path, "c.csv", CONTACTS))
    products = 'sku,name,price,cost,category\nA-1,Tosaerba,"1.234,50",800,Giardino\nB-2,Rastrello,"12,90",5,Giardino\n'
    done = _run(admin, "products", _file(tmp_path, "p.csv", products, "utf-8"))
    assert (done.rows_created, done.rows_failed) == (2, 0)
    assert Product.objects.get(sku="A-1").price == Decimal("1234.50")

    orders = (
        "order id;customer id;date;status;sku;product;quantity;unit price\n"
        "O-1;C1;03/01/2026;delivered;A-1;Tosaerba;1;1234,50\n"
        "O-1;C1;03/01/2026;delivered;B-2;Rastrello;2;12,90\n"
        "O-2;C4;04/01/2026;confirmed;Z-9;Vanga;1;25\n"
        "O-3;C99;05/01/2026;confirmed;A-1;Tosaerba;1;1234,50\n"
    )
    done = _run(admin, "orders", _file(tmp_path, "o.csv", orders, "utf-8"))
    assert (done.rows_created, done.rows_failed) == (3, 1)
    assert done.row_errors.get().line == 5 and "C99" in done.row_errors.get().reason
    verdi_order = Order.objects.get(contact__last_name="Verdi")
    assert verdi_order.status == OrderStatus.DELIVERED and verdi_order.total == Decimal("1260.30")
    assert Product.objects.get(sku="Z-9").name == "Vanga"  # a product the shop had not exported yet
    again = _run(admin, "orders", _file(tmp_path, "o.csv", orders, "utf-8"))
    assert (again.rows_created, again.rows_unchanged) == (0, 3)
    assert Order.objects.count() == 2

    interactions = (
        "id,customer id,channel,direction,when,subject\n"
        "I-1,C1,email,inbound,2026-01-05 10:30,Quando arriva?\n"
        "I-2,C4,telefono,outbound,2026-01-06 09:00,Richiamata\n"
    )
    done = _run(admin, "interactions", _file(tmp_path, "i.csv", interactions, "utf-8"))
    assert (done.rows_created, done.rows_failed) == (2, 0)
    assert Interaction.objects.get(source="webshop", external_id="I-2").channel == "phone"
    assert _run(admin, "interactions", _file(tmp_path, "i.csv", interactions, "utf-8")).rows_created == 0


def test_files_that_are_not_tables_are_refused_with_the_reason_and_leave_nothing(admin, tmp_path):
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    with pytest.raises(ValidationFailed) as refused:
        import_create(actor=admin, kind="contacts", source="webshop", file=png, filename="photo.csv")
    assert "file" in refused.value.errors
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as out:
        out.truncate(2 * 1024**3)
    with pytest.raises(ValidationFailed, match="GB"):
        import_create(actor=admin, kind="contacts", source="webshop", file=huge, filename="huge.csv")
    assert not SourceRecord.objects.exists()


def test_a_mapping_without_a_required_field_is_refused_and_a_corrected_one_is_kept_for_the_source(admin, tmp_path):
    path = _file(tmp_path, "c.csv", CONTACTS)
    job = import_create(actor=admin, kind="contacts", source="webshop", file=path, filename="c.csv")
    with pytest.raises(ValidationFailed):
        import_mapping_set(actor=admin, job=job, mapping={**job.mapping, "Codice cliente": None})
    import_mapping_set(actor=admin, job=job, mapping={**job.mapping, "Telefono": "mobile"})
    second = import_create(actor=admin, kind="contacts", source="webshop", file=path, filename="c.csv")
    assert second.mapping["Telefono"] == "mobile"


def test_the_import_command_reports_failed_rows_and_exits_non_zero(admin, tmp_path, capsys):
    path = _file(tmp_path, "clienti.csv", CONTACTS)
    code = main(["import", "contacts", str(path), "--source", "webshop", "--user", admin.username])
    out, err = capsys.readouterr()
    assert code == 2
    assert "4 rows read, 2 new" in out and "2 failed" in out
    assert "line 3, E-mail" in err and "failed.csv" in err
    assert main(["import", "contacts", str(tmp_path / "missing.csv"), "--source", "webshop"]) == 1
    assert "is not a file" in capsys.readouterr().err
    assert SourceRecord.objects.filter(status=LinkStatus.LINKED).count() == 2


def test_every_row_is_counted_once_across_chunks(admin, tmp_path):
    # given more rows than one chunk holds, with bad rows in the later chunks
    lines = ["id,first name,last name,email"]
    for i in range(1, 1201):
        email = "broken@" if i in (700, 1100) else f"person{i}@example.com"
        lines.append(f"P{i},Name{i},Surname{i},{email}")
    done = _run(admin, "contacts", _file(tmp_path, "many.csv", "\n".join(lines) + "\n", "utf-8"))
    # then every row is either in or reported, with its line
    assert (done.rows_read, done.rows_created, done.rows_failed) == (1200, 1198, 2)
    assert sorted(done.row_errors.values_list("line", flat=True)) == [701, 1101]
