"""Bodies larger than the HTTP server accepts, refused the way ClickHouse reports errors.

waitress holds each request body (in a temporary file) before the application sees it, so it
refuses one over `max_request_body_size` itself, with a plain-text 413 clients cannot read as a
ClickHouse exception, and closes the connection while the client is still sending (a reset
instead of an answer). This channel reads such a body through without keeping it and answers
QUERY_IS_TOO_LARGE (229).
"""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import RequestEntityTooLarge

from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.request_limits import MAX_DATA_BYTES_ENV


class _BodyTooLarge(RequestEntityTooLarge):
    version = ""

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        error = ClickHouseError(
            229,
            "QUERY_IS_TOO_LARGE",
            f"Request body {self.body}: send the data in smaller INSERTs, compressed, or raise "
            f"{MAX_DATA_BYTES_ENV} on the endpoint",
        )
        body = error.body(self.version)
        headers = [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("X-ClickHouse-Exception-Code", str(error.code)),
        ]
        return f"{error.http_status} {self.reason}", headers, body


def clickhouse_error_channel(engine_version: str) -> type[HTTPChannel]:
    """An HTTPChannel whose oversized-body error is a ClickHouse exception of `engine_version`."""

    class BodyTooLarge(_BodyTooLarge):
        version = engine_version

    class Parser(HTTPRequestParser):
        discard = 0  # body bytes still to read (and drop) before answering

        def received(self, data: bytes) -> int:
            if self.discard:
                dropped = min(len(data), self.discard)
                self.discard -= dropped
                self.completed = not self.discard
                return dropped
            consumed = super().received(data)
            if isinstance(self.error, RequestEntityTooLarge) and not isinstance(
                self.error, _BodyTooLarge
            ):
                self.error = BodyTooLarge(self.error.body)
                if not self.chunked and not self.body_bytes_received:
                    # Refused on its Content-Length: read the body through before answering, or
                    # closing with it unread resets the connection under the client's feet.
                    self.discard = self.content_length
                    self.completed = False
            return consumed

    class Channel(HTTPChannel):
        parser_class = Parser

    return Channel
