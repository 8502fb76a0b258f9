"""Users of the embedded endpoint, read from a TOML file shaped like ClickHouse's users.xml.

chDB runs every query as one engine user, so the endpoint enforces what a server's access
control would: each user's password, client networks, `readonly` level, database allow-list
(`GRANT SELECT ON marts.*`) and the opt-in `allow_external` (an admin's file and network access);
the query policy and the engine then refuse the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from funnelhouse.warehouse.embedded.errors import ClickHouseError

DEFAULT_USERS_FILE = Path(__file__).with_name("users.toml")
LOOPBACK = ("127.0.0.0/8", "::1/128")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class User:
    name: str
    password_sha256_hex: str  # empty: no password
    readonly: int  # 0 full access, 1 read only, 2 read only but may change settings
    networks: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in LOOPBACK)
    databases: tuple[str, ...] | None = None  # None: every database; else only these (+ reflection)
    allow_external: bool = False  # may use file/network table functions, engines and sources

    def check_password(self, password: str) -> bool:
        if not self.password_sha256_hex:
            return password == ""
        digest = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(digest, self.password_sha256_hex.lower())

    def allows_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    @property
    def loopback_only(self) -> bool:
        loopback = [ipaddress.ip_network(n) for n in LOOPBACK]
        return all(any(net.subnet_of(lo) for lo in loopback if net.version == lo.version)
                   for net in self.networks)  # fmt: skip


class AuthenticationFailed(Exception):
    """Wrong password, unknown user or a refused address; never contains the password."""


class Users:
    def __init__(self, users: dict[str, User]):
        self._users = users
        self._sql_users: dict[str, User] = {}  # CREATE USER, until the endpoint stops
        self._lock = threading.Lock()

    def __iter__(self):
        return iter([*self._users.values(), *self._sql_users.values()])

    def create(self, name: str, password_sha256_hex: str, if_not_exists: bool) -> None:
        """A user as a server creates one: it logs in from loopback and reads no database."""
        with self._lock:
            if name in self._users or name in self._sql_users:
                if if_not_exists:
                    return
                raise ClickHouseError(
                    493, "ACCESS_ENTITY_ALREADY_EXISTS", f"user `{name}`: cannot insert because "
                    f"user `{name}` already exists",
                )  # fmt: skip
            self._sql_users[name] = User(name, password_sha256_hex, 0, databases=())

    def drop(self, names: tuple[str, ...], if_exists: bool) -> None:
        with self._lock:
            for name in names:
                if name in self._users:
                    raise ClickHouseError(
                        495, "ACCESS_STORAGE_READONLY", f"user `{name}` is defined in the users "
                        "file, which SQL cannot change: edit the file instead",
                    )  # fmt: skip
                if name not in self._sql_users and not if_exists:
                    raise ClickHouseError(
                        192, "UNKNOWN_USER", f"There is no user `{name}` in user directories"
                    )
            for name in names:
                self._sql_users.pop(name, None)

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
            try:
                networks = tuple(ipaddress.ip_network(n) for n in spec.get("networks", LOOPBACK))
            except ValueError as exc:
                raise ValueError(f"{path}: users.{name}.networks: {exc}") from None
            databases = spec.get("databases")
            allow_external = spec.get("allow_external", False)
            if not isinstance(allow_external, bool):
                raise ValueError(f"{path}: users.{name}.allow_external must be true or false")
            users[name] = User(
                name,
                str(spec.get("password_sha256_hex", "")),
                readonly,
                networks,
                None if databases is None else tuple(str(d) for d in databases),
                allow_external,
            )
        if not users:
            raise ValueError(f"{path}: no [users.<name>] sections")
        return cls(users)

    @property
    def any_external(self) -> bool:
        """Whether some user may reach files and the network (the engine must then allow it)."""
        return any(user.allow_external for user in self._users.values())

    def get(self, name: str) -> User | None:
        return self._users.get(name) or self._sql_users.get(name)

    def authenticate(self, name: str, password: str, address: str) -> User:
        user = self.get(name)
        if user is None or not user.check_password(password):
            raise AuthenticationFailed(
                f"{name}: Authentication failed: password is incorrect, "
                "or there is no user with such name."
            )
        if not user.allows_address(address):
            raise AuthenticationFailed(
                f"{name}: Authentication failed: connections from {address} are not allowed "
                "for this user (its `networks` in the users file)."
            )
        return user
