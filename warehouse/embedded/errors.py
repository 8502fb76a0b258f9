"""ClickHouse exceptions as the HTTP interface reports them."""

from __future__ import annotations

import re

_ENGINE_MESSAGE = re.compile(
    r"Code: (\d+)\. DB::\w*Exception: (.*?)(?: \(([A-Z_0-9]+)\))?(?: \(version [^)]*\))?\s*$", re.S
)

# The HTTP status a real server answers for an exception, by error name (ClickHouse's
# src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); anything else is 500.
_STATUS_BY_NAME = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        [
            "UNKNOWN_USER",
            "WRONG_PASSWORD",
            "AUTHENTICATION_FAILED",
            "SET_NON_GRANTED_ROLE",
            "ACCESS_DENIED",
        ],
        403,
    ),
    **dict.fromkeys(
        [
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
            "CANNOT_DECOMPRESS",
            "ZLIB_INFLATE_FAILED",
            "ZSTD_DECODER_FAILED",
            "LZ4_DECODER_FAILED",
            "TOO_LARGE_SIZE_COMPRESSED",
        ],
        400,
    ),
    **dict.fromkeys(
        [
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ],
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}


# The engine's spelling hints pick names from every database ("Maybe you meant raw.t?").
_HINT = re.compile(r"\s*Maybe you meant(?::\s*\[[^\]]*\]\.?|\s[^?]*\?)")


class ClickHouseError(Exception):
    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message

    @classmethod
    def from_engine_message(cls, text: str) -> ClickHouseError:
        # chDB may wrap the server's text ("Streaming query failed: Code: 60. ..."): find it.
        m = _ENGINE_MESSAGE.search(text.strip())
        if not m:
            return cls(1001, "STD_EXCEPTION", text.strip())
        return cls(int(m.group(1)), m.group(3) or "", m.group(2))

    def for_user(self, name: str, limited: bool) -> ClickHouseError:
        """The error as `name` may see it: the engine runs as `default`, and a user limited
        to some databases gets no hints naming tables in the others."""
        if name != "default" and self.message.startswith("default:"):
            self.message = name + self.message[len("default") :]
        if limited:
            self.message = _HINT.sub("", self.message)
        return self

    @property
    def http_status(self) -> int:
        return _STATUS_BY_NAME.get(self.name, 500)

    def body(self, version: str) -> bytes:
        suffix = f" ({self.name})" if self.name else ""
        text = f"Code: {self.code}. DB::Exception: {self.message}{suffix} (version {version})\n"
        return text.encode("utf-8", "surrogateescape")  # a query's own bytes, as sent
