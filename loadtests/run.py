"""Run one role's Locust scenario headless against a URL and apply the gates.

Runs in its own process (``python -m loadtests.run``): Locust monkeypatches the standard
library with gevent on import, which must not happen inside the server or the test runner.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from loadtests.gates import Gates, RunSummary, judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", help="scenario module under loadtests/, e.g. kv")
    parser.add_argument("host", help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--p95-ms", type=float, default=500)
    parser.add_argument("--p99-ms", type=float, default=1000)
    parser.add_argument("--max-error-rate", type=float, default=0.01)
    parser.add_argument("--min-rps", type=float, default=0)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)

    import gevent
    from locust.env import Environment
    from locust.user.users import User

    module = importlib.import_module(f"loadtests.{args.role}")
    users = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, User)
        and value.__module__ == module.__name__
    ]
    environment = Environment(user_classes=users, host=args.host)
    runner = environment.create_local_runner()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    gevent.sleep(args.seconds)
    runner.quit()
    total = environment.stats.total
    summary = RunSummary(
        requests=total.num_requests,
        failures=total.num_failures,
        rps=total.total_rps,
        p50_ms=total.get_response_time_percentile(0.5) or 0.0,
        p95_ms=total.get_response_time_percentile(0.95) or 0.0,
        p99_ms=total.get_response_time_percentile(0.99) or 0.0,
    )
    gates = Gates(args.p95_ms, args.p99_ms, args.max_error_rate, args.min_rps)
    missed = judge(summary, gates)
    if args.json:
        print(json.dumps({**summary.__dict__, "error_rate": summary.error_rate, "missed": missed}))
    else:
        print(
            f"{summary.requests} requests, {summary.failures} failed, {summary.rps:.0f} req/s, "
            f"p50 {summary.p50_ms:.0f} ms, p95 {summary.p95_ms:.0f} ms, p99 {summary.p99_ms:.0f} ms"
        )
        for line in missed:
            print(f"GATE MISSED: {line}")
        if not missed:
            print("all gates passed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
