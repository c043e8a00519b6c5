"""REST endpoints for accounts, contacts, their points, addresses, tags and consents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db.models import F
from ninja import Field, Query, Router, Schema, Status

from cuore.contacts import selectors, services
from cuore.contacts.models import Account, Contact, PointKind
from cuore.core.api import Id, PathId, idempotent_create, page_of, page_response, patch_data
from cuore.core.errors import reference
from cuore.core.pagination import paginate
from cuore.core.visibility import Scope, read_scope, team_member
from cuore.users.selectors import team_get_for_actor, user_get_for_actor

router = Router(tags=["contacts"])

LifecycleName = Literal["subscriber", "lead", "qualified", "opportunity", "customer", "former_customer"]
SizeName = Literal["", "1-9", "10-49", "50-249", "250-999", "1000+"]
PointKindName = Literal["email", "phone", "mobile", "social", "external_id"]
AddressKindName = Literal["home", "work", "billing", "shipping", "registered"]
PurposeName = Literal["marketing", "newsletter", "profiling", "third_party"]
ConsentChannelName = Literal["email", "sms", "phone", "post", "any"]


# ---- scores --------------------------------------------------------------------------------------
# The analytics app keeps each customer's current scores in a one-to-one table whose reverse relation
# is named "score" on Contact and Account (ContactScore / AccountScore). cuore.contacts sits below
# cuore.analytics in the import layers (import-linter) and never imports it: the scores are read by
# the relation's name — ``select_related("score")`` in the selectors, a LEFT JOIN in the contact
# list's own query — and their fields by name. They follow the analytics rule of the visibility
# matrix: shown to whoever reads analytics for all customers, or for their team's when the record
# is the team's.
SCORE_FIELDS = (
    "rfm_segment",
    "r_score",
    "f_score",
    "m_score",
    "abc_class",
    "value_tier",
    "clv",
    "p_alive",
    "churn_risk",
    "expected_purchases",
)


class ScoresOut(Schema):
    """The customer's current scores from the last successful analytics run (details: /analytics/...)."""

    run_id: int
    rfm_segment: str
    r_score: int
    f_score: int
    m_score: int
    abc_class: str
    value_tier: str
    clv: Decimal | None
    p_alive: float | None
    churn_risk: float | None
    expected_purchases: float | None


def _scores_visible(actor: Any, *, owner_id: int | None, team_id: int | None) -> bool:
    scope = read_scope(actor, "analytics")
    return scope is Scope.ALL or (scope is Scope.TEAM and team_member(actor, owner_id=owner_id, team_id=team_id))


def _scores_of(customer: Contact | Account, context: Any) -> dict[str, Any] | None:
    """The scores of a contact or account loaded with ``select_related("score")``, or None."""
    request = (context or {}).get("request")
    actor = getattr(request, "auth", None)
    if actor is None or not _scores_visible(actor, owner_id=customer.owner_id, team_id=customer.team_id):
        return None
    score = getattr(customer, "score", None)
    if score is None:
        return None
    return {"run_id": score.run_id, **{name: getattr(score, name) for name in SCORE_FIELDS}}


def _with_scores(contacts, actor: Any) -> tuple[Any, tuple[str, ...]]:
    """The contact list's query with the score columns as ``score_<field>`` (one LEFT JOIN), and their names."""
    if read_scope(actor, "analytics") is Scope.NONE:
        return contacts, ()
    columns = {f"score_{name}": F(f"score__{name}") for name in ("run", *SCORE_FIELDS)}
    return contacts.annotate(**columns), tuple(columns)


def _row_scores(row: dict[str, Any], actor: Any) -> dict[str, Any] | None:
    run_id = row.pop("score_run", None)
    values = {name: row.pop(f"score_{name}", None) for name in SCORE_FIELDS}
    if run_id is None or not _scores_visible(actor, owner_id=row["owner_id"], team_id=row["team_id"]):
        return None
    return {"run_id": run_id, **values}


# ---- schemas -------------------------------------------------------------------------------------


class TagOut(Schema):
    id: int
    name: str
    color: str


class TagIn(Schema):
    name: str = Field(min_length=1, max_length=50)
    color: str = "#6c757d"


class TagRef(Schema):
    tag_id: Id


class AddressOut(Schema):
    id: int
    kind: str
    line1: str
    line2: str
    postal_code: str
    city: str
    province: str
    country: str
    is_primary: bool


class AddressIn(Schema):
    kind: AddressKindName = "work"
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    postal_code: str = Field("", max_length=16)
    city: str = Field(min_length=1, max_length=100)
    province: str = Field("", max_length=100)
    country: str = Field("IT", min_length=2, max_length=2)
    is_primary: bool = False


class AddressPatch(Schema):
    kind: AddressKindName | None = None
    line1: str | None = Field(None, min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    postal_code: str | None = Field(None, max_length=16)
    city: str | None = Field(None, min_length=1, max_length=100)
    province: str | None = Field(None, max_length=100)
    country: str | None = Field(None, min_length=2, max_length=2)
    is_primary: bool | None = None


class AccountOut(Schema):
    id: int
    name: str
    legal_name: str
    vat_number: str
    tax_code: str
    industry: str
    size: str
    website: str
    email: str
    phone: str
    owner_id: int | None
    team_id: int | None
    tags: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    scores: ScoresOut | None = Field(description="the current scores; null when it never bought or no run yet")

    @staticmethod
    def resolve_tags(obj: Account) -> list[str]:
        return [tag.name for tag in obj.tags.all()]

    @staticmethod
    def resolve_scores(obj: Account, context) -> dict[str, Any] | None:
        return _scores_of(obj, context)


class AccountIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    legal_name: str = Field("", max_length=200)
    vat_number: str = Field("", max_length=20)
    tax_code: str = Field("", max_length=32)
    industry: str = Field("", max_length=100)
    size: SizeName = ""
    website: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=32)
    owner_id: Id | None = None
    team_id: Id | None = None


class AccountPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    legal_name: str | None = Field(None, max_length=200)
    vat_number: str | None = Field(None, max_length=20)
    tax_code: str | None = Field(None, max_length=32)
    industry: str | None = Field(None, max_length=100)
    size: SizeName | None = None
    website: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    owner_id: Id | None = None
    team_id: Id | None = None


class AccountFilters(Schema):
    q: str | None = Field(None, max_length=200, description="name or VAT number prefix")
    owner_id: Id | None = None
    team_id: Id | None = None
    industry: str | None = None
    tag: str | None = None
    ordering: Literal["-id", "id", "name", "-updated"] = "-id"
    cursor: str | None = None
    limit: int = 50


def _primary(obj: Contact, kinds: tuple[str, ...]) -> str | None:
    points = [p for p in obj.points.all() if p.kind in kinds]
    points.sort(key=lambda p: (not p.is_primary, p.id))
    return points[0].value if points else None


class ContactOut(Schema):
    """A contact as a list shows it (built from ``selectors.contact_rows``)."""

    id: int
    first_name: str
    last_name: str
    full_name: str
    title: str
    lifecycle_stage: str
    owner_id: int | None
    team_id: int | None
    email: str | None
    phone: str | None
    tags: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    scores: ScoresOut | None = Field(description="the current scores; null when it never bought or no run yet")


class PointOut(Schema):
    id: int
    kind: str
    value: str
    value_normalized: str
    label: str
    is_primary: bool
    is_verified: bool


class PointIn(Schema):
    kind: PointKindName
    value: str = Field(min_length=1, max_length=254)
    label: str = Field("", max_length=50)
    is_primary: bool = False
    is_verified: bool = False


class PointPatch(Schema):
    value: str | None = Field(None, min_length=1, max_length=254)
    label: str | None = Field(None, max_length=50)
    is_primary: bool | None = None
    is_verified: bool | None = None


class AccountLinkOut(Schema):
    account_id: int
    role: str
    is_primary: bool


class AccountLinkIn(Schema):
    account_id: Id
    role: str = Field("", max_length=100)
    is_primary: bool = False


class ContactDetailOut(ContactOut):
    """A contact with its points, addresses and accounts (built from a model instance)."""

    language: str
    birth_date: dt.date | None
    source: str
    points: list[PointOut]
    addresses: list[AddressOut]
    accounts: list[AccountLinkOut]

    @staticmethod
    def resolve_email(obj: Contact) -> str | None:
        return _primary(obj, (PointKind.EMAIL,))

    @staticmethod
    def resolve_phone(obj: Contact) -> str | None:
        return _primary(obj, (PointKind.MOBILE, PointKind.PHONE))

    @staticmethod
    def resolve_tags(obj: Contact) -> list[str]:
        return [tag.name for tag in obj.tags.all()]

    @staticmethod
    def resolve_points(obj: Contact):
        return list(obj.points.all())

    @staticmethod
    def resolve_addresses(obj: Contact):
        return list(obj.addresses.all())

    @staticmethod
    def resolve_accounts(obj: Contact):
        return list(obj.account_links.all())

    @staticmethod
    def resolve_scores(obj: Contact, context) -> dict[str, Any] | None:
        return _scores_of(obj, context)


class ContactIn(Schema):
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    title: str = Field("", max_length=100)
    language: str = Field("", max_length=8)
    birth_date: dt.date | None = None
    lifecycle_stage: LifecycleName = "lead"
    source: str = Field("", max_length=50)
    owner_id: Id | None = None
    team_id: Id | None = None
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20)


class ContactPatch(Schema):
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=8)
    birth_date: dt.date | None = None
    lifecycle_stage: LifecycleName | None = None
    source: str | None = Field(None, max_length=50)
    owner_id: Id | None = None
    team_id: Id | None = None


class ContactFilters(Schema):
    q: str | None = Field(None, max_length=200, description="name, email or phone prefix")
    owner_id: Id | None = None
    team_id: Id | None = None
    lifecycle_stage: LifecycleName | None = None
    tag: str | None = None
    account_id: Id | None = None
    ordering: Literal["-id", "id", "name", "-updated"] = "-id"
    cursor: str | None = None
    limit: int = 50


class ConsentEventOut(Schema):
    id: int
    purpose: str
    channel: str
    status: str
    source: str
    proof: str
    occurred_at: dt.datetime
    recorded_by_id: int | None


class ConsentIn(Schema):
    purpose: PurposeName
    channel: ConsentChannelName
    status: Literal["granted", "withdrawn"]
    source: str = Field(min_length=1, max_length=100)
    proof: str = Field("", max_length=10000)
    occurred_at: dt.datetime | None = None


class ConsentsOut(Schema):
    state: list[ConsentEventOut]
    events: list[ConsentEventOut]


# ---- helpers -------------------------------------------------------------------------------------

CONTACT_ORDERINGS = {
    "-id": ("-id",),
    "id": ("id",),
    "name": ("last_name_key", "first_name_key", "id"),
    "-updated": ("-updated_at", "-id"),
}
ACCOUNT_ORDERINGS = {"-id": ("-id",), "id": ("id",), "name": ("name_key", "id"), "-updated": ("-updated_at", "-id")}


def _people(actor, data: dict) -> dict:
    """Turn ``owner_id`` / ``team_id`` of a body into users and teams the actor can name."""
    if "owner_id" in data:
        owner_id = data.pop("owner_id")
        data["owner"] = (
            reference("owner_id", lambda: user_get_for_actor(actor=actor, user_id=owner_id)) if owner_id else None
        )
    if "team_id" in data:
        team_id = data.pop("team_id")
        data["team"] = (
            reference("team_id", lambda: team_get_for_actor(actor=actor, team_id=team_id)) if team_id else None
        )
    return data


# ---- accounts ------------------------------------------------------------------------------------


@router.get("/accounts", response=page_of(AccountOut))
def list_accounts(request, filters: Query[AccountFilters]):
    accounts = selectors.account_list(
        actor=request.auth,
        q=filters.q,
        owner_id=filters.owner_id,
        team_id=filters.team_id,
        industry=filters.industry,
        tag=filters.tag,
    )
    ordering = ACCOUNT_ORDERINGS[filters.ordering]
    accounts = accounts.select_related("score")  # the analytics scores, by the relation's name (see SCORE_FIELDS)
    return page_response(
        paginate(accounts, ordering_key=filters.ordering, ordering=ordering, cursor=filters.cursor, limit=filters.limit)
    )


@router.post("/accounts", response={201: AccountOut})
def create_account(request, payload: AccountIn):
    def create():
        data = _people(request.auth, payload.dict())
        return services.account_create(actor=request.auth, **data)

    return idempotent_create(request, create, AccountOut)


@router.get("/accounts/{account_id}", response=AccountOut)
def get_account(request, account_id: PathId):
    return selectors.account_get_for_actor(actor=request.auth, account_id=account_id)


@router.patch("/accounts/{account_id}", response=AccountOut)
def update_account(request, account_id: PathId, payload: AccountPatch):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    return services.account_update(
        actor=request.auth,
        account=account,
        data=_people(request.auth, patch_data(payload, nullable={"owner_id", "team_id"})),
    )


@router.delete("/accounts/{account_id}", response={204: None})
def delete_account(request, account_id: PathId):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    services.account_delete(actor=request.auth, account=account)
    return Status(204, None)


@router.get("/accounts/{account_id}/addresses", response=list[AddressOut])
def list_account_addresses(request, account_id: PathId):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    return selectors.account_addresses(account=account)


@router.post("/accounts/{account_id}/addresses", response={201: AddressOut})
def add_account_address(request, account_id: PathId, payload: AddressIn):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    return idempotent_create(
        request, lambda: services.address_add(actor=request.auth, owner=account, **payload.dict()), AddressOut
    )


@router.patch("/accounts/{account_id}/addresses/{address_id}", response=AddressOut)
def update_account_address(request, account_id: PathId, address_id: PathId, payload: AddressPatch):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    address = selectors.address_get(owner=account, address_id=address_id)
    return services.address_update(actor=request.auth, address=address, data=patch_data(payload))


@router.delete("/accounts/{account_id}/addresses/{address_id}", response={204: None})
def remove_account_address(request, account_id: PathId, address_id: PathId):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    services.address_remove(actor=request.auth, address=selectors.address_get(owner=account, address_id=address_id))
    return Status(204, None)


@router.post("/accounts/{account_id}/tags", response={204: None})
def tag_account(request, account_id: PathId, payload: TagRef):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    tag = reference("tag_id", lambda: selectors.tag_get_for_actor(actor=request.auth, tag_id=payload.tag_id))
    services.tag_attach(actor=request.auth, target=account, tag=tag)
    return Status(204, None)


@router.delete("/accounts/{account_id}/tags/{tag_id}", response={204: None})
def untag_account(request, account_id: PathId, tag_id: PathId):
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    services.tag_detach(
        actor=request.auth, target=account, tag=selectors.tag_get_for_actor(actor=request.auth, tag_id=tag_id)
    )
    return Status(204, None)


# ---- contacts ------------------------------------------------------------------------------------


@router.get("/contacts", response=page_of(ContactOut))
def list_contacts(request, filters: Query[ContactFilters]):
    contacts = selectors.contact_list(
        actor=request.auth,
        q=filters.q,
        owner_id=filters.owner_id,
        team_id=filters.team_id,
        lifecycle_stage=filters.lifecycle_stage,
        tag=filters.tag,
        account_id=filters.account_id,
    )
    ordering = CONTACT_ORDERINGS[filters.ordering]
    contacts, score_columns = _with_scores(contacts, request.auth)
    page = paginate(
        contacts.values(*selectors.CONTACT_ROW_FIELDS, *score_columns),
        ordering_key=filters.ordering,
        ordering=ordering,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    rows = selectors.contact_rows(page.items)
    for row in rows:
        row["scores"] = _row_scores(row, request.auth)
    return {"results": rows, "next_cursor": page.next_cursor}


@router.post("/contacts", response={201: ContactDetailOut})
def create_contact(request, payload: ContactIn):
    def create():
        data = _people(request.auth, payload.dict())
        contact = services.contact_create(actor=request.auth, **data)
        return selectors.contact_get_for_actor(actor=request.auth, contact_id=contact.pk)

    return idempotent_create(request, create, ContactDetailOut)


@router.get("/contacts/{contact_id}", response=ContactDetailOut)
def get_contact(request, contact_id: PathId):
    return selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)


@router.patch("/contacts/{contact_id}", response=ContactDetailOut)
def update_contact(request, contact_id: PathId, payload: ContactPatch):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    services.contact_update(
        actor=request.auth,
        contact=contact,
        data=_people(request.auth, patch_data(payload, nullable={"owner_id", "team_id", "birth_date"})),
    )
    return selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)


@router.delete("/contacts/{contact_id}", response={204: None})
def delete_contact(request, contact_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    services.contact_delete(actor=request.auth, contact=contact)
    return Status(204, None)


@router.get("/contacts/{contact_id}/points", response=list[PointOut])
def list_points(request, contact_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return list(contact.points.all())


@router.post("/contacts/{contact_id}/points", response={201: PointOut})
def add_point(request, contact_id: PathId, payload: PointIn):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return idempotent_create(
        request, lambda: services.contact_point_add(actor=request.auth, contact=contact, **payload.dict()), PointOut
    )


@router.patch("/contacts/{contact_id}/points/{point_id}", response=PointOut)
def update_point(request, contact_id: PathId, point_id: PathId, payload: PointPatch):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    point = selectors.contact_point_get(contact=contact, point_id=point_id)
    return services.contact_point_update(actor=request.auth, point=point, data=patch_data(payload))


@router.delete("/contacts/{contact_id}/points/{point_id}", response={204: None})
def remove_point(request, contact_id: PathId, point_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    services.contact_point_remove(
        actor=request.auth, point=selectors.contact_point_get(contact=contact, point_id=point_id)
    )
    return Status(204, None)


@router.get("/contacts/{contact_id}/addresses", response=list[AddressOut])
def list_contact_addresses(request, contact_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return list(contact.addresses.all())


@router.post("/contacts/{contact_id}/addresses", response={201: AddressOut})
def add_contact_address(request, contact_id: PathId, payload: AddressIn):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return idempotent_create(
        request, lambda: services.address_add(actor=request.auth, owner=contact, **payload.dict()), AddressOut
    )


@router.patch("/contacts/{contact_id}/addresses/{address_id}", response=AddressOut)
def update_contact_address(request, contact_id: PathId, address_id: PathId, payload: AddressPatch):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    address = selectors.address_get(owner=contact, address_id=address_id)
    return services.address_update(actor=request.auth, address=address, data=patch_data(payload))


@router.delete("/contacts/{contact_id}/addresses/{address_id}", response={204: None})
def remove_contact_address(request, contact_id: PathId, address_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    services.address_remove(actor=request.auth, address=selectors.address_get(owner=contact, address_id=address_id))
    return Status(204, None)


@router.post("/contacts/{contact_id}/accounts", response={201: AccountLinkOut})
def link_account(request, contact_id: PathId, payload: AccountLinkIn):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    account = reference(
        "account_id", lambda: selectors.account_get_for_actor(actor=request.auth, account_id=payload.account_id)
    )
    link = services.contact_link_account(
        actor=request.auth, contact=contact, account=account, role=payload.role, is_primary=payload.is_primary
    )
    return Status(201, link)


@router.delete("/contacts/{contact_id}/accounts/{account_id}", response={204: None})
def unlink_account(request, contact_id: PathId, account_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    account = selectors.account_get_for_actor(actor=request.auth, account_id=account_id)
    services.contact_unlink_account(actor=request.auth, contact=contact, account=account)
    return Status(204, None)


@router.post("/contacts/{contact_id}/tags", response={204: None})
def tag_contact(request, contact_id: PathId, payload: TagRef):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    tag = reference("tag_id", lambda: selectors.tag_get_for_actor(actor=request.auth, tag_id=payload.tag_id))
    services.tag_attach(actor=request.auth, target=contact, tag=tag)
    return Status(204, None)


@router.delete("/contacts/{contact_id}/tags/{tag_id}", response={204: None})
def untag_contact(request, contact_id: PathId, tag_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    services.tag_detach(
        actor=request.auth, target=contact, tag=selectors.tag_get_for_actor(actor=request.auth, tag_id=tag_id)
    )
    return Status(204, None)


@router.get("/contacts/{contact_id}/consents", response=ConsentsOut)
def list_consents(request, contact_id: PathId):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    events = list(selectors.consent_events(actor=request.auth, contact=contact))
    return {"state": selectors.consent_state_from_events(events), "events": events}


@router.post("/contacts/{contact_id}/consents", response={201: ConsentEventOut})
def record_consent(request, contact_id: PathId, payload: ConsentIn):
    contact = selectors.contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return idempotent_create(
        request, lambda: services.consent_record(actor=request.auth, contact=contact, **payload.dict()), ConsentEventOut
    )


# ---- tags ----------------------------------------------------------------------------------------


@router.get("/tags", response=page_of(TagOut))
def list_tags(request, cursor: str | None = None, limit: int = 50):
    return page_response(
        paginate(
            selectors.tag_list(actor=request.auth),
            ordering_key="name",
            ordering=("name", "id"),
            cursor=cursor,
            limit=limit,
        )
    )


@router.post("/tags", response={201: TagOut})
def create_tag(request, payload: TagIn):
    return idempotent_create(
        request, lambda: services.tag_create(actor=request.auth, name=payload.name, color=payload.color), TagOut
    )


@router.get("/tags/{tag_id}", response=TagOut)
def get_tag(request, tag_id: PathId):
    return selectors.tag_get_for_actor(actor=request.auth, tag_id=tag_id)


@router.delete("/tags/{tag_id}", response={204: None})
def delete_tag(request, tag_id: PathId):
    services.tag_delete(actor=request.auth, tag=selectors.tag_get_for_actor(actor=request.auth, tag_id=tag_id))
    return Status(204, None)
