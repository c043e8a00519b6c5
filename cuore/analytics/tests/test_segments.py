"""Segments: validation with paths, compilation of every field and operator, membership across runs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest

from cuore.analytics import segments, warehouse
from cuore.analytics.models import AnalyticsRun, RunStatus, Segment, SegmentSnapshot
from cuore.analytics.segments import ScoreSource, definition_clean, segment_query
from cuore.analytics.services import analytics_run
from cuore.analytics.tests.test_engine import AS_OF, _order, shop  # noqa: F401  (the shop fixture)
from cuore.contacts.tests.factories import make_contact
from cuore.core.errors import ValidationFailed
from cuore.core.models import AuditEntry
from cuore.orders.tests.factories import make_category, make_product

SMALL_AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


# ---- a small warehouse, by hand --------------------------------------------------------------------


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def con():
    """Five contacts; four scored at run 1 (contact 5 never bought, but is an A at run 2).

    ==  =====  ====  ===============  ========  ==========  ==========================================
    id  owner  team  stage            source    created     behaviour
    ==  =====  ====  ===============  ========  ==========  ==========================================
    1   10     100   customer         Web       2024-01-10  boots 10 days ago, a bag in 2024; emails
    2   11     100   lead             fair      2024-06-01  a bag 121 days ago; emails; newsletter off
    3   -      -     customer         ''        2025-01-01  sneakers yesterday, a loose item; 2 tickets
    4   12     200   former_customer  web       2023-05-05  sneakers in 2023; a ticket yesterday
    5   10     100   subscriber       Referral  2025-06-01  nothing; marketing by sms granted
    ==  =====  ====  ===============  ========  ==========  ==========================================
    """
    con = duckdb.connect()
    warehouse.history_tables_ensure(con)
    tables = {
        "contacts": (
            "id BIGINT, owner_id BIGINT, team_id BIGINT, lifecycle_stage VARCHAR, source VARCHAR, created_on DATE",
            [
                (1, 10, 100, "customer", "Web", _day("2024-01-10")),
                (2, 11, 100, "lead", "fair", _day("2024-06-01")),
                (3, None, None, "customer", "", _day("2025-01-01")),
                (4, 12, 200, "former_customer", "web", _day("2023-05-05")),
                (5, 10, 100, "subscriber", "Referral", _day("2025-06-01")),
            ],
        ),
        "accounts": (
            "id BIGINT, owner_id BIGINT, team_id BIGINT, industry VARCHAR, size VARCHAR",
            [(50, 10, 100, "Retail", "10-49"), (51, 11, 100, "Food", "1000+")],
        ),
        "contact_accounts": ("contact_id BIGINT, account_id BIGINT", [(1, 50), (2, 51), (4, 50), (4, 51)]),
        "categories": (
            "id BIGINT, parent_id BIGINT, name VARCHAR",
            [(1, None, "Shoes"), (2, 1, "Boots"), (3, 2, "Hiking boots"), (4, None, "Bags")],
        ),
        "products": (
            "id BIGINT, category_id BIGINT, name VARCHAR",
            [(20, 3, "Hiking boot"), (21, 1, "Sneaker"), (22, 4, "Bag"), (23, None, "Gift card")],
        ),
        "orders": (
            "id BIGINT, contact_id BIGINT, account_id BIGINT, placed_on DATE",
            [
                (1, 1, None, _day("2025-06-20")),
                (2, 1, None, _day("2024-01-15")),
                (3, 2, None, _day("2025-03-01")),
                (4, 3, None, _day("2025-06-29")),
                (5, 3, None, _day("2025-06-01")),
                (6, 4, None, _day("2023-06-01")),
            ],
        ),
        "order_lines": (
            "order_id BIGINT, product_id BIGINT, quantity BIGINT, value_cents BIGINT, cost_cents BIGINT",
            [(1, 20, 1, 100, 50), (2, 22, 1, 100, 50), (3, 22, 1, 100, 50), (4, 21, 1, 100, 50), (5, 23, 1, 1, 1)]
            + [(6, 21, 1, 100, 50)],
        ),
        "interactions": (
            "contact_id BIGINT, channel VARCHAR, direction VARCHAR, occurred_on DATE",
            [
                (1, "email", "in", _day("2025-06-25")),
                (1, "phone", "out", _day("2024-01-01")),
                (2, "email", "in", _day("2025-06-01")),
                (2, "email", "out", _day("2025-06-28")),
            ],
        ),
        "tickets": (
            "contact_id BIGINT, opened_on DATE, satisfaction INTEGER, breached INTEGER",
            [(3, _day("2025-06-15"), None, 0), (3, _day("2024-01-01"), 5, 0), (4, _day("2025-06-29"), None, 1)],
        ),
        "consents": (
            "contact_id BIGINT, purpose VARCHAR, channel VARCHAR, status VARCHAR, occurred_on DATE",
            [
                (1, "newsletter", "email", "granted", _day("2025-01-01")),
                (2, "newsletter", "email", "granted", _day("2025-01-01")),
                (2, "newsletter", "email", "withdrawn", _day("2025-03-01")),
                (3, "newsletter", "email", "granted", _day("2025-05-01")),
                (3, "newsletter", "email", "withdrawn", _day("2025-05-01")),
                (4, "newsletter", "email", "withdrawn", _day("2024-01-01")),
                (4, "newsletter", "email", "granted", _day("2025-02-01")),
                (5, "marketing", "sms", "granted", _day("2025-01-01")),
            ],
        ),
    }
    for table, (columns, rows) in tables.items():
        con.execute(f"CREATE TABLE {table} ({columns})")
        for row in rows:
            con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", list(row))
    history = [
        # run, contact, recency, frequency, spent, average, margin, tenure, category, R, F, M, segment, ABC,
        # expected purchases, P(alive), CLV, tier, churn risk
        (1, 1, 10, 2, "300.00", "150.00", "120.00", 532, 3, 5, 3, 4, "champions", "A", 4.2, 0.82, "900.50", "most_valuable", 0.1),
        (1, 2, 121, 1, "80.00", "80.00", "30.00", 121, 4, 3, 1, 2, "about_to_sleep", "B", 1.5, 0.41, "100.00", "steady", 0.6),
        (1, 3, 1, 2, "55.50", "27.75", "10.00", 29, 1, 5, 3, 2, "potential_loyalists", "C", None, None, None, "steady", None),
        (1, 4, 760, 1, "40.00", "40.00", "-5.00", 760, 1, 1, 1, 1, "lost", "C", 0.1, 0.05, "2.00", "below_zero", 0.9),
        (2, 5, 1, 1, "999.00", "999.00", "500.00", 1, 4, 5, 1, 5, "new", "A", 1.0, 0.99, "50.00", "most_valuable", 0.0),
    ]  # fmt: skip
    columns = [name for name, _kind in warehouse.HISTORY_COLUMNS if name not in ("churn_reasons", "next_best_offers")]
    for row in history:
        run_id, contact_id, *values = row
        con.execute(
            f"INSERT INTO score_history (run_id, as_of, contact_id, {', '.join(columns)}) "
            f"VALUES (?, ?, ?, {', '.join('?' * len(columns))})",
            [run_id, SMALL_AS_OF, contact_id, *values],
        )
    yield con
    con.close()


def members(con, *conditions, match: str = "all", source: ScoreSource | None = None) -> set[int]:
    definition = {"match": match, "conditions": list(conditions)}
    sql, params = segment_query(definition, source=source or ScoreSource.history(1), as_of=SMALL_AS_OF)
    return {row[0] for row in con.execute(sql, params).fetchall()}


def C(field: str, op: str, value, **params) -> dict:
    return {"field": field, "op": op, "value": value, **params}


CASES = [
    # profile
    (C("lifecycle_stage", "eq", "customer"), {1, 3}),
    (C("lifecycle_stage", "ne", "customer"), {2, 4, 5}),
    (C("lifecycle_stage", "in", ["lead", "subscriber"]), {2, 5}),
    (C("owner", "eq", 10), {1, 5}),
    (C("owner", "ne", 10), {2, 3, 4}),  # the contact without an owner is "not owned by 10"
    (C("owner", "eq", None), {3}),
    (C("owner", "ne", None), {1, 2, 4, 5}),
    (C("owner", "in", [11, 12]), {2, 4}),
    (C("team", "eq", 100), {1, 2, 5}),
    (C("team", "eq", None), {3}),
    (C("team", "ne", 100), {3, 4}),
    (C("team", "in", [200]), {4}),
    (C("source", "eq", "web"), {1, 4}),  # whatever the case
    (C("source", "ne", "WEB"), {2, 3, 5}),
    (C("source", "in", ["FAIR", "referral"]), {2, 5}),
    (C("created_on", "eq", "2025-01-01"), {3}),
    (C("created_on", "ne", "2025-01-01"), {1, 2, 4, 5}),
    (C("created_on", "lt", "2024-06-01"), {1, 4}),
    (C("created_on", "lte", "2024-06-01"), {1, 2, 4}),
    (C("created_on", "gt", "2025-01-01"), {5}),
    (C("created_on", "gte", "2025-01-01"), {3, 5}),
    (C("created_on", "between", ["2024-01-01", "2024-12-31"]), {1, 2}),
    (C("created_on", "in", ["2023-05-05", "2025-06-01"]), {4, 5}),
    (C("account_industry", "eq", "retail"), {1, 4}),
    (C("account_industry", "ne", "retail"), {2, 3, 5}),  # no linked account in retail
    (C("account_industry", "in", ["Food"]), {2, 4}),
    (C("account_size", "eq", "1000+"), {2, 4}),
    (C("account_size", "ne", "1000+"), {1, 3, 5}),
    (C("account_size", "in", ["10-49", "1-9"]), {1, 4}),
    # scores (of run 1: contact 5 was not scored then; the unscored never match, not even with ne)
    (C("recency_days", "eq", 10), {1}),
    (C("recency_days", "ne", 10), {2, 3, 4}),
    (C("recency_days", "lt", 100), {1, 3}),
    (C("recency_days", "lte", 121), {1, 2, 3}),
    (C("recency_days", "gt", 121), {4}),
    (C("recency_days", "gte", 121), {2, 4}),
    (C("recency_days", "between", [1, 10]), {1, 3}),
    (C("recency_days", "in", [1, 760]), {3, 4}),
    (C("frequency", "eq", 2), {1, 3}),
    (C("monetary_total", "gte", 80), {1, 2}),
    (C("monetary_total", "eq", 55.5), {3}),
    (C("monetary_avg", "lt", 30), {3}),
    (C("margin", "lt", 0), {4}),
    (C("tenure_days", "gt", 500), {1, 4}),
    (C("r_score", "eq", 5), {1, 3}),
    (C("f_score", "gte", 3), {1, 3}),
    (C("m_score", "in", [1, 2]), {2, 3, 4}),
    (C("rfm_segment", "eq", "champions"), {1}),
    (C("rfm_segment", "ne", "champions"), {2, 3, 4}),
    (C("rfm_segment", "in", ["lost", "about_to_sleep"]), {2, 4}),
    (C("abc_class", "eq", "A"), {1}),
    (C("abc_class", "ne", "A"), {2, 3, 4}),
    (C("abc_class", "in", ["A", "B"]), {1, 2}),
    (C("value_tier", "eq", "steady"), {2, 3}),
    (C("value_tier", "ne", "steady"), {1, 4}),
    (C("value_tier", "in", ["below_zero", "growable"]), {4}),
    (C("expected_purchases", "gt", 1), {1, 2}),
    (C("p_alive", "lt", 0.5), {2, 4}),  # contact 3 has no estimate
    (C("p_alive", "between", [0.4, 0.9]), {1, 2}),
    (C("clv", "gte", 100), {1, 2}),
    (C("churn_risk", "gte", 0.5), {2, 4}),
    (C("preferred_category", "eq", 1), {1, 3, 4}),  # Shoes and what is below it (hiking boots)
    (C("preferred_category", "eq", 2), {1}),
    (C("preferred_category", "ne", 1), {2}),
    (C("preferred_category", "in", [4]), {2}),
    # behaviour
    (C("bought_product", "eq", 20), {1}),
    (C("bought_product", "ne", 20), {2, 3, 4, 5}),
    (C("bought_product", "in", [21, 22]), {1, 2, 3, 4}),
    (C("bought_product", "eq", 22, within_days=365), {2}),
    (C("bought_category", "eq", 1), {1, 3, 4}),  # hiking boots are shoes too
    (C("bought_category", "eq", 1, within_days=30), {1, 3}),
    (C("bought_category", "eq", 2), {1}),
    (C("bought_category", "ne", 1), {2, 5}),
    (C("bought_category", "in", [4], within_days=365), {2}),
    (C("bought_category", "eq", 4, within_days=None), {1, 2}),
    (C("orders", "gte", 2), {1, 3}),
    (C("orders", "eq", 0), {5}),
    (C("orders", "ne", 1), {1, 3, 5}),
    (C("orders", "gte", 1, within_days=30), {1, 3}),
    (C("orders", "between", [1, 1]), {2, 4}),
    (C("orders", "lt", 1, within_days=365), {4, 5}),
    (C("orders", "lte", 0, within_days=10), {2, 4, 5}),
    (C("orders", "gt", 1), {1, 3}),
    (C("orders", "in", [0, 2]), {1, 3, 5}),
    (C("tickets", "gte", 1), {3, 4}),
    (C("tickets", "gte", 1, within_days=30), {3, 4}),
    (C("tickets", "gte", 2), {3}),
    (C("tickets", "eq", 0, within_days=30), {1, 2, 5}),
    (C("interactions", "gte", 1, channel="email"), {1, 2}),
    (C("interactions", "gte", 2, channel="email", within_days=60), {2}),
    (C("interactions", "gte", 1, within_days=10), {1, 2}),
    (C("interactions", "gte", 1, channel="phone"), {1}),
    (C("interactions", "eq", 0), {3, 4, 5}),
    (C("consent", "eq", "granted", purpose="newsletter", channel="email"), {1, 4}),
    (C("consent", "eq", "withdrawn", purpose="newsletter", channel="email"), {2, 3}),  # same day: withdrawn
    (C("consent", "ne", "granted", purpose="newsletter", channel="email"), {2, 3, 5}),
    (C("consent", "eq", "granted", purpose="marketing", channel="sms"), {5}),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=lambda c: json.dumps(c) if isinstance(c, dict) else "")
def test_each_field_and_operator_selects_the_right_contacts(con, condition, expected):
    assert members(con, condition) == expected


def test_every_field_and_every_operator_is_covered():
    covered = {(condition["field"], condition["op"]) for condition, _expected in CASES}
    for name, spec in segments.FIELDS.items():
        assert {name} == {field for field, _op in covered if field == name}, name
        ops = {op for field, op in covered if field == name}
        if spec.kind not in ("integer", "number", "count", "date"):
            assert ops == set(spec.ops), name
    # The ordered operators are compiled by the same code for every numeric field: each is tried on a
    # score, a profile date and a behaviour count.
    for name in ("recency_days", "created_on", "orders"):
        assert {op for field, op in covered if field == name} == set(segments.ORDERED), name


def test_all_needs_every_condition_and_any_one_of_them(con):
    customer, two_orders = C("lifecycle_stage", "eq", "customer"), C("orders", "gte", 2)
    class_a, tickets = C("abc_class", "eq", "A"), C("tickets", "gte", 2)

    assert members(con, customer, two_orders) == {1, 3}
    assert members(con, C("owner", "eq", 10), C("orders", "eq", 0)) == {5}
    assert members(con, class_a, tickets, match="any") == {1, 3}
    assert members(con, class_a, tickets, match="all") == set()


def test_the_scores_are_those_of_the_run_asked_for(con):
    assert members(con, C("abc_class", "eq", "A"), source=ScoreSource.history(2)) == {5}
    assert members(con, C("abc_class", "eq", "A"), source=ScoreSource.history(1)) == {1}


def test_during_a_run_the_scores_come_from_the_run_table(con):
    con.execute(
        "CREATE TEMP TABLE contact_scores AS SELECT contact_id AS customer_id, * EXCLUDE (run_id, as_of, contact_id) "
        "FROM score_history WHERE run_id = 2"
    )
    assert members(con, C("abc_class", "eq", "A"), source=ScoreSource.during_run()) == {5}


def test_the_query_returns_each_member_once_with_its_scores(con):
    sql, params = segment_query(
        {"match": "any", "conditions": [C("bought_category", "eq", 1), C("orders", "gte", 0)]},
        source=ScoreSource.history(1),
        as_of=SMALL_AS_OF,
    )
    rows = con.execute(f"SELECT contact_id, abc_class, clv FROM ({sql}) m ORDER BY contact_id", params).fetchall()
    assert rows == [(1, "A", Decimal("900.50")), (2, "B", Decimal("100.00")), (3, "C", None), (4, "C", Decimal("2.00")), (5, None, None)]  # fmt: skip


# ---- injection: values stay values -----------------------------------------------------------------

HOSTILE = ["' OR 1=1 --", "x'); DROP TABLE contacts; --", '" OR ""="', "web' OR source <> '", "1; SELECT 1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_values_never_become_sql(con, text):
    assert members(con, C("source", "eq", text)) == set()
    assert members(con, C("account_industry", "in", [text, "food"])) == {2, 4}
    assert members(con, C("source", "ne", text)) == {1, 2, 3, 4, 5}
    assert con.execute("SELECT count(*) FROM contacts").fetchone()[0] == 5


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"field": "abc_class = 'A' OR 1=1 --", "op": "eq", "value": "A"}, "definition.conditions[0].field"),
        ({"field": "abc_class", "op": "= 'A' OR 1=1 --", "value": "A"}, "definition.conditions[0].op"),
        ({"field": "orders", "op": "gte", "value": 1, "within_days": "1; DROP TABLE orders"}, "definition.conditions[0].within_days"),
        ({"field": "interactions", "op": "gte", "value": 1, "channel": "email' OR '1'='1"}, "definition.conditions[0].channel"),
        ({"field": "abc_class", "op": "eq", "value": "A' OR '1'='1"}, "definition.conditions[0].value"),
        ({"field": "recency_days", "op": "lt", "value": "1 OR 1=1"}, "definition.conditions[0].value"),
        ({"field": "orders", "op": "gte", "value": 1, "sql": "DROP TABLE orders"}, "definition.conditions[0].sql"),
    ],
)  # fmt: skip
def test_names_and_operators_outside_the_lists_are_refused_before_any_sql(con, condition, path):
    with pytest.raises(ValidationFailed) as refused:
        members(con, condition)
    assert path in refused.value.errors


# ---- validation --------------------------------------------------------------------------------------


def _errors(definition) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        definition_clean(definition)
    return refused.value.errors


def test_a_definition_must_be_an_object_with_a_list_of_conditions():
    assert _errors([]) == {"definition": "must be an object with match and conditions"}
    assert _errors({"match": "all"}) == {"definition.conditions": "must be a list of 1 to 30 conditions"}
    assert _errors({"conditions": []}) == {"definition.conditions": "must be a list of 1 to 30 conditions"}
    many = [C("abc_class", "eq", "A")] * 31
    assert _errors({"conditions": many}) == {"definition.conditions": "must be a list of 1 to 30 conditions"}
    assert _errors({"match": "some", "conditions": [C("abc_class", "eq", "A")], "limit": 3}) == {
        "definition.match": "must be all or any",
        "definition.limit": "is not allowed (match, conditions)",
    }


def test_match_defaults_to_all_and_parameters_are_completed():
    assert definition_clean({"conditions": [C("orders", "gte", 1)]}) == {
        "match": "all",
        "conditions": [{"field": "orders", "op": "gte", "value": 1, "within_days": None}],
    }


def test_every_wrong_place_is_named_with_its_path_and_reason():
    errors = _errors(
        {
            "match": "any",
            "conditions": [
                C("abc_class", "eq", "A"),
                C("abc_class", "eq", "Z"),
                "not a condition",
                {"op": "eq", "value": 1},
                C("colour", "eq", "red"),
                C("abc_class", "lt", "A"),
                C("rfm_segment", "in", ["lost", "nope", 3]),
                C("recency_days", "between", [30, 10]),
                C("recency_days", "between", [1]),
                {"field": "p_alive", "op": "lt"},
                C("p_alive", "lt", float("nan")),
                C("frequency", "gte", True),
                C("frequency", "gte", 1.5),
                C("orders", "gte", -1),
                C("orders", "gte", 1, within_days=0),
                C("consent", "eq", "granted", channel="email"),
                C("consent", "eq", "maybe", purpose="newsletter", channel="fax"),
                C("created_on", "gt", "2025-02-30"),
                C("source", "eq", "a\x00b"),
                C("source", "eq", "x" * 201),
                C("bought_product", "eq", 0),
                C("owner", "lt", 3),
                C("team", "in", None),
                C("abc_class", "eq", None),
                C("abc_class", "eq", "A", within_days=3),
                C("interactions", "gte", 1, channel="pigeon"),
                C("monetary_total", "gt", 1e300),
                C("abc_class", "in", []),
            ],
        }
    )
    assert errors == {
        "definition.conditions[1].value": "must be one of A, B, C",
        "definition.conditions[2]": "must be an object with field, op and value",
        "definition.conditions[3].field": "is required",
        "definition.conditions[4].field": "is not a known field",
        "definition.conditions[5].op": "must be one of eq, ne, in for the field abc_class",
        "definition.conditions[6].value[1]": (
            "must be one of champions, loyal, potential_loyalists, new, promising, need_attention, "
            "about_to_sleep, at_risk, cant_lose_them, hibernating, lost"
        ),
        "definition.conditions[6].value[2]": (
            "must be one of champions, loyal, potential_loyalists, new, promising, need_attention, "
            "about_to_sleep, at_risk, cant_lose_them, hibernating, lost"
        ),
        "definition.conditions[7].value": "the low value must not be above the high one",
        "definition.conditions[8].value": "must be a list of two values: [low, high]",
        "definition.conditions[9].value": "is required",
        "definition.conditions[10].value": "must be a number between -1e+15 and 1e+15",
        "definition.conditions[11].value": "must be a whole number",
        "definition.conditions[12].value": "must be a whole number",
        "definition.conditions[13].value": "must be zero or more",
        "definition.conditions[14].within_days": "must be a whole number of days from 1 to 36500, or null for ever",
        "definition.conditions[15].purpose": "is required",
        "definition.conditions[16].value": "must be one of granted, withdrawn",
        "definition.conditions[16].channel": "must be one of email, sms, phone, post, any",
        "definition.conditions[17].value": "must be a date as YYYY-MM-DD",
        "definition.conditions[18].value": "must not contain NUL characters",
        "definition.conditions[19].value": "must be at most 200 characters",
        "definition.conditions[20].value": "must be an id (a whole number from 1)",
        "definition.conditions[21].op": "must be one of eq, ne, in for the field owner",
        "definition.conditions[22].value": "can be null only with eq or ne",
        "definition.conditions[23].value": "is required",
        "definition.conditions[24].within_days": "is not allowed for the field abc_class",
        "definition.conditions[25].channel": (
            "must be one of email, phone, sms, chat, social, web_form, meeting, store, letter, note"
        ),
        "definition.conditions[26].value": "must be a number between -1e+15 and 1e+15",
        "definition.conditions[27].value": "must be a list of 1 to 100 values",
    }


@pytest.mark.django_db
def test_ids_that_name_no_record_are_refused_where_they_are(make_user):
    shoes = make_category(name="Shoes")
    product = make_product(category=shoes)
    definition = definition_clean(
        {
            "conditions": [
                C("bought_product", "in", [product.pk, product.pk + 1000]),
                C("bought_category", "eq", shoes.pk),
                C("owner", "eq", 987654),
                C("team", "eq", None),
            ]
        }
    )
    with pytest.raises(ValidationFailed) as refused:
        segments.definition_check_references(definition)
    assert refused.value.errors == {
        "definition.conditions[0].value[1]": "not found",
        "definition.conditions[2].value": "not found",
    }


@pytest.mark.django_db
def test_a_definition_reads_as_sentences(make_user):
    shoes = make_category(name="Shoes")
    definition = {
        "match": "all",
        "conditions": [
            C("abc_class", "eq", "A"),
            C("p_alive", "lt", 0.5),
            C("bought_category", "eq", shoes.pk, within_days=365),
            C("consent", "eq", "granted", purpose="newsletter", channel="email"),
            C("recency_days", "between", [30, 90]),
        ],
    }
    lead, lines = segments.definition_text(definition)
    assert lead == "Contacts who meet all of these conditions:"
    assert lines == [
        "ABC class is A",
        "P(alive) is below 0.50",
        "bought in Shoes (or its subcategories) in the last 365 days",
        "consent to newsletter by email is granted",
        "Days since the last order is between 30 and 90",
    ]


# ---- membership across runs ----------------------------------------------------------------------


def _membership(run_id: int, segment_id: int) -> set[int]:
    con = warehouse.warehouse_connect(read_only=True)
    try:
        rows = con.execute(
            "SELECT contact_id FROM segment_membership WHERE run_id = ? AND segment_id = ?", [run_id, segment_id]
        ).fetchall()
    finally:
        con.close()
    return {row[0] for row in rows}


RECENT_BUYERS = {"conditions": [C("orders", "gte", 1, within_days=20)]}


@pytest.fixture
def admin(make_user):
    return make_user(role="admin")


def test_each_run_records_who_entered_and_who_left(shop, admin):  # noqa: F811
    people = shop["people"]
    recent = segments.segment_create(actor=admin, name="Recent buyers", definition=RECENT_BUYERS)

    first = analytics_run(as_of=AS_OF)
    # 30 days later "best" (35 days) and "fresh" (whose next order was 25 days before) are out; "old"
    # bought again 10 days before.
    _order(people["old"], AS_OF + dt.timedelta(days=20), [(shop["shoe"], 1, "50.00", "20.00", "0")])
    late = segments.segment_create(actor=admin, name="Class C", definition={"conditions": [C("abc_class", "eq", "C")]})
    second = analytics_run(as_of=AS_OF + dt.timedelta(days=30))

    ids = {name: contact.pk for name, contact in people.items()}
    assert _membership(first.pk, recent.pk) == {ids["best"], ids["fresh"]}
    assert _membership(second.pk, recent.pk) == {ids["old"]}
    assert first.figures["segments"] == {"recorded": 1, "skipped": {}}
    assert second.figures["segments"] == {"recorded": 2, "skipped": {}}
    snapshots = {
        (s.segment_id, s.run_id): (s.customers, s.entered, s.left, s.previous_run_id, s.as_of)
        for s in SegmentSnapshot.objects.all()
    }
    assert snapshots == {
        (recent.pk, first.pk): (2, 2, 0, None, AS_OF),
        (recent.pk, second.pk): (1, 1, 2, first.pk, AS_OF + dt.timedelta(days=30)),
        (late.pk, second.pk): (len(_membership(second.pk, late.pk)), len(_membership(second.pk, late.pk)), 0, None, AS_OF + dt.timedelta(days=30)),
    }  # fmt: skip
    recent.refresh_from_db()
    assert (recent.last_run_id, recent.last_count) == (second.pk, 1)

    changes = segments.segment_changes(actor=admin, segment=recent)
    assert (changes.run_id, changes.previous_run_id, changes.entered_count, changes.left_count) == (
        second.pk,
        first.pk,
        1,
        2,
    )
    assert [row["contact_id"] for row in changes.entered] == [ids["old"]]
    assert [row["contact_id"] for row in changes.left] == [ids["best"], ids["fresh"]]
    assert changes.left[1]["name"].startswith("fresh")
    first_changes = segments.segment_changes(actor=admin, segment=recent, run_id=first.pk)
    assert {row["contact_id"] for row in first_changes.entered} == {ids["best"], ids["fresh"]}
    assert first_changes.left == []

    assert [row["contact_id"] for row in segments.segment_members(actor=admin, segment=recent).items] == [ids["old"]]
    page = segments.segment_members(actor=admin, segment=recent, run_id=first.pk, limit=1)
    assert page.run_id == first.pk and len(page.items) == 1 and page.next_cursor
    rest = segments.segment_members(actor=admin, segment=recent, run_id=first.pk, limit=1, cursor=page.next_cursor)
    assert [page.items[0]["contact_id"], rest.items[0]["contact_id"]] == [ids["best"], ids["fresh"]]
    assert rest.next_cursor is None
    older = segments.segment_members(actor=admin, segment=recent, run_id=first.pk)
    best = next(row for row in older.items if row["contact_id"] == ids["best"])
    assert (best["abc_class"], best["rfm_segment"], best["monetary_total"]) == ("A", "champions", Decimal("1000.00"))

    history = segments.segment_history(actor=admin, segment=recent)
    assert [(s.run_id, s.customers, s.entered, s.left) for s in history] == [
        (first.pk, 2, 2, 0),
        (second.pk, 1, 1, 2),
    ]
    listed = segments.segment_list(actor=admin).get(pk=recent.pk)
    assert (listed.size, listed.entered, listed.left, listed.size_run_id) == (1, 1, 2, second.pk)


def test_a_run_that_fails_after_the_membership_leaves_no_snapshot_behind(shop, admin, monkeypatch):  # noqa: F811
    segment = segments.segment_create(actor=admin, name="Recent buyers", definition=RECENT_BUYERS)
    good = analytics_run(as_of=AS_OF)

    def broken(con, *, run):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("cuore.analytics.services._scores_write_back", broken)
    with pytest.raises(RuntimeError):
        analytics_run(as_of=AS_OF + dt.timedelta(days=1))
    failed = AnalyticsRun.objects.get(status=RunStatus.FAILED)

    assert _membership(failed.pk, segment.pk) == set()  # rolled back with the warehouse transaction
    assert segments.segment_history(actor=admin, segment=segment)[-1].run_id == good.pk
    assert segments.segment_list(actor=admin).get(pk=segment.pk).size_run_id == good.pk
    monkeypatch.undo()
    third = analytics_run(as_of=AS_OF + dt.timedelta(days=2))
    assert not SegmentSnapshot.objects.filter(run=failed).exists()
    assert SegmentSnapshot.objects.get(segment=segment, run=third).previous_run_id == good.pk


def test_a_segment_whose_definition_no_longer_validates_is_skipped_not_fatal(shop, admin):  # noqa: F811
    broken = Segment.objects.create(name="Old", definition={"conditions": [C("gone_field", "eq", 1)]})
    fine = segments.segment_create(actor=admin, name="Class A", definition={"conditions": [C("abc_class", "eq", "A")]})

    run = analytics_run(as_of=AS_OF)

    assert run.status == RunStatus.SUCCEEDED
    assert run.figures["segments"]["recorded"] == 1
    assert list(run.figures["segments"]["skipped"]) == [str(broken.pk)]
    assert _membership(run.pk, fine.pk) == {shop["people"]["best"].pk}


# ---- live count and preview --------------------------------------------------------------------------


def test_the_live_count_and_preview_read_the_latest_successful_run(shop, admin, make_user, team):  # noqa: F811
    people = shop["people"]
    rep = make_user(role="sales", team=team)
    for name in ("gone", "old"):
        people[name].owner, people[name].team = rep, team
        people[name].save()
    analytics_run(as_of=AS_OF)
    definition = {"conditions": [C("orders", "gte", 2)]}  # best, gone, old, loss

    preview = segments.segment_preview(actor=admin, definition=definition, limit=3, order="-monetary_total")
    assert preview.count == 4
    assert [row["contact_id"] for row in preview.rows] == [people["best"].pk, people["gone"].pk, people["loss"].pk]
    assert preview.rows[0]["name"].startswith("best")

    mine = segments.segment_preview(actor=rep, definition=definition, limit=3, order="-monetary_total")
    assert mine.count == 4  # the segment's total
    assert [row["contact_id"] for row in mine.rows] == [people["gone"].pk, people["old"].pk]

    assert segments.segment_preview(actor=admin, definition=definition, limit=0).rows == []


def test_before_any_run_the_count_is_zero(admin):
    preview = segments.segment_preview(actor=admin, definition={"conditions": [C("abc_class", "eq", "A")]})
    assert (preview.run, preview.count, preview.rows) == (None, 0, [])


@pytest.mark.django_db
def test_the_preview_refuses_an_unknown_order_or_size(admin):
    definition = {"conditions": [C("abc_class", "eq", "A")]}
    with pytest.raises(ValidationFailed) as refused:
        segments.segment_preview(actor=admin, definition=definition, order="name; DROP TABLE contacts")
    assert list(refused.value.errors) == ["order"]
    with pytest.raises(ValidationFailed):
        segments.segment_preview(actor=admin, definition=definition, limit=51)


def test_a_busy_warehouse_answers_busy(shop, admin, monkeypatch):  # noqa: F811
    analytics_run(as_of=AS_OF)

    def locked(*, read_only=False, wait_seconds=None):
        raise warehouse.WarehouseBusy("the analytics warehouse is busy with a run; try again shortly")

    monkeypatch.setattr(warehouse, "warehouse_connect", locked)
    with pytest.raises(segments.WarehouseBusy):
        segments.segment_preview(actor=admin, definition={"conditions": [C("abc_class", "eq", "A")]})


# ---- writes -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_segments_are_created_changed_and_deleted_with_an_audit_trail(make_user):
    marketer = make_user(role="marketing")
    segment = segments.segment_create(
        actor=marketer, name=" Lapsing A ", description="for the spring campaign", definition=RECENT_BUYERS
    )
    assert (segment.name, segment.created_by, segment.definition["match"]) == ("Lapsing A", marketer, "all")

    with pytest.raises(ValidationFailed) as refused:
        segments.segment_create(actor=marketer, name="lapsing a", definition=RECENT_BUYERS)
    assert refused.value.errors == {"name": "is already the name of another segment"}
    with pytest.raises(ValidationFailed) as refused:
        segments.segment_update(actor=marketer, segment=segment, data={"definition": {"conditions": [{}]}})
    assert refused.value.errors == {"definition.conditions[0].field": "is required"}

    segments.segment_update(actor=marketer, segment=segment, data={"name": "Lapsing class A"})
    segments.segment_delete(actor=marketer, segment=segment)

    assert not Segment.objects.exists()
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "segment.create",
        "segment.update",
        "segment.delete",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sales", "support"])
def test_roles_that_only_read_segments_cannot_write_them(make_user, role):
    from cuore.core.errors import Forbidden

    with pytest.raises(Forbidden):
        segments.segment_create(actor=make_user(role=role), name="Mine", definition=RECENT_BUYERS)


def test_a_contact_made_after_the_run_is_not_a_member_until_the_next(shop, admin):  # noqa: F811
    analytics_run(as_of=AS_OF)
    make_contact(first_name="late", lifecycle_stage="lead")
    definition = {"conditions": [C("lifecycle_stage", "eq", "lead")]}
    before = segments.segment_preview(actor=admin, definition=definition).count
    analytics_run(as_of=AS_OF)
    assert segments.segment_preview(actor=admin, definition=definition).count == before + 1
