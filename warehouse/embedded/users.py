"""Users of the embedded endpoint, read from a TOML file shaped like ClickHouse's users.xml.

chDB has no access control, so the endpoint authenticates and hands the engine each user's
`readonly` level; the engine then refuses writes with ClickHouse's own READONLY error.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_USERS_FILE = Path(__file__).with_name("users.toml")


@dataclass(frozen=True)
class User:
    name: str
    password_sha256_hex: str  # empty: no password
    readonly: int  # 0 full access, 1 read only, 2 read only but may change settings

    def check_password(self, password: str) -> bool:
        if not self.password_sha256_hex:
            return password == ""
        digest = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(digest, self.password_sha256_hex.lower())


class AuthenticationFailed(Exception):
    """Wrong password or unknown user; the message never contains the password."""


class Users:
    def __init__(self, users: dict[str, User]):
        self._users = users

    @classmethod
    def load(cls, path: Path | None = None) -> Users:
        path = path or Path(os.environ.get("FUNNELHOUSE_USERS_FILE", DEFAULT_USERS_FILE))
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        users = {}
        for name, spec in raw.get("users", {}).items():
            readonly = int(spec.get("readonly", 0))
            if readonly not in (0, 1, 2):
                raise ValueError(f"{path}: users.{name}.readonly must be 0, 1 or 2, got {readonly}")
            users[name] = User(name, str(spec.get("password_sha256_hex", "")), readonly)
        if not users:
            raise ValueError(f"{path}: no [users.<name>] sections")
        return cls(users)

    def authenticate(self, name: str, password: str) -> User:
        user = self._users.get(name)
        if user is None or not user.check_password(password):
            raise AuthenticationFailed(
                f"{name}: Authentication failed: password is incorrect, "
                "or there is no user with such name."
            )
        return user
