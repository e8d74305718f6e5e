"""A small maximum-likelihood BG/NBD fit (Fader, Hardie & Lee 2005) used to check the simulator's parameters."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln


def rfm_from_orders(person: np.ndarray, t_weeks: np.ndarray, end_weeks: float):
    """(x, t_x, T) per buyer from purchase times in weeks."""
    o = np.lexsort((t_weeks, person))
    person, t = person[o], t_weeks[o]
    uniq, start, cnt = np.unique(person, return_index=True, return_counts=True)
    first = t[start]
    last = t[start + cnt - 1]
    return cnt - 1, last - first, end_weeks - first


def bgnbd_nll(params, x, tx, T):
    r, alpha, a, b = np.exp(params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + tx), -np.inf)
    return -np.sum(a1 + a2 + np.logaddexp(a3, a4))


def fit_bgnbd(x, tx, T) -> dict:
    res = minimize(bgnbd_nll, np.log([1.0, 5.0, 1.0, 5.0]), args=(x, tx, T), method="Nelder-Mead",
                   options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6})
    r, alpha, a, b = np.exp(res.x)
    return {"r": r, "alpha": alpha, "a": a, "b": b, "ll": -res.fun}
