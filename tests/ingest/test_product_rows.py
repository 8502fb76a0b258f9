"""Bitrix24 product rows: read per deal (the method requires its owner), 50 deals a batch; a
deal deleted between its listing and its rows is skipped, a webhook refused for all is fatal."""

from __future__ import annotations

import pytest

from funnelhouse.ingest.bitrix24 import Bitrix24Settings, _product_rows, http_source
from funnelhouse.ingest.http import SourceFatal
from funnelhouse.simulator import truth


def test_rows_of_a_batch_of_deals_and_a_deal_gone_meanwhile(emulators, company):
    http = http_source(Bitrix24Settings())
    rows_truth = truth.truth(company)["deal_products"]
    b24 = rows_truth[rows_truth.system == "bitrix24"]
    deals = list(dict.fromkeys(b24.deal_id.str.removeprefix("bitrix24:")))[:5]
    rows, gone = _product_rows(http, "product_rows", [*deals, "999999999"])
    assert gone == 1
    got = sorted((str(r["ownerId"]), r["productName"], r["quantity"]) for r in rows)
    want = b24[b24.deal_id.isin([f"bitrix24:{d}" for d in deals])]
    assert got == sorted(
        (d.removeprefix("bitrix24:"), p, int(q))
        for d, p, q in zip(want.deal_id, want["product"], want.quantity, strict=True)
    )
    with pytest.raises(SourceFatal):
        _product_rows(http, "product_rows", ["999999998", "999999999"])
