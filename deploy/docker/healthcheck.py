#!/usr/bin/env python3
"""Container health check for any roost role: GET http://127.0.0.1:<port><path>, exit 0 or 1.

The image runs every role, so the port is read from the role's own command line (process 1,
``roost serve <role> [--port N]`` or ``roost worker``) and looked up in ``ROLE_PORTS``, the
same table ``roost serve`` uses; ``ROOST_HEALTHCHECK_PORT`` overrides it. The table is read
from the settings module's source, not imported: importing it pulls in pydantic (~1 s of CPU),
and under load that overran the HEALTHCHECK's 3 s timeout.

A role bound to a loopback address (``--host 127.0.0.1``) is unhealthy: this check would reach
it, nothing outside the container could.

    roost-healthcheck                 # liveness: /healthz
    roost-healthcheck --path /readyz  # readiness (compose uses it for depends_on)
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


class UnknownPort(Exception):
    """The command line names no role this check knows how to reach."""


def port_from_command(argv: Sequence[str], role_ports: Mapping[str, int]) -> int:
    """The port ``roost serve``/``roost worker`` listens on for this command line."""
    explicit = _option_value(argv, "--port")
    if explicit is not None:
        return int(explicit)
    if "serve" in argv:
        position = list(argv).index("serve") + 1
        role = argv[position] if position < len(argv) else ""
        if role in role_ports:
            return role_ports[role]
        raise UnknownPort(f"unknown role {role!r}")
    if "worker" in argv:
        return role_ports["worker"]
    raise UnknownPort(f"not a roost serve/worker command: {' '.join(argv)!r}")


def loopback_only_host(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The host ``roost serve`` binds when it is a loopback one, else None.

    This check calls 127.0.0.1, which answers even when nothing outside the container can
    connect: a role bound to loopback must read as unhealthy, not healthy.
    """
    host = _option_value(argv, "--host")
    if host is None:
        if "worker" in argv:
            return None  # the worker's health server binds 0.0.0.0 unless told otherwise
        host = environ.get("ROOST_HOST", "127.0.0.1")  # what `roost serve` falls back to
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    return host if loopback else None


def _option_value(argv: Sequence[str], name: str) -> str | None:
    for index, argument in enumerate(argv):
        if argument == name and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def role_ports() -> dict[str, int]:
    """``roost.core.settings.ROLE_PORTS``, a literal read from the module's source."""
    spec = importlib.util.find_spec("roost.core.settings")
    if spec is None or spec.origin is None:
        raise UnknownPort("roost.core.settings is not installed")
    for node in ast.parse(Path(spec.origin).read_text()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            names = {target.id for target in targets if isinstance(target, ast.Name)}
            if "ROLE_PORTS" in names and node.value is not None:
                ports: dict[str, int] = ast.literal_eval(node.value)
                return ports
    raise UnknownPort("no ROLE_PORTS literal in roost.core.settings")


def main_command_line() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


def check(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http to localhost)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", default="/healthz", choices=["/healthz", "/readyz"])
    parser.add_argument("--timeout", type=float, default=2.0)
    options = parser.parse_args(argv)

    command = main_command_line()
    loopback = loopback_only_host(command, os.environ)
    if loopback is not None:
        print(
            f"healthcheck: listening on {loopback} only, unreachable from outside", file=sys.stderr
        )
        return 1
    override = os.environ.get("ROOST_HEALTHCHECK_PORT")
    if override:
        port = int(override)
    else:
        try:
            port = port_from_command(command, role_ports())
        except UnknownPort as error:
            print(f"healthcheck: {error}", file=sys.stderr)
            return 1
    return 0 if check(f"http://127.0.0.1:{port}{options.path}", options.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
