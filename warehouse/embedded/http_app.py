"""The ClickHouse HTTP interface as a WSGI application over the chDB engine.

Clients (clickhouse-connect, dbt-clickhouse, GX via SQLAlchemy, BI tools) cannot tell it from a
server: the same URL parameters, headers, compression, sessions, error bodies and statuses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import parse_qsl

import lz4.frame
import zstandard

from funnelhouse.warehouse.embedded import external_tables
from funnelhouse.warehouse.embedded.arrow_stream import ArrowStreamJoiner
from funnelhouse.warehouse.embedded.body_decoding import decoded_body
from funnelhouse.warehouse.embedded.engine import (
    ENGINE_ERRORS,
    Engine,
    Session,
    apply_settings,
    check_setting_names,
    engine_error,
    run,
)
from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.form_data import FormData, is_form_data, read_form_data
from funnelhouse.warehouse.embedded.host_files import UserFiles
from funnelhouse.warehouse.embedded.insert_budget import InsertBudget, insert_budget_bytes
from funnelhouse.warehouse.embedded.native_compression import NativeBlockReader
from funnelhouse.warehouse.embedded.output_formats import (
    WITH_PROGRESS_FORMATS,
    ProgressRows,
    content_type,
    needs_whole_result,
)
from funnelhouse.warehouse.embedded.query_policy import (
    LITERAL_VALUES,
    QueryPolicy,
    backquote,
    with_current_user,
    without_format_clause,
)
from funnelhouse.warehouse.embedded.request_limits import (
    LimitedReader,
    Readable,
    data_too_large,
    foreign_origin,
    max_data_bytes,
    query_size_limit,
    query_too_large,
)
from funnelhouse.warehouse.embedded.sql_text import (
    InsertWithData,
    assigned_settings,
    decode_sql,
    encode_sql,
    first_keyword,
    output_format,
    split_insert,
    split_values_insert,
)
from funnelhouse.warehouse.embedded.sql_users import CreateUser, DropUser, parse_user_statement
from funnelhouse.warehouse.embedded.stream_exception import TAG_HEADER, exception_block, new_tag
from funnelhouse.warehouse.embedded.users import AuthenticationFailed, User, Users

log = logging.getLogger(__name__)
# A server's `default_session_timeout` and `max_session_timeout` (seconds).
DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 3600

# URL parameters the HTTP handler consumes itself; every other one is a query setting.
HTTP_PARAMS = frozenset(
    {
        "query", "database", "default_format", "query_id", "session_id", "session_timeout",
        "session_check", "user", "password", "quota_key", "compress", "decompress",
        "buffer_size", "wait_end_of_query", "role", "stacktrace", "client_protocol_version",
    }
)  # fmt: skip
# Settings the parser reads: they apply before the endpoint parses a query to check it.
PARSER_SETTINGS = frozenset(
    {
        "max_query_size", "max_parser_depth", "max_parser_backtracks", "dialect",
        "implicit_select", "allow_settings_after_format_in_insert",
    }
)  # fmt: skip
# URL settings that clients send with every request of a session (dbt-clickhouse and
# clickhouse-connect: the same values each time) and that change neither how a statement
# parses nor what the access check's own queries return. A session leaves them applied after a
# request and sets them back only before a request that sends another value or none: setting
# and restoring them cost two of the five or so engine queries of each dbt request.
STICKY_SETTINGS = frozenset(
    {
        "date_time_input_format", "cast_string_to_dynamic_use_inference", "mutations_sync",
        "lightweight_deletes_sync", "alter_sync", "insert_distributed_sync",
        "cancel_http_readonly_queries_on_client_close", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", *LITERAL_VALUES,
    }
)  # fmt: skip
# Statements that produce a result set: only their responses name a format (clients tell a
# command's empty result from a summary by the X-ClickHouse-Format header).
_RESULT_STATEMENTS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "CHECK"}
)
_INSERT_CHUNK = 4 << 20
# How chDB's streaming API reports an engine error whose message is not UTF-8.
_UNREADABLE_MESSAGE = "codec can't decode"
_TRUE = frozenset({"1", "true", "True"})


@dataclass
class Request:
    method: str
    params: dict[str, str]
    settings: dict[str, str]
    query_params: dict[str, str]
    user: User
    headers: dict[str, str]
    body: LimitedReader
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    body_length: int | None = None  # bytes of an uncompressed body; None when compressed
    form: FormData | None = None  # a multipart/form-data body: fields and external tables
    exception_tag: str = field(default_factory=new_tag)  # marks an error after streaming began

    @property
    def readonly(self) -> int:
        # A GET may only read, as on a real server.
        return 2 if self.method == "GET" else 0


@dataclass
class Stats:
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    result_rows: int = 0
    result_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)

    def progress(self, event: dict[str, int]) -> None:
        # The engine's progress callback: cumulative and complete by the stream's end, where
        # a streamed chunk's own read statistics may miss reads counted after it was cut.
        self.read_rows = max(self.read_rows, event.get("read_rows", 0))
        self.read_bytes = max(self.read_bytes, event.get("read_bytes", 0))

    def add(self, result: Any) -> None:
        # A chunk's storage reads are those counted when chDB cut it: a lower bound that
        # `progress` completes; result rows are the chunk's own.
        self.read_rows = max(self.read_rows, result.storage_rows_read())
        self.read_bytes = max(self.read_bytes, result.storage_bytes_read())
        self.result_rows += result.rows_read()

    def header(self) -> str:
        return json.dumps(
            {
                "read_rows": str(self.read_rows),
                "read_bytes": str(self.read_bytes),
                "written_rows": str(self.written_rows),
                "written_bytes": str(self.written_bytes),
                "total_rows_to_read": str(self.read_rows),
                "result_rows": str(self.result_rows),
                "result_bytes": str(self.result_bytes),
                "elapsed_ns": str(int((time.perf_counter() - self.started) * 1e9)),
            }
        )


@dataclass
class _Held:
    """A request's connection, the names of its settings a previous request of its session
    left applied with the values this one sends (STICKY_SETTINGS), and whether the request's
    own settings were all applied (only then may they stay applied after it; the request's
    ExitStack closes its contexts without telling them of an error)."""

    conn: Any
    in_place: frozenset[str]
    applied: bool = False


class EndpointApp:
    def __init__(
        self,
        engine: Engine,
        users: Users,
        user_files: UserFiles,
        display_name: str = "funnelhouse-embedded",
    ):
        self.engine = engine
        self.users = users
        self.display_name = display_name
        self.policy = QueryPolicy(run, user_files)
        self.max_data_bytes = max_data_bytes()
        self.insert_budget = InsertBudget(insert_budget_bytes(self.max_data_bytes))
        self.timezone = run(engine._anchor, "SELECT timezone()").bytes().decode().strip()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in ("/ping", "/replicas_status"):
            return self._plain(start_response, "200 OK", b"Ok.\n")
        if path != "/":
            return self._plain(
                start_response, "404 Not Found", f"There is no handle {path}\n".encode()
            )
        if method not in ("GET", "POST"):
            return self._plain(start_response, "405 Method Not Allowed", b"GET or POST only\n")
        params = dict(
            parse_qsl(
                environ.get("QUERY_STRING", ""), keep_blank_values=True, errors="surrogateescape"
            )
        )
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if method == "GET" and "query" not in params:
            return self._plain(start_response, "200 OK", b"Ok.\n")
        query_id = params.get("query_id") or str(uuid.uuid4())
        user: User | None = None
        try:
            origin = foreign_origin(headers)
            if origin is not None:
                raise ClickHouseError(
                    497,
                    "ACCESS_DENIED",
                    f"Cross-site request from Origin {origin} refused: the endpoint answers only "
                    "pages served by itself; call it from a backend or a BI tool instead",
                )
            user = self._authenticate(environ, headers, params)
            body, body_length = self._body(environ, headers, params)
            form = None
            if method == "POST" and is_form_data(headers.get("content-type", "")):
                with self.insert_budget.reserve(body_length or self.max_data_bytes):
                    form = read_form_data(body, headers["content-type"])
                for name, value in form.fields.items():
                    params.setdefault(name, value)  # a URL parameter wins, as on a server
            not_settings = external_tables.describing_params(form.files if form else ())
            settings = {
                k: v
                for k, v in params.items()
                if k not in HTTP_PARAMS and k not in not_settings and not k.startswith("param_")
            }
            check_setting_names(settings)  # before any of them reaches SQL text
            req = Request(
                method=method,
                params=params,
                settings=settings,
                query_params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
                user=user,
                headers=headers,
                body=body,
                query_id=query_id,
                body_length=body_length,
                form=form,
            )
            return self._handle(req, start_response)
        except ClickHouseError as exc:
            if user is not None:
                exc.for_user(user.name, user.databases is not None)
            return self._error(start_response, exc, query_id, _response_encoding(params, headers))
        except Exception as exc:  # a bug here must still answer in ClickHouse's error format
            log.exception("query %s failed inside the endpoint", query_id)
            error = ClickHouseError(1001, "STD_EXCEPTION", f"{type(exc).__name__}: {exc}")
            return self._error(start_response, error, query_id, _response_encoding(params, headers))

    # -- request pieces -------------------------------------------------------------------

    def _body(
        self, environ: dict, headers: dict[str, str], params: dict[str, str]
    ) -> tuple[LimitedReader, int | None]:
        """The decoded body, capped, and its length when known before reading (uncompressed)."""
        encoding = headers.get("content-encoding", "").strip().lower()
        decoded: Readable = decoded_body(environ, encoding)
        block_compressed = params.get("decompress") in _TRUE
        if block_compressed:
            decoded = NativeBlockReader(decoded)
        plain = encoding in ("", "identity") and not block_compressed
        return LimitedReader(decoded, self.max_data_bytes), _body_length(environ) if plain else None

    def _authenticate(self, environ: dict, headers: dict[str, str], params: dict[str, str]) -> User:
        name, password = "default", ""
        auth = environ.get("HTTP_AUTHORIZATION")
        if auth is not None:
            scheme, _, encoded = auth.strip().partition(" ")
            try:
                if scheme.lower() != "basic":
                    raise ValueError
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
                if ":" not in decoded:
                    raise ValueError
                name, _, password = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise ClickHouseError(
                    516,
                    "AUTHENTICATION_FAILED",
                    "Malformed Authorization header: send `Basic base64(user:password)`, "
                    "or the X-ClickHouse-User / X-ClickHouse-Key headers",
                ) from None
        name = headers.get("x-clickhouse-user", params.get("user", name)) or "default"
        password = headers.get("x-clickhouse-key", params.get("password", password))
        try:
            return self.users.authenticate(name, password, environ.get("REMOTE_ADDR", ""))
        except AuthenticationFailed as exc:
            raise ClickHouseError(516, "AUTHENTICATION_FAILED", str(exc)) from None

    def _handle(self, req: Request, start_response: Callable) -> Iterable[bytes]:
        url_query = encode_sql(req.params.get("query", ""))
        insert = split_insert(url_query + b"\n") if url_query else None
        limit = query_size_limit(req.settings)
        if insert is not None and insert.data == b"":
            # The URL holds `INSERT ... FORMAT X`: the whole body is data, streamed in.
            sql = b""
        else:
            # Only the query part is held in memory; INSERT data after it is streamed.
            insert = None
            head = req.body.read(limit + 1)
            sql = url_query + b"\n" + head if url_query else head
            complete = len(head) <= limit
            insert = split_insert(sql) or (None if complete else split_values_insert(sql))
            if insert is not None and not complete and not insert.data:
                insert = None  # the FORMAT clause may be cut: too large to tell
            if insert is None and (not complete or len(sql) > limit + 1):
                raise query_too_large(limit)
        if insert is None and not sql.strip():
            raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")

        statement = parse_user_statement(sql) if insert is None else None
        if statement is not None:
            self._manage_users(req, statement)
            return self._respond(start_response, req, Stats(), None, [b""])
        stats = Stats()
        stack = ExitStack()
        sent = req.settings  # what the client asked for: the access check reads these
        if not req.user.allow_external:  # rows are data (INSERT rows, format(Values, ...))
            req.settings = {**sent, **LITERAL_VALUES}
        try:
            keyword = first_keyword(sql)
            sets = assigned_settings(sql) if keyword == "SET" else None
            moves = insert is None and keyword in ("USE", "")  # may change the database
            held = stack.enter_context(self._connection(req, sets, moves))
            conn = held.conn
            read_only = req.method == "GET"
            # The request's settings govern its query, not the endpoint's own check of it
            # (`limit` or `max_result_rows` would cut or fail the check's EXPLAIN AST): only
            # those that decide how the query parses apply before the check, the rest after.
            parsing, running = split_settings(req.settings)
            running = {n: v for n, v in running.items() if n not in held.in_place}
            apply_settings(conn, parsing)
            temporary = _external_table_names(req)
            if insert is not None:
                header = f"{insert.header} FORMAT {insert.format}"
                checked = [header]
                if insert.with_clause:  # EXPLAIN AST of the INSERT leaves its WITH out
                    checked.append(f"{insert.with_clause} SELECT 1")
                for sql_text in checked:
                    self.policy.check(
                        conn,
                        req.user,
                        sql_text,
                        read_only,
                        sent,
                        req.query_params,
                        temporary,
                    )
                apply_settings(conn, running)
                held.applied = True
                self._load_external_tables(conn, req, stack)
                data, size = self._insert_data(req, insert, stack)
                with self.insert_budget.reserve(size):
                    self._insert(conn, insert, data, stats)
                stack.close()
                return self._respond(start_response, req, stats, None, [b""])
            text = without_format_clause(with_current_user(decode_sql(sql), req.user))
            self.policy.check(conn, req.user, text, read_only, sent, req.query_params, temporary)
            apply_settings(conn, running)
            held.applied = True
            self._load_external_tables(conn, req, stack)
            fmt = output_format(sql) or req.params.get("default_format") or "TabSeparated"
            keyword = "SELECT" if sql.lstrip()[:1] == b"(" else keyword
            has_result = keyword in _RESULT_STATEMENTS
            wait = req.params.get("wait_end_of_query") in _TRUE or needs_whole_result(
                fmt, sql, req.settings
            )
            # chDB streams only SELECTs; SHOW, EXISTS and friends are small anyway.
            if keyword in ("SELECT", "WITH") and not wait:

                def tail_error(exc: ClickHouseError) -> bytes:
                    exc.for_user(req.user.name, req.user.databases is not None)
                    return exception_block(exc.body(self.engine.version), req.exception_tag)

                chunks = _Stream(
                    conn, text, fmt, req.query_params, stats, stack.pop_all(), tail_error
                )
                return self._respond(start_response, req, stats, fmt, chunks)
            result = run(conn, text, fmt, req.query_params)
            stats.add(result)
            stats.written_rows += result.rows_written()
            stats.written_bytes += result.bytes_written()
            data = result.bytes()
            stats.result_bytes = len(data)
            stack.close()
            return self._respond(start_response, req, stats, fmt if has_result else None, [data])
        except BaseException:
            stack.close()
            raise

    def _manage_users(self, req: Request, statement: CreateUser | DropUser) -> None:
        """CREATE/DROP USER, which the endpoint runs itself (see sql_users.py)."""
        user = req.user
        if req.method == "GET" or user.readonly or req.settings.get("readonly", "0") != "0":
            raise ClickHouseError(
                164, "READONLY", f"{user.name}: Cannot execute query in readonly mode"
            )
        if user.databases is not None:
            raise ClickHouseError(
                497, "ACCESS_DENIED", f"{user.name}: Not enough privileges. To execute this "
                "query, it's necessary to have the grant ACCESS MANAGEMENT (users file: a user "
                "without a `databases` list)",
            )  # fmt: skip
        if isinstance(statement, CreateUser):
            self.users.create(
                statement.name, statement.password_sha256_hex, statement.if_not_exists
            )
        else:
            self.users.drop(statement.names, statement.if_exists)

    @contextmanager
    def _connection(
        self, req: Request, sets: frozenset[str] | None, moves: bool
    ) -> Iterator[_Held]:
        """The request's connection; `sets`: the names a SET statement assigns (None: the
        statement is no SET); `moves`: the statement may change the current database (USE)."""
        database = req.params.get("database")
        allowed = req.user.databases
        if database and allowed is not None and database not in allowed:
            raise ClickHouseError(
                497,
                "ACCESS_DENIED",
                f"{req.user.name}: Not enough privileges for database {database}. User "
                f"{req.user.name} may use {', '.join(allowed)} only (users file `databases`)",
            )
        session_id = req.params.get("session_id")
        if not session_id:
            conn = self.engine.connect(req.user, req.readonly)
            try:
                if database:
                    run(conn, f"USE {backquote(database)}")
                yield _Held(conn, frozenset())
            finally:
                conn.close()
            return
        timeout = _session_timeout(req.params)
        check = req.params.get("session_check") in _TRUE
        with self.engine.session(req.user, session_id, timeout, check, req.readonly) as sess:
            self._enter_database(sess, database, req)
            conn = sess.conn
            # A SET statement may assign one of them: it finds the session's own values.
            keep = {} if sets is not None else {
                n: v for n, v in req.settings.items() if n in STICKY_SETTINGS}  # fmt: skip
            self._undo_sticky(sess, keep)
            in_place = frozenset(sess.sticky)
            unknown = [name for name in req.settings if name not in sess.settings]
            sess.settings.update(_current_settings(conn, unknown))
            saved = {name: sess.settings[name] for name in req.settings if name in sess.settings}
            held = _Held(conn, in_place)
            try:
                yield held
            finally:
                if not held.applied:
                    keep = {}  # maybe not applied: set back like the others
                # URL settings and `database` apply to this request only, not to the session;
                # what a SET statement assigns stays. The database is returned to lazily
                # (_enter_database), unless this statement may have moved the connection.
                if sets is not None:
                    sess.settings.clear()
                    saved = {n: v for n, v in saved.items() if n not in sets}
                sess.sticky = {}
                try:
                    apply_settings(conn, _own_values(saved, saved.keys() - keep.keys()))
                    sess.sticky = keep
                    if moves and database:
                        run(conn, f"USE {backquote(sess.own)}")  # what the session had
                        sess.here, sess.own = sess.own, None
                    elif moves:
                        sess.here = None  # a USE of the session's own: read it when needed
                except ClickHouseError as exc:
                    # The session may keep this request's settings (a URL `readonly` refuses
                    # every SET after it): a session in an unknown state is closed instead.
                    log.warning("session %s closed: %s", session_id[:100], exc.message)
                    self.engine.discard(sess)

    def _undo_sticky(self, sess: Session, keep: dict[str, str]) -> None:
        """Set the session's own values back for the sticky settings a previous request left
        that this one does not send with the same value."""
        stale = [n for n, v in sess.sticky.items() if keep.get(n) != v]
        if not stale:
            return
        try:
            apply_settings(sess.conn, _own_values(sess.settings, stale))
        except ClickHouseError:
            self.engine.discard(sess)  # its settings are not known any more
            raise
        sess.sticky = {n: v for n, v in sess.sticky.items() if n not in stale}

    def _enter_database(self, sess: Session, database: str | None, req: Request) -> None:
        """Put the session's connection in `database` for this request, or, without one, in
        the session's own database (where a previous request's `database` may have left it)."""
        if not database:
            if sess.own is not None and sess.here != sess.own:
                try:
                    run(sess.conn, f"USE {backquote(sess.own)}")
                    sess.here = sess.own
                except ClickHouseError as exc:
                    # Dropped meanwhile: the session starts anew, as one whose settings
                    # could not be restored does.
                    log.warning("session reopened: %s", exc.message)
                    self.engine.reopen(sess, req.user, req.readonly)
            sess.own = None
            return
        if sess.here is None:
            sess.here = run(sess.conn, "SELECT currentDatabase()").bytes().decode().strip()
        if sess.own is None:
            sess.own = sess.here
        if sess.here != database:
            run(sess.conn, f"USE {backquote(database)}")  # a failed USE leaves it where it was
            sess.here = database

    def _load_external_tables(self, conn: Any, req: Request, stack: ExitStack) -> None:
        """Load the request's external tables into temporary tables of its connection; they
        are dropped after the request (a session's connection outlives it)."""
        if req.form is None or not req.form.files:
            return
        files, req.form.files = req.form.files, {}
        with self.insert_budget.reserve(sum(len(data) for data in files.values())):
            for name, data in files.items():
                quoted = external_tables.load(conn, name, req.params, data)
                stack.callback(run, conn, f"DROP TEMPORARY TABLE IF EXISTS {quoted}")

    def _insert_data(
        self, req: Request, insert: InsertWithData, stack: ExitStack
    ) -> tuple[IO[bytes], int]:
        """The rest of the INSERT's data and its total size, known before the engine sees it.

        An uncompressed body's size is known (the HTTP server holds it); a compressed one is
        decompressed into a temporary file first, counted against the per-request cap."""
        if req.body_length is not None:
            size = len(insert.data) + req.body_length - req.body.consumed
            if size > self.max_data_bytes:
                raise data_too_large(self.max_data_bytes)
            return req.body, size
        spool = stack.enter_context(tempfile.TemporaryFile(prefix="funnelhouse-insert-"))  # noqa: SIM115
        shutil.copyfileobj(req.body, spool, _INSERT_CHUNK)
        size = len(insert.data) + spool.tell()
        spool.seek(0)
        return spool, size

    def _insert(self, conn: Any, insert: InsertWithData, stream: IO[bytes], stats: Stats) -> None:
        try:
            with conn.send_insert(encode_sql(insert.header), insert.format) as inserter:
                if insert.data:
                    inserter.append(insert.data)
                while chunk := stream.read(_INSERT_CHUNK):
                    inserter.append(chunk)
                result = inserter.finish()
        except ENGINE_ERRORS as exc:
            raise engine_error(exc) from None
        stats.written_rows += result.rows_written
        stats.written_bytes += result.bytes_written

    # -- responses ------------------------------------------------------------------------

    def _respond(
        self,
        start_response: Callable,
        req: Request,
        stats: Stats,
        fmt: str | None,
        body: Iterable[bytes],
    ) -> Iterable[bytes]:
        headers = [
            ("Content-Type", content_type(fmt or "")),
            ("X-ClickHouse-Server-Display-Name", self.display_name),
            ("X-ClickHouse-Query-Id", req.query_id),
            ("X-ClickHouse-Timezone", self.timezone),
            ("X-ClickHouse-Summary", stats.header()),
            (TAG_HEADER, req.exception_tag),
        ]
        if fmt is not None:
            headers.append(("X-ClickHouse-Format", fmt))
        encoding = _response_encoding(req.params, req.headers)
        if encoding:
            headers.append(("Content-Encoding", encoding))
            body = _compress(body, encoding)
        elif isinstance(body, list):
            headers.append(("Content-Length", str(sum(len(b) for b in body))))
        start_response("200 OK", headers)
        return body

    def _error(
        self, start_response: Callable, exc: ClickHouseError, query_id: str, encoding: str | None
    ):
        """The error body, compressed as the response would have been (as a server does)."""
        body = exc.body(self.engine.version)
        headers = [("Content-Type", "text/plain; charset=UTF-8")]
        if encoding:
            body = b"".join(_compress([body], encoding))
            headers.append(("Content-Encoding", encoding))
        start_response(
            f"{exc.http_status} {_REASONS.get(exc.http_status, 'Error')}",
            [
                *headers,
                ("Content-Length", str(len(body))),
                ("X-ClickHouse-Exception-Code", str(exc.code)),
                ("X-ClickHouse-Query-Id", query_id),
                ("X-ClickHouse-Server-Display-Name", self.display_name),
            ],
        )
        return [body]

    @staticmethod
    def _plain(start_response: Callable, status: str, body: bytes) -> list[bytes]:
        start_response(
            status,
            [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


class _Stream:
    """A SELECT's result streamed to the client. As on a server, the headers go out with the
    first block that holds rows: an error before it gets a proper error status, a later one
    ends the body with the tagged exception block."""

    def __init__(
        self,
        conn: Any,
        sql: str,
        fmt: str,
        params: dict,
        stats: Stats,
        cleanup: ExitStack,
        tail_error: Callable[[ClickHouseError], bytes],
    ):
        self._cleanup = cleanup
        self.tail_error = tail_error  # the body's end when the query fails mid-stream
        self._stats = stats
        self._joiner: ArrowStreamJoiner | ProgressRows | None = None
        if fmt.lower() == "arrowstream":
            self._joiner = ArrowStreamJoiner()
        elif fmt.lower() in WITH_PROGRESS_FORMATS:
            self._joiner = ProgressRows(lambda: (stats.read_rows, stats.read_bytes))
        try:
            conn.set_progress_callback(stats.progress)
            cleanup.callback(conn.set_progress_callback, None)
            try:
                self._stream = conn.send_query(encode_sql(sql), fmt, params=params)
            except ENGINE_ERRORS as exc:
                raise engine_error(exc) from None
            self._head: list[bytes] = []
            self._done = False
            while not stats.result_rows:
                chunk = self._fetch()
                if chunk is None:
                    self._done = True
                    break
                self._head.append(chunk)
        except ClickHouseError as exc:
            try:
                if exc.code == 1001 and _UNREADABLE_MESSAGE in exc.message:
                    self._raise_readable(conn, sql, fmt, params)
                raise
            finally:
                cleanup.close()
        except BaseException:
            cleanup.close()
            raise

    def _raise_readable(self, conn: Any, sql: str, fmt: str, params: dict) -> None:
        """chDB's streaming API loses an error message that is not UTF-8 (it quotes the
        query); nothing is sent yet, so the SELECT runs again to report the engine's error."""
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.close()
        run(conn, sql, fmt, params)

    def _fetch(self) -> bytes | None:
        try:
            result = self._stream.fetch()
        except ENGINE_ERRORS as exc:
            raise engine_error(exc) from None
        if result is None:
            if self._joiner is None:
                return None
            end, self._joiner = self._joiner.finish(), None
            return end
        self._stats.add(result)
        data = result.bytes()
        if self._joiner is not None:
            data = self._joiner.feed(data)
        self._stats.result_bytes += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        yield from self._head
        self._head = []
        while not self._done:
            try:
                chunk = self._fetch()
            except ClickHouseError as exc:
                # Headers are gone already; a real server appends the exception to the body.
                yield self.tail_error(exc)
                return
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        try:
            if not self._done:
                self._stream.close()
        finally:
            self._cleanup.close()


def _external_table_names(req: Request) -> frozenset[str]:
    """The names the policy lets any user read: identifiers only (`db.t` would unlock a table)."""
    names = frozenset(req.form.files) if req.form is not None else frozenset()
    for name in names:
        external_tables.check_name(name)
    return names


def split_settings(settings: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The settings that decide how a query parses, and all the others."""
    parsing = {k: v for k, v in settings.items() if k in PARSER_SETTINGS}
    return parsing, {k: v for k, v in settings.items() if k not in PARSER_SETTINGS}


def _body_length(environ: dict) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _response_encoding(params: dict[str, str], headers: dict[str, str]) -> str | None:
    """The body encoding the client asked for with enable_http_compression, if any."""
    if params.get("enable_http_compression") not in _TRUE:
        return None
    for part in headers.get("accept-encoding", "").split(","):
        name = part.split(";")[0].strip().lower()
        if name in ("gzip", "deflate", "zstd", "lz4"):
            return name
    return None


def _compress(body: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    if encoding == "lz4":
        comp = lz4.frame.LZ4FrameCompressor()
        yield comp.begin()
        feed, flush = comp.compress, comp.flush
    elif encoding == "zstd":
        zc = zstandard.ZstdCompressor().compressobj()
        feed, flush = zc.compress, zc.flush
    else:
        zo = zlib.compressobj(wbits=31 if encoding == "gzip" else 15)
        feed, flush = zo.compress, zo.flush
    try:
        for chunk in body:
            out = feed(chunk)
            if out:
                yield out
        yield flush()
    finally:
        close = getattr(body, "close", None)
        if close:
            close()


def _own_values(known: dict[str, tuple[str, bool]], names: Iterable[str]) -> dict[str, str | None]:
    """What `apply_settings` sets back the named settings to: the session's value where it had
    changed one, else the default."""
    return {n: known[n][0] if known[n][1] else None for n in names}


def _current_settings(conn: Any, settings: Iterable[str]) -> dict[str, tuple[str, bool]]:
    """The connection's value of each known setting named, and whether it was changed."""
    names = list(settings)
    if not names:
        return {}
    check_setting_names(names)
    rows = run(
        conn,
        "SELECT name, value, changed FROM system.settings WHERE has({names:Array(String)}, name)",
        "JSONCompactEachRow",
        {"names": "[" + ",".join(f"'{n}'" for n in names) + "]"},
    )
    return {
        name: (value, bool(changed))
        for name, value, changed in map(json.loads, rows.bytes().decode().splitlines())
    }


def _session_timeout(params: dict[str, str]) -> int:
    """A session's idle timeout in whole seconds, at most MAX_SESSION_TIMEOUT (a server's
    `max_session_timeout`): a client must not keep an engine connection open forever."""
    text = params.get("session_timeout")
    if text is None:
        return DEFAULT_SESSION_TIMEOUT
    shown = text[:40]
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        problem = f"Invalid session_timeout '{shown}': expected whole seconds"
    elif int(text) > MAX_SESSION_TIMEOUT:
        problem = f"session_timeout {shown} exceeds the endpoint's maximum"
    else:
        return int(text)
    raise ClickHouseError(
        374,
        "INVALID_SESSION_TIMEOUT",
        f"{problem}; send 0 to {MAX_SESSION_TIMEOUT} (a server's max_session_timeout)",
    )


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    411: "Length Required",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
