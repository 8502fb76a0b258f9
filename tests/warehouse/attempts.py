"""Send one statement to the endpoint as a given user, through raw HTTP or clickhouse-connect,
and report the ClickHouse error code it answers: every attack test runs through both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import clickhouse_connect
import requests
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

TIMEOUT = 300
VIAS = ["http", "clickhouse-connect"]
Auth = tuple[str, str] | None


class Attempt(Protocol):
    def __call__(
        self, sql: str, auth: Auth = None, headers: dict[str, str] | None = None
    ) -> tuple[str | None, str]:
        """(error code or None, response text) of running `sql` as `auth` (None: default),
        with extra HTTP `headers` (clickhouse-connect's transport settings)."""
        ...


@contextmanager
def attempts(via: str, port: int) -> Iterator[Attempt]:
    """An `Attempt` through `via`; clickhouse-connect clients are kept per user and closed."""
    url = f"http://127.0.0.1:{port}/"
    clients: dict[Auth, Client] = {}

    def over_http(
        sql: str, auth: Auth = None, headers: dict[str, str] | None = None
    ) -> tuple[str | None, str]:
        r = requests.post(url, data=sql.encode(), auth=auth, headers=headers, timeout=TIMEOUT)
        code = r.headers.get("X-ClickHouse-Exception-Code")
        assert (code is None) == (r.status_code == 200), (r.status_code, r.text)
        return code, r.text

    def over_clickhouse_connect(
        sql: str, auth: Auth = None, headers: dict[str, str] | None = None
    ) -> tuple[str | None, str]:
        if auth not in clients:
            user, password = auth or ("default", "")
            clients[auth] = clickhouse_connect.get_client(
                host="127.0.0.1", port=port, username=user, password=password
            )
        try:
            result = clients[auth].command(sql, transport_settings=headers)
        except DatabaseError as exc:
            assert exc.code is not None, exc
            return str(exc.code), str(exc)
        return None, str(result)

    try:
        yield over_http if via == "http" else over_clickhouse_connect
    finally:
        for client in clients.values():
            client.close()
