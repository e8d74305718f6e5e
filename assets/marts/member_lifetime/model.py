"""Fit the CLV model for a brand (with the small-data guard) and score members with it. Pure numpy; no Dagster."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from assets.marts.member_lifetime import btyd
from xiaoshuju.settings import Thresholds

FITTED = "fitted"
FALLBACK = "fallback_empirical"


@dataclass
class BtydInputs:
    """Per-buyer BTYD inputs: x repeat purchase days, t_x and T in time units; repeat-spend n and mean m."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    spend_n: np.ndarray  # number of repeat purchase days (= x)
    spend_mean: np.ndarray  # mean net spend per repeat purchase day (NaN when x = 0)
    mean_spend_all: np.ndarray  # mean net spend per purchase day, all days (fallback spend)


@dataclass
class ClvModel:
    status: str
    status_reason: str
    time_unit_days: int
    n_customers: int
    n_repeat_buyers: int
    r: float | None = None
    alpha: float | None = None
    a: float | None = None
    b: float | None = None
    bgnbd_loglik: float | None = None
    bgnbd_converged: bool = False
    p: float | None = None
    q: float | None = None
    gamma: float | None = None
    gg_loglik: float | None = None
    gg_status: str = FALLBACK
    gg_n: int = 0
    population_mean_spend: float | None = None
    empirical_repeat_rate: float = 0.0  # repeat purchase days per time unit per buyer
    empirical_aov: float | None = None
    fit_seconds: float = 0.0

    @property
    def bgnbd(self) -> btyd.BgNbdParams | None:
        if self.status != FITTED:
            return None
        return btyd.BgNbdParams(self.r, self.alpha, self.a, self.b)

    @property
    def gg(self) -> btyd.GammaGammaParams | None:
        if self.gg_status != FITTED:
            return None
        return btyd.GammaGammaParams(self.p, self.q, self.gamma)

    def as_row(self) -> dict:
        return asdict(self)


def fit_clv(inp: BtydInputs, th: Thresholds) -> ClvModel:
    """Fit BG/NBD (+ Gamma-Gamma) or fall back to empirical rates, saying why in words."""
    t0 = time.perf_counter()
    n = int(inp.x.size)
    n_rep = int((inp.x > 0).sum())
    total_T = float(inp.T.sum())
    emp_rate = float(inp.x.sum() / total_T) if total_T > 0 else 0.0
    spends = inp.mean_spend_all[np.isfinite(inp.mean_spend_all)]
    emp_aov = float(spends.mean()) if spends.size else None
    m = ClvModel(
        FALLBACK, "", th.btyd_time_unit_days, n, n_rep, empirical_repeat_rate=emp_rate, empirical_aov=emp_aov
    )
    reasons = []
    if n < th.clv_min_buyers:
        reasons.append(f"only {n} buyers (the model needs at least {th.clv_min_buyers})")
    if n_rep < th.clv_min_repeat_buyers:
        reasons.append(f"only {n_rep} repeat buyers (the model needs at least {th.clv_min_repeat_buyers})")
    if total_T <= 0 and not reasons:
        reasons.append("every buyer bought for the first time on the as-of date (no observation time)")
    if not reasons:
        fit = btyd.fit_bgnbd(inp.x, inp.t_x, inp.T)
        p = fit.params
        m.bgnbd_converged = fit.converged
        if fit.converged:
            m.status, m.r, m.alpha, m.a, m.b, m.bgnbd_loglik = FITTED, p.r, p.alpha, p.a, p.b, fit.loglik
            if p.a <= 1:
                # E[Y(t)] has the factor 1/(a−1): still valid for a < 1, but a ≈ 1 is a removable singularity
                if abs(p.a - 1) < 1e-6:
                    m.status = FALLBACK
                    reasons.append("fitted a ≈ 1 makes the expected-purchases formula singular")
        else:
            reasons.append(f"the BG/NBD fit did not converge ({fit.message})")
    if m.status == FITTED:
        gg = btyd.fit_gamma_gamma(inp.spend_n, inp.spend_mean)
        m.gg_n = gg.n
        if gg.converged:
            m.gg_status = FITTED
            m.p, m.q, m.gamma, m.gg_loglik = gg.params.p, gg.params.q, gg.params.gamma, gg.loglik
            m.population_mean_spend = gg.params.population_mean
        else:
            m.gg_status = FALLBACK
            reasons.append(f"Gamma-Gamma spend model not used ({gg.message}); spend = member's own average")
    if m.status == FITTED:
        m.status_reason = "BG/NBD fitted by maximum likelihood" + (
            "; " + "; ".join(reasons) if reasons else " (Gamma-Gamma spend model fitted)"
        )
    else:
        m.r = m.alpha = m.a = m.b = m.bgnbd_loglik = None
        m.status_reason = (
            "; ".join(reasons)
            + f". Using empirical rates instead: {emp_rate:.4f} repeat purchases per buyer per "
            f"{th.btyd_time_unit_days}-day unit, spend = member's own average. P(alive) is not estimated."
        )
    m.fit_seconds = time.perf_counter() - t0
    return m


@dataclass
class Scores:
    p_alive: np.ndarray
    expected_orders_90d: np.ndarray
    predicted_clv_12m: np.ndarray
    churn_risk: np.ndarray
    days_to_next_order: np.ndarray  # NaN when beyond one year


def score(inp: BtydInputs, model: ClvModel, th: Thresholds) -> Scores:
    """Model columns for each buyer. Identical (x, t_x, T) rows are scored once."""
    unit = float(th.btyd_time_unit_days)
    h = th.churn_horizon_days / unit
    year = 365.0 / unit
    month_units = 365.25 / 12 / unit
    disc = np.array([(1 + th.clv_monthly_discount) ** -k for k in range(1, th.clv_horizon_months + 1)])
    params = model.bgnbd
    n = inp.x.size
    if params is not None and n:
        (ux, utx, uT), _, inv = btyd.aggregate_rows(inp.x, inp.t_x, inp.T)
        pa = btyd.p_alive(params, ux, utx, uT)[inv]
        e90 = btyd.expected_purchases(params, np.full(ux.shape, h), ux, utx, uT)[inv]
        churn = btyd.prob_no_purchase(params, h, ux, utx, uT)[inv]
        dtx = btyd.discounted_expected_purchases(
            params, ux, utx, uT, th.clv_horizon_months, unit, th.clv_monthly_discount
        )[inv]
        t1 = btyd.time_to_expected_one(params, ux, utx, uT, year, iters=14)[inv] * unit
    else:
        lam = model.empirical_repeat_rate
        pa = np.full(n, np.nan)
        e90 = np.full(n, lam * h)
        churn = np.full(n, np.exp(-lam * h))
        dtx = np.full(n, lam * month_units * disc.sum())
        t1 = np.full(n, (1.0 / lam * unit) if lam > 0 and 1.0 / lam <= year else np.nan)
    gg = model.gg
    fallback_spend = np.where(np.isfinite(inp.mean_spend_all), inp.mean_spend_all, model.empirical_aov or 0.0)
    if gg is not None:
        spend = btyd.gg_expected_spend(gg, inp.spend_n, inp.spend_mean)
    else:
        spend = fallback_spend
    return Scores(pa, e90, dtx * spend, np.clip(churn, 0.0, 1.0), np.ceil(t1))
