"""Atlas budget optimizer against SciPy, all measured in this run.

For 2, 10, 50 and 200 channels with seeded random curves (a quarter each of concave Hill,
power, S-shaped Hill and logistic) and a budget in the range where S-curves matter, it times
our solver and SciPy SLSQP started from an even split (analytic gradients), then compares the
objectives with a multi-start reference: SLSQP from several random splits and from our answer,
keeping the best.

    python -m bench.optimizer [--quick] [--no-gate] [--seed 7]

``--quick`` skips 200 channels and the multi-start reference. Targets: at least SLSQP's
objective on every case, within 0.01 % of the best reference, >= 10x faster than SLSQP at 50
channels and >= 100x at 200. The exit status is 1 when a target is missed, unless ``--no-gate``.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.optimize import LinearConstraint, minimize

from roost.optimizer.curves import (
    Channel,
    CurveBatch,
    FloatArray,
    HillCurve,
    LogisticCurve,
    PowerCurve,
)
from roost.optimizer.solver import optimize_allocation

T = TypeVar("T")

SIZES = (2, 10, 50, 200)
QUICK_SIZES = (2, 10, 50)
SPEEDUP_TARGETS = {50: 10.0, 200: 100.0}
MAX_GAP_VS_REFERENCE = 1e-4  # 0.01 %
# Objectives equal up to rounding count as "not worse".
ROUNDING = 1e-9


@dataclass(frozen=True)
class Case:
    channels: list[Channel]
    total: float


@dataclass(frozen=True)
class CaseResult:
    size: int
    ours_seconds: float
    ours_objective: float
    slsqp_seconds: float
    slsqp_objective: float
    reference_objective: float | None
    ours_status: str
    ours_nodes: int

    @property
    def speedup(self) -> float:
        return self.slsqp_seconds / self.ours_seconds

    @property
    def gap_vs_reference(self) -> float | None:
        if self.reference_objective is None:
            return None
        return (self.reference_objective - self.ours_objective) / abs(self.reference_objective)


@contextmanager
def single_threaded_blas() -> Iterator[int]:
    """Pin every loaded OpenBLAS to one thread for the block; yields how many were pinned.

    SLSQP's small dense solves gain nothing from BLAS threads, and on a busy machine the
    threads fight for cores and make it 10-50x slower and erratic. Our solver uses no BLAS, so
    pinning only makes the baseline faster and steadier: a conservative comparison.
    """
    libraries = _loaded_openblas()
    previous = [get() for _, get in libraries]
    for set_threads, _ in libraries:
        set_threads(1)
    try:
        yield len(libraries)
    finally:
        for (set_threads, _), count in zip(libraries, previous, strict=True):
            set_threads(count)


def _loaded_openblas() -> list[tuple[Callable[[int], object], Callable[[], int]]]:
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line})
    except OSError:
        return []
    found = []
    for path in paths:
        library = ctypes.CDLL(path)
        for suffix in ("64_", ""):
            setter = getattr(library, f"scipy_openblas_set_num_threads{suffix}", None)
            getter = getattr(library, f"scipy_openblas_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                found.append((setter, getter))
                break
    return found


def make_case(size: int, rng: np.random.Generator) -> Case:
    """Channels in thousands of dollars; the budget buys roughly half of their scales."""
    channels: list[Channel] = []
    scales = []
    for i in range(size):
        kind = i % 4
        scale = float(rng.uniform(20.0, 200.0))
        vmax = float(rng.uniform(50.0, 500.0))
        if kind == 0:
            curve: HillCurve | PowerCurve | LogisticCurve = HillCurve(
                vmax=vmax, k=scale, slope=float(rng.uniform(0.5, 1.0))
            )
        elif kind == 1:
            exponent = float(rng.uniform(0.3, 0.8))
            curve = PowerCurve(a=0.5 * vmax / scale**exponent, b=exponent)
        elif kind == 2:
            curve = HillCurve(vmax=vmax, k=scale, slope=float(rng.uniform(1.5, 3.0)))
        else:
            curve = LogisticCurve(vmax=vmax, r=float(rng.uniform(3.0, 8.0)) / scale, m=scale)
        channels.append(Channel(name=f"channel-{i}", curve=curve))
        scales.append(scale)
    total = float(rng.uniform(0.4, 0.8) * sum(scales))
    return Case(channels=channels, total=total)


def slsqp(case: Case, start: FloatArray) -> FloatArray:
    """SciPy SLSQP on the same problem, with analytic gradients."""
    batch = CurveBatch([channel.effective_curve for channel in case.channels])
    size = len(case.channels)

    def negative_objective(x: FloatArray) -> float:
        return -float(batch.response(np.maximum(x, 0.0)).sum())

    def negative_gradient(x: FloatArray) -> FloatArray:
        # The marginal of concave curves is infinite at 0; SLSQP needs finite numbers.
        return -np.minimum(batch.marginal(np.maximum(x, 1e-9)), 1e12)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minimize(
            negative_objective,
            start,
            jac=negative_gradient,
            method="SLSQP",
            bounds=[(0.0, case.total)] * size,
            constraints=LinearConstraint(np.ones((1, size)), case.total, case.total),
            options={"maxiter": 1000},
        )
    return np.asarray(result.x, dtype=np.float64)


def objective(case: Case, allocation: FloatArray) -> float:
    """True objective of an allocation, after projecting SLSQP's rounding onto the constraints."""
    x = np.clip(allocation, 0.0, case.total)
    x = x * (case.total / x.sum()) if x.sum() > 0 else np.full_like(x, case.total / x.size)
    return float(
        sum(channel.response(float(v)) for channel, v in zip(case.channels, x, strict=True))
    )


def timed(function: Callable[[], T], budget_seconds: float) -> tuple[float, T]:
    """Best wall time over repeats that fit in the budget (at least one run)."""
    began = time.perf_counter()
    result = function()
    best = spent = time.perf_counter() - began
    while spent < budget_seconds and best < budget_seconds / 3:
        began = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - began
        best, spent = min(best, elapsed), spent + elapsed
    return best, result


def run_case(size: int, seed: int, starts: int) -> CaseResult:
    rng = np.random.default_rng(seed + size)
    case = make_case(size, rng)
    even = np.full(size, case.total / size)
    ours_seconds, ours = timed(lambda: optimize_allocation(case.channels, case.total), 0.5)
    slsqp_seconds, slsqp_x = timed(lambda: slsqp(case, even), 0.5)
    ours_objective = objective(case, ours.allocation)
    slsqp_objective = objective(case, np.asarray(slsqp_x))
    reference: float | None = None
    if starts:
        candidates = [
            ours_objective,
            slsqp_objective,
            objective(case, slsqp(case, ours.allocation)),
        ]
        for _ in range(starts):
            random_split = rng.dirichlet(np.ones(size)) * case.total
            candidates.append(objective(case, slsqp(case, random_split)))
        reference = max(candidates)
    return CaseResult(
        size=size,
        ours_seconds=ours_seconds,
        ours_objective=ours_objective,
        slsqp_seconds=slsqp_seconds,
        slsqp_objective=slsqp_objective,
        reference_objective=reference,
        ours_status=ours.status,
        ours_nodes=ours.iterations,
    )


def run(sizes: Sequence[int], seed: int, starts: int) -> list[CaseResult]:
    # At 200 channels one SLSQP run takes seconds: half the random starts keep the run short.
    return [run_case(size, seed, starts if size < 200 else (starts + 1) // 2) for size in sizes]


def missed_targets(results: Sequence[CaseResult]) -> list[str]:
    missed = []
    for result in results:
        if result.ours_objective < result.slsqp_objective * (1 - ROUNDING):
            missed.append(f"{result.size} channels: objective below SLSQP's")
        gap = result.gap_vs_reference
        if gap is not None and gap > MAX_GAP_VS_REFERENCE:
            missed.append(f"{result.size} channels: {gap:.4%} below the best reference")
        target = SPEEDUP_TARGETS.get(result.size)
        if target is not None and result.speedup < target:
            missed.append(
                f"{result.size} channels: {result.speedup:.1f}x faster, target {target:g}x"
            )
    return missed


def report(results: Sequence[CaseResult]) -> None:
    header = (
        f"{'channels':>8} {'ours ms':>9} {'slsqp ms':>9} {'speedup':>8} "
        f"{'ours obj':>12} {'slsqp obj':>12} {'vs slsqp':>9} {'gap to best':>11} {'nodes':>6}"
    )
    print(header)
    for r in results:
        versus_slsqp = (r.ours_objective - r.slsqp_objective) / abs(r.slsqp_objective)
        gap = r.gap_vs_reference
        reference = "-" if gap is None else f"{gap:.6%}"
        print(
            f"{r.size:>8} {r.ours_seconds * 1e3:>9.2f} {r.slsqp_seconds * 1e3:>9.1f} "
            f"{r.speedup:>7.0f}x {r.ours_objective:>12.3f} {r.slsqp_objective:>12.3f} "
            f"{versus_slsqp:>+9.4%} {reference:>11} {r.ours_nodes:>6}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.optimizer", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip 200 channels and multi-start")
    parser.add_argument("--no-gate", action="store_true", help="always exit 0")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--starts", type=int, default=6, help="random SLSQP starts per case")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    starts = 0 if args.quick else args.starts
    with single_threaded_blas() as pinned:
        print(f"OpenBLAS pinned to 1 thread in {pinned} libraries for the SLSQP baseline")
        results = run(sizes, args.seed, starts)
    if starts:
        print(
            f"best reference: SLSQP from the even split, from our allocation and from {starts} "
            f"random splits ({(starts + 1) // 2} at 200 channels)"
        )
    report(results)
    missed = missed_targets(results)
    for line in missed:
        print(f"target missed: {line}")
    if not missed:
        print("all targets met")
    return 1 if missed and not args.no_gate else 0


if __name__ == "__main__":
    sys.exit(main())
