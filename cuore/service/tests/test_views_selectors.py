"""The selectors the web pages added: the knowledge base's languages and relevance pages, the ticket assignees."""

from __future__ import annotations

import pytest

from cuore.core.errors import NotFound, ValidationFailed
from cuore.service import selectors

pytestmark = pytest.mark.django_db


def test_article_languages_follow_what_the_actor_sees(users_by_role, make_article):
    make_article("Hours", language="en", published=True)
    make_article("Orari", language="it", published=True)
    make_article("Horaires", language="fr")  # a draft

    assert selectors.article_languages(actor=users_by_role["support"]) == ["en", "fr", "it"]
    assert selectors.article_languages(actor=users_by_role["sales"]) == ["en", "it"]


def test_article_page_by_relevance_walks_every_match_once(users_by_role, make_article):
    body_only = [make_article(f"Note {n}", body="About invoices.", published=True) for n in range(3)]
    in_title = make_article("Invoices explained", body="Read on.", published=True)
    found = selectors.article_list(actor=users_by_role["sales"], q="invoices")

    pages, cursor = [], None
    while True:
        page = selectors.article_page_by_relevance(found, cursor=cursor, limit=2)
        pages.append([article.pk for article in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [[in_title.pk, body_only[2].pk], [body_only[1].pk, body_only[0].pk]]


def test_article_page_by_relevance_refuses_bad_cursors_and_limits(users_by_role):
    found = selectors.article_list(actor=users_by_role["sales"], q="x")

    with pytest.raises(ValidationFailed) as bad_cursor:
        selectors.article_page_by_relevance(found, cursor="bm90LWEtY3Vyc29y", limit=5)
    with pytest.raises(ValidationFailed) as bad_limit:
        selectors.article_page_by_relevance(found, cursor=None, limit=0)

    assert bad_cursor.value.errors == {"cursor": "is not a valid cursor for this list and ordering"}
    assert "limit" in bad_limit.value.errors


def test_ticket_assignee_choices_are_the_active_agents(users_by_role, make_user):
    gone = make_user(role="support", username="gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    names = [user.username for user in selectors.ticket_assignee_choices(actor=users_by_role["analyst"])]

    assert names == sorted(users_by_role[role].username for role in ("admin", "manager", "support"))


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_ticket_assignee_choices_hidden_from_who_sees_no_tickets(users_by_role, role):
    with pytest.raises(NotFound):
        selectors.ticket_assignee_choices(actor=users_by_role[role])
