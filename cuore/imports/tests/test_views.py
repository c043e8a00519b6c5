"""The import pages: the list, the upload, the mapping with its preview, the progress, the failed rows."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuore.contacts.models import Contact
from cuore.core.models import AuditEntry
from cuore.identity.models import Source
from cuore.imports.models import ImportJob, ImportMapping, ImportRowError, ImportStatus
from cuore.imports.services import import_run

ROLES = ["admin", "manager", "sales", "support", "marketing", "analyst"]
READERS = {"admin", "manager", "marketing", "analyst"}  # MATRIX["imports"]
WRITERS = {"admin", "manager", "marketing"}
_numbers = itertools.count(1)

# A messy export: semicolons, Windows-1252 (the ’ and the accents), dates as dd/mm/yyyy, one bad email.
MESSY = (
    "Codice cliente;Nome;Cognome;E-mail;Data di nascita;Città;Note\r\n"
    "C001;Mario;Rossi;mario.rossi@example.com;03/04/1980;Milano;cliente dall’anno scorso\r\n"
    "C002;Giulia;Bianchi;giulia.bianchi@@example;15/06/1975;Roma;\r\n"
    "C003;Niccolò;Verdi;nicco.verdi@example.it;28/02/1990;Forlì;\r\n"
).encode("cp1252")


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def people(users_by_role, make_user, other_team):
    return {**users_by_role, "sales_other": make_user(role="sales", team=other_team)}


def login(client, user):
    client.force_login(user)
    return client


def upload(client, content: bytes = MESSY, *, name: str = "clienti.csv", kind: str = "contacts", source: str = "shop"):
    return client.post(
        reverse("imports:new"),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "kind": kind, "source": source},
    )


def make_job(user, *, source: str = "shop", status: str = ImportStatus.SUCCEEDED, **fields) -> ImportJob:
    """An import as the list shows it (no file behind it)."""
    the_source, _created = Source.objects.get_or_create(name=source)
    n = next(_numbers)
    return ImportJob.objects.create(
        kind=fields.pop("kind", "contacts"),
        source=the_source,
        path=f"x{n}/file{n}.csv",
        filename=fields.pop("filename", f"file{n}.csv"),
        status=status,
        created_by=user,
        **fields,
    )


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}


# ---- access --------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, people):
    job = make_job(people["admin"])
    for url in [
        reverse("imports:list"),
        reverse("imports:new"),
        reverse("imports:detail", args=[job.pk]),
        reverse("imports:failed_csv", args=[job.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [*ROLES, "sales_other"])
def test_the_list_is_for_the_roles_that_read_imports(client, people, role):
    job = make_job(people["admin"], filename="clienti-marzo.csv", rows_read=120, rows_created=100, rows_failed=3)
    response = login(client, people[role]).get(reverse("imports:list"))
    if role.split("_")[0] not in READERS:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert "clienti-marzo.csv" in page and f'data-import-id="{job.pk}"' in page
    assert ('data-testid="new-import"' in page) == (role in WRITERS)


@pytest.mark.parametrize("role", [*ROLES, "sales_other"])
def test_the_pages_of_an_import_follow_the_matrix(client, people, role):
    job = make_job(people["admin"])
    login(client, people[role])
    detail = client.get(reverse("imports:detail", args=[job.pk]))
    new = client.get(reverse("imports:new"))
    reader = role.split("_")[0] in READERS
    assert detail.status_code == (200 if reader else 404)
    assert new.status_code == (200 if role in WRITERS else 403 if reader else 404)


def test_a_missing_import_is_a_404(client, people):
    login(client, people["admin"])
    assert client.get(reverse("imports:detail", args=[999999])).status_code == 404
    assert client.get(reverse("imports:detail", args=[2**63])).status_code == 404
    assert client.get(reverse("imports:failed_csv", args=[999999])).status_code == 404
    assert client.get(reverse("imports:list"), {"cursor": "not-a-cursor"}).status_code == 404


def test_the_list_costs_the_same_queries_however_many_imports(client, people):
    login(client, people["manager"])
    make_job(people["admin"])
    client.get(reverse("imports:list"))

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("imports:list")).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for i in range(12):
        make_job(people["manager" if i % 2 else "marketing"], source=f"src{i}")
    assert count() == few


def test_the_list_pages_newest_first(client, people):
    jobs = [make_job(people["admin"]) for _i in range(52)]
    login(client, people["admin"])
    first = client.get(reverse("imports:list"))
    assert [row.pk for row in first.context["jobs"]] == [job.pk for job in reversed(jobs)][:50]
    second = client.get(reverse("imports:list"), {"cursor": first.context["next_cursor"]})
    assert [row.pk for row in second.context["jobs"]] == [jobs[1].pk, jobs[0].pk]


# ---- upload --------------------------------------------------------------------------------------


def test_an_upload_keeps_the_file_and_opens_its_mapping(client, people):
    login(client, people["marketing"])
    response = upload(client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:detail", args=[job.pk])
    assert (job.kind, job.source.name, job.created_by, job.status) == ("contacts", "shop", people["marketing"], "ready")
    assert AuditEntry.objects.filter(action="import.create", object_id=str(job.pk)).exists()

    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="mapping-form"' in text and 'data-testid="preview-table"' in text
    assert job.encoding in text and "semicolon" in text  # the detected encoding and delimiter


def test_a_bad_file_is_an_error_beside_the_file_field(client, people):
    login(client, people["admin"])
    response = upload(client, b"%PDF-1.4\x00\x01\x02 binary", name="report.pdf")
    assert response.status_code == 200
    assert not ImportJob.objects.exists()
    form = response.context["form"]
    assert list(form.errors) == ["file"]
    assert 'data-testid="error-file"' in response.content.decode()
    assert "is-invalid" in form.fields["file"].widget.attrs["class"]


def test_a_bad_source_name_is_an_error_beside_the_source_field(client, people):
    login(client, people["admin"])
    response = upload(client, source="web shop!")
    assert response.status_code == 200 and not ImportJob.objects.exists()
    assert list(response.context["form"].errors) == ["source"]
    assert 'data-testid="error-source"' in response.content.decode()


def test_a_kind_the_role_may_not_write_is_not_offered(client, people):
    login(client, people["marketing"])  # may write contacts but not orders or accounts
    page = client.get(reverse("imports:new"))
    offered = [value for value, _label in page.context["form"].fields["kind"].choices]
    assert "contacts" in offered and "orders" not in offered and "accounts" not in offered
    response = upload(client, kind="orders")
    assert response.status_code == 200 and "kind" in response.context["form"].errors
    assert not ImportJob.objects.exists()


def test_the_upload_offers_the_existing_sources(client, people):
    Source.objects.create(name="old-crm")
    page = login(client, people["admin"]).get(reverse("imports:new"))
    assert '<option value="old-crm">' in page.content.decode()


def test_analysts_may_not_upload(client, people):
    login(client, people["analyst"])
    assert upload(client).status_code == 403
    assert not ImportJob.objects.exists()


# ---- mapping and preview -------------------------------------------------------------------------


def _uploaded(client, content: bytes = MESSY, **kwargs) -> ImportJob:
    response = upload(client, content, **kwargs)
    assert response.status_code == 302, response.context and response.context["form"].errors
    return ImportJob.objects.order_by("-id").first()


def _mapping_data(job: ImportJob, **changes: str) -> dict[str, str]:
    data = {}
    for position, header in enumerate(job.headers):
        data[f"column_{position}"] = changes.get(header, job.mapping.get(header) or "")
    return data


def test_the_preview_shows_the_rows_as_they_will_be_read_with_their_problems(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    assert job.mapping["E-mail"] == "email" and job.mapping["Codice cliente"] == "source_id"
    response = client.get(reverse("imports:detail", args=[job.pk]))
    rows = response.context["preview"].rows
    assert [row.line for row in rows] == [2, 3, 4]
    assert [row.has_problems for row in rows] == [False, True, False]
    page = response.content.decode()
    assert page.count('data-testid="preview-problem"') == 1
    assert "Niccolò" in page and "Forlì" in page  # read as Windows-1252
    assert "04/03/1980" in page or "03/04/1980" in page  # the date as a date
    assert response.context["preview_problems"] == 1


def test_changing_the_mapping_saves_it_and_answers_the_preview_for_htmx(client, people):
    login(client, people["manager"])
    job = _uploaded(client)
    response = client.post(
        reverse("imports:mapping", args=[job.pk]), _mapping_data(job, **{"Note": "", "Città": ""}), **htmx()
    )
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "imports/_mapping.html"
    job.refresh_from_db()
    assert job.mapping["Note"] is None and job.mapping["Città"] is None
    assert "Città" not in [header for header, _f in response.context["preview"].columns]
    saved = ImportMapping.objects.get(source=job.source, kind="contacts")
    assert saved.mapping["città"] is None
    assert AuditEntry.objects.filter(action="import.mapping", object_id=str(job.pk)).exists()


def test_a_wrong_mapping_is_shown_with_its_reason_and_not_saved(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    before = dict(job.mapping)
    # Two columns for one field, and the required id left out.
    data = _mapping_data(job, **{"Nome": "last_name", "Codice cliente": ""})
    response = client.post(reverse("imports:mapping", args=[job.pk]), data, **htmx())
    assert response.status_code == 422
    job.refresh_from_db()
    assert job.mapping == before
    page = response.content.decode()
    assert 'data-testid="mapping-error"' in page and 'data-testid="mapping-unsaved"' in page
    assert "disabled" in page.split('data-testid="start-button"')[1].split(">")[0]
    # Without HTMX, the whole page with the same errors.
    full = client.post(reverse("imports:mapping", args=[job.pk]), data)
    assert full.status_code == 200 and 'data-testid="mapping-error"' in full.content.decode()


def test_saving_the_mapping_without_htmx_goes_back_to_the_import(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    response = client.post(reverse("imports:mapping", args=[job.pk]), _mapping_data(job, Note=""))
    assert response.status_code == 302 and response["Location"] == reverse("imports:detail", args=[job.pk])


def test_analysts_see_the_mapping_but_may_not_change_or_start_it(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    login(client, people["analyst"])
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert page.status_code == 200 and 'data-testid="start-form"' not in page.content.decode()
    assert client.post(reverse("imports:mapping", args=[job.pk]), _mapping_data(job)).status_code == 403
    assert client.post(reverse("imports:start", args=[job.pk])).status_code == 403
    login(client, people["support"])
    assert client.post(reverse("imports:mapping", args=[job.pk]), _mapping_data(job)).status_code == 404
    assert client.post(reverse("imports:start", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportStatus.READY


def test_an_import_of_a_kind_the_role_may_not_write_is_read_only_to_it(client, people):
    login(client, people["admin"])
    job = _uploaded(client, b"order id;customer id;date;sku;qty;price\nA1;C1;01/02/2025;S1;1;9,90\n", kind="orders")
    login(client, people["marketing"])  # reads every import, may not write orders
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert page.status_code == 200 and 'data-testid="start-form"' not in page.content.decode()
    assert client.post(reverse("imports:mapping", args=[job.pk]), _mapping_data(job)).status_code == 403
    assert client.post(reverse("imports:start", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == ImportStatus.READY


def test_starting_without_a_required_column_shows_why(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    ImportJob.objects.filter(pk=job.pk).update(mapping={**job.mapping, "Codice cliente": None})
    response = client.post(reverse("imports:start", args=[job.pk]))
    assert response.status_code == 200 and 'data-testid="start-error"' in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.READY


def test_starting_twice_is_a_conflict(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    assert client.post(reverse("imports:start", args=[job.pk])).status_code == 302
    again = client.post(reverse("imports:start", args=[job.pk]))
    assert again.status_code == 409 and 'data-testid="refused"' in again.content.decode()
    changed = client.post(reverse("imports:mapping", args=[job.pk]), _mapping_data(job), **htmx())
    assert changed.status_code == 409 and changed["X-Cuore-Reason"]


# ---- progress and summary ------------------------------------------------------------------------


def test_a_queued_import_polls_for_its_progress_and_stops_when_done(client, people):
    login(client, people["admin"])
    job = _uploaded(client)
    client.post(reverse("imports:start", args=[job.pk]))
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    progress_url = reverse("imports:progress", args=[job.pk])
    assert f'hx-get="{progress_url}"' in page and 'hx-trigger="every 1s"' in page

    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, rows_read=2, rows_created=1)
    running = client.get(progress_url, **htmx())
    assert running.status_code == 200 and [t.name for t in running.templates][0] == "imports/_progress.html"
    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert running.context["job"].rows_read == 2

    import_run(import_id=job.pk)
    done = client.get(progress_url, **htmx()).content.decode()
    assert "every 1s" not in done and 'data-testid="import-done"' in done
    # Without HTMX the progress address is the import's page.
    assert client.get(progress_url)["Location"] == reverse("imports:detail", args=[job.pk])


def test_the_failed_rows_are_paged_fifty_at_a_time(client, people):
    job = make_job(people["admin"], rows_failed=120)
    ImportRowError.objects.bulk_create(
        [ImportRowError(job=job, line=i + 2, column="E-mail", reason=f"bad {i}") for i in range(120)]
    )
    login(client, people["analyst"])
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert page.content.decode().count('data-testid="failed-row"') == 50
    third = client.get(reverse("imports:failed_rows", args=[job.pk]), {"page": 3}, **htmx())
    assert [t.name for t in third.templates][0] == "imports/_failed.html"
    assert third.content.decode().count('data-testid="failed-row"') == 20
    assert 'data-line="102"' in third.content.decode()
    plain = client.get(reverse("imports:failed_rows", args=[job.pk]), {"page": 2})
    assert plain.status_code == 302 and plain["Location"].endswith("?page=2")

    def count(page_number: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("imports:detail", args=[job.pk]), {"page": page_number})
        return len(captured.captured_queries)

    assert count(1) == count(3)


def test_the_identity_figures_link_to_the_review_queue(client, people):
    job = make_job(
        people["admin"],
        figures={"identity": {"by_rule": 3, "linked": 5, "new_contacts": 40, "review_items": 2}, "consents": 1},
        rows_read=48,
    )
    page = login(client, people["marketing"]).get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert 'data-testid="identity-figures"' in page
    assert 'data-testid="identity-new">40<' in page and 'data-testid="identity-review">2<' in page
    assert reverse("identity:review") in page


def test_a_failed_import_shows_its_error(client, people):
    job = make_job(people["admin"], status=ImportStatus.FAILED, error="ValueError: the disk is full")
    page = login(client, people["admin"]).get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert 'data-testid="import-error"' in page and "the disk is full" in page


# ---- the whole flow ------------------------------------------------------------------------------


def _read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    dialect = csv.Sniffer().sniff(content.splitlines()[0], delimiters=",;")
    return list(csv.reader(io.StringIO(content), dialect))


def test_a_messy_file_then_its_failed_rows_fixed_and_imported_again(client, people):
    login(client, people["marketing"])
    # Upload → the mapping page: format, encoding and delimiter detected, the columns guessed.
    job = _uploaded(client)
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert page.context["job"].delimiter == ";" and page.context["job"].encoding.lower() in {"cp1252", "windows-1252"}
    assert not page.context["mapping_problems"]
    # Start → queued; the worker (here: called directly) runs it.
    started = client.post(reverse("imports:start", args=[job.pk]))
    assert started.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and job.job is not None
    import_run(import_id=job.pk)

    done = client.get(reverse("imports:detail", args=[job.pk]))
    job = done.context["job"]
    assert (job.status, job.rows_read, job.rows_failed) == (ImportStatus.SUCCEEDED, 3, 1)
    text = done.content.decode()
    assert text.count('data-testid="failed-row"') == 1 and 'data-line="3"' in text
    assert 'data-testid="identity-figures"' in text
    assert Contact.objects.filter(last_name="Verdi", first_name="Niccolò").exists()
    assert not Contact.objects.filter(last_name="Bianchi").exists()

    # Download the failed rows, fix the email, import that file again: nothing fails.
    download = client.get(reverse("imports:failed_csv", args=[job.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="clienti-failed.csv"')
    rows = _read_csv(download)
    for role, status in (("analyst", 200), ("manager", 200), ("sales", 404), ("support", 404)):
        assert login(client, people[role]).get(reverse("imports:failed_csv", args=[job.pk])).status_code == status
    login(client, people["marketing"])
    assert rows[0][-1] == "errors" and len(rows) == 2 and rows[1][0] == "C002"
    fixed = [row[:-1] for row in rows]
    fixed[1][rows[0].index("E-mail")] = "giulia.bianchi@example.com"
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(fixed)
    again = _uploaded(client, out.getvalue().encode("utf-8"), name="clienti-corretti.csv")
    assert again.mapping["E-mail"] == "email"  # the mapping saved for the source
    assert client.post(reverse("imports:start", args=[again.pk])).status_code == 302
    import_run(import_id=again.pk)
    second = client.get(reverse("imports:detail", args=[again.pk]))
    assert (second.context["job"].rows_read, second.context["job"].rows_failed) == (1, 0)
    assert 'data-testid="failed-rows"' not in second.content.decode()
    assert client.get(reverse("imports:failed_csv", args=[again.pk])).status_code == 404
    assert Contact.objects.filter(last_name="Bianchi", first_name="Giulia").exists()


def test_the_pages_speak_italian(client, people):
    people["admin"].language = "it"
    people["admin"].save(update_fields=["language"])
    login(client, people["admin"])
    job = _uploaded(client)
    assert "Avvia l’importazione" in client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "Nuova importazione" in client.get(reverse("imports:list")).content.decode()
