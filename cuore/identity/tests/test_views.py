"""The identity pages: the duplicate review queue, a pair, merges and splits, sources, the contact's panel."""

from __future__ import annotations

import itertools
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cuore.contacts.models import ConsentEvent, Contact, ContactPoint
from cuore.contacts.tests.factories import make_contact
from cuore.core.models import AuditEntry
from cuore.identity import selectors
from cuore.identity.merging import contacts_merge, record_split
from cuore.identity.models import (
    LinkMethod,
    LinkStatus,
    MergeEvent,
    ReviewItem,
    ReviewStatus,
    Source,
    SourceRecord,
)

ROLES = ["admin", "manager", "sales", "support", "marketing", "analyst"]
EVERYONE = [*ROLES, "sales_other"]
MERGERS = {"admin", "manager", "sales", "support", "marketing"}  # write identity and contacts
EVIDENCE = [
    {"comparison": "first_name", "level": "exact", "weight": 3.25},
    {"comparison": "last_name", "level": "jaro-winkler ≥ 0.92", "weight": 2.5},
    {"comparison": "email", "level": "different", "weight": -4.0},
    {"comparison": "birth_date", "level": "missing", "weight": 0.0},
]
_keys = itertools.count(1)


@pytest.fixture
def people(users_by_role, make_user, other_team):
    return {**users_by_role, "sales_other": make_user(role="sales", team=other_team)}


def login(client, user):
    client.force_login(user)
    return client


def htmx():
    return {"HTTP_HX_REQUEST": "true"}


def source(name: str = "shop", trust: int = 50) -> Source:
    return Source.objects.get_or_create(name=name, defaults={"trust": trust})[0]


def person(first: str, last: str, *, owner=None, sources=("shop",), email: str | None = None, **values) -> Contact:
    """A contact and one linked contact record per source, as an import leaves them."""
    contact = make_contact(first_name=first, last_name=last, owner=owner, email=email)
    for name in sources:
        SourceRecord.objects.create(
            source=source(name),
            kind="contact",
            source_key=f"K{next(_keys)}",
            values={"first_name": first, "last_name": last, **({"email": email} if email else {}), **values},
            contact=contact,
            status=LinkStatus.LINKED,
            link_method=LinkMethod.NEW,
            linked_at=timezone.now(),
        )
    return contact


def pair(a: Contact, b: Contact, probability: float = 0.8) -> ReviewItem:
    first, second = sorted((a, b), key=lambda c: c.pk)
    return ReviewItem.objects.create(
        contact=first,
        candidate=second,
        probability=probability,
        weight=3.75,
        evidence=EVIDENCE,
        record=first.source_records.first(),
        candidate_record=second.source_records.first(),
    )


@pytest.fixture
def world(people):
    """Two possible duplicates in the sales rep's team, two in the other team's."""
    rep, other = people["sales"], people["sales_other"]
    mario = person("Mario", "Rossi", owner=rep, email="mario@example.com")
    mario2 = person("Mario", "Rosi", owner=rep, sources=("till",), email="m.rossi@example.com")
    anna = person("Anna", "Neri", owner=other)
    anna2 = person("Anna", "Neri", owner=other, sources=("till",))
    return {
        "mario": mario,
        "mario2": mario2,
        "anna": anna,
        "anna2": anna2,
        "ours": pair(mario, mario2, 0.83),
        "theirs": pair(anna, anna2, 0.91),
    }


def sees_team_only(role: str) -> bool:
    return role.startswith("sales")


# ---- access --------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for url in [
        reverse("identity:review"),
        reverse("identity:review_item", args=[world["ours"].pk]),
        reverse("identity:merges"),
        reverse("identity:sources"),
        reverse("identity:contact_merge", args=[world["mario"].pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(reverse("identity:review_accept", args=[world["ours"].pk]))
    assert response.status_code == 302 and ReviewItem.objects.get(pk=world["ours"].pk).status == ReviewStatus.OPEN


# ---- the review queue ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_the_queue_shows_the_pairs_the_user_may_see_most_likely_first(client, people, world, role):
    response = login(client, people[role]).get(reverse("identity:review"))
    assert response.status_code == 200
    shown = [row["item"].pk for row in response.context["rows"]]
    if role == "sales":
        assert shown == [world["ours"].pk]
    elif role == "sales_other":
        assert shown == [world["theirs"].pk]
    else:
        assert shown == [world["theirs"].pk, world["ours"].pk]
    page = response.content.decode()
    if role == "sales":
        assert "Anna" not in page and "83%" in page
        assert response.context["rows"][0]["contact_sources"] == ["shop"]
        assert response.context["rows"][0]["candidate_sources"] == ["till"]


def test_the_queue_leaves_out_answered_pairs_and_costs_the_same_queries(client, people, world):
    login(client, people["manager"])
    ReviewItem.objects.filter(pk=world["theirs"].pk).update(status=ReviewStatus.REJECTED)
    client.get(reverse("identity:review"))

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("identity:review"))
        return len(captured.captured_queries), len(response.context["rows"])

    few, shown = count()
    assert shown == 1
    for i in range(10):
        pair(person("Luca", f"Bianchi{i}", sources=("shop", "till")), person("Luca", f"Bianchi{i}", sources=("web",)))
    many, shown = count()
    assert (many, shown) == (few, 11)


def test_the_queue_pages_with_a_cursor(client, people):
    for i in range(52):
        pair(person("Ugo", f"Pari{i}"), person("Ugo", f"Pari{i}"), probability=0.5 + i / 200)
    login(client, people["admin"])
    first = client.get(reverse("identity:review"))
    assert len(first.context["rows"]) == 50 and first.context["next_cursor"]
    second = client.get(reverse("identity:review"), {"cursor": first.context["next_cursor"]})
    assert [row["item"].probability for row in second.context["rows"]] == [0.505, 0.5]
    assert client.get(reverse("identity:review"), {"cursor": "nonsense"}).status_code == 404


# ---- a pair --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_a_pair_is_shown_to_whoever_sees_both_contacts(client, people, world, role):
    response = login(client, people[role]).get(reverse("identity:review_item", args=[world["ours"].pk]))
    if role == "sales_other":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="pair-side"') == 2
    assert "mario@example.com" in page and "m.rossi@example.com" in page
    assert page.count('data-testid="side-record"') == 2
    assert ('data-testid="accept-form"' in page) == (role in MERGERS)
    assert ('data-testid="reject-form"' in page) == (role in MERGERS)


def test_the_evidence_is_a_table_of_weights_green_red_and_grey(client, people, world):
    page = login(client, people["admin"]).get(reverse("identity:review_item", args=[world["ours"].pk]))
    text = page.content.decode()
    tones = re.findall(r'data-testid="evidence-row" data-comparison="(\w+)" data-tone="(\w+)"', text)
    assert tones == [
        ("first_name", "agrees"),
        ("last_name", "agrees"),
        ("email", "disagrees"),
        ("birth_date", "missing"),
    ]
    assert "+3.2" in text and "-4.0" in text and "bg-danger" in text and "bg-success" in text
    assert "very similar" in text  # the level in words
    assert "width: 100%" in text  # the largest weight (-4.0) fills its half


def test_missing_and_huge_ids_are_404(client, people):
    login(client, people["admin"])
    assert client.get(reverse("identity:review_item", args=[999999])).status_code == 404
    assert client.get(reverse("identity:review_item", args=[2**63])).status_code == 404
    assert client.post(reverse("identity:review_accept", args=[999999])).status_code == 404
    assert client.post(reverse("identity:merge_undo", args=[999999])).status_code == 404
    assert client.post(reverse("identity:record_split", args=[999999])).status_code == 404
    assert client.post(reverse("identity:source_update", args=[999999]), {}).status_code == 404


def test_accepting_merges_and_the_undo_in_the_message_restores_the_contact(client, people, world):
    rep = people["sales"]
    kept, merged, item = world["mario"], world["mario2"], world["ours"]
    consent = ConsentEvent.objects.create(
        contact=merged, purpose="marketing", channel="email", status="granted", source="web form",
        occurred_at=timezone.now(),
    )  # fmt: skip
    login(client, rep)
    response = client.post(reverse("identity:review_accept", args=[item.pk]), {"reason": "same phone"})
    assert response.status_code == 302 and response["Location"] == reverse("customer:contact", args=[kept.pk])
    assert not Contact.objects.filter(pk=merged.pk).exists()
    assert ConsentEvent.objects.get(pk=consent.pk).contact_id == kept.pk  # its history on the other
    assert ContactPoint.objects.filter(contact=kept, value="m.rossi@example.com").exists()
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewStatus.ACCEPTED
    event = MergeEvent.objects.get()
    assert (event.contact_id, event.other_id, event.reason, event.actor) == (kept.pk, merged.pk, "same phone", rep)
    assert AuditEntry.objects.filter(action="contact.merge", object_id=str(kept.pk)).exists()

    contact_page = client.get(response["Location"])
    assert contact_page.status_code == 200
    text = contact_page.content.decode()
    assert 'data-testid="undo-message-form"' in text  # the message holds an "Undo" button
    undo_url = reverse("identity:merge_undo", args=[event.pk])
    assert f'action="{undo_url}"' in text
    assert 'data-testid="identity-panel"' in text and text.count('data-testid="source-record"') == 2

    undone = client.post(undo_url, {"next": response["Location"]})
    assert undone.status_code == 302 and undone["Location"] == response["Location"]
    restored = Contact.objects.get(pk=merged.pk)
    assert restored.last_name == "Rosi"
    assert Contact.objects.get(pk=kept.pk).last_name == "Rossi"  # its golden record is its own records' again
    assert ConsentEvent.objects.get(pk=consent.pk).contact_id == merged.pk
    assert MergeEvent.objects.get().undone_by == rep
    again = client.post(undo_url)
    assert again.status_code == 409 and "already been undone" in again.content.decode()


@pytest.mark.parametrize("role", ["analyst", "sales_other"])
def test_those_who_may_not_decide_cannot_accept_or_reject(client, people, world, role):
    item = world["ours"]
    login(client, people[role])
    expected = 404 if role == "sales_other" else 403
    assert client.post(reverse("identity:review_accept", args=[item.pk])).status_code == expected
    assert client.post(reverse("identity:review_reject", args=[item.pk])).status_code == expected
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewStatus.OPEN
    assert Contact.objects.filter(pk=world["mario2"].pk).exists()


def test_rejecting_keeps_them_apart_and_an_answered_pair_is_a_conflict(client, people, world):
    item = world["theirs"]
    login(client, people["support"])
    response = client.post(reverse("identity:review_reject", args=[item.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("identity:review")
    item.refresh_from_db()
    assert (item.status, item.decided_by) == (ReviewStatus.REJECTED, people["support"])
    assert AuditEntry.objects.filter(action="identity.review_reject").exists()
    assert client.post(reverse("identity:review_accept", args=[item.pk])).status_code == 409
    page = client.get(reverse("identity:review_item", args=[item.pk])).content.decode()
    assert 'data-testid="pair-decided"' in page and 'data-testid="accept-form"' not in page


# ---- merges --------------------------------------------------------------------------------------


@pytest.fixture
def merged(people, world):
    """The rep's pair merged, and one record of the other team's contact split off."""
    event = contacts_merge(actor=people["admin"], survivor=world["mario"], other=world["mario2"], reason="dup")
    anna = world["anna"]
    SourceRecord.objects.create(
        source=source("web"), kind="contact", source_key="W1", values={"first_name": "Anna", "last_name": "Neri"},
        contact=anna, status=LinkStatus.LINKED, link_method=LinkMethod.EMAIL, link_score=1.0,
    )  # fmt: skip
    split = record_split(actor=people["admin"], record=anna.source_records.get(source_key="W1"), reason="not her")
    return {"merge": event, "split": split}


@pytest.mark.parametrize("role", EVERYONE)
def test_the_merges_page_lists_what_the_user_may_see_newest_first(client, people, merged, role):
    response = login(client, people[role]).get(reverse("identity:merges"))
    assert response.status_code == 200
    shown = [line["event"].pk for line in response.context["lines"]]
    if role == "sales":
        assert shown == [merged["merge"].pk]
    elif role == "sales_other":
        assert shown == [merged["split"].pk]
    else:
        assert shown == [merged["split"].pk, merged["merge"].pk]
    page = response.content.decode()
    assert ('data-testid="undo-button"' in page) == (role != "analyst")
    if role == "admin":
        assert "Mario Rosi" in page and "not her" in page and "dup" in page


def test_the_merges_page_costs_the_same_queries_however_many(client, people, merged):
    login(client, people["manager"])
    client.get(reverse("identity:merges"))

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("identity:merges")).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for i in range(6):
        contacts_merge(actor=people["admin"], survivor=person("Eva", f"Blu{i}"), other=person("Eva", f"Blu{i}"))
    assert count() == few


def test_undoing_a_split_from_the_merges_page(client, people, merged):
    split = merged["split"]
    login(client, people["manager"])
    response = client.post(reverse("identity:merge_undo", args=[split.pk]), {"next": reverse("identity:merges")})
    assert response.status_code == 302 and response["Location"] == reverse("identity:merges")
    assert SourceRecord.objects.get(source_key="W1").contact_id == split.contact_id
    assert not Contact.objects.filter(pk=split.other_id).exists()


def test_undo_refused_to_analysts_and_hidden_from_other_teams(client, people, merged):
    login(client, people["analyst"])
    assert client.post(reverse("identity:merge_undo", args=[merged["merge"].pk])).status_code == 403
    login(client, people["sales_other"])
    assert client.post(reverse("identity:merge_undo", args=[merged["merge"].pk])).status_code == 404
    assert MergeEvent.objects.get(pk=merged["merge"].pk).undone_at is None


def test_an_undo_that_cannot_be_done_says_why(client, people, world):
    kept, middle, last = world["mario"], world["mario2"], person("Mario", "Rossi", owner=people["sales"])
    first = contacts_merge(actor=people["admin"], survivor=middle, other=last)
    contacts_merge(actor=people["admin"], survivor=kept, other=middle)
    login(client, people["admin"])
    response = client.post(reverse("identity:merge_undo", args=[first.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 409
    text = response.content.decode()
    assert "undo that first" in text and 'href="/identity/merges/"' in text  # a foreign "next" is not followed


def test_the_merges_page_hx_fragments_are_not_needed_but_a_bad_cursor_is_404(client, people):
    assert login(client, people["admin"]).get(reverse("identity:merges"), {"cursor": "x"}).status_code == 404


# ---- sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERYONE)
def test_the_sources_page_counts_the_records_the_user_may_see(client, people, world, role):
    response = login(client, people[role]).get(reverse("identity:sources"))
    assert response.status_code == 200
    counts = {row["source"].name: row["counts"].get("records", 0) for row in response.context["rows"]}
    assert counts == ({"shop": 1, "till": 1} if sees_team_only(role) else {"shop": 2, "till": 2})
    page = response.content.decode()
    assert ('data-testid="source-form"' in page) == (role != "analyst")


def test_changing_a_source_s_trust_with_htmx(client, people, world):
    shop = Source.objects.get(name="shop")
    login(client, people["manager"])
    url = reverse("identity:source_update", args=[shop.pk])
    prefix = f"source-{shop.pk}"
    response = client.post(url, {f"{prefix}-label": "Web shop", f"{prefix}-trust": "90"}, **htmx())
    assert response.status_code == 200 and 'data-testid="source-saved"' in response.content.decode()
    shop.refresh_from_db()
    assert (shop.label, shop.trust) == ("Web shop", 90)
    assert AuditEntry.objects.filter(action="source.update", object_id=str(shop.pk)).exists()

    wrong = client.post(url, {f"{prefix}-label": "Web shop", f"{prefix}-trust": "150"}, **htmx())
    assert wrong.status_code == 422
    assert 'data-testid="error-trust"' in wrong.content.decode() and "is-invalid" in wrong.content.decode()
    shop.refresh_from_db()
    assert shop.trust == 90

    plain = client.post(url, {f"{prefix}-label": "", f"{prefix}-trust": "70"})
    assert plain.status_code == 302 and plain["Location"] == reverse("identity:sources")
    full = client.post(url, {f"{prefix}-label": "", f"{prefix}-trust": "-1"})
    assert full.status_code == 200 and 'data-testid="error-trust"' in full.content.decode()


def test_analysts_may_not_change_sources(client, people, world):
    shop = Source.objects.get(name="shop")
    login(client, people["analyst"])
    response = client.post(reverse("identity:source_update", args=[shop.pk]), {f"source-{shop.pk}-trust": "1"})
    assert response.status_code == 403
    shop.refresh_from_db()
    assert shop.trust == 50


def test_the_sources_page_costs_the_same_queries_however_many(client, people, world):
    login(client, people["admin"])
    client.get(reverse("identity:sources"))

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("identity:sources")).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for i in range(8):
        person("Rita", f"Gialli{i}", sources=(f"src-{i}", "shop"))
    assert count() == few


# ---- the contact page's panel --------------------------------------------------------------------


def test_the_contact_page_shows_the_sources_panel(client, people, world):
    mario = world["mario"]
    record = mario.source_records.get()
    SourceRecord.objects.filter(pk=record.pk).update(
        link_method=LinkMethod.PROBABILISTIC, link_score=0.97, link_evidence=EVIDENCE
    )
    person_record = SourceRecord.objects.create(
        source=source("web"), kind="contact", source_key="W9", values={"first_name": "Mario", "last_name": "Rossi"},
        contact=mario, status=LinkStatus.LINKED, link_method=LinkMethod.EMAIL, link_score=1.0,
    )  # fmt: skip
    login(client, people["sales"])
    response = client.get(reverse("customer:contact", args=[mario.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="identity-panel"' in text
    assert text.count('data-testid="source-record"') == 2
    assert "Probabilistic match" in text and "97%" in text and 'data-testid="evidence-table"' in text
    assert text.count('data-testid="split-form"') == 2
    assert reverse("identity:record_split", args=[person_record.pk]) in text
    golden = dict(re.findall(r'data-testid="golden-row" data-field="(\w+)" data-rule="(\w+)"', text))
    assert golden["first_name"] == "most_trusted" and golden["birth_date"] == "unchanged"
    assert 'data-testid="merge-search"' in text


def test_the_panel_costs_the_same_queries_however_many_records_and_merges(client, people, world):
    mario = world["mario"]
    url = reverse("customer:contact", args=[mario.pk])
    login(client, people["manager"])
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for i in range(6):
        SourceRecord.objects.create(
            source=source(f"extra-{i}"), kind="contact", source_key=f"E{i}", contact=mario, status=LinkStatus.LINKED,
            link_method=LinkMethod.PROBABILISTIC, link_score=0.97, link_evidence=EVIDENCE,
            values={"first_name": "Mario", "last_name": "Rossi", "birth_date": "1980-04-03"},
        )  # fmt: skip
        contacts_merge(actor=people["admin"], survivor=mario, other=person("Mario", f"Rossi{i}", owner=people["sales"]))
    assert count() == few


def test_the_panel_offers_no_split_for_a_single_record_and_no_writes_to_analysts(client, people, world):
    login(client, people["admin"])
    text = client.get(reverse("customer:contact", args=[world["anna"].pk])).content.decode()
    assert text.count('data-testid="source-record"') == 1 and 'data-testid="split-form"' not in text
    SourceRecord.objects.create(source=source("web"), kind="contact", source_key="W2", contact=world["anna"],
                                status=LinkStatus.LINKED, link_method=LinkMethod.EMAIL)  # fmt: skip
    login(client, people["analyst"])
    text = client.get(reverse("customer:contact", args=[world["anna"].pk])).content.decode()
    assert 'data-testid="identity-panel"' in text and 'data-testid="split-form"' not in text
    assert 'data-testid="merge-search"' not in text


def test_splitting_a_record_off_and_undoing_it(client, people, world):
    mario = world["mario"]
    extra = SourceRecord.objects.create(
        source=source("web"), kind="contact", source_key="W3", values={"first_name": "Marco", "last_name": "Rossi"},
        contact=mario, status=LinkStatus.LINKED, link_method=LinkMethod.PROBABILISTIC, link_score=0.96,
    )  # fmt: skip
    login(client, people["sales"])
    response = client.post(reverse("identity:record_split", args=[extra.pk]), {"reason": "his brother"})
    assert response.status_code == 302 and response["Location"] == reverse("customer:contact", args=[mario.pk])
    extra.refresh_from_db()
    assert extra.contact_id != mario.pk and extra.link_method == LinkMethod.SPLIT
    event = MergeEvent.objects.get(kind="split")
    assert (event.reason, event.other_id) == ("his brother", extra.contact_id)
    assert AuditEntry.objects.filter(action="contact.split", object_id=str(mario.pk)).exists()
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="undo-message-form"' in page and 'data-testid="merge-history-row"' in page
    # The contact's only record left: nothing to split from.
    only = mario.source_records.get()
    refused = client.post(reverse("identity:record_split", args=[only.pk]))
    assert refused.status_code == 409 and "only record" in refused.content.decode()
    undone = client.post(reverse("identity:merge_undo", args=[event.pk]), {"next": response["Location"]})
    assert undone.status_code == 302
    assert SourceRecord.objects.get(pk=extra.pk).contact_id == mario.pk


@pytest.mark.parametrize("role", ["analyst", "sales_other"])
def test_splitting_is_refused_to_readers_and_hidden_from_other_teams(client, people, world, role):
    record = world["mario"].source_records.get()
    SourceRecord.objects.create(source=source("web"), kind="contact", source_key="W4", contact=world["mario"],
                                status=LinkStatus.LINKED)  # fmt: skip
    login(client, people[role])
    response = client.post(reverse("identity:record_split", args=[record.pk]))
    assert response.status_code == (404 if role == "sales_other" else 403)
    assert not MergeEvent.objects.exists()


# ---- merging by hand -----------------------------------------------------------------------------


def test_searching_for_the_other_contact_shows_only_visible_ones(client, people, world):
    mario = world["mario"]
    person("Mario", "Rossetti", owner=people["sales_other"])
    login(client, people["sales"])
    url = reverse("identity:contact_merge", args=[mario.pk])
    response = client.get(url, {"q": "Mario"}, **htmx())
    assert response.status_code == 200 and [t.name for t in response.templates][0] == "identity/_merge_results.html"
    assert [c.pk for c in response.context["results"]] == [world["mario2"].pk]  # not itself, not the other team's
    assert client.get(url, {"q": "m"}, **htmx()).context["results"] == []
    full = client.get(url, {"q": "Rosi"})
    assert full.status_code == 200 and 'data-testid="merge-result"' in full.content.decode()


def test_merging_by_hand_after_confirming_both(client, people, world):
    mario, mario2 = world["mario"], world["mario2"]
    login(client, people["marketing"])
    url = reverse("identity:contact_merge", args=[mario.pk])
    confirm = client.get(url, {"other": mario2.pk})
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert text.count('data-testid="pair-side"') == 2 and 'data-testid="merge-confirm-form"' in text
    response = client.post(url, {"other": mario2.pk, "reason": "same email"})
    assert response.status_code == 302 and response["Location"] == reverse("customer:contact", args=[mario.pk])
    assert not Contact.objects.filter(pk=mario2.pk).exists()
    event = MergeEvent.objects.get()
    assert (event.contact_id, event.other_id, event.reason) == (mario.pk, mario2.pk, "same email")
    assert AuditEntry.objects.filter(action="contact.merge", object_id=str(mario.pk)).exists()
    page = client.get(response["Location"]).content.decode()
    history = unescape(page.split('data-testid="merge-history"')[1])
    assert "Mario Rosi merged in" in history


def test_merging_by_hand_is_refused_where_it_should_be(client, people, world):
    mario, anna = world["mario"], world["anna"]
    url = reverse("identity:contact_merge", args=[mario.pk])
    login(client, people["analyst"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"other": world["mario2"].pk}).status_code == 403
    login(client, people["sales"])
    assert client.get(url, {"other": anna.pk}).status_code == 404  # another team's contact
    assert client.post(url, {"other": anna.pk}).status_code == 404
    assert client.get(url, {"other": "abc"}).status_code == 404
    itself = client.post(url, {"other": mario.pk})
    assert itself.status_code == 200 and "cannot be merged into itself" in itself.content.decode()
    login(client, people["sales_other"])
    assert client.get(url).status_code == 404
    assert not MergeEvent.objects.exists()


# ---- the selectors these pages added ---------------------------------------------------------------


def test_the_record_counts_and_source_names_follow_the_contacts_one_sees(people, world):
    rep = people["sales"]
    counts = selectors.source_record_counts(actor=rep)
    shop = Source.objects.get(name="shop")
    assert counts[shop.pk]["records"] == 1 and counts[shop.pk]["contacts"] == 1 and counts[shop.pk]["pending"] == 0
    everything = selectors.source_record_counts(actor=people["admin"])
    assert everything[shop.pk]["records"] == 2
    ids = [world["mario"].pk, world["anna"].pk]
    assert selectors.contact_source_names(actor=rep, contact_ids=ids) == {world["mario"].pk: ["shop"]}
    assert selectors.contact_source_names(actor=people["admin"], contact_ids=ids) == {
        world["mario"].pk: ["shop"],
        world["anna"].pk: ["shop"],
    }


# ---- languages -----------------------------------------------------------------------------------


def test_the_pages_speak_italian(client, people, world):
    people["admin"].language = "it"
    people["admin"].save(update_fields=["language"])
    login(client, people["admin"])
    assert "Possibili duplicati" in client.get(reverse("identity:review")).content.decode()
    pair_page = client.get(reverse("identity:review_item", args=[world["ours"].pk])).content.decode()
    assert "Stessa persona: unisci" in pair_page and "molto simile" in pair_page
    assert "Fiducia" in client.get(reverse("identity:sources")).content.decode()


def test_every_comparison_and_level_of_the_matching_has_words():
    from cuore.identity.matching.compare import COMPARISONS
    from cuore.identity.templatetags.identity_tags import COMPARISON_LABELS, LEVEL_LABELS

    assert [c.name for c in COMPARISONS if c.name not in COMPARISON_LABELS] == []
    assert sorted({level for c in COMPARISONS for level in c.levels} - set(LEVEL_LABELS)) == []
