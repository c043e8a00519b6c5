"""The visibility matrix: every endpoint of the API, called by every role, answers what the rules say.

The operations are read from the OpenAPI schema, so an endpoint added without a case here fails
``test_every_operation_has_a_case``. Each case names the resource whose rule (``core.visibility.MATRIX``)
governs it and the kind of call; the expected status follows from the rule:

- a role that sees nothing of the resource gets 404 (never 403, never the data);
- a sales rep of another team gets 404 on a record of the first team, and does not find it in lists;
- a role that only reads gets 403 on a write to a record it can see;
- everyone else succeeds (2xx).

``overrides`` records where an endpoint answers otherwise on purpose, with the reason.

Every role's call runs against the same world, rolled back after each call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from config.api import api
from conftest import ApiClient
from cuore.analytics.models import Alert, AlertRule, AnalyticsRun, Segment
from cuore.contacts import selectors as contact_selectors
from cuore.contacts import services as contact_services
from cuore.contacts.models import Contact
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.visibility import MATRIX, Scope
from cuore.identity import merging
from cuore.identity import services as identity_services
from cuore.identity.models import LinkMethod, LinkStatus, RecordKind, ReviewItem, Source, SourceRecord
from cuore.imports import services as import_services
from cuore.imports.models import ImportRowError
from cuore.interactions import services as interaction_services
from cuore.orders import services as order_services
from cuore.orders.tests.factories import make_category, make_order, make_product
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of
from cuore.service import services as service_services
from cuore.service.services import TargetMinutes
from cuore.users.models import Team, User
from cuore.users.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, settings):
    """The world's imports keep their files in a directory of the test's own."""
    settings.DATA_DIR = tmp_path / "var"


# The sales rep "sales" owns the world's records in team North; "sales_other" is a rep of team South.
ROLES = ["admin", "manager", "sales", "sales_other", "support", "marketing", "analyst"]


def base_role(role: str) -> str:
    return "sales" if role == "sales_other" else role


# ---- the world -----------------------------------------------------------------------------------


# A finished analytics run's reports, as cuore.analytics.reports computes them, for one customer.
ANALYTICS_REPORTS: dict[str, Any] = {
    "rfm_grid": [{"r": 5, "f": 5, "customers": 1, "monetary_avg": 60.0}],
    "pareto": [{"customers_percent": p, "margin_percent": 100.0 if p else 0} for p in range(101)],
    "clv_distribution": {"bins": [{"from": 0.0, "to": 6.0, "customers": 1}], "above": 0, "without_value": 0},
    **{
        key: [{"name": name, "customers": 1, "monetary_total": 60.0, "margin": 36.0, "clv": 120.0, "margin_share": 1.0}]
        for key, name in (("segments", "champions"), ("abc", "A"), ("tiers", "most_valuable"))
    },
    "churn_by_tier": [{"name": "most_valuable", "customers": 1, "churn_risk": 0.2, "p_alive": 0.8, "high_risk": 0}],
    "segments_over_time": [{"run_id": 1, "as_of": "2025-06-30", "name": "champions", "customers": 1}],
}


def analytics_scores(*, contact, account, product, run=None) -> dict[str, int]:
    """Scores on a contact and an account (with a churn reason and an offer); a run with its reports and job.

    With ``run`` the scores are that run's; otherwise a new run and the job that made it are created.
    """
    from cuore.analytics.models import AccountScore, ContactScore
    from cuore.core.models import Job

    ids = {}
    if run is None:
        now = timezone.now()
        run = AnalyticsRun.objects.create(
            started_at=now,
            finished_at=now,
            as_of=now.date(),
            status="succeeded",
            parameters={"as_of": now.date().isoformat(), "abc_cuts": [80, 15, 5]},
            figures={"scored": {"contact": 1, "account": 1}, "contacts": {"abc": {"A": 1}}},
            reports=ANALYTICS_REPORTS,
        )
        job = Job.objects.create(
            name="analytics.run",
            status="succeeded",
            run_after=now,
            attempts=1,
            max_attempts=1,
            result={"run_id": run.pk},
        )
        ids = {"analytics_run": run.pk, "analytics_job": job.pk}
    figures = {
        "recency_days": 5,
        "frequency": 2,
        "monetary_total": Decimal("60.00"),
        "monetary_avg": Decimal("30.00"),
        "margin": Decimal("36.00"),
        "tenure_days": 40,
        "r_score": 5,
        "f_score": 5,
        "m_score": 5,
        "rfm_segment": "champions",
        "abc_class": "A",
        "p_alive": 0.8,
        "expected_purchases": 1.5,
        "clv": Decimal("120.00"),
        "value_tier": "most_valuable",
    }
    offer = {"kind": "product", "id": product.pk, "because_kind": "product", "because_id": product.pk, "share": 0.5}
    ContactScore.objects.create(
        contact=contact,
        run=run,
        churn_risk=0.2,
        churn_reasons=[{"feature": "p_alive", "value": 0.8, "effect": None}],
        next_best_offers=[{**offer, "buyers": 20}],
        **figures,
    )
    AccountScore.objects.create(account=account, run=run, **figures)
    return ids


# A file of contacts as a shop exports it; the second row's email is malformed, so it fails.
IMPORT_CSV = "Codice cliente;Nome;Cognome;E-mail\nC1;Giulia;Neri;giulia@example.com\nC2;Marco;Gialli;marco@example\n"
IMPORT_MAPPING = {"Codice cliente": "source_id", "Nome": "first_name", "Cognome": "last_name", "E-mail": "email"}


def upload(name: str, text: str = IMPORT_CSV) -> Path:
    """A file as a user would hand it to an import, beside the test's data."""
    path = Path(django_settings.DATA_DIR) / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def contact_record(*, source: Source, contact, key: str, **values: Any) -> SourceRecord:
    """A contact record of ``source`` linked to ``contact``, as identity resolution leaves it."""
    values = {"first_name": contact.first_name, "last_name": contact.last_name, **values}
    return SourceRecord.objects.create(
        source=source,
        kind=RecordKind.CONTACT,
        source_key=key,
        raw=dict(values),
        values=values,
        contact=contact,
        status=LinkStatus.LINKED,
        link_method=LinkMethod.MANUAL,
        linked_at=timezone.now(),
    )


def identity_world(*, admin, rep, contact, key: str) -> dict[str, int]:
    """Two records of ``contact`` from the shop; a twin of it to review; a merge of two of the rep's contacts.

    Everything belongs to the rep's contacts, so a rep of another team sees none of it.
    """
    source = identity_services.source_ensure(actor=admin, name="shop")
    record = contact_record(source=source, contact=contact, key=f"{key}-1", email="anna@example.com")
    contact_record(source=source, contact=contact, key=f"{key}-2", phone="+39 02 1234567")
    twin = make_contact(owner=rep, first_name=contact.first_name, last_name=contact.last_name)
    twin_record = contact_record(source=source, contact=twin, key=f"{key}-3", email="anna@example.org")
    item = ReviewItem.objects.create(
        contact=contact,
        candidate=twin,
        record=record,
        candidate_record=twin_record,
        probability=0.8,
        weight=2.0,
        evidence=[{"comparison": "last_name", "level": "exact", "weight": 6.5}],
    )
    kept, merged_away = make_contact(owner=rep), make_contact(owner=rep)
    contact_record(source=source, contact=merged_away, key=f"{key}-4")
    event = merging.contacts_merge(actor=admin, survivor=kept, other=merged_away, reason="same person")
    return {"source": source.pk, "source_record": record.pk, "twin": twin.pk, "review_item": item.pk, "merge": event.pk}


def imports_world(*, admin, name: str) -> dict[str, int]:
    """An import ready to check and start, and one that ran with a failed row."""
    path = upload(name)
    ready = import_services.import_create(actor=admin, kind="contacts", source="shop", file=path, filename=name)
    done = import_services.import_create(actor=admin, kind="contacts", source="shop", file=path, filename=name)
    import_services.import_run(import_id=done.pk)
    return {"import": ready.pk, "done_import": done.pk}


def build_world() -> tuple[dict[str, int], dict[str, str]]:
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    users = {}
    for role in ROLES:
        team = north if role == "sales" else south if role == "sales_other" else None
        users[role] = User.objects.create_user(
            username=role, password="Secret-pass-123", role=base_role(role), team=team, email=f"{role}@example.com"
        )
    tokens = {role: token_create(actor=None, user=user).raw for role, user in users.items()}
    admin, rep = users["admin"], users["sales"]

    contact = make_contact(owner=rep, email="anna@example.com")
    account = make_account(owner=rep)
    spare_contact, spare_account = make_contact(owner=rep), make_account(owner=rep)  # nothing hangs on them
    contact_address = contact_services.address_add(actor=admin, owner=contact, line1="Via Roma 1", city="Milano")
    account_address = contact_services.address_add(actor=admin, owner=account, line1="Via Po 2", city="Torino")
    contact_services.contact_link_account(actor=admin, contact=contact, account=account)
    tag = contact_services.tag_create(actor=admin, name="VIP")
    spare_tag = contact_services.tag_create(actor=admin, name="Spare")
    contact_services.tag_attach(actor=admin, target=contact, tag=tag)
    contact_services.tag_attach(actor=admin, target=account, tag=tag)
    contact_services.consent_record(
        actor=admin, contact=contact, purpose="newsletter", channel="email", status="granted", source="web form"
    )

    pipeline = make_pipeline(is_default=True)
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, contact=contact, account=account)
    empty_stage = stage_of(pipeline, "Negotiation")
    activity = make_activity(assignee=rep, contact=contact, deal=deal, due_at=timezone.now())

    category = make_category(name="Mugs")
    spare_category = make_category(name="Plates")
    product = make_product(category=category, price=Decimal("10.00"))
    spare_product = make_product(category=category, price=Decimal("5.00"))
    draft = make_order(contact=contact, account=account, products=[(product, 2)])
    shipped = make_order(contact=contact, account=account, products=[(product, 3)])
    for status in ("confirmed", "fulfilled"):
        order_services.order_set_status(actor=None, order=shipped, status=status)
    shipment = order_services.shipment_create(actor=None, order=shipped, carrier="BRT")
    delivered = make_order(contact=contact, account=account, products=[(product, 1)])
    for status in ("confirmed", "fulfilled"):
        order_services.order_set_status(actor=None, order=delivered, status=status)
    order_services.shipment_create(actor=None, order=delivered)
    order_return = order_services.return_create(
        actor=None,
        order=delivered,
        reason="broken",
        lines=[order_services.ReturnLineInput(order_line_id=delivered.lines.get().pk, quantity=1)],
    )

    targets = [TargetMinutes(p, 60, 600) for p in ("low", "normal", "high", "urgent")]
    policy = service_services.sla_policy_create(actor=None, name="Standard", targets=targets, is_default=True)
    queue = service_services.queue_create(actor=None, name="Front desk", sla_policy=policy)
    ticket = service_services.ticket_create(actor=None, subject="Broken mug", contact=contact, queue=queue)
    solved = service_services.ticket_create(actor=None, subject="Late parcel", contact=contact, queue=queue)
    service_services.ticket_set_status(actor=None, ticket=solved, status="solved")
    article = service_services.article_create(
        actor=None, title="Returns", body="How to return an order.", published=True
    )

    interaction = interaction_services.interaction_log(
        actor=rep, channel="phone", direction="out", contact=contact, subject="Call"
    ).interaction
    conversation = interaction_services.conversation_create(actor=admin, contact=contact, channel="email")

    run = AnalyticsRun.objects.create(started_at=timezone.now(), as_of=timezone.now().date(), status="succeeded")
    segment = Segment.objects.create(
        name="Class A", definition={"match": "all", "conditions": [{"field": "abc_class", "op": "eq", "value": "A"}]}
    )
    alert_rule = AlertRule.objects.order_by("id").first()
    alert = Alert.objects.create(
        rule=alert_rule,
        contact=contact,
        run=run,
        reason={"kind": "p_alive_below", "abc_class": "A", "threshold": 0.5, "p_alive": 0.3},
        outcome="no_owner",
    )

    ids = {
        "contact": contact.pk,
        "account": account.pk,
        "spare_contact": spare_contact.pk,
        "spare_account": spare_account.pk,
        "contact_address": contact_address.pk,
        "account_address": account_address.pk,
        "point": contact.points.get().pk,
        "tag": tag.pk,
        "spare_tag": spare_tag.pk,
        "pipeline": pipeline.pk,
        "stage": stage_of(pipeline, "Proposal").pk,
        "empty_stage": empty_stage.pk,
        "deal": deal.pk,
        "activity": activity.pk,
        "category": category.pk,
        "spare_category": spare_category.pk,
        "product": product.pk,
        "spare_product": spare_product.pk,
        "order": draft.pk,
        "line": draft.lines.get().pk,
        "shipped": shipped.pk,
        "shipped_line": shipped.lines.get().pk,
        "shipment": shipment.pk,
        "return": order_return.pk,
        "policy": policy.pk,
        "queue": queue.pk,
        "ticket": ticket.pk,
        "solved": solved.pk,
        "article": article.pk,
        "interaction": interaction.pk,
        "conversation": conversation.pk,
        "team": north.pk,
        "user": rep.pk,
        "token": rep.api_tokens.get().pk,
        "segment": segment.pk,
        "alert_rule": alert_rule.pk,
        "alert": alert.pk,
    }
    ids.update(analytics_scores(contact=contact, account=account, product=product))
    ids.update(identity_world(admin=admin, rep=rep, contact=contact, key="S"))
    ids.update(imports_world(admin=admin, name="clienti.csv"))
    return ids, tokens


# ---- the cases -----------------------------------------------------------------------------------

Body = Callable[[dict[str, int]], Any]


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the OpenAPI path, with {placeholders} filled from the world's ids
    resource: str
    kind: str  # list, read, create, write
    body: Body | None = None
    params: Body | None = None  # query parameters of a GET
    listed: str | None = None  # a list case: the world record that must (or must not) be in it
    refs: str | None = None  # the resource of the world's record a create names: who cannot see it gets a 422
    multipart: bool = False  # the body is a form with a file (an upload), not JSON
    overrides: dict[str, int] = field(default_factory=dict)
    why: str = ""


def C(method: str, path: str, resource: str, kind: str, body: Body | None = None, **kw: Any) -> Case:
    return Case(method, path, resource, kind, body, **kw)


CASES = [
    # users, teams, tokens
    C("get", "/me", "users", "read", overrides={r: 200 for r in ROLES}, why="everyone reads themselves"),
    C("get", "/users", "users", "list", listed="user"),
    C("post", "/users", "users", "create", lambda w: {"username": "newbie", "role": "support"}),
    C("get", "/users/{user}", "users", "read"),
    C("patch", "/users/{user}", "users", "write", lambda w: {"first_name": "Giulia"}),
    C("get", "/teams", "teams", "list", listed="team"),
    C("post", "/teams", "teams", "create", lambda w: {"name": "East"}),
    C("get", "/teams/{team}", "teams", "read"),
    C(
        "get",
        "/tokens",
        "users",
        "list",
        overrides={r: 200 for r in ROLES},
        why="everyone lists their own tokens",
    ),
    C(
        "post",
        "/tokens",
        "users",
        "create",
        lambda w: {"name": "laptop"},
        overrides={r: 201 for r in ROLES},
        why="everyone may issue tokens for themselves",
    ),
    C(
        "post",
        "/auth/token",
        "users",
        "create",
        lambda w: {"username": "sales", "password": "Secret-pass-123"},
        overrides={r: 201 for r in ROLES},
        why="public: the credentials in the body decide, not the caller's token",
    ),
    C(
        "post",
        "/tokens/{token}/revoke",
        "users",
        "write",
        overrides={"sales": 200, "sales_other": 404, "manager": 404, "support": 404, "marketing": 404, "analyst": 404},
        why="a token is its user's (the sales rep's); only they and an admin revoke it, others do not see it",
    ),
    # accounts
    C("get", "/accounts", "accounts", "list", listed="account"),
    C("post", "/accounts", "accounts", "create", lambda w: {"name": "Acme"}),
    C("get", "/accounts/{account}", "accounts", "read"),
    C("patch", "/accounts/{account}", "accounts", "write", lambda w: {"industry": "Retail"}),
    C("delete", "/accounts/{spare_account}", "accounts", "write"),
    C("get", "/accounts/{account}/addresses", "accounts", "read"),
    C("post", "/accounts/{account}/addresses", "accounts", "write", lambda w: {"line1": "Via X 1", "city": "Roma"}),
    C("patch", "/accounts/{account}/addresses/{account_address}", "accounts", "write", lambda w: {"city": "Asti"}),
    C("delete", "/accounts/{account}/addresses/{account_address}", "accounts", "write"),
    C("post", "/accounts/{account}/tags", "accounts", "write", lambda w: {"tag_id": w["spare_tag"]}),
    C("delete", "/accounts/{account}/tags/{tag}", "accounts", "write"),
    # contacts
    C("get", "/contacts", "contacts", "list", listed="contact"),
    C("post", "/contacts", "contacts", "create", lambda w: {"first_name": "Luca", "last_name": "Bianchi"}),
    C("get", "/contacts/{contact}", "contacts", "read"),
    C("patch", "/contacts/{contact}", "contacts", "write", lambda w: {"title": "CFO"}),
    C("delete", "/contacts/{spare_contact}", "contacts", "write"),
    C(
        "post",
        "/contacts/{contact}/accounts",
        "contacts",
        "write",
        lambda w: {"account_id": w["account"], "role": "buyer"},
        overrides={"support": 422, "marketing": 422},
        why="support and marketing see no accounts: the account id they name is not found",
    ),
    C(
        "delete",
        "/contacts/{contact}/accounts/{account}",
        "contacts",
        "write",
        overrides={"support": 404, "marketing": 404},
        why="support and marketing see no accounts: the link to one is not there for them",
    ),
    C("get", "/contacts/{contact}/addresses", "contacts", "read"),
    C("post", "/contacts/{contact}/addresses", "contacts", "write", lambda w: {"line1": "Via Y 2", "city": "Bari"}),
    C("patch", "/contacts/{contact}/addresses/{contact_address}", "contacts", "write", lambda w: {"city": "Lecce"}),
    C("delete", "/contacts/{contact}/addresses/{contact_address}", "contacts", "write"),
    C("get", "/contacts/{contact}/points", "contacts", "read"),
    C(
        "post",
        "/contacts/{contact}/points",
        "contacts",
        "write",
        lambda w: {"kind": "phone", "value": "+39 02 1234567"},
    ),
    C("patch", "/contacts/{contact}/points/{point}", "contacts", "write", lambda w: {"label": "work"}),
    C("delete", "/contacts/{contact}/points/{point}", "contacts", "write"),
    C("post", "/contacts/{contact}/tags", "contacts", "write", lambda w: {"tag_id": w["spare_tag"]}),
    C("delete", "/contacts/{contact}/tags/{tag}", "contacts", "write"),
    C("get", "/contacts/{contact}/consents", "consents", "read"),
    C(
        "post",
        "/contacts/{contact}/consents",
        "consents",
        "write",
        lambda w: {"purpose": "marketing", "channel": "sms", "status": "withdrawn", "source": "call"},
    ),
    C(
        "get",
        "/contacts/{contact}/timeline",
        "contacts",
        "read",
        why="whoever sees the contact sees its timeline, with the entries their role may read",
    ),
    # tags
    C("get", "/tags", "tags", "list", listed="tag"),
    C("post", "/tags", "tags", "create", lambda w: {"name": "Gold"}),
    C("get", "/tags/{tag}", "tags", "read"),
    C("delete", "/tags/{tag}", "tags", "write"),
    # sales
    C("get", "/pipelines", "pipelines", "list", listed="pipeline"),
    C(
        "post",
        "/pipelines",
        "pipelines",
        "create",
        lambda w: {"name": "Renewals", "stages": [{"name": "Due", "probability": 50}]},
    ),
    C("get", "/pipelines/{pipeline}", "pipelines", "read"),
    C("patch", "/pipelines/{pipeline}", "pipelines", "write", lambda w: {"name": "New business"}),
    C(
        "post",
        "/pipelines/{pipeline}/stages",
        "pipelines",
        "write",
        lambda w: {"name": "Won't answer", "probability": 5},
    ),
    C("patch", "/stages/{stage}", "pipelines", "write", lambda w: {"probability": 40}),
    C("delete", "/stages/{empty_stage}", "pipelines", "write"),
    C("get", "/deals", "deals", "list", listed="deal"),
    C(
        "post",
        "/deals",
        "deals",
        "create",
        lambda w: {"name": "Renewal 2027", "contact_id": w["contact"], "amount": "500.00"},
        refs="contacts",
    ),
    C("get", "/deals/{deal}", "deals", "read"),
    C("patch", "/deals/{deal}", "deals", "write", lambda w: {"amount": "1500.00"}),
    C("delete", "/deals/{deal}", "deals", "write"),
    C("get", "/deals/{deal}/history", "deals", "read"),
    C("post", "/deals/{deal}/move", "deals", "write", lambda w: {"stage_id": w["stage"]}),
    C("post", "/deals/{deal}/win", "deals", "write", lambda w: {}),
    C("post", "/deals/{deal}/lose", "deals", "write", lambda w: {"reason": "price"}),
    C(
        "post",
        "/deals/{deal}/reopen",
        "deals",
        "write",
        lambda w: {},
        overrides={"admin": 409, "manager": 409, "sales": 409},
        why="the world's deal is open: reopening it is a conflict, after the visibility checks passed",
    ),
    C("get", "/forecast", "deals", "list"),
    C("get", "/activities", "activities", "list", listed="activity"),
    C(
        "post",
        "/activities",
        "activities",
        "create",
        lambda w: {"subject": "Call back", "kind": "call", "contact_id": w["contact"]},
        refs="contacts",
    ),
    C("get", "/activities/{activity}", "activities", "read"),
    C("patch", "/activities/{activity}", "activities", "write", lambda w: {"subject": "Call Anna"}),
    C("delete", "/activities/{activity}", "activities", "write"),
    C("post", "/activities/{activity}/complete", "activities", "write", lambda w: {}),
    C(
        "post",
        "/activities/{activity}/reopen",
        "activities",
        "write",
        lambda w: {},
        overrides={"admin": 409, "manager": 409, "sales": 409},
        why="the world's activity is not done: reopening it is a conflict, after the visibility checks passed",
    ),
    C("get", "/tasks/today", "activities", "list"),
    # orders
    C("get", "/categories", "catalog", "list", listed="category"),
    C("post", "/categories", "catalog", "create", lambda w: {"name": "Bowls"}),
    C("get", "/categories/tree", "catalog", "list"),
    C("get", "/categories/{category}", "catalog", "read"),
    C("patch", "/categories/{category}", "catalog", "write", lambda w: {"name": "Cups"}),
    C("delete", "/categories/{spare_category}", "catalog", "write"),
    C("get", "/products", "catalog", "list", listed="product"),
    C("post", "/products", "catalog", "create", lambda w: {"sku": "MUG-9", "name": "Big mug", "price": "12.00"}),
    C("get", "/products/{product}", "catalog", "read"),
    C("patch", "/products/{product}", "catalog", "write", lambda w: {"name": "Mug XL"}),
    C("delete", "/products/{spare_product}", "catalog", "write"),
    C("get", "/orders", "orders", "list", listed="order"),
    C(
        "post",
        "/orders",
        "orders",
        "create",
        lambda w: {"contact_id": w["contact"], "lines": [{"product_id": w["product"], "quantity": 1}]},
        refs="contacts",
    ),
    C("get", "/orders/summary", "orders", "read", params=lambda w: {"contact_id": w["contact"]}),
    C("get", "/orders/{order}", "orders", "read"),
    C("patch", "/orders/{order}", "orders", "write", lambda w: {"notes": "leave at the door"}),
    C("post", "/orders/{order}/confirm", "orders", "write", lambda w: {}),
    C("post", "/orders/{order}/cancel", "orders", "write", lambda w: {"reason": "changed mind"}),
    C(
        "post",
        "/orders/{shipped}/fulfil",
        "orders",
        "write",
        lambda w: {},
        overrides={"admin": 409, "manager": 409, "sales": 409},
        why="the order is already shipped: fulfilling it again is a conflict, after the visibility checks passed",
    ),
    C("post", "/orders/{order}/lines", "orders", "write", lambda w: {"product_id": w["spare_product"], "quantity": 1}),
    C("patch", "/orders/{order}/lines/{line}", "orders", "write", lambda w: {"quantity": 5}),
    C("delete", "/orders/{order}/lines/{line}", "orders", "write"),
    C("post", "/orders/{shipped}/shipments", "orders", "write", lambda w: {"carrier": "GLS"}),
    C(
        "post",
        "/orders/{shipped}/returns",
        "orders",
        "write",
        lambda w: {"reason": "wrong size", "lines": [{"order_line_id": w["shipped_line"], "quantity": 1}]},
    ),
    C("get", "/shipments/{shipment}", "orders", "read"),
    C("post", "/shipments/{shipment}/delivered", "orders", "write", lambda w: {}),
    C("get", "/returns/{return}", "orders", "read"),
    C("post", "/returns/{return}/status", "orders", "write", lambda w: {"status": "received"}),
    # service
    C("get", "/sla-policies", "service_config", "list", listed="policy"),
    C(
        "post",
        "/sla-policies",
        "service_config",
        "create",
        lambda w: {
            "name": "Gold",
            "targets": [
                {"priority": p, "first_response_minutes": 30, "resolution_minutes": 300}
                for p in ("low", "normal", "high", "urgent")
            ],
        },
    ),
    C("get", "/sla-policies/{policy}", "service_config", "read"),
    C("patch", "/sla-policies/{policy}", "service_config", "write", lambda w: {"name": "Silver"}),
    C("get", "/queues", "service_config", "list", listed="queue"),
    C("post", "/queues", "service_config", "create", lambda w: {"name": "Returns desk"}),
    C("get", "/queues/{queue}", "service_config", "read"),
    C("patch", "/queues/{queue}", "service_config", "write", lambda w: {"name": "Help desk"}),
    C("get", "/tickets", "tickets", "list", listed="ticket"),
    C("post", "/tickets", "tickets", "create", lambda w: {"subject": "Chipped plate", "contact_id": w["contact"]}),
    C("get", "/tickets/{ticket}", "tickets", "read"),
    C("patch", "/tickets/{ticket}", "tickets", "write", lambda w: {"priority": "high"}),
    C("post", "/tickets/{ticket}/status", "tickets", "write", lambda w: {"status": "open"}),
    C("post", "/tickets/{ticket}/assign", "tickets", "write", lambda w: {"assignee_id": None}),
    C("post", "/tickets/{ticket}/first-response", "tickets", "write", lambda w: {}),
    C("post", "/tickets/{solved}/rating", "tickets", "write", lambda w: {"rating": 5}),
    C("get", "/articles", "articles", "list"),
    C("post", "/articles", "articles", "create", lambda w: {"title": "Warranty", "body": "Two years."}),
    C("get", "/articles/{article}", "articles", "read"),
    C("patch", "/articles/{article}", "articles", "write", lambda w: {"title": "Returns and refunds"}),
    C("delete", "/articles/{article}", "articles", "write"),
    C("post", "/articles/{article}/publish", "articles", "write", lambda w: {}),
    C("post", "/articles/{article}/unpublish", "articles", "write", lambda w: {}),
    # interactions
    C("get", "/interactions", "interactions", "list", listed="interaction"),
    C(
        "post",
        "/interactions",
        "interactions",
        "create",
        lambda w: {"channel": "email", "direction": "in", "contact_id": w["contact"], "subject": "Hello"},
        refs="contacts",
    ),
    C("get", "/interactions/{interaction}", "interactions", "read"),
    C(
        "patch",
        "/interactions/{interaction}",
        "interactions",
        "write",
        lambda w: {"subject": "Call about mugs"},
        overrides={"support": 403},
        why="only its author (the sales rep) or a manager corrects an interaction",
    ),
    C(
        "delete",
        "/interactions/{interaction}",
        "interactions",
        "write",
        overrides={"support": 403},
        why="only its author (the sales rep) or a manager deletes an interaction",
    ),
    C("get", "/conversations", "interactions", "list", listed="conversation"),
    C(
        "post",
        "/conversations",
        "interactions",
        "create",
        lambda w: {"contact_id": w["contact"], "channel": "chat"},
        refs="contacts",
    ),
    C("get", "/conversations/{conversation}", "interactions", "read"),
    # analytics: runs, reports, scores
    C("get", "/analytics/runs", "analytics", "list"),
    C(
        "post",
        "/analytics/runs",
        "analytics",
        "create",
        lambda w: {"as_of": "2025-06-30", "abc_cuts": [80, 15], "horizon_months": 12, "churn_days": 90},
    ),
    *[
        C(
            "get",
            path,
            "analytics",
            "read",
            overrides={"sales_other": 200},
            why="runs and their jobs are no customer's: every analytics reader sees them (the whole-base "
            "counts of the figures only with the ALL scope)",
        )
        for path in ("/analytics/runs/latest", "/analytics/runs/{analytics_run}", "/analytics/jobs/{analytics_job}")
    ],
    *[
        C(
            "get",
            f"/analytics/reports/{name}",
            "analytics",
            "list",
            overrides={"sales": 404, "sales_other": 404},
            why="the reports aggregate every customer: only roles that read analytics for ALL get them",
        )
        for name in (
            "rfm-grid",
            "pareto",
            "clv-distribution",
            "segments",
            "segments-over-time",
            "abc",
            "tiers",
            "churn-by-tier",
        )
    ],
    C("get", "/analytics/contacts", "analytics", "list"),
    C("get", "/analytics/contacts/{contact}", "analytics", "read"),
    C("get", "/analytics/contacts/{contact}/history", "analytics", "read"),
    *[
        C(
            "get",
            path,
            "analytics",
            kind,
            overrides={"support": 404, "marketing": 404},
            why="support and marketing see no accounts, so no account's scores",
        )
        for path, kind in (
            ("/analytics/accounts", "list"),
            ("/analytics/accounts/{account}", "read"),
            ("/analytics/accounts/{account}/history", "read"),
        )
    ],
    # segments and alerts
    C("get", "/analytics/segments", "segments", "list", listed="segment"),
    C(
        "post",
        "/analytics/segments",
        "segments",
        "create",
        lambda w: {
            "name": "Lapsing A",
            "definition": {"conditions": [{"field": "abc_class", "op": "eq", "value": "A"}]},
        },
    ),
    C(
        "post",
        "/analytics/segments/count",
        "segments",
        "list",
        lambda w: {"definition": {"match": "all", "conditions": [{"field": "abc_class", "op": "eq", "value": "A"}]}},
        why="counting a definition reads: whoever reads segments may try one",
    ),
    C("get", "/analytics/segments/{segment}", "segments", "read"),
    C("patch", "/analytics/segments/{segment}", "segments", "write", lambda w: {"description": "for the spring"}),
    C("delete", "/analytics/segments/{segment}", "segments", "write"),
    C(
        "get",
        "/analytics/segments/{segment}/members",
        "segments",
        "read",
        why="everyone who reads segments reads their members, limited to the contacts they may see",
    ),
    C("get", "/analytics/segments/{segment}/history", "segments", "read"),
    C("get", "/analytics/segments/{segment}/changes", "segments", "read"),
    C("get", "/analytics/alert-rules", "alert_rules", "list", listed="alert_rule"),
    C("patch", "/analytics/alert-rules/{alert_rule}", "alert_rules", "write", lambda w: {"threshold": 0.4}),
    C("get", "/analytics/alerts", "alerts", "list", listed="alert"),
    # identity resolution
    C("get", "/identity/sources", "identity", "list"),
    C(
        "patch",
        "/identity/sources/{source}",
        "identity",
        "write",
        lambda w: {"label": "Web shop", "trust": 80},
        overrides={"sales_other": 200},
        why="a source is no customer's: whoever changes identity records sets its label and trust, as on the web",
    ),
    C("get", "/identity/records", "identity", "list", listed="source_record"),
    C(
        "post",
        "/identity/records",
        "identity",
        "create",
        lambda w: {
            "source": "till",
            "source_id": "T-9",
            "first_name": "Marta",
            "last_name": "Galli",
            "birth_date": "1980-05-01",
            "email": "marta@example.com",
            "external_ids": {"crm": "9"},
        },
        overrides={"sales": 403, "sales_other": 403},
        why="a record is matched against every contact (and may change the one it joins): only roles that see "
        "every contact send records, as only they import",
    ),
    C("get", "/identity/records/{source_record}", "identity", "read"),
    C("post", "/identity/records/{source_record}/split", "identity", "write", lambda w: {"reason": "another Anna"}),
    C(
        "post",
        "/identity/resolve",
        "identity",
        "create",
        lambda w: {"link_threshold": 0.9, "review_threshold": 0.5},
        overrides={"admin": 202, "manager": 202, "support": 202, "marketing": 202, "sales": 403, "sales_other": 403},
        why="resolving runs in the background (202, the job queued); it links every pending record and makes "
        "contacts of them as the caller: only roles that see every contact start it",
    ),
    C("get", "/identity/review", "identity", "list", listed="review_item"),
    C("get", "/identity/review/{review_item}", "identity", "read"),
    C("post", "/identity/review/{review_item}/accept", "identity", "write", lambda w: {"reason": "same email"}),
    C("post", "/identity/review/{review_item}/reject", "identity", "write"),
    C(
        "post",
        "/identity/merges",
        "identity",
        "create",
        lambda w: {"survivor_id": w["contact"], "other_id": w["twin"], "reason": "same person"},
        refs="contacts",
    ),
    C("get", "/identity/merges", "identity", "list", listed="merge"),
    C("get", "/identity/merges/{merge}", "identity", "read"),
    C("post", "/identity/merges/{merge}/undo", "identity", "write"),
    C("get", "/identity/contacts/{contact}/golden", "identity", "read"),
    C(
        "get",
        "/identity/export",
        "identity",
        "list",
        overrides={"sales": 403, "sales_other": 403},
        why="the export links every source record to its contact: a role that sees only some contacts may not",
    ),
    # imports (of contacts: every role that writes imports writes contacts too)
    C("get", "/imports/fields", "imports", "list", params=lambda w: {"kind": "contacts"}),
    C(
        "post",
        "/imports",
        "imports",
        "create",
        lambda w: {
            "kind": "contacts",
            "source": "shop",
            "file": SimpleUploadedFile("clienti.csv", IMPORT_CSV.encode(), "text/csv"),
        },
        multipart=True,
    ),
    C("get", "/imports", "imports", "list", listed="import"),
    C("get", "/imports/{import}", "imports", "read"),
    C("put", "/imports/{import}/mapping", "imports", "write", lambda w: {"mapping": IMPORT_MAPPING}),
    C("get", "/imports/{import}/preview", "imports", "read", params=lambda w: {"rows": 5}),
    C("post", "/imports/{import}/start", "imports", "write"),
    C("get", "/imports/{done_import}/errors", "imports", "read"),
    C("get", "/imports/{done_import}/failed.csv", "imports", "read"),
]


def expected_status(case: Case, role: str) -> int | None:
    """The status the rules give; ``None`` means any success (2xx)."""
    if role in case.overrides:
        return case.overrides[role]
    rule = MATRIX[case.resource][base_role(role)]
    if rule.read is Scope.NONE:
        return 404
    other_team = outside_team(case.resource, role)
    if other_team and case.kind in ("read", "write"):
        return 404
    if case.kind in ("list", "read"):
        return None
    if not rule.write:
        return 403
    if case.refs and outside_team(case.refs, role):
        return 422
    return None


def outside_team(resource: str, role: str) -> bool:
    """The world's records belong to "sales" in team North: under a TEAM rule, everyone else is outside."""
    return MATRIX[resource][base_role(role)].read is Scope.TEAM and role != "sales"


def fill(path: str, ids: dict[str, int]) -> str:
    return path.format(**ids)


def operation_key(case: Case) -> tuple[str, str]:
    """The case's (METHOD, OpenAPI path) with the world's placeholder names turned into the schema's."""
    return case.method.upper(), case.path


def schema_operations() -> set[tuple[str, str]]:
    operations = set()
    for path, methods in api.get_openapi_schema()["paths"].items():
        for method in methods:
            operations.add((method.upper(), path.removeprefix("/api/v1")))
    return operations


def _shape(path: str) -> str:
    """``/deals/{deal}/move`` and ``/deals/{deal_id}/move`` have the same shape ``/deals/{}/move``."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))


def send(client: ApiClient, case: Case, path: str, ids: dict[str, int]):
    """Make the case's call: a GET with its parameters, a body as JSON, or a form with a file."""
    if case.method == "get":
        return fetch(client, path, case.params(ids) if case.params else None)
    if case.method == "delete":
        return client.delete(path)
    body = case.body(ids) if case.body else {}
    if case.multipart:
        return post_form(client, path, body)
    return client._call(case.method, path, body)  # every method with a JSON body, PUT included


def post_form(client: ApiClient, path: str, form: dict[str, Any]):
    """POST ``form`` (fields and files) as multipart/form-data: ``ApiClient`` speaks only JSON."""
    return read(client.client.post(f"/api/v1{path}", data=form, headers=client.headers))


def fetch(client: ApiClient, path: str, params: dict[str, Any] | None = None):
    """``client.get``, reading a file the API streams too (``ApiClient`` reads ``content``, which it has not)."""
    return read(client.client.get(f"/api/v1{path}", params, headers=client.headers))


def read(response):
    """The answer as ``ApiClient`` gives it, with ``json_body``; a streamed one is read whole (which closes it)."""
    if response.streaming:
        streamed = response
        response = HttpResponse(
            b"".join(streamed.streaming_content), status=streamed.status_code, content_type=streamed["Content-Type"]
        )
    response.json_body = (
        json.loads(response.content)
        if response.content and response["Content-Type"].startswith("application/json")
        else None
    )
    return response


def test_every_operation_has_a_case():
    ours = {(method, _shape(path)) for method, path in map(operation_key, CASES)}
    theirs = {(method, _shape(path)) for method, path in schema_operations()}

    assert sorted(theirs - ours) == [], "endpoints without a visibility case"
    assert sorted(ours - theirs) == [], "cases for endpoints that do not exist"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method.upper()} {c.path}")
def test_every_role_gets_what_the_rules_say(case: Case):
    ids, tokens = build_world()
    path = fill(case.path, ids)
    failures = []
    for role in ROLES:
        expected = expected_status(case, role)
        client = ApiClient(tokens[role])
        savepoint = transaction.savepoint()
        try:
            response = send(client, case, path, ids)
            status = response.status_code
            ok = (200 <= status < 300) if expected is None else status == expected
            if not ok:
                failures.append(f"{role}: {status} (expected {expected or '2xx'}) {response.content[:200]!r}")
            elif status == 404:
                assert response.json_body == {"detail": "Not found.", "errors": []}, "a 404 must not carry data"
            elif case.listed and status == 200:
                listed = {row["id"] for row in response.json_body["results"]}
                sees = not outside_team(case.resource, role)
                if (ids[case.listed] in listed) != sees:
                    failures.append(f"{role}: record {case.listed} {'missing from' if sees else 'leaked into'} list")
        finally:
            transaction.savepoint_rollback(savepoint)
    assert not failures, "\n".join(failures)


# ---- the number of queries of every read ---------------------------------------------------------


def grow_world(ids: dict[str, int]) -> None:
    """Add a second record of every kind, with children, beside the world's first ones."""
    admin = User.objects.get(username="admin")
    rep = User.objects.get(pk=ids["user"])
    contact = make_contact(owner=rep, email="bruno@example.com", phone="+39 02 7654321")
    account = make_account(owner=rep)
    contact_services.address_add(actor=admin, owner=contact, line1="Via Verdi 3", city="Parma")
    contact_services.address_add(actor=admin, owner=account, line1="Via Dante 4", city="Pisa")
    contact_services.contact_link_account(actor=admin, contact=contact, account=account)
    for tag_id in (ids["tag"], ids["spare_tag"]):
        tag = contact_selectors.tag_get_for_actor(actor=admin, tag_id=tag_id)
        contact_services.tag_attach(actor=admin, target=contact, tag=tag)
        contact_services.tag_attach(actor=admin, target=account, tag=tag)
    original = contact_selectors.contact_get_for_actor(actor=admin, contact_id=ids["contact"])
    contact_services.contact_point_add(actor=admin, contact=original, kind="mobile", value="+39 333 1234567")
    contact_services.consent_record(
        actor=admin, contact=original, purpose="marketing", channel="sms", status="granted", source="shop"
    )
    pipeline = make_pipeline()
    for target in (contact, original):
        deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, contact=target, account=account)
        make_activity(assignee=rep, contact=target, deal=deal, due_at=timezone.now())
        product = make_product(category=make_category(), price=Decimal("3.00"))
        make_order(contact=target, account=account, products=[(product, 1)])
        service_services.ticket_create(actor=None, subject="Another question", contact=target)
        interaction_services.interaction_log(actor=rep, channel="email", direction="in", contact=target)
        interaction_services.conversation_create(actor=admin, contact=target, channel="chat")
    service_services.article_create(actor=None, title="Warranty", body="Two years.", published=True)
    service_services.queue_create(actor=None, name="Second line")
    Team.objects.create(name="West")
    run = AnalyticsRun.objects.get(pk=ids["analytics_run"])
    analytics_scores(contact=contact, account=account, product=make_product(), run=run)
    identity_world(admin=admin, rep=rep, contact=contact, key="G")
    till = identity_services.source_ensure(actor=admin, name="till")
    contact_record(source=till, contact=original, key="T-1", title="Dott.ssa")  # a record more on each side
    contact_record(source=till, contact=Contact.objects.get(pk=ids["twin"]), key="T-2")
    imports_world(admin=admin, name="clienti-2.csv")
    ImportRowError.objects.create(job_id=ids["done_import"], line=9, column="E-mail", reason="not an email")


READS = [case for case in CASES if case.method == "get"]


@pytest.mark.parametrize("case", READS, ids=lambda c: f"GET {c.path}")
def test_reads_cost_the_same_queries_however_many_rows(case: Case):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids, tokens = build_world()
    client = ApiClient(tokens["admin"])
    path = fill(case.path, ids)
    params = case.params(ids) if case.params else None
    fetch(client, path, params)  # warm the caches that are per process, not per request

    with CaptureQueriesContext(connection) as before:
        assert fetch(client, path, params).status_code == 200
    grow_world(ids)
    with CaptureQueriesContext(connection) as after:
        assert fetch(client, path, params).status_code == 200

    assert len(after) == len(before), [q["sql"][:120] for q in after.captured_queries]
    assert len(before) <= 8, [q["sql"][:120] for q in before.captured_queries]
