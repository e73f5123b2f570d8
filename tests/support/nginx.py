"""Debian's nginx with the project's ``deploy/nginx`` config, adapted to loopback ports.

The one way tests put the shipped proxy in front of roles: :func:`adapted_config` moves paths,
listen ports and upstream servers to a test's folder and loopback and leaves everything else
exactly as shipped (limits, timeouts, rate-limit zones, routing); :func:`running_nginx` makes a
self-signed certificate, checks the config with ``nginx -t``, runs nginx in the foreground and
stops it gracefully when the block ends.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.conftest import REPO_ROOT
from tests.prerequisites import require_executable
from tests.support.parallel import free_port

from roost.infra.embedded import wait_for_port

NGINX_DIR = REPO_ROOT / "deploy" / "nginx"
START_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 10

# The server_name of each role's upstream in deploy/nginx/conf.d/roost.conf. The frontend's host
# also routes /api/v1/birds to the birds role.
HOSTS = {
    "roost_kv": "kv.roost.example.com",
    "roost_thumbnails": "images.roost.example.com",
    "roost_optimizer": "optimizer.roost.example.com",
    "roost_bird_images": "bird-images.roost.example.com",
    "roost_birds": "birds.roost.example.com",
    "roost_frontend": "roost.example.com",
    "roost_console": "console.roost.example.com",
}


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    https: int
    http: int
    error_log: Path

    def client(self, host: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.https}",
            headers={"Host": host},
            verify=False,  # noqa: S501 (the test's own self-signed certificate, on loopback)
            timeout=15,
        )


def upstream_name(role: str) -> str:
    """``bird-images`` → ``roost_bird_images``: the upstream block serving ``role``."""
    return "roost_" + role.replace("-", "_")


def adapted_config(
    work: Path,
    https: int,
    http: int,
    upstreams: Mapping[str, Sequence[int]],
    *,
    console_from_loopback: bool = False,
) -> Path:
    """The project's nginx.conf and conf.d/roost.conf with paths, ports and upstream servers
    moved to ``work`` and loopback; everything else exactly as shipped.

    ``upstreams`` maps an upstream name (``roost_kv``) to the ports of its replicas; an upstream
    left out points at a port nobody listens on. ``console_from_loopback`` adds loopback to the
    console's allow-list (shipped: private networks only), standing in for an operator's network.
    """
    main = (NGINX_DIR / "nginx.conf").read_text()
    main = main.replace("user www-data;\n", "")
    main = main.replace("worker_processes auto;", "worker_processes 1;")
    main = main.replace("/run/nginx.pid", str(work / "nginx.pid"))
    main = main.replace("/var/log/nginx/", f"{work}/")
    main = main.replace("/etc/nginx/tls/", f"{work}/")
    main = main.replace("/etc/nginx/conf.d/", f"{work}/conf.d/")
    sites = (NGINX_DIR / "conf.d" / "roost.conf").read_text()
    sites = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", sites)
    sites = sites.replace("listen 80 ", f"listen 127.0.0.1:{http} ")
    sites = sites.replace("listen 443 ", f"listen 127.0.0.1:{https} ")
    if console_from_loopback:
        sites, allowed = re.subn(
            r"(server_name console\.[^;]*;.*?)(\n(\s*)deny all;)",
            r"\1\n\3allow 127.0.0.0/8;\2",
            sites,
            flags=re.S,
        )
        assert allowed == 1, "the console's allow-list moved: update adapted_config"
    nowhere = free_port()  # roles the test does not start

    def servers(match: re.Match[str]) -> str:
        name, parameters = match.group(1), match.group(2)  # the shipped max_fails, fail_timeout
        ports = upstreams.get(name, [nowhere])
        lines = "".join(f"    server 127.0.0.1:{p}{parameters};\n" for p in ports)
        return f"upstream {name} {{\n{lines}"

    sites = re.sub(r"upstream (\w+) \{\n\s*server \S+((?: [^;\n]*)?);\n", servers, sites)
    unknown = set(upstreams) - set(re.findall(r"upstream (\w+) \{", sites))
    assert not unknown, f"no such upstream in deploy/nginx: {unknown}"
    (work / "conf.d").mkdir()
    (work / "conf.d" / "roost.conf").write_text(sites)
    (work / "nginx.conf").write_text(main)
    return work / "nginx.conf"


def self_signed_certificate(work: Path) -> None:
    """``roost.crt`` and ``roost.key`` in ``work``, where the adapted config looks for them."""
    openssl = require_executable("openssl", "Debian package openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=roost.example.com", "-keyout", str(work / "roost.key"), "-out",
         str(work / "roost.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


@contextmanager
def running_nginx(
    work: Path,
    upstreams: Mapping[str, Sequence[int]],
    *,
    console_from_loopback: bool = False,
) -> Iterator[Nginx]:
    """``with running_nginx(folder, {"roost_kv": [port, …]}) as nginx``: the shipped proxy on
    loopback until the block ends (SIGQUIT: graceful). The upstreams need not be up yet."""
    nginx_binary = require_executable("nginx", "Debian package nginx, `make system-deps`")
    work.mkdir(parents=True, exist_ok=True)
    https, http = free_port(), free_port()
    config = adapted_config(
        work, https, http, upstreams, console_from_loopback=console_from_loopback
    )
    self_signed_certificate(work)
    checked = subprocess.run([nginx_binary, "-t", "-c", str(config)], capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()
    with (work / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [nginx_binary, "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for_port("127.0.0.1", https, START_TIMEOUT_SECONDS)
        yield Nginx(process, https, http, work / "error.log")
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
