"""Fit buy-till-you-die models and value customers: BG/NBD, Pareto/NBD, Gamma-Gamma and CLV.

Pure numpy / scipy, no Django: the warehouse hands in plain transactions or summary arrays.

The summary (Fader, Hardie & Lee's notation, in periods of ``period_days`` days):

- frequency (x): the number of repeat purchases, that is purchase days after the first one. Several
  transactions of one customer on one day count as one purchase, of their summed amount.
- recency (t_x): the time from the first purchase to the last one (0 when frequency is 0).
- T: the time from the first purchase to the end of the calibration period.
- monetary (z̄): the mean amount of the repeat purchases (the first purchase is left out, as the
  Gamma-Gamma model asks); 0 when frequency is 0.

Models and the formulas used:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", equations (6), (10)
  and P(alive) from their note "Computing P(alive) using the BG/NBD model".
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), with the likelihood of Fader & Hardie (2005),
  "A note on deriving the Pareto/NBD model and related expressions". The Gauss hypergeometric terms
  there are 2F1(r+s+x, s+1; r+s+x+1; z) (alpha >= beta) and 2F1(r+s+x, r+x; r+s+x+1; z) (alpha < beta)
  with z in [0, 1); they are evaluated after Euler's transformation
  2F1(a, b; c; z) = (1 - z)^(c-a-b) 2F1(c-a, c-b; c; z), which turns them into series of positive
  terms with first parameter 1, and the factor (1 - z)^(c-a-b) is kept in log space. When
  alpha == beta, z is 0 and the terms are 1.
- Gamma-Gamma: Fader, Hardie & Lee (2005b), "RFM and CLV: using iso-value curves for customer base
  analysis", and Fader & Hardie's note "The Gamma-Gamma model of monetary value" (2013), fitted on
  the repeat buyers only.

Parameters are fitted by maximum likelihood on the logarithms of the parameters, so they stay
positive. BG/NBD and Gamma-Gamma use L-BFGS with their analytic gradients; the likelihood terms that
depend on the frequency or T alone are computed once per distinct value and weighted by how many
customers share it, so only one or two elementwise terms run per customer. The Pareto/NBD, whose
hypergeometric terms have no convenient derivatives, uses Nelder-Mead (deterministic) over the
distinct (frequency, recency, T) rows. The objective is the mean negative log-likelihood per
customer, so the tolerances mean the same at a hundred customers and at a million. Predictions too
evaluate their hypergeometric and power terms once per distinct (frequency, T) pair.

CLV: the sum over the months of the horizon of the expected purchases in that month times the
expected spend per purchase, discounted at ``monthly_discount_rate`` per month, counting the
purchases of month m as paid at the end of month m. A month is 365.25 / 12 days. This is the
discrete approximation of Fader, Hardie & Lee's discounted expected transactions (DET) with
monthly steps; it does not add the margin (pass margin-adjusted spend for a profit CLV).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

DAYS_PER_MONTH = 365.25 / 12

__all__ = [
    "BGNBDParams",
    "CustomerSummary",
    "GammaGammaParams",
    "ParetoNBDParams",
    "clv",
    "expected_purchases",
    "expected_spend",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "probability_alive",
    "summarise",
]


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters: purchase rates ~ Gamma(r, alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int


@dataclass(frozen=True)
class ParetoNBDParams:
    """Fitted Pareto/NBD parameters: purchase rates ~ Gamma(r, alpha), dropout rates ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: int


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma spend parameters: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer frequency, recency, T and monetary value, in the order of ``customer_ids``."""

    customer_ids: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray


# --- summary ---------------------------------------------------------------------------------------


def summarise(
    transactions: Iterable[tuple[Any, dt.date, Any]],
    *,
    observation_end: dt.date,
    period_days: float,
) -> CustomerSummary:
    """Summarise (customer id, date, amount) transactions up to ``observation_end`` (inclusive).

    Transactions after ``observation_end`` are ignored, and so are customers whose first purchase
    comes after it. Customers come out sorted by id.
    """
    if period_days <= 0:
        raise ValueError(f"period_days must be positive, got {period_days}.")
    end = _as_date(observation_end).toordinal()
    ids, days, amounts = [], [], []
    for customer_id, date, amount in transactions:
        day = _as_date(date).toordinal()
        if day <= end:
            ids.append(customer_id)
            days.append(day)
            amounts.append(float(amount))
    if not ids:
        empty = np.array([], dtype=float)
        return CustomerSummary(np.array([]), empty, empty, empty, empty)

    customer_ids, customer_index = np.unique(np.asarray(ids), return_inverse=True)
    day_array = np.asarray(days, dtype=np.int64)
    first_day, span = day_array.min(), day_array.max() - day_array.min() + 1
    # One key per (customer, day): same-day transactions are one purchase. Keys sort by customer,
    # then day, so each customer's purchases are contiguous and in date order.
    keys, purchase_of = np.unique(customer_index * span + (day_array - first_day), return_inverse=True)
    purchase_amount = np.bincount(purchase_of, weights=np.asarray(amounts, dtype=float))
    purchase_customer = keys // span
    purchase_day = keys % span + first_day

    n_customers = len(customer_ids)
    n_purchases = np.bincount(purchase_customer, minlength=n_customers)
    first_index = np.concatenate(([0], np.cumsum(n_purchases)[:-1]))
    last_index = first_index + n_purchases - 1
    frequency = (n_purchases - 1).astype(float)
    total = np.bincount(purchase_customer, weights=purchase_amount, minlength=n_customers)
    repeat_total = total - purchase_amount[first_index]
    monetary = np.divide(repeat_total, frequency, out=np.zeros(n_customers), where=frequency > 0)
    return CustomerSummary(
        customer_ids=customer_ids,
        frequency=frequency,
        recency=(purchase_day[last_index] - purchase_day[first_index]) / period_days,
        T=(end - purchase_day[first_index]) / period_days,
        monetary=monetary,
    )


def _as_date(value: dt.date) -> dt.date:
    # datetime is a date subclass, but subtracting one from a date fails: keep the calendar day.
    return value.date() if isinstance(value, dt.datetime) else value


# --- validation ------------------------------------------------------------------------------------


def _validate_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, t_cal = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    x, t_x, t_cal = np.broadcast_arrays(x, t_x, t_cal)
    for name, values in (("frequency", x), ("recency", t_x), ("T", t_cal)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite numbers.")
        if np.any(values < 0):
            raise ValueError(f"{name} must not be negative.")
    if np.any(x != np.round(x)):
        raise ValueError("frequency must be a whole number of repeat purchases.")
    if np.any(t_x > t_cal):
        raise ValueError("recency must not exceed T (the last purchase cannot come after the end of the period).")
    if np.any((x == 0) & (t_x > 0)):
        raise ValueError("recency must be 0 when frequency is 0 (no repeat purchase, so no time between purchases).")
    return x, t_x, t_cal


def _validate_spend(frequency: Any, monetary: Any) -> tuple[np.ndarray, np.ndarray]:
    x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary, dtype=float))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))):
        raise ValueError("frequency and monetary must be finite numbers.")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a whole, non-negative number of repeat purchases.")
    if np.any(m < 0):
        raise ValueError("monetary must not be negative.")
    if np.any((x > 0) & (m == 0)):
        raise ValueError("monetary must be positive for customers with repeat purchases.")
    return x, m


def _validate_horizon(t: Any) -> np.ndarray:
    horizon = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("t must be a finite, non-negative number of periods.")
    return horizon


# --- distinct values -------------------------------------------------------------------------------


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of a 1-D array and each element's index among them.

    The likelihoods and predictions compute their costly terms once per distinct frequency, recency
    and T (a million customers have a few hundred or thousand of each) and gather them per customer.
    Whole numbers in a modest range (frequencies, day counts, pair keys) are indexed through a table
    in one pass; anything else is sorted.
    """
    if values.size and values.min() >= 0 and values.max() <= 4 * values.size + 1024:
        whole = values.astype(np.int64)
        if np.array_equal(whole, values):
            present = np.zeros(int(whole.max()) + 1, dtype=bool)
            present[whole] = True
            rank = np.cumsum(present) - 1
            return np.flatnonzero(present).astype(values.dtype), rank[whole]
    distinct, index = np.unique(values, return_inverse=True)
    return distinct, index.reshape(-1)


class _Histories:
    """Validated customer histories, flattened, with the distinct values of each column.

    ``x_index[i]`` is customer i's position in ``x_values``, and likewise for recency (``t_``) and
    T (``T_``); ``shape`` is the shape the caller's arrays broadcast to.
    """

    def __init__(self, frequency: Any, recency: Any, T: Any):
        x, t_x, t_cal = _validate_rft(frequency, recency, T)
        self.shape = x.shape
        self.x, self.t_x, self.t_cal = x.ravel(), t_x.ravel(), t_cal.ravel()
        self.x_values, self.x_index = _distinct(self.x)
        self.t_values, self.t_index = _distinct(self.t_x)
        self.T_values, self.T_index = _distinct(self.t_cal)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct (frequency, T) pairs, as their frequency and T, and each customer's pair index."""
        size = self.T_values.size
        keys, index = _distinct(self.x_index.astype(np.int64) * size + self.T_index)
        return self.x_values[keys // size], self.T_values[keys % size], index


# --- fitting ---------------------------------------------------------------------------------------

# Log-parameters stay within e^±25: beyond, the likelihoods overflow long before they improve.
_LOG_BOUND = 25.0


def _fit_smooth(objective, start: np.ndarray, *, n: int) -> tuple[np.ndarray, float]:
    """Minimise ``objective`` (mean negative log-likelihood and its gradient over log-parameters) with L-BFGS-B.

    The analytic gradient lets the quasi-Newton method converge in a few dozen evaluations, where a
    derivative-free simplex needs a thousand. The search runs unbounded (bounds that are never
    reached still shorten its first steps and double the evaluations); if it fails, typically
    because a step overflowed the likelihood, it runs again within e^±25.
    """
    options = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2_000, "maxfun": 5_000}

    def guarded(z: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, gradient = objective(z)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return np.inf, np.zeros_like(z)
        return value, gradient

    result = optimize.minimize(guarded, np.log(start), jac=True, method="L-BFGS-B", options=options)
    if not (result.success and np.isfinite(result.fun)):
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)
        result = optimize.minimize(guarded, np.log(start), jac=True, method="L-BFGS-B", bounds=bounds, options=options)
    if not np.isfinite(result.fun):
        raise ValueError("the likelihood could not be evaluated at the optimum; check the input data.")
    return np.exp(result.x), -float(result.fun) * n


def _fit_simplex(neg_log_likelihood, start: np.ndarray, *, n: int) -> tuple[np.ndarray, float]:
    """Minimise over log-parameters with Nelder-Mead, restarting once from the optimum to polish it.

    For the Pareto/NBD, whose hypergeometric terms have no convenient derivatives. The objective is
    the mean negative log-likelihood per customer (the sum divided by ``n``), so the tolerances mean
    the same at a hundred customers and at a million.
    """
    x0 = np.log(start)
    options = {"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20_000, "maxfev": 40_000}
    for _ in range(2):
        result = optimize.minimize(
            lambda z: neg_log_likelihood(np.exp(z)) / n, x0, method="Nelder-Mead", options=options
        )
        x0 = result.x
    if not np.isfinite(result.fun):
        raise ValueError("the likelihood could not be evaluated at the optimum; check the input data.")
    return np.exp(result.x), -float(result.fun) * n


def _grouped(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of ``columns`` and how many customers share each (the likelihood's weights)."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], counts.astype(float)


def _bgnbd_objective(h: _Histories):
    """The BG/NBD mean negative log-likelihood of ``h``'s customers and its gradient, over log-parameters.

    Per customer, FHL (2005) equation (6) with ln(A3 + A4) written as ln A3 + softplus(ln A4 - ln A3):

        ln L = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x) - ln B(a, b) - (r+x) ln(α+T) + [x > 0] softplus(d),
        d = ln a - ln(b+x-1) + (r+x) (ln(α+T) - ln(α+t_x)).

    Everything but the softplus depends on x or on T alone and is summed over their distinct values,
    weighted by how many customers have each; only the softplus and its derivative run per repeat buyer.
    """
    n = float(h.x.size)
    xs, Ts, ts = h.x_values, h.T_values, h.t_values
    n_x = np.bincount(h.x_index, minlength=xs.size).astype(float)
    n_T = np.bincount(h.T_index, minlength=Ts.size).astype(float)
    x_T = np.bincount(h.T_index, weights=h.x, minlength=Ts.size)
    repeat = h.x > 0
    rx, rx_index, rt_index, rT_index = h.x[repeat], h.x_index[repeat], h.t_index[repeat], h.T_index[repeat]
    # ln(b + x - 1) only matters for x >= 1, where b + x - 1 >= b > 0; x = 0 gets a harmless 1.
    b_shift = np.where(xs > 0, xs - 1, 1.0)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(z)
        log_T, log_t = np.log(alpha + Ts), np.log(alpha + ts)
        inv_T, inv_t = 1 / (alpha + Ts), 1 / (alpha + ts)
        b_x = np.where(xs > 0, b + b_shift, 1.0)
        ll = (
            np.dot(n_x, special.gammaln(r + xs) + special.gammaln(b + xs) - special.gammaln(a + b + xs))
            + n * (-special.gammaln(r) + r * np.log(alpha) - special.gammaln(b) + special.gammaln(a + b))
            - np.dot(log_T, r * n_T + x_T)
        )
        gap = np.take(log_T, rT_index) - np.take(log_t, rt_index)
        d = np.take(np.log(a) - np.log(b_x), rx_index) + (r + rx) * gap
        # softplus(d) = ln(1 + e^d), stably (np.logaddexp is several times slower), and its derivative.
        soft = np.maximum(d, 0.0) + np.log1p(np.exp(-np.abs(d)))
        ll += soft.sum()
        weight = np.exp(d - soft)
        rate_weight = weight * (r + rx)
        digamma_abx = special.digamma(a + b + xs)
        grad_r = (
            np.dot(n_x, special.digamma(r + xs))
            + n * (np.log(alpha) - special.digamma(r))
            - np.dot(n_T, log_T)
            + np.dot(weight, gap)
        )
        grad_alpha = (
            n * r / alpha
            - np.dot(r * n_T + x_T, inv_T)
            + np.dot(np.bincount(rT_index, weights=rate_weight, minlength=Ts.size), inv_T)
            - np.dot(np.bincount(rt_index, weights=rate_weight, minlength=ts.size), inv_t)
        )
        grad_a = -np.dot(n_x, digamma_abx) + n * special.digamma(a + b) + weight.sum() / a
        grad_b = (
            np.dot(n_x, special.digamma(b + xs) - digamma_abx)
            + n * (special.digamma(a + b) - special.digamma(b))
            - np.dot(np.bincount(rx_index, weights=weight, minlength=xs.size), 1 / b_x)
        )
        gradient = np.array([grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b])
        return -ll / n, -gradient / n

    return objective


def fit_bgnbd(frequency: Any, recency: Any, T: Any) -> BGNBDParams:
    """Fit the BG/NBD model by maximum likelihood."""
    histories = _Histories(frequency, recency, T)
    if histories.x.size == 0:
        raise ValueError("cannot fit a model on no customers.")
    start = np.array([1.0, max(float(np.mean(histories.t_cal)), 1e-3), 1.0, 1.0])
    params, ll = _fit_smooth(_bgnbd_objective(histories), start, n=histories.x.size)
    r, alpha, a, b = map(float, params)
    return BGNBDParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=ll, n_customers=int(histories.x.size))


def _log_hyp2f1_euler(a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """ln 2F1(a, b; c; z) for z in [0, 1), through Euler's transformation (see the module docstring)."""
    return (c - a - b) * np.log1p(-z) + np.log(special.hyp2f1(c - a, c - b, c, z))


def _pareto_log_a0(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t_cal: np.ndarray) -> np.ndarray:
    """ln A0 of Fader & Hardie's note: the integral of the dropout-before-T term, -inf when t_x == T."""
    r, alpha, s, beta = params
    a, c = r + s + x, r + s + x + 1
    if alpha >= beta:
        b, shift = s + 1, alpha
    else:
        b, shift = r + x, beta
    diff = abs(alpha - beta)
    at_recency = _log_hyp2f1_euler(a, b, c, diff / (shift + t_x)) - a * np.log(shift + t_x)
    at_end = _log_hyp2f1_euler(a, b, c, diff / (shift + t_cal)) - a * np.log(shift + t_cal)
    # A0 = exp(at_recency) - exp(at_end) >= 0: subtract in log space.
    with np.errstate(divide="ignore"):
        return at_recency + np.log(-np.expm1(np.minimum(at_end - at_recency, 0.0)))


def _pareto_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t_cal: np.ndarray) -> np.ndarray:
    r, alpha, s, beta = params
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_to_end = -(r + x) * np.log(alpha + t_cal) - s * np.log(beta + t_cal)
    died_before_end = np.log(s) - np.log(r + s + x) + _pareto_log_a0(params, x, t_x, t_cal)
    return head + np.logaddexp(alive_to_end, died_before_end)


def fit_pareto_nbd(frequency: Any, recency: Any, T: Any) -> ParetoNBDParams:
    """Fit the Pareto/NBD model by maximum likelihood (Nelder-Mead over the distinct histories)."""
    x, t_x, t_cal = (v.ravel() for v in _validate_rft(frequency, recency, T))
    if x.size == 0:
        raise ValueError("cannot fit a model on no customers.")
    scale = max(float(np.mean(t_cal)), 1e-3)
    start = np.array([1.0, scale, 1.0, scale])
    (gx, gt_x, gt_cal), weights = _grouped(x, t_x, t_cal)
    params, ll = _fit_simplex(lambda p: -np.dot(weights, _pareto_log_likelihood(p, gx, gt_x, gt_cal)), start, n=x.size)
    r, alpha, s, beta = map(float, params)
    return ParetoNBDParams(r=r, alpha=alpha, s=s, beta=beta, log_likelihood=ll, n_customers=int(x.size))


def _gamma_gamma_objective(x: np.ndarray, m: np.ndarray):
    """The Gamma-Gamma mean negative log-likelihood of the repeat buyers (x > 0) and its gradient, over log-parameters.

    Per customer (Fader & Hardie 2013, with S = x m the total of the repeat purchases):

        ln L = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(γ + S).

    The Γ terms are summed over the distinct frequencies, the ln m and ln x terms once and for all;
    only ln(γ + S) runs per customer.
    """
    n = float(x.size)
    xs, x_index = _distinct(x)
    n_x = np.bincount(x_index, minlength=xs.size).astype(float)
    total = x * m
    sum_log_m = float(np.log(m).sum())
    sum_x_log_total = float(np.dot(x, np.log(total)))  # Σ x ln m + Σ x ln x

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, gamma = np.exp(z)
        log_spend = np.log(gamma + total)
        sum_log, sum_x_log = log_spend.sum(), np.dot(x, log_spend)
        inverse = 1 / (gamma + total)
        px = p * xs
        ll = (
            np.dot(n_x, special.gammaln(px + q) - special.gammaln(px))
            + n * (q * np.log(gamma) - special.gammaln(q))
            + p * sum_x_log_total
            - sum_log_m
            - p * sum_x_log
            - q * sum_log
        )
        digamma_pxq = special.digamma(px + q)
        grad_p = np.dot(n_x, xs * (digamma_pxq - special.digamma(px))) + sum_x_log_total - sum_x_log
        grad_q = np.dot(n_x, digamma_pxq) + n * (np.log(gamma) - special.digamma(q)) - sum_log
        grad_gamma = n * q / gamma - p * np.dot(x, inverse) - q * inverse.sum()
        return -ll / n, -np.array([grad_p * p, grad_q * q, grad_gamma * gamma]) / n

    return objective


def fit_gamma_gamma(frequency: Any, monetary: Any) -> GammaGammaParams:
    """Fit the Gamma-Gamma spend model on the repeat buyers (customers with frequency 0 are left out)."""
    x, m = (v.ravel() for v in _validate_spend(frequency, monetary))
    repeat = x > 0
    x, m = x[repeat], m[repeat]
    if x.size == 0:
        raise ValueError("cannot fit the Gamma-Gamma model without repeat buyers.")
    start = np.array([1.0, 2.0, float(np.mean(m))])
    params, ll = _fit_smooth(_gamma_gamma_objective(x, m), start, n=x.size)
    p, q, gamma = map(float, params)
    return GammaGammaParams(p=p, q=q, gamma=gamma, log_likelihood=ll, n_customers=int(x.size))


# --- predictions -----------------------------------------------------------------------------------

PurchaseParams = BGNBDParams | ParetoNBDParams


def probability_alive(params: PurchaseParams, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Return the probability that each customer is still active at the end of the period."""
    histories = _Histories(frequency, recency, T)
    return special.expit(-_log_odds_dead(params, histories)).reshape(histories.shape)


def _log_odds_dead(params: PurchaseParams, h: _Histories) -> np.ndarray:
    """ln(P(dead) / P(alive)) given each customer's history."""
    if isinstance(params, BGNBDParams):
        r, alpha, a, b = params.r, params.alpha, params.a, params.b
        xs = h.x_values
        per_x = np.log(a) - np.log(np.where(xs > 0, b + xs - 1, 1.0))
        gap = np.log(alpha + h.T_values)[h.T_index] - np.log(alpha + h.t_values)[h.t_index]
        odds = per_x[h.x_index] + (r + h.x) * gap
        return np.where(h.x > 0, odds, -np.inf)
    if isinstance(params, ParetoNBDParams):
        r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
        x, t_x, t_cal = h.x, h.t_x, h.t_cal
        vector = np.array([r, alpha, s, beta])
        return (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + t_cal)
            + s * np.log(beta + t_cal)
            + _pareto_log_a0(vector, x, t_x, t_cal)
        )
    raise TypeError(f"expected BGNBDParams or ParetoNBDParams, got {type(params).__name__}.")


def _purchases_if_alive(params: PurchaseParams, horizon: Any, x: np.ndarray, t_cal: np.ndarray) -> np.ndarray:
    """The expected purchases in the next ``horizon`` periods, before multiplying by P(alive).

    Depends on the frequency and T only, so the callers evaluate it once per distinct (x, T) pair.
    """
    if isinstance(params, BGNBDParams):
        r, alpha, a, b = params.r, params.alpha, params.a, params.b
        # FHL (2005) equation (10): the numerator, to be multiplied by P(alive).
        z = horizon / (alpha + t_cal + horizon)
        decay = np.exp((r + x) * (np.log(alpha + t_cal) - np.log(alpha + t_cal + horizon)))
        return (a + b + x - 1) / (a - 1) * (1 - decay * special.hyp2f1(r + x, b + x, a + b + x - 1, z))
    if isinstance(params, ParetoNBDParams):
        r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
        # E[Y(t) | alive] = (r + x) / (alpha + T) * (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t))^(s - 1)),
        # whose limit at s = 1 is (r + x) / (alpha + T) * (beta + T) * ln((beta + T + t) / (beta + T)).
        log_ratio = np.log(beta + t_cal + horizon) - np.log(beta + t_cal)
        survival_integral = log_ratio if abs(s - 1) < 1e-9 else -np.expm1(-(s - 1) * log_ratio) / (s - 1)
        return (r + x) / (alpha + t_cal) * (beta + t_cal) * survival_integral
    raise TypeError(f"expected BGNBDParams or ParetoNBDParams, got {type(params).__name__}.")


def expected_purchases(params: PurchaseParams, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Return each customer's expected number of purchases in the next ``t`` periods."""
    horizon = _validate_horizon(t)
    histories = _Histories(frequency, recency, T)
    p_alive = special.expit(-_log_odds_dead(params, histories))
    if horizon.ndim == 0:
        pair_x, pair_T, pair_index = histories.pairs()
        if_alive = _purchases_if_alive(params, horizon, pair_x, pair_T)[pair_index]
    else:  # one horizon per customer
        horizon = np.broadcast_to(horizon, histories.shape).ravel()
        if_alive = _purchases_if_alive(params, horizon, histories.x, histories.t_cal)
    return (if_alive * p_alive).reshape(histories.shape)


def expected_spend(params: GammaGammaParams, frequency: Any, monetary: Any) -> np.ndarray:
    """Return each customer's expected spend per purchase (the population mean for frequency 0)."""
    x, m = _validate_spend(frequency, monetary)
    p, q, gamma = params.p, params.q, params.gamma
    if q <= 1:
        raise ValueError(f"the expected spend is infinite when q <= 1 (fitted q = {q:.4g}).")
    return (gamma + x * m) * p / (p * x + q - 1)


def clv(
    purchase_params: PurchaseParams,
    spend_params: GammaGammaParams,
    *,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary: Any,
    period_days: float,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> np.ndarray:
    """Return each customer's discounted value over the next ``months`` months (see the module docstring)."""
    if period_days <= 0:
        raise ValueError(f"period_days must be positive, got {period_days}.")
    if months < 1 or int(months) != months:
        raise ValueError(f"months must be a whole number of at least 1, got {months}.")
    if not monthly_discount_rate > -1:
        raise ValueError(f"monthly_discount_rate must be greater than -1, got {monthly_discount_rate}.")
    spend = expected_spend(spend_params, frequency, monetary)
    histories = _Histories(frequency, recency, T)
    p_alive = special.expit(-_log_odds_dead(purchase_params, histories))
    # The discounted purchases if alive, summed month by month once per distinct (x, T) pair.
    pair_x, pair_T, pair_index = histories.pairs()
    periods_per_month = DAYS_PER_MONTH / period_days
    discounted = np.zeros(pair_x.shape)
    previous = np.zeros(pair_x.shape)
    for month in range(1, int(months) + 1):
        cumulative = _purchases_if_alive(purchase_params, month * periods_per_month, pair_x, pair_T)
        discounted += (cumulative - previous) / (1 + monthly_discount_rate) ** month
        previous = cumulative
    value = (discounted[pair_index] * p_alive).reshape(histories.shape)
    return value * spend
