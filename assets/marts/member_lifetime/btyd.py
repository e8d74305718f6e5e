"""BG/NBD and Gamma-Gamma ("buy till you die") models in numpy/scipy.

References: Fader, Hardie & Lee (2005) "Counting your customers the easy way: an alternative to the Pareto/NBD
model" (BG/NBD likelihood eq. 6, conditional expectation eq. 10, P(alive) from the technical note
"Computing P(alive) using the BG/NBD model"); Fader & Hardie (2013) "The Gamma-Gamma model of monetary value".

All functions are vectorised over customers. Fits are maximum likelihood on log-parameters, with identical
(x, t_x, T) rows aggregated into weights, log-sum-exp for the two-term likelihood and gammaln everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

# ---------------------------------------------------------------------------------------------------------------
# BG/NBD


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class FitResult:
    params: object  # BgNbdParams | GammaGammaParams
    loglik: float
    converged: bool
    message: str
    n: int


def aggregate_rows(*cols: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Unique rows of the given columns, the count of each, and the inverse index back to the input."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in cols])
    uniq, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return tuple(uniq[:, i] for i in range(uniq.shape[1])), counts.astype(float), inverse.ravel()


def bgnbd_loglik_rows(params: BgNbdParams, x, t_x, T) -> np.ndarray:
    """Per-row log-likelihood of (x, t_x, T) under BG/NBD (FHL 2005 eq. 6)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_nll_grad(theta: np.ndarray, x, t_x, T, w) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood over weighted rows and its gradient in log-parameters (r, α, a, b)."""
    r, alpha, a, b = np.exp(np.clip(theta, -30, 30))
    n = w.sum()
    ll = bgnbd_loglik_rows(BgNbdParams(r, alpha, a, b), x, t_x, T)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    l34 = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - l34), np.exp(a4 - l34)  # shares of the two likelihood terms (sum to 1)
    dg = special.digamma
    d_r = dg(r + x) - dg(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = dg(a + b) - dg(a + b + x) + w4 / a
    with np.errstate(divide="ignore", invalid="ignore"):
        d_b = dg(a + b) + dg(b + x) - dg(b) - dg(a + b + x) - np.where(x > 0, w4 / (b + x - 1), 0.0)
    grad = np.array([(w * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    value = -(w * ll).sum() / n
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return 1e100, np.zeros(4)
    return float(value), -grad / n


def fit_bgnbd(x, t_x, T, weights=None, start: BgNbdParams | None = None, max_iter: int = 500) -> FitResult:
    """Maximum-likelihood BG/NBD fit. Inputs may be raw per-customer arrays or pre-aggregated rows + weights."""
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    if weights is None:
        (x, t_x, T), weights, _ = aggregate_rows(x, t_x, T)
    w = np.asarray(weights, dtype=float)
    n = float(w.sum())

    mean_T = max(float((w * T).sum() / n), 1e-3)
    starts = [start] if start else []
    starts += [BgNbdParams(1.0, mean_T, 1.0, 1.0), BgNbdParams(0.5, mean_T / 4, 0.5, 2.0)]
    best = None
    for s in starts:
        theta0 = np.log([s.r, s.alpha, s.a, s.b])
        res = optimize.minimize(
            bgnbd_nll_grad,
            theta0,
            args=(x, t_x, T, w),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": 1e-8},
        )
        if best is None or res.fun < best.fun:
            best = res
        if res.success and np.all(np.abs(res.x) < 25):
            break
    r, alpha, a, b = np.exp(best.x)
    converged = bool(best.success) and bool(np.all(np.isfinite(best.x))) and bool(np.all(np.abs(best.x) < 25))
    msg = str(best.message)
    if best.success and not converged:
        msg = "parameters ran to the edge of the search space (a degenerate fit)"
    return FitResult(
        BgNbdParams(float(r), float(alpha), float(a), float(b)),
        float(-best.fun * n),
        converged,
        msg,
        int(round(n)),
    )


def _ratio_term(params: BgNbdParams, x, t_x, T) -> np.ndarray:
    """δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x), computed in logs (it overflows for long-silent customers)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_term = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        return np.where(x > 0, np.exp(np.minimum(log_term, 700)), 0.0)


def p_alive(params: BgNbdParams, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0)·a/(b+x−1)·((α+T)/(α+t_x))^(r+x)).

    This is the FHL (2005) technical-note version, where a customer with no repeat purchase is alive with
    probability 1 (the BG/NBD lets customers drop out only right after a purchase). The MBG/NBD variant and
    some re-implementations give x = 0 customers P(alive) < 1; the published 0.727 reference matches this one."""
    x = np.asarray(x, dtype=float)
    return 1.0 / (1.0 + _ratio_term(params, x, np.asarray(t_x, float), np.asarray(T, float)))


def expected_purchases(params: BgNbdParams, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T+t] (FHL 2005 eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    with np.errstate(over="ignore", invalid="ignore"):
        head = (a + b + x - 1) / (a - 1)
        body = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        out = head * body / (1.0 + _ratio_term(params, x, t_x, T))
    return np.where(t > 0, out, 0.0)


def prob_no_purchase(params: BgNbdParams, t, x, t_x, T) -> np.ndarray:
    """P(no purchase in (T, T+t] | x, t_x, T) = (1 − P(alive)) + P(alive)·((α+T)/(α+T+t))^(r+x)."""
    pa = p_alive(params, x, t_x, T)
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    stay_quiet = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + t)))
    return (1.0 - pa) + pa * stay_quiet


def time_to_expected_one(params: BgNbdParams, x, t_x, T, t_max: float, iters: int = 30) -> np.ndarray:
    """Smallest t ≤ t_max with E[Y(t)] ≥ 1 (bisection, vectorised); NaN where E[Y(t_max)] < 1."""
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    out = np.full(x.shape, np.nan)
    reach = expected_purchases(params, np.full(x.shape, t_max), x, t_x, T) >= 1.0
    if not reach.any():
        return out
    xs, txs, Ts = x[reach], t_x[reach], T[reach]
    lo = np.zeros(xs.shape)
    hi = np.full(xs.shape, float(t_max))
    for _ in range(iters):
        mid = (lo + hi) / 2
        above = expected_purchases(params, mid, xs, txs, Ts) >= 1.0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    out[reach] = hi
    return out


def simulate_bgnbd(params: BgNbdParams, T, rng: np.random.Generator, horizon: float = 0.0):
    """Simulate customers from the BG/NBD story, first purchase at time 0, observed up to T (per customer).

    Returns (x, t_x, holdout) where holdout counts purchases in (T, T+horizon]. Vectorised by purchase round."""
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    end = T + horizon
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    hold = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        nxt = now[idx] + rng.exponential(1.0, idx.size) / lam[idx]
        within = nxt <= end[idx]
        done = idx[~within]
        alive[done] = False
        idx = idx[within]
        nxt = nxt[within]
        now[idx] = nxt
        in_cal = nxt <= T[idx]
        x[idx[in_cal]] += 1
        t_x[idx[in_cal]] = nxt[in_cal]
        hold[idx[~in_cal]] += 1
        # after each purchase the customer drops out with probability p
        drop = rng.random(idx.size) < p[idx]
        alive[idx[drop]] = False
    return x, t_x, hold


# ---------------------------------------------------------------------------------------------------------------
# Gamma-Gamma


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    @property
    def population_mean(self) -> float:
        """E[M] = pγ/(q−1); infinite (NaN here) when q ≤ 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")


def gg_loglik_rows(params: GammaGammaParams, n, m) -> np.ndarray:
    """Log-density of the mean spend m over n transactions (Fader & Hardie 2013, eq. 4)."""
    p, q, g = params.p, params.q, params.gamma
    n = np.asarray(n, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * n
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(n)
        - (px + q) * np.log(g + m * n)
    )


def fit_gamma_gamma(n, m, max_iter: int = 500) -> FitResult:
    """Maximum-likelihood Gamma-Gamma fit on customers with n ≥ 1 transactions of mean value m > 0."""
    n = np.asarray(n, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = (n > 0) & (m > 0) & np.isfinite(m)
    n, m = n[keep], m[keep]
    cnt = n.size
    if cnt == 0:
        return FitResult(GammaGammaParams(np.nan, np.nan, np.nan), float("nan"), False, "no repeat buyers", 0)
    scale = float(np.median(m))  # fit in units of the median spend for conditioning; γ rescales linearly

    ms = m / scale
    log_n, log_m = np.log(n), np.log(ms)

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = np.exp(np.clip(theta, -30, 30))
        v = -gg_loglik_rows(GammaGammaParams(p, q, g), n, ms).mean()
        dg = special.digamma
        px, log_gm = p * n, np.log(g + ms * n)
        d_p = (n * (dg(px + q) - dg(px) + log_m + log_n - log_gm)).mean()
        d_q = (dg(px + q) - dg(q) + np.log(g) - log_gm).mean()
        d_g = (q / g - (px + q) / (g + ms * n)).mean()
        grad = -np.array([d_p * p, d_q * q, d_g * g])
        if not np.isfinite(v) or not np.all(np.isfinite(grad)):
            return 1e100, np.zeros(3)
        return float(v), grad

    best = None
    for s in ([1.0, 2.0, 1.0], [5.0, 5.0, 4.0], [0.5, 1.5, 0.5]):
        res = optimize.minimize(
            nll, np.log(s), jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "gtol": 1e-9}
        )
        if best is None or res.fun < best.fun:
            best = res
        if res.success and np.all(np.abs(res.x) < 25):
            break
    p, q, g = np.exp(best.x)
    params = GammaGammaParams(float(p), float(q), float(g * scale))
    # log-likelihood in the original money unit: the density of m scales by 1/scale per customer
    loglik = float(-best.fun * cnt - cnt * np.log(scale))
    converged = bool(best.success) and bool(np.all(np.abs(best.x) < 25)) and bool(q > 1)
    msg = str(best.message) if best.success else f"optimizer: {best.message}"
    if best.success and q <= 1:
        msg = f"q = {q:.3f} ≤ 1: mean spend is not finite under the fitted model"
    return FitResult(params, loglik, converged, msg, int(cnt))


def gg_expected_spend(params: GammaGammaParams, n, m) -> np.ndarray:
    """E[M | n, m̄] = p(γ + n·m̄)/(p·n + q − 1); the population mean for n = 0."""
    n = np.asarray(n, dtype=float)
    m = np.nan_to_num(np.asarray(m, dtype=float))
    return params.p * (params.gamma + n * m) / (params.p * n + params.q - 1)


def discounted_expected_purchases(
    params: BgNbdParams, x, t_x, T, months: int, unit_days: float, monthly_discount: float
) -> np.ndarray:
    """Σ_k (E[Y(k months)] − E[Y((k−1) months)]) / (1+d)^k over k = 1..months (time unit = unit_days)."""
    month_units = 365.25 / 12 / unit_days
    total = np.zeros(np.asarray(x).shape)
    prev = np.zeros_like(total)
    for k in range(1, months + 1):
        cur = expected_purchases(params, np.full(total.shape, k * month_units), x, t_x, T)
        total += (cur - prev) / (1 + monthly_discount) ** k
        prev = cur
    return total
