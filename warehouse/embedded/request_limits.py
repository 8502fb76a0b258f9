"""Bounds on what one request may make the endpoint hold or accept.

A body is read through `LimitedReader`, which counts decompressed bytes, so neither a huge body
nor a small compression bomb can grow the process: the query part is capped at `max_query_size`
(as on a server), streamed INSERT data at a configurable total.
"""

from __future__ import annotations

import os
from typing import Protocol
from urllib.parse import urlsplit

from funnelhouse.warehouse.embedded.errors import ClickHouseError

DEFAULT_MAX_QUERY_SIZE = 262144  # ClickHouse's default max_query_size
MAX_DATA_BYTES_ENV = "FUNNELHOUSE_MAX_INSERT_BYTES"
DEFAULT_MAX_DATA_BYTES = 256 << 20


def max_data_bytes() -> int:
    """The cap on one request's (decompressed) INSERT data, from FUNNELHOUSE_MAX_INSERT_BYTES."""
    return int(os.environ.get(MAX_DATA_BYTES_ENV) or DEFAULT_MAX_DATA_BYTES)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class LimitedReader:
    """Reads a (decoded) body and refuses to go past `limit` bytes in total."""

    def __init__(self, raw: Readable, limit: int):
        self._raw = raw
        self.limit = limit
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise ValueError("LimitedReader reads in bounded chunks only")
        chunk = self._raw.read(min(size, self.limit - self.consumed + 1))
        self.consumed += len(chunk)
        if self.consumed > self.limit:
            raise data_too_large(self.limit)
        return chunk


def data_too_large(limit: int) -> ClickHouseError:
    return ClickHouseError(
        229,
        "QUERY_IS_TOO_LARGE",
        f"Request data exceeds {limit} bytes after decompression; send it in smaller INSERTs "
        f"or raise {MAX_DATA_BYTES_ENV} on the endpoint",
    )


def query_size_limit(settings: dict[str, str]) -> int:
    try:
        return max(int(settings.get("max_query_size") or DEFAULT_MAX_QUERY_SIZE), 1)
    except ValueError:
        return DEFAULT_MAX_QUERY_SIZE


def query_too_large(limit: int) -> ClickHouseError:
    return ClickHouseError(
        229,
        "QUERY_IS_TOO_LARGE",
        f"Query is larger than max_query_size ({limit} bytes); send rows as INSERT ... FORMAT "
        "data, or raise max_query_size for this request",
    )


def foreign_origin(headers: dict[str, str]) -> str | None:
    """The request's `Origin` if it names another site than the endpoint's own `Host`.

    A browser page from another site can POST `text/plain` bodies without a CORS preflight; the
    endpoint refuses any request a browser marks as coming from elsewhere."""
    origin = headers.get("origin")
    if origin is None:
        return None
    parts = urlsplit(origin)
    if parts.scheme in ("http", "https") and parts.netloc and parts.netloc == headers.get("host"):
        return None
    return origin
