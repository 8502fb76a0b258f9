"""A small OData v3 `$filter` parser, evaluated column-wise on a pandas frame.

Covers what connectors send to 1C: comparisons (eq ne gt ge lt le), and/or/not, parentheses,
literals `datetime'…'`, `guid'…'`, `'text'` (with '' escaping), numbers, true/false/null, and
the functions year/month/day/hour, substringof, startswith, endswith, tolower, toupper.
Dates are compared as their `YYYY-MM-DDThh:mm:ss` text, which orders like the dates.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

_TOKEN = re.compile(
    r"\s*(?:(?P<dt>datetime'[^']*')|(?P<guid>guid'[^']*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?[mMdDlLfF]?)|(?P<punct>[(),])|(?P<word>[A-Za-z_\u0400-\u04FF][\w\u0400-\u04FF./]*))"
)
_CMP = {"eq", "ne", "gt", "ge", "lt", "le"}


class ODataSyntaxError(ValueError):
    pass


class UnknownProperty(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataSyntaxError(f"unexpected text at {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def normalise_datetime(text: str) -> str:
    value = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value[:19], fmt).strftime("%Y-%m-%dT%H:%M:%S")
        except ValueError:
            continue
    raise ODataSyntaxError(f"bad datetime literal {text!r}")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], frame: pd.DataFrame):
        self.t, self.i, self.f = tokens, 0, frame

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ODataSyntaxError("unexpected end of $filter")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        _kind, text = self.take()
        if text != value:
            raise ODataSyntaxError(f"expected {value!r}, got {text!r}")

    def word(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in values

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ODataSyntaxError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return value

    def or_(self) -> Any:
        left = self.and_()
        while self.word("or"):
            self.take()
            left = _bool(left) | _bool(self.and_())
        return left

    def and_(self) -> Any:
        left = self.not_()
        while self.word("and"):
            self.take()
            left = _bool(left) & _bool(self.not_())
        return left

    def not_(self) -> Any:
        if self.word("not"):
            self.take()
            return ~_bool(self.not_())
        return self.cmp()

    def cmp(self) -> Any:
        left = self.primary()
        if self.word(*_CMP):
            op = self.take()[1].lower()
            right = self.primary()
            return _compare(left, op, right)
        return left

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.or_()
            self.expect(")")
            return value
        if kind == "dt":
            return normalise_datetime(text[9:-1])
        if kind == "guid":
            return text[5:-1].lower()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            body = text.rstrip("mMdDlLfF")
            return float(body) if "." in body else int(body)
        if kind == "word":
            low = text.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            tok = self.peek()
            if tok is not None and tok[1] == "(":
                return self.function(low)
            if text not in self.f.columns:
                raise UnknownProperty(text)
            return self.f[text]
        raise ODataSyntaxError(f"unexpected {text!r}")

    def function(self, name: str) -> Any:
        self.expect("(")
        args = [self.or_()]
        while self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
            self.take()
            args.append(self.or_())
        self.expect(")")
        if name in ("year", "month", "day", "hour") and isinstance(args[0], pd.Series):
            s = args[0].astype(str)
            part = {"year": (0, 4), "month": (5, 7), "day": (8, 10), "hour": (11, 13)}[name]
            return s.str[part[0] : part[1]].astype(int)
        if name == "substringof":
            return args[1].astype(str).str.contains(str(args[0]), regex=False)
        if name == "startswith":
            return args[0].astype(str).str.startswith(str(args[1]))
        if name == "endswith":
            return args[0].astype(str).str.endswith(str(args[1]))
        if name == "tolower":
            return args[0].astype(str).str.lower()
        if name == "toupper":
            return args[0].astype(str).str.upper()
        raise ODataSyntaxError(f"unsupported function {name}")


def _bool(value: Any) -> Any:
    if isinstance(value, pd.Series):
        return value.fillna(False).astype(bool)
    return bool(value)


def _compare(left: Any, op: str, right: Any) -> Any:
    if isinstance(left, pd.Series) and left.dtype == object and isinstance(right, str):
        left = left.astype(str).str.lower() if _is_guid(right) else left.astype(str)
    if isinstance(right, pd.Series) and right.dtype == object and isinstance(left, str):
        right = right.astype(str)
    if left is None or right is None:
        other = right if left is None else left
        isnull = other.isna() if isinstance(other, pd.Series) else other is None
        return isnull if op == "eq" else ~isnull
    fn = {
        "eq": np.equal,
        "ne": np.not_equal,
        "gt": np.greater,
        "ge": np.greater_equal,
        "lt": np.less,
        "le": np.less_equal,
    }[op]
    try:
        return fn(left, right)
    except TypeError as exc:
        raise ODataSyntaxError(f"cannot compare with {op}: {exc}") from None


def _is_guid(text: str) -> bool:
    return bool(
        re.fullmatch(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text
        )
    )


def evaluate(expression: str, frame: pd.DataFrame) -> pd.Series:
    """A boolean mask over `frame` (raises ODataSyntaxError / UnknownProperty)."""
    value = _Parser(tokenize(expression), frame).parse()
    if isinstance(value, pd.Series):
        return value.fillna(False).astype(bool)
    return pd.Series(bool(value), index=frame.index)
