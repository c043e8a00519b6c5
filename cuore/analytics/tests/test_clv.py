"""The CLV engine against the CDNOW data and the published results of Fader, Hardie & Lee.

The data come with lifetimes 0.11.3 (a test-only dependency): ``CDNOW_sample.txt`` holds the raw
transactions of the 2357-customer CDNOW cohort (master id, cohort id, date YYYYMMDD, number of CDs,
dollar value); ``cdnow_customers_summary_with_transactions.csv`` the published calibration summary
(ID, x, t_x, T in weeks, zbar), rounded to two decimals. ``lifetimes.datasets`` cannot be imported
(it needs pkg_resources), so the files are read from the package folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.resources
import importlib.util
import io

import numpy as np
import pytest

from cuore.analytics import clv

# 39 weeks of calibration from the cohort's first day, 1997-01-01: the period ends on 1997-09-30,
# which makes T = 272 / 7 = 38.86 weeks for the customers who first bought on 1997-01-01.
CALIBRATION_END = dt.date(1997, 9, 30)
WEEK = 7

# lifetimes 0.11.3 sets a pandas option that pandas 3 deprecates, on import.
pytestmark = pytest.mark.filterwarnings("ignore:The 'mode.chained_assignment' option is deprecated")


def _dataset(name: str) -> str:
    # Dig into the installed package folder without importing lifetimes.datasets.
    # lifetimes==0.11.3 is a dev dependency: without it this validation fails rather than skips.
    assert importlib.util.find_spec("lifetimes") is not None, "install the dev dependencies (make does)"
    return (importlib.resources.files("lifetimes") / "datasets" / name).read_text()


@pytest.fixture(scope="module")
def cdnow_transactions() -> list[tuple[int, dt.date, float]]:
    rows = []
    for line in _dataset("CDNOW_sample.txt").splitlines():
        if line.strip():
            _master_id, cohort_id, date, _quantity, amount = line.split()
            rows.append((int(cohort_id), dt.datetime.strptime(date, "%Y%m%d").date(), float(amount)))
    return rows


@pytest.fixture(scope="module")
def published_summary() -> dict[str, np.ndarray]:
    reader = csv.DictReader(io.StringIO(_dataset("cdnow_customers_summary_with_transactions.csv")))
    rows = list(reader)
    return {column: np.array([float(row[column]) for row in rows]) for column in ("ID", "x", "t_x", "T", "zbar")}


@pytest.fixture(scope="module")
def cdnow(cdnow_transactions) -> clv.CustomerSummary:
    return clv.summarise(cdnow_transactions, observation_end=CALIBRATION_END, period_days=WEEK)


@pytest.fixture(scope="module")
def bgnbd(cdnow) -> clv.BGNBDParams:
    return clv.fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def pareto(cdnow) -> clv.ParetoNBDParams:
    return clv.fit_pareto_nbd(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def gamma_gamma(cdnow) -> clv.GammaGammaParams:
    return clv.fit_gamma_gamma(cdnow.frequency, cdnow.monetary)


# --- acceptance: the published data and estimates ---------------------------------------------------


def test_summarise_reproduces_the_published_cdnow_summary(cdnow, published_summary):
    # given the raw CDNOW transactions, when summarised in weeks up to 1997-09-30 (the cdnow fixture)
    # then every customer's x, t_x, T and zbar are the published ones, up to their two decimals
    assert cdnow.customer_ids.tolist() == published_summary["ID"].astype(int).tolist()
    assert cdnow.frequency.tolist() == published_summary["x"].tolist()
    assert np.round(cdnow.recency, 2).tolist() == published_summary["t_x"].tolist()
    assert np.round(cdnow.T, 2).tolist() == published_summary["T"].tolist()
    # zbar is a mean of cents, so it can sit exactly on a rounding tie: compare within half a cent.
    assert np.all(np.abs(cdnow.monetary - published_summary["zbar"]) <= 0.005 + 1e-9)
    assert int(np.sum(cdnow.frequency > 0)) == 946


def test_fit_bgnbd_reproduces_fader_hardie_lee_2005(bgnbd):
    assert (round(bgnbd.r, 3), round(bgnbd.alpha, 3), round(bgnbd.a, 3), round(bgnbd.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(bgnbd.log_likelihood, 1) == -9582.4
    assert bgnbd.n_customers == 2357


def test_fit_bgnbd_on_the_rounded_published_summary_gives_the_same_estimates(published_summary):
    params = clv.fit_bgnbd(published_summary["x"], published_summary["t_x"], published_summary["T"])

    assert (round(params.r, 3), round(params.alpha, 3), round(params.a, 3), round(params.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(params.log_likelihood, 1) == -9582.4


def test_fit_pareto_nbd_reproduces_fader_hardie_2005(pareto):
    # On the two-decimal summary file beta comes out as 11.668: the published fit used exact weeks.
    assert (round(pareto.r, 3), round(pareto.alpha, 3), round(pareto.s, 3), round(pareto.beta, 3)) == (
        0.553,
        10.578,
        0.606,
        11.669,
    )
    assert round(pareto.log_likelihood, 1) == -9595.0


def test_fit_gamma_gamma_reproduces_fader_hardie_lee_2005b(gamma_gamma):
    # On the two-decimal zbar of the file gamma comes out as 15.448: the published fit used exact means.
    assert (round(gamma_gamma.p, 2), round(gamma_gamma.q, 2), round(gamma_gamma.gamma, 2)) == (6.25, 3.74, 15.44)
    assert gamma_gamma.n_customers == 946


def test_predictions_agree_with_lifetimes(cdnow, bgnbd, pareto, gamma_gamma):
    pd = pytest.importorskip("pandas")
    lifetimes = pytest.importorskip("lifetimes")
    x, t_x, t_cal, m = cdnow.frequency, cdnow.recency, cdnow.T, cdnow.monetary
    bg = lifetimes.BetaGeoFitter()
    bg.params_ = pd.Series({"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b})
    pn = lifetimes.ParetoNBDFitter()
    pn.params_ = pd.Series({"r": pareto.r, "alpha": pareto.alpha, "s": pareto.s, "beta": pareto.beta})
    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series({"p": gamma_gamma.p, "q": gamma_gamma.q, "v": gamma_gamma.gamma})

    np.testing.assert_allclose(
        clv.probability_alive(bgnbd, x, t_x, t_cal), bg.conditional_probability_alive(x, t_x, t_cal), rtol=1e-9
    )
    np.testing.assert_allclose(
        clv.expected_purchases(bgnbd, 39, x, t_x, t_cal),
        bg.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, t_cal),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        clv.probability_alive(pareto, x, t_x, t_cal), pn.conditional_probability_alive(x, t_x, t_cal), rtol=1e-7
    )
    np.testing.assert_allclose(
        clv.expected_purchases(pareto, 39, x, t_x, t_cal),
        pn.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, t_cal),
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        clv.expected_spend(gamma_gamma, x, m), gg.conditional_expected_average_profit(x, m), rtol=1e-9
    )


# --- properties ------------------------------------------------------------------------------------


def test_bgnbd_probability_alive_is_one_without_repeat_purchases(bgnbd):
    p_alive = clv.probability_alive(bgnbd, [0, 0, 0], [0, 0, 0], [1.0, 20.0, 38.86])

    assert p_alive.tolist() == [1.0, 1.0, 1.0]


def test_probability_alive_falls_the_longer_a_customer_has_been_silent(bgnbd, pareto):
    for params in (bgnbd, pareto):
        p_alive = clv.probability_alive(params, [3, 3, 3], [35.0, 20.0, 5.0], [38.0, 38.0, 38.0])
        assert np.all(np.diff(p_alive) < 0)
        assert np.all((p_alive > 0) & (p_alive < 1))


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_expected_purchases_increase_with_the_horizon(model, request, cdnow):
    params = request.getfixturevalue(model)
    horizons = [0.0, 1.0, 4.0, 13.0, 52.0, 104.0]

    expected = np.array([clv.expected_purchases(params, t, cdnow.frequency, cdnow.recency, cdnow.T) for t in horizons])

    assert np.all(expected[0] == 0)
    assert np.all(np.diff(expected, axis=0) > 0)


def test_expected_spend_shrinks_towards_the_population_mean(gamma_gamma):
    population_mean = gamma_gamma.p * gamma_gamma.gamma / (gamma_gamma.q - 1)

    spend = clv.expected_spend(gamma_gamma, [0, 1, 10], [0.0, 100.0, 100.0])

    assert spend[0] == pytest.approx(population_mean)
    assert population_mean < spend[1] < spend[2] < 100.0


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_clv_decreases_with_a_higher_discount_rate(model, request, cdnow, gamma_gamma):
    params = request.getfixturevalue(model)
    values = [
        clv.clv(
            params,
            gamma_gamma,
            frequency=cdnow.frequency,
            recency=cdnow.recency,
            T=cdnow.T,
            monetary=cdnow.monetary,
            period_days=WEEK,
            monthly_discount_rate=rate,
        )
        for rate in (0.0, 0.01, 0.05)
    ]

    assert np.all(values[0] > values[1]) and np.all(values[1] > values[2])


def test_clv_without_discount_is_the_expected_purchases_times_the_expected_spend(bgnbd, gamma_gamma, cdnow):
    undiscounted = clv.clv(
        bgnbd,
        gamma_gamma,
        frequency=cdnow.frequency,
        recency=cdnow.recency,
        T=cdnow.T,
        monetary=cdnow.monetary,
        period_days=WEEK,
        months=12,
        monthly_discount_rate=0.0,
    )

    year = 12 * clv.DAYS_PER_MONTH / WEEK
    purchases = clv.expected_purchases(bgnbd, year, cdnow.frequency, cdnow.recency, cdnow.T)
    spend = clv.expected_spend(gamma_gamma, cdnow.frequency, cdnow.monetary)
    np.testing.assert_allclose(undiscounted, purchases * spend, rtol=1e-10)


def test_pareto_nbd_likelihood_is_finite_and_exact_when_alpha_equals_beta():
    # With alpha == beta the hypergeometric terms are 1 and A0 has a closed form.
    r, alpha, s = 0.5, 10.0, 0.7
    x, t_x, t_cal = np.array([0.0, 2.0, 5.0]), np.array([0.0, 10.0, 30.0]), np.array([38.0, 38.0, 38.0])

    ll = clv._pareto_log_likelihood(np.array([r, alpha, s, alpha]), x, t_x, t_cal)

    from scipy.special import gammaln

    a0 = (alpha + t_x) ** -(r + s + x) - (alpha + t_cal) ** -(r + s + x)
    expected = (
        gammaln(r + x)
        - gammaln(r)
        + (r + s) * np.log(alpha)
        + np.log((alpha + t_cal) ** -(r + s + x) + s / (r + s + x) * a0)
    )
    np.testing.assert_allclose(ll, expected, rtol=1e-12)
    # and both sides of alpha == beta meet it continuously
    for beta in (alpha * (1 - 1e-9), alpha * (1 + 1e-9)):
        np.testing.assert_allclose(
            clv._pareto_log_likelihood(np.array([r, alpha, s, beta]), x, t_x, t_cal), expected, rtol=1e-7
        )


def test_pareto_nbd_expected_purchases_are_continuous_at_s_equal_to_one():
    history = ([0, 3], [0.0, 20.0], [38.0, 38.0])

    at_one, below, above = (
        clv.expected_purchases(clv.ParetoNBDParams(0.5, 10.0, s, 12.0, 0.0, 0), 26, *history)
        for s in (1.0, 1 - 1e-6, 1 + 1e-6)
    )

    np.testing.assert_allclose(at_one, below, rtol=1e-5)
    np.testing.assert_allclose(at_one, above, rtol=1e-5)


def test_summarise_merges_same_day_purchases_and_ignores_what_comes_after_the_end():
    transactions = [
        ("b", dt.date(2024, 1, 1), 10),
        ("a", dt.date(2024, 1, 1), 5),
        ("a", dt.date(2024, 1, 8), 20),
        ("a", dt.date(2024, 1, 8), 10),
        ("a", dt.date(2024, 1, 15), 60),
        ("a", dt.date(2024, 2, 1), 999),
        ("c", dt.date(2024, 2, 1), 999),
    ]

    summary = clv.summarise(transactions, observation_end=dt.date(2024, 1, 29), period_days=7)

    assert summary.customer_ids.tolist() == ["a", "b"]
    assert summary.frequency.tolist() == [2.0, 0.0]
    assert summary.recency.tolist() == [2.0, 0.0]
    assert summary.T.tolist() == [4.0, 4.0]
    assert summary.monetary.tolist() == [45.0, 0.0]


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([-1], [0.0], [10.0], "frequency must not be negative"),
        ([1], [-2.0], [10.0], "recency must not be negative"),
        ([1], [2.0], [-10.0], "T must not be negative"),
        ([2], [12.0], [10.0], "recency must not exceed T"),
        ([0], [3.0], [10.0], "recency must be 0 when frequency is 0"),
        ([1.5], [3.0], [10.0], "frequency must be a whole number"),
        ([1], [np.nan], [10.0], "recency must be finite"),
    ],
)
def test_invalid_customer_histories_are_rejected(frequency, recency, T, message, bgnbd, pareto):
    with pytest.raises(ValueError, match=message):
        clv.fit_bgnbd(frequency, recency, T)
    with pytest.raises(ValueError, match=message):
        clv.fit_pareto_nbd(frequency, recency, T)
    for params in (bgnbd, pareto):
        with pytest.raises(ValueError, match=message):
            clv.probability_alive(params, frequency, recency, T)
        with pytest.raises(ValueError, match=message):
            clv.expected_purchases(params, 10, frequency, recency, T)


@pytest.mark.parametrize(
    ("frequency", "monetary", "message"),
    [
        ([1, 2], [10.0, -5.0], "monetary must not be negative"),
        ([-1, 2], [10.0, 5.0], "frequency must be a whole, non-negative number"),
        ([1, 2], [10.0, 0.0], "monetary must be positive for customers with repeat purchases"),
    ],
)
def test_invalid_spend_is_rejected(frequency, monetary, message, gamma_gamma):
    with pytest.raises(ValueError, match=message):
        clv.fit_gamma_gamma(frequency, monetary)
    with pytest.raises(ValueError, match=message):
        clv.expected_spend(gamma_gamma, frequency, monetary)


def test_invalid_horizon_and_period_are_rejected(bgnbd):
    with pytest.raises(ValueError, match="t must be a finite, non-negative number"):
        clv.expected_purchases(bgnbd, -1, [1], [2.0], [10.0])
    with pytest.raises(ValueError, match="period_days must be positive"):
        clv.summarise([], observation_end=dt.date(2024, 1, 1), period_days=0)
