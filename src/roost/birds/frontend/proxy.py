"""A small same-origin reverse proxy: the page calls ``/api`` and loads ``/media`` from its own
origin, so its CSP stays ``'self'`` and no CORS is needed.

Read-only (GET and HEAD), an allow-list of headers each way, a timeout and a size cap per
answer. The upstream's answer is read whole (pictures are tens of KiB, the cap bounds the
rest) before anything is sent, so a failing upstream always becomes one clean JSON error:
503 when it cannot be reached, 504 when it is too slow, 502 when its answer is unusable.
"""

from __future__ import annotations

import time
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import structlog
from starlette.requests import Request
from starlette.responses import Response

from roost.core.context import current_request_id
from roost.core.errors import error_response
from roost.core.metrics import UPSTREAM_REQUEST_DURATION
from roost.core.upstream import CircuitBreaker, LivenessProbe

log = structlog.get_logger("roost.birds.frontend")

# What the browser may tell the upstream, and what the upstream may tell the browser. Cookies,
# credentials, hop-by-hop and the upstream's own security headers never pass.
REQUEST_HEADERS = ("accept", "accept-language", "if-none-match", "if-modified-since")
RESPONSE_HEADERS = ("content-type", "cache-control", "etag", "last-modified", "retry-after")
_CONNECT_TIMEOUT_SECONDS = 1.0


class UpstreamAnswerTooLarge(Exception):
    pass


class ReverseProxy:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        title: str,
        timeout_seconds: float,
        max_bytes: int,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.max_bytes = max_bytes
        # Without one, every request to a black-holed upstream holds a connection for the whole
        # timeout (5 s); with it, after a few failures the rest fail at once until a trial call
        # succeeds (found by the slow-peer drill).
        self.breaker = breaker or CircuitBreaker(name)
        self._histogram = UPSTREAM_REQUEST_DURATION.labels(name)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            # retries=1 covers a connection refused while the upstream restarts.
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
            timeout=httpx.Timeout(
                timeout_seconds, connect=min(timeout_seconds, _CONNECT_TIMEOUT_SECONDS)
            ),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
            # httpx keeps cookies by default: one visitor's upstream cookie would go out with
            # every other visitor's requests. This jar accepts none.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        # The health check: core's probe, which neither waits on nor moves this breaker.
        self.ping = LivenessProbe(base_url, timeout_seconds=_CONNECT_TIMEOUT_SECONDS)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self.ping.aclose()

    async def forward(self, request: Request) -> Response:
        """Send ``request`` (its path and query unchanged) upstream and relay the answer."""
        target = request.scope.get("raw_path") or request.url.path.encode()
        # ASGI's raw_path has no query, but some servers (httpx's ASGI transport) include it.
        url = target.split(b"?", 1)[0].decode("latin-1")
        if request.url.query:
            url = f"{url}?{request.url.query}"
        if not self.breaker.allow():
            return self._failed(
                503, "dependency_unavailable", "is unavailable right now", "circuit open"
            )
        started = time.perf_counter()
        try:
            status, headers, body = await self._send(request, url)
        except httpx.ConnectError as error:
            self.breaker.record_failure()
            return self._failed(503, "dependency_unavailable", "is unavailable right now", error)
        except httpx.TimeoutException as error:
            self.breaker.record_failure()
            code, message = (
                (503, "dependency_unavailable")
                if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout)
                else (504, "gateway_timeout")
            )
            return self._failed(code, message, "did not answer in time", error)
        except (httpx.HTTPError, UpstreamAnswerTooLarge) as error:
            self.breaker.record_success()  # it answered: reachable, just not usable
            return self._failed(502, "bad_gateway", "sent an answer we cannot use", error)
        finally:
            self._histogram.observe(time.perf_counter() - started)
        if status >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return Response(body, status_code=status, headers=headers)

    async def _send(self, request: Request, url: str) -> tuple[int, dict[str, str], bytes]:
        headers = {name: value for name in REQUEST_HEADERS if (value := request.headers.get(name))}
        # Uvicorn already resolved the client through trusted proxies: pass on that address.
        if request.client is not None:
            headers["X-Forwarded-For"] = request.client.host
        headers["X-Forwarded-Proto"] = request.url.scheme
        headers["Accept-Encoding"] = "identity"  # relayed byte for byte
        if request_id := current_request_id():
            headers["X-Request-ID"] = request_id
        async with self._client.stream(request.method, url, headers=headers) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise UpstreamAnswerTooLarge(f"{declared} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.max_bytes:
                    raise UpstreamAnswerTooLarge(f"over {self.max_bytes} bytes")
                chunks.append(chunk)
            relayed = {
                name: value for name in RESPONSE_HEADERS if (value := response.headers.get(name))
            }
            return response.status_code, relayed, b"".join(chunks)

    def _failed(self, status: int, code: str, what: str, error: Exception | str) -> Response:
        log.warning("proxy_upstream_failed", upstream=self.name, status=status, error=repr(error))
        message = f"{self.title} {what}. Try again in a moment."
        headers = {"Retry-After": "5"} if status == 503 else None
        return error_response(status, code, message, headers=headers)
