"""The chDB engine behind the endpoint: one per data directory, a connection per request.

chDB keeps `SET` and `USE` state per connection and runs queries from different connections in
parallel, so a fresh connection per request gives ClickHouse's per-request settings isolation
for free, and a kept connection per `session_id` gives ClickHouse's sessions (temporary tables,
SET) without leaking into other clients.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import chdb

from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.query_policy import reflection_filters
from funnelhouse.warehouse.embedded.sql_text import encode_sql
from funnelhouse.warehouse.embedded.users import User

# What chDB raises for a server-side exception ("Code: N. DB::Exception: ..."); a message that
# is not UTF-8 (it quotes the query) comes as the UnicodeDecodeError of reading it.
ENGINE_ERRORS = (RuntimeError, chdb.ChdbError, UnicodeDecodeError)


def engine_error(exc: Exception) -> ClickHouseError:
    """The ClickHouse exception in one of ENGINE_ERRORS."""
    if isinstance(exc, UnicodeDecodeError) and isinstance(exc.object, bytes):
        return ClickHouseError.from_engine_message(exc.object.decode("utf-8", "replace"))
    return ClickHouseError.from_engine_message(str(exc))


_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _literal(value: str) -> str:
    """A URL setting's value as a string literal: the engine parses it by the setting's type, as
    a server parses URL settings (`SET log_comment = 123` would fail, `'123'` is a String)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def check_setting_names(names: Iterable[str]) -> None:
    """A setting's name is an identifier: nothing else may reach SQL text as one."""
    for name in names:
        if not _SETTING_NAME.match(name):
            raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting '{name[:100]}'")


def apply_settings(
    conn: chdb.state.sqlitelike.Connection, settings: Mapping[str, str | None]
) -> None:
    """`SET` the settings on the connection in one statement (None: back to the default); the
    engine validates names, values and readonly, and applies none if it refuses one."""
    check_setting_names(settings)
    if settings:
        pairs = (f"{n} = {'DEFAULT' if v is None else _literal(v)}" for n, v in settings.items())
        run(conn, "SET " + ", ".join(pairs))


def run(conn: chdb.state.sqlitelike.Connection, sql: str, fmt: str = "TabSeparated", params=None):
    """Execute on the raw connection so the result keeps its read/written statistics."""
    try:
        return conn._conn.query(encode_sql(sql), fmt, params=params or {})
    except ENGINE_ERRORS as exc:
        raise engine_error(exc) from None


def restrict_reflection(conn: chdb.state.sqlitelike.Connection, databases: tuple[str, ...]) -> None:
    """Filter system.databases/tables/columns to the user's databases, as grants do on a server,
    and start in the first of them so unqualified names stay inside the allow-list."""
    run(conn, f"SET additional_table_filters = {reflection_filters(databases)}")
    for db in databases:
        try:
            run(conn, "USE `" + db.replace("`", "\\`") + "`")
            return
        except ClickHouseError:
            continue


@dataclass
class Session:
    """A client's `session_id`: its own connection, used by one request at a time."""

    user: str
    conn: chdb.state.sqlitelike.Connection
    timeout: float
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The session's own value of each setting a request overrode, and whether it was changed:
    # a request's URL settings are undone after it. Only a SET statement changes them, so they
    # are read once (system.settings costs milliseconds per request) until a SET runs.
    settings: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # The connection's current database (None: not known) and, while a request's `database`
    # parameter left the connection there, the session's own one, which the next request
    # without that parameter returns to: dbt names its database in every request, and
    # reading and restoring it around each one cost three engine queries.
    here: str | None = None
    own: str | None = None
    # Settings a request sent that stay applied after it (http_app.STICKY_SETTINGS), by name.
    sticky: dict[str, str] = field(default_factory=dict)


class Engine:
    def __init__(self, path: Path, config_file: Path | None = None):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        # The embedded engine shuts down when its last connection closes; this one keeps it up
        # between requests. The first connection starts the engine, with its server config.
        start = f"{path}?config-file={config_file}" if config_file else str(path)
        self._anchor = chdb.connect(start)
        self._sessions: dict[tuple[str, str], Session] = {}
        self._sessions_lock = threading.Lock()
        self.version = run(self._anchor, "SELECT version()").bytes().decode().strip()

    def connect(self, user: User, readonly: int) -> chdb.state.sqlitelike.Connection:
        conn = chdb.connect(str(self.path))
        try:
            if user.databases is not None:
                restrict_reflection(conn, user.databases)
            level = max(user.readonly, readonly)
            if level:
                run(conn, f"SET readonly = {level}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def session(
        self, user: User, session_id: str, timeout: float, check: bool, readonly: int
    ) -> Iterator[Session]:
        """Hold `session_id` for one request; a concurrent request on it is refused."""
        key = (user.name, session_id)
        now = time.monotonic()
        with self._sessions_lock:
            self._expire(now)
            sess = self._sessions.get(key)
            if sess is None:
                if check:
                    raise ClickHouseError(
                        372, "SESSION_NOT_FOUND", f"Session {session_id} not found"
                    )
                sess = Session(user.name, self.connect(user, readonly), timeout)
                self._sessions[key] = sess
            if not sess.lock.acquire(blocking=False):
                raise ClickHouseError(
                    373,
                    "SESSION_IS_LOCKED",
                    f"Session {session_id} is locked by a concurrent client",
                )
        try:
            sess.timeout = timeout
            yield sess
        finally:
            sess.last_used = time.monotonic()
            sess.lock.release()

    def _expire(self, now: float) -> None:
        for key, sess in list(self._sessions.items()):
            if now - sess.last_used > sess.timeout and not sess.lock.locked():
                del self._sessions[key]
                sess.conn.close()

    def reopen(self, sess: Session, user: User, readonly: int) -> None:
        """Give a session whose state is no longer known a new connection in its place, with
        nothing remembered of the old one: as if its id opened a new session."""
        sess.conn.close()
        sess.conn = self.connect(user, readonly)
        sess.settings, sess.sticky, sess.here, sess.own = {}, {}, None, None

    def discard(self, sess: Session) -> None:
        """Close a session whose state is no longer known; its id opens a new one next time."""
        with self._sessions_lock:
            for key, held in list(self._sessions.items()):
                if held is sess:
                    del self._sessions[key]
        sess.conn.close()

    def close(self) -> None:
        with self._sessions_lock:
            for sess in self._sessions.values():
                sess.conn.close()
            self._sessions.clear()
        self._anchor.close()
