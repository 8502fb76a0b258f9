"""What no retry can cure fails the source at once, once, and says which setting to fix;
what a retry may cure is still retried."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from funnelhouse.ingest.http import SourceError, SourceFatal
from funnelhouse.ingest.sources import SOURCES
from tests.conftest import free_port
from tests.ingest.conftest import new_session

UNRESOLVABLE = "http://funnelhouse-test.invalid"  # .invalid never resolves (RFC 6761)


class _Canned(BaseHTTPRequestHandler):
    """Answers every request with the server's `body` and `status`, and counts them."""

    def _answer(self) -> None:
        server = self.server
        server.hits += 1  # type: ignore[attr-defined]
        body = json.dumps(server.body).encode()  # type: ignore[attr-defined]
        self.send_response(server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


def _serve(handler: type[BaseHTTPRequestHandler], **state: object) -> Iterator[ThreadingHTTPServer]:
    """A local server for one test, its handler reading `state` from the server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in state.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def canned() -> Iterator[ThreadingHTTPServer]:
    yield from _serve(_Canned, hits=0, status=200, body={})


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _fails_once(session, source: str, match: str) -> SourceFatal:
    """The first stream fails for good after one request; the others without any."""
    streams = list(SOURCES[source].streams)
    with pytest.raises(SourceFatal, match=match) as first:
        session.sync(source, streams[0])
    http = session.http(SOURCES[source])
    assert (http.stats.requests, http.stats.retries) == (1, 0)
    for stream in streams[1:]:
        with pytest.raises(SourceFatal, match="not attempted") as later:
            session.sync(source, stream)
        assert later.value.fix == first.value.fix
    assert http.stats.requests == 1
    return first.value


def test_unresolvable_host_fails_the_source_at_once(emulators, store, monkeypatch):
    monkeypatch.setenv("AMOCRM_BASE_URL", UNRESOLVABLE)
    session = new_session(store)
    err = _fails_once(session, "amocrm", "cannot resolve host 'funnelhouse-test.invalid'")
    assert "AMOCRM_BASE_URL" in err.fix
    for stream in SOURCES["amocrm"].streams:
        assert store.get_cursor("amocrm", stream) is None
    # The other sources are not affected.
    assert session.sync("uis", "calls").rows > 0


def test_untrusted_certificate_fails_at_once(emulators, store, monkeypatch, canned, tmp_path):
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    canned.socket = context.wrap_socket(canned.socket, server_side=True)
    monkeypatch.setenv("ONEC_BASE_URL", f"https://localhost:{canned.server_port}/ib/odata")
    err = _fails_once(new_session(store), "onec", "TLS refused for 'localhost'")
    assert "certificate" in str(err) and "ONEC_BASE_URL" in err.fix


@pytest.mark.parametrize(
    ("source", "env", "value", "fix"),
    [
        ("amocrm", "AMOCRM_TOKEN", "wrong-token-value", "AMOCRM_TOKEN"),
        ("uis", "UIS_ACCESS_TOKEN", "wrong-uis-token", "UIS_ACCESS_TOKEN"),  # -32001 in a 200
        ("onec", "ONEC_PASSWORD", "wrong-password", "ONEC_USER and ONEC_PASSWORD"),
    ],
)
def test_refused_credentials_fail_the_source_at_once(
    emulators, store, monkeypatch, source, env, value, fix
):
    monkeypatch.setenv(env, value)
    err = _fails_once(new_session(store), source, "refused|failed: -32001")
    assert fix in err.fix
    assert value not in str(err)


def test_refused_bitrix24_webhook_fails_at_once(emulators, store, monkeypatch):
    url = emulators.bitrix24_webhook_url.replace(emulators.credentials.bitrix24_code, "wrong")
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", url)
    err = _fails_once(new_session(store), "bitrix24", "HTTP 401 .*NO_AUTH_FOUND")
    assert "BITRIX24_WEBHOOK_URL" in err.fix


@pytest.mark.parametrize("code", ["insufficient_scope", "ACCESS_DENIED", "expired_token"])
def test_bitrix24_auth_error_in_a_200_body_fails_at_once(
    emulators, store, monkeypatch, canned, code
):
    canned.body = {"error": code, "error_description": "no"}
    url = f"http://127.0.0.1:{canned.server_port}/rest/1/c0de/"
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", url)
    err = _fails_once(new_session(store), "bitrix24", code)
    assert "scopes" in err.fix
    assert canned.hits == 1


def test_a_refused_connection_is_still_retried(emulators, store, monkeypatch):
    monkeypatch.setenv("AMOCRM_BASE_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens
    session = new_session(store)
    http = session.http(SOURCES["amocrm"])
    http.max_attempts = 3
    with pytest.raises(SourceError, match="gave up after 3 attempts") as err:
        session.sync("amocrm", "leads")
    assert not isinstance(err.value, SourceFatal)
    assert (http.stats.requests, http.stats.retries) == (3, 2)
    # A transient failure does not condemn the source: the next stream tries again.
    with pytest.raises(SourceError, match="gave up"):
        session.sync("amocrm", "pipelines")
    assert http.stats.requests == 6


class _Redirect(BaseHTTPRequestHandler):
    """Answers 307 to the server's `target`; records every body it is sent, as a thief would."""

    def _answer(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
        if server.target:  # type: ignore[attr-defined]
            self.send_response(307)
            self.send_header("Location", server.target)  # type: ignore[attr-defined]
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


def test_a_redirect_is_not_followed_with_the_credentials(emulators, store, monkeypatch):
    """A 307 makes an HTTP client send the same POST body to the new address, and UIS sends
    its token in the body: a source that redirects fails at once, naming where to."""
    servers = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
        server.bodies, server.target = [], ""  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    redirecting, thief = servers
    thief_url = f"http://127.0.0.1:{thief.server_address[1]}/steal"
    redirecting.target = thief_url  # type: ignore[attr-defined]
    try:
        monkeypatch.setenv("UIS_BASE_URL", f"http://127.0.0.1:{redirecting.server_address[1]}")
        monkeypatch.setenv("UIS_ACCESS_TOKEN", "uis-secret-token")
        session = new_session(store)
        err = _fails_once(session, "uis", "redirects to")
        assert "/steal" in str(err) and "UIS_BASE_URL" in err.fix
        assert "uis-secret-token" not in str(err)
        assert b"uis-secret-token" in redirecting.bodies[0]  # sent where configured ...
        assert thief.bodies == []  # ... and nowhere else
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_json_nested_too_deeply_fails_the_source_not_the_run(emulators, store):
    """A body of 100,000 `[` made the JSON parser raise RecursionError, which nothing caught:
    the run stopped and the sources after it never loaded."""
    from funnelhouse.ingest.http import parse_json

    http = new_session(store).http(SOURCES["uis"])
    with pytest.raises(SourceFatal, match="nested too deeply"):
        parse_json(http, "calls", _response(b"[" * 100_000))  # as a hostile source may send it


def _response(body: bytes) -> requests.Response:
    """A response with `body`, as a source may send it, for `parse_json`."""
    response = requests.Response()
    response._content, response.url = body, "http://127.0.0.1/api"
    return response


def test_a_source_paging_in_a_loop_fails_its_stream(emulators, store, monkeypatch, canned):
    """A hostile or broken source answering the same `next` on every page was read forever."""
    canned.body = {"result": [{"ID": "1", "NAME": "a"}], "next": 1, "total": 9}
    url = f"http://127.0.0.1:{canned.server_port}/rest/1/c0de/"
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", url)
    with pytest.raises(SourceError, match="does not move past 1: the source pages in a loop"):
        new_session(store).sync("bitrix24", "users")
    assert canned.hits == 2


class _Hostile(BaseHTTPRequestHandler):
    """The server's `answer(handler)` writes the whole response; `sent` counts body bytes."""

    def _answer(self) -> None:
        self.server.answer(self)  # type: ignore[attr-defined]

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def hostile() -> Iterator[ThreadingHTTPServer]:
    yield from _serve(_Hostile, sent=0)


def test_a_body_that_decompresses_past_the_cap_fails_the_source(emulators, store, hostile):
    """A gzip of a few KiB decompressed to 100 MiB in memory before anything looked at it.
    Now a body past `max_body_bytes` once decompressed fails the source without reading the
    rest; a body under it is decompressed as before."""
    import gzip

    def answer(handler: BaseHTTPRequestHandler) -> None:
        size = int(handler.path.rsplit("/", 1)[-1])
        body = gzip.compress(b"[" + b"0," * size + b"0]", 9)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    hostile.answer = answer  # type: ignore[attr-defined]
    http = new_session(store).http(SOURCES["uis"])
    http.max_body_bytes = 2**20
    base = f"http://127.0.0.1:{hostile.server_port}"
    ok = http.request("calls", "GET", f"{base}/1000")
    assert ok.json() == [0] * 1001
    with pytest.raises(SourceFatal, match=r"over 1,048,576 bytes once decompressed") as bomb:
        http.request("calls", "GET", f"{base}/{50 * 2**20}")  # 100 MiB of JSON
    assert "page size" in bomb.value.fix
    assert (http.stats.requests, http.stats.retries) == (2, 0)


# Bodies that never end, each part sent 50 ms after the last: plain bytes; deflate blocks that
# decode to nothing (urllib3 keeps reading inside one call until it has output); chunk
# trailers after the last chunk (http.client reads them all inside one call).
TRICKLES = {
    "bytes": ({"Content-Length": "100000"}, b"", b" "),
    "empty_deflate_blocks": (
        {"Content-Length": "100000", "Content-Encoding": "deflate"},
        b"\x78\x9c",
        b"\x00\x00\x00\xff\xff",
    ),
    "endless_trailers": ({"Transfer-Encoding": "chunked"}, b"1\r\n \r\n0\r\n", b"X-T: 1\r\n"),
}


@pytest.mark.parametrize("kind", TRICKLES)
def test_a_body_trickling_in_fails_within_the_body_timeout(emulators, store, hostile, kind):
    """requests applies its read timeout to each socket read: a server sending a little every
    50 ms kept a request (and the run) waiting for as long as it liked. The body now has a
    timeout as a whole: the client hangs up after 0.5 s here, not after the 600 parts the
    server would send over 30 s."""
    headers, head, part = TRICKLES[kind]

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.1"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(head)
        for _ in range(600):
            try:
                handler.wfile.write(part)
                handler.wfile.flush()
            except OSError:  # the client hung up
                return
            hostile.sent += 1  # type: ignore[attr-defined]
            threading.Event().wait(0.05)

    hostile.answer = answer  # type: ignore[attr-defined]
    http = new_session(store).http(SOURCES["uis"])
    http.body_timeout, http.max_attempts = 0.5, 1
    with pytest.raises(SourceError, match=r"gave up after 1 attempts.*took over 0\.5 s to arrive"):
        http.request("calls", "GET", f"http://127.0.0.1:{hostile.server_port}/")
    assert hostile.sent < 300  # type: ignore[attr-defined]


def test_a_1c_server_ignoring_skip_fails_the_stream(emulators, store, monkeypatch, canned):
    """An OData server that ignores $skip answers the first page again and again: the key scan
    read it forever. A page holding only keys of the page before it fails the stream."""
    keys = ("0c6b1a52-3f3a-11ee-8c6a-0242ac120002", "1d7c2b63-3f3a-11ee-8c6a-0242ac120002")
    canned.body = {"value": [{"Ref_Key": k, "DataVersion": "1", "DeletionMark": False}
                             for k in keys]}  # fmt: skip
    monkeypatch.setenv("ONEC_BASE_URL", f"http://127.0.0.1:{canned.server_port}/odata")
    monkeypatch.setenv("ONEC_PAGE_SIZE", "2")
    with pytest.raises(SourceError, match=r"page at \$skip=2 repeats the page before it"):
        new_session(store).sync("onec", "counterparties")
    assert canned.hits == 2


def test_a_uis_window_growing_while_read_fails_the_stream(emulators, store, monkeypatch, hostile):
    """UIS reports `total_items` with every page; a server raising it with every page was read
    forever. Past the API's offset limit the window fails (the limit is lowered here)."""
    from funnelhouse.ingest import uis

    def answer(handler: BaseHTTPRequestHandler) -> None:
        request = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        offset, limit = request["params"]["offset"], request["params"]["limit"]
        rows = [{"id": offset + i, "start_time": "2026-01-01 00:00:00"} for i in range(limit)]
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {
            "data": rows, "metadata": {"total_items": offset + 2 * limit}}}).encode()  # fmt: skip
        hostile.sent += 1  # type: ignore[attr-defined]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    hostile.answer = answer  # type: ignore[attr-defined]
    monkeypatch.setattr(uis, "OFFSET_CAP", 10)
    monkeypatch.setenv("UIS_BASE_URL", f"http://127.0.0.1:{hostile.server_port}")
    monkeypatch.setenv("UIS_PAGE_SIZE", "2")
    with pytest.raises(SourceError, match=r"kept growing while read \(total_items 14 at offset 12"):
        new_session(store).sync("uis", "calls")
    assert hostile.sent == 6  # offsets 0 to 10: none past the limit is asked for


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": [-Infinity]}', b'{"a": 1e999}'])
def test_a_number_json_cannot_hold_fails_the_stream(emulators, store, body):
    """Python reads NaN, Infinity and 1e999 and stored them in raw as NaN/Infinity: JSON that
    ClickHouse's JSON functions do not read, so staging saw a default where the source had sent
    garbage. The stream fails instead, naming what it read."""
    from funnelhouse.ingest.http import parse_json

    http = new_session(store).http(SOURCES["uis"])
    with pytest.raises(SourceError, match="not a finite number") as error:
        parse_json(http, "calls", _response(body))
    assert not isinstance(error.value, SourceFatal)  # the source's other streams still load
    finite = parse_json(http, "calls", _response(b'{"a": [1.5, -2e3, 0]}'))
    assert finite == {"a": [1.5, -2000.0, 0]}


@pytest.mark.parametrize(
    "key",
    ["0c6b1a52-3f3a-11ee-8c6a-0242ac120002' or DeletionMark eq true or Ref_Key eq guid'",
     {"or DeletionMark eq true": 1}],  # not even hashable: it crashed the source's step
    ids=["quoted", "object"],
)  # fmt: skip
def test_a_1c_key_that_is_no_guid_fails_the_stream(emulators, store, monkeypatch, canned, key):
    """A key from the scan goes back to the server inside `$filter=Ref_Key eq guid'<key>'`: a
    key holding a quote rewrote that filter. 1C keys are GUIDs; anything else fails the stream,
    naming the key, before any filter is sent."""
    canned.body = {"value": [{"Ref_Key": key, "DataVersion": "1", "DeletionMark": False}]}
    monkeypatch.setenv("ONEC_BASE_URL", f"http://127.0.0.1:{canned.server_port}/odata")
    with pytest.raises(SourceError, match="not a GUID") as error:
        new_session(store).sync("onec", "counterparties")
    assert "or DeletionMark eq true" in str(error.value)
    assert canned.hits == 1
