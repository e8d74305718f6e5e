"""BG/NBD and Gamma-Gamma maths against published values, Monte Carlo and parameter recovery."""

import numpy as np
import pytest

from assets.marts.member_lifetime import btyd

CDNOW = btyd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie & Lee (2005), CDNOW sample
GG_CDNOW = btyd.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # Fader & Hardie (2013)


def test_published_conditional_expectation():
    # FHL 2005: customer with x=2, t_x=30.43, T=38.86 weeks is expected to make 1.226 purchases in 39 weeks
    assert btyd.expected_purchases(CDNOW, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_published_p_alive():
    # FHL technical note "Computing P(alive) using the BG/NBD model": 0.727 for the same customer
    assert btyd.p_alive(CDNOW, 2, 30.43, 38.86) == pytest.approx(0.727, abs=0.001)


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence():
    pa = btyd.p_alive(CDNOW, np.array([0, 3, 3]), np.array([0.0, 10.0, 10.0]), np.array([20.0, 12.0, 60.0]))
    assert pa[0] == 1.0
    assert pa[1] > pa[2]


def test_gamma_gamma_population_mean():
    assert GG_CDNOW.population_mean == pytest.approx(35.2, abs=0.05)
    # with no transactions the conditional expectation is the population mean
    assert btyd.gg_expected_spend(GG_CDNOW, 0, 0) == pytest.approx(GG_CDNOW.population_mean)
    # many transactions pull the expectation towards the customer's own mean
    assert btyd.gg_expected_spend(GG_CDNOW, 200, 80.0) == pytest.approx(80.0, rel=0.02)


def test_loglik_matches_direct_formula_and_aggregation():
    x, t_x, T = np.array([0, 2, 5]), np.array([0.0, 30.43, 20.0]), np.array([38.86, 38.86, 30.0])
    r, al, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    from scipy.special import beta, gamma

    direct = []
    for xi, txi, Ti in zip(x, t_x, T, strict=True):
        head = gamma(r + xi) * al**r / gamma(r)
        term = beta(a, b + xi) / beta(a, b) * (al + Ti) ** -(r + xi)
        if xi > 0:
            term += beta(a + 1, b + xi - 1) / beta(a, b) * (al + txi) ** -(r + xi)
        direct.append(np.log(head * term))
    np.testing.assert_allclose(btyd.bgnbd_loglik_rows(CDNOW, x, t_x, T), direct, rtol=1e-10)
    (ux, utx, uT), w, inv = btyd.aggregate_rows(np.r_[x, x], np.r_[t_x, t_x], np.r_[T, T])
    assert w.tolist() == [2.0, 2.0, 2.0]
    np.testing.assert_array_equal(ux[inv], np.r_[x, x])


def test_churn_risk_matches_monte_carlo_posterior_simulation():
    """P(no purchase in t | x, t_x, T) by simulation: draw (λ, p) from the prior, weight each draw by the
    likelihood of the member's history split into 'still alive' and 'dropped out after the last purchase',
    draw the alive state, then simulate the waiting time to the next purchase."""
    rng = np.random.default_rng(7)
    n = 2_000_000
    lam = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, n)
    p = rng.beta(CDNOW.a, CDNOW.b, n)
    t = 90 / 7
    for x, t_x, T in [(2, 30.43, 38.86), (1, 5.0, 30.0), (4, 20.0, 22.0)]:
        w_alive = (1 - p) ** x * lam**x * np.exp(-lam * T)
        w_dead = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * t_x)
        w = w_alive + w_dead
        alive = rng.random(n) < w_alive / w
        next_gap = rng.exponential(1.0, n) / lam
        quiet = ~alive | (next_gap > t)
        mc = float((w * quiet).sum() / w.sum())
        assert btyd.prob_no_purchase(CDNOW, t, x, t_x, T) == pytest.approx(mc, abs=0.01)


def test_churn_risk_and_expectation_calibrated_on_simulated_population():
    """Averaged over a simulated population, the conditional predictions must equal what happens next."""
    rng = np.random.default_rng(11)
    T = rng.uniform(10, 60, 100_000)
    h = 13.0
    x, t_x, hold = btyd.simulate_bgnbd(CDNOW, T, rng, horizon=h)
    churn = btyd.prob_no_purchase(CDNOW, h, x, t_x, T)
    assert churn.mean() == pytest.approx((hold == 0).mean(), abs=0.005)
    for bucket in (x == 0, x == 1, x >= 3):
        assert churn[bucket].mean() == pytest.approx((hold[bucket] == 0).mean(), abs=0.01)
    expected = btyd.expected_purchases(CDNOW, h, x, t_x, T)
    assert expected.sum() == pytest.approx(hold.sum(), rel=0.03)


def test_parameter_recovery_from_simulated_bgnbd():
    rng = np.random.default_rng(2024)
    T = rng.uniform(20, 80, 40_000)
    x, t_x, _ = btyd.simulate_bgnbd(CDNOW, T, rng)
    # purchases happen on days: round times to the day, as the mart does
    t_x, T = np.round(t_x * 7) / 7, np.round(T * 7) / 7
    fit = btyd.fit_bgnbd(x, t_x, T)
    assert fit.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit.params, name) == pytest.approx(getattr(CDNOW, name), rel=0.15), name


def test_gamma_gamma_parameter_recovery():
    rng = np.random.default_rng(5)
    k = 20_000
    n = rng.integers(1, 10, k)
    nu = rng.gamma(GG_CDNOW.q, 1 / GG_CDNOW.gamma, k)
    spend = np.array([rng.gamma(GG_CDNOW.p, 1 / v, c).mean() for v, c in zip(nu, n, strict=True)])
    fit = btyd.fit_gamma_gamma(n, spend)
    assert fit.converged
    assert fit.params.population_mean == pytest.approx(GG_CDNOW.population_mean, rel=0.05)
    for name in ("p", "q", "gamma"):
        assert getattr(fit.params, name) == pytest.approx(getattr(GG_CDNOW, name), rel=0.15), name


def test_time_to_expected_one_purchase():
    x, t_x, T = np.array([10.0, 0.0]), np.array([19.0, 0.0]), np.array([20.0, 50.0])
    t1 = btyd.time_to_expected_one(CDNOW, x, t_x, T, t_max=52.0)
    assert np.isnan(t1[1])  # a one-off buyer is not expected to buy once within a year
    assert 0 < t1[0] < 52
    assert btyd.expected_purchases(CDNOW, t1[0], 10, 19, 20) == pytest.approx(1.0, abs=0.01)


def test_discounted_purchases_below_undiscounted():
    d = btyd.discounted_expected_purchases(
        CDNOW, np.array([3.0]), np.array([20.0]), np.array([22.0]), 12, 7, 0.01
    )
    e = btyd.expected_purchases(CDNOW, 365.25 / 7, 3, 20, 22)
    assert 0.9 * e < d[0] < e


def test_analytic_gradients_match_finite_differences():
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(3)
    T = rng.uniform(5, 40, 500)
    x, t_x, _ = btyd.simulate_bgnbd(CDNOW, T, rng)
    w = np.ones_like(x)
    theta = np.log([0.5, 3.0, 1.2, 2.0])
    _, grad = btyd.bgnbd_nll_grad(theta, x, t_x, T, w)
    numeric = approx_fprime(theta, lambda th: btyd.bgnbd_nll_grad(th, x, t_x, T, w)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_gamma_gamma_fit_is_a_maximum():
    rng = np.random.default_rng(9)
    n = rng.integers(1, 6, 3000)
    m = rng.gamma(6, 1 / rng.gamma(4, 1 / 20, 3000) / 6 * 6, 3000)
    fit = btyd.fit_gamma_gamma(n, m)
    base = btyd.gg_loglik_rows(fit.params, n, m).sum()
    for k in ("p", "q", "gamma"):
        for f in (0.97, 1.03):
            moved = btyd.GammaGammaParams(**{**fit.params.__dict__, k: getattr(fit.params, k) * f})
            assert btyd.gg_loglik_rows(moved, n, m).sum() < base
    assert fit.loglik == pytest.approx(base, rel=1e-9)
