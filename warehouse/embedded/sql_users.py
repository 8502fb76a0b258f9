"""`CREATE USER` and `DROP USER` run by the endpoint itself.

chDB has no writable access storage (it reads its one user from users.xml), so a server's SQL
user management cannot reach the engine. The endpoint keeps users created with SQL next to the
users file's, until it stops: they log in like those, from loopback, and, like a new user on a
server before any GRANT, read no database (the users file is the place for lasting users and
their rights; GRANT is not supported). Only an admin (no `databases` list, not readonly) may
create or drop them; users from the users file cannot be dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.sql_text import Token, decode_sql, tokens


@dataclass(frozen=True)
class CreateUser:
    name: str
    password_sha256_hex: str
    if_not_exists: bool


@dataclass(frozen=True)
class DropUser:
    names: tuple[str, ...]
    if_exists: bool


def _word(tok: Token | None) -> str:
    return tok.text.decode("utf-8", "replace").upper() if tok and tok.kind == "word" else ""


def _name(tok: Token | None) -> str:
    if tok is None or tok.kind not in ("word", "quoted", "string"):
        raise _unsupported("a user name")
    text = decode_sql(tok.text)
    if tok.kind == "word":
        return text
    return text[1:-1].replace(text[0] * 2, text[0]).replace("\\" + text[0], text[0])


def _unsupported(what: str) -> ClickHouseError:
    return ClickHouseError(
        48,
        "NOT_IMPLEMENTED",
        f"The embedded endpoint supports CREATE USER [IF NOT EXISTS] name "
        f"[NOT IDENTIFIED | IDENTIFIED [WITH sha256_password | plaintext_password] BY 'password' "
        f"| IDENTIFIED WITH sha256_hash BY 'hex'] and DROP USER [IF EXISTS] name[, ...]; "
        f"unexpected {what}. Define other users and their rights in the users file.",
    )


def parse_user_statement(sql: bytes) -> CreateUser | DropUser | None:
    """The statement if `sql` is CREATE USER or DROP USER; None for anything else."""
    toks = [t for t in tokens(sql) if not (t.kind == "punct" and t.text == b";")]
    if len(toks) < 3 or _word(toks[1]) != "USER" or _word(toks[0]) not in ("CREATE", "DROP"):
        return None
    pos = 2

    def take(*words: str) -> bool:
        nonlocal pos
        if [_word(t) for t in toks[pos : pos + len(words)]] == list(words):
            pos += len(words)
            return True
        return False

    def skip_cluster() -> None:
        nonlocal pos
        if take("ON", "CLUSTER"):
            _name(toks[pos] if pos < len(toks) else None)
            pos += 1

    if _word(toks[0]) == "DROP":
        if_exists = take("IF", "EXISTS")
        names = [_name(toks[pos] if pos < len(toks) else None)]
        pos += 1
        while pos < len(toks) and toks[pos].text == b",":
            names.append(_name(toks[pos + 1] if pos + 1 < len(toks) else None))
            pos += 2
        skip_cluster()
        if pos != len(toks):
            raise _unsupported(decode_sql(toks[pos].text))
        return DropUser(tuple(names), if_exists)
    if_not_exists = take("IF", "NOT", "EXISTS")
    name = _name(toks[pos] if pos < len(toks) else None)
    pos += 1
    skip_cluster()
    digest = ""
    if take("NOT", "IDENTIFIED") or take("IDENTIFIED", "WITH", "NO_PASSWORD"):
        pass
    elif take("IDENTIFIED", "WITH", "SHA256_HASH", "BY"):
        digest = _literal(toks, pos).lower()
        pos += 1
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ClickHouseError(
                36, "BAD_ARGUMENTS", "Password hash for the 'SHA256_PASSWORD' authentication "
                "type must be 64 hexadecimal digits (32 bytes)",
            )  # fmt: skip
    elif (
        take("IDENTIFIED", "BY")
        or take("IDENTIFIED", "WITH", "SHA256_PASSWORD", "BY")
        or take("IDENTIFIED", "WITH", "PLAINTEXT_PASSWORD", "BY")
    ):
        digest = hashlib.sha256(_literal(toks, pos).encode()).hexdigest()
        pos += 1
    if pos != len(toks):
        raise _unsupported(decode_sql(toks[pos].text))
    return CreateUser(name, digest, if_not_exists)


def _literal(toks: list[Token], pos: int) -> str:
    if pos >= len(toks) or toks[pos].kind != "string":
        raise _unsupported("a password that is not a string literal")
    return _name(toks[pos])
