"""In a real browser, end to end: a messy customer file is imported, fixed, imported again, and its duplicate resolved.

A manager uploads a semicolon, Windows-1252 file with Italian headers exported by the web shop: she
checks the guessed mapping and the live preview, starts the import, reads the rows that failed (line,
column, reason), downloads them, fixes them and imports them again; importing the original file once
more changes nothing. The import's identity resolution links one row to the customer already in the
CRM and puts another in the review queue: she compares the pair, merges it, then undoes the merge.

The live server runs no job worker: the test runs the queued ``imports.run`` jobs itself, as ``cuore
worker`` would, between the page steps. Screenshots go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from cuore.contacts.models import Contact
from cuore.contacts.services import address_add, contact_create
from cuore.core.jobs import Worker
from cuore.identity.models import LinkMethod, MergeEvent, ReviewItem, ReviewStatus, SourceRecord
from cuore.identity.services import LINK_THRESHOLD, REVIEW_THRESHOLD
from cuore.imports.models import ImportJob, ImportStatus
from cuore.imports.services import import_create, import_mapping_set, import_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# The web shop's export. Line 2 is Giuseppe Verdi, already in the CRM, with his email in capitals and his
# phone with the international prefix: linked to him. Line 3 is Anna Bianchi, already in the CRM, since
# moved to Rome with a new email and phone: likely her, not certain (a pair to review). Lines 4-6 fail:
# a malformed email, no customer code (the required column), a spreadsheet formula.
CLIENTI = (
    "Codice cliente;Nome;Cognome;E-mail;Telefono;Data di nascita;Indirizzo;CAP;Città;Privacy\n"
    "C101;Giuseppe;Verdi;G.Verdi@Example.com;0039 333 111 2222;10/10/1953;Via Roma 1;43011;Busseto;sì\n"
    "C102;anna;BIANCHI;anna.b@libero.it;348 765 4321;14/02/1980;Via Appia Nuova 7;00179;Roma;no\n"
    "C103;Luca;Neri;luca.neri@example;+39 06 1234567;05/03/1990;Via Nazionale 10;00184;Roma;sì\n"
    ";Marta;Gallo;marta.gallo@example.com;;18/09/1988;Via Garibaldi 2;16124;Genova;sì\n"
    'C105;Chiara;D’Amico;chiara.damico@example.com;347 555 6666;01/02/1985;=HYPERLINK("http://x","y");80135;Napoli;sì\n'
    "C106;Marco;Esposito;marco.esposito@example.com;320 123 4567;22/07/1975;Via Toledo 15;80134;Napoli;no\n"
    "C107;Sofia;Romano;sofia.romano@example.com;;30/11/1992;Corso Vittorio Emanuele 3;10121;Torino;sì\n"
)
GUESSED = {
    "Codice cliente": "source_id",
    "Nome": "first_name",
    "Cognome": "last_name",
    "E-mail": "email",
    "Telefono": "phone",
    "Data di nascita": "birth_date",
    "Indirizzo": "line1",
    "CAP": "postal_code",
    "Città": "city",
    "Privacy": "",  # not recognised: left out until she says what it holds
}


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    """Uploads and failed-row files in a temporary directory (the live server runs in this process)."""
    settings.DATA_DIR = tmp_path / "var"


@pytest.fixture
def manager(make_user):
    return make_user(role="manager", username="paola")


@pytest.fixture
def customers(manager):
    """The two customers already in the CRM, typed in by hand."""
    verdi = contact_create(
        actor=manager,
        first_name="Giuseppe",
        last_name="Verdi",
        emails=["g.verdi@example.com"],
        phones=["333 111 2222"],
        birth_date=dt.date(1953, 10, 10),
    )
    bianchi = contact_create(
        actor=manager,
        first_name="Anna",
        last_name="Bianchi",
        emails=["anna.bianchi@example.com"],
        phones=["335 123 4567"],
        birth_date=dt.date(1980, 12, 31),
    )
    address_add(actor=manager, owner=bianchi, line1="Corso Italia 5", postal_code="20122", city="Milano")
    return verdi, bianchi


def run_queued_jobs() -> None:
    """Run the queued background job, as ``cuore worker`` would (the live server runs none)."""
    assert Worker(schedules=[], say=lambda line: None).run_once() == 1


def upload(page, path, source: str) -> None:
    """From the imports list, upload a contacts file from ``source`` and land on its mapping."""
    page.click("nav a[href='/imports/']")
    page.click("[data-testid=new-import]")
    page.wait_for_url("**/imports/new/")
    page.set_input_files("#id_file", str(path))
    assert page.input_value("#id_kind") == "contacts"
    page.fill("#id_source", source)
    page.click("[data-testid=upload-button]")
    page.wait_for_selector("[data-testid=mapping-table]")


def start_and_run(page) -> ImportJob:
    """Start the import, see it wait for the worker, run the job and see the page follow it to the end."""
    page.click("[data-testid=start-button]")
    progress = page.locator("[data-testid=import-progress]")
    progress.wait_for()
    assert progress.get_attribute("data-status") == "queued"
    job = ImportJob.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert job.status == ImportStatus.QUEUED and job.job.name == "imports.run"
    run_queued_jobs()
    # The page asks for the progress every second (HTMX) and stops once the import is done.
    page.wait_for_selector("[data-testid=import-progress][data-status=succeeded]")
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED
    return job


def counts(page) -> dict[str, str]:
    return {
        name: page.inner_text(f"[data-testid=count-{name}]")
        for name in ("read", "created", "updated", "unchanged", "failed")
    }


def test_a_messy_file_is_imported_fixed_and_its_duplicate_merged_then_unmerged(
    page, login, screenshot, manager, customers, tmp_path
):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    verdi, bianchi = customers
    original = tmp_path / "clienti.csv"
    original.write_bytes(CLIENTI.encode("cp1252"))
    login(manager)

    # --- 1. the upload: the file is recognised, its columns guessed, its first rows previewed --------
    upload(page, original, "webshop")
    assert page.inner_text("[data-testid=detected-format]") == "CSV"
    assert page.inner_text("[data-testid=detected-encoding]") == "cp1252"
    assert page.inner_text("[data-testid=detected-delimiter]") == "semicolon"
    guessed = {
        header: page.input_value(f"[data-testid=mapping-column][data-header='{header}'] select") for header in GUESSED
    }
    assert guessed == GUESSED
    assert page.locator("[data-testid=required-field][data-mapped=true]").count() == 1  # the customer code
    rows = page.locator("[data-testid=preview-row]")
    assert rows.count() == 7
    flagged = page.locator("[data-testid=preview-row][data-problems=true]")
    assert [flagged.nth(i).get_attribute("data-line") for i in range(flagged.count())] == ["4", "5", "6"]
    assert "not an email address" in page.inner_text("[data-testid=preview-row][data-line='4']")
    assert "required" in page.inner_text("[data-testid=preview-row][data-line='5']")
    assert "looks like a formula" in page.inner_text("[data-testid=preview-row][data-line='6']")
    assert "3 rows with problems" in page.inner_text("[data-testid=preview-summary]")
    # The Italian dates are read day first: 30/11/1992 is the 30th of November.
    assert "1992" in page.inner_text("[data-testid=preview-row][data-line='8']")

    # She says what "Privacy" holds: the mapping is saved and the preview shows the new column at once.
    with page.expect_response(lambda response: response.url.endswith("/mapping/") and response.ok):
        page.select_option("[data-testid=mapping-column][data-header=Privacy] select", "email_consent")
    page.wait_for_selector("[data-testid=preview-table] th[data-field=email_consent]")
    assert "Yes" in page.inner_text("[data-testid=preview-row][data-line='2']")
    assert page.is_enabled("[data-testid=start-button]")
    screenshot("identity-import-mapping")

    # --- 2. the import runs as a background job; the failed rows are listed with line, column, reason --
    first = start_and_run(page)
    assert counts(page) == {"read": "7", "created": "4", "updated": "0", "unchanged": "0", "failed": "3"}
    assert "3 rows could not be imported" in page.inner_text("[data-testid=import-done]")
    assert page.inner_text("[data-testid=identity-linked]") == "1"  # Giuseppe Verdi, already a customer
    assert page.inner_text("[data-testid=identity-new]") == "3"
    assert page.inner_text("[data-testid=identity-review]") == "1"  # Anna Bianchi: maybe
    assert page.locator("[data-testid=review-link]").is_visible()
    failed = page.locator("[data-testid=failed-row]")
    seen = [failed.nth(i).locator("td").all_inner_texts() for i in range(failed.count())]
    assert [(line, column) for line, column, _reason in seen] == [
        ("4", "E-mail"),
        ("5", "Codice cliente"),
        ("6", "Indirizzo"),
    ]
    assert "not an email address" in seen[0][2] and "luca.neri@example" in seen[0][2]
    assert "required" in seen[1][2]
    assert "looks like a formula" in seen[2][2]
    screenshot("identity-import-summary")
    assert (first.rows_read, first.rows_created, first.rows_failed) == (7, 4, 3)
    assert first.figures["consents"] == 2  # Verdi and Romano said yes
    assert SourceRecord.objects.get(source__name="webshop", source_key="C101").contact_id == verdi.pk
    assert Contact.objects.count() == 5
    assert not Contact.objects.filter(last_name__in=["Neri", "Gallo", "D’Amico"]).exists()

    # She downloads the failed rows, fixes them in her spreadsheet and imports them again.
    with page.expect_download() as downloading:
        page.click("[data-testid=failed-csv]")
    download = downloading.value
    assert download.suggested_filename == "clienti-failed.csv"
    downloaded = tmp_path / "downloads" / download.suggested_filename
    download.save_as(downloaded)
    table = list(csv.reader(io.StringIO(downloaded.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert table[0] == [*GUESSED, "errors"]
    assert [row[0] for row in table[1:]] == ["C103", "", "C105"]
    assert table[3][6] == '\'=HYPERLINK("http://x","y")'  # quoted: it stays text in a spreadsheet
    assert table[1][-1].startswith("E-mail: ")
    table[1][3] = "luca.neri@example.com"
    table[2][0] = "C104"
    table[3][6] = "Via Chiaia 20"
    fixed = tmp_path / "fixed" / download.suggested_filename
    fixed.parent.mkdir()
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(table)
    fixed.write_text(out.getvalue(), encoding="utf-8-sig")

    upload(page, fixed, "webshop")
    # The source's mapping is remembered (Privacy included); the "errors" column is left out.
    assert page.input_value("[data-testid=mapping-column][data-header=Privacy] select") == "email_consent"
    assert page.input_value("[data-testid=mapping-column][data-header=errors] select") == ""
    assert page.inner_text("[data-testid=preview-summary]") == "No problems in these rows"
    second = start_and_run(page)
    assert counts(page) == {"read": "3", "created": "3", "updated": "0", "unchanged": "0", "failed": "0"}
    assert page.inner_text("[data-testid=import-done]").strip() == "Done: every row was imported."
    assert page.locator("[data-testid=failed-rows]").count() == 0
    assert second.rows_failed == 0
    neri = Contact.objects.get(last_name="Neri")
    assert neri.points.get(kind="email").value_normalized == "luca.neri@example.com"
    assert Contact.objects.get(last_name="D’Amico").addresses.get().line1 == "Via Chiaia 20"
    assert SourceRecord.objects.get(source__name="webshop", source_key="C104").contact.last_name == "Gallo"
    assert Contact.objects.count() == 8

    # Importing the original file again changes nothing.
    upload(page, original, "webshop")
    start_and_run(page)
    assert counts(page) == {"read": "7", "created": "0", "updated": "0", "unchanged": "4", "failed": "3"}
    assert Contact.objects.count() == 8
    assert SourceRecord.objects.filter(source__name="webshop").count() == 7

    # --- 3. the review queue: the pair side by side, with the evidence, accepted -------------------
    page.click("nav a[href='/identity/review/']")
    page.wait_for_url("**/identity/review/")
    review_rows = page.locator("[data-testid=review-row]")
    assert review_rows.count() == 1
    assert "Anna Bianchi" in review_rows.inner_text() and "anna BIANCHI" in review_rows.inner_text()
    assert "webshop" in review_rows.inner_text() and "cuore" in review_rows.inner_text()
    item = ReviewItem.objects.get()
    newcomer = item.candidate
    assert item.contact_id == bianchi.pk and item.status == ReviewStatus.OPEN
    assert REVIEW_THRESHOLD <= item.probability < LINK_THRESHOLD
    assert review_rows.locator("[data-testid=review-probability]").inner_text().endswith("%")
    screenshot("identity-review-queue")
    review_rows.locator("[data-testid=review-open]").click()
    page.wait_for_url(f"**/identity/review/{item.pk}/")

    sides = page.locator("[data-testid=pair-side]")
    assert [sides.nth(i).get_attribute("data-contact-id") for i in range(2)] == [str(bianchi.pk), str(newcomer.pk)]
    left, right = sides.nth(0), sides.nth(1)
    assert left.locator("[data-testid=side-name]").inner_text() == "Anna Bianchi"
    assert "anna.bianchi@example.com" in left.locator("[data-testid=side-points]").inner_text()
    assert "Milano" in left.locator("[data-testid=side-addresses]").inner_text()
    assert right.locator("[data-testid=side-name]").inner_text() == "anna BIANCHI"
    assert "anna.b@libero.it" in right.locator("[data-testid=side-points]").inner_text()
    assert "Roma" in right.locator("[data-testid=side-addresses]").inner_text()
    assert "C102" in right.locator("[data-testid=side-record]").inner_text()
    evidence = page.locator("[data-testid=pair-evidence] [data-testid=evidence-row]")
    tone = {
        evidence.nth(i).get_attribute("data-comparison"): evidence.nth(i).get_attribute("data-tone")
        for i in range(evidence.count())
    }
    assert tone["first_name"] == tone["last_name"] == "agrees"
    assert tone["email"] == tone["phone"] == tone["line1"] == "disagrees"
    screenshot("identity-review-pair")

    page.fill("[data-testid=accept-form] [name=reason]", "Moved to Rome, new email")
    page.click("[data-testid=accept-button]")
    page.wait_for_url(f"**/contacts/{bianchi.pk}/")
    assert "anna BIANCHI was merged into Anna Bianchi." in page.inner_text(".alert-success")
    assert page.locator("[data-testid=undo-message-button]").is_visible()
    records = page.locator("[data-testid=identity-panel] [data-testid=source-record]")
    assert sorted(records.nth(i).get_attribute("data-source") for i in range(records.count())) == ["cuore", "webshop"]
    screenshot("identity-merged")
    assert not Contact.objects.filter(pk=newcomer.pk).exists()
    assert SourceRecord.objects.get(source__name="webshop", source_key="C102").contact_id == bianchi.pk
    assert ReviewItem.objects.get().status == ReviewStatus.ACCEPTED
    event = MergeEvent.objects.get()
    assert (event.contact_id, event.other_id, event.reason) == (bianchi.pk, newcomer.pk, "Moved to Rome, new email")

    # --- 4. the merge is undone from the merges page: the two contacts are back ----------------------
    page.click("nav a[href='/identity/review/']")
    page.click("[data-testid=identity-tabs] a[href='/identity/merges/']")
    page.wait_for_url("**/identity/merges/")
    merge_row = page.locator(f"[data-testid=merge-row][data-event-id='{event.pk}']")
    assert "anna BIANCHI" in merge_row.inner_text() and "Moved to Rome, new email" in merge_row.inner_text()
    merge_row.locator("[data-testid=undo-button]").click()
    page.wait_for_url("**/identity/merges/")
    assert "Undone: anna BIANCHI is a contact of their own again." in page.inner_text(".alert-success")
    assert merge_row.locator("[data-testid=merge-undone]").is_visible()
    assert merge_row.locator("[data-testid=undo-button]").count() == 0
    screenshot("identity-merge-undone")

    merge_row.get_by_role("link", name="anna BIANCHI", exact=True).click()
    page.wait_for_url(f"**/contacts/{newcomer.pk}/")
    assert page.inner_text("#contact-name") == "anna BIANCHI"
    records = page.locator("[data-testid=identity-panel] [data-testid=source-record]")
    assert records.count() == 1
    assert records.get_attribute("data-source") == "webshop"
    assert records.locator("[data-testid=record-key]").inner_text() == "C102"
    screenshot("identity-contact-restored")

    restored = Contact.objects.get(pk=newcomer.pk)
    assert (restored.first_name, restored.last_name) == ("anna", "BIANCHI")
    assert restored.points.get(kind="email").value_normalized == "anna.b@libero.it"
    assert restored.addresses.get().city == "Roma"
    back = SourceRecord.objects.get(source__name="webshop", source_key="C102")
    assert (back.contact_id, back.link_method) == (restored.pk, LinkMethod.MANUAL)
    kept = Contact.objects.get(pk=bianchi.pk)
    assert list(kept.source_records.values_list("source__name", flat=True)) == ["cuore"]
    assert list(kept.points.filter(kind="email").values_list("value_normalized", flat=True)) == [
        "anna.bianchi@example.com"
    ]
    assert kept.addresses.get().city == "Milano"
    assert MergeEvent.objects.get().undone_by == manager
    assert Contact.objects.count() == 8

    # The question the merge answered is asked again: the pair is back in the review queue.
    page.click("nav a[href='/identity/review/']")
    page.wait_for_url("**/identity/review/")
    item = ReviewItem.objects.get()
    assert (item.status, item.contact_id, item.candidate_id) == (ReviewStatus.OPEN, bianchi.pk, newcomer.pk)
    assert page.locator(f"a[href='/identity/review/{item.pk}/']").count() >= 1
    assert errors == []


def test_a_row_without_a_name_is_reported_not_imported(page, login, manager, tmp_path):
    path = tmp_path / "senza-nome.csv"
    path.write_text(
        "Codice cliente;Nome;Cognome;E-mail\nN1;;;nessuno@example.com\nN2;Paolo;Rossi;paolo.rossi@example.com\n",
        encoding="utf-8",
    )
    login(manager)

    upload(page, path, "webshop")
    start_and_run(page)

    assert page.inner_text("[data-testid=count-failed]") == "1"
    assert page.locator("[data-testid=failed-row]").get_attribute("data-line") == "2"
    assert list(Contact.objects.values_list("last_name", flat=True)) == ["Rossi"]


# ---- what the scenario found wrong once: each asserts what should happen ----


@pytest.fixture
def imported(manager, customers, tmp_path):
    """The web shop's file imported without the browser, as the test above imports it: one pair to review."""
    path = tmp_path / "clienti.csv"
    path.write_bytes(CLIENTI.encode("cp1252"))
    job = import_create(actor=manager, kind="contacts", source="webshop", file=path, filename=path.name)
    import_mapping_set(actor=manager, job=job, mapping={**job.mapping, "Privacy": "email_consent"})
    assert import_run(import_id=job.pk).figures["identity"]["review_items"] == 1
    return ReviewItem.objects.get()


def test_the_pair_page_marks_on_each_side_the_record_that_matched(page, login, manager, customers, imported):
    _verdi, bianchi = customers
    login(manager)

    page.goto(f"/identity/review/{imported.pk}/")

    sides = page.locator("[data-testid=pair-side]")
    marked = [
        sides.nth(i)
        .locator("[data-testid=side-record].border-primary")
        .evaluate_all("records => records.map(record => record.dataset.recordId)")
        for i in range(2)
    ]
    ours = SourceRecord.objects.get(contact=bianchi, source__name="cuore")
    theirs = SourceRecord.objects.get(source__name="webshop", source_key="C102")
    assert marked == [[str(ours.pk)], [str(theirs.pk)]]


def test_the_contact_kept_by_a_merge_has_one_primary_email_phone_and_address(page, login, manager, customers, imported):
    _verdi, bianchi = customers
    login(manager)

    page.goto(f"/identity/review/{imported.pk}/")
    page.click("[data-testid=accept-button]")
    page.wait_for_url(f"**/contacts/{bianchi.pk}/")

    assert bianchi.points.filter(kind="email").count() == 2
    assert {kind: bianchi.points.filter(kind=kind, is_primary=True).count() for kind in ("email", "phone")} == {
        "email": 1,
        "phone": 1,
    }
    assert bianchi.addresses.filter(is_primary=True).count() == 1
