"""Template tags that show a customer's scores on the pages of the apps below analytics.

cuore.interactions (the customer 360) and cuore.contacts (the lists) sit below cuore.analytics in
the layers and may not import it. Their templates load this library instead
(``{% load analytics_tags %}``): a template-level dependency that import-linter does not see, on
purpose — the pages of the lower apps show the scores without their Python knowing of them.

- ``{% customer_value contact as value %}`` (or an account): the customer's scores as the signed-in
  user may see them, with their reasons and offers in words and the history kept in the warehouse;
  None when the user may not see them.
- ``{% value_panel value %}``: the "Value" card of the 360 pages.
- ``{% score_badges segment abc_class value_tier %}``: the three small badges, from plain values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
from django import template
from django.utils.translation import gettext as _

from cuore.analytics import selectors, warehouse
from cuore.analytics.models import AbcClass, AccountScore, AnalyticsRun, ContactScore, RfmSegment, ValueTier
from cuore.analytics.reports import HIGH_RISK
from cuore.core.errors import NotFound

register = template.Library()
log = logging.getLogger(__name__)

CURRENCY = "EUR"  # the reports add the amounts of all currencies as they are (see cuore.analytics.pipeline)
REASONS_SHOWN = 3
OFFERS_SHOWN = 3
HISTORY_SHOWN = 6
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
MEDIUM_RISK = 0.25  # and HIGH_RISK: the reports' "high risk"

# Bootstrap colours of the badges: good news green, to watch amber, bad news red, the rest grey.
SEGMENT_COLOURS = {
    RfmSegment.CHAMPIONS: "text-bg-success",
    RfmSegment.LOYAL: "text-bg-success",
    RfmSegment.POTENTIAL_LOYALISTS: "text-bg-info",
    RfmSegment.NEW: "text-bg-info",
    RfmSegment.PROMISING: "text-bg-info",
    RfmSegment.NEED_ATTENTION: "text-bg-warning",
    RfmSegment.ABOUT_TO_SLEEP: "text-bg-warning",
    RfmSegment.AT_RISK: "text-bg-danger",
    RfmSegment.CANT_LOSE_THEM: "text-bg-danger",
    RfmSegment.HIBERNATING: "text-bg-secondary",
    RfmSegment.LOST: "text-bg-secondary",
}
ABC_COLOURS = {AbcClass.A: "text-bg-success", AbcClass.B: "text-bg-primary", AbcClass.C: "text-bg-secondary"}
TIER_COLOURS = {
    ValueTier.MOST_VALUABLE: "text-bg-success",
    ValueTier.GROWABLE: "text-bg-info",
    ValueTier.STEADY: "text-bg-light border",
    ValueTier.BELOW_ZERO: "text-bg-danger",
}
SEGMENT_LABELS = dict(RfmSegment.choices)
ABC_LABELS = dict(AbcClass.choices)
TIER_LABELS = dict(ValueTier.choices)


@dataclass
class Badge:
    kind: str  # segment, abc, tier
    value: str
    label: str
    css: str
    title: str


def badges(segment: str | None, abc_class: str | None, value_tier: str | None, *, compact: bool = False) -> list[Badge]:
    """The badges of a customer's segment, class and tier (those it has); ``compact``: the class by its letter."""
    result = []
    if segment:
        result.append(
            Badge(
                "segment",
                segment,
                str(SEGMENT_LABELS.get(segment, segment)),
                SEGMENT_COLOURS.get(segment, "text-bg-secondary"),
                _("RFM segment"),
            )
        )
    if abc_class:
        result.append(
            Badge(
                "abc",
                abc_class,
                abc_class if compact else _("Class %(abc)s") % {"abc": ABC_LABELS.get(abc_class, abc_class)},
                ABC_COLOURS.get(abc_class, "text-bg-secondary"),
                _("ABC class by margin: %(abc)s") % {"abc": ABC_LABELS.get(abc_class, abc_class)},
            )
        )
    if value_tier:
        result.append(
            Badge(
                "tier",
                value_tier,
                str(TIER_LABELS.get(value_tier, value_tier)),
                TIER_COLOURS.get(value_tier, "text-bg-secondary"),
                _("Value tier"),
            )
        )
    return result


@register.inclusion_tag("analytics/_badges.html")
def score_badges(
    segment: str | None = None, abc_class: str | None = None, value_tier: str | None = None, compact: bool = False
) -> dict:
    """``{% score_badges segment abc_class value_tier %}``: the badges from plain values (``compact=True`` in lists)."""
    return {"badges": badges(segment, abc_class, value_tier, compact=compact)}


# ---- the value panel -----------------------------------------------------------------------------


@dataclass
class CustomerValue:
    """What the value panel shows of one customer."""

    kind: str  # contact or account
    customer_id: int
    score: ContactScore | AccountScore | None
    run: AnalyticsRun | None
    currency: str = CURRENCY
    reasons: list[str] = field(default_factory=list)
    offers: list[dict[str, str]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_unavailable: bool = False
    sparkline: str = ""  # the points of an SVG polyline of the lifetime value over the runs

    @property
    def horizon_months(self) -> int:
        return int((self.run.parameters or {}).get("horizon_months", 12)) if self.run is not None else 12

    @property
    def churn_level(self) -> str:
        return churn_level(self.score.churn_risk if self.score is not None else None)

    @property
    def badges(self) -> list[Badge]:
        if self.score is None:
            return []
        return badges(self.score.rfm_segment, self.score.abc_class, self.score.value_tier)


def churn_reason_texts(reasons: list[dict[str, Any]] | None, limit: int = REASONS_SHOWN) -> list[str]:
    """The top reasons of a churn risk in words (``cuore.analytics.churn.reason_text``)."""
    if not reasons:
        return []
    from cuore.analytics import churn

    texts = []
    for reason in reasons[:limit]:
        try:
            texts.append(str(churn.reason_text(reason)))
        except Exception:  # a reason of a newer or older run the words do not know: leave it out
            log.warning("churn reason not worded: %r", reason, exc_info=True)
    return texts


def offer_texts(offers: list[dict[str, Any]] | None, limit: int = OFFERS_SHOWN) -> list[dict[str, str]]:
    """The next best offers: what to offer (``name``, ``kind``) and why, in words (``cuore.analytics.nbo``)."""
    if not offers:
        return []
    offers = offers[:limit]
    try:
        from cuore.analytics import nbo

        names = nbo.offer_names([offers])
        return [
            {
                "kind": str(offer.get("kind", "product")),
                "name": names.get((offer.get("kind", "product"), offer.get("id")), f"#{offer.get('id')}"),
                "reason": str(nbo.offer_text(offer, names)),
            }
            for offer in offers
        ]
    except Exception:  # an offer of a newer or older run the words do not know: show none rather than fail
        log.warning("next best offers not worded: %r", offers, exc_info=True)
        return []


def _sparkline(values: list[float]) -> str:
    """The points of a polyline drawing ``values`` in a SPARK_WIDTH × SPARK_HEIGHT box."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 2 - (value - low) / span * (SPARK_HEIGHT - 4):.1f}"
        for i, value in enumerate(values)
    )


def _history(kind: str, customer_id: int) -> tuple[list[dict[str, Any]], bool]:
    """The customer's past scorings (oldest first), and whether the warehouse could not be read."""
    try:
        if kind == "contact":
            return selectors.contact_score_history(contact_id=customer_id), False
        return selectors.account_score_history(account_id=customer_id), False
    except (
        duckdb.Error,
        warehouse.WarehouseBusy,
    ):  # the warehouse is locked by a run that is writing it, or not there yet
        log.info("score history of %s %s not read", kind, customer_id, exc_info=True)
        return [], True


def customer_value_for(actor: Any, customer: Any, *, with_history: bool = True) -> CustomerValue | None:
    """The value panel's content for a contact or an account, or None when ``actor`` may not see its scores."""
    kind = customer._meta.model_name
    try:
        if kind == "contact":
            score = selectors.contact_score_get(actor=actor, contact_id=customer.pk)
        elif kind == "account":
            score = selectors.account_score_get(actor=actor, account_id=customer.pk)
        else:
            return None
    except NotFound:
        return None
    if score is None:
        run = selectors.analytics_run_last()
        if run is None:  # nothing scored yet: the panel stays away
            return None
        return CustomerValue(kind=kind, customer_id=customer.pk, score=None, run=run)
    value = CustomerValue(
        kind=kind,
        customer_id=customer.pk,
        score=score,
        run=score.run,
        reasons=churn_reason_texts(score.churn_reasons),
        offers=offer_texts(score.next_best_offers),
    )
    if with_history:
        history, value.history_unavailable = _history(kind, customer.pk)
        value.history = [
            {
                "as_of": row["as_of"],
                "rfm_segment": row.get("rfm_segment"),
                "segment_label": SEGMENT_LABELS.get(row.get("rfm_segment"), row.get("rfm_segment")),
                "value_tier": row.get("value_tier"),
                "tier_label": TIER_LABELS.get(row.get("value_tier"), row.get("value_tier")),
                "clv": row.get("clv"),
                "monetary_total": row.get("monetary_total"),
                "churn_risk": row.get("churn_risk"),
            }
            for row in history
        ]
        points = [float(row["clv"]) for row in value.history if isinstance(row["clv"], (int, float, Decimal))]
        value.sparkline = _sparkline(points)
        value.history = value.history[-HISTORY_SHOWN:][::-1]  # the latest first
    return value


@register.simple_tag(takes_context=True)
def customer_value(context, customer, user=None) -> CustomerValue | None:
    """``{% customer_value contact as value %}``: the customer's scores for the signed-in user (or ``user``)."""
    actor = user if user is not None else getattr(context.get("request"), "user", None)
    if customer is None or actor is None:
        return None
    return customer_value_for(actor, customer)


@register.inclusion_tag("analytics/_value_panel.html")
def value_panel(value: CustomerValue | None) -> dict:
    """``{% value_panel value %}``: the "Value" card of a customer 360 page."""
    return {"value": value}


@register.filter
def churn_level(risk: float | None) -> str:
    """high, medium or low: how worrying a churn risk is (empty without one)."""
    if risk is None or risk == "":
        return ""
    return "high" if risk >= HIGH_RISK else "medium" if risk >= MEDIUM_RISK else "low"


@register.filter
def churn_css(risk: float | None) -> str:
    """The badge colour of a churn risk."""
    return {"high": "text-bg-danger", "medium": "text-bg-warning", "low": "text-bg-success"}.get(
        churn_level(risk), "text-bg-light border"
    )


@register.filter
def percent(value: Any, digits: int = 0) -> str:
    """``0.4567|percent`` → ``46%``-like text in the active language (empty for None)."""
    if value is None or value == "":
        return ""
    from cuore.core.templatetags.cuore import number

    return f"{number(float(value) * 100, digits)}%"
