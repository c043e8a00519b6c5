"""Identity resolution through its services: rules, batch and one-by-one matching, review, export, the API."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from cuore.contacts.models import Contact, ContactPoint
from cuore.contacts.tests.factories import make_contact
from cuore.core.errors import Conflict
from cuore.core.roles import Role
from cuore.identity import matching, services
from cuore.identity.merging import merge_undo
from cuore.identity.models import (
    BlockKey,
    LinkMethod,
    LinkStatus,
    MatchModelState,
    MergeEvent,
    RecordKind,
    ReviewItem,
    ReviewStatus,
    SourceRecord,
)

PEOPLE = [
    # (first, last, birth date, email, phone, street, postcode, city)
    ("Giuseppe", "Verdi", "1953-10-10", "g.verdi@example.com", "+393331112222", "Via Roma 1", "43011", "Busseto"),
    ("Anna", "Bianchi", "1980-12-31", "anna.b@example.com", "+390212345670", "Corso Italia 5", "20122", "Milano"),
    ("Luca", "Neri", "1990-03-05", "luca.neri@example.com", "+393471234567", "Via Appia 7", "00100", "Roma"),
    ("Chiara", "Esposito", "1985-02-01", "chiara.e@example.com", "+393475556666", "Piazza Dante 3", "80135", "Napoli"),
    ("Marco", "Russo", "1975-07-21", "m.russo@example.com", "+393389990000", "Via Garibaldi 12", "10121", "Torino"),
    ("Sara", "Romano", "1992-11-11", "sara.romano@example.com", "+393201112233", "Via Dante 8", "40121", "Bologna"),
    ("Paolo", "Colombo", "1968-04-30", "p.colombo@example.com", "+393396667788", "Via Manzoni 4", "20121", "Milano"),
    ("Elena", "Ricci", "1988-09-09", "elena.ricci@example.com", "+393405554433", "Via Verdi 22", "50122", "Firenze"),
    ("Davide", "Marino", "1979-01-15", "davide.m@example.com", "+393471112299", "Via Cavour 3", "70121", "Bari"),
    ("Giulia", "Greco", "1995-06-06", "giulia.greco@example.com", "+393337778899", "Via Mazzini 9", "16121", "Genova"),
    ("Francesca", "Bruno", "1983-03-03", "f.bruno@example.com", "+393289991122", "Via Po 2", "10123", "Torino"),
    ("Alessandro", "Gallo", "1970-08-18", "a.gallo@example.com", "+393356667711", "Via Nazionale 40", "00184", "Roma"),
]


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


def _values(first, last, birth, email, phone, street, postcode, city) -> dict:
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": birth,
        "email": email,
        "phone": phone,
        "line1": street,
        "postal_code": postcode,
        "city": city,
    }


def _send(admin, source: str, key: str, values: dict) -> SourceRecord:
    the_source = services.source_ensure(actor=admin, name=source)
    record, _ = services.record_upsert(source=the_source, kind=RecordKind.CONTACT, key=key, raw=values, values=values)
    return record


@pytest.fixture
def resolved_shop(admin):
    """The web shop's customers, resolved in one batch (which estimates the model)."""
    for index, person in enumerate(PEOPLE):
        _send(admin, "webshop", f"W{index}", _values(*person))
    report = services.identity_resolve(actor=admin)
    return report


def test_a_first_batch_creates_one_contact_per_person_with_the_default_model(admin, resolved_shop):
    # a dozen records cannot teach EM anything: the default model is used, and none is stored
    assert resolved_shop.mode == "batch" and not resolved_shop.model_trained
    assert resolved_shop.new_contacts == len(PEOPLE) and Contact.objects.count() == len(PEOPLE)
    assert not MatchModelState.objects.exists()
    verdi = Contact.objects.get(last_name="Verdi")
    assert verdi.first_name == "Giuseppe" and str(verdi.birth_date) == "1953-10-10"
    assert ContactPoint.objects.filter(contact=verdi, kind="external_id", label="webshop", value="W0").exists()
    assert BlockKey.objects.filter(record__contact=verdi).exists()
    assert not SourceRecord.objects.filter(status=LinkStatus.PENDING).exists()


def test_a_record_arriving_later_is_matched_one_by_one_with_its_evidence(admin, resolved_shop):
    verdi = Contact.objects.get(last_name="Verdi")
    # a typo in the surname, a nickname, the phone written another way, no email
    record = _send(
        admin,
        "till",
        "T-1",
        {"first_name": "Beppe", "last_name": "Verdy", "birth_date": "1953-10-10", "phone": "333 111 2222",
         "line1": "V. Roma 1", "postal_code": "43011", "city": "Busseto"},
    )  # fmt: skip

    services.record_match(actor=admin, record=record)

    record.refresh_from_db()
    assert record.contact == verdi and record.link_method == LinkMethod.PROBABILISTIC
    assert record.link_score >= services.LINK_THRESHOLD
    weights = {item["comparison"]: item["weight"] for item in record.link_evidence}
    assert weights["phone"] > 0 and weights["birth_date"] > 0
    assert Contact.objects.count() == len(PEOPLE)
    # the golden record keeps the most trusted source's name (equal trust: the most recent record)
    assert ContactPoint.objects.filter(contact=verdi, kind="external_id", label="till", value="T-1").exists()


def test_with_enough_records_the_model_is_estimated_stored_and_then_used_one_by_one(admin, monkeypatch):
    monkeypatch.setattr(services, "MIN_TRAIN_RECORDS", 10)
    for index, person in enumerate(PEOPLE):
        _send(admin, "webshop", f"W{index}", _values(*person))
        _send(admin, "crm", f"C{index}", _values(*person[:3], "", person[4].replace("+39", "0039 "), *person[5:]))

    first = services.identity_resolve(actor=admin)

    assert first.mode == "batch" and first.model_trained
    state = MatchModelState.objects.get(kind=RecordKind.CONTACT)
    assert state.records == 2 * len(PEOPLE)
    assert Contact.objects.count() == len(PEOPLE)
    assert all(len(c.source_records.all()) == 2 for c in Contact.objects.all())
    # a single newcomer is matched one by one with the stored model
    _send(admin, "till", "T-1", _values("Giuseppe", "Verdi", "1953-10-10", "", "+393331112222", "", "", ""))
    second = services.identity_resolve(actor=admin)
    assert second.mode == "one by one" and second.linked == 1
    assert SourceRecord.objects.get(source_key="T-1").contact.last_name == "Verdi"


def test_a_stranger_gets_a_contact_of_their_own(admin, resolved_shop):
    record = _send(
        admin, "till", "T-2", _values("Ottavio", "Lombardi", "1960-01-01", "", "", "Via Nuova 1", "30100", "Venezia")
    )
    services.record_match(actor=admin, record=record)
    record.refresh_from_db()
    assert record.link_method == LinkMethod.NEW
    assert record.contact.last_name == "Lombardi"
    assert Contact.objects.count() == len(PEOPLE) + 1


def test_the_same_external_id_links_by_rule(admin, resolved_shop):
    anna = Contact.objects.get(last_name="Bianchi")
    record = _send(admin, "crm", "X1", {"last_name": "Rossi", "external_ids": {"webshop": "W1"}})
    services.record_match(actor=admin, record=record)
    record.refresh_from_db()
    assert (record.contact, record.link_method, record.link_score) == (anna, LinkMethod.EXTERNAL_ID, 1.0)


def test_a_verified_email_links_by_rule(admin, resolved_shop):
    luca = Contact.objects.get(last_name="Neri")
    ContactPoint.objects.filter(contact=luca, kind="email").update(is_verified=True)
    record = _send(admin, "events", "E1", {"first_name": "L.", "last_name": "N.", "email": "Luca.Neri@Example.com"})
    services.record_match(actor=admin, record=record)
    record.refresh_from_db()
    assert (record.contact, record.link_method) == (luca, LinkMethod.EMAIL)


def test_a_doubtful_match_goes_to_review_and_accepting_merges_rejecting_closes(admin, resolved_shop):
    # the same name and birth date, but another phone and another town: evidence both ways
    record = _send(
        admin,
        "events",
        "E2",
        {"first_name": "Marco", "last_name": "Russo", "birth_date": "1975-07-21", "phone": "+393471239999",
         "postal_code": "90100", "city": "Palermo"},
    )  # fmt: skip
    model = services._default_model(SourceRecord.objects.filter(kind=RecordKind.CONTACT).count())
    prepared = matching.prepare(np.array([record.pk]), {k: [v] for k, v in record.values.items()})
    candidates = SourceRecord.objects.filter(contact__last_name="Russo", kind=RecordKind.CONTACT)
    cand = matching.prepare(
        np.array([c.pk for c in candidates]),
        {name: [c.values.get(name, "") for c in candidates] for name in matching.FIELDS},
    )
    probability, _ = matching.match_one(model, prepared, cand)
    p = float(probability.max())
    assert 0.001 < p < 1.0  # short of certain: thresholds can be put on either side of it
    services.record_match(actor=admin, record=record, link_threshold=(1 + p) / 2, review_threshold=p / 2)
    record.refresh_from_db()
    assert record.link_method == LinkMethod.NEW
    item = ReviewItem.objects.get(status=ReviewStatus.OPEN)
    assert {item.contact_id, item.candidate_id} == {
        record.contact_id,
        Contact.objects.filter(last_name="Russo").order_by("pk").first().pk,
    }
    assert item.evidence and item.probability == pytest.approx(float(probability.max()))

    accepted = services.review_accept(actor=admin, item=item)
    assert Contact.objects.filter(last_name="Russo").count() == 1
    assert MergeEvent.objects.filter(kind="merge").count() == 1
    assert (accepted.status, accepted.decided_by) == (ReviewStatus.ACCEPTED, admin)
    with pytest.raises(Conflict):
        services.review_reject(actor=admin, item=item)

    # Undoing the merge asks the question again: the two are two contacts, and nobody has said yet whether
    # they are one person.
    merge_undo(actor=admin, event=MergeEvent.objects.get(kind="merge"))
    item.refresh_from_db()
    assert (item.status, item.decided_by, item.decided_at) == (ReviewStatus.OPEN, None, None)
    assert {item.contact_id, item.candidate_id} == set(
        Contact.objects.filter(last_name="Russo").values_list("pk", flat=True)
    )
    services.review_reject(actor=admin, item=item)
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewStatus.REJECTED


def test_export_writes_one_row_per_source_record(admin, resolved_shop):
    out = io.StringIO()
    rows = services.identity_export(out)
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == ["source", "source_id", "contact_id"]
    assert rows == len(PEOPLE) == len(parsed) - 1
    verdi = Contact.objects.get(last_name="Verdi")
    assert ["webshop", "W0", str(verdi.pk)] in parsed


def test_the_api_takes_a_record_matches_it_and_answers_the_same_the_second_time(admin, resolved_shop, api_for):
    api = api_for(admin)
    body = {"source": "app", "source_id": "A-1", "first_name": "Giuseppe", "last_name": "Verdi",
            "birth_date": "1953-10-10", "phone": "+39 333 1112222", "city": "Busseto", "postal_code": "43011"}  # fmt: skip
    first = api.post("/api/v1/identity/records", body)
    assert first.status_code == 201, first.content
    assert first.json()["contact_id"] == Contact.objects.get(last_name="Verdi").pk
    assert first.json()["link_method"] in ("probabilistic", "new")
    again = api.post("/api/v1/identity/records", body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    bad = api.post("/api/v1/identity/records", {"source": "app", "source_id": "A-2"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "last_name"
    merges = api.post(
        "/api/v1/identity/merges",
        {"survivor_id": Contact.objects.get(last_name="Neri").pk, "other_id": 10**9, "reason": "x"},
    )
    assert merges.status_code == 422 and merges.json()["errors"][0]["field"] == "other_id"


def test_the_api_merges_and_undoes(admin, resolved_shop, api_for):
    api = api_for(admin)
    a, b = Contact.objects.get(last_name="Greco"), Contact.objects.get(last_name="Bruno")
    merged = api.post("/api/v1/identity/merges", {"survivor_id": a.pk, "other_id": b.pk, "reason": "test"})
    assert merged.status_code == 201
    assert not Contact.objects.filter(pk=b.pk).exists()
    undone = api.post(f"/api/v1/identity/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert Contact.objects.filter(pk=b.pk).exists()
    again = api.post(f"/api/v1/identity/merges/{merged.json()['id']}/undo")
    assert again.status_code == 409
    golden = api.get(f"/api/v1/identity/contacts/{a.pk}/golden")
    assert {d["field"]: d["rule"] for d in golden.json()}["first_name"] == "most_trusted"


def test_a_sales_rep_sees_only_the_records_of_their_teams_contacts(make_user, team, admin, resolved_shop, api_for):
    rep = make_user(role=Role.SALES, team=team)
    mine = make_contact(owner=rep)
    SourceRecord.objects.filter(source__name="webshop", source_key="W3").update(contact=mine)
    listed = api_for(rep).get("/api/v1/identity/records").json()["results"]
    assert [r["source_id"] for r in listed] == ["W3"]
    other = SourceRecord.objects.get(source_key="W4")
    assert api_for(rep).get(f"/api/v1/identity/records/{other.pk}").status_code == 404
    assert api_for(make_user(role=Role.ANALYST)).post(
        "/api/v1/identity/merges", {"survivor_id": 1, "other_id": 2}
    ).status_code in (403, 422)


def test_contacts_typed_into_the_crm_are_backfilled_and_then_matched(admin):
    # given a contact entered by hand, before any source sent anything
    typed = make_contact(
        first_name="Ottavia", last_name="Fontana", email="ottavia.fontana@example.com", phone="+393401231234"
    )

    # when a source sends the same person
    _send(
        admin,
        "newsletter",
        "N-1",
        {"first_name": "Ottavia", "last_name": "Fontana", "email": "OTTAVIA.FONTANA@example.com"},
    )
    report = services.identity_resolve(actor=admin)

    # then the typed contact got its own record in the source "cuore" and the newcomer joined it
    assert report.figures["contacts_backfilled"] == 1
    crm = SourceRecord.objects.get(source__name="cuore")
    assert (crm.contact, crm.link_method, crm.values["email"]) == (typed, LinkMethod.CRM, "ottavia.fontana@example.com")
    assert SourceRecord.objects.get(source_key="N-1").contact == typed
    assert Contact.objects.count() == 1
    assert services.identity_backfill(actor=admin) == 0  # once only


def test_golden_records_of_many_contacts_at_once_leave_nothing_for_one_by_one(admin, resolved_shop):
    from cuore.contacts.services import contact_update
    from cuore.core.audit import audit_channel
    from cuore.core.models import AuditEntry, Channel
    from cuore.identity import bulk, golden

    contacts = {c.last_name: c for c in Contact.objects.all()}
    with audit_channel(Channel.UI):  # a hand edit: no source may change it
        contact_update(actor=admin, contact=contacts["Verdi"], data={"first_name": "Peppino"})
    till = services.source_ensure(actor=admin, name="till")
    services.source_update(actor=admin, source=till, trust=90)
    for index, (first, last, *_rest) in enumerate(PEOPLE[:6]):
        values = {
            "first_name": first.upper(),
            "last_name": last,
            "title": "Dott.",
            "email": f"{first}.{last}@till.example.com".lower(),
            "mobile": f"+39340000{index:04d}",
            "line1": f"Via Nuova {index}",
            "city": "Roma",
            "postal_code": "00100",
        }
        record, _ = services.record_upsert(
            source=till, kind=RecordKind.CONTACT, key=f"T{index}", raw=values, values=values
        )
        SourceRecord.objects.filter(pk=record.pk).update(contact=contacts[last], status=LinkStatus.LINKED)
    point_adds = AuditEntry.objects.filter(action="contact.point_add").count()

    bulk.golden_apply_many(actor=admin, contact_ids=[c.pk for c in contacts.values()], chunk=4)

    bianchi, verdi = Contact.objects.get(last_name="Bianchi"), Contact.objects.get(last_name="Verdi")
    assert (bianchi.first_name, bianchi.title) == ("ANNA", "Dott.")  # the most trusted source's name
    assert verdi.first_name == "Peppino"  # the hand edit wins
    assert list(
        bianchi.points.filter(kind__in=["email", "mobile"])
        .order_by("kind", "-is_primary")
        .values_list("value", "is_primary")
    ) == [("anna.b@example.com", True), ("anna.bianchi@till.example.com", False), ("+393400000001", True)]
    assert set(bianchi.addresses.values_list("line1", "is_primary")) == {
        ("Corso Italia 5", True),
        ("Via Nuova 1", False),
    }
    assert AuditEntry.objects.filter(action="contact.point_add").count() == point_adds + 12
    # One contact at a time finds nothing left to do.
    for contact in Contact.objects.all():
        applied = golden.golden_apply(actor=admin, contact=contact)
        assert (applied.get("fields"), applied["points"], applied["address"]) == (None, 0, False), contact
