"""Helpers shared by the Dagster gate tests."""

from __future__ import annotations

from funnelhouse.orchestration.assets.quality import MARTS


def marts_fingerprint(client) -> dict[str, tuple]:
    """Row count and content hash of every published mart: equal means byte-identical."""
    return {
        m: client.query(f"SELECT count(), sum(cityHash64(*)) FROM marts.{m}").result_rows[0]
        for m in MARTS
    }
