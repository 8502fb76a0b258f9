"""Just enough SQL lexing to do what the ClickHouse HTTP handler does before parsing.

The server must split an `INSERT ... FORMAT X` header from the data that follows it in the same
body (binary for Native/RowBinary/Parquet), and find a query's own `FORMAT` clause to label the
response. Everything else is left to the engine's parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = frozenset(b" \t\r\n\f\v")
_WORD_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD = _WORD_START | frozenset(b"0123456789$")
_HEREDOC_OPEN = re.compile(rb"\$[A-Za-z0-9_]*\$")


def decode_sql(raw: bytes) -> str:
    """Query bytes as text without losing any: a server runs queries that are not UTF-8 (string
    literals may hold any bytes), so invalid bytes survive as surrogates until `encode_sql`."""
    return raw.decode("utf-8", "surrogateescape")


def encode_sql(sql: str) -> bytes:
    return sql.encode("utf-8", "surrogateescape")


def text_param(value: str) -> str:
    """A String query parameter's value as the engine reads it (escaped as in TSV)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "quoted", "string", "number", "punct"
    text: bytes
    start: int
    end: int
    depth: int


def tokens(sql: bytes, stop_at_data: bool = False):
    """Yield tokens outside comments; `depth` is the bracket depth at the token.

    With `stop_at_data`, lexing stops after the first top-level `FORMAT <name>` of an INSERT,
    because what follows is data that may not be text at all.
    """
    i, n, depth = 0, len(sql), 0
    while i < n:
        c = sql[i]
        if c in _SPACE:
            i += 1
            continue
        if sql.startswith(b"--", i) or c == 0x23:  # `--` and `#` line comments
            j = sql.find(b"\n", i)
            i = n if j < 0 else j + 1
            continue
        if sql.startswith(b"/*", i):
            j = sql.find(b"*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        start = i
        if c in _WORD_START or c >= 0x80:
            while i < n and (sql[i] in _WORD or sql[i] >= 0x80):
                i += 1
            yield Token("word", sql[start:i], start, i, depth)
            continue
        if c == 0x24:  # `$tag$ ... $tag$` heredoc: any bytes inside, as in a string
            heredoc = _HEREDOC_OPEN.match(sql, i)
            if heredoc is not None:
                end = sql.find(heredoc.group(0), heredoc.end())
                i = n if end < 0 else end + len(heredoc.group(0))
                yield Token("string", sql[start:i], start, i, depth)
                continue
        if c in b"'`\"":
            i = _skip_quoted(sql, i, c)
            yield Token("string" if c == 0x27 else "quoted", sql[start:i], start, i, depth)
            continue
        if 0x30 <= c <= 0x39:
            while i < n and (sql[i] in _WORD or sql[i] == 0x2E):
                i += 1
            yield Token("number", sql[start:i], start, i, depth)
            continue
        if c in b"([{":
            yield Token("punct", sql[i : i + 1], i, i + 1, depth)
            depth += 1
            i += 1
            continue
        if c in b")]}":
            depth = max(depth - 1, 0)
            yield Token("punct", sql[i : i + 1], i, i + 1, depth)
            i += 1
            continue
        yield Token("punct", sql[i : i + 1], i, i + 1, depth)
        i += 1


def assigned_settings(sql: bytes) -> frozenset[str]:
    """Every setting a statement assigns: in a `SET` statement, and in each `SETTINGS` clause
    at any depth (a clause ends at its bracket's close or at `FORMAT`)."""
    names: set[str] = set()
    depth: int | None = None  # the depth of the clause being read
    prev: Token | None = None
    for i, tok in enumerate(tokens(sql, stop_at_data=True)):
        word = tok.text.upper() if tok.kind == "word" else b""
        if i == 0 and word == b"SET":
            depth = 0
        elif word == b"SETTINGS":
            depth = tok.depth
        elif depth is not None and (
            tok.depth < depth or (word == b"FORMAT" and tok.depth == depth)
        ):
            depth = None
        elif depth == tok.depth and tok.text == b"=" and prev and prev.kind in ("word", "quoted"):
            name = prev.text.strip(b'`"') if prev.kind == "quoted" else prev.text
            names.add(name.decode("utf-8", "replace"))
        prev = tok
    return frozenset(names)


def _skip_quoted(sql: bytes, i: int, quote: int) -> int:
    n = len(sql)
    i += 1
    while i < n:
        c = sql[i]
        if c == 0x5C:  # backslash escape
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote
                i += 2
                continue
            return i + 1
        i += 1
    return n


@dataclass(frozen=True)
class InsertWithData:
    """An INSERT whose rows follow its `FORMAT` clause: the header goes to the engine's
    streaming inserter, the data is appended to it verbatim."""

    header: str  # e.g. "INSERT INTO db.t (a, b)", without FORMAT
    format: str
    data: bytes
    # A leading `WITH ...` clause (in the header too): the engine's EXPLAIN AST of the INSERT
    # leaves it out, so it is checked on its own.
    with_clause: str = ""


def first_keyword(sql: bytes) -> str:
    for tok in tokens(sql):
        return tok.text.decode("utf-8", "replace").upper() if tok.kind == "word" else ""
    return ""


def _skip_with_clause(it) -> Token | None:
    """After a leading WITH: the top-level INSERT that follows it, None if the query is not an
    INSERT (a top-level SELECT comes first)."""
    prev: Token | None = None
    for tok in it:
        if tok.depth == 0 and tok.kind == "word" and (prev is None or prev.text != b"."):
            word = tok.text.upper()
            if word == b"INSERT":
                return tok
            if word in (b"SELECT", b"FORMAT"):
                return None
        prev = tok
    return None


def is_insert(sql: bytes) -> bool:
    """`INSERT ...` or `WITH ... INSERT ...`."""
    it = tokens(sql)
    first = next(it, None)
    if first is None or first.kind != "word":
        return False
    word = first.text.upper()
    return word == b"INSERT" or (word == b"WITH" and _skip_with_clause(it) is not None)


def split_insert(sql: bytes) -> InsertWithData | None:
    """Split `[WITH ...] INSERT ... FORMAT X <data>`; None for any other statement (VALUES,
    SELECT...)."""
    it = tokens(sql)
    first = next(it, None)
    with_clause = ""
    if first is not None and first.kind == "word" and first.text.upper() == b"WITH":
        insert = _skip_with_clause(it)
        if insert is None:
            return None
        with_clause = decode_sql(sql[: insert.start]).rstrip()
    elif first is None or first.kind != "word" or first.text.upper() != b"INSERT":
        return None
    prev: Token | None = None
    for tok in it:
        if tok.depth == 0 and tok.kind == "word":
            word = tok.text.upper()
            if word in (b"SELECT", b"WITH", b"VALUES") and (prev is None or prev.text != b"."):
                return None
            if prev is not None and prev.kind == "word" and prev.text.upper() == b"FORMAT":
                header = decode_sql(sql[: prev.start]).rstrip()
                fmt = decode_sql(tok.text)
                data = sql[_data_start(sql, tok.end) :]
                return InsertWithData(header, fmt, data, with_clause)
        prev = tok
    return None


def split_values_insert(sql: bytes) -> InsertWithData | None:
    """Split `INSERT ... VALUES <rows>` into a header and Values data, to stream long row lists
    as a server does instead of holding them as query text."""
    it = tokens(sql)
    first = next(it, None)
    if first is None or first.kind != "word" or first.text.upper() != b"INSERT":
        return None
    prev: Token | None = None
    for tok in it:
        if tok.depth == 0 and tok.kind == "word" and (prev is None or prev.text != b"."):
            word = tok.text.upper()
            if word in (b"SELECT", b"WITH", b"FORMAT"):
                return None
            if word == b"VALUES":
                header = decode_sql(sql[: tok.start]).rstrip()
                return InsertWithData(header, "Values", sql[tok.end :])
        prev = tok
    return None


def _data_start(sql: bytes, pos: int) -> int:
    """Data begins after blanks and at most one line break, as in ClickHouse's parser."""
    n = len(sql)
    while pos < n and sql[pos] in b" \t\f":
        pos += 1
    if pos < n and sql[pos] == 0x0D:
        pos += 1
    if pos < n and sql[pos] == 0x0A:
        pos += 1
    return pos


def output_format(sql: bytes) -> str | None:
    """The query's own top-level `FORMAT name`, which overrides `default_format`."""
    found: str | None = None
    prev: Token | None = None
    for tok in tokens(sql):
        if (
            tok.kind == "word"
            and tok.depth == 0
            and prev is not None
            and prev.kind == "word"
            and prev.depth == 0
            and prev.text.upper() == b"FORMAT"
        ):
            found = decode_sql(tok.text)
        prev = tok
    return found
