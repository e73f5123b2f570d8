"""``make bench``: every benchmark, each printing ratios against baselines from the same run."""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHMARKS = ("kv_http", "thumbnails", "optimizer")


def main() -> int:
    failures = []
    for name in BENCHMARKS:
        if importlib.util.find_spec(f"bench.{name}") is None:
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        if module.main(sys.argv[1:]) != 0:
            failures.append(name)
    if failures:
        print(f"\ntargets missed in: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
