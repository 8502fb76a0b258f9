"""Masking secrets in every form they take on the way to a log line or an exception.

A secret rarely appears as typed: requests percent-encodes a Bitrix24 webhook code in the URLs
it reports, HTTP Basic auth carries `base64(user:password)`, a URL may carry `user:password@`,
and a JSON error body escapes quotes. Replacing only the raw value leaks the others, so every
secret is expanded into its known spellings, and URL credentials and auth headers are masked
by shape even when their value is not known.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from requests.utils import requote_uri

MASK = "***"
# Environment variables whose values are secret (the CLICKHOUSE_ and source settings).
SECRET_VARS = ("AMOCRM_TOKEN", "BITRIX24_WEBHOOK_URL", "UIS_ACCESS_TOKEN", "ONEC_PASSWORD",
               "CLICKHOUSE_PASSWORD")  # fmt: skip
# Variables that are URLs: their userinfo (and a Bitrix24 webhook's code) is secret.
URL_VARS = ("AMOCRM_BASE_URL", "BITRIX24_WEBHOOK_URL", "UIS_BASE_URL", "ONEC_BASE_URL")
# What requests leaves unescaped in a URL it sends and reports (requote_uri; without "%"
# when the text holds an invalid escape such as "%x").
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"
MIN_LENGTH = 3  # shorter "secrets" (an empty or 1-char password) would mask ordinary text

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
_WEBHOOK_CODE = re.compile(r"(/rest/\d+/)[^/\s'\"]+(/)")
_AUTH_HEADER = re.compile(r"(?i)\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_TOKEN_FIELD = re.compile(r"(?i)([\"']?(?:access_token|password|token)[\"']?\s*[:=]\s*[\"']?)"
                          r"[^\"'\s,&}]+")  # fmt: skip


def spellings(secret: str) -> set[str]:
    """The secret as typed, percent-encoded (as requests and urllib spell it, either case of
    hex digits), JSON-escaped, and base64 (a token sometimes travels encoded)."""
    if len(secret) < MIN_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             requote_uri(secret), quote(secret, safe=_REQUOTE_SAFE),
             quote(secret, safe=_REQUOTE_SAFE.replace("%", "")),
             json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}  # fmt: skip
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def basic_auth(user: str, password: str) -> set[str]:
    """What HTTP Basic auth sends for this user, and its encoded forms."""
    if not password:
        return set()
    pair = f"{user}:{password}"
    encoded = base64.b64encode(pair.encode()).decode()
    return spellings(pair) | {encoded, encoded.rstrip("=")}


def url_secrets(url: str) -> set[str]:
    """The secret parts of a URL: its userinfo and, for a Bitrix24 webhook, the code."""
    out: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    if parts.password:
        user, password = unquote(parts.username or ""), unquote(parts.password)
        out |= spellings(parts.password) | spellings(password) | basic_auth(user, password)
    if "@" in parts.netloc:
        out |= spellings(parts.netloc.rsplit("@", 1)[0])
    segments = parts.path.split("/")
    for i in range(len(segments) - 2):  # /rest/<user id>/<code>/
        if segments[i] == "rest" and segments[i + 1].isdigit() and segments[i + 2]:
            out |= spellings(segments[i + 2]) | spellings(unquote(segments[i + 2]))
    return out


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """`url` without `user:password@`, and the user and password it carried."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    user, password = parts.username, parts.password
    return (
        urlunsplit(parts._replace(netloc=host)),
        unquote(user) if user is not None else None,
        unquote(password) if password is not None else None,
    )


def env_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Every spelling of every secret the environment configures."""
    env = os.environ if environ is None else environ
    out: set[str] = set()
    for name in SECRET_VARS:
        if env.get(name):
            out |= spellings(env[name]) | url_secrets(env[name])
    for name in URL_VARS:
        if env.get(name):
            out |= url_secrets(env[name])
    if env.get("ONEC_PASSWORD"):
        out |= basic_auth(env.get("ONEC_USER", ""), env["ONEC_PASSWORD"])
    return out


class Redactor:
    """Masks known secrets in all their spellings, and credentials by their shape."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        known = set(self._secrets) | {f for s in secrets if s for f in spellings(s)}
        # The longest first: a secret containing another must be replaced whole.
        self._secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _USERINFO.sub(rf"\1{MASK}@", text)
        text = _WEBHOOK_CODE.sub(rf"\1{MASK}\2", text)
        text = _AUTH_HEADER.sub(rf"\1 {MASK}", text)
        return _TOKEN_FIELD.sub(rf"\1{MASK}", text)


def redact_url(url: str) -> str:
    """A URL fit to print: no userinfo, no Bitrix24 webhook code, no query string (filters
    and sometimes tokens travel there)."""
    text = _USERINFO.sub(rf"\1{MASK}@", url.split("?", 1)[0])
    return _WEBHOOK_CODE.sub(rf"\1{MASK}\2", text)


def redact_env(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every secret of the environment (and any credential shape) masked."""
    return Redactor(env_secrets(environ))(text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's final text, whatever logger produced it (urllib3 and
    requests log URLs, which may carry credentials). Without a redactor, it masks what the
    environment configures at the time of the record."""

    def __init__(self, redactor: Redactor | None = None):
        super().__init__()
        self.redactor = redactor
        self._env: tuple[tuple[str, str], ...] = ()
        self._env_redactor = Redactor()

    def _current(self) -> Redactor:
        if self.redactor is not None:
            return self.redactor
        env = tuple((k, os.environ.get(k, "")) for k in (*SECRET_VARS, *URL_VARS, "ONEC_USER"))
        if env != self._env:
            self._env, self._env_redactor = env, Redactor(env_secrets(dict(env)))
        return self._env_redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._current()
        text = record.getMessage()
        masked = redact(text)
        if masked != text:
            record.msg, record.args = masked, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Put a RedactingFilter on every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    redacting = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
