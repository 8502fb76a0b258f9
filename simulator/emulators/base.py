"""The WSGI plumbing every emulator shares: requests, responses, faults, limits, admin, stats.

An emulator subclass only says how its API authenticates, throttles, fails and answers; this
class applies faults in a fixed order (hang, slow, storms, 5xx, auth, rate limit, handler,
body corruption) and serves `/__admin/*` (clock, faults, stats, reset), which is never
throttled or faulted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from funnelhouse.simulator.emulators.faults import FaultError, FaultSet, parse
from funnelhouse.simulator.emulators.world import World

STATUS_TEXT = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    is_data: bool = False  # a successful data answer: eligible for body-corrupting faults
    throttled: bool = False  # a "slow down" answer (rate limit or storm), whatever its status


def dumps(obj: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def json_response(
    obj: Any, status: int = 200, content_type: str = "application/json", ascii_only: bool = False
) -> Response:
    return Response(status, dumps(obj, ascii_only), content_type, is_data=status == 200)


def html_page(status: int) -> Response:
    text = STATUS_TEXT.get(status, "Error")
    body = f"<html><head><title>{status} {text}</title></head><body><center><h1>{status} {text}"
    body += "</h1></center><hr><center>nginx</center></body></html>\n"
    return Response(status, body.encode(), "text/html; charset=utf-8")


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    first: float | None = None
    last: float | None = None
    requests: int = 0
    throttled: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_endpoint: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, endpoint: str, status: int, throttled: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            self.first = self.first or now
            self.last = now
            self.requests += 1
            self.throttled += throttled
            self.by_status[str(status)] += 1
            self.by_endpoint[endpoint] += 1

    def as_dict(self) -> dict[str, Any]:
        span = (self.last - self.first) if self.first and self.last else 0.0
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "by_status": dict(self.by_status),
            "by_endpoint": dict(self.by_endpoint),
            "seconds": round(span, 3),
            "requests_per_second": round(self.requests / span, 2) if span > 0 else None,
        }


class Emulator:
    """Base class: subclasses implement `endpoint`, `authorize`, `limit`, `fail` and `handle`."""

    name = "base"
    # The exporter's bulk read (in-process, never over HTTP): page-size caps are lifted so a
    # stream comes in pages of 200 000 records instead of one full scan per 50-250 rows.
    bulk = False

    def __init__(
        self, world: World, *, rate_multiplier: float = 1.0, faults: dict[str, Any] | None = None
    ):
        self.world = world
        self.rate_multiplier = rate_multiplier
        self.faults = FaultSet()
        if faults:
            self.faults.set(faults)
        self.stats = Stats()
        self.base_url = "http://127.0.0.1"
        self.stopping = threading.Event()

    # -- for subclasses ------------------------------------------------------------------
    def endpoint(self, req: Request) -> str:
        return req.path

    def authorize(self, req: Request) -> Response | None:
        return None

    def limit(self, req: Request) -> Response | None:
        return None

    def fail(self, status: int, req: Request) -> Response:
        return html_page(status)

    def handle(self, req: Request) -> Response:
        raise NotImplementedError

    def reset_limits(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {}

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        req = _request(environ)
        if req.path.startswith("/__admin"):
            resp = self._admin(req)
        else:
            resp = self._serve(req)
            self.stats.count(self.endpoint(req), resp.status, resp.throttled)
        headers = list(resp.headers)
        if resp.content_type and resp.status != 204:
            headers.append(("Content-Type", resp.content_type))
        headers.append(("Content-Length", str(len(resp.body))))
        start_response(f"{resp.status} {STATUS_TEXT.get(resp.status, 'Status')}", headers)
        return [resp.body]

    def _sleep(self, seconds: float) -> None:
        self.stopping.wait(max(0.0, float(seconds)))

    def _serve(self, req: Request) -> Response:
        f = self.faults
        if (p := f.take("timeout")) is not None:
            self._sleep(p["delay"])
        if (p := f.every("slow")) is not None:
            self._sleep(p["delay"])
        if f.take("429_storm") is not None:
            return _throttled(self.fail(429, req))
        if f.take("503_storm") is not None:
            return _throttled(self.fail(503, req))
        if f.every("server_error") is not None:
            return self.fail(500, req)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        limited = self.limit(req)
        if limited is not None:
            return _throttled(limited)
        resp = self.handle(req)
        if resp.is_data and resp.body:
            if f.every("truncated_json") is not None:
                resp.body = resp.body[: len(resp.body) // 2]
            elif f.every("malformed_json") is not None:
                mid = len(resp.body) // 2
                resp.body = resp.body[:mid] + b"\x00" + resp.body[mid:]
        return resp

    def _admin(self, req: Request) -> Response:
        action = req.path.removeprefix("/__admin").strip("/")
        try:
            body = req.json() if req.method in ("POST", "PUT") else None
        except ValueError:
            return json_response({"error": "body is not JSON"}, 400)
        w = self.world
        if action == "clock":
            if req.method == "POST":
                body = body or {}
                if "now" in body:
                    w.set_clock(body["now"])
                advance = float(body.get("advance_seconds", 0)) + 86_400 * float(
                    body.get("advance_days", 0)
                )
                if advance:
                    w.advance(int(advance))
            return json_response(w.clock_info())
        if action == "faults":
            if req.method in ("POST", "PUT"):
                try:
                    spec = body.get("faults", body) if isinstance(body, dict) else body
                    self.faults.set(parse(spec) if isinstance(spec, str) else (spec or {}))
                except FaultError as exc:
                    return json_response({"error": str(exc)}, 400)
            elif req.method == "DELETE":
                self.faults.set({})
            return json_response({"faults": self.faults.describe()})
        if action == "stats":
            if req.method == "POST":
                self.stats = Stats()
            return json_response(self.stats.as_dict())
        if action == "reset":
            self.faults.set({})
            self.stats = Stats()
            self.reset_limits()
            w.touched.clear()
            return json_response({"ok": True})
        if action in ("", "health"):
            return json_response(
                {
                    "name": self.name,
                    "clock": w.clock_info(),
                    "faults": self.faults.describe(),
                    **self.describe(),
                }
            )
        return json_response({"error": f"unknown admin action {action!r}"}, 404)


def _throttled(resp: Response) -> Response:
    resp.throttled = True
    return resp


def _request(environ: dict) -> Request:
    raw_path = environ.get("PATH_INFO", "/")
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        path = raw_path
    qs = environ.get("QUERY_STRING", "")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return Request(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        qs,
        parse_qsl(qs, keep_blank_values=True),
        headers,
        body,
    )
