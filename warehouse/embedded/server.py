"""Run the embedded endpoint: one process per data directory, on loopback by default."""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import signal
import socket
from pathlib import Path

from waitress.server import create_server

from funnelhouse.warehouse.embedded.engine import Engine
from funnelhouse.warehouse.embedded.engine_config import write_engine_config
from funnelhouse.warehouse.embedded.host_files import UserFiles
from funnelhouse.warehouse.embedded.http_app import EndpointApp
from funnelhouse.warehouse.embedded.oversized_body import clickhouse_error_channel
from funnelhouse.warehouse.embedded.request_limits import max_data_bytes
from funnelhouse.warehouse.embedded.users import Users

log = logging.getLogger(__name__)
# Room for the query part of a body on top of its INSERT data.
_QUERY_PART_ALLOWANCE = 64 << 20
# Bytes read from a socket at once (waitress reads 8 KiB): large INSERT bodies arrive much faster.
_RECV_BYTES = 256 << 10


class DataDirLocked(RuntimeError):
    pass


class UnsafeBind(RuntimeError):
    """A bind beyond loopback while a user reachable from there has no password."""


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_bind(host: str, users: Users) -> None:
    """Refuse to listen beyond loopback while `default` (or a user allowed from other networks)
    has no password: anyone who reaches the port would be that user."""
    if _is_loopback(host):
        return
    for user in users:
        if not user.password_sha256_hex and (user.name == "default" or not user.loopback_only):
            raise UnsafeBind(
                f"Refusing to listen on {host}: user `{user.name}` has no password. Set "
                f"users.{user.name}.password_sha256_hex (echo -n 'secret' | sha256sum) in a "
                "copy of warehouse/embedded/users.toml named by FUNNELHOUSE_USERS_FILE or "
                "--users-file, or bind to 127.0.0.1."
            )


def _lock_data_dir(warehouse_dir: Path) -> int:
    """Two engines writing one MergeTree directory would corrupt it: the second one must stop."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(warehouse_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirLocked(
            f"{warehouse_dir} is in use by another `funnelhouse warehouse serve`; "
            "stop it (`make down`) or point FUNNELHOUSE_DATA_DIR elsewhere."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def serve(
    warehouse_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8123,
    users_file: Path | None = None,
    threads: int = 16,
    ready_file: Path | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C, then close sessions and the engine cleanly."""
    users = Users.load(users_file)
    check_bind(host, users)
    warehouse_dir = warehouse_dir.resolve()
    lock_fd = _lock_data_dir(warehouse_dir)
    user_files = warehouse_dir / "user_files"
    config = write_engine_config(warehouse_dir / "engine", user_files, users.any_external)
    # chDB resolves relative file paths (and host files named as tables) against the working
    # directory, a server against user_files_path: make them the same.
    os.chdir(user_files)
    engine = Engine(warehouse_dir / "chdb", config)
    app = EndpointApp(engine, users, UserFiles(user_files), display_name=socket.gethostname())
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=max_data_bytes() + _QUERY_PART_ALLOWANCE,
        recv_bytes=_RECV_BYTES,
        channel_timeout=3600,
        ident="funnelhouse-embedded-clickhouse",
        clear_untrusted_proxy_headers=True,
    )
    server.channel_class = clickhouse_error_channel(engine.version)  # type: ignore[union-attr]

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    bound_port = server.effective_port  # type: ignore[union-attr]
    log.info("embedded ClickHouse %s on http://%s:%s", engine.version, host, bound_port)
    if ready_file is not None:
        ready_file.write_text(str(bound_port))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        engine.close()
        os.close(lock_fd)
        log.info("embedded ClickHouse stopped; data kept in %s", warehouse_dir)
