"""The HTTP layer every source shares: timeouts, rate limiting, retries, and safe errors.

A source module describes *what* its API says when it wants the client to slow down (amoCRM's
non-JSON 429, Bitrix24's 503 QUERY_LIMIT_EXCEEDED, UIS's -32029 in a 200 body); this module
decides *how* to wait and retry, and makes sure no secret reaches a log line or an exception.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import queue
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from funnelhouse.ingest.secrets import RedactingFilter, Redactor
from funnelhouse.ingest.secrets import redact_url as redact_url

log = logging.getLogger(__name__)
# urllib3 logs every request line (the path holds a Bitrix24 webhook's code) at DEBUG.
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())


class SourceError(RuntimeError):
    """A failure that names source, stream and, where known, the record and field."""

    def __init__(self, source: str, stream: str, message: str, *, record: str | None = None):
        where = f"{source}/{stream}" + (f" record {record}" if record else "")
        super().__init__(f"{where}: {message}")
        self.source, self.stream, self.record, self.detail = source, stream, record, message


class SourceFatal(SourceError):
    """What no retry can cure: the host does not resolve, TLS is refused, the credentials
    are refused. The whole source stops at once; `fix` names the setting to change."""

    def __init__(self, source: str, stream: str, message: str, *, fix: str):
        super().__init__(source, stream, f"{message} — {fix}")
        self.reason, self.fix = message, fix

    def for_stream(self, stream: str) -> SourceFatal:
        """The same failure, reported for a stream that was therefore not attempted."""
        return SourceFatal(
            self.source, stream, f"not attempted: {self.source}/{self.stream} failed: "
            f"{self.reason}", fix=self.fix,
        )  # fmt: skip


class RetryableResponse(Exception):
    """The API asked us to come back later (rate limit, overload, transient 5xx, bad body)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Limiter(Protocol):
    def acquire(self) -> float: ...

    def penalise(self, seconds: float) -> None: ...


class RateLimiter:
    """Token bucket: `rate` requests per second on average, at most `burst` at once.

    Set to each API's documented rate so that a backfill runs at the allowed speed instead of
    bouncing off the limit.
    """

    def __init__(self, rate: float, burst: int = 1):
        self.rate = rate
        self.capacity = float(max(burst, 1))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as needed; returns the seconds slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            time.sleep(wait)
        return wait

    def penalise(self, seconds: float) -> None:
        """After a "slow down" answer, hold every caller back for `seconds`."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.rate)


class WindowLimiter:
    """At most `limit` requests in any `window` seconds, counted on send times.

    For APIs that count requests in a sliding window (amoCRM: 7 in any second). Unlike a
    token bucket paced at the average rate, it makes up for time lost while the caller was
    busy (a write, a slow reply) without ever putting `limit + 1` requests into one window.
    The server counts arrivals, which jitter: `window` should exceed the API's by a margin.
    """

    def __init__(self, limit: int, window: float):
        self.limit = max(int(limit), 1)
        self.window = window
        self._sent: deque[list[float]] = deque(maxlen=self.limit)  # [send time] per request
        self._hold = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Reserve the next free slot, sleeping until it comes; returns the seconds slept."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._hold)
            if len(self._sent) == self.limit:
                at = max(at, self._sent[0][0] + self.window)
            slot = [at]
            self._sent.append(slot)
        if at > now:
            time.sleep(at - now)
            # A thread can wake late (the GIL, the scheduler): count from when it really goes.
            with self._lock:
                slot[0] = max(slot[0], time.monotonic())
        return max(at - now, 0.0)

    def penalise(self, seconds: float) -> None:
        """After a "slow down" answer, hold every caller back for `seconds`."""
        with self._lock:
            self._hold = max(self._hold, time.monotonic() + seconds)


@dataclass
class CallStats:
    requests: int = 0
    retries: int = 0
    throttled_seconds: float = 0.0
    bytes_received: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        """Add to the counters; a source may have a request in flight on another thread."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled_seconds": round(self.throttled_seconds, 2),
            "bytes_received": self.bytes_received,
            "seconds": round(time.monotonic() - self.started, 2),
        }


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


@dataclass
class HttpSource:
    """One source system's endpoint: base URL, auth, limits and how it says "slow down".

    `classify` inspects a response and raises RetryableResponse for answers worth retrying,
    or returns normally; anything it lets through with a 4xx/5xx status is a hard failure.
    """

    source: str
    base_url: str
    rate: Limiter
    session: requests.Session = field(default_factory=requests.Session)
    secrets: tuple[str, ...] = ()
    timeout: tuple[float, float] = (10.0, 120.0)  # connect; each read (the headers' too)
    body_timeout: float = 600.0  # the whole body, once the headers are in
    # No page of these APIs comes near it; a body past it (a gzip of a few KiB can decompress
    # to gigabytes) fails the source instead of the run's memory.
    max_body_bytes: int = 256 * 2**20
    max_attempts: int = 8
    max_retry_seconds: float = 600.0
    backoff_base: float = 0.5
    backoff_max: float = 60.0  # also caps how long an API's own "come back in N s" is honoured
    classify: Callable[[requests.Response], None] | None = None
    stats: CallStats = field(default_factory=CallStats)
    url_var: str = ""  # the setting holding the address, named when the host is wrong
    auth_fix: str = "check the credentials in the environment"  # when they are refused

    def __post_init__(self) -> None:
        self._redactor = Redactor(self.secrets)

    def redact(self, text: str) -> str:
        """`text` with every spelling of this source's secrets and any URL credentials masked."""
        return self._redactor(text)

    def fatal(self, stream: str, message: str, fix: str) -> SourceFatal:
        return SourceFatal(self.source, stream, self.redact(message), fix=self.redact(fix))

    def request(self, stream: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send with rate limiting and retries; return the final successful response."""
        url = (
            path if path.startswith("http") else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        )
        kwargs.setdefault("timeout", self.timeout)
        # A redirect is not followed: a 307/308 would carry the body (UIS sends its token in
        # it) to whatever host the response names.
        kwargs["allow_redirects"] = False

        def attempt() -> requests.Response:
            self.stats.add(throttled_seconds=self.rate.acquire(), requests=1)
            try:
                response = self.session.request(method, url, stream=True, **kwargs)
                self._read_body(stream, url, response)
            except requests.RequestException as exc:
                unfixable = _unfixable(exc, url)
                if unfixable:
                    raise self.fatal(stream, unfixable, self._fix_address()) from None
                if isinstance(exc, requests.ConnectionError | requests.Timeout):
                    raise RetryableResponse(f"{type(exc).__name__}: {exc}") from None
                raise self.fatal(
                    stream, f"{type(exc).__name__}: {exc}", self._fix_address()
                ) from None
            self.stats.add(bytes_received=len(response.content))
            if response.is_redirect:
                target = _path(response.headers.get("Location", "?"))
                raise self.fatal(
                    stream,
                    f"HTTP {response.status_code} from {_path(url)}: the API redirects to "
                    f"{target}; credentials are not sent after a redirect",
                    f"set {self.url_var or f'the {self.source} base URL'} to the address the API "
                    "answers on (https, the final host)",
                )
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = retry_after_seconds(response)
                if self.classify:
                    self.classify(response)  # may raise a more precise RetryableResponse
                raise RetryableResponse(
                    f"HTTP {response.status_code}: {response.text[:200]}", retry_after
                )
            if self.classify:
                self.classify(response)
            return response

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableResponse),
            stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_retry_seconds),
            wait=self._wait,
            before_sleep=lambda state: self._before_sleep(stream, state),
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except RetryableResponse as exc:
            raise SourceError(
                self.source,
                stream,
                self.redact(
                    f"gave up after {self.max_attempts} attempts on {method} {_path(url)}: {exc}. "
                    "The API kept refusing or failing; check its status and rate limits, "
                    "then rerun: the cursor has not moved."
                ),
            ) from None
        if response.status_code in (401, 403):
            raise self.fatal(
                stream,
                f"HTTP {response.status_code} on {method} {_path(url)}: {response.text[:300]}"
                " — the credentials were refused",
                self.auth_fix,
            )
        if response.status_code >= 400:
            raise SourceError(
                self.source,
                stream,
                self.redact(
                    f"HTTP {response.status_code} on {method} {_path(url)}: {response.text[:300]}"
                    + _hint(response.status_code)
                ),
            )
        return response

    def _read_body(self, stream: str, url: str, response: requests.Response) -> None:
        """Read the body into `response`, decompressed, within `max_body_bytes` and within
        `body_timeout` as a whole. requests applies its read timeout to each socket read, and a
        server sending a byte now and then (or compressed blocks that decode to nothing, or
        chunk trailers without end) held the run forever: a timer shuts the socket down when
        the time is up, which ends any read under way."""
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        expired = threading.Event()

        def hang_up() -> None:
            expired.set()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        def too_slow(size: int) -> RetryableResponse:
            return RetryableResponse(
                f"the response from {_path(url)} took over {self.body_timeout:g} s to arrive "
                f"({size:,} bytes so far)"
            )

        watchdog = threading.Timer(self.body_timeout, hang_up)
        watchdog.daemon = True
        watchdog.start()
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(2**16, decode_content=True):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise self.fatal(
                        stream,
                        f"the response from {_path(url)} is over {self.max_body_bytes:,} bytes "
                        "once decompressed",
                        "no page of this API is so large: check what answers at "
                        f"{self.url_var or f'the {self.source} base URL'}, or lower the "
                        "source's page size",
                    )
                if expired.is_set():
                    raise too_slow(size)
                chunks.append(chunk)
            if expired.is_set():  # the shutdown may read as the end of the body
                raise too_slow(size)
        except (SourceFatal, RetryableResponse):
            response.close()
            raise
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            response.close()  # a broken transfer, a bad encoding, a socket read timing out
            if expired.is_set():
                raise too_slow(size) from None
            raise requests.ConnectionError(
                f"reading the body: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            watchdog.cancel()
        response._content = b"".join(chunks)  # what requests itself stores once read
        response._content_consumed = True
        response.close()  # returns the connection to the pool: the body was read to its end

    def _fix_address(self) -> str:
        where = self.url_var or f"the {self.source} base URL"
        return f"check the host in {where} (and the network's DNS / the server's certificate)"

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        backoff = min(self.backoff_max, self.backoff_base * 2 ** (state.attempt_number - 1))
        if hinted is not None:
            hinted = min(hinted, self.backoff_max)
            self.rate.penalise(hinted)
            return hinted
        return backoff

    def _before_sleep(self, stream: str, state: RetryCallState) -> None:
        self.stats.add(retries=1)
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s/%s: retry %d after %s",
            self.source, stream, state.attempt_number, self.redact(str(exc))[:200],
        )  # fmt: skip


def _path(url: str) -> str:
    """The URL without its query string (filters, sometimes tokens) or credentials."""
    return redact_url(url)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: requests → urllib3 MaxRetryError.reason → socket/ssl errors."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
                 if isinstance(x, BaseException)]  # fmt: skip


def _unfixable(exc: BaseException, url: str) -> str | None:
    """Why a request can never succeed as configured, or None when a retry may help.

    A name that does not resolve and a certificate that does not verify (or names another
    host) stay so for the minutes a retry loop lasts; resets, refusals and timeouts do not.
    """
    host = requests.utils.urlparse(url).hostname or "?"
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            temporary = cause.errno == socket.EAI_AGAIN
            why = "the DNS server did not answer" if temporary else "no such host"
            return f"cannot resolve host {host!r} ({why})"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS refused for {host!r}: {cause.verify_message or cause.reason}"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema |
                  requests.exceptions.MissingSchema):  # fmt: skip
        return f"invalid URL: {exc}"
    return None


def _hint(status: int) -> str:
    if status == 404:
        return " — the endpoint or entity does not exist: check the base URL and entity name."
    return ""


class _NotFinite(ValueError):
    """A number JSON cannot hold: Python reads NaN, Infinity and 1e999 and would store them in
    raw as NaN/Infinity, which no JSON reader (ClickHouse's included) reads back."""


def _refuse_constant(token: str) -> float:
    raise _NotFinite(token)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotFinite(text)
    return value


def parse_json(source: HttpSource, stream: str, response: requests.Response) -> Any:
    """JSON body, or a retryable error: a truncated body is usually a broken transfer. The
    bytes are decoded as JSON says (UTF-8, -16 or -32, detected): none of these APIs sends
    another charset."""
    try:
        return json.loads(response.content, parse_constant=_refuse_constant, parse_float=_finite)
    except _NotFinite as exc:
        raise SourceError(
            source.source,
            stream,
            f"JSON from {_path(response.url)} holds {str(exc)[:40]!r}, not a finite number; "
            "nothing was written for this stream and its cursor has not moved",
        ) from None
    except RecursionError:
        raise source.fatal(
            stream,
            f"JSON from {_path(response.url)} is nested too deeply to parse",
            "check what answers at that address: no API of this source nests so deep",
        ) from None
    except (ValueError, json.JSONDecodeError) as exc:
        raise RetryableResponse(
            f"malformed JSON from {_path(response.url)} ({len(response.content)} bytes): {exc}"
        ) from None


def request_json(
    source: HttpSource, stream: str, method: str, path: str, **kwargs: Any
) -> tuple[requests.Response, Any]:
    """`request` + `parse_json`, retrying malformed bodies like any transient failure."""
    last: Exception | None = None
    for _ in range(source.max_attempts):
        response = source.request(stream, method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return response, None
        try:
            return response, parse_json(source, stream, response)
        except RetryableResponse as exc:
            last = exc
            source.stats.add(retries=1)
            time.sleep(min(source.backoff_max, source.backoff_base))
    raise SourceError(source.source, stream, source.redact(f"gave up: {last}"))


T = TypeVar("T")
_END = object()


class Background(Generic[T]):
    """`fn()` started now on a daemon thread; `result()` waits for its value or raises its
    exception. A caller that never asks (it failed meanwhile) is not held up by it."""

    def __init__(self, fn: Callable[[], T]):
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # handed over to result()
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name="background", daemon=True).start()

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield `items` while a worker thread already fetches the next `depth` of them.

    A sequential reader otherwise leaves the API idle while the caller parses and writes each
    page, and a rate limiter cannot give that time back. Order is kept; an exception of the
    worker is raised here; a reader that stops early leaves the worker to finish its current
    request and exit (a daemon thread: it never holds up the process).
    """
    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                ready.put((item, None))
                if stop.is_set():
                    return
            ready.put((_END, None))
        except BaseException as exc:  # handed over to the reader
            ready.put((_END, exc))

    threading.Thread(target=work, name="prefetch", daemon=True).start()
    try:
        while True:
            item, exc = ready.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # make room for the one page a busy worker may still hand over
                ready.get_nowait()


def chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
