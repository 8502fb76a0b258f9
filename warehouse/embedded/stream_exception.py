"""An exception after a result has started streaming, written the way a server writes it.

The status and headers are gone by then, so a ClickHouse server (25.11+) names a random tag in
the `X-ClickHouse-Exception-Tag` header of every response and, on a failure mid-stream, ends the
body with a block no data can be mistaken for:
`__exception__\\r\\n<tag>\\r\\n<error text>\\n<length> <tag>\\r\\n__exception__\\r\\n`, where the
length counts the text and its newline. clickhouse-connect finds the block by its markers; the JS
client reads the text backwards from the length, so a length without the newline cut the text's
first character ("ode: 395...").
"""

from __future__ import annotations

import secrets
import string

TAG_HEADER = "X-ClickHouse-Exception-Tag"
_ALPHABET = string.ascii_letters + string.digits


def new_tag() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def exception_block(error_text: bytes, tag: str) -> bytes:
    """The tagged block that ends a body whose query failed after streaming began."""
    text = error_text.rstrip(b"\n")
    marker = tag.encode()
    return (
        b"__exception__\r\n" + marker + b"\r\n" + text + b"\n"
        + str(len(text) + 1).encode() + b" " + marker + b"\r\n__exception__\r\n"
    )  # fmt: skip
