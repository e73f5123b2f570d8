"""The curve formulas of ``curves.py`` for one curve at a time, in pure Python (``math``).

Why a second copy of the formulas: a NumPy call costs about a microsecond whatever the size of
its arrays, and one evaluation of a curve batch is 10-25 of them. On a problem of a few dozen
channels that fixed cost is nearly all the solver's time, while one formula on one float costs a
fraction of a microsecond. The small-problem solver (``small.py``) uses these; everything larger
uses the NumPy kernels. Each formula here is written exactly like its NumPy twin (same
rearrangements against overflow and cancellation), so both agree to rounding; the unit tests
compare them. Inputs are floats >= 0; ``math`` raises ``OverflowError`` where NumPy would return
``inf``, which the small-problem solver takes as its cue to hand the problem to the general one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

_NEWTON_MAX_ITERATIONS = 100


class ScalarKernel(ABC):
    """One curve's response, derivatives and concave-branch inverse marginal on floats."""

    inflection: float
    # Where the tangent from the origin touches an S-curve, at or beyond the true point (exact
    # for Hill); the inflection point for concave curves.
    origin_tangency: float
    # Linear pieces (power with b == 1, linear with cap) get a pinned envelope, never an
    # inverse marginal.
    linear: bool = False

    @abstractmethod
    def response(self, x: float) -> float: ...

    @abstractmethod
    def marginal(self, x: float) -> float: ...

    @abstractmethod
    def curvature(self, x: float) -> float: ...

    @abstractmethod
    def inverse_marginal(self, lam: float, warm: float | None = None) -> tuple[float, float | None]:
        """Largest spend on the concave branch whose marginal is still >= ``lam``.

        Returns it with a warm start for the next call at a nearby ``lam`` (None when the
        kernel needs none).
        """


class ScalarHill(ScalarKernel):
    __slots__ = (
        "curvature_at_zero",
        "inflection",
        "k",
        "log_k",
        "log_scale",
        "marginal_at_zero",
        "origin_tangency",
        "p",
        "peak_g",
        "slope",
        "vmax",
    )

    def __init__(self, vmax: float, k: float, slope: float) -> None:
        self.vmax, self.k, self.slope = vmax, k, slope
        self.log_k = math.log(k)
        # With u = s ln(x/k): ln f'(x) = ln(vmax s / k) + g(u), g(u) = p u - 2 softplus(u).
        p = self.p = 1.0 - 1.0 / slope
        self.log_scale = math.log(vmax * slope / k)
        if p > 0:
            peak_u = math.log(p / (2.0 - p))
            self.peak_g = p * peak_u - 2.0 * _softplus(peak_u)
        else:
            self.peak_g = 0.0 if p == 0 else math.inf
        if slope > 1.0:
            self.inflection = k * ((slope - 1.0) / (slope + 1.0)) ** (1.0 / slope)
            self.origin_tangency = k * (slope - 1.0) ** (1.0 / slope)
        else:
            self.inflection = self.origin_tangency = 0.0
        if slope < 1.0:
            self.curvature_at_zero, self.marginal_at_zero = -math.inf, math.inf
        elif slope == 1.0:
            self.curvature_at_zero, self.marginal_at_zero = -2.0 * vmax / (k * k), vmax / k
        elif slope == 2.0:
            self.curvature_at_zero, self.marginal_at_zero = 2.0 * vmax / (k * k), 0.0
        else:
            self.curvature_at_zero = math.inf if slope < 2.0 else 0.0
            self.marginal_at_zero = 0.0

    def response(self, x: float) -> float:
        if x <= 0.0:
            return 0.0
        return self.vmax * _sigmoid(self.slope * (math.log(x) - self.log_k))

    def marginal(self, x: float) -> float:
        if x <= 0.0:
            return self.marginal_at_zero
        z = self.slope * (math.log(x) - self.log_k)
        return self.vmax * self.slope * _sigmoid_slope(z) / x

    def curvature(self, x: float) -> float:
        if x <= 0.0:
            return self.curvature_at_zero
        z = self.slope * (math.log(x) - self.log_k)
        s = self.slope
        return self.vmax * s * _sigmoid_slope(z) * (-s * math.tanh(z / 2.0) - 1.0) / (x * x)

    def inverse_marginal(self, lam: float, warm: float | None = None) -> tuple[float, float | None]:
        # As _HillKernel.inverse_marginal: Newton / Halley on the concave g from the upper
        # bound target / (p - 2), or from ``warm`` (the root in u of a nearby call) when it is
        # on g's decreasing branch.
        if lam <= 0.0:
            return math.inf, warm
        target = math.log(lam) - self.log_scale
        if not target < self.peak_g:
            return self.inflection, warm
        p = self.p
        ceiling = target / (p - 2.0)
        if p < 0:
            ceiling = min(ceiling, target / min(p, -1e-300))
        u = ceiling
        if warm is not None and p - 2.0 * _sigmoid(warm) < -1e-3:
            u = min(warm, ceiling)
        exp, log1p = math.exp, math.log1p  # locals: this loop is the fast path's hot spot
        for _ in range(_NEWTON_MAX_ITERATIONS):
            e = exp(u)
            sigmoid = e / (1.0 + e)
            excess = p * u - 2.0 * log1p(e) - target
            slope = p - 2.0 * sigmoid
            bent = excess * (-2.0 * sigmoid * (1.0 - sigmoid))
            squared = slope * slope
            if abs(bent) < 0.5 * squared:
                step = 2.0 * excess * slope / (2.0 * squared - bent)
            else:
                step = excess / slope
            u -= step
            if u > ceiling:
                u = ceiling
            if -1e-5 <= step <= 1e-5:
                break
        return self.k * math.exp(u / self.slope), u


class ScalarLogistic(ScalarKernel):
    __slots__ = (
        "at_zero_complement",
        "inflection",
        "m",
        "origin_tangency",
        "peak_marginal",
        "r",
        "vmax",
    )

    def __init__(self, vmax: float, r: float, m: float) -> None:
        self.vmax, self.r, self.m = vmax, r, m
        self.at_zero_complement = _sigmoid(r * m)
        self.peak_marginal = vmax * r
        self.inflection = m
        self.origin_tangency = m + _logistic_tangency(r * m) / r if m > 0 else 0.0

    def response(self, x: float) -> float:
        gained = -math.expm1(-self.r * x)
        return self.vmax * _sigmoid(self.r * (x - self.m)) * self.at_zero_complement * gained

    def marginal(self, x: float) -> float:
        return self.peak_marginal * _sigmoid_slope(self.r * (x - self.m))

    def curvature(self, x: float) -> float:
        z = self.r * (x - self.m)
        return -self.peak_marginal * self.r * _sigmoid_slope(z) * math.tanh(z / 2.0)

    def inverse_marginal(self, lam: float, warm: float | None = None) -> tuple[float, float | None]:
        if lam <= 0.0:
            return math.inf, None
        q = min(max(lam / self.peak_marginal, 0.0), 0.25)
        w = 2.0 * q / ((1.0 - 2.0 * q) + math.sqrt(1.0 - 4.0 * q))
        if w == 0.0:
            return math.inf, None
        return self.m - math.log(w) / self.r, None


class ScalarPower(ScalarKernel):
    __slots__ = ("a", "b", "inflection", "inverse_exponent", "linear", "origin_tangency")

    def __init__(self, a: float, b: float) -> None:
        self.a, self.b = a, b
        self.linear = b == 1.0
        self.inverse_exponent = 1.0 / (-1.0 if self.linear else b - 1.0)
        self.inflection = self.origin_tangency = 0.0

    def response(self, x: float) -> float:
        return float(self.a * x**self.b)

    def marginal(self, x: float) -> float:
        if self.linear:
            return self.a
        return math.inf if x <= 0.0 else self.a * self.b * x ** (self.b - 1.0)

    def curvature(self, x: float) -> float:
        if self.linear:
            return 0.0
        return -math.inf if x <= 0.0 else self.a * self.b * (self.b - 1.0) * x ** (self.b - 2.0)

    def inverse_marginal(self, lam: float, warm: float | None = None) -> tuple[float, float | None]:
        if lam <= 0.0:
            return math.inf, None
        if self.linear:
            return (math.inf if lam <= self.a else 0.0), None
        return float((lam / (self.a * self.b)) ** self.inverse_exponent), None


class ScalarLinearWithCap(ScalarKernel):
    __slots__ = ("cap", "inflection", "origin_tangency", "saturation", "slope")
    linear = True

    def __init__(self, slope: float, cap: float) -> None:
        self.slope, self.cap = slope, cap
        self.saturation = cap / slope
        self.inflection = self.origin_tangency = 0.0

    def response(self, x: float) -> float:
        return min(self.slope * x, self.cap)

    def marginal(self, x: float) -> float:
        return self.slope if x < self.saturation else 0.0

    def curvature(self, x: float) -> float:
        return 0.0

    def inverse_marginal(self, lam: float, warm: float | None = None) -> tuple[float, float | None]:
        if lam <= 0.0:
            return math.inf, None
        return (self.saturation if lam <= self.slope else 0.0), None


def _sigmoid(z: float) -> float:
    e = math.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


def _sigmoid_slope(z: float) -> float:
    e = math.exp(-abs(z))
    return e / ((1.0 + e) * (1.0 + e))


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _logistic_tangency(a: float) -> float:
    """As ``curves._logistic_tangency`` for one curve: z where the tangent from the origin
    touches a logistic with ``a = r m > 0``."""
    if a < 1e-3:
        return 0.5 * a
    weight, floor = _sigmoid(a), math.exp(-a)

    def phi(z: float) -> float:
        return weight * (1.0 + math.exp(z) - math.exp(-(z + a)) - floor) - (z + a)

    z = math.log1p(a + math.log1p(a)) + 1.0
    for _ in range(8):
        if phi(z) > 0:
            break
        z += 2.0
    for _ in range(_NEWTON_MAX_ITERATIONS):
        step = phi(z) / (weight * (math.exp(z) + math.exp(-(z + a))) - 1.0)
        z -= step
        if abs(step) <= 1e-7 * max(1.0, abs(z)):
            break
    return z
