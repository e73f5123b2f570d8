"""Channel response curves: spend -> response, vectorised over NumPy arrays (pure, no I/O).

Every curve is nondecreasing with ``response(0) == 0``. Two shapes matter to the solver:

* concave curves (Hill with slope <= 1, logistic with midpoint 0, power, linear_with_cap) have
  a nonincreasing marginal return everywhere;
* S-curves (Hill with slope > 1, logistic with midpoint > 0) are convex below ``inflection`` and
  concave above it, so a small spend on them returns almost nothing.

Besides ``response`` and ``marginal`` each curve exposes ``curvature`` (second derivative),
``inflection`` (where its concave branch starts) and ``inverse_marginal`` (the concave branch's
inverse derivative). :class:`CurveBatch` evaluates many curves with one NumPy call per curve
kind, which is what keeps the solver's cost linear in the number of channels.

Adstock: a channel whose spend carries over to later periods at geometric rate ``adstock`` sees,
at steady state, an effective spend of ``spend * (1 + a + a**2 + ...) = spend / (1 - a)`` per
period; :class:`Channel` applies its curve to that effective spend.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, ClassVar, overload

import numpy as np
import numpy.typing as npt

from roost.optimizer.errors import InvalidCurve
from roost.optimizer.scalar_curves import (
    ScalarHill,
    ScalarKernel,
    ScalarLinearWithCap,
    ScalarLogistic,
    ScalarPower,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Far beyond any real budget or response, yet small enough that products of two parameters
# stay finite.
MAX_PARAMETER = 1e15
MAX_HILL_SLOPE = 10.0
_NEWTON_MAX_ITERATIONS = 100


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------


class ResponseCurve(ABC):
    """Base of the curve dataclasses; each subclass names its ``kind`` and its kernel."""

    kind: ClassVar[str]

    @overload
    def response(self, x: float) -> float: ...
    @overload
    def response(self, x: FloatArray) -> FloatArray: ...
    def response(self, x: float | FloatArray) -> float | FloatArray:
        """Response to spend ``x`` (scalar or array, >= 0)."""
        return _apply(self._kernel.response, x)

    @overload
    def marginal(self, x: float) -> float: ...
    @overload
    def marginal(self, x: FloatArray) -> FloatArray: ...
    def marginal(self, x: float | FloatArray) -> float | FloatArray:
        """Analytic derivative of the response (right derivative at kinks, limit at 0)."""
        return _apply(self._kernel.marginal, x)

    @overload
    def curvature(self, x: float) -> float: ...
    @overload
    def curvature(self, x: FloatArray) -> FloatArray: ...
    def curvature(self, x: float | FloatArray) -> float | FloatArray:
        """Analytic second derivative of the response."""
        return _apply(self._kernel.curvature, x)

    @overload
    def inverse_marginal(self, marginal: float) -> float: ...
    @overload
    def inverse_marginal(self, marginal: FloatArray) -> FloatArray: ...
    def inverse_marginal(self, marginal: float | FloatArray) -> float | FloatArray:
        """Largest spend on the concave branch whose marginal is still >= ``marginal``.

        ``inf`` when the marginal never falls that low, ``inflection`` when it is never that high.
        """
        return _apply(self._kernel.inverse_marginal, marginal)

    @property
    def inflection(self) -> float:
        """Spend where the concave branch starts: 0 for concave curves."""
        return float(self._kernel.inflection)

    @property
    def is_concave(self) -> bool:
        return self.inflection == 0.0

    @property
    @abstractmethod
    def supremum(self) -> float:
        """Least upper bound of the response over all spends (``inf`` when unbounded)."""

    @abstractmethod
    def rescaled(self, spend_multiplier: float) -> ResponseCurve:
        """The same kind of curve, with ``new.response(x) == self.response(multiplier * x)``."""

    def params(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.param_names()}

    @classmethod
    def param_names(cls) -> list[str]:
        return [field.name for field in fields(cls)]  # type: ignore[arg-type]  # subclasses are dataclasses

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "params": self.params()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResponseCurve:
        curve = curve_from_dict(data)
        if not isinstance(curve, cls):
            raise InvalidCurve(f"expected a {cls.kind} curve, got {curve.kind!r}", parameter="type")
        return curve

    @cached_property
    def _kernel(self) -> _Kernel:
        return _KERNELS[type(self)](*(np.float64(v) for v in self.params().values()))

    @cached_property
    def scalar(self) -> ScalarKernel:
        """The same formulas on floats in pure Python, for the small-problem solver."""
        return _SCALAR_KERNELS[type(self)](*self.params().values())

    def _validated(self, **limits: tuple[float, bool, float]) -> None:
        # Frozen dataclass: check every parameter, then normalise ints and NumPy scalars.
        for name, (minimum, inclusive, maximum) in limits.items():
            value = getattr(self, name)
            _check_number(
                name, value, minimum=minimum, inclusive=inclusive, maximum=maximum, kind=self.kind
            )
            object.__setattr__(self, name, float(value))


@dataclass(frozen=True)
class HillCurve(ResponseCurve):
    """``vmax * x**slope / (k**slope + x**slope)``; ``k`` is the half-saturation spend and
    ``slope > 1`` makes an S-curve."""

    vmax: float
    k: float
    slope: float
    kind: ClassVar[str] = "hill"

    def __post_init__(self) -> None:
        self._validated(
            vmax=(0.0, False, MAX_PARAMETER),
            k=(0.0, False, MAX_PARAMETER),
            slope=(0.0, False, MAX_HILL_SLOPE),
        )

    @property
    def supremum(self) -> float:
        return self.vmax

    def rescaled(self, spend_multiplier: float) -> HillCurve:
        _check_multiplier(spend_multiplier)
        return HillCurve(vmax=self.vmax, k=self.k / spend_multiplier, slope=self.slope)


@dataclass(frozen=True)
class LogisticCurve(ResponseCurve):
    """``vmax / (1 + exp(-r (x - m)))`` minus its value at 0, so that ``response(0) == 0``.

    ``r`` is the growth rate, ``m`` the midpoint: ``m > 0`` makes an S-curve with its
    inflection at ``m``; ``m == 0`` is concave.
    """

    vmax: float
    r: float
    m: float
    kind: ClassVar[str] = "logistic"

    def __post_init__(self) -> None:
        self._validated(
            vmax=(0.0, False, MAX_PARAMETER),
            r=(0.0, False, MAX_PARAMETER),
            m=(0.0, True, MAX_PARAMETER),
        )

    @property
    def supremum(self) -> float:
        return self.vmax * (1.0 - float(_sigmoid(np.float64(-self.r * self.m))))

    def rescaled(self, spend_multiplier: float) -> LogisticCurve:
        _check_multiplier(spend_multiplier)
        return LogisticCurve(
            vmax=self.vmax, r=self.r * spend_multiplier, m=self.m / spend_multiplier
        )


@dataclass(frozen=True)
class PowerCurve(ResponseCurve):
    """``a * x**b`` with ``0 < b <= 1``: concave and unbounded."""

    a: float
    b: float
    kind: ClassVar[str] = "power"

    def __post_init__(self) -> None:
        self._validated(a=(0.0, False, MAX_PARAMETER), b=(0.0, False, 1.0))

    @property
    def supremum(self) -> float:
        return math.inf

    def rescaled(self, spend_multiplier: float) -> PowerCurve:
        _check_multiplier(spend_multiplier)
        return PowerCurve(a=self.a * spend_multiplier**self.b, b=self.b)


@dataclass(frozen=True)
class LinearWithCapCurve(ResponseCurve):
    """``min(slope * x, cap)``: linear until the response reaches ``cap``, flat after."""

    slope: float
    cap: float
    kind: ClassVar[str] = "linear_with_cap"

    def __post_init__(self) -> None:
        self._validated(slope=(0.0, False, MAX_PARAMETER), cap=(0.0, False, MAX_PARAMETER))

    @property
    def saturation(self) -> float:
        """Spend at which the response reaches its cap."""
        return self.cap / self.slope

    @property
    def supremum(self) -> float:
        return self.cap

    def rescaled(self, spend_multiplier: float) -> LinearWithCapCurve:
        _check_multiplier(spend_multiplier)
        return LinearWithCapCurve(slope=self.slope * spend_multiplier, cap=self.cap)


CURVE_TYPES: dict[str, type[ResponseCurve]] = {
    cls.kind: cls for cls in (HillCurve, LogisticCurve, PowerCurve, LinearWithCapCurve)
}


def curve_from_dict(data: Mapping[str, Any]) -> ResponseCurve:
    """Build a curve from ``{"type": "hill", "params": {...}}``, naming whatever is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidCurve("a curve must be an object with 'type' and 'params'", parameter="curve")
    unknown_keys = sorted(str(key) for key in set(data) - {"type", "params"})
    if unknown_keys:
        raise InvalidCurve(f"unknown curve field {unknown_keys[0]!r}", parameter=unknown_keys[0])
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CURVE_TYPES:
        known = ", ".join(sorted(CURVE_TYPES))
        raise InvalidCurve(
            f"unknown curve type {kind!r}; expected one of: {known}", parameter="type"
        )
    cls = CURVE_TYPES[kind]
    params = data.get("params")
    if not isinstance(params, Mapping):
        raise InvalidCurve(f"{kind} curve needs a 'params' object", parameter="params")
    expected = cls.param_names()
    for name in params:
        if name not in expected:
            raise InvalidCurve(
                f"unknown parameter {name!r} for a {kind} curve; expected {', '.join(expected)}",
                parameter=str(name),
            )
    for name in expected:
        if name not in params:
            raise InvalidCurve(f"{kind} curve is missing parameter {name!r}", parameter=name)
    return cls(**{name: params[name] for name in expected})


@overload
def steady_state_spend(spend: float, adstock: float) -> float: ...
@overload
def steady_state_spend(spend: FloatArray, adstock: float | FloatArray) -> FloatArray: ...
def steady_state_spend(
    spend: float | FloatArray, adstock: float | FloatArray
) -> float | FloatArray:
    """Effective per-period spend once geometric carryover at rate ``adstock`` has built up.

    Spending ``s`` every period, with a fraction ``adstock`` of each period's effect carried to
    the next, accumulates to ``s * (1 + a + a**2 + ...) = s / (1 - a)``.
    """
    rate = np.asarray(adstock, dtype=np.float64)
    if not np.all(np.isfinite(rate)) or np.any(rate < 0.0) or np.any(rate >= 1.0):
        raise InvalidCurve("adstock must be in [0, 1)", parameter="adstock")
    result = np.asarray(spend, dtype=np.float64) / (1.0 - rate)
    return float(result) if result.ndim == 0 else result


@dataclass(frozen=True)
class Channel:
    """A named marketing channel: its response curve and optional steady-state adstock."""

    name: str
    curve: ResponseCurve
    adstock: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidCurve("channel name must be a non-empty string", parameter="name")
        if not isinstance(self.curve, ResponseCurve):
            raise InvalidCurve(f"channel {self.name!r} has no valid curve", parameter="curve")
        _check_number("adstock", self.adstock, minimum=0.0, inclusive=True, maximum=1.0)
        if self.adstock >= 1.0:
            raise InvalidCurve(
                f"adstock must be in [0, 1), got {self.adstock!r}", parameter="adstock"
            )
        object.__setattr__(self, "adstock", float(self.adstock))

    @cached_property
    def effective_curve(self) -> ResponseCurve:
        """The curve as a function of this period's spend, carryover included."""
        if self.adstock == 0.0:
            return self.curve
        return self.curve.rescaled(float(steady_state_spend(1.0, self.adstock)))

    @overload
    def response(self, spend: float) -> float: ...
    @overload
    def response(self, spend: FloatArray) -> FloatArray: ...
    def response(self, spend: float | FloatArray) -> float | FloatArray:
        return self.effective_curve.response(spend)

    @overload
    def marginal(self, spend: float) -> float: ...
    @overload
    def marginal(self, spend: FloatArray) -> FloatArray: ...
    def marginal(self, spend: float | FloatArray) -> float | FloatArray:
        return self.effective_curve.marginal(spend)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "curve": self.curve.to_dict(), "adstock": self.adstock}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Channel:
        if not isinstance(data, Mapping):
            raise InvalidCurve("a channel must be an object", parameter="channel")
        if "curve" not in data:
            raise InvalidCurve("channel is missing its 'curve'", parameter="curve")
        name = data.get("name")
        if not isinstance(name, str):
            raise InvalidCurve("channel name must be a non-empty string", parameter="name")
        return cls(
            name=name, curve=curve_from_dict(data["curve"]), adstock=data.get("adstock", 0.0)
        )


class CurveBatch:
    """Many curves evaluated together: one vectorised NumPy call per curve kind, never per curve.

    Arrays passed in and returned are indexed like the ``curves`` sequence.
    """

    def __init__(self, curves: Sequence[ResponseCurve]) -> None:
        self.size = len(curves)
        by_kind: dict[type[ResponseCurve], list[int]] = {}
        for position, curve in enumerate(curves):
            by_kind.setdefault(type(curve), []).append(position)
        self._groups: list[tuple[_Kernel, IntArray]] = []
        for cls, positions in by_kind.items():
            params = (
                np.array([getattr(curves[p], name) for p in positions], dtype=np.float64)
                for name in cls.param_names()
            )
            self._groups.append((_KERNELS[cls](*params), np.array(positions, dtype=np.intp)))
        self._single = self._groups[0][0] if len(self._groups) == 1 else None
        self.inflection = self._gather(lambda kernel, _: kernel.inflection)

    @cached_property
    def origin_tangency(self) -> FloatArray:
        # Only solvers starting S-curves from a tangent need it, and it costs a Newton solve
        # for logistic curves: computed on first use.
        return self._gather(lambda kernel, _: kernel.tangency_from_origin())

    def response(self, x: FloatArray) -> FloatArray:
        return self._gather(lambda kernel, index: kernel.response(_pick(x, index)))

    def marginal(self, x: FloatArray) -> FloatArray:
        return self._gather(lambda kernel, index: kernel.marginal(_pick(x, index)))

    def curvature(self, x: FloatArray) -> FloatArray:
        return self._gather(lambda kernel, index: kernel.curvature(_pick(x, index)))

    def inverse_marginal(self, marginal: float | FloatArray) -> FloatArray:
        return self._gather(lambda kernel, index: kernel.inverse_marginal(_pick(marginal, index)))

    def inverse_marginal_rows(self, marginal: FloatArray) -> FloatArray:
        """``inverse_marginal`` for each row of a 2-D array whose columns follow the curves."""
        out = np.empty(marginal.shape, dtype=np.float64)
        for kernel, index in self._groups:
            out[:, index] = kernel.inverse_marginal(marginal[:, index])
        return out

    def _gather(self, evaluate: Callable[[_Kernel, IntArray | None], Any]) -> FloatArray:
        if self._single is not None:
            return np.broadcast_to(evaluate(self._single, None), (self.size,)).astype(np.float64)
        out = np.empty(self.size, dtype=np.float64)
        for kernel, index in self._groups:
            out[index] = evaluate(kernel, index)
        return out


# --------------------------------------------------------------------------------------------
# Kernels: the formulas, over arrays of parameters (a batch) or 0-d ones (a single curve).
# --------------------------------------------------------------------------------------------


class _Kernel(ABC):
    inflection: FloatArray
    # Roughly where the tangent from the origin touches an S-curve, at or beyond the true
    # point (exact for Hill); the inflection point for concave curves.
    origin_tangency: FloatArray

    def tangency_from_origin(self) -> FloatArray:
        return self.origin_tangency

    @abstractmethod
    def response(self, x: Any) -> FloatArray: ...

    @abstractmethod
    def marginal(self, x: Any) -> FloatArray: ...

    @abstractmethod
    def curvature(self, x: Any) -> FloatArray: ...

    @abstractmethod
    def inverse_marginal(self, lam: Any) -> FloatArray: ...


class _HillKernel(_Kernel):
    def __init__(self, vmax: FloatArray, k: FloatArray, slope: FloatArray) -> None:
        self.vmax, self.k, self.slope = vmax, k, slope
        self.log_k = np.log(k)
        # With u = s ln(x/k): ln f'(x) = ln(vmax s / k) + g(u), g(u) = p u - 2 softplus(u).
        self.p = 1.0 - 1.0 / slope
        self.log_scale = np.log(vmax * slope / k)
        # sup g: its maximum where sigmoid(u) = p / 2 for S-curves, 0 (as u -> -inf) for
        # slope 1, unbounded for slope < 1.
        peak_u = np.log(np.maximum(self.p, 1e-300) / (2.0 - self.p))
        self.peak_g = np.where(
            self.p > 0,
            self.p * peak_u - 2.0 * _softplus(peak_u),
            np.where(self.p == 0, 0.0, np.inf),
        )
        ratio = np.maximum(slope - 1.0, 0.0) / (slope + 1.0)
        self.inflection = np.where(slope > 1.0, k * ratio ** (1.0 / slope), 0.0 * k)
        # f(x) / x = f'(x) <=> s sigmoid(-u) = 1 <=> u = ln(s - 1).
        self.origin_tangency = np.where(
            slope > 1.0, k * np.maximum(slope - 1.0, 1e-300) ** (1.0 / slope), 0.0 * k
        )
        # Near 0 the curve is vmax (x/k)^s, whose second derivative diverges for s < 2 except
        # at s == 1 (where the next term gives -2 vmax / k^2).
        # (Nested np.where: np.select costs as much as the rest of this constructor.)
        at_one_or_two = np.where(slope == 1.0, -2.0, 2.0) * vmax / (k * k)
        self.curvature_at_zero = np.where(
            slope < 1.0,
            -np.inf,
            np.where(
                (slope == 1.0) | (slope == 2.0),
                at_one_or_two,
                np.where(slope < 2.0, np.inf, 0.0 * k),
            ),
        )
        self.marginal_at_zero = np.where(slope < 1.0, np.inf, np.where(slope == 1.0, vmax / k, 0.0))
        self._warm_u: FloatArray | None = None

    def _log_ratio(self, x: Any) -> FloatArray:
        with np.errstate(divide="ignore"):
            return _floats(self.slope * (np.log(x) - self.log_k))

    def response(self, x: Any) -> FloatArray:
        # vmax * x^s / (k^s + x^s) == vmax * sigmoid(s ln(x/k)): no overflow for huge x / k.
        return _floats(self.vmax * _sigmoid(self._log_ratio(x)))

    def marginal(self, x: Any) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            inner = self.vmax * self.slope * _sigmoid_slope(self._log_ratio(x)) / x
        return np.where(x > 0, inner, self.marginal_at_zero)

    def curvature(self, x: Any) -> FloatArray:
        z = self._log_ratio(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            inner = (
                self.vmax
                * self.slope
                * _sigmoid_slope(z)
                * (-self.slope * np.tanh(z / 2.0) - 1.0)
                / (x * x)
            )
        return np.where(x > 0, inner, self.curvature_at_zero)

    def inverse_marginal(self, lam: Any) -> FloatArray:
        # g is concave, so Newton-type steps converge from any start on its decreasing branch
        # and are kept left of target / (p - 2), an upper bound on the root since
        # g(u) <= (p - 2) u. That bound is the cold start; the solver asks for nearby
        # multipliers in a row, so the previous roots are usually better starts.
        lam = np.asarray(lam, dtype=np.float64)
        with np.errstate(divide="ignore"):
            target = np.log(lam) - self.log_scale
        shape = target.shape if target.ndim else self.p.shape
        target = np.broadcast_to(target, shape)
        solvable = np.isfinite(target) & (target < self.peak_g)
        if not solvable.any():
            return np.where(lam <= 0, np.inf, np.broadcast_to(self.inflection, shape))
        everywhere = bool(solvable.all())
        p = np.broadcast_to(self.p, shape)
        if not everywhere:
            target, p = target[solvable], p[solvable]
        # Upper bounds on the root: g(u) <= (p - 2) u, and g(u) <= p u as well when p < 0
        # (the tighter one far left, where an expensive S-curve is barely bought).
        ceiling = target / (p - 2.0)
        ceiling = np.where(p < 0, np.minimum(ceiling, target / np.minimum(p, -1e-300)), ceiling)
        warm = self._warm_u
        u = ceiling
        if warm is not None and warm.shape == shape:
            warm = warm if everywhere else warm[solvable]
            # A warm start is usable only on the decreasing branch: g'(u) = p - 2 sigmoid(u) < 0.
            usable = p - 2.0 * _sigmoid(warm) < -1e-3
            u = np.minimum(np.where(usable, warm, ceiling), ceiling)
        # Newton steps descend monotonically to the root once right of it (g is concave).
        # Halley's steps converge cubically but can overshoot when g'' * excess is not small
        # against g'^2, so they are taken only where it is. Once every step is below 1e-5 the
        # error left is near machine precision.
        for _ in range(_NEWTON_MAX_ITERATIONS):
            e = np.exp(u)
            sigmoid = e / (1.0 + e)
            excess = p * u - 2.0 * np.log1p(e) - target
            slope = p - 2.0 * sigmoid
            bent = excess * (-2.0 * sigmoid * (1.0 - sigmoid))
            squared = slope * slope
            halley = 2.0 * excess * slope / (2.0 * squared - bent)
            step = np.where(np.abs(bent) < 0.5 * squared, halley, excess / slope)
            u = np.minimum(u - step, ceiling)
            if float(np.abs(step).max(initial=0.0)) <= 1e-5:
                break
        if everywhere:
            full_u = u
        else:
            full_u = np.zeros(shape)
            full_u[solvable] = u
        if full_u.ndim <= 1:
            # Rows of multipliers at once (CurveBatch.inverse_marginal_rows) are a one-off.
            self._warm_u = full_u
        with np.errstate(over="ignore"):
            root = self.k * np.exp(full_u / self.slope)
        return np.where(lam <= 0, np.inf, np.where(solvable, root, self.inflection))


class _LogisticKernel(_Kernel):
    def __init__(self, vmax: FloatArray, r: FloatArray, m: FloatArray) -> None:
        self.vmax, self.r, self.m = vmax, r, m
        self.at_zero_complement = _sigmoid(r * m)
        self.peak_marginal = vmax * r
        self.inflection = m + 0.0 * r
        self._origin_tangency: FloatArray | None = None

    def tangency_from_origin(self) -> FloatArray:
        if self._origin_tangency is None:
            m, r = self.m, self.r
            self._origin_tangency = np.where(m > 0, m + _logistic_tangency(r * m) / r, 0.0 * r)
        return self._origin_tangency

    def response(self, x: Any) -> FloatArray:
        # sigmoid(a) - sigmoid(b) == sigmoid(a) sigmoid(-b) (1 - exp(b - a)): no cancellation
        # for small spends, where both sigmoids are nearly equal.
        gained = -np.expm1(-self.r * x)
        return _floats(
            self.vmax * _sigmoid(self.r * (x - self.m)) * self.at_zero_complement * gained
        )

    def marginal(self, x: Any) -> FloatArray:
        return _floats(self.peak_marginal * _sigmoid_slope(self.r * (x - self.m)))

    def curvature(self, x: Any) -> FloatArray:
        z = self.r * (x - self.m)
        return _floats(-self.peak_marginal * self.r * _sigmoid_slope(z) * np.tanh(z / 2.0))

    def inverse_marginal(self, lam: Any) -> FloatArray:
        # On the concave branch z = r (x - m) >= 0 and w = exp(-z) solves w / (1 + w)^2 = q;
        # the small root is written as 2q / (...) to avoid cancellation for small q.
        lam = np.asarray(lam, dtype=np.float64)
        with np.errstate(over="ignore"):
            q = np.clip(lam / self.peak_marginal, 0.0, 0.25)
        w = 2.0 * q / ((1.0 - 2.0 * q) + np.sqrt(1.0 - 4.0 * q))
        with np.errstate(divide="ignore"):
            root = self.m - np.log(w) / self.r
        return np.where(lam <= 0, np.inf, root)


class _PowerKernel(_Kernel):
    def __init__(self, a: FloatArray, b: FloatArray) -> None:
        self.a, self.b = a, b
        self.linear = b == 1.0
        self.inverse_exponent = 1.0 / np.where(self.linear, -1.0, b - 1.0)
        self.inflection = self.origin_tangency = 0.0 * a

    def response(self, x: Any) -> FloatArray:
        return _floats(self.a * np.power(x, self.b))

    def marginal(self, x: Any) -> FloatArray:
        with np.errstate(divide="ignore", over="ignore"):
            return _floats(self.a * self.b * np.power(x, self.b - 1.0))

    def curvature(self, x: Any) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            value = self.a * self.b * (self.b - 1.0) * np.power(x, self.b - 2.0)
        return np.where(self.linear, 0.0, value)

    def inverse_marginal(self, lam: Any) -> FloatArray:
        lam = np.asarray(lam, dtype=np.float64)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            concave = np.power(lam / (self.a * self.b), self.inverse_exponent)
        linear_root = np.where(lam <= self.a, np.inf, 0.0)
        return np.where(lam <= 0, np.inf, np.where(self.linear, linear_root, concave))


class _LinearWithCapKernel(_Kernel):
    def __init__(self, slope: FloatArray, cap: FloatArray) -> None:
        self.slope, self.cap = slope, cap
        self.saturation = cap / slope
        self.inflection = self.origin_tangency = 0.0 * slope

    def response(self, x: Any) -> FloatArray:
        return _floats(np.minimum(self.slope * x, self.cap))

    def marginal(self, x: Any) -> FloatArray:
        return np.where(x < self.saturation, self.slope, 0.0)

    def curvature(self, x: Any) -> FloatArray:
        return _floats(0.0 * (x + self.slope))

    def inverse_marginal(self, lam: Any) -> FloatArray:
        lam = np.asarray(lam, dtype=np.float64)
        return np.where(lam <= 0, np.inf, np.where(lam <= self.slope, self.saturation, 0.0))


_KERNELS: dict[type[ResponseCurve], Callable[..., _Kernel]] = {
    HillCurve: _HillKernel,
    LogisticCurve: _LogisticKernel,
    PowerCurve: _PowerKernel,
    LinearWithCapCurve: _LinearWithCapKernel,
}

_SCALAR_KERNELS: dict[type[ResponseCurve], Callable[..., ScalarKernel]] = {
    HillCurve: ScalarHill,
    LogisticCurve: ScalarLogistic,
    PowerCurve: ScalarPower,
    LinearWithCapCurve: ScalarLinearWithCap,
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _sigmoid(z: Any) -> FloatArray:
    # exp of a non-positive number never overflows.
    e = np.exp(-np.abs(z))
    return _floats(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def _sigmoid_slope(z: Any) -> FloatArray:
    """``sigmoid(z) * sigmoid(-z)`` without cancellation in the tails."""
    e = np.exp(-np.abs(z))
    return _floats(e / (1.0 + e) ** 2)


def _softplus(z: Any) -> FloatArray:
    return _floats(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))))


def _logistic_tangency(a: FloatArray) -> FloatArray:
    """z = r (x - m) where the tangent from the origin touches a logistic with a = r m > 0.

    f(x) - f(0) = f'(x) x reads phi(z) = sigmoid(a) (1 + e^z - e^-(z+a) - e^-a) - (z + a) = 0.
    phi is convex with roots at z = -a (the origin itself) and at the tangency, so Newton's
    method started right of the tangency descends to it monotonically. As a -> 0 the two roots
    merge (the curve turns concave) and z -> a / 2, which is used below a = 1e-3.
    """
    small = a < 1e-3
    half = 0.5 * a
    a = np.where(small, 1.0, a)
    weight, floor = _sigmoid(a), np.exp(-a)

    def phi(z: FloatArray) -> FloatArray:
        return _floats(weight * (1.0 + np.exp(z) - np.exp(-(z + a)) - floor) - (z + a))

    z = np.log1p(a + np.log1p(a)) + 1.0
    for _ in range(8):
        # Make sure every start is right of the tangency (phi > 0 there).
        if bool(np.all(phi(z) > 0)):
            break
        z = np.where(phi(z) > 0, z, z + 2.0)
    for _ in range(_NEWTON_MAX_ITERATIONS):
        slope = weight * (np.exp(z) + np.exp(-(z + a))) - 1.0
        step = phi(z) / slope
        z = z - step
        # Convergence is quadratic: after a step of 1e-7 the error left is ~1e-14.
        if float(np.abs(step).max(initial=0.0)) <= 1e-7 * max(1.0, float(np.abs(z).max())):
            break
    return _floats(np.where(small, half, z))


def _floats(values: Any) -> FloatArray:
    """NumPy's ufuncs are typed as returning Any; this states what they return here."""
    return np.asarray(values, dtype=np.float64)


def _pick(values: Any, index: IntArray | None) -> Any:
    if index is None or np.ndim(values) == 0:
        return values
    return np.asarray(values)[index]


def _apply(function: Callable[[Any], FloatArray], x: float | FloatArray) -> float | FloatArray:
    values = np.asarray(x, dtype=np.float64)
    result = np.asarray(function(values), dtype=np.float64)
    return float(result) if values.ndim == 0 else np.broadcast_to(result, values.shape).copy()


def _check_multiplier(spend_multiplier: float) -> None:
    _check_number("spend_multiplier", spend_multiplier, minimum=0.0, inclusive=False)


def _check_number(
    name: str,
    value: object,
    *,
    minimum: float,
    inclusive: bool,
    maximum: float = MAX_PARAMETER,
    kind: str | None = None,
) -> None:
    where = f"{kind} curve parameter {name!r}" if kind else f"{name!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidCurve(f"{where} must be a number, got {value!r}", parameter=name)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidCurve(f"{where} must be finite, got {value!r}", parameter=name)
    too_small = number < minimum if inclusive else number <= minimum
    if too_small:
        bound = ">=" if inclusive else ">"
        raise InvalidCurve(f"{where} must be {bound} {minimum:g}, got {value!r}", parameter=name)
    if number > maximum:
        raise InvalidCurve(f"{where} must be <= {maximum:g}, got {value!r}", parameter=name)
