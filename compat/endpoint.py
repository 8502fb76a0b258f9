"""A fresh embedded endpoint per suite: its own data directory, so one suite's leftovers never
change another's results."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compat.settings import REPO_ROOT
from funnelhouse.warehouse.embedded.process import ping


class PortBusy(RuntimeError):
    pass


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def embedded_endpoint(data_dir: Path, port: int, timeout: float = 120) -> Iterator[str]:
    """Run `funnelhouse warehouse serve` on 127.0.0.1:`port` until the block ends."""
    if _port_busy(port):
        raise PortBusy(
            f"Something already listens on 127.0.0.1:{port}. Stop it (`make down` stops the "
            "project's own warehouse) or set FUNNELHOUSE_COMPAT_PORT (the JS suite needs 8123)."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with (data_dir / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "compat.endpoint", str(data_dir), str(port)],
            cwd=REPO_ROOT,
            # The suites' own CI runs the server in UTC (the clients' time zone tests expect it);
            # the endpoint, like a server, takes the host's zone otherwise.
            env=os.environ | {"TZ": "UTC"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while not ping(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (data_dir / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"The embedded endpoint did not start on {url}:\n{tail}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    # The endpoint alone (what `funnelhouse warehouse serve` runs), without the CLI's imports of
    # ingest and orchestration, which a compatibility run does not need.
    import logging

    from funnelhouse.warehouse.embedded.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(Path(sys.argv[1]), port=int(sys.argv[2]))
