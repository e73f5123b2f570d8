"""Hostile input, table-driven, against every public role served as in production, directly
and through the project's nginx.

Each role runs under the production server configuration (``roost.core.server``: uvloop,
httptools, the request-head limits) on loopback, with a 1 s request-head timeout so that the
slow-loris case stays short. The same table then goes through Debian's nginx with the shipped
``deploy/nginx`` config adapted to loopback (``tests/support/nginx.py``), over TLS, each role
under its own host name. Requests are written on raw sockets, byte for byte, so nothing
between the test and the server cleans them up.

Every case states both answers: the role's (its documented 4xx with the JSON error envelope,
or a closed connection) and nginx's, which is either the role's answer relayed or nginx's own
refusal (its HTML 400/413/414, or a closed connection at its own timeouts) before the role sees
anything. Either way what the roles store (kv keys, image records and files, birds, models) is
the same before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import socket
import ssl
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image
from tests.support.nginx import HOSTS, Nginx, running_nginx, upstream_name
from tests.support.parallel import free_port
from tests.support.served import ServedRole, prepared_database

from roost.core.server import MAX_HEADER_BYTES, MAX_URL_BYTES
from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, Settings, load_settings
from roost.roles import build_app

ADMIN_KEY = "hostile-admin-key-0123456789abcdef"
HEAD_TIMEOUT_SECONDS = 1.0
ROLES = ("kv", "thumbnails", "birds", "bird-images", "optimizer", "frontend", "console")
ROUTES = ("direct", "nginx")
# deploy/nginx: client_header_timeout, which also bounds the TLS handshake.
NGINX_HEADER_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the server closed without answering
    headers: dict[str, str]
    body: bytes

    def error_code(self) -> str:
        envelope = orjson.loads(self.body)
        assert set(envelope["error"]) >= {"code", "message", "request_id"}, envelope
        return str(envelope["error"]["code"])


@dataclass(frozen=True)
class Target:
    """Where a request goes: a role's own port, or nginx's TLS port under the role's host."""

    port: int
    host: str = "127.0.0.1"
    tls: bool = False

    def connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if not self.tls:
            return sock
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        try:
            return context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise

    def addressed(self, raw: bytes) -> bytes:
        """``raw`` with its ``Host: 127.0.0.1`` naming this target's host instead."""
        return raw.replace(b"\r\nHost: 127.0.0.1\r\n", f"\r\nHost: {self.host}\r\n".encode(), 1)


# The connection ended: a TLS peer may close without its close_notify.
CLOSED = (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def exchange(target: Target | int, raw: bytes, timeout: float = 10.0) -> Answer:
    """Send ``raw`` as is and read the answer until the server closes the connection."""
    if isinstance(target, int):
        target = Target(target)
    with target.connect(timeout) as sock:
        # Refused mid-send (too large): the answer is already waiting.
        with contextlib.suppress(BrokenPipeError, *CLOSED):
            sock.sendall(target.addressed(raw))
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except CLOSED:
                break
            if not chunk:
                break
            received += chunk
    return parse_answer(received)


def parse_answer(received: bytes) -> Answer:
    if not received:
        return Answer(None, {}, b"")
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def raw_request(
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    all_headers = {"Content-Length": str(len(body))} if body or method in ("POST", "PUT") else {}
    all_headers.update(headers or {})
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture(scope="module")
def database(fresh_database_url: Callable[[str], str]) -> str:
    return prepared_database(fresh_database_url, "roost_hostile")


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-storage")


@pytest.fixture(scope="module")
def settings(database: str, redis_url: str, storage: Path) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    token = f"hostile{time.monotonic_ns()}"
    return load_settings(
        environment="test",
        database_url=database,
        redis_url=redis_url,
        broker_url=redis_url,
        broker_namespace=token,
        thumbnails_queue=f"{token}-thumbs",
        kv_namespace=f"{token}:",
        storage_url=(storage / "objects").as_uri(),
        api_keys=[f"ops:{ADMIN_KEY}:admin"],
        log_level="ERROR",
        access_log=False,
        **{field: dead for field in CONSOLE_PEER_URL_SETTINGS.values()},
    )


@pytest.fixture(scope="module")
def servers(settings: Settings) -> Iterator[dict[str, ServedRole]]:
    running: dict[str, ServedRole] = {}
    try:
        for role in ROLES:
            served = ServedRole(
                build_app(role, settings), header_timeout_seconds=HEAD_TIMEOUT_SECONDS
            )
            running[role] = served.__enter__()
        yield running
    finally:
        for server in running.values():
            server.__exit__()


@pytest.fixture(scope="module")
def edge(
    servers: dict[str, ServedRole], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nginx]:
    """The shipped nginx in front of every role (loopback may reach the console, as an
    operator's network would)."""
    upstreams = {upstream_name(role): [served.port] for role, served in servers.items()}
    with running_nginx(
        tmp_path_factory.mktemp("nginx"), upstreams, console_from_loopback=True
    ) as nginx:
        yield nginx


def route_to(route: str, role: str, request: pytest.FixtureRequest) -> Target:
    """How ``route`` reaches ``role``; nginx is started only for the tests that go through it."""
    if route == "direct":
        return Target(request.getfixturevalue("servers")[role].port)
    nginx: Nginx = request.getfixturevalue("edge")
    return Target(nginx.https, HOSTS[upstream_name(role)], tls=True)


def stored_state(servers: dict[str, ServedRole], storage: Path) -> dict[str, Any]:
    """Everything the roles keep, as their own read APIs and the object store show it."""

    def listing(role: str, target: str, headers: dict[str, str] | None = None) -> Any:
        answer = exchange(servers[role].port, raw_request("GET", target, headers=headers))
        assert answer.status == 200, (role, target, answer)
        return orjson.loads(answer.body)

    admin = {"X-API-Key": ADMIN_KEY}
    return {
        "kv": listing("kv", "/api/v1/kv?limit=1000")["items"],
        "images": [item["id"] for item in listing("thumbnails", "/api/v1/images")["items"]],
        "birds": [item["slug"] for item in listing("birds", "/api/v1/birds?limit=100")["items"]],
        "models": listing("optimizer", "/api/v1/models", admin)["items"],
        "files": sorted(str(path.relative_to(storage)) for path in storage.rglob("*")),
    }


@dataclass(frozen=True)
class Expect:
    """An answer through nginx that is not simply the role's."""

    status: int | None  # None: the connection closed without an answer
    code: str | None = None  # the role's envelope code, where the case names one
    by_nginx: bool = False  # nginx's own refusal (its HTML page): the role never saw it


@dataclass(frozen=True)
class Relayed:
    """Through nginx the answer is the role's, relayed unchanged."""


RELAYED = Relayed()
# nginx's own refusals, as measured with the shipped config (large_client_header_buffers at its
# default of 4 x 8k): a header line or all headers too large is 400 (its 494, shown as 400), a
# request line over 8 KiB is 414, a malformed head 400. None of them reaches the role.
# A NUL decoded from the path, or dot segments climbing above the root, are 400 there too.
NGINX_BAD_REQUEST = Expect(400, by_nginx=True)
NGINX_URI_TOO_LONG = Expect(414, by_nginx=True)
NGINX_PAYLOAD_TOO_LARGE = Expect(413, by_nginx=True)


@dataclass(frozen=True)
class Case:
    name: str
    role: str
    raw: bytes
    status: int  # the role's answer, direct
    code: str | None = None
    _: KW_ONLY
    via_nginx: Expect | Relayed

    def __str__(self) -> str:
        return self.name

    def expected(self, route: str) -> Expect:
        if route == "nginx" and isinstance(self.via_nginx, Expect):
            return self.via_nginx
        return Expect(self.status, self.code)


def _deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _gzip_bomb() -> bytes:
    """10 MB of zeros in ~10 KB: what a decoder would have to hold."""
    return gzip.compress(b"\0" * (10 * 1024 * 1024), compresslevel=9)


def _multipart(parts: int, boundary: str = "hostileboundary") -> tuple[bytes, dict[str, str]]:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{index}"\r\n\r\nx\r\n'.encode()
        for index in range(parts)
    )
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _json_request(
    method: str,
    target: str,
    body: bytes,
    *,
    admin: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if admin:
        all_headers["X-API-Key"] = ADMIN_KEY
    return raw_request(method, target, headers=all_headers, body=body)


def _bird(**changes: str) -> bytes:
    bird = {
        "name": "Hostile Robin",
        "scientific_name": "Erithacus hostilis",
        "description": "Made by the hostile input suite.",
        "region": "Nowhere",
    }
    return orjson.dumps(bird | changes)


BOMB = _gzip_bomb()
MANY_PARTS, MANY_PARTS_HEADERS = _multipart(1000)
DEEP = _deep_json(10_000)
HUGE_HEADER = {"X-Padding": "a" * (MAX_HEADER_BYTES + 1)}
LONG_PATH = "/" + "a" * (MAX_URL_BYTES + 1)
ADMIN = {"X-API-Key": ADMIN_KEY}
_PHOTO_BOUNDARY = "hostilephoto"
PHOTO_HEADERS = {"Content-Type": f"multipart/form-data; boundary={_PHOTO_BOUNDARY}"}
PHOTO_BODY = (
    (
        f"--{_PHOTO_BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    + b"x" * (3 * 1024 * 1024)
    + f"\r\n--{_PHOTO_BOUNDARY}--\r\n".encode()
)
OVERSIZED = b"x" * (3 * 1024 * 1024)
GZIP = {"Content-Encoding": "gzip"}
OVERSIZED_UPLOAD = b"x" * (30 * 1024 * 1024)


def request_head_cases() -> list[Case]:
    """What the server itself refuses, on every role."""
    cases = []
    for role in ROLES:
        cases += [
            Case(
                f"{role}: headers over the limit",
                role,
                raw_request("GET", "/healthz", headers=HUGE_HEADER),
                431,
                "headers_too_large",
                via_nginx=NGINX_BAD_REQUEST,
            ),
            Case(
                f"{role}: many headers over the limit",
                role,
                raw_request(
                    "GET",
                    "/healthz",
                    headers={f"X-H{index}": "v" * 100 for index in range(400)},
                ),
                431,
                "headers_too_large",
                via_nginx=NGINX_BAD_REQUEST,
            ),
            Case(
                f"{role}: URL over the limit",
                role,
                raw_request("GET", LONG_PATH),
                414,
                via_nginx=NGINX_URI_TOO_LONG,
            ),
            Case(
                f"{role}: not HTTP",
                role,
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n",
                400,
                "bad_request",
                via_nginx=NGINX_BAD_REQUEST,
            ),
        ]
    return cases


BODY_CASES = [
    # A body over the limit. kv: 2 MiB, the roles' default and nginx's client_max_body_size.
    # The roles taking image uploads (thumbnails, birds' photo route) allow 25 MiB and its
    # multipart framing on every route, so a 3 MiB JSON body reaches the birds parser; nginx
    # keeps 2 MiB on the birds host, and 26 MiB on the images host.
    Case(
        "kv: body over the limit",
        "kv",
        _json_request("PUT", "/api/v1/kv/big", OVERSIZED),
        413,
        "payload_too_large",
        via_nginx=NGINX_PAYLOAD_TOO_LARGE,
    ),
    Case(
        "birds: body over the limit",
        "birds",
        _json_request("POST", "/api/v1/birds", OVERSIZED, admin=True),
        400,
        "invalid_json",
        via_nginx=NGINX_PAYLOAD_TOO_LARGE,
    ),
    # A photo over 2 MiB is a legitimate upload: nginx passes it to the birds role (its own
    # photo location allows 26 MiB), which answers for the bird that does not exist.
    Case(
        "birds: 3 MiB photo upload",
        "birds",
        raw_request(
            "POST",
            "/api/v1/birds/00000000-0000-4000-8000-000000000000/photo",
            headers={**PHOTO_HEADERS, **ADMIN},
            body=PHOTO_BODY,
        ),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "thumbnails: upload over the limit",
        "thumbnails",
        raw_request("POST", "/api/v1/images", headers=MANY_PARTS_HEADERS, body=OVERSIZED_UPLOAD),
        413,
        "payload_too_large",
        via_nginx=NGINX_PAYLOAD_TOO_LARGE,
    ),
    # 10,000-deep JSON: Python's parser gives up (RecursionError); never a 500.
    Case(
        "kv: 10,000-deep JSON",
        "kv",
        _json_request("PUT", "/api/v1/kv/deep", DEEP),
        400,
        via_nginx=RELAYED,
    ),
    Case(
        "birds: 10,000-deep JSON",
        "birds",
        _json_request("POST", "/api/v1/birds", DEEP, admin=True),
        400,
        via_nginx=RELAYED,
    ),
    Case(
        "optimizer: 10,000-deep JSON",
        "optimizer",
        _json_request("POST", "/api/v1/models", DEEP, admin=True),
        400,
        via_nginx=RELAYED,
    ),
    Case(
        "console: 10,000-deep JSON sign-in",
        "console",
        _json_request("POST", "/api/login", DEEP),
        400,
        via_nginx=RELAYED,
    ),
    # A gzip body bomb: no route decodes a content coding, so none is accepted.
    Case(
        "kv: gzip body bomb",
        "kv",
        _json_request("PUT", "/api/v1/kv/bomb", BOMB, headers=GZIP),
        415,
        "unsupported_content_encoding",
        via_nginx=RELAYED,
    ),
    Case(
        "birds: gzip body bomb",
        "birds",
        _json_request("POST", "/api/v1/birds", BOMB, admin=True, headers=GZIP),
        415,
        "unsupported_content_encoding",
        via_nginx=RELAYED,
    ),
    Case(
        "thumbnails: gzip body bomb",
        "thumbnails",
        raw_request(
            "POST",
            "/api/v1/images",
            headers={**MANY_PARTS_HEADERS, "Content-Encoding": "gzip"},
            body=BOMB,
        ),
        415,
        "unsupported_content_encoding",
        via_nginx=RELAYED,
    ),
    # 1,000-part multipart: the form parser stops at the route's field limit.
    Case(
        "thumbnails: 1,000-part multipart",
        "thumbnails",
        raw_request("POST", "/api/v1/images", headers=MANY_PARTS_HEADERS, body=MANY_PARTS),
        400,
        "invalid_upload",
        via_nginx=RELAYED,
    ),
    # NUL and control characters in keys and names.
    Case(
        "kv: NUL in a key",
        "kv",
        raw_request("GET", "/api/v1/kv/a%00b"),
        400,
        "invalid_key",
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "kv: newline in a key (write)",
        "kv",
        _json_request("PUT", "/api/v1/kv/a%0Ab", b'{"value": 1}'),
        400,
        "invalid_key",
        via_nginx=RELAYED,
    ),
    Case(
        "kv: C1 control in a key (classic write)",
        "kv",
        raw_request("POST", "/write/a%C2%85b?value=x"),
        400,
        "invalid_key",
        via_nginx=RELAYED,
    ),
    Case(
        "kv: NUL in a list prefix",
        "kv",
        raw_request("GET", "/api/v1/kv?prefix=a%00"),
        400,
        "invalid_key",
        via_nginx=RELAYED,
    ),
    Case(
        "birds: NUL in a bird's name",
        "birds",
        _json_request("POST", "/api/v1/birds", _bird(name="Robin\u0000"), admin=True),
        422,
        "validation_error",
        via_nginx=RELAYED,
    ),
    Case(
        "birds: escape sequence in a description",
        "birds",
        _json_request(
            "POST", "/api/v1/birds", _bird(description="red\u001b[31m breast"), admin=True
        ),
        422,
        "validation_error",
        via_nginx=RELAYED,
    ),
    Case(
        "birds: NUL in a slug",
        "birds",
        raw_request("GET", "/api/v1/birds/bad%00slug"),
        400,
        "invalid_bird_id",
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "bird-images: NUL in a name",
        "bird-images",
        raw_request("GET", "/api/v1/images/kea%00"),
        400,
        "invalid_bird_name",
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "thumbnails: NUL in the sizes",
        "thumbnails",
        raw_request("GET", "/api/v1/images?cursor=%00"),
        400,
        "invalid_cursor",
        via_nginx=RELAYED,
    ),
    # Path traversal in every name that reaches storage or a peer. uvicorn decodes %2F before
    # routing, so most of these match no route at all (404 "no such route"). nginx decodes and
    # merges the path to pick a location: one climbing above the root is its own 400, one that
    # stays inside goes to the role as the client sent it (proxy_pass names no URI).
    Case(
        "bird-images: traversal to /etc/passwd",
        "bird-images",
        raw_request("GET", "/media/..%2F..%2F..%2Fetc%2Fpasswd"),
        404,
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "bird-images: traversal out of the photo store",
        "bird-images",
        raw_request("GET", "/media/photos/..%2F..%2Fsecrets.jpg"),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "bird-images: traversal out of the placeholders",
        "bird-images",
        raw_request("GET", "/media/placeholder/..%2F..%2Fx.svg"),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "bird-images: traversal as an uploaded photo's id",
        "bird-images",
        raw_request("GET", "/media/photos/..%2F..%2Fuploads/300"),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "thumbnails: traversal as an image id",
        "thumbnails",
        raw_request("GET", "/api/v1/images/..%2F..%2Fsources/thumbnails/150"),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "thumbnails: dot segments as an image id",
        "thumbnails",
        raw_request("GET", "/api/v1/images/..%2E/thumbnails/150"),
        400,
        "invalid_image_id",
        via_nginx=RELAYED,
    ),
    Case(
        "bird-images: dot segments as a file name",
        "bird-images",
        raw_request("GET", "/media/..%2Ejpg"),
        404,
        "image_not_found",
        via_nginx=RELAYED,
    ),
    Case(
        "thumbnails: traversal as a thumbnail size",
        "thumbnails",
        raw_request(
            "GET", "/api/v1/images/00000000-0000-0000-0000-000000000001/thumbnails/..%2F.."
        ),
        404,
        via_nginx=RELAYED,
    ),
    Case(
        "frontend: traversal out of the API proxy",
        "frontend",
        raw_request("GET", "/api/..%2F..%2Fmetrics"),
        400,
        "invalid_path",
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "frontend: traversal out of the media proxy",
        "frontend",
        raw_request("GET", "/media/%2e%2e/%2e%2e/etc/passwd"),
        400,
        "invalid_path",
        via_nginx=NGINX_BAD_REQUEST,
    ),
    Case(
        "console: traversal through the relay",
        "console",
        raw_request("GET", "/api/roles/kv/..%2F..%2Fmetrics"),
        401,
        "not_signed_in",
        via_nginx=RELAYED,
    ),
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", request_head_cases() + BODY_CASES, ids=str)
def test_hostile_request_gets_its_4xx_and_changes_nothing(
    case: Case,
    route: str,
    servers: dict[str, ServedRole],
    storage: Path,
    request: pytest.FixtureRequest,
) -> None:
    expected = case.expected(route)
    before = stored_state(servers, storage)
    answer = exchange(route_to(route, case.role, request), case.raw)
    assert answer.status == expected.status, f"{case}: {answer.status} {answer.body[:300]!r}"
    content_type = answer.headers.get("content-type", "")
    if expected.by_nginx:
        assert content_type.startswith("text/html"), answer
    elif expected.status is not None:
        assert content_type.startswith("application/json"), answer
        code = answer.error_code()
        if expected.code is not None:
            assert code == expected.code, f"{case}: {answer.body[:300]!r}"
    assert stored_state(servers, storage) == before, f"{case} changed what is stored"


SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 200
TRICKLE_INTERVAL_SECONDS = 0.1  # ~24 s for the whole head: longer than any timeout under test


def slow_loris(target: Target, give_up_after: float) -> tuple[float, Answer]:
    """Trickle a request head a byte at a time until the server answers or hangs up; the
    seconds that took from the connect (nginx's timer starts at the accept, before the TLS
    handshake) and what it answered. Fails if still connected after ``give_up_after``."""
    started = time.monotonic()
    with target.connect(give_up_after) as sock:
        received = b""
        sock.settimeout(TRICKLE_INTERVAL_SECONDS)
        for byte in target.addressed(SLOW_HEAD):
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, *CLOSED):
                break
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                assert time.monotonic() - started < give_up_after, "still connected"
                continue
            except CLOSED:
                break
            received += chunk
            if not chunk or b"\r\n\r\n" in received:
                break
        sock.settimeout(give_up_after)
        while True:
            try:
                chunk = sock.recv(4096)
            except CLOSED:
                break
            if not chunk:
                break
            received += chunk
        return time.monotonic() - started, parse_answer(received)


def silent_client(port: int, give_up_after: float) -> tuple[float, bytes]:
    """Connect and send nothing: the seconds until the server hangs up, and what it sent."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=give_up_after) as sock:
        received = sock.recv(4096)
        return time.monotonic() - started, received


@pytest.mark.parametrize("role", ROLES)
def test_slow_loris_is_cut_off_at_the_head_timeout(
    role: str, servers: dict[str, ServedRole]
) -> None:
    """A client trickling its headers a byte at a time is answered 408 and disconnected."""
    deadline = HEAD_TIMEOUT_SECONDS + 2.0
    elapsed, answer = slow_loris(Target(servers[role].port), deadline)
    assert HEAD_TIMEOUT_SECONDS * 0.9 <= elapsed < deadline, elapsed
    assert answer.status == 408, answer
    assert answer.error_code() == "request_timeout"


def test_nginx_hangs_up_on_slow_and_silent_clients_at_its_header_timeout(
    servers: dict[str, ServedRole], edge: Nginx, storage: Path
) -> None:
    """Through nginx a slow-loris client, on every host at once, and a client that never even
    starts its TLS handshake are disconnected at client_header_timeout without an answer (nginx
    answers nothing on that timeout); no role sees a request and nothing stored changes."""
    deadline = NGINX_HEADER_TIMEOUT_SECONDS + 3.0
    before = stored_state(servers, storage)
    hosts = [Target(edge.https, HOSTS[upstream_name(role)], tls=True) for role in ROLES]
    with ThreadPoolExecutor(max_workers=len(hosts) + 1) as pool:
        silent = pool.submit(silent_client, edge.https, deadline)
        slow = list(pool.map(lambda host: slow_loris(host, deadline), hosts))
        silent_elapsed, silent_received = silent.result()
    print(
        f"\nnginx header timeout: slow loris cut after "
        f"{min(e for e, _ in slow):.1f}-{max(e for e, _ in slow):.1f} s on {len(hosts)} hosts, "
        f"silent connection after {silent_elapsed:.1f} s"
    )
    for host, (elapsed, answer) in zip(hosts, slow, strict=True):
        assert NGINX_HEADER_TIMEOUT_SECONDS * 0.9 <= elapsed < deadline, (host, elapsed)
        assert answer.status is None, (host, answer)
    assert NGINX_HEADER_TIMEOUT_SECONDS * 0.9 <= silent_elapsed < deadline, silent_elapsed
    assert silent_received == b""
    assert stored_state(servers, storage) == before


@pytest.mark.parametrize("role", ["kv", "birds"])
def test_a_slow_but_steady_client_on_a_kept_alive_connection_is_served(
    role: str, servers: dict[str, ServedRole]
) -> None:
    """The head timeout is per request head: a connection reused for a second request gets
    the whole timeout again, and a head sent in time is answered."""
    with socket.create_connection(("127.0.0.1", servers[role].port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(HEAD_TIMEOUT_SECONDS / 2)  # part of the head, then the rest in time
            sock.sendall(b"\r\n")
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"}"):
                chunk = sock.recv(4096)
                assert chunk, "closed"
                received += chunk
            assert parse_answer(received).status == 200


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR (with a valid CRC) claims ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 4  # signature, chunk length
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 4 + 13]))
    data[ihdr + 4 + 13 : ihdr + 4 + 17] = struct.pack(">I", crc)
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose SOF0 frame header claims ``width`` x ``height``."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


SCRIPTED_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>fetch('/api/v1/dead-letters')</script></svg>"
)


def _upload(to: Target, file: bytes, filename: str) -> Answer:
    boundary = "hostileupload"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + file
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return exchange(to, raw_request("POST", "/api/v1/images", headers=headers, body=body))


@pytest.mark.parametrize(
    ("file", "filename", "reason"),
    [
        (SCRIPTED_SVG, "../../../../tmp/evil.svg", "unsupported_format"),
        (_png_claiming(100_000, 100_000), "bomb.png", "too_many_pixels"),
        (_jpeg_claiming(65_000, 65_000), "bomb.jpg", "too_many_pixels"),
    ],
    ids=["svg-with-script", "png-claiming-10-gigapixels", "jpeg-claiming-4-gigapixels"],
)
@pytest.mark.parametrize("route", ROUTES)
async def test_script_svg_and_pixel_bombs_are_rejected_and_nothing_is_made(
    file: bytes,
    filename: str,
    reason: str,
    route: str,
    request: pytest.FixtureRequest,
    servers: dict[str, ServedRole],
    settings: Settings,
    storage: Path,
    serve_asgi: Any,
) -> None:
    """Uploads are checked by the pipeline (202, then ``rejected`` with the reason, before any
    pixel is decoded): no thumbnail is made, and the client's file name reaches no path.
    nginx relays such uploads as they are (it looks at no body)."""
    from roost.worker import build_worker

    port = servers["thumbnails"].port
    accepted = _upload(route_to(route, "thumbnails", request), file, filename)
    assert accepted.status == 202, accepted
    image_id = orjson.loads(accepted.body)["id"]
    # The in-process worker would measure pytest itself against its memory ceiling and, past
    # it, SIGTERM the whole test run (it did, in a full `make test`).
    in_process = settings.model_copy(update={"worker_max_memory_mb": 1 << 20})
    async with serve_asgi(build_worker(in_process)):
        deadline = time.monotonic() + 30
        while True:
            status = orjson.loads(
                exchange(port, raw_request("GET", f"/api/v1/images/{image_id}")).body
            )
            if status["status"] in ("rejected", "failed", "done"):
                break
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.05)
    assert (status["status"], status["rejection_reason"]) == ("rejected", reason), status
    assert status["thumbnails"] == {}
    made = [path for path in (storage / "objects").rglob("*") if image_id in str(path)]
    assert all("thumbnails" not in path.parts for path in made), made
    assert not list(storage.rglob("evil*"))
    assert not (storage.parents[-1] / "tmp" / "evil.svg").exists()


def test_a_silent_connection_is_closed_at_the_head_timeout_without_an_answer(
    servers: dict[str, ServedRole],
) -> None:
    """Nothing asked, nothing answered: a 408 there could pass for the answer to a request
    sent at the same moment (a client reusing the connection)."""
    deadline = HEAD_TIMEOUT_SECONDS + 2.0
    elapsed, received = silent_client(servers["kv"].port, deadline)
    assert received == b""
    assert HEAD_TIMEOUT_SECONDS * 0.9 <= elapsed < deadline, elapsed
