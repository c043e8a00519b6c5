"""Churn risk: the probability that a customer places no order in the next N days, with its reasons.

A logistic regression learns, from the contacts' own histories, who stopped buying; each contact's
risk is the model's probability and the reasons are the features that push that risk up the most.

Cutoffs. Every figure of a contact is computed *as of a cutoff day c*: from its orders, tickets,
interactions and consent events on or before c (``features_step``, one SQL step reused for each
cutoff). The label at c is 1 when the contact, who had bought on or before c, placed no order in
(c, c + N] (N = ``Parameters.churn_days``, 90 by default).

- training: c_train = as_of − 2N, labels from (as_of − 2N, as_of − N];
- test (held out in time): c_test = as_of − N, labels from (as_of − N, as_of]. The model fitted on
  the training rows predicts the test rows; nothing after a cutoff reaches its features, and the
  training labels end where the test features end;
- the run's figures: AUC (``roc_auc_score``), Brier score, base rate (share of test rows that
  churned), row counts and calibration in 10 bins of equal size over the test rows sorted by the
  predicted risk (mean predicted, observed rate, rows). ``p_alive_auc`` is the AUC of 1 − P(alive)
  on the same test rows, with BG/NBD refitted on the history up to c_test (on an evenly spread
  sample of at most ``P_ALIVE_SAMPLE`` customers) — so it does not see the test window either;
- scoring: the model is refitted on the test rows (the latest fully labelled window) and applied to
  every contact of ``contact_rfm`` with features as of c = as_of (all history up to and including
  as_of): ``churn_risk`` = the probability of no order in (as_of, as_of + N].

Features (``FEATURES``; counts and amounts are log1p-transformed before standardising, as they are
skewed; "last 90 days" at c means the days (c − 90, c]). The sign is the direction the feature's
coefficient must have (+: more of it, more risk; −: less risk; ±: either, see Model):

==========================  ====  ==================================================================
days_since_last_order       +     days from the last order to c
orders_90, orders_365       −     orders in the last 90 / 365 days
spend_365                   −     spend in the last 365 days (sum of the order values, in currency
                                  units)
spend_change_180            −     spend of the last 180 days (a) against the 180 before (b), in
                                  percent of the larger: 100 × (a − b) / max(a, b), from −100
                                  (stopped spending) to 100 (no spend before); 0 when both are 0.
                                  A fall is the exact percent drop on the previous period
orders_total                −     all orders up to c
avg_order_value             ±     spend / orders, all orders up to c
tenure_days                 ±     days from the first order to c
days_between_orders         +     (last order − first order) / (order days − 1); missing for one
                                  order day
tickets_180                 ±     tickets opened in the last 180 days
satisfaction_365            −     mean rating (1–5) of the rated tickets opened in the last 365
                                  days; missing when none was rated
low_rated_tickets_365       +     tickets opened in the last 365 days rated 2 or less
sla_breaches_365            +     tickets opened in the last 365 days that breached an SLA clock
interactions_in_90          ±     inbound interactions in the last 90 days
interactions_out_90         ±     outbound interactions in the last 90 days
consent_withdrawn           +     1 when the contact gave marketing or newsletter consent on some
                                  channel and, taking the latest event of each purpose and channel
                                  on or before c (a withdrawal wins a tie on the same day), none is
                                  granted any more
==========================  ====  ==================================================================

The lifecycle stage is not a feature: the warehouse has only its current value, which at a past
cutoff would leak what happened after it (a churned customer is often marked former customer). A
ticket's rating and SLA breach are the current ones, so a ticket opened just before a cutoff may
carry a rating given just after it; that leak is a few days at most.

Model: scikit-learn ``LogisticRegression`` (L2, C = 1, lbfgs; deterministic) on the standardised
features (mean and standard deviation of the fitting rows; a missing value is set to the mean, so
it adds nothing). Correlated features can share an effect so that one coefficient flips sign
(spend is orders times order value): while a fitted coefficient goes against its feature's sign
above, the feature furthest against is left out (coefficient 0 in the figures) and the model is
refitted, so a reason never says the opposite of what it means. Beyond ``FIT_ROWS`` rows a fit
uses a fixed random sample of that many. The figures give the scoring model's ``coefficients`` and
``intercept``.

Reasons. The contribution of feature j to a contact's log-odds is coef_j × z_j, z_j its
standardised value: how much it moves the risk away from that of an average customer. The reasons
(``churn_reasons``, JSON) are the up to 3 largest contributions of at least ``REASON_MIN_EFFECT``,
largest first, each ``{"feature": name, "value": raw value at c (whole for counts and days, else
2 decimals), "effect": contribution rounded to 3 decimals}``; ``reason_text`` words them in the
user's language.

Not enough data: with fewer than ``MIN_ROWS`` contacts at a cutoff, or fewer than ``MIN_PER_CLASS``
of either outcome, no model is fitted. ``churn_risk`` is then 1 − P(alive) of ``contact_clv``
(reason ``{"feature": "p_alive", "value": P(alive) to 2 decimals, "effect": null}``), or NULL with
no reason where that is empty too, and the figures say why: ``{"skipped": ...}`` (with the horizon
and the two cutoffs).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy, ngettext
from scipy import special
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from cuore.analytics import clv, pipeline

MIN_ROWS = 100
MIN_PER_CLASS = 20
CALIBRATION_BINS = 10
REASON_COUNT = 3
REASON_MIN_EFFECT = 0.05  # log-odds: at most 1.25 percentage points of risk
P_ALIVE_SAMPLE = 10_000
FIT_ROWS = 200_000
SCORE_ROWS = 200_000
RANDOM_STATE = 0
# Consent purposes that count as marketing (cuore.contacts.models.ConsentPurpose values).
MARKETING_PURPOSES = ("marketing", "newsletter")


@dataclass(frozen=True)
class Feature:
    """A model input: its column, its label for the docs and the UI, how it is transformed and shown.

    ``direction`` is the sign its coefficient must have (+1: more of it, more risk; −1: less risk;
    0: either): a fitted sign against it is a proxy effect of correlated features, and the feature
    is left out of the model (see ``ChurnModel.fit``).
    """

    name: str
    label: Any
    direction: int
    log: bool = True  # log1p before standardising (non-negative, skewed)
    integer: bool = True  # shown without decimals


FEATURES = [
    Feature("days_since_last_order", gettext_lazy("days since the last order"), +1),
    Feature("orders_90", gettext_lazy("orders in the last 90 days"), -1),
    Feature("orders_365", gettext_lazy("orders in the last 365 days"), -1),
    Feature("spend_365", gettext_lazy("spend in the last 365 days"), -1, integer=False),
    Feature(
        "spend_change_180",
        gettext_lazy("spend change, last 180 days against the 180 before (%)"),
        -1,
        log=False,
        integer=False,
    ),
    Feature("orders_total", gettext_lazy("orders in all"), -1),
    Feature("avg_order_value", gettext_lazy("average order value"), 0, integer=False),
    Feature("tenure_days", gettext_lazy("days since the first order"), 0),
    Feature("days_between_orders", gettext_lazy("average days between orders"), +1, integer=False),
    Feature("tickets_180", gettext_lazy("tickets in the last 180 days"), 0),
    Feature(
        "satisfaction_365",
        gettext_lazy("mean rating of the tickets of the last 365 days"),
        -1,
        log=False,
        integer=False,
    ),
    Feature("low_rated_tickets_365", gettext_lazy("tickets rated 2 or less in the last 365 days"), +1),
    Feature("sla_breaches_365", gettext_lazy("tickets past their SLA in the last 365 days"), +1),
    Feature("interactions_in_90", gettext_lazy("inbound interactions in the last 90 days"), 0),
    Feature("interactions_out_90", gettext_lazy("outbound interactions in the last 90 days"), 0),
    Feature("consent_withdrawn", gettext_lazy("marketing consent withdrawn"), +1, log=False),
]
FEATURE_NAMES = [feature.name for feature in FEATURES]

Step = pipeline.Step


# --- SQL ----------------------------------------------------------------------------------------------


def _day(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


def orders_step() -> Step:
    """Each contact's orders and spend per day on which it ordered: what the feature steps read."""
    return Step(
        "churn_orders",
        "SELECT co.customer_id, co.placed_on, COUNT(*) AS orders, SUM(COALESCE(v.value_cents, 0)) AS value_cents "
        "FROM contact_orders co LEFT JOIN order_values v ON v.order_id = co.order_id "
        "GROUP BY co.customer_id, co.placed_on",
    )


def features_step(cutoff: dt.date, *, table: str = "churn_features", horizon_days: int | None = None) -> Step:
    """The features of every contact who bought on or before ``cutoff``, from its history up to it.

    Besides the features: ``order_days`` (days with an order) and ``active_days`` (first order to
    last), for P(alive). With ``horizon_days`` the table also has ``churned``: 1 when the contact
    placed no order in (cutoff, cutoff + horizon_days].
    """
    c = _day(cutoff)
    ago = {days: _day(cutoff - dt.timedelta(days=days)) for days in (90, 180, 360, 365)}
    purposes = ", ".join(f"'{purpose}'" for purpose in MARKETING_PURPOSES)
    label_cte = label_column = label_join = ""
    if horizon_days is not None:
        until = _day(cutoff + dt.timedelta(days=horizon_days))
        label_cte = f""",
    later AS (
        SELECT DISTINCT customer_id FROM churn_orders WHERE placed_on > {c} AND placed_on <= {until}
    )"""
        label_column = ", CASE WHEN l.customer_id IS NULL THEN 1 ELSE 0 END AS churned"
        label_join = "LEFT JOIN later l ON l.customer_id = b.customer_id"
    return Step(
        table,
        f"""
    WITH buyers AS (
        SELECT customer_id,
               date_diff('day', MAX(placed_on), {c}) AS days_since_last_order,
               date_diff('day', MIN(placed_on), {c}) AS tenure_days,
               date_diff('day', MIN(placed_on), MAX(placed_on)) AS active_days,
               SUM(orders) AS orders_total,
               COUNT(*) AS order_days,
               SUM(value_cents) AS spend_cents,
               SUM(CASE WHEN placed_on > {ago[90]} THEN orders ELSE 0 END) AS orders_90,
               SUM(CASE WHEN placed_on > {ago[365]} THEN orders ELSE 0 END) AS orders_365,
               SUM(CASE WHEN placed_on > {ago[365]} THEN value_cents ELSE 0 END) AS spend_365_cents,
               greatest(SUM(CASE WHEN placed_on > {ago[180]} THEN value_cents ELSE 0 END), 0) AS recent_cents,
               greatest(SUM(CASE WHEN placed_on > {ago[360]} AND placed_on <= {ago[180]}
                                 THEN value_cents ELSE 0 END), 0) AS before_cents
        FROM churn_orders WHERE placed_on <= {c}
        GROUP BY customer_id
    ),
    support AS (
        SELECT contact_id AS customer_id,
               SUM(CASE WHEN opened_on > {ago[180]} THEN 1 ELSE 0 END) AS tickets_180,
               AVG(CAST(satisfaction AS DOUBLE)) AS satisfaction_365,
               SUM(CASE WHEN satisfaction <= 2 THEN 1 ELSE 0 END) AS low_rated_tickets_365,
               SUM(CASE WHEN breached = 1 THEN 1 ELSE 0 END) AS sla_breaches_365
        FROM tickets WHERE opened_on <= {c} AND opened_on > {ago[365]}
        GROUP BY contact_id
    ),
    contacted AS (
        SELECT contact_id AS customer_id,
               SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS interactions_in_90,
               SUM(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS interactions_out_90
        FROM interactions WHERE occurred_on <= {c} AND occurred_on > {ago[90]}
        GROUP BY contact_id
    ),
    consent_latest AS (
        SELECT contact_id, status FROM (
            SELECT contact_id, status,
                   row_number() OVER (
                       PARTITION BY contact_id, purpose, channel ORDER BY occurred_on DESC, status DESC
                   ) AS position
            FROM consents WHERE occurred_on <= {c} AND purpose IN ({purposes})
        ) ranked WHERE position = 1
    ),
    consent AS (
        SELECT contact_id AS customer_id,
               CASE WHEN SUM(CASE WHEN status = 'granted' THEN 1 ELSE 0 END) = 0 THEN 1 ELSE 0 END
                   AS consent_withdrawn
        FROM consent_latest GROUP BY contact_id
    ){label_cte}
    SELECT b.customer_id,
           CAST(b.days_since_last_order AS DOUBLE) AS days_since_last_order,
           CAST(b.orders_90 AS DOUBLE) AS orders_90,
           CAST(b.orders_365 AS DOUBLE) AS orders_365,
           CAST(b.spend_365_cents AS DOUBLE) / 100 AS spend_365,
           CASE WHEN greatest(b.recent_cents, b.before_cents) > 0
                THEN CAST(100 * (b.recent_cents - b.before_cents) AS DOUBLE)
                     / greatest(b.recent_cents, b.before_cents)
                ELSE CAST(0 AS DOUBLE) END AS spend_change_180,
           CAST(b.orders_total AS DOUBLE) AS orders_total,
           CAST(b.spend_cents AS DOUBLE) / 100 / b.orders_total AS avg_order_value,
           CAST(b.tenure_days AS DOUBLE) AS tenure_days,
           CASE WHEN b.order_days > 1 THEN CAST(b.active_days AS DOUBLE) / (b.order_days - 1) END
               AS days_between_orders,
           CAST(COALESCE(s.tickets_180, 0) AS DOUBLE) AS tickets_180,
           s.satisfaction_365,
           CAST(COALESCE(s.low_rated_tickets_365, 0) AS DOUBLE) AS low_rated_tickets_365,
           CAST(COALESCE(s.sla_breaches_365, 0) AS DOUBLE) AS sla_breaches_365,
           CAST(COALESCE(i.interactions_in_90, 0) AS DOUBLE) AS interactions_in_90,
           CAST(COALESCE(i.interactions_out_90, 0) AS DOUBLE) AS interactions_out_90,
           CAST(COALESCE(k.consent_withdrawn, 0) AS DOUBLE) AS consent_withdrawn,
           CAST(b.order_days AS DOUBLE) AS order_days,
           CAST(b.active_days AS DOUBLE) AS active_days{label_column}
    FROM buyers b
    LEFT JOIN support s ON s.customer_id = b.customer_id
    LEFT JOIN contacted i ON i.customer_id = b.customer_id
    LEFT JOIN consent k ON k.customer_id = b.customer_id
    {label_join}
    """,
    )


# --- the model ----------------------------------------------------------------------------------------


@dataclass
class Rows:
    """A feature table as arrays, by customer id: raw features (n × k, NaN where missing), labels if any."""

    ids: np.ndarray
    raw: np.ndarray
    order_days: np.ndarray
    active_days: np.ndarray
    churned: np.ndarray | None

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Rows:
        # Sorted by id: no engine promises an order, and the fit must not depend on one.
        order = np.argsort(table.column("customer_id").to_numpy(), kind="stable")

        def column(name: str, kind: type = float) -> np.ndarray:
            return table.column(name).to_numpy(zero_copy_only=False).astype(kind)[order]

        raw = np.empty((table.num_rows, len(FEATURES)), order="F")  # filled and read column by column
        for j, name in enumerate(FEATURE_NAMES):
            raw[:, j] = column(name)
        churned = column("churned", int) if "churned" in table.column_names else None
        return cls(
            ids=column("customer_id", np.int64),
            raw=raw,
            order_days=column("order_days"),
            active_days=column("active_days"),
            churned=churned,
        )

    def too_few(self, cutoff: dt.date) -> str:
        """Why these rows cannot train or test a model, or "" when they can."""
        assert self.churned is not None
        churned = int(self.churned.sum())
        if len(self.ids) < MIN_ROWS:
            return f"{len(self.ids)} customers had bought by {cutoff.isoformat()}: fewer than {MIN_ROWS}"
        if min(churned, len(self.ids) - churned) < MIN_PER_CLASS:
            return (
                f"{churned} of the {len(self.ids)} customers of {cutoff.isoformat()} churned: "
                f"fewer than {MIN_PER_CLASS} of one outcome"
            )
        return ""


_DIRECTION = np.array([feature.direction for feature in FEATURES])


def _transform(raw: np.ndarray) -> np.ndarray:
    """The model's scale of each feature: log1p of the skewed ones (NaN stays NaN)."""
    x = np.empty_like(raw, order="F")
    for j, feature in enumerate(FEATURES):
        x[:, j] = np.log1p(np.maximum(raw[:, j], 0.0)) if feature.log else raw[:, j]
    return x


@dataclass
class ChurnModel:
    """A fitted logistic regression on the standardised features, and its reasons."""

    mean: np.ndarray
    scale: np.ndarray
    active: np.ndarray  # which features the regression uses (bool, k)
    regression: LogisticRegression

    @classmethod
    def fit(cls, raw: np.ndarray, churned: np.ndarray) -> ChurnModel:
        """Fit on all features; while a sign goes against ``Feature.direction``, leave out the feature
        whose coefficient is the furthest against and refit.

        Correlated features share their effect in ways that can flip a sign (spend is orders times
        order value); a reason read from a flipped sign would say the opposite of what it means.
        Beyond ``FIT_ROWS`` rows the fit uses a fixed random sample of that many: the coefficients
        of 16 features are as good, for a fraction of the time.
        """
        if len(raw) > FIT_ROWS:
            sample = np.sort(np.random.default_rng(RANDOM_STATE).choice(len(raw), FIT_ROWS, replace=False))
            raw, churned = raw[sample], churned[sample]
        x = _transform(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature missing on every row
            mean, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        active = np.ones(len(FEATURES), bool)
        model = cls(mean=mean, scale=scale, active=active, regression=_regression())
        z = model.standardise(raw)
        while True:
            model = cls(mean=mean, scale=scale, active=active.copy(), regression=_regression())
            model.regression.fit(z[:, active], churned)
            against = np.minimum(_DIRECTION[active] * model.regression.coef_[0], 0.0)
            if not against.any():
                return model
            active[np.flatnonzero(active)[np.argmin(against)]] = False  # the furthest against, one at a time

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """z = (transformed − mean) / scale, 0 where missing (n × k)."""
        z = _transform(raw)
        z -= self.mean
        z /= self.scale
        return np.nan_to_num(z, copy=False, nan=0.0)

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return self.regression.predict_proba(self.standardise(raw)[:, self.active])[:, 1]

    def coef(self) -> np.ndarray:
        """The coefficient of every feature (0 for those left out)."""
        coef = np.zeros(len(FEATURES))
        coef[self.active] = self.regression.coef_[0]
        return coef

    def contributions(self, raw: np.ndarray) -> np.ndarray:
        """Each feature's share of each row's log-odds: coef_j × z_j (n × k)."""
        return self.standardise(raw) * self.coef()

    def score(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The predicted risk and the contributions of each row, standardising once."""
        contributions = self.standardise(raw) * self.coef()
        log_odds = contributions.sum(axis=1) + self.regression.intercept_[0]
        return special.expit(log_odds), contributions

    def coefficients(self) -> dict[str, float]:
        return {name: round(float(c), 4) for name, c in zip(FEATURE_NAMES, self.coef(), strict=True)}


def _regression() -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=1000, random_state=RANDOM_STATE)


def calibration(churned: np.ndarray, predicted: np.ndarray, bins: int = CALIBRATION_BINS) -> list[list[float]]:
    """[mean predicted, observed rate, rows] of ``bins`` groups of equal size, by rising prediction."""
    order = np.argsort(predicted, kind="stable")
    result = []
    for part in np.array_split(order, min(bins, len(order))):
        result.append([round(float(predicted[part].mean()), 4), round(float(churned[part].mean()), 4), len(part)])
    return result


# --- JSON reasons, built column-wise ------------------------------------------------------------------


def _number_text(values: np.ndarray, integer: np.ndarray) -> pa.Array:
    """JSON numbers: rounded to a whole number where ``integer``, else to 2 decimals."""
    rounded = np.where(integer, np.round(values), np.round(values, 2))
    as_int = pc.cast(pa.array(np.where(integer, rounded, 0).astype(np.int64)), pa.string())
    as_float = pc.cast(pa.array(rounded), pa.string())
    return pc.if_else(pa.array(integer), as_int, as_float)


def _reason_objects(features: pa.Array, values: pa.Array, effects: pa.Array, present: np.ndarray) -> pa.Array:
    """One JSON object per row (null where not ``present``)."""
    text = pc.binary_join_element_wise(
        '{"feature": "', features, '", "value": ', values, ', "effect": ', effects, "}", ""
    )
    return pc.if_else(pa.array(present), text, pa.nulls(len(present), pa.string()))


def _json_lists(objects: list[pa.Array]) -> pa.Array:
    """'[a, b, …]' of each row's objects; in each row the null ones all come after the others."""
    # Not binary_join_element_wise(..., null_handling="skip"): pyarrow 26 drops the rows where every
    # input is null, so the result would be shorter than the table.
    parts = [pc.fill_null(objects[0], "")]
    for following in objects[1:]:
        parts.append(pc.fill_null(pc.binary_join_element_wise(", ", following, ""), ""))
    return pc.binary_join_element_wise("[", *parts, "]", "")


def reasons_json(raw: np.ndarray, contributions: np.ndarray) -> pa.Array:
    """Each row's top reasons (see the module docstring) as JSON text."""
    effects = contributions.copy()
    rows = np.arange(len(raw))
    names = pa.array(FEATURE_NAMES, pa.string())
    integer = np.array([feature.integer for feature in FEATURES])
    objects = []
    for _ in range(REASON_COUNT):
        j = np.argmax(effects, axis=1)  # the largest left (ties: the first feature)
        effect = np.round(effects[rows, j], 3)
        present = effect >= REASON_MIN_EFFECT  # falls with each slot: absent ones come last
        value = np.where(present, raw[rows, j], 0.0)
        value = np.where(np.isfinite(value), value, 0.0)  # a missing value adds nothing, so never shows
        objects.append(
            _reason_objects(
                names.take(j), _number_text(value, integer[j]), pc.cast(pa.array(effect), pa.string()), present
            )
        )
        effects[rows, j] = -np.inf
    return _json_lists(objects)


# --- the stage ----------------------------------------------------------------------------------------


def p_alive(rows: Rows, cutoff: dt.date) -> np.ndarray | None:
    """P(alive) at ``cutoff`` of each row, BG/NBD fitted on their history up to it (None if it cannot be)."""
    # The summary of pipeline.summary_step, in weeks, from the feature table's helper columns.
    x = rows.order_days - 1
    t_x = rows.active_days / pipeline.PERIOD_DAYS
    t = rows.raw[:, FEATURE_NAMES.index("tenure_days")] / pipeline.PERIOD_DAYS
    sample = np.unique(np.linspace(0, len(x) - 1, min(len(x), P_ALIVE_SAMPLE)).astype(int))
    try:
        params = clv.fit_bgnbd(x[sample], t_x[sample], t[sample])
    except ValueError:
        return None
    return clv.probability_alive(params, x, t_x, t)


def _fallback(runner: pipeline.Runner, reason: str, figures: dict[str, Any]) -> dict[str, Any]:
    """No model: churn_risk = 1 − P(alive) of contact_clv where there is one, else NULL."""
    runner.execute(
        Step(
            "churn_p_alive",
            "SELECT r.customer_id, v.p_alive FROM contact_rfm r LEFT JOIN contact_clv v ON v.customer_id = r.customer_id",
        )
    )
    table = runner.fetch("churn_p_alive")
    alive = table.column("p_alive").to_numpy(zero_copy_only=False).astype(float)  # NULL → NaN
    known = np.isfinite(alive)
    n = len(alive)
    reasons = _json_lists(
        [
            _reason_objects(
                pa.array(["p_alive"] * n, pa.string()),
                _number_text(np.where(known, alive, 0.0), np.zeros(n, bool)),
                pa.array(["null"] * n, pa.string()),
                known,
            )
        ]
    )
    risk = pa.array(1.0 - alive, mask=~known)
    runner.put(
        "contact_churn",
        pa.table({"customer_id": table.column("customer_id"), "churn_risk": risk, "churn_reasons": reasons}),
    )
    return {"skipped": reason, **figures}


def churn_stage(runner: pipeline.Runner, params: pipeline.Parameters) -> dict[str, Any]:
    """Create ``contact_churn`` (customer_id, churn_risk, churn_reasons) and return the model's test figures."""
    horizon = params.churn_days
    train_cutoff = params.as_of - dt.timedelta(days=2 * horizon)
    test_cutoff = params.as_of - dt.timedelta(days=horizon)
    figures: dict[str, Any] = {
        "horizon_days": horizon,
        "train_cutoff": train_cutoff.isoformat(),
        "test_cutoff": test_cutoff.isoformat(),
    }
    runner.execute(orders_step())
    # One table name for every cutoff: each replaces the previous once it is read, to bound memory.
    runner.execute(features_step(train_cutoff, horizon_days=horizon))
    train = Rows.from_arrow(runner.fetch("churn_features"))
    if why := train.too_few(train_cutoff):
        return _fallback(runner, why, figures)
    runner.execute(features_step(test_cutoff, horizon_days=horizon))
    test = Rows.from_arrow(runner.fetch("churn_features"))
    if why := test.too_few(test_cutoff):
        return _fallback(runner, why, figures)
    assert train.churned is not None and test.churned is not None

    predicted = ChurnModel.fit(train.raw, train.churned).predict(test.raw)
    figures["train_rows"] = len(train.ids)
    del train
    figures.update(
        auc=round(float(roc_auc_score(test.churned, predicted)), 4),
        brier=round(float(brier_score_loss(test.churned, predicted)), 4),
        base_rate=round(float(test.churned.mean()), 4),
        test_rows=len(test.ids),
        calibration=calibration(test.churned, predicted),
    )
    alive = p_alive(test, test_cutoff)
    if alive is not None:
        figures["p_alive_auc"] = round(float(roc_auc_score(test.churned, 1.0 - alive)), 4)

    model = ChurnModel.fit(test.raw, test.churned)  # the latest labelled window scores today
    figures["coefficients"] = model.coefficients()
    figures["intercept"] = round(float(model.regression.intercept_[0]), 4)
    del test
    runner.execute(features_step(params.as_of))
    now = Rows.from_arrow(runner.fetch("churn_features"))
    risks, reasons = [], []
    for start in range(0, len(now.ids), SCORE_ROWS):  # in slices: the n × k temporaries stay small
        raw = now.raw[start : start + SCORE_ROWS]
        risk, contributions = model.score(raw)
        risks.append(pa.array(risk, pa.float64()))
        reasons.append(reasons_json(raw, contributions))
    runner.put(
        "churn_scored",
        pa.table(
            {
                "customer_id": pa.array(now.ids, pa.int64()),
                "churn_risk": pa.chunked_array(risks, pa.float64()),
                "churn_reasons": pa.chunked_array(reasons, pa.string()),
            }
        ),
    )
    runner.execute(
        Step(
            "contact_churn",
            "SELECT r.customer_id, s.churn_risk, COALESCE(s.churn_reasons, '[]') AS churn_reasons "
            "FROM contact_rfm r LEFT JOIN churn_scored s ON s.customer_id = r.customer_id",
        )
    )
    return figures


# --- words --------------------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{abs(value):.0f}"


def reason_text(reason: dict[str, Any]) -> str:
    """One reason of ``churn_reasons`` in words, in the active language."""
    name, value = reason.get("feature"), reason.get("value")
    if value is None:
        label = next((feature.label for feature in FEATURES if feature.name == name), name)
        return str(label)
    count = round(value)
    if name == "days_since_last_order":
        return ngettext("no order for %(count)s day", "no order for %(count)s days", count) % {"count": count}
    if name in ("orders_90", "orders_365"):
        days = 90 if name == "orders_90" else 365
        if count == 0:
            return gettext("no order in the last %(days)s days") % {"days": days}
        return ngettext(
            "%(count)s order in the last %(days)s days", "%(count)s orders in the last %(days)s days", count
        ) % {"count": count, "days": days}
    if name == "spend_365":
        return gettext("spent %(amount)s in the last 365 days") % {"amount": formats.number_format(value, 2)}
    if name == "spend_change_180":
        # value = 100 × (a − b) / max(a, b): a fall is the drop on b; a rise of v is v / (100 − v) on b.
        if value < 0:
            return gettext("spend down %(percent)s %% on the previous 6 months") % {"percent": _percent(value)}
        if value >= 100:
            return gettext("spending in the last 6 months, none in the 6 before")
        if value > 0:
            return gettext("spend up %(percent)s %% on the previous 6 months") % {
                "percent": _percent(100 * value / (100 - value))
            }
        return gettext("spend unchanged on the previous 6 months")
    if name == "orders_total":
        return ngettext("%(count)s order in all", "%(count)s orders in all", count) % {"count": count}
    if name == "avg_order_value":
        return gettext("average order %(amount)s") % {"amount": formats.number_format(value, 2)}
    if name == "tenure_days":
        return ngettext("first order %(count)s day ago", "first order %(count)s days ago", count) % {"count": count}
    if name == "days_between_orders":
        return gettext("an order every %(days)s days on average") % {"days": round(value)}
    if name == "tickets_180":
        return ngettext("%(count)s ticket in the last 180 days", "%(count)s tickets in the last 180 days", count) % {
            "count": count
        }
    if name == "satisfaction_365":
        return gettext("tickets rated %(rating)s of 5 on average") % {"rating": formats.number_format(value, 1)}
    if name == "low_rated_tickets_365":
        return ngettext("%(count)s ticket rated 2 or less", "%(count)s tickets rated 2 or less", count) % {
            "count": count
        }
    if name == "sla_breaches_365":
        return ngettext("%(count)s ticket past its SLA", "%(count)s tickets past their SLA", count) % {"count": count}
    if name == "interactions_in_90":
        return ngettext(
            "%(count)s inbound contact in the last 90 days", "%(count)s inbound contacts in the last 90 days", count
        ) % {"count": count}
    if name == "interactions_out_90":
        return ngettext(
            "%(count)s outbound contact in the last 90 days", "%(count)s outbound contacts in the last 90 days", count
        ) % {"count": count}
    if name == "consent_withdrawn":
        return gettext("marketing consent withdrawn") if value else gettext("marketing consent given")
    if name == "p_alive":
        return gettext("%(percent)s %% likely to be still active (purchase model)") % {"percent": _percent(100 * value)}
    return f"{name}: {value}"
