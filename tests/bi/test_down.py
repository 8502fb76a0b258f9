"""`make down` stops the Superset that `make bi` started, through its pid file."""

from __future__ import annotations

import subprocess
import sys

from funnelhouse import stack
from funnelhouse.warehouse.settings import WarehouseSettings


def test_down_stops_superset_by_its_pid_file_and_is_silent_without_one(tmp_path):
    settings = WarehouseSettings(data_dir=tmp_path)
    assert not any(line.startswith("Superset") for line in stack.down(settings, 5))

    # Stands in for gunicorn: its own process group, `funnelhouse` in its command line.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "funnelhouse-superset"],
        start_new_session=True,
    )
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "superset.pid").write_text(str(proc.pid))
        lines = list(stack.down(settings, 5))
        assert lines[0] == f"{'Superset':10s} stopped (process group {proc.pid})"
        assert not stack._group_alive(proc.pid)  # down waits until the group is gone
        assert not (tmp_path / "run" / "superset.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
