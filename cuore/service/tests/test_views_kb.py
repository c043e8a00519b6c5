"""The knowledge base pages for every role: browsing, searching, reading, writing, publishing; the ticket's picker."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuore.core.models import AuditEntry
from cuore.service import views
from cuore.service.models import Article

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "sales_other", "support", "marketing", "analyst"]
WRITERS = {"admin", "manager", "support"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def users(users_by_role, make_user, other_team):
    return {**users_by_role, "sales_other": make_user(role="sales", team=other_team, username="south_rep")}


@pytest.fixture
def login(client, users):
    def as_role(role: str):
        client.force_login(users[role])
        return client

    return as_role


@pytest.fixture
def published(make_article):
    return make_article(
        "Reset your password",
        body="Open the login page and choose Forgot password.",
        published=True,
        is_faq=True,
        category="account",
    )


@pytest.fixture
def draft(make_article):
    return make_article("Refund policy draft", body="Refunds within 30 days.", language="it")


def article_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-testid="article-row-(\d+)"', html)]


# ---- browsing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_article_list_by_role(login, published, draft, role):
    response = login(role).get(reverse("service:articles"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="article-list"' in html
    writer = role in WRITERS
    assert sorted(article_ids(html)) == sorted([published.pk, draft.pk] if writer else [published.pk])
    assert ("Refund policy draft" in html) is writer
    assert ('data-testid="article-new"' in html) is writer
    assert ('name="state"' in html) is writer  # the drafts filter


def test_article_list_asks_anonymous_to_sign_in(client):
    response = client.get(reverse("service:articles"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_article_search_by_words_title_first(login, make_article):
    in_body = make_article("Shipping times", body="How to reset a router after delivery.", published=True)
    in_title = make_article("Router reset", body="Hold the button.", published=True)
    make_article("Unrelated", body="Nothing here.", published=True)
    client = login("sales")

    html = client.get(reverse("service:articles"), {"q": "router reset"}).content.decode()
    none = client.get(reverse("service:articles"), {"q": "router banana"}).content.decode()

    assert article_ids(html) == [in_title.pk, in_body.pk]
    assert article_ids(none) == [] and "No article holds all these words." in none


def test_article_filters(login, published, draft, make_article):
    english_plain = make_article("Opening hours", body="9 to 5.", published=True)
    client = login("manager")

    def ids(**params) -> list[int]:
        return sorted(article_ids(client.get(reverse("service:articles"), params).content.decode()))

    assert ids(language="it") == [draft.pk]
    assert ids(faq="yes") == [published.pk]
    assert ids(faq="no") == sorted([draft.pk, english_plain.pk])
    assert ids(state="draft") == [draft.pk]
    assert ids(state="published") == sorted([published.pk, english_plain.pk])


def test_readers_cannot_ask_for_drafts(login, published, draft):
    html = login("marketing").get(reverse("service:articles"), {"state": "draft"}).content.decode()

    assert article_ids(html) == [published.pk]


def test_article_orderings_and_pages(login, make_article, monkeypatch):
    monkeypatch.setattr(views, "ARTICLE_PAGE_SIZE", 2)
    b, c, a = (make_article(title, published=True) for title in ("Beta", "Gamma", "Alpha"))
    client = login("sales")

    by_title = client.get(reverse("service:articles"), {"ordering": "title"}).content.decode()
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]*)"', by_title).group(1).replace("&amp;", "&")
    second = client.get(reverse("service:articles") + next_url).content.decode()
    newest = client.get(reverse("service:articles")).content.decode()

    assert article_ids(by_title) == [a.pk, b.pk]
    assert article_ids(second) == [c.pk]
    assert article_ids(newest) == [a.pk, c.pk]


def test_search_results_page_by_relevance(login, make_article, monkeypatch):
    monkeypatch.setattr(views, "ARTICLE_PAGE_SIZE", 1)
    body_match = make_article("Deliveries", body="Track a parcel online.", published=True)
    title_match = make_article("Track a parcel", body="Use the number.", published=True)
    client = login("sales")

    first = client.get(reverse("service:articles"), {"q": "parcel"}).content.decode()
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]*)"', first).group(1).replace("&amp;", "&")
    second = client.get(reverse("service:articles") + next_url).content.decode()

    assert article_ids(first) == [title_match.pk]
    assert article_ids(second) == [body_match.pk]


def test_article_list_survives_a_bad_cursor(login, published):
    html = login("sales").get(reverse("service:articles"), {"cursor": "x"}).content.decode()

    assert "no longer valid" in html and article_ids(html) == [published.pk]


def test_article_list_answers_htmx_with_the_results(login, published):
    response = login("support").get(reverse("service:articles"), {"q": "password"}, headers=HTMX)

    html = response.content.decode()
    assert "<html" not in html and article_ids(html) == [published.pk]


def test_article_list_costs_the_same_queries_for_more_rows(login, make_article):
    client = login("support")
    make_article("One", published=True)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("service:articles"))
    for n in range(10):
        make_article(f"More {n}", language="de" if n % 2 else "en")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("service:articles"))

    assert len(article_ids(response.content.decode())) == 11
    assert len(many) == len(few)


# ---- reading ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_article_page_by_role(login, published, draft, role):
    client = login(role)

    shown = client.get(reverse("service:article", args=[published.pk]))
    drafted = client.get(reverse("service:article", args=[draft.pk]))

    assert shown.status_code == 200
    html = shown.content.decode()
    assert "Reset your password" in html and "Forgot password" in html
    writer = role in WRITERS
    assert ('data-testid="article-edit"' in html) is writer
    assert ('data-testid="article-unpublish"' in html) is writer
    assert drafted.status_code == (200 if writer else 404)
    if writer:
        assert 'data-testid="article-publish"' in drafted.content.decode()


def test_missing_article_is_404(login):
    assert login("admin").get(reverse("service:article", args=[424242])).status_code == 404


# ---- writing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_new_article_page_by_role(login, role):
    response = login(role).get(reverse("service:article_create"))

    assert response.status_code == (200 if role in WRITERS else 403)
    if role in WRITERS:
        assert 'data-testid="article-form"' in response.content.decode()


def test_create_article(login, users):
    response = login("support").post(
        reverse("service:article_create"),
        {
            "title": "Change the delivery address",
            "body": "Write to us.",
            "language": "IT",
            "category": "orders",
            "is_faq": "on",
            "published": "on",
        },
    )

    article = Article.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("service:article", args=[article.pk])
    assert (article.title, article.language, article.is_faq, article.published) == (
        "Change the delivery address",
        "it",
        True,
        True,
    )
    assert article.author == users["support"]
    entry = AuditEntry.objects.get(action="article.create")
    assert entry.actor == users["support"] and entry.channel == "ui"


def test_create_article_shows_errors_beside_the_fields(login):
    response = login("manager").post(
        reverse("service:article_create"), {"title": "", "body": "Text", "language": "english!"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(
        r'name="title"[^>]*class="form-control is-invalid"|class="form-control is-invalid"[^>]*name="title"', html
    )
    assert "must be a language code such as en, it or pt-br" not in html  # the form stopped at the title
    assert not Article.objects.exists()

    language = login("manager").post(
        reverse("service:article_create"), {"title": "Hours", "body": "Text", "language": "english!"}
    )
    assert language.status_code == 200
    assert "must be a language code such as en, it or pt-br" in language.content.decode()
    assert re.search(
        r'class="form-control is-invalid"[^>]*name="language"|name="language"[^>]*class="form-control is-invalid"',
        language.content.decode(),
    )
    assert not Article.objects.exists()


@pytest.mark.parametrize("role", ["sales", "marketing", "analyst"])
def test_readers_cannot_create_articles(login, role):
    response = login(role).post(reverse("service:article_create"), {"title": "X", "body": "Y", "language": "en"})

    assert response.status_code == 403
    assert not Article.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_edit_article_by_role(login, published, role):
    client = login(role)

    page = client.get(reverse("service:article_edit", args=[published.pk]))
    saved = client.post(
        reverse("service:article_edit", args=[published.pk]),
        {"title": "Reset a password", "body": "New text.", "language": "en", "category": "account"},
    )

    published.refresh_from_db()
    if role in WRITERS:
        assert page.status_code == 200 and 'value="Reset your password"' in page.content.decode()
        assert saved.status_code == 302
        assert (published.title, published.body, published.is_faq) == ("Reset a password", "New text.", False)
        assert AuditEntry.objects.get(action="article.update").changes["title"] == [
            "Reset your password",
            "Reset a password",
        ]
    else:
        assert (page.status_code, saved.status_code) == (403, 403)
        assert published.title == "Reset your password"


def test_edit_a_draft_is_404_for_readers(login, draft):
    assert login("analyst").get(reverse("service:article_edit", args=[draft.pk])).status_code == 404


def test_edit_shows_errors_beside_the_fields(login, published):
    response = login("support").post(
        reverse("service:article_edit", args=[published.pk]), {"title": "Ok", "body": "", "language": "en"}
    )

    assert response.status_code == 200
    assert re.search(
        r'<textarea name="body"[^>]*class="form-control is-invalid"|class="form-control is-invalid"[^>]*name="body"',
        response.content.decode(),
    )
    published.refresh_from_db()
    assert published.title == "Reset your password"


@pytest.mark.parametrize("role", ROLES)
def test_publish_and_unpublish_by_role(login, draft, role):
    client = login(role)

    published = client.post(reverse("service:article_publish", args=[draft.pk]))
    draft.refresh_from_db()
    state_after_publish = draft.published
    unpublished = client.post(reverse("service:article_unpublish", args=[draft.pk]))
    draft.refresh_from_db()

    if role in WRITERS:
        assert (published.status_code, unpublished.status_code) == (302, 302)
        assert state_after_publish is True and draft.published is False
        assert list(AuditEntry.objects.filter(object_id=str(draft.pk)).order_by("id").values_list("action", flat=True))[
            -2:
        ] == ["article.publish", "article.unpublish"]
    else:
        # A draft is invisible to readers: 404, and nothing changes.
        assert (published.status_code, unpublished.status_code) == (404, 404)
        assert state_after_publish is False


def test_analyst_cannot_unpublish_a_published_article(login, published):
    response = login("analyst").post(reverse("service:article_unpublish", args=[published.pk]))

    published.refresh_from_db()
    assert response.status_code == 403 and published.published is True


def test_publish_needs_post(login, draft):
    assert login("support").get(reverse("service:article_publish", args=[draft.pk])).status_code == 405


# ---- the ticket page's knowledge-base picker ------------------------------------------------------------------------


def test_picker_lists_matching_published_articles_with_insert_buttons(login, published, draft):
    response = login("support").get(reverse("service:article_search"), {"q": "password"}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-testid="kb-result-{published.pk}"' in html
    assert f'data-testid="kb-insert-{published.pk}"' in html and f'data-testid="kb-insert-link-{published.pk}"' in html
    assert 'data-text="Open the login page and choose Forgot password."' in html
    assert f"http://testserver/kb/{published.pk}/" in html


def test_picker_leaves_out_drafts_and_needs_words(login, published, draft):
    client = login("support")

    drafts = client.get(reverse("service:article_search"), {"q": "refund"}).content.decode()
    empty = client.get(reverse("service:article_search"), {"q": "  "}).content.decode()

    assert 'data-testid="kb-no-results"' in drafts
    assert empty.strip() == ""


def test_picker_shows_no_insert_buttons_to_readers(login, published):
    html = login("analyst").get(reverse("service:article_search"), {"q": "password"}).content.decode()

    assert f'data-testid="kb-result-{published.pk}"' in html
    assert "data-kb-insert" not in html
