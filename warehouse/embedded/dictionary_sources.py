"""The `SOURCE(...)` and `LAYOUT(...)` clauses of a `CREATE DICTIONARY`, read from the engine's
own single-line formatting of the statement.

`EXPLAIN AST` prints a dictionary source's values but not its keys, and a layout without its
name, so the policy cannot tell `table 'x'` from `host 'x'` there. `formatQuerySingleLine`
prints both (keys upper-cased, names quoted, no comments), which makes its tokens safe to read;
the policy still matches every pair found here against the AST's pairs, one for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from funnelhouse.warehouse.embedded.sql_text import Token, tokens

# What a CLICKHOUSE source may say for a user without allow_external: which local table or
# query to read, and how often. `host`, `port`, `secure` and a named collection (`name`) would
# point it at another server (a loopback one too: the engine connects to any host:port that is
# not its own TCP port, which chDB does not have), so they are not here. `user`/`password`
# authenticate against the engine's own users only (chDB knows `default`), which grant nothing
# the endpoint's checks of `table`/`query` do not already decide.
CLICKHOUSE_SOURCE_KEYS = frozenset(
    {"user", "password", "db", "table", "query", "where", "invalidate_query", "update_field",
     "update_lag"}
)  # fmt: skip
# The engine splices `update_field` into the queries it builds, unquoted in a `query` source.
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Pair:
    key: str  # lower-cased
    value: Token | None  # None: a function, a bracketed list of pairs, or a signed number


@dataclass(frozen=True)
class Clause:
    name: str  # the source kind or layout name, lower-cased
    pairs: tuple[Pair, ...]


def has_line_break_in_name(raw: bytes) -> bool:
    """Whether a quoted name holds a line break: `EXPLAIN AST` prints names unescaped, so such
    a statement's tree cannot be read line by line (dbt-clickhouse sends a dictionary's query
    as a double-quoted, multi-line name). Asked of every statement: most have no quoted name
    and no line break, so they skip the tokenizer."""
    if b"\n" not in raw or (b"`" not in raw and b'"' not in raw):
        return False
    return any(t.kind == "quoted" and b"\n" in t.text for t in tokens(raw))


def clauses(formatted: bytes) -> dict[str, Clause]:
    """The top-level `SOURCE(KIND(...))` and `LAYOUT(NAME(...))` of a formatted statement."""
    toks = list(tokens(formatted))
    found: dict[str, Clause] = {}
    for i, tok in enumerate(toks):
        if not _clause_start(toks, i, (b"SOURCE", b"LAYOUT")):
            continue
        word = tok.text.upper().decode()
        if word in found or i + 2 >= len(toks) or toks[i + 2].kind not in ("word", "quoted"):
            raise ValueError(f"an unexpected {word} clause")
        name = _name(toks[i + 2])
        if not _is(toks, i + 3, b"("):  # LAYOUT(FLAT)
            found[word] = Clause(name, ())
            continue
        found[word] = Clause(name, tuple(_pairs(toks, i + 4)))
    return found


def _pairs(toks: list[Token], i: int) -> list[Pair]:
    return [pair for pair, _ in _indexed_pairs(toks, i)]


def _indexed_pairs(toks: list[Token], i: int) -> list[tuple[Pair, int | None]]:
    """Key-value pairs from token `i` up to the bracket closing the clause's function, each
    with its value's token index (None for a value that is not one token)."""
    depth = toks[i - 1].depth + 1
    pairs: list[tuple[Pair, int | None]] = []
    while i < len(toks) and not (toks[i].depth == depth - 1 and toks[i].text == b")"):
        key = toks[i]
        if key.kind not in ("word", "quoted") or i + 1 >= len(toks):
            raise ValueError("a dictionary clause key that is not a name")
        j = i + 1
        value = toks[j]
        if value.kind in ("string", "number", "quoted") or (
            value.kind == "word" and not _is(toks, j + 1, b"(")
        ):
            pairs.append((Pair(_name(key), value), j))
            i = j + 1
            continue
        # A function, a bracketed list (of pairs or values) or a signed number.
        if value.kind == "word":
            j += 1
        if _is(toks, j, b"(") or _is(toks, j, b"["):
            j += 1
            while j < len(toks) and toks[j].depth > depth:
                j += 1
            j += 1  # the closing bracket
        elif value.kind == "punct" and value.text in (b"-", b"+") and j + 1 < len(toks):
            j += 2
        else:
            raise ValueError("a dictionary clause value the endpoint cannot place")
        pairs.append((Pair(_name(key), None), None))
        i = j
    if i >= len(toks):
        raise ValueError("an unclosed dictionary clause")
    return pairs


def _clause_start(toks: list[Token], i: int, words: tuple[bytes, ...]) -> bool:
    """Whether token `i` opens one of the clauses `words`, not a dictionary called `source`."""
    tok = toks[i]
    before = toks[i - 1].text.upper() if i > 0 else b""
    return (
        tok.depth == 0
        and tok.kind == "word"
        and tok.text.upper() in words
        and _is(toks, i + 1, b"(")
        and before not in (b"DICTIONARY", b"EXISTS", b".")
    )


def _is(toks: list[Token], i: int, text: bytes) -> bool:
    return i < len(toks) and toks[i].kind == "punct" and toks[i].text == text


def _name(tok: Token) -> str:
    text = tok.text.decode("utf-8", "replace")
    if tok.kind == "quoted":
        text = text[1:-1]
    return text.lower()


def source_values_as_literals(formatted: bytes) -> bytes:
    """The statement with every quoted name among its SOURCE values written as a string
    literal: the engine reads a source value the same either way, and `EXPLAIN AST` prints a
    literal escaped, on one line. Backquoted and single-quoted texts share their escapes but
    for the quote itself."""
    toks = list(tokens(formatted))
    words = [t.text.upper() for t in toks[:4] if t.kind == "word"]
    if b"DICTIONARY" not in words[:4] or words[0] not in (b"CREATE", b"ATTACH", b"REPLACE"):
        return formatted  # only a dictionary's source values may change
    for i in range(len(toks)):
        if _clause_start(toks, i, (b"SOURCE",)) and _is(toks, i + 3, b"("):
            out, last = [], 0
            for _pair, j in _indexed_pairs(toks, i + 4):
                if j is not None and toks[j].kind == "quoted":
                    out += [formatted[last : toks[j].start], _as_literal(toks[j].text)]
                    last = toks[j].end
            return b"".join([*out, formatted[last:]])
    return formatted


def _as_literal(quoted: bytes) -> bytes:
    quote, body = quoted[:1], quoted[1:-1]
    out = bytearray(b"'")
    i = 0
    while i < len(body):
        c = body[i : i + 1]
        if c == b"\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 2]
            out += nxt if nxt == quote else b"\\" + nxt
            i += 2
            continue
        if c == quote:  # a doubled quote
            out += quote
            i += 2
            continue
        out += b"\\'" if c == b"'" else c
        i += 1
    return bytes(out + b"'")
