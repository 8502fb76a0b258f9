"""A publish that halts for good after a named step, so the test can SIGKILL it exactly there.

Usage: python -m tests.warehouse.publish_child '<json: host, port, stop_after, publish kwargs>'.
Prints each step as it completes, then STOPPED at `stop_after` and blocks on stdin.
"""

from __future__ import annotations

import json
import sys

from funnelhouse.warehouse.client import get_client
from funnelhouse.warehouse.publish import publish
from funnelhouse.warehouse.settings import WarehouseSettings


def main() -> None:
    spec = json.loads(sys.argv[1])
    stop_after = spec.pop("stop_after")
    client = get_client(WarehouseSettings(host=spec.pop("host"), port=spec.pop("port")))

    def on_step(name: str) -> None:
        print(name, flush=True)
        if name == stop_after:
            print("STOPPED", flush=True)
            sys.stdin.read()  # the parent kills us here

    publish(client, on_step=on_step, **spec)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
