"""Atlas budget optimizer against SciPy, all measured in this run.

For 2, 5, 20, 50 and 200 channels with seeded random curves (a quarter each of concave Hill,
power, S-shaped Hill and logistic) and a budget in the range where S-curves matter, it times
our solver against the baseline, SciPy SLSQP done properly: budget and response normalised to
about 1 (spend as a share of the budget, response as a share of the even split's), analytic
gradient, ``ftol`` 1e-9, started from an even split. SLSQP in raw currency units with default
tolerances (the old baseline, several times slower at 50 channels) is printed for reference,
not gated. Objectives are compared with a multi-start reference: scaled SLSQP from several
random splits, from the even split and from our answer, keeping the best. SLSQP's iteration
count is printed beside its time: it depends on the last bits of BLAS and NumPy rounding
(at 20 channels 79-131 iterations across OpenBLAS kernels on one machine), which moves its
time several-fold between machines. Ours is also timed "cold" (channels and curves built from
their JSON form inside each call, so no per-curve constant is cached from an earlier call),
printed, not gated.

Then our solver alone: 1,000 random channels (median over seeds), and 1,000 identical S-curves
at budgets buying a few, most and all of them (each must be proven optimal).

Times are CPU seconds of this process (``time.process_time``), so work by other processes on
a shared machine disturbs them little; OpenBLAS is pinned to one thread. Each method runs in
rounds of repeated calls, interleaved with the other, and the median per-call time of the
rounds counts.

    python -m bench.optimizer [--quick] [--no-gate] [--seed 7]

``--quick`` skips 200 channels, the raw SLSQP and the multi-start reference. Targets: at least
both SLSQPs' objective on every case, within 0.01 % of the best reference, faster than the
scaled SLSQP by >= 1x at 2 and 5 channels, >= 5x at 20, >= 10x at 50, >= 200x at 200; 1,000
random channels in a median < 20 ms; 1,000 identical S-curves optimal in < 50 ms each. The
exit status is 1 when a target is missed, unless ``--no-gate``.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
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
from roost.optimizer.solver import STATUS_OPTIMAL, AllocationResult, optimize_allocation

T = TypeVar("T")

SIZES = (2, 5, 20, 50, 200)
QUICK_SIZES = (2, 5, 20, 50)
SPEEDUP_TARGETS = {2: 1.0, 5: 1.0, 20: 5.0, 50: 10.0, 200: 200.0}
MAX_GAP_VS_REFERENCE = 1e-4  # 0.01 %
# Objectives equal up to rounding count as "not worse".
ROUNDING = 1e-9
LARGE_SIZE = 1000
LARGE_SEEDS = 5
LARGE_TARGET_SECONDS = 0.020
IDENTICAL_COPIES = 1000
IDENTICAL_CURVE = HillCurve(vmax=1000.0, k=100.0, slope=3.0)
# Budgets per copy: buys a few copies, about two thirds of them, and all of them.
IDENTICAL_BUDGETS_PER_COPY = (10.0, 90.0, 150.0)
IDENTICAL_TARGET_SECONDS = 0.050
ROUNDS = 5
SECONDS_PER_ROUND = 0.05  # repeated calls per round until this much CPU time is spent


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
    raw_slsqp_seconds: float | None
    raw_slsqp_objective: float | None
    reference_objective: float | None
    ours_status: str
    ours_nodes: int
    # SLSQP's iteration count depends on the last bits of its BLAS and NumPy math (79-131 at
    # 20 channels across OpenBLAS kernels on one machine), so it is printed with its time.
    slsqp_iterations: int | None = None
    # Ours with every channel and curve built from its JSON form inside each call: no
    # per-curve constants cached from an earlier call (printed, not gated).
    ours_cold_seconds: float | None = None

    @property
    def speedup(self) -> float:
        return self.slsqp_seconds / self.ours_seconds

    @property
    def raw_speedup(self) -> float | None:
        if self.raw_slsqp_seconds is None:
            return None
        return self.raw_slsqp_seconds / self.ours_seconds

    @property
    def gap_vs_reference(self) -> float | None:
        if self.reference_objective is None:
            return None
        return (self.reference_objective - self.ours_objective) / abs(self.reference_objective)


@dataclass(frozen=True)
class SoloResult:
    """Our solver alone: a label, per-solve CPU seconds, and whether each solve was optimal."""

    label: str
    seconds: list[float]
    statuses: list[str]
    target_seconds: float
    gated_on: str  # "median" or "max"

    @property
    def gated_seconds(self) -> float:
        return statistics.median(self.seconds) if self.gated_on == "median" else max(self.seconds)


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


def scaled_slsqp(case: Case, start: FloatArray) -> FloatArray:
    """The baseline: SLSQP on spend shares of the budget and response shares of the even split's.

    With both near 1, SLSQP's default step and stopping rules fit the problem; ``ftol`` 1e-9
    asks for the objective to that relative precision. Analytic gradient, chain rule included.
    """
    return scaled_slsqp_run(case, start)[0]


def scaled_slsqp_run(case: Case, start: FloatArray) -> tuple[FloatArray, int]:
    """:func:`scaled_slsqp`'s allocation and its number of iterations."""
    batch = CurveBatch([channel.effective_curve for channel in case.channels])
    size, total = len(case.channels), case.total
    scale = float(batch.response(np.full(size, total / size)).sum())
    scale = scale if scale > 0 else 1.0

    def negative_objective(share: FloatArray) -> float:
        return -float(batch.response(total * np.maximum(share, 0.0)).sum()) / scale

    def negative_gradient(share: FloatArray) -> FloatArray:
        # The marginal of concave curves is infinite at 0; SLSQP needs finite numbers.
        marginal = np.minimum(batch.marginal(total * np.maximum(share, 1e-12)), 1e12)
        return -marginal * (total / scale)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minimize(
            negative_objective,
            np.asarray(start, dtype=np.float64) / total,
            jac=negative_gradient,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * size,
            constraints=LinearConstraint(np.ones((1, size)), 1.0, 1.0),
            options={"maxiter": 1000, "ftol": 1e-9},
        )
    return np.asarray(result.x, dtype=np.float64) * total, int(result.nit)


def raw_slsqp(case: Case, start: FloatArray) -> FloatArray:
    """The old baseline, for reference: currency units, default tolerances."""
    batch = CurveBatch([channel.effective_curve for channel in case.channels])
    size = len(case.channels)

    def negative_objective(x: FloatArray) -> float:
        return -float(batch.response(np.maximum(x, 0.0)).sum())

    def negative_gradient(x: FloatArray) -> FloatArray:
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


def cpu_per_call(function: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds per call over one round of repeated calls (at least one call)."""
    began = time.process_time()
    calls, result = 1, function()
    while (spent := time.process_time() - began) < SECONDS_PER_ROUND:
        result = function()
        calls += 1
    return spent / calls, result


def interleaved(
    first: Callable[[], T], second: Callable[[], object], rounds: int
) -> tuple[float, T, float]:
    """Median CPU seconds per call of each, rounds alternating so load hits both alike."""
    first_times, second_times = [], []
    result: T | None = None
    for _ in range(rounds):
        seconds, result = cpu_per_call(first)
        first_times.append(seconds)
        second_times.append(cpu_per_call(second)[0])
    assert result is not None
    return statistics.median(first_times), result, statistics.median(second_times)


def run_case(size: int, seed: int, starts: int, raw: bool) -> CaseResult:
    rng = np.random.default_rng(seed + size)
    case = make_case(size, rng)
    even = np.full(size, case.total / size)
    # At 200 channels one scaled SLSQP call takes about 2 s: fewer rounds keep the run short.
    rounds = ROUNDS if size < 200 else 3
    ours_seconds, ours, slsqp_seconds = interleaved(
        lambda: optimize_allocation(case.channels, case.total),
        lambda: scaled_slsqp(case, even),
        rounds,
    )
    ours_objective = objective(case, ours.allocation)
    slsqp_allocation, slsqp_iterations = scaled_slsqp_run(case, even)
    slsqp_objective = objective(case, slsqp_allocation)
    cold_seconds = statistics.median(cpu_per_call(cold_solve(case))[0] for _ in range(rounds))
    raw_seconds: float | None = None
    raw_objective: float | None = None
    if raw:
        began = time.process_time()
        raw_x = raw_slsqp(case, even)
        raw_seconds, raw_objective = time.process_time() - began, objective(case, raw_x)
    reference: float | None = None
    if starts:
        candidates = [
            ours_objective,
            slsqp_objective,
            objective(case, scaled_slsqp(case, ours.allocation)),
        ]
        candidates += [] if raw_objective is None else [raw_objective]
        for _ in range(starts):
            random_split = rng.dirichlet(np.ones(size)) * case.total
            candidates.append(objective(case, scaled_slsqp(case, random_split)))
        reference = max(candidates)
    return CaseResult(
        size=size,
        ours_seconds=ours_seconds,
        ours_objective=ours_objective,
        slsqp_seconds=slsqp_seconds,
        slsqp_objective=slsqp_objective,
        raw_slsqp_seconds=raw_seconds,
        raw_slsqp_objective=raw_objective,
        reference_objective=reference,
        ours_status=ours.status,
        ours_nodes=ours.iterations,
        slsqp_iterations=slsqp_iterations,
        ours_cold_seconds=cold_seconds,
    )


def cold_solve(case: Case) -> Callable[[], AllocationResult]:
    """Our solver on channels built from their JSON form in each call, as a fresh request."""
    documents = [channel.to_dict() for channel in case.channels]

    def solve_fresh() -> AllocationResult:
        channels = [Channel.from_dict(document) for document in documents]
        return optimize_allocation(channels, case.total)

    return solve_fresh


def run(sizes: Sequence[int], seed: int, starts: int, raw: bool = True) -> list[CaseResult]:
    # At 200 channels each SLSQP run takes seconds: half the random starts keep the run short.
    return [
        run_case(size, seed, starts if size < 200 else (starts + 1) // 2, raw) for size in sizes
    ]


def run_solo(seed: int) -> list[SoloResult]:
    large_seconds, large_statuses = [], []
    for offset in range(LARGE_SEEDS):
        case = make_case(LARGE_SIZE, np.random.default_rng(seed + LARGE_SIZE + offset))
        seconds, result = cpu_per_call(lambda case=case: solve(case))  # type: ignore[misc]
        large_seconds.append(seconds)
        large_statuses.append(result.status)
    identical = [Channel(f"region-{i}", IDENTICAL_CURVE) for i in range(IDENTICAL_COPIES)]
    identical_seconds, identical_statuses = [], []
    for per_copy in IDENTICAL_BUDGETS_PER_COPY:
        case = Case(identical, per_copy * IDENTICAL_COPIES)
        seconds, result = cpu_per_call(lambda case=case: solve(case))  # type: ignore[misc]
        identical_seconds.append(seconds)
        identical_statuses.append(result.status)
    return [
        SoloResult(
            f"{LARGE_SIZE} random channels ({LARGE_SEEDS} seeds)",
            large_seconds,
            large_statuses,
            LARGE_TARGET_SECONDS,
            "median",
        ),
        SoloResult(
            f"{IDENTICAL_COPIES} identical S-curves ({len(IDENTICAL_BUDGETS_PER_COPY)} budgets)",
            identical_seconds,
            identical_statuses,
            IDENTICAL_TARGET_SECONDS,
            "max",
        ),
    ]


def solve(case: Case) -> AllocationResult:
    return optimize_allocation(case.channels, case.total)


def missed_objective_targets(results: Sequence[CaseResult]) -> list[str]:
    missed = []
    for result in results:
        baselines = [("scaled SLSQP", result.slsqp_objective)]
        if result.raw_slsqp_objective is not None:
            baselines.append(("raw SLSQP", result.raw_slsqp_objective))
        for name, baseline in baselines:
            if result.ours_objective < baseline * (1 - ROUNDING):
                missed.append(f"{result.size} channels: objective below {name}'s")
        gap = result.gap_vs_reference
        if gap is not None and gap > MAX_GAP_VS_REFERENCE:
            missed.append(f"{result.size} channels: {gap:.4%} below the best reference")
    return missed


def missed_speed_targets(
    results: Sequence[CaseResult], solo: Sequence[SoloResult] = ()
) -> list[str]:
    missed = []
    for result in results:
        target = SPEEDUP_TARGETS.get(result.size)
        if target is not None and result.speedup < target:
            missed.append(
                f"{result.size} channels: {result.speedup:.2f}x the scaled SLSQP, "
                f"target {target:g}x"
            )
    for entry in solo:
        if entry.gated_seconds > entry.target_seconds:
            missed.append(
                f"{entry.label}: {entry.gated_on} {entry.gated_seconds * 1e3:.1f} ms, "
                f"target < {entry.target_seconds * 1e3:g} ms"
            )
        if any(status != STATUS_OPTIMAL for status in entry.statuses):
            missed.append(f"{entry.label}: not every solve proven optimal ({entry.statuses})")
    return missed


def missed_targets(results: Sequence[CaseResult], solo: Sequence[SoloResult] = ()) -> list[str]:
    return missed_objective_targets(results) + missed_speed_targets(results, solo)


def report(results: Sequence[CaseResult], solo: Sequence[SoloResult]) -> None:
    header = (
        f"{'channels':>8} {'ours ms':>8} {'slsqp ms':>9} {'speedup':>8} {'slsqp it':>8} "
        f"{'cold ms':>8} {'raw ms':>9} {'vs raw':>7} {'ours obj':>12} {'vs slsqp':>9} "
        f"{'vs raw':>9} {'gap to best':>11} {'nodes':>5}"
    )
    print(header)
    for r in results:
        versus_slsqp = (r.ours_objective - r.slsqp_objective) / abs(r.slsqp_objective)
        gap = r.gap_vs_reference
        reference = "-" if gap is None else f"{gap:.6%}"
        raw_ms = "-" if r.raw_slsqp_seconds is None else f"{r.raw_slsqp_seconds * 1e3:.1f}"
        raw_speedup = "-" if r.raw_speedup is None else f"{r.raw_speedup:.1f}x"
        versus_raw = (
            "-"
            if r.raw_slsqp_objective is None
            else f"{(r.ours_objective - r.raw_slsqp_objective) / abs(r.raw_slsqp_objective):+.4%}"
        )
        iterations = "-" if r.slsqp_iterations is None else str(r.slsqp_iterations)
        cold_ms = "-" if r.ours_cold_seconds is None else f"{r.ours_cold_seconds * 1e3:.2f}"
        print(
            f"{r.size:>8} {r.ours_seconds * 1e3:>8.2f} {r.slsqp_seconds * 1e3:>9.2f} "
            f"{r.speedup:>7.2f}x {iterations:>8} {cold_ms:>8} {raw_ms:>9} {raw_speedup:>7} "
            f"{r.ours_objective:>12.3f} {versus_slsqp:>+9.4%} {versus_raw:>9} {reference:>11} "
            f"{r.ours_nodes:>5}"
        )
    for entry in solo:
        times = ", ".join(f"{seconds * 1e3:.1f}" for seconds in entry.seconds)
        print(
            f"{entry.label}: {entry.gated_on} {entry.gated_seconds * 1e3:.1f} ms "
            f"(target < {entry.target_seconds * 1e3:g} ms; each: {times} ms; "
            f"status {', '.join(sorted(set(entry.statuses)))})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.optimizer", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="skip 200 channels, raw SLSQP and multi-start"
    )
    parser.add_argument("--no-gate", action="store_true", help="always exit 0")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--starts", type=int, default=6, help="random SLSQP starts per case")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    starts = 0 if args.quick else args.starts
    with single_threaded_blas() as pinned:
        print(f"OpenBLAS pinned to 1 thread in {pinned} libraries for the SLSQP baselines")
        print("times: CPU seconds of this process per call, median over interleaved rounds")
        results = run(sizes, args.seed, starts, raw=not args.quick)
        solo = run_solo(args.seed)
    if starts:
        print(
            f"best reference: scaled SLSQP from the even split, from our allocation and from "
            f"{starts} random splits ({(starts + 1) // 2} at 200 channels)"
        )
    report(results, solo)
    missed = missed_targets(results, solo)
    for line in missed:
        print(f"target missed: {line}")
    if not missed:
        print("all targets met")
    return 1 if missed and not args.no_gate else 0


if __name__ == "__main__":
    sys.exit(main())
