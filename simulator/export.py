"""Export every stream as its API returns it, to JSON lines and/or Parquet, without sockets.

The exporter pages through each emulator in-process (a WSGI call per request, no network, no
rate limit) exactly like a connector would, so the files hold the very records the API
serves at the clock. Links use the real services' host names, so the same seed gives
byte-identical files. Meant for benchmarks and determinism checks: the emulators run in bulk
mode (page-size caps lifted; UIS keeps its own 10 000), so each stream is read in a few
requests and the cost is rendering the records, about 15-20 thousand a second.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.parquet as pq

from funnelhouse.simulator.company import Company
from funnelhouse.simulator.emulators.amocrm.router import AmoCrm
from funnelhouse.simulator.emulators.base import Emulator
from funnelhouse.simulator.emulators.bitrix24.router import Bitrix24
from funnelhouse.simulator.emulators.onec.router import OneC
from funnelhouse.simulator.emulators.timefmt import local
from funnelhouse.simulator.emulators.uis import Uis
from funnelhouse.simulator.emulators.world import World

FAST = 1e6  # rate multiplier for in-process export: limits never bite
BULK = 200_000  # page size for the bulk read: a few requests, bounded memory
# UIS pages by offset within a date window, and a request costs O(its page) (the emulator
# bisects its calls by start time), so its pages can stay at the API's own cap: a page of
# 200 000 calls held ~3 GB at once (rendered records, JSON, parsed copy; ~7 KB a parsed call).
UIS_PAGE = 10_000


class InProcess:
    """Calls a WSGI emulator directly; returns (status, parsed JSON or None).

    The garbage collector is paused for the call: a bulk page is millions of fresh, acyclic
    objects (the records, their JSON, the parsed copy), and collecting while they pile up
    walked every one of them again and again, a growing share of the time as pages grew
    with the scale. Collection resumes once the page is parsed."""

    def __init__(self, app: Emulator, headers: dict[str, str] | None = None):
        self.app, self.headers = app, headers or {}

    def request(
        self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": urlencode(query or {}),
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "wsgi.input": io.BytesIO(raw),
        }
        for k, v in self.headers.items():
            environ["HTTP_" + k.upper().replace("-", "_")] = v
        status: list[str] = []
        enabled = gc.isenabled()
        gc.disable()
        try:
            out = b"".join(self.app(environ, lambda s, h: status.append(s)))
            code = int(status[0].split()[0])
            return code, (json.loads(out) if out and code != 204 else None)
        finally:
            if enabled:
                gc.enable()


def _amocrm(app: AmoCrm) -> dict[str, Iterator[dict]]:
    client = InProcess(app, {"Authorization": f"Bearer {app.token}"})

    def pages(path: str, key: str, params: dict[str, Any], limit: int = BULK) -> Iterator[dict]:
        page = 1
        while True:
            status, body = client.request("GET", path, {**params, "limit": limit, "page": page})
            if status == 204 or not body:
                return
            yield from body["_embedded"][key]
            if "next" not in body["_links"]:
                return
            page += 1

    return {
        "leads": pages(
            "/api/v4/leads", "leads", {"with": "contacts,loss_reason,source_id,catalog_elements"}
        ),
        "leads_deleted": pages("/api/v4/leads", "leads", {"with": "only_deleted"}),
        "pipelines": iter(
            client.request("GET", "/api/v4/leads/pipelines")[1]["_embedded"]["pipelines"]
        ),
        "events": pages("/api/v4/events", "events", {}),
        "call_notes": pages(
            "/api/v4/leads/notes",
            "notes",
            {"filter[note_type][0]": "call_in", "filter[note_type][1]": "call_out"},
        ),
        "users": pages("/api/v4/users", "users", {}),
        "contacts": pages("/api/v4/contacts", "contacts", {}),
        "companies": pages("/api/v4/companies", "companies", {}),
        "tasks": pages("/api/v4/tasks", "tasks", {}),
        "loss_reasons": pages("/api/v4/leads/loss_reasons", "loss_reasons", {}),
        "catalog_elements": (
            e
            for c in pages("/api/v4/catalogs", "catalogs", {})
            for e in pages(f"/api/v4/catalogs/{c['id']}/elements", "elements", {})
        ),
    }


def _bitrix24(app: Bitrix24) -> dict[str, Iterator[dict]]:
    client = InProcess(app)
    base = f"/rest/{app.user_id}/{app.code}/"

    def keyset(method: str, params: dict[str, Any], upper: bool = False) -> Iterator[dict]:
        last = 0
        while True:
            if upper:
                q = {**params, "FILTER": {">ID": last}, "SORT": "ID", "ORDER": "ASC", "start": -1}
            else:
                q = {**params, "filter": {">ID": last}, "order": {"ID": "ASC"}, "start": -1}
            _, body = client.request("POST", base + method + ".json", body=q)
            rows = body["result"]
            rows = rows.get("items", []) if isinstance(rows, dict) else rows
            yield from rows
            if not rows:
                return
            last = int(rows[-1]["ID"])

    def product_rows() -> Iterator[dict]:
        # crm.item.productrow.list needs the owner: every live deal's rows, 50 deals a batch.
        deals = [int(d["ID"]) for d in keyset("crm.deal.list", {"select": ["ID"]})]
        for i in range(0, len(deals), 50):
            cmd = {
                f"d{d}": "crm.item.productrow.list?"
                + urlencode({"filter[=ownerType]": "D", "filter[=ownerId]": d, "order[id]": "asc"})
                for d in deals[i : i + 50]
            }
            _, body = client.request("POST", base + "batch.json", body={"cmd": cmd})
            for d in deals[i : i + 50]:
                yield from body["result"]["result"][f"d{d}"]["productRows"]

    def whole(method: str, params: dict[str, Any], key: str | None = None) -> Iterator[dict]:
        _, body = client.request("POST", base + method + ".json", body=params)
        yield from (body["result"][key] if key else body["result"])

    return {
        "deals": keyset("crm.deal.list", {"select": ["*", "UF_*"]}),
        "stage_history": keyset("crm.stagehistory.list", {"entityTypeId": 2}),
        "stages": whole("crm.status.list", {}),
        "categories": whole("crm.category.list", {"entityTypeId": 2}, "categories"),
        "calls": keyset("voximplant.statistic.get", {}, upper=True),
        "activities": keyset("crm.activity.list", {"select": ["*", "COMMUNICATIONS"]}),
        "users": keyset("user.get", {}, upper=True),
        "contacts": keyset("crm.contact.list", {"select": ["*", "PHONE"]}),
        "companies": keyset("crm.company.list", {"select": ["*", "UF_*"]}),
        "requisites": keyset("crm.requisite.list", {}),
        "product_rows": product_rows(),
    }


def _uis(app: Uis) -> dict[str, Iterator[dict]]:
    client = InProcess(app)
    cfg = app.c.cfg

    def calls() -> Iterator[dict]:
        start = datetime.strptime(local(cfg.start_ts - 86_400, app.tz), "%Y-%m-%d %H:%M:%S")
        end = datetime.strptime(local(app.world.clock + 86_400, app.tz), "%Y-%m-%d %H:%M:%S")
        # date_till is inclusive: a call on a window's boundary comes in both windows. Only the
        # previous window's ids are kept (call ids are unique, so an earlier window cannot
        # repeat one): a set of every call id grew with the scale and every garbage
        # collection walks it.
        previous: set[int] = set()
        while start < end:
            till = min(start + timedelta(days=89), end)  # the API allows 3 months
            current: set[int] = set()
            offset = 0
            while True:
                params = {
                    "access_token": app.token,
                    "date_from": f"{start:%Y-%m-%d %H:%M:%S}",
                    "date_till": f"{till:%Y-%m-%d %H:%M:%S}",
                    "limit": UIS_PAGE,
                    "offset": offset,
                }
                _, body = client.request(
                    "POST",
                    "/v2.0",
                    body={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "get.calls_report",
                        "params": params,
                    },
                )
                rows = body["result"]["data"]
                for r in rows:
                    if r["id"] not in previous and r["id"] not in current:
                        current.add(r["id"])
                        yield r
                offset += len(rows)
                if not rows or offset >= body["result"]["metadata"]["total_items"]:
                    break
            start, previous = till, current

    return {"calls": calls()}


def _onec(app: OneC) -> dict[str, Iterator[dict]]:
    import base64

    token = base64.b64encode(f"{app.user}:{app.password}".encode()).decode()
    client = InProcess(app, {"Authorization": f"Basic {token}"})

    def entity(name: str) -> Iterator[dict]:
        _, body = client.request(
            "GET", f"{app.prefix}/{name}", {"$format": "json", "$orderby": "Ref_Key"}
        )
        yield from body["value"]

    e = app.c.cfg.onec_entities
    return {
        "counterparties": entity(e.counterparties),
        "contracts": entity(e.contracts),
        "sales": entity(e.sales),
        "payments": entity(e.payments),
    }


def streams(company: Company, now: int | str | None = None) -> dict[str, dict[str, Iterator[dict]]]:
    """{source: {stream: iterator of records}} at the clock (default: the initial clock)."""
    world = World(company)
    if now is not None:
        world.set_clock(now)
    amo = AmoCrm(world, token="export", rate_multiplier=FAST)
    amo.base_url = "https://funnelhouse-demo.amocrm.ru"
    b24 = Bitrix24(world, user_id=1, code="export", rate_multiplier=FAST)
    uis = Uis(world, token="export", rate_multiplier=FAST)
    onec = OneC(world, user="export", password="export", rate_multiplier=FAST)
    onec.base_url = "http://1c.funnelhouse.example"
    for app in (amo, b24, uis, onec):
        app.bulk = True
    return {
        "amocrm": _amocrm(amo),
        "bitrix24": _bitrix24(b24),
        "uis": _uis(uis),
        "onec": _onec(onec),
    }


ID_KEYS = {"amocrm": "id", "bitrix24": "ID", "uis": "id", "onec": "Ref_Key"}


def export(
    company: Company,
    out: Path,
    formats: tuple[str, ...] = ("jsonl",),
    now: int | str | None = None,
    only: set[str] | None = None,
) -> dict[str, Any]:
    """Write `<out>/<source>/<stream>.jsonl|.parquet`; returns a manifest with counts and hashes.

    Records stream to disk as they are rendered, so memory stays flat at any scale."""
    manifest: dict[str, Any] = {"seed": company.cfg.seed, "scale": company.cfg.scale, "streams": {}}
    for source, per in streams(company, now).items():
        if only and source not in only:
            continue
        (out / source).mkdir(parents=True, exist_ok=True)
        for name, records in per.items():
            entry = _write_stream(records, out / source / name, formats, ID_KEYS[source])
            manifest["streams"][f"{source}.{name}"] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


_SCHEMA = pa.schema([("id", pa.string()), ("payload", pa.string())])


def _write_stream(
    records: Iterator[dict], base: Path, formats: tuple[str, ...], id_key: str
) -> dict[str, Any]:
    digest, count = hashlib.sha256(), 0
    jsonl = base.with_suffix(".jsonl").open("wb") if "jsonl" in formats else None
    parquet = (
        pq.ParquetWriter(base.with_suffix(".parquet"), _SCHEMA) if "parquet" in formats else None
    )
    ids: list[str] = []
    lines: list[str] = []

    def flush() -> None:
        if parquet is not None and lines:
            parquet.write_table(pa.table({"id": ids, "payload": lines}, schema=_SCHEMA))
        ids.clear()
        lines.clear()

    try:
        for record in records:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            data = (line + "\n").encode()
            digest.update(data)
            count += 1
            if jsonl is not None:
                jsonl.write(data)
            if parquet is not None:
                ids.append(str(record.get(id_key, record.get("id"))))
                lines.append(line)
                if len(lines) >= 100_000:
                    flush()
        flush()
    finally:
        if jsonl is not None:
            jsonl.close()
        if parquet is not None:
            parquet.close()
    return {"records": count, "sha256": digest.hexdigest()}
