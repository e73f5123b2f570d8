"""Locust scenarios (one module per role) and the perf gates `roost loadtest` applies."""
