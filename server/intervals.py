"""The statistics the comparisons use, in plain Python (the server has no SciPy): Wilson intervals
for rates, Newcombe's interval for a difference of two rates (built from the two Wilson intervals),
two-proportion z tests, Welch's t interval for a difference of two means with an exact Student t
quantile, Holm's correction for many comparisons and the sample size for 80% power.

Normal quantiles come from the standard library (statistics.NormalDist). The t quantile inverts
the t distribution's CDF, which is the regularised incomplete beta function, evaluated with the
continued fraction of Numerical Recipes (Press et al., 3rd ed., 6.4) to about 1e-12, by bisection;
tests/server/test_compare.py checks it against printed t tables.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def z(p: float) -> float:
    """The standard normal quantile at p."""
    return _NORMAL.inv_cdf(p)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of the rate k/n; None without sessions."""
    if n <= 0:
        return None
    q = z(0.5 + confidence / 2)
    p = k / n
    centre = (p + q * q / (2 * n)) / (1 + q * q / n)
    half = q / (1 + q * q / n) * math.sqrt(p * (1 - p) / n + q * q / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for p2 - p1 (method 10 of Newcombe 1998)."""
    a, b = wilson(k1, n1, confidence), wilson(k2, n2, confidence)
    if a is None or b is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    d = p2 - p1
    low = d - math.sqrt((p2 - b[0]) ** 2 + (a[1] - p1) ** 2)
    high = d + math.sqrt((b[1] - p2) ** 2 + (p1 - a[0]) ** 2)
    return low, high


def two_proportion_p(k1: int, n1: int, k2: int, n2: int, one_sided: bool = False) -> float:
    """The p-value of a pooled two-proportion z test of p1 = p2 (one-sided: against p2 > p1)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    stat = (k2 / n2 - k1 / n1) / se
    return 1 - _NORMAL.cdf(stat) if one_sided else 2 * (1 - _NORMAL.cdf(abs(stat)))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def sessions_needed(rate: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Sessions per side for a two-sided test at `alpha` to find a change of `effect` (a fraction,
    0.05 = 5 points) from `rate` with probability `power` (Fleiss' formula, no continuity correction)."""
    p1 = min(max(rate, 0.0), 1.0)
    p2 = p1 + effect if p1 + effect <= 1 else p1 - effect
    p2 = min(max(p2, 0.0), 1.0)
    bar = (p1 + p2) / 2
    za, zb = z(1 - alpha / 2), z(power)
    num = za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil((num / effect) ** 2) if effect > 0 else 0


def mean_sessions_needed(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Ratings per side to find a change of `effect` in a mean with standard deviation `sd`."""
    if effect <= 0:
        return 0
    return math.ceil(2 * ((z(1 - alpha / 2) + z(power)) * sd / effect) ** 2)


# --- Student's t -----------------------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1) < 1e-13:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The Student t quantile at p with df degrees of freedom (df may be fractional: Welch)."""
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    low, high = -1e4, 1e4
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-10:
            break
    return (low + high) / 2


def mean_and_sd(total: float, squares: float, n: int) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation from a sum, a sum of squares and a count."""
    if n <= 0:
        return None, None
    mean = total / n
    if n < 2:
        return mean, None
    var = max(0.0, (squares - n * mean * mean) / (n - 1))
    return mean, math.sqrt(var)


def mean_interval(mean: float, sd: float | None, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    if sd is None or n < 2:
        return None
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


def welch(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int,
          confidence: float = 0.95) -> tuple[tuple[float, float], float] | None:
    """Welch's interval for m2 - m1 and its two-sided p-value; None below two ratings a side."""
    if n1 < 2 or n2 < 2:
        return None
    v1, v2 = s1 * s1 / n1, s2 * s2 / n2
    se = math.sqrt(v1 + v2)
    d = m2 - m1
    if se == 0:
        return (d, d), (1.0 if d == 0 else 0.0)
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1)) if v1 + v2 > 0 else n1 + n2 - 2
    half = t_quantile(0.5 + confidence / 2, df) * se
    return (d - half, d + half), 2 * (1 - t_cdf(abs(d) / se, df))
